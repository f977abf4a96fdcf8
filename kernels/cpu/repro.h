/*
 * repro.h: the fixed-order kernels of the "cpu-reproducible" backend (train --reproducible). Every
 * result is the same bits on any x86-64 CPU, at every ISA level (dm_cpu_isa) and for any thread count:
 *  - no BLAS and no libm in these ops: products are the engine's own loops (repro_gemm.c), the LSTM's
 *    exp is its own polynomial (repro_lstm.c);
 *  - every output element is one chain of float operations in a fixed order: a product is rounded, then
 *    added (the files are compiled with -ffp-contract=off: no FMA at any level), and a sum runs over k in
 *    ascending order, never split across vector lanes or threads. Vectors run across independent outputs
 *    (columns of C), so the AVX-512, AVX2 and portable copies compute the same bits;
 *  - threads split outputs (rows of C, sequences), never a sum; a sum over the batch (weight gradients)
 *    runs sequence by sequence in batch order inside the thread that owns that output.
 */
#ifndef DM_REPRO_H
#define DM_REPRO_H

#include "cpu.h"

/* The one product: for m < M, n < N, with A(m, k) = a[m·sam + k·sak] and B(k, n) = b[k·ldb + n]:
 *   DM_GEMM_SET: C[m, n] = s,  DM_GEMM_ACC: C[m, n] = c_k,  DM_GEMM_ADD: C[m, n] = C[m, n] + s,
 * where s = (…((0 + A(m,0)·B(0,n)) + A(m,1)·B(1,n)) + …) and c_k the same chain started from C[m, n]
 * instead of 0 (so ACC calls over consecutive k ranges equal one call over their union). Each product
 * and each sum is rounded to float on its own. Single-threaded (the caller splits rows or calls). */
enum { DM_GEMM_SET = 0, DM_GEMM_ACC = 1, DM_GEMM_ADD = 2 };
void dm_repro_gemm(int M, int N, int K, const float *a, int64_t sam, int64_t sak, const float *b, int64_t ldb,
                   float *c, int64_t ldc, int mode);

/* fn(arg, t, i0, i1) over contiguous spans of [0, n), span t on the backend's thread t (so it may use
 * thread t's scratch), at most one span per `grain` items: for work whose results do not depend on
 * the split (each item computed alone). */
typedef void (*dm_repro_task)(void *arg, int t, int64_t i0, int64_t i1);
void dm_repro_par(dm_backend *be, int64_t n, int64_t grain, dm_repro_task fn, void *arg);

/* dst (cols, rows) = src (rows, cols)ᵀ, both row-major */
void dm_repro_transpose(float *dst, const float *src, int rows, int cols);

/* The ops (signatures of struct dm_backend_i) */
#define DM_REPRO_OP_DECL(op, ...) void dm_cpu_##op(dm_backend *be, __VA_ARGS__);
DM_REPRO_OP_DECL(conv1d_fwd_fixed, float *out, const float *in, const float *w, const float *b, int B, int Li, int Ci,
               int Co, int K, int pad)
DM_REPRO_OP_DECL(conv1d_bwd_fixed, float *grad_in, float *grad_w, float *grad_b, const float *grad_out,
               const float *in, const float *w, int B, int Li, int Ci, int Co, int K, int pad)
DM_REPRO_OP_DECL(dense_fwd_fixed, float *out, const float *in, const float *w, const float *b, int B, int Ci, int Co)
DM_REPRO_OP_DECL(dense_bwd_fixed, float *grad_in, float *grad_w, float *grad_b, const float *grad_out,
               const float *in, const float *w, int B, int Ci, int Co)
DM_REPRO_OP_DECL(lstm_fwd_fixed, float *h, float *gates, float *cell, const float *x, const float *w_ih,
               const float *w_hh, const float *b_ih, const float *b_hh, int B, int L, int D, int H, int n_dir)
DM_REPRO_OP_DECL(lstm_bwd_fixed, float *grad_x, float *grad_w_ih, float *grad_w_hh, float *grad_b_ih,
               float *grad_b_hh, float *grad_gates, const float *grad_h, const float *x, const float *h,
               const float *gates, const float *cell, const float *w_ih, const float *w_hh, int B, int L, int D,
               int H, int n_dir)

#endif /* DM_REPRO_H */
