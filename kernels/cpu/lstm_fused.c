/*
 * lstm_fused.c: the CPU backend's fast (bi)LSTM, forward and backward (the specification is
 * dm_cpu_lstm_fwd_ref / dm_cpu_lstm_bwd_ref in lstm.c; the equations are at the top of that file).
 *
 * Threads: each thread runs the whole recurrence of its sequences, all L steps of both directions,
 * with no barrier between steps, one block of R sequences at a time (its rows stream through the cache
 * in order, its state stays in L1 from step to step). The forward's threads claim blocks in turn from
 * the batch (a descheduled thread holds up one block); the backward's own one contiguous slice each
 * (dm_cpu_chunk: its weight-gradient partial is the slice's). Per thread:
 *  - forward: the input projection of every position and both directions is ONE GEMM per sequence,
 *    x (L, D) · W_ihᵀ (D, n_dir·4H), written into `gates` (PERFORMANCE.md §3; per sequence rather than
 *    per slice because OpenBLAS's result for a row depends on the row count M of the call, and the
 *    slices change with the thread count). Then per step, per
 *    block of R sequences and per 8 hidden units j: the four gates' pre-activations of those units
 *    stay in vector registers while h_prev · W_hhᵀ is added (W_hh transposed and padded once per call
 *    into the thread's scratch, (H, 4, Hp) floats: 16 KiB for H = 32, L1-resident); they are stored
 *    once, and the gate nonlinearities and the cell update of each row follow at once from L1 (in a
 *    separate routine: inlined, the polynomial's constants took the accumulators' registers).
 *  - backward: per step, per sequence, the gate gradients dA from the saved gates and cell (kept in
 *    grad_gates) and their sum (the bias gradient); then per block of R sequences dh_rec = dA · W_hh
 *    (W_hh padded to Hq columns in scratch) in registers, and dW_hh += dAᵀ · h_prev into the
 *    thread's padded accumulator (L1/L2-resident) with the block's h_prev in registers (per-step
 *    GEMMs of these shapes spent most of their time packing operands). Once a block has run both
 *    directions, its dA is still in cache: dW_ih += dAᵀ · x is one GEMM over the block's rows, dx one
 *    GEMM per sequence (as the forward's projection).
 *    Parameter gradients of threads t > 0 go to private partials added in thread order after the join
 *    (cpu.h): bit-identical for a given thread count. The forward (h, gates, cell) and the input
 *    gradients (dA, dx) are bit-identical across thread counts: each sequence runs the same
 *    instructions whatever block or slice it falls in (a partial last block repeats its last sequence
 *    instead of taking another code path; the GEMMs are per sequence).
 *  - NULL grad_w_ih, grad_w_hh, grad_b_ih or grad_b_hh: that gradient is skipped (input gradients
 *    only, as saliency needs).
 *
 *  - inference (dm_cpu_lstm_infer, backend.h lstm_infer): the same forward with each block's gates and
 *    cells in the thread's scratch (nothing saved for a backward), optionally the mean over time of
 *    each block's h while it is in cache, h then never written out.
 *
 * ISA: every body is compiled three times (cpu.h DM_CPU_TARGET_*) from one source written with gcc's
 * generic vectors of 8 floats: AVX-512 (32 vector registers: R = 6 sequences per block), AVX2 + FMA
 * (16 registers: R = 3) and the portable baseline (SSE2: R = 2), chosen at run time by dm_cpu_isa()
 * (DM_CPU_ISA=portable|avx2|avx512 can lower it). The AVX-512 forward step runs 16-lane vectors
 * (fwd_step_avx512w: the same operations per lane as the 8-lane copy, bit for bit). The levels differ only by FMA contraction (the
 * portable level rounds the product and the sum separately). exp is computed inline (Cody–Waite range
 * reduction, degree-5 polynomial, the Cephes single-precision scheme; ≤ 2 ulp on the clamped range),
 * so the gates vectorise without library calls.
 */
#include <cblas.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi" /* 32-byte vectors in always-inline helpers of the SSE2 copy */
#endif

typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

#define VEC_INLINE static inline __attribute__((always_inline))

VEC_INLINE v8 ld8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
VEC_INLINE void st8(float *p, v8 v) {
    memcpy(p, &v, sizeof v);
}
/* the first n (1..8) lanes from p, the others 0 */
VEC_INLINE v8 ldn(const float *p, int n) {
    if (n == 8) return ld8(p);
    float t[8] = {0};
    for (int i = 0; i < n; i++) t[i] = p[i];
    return ld8(t);
}
VEC_INLINE void stn(float *p, v8 v, int n) {
    if (n == 8) {
        st8(p, v);
        return;
    }
    float t[8];
    st8(t, v);
    for (int i = 0; i < n; i++) p[i] = t[i];
}
/* The gate math, generated for 8-lane vectors (vsel, vexp, vsigm, vtanh) and for the 16-lane ones of
 * the AVX-512 forward step (vsel16, ...): the same expressions lane by lane, so both widths give the
 * same bits (test_lstm_fused checks it).
 * e^x, x clamped to [−87.3, 88.3] (so that 2^n stays a normal float; σ and tanh saturate long before);
 * magic = 1.5 · 2²³ (adding it rounds to an integer); ln 2 = 0.693359375 − 2.12194440e−4 (Cody–Waite). */
