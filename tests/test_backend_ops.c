/*
 * test_backend_ops.c: every op of the CUDA backend against the CPU reference (STYLE.md rule 12).
 *
 * Inputs are seeded random (dm_test_seed(): printed, DM_TEST_SEED overrides). Each backend buffer is
 * surrounded by guard bytes that must come back untouched, and every output buffer starts as NaN, so
 * an element a kernel forgets to write fails. Shapes include 1, sizes that are not multiples of the
 * block, the real model shapes (L 101, C 4 → 128, H 32, batch 256; left out under DM_TEST_SMALL, as in
 * the sanitizer builds), and shapes that take every branch of a launcher (conv1d's direct and GEMM
 * paths). Accumulating outputs (parameter gradients) start from the same random values on both sides.
 * Comparison: |cuda − ref| ≤ atol + rtol·|ref| per element with named tolerances; NaN/Inf fail.
 *
 * In emulator builds ctest runs this binary once per thread order (DM_EMU_SCHED). Without a CUDA
 * device (the real build on a machine without a GPU) every test skips with the reason.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "dm_pack.h"
#include "testutil.h"

/* named tolerances: {atol, rtol} */
typedef struct { double atol, rtol; } tol_t;
static const tol_t TOL_EXACT = {0, 0};          /* copies, selections, Philox masks */
static const tol_t TOL_ELEM = {1e-6, 1e-5};     /* element-wise float math (expf, tanhf, sqrtf) */
static const tol_t TOL_SUM = {2e-5, 2e-4};      /* sums of up to ~10^4 terms in float */
static const tol_t TOL_LSTM = {5e-5, 1e-3};     /* gradients through 101 recurrent steps */

/* A float sum of `terms` products of O(1) values: the rounding error grows like √terms (for the
 * weight gradients of the real shapes, 23,808 terms: atol 1.6e-4; an indexing bug is O(1)). */
static tol_t tol_sum(double terms) { return (tol_t){1e-6 * sqrt(terms) + 1e-6, 2e-4}; }
/* cuDNN's gradient algorithms sum the `terms` products of one weight in an order of their own, maybe
 * one after another: each partial sum (of size rms·√k) rounds once, so the error of a sequential float
 * sum has sd ≈ u·rms·terms/√2 (u = 2^-24); 4 sd of it. For the real shapes (23,808 products of values
 * in [-1, 1], rms 1/3): 1.3e-3, where our blocked sums stay within tol_sum. On an H200 with cuDNN 9,
 * one element of 4,608 was off by 2.9e-4 = 1.28 × tol_sum; an indexing bug is off by ~rms·√terms = 50. */
static tol_t tol_seq_sum(double terms, double rms) {
    return (tol_t){4 * 0x1p-24 * rms * terms / sqrt(2.0) + 1e-6, 2e-4};
}

#define GUARD 64                                /* guard bytes each side of a backend buffer */
#define GUARD_BYTE 0xA5

static dm_backend *g_cuda, *g_ref;
static bool g_cudnn;    /* g_cuda runs cuDNN's convolution and LSTM (they keep no gate gradients) */

static void setup(void) {
    g_cuda = dm_test_cuda_backend();
    g_ref = dm_backend_cpu_ref_create();
    cr_assert_not_null(g_ref);
}

static void teardown(void) {
    dm_backend_free(g_cuda);
    dm_backend_free(g_ref);
    g_cuda = g_ref = NULL;
}

static bool small_only(void) { return getenv("DM_TEST_SMALL") != NULL; }

/* ---- guarded backend buffers ---- */

/* A backend buffer of `bytes` with guards, filled from host (or NaN bytes when host is NULL). */
static void *dev_new(const void *host, size_t bytes) {
    uint8_t *raw = g_cuda->i->alloc(g_cuda, bytes + 2 * GUARD);
    cr_assert_not_null(raw, "backend allocation of %zu bytes", bytes);
    uint8_t *stage = malloc(bytes + 2 * GUARD);
    memset(stage, GUARD_BYTE, GUARD);
    memset(stage + GUARD + bytes, GUARD_BYTE, GUARD);
    if (host) memcpy(stage + GUARD, host, bytes);
    else memset(stage + GUARD, 0xFF, bytes);     /* float NaN */
    g_cuda->i->upload(g_cuda, raw, stage, bytes + 2 * GUARD);
    free(stage);
    return raw + GUARD;
}

/* Downloads a buffer into host (bytes), checks its guards, frees it. */
static void dev_take(void *dev, void *host, size_t bytes, const char *what) {
    uint8_t *raw = (uint8_t *)dev - GUARD, *stage = malloc(bytes + 2 * GUARD);
    g_cuda->i->download(g_cuda, stage, raw, bytes + 2 * GUARD);
    cr_assert_eq(dm_backend_status(g_cuda), DM_STATUS_OK, "%s: backend error: %s", what, dm_last_error());
    for (int k = 0; k < GUARD; k++) {
        cr_assert_eq(stage[k], GUARD_BYTE, "%s: guard byte %d before the buffer overwritten", what, k);
        cr_assert_eq(stage[GUARD + bytes + k], GUARD_BYTE, "%s: guard byte %d after the buffer overwritten", what, k);
    }
    if (host) memcpy(host, stage + GUARD, bytes);
    free(stage);
    g_cuda->i->free(g_cuda, raw);
}

/* Takes a float output of n elements and compares it with ref. */
static void expect_f(void *dev, const float *ref, size_t n, tol_t tol, const char *what) {
    float *got = malloc(sizeof(float) * (n ? n : 1));
    dev_take(dev, got, sizeof(float) * n, what);
    size_t worst = 0;
    double e = dm_test_max_err(got, ref, n, tol.atol, tol.rtol, &worst);
    if (tol.atol == 0 && tol.rtol == 0)   /* exact: bit for bit */
        for (size_t i = 0; i < n; i++)
            if (memcmp(&got[i], &ref[i], sizeof(float))) {
                cr_expect_fail("%s: element %zu is %.9g, reference %.9g (exact expected)", what, i, got[i], ref[i]);
                break;
            }
    cr_expect(e <= 1.0, "%s: element %zu of %zu is %.9g, reference %.9g (error %.3g × tolerance atol %g rtol %g)",
              what, worst, n, n ? got[worst] : 0.0f, n ? ref[worst] : 0.0f, e, tol.atol, tol.rtol);
    free(got);
}

/* Takes an integer output (int32 or int8 by size) and compares it exactly. */
static void expect_bytes(void *dev, const void *ref, size_t bytes, const char *what) {
    uint8_t *got = malloc(bytes ? bytes : 1);
    dev_take(dev, got, bytes, what);
    for (size_t i = 0; i < bytes; i++)
        if (got[i] != ((const uint8_t *)ref)[i]) {
            cr_expect_fail("%s: byte %zu differs (%u vs %u)", what, i, got[i], ((const uint8_t *)ref)[i]);
            break;
        }
    free(got);
}

static float *rnd(size_t n, float lo, float hi, uint64_t tag) {
    float *x = malloc(sizeof(float) * (n ? n : 1));
    dm_test_fill_uniform(x, n, lo, hi, tag);
    return x;
}

static float *nan_host(size_t n) {
    float *x = malloc(sizeof(float) * (n ? n : 1));
    memset(x, 0xFF, sizeof(float) * n);
    return x;
}

/* ---- element-wise ops ---- */

