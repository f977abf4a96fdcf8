/*
 * logsoftmax.c: logprob = logits − logsumexp(logits) per row (max-shifted for stability); backward
 * grad_logits = g − softmax · Σ_j g_j, with softmax = exp(logprob).
 */
#include <math.h>

#include "cpu.h"

void dm_cpu_logsoftmax_fwd_ref(dm_backend *be, float *logprob, const float *logits, int B, int C) {
    for (int b = 0; b < B; b++) {
        const float *z = logits + (int64_t)b * C;
        double mx = z[0], s = 0;
        for (int c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
        for (int c = 0; c < C; c++) s += exp((double)z[c] - mx);
        for (int c = 0; c < C; c++) logprob[(int64_t)b * C + c] = (float)((double)z[c] - mx - log(s));
    }
}

void dm_cpu_logsoftmax_bwd_ref(dm_backend *be, float *grad_logits, const float *grad_logprob,
                               const float *logprob, int B, int C) {
    for (int b = 0; b < B; b++) {
        double gs = 0;
        for (int c = 0; c < C; c++) gs += grad_logprob[(int64_t)b * C + c];
        for (int c = 0; c < C; c++)
            grad_logits[(int64_t)b * C + c] =
                (float)(grad_logprob[(int64_t)b * C + c] - exp((double)logprob[(int64_t)b * C + c]) * gs);
    }
}

void dm_cpu_logsoftmax_fwd(dm_backend *be, float *logprob, const float *logits, int B, int C) {
    for (int b = 0; b < B; b++) {
        const float *z = logits + (int64_t)b * C;
        float mx = z[0], s = 0.0f;
        for (int c = 1; c < C; c++) mx = fmaxf(mx, z[c]);
        for (int c = 0; c < C; c++) s += expf(z[c] - mx);
        float lse = mx + logf(s);
        for (int c = 0; c < C; c++) logprob[(int64_t)b * C + c] = z[c] - lse;
    }
}

void dm_cpu_logsoftmax_bwd(dm_backend *be, float *grad_logits, const float *grad_logprob,
                           const float *logprob, int B, int C) {
    for (int b = 0; b < B; b++) {
        const float *g = grad_logprob + (int64_t)b * C;
        float gs = 0.0f;
        for (int c = 0; c < C; c++) gs += g[c];
        for (int c = 0; c < C; c++)
            grad_logits[(int64_t)b * C + c] = g[c] - expf(logprob[(int64_t)b * C + c]) * gs;
    }
}
