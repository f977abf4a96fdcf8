/*
 * test_sal_bwd.c: the fast CPU backward to the input that saliency runs (issue 12).
 * conv_dx: the input gradient of the fast conv1d_bwd (kernels/cpu/conv1d_dx.c), which takes a GEMM and
 * col2im for sequences whose output gradient is dense and a sparse way for the others.
 *  - batches that mix both kinds (dense, behind a max-pool and ReLU, behind a global max, all zero,
 *    exactly at and just past the density threshold, ±0 entries) at the CNN's and CNN-RNN's shapes and
 *    odd ones (padding, K·Ci not a multiple of 16, more sequences than a sparse group): against the
 *    double reference within the float summation bound, at every ISA level this CPU has;
 *  - the sparse way's sequences bit for bit the same for 1, 2 and 3 threads (a sequence's way and sums do
 *    not depend on the split; the GEMM way's depend on the GEMM's rows, as before), and every sequence
 *    the same with or without the parameter gradients (test_sal_dev's input-only = full backward);
 *  - DM_CONV_DX=dense (the GEMM way for all) within the same bound.
 * The reference itself is checked against finite differences in test_ops.c.
 * max_relu: the max backward with the ReLU mask in one pass (maxpool_relu_bwd, gmax_relu_bwd) is bit for
 * bit the unfused pair, fast (1 and 2 threads) and reference; conv → ReLU → pool to the input in one op
 * (conv1d_pool_dx) is bit for bit maxpool_relu_bwd + conv1d_bwd; a CNN's saliency maps and training
 * gradients are bit for bit those of the unfused walk (DM_FUSE=off).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "dm_rng.h"
#include "model.h"
#include "saliency.h"
#include "testutil.h"

int dm_cpu_isa_force(int level);
bool dm_cpu_conv1d_dx_sparse(void);
int dm_cpu_isa_supported(void);
const char *dm_cpu_isa_name(int level);

#define U 5.9604644775390625e-8 /* 2⁻²⁴, the unit roundoff of float */

enum { DENSE, POOL, GMAX, ZERO, HALF, HALF_PLUS, SIGNED_ZERO, N_KINDS };

/* Sequence b's output gradient (Lo, Co) of the given kind. */
static void fill_seq(float *go, int kind, int Lo, int Co, dm_rng *r) {
    size_t n = (size_t)Lo * Co;
    for (size_t i = 0; i < n; i++) go[i] = 0.0f;
    switch (kind) {
    case DENSE:
        for (size_t i = 0; i < n; i++) go[i] = (float)dm_rng_uniform(r) * 2.0f - 1.0f;
        break;
    case POOL:   /* one of each pair of positions per channel, then ReLU keeps about half */
        for (int l = 0; l + 1 < Lo; l += 2)
            for (int o = 0; o < Co; o++)
                if (dm_rng_below(r, 4) != 0)
                    go[(size_t)(l + (int)dm_rng_below(r, 2)) * Co + o] = (float)dm_rng_uniform(r) - 0.5f;
        break;
    case GMAX:   /* one position per channel */
        for (int o = 0; o < Co; o++) go[(size_t)dm_rng_below(r, (uint32_t)Lo) * Co + o] = (float)dm_rng_uniform(r);
        break;
    case ZERO: break;
    case HALF:        /* exactly ⌊n/2⌋ entries non-zero (conv1d_dx.c's threshold): still the sparse way */
    case HALF_PLUS:   /* one more: the dense way */
        for (size_t i = 0; i < n / 2; i++) go[i * 2] = (float)dm_rng_uniform(r) - 0.5f;   /* even positions */
        if (kind == HALF_PLUS) go[1] = 0.75f;
        break;
    case SIGNED_ZERO:   /* −0 entries are zeros (not listed) among a few non-zero ones */
        for (size_t i = 0; i < n; i++) go[i] = i % 7 == 0 ? (float)dm_rng_uniform(r) - 0.5f : -0.0f;
        break;
    }
}

static float *fvec(size_t n) {
    float *v = calloc(n ? n : 1, sizeof(float));
    cr_assert(v);
    return v;
}

