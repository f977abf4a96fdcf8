/*
 * cpu.h: the CPU backend's ops. Each op has a naive reference, dm_cpu_<op>_<dir>_ref (plain loops,
 * double accumulation: the specification, STYLE.md rule 5), and the fast version dm_cpu_<op>_<dir>
 * (BLAS, batch chunks across threads). Signatures are those of struct dm_backend_i.
 *
 * Threading: each fast op splits the batch into n_threads contiguous chunks (dm_cpu_chunk), one per
 * backend thread (dm_cpu_parallel, pool.c; not OpenMP, whose idle threads spin for milliseconds);
 * BLAS runs single-threaded inside. Parameter gradients of thread 0 accumulate straight into grad_*;
 * threads t > 0 accumulate into private partials that are added in thread order after the join, so
 * results are bit-identical for a given thread count (the LSTM's backward sums its partials per fixed
 * group of blocks instead: bit-identical for any count, lstm_fused.c). Element-wise and row-wise ops,
 * whose results do not depend on the split, use fewer threads on small inputs (dm_cpu_parallel_for's
 * grain).
 */
#ifndef DM_CPU_H
#define DM_CPU_H

#include "backend.h"

/* ---- the backend's threads (pool.c) ----------------------------------------------------------
 * dm_cpu_parallel runs fn(arg, t, nt) for t = 0 .. nt − 1, part t on the backend's thread t (the caller
 * is thread 0) unless the caller, its own part done, takes a part no worker has begun; it returns when
 * all have finished. A part must compute the same thing whichever thread runs it (scratch by part). Idle threads spin for at most DM_SPIN_US
 * (default 50 µs), then sleep on a futex: no thread ever spins without bound (issue 12: cores shared
 * with other busy processes). A region started inside another one, or while another host thread runs
 * one on the same backend, runs its parts in order on the calling thread (same results). */
typedef void (*dm_cpu_task)(void *arg, int t, int nt);
struct dm_cpu_pool;
struct dm_cpu_pool *dm_cpu_pool_create(int n_threads);     /* NULL when n_threads < 2 or on failure */
void dm_cpu_pool_free(struct dm_cpu_pool *pool);
int dm_cpu_pool_workers(const struct dm_cpu_pool *pool);   /* threads besides the caller */
void dm_cpu_pool_run(struct dm_cpu_pool *pool, dm_cpu_task fn, void *arg, int nt);
void dm_cpu_parallel(dm_backend *be, int nt, dm_cpu_task fn, void *arg);

/* fn(arg, i0, i1) over contiguous spans of [0, n) (up to 4 per thread, claimed by the threads in turn),
 * for loops whose results do not depend on the split (element-wise, or row by row): no span is given
 * fewer than `grain` items, since a smaller one is not worth a thread's wake-up (DM_CPU_GRAIN elements
 * of an element-wise loop). */
typedef void (*dm_cpu_span_task)(void *arg, int64_t i0, int64_t i1);
#define DM_CPU_GRAIN 8192
void dm_cpu_parallel_for(dm_backend *be, int64_t n, int64_t grain, dm_cpu_span_task fn, void *arg);
/* the grain for rows of `work` elements each */
static inline int64_t dm_cpu_row_grain(int64_t work) {
    return work >= DM_CPU_GRAIN ? 1 : DM_CPU_GRAIN / (work < 1 ? 1 : work);
}

/* Batch rows [*b0, *b1) of thread t of n. */
static inline void dm_cpu_chunk(int B, int n, int t, int *b0, int *b1) {
    *b0 = (int)((int64_t)B * t / n);
    *b1 = (int)((int64_t)B * (t + 1) / n);
}

/* Threads to use for a batch of B rows (never more threads than rows). */
static inline int dm_cpu_threads(const dm_backend *be, int B) {
    return B < be->n_threads ? (B < 1 ? 1 : B) : be->n_threads;
}

/* Per-thread scratch of at least n floats, slot `slot` (0..3) of thread t; grown on first use and kept
 * (so a training step allocates nothing after the first). NULL on allocation failure. */
float *dm_cpu_scratch(dm_backend *be, int t, int slot, size_t n);

/* How often a scratch buffer was (re)allocated: constant once the first step has sized them. */
int64_t dm_cpu_scratch_grows(const dm_backend *be);

/* How often the backend's alloc was called (the CPU twin of the emulator's cudaMalloc count): tests
 * check that a saliency batch after the first allocates nothing. */
int64_t dm_cpu_alloc_count(const dm_backend *be);