Test(backend_ops, relu_dropout, .init = setup, .fini = teardown) {
    int64_t sizes[] = {1, 255, 257, 1027, 256LL * 93 * 128};
    for (int si = 0; si < 5; si++) {
        int64_t n = sizes[si];
        if (si == 4 && small_only()) continue;
        float *in = rnd(n, -1, 1, 1), *go = rnd(n, -1, 1, 2), *ref = nan_host(n), *mask = nan_host(n);
        for (int64_t i = 0; i < n; i += 7) in[i] = 0.0f;   /* the kink: derivative 0 at 0 */
        float *d_in = dev_new(in, 4 * n), *d_out = dev_new(NULL, 4 * n);
        g_cuda->i->relu_fwd(g_cuda, d_out, d_in, n);
        g_ref->i->relu_fwd(g_ref, ref, in, n);
        float *d_go = dev_new(go, 4 * n), *d_gi = dev_new(NULL, 4 * n), *d_fwd = dev_new(ref, 4 * n);
        expect_f(d_out, ref, n, TOL_EXACT, "relu_fwd");
        float *gref = nan_host(n);
        g_cuda->i->relu_bwd(g_cuda, d_gi, d_go, d_fwd, n);
        g_ref->i->relu_bwd(g_ref, gref, go, ref, n);
        expect_f(d_gi, gref, n, TOL_EXACT, "relu_bwd");
        dev_take(d_go, NULL, 4 * n, "relu grad_out");
        dev_take(d_fwd, NULL, 4 * n, "relu out");

        /* dropout: the Philox masks must be bit-identical; in place too */
        float *d_mask = dev_new(NULL, 4 * n), *d_dout = dev_new(NULL, 4 * n);
        g_cuda->i->dropout_fwd(g_cuda, d_dout, d_mask, d_in, n, 0.5f, 0x1234ABCDull, 77 + si);
        g_ref->i->dropout_fwd(g_ref, ref, mask, in, n, 0.5f, 0x1234ABCDull, 77 + si);
        expect_f(d_mask, mask, n, TOL_EXACT, "dropout_fwd mask");
        expect_f(d_dout, ref, n, TOL_EXACT, "dropout_fwd out");
        float *d_m2 = dev_new(mask, 4 * n), *d_g2 = dev_new(go, 4 * n);
        g_cuda->i->dropout_bwd(g_cuda, d_g2, d_g2, d_m2, n);
        g_ref->i->dropout_bwd(g_ref, gref, go, mask, n);
        expect_f(d_g2, gref, n, TOL_EXACT, "dropout_bwd (in place)");
        dev_take(d_m2, NULL, 4 * n, "dropout mask in");
        dev_take(d_in, NULL, 4 * n, "relu in");
        free(in); free(go); free(ref); free(mask); free(gref);
    }
}

Test(backend_ops, onehot_gather, .init = setup, .fini = teardown) {
    int shapes[][3] = {{1, 1, 1}, {3, 101, 5}, {7, 13, 20}, {256, 101, 300}};   /* B, L, N rows */
    uint64_t seed = dm_test_seed();
    for (int si = 0; si < 4; si++) {
        int B = shapes[si][0], L = shapes[si][1], N = shapes[si][2];
        if (si == 3 && small_only()) continue;
        uint8_t *codes = malloc((size_t)N * L);
        int8_t *labels = malloc(N);
        for (size_t i = 0; i < (size_t)N * L; i++) codes[i] = (uint8_t)((i * 2654435761u + seed) % 11 % 6);
        for (int r = 0; r < N; r++) labels[r] = (int8_t)(r % 3 == 0);
        for (int q = 0; q < 2; q++) {
            /* onehot of the first B rows */
            float *ref = nan_host((size_t)B * L * 4);
            uint8_t *d_codes = dev_new(codes, (size_t)B * L);
            float *d_x = dev_new(NULL, sizeof(float) * B * L * 4);
            g_cuda->i->onehot(g_cuda, d_x, d_codes, B, L, q);
            g_ref->i->onehot(g_ref, ref, codes, B, L, q);
            expect_f(d_x, ref, (size_t)B * L * 4, TOL_EXACT, "onehot");
            dev_take(d_codes, NULL, (size_t)B * L, "codes");
            /* gather B rows of a packed data set of N rows in a scrambled order */
            int rb = dm_pack_row_bytes(L);
            uint8_t *packed = malloc((size_t)N * rb);
            for (int r = 0; r < N; r++) dm_pack_row(packed + (size_t)r * rb, codes + (size_t)r * L, L);
            int32_t *perm = malloc(sizeof(int32_t) * B);
            for (int b = 0; b < B; b++) perm[b] = (int32_t)(((int64_t)b * 7919 + 3) % N);
            int8_t *lref = malloc(B);
            uint8_t *d_packed = dev_new(packed, (size_t)N * rb);
            int8_t *d_lab = dev_new(labels, N), *d_lout = dev_new(NULL, B);
            int32_t *d_perm = dev_new(perm, sizeof(int32_t) * B);
            d_x = dev_new(NULL, sizeof(float) * B * L * 4);
            g_cuda->i->gather(g_cuda, d_x, d_lout, d_packed, d_lab, d_perm, B, L, q);
            g_ref->i->gather(g_ref, ref, lref, packed, labels, perm, B, L, q);
            expect_f(d_x, ref, (size_t)B * L * 4, TOL_EXACT, "gather x");
            expect_bytes(d_lout, lref, B, "gather labels");
            /* and the packed form round-trips every code */
            for (int b = 0; b < B; b++)
                for (int l = 0; l < L; l++)
                    cr_assert_eq(dm_pack_get(packed + (size_t)perm[b] * rb, L, l), codes[(size_t)perm[b] * L + l]);
            dev_take(d_packed, NULL, (size_t)N * rb, "packed");
            dev_take(d_lab, NULL, N, "labels");
            dev_take(d_perm, NULL, sizeof(int32_t) * B, "perm");
            free(packed); free(perm); free(lref); free(ref);
        }
        free(codes); free(labels);
    }
}

/* ---- convolution: every path ---- */

static void check_conv(int B, int Li, int Ci, int Co, int K, int pad, bool with_grad_in) {
    char what[128];
    int Lo = Li + 2 * pad - K + 1;
    size_t nin = (size_t)B * Li * Ci, nw = (size_t)Co * K * Ci, nout = (size_t)B * Lo * Co;
    float *in = rnd(nin, -1, 1, 11), *w = rnd(nw, -0.5f, 0.5f, 12), *b = rnd(Co, -0.5f, 0.5f, 13);
    float *go = rnd(nout, -1, 1, 14), *gw0 = rnd(nw, -1, 1, 15), *gb0 = rnd(Co, -1, 1, 16);
    float *ref = nan_host(nout), *gi = nan_host(nin);
    float *gw = malloc(4 * nw), *gb = malloc(4 * (size_t)Co);
    memcpy(gw, gw0, 4 * nw);
    memcpy(gb, gb0, 4 * (size_t)Co);
    float *d_in = dev_new(in, 4 * nin), *d_w = dev_new(w, 4 * nw), *d_b = dev_new(b, 4 * (size_t)Co);
    float *d_out = dev_new(NULL, 4 * nout);
    g_cuda->i->conv1d_fwd(g_cuda, d_out, d_in, d_w, d_b, B, Li, Ci, Co, K, pad);
    g_ref->i->conv1d_fwd(g_ref, ref, in, w, b, B, Li, Ci, Co, K, pad);
    snprintf(what, sizeof what, "conv1d_fwd B%d Li%d Ci%d Co%d K%d pad%d", B, Li, Ci, Co, K, pad);
    expect_f(d_out, ref, nout, TOL_SUM, what);
    /* the fused conv + ReLU against conv1d_fwd then relu_fwd of the reference (the same sums: TOL_SUM) */
    float *d_outr = dev_new(NULL, 4 * nout);
    g_cuda->i->conv1d_relu_fwd(g_cuda, d_outr, d_in, d_w, d_b, B, Li, Ci, Co, K, pad);
    g_ref->i->relu_fwd(g_ref, ref, ref, (int64_t)nout);
    snprintf(what, sizeof what, "conv1d_relu_fwd B%d Li%d Ci%d Co%d K%d pad%d", B, Li, Ci, Co, K, pad);
    expect_f(d_outr, ref, nout, TOL_SUM, what);
    float *d_go = dev_new(go, 4 * nout), *d_gw = dev_new(gw0, 4 * nw), *d_gb = dev_new(gb0, 4 * (size_t)Co);
    float *d_gi = with_grad_in ? dev_new(NULL, 4 * nin) : NULL;
    g_cuda->i->conv1d_bwd(g_cuda, d_gi, d_gw, d_gb, d_go, d_in, d_w, B, Li, Ci, Co, K, pad);
    g_ref->i->conv1d_bwd(g_ref, with_grad_in ? gi : NULL, gw, gb, go, in, w, B, Li, Ci, Co, K, pad);
    snprintf(what, sizeof what, "conv1d_bwd B%d Li%d Ci%d Co%d K%d pad%d", B, Li, Ci, Co, K, pad);
    /* (in and grad_out uniform in [-1, 1]: products of rms 1/3, grad_out itself of rms 1/√3) */
    expect_f(d_gw, gw, nw, g_cudnn ? tol_seq_sum((double)B * Lo, 1 / 3.0) : tol_sum((double)B * Lo), what);
    expect_f(d_gb, gb, Co, g_cudnn ? tol_seq_sum((double)B * Lo, 1 / sqrt(3.0)) : tol_sum((double)B * Lo), what);
    if (d_gi) expect_f(d_gi, gi, nin, TOL_SUM, what);
    dev_take(d_in, NULL, 4 * nin, "in");
    dev_take(d_w, NULL, 4 * nw, "w");
    dev_take(d_b, NULL, 4 * (size_t)Co, "b");
    dev_take(d_go, NULL, 4 * nout, "grad_out");
    free(in); free(w); free(b); free(go); free(gw0); free(gb0); free(ref); free(gi); free(gw); free(gb);
}

