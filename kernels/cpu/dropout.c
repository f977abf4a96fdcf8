/*
 * dropout.c: Torch's inverted dropout. mask[i] = 0 with probability p, else 1/(1 − p); out = in·mask.
 * The keep/drop decision of element i is the Philox number (key, index, i): independent of threads,
 * batch chunking and backend, so the CUDA kernel draws the same masks.
 */
#include "cpu.h"
#include "dm_rng.h"

static inline float dropout_mask(uint64_t key, uint64_t index, int64_t i, float p, float scale) {
    return dm_u32_to_unit(dm_philox_u32(key, index, (uint64_t)i)) < p ? 0.0f : scale;
}

void dm_cpu_dropout_fwd_ref(dm_backend *be, float *out, float *mask, const float *in, int64_t n,
                            float p, uint64_t key, uint64_t index) {
    float scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++) {
        mask[i] = dropout_mask(key, index, i, p, scale);
        out[i] = in[i] * mask[i];
    }
}

void dm_cpu_dropout_bwd_ref(dm_backend *be, float *grad_in, const float *grad_out, const float *mask,
                            int64_t n) {
    for (int64_t i = 0; i < n; i++) grad_in[i] = grad_out[i] * mask[i];
}

/* blocks [blk0, blk1) of four elements: one Philox call gives four decisions */
DM_CPU_BODY void dropout_fwd_span_body(float *out, float *mask, const float *in,
                                       int64_t n, int64_t blk0, int64_t blk1, float p, float scale,
                                       uint64_t key, uint64_t index) {
    for (int64_t blk = blk0; blk < blk1; blk++) {
        uint32_t w[4];
        dm_philox(w, key, index, (uint64_t)blk);
        for (int j = 0; j < 4 && 4 * blk + j < n; j++) {
            int64_t i = 4 * blk + j;
            mask[i] = dm_u32_to_unit(w[j]) < p ? 0.0f : scale;
            out[i] = in[i] * mask[i];
        }
    }
}
DM_CPU_DISPATCH(dropout_fwd_span,
                (float *out, float *mask, const float *in, int64_t n, int64_t blk0,
                 int64_t blk1, float p, float scale, uint64_t key, uint64_t index),
                (out, mask, in, n, blk0, blk1, p, scale, key, index))

typedef struct {
    float *out, *mask;
    const float *in;
    int64_t n;
    float p, scale;
    uint64_t key, index;
} dropout_job;

static void dropout_fwd_part(void *v, int64_t blk0, int64_t blk1) {
    dropout_job *j = v;
    dropout_fwd_span(j->out, j->mask, j->in, j->n, blk0, blk1, j->p, j->scale, j->key, j->index);
}

void dm_cpu_dropout_fwd(dm_backend *be, float *out, float *mask, const float *in, int64_t n, float p,
                        uint64_t key, uint64_t index) {
    dropout_job j = {out, mask, in, n, p, 1.0f / (1.0f - p), key, index};
    dm_cpu_parallel_for(be, (n + 3) / 4, DM_CPU_GRAIN / 4, dropout_fwd_part, &j);
}

typedef struct {
    float *y;
    const float *a, *b;
} mul_job;

static void dropout_bwd_part(void *v, int64_t i0, int64_t i1) {
    mul_job *j = v;
    float *restrict y = j->y;
    const float *restrict a = j->a, *restrict b = j->b;
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) y[i] = a[i] * b[i];
}

void dm_cpu_dropout_bwd(dm_backend *be, float *grad_in, const float *grad_out, const float *mask,
                        int64_t n) {
    dm_cpu_parallel_for(be, n, DM_CPU_GRAIN, dropout_bwd_part, &(mul_job){grad_in, grad_out, mask});
}
