/*
 * conv1d.c: 1-D convolution (cross-correlation, no flip), channels-last (SPEC.md §3):
 *   out[b, l, o] = bias[o] + Σ_k Σ_c w[o, k, c] · in[b, l + k − pad, c]     (zero outside [0, Li))
 * in (B, Li, Ci), w (Co, K, Ci), out (B, Lo, Co), Lo = Li + 2·pad − K + 1.
 *
 * Fast path: im2col per thread chunk, then one GEMM. With channels-last input a window is K·Ci
 * contiguous floats, so a column row is one memcpy (two partial ones at the padded edges).
 *   forward   out (M, Co)      = col (M, KC) · wᵀ (KC, Co) + bias          M = Bc·Lo, KC = K·Ci
 *   backward  grad_w (Co, KC) += grad_outᵀ (Co, M) · col (M, KC)
 *             dcol (M, KC)     = grad_out (M, Co) · w (Co, KC), then col2im into grad_in
 */
#include <cblas.h>
#include <omp.h>
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

/* grad_in (Bc, Li, Ci) = Σ of dcol (Bc·Lo, K·Ci) over the windows covering each position */
DM_CPU_BODY void col2im_body(float *restrict grad_in, const float *restrict dcol, int Bc, int Li, int Ci,
                             int K, int pad, int Lo) {
    int64_t KC = (int64_t)K * Ci;
    memset(grad_in, 0, sizeof(float) * (size_t)Bc * Li * Ci);
    for (int b = 0; b < Bc; b++)
        for (int l = 0; l < Lo; l++) {
            const float *row = dcol + ((int64_t)b * Lo + l) * KC;
            int p0 = l - pad;
            int k0 = p0 < 0 ? -p0 : 0;
            int k1 = p0 + K > Li ? Li - p0 : K;
            float *dst = grad_in + ((int64_t)b * Li + p0 + k0) * Ci;
            const float *src = row + (int64_t)k0 * Ci;
            for (int64_t i = 0; i < (int64_t)(k1 - k0) * Ci; i++) dst[i] += src[i];
        }
}
DM_CPU_DISPATCH(col2im,
                (float *restrict grad_in, const float *restrict dcol, int Bc, int Li, int Ci, int K, int pad,
                 int Lo),
                (grad_in, dcol, Bc, Li, Ci, K, pad, Lo))

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

void dm_cpu_conv1d_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                       int B, int Li, int Ci, int Co, int K, int pad) {
    int Lo = Li + 2 * pad - K + 1, KC = K * Ci;
    int nt = dm_cpu_threads(be, B);
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), b0, b1;
        dm_cpu_chunk(B, nt, t, &b0, &b1);
        int M = (b1 - b0) * Lo;
        float *col = dm_cpu_scratch(be, t, 0, (size_t)M * KC);
        float *o = out + (int64_t)b0 * Lo * Co;
        if (col && M > 0) {
            im2col(col, in + (int64_t)b0 * Li * Ci, b1 - b0, Li, Ci, K, pad, Lo);
            for (int r = 0; r < M; r++) memcpy(o + (int64_t)r * Co, b, sizeof(float) * (size_t)Co);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, Co, KC, 1.0f, col, KC, w, KC,
                        1.0f, o, Co);
        }
    }
}

void dm_cpu_conv1d_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                       const float *grad_out, const float *in, const float *w, int B, int Li, int Ci,
                       int Co, int K, int pad) {
    int Lo = Li + 2 * pad - K + 1, KC = K * Ci;
    int nt = dm_cpu_threads(be, B);
    float *partial[64] = {0};    /* threads t > 0: private (grad_w | grad_b) */
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), b0, b1;
        dm_cpu_chunk(B, nt, t, &b0, &b1);
        int M = (b1 - b0) * Lo;
        float *col = dm_cpu_scratch(be, t, 0, (size_t)M * KC);
        float *gw = grad_w, *gb = grad_b;
        if (t > 0 && grad_w) {
            partial[t] = dm_cpu_scratch(be, t, 2, (size_t)Co * KC + Co);
            if (partial[t]) {
                memset(partial[t], 0, sizeof(float) * ((size_t)Co * KC + Co));
                gw = partial[t];
                gb = partial[t] + (size_t)Co * KC;
            }
        }
        const float *go = grad_out + (int64_t)b0 * Lo * Co;
        if (col && M > 0 && (t == 0 || partial[t] || !grad_w)) {
            if (grad_w) {   /* NULL: the input gradient only (no columns, bias sums or dW) */
                im2col(col, in + (int64_t)b0 * Li * Ci, b1 - b0, Li, Ci, K, pad, Lo);
                for (int r = 0; r < M; r++)
                    for (int o = 0; o < Co; o++) gb[o] += go[(int64_t)r * Co + o];
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Co, KC, M, 1.0f, go, Co, col, KC,
                            1.0f, gw, KC);
            }
            if (grad_in) {
                /* the column buffer is reused for dcol once grad_w has consumed it */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, KC, Co, 1.0f, go, Co, w, KC,
                            0.0f, col, KC);
                col2im(grad_in + (int64_t)b0 * Li * Ci, col, b1 - b0, Li, Ci, K, pad, Lo);
            }
        }
    }
    for (int t = 1; t < nt && grad_w; t++) {
        if (!partial[t]) return;    /* dm_cpu_scratch recorded the failure */
        dm_cpu_add(grad_w, partial[t], (int64_t)Co * KC);
        dm_cpu_add(grad_b, partial[t] + (size_t)Co * KC, Co);
    }
}
