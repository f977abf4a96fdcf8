/*
 * conv1d.cu: 1-D convolution (cross-correlation) with zero padding (kernels/cpu/conv1d.c):
 *   out[b, l, co] = bias[co] + Σ_k Σ_ci in[b, l + k − pad, ci] · w[co, k, ci],  Lo = Li + 2 pad − K + 1,
 * w (Co, K, Ci) is the row-major matrix (Co, K·Ci).
 *
 * The launcher picks one of two paths per direction:
 * - direct kernels for narrow inputs (the one-hot first layer, K·Ci ≤ 256): forward, block → (tile of
 *   DM_CONV_TL output positions, sequence b), the input window staged in shared memory, thread →
 *   output channel with DM_CONV_TL accumulators; input gradient, thread → (b, li, ci).
 * - im2col + cuBLAS for wide inputs (128 channels): col (B·Lo, K·Ci), out = col · wᵀ; the input
 *   gradient is colg = grad_out · w followed by col2im (a gather over the K taps: no atomics).
 * The weight gradient is always grad_w += grad_outᵀ · col and the bias gradient a column sum.
 */
#include "common.cuh"
#include "dm_cuda.h"

#define DM_CONV_TL 8              /* output positions per block of the direct forward kernel */
#define DM_CONV_SMEM 4096         /* floats of the staged input window */
#define DM_CONV_DIRECT_KCI 256    /* K·Ci up to which the direct kernels are used */
#define DM_CONV_DIRECT_CI 16      /* Ci up to which the direct input-gradient kernel is used */

static __global__ void conv1d_fwd_direct_kernel(float *out, const float *in, const float *w, const float *bias,
                                                int Li, int Ci, int Co, int K, int pad, int Lo, int relu) {
    __shared__ float tile[DM_CONV_SMEM];
    int b = blockIdx.y, lo0 = blockIdx.x * DM_CONV_TL;
    int n_tile = (DM_CONV_TL + K - 1) * Ci;
    /* stage in[b, lo0 − pad .. lo0 − pad + TL + K − 2, :] with zeros outside the sequence */
    for (int idx = threadIdx.x; idx < n_tile; idx += blockDim.x) {
        int pos = lo0 - pad + idx / Ci;
        tile[idx] = pos >= 0 && pos < Li ? in[((int64_t)b * Li + pos) * Ci + idx % Ci] : 0.0f;
    }
    __syncthreads();
    for (int co = threadIdx.x; co < Co; co += blockDim.x) {
        float acc[DM_CONV_TL];
        for (int t = 0; t < DM_CONV_TL; t++) acc[t] = bias[co];
        const float *wr = w + (int64_t)co * K * Ci;
        for (int kc = 0; kc < K * Ci; kc++) {
            float wv = wr[kc];
            for (int t = 0; t < DM_CONV_TL; t++) acc[t] += wv * tile[t * Ci + kc];
        }
        for (int t = 0; t < DM_CONV_TL && lo0 + t < Lo; t++)   /* the ReLU as relu.cu's: NaN and −0 give 0 */
            out[((int64_t)b * Lo + lo0 + t) * Co + co] = !relu || acc[t] > 0.0f ? acc[t] : 0.0f;
    }
}

/* col[(b·Lo + l), k·Ci + ci] = in[b, l + k − pad, ci] (0 outside). Thread → col element. */
static __global__ void im2col_kernel(float *col, const float *in, int B, int Li, int Ci, int K, int pad, int Lo) {
    int64_t KCi = (int64_t)K * Ci, n = (int64_t)B * Lo * KCi;
    DM_GRID_STRIDE(i, n) {
        int64_t row = i / KCi;
        int kc = (int)(i % KCi), k = kc / Ci, ci = kc % Ci;
        int b = (int)(row / Lo), l = (int)(row % Lo), pos = l + k - pad;
        col[i] = pos >= 0 && pos < Li ? in[((int64_t)b * Li + pos) * Ci + ci] : 0.0f;
    }
}

/* out[r, c] = bias[c]: the GEMM then accumulates onto it. */
static __global__ void bias_rows_kernel(float *out, const float *bias, int64_t rows, int cols) {
    DM_GRID_STRIDE(i, rows * cols) out[i] = bias[i % cols];
}

/* The epilogue of the fused conv + ReLU: out[r, c] = max(out[r, c] + bias[c], 0) after a GEMM into out
 * with β = 0 (the same sum as the GEMM's 1·acc + 1·bias onto bias rows). */
static __global__ void bias_relu_kernel(float *out, const float *bias, int64_t rows, int cols) {
    DM_GRID_STRIDE(i, rows * cols) {
        float v = out[i] + bias[i % cols];
        out[i] = v > 0.0f ? v : 0.0f;
    }
}

