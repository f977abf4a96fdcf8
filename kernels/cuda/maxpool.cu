/*
 * maxpool.cu: max over non-overlapping windows of width w, stride w, floor (kernels/cpu/maxpool.c);
 * argmax holds the input position of the first maximum. Forward: thread → output element. Backward:
 * thread → input element, which belongs to at most one window, so the gradient is a gather: no
 * atomics, deterministic.
 */
#include "common.cuh"
#include "dm_cuda.h"

static __global__ void maxpool_fwd_kernel(float *out, int32_t *argmax, const float *in, int B, int L, int C,
                                          int w) {
    int Lo = L / w;
    int64_t n = (int64_t)B * Lo * C;
    DM_GRID_STRIDE(i, n) {
        int c = (int)(i % C), lo = (int)((i / C) % Lo);
        int64_t b = i / ((int64_t)C * Lo);
        const float *x = in + (b * L + (int64_t)lo * w) * C + c;
        float best = x[0];
        int arg = lo * w;
        for (int k = 1; k < w; k++)
            if (x[(int64_t)k * C] > best) {
                best = x[(int64_t)k * C];
                arg = lo * w + k;
            }
        out[i] = best;
        argmax[i] = arg;
    }
}

static __global__ void maxpool_bwd_kernel(float *grad_in, const float *grad_out, const int32_t *argmax, int B,
                                          int L, int C, int w) {
    int Lo = L / w;
    int64_t n = (int64_t)B * L * C;
    DM_GRID_STRIDE(i, n) {
        int c = (int)(i % C), l = (int)((i / C) % L);
        int64_t b = i / ((int64_t)C * L);
        int lo = l / w;
        float g = 0.0f;
        if (lo < Lo) {
            int64_t o = (b * Lo + lo) * C + c;
            if (argmax[o] == l) g = grad_out[o];
        }
        grad_in[i] = g;
    }
}

DM_KAPI cudaError_t dm_cuda_maxpool_fwd_launch(float *out, int32_t *argmax, const float *in, int B, int L, int C,
                                               int w, cudaStream_t stream) {
    DM_LAUNCH(maxpool_fwd_kernel, dm_cuda_grid((int64_t)B * (L / w) * C), DM_CUDA_BLOCK, 0, stream, out, argmax,
              in, B, L, C, w);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_maxpool_bwd_launch(float *grad_in, const float *grad_out, const int32_t *argmax,
                                               int B, int L, int C, int w, cudaStream_t stream) {
    DM_LAUNCH(maxpool_bwd_kernel, dm_cuda_grid((int64_t)B * L * C), DM_CUDA_BLOCK, 0, stream, grad_in, grad_out,
              argmax, B, L, C, w);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_maxpool_fwd(dm_backend *be, float *out, int32_t *argmax, const float *in, int B, int L,
                                 int C, int w) {
    if ((int64_t)B * (L / w) * C > 0)
        dm_cuda_check(be, dm_cuda_maxpool_fwd_launch(out, argmax, in, B, L, C, w, dm_cuda_stream(be)), "maxpool_fwd");
}

DM_KAPI void dm_cuda_maxpool_bwd(dm_backend *be, float *grad_in, const float *grad_out, const int32_t *argmax,
                                 int B, int L, int C, int w) {
    if ((int64_t)B * L * C > 0)
        dm_cuda_check(be, dm_cuda_maxpool_bwd_launch(grad_in, grad_out, argmax, B, L, C, w, dm_cuda_stream(be)),
                      "maxpool_bwd");
}
