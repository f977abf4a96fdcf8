/*
 * emu_kernels.cu: the test kernels of tests/test_emu.c, in the CUDA-C subset (CUDA-EMULATION.md §2),
 * so they compile both with nvcc (`nvcc -c -x cu -arch=sm_80 -I kernels/cuda tests/emu_kernels.cu`)
 * and, included by test_emu.c after kcompat.h, with gcc against the CPU emulator.
 *
 * Correctness kernels:
 *   reduce_kernel   partial[b] = sum of x[i] over the grid-stride indices of block b. Thread t of a
 *                   256-thread block sums its strided elements, the block halves them in shared memory
 *                   down to 32 values (a barrier after each step), and warp 0 finishes with
 *                   __shfl_down_sync. skip_barrier = 1 drops the barrier after the shared store: a
 *                   deliberate race.
 *   matmul_kernel   C (M, N) = A (M, K) B (K, N), row-major; a 16 x 16 block computes a 16 x 16 tile of
 *                   C, thread (tx, ty) the element (row ty, col tx), staging 16 x 16 tiles of A and B in
 *                   shared memory (zeros past the ragged edges).
 *   warp_ops_kernel each lane of each warp writes its results of every shuffle mode and width, ballot,
 *                   any and all (8 outputs per thread, see test_emu.c for the expected values).
 *   atomics_kernel  atomicAdd (float, int), atomicMax and atomicCAS from every thread.
 *   reverse_kernel  reverses each block's slice through DM_DYN_SHARED memory.
 *   ticket_kernel   thread 0 of each block draws a ticket (atomicAdd on a global counter); after a
 *                   barrier every thread reads the counter: with blocks run one after another it is
 *                   always ticket + 1; blocks in flight together see each other's tickets. Each block
 *                   also checks that its __shared__ array holds only what its own threads wrote.
 * Diagnostic kernels, each wrong on purpose (the emulator must report them):
 *   barrier_sites_kernel   two __syncthreads() call sites in divergent branches
 *   shfl_full_kernel       a full-mask shuffle, launched with a block that is not a whole warp
 *   shfl_half_kernel       a full-mask shuffle inside `if (lane < 16)`
 *   shfl_outside_kernel    lanes 0..15 (mask 0xffff) read lane 20, outside the mask
 *   deadlock_kernel        lane 0 waits at a shuffle while the rest of the block waits at a barrier
 *   early_exit_kernel      threads >= 32 return before a barrier the others wait at
 *   copy_kernel            out[i] = in[i] (reads never-written memory in the poison test)
 */
#include "kcompat.h"

#define DM_TEST_RED_BLOCK      256 /* threads per reduce block */
#define DM_TEST_RED_PER_THREAD 8   /* elements per thread the reduce launcher aims at */
#define DM_TEST_TILE           16
#define DM_TEST_WARP_OUTS      8 /* outputs per thread of warp_ops_kernel */
#define DM_FULL_MASK           0xffffffffu

static __global__ void reduce_kernel(const float *__restrict__ x, float *__restrict__ partial, int n,
                                     int skip_barrier) {
    __shared__ float s[DM_TEST_RED_BLOCK];
    unsigned tid = threadIdx.x;
    float acc = 0.0f;
    for (unsigned i = blockIdx.x * blockDim.x + tid; i < (unsigned)n; i += gridDim.x * blockDim.x)
        acc += x[i];
    s[tid] = acc;
    if (!skip_barrier) __syncthreads();
    for (unsigned stride = blockDim.x / 2; stride >= 32; stride /= 2) {
        if (tid < stride) s[tid] += s[tid + stride];
        __syncthreads();
    }
    if (tid < 32) {
        float v = s[tid];
        for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(DM_FULL_MASK, v, off);
        if (tid == 0) partial[blockIdx.x] = v;
    }
}

/* Blocks the reduce launcher uses for n elements (each thread sums about 8). */
DM_KAPI unsigned dm_test_reduce_blocks(int n) {
    unsigned per_block = DM_TEST_RED_BLOCK * DM_TEST_RED_PER_THREAD;
    return ((unsigned)n + per_block - 1) / per_block;
}

DM_KAPI cudaError_t dm_test_reduce(const float *x, float *partial, int n, int skip_barrier,
                                   cudaStream_t stream) {
    DM_LAUNCH(reduce_kernel, dm_test_reduce_blocks(n), DM_TEST_RED_BLOCK, 0, stream, x, partial, n,
              skip_barrier);
    return cudaGetLastError();
}

