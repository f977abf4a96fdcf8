/*
 * lstm.c: the (bi)directional LSTM of the DeMo recurrent models (SPEC.md §2), no peepholes, h0 = c0 = 0.
 * Per direction d and step, with a = W_ih x_t + W_hh h_prev + b_ih + b_hh (gate blocks i, f, g, o):
 *   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o);  c = f ⊙ c_prev + i ⊙ g;  h = o ⊙ tanh(c).
 * Direction 0 walks positions 0 → L−1; direction 1 walks L−1 → 0 and stores its state at the position
 * it read ("reverse, LSTM, reverse back"), so h (B, L, n_dir·H) holds both halves per position.
 *
 * Fast path (PERFORMANCE.md §3): the input projection of all positions and both directions is ONE
 * GEMM, x (Bc·L, D) · W_ihᵀ (D, n_dir·4H), written straight into `gates`; only W_hh · h_prev stays in
 * the serial loop, a strided (Bc, H) · (H, 4H) GEMM per step that adds into the same rows, followed by
 * the fused gate math. Backward walks each direction in reverse with dh_rec = dA · W_hh and
 * dW_hh += dAᵀ · h_prev per step; dW_ih and dx are again one GEMM each over all positions.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* Position read at step s of direction d, and the position of the previous step. */
static inline int lstm_pos(int d, int s, int L) { return d == 0 ? s : L - 1 - s; }

/* ---- reference: per sequence, per step, per gate, plain loops in double ---- */

void dm_cpu_lstm_fwd_ref(dm_backend *be, float *h, float *gates, float *cell, const float *x,
                         const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh,
                         int B, int L, int D, int H, int n_dir) {
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H;
    for (int b = 0; b < B; b++)
        for (int d = 0; d < n_dir; d++)
            for (int s = 0; s < L; s++) {
                int t = lstm_pos(d, s, L), tp = lstm_pos(d, s - 1, L);
                const float *xt = x + ((int64_t)b * L + t) * D;
                const float *hp = s > 0 ? h + ((int64_t)b * L + tp) * HD + d * H : NULL;
                const float *cp = s > 0 ? cell + ((int64_t)b * L + tp) * HD + d * H : NULL;
                float *gt = gates + ((int64_t)b * L + t) * GD + d * G;
                for (int r = 0; r < G; r++) {
                    double a = (double)b_ih[d * G + r] + b_hh[d * G + r];
                    for (int k = 0; k < D; k++) a += (double)w_ih[((int64_t)d * G + r) * D + k] * xt[k];
                    for (int k = 0; hp && k < H; k++) a += (double)w_hh[((int64_t)d * G + r) * H + k] * hp[k];
                    gt[r] = (float)(r / H == 2 ? tanh(a) : 1.0 / (1.0 + exp(-a)));
                }
                for (int j = 0; j < H; j++) {
                    double c = (double)gt[H + j] * (cp ? cp[j] : 0.0) + (double)gt[j] * gt[2 * H + j];
                    cell[((int64_t)b * L + t) * HD + d * H + j] = (float)c;
                    h[((int64_t)b * L + t) * HD + d * H + j] = (float)(gt[3 * H + j] * tanh(c));
                }
            }
}

