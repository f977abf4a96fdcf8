/*
 * reduce.cu: column sums shared by the bias gradients of conv1d and the LSTM.
 * dst1[c] += Σ_r src[r, c] (and dst2[c] += the same when dst2 is not NULL), src (rows, cols).
 * Block → 32 columns × 8 row lanes (256 threads): threadIdx.x % 32 picks the column (coalesced reads
 * of 32 consecutive floats), threadIdx.x / 32 strides over rows; the 8 partial sums of a column are
 * added in a fixed order through shared memory, so the result is deterministic.
 */
#include "common.cuh"
#include "dm_cuda.h"

#define DM_COLSUM_COLS 32
#define DM_COLSUM_LANES 8

static __global__ void colsum_add_kernel(float *dst1, float *dst2, const float *src, int rows, int cols) {
    __shared__ float part[DM_COLSUM_LANES][DM_COLSUM_COLS];
    int cx = threadIdx.x % DM_COLSUM_COLS, ry = threadIdx.x / DM_COLSUM_COLS;
    int c = blockIdx.x * DM_COLSUM_COLS + cx;
    float s = 0.0f;
    if (c < cols)
        for (int r = ry; r < rows; r += DM_COLSUM_LANES) s += src[(int64_t)r * cols + c];
    part[ry][cx] = s;
    __syncthreads();
    if (ry == 0 && c < cols) {
        float t = 0.0f;
        for (int k = 0; k < DM_COLSUM_LANES; k++) t += part[k][cx];
        dst1[c] += t;
        if (dst2) dst2[c] += t;
    }
}

DM_KAPI cudaError_t dm_cuda_colsum_add_launch(float *dst1, float *dst2, const float *src, int rows, int cols,
                                              cudaStream_t stream) {
    unsigned grid = (unsigned)((cols + DM_COLSUM_COLS - 1) / DM_COLSUM_COLS);
    DM_LAUNCH(colsum_add_kernel, grid, DM_COLSUM_COLS * DM_COLSUM_LANES, 0, stream, dst1, dst2, src, rows, cols);
    return cudaGetLastError();
}
