/*
 * pool.c: the CPU backend's own threads (cpu.h, dm_cpu_parallel). OpenMP's runtime (libgomp) lets an
 * idle thread spin for up to GOMP_SPINCOUNT = 300,000 pause loops (milliseconds) before it sleeps, and
 * that policy is fixed when libgomp loads, before any of our code runs; on cores shared with other busy
 * processes those spins take the time slices the thread being waited for needs (issue 12 measured a
 * CNN step 2x slower on 2 threads than on 1, class optimisation 100x). These threads spin for a short
 * bounded time (DM_CPU_SPIN_NS, default 50 µs; the environment variable DM_SPIN_US sets it, 0 = sleep
 * at once) and then sleep on a futex, so the slowest they can be under a competing load is one futex
 * wake per region.
 *
 * One region at a time per pool: the caller publishes (fn, arg, nt) with a new generation number,
 * runs part 0 itself, and waits until the nt − 1 workers it engaged have finished. Worker w runs part
 * w + 1 of every region with nt > w + 1, unless the caller took it first: once its own part is done,
 * the caller runs every part whose worker has not claimed it yet (one compare-and-swap per part, so
 * each part runs exactly once). A part computes the same thing whichever thread runs it (no kernel
 * keeps per-thread state: scratch is indexed by part), so a result is the same as with OpenMP's static
 * schedule (bit for bit, for a given thread count), and a worker that the OS has descheduled (cores
 * shared with other busy processes) costs the caller nothing but its own parts' time.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "dm_base.h"

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
static void futex_wait(uint32_t *addr, uint32_t val) {
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}
static void futex_wake(uint32_t *addr) { syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0); }
#else   /* elsewhere: a short sleep instead of the futex (still never an unbounded spin) */
static void futex_wait(uint32_t *addr, uint32_t val) {
    struct timespec ts = {0, 20000};
    if (__atomic_load_n(addr, __ATOMIC_ACQUIRE) == val) nanosleep(&ts, NULL);
}
static void futex_wake(uint32_t *addr) { (void)addr; }
#endif

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#define DM_CPU_SPIN_NS 50000

/* One worker's words, on their own cache line. */
struct dm_cpu_worker {
    uint32_t go;               /* futex word: the generation of the last region it was given (or stop) */
    uint32_t asleep;           /* it is asleep (or going to sleep) on go */
    pthread_t tid;
    uint32_t taken;            /* the generation of the last region whose part was claimed (it or the caller) */
    struct dm_cpu_pool *pool;
    int part;
} __attribute__((aligned(64)));

struct dm_cpu_pool {
    int n_workers;
    struct dm_cpu_worker *w;
    pthread_mutex_t busy;      /* one region at a time (two host threads on one backend) */
    /* the region being run: written by the caller before the workers' go words */
    dm_cpu_task fn;
    void *arg;
    int nt;
    uint32_t gen;
    int stop;
    int64_t spin_ns;
    uint32_t pending __attribute__((aligned(64)));   /* futex word of the caller: engaged workers left */
    uint32_t caller_asleep;    /* the caller asleep (or going to sleep) on pending */
};

static _Thread_local int tls_in_region;   /* nested regions run serially on the calling thread */

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until *word != val or spin_ns have passed; 1 if it changed. */
static int spin_while(const uint32_t *word, uint32_t val, int64_t spin_ns) {
    if (spin_ns <= 0) return __atomic_load_n(word, __ATOMIC_ACQUIRE) != val;
    int64_t t_end = -1;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != val) return 1;
            cpu_relax();
        }
        int64_t t = now_ns();
        if (t_end < 0) t_end = t + spin_ns;
        else if (t >= t_end) return 0;
    }
}

/* Waits until *word != val: a bounded spin, then sleeps with *asleep set (the waker checks it). */
static void wait_change(uint32_t *word, uint32_t val, uint32_t *asleep, int64_t spin_ns) {
    if (spin_while(word, val, spin_ns)) return;
    __atomic_store_n(asleep, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(word, __ATOMIC_SEQ_CST) == val) futex_wait(word, val);
    __atomic_store_n(asleep, 0, __ATOMIC_SEQ_CST);
}

/* Claims the part of region `gen` for the calling thread: 1 if it moved *taken forward to gen, 0 if
 * the part was already claimed (by its worker or the caller) or *taken is past gen (a worker that
 * slept through regions the caller ran alone reads a stale `go`; *taken never moves backwards). */
