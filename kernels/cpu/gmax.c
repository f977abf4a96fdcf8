/*
 * gmax.c: global max over positions, out (B, C) = max_l in (B, L, C); argmax (B, C) keeps the first
 * position of the maximum; backward routes each gradient to it.
 */
#include <string.h>

#include "cpu.h"

void dm_cpu_gmax_fwd_ref(dm_backend *be, float *out, int32_t *argmax, const float *in, int B, int L,
                         int C) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            int best = 0;
            for (int l = 1; l < L; l++)
                if (in[((int64_t)b * L + l) * C + c] > in[((int64_t)b * L + best) * C + c]) best = l;
            out[(int64_t)b * C + c] = in[((int64_t)b * L + best) * C + c];
            argmax[(int64_t)b * C + c] = best;
        }
}

void dm_cpu_gmax_bwd_ref(dm_backend *be, float *grad_in, const float *grad_out,
                         const int32_t *argmax, int B, int L, int C) {
    for (int64_t i = 0; i < (int64_t)B * L * C; i++) grad_in[i] = 0.0f;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            grad_in[((int64_t)b * L + argmax[(int64_t)b * C + c]) * C + c] = grad_out[(int64_t)b * C + c];
}

typedef struct {
    float *y;
    int32_t *argmax;
    const float *x;
    const int32_t *cargmax;
    int L, C;
    const float *out;   /* gmax_relu_bwd: the global max */
} gmax_job;

static void gmax_fwd_part(void *p, int64_t b0, int64_t b1) {
    gmax_job *j = p;
    float *out = j->y;
    int32_t *argmax = j->argmax;
    const float *in = j->x;
    int L = j->L, C = j->C;
    for (int64_t b = b0; b < b1; b++) {
        float *o = out + (int64_t)b * C;
        int32_t *a = argmax + (int64_t)b * C;
        const float *x = in + (int64_t)b * L * C;
        for (int c = 0; c < C; c++) { o[c] = x[c]; a[c] = 0; }
        for (int l = 1; l < L; l++)     /* position-major: C contiguous values per step */
            for (int c = 0; c < C; c++)
                if (x[(int64_t)l * C + c] > o[c]) { o[c] = x[(int64_t)l * C + c]; a[c] = l; }
    }
}

static void gmax_bwd_part(void *p, int64_t b0, int64_t b1) {
    gmax_job *j = p;
    float *grad_in = j->y;
    const float *grad_out = j->x;
    const int32_t *argmax = j->cargmax;
    int L = j->L, C = j->C;
    for (int64_t b = b0; b < b1; b++) {
        float *g = grad_in + (int64_t)b * L * C;
        memset(g, 0, sizeof(float) * (size_t)L * C);
        if (j->out) {   /* the ReLU before: its mask at the maximum is out > 0 (out is its value there) */
            for (int c = 0; c < C; c++)
                if (j->out[(int64_t)b * C + c] > 0.0f)
                    g[(int64_t)argmax[(int64_t)b * C + c] * C + c] = grad_out[(int64_t)b * C + c];
        } else {
            for (int c = 0; c < C; c++)
                g[(int64_t)argmax[(int64_t)b * C + c] * C + c] = grad_out[(int64_t)b * C + c];
        }
    }
}

void dm_cpu_gmax_fwd(dm_backend *be, float *out, int32_t *argmax, const float *in, int B, int L,
                     int C) {
    gmax_job j = {out, argmax, in, NULL, L, C, NULL};
    dm_cpu_parallel_for(be, B, dm_cpu_row_grain((int64_t)L * C), gmax_fwd_part, &j);
}

void dm_cpu_gmax_bwd(dm_backend *be, float *grad_in, const float *grad_out, const int32_t *argmax,
                     int B, int L, int C) {
    gmax_job j = {grad_in, NULL, grad_out, argmax, L, C, NULL};
    dm_cpu_parallel_for(be, B, dm_cpu_row_grain((int64_t)L * C), gmax_bwd_part, &j);
}

/* gmax_bwd, then the backward of a ReLU whose output the global max took (conv → ReLU → global max,
 * or with an identity dropout between): one pass, bit for bit the pair (a masked entry is the +0 that
 * relu_bwd writes; unmasked ones are copied as gmax_bwd copies them). */
void dm_cpu_gmax_relu_bwd(dm_backend *be, float *grad_in, const float *grad_out, const int32_t *argmax,
                          const float *out, int B, int L, int C) {
    gmax_job j = {grad_in, NULL, grad_out, argmax, L, C, out};
    dm_cpu_parallel_for(be, B, dm_cpu_row_grain((int64_t)L * C), gmax_bwd_part, &j);
}
