/*
 * lerp.c: out = a + t · (b − a), element-wise: the points of an integrated-gradients path between a
 * baseline a and an input b (host/saliency.c).
 */
#include "cpu.h"

void dm_cpu_lerp_ref(dm_backend *be, float *out, const float *a, const float *b, float t, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + t * (b[i] - a[i]);
}

typedef struct {
    float *out;
    const float *a, *b;
    float t;
} lerp_job;

static void lerp_part(void *p, int64_t i0, int64_t i1) {
    lerp_job *j = p;
    float *restrict out = j->out;
    const float *restrict a = j->a, *restrict b = j->b;
    float t = j->t;
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) out[i] = a[i] + t * (b[i] - a[i]);
}

void dm_cpu_lerp(dm_backend *be, float *out, const float *a, const float *b, float t, int64_t n) {
    dm_cpu_parallel_for(be, n, DM_CPU_GRAIN, lerp_part, &(lerp_job){out, a, b, t});
}
