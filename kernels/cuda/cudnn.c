/*
 * cudnn.c: the cuDNN alternative for the convolution and the LSTM (`--cudnn`, bench_gpu's cudnn
 * variant). dm_backend_cuda_cudnn() swaps four entries of a CUDA backend's table; every other op, the
 * memory and the stream stay the same, so the two paths are compared on equal terms.
 *
 * Convolution: NHWC tensors with H = 1 ((B, L, C) is already NHWC) and a (Co, 1, K, Ci) NHWC filter,
 * cross-correlation, FMA math (no TF32), the first deterministic algorithm cuDNN ranks (STYLE.md rule 11).
 * The legacy convolution API is deprecated in cuDNN 9 but present; it is the shortest honest path.
 *
 * LSTM: cudnnRNNForward / BackwardData_v8 / BackwardWeights_v8, double bias (PyTorch's b_ih and b_hh),
 * batch-major unpacked data ((B, L, D) as ours). cuDNN's gate order is i, f, g (new memory), o, as ours;
 * our parameters are copied into cuDNN's weight space before every forward (they change every step),
 * and the weight gradients are added back into ours after every backward. cuDNN keeps the forward state
 * in its reserve space, so lstm_fwd does not write `gates` and `cell` here and lstm_bwd must follow
 * the lstm_fwd of the same batch (the model's order); grad_gates is not written either.
 */
#include <cudnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_cuda.h"
#include "dm_base.h"

typedef struct dm_cudnn {
    cudnnHandle_t h;
    cudnnDropoutDescriptor_t drop;          /* dropout 0: the model applies its own */
    void *buf[4];                           /* 0 workspace, 1 RNN reserve, 2 weight space, 3 weight-gradient space */
    size_t cap[4];
    int32_t *seq_len;                       /* device (B): every sequence has the full length */
    int seq_cap, seq_val;
    /* the RNN configuration of the last forward, and its descriptors */
    cudnnRNNDescriptor_t rnn;
    cudnnRNNDataDescriptor_t xd, yd;
    cudnnTensorDescriptor_t hd;
    int cfg[5];                             /* B, L, D, H, n_dir */
    size_t ws_size, work_size, reserve_size;
} dm_cudnn;

static bool cudnn_ok(dm_backend *be, cudnnStatus_t s, const char *what) {
    if (s == CUDNN_STATUS_SUCCESS) return true;
    char msg[200];
    snprintf(msg, sizeof msg, "cuDNN %s: %s", what, cudnnGetErrorString(s));
    dm_backend_fail(be, DM_STATUS_BACKEND, msg);
    return false;
}

static dm_cudnn *cudnn_of(dm_backend *be) { return ((dm_cuda_ctx *)be->ctx)->cudnn; }

/* Buffer k of at least `bytes` (grown, kept). */
static void *cudnn_buf(dm_backend *be, int k, size_t bytes) {
    dm_cudnn *c = cudnn_of(be);
    if (bytes <= c->cap[k] && c->buf[k]) return c->buf[k];
    cudaStreamSynchronize(dm_cuda_stream(be));
    cudaFree(c->buf[k]);
    c->buf[k] = NULL;
    c->cap[k] = 0;
    cudaError_t err = cudaMalloc(&c->buf[k], bytes ? bytes : 16);
    if (err != cudaSuccess) {
        dm_cuda_check(be, err, "cuDNN buffer");
        return NULL;
    }
    c->cap[k] = bytes;
    return c->buf[k];
}

/* ---- convolution ---- */

typedef struct conv_desc {
    cudnnTensorDescriptor_t x, y, b;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
} conv_desc;

static bool conv_desc_make(dm_backend *be, conv_desc *d, int B, int Li, int Ci, int Co, int K, int pad) {
    int Lo = Li + 2 * pad - K + 1;
    memset(d, 0, sizeof *d);
    return cudnn_ok(be, cudnnCreateTensorDescriptor(&d->x), "tensor") &&
           cudnn_ok(be, cudnnCreateTensorDescriptor(&d->y), "tensor") &&
           cudnn_ok(be, cudnnCreateTensorDescriptor(&d->b), "tensor") &&
           cudnn_ok(be, cudnnCreateFilterDescriptor(&d->w), "filter") &&
           cudnn_ok(be, cudnnCreateConvolutionDescriptor(&d->conv), "convolution") &&
           cudnn_ok(be, cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, B, Ci, 1, Li), "x") &&
           cudnn_ok(be, cudnnSetTensor4dDescriptor(d->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, B, Co, 1, Lo), "y") &&
           cudnn_ok(be, cudnnSetTensor4dDescriptor(d->b, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, Co, 1, 1), "bias") &&
           cudnn_ok(be, cudnnSetFilter4dDescriptor(d->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, Co, Ci, 1, K), "w") &&
           cudnn_ok(be, cudnnSetConvolution2dDescriptor(d->conv, 0, pad, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                                        CUDNN_DATA_FLOAT), "convolution") &&
           cudnn_ok(be, cudnnSetConvolutionMathType(d->conv, CUDNN_FMA_MATH), "math type");
}