/* Temporal scores' truncated reruns (backend.h lstm_trunc): every run from zero state, in double. */
bool dm_cpu_lstm_trunc_ref(dm_backend *be, float *out, const float *x, const float *w_ih, const float *w_hh,
                           const float *b_ih, const float *b_hh, int B, int L, int D, int H) {
    (void)be;
    int G = 4 * H;
    double *hc = malloc(sizeof(double) * (size_t)(3 * H + G));
    if (!hc) return false;
    double *hv = hc, *cv = hc + H, *sum = hc + 2 * H, *a = hc + 3 * H;
    for (int b = 0; b < B; b++)
        for (int n = 1; n <= L; n++)
            for (int p = 0; p < 2; p++) {
                int d = p == 0 ? 1 : 0;
                float *o = out + (((int64_t)b * L + n - 1) * 2 + p) * H;
                for (int j = 0; j < H; j++) hv[j] = cv[j] = sum[j] = 0.0;
                for (int s = 0; s < n; s++) {
                    int t = p == 0 ? n - 1 - s : L - n + s;
                    const float *xt = x + ((int64_t)b * L + t) * D;
                    for (int r = 0; r < G; r++) {
                        double v = (double)b_ih[d * G + r] + b_hh[d * G + r];
                        for (int k = 0; k < D; k++) v += (double)w_ih[((int64_t)d * G + r) * D + k] * xt[k];
                        for (int k = 0; k < H; k++) v += (double)w_hh[((int64_t)d * G + r) * H + k] * hv[k];
                        a[r] = r / H == 2 ? tanh(v) : 1.0 / (1.0 + exp(-v));
                    }
                    for (int j = 0; j < H; j++) {
                        cv[j] = a[H + j] * cv[j] + a[j] * a[2 * H + j];
                        hv[j] = a[3 * H + j] * tanh(cv[j]);
                        sum[j] += hv[j];
                    }
                }
                for (int j = 0; j < H; j++) o[j] = (float)sum[j];
            }
    free(hc);
    return true;
}

void dm_cpu_lstm_bwd_ref(dm_backend *be, float *grad_x, float *grad_w_ih, float *grad_w_hh,
                         float *grad_b_ih, float *grad_b_hh, float *grad_gates, const float *grad_h,
                         const float *x, const float *h, const float *gates, const float *cell,
                         const float *w_ih, const float *w_hh, int B, int L, int D, int H, int n_dir) {
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H;
    double dh_rec[4096], dc_rec[4096];   /* H ≤ 4096 (checked by the model) */
    for (int b = 0; b < B; b++)
        for (int d = 0; d < n_dir; d++) {
            for (int j = 0; j < H; j++) dh_rec[j] = dc_rec[j] = 0;
            for (int s = L - 1; s >= 0; s--) {
                int t = lstm_pos(d, s, L), tp = lstm_pos(d, s - 1, L);
                const float *gt = gates + ((int64_t)b * L + t) * GD + d * G;
                float *da = grad_gates + ((int64_t)b * L + t) * GD + d * G;
                for (int j = 0; j < H; j++) {
                    double i = gt[j], f = gt[H + j], g = gt[2 * H + j], o = gt[3 * H + j];
                    double c = cell[((int64_t)b * L + t) * HD + d * H + j];
                    double cprev = s > 0 ? cell[((int64_t)b * L + tp) * HD + d * H + j] : 0.0;
                    double dh = grad_h[((int64_t)b * L + t) * HD + d * H + j] + dh_rec[j];
                    double tc = tanh(c);
                    double dc = dc_rec[j] + dh * o * (1 - tc * tc);
                    da[j] = (float)(dc * g * i * (1 - i));
                    da[H + j] = (float)(dc * cprev * f * (1 - f));
                    da[2 * H + j] = (float)(dc * i * (1 - g * g));
                    da[3 * H + j] = (float)(dh * tc * o * (1 - o));
                    dc_rec[j] = dc * f;
                }
                for (int k = 0; k < H; k++) {
                    double s2 = 0;
                    for (int r = 0; r < G; r++) s2 += (double)da[r] * w_hh[((int64_t)d * G + r) * H + k];
                    dh_rec[k] = s2;
                }
            }
        }
    /* parameter gradients from the saved pre-activation gradients (NULL: input gradient only) */
    for (int d = 0; d < n_dir && grad_w_ih; d++)
        for (int r = 0; r < G; r++) {
            double sb = 0, sih[4096], shh[4096];
            for (int k = 0; k < D; k++) sih[k] = 0;
            for (int k = 0; k < H; k++) shh[k] = 0;
            for (int b = 0; b < B; b++)
                for (int s = 0; s < L; s++) {
                    int t = lstm_pos(d, s, L), tp = lstm_pos(d, s - 1, L);
                    double da = grad_gates[((int64_t)b * L + t) * GD + d * G + r];
                    sb += da;
                    for (int k = 0; k < D; k++) sih[k] += da * x[((int64_t)b * L + t) * D + k];
                    for (int k = 0; s > 0 && k < H; k++) shh[k] += da * h[((int64_t)b * L + tp) * HD + d * H + k];
                }
            grad_b_ih[d * G + r] += (float)sb;
            grad_b_hh[d * G + r] += (float)sb;
            for (int k = 0; k < D; k++) grad_w_ih[((int64_t)d * G + r) * D + k] += (float)sih[k];
            for (int k = 0; k < H; k++) grad_w_hh[((int64_t)d * G + r) * H + k] += (float)shh[k];
        }
    if (!grad_x) return;
    for (int64_t bt = 0; bt < (int64_t)B * L; bt++)
        for (int k = 0; k < D; k++) {
            double s = 0;
            for (int r = 0; r < GD; r++) s += (double)grad_gates[bt * GD + r] * w_ih[(int64_t)r * D + k];
            grad_x[bt * D + k] = (float)s;
        }
}

