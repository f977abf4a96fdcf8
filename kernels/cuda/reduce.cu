/*
 * reduce.cu: column sums shared by the bias gradients of conv1d and the LSTM.
 * dst1[c] += Σ_r src[r, c] (and dst2[c] += the same when dst2 is not NULL), src (rows, cols).
 *
 * One launch, two passes, fixed order (deterministic: no float atomics). Grid (gx, R): gx = ⌈cols / 32⌉
 * column groups × R row chunks, R chosen from the shape alone (so the summation order, hence every bit
 * of the result, is the same on every device and run). Block → 32 columns × 8 row lanes (256 threads):
 * threadIdx.x % 32 picks the column (coalesced reads of 32 consecutive floats), threadIdx.x / 32 strides
 * over the chunk's rows; the 8 lane sums are added in lane order through shared memory.
 * With R = 1 the block adds its sum to dst directly. Otherwise pass 1 writes the chunk's sum to
 * part[chunk, c]; the block then fences and bumps the column group's counter (an integer atomic), and
 * the block that bumps it last does pass 2: Σ_chunk part[chunk, c] in chunk order, added to dst, and
 * resets the counter to 0 for the next launch. E.g. the conv bias gradient of 25,856 rows × 128
 * columns: 4 × 101 blocks instead of 4.
 */
#include "common.cuh"
#include "dm_cuda.h"

#define DM_COLSUM_COLS 32
#define DM_COLSUM_LANES 8
#define DM_COLSUM_CHUNK 256       /* rows per chunk at least: 32 rows per lane */
#define DM_COLSUM_BLOCKS 512      /* target blocks (gx·R): a few waves of any current device */

static __global__ void colsum_add_kernel(float *dst1, float *dst2, const float *src, int rows, int cols,
                                         int chunk, float *part, unsigned *count) {
    __shared__ float lanes[DM_COLSUM_LANES][DM_COLSUM_COLS];
    __shared__ int last;
    int cx = threadIdx.x % DM_COLSUM_COLS, ry = threadIdx.x / DM_COLSUM_COLS;
    int c = blockIdx.x * DM_COLSUM_COLS + cx;
    int r0 = blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    float s = 0.0f;
    if (c < cols)
        for (int r = r0 + ry; r < r1; r += DM_COLSUM_LANES) s += src[(int64_t)r * cols + c];
    lanes[ry][cx] = s;
    __syncthreads();
    float t = 0.0f;
    if (ry == 0)
        for (int k = 0; k < DM_COLSUM_LANES; k++) t += lanes[k][cx];
    if (gridDim.y == 1) {
        if (ry == 0 && c < cols) {
            dst1[c] += t;
            if (dst2) dst2[c] += t;
        }
        return;
    }
    if (ry == 0 && c < cols) part[(int64_t)blockIdx.y * cols + c] = t;
    __threadfence();                       /* the partial is visible before the counter moves */
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(&count[blockIdx.x], 1u) == gridDim.y - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();                       /* every other chunk's partial is read after its fence */
    if (ry == 0 && c < cols) {
        const volatile float *p = part;
        float u = 0.0f;
        for (unsigned k = 0; k < gridDim.y; k++) u += p[(int64_t)k * cols + c];
        dst1[c] += u;
        if (dst2) dst2[c] += u;
    }
    if (threadIdx.x == 0) count[blockIdx.x] = 0;   /* ready for the next launch on this stream */
}

/* Row chunks of a launch: ≥ DM_COLSUM_CHUNK rows each, about DM_COLSUM_BLOCKS blocks in all. */
static int colsum_chunks(int rows, int cols) {
    int gx = (cols + DM_COLSUM_COLS - 1) / DM_COLSUM_COLS;
    int by_rows = (rows + DM_COLSUM_CHUNK - 1) / DM_COLSUM_CHUNK;
    int by_grid = DM_COLSUM_BLOCKS / gx;
    int R = by_rows < by_grid ? by_rows : by_grid;
    return R < 1 ? 1 : R;
}

DM_KAPI cudaError_t dm_cuda_colsum_add_launch(float *dst1, float *dst2, const float *src, int rows, int cols,
                                              float *part, unsigned *count, cudaStream_t stream) {
    int R = part && count ? colsum_chunks(rows, cols) : 1;
    int chunk = (rows + R - 1) / R;
    R = (rows + chunk - 1) / chunk;        /* no empty chunk */
    if (R < 1) R = 1;
    dim3 grid = {(unsigned)((cols + DM_COLSUM_COLS - 1) / DM_COLSUM_COLS), (unsigned)R, 1};
    DM_LAUNCH(colsum_add_kernel, grid, DM_COLSUM_COLS * DM_COLSUM_LANES, 0, stream, dst1, dst2, src, rows, cols,
              chunk, part, count);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_colsum_add(dm_backend *be, float *dst1, float *dst2, const float *src, int rows, int cols,
                                const char *what) {
    if (rows <= 0 || cols <= 0) return;
    dm_cuda_ctx *ctx = (dm_cuda_ctx *)be->ctx;
    int gx = (cols + DM_COLSUM_COLS - 1) / DM_COLSUM_COLS, R = colsum_chunks(rows, cols);
    float *part = NULL;
    if (R > 1 && gx <= DM_CUDA_COLSUM_GROUPS) {
        if (!ctx->colsum_count) {
            cudaError_t err = cudaMalloc((void **)&ctx->colsum_count, DM_CUDA_COLSUM_GROUPS * sizeof(unsigned));
            if (err == cudaSuccess)
                err = cudaMemsetAsync(ctx->colsum_count, 0, DM_CUDA_COLSUM_GROUPS * sizeof(unsigned), ctx->stream);
            if (err != cudaSuccess) {
                ctx->colsum_count = NULL;
                dm_cuda_check(be, err, what);
                return;
            }
        }
        part = dm_cuda_scratch(be, DM_CUDA_SCRATCH_RED, (size_t)R * cols);
        if (!part) return;
    }
    dm_cuda_check(be, dm_cuda_colsum_add_launch(dst1, dst2, src, rows, cols, part, part ? ctx->colsum_count : NULL,
                                                ctx->stream), what);
}
