/*
 * backend_cuda.c: the CUDA backend's table, its memory and its context (one device, one stream, one
 * cuBLAS handle bound to it). Plain C against the CUDA runtime API: with DM_CUDA_EMU the same file
 * runs on the emulator's runtime and cuBLAS stand-ins (CUDA-EMULATION.md).
 *
 * Memory is device memory: the host layer moves data only through upload/download. alloc returns
 * uninitialised memory (NaN-filled on the emulator, so a read before a write shows); the host layer
 * zeroes what it accumulates into with memset0. Copies are ordered on the context's stream; download waits
 * for them, so a host result is complete when it returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_cuda.h"
#include "dm_base.h"

void dm_cuda_check(dm_backend *be, cudaError_t err, const char *what) {
#ifdef DM_CUDA_SYNC_CHECK
    if (err == cudaSuccess) err = cudaStreamSynchronize(dm_cuda_stream(be));
#endif
    if (err == cudaSuccess) return;
    char msg[200];
    snprintf(msg, sizeof msg, "%s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err));
    dm_backend_fail(be, DM_STATUS_BACKEND, msg);
}

float *dm_cuda_scratch(dm_backend *be, int slot, size_t n) {
    dm_cuda_ctx *ctx = be->ctx;
    if (n <= ctx->cap[slot]) return ctx->scratch[slot];
    if (ctx->scratch[slot]) cudaFree(ctx->scratch[slot]);
    ctx->scratch[slot] = NULL;
    ctx->cap[slot] = 0;
    ctx->n_grow++;
    cudaError_t err = cudaMalloc((void **)&ctx->scratch[slot], n * sizeof(float));
    if (err != cudaSuccess) {
        dm_cuda_check(be, err, "scratch allocation");
        return NULL;
    }
    ctx->cap[slot] = n;
    return ctx->scratch[slot];
}

void dm_cuda_gemm_rowmajor(dm_backend *be, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                           const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    dm_cuda_ctx *ctx = be->ctx;
    /* row-major C (M × N) is column-major Cᵀ (N × M) = op(B)ᵀ (N × K) · op(A)ᵀ (K × M) */
    cublasStatus_t s = cublasSgemm(ctx->blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, ldb, A, lda,
                                   &beta, C, ldc);
    if (s != CUBLAS_STATUS_SUCCESS) {
        char msg[160];
        snprintf(msg, sizeof msg, "cublasSgemm %d×%d×%d (lda %d, ldb %d, ldc %d) failed: status %d", M, N,
                 K, lda, ldb, ldc, (int)s);
        dm_backend_fail(be, DM_STATUS_BACKEND, msg);
    }
}

static void *cuda_alloc(dm_backend *be, size_t bytes) {
    (void)be;
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError();   /* an allocation failure is reported by the NULL, not as sticky */
        return NULL;
    }
    return p;
}

static void *cuda_host_alloc(dm_backend *be, size_t bytes) {
    (void)be;
    void *p = NULL;
    if (cudaMallocHost(&p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError();   /* reported by the NULL, not as sticky */
        return NULL;
    }
    return p;
}

static void cuda_host_free(dm_backend *be, void *p) {
    cudaStreamSynchronize(dm_cuda_stream(be));   /* no copy may still read it */
    cudaFreeHost(p);
}

static void cuda_free(dm_backend *be, void *p) {
    cudaStreamSynchronize(dm_cuda_stream(be));   /* no kernel may still use it */
    cudaFree(p);
}

static void cuda_upload(dm_backend *be, void *dst, const void *host, size_t bytes) {
    if (bytes) dm_cuda_check(be, cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, dm_cuda_stream(be)), "upload");
}

static void cuda_download(dm_backend *be, void *host, const void *src, size_t bytes) {
    if (!bytes) return;
    dm_cuda_check(be, cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, dm_cuda_stream(be)), "download");
    dm_cuda_check(be, cudaStreamSynchronize(dm_cuda_stream(be)), "download");
}

static void cuda_copy(dm_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes) dm_cuda_check(be, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, dm_cuda_stream(be)), "copy");
}

static void cuda_memset0(dm_backend *be, void *dst, size_t bytes) {
    if (bytes) dm_cuda_check(be, cudaMemsetAsync(dst, 0, bytes, dm_cuda_stream(be)), "memset");
}

static void cuda_sync(dm_backend *be) { dm_cuda_check(be, cudaStreamSynchronize(dm_cuda_stream(be)), "sync"); }

