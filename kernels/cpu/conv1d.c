/*
 * conv1d.c: 1-D convolution (cross-correlation, no flip), channels-last (SPEC.md §3):
 *   out[b, l, o] = bias[o] + Σ_k Σ_c w[o, k, c] · in[b, l + k − pad, c]     (zero outside [0, Li))
 * in (B, Li, Ci), w (Co, K, Ci), out (B, Lo, Co), Lo = Li + 2·pad − K + 1.
 *
 * Fast path at the AVX2 and AVX-512 levels: the direct convolution of conv1d_direct.c (no im2col; its
 * tile of positions × channels in registers). At the portable level, or with DM_CONV_FWD=im2col, and for
 * the backward's weight gradient: im2col per thread chunk, then one GEMM. With channels-last input a window is K·Ci
 * contiguous floats, so a column row is one memcpy (two partial ones at the padded edges).
 *   forward   out (M, Co)      = col (M, KC) · wᵀ (KC, Co) + bias          M = Bc·Lo, KC = K·Ci
 *   backward  grad_w (Co, KC) += grad_outᵀ (Co, M) · col (M, KC)
 *             grad_in: conv1d_dx.c (a GEMM and col2im, or the sparse way for sparse grad_out)
 */
#include <cblas.h>
#include <string.h>

#include "cpu.h"

/* col (Bc·Lo, K·Ci) <- windows of in (Bc, Li, Ci) */
static void im2col(float *restrict col, const float *restrict in, int Bc, int Li, int Ci, int K,
                   int pad, int Lo) {
    int64_t KC = (int64_t)K * Ci;
    for (int b = 0; b < Bc; b++)
        for (int l = 0; l < Lo; l++) {
            float *row = col + ((int64_t)b * Lo + l) * KC;
            int p0 = l - pad;                       /* first input position of the window */
            int k0 = p0 < 0 ? -p0 : 0;              /* taps before the sequence start */
            int k1 = p0 + K > Li ? Li - p0 : K;     /* taps up to the sequence end */
            if (k0 > 0) memset(row, 0, sizeof(float) * (size_t)k0 * Ci);
            if (k1 > k0)
                memcpy(row + (int64_t)k0 * Ci, in + ((int64_t)b * Li + p0 + k0) * Ci,
                       sizeof(float) * (size_t)(k1 - k0) * Ci);
            if (k1 < K) memset(row + (int64_t)k1 * Ci, 0, sizeof(float) * (size_t)(K - k1) * Ci);
        }
}

