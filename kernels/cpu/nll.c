/*
 * nll.c: negative log-likelihood of the true class, positive class first (SPEC.md §1): cls = 0 for
 * label 1 (bound), 1 for label 0. loss[b] = −logprob[b, cls]; grad_logprob = −scale at [b, cls]
 * (scale = 1/denom of the mean).
 */
#include "cpu.h"

void dm_cpu_nll_ref(dm_backend *be, float *loss, float *grad_logprob, const float *logprob,
                    const int8_t *labels, int B, float scale) {
    for (int b = 0; b < B; b++) {
        int cls = labels[b] == 1 ? 0 : 1;
        loss[b] = -logprob[2 * b + cls];
        grad_logprob[2 * b + cls] = -scale;
        grad_logprob[2 * b + 1 - cls] = 0.0f;
    }
}

void dm_cpu_nll(dm_backend *be, float *loss, float *grad_logprob, const float *logprob,
                const int8_t *labels, int B, float scale) {
    dm_cpu_nll_ref(be, loss, grad_logprob, logprob, labels, B, scale);
}
