/*
 * cudnn.c: the emulator's cuDNN (include/cudnn.h): convolutions by direct double-precision loops over
 * cuDNN's descriptors (any 4-d layout, padding, stride, dilation, either mode); the LSTM by plain
 * double loops written from cuDNN's equations (the same as kernels/cpu/lstm.c's reference, which a
 * static emulator library cannot link) on weights gathered from the stand-in's own weight-space
 * layout; forward, backward data and backward weights split as cuDNN splits them (backward data leaves the gate gradients in the reserve space; backward weights
 * reads x, y and them, not the weights).
 *
 * Weight space (one layer; per direction d, per gate q in i, f, g, o): W_ih[q] (H x D row-major), W_hh[q]
 * (H x H), b_ih[q] (H), b_hh[q] (H). It is deliberately not deepmotif's (n_dir, 4H, D) block order, so a
 * caller that assumed a layout instead of asking cudnnGetRNNWeightParams gets wrong results. Reserve
 * space (training): the activated gates (B, L, n_dir 4H) and cells (B, L, n_dir H) of the forward, and
 * the pre-activation gate gradients backward data leaves for backward weights. Work space: the weights
 * and weight gradients in the reference's order, and the gates and cells of an inference forward.
 *
 * Every device pointer is checked against the live allocations (emu_track.h) for the bytes the call
 * reads or writes; the computation is enqueued on the handle's stream (emu_queue.h), with copies of the
 * descriptors (callers may destroy them once the call returns) and of the host scalars.
 *
 * Longer than 800 lines because: it is one API surface (include/cudnn.h) whose convolution and RNN
 * halves share the descriptor structs and the pointer checks; most of the length is cuDNN's long
 * signatures. It is test infrastructure, not part of the library.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cudnn.h"
#include "emu_queue.h"
#include "emu_track.h"

/* The LSTM forward, cuDNN's equations (gates i, f, g, o; c = f c_prev + i g; h = o tanh c), in double
 * per step as kernels/cpu/lstm.c's reference; direction 1 walks L-1 -> 0. Saves the activated gates
 * and the cells. */
static void emu_lstm_fwd(float *h, float *gates, float *cell, const float *x, const float *w_ih, const float *w_hh,
                         const float *b_ih, const float *b_hh, int B, int L, int D, int H, int n_dir) {
    size_t G = 4 * (size_t)H, GD = n_dir * G, HD = (size_t)n_dir * H;
    for (int b = 0; b < B; b++)
        for (int d = 0; d < n_dir; d++)
            for (int s = 0; s < L; s++) {
                int t = d == 0 ? s : L - 1 - s, tp = d == 0 ? s - 1 : L - s;
                const float *xt = x + ((size_t)b * L + t) * D;
                const float *hp = s > 0 ? h + ((size_t)b * L + tp) * HD + (size_t)d * H : NULL;
                const float *cp = s > 0 ? cell + ((size_t)b * L + tp) * HD + (size_t)d * H : NULL;
                float *gt = gates + ((size_t)b * L + t) * GD + (size_t)d * G;
                for (size_t q = 0; q < G; q++) {
                    double a = (double)b_ih[d * G + q] + b_hh[d * G + q];
                    for (int k = 0; k < D; k++) a += (double)w_ih[(d * G + q) * D + k] * xt[k];
                    for (int k = 0; hp && k < H; k++) a += (double)w_hh[(d * G + q) * H + k] * hp[k];
                    gt[q] = (float)(q / (size_t)H == 2 ? tanh(a) : 1.0 / (1.0 + exp(-a)));
                }
                for (int j = 0; j < H; j++) {
                    double c = (double)gt[H + j] * (cp ? cp[j] : 0.0) + (double)gt[j] * gt[2 * H + j];
                    cell[((size_t)b * L + t) * HD + (size_t)d * H + j] = (float)c;
                    h[((size_t)b * L + t) * HD + (size_t)d * H + j] = (float)(gt[3 * H + j] * tanh(c));
                }
            }
}

struct cudnnContext {
    cudaStream_t stream;
};
struct cudnnTensorStruct { /* as 4-d n, c, h, w with strides (N-d: up to 4 dims, leading ones 1) */
    int set, dim[4], stride[4];
};
struct cudnnFilterStruct {
    int set, k, c, r, s;
    cudnnTensorFormat_t format;
};
struct cudnnConvolutionStruct {
    int set, pad[2], u[2], dil[2];
    cudnnConvolutionMode_t mode;
};
struct cudnnDropoutStruct {
    float rate;
};
struct cudnnRNNStruct {
    int set, D, H, n_dir, padded_io;   /* padded_io: auxFlags has CUDNN_RNN_PADDED_IO_ENABLED */
};
struct cudnnRNNDataStruct {
    int set, L, B, V;
};

/* ---- handles and descriptors ------------------------------------------------------------------------- */
#define EMU_NEW(T, p)                                                                                        \
    do {                                                                                                     \
        if (!(p)) return CUDNN_STATUS_BAD_PARAM;                                                             \
        *(p) = calloc(1, sizeof **(p));                                                                      \
        return *(p) ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_ALLOC_FAILED;                                      \
    } while (0)
#define EMU_FREE(p)                                                                                          \
    do {                                                                                                     \
        free(p);                                                                                             \
        return CUDNN_STATUS_SUCCESS;                                                                         \
    } while (0)

