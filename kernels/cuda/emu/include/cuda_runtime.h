/*
 * cuda_runtime.h: the CUDA runtime API of the CPU emulator (CUDA-EMULATION.md), for gcc builds with
 * DM_CUDA_EMU=ON.
 *
 * It carries the real names, types and error numbers of the subset deepmotif's CUDA host layer uses,
 * so that layer compiles unchanged with gcc against kernels/cuda/emu/emu.c. Device memory is host
 * memory (cudaMalloc is malloc filled with 0xFF bytes, i.e. float NaN, so never-written outputs show
 * up). Streams are queues (emu_queue.c): kernel launches, asynchronous copies and memsets, cuBLAS
 * calls, event records and event waits are enqueued and run when the host synchronises (or copies into
 * pageable memory), in an order DM_EMU_SCHED varies among streams that do not depend on each other;
 * the legacy default stream keeps CUDA's implicit ordering against blocking streams. One host thread
 * may use it at a time.
 *
 * Errors follow the runtime: cudaGetLastError() returns and clears the last error of any call;
 * cudaPeekAtLastError() returns it without clearing. A kernel that fails under the emulator (a
 * divergent barrier, a bad warp mask, an invalid launch configuration; see emu.h) makes
 * the next synchronising call (cudaDeviceSynchronize, cudaStreamSynchronize, cudaEventSynchronize,
 * cudaMemcpy) and cudaGetLastError() after it return cudaErrorLaunchFailure (an invalid launch
 * configuration: the launch's cudaGetLastError() at once); unlike a real device the failure
 * is not sticky, so the next clean launch succeeds.
 *
 * Checks a real device would only fault on (a report on stderr, then abort: a test failure): a copy's
 * kind must match where its pointers are (device memory is what cudaMalloc returned and has not been
 * freed; pinned cudaMallocHost memory is host memory), and a copy or memset must stay inside its device
 * allocation; cudaFree and cudaFreeHost take only the start of a live allocation of their kind. Every
 * launch, copy, wait and allocation is counted (emu.h, dm_emu_counters_get).
 */
#ifndef DM_EMU_CUDA_RUNTIME_H
#define DM_EMU_CUDA_RUNTIME_H

#include <stddef.h>

/* Launch geometry. In C, `dim3 g = {4}` leaves y and z at 0 (C++ makes them 1): the launch rejects it. */
typedef struct dim3 {
    unsigned int x, y, z;
} dim3;
typedef struct uint3 {
    unsigned int x, y, z;
} uint3;

/* The error codes with their CUDA numbers. */
typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorNotReady = 600,
    cudaErrorInvalidDevice = 101,
    cudaErrorLaunchFailure = 719,
    cudaErrorStreamCaptureUnsupported = 900,
    cudaErrorStreamCaptureInvalidated = 901
} cudaError_t;

/* Opaque handles: a stream is a work queue, an event a position in one (emu_queue.c). */
typedef struct CUstream_st *cudaStream_t;
typedef struct CUevent_st *cudaEvent_t;
/* A captured graph and its instantiation (emu_queue.c). */
typedef struct CUgraph_st *cudaGraph_t;
typedef struct CUgraphExec_st *cudaGraphExec_t;
enum cudaStreamCaptureMode {
    cudaStreamCaptureModeGlobal = 0,
    cudaStreamCaptureModeThreadLocal = 1,
    cudaStreamCaptureModeRelaxed = 2
};

#define cudaStreamDefault     0x00
#define cudaStreamNonBlocking 0x01

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};

