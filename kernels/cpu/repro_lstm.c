/*
 * repro_lstm.c: the (bi)LSTM of the "cpu-reproducible" backend (repro.h: the same bits on any x86-64
 * CPU, ISA level and thread count). Equations, layouts and the reference: lstm.c.
 *
 * Forward: threads take blocks of sequences (each sequence alone: no result depends on the split).
 * Per block, the input projection of all its positions, gates = (b_ih + b_hh) + x · W_ihᵀ (one fixed-
 * order product, repro_gemm.c), then per direction and step the recurrent product is added to the
 * step's gate rows in the same chain (DM_GEMM_ACC: k over x's D entries, then over h_prev's H), and
 * the gate math runs from those rows. σ, tanh and exp are this file's own (below), evaluated with the
 * same float operations at every ISA level: no libm, whose FMA and non-FMA variants glibc picks by CPU.
 * Backward: per block (threads take blocks), per direction and step back in time, the pre-activation
 * gradients dA from the saved gates and cells, then dh_rec = dA · W_hh; once a block has both
 * directions, dx = dA · W_ih for its positions. Parameter gradients then split rows of W (threads take
 * rows), each row summed over the batch sequence by sequence in batch order and added to the gradient.
 * Every product and sum is rounded on its own (-ffp-contract=off for this file).
 */
#include <string.h>

#include "repro.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi" /* 32-byte vectors in always-inline helpers of the SSE2 copy */
#endif

typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
#define VI static inline __attribute__((always_inline))

/* Sequences per block: the forward's recurrent product has this many rows (the AVX-512 tile's 6). */
#define RB 6

/* the first n (1..8) lanes from / to p; the others 0 */
VI v8 ldn(const float *p, int n) {
    v8 v = {0};
    if (n == 8) memcpy(&v, p, sizeof v);
    else for (int i = 0; i < n; i++) v[i] = p[i];
    return v;
}
VI void stn(float *p, v8 v, int n) {
    if (n == 8) memcpy(p, &v, sizeof v);
    else for (int i = 0; i < n; i++) p[i] = v[i];
}
VI v8 bcast(float x) { return (v8){0} + x; }
VI v8 vsel(v8i m, v8 a, v8 b) { return (v8)((m & (v8i)a) | (~m & (v8i)b)); }

/* e^x: x clamped to [−87, 88] (2^n then stays a normal float; σ and tanh saturate long before);
 * n = x·log2(e) rounded to an integer by adding and subtracting 1.5·2²³; r = x − n·ln 2 in two parts
 * (Cody–Waite: 0.693359375 has 9 bits, so n times it is exact for |n| ≤ 128); e^r by its Taylor
 * polynomial of degree 7 in Horner form (|r| ≤ 0.347: the remainder r⁸/8! < 5.2e−9 ≈ u/11 relative),
 * then scaled by 2^n built in the exponent field. A NaN stays NaN (it passes the clamps and the
 * polynomial). */
VI v8 vexp(v8 x) {
    x = vsel(x > bcast(88.0f), bcast(88.0f), x);
    x = vsel(x < bcast(-87.0f), bcast(-87.0f), x);
    v8 n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    v8 r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    v8 p = bcast(1.0f / 5040.0f);
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    v8i e = (__builtin_convertvector(n, v8i) + 127) << 23;
    return p * (v8)e;
}
VI v8 vsigm(v8 x) { return 1.0f / (1.0f + vexp(-x)); }
VI v8 vtanh(v8 x) { return 1.0f - 2.0f / (1.0f + vexp(2.0f * x)); }

/* Position read at step s of direction d. */
static inline int lpos(int d, int s, int L) { return d == 0 ? s : L - 1 - s; }

typedef struct {
    dm_backend *be;
    float *h, *gates, *cell, *grad_x, *grad_w_ih, *grad_w_hh, *grad_b_ih, *grad_b_hh, *grad_gates;
    const float *x, *w_ih, *w_hh, *grad_h;
    const float *wt_ih, *wt_hh, *bias;   /* forward: W_ihᵀ (D, GD), W_hh[d]ᵀ (H, G) per d, b_ih + b_hh */
    int B, L, D, H, n_dir;
} lstm_job;

