/*
 * relu.c: out = max(in, 0), in place allowed; backward passes grad_out where out > 0 (the derivative
 * at 0 is taken as 0, as PyTorch does).
 */
#include "cpu.h"

void dm_cpu_relu_fwd_ref(dm_backend *be, float *out, const float *in, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void dm_cpu_relu_bwd_ref(dm_backend *be, float *grad_in, const float *grad_out, const float *out,
                         int64_t n) {
    for (int64_t i = 0; i < n; i++) grad_in[i] = out[i] > 0.0f ? grad_out[i] : 0.0f;
}

/* out may be in (the model applies ReLU in place): no restrict here */
DM_CPU_BODY void relu_fwd_span_body(float *out, const float *in, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}
DM_CPU_DISPATCH(relu_fwd_span, (float *out, const float *in, int64_t n), (out, in, n))

DM_CPU_BODY void relu_bwd_span_body(float *grad_in, const float *grad_out,
                                    const float *out, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) grad_in[i] = out[i] > 0.0f ? grad_out[i] : 0.0f;
}
DM_CPU_DISPATCH(relu_bwd_span,
                (float *grad_in, const float *grad_out, const float *out, int64_t n),
                (grad_in, grad_out, out, n))

typedef struct {
    float *y;
    const float *a, *b;
} relu_job;

static void relu_fwd_part(void *p, int64_t i0, int64_t i1) {
    relu_job *j = p;
    relu_fwd_span(j->y + i0, j->a + i0, i1 - i0);
}

static void relu_bwd_part(void *p, int64_t i0, int64_t i1) {
    relu_job *j = p;
    relu_bwd_span(j->y + i0, j->a + i0, j->b + i0, i1 - i0);
}

void dm_cpu_relu_fwd(dm_backend *be, float *out, const float *in, int64_t n) {
    dm_cpu_parallel_for(be, n, DM_CPU_GRAIN, relu_fwd_part, &(relu_job){out, in, NULL});
}

void dm_cpu_relu_bwd(dm_backend *be, float *grad_in, const float *grad_out, const float *out,
                     int64_t n) {
    dm_cpu_parallel_for(be, n, DM_CPU_GRAIN, relu_bwd_part, &(relu_job){grad_in, grad_out, out});
}
