/*
 * repro_gemm.c: the fixed-order product of the "cpu-reproducible" backend (repro.h says what "fixed
 * order" promises) and the convolution and dense ops built on it.
 *
 * The product C (M, N) ⊕= A (M, K) · B (K, N) keeps a register tile of MR rows × NV vectors of C and
 * runs k from 0 to K − 1, adding A(m, k)·B(k, n) to each element: a multiply, then an add (this file is
 * compiled with -ffp-contract=off, CMakeLists.txt: no FMA at any level). Vectors run along n, over
 * independent elements, and the columns no full vector covers take the same chain in scalar code, so
 * the AVX-512 (16 lanes), AVX2 (8 lanes) and portable (SSE2, 4 lanes) copies and every tile and edge
 * give each element the same bits. Tile shapes differ per level (registers), results do not.
 *
 * Ops (signatures and meaning as in backend.h; the references are conv1d.c's and dense.c's _ref):
 *  - conv1d_fwd: per sequence (threads take sequences), its zero-padded copy read as an implicit
 *    im2col (window l starts at padded row l: A(l, k) = xp[l·Ci + k]) times wᵀ, from the bias.
 *  - conv1d_bwd: grad_w as wᵀ's gradient (K·Ci rows, threads take rows): per sequence in batch order,
 *    its (K·Ci × Co) product summed from 0 and added to the running total, then added to grad_w; grad_b
 *    the column sums in row order (one thread); grad_in per sequence: dcol = grad_out · w, then
 *    col2im with taps in ascending order.
 *  - dense: one thread (the DeMo head is B × Ci × 2).
 */
#include <string.h>

#include "repro.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi" /* vector arguments of always-inline helpers */
#endif

typedef float v4 __attribute__((vector_size(16)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

/* ---- the product ---------------------------------------------------------------------------------- */

/* Accumulators of a tile, named (gcc keeps an array of vectors in memory): rows 0..5, vectors 0..3. */
#define EACH(X)                                                                                    \
    X(0, 0) X(0, 1) X(0, 2) X(0, 3) X(1, 0) X(1, 1) X(1, 2) X(1, 3) X(2, 0) X(2, 1) X(2, 2) X(2, 3)     \
    X(3, 0) X(3, 1) X(3, 2) X(3, 3) X(4, 0) X(4, 1) X(4, 2) X(4, 3) X(5, 0) X(5, 1) X(5, 2) X(5, 3)
#define ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define VECS4(X) X(0) X(1) X(2) X(3)

/* One tile of mr ≤ 6 rows × nv ≤ 4 vectors (constants after inlining) at a, b, c (already offset). */
#define DEF_TILE(V)                                                                                \
    DM_CPU_BODY void tile_##V(const int mr, const int nv, int K, const float *a, int64_t sam,       \
                              int64_t sak, const float *b, int64_t ldb, float *c, int64_t ldc,      \
                              int mode) {                                                          \
        enum { W = sizeof(V) / sizeof(float) };                                                    \
        _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"") \
        V EACH(TILE_DECL) bv0, bv1, bv2, bv3;                                                      \
        (void)bv0, (void)bv1, (void)bv2, (void)bv3;                                                \
        EACH(TILE_INIT)                                                                            \
        for (int k = 0; k < K; k++) {                                                              \
            const float *bk = b + (int64_t)k * ldb;                                                \
            VECS4(TILE_LOADB)                                                                      \
            ROWS6(TILE_ROW)                                                                        \
        }                                                                                          \
        EACH(TILE_STORE)                                                                           \
        _Pragma("GCC diagnostic pop")                                                              \
    }
