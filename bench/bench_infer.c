/*
 * bench_infer.c: speed of inference per architecture on the CPU backend (issue 12): the forward of the
 * predict path (dm_net_predict's per-batch step: rows resident in packed form, gathered and one-hot
 * encoded on the backend, evaluation mode, then P(bound) of the batch back on the host) at batch 256
 * (throughput) and at batch 1 (latency), L 101.
 *
 * As bench_train: the fast backend's log-probabilities are first checked against the naive reference
 * (8 sequences, same parameters); 2 warm-up batches, then ≥ --repeats timed batches and ≥ 1 s; the
 * median (and the minimum). Models are randomly initialised: speed does not depend on the weights.
 *
 * cpu_s: the median process CPU time per batch (all threads): on a shared machine, where wall times
 * swing with the other jobs, the steadier measure of the work a batch takes.
 *
 * Output: '#' environment lines, then one CSV row per (arch, batch).
 *   usage: bench_infer [--threads N] [--repeats N] [--arch NAME] [--batch N] (only that batch: profiling)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "bench.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "model.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* max |logprob_fast − logprob_ref| over 8 sequences, relative to max |logprob_ref| (INFINITY: failed) */
static double validate(const dm_hparams *hp, const uint8_t *codes) {
    dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
    dm_net *mr = NULL, *mf = NULL;
    double worst = INFINITY;
    float lr[16], lf[16];
    if (ref && fast && !dm_net_create(&mr, hp, ref, 8) && !dm_net_create(&mf, hp, fast, 8)) {
        float *p = malloc(sizeof(float) * (size_t)dm_net_n_params(mr));
        if (p && !dm_net_init_params(mr, 1) && !dm_net_get_params(mr, p) && !dm_net_set_params(mf, p) &&
            !dm_net_forward_codes(mr, codes, 8, false, 0, 0, false) && !dm_net_logprob(mr, lr) &&
            !dm_net_forward_codes(mf, codes, 8, false, 0, 0, false) && !dm_net_logprob(mf, lf)) {
            double mx = 0, e = 0;
            for (int i = 0; i < 16; i++) mx = fmax(mx, fabs(lr[i]));
            for (int i = 0; i < 16; i++) e = fmax(e, fabs(lf[i] - lr[i]));
            worst = e / (mx + 1e-30);
        }
        free(p);
    }
    dm_net_free(mr);
    dm_net_free(mf);
    dm_backend_free(ref);
    dm_backend_free(fast);
    return worst;
}

int main(int argc, char **argv) {
    int threads = 2, repeats = 10, only_batch = 0;
    const char *only = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--arch")) only = argv[i + 1];
        else if (!strcmp(argv[i], "--batch")) only_batch = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_infer [--threads N] [--repeats N ≥ 3] [--arch NAME] [--batch 1..256]\n");
            return 2;
        }
    }
    if (repeats < 3 || threads < 1 || only_batch < 0 || only_batch > 256) {
        fprintf(stderr, "usage: bench_infer [--threads N] [--repeats N ≥ 3] [--arch NAME] [--batch 1..256]\n");
        return 2;
    }
    char date[32];
    dm_utc_now(date);
    printf("# bench_infer: predict-path forward (resident rows, evaluation mode, P(bound) to the host), L 101\n");
    printf("# deepmotif %s, %s\n# cpu: %s\n# blas: %s (deepmotif threads; BLAS 1 thread)\n", dm_version(), date,
           dm_cpu_name(), dm_blas_info());
    printf("name,arch,batch,threads,repeats,median_s,min_s,seq_per_s,commit,cpu_s\n");
    int Bmax = 256;
    uint8_t *codes = malloc((size_t)Bmax * 101);
    int8_t *labels = malloc((size_t)Bmax);
    float *scores = malloc(sizeof(float) * (size_t)Bmax);
    double *t = malloc(sizeof(double) * 1000000), *tc = malloc(sizeof(double) * 1000000);
    dm_rng r;
    dm_rng_init(&r, 7, DM_STREAM_SIMULATE, 0);
    for (int i = 0; i < Bmax * 101; i++) codes[i] = (uint8_t)dm_rng_below(&r, 4);
    for (int b = 0; b < Bmax; b++) labels[b] = DM_LABEL_UNKNOWN;
    int status = 0;
    for (int a = 0; a < 3; a++) {
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        if (only && strcmp(only, dm_arch_name(hp.arch))) continue;
        double err = validate(&hp, codes);
        if (!(err < 1e-4)) {   /* float sums in another order: a few ulps of the largest log-probability */
            fprintf(stderr, "bench_infer: %s: fast backend disagrees with the reference (%.3g)\n",
                    dm_arch_name(hp.arch), err);
            status = 1;
            continue;
        }
        int batches[2] = {256, 1};
        for (int k = 0; k < 2; k++) {
            int B = only_batch ? only_batch : batches[k];
            if (only_batch && k > 0) break;
            dm_backend *be = dm_backend_cpu_create(threads);
            dm_net *m;
            dm_devdata *d;
            dm_dataset ds = {.n = B, .len = 101, .seq = codes, .label = labels};
            if (!be || dm_net_create(&m, &hp, be, Bmax) || dm_net_init_params(m, 1) || dm_devdata_create(&d, be, &ds)) {
                fprintf(stderr, "bench_infer: %s\n", dm_last_error());
                return 1;
            }
            int n = 0;
            double total = 0;
            for (int it = -2; n < 1000000 && (n < repeats || total < 1.0); it++) {
                double t0 = dm_now(), c0 = cpu_now();
                if (dm_net_forward_data(m, d, 0, B, false, 0, 0, false) || dm_devdata_results(d, scores, 0, NULL)) {
                    fprintf(stderr, "bench_infer: %s\n", dm_last_error());
                    return 1;
                }
                double dt = dm_now() - t0, dc = cpu_now() - c0;
                if (it >= 0) tc[n] = dc, t[n++] = dt, total += dt;
            }
            double med = dm_bench_median(t, n), cmed = dm_bench_median(tc, n);
            printf("infer,%s,%d,%d,%d,%.7f,%.7f,%.0f,%s,%.7f\n", dm_arch_name(hp.arch), B, threads, n, med, t[0],
                   B / med, dm_git_commit(), cmed);
            fflush(stdout);
            dm_devdata_free(d);
            dm_net_free(m);
            dm_backend_free(be);
        }
    }
    free(codes);
    free(labels);
    free(scores);
    free(t);
    free(tc);
    return status;
}