static int claim(uint32_t *taken, uint32_t gen) {
    uint32_t t = __atomic_load_n(taken, __ATOMIC_SEQ_CST);
    while ((int32_t)(gen - t) > 0)
        if (__atomic_compare_exchange_n(taken, &t, gen, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return 1;
    return 0;
}

static void *worker_main(void *p) {
    struct dm_cpu_worker *me = p;
    struct dm_cpu_pool *pool = me->pool;
    uint32_t seen = 0;
    tls_in_region = 1;
    for (;;) {
        wait_change(&me->go, seen, &me->asleep, pool->spin_ns);
        seen = __atomic_load_n(&me->go, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&pool->stop, __ATOMIC_ACQUIRE)) return NULL;
        /* the caller may have run this part already (and even begun the next region: then `go` has
         * moved on and the next wait returns at once); fn, arg and nt are read only after the claim,
         * while the caller still waits for this part */
        if (!claim(&me->taken, seen)) continue;
        pool->fn(pool->arg, me->part, pool->nt);
        if (__atomic_sub_fetch(&pool->pending, 1, __ATOMIC_SEQ_CST) == 0 &&
            __atomic_load_n(&pool->caller_asleep, __ATOMIC_SEQ_CST))
            futex_wake(&pool->pending);
    }
}

static int64_t spin_setting(void) {
    const char *env = getenv("DM_SPIN_US");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 0 && v <= 1000000) return (int64_t)v * 1000;
    }
    return DM_CPU_SPIN_NS;
}

struct dm_cpu_pool *dm_cpu_pool_create(int n_threads) {
    if (n_threads < 2) return NULL;
    struct dm_cpu_pool *pool = dm_aligned_alloc(64, sizeof *pool);
    if (!pool) return NULL;
    memset(pool, 0, sizeof *pool);
    pool->w = dm_aligned_alloc(64, sizeof(struct dm_cpu_worker) * (size_t)(n_threads - 1));
    if (!pool->w || pthread_mutex_init(&pool->busy, NULL)) {
        free(pool->w);
        free(pool);
        return NULL;
    }
    memset(pool->w, 0, sizeof(struct dm_cpu_worker) * (size_t)(n_threads - 1));
    pool->spin_ns = spin_setting();
    for (int w = 0; w < n_threads - 1; w++) {
        pool->w[w].pool = pool;
        pool->w[w].part = w + 1;
        if (pthread_create(&pool->w[w].tid, NULL, worker_main, &pool->w[w])) break;
        pool->n_workers++;
    }
    return pool;
}

void dm_cpu_pool_free(struct dm_cpu_pool *pool) {
    if (!pool) return;
    __atomic_store_n(&pool->stop, 1, __ATOMIC_SEQ_CST);
    for (int w = 0; w < pool->n_workers; w++) {
        __atomic_fetch_add(&pool->w[w].go, 1, __ATOMIC_SEQ_CST);
        futex_wake(&pool->w[w].go);
    }
    for (int w = 0; w < pool->n_workers; w++) pthread_join(pool->w[w].tid, NULL);
    pthread_mutex_destroy(&pool->busy);
    free(pool->w);
    free(pool);
}

int dm_cpu_pool_workers(const struct dm_cpu_pool *pool) { return pool ? pool->n_workers : 0; }

void dm_cpu_pool_run(struct dm_cpu_pool *pool, dm_cpu_task fn, void *arg, int nt) {
    /* serially (same parts, same results) where no worker can take them: nested, busy or too few */
    if (nt <= 1 || !pool || tls_in_region || nt - 1 > pool->n_workers || pthread_mutex_trylock(&pool->busy)) {
        int outer = tls_in_region;
        tls_in_region = 1;
        for (int t = 0; t < nt; t++) fn(arg, t, nt);
        tls_in_region = outer;
        return;
    }
    tls_in_region = 1;
    pool->fn = fn;
    pool->arg = arg;
    pool->nt = nt;
    pool->gen++;
    __atomic_store_n(&pool->pending, (uint32_t)(nt - 1), __ATOMIC_SEQ_CST);
    for (int w = 0; w < nt - 1; w++) {      /* engage workers 0 .. nt − 2 (parts 1 .. nt − 1) */
        __atomic_store_n(&pool->w[w].go, pool->gen, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&pool->w[w].asleep, __ATOMIC_SEQ_CST)) futex_wake(&pool->w[w].go);
    }
    fn(arg, 0, nt);
    for (int w = 0; w < nt - 1; w++)        /* parts no worker has claimed yet: run them here */
        if (claim(&pool->w[w].taken, pool->gen)) {
            fn(arg, w + 1, nt);
            __atomic_sub_fetch(&pool->pending, 1, __ATOMIC_SEQ_CST);
        }
    uint32_t left;
    while ((left = __atomic_load_n(&pool->pending, __ATOMIC_ACQUIRE)) != 0)
        wait_change(&pool->pending, left, &pool->caller_asleep, pool->spin_ns);
    tls_in_region = 0;
    pthread_mutex_unlock(&pool->busy);
}