Test(backend_ops, conv1d, .init = setup, .fini = teardown) {
    check_conv(1, 1, 1, 1, 1, 0, true);       /* everything 1 */
    check_conv(2, 11, 4, 5, 3, 1, true);      /* direct forward, direct input gradient */
    check_conv(3, 13, 20, 33, 3, 2, true);    /* direct forward (K·Ci 60), GEMM input gradient (Ci > 16) */
    check_conv(2, 17, 40, 7, 7, 3, true);     /* GEMM forward (K·Ci 280) and input gradient */
    check_conv(2, 9, 4, 130, 9, 0, false);    /* more channels than one block: the co loop wraps */
    check_conv(7, 300, 4, 40, 5, 2, false);   /* bias column sum in 2 × 9 blocks, a short last chunk */
    if (small_only()) return;
    check_conv(256, 101, 4, 128, 9, 0, true);     /* CNN conv1 */
    check_conv(256, 46, 128, 128, 5, 0, true);    /* CNN conv2 */
    check_conv(256, 101, 4, 128, 9, 4, false);    /* CNN-RNN conv */
}

/* ---- a CNN block fused: conv → ReLU → pool → dropout (conv1d_pool_fwd, relu_pool_bwd) ---- */

static float *dev_copy_host(const void *dev, size_t bytes) {
    float *h = malloc(bytes ? bytes : 1);
    g_cuda->i->download(g_cuda, h, dev, bytes);
    return h;
}

/* Bit-for-bit equality of n floats (int32 compared as their bytes). */
static void expect_same(const void *got, const void *ref, size_t n, const char *what, const char *part) {
    for (size_t i = 0; i < n; i++)
        if (memcmp((const uint8_t *)got + 4 * i, (const uint8_t *)ref + 4 * i, 4)) {
            cr_expect_fail("%s: %s element %zu differs (%.9g vs %.9g; exact expected)", what, part, i,
                           ((const float *)got)[i], ((const float *)ref)[i]);
            return;
        }
}

/* pw 0: the global max; drop_first: dropout before the pool; drop false: no dropout (mask NULL).
 * Checked three ways: (1) the fused CUDA op against the unfused CUDA ops in sequence, bit for bit (the same
 * float operations: conv sums, bias, ReLU, comparisons, Philox masks, products); (2) its ReLU output against
 * the CPU reference's conv → ReLU (TOL_SUM: sums of K·Ci products in another order); (3) its pool, masks and
 * dropout against the CPU reference's ops in sequence run on the CUDA op's own ReLU output, bit for bit
 * (selections and single products: exact; near-ties of the conv sums then cannot move an argmax between the
 * two sides), and the fused backward against the reference backend's fused entry (kernels/cpu/fused.c: the
 * reference ops in sequence) on the same forward buffers, value for value (the sign of a zero aside). */
static void check_convpool(int B, int Li, int Ci, int Co, int K, int pad, int pw, bool drop_first, bool drop) {
    char what[160];
    snprintf(what, sizeof what, "conv1d_pool B%d Li%d Ci%d Co%d K%d pad%d pw%d%s%s%s", B, Li, Ci, Co, K, pad, pw,
             drop ? " dropout" : "", drop && drop_first ? " first" : "", g_cudnn ? " (cuDNN)" : "");
    int Lo = Li + 2 * pad - K + 1, Lp = pw > 0 ? Lo / pw : 1;
    size_t nin = (size_t)B * Li * Ci, nw = (size_t)Co * K * Ci, nact = (size_t)B * Lo * Co, np = (size_t)B * Lp * Co;
    size_t nd = drop_first ? nact : np;
    float p = 0.5f;
    uint64_t key = 0x5EED5EEDull, index = 7 * 64 + 3;
    float *in = rnd(nin, -1, 1, 91), *w = rnd(nw, -0.5f, 0.5f, 92), *b = rnd(Co, -0.5f, 0.5f, 93);
    float *grad = rnd(np, -1, 1, 94);
    float *d_in = dev_new(in, 4 * nin), *d_w = dev_new(w, 4 * nw), *d_b = dev_new(b, 4 * (size_t)Co);
    /* [0]: the fused op, [1]: the unfused ops */
    float *d_act[2], *d_pool[2], *d_drop[2], *d_mask[2];
    int32_t *d_arg[2];
    for (int k = 0; k < 2; k++) {
        d_act[k] = dev_new(NULL, 4 * nact);
        d_pool[k] = dev_new(NULL, 4 * np);
        d_arg[k] = dev_new(NULL, 4 * np);
        d_drop[k] = drop ? dev_new(NULL, 4 * nd) : NULL;
        d_mask[k] = drop ? dev_new(NULL, 4 * nd) : NULL;
    }
    g_cuda->i->conv1d_pool_fwd(g_cuda, d_act[0], d_pool[0], d_arg[0], d_drop[0], d_mask[0], d_in, d_w, d_b, B, Li, Ci,
                               Co, K, pad, pw, drop_first, p, key, index);
    g_cuda->i->conv1d_relu_fwd(g_cuda, d_act[1], d_in, d_w, d_b, B, Li, Ci, Co, K, pad);
    const float *src = d_act[1];
    if (drop && drop_first) {
        g_cuda->i->dropout_fwd(g_cuda, d_drop[1], d_mask[1], d_act[1], (int64_t)nact, p, key, index);
        src = d_drop[1];
    }
    if (pw > 0) g_cuda->i->maxpool_fwd(g_cuda, d_pool[1], d_arg[1], src, B, Lo, Co, pw);
    else g_cuda->i->gmax_fwd(g_cuda, d_pool[1], d_arg[1], src, B, Lo, Co);
    if (drop && !drop_first) g_cuda->i->dropout_fwd(g_cuda, d_drop[1], d_mask[1], d_pool[1], (int64_t)np, p, key, index);
    float *h_act[2], *h_pool[2], *h_drop[2] = {NULL, NULL}, *h_mask[2] = {NULL, NULL};
    int32_t *h_arg[2];
    for (int k = 0; k < 2; k++) {
        h_act[k] = dev_copy_host(d_act[k], 4 * nact);
        h_pool[k] = dev_copy_host(d_pool[k], 4 * np);
        h_arg[k] = (int32_t *)dev_copy_host(d_arg[k], 4 * np);
        if (drop) h_drop[k] = dev_copy_host(d_drop[k], 4 * nd), h_mask[k] = dev_copy_host(d_mask[k], 4 * nd);
    }
    cr_assert_eq(dm_backend_status(g_cuda), DM_STATUS_OK, "%s: backend error: %s", what, dm_last_error());
    /* (1) fused = unfused, bit for bit */
    expect_same(h_act[0], h_act[1], nact, what, "ReLU output (fused vs unfused CUDA)");
    expect_same(h_pool[0], h_pool[1], np, what, "pooled (fused vs unfused CUDA)");
    expect_same(h_arg[0], h_arg[1], np, what, "argmax (fused vs unfused CUDA)");
    if (drop) {
        expect_same(h_mask[0], h_mask[1], nd, what, "mask (fused vs unfused CUDA)");
        expect_same(h_drop[0], h_drop[1], nd, what, "dropout output (fused vs unfused CUDA)");
    }
    /* (2) the ReLU output against the CPU reference's conv → ReLU */
    float *r_act = nan_host(nact), *r_pool = nan_host(np), *r_drop = nan_host(nd), *r_mask = nan_host(nd);
    int32_t *r_arg = malloc(4 * np);
    g_ref->i->conv1d_relu_fwd(g_ref, r_act, in, w, b, B, Li, Ci, Co, K, pad);
    size_t worst = 0;
    double e = dm_test_max_err(h_act[0], r_act, nact, TOL_SUM.atol, TOL_SUM.rtol, &worst);
    cr_expect(e <= 1.0, "%s: ReLU output element %zu is %.9g, reference %.9g (error %.3g x tolerance)", what, worst,
              h_act[0][worst], r_act[worst], e);
    /* (3) the reference's pool and dropout ops in sequence on the CUDA ReLU output */
    const float *r_src = h_act[0];
    if (drop && drop_first) {
        g_ref->i->dropout_fwd(g_ref, r_drop, r_mask, h_act[0], (int64_t)nact, p, key, index);
        r_src = r_drop;
    }
    if (pw > 0) g_ref->i->maxpool_fwd(g_ref, r_pool, r_arg, r_src, B, Lo, Co, pw);
    else g_ref->i->gmax_fwd(g_ref, r_pool, r_arg, r_src, B, Lo, Co);
    if (drop && !drop_first) g_ref->i->dropout_fwd(g_ref, r_drop, r_mask, r_pool, (int64_t)np, p, key, index);
    expect_same(h_pool[0], r_pool, np, what, "pooled (vs the CPU reference)");
    expect_same(h_arg[0], r_arg, np, what, "argmax (vs the CPU reference)");
    if (drop) {
        expect_same(h_mask[0], r_mask, nd, what, "mask (vs the CPU reference)");
        expect_same(h_drop[0], r_drop, nd, what, "dropout output (vs the CPU reference)");
    }
    /* backward: the fused CUDA op against the reference's on the same forward buffers, bit for bit */
    float *d_grad = dev_new(grad, 4 * np), *d_gact = dev_new(NULL, 4 * nact), *r_gact = nan_host(nact);
    float *d_grad2 = dev_new(grad, 4 * np), *d_gact2 = dev_new(NULL, 4 * nact);
    g_cuda->i->relu_pool_bwd(g_cuda, d_gact, d_grad, d_arg[0], d_mask[0], d_act[0], B, Lo, Co, pw, drop_first);
    /* the unfused CUDA ops in sequence, as the model walks them (dropout after the pool in place) */
    if (drop && !drop_first) g_cuda->i->dropout_bwd(g_cuda, d_grad2, d_grad2, d_mask[1], (int64_t)np);
    if (pw > 0) g_cuda->i->maxpool_bwd(g_cuda, d_gact2, d_grad2, d_arg[1], B, Lo, Co, pw);
    else g_cuda->i->gmax_bwd(g_cuda, d_gact2, d_grad2, d_arg[1], B, Lo, Co);
    if (drop && drop_first) g_cuda->i->dropout_bwd(g_cuda, d_gact2, d_gact2, d_mask[1], (int64_t)nact);
    g_cuda->i->relu_bwd(g_cuda, d_gact2, d_gact2, d_act[1], (int64_t)nact);
    float *h_gact2 = dev_copy_host(d_gact2, 4 * nact);
    g_ref->i->relu_pool_bwd(g_ref, r_gact, grad, h_arg[0], drop ? h_mask[0] : NULL, h_act[0], B, Lo, Co, pw,
                            drop_first);
    /* equal values, not bits: the reference's max-pool backward adds into zeros (0 + −0 = +0) where the CUDA
     * gather (fused or not) copies a −0 (a negative gradient times a zero mask) */
    float *h_gact = dev_copy_host(d_gact, 4 * nact);
    for (size_t i = 0; i < nact; i++)
        if (!(h_gact[i] == r_gact[i])) {
            cr_expect_fail("%s relu_pool_bwd: element %zu is %.9g, reference %.9g (exact expected)", what, i, h_gact[i],
                           r_gact[i]);
            break;
        }
    expect_same(h_gact, h_gact2, nact, what, "relu_pool_bwd (fused vs unfused CUDA)");
    free(h_gact); free(h_gact2);
    dev_take(d_gact, NULL, 4 * nact, "relu_pool_bwd grad_act");
    dev_take(d_gact2, NULL, 4 * nact, "unfused grad_act");
    dev_take(d_grad2, NULL, 4 * np, "unfused grad");
    dev_take(d_grad, NULL, 4 * np, "relu_pool_bwd grad");
    for (int k = 0; k < 2; k++) {
        dev_take(d_act[k], NULL, 4 * nact, "act");
        dev_take(d_pool[k], NULL, 4 * np, "pooled");
        dev_take(d_arg[k], NULL, 4 * np, "argmax");
        if (drop) dev_take(d_drop[k], NULL, 4 * nd, "drop"), dev_take(d_mask[k], NULL, 4 * nd, "mask");
        free(h_act[k]); free(h_pool[k]); free(h_arg[k]); free(h_drop[k]); free(h_mask[k]);
    }
    dev_take(d_in, NULL, 4 * nin, "in");
    dev_take(d_w, NULL, 4 * nw, "w");
    dev_take(d_b, NULL, 4 * (size_t)Co, "b");
    free(in); free(w); free(b); free(grad); free(r_act); free(r_pool); free(r_drop); free(r_mask); free(r_arg);
    free(r_gact);
}

