/*
 * ism.cu: in-silico mutagenesis on the device (kernels/cpu/ism.c, backend.h's ism_* entries).
 * variants: thread → (variant, position) of the one-hot rows; collect: thread → variant; reduce:
 * thread → (row, variant), each finding its row's reference (the first base present, usually at
 * position 0) by itself, so no thread waits for another; the thread of variant 0 writes P(pos); window:
 * thread → (variant, position, channel), a copy.
 */
#include "common.cuh"
#include "dm_cuda.h"
#include "dm_pack.h"

static __global__ void ism_variants_kernel(float *x, const uint8_t *row, int v0, int nv, int L, int n_quarter) {
    int64_t n = (int64_t)nv * L;
    DM_GRID_STRIDE(i, n) {
        int j = (int)(i / L), l = (int)(i % L), v = v0 + j;
        uint8_t code = l == v / 4 ? (uint8_t)(v % 4) : dm_pack_get(row, L, l);
        for (int c = 0; c < 4; c++) x[4 * i + c] = dm_onehot_value(code, c, n_quarter);
    }
}

static __global__ void ism_collect_kernel(float *out, const float *logprob, int cls, int nv) {
    DM_GRID_STRIDE(j, nv) out[j] = logprob[2 * j + cls];
}

static __global__ void ism_reduce_kernel(float *attr, float *p_pos, const float *scores, const uint8_t *packed,
                                         const int8_t *cls, int B, int L) {
    int nv = 4 * L, rb = dm_pack_row_bytes(L);
    int64_t n = (int64_t)B * nv;
    DM_GRID_STRIDE(i, n) {
        int b = (int)(i / nv), v = (int)(i % nv);
        const float *s = scores + (int64_t)b * (nv + 1);
        const uint8_t *row = packed + (int64_t)b * rb;
        double ref = s[nv];
        for (int l = 0; l < L; l++) {
            uint8_t code = dm_pack_get(row, L, l);
            if (code < 4) {
                ref = s[4 * l + code];
                break;
            }
        }
        attr[i] = (float)((double)s[v] - ref);
        if (v == 0) p_pos[b] = cls[b] == 0 ? expf((float)ref) : 1.0f - expf((float)ref);
    }
}

/* thread → (variant, position, channel) of the gathered window */
static __global__ void ism_window_kernel(float *out, const float *ref, const float *win, const int32_t *starts,
                                         int v0, int nv, int Wo, int Wi, int Li, int C) {
    int64_t n = (int64_t)nv * Wo * C;
    DM_GRID_STRIDE(i, n) {
        int c = (int)(i % C), q = (int)(i / C % Wo), j = (int)(i / C / Wo);
        int p0 = (v0 + j) / 4, g = starts[2 * p0], s = starts[2 * p0 + 1], p = g + q;
        out[i] = p < 0 || p >= Li       ? 0.0f
                 : p >= s && p < s + Wi ? win[((int64_t)j * Wi + (p - s)) * C + c]
                                        : ref[(int64_t)p * C + c];
    }
}

DM_KAPI void dm_cuda_ism_window(dm_backend *be, float *out, const float *ref, const float *win, const int32_t *starts,
                                int v0, int nv, int Wo, int Wi, int Li, int C) {
    if (nv < 1 || Wo < 1 || C < 1) return;
    int64_t n = (int64_t)nv * Wo * C;
    DM_LAUNCH(ism_window_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, dm_cuda_stream(be), out, ref, win, starts, v0, nv,
              Wo, Wi, Li, C);
    dm_cuda_check(be, cudaGetLastError(), "ism_window");
}

DM_KAPI void dm_cuda_ism_variants(dm_backend *be, float *x, const uint8_t *row, int v0, int nv, int L, bool n_quarter) {
    if (nv < 1 || L < 1) return;
    int64_t n = (int64_t)nv * L;
    DM_LAUNCH(ism_variants_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, dm_cuda_stream(be), x, row, v0, nv, L,
              (int)n_quarter);
    dm_cuda_check(be, cudaGetLastError(), "ism_variants");
}

DM_KAPI void dm_cuda_ism_collect(dm_backend *be, float *out, const float *logprob, int cls, int nv) {
    if (nv < 1) return;
    DM_LAUNCH(ism_collect_kernel, dm_cuda_grid(nv), DM_CUDA_BLOCK, 0, dm_cuda_stream(be), out, logprob, cls, nv);
    dm_cuda_check(be, cudaGetLastError(), "ism_collect");
}

DM_KAPI void dm_cuda_ism_reduce(dm_backend *be, float *attr, float *p_pos, const float *scores, const uint8_t *packed,
                                const int8_t *cls, int B, int L) {
    if (B < 1 || L < 1) return;
    DM_LAUNCH(ism_reduce_kernel, dm_cuda_grid((int64_t)B * 4 * L), DM_CUDA_BLOCK, 0, dm_cuda_stream(be), attr, p_pos,
              scores, packed, cls, B, L);
    dm_cuda_check(be, cudaGetLastError(), "ism_reduce");
}