static void bwd(dm_backend *be, float *gi, float *gw, float *gb, const float *go, const float *in, const float *w,
                int B, int Li, int Ci, int Co, int K, int pad) {
    be->i->conv1d_bwd(be, gi, gw, gb, go, in, w, B, Li, Ci, Co, K, pad);
    cr_assert(dm_backend_status(be) == DM_STATUS_OK, "%s", dm_last_error());
}

/* got against want within n_terms·u·bound per element */
static void expect_bound(const char *what, const float *got, const float *want, const double *bound, size_t n,
                         double n_terms) {
    size_t bad = 0, worst = 0;
    double worst_e = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]), lim = n_terms * U * bound[i];
        if (!(e <= lim)) bad++;
        if (!(e <= lim) && (bad == 1 || e - lim > worst_e)) { worst = i; worst_e = e - lim; }
    }
    cr_expect(bad == 0, "%s: %zu of %zu past the bound; e.g. element %zu: %.9g, reference %.9g, bound %.3g", what,
              bad, n, worst, (double)got[worst], (double)want[worst], n_terms * U * bound[worst]);
}

static void dx_case(int B, int Li, int Ci, int Co, int K, int pad) {
    int Lo = Li + 2 * pad - K + 1;
    size_t nin = (size_t)B * Li * Ci, nw = (size_t)Co * K * Ci, nout = (size_t)B * Lo * Co;
    uint64_t tag = (uint64_t)(B * 131 + Li * 17 + Ci * 7 + Co * 3 + K + pad * 1000);
    float *in = fvec(nin), *w = fvec(nw), *go = fvec(nout);
    dm_test_fill_uniform(in, nin, -1, 1, tag);
    dm_test_fill_uniform(w, nw, -0.5f, 0.5f, tag + 1);
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), DM_STREAM_SIMULATE, tag);
    /* every kind among the first sequences (runs of both ways), then a run of sparse ones longer than a group */
    static const int first[] = {POOL, DENSE, DENSE, GMAX, ZERO, HALF, POOL, HALF_PLUS, SIGNED_ZERO, POOL};
    cr_assert(B <= 64);
    for (int b = 0; b < B; b++) fill_seq(go + (size_t)b * Lo * Co, b < 10 ? first[b] : (b % 2 ? POOL : GMAX), Lo, Co, &r);
    /* the sequences the sparse way takes: at most 1/2 of the entries non-zero (conv1d_dx.c's rule) */
    bool sparse_seq[64];
    for (int b = 0; b < B; b++) {
        size_t nz = 0, n = (size_t)Lo * Co;
        for (size_t i = 0; i < n; i++) nz += go[(size_t)b * n + i] != 0.0f;
        sparse_seq[b] = nz * 2 <= n;
    }
    if (B >= 10) cr_assert(sparse_seq[5] && !sparse_seq[7] && !sparse_seq[1]);   /* at the threshold, past it, dense */

    /* the reference and the bound of each element: (K·Co + 3)·u·Σ|g·w| (float sums of K·Co products in
     * any order, with or without FMA, plus the reference's own rounding to float) */
    dm_backend *ref = dm_backend_cpu_ref_create();
    float *want = fvec(nin);
    bwd(ref, want, NULL, NULL, go, in, w, B, Li, Ci, Co, K, pad);
    double *bound = calloc(nin, sizeof(double));
    cr_assert(bound);
    for (int b = 0; b < B; b++)
        for (int l = 0; l < Lo; l++)
            for (int o = 0; o < Co; o++) {
                float g = go[((size_t)b * Lo + l) * Co + o];
                for (int k = 0; k < K; k++) {
                    int p = l + k - pad;
                    if (g == 0.0f || p < 0 || p >= Li) continue;
                    for (int c = 0; c < Ci; c++)
                        bound[((size_t)b * Li + p) * Ci + c] += fabs((double)g * w[((size_t)o * K + k) * Ci + c]);
                }
            }
    double n_terms = (double)K * Co + 3;
    char what[200];

    int top = dm_cpu_isa_supported();
    for (int level = 0; level <= top; level++) {
        cr_assert(dm_cpu_isa_force(level) == level);
        float *got[3];
        for (int nt = 1; nt <= 3; nt++) {
            dm_backend *fast = dm_backend_cpu_create(nt);
            got[nt - 1] = fvec(nin);
            bwd(fast, got[nt - 1], NULL, NULL, go, in, w, B, Li, Ci, Co, K, pad);
            if (nt == 2) {   /* with the parameter gradients: the same input gradient */
                float *gi = fvec(nin), *gw = fvec(nw), *gb = fvec((size_t)Co);
                bwd(fast, gi, gw, gb, go, in, w, B, Li, Ci, Co, K, pad);
                cr_expect(memcmp(gi, got[1], sizeof(float) * nin) == 0,
                          "B%d Li%d Ci%d Co%d K%d pad%d %s: the input gradient changes with grad_w", B, Li, Ci, Co,
                          K, pad, dm_cpu_isa_name(level));
                free(gi); free(gw); free(gb);
            }
            dm_backend_free(fast);
        }
        snprintf(what, sizeof what, "B%d Li%d Ci%d Co%d K%d pad%d %s", B, Li, Ci, Co, K, pad, dm_cpu_isa_name(level));
        /* the sparse way's sequences are bit for bit the same for any thread count; the GEMM way's depend
         * on how many rows the GEMM has (OpenBLAS's blocking), as before the sparse way existed */
        bool sparse_way = dm_cpu_conv1d_dx_sparse();
        for (int nt = 2; nt <= 3; nt++)
            for (int b = 0; b < B && sparse_way; b++)
                if (sparse_seq[b])
                    cr_expect(memcmp(got[0] + (size_t)b * Li * Ci, got[nt - 1] + (size_t)b * Li * Ci,
                                     sizeof(float) * Li * Ci) == 0,
                              "%s: sequence %d (sparse): %d threads differ from 1", what, b, nt);
        expect_bound(what, got[0], want, bound, nin, n_terms);
        for (int k = 0; k < 3; k++) free(got[k]);
    }
    dm_cpu_isa_force(-1);
    /* DM_CONV_DX=dense: the GEMM way for every sequence */
    setenv("DM_CONV_DX", "dense", 1);
    dm_backend *fast = dm_backend_cpu_create(2);
    float *dense = fvec(nin);
    bwd(fast, dense, NULL, NULL, go, in, w, B, Li, Ci, Co, K, pad);
    unsetenv("DM_CONV_DX");
    snprintf(what, sizeof what, "B%d Li%d Ci%d Co%d K%d pad%d DM_CONV_DX=dense", B, Li, Ci, Co, K, pad);
    expect_bound(what, dense, want, bound, nin, n_terms);
    free(dense);
    dm_backend_free(fast);
    dm_backend_free(ref);
    free(in); free(w); free(go); free(want); free(bound);
}