static void conv_desc_free(conv_desc *d) {
    if (d->x) cudnnDestroyTensorDescriptor(d->x);
    if (d->y) cudnnDestroyTensorDescriptor(d->y);
    if (d->b) cudnnDestroyTensorDescriptor(d->b);
    if (d->w) cudnnDestroyFilterDescriptor(d->w);
    if (d->conv) cudnnDestroyConvolutionDescriptor(d->conv);
}

static void cudnn_conv1d_fwd(dm_backend *be, float *out, const float *in, const float *w, const float *b, int B,
                             int Li, int Ci, int Co, int K, int pad) {
    dm_cudnn *c = cudnn_of(be);
    conv_desc d;
    const float one = 1.0f, zero = 0.0f;
    cudnnConvolutionFwdAlgoPerf_t perf[16];
    int n = 0, pick = -1;
    size_t ws = 0;
    if (conv_desc_make(be, &d, B, Li, Ci, Co, K, pad) &&
        cudnn_ok(be, cudnnGetConvolutionForwardAlgorithm_v7(c->h, d.x, d.w, d.conv, d.y, 16, &n, perf), "algorithm")) {
        for (int i = 0; i < n && pick < 0; i++)
            if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC) pick = i;
        if (pick < 0) dm_backend_fail(be, DM_STATUS_BACKEND, "cuDNN: no deterministic forward convolution");
        else if (cudnn_ok(be, cudnnGetConvolutionForwardWorkspaceSize(c->h, d.x, d.w, d.conv, d.y, perf[pick].algo, &ws),
                          "workspace")) {
            void *work = cudnn_buf(be, 0, ws);
            if (work && cudnn_ok(be, cudnnConvolutionForward(c->h, &one, d.x, in, d.w, w, d.conv, perf[pick].algo, work,
                                                             ws, &zero, d.y, out), "convolution forward"))
                cudnn_ok(be, cudnnAddTensor(c->h, &one, d.b, b, &one, d.y, out), "bias");
        }
    }
    conv_desc_free(&d);
}

static void cudnn_conv1d_bwd(dm_backend *be, float *grad_in, float *grad_w, float *grad_b, const float *grad_out,
                             const float *in, const float *w, int B, int Li, int Ci, int Co, int K, int pad) {
    dm_cudnn *c = cudnn_of(be);
    conv_desc d;
    const float one = 1.0f, zero = 0.0f;
    if (!conv_desc_make(be, &d, B, Li, Ci, Co, K, pad)) {
        conv_desc_free(&d);
        return;
    }
    /* parameter gradients accumulate (β = 1; none for a NULL grad_w); the input gradient is overwritten */
    if (grad_w)
        cudnn_ok(be, cudnnConvolutionBackwardBias(c->h, &one, d.y, grad_out, &one, d.b, grad_b), "bias gradient");
    cudnnConvolutionBwdFilterAlgoPerf_t pf[16];
    int n = 0, pick = -1;
    size_t ws = 0;
    if (grad_w &&
        cudnn_ok(be, cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->h, d.x, d.y, d.conv, d.w, 16, &n, pf), "algorithm")) {
        for (int i = 0; i < n && pick < 0; i++)
            if (pf[i].status == CUDNN_STATUS_SUCCESS && pf[i].determinism == CUDNN_DETERMINISTIC) pick = i;
        if (pick < 0) dm_backend_fail(be, DM_STATUS_BACKEND, "cuDNN: no deterministic filter-gradient algorithm");
        else if (cudnn_ok(be, cudnnGetConvolutionBackwardFilterWorkspaceSize(c->h, d.x, d.y, d.conv, d.w, pf[pick].algo, &ws),
                          "workspace")) {
            void *work = cudnn_buf(be, 0, ws);
            if (work)
                cudnn_ok(be, cudnnConvolutionBackwardFilter(c->h, &one, d.x, in, d.y, grad_out, d.conv, pf[pick].algo, work,
                                                            ws, &one, d.w, grad_w), "filter gradient");
        }
    }
    cudnnConvolutionBwdDataAlgoPerf_t pd[16];
    pick = -1;
    if (grad_in &&
        cudnn_ok(be, cudnnGetConvolutionBackwardDataAlgorithm_v7(c->h, d.w, d.y, d.conv, d.x, 16, &n, pd), "algorithm")) {
        for (int i = 0; i < n && pick < 0; i++)
            if (pd[i].status == CUDNN_STATUS_SUCCESS && pd[i].determinism == CUDNN_DETERMINISTIC) pick = i;
        if (pick < 0) dm_backend_fail(be, DM_STATUS_BACKEND, "cuDNN: no deterministic data-gradient algorithm");
        else if (cudnn_ok(be, cudnnGetConvolutionBackwardDataWorkspaceSize(c->h, d.w, d.y, d.conv, d.x, pd[pick].algo, &ws),
                          "workspace")) {
            void *work = cudnn_buf(be, 0, ws);
            if (work)
                cudnn_ok(be, cudnnConvolutionBackwardData(c->h, &one, d.w, w, d.y, grad_out, d.conv, pd[pick].algo, work, ws,
                                                          &zero, d.x, grad_in), "data gradient");
        }
    }
    conv_desc_free(&d);
}