/* ---- forward ------------------------------------------------------------------------------------------ */

/* the activated gates of one row (pre-activations ar, replaced), its cell and h; cpr NULL at step 0 */
DM_CPU_BODY void fwd_gates_body(float *ar, float *cr, float *hr, const float *cpr, int H) {
    for (int j = 0; j < H; j += 8) {
        int n = H - j < 8 ? H - j : 8;
        v8 i = vsigm(ldn(ar + j, n)), f = vsigm(ldn(ar + H + j, n));
        v8 g = vtanh(ldn(ar + 2 * H + j, n)), o = vsigm(ldn(ar + 3 * H + j, n));
        v8 c = i * g;
        if (cpr) c = f * ldn(cpr + j, n) + c;
        v8 hv = o * vtanh(c);
        stn(ar + j, i, n);
        stn(ar + H + j, f, n);
        stn(ar + 2 * H + j, g, n);
        stn(ar + 3 * H + j, o, n);
        stn(cr + j, c, n);
        stn(hr + j, hv, n);
    }
}
DM_CPU_DISPATCH(fwd_gates, (float *ar, float *cr, float *hr, const float *cpr, int H), (ar, cr, hr, cpr, H))

static void fwd_seqs(void *p, int t, int64_t q0, int64_t q1) {
    lstm_job *j = p;
    int L = j->L, D = j->D, H = j->H, G = 4 * H, GD = j->n_dir * G, HD = j->n_dir * H;
    for (int64_t b0 = q0; b0 < q1; b0 += RB) {
        int R = q1 - b0 < RB ? (int)(q1 - b0) : RB;
        float *gb = j->gates + b0 * L * GD;
        for (int64_t r = 0; r < (int64_t)R * L; r++) memcpy(gb + r * GD, j->bias, sizeof(float) * (size_t)GD);
        dm_repro_gemm(R * L, GD, D, j->x + b0 * L * D, D, 1, j->wt_ih, GD, gb, GD, DM_GEMM_ACC);
        for (int d = 0; d < j->n_dir; d++)
            for (int s = 0; s < L; s++) {
                int tt = lpos(d, s, L), tp = lpos(d, s - 1, L);
                if (s > 0)
                    dm_repro_gemm(R, G, H, j->h + (b0 * L + tp) * HD + d * H, (int64_t)L * HD, 1,
                                  j->wt_hh + (int64_t)d * H * G, G, gb + (int64_t)tt * GD + d * G, (int64_t)L * GD,
                                  DM_GEMM_ACC);
                for (int r = 0; r < R; r++) {
                    int64_t row = (b0 + r) * L;
                    fwd_gates(j->gates + (row + tt) * GD + d * G, j->cell + (row + tt) * HD + d * H,
                              j->h + (row + tt) * HD + d * H, s > 0 ? j->cell + (row + tp) * HD + d * H : NULL, H);
                }
            }
    }
}

void dm_cpu_lstm_fwd_fixed(dm_backend *be, float *h, float *gates, float *cell, const float *x, const float *w_ih,
                           const float *w_hh, const float *b_ih, const float *b_hh, int B, int L, int D, int H,
                           int n_dir) {
    int G = 4 * H, GD = n_dir * G;
    float *wt = dm_cpu_scratch(be, 0, 3, (size_t)D * GD + (size_t)n_dir * H * G + GD);
    if (!wt) return;
    float *wt_hh = wt + (size_t)D * GD, *bias = wt_hh + (size_t)n_dir * H * G;
    dm_repro_transpose(wt, w_ih, GD, D);
    for (int d = 0; d < n_dir; d++) dm_repro_transpose(wt_hh + (size_t)d * H * G, w_hh + (size_t)d * G * H, G, H);
    for (int r = 0; r < GD; r++) bias[r] = b_ih[r] + b_hh[r];
    lstm_job j = {.be = be, .h = h, .gates = gates, .cell = cell, .x = x, .wt_ih = wt, .wt_hh = wt_hh, .bias = bias,
                  .B = B, .L = L, .D = D, .H = H, .n_dir = n_dir};
    dm_repro_par(be, B, 1, fwd_seqs, &j);
}