cudnnStatus_t cudnnCreate(cudnnHandle_t *h) { EMU_NEW(cudnnContext, h); }
cudnnStatus_t cudnnDestroy(cudnnHandle_t h) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    EMU_FREE(h);
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t stream) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    h->stream = stream;
    return CUDNN_STATUS_SUCCESS;
}
size_t cudnnGetVersion(void) { return CUDNN_VERSION; }
const char *cudnnGetErrorString(cudnnStatus_t s) {
    switch (s) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    case CUDNN_STATUS_ALLOC_FAILED: return "CUDNN_STATUS_ALLOC_FAILED";
    }
    return "CUDNN_STATUS_UNKNOWN";
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d) { EMU_NEW(cudnnTensorStruct, d); }
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) { EMU_FREE(d); }
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d) { EMU_NEW(cudnnFilterStruct, d); }
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { EMU_FREE(d); }
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d) {
    EMU_NEW(cudnnConvolutionStruct, d);
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) { EMU_FREE(d); }
cudnnStatus_t cudnnCreateDropoutDescriptor(cudnnDropoutDescriptor_t *d) { EMU_NEW(cudnnDropoutStruct, d); }
cudnnStatus_t cudnnDestroyDropoutDescriptor(cudnnDropoutDescriptor_t d) { EMU_FREE(d); }
cudnnStatus_t cudnnCreateRNNDescriptor(cudnnRNNDescriptor_t *d) { EMU_NEW(cudnnRNNStruct, d); }
cudnnStatus_t cudnnDestroyRNNDescriptor(cudnnRNNDescriptor_t d) { EMU_FREE(d); }
cudnnStatus_t cudnnCreateRNNDataDescriptor(cudnnRNNDataDescriptor_t *d) { EMU_NEW(cudnnRNNDataStruct, d); }
cudnnStatus_t cudnnDestroyRNNDataDescriptor(cudnnRNNDataDescriptor_t d) { EMU_FREE(d); }

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format, cudnnDataType_t type,
                                         int n, int c, int h, int w) {
    if (!d || n <= 0 || c <= 0 || h <= 0 || w <= 0) return CUDNN_STATUS_BAD_PARAM;
    if (type != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
    d->dim[0] = n, d->dim[1] = c, d->dim[2] = h, d->dim[3] = w;
    if (format == CUDNN_TENSOR_NCHW)
        d->stride[3] = 1, d->stride[2] = w, d->stride[1] = h * w, d->stride[0] = c * h * w;
    else if (format == CUDNN_TENSOR_NHWC)
        d->stride[1] = 1, d->stride[3] = c, d->stride[2] = w * c, d->stride[0] = h * w * c;
    else
        return CUDNN_STATUS_BAD_PARAM;
    d->set = 1;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t d, cudnnDataType_t type, int nb, const int dims[],
                                         const int strides[]) {
    if (!d || nb < 1 || nb > 4 || !dims || !strides) return nb > 4 ? CUDNN_STATUS_NOT_SUPPORTED : CUDNN_STATUS_BAD_PARAM;
    if (type != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
    for (int i = 0; i < 4; i++) d->dim[i] = 1, d->stride[i] = 1;
    for (int i = 0; i < nb; i++) {
        if (dims[i] <= 0 || strides[i] <= 0) return CUDNN_STATUS_BAD_PARAM;
        d->dim[4 - nb + i] = dims[i];
        d->stride[4 - nb + i] = strides[i];
    }
    d->set = 1;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t type, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
    if (!d || k <= 0 || c <= 0 || h <= 0 || w <= 0) return CUDNN_STATUS_BAD_PARAM;
    if (type != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
    if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC) return CUDNN_STATUS_BAD_PARAM;
    *d = (struct cudnnFilterStruct){1, k, c, h, w, format};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v,
                                              int dil_h, int dil_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType) {
    if (!d || pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dil_h <= 0 || dil_w <= 0) return CUDNN_STATUS_BAD_PARAM;
    if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) return CUDNN_STATUS_BAD_PARAM;
    if (computeType != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
    *d = (struct cudnnConvolutionStruct){1, {pad_h, pad_w}, {u, v}, {dil_h, dil_w}, mode};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m) {
    if (!d || (unsigned)m > CUDNN_FMA_MATH) return CUDNN_STATUS_BAD_PARAM;
    return CUDNN_STATUS_SUCCESS; /* float math throughout */
}

cudnnStatus_t cudnnSetDropoutDescriptor(cudnnDropoutDescriptor_t d, cudnnHandle_t h, float dropout, void *states,
                                        size_t stateSize, unsigned long long seed) {
    (void)states, (void)stateSize, (void)seed;
    if (!d || !h || dropout < 0 || dropout >= 1) return CUDNN_STATUS_BAD_PARAM;
    if (dropout != 0) return CUDNN_STATUS_NOT_SUPPORTED;
    d->rate = dropout;
    return CUDNN_STATUS_SUCCESS;
}

/* ---- checks ------------------------------------------------------------------------------------------ */
/* `what` of `call` (bytes from p) must lie in one live device allocation. */
static void emu_dev(const char *call, const char *what, const void *p, size_t bytes) {
    if (bytes == 0) return;
    const void *base;
    size_t size;
    enum dm_emu_mem kind = dm_emu_track_find(p, &base, &size);
    if (kind != DM_EMU_MEM_DEVICE)
        dm_emu_die("%s: %s = %p (%zu bytes) is not in a live device allocation%s", call, what, p, bytes,
                   kind == DM_EMU_MEM_PINNED ? " (it is pinned host memory)" : "");
    size_t avail = size - (size_t)((const char *)p - (const char *)base);
    if (bytes > avail)
        dm_emu_die("%s: %s = %p needs %zu bytes, but its device allocation (%p, %zu bytes) holds %zu from there", call,
                   what, p, bytes, base, size, avail);
}

/* Bytes a tensor spans (its largest offset + 1 floats). */
static size_t emu_span(const struct cudnnTensorStruct *t) {
    size_t last = 0;
    for (int i = 0; i < 4; i++) last += (size_t)(t->dim[i] - 1) * (size_t)t->stride[i];
    return (last + 1) * sizeof(float);
}

static size_t emu_wbytes(const struct cudnnFilterStruct *f) {
    return (size_t)f->k * f->c * f->r * f->s * sizeof(float);
}

/* Offset of filter element (k, c, r, s). */
static size_t emu_woff(const struct cudnnFilterStruct *f, int k, int c, int r, int s) {
    if (f->format == CUDNN_TENSOR_NCHW) return (((size_t)k * f->c + c) * f->r + r) * f->s + s;
    return (((size_t)k * f->r + r) * f->s + s) * f->c + c;
}

static size_t emu_toff(const struct cudnnTensorStruct *t, int n, int c, int h, int w) {
    return (size_t)n * t->stride[0] + (size_t)c * t->stride[1] + (size_t)h * t->stride[2] + (size_t)w * t->stride[3];
}

/* x, w, y agree with the convolution (output extents included). */
static cudnnStatus_t emu_conv_shapes(const struct cudnnTensorStruct *x, const struct cudnnFilterStruct *w,
                                     const struct cudnnConvolutionStruct *cv, const struct cudnnTensorStruct *y) {
    if (!x || !w || !cv || !y || !x->set || !w->set || !cv->set || !y->set) return CUDNN_STATUS_BAD_PARAM;
    if (x->dim[1] != w->c || y->dim[1] != w->k || x->dim[0] != y->dim[0]) return CUDNN_STATUS_BAD_PARAM;
    int ext[2] = {w->r, w->s};
    for (int i = 0; i < 2; i++) {
        int o = (x->dim[2 + i] + 2 * cv->pad[i] - cv->dil[i] * (ext[i] - 1) - 1) / cv->u[i] + 1;
        if (o <= 0 || y->dim[2 + i] != o) return CUDNN_STATUS_BAD_PARAM;
    }
    return CUDNN_STATUS_SUCCESS;
}

/* ---- convolution ------------------------------------------------------------------------------------- */
enum emu_conv_kind { EMU_FWD, EMU_BWD_DATA, EMU_BWD_FILTER, EMU_ADD, EMU_BIAS };

struct emu_conv_item {
    enum emu_conv_kind kind;
    struct cudnnTensorStruct x, y; /* ADD / BIAS: x = A or dy, y = C or db */
    struct cudnnFilterStruct w;
    struct cudnnConvolutionStruct cv;
    float alpha, beta;
    const float *in1, *in2; /* FWD x, w; BWD_DATA w, dy; BWD_FILTER x, dy; ADD A; BIAS dy */
    float *out;
};

/* Walks every (n, k, p, q, c, r, s) term of the convolution, calling f(x offset, w offset, y offset). */
#define EMU_CONV_TERMS(it, BODY)                                                                             \
    for (int n = 0; n < it->x.dim[0]; n++)                                                                   \
        for (int k = 0; k < it->w.k; k++)                                                                    \
            for (int p = 0; p < it->y.dim[2]; p++)                                                           \
                for (int q = 0; q < it->y.dim[3]; q++)                                                       \
                    for (int r = 0; r < it->w.r; r++) {                                                      \
                        int hh = p * it->cv.u[0] - it->cv.pad[0] + r * it->cv.dil[0];                        \
                        if (hh < 0 || hh >= it->x.dim[2]) continue;                                          \
                        for (int s = 0; s < it->w.s; s++) {                                                  \
                            int ww = q * it->cv.u[1] - it->cv.pad[1] + s * it->cv.dil[1];                    \
                            if (ww < 0 || ww >= it->x.dim[3]) continue;                                      \
                            int rr = it->cv.mode == CUDNN_CONVOLUTION ? it->w.r - 1 - r : r;                 \
                            int ss = it->cv.mode == CUDNN_CONVOLUTION ? it->w.s - 1 - s : s;                 \
                            for (int c = 0; c < it->w.c; c++) {                                              \
                                size_t xo = emu_toff(&it->x, n, c, hh, ww), wo = emu_woff(&it->w, k, c, rr, ss); \
                                size_t yo = emu_toff(&it->y, n, k, p, q);                                    \
                                (void)xo, (void)wo, (void)yo;                                                \
                                BODY;                                                                        \
                            }                                                                                \
                        }                                                                                    \
                    }

/* out = alpha acc + beta out (out not read when beta is 0) over n elements at offsets off(i). */
static void emu_blend(float *out, const double *acc, size_t n, const size_t *off, float alpha, float beta) {
    for (size_t i = 0; i < n; i++)
        out[off[i]] = (float)(alpha * acc[i] + (beta != 0 ? (double)beta * out[off[i]] : 0.0));
}

static void emu_conv_run(void *payload) {
    const struct emu_conv_item *it = payload;
    const struct cudnnTensorStruct *ot = it->kind == EMU_BWD_DATA ? &it->x : &it->y;
    size_t cnt = it->kind == EMU_BWD_FILTER ? (size_t)it->w.k * it->w.c * it->w.r * it->w.s
                                           : (size_t)ot->dim[0] * ot->dim[1] * ot->dim[2] * ot->dim[3];
    double *acc = calloc(cnt, sizeof *acc);
    size_t *off = malloc(cnt * sizeof *off);
    if (!acc || !off) dm_emu_die("cuDNN stand-in: out of memory");
    /* dense index -> offset in the output */
    size_t i = 0;
    if (it->kind == EMU_BWD_FILTER) {
        for (int k = 0; k < it->w.k; k++)
            for (int c = 0; c < it->w.c; c++)
                for (int r = 0; r < it->w.r; r++)
                    for (int s = 0; s < it->w.s; s++) off[i++] = emu_woff(&it->w, k, c, r, s);
    } else {
        for (int a = 0; a < ot->dim[0]; a++)
            for (int b = 0; b < ot->dim[1]; b++)
                for (int h = 0; h < ot->dim[2]; h++)
                    for (int w = 0; w < ot->dim[3]; w++) off[i++] = emu_toff(ot, a, b, h, w);
    }
    const struct cudnnTensorStruct *x = &it->x, *y = &it->y;
    switch (it->kind) {
    case EMU_FWD:
        EMU_CONV_TERMS(it, acc[(((size_t)n * y->dim[1] + k) * y->dim[2] + p) * y->dim[3] + q] +=
                           (double)it->in1[xo] * it->in2[wo]);
        break;
    case EMU_BWD_DATA:
        EMU_CONV_TERMS(it, acc[(((size_t)n * x->dim[1] + c) * x->dim[2] + hh) * x->dim[3] + ww] +=
                           (double)it->in1[wo] * it->in2[yo]);
        break;
    case EMU_BWD_FILTER:
        EMU_CONV_TERMS(it, acc[(((size_t)k * it->w.c + c) * it->w.r + rr) * it->w.s + ss] +=
                           (double)it->in1[xo] * it->in2[yo]);
        break;
    case EMU_ADD: /* C (y) += A (x) broadcast */
        i = 0;
        for (int a = 0; a < y->dim[0]; a++)
            for (int b = 0; b < y->dim[1]; b++)
                for (int h = 0; h < y->dim[2]; h++)
                    for (int w = 0; w < y->dim[3]; w++)
                        acc[i++] = it->in1[emu_toff(x, x->dim[0] == 1 ? 0 : a, x->dim[1] == 1 ? 0 : b,
                                                    x->dim[2] == 1 ? 0 : h, x->dim[3] == 1 ? 0 : w)];
        break;
    case EMU_BIAS: /* db (y, 1 x K x 1 x 1) = sum of dy (x) over n, h, w */
        for (int a = 0; a < x->dim[0]; a++)
            for (int b = 0; b < x->dim[1]; b++)
                for (int h = 0; h < x->dim[2]; h++)
                    for (int w = 0; w < x->dim[3]; w++) acc[b] += it->in1[emu_toff(x, a, b, h, w)];
        break;
    }
    emu_blend(it->out, acc, cnt, off, it->alpha, it->beta);
    free(acc);
    free(off);
}

static cudnnStatus_t emu_conv_enqueue(cudnnHandle_t h, const char *call, struct emu_conv_item *it) {
    struct emu_conv_item *p = malloc(sizeof *p);
    if (!p) return CUDNN_STATUS_ALLOC_FAILED;
    *p = *it;
    dm_emu_track_launch(call, h->stream, 0);
    dm_emu_enqueue(h->stream, emu_conv_run, p);
    return CUDNN_STATUS_SUCCESS;
}

/* Two algorithms per direction, both deterministic (the same loops); count as asked. */
#define EMU_PERF(perf, requested, returned, A0, A1)                                                          \
    do {                                                                                                     \
        if (!h) return CUDNN_STATUS_NOT_INITIALIZED;                                                         \
        if (!returned || !perf || requested < 1) return CUDNN_STATUS_BAD_PARAM;                              \
        int n_ = requested < 2 ? requested : 2;                                                              \
        for (int i_ = 0; i_ < n_; i_++) {                                                                    \
            memset(&perf[i_], 0, sizeof perf[i_]);                                                           \
            perf[i_].algo = i_ == 0 ? A0 : A1;                                                               \
            perf[i_].status = CUDNN_STATUS_SUCCESS;                                                          \
            perf[i_].determinism = CUDNN_DETERMINISTIC;                                                      \
            perf[i_].mathType = CUDNN_FMA_MATH;                                                              \
        }                                                                                                    \
        *returned = n_;                                                                                      \
    } while (0)

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                                     const cudnnFilterDescriptor_t w,
                                                     const cudnnConvolutionDescriptor_t cv,
                                                     const cudnnTensorDescriptor_t y, int requested, int *returned,
                                                     cudnnConvolutionFwdAlgoPerf_t *perf) {
    cudnnStatus_t st = emu_conv_shapes(x, w, cv, y);
    if (st) return st;
    EMU_PERF(perf, requested, returned, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
             CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                                            const cudnnTensorDescriptor_t dy,
                                                            const cudnnConvolutionDescriptor_t cv,
                                                            const cudnnFilterDescriptor_t dw, int requested,
                                                            int *returned, cudnnConvolutionBwdFilterAlgoPerf_t *perf) {
    cudnnStatus_t st = emu_conv_shapes(x, dw, cv, dy);
    if (st) return st;
    EMU_PERF(perf, requested, returned, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1);
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t h, const cudnnFilterDescriptor_t w,
                                                          const cudnnTensorDescriptor_t dy,
                                                          const cudnnConvolutionDescriptor_t cv,
                                                          const cudnnTensorDescriptor_t dx, int requested,
                                                          int *returned, cudnnConvolutionBwdDataAlgoPerf_t *perf) {
    cudnnStatus_t st = emu_conv_shapes(dx, w, cv, dy);
    if (st) return st;
    EMU_PERF(perf, requested, returned, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1);
    return CUDNN_STATUS_SUCCESS;
}

/* ALGO_0 / IMPLICIT_GEMM need no workspace; the second algorithm asks for one output's worth (and
 * checks it is given). */
static size_t emu_ws(int algo, size_t out_bytes) { return algo == 0 ? 0 : out_bytes; }

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                                      const cudnnFilterDescriptor_t w,
                                                      const cudnnConvolutionDescriptor_t cv,
                                                      const cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t algo,
                                                      size_t *size) {
    cudnnStatus_t st = emu_conv_shapes(x, w, cv, y);
    if (!h || !size || st) return !h ? CUDNN_STATUS_NOT_INITIALIZED : st ? st : CUDNN_STATUS_BAD_PARAM;
    if ((unsigned)algo > 1) return CUDNN_STATUS_NOT_SUPPORTED;
    *size = emu_ws(algo, emu_span(y));
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t h, const cudnnTensorDescriptor_t x,
                                                             const cudnnTensorDescriptor_t dy,
                                                             const cudnnConvolutionDescriptor_t cv,
                                                             const cudnnFilterDescriptor_t dw,
                                                             cudnnConvolutionBwdFilterAlgo_t algo, size_t *size) {
    cudnnStatus_t st = emu_conv_shapes(x, dw, cv, dy);
    if (!h || !size || st) return !h ? CUDNN_STATUS_NOT_INITIALIZED : st ? st : CUDNN_STATUS_BAD_PARAM;
    if ((unsigned)algo > 1) return CUDNN_STATUS_NOT_SUPPORTED;
    *size = emu_ws(algo, emu_wbytes(dw));
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t h, const cudnnFilterDescriptor_t w,
                                                           const cudnnTensorDescriptor_t dy,
                                                           const cudnnConvolutionDescriptor_t cv,
                                                           const cudnnTensorDescriptor_t dx,
                                                           cudnnConvolutionBwdDataAlgo_t algo, size_t *size) {
    cudnnStatus_t st = emu_conv_shapes(dx, w, cv, dy);
    if (!h || !size || st) return !h ? CUDNN_STATUS_NOT_INITIALIZED : st ? st : CUDNN_STATUS_BAD_PARAM;
    if ((unsigned)algo > 1) return CUDNN_STATUS_NOT_SUPPORTED;
    *size = emu_ws(algo, emu_span(dx));
    return CUDNN_STATUS_SUCCESS;
}

/* The common checks of a convolution call; fills the item. */
static cudnnStatus_t emu_conv_call(cudnnHandle_t h, const char *call, enum emu_conv_kind kind, int algo,
                                   const void *alpha, const void *beta, const struct cudnnTensorStruct *x,
                                   const struct cudnnFilterStruct *w, const struct cudnnConvolutionStruct *cv,
                                   const struct cudnnTensorStruct *y, const void *in1, const void *in2, void *out,
                                   const void *ws, size_t ws_size, struct emu_conv_item *it) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    cudnnStatus_t st = emu_conv_shapes(x, w, cv, y);
    if (st) return st;
    if (!alpha || !beta || !in1 || !in2 || !out) return CUDNN_STATUS_BAD_PARAM;
    if ((unsigned)algo > 1) return CUDNN_STATUS_NOT_SUPPORTED;
    size_t need = emu_ws(algo, kind == EMU_FWD ? emu_span(y) : kind == EMU_BWD_DATA ? emu_span(x) : emu_wbytes(w));
    if (ws_size < need) return CUDNN_STATUS_BAD_PARAM;
    emu_dev(call, "workSpace", ws, need);
    *it = (struct emu_conv_item){kind, *x, *y, *w, *cv, *(const float *)alpha, *(const float *)beta, in1, in2, out};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t xD,
                                      const void *x, const cudnnFilterDescriptor_t wD, const void *w,
                                      const cudnnConvolutionDescriptor_t cv, cudnnConvolutionFwdAlgo_t algo, void *ws,
                                      size_t ws_size, const void *beta, const cudnnTensorDescriptor_t yD, void *y) {
    struct emu_conv_item it;
    cudnnStatus_t st =
        emu_conv_call(h, "cudnnConvolutionForward", EMU_FWD, algo, alpha, beta, xD, wD, cv, yD, x, w, y, ws, ws_size, &it);
    if (st) return st;
    emu_dev("cudnnConvolutionForward", "x", x, emu_span(xD));
    emu_dev("cudnnConvolutionForward", "w", w, emu_wbytes(wD));
    emu_dev("cudnnConvolutionForward", "y", y, emu_span(yD));
    return emu_conv_enqueue(h, "cudnnConvolutionForward", &it);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void *alpha, const cudnnFilterDescriptor_t wD,
                                           const void *w, const cudnnTensorDescriptor_t dyD, const void *dy,
                                           const cudnnConvolutionDescriptor_t cv, cudnnConvolutionBwdDataAlgo_t algo,
                                           void *ws, size_t ws_size, const void *beta,
                                           const cudnnTensorDescriptor_t dxD, void *dx) {
    struct emu_conv_item it;
    cudnnStatus_t st = emu_conv_call(h, "cudnnConvolutionBackwardData", EMU_BWD_DATA, algo, alpha, beta, dxD, wD, cv,
                                     dyD, w, dy, dx, ws, ws_size, &it);
    if (st) return st;
    emu_dev("cudnnConvolutionBackwardData", "w", w, emu_wbytes(wD));
    emu_dev("cudnnConvolutionBackwardData", "dy", dy, emu_span(dyD));
    emu_dev("cudnnConvolutionBackwardData", "dx", dx, emu_span(dxD));
    return emu_conv_enqueue(h, "cudnnConvolutionBackwardData", &it);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t xD,
                                             const void *x, const cudnnTensorDescriptor_t dyD, const void *dy,
                                             const cudnnConvolutionDescriptor_t cv,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void *ws, size_t ws_size,
                                             const void *beta, const cudnnFilterDescriptor_t dwD, void *dw) {
    struct emu_conv_item it;
    cudnnStatus_t st = emu_conv_call(h, "cudnnConvolutionBackwardFilter", EMU_BWD_FILTER, algo, alpha, beta, xD, dwD,
                                     cv, dyD, x, dy, dw, ws, ws_size, &it);
    if (st) return st;
    emu_dev("cudnnConvolutionBackwardFilter", "x", x, emu_span(xD));
    emu_dev("cudnnConvolutionBackwardFilter", "dy", dy, emu_span(dyD));
    emu_dev("cudnnConvolutionBackwardFilter", "dw", dw, emu_wbytes(dwD));
    return emu_conv_enqueue(h, "cudnnConvolutionBackwardFilter", &it);
}

