/*
 * emu.h: the CUDA kernel dialect for gcc; kcompat.h includes it when not compiling under nvcc
 * (CUDA-EMULATION.md §2).
 *
 * With it every kernels/cuda/<op>.cu compiles as GNU C11 (`gcc -std=gnu11`) and runs on the CPU: each
 * CUDA thread of a block is a fiber (emu.c), on the host thread that synchronises with the launch's
 * stream (emu_queue.h); fwd and rev run the blocks one after another, rand up to 4 at a time,
 * interleaved round by round.
 *
 *   qualifiers    __global__ __device__ __host__ __forceinline__ __noinline__ __restrict__
 *                 __launch_bounds__(...) __align__(n) __constant__; __shared__ (below)
 *   built-ins     threadIdx (the running fiber's), blockIdx, blockDim, gridDim, warpSize
 *   barriers      __syncthreads() (matched by call site), __syncwarp([mask])
 *   warp ops      __shfl_sync, __shfl_up_sync, __shfl_down_sync, __shfl_xor_sync (optional width;
 *                 float, double, int, unsigned, long, unsigned long, long long, unsigned long long),
 *                 __ballot_sync, __any_sync, __all_sync
 *   fences        __threadfence()
 *   atomics       atomicAdd (float, double, int, unsigned, unsigned long long), atomicExch (int,
 *                 unsigned, unsigned long long, float), atomicMax/atomicCAS (int, unsigned,
 *                 unsigned long long); relaxed gcc atomic builtins, so ThreadSanitizer sees them
 *   math          <math.h> (expf, tanhf, logf, sqrtf, fmaxf, ...) plus __expf, __logf, __fdividef,
 *                 rsqrtf, __saturatef, __float_as_uint, __uint_as_float, __float_as_int,
 *                 __int_as_float
 *   launch        DM_EMU_LAUNCH(kernel, grid, block, shmem, stream, args...) (0 to 12 arguments);
 *                 dm_emu_dyn_shared() is the launch's dynamic shared buffer (DM_DYN_SHARED)
 *
 * `__shared__` is a static local placed in the linker section dm_emu_shared: the section holds the
 * shared memory of the block whose fibers run (with several blocks in flight the runtime swaps each
 * block's copy in and out), and the runtime fills the whole section with 0xFF bytes (float NaN) before
 * every block, so reading a slot no thread has written yet
 * in this block gives NaN. In AddressSanitizer builds it is a plain static instead, so ASan puts
 * redzones around it (there is no 0xFF fill then); sanitizer builds always run blocks one at a time. Sizes of __shared__ arrays must be constants
 * (#define or enum): a `const int` size is a VLA in C. C has no overloading: no min/max, no templates.
 *
 * The runtime controls (environment variable, or the setter, which wins):
 *   DM_EMU_SCHED=fwd|rev|rand[:seed]   dm_emu_set_sched   fiber order within each round
 *   DM_EMU_STRICT=1                    dm_emu_set_strict  a thread exiting before a barrier others
 *                                                         wait at is an error, not a warning
 *   DM_EMU_POISON=0                    dm_emu_set_poison  no 0xFF fills (diagnosis only)
 * Errors print `emu: error: kernel K block (x,y,z): ...` on stderr and make cudaGetLastError() and
 * the next synchronising call return cudaErrorLaunchFailure. The runtime is not thread-safe: one host
 * thread launches kernels (and no kernel launches another).
 */
#ifndef DM_EMU_H
#define DM_EMU_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "include/cuda_runtime.h"

/* ---- qualifiers --------------------------------------------------------------------------------- */
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__    __attribute__((noinline))
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#ifdef __SANITIZE_ADDRESS__
#define __shared__ static
#else
#define __shared__ static __attribute__((section("dm_emu_shared")))
#endif

