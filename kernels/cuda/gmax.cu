/*
 * gmax.cu: global max over positions, out (B, C) = max_l in (B, L, C), argmax the first position of
 * the maximum (kernels/cpu/gmax.c). Forward: thread → (b, c), a loop over L (consecutive threads read
 * consecutive channels: coalesced). Backward: thread → input element, a gather from its (b, c).
 */
#include "common.cuh"
#include "dm_cuda.h"

static __global__ void gmax_fwd_kernel(float *out, int32_t *argmax, const float *in, int B, int L, int C) {
    int64_t n = (int64_t)B * C;
    DM_GRID_STRIDE(i, n) {
        int64_t b = i / C;
        int c = (int)(i % C);
        const float *x = in + b * L * C + c;
        float best = x[0];
        int arg = 0;
        for (int l = 1; l < L; l++)
            if (x[(int64_t)l * C] > best) {
                best = x[(int64_t)l * C];
                arg = l;
            }
        out[i] = best;
        argmax[i] = arg;
    }
}

static __global__ void gmax_bwd_kernel(float *grad_in, const float *grad_out, const int32_t *argmax, int B,
                                       int L, int C) {
    int64_t n = (int64_t)B * L * C;
    DM_GRID_STRIDE(i, n) {
        int c = (int)(i % C), l = (int)((i / C) % L);
        int64_t o = (i / ((int64_t)C * L)) * C + c;
        grad_in[i] = argmax[o] == l ? grad_out[o] : 0.0f;
    }
}

DM_KAPI cudaError_t dm_cuda_gmax_fwd_launch(float *out, int32_t *argmax, const float *in, int B, int L, int C,
                                            cudaStream_t stream) {
    DM_LAUNCH(gmax_fwd_kernel, dm_cuda_grid((int64_t)B * C), DM_CUDA_BLOCK, 0, stream, out, argmax, in, B, L, C);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_gmax_bwd_launch(float *grad_in, const float *grad_out, const int32_t *argmax, int B,
                                            int L, int C, cudaStream_t stream) {
    DM_LAUNCH(gmax_bwd_kernel, dm_cuda_grid((int64_t)B * L * C), DM_CUDA_BLOCK, 0, stream, grad_in, grad_out,
              argmax, B, L, C);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_gmax_fwd(dm_backend *be, float *out, int32_t *argmax, const float *in, int B, int L, int C) {
    if ((int64_t)B * C > 0 && L > 0)
        dm_cuda_check(be, dm_cuda_gmax_fwd_launch(out, argmax, in, B, L, C, dm_cuda_stream(be)), "gmax_fwd");
}

DM_KAPI void dm_cuda_gmax_bwd(dm_backend *be, float *grad_in, const float *grad_out, const int32_t *argmax,
                              int B, int L, int C) {
    if ((int64_t)B * L * C > 0)
        dm_cuda_check(be, dm_cuda_gmax_bwd_launch(grad_in, grad_out, argmax, B, L, C, dm_cuda_stream(be)), "gmax_bwd");
}
