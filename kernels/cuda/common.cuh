/*
 * common.cuh: device helpers shared by the kernels (C subset of CUDA, see kcompat.h).
 */
#ifndef DM_CUDA_COMMON_CUH
#define DM_CUDA_COMMON_CUH

#include "kcompat.h"

#define DM_FULL_MASK 0xffffffffu

/* Grid-stride loop over [0, n) with a 64-bit index. */
#define DM_GRID_STRIDE(i, n)                                                                       \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
         i += (int64_t)blockDim.x * gridDim.x)

/* Sum of v over a warp; every lane gets it. */
static __device__ __forceinline__ float dm_warp_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(DM_FULL_MASK, v, off);
    return v;
}

/* Sum of v over the block (blockDim.x a multiple of 32, ≤ 1024); `red` is __shared__ float[32].
 * Every thread gets the sum. Contains barriers: call from all threads of the block. */
static __device__ __forceinline__ float dm_block_sum(float v, float *red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    v = dm_warp_sum(v);
    if (lane == 0) red[warp] = v;
    __syncthreads();
    float s = 0.0f;
    for (int k = 0; k < n_warps; k++) s += red[k];     /* fixed order: deterministic */
    __syncthreads();                                   /* red may be reused right after */
    return s;
}

static __device__ __forceinline__ float dm_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

#endif /* DM_CUDA_COMMON_CUH */
