/*
 * mean_time.c: out (B, C) = (1/L) Σ_l in (B, L, C), the DeMo recurrent head's mean over all L
 * positions (padding included, SPEC.md §1); backward spreads grad_out / L over every position.
 */
#include "cpu.h"

void dm_cpu_mean_time_fwd_ref(dm_backend *be, float *out, const float *in, int B, int L, int C) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int l = 0; l < L; l++) s += in[((int64_t)b * L + l) * C + c];
            out[(int64_t)b * C + c] = (float)(s / L);
        }
}

void dm_cpu_mean_time_bwd_ref(dm_backend *be, float *grad_in, const float *grad_out, int B, int L,
                              int C) {
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            for (int c = 0; c < C; c++)
                grad_in[((int64_t)b * L + l) * C + c] = grad_out[(int64_t)b * C + c] / (float)L;
}

typedef struct {
    float *y;
    const float *x;
    int L, C;
} mean_job;

/* out (n, C) = the means over time of in (n, L, C): the fast op's rows, also the fused LSTM inference's
 * (lstm_fused.c), so the two agree bit for bit */
void dm_cpu_mean_time_rows(float *out, const float *in, int64_t n, int L, int C) {
    for (int64_t b = 0; b < n; b++) {
        float *o = out + (int64_t)b * C;
        const float *x = in + (int64_t)b * L * C;
        for (int c = 0; c < C; c++) o[c] = 0.0f;
        for (int l = 0; l < L; l++)
            for (int c = 0; c < C; c++) o[c] += x[(int64_t)l * C + c];
        for (int c = 0; c < C; c++) o[c] /= (float)L;
    }
}

static void mean_fwd_part(void *p, int64_t b0, int64_t b1) {
    mean_job *j = p;
    dm_cpu_mean_time_rows(j->y + b0 * j->C, j->x + b0 * j->L * j->C, b1 - b0, j->L, j->C);
}

static void mean_bwd_part(void *p, int64_t b0, int64_t b1) {
    mean_job *j = p;
    float *grad_in = j->y;
    const float *grad_out = j->x;
    int L = j->L, C = j->C;
    for (int64_t b = b0; b < b1; b++)
        for (int l = 0; l < L; l++)
            for (int c = 0; c < C; c++)
                grad_in[((int64_t)b * L + l) * C + c] = grad_out[(int64_t)b * C + c] / (float)L;
}

void dm_cpu_mean_time_fwd(dm_backend *be, float *out, const float *in, int B, int L, int C) {
    dm_cpu_parallel_for(be, B, dm_cpu_row_grain((int64_t)L * C), mean_fwd_part, &(mean_job){out, in, L, C});
}

void dm_cpu_mean_time_bwd(dm_backend *be, float *grad_in, const float *grad_out, int B, int L,
                          int C) {
    dm_cpu_parallel_for(be, B, dm_cpu_row_grain((int64_t)L * C), mean_bwd_part,
                        &(mean_job){grad_in, grad_out, L, C});
}