Test(conv_dx, cnn_shapes) {
    dx_case(19, 101, 4, 128, 9, 0);   /* conv1: K·Ci = 36, rows padded to 48 */
    dx_case(19, 46, 128, 128, 5, 0);  /* conv2 */
    dx_case(11, 21, 128, 128, 3, 0);  /* conv3, behind the global max */
}

Test(conv_dx, padded_and_odd_shapes) {
    dx_case(12, 101, 4, 128, 9, 4);   /* CNN-RNN: same padding */
    dx_case(13, 40, 20, 24, 7, 3);    /* K·Ci = 140: a last column block of 16 */
    dx_case(10, 5, 2, 3, 5, 2);       /* padding as wide as the interior */
    dx_case(1, 12, 16, 8, 5, 0);      /* fewer sequences than threads */
    dx_case(10, 9, 4, 2, 9, 0);       /* Lo = 1 */
}

/* ---- max backward with the ReLU mask ------------------------------------------------------------- */

/* pre-activations in [−1, 1), a quarter of them exactly 0 (ReLU's 0 at a window's max) */
static float *pre_act(size_t n, uint64_t tag) {
    float *x = fvec(n);
    dm_test_fill_uniform(x, n, -1, 1, tag);
    for (size_t i = 0; i < n; i += 4) x[i] = 0.0f;
    return x;
}

