/*
 * axpy.c: y += α · x, element-wise: the running sum of integrated-gradients path gradients
 * (host/saliency.c).
 */
#include "cpu.h"

void dm_cpu_axpy_ref(dm_backend *be, float *y, const float *x, float alpha, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void dm_cpu_axpy(dm_backend *be, float *y, const float *x, float alpha, int64_t n) {
#pragma omp parallel for simd num_threads(be->n_threads) schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}