cudnnStatus_t cudnnAddTensor(cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t aD, const void *A,
                             const void *beta, const cudnnTensorDescriptor_t cD, void *C) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!alpha || !beta || !aD || !cD || !aD->set || !cD->set || !A || !C) return CUDNN_STATUS_BAD_PARAM;
    for (int i = 0; i < 4; i++)
        if (aD->dim[i] != 1 && aD->dim[i] != cD->dim[i]) return CUDNN_STATUS_BAD_PARAM;
    emu_dev("cudnnAddTensor", "A", A, emu_span(aD));
    emu_dev("cudnnAddTensor", "C", C, emu_span(cD));
    struct emu_conv_item it = {.kind = EMU_ADD, .x = *aD, .y = *cD, .alpha = *(const float *)alpha,
                               .beta = *(const float *)beta, .in1 = A, .out = C};
    return emu_conv_enqueue(h, "cudnnAddTensor", &it);
}

cudnnStatus_t cudnnConvolutionBackwardBias(cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t dyD,
                                           const void *dy, const void *beta, const cudnnTensorDescriptor_t dbD,
                                           void *db) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!alpha || !beta || !dyD || !dbD || !dyD->set || !dbD->set || !dy || !db) return CUDNN_STATUS_BAD_PARAM;
    if (dbD->dim[0] != 1 || dbD->dim[1] != dyD->dim[1] || dbD->dim[2] != 1 || dbD->dim[3] != 1)
        return CUDNN_STATUS_BAD_PARAM;
    emu_dev("cudnnConvolutionBackwardBias", "dy", dy, emu_span(dyD));
    emu_dev("cudnnConvolutionBackwardBias", "db", db, emu_span(dbD));
    struct emu_conv_item it = {.kind = EMU_BIAS, .x = *dyD, .y = *dbD, .alpha = *(const float *)alpha,
                               .beta = *(const float *)beta, .in1 = dy, .out = db};
    return emu_conv_enqueue(h, "cudnnConvolutionBackwardBias", &it);
}

