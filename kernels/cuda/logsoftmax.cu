/*
 * logsoftmax.cu: logprob = logits − logsumexp(logits) per row (max-shifted); backward
 * grad_logits = g − exp(logprob) · Σ_j g_j. Thread → row (C is the class count, 2 here).
 */
#include "common.cuh"
#include "dm_cuda.h"

static __global__ void logsoftmax_fwd_kernel(float *logprob, const float *logits, int B, int C) {
    DM_GRID_STRIDE(b, (int64_t)B) {
        const float *z = logits + b * C;
        float mx = z[0], s = 0.0f;
        for (int c = 1; c < C; c++) mx = fmaxf(mx, z[c]);
        for (int c = 0; c < C; c++) s += expf(z[c] - mx);
        float lse = mx + logf(s);
        for (int c = 0; c < C; c++) logprob[b * C + c] = z[c] - lse;
    }
}

static __global__ void logsoftmax_bwd_kernel(float *grad_logits, const float *grad_logprob, const float *logprob,
                                             int B, int C) {
    DM_GRID_STRIDE(b, (int64_t)B) {
        float gs = 0.0f;
        for (int c = 0; c < C; c++) gs += grad_logprob[b * C + c];
        for (int c = 0; c < C; c++) grad_logits[b * C + c] = grad_logprob[b * C + c] - expf(logprob[b * C + c]) * gs;
    }
}

DM_KAPI cudaError_t dm_cuda_logsoftmax_fwd_launch(float *logprob, const float *logits, int B, int C,
                                                  cudaStream_t stream) {
    DM_LAUNCH(logsoftmax_fwd_kernel, dm_cuda_grid(B), DM_CUDA_BLOCK, 0, stream, logprob, logits, B, C);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_logsoftmax_bwd_launch(float *grad_logits, const float *grad_logprob,
                                                  const float *logprob, int B, int C, cudaStream_t stream) {
    DM_LAUNCH(logsoftmax_bwd_kernel, dm_cuda_grid(B), DM_CUDA_BLOCK, 0, stream, grad_logits, grad_logprob,
              logprob, B, C);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_logsoftmax_fwd(dm_backend *be, float *logprob, const float *logits, int B, int C) {
    if (B > 0 && C > 0)
        dm_cuda_check(be, dm_cuda_logsoftmax_fwd_launch(logprob, logits, B, C, dm_cuda_stream(be)), "logsoftmax_fwd");
}

DM_KAPI void dm_cuda_logsoftmax_bwd(dm_backend *be, float *grad_logits, const float *grad_logprob,
                                    const float *logprob, int B, int C) {
    if (B > 0 && C > 0)
        dm_cuda_check(be, dm_cuda_logsoftmax_bwd_launch(grad_logits, grad_logprob, logprob, B, C, dm_cuda_stream(be)),
                      "logsoftmax_bwd");
}