/* ---- graphs: stream capture of the backend's stream (backend.h) ---- */
static bool cuda_graph_begin(dm_backend *be) {
    dm_cuda_ctx *ctx = be->ctx;
    if (ctx->graphs_off || be->status) return false;
#ifdef DM_CUDA_SYNC_CHECK
    return false;   /* a synchronisation after every op cannot be captured */
#endif
    cudaError_t err = cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeThreadLocal);
    if (err != cudaSuccess) {
        dm_cuda_check(be, err, "graph capture");
        return false;
    }
    return true;
}

static void *cuda_graph_end(dm_backend *be) {
    dm_cuda_ctx *ctx = be->ctx;
    cudaGraph_t g = NULL;
    cudaGraphExec_t exec = NULL;
    cudaError_t err = cudaStreamEndCapture(ctx->stream, &g);
    if (err == cudaSuccess) err = cudaGraphInstantiate(&exec, g, 0);
    if (g) cudaGraphDestroy(g);
    if (err != cudaSuccess) {
        cudaGetLastError();
        dm_cuda_check(be, err, "graph capture (an allocation or synchronisation while capturing)");
        return NULL;
    }
    return exec;
}

static void cuda_graph_launch(dm_backend *be, void *graph) {
    dm_cuda_check(be, cudaGraphLaunch((cudaGraphExec_t)graph, dm_cuda_stream(be)), "graph launch");
}

static void cuda_graph_free(dm_backend *be, void *graph) {
    if (!graph) return;
    cudaStreamSynchronize(dm_cuda_stream(be));   /* no replay may still run */
    cudaGraphExecDestroy((cudaGraphExec_t)graph);
}

static void cuda_destroy(dm_backend *be) {
    dm_cuda_ctx *ctx = be->ctx;
    if (!ctx) return;
    if (ctx->stream) cudaStreamSynchronize(ctx->stream);
#ifdef DM_USE_CUDNN
    dm_cudnn_free(be);
#endif
#ifdef DM_USE_NCCL
    dm_cuda_group_free(be);
#endif
    for (int s = 0; s < DM_CUDA_SCRATCH_N; s++)
        if (ctx->scratch[s]) cudaFree(ctx->scratch[s]);
    if (ctx->colsum_count) cudaFree(ctx->colsum_count);
    if (ctx->blas) cublasDestroy(ctx->blas);
    if (ctx->stream) cudaStreamDestroy(ctx->stream);
    free(ctx);
}

static const struct dm_backend_i dm_cuda_table = {
    .alloc = cuda_alloc, .free = cuda_free, .upload = cuda_upload, .download = cuda_download,
    .copy = cuda_copy, .memset0 = cuda_memset0, .sync = cuda_sync, .destroy = cuda_destroy,
    .host_alloc = cuda_host_alloc, .host_free = cuda_host_free,
    .onehot = dm_cuda_onehot, .gather = dm_cuda_gather,
    .conv1d_fwd = dm_cuda_conv1d_fwd, .conv1d_bwd = dm_cuda_conv1d_bwd,
    .relu_fwd = dm_cuda_relu_fwd, .relu_bwd = dm_cuda_relu_bwd,
    .maxpool_fwd = dm_cuda_maxpool_fwd, .maxpool_bwd = dm_cuda_maxpool_bwd,
    .gmax_fwd = dm_cuda_gmax_fwd, .gmax_bwd = dm_cuda_gmax_bwd,
    .dropout_fwd = dm_cuda_dropout_fwd, .dropout_bwd = dm_cuda_dropout_bwd,
    .lstm_fwd = dm_cuda_lstm_fwd, .lstm_bwd = dm_cuda_lstm_bwd, .lstm_trunc = dm_cuda_lstm_trunc,
    .mean_time_fwd = dm_cuda_mean_time_fwd, .mean_time_bwd = dm_cuda_mean_time_bwd,
    .dense_fwd = dm_cuda_dense_fwd, .dense_bwd = dm_cuda_dense_bwd,
    .logsoftmax_fwd = dm_cuda_logsoftmax_fwd, .logsoftmax_bwd = dm_cuda_logsoftmax_bwd,
    .nll = dm_cuda_nll, .adam = dm_cuda_adam, .head_fwd = dm_cuda_head_fwd, .head_bwd = dm_cuda_head_bwd,
    .conv1d_relu_fwd = dm_cuda_conv1d_relu_fwd, .conv1d_pool_fwd = dm_cuda_conv1d_pool_fwd,
    .relu_pool_bwd = dm_cuda_relu_pool_bwd,
#ifdef DM_USE_NCCL
    .group_id = dm_cuda_group_id, .group_join = dm_cuda_group_join, .allreduce_sum = dm_cuda_allreduce_sum,
#endif
    .optin_project = dm_cuda_optin_project, .optin_objective = dm_cuda_optin_objective,
    .optin_rmsprop = dm_cuda_optin_rmsprop, .lerp = dm_cuda_lerp, .axpy = dm_cuda_axpy,
    .ism_variants = dm_cuda_ism_variants, .ism_collect = dm_cuda_ism_collect, .ism_reduce = dm_cuda_ism_reduce,
    .ism_window = dm_cuda_ism_window,
    .optin_record = dm_cuda_optin_record, .graph_begin = cuda_graph_begin, .graph_end = cuda_graph_end,
    .graph_launch = cuda_graph_launch, .graph_free = cuda_graph_free,
};