/* ---- RNN -------------------------------------------------------------------------------------------- */
cudnnStatus_t cudnnSetRNNDescriptor_v8(cudnnRNNDescriptor_t d, cudnnRNNAlgo_t algo, cudnnRNNMode_t cell,
                                       cudnnRNNBiasMode_t bias, cudnnDirectionMode_t dir, cudnnRNNInputMode_t input,
                                       cudnnDataType_t type, cudnnDataType_t prec, cudnnMathType_t math,
                                       int32_t inputSize, int32_t hiddenSize, int32_t projSize, int32_t numLayers,
                                       cudnnDropoutDescriptor_t drop, uint32_t aux) {
    if (!d || inputSize <= 0 || hiddenSize <= 0 || numLayers <= 0 || (unsigned)math > CUDNN_FMA_MATH)
        return CUDNN_STATUS_BAD_PARAM;
    if (dir != CUDNN_UNIDIRECTIONAL && dir != CUDNN_BIDIRECTIONAL) return CUDNN_STATUS_BAD_PARAM;
    if (algo != CUDNN_RNN_ALGO_STANDARD || cell != CUDNN_LSTM || bias != CUDNN_RNN_DOUBLE_BIAS ||
        input != CUDNN_LINEAR_INPUT || type != CUDNN_DATA_FLOAT || prec != CUDNN_DATA_FLOAT ||
        projSize != hiddenSize || numLayers != 1 || (drop && drop->rate != 0) || (aux & ~CUDNN_RNN_PADDED_IO_ENABLED) ||
        hiddenSize > 4096 || inputSize > 4096) /* the reference's bounds */
        return CUDNN_STATUS_NOT_SUPPORTED;
    *d = (struct cudnnRNNStruct){1, inputSize, hiddenSize, dir == CUDNN_BIDIRECTIONAL ? 2 : 1,
                                 (aux & CUDNN_RNN_PADDED_IO_ENABLED) != 0};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetRNNDataDescriptor(cudnnRNNDataDescriptor_t d, cudnnDataType_t type, cudnnRNNDataLayout_t layout,
                                        int maxSeqLength, int batchSize, int vectorSize, const int seqLengthArray[],
                                        void *paddingFill) {
    (void)paddingFill;
    if (!d || maxSeqLength <= 0 || batchSize <= 0 || vectorSize <= 0 || !seqLengthArray) return CUDNN_STATUS_BAD_PARAM;
    if (type != CUDNN_DATA_FLOAT || layout != CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED)
        return CUDNN_STATUS_NOT_SUPPORTED;
    for (int b = 0; b < batchSize; b++) {
        if (seqLengthArray[b] <= 0 || seqLengthArray[b] > maxSeqLength) return CUDNN_STATUS_BAD_PARAM;
        if (seqLengthArray[b] != maxSeqLength) return CUDNN_STATUS_NOT_SUPPORTED;
    }
    *d = (struct cudnnRNNDataStruct){1, maxSeqLength, batchSize, vectorSize};
    return CUDNN_STATUS_SUCCESS;
}

/* Floats of one direction's parameters, and of one gate's block (W_ih, W_hh, b_ih, b_hh). */
static size_t emu_gate_floats(const struct cudnnRNNStruct *r) {
    return (size_t)r->H * r->D + (size_t)r->H * r->H + 2 * (size_t)r->H;
}
static size_t emu_wspace(const struct cudnnRNNStruct *r) {
    return (size_t)r->n_dir * 4 * emu_gate_floats(r) * sizeof(float);
}

/* Reserve: gates (B L n_dir 4H), cells (B L n_dir H), gate gradients (B L n_dir 4H). */
static size_t emu_reserve(const struct cudnnRNNStruct *r, const struct cudnnRNNDataStruct *x) {
    return (size_t)x->B * x->L * r->n_dir * 9 * r->H * sizeof(float);
}
/* Work: weights in the reference's order, their gradients, and an inference forward's gates and cells. */
static size_t emu_work(const struct cudnnRNNStruct *r, const struct cudnnRNNDataStruct *x) {
    return 2 * emu_wspace(r) + (size_t)x->B * x->L * r->n_dir * 5 * r->H * sizeof(float);
}

cudnnStatus_t cudnnGetRNNWeightSpaceSize(cudnnHandle_t h, cudnnRNNDescriptor_t r, size_t *size) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!r || !r->set || !size) return CUDNN_STATUS_BAD_PARAM;
    *size = emu_wspace(r);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetRNNTempSpaceSizes(cudnnHandle_t h, cudnnRNNDescriptor_t r, cudnnForwardMode_t mode,
                                        cudnnRNNDataDescriptor_t x, size_t *work, size_t *reserve) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!r || !r->set || !x || !x->set || !work || x->V != r->D) return CUDNN_STATUS_BAD_PARAM;
    if (mode != CUDNN_FWD_MODE_INFERENCE && mode != CUDNN_FWD_MODE_TRAINING) return CUDNN_STATUS_BAD_PARAM;
    *work = emu_work(r, x);
    if (reserve) *reserve = mode == CUDNN_FWD_MODE_TRAINING ? emu_reserve(r, x) : 0;
    return CUDNN_STATUS_SUCCESS;
}