/* ---- built-in variables ------------------------------------------------------------------------- */
extern const uint3 *dm_emu_thread_idx; /* the running fiber's index, set by the scheduler */
extern uint3 dm_emu_block_idx;
extern dim3 dm_emu_block_dim, dm_emu_grid_dim;

/* Read-only views: a kernel cannot assign to them, as in CUDA. */
#define threadIdx (*dm_emu_thread_idx)
#define blockIdx  (*(const uint3 *)&dm_emu_block_idx)
#define blockDim  (*(const dim3 *)&dm_emu_block_dim)
#define gridDim   (*(const dim3 *)&dm_emu_grid_dim)
enum { warpSize = 32 }; /* an enum, not a macro: struct cudaDeviceProp has a warpSize member */

/* ---- block barrier and warp operations ---------------------------------------------------------- */
/* Blocks the calling fiber until every live thread of the block waits at the same call site. */
void dm_emu_syncthreads(const char *file, int line);
#define __syncthreads() dm_emu_syncthreads(__FILE__, __LINE__)

/* The warp operations; one runtime entry resolves them all once every lane of the mask waits. */
enum dm_emu_warp_op {
    DM_EMU_SHFL_IDX,
    DM_EMU_SHFL_UP,
    DM_EMU_SHFL_DOWN,
    DM_EMU_SHFL_XOR,
    DM_EMU_BALLOT,
    DM_EMU_ANY,
    DM_EMU_ALL,
    DM_EMU_SYNCWARP
};

/* Waits at warp operation `op` with `mask`; `value` is this lane's input bits, `arg` the source lane,
 * delta or lane mask of a shuffle, `width` its segment width. Returns the result bits (the shuffled
 * value, or the ballot / any / all result). */
uint64_t dm_emu_warp_op(enum dm_emu_warp_op op, unsigned mask, uint64_t value, int arg, int width,
                        const char *file, int line);

/* One shuffle per value type: the bits travel through dm_emu_warp_op unchanged. */
#define DM_EMU_SHFL_TYPE(suffix, T, U)                                                                       \
    static inline T dm_emu_shfl_##suffix(enum dm_emu_warp_op op, unsigned mask, T v, int arg, int width,     \
                                         const char *file, int line) {                                       \
        U u;                                                                                                 \
        memcpy(&u, &v, sizeof u);                                                                            \
        u = (U)dm_emu_warp_op(op, mask, u, arg, width, file, line);                                          \
        memcpy(&v, &u, sizeof v);                                                                            \
        return v;                                                                                            \
    }
DM_EMU_SHFL_TYPE(f, float, uint32_t)
DM_EMU_SHFL_TYPE(d, double, uint64_t)
DM_EMU_SHFL_TYPE(i, int, uint32_t)
DM_EMU_SHFL_TYPE(u, unsigned, uint32_t)
DM_EMU_SHFL_TYPE(l, long, uint64_t)
DM_EMU_SHFL_TYPE(ul, unsigned long, uint64_t)
DM_EMU_SHFL_TYPE(ll, long long, uint64_t)
DM_EMU_SHFL_TYPE(ull, unsigned long long, uint64_t)
#undef DM_EMU_SHFL_TYPE

/* clang-format off */
#define DM_EMU_SHFL(op, mask, v, arg, width)                                                                 \
    _Generic((v),                                                                                            \
        float: dm_emu_shfl_f,                                                                                \
        double: dm_emu_shfl_d,                                                                               \
        int: dm_emu_shfl_i,                                                                                  \
        unsigned: dm_emu_shfl_u,                                                                             \
        long: dm_emu_shfl_l,                                                                                 \
        unsigned long: dm_emu_shfl_ul,                                                                       \
        long long: dm_emu_shfl_ll,                                                                           \
        unsigned long long: dm_emu_shfl_ull)(op, (mask), (v), (arg), (width), __FILE__, __LINE__)
/* clang-format on */