#define VEC_MATH(V, VI, sfx)                                                                                 \
    VEC_INLINE V vsel##sfx(VI m, V a, V b) {                                                                 \
        return (V)((m & (VI)a) | (~m & (VI)b));                                                              \
    }                                                                                                        \
    VEC_INLINE V vexp##sfx(V x) {                                                                            \
        const V hi = (V){0} + 88.3f, lo = (V){0} + -87.3f;                                                   \
        x = vsel##sfx(x > hi, hi, x);                                                                        \
        x = vsel##sfx(x < lo, lo, x);                                                                        \
        const float magic = 12582912.0f;                                                                     \
        V n = (x * 1.44269504088896341f + magic) - magic;                                                    \
        V r = x - n * 0.693359375f;                                                                          \
        r = r - n * -2.12194440e-4f;                                                                         \
        V p = (V){0} + 1.9875691500e-4f;                                                                     \
        p = p * r + 1.3981999507e-3f;                                                                        \
        p = p * r + 8.3334519073e-3f;                                                                        \
        p = p * r + 4.1665795894e-2f;                                                                        \
        p = p * r + 1.6666665459e-1f;                                                                        \
        p = p * r + 5.0000001201e-1f;                                                                        \
        p = p * (r * r) + r + 1.0f;                                                                          \
        VI e = (__builtin_convertvector(n, VI) + 127) << 23;                                                 \
        return p * (V)e;                                                                                     \
    }                                                                                                        \
    VEC_INLINE V vsigm##sfx(V x) {                                                                           \
        return 1.0f / (1.0f + vexp##sfx(-x));                                                                \
    }                                                                                                        \
    VEC_INLINE V vtanh##sfx(V x) {                                                                           \
        return 2.0f / (1.0f + vexp##sfx(-2.0f * x)) - 1.0f;                                                  \
    }
VEC_MATH(v8, v8i, )

/* Position read at step s of direction d. */
static inline int lstm_pos(int d, int s, int L) {
    return d == 0 ? s : L - 1 - s;
}

/* Accumulators: gcc keeps an array of vectors this large in memory, so each of up to 6 rows of a
 * block gets 4 named vectors, and the row count R (a constant after inlining) removes unused rows. */
#define ROWS(M)     M(0) M(1) M(2) M(3) M(4) M(5)
#define ACC_DECL(r) v8 A##r##0 = {0}, A##r##1 = {0}, A##r##2 = {0}, A##r##3 = {0};

/* The gates of one row from its pre-activations ar (blocks i, f, g, o of H each), replaced by the
 * activated gates; cell and h to cr, hr; cpr: previous cell (NULL at the first step). Called once
 * per row, not inlined into the product loop: the polynomial's constants would otherwise take the
 * vector registers that the accumulators need. */
DM_CPU_BODY void fwd_gates_body(float *ar, float *cr, float *hr, const float *cpr, int H) {
    for (int j = 0; j < H; j += 8) {
        int n = H - j < 8 ? H - j : 8;
        v8 i = vsigm(ldn(ar + j, n)), f = vsigm(ldn(ar + H + j, n));
        v8 g = vtanh(ldn(ar + 2 * H + j, n)), o = vsigm(ldn(ar + 3 * H + j, n));
        v8 c = i * g;
        if (cpr) c = c + f * ldn(cpr + j, n);
        v8 hh = o * vtanh(c);
        stn(ar + j, i, n);
        stn(ar + H + j, f, n);
        stn(ar + 2 * H + j, g, n);
        stn(ar + 3 * H + j, o, n);
        stn(cr + j, c, n);
        stn(hr + j, hh, n);
    }
}

/* The gate gradients of one row: dA to dab from the saved gates gb, cell cb, previous cell cpr (NULL
 * at the first step), the output gradient ghb plus the recurrent dh, and the carried dcr, which it
 * updates (dh, dcr: Hq floats, full vectors). */
DM_CPU_BODY void bwd_gates_body(float *dab, float *dcr, const float *dh, const float *gb, const float *cb,
                                const float *cpr, const float *ghb, int H) {
    for (int j = 0; j < H; j += 8) {
        int n = H - j < 8 ? H - j : 8;
        v8 i = ldn(gb + j, n), f = ldn(gb + H + j, n), gg = ldn(gb + 2 * H + j, n);
        v8 o = ldn(gb + 3 * H + j, n);
        v8 tc = vtanh(ldn(cb + j, n));
        v8 dhj = ldn(ghb + j, n) + ld8(dh + j);
        v8 dc = ld8(dcr + j) + dhj * o * (1.0f - tc * tc);
        v8 cprev = cpr ? ldn(cpr + j, n) : (v8){0};
        stn(dab + j, dc * gg * i * (1.0f - i), n);
        stn(dab + H + j, dc * cprev * f * (1.0f - f), n);
        stn(dab + 2 * H + j, dc * i * (1.0f - gg * gg), n);
        stn(dab + 3 * H + j, dhj * tc * o * (1.0f - o), n);
        st8(dcr + j, dc * f);
    }
}

typedef void (*fwd_gates_fn)(float *ar, float *cr, float *hr, const float *cpr, int H);
typedef void (*bwd_gates_fn)(float *dab, float *dcr, const float *dh, const float *gb, const float *cb,
                             const float *cpr, const float *ghb, int H);

/* ---- forward: one step of one direction for rows [0, Bc) ----
 * a: pre-activations of row 0 at this position (row stride gs), replaced by the activated gates;
 * hp, cp: h and c of the previous position (row stride hs; NULL at the first step); h, c: outputs
 * (row stride hs). wt: W_hhᵀ padded, (H, 4, Hp). R ≤ 6 rows per block. */