/* the ReLU of the fused forward: the loop of relu.c's fast op (same comparison, same result) */
DM_CPU_BODY void relu_rows_body(float *x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
DM_CPU_DISPATCH(relu_rows, (float *x, int64_t n), (x, n))

void dm_cpu_conv1d_fwd_ref(dm_backend *be, float *out, const float *in, const float *w,
                           const float *b, int B, int Li, int Ci, int Co, int K, int pad) {
    int Lo = Li + 2 * pad - K + 1;
    for (int n = 0; n < B; n++)
        for (int l = 0; l < Lo; l++)
            for (int o = 0; o < Co; o++) {
                double s = b[o];
                for (int k = 0; k < K; k++) {
                    int p = l + k - pad;
                    if (p < 0 || p >= Li) continue;
                    for (int c = 0; c < Ci; c++)
                        s += (double)w[((int64_t)o * K + k) * Ci + c] * in[((int64_t)n * Li + p) * Ci + c];
                }
                out[((int64_t)n * Lo + l) * Co + o] = (float)s;
            }
}

void dm_cpu_conv1d_bwd_ref(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                           const float *grad_out, const float *in, const float *w, int B, int Li,
                           int Ci, int Co, int K, int pad) {
    int Lo = Li + 2 * pad - K + 1;
    for (int o = 0; o < Co && grad_w; o++) {    /* NULL grad_w: input gradient only */
        double sb = 0;
        for (int n = 0; n < B; n++)
            for (int l = 0; l < Lo; l++) sb += grad_out[((int64_t)n * Lo + l) * Co + o];
        grad_b[o] += (float)sb;
        for (int k = 0; k < K; k++)
            for (int c = 0; c < Ci; c++) {
                double s = 0;
                for (int n = 0; n < B; n++)
                    for (int l = 0; l < Lo; l++) {
                        int p = l + k - pad;
                        if (p >= 0 && p < Li)
                            s += (double)grad_out[((int64_t)n * Lo + l) * Co + o] *
                                 in[((int64_t)n * Li + p) * Ci + c];
                    }
                grad_w[((int64_t)o * K + k) * Ci + c] += (float)s;
            }
    }
    if (!grad_in) return;
    for (int n = 0; n < B; n++)
        for (int p = 0; p < Li; p++)
            for (int c = 0; c < Ci; c++) {
                double s = 0;
                for (int k = 0; k < K; k++) {
                    int l = p - k + pad;
                    if (l < 0 || l >= Lo) continue;
                    for (int o = 0; o < Co; o++)
                        s += (double)grad_out[((int64_t)n * Lo + l) * Co + o] * w[((int64_t)o * K + k) * Ci + c];
                }
                grad_in[((int64_t)n * Li + p) * Ci + c] = (float)s;
            }
}

typedef struct {
    dm_backend *be;
    float *out, *grad_in, *grad_w, *grad_b;
    const float *in, *w, *b, *grad_out;
    int B, Li, Ci, Co, K, pad;
    bool relu;
    const float *wpack;   /* backward: w packed for conv1d_dx.c's sparse way; forward: for the direct way */
    bool dx_dense;        /* conv1d_dx.c's GEMM way for every sequence (dm_cpu_conv1d_dx_sparse false) */
    int next;             /* direct forward: the first sequence not yet claimed; backward: the next group */
    int ng;               /* backward: groups of sequences (CONV_BWD_GROUPS at most, fixed by B) */
    int failed;           /* backward: a part's scratch could not be allocated */
    float *partial;       /* backward, groups g > 0: (grad_w | grad_b) at (g − 1)·(Co·K·Ci + Co) */
    float *pooled;        /* conv1d_pool_noact: the pool's output and argmax, width pw (0: the global max) */
    int32_t *argmax;
    int pw;
} conv_job;

/* Thread t's batch chunk: im2col, out = bias, one GEMM, then (relu) the ReLU on the chunk while it is
 * still in cache: the same operations in the same order as conv1d_fwd followed by relu_fwd, so the
 * fused result is bit for bit the unfused one. */
static void conv_fwd_part(void *p, int t, int nt) {
    conv_job *j = p;
    int B = j->B, Li = j->Li, Ci = j->Ci, Co = j->Co, K = j->K, pad = j->pad;
    int Lo = Li + 2 * pad - K + 1, KC = K * Ci, b0, b1;
    dm_cpu_chunk(B, nt, t, &b0, &b1);
    int M = (b1 - b0) * Lo;
    float *col = dm_cpu_scratch(j->be, t, 0, (size_t)M * KC);
    float *o = j->out + (int64_t)b0 * Lo * Co;
    if (!col || M <= 0) return;
    im2col(col, j->in + (int64_t)b0 * Li * Ci, b1 - b0, Li, Ci, K, pad, Lo);
    for (int r = 0; r < M; r++) memcpy(o + (int64_t)r * Co, j->b, sizeof(float) * (size_t)Co);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, Co, KC, 1.0f, col, KC, j->w, KC, 1.0f, o, Co);
    if (j->relu) relu_rows(o, (int64_t)M * Co);
}

/* The direct way (conv1d_direct.c): the threads claim CONV_FWD_BLOCK sequences at a time straight from the
 * input rows (each output has one sum order whatever the split, so a thread the OS sets aside holds up
 * one block, and the result stays the same). */
