/*
 * bench_threads.c: one workload, one architecture, one thread count, for a fixed time: the unit that
 * bench/contention.sh runs alternately (1 and 2 threads, with and without competing busy processes on
 * the same cores). Prints one CSV row: the median and minimum wall time per iteration, the rate, the
 * median process CPU time per iteration (less moved than wall time by other processes' time slices), and
 * the timed iterations' total wall and process CPU time. Under a competing load the total is what counts:
 * an iteration the scheduler did not interrupt is as fast as without load, so the median iteration hides
 * the time slices lost to other processes once most iterations fit between two preemptions.
 *
 *   train     one training step (forward, backward, clip + Adam) at batch B (sequences/s)
 *   saliency  `grad` saliency of a batch of B (sequences/s)
 *   optimize  class optimisation, 16 restarts, one run of 200 steps per iteration (steps/s; BENCH_OPT_STEPS)
 *   infer     the inference forward of a batch of B (dm_net_infer_codes, evaluation mode) and its
 *             P(bound) to the host (sequences/s)
 *
 * Random weights and random one-hot input (speed does not depend on them); one untimed warm-up
 * iteration, then iterations until --seconds have passed and at least 3 ran. Correctness of these
 * paths against the reference backend is bench_train's and bench_visualize's job.
 *   usage: bench_threads --workload W --arch A --threads N [--seconds S] [--batch B]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "bench.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "model.h"
#include "optimize.h"
#include "saliency.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *workload = "train", *arch = "cnn";
    int threads = 1, B = 256;
    double seconds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--workload")) workload = argv[i + 1];
        else if (!strcmp(argv[i], "--arch")) arch = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_threads --workload train|saliency|optimize|infer --arch A --threads N "
                            "[--seconds S] [--batch B]\n");
            return 2;
        }
    }
    int w = !strcmp(workload, "train") ? 0 : !strcmp(workload, "saliency") ? 1 : !strcmp(workload, "optimize") ? 2
          : !strcmp(workload, "infer")    ? 3 : -1;
    int a = -1;
    for (int k = 0; k < dm_arch_count(); k++)
        if (!strcmp(arch, dm_arch_name((dm_arch)k))) a = k;
    if (w < 0 || a < 0 || threads < 1 || B < 1) {
        fprintf(stderr, "bench_threads: unknown workload or architecture, or a bad number\n");
        return 2;
    }
    int L = 101;
    dm_hparams hp;
    dm_hparams_default(&hp, (dm_arch)a);
    dm_backend *be = dm_backend_cpu_create(threads);
    dm_net *m;
    if (!be || dm_net_create(&m, &hp, be, B) || dm_net_init_params(m, 1)) {
        fprintf(stderr, "bench_threads: %s\n", dm_last_error());
        return 1;
    }
    uint8_t *codes = malloc((size_t)B * L);
    int8_t *labels = malloc((size_t)B);
    float *x = calloc((size_t)B * L * 4, sizeof(float)), *attr = malloc(sizeof(float) * (size_t)B * L * 4);
    float *p = malloc(sizeof(float) * (size_t)B), *ppm = malloc(sizeof(float) * 16 * L * 4);
    /* a run of 200 steps per iteration (the CLI's default is 1000): its setup (the slices' one-thread
     * copies of the model, their first step's scratch) counts as in a real run; BENCH_OPT_STEPS=N */
    int opt_steps = getenv("BENCH_OPT_STEPS") ? atoi(getenv("BENCH_OPT_STEPS")) : 200;
    if (opt_steps < 1) opt_steps = 1;
    float *obj = malloc(sizeof(float) * (size_t)(opt_steps + 1) * 16);
    dm_rng r;
    dm_rng_init(&r, 7, DM_STREAM_SIMULATE, 0);
    for (int i = 0; i < B * L; i++) {
        codes[i] = (uint8_t)dm_rng_below(&r, 4);
        x[4 * i + codes[i]] = 1.0f;
    }
    for (int b = 0; b < B; b++) labels[b] = (int8_t)(b & 1);
    dm_adam opt;
    dm_adam_default(&opt);
    dm_saliency_options so = {0};
    so.method = DM_SAL_GRAD;
    dm_optimize_options oo;
    dm_optimize_options_default(&oo);
    oo.restarts = 16;
    oo.steps = opt_steps;
    double per_iter = w == 2 ? oo.steps : B;   /* steps or sequences per iteration */

    static double t[100000], cpu[100000];
    int n = 0;
    double total = 0, total_cpu = 0;
    for (int it = -1; it < 100000 && (n < 3 || total < seconds); it++) {
        double t0 = dm_now(), c0 = cpu_now(), loss;
        int st = 0;
        if (w == 0) {
            dm_net_zero_grad(m);
            st = dm_net_forward_codes(m, codes, B, true, 1, (uint64_t)it + 10, false) ||
                 dm_net_backward(m, labels, B, B, &loss, NULL) || dm_net_adam_step(m, &opt);
        } else if (w == 1) {
            st = dm_saliency_batch(m, x, NULL, B, 0, &so, attr, p);
        } else if (w == 2) {
            st = dm_net_optimize(m, &oo, attr, ppm, obj, p);
        } else {
            st = dm_net_infer_codes(m, codes, B, false) || dm_net_scores(m, p);
        }
        if (st) {
            fprintf(stderr, "bench_threads: %s\n", dm_last_error());
            return 1;
        }
        double dt = dm_now() - t0;
        if (it >= 0) {
            cpu[n] = cpu_now() - c0;
            t[n++] = dt;
            total += dt;
            total_cpu += cpu[n - 1];
        }
    }
    double med = dm_bench_median(t, n), med_cpu = dm_bench_median(cpu, n);   /* sorts: t[0] is the minimum */
    printf("%s,%s,%d,%d,%d,%.6f,%.6f,%.1f,%.6f,%.6f,%.6f,%s\n", workload, arch, w == 2 ? oo.restarts : B, threads, n,
           med, t[0], per_iter / med, med_cpu, total, total_cpu, dm_git_commit());
    free(codes); free(labels); free(x); free(attr); free(p); free(ppm); free(obj);
    dm_net_free(m);
    dm_backend_free(be);
    return 0;
}