/* ---- backward ----------------------------------------------------------------------------------------- */

/* One row's pre-activation gradients at one step (lstm.c's formulas, each product rounded in turn):
 * ar the saved gates, c / cp the cell and the previous one (NULL at step 0), gh the output gradient, dh /
 * dc the recurrent gradients (dh = dA_next · W_hh; dc replaced by this step's dc · f), da out. */
DM_CPU_BODY void bwd_gates_body(float *da, float *dc, const float *dh, const float *ar, const float *c,
                                const float *cp, const float *gh, int H) {
    for (int j = 0; j < H; j += 8) {
        int n = H - j < 8 ? H - j : 8;
        v8 i = ldn(ar + j, n), f = ldn(ar + H + j, n), g = ldn(ar + 2 * H + j, n), o = ldn(ar + 3 * H + j, n);
        v8 cprev = cp ? ldn(cp + j, n) : (v8){0};
        v8 dhv = ldn(gh + j, n) + ldn(dh + j, n);
        v8 tc = vtanh(ldn(c + j, n));
        v8 dcv = ldn(dc + j, n) + (dhv * o) * (1.0f - tc * tc);
        stn(da + j, ((dcv * g) * i) * (1.0f - i), n);
        stn(da + H + j, ((dcv * cprev) * f) * (1.0f - f), n);
        stn(da + 2 * H + j, (dcv * i) * (1.0f - g * g), n);
        stn(da + 3 * H + j, ((dhv * tc) * o) * (1.0f - o), n);
        stn(dc + j, dcv * f, n);
    }
}
DM_CPU_DISPATCH(bwd_gates,
                (float *da, float *dc, const float *dh, const float *ar, const float *c, const float *cp,
                 const float *gh, int H),
                (da, dc, dh, ar, c, cp, gh, H))

static void bwd_seqs(void *p, int t, int64_t q0, int64_t q1) {
    lstm_job *j = p;
    int L = j->L, D = j->D, H = j->H, G = 4 * H, GD = j->n_dir * G, HD = j->n_dir * H;
    float *dh = dm_cpu_scratch(j->be, t, 0, (size_t)2 * RB * H);
    if (!dh) return;
    float *dc = dh + (size_t)RB * H;
    for (int64_t b0 = q0; b0 < q1; b0 += RB) {
        int R = q1 - b0 < RB ? (int)(q1 - b0) : RB;
        for (int d = 0; d < j->n_dir; d++) {
            memset(dh, 0, sizeof(float) * (size_t)2 * RB * H);
            for (int s = L - 1; s >= 0; s--) {
                int tt = lpos(d, s, L), tp = lpos(d, s - 1, L);
                for (int r = 0; r < R; r++) {
                    int64_t row = (b0 + r) * L;
                    bwd_gates(j->grad_gates + (row + tt) * GD + d * G, dc + (size_t)r * H, dh + (size_t)r * H,
                              j->gates + (row + tt) * GD + d * G, j->cell + (row + tt) * HD + d * H,
                              s > 0 ? j->cell + (row + tp) * HD + d * H : NULL, j->grad_h + (row + tt) * HD + d * H,
                              H);
                }
                if (s > 0)   /* dh_rec for the step before: dA (R, G) · W_hh[d] (G, H) */
                    dm_repro_gemm(R, H, G, j->grad_gates + (b0 * L + tt) * GD + d * G, (int64_t)L * GD, 1,
                                  j->w_hh + (int64_t)d * G * H, H, dh, H, DM_GEMM_SET);
            }
        }
        if (j->grad_x)   /* dx (R·L, D) = dA (R·L, GD) · W_ih (GD, D) */
            dm_repro_gemm(R * L, D, GD, j->grad_gates + b0 * L * GD, GD, 1, j->w_ih, D, j->grad_x + b0 * L * D, D,
                          DM_GEMM_SET);
    }
}