/* ---- LSTM ---- */

/* (Re)builds the RNN descriptors for (B, L, D, H, n_dir); false after a recorded failure. */
static bool rnn_config(dm_backend *be, int B, int L, int D, int H, int n_dir) {
    dm_cudnn *c = cudnn_of(be);
    int cfg[5] = {B, L, D, H, n_dir};
    if (c->rnn && !memcmp(cfg, c->cfg, sizeof cfg)) return true;
    if (!c->rnn && !(cudnn_ok(be, cudnnCreateRNNDescriptor(&c->rnn), "RNN descriptor") &&
                     cudnn_ok(be, cudnnCreateRNNDataDescriptor(&c->xd), "RNN data") &&
                     cudnn_ok(be, cudnnCreateRNNDataDescriptor(&c->yd), "RNN data") &&
                     cudnn_ok(be, cudnnCreateTensorDescriptor(&c->hd), "RNN state")))
        return false;
    memset(c->cfg, 0, sizeof c->cfg);
    /* every sequence is full length: a host array for the descriptors, a device one for the calls.
     * Our [B, L, D] tensors are cuDNN's batch-major unpacked layout, which cuDNN 9 accepts only with
     * CUDNN_RNN_PADDED_IO_ENABLED (without it, cudnnRNNForward answers CUDNN_STATUS_BAD_PARAM: seen on
     * an H200 with cuDNN 9 from PyTorch's wheel); with every length L, no padding is ever read. */
    int *len = malloc(sizeof(int) * (size_t)B);
    if (!len) {
        dm_backend_fail(be, DM_STATUS_NOMEM, "cuDNN: out of memory");
        return false;
    }
    for (int b = 0; b < B; b++) len[b] = L;
    if (B > c->seq_cap || c->seq_val != L) {
        cudaStreamSynchronize(dm_cuda_stream(be));
        if (B > c->seq_cap) {
            cudaFree(c->seq_len);
            c->seq_len = NULL;
            c->seq_cap = 0;
            if (cudaMalloc((void **)&c->seq_len, sizeof(int32_t) * (size_t)B) != cudaSuccess) {
                free(len);
                dm_backend_fail(be, DM_STATUS_NOMEM, "cuDNN: out of device memory");
                return false;
            }
            c->seq_cap = B;
        }
        dm_cuda_check(be, cudaMemcpyAsync(c->seq_len, len, sizeof(int32_t) * (size_t)B, cudaMemcpyHostToDevice,
                                          dm_cuda_stream(be)), "cuDNN sequence lengths");
        c->seq_val = L;
    }
    int dims[3] = {n_dir, B, H}, strides[3] = {B * H, H, 1};
    bool ok = cudnn_ok(be, cudnnSetRNNDescriptor_v8(c->rnn, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
                                                    n_dir == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL,
                                                    CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH,
                                                    D, H, H, 1, c->drop, CUDNN_RNN_PADDED_IO_ENABLED), "RNN descriptor") &&
              cudnn_ok(be, cudnnSetRNNDataDescriptor(c->xd, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, L, B,
                                                     D, len, NULL), "x descriptor") &&
              cudnn_ok(be, cudnnSetRNNDataDescriptor(c->yd, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, L, B,
                                                     n_dir * H, len, NULL), "y descriptor") &&
              cudnn_ok(be, cudnnSetTensorNdDescriptor(c->hd, CUDNN_DATA_FLOAT, 3, dims, strides), "state descriptor") &&
              cudnn_ok(be, cudnnGetRNNWeightSpaceSize(c->h, c->rnn, &c->ws_size), "weight space") &&
              cudnn_ok(be, cudnnGetRNNTempSpaceSizes(c->h, c->rnn, CUDNN_FWD_MODE_TRAINING, c->xd, &c->work_size,
                                                     &c->reserve_size), "temporary space");
    free(len);
    if (ok) memcpy(c->cfg, cfg, sizeof cfg);
    return ok;
}

