/*
 * test_ism_fast.c: ISM by receptive-field windows (host/ism_fast.c) against the full recomputation of
 * every variant (sal_dev.c with ism_full, the reference), for every architecture and odd shapes: rows
 * whose length leaves a max-pool tail, widths and pools that clip windows at both ends (every position
 * of every row is mutated, so the first and last positions are), N and padding codes, a row without a
 * base.
 *   - reference CPU backend: each conv output is one double sum in a fixed order whatever the batch and
 *     the length, so the windows must give the full recomputation's attributions bit for bit;
 *   - fast CPU backend: the prefix's output (what the layers after the convolutions see) within the
 *     bound of two summation orders (derived at prefix_bound); where it is equal bit for bit, the
 *     attributions too (the rest of the model is the same ops on the same input and batch), else for
 *     the CNN within the bound carried through global max and the head (head_bound); through a BiLSTM
 *     no useful bound exists, and those attributions are compared only on the reference backend.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "backend.h"
#include "dm_pack.h"
#include "ism_fast.h"
#include "netio.h"
#include "saliency.h"
#include "testutil.h"

#define B 3

static void rows(uint8_t *codes, int n, int L, uint64_t tag) {
    float *u = malloc(sizeof(float) * n * L);
    dm_test_fill_uniform(u, (size_t)n * L, 0, 4.3f, tag);
    for (int i = 0; i < n * L; i++) codes[i] = u[i] >= 4.15f ? DM_BASE_PAD : u[i] >= 4.0f ? DM_BASE_N : (uint8_t)u[i];
    for (int l = 0; l < L; l++) codes[L + l] = DM_BASE_N;   /* row 1: no base at all (ISM's own-score case) */
    free(u);
}

typedef struct shape { dm_arch arch; int L, n_conv, w[3], pool, bmax; } shape;

/* Odd shapes: tails a pool drops (CNN 37: 29 → 14 drops one), windows as wide as a layer (CNN 29:
 * conv3 is 1 long), pools of 3, a batch smaller than a row's variants (chunks of variants). */
static const shape shapes[] = {
    {DM_ARCH_CNN, 37, 3, {9, 5, 3}, 2, 128}, {DM_ARCH_CNN, 29, 3, {9, 5, 3}, 2, 64},
    {DM_ARCH_CNN, 40, 2, {4, 6, 0}, 3, 100}, {DM_ARCH_CNN, 32, 1, {7, 0, 0}, 2, 128},
    {DM_ARCH_CNNRNN, 32, 1, {9, 0, 0}, 2, 128}, {DM_ARCH_CNNRNN, 19, 1, {5, 0, 0}, 2, 30},
    {(dm_arch)3, 37, 1, {9, 0, 0}, 4, 128}, {(dm_arch)3, 33, 1, {6, 0, 0}, 3, 50},
};

static dm_net *model(dm_backend *be, const shape *s) {
    dm_hparams hp;
    dm_hparams_default(&hp, s->arch);
    hp.len = s->L;
    hp.n_conv = s->n_conv;
    for (int i = 0; i < 3; i++) hp.conv_width[i] = s->w[i];
    hp.pool = s->pool;
    hp.conv_channels = 8;
    hp.hidden = 4;
    dm_net *m;
    cr_assert_eq(dm_net_create(&m, &hp, be, s->bmax), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_init_params(m, 5), DM_STATUS_OK);
    return m;
}

/* attributions and P(pos) of 2·B rows through sal_dev, windows or full */
static void ism(dm_net *m, const uint8_t *codes, int L, bool full, bool center, float *attr, float *p) {
    dm_saliency_options o = {.method = DM_SAL_ISM, .target = DM_TARGET_POS, .ism_full = full, .center = center,
                             .n_quarter = center};
    dm_sal_dev *d;
    cr_assert_eq(dm_sal_dev_create(&d, m, &o), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_sal_dev_load(d, codes, NULL, 2 * B, 0), DM_STATUS_OK, "%s", dm_last_error());
    float *x = malloc(sizeof(float) * B * L * 4);
    for (int k = 0; k < 2; k++) {
        dm_onehot_host(x, codes + (size_t)k * B * L, (int64_t)B * L, o.n_quarter);
        cr_assert_eq(dm_sal_dev_batch(d, k * B, B, x, attr + (size_t)k * B * L * 4, p + k * B), DM_STATUS_OK, "%s",
                     dm_last_error());
    }
    free(x);
    dm_sal_dev_free(d);
}