/* Every path: the direct conv (K·Ci ≤ 256) and the GEMM conv with the epilogue, pools with and without a
 * tail no window covers, the global max, dropout after the pool, before it, or none (evaluation). */
static void convpool_shapes(void) {
    check_convpool(1, 1, 1, 1, 1, 0, 1, false, true);      /* everything 1 */
    check_convpool(1, 1, 1, 1, 1, 0, 0, true, true);
    check_convpool(2, 11, 4, 5, 3, 1, 2, false, true);     /* direct; Lo 11: a tail position */
    check_convpool(2, 11, 4, 5, 3, 1, 2, false, false);
    check_convpool(3, 13, 20, 33, 3, 2, 4, true, true);    /* direct (K·Ci 60); dropout before a pool, tail 3 */
    check_convpool(3, 13, 20, 33, 3, 2, 0, true, true);    /* direct; dropout, global max */
    check_convpool(2, 17, 40, 7, 7, 3, 3, false, true);    /* GEMM + epilogue (K·Ci 280), tail 2 */
    check_convpool(2, 17, 40, 7, 7, 3, 0, true, true);     /* GEMM + epilogue, global max */
    check_convpool(2, 17, 40, 7, 7, 3, 0, true, false);
    check_convpool(2, 17, 40, 300, 7, 3, 2, false, false); /* more channels than a block */
}

Test(backend_ops, conv1d_pool_fused, .init = setup, .fini = teardown) {
    convpool_shapes();
    if (small_only()) return;
    check_convpool(256, 101, 4, 128, 9, 0, 2, false, true);     /* CNN block 1 */
    check_convpool(256, 46, 128, 128, 5, 0, 2, false, true);    /* CNN block 2 */
    check_convpool(256, 21, 128, 128, 3, 0, 0, true, true);     /* CNN block 3 */
    check_convpool(256, 21, 128, 128, 3, 0, 0, true, false);    /* CNN block 3, evaluation */
}

/* ---- pooling and reductions over positions ---- */

static void check_pool(int B, int L, int C, int w) {
    int Lo = L / w;
    size_t nin = (size_t)B * L * C, nout = (size_t)B * Lo * C;
    float *in = rnd(nin, -1, 1, 21), *go = rnd(nout, -1, 1, 22), *ref = nan_host(nout), *gi = nan_host(nin);
    for (size_t i = 1; i < nin; i += 5) in[i] = in[i - 1];    /* ties: the first maximum wins */
    int32_t *arg = malloc(sizeof(int32_t) * (nout ? nout : 1));
    float *d_in = dev_new(in, 4 * nin), *d_out = dev_new(NULL, 4 * nout);
    int32_t *d_arg = dev_new(NULL, 4 * nout);
    g_cuda->i->maxpool_fwd(g_cuda, d_out, d_arg, d_in, B, L, C, w);
    g_ref->i->maxpool_fwd(g_ref, ref, arg, in, B, L, C, w);
    expect_f(d_out, ref, nout, TOL_EXACT, "maxpool_fwd");
    expect_bytes(d_arg, arg, 4 * nout, "maxpool_fwd argmax");
    float *d_go = dev_new(go, 4 * nout), *d_gi = dev_new(NULL, 4 * nin);
    d_arg = dev_new(arg, 4 * nout);
    g_cuda->i->maxpool_bwd(g_cuda, d_gi, d_go, d_arg, B, L, C, w);
    g_ref->i->maxpool_bwd(g_ref, gi, go, arg, B, L, C, w);
    expect_f(d_gi, gi, nin, TOL_EXACT, "maxpool_bwd");
    dev_take(d_in, NULL, 4 * nin, "in");
    dev_take(d_go, NULL, 4 * nout, "grad_out");
    dev_take(d_arg, NULL, 4 * nout, "argmax");
    free(in); free(go); free(ref); free(gi); free(arg);
}