/* Copies between our tensors and cuDNN's weight space `ws`, or (grad) adds cuDNN's gradients in
 * `ws` into ours: pseudo-layer d is direction d; linear layers 0–3 are W_ih and b_ih of gates
 * i, f, g, o, layers 4–7 W_hh and b_hh. */
static void rnn_weights(dm_backend *be, void *ws, bool grad, float *w_ih, float *w_hh, float *b_ih, float *b_hh, int D,
                        int H, int n_dir) {
    dm_cudnn *c = cudnn_of(be);
    dm_cuda_ctx *ctx = be->ctx;
    cudnnTensorDescriptor_t md, bd;
    if (!cudnn_ok(be, cudnnCreateTensorDescriptor(&md), "tensor")) return;
    if (!cudnn_ok(be, cudnnCreateTensorDescriptor(&bd), "tensor")) {
        cudnnDestroyTensorDescriptor(md);
        return;
    }
    const float one = 1.0f;
    int G = 4 * H;
    for (int d = 0; d < n_dir; d++)
        for (int id = 0; id < 8; id++) {
            void *m_addr = NULL, *b_addr = NULL;
            if (!cudnn_ok(be, cudnnGetRNNWeightParams(c->h, c->rnn, d, c->ws_size, ws, id, md, &m_addr, bd, &b_addr),
                          "weight params"))
                break;
            int gate = id % 4, in = id < 4 ? D : H;
            float *mat = id < 4 ? w_ih + ((size_t)d * G + (size_t)gate * H) * D : w_hh + ((size_t)d * G + (size_t)gate * H) * H;
            float *bias = (id < 4 ? b_ih : b_hh) + (size_t)d * G + (size_t)gate * H;
            if (grad) {
                cublasSaxpy(ctx->blas, H * in, &one, m_addr, 1, mat, 1);
                cublasSaxpy(ctx->blas, H, &one, b_addr, 1, bias, 1);
            } else {
                dm_cuda_check(be, cudaMemcpyAsync(m_addr, mat, sizeof(float) * (size_t)H * in, cudaMemcpyDeviceToDevice,
                                                  ctx->stream), "cuDNN weights");
                dm_cuda_check(be, cudaMemcpyAsync(b_addr, bias, sizeof(float) * (size_t)H, cudaMemcpyDeviceToDevice,
                                                  ctx->stream), "cuDNN weights");
            }
        }
    cudnnDestroyTensorDescriptor(md);
    cudnnDestroyTensorDescriptor(bd);
}

static void cudnn_lstm_fwd(dm_backend *be, float *h, float *gates, float *cell, const float *x, const float *w_ih,
                           const float *w_hh, const float *b_ih, const float *b_hh, int B, int L, int D, int H,
                           int n_dir) {
    dm_cudnn *c = cudnn_of(be);
    if (!rnn_config(be, B, L, D, H, n_dir)) return;
    void *ws = cudnn_buf(be, 2, c->ws_size), *work = cudnn_buf(be, 0, c->work_size);
    void *reserve = cudnn_buf(be, 1, c->reserve_size);
    if (!ws || !work || !reserve) return;
    rnn_weights(be, ws, false, (float *)w_ih, (float *)w_hh, (float *)b_ih, (float *)b_hh, D, H, n_dir);
    cudnn_ok(be, cudnnRNNForward(c->h, c->rnn, CUDNN_FWD_MODE_TRAINING, c->seq_len, c->xd, x, c->yd, h, c->hd, NULL,
                                 NULL, c->hd, NULL, NULL, c->ws_size, ws, c->work_size, work, c->reserve_size, reserve),
             "RNN forward");
}