Test(ism_fast, plan_exists_exactly_for_models_that_begin_with_a_conv) {
    dm_backend *be = dm_backend_cpu_create(1);
    for (int a = 0; a < dm_arch_count(); a++) {
        shape s = {(dm_arch)a, 101, 3, {9, 5, 3}, 2, 16};
        if (a != DM_ARCH_CNN) s.n_conv = 1;
        dm_net *m = model(be, &s);
        dm_ism_fast *f;
        cr_assert_eq(dm_ism_fast_create(&f, m), DM_STATUS_OK, "%s", dm_last_error());
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        bool conv_first = dm_net_layers(m, &(int){0})[0].op == DM_LAYER_CONV;
        cr_expect_eq(f != NULL, conv_first, "%s: a window plan %s", dm_arch_name((dm_arch)a), f ? "for a model without conv" : "missing");
        if (f) {
            double w, full;
            dm_ism_fast_macs(f, &w, &full);
            cr_expect(w < full, "%s: windows of %.0f multiply-adds, the full conv %.0f", dm_arch_name((dm_arch)a), w, full);
        }
        dm_ism_fast_free(f);
        dm_net_free(m);
    }
    dm_backend_free(be);
}

Test(ism_fast, windows_equal_the_full_recomputation_bit_for_bit_on_the_reference_backend) {
    dm_backend *be = dm_backend_cpu_ref_create();
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        dm_net *m = model(be, s);
        size_t n = (size_t)2 * B * s->L * 4;
        uint8_t *codes = malloc((size_t)2 * B * s->L);
        float *a_fast = malloc(sizeof(float) * n), *a_full = malloc(sizeof(float) * n), p_fast[2 * B], p_full[2 * B];
        rows(codes, 2 * B, s->L, 20 + i);
        for (int c = 0; c < 2; c++) {
            ism(m, codes, s->L, false, c, a_fast, p_fast);
            ism(m, codes, s->L, true, c, a_full, p_full);
            size_t bad = 0;
            for (size_t k = 0; k < n; k++) bad += memcmp(&a_fast[k], &a_full[k], sizeof(float)) != 0;
            cr_expect_eq(bad, 0, "shape %zu (%s, L %d): %zu of %zu attributions differ", i, dm_arch_name(s->arch), s->L,
                         bad, n);
            cr_expect(memcmp(p_fast, p_full, sizeof p_fast) == 0, "shape %zu: P(pos) differs", i);
        }
        free(codes);
        free(a_fast);
        free(a_full);
        dm_net_free(m);
    }
    dm_backend_free(be);
}

/* Bound on |windowed − full| for the prefix's output, per channel. Both compute each conv output as the
 * same K·Cin products plus the bias, summed in float in orders that may differ (OpenBLAS picks its
 * kernel by the matrix height, which differs: nv·W rows against nv·Lout); each result is within
 * γ(n) = n·u / (1 − n·u), n = K·Cin + 1, u = 2⁻²⁴, of the exact sum times Σ|terms| (Higham, Accuracy and
 * Stability, §3.1), so the two differ by at most 2γ(n)·Σ|terms|. ReLU and max-pool are 1-Lipschitz; an
 * input error E ≤ c·M propagates through |W| to ≤ c·M of the next layer, where M (per channel) bounds
 * Σ|terms|: M = 1 at the input (one-hot, N as 0.25), M' = |b| + Σ_{k,ci} |w|·M(ci) through a conv. So
 * |Δ| ≤ (Σ over the convs of 2γ(n)) · M of the last layer. */
