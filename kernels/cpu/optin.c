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

void dm_cpu_optin_project(dm_backend *be, float *x, const float *z, int64_t n_pos, bool softmax) {
#pragma omp parallel for num_threads(be->n_threads) schedule(static)
    for (int64_t i = 0; i < n_pos; i++) project4(x + 4 * i, z + 4 * i, softmax);
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

void dm_cpu_optin_objective(dm_backend *be, float *objective, float *grad, const float *x,
                            const float *logprob, int R, int n, float lambda) {
    /* one restart per iteration: the sum over a restart stays in one thread, in order */
#pragma omp parallel for num_threads(dm_cpu_threads(be, R)) schedule(static)
    for (int r = 0; r < R; r++) dm_cpu_optin_objective_ref(be, objective + r, grad + (int64_t)r * n,
                                                           x + (int64_t)r * n, logprob + 2 * r, 1, n, lambda);
}

void dm_cpu_optin_rmsprop_ref(dm_backend *be, float *z, float *v, const float *grad, const float *x,
                              int64_t n_pos, float lr, float alpha, float eps, bool softmax) {
    for (int64_t i = 0; i < n_pos; i++)
        rmsprop4(z + 4 * i, v + 4 * i, grad + 4 * i, x + 4 * i, lr, alpha, eps, softmax);
}

void dm_cpu_optin_rmsprop(dm_backend *be, float *z, float *v, const float *grad, const float *x,
                          int64_t n_pos, float lr, float alpha, float eps, bool softmax) {
#pragma omp parallel for num_threads(be->n_threads) schedule(static)
    for (int64_t i = 0; i < n_pos; i++)
        rmsprop4(z + 4 * i, v + 4 * i, grad + 4 * i, x + 4 * i, lr, alpha, eps, softmax);
}