/* `...` is (arg) or (arg, width): the first and second of (..., 32, ~) pick them, width 32 by default. */
#define DM_EMU_FIRST_(a, ...)     a
#define DM_EMU_SECOND_(a, b, ...) b
#define DM_EMU_SHFL_ARGS(op, mask, v, ...)                                                                   \
    DM_EMU_SHFL(op, mask, v, DM_EMU_FIRST_(__VA_ARGS__, ~), DM_EMU_SECOND_(__VA_ARGS__, 32, ~))
#define __shfl_sync(mask, v, ...)      DM_EMU_SHFL_ARGS(DM_EMU_SHFL_IDX, mask, v, __VA_ARGS__)
#define __shfl_up_sync(mask, v, ...)   DM_EMU_SHFL_ARGS(DM_EMU_SHFL_UP, mask, v, __VA_ARGS__)
#define __shfl_down_sync(mask, v, ...) DM_EMU_SHFL_ARGS(DM_EMU_SHFL_DOWN, mask, v, __VA_ARGS__)
#define __shfl_xor_sync(mask, v, ...)  DM_EMU_SHFL_ARGS(DM_EMU_SHFL_XOR, mask, v, __VA_ARGS__)

#define DM_EMU_VOTE(op, mask, pred) dm_emu_warp_op(op, (mask), (pred) != 0, 0, 32, __FILE__, __LINE__)
#define __ballot_sync(mask, pred)   ((unsigned)DM_EMU_VOTE(DM_EMU_BALLOT, mask, pred))
#define __any_sync(mask, pred)      ((int)DM_EMU_VOTE(DM_EMU_ANY, mask, pred))
#define __all_sync(mask, pred)      ((int)DM_EMU_VOTE(DM_EMU_ALL, mask, pred))

/* __syncwarp() or __syncwarp(mask): the mask defaults to the full warp, as in CUDA. */
#define DM_EMU_MASK_0()             0xffffffffu
#define DM_EMU_MASK_1(mask)         (mask)
#define DM_EMU_THIRD_(a, b, c, ...) c
#define DM_EMU_MASK(...)            DM_EMU_THIRD_(~, ##__VA_ARGS__, DM_EMU_MASK_1, DM_EMU_MASK_0)(__VA_ARGS__)
#define __syncwarp(...)                                                                                      \
    ((void)dm_emu_warp_op(DM_EMU_SYNCWARP, DM_EMU_MASK(__VA_ARGS__), 0, 0, 32, __FILE__, __LINE__))

/* __threadfence(): a sequentially consistent fence (the emulator's blocks share one host thread; the fence
 * keeps the compiler from moving a block's writes past its atomics). */