DM_CPU_BODY void fwd_step_body(float *a, float *h, float *c, const float *hp, const float *cp,
                               const float *restrict wt, int Bc, int64_t gs, int64_t hs, int H, int Hp,
                               const int R, fwd_gates_fn gates) {
    for (int b0 = 0; b0 < Bc; b0 += R) {
        int64_t ro[6]; /* row offsets; a partial block repeats its last row (same values stored twice) */
        for (int r = 0; r < 6; r++) ro[r] = b0 + r < Bc ? b0 + r : Bc - 1;
        for (int j = 0; j < H; j += 8) {
            int n = H - j < 8 ? H - j : 8;
            ROWS(ACC_DECL)
#define FWD_INIT(r)                                                                                          \
    if (R > r) {                                                                                             \
        const float *ar = a + ro[r] * gs + j;                                                                \
        A##r##0 = ldn(ar, n);                                                                                \
        A##r##1 = ldn(ar + H, n);                                                                            \
        A##r##2 = ldn(ar + 2 * H, n);                                                                        \
        A##r##3 = ldn(ar + 3 * H, n);                                                                        \
    }
            ROWS(FWD_INIT)
            if (hp) {
                const float *h0 = hp + ro[0] * hs, *h1 = hp + ro[1] * hs, *h2 = hp + ro[2] * hs;
                const float *h3 = hp + ro[3] * hs, *h4 = hp + ro[4] * hs, *h5 = hp + ro[5] * hs;
                for (int k = 0; k < H; k++) {
                    const float *w = wt + ((int64_t)k * 4) * Hp + j;
                    v8 w0 = ld8(w), w1 = ld8(w + Hp), w2 = ld8(w + 2 * Hp), w3 = ld8(w + 3 * Hp);
#define FWD_FMA(r)                                                                                           \
    if (R > r) {                                                                                             \
        float x = h##r[k];                                                                                   \
        A##r##0 += x * w0;                                                                                   \
        A##r##1 += x * w1;                                                                                   \
        A##r##2 += x * w2;                                                                                   \
        A##r##3 += x * w3;                                                                                   \
    }
                    ROWS(FWD_FMA)
                }
            }
#define FWD_STORE(r)                                                                                         \
    if (R > r) {                                                                                             \
        float *ar = a + ro[r] * gs + j;                                                                      \
        stn(ar, A##r##0, n);                                                                                 \
        stn(ar + H, A##r##1, n);                                                                             \
        stn(ar + 2 * H, A##r##2, n);                                                                         \
        stn(ar + 3 * H, A##r##3, n);                                                                         \
    }
            ROWS(FWD_STORE)
        }
        int nr = Bc - b0 < R ? Bc - b0 : R;
        for (int r = 0; r < nr; r++)
            gates(a + ro[r] * gs, c + ro[r] * hs, h + ro[r] * hs, cp ? cp + ro[r] * hs : NULL, H);
    }
}

/* ---- backward: one step of one direction for rows [0, Bc) ----
 * Per row: dA from the saved gates g (row stride gs), cell c and previous cell cp (stride hs; cp NULL
 * at the first step), the output gradient gh (stride hs) plus dh_rec, and dc_rec (both (Bc, Hq)),
 * which it updates; dA goes to da (stride gs). Then, unless last (the first position of the
 * direction, which has no predecessor), dh_rec = dA · W_hh with wp = W_hh padded, (4H, Hq). */
DM_CPU_BODY void bwd_step_body(float *da, float *dh_rec, float *dc_rec, const float *g, const float *c,
                               const float *cp, const float *gh, const float *restrict wp, int Bc, int64_t gs,
                               int64_t hs, int H, int Hq, int last, const float *hp, float *dwhh, float *bacc,
                               const int R, bwd_gates_fn gates) {
    for (int b0 = 0; b0 < Bc; b0 += R) {
        int nr = Bc - b0 < R ? Bc - b0 : R;
        for (int r = 0; r < nr; r++) {
            int64_t b = b0 + r;
            gates(da + b * gs, dc_rec + b * Hq, dh_rec + b * Hq, g + b * gs, c + b * hs,
                  cp ? cp + b * hs : NULL, gh + b * hs, H);
            if (bacc) /* the bias gradient: Σ dA */
                for (int m = 0; m < 4 * H; m += 8) {
                    int n = 4 * H - m < 8 ? 4 * H - m : 8;
                    stn(bacc + m, ldn(bacc + m, n) + ldn(da + b * gs + m, n), n);
                }
        }
        if (last) continue;
        int64_t ro[6];
        for (int r = 0; r < 6; r++) ro[r] = b0 + r < Bc ? b0 + r : Bc - 1;
        const float *d0 = da + ro[0] * gs, *d1 = da + ro[1] * gs, *d2 = da + ro[2] * gs;
        const float *d3 = da + ro[3] * gs, *d4 = da + ro[4] * gs, *d5 = da + ro[5] * gs;
        for (int k = 0; k < Hq; k += 32) { /* Hq is a multiple of 32: 4 vectors per row */
            ROWS(ACC_DECL)
            for (int m = 0; m < 4 * H; m++) {
                const float *w = wp + (int64_t)m * Hq + k;
                v8 w0 = ld8(w), w1 = ld8(w + 8), w2 = ld8(w + 16), w3 = ld8(w + 24);
#define BWD_FMA(r)                                                                                           \
    if (R > r) {                                                                                             \
        float x = d##r[m];                                                                                   \
        A##r##0 += x * w0;                                                                                   \
        A##r##1 += x * w1;                                                                                   \
        A##r##2 += x * w2;                                                                                   \
        A##r##3 += x * w3;                                                                                   \
    }
                ROWS(BWD_FMA)
            }
#define BWD_STORE(r)                                                                                         \
    if (R > r) {                                                                                             \
        float *o = dh_rec + ro[r] * Hq + k;                                                                  \
        st8(o, A##r##0);                                                                                     \
        st8(o + 8, A##r##1);                                                                                 \
        st8(o + 16, A##r##2);                                                                                \
        st8(o + 24, A##r##3);                                                                                \
    }
            ROWS(BWD_STORE)
        }
        if (!dwhh) continue;
        /* dW_hh (4H, Hq) += Σ_rows dA_rowᵀ · h_prev_row, with the block's h_prev in registers (rows
         * past the block's end hold 0, so that the repeated last row adds nothing) */
        for (int k = 0; k < Hq; k += 32) {
#define HP_LOAD(r)                                                                                           \
    v8 P##r##0 = {0}, P##r##1 = {0}, P##r##2 = {0}, P##r##3 = {0};                                           \
    if (R > r && r < nr) {                                                                                   \
        const float *q = hp + ro[r] * hs + k;                                                                \
        if (k < H) P##r##0 = ldn(q, H - k < 8 ? H - k : 8);                                                  \
        if (k + 8 < H) P##r##1 = ldn(q + 8, H - k - 8 < 8 ? H - k - 8 : 8);                                  \
        if (k + 16 < H) P##r##2 = ldn(q + 16, H - k - 16 < 8 ? H - k - 16 : 8);                              \
        if (k + 24 < H) P##r##3 = ldn(q + 24, H - k - 24 < 8 ? H - k - 24 : 8);                              \
    }
            ROWS(HP_LOAD)
            for (int m = 0; m < 4 * H; m++) {
                float *o = dwhh + (int64_t)m * Hq + k;
                v8 D0 = ld8(o), D1 = ld8(o + 8), D2 = ld8(o + 16), D3 = ld8(o + 24);
#define DW_FMA(r)                                                                                            \
    if (R > r) {                                                                                             \
        float x = d##r[m];                                                                                   \
        D0 += x * P##r##0;                                                                                   \
        D1 += x * P##r##1;                                                                                   \
        D2 += x * P##r##2;                                                                                   \
        D3 += x * P##r##3;                                                                                   \
    }
                ROWS(DW_FMA)
                st8(o, D0);
                st8(o + 8, D1);
                st8(o + 16, D2);
                st8(o + 24, D3);
            }
        }
    }
}

#define FWD_PARAMS                                                                                           \
    (float *a, float *h, float *c, const float *hp, const float *cp, const float *restrict wt, int Bc,       \
     int64_t gs, int64_t hs, int H, int Hp)
#define BWD_PARAMS                                                                                           \
    (float *da, float *dh_rec, float *dc_rec, const float *g, const float *c, const float *cp,               \
     const float *gh, const float *restrict wp, int Bc, int64_t gs, int64_t hs, int H, int Hq, int last,     \
     const float *hp, float *dwhh, float *bacc)
#define FWD_ARGS(R, lv) (a, h, c, hp, cp, wt, Bc, gs, hs, H, Hp, R, fwd_gates_##lv)
#define BWD_ARGS(R, lv)                                                                                      \
    (da, dh_rec, dc_rec, g, c, cp, gh, wp, Bc, gs, hs, H, Hq, last, hp, dwhh, bacc, R, bwd_gates_##lv)
#define GATES(attr, lv)                                                                                      \
    attr __attribute__((noinline)) static void fwd_gates_##lv(float *ar, float *cr, float *hr,               \
                                                              const float *cpr, int H) {                     \
        fwd_gates_body(ar, cr, hr, cpr, H);                                                                  \
    }                                                                                                        \
    attr __attribute__((noinline)) static void bwd_gates_##lv(float *dab, float *dcr, const float *dh,       \
                                                              const float *gb, const float *cb,              \
                                                              const float *cpr, const float *ghb, int H) {   \
        bwd_gates_body(dab, dcr, dh, gb, cb, cpr, ghb, H);                                                   \
    }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
GATES(DM_CPU_TARGET_AVX512, avx512)
GATES(DM_CPU_TARGET_AVX2, avx2)
GATES(, portable)
DM_CPU_TARGET_AVX512 static void fwd_step_avx512 FWD_PARAMS {
    fwd_step_body FWD_ARGS(6, avx512);
}
DM_CPU_TARGET_AVX2 static void fwd_step_avx2 FWD_PARAMS {
    fwd_step_body FWD_ARGS(3, avx2);
}
static void fwd_step_portable FWD_PARAMS {
    fwd_step_body FWD_ARGS(2, portable);
}
DM_CPU_TARGET_AVX512 static void bwd_step_avx512 BWD_PARAMS {
    bwd_step_body BWD_ARGS(6, avx512);
}
DM_CPU_TARGET_AVX2 static void bwd_step_avx2 BWD_PARAMS {
    bwd_step_body BWD_ARGS(3, avx2);
}
static void bwd_step_portable BWD_PARAMS {
    bwd_step_body BWD_ARGS(2, portable);
}

/* ---- the AVX-512 forward step on 16-lane vectors ----
 * fwd_step_body's arithmetic on 16 hidden units per vector (its AVX-512 copy runs 8-lane, 256-bit
 * vectors, the width of its generic vectors): every lane runs the same operations in the same order, so
 * h, gates and cell are bit for bit those of the 8-lane copy (test_lstm_fused), in half the
 * instructions. wt: W_hhᵀ padded to Hp, a multiple of 16. */
typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
VEC_MATH(v16, v16i, 16)
VEC_INLINE v16 ld16(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
VEC_INLINE v16 ldn16(const float *p, int n) {
    if (n == 16) return ld16(p);
    float t[16] = {0};
    for (int i = 0; i < n; i++) t[i] = p[i];
    return ld16(t);
}
VEC_INLINE void stn16(float *p, v16 v, int n) {
    if (n == 16) {
        memcpy(p, &v, sizeof v);
        return;
    }
    float t[16];
    memcpy(t, &v, sizeof v);
    for (int i = 0; i < n; i++) p[i] = t[i];
}
/* fwd_gates_body for two rows at once (row offsets ua, va into a; u, v into c, h and cp; the same row
 * twice for a lone last one, computed twice and stored twice, the same values): the two rows' exp chains
 * interleave, where one row's tanh(c), a chain of dependent operations, left the pipelines waiting. */
DM_CPU_TARGET_AVX512 __attribute__((noinline)) static void fwd_gates16x2(float *a, float *c, float *h, const float *cp,
                                                                         int64_t ua, int64_t va, int64_t u,
                                                                         int64_t v, int H) {
    float *au = a + ua, *av = a + va;
    for (int j = 0; j < H; j += 16) {
        int n = H - j < 16 ? H - j : 16;
        v16 i0 = vsigm16(ldn16(au + j, n)), i1 = vsigm16(ldn16(av + j, n));
        v16 f0 = vsigm16(ldn16(au + H + j, n)), f1 = vsigm16(ldn16(av + H + j, n));
        v16 g0 = vtanh16(ldn16(au + 2 * H + j, n)), g1 = vtanh16(ldn16(av + 2 * H + j, n));
        v16 o0 = vsigm16(ldn16(au + 3 * H + j, n)), o1 = vsigm16(ldn16(av + 3 * H + j, n));
        v16 c0 = i0 * g0, c1 = i1 * g1;
        if (cp) {
            c0 = c0 + f0 * ldn16(cp + u + j, n);
            c1 = c1 + f1 * ldn16(cp + v + j, n);
        }
        v16 h0 = o0 * vtanh16(c0), h1 = o1 * vtanh16(c1);
        stn16(au + j, i0, n);
        stn16(au + H + j, f0, n);
        stn16(au + 2 * H + j, g0, n);
        stn16(au + 3 * H + j, o0, n);
        stn16(c + u + j, c0, n);
        stn16(h + u + j, h0, n);
        stn16(av + j, i1, n);
        stn16(av + H + j, f1, n);
        stn16(av + 2 * H + j, g1, n);
        stn16(av + 3 * H + j, o1, n);
        stn16(c + v + j, c1, n);
        stn16(h + v + j, h1, n);
    }
}
#define ACC16_DECL(r) v16 A##r##0 = {0}, A##r##1 = {0}, A##r##2 = {0}, A##r##3 = {0};
DM_CPU_TARGET_AVX512 static void fwd_step_avx512w FWD_PARAMS {
    enum { R = 6 };
    for (int b0 = 0; b0 < Bc; b0 += R) {
        int64_t ro[6]; /* as fwd_step_body: a partial block repeats its last row */
        for (int r = 0; r < 6; r++) ro[r] = b0 + r < Bc ? b0 + r : Bc - 1;
        for (int j = 0; j < H; j += 16) {
            int n = H - j < 16 ? H - j : 16;
            ROWS(ACC16_DECL)
#define FWD16_INIT(r)                                                                                        \
    {                                                                                                        \
        const float *ar = a + ro[r] * gs + j;                                                                \
        A##r##0 = ldn16(ar, n);                                                                              \
        A##r##1 = ldn16(ar + H, n);                                                                          \
        A##r##2 = ldn16(ar + 2 * H, n);                                                                      \
        A##r##3 = ldn16(ar + 3 * H, n);                                                                      \
    }
            ROWS(FWD16_INIT)
            if (hp) {
                const float *h0 = hp + ro[0] * hs, *h1 = hp + ro[1] * hs, *h2 = hp + ro[2] * hs;
                const float *h3 = hp + ro[3] * hs, *h4 = hp + ro[4] * hs, *h5 = hp + ro[5] * hs;
                for (int k = 0; k < H; k++) {
                    const float *w = wt + ((int64_t)k * 4) * Hp + j;
                    v16 w0 = ld16(w), w1 = ld16(w + Hp), w2 = ld16(w + 2 * Hp), w3 = ld16(w + 3 * Hp);
                    ROWS(FWD_FMA)
                }
            }
#define FWD16_STORE(r)                                                                                       \
    {                                                                                                        \
        float *ar = a + ro[r] * gs + j;                                                                      \
        stn16(ar, A##r##0, n);                                                                               \
        stn16(ar + H, A##r##1, n);                                                                           \
        stn16(ar + 2 * H, A##r##2, n);                                                                       \
        stn16(ar + 3 * H, A##r##3, n);                                                                       \
    }
            ROWS(FWD16_STORE)
        }
        int nr = Bc - b0 < R ? Bc - b0 : R;
        for (int r = 0; r < nr; r += 2) {
            int r1 = r + 1 < nr ? r + 1 : r;
            fwd_gates16x2(a, c, h, cp, ro[r] * gs, ro[r1] * gs, ro[r] * hs, ro[r1] * hs, H);
        }
    }
}

typedef void(*fwd_step_fn) FWD_PARAMS;
typedef void(*bwd_step_fn) BWD_PARAMS;
static int fwd_width_forced; /* dm_cpu_lstm_force_width: 8 runs the AVX-512 level on 8 lanes (tests) */
int dm_cpu_lstm_force_width(int w) {
    fwd_width_forced = w == 8 ? 8 : 0;
    return fwd_width_forced ? 8 : dm_cpu_isa() == DM_ISA_AVX512 ? 16 : 8;
}
/* the step for the ISA level in use: *R rows per block, W_hhᵀ padded to a multiple of *VW */
static fwd_step_fn fwd_step_pick(int *R, int *VW) {
    int l = dm_cpu_isa();
    *R = l == DM_ISA_AVX512 ? 6 : l == DM_ISA_AVX2 ? 3 : 2;
    *VW = l == DM_ISA_AVX512 && !fwd_width_forced ? 16 : 8;
    if (l == DM_ISA_AVX512) return *VW == 16 ? fwd_step_avx512w : fwd_step_avx512;
    return l == DM_ISA_AVX2 ? fwd_step_avx2 : fwd_step_portable;
}
static bwd_step_fn bwd_step_pick(int *R) {
    int l = dm_cpu_isa();
    *R = l == DM_ISA_AVX512 ? 6 : l == DM_ISA_AVX2 ? 3 : 2;
    return l == DM_ISA_AVX512 ? bwd_step_avx512 : l == DM_ISA_AVX2 ? bwd_step_avx2 : bwd_step_portable;
}
#else
GATES(, portable)
static void fwd_step_portable FWD_PARAMS {
    fwd_step_body FWD_ARGS(2, portable);
}
static void bwd_step_portable BWD_PARAMS {
    bwd_step_body BWD_ARGS(2, portable);
}
typedef void(*fwd_step_fn) FWD_PARAMS;
typedef void(*bwd_step_fn) BWD_PARAMS;
int dm_cpu_lstm_force_width(int w) {
    (void)w;
    return 8;
}
static fwd_step_fn fwd_step_pick(int *R, int *VW) {
    *R = 2;
    *VW = 8;
    return fwd_step_portable;
}
static bwd_step_fn bwd_step_pick(int *R) {
    *R = 2;
    return bwd_step_portable;
}
#endif

static inline int round_up(int n, int m) {
    return (n + m - 1) / m * m;
}

/* Software prefetch of n floats at p for rows of a block (row stride rs): a block's rows advance by
 * one position per step (1 KiB for the RNN's gates), a stride the hardware prefetchers follow badly
 * across 6 interleaved rows; `w`: for writing. */
static inline void prefetch_rows(const float *p, int rows, int64_t rs, int n, bool w) {
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < n; i += 16) {
            if (w)
                __builtin_prefetch(p + r * rs + i, 1, 3);
            else
                __builtin_prefetch(p + r * rs + i, 0, 3);
        }
}
#define PF_AHEAD 2 /* steps */

typedef struct {
    dm_backend *be;
    float *h, *gates, *cell, *mean;
    const float *x, *w_ih, *w_hh, *b_ih, *b_hh;
    int B, L, D, H, n_dir, R, VW;
    fwd_step_fn step;
    int *next;   /* the first sequence of the next unclaimed block (blocks of R from 0) */
} lstm_fwd_job;

/* One-hot input (the RNN's: base codes encoded): a row of x that is all 0 but one 1, or all 0, projects
 * to b_ih + b_hh + that column of W_ih (or to the bias), exactly the GEMM's value: every product is
 * exact and at most one is not zero, so any order of the sum gives that column, and the one rounding
 * left is the addition to the bias, as in the GEMM (bit for bit, up to the sign of a zero). code[t]:
 * the column (D for a zero row); false, and the GEMM, when any row is not of that form or L is long. */
#define ONEHOT_MAX_D 8
#define ONEHOT_MAX_L 4096
static bool onehot_rows(int16_t *code, const float *x, int L, int D) {
    if (L > ONEHOT_MAX_L) return false;
    for (int t = 0; t < L; t++) {
        const float *r = x + (int64_t)t * D;
        int c = D;
        for (int k = 0; k < D; k++) {
            if (r[k] == 0.0f) continue;
            if (r[k] != 1.0f || c < D) return false;
            c = k;
        }
        code[t] = (int16_t)c;
    }
    return true;
}

/* thread t_id's batch slice through all steps (dm_cpu_parallel, pool.c). Inference (gates and cell
 * NULL): each block's pre-activations and cells live in the thread's scratch (slots 1 and 2: R·L·n_dir·4H
 * and R·L·n_dir·H floats, L2-resident) instead of the saved arrays, which at batch 256 were 30 MB
 * written by the projection, read and rewritten by the steps; the same calls on the same values, so h
 * is bit for bit the saving pass's. With `mean`, each block's mean over time is taken while its h is in
 * cache (mean_time.c's rows); h NULL: h stays in scratch (slot 3), never written out. */
static void lstm_fwd_part(void *arg, int t_id, int nt) {
    const lstm_fwd_job *j = arg;
    int16_t code[ONEHOT_MAX_L];
    dm_backend *be = j->be;
    float *h = j->h, *gates = j->gates, *cell = j->cell, *mean = j->mean;
    const float *x = j->x, *w_ih = j->w_ih, *w_hh = j->w_hh, *b_ih = j->b_ih, *b_hh = j->b_hh;
    int B = j->B, L = j->L, D = j->D, H = j->H, n_dir = j->n_dir, R = j->R;
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H, Hp = round_up(H, j->VW);
    fwd_step_fn step = j->step;
    bool save = gates != NULL;
    (void)nt;
    size_t n_wt = (size_t)n_dir * H * 4 * Hp;
    bool table = D <= ONEHOT_MAX_D;
    float *wt = dm_cpu_scratch(be, t_id, 0, n_wt + (table ? (size_t)(D + 1) * GD : 0));
    float *gblk = save ? NULL : dm_cpu_scratch(be, t_id, 1, (size_t)R * L * GD);
    float *cblk = save ? NULL : dm_cpu_scratch(be, t_id, 2, (size_t)R * L * HD);
    float *hblk = h ? NULL : dm_cpu_scratch(be, t_id, 3, (size_t)R * L * HD);
    if (!wt || (!save && !(gblk && cblk)) || (!h && !hblk)) return; /* dm_cpu_scratch recorded it */
    /* (the scratch first, even when nothing is left: which part finds work varies, its sizes must not) */
    if (__atomic_load_n(j->next, __ATOMIC_RELAXED) >= B) return;   /* nothing left for this part */
    /* W_hhᵀ of each direction, (H, 4, Hp), zero in the padding */
    memset(wt, 0, sizeof(float) * (size_t)n_dir * H * 4 * Hp);
    for (int d = 0; d < n_dir; d++)
        for (int r = 0; r < G; r++)
            for (int k = 0; k < H; k++)
                wt[(((int64_t)d * H + k) * 4 + r / H) * Hp + r % H] = w_hh[((int64_t)d * G + r) * H + k];
    /* the one-hot rows' projections (after wt): tab[c] = b_ih + b_hh + column c of W_ih, tab[D] = the bias */
    float *tab = table ? wt + n_wt : NULL;
    for (int c = 0; table && c <= D; c++)
        for (int r = 0; r < GD; r++)
            tab[(int64_t)c * GD + r] = c < D ? (b_ih[r] + b_hh[r]) + w_ih[(int64_t)r * D + c] : (b_ih[r] + b_hh[r]) + 0.0f;
    /* one block of R sequences at a time through all steps: its rows stream through the cache in order,
     * its state stays in L1 from one step to the next. The parts claim blocks in turn (sequences k·R ..
     * k·R + R − 1 of the batch, whatever the thread count) instead of owning a fixed slice: on cores
     * shared with other busy processes a thread the OS sets aside holds up at most the block it is in,
     * not half the batch (issue 12's under-load target); each sequence is computed by the same calls
     * in any block, so results do not depend on who runs which block. */
    for (;;) {
        int k = __atomic_fetch_add(j->next, R, __ATOMIC_RELAXED);
        if (k >= B) break;
        int nb = B - k < R ? B - k : R;
        int64_t bk = k; /* the block's first sequence */
        float *gk = save ? gates + bk * L * GD : gblk, *ck = save ? cell + bk * L * HD : cblk;
        float *hk = h ? h + bk * L * HD : hblk;
        /* a = b_ih + b_hh + x · W_ihᵀ for every position and direction of the block's sequences, one
         * GEMM per sequence (the same call whatever the slicing or the block), or rows of `tab` */
        for (int b = 0; b < nb; b++) {
            const float *xb = x + (bk + b) * L * D;
            float *gb = gk + (int64_t)b * L * GD;
            if (table && onehot_rows(code, xb, L, D)) {
                for (int t = 0; t < L; t++)
                    memcpy(gb + (int64_t)t * GD, tab + (int64_t)code[t] * GD, sizeof(float) * (size_t)GD);
                continue;
            }
            for (int64_t r = 0; r < L; r++)
                for (int c = 0; c < GD; c++) gb[r * GD + c] = b_ih[c] + b_hh[c];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, GD, D, 1.0f, xb, D, w_ih, D, 1.0f, gb, GD);
        }
        for (int d = 0; d < n_dir; d++)
            for (int s = 0; s < L; s++) {
                int t = lstm_pos(d, s, L), tp = lstm_pos(d, s - 1, L);
                if (s + PF_AHEAD < L) {
                    int tf = lstm_pos(d, s + PF_AHEAD, L);
                    prefetch_rows(gk + (int64_t)tf * GD + d * G, nb, (int64_t)L * GD, G, true);
                    prefetch_rows(hk + (int64_t)tf * HD + d * H, nb, (int64_t)L * HD, H, true);
                    prefetch_rows(ck + (int64_t)tf * HD + d * H, nb, (int64_t)L * HD, H, true);
                }
                step(gk + (int64_t)t * GD + d * G, hk + (int64_t)t * HD + d * H, ck + (int64_t)t * HD + d * H,
                     s > 0 ? hk + (int64_t)tp * HD + d * H : NULL, s > 0 ? ck + (int64_t)tp * HD + d * H : NULL,
                     wt + (int64_t)d * H * 4 * Hp, nb, (int64_t)L * GD, (int64_t)L * HD, H, Hp);
            }
        if (mean) dm_cpu_mean_time_rows(mean + bk * HD, hk, nb, L, HD);
    }
}

void dm_cpu_lstm_fwd(dm_backend *be, float *h, float *gates, float *cell, const float *x, const float *w_ih,
                     const float *w_hh, const float *b_ih, const float *b_hh, int B, int L, int D, int H,
                     int n_dir) {
    int nt = dm_cpu_threads(be, B);
    int R, VW;
    fwd_step_fn step = fwd_step_pick(&R, &VW);
    int next = 0;
    lstm_fwd_job j = {be, h, gates, cell, NULL, x, w_ih, w_hh, b_ih, b_hh, B, L, D, H, n_dir, R, VW, step, &next};
    dm_cpu_parallel(be, nt, lstm_fwd_part, &j);
}

/* lstm_fwd without the saved state (backend.h lstm_infer): h and the mean bit for bit as lstm_fwd's
 * and mean_time_fwd's */
void dm_cpu_lstm_infer(dm_backend *be, float *h, float *mean, const float *x, const float *w_ih, const float *w_hh,
                       const float *b_ih, const float *b_hh, int B, int L, int D, int H, int n_dir) {
    int nt = dm_cpu_threads(be, B);
    int R, VW;
    fwd_step_fn step = fwd_step_pick(&R, &VW);
    int next = 0;
    lstm_fwd_job j = {be, h, NULL, NULL, mean, x, w_ih, w_hh, b_ih, b_hh, B, L, D, H, n_dir, R, VW, step, &next};
    dm_cpu_parallel(be, nt, lstm_fwd_part, &j);
}

/* The backward's parameter gradients are summed per group of blocks: NG_MAX groups at most, each a
 * fixed run of blocks (set by B and R alone, never by the thread count), claimed in turn by the threads
 * and summed in group order after the join. So the weight gradients are bit-identical for any thread
 * count, and a thread the OS sets aside (cores shared with other busy processes) holds up one group,
 * not a half batch; the partials cost (NG_MAX − 1)·(|W_ih| + |W_hh|) floats of memory and one pass. */
#define NG_MAX 8

typedef struct {
    dm_backend *be;
    float *grad_x, *grad_w_ih, *grad_w_hh, *grad_gates;
    const float *grad_h, *x, *h, *gates, *cell, *w_ih, *w_hh;
    int B, L, D, H, n_dir, R, ng;
    bool want_b;
    bwd_step_fn step;
    float *partial;     /* groups g > 0: (W_ih | W_hh) gradients at (g − 1)·(|W_ih| + |W_hh|) */
    float *bsum;        /* every group: its column sums of dA (the bias gradient) at g·n_dir·4H */
    int next;           /* the next unclaimed group */
    int failed;         /* a thread's scratch could not be allocated (dm_cpu_scratch recorded it) */
} lstm_bwd_job;

/* one thread's part of the backward: groups of blocks claimed in turn, each block through all steps
 * (dm_cpu_parallel, pool.c) */
static void lstm_bwd_part(void *arg, int t_id, int nt) {
    (void)nt;
    lstm_bwd_job *j = arg;
    const float *grad_h = j->grad_h, *x = j->x, *h = j->h, *gates = j->gates, *cell = j->cell, *w_ih = j->w_ih,
                *w_hh = j->w_hh;
    int B = j->B, L = j->L, D = j->D, H = j->H, n_dir = j->n_dir, R = j->R, ng = j->ng;
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H, Hq = round_up(H, 32), nblk = (B + R - 1) / R;
    int64_t n_wih = (int64_t)GD * D, n_whh = (int64_t)n_dir * G * H;
    bool want_w = j->grad_w_ih || j->grad_w_hh;
    /* dh_rec | dc_rec (R, Hq) each, then W_hh of each direction padded to (4H, Hq), then the group's
     * dW_hh accumulator in the same layout */
    size_t n_pad = (size_t)n_dir * G * Hq, n_rec = (size_t)2 * R * Hq + 2 * n_pad;
    float *rec = dm_cpu_scratch(j->be, t_id, 1, n_rec);
    if (!rec) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    /* (the scratch first, even when nothing is left: which part finds work varies, its sizes must not) */
    if (__atomic_load_n(&j->next, __ATOMIC_RELAXED) >= ng) return;   /* nothing left for this part */
    float *dh_rec = rec, *dc_rec = rec + (size_t)R * Hq, *wp = rec + (size_t)2 * R * Hq, *dwp = wp + n_pad;
    for (int64_t r = 0; r < (int64_t)n_dir * G; r++) memcpy(wp + r * Hq, w_hh + r * H, sizeof(float) * (size_t)H);
    for (;;) {
        int g = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (g >= ng) break;
        /* group 0 accumulates straight into the gradients, the others into their partials */
        float *gwih = j->grad_w_ih, *gwhh = j->grad_w_hh, *bsum = j->want_b ? j->bsum + (int64_t)g * GD : NULL;
        if (g > 0 && want_w) {
            gwih = j->partial + (int64_t)(g - 1) * (n_wih + n_whh);
            gwhh = gwih + n_wih;
            memset(gwih, 0, sizeof(float) * (size_t)(n_wih + n_whh));
        }
        if (bsum) memset(bsum, 0, sizeof(float) * (size_t)GD);
        if (j->grad_w_hh) memset(dwp, 0, sizeof(float) * n_pad);
        int k0 = (int)((int64_t)nblk * g / ng) * R, k1 = (int)((int64_t)nblk * (g + 1) / ng) * R;
        if (k1 > B) k1 = B;
        for (int k = k0; k < k1; k += R) { /* block by block through all steps, as the forward */
            int nb = B - k < R ? B - k : R;
            const float *gk = gates + (int64_t)k * L * GD, *ck = cell + (int64_t)k * L * HD;
            const float *ghk = grad_h + (int64_t)k * L * HD, *hk = h + (int64_t)k * L * HD;
            float *dak = j->grad_gates + (int64_t)k * L * GD;
            for (int d = 0; d < n_dir; d++) {
                /* a fresh recurrence for each block and direction */
                memset(dh_rec, 0, sizeof(float) * (size_t)nb * Hq);
                memset(dc_rec, 0, sizeof(float) * (size_t)nb * Hq);
                for (int s = L - 1; s >= 0; s--) {
                    int t = lstm_pos(d, s, L), tp = lstm_pos(d, s - 1, L);
                    if (s - PF_AHEAD >= 1) { /* (the previous cell of step s − 2 is read at s − 1 already) */
                        int tf = lstm_pos(d, s - PF_AHEAD, L), tfp = lstm_pos(d, s - PF_AHEAD - 1, L);
                        prefetch_rows(gk + (int64_t)tf * GD + d * G, nb, (int64_t)L * GD, G, false);
                        prefetch_rows(dak + (int64_t)tf * GD + d * G, nb, (int64_t)L * GD, G, true);
                        prefetch_rows(ghk + (int64_t)tf * HD + d * H, nb, (int64_t)L * HD, H, false);
                        prefetch_rows(ck + (int64_t)tfp * HD + d * H, nb, (int64_t)L * HD, H, false);
                    }
                    j->step(dak + (int64_t)t * GD + d * G, dh_rec, dc_rec, gk + (int64_t)t * GD + d * G,
                            ck + (int64_t)t * HD + d * H, s > 0 ? ck + (int64_t)tp * HD + d * H : NULL,
                            ghk + (int64_t)t * HD + d * H, wp + (int64_t)d * G * Hq, nb, (int64_t)L * GD,
                            (int64_t)L * HD, H, Hq, s == 0, s > 0 ? hk + (int64_t)tp * HD + d * H : NULL,
                            j->grad_w_hh ? dwp + (int64_t)d * G * Hq : NULL, bsum ? bsum + d * G : NULL);
                }
            }
            /* the block's dA is complete and still in cache: dW_ih (n_dir·4H, D) += dAᵀ · x over its rows,
             * and dx (L, D) = dA (L, n_dir·4H) · W_ih per sequence (as the forward's projection) */
            if (j->grad_w_ih)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, GD, D, nb * L, 1.0f, dak, GD,
                            x + (int64_t)k * L * D, D, 1.0f, gwih, D);
            if (j->grad_x)
                for (int b = 0; b < nb; b++)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, D, GD, 1.0f,
                                dak + (int64_t)b * L * GD, GD, w_ih, D, 0.0f,
                                j->grad_x + ((int64_t)k + b) * L * D, D);
        }
        if (j->grad_w_hh) /* the group's dW_hh without its padding */
            for (int64_t r = 0; r < (int64_t)n_dir * G; r++) dm_cpu_add(gwhh + r * H, dwp + r * Hq, H);
    }
}

void dm_cpu_lstm_bwd(dm_backend *be, float *grad_x, float *grad_w_ih, float *grad_w_hh, float *grad_b_ih,
                     float *grad_b_hh, float *grad_gates, const float *grad_h, const float *x, const float *h,
                     const float *gates, const float *cell, const float *w_ih, const float *w_hh, int B,
                     int L, int D, int H, int n_dir) {
    int G = 4 * H, GD = n_dir * G;
    int64_t n_wih = (int64_t)GD * D, n_whh = (int64_t)n_dir * G * H;
    bool want_b = grad_b_ih || grad_b_hh, want_w = grad_w_ih || grad_w_hh;
    int R;
    bwd_step_fn step = bwd_step_pick(&R);
    int nblk = (B + R - 1) / R, ng = nblk < NG_MAX ? nblk : NG_MAX;
    if (B < 1) return;
    /* the groups' partials live in the calling thread's scratch (slots 2 and 3; the parts use slot 1) */
    float *partial = NULL, *bsum = NULL;
    if (want_w && ng > 1 && !(partial = dm_cpu_scratch(be, 0, 2, (size_t)(ng - 1) * (size_t)(n_wih + n_whh))))
        return; /* dm_cpu_scratch recorded it */
    if (want_b && !(bsum = dm_cpu_scratch(be, 0, 3, (size_t)ng * GD))) return;
    lstm_bwd_job j = {be, grad_x, grad_w_ih, grad_w_hh, grad_gates, grad_h, x, h, gates, cell, w_ih, w_hh,
                      B, L, D, H, n_dir, R, ng, want_b, step, partial, bsum, 0, 0};
    dm_cpu_parallel(be, dm_cpu_threads(be, ng), lstm_bwd_part, &j);
    if (j.failed) return; /* dm_cpu_scratch recorded it */
    /* the other groups' partials in group order; both bias vectors get the same sums */
    for (int g = 0; g < ng; g++) {
        if (g > 0 && want_w) {
            const float *p = partial + (int64_t)(g - 1) * (n_wih + n_whh);
            if (grad_w_ih) dm_cpu_add(grad_w_ih, p, n_wih);
            if (grad_w_hh) dm_cpu_add(grad_w_hh, p + n_wih, n_whh);
        }
        if (grad_b_ih) dm_cpu_add(grad_b_ih, bsum + (int64_t)g * GD, GD);
        if (grad_b_hh) dm_cpu_add(grad_b_hh, bsum + (int64_t)g * GD, GD);
    }
}