/* Rows [r0, r1) of the stacked parameter gradients (row r = d·G + gate unit): bias, W_ih, W_hh, each
 * a sum over sequences in batch order (per sequence over its positions, then added). */
static void bwd_rows(void *p, int t, int64_t r0, int64_t r1) {
    lstm_job *j = p;
    int B = j->B, L = j->L, D = j->D, H = j->H, G = 4 * H, GD = j->n_dir * G, HD = j->n_dir * H;
    const float *gg = j->grad_gates;
    if (j->grad_b_ih || j->grad_b_hh) {
        float *sb = dm_cpu_scratch(j->be, t, 1, (size_t)(r1 - r0));
        if (!sb) return;
        int nr = (int)(r1 - r0);
        for (int r = 0; r < nr; r++) sb[r] = 0.0f;
        for (int64_t q = 0; q < (int64_t)B * L; q++)
            for (int r = 0; r < nr; r++) sb[r] = sb[r] + gg[q * GD + r0 + r];
        for (int r = 0; r < nr; r++) {
            if (j->grad_b_ih) j->grad_b_ih[r0 + r] += sb[r];
            if (j->grad_b_hh) j->grad_b_hh[r0 + r] += sb[r];
        }
    }
    if (j->grad_w_ih)
        for (int b = 0; b < B; b++)
            dm_repro_gemm((int)(r1 - r0), D, L, gg + (int64_t)b * L * GD + r0, 1, GD, j->x + (int64_t)b * L * D, D,
                          j->grad_w_ih + r0 * D, D, DM_GEMM_ADD);
    if (j->grad_w_hh && L > 1)
        for (int d = 0; d < j->n_dir; d++) {   /* the rows of this range in direction d */
            int64_t a0 = r0 > (int64_t)d * G ? r0 : (int64_t)d * G, a1 = r1 < (int64_t)(d + 1) * G ? r1 : (int64_t)(d + 1) * G;
            if (a1 <= a0) continue;
            int t0 = d == 0 ? 1 : 0, tp0 = d == 0 ? 0 : 1;   /* dA at t pairs with h at t − 1 (d 0), t + 1 (d 1) */
            for (int b = 0; b < B; b++)
                dm_repro_gemm((int)(a1 - a0), H, L - 1, gg + ((int64_t)b * L + t0) * GD + a0, 1, GD,
                              j->h + ((int64_t)b * L + tp0) * HD + d * H, HD, j->grad_w_hh + a0 * H, H, DM_GEMM_ADD);
        }
}

void dm_cpu_lstm_bwd_fixed(dm_backend *be, float *grad_x, float *grad_w_ih, float *grad_w_hh, float *grad_b_ih,
                           float *grad_b_hh, float *grad_gates, const float *grad_h, const float *x, const float *h,
                           const float *gates, const float *cell, const float *w_ih, const float *w_hh, int B, int L,
                           int D, int H, int n_dir) {
    lstm_job j = {.be = be, .h = (float *)h, .gates = (float *)gates, .cell = (float *)cell, .grad_x = grad_x,
                  .grad_w_ih = grad_w_ih, .grad_w_hh = grad_w_hh, .grad_b_ih = grad_b_ih, .grad_b_hh = grad_b_hh,
                  .grad_gates = grad_gates, .x = x, .w_ih = w_ih, .w_hh = w_hh, .grad_h = grad_h, .B = B, .L = L,
                  .D = D, .H = H, .n_dir = n_dir};
    dm_repro_par(be, B, 1, bwd_seqs, &j);
    if (grad_w_ih || grad_w_hh || grad_b_ih || grad_b_hh) dm_repro_par(be, (int64_t)n_dir * 4 * H, 1, bwd_rows, &j);
}