static void prefix_bound(dm_net *m, float *bound, double *Mout) {
    int nl;
    const dm_layer *ly = dm_net_layers(m, &nl);
    float *p = malloc(sizeof(float) * dm_net_n_params(m));
    cr_assert_eq(dm_net_get_params(m, p), DM_STATUS_OK);
    const dm_tensor_info *t = dm_net_tensors(m, &(int32_t){0});
    double M[512], Mn[512], c = 0, u = ldexp(1.0, -24);
    for (int ci = 0; ci < 4; ci++) M[ci] = 1.0;
    int C = 4;
    for (int i = 0; i < nl && (ly[i].op == DM_LAYER_CONV || ly[i].op == DM_LAYER_RELU || ly[i].op == DM_LAYER_MAXPOOL ||
                               ly[i].op == DM_LAYER_DROPOUT); i++) {
        if (ly[i].op != DM_LAYER_CONV) continue;
        const float *w = p + t[ly[i].tensor].offset, *b = p + t[ly[i].tensor + 1].offset;
        int K = ly[i].k, Co = ly[i].n;
        double n = (double)K * C + 1;
        c += 2 * n * u / (1 - n * u);
        for (int o = 0; o < Co; o++) {
            Mn[o] = fabs(b[o]);
            for (int k = 0; k < K; k++)
                for (int ci = 0; ci < C; ci++) Mn[o] += fabs(w[((size_t)o * K + k) * C + ci]) * M[ci];
        }
        memcpy(M, Mn, sizeof(double) * Co);
        C = Co;
    }
    for (int o = 0; o < C; o++) bound[o] = (float)(c * M[o]), Mout[o] = M[o];
    free(p);
}

/* For a model whose prefix is followed by global max → dense → log-softmax (the CNN): the bound on
 * |windows − full| of an attribution a = (float)(S_v − S_ref). Global max is 1-Lipschitz, so each feature
 * differs by at most E_j (prefix_bound) and is at most M_j; a logit z_c = b_c + Σ_j w_cj·g_j then by at
 * most Σ_j |w_cj|·E_j plus the rounding of each side's sum, γ(F + 1)·(|b_c| + Σ_j |w_cj|·M_j) twice;
 * log-softmax is 2-Lipschitz in the max norm, and rounds each side by at most 8u·(|z_0 − z_1| + 1) (a
 * subtraction, an exp, a log1p-sized sum and a log, each within 2u); an attribution is the difference of
 * two such scores (twice), then rounded to float on each side (u·|a| each). */
static double head_bound(dm_net *m, const float *E, const double *M, double *rel) {
    int nl;
    const dm_layer *ly = dm_net_layers(m, &nl);
    const dm_layer *fc = &ly[nl - 2];
    float *p = malloc(sizeof(float) * dm_net_n_params(m));
    cr_assert_eq(dm_net_get_params(m, p), DM_STATUS_OK);
    const dm_tensor_info *t = dm_net_tensors(m, &(int32_t){0});
    const float *w = p + t[fc->tensor].offset, *b = p + t[fc->tensor + 1].offset;
    int F = fc->ch_in;
    double u = ldexp(1.0, -24), g = (F + 1) * u / (1 - (F + 1) * u), dz = 0, zmax = 0;
    for (int c = 0; c < 2; c++) {
        double e = 0, mag = fabs(b[c]);
        for (int j = 0; j < F; j++) e += fabs(w[(size_t)c * F + j]) * E[j], mag += fabs(w[(size_t)c * F + j]) * M[j];
        dz = fmax(dz, e + 2 * g * mag);
        zmax = fmax(zmax, mag);
    }
    free(p);
    double rho = 8 * u * (2 * zmax + 1);
    *rel = 2 * u;
    return 2 * (2 * dz + 2 * rho);
}