static __global__ void matmul_kernel(const float *__restrict__ A, const float *__restrict__ B,
                                     float *__restrict__ C, int M, int N, int K) {
    __shared__ float As[DM_TEST_TILE][DM_TEST_TILE];
    __shared__ float Bs[DM_TEST_TILE][DM_TEST_TILE];
    int tx = threadIdx.x, ty = threadIdx.y;
    int row = blockIdx.y * DM_TEST_TILE + ty, col = blockIdx.x * DM_TEST_TILE + tx;
    float acc = 0.0f;
    for (int t = 0; t < K; t += DM_TEST_TILE) {
        As[ty][tx] = (row < M && t + tx < K) ? A[row * K + t + tx] : 0.0f;
        Bs[ty][tx] = (t + ty < K && col < N) ? B[(t + ty) * N + col] : 0.0f;
        __syncthreads();
        for (int k = 0; k < DM_TEST_TILE; k++) acc += As[ty][k] * Bs[k][tx];
        __syncthreads();
    }
    if (row < M && col < N) C[row * N + col] = acc;
}

DM_KAPI cudaError_t dm_test_matmul(const float *A, const float *B, float *C, int M, int N, int K,
                                   cudaStream_t stream) {
    dim3 grid = {((unsigned)N + DM_TEST_TILE - 1) / DM_TEST_TILE,
                 ((unsigned)M + DM_TEST_TILE - 1) / DM_TEST_TILE, 1u};
    dim3 block = {DM_TEST_TILE, DM_TEST_TILE, 1u};
    DM_LAUNCH(matmul_kernel, grid, block, 0, stream, A, B, C, M, N, K);
    return cudaGetLastError();
}

/* out (threads, 8): lane values through shfl idx (source 3, width 8), up (1, width 8), down (2, width 16),
 * xor (4, width 16), xor (20, width 16: only the upper segment reaches the lower one), then ballot of the
 * odd lanes, any(lane == 5) and all(lane < 31). */
static __global__ void warp_ops_kernel(int *out) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int lane = threadIdx.x % 32;
    int *o = out + t * DM_TEST_WARP_OUTS;
    o[0] = __shfl_sync(DM_FULL_MASK, lane, 3, 8);
    o[1] = __shfl_up_sync(DM_FULL_MASK, lane, 1, 8);
    __syncwarp();
    o[2] = __shfl_down_sync(DM_FULL_MASK, lane, 2, 16);
    o[3] = __shfl_xor_sync(DM_FULL_MASK, lane, 4, 16);
    o[4] = __shfl_xor_sync(DM_FULL_MASK, lane, 20, 16);
    o[5] = (int)__ballot_sync(DM_FULL_MASK, lane & 1);
    __syncwarp(DM_FULL_MASK);
    o[6] = __any_sync(DM_FULL_MASK, lane == 5);
    o[7] = __all_sync(DM_FULL_MASK, lane < 31);
}

DM_KAPI cudaError_t dm_test_warp_ops(int *out, unsigned blocks, unsigned threads, cudaStream_t stream) {
    DM_LAUNCH(warp_ops_kernel, blocks, threads, 0, stream, out);
    return cudaGetLastError();
}

/* sum += x[i]; count += 1; max = max(i); slot = i for the first thread to swap it from -1. */
static __global__ void atomics_kernel(const float *x, int n, float *sum, int *count, int *max, int *slot) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    atomicAdd(sum, x[i]);
    atomicAdd(count, 1);
    atomicMax(max, i);
    atomicCAS(slot, -1, i);
}

DM_KAPI cudaError_t dm_test_atomics(const float *x, int n, float *sum, int *count, int *max, int *slot,
                                    cudaStream_t stream) {
    DM_LAUNCH(atomics_kernel, ((unsigned)n + 127) / 128, 128, 0, stream, x, n, sum, count, max, slot);
    return cudaGetLastError();
}

/* y[b * blockDim + t] = x[b * blockDim + blockDim - 1 - t], through dynamic shared memory. */
static __global__ void reverse_kernel(const float *x, float *y) {
    DM_DYN_SHARED(float, buf);
    unsigned t = threadIdx.x, base = blockIdx.x * blockDim.x;
    buf[t] = x[base + t];
    __syncthreads();
    y[base + t] = buf[blockDim.x - 1 - t];
}

DM_KAPI cudaError_t dm_test_reverse(const float *x, float *y, unsigned blocks, unsigned threads,
                                    cudaStream_t stream) {
    DM_LAUNCH(reverse_kernel, blocks, threads, threads * sizeof(float), stream, x, y);
    return cudaGetLastError();
}

