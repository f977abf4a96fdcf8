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
 * Output: an environment header (lines starting with #), then one CSV row per (arch, threads).
 *   usage: bench_train [--repeats N] [--batch B]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "model.h"

#define PEAK_GFLOPS 228.0

/* Training FLOP per sequence (SPEC.md §8): forward + weight gradients + input gradients of every
 * layer but the first; 2 FLOP per multiply-add; matrix products only. */
static double train_flop(const dm_hparams *hp) {
    double L = hp->len, mac = 0;
    int C = hp->conv_channels, H = hp->hidden;
    int n_conv = hp->arch == DM_ARCH_RNN ? 0 : (hp->arch == DM_ARCH_CNNRNN ? 1 : hp->n_conv);
    int ci = 4;
    for (int i = 0; i < n_conv; i++) {
        int K = hp->conv_width[i];
        double Lo = hp->arch == DM_ARCH_CNNRNN ? L : L - K + 1;
        double fwd = Lo * C * K * ci;
        mac += 2 * fwd + (i > 0 ? fwd : 0);          /* forward, dW, dX (not for the first layer) */
        L = (hp->arch == DM_ARCH_CNN && i < n_conv - 1) ? floor(Lo / hp->pool) : Lo;
        ci = C;
    }
    if (hp->arch != DM_ARCH_CNN) {
        double D = ci, G = 4.0 * H;
        double per_step = G * (D + H)                 /* forward: W_ih x + W_hh h */
                          + G * D + G * H + G * H     /* dW_ih, dW_hh, dh */
                          + (n_conv ? G * D : 0);     /* dx into the conv layer */
        mac += 2 * hp->len * per_step + 3.0 * 2 * H * 2;
    } else {
        mac += 3.0 * C * 2;
    }
    return 2 * mac;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Max relative difference of fast vs reference gradients for one step on 8 sequences. */
static double validate(const dm_hparams *hp, const uint8_t *codes, const int8_t *labels) {
    dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
    dm_model *mr, *mf;
    if (dm_model_create(&mr, hp, ref, 8) || dm_model_create(&mf, hp, fast, 8)) return INFINITY;
    if (dm_model_init_params(mr, 1) || dm_model_init_params(mf, 1)) return INFINITY;
    int64_t np = dm_model_n_params(mr);
    float *gr = malloc(sizeof(float) * np), *gf = malloc(sizeof(float) * np);
    double loss_r, loss_f, worst = 0, gmax = 0;
    dm_model_forward_codes(mr, codes, 8, true, 1, 1, false);
    dm_model_forward_codes(mf, codes, 8, true, 1, 1, false);
    dm_model_backward(mr, labels, 8, 8, &loss_r, NULL);
    dm_model_backward(mf, labels, 8, 8, &loss_f, NULL);
    dm_model_get_grads(mr, gr);
    dm_model_get_grads(mf, gf);
    for (int64_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(gr[i]));
    for (int64_t i = 0; i < np; i++) worst = fmax(worst, fabs(gf[i] - gr[i]) / (gmax + 1e-30));
    worst = fmax(worst, fabs(loss_f - loss_r) / fabs(loss_r));
    free(gr);
    free(gf);
    dm_model_free(mr);
    dm_model_free(mf);
    dm_backend_free(ref);
    dm_backend_free(fast);
    return worst;
}

int main(int argc, char **argv) {
    int repeats = 10, B = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
    }
    if (repeats < 3 || B < 8) {
        fprintf(stderr, "usage: bench_train [--repeats N ≥ 3] [--batch B ≥ 8]\n");
        return 2;
    }
    char date[32];
    dm_utc_now(date);
    printf("# bench_train: one training step (forward, backward, clip + Adam), batch %d, L 101\n", B);
    printf("# deepmotif %s, %s\n# cpu: %s\n# blas: %s (deepmotif threads; BLAS 1 thread)\n", dm_version(),
           date, dm_cpu_name(), dm_blas_info());
    printf("# GFLOP/s: matrix products only (SPEC.md §8); %% of the 228 GFLOP/s two-core FMA peak\n");
    printf("name,arch,batch,threads,repeats,median_s,min_s,seq_per_s,gflops,pct_peak,flop_per_seq,commit\n");

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
        double err = validate(&hp, codes, labels);
        if (!(err < 1e-3)) {
            fprintf(stderr, "bench_train: %s: fast backend disagrees with the reference (%.3g)\n",
                    dm_arch_name(hp.arch), err);
            status = 1;
            continue;
        }
        int threads[2] = {1, 2};
        dm_backend *be[2];
        dm_model *m[2];
        dm_adam opt[2];
        double *t[2];
        for (int k = 0; k < 2; k++) {
            be[k] = dm_backend_cpu_create(threads[k]);
            if (!be[k] || dm_model_create(&m[k], &hp, be[k], B)) return 1;
            if (dm_model_init_params(m[k], 1)) return 1;
            dm_adam_default(&opt[k]);
            t[k] = malloc(sizeof(double) * 100000);
        }
        /* warm-up, then interleaved repeats until both variants have ≥ repeats and ≥ 1 s */
        int n = 0;
        double total[2] = {0, 0};
        for (int it = -2; it < 100000; it++) {
            for (int k = 0; k < 2; k++) {
                double loss, t0 = dm_now();
                dm_model_zero_grad(m[k]);
                if (dm_model_forward_codes(m[k], codes, B, true, 1, (uint64_t)it + 10, false) ||
                    dm_model_backward(m[k], labels, B, B, &loss, NULL) || dm_model_adam_step(m[k], &opt[k])) {
                    fprintf(stderr, "bench_train: %s\n", dm_last_error());
                    return 1;
                }
                double dt = dm_now() - t0;
                if (it >= 0) { t[k][it] = dt; total[k] += dt; }
            }
            if (it >= 0) n = it + 1;
            if (n >= repeats && total[0] >= 1.0 && total[1] >= 1.0) break;
        }
        double flop = train_flop(&hp);
        for (int k = 0; k < 2; k++) {
            qsort(t[k], (size_t)n, sizeof(double), cmp_double);
            double med = n % 2 ? t[k][n / 2] : 0.5 * (t[k][n / 2 - 1] + t[k][n / 2]);
            double gfl = B * flop / med / 1e9;
            printf("train_step,%s,%d,%d,%d,%.6f,%.6f,%.0f,%.1f,%.1f,%.0f,%s\n", dm_arch_name(hp.arch), B,
                   threads[k], n, med, t[k][0], B / med, gfl, 100 * gfl / PEAK_GFLOPS, flop, dm_git_commit());
            free(t[k]);
            dm_model_free(m[k]);
            dm_backend_free(be[k]);
        }
        fflush(stdout);
    }
    free(codes);
    free(labels);
    return status;
}
