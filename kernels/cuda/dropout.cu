/*
 * dropout.cu: inverted dropout with the CPU backend's masks. Element i is dropped when the Philox
 * number (key, index, i) (dm_rng.h) maps below p, so the mask depends on neither the launch shape nor
 * the backend. Thread → block of 4 elements (one Philox call gives four numbers), grid-stride.
 */
#include "common.cuh"
#include "dm_cuda.h"
#include "dm_rng.h"

static __global__ void dropout_fwd_kernel(float *out, float *mask, const float *in, int64_t n, float p,
                                          float scale, uint64_t key, uint64_t index) {
    int64_t n_blk = (n + 3) / 4;
    DM_GRID_STRIDE(blk, n_blk) {
        uint32_t w[4];
        dm_philox(w, key, index, (uint64_t)blk);
        for (int j = 0; j < 4 && 4 * blk + j < n; j++) {
            int64_t i = 4 * blk + j;
            float m = dm_u32_to_unit(w[j]) < p ? 0.0f : scale;
            mask[i] = m;
            out[i] = in[i] * m;
        }
    }
}

static __global__ void dropout_bwd_kernel(float *grad_in, const float *grad_out, const float *mask, int64_t n) {
    DM_GRID_STRIDE(i, n) grad_in[i] = grad_out[i] * mask[i];
}

DM_KAPI cudaError_t dm_cuda_dropout_fwd_launch(float *out, float *mask, const float *in, int64_t n, float p,
                                               uint64_t key, uint64_t index, cudaStream_t stream) {
    float scale = 1.0f / (1.0f - p);
    DM_LAUNCH(dropout_fwd_kernel, dm_cuda_grid((n + 3) / 4), DM_CUDA_BLOCK, 0, stream, out, mask, in, n, p,
              scale, key, index);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_dropout_bwd_launch(float *grad_in, const float *grad_out, const float *mask,
                                               int64_t n, cudaStream_t stream) {
    DM_LAUNCH(dropout_bwd_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, stream, grad_in, grad_out, mask, n);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_dropout_fwd(dm_backend *be, float *out, float *mask, const float *in, int64_t n, float p,
                                 uint64_t key, uint64_t index) {
    if (n > 0)
        dm_cuda_check(be, dm_cuda_dropout_fwd_launch(out, mask, in, n, p, key, index, dm_cuda_stream(be)),
                      "dropout_fwd");
}

DM_KAPI void dm_cuda_dropout_bwd(dm_backend *be, float *grad_in, const float *grad_out, const float *mask,
                                 int64_t n) {
    if (n > 0)
        dm_cuda_check(be, dm_cuda_dropout_bwd_launch(grad_in, grad_out, mask, n, dm_cuda_stream(be)), "dropout_bwd");
}
