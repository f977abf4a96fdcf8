/*
 * fused.c: the fused entries of the backend table (backend.h) on the CPU backends: each calls the ops
 * it fuses, in order, through the backend's own table (the fast ops in "cpu", the naive ones in
 * "cpu-ref"), so a model run with the fused entries is byte-identical to one without them. The fast
 * backend's conv → ReLU is one pass per batch chunk instead (conv1d.c, dm_cpu_conv1d_relu_fwd; this
 * file's sequence is its reference, dm_cpu_conv1d_relu_fwd_ref), and so are the max backwards with the
 * ReLU mask (maxpool.c, gmax.c: one pass each; their references here are the max backward, then the
 * mask). The CUDA backend runs each as one kernel (kernels/cuda/conv1d.cu, head.cu; the CNN block's as
 * one kernel after the convolution's own, convpool.cu); it has no max + ReLU backward, so the model runs
 * that pair there.
 */
#include "cpu.h"

/* The reference of conv → ReLU (the fast backend's is one pass per chunk, conv1d.c). */
void dm_cpu_conv1d_relu_fwd_ref(dm_backend *be, float *out, const float *in, const float *w, const float *b, int B,
                            int Li, int Ci, int Co, int K, int pad) {
    be->i->conv1d_fwd(be, out, in, w, b, B, Li, Ci, Co, K, pad);
    be->i->relu_fwd(be, out, out, (int64_t)B * (Li + 2 * pad - K + 1) * Co);
}

void dm_cpu_head_fwd(dm_backend *be, float *logprob, float *logits, const float *in, const float *w,
                     const float *b, int B, int Ci, int C) {
    be->i->dense_fwd(be, logits, in, w, b, B, Ci, C);
    be->i->logsoftmax_fwd(be, logprob, logits, B, C);
}

void dm_cpu_head_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b, float *grad_logits,
                     float *loss, float *grad_logprob, const float *logprob, const int8_t *labels, float scale,
                     const float *in, const float *w, int B, int Ci, int C) {
    if (labels) be->i->nll(be, loss, grad_logprob, logprob, labels, B, scale);
    be->i->logsoftmax_bwd(be, grad_logits, grad_logprob, logprob, B, C);
    be->i->dense_bwd(be, grad_in, grad_w, grad_b, grad_logits, in, w, B, Ci, C);
}

/* The references of the max backward with the ReLU mask: the unfused max backward, then the ReLU's mask
 * where it is known, at each maximum (out > 0); every other entry the max backward left 0. */
void dm_cpu_maxpool_relu_bwd_ref(dm_backend *be, float *grad_in, const float *grad_out, const int32_t *argmax,
                                 const float *out, int B, int L, int C, int w) {
    be->i->maxpool_bwd(be, grad_in, grad_out, argmax, B, L, C, w);
    for (int64_t i = 0; i < (int64_t)B * (L / w) * C; i++) {
        int64_t b = i / ((int64_t)(L / w) * C), c = i % C;
        if (!(out[i] > 0.0f)) grad_in[(b * L + argmax[i]) * C + c] = 0.0f;
    }
}

void dm_cpu_gmax_relu_bwd_ref(dm_backend *be, float *grad_in, const float *grad_out, const int32_t *argmax,
                              const float *out, int B, int L, int C) {
    be->i->gmax_bwd(be, grad_in, grad_out, argmax, B, L, C);
    for (int64_t i = 0; i < (int64_t)B * C; i++)
        if (!(out[i] > 0.0f)) grad_in[((i / C) * L + argmax[i]) * C + i % C] = 0.0f;
}

/* conv → ReLU → max-pool backward to the input, no parameter gradients (the fast one is conv1d_dx.c's) */
void dm_cpu_conv1d_pool_dx_ref(dm_backend *be, float *grad_in, float *grad_out, const float *grad_pool,
                               const int32_t *argmax, const float *pool_out, const float *w, int B, int Li, int Ci,
                               int Co, int K, int pad, int pw) {
    be->i->maxpool_relu_bwd(be, grad_out, grad_pool, argmax, pool_out, B, Li + 2 * pad - K + 1, Co, pw);
    be->i->conv1d_bwd(be, grad_in, NULL, NULL, grad_out, NULL, w, B, Li, Ci, Co, K, pad);
}

/* A CNN block's pool: the max-pool of width pw, or the global max (pw 0). */
static void pool_fwd(dm_backend *be, float *out, int32_t *argmax, const float *in, int B, int L, int C, int pw) {
    if (pw > 0) be->i->maxpool_fwd(be, out, argmax, in, B, L, C, pw);
    else be->i->gmax_fwd(be, out, argmax, in, B, L, C);
}

void dm_cpu_conv1d_pool_fwd(dm_backend *be, float *act, float *pooled, int32_t *argmax, float *drop, float *mask,
                            const float *in, const float *w, const float *b, int B, int Li, int Ci, int Co, int K,
                            int pad, int pw, bool drop_first, float p, uint64_t key, uint64_t index) {
    int Lo = Li + 2 * pad - K + 1, Lp = pw > 0 ? Lo / pw : 1;
    be->i->conv1d_relu_fwd(be, act, in, w, b, B, Li, Ci, Co, K, pad);
    if (mask && drop_first) {
        be->i->dropout_fwd(be, drop, mask, act, (int64_t)B * Lo * Co, p, key, index);
        pool_fwd(be, pooled, argmax, drop, B, Lo, Co, pw);
        return;
    }
    pool_fwd(be, pooled, argmax, act, B, Lo, Co, pw);
    if (mask) be->i->dropout_fwd(be, drop, mask, pooled, (int64_t)B * Lp * Co, p, key, index);
}

void dm_cpu_relu_pool_bwd(dm_backend *be, float *grad_act, float *grad, const int32_t *argmax, const float *mask,
                          const float *act, int B, int L, int C, int pw, bool drop_first) {
    int64_t n = (int64_t)B * L * C, np = (int64_t)B * (pw > 0 ? L / pw : 1) * C;
    if (mask && !drop_first) be->i->dropout_bwd(be, grad, grad, mask, np);
    if (pw > 0) be->i->maxpool_bwd(be, grad_act, grad, argmax, B, L, C, pw);
    else be->i->gmax_bwd(be, grad_act, grad, argmax, B, L, C);
    if (mask && drop_first) be->i->dropout_bwd(be, grad_act, grad_act, mask, n);
    be->i->relu_bwd(be, grad_act, grad_act, act, n);
}
