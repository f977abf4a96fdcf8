/*
 * test_emu.c: the CUDA emulator (kernels/cuda/emu, CUDA-EMULATION.md) runs CUDA-C kernels correctly on
 * the CPU and reports what it is meant to catch.
 *
 * Correctness: a shared-memory + __shfl_down_sync reduction (n = 1,000,003 and 300) and a 16 x 16 tiled
 * matmul (64^3 and a ragged 100 x 70 x 50) match double-precision references under the fwd, rev and two
 * rand schedules (seeds derived from DM_TEST_SEED, printed); every shuffle mode and width, the votes,
 * atomics and dynamic shared memory give CUDA's results; the runtime and cuBLAS stand-ins behave like
 * the real ones. Diagnostics: a divergent barrier, a full-mask shuffle in a 48-thread block, a full-mask
 * shuffle inside `if (lane < 16)`, a shuffle reading outside its mask, a warp/barrier deadlock,
 * `dim3 g = {4}`, an oversized block and, with DM_EMU_STRICT, an early exit before a barrier each make
 * cudaGetLastError() return cudaErrorLaunchFailure, and the next clean launch succeeds; never-written
 * cudaMalloc memory reads as NaN. A reduction missing its barrier gives a wrong result under fwd; in a
 * ThreadSanitizer build the same test must end in TSan's race report (exit code 66).
 *
 * Streams are queues: a planted stream-ordering bug (an upload on one stream read by a kernel on
 * another, without a wait) gives NaN outputs under rev (the newest ready work runs first) and in the
 * seeded rand orders, and the same code with cudaEventRecord + cudaStreamWaitEvent is right in all
 * four orders; the legacy default stream is ordered after a blocking stream's work, not a non-blocking
 * one's. Kernel failures surface at the next synchronising call.
 *
 * Counters and stand-in checks: the counters (dm_emu_counters_get) count kernel launches per stream and
 * kernel name, cuBLAS calls, copies by direction, synchronisations and allocations exactly, and reset;
 * planted misuses (a cuBLAS operand one float short, in host memory, freed, or with a batch stride past
 * its allocation; cudaMemcpy with a kind contradicting its pointers or running past an allocation;
 * cudaFree of host memory or twice; cudaMemset of host memory) each abort with a report naming the
 * call and the pointer, run in a forked child whose stderr the test reads; the CUDA backend's alloc
 * returns NaN-poisoned memory (no zero fill).
 *
 * The kernels are in emu_kernels.cu, compiled here as GNU C through kcompat.h. Without the emulator
 * (DM_CUDA_EMU=OFF) the file builds to a single skipped test.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef DM_CUDA_EMU /* defined by the dm_cuda_emu target; without it there is nothing to test */
#include <cublas_v2.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"

#include "emu_kernels.cu"
#include "kcompat.h"
#include "testutil.h"

/* ---- inputs ------------------------------------------------------------------------------------------ */
/* splitmix64 step. */
static uint64_t test_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* x[0..n) uniform in [-1, 1) from (seed, tag). */
static void test_fill(float *x, size_t n, uint64_t tag) {
    uint64_t st = dm_test_seed() * 0x100000001b3ull + tag;
    for (size_t i = 0; i < n; i++) x[i] = (float)((double)(test_next(&st) >> 11) * 0x1p-53 * 2.0 - 1.0);
}

/* The device copy of host array h (n floats). */
static float *test_to_device(const float *h, size_t n) {
    float *d;
    cr_assert_eq(cudaMalloc((void **)&d, n * sizeof *d), cudaSuccess);
    cr_assert_eq(cudaMemcpy(d, h, n * sizeof *d, cudaMemcpyHostToDevice), cudaSuccess);
    return d;
}

