/*
 * lstm.cu: the (bi)directional LSTM (kernels/cpu/lstm.c, SPEC.md §2), gates i, f, g, o, h0 = c0 = 0.
 * Direction d = 0 walks positions 0 → L−1, d = 1 walks L−1 → 0 and stores its state at the position it
 * read; h (B, L, n_dir·H), gates (B, L, n_dir·4H) (activated), cell (B, L, n_dir·H).
 *
 * Forward: one cuBLAS GEMM projects every position for both directions, gates = x · W_ihᵀ, then the
 * biases are added; per step s, one GEMM per direction adds h_prev · W_hhᵀ onto that step's rows
 * (row stride L·n_dir·4H) and ONE fused kernel (thread → (d, b, j)) applies the gate nonlinearities
 * and the cell update for both directions.
 * Backward: per step, in reverse, one fused kernel (thread → (d, b, j)) turns dh = grad_h + dh_rec and
 * the carried dc into the pre-activation gate gradients, then one GEMM per direction gives
 * dh_rec = dA · W_hh for the step before. After the loop: dW_ih += dAᵀ · x and dx = dA · W_ih (one
 * GEMM each over all positions and both directions), dW_hh += dAᵀ · h_prev per direction with h_prev
 * the state one step earlier in the direction's walk (a shifted copy), and the bias gradients as
 * column sums of dA (b_ih and b_hh receive the same sum).
 */
#include "common.cuh"
#include "dm_cuda.h"

/* Position of step s of direction d. */
static __device__ __host__ __forceinline__ int lstm_pos(int d, int s, int L) { return d == 0 ? s : L - 1 - s; }

/* gates[r, c] += b_ih[c] + b_hh[c] over rows of GD columns. */
static __global__ void lstm_bias_kernel(float *gates, const float *b_ih, const float *b_hh, int64_t rows, int GD) {
    DM_GRID_STRIDE(i, rows * GD) gates[i] += b_ih[i % GD] + b_hh[i % GD];
}

/* Step s: thread → (d, b, j). Activates the gate pre-activations of (b, t) in place and writes c, h. */
static __global__ void lstm_step_fwd_kernel(float *h, float *gates, float *cell, int s, int B, int L, int H,
                                            int n_dir) {
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H;
    DM_GRID_STRIDE(i, (int64_t)n_dir * B * H) {
        int j = (int)(i % H), b = (int)((i / H) % B), d = (int)(i / ((int64_t)H * B));
        int t = lstm_pos(d, s, L);
        float *a = gates + ((int64_t)b * L + t) * GD + d * G;
        float ig = dm_sigmoid(a[j]), fg = dm_sigmoid(a[H + j]), gg = tanhf(a[2 * H + j]), og = dm_sigmoid(a[3 * H + j]);
        float cprev = s > 0 ? cell[((int64_t)b * L + lstm_pos(d, s - 1, L)) * HD + d * H + j] : 0.0f;
        float c = fg * cprev + ig * gg;
        a[j] = ig;
        a[H + j] = fg;
        a[2 * H + j] = gg;
        a[3 * H + j] = og;
        cell[((int64_t)b * L + t) * HD + d * H + j] = c;
        h[((int64_t)b * L + t) * HD + d * H + j] = og * tanhf(c);
    }
}

/* Step s backward: thread → (d, b, j). dh_rec, dc_rec (n_dir, B, H): the recurrent gradients from
 * step s + 1 (zero at the last step); dc_rec is updated for step s − 1. */
static __global__ void lstm_step_bwd_kernel(float *grad_gates, float *dc_rec, const float *dh_rec,
                                            const float *grad_h, const float *gates, const float *cell, int s,
                                            int B, int L, int H, int n_dir) {
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H;
    DM_GRID_STRIDE(i, (int64_t)n_dir * B * H) {
        int j = (int)(i % H), b = (int)((i / H) % B), d = (int)(i / ((int64_t)H * B));
        int t = lstm_pos(d, s, L);
        const float *a = gates + ((int64_t)b * L + t) * GD + d * G;
        float ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
        float c = cell[((int64_t)b * L + t) * HD + d * H + j];
        float cprev = s > 0 ? cell[((int64_t)b * L + lstm_pos(d, s - 1, L)) * HD + d * H + j] : 0.0f;
        bool last = s == L - 1;     /* no recurrent gradient into the final step (select: scratch is unset) */
        float dh = grad_h[((int64_t)b * L + t) * HD + d * H + j] + (last ? 0.0f : dh_rec[i]);
        float tc = tanhf(c);
        float dc = (last ? 0.0f : dc_rec[i]) + dh * og * (1.0f - tc * tc);
        float *da = grad_gates + ((int64_t)b * L + t) * GD + d * G;
        da[j] = dc * gg * ig * (1.0f - ig);
        da[H + j] = dc * cprev * fg * (1.0f - fg);
        da[2 * H + j] = dc * ig * (1.0f - gg * gg);
        da[3 * H + j] = dh * tc * og * (1.0f - og);
        dc_rec[i] = dc * fg;
    }
}