/* Offset (floats) in the weight space of direction d, gate q: W_ih, then W_hh, b_ih, b_hh. */
static size_t emu_gate_off(const struct cudnnRNNStruct *r, int d, int q) {
    return ((size_t)d * 4 + (size_t)q) * emu_gate_floats(r);
}

cudnnStatus_t cudnnGetRNNWeightParams(cudnnHandle_t h, cudnnRNNDescriptor_t r, int32_t layer, size_t ws_size,
                                      const void *ws, int32_t lin, cudnnTensorDescriptor_t mD, void **mAddr,
                                      cudnnTensorDescriptor_t bD, void **bAddr) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!r || !r->set || layer < 0 || layer >= r->n_dir || lin < 0 || lin > 7 || ws_size < emu_wspace(r))
        return CUDNN_STATUS_BAD_PARAM;
    int q = lin % 4, rec = lin >= 4, in = rec ? r->H : r->D;
    const float *g = (const float *)ws + emu_gate_off(r, layer, q);
    const float *m = rec ? g + (size_t)r->H * r->D : g;
    const float *b = g + (size_t)r->H * r->D + (size_t)r->H * r->H + (rec ? r->H : 0);
    if (mD) {
        int dims[3] = {1, r->H, in}, strides[3] = {r->H * in, in, 1};
        cudnnSetTensorNdDescriptor(mD, CUDNN_DATA_FLOAT, 3, dims, strides);
    }
    if (bD) {
        int dims[3] = {1, r->H, 1}, strides[3] = {r->H, 1, 1};
        cudnnSetTensorNdDescriptor(bD, CUDNN_DATA_FLOAT, 3, dims, strides);
    }
    if (mAddr) *mAddr = ws ? (void *)m : NULL;
    if (bAddr) *bAddr = ws ? (void *)b : NULL;
    return CUDNN_STATUS_SUCCESS;
}

