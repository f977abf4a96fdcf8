/*
 * conv1d_dx_cols.h: the sparse way's loops of conv1d_dx.c for one vector type, included there once per
 * width (GCC's code for a vector wider than the ISA's registers spills them): before including, define
 * DX_VT (the vector type), DX_VW (its floats: 16, 8 or 4) and DX_SUFFIX (the functions' suffix).
 */
#define DX_CAT2(a, b) a##b
#define DX_CAT(a, b) DX_CAT2(a, b)

/* Columns [j0, j0 + 16·NU) of every listed row of the group, added into grad_in (gin: the group's
 * first sequence). Each row's sum runs over its entries in two interleaved halves (even and odd
 * entries, 2·NU independent accumulators for the FMA latency), added at the end. wb is that column
 * block of w, packed (dx_pack): row o at o·16·NU, zeros past column KC. NU ≤ 4 with AVX-512 (8 of its
 * 32 registers), ≤ 2 with AVX2 (8 of its 16), 1 with SSE (8 of 16). */
DM_CPU_BODY void DX_CAT(dx_cols, DX_SUFFIX)(float *restrict gin, dx_lists d, int nrow, int Lo, int Li, int Ci, int K, int pad,
                         const float *restrict wb, int KC, int j0, const int NU) {
    for (int r = 0; r < nrow; r++) {
        int32_t e = d.rs[r], e1 = d.rs[r + 1];
        if (e == e1) continue;
        int s = r / Lo, l = r - s * Lo, p0 = l - pad;
        int lo = (p0 < 0 ? -p0 : 0) * Ci, hi = (p0 + K > Li ? Li - p0 : K) * Ci;   /* columns inside [0, Li) */
        if (lo < j0) lo = j0;
        if (hi > j0 + 16 * NU) hi = j0 + 16 * NU;
        if (hi > KC) hi = KC;
        if (lo >= hi) continue;
        enum { PV = 16 / DX_VW };
        DX_VT a[4 * PV] = {0}, b[4 * PV] = {0}, t;   /* PV vectors per 16 columns */
        for (; e + 1 < e1; e += 2) {
            float g0 = d.val[e], g1 = d.val[e + 1];
            const float *w0 = wb + d.idx[e] * 16 * NU, *w1 = wb + d.idx[e + 1] * 16 * NU;
            for (int u = 0; u < NU * PV; u++) {
                memcpy(&t, w0 + DX_VW * u, sizeof t);
                a[u] += g0 * t;
                memcpy(&t, w1 + DX_VW * u, sizeof t);
                b[u] += g1 * t;
            }
        }
        if (e < e1) {
            float g0 = d.val[e];
            const float *w0 = wb + d.idx[e] * 16 * NU;
            for (int u = 0; u < NU * PV; u++) {
                memcpy(&t, w0 + DX_VW * u, sizeof t);
                a[u] += g0 * t;
            }
        }
        int64_t base = ((int64_t)s * Li + p0) * Ci;   /* gin index of the row's window's column 0 */
        /* whole vectors where they stay inside the sequence: any column past hi there is padding of w
         * (columns ≥ KC), whose sum is +0 (a, b start at +0 and never become −0), and grad_in is never −0
         * (it starts at +0 and adds such sums), so adding it changes no bit (an infinite or NaN
         * gradient, whose map is not finite anyway, may reach a few positions past its window) */
        if (lo == j0 && base + j0 + 16 * NU <= ((int64_t)s + 1) * Li * Ci) {
            float *dst = gin + base + j0;
            for (int u = 0; u < NU * PV; u++) {
                memcpy(&t, dst + DX_VW * u, sizeof t);
                t += a[u] + b[u];
                memcpy(dst + DX_VW * u, &t, sizeof t);
            }
        } else {
            float acc[64];
            for (int u = 0; u < NU * PV; u++) {
                t = a[u] + b[u];
                memcpy(acc + DX_VW * u, &t, sizeof t);
            }
            for (int j = lo; j < hi; j++) gin[base + j] += acc[j - j0];
        }
    }
}

DM_CPU_BODY void DX_CAT(dx_sparse_body, DX_SUFFIX)(float *restrict gin, const int32_t *rs, const int32_t *idx, const float *val,
                                int nrow, int Lo, int Li, int Ci, int K, int pad, const float *restrict wp, int Co,
                                int KC, int numax) {
    dx_lists d = {rs, idx, val};
    for (int j0 = 0; j0 < KC; j0 += 16 * numax) {
        int nu = (KC - j0 + 15) / 16;
        const float *wb = wp + (int64_t)Co * j0;
        switch (nu > numax ? numax : nu) {
        case 4: DX_CAT(dx_cols, DX_SUFFIX)(gin, d, nrow, Lo, Li, Ci, K, pad, wb, KC, j0, 4); break;
        case 3: DX_CAT(dx_cols, DX_SUFFIX)(gin, d, nrow, Lo, Li, Ci, K, pad, wb, KC, j0, 3); break;
        case 2: DX_CAT(dx_cols, DX_SUFFIX)(gin, d, nrow, Lo, Li, Ci, K, pad, wb, KC, j0, 2); break;
        default: DX_CAT(dx_cols, DX_SUFFIX)(gin, d, nrow, Lo, Li, Ci, K, pad, wb, KC, j0, 1); break;
        }
    }
}
#undef DX_CAT
#undef DX_CAT2
#undef DX_VT
#undef DX_VW
#undef DX_SUFFIX