static void check_gmax_mean(int B, int L, int C) {
    size_t nin = (size_t)B * L * C, nout = (size_t)B * C;
    float *in = rnd(nin, -1, 1, 31), *go = rnd(nout, -1, 1, 32), *ref = nan_host(nout), *gi = nan_host(nin);
    for (size_t i = C; i < nin; i += 3) in[i] = in[i - C];   /* ties along positions */
    int32_t *arg = malloc(sizeof(int32_t) * nout);
    float *d_in = dev_new(in, 4 * nin), *d_out = dev_new(NULL, 4 * nout);
    int32_t *d_arg = dev_new(NULL, 4 * nout);
    g_cuda->i->gmax_fwd(g_cuda, d_out, d_arg, d_in, B, L, C);
    g_ref->i->gmax_fwd(g_ref, ref, arg, in, B, L, C);
    expect_f(d_out, ref, nout, TOL_EXACT, "gmax_fwd");
    expect_bytes(d_arg, arg, 4 * nout, "gmax_fwd argmax");
    float *d_go = dev_new(go, 4 * nout), *d_gi = dev_new(NULL, 4 * nin);
    d_arg = dev_new(arg, 4 * nout);
    g_cuda->i->gmax_bwd(g_cuda, d_gi, d_go, d_arg, B, L, C);
    g_ref->i->gmax_bwd(g_ref, gi, go, arg, B, L, C);
    expect_f(d_gi, gi, nin, TOL_EXACT, "gmax_bwd");
    dev_take(d_arg, NULL, 4 * nout, "argmax");

    d_out = dev_new(NULL, 4 * nout);
    g_cuda->i->mean_time_fwd(g_cuda, d_out, d_in, B, L, C);
    g_ref->i->mean_time_fwd(g_ref, ref, in, B, L, C);
    expect_f(d_out, ref, nout, TOL_SUM, "mean_time_fwd");
    d_gi = dev_new(NULL, 4 * nin);
    g_cuda->i->mean_time_bwd(g_cuda, d_gi, d_go, B, L, C);
    g_ref->i->mean_time_bwd(g_ref, gi, go, B, L, C);
    expect_f(d_gi, gi, nin, TOL_ELEM, "mean_time_bwd");
    dev_take(d_in, NULL, 4 * nin, "in");
    dev_take(d_go, NULL, 4 * nout, "grad_out");
    free(in); free(go); free(ref); free(gi); free(arg);
}

Test(backend_ops, pooling, .init = setup, .fini = teardown) {
    check_pool(1, 2, 1, 2);
    check_pool(2, 7, 3, 2);       /* a trailing position no window covers */
    check_pool(3, 10, 5, 3);
    check_gmax_mean(1, 1, 1);
    check_gmax_mean(2, 7, 33);
    check_gmax_mean(3, 300, 257);
    if (small_only()) return;
    check_pool(256, 93, 128, 2);
    check_gmax_mean(256, 19, 128);
    check_gmax_mean(256, 101, 64);
}

/* ---- the LSTM ---- */

static void check_lstm(int B, int L, int D, int H, int n_dir, bool with_grad_x) {
    char what[128];
    snprintf(what, sizeof what, "B%d L%d D%d H%d dirs %d", B, L, D, H, n_dir);
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H;
    size_t nx = (size_t)B * L * D, nh = (size_t)B * L * HD, ng = (size_t)B * L * GD;
    size_t nwi = (size_t)GD * D, nwh = (size_t)n_dir * G * H;
    float s = 1.0f / sqrtf((float)(D + H));
    float *x = rnd(nx, -1, 1, 41), *wi = rnd(nwi, -s, s, 42), *wh = rnd(nwh, -s, s, 43);
    float *bi = rnd(GD, -0.5f, 0.5f, 44), *bh = rnd(GD, -0.5f, 0.5f, 45), *gh = rnd(nh, -1, 1, 46);
    float *h = nan_host(nh), *gates = nan_host(ng), *cell = nan_host(nh);
    float *d_x = dev_new(x, 4 * nx), *d_wi = dev_new(wi, 4 * nwi), *d_wh = dev_new(wh, 4 * nwh);
    float *d_bi = dev_new(bi, 4 * (size_t)GD), *d_bh = dev_new(bh, 4 * (size_t)GD);
    float *d_h = dev_new(NULL, 4 * nh), *d_gates = dev_new(NULL, 4 * ng), *d_cell = dev_new(NULL, 4 * nh);
    g_cuda->i->lstm_fwd(g_cuda, d_h, d_gates, d_cell, d_x, d_wi, d_wh, d_bi, d_bh, B, L, D, H, n_dir);
    g_ref->i->lstm_fwd(g_ref, h, gates, cell, x, wi, wh, bi, bh, B, L, D, H, n_dir);
    char w2[160];
    snprintf(w2, sizeof w2, "lstm_fwd h %s", what);
    expect_f(d_h, h, nh, TOL_SUM, w2);
    snprintf(w2, sizeof w2, "lstm_fwd gates %s", what);
    if (g_cudnn) dev_take(d_gates, NULL, 4 * ng, w2);
    else expect_f(d_gates, gates, ng, TOL_SUM, w2);
    snprintf(w2, sizeof w2, "lstm_fwd cell %s", what);
    if (g_cudnn) dev_take(d_cell, NULL, 4 * nh, w2);
    else expect_f(d_cell, cell, nh, TOL_SUM, w2);

    /* backward from the reference's saved state, so only the backward op is compared */
    float *gwi0 = rnd(nwi, -1, 1, 47), *gwh0 = rnd(nwh, -1, 1, 48), *gbi0 = rnd(GD, -1, 1, 49), *gbh0 = rnd(GD, -1, 1, 50);
    float *gwi = malloc(4 * nwi), *gwh = malloc(4 * nwh), *gbi = malloc(4 * (size_t)GD), *gbh = malloc(4 * (size_t)GD);
    memcpy(gwi, gwi0, 4 * nwi); memcpy(gwh, gwh0, 4 * nwh); memcpy(gbi, gbi0, 4 * (size_t)GD); memcpy(gbh, gbh0, 4 * (size_t)GD);
    float *gx = nan_host(nx), *gg = nan_host(ng);
    float *d_h2 = dev_new(h, 4 * nh), *d_g2 = dev_new(gates, 4 * ng), *d_c2 = dev_new(cell, 4 * nh);
    float *d_gh = dev_new(gh, 4 * nh), *d_gx = with_grad_x ? dev_new(NULL, 4 * nx) : NULL, *d_gg = dev_new(NULL, 4 * ng);
    float *d_gwi = dev_new(gwi0, 4 * nwi), *d_gwh = dev_new(gwh0, 4 * nwh);
    float *d_gbi = dev_new(gbi0, 4 * (size_t)GD), *d_gbh = dev_new(gbh0, 4 * (size_t)GD);
    g_cuda->i->lstm_bwd(g_cuda, d_gx, d_gwi, d_gwh, d_gbi, d_gbh, d_gg, d_gh, d_x, d_h2, d_g2, d_c2, d_wi, d_wh, B, L,
                        D, H, n_dir);
    g_ref->i->lstm_bwd(g_ref, with_grad_x ? gx : NULL, gwi, gwh, gbi, gbh, gg, gh, x, h, gates, cell, wi, wh, B, L, D,
                       H, n_dir);
    snprintf(w2, sizeof w2, "lstm_bwd grad_gates %s", what);
    if (g_cudnn) dev_take(d_gg, NULL, 4 * ng, w2);
    else expect_f(d_gg, gg, ng, TOL_LSTM, w2);
    snprintf(w2, sizeof w2, "lstm_bwd grad_w_ih %s", what);
    expect_f(d_gwi, gwi, nwi, TOL_LSTM, w2);
    snprintf(w2, sizeof w2, "lstm_bwd grad_w_hh %s", what);
    expect_f(d_gwh, gwh, nwh, TOL_LSTM, w2);
    snprintf(w2, sizeof w2, "lstm_bwd grad_b_ih %s", what);
    expect_f(d_gbi, gbi, GD, TOL_LSTM, w2);
    snprintf(w2, sizeof w2, "lstm_bwd grad_b_hh %s", what);
    expect_f(d_gbh, gbh, GD, TOL_LSTM, w2);
    if (d_gx) {
        snprintf(w2, sizeof w2, "lstm_bwd grad_x %s", what);
        expect_f(d_gx, gx, nx, TOL_LSTM, w2);
    }
    void *ins[] = {d_x, d_wi, d_wh, d_bi, d_bh, d_h2, d_g2, d_c2, d_gh};
    size_t sz[] = {nx, nwi, nwh, GD, GD, nh, ng, nh, nh};
    for (int k = 0; k < 9; k++) dev_take(ins[k], NULL, 4 * sz[k], "lstm input");
    float *hs[] = {x, wi, wh, bi, bh, gh, h, gates, cell, gwi0, gwh0, gbi0, gbh0, gwi, gwh, gbi, gbh, gx, gg};
    for (int k = 0; k < 19; k++) free(hs[k]);
}

Test(backend_ops, lstm, .init = setup, .fini = teardown) {
    check_lstm(1, 1, 1, 1, 1, true);
    check_lstm(2, 5, 3, 4, 2, true);
    check_lstm(3, 7, 5, 33, 2, false);      /* H not a multiple of the warp */
    check_lstm(1, 9, 2, 3, 1, true);
    if (small_only()) return;
    check_lstm(256, 101, 4, 32, 2, true);   /* RNN */
    check_lstm(64, 101, 128, 32, 2, true);  /* CNN-RNN (batch 64 keeps the reference quick) */
}

