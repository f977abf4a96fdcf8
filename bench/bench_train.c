/*
 * bench_train.c: speed of one training step (forward, backward, clip + Adam) at batch 256, L 101, for
 * each architecture, on 1 and 2 threads (PERFORMANCE.md §6).
 *
 * Honest by construction: the fast backend is first checked against the naive reference on the
 * same step (log-probabilities and every gradient); steps are warmed up; the 1- and 2-thread
 * variants are interleaved (A B A B ...) in one process so their ratio is not VM drift; median and
 * minimum over ≥ 10 repeats and ≥ 1 s per variant. GFLOP/s counts matrix products only, by the
 * convention of SPEC.md §8 (elementwise work excluded); % of peak is against the measured two-core
 * FMA peak of 228 GFLOP/s (PERFORMANCE.md §1). Data loading is not timed: a batch of base codes is
 * already in memory; the one-hot encoding on the backend is timed.
 *
 * Output: an environment header (lines starting with #), then one CSV row per (arch, threads); cpu_s is
 * the median process CPU time per step (all threads).
 *   usage: bench_train [--repeats N] [--batch B] [--threads N] [--arch NAME]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "bench.h"
#include "model.h"

/* process CPU time (all threads): cpu_s, the median per step, the steadier measure where other jobs share
 * the cores */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define PEAK_GFLOPS 228.0

int main(int argc, char **argv) {
    int repeats = 10, B = 256, only_threads = 0;
    const char *only_arch = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) only_threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--arch")) only_arch = argv[i + 1];
    }
    if (repeats < 3 || B < 8 || only_threads < 0) {
        fprintf(stderr, "usage: bench_train [--repeats N ≥ 3] [--batch B ≥ 8] [--threads N] [--arch NAME]\n");
        return 2;
    }
    char date[32];
    dm_utc_now(date);
    printf("# bench_train: one training step (forward, backward, clip + Adam), batch %d, L 101\n", B);
    printf("# deepmotif %s, %s\n# cpu: %s\n# blas: %s (deepmotif threads; BLAS 1 thread)\n", dm_version(),
           date, dm_cpu_name(), dm_blas_info());
    printf("# GFLOP/s: matrix products only (SPEC.md §8); %% of the 228 GFLOP/s two-core FMA peak\n");
    printf("name,arch,batch,threads,repeats,median_s,min_s,seq_per_s,gflops,pct_peak,flop_per_seq,commit,cpu_s\n");

    /* one batch of random bases with alternating labels */
    uint8_t *codes = malloc((size_t)B * 101);
    int8_t *labels = malloc((size_t)B);
    dm_rng r;
    dm_rng_init(&r, 7, DM_STREAM_SIMULATE, 0);
    for (int i = 0; i < B * 101; i++) codes[i] = (uint8_t)dm_rng_below(&r, 4);
    for (int b = 0; b < B; b++) labels[b] = (int8_t)(b & 1);

    int status = 0;
    for (int a = 0; a < 3; a++) {
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        if (only_arch && strcmp(only_arch, dm_arch_name(hp.arch))) continue;
        dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
        double err = dm_bench_validate(&hp, ref, fast, codes, labels);
        dm_backend_free(ref);
        dm_backend_free(fast);
        if (!(err < 1e-3)) {
            fprintf(stderr, "bench_train: %s: fast backend disagrees with the reference (%.3g)\n",
                    dm_arch_name(hp.arch), err);
            status = 1;
            continue;
        }
        int threads[2] = {1, 2}, nv = only_threads ? 1 : 2;   /* --threads N: that variant alone */
        if (only_threads) threads[0] = only_threads;
        dm_backend *be[2];
        dm_net *m[2];
        dm_adam opt[2];
        double *t[2], *tc[2];
        for (int k = 0; k < nv; k++) {
            be[k] = dm_backend_cpu_create(threads[k]);
            if (!be[k] || dm_net_create(&m[k], &hp, be[k], B)) return 1;
            if (dm_net_init_params(m[k], 1)) return 1;
            dm_adam_default(&opt[k]);
            t[k] = malloc(sizeof(double) * 100000);
            tc[k] = malloc(sizeof(double) * 100000);
            if (!t[k] || !tc[k]) return 1;
        }
        /* warm-up, then interleaved repeats until both variants have ≥ repeats and ≥ 1 s */
        int n = 0;
        double total[2] = {0, 0};
        for (int it = -2; it < 100000; it++) {
            for (int k = 0; k < nv; k++) {
                double loss, t0 = dm_now(), c0 = cpu_now();
                dm_net_zero_grad(m[k]);
                if (dm_net_forward_codes(m[k], codes, B, true, 1, (uint64_t)it + 10, false) ||
                    dm_net_backward(m[k], labels, B, B, &loss, NULL) || dm_net_adam_step(m[k], &opt[k])) {
                    fprintf(stderr, "bench_train: %s\n", dm_last_error());
                    return 1;
                }
                double dt = dm_now() - t0, dc = cpu_now() - c0;
                if (it >= 0) { t[k][it] = dt; tc[k][it] = dc; total[k] += dt; }
            }
            if (it >= 0) n = it + 1;
            if (n >= repeats && total[0] >= 1.0 && (nv == 1 || total[1] >= 1.0)) break;
        }
        double flop = dm_bench_train_flop(&hp);
        for (int k = 0; k < nv; k++) {
            double med = dm_bench_median(t[k], n);
            double gfl = B * flop / med / 1e9;
            printf("train_step,%s,%d,%d,%d,%.6f,%.6f,%.0f,%.1f,%.1f,%.0f,%s,%.6f\n", dm_arch_name(hp.arch), B,
                   threads[k], n, med, t[k][0], B / med, gfl, 100 * gfl / PEAK_GFLOPS, flop, dm_git_commit(),
                   dm_bench_median(tc[k], n));
            free(t[k]);
            free(tc[k]);
            dm_net_free(m[k]);
            dm_backend_free(be[k]);
        }
        fflush(stdout);
    }
    free(codes);
    free(labels);
    return status;
}
