/*
 * backend_cpu.c: the CPU backend's table. Memory is host memory (64-byte aligned); ops are the fast
 * versions, or the naive references for the "cpu-ref" backend (the oracle of the tests), or for
 * "cpu-reproducible" the fixed-order kernels (repro.h) with the references and the split-independent fast ops.
 */
#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "repro.h"
#include "dm_base.h"

#define DM_CPU_MAX_THREADS 64
#define DM_CPU_SLOTS 4

/* Per-thread scratch buffers, grown on demand and kept for the backend's lifetime. */
typedef struct dm_cpu_ctx {
    float *buf[DM_CPU_MAX_THREADS][DM_CPU_SLOTS];
    size_t cap[DM_CPU_MAX_THREADS][DM_CPU_SLOTS];
    int64_t n_grow;            /* how often a buffer was (re)allocated: flat after the first step */
    int64_t n_alloc;           /* calls of the table's alloc (backend memory), for the tests */
    struct dm_cpu_pool *pool;  /* threads 1 .. n_threads − 1 (pool.c); NULL with one thread */
} dm_cpu_ctx;

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

void dm_cpu_parallel(dm_backend *be, int nt, dm_cpu_task fn, void *arg) {
    dm_cpu_pool_run(((dm_cpu_ctx *)be->ctx)->pool, fn, arg, nt);
}

/* The span is cut into up to SPAN_UNITS units per thread (none under the grain), which the threads
 * claim in turn: a thread the OS sets aside (cores shared with other busy processes) holds up one unit,
 * not its whole share. Results never depend on the split (dm_cpu_parallel_for's contract). */
#define SPAN_UNITS 4
typedef struct {
    dm_cpu_span_task fn;
    void *arg;
    int64_t n, nu;
    int64_t next;   /* the next unclaimed unit */
} span_job;

