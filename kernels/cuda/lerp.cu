/*
 * lerp.cu: out = a + t · (b − a), element-wise (kernels/cpu/lerp.c): the integrated-gradients path.
 * Thread → element, grid-stride.
 */
#include "common.cuh"
#include "dm_cuda.h"

static __global__ void lerp_kernel(float *out, const float *a, const float *b, float t, int64_t n) {
    DM_GRID_STRIDE(i, n) out[i] = a[i] + t * (b[i] - a[i]);
}

DM_KAPI cudaError_t dm_cuda_lerp_launch(float *out, const float *a, const float *b, float t, int64_t n,
                                        cudaStream_t stream) {
    DM_LAUNCH(lerp_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, stream, out, a, b, t, n);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_lerp(dm_backend *be, float *out, const float *a, const float *b, float t, int64_t n) {
    if (n > 0) dm_cuda_check(be, dm_cuda_lerp_launch(out, a, b, t, n, dm_cuda_stream(be)), "lerp");
}