/* hprev[b, t, d·H + k] = h at the step before (b, t) in direction d's walk, 0 at its first step. */
static __global__ void lstm_shift_kernel(float *hprev, const float *h, int B, int L, int H, int n_dir) {
    int HD = n_dir * H;
    DM_GRID_STRIDE(i, (int64_t)B * L * HD) {
        int d = (int)((i % HD) / H), t = (int)((i / HD) % L);
        int64_t b = i / ((int64_t)HD * L);
        int tp = d == 0 ? t - 1 : t + 1;
        hprev[i] = tp >= 0 && tp < L ? h[(b * L + tp) * HD + i % HD] : 0.0f;
    }
}

DM_KAPI cudaError_t dm_cuda_lstm_step_fwd_launch(float *h, float *gates, float *cell, int s, int B, int L, int H,
                                                 int n_dir, cudaStream_t stream) {
    DM_LAUNCH(lstm_step_fwd_kernel, dm_cuda_grid((int64_t)n_dir * B * H), DM_CUDA_BLOCK, 0, stream, h, gates, cell,
              s, B, L, H, n_dir);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_lstm_step_bwd_launch(float *grad_gates, float *dc_rec, const float *dh_rec,
                                                 const float *grad_h, const float *gates, const float *cell, int s,
                                                 int B, int L, int H, int n_dir, cudaStream_t stream) {
    DM_LAUNCH(lstm_step_bwd_kernel, dm_cuda_grid((int64_t)n_dir * B * H), DM_CUDA_BLOCK, 0, stream, grad_gates,
              dc_rec, dh_rec, grad_h, gates, cell, s, B, L, H, n_dir);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_lstm_fwd(dm_backend *be, float *h, float *gates, float *cell, const float *x,
                              const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh, int B,
                              int L, int D, int H, int n_dir) {
    if (B <= 0 || L <= 0) return;
    cudaStream_t st = dm_cuda_stream(be);
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H;
    int64_t rows = (int64_t)B * L;
    /* gates (B·L, GD) = x (B·L, D) · W_ihᵀ (D, GD) + b_ih + b_hh */
    dm_cuda_gemm_rowmajor(be, false, true, (int)rows, GD, D, 1.0f, x, D, w_ih, D, 0.0f, gates, GD);
    if (!((dm_cuda_ctx *)be->ctx)->lstm_step && dm_cuda_plstm_fits(H)) {   /* the biases are added inside */
        dm_cuda_check(be, dm_cuda_plstm_fwd_launch(h, gates, cell, w_hh, b_ih, b_hh, B, L, H, n_dir, st),
                      "lstm_fwd persistent");
        return;
    }
    DM_LAUNCH(lstm_bias_kernel, dm_cuda_grid(rows * GD), DM_CUDA_BLOCK, 0, st, gates, b_ih, b_hh, rows, GD);
    dm_cuda_check(be, cudaGetLastError(), "lstm_fwd bias");
    for (int s = 0; s < L; s++) {
        for (int d = 0; s > 0 && d < n_dir; d++) {
            /* rows (b, t) of this step += h_prev (B, H; row stride L·HD) · W_hh[d]ᵀ (H, G) */
            int t = lstm_pos(d, s, L), tp = lstm_pos(d, s - 1, L);
            dm_cuda_gemm_rowmajor(be, false, true, B, G, H, 1.0f, h + (int64_t)tp * HD + d * H, L * HD,
                                  w_hh + (int64_t)d * G * H, H, 1.0f, gates + (int64_t)t * GD + d * G, L * GD);
        }
        dm_cuda_check(be, dm_cuda_lstm_step_fwd_launch(h, gates, cell, s, B, L, H, n_dir, st), "lstm_fwd step");
    }
}

DM_KAPI void dm_cuda_lstm_bwd(dm_backend *be, float *grad_x, float *grad_w_ih, float *grad_w_hh,
                              float *grad_b_ih, float *grad_b_hh, float *grad_gates, const float *grad_h,
                              const float *x, const float *h, const float *gates, const float *cell,
                              const float *w_ih, const float *w_hh, int B, int L, int D, int H, int n_dir) {
    if (B <= 0 || L <= 0) return;
    cudaStream_t st = dm_cuda_stream(be);
    int G = 4 * H, GD = n_dir * G, HD = n_dir * H;
    int64_t rows = (int64_t)B * L, nrec = (int64_t)n_dir * B * H;
    if (!((dm_cuda_ctx *)be->ctx)->lstm_step && dm_cuda_plstm_fits(H)) {
        float *part = dm_cuda_scratch(be, DM_CUDA_SCRATCH_A, dm_cuda_plstm_wgrad_scratch(B, L, H, n_dir));
        if (!part) return;
        dm_cuda_check(be, dm_cuda_plstm_bwd_launch(grad_gates, grad_h, gates, cell, w_hh, B, L, H, n_dir, st),
                      "lstm_bwd persistent");
        if (grad_w_ih) {   /* NULL: the input gradient only */
            dm_cuda_check(be, dm_cuda_plstm_wgrad_launch(grad_w_hh, grad_b_ih, grad_b_hh, part, grad_gates, h, B, L,
                                                         H, n_dir, st), "lstm_bwd weight gradients");
            dm_cuda_gemm_rowmajor(be, true, false, GD, D, (int)rows, 1.0f, grad_gates, GD, x, D, 1.0f, grad_w_ih, D);
        }
        if (grad_x)
            dm_cuda_gemm_rowmajor(be, false, false, (int)rows, D, GD, 1.0f, grad_gates, GD, w_ih, D, 0.0f, grad_x, D);
        return;
    }
    float *rec = dm_cuda_scratch(be, DM_CUDA_SCRATCH_A, (size_t)(2 * nrec));
    float *hprev = dm_cuda_scratch(be, DM_CUDA_SCRATCH_B, (size_t)(rows * HD));
    if (!rec || !hprev) return;
    float *dh_rec = rec, *dc_rec = rec + nrec;
    for (int s = L - 1; s >= 0; s--) {
        dm_cuda_check(be, dm_cuda_lstm_step_bwd_launch(grad_gates, dc_rec, dh_rec, grad_h, gates, cell, s, B, L, H,
                                                       n_dir, st), "lstm_bwd step");
        for (int d = 0; s > 0 && d < n_dir; d++) {
            /* dh_rec[d] (B, H) = dA of this step (B, G; row stride L·GD) · W_hh[d] (G, H) */
            int t = lstm_pos(d, s, L);
            dm_cuda_gemm_rowmajor(be, false, false, B, H, G, 1.0f, grad_gates + (int64_t)t * GD + d * G, L * GD,
                                  w_hh + (int64_t)d * G * H, H, 0.0f, dh_rec + (int64_t)d * B * H, H);
        }
    }
    if (grad_w_ih) {   /* parameter gradients over all positions (NULL: the input gradient only) */
        dm_cuda_gemm_rowmajor(be, true, false, GD, D, (int)rows, 1.0f, grad_gates, GD, x, D, 1.0f, grad_w_ih, D);
        DM_LAUNCH(lstm_shift_kernel, dm_cuda_grid(rows * HD), DM_CUDA_BLOCK, 0, st, hprev, h, B, L, H, n_dir);
        dm_cuda_check(be, cudaGetLastError(), "lstm_bwd shift");
        for (int d = 0; d < n_dir; d++)
            dm_cuda_gemm_rowmajor(be, true, false, G, H, (int)rows, 1.0f, grad_gates + d * G, GD, hprev + d * H, HD,
                                  1.0f, grad_w_hh + (int64_t)d * G * H, H);
        dm_cuda_colsum_add(be, grad_b_ih, grad_b_hh, grad_gates, (int)rows, GD, "lstm_bwd bias");
    }
    if (grad_x) dm_cuda_gemm_rowmajor(be, false, false, (int)rows, D, GD, 1.0f, grad_gates, GD, w_ih, D, 0.0f, grad_x, D);
}

DM_KAPI bool dm_cuda_lstm_trunc(dm_backend *be, float *out, const float *x, const float *w_ih, const float *w_hh,
                                const float *b_ih, const float *b_hh, int B, int L, int D, int H) {
    if (((dm_cuda_ctx *)be->ctx)->lstm_step || !dm_cuda_plstm_fits(H)) return false;
    if (B <= 0 || L <= 0) return true;
    int64_t rows = (int64_t)B * L;
    float *proj = dm_cuda_scratch(be, DM_CUDA_SCRATCH_A, (size_t)rows * 8 * H);
    if (!proj) return true;   /* the failure is recorded */
    /* proj (B·L, 2·4H) = x (B·L, D) · W_ihᵀ (D, 2·4H), both directions */
    dm_cuda_gemm_rowmajor(be, false, true, (int)rows, 8 * H, D, 1.0f, x, D, w_ih, D, 0.0f, proj, 8 * H);
    dm_cuda_check(be, dm_cuda_plstm_trunc_launch(out, proj, w_hh, b_ih, b_hh, B, L, H, dm_cuda_stream(be)),
                  "lstm_trunc persistent");
    return true;
}