enum emu_rnn_kind { EMU_RNN_FWD, EMU_RNN_BWD_DATA, EMU_RNN_BWD_WEIGHTS };

struct emu_rnn_item {
    enum emu_rnn_kind kind;
    struct cudnnRNNStruct r;
    int B, L, training, set_grad;
    const float *x, *y, *dy, *ws;
    float *out, *hy, *cy; /* FWD y; BWD_DATA dx; BWD_WEIGHTS dweightSpace */
    float *work, *reserve;
};

/* Moves between the weight space and the reference's (n_dir, 4H, D), (n_dir, 4H, H), (n_dir 4H) x 2;
 * `to_ref` gathers, else scatters (adding when `add`). */
static void emu_rnn_layout(const struct cudnnRNNStruct *r, float *space, float *ref, int to_ref, int add) {
    int D = r->D, H = r->H, n_dir = r->n_dir, G = 4 * H;
    float *w_ih = ref, *w_hh = w_ih + (size_t)n_dir * G * D, *b_ih = w_hh + (size_t)n_dir * G * H;
    float *b_hh = b_ih + (size_t)n_dir * G;
    for (int d = 0; d < n_dir; d++)
        for (int q = 0; q < 4; q++) {
            float *g = space + emu_gate_off(r, d, q);
            float *parts[4] = {w_ih + ((size_t)d * G + (size_t)q * H) * D, w_hh + ((size_t)d * G + (size_t)q * H) * H,
                               b_ih + (size_t)d * G + (size_t)q * H, b_hh + (size_t)d * G + (size_t)q * H};
            size_t n[4] = {(size_t)H * D, (size_t)H * H, (size_t)H, (size_t)H};
            for (int k = 0; k < 4; k++) {
                for (size_t i = 0; i < n[k]; i++) {
                    if (to_ref)
                        parts[k][i] = g[i];
                    else
                        g[i] = add ? g[i] + parts[k][i] : parts[k][i];
                }
                g += n[k];
            }
        }
}

