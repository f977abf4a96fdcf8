/*
 * test_cpu_threads.c: the CPU backend's own threads (kernels/cpu/pool.c) and the fused conv → ReLU.
 *  - every part of a region runs exactly once, on its worker or on the caller (which runs the parts
 *    no worker has claimed once its own is done), over many back-to-back regions (with the default
 *    bounded spin and with DM_SPIN_US=0, sleeping at once);
 *  - a worker held in a signal handler (as if the OS had descheduled it) stalls nothing: the caller
 *    runs its parts, 2,000 regions complete, and once released the worker takes its parts again;
 *  - a region started inside a region runs all its parts (serially), as does one with more parts than
 *    the backend has threads;
 *  - dm_cpu_parallel_for (spans claimed in turn) gives every index to exactly one span, none under the
 *    grain;
 *  - idle threads sleep: while the process waits 300 ms after a burst of regions, its threads use far
 *    less CPU time than that (a thread that kept spinning would use all of it);
 *  - the fast conv1d_relu_fwd is bit for bit the fast conv1d_fwd followed by relu_fwd (the same sums in
 *    the same order, then the same comparison), for 1, 2 and 3 threads and batches smaller than them.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "cpu/cpu.h"
#include "testutil.h"

typedef struct {
    int nt;
    int *count;          /* [region][part] */
    pthread_t *who;      /* the thread of each part of region 0 of each run */
    int region;
} count_job;

static void count_part(void *p, int t, int nt) {
    count_job *j = p;
    cr_assert_eq(nt, j->nt);
    __atomic_fetch_add(&j->count[(size_t)j->region * nt + t], 1, __ATOMIC_RELAXED);
    j->who[(size_t)j->region * nt + t] = pthread_self();
}

static void run_regions(int threads, int nt, int regions) {
    dm_backend *be = dm_backend_cpu_create(threads);
    cr_assert(be);
    count_job j = {nt, calloc((size_t)regions * nt, sizeof(int)), calloc((size_t)regions * nt, sizeof(pthread_t)), 0};
    cr_assert(j.count && j.who);
    for (j.region = 0; j.region < regions; j.region++) dm_cpu_parallel(be, nt, count_part, &j);
    for (int r = 0; r < regions; r++)
        for (int t = 0; t < nt; t++) {
            cr_assert_eq(j.count[(size_t)r * nt + t], 1, "region %d part %d ran %d times", r, t,
                         j.count[(size_t)r * nt + t]);
            /* part t on its worker or on the caller, never on another worker */
            pthread_t w = j.who[(size_t)r * nt + t];
            if (!pthread_equal(w, pthread_self())) {
                cr_assert(nt <= threads && t > 0, "part %d of %d ran on a worker with %d threads", t, nt, threads);
                for (int u = 1; u < nt; u++)
                    if (u != t) cr_assert(!pthread_equal(w, j.who[(size_t)r * nt + u]), "two parts on one worker");
            }
        }
    cr_assert(pthread_equal(j.who[0], pthread_self()), "part 0 runs on the caller");
    free(j.count);
    free(j.who);
    dm_backend_free(be);
}

Test(cpu_threads, every_part_once) {
    run_regions(2, 2, 20000);
    run_regions(4, 4, 5000);
    run_regions(4, 2, 5000);    /* fewer parts than threads: the others stay out */
    run_regions(2, 3, 100);     /* more parts than threads: in order on the caller */
    run_regions(1, 2, 100);
}

Test(cpu_threads, every_part_once_sleeping) {
    setenv("DM_SPIN_US", "0", 1);    /* read when a backend is created */
    run_regions(2, 2, 5000);
    run_regions(3, 3, 2000);
    unsetenv("DM_SPIN_US");
}

/* A worker stopped before it can claim its part: SIGUSR1 on its thread blocks it in the handler until
 * the test posts the semaphore (sem_wait and sem_post are async-signal-safe). */
static sem_t hold, held;
static void hold_handler(int sig) {
    (void)sig;
    sem_post(&held);
    while (sem_wait(&hold) != 0) {}
}

/* Part 0 (the caller's) waits up to 2 s for part 1 to start, so part 1 runs on the worker: a region
 * whose parts are trivial otherwise ends with the caller having taken part 1 before the worker woke. */
