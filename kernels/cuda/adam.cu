/*
 * adam.cu: element-wise clipping to [−clip, clip], then Torch7 Adam (SPEC.md §4, kernels/cpu/adam.c):
 * m ← β1 m + (1 − β1) g; v ← β2 v + (1 − β2) g²; θ ← θ − step · m / (√v + ε). Thread → parameter.
 * The clip keeps a NaN gradient NaN, as the CPU's does (fminf/fmaxf would make it ±clip and hide a
 * divergence from the epoch-end weight check); finite and infinite values are clipped as before.
 */
#include "common.cuh"
#include "dm_cuda.h"

static __global__ void adam_kernel(float *param, const float *grad, float *m, float *v, int64_t n, float step,
                                   float beta1, float beta2, float eps, float clip) {
    DM_GRID_STRIDE(i, n) {
        float g = grad[i];
        if (clip > 0.0f) g = g > clip ? clip : (g < -clip ? -clip : g);    /* NaN stays NaN */
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] -= step * mi / (sqrtf(vi) + eps);
    }
}

DM_KAPI cudaError_t dm_cuda_adam_launch(float *param, const float *grad, float *m, float *v, int64_t n,
                                        float step, float beta1, float beta2, float eps, float clip,
                                        cudaStream_t stream) {
    DM_LAUNCH(adam_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, stream, param, grad, m, v, n, step, beta1, beta2,
              eps, clip);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_adam(dm_backend *be, float *param, const float *grad, float *m, float *v, int64_t n,
                          float step, float beta1, float beta2, float eps, float clip) {
    if (n > 0)
        dm_cuda_check(be, dm_cuda_adam_launch(param, grad, m, v, n, step, beta1, beta2, eps, clip,
                                              dm_cuda_stream(be)), "adam");
}