/* ---- the head, loss and optimisers ---- */

Test(backend_ops, head, .init = setup, .fini = teardown) {
    int shapes[][3] = {{1, 1, 1}, {3, 5, 2}, {5, 70, 3}, {256, 128, 2}, {256, 64, 2}};
    for (int si = 0; si < 5; si++) {
        int B = shapes[si][0], Ci = shapes[si][1], Co = shapes[si][2];
        size_t nin = (size_t)B * Ci, nw = (size_t)Co * Ci, nout = (size_t)B * Co;
        float *in = rnd(nin, -1, 1, 51), *w = rnd(nw, -1, 1, 52), *b = rnd(Co, -1, 1, 53), *go = rnd(nout, -1, 1, 54);
        float *gw = rnd(nw, -1, 1, 55), *gb = rnd(Co, -1, 1, 56), *ref = nan_host(nout), *gi = nan_host(nin);
        float *d_in = dev_new(in, 4 * nin), *d_w = dev_new(w, 4 * nw), *d_b = dev_new(b, 4 * (size_t)Co);
        float *d_out = dev_new(NULL, 4 * nout), *d_go = dev_new(go, 4 * nout), *d_gi = dev_new(NULL, 4 * nin);
        float *d_gw = dev_new(gw, 4 * nw), *d_gb = dev_new(gb, 4 * (size_t)Co);
        g_cuda->i->dense_fwd(g_cuda, d_out, d_in, d_w, d_b, B, Ci, Co);
        g_ref->i->dense_fwd(g_ref, ref, in, w, b, B, Ci, Co);
        expect_f(d_out, ref, nout, TOL_SUM, "dense_fwd");
        g_cuda->i->dense_bwd(g_cuda, d_gi, d_gw, d_gb, d_go, d_in, d_w, B, Ci, Co);
        g_ref->i->dense_bwd(g_ref, gi, gw, gb, go, in, w, B, Ci, Co);
        expect_f(d_gi, gi, nin, TOL_SUM, "dense_bwd grad_in");
        expect_f(d_gw, gw, nw, TOL_SUM, "dense_bwd grad_w");
        expect_f(d_gb, gb, Co, TOL_SUM, "dense_bwd grad_b");

        /* log-softmax over Co classes; the NLL for 2 classes */
        float *lp = nan_host(nout), *glog = nan_host(nout);
        float *d_lg = dev_new(in, 4 * nout), *d_lp = dev_new(NULL, 4 * nout);
        g_cuda->i->logsoftmax_fwd(g_cuda, d_lp, d_lg, B, Co);
        g_ref->i->logsoftmax_fwd(g_ref, lp, in, B, Co);
        expect_f(d_lp, lp, nout, TOL_ELEM, "logsoftmax_fwd");
        float *d_lp2 = dev_new(lp, 4 * nout), *d_glog = dev_new(NULL, 4 * nout);
        g_cuda->i->logsoftmax_bwd(g_cuda, d_glog, d_go, d_lp2, B, Co);
        g_ref->i->logsoftmax_bwd(g_ref, glog, go, lp, B, Co);
        expect_f(d_glog, glog, nout, TOL_ELEM, "logsoftmax_bwd");
        if (Co == 2) {
            int8_t *lab = malloc(B);
            for (int r = 0; r < B; r++) lab[r] = (int8_t)(r % 3 != 1);
            float *loss = nan_host(B), *gl = nan_host(nout);
            int8_t *d_lab = dev_new(lab, B);
            float *d_loss = dev_new(NULL, 4 * (size_t)B), *d_gl = dev_new(NULL, 4 * nout);
            g_cuda->i->nll(g_cuda, d_loss, d_gl, d_lp2, d_lab, B, 1.0f / B);
            g_ref->i->nll(g_ref, loss, gl, lp, lab, B, 1.0f / B);
            expect_f(d_loss, loss, B, TOL_EXACT, "nll loss");
            expect_f(d_gl, gl, nout, TOL_EXACT, "nll grad");
            dev_take(d_lab, NULL, B, "labels");
            free(lab); free(loss); free(gl);
        }
        void *ds[] = {d_in, d_w, d_b, d_go, d_lg, d_lp2};
        size_t sz[] = {nin, nw, Co, nout, nout, nout};
        for (int k = 0; k < 6; k++) dev_take(ds[k], NULL, 4 * sz[k], "head input");
        float *hs[] = {in, w, b, go, gw, gb, ref, gi, lp, glog};
        for (int k = 0; k < 10; k++) free(hs[k]);
    }
}

/* The fused head (head_fwd, head_bwd) against the unfused ops of the reference backend in sequence, with
 * the NLL fused (labels) and with a given log-probability gradient. Tolerances: the logits are sums of
 * Ci float products (TOL_SUM), and the log-probabilities, losses and gradients are a few float operations
 * on them (TOL_SUM too); the parameter gradients sum over the B rows (tol_sum(B)). */
static void check_head_fused(int B, int Ci, int Co, bool nll) {
    char what[96];
    size_t nin = (size_t)B * Ci, nw = (size_t)Co * Ci, nout = (size_t)B * Co;
    float *in = rnd(nin, -1, 1, 61), *w = rnd(nw, -1, 1, 62), *b = rnd(Co, -1, 1, 63), *glp = rnd(nout, -1, 1, 64);
    float *gw = rnd(nw, -1, 1, 65), *gb = rnd(Co, -1, 1, 66), *z = nan_host(nout), *lp = nan_host(nout);
    float *gz = nan_host(nout), *gi = nan_host(nin), *loss = nan_host(B);
    int8_t *lab = malloc(B);
    for (int r = 0; r < B; r++) lab[r] = (int8_t)(r % 3 != 1);
    float *d_in = dev_new(in, 4 * nin), *d_w = dev_new(w, 4 * nw), *d_b = dev_new(b, 4 * (size_t)Co);
    float *d_z = dev_new(NULL, 4 * nout), *d_lp = dev_new(NULL, 4 * nout), *d_gz = dev_new(NULL, 4 * nout);
    float *d_glp = dev_new(nll ? NULL : glp, 4 * nout), *d_gi = dev_new(NULL, 4 * nin);
    float *d_gw = dev_new(gw, 4 * nw), *d_gb = dev_new(gb, 4 * (size_t)Co), *d_loss = dev_new(NULL, 4 * (size_t)B);
    int8_t *d_lab = dev_new(lab, B);
    g_cuda->i->head_fwd(g_cuda, d_lp, d_z, d_in, d_w, d_b, B, Ci, Co);
    g_cuda->i->head_bwd(g_cuda, d_gi, d_gw, d_gb, d_gz, d_loss, d_glp, d_lp, nll ? d_lab : NULL, 1.0f / B, d_in, d_w,
                        B, Ci, Co);
    g_ref->i->dense_fwd(g_ref, z, in, w, b, B, Ci, Co);
    g_ref->i->logsoftmax_fwd(g_ref, lp, z, B, Co);
    if (nll) g_ref->i->nll(g_ref, loss, glp, lp, lab, B, 1.0f / B);
    g_ref->i->logsoftmax_bwd(g_ref, gz, glp, lp, B, Co);
    g_ref->i->dense_bwd(g_ref, gi, gw, gb, gz, in, w, B, Ci, Co);
    snprintf(what, sizeof what, "head fused B%d Ci%d Co%d%s", B, Ci, Co, nll ? " nll" : "");
    expect_f(d_z, z, nout, TOL_SUM, what);
    expect_f(d_lp, lp, nout, TOL_SUM, what);
    expect_f(d_gz, gz, nout, TOL_SUM, what);
    expect_f(d_gi, gi, nin, TOL_SUM, what);
    expect_f(d_gw, gw, nw, tol_sum(B), what);
    expect_f(d_gb, gb, Co, tol_sum(B), what);
    expect_f(d_glp, glp, nout, TOL_EXACT, what);            /* −1/B or 0 (nll), else untouched */
    if (nll) expect_f(d_loss, loss, B, TOL_SUM, what);
    else dev_take(d_loss, NULL, 4 * (size_t)B, "loss (unused)");
    dev_take(d_lab, NULL, B, "labels");
    void *ds[] = {d_in, d_w, d_b};
    size_t sz[] = {nin, nw, Co};
    for (int k = 0; k < 3; k++) dev_take(ds[k], NULL, 4 * sz[k], "head input");
    float *hs[] = {in, w, b, glp, gw, gb, z, lp, gz, gi, loss};
    for (int k = 0; k < 11; k++) free(hs[k]);
    free(lab);
}