#define TILE_DECL(i, j) acc##i##j = {0},
#define TILE_INIT(i, j)                                                                            \
    if ((i) < mr && (j) < nv && mode == DM_GEMM_ACC)                                               \
        memcpy(&acc##i##j, c + (i) * ldc + (j) * W, sizeof acc##i##j);
#define TILE_LOADB(j)                                                                              \
    if ((j) < nv) memcpy(&bv##j, bk + (j) * W, sizeof bv##j);
#define TILE_MAC1(i, j)                                                                            \
    if ((j) < nv) acc##i##j = acc##i##j + s * bv##j;
#define TILE_ROW(i)                                                                                \
    if ((i) < mr) {                                                                                \
        float s = a[(i) * sam + (int64_t)k * sak];                                                 \
        TILE_MAC1(i, 0) TILE_MAC1(i, 1) TILE_MAC1(i, 2) TILE_MAC1(i, 3)                             \
    }
#define TILE_STORE(i, j)                                                                           \
    if ((i) < mr && (j) < nv) {                                                                    \
        float *p = c + (i) * ldc + (j) * W;                                                        \
        if (mode == DM_GEMM_ADD) {                                                                 \
            __typeof__(acc##i##j) o;                                                               \
            memcpy(&o, p, sizeof o);                                                               \
            acc##i##j = o + acc##i##j;                                                             \
        }                                                                                          \
        memcpy(p, &acc##i##j, sizeof acc##i##j);                                                   \
    }
DEF_TILE(v4)
DEF_TILE(v8)
DEF_TILE(v16)

/* The columns [n0, N) that no vector covers: the same chain per element, in scalar code. */
DM_CPU_BODY void gemm_cols_scalar(int M, int n0, int N, int K, const float *a, int64_t sam, int64_t sak,
                                  const float *b, int64_t ldb, float *c, int64_t ldc, int mode) {
    for (int m = 0; m < M; m++)
        for (int n = n0; n < N; n++) {
            float acc = mode == DM_GEMM_ACC ? c[m * ldc + n] : 0.0f;
            for (int k = 0; k < K; k++) acc = acc + a[m * sam + (int64_t)k * sak] * b[(int64_t)k * ldb + n];
            c[m * ldc + n] = mode == DM_GEMM_ADD ? c[m * ldc + n] + acc : acc;
        }
}

/* The whole product with tiles of MR rows × NV vectors of type V, then one-vector tiles, then scalar. */
#define DEF_GEMM(V, MR, NV)                                                                        \
    DM_CPU_BODY void gemm_##V(int M, int N, int K, const float *a, int64_t sam, int64_t sak,        \
                              const float *b, int64_t ldb, float *c, int64_t ldc, int mode) {       \
        enum { W = sizeof(V) / sizeof(float) };                                                    \
        int n = 0;                                                                                 \
        for (; n + (NV) * W <= N; n += (NV) * W) {                                                 \
            int m = 0;                                                                             \
            for (; m + (MR) <= M; m += (MR))                                                       \
                tile_##V(MR, NV, K, a + m * sam, sam, sak, b + n, ldb, c + m * ldc + n, ldc, mode); \
            for (; m < M; m++)                                                                     \
                tile_##V(1, NV, K, a + m * sam, sam, sak, b + n, ldb, c + m * ldc + n, ldc, mode);  \
        }                                                                                          \
        for (; n + W <= N; n += W) {                                                               \
            int m = 0;                                                                             \
            for (; m + 6 <= M; m += 6)                                                             \
                tile_##V(6, 1, K, a + m * sam, sam, sak, b + n, ldb, c + m * ldc + n, ldc, mode);   \
            for (; m < M; m++)                                                                     \
                tile_##V(1, 1, K, a + m * sam, sam, sak, b + n, ldb, c + m * ldc + n, ldc, mode);   \
        }                                                                                          \
        if (n < N) gemm_cols_scalar(M, n, N, K, a, sam, sak, b, ldb, c, ldc, mode);               \
    }
DEF_GEMM(v4, 4, 3)    /* SSE2: 12 accumulators of 16 registers */
DEF_GEMM(v8, 4, 3)    /* AVX2: the same in 256-bit registers */
DEF_GEMM(v16, 6, 4)   /* AVX-512: 24 of 32 */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
DM_CPU_TARGET_AVX512 static void gemm_avx512(int M, int N, int K, const float *a, int64_t sam, int64_t sak,
                                             const float *b, int64_t ldb, float *c, int64_t ldc, int mode) {
    gemm_v16(M, N, K, a, sam, sak, b, ldb, c, ldc, mode);
}
DM_CPU_TARGET_AVX2 static void gemm_avx2(int M, int N, int K, const float *a, int64_t sam, int64_t sak,
                                         const float *b, int64_t ldb, float *c, int64_t ldc, int mode) {
    gemm_v8(M, N, K, a, sam, sak, b, ldb, c, ldc, mode);
}
#endif

void dm_repro_gemm(int M, int N, int K, const float *a, int64_t sam, int64_t sak, const float *b, int64_t ldb,
                   float *c, int64_t ldc, int mode) {
    if (M <= 0 || N <= 0) return;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    switch (dm_cpu_isa()) {
    case DM_ISA_AVX512: gemm_avx512(M, N, K, a, sam, sak, b, ldb, c, ldc, mode); return;
    case DM_ISA_AVX2: gemm_avx2(M, N, K, a, sam, sak, b, ldb, c, ldc, mode); return;
    default: break;
    }
#endif
    gemm_v4(M, N, K, a, sam, sak, b, ldb, c, ldc, mode);
}

void dm_repro_transpose(float *dst, const float *src, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[(int64_t)c * rows + r] = src[(int64_t)r * cols + c];
}

typedef struct {
    dm_repro_task fn;
    void *arg;
    int64_t n;
} par_job;

static void par_part(void *p, int t, int nt) {
    par_job *j = p;
    int64_t i0, i1;
    dm_cpu_span(j->n, nt, t, &i0, &i1);
    if (i1 > i0) j->fn(j->arg, t, i0, i1);
}

void dm_repro_par(dm_backend *be, int64_t n, int64_t grain, dm_repro_task fn, void *arg) {
    int64_t most = grain > 1 ? n / grain : n;
    int nt = most < be->n_threads ? (int)(most < 1 ? 1 : most) : be->n_threads;
    if (nt <= 1) {
        if (n > 0) fn(arg, 0, 0, n);
        return;
    }
    par_job j = {fn, arg, n};
    dm_cpu_parallel(be, nt, par_part, &j);
}

/* ---- convolution ------------------------------------------------------------------------------------ */

typedef struct {
    dm_backend *be;
    float *out, *grad_in, *gwt;
    const float *in, *w, *wt, *b, *grad_out;
    int B, Li, Ci, Co, K, pad, Lo;
} conv_job;

/* xp (Li + 2·pad, Ci) = sequence n of in, zero-padded */
static void pad_seq(float *xp, const float *in, int n, int Li, int Ci, int pad) {
    memset(xp, 0, sizeof(float) * (size_t)pad * Ci);
    memcpy(xp + (int64_t)pad * Ci, in + (int64_t)n * Li * Ci, sizeof(float) * (size_t)Li * Ci);
    memset(xp + (int64_t)(pad + Li) * Ci, 0, sizeof(float) * (size_t)pad * Ci);
}

static void conv_fwd_seqs(void *p, int t, int64_t n0, int64_t n1) {
    conv_job *j = p;
    int Ci = j->Ci, Co = j->Co, Lo = j->Lo, KC = j->K * Ci;
    float *xp = dm_cpu_scratch(j->be, t, 0, (size_t)(j->Li + 2 * j->pad) * Ci);
    if (!xp) return;
    for (int64_t n = n0; n < n1; n++) {
        pad_seq(xp, j->in, (int)n, j->Li, Ci, j->pad);
        float *o = j->out + n * Lo * Co;
        for (int l = 0; l < Lo; l++) memcpy(o + (int64_t)l * Co, j->b, sizeof(float) * (size_t)Co);
        dm_repro_gemm(Lo, Co, KC, xp, Ci, 1, j->wt, Co, o, Co, DM_GEMM_ACC);
    }
}

void dm_cpu_conv1d_fwd_fixed(dm_backend *be, float *out, const float *in, const float *w, const float *b, int B,
                             int Li, int Ci, int Co, int K, int pad) {
    int KC = K * Ci, Lo = Li + 2 * pad - K + 1;
    float *wt = dm_cpu_scratch(be, 0, 3, (size_t)KC * Co);
    if (!wt || Lo <= 0) return;
    dm_repro_transpose(wt, w, Co, KC);
    conv_job j = {.be = be, .out = out, .in = in, .wt = wt, .b = b, .B = B, .Li = Li, .Ci = Ci, .Co = Co, .K = K,
                  .pad = pad, .Lo = Lo};
    dm_repro_par(be, B, 1, conv_fwd_seqs, &j);
}

/* rows [r0, r1) of grad_wᵀ (K·Ci, Co): per sequence in order, Σ_l window_l[r] · grad_out[l, :] */
static void conv_gw_rows(void *p, int t, int64_t r0, int64_t r1) {
    conv_job *j = p;
    int Ci = j->Ci, Co = j->Co, Lo = j->Lo;
    float *xp = dm_cpu_scratch(j->be, t, 0, (size_t)(j->Li + 2 * j->pad) * Ci);
    if (!xp) return;
    for (int n = 0; n < j->B; n++) {
        pad_seq(xp, j->in, n, j->Li, Ci, j->pad);
        dm_repro_gemm((int)(r1 - r0), Co, Lo, xp + r0, 1, Ci, j->grad_out + (int64_t)n * Lo * Co, Co,
                      j->gwt + r0 * Co, Co, n == 0 ? DM_GEMM_SET : DM_GEMM_ADD);
    }
}

/* grad_in of sequences [n0, n1): dcol (Lo, K·Ci) = grad_out · w, then col2im, taps in ascending order */
static void conv_dx_seqs(void *p, int t, int64_t n0, int64_t n1) {
    conv_job *j = p;
    int Li = j->Li, Ci = j->Ci, Co = j->Co, K = j->K, pad = j->pad, Lo = j->Lo, KC = K * Ci;
    float *dcol = dm_cpu_scratch(j->be, t, 1, (size_t)Lo * KC);
    float *gp = dm_cpu_scratch(j->be, t, 2, (size_t)(Li + 2 * pad) * Ci);
    if (!dcol || !gp) return;
    for (int64_t n = n0; n < n1; n++) {
        dm_repro_gemm(Lo, KC, Co, j->grad_out + n * Lo * Co, Co, 1, j->w, KC, dcol, KC, DM_GEMM_SET);
        memset(gp, 0, sizeof(float) * (size_t)(Li + 2 * pad) * Ci);
        for (int k = 0; k < K; k++)
            for (int l = 0; l < Lo; l++) {
                float *g = gp + (int64_t)(l + k) * Ci;
                const float *d = dcol + (int64_t)l * KC + (int64_t)k * Ci;
                for (int c = 0; c < Ci; c++) g[c] = g[c] + d[c];
            }
        memcpy(j->grad_in + n * Li * Ci, gp + (int64_t)pad * Ci, sizeof(float) * (size_t)Li * Ci);
    }
}

void dm_cpu_conv1d_bwd_fixed(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                             const float *grad_out, const float *in, const float *w, int B, int Li, int Ci,
                             int Co, int K, int pad) {
    int KC = K * Ci, Lo = Li + 2 * pad - K + 1;
    if (Lo <= 0) return;
    conv_job j = {.be = be, .grad_in = grad_in, .in = in, .w = w, .grad_out = grad_out, .B = B, .Li = Li, .Ci = Ci,
                  .Co = Co, .K = K, .pad = pad, .Lo = Lo};
    if (grad_w) {   /* NULL: the input gradient only */
        float *gwt = j.gwt = dm_cpu_scratch(be, 0, 3, (size_t)KC * Co + Co);
        if (!gwt) return;
        dm_repro_par(be, KC, 1, conv_gw_rows, &j);
        for (int o = 0; o < Co; o++)
            for (int r = 0; r < KC; r++) grad_w[(int64_t)o * KC + r] += gwt[(int64_t)r * Co + o];
        float *sb = gwt + (size_t)KC * Co;   /* bias: column sums in row order */
        for (int o = 0; o < Co; o++) sb[o] = 0.0f;
        for (int64_t r = 0; r < (int64_t)B * Lo; r++)
            for (int o = 0; o < Co; o++) sb[o] = sb[o] + grad_out[r * Co + o];
        for (int o = 0; o < Co; o++) grad_b[o] += sb[o];
    }
    if (grad_in) dm_repro_par(be, B, 1, conv_dx_seqs, &j);
}

/* ---- dense ------------------------------------------------------------------------------------------- */

void dm_cpu_dense_fwd_fixed(dm_backend *be, float *out, const float *in, const float *w, const float *b, int B,
                            int Ci, int Co) {
    float *wt = dm_cpu_scratch(be, 0, 3, (size_t)Ci * Co);
    if (!wt) return;
    dm_repro_transpose(wt, w, Co, Ci);
    for (int n = 0; n < B; n++) memcpy(out + (int64_t)n * Co, b, sizeof(float) * (size_t)Co);
    dm_repro_gemm(B, Co, Ci, in, Ci, 1, wt, Co, out, Co, DM_GEMM_ACC);
}

void dm_cpu_dense_bwd_fixed(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                            const float *grad_out, const float *in, const float *w, int B, int Ci, int Co) {
    if (grad_w) {   /* NULL: the input gradient only */
        for (int o = 0; o < Co; o++) {
            float s = 0.0f;
            for (int n = 0; n < B; n++) s = s + grad_out[(int64_t)n * Co + o];
            grad_b[o] += s;
        }
        dm_repro_gemm(Co, Ci, B, grad_out, 1, Co, in, Ci, grad_w, Ci, DM_GEMM_ADD);
    }
    if (grad_in) dm_repro_gemm(B, Ci, Co, grad_out, Co, 1, w, Ci, grad_in, Ci, DM_GEMM_SET);
}
