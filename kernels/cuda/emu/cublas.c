/*
 * cublas.c: the emulator's cuBLAS (include/cublas_v2.h) on OpenBLAS.
 *
 * Device memory is host memory, so a cuBLAS call is the same column-major cblas call after cuBLAS's
 * argument checks, and after one check a real GPU would not make until it faulted (or, worse, read a
 * neighbour's memory): every matrix the call reads or writes lies inside one live device allocation
 * (emu_track.c), for all of its rows, columns at the leading dimension, and batches at the stride. A
 * violation prints the call, the operand and the allocation and aborts (a test failure). Each call that
 * does work counts as one launch on the handle's stream (dm_emu_counters) and is enqueued there: it runs
 * when the host synchronises, like a kernel (emu_queue.h). A handle only records its stream and math
 * mode.
 */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>

#include "cublas_v2.h"
#include "emu_queue.h"
#include "emu_track.h"

struct cublasContext {
    cudaStream_t stream;
    cublasMath_t math;
};

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = calloc(1, sizeof **handle);
    return *handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    free(handle);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t *stream) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
    *stream = handle->stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_PEDANTIC_MATH) return CUBLAS_STATUS_INVALID_VALUE;
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetVersion(cublasHandle_t handle, int *version) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!version) return CUBLAS_STATUS_INVALID_VALUE;
    *version = 130100;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t status) {
    switch (status) {
    case CUBLAS_STATUS_SUCCESS:
        return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED:
        return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED:
        return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE:
        return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED:
        return "the GPU program failed to execute";
    }
    return "unknown error";
}

static int emu_max1(int a) {
    return a > 1 ? a : 1;
}

/* cuBLAS's checks of one gemm's arguments. */
static cublasStatus_t emu_gemm_check(cublasHandle_t handle, cublasOperation_t transa,
                                     cublasOperation_t transb, int m, int n, int k, const float *alpha,
                                     int lda, int ldb, const float *beta, int ldc) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if ((transa != CUBLAS_OP_N && transa != CUBLAS_OP_T) || (transb != CUBLAS_OP_N && transb != CUBLAS_OP_T))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m < 0 || n < 0 || k < 0 || !alpha || !beta) return CUBLAS_STATUS_INVALID_VALUE;
    if (lda < emu_max1(transa == CUBLAS_OP_N ? m : k) || ldb < emu_max1(transb == CUBLAS_OP_N ? k : n) ||
        ldc < emu_max1(m))
        return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}

/* Operand `what` of `call`: `rows` x `cols` column-major at leading dimension ld, `batch` matrices
 * `stride` floats apart, must lie inside one live device allocation. Nothing is read when it is empty. */
static void emu_operand_check(const char *call, const char *what, const float *p, int rows, int cols, int ld,
                              long long stride, int batch) {
    if (rows == 0 || cols == 0 || batch == 0) return;
    long long span = (long long)ld * (cols - 1) + rows, last = stride * (long long)(batch - 1);
    const float *lo = p + (last < 0 ? last : 0);
    long long n = span + (last < 0 ? -last : last); /* floats from lo */
    const void *base;
    size_t size;
    enum dm_emu_mem kind = dm_emu_track_find(lo, &base, &size);
    if (kind != DM_EMU_MEM_DEVICE)
        dm_emu_die("%s: %s = %p (%d x %d, ld %d, %d batch(es) %lld apart) is not in a live device allocation%s",
                   call, what, (const void *)p, rows, cols, ld, batch, stride,
                   kind == DM_EMU_MEM_PINNED ? " (it is pinned host memory)" : "");
    size_t avail = size - (size_t)((const char *)lo - (const char *)base);
    if ((unsigned long long)n * sizeof(float) > avail)
        dm_emu_die("%s: %s = %p (%d x %d, ld %d, %d batch(es) %lld apart) needs %lld bytes from %p, but its "
                   "device allocation (%p, %zu bytes) holds %zu from there",
                   call, what, (const void *)p, rows, cols, ld, batch, stride, n * (long long)sizeof(float),
                   (const void *)lo, base, size, avail);
}

static CBLAS_TRANSPOSE emu_op(cublasOperation_t op) {
    return op == CUBLAS_OP_N ? CblasNoTrans : CblasTrans;
}