/* y[0..n) += x[0..n) */
static inline void dm_cpu_add(float *restrict y, const float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

#define DM_CPU_OP_DECL(op, ...)                                                                    \
    void dm_cpu_##op(dm_backend *be, __VA_ARGS__);                                                 \
    void dm_cpu_##op##_ref(dm_backend *be, __VA_ARGS__);

DM_CPU_OP_DECL(onehot, float *x, const uint8_t *codes, int B, int L, bool n_quarter)
DM_CPU_OP_DECL(gather, float *x, int8_t *labels, const uint8_t *packed, const int8_t *labels_all,
               const int32_t *perm, int B, int L, bool n_quarter)
DM_CPU_OP_DECL(conv1d_fwd, float *out, const float *in, const float *w, const float *b, int B,
               int Li, int Ci, int Co, int K, int pad)
DM_CPU_OP_DECL(conv1d_bwd, float *grad_in, float *grad_w, float *grad_b, const float *grad_out,
               const float *in, const float *w, int B, int Li, int Ci, int Co, int K, int pad)
DM_CPU_OP_DECL(relu_fwd, float *out, const float *in, int64_t n)
DM_CPU_OP_DECL(relu_bwd, float *grad_in, const float *grad_out, const float *out, int64_t n)
DM_CPU_OP_DECL(maxpool_fwd, float *out, int32_t *argmax, const float *in, int B, int L, int C, int w)
DM_CPU_OP_DECL(maxpool_bwd, float *grad_in, const float *grad_out, const int32_t *argmax, int B,
               int L, int C, int w)
DM_CPU_OP_DECL(gmax_fwd, float *out, int32_t *argmax, const float *in, int B, int L, int C)
DM_CPU_OP_DECL(gmax_bwd, float *grad_in, const float *grad_out, const int32_t *argmax, int B, int L,
               int C)
DM_CPU_OP_DECL(dropout_fwd, float *out, float *mask, const float *in, int64_t n, float p,
               uint64_t key, uint64_t index)
DM_CPU_OP_DECL(dropout_bwd, float *grad_in, const float *grad_out, const float *mask, int64_t n)
DM_CPU_OP_DECL(lstm_fwd, float *h, float *gates, float *cell, const float *x, const float *w_ih,
               const float *w_hh, const float *b_ih, const float *b_hh, int B, int L, int D, int H,
               int n_dir)
DM_CPU_OP_DECL(lstm_bwd, float *grad_x, float *grad_w_ih, float *grad_w_hh, float *grad_b_ih,
               float *grad_b_hh, float *grad_gates, const float *grad_h, const float *x,
               const float *h, const float *gates, const float *cell, const float *w_ih,
               const float *w_hh, int B, int L, int D, int H, int n_dir)
void dm_cpu_lstm_infer(dm_backend *be, float *h, float *mean, const float *x, const float *w_ih,
                       const float *w_hh, const float *b_ih, const float *b_hh, int B, int L, int D, int H,
                       int n_dir);
/* out (n, C) = means over time of in (n, L, C), the fast mean_time_fwd's loop (mean_time.c) */
void dm_cpu_mean_time_rows(float *out, const float *in, int64_t n, int L, int C);
bool dm_cpu_lstm_trunc_ref(dm_backend *be, float *out, const float *x, const float *w_ih, const float *w_hh,
                           const float *b_ih, const float *b_hh, int B, int L, int D, int H);
DM_CPU_OP_DECL(mean_time_fwd, float *out, const float *in, int B, int L, int C)
DM_CPU_OP_DECL(mean_time_bwd, float *grad_in, const float *grad_out, int B, int L, int C)
DM_CPU_OP_DECL(dense_fwd, float *out, const float *in, const float *w, const float *b, int B, int Ci,
               int Co)
DM_CPU_OP_DECL(dense_bwd, float *grad_in, float *grad_w, float *grad_b, const float *grad_out,
               const float *in, const float *w, int B, int Ci, int Co)
DM_CPU_OP_DECL(logsoftmax_fwd, float *logprob, const float *logits, int B, int C)
DM_CPU_OP_DECL(logsoftmax_bwd, float *grad_logits, const float *grad_logprob, const float *logprob,
               int B, int C)
DM_CPU_OP_DECL(nll, float *loss, float *grad_logprob, const float *logprob, const int8_t *labels,
               int B, float scale)
DM_CPU_OP_DECL(adam, float *param, const float *grad, float *m, float *v, int64_t n, float step,
               float beta1, float beta2, float eps, float clip)
DM_CPU_OP_DECL(lerp, float *out, const float *a, const float *b, float t, int64_t n)
DM_CPU_OP_DECL(axpy, float *y, const float *x, float alpha, int64_t n)
DM_CPU_OP_DECL(ism_variants, float *x, const uint8_t *row, int v0, int nv, int L, bool n_quarter)
DM_CPU_OP_DECL(ism_collect, float *out, const float *logprob, int cls, int nv)
DM_CPU_OP_DECL(ism_reduce, float *attr, float *p_pos, const float *scores, const uint8_t *packed,
               const int8_t *cls, int B, int L)
DM_CPU_OP_DECL(ism_window, float *out, const float *ref, const float *win, const int32_t *starts, int v0, int nv,
               int Wo, int Wi, int Li, int C)
DM_CPU_OP_DECL(optin_project, float *x, const float *z, int64_t n_pos, bool softmax)
DM_CPU_OP_DECL(optin_objective, float *objective, float *grad, const float *x, const float *logprob,
               int R, int n, float lambda)
DM_CPU_OP_DECL(optin_rmsprop, float *z, float *v, const float *grad, const float *x, int64_t n_pos,
               float lr, float alpha, float eps, bool softmax)

/* The input gradient of conv1d_bwd for the batch rows [b0, b1) of thread t (conv1d_dx.c): a GEMM and
 * col2im through col (≥ (b1 − b0)·Lo·K·Ci floats) for sequences with dense grad_out, the sparse way for
 * the others (dense: the GEMM for all, DM_CONV_DX=dense; wp unused then). With pool (grad_out NULL),
 * the output gradient is maxpool_relu_bwd's of pool's, its entries listed from pool directly (all
 * sequences sparse; col unused). wp is w packed by
 * dm_cpu_conv1d_dx_pack (before the threads start: it uses thread 0's scratch slot 3). */
typedef struct {
    const float *g;           /* the max-pool's output gradient (B, Lo / w, Co) */
    const int32_t *argmax;    /* its argmax */
    const float *out;         /* its output (the ReLU's value at each maximum) */
    int w;                    /* its width ≥ 2 */
} dm_cpu_pooled;
void dm_cpu_conv1d_dx(dm_backend *be, int t, float *grad_in, const float *grad_out, const dm_cpu_pooled *pool,
                      const float *w, const float *wp, int b0, int b1, int Li, int Ci, int Co, int K, int pad,
                      float *col, bool dense);
const float *dm_cpu_conv1d_dx_pack(dm_backend *be, const float *w, int Co, int KC);
/* thread t's scratch of dm_cpu_conv1d_dx (slot 1), for a part to size before it knows its share of the work */
int32_t *dm_cpu_conv1d_dx_scratch(dm_backend *be, int t, int Lo, int Co);
bool dm_cpu_conv1d_dx_sparse(void);   /* whether the sparse way runs (ISA level, DM_CONV_DX) */

/* The direct convolution forward (conv1d_direct.c): whether it runs (AVX2 / AVX-512 level, unless
 * DM_CONV_FWD=im2col); w and b packed for it (thread 0's scratch slot 3, before the threads start; NULL on
 * failure, recorded); sequences [b0, b1) of a conv1d_fwd (relu: conv1d_relu_fwd), the sparse-input way's
 * row lists in `lists` (thread t's scratch slot 1). */
bool dm_cpu_conv1d_direct_on(void);
const float *dm_cpu_conv1d_direct_pack(dm_backend *be, const float *w, const float *b, int Co, int KC);
void dm_cpu_conv1d_direct(float *out, const float *in, const float *wp, float *lists, int b0, int b1, int Li, int Ci,
                          int Co, int K, int pad, bool relu);
size_t dm_cpu_conv1d_direct_scratch(int Li, int Ci);   /* floats of `lists` per thread (0: NULL is fine) */
/* backend.h's conv1d_pool_noact (conv1d.c) */
void dm_cpu_conv1d_pool_noact(dm_backend *be, float *act, float *pooled, int32_t *argmax, const float *in,
                              const float *w, const float *b, int B, int Li, int Ci, int Co, int K, int pad, int pw);

/* The fused entries (fused.c): the unfused ops in sequence, through be->i (so one body serves both CPU
 * backends), except conv → ReLU, whose fast version is one pass per batch chunk (conv1d.c) and whose
 * _ref is the unfused sequence through be->i. */
DM_CPU_OP_DECL(conv1d_relu_fwd, float *out, const float *in, const float *w, const float *b, int B, int Li,
               int Ci, int Co, int K, int pad)
DM_CPU_OP_DECL(maxpool_relu_bwd, float *grad_in, const float *grad_out, const int32_t *argmax, const float *out,
               int B, int L, int C, int w)
DM_CPU_OP_DECL(conv1d_pool_dx, float *grad_in, float *grad_out, const float *grad_pool, const int32_t *argmax,
               const float *pool_out, const float *w, int B, int Li, int Ci, int Co, int K, int pad, int pw)
DM_CPU_OP_DECL(gmax_relu_bwd, float *grad_in, const float *grad_out, const int32_t *argmax, const float *out, int B,
               int L, int C)
void dm_cpu_head_fwd(dm_backend *be, float *logprob, float *logits, const float *in, const float *w,
                     const float *b, int B, int Ci, int C);
void dm_cpu_head_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b, float *grad_logits,
                     float *loss, float *grad_logprob, const float *logprob, const int8_t *labels, float scale,
                     const float *in, const float *w, int B, int Ci, int C);