#define __threadfence() __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* ---- atomics: relaxed, as on the GPU; compare-and-swap loops for the floating-point adds ---------- */
static inline float dm_emu_atomic_add_f(float *p, float v) {
    float old, upd;
    __atomic_load(p, &old, __ATOMIC_RELAXED);
    do {
        upd = old + v;
    } while (!__atomic_compare_exchange(p, &old, &upd, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
}
static inline double dm_emu_atomic_add_d(double *p, double v) {
    double old, upd;
    __atomic_load(p, &old, __ATOMIC_RELAXED);
    do {
        upd = old + v;
    } while (!__atomic_compare_exchange(p, &old, &upd, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
}
static inline int dm_emu_atomic_add_i(int *p, int v) {
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
static inline unsigned dm_emu_atomic_add_u(unsigned *p, unsigned v) {
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
static inline unsigned long long dm_emu_atomic_add_ull(unsigned long long *p, unsigned long long v) {
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
/* clang-format off */
#define atomicAdd(p, v)                                                                                      \
    _Generic((p),                                                                                            \
        float *: dm_emu_atomic_add_f,                                                                        \
        double *: dm_emu_atomic_add_d,                                                                       \
        int *: dm_emu_atomic_add_i,                                                                          \
        unsigned *: dm_emu_atomic_add_u,                                                                     \
        unsigned long long *: dm_emu_atomic_add_ull)((p), (v))
/* clang-format on */

static inline int dm_emu_atomic_exch_i(int *p, int v) {
    return __atomic_exchange_n(p, v, __ATOMIC_RELAXED);
}
static inline unsigned dm_emu_atomic_exch_u(unsigned *p, unsigned v) {
    return __atomic_exchange_n(p, v, __ATOMIC_RELAXED);
}
static inline unsigned long long dm_emu_atomic_exch_ull(unsigned long long *p, unsigned long long v) {
    return __atomic_exchange_n(p, v, __ATOMIC_RELAXED);
}
static inline float dm_emu_atomic_exch_f(float *p, float v) {
    float old;
    __atomic_exchange(p, &v, &old, __ATOMIC_RELAXED);
    return old;
}
/* clang-format off */
#define atomicExch(p, v)                                                                                     \
    _Generic((p),                                                                                            \
        int *: dm_emu_atomic_exch_i,                                                                         \
        unsigned *: dm_emu_atomic_exch_u,                                                                    \
        unsigned long long *: dm_emu_atomic_exch_ull,                                                        \
        float *: dm_emu_atomic_exch_f)((p), (v))
/* clang-format on */

/* atomicMax and atomicCAS for one integer type T; both return the old value. */
#define DM_EMU_ATOMIC_INT(suffix, T)                                                                         \
    static inline T dm_emu_atomic_max_##suffix(T *p, T v) {                                                  \
        T old = __atomic_load_n(p, __ATOMIC_RELAXED);                                                        \
        while (old < v && !__atomic_compare_exchange_n(p, &old, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) { \
        }                                                                                                    \
        return old;                                                                                          \
    }                                                                                                        \
    static inline T dm_emu_atomic_cas_##suffix(T *p, T compare, T v) {                                       \
        __atomic_compare_exchange_n(p, &compare, v, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);                  \
        return compare;                                                                                      \
    }
DM_EMU_ATOMIC_INT(i, int)
DM_EMU_ATOMIC_INT(u, unsigned)
DM_EMU_ATOMIC_INT(ull, unsigned long long)
#undef DM_EMU_ATOMIC_INT
/* clang-format off */
#define atomicMax(p, v)                                                                                      \
    _Generic((p),                                                                                            \
        int *: dm_emu_atomic_max_i,                                                                          \
        unsigned *: dm_emu_atomic_max_u,                                                                     \
        unsigned long long *: dm_emu_atomic_max_ull)((p), (v))
#define atomicCAS(p, compare, v)                                                                             \
    _Generic((p),                                                                                            \
        int *: dm_emu_atomic_cas_i,                                                                          \
        unsigned *: dm_emu_atomic_cas_u,                                                                     \
        unsigned long long *: dm_emu_atomic_cas_ull)((p), (compare), (v))
/* clang-format on */

/* ---- device math: the fast intrinsics are the precise functions here ----------------------------- */
static inline float dm_emu_rsqrtf(float x) {
    return 1.0f / sqrtf(x);
}
static inline float dm_emu_saturatef(float x) { /* clamps to [0, 1]; NaN gives 0 */
    return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f;
}
static inline unsigned dm_emu_float_as_uint(float x) {
    unsigned u;
    memcpy(&u, &x, sizeof u);
    return u;
}
static inline float dm_emu_uint_as_float(unsigned u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}
#define __expf(x)          expf(x)
#define __logf(x)          logf(x)
#define __fdividef(a, b)   ((a) / (b))
#define rsqrtf(x)          dm_emu_rsqrtf(x)
#define __saturatef(x)     dm_emu_saturatef(x)
#define __float_as_uint(x) dm_emu_float_as_uint(x)
#define __uint_as_float(u) dm_emu_uint_as_float(u)
#define __float_as_int(x)  ((int)dm_emu_float_as_uint(x))
#define __int_as_float(i)  dm_emu_uint_as_float((unsigned)(i))

/* ---- launch ------------------------------------------------------------------------------------- */
/* A grid or block extent before validation: 64-bit, so a negative scalar is reported as it was. */
struct dm_emu_extent {
    long long x, y, z;
};
static inline struct dm_emu_extent dm_emu_extent_of_dim3(dim3 d) {
    return (struct dm_emu_extent){d.x, d.y, d.z};
}
static inline struct dm_emu_extent dm_emu_extent_of_uint3(uint3 d) {
    return (struct dm_emu_extent){d.x, d.y, d.z};
}
static inline struct dm_emu_extent dm_emu_extent_of_int(long long n) {
    return (struct dm_emu_extent){n, 1, 1};
}
static inline struct dm_emu_extent dm_emu_extent_of_uint(unsigned long long n) {
    return (struct dm_emu_extent){n > (unsigned long long)INT64_MAX ? -1 : (long long)n, 1, 1};
}
/* Widens a scalar (int, unsigned, long, size_t, ...) or dim3 grid/block to an extent. */
/* clang-format off */
#define DM_EMU_EXTENT(v)                                                                                     \
    _Generic((v),                                                                                            \
        dim3: dm_emu_extent_of_dim3,                                                                         \
        uint3: dm_emu_extent_of_uint3,                                                                       \
        int: dm_emu_extent_of_int,                                                                           \
        long: dm_emu_extent_of_int,                                                                          \
        long long: dm_emu_extent_of_int,                                                                     \
        unsigned: dm_emu_extent_of_uint,                                                                     \
        unsigned long: dm_emu_extent_of_uint,                                                                \
        unsigned long long: dm_emu_extent_of_uint)(v)
/* clang-format on */

/* Enqueues the launch on `stream` (emu_queue.h): `run(copy of args)` will run once per CUDA thread of
 * every block of the grid when the host synchronises with it. An invalid configuration (a zero or
 * negative extent, more than 1024 threads per block, more than 48 KiB of dynamic shared memory) is
 * reported at once and sets cudaErrorLaunchFailure (nothing is enqueued); a kernel that fails when it
 * runs is reported then, and the next synchronising call returns cudaErrorLaunchFailure. */
void dm_emu_launch(const char *kernel, void (*run)(void *), const void *args, size_t args_size,
                   struct dm_emu_extent grid, struct dm_emu_extent block, size_t shmem, cudaStream_t stream);

/* The running launch's dynamic shared memory (`shmem` bytes, 0xFF-filled before each block). */
void *dm_emu_dyn_shared(void);

/* The arguments are copied into a struct of `__typeof__` members (arrays decay, as in a call); a GNU C
 * nested function unpacks them and calls the kernel. It uses no variable of the enclosing function, so
 * gcc builds no trampoline and the stack stays non-executable (-Wtrampolines is quiet). */
#define DM_EMU_T(i, a) __typeof__(((void)0, (a))) m##i;
#define DM_EMU_FIELDS_0()
#define DM_EMU_FIELDS_1(a1)                         DM_EMU_T(1, a1)
#define DM_EMU_FIELDS_2(a1, a2)                     DM_EMU_FIELDS_1(a1) DM_EMU_T(2, a2)
#define DM_EMU_FIELDS_3(a1, a2, a3)                 DM_EMU_FIELDS_2(a1, a2) DM_EMU_T(3, a3)
#define DM_EMU_FIELDS_4(a1, a2, a3, a4)             DM_EMU_FIELDS_3(a1, a2, a3) DM_EMU_T(4, a4)
#define DM_EMU_FIELDS_5(a1, a2, a3, a4, a5)         DM_EMU_FIELDS_4(a1, a2, a3, a4) DM_EMU_T(5, a5)
#define DM_EMU_FIELDS_6(a1, a2, a3, a4, a5, a6)     DM_EMU_FIELDS_5(a1, a2, a3, a4, a5) DM_EMU_T(6, a6)
#define DM_EMU_FIELDS_7(a1, a2, a3, a4, a5, a6, a7) DM_EMU_FIELDS_6(a1, a2, a3, a4, a5, a6) DM_EMU_T(7, a7)
#define DM_EMU_FIELDS_8(a1, a2, a3, a4, a5, a6, a7, a8)                                                      \
    DM_EMU_FIELDS_7(a1, a2, a3, a4, a5, a6, a7) DM_EMU_T(8, a8)
#define DM_EMU_FIELDS_9(a1, a2, a3, a4, a5, a6, a7, a8, a9)                                                  \
    DM_EMU_FIELDS_8(a1, a2, a3, a4, a5, a6, a7, a8) DM_EMU_T(9, a9)
#define DM_EMU_FIELDS_10(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10)                                            \
    DM_EMU_FIELDS_9(a1, a2, a3, a4, a5, a6, a7, a8, a9) DM_EMU_T(10, a10)
#define DM_EMU_FIELDS_11(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11)                                       \
    DM_EMU_FIELDS_10(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) DM_EMU_T(11, a11)
#define DM_EMU_FIELDS_12(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12)                                  \
    DM_EMU_FIELDS_11(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) DM_EMU_T(12, a12)

#define DM_EMU_MEMBERS_0
#define DM_EMU_MEMBERS_1  dm_emu_a_->m1
#define DM_EMU_MEMBERS_2  DM_EMU_MEMBERS_1, dm_emu_a_->m2
#define DM_EMU_MEMBERS_3  DM_EMU_MEMBERS_2, dm_emu_a_->m3
#define DM_EMU_MEMBERS_4  DM_EMU_MEMBERS_3, dm_emu_a_->m4
#define DM_EMU_MEMBERS_5  DM_EMU_MEMBERS_4, dm_emu_a_->m5
#define DM_EMU_MEMBERS_6  DM_EMU_MEMBERS_5, dm_emu_a_->m6
#define DM_EMU_MEMBERS_7  DM_EMU_MEMBERS_6, dm_emu_a_->m7
#define DM_EMU_MEMBERS_8  DM_EMU_MEMBERS_7, dm_emu_a_->m8
#define DM_EMU_MEMBERS_9  DM_EMU_MEMBERS_8, dm_emu_a_->m9
#define DM_EMU_MEMBERS_10 DM_EMU_MEMBERS_9, dm_emu_a_->m10
#define DM_EMU_MEMBERS_11 DM_EMU_MEMBERS_10, dm_emu_a_->m11
#define DM_EMU_MEMBERS_12 DM_EMU_MEMBERS_11, dm_emu_a_->m12

/* The number of launch arguments, 0 to 12 (gcc drops the comma before an empty __VA_ARGS__). */
#define DM_EMU_NARGS_(x, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, n, ...) n

#define DM_EMU_NARGS(...) DM_EMU_NARGS_(~, ##__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define DM_EMU_CAT_(a, b) a##b
#define DM_EMU_CAT(a, b)  DM_EMU_CAT_(a, b)

#define DM_EMU_LAUNCH_N(n, k, grid, block, shmem, stream, ...)                                               \
    do {                                                                                                     \
        struct dm_emu_args {                                                                                 \
            DM_EMU_CAT(DM_EMU_FIELDS_, n)(__VA_ARGS__)                                                       \
        } dm_emu_args_ = {__VA_ARGS__};                                                                      \
        void dm_emu_run_(void *dm_emu_p_) {                                                                  \
            struct dm_emu_args *dm_emu_a_ = dm_emu_p_;                                                       \
            (void)dm_emu_a_;                                                                                 \
            k(DM_EMU_CAT(DM_EMU_MEMBERS_, n));                                                               \
        }                                                                                                    \
        dm_emu_launch(#k, dm_emu_run_, &dm_emu_args_, sizeof dm_emu_args_, DM_EMU_EXTENT(grid),              \
                      DM_EMU_EXTENT(block), (shmem), (stream));                                              \
    } while (0)
#define DM_EMU_LAUNCH(k, grid, block, shmem, stream, ...)                                                    \
    DM_EMU_LAUNCH_N(DM_EMU_NARGS(__VA_ARGS__), k, grid, block, shmem, stream, ##__VA_ARGS__)

/* ---- runtime controls, for tests and benchmarks --------------------------------------------------- */
/* Sets the fiber order: "fwd" (also NULL or ""), "rev", "rand" (a clock seed, printed on stderr) or
 * "rand:SEED" (replays a run). Returns 0, or -1 (and changes nothing) for an unknown spec. */
int dm_emu_set_sched(const char *spec);
/* The order in use, as a DM_EMU_SCHED value ("fwd", "rev", "rand:SEED"); a static buffer. */
const char *dm_emu_sched(void);
void dm_emu_set_strict(int on);
void dm_emu_set_poison(int on);
/* The last error or warning the emulator printed, without the "emu: " prefix ("" if none). */
const char *dm_emu_last_message(void);
/* Fiber resumes since the process started (a kernel's cost is about 50 ns per resume). */
unsigned long long dm_emu_resume_count(void);

/* ---- counters: what a GPU would be asked to do (emu_track.c) -------------------------------------------- */
/* Counts since the start or the last dm_emu_counters_reset(). Work captured into a graph is counted each
 * time the graph is launched (launches, copies, per kernel), plus graph_launches and graph_nodes;
 * capturing counts nothing. A cuBLAS call counts as one launch (and
 * in cublas_calls); copies by direction (cudaMemcpyDefault by where the pointers are); syncs are the
 * calls that make the host wait: cudaDeviceSynchronize, cudaStreamSynchronize, cudaEventSynchronize,
 * cudaMemcpy (the synchronous one), cudaFree and cudaFreeHost. */
typedef struct dm_emu_counters {
    unsigned long long launches;        /* kernel launches + cuBLAS calls */
    unsigned long long kernels;         /* kernel launches only */
    unsigned long long cublas_calls;
    unsigned long long h2d_bytes, d2h_bytes, d2d_bytes;
    unsigned long long h2d_copies, d2h_copies, d2d_copies;
    unsigned long long memsets, memset_bytes;
    unsigned long long syncs;           /* device-wide: 0 in a stream's counters */
    unsigned long long mallocs, frees;  /* cudaMalloc / cudaFree (device-wide) */
    unsigned long long host_allocs;     /* cudaMallocHost (device-wide) */
    unsigned long long graph_launches;  /* cudaGraphLaunch calls */
    unsigned long long graph_nodes;     /* work replayed by them (also counted above, by kind) */
    unsigned long long graph_launch_nodes; /* those of graph_nodes that are kernels or cuBLAS calls */
} dm_emu_counters;

/* The totals over every stream. */
void dm_emu_counters_get(dm_emu_counters *c);
/* One stream's launches and copies (NULL: the legacy default stream); 0 if it has none. */
void dm_emu_counters_stream(cudaStream_t stream, dm_emu_counters *c);
/* Zeroes every counter and empties the per-kernel table. */
void dm_emu_counters_reset(void);
/* Entry i (0, 1, ...) of the per-kernel table: the kernel's name (as written at the launch, or the
 * cuBLAS function), its launches, whether it is a cuBLAS call. Returns 0 past the last entry. Entries
 * appear in order of first launch since the reset; names are unique. */
int dm_emu_kernel_entry(int i, const char **name, unsigned long long *launches, int *cublas);
/* Launches of the kernel named `name` since the reset (0 if none). */
unsigned long long dm_emu_kernel_launches(const char *name);

#endif /* DM_EMU_H */