/* ---- fast path ---- */

/* Gate math of one step for rows [0, Bc) of direction d at position t; `a` holds pre-activations
 * (row stride L·GD) and receives the activated gates. */
DM_CPU_BODY void lstm_step_fwd_body(float *restrict a, float *restrict hrow, float *restrict crow,
                                    const float *restrict cprev, int Bc, int64_t gstride,
                                    int64_t hstride, int H) {
    for (int b = 0; b < Bc; b++) {
        float *g = a + b * gstride;
        float *hh = hrow + b * hstride, *cc = crow + b * hstride;
        const float *cp = cprev ? cprev + b * hstride : NULL;
#pragma omp simd
        for (int j = 0; j < 2 * H; j++) g[j] = dm_sigmoidf(g[j]);     /* i and f in place */
#pragma omp simd
        for (int j = 0; j < H; j++) {
            float gg = dm_tanhf(g[2 * H + j]);
            float o = dm_sigmoidf(g[3 * H + j]);
            float c = g[j] * gg + (cp ? g[H + j] * cp[j] : 0.0f);
            g[2 * H + j] = gg;
            g[3 * H + j] = o;
            cc[j] = c;
            hh[j] = o * dm_tanhf(c);
        }
    }
}
DM_CPU_DISPATCH(lstm_step_fwd,
                (float *restrict a, float *restrict hrow, float *restrict crow, const float *restrict cprev,
                 int Bc, int64_t gstride, int64_t hstride, int H),
                (a, hrow, crow, cprev, Bc, gstride, hstride, H))

/* Backward gate math of one step for rows [0, Bc) of direction d at position t (s > 0: first = 1,
 * cp the previous cell; s = 0: first = 0 and cp = c, multiplied by 0): dA from the saved gates, the
 * output gradient gh plus the recurrent dh_rec, and the carried dc_rec, which it updates. */
DM_CPU_BODY void lstm_step_bwd_body(float *restrict dac, float *restrict dh_rec, float *restrict dc_rec,
                                    const float *restrict gc, const float *restrict cc,
                                    const float *restrict ghc, int Bc, int L, int t, int tp, int d,
                                    int first_step, int H, int GD, int HD) {
    int G = 4 * H;
    for (int b = 0; b < Bc; b++) {
        const float *g = gc + ((int64_t)b * L + t) * GD + d * G;
        const float *c = cc + ((int64_t)b * L + t) * HD + d * H;
        /* c_prev = 0 at the first step: read c itself and multiply by 0 */
        const float *cp = first_step ? c : cc + ((int64_t)b * L + tp) * HD + d * H;
        float first = first_step ? 0.0f : 1.0f;
        const float *gh = ghc + ((int64_t)b * L + t) * HD + d * H;
        float *da = dac + ((int64_t)b * L + t) * GD + d * G;
        float *dh = dh_rec + (size_t)b * H, *dcr = dc_rec + (size_t)b * H;
#pragma omp simd
        for (int j = 0; j < H; j++) {
            float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
            float tc = dm_tanhf(c[j]);
            float dhj = gh[j] + dh[j];
            float dc = dcr[j] + dhj * o * (1.0f - tc * tc);
            float cprev = first * cp[j];
            da[j] = dc * gg * i * (1.0f - i);
            da[H + j] = dc * cprev * f * (1.0f - f);
            da[2 * H + j] = dc * i * (1.0f - gg * gg);
            da[3 * H + j] = dhj * tc * o * (1.0f - o);
            dcr[j] = dc * f;
        }
    }
}
DM_CPU_DISPATCH(lstm_step_bwd,
                (float *restrict dac, float *restrict dh_rec, float *restrict dc_rec, const float *restrict gc,
                 const float *restrict cc, const float *restrict ghc, int Bc, int L, int t, int tp, int d,
                 int first_step, int H, int GD, int HD),
                (dac, dh_rec, dc_rec, gc, cc, ghc, Bc, L, t, tp, d, first_step, H, GD, HD))