static void max_relu_case(bool global, int B, int L, int C, int w) {
    int Lo = global ? 1 : L / w;
    size_t n = (size_t)B * L * C, no = (size_t)B * Lo * C;
    float *x = pre_act(n, (uint64_t)(B * 7 + L * 3 + C + w)), *y = fvec(n), *out = fvec(no), *go = fvec(no);
    int32_t *arg = calloc(no, sizeof(int32_t));
    cr_assert(arg);
    dm_test_fill_uniform(go, no, -1, 1, (uint64_t)(B + L + C + w) * 5);
    for (size_t i = 0; i < no; i += 5) go[i] = -0.0f;   /* −0 gradients keep their sign where they pass */
    dm_backend *ref = dm_backend_cpu_ref_create(), *f1 = dm_backend_cpu_create(1), *f2 = dm_backend_cpu_create(2);
    dm_backend *all[3] = {ref, f1, f2};
    for (int k = 0; k < 3; k++) {
        dm_backend *be = all[k];
        float *pair = fvec(n), *fused = fvec(n);
        be->i->relu_fwd(be, y, x, (int64_t)n);
        if (global) be->i->gmax_fwd(be, out, arg, y, B, L, C);
        else be->i->maxpool_fwd(be, out, arg, y, B, L, C, w);
        for (size_t i = 0; i < n; i++) fused[i] = pair[i] = NAN;   /* every entry must be written */
        if (global) {
            be->i->gmax_bwd(be, pair, go, arg, B, L, C);
            be->i->gmax_relu_bwd(be, fused, go, arg, out, B, L, C);
        } else {
            be->i->maxpool_bwd(be, pair, go, arg, B, L, C, w);
            be->i->maxpool_relu_bwd(be, fused, go, arg, out, B, L, C, w);
        }
        be->i->relu_bwd(be, pair, pair, y, (int64_t)n);
        cr_expect(memcmp(pair, fused, sizeof(float) * n) == 0, "%s B%d L%d C%d w%d on %s: fused differs from the pair",
                  global ? "gmax" : "maxpool", B, L, C, w, k == 0 ? "the reference" : k == 1 ? "1 thread" : "2 threads");
        free(pair); free(fused);
    }
    dm_backend_free(ref); dm_backend_free(f1); dm_backend_free(f2);
    free(x); free(y); free(out); free(go); free(arg);
}

Test(max_relu, fused_op_is_the_pair) {
    max_relu_case(false, 5, 93, 128, 2);   /* the CNN's first pool: one position past the last window */
    max_relu_case(false, 3, 42, 128, 2);
    max_relu_case(false, 4, 23, 7, 4);    /* wider windows, three positions left over */
    max_relu_case(false, 1, 3, 1, 3);
    max_relu_case(true, 6, 19, 128, 1);    /* the CNN's global max */
    max_relu_case(true, 3, 1, 5, 1);
}

/* conv1d_pool_dx (conv → ReLU → pool to the input, lists straight from the pool) is bit for bit the
 * pair maxpool_relu_bwd + conv1d_bwd, on 1, 2 and 3 threads, at every ISA level, and with
 * DM_CONV_DX=dense. */
static void pool_dx_case(int B, int Li, int Ci, int Co, int K, int pad, int pw) {
    int Lo = Li + 2 * pad - K + 1, Lp = Lo / pw;
    size_t nin = (size_t)B * Li * Ci, nw = (size_t)Co * K * Ci, nc = (size_t)B * Lo * Co, np = (size_t)B * Lp * Co;
    float *w = fvec(nw), *y = pre_act(nc, (uint64_t)(Li * 3 + Co + pw)), *out = fvec(np), *gp = fvec(np);
    float *gc = fvec(nc), *pair = fvec(nin), *fused = fvec(nin);
    int32_t *arg = calloc(np, sizeof(int32_t));
    cr_assert(arg);
    dm_test_fill_uniform(w, nw, -0.5f, 0.5f, (uint64_t)(K * 11 + Ci));
    dm_test_fill_uniform(gp, np, -1, 1, (uint64_t)(B * 13 + Lp));
    for (size_t i = 0; i < np; i += 6) gp[i] = i % 12 ? 0.0f : -0.0f;
    for (size_t i = 0; i < nc; i++) y[i] = y[i] > 0 ? y[i] : 0.0f;   /* the ReLU's output */
    for (int dense = 0; dense < 2; dense++)
        for (int level = 0; level <= dm_cpu_isa_supported(); level++) {
            cr_assert(dm_cpu_isa_force(level) == level);
            if (dense) setenv("DM_CONV_DX", "dense", 1);
            for (int nt = 1; nt <= 3; nt++) {
                dm_backend *be = dm_backend_cpu_create(nt);
                be->i->maxpool_fwd(be, out, arg, y, B, Lo, Co, pw);
                be->i->maxpool_relu_bwd(be, gc, gp, arg, out, B, Lo, Co, pw);
                bwd(be, pair, NULL, NULL, gc, NULL, w, B, Li, Ci, Co, K, pad);
                for (size_t i = 0; i < nin; i++) fused[i] = NAN;   /* every entry must be written */
                be->i->conv1d_pool_dx(be, fused, gc, gp, arg, out, w, B, Li, Ci, Co, K, pad, pw);
                cr_assert(dm_backend_status(be) == DM_STATUS_OK, "%s", dm_last_error());
                cr_expect(memcmp(pair, fused, sizeof(float) * nin) == 0,
                          "conv1d_pool_dx B%d Li%d Ci%d Co%d K%d pad%d pool %d, %s, %d threads%s: differs from the pair",
                          B, Li, Ci, Co, K, pad, pw, dm_cpu_isa_name(level), nt, dense ? ", DM_CONV_DX=dense" : "");
                dm_backend_free(be);
            }
            unsetenv("DM_CONV_DX");
        }
    dm_cpu_isa_force(-1);
    free(w); free(y); free(out); free(gp); free(gc); free(pair); free(fused); free(arg);
}

