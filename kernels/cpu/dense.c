/*
 * dense.c: out (B, Co) = in (B, Ci) · wᵀ + b with w (Co, Ci). The DeMo heads are tiny (Co = 2), so
 * the fast version is single-threaded. Its forward and input gradient are the fixed-order products of
 * repro_gemm.c: every row is one float chain over k, whatever the batch around it and the BLAS's kernel
 * (OpenBLAS's SkylakeX-family sgemm gives a row other bits in a batch of another size), so a sequence's
 * score and input gradient do not depend on the batch it is in (class optimisation splits its restarts
 * across threads on that: host/optimize.c). The weight gradient, a sum over the batch, stays one sgemm.
 */
#include <cblas.h>

#include "cpu.h"
#include "repro.h"

void dm_cpu_dense_fwd_ref(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                          int B, int Ci, int Co) {
    for (int n = 0; n < B; n++)
        for (int o = 0; o < Co; o++) {
            double s = b[o];
            for (int i = 0; i < Ci; i++) s += (double)in[(int64_t)n * Ci + i] * w[(int64_t)o * Ci + i];
            out[(int64_t)n * Co + o] = (float)s;
        }
}

void dm_cpu_dense_bwd_ref(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                          const float *grad_out, const float *in, const float *w, int B, int Ci,
                          int Co) {
    for (int o = 0; o < Co && grad_w; o++) {    /* NULL grad_w: input gradient only */
        double sb = 0;
        for (int n = 0; n < B; n++) sb += grad_out[(int64_t)n * Co + o];
        grad_b[o] += (float)sb;
        for (int i = 0; i < Ci; i++) {
            double s = 0;
            for (int n = 0; n < B; n++) s += (double)grad_out[(int64_t)n * Co + o] * in[(int64_t)n * Ci + i];
            grad_w[(int64_t)o * Ci + i] += (float)s;
        }
    }
    if (!grad_in) return;
    for (int n = 0; n < B; n++)
        for (int i = 0; i < Ci; i++) {
            double s = 0;
            for (int o = 0; o < Co; o++) s += (double)grad_out[(int64_t)n * Co + o] * w[(int64_t)o * Ci + i];
            grad_in[(int64_t)n * Ci + i] = (float)s;
        }
}

void dm_cpu_dense_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                      int B, int Ci, int Co) {
    dm_cpu_dense_fwd_fixed(be, out, in, w, b, B, Ci, Co);
}

void dm_cpu_dense_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                      const float *grad_out, const float *in, const float *w, int B, int Ci, int Co) {
    for (int n = 0; n < B && grad_w; n++)    /* NULL grad_w: input gradient only */
        for (int o = 0; o < Co; o++) grad_b[o] += grad_out[(int64_t)n * Co + o];
    /* grad_w (Co, Ci) += grad_outᵀ (Co, B) · in (B, Ci) */
    if (grad_w)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Co, Ci, B, 1.0f, grad_out, Co, in, Ci, 1.0f,
                    grad_w, Ci);
    /* grad_in (B, Ci) = grad_out (B, Co) · w (Co, Ci) */
    if (grad_in) dm_repro_gemm(B, Ci, Co, grad_out, Co, 1, w, Ci, grad_in, Ci, DM_GEMM_SET);
}