void dm_cpu_lstm_fwd(dm_backend *be, float *h, float *gates, float *cell, const float *x,
                     const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh,
                     int B, int L, int D, int H, int n_dir) {
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H;
    int nt = dm_cpu_threads(be, B);
#pragma omp parallel num_threads(nt)
    {
        int b0, b1;
        dm_cpu_chunk(B, nt, omp_get_thread_num(), &b0, &b1);
        int Bc = b1 - b0;
        float *gc = gates + (int64_t)b0 * L * GD;
        float *hc = h + (int64_t)b0 * L * HD, *cc = cell + (int64_t)b0 * L * HD;
        /* a = b_ih + b_hh + x · W_ihᵀ for every position and direction */
        for (int64_t r = 0; r < (int64_t)Bc * L; r++)
            for (int k = 0; k < GD; k++) gc[r * GD + k] = b_ih[k] + b_hh[k];
        if (Bc > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Bc * L, GD, D, 1.0f,
                        x + (int64_t)b0 * L * D, D, w_ih, D, 1.0f, gc, GD);
        for (int d = 0; d < n_dir && Bc > 0; d++)
            for (int s = 0; s < L; s++) {
                int t = lstm_pos(d, s, L), tp = lstm_pos(d, s - 1, L);
                float *a = gc + (int64_t)t * GD + d * G;
                if (s > 0)   /* a += h_prev (Bc, H) · W_hhᵀ (H, 4H), rows strided by L */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Bc, G, H, 1.0f,
                                hc + (int64_t)tp * HD + d * H, L * HD, w_hh + (int64_t)d * G * H, H,
                                1.0f, a, L * GD);
                lstm_step_fwd(a, hc + (int64_t)t * HD + d * H, cc + (int64_t)t * HD + d * H,
                              s > 0 ? cc + (int64_t)tp * HD + d * H : NULL, Bc, (int64_t)L * GD,
                              (int64_t)L * HD, H);
            }
    }
}

