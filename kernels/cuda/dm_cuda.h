/*
 * dm_cuda.h: what the CUDA backend's files share (the kernels/cuda .cu files and backend_cuda.c).
 *
 * Each op file keeps ggml's three layers (STYLE.md rules 2 and 10):
 *   static __global__ <op>_<dir>_kernel...      the kernel, in the C subset of CUDA (CUDA-EMULATION.md);
 *   dm_cuda_<op>_<dir>_launch(raw pointers, stream)   C linkage, owns the grid maths, launches through
 *                                                DM_LAUNCH and returns cudaGetLastError();
 *   dm_cuda_<op>_<dir>(dm_backend *be, ...)      the backend-table entry: the context's stream and
 *                                                cuBLAS handle, and the launch checked into the
 *                                                backend's sticky status.
 * The same files build with nvcc for the GPU and with gcc for the CPU emulator (DM_CUDA_EMU).
 */
#ifndef DM_CUDA_H
#define DM_CUDA_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Threads per block of the element-wise kernels. */
#define DM_CUDA_BLOCK 256

/* Scratch slots of a context (grown on demand, kept: a training step allocates nothing after the first). */
enum { DM_CUDA_SCRATCH_A, DM_CUDA_SCRATCH_B, DM_CUDA_SCRATCH_C, DM_CUDA_SCRATCH_RED, DM_CUDA_SCRATCH_N };

/* Column groups (of 32) the two-pass column sum keeps counters for (reduce.cu); wider sums run in one pass. */
#define DM_CUDA_COLSUM_GROUPS 1024

typedef struct dm_cuda_ctx {
    struct dm_backend_i table;   /* this backend's entries (cudnn.c swaps four of them) */
    int device;
    cudaStream_t stream;      /* every launch and copy of the backend goes here */
    cublasHandle_t blas;      /* bound to `stream` */
    float *scratch[DM_CUDA_SCRATCH_N];
    size_t cap[DM_CUDA_SCRATCH_N];
    int64_t n_grow;           /* how often scratch was (re)allocated */
    void *cudnn;              /* cudnn.c's state once attached, else NULL */
    unsigned *colsum_count;   /* reduce.cu's per-column-group counters (zero between launches), or NULL */
    bool graphs_off;          /* DM_CUDA_GRAPHS=off: graph_begin declines, every step runs plainly */
    bool lstm_step;           /* DM_CUDA_LSTM=step: lstm.cu's per-step path instead of the persistent one */
    void *nccl;               /* nccl.c's communicator once a group was joined, else NULL */
} dm_cuda_ctx;

static inline cudaStream_t dm_cuda_stream(dm_backend *be) { return ((dm_cuda_ctx *)be->ctx)->stream; }

/* Scratch slot `slot` of at least n floats; NULL (and a recorded failure) when out of memory. */
float *dm_cuda_scratch(dm_backend *be, int slot, size_t n);

/* Records a failed launch or call (err != cudaSuccess) as the backend's sticky status, naming the op;
 * with DM_CUDA_SYNC_CHECK also synchronises so an asynchronous fault is charged to this op. */
void dm_cuda_check(dm_backend *be, cudaError_t err, const char *what);
#define DM_CUDA_CHECKED(be, call, what) dm_cuda_check((be), (call), (what))

/* C (M, N) = alpha · op(A) · op(B) + beta · C, all row-major with leading dimensions lda, ldb, ldc
 * (op(A) is M × K, op(B) K × N). The one place cuBLAS (column-major) is called: the operands are
 * swapped, Cᵀ = op(B)ᵀ · op(A)ᵀ (STYLE.md rule 7). */