Test(ism_fast, windows_within_the_summation_bound_on_the_fast_backend) {
    dm_backend *be = dm_backend_cpu_create(2);
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        dm_net *m = model(be, s);
        int L = s->L, rb = dm_pack_row_bytes(L);
        dm_ism_fast *f;
        cr_assert_eq(dm_ism_fast_create(&f, m), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert(f != NULL, "shape %zu: no window plan", i);
        float bound[512];
        double M[512];
        prefix_bound(m, bound, M);
        uint8_t *codes = malloc((size_t)2 * B * L), *packed = malloc((size_t)rb);
        float *x = malloc(sizeof(float) * L * 4);
        uint8_t *d_row = be->i->alloc(be, (size_t)rb);
        rows(codes, 2 * B, L, 40 + i);
        bool same = true;
        for (int r = 0; r < 2 * B; r++) {
            dm_onehot_host(x, codes + (size_t)r * L, L, false);
            be->i->upload(be, dm_net_input(m), x, sizeof(float) * L * 4);
            cr_assert_eq(dm_ism_fast_reference(f, dm_net_input(m)), DM_STATUS_OK);
            dm_pack_row(packed, codes + (size_t)r * L, L);
            be->i->upload(be, d_row, packed, (size_t)rb);
            for (int v0 = 0; v0 < 4 * L; v0 += s->bmax) {
                int nv = 4 * L - v0 < s->bmax ? 4 * L - v0 : s->bmax, Lp, Cp;
                const float *out;
                be->i->ism_variants(be, dm_net_input(m), d_row, v0, nv, L, false);
                cr_assert_eq(dm_ism_fast_prefix(f, v0, nv, true, &out, &Lp, &Cp), DM_STATUS_OK, "%s", dm_last_error());
                size_t n = (size_t)nv * Lp * Cp;
                float *win = malloc(sizeof(float) * n), *full = malloc(sizeof(float) * n);
                be->i->download(be, win, out, sizeof(float) * n);
                cr_assert_eq(dm_ism_fast_prefix(f, v0, nv, false, &out, &Lp, &Cp), DM_STATUS_OK, "%s", dm_last_error());
                be->i->download(be, full, out, sizeof(float) * n);
                size_t bad = 0;
                for (size_t k = 0; k < n; k++) {
                    bad += !(fabsf(win[k] - full[k]) <= bound[k % Cp]);
                    same = same && memcmp(&win[k], &full[k], sizeof(float)) == 0;
                }
                cr_expect_eq(bad, 0, "shape %zu (%s) row %d variants %d..: %zu of %zu outside the bound", i,
                             dm_arch_name(s->arch), r, v0, bad, n);
                free(win);
                free(full);
            }
        }
        if (same) {   /* the same input to the same ops and batches: the same attributions */
            size_t n = (size_t)2 * B * L * 4;
            float *a_fast = malloc(sizeof(float) * n), *a_full = malloc(sizeof(float) * n), p_fast[2 * B], p_full[2 * B];
            ism(m, codes, L, false, false, a_fast, p_fast);
            ism(m, codes, L, true, false, a_full, p_full);
            cr_expect(memcmp(a_fast, a_full, sizeof(float) * n) == 0, "shape %zu: equal prefix, different attributions", i);
            free(a_fast);
            free(a_full);
        } else if (s->arch == DM_ARCH_CNN) {   /* global max → head: the attributions within head_bound */
            size_t n = (size_t)2 * B * L * 4, bad = 0;
            float *a_fast = malloc(sizeof(float) * n), *a_full = malloc(sizeof(float) * n), p_fast[2 * B], p_full[2 * B];
            ism(m, codes, L, false, false, a_fast, p_fast);
            ism(m, codes, L, true, false, a_full, p_full);
            double rel, tol = head_bound(m, bound, M, &rel), worst = 0;
            for (size_t k = 0; k < n; k++) {
                double d = fabs((double)a_fast[k] - a_full[k]);
                bad += !(d <= tol + rel * fabs(a_full[k]));
                worst = fmax(worst, d);
            }
            cr_expect_eq(bad, 0, "shape %zu: %zu attributions differ by more than %.3g (worst %.3g)", i, bad, tol, worst);
            cr_log_info("dm-note: shape %zu (cnn): attributions within %.3g of the full recomputation (worst %.3g)", i,
                        tol, worst);
            free(a_fast);
            free(a_full);
        } else {   /* the BiLSTM after the prefix: no useful bound through 2 × L recurrent steps */
            cr_log_info("dm-note: shape %zu (%s): the windows' prefix differs from the full one within the bound "
                        "(another GEMM kernel); attributions not compared", i, dm_arch_name(s->arch));
        }
        be->i->free(be, d_row);
        free(codes);
        free(packed);
        free(x);
        dm_ism_fast_free(f);
        dm_net_free(m);
    }
    dm_backend_free(be);
}
