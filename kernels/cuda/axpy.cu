/*
 * axpy.cu: y += α · x, element-wise (kernels/cpu/axpy.c): the integrated-gradients running sum.
 * Thread → element, grid-stride.
 */
#include "common.cuh"
#include "dm_cuda.h"

static __global__ void axpy_kernel(float *y, const float *x, float alpha, int64_t n) {
    DM_GRID_STRIDE(i, n) y[i] += alpha * x[i];
}

DM_KAPI cudaError_t dm_cuda_axpy_launch(float *y, const float *x, float alpha, int64_t n, cudaStream_t stream) {
    DM_LAUNCH(axpy_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, stream, y, x, alpha, n);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_axpy(dm_backend *be, float *y, const float *x, float alpha, int64_t n) {
    if (n > 0) dm_cuda_check(be, dm_cuda_axpy_launch(y, x, alpha, n, dm_cuda_stream(be)), "axpy");
}