bool dm_backend_cuda_built(void) { return true; }

#ifndef DM_USE_CUDNN
dm_status dm_backend_cuda_cudnn(dm_backend *be) {
    return dm_error(DM_STATUS_BACKEND, "--cudnn: this build has no cuDNN (the emulator builds never do)");
}
#endif

dm_status dm_backend_cuda_create(dm_backend **out, int device) {
    *out = NULL;
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
        const char *why = err != cudaSuccess ? cudaGetErrorString(err) : "no device found";
        cudaGetLastError();
        return dm_error(DM_STATUS_BACKEND, "no usable CUDA device (%s)", why);
    }
    if (device < 0 || device >= count)
        return dm_error(DM_STATUS_BACKEND, "CUDA device %d does not exist (%d found)", device, count);
    dm_backend *be = calloc(1, sizeof *be);
    dm_cuda_ctx *ctx = calloc(1, sizeof *ctx);
    if (!be || !ctx) {
        free(be);
        free(ctx);
        return dm_error(DM_STATUS_NOMEM, "out of memory for the CUDA backend");
    }
    ctx->table = dm_cuda_table;
    be->i = &ctx->table;
    be->name = "cuda";
    be->n_threads = 1;
    be->ctx = ctx;
    ctx->device = device;
    /* DM_CUDA_LSTM: "step" keeps lstm.cu's per-step reference path; "persist" (or unset) the default */
    const char *lstm = getenv("DM_CUDA_LSTM");
    if (lstm && *lstm && strcmp(lstm, "step") != 0 && strcmp(lstm, "persist") != 0) {
        dm_backend_free(be);
        return dm_error(DM_STATUS_ARG, "DM_CUDA_LSTM=%s: expected step or persist", lstm);
    }
    ctx->lstm_step = lstm && strcmp(lstm, "step") == 0;
    /* DM_CUDA_GRAPHS: "off" runs every step plainly (comparisons, counts); "on" (or unset) captures */
    const char *graphs = getenv("DM_CUDA_GRAPHS");
    if (graphs && *graphs && strcmp(graphs, "on") != 0 && strcmp(graphs, "off") != 0) {
        dm_backend_free(be);
        return dm_error(DM_STATUS_ARG, "DM_CUDA_GRAPHS=%s: expected on or off", graphs);
    }
    ctx->graphs_off = graphs && strcmp(graphs, "off") == 0;
    struct cudaDeviceProp prop;
    const char *step = "cudaSetDevice";
    if ((err = cudaSetDevice(device)) == cudaSuccess && (step = "cudaGetDeviceProperties") &&
        (err = cudaGetDeviceProperties(&prop, device)) == cudaSuccess && (step = "cudaStreamCreate") &&
        (err = cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking)) == cudaSuccess) {
        snprintf(be->device, sizeof be->device, "cuda: %.120s (sm_%d%d)", prop.name, prop.major, prop.minor);
        cublasStatus_t bs = cublasCreate(&ctx->blas);
        if (bs == CUBLAS_STATUS_SUCCESS) bs = cublasSetStream(ctx->blas, ctx->stream);
        if (bs == CUBLAS_STATUS_SUCCESS) {
            *out = be;
            return DM_STATUS_OK;
        }
        dm_backend_free(be);
        return dm_error(DM_STATUS_BACKEND, "cuBLAS initialisation failed (status %d)", (int)bs);
    }
    dm_backend_free(be);
    return dm_error(DM_STATUS_BACKEND, "CUDA device %d: %s: %s", device, step, cudaGetErrorString(err));
}
