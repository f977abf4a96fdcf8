/*
 * head.cu: the classifier head fused (backend.h head_fwd, head_bwd): dense → log-softmax forward in one
 * launch, and NLL → log-softmax backward → dense backward in one launch, instead of 2 and 4 (dense.cu,
 * logsoftmax.cu, nll.cu, which stay the reference the tests hold these against). Each value is computed
 * with the same operations in the same order as there.
 * Forward: thread → row, its C ≤ DM_HEAD_MAXC logits then their log-softmax (the head has C = 2).
 * Backward: one grid-stride range over three parts; no thread reads what another writes in the launch:
 *   [0, B)                   row r: the NLL (loss, grad_logprob) when labels are given, grad_logits;
 *   [B, B + B·Ci)            grad_in[r, k] = Σ_co grad_logits[r, co] · w[co, k] (overwritten);
 *   [B + B·Ci, … + C·(Ci+1)) grad_w[co, k] += Σ_r grad_logits[r, co] · in[r, k], then grad_b[co] += Σ_r
 *                            grad_logits[r, co]: sums over the batch in row order (deterministic).
 * Every part recomputes the grad_logits it needs from logprob and the labels (or the given
 * grad_logprob): C + 1 flops per use, against a launch and a round trip through memory.
 */
#include "common.cuh"
#include "dm_cuda.h"

#define DM_HEAD_MAXC 8

static __global__ void head_fwd_kernel(float *logprob, float *logits, const float *in, const float *w,
                                       const float *b, int B, int Ci, int C) {
    DM_GRID_STRIDE(r, (int64_t)B) {
        float z[DM_HEAD_MAXC];
        for (int co = 0; co < C; co++) {
            float s = b[co];
            for (int k = 0; k < Ci; k++) s += in[r * Ci + k] * w[(int64_t)co * Ci + k];
            z[co] = s;
            logits[r * C + co] = s;
        }
        float mx = z[0], e = 0.0f;
        for (int c = 1; c < C; c++) mx = fmaxf(mx, z[c]);
        for (int c = 0; c < C; c++) e += expf(z[c] - mx);
        float lse = mx + logf(e);
        for (int c = 0; c < C; c++) logprob[r * C + c] = z[c] - lse;
    }
}

/* grad_logprob[r, c]: the NLL's (−scale at the true class, positive class first) or the given one. */
static __device__ __forceinline__ float head_glp(const float *grad_logprob, const int8_t *labels, float scale,
                                                 int64_t r, int c, int C) {
    if (!labels) return grad_logprob[r * C + c];
    int cls = labels[r] == 1 ? 0 : 1;
    return c == cls ? -scale : 0.0f;
}

/* grad_logits[r, co] = g[co] − exp(logprob[r, co]) · Σ_c g[c], as logsoftmax_bwd_kernel. */
static __device__ __forceinline__ float head_glogit(const float *grad_logprob, const float *logprob,
                                                    const int8_t *labels, float scale, int64_t r, int co, int C) {
    float gs = 0.0f;
    for (int c = 0; c < C; c++) gs += head_glp(grad_logprob, labels, scale, r, c, C);
    return head_glp(grad_logprob, labels, scale, r, co, C) - expf(logprob[r * C + co]) * gs;
}

/* The backward launch's operands (more than a launch takes one by one). */
typedef struct {
    float *grad_in, *grad_w, *grad_b, *grad_logits, *loss, *grad_logprob;
    const float *logprob, *in, *w;
    const int8_t *labels;
    float scale;
    int B, Ci, C;
} dm_head_bwd_args;

