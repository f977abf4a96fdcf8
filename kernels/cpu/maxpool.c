/*
 * maxpool.c: max over non-overlapping windows of width w along positions, stride w, floor (the
 * trailing L mod w positions are dropped, as Torch's TemporalMaxPooling does). argmax keeps the input
 * position of each maximum (the first on ties); backward routes the gradient there.
 */
#include <string.h>

#include "cpu.h"

/* out (B, L/w, C), argmax (B, L/w, C) <- in (B, L, C) for batch rows [b0, b1) */
DM_CPU_BODY void maxpool_fwd_rows_body(float *out, int32_t *argmax,
                                       const float *in, int b0, int b1, int L, int C, int w) {
    int Lo = L / w;
    for (int b = b0; b < b1; b++)
        for (int lo = 0; lo < Lo; lo++) {
            float *o = out + ((int64_t)b * Lo + lo) * C;
            int32_t *a = argmax + ((int64_t)b * Lo + lo) * C;
            const float *x = in + ((int64_t)b * L + lo * w) * C;
            for (int c = 0; c < C; c++) { o[c] = x[c]; a[c] = lo * w; }
            for (int k = 1; k < w; k++)
                for (int c = 0; c < C; c++)
                    if (x[k * C + c] > o[c]) { o[c] = x[k * C + c]; a[c] = lo * w + k; }
        }
}
DM_CPU_DISPATCH(maxpool_fwd_rows,
                (float *out, int32_t *argmax, const float *in, int b0, int b1,
                 int L, int C, int w),
                (out, argmax, in, b0, b1, L, C, w))

/* grad_in (B, L, C) of batch rows [b0, b1) in one pass: each position belongs to one window and gets
 * that window's gradient where it held the maximum, else 0 (0.0f + g, so a −0 gradient becomes +0 as
 * in the reference's zero-then-add; positions past the last window get 0). */
DM_CPU_BODY void maxpool_bwd_rows_body(float *grad_in, const float *grad_out, const int32_t *argmax, int b0,
                                       int b1, int L, int C, int w) {
    int Lo = L / w;
    for (int b = b0; b < b1; b++) {
        for (int lo = 0; lo < Lo; lo++) {
            const float *g = grad_out + ((int64_t)b * Lo + lo) * C;
            const int32_t *a = argmax + ((int64_t)b * Lo + lo) * C;
            for (int k = 0; k < w; k++) {
                int pos = lo * w + k;
                float *d = grad_in + ((int64_t)b * L + pos) * C;
                for (int c = 0; c < C; c++) d[c] = a[c] == pos ? 0.0f + g[c] : 0.0f;
            }
        }
        memset(grad_in + ((int64_t)b * L + (int64_t)Lo * w) * C, 0, sizeof(float) * (size_t)(L - Lo * w) * C);
    }
}
/* maxpool_bwd_rows then the backward of the ReLU before the pool (conv → ReLU → max-pool), in one pass:
 * the ReLU's output at a window's maximum is the pool's output there, so its mask is out > 0 (the
 * same comparison on the same value: bit for bit the pair). */
DM_CPU_BODY void maxpool_relu_bwd_rows_body(float *grad_in, const float *grad_out, const int32_t *argmax,
                                            const float *out, int b0, int b1, int L, int C, int w) {
    int Lo = L / w;
    for (int b = b0; b < b1; b++) {
        for (int lo = 0; lo < Lo; lo++) {
            const float *g = grad_out + ((int64_t)b * Lo + lo) * C, *y = out + ((int64_t)b * Lo + lo) * C;
            const int32_t *a = argmax + ((int64_t)b * Lo + lo) * C;
            for (int k = 0; k < w; k++) {
                int pos = lo * w + k;
                float *d = grad_in + ((int64_t)b * L + pos) * C;
                for (int c = 0; c < C; c++) d[c] = a[c] == pos && y[c] > 0.0f ? 0.0f + g[c] : 0.0f;
            }
        }
        memset(grad_in + ((int64_t)b * L + (int64_t)Lo * w) * C, 0, sizeof(float) * (size_t)(L - Lo * w) * C);
    }
}
DM_CPU_DISPATCH(maxpool_relu_bwd_rows,
                (float *grad_in, const float *grad_out, const int32_t *argmax, const float *out, int b0, int b1,
                 int L, int C, int w),
                (grad_in, grad_out, argmax, out, b0, b1, L, C, w))

