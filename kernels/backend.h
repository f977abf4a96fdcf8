/*
 * backend.h: the one table every compute backend fills in (STYLE.md rule 4).
 *
 * The host layer (host/model.c) calls only these entries, never a backend's functions directly, so
 * the CPU backend, its naive reference twin and the CUDA backend plug in without #ifdefs. Pointers
 * passed to ops are backend memory (from alloc); tensors are float32 (B, L, C) row-major.
 *
 * Gradient semantics (STYLE.md rule 6): parameter gradients ACCUMULATE (+=); activation gradients
 * are OVERWRITTEN (=). A NULL grad_in skips the input gradient. A NULL grad_w (conv1d, dense,
 * head_bwd; grad_w_ih for lstm_bwd) skips every parameter gradient of the op: its other parameter
 * gradients are then NULL too, and the input gradient must come out bit for bit as with them
 * (saliency's input-only backward, host/model.c).
 *
 * Errors: ops return nothing; a failing op (a CUDA launch, say) records a sticky status that
 * dm_backend_status() returns and clears. The model checks it once per forward, backward or step.
 */
#ifndef DM_BACKEND_H
#define DM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deepmotif.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dm_backend dm_backend;

struct dm_backend_i {
    /* ---- memory ---- */
    void *(*alloc)(dm_backend *be, size_t bytes);                 /* NULL on failure */
    void (*free)(dm_backend *be, void *p);
    void (*upload)(dm_backend *be, void *dst, const void *host, size_t bytes);
    void (*download)(dm_backend *be, void *host, const void *src, size_t bytes);
    void (*copy)(dm_backend *be, void *dst, const void *src, size_t bytes);      /* within the backend */
    void (*memset0)(dm_backend *be, void *dst, size_t bytes);
    void (*sync)(dm_backend *be);
    void (*destroy)(dm_backend *be);
    /* Host memory the backend copies from and to fastest (CUDA: pinned, cudaMallocHost), for buffers
     * that are uploaded whole, e.g. the streamed chunks (host/prefetch.c); NULL on failure. Optional:
     * NULL ops mean malloc and free. */
    void *(*host_alloc)(dm_backend *be, size_t bytes);
    void (*host_free)(dm_backend *be, void *p);
    /* A new backend of the same kind with one thread (freed by dm_backend_free), for a host loop that
     * splits independent rows across its own threads, one such backend each (class optimisation's
     * restarts, host/optimize.c): no op of it waits for another thread. Optional: NULL where the
     * backend is not split so (CUDA; the one-thread reference). NULL on failure. */
    dm_backend *(*solo)(dm_backend *be);

    /* ---- ops: forward / backward pairs, one file per op per backend ---- */

    /* x (B, L, 4) from base codes (B, L): one-hot; DM_BASE_N zero or 0.25; DM_BASE_PAD zero. */
    void (*onehot)(dm_backend *be, float *x, const uint8_t *codes, int B, int L, bool n_quarter);

    /* out (B, Lo, Co) = b + cross-correlation of in (B, Li, Ci), zero-padded by `pad` each side,
     * with w (Co, K, Ci); Lo = Li + 2 pad − K + 1. */
    void (*conv1d_fwd)(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                       int B, int Li, int Ci, int Co, int K, int pad);
    void (*conv1d_bwd)(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                       const float *grad_out, const float *in, const float *w,
                       int B, int Li, int Ci, int Co, int K, int pad);

    /* A batch gathered from a data set resident in backend memory (host/devdata.c): for b < B,
     * x[b] (L, 4) = one-hot of row perm[b] of `packed` (N, dm_pack_row_bytes(L)) (dm_pack.h; N rows as
     * in onehot) and labels[b] = labels_all[perm[b]]. perm (B) is backend memory. */
    void (*gather)(dm_backend *be, float *x, int8_t *labels, const uint8_t *packed,
                   const int8_t *labels_all, const int32_t *perm, int B, int L, bool n_quarter);

