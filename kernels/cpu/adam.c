/*
 * adam.c: element-wise clipping to [−clip, clip], then Torch7's Adam (SPEC.md §4):
 *   m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;  θ ← θ − step · m / (√v + ε),
 * step = lr · √(1 − β2^t) / (1 − β1^t) (the caller computes it): ε on the uncorrected √v.
 * The clip keeps a NaN gradient NaN (fminf/fmaxf would turn it into ±clip and hide it from the
 * divergence check, which looks at the weights): comparisons are false for NaN, so it passes through;
 * for every other value, ±Inf included, it equals fminf(fmaxf(g, −clip), clip) bit for bit.
 */
#include <math.h>

#include "cpu.h"

void dm_cpu_adam_ref(dm_backend *be, float *param, const float *grad, float *m, float *v, int64_t n,
                     float step, float beta1, float beta2, float eps, float clip) {
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i];
        if (clip > 0.0f) g = g > clip ? clip : (g < -clip ? -clip : g);
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        param[i] -= step * m[i] / (sqrtf(v[i]) + eps);
    }
}

DM_CPU_BODY void adam_span_body(float *param, const float *grad, float *m,
                                float *v, int64_t n, float step, float beta1, float beta2,
                                float eps, float clip) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i];
        if (clip > 0.0f) g = g > clip ? clip : (g < -clip ? -clip : g);    /* NaN stays NaN */
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        param[i] -= step * m[i] / (sqrtf(v[i]) + eps);
    }
}
DM_CPU_DISPATCH(adam_span,
                (float *param, const float *grad, float *m, float *v,
                 int64_t n, float step, float beta1, float beta2, float eps, float clip),
                (param, grad, m, v, n, step, beta1, beta2, eps, clip))

typedef struct {
    float *param;
    const float *grad;
    float *m, *v;
    float step, beta1, beta2, eps, clip;
} adam_job;

static void adam_part(void *p, int64_t i0, int64_t i1) {
    adam_job *j = p;
    adam_span(j->param + i0, j->grad + i0, j->m + i0, j->v + i0, i1 - i0, j->step, j->beta1, j->beta2, j->eps,
              j->clip);
}

void dm_cpu_adam(dm_backend *be, float *param, const float *grad, float *m, float *v, int64_t n,
                 float step, float beta1, float beta2, float eps, float clip) {
    adam_job j = {param, grad, m, v, step, beta1, beta2, eps, clip};
    dm_cpu_parallel_for(be, n, DM_CPU_GRAIN, adam_part, &j);
}
