/*
 * lerp.c: out = a + t · (b − a), element-wise: the points of an integrated-gradients path between a
 * baseline a and an input b (host/saliency.c).
 */
#include "cpu.h"

void dm_cpu_lerp_ref(dm_backend *be, float *out, const float *a, const float *b, float t, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + t * (b[i] - a[i]);
}

void dm_cpu_lerp(dm_backend *be, float *out, const float *a, const float *b, float t, int64_t n) {
#pragma omp parallel for simd num_threads(be->n_threads) schedule(static)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + t * (b[i] - a[i]);
}