    /* out = max(in, 0) (in place allowed); grad_in = grad_out where out > 0. */
    void (*relu_fwd)(dm_backend *be, float *out, const float *in, int64_t n);
    void (*relu_bwd)(dm_backend *be, float *grad_in, const float *grad_out, const float *out,
                     int64_t n);

    /* out (B, L / w, C): max over windows of width w, stride w (floor); argmax (B, L / w, C)
     * holds the input position of each maximum. */
    void (*maxpool_fwd)(dm_backend *be, float *out, int32_t *argmax, const float *in,
                        int B, int L, int C, int w);
    void (*maxpool_bwd)(dm_backend *be, float *grad_in, const float *grad_out,
                        const int32_t *argmax, int B, int L, int C, int w);

    /* out (B, C) = max over positions of in (B, L, C); argmax (B, C). */
    void (*gmax_fwd)(dm_backend *be, float *out, int32_t *argmax, const float *in,
                     int B, int L, int C);
    void (*gmax_bwd)(dm_backend *be, float *grad_in, const float *grad_out,
                     const int32_t *argmax, int B, int L, int C);

    /* Inverted dropout: mask[i] = 0 with probability p else 1/(1−p), from Philox (key, index, i);
     * out = in · mask. */
    void (*dropout_fwd)(dm_backend *be, float *out, float *mask, const float *in, int64_t n,
                        float p, uint64_t key, uint64_t index);
    void (*dropout_bwd)(dm_backend *be, float *grad_in, const float *grad_out, const float *mask,
                        int64_t n);

    /* (Bi)LSTM over all L positions of x (B, L, D), n_dir directions (1 or 2; direction 1 runs from
     * position L−1 down to 0), h0 = c0 = 0. Parameters stacked by direction: w_ih (n_dir·4H, D),
     * w_hh (n_dir, 4H, H), b_ih, b_hh (n_dir·4H); gate blocks i, f, g, o.
     * Outputs h (B, L, n_dir·H) (direction 0 first); saved for backward: gates (B, L, n_dir·4H)
     * (activated i, f, g, o) and cell (B, L, n_dir·H). */
    void (*lstm_fwd)(dm_backend *be, float *h, float *gates, float *cell, const float *x,
                     const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh,
                     int B, int L, int D, int H, int n_dir);
    /* Optional (NULL: the host calls lstm_fwd): lstm_fwd for inference, when no backward follows: the
     * same h, bit for bit, without saving gates and cell (CPU: a block's state stays in cache). mean
     * (B, n_dir·H) not NULL: also mean_time_fwd of h, bit for bit; h NULL: h is not written (the host
     * passes that when the layers after the BiLSTM are a mean over time and identities). */
    void (*lstm_infer)(dm_backend *be, float *h, float *mean, const float *x, const float *w_ih,
                       const float *w_hh, const float *b_ih, const float *b_hh, int B, int L, int D, int H,
                       int n_dir);
    /* grad_gates (B, L, n_dir·4H) is scratch the caller provides (pre-activation gate gradients). */
    void (*lstm_bwd)(dm_backend *be, float *grad_x, float *grad_w_ih, float *grad_w_hh,
                     float *grad_b_ih, float *grad_b_hh, float *grad_gates, const float *grad_h,
                     const float *x, const float *h, const float *gates, const float *cell,
                     const float *w_ih, const float *w_hh, int B, int L, int D, int H, int n_dir);

    /* Temporal scores' truncated reruns (host/model.c dm_net_temporal), all in one call. x (B, L, D),
     * parameters as lstm_fwd's with n_dir = 2. For each b and n = 1..L, from h0 = c0 = 0: direction 1's
     * LSTM over the prefix positions n−1 down to 0, and direction 0's over the suffix positions L−n up to
     * L−1; out (B, L, 2, H): out[b, n−1, 0] = Σ of the prefix run's h, out[b, n−1, 1] = Σ of the suffix
     * run's h. Returns false, having done nothing, when the backend has no such pass for these shapes
     * (the caller then reruns lstm_fwd per truncation). NULL in the fast CPU backend, which does that. */
    bool (*lstm_trunc)(dm_backend *be, float *out, const float *x, const float *w_ih, const float *w_hh,
                       const float *b_ih, const float *b_hh, int B, int L, int D, int H);

