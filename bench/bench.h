/*
 * bench.h: what the benchmarks share: the FLOP counts of SPEC.md §8 and the median of repeats.
 */
#ifndef DM_BENCH_H
#define DM_BENCH_H

#include <math.h>
#include <stdlib.h>

#include "model.h"

/* Saliency (forward + every input gradient), MFLOP per sequence (SPEC.md §8): CNN, RNN, CNN-RNN. */
static const double dm_bench_saliency_mflop[3] = {19.21, 3.72, 18.41};

/* Training FLOP per sequence (SPEC.md §8): forward + weight gradients + input gradients of every
 * layer but the first; 2 FLOP per multiply-add; matrix products only. */
static inline double dm_bench_train_flop(const dm_hparams *hp) {
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

static int dm_bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of t[0..n) (sorted in place, so t[0] is then the minimum). */
static inline double dm_bench_median(double *t, int n) {
    qsort(t, (size_t)n, sizeof(double), dm_bench_cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Validation before timing: one training step on 8 sequences on backends `ref` and `be` from the same
 * parameters; the largest difference of the loss and of every gradient, relative to the largest
 * reference gradient (INFINITY when a step fails). */
static inline double dm_bench_validate(const dm_hparams *hp, dm_backend *ref, dm_backend *be,
                                       const uint8_t *codes, const int8_t *labels) {
    dm_net *mr, *mb;
    if (!ref || !be || dm_net_create(&mr, hp, ref, 8)) return INFINITY;
    if (dm_net_create(&mb, hp, be, 8)) {
        dm_net_free(mr);
        return INFINITY;
    }
    int64_t np = dm_net_n_params(mr);
    float *gr = malloc(sizeof(float) * np), *gb = malloc(sizeof(float) * np);
    double loss_r = 0, loss_b = 0, worst = INFINITY, gmax = 0;
    if (gr && gb && !dm_net_init_params(mr, 1) && !dm_net_get_params(mr, gr) && !dm_net_set_params(mb, gr) &&
        !dm_net_forward_codes(mr, codes, 8, true, 1, 1, false) && !dm_net_forward_codes(mb, codes, 8, true, 1, 1, false) &&
        !dm_net_backward(mr, labels, 8, 8, &loss_r, NULL) && !dm_net_backward(mb, labels, 8, 8, &loss_b, NULL) &&
        !dm_net_get_grads(mr, gr) && !dm_net_get_grads(mb, gb)) {
        for (int64_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(gr[i]));
        worst = fabs(loss_b - loss_r) / fabs(loss_r);
        for (int64_t i = 0; i < np; i++) worst = fmax(worst, fabs(gb[i] - gr[i]) / (gmax + 1e-30));
    }
    free(gr);
    free(gb);
    dm_net_free(mr);
    dm_net_free(mb);
    return worst;
}

#endif /* DM_BENCH_H */
