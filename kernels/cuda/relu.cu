/*
 * relu.cu: out = max(in, 0) (in place allowed); grad_in = grad_out where out > 0.
 * Thread → element, grid-stride.
 */
#include "common.cuh"
#include "dm_cuda.h"

static __global__ void relu_fwd_kernel(float *out, const float *in, int64_t n) {
    DM_GRID_STRIDE(i, n) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

static __global__ void relu_bwd_kernel(float *grad_in, const float *grad_out, const float *out, int64_t n) {
    DM_GRID_STRIDE(i, n) grad_in[i] = out[i] > 0.0f ? grad_out[i] : 0.0f;
}

DM_KAPI cudaError_t dm_cuda_relu_fwd_launch(float *out, const float *in, int64_t n, cudaStream_t stream) {
    DM_LAUNCH(relu_fwd_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, stream, out, in, n);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_relu_bwd_launch(float *grad_in, const float *grad_out, const float *out, int64_t n,
                                            cudaStream_t stream) {
    DM_LAUNCH(relu_bwd_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, stream, grad_in, grad_out, out, n);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_relu_fwd(dm_backend *be, float *out, const float *in, int64_t n) {
    if (n > 0) dm_cuda_check(be, dm_cuda_relu_fwd_launch(out, in, n, dm_cuda_stream(be)), "relu_fwd");
}

DM_KAPI void dm_cuda_relu_bwd(dm_backend *be, float *grad_in, const float *grad_out, const float *out, int64_t n) {
    if (n > 0) dm_cuda_check(be, dm_cuda_relu_bwd_launch(grad_in, grad_out, out, n, dm_cuda_stream(be)), "relu_bwd");
}