#define CONV_FWD_BLOCK 4
static void conv_direct_part(void *p, int t, int nt) {
    (void)nt;
    conv_job *j = p;
    size_t nl = dm_cpu_conv1d_direct_scratch(j->Li, j->Ci);
    float *lists = nl ? dm_cpu_scratch(j->be, t, 1, nl) : NULL;   /* (even when nothing is left: which part */
    if (nl && !lists) return;   /* finds work varies, the sizes of its scratch must not) */
    for (int b0; (b0 = __atomic_fetch_add(&j->next, CONV_FWD_BLOCK, __ATOMIC_RELAXED)) < j->B;) {
        int b1 = j->B - b0 < CONV_FWD_BLOCK ? j->B : b0 + CONV_FWD_BLOCK;
        dm_cpu_conv1d_direct(j->out, j->in, j->wpack, lists, b0, b1, j->Li, j->Ci, j->Co, j->K, j->pad, j->relu);
    }
}

static void conv_fwd_run(dm_backend *be, float *out, const float *in, const float *w, const float *b, int B,
                         int Li, int Ci, int Co, int K, int pad, bool relu) {
    conv_job j = {.be = be, .out = out, .in = in, .w = w, .b = b, .B = B, .Li = Li, .Ci = Ci, .Co = Co, .K = K,
                  .pad = pad, .relu = relu};
    if (dm_cpu_conv1d_direct_on()) {   /* w packed once, on the calling thread, shared by all */
        if (!(j.wpack = dm_cpu_conv1d_direct_pack(be, w, b, Co, K * Ci))) return;   /* failure recorded */
        dm_cpu_parallel(be, dm_cpu_threads(be, B), conv_direct_part, &j);
        return;
    }
    dm_cpu_parallel(be, dm_cpu_threads(be, B), conv_fwd_part, &j);
}

void dm_cpu_conv1d_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                       int B, int Li, int Ci, int Co, int K, int pad) {
    conv_fwd_run(be, out, in, w, b, B, Li, Ci, Co, K, pad, false);
}

/* conv → ReLU in one pass per chunk; its reference is the unfused pair (fused.c) */
void dm_cpu_conv1d_relu_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                                 int B, int Li, int Ci, int Co, int K, int pad) {
    conv_fwd_run(be, out, in, w, b, B, Li, Ci, Co, K, pad, true);
}

/* out (Lp, C) = the max-pool of width pw of x (Lo, C), Lp = Lo / pw (pw 0: the global max, Lp 1), and arg
 * its argmax, with maxpool_fwd's and gmax_fwd's rule: positions in order, a later one replaces the maximum
 * only when greater (the first position of the maximum), per channel. */
DM_CPU_BODY void pool_rows_body(float *restrict out, int32_t *restrict arg, const float *restrict x, int Lo, int C,
                                int pw) {
    int w = pw > 0 ? pw : Lo, Lp = pw > 0 ? Lo / pw : 1;
    for (int lp = 0; lp < Lp; lp++) {
        float *o = out + (int64_t)lp * C;
        int32_t *a = arg + (int64_t)lp * C;
        const float *xr = x + (int64_t)lp * w * C;
        for (int c = 0; c < C; c++) o[c] = xr[c], a[c] = lp * w;
        for (int k = 1; k < w; k++)
#pragma omp simd
            for (int c = 0; c < C; c++) {
                float v = xr[(int64_t)k * C + c];
                bool gt = v > o[c];
                o[c] = gt ? v : o[c];
                a[c] = gt ? lp * w + k : a[c];
            }
    }
}
DM_CPU_DISPATCH(pool_rows, (float *restrict out, int32_t *restrict arg, const float *restrict x, int Lo, int C, int pw),
                (out, arg, x, Lo, C, pw))

/* the same maxima without the argmax (inference): on ReLU output (≥ +0, never −0 or NaN) the maximum's bits do
 * not depend on how the comparisons are made */
DM_CPU_BODY void pool_max_rows_body(float *restrict out, const float *restrict x, int Lo, int C, int pw) {
    int w = pw > 0 ? pw : Lo, Lp = pw > 0 ? Lo / pw : 1;
    for (int lp = 0; lp < Lp; lp++) {
        float *o = out + (int64_t)lp * C;
        const float *xr = x + (int64_t)lp * w * C;
        for (int c = 0; c < C; c++) o[c] = xr[c];
        for (int k = 1; k < w; k++)
#pragma omp simd
            for (int c = 0; c < C; c++) o[c] = xr[(int64_t)k * C + c] > o[c] ? xr[(int64_t)k * C + c] : o[c];
    }
}
DM_CPU_DISPATCH(pool_max_rows, (float *restrict out, const float *restrict x, int Lo, int C, int pw), (out, x, Lo, C, pw))

