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

void dm_cpu_relu_fwd(dm_backend *be, float *out, const float *in, int64_t n) {
#pragma omp parallel for simd num_threads(be->n_threads) schedule(static)
    for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void dm_cpu_relu_bwd(dm_backend *be, float *grad_in, const float *grad_out, const float *out,
                     int64_t n) {
#pragma omp parallel for simd num_threads(be->n_threads) schedule(static)
    for (int64_t i = 0; i < n; i++) grad_in[i] = out[i] > 0.0f ? grad_out[i] : 0.0f;
}
