/*
 * optin.c: the three element-wise steps of class optimisation (SPEC.md §6.3, host/optimize.c) on the
 * input X (R restarts × L positions × 4 channels): projection X = softmax(Z) or Z, the objective
 * −log P(pos) + λ‖X‖² with its gradient term 2λX, and Torch's RMSprop (no momentum) on Z.
 */
#include <math.h>

#include "cpu.h"

/* The projection of one position: x (4) = softmax(z) or z. */
static inline void project4(float *restrict x, const float *restrict z, bool softmax) {
    if (!softmax) {
        for (int c = 0; c < 4; c++) x[c] = z[c];
        return;
    }
    float mx = fmaxf(fmaxf(z[0], z[1]), fmaxf(z[2], z[3])), s = 0;
    for (int c = 0; c < 4; c++) s += x[c] = expf(z[c] - mx);
    for (int c = 0; c < 4; c++) x[c] /= s;
}

/* The RMSprop step of one position, through the softmax Jacobian when `softmax`. */
static inline void rmsprop4(float *restrict z, float *restrict v, const float *restrict grad,
                            const float *restrict x, float lr, float alpha, float eps, bool softmax) {
    float g[4];
    float gx = grad[0] * x[0] + grad[1] * x[1] + grad[2] * x[2] + grad[3] * x[3];
    for (int c = 0; c < 4; c++) g[c] = softmax ? x[c] * (grad[c] - gx) : grad[c];
    for (int c = 0; c < 4; c++) {
        v[c] = alpha * v[c] + (1.0f - alpha) * g[c] * g[c];
        z[c] -= lr * g[c] / (sqrtf(v[c]) + eps);
    }
}

void dm_cpu_optin_project_ref(dm_backend *be, float *x, const float *z, int64_t n_pos, bool softmax) {
    for (int64_t i = 0; i < n_pos; i++) project4(x + 4 * i, z + 4 * i, softmax);
}

typedef struct {
    float *x, *z, *v, *objective;
    const float *cz, *grad, *cx, *logprob;
    float lr, alpha, eps, lambda;
    int n;
    bool softmax;
    dm_backend *be;
} optin_job;

static void project_part(void *p, int64_t i0, int64_t i1) {
    optin_job *j = p;
    for (int64_t i = i0; i < i1; i++) project4(j->x + 4 * i, j->cz + 4 * i, j->softmax);
}

void dm_cpu_optin_project(dm_backend *be, float *x, const float *z, int64_t n_pos, bool softmax) {
    optin_job j = {.x = x, .cz = z, .softmax = softmax};
    dm_cpu_parallel_for(be, n_pos, DM_CPU_GRAIN / 4, project_part, &j);
}

void dm_cpu_optin_objective_ref(dm_backend *be, float *objective, float *grad, const float *x,
                                const float *logprob, int R, int n, float lambda) {
    for (int r = 0; r < R; r++) {
        double sq = 0;
        for (int i = 0; i < n; i++) {
            float xv = x[(int64_t)r * n + i];
            sq += (double)xv * xv;
            grad[(int64_t)r * n + i] += 2.0f * lambda * xv;
        }
        objective[r] = (float)(-fmax(logprob[2 * r], log(1e-30)) + lambda * sq);
    }
}

static void objective_part(void *p, int64_t r0, int64_t r1) {
    optin_job *j = p;
    int64_t n = j->n;
    for (int64_t r = r0; r < r1; r++)
        dm_cpu_optin_objective_ref(j->be, j->objective + r, j->z + r * n, j->cx + r * n, j->logprob + 2 * r, 1,
                                   j->n, j->lambda);
}

void dm_cpu_optin_objective(dm_backend *be, float *objective, float *grad, const float *x,
                            const float *logprob, int R, int n, float lambda) {
    /* one restart per item: the sum over a restart stays in one thread, in order */
    optin_job j = {.objective = objective, .z = grad, .cx = x, .logprob = logprob, .n = n, .lambda = lambda,
                   .be = be};
    dm_cpu_parallel_for(be, R, dm_cpu_row_grain(n), objective_part, &j);
}

void dm_cpu_optin_rmsprop_ref(dm_backend *be, float *z, float *v, const float *grad, const float *x,
                              int64_t n_pos, float lr, float alpha, float eps, bool softmax) {
    for (int64_t i = 0; i < n_pos; i++)
        rmsprop4(z + 4 * i, v + 4 * i, grad + 4 * i, x + 4 * i, lr, alpha, eps, softmax);
}

static void rmsprop_part(void *p, int64_t i0, int64_t i1) {
    optin_job *j = p;
    for (int64_t i = i0; i < i1; i++)
        rmsprop4(j->z + 4 * i, j->v + 4 * i, j->grad + 4 * i, j->cx + 4 * i, j->lr, j->alpha, j->eps, j->softmax);
}

void dm_cpu_optin_rmsprop(dm_backend *be, float *z, float *v, const float *grad, const float *x,
                          int64_t n_pos, float lr, float alpha, float eps, bool softmax) {
    optin_job j = {.z = z, .v = v, .grad = grad, .cx = x, .lr = lr, .alpha = alpha, .eps = eps, .softmax = softmax};
    dm_cpu_parallel_for(be, n_pos, DM_CPU_GRAIN / 4, rmsprop_part, &j);
}
