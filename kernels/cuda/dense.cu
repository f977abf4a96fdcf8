/*
 * dense.cu: out (B, Co) = in (B, Ci) · wᵀ + b, w (Co, Ci): the classifier head (Co = 2). Forward:
 * thread → (b, co), a dot product over Ci. Backward: grad_in thread → (b, ci) over Co (overwritten);
 * grad_w thread → (co, ci) and grad_b thread → co, sums over the batch in order (accumulated, +=):
 * deterministic, no atomics. The head is tiny next to the convolutions and the LSTM.
 */
#include "common.cuh"
#include "dm_cuda.h"

static __global__ void dense_fwd_kernel(float *out, const float *in, const float *w, const float *b, int B,
                                        int Ci, int Co) {
    DM_GRID_STRIDE(i, (int64_t)B * Co) {
        int64_t r = i / Co;
        int co = (int)(i % Co);
        float s = b[co];
        for (int k = 0; k < Ci; k++) s += in[r * Ci + k] * w[(int64_t)co * Ci + k];
        out[i] = s;
    }
}

static __global__ void dense_bwd_in_kernel(float *grad_in, const float *grad_out, const float *w, int B, int Ci,
                                           int Co) {
    DM_GRID_STRIDE(i, (int64_t)B * Ci) {
        int64_t r = i / Ci;
        int k = (int)(i % Ci);
        float s = 0.0f;
        for (int co = 0; co < Co; co++) s += grad_out[r * Co + co] * w[(int64_t)co * Ci + k];
        grad_in[i] = s;
    }
}

/* thread i < Co·Ci: grad_w[co, k]; Co·Ci ≤ i < Co·(Ci + 1): grad_b[i − Co·Ci] */
static __global__ void dense_bwd_param_kernel(float *grad_w, float *grad_b, const float *grad_out, const float *in,
                                              int B, int Ci, int Co) {
    DM_GRID_STRIDE(i, (int64_t)Co * (Ci + 1)) {
        if (i < (int64_t)Co * Ci) {
            int co = (int)(i / Ci), k = (int)(i % Ci);
            float s = 0.0f;
            for (int r = 0; r < B; r++) s += grad_out[(int64_t)r * Co + co] * in[(int64_t)r * Ci + k];
            grad_w[i] += s;
        } else {
            int co = (int)(i - (int64_t)Co * Ci);
            float s = 0.0f;
            for (int r = 0; r < B; r++) s += grad_out[(int64_t)r * Co + co];
            grad_b[co] += s;
        }
    }
}

DM_KAPI cudaError_t dm_cuda_dense_fwd_launch(float *out, const float *in, const float *w, const float *b, int B,
                                             int Ci, int Co, cudaStream_t stream) {
    DM_LAUNCH(dense_fwd_kernel, dm_cuda_grid((int64_t)B * Co), DM_CUDA_BLOCK, 0, stream, out, in, w, b, B, Ci, Co);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_dense_bwd_launch(float *grad_in, float *grad_w, float *grad_b, const float *grad_out,
                                             const float *in, const float *w, int B, int Ci, int Co,
                                             cudaStream_t stream) {
    if (grad_in) {
        DM_LAUNCH(dense_bwd_in_kernel, dm_cuda_grid((int64_t)B * Ci), DM_CUDA_BLOCK, 0, stream, grad_in, grad_out,
                  w, B, Ci, Co);
        cudaError_t err = cudaGetLastError();
        if (err != cudaSuccess) return err;
    }
    if (!grad_w) return cudaSuccess;   /* the input gradient only */
    DM_LAUNCH(dense_bwd_param_kernel, dm_cuda_grid((int64_t)Co * (Ci + 1)), DM_CUDA_BLOCK, 0, stream, grad_w,
              grad_b, grad_out, in, B, Ci, Co);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_dense_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                               int B, int Ci, int Co) {
    if (B > 0 && Co > 0)
        dm_cuda_check(be, dm_cuda_dense_fwd_launch(out, in, w, b, B, Ci, Co, dm_cuda_stream(be)), "dense_fwd");
}

DM_KAPI void dm_cuda_dense_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                               const float *grad_out, const float *in, const float *w, int B, int Ci, int Co) {
    if (B > 0 && Co > 0)
        dm_cuda_check(be, dm_cuda_dense_bwd_launch(grad_in, grad_w, grad_b, grad_out, in, w, B, Ci, Co,
                                                   dm_cuda_stream(be)), "dense_bwd");
}
