/*
 * axpy.c: y += α · x, element-wise: the running sum of integrated-gradients path gradients
 * (host/saliency.c).
 */
#include "cpu.h"

void dm_cpu_axpy_ref(dm_backend *be, float *y, const float *x, float alpha, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

typedef struct {
    float *y;
    const float *x;
    float alpha;
} axpy_job;

static void axpy_part(void *p, int64_t i0, int64_t i1) {
    axpy_job *j = p;
    float *restrict y = j->y;
    const float *restrict x = j->x;
    float alpha = j->alpha;
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) y[i] += alpha * x[i];
}

void dm_cpu_axpy(dm_backend *be, float *y, const float *x, float alpha, int64_t n) {
    dm_cpu_parallel_for(be, n, DM_CPU_GRAIN, axpy_part, &(axpy_job){y, x, alpha});
}