static void cudnn_lstm_bwd(dm_backend *be, float *grad_x, float *grad_w_ih, float *grad_w_hh, float *grad_b_ih,
                           float *grad_b_hh, float *grad_gates, const float *grad_h, const float *x, const float *h,
                           const float *gates, const float *cell, const float *w_ih, const float *w_hh, int B, int L,
                           int D, int H, int n_dir) {
    dm_cudnn *c = cudnn_of(be);
    int cfg[5] = {B, L, D, H, n_dir};
    if (!c->rnn || memcmp(cfg, c->cfg, sizeof cfg)) {
        dm_backend_fail(be, DM_STATUS_BACKEND, "cuDNN LSTM: backward without the forward of the same batch");
        return;
    }
    void *ws = c->buf[2], *work = c->buf[0], *reserve = c->buf[1];
    float *dx = grad_x ? grad_x : dm_cuda_scratch(be, DM_CUDA_SCRATCH_C, (size_t)B * L * D);
    void *dws = cudnn_buf(be, 3, c->ws_size);
    if (!dx || !dws) return;
    dm_cuda_check(be, cudaMemsetAsync(dws, 0, c->ws_size, dm_cuda_stream(be)), "cuDNN gradients");
    if (cudnn_ok(be, cudnnRNNBackwardData_v8(c->h, c->rnn, c->seq_len, c->yd, h, grad_h, c->xd, dx, c->hd, NULL, NULL,
                                             NULL, c->hd, NULL, NULL, NULL, c->ws_size, ws, c->work_size, work,
                                             c->reserve_size, reserve), "RNN backward data") && grad_w_ih &&
        cudnn_ok(be, cudnnRNNBackwardWeights_v8(c->h, c->rnn, CUDNN_WGRAD_MODE_ADD, c->seq_len, c->xd, x, c->hd, NULL,
                                                c->yd, h, c->ws_size, dws, c->work_size, work, c->reserve_size, reserve),
                 "RNN backward weights"))
        rnn_weights(be, dws, true, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh, D, H, n_dir);
}

/* ---- attach / detach ---- */

void dm_cudnn_free(dm_backend *be) {
    dm_cudnn *c = cudnn_of(be);
    if (!c) return;
    for (int k = 0; k < 4; k++) cudaFree(c->buf[k]);
    cudaFree(c->seq_len);
    if (c->rnn) cudnnDestroyRNNDescriptor(c->rnn);
    if (c->xd) cudnnDestroyRNNDataDescriptor(c->xd);
    if (c->yd) cudnnDestroyRNNDataDescriptor(c->yd);
    if (c->hd) cudnnDestroyTensorDescriptor(c->hd);
    if (c->drop) cudnnDestroyDropoutDescriptor(c->drop);
    if (c->h) cudnnDestroy(c->h);
    free(c);
    ((dm_cuda_ctx *)be->ctx)->cudnn = NULL;
}

dm_status dm_backend_cuda_cudnn(dm_backend *be) {
    dm_cuda_ctx *ctx = be->ctx;
    if (strcmp(be->name, "cuda") != 0) return dm_error(DM_STATUS_BACKEND, "--cudnn needs the CUDA backend");
    if (ctx->cudnn) return DM_STATUS_OK;
    dm_cudnn *c = calloc(1, sizeof *c);
    if (!c) return dm_error(DM_STATUS_NOMEM, "out of memory for cuDNN");
    ctx->cudnn = c;
    cudnnStatus_t s = cudnnCreate(&c->h);
    if (s == CUDNN_STATUS_SUCCESS) s = cudnnSetStream(c->h, ctx->stream);
    if (s == CUDNN_STATUS_SUCCESS) s = cudnnCreateDropoutDescriptor(&c->drop);
    if (s == CUDNN_STATUS_SUCCESS) s = cudnnSetDropoutDescriptor(c->drop, c->h, 0.0f, NULL, 0, 0);
    if (s != CUDNN_STATUS_SUCCESS) {
        dm_cudnn_free(be);
        return dm_error(DM_STATUS_BACKEND, "cuDNN initialisation failed: %s", cudnnGetErrorString(s));
    }
    ctx->table.conv1d_fwd = cudnn_conv1d_fwd;
    ctx->table.conv1d_bwd = cudnn_conv1d_bwd;
    ctx->table.lstm_fwd = cudnn_lstm_fwd;
    ctx->table.lstm_bwd = cudnn_lstm_bwd;
    snprintf(be->device + strlen(be->device), sizeof be->device - strlen(be->device), ", cuDNN %zu", cudnnGetVersion());
    return DM_STATUS_OK;
}