void dm_cuda_gemm_rowmajor(dm_backend *be, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                           const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The process group's sums over NCCL (nccl.c, builds with NCCL and MPI): backend.h's group ops. */
void dm_cuda_group_id(dm_backend *be, void *id128);
void dm_cuda_group_join(dm_backend *be, const void *id128, int rank, int size);
void dm_cuda_allreduce_sum(dm_backend *be, float *buf, int64_t n);
void dm_cuda_group_free(dm_backend *be);

/* Releases cudnn.c's state (builds with cuDNN). */
void dm_cudnn_free(dm_backend *be);

/* Reductions shared by several ops (reduce.cu). */
cudaError_t dm_cuda_colsum_add_launch(float *dst1, float *dst2, const float *src, int rows, int cols,
                                      float *part, unsigned *count, cudaStream_t stream);
/* The same on the backend's stream with its workspace (scratch slot RED, the counters); failures
 * recorded under `what`. */
void dm_cuda_colsum_add(dm_backend *be, float *dst1, float *dst2, const float *src, int rows, int cols,
                        const char *what);

/* The persistent LSTM (lstm_persist.cu; lstm.cu's entries call it unless DM_CUDA_LSTM=step). */
bool dm_cuda_plstm_fits(int H);
cudaError_t dm_cuda_plstm_fwd_launch(float *h, float *gates, float *cell, const float *w_hh, const float *b_ih,
                                     const float *b_hh, int B, int L, int H, int n_dir, cudaStream_t stream);
cudaError_t dm_cuda_plstm_bwd_launch(float *grad_gates, const float *grad_h, const float *gates, const float *cell,
                                     const float *w_hh, int B, int L, int H, int n_dir, cudaStream_t stream);
cudaError_t dm_cuda_plstm_trunc_launch(float *out, const float *proj, const float *w_hh, const float *b_ih,
                                       const float *b_hh, int B, int L, int H, cudaStream_t stream);
size_t dm_cuda_plstm_wgrad_scratch(int B, int L, int H, int n_dir);
cudaError_t dm_cuda_plstm_wgrad_launch(float *grad_w_hh, float *grad_b_ih, float *grad_b_hh, float *part,
                                       const float *grad_gates, const float *h, int B, int L, int H, int n_dir,
                                       cudaStream_t stream);

/* ---- the backend-table entries, one file per op ---- */
void dm_cuda_onehot(dm_backend *be, float *x, const uint8_t *codes, int B, int L, bool n_quarter);
void dm_cuda_gather(dm_backend *be, float *x, int8_t *labels, const uint8_t *packed,
                    const int8_t *labels_all, const int32_t *perm, int B, int L, bool n_quarter);
void dm_cuda_conv1d_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                        int B, int Li, int Ci, int Co, int K, int pad);
void dm_cuda_conv1d_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                        const float *grad_out, const float *in, const float *w, int B, int Li, int Ci,
                        int Co, int K, int pad);
void dm_cuda_relu_fwd(dm_backend *be, float *out, const float *in, int64_t n);
void dm_cuda_relu_bwd(dm_backend *be, float *grad_in, const float *grad_out, const float *out, int64_t n);
void dm_cuda_maxpool_fwd(dm_backend *be, float *out, int32_t *argmax, const float *in, int B, int L,
                         int C, int w);
void dm_cuda_maxpool_bwd(dm_backend *be, float *grad_in, const float *grad_out, const int32_t *argmax,
                         int B, int L, int C, int w);
void dm_cuda_gmax_fwd(dm_backend *be, float *out, int32_t *argmax, const float *in, int B, int L, int C);
void dm_cuda_gmax_bwd(dm_backend *be, float *grad_in, const float *grad_out, const int32_t *argmax,
                      int B, int L, int C);
void dm_cuda_dropout_fwd(dm_backend *be, float *out, float *mask, const float *in, int64_t n, float p,
                         uint64_t key, uint64_t index);
void dm_cuda_dropout_bwd(dm_backend *be, float *grad_in, const float *grad_out, const float *mask,
                         int64_t n);
void dm_cuda_lstm_fwd(dm_backend *be, float *h, float *gates, float *cell, const float *x,
                      const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh, int B,
                      int L, int D, int H, int n_dir);
void dm_cuda_lstm_bwd(dm_backend *be, float *grad_x, float *grad_w_ih, float *grad_w_hh,
                      float *grad_b_ih, float *grad_b_hh, float *grad_gates, const float *grad_h,
                      const float *x, const float *h, const float *gates, const float *cell,
                      const float *w_ih, const float *w_hh, int B, int L, int D, int H, int n_dir);
bool dm_cuda_lstm_trunc(dm_backend *be, float *out, const float *x, const float *w_ih, const float *w_hh,
                        const float *b_ih, const float *b_hh, int B, int L, int D, int H);