typedef struct {
    int started;
    pthread_t who;
} sync_job;
static void sync_part(void *p, int t, int nt) {
    sync_job *j = p;
    (void)nt;
    if (t == 1) {
        j->who = pthread_self();
        __atomic_store_n(&j->started, 1, __ATOMIC_RELEASE);
        return;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (__atomic_load_n(&j->started, __ATOMIC_ACQUIRE)) return;
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) < 2000000000L);
}

Test(cpu_threads, stalled_worker_costs_the_caller_its_parts) {
    dm_backend *be = dm_backend_cpu_create(2);
    cr_assert(be);
    sync_job sj = {0};
    dm_cpu_parallel(be, 2, sync_part, &sj);   /* part 1 on the worker: that is its thread */
    cr_assert(sj.started && !pthread_equal(sj.who, pthread_self()), "part 1 did not run on a worker within 2 s");
    pthread_t worker = sj.who;
    int regions = 2000;
    count_job j = {2, calloc((size_t)regions * 2, sizeof(int)), calloc((size_t)regions * 2, sizeof(pthread_t)), 0};
    cr_assert(j.count && j.who);
    cr_assert(sem_init(&hold, 0, 0) == 0 && sem_init(&held, 0, 0) == 0);
    struct sigaction sa = {0};
    sa.sa_handler = hold_handler;
    sigemptyset(&sa.sa_mask);
    cr_assert(sigaction(SIGUSR1, &sa, NULL) == 0);
    cr_assert(pthread_kill(worker, SIGUSR1) == 0);
    while (sem_wait(&held) != 0) {}
    /* the worker is held: without the caller taking its parts the first region would never end (the
     * ctest timeout would) */
    for (j.region = 0; j.region < regions; j.region++) dm_cpu_parallel(be, 2, count_part, &j);
    for (int r = 0; r < regions; r++) {
        cr_assert_eq(j.count[2 * r] + 10 * j.count[2 * r + 1], 11, "region %d: parts ran %d and %d times", r,
                     j.count[2 * r], j.count[2 * r + 1]);
        cr_assert(pthread_equal(j.who[2 * r + 1], pthread_self()), "region %d: part 1 ran on the held worker", r);
    }
    sem_post(&hold);
    /* released, it finds those regions taken and takes its part of new ones again */
    sj.started = 0;
    dm_cpu_parallel(be, 2, sync_part, &sj);
    cr_assert(sj.started && pthread_equal(sj.who, worker), "the released worker did not run part 1 within 2 s");
    signal(SIGUSR1, SIG_DFL);
    sem_destroy(&hold);
    sem_destroy(&held);
    free(j.count);
    free(j.who);
    dm_backend_free(be);
}

typedef struct {
    dm_backend *be;
    int inner[4][4];
} nest_job;

static void inner_part(void *p, int t, int nt) {
    int *row = p;
    row[t]++;
}

static void outer_part(void *p, int t, int nt) {
    nest_job *j = p;
    dm_cpu_parallel(j->be, 4, inner_part, j->inner[t]);
}

Test(cpu_threads, nested_regions_run_serially) {
    nest_job j = {dm_backend_cpu_create(2), {{0}}};
    cr_assert(j.be);
    dm_cpu_parallel(j.be, 2, outer_part, &j);
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 4; k++) cr_assert_eq(j.inner[t][k], 1);
    dm_backend_free(j.be);
}

/* dm_cpu_parallel_for: every index of [0, n) in exactly one span, no span under the grain (save a
 * whole n under it), for several n, grains and thread counts (the spans are claimed in turn) */
typedef struct {
    int *seen;
    int64_t grain, n;
    int short_spans;   /* spans under the grain */
} span_check;

static void count_span(void *p, int64_t i0, int64_t i1) {
    span_check *c = p;
    if (i1 - i0 < c->grain && i1 - i0 < c->n) __atomic_fetch_add(&c->short_spans, 1, __ATOMIC_RELAXED);
    for (int64_t i = i0; i < i1; i++) __atomic_fetch_add(&c->seen[i], 1, __ATOMIC_RELAXED);
}