void dm_cpu_lstm_bwd(dm_backend *be, float *grad_x, float *grad_w_ih, float *grad_w_hh,
                     float *grad_b_ih, float *grad_b_hh, float *grad_gates, const float *grad_h,
                     const float *x, const float *h, const float *gates, const float *cell,
                     const float *w_ih, const float *w_hh, int B, int L, int D, int H, int n_dir) {
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H;
    int64_t n_wih = (int64_t)GD * D, n_whh = (int64_t)n_dir * G * H;
    int nt = dm_cpu_threads(be, B);
    float *partial[64] = {0};    /* threads t > 0: private (w_ih | w_hh) gradients */
    float *bsum[64] = {0};       /* every thread: its column sums of dA (the bias gradient) */
#pragma omp parallel num_threads(nt)
    {
        int t_id = omp_get_thread_num(), b0, b1;
        dm_cpu_chunk(B, nt, t_id, &b0, &b1);
        int Bc = b1 - b0;
        float *rec = dm_cpu_scratch(be, t_id, 1, (size_t)2 * Bc * H + 1);   /* dh_rec | dc_rec */
        float *gwih = grad_w_ih, *gwhh = grad_w_hh;
        bsum[t_id] = dm_cpu_scratch(be, t_id, 3, (size_t)GD);
        if (t_id > 0 && grad_w_ih) {
            partial[t_id] = dm_cpu_scratch(be, t_id, 2, (size_t)(n_wih + n_whh));
            if (partial[t_id]) {
                memset(partial[t_id], 0, sizeof(float) * (size_t)(n_wih + n_whh));
                gwih = partial[t_id];
                gwhh = gwih + n_wih;
            }
        }
        const float *gc = gates + (int64_t)b0 * L * GD, *cc = cell + (int64_t)b0 * L * HD;
        const float *hc = h + (int64_t)b0 * L * HD, *ghc = grad_h + (int64_t)b0 * L * HD;
        float *dac = grad_gates + (int64_t)b0 * L * GD;
        int ok = rec && bsum[t_id] && Bc > 0 && (t_id == 0 || partial[t_id] || !grad_w_ih);
        for (int d = 0; d < n_dir && ok; d++) {
            float *dh_rec = rec, *dc_rec = rec + (size_t)Bc * H;
            memset(rec, 0, sizeof(float) * (size_t)2 * Bc * H);
            for (int s = L - 1; s >= 0; s--) {
                int t = lstm_pos(d, s, L), tp = lstm_pos(d, s - 1, L);
                lstm_step_bwd(dac, dh_rec, dc_rec, gc, cc, ghc, Bc, L, t, tp, d, s == 0, H, GD, HD);
                const float *da_t = dac + (int64_t)t * GD + d * G;     /* (Bc, 4H), stride L·GD */
                if (s > 0) {
                    /* dh_rec (Bc, H) = dA (Bc, 4H) · W_hh (4H, H) */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Bc, H, G, 1.0f, da_t,
                                L * GD, w_hh + (int64_t)d * G * H, H, 0.0f, dh_rec, H);
                    /* dW_hh (4H, H) += dAᵀ (4H, Bc) · h_prev (Bc, H) */
                    if (grad_w_ih)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, G, H, Bc, 1.0f, da_t,
                                    L * GD, hc + (int64_t)tp * HD + d * H, L * HD, 1.0f,
                                    gwhh + (int64_t)d * G * H, H);
                }
            }
        }
        if (ok && grad_w_ih) {
            /* biases: column sums of dA over all rows of the chunk (b_ih and b_hh alike) */
            float *bs = bsum[t_id];
            memset(bs, 0, sizeof(float) * (size_t)GD);
            for (int64_t r = 0; r < (int64_t)Bc * L; r++)
                for (int k = 0; k < GD; k++) bs[k] += dac[r * GD + k];
            /* dW_ih (n_dir·4H, D) += dAᵀ · x, one GEMM over every position of the chunk */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, GD, D, Bc * L, 1.0f, dac, GD,
                        x + (int64_t)b0 * L * D, D, 1.0f, gwih, D);
        }
        if (ok && grad_x)   /* dx (Bc·L, D) = dA (Bc·L, n_dir·4H) · W_ih (n_dir·4H, D) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Bc * L, D, GD, 1.0f, dac, GD,
                        w_ih, D, 0.0f, grad_x + (int64_t)b0 * L * D, D);
    }
    /* add the other threads' partials in thread order; both bias vectors get the same sums */
    for (int t = 0; t < nt && grad_w_ih; t++) {
        if (!bsum[t] || (t > 0 && !partial[t])) return;    /* dm_cpu_scratch recorded it */
        if (t > 0) {
            dm_cpu_add(grad_w_ih, partial[t], n_wih);
            dm_cpu_add(grad_w_hh, partial[t] + n_wih, n_whh);
        }
        dm_cpu_add(grad_b_ih, bsum[t], GD);
        dm_cpu_add(grad_b_hh, bsum[t], GD);
    }
}