Test(max_relu, conv_pool_input_gradient_is_the_pair) {
    pool_dx_case(9, 101, 4, 128, 9, 0, 2);    /* the CNN's conv1 → pool (93 positions: one past the last window) */
    pool_dx_case(10, 46, 128, 128, 5, 0, 2);  /* conv2 → pool */
    pool_dx_case(5, 30, 6, 20, 5, 2, 3);      /* padding, width 3, K·Ci = 30 */
    pool_dx_case(1, 12, 16, 8, 5, 0, 4);      /* fewer sequences than threads */
}

/* A CNN's saliency maps (eval: the dropouts are identities, so the global max fuses too) and training
 * gradients (dropout between ReLU and the global max: only the pools fuse) with and without the fusions. */
Test(max_relu, cnn_saliency_and_training_equal_the_unfused_walk) {
    int B = 13, L = 101;
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    dm_backend *be = dm_backend_cpu_create(2);
    dm_net *m;
    cr_assert(dm_net_create(&m, &hp, be, B) == DM_STATUS_OK && dm_net_init_params(m, 7) == DM_STATUS_OK);
    size_t n = (size_t)B * L * 4;
    float *x = fvec(n), *a[2] = {fvec(n), fvec(n)}, p[13];
    int8_t labels[13];
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), DM_STREAM_SIMULATE, 77);
    for (int i = 0; i < B * L; i++) x[4 * i + dm_rng_below(&r, 4)] = 1.0f;
    for (int b = 0; b < B; b++) labels[b] = (int8_t)(b % 2);
    int64_t np = dm_net_n_params(m);
    float *g[2] = {fvec((size_t)np), fvec((size_t)np)}, *gx[2] = {fvec(n), fvec(n)};
    dm_saliency_options o = {.method = DM_SAL_GRAD};
    for (int k = 0; k < 2; k++) {
        if (k == 1) setenv("DM_FUSE", "off", 1);
        cr_assert(dm_saliency_batch(m, x, NULL, B, 0, &o, a[k], p) == DM_STATUS_OK, "%s", dm_last_error());
        dm_net_zero_grad(m);
        cr_assert(dm_net_forward(m, x, B, true, 5, 3) == DM_STATUS_OK);
        cr_assert(dm_net_backward(m, labels, B, B, NULL, gx[k]) == DM_STATUS_OK);
        cr_assert(dm_net_get_grads(m, g[k]) == DM_STATUS_OK);
        unsetenv("DM_FUSE");
    }
    cr_expect(memcmp(a[0], a[1], sizeof(float) * n) == 0, "saliency: the fused walk differs from the unfused one");
    cr_expect(memcmp(gx[0], gx[1], sizeof(float) * n) == 0, "training: input gradients differ");
    cr_expect(memcmp(g[0], g[1], sizeof(float) * (size_t)np) == 0, "training: parameter gradients differ");
    dm_net_free(m);
    dm_backend_free(be);
    free(x); free(a[0]); free(a[1]); free(g[0]); free(g[1]); free(gx[0]); free(gx[1]);
}