static __global__ void head_bwd_kernel(dm_head_bwd_args a) {
    int B = a.B, Ci = a.Ci, C = a.C;
    int64_t n_in = a.grad_in ? (int64_t)B * Ci : 0, n_par = a.grad_w ? (int64_t)C * (Ci + 1) : 0;
    DM_GRID_STRIDE(i, B + n_in + n_par) {
        if (i < B) {
            int64_t r = i;
            if (a.labels) {
                int cls = a.labels[r] == 1 ? 0 : 1;
                a.loss[r] = -a.logprob[2 * r + cls];
                a.grad_logprob[2 * r + cls] = -a.scale;
                a.grad_logprob[2 * r + 1 - cls] = 0.0f;
            }
            for (int co = 0; co < C; co++)
                a.grad_logits[r * C + co] = head_glogit(a.grad_logprob, a.logprob, a.labels, a.scale, r, co, C);
        } else if (i < B + n_in) {
            int64_t r = (i - B) / Ci;
            int k = (int)((i - B) % Ci);
            float s = 0.0f;
            for (int co = 0; co < C; co++)
                s += head_glogit(a.grad_logprob, a.logprob, a.labels, a.scale, r, co, C) * a.w[(int64_t)co * Ci + k];
            a.grad_in[r * Ci + k] = s;
        } else if (i < B + n_in + (int64_t)C * Ci) {
            int64_t j = i - B - n_in;
            int co = (int)(j / Ci), k = (int)(j % Ci);
            float s = 0.0f;
            for (int r = 0; r < B; r++)
                s += head_glogit(a.grad_logprob, a.logprob, a.labels, a.scale, r, co, C) * a.in[(int64_t)r * Ci + k];
            a.grad_w[j] += s;
        } else {
            int co = (int)(i - B - n_in - (int64_t)C * Ci);
            float s = 0.0f;
            for (int r = 0; r < B; r++) s += head_glogit(a.grad_logprob, a.logprob, a.labels, a.scale, r, co, C);
            a.grad_b[co] += s;
        }
    }
}

DM_KAPI cudaError_t dm_cuda_head_fwd_launch(float *logprob, float *logits, const float *in, const float *w,
                                            const float *b, int B, int Ci, int C, cudaStream_t stream) {
    DM_LAUNCH(head_fwd_kernel, dm_cuda_grid(B), DM_CUDA_BLOCK, 0, stream, logprob, logits, in, w, b, B, Ci, C);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_head_bwd_launch(float *grad_in, float *grad_w, float *grad_b, float *grad_logits,
                                            float *loss, float *grad_logprob, const float *logprob,
                                            const int8_t *labels, float scale, const float *in, const float *w,
                                            int B, int Ci, int C, cudaStream_t stream) {
    dm_head_bwd_args a = {grad_in, grad_w, grad_b, grad_logits, loss, grad_logprob, logprob, in, w, labels,
                          scale, B, Ci, C};
    int64_t n = B + (grad_in ? (int64_t)B * Ci : 0) + (grad_w ? (int64_t)C * (Ci + 1) : 0);   /* as the kernel's */
    DM_LAUNCH(head_bwd_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, stream, a);
    return cudaGetLastError();
}

DM_KAPI void dm_cuda_head_fwd(dm_backend *be, float *logprob, float *logits, const float *in, const float *w,
                              const float *b, int B, int Ci, int C) {
    if (B <= 0 || C <= 0) return;
    if (C > DM_HEAD_MAXC) {     /* wider heads than the register array: the unfused pair */
        dm_cuda_dense_fwd(be, logits, in, w, b, B, Ci, C);
        dm_cuda_logsoftmax_fwd(be, logprob, logits, B, C);
        return;
    }
    dm_cuda_check(be, dm_cuda_head_fwd_launch(logprob, logits, in, w, b, B, Ci, C, dm_cuda_stream(be)), "head_fwd");
}

DM_KAPI void dm_cuda_head_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b, float *grad_logits,
                              float *loss, float *grad_logprob, const float *logprob, const int8_t *labels,
                              float scale, const float *in, const float *w, int B, int Ci, int C) {
    if (B <= 0 || C <= 0) return;
    dm_cuda_check(be, dm_cuda_head_bwd_launch(grad_in, grad_w, grad_b, grad_logits, loss, grad_logprob, logprob,
                                              labels, scale, in, w, B, Ci, C, dm_cuda_stream(be)), "head_bwd");
}