/* conv1d_pool_noact, the direct way: each sequence's conv → ReLU into thread t's scratch (Lo·Co floats,
 * in cache), then its pool and argmax straight into the outputs; the activation is never written out.
 * Sequences are claimed CONV_FWD_BLOCK at a time, as in conv_direct_part. */
static void conv_pool_noact_part(void *p, int t, int nt) {
    (void)nt;
    conv_job *j = p;
    int Li = j->Li, Ci = j->Ci, Co = j->Co, Lo = Li + 2 * j->pad - j->K + 1, Lp = j->pw > 0 ? Lo / j->pw : 1;
    size_t nl = dm_cpu_conv1d_direct_scratch(Li, Ci);
    float *lists = nl ? dm_cpu_scratch(j->be, t, 1, nl) : NULL;   /* (even when nothing is left, as above) */
    float *act = dm_cpu_scratch(j->be, t, 0, (size_t)Lo * Co);
    if (!act || (nl && !lists)) return;   /* dm_cpu_scratch recorded the failure */
    for (int b0; (b0 = __atomic_fetch_add(&j->next, CONV_FWD_BLOCK, __ATOMIC_RELAXED)) < j->B;)
        for (int b = b0; b < j->B && b < b0 + CONV_FWD_BLOCK; b++) {
            dm_cpu_conv1d_direct(act, j->in + (int64_t)b * Li * Ci, j->wpack, lists, 0, 1, Li, Ci, Co, j->K, j->pad, true);
            if (j->argmax) pool_rows(j->pooled + (int64_t)b * Lp * Co, j->argmax + (int64_t)b * Lp * Co, act, Lo, Co, j->pw);
            else pool_max_rows(j->pooled + (int64_t)b * Lp * Co, act, Lo, Co, j->pw);
        }
}

/* backend.h's conv1d_pool_noact: pooled and argmax (NULL: not wanted) of conv → ReLU → max-pool (pw ≥ 1) or
 * global max (pw 0), bit for bit those of conv1d_relu_fwd then maxpool_fwd / gmax_fwd (the same convolution,
 * the same scan); act is written only where the direct way does not run (then it is that pair). */
void dm_cpu_conv1d_pool_noact(dm_backend *be, float *act, float *pooled, int32_t *argmax, const float *in,
                              const float *w, const float *b, int B, int Li, int Ci, int Co, int K, int pad, int pw) {
    int Lo = Li + 2 * pad - K + 1;
    if (!dm_cpu_conv1d_direct_on()) {
        if (!argmax && !(argmax = (int32_t *)dm_cpu_scratch(be, 0, 2, (size_t)B * (pw > 0 ? Lo / pw : 1) * Co)))
            return;   /* failure recorded */
        conv_fwd_run(be, act, in, w, b, B, Li, Ci, Co, K, pad, true);
        if (pw > 0) be->i->maxpool_fwd(be, pooled, argmax, act, B, Lo, Co, pw);
        else be->i->gmax_fwd(be, pooled, argmax, act, B, Lo, Co);
        return;
    }
    conv_job j = {.be = be, .pooled = pooled, .argmax = argmax, .in = in, .B = B, .Li = Li, .Ci = Ci, .Co = Co,
                  .K = K, .pad = pad, .pw = pw};
    if (!(j.wpack = dm_cpu_conv1d_direct_pack(be, w, b, Co, K * Ci))) return;   /* failure recorded */
    dm_cpu_parallel(be, dm_cpu_threads(be, B), conv_pool_noact_part, &j);
}

/* The backward's weight and bias gradients are summed per group of sequences: CONV_BWD_GROUPS groups at
 * most, fixed by B alone (never by the thread count), claimed in turn by the threads and added in group
 * order after the join; so they are bit-identical for any thread count, and a thread the OS sets aside
 * holds up one group, not a half batch. Each group: im2col, one GEMM into its partial (group 0 straight
 * into grad_w), then conv1d_dx.c's input gradient of its sequences. */