static __global__ void conv1d_bwd_in_direct_kernel(float *grad_in, const float *grad_out, const float *w, int B,
                                                   int Li, int Ci, int Co, int K, int pad, int Lo) {
    DM_GRID_STRIDE(i, (int64_t)B * Li * Ci) {
        int ci = (int)(i % Ci), li = (int)((i / Ci) % Li);
        int64_t b = i / ((int64_t)Ci * Li);
        float s = 0.0f;
        for (int k = 0; k < K; k++) {
            int lo = li + pad - k;
            if (lo < 0 || lo >= Lo) continue;
            const float *g = grad_out + (b * Lo + lo) * Co;
            for (int co = 0; co < Co; co++) s += g[co] * w[((int64_t)co * K + k) * Ci + ci];
        }
        grad_in[i] = s;
    }
}

/* grad_in[b, li, ci] = Σ_k colg[(b·Lo + li + pad − k), k·Ci + ci] over valid rows. Thread → input element. */
static __global__ void col2im_kernel(float *grad_in, const float *colg, int B, int Li, int Ci, int K, int pad,
                                     int Lo) {
    DM_GRID_STRIDE(i, (int64_t)B * Li * Ci) {
        int ci = (int)(i % Ci), li = (int)((i / Ci) % Li);
        int64_t b = i / ((int64_t)Ci * Li);
        float s = 0.0f;
        for (int k = 0; k < K; k++) {
            int lo = li + pad - k;
            if (lo >= 0 && lo < Lo) s += colg[(b * Lo + lo) * K * Ci + (int64_t)k * Ci + ci];
        }
        grad_in[i] = s;
    }
}

static int conv_lo(int Li, int K, int pad) { return Li + 2 * pad - K + 1; }

static bool conv_fwd_direct(int Ci, int K) {
    return K * Ci <= DM_CONV_DIRECT_KCI && (DM_CONV_TL + K - 1) * Ci <= DM_CONV_SMEM;
}

DM_KAPI cudaError_t dm_cuda_conv1d_fwd_direct_launch(float *out, const float *in, const float *w, const float *b,
                                                     int B, int Li, int Ci, int Co, int K, int pad, bool relu,
                                                     cudaStream_t stream) {
    int Lo = conv_lo(Li, K, pad);
    dim3 grid = {(unsigned)((Lo + DM_CONV_TL - 1) / DM_CONV_TL), (unsigned)B, 1};
    unsigned block = Co >= 128 ? 128 : (unsigned)((Co + 31) / 32 * 32);
    DM_LAUNCH(conv1d_fwd_direct_kernel, grid, block, 0, stream, out, in, w, b, Li, Ci, Co, K, pad, Lo, (int)relu);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_im2col_launch(float *col, const float *in, int B, int Li, int Ci, int K, int pad,
                                          cudaStream_t stream) {
    int Lo = conv_lo(Li, K, pad);
    DM_LAUNCH(im2col_kernel, dm_cuda_grid((int64_t)B * Lo * K * Ci), DM_CUDA_BLOCK, 0, stream, col, in, B, Li, Ci,
              K, pad, Lo);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_conv1d_bwd_in_direct_launch(float *grad_in, const float *grad_out, const float *w,
                                                        int B, int Li, int Ci, int Co, int K, int pad,
                                                        cudaStream_t stream) {
    int Lo = conv_lo(Li, K, pad);
    DM_LAUNCH(conv1d_bwd_in_direct_kernel, dm_cuda_grid((int64_t)B * Li * Ci), DM_CUDA_BLOCK, 0, stream, grad_in,
              grad_out, w, B, Li, Ci, Co, K, pad, Lo);
    return cudaGetLastError();
}

DM_KAPI cudaError_t dm_cuda_col2im_launch(float *grad_in, const float *colg, int B, int Li, int Ci, int K, int pad,
                                          cudaStream_t stream) {
    int Lo = conv_lo(Li, K, pad);
    DM_LAUNCH(col2im_kernel, dm_cuda_grid((int64_t)B * Li * Ci), DM_CUDA_BLOCK, 0, stream, grad_in, colg, B, Li,
              Ci, K, pad, Lo);
    return cudaGetLastError();
}

/* How the forward ends: bias rows before the GEMM (the plain conv), or after a β = 0 GEMM the bias + ReLU
 * epilogue kernel (conv1d_relu_fwd), or no epilogue: the caller's kernel adds the bias and the ReLU
 * (conv1d_pool_fwd, convpool.cu). The direct kernel does bias and ReLU itself in every case. */
enum { CONV_PLAIN, CONV_RELU, CONV_DEFER };

/* The forward; returns true when it left the bias and the ReLU to the caller (CONV_DEFER on the GEMM
 * path): out then holds the β = 0 GEMM's sums. */
static bool conv1d_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b, int B, int Li,
                       int Ci, int Co, int K, int pad, int epi) {
    cudaStream_t s = dm_cuda_stream(be);
    int Lo = conv_lo(Li, K, pad), KCi = K * Ci;
    if (B <= 0 || Lo <= 0 || Co <= 0) return false;
    if (conv_fwd_direct(Ci, K)) {
        dm_cuda_check(be, dm_cuda_conv1d_fwd_direct_launch(out, in, w, b, B, Li, Ci, Co, K, pad, epi != CONV_PLAIN, s),
                      "conv1d_fwd");
        return false;
    }
    int64_t rows = (int64_t)B * Lo;
    float *col = dm_cuda_scratch(be, DM_CUDA_SCRATCH_A, (size_t)rows * KCi);
    if (!col) return false;
    dm_cuda_check(be, dm_cuda_im2col_launch(col, in, B, Li, Ci, K, pad, s), "conv1d_fwd im2col");
    if (epi == CONV_PLAIN) {
        DM_LAUNCH(bias_rows_kernel, dm_cuda_grid(rows * Co), DM_CUDA_BLOCK, 0, s, out, b, rows, Co);
        dm_cuda_check(be, cudaGetLastError(), "conv1d_fwd bias");
    }
    dm_cuda_gemm_rowmajor(be, false, true, (int)rows, Co, KCi, 1.0f, col, KCi, w, KCi, epi == CONV_PLAIN ? 1.0f : 0.0f,
                          out, Co);
    if (epi == CONV_RELU) {
        DM_LAUNCH(bias_relu_kernel, dm_cuda_grid(rows * Co), DM_CUDA_BLOCK, 0, s, out, b, rows, Co);
        dm_cuda_check(be, cudaGetLastError(), "conv1d_relu_fwd bias + relu");
    }
    return epi == CONV_DEFER;
}

DM_KAPI bool dm_cuda_conv1d_relu_fwd_defer(dm_backend *be, float *out, const float *in, const float *w,
                                           const float *b, int B, int Li, int Ci, int Co, int K, int pad) {
    if (be->i->conv1d_fwd != dm_cuda_conv1d_fwd) {   /* cuDNN's convolution: conv1d_relu_fwd's pair */
        dm_cuda_conv1d_relu_fwd(be, out, in, w, b, B, Li, Ci, Co, K, pad);
        return false;
    }
    return conv1d_fwd(be, out, in, w, b, B, Li, Ci, Co, K, pad, CONV_DEFER);
}

DM_KAPI void dm_cuda_conv1d_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                                int B, int Li, int Ci, int Co, int K, int pad) {
    conv1d_fwd(be, out, in, w, b, B, Li, Ci, Co, K, pad, CONV_PLAIN);
}

