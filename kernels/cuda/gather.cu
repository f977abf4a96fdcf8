/*
 * gather.cu: one training batch from the packed data set in device memory (dm_pack.h):
 * x[b] = one-hot of packed row perm[b], labels[b] = labels_all[perm[b]]. Thread → (b, position);
 * the thread of position 0 also copies the label.
 */
#include "common.cuh"
#include "dm_cuda.h"
#include "dm_pack.h"

static __global__ void gather_kernel(float *x, int8_t *labels, const uint8_t *packed, const int8_t *labels_all,
                                     const int32_t *perm, int B, int L, int n_quarter) {
    int rb = dm_pack_row_bytes(L);
    int64_t n = (int64_t)B * L;
    DM_GRID_STRIDE(i, n) {
        int b = (int)(i / L), l = (int)(i % L);
        int64_t row = perm[b];
        uint8_t code = dm_pack_get(packed + row * rb, L, l);
        for (int c = 0; c < 4; c++) x[4 * i + c] = dm_onehot_value(code, c, n_quarter);
        if (l == 0) labels[b] = labels_all[row];
    }
}

DM_KAPI cudaError_t dm_cuda_gather_launch(float *x, int8_t *labels, const uint8_t *packed,
                                          const int8_t *labels_all, const int32_t *perm, int B, int L,
                                          bool n_quarter, cudaStream_t stream) {
    DM_LAUNCH(gather_kernel, dm_cuda_grid((int64_t)B * L), DM_CUDA_BLOCK, 0, stream, x, labels, packed,
              labels_all, perm, B, L, (int)n_quarter);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_gather(dm_backend *be, float *x, int8_t *labels, const uint8_t *packed,
                            const int8_t *labels_all, const int32_t *perm, int B, int L, bool n_quarter) {
    if (B > 0 && L > 0)
        dm_cuda_check(be, dm_cuda_gather_launch(x, labels, packed, labels_all, perm, B, L, n_quarter,
                                                dm_cuda_stream(be)), "gather");
}
