/*
 * convpool.cu: a CNN block after its convolution, fused (backend.h conv1d_pool_fwd, relu_pool_bwd): the
 * ReLU, the max-pool (or global max) and the dropout in one launch each way, instead of 2 to 3 (relu.cu,
 * maxpool.cu, gmax.cu, dropout.cu stay the reference the tests hold these against). Every value is
 * computed with the same float operations as there, so the results are the unfused ops' bit for bit.
 *
 * Forward, after the convolution (conv1d.cu): on its GEMM path the GEMM leaves the sums (β = 0) and this
 * kernel is the epilogue that adds the bias and applies the ReLU (as bias_relu_kernel); on the direct path
 * (and with cuDNN) the convolution stored bias + ReLU already. Thread → (b, window j, c), windows of pw
 * positions (the whole sequence for the global max), the partial window at the end included (its
 * positions get bias, ReLU and, dropout first, their mask, but make no output). The thread walks its
 * window: act (written back), then with dropout first the mask and act · mask, the first maximum (strict
 * >, as maxpool_fwd_kernel and gmax_fwd_kernel) and its position; then the pooled value, and with
 * dropout after the pool its mask and product. A mask value is dropout_fwd_kernel's for the element's
 * index i (Philox block i / 4, word i % 4), so the masks are the unfused op's whatever the shape.
 *
 * Backward: thread → element (b, l, c) of the block's ReLU output: the gradient of its window's output
 * if it is the window's argmax, 0 otherwise (maxpool_bwd_kernel, gmax_bwd_kernel), times the mask of that
 * output (dropout after the pool) or of this element (dropout first), then zero where act ≤ 0
 * (relu_bwd_kernel). A gather: no atomics, no thread reads what another writes.
 */
#include "common.cuh"
#include "dm_cuda.h"
#include "dm_rng.h"

/* The forward launch's operands (more than a launch takes one by one). */
typedef struct {
    float *act, *pooled, *drop, *mask;
    int32_t *argmax;
    const float *bias;      /* NULL: act holds bias + ReLU already */
    int B, L, C, pw;        /* pw 0: the global max */
    int drop_first;
    float p, scale;
    uint64_t key, index;
} dm_convpool_args;

/* dropout_fwd_kernel's mask of element i. */
static __device__ __forceinline__ float convpool_mask(uint64_t key, uint64_t index, float p, float scale, int64_t i) {
    uint32_t w[4];
    dm_philox(w, key, index, (uint64_t)(i / 4));
    int k = (int)(i % 4);     /* a select, not w[k]: a run-time index would put w in local memory */
    uint32_t r = k == 0 ? w[0] : k == 1 ? w[1] : k == 2 ? w[2] : w[3];
    return dm_u32_to_unit(r) < p ? 0.0f : scale;
}

static __global__ void convpool_fwd_kernel(dm_convpool_args a) {
    int wl = a.pw > 0 ? a.pw : a.L;                  /* window length */
    int Lp = a.pw > 0 ? a.L / a.pw : 1;              /* whole windows: the outputs */
    int nwin = (a.L + wl - 1) / wl;                  /* with the partial one */
    DM_GRID_STRIDE(t, (int64_t)a.B * nwin * a.C) {
        int c = (int)(t % a.C), j = (int)((t / a.C) % nwin);
        int64_t b = t / ((int64_t)a.C * nwin);
        int l0 = j * wl, l1 = l0 + wl < a.L ? l0 + wl : a.L;
        float best = 0.0f;
        int arg = l0;
        for (int l = l0; l < l1; l++) {
            int64_t e = (b * a.L + l) * a.C + c;
            float v = a.act[e];
            if (a.bias) {                               /* the GEMM's epilogue: bias_relu_kernel's sum */
                v = v + a.bias[c];
                v = v > 0.0f ? v : 0.0f;
                a.act[e] = v;
            }
            if (a.mask && a.drop_first) {
                float m = convpool_mask(a.key, a.index, a.p, a.scale, e);
                a.mask[e] = m;
                v = v * m;
                a.drop[e] = v;
            }
            if (l == l0 || v > best) {
                best = v;
                arg = l;
            }
        }
        if (j < Lp) {
            int64_t o = (b * Lp + j) * a.C + c;
            a.pooled[o] = best;
            a.argmax[o] = arg;
            if (a.mask && !a.drop_first) {
                float m = convpool_mask(a.key, a.index, a.p, a.scale, o);
                a.mask[o] = m;
                a.drop[o] = best * m;
            }
        }
    }
}

