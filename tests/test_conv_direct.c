/*
 * test_conv_direct.c: the fast CPU backend's convolution forward (conv1d_fwd, conv1d_relu_fwd), whose
 * AVX2 / AVX-512 levels take the direct way (kernels/cpu/conv1d_direct.c, no im2col) and whose portable
 * level, and DM_CONV_FWD=im2col, take im2col + GEMM (kernels/cpu/conv1d.c). At every ISA level this CPU
 * has, for the CNN's and CNN-RNN's shapes and odd ones (Co not a multiple of the 16- or 32-channel block,
 * Lo not a multiple of the 6- or 12-position tile, B = 1, padding (K − 1) / 2 and wider than the interior,
 * Li < K, K = 1, one-hot input with N rows):
 *  - every output within the float summation bound of the double-precision sum;
 *  - the direct way exactly the order its header promises: bias, then fmaf over the taps inside the
 *    sequence in increasing (k, c), zero inputs skipped where Ci ≤ 8 (the sparse-input way), bit for bit
 *    (so a broken tile, store mask, edge range or entry list fails here); some biases are −0, where
 *    skipping a zero input and adding its +0 product differ;
 *  - the direct way bit for bit the same at 1, 2 and 3 threads and each sequence alone the same as in its
 *    batch (the GEMM way's sums depend on its chunk's row count: within the bound only); conv1d_relu_fwd
 *    the ReLU of conv1d_fwd at the same thread count, both ways;
 *  - AVX2 and AVX-512 bit for bit the same (both direct);
 *  - DM_CONV_FWD=im2col (the GEMM way) within the same bound;
 *  - conv1d_pool_noact (conv → ReLU → pool in one op, no activation written) bit for bit conv1d_relu_fwd +
 *    the pool, output and argmax.
 * The forward reference itself is checked against finite differences in test_ops.c.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "dm_rng.h"
#include "testutil.h"

int dm_cpu_isa_force(int level);
int dm_cpu_isa_supported(void);
const char *dm_cpu_isa_name(int level);
bool dm_cpu_conv1d_direct_on(void);

#define U 5.9604644775390625e-8 /* 2⁻²⁴, the unit roundoff of float */
#define SPARSE_CI 8   /* conv1d_direct.c's DIRECT_SPARSE_CI: up to it, zero inputs are skipped */

typedef struct {
    int B, Li, Ci, Co, K, pad;
    bool onehot;   /* one-hot rows (with all-zero N rows and 0.25 rows) instead of uniform values */
} shape;

static const shape shapes[] = {
    {3, 101, 4, 128, 9, 0, true},    /* CNN conv1 (Lo 93 = 7·12 + 9) */
    {3, 46, 128, 128, 5, 0, false},  /* CNN conv2 (Lo 42) */
    {2, 21, 128, 128, 3, 0, false},  /* CNN conv3 (Lo 19) */
    {2, 101, 4, 128, 9, 4, true},    /* CNN-RNN conv: pad (K − 1) / 2 on one-hot input */
    {1, 13, 5, 40, 3, 1, false},     /* B = 1, Co 40: a partial block at both widths */
    {3, 30, 7, 7, 5, 2, false},      /* Co < 8 */
    {2, 25, 3, 33, 9, 4, false},     /* Co 33: one lane in the last block */
    {1, 5, 2, 3, 5, 2, false},       /* padding as wide as the interior: every position an edge */
    {2, 3, 4, 20, 9, 4, false},      /* Li < K: no position sees all taps */
    {1, 1, 1, 1, 1, 0, false},
    {4, 17, 16, 48, 1, 0, false},    /* K = 1 */
    {2, 40, 4, 17, 9, 4, true},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof *shapes))

typedef struct {
    shape s;
    int Lo;
    size_t nin, nw, nout;
    float *in, *w, *b;
    double *want, *mag;   /* the double sum and Σ |terms| (|bias| + Σ |w·x|) per output */
    float *order;         /* the direct way's order in float: bias, then fmaf over the taps inside */
} conv_case;

static float *fvec(size_t n) {
    float *v = calloc(n ? n : 1, sizeof(float));
    cr_assert(v);
    return v;
}

