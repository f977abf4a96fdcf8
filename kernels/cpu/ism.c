/*
 * ism.c: in-silico mutagenesis on the backend (host/sal_dev.c; backend.h's ism_* entries). The variants
 * of a packed row, the class score of each forward row, and the per-row differences to the score of
 * the unchanged sequence. Plain loops: the fast and the reference entries are the same code (nothing
 * here is arithmetic-heavy, and the differences are computed in double exactly as the host did).
 */
#include <math.h>
#include <string.h>

#include "cpu.h"
#include "dm_pack.h"

void dm_cpu_ism_variants_ref(dm_backend *be, float *x, const uint8_t *row, int v0, int nv, int L,
                             bool n_quarter) {
    (void)be;
    for (int j = 0; j < nv; j++) {
        int v = v0 + j, lv = v / 4, base = v % 4;
        float *w = x + (size_t)j * L * 4;
        for (int l = 0; l < L; l++) {
            uint8_t code = l == lv ? (uint8_t)base : dm_pack_get(row, L, l);
            for (int c = 0; c < 4; c++) w[4 * l + c] = dm_onehot_value(code, c, n_quarter);
        }
    }
}

void dm_cpu_ism_collect_ref(dm_backend *be, float *out, const float *logprob, int cls, int nv) {
    (void)be;
    for (int j = 0; j < nv; j++) out[j] = logprob[2 * j + cls];
}

void dm_cpu_ism_reduce_ref(dm_backend *be, float *attr, float *p_pos, const float *scores,
                           const uint8_t *packed, const int8_t *cls, int B, int L) {
    (void)be;
    int rb = dm_pack_row_bytes(L), nv = 4 * L;
    for (int b = 0; b < B; b++) {
        const float *s = scores + (size_t)b * (nv + 1);
        const uint8_t *row = packed + (size_t)b * rb;
        double ref = s[nv];    /* the row itself: used when no position holds a base */
        for (int l = 0; l < L; l++) {
            uint8_t code = dm_pack_get(row, L, l);
            if (code < 4) {
                ref = s[4 * l + code];
                break;
            }
        }
        for (int v = 0; v < nv; v++) attr[(size_t)b * nv + v] = (float)(s[v] - ref);
        p_pos[b] = cls[b] == 0 ? expf((float)ref) : 1.0f - expf((float)ref);
    }
}

void dm_cpu_ism_variants(dm_backend *be, float *x, const uint8_t *row, int v0, int nv, int L, bool n_quarter) {
    dm_cpu_ism_variants_ref(be, x, row, v0, nv, L, n_quarter);
}
void dm_cpu_ism_collect(dm_backend *be, float *out, const float *logprob, int cls, int nv) {
    dm_cpu_ism_collect_ref(be, out, logprob, cls, nv);
}
void dm_cpu_ism_reduce(dm_backend *be, float *attr, float *p_pos, const float *scores, const uint8_t *packed,
                       const int8_t *cls, int B, int L) {
    dm_cpu_ism_reduce_ref(be, attr, p_pos, scores, packed, cls, B, L);
}

void dm_cpu_ism_window_ref(dm_backend *be, float *out, const float *ref, const float *win, const int32_t *starts,
                           int v0, int nv, int Wo, int Wi, int Li, int C) {
    (void)be;
    for (int j = 0; j < nv; j++) {
        int p0 = (v0 + j) / 4, g = starts[2 * p0], s = starts[2 * p0 + 1];
        for (int q = 0; q < Wo; q++) {
            int p = g + q;
            float *o = out + ((size_t)j * Wo + q) * C;
            const float *src = p < 0 || p >= Li ? NULL
                               : p >= s && p < s + Wi ? win + ((size_t)j * Wi + (p - s)) * C
                                                      : ref + (size_t)p * C;
            if (src) memcpy(o, src, sizeof(float) * (size_t)C);
            else memset(o, 0, sizeof(float) * (size_t)C);
        }
    }
}

void dm_cpu_ism_window(dm_backend *be, float *out, const float *ref, const float *win, const int32_t *starts,
                       int v0, int nv, int Wo, int Wi, int Li, int C) {
    dm_cpu_ism_window_ref(be, out, ref, win, starts, v0, nv, Wo, Wi, Li, C);
}
