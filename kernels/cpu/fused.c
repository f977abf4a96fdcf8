/*
 * fused.c: the fused entries of the backend table (backend.h) on the CPU backends: each calls the ops
 * it fuses, in order, through the backend's own table (the fast ops in "cpu", the naive ones in
 * "cpu-ref"), so a model run with the fused entries is byte-identical to one without them. The fast
 * backend's conv → ReLU is one pass per batch chunk instead (conv1d.c, dm_cpu_conv1d_relu_fwd; this
 * file's sequence is its reference, dm_cpu_conv1d_relu_fwd_ref). The CUDA backend runs each as one
 * kernel (kernels/cuda/conv1d.cu, head.cu).
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
