/*
 * nll.cu: NLL of the true class, positive class first (kernels/cpu/nll.c): cls = label ? 0 : 1,
 * loss[b] = −logprob[b, cls], grad_logprob = −scale at [b, cls], 0 elsewhere. Thread → row.
 */
#include "common.cuh"
#include "dm_cuda.h"

static __global__ void nll_kernel(float *loss, float *grad_logprob, const float *logprob, const int8_t *labels,
                                  int B, float scale) {
    DM_GRID_STRIDE(b, (int64_t)B) {
        int cls = labels[b] == 1 ? 0 : 1;
        loss[b] = -logprob[2 * b + cls];
        grad_logprob[2 * b + cls] = -scale;
        grad_logprob[2 * b + 1 - cls] = 0.0f;
    }
}

DM_KAPI cudaError_t dm_cuda_nll_launch(float *loss, float *grad_logprob, const float *logprob,
                                       const int8_t *labels, int B, float scale, cudaStream_t stream) {
    DM_LAUNCH(nll_kernel, dm_cuda_grid(B), DM_CUDA_BLOCK, 0, stream, loss, grad_logprob, logprob, labels, B, scale);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_nll(dm_backend *be, float *loss, float *grad_logprob, const float *logprob,
                         const int8_t *labels, int B, float scale) {
    if (B > 0)
        dm_cuda_check(be, dm_cuda_nll_launch(loss, grad_logprob, logprob, labels, B, scale, dm_cuda_stream(be)), "nll");
}