static conv_case make_case(const shape *s, uint64_t seed) {
    conv_case c = {.s = *s, .Lo = s->Li + 2 * s->pad - s->K + 1};
    c.nin = (size_t)s->B * s->Li * s->Ci;
    c.nw = (size_t)s->Co * s->K * s->Ci;
    c.nout = (size_t)s->B * c.Lo * s->Co;
    c.in = fvec(c.nin), c.w = fvec(c.nw), c.b = fvec((size_t)s->Co);
    c.want = calloc(c.nout, sizeof(double)), c.mag = calloc(c.nout, sizeof(double));
    c.order = fvec(c.nout);
    cr_assert(c.want && c.mag);
    dm_rng r;
    dm_rng_init(&r, seed, 0, 0);
    for (size_t i = 0; i < c.nw; i++) c.w[i] = (float)dm_rng_uniform(&r) - 0.5f;
    for (int i = 0; i < s->Co; i++) c.b[i] = i % 11 == 3 ? -0.0f : (float)dm_rng_uniform(&r) - 0.5f;   /* some −0 */
    for (size_t p = 0; p < c.nin / (size_t)s->Ci; p++) {
        float *row = c.in + p * (size_t)s->Ci;
        if (s->onehot) {
            uint32_t k = dm_rng_below(&r, 6);   /* 0-3 a base, 4 N (all zero), 5 the 0.25 coding of N */
            for (int ch = 0; ch < s->Ci; ch++) row[ch] = k < 4 ? (ch == (int)k ? 1.0f : 0.0f) : k == 5 ? 0.25f : 0.0f;
        } else {
            for (int ch = 0; ch < s->Ci; ch++) row[ch] = dm_rng_below(&r, 9) == 0 ? 0.0f : (float)dm_rng_uniform(&r) * 2 - 1;
        }
    }
    int Li = s->Li, Ci = s->Ci, Co = s->Co, K = s->K, pad = s->pad;
    for (int n = 0; n < s->B; n++)
        for (int l = 0; l < c.Lo; l++)
            for (int o = 0; o < Co; o++) {
                double sum = c.b[o], mag = fabs((double)c.b[o]);
                float acc = c.b[o];
                for (int k = 0; k < K; k++) {
                    int p = l + k - pad;
                    if (p < 0 || p >= Li) continue;
                    for (int ch = 0; ch < Ci; ch++) {
                        float wv = c.w[((size_t)o * K + k) * Ci + ch], xv = c.in[((size_t)n * Li + p) * Ci + ch];
                        sum += (double)wv * xv;
                        mag += fabs((double)wv * xv);
                        if (Ci > SPARSE_CI || xv != 0.0f) acc = fmaf(xv, wv, acc);
                    }
                }
                size_t i = ((size_t)n * c.Lo + l) * Co + o;
                c.want[i] = sum, c.mag[i] = mag, c.order[i] = acc;
            }
    return c;
}

static void free_case(conv_case *c) {
    free(c->in), free(c->w), free(c->b), free(c->want), free(c->mag), free(c->order);
}

static void run(dm_backend *be, float *out, const conv_case *c, bool relu, int b0, int nb) {
    const shape *s = &c->s;
    const float *in = c->in + (size_t)b0 * s->Li * s->Ci;
    float *o = out + (size_t)b0 * c->Lo * s->Co;
    if (relu) be->i->conv1d_relu_fwd(be, o, in, c->w, c->b, nb, s->Li, s->Ci, s->Co, s->K, s->pad);
    else be->i->conv1d_fwd(be, o, in, c->w, c->b, nb, s->Li, s->Ci, s->Co, s->K, s->pad);
    cr_assert(dm_backend_status(be) == DM_STATUS_OK, "%s", dm_last_error());
}

/* every output within the bound of the double sum: a float sum of n = K·Ci + 1 terms in any order (FMA or
 * not) is within γ_n · Σ |terms| of the exact one, γ_n = n·u / (1 − n·u) < (n + 1)·u here; one more u for
 * the double sum's own rounding (|error| ≤ 2⁻⁵³ · n · Σ |terms|, far below u). Products of floats in
 * [−1, 1] do not underflow to subnormals here, so no absolute term is needed. */
static void expect_bound(const conv_case *c, const float *got, const char *what) {
    double n = (double)c->s.K * c->s.Ci + 1;
    int bad = 0;
    for (size_t i = 0; i < c->nout; i++) {
        double err = fabs((double)got[i] - c->want[i]), bound = (n + 2) * U * c->mag[i];
        if (!(err <= bound) && bad++ < 3)
            cr_expect(false, "%s: output %zu: %.9g, double sum %.9g, |error| %.3g > bound %.3g", what, i,
                      (double)got[i], c->want[i], err, bound);
    }
    cr_expect(bad == 0, "%s: %d outputs outside the bound", what, bad);
}