Test(backend_ops, head_fused, .init = setup, .fini = teardown) {
    int shapes[][3] = {{1, 1, 2}, {3, 5, 2}, {5, 70, 3}, {4, 6, 9}, {256, 128, 2}, {256, 64, 2}};
    for (int si = 0; si < 6; si++) {
        int B = shapes[si][0], Ci = shapes[si][1], Co = shapes[si][2];
        check_head_fused(B, Ci, Co, false);      /* {4, 6, 9}: wider than the fused kernel, the unfused pair */
        if (Co == 2) check_head_fused(B, Ci, Co, true);
    }
}

Test(backend_ops, lerp_axpy, .init = setup, .fini = teardown) {
    int64_t sizes[] = {1, 255, 257, 256LL * 101 * 4};
    for (int si = 0; si < 4; si++) {
        int64_t n = sizes[si];
        float *a = rnd(n, -1, 1, 81), *b = rnd(n, -1, 1, 82), *y = rnd(n, -1, 1, 83), *ref = nan_host(n);
        float *d_a = dev_new(a, 4 * n), *d_b = dev_new(b, 4 * n), *d_out = dev_new(NULL, 4 * n);
        g_cuda->i->lerp(g_cuda, d_out, d_a, d_b, 0.3f, n);
        g_ref->i->lerp(g_ref, ref, a, b, 0.3f, n);
        expect_f(d_out, ref, n, TOL_ELEM, "lerp");
        float *d_y = dev_new(y, 4 * n);
        g_cuda->i->axpy(g_cuda, d_y, d_b, -1.5f, n);
        g_ref->i->axpy(g_ref, y, b, -1.5f, n);
        expect_f(d_y, y, n, TOL_ELEM, "axpy");
        dev_take(d_a, NULL, 4 * n, "lerp a");
        dev_take(d_b, NULL, 4 * n, "lerp b");
        free(a); free(b); free(y); free(ref);
    }
}

Test(backend_ops, adam_and_input_optimisation, .init = setup, .fini = teardown) {
    int64_t sizes[] = {1, 1000, 136322};
    for (int si = 0; si < 3; si++) {
        int64_t n = sizes[si];
        float *p = rnd(n, -1, 1, 61), *g = rnd(n, -8, 8, 62), *m = rnd(n, -1, 1, 63), *v = rnd(n, 0, 1, 64);
        float *d_p = dev_new(p, 4 * n), *d_g = dev_new(g, 4 * n), *d_m = dev_new(m, 4 * n), *d_v = dev_new(v, 4 * n);
        g_cuda->i->adam(g_cuda, d_p, d_g, d_m, d_v, n, 0.003f, 0.9f, 0.999f, 1e-8f, 5.0f);
        g_ref->i->adam(g_ref, p, g, m, v, n, 0.003f, 0.9f, 0.999f, 1e-8f, 5.0f);
        expect_f(d_p, p, n, TOL_ELEM, "adam param");
        expect_f(d_m, m, n, TOL_ELEM, "adam m");
        expect_f(d_v, v, n, TOL_ELEM, "adam v");
        dev_take(d_g, NULL, 4 * n, "adam grad");
        free(p); free(g); free(m); free(v);
    }
    {   /* a NaN gradient stays NaN through the clip on both (fminf/fmaxf would make it ±clip and hide a
         * divergence from the epoch-end weight check): param, m and v are NaN there; ±Inf is clipped
         * to ±5 like any large gradient; every other element as above */
        int64_t n = 1000, bad = 417;
        float *p = rnd(n, -1, 1, 65), *g = rnd(n, -8, 8, 66), *m = rnd(n, -1, 1, 67), *v = rnd(n, 0, 1, 68);
        g[bad] = NAN;
        g[bad + 1] = INFINITY;
        g[bad + 2] = -INFINITY;
        float *d_p = dev_new(p, 4 * n), *d_g = dev_new(g, 4 * n), *d_m = dev_new(m, 4 * n), *d_v = dev_new(v, 4 * n);
        g_cuda->i->adam(g_cuda, d_p, d_g, d_m, d_v, n, 0.003f, 0.9f, 0.999f, 1e-8f, 5.0f);
        g_ref->i->adam(g_ref, p, g, m, v, n, 0.003f, 0.9f, 0.999f, 1e-8f, 5.0f);
        float *refs[3] = {p, m, v}, *devs[3] = {d_p, d_m, d_v};
        const char *what[3] = {"adam param", "adam m", "adam v"};
        for (int k = 0; k < 3; k++) {
            float *got = malloc(4 * (size_t)n);
            dev_take(devs[k], got, 4 * (size_t)n, what[k]);
            cr_expect(isnan(got[bad]) && isnan(refs[k][bad]), "%s at the NaN gradient: cuda %g, reference %g",
                      what[k], got[bad], refs[k][bad]);
            got[bad] = refs[k][bad] = 0.0f;
            size_t worst = 0;
            double e = dm_test_max_err(got, refs[k], (size_t)n, TOL_ELEM.atol, TOL_ELEM.rtol, &worst);
            cr_expect(e <= 1.0, "%s beside a NaN gradient: element %zu is %.9g, reference %.9g", what[k], worst,
                      got[worst], refs[k][worst]);
            free(got);
        }
        dev_take(d_g, NULL, 4 * n, "adam grad");
        free(p); free(g); free(m); free(v);
    }
    int Rs[] = {1, 3, 16};
    for (int ri = 0; ri < 3; ri++)
        for (int sm = 0; sm < 2; sm++) {
            int R = Rs[ri], L = 101, n = 4 * L;
            size_t N = (size_t)R * n;
            float *z = rnd(N, -2, 2, 71), *x = nan_host(N), *g = rnd(N, -1, 1, 72), *v = rnd(N, 0, 0.1f, 73);
            float *lp = rnd(2 * (size_t)R, -80, 0, 74), *obj = nan_host(R);
            float *d_z = dev_new(z, 4 * N), *d_x = dev_new(NULL, 4 * N);
            g_cuda->i->optin_project(g_cuda, d_x, d_z, (int64_t)R * L, sm);
            g_ref->i->optin_project(g_ref, x, z, (int64_t)R * L, sm);
            expect_f(d_x, x, N, TOL_ELEM, "optin_project");
            float *d_g = dev_new(g, 4 * N), *d_lp = dev_new(lp, 8 * (size_t)R), *d_obj = dev_new(NULL, 4 * (size_t)R);
            d_x = dev_new(x, 4 * N);
            g_cuda->i->optin_objective(g_cuda, d_obj, d_g, d_x, d_lp, R, n, 0.009f);
            g_ref->i->optin_objective(g_ref, obj, g, x, lp, R, n, 0.009f);
            expect_f(d_obj, obj, R, TOL_SUM, "optin_objective");
            float *d_v = dev_new(v, 4 * N);
            g_cuda->i->optin_rmsprop(g_cuda, d_z, d_v, d_g, d_x, (int64_t)R * L, 0.05f, 0.99f, 1e-8f, sm);
            g_ref->i->optin_rmsprop(g_ref, z, v, g, x, (int64_t)R * L, 0.05f, 0.99f, 1e-8f, sm);
            expect_f(d_g, g, N, TOL_ELEM, "optin_objective grad");
            expect_f(d_z, z, N, TOL_ELEM, "optin_rmsprop z");
            expect_f(d_v, v, N, TOL_ELEM, "optin_rmsprop v");
            dev_take(d_x, NULL, 4 * N, "x");
            dev_take(d_lp, NULL, 8 * (size_t)R, "logprob");
            free(z); free(x); free(g); free(v); free(lp); free(obj);
        }
}

/* ---- the cuDNN alternative (builds with cuDNN, on a real GPU) ---- */

Test(backend_ops, cudnn_conv1d_lstm, .init = setup, .fini = teardown) {
    if (dm_backend_cuda_cudnn(g_cuda) != DM_STATUS_OK) cr_skip_test("no cuDNN path: %s", dm_last_error());
    g_cudnn = true;
    check_conv(1, 1, 1, 1, 1, 0, true);
    check_conv(2, 11, 4, 5, 3, 1, true);
    check_conv(2, 17, 40, 7, 7, 3, true);
    check_lstm(2, 5, 3, 4, 2, true);
    check_lstm(3, 7, 5, 33, 1, true);
    convpool_shapes();                            /* the fused block's conv through cuDNN, then its kernel */
    if (small_only()) return;
    check_conv(256, 101, 4, 128, 9, 0, true);
    check_conv(256, 46, 128, 128, 5, 0, true);
    check_lstm(256, 101, 4, 32, 2, true);
    check_lstm(64, 101, 128, 32, 2, true);
}