static void emu_rnn_run(void *payload) {
    const struct emu_rnn_item *it = payload;
    const struct cudnnRNNStruct *r = &it->r;
    int B = it->B, L = it->L, D = r->D, H = r->H, n_dir = r->n_dir, G = 4 * H;
    size_t wf = emu_wspace(r) / sizeof(float), nbl = (size_t)B * L;
    float *wref = it->work, *gref = wref + wf;
    float *w_ih = wref, *w_hh = w_ih + (size_t)n_dir * G * D, *b_ih = w_hh + (size_t)n_dir * G * H;
    float *b_hh = b_ih + (size_t)n_dir * G;
    float *gates = it->training ? it->reserve : gref + wf, *cell = gates + nbl * n_dir * G;
    float *dgates = cell + nbl * n_dir * H;
    switch (it->kind) {
    case EMU_RNN_FWD:
        emu_rnn_layout(r, (float *)it->ws, wref, 1, 0);
        emu_lstm_fwd(it->out, gates, cell, it->x, w_ih, w_hh, b_ih, b_hh, B, L, D, H, n_dir);
        for (int b = 0; b < B; b++)
            for (int d = 0; d < n_dir; d++) { /* final states: the last step each direction took */
                size_t t = d == 0 ? (size_t)L - 1 : 0, row = ((size_t)b * L + t) * n_dir * H + (size_t)d * H;
                for (int j = 0; j < H; j++) {
                    if (it->hy) it->hy[((size_t)d * B + b) * H + j] = it->out[row + j];
                    if (it->cy) it->cy[((size_t)d * B + b) * H + j] = cell[row + j];
                }
            }
        break;
    case EMU_RNN_BWD_DATA: {
        /* backward through time per sequence and direction: the gate gradients dA (kept in the reserve
         * for backward weights), then dx = dA W_ih over all positions */
        emu_rnn_layout(r, (float *)it->ws, wref, 1, 0);
        double *dh_rec = malloc(2 * (size_t)H * sizeof *dh_rec), *dc_rec = dh_rec + H;
        if (!dh_rec) dm_emu_die("cuDNN stand-in: out of memory");
        size_t HD = (size_t)n_dir * H, GD = (size_t)n_dir * G;
        for (int b = 0; b < B; b++)
            for (int d = 0; d < n_dir; d++) {
                for (int j = 0; j < H; j++) dh_rec[j] = dc_rec[j] = 0;
                for (int s = L - 1; s >= 0; s--) {
                    int t = d == 0 ? s : L - 1 - s, tp = d == 0 ? s - 1 : L - s;
                    const float *gt = gates + ((size_t)b * L + t) * GD + (size_t)d * G;
                    float *da = dgates + ((size_t)b * L + t) * GD + (size_t)d * G;
                    for (int j = 0; j < H; j++) {
                        double i = gt[j], f = gt[H + j], g = gt[2 * H + j], o = gt[3 * H + j];
                        double c = cell[((size_t)b * L + t) * HD + (size_t)d * H + j];
                        double cprev = s > 0 ? cell[((size_t)b * L + tp) * HD + (size_t)d * H + j] : 0.0;
                        double dh = it->dy[((size_t)b * L + t) * HD + (size_t)d * H + j] + dh_rec[j];
                        double tc = tanh(c), dc = dc_rec[j] + dh * o * (1 - tc * tc);
                        da[j] = (float)(dc * g * i * (1 - i));
                        da[H + j] = (float)(dc * cprev * f * (1 - f));
                        da[2 * H + j] = (float)(dc * i * (1 - g * g));
                        da[3 * H + j] = (float)(dh * tc * o * (1 - o));
                        dc_rec[j] = dc * f;
                    }
                    for (int k = 0; k < H; k++) {
                        double acc = 0;
                        for (int q = 0; q < G; q++) acc += (double)da[q] * w_hh[((size_t)d * G + q) * H + k];
                        dh_rec[k] = acc;
                    }
                }
            }
        free(dh_rec);
        for (size_t bt = 0; bt < nbl; bt++)
            for (int k = 0; k < D; k++) {
                double acc = 0;
                for (size_t q = 0; q < GD; q++) acc += (double)dgates[bt * GD + q] * w_ih[q * D + k];
                it->out[bt * D + k] = (float)acc;
            }
        break;
    }
    case EMU_RNN_BWD_WEIGHTS: {
        /* dW_ih += dA^T x, dW_hh += dA^T h_prev (the direction's previous step), db_ih = db_hh += dA */
        float *g_ih = gref, *g_hh = g_ih + (size_t)n_dir * G * D, *gb_ih = g_hh + (size_t)n_dir * G * H;
        float *gb_hh = gb_ih + (size_t)n_dir * G;
        for (int d = 0; d < n_dir; d++)
            for (int q = 0; q < G; q++) {
                double sb = 0, sih[4096], shh[4096];
                for (int k = 0; k < D; k++) sih[k] = 0;
                for (int k = 0; k < H; k++) shh[k] = 0;
                for (int b = 0; b < B; b++)
                    for (int t = 0; t < L; t++) {
                        int tp = d == 0 ? t - 1 : t + 1;
                        double da = dgates[((size_t)b * L + t) * n_dir * G + (size_t)d * G + q];
                        sb += da;
                        for (int k = 0; k < D; k++) sih[k] += da * it->x[((size_t)b * L + t) * D + k];
                        if (tp >= 0 && tp < L)
                            for (int k = 0; k < H; k++)
                                shh[k] += da * it->y[((size_t)b * L + tp) * n_dir * H + (size_t)d * H + k];
                    }
                gb_ih[d * G + q] = gb_hh[d * G + q] = (float)sb;
                for (int k = 0; k < D; k++) g_ih[((size_t)d * G + q) * D + k] = (float)sih[k];
                for (int k = 0; k < H; k++) g_hh[((size_t)d * G + q) * H + k] = (float)shh[k];
            }
        emu_rnn_layout(r, it->out, gref, 0, !it->set_grad);
        break;
    }
    }
}