static float *test_to_host(const float *d, size_t n) {
    float *h = malloc(n * sizeof *h);
    cr_assert_not_null(h);
    cr_assert_eq(cudaMemcpy(h, d, n * sizeof *h, cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
}

/* The schedules every correctness test runs under: fwd, rev and two seeded rand orders. */
#define TEST_NSCHED 4
static void test_set_sched(int i) {
    char spec[48];
    if (i == 0)
        snprintf(spec, sizeof spec, "fwd");
    else if (i == 1)
        snprintf(spec, sizeof spec, "rev");
    else
        snprintf(spec, sizeof spec, "rand:%llu", (unsigned long long)(dm_test_seed() + (uint64_t)i));
    cr_assert_eq(dm_emu_set_sched(spec), 0);
    cr_log_info("DM_EMU_SCHED=%s", dm_emu_sched());
}

/* ---- reduction --------------------------------------------------------------------------------------- */
/* Runs the reduction of n inputs with the current schedule; returns the worst |partial - ref| relative
 * to that block's sum of |x| (a float-rounding scale), +Inf for NaN. */
static double test_reduce_err(int n, int skip_barrier) {
    float *x = malloc((size_t)n * sizeof *x);
    cr_assert_not_null(x);
    test_fill(x, (size_t)n, 1);
    unsigned nb = dm_test_reduce_blocks(n);
    float *d_x = test_to_device(x, (size_t)n), *d_p;
    cr_assert_eq(cudaMalloc((void **)&d_p, nb * sizeof *d_p), cudaSuccess);
    cr_assert_eq(dm_test_reduce(d_x, d_p, n, skip_barrier, NULL), cudaSuccess);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    float *p = test_to_host(d_p, nb);
    double worst = 0;
    size_t stride = (size_t)nb * DM_TEST_RED_BLOCK;
    for (unsigned b = 0; b < nb; b++) {
        double ref = 0, scale = 0;
        for (size_t i = (size_t)b * DM_TEST_RED_BLOCK; i < (size_t)n; i += stride)
            for (size_t t = i; t < i + DM_TEST_RED_BLOCK && t < (size_t)n; t++) {
                ref += x[t];
                scale += fabs(x[t]);
            }
        double err = isfinite(p[b]) ? fabs(p[b] - ref) / scale : INFINITY;
        if (err > worst) worst = err;
    }
    free(p);
    free(x);
    cudaFree(d_p);
    cudaFree(d_x);
    return worst;
}

/* A float sum of a few thousand terms: within 64 ulp of the sum of their magnitudes. */
#define TEST_REDUCE_TOL (64 * FLT_EPSILON)

static void test_reduce_all_scheds(int n) {
    for (int s = 0; s < TEST_NSCHED; s++) {
        test_set_sched(s);
        double err = test_reduce_err(n, 0);
        cr_log_info("reduce n=%d %s: worst error %.2e of the block's sum of |x|", n, dm_emu_sched(), err);
        cr_assert_leq(err, TEST_REDUCE_TOL, "reduce n=%d under %s: error %g", n, dm_emu_sched(), err);
    }
}

Test(emu, reduce_1000003) {
    test_reduce_all_scheds(1000003);
}

Test(emu, reduce_300) {
    test_reduce_all_scheds(300);
}

/* Without the barrier after the shared store, fwd order lets thread 0 read s[128] before thread 128
 * writes it (NaN from the 0xFF fill, or a stale value): the partial sum is wrong. In a TSan build the
 * race is reported instead, and the process exits with 66. */
#ifdef __SANITIZE_THREAD__
Test(emu, reduce_missing_barrier, .exit_code = 66) {
#else
Test(emu, reduce_missing_barrier) {
#endif
    cr_assert_eq(dm_emu_set_sched("fwd"), 0);
    double err = test_reduce_err(300, 1);
    cr_log_info("missing barrier under fwd: error %g", err);
    cr_assert_gt(err, TEST_REDUCE_TOL, "a missing barrier went unnoticed under fwd");
}

/* ---- matmul ------------------------------------------------------------------------------------------ */
static void test_matmul(int M, int N, int K) {
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    cr_assert(a && b);
    test_fill(a, na, 2);
    test_fill(b, nb, 3);
    float *d_a = test_to_device(a, na), *d_b = test_to_device(b, nb), *d_c;
    cr_assert_eq(cudaMalloc((void **)&d_c, nc * sizeof *d_c), cudaSuccess);
    for (int s = 0; s < TEST_NSCHED; s++) {
        test_set_sched(s);
        cr_assert_eq(cudaMemset(d_c, 0xFF, nc * sizeof *d_c), cudaSuccess);
        cr_assert_eq(dm_test_matmul(d_a, d_b, d_c, M, N, K, NULL), cudaSuccess);
        cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
        float *c = test_to_host(d_c, nc);
        double worst = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double ref = 0, scale = 0;
                for (int k = 0; k < K; k++) {
                    ref += (double)a[(size_t)i * K + k] * b[(size_t)k * N + j];
                    scale += fabs((double)a[(size_t)i * K + k] * b[(size_t)k * N + j]);
                }
                float got = c[(size_t)i * N + j];
                double err = isfinite(got) ? fabs(got - ref) / (scale + 1e-30) : INFINITY;
                if (err > worst) worst = err;
            }
        cr_log_info("matmul %dx%dx%d %s: worst error %.2e of sum |a b|", M, N, K, dm_emu_sched(), worst);
        cr_assert_leq(worst, 16 * FLT_EPSILON, "matmul %dx%dx%d under %s: error %g", M, N, K, dm_emu_sched(),
                      worst);
        free(c);
    }
    cudaFree(d_a);
    cudaFree(d_b);
    cudaFree(d_c);
    free(a);
    free(b);
}

Test(emu, matmul_64) {
    test_matmul(64, 64, 64);
}

Test(emu, matmul_ragged) {
    test_matmul(100, 70, 50);
}

/* ---- warp operations, atomics, dynamic shared memory ------------------------------------------------ */
Test(emu, warp_ops) {
    enum { blocks = 2, threads = 64, n = blocks * threads };
    int *d_out;
    cr_assert_eq(cudaMalloc((void **)&d_out, n * DM_TEST_WARP_OUTS * sizeof(int)), cudaSuccess);
    for (int s = 0; s < TEST_NSCHED; s++) {
        test_set_sched(s);
        cr_assert_eq(dm_test_warp_ops(d_out, blocks, threads, NULL), cudaSuccess);
        int out[n * DM_TEST_WARP_OUTS];
        cr_assert_eq(cudaMemcpy(out, d_out, sizeof out, cudaMemcpyDeviceToHost), cudaSuccess);
        for (int t = 0; t < n; t++) {
            int l = t % 32, *o = out + t * DM_TEST_WARP_OUTS;
            int expect[DM_TEST_WARP_OUTS] = {
                (l & ~7) + 3,                     /* idx 3 in segments of 8 */
                (l & 7) < 1 ? l : l - 1,          /* up 1, own value at a segment start */
                (l & 15) + 2 > 15 ? l : l + 2,    /* down 2, own value past the segment end */
                l ^ 4,                            /* xor 4 stays inside 16-lane segments */
                (l ^ 20) > (l | 15) ? l : l ^ 20, /* xor 20: later segments give the own value */
                (int)0xaaaaaaaau,                 /* ballot of the odd lanes */
                1,
                0};
            for (int k = 0; k < DM_TEST_WARP_OUTS; k++)
                cr_assert_eq(o[k], expect[k], "thread %d output %d: %d, expected %d (%s)", t, k, o[k],
                             expect[k], dm_emu_sched());
        }
    }
    cudaFree(d_out);
}

Test(emu, atomics) {
    enum { n = 3000 };
    float x[n];
    test_fill(x, n, 4);
    double ref = 0;
    for (int i = 0; i < n; i++) ref += x[i];
    float *d_x = test_to_device(x, n), *d_sum;
    int *d_i;
    cr_assert_eq(cudaMalloc((void **)&d_sum, sizeof *d_sum), cudaSuccess);
    cr_assert_eq(cudaMalloc((void **)&d_i, 3 * sizeof *d_i), cudaSuccess);
    cr_assert_eq(cudaMemset(d_sum, 0, sizeof *d_sum), cudaSuccess);
    int init[3] = {0, -1, -1};
    cr_assert_eq(cudaMemcpy(d_i, init, sizeof init, cudaMemcpyHostToDevice), cudaSuccess);
    cr_assert_eq(dm_test_atomics(d_x, n, d_sum, d_i, d_i + 1, d_i + 2, NULL), cudaSuccess);
    float sum;
    int got[3];
    cr_assert_eq(cudaMemcpy(&sum, d_sum, sizeof sum, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_assert_eq(cudaMemcpy(got, d_i, sizeof got, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_assert_leq(fabs(sum - ref), n * 4 * FLT_EPSILON, "atomicAdd sum %g, reference %g", sum, ref);
    cr_assert_eq(got[0], n);
    cr_assert_eq(got[1], n - 1);
    cr_assert(got[2] >= 0 && got[2] < n, "atomicCAS left %d", got[2]);
    cudaFree(d_x);
    cudaFree(d_sum);
    cudaFree(d_i);
}

Test(emu, dyn_shared) {
    enum { blocks = 3, threads = 96, n = blocks * threads };
    float x[n], y[n];
    test_fill(x, n, 5);
    float *d_x = test_to_device(x, n), *d_y;
    cr_assert_eq(cudaMalloc((void **)&d_y, sizeof y), cudaSuccess);
    cr_assert_eq(dm_test_reverse(d_x, d_y, blocks, threads, NULL), cudaSuccess);
    cr_assert_eq(cudaMemcpy(y, d_y, sizeof y, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int b = 0; b < blocks; b++)
        for (int t = 0; t < threads; t++) cr_assert_eq(y[b * threads + t], x[b * threads + threads - 1 - t]);
    cudaFree(d_x);
    cudaFree(d_y);
}

/* ---- diagnostics ------------------------------------------------------------------------------------- */
/* A clean launch after a failed one succeeds (the emulator's failures are not sticky). */
static void test_clean_launch(void) {
    enum { n = 100 };
    float x[n], y[n];
    test_fill(x, n, 6);
    float *d_x = test_to_device(x, n), *d_y;
    cr_assert_eq(cudaMalloc((void **)&d_y, sizeof y), cudaSuccess);
    dim3 grid = {2, 1, 1}, block = {64, 1, 1};
    cr_assert_eq(dm_test_copy(d_x, d_y, n, grid, block, NULL), cudaSuccess);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    cr_assert_eq(cudaMemcpy(y, d_y, sizeof y, cudaMemcpyDeviceToHost), cudaSuccess);
    cr_assert_arr_eq(x, y, sizeof x);
    cudaFree(d_x);
    cudaFree(d_y);
}

/* Launches diagnostic kernel `which`; the launch is queued (cudaSuccess) and the next synchronising
 * call must fail, with a message containing `expect`. */
static void test_bad(enum dm_test_bad which, unsigned threads, const char *expect) {
    float *d_out;
    cr_assert_eq(cudaMalloc((void **)&d_out, threads * sizeof *d_out), cudaSuccess);
    cr_assert_eq(dm_test_bad(which, d_out, threads, NULL), cudaSuccess);
    cr_assert_eq(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
    cr_assert(strstr(dm_emu_last_message(), expect), "message \"%s\" lacks \"%s\"", dm_emu_last_message(),
              expect);
    cr_assert_eq(cudaGetLastError(), cudaErrorLaunchFailure); /* the sync's error, once */
    cr_assert_eq(cudaGetLastError(), cudaSuccess);
    cudaFree(d_out);
    test_clean_launch();
}

Test(emu, divergent_barrier) {
    test_bad(DM_TEST_BARRIER_SITES, 64, "divergent barrier");
}

Test(emu, shfl_missing_lane) {
    test_bad(DM_TEST_SHFL_FULL, 48, "names lane 16, which does not exist");
}

Test(emu, shfl_exited_lane) {
    test_bad(DM_TEST_SHFL_HALF, 32, "lane 16 named in mask 0xffffffff has already exited");
}

Test(emu, shfl_source_outside_mask) {
    test_bad(DM_TEST_SHFL_OUTSIDE, 32, "reads lane 20, which is not in mask 0x0000ffff");
}

Test(emu, warp_barrier_deadlock) {
    test_bad(DM_TEST_DEADLOCK, 64, "deadlock");
}

/* Threads leaving before a barrier the others wait at: a warning by default, an error when strict. */
Test(emu, early_exit) {
    float *d_out;
    cr_assert_eq(cudaMalloc((void **)&d_out, 64 * sizeof *d_out), cudaSuccess);
    cr_assert_eq(dm_test_bad(DM_TEST_EARLY_EXIT, d_out, 64, NULL), cudaSuccess);
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    cr_assert(strstr(dm_emu_last_message(), "warning: "), "%s", dm_emu_last_message());
    dm_emu_set_strict(1);
    cr_assert_eq(dm_test_bad(DM_TEST_EARLY_EXIT, d_out, 64, NULL), cudaSuccess);
    cr_assert_eq(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
    cr_assert(strstr(dm_emu_last_message(), "exited before the __syncthreads()"), "%s",
              dm_emu_last_message());
    cr_assert_eq(cudaGetLastError(), cudaErrorLaunchFailure);
    cudaFree(d_out);
    test_clean_launch();
}

/* In C, dim3 g = {4} is (4, 0, 0), not CUDA C++'s (4, 1, 1): the launch is refused. */
Test(emu, dim3_zero_extent) {
    float *d;
    cr_assert_eq(cudaMalloc((void **)&d, 4 * 32 * sizeof *d), cudaSuccess);
    dim3 grid = {.x = 4}, block = {32, 1, 1}; /* what `dim3 grid = {4}` gives */
    cr_assert_eq(dm_test_copy(d, d, 4 * 32, grid, block, NULL), cudaErrorLaunchFailure);
    cr_assert(strstr(dm_emu_last_message(), "invalid launch grid (4,0,0)"), "%s", dm_emu_last_message());
    dim3 big = {64, 32, 1};
    cr_assert_eq(dm_test_copy(d, d, 4 * 32, block, big, NULL), cudaErrorLaunchFailure);
    cr_assert(strstr(dm_emu_last_message(), "2048 threads"), "%s", dm_emu_last_message());
    cudaFree(d);
    test_clean_launch();
}

/* cudaMalloc fills with 0xFF bytes: a kernel reading memory nobody wrote gets NaN. */
Test(emu, poison_reads_nan) {
    enum { n = 50 };
    float *d_in, *d_out, out[n];
    cr_assert_eq(cudaMalloc((void **)&d_in, n * sizeof *d_in), cudaSuccess);
    cr_assert_eq(cudaMalloc((void **)&d_out, n * sizeof *d_out), cudaSuccess);
    dim3 grid = {1, 1, 1}, block = {64, 1, 1};
    cr_assert_eq(dm_test_copy(d_in, d_out, n, grid, block, NULL), cudaSuccess);
    cr_assert_eq(cudaMemcpy(out, d_out, sizeof out, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int i = 0; i < n; i++) cr_assert(isnan(out[i]), "out[%d] = %g", i, out[i]);
    cudaFree(d_in);
    cudaFree(d_out);
    test_clean_launch();
}

/* ---- schedule control and the runtime API ----------------------------------------------------------- */
Test(emu, sched_spec) {
    cr_assert_eq(dm_emu_set_sched("rand:42"), 0);
    cr_assert_str_eq(dm_emu_sched(), "rand:42");
    cr_assert_eq(dm_emu_set_sched("sideways"), -1);
    cr_assert_str_eq(dm_emu_sched(), "rand:42");
    cr_assert_eq(dm_emu_set_sched("rand"), 0); /* a clock seed, printed */
    cr_assert(strncmp(dm_emu_sched(), "rand:", 5) == 0);
    cr_log_info("clock-seeded schedule: %s", dm_emu_sched());
    cr_assert_eq(dm_emu_set_sched("rev"), 0);
    cr_assert_str_eq(dm_emu_sched(), "rev");
}

Test(emu, runtime_api) {
    int count = 0, version = 0, value = 0;
    cr_assert_eq(cudaGetDeviceCount(&count), cudaSuccess);
    cr_assert_eq(count, 1);
    cr_assert_eq(cudaSetDevice(1), cudaErrorInvalidDevice);
    cr_assert_eq(cudaPeekAtLastError(), cudaErrorInvalidDevice);
    cr_assert_eq(cudaGetLastError(), cudaErrorInvalidDevice);
    cr_assert_eq(cudaGetLastError(), cudaSuccess);
    cr_assert_str_eq(cudaGetErrorName(cudaErrorLaunchFailure), "cudaErrorLaunchFailure");
    cr_assert_str_eq(cudaGetErrorString(cudaErrorLaunchFailure), "unspecified launch failure");
    cr_assert_eq(cudaRuntimeGetVersion(&version), cudaSuccess);
    cr_assert_eq(version, 13000);
    struct cudaDeviceProp prop;
    cr_assert_eq(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
    cr_assert_str_eq(prop.name, "deepmotif CUDA emulator");
    cr_assert(prop.major == 9 && prop.warpSize == 32 && prop.maxThreadsPerBlock == 1024);
    cr_assert_eq(prop.sharedMemPerBlock, 48 << 10);
    cr_assert_eq(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
    cr_assert_eq(value, prop.multiProcessorCount);

    unsigned char *d;
    cr_assert_eq(cudaMalloc((void **)&d, 1000), cudaSuccess);
    cr_assert_eq((uintptr_t)d % 256, 0);
    cr_assert(d[0] == 0xFF && d[999] == 0xFF);
    cr_assert_eq(cudaMemset(d, 7, 1000), cudaSuccess);
    cr_assert(d[0] == 0xFF, "cudaMemset is queued on the default stream"); /* the emulator peeks */
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);
    cr_assert(d[0] == 7 && d[999] == 7);
    cr_assert_eq(cudaMemcpy(d, d, 10, (enum cudaMemcpyKind)9), cudaErrorInvalidValue);
    cr_assert_eq(cudaGetLastError(), cudaErrorInvalidValue);
    cr_assert_eq(cudaFree(d), cudaSuccess);

    cudaStream_t stream;
    cudaEvent_t start, stop;
    float ms = -1;
    cr_assert_eq(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    cr_assert_eq(cudaEventCreate(&start), cudaSuccess);
    cr_assert_eq(cudaEventCreate(&stop), cudaSuccess);
    cr_assert_eq(cudaEventElapsedTime(&ms, start, stop), cudaErrorInvalidValue);
    cr_assert_eq(cudaEventRecord(start, stream), cudaSuccess);
    cr_assert_eq(cudaEventRecord(stop, stream), cudaSuccess);
    cr_assert_eq(cudaEventSynchronize(stop), cudaSuccess);
    cr_assert_eq(cudaEventElapsedTime(&ms, start, stop), cudaSuccess);
    cr_assert(ms >= 0 && ms < 1000, "%g ms", ms);
    cr_assert_eq(cudaStreamSynchronize(stream), cudaSuccess);
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    cudaStreamDestroy(stream);
    cudaGetLastError();
}

/* ---- streams are queues -------------------------------------------------------------------------- */
/* Uploads x on stream `up` and copies it by a kernel on stream `use` (both non-blocking), with or
 * without making `use` wait for the upload's event; returns how many outputs differ from x (NaN, the
 * poison of memory nobody wrote, counts as differing). */
static int test_two_streams(const float *x, int n, int wait) {
    cudaStream_t up, use;
    cudaEvent_t uploaded;
    float *d_in, *d_out, *y = malloc((size_t)n * sizeof *y);
    cr_assert_not_null(y);
    cr_assert_eq(cudaStreamCreateWithFlags(&up, cudaStreamNonBlocking), cudaSuccess);
    cr_assert_eq(cudaStreamCreateWithFlags(&use, cudaStreamNonBlocking), cudaSuccess);
    cr_assert_eq(cudaEventCreate(&uploaded), cudaSuccess);
    cr_assert_eq(cudaMalloc((void **)&d_in, (size_t)n * sizeof *d_in), cudaSuccess);
    cr_assert_eq(cudaMalloc((void **)&d_out, (size_t)n * sizeof *d_out), cudaSuccess);
    cr_assert_eq(cudaMemcpyAsync(d_in, x, (size_t)n * sizeof *x, cudaMemcpyHostToDevice, up), cudaSuccess);
    if (wait) {
        cr_assert_eq(cudaEventRecord(uploaded, up), cudaSuccess);
        cr_assert_eq(cudaStreamWaitEvent(use, uploaded, 0), cudaSuccess);
    }
    dim3 grid = {(unsigned)(n + 63) / 64, 1, 1}, block = {64, 1, 1};
    cr_assert_eq(dm_test_copy(d_in, d_out, n, grid, block, use), cudaSuccess);
    cr_assert_eq(cudaStreamSynchronize(use), cudaSuccess);
    cr_assert_eq(cudaMemcpyAsync(y, d_out, (size_t)n * sizeof *y, cudaMemcpyDeviceToHost, use), cudaSuccess);
    int bad = 0;
    for (int i = 0; i < n; i++) bad += !(y[i] == x[i]);
    cudaEventDestroy(uploaded);
    cudaStreamDestroy(up);
    cudaStreamDestroy(use);
    cudaFree(d_in);
    cudaFree(d_out);
    free(y);
    return bad;
}

/* The planted stream-ordering bug: the kernel on `use` reads what `up` uploads, with no wait. Under
 * rev the scheduler runs the newest ready work first, so the kernel runs before the upload and copies
 * NaN poison: the emulator catches the missing dependency as wrong results. With cudaStreamWaitEvent
 * the same code is right in every order. */
Test(emu, stream_missing_wait) {
    enum { n = 300 };
    float x[n];
    test_fill(x, n, 9);
    int caught = 0;
    for (int s = 0; s < TEST_NSCHED; s++) {
        test_set_sched(s);
        int bad = test_two_streams(x, n, 0);
        cr_log_info("no wait, %s: %d of %d outputs wrong", dm_emu_sched(), bad, n);
        if (s == 1) cr_assert_eq(bad, n, "rev runs the kernel before the upload it does not wait for");
        caught += bad > 0;
        cr_assert_eq(test_two_streams(x, n, 1), 0, "with the wait, %s", dm_emu_sched());
    }
    cr_assert_geq(caught, 1);
}

/* The legacy default stream waits for blocking streams and they for it; non-blocking ones do not. */
Test(emu, stream_legacy_order) {
    enum { n = 100 };
    float x[n], y[n];
    test_fill(x, n, 10);
    cr_assert_eq(dm_emu_set_sched("rev"), 0);
    for (int nonblocking = 0; nonblocking < 2; nonblocking++) {
        cudaStream_t s;
        float *d_in, *d_out;
        cr_assert_eq(cudaStreamCreateWithFlags(&s, nonblocking ? cudaStreamNonBlocking : cudaStreamDefault),
                     cudaSuccess);
        cr_assert_eq(cudaMalloc((void **)&d_in, sizeof x), cudaSuccess);
        cr_assert_eq(cudaMalloc((void **)&d_out, sizeof x), cudaSuccess);
        cr_assert_eq(cudaMemcpyAsync(d_in, x, sizeof x, cudaMemcpyHostToDevice, s), cudaSuccess);
        dim3 grid = {2, 1, 1}, block = {64, 1, 1};
        cr_assert_eq(dm_test_copy(d_in, d_out, n, grid, block, NULL), cudaSuccess); /* legacy stream */
        cr_assert_eq(cudaMemcpy(y, d_out, sizeof y, cudaMemcpyDeviceToHost), cudaSuccess);
        int bad = 0;
        for (int i = 0; i < n; i++) bad += !(y[i] == x[i]);
        /* cudaMemcpy waits only for the legacy stream (and, through it, blocking streams) */
        if (nonblocking)
            cr_assert_eq(bad, n, "a non-blocking stream is not ordered before the legacy stream");
        else
            cr_assert_eq(bad, 0, "a blocking stream's upload precedes later legacy-stream work");
        cr_assert_eq(cudaStreamDestroy(s), cudaSuccess);
        cudaFree(d_in);
        cudaFree(d_out);
    }
}

/* ---- blocks of a launch interleave under rand ---------------------------------------------------------- */
/* Runs ticket_kernel over 16 blocks; returns how many blocks saw another block's ticket between their
 * own and their barrier (fails if a block's shared memory held another block's values). */
static int test_ticket_overlaps(void) {
    enum { nb = 16 };
    unsigned *d_counter, *d_out, out[2 * nb];
    cr_assert_eq(cudaMalloc((void **)&d_counter, sizeof *d_counter), cudaSuccess);
    cr_assert_eq(cudaMalloc((void **)&d_out, sizeof out), cudaSuccess);
    cr_assert_eq(cudaMemset(d_counter, 0, sizeof *d_counter), cudaSuccess);
    cr_assert_eq(dm_test_ticket(d_counter, d_out, nb, NULL), cudaSuccess);
    cr_assert_eq(cudaMemcpy(out, d_out, sizeof out, cudaMemcpyDeviceToHost), cudaSuccess);
    int overlaps = 0;
    for (int b = 0; b < nb; b++) {
        cr_assert_neq(out[2 * b + 1], 0xFFFFFFFFu, "block %d saw another block's __shared__ values", b);
        cr_assert_gt(out[2 * b + 1], out[2 * b], "block %d: counter %u after ticket %u", b, out[2 * b + 1],
                     out[2 * b]);
        overlaps += out[2 * b + 1] > out[2 * b] + 1;
    }
    cudaFree(d_counter);
    cudaFree(d_out);
    return overlaps;
}

/* fwd and rev run blocks one after another; rand keeps up to 4 in flight, interleaved round by round,
 * each with its own shared memory (sanitizer builds: one at a time, emu.c "Blocks"). */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define TEST_BLOCKS_INTERLEAVE 0
#else
#define TEST_BLOCKS_INTERLEAVE 1
#endif
Test(emu, blocks_interleave) {
    for (int s = 0; s < TEST_NSCHED; s++) {
        test_set_sched(s);
        int overlaps = test_ticket_overlaps();
        cr_log_info("%s: %d of 16 blocks overlapped another", dm_emu_sched(), overlaps);
        if (s < 2 || !TEST_BLOCKS_INTERLEAVE)
            cr_assert_eq(overlaps, 0, "%s runs one block at a time", dm_emu_sched());
        else
            cr_assert_gt(overlaps, 0, "%s interleaves blocks", dm_emu_sched());
    }
}

/* ---- cuBLAS ------------------------------------------------------------------------------------------ */
/* Column-major reference: C = alpha op(A) op(B) + beta C. */
static void test_gemm_ref(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
                          const float *B, int ldb, float beta, double *C, int ldc) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += (double)(ta ? A[p + (size_t)i * lda] : A[i + (size_t)p * lda]) *
                     (tb ? B[j + (size_t)p * ldb] : B[p + (size_t)j * ldb]);
            C[i + (size_t)j * ldc] = alpha * s + (beta != 0 ? beta * C[i + (size_t)j * ldc] : 0);
        }
}

Test(emu, cublas_sgemm) {
    enum { m = 7, n = 5, k = 9, ld = 11, batch = 3, size = ld * ld };
    cublasHandle_t h;
    cr_assert_eq(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH), CUBLAS_STATUS_SUCCESS);
    cudaStream_t s = NULL, got = NULL;
    cr_assert_eq(cudaStreamCreate(&s), cudaSuccess);
    cr_assert_eq(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasGetStream(h, &got), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(got, s);
    float A[batch * size], B[batch * size];
    test_fill(A, batch * size, 7);
    test_fill(B, batch * size, 8);
    float *d_a = test_to_device(A, batch * size), *d_b = test_to_device(B, batch * size), *d_c;
    /* C starts as the 0xFF fill (NaN): beta = 0 must not read it */
    cr_assert_eq(cudaMalloc((void **)&d_c, batch * size * sizeof *d_c), cudaSuccess);
    float alpha = 1.5f, beta = 0.0f;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            cr_assert_eq(cublasSgemmStridedBatched(h, ta, tb, m, n, k, &alpha, d_a, ld, size, d_b, ld, size,
                                                   &beta, d_c, ld, size, batch),
                         CUBLAS_STATUS_SUCCESS);
            float C[batch * size];
            cr_assert_eq(cudaMemcpy(C, d_c, sizeof C, cudaMemcpyDeviceToHost), cudaSuccess);
            for (int b = 0; b < batch; b++) {
                double ref[size];
                test_gemm_ref(ta, tb, m, n, k, alpha, A + b * size, ld, B + b * size, ld, 0.0f, ref, ld);
                for (int j = 0; j < n; j++)
                    for (int i = 0; i < m; i++)
                        cr_assert_leq(fabs(C[b * size + i + j * ld] - ref[i + j * ld]), 1e-5,
                                      "op %d%d batch %d (%d,%d)", ta, tb, b, i, j);
            }
        }
    /* beta = 1 accumulates into C (one batch through cublasSgemm). */
    float C0[size], C1[size];
    cr_assert_eq(cudaMemcpy(C0, d_c, sizeof C0, cudaMemcpyDeviceToHost), cudaSuccess);
    beta = 1.0f;
    cr_assert_eq(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, d_a, ld, d_b, ld, &beta, d_c, ld),
                 CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cudaMemcpy(C1, d_c, sizeof C1, cudaMemcpyDeviceToHost), cudaSuccess);
    double ref[size];
    for (int i = 0; i < size; i++) ref[i] = C0[i];
    test_gemm_ref(0, 0, m, n, k, alpha, A, ld, B, ld, 1.0f, ref, ld);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) cr_assert_leq(fabs(C1[i + j * ld] - ref[i + j * ld]), 1e-5);
    /* cuBLAS's argument checks. */
    cr_assert_eq(
        cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, d_a, m - 1, d_b, ld, &beta, d_c, ld),
        CUBLAS_STATUS_INVALID_VALUE);
    cr_assert_eq(
        cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, d_a, k - 1, d_b, ld, &beta, d_c, ld),
        CUBLAS_STATUS_INVALID_VALUE);
    cr_assert_eq(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, -1, n, k, &alpha, d_a, ld, d_b, ld, &beta, d_c, ld),
                 CUBLAS_STATUS_INVALID_VALUE);
    cr_assert_eq(
        cublasSgemm(NULL, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, d_a, ld, d_b, ld, &beta, d_c, ld),
        CUBLAS_STATUS_NOT_INITIALIZED);
    cr_assert_eq(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, d_a, ld, size, d_b,
                                           ld, size, &beta, d_c, ld, size, -1),
                 CUBLAS_STATUS_INVALID_VALUE);
    cr_assert_str_eq(cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE),
                     "an invalid numeric value was used as an argument");
    cudaFree(d_a);
    cudaFree(d_b);
    cudaFree(d_c);
    cudaStreamDestroy(s);
    cr_assert_eq(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

/* ---- counters ------------------------------------------------------------------------------------------ */
/* The sum of the per-kernel table's launches; *n_cublas the cuBLAS entries' share. */
static unsigned long long test_table_sum(unsigned long long *n_cublas) {
    unsigned long long sum = 0, blas = 0, k;
    const char *name;
    int cublas;
    for (int i = 0; dm_emu_kernel_entry(i, &name, &k, &cublas); i++) {
        sum += k;
        if (cublas) blas += k;
        for (int j = 0; j < i; j++) { /* names are unique */
            const char *other;
            dm_emu_kernel_entry(j, &other, NULL, NULL);
            cr_assert(strcmp(name, other) != 0, "%s twice in the table", name);
        }
    }
    if (n_cublas) *n_cublas = blas;
    return sum;
}

Test(emu, counters) {
    enum { n = 100 };
    float h[n], *d_a, *d_b, *pinned;
    test_fill(h, n, 11);
    cudaStream_t s;
    cublasHandle_t blas;
    cr_assert_eq(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    cr_assert_eq(cublasCreate(&blas), CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasSetStream(blas, s), CUBLAS_STATUS_SUCCESS);
    dm_emu_counters_reset();
    dm_emu_counters c;
    dm_emu_counters_get(&c);
    cr_assert_eq(c.launches + c.syncs + c.mallocs + c.h2d_bytes, 0);
    cr_assert_eq(dm_emu_kernel_entry(0, NULL, NULL, NULL), 0, "the table is empty after a reset");

    cr_assert_eq(cudaMalloc((void **)&d_a, sizeof h), cudaSuccess);
    cr_assert_eq(cudaMalloc((void **)&d_b, sizeof h), cudaSuccess);
    cr_assert_eq(cudaMallocHost((void **)&pinned, sizeof h), cudaSuccess);
    cr_assert_eq(cudaMemcpy(d_a, h, sizeof h, cudaMemcpyHostToDevice), cudaSuccess); /* sync 1 */
    dim3 grid = {1, 1, 1}, block = {128, 1, 1};
    for (int i = 0; i < 3; i++) cr_assert_eq(dm_test_copy(d_a, d_b, n, grid, block, s), cudaSuccess);
    cr_assert_eq(dm_test_copy(d_b, d_a, n, grid, block, NULL), cudaSuccess);
    float one = 1, zero = 0;
    cr_assert_eq(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, 10, 10, 10, &one, d_a, 10, d_b, 10, &zero, d_b, 10),
                 CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cudaMemcpyAsync(d_b, d_a, 40, cudaMemcpyDeviceToDevice, s), cudaSuccess);
    cr_assert_eq(cudaMemcpyAsync(pinned, d_b, sizeof h, cudaMemcpyDefault, s), cudaSuccess); /* D2H */
    cr_assert_eq(cudaMemsetAsync(d_b, 0, 8, s), cudaSuccess);
    cr_assert_eq(cudaStreamSynchronize(s), cudaSuccess);                                      /* sync 2 */
    cr_assert_eq(cudaDeviceSynchronize(), cudaSuccess);                                       /* sync 3 */
    cr_assert_eq(cudaFree(d_a), cudaSuccess);                                                 /* sync 4 */

    dm_emu_counters_get(&c);
    cr_assert_eq(c.launches, 5);
    cr_assert_eq(c.kernels, 4);
    cr_assert_eq(c.cublas_calls, 1);
    cr_assert_eq(c.h2d_bytes, sizeof h);
    cr_assert_eq(c.h2d_copies, 1);
    cr_assert_eq(c.d2h_bytes, sizeof h);
    cr_assert_eq(c.d2d_bytes, 40);
    cr_assert_eq(c.memsets, 1);
    cr_assert_eq(c.memset_bytes, 8);
    cr_assert_eq(c.syncs, 4);
    cr_assert_eq(c.mallocs, 2);
    cr_assert_eq(c.host_allocs, 1);
    cr_assert_eq(c.frees, 1);
    dm_emu_counters cs, c0;
    dm_emu_counters_stream(s, &cs);
    dm_emu_counters_stream(NULL, &c0);
    cr_assert_eq(cs.launches, 4, "3 kernels and the cuBLAS call on s");
    cr_assert_eq(cs.cublas_calls, 1);
    cr_assert_eq(cs.d2d_bytes + cs.d2h_bytes, 40 + sizeof h);
    cr_assert_eq(c0.launches, 1, "one kernel on the default stream");
    cr_assert_eq(c0.h2d_bytes, sizeof h, "the synchronous cudaMemcpy is on the default stream");
    cr_assert_eq(cs.launches + c0.launches, c.launches);
    unsigned long long blas_calls;
    cr_assert_eq(test_table_sum(&blas_calls), c.launches, "the per-kernel table adds up to the launches");
    cr_assert_eq(blas_calls, 1);
    cr_assert_eq(dm_emu_kernel_launches("copy_kernel"), 4);
    cr_assert_eq(dm_emu_kernel_launches("cublasSgemm"), 1);
    cr_assert_eq(dm_emu_kernel_launches("no_such_kernel"), 0);

    /* a failed launch still counts (the GPU was asked), an invalid cuBLAS call does not (cuBLAS returns
     * before launching) */
    dim3 bad = {.x = 1};
    cr_assert_eq(dm_test_copy(d_b, d_b, n, bad, block, NULL), cudaErrorLaunchFailure);
    cr_assert_eq(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, -1, 1, 1, &one, d_b, 1, d_b, 1, &zero, d_b, 1),
                 CUBLAS_STATUS_INVALID_VALUE);
    dm_emu_counters_get(&c);
    cr_assert_eq(c.launches, 6);
    cr_assert_eq(test_table_sum(NULL), 6);
    cudaGetLastError();

    dm_emu_counters_reset();
    dm_emu_counters_get(&c);
    dm_emu_counters_stream(s, &cs);
    cr_assert_eq(c.launches + c.h2d_bytes + c.d2h_bytes + c.syncs + c.mallocs + c.frees, 0);
    cr_assert_eq(cs.launches + cs.d2d_bytes, 0);
    cr_assert_eq(dm_emu_kernel_entry(0, NULL, NULL, NULL), 0);
    cudaFree(d_b);
    cudaFreeHost(pinned);
    cublasDestroy(blas);
    cudaStreamDestroy(s);
}

/* ---- stand-in checks: each planted misuse aborts with a report ----------------------------------------- */
/* Runs fn(arg) in a child process and checks that it aborts with `expect` in its stderr. */
static void test_expect_abort(void (*fn)(void *), void *arg, const char *what, const char *expect) {
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        fn(arg);
        _exit(0); /* the misuse went unnoticed */
    }
    close(fd[1]);
    char text[4096];
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof text && (r = read(fd[0], text + got, sizeof text - 1 - got)) > 0) got += (size_t)r;
    text[got] = 0;
    close(fd[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "%s: not aborted (status %#x); stderr: %s",
              what, status, text);
    cr_assert(strstr(text, expect), "%s: stderr \"%s\" lacks \"%s\"", what, text, expect);
    cr_log_info("%s: %s", what, text);
}

/* Device buffers for the misuses: a (100 floats), c (99 floats, one short of 10 x 10), a host array. */
static struct {
    float *a, *c, host[100];
    cublasHandle_t blas;
} T;

static void test_misuse_setup(void) {
    cr_assert_eq(cudaMalloc((void **)&T.a, 100 * sizeof(float)), cudaSuccess);
    cr_assert_eq(cudaMalloc((void **)&T.c, 99 * sizeof(float)), cudaSuccess);
    cr_assert_eq(cudaMemset(T.a, 0, 100 * sizeof(float)), cudaSuccess);
    memset(T.host, 0, sizeof T.host);
    cr_assert_eq(cublasCreate(&T.blas), CUBLAS_STATUS_SUCCESS);
}

static void test_gemm10(const float *A, const float *B, float *C, int ldc) {
    float one = 1, zero = 0;
    cublasSgemm(T.blas, CUBLAS_OP_N, CUBLAS_OP_N, 10, 10, 10, &one, A, 10, B, 10, &zero, C, ldc);
}
static void misuse_gemm_short_c(void *u) { (void)u; test_gemm10(T.a, T.a, T.c, 10); }
static void misuse_gemm_ldc(void *u) { (void)u; test_gemm10(T.a, T.a, T.a, 11); }
static void misuse_gemm_host(void *u) { (void)u; test_gemm10(T.host, T.a, T.a, 10); }
static void misuse_gemm_freed(void *u) {
    (void)u;
    cudaFree(T.c);
    test_gemm10(T.a, T.c, T.a, 10);
}
static void misuse_gemm_batch(void *u) {
    (void)u;
    float one = 1, zero = 0; /* two 5 x 10 batches 50 floats apart fit in 100; 3 do not */
    cublasSgemmStridedBatched(T.blas, CUBLAS_OP_T, CUBLAS_OP_N, 5, 5, 10, &one, T.a, 10, 50, T.a, 10, 50, &zero,
                              T.a, 5, 50, 3);
}
static void misuse_h2d_to_host(void *u) { (void)u; cudaMemcpy(T.host, T.a, 40, cudaMemcpyHostToDevice); }
static void misuse_d2h_from_host(void *u) {
    (void)u;
    float h2[10];
    cudaMemcpy(h2, T.host, 40, cudaMemcpyDeviceToHost);
}
static void misuse_h2d_from_device(void *u) { (void)u; cudaMemcpyAsync(T.c, T.a, 40, cudaMemcpyHostToDevice, NULL); }
static void misuse_copy_past_end(void *u) { (void)u; cudaMemcpy(T.c, T.host, 100 * sizeof(float), cudaMemcpyHostToDevice); }
static void misuse_free_host(void *u) { (void)u; cudaFree(T.host); }
static void misuse_free_twice(void *u) {
    (void)u;
    cudaFree(T.c);
    cudaFree(T.c);
}
static void misuse_memset_host(void *u) { (void)u; cudaMemset(T.host, 0, 8); }

Test(emu, stand_in_checks) {
    test_misuse_setup();
    test_expect_abort(misuse_gemm_short_c, NULL, "C one float short",
                      "cublasSgemm: C = ");
    test_expect_abort(misuse_gemm_short_c, NULL, "C one float short", "needs 400 bytes");
    test_expect_abort(misuse_gemm_ldc, NULL, "C at ldc 11 past its 100 floats", "holds 400 from there");
    test_expect_abort(misuse_gemm_host, NULL, "A in host memory", "A = ");
    test_expect_abort(misuse_gemm_host, NULL, "A in host memory", "is not in a live device allocation");
    test_expect_abort(misuse_gemm_freed, NULL, "B freed", "cublasSgemm: B = ");
    test_expect_abort(misuse_gemm_batch, NULL, "third batch past the end", "cublasSgemmStridedBatched: A = ");
    test_expect_abort(misuse_h2d_to_host, NULL, "HostToDevice into host memory",
                      "cudaMemcpy(cudaMemcpyHostToDevice, 40 bytes): the destination ");
    test_expect_abort(misuse_h2d_to_host, NULL, "HostToDevice into host memory", "is host memory, not device memory");
    test_expect_abort(misuse_d2h_from_host, NULL, "DeviceToHost from host memory", "the source ");
    test_expect_abort(misuse_h2d_from_device, NULL, "HostToDevice from device memory",
                      "cudaMemcpyAsync(cudaMemcpyHostToDevice, 40 bytes): the source ");
    test_expect_abort(misuse_h2d_from_device, NULL, "HostToDevice from device memory",
                      "is device memory, not host memory");
    test_expect_abort(misuse_copy_past_end, NULL, "a copy past the allocation", "runs past the end");
    test_expect_abort(misuse_free_host, NULL, "cudaFree of host memory", "not the start of a live device memory");
    test_expect_abort(misuse_free_twice, NULL, "cudaFree twice", "unknown or already freed");
    test_expect_abort(misuse_memset_host, NULL, "cudaMemset of host memory", "cudaMemset(");
    /* the same calls within bounds and in the right directions pass: C of exactly ldc (n - 1) + m floats,
     * two batches that fit, cudaMemcpyDefault between any two kinds */
    float one = 1, zero = 0;
    cr_assert_eq(cublasSgemm(T.blas, CUBLAS_OP_N, CUBLAS_OP_N, 9, 10, 10, &one, T.a, 10, T.a, 10, &zero, T.c, 10),
                 CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cublasSgemmStridedBatched(T.blas, CUBLAS_OP_T, CUBLAS_OP_N, 5, 5, 10, &one, T.a, 10, 50, T.a, 10,
                                           50, &zero, T.c, 5, 50, 2),
                 CUBLAS_STATUS_SUCCESS);
    cr_assert_eq(cudaMemcpy(T.c, T.host, 99 * sizeof(float), cudaMemcpyDefault), cudaSuccess);
    cr_assert_eq(cudaMemcpy(T.host, T.c, 99 * sizeof(float), cudaMemcpyDefault), cudaSuccess);
    cr_assert_eq(cudaMemcpy(T.a + 50, T.c + 49, 50 * sizeof(float), cudaMemcpyDeviceToDevice), cudaSuccess);
    cudaFree(T.a);
    cudaFree(T.c);
    cublasDestroy(T.blas);
}

/* The backend's alloc no longer zero-fills: memory nobody wrote reads as NaN (the emulator's poison),
 * as it reads as garbage on a GPU. */
Test(emu, backend_alloc_poisoned) {
    dm_backend *be = dm_test_cuda_backend();
    enum { n = 64 };
    float *d = be->i->alloc(be, n * sizeof(float)), h[n];
    cr_assert_not_null(d);
    be->i->download(be, h, d, sizeof h);
    for (int i = 0; i < n; i++) cr_assert(isnan(h[i]), "h[%d] = %g: the backend's alloc wrote it", i, h[i]);
    be->i->memset0(be, d, sizeof h);
    be->i->download(be, h, d, sizeof h);
    for (int i = 0; i < n; i++) cr_assert_eq(h[i], 0.0f);
    be->i->free(be, d);
    dm_backend_free(be);
}

#else
Test(emu, not_built) {
    cr_skip_test("the CUDA emulator is not built (configure with DM_CUDA_EMU=ON)");
}
#endif /* DM_CUDA_EMU */