    /* out (B, C) = mean over the L positions of in (B, L, C). */
    void (*mean_time_fwd)(dm_backend *be, float *out, const float *in, int B, int L, int C);
    void (*mean_time_bwd)(dm_backend *be, float *grad_in, const float *grad_out, int B, int L,
                          int C);

    /* out (B, Co) = in (B, Ci) · wᵀ + b, w (Co, Ci). */
    void (*dense_fwd)(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                      int B, int Ci, int Co);
    void (*dense_bwd)(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                      const float *grad_out, const float *in, const float *w, int B, int Ci, int Co);

    /* logprob (B, C) = log softmax of logits (B, C). Backward: grad_logits = g − softmax · Σ g. */
    void (*logsoftmax_fwd)(dm_backend *be, float *logprob, const float *logits, int B, int C);
    void (*logsoftmax_bwd)(dm_backend *be, float *grad_logits, const float *grad_logprob,
                           const float *logprob, int B, int C);

    /* NLL with the positive class first: cls = label ? 0 : 1; loss (B) = −logprob[b, cls];
     * grad_logprob (B, 2) = −scale at [b, cls], 0 elsewhere. labels (B) in backend memory. */
    void (*nll)(dm_backend *be, float *loss, float *grad_logprob, const float *logprob,
                const int8_t *labels, int B, float scale);