static void what_of(char *buf, size_t n, const conv_case *c, int level, const char *way, int nt, bool relu) {
    const shape *s = &c->s;
    snprintf(buf, n, "%s %s %s, %d thread(s), B%d Li%d Ci%d Co%d K%d pad%d%s", dm_cpu_isa_name(level), way,
             relu ? "conv1d_relu_fwd" : "conv1d_fwd", nt, s->B, s->Li, s->Ci, s->Co, s->K, s->pad,
             s->onehot ? " one-hot" : "");
}

Test(conv_direct, every_level_against_the_reference) {
    dm_backend *be[4] = {NULL, dm_backend_cpu_create(1), dm_backend_cpu_create(2), dm_backend_cpu_create(3)};
    int top = dm_cpu_isa_supported();
    for (int si = 0; si < N_SHAPES; si++) {
        conv_case c = make_case(&shapes[si], 1000 + (uint64_t)si);
        float *got = fvec(c.nout), *first = fvec(c.nout), *alone = fvec(c.nout), *plain = fvec(c.nout);
        float *direct512 = NULL;
        for (int level = top; level >= 0; level--) {
            cr_assert_eq(dm_cpu_isa_force(level), level);
            for (int im2col = 0; im2col < 2; im2col++) {
                if (im2col) setenv("DM_CONV_FWD", "im2col", 1);
                else unsetenv("DM_CONV_FWD");
                bool direct = dm_cpu_conv1d_direct_on();
                cr_expect_eq(direct, !im2col && level >= 1, "%s: the direct way %s", dm_cpu_isa_name(level),
                             direct ? "runs" : "does not run");
                for (int nt = 1; nt <= 3; nt++)
                    for (int relu = 0; relu < 2; relu++) {
                        char what[200];
                        what_of(what, sizeof what, &c, level, direct ? "direct" : "im2col", nt, relu);
                        memset(got, 0xff, sizeof(float) * c.nout);   /* NaN: an output never written fails */
                        run(be[nt], got, &c, relu, 0, c.s.B);
                        if (!relu) {
                            expect_bound(&c, got, what);
                            memcpy(plain, got, sizeof(float) * c.nout);
                        } else {
                            for (size_t i = 0; i < c.nout; i++) plain[i] = plain[i] > 0.0f ? plain[i] : 0.0f;
                            cr_expect(memcmp(got, plain, sizeof(float) * c.nout) == 0,
                                      "%s: not the ReLU of conv1d_fwd bit for bit", what);
                        }
                        if (direct && !relu) {
                            int bad = 0;
                            for (size_t i = 0; i < c.nout; i++) bad += memcmp(&got[i], &c.order[i], sizeof(float)) != 0;
                            cr_expect(bad == 0, "%s: %d outputs differ from bias + fmaf in (k, c) order", what, bad);
                        }
                        if (nt == 1 && !relu) {
                            memcpy(first, got, sizeof(float) * c.nout);
                            /* each sequence alone, as a batch of one */
                            memset(alone, 0xff, sizeof(float) * c.nout);
                            for (int b = 0; b < c.s.B; b++) run(be[1], alone, &c, relu, b, 1);
                            if (direct)
                                cr_expect(memcmp(alone, got, sizeof(float) * c.nout) == 0,
                                          "%s: a sequence alone differs from the same in its batch", what);
                            else   /* the GEMM's sums may depend on its row count */
                                expect_bound(&c, alone, what);
                        } else if (direct && !relu) {   /* the GEMM's sums depend on the chunk's row count */
                            cr_expect(memcmp(got, first, sizeof(float) * c.nout) == 0,
                                      "%s: differs from 1 thread", what);
                        }
                    }
                if (direct && level == 2) {
                    direct512 = fvec(c.nout);
                    run(be[1], direct512, &c, false, 0, c.s.B);
                } else if (direct && direct512) {
                    run(be[1], got, &c, false, 0, c.s.B);
                    cr_expect(memcmp(got, direct512, sizeof(float) * c.nout) == 0,
                              "shape %d: AVX2 and AVX-512 direct ways differ", si);
                }
            }
        }
        unsetenv("DM_CONV_FWD");
        dm_cpu_isa_force(-1);
        free(got), free(first), free(alone), free(plain), free(direct512);
        free_case(&c);
    }
    for (int t = 1; t < 4; t++) dm_backend_free(be[t]);
}