#define CONV_BWD_GROUPS 8
static void conv_bwd_part(void *p, int t, int nt) {
    (void)nt;
    conv_job *j = p;
    int B = j->B, Li = j->Li, Ci = j->Ci, Co = j->Co, K = j->K, pad = j->pad, ng = j->ng;
    int Lo = Li + 2 * pad - K + 1, KC = K * Ci;
    /* columns for the largest group (allocated even when nothing is left: which part finds work varies,
     * the sizes of its scratch must not) */
    float *col = dm_cpu_scratch(j->be, t, 0, (size_t)((B + ng - 1) / ng) * Lo * KC);
    if (!col || (j->grad_in && !dm_cpu_conv1d_dx_scratch(j->be, t, Lo, Co))) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;   /* dm_cpu_scratch recorded the failure */
    }
    for (int g; (g = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < ng;) {
        int b0 = (int)((int64_t)B * g / ng), b1 = (int)((int64_t)B * (g + 1) / ng);
        int M = (b1 - b0) * Lo;
        float *gw = j->grad_w, *gb = j->grad_b;
        if (g > 0 && gw) {
            gw = j->partial + (int64_t)(g - 1) * ((int64_t)Co * KC + Co);
            gb = gw + (int64_t)Co * KC;
            memset(gw, 0, sizeof(float) * ((size_t)Co * KC + Co));
        }
        const float *go = j->grad_out + (int64_t)b0 * Lo * Co;
        if (gw) {   /* NULL: the input gradient only (no columns, bias sums or dW) */
            im2col(col, j->in + (int64_t)b0 * Li * Ci, b1 - b0, Li, Ci, K, pad, Lo);
            for (int r = 0; r < M; r++)
                for (int o = 0; o < Co; o++) gb[o] += go[(int64_t)r * Co + o];
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Co, KC, M, 1.0f, go, Co, col, KC, 1.0f, gw, KC);
        }
        if (j->grad_in)   /* conv1d_dx.c; the column buffer is its dcol once grad_w has consumed it */
            dm_cpu_conv1d_dx(j->be, t, j->grad_in, j->grad_out, NULL, j->w, j->wpack, b0, b1, Li, Ci, Co, K, pad, col,
                             j->dx_dense);
    }
}

void dm_cpu_conv1d_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                       const float *grad_out, const float *in, const float *w, int B, int Li, int Ci,
                       int Co, int K, int pad) {
    int64_t KC = (int64_t)K * Ci, np = (int64_t)Co * KC + Co;
    if (B < 1) return;
    conv_job j = {.be = be, .grad_in = grad_in, .grad_w = grad_w, .grad_b = grad_b, .grad_out = grad_out,
                  .in = in, .w = w, .B = B, .Li = Li, .Ci = Ci, .Co = Co, .K = K, .pad = pad};
    j.ng = B < CONV_BWD_GROUPS ? B : CONV_BWD_GROUPS;
    j.dx_dense = !dm_cpu_conv1d_dx_sparse();
    if (grad_in && !j.dx_dense && !(j.wpack = dm_cpu_conv1d_dx_pack(be, w, Co, (int)KC)))
        return;   /* dm_cpu_scratch recorded the failure */
    /* the groups' partials in the calling thread's scratch slot 2 (the parts use slots 0 and 1, the packed
     * weights slot 3) */
    if (grad_w && j.ng > 1 && !(j.partial = dm_cpu_scratch(be, 0, 2, (size_t)(j.ng - 1) * (size_t)np)))
        return;   /* dm_cpu_scratch recorded the failure */
    dm_cpu_parallel(be, dm_cpu_threads(be, j.ng), conv_bwd_part, &j);
    if (j.failed) return;   /* dm_cpu_scratch recorded it */
    for (int g = 1; g < j.ng && grad_w; g++) {
        dm_cpu_add(grad_w, j.partial + (int64_t)(g - 1) * np, Co * KC);
        dm_cpu_add(grad_b, j.partial + (int64_t)(g - 1) * np + Co * KC, Co);
    }
}