    /* ---- fused ops: each is exactly the sequence of the ops it names (the CPU backends call that
     * sequence, kernels/cpu/fused.c; CUDA runs one kernel). host/model.c uses them where the layer list
     * has the pattern; the unfused ops stay the reference the fused ones are tested against. ----
     * conv1d_relu_fwd: conv1d_fwd(out, ...), then relu_fwd(out, out, B·Lo·Co) in place.
     * head_fwd: dense_fwd(logits, in, w, b, B, Ci, C), then logsoftmax_fwd(logprob, logits, B, C).
     * head_bwd: when labels is not NULL (C = 2), first nll(loss, grad_logprob, logprob, labels, B,
     *           scale), else grad_logprob is given (loss unused); then logsoftmax_bwd(grad_logits,
     *           grad_logprob, logprob, B, C), then dense_bwd(grad_in, grad_w, grad_b, grad_logits, in,
     *           w, B, Ci, C).
     * maxpool_relu_bwd: maxpool_bwd(grad_in, grad_out, argmax, B, L, C, w), then relu_bwd of the ReLU
     *           whose output the pool took, in place; out (B, L / w, C) is the pool's output, the ReLU's
     *           value at each maximum, so the mask is out > 0.
     * gmax_relu_bwd: gmax_bwd(grad_in, grad_out, argmax, B, L, C), then relu_bwd likewise; out (B, C)
     *           is the global max. Both optional (NULL: the model runs the pair).
     * conv1d_pool_dx: the backward to the input of conv → ReLU → max-pool of width pw ≥ 2, no parameter
     *           gradients: maxpool_relu_bwd(grad_out, grad_pool, argmax, pool_out, B, Lo, Co, pw), then
     *           conv1d_bwd(grad_in, NULL, NULL, grad_out, NULL, w, B, Li, Ci, Co, K, pad); grad_out
     *           (B, Lo, Co) is scratch, left unspecified (the fast CPU op never writes it). Optional. */
    void (*conv1d_relu_fwd)(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                            int B, int Li, int Ci, int Co, int K, int pad);
    void (*head_fwd)(dm_backend *be, float *logprob, float *logits, const float *in, const float *w,
                     const float *b, int B, int Ci, int C);
    void (*head_bwd)(dm_backend *be, float *grad_in, float *grad_w, float *grad_b, float *grad_logits,
                     float *loss, float *grad_logprob, const float *logprob, const int8_t *labels,
                     float scale, const float *in, const float *w, int B, int Ci, int C);
    void (*maxpool_relu_bwd)(dm_backend *be, float *grad_in, const float *grad_out, const int32_t *argmax,
                             const float *out, int B, int L, int C, int w);
    void (*gmax_relu_bwd)(dm_backend *be, float *grad_in, const float *grad_out, const int32_t *argmax,
                          const float *out, int B, int L, int C);
    void (*conv1d_pool_dx)(dm_backend *be, float *grad_in, float *grad_out, const float *grad_pool,
                           const int32_t *argmax, const float *pool_out, const float *w, int B, int Li, int Ci,
                           int Co, int K, int pad, int pw);
    /* conv1d_pool_fwd: a convolution block of the CNN, conv → ReLU → max-pool → dropout, or conv → ReLU →
     *   dropout → global max (drop_first). With Lo = Li + 2 pad − K + 1, a pool width pw ≥ 1 (pw = 0: the
     *   global max, gmax_fwd) and Lp = Lo / pw (1 for the global max), pooled (B, Lp, Co):
     *   conv1d_relu_fwd(act, in, w, b, B, Li, Ci, Co, K, pad);
     *   drop_first: dropout_fwd(drop, mask, act, B·Lo·Co, p, key, index), then the pool of drop;
     *   else:       the pool of act (maxpool_fwd(pooled, argmax, act, B, Lo, Co, pw) or gmax_fwd), then
     *               dropout_fwd(drop, mask, pooled, B·Lp·Co, p, key, index).
     *   mask NULL: no dropout (evaluation, p = 0); drop is then unused.
     * relu_pool_bwd: the backward of the block's ReLU, pool and dropout (the conv's own is conv1d_bwd),
     *   with the buffers of its forward (act, argmax, mask NULL when no dropout ran) and grad (B, Lp, C) the
     *   gradient of the block's last output; L = Lo:
     *   drop_first: the pool's backward (maxpool_bwd or gmax_bwd) from grad into grad_act (B, L, C), then
     *               dropout_bwd(grad_act, grad_act, mask, B·L·C);
     *   else:       dropout_bwd(grad, grad, mask, B·Lp·C) in place (grad may be overwritten), then the
     *               pool's backward from grad into grad_act;
     *   then relu_bwd(grad_act, grad_act, act, B·L·C). */
    void (*conv1d_pool_fwd)(dm_backend *be, float *act, float *pooled, int32_t *argmax, float *drop, float *mask,
                            const float *in, const float *w, const float *b, int B, int Li, int Ci, int Co, int K,
                            int pad, int pw, bool drop_first, float p, uint64_t key, uint64_t index);
    void (*relu_pool_bwd)(dm_backend *be, float *grad_act, float *grad, const int32_t *argmax, const float *mask,
                          const float *act, int B, int L, int C, int pw, bool drop_first);
    /* conv1d_pool_noact (optional): conv1d_pool_fwd without dropout (mask NULL) and without the activation:
     *   pooled (B, Lp, Co) and argmax (B, Lp, Co; NULL: not wanted) as there; act (B, Lo, Co) is scratch it
     *   may leave unwritten. The model calls it where nothing reads the activation afterwards: an inference forward, or
     *   an evaluation-mode saving forward whose backward applies the ReLU's mask in the max's backward
     *   (maxpool_relu_bwd, gmax_relu_bwd, conv1d_pool_dx: they read the pool's output, not the activation).
     *   The fast CPU op pools each sequence's conv → ReLU while it is in cache (kernels/cpu/conv1d.c). */
    void (*conv1d_pool_noact)(dm_backend *be, float *act, float *pooled, int32_t *argmax, const float *in,
                              const float *w, const float *b, int B, int Li, int Ci, int Co, int K, int pad, int pw);

    /* Clip every gradient element to [−clip, clip] (clip > 0), then Torch7 Adam: m, v moments;
     * θ −= step · m / (√v + eps) with step = lr · √(1 − β2^t) / (1 − β1^t) computed by the caller. */
    void (*adam)(dm_backend *be, float *param, const float *grad, float *m, float *v, int64_t n,
                 float step, float beta1, float beta2, float eps, float clip);