/* ---- in-silico mutagenesis: variants, class scores, differences (host/sal_dev.c) ---- */

/* Naive one-hot of a code (SPEC.md §1), written out rather than taken from dm_pack.h. */
static float naive_onehot(uint8_t code, int c, bool q) {
    if (code < 4) return code == c ? 1.0f : 0.0f;
    return code == DM_BASE_N && q ? 0.25f : 0.0f;
}

Test(backend_ops, ism_variants_collect_reduce, .init = setup, .fini = teardown) {
    int shapes[][3] = {{1, 1, 4}, {3, 13, 52}, {2, 101, 300}};   /* B rows, L, variants per call (≤ 4L) */
    uint64_t seed = dm_test_seed();
    for (int si = 0; si < 3; si++) {
        int B = shapes[si][0], L = shapes[si][1], nvar = 4 * L, chunk = shapes[si][2], rb = dm_pack_row_bytes(L);
        uint8_t *codes = malloc((size_t)B * L), *packed = malloc((size_t)B * rb);
        for (size_t i = 0; i < (size_t)B * L; i++) codes[i] = (uint8_t)((i * 2654435761u + seed) % 11 % 6);
        if (B > 1)   /* a row without any base: its reference is its own score */
            for (int l = 0; l < L; l++) codes[(size_t)L + l] = l % 2 ? DM_BASE_N : DM_BASE_PAD;
        for (int b = 0; b < B; b++) dm_pack_row(packed + (size_t)b * rb, codes + (size_t)b * L, L);
        uint8_t *d_packed = dev_new(packed, (size_t)B * rb);
        for (int q = 0; q < 2; q++)
            for (int b = 0; b < B; b++)
                for (int v0 = 0; v0 < nvar; v0 += chunk) {
                    int nv = nvar - v0 < chunk ? nvar - v0 : chunk;
                    size_t nx = (size_t)nv * L * 4;
                    float *ref = nan_host(nx), *naive = nan_host(nx), *d_x = dev_new(NULL, 4 * nx);
                    g_cuda->i->ism_variants(g_cuda, d_x, d_packed + (size_t)b * rb, v0, nv, L, q);
                    g_ref->i->ism_variants(g_ref, ref, packed + (size_t)b * rb, v0, nv, L, q);
                    for (int j = 0; j < nv; j++)
                        for (int l = 0; l < L; l++)
                            for (int c = 0; c < 4; c++)
                                naive[((size_t)j * L + l) * 4 + c] =
                                    l == (v0 + j) / 4 ? (float)(c == (v0 + j) % 4) : naive_onehot(codes[(size_t)b * L + l], c, q);
                    cr_expect(memcmp(ref, naive, 4 * nx) == 0, "ism_variants: the CPU differs from the definition (row %d, v0 %d)", b, v0);
                    expect_f(d_x, ref, nx, TOL_EXACT, "ism_variants");
                    free(ref); free(naive);
                }
        /* collect: the class column of nv log-probability rows */
        int nv = nvar;
        float *lp = rnd(2 * (size_t)nv, -5, 0, 91), *out = nan_host(nv);
        float *d_lp = dev_new(lp, sizeof(float) * 2 * nv);
        for (int cls = 0; cls < 2; cls++) {
            float *d_out = dev_new(NULL, sizeof(float) * nv);
            g_cuda->i->ism_collect(g_cuda, d_out, d_lp, cls, nv);
            g_ref->i->ism_collect(g_ref, out, lp, cls, nv);
            for (int j = 0; j < nv; j++) cr_expect(out[j] == lp[2 * j + cls], "ism_collect: the CPU's element %d", j);
            expect_f(d_out, out, nv, TOL_EXACT, "ism_collect");
        }
        /* reduce: differences to the first present base's unchanged variant (or the row's own score) */
        size_t ns = (size_t)B * (nvar + 1);
        float *sc = rnd(ns, -5, 0, 92), *attr = nan_host((size_t)B * nvar), *p = nan_host(B);
        int8_t *cls = malloc(B);
        for (int b = 0; b < B; b++) cls[b] = (int8_t)(b % 2);
        float *d_sc = dev_new(sc, sizeof(float) * ns), *d_attr = dev_new(NULL, sizeof(float) * B * nvar);
        float *d_p = dev_new(NULL, sizeof(float) * B);
        int8_t *d_cls = dev_new(cls, B);
        g_cuda->i->ism_reduce(g_cuda, d_attr, d_p, d_sc, d_packed, d_cls, B, L);
        g_ref->i->ism_reduce(g_ref, attr, p, sc, packed, cls, B, L);
        for (int b = 0; b < B; b++) {
            const float *s = sc + (size_t)b * (nvar + 1);
            double r = s[nvar];
            for (int l = L - 1; l >= 0; l--)   /* the first base, searched from the end */
                if (codes[(size_t)b * L + l] < 4) r = s[4 * l + codes[(size_t)b * L + l]];
            for (int v = 0; v < nvar; v++)
                cr_expect(attr[(size_t)b * nvar + v] == (float)(s[v] - r), "ism_reduce: the CPU's row %d variant %d", b, v);
            float pr = cls[b] == 0 ? expf((float)r) : 1.0f - expf((float)r);
            cr_expect(p[b] == pr, "ism_reduce: the CPU's P(pos) of row %d", b);
        }
        expect_f(d_attr, attr, (size_t)B * nvar, TOL_EXACT, "ism_reduce attr");   /* one rounding of a double difference */
        expect_f(d_p, p, B, TOL_ELEM, "ism_reduce p_pos");                        /* the device's expf (≤ 2 ulp) */
        dev_take(d_sc, NULL, sizeof(float) * ns, "ism scores");
        dev_take(d_cls, NULL, B, "ism cls");
        dev_take(d_lp, NULL, sizeof(float) * 2 * nv, "ism logprob");
        dev_take(d_packed, NULL, (size_t)B * rb, "ism packed");
        free(codes); free(packed); free(lp); free(out); free(sc); free(attr); free(p); free(cls);
    }
}

/* ism_window (fast ISM's gather): against its definition on the CPU, then the device against the CPU;
 * starts that run off both ends (zeros) and windows at both ends, chunks of variants from v0 > 0. */
Test(backend_ops, ism_window, .init = setup, .fini = teardown) {
    int L = 11, Li = 9, C = 3, Wi = 4, Wo = 7, v0 = 6, nv = 4 * L - v0;
    int32_t starts[2 * 11];
    for (int p = 0; p < L; p++) {
        starts[2 * p] = p - 3;                              /* −3 .. 7: some gathers run past 0 and Li */
        starts[2 * p + 1] = p < Li - Wi ? p : Li - Wi;      /* windows clamped at the end */
    }
    float *ref = rnd((size_t)Li * C, -1, 1, 93), *win = rnd((size_t)nv * Wi * C, 2, 3, 94);
    size_t no = (size_t)nv * Wo * C;
    float *out = nan_host(no), *naive = nan_host(no);
    g_ref->i->ism_window(g_ref, out, ref, win, starts, v0, nv, Wo, Wi, Li, C);
    for (int j = 0; j < nv; j++)
        for (int q = 0; q < Wo; q++)
            for (int c = 0; c < C; c++) {
                int p0 = (v0 + j) / 4, p = starts[2 * p0] + q, s = starts[2 * p0 + 1];
                naive[((size_t)j * Wo + q) * C + c] = p < 0 || p >= Li ? 0.0f
                                                      : p >= s && p < s + Wi ? win[((size_t)j * Wi + p - s) * C + c]
                                                                             : ref[(size_t)p * C + c];
            }
    cr_expect(memcmp(out, naive, sizeof(float) * no) == 0, "ism_window: the CPU differs from the definition");
    float *d_ref = dev_new(ref, sizeof(float) * Li * C), *d_win = dev_new(win, sizeof(float) * nv * Wi * C);
    int32_t *d_starts = dev_new(starts, sizeof starts);
    float *d_out = dev_new(NULL, sizeof(float) * no);
    g_cuda->i->ism_window(g_cuda, d_out, d_ref, d_win, d_starts, v0, nv, Wo, Wi, Li, C);
    expect_f(d_out, out, no, TOL_EXACT, "ism_window");   /* a copy */
    dev_take(d_ref, NULL, sizeof(float) * Li * C, "ism_window ref");
    dev_take(d_win, NULL, sizeof(float) * nv * Wi * C, "ism_window win");
    dev_take(d_starts, NULL, sizeof starts, "ism_window starts");
    free(ref); free(win); free(out); free(naive);
}