void dm_cuda_mean_time_fwd(dm_backend *be, float *out, const float *in, int B, int L, int C);
void dm_cuda_mean_time_bwd(dm_backend *be, float *grad_in, const float *grad_out, int B, int L, int C);
void dm_cuda_dense_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                       int B, int Ci, int Co);
void dm_cuda_dense_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                       const float *grad_out, const float *in, const float *w, int B, int Ci, int Co);
void dm_cuda_logsoftmax_fwd(dm_backend *be, float *logprob, const float *logits, int B, int C);
void dm_cuda_conv1d_relu_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                             int B, int Li, int Ci, int Co, int K, int pad);
/* conv1d.cu: conv1d_relu_fwd, except that on the GEMM path it leaves out the GEMM's sums (β = 0) without
 * bias and ReLU and returns true: the caller's epilogue kernel adds them (convpool.cu). */
bool dm_cuda_conv1d_relu_fwd_defer(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                                   int B, int Li, int Ci, int Co, int K, int pad);
void dm_cuda_conv1d_pool_fwd(dm_backend *be, float *act, float *pooled, int32_t *argmax, float *drop, float *mask,
                             const float *in, const float *w, const float *b, int B, int Li, int Ci, int Co, int K,
                             int pad, int pw, bool drop_first, float p, uint64_t key, uint64_t index);
void dm_cuda_relu_pool_bwd(dm_backend *be, float *grad_act, float *grad, const int32_t *argmax, const float *mask,
                           const float *act, int B, int L, int C, int pw, bool drop_first);
void dm_cuda_head_fwd(dm_backend *be, float *logprob, float *logits, const float *in, const float *w,
                      const float *b, int B, int Ci, int C);
void dm_cuda_head_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b, float *grad_logits,
                      float *loss, float *grad_logprob, const float *logprob, const int8_t *labels,
                      float scale, const float *in, const float *w, int B, int Ci, int C);
void dm_cuda_logsoftmax_bwd(dm_backend *be, float *grad_logits, const float *grad_logprob,
                            const float *logprob, int B, int C);
void dm_cuda_nll(dm_backend *be, float *loss, float *grad_logprob, const float *logprob,
                 const int8_t *labels, int B, float scale);
void dm_cuda_adam(dm_backend *be, float *param, const float *grad, float *m, float *v, int64_t n,
                  float step, float beta1, float beta2, float eps, float clip);
void dm_cuda_lerp(dm_backend *be, float *out, const float *a, const float *b, float t, int64_t n);
void dm_cuda_axpy(dm_backend *be, float *y, const float *x, float alpha, int64_t n);
void dm_cuda_ism_variants(dm_backend *be, float *x, const uint8_t *row, int v0, int nv, int L, bool n_quarter);
void dm_cuda_ism_collect(dm_backend *be, float *out, const float *logprob, int cls, int nv);
void dm_cuda_ism_window(dm_backend *be, float *out, const float *ref, const float *win, const int32_t *starts,
                        int v0, int nv, int Wo, int Wi, int Li, int C);
void dm_cuda_ism_reduce(dm_backend *be, float *attr, float *p_pos, const float *scores, const uint8_t *packed,
                        const int8_t *cls, int B, int L);
void dm_cuda_optin_project(dm_backend *be, float *x, const float *z, int64_t n_pos, bool softmax);
void dm_cuda_optin_objective(dm_backend *be, float *objective, float *grad, const float *x,
                             const float *logprob, int R, int n, float lambda);
void dm_cuda_optin_record(dm_backend *be, float *traj, const float *cur, int *step, int R);
void dm_cuda_optin_rmsprop(dm_backend *be, float *z, float *v, const float *grad, const float *x,
                           int64_t n_pos, float lr, float alpha, float eps, bool softmax);

/* Blocks of DM_CUDA_BLOCK threads covering n elements, capped (kernels loop grid-stride beyond). */
static inline unsigned dm_cuda_grid(int64_t n) {
    int64_t g = (n + DM_CUDA_BLOCK - 1) / DM_CUDA_BLOCK;
    return (unsigned)(g < 1 ? 1 : (g > 65535 ? 65535 : g));
}

#ifdef __cplusplus
}
#endif

#endif /* DM_CUDA_H */