    /* Integrated gradients (host/saliency.c): out = a + t · (b − a); y += α · x. */
    void (*lerp)(dm_backend *be, float *out, const float *a, const float *b, float t, int64_t n);
    void (*axpy)(dm_backend *be, float *y, const float *x, float alpha, int64_t n);

    /* In-silico mutagenesis (host/sal_dev.c), variant v of a row of L bases = the row with position
     * v / 4 set to base v % 4 (v < 4L; the unchanged base included).
     * variants: x (nv, L, 4) = one-hot (as onehot, n_quarter) of variants v0 .. v0 + nv − 1 of the
     *           packed row `row` (dm_pack.h).
     * collect:  out[j] = logprob[j, cls] for j < nv.
     * reduce:   per row b < B, scores (B, 4L + 1) hold its 4L variant scores and then the score of
     *           the row itself; packed (B, dm_pack_row_bytes(L)) the rows, cls (B) their classes.
     *           s = the score of the variant that keeps the first base (code < 4) at its position,
     *           else the row's own score; attr (B, L, 4)[v] = (float)(score_v − s) computed in double;
     *           p_pos[b] = exp(s) if cls 0, else 1 − exp(s) (float). */
    void (*ism_variants)(dm_backend *be, float *x, const uint8_t *row, int v0, int nv, int L, bool n_quarter);
    void (*ism_collect)(dm_backend *be, float *out, const float *logprob, int cls, int nv);
    void (*ism_reduce)(dm_backend *be, float *attr, float *p_pos, const float *scores, const uint8_t *packed,
                       const int8_t *cls, int B, int L);
    /* window:  the receptive-field windows of fast ISM (host/ism_fast.c). Variant j < nv mutates input
     *           position p = (v0 + j) / 4; starts (L, 2) holds, per mutated position, the first position g
     *           of its gathered window and the first position s of its recomputed window. out (nv, Wo, C):
     *           out[j, q] = 0 where g + q is outside [0, Li), win[j, g + q − s] (win (nv, Wi, C)) where
     *           s ≤ g + q < s + Wi, else ref[g + q] (ref (Li, C), the unmutated sequence's). A copy. */
    void (*ism_window)(dm_backend *be, float *out, const float *ref, const float *win, const int32_t *starts,
                       int v0, int nv, int Wo, int Wi, int Li, int C);

    /* Class optimisation of the input (host/optimize.c, SPEC.md §6.3), R restarts of n_pos = R·L
     * positions with 4 channels each:
     * project:   x = softmax of z per position (softmax) or x = z.
     * objective: grad (R, n) += 2λ x; objective[r] = −max(logprob[r, 0], ln 1e−30) + λ Σ x[r]².
     * rmsprop:   through the per-position softmax Jacobian when `softmax` (∂/∂z = x ⊙ (g − Σ g x)),
     *            then v = α v + (1 − α) g², z −= lr · g / (√v + eps). */
    void (*optin_project)(dm_backend *be, float *x, const float *z, int64_t n_pos, bool softmax);
    void (*optin_objective)(dm_backend *be, float *objective, float *grad, const float *x,
                            const float *logprob, int R, int n, float lambda);
    void (*optin_rmsprop)(dm_backend *be, float *z, float *v, const float *grad, const float *x,
                          int64_t n_pos, float lr, float alpha, float eps, bool softmax);
    /* record (optional, with the graphs below): traj[*step · R + r] = cur[r] for r < R, then *step += 1
     * (step: one int of backend memory), so a replayed step writes its own row of the trajectory. */
    void (*optin_record)(dm_backend *be, float *traj, const float *cur, int *step, int R);