DM_CPU_DISPATCH(maxpool_bwd_rows,
                (float *grad_in, const float *grad_out, const int32_t *argmax, int b0, int b1, int L, int C,
                 int w),
                (grad_in, grad_out, argmax, b0, b1, L, C, w))

void dm_cpu_maxpool_fwd_ref(dm_backend *be, float *out, int32_t *argmax, const float *in, int B,
                            int L, int C, int w) {
    int Lo = L / w;
    for (int b = 0; b < B; b++)
        for (int lo = 0; lo < Lo; lo++)
            for (int c = 0; c < C; c++) {
                int best = lo * w;
                for (int k = 1; k < w; k++)
                    if (in[((int64_t)b * L + lo * w + k) * C + c] > in[((int64_t)b * L + best) * C + c])
                        best = lo * w + k;
                out[((int64_t)b * Lo + lo) * C + c] = in[((int64_t)b * L + best) * C + c];
                argmax[((int64_t)b * Lo + lo) * C + c] = best;
            }
}

void dm_cpu_maxpool_bwd_ref(dm_backend *be, float *grad_in, const float *grad_out,
                            const int32_t *argmax, int B, int L, int C, int w) {
    int Lo = L / w;
    for (int64_t i = 0; i < (int64_t)B * L * C; i++) grad_in[i] = 0.0f;
    for (int b = 0; b < B; b++)
        for (int lo = 0; lo < Lo; lo++)
            for (int c = 0; c < C; c++) {
                int64_t o = ((int64_t)b * Lo + lo) * C + c;
                grad_in[((int64_t)b * L + argmax[o]) * C + c] += grad_out[o];
            }
}

typedef struct {
    float *y;
    int32_t *argmax;
    const float *x;
    const int32_t *cargmax;
    int L, C, w;
    const float *out;   /* maxpool_relu_bwd: the pool's output */
} maxpool_job;

static void maxpool_fwd_part(void *p, int64_t b0, int64_t b1) {
    maxpool_job *j = p;
    maxpool_fwd_rows(j->y, j->argmax, j->x, (int)b0, (int)b1, j->L, j->C, j->w);
}

static void maxpool_bwd_part(void *p, int64_t b0, int64_t b1) {
    maxpool_job *j = p;
    maxpool_bwd_rows(j->y, j->x, j->cargmax, (int)b0, (int)b1, j->L, j->C, j->w);
}

void dm_cpu_maxpool_fwd(dm_backend *be, float *out, int32_t *argmax, const float *in, int B, int L,
                        int C, int w) {
    maxpool_job j = {out, argmax, in, NULL, L, C, w, NULL};
    dm_cpu_parallel_for(be, B, dm_cpu_row_grain((int64_t)L * C), maxpool_fwd_part, &j);
}

void dm_cpu_maxpool_bwd(dm_backend *be, float *grad_in, const float *grad_out,
                        const int32_t *argmax, int B, int L, int C, int w) {
    maxpool_job j = {grad_in, NULL, grad_out, argmax, L, C, w, NULL};
    dm_cpu_parallel_for(be, B, dm_cpu_row_grain((int64_t)L * C), maxpool_bwd_part, &j);
}

static void maxpool_relu_bwd_part(void *p, int64_t b0, int64_t b1) {
    maxpool_job *j = p;
    maxpool_relu_bwd_rows(j->y, j->x, j->cargmax, j->out, (int)b0, (int)b1, j->L, j->C, j->w);
}

void dm_cpu_maxpool_relu_bwd(dm_backend *be, float *grad_in, const float *grad_out, const int32_t *argmax,
                             const float *out, int B, int L, int C, int w) {
    maxpool_job j = {grad_in, NULL, grad_out, argmax, L, C, w, out};
    dm_cpu_parallel_for(be, B, dm_cpu_row_grain((int64_t)L * C), maxpool_relu_bwd_part, &j);
}