/* The subset of the CUDA 13 device properties deepmotif reads (same names and types). */
struct cudaDeviceProp {
    char name[256];           /* "deepmotif CUDA emulator" */
    size_t totalGlobalMem;    /* the host's physical memory */
    size_t sharedMemPerBlock; /* 48 KiB */
    int regsPerBlock;
    int warpSize; /* 32 */
    size_t memPitch;
    int maxThreadsPerBlock; /* 1024 */
    int maxThreadsDim[3];   /* 1024, 1024, 64 */
    int maxGridSize[3];     /* 2^31 - 1, 65535, 65535 */
    size_t totalConstMem;
    int major; /* compute capability 9.0 */
    int minor;
    int multiProcessorCount; /* a fixed 8, so grids sized from it are reproducible */
    int concurrentKernels;
    int asyncEngineCount;
    int unifiedAddressing;
    int memoryBusWidth; /* bits */
    int l2CacheSize;
    int maxThreadsPerMultiProcessor;
    size_t sharedMemPerMultiprocessor;
    int regsPerMultiprocessor;
    size_t sharedMemPerBlockOptin;
    int maxBlocksPerMultiProcessor;
};

/* Device attributes with their CUDA numbers; clocks in kHz are nominal (1 GHz). */
enum cudaDeviceAttr {
    cudaDevAttrMaxThreadsPerBlock = 1,
    cudaDevAttrClockRate = 13,
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrMemoryClockRate = 36,
    cudaDevAttrGlobalMemoryBusWidth = 37
};

/* ---- errors ---------------------------------------------------------------------------------- */
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char *cudaGetErrorString(cudaError_t error);
const char *cudaGetErrorName(cudaError_t error);

/* ---- device ---------------------------------------------------------------------------------- */
cudaError_t cudaGetDeviceCount(int *count); /* always 1 */
cudaError_t cudaSetDevice(int device);      /* only device 0 */
cudaError_t cudaGetDevice(int *device);
/* Clears the error state and releases the emulator's fibers (not the allocations). */
cudaError_t cudaDeviceReset(void);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device);
cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device);
cudaError_t cudaRuntimeGetVersion(int *version); /* 13000 */
cudaError_t cudaDriverGetVersion(int *version);  /* 13000 */

/* ---- memory: device memory is host memory --------------------------------------------------- */
/* 256-byte aligned, filled with 0xFF (NaN) unless DM_EMU_POISON=0; size 0 gives NULL. */
cudaError_t cudaMalloc(void **ptr, size_t size);
cudaError_t cudaFree(void *ptr);
cudaError_t cudaMallocHost(void **ptr, size_t size);
cudaError_t cudaFreeHost(void *ptr);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind,
                            cudaStream_t stream);
cudaError_t cudaMemset(void *ptr, int value, size_t count);
cudaError_t cudaMemsetAsync(void *ptr, int value, size_t count, cudaStream_t stream);

/* ---- streams and events ---------------------------------------------------------------------- */
cudaError_t cudaStreamCreate(cudaStream_t *stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
/* Later work on `stream` waits for the event's last record (flags must be 0). */
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags);
cudaError_t cudaEventCreate(cudaEvent_t *event);
/* Enqueues the record; it reads the wall clock when it runs. */
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
/* cudaSuccess once the recorded work has run (or never recorded), else cudaErrorNotReady. */
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
/* Milliseconds between two recorded events; cudaErrorInvalidValue if either was never recorded,
 * cudaErrorNotReady if either has not run yet. */
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t event);

/* ---- graphs (stream capture) ------------------------------------------------------------------ */
/* While `stream` captures, its launches, copies, memsets and cuBLAS calls are recorded into a graph
 * (nothing runs, nothing is counted) with their arguments as they were at the call. An allocation, a
 * free or a synchronisation by the capturing thread (every mode acts as ThreadLocal) returns cudaErrorStreamCaptureUnsupported and
 * invalidates the capture (cudaStreamEndCapture then returns cudaErrorStreamCaptureInvalidated); so
 * do events on the capturing stream (the emulator captures one stream). The legacy stream cannot
 * capture. */
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags);
/* Enqueues the recorded work on `stream` with the recorded arguments, counted as one graph launch and
 * its nodes (dm_emu_counters). */
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);

#endif /* DM_EMU_CUDA_RUNTIME_H */
