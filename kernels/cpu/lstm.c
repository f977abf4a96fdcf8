/*
 * lstm.c: the (bi)directional LSTM of the DeMo recurrent models (SPEC.md §2), no peepholes, h0 = c0 = 0.
 * Per direction d and step, with a = W_ih x_t + W_hh h_prev + b_ih + b_hh (gate blocks i, f, g, o):
 *   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o);  c = f ⊙ c_prev + i ⊙ g;  h = o ⊙ tanh(c).
 * Direction 0 walks positions 0 → L−1; direction 1 walks L−1 → 0 and stores its state at the position
 * it read ("reverse, LSTM, reverse back"), so h (B, L, n_dir·H) holds both halves per position.
 *
 * This file holds the naive references (the specification); the fast path is lstm_fused.c.
 */
#include <math.h>
#include <stdlib.h>

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