Test(cpu_threads, parallel_for_covers_every_index_once) {
    const int64_t ns[] = {0, 1, 7, 8191, 8192, 3 * 8192 + 5, 100003};
    const int64_t grains[] = {1, 3, 8192};
    for (int nt = 1; nt <= 3; nt++) {
        dm_backend *be = dm_backend_cpu_create(nt);
        cr_assert(be);
        for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
                for (int rep = 0; rep < 20; rep++) {
                    span_check c = {calloc((size_t)ns[a] + 1, sizeof(int)), grains[g], ns[a], 0};
                    cr_assert(c.seen);
                    dm_cpu_parallel_for(be, ns[a], grains[g], count_span, &c);
                    int64_t bad = 0;
                    for (int64_t i = 0; i < ns[a]; i++) bad += c.seen[i] != 1;
                    cr_assert_eq(bad, 0, "n %ld grain %ld, %d threads: %ld indices not seen exactly once",
                                 (long)ns[a], (long)grains[g], nt, (long)bad);
                    cr_assert_eq(c.short_spans, 0, "n %ld grain %ld, %d threads: a span under the grain",
                                 (long)ns[a], (long)grains[g], nt);
                    free(c.seen);
                }
        dm_backend_free(be);
    }
}

static void busy_part(void *p, int t, int nt) {
    volatile double *x = p;
    for (int i = 0; i < 2000; i++) x[t] += 1e-9 * i;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

Test(cpu_threads, idle_threads_sleep) {
    dm_backend *be = dm_backend_cpu_create(4);
    cr_assert(be);
    double x[4] = {0};
    for (int r = 0; r < 2000; r++) dm_cpu_parallel(be, 4, busy_part, x);
    double c0 = cpu_seconds();
    struct timespec idle = {0, 300000000};
    nanosleep(&idle, NULL);
    double used = cpu_seconds() - c0;
    /* 3 workers spin at most DM_SPIN_US (50 µs) each before sleeping; 30 ms leaves room for scheduler
     * noise and a slow clock, against the 900 ms that three threads spinning through the wait use */
    cr_assert_lt(used, 0.030, "idle worker threads used %.3f s of CPU in 0.3 s", used);
    dm_backend_free(be);
}

/* conv → ReLU: the fused pass against the unfused pair of the same (fast) backend, byte for byte */
static void check_conv_relu(int threads, int B, int Li, int Ci, int Co, int K, int pad) {
    dm_backend *be = dm_backend_cpu_create(threads);
    cr_assert(be);
    int Lo = Li + 2 * pad - K + 1;
    size_t nin = (size_t)B * Li * Ci, nw = (size_t)Co * K * Ci, nout = (size_t)B * Lo * Co;
    float *in = malloc(4 * nin), *w = malloc(4 * nw), *b = malloc(4 * (size_t)Co);
    float *fused = malloc(4 * nout), *pair = malloc(4 * nout);
    cr_assert(in && w && b && fused && pair);
    dm_test_fill_uniform(in, nin, -1, 1, 11);
    dm_test_fill_uniform(w, nw, -1, 1, 12);
    dm_test_fill_uniform(b, Co, -0.5f, 0.5f, 13);
    be->i->conv1d_relu_fwd(be, fused, in, w, b, B, Li, Ci, Co, K, pad);
    be->i->conv1d_fwd(be, pair, in, w, b, B, Li, Ci, Co, K, pad);
    be->i->relu_fwd(be, pair, pair, (int64_t)nout);
    cr_assert_eq(dm_backend_status(be), DM_STATUS_OK);
    cr_assert(memcmp(fused, pair, 4 * nout) == 0, "conv1d_relu_fwd threads %d B%d Li%d Ci%d Co%d K%d pad%d differs",
              threads, B, Li, Ci, Co, K, pad);
    size_t zeros = 0;
    for (size_t i = 0; i < nout; i++) zeros += fused[i] == 0.0f;
    cr_assert(zeros > 0 && zeros < nout, "the ReLU cut some outputs and kept others");
    free(in); free(w); free(b); free(fused); free(pair);
    dm_backend_free(be);
}

Test(cpu_threads, conv_relu_fused_is_the_pair) {
    for (int threads = 1; threads <= 3; threads++) {
        check_conv_relu(threads, 1, 1, 1, 3, 1, 0);
        check_conv_relu(threads, 2, 17, 4, 7, 5, 2);
        check_conv_relu(threads, 7, 101, 4, 16, 9, 4);     /* CNN-RNN's padded conv */
        check_conv_relu(threads, 64, 101, 4, 128, 9, 0);   /* the CNN's first layer */
        check_conv_relu(threads, 16, 46, 128, 32, 5, 0);   /* a second layer: many channels in */
    }
}
