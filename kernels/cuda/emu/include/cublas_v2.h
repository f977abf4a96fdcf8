/*
 * cublas_v2.h: the cuBLAS subset deepmotif uses, for gcc builds against the CUDA emulator
 * (DM_CUDA_EMU=ON); implemented in kernels/cuda/emu/cublas.c on OpenBLAS.
 *
 * Names, types and status numbers are cuBLAS's, so the host layer compiles unchanged. Matrices are
 * column-major as in cuBLAS; alpha and beta are read through their pointers (host or device memory
 * are the same here). Calls run synchronously on the calling thread; the handle's stream and math
 * mode are recorded and returned, nothing more. As in cuBLAS, beta = 0 overwrites C without reading
 * it (C may hold NaN from the emulator's cudaMalloc). Unlike cuBLAS, every matrix a call reads or
 * writes must lie inside one live device allocation (all rows, columns at the leading dimension,
 * batches at the stride), or the call prints the operand and aborts; each call that does work counts as
 * one launch on the handle's stream (emu.h, dm_emu_counters_get).
 */
#ifndef DM_EMU_CUBLAS_V2_H
#define DM_EMU_CUBLAS_V2_H

#include "cuda_runtime.h"

typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_EXECUTION_FAILED = 13
} cublasStatus_t;

typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;

typedef enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_PEDANTIC_MATH = 2 } cublasMath_t;

typedef struct cublasContext *cublasHandle_t;

/* ---- handles ---------------------------------------------------------------------------------- */
cublasStatus_t cublasCreate(cublasHandle_t *handle); /* ALLOC_FAILED; INVALID_VALUE on NULL */
cublasStatus_t cublasDestroy(cublasHandle_t handle); /* NOT_INITIALIZED on NULL */
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t *stream);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
cublasStatus_t cublasGetVersion(cublasHandle_t handle, int *version); /* 130100, cuBLAS 13.1 */
const char *cublasGetStatusString(cublasStatus_t status);

/* ---- level 3 ------------------------------------------------------------------------------------ */
/* C (m x n, ldc) = alpha op(A) op(B) + beta C, column-major; op(A) is m x k, op(B) is k x n.
 * INVALID_VALUE when m, n or k < 0, an op is not N or T, alpha or beta is NULL, or a leading
 * dimension is below max(1, rows of the stored matrix); NOT_INITIALIZED for a NULL handle. */
cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                           int n, int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                           const float *beta, float *C, int ldc);

/* batchCount independent Sgemm calls, matrix i at A + i strideA, B + i strideB, C + i strideC;
 * also INVALID_VALUE when batchCount < 0. */
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k, const float *alpha,
                                         const float *A, int lda, long long strideA, const float *B, int ldb,
                                         long long strideB, const float *beta, float *C, int ldc,
                                         long long strideC, int batchCount);

/* ---- level 1 ------------------------------------------------------------------------------------ */
/* y = alpha x + y over n elements at strides incx, incy; INVALID_VALUE for a zero stride. */
cublasStatus_t cublasSaxpy(cublasHandle_t handle, int n, const float *alpha, const float *x, int incx, float *y,
                           int incy);

#endif /* DM_EMU_CUBLAS_V2_H */