static __global__ void relu_pool_bwd_kernel(float *grad_act, const float *grad, const int32_t *argmax,
                                            const float *mask, const float *act, int B, int L, int C, int pw,
                                            int drop_first) {
    int Lp = pw > 0 ? L / pw : 1;
    DM_GRID_STRIDE(i, (int64_t)B * L * C) {
        int c = (int)(i % C), l = (int)((i / C) % L);
        int64_t b = i / ((int64_t)C * L);
        int lo = pw > 0 ? l / pw : 0;
        float g = 0.0f;
        if (lo < Lp) {
            int64_t o = (b * Lp + lo) * C + c;
            if (argmax[o] == l) g = mask && !drop_first ? grad[o] * mask[o] : grad[o];
        }
        if (mask && drop_first) g = g * mask[i];
        grad_act[i] = act[i] > 0.0f ? g : 0.0f;
    }
}

DM_KAPI cudaError_t dm_cuda_convpool_fwd_launch(float *act, float *pooled, int32_t *argmax, float *drop, float *mask,
                                                const float *bias, int B, int L, int C, int pw, bool drop_first,
                                                float p, uint64_t key, uint64_t index, cudaStream_t stream) {
    int wl = pw > 0 ? pw : L;
    int64_t n = (int64_t)B * ((L + wl - 1) / wl) * C;
    dm_convpool_args a = {act, pooled, drop, mask, argmax, bias, B, L, C, pw, (int)drop_first, p,
                          1.0f / (1.0f - p), key, index};
    DM_LAUNCH(convpool_fwd_kernel, dm_cuda_grid(n), DM_CUDA_BLOCK, 0, stream, a);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_relu_pool_bwd_launch(float *grad_act, const float *grad, const int32_t *argmax,
                                                 const float *mask, const float *act, int B, int L, int C, int pw,
                                                 bool drop_first, cudaStream_t stream) {
    DM_LAUNCH(relu_pool_bwd_kernel, dm_cuda_grid((int64_t)B * L * C), DM_CUDA_BLOCK, 0, stream, grad_act, grad,
              argmax, mask, act, B, L, C, pw, (int)drop_first);
    return cudaGetLastError();
}

/* The convolution (bias and ReLU deferred to this file's kernel on the GEMM path), then that kernel:
 * 2 launches on the direct path, 3 on the GEMM path (im2col, GEMM, this). */
DM_KAPI void dm_cuda_conv1d_pool_fwd(dm_backend *be, float *act, float *pooled, int32_t *argmax, float *drop,
                                     float *mask, const float *in, const float *w, const float *b, int B, int Li,
                                     int Ci, int Co, int K, int pad, int pw, bool drop_first, float p, uint64_t key,
                                     uint64_t index) {
    int Lo = Li + 2 * pad - K + 1;
    if (B <= 0 || Lo <= 0 || Co <= 0) return;
    bool defer = dm_cuda_conv1d_relu_fwd_defer(be, act, in, w, b, B, Li, Ci, Co, K, pad);
    dm_cuda_check(be, dm_cuda_convpool_fwd_launch(act, pooled, argmax, drop, mask, defer ? b : NULL, B, Lo, Co, pw,
                                                  drop_first, p, key, index, dm_cuda_stream(be)),
                  "conv1d_pool_fwd");
}

DM_KAPI void dm_cuda_relu_pool_bwd(dm_backend *be, float *grad_act, float *grad, const int32_t *argmax,
                                   const float *mask, const float *act, int B, int L, int C, int pw, bool drop_first) {
    if ((int64_t)B * L * C > 0)
        dm_cuda_check(be, dm_cuda_relu_pool_bwd_launch(grad_act, grad, argmax, mask, act, B, L, C, pw, drop_first,
                                                       dm_cuda_stream(be)),
                      "relu_pool_bwd");
}