static __global__ void barrier_sites_kernel(float *out) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1.0f;
}

static __global__ void shfl_full_kernel(float *out) {
    float v = (float)threadIdx.x;
    out[threadIdx.x] = __shfl_down_sync(DM_FULL_MASK, v, 1);
}

static __global__ void shfl_half_kernel(float *out) {
    float v = (float)threadIdx.x;
    if (threadIdx.x % 32 < 16) v = __shfl_down_sync(DM_FULL_MASK, v, 1);
    out[threadIdx.x] = v;
}

static __global__ void shfl_outside_kernel(float *out) {
    float v = (float)threadIdx.x;
    if (threadIdx.x < 16) v = __shfl_sync(0x0000ffffu, v, 20);
    out[threadIdx.x] = v;
}

static __global__ void deadlock_kernel(float *out) {
    float v = (float)threadIdx.x;
    if (threadIdx.x == 0) v = __shfl_sync(DM_FULL_MASK, v, 0);
    __syncthreads();
    out[threadIdx.x] = v;
}

static __global__ void early_exit_kernel(float *out) {
    if (threadIdx.x >= 32) return;
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}

static __global__ void copy_kernel(const float *in, float *out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i];
}

/* The diagnostic kernels by name, launched with one block of `threads` threads. */
enum dm_test_bad {
    DM_TEST_BARRIER_SITES,
    DM_TEST_SHFL_FULL,
    DM_TEST_SHFL_HALF,
    DM_TEST_SHFL_OUTSIDE,
    DM_TEST_DEADLOCK,
    DM_TEST_EARLY_EXIT
};

DM_KAPI cudaError_t dm_test_bad(enum dm_test_bad which, float *out, unsigned threads, cudaStream_t stream) {
    switch (which) {
    case DM_TEST_BARRIER_SITES:
        DM_LAUNCH(barrier_sites_kernel, 1, threads, 0, stream, out);
        break;
    case DM_TEST_SHFL_FULL:
        DM_LAUNCH(shfl_full_kernel, 1, threads, 0, stream, out);
        break;
    case DM_TEST_SHFL_HALF:
        DM_LAUNCH(shfl_half_kernel, 1, threads, 0, stream, out);
        break;
    case DM_TEST_SHFL_OUTSIDE:
        DM_LAUNCH(shfl_outside_kernel, 1, threads, 0, stream, out);
        break;
    case DM_TEST_DEADLOCK:
        DM_LAUNCH(deadlock_kernel, 1, threads, 0, stream, out);
        break;
    case DM_TEST_EARLY_EXIT:
        DM_LAUNCH(early_exit_kernel, 1, threads, 0, stream, out);
        break;
    }
    return cudaGetLastError();
}

#define DM_TEST_TICKET_BLOCK 32

static __global__ void ticket_kernel(unsigned *counter, unsigned *out) {
    __shared__ unsigned s_mine[DM_TEST_TICKET_BLOCK];
    __shared__ unsigned s_ticket;
    unsigned tid = threadIdx.x;
    if (tid == 0) s_ticket = atomicAdd(counter, 1u);
    s_mine[tid] = blockIdx.x;
    __syncthreads();
    unsigned seen = atomicAdd(counter, 0u);
    if (tid == 0) {
        unsigned ok = 1;
        for (unsigned i = 0; i < DM_TEST_TICKET_BLOCK; i++) ok &= s_mine[i] == blockIdx.x;
        out[2 * blockIdx.x] = s_ticket;
        out[2 * blockIdx.x + 1] = ok ? seen : 0xFFFFFFFFu;
    }
}

/* ticket_kernel over `blocks` blocks; counter starts at 0, out holds 2 * blocks values. */
DM_KAPI cudaError_t dm_test_ticket(unsigned *counter, unsigned *out, unsigned blocks, cudaStream_t stream) {
    DM_LAUNCH(ticket_kernel, blocks, DM_TEST_TICKET_BLOCK, 0, stream, counter, out);
    return cudaGetLastError();
}

/* copy_kernel with a caller-chosen configuration (the dim3 and size checks). */
DM_KAPI cudaError_t dm_test_copy(const float *in, float *out, int n, dim3 grid, dim3 block,
                                 cudaStream_t stream) {
    DM_LAUNCH(copy_kernel, grid, block, 0, stream, in, out, n);
    return cudaGetLastError();
}