static void span_part(void *p, int t, int nt) {
    (void)t, (void)nt;
    span_job *j = p;
    for (int64_t u; (u = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->nu;) {
        int64_t i0 = j->n * u / j->nu, i1 = j->n * (u + 1) / j->nu;
        if (i1 > i0) j->fn(j->arg, i0, i1);
    }
}

void dm_cpu_parallel_for(dm_backend *be, int64_t n, int64_t grain, dm_cpu_span_task fn, void *arg) {
    int64_t most = grain > 1 ? n / grain : n;
    int nt = most < be->n_threads ? (int)(most < 1 ? 1 : most) : be->n_threads;
    if (nt <= 1) {
        if (n > 0) fn(arg, 0, n);
        return;
    }
    int64_t nu = (int64_t)SPAN_UNITS * nt;
    span_job j = {fn, arg, n, most < nu ? most : nu, 0};
    dm_cpu_parallel(be, nt, span_part, &j);
}

float *dm_cpu_scratch(dm_backend *be, int t, int slot, size_t n) {
    dm_cpu_ctx *ctx = be->ctx;
    if (n <= ctx->cap[t][slot]) return ctx->buf[t][slot];
    free(ctx->buf[t][slot]);
    ctx->buf[t][slot] = n > SIZE_MAX / sizeof(float) ? NULL : dm_aligned_alloc(64, n * sizeof(float));
    ctx->cap[t][slot] = ctx->buf[t][slot] ? n : 0;
    __atomic_fetch_add(&ctx->n_grow, 1, __ATOMIC_RELAXED);
    if (!ctx->buf[t][slot]) {
        pthread_mutex_lock(&fail_lock);
        dm_backend_fail(be, DM_STATUS_NOMEM, "cpu backend: out of memory for scratch");
        pthread_mutex_unlock(&fail_lock);
    }
    return ctx->buf[t][slot];
}

int64_t dm_cpu_scratch_grows(const dm_backend *be) { return ((const dm_cpu_ctx *)be->ctx)->n_grow; }

/* ---- the ISA level of the dispatched loops (cpu.h) ---- */

static int isa_forced = -1, isa_auto = -1;

int dm_cpu_isa_supported(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();   /* libgcc checks the OS saves the AVX / AVX-512 state (XGETBV) too */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return DM_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return DM_ISA_AVX2;
#endif
    return DM_ISA_PORTABLE;
}

const char *dm_cpu_isa_name(int level) {
    return level == DM_ISA_AVX512 ? "avx512" : level == DM_ISA_AVX2 ? "avx2" : "portable";
}

int dm_cpu_isa(void) {
    if (isa_forced >= 0) return isa_forced;
    int level = __atomic_load_n(&isa_auto, __ATOMIC_RELAXED);
    if (level < 0) {   /* racing first calls compute the same value */
        level = dm_cpu_isa_supported();
        const char *env = getenv("DM_CPU_ISA");
        for (int l = 0; env && l < level; l++)
            if (strcmp(env, dm_cpu_isa_name(l)) == 0) level = l;
        __atomic_store_n(&isa_auto, level, __ATOMIC_RELAXED);
    }
    return level;
}

int dm_cpu_isa_force(int level) {
    int top = dm_cpu_isa_supported();
    isa_forced = level < 0 ? -1 : (level > top ? top : level);
    return dm_cpu_isa();
}

static void *cpu_alloc(dm_backend *be, size_t bytes) {
    ((dm_cpu_ctx *)be->ctx)->n_alloc++;   /* alloc is called from the host thread only */
    void *p = dm_aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

static void cpu_free(dm_backend *be, void *p) { free(p); }

int64_t dm_cpu_alloc_count(const dm_backend *be) { return ((const dm_cpu_ctx *)be->ctx)->n_alloc; }
static void cpu_copy(dm_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
}
static void cpu_memset0(dm_backend *be, void *dst, size_t bytes) { memset(dst, 0, bytes); }
static void cpu_sync(dm_backend *be) {}

static void cpu_destroy(dm_backend *be) {
    dm_cpu_ctx *ctx = be->ctx;
    dm_cpu_pool_free(ctx->pool);
    for (int t = 0; t < DM_CPU_MAX_THREADS; t++)
        for (int s = 0; s < DM_CPU_SLOTS; s++) free(ctx->buf[t][s]);
    free(ctx);
}

#define DM_CPU_TABLE(sfx)                                                                          \
    {                                                                                              \
        .alloc = cpu_alloc, .free = cpu_free, .upload = cpu_copy, .download = cpu_copy,            \
        .copy = cpu_copy, .memset0 = cpu_memset0, .sync = cpu_sync, .destroy = cpu_destroy,                          \
        .onehot = dm_cpu_onehot##sfx, .conv1d_fwd = dm_cpu_conv1d_fwd##sfx,                        \
        .conv1d_bwd = dm_cpu_conv1d_bwd##sfx, .relu_fwd = dm_cpu_relu_fwd##sfx,                    \
        .relu_bwd = dm_cpu_relu_bwd##sfx, .maxpool_fwd = dm_cpu_maxpool_fwd##sfx,                  \
        .maxpool_bwd = dm_cpu_maxpool_bwd##sfx, .gmax_fwd = dm_cpu_gmax_fwd##sfx,                  \
        .gmax_bwd = dm_cpu_gmax_bwd##sfx, .dropout_fwd = dm_cpu_dropout_fwd##sfx,                  \
        .dropout_bwd = dm_cpu_dropout_bwd##sfx, .lstm_fwd = dm_cpu_lstm_fwd##sfx,                  \
        .lstm_bwd = dm_cpu_lstm_bwd##sfx, .mean_time_fwd = dm_cpu_mean_time_fwd##sfx,              \
        .mean_time_bwd = dm_cpu_mean_time_bwd##sfx, .dense_fwd = dm_cpu_dense_fwd##sfx,            \
        .dense_bwd = dm_cpu_dense_bwd##sfx, .logsoftmax_fwd = dm_cpu_logsoftmax_fwd##sfx,          \
        .logsoftmax_bwd = dm_cpu_logsoftmax_bwd##sfx, .nll = dm_cpu_nll##sfx,                      \
        .adam = dm_cpu_adam##sfx, .gather = dm_cpu_gather##sfx,                                    \
        .optin_project = dm_cpu_optin_project##sfx, .optin_objective = dm_cpu_optin_objective##sfx, \
        .optin_rmsprop = dm_cpu_optin_rmsprop##sfx, .lerp = dm_cpu_lerp##sfx,                      \
        .axpy = dm_cpu_axpy##sfx, .ism_variants = dm_cpu_ism_variants##sfx,                        \
        .ism_collect = dm_cpu_ism_collect##sfx, .ism_reduce = dm_cpu_ism_reduce##sfx,              \
        .ism_window = dm_cpu_ism_window##sfx,                                                      \
        .lstm_trunc = DM_CPU_LSTM_TRUNC##sfx, .lstm_infer = DM_CPU_LSTM_INFER##sfx,                \
        .conv1d_relu_fwd = dm_cpu_conv1d_relu_fwd##sfx, .head_fwd = dm_cpu_head_fwd,                    \
        .head_bwd = dm_cpu_head_bwd, .maxpool_relu_bwd = dm_cpu_maxpool_relu_bwd##sfx,                 \
        .gmax_relu_bwd = dm_cpu_gmax_relu_bwd##sfx, .conv1d_pool_dx = dm_cpu_conv1d_pool_dx##sfx,       \
        .conv1d_pool_fwd = DM_CPU_CONV1D_POOL_FWD##sfx, .relu_pool_bwd = DM_CPU_RELU_POOL_BWD##sfx,     \
        .conv1d_pool_noact = DM_CPU_CONV1D_POOL_NOACT##sfx, .solo = DM_CPU_SOLO##sfx,                    \
    }

/* The truncated reruns of temporal scores: the reference has the op; the fast backend leaves it to the
 * host (per-truncation lstm_fwd calls, its threaded path). */
#define DM_CPU_LSTM_TRUNC     NULL
#define DM_CPU_LSTM_TRUNC_ref dm_cpu_lstm_trunc_ref
/* Inference without the saved gates and cells: the fast backend's (lstm_fused.c); the reference keeps
 * lstm_fwd (the host then passes it the arena's buffers). */
#define DM_CPU_LSTM_INFER     dm_cpu_lstm_infer
#define DM_CPU_LSTM_INFER_ref NULL

/* The CNN block fused (conv → ReLU → pool → dropout): the reference has the entries (the reference ops in
 * sequence, fused.c; the oracle of the CUDA kernels); the fast backend leaves them NULL, so its model walk
 * runs its own conv → ReLU and the pool, dropout and ReLU ops one by one, as before. */
#define DM_CPU_CONV1D_POOL_FWD     NULL
#define DM_CPU_CONV1D_POOL_FWD_ref dm_cpu_conv1d_pool_fwd
#define DM_CPU_RELU_POOL_BWD       NULL
#define DM_CPU_RELU_POOL_BWD_ref   dm_cpu_relu_pool_bwd
/* conv → ReLU → pool without the activation (conv1d.c): the fast backend only. */
#define DM_CPU_CONV1D_POOL_NOACT     dm_cpu_conv1d_pool_noact
#define DM_CPU_CONV1D_POOL_NOACT_ref NULL

/* One-thread copies for hosts that split rows themselves: the fast and fixed-order backends (the
 * reference has one thread already). */
static dm_backend *cpu_solo(dm_backend *be);
#define DM_CPU_SOLO     cpu_solo
#define DM_CPU_SOLO_ref NULL

static const struct dm_backend_i dm_cpu_table = DM_CPU_TABLE();
static const struct dm_backend_i dm_cpu_ref_table = DM_CPU_TABLE(_ref);

static dm_backend *cpu_create(const struct dm_backend_i *table, const char *name, int n_threads) {
    dm_backend *be = calloc(1, sizeof *be);
    dm_cpu_ctx *ctx = calloc(1, sizeof *ctx);
    if (!be || !ctx) {
        free(be);
        free(ctx);
        return NULL;
    }
    if (n_threads <= 0) n_threads = omp_get_num_procs();
    be->i = table;
    be->name = name;
    be->n_threads = n_threads > DM_CPU_MAX_THREADS ? DM_CPU_MAX_THREADS : n_threads;
    be->ctx = ctx;
    ctx->pool = dm_cpu_pool_create(be->n_threads);   /* without it (no threads) regions run in order */
    /* deepmotif runs its own threads: BLAS must not add more (PERFORMANCE.md §3) */
    openblas_set_num_threads(1);
    return be;
}

dm_backend *dm_backend_cpu_create(int n_threads) { return cpu_create(&dm_cpu_table, "cpu", n_threads); }
static dm_backend *cpu_solo(dm_backend *be) { return cpu_create(be->i, be->name, 1); }
dm_backend *dm_backend_cpu_ref_create(void) { return cpu_create(&dm_cpu_ref_table, "cpu-ref", 1); }

/* --reproducible: the fixed-order kernels (repro.h: repro_gemm.c, repro_lstm.c) for the products (conv,
 * LSTM, dense), threaded over outputs, never over a sum; the other ops are the references (plain loops in a
 * fixed order, one thread, no BLAS, no ISA dispatch), without the fused head (the model then runs dense and
 * log-softmax one by one). The same binary then computes the same bits on any x86-64 CPU and for any
 * thread count. */
static struct dm_backend_i dm_cpu_repro_table;
dm_backend *dm_backend_cpu_reproducible_create(int n_threads) {
    dm_cpu_repro_table = dm_cpu_ref_table;   /* (same bytes every call: no race that matters) */
    dm_cpu_repro_table.head_fwd = NULL;
    dm_cpu_repro_table.head_bwd = NULL;
    dm_cpu_repro_table.solo = cpu_solo;
    dm_cpu_repro_table.conv1d_fwd = dm_cpu_conv1d_fwd_fixed;
    dm_cpu_repro_table.conv1d_bwd = dm_cpu_conv1d_bwd_fixed;
    dm_cpu_repro_table.dense_fwd = dm_cpu_dense_fwd_fixed;
    dm_cpu_repro_table.dense_bwd = dm_cpu_dense_bwd_fixed;
    dm_cpu_repro_table.lstm_fwd = dm_cpu_lstm_fwd_fixed;
    dm_cpu_repro_table.lstm_bwd = dm_cpu_lstm_bwd_fixed;
    /* the fast element-wise and selection ops whose every result is one IEEE operation or a comparison
     * (the same at every ISA level and split): ReLU, dropout (Philox mask, one product), max-pooling and
     * the global max (comparisons), the mean over time (a float sum per element in position order, then a
     * division). Adam stays the reference: its fast copies contract into FMA at the AVX2 level. */
    dm_cpu_repro_table.relu_fwd = dm_cpu_relu_fwd;
    dm_cpu_repro_table.relu_bwd = dm_cpu_relu_bwd;
    dm_cpu_repro_table.dropout_fwd = dm_cpu_dropout_fwd;
    dm_cpu_repro_table.dropout_bwd = dm_cpu_dropout_bwd;
    dm_cpu_repro_table.maxpool_fwd = dm_cpu_maxpool_fwd;
    dm_cpu_repro_table.maxpool_bwd = dm_cpu_maxpool_bwd;
    dm_cpu_repro_table.gmax_fwd = dm_cpu_gmax_fwd;
    dm_cpu_repro_table.gmax_bwd = dm_cpu_gmax_bwd;
    dm_cpu_repro_table.mean_time_fwd = dm_cpu_mean_time_fwd;
    dm_cpu_repro_table.mean_time_bwd = dm_cpu_mean_time_bwd;
    dm_backend *be = cpu_create(&dm_cpu_repro_table, "cpu-reproducible", n_threads);
    if (be)
        snprintf(be->label, sizeof be->label, "cpu-reproducible: fixed-order kernels, %d thread%s", be->n_threads,
                 be->n_threads == 1 ? "" : "s");
    return be;
}
