/*
 * onehot.cu: x (B, L, 4) from base codes (B, L) (SPEC.md §1, dm_onehot_value). Thread → position.
 */
#include "common.cuh"
#include "dm_cuda.h"
#include "dm_pack.h"

static __global__ void onehot_kernel(float *x, const uint8_t *codes, int64_t n, int n_quarter) {
    DM_GRID_STRIDE(i, n) {
        uint8_t code = codes[i];
        for (int c = 0; c < 4; c++) x[4 * i + c] = dm_onehot_value(code, c, n_quarter);
    }
}

DM_KAPI cudaError_t dm_cuda_onehot_launch(float *x, const uint8_t *codes, int B, int L, bool n_quarter,
                                          cudaStream_t stream) {
    int64_t n = (int64_t)B * L;
    DM_LAUNCH(onehot_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, stream, x, codes, n, (int)n_quarter);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_onehot(dm_backend *be, float *x, const uint8_t *codes, int B, int L, bool n_quarter) {
    if (B > 0 && L > 0) dm_cuda_check(be, dm_cuda_onehot_launch(x, codes, B, L, n_quarter, dm_cuda_stream(be)), "onehot");
}