DM_KAPI void dm_cuda_conv1d_relu_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b,
                                     int B, int Li, int Ci, int Co, int K, int pad) {
    if (be->i->conv1d_fwd != dm_cuda_conv1d_fwd) {   /* cuDNN's convolution (cudnn.c): then the ReLU */
        be->i->conv1d_fwd(be, out, in, w, b, B, Li, Ci, Co, K, pad);
        dm_cuda_relu_fwd(be, out, out, (int64_t)B * conv_lo(Li, K, pad) * Co);
        return;
    }
    conv1d_fwd(be, out, in, w, b, B, Li, Ci, Co, K, pad, CONV_RELU);
}

DM_KAPI void dm_cuda_conv1d_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b,
                                const float *grad_out, const float *in, const float *w, int B, int Li, int Ci,
                                int Co, int K, int pad) {
    cudaStream_t s = dm_cuda_stream(be);
    int Lo = conv_lo(Li, K, pad), KCi = K * Ci;
    if (B <= 0 || Lo <= 0 || Co <= 0) return;
    int64_t rows = (int64_t)B * Lo;
    if (grad_w) {   /* NULL: the input gradient only */
        dm_cuda_colsum_add(be, grad_b, NULL, grad_out, (int)rows, Co, "conv1d_bwd bias");
        /* grad_w (Co, K·Ci) += grad_outᵀ (Co, rows) · col (rows, K·Ci) */
        float *col = dm_cuda_scratch(be, DM_CUDA_SCRATCH_A, (size_t)rows * KCi);
        if (!col) return;
        dm_cuda_check(be, dm_cuda_im2col_launch(col, in, B, Li, Ci, K, pad, s), "conv1d_bwd im2col");
        dm_cuda_gemm_rowmajor(be, true, false, Co, KCi, (int)rows, 1.0f, grad_out, Co, col, KCi, 1.0f, grad_w, KCi);
    }
    if (!grad_in) return;
    if (Ci <= DM_CONV_DIRECT_CI) {
        dm_cuda_check(be, dm_cuda_conv1d_bwd_in_direct_launch(grad_in, grad_out, w, B, Li, Ci, Co, K, pad, s),
                      "conv1d_bwd input");
        return;
    }
    float *colg = dm_cuda_scratch(be, DM_CUDA_SCRATCH_B, (size_t)rows * KCi);
    if (!colg) return;
    dm_cuda_gemm_rowmajor(be, false, false, (int)rows, KCi, Co, 1.0f, grad_out, Co, w, KCi, 0.0f, colg, KCi);
    dm_cuda_check(be, dm_cuda_col2im_launch(grad_in, colg, B, Li, Ci, K, pad, s), "conv1d_bwd col2im");
}
