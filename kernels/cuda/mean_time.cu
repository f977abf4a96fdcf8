/*
 * mean_time.cu: out (B, C) = mean over the L positions of in (B, L, C); grad_in = grad_out / L at
 * every position. Forward: thread → (b, c), a sequential sum over L (coalesced over c).
 */
#include "common.cuh"
#include "dm_cuda.h"

static __global__ void mean_time_fwd_kernel(float *out, const float *in, int B, int L, int C) {
    int64_t n = (int64_t)B * C;
    DM_GRID_STRIDE(i, n) {
        const float *x = in + (i / C) * L * C + i % C;
        float s = 0.0f;
        for (int l = 0; l < L; l++) s += x[(int64_t)l * C];
        out[i] = s / (float)L;
    }
}

static __global__ void mean_time_bwd_kernel(float *grad_in, const float *grad_out, int B, int L, int C) {
    int64_t n = (int64_t)B * L * C;
    float inv = 1.0f / (float)L;
    DM_GRID_STRIDE(i, n) grad_in[i] = grad_out[(i / ((int64_t)L * C)) * C + i % C] * inv;
}

DM_KAPI cudaError_t dm_cuda_mean_time_fwd_launch(float *out, const float *in, int B, int L, int C,
                                                 cudaStream_t stream) {
    DM_LAUNCH(mean_time_fwd_kernel, dm_cuda_grid((int64_t)B * C), DM_CUDA_BLOCK, 0, stream, out, in, B, L, C);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_mean_time_bwd_launch(float *grad_in, const float *grad_out, int B, int L, int C,
                                                 cudaStream_t stream) {
    DM_LAUNCH(mean_time_bwd_kernel, dm_cuda_grid((int64_t)B * L * C), DM_CUDA_BLOCK, 0, stream, grad_in,
              grad_out, B, L, C);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_mean_time_fwd(dm_backend *be, float *out, const float *in, int B, int L, int C) {
    if ((int64_t)B * C > 0 && L > 0)
        dm_cuda_check(be, dm_cuda_mean_time_fwd_launch(out, in, B, L, C, dm_cuda_stream(be)), "mean_time_fwd");
}

DM_KAPI void dm_cuda_mean_time_bwd(dm_backend *be, float *grad_in, const float *grad_out, int B, int L, int C) {
    if ((int64_t)B * L * C > 0)
        dm_cuda_check(be, dm_cuda_mean_time_bwd_launch(grad_in, grad_out, B, L, C, dm_cuda_stream(be)),
                      "mean_time_bwd");
}