/* conv1d_pool_noact (conv → ReLU → pool, the activation never written on the direct way): output and argmax
 * bit for bit those of conv1d_relu_fwd then maxpool_fwd (widths 2 and 3, Lo not a multiple of them) or
 * gmax_fwd, at every level, with and without DM_CONV_FWD=im2col, 1 to 3 threads. */
Test(conv_direct, pool_infer_is_conv_relu_then_pool) {
    int top = dm_cpu_isa_supported();
    const int picks[] = {0, 1, 2, 4, 6, 11};   /* CNN conv1-3, the CNN-RNN's, Co 40, one lane past a block */
    for (int nt = 1; nt <= 3; nt++) {
        dm_backend *be = dm_backend_cpu_create(nt);
        for (int pi = 0; pi < (int)(sizeof picks / sizeof *picks); pi++) {
            conv_case c = make_case(&shapes[picks[pi]], 2000 + (uint64_t)pi);
            const shape *s = &c.s;
            for (int level = top; level >= 0; level--)
                for (int im2col = 0; im2col < 2; im2col++)
                    for (int pw = 0; pw <= 3; pw++) {
                        if (pw == 1) continue;
                        dm_cpu_isa_force(level);
                        if (im2col) setenv("DM_CONV_FWD", "im2col", 1);
                        else unsetenv("DM_CONV_FWD");
                        int Lp = pw ? c.Lo / pw : 1;
                        if (Lp < 1) continue;
                        size_t np = (size_t)s->B * Lp * s->Co;
                        float *act = fvec(c.nout), *want = fvec(np), *got = fvec(np);
                        int32_t *idx = calloc(np, sizeof(int32_t));
                        cr_assert(idx);
                        be->i->conv1d_relu_fwd(be, act, c.in, c.w, c.b, s->B, s->Li, s->Ci, s->Co, s->K, s->pad);
                        if (pw) be->i->maxpool_fwd(be, want, idx, act, s->B, c.Lo, s->Co, pw);
                        else be->i->gmax_fwd(be, want, idx, act, s->B, c.Lo, s->Co);
                        int32_t *idx2 = malloc(np * sizeof(int32_t));
                        cr_assert(idx2);
                        memset(got, 0xff, sizeof(float) * np);
                        memset(idx2, 0xff, sizeof(int32_t) * np);
                        be->i->conv1d_pool_noact(be, act, got, idx2, c.in, c.w, c.b, s->B, s->Li, s->Ci, s->Co, s->K,
                                                 s->pad, pw);
                        cr_assert(dm_backend_status(be) == DM_STATUS_OK, "%s", dm_last_error());
                        cr_expect(memcmp(got, want, sizeof(float) * np) == 0,
                                  "%s%s, %d thread(s), B%d Li%d Ci%d Co%d K%d pad%d, pool %d: not conv → ReLU → pool",
                                  dm_cpu_isa_name(level), im2col ? " im2col" : "", nt, s->B, s->Li, s->Ci, s->Co, s->K,
                                  s->pad, pw);
                        float *got2 = fvec(np);   /* without the argmax (inference) */
                        memset(got2, 0xff, sizeof(float) * np);
                        be->i->conv1d_pool_noact(be, act, got2, NULL, c.in, c.w, c.b, s->B, s->Li, s->Ci, s->Co, s->K,
                                                 s->pad, pw);
                        cr_expect(memcmp(got2, want, sizeof(float) * np) == 0,
                                  "%s%s, %d thread(s), B%d Li%d Ci%d Co%d K%d pad%d, pool %d: no argmax, another output",
                                  dm_cpu_isa_name(level), im2col ? " im2col" : "", nt, s->B, s->Li, s->Ci, s->Co, s->K,
                                  s->pad, pw);
                        free(got2);
                        cr_expect(memcmp(idx2, idx, sizeof(int32_t) * np) == 0,
                                  "%s%s, %d thread(s), B%d Li%d Ci%d Co%d K%d pad%d, pool %d: another argmax",
                                  dm_cpu_isa_name(level), im2col ? " im2col" : "", nt, s->B, s->Li, s->Ci, s->Co, s->K,
                                  s->pad, pw);
                        free(act), free(want), free(got), free(idx), free(idx2);
                    }
            free_case(&c);
        }
        dm_backend_free(be);
    }
    unsetenv("DM_CONV_FWD");
    dm_cpu_isa_force(-1);
}