void dm_cpu_conv1d_pool_fwd(dm_backend *be, float *act, float *pooled, int32_t *argmax, float *drop, float *mask,
                            const float *in, const float *w, const float *b, int B, int Li, int Ci, int Co, int K,
                            int pad, int pw, bool drop_first, float p, uint64_t key, uint64_t index);
void dm_cpu_relu_pool_bwd(dm_backend *be, float *grad_act, float *grad, const int32_t *argmax, const float *mask,
                          const float *act, int B, int L, int C, int pw, bool drop_first);

/* ---- runtime ISA dispatch --------------------------------------------------------------------
 * The build is portable by default (no -march=native, CMakeLists.txt DM_NATIVE), so the hot loops of
 * the CPU backend that are not BLAS (LSTM gate math, ReLU, dropout, max-pooling, col2im, Adam) are
 * compiled three times from one body: for AVX-512 (F/VL/BW/DQ), for AVX2 + FMA, and for the build's
 * baseline, the portable reference copy. dm_cpu_isa() picks the widest the CPU (and its OS) supports,
 * once; the environment variable DM_CPU_ISA=portable|avx2|avx512 can only lower that choice, and
 * dm_cpu_isa_force() is the tests' hook to run every level this CPU has. OpenBLAS dispatches its own
 * kernels at run time (DYNAMIC_ARCH). */