/* The checks every RNN call shares; fills the item's common fields. */
static cudnnStatus_t emu_rnn_common(const char *call, cudnnHandle_t h, cudnnRNNDescriptor_t r,
                                    const int32_t *seq, cudnnRNNDataDescriptor_t xD, cudnnRNNDataDescriptor_t yD,
                                    cudnnTensorDescriptor_t hD, size_t ws_size, const void *ws, size_t work_size,
                                    void *work, size_t res_size, void *res, int training, struct emu_rnn_item *it) {
    if (!h) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!r || !r->set || !xD || !xD->set || !yD || !yD->set || !seq) return CUDNN_STATUS_BAD_PARAM;
    /* the data descriptors are always batch-major unpacked here, which cuDNN 9 runs only for an RNN
     * descriptor with CUDNN_RNN_PADDED_IO_ENABLED (BAD_PARAM otherwise: seen on an H200) */
    if (!r->padded_io) return CUDNN_STATUS_BAD_PARAM;
    if (xD->V != r->D || yD->V != r->n_dir * r->H || xD->B != yD->B || xD->L != yD->L) return CUDNN_STATUS_BAD_PARAM;
    if (hD && hD->set && (hD->dim[1] != r->n_dir || hD->dim[2] != xD->B || hD->dim[3] != r->H))
        return CUDNN_STATUS_BAD_PARAM;
    if (ws_size < emu_wspace(r) || work_size < emu_work(r, xD) || (training && res_size < emu_reserve(r, xD)))
        return CUDNN_STATUS_BAD_PARAM;
    emu_dev(call, "devSeqLengths", seq, (size_t)xD->B * sizeof(int32_t));
    emu_dev(call, "weightSpace", ws, emu_wspace(r));
    emu_dev(call, "workSpace", work, emu_work(r, xD));
    if (training) emu_dev(call, "reserveSpace", res, emu_reserve(r, xD));
    memset(it, 0, sizeof *it);
    it->r = *r;
    it->B = xD->B;
    it->L = xD->L;
    it->training = training;
    it->ws = ws;
    it->work = work;
    it->reserve = res;
    return CUDNN_STATUS_SUCCESS;
}

static cudnnStatus_t emu_rnn_enqueue(cudnnHandle_t h, const char *call, const struct emu_rnn_item *it) {
    struct emu_rnn_item *p = malloc(sizeof *p);
    if (!p) return CUDNN_STATUS_ALLOC_FAILED;
    *p = *it;
    dm_emu_track_launch(call, h->stream, 0);
    dm_emu_enqueue(h->stream, emu_rnn_run, p);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnRNNForward(cudnnHandle_t h, cudnnRNNDescriptor_t r, cudnnForwardMode_t mode, const int32_t seq[],
                              cudnnRNNDataDescriptor_t xD, const void *x, cudnnRNNDataDescriptor_t yD, void *y,
                              cudnnTensorDescriptor_t hD, const void *hx, void *hy, cudnnTensorDescriptor_t cD,
                              const void *cx, void *cy, size_t ws_size, const void *ws, size_t work_size, void *work,
                              size_t res_size, void *res) {
    static const char call[] = "cudnnRNNForward";
    struct emu_rnn_item it;
    if (mode != CUDNN_FWD_MODE_INFERENCE && mode != CUDNN_FWD_MODE_TRAINING) return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t st = emu_rnn_common(call, h, r, seq, xD, yD, hD, ws_size, ws, work_size, work, res_size, res,
                                      mode == CUDNN_FWD_MODE_TRAINING, &it);
    if (st) return st;
    if (hx || cx) return CUDNN_STATUS_NOT_SUPPORTED; /* a zero initial state only */
    if (!x || !y) return CUDNN_STATUS_BAD_PARAM;
    (void)cD;
    size_t state = (size_t)r->n_dir * xD->B * r->H * sizeof(float);
    emu_dev(call, "x", x, (size_t)xD->B * xD->L * xD->V * sizeof(float));
    emu_dev(call, "y", y, (size_t)yD->B * yD->L * yD->V * sizeof(float));
    if (hy) emu_dev(call, "hy", hy, state);
    if (cy) emu_dev(call, "cy", cy, state);
    it.kind = EMU_RNN_FWD;
    it.x = x;
    it.out = y;
    it.hy = hy;
    it.cy = cy;
    return emu_rnn_enqueue(h, call, &it);
}

cudnnStatus_t cudnnRNNBackwardData_v8(cudnnHandle_t h, cudnnRNNDescriptor_t r, const int32_t seq[],
                                      cudnnRNNDataDescriptor_t yD, const void *y, const void *dy,
                                      cudnnRNNDataDescriptor_t xD, void *dx, cudnnTensorDescriptor_t hD, const void *hx,
                                      const void *dhy, void *dhx, cudnnTensorDescriptor_t cD, const void *cx,
                                      const void *dcy, void *dcx, size_t ws_size, const void *ws, size_t work_size,
                                      void *work, size_t res_size, void *res) {
    static const char call[] = "cudnnRNNBackwardData_v8";
    struct emu_rnn_item it;
    cudnnStatus_t st =
        emu_rnn_common(call, h, r, seq, xD, yD, hD, ws_size, ws, work_size, work, res_size, res, 1, &it);
    if (st) return st;
    if (hx || cx || dhy || dcy || dhx || dcx) return CUDNN_STATUS_NOT_SUPPORTED;
    if (!y || !dy || !dx) return CUDNN_STATUS_BAD_PARAM;
    (void)cD;
    size_t yb = (size_t)yD->B * yD->L * yD->V * sizeof(float);
    emu_dev(call, "y", y, yb);
    emu_dev(call, "dy", dy, yb);
    emu_dev(call, "dx", dx, (size_t)xD->B * xD->L * xD->V * sizeof(float));
    it.kind = EMU_RNN_BWD_DATA;
    it.y = y;
    it.dy = dy;
    it.out = dx;
    return emu_rnn_enqueue(h, call, &it);
}

cudnnStatus_t cudnnRNNBackwardWeights_v8(cudnnHandle_t h, cudnnRNNDescriptor_t r, cudnnWgradMode_t add,
                                         const int32_t seq[], cudnnRNNDataDescriptor_t xD, const void *x,
                                         cudnnTensorDescriptor_t hD, const void *hx, cudnnRNNDataDescriptor_t yD,
                                         const void *y, size_t ws_size, void *dws, size_t work_size, void *work,
                                         size_t res_size, void *res) {
    static const char call[] = "cudnnRNNBackwardWeights_v8";
    struct emu_rnn_item it;
    cudnnStatus_t st =
        emu_rnn_common(call, h, r, seq, xD, yD, hD, ws_size, dws, work_size, work, res_size, res, 1, &it);
    if (st) return st;
    if (hx) return CUDNN_STATUS_NOT_SUPPORTED;
    if (add != CUDNN_WGRAD_MODE_ADD && add != CUDNN_WGRAD_MODE_SET) return CUDNN_STATUS_BAD_PARAM;
    if (!x || !y) return CUDNN_STATUS_BAD_PARAM;
    emu_dev(call, "x", x, (size_t)xD->B * xD->L * xD->V * sizeof(float));
    emu_dev(call, "y", y, (size_t)yD->B * yD->L * yD->V * sizeof(float));
    it.kind = EMU_RNN_BWD_WEIGHTS;
    it.x = x;
    it.y = y;
    it.out = dws;
    it.set_grad = add == CUDNN_WGRAD_MODE_SET;
    return emu_rnn_enqueue(h, call, &it);
}