/* A queued gemm (the call is enqueued on the handle's stream, emu_queue.h). */
struct emu_gemm_item {
    cublasOperation_t transa, transb;
    int m, n, k;
    float alpha;
    const float *A;
    int lda;
    long long strideA;
    const float *B;
    int ldb;
    long long strideB;
    float beta;
    float *C;
    int ldc;
    long long strideC;
    int batch;
};

static void emu_gemm_run(void *payload) {
    const struct emu_gemm_item *g = payload;
    for (int i = 0; i < g->batch; i++)
        cblas_sgemm(CblasColMajor, emu_op(g->transa), emu_op(g->transb), g->m, g->n, g->k, g->alpha,
                    g->A + i * g->strideA, g->lda, g->B + i * g->strideB, g->ldb, g->beta,
                    g->C + i * g->strideC, g->ldc);
}

static cublasStatus_t emu_gemm(const char *call, cublasHandle_t handle, cublasOperation_t transa,
                               cublasOperation_t transb, int m, int n, int k, const float *alpha,
                               const float *A, int lda, long long strideA, const float *B, int ldb,
                               long long strideB, const float *beta, float *C, int ldc, long long strideC,
                               int batchCount) {
    cublasStatus_t st = emu_gemm_check(handle, transa, transb, m, n, k, alpha, lda, ldb, beta, ldc);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (batchCount < 0) return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0 || batchCount == 0) return CUBLAS_STATUS_SUCCESS; /* nothing to write */
    if (k > 0) { /* op(A) is m x k, op(B) k x n, as stored */
        int na = transa == CUBLAS_OP_N;
        int nb = transb == CUBLAS_OP_N;
        emu_operand_check(call, "A", A, na ? m : k, na ? k : m, lda, strideA, batchCount);
        emu_operand_check(call, "B", B, nb ? k : n, nb ? n : k, ldb, strideB, batchCount);
    }
    emu_operand_check(call, "C", C, m, n, ldc, strideC, batchCount);
    dm_emu_track_launch(call, handle->stream, 1);
    struct emu_gemm_item *it = malloc(sizeof *it);
    if (!it) return CUBLAS_STATUS_ALLOC_FAILED;
    /* alpha and beta are host scalars, read now (CUBLAS_POINTER_MODE_HOST); the matrices when it runs */
    *it = (struct emu_gemm_item){transa, transb, m,       n,   k,       *alpha, A,   lda,       strideA,
                                 B,      ldb,    strideB, *beta, C, ldc, strideC, batchCount};
    dm_emu_enqueue(handle->stream, emu_gemm_run, it);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                           int n, int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                           const float *beta, float *C, int ldc) {
    return emu_gemm("cublasSgemm", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc,
                    0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k, const float *alpha,
                                         const float *A, int lda, long long strideA, const float *B, int ldb,
                                         long long strideB, const float *beta, float *C, int ldc,
                                         long long strideC, int batchCount) {
    return emu_gemm("cublasSgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B,
                    ldb, strideB, beta, C, ldc, strideC, batchCount);
}

/* A queued saxpy. */
struct emu_axpy_item {
    int n, incx, incy;
    float alpha;
    const float *x;
    float *y;
};

static void emu_axpy_run(void *payload) {
    const struct emu_axpy_item *a = payload;
    cblas_saxpy(a->n, a->alpha, a->x, a->incx, a->y, a->incy);
}

cublasStatus_t cublasSaxpy(cublasHandle_t handle, int n, const float *alpha, const float *x, int incx, float *y,
                           int incy) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!alpha || incx == 0 || incy == 0) return CUBLAS_STATUS_INVALID_VALUE;
    if (n <= 0) return CUBLAS_STATUS_SUCCESS;
    int ax = incx < 0 ? -incx : incx, ay = incy < 0 ? -incy : incy;
    /* as row vectors: 1 x n at leading dimension |inc| */
    emu_operand_check("cublasSaxpy", "x", x, 1, n, ax, 0, 1);
    emu_operand_check("cublasSaxpy", "y", y, 1, n, ay, 0, 1);
    dm_emu_track_launch("cublasSaxpy", handle->stream, 1);
    struct emu_axpy_item *it = malloc(sizeof *it);
    if (!it) return CUBLAS_STATUS_ALLOC_FAILED;
    *it = (struct emu_axpy_item){n, incx, incy, *alpha, x, y};
    dm_emu_enqueue(handle->stream, emu_axpy_run, it);
    return CUBLAS_STATUS_SUCCESS;
}