    /* Graphs (optional: NULL where the backend has none; CUDA: stream capture). A step whose shapes and
     * arguments do not change is recorded once and replayed: every value that changes between steps
     * must enter through backend memory, because a replay uses the arguments as they were recorded.
     * graph_begin:  starts recording this backend's work (nothing runs until a launch); false: graphs
     *               are off (DM_CUDA_GRAPHS=off) or unavailable, run the step plainly.
     * graph_end:    ends the recording: the replayable graph, or NULL (the failure is recorded: an
     *               allocation or synchronisation happened while recording).
     * graph_launch: enqueues one replay; graph_free: releases a graph (NULL: nothing). */
    bool (*graph_begin)(dm_backend *be);
    void *(*graph_end)(dm_backend *be);
    void (*graph_launch)(dm_backend *be, void *graph);
    void (*graph_free)(dm_backend *be, void *graph);

    /* Sums over a process group on device memory (data-parallel training, host/train.c): NCCL in
     * CUDA builds that have it, NULL elsewhere (then the host sums copies through MPI).
     * group_id:      the group's id (128 bytes), made by rank 0 and broadcast by the host.
     * group_join:    joins the group as `rank` of `size` (every rank calls it at once).
     * allreduce_sum: buf (n floats) = its sum over the group, in place, on the backend's stream;
     *                every rank gets the same bits (the order of the sum is NCCL's, not rank order). */
    void (*group_id)(dm_backend *be, void *id128);
    void (*group_join)(dm_backend *be, const void *id128, int rank, int size);
    void (*allreduce_sum)(dm_backend *be, float *buf, int64_t n);
};

struct dm_backend {
    const struct dm_backend_i *i;
    const char *name;          /* "cpu", "cpu-ref", "cuda" */
    char device[160];          /* CUDA: "cuda: <device name> (sm_XY)"; empty for the CPU backends */
    int n_threads;             /* CPU: worker threads */
    dm_status status;          /* sticky error of the first failing op */
    char error[256];           /* its message (ops may fail on worker threads) */
    void *ctx;                 /* backend-private state */
    char label[192];           /* dm_backend_name(): filled by dm_backend_open (host/api.c) */
};

/* The CPU backend with `n_threads` workers (≤ 0: all cores). OpenBLAS is set to one thread: the
 * backend parallelises over batch chunks itself (PERFORMANCE.md §3). NULL on allocation failure. */
dm_backend *dm_backend_cpu_create(int n_threads);

/* The CPU backend with every op replaced by its naive reference (plain loops, double accumulation):
 * the oracle of the op tests and whole-model checks. */
dm_backend *dm_backend_cpu_ref_create(void);

/* The fixed-order backend (kernels/cpu/repro.h; no BLAS, no libm in its products, no fused head) with
 * `n_threads` workers (≤ 0: all cores): training on it gives the same bits on any x86-64 CPU and thread
 * count (`train --reproducible`, README "Reproducibility"). */
dm_backend *dm_backend_cpu_reproducible_create(int n_threads);

void dm_backend_free(dm_backend *be);

/* Returns and clears the sticky status; dm_last_error() has the message. */
dm_status dm_backend_status(dm_backend *be);

/* Records a failure (the first one wins until dm_backend_status clears it). */
void dm_backend_fail(dm_backend *be, dm_status s, const char *msg);

/* Name and version of the BLAS library in use ("OpenBLAS 0.3.21 ... Cooperlake"). */
const char *dm_blas_info(void);

/* The CUDA backend on device `device` (kernels/cuda/backend_cuda.c; the CPU emulator in DM_CUDA_EMU
 * builds). Returns _OK, _BACKEND (built without CUDA, or no usable device: the message says
 * which, e.g. "CUDA driver version is insufficient"), _NOMEM. */
dm_status dm_backend_cuda_create(dm_backend **out, int device);

/* Switches a CUDA backend's convolution and LSTM to cuDNN (kernels/cuda/cudnn.c), for comparison.
 * Returns _OK, _BACKEND (not a CUDA backend, no cuDNN in this build, or cuDNN failed to start). */
dm_status dm_backend_cuda_cudnn(dm_backend *be);

/* Whether this build has the CUDA backend (real or emulated) compiled in. */
bool dm_backend_cuda_built(void);

#ifdef __cplusplus
}
#endif

#endif /* DM_BACKEND_H */