enum { DM_ISA_PORTABLE = 0, DM_ISA_AVX2 = 1, DM_ISA_AVX512 = 2 };
int dm_cpu_isa(void);                  /* the level in use */
int dm_cpu_isa_supported(void);        /* the widest level this CPU runs */
int dm_cpu_isa_force(int level);       /* −1: automatic again; returns the level now in use */
/* The AVX-512 LSTM forward step's vector width (lstm_fused.c): 8 forces the 8-lane copy (tests), any
 * other value the automatic choice; returns the width now in use at the current level. */
int dm_cpu_lstm_force_width(int w);
const char *dm_cpu_isa_name(int level);

/* A loop body: always inlined, so that it is compiled (and vectorised) for each caller's ISA. */
#define DM_CPU_BODY static inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)   /* gcc; clang (the fuzzing builds) makes one copy */
#define DM_CPU_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define DM_CPU_TARGET_AVX2 __attribute__((target("avx2,fma")))
/* static void name params, dispatching to name##_body args compiled for each level */
#define DM_CPU_DISPATCH(name, params, args)                                                        \
    DM_CPU_TARGET_AVX512 static void name##_avx512 params { name##_body args; }                     \
    DM_CPU_TARGET_AVX2 static void name##_avx2 params { name##_body args; }                         \
    static void name##_portable params { name##_body args; }                                       \
    static void name params {                                                                      \
        switch (dm_cpu_isa()) {                                                                    \
        case DM_ISA_AVX512: name##_avx512 args; break;                                             \
        case DM_ISA_AVX2: name##_avx2 args; break;                                                 \
        default: name##_portable args; break;                                                      \
        }                                                                                          \
    }
#else
#define DM_CPU_DISPATCH(name, params, args) static void name params { name##_body args; }
#endif

/* Split [0, n) into nt contiguous spans; span t is [*i0, *i1). */
static inline void dm_cpu_span(int64_t n, int nt, int t, int64_t *i0, int64_t *i1) {
    *i0 = n * t / nt;
    *i1 = n * (t + 1) / nt;
}

/* Fast sigmoid and tanh through expf. expf is declared with glibc's vector variants (libmvec:
 * _ZGVbN4v_expf for SSE2, _ZGVdN8v_expf for AVX2, _ZGVeN16v_expf for AVX-512, ≤ 1 ulp apart from the
 * scalar expf, the same declaration glibc's math.h makes under -ffast-math), so the gate loops
 * vectorise at every dispatch level. */
#include <math.h>
#if defined(__GNUC__) && !defined(__clang__)   /* clang has no simd attribute: scalar expf there */
extern float expf(float) __attribute__((simd("notinbranch")));
#endif
static inline float dm_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline float dm_tanhf(float x) { return 2.0f / (1.0f + expf(-2.0f * x)) - 1.0f; }

#endif /* DM_CPU_H */
