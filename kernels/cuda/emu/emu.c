/*
 * emu.c: the CPU runtime of the CUDA emulator (CUDA-EMULATION.md §2): fibers, the block scheduler,
 * warp operations, barriers, and the CUDA runtime API of include/cuda_runtime.h.
 *
 * Longer than 800 lines because: the fiber switch, the round scheduler, the warp-operation resolver
 * and the barrier rules share one block state and one set of invariants (below); split across files
 * they would have to expose that state, which is what keeps the emulator's checks exact. It is test
 * infrastructure, not part of the library.
 *
 * Fibers. Every CUDA thread of a block is a fiber with a 64 KiB mmap'd stack below a guard page.
 * Fibers are created once, on demand up to the largest block seen (at most 1024), and reused by every
 * block and launch: a fiber loops "run the kernel for the current block, mark itself exited, yield".
 * A switch is _setjmp/_longjmp (after one makecontext bootstrap per fiber), about 50 ns per resume;
 * swapcontext, which makes a signal-mask system call per switch, is used only in sanitizer builds,
 * whose fiber hooks need it (or with -DDM_EMU_FORCE_SWAPCONTEXT, to measure it).
 *
 * Scheduling. A block runs in rounds: every runnable fiber, in DM_EMU_SCHED order (fwd, rev, or a
 * fresh xorshift permutation per round for rand), runs until it blocks at __syncthreads(), at a warp
 * operation, or on return. After a round nothing is runnable, and:
 *   1. warp operations resolve first: a group resolves when every lane its mask names waits at the
 *      same operation (kind and call site; __syncwarp may differ in site) with the same mask; all
 *      results are computed at once with CUDA's width and out-of-range rules;
 *   2. if no group resolved, a waiting warp operation is an error: its mask names a lane that does not
 *      exist, or has exited, or waits at another warp operation or mask, or waits at __syncthreads()
 *      (a deadlock);
 *   3. otherwise every live thread waits at a barrier: released if all wait at the same call site,
 *      else a "divergent barrier" error. Exited threads give a warning (an error if strict).
 * Fatal errors abandon the launch (the fibers, stopped mid-kernel, are destroyed and recreated next
 * time).
 *
 * Blocks. A launch is enqueued (emu_queue.c) and runs from a synchronising call. fwd and rev run its
 * blocks one after another. rand runs them in waves of up to DM_EMU_MAX_SLOTS blocks (at most
 * DM_EMU_MAX_FIBERS fibers): each round visits the wave's live blocks in a fresh random order and runs
 * one round of each, swapping the block's copy of the __shared__ section in (a memcpy of the section,
 * about 20 KB, per block and round: that and the extra fibers are the cost). Barrier and warp sync
 * objects are per slot. ThreadSanitizer and AddressSanitizer builds run one block at a time: blocks in
 * flight together share the section's addresses, and without a way to reset TSan's shadow of it (gcc
 * 12's libtsan makes AnnotateNewMemory a no-op) two blocks' accesses to their own shared memory would
 * be reported as races; so inter-block races show in results (plain rand builds), and TSan sees the
 * races within a block. A shuffle reading a lane outside its mask or with an invalid width is an error too, but the
 * lane just receives 0xFF bits (NaN) and the block goes on.
 *
 * ThreadSanitizer builds (__SANITIZE_THREAD__). Each fiber is a TSan fiber named "cuda thread N".
 * Switching into a fiber synchronises (host writes before the launch are visible), switching back
 * does not, so fibers are ordered only by what CUDA orders them by: __syncthreads() releases on
 * arrival and acquires after release on one of two sync objects chosen by barrier-generation parity
 * (with one object, a fast thread releasing at the next barrier would leak into a slow thread's
 * acquire and hide races); __syncwarp does the same on per-warp objects; shuffles do not synchronise.
 * A fiber's exit releases a "done" object the scheduler acquires after each block (each wave under
 * rand), so blocks of different waves are ordered (and every blocking point a "stop" object, acquired when a failed launch is abandoned). The
 * scheduler's and the runtime's own bookkeeping accesses are ignored.
 *
 * AddressSanitizer builds announce every switch with __sanitizer_start/finish_switch_fiber. ASan
 * prints a one-line warning about swapcontext; it caused no false positives.
 *
 * Not thread-safe: one host thread launches kernels and calls the runtime API.
 */
#undef _FORTIFY_SOURCE /* its __longjmp_chk aborts on a jump to another (fiber) stack */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "emu.h"
#include "emu_queue.h"
#include "emu_track.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(DM_EMU_FORCE_SWAPCONTEXT)
#define DM_EMU_SWAPCONTEXT 1
#endif
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef __SANITIZE_THREAD__
#include <sanitizer/tsan_interface.h>
/* Exported by libtsan but missing from gcc 12's tsan_interface.h: ignore this fiber's memory
 * accesses (not its synchronisation) until the matching end. */
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#endif

/* Per-fiber stack (sanitizer reports, which run on it, fit too); a GPU thread has about 1 KiB. */
#define DM_EMU_STACK_SIZE     (64u << 10)
#define DM_EMU_MAX_THREADS    1024u
#define DM_EMU_MAX_DYN_SHARED (48u << 10)
#define DM_EMU_POISON_BYTE    0xFF
/* rand interleaves up to this many blocks of a launch, and never more fibers than DM_EMU_MAX_FIBERS */
#define DM_EMU_MAX_SLOTS  4u
#define DM_EMU_MAX_FIBERS 2048u

/* Bounds of all __shared__ arrays (emu.h places them in this section); weak, so a program without
 * any still links (both are then NULL). */
extern char __start_dm_emu_shared[] __attribute__((weak));
extern char __stop_dm_emu_shared[] __attribute__((weak));

/* ---- fibers ---------------------------------------------------------------------------------------- */
enum dm_emu_state { DM_EMU_RUNNABLE, DM_EMU_AT_BARRIER, DM_EMU_AT_WARP, DM_EMU_EXITED };

struct dm_emu_fiber {
#ifndef DM_EMU_SWAPCONTEXT
    jmp_buf jb; /* where the fiber resumes */
#endif
    ucontext_t uc; /* bootstrap context; the saved context in swapcontext builds */
    char *map;     /* the mapping: guard page, then the stack */
    size_t map_size;
    char *stack;
    uint3 idx;    /* threadIdx */
    unsigned tid;  /* linear thread index in the block: warp tid / 32, lane tid % 32 */
    unsigned slot; /* the block slot it runs in (below) */
    enum dm_emu_state state;
    const char *file; /* call site of the barrier or warp operation it waits at */
    int line;
    enum dm_emu_warp_op op;
    unsigned mask;
    int arg, width;
    uint64_t value;    /* warp-op input bits, replaced by the result */
    unsigned released; /* parity bit of the warp sync object released at __syncwarp */
    unsigned acquire;  /* parity bits of the warp sync objects to acquire after it */
#ifdef __SANITIZE_THREAD__
    void *tsan_fiber;
    char name[24];
#endif
#ifdef __SANITIZE_ADDRESS__
    void *fake_stack;
#endif
};

/* ---- global state (one host thread) -------------------------------------------------------------- */
const uint3 *dm_emu_thread_idx;
uint3 dm_emu_block_idx;
dim3 dm_emu_block_dim, dm_emu_grid_dim;

static struct dm_emu_fiber *g_fibers[DM_EMU_MAX_FIBERS]; /* slot s's are s * nthreads + tid */
static unsigned g_nfibers;
static struct dm_emu_fiber *g_cur; /* the running fiber; NULL on the host */
static unsigned long long g_resumes;
#ifdef DM_EMU_SWAPCONTEXT
static ucontext_t g_sched_uc;
#else
static jmp_buf g_sched_jb;
static ucontext_t g_boot_uc;
#endif
#ifdef __SANITIZE_THREAD__
static void *g_sched_tsan;
#endif
/* ThreadSanitizer sync objects (only their addresses matter; unused in other builds). */
static char g_bar_sync[DM_EMU_MAX_SLOTS][2];                           /* barriers, by slot and parity */
static char g_warp_sync[DM_EMU_MAX_SLOTS][DM_EMU_MAX_THREADS / 32][2]; /* __syncwarp, per warp too */
static char g_done_sync;                             /* fibers' exits, acquired after each block */
static char g_stop_sync;                             /* blocking points, acquired on abandoning */
#ifdef __SANITIZE_ADDRESS__
static const void *g_sched_stack;
static size_t g_sched_stack_size;
#endif

/* Settings (environment, then the dm_emu_set_* calls). */
enum dm_emu_sched_kind { DM_EMU_FWD, DM_EMU_REV, DM_EMU_RAND };
static int g_init;
static enum dm_emu_sched_kind g_sched = DM_EMU_FWD;
static uint64_t g_rng;
static int g_strict;
static int g_poison = 1;
static char g_sched_name[32] = "fwd";
static char g_message[512];

/* Errors of the runtime API: the last one (cudaGetLastError) and a kernel failure not yet returned
 * by a synchronising call. */
static cudaError_t g_last_error;
static cudaError_t g_pending;

/* A block in flight: launches run up to DM_EMU_MAX_SLOTS blocks at once (rand order only). */
struct emu_block {
    uint3 idx;
    int live;
    unsigned n_barrier, n_warp, n_exited;
    unsigned bar_gen;
    unsigned warp_gen[DM_EMU_MAX_THREADS / 32];
    void *dyn;    /* its dynamic shared memory */
    char *shared; /* its copy of the __shared__ section while another slot runs (NULL with one slot) */
};

/* The running launch. */
static struct {
    const char *kernel;
    void (*run)(void *);
    void *args;
    unsigned nthreads;
    int in_block;      /* blocks are running (and messages name the block) */
    int failed, fatal; /* an error in this launch; one that abandons it */
    int warned_exit;
    unsigned suppressed; /* errors not printed */
    size_t dyn_size;
    unsigned nslots, slot; /* slots in use; the one whose fibers run (its __shared__ is live) */
    struct emu_block blk[DM_EMU_MAX_SLOTS];
    unsigned order[DM_EMU_MAX_THREADS];
} L;
#define B (L.blk[L.slot]) /* the current block */

static const char *const k_op_name[] = {"__shfl_sync",     "__shfl_up_sync", "__shfl_down_sync",
                                        "__shfl_xor_sync", "__ballot_sync",  "__any_sync",
                                        "__all_sync",      "__syncwarp"};

/* ---- sanitizer hooks, empty in plain builds -------------------------------------------------------- */
static inline void emu_ignore_begin(void) {
#ifdef __SANITIZE_THREAD__
    __tsan_ignore_thread_begin();
#endif
}
static inline void emu_ignore_end(void) {
#ifdef __SANITIZE_THREAD__
    __tsan_ignore_thread_end();
#endif
}
static inline void emu_release(void *sync) {
#ifdef __SANITIZE_THREAD__
    __tsan_release(sync);
#else
    (void)sync;
#endif
}
static inline void emu_acquire(void *sync) {
#ifdef __SANITIZE_THREAD__
    __tsan_acquire(sync);
#else
    (void)sync;
#endif
}

/* ---- messages ---------------------------------------------------------------------------------------- */
/* Prints `emu: <level>: kernel K [block (x,y,z)]: <text>` and keeps the text for dm_emu_last_message.
 * An error fails the launch; a fatal one also abandons it. Non-fatal errors after the launch's first
 * one are only counted (a bad shuffle would otherwise print once per lane and block). */
static void emu_report(const char *level, int fatal, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void emu_report(const char *level, int fatal, const char *fmt, ...) {
    char text[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    int error = strcmp(level, "error") == 0;
    if (error && L.failed && !fatal) { /* one report per launch is enough for repeated lane errors */
        L.suppressed++;
        return;
    }
    if (L.in_block)
        snprintf(g_message, sizeof g_message, "%s: kernel %s block (%u,%u,%u): %s", level, L.kernel,
                 dm_emu_block_idx.x, dm_emu_block_idx.y, dm_emu_block_idx.z, text);
    else
        snprintf(g_message, sizeof g_message, "%s: kernel %s: %s", level, L.kernel, text);
    fprintf(stderr, "emu: %s\n", g_message);
    if (error) L.failed = 1;
    if (fatal) L.fatal = 1;
}

/* ---- settings ---------------------------------------------------------------------------------------- */
static uint64_t emu_splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* xorshift64*: the per-round permutations of rand. */
static uint64_t emu_rand(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545f4914f6cdd1dull;
}

/* Parses "fwd", "rev", "rand", "rand:SEED"; 0 on success. */
static int emu_parse_sched(const char *spec) {
    if (!spec || !*spec || strcmp(spec, "fwd") == 0) {
        g_sched = DM_EMU_FWD;
        snprintf(g_sched_name, sizeof g_sched_name, "fwd");
    } else if (strcmp(spec, "rev") == 0) {
        g_sched = DM_EMU_REV;
        snprintf(g_sched_name, sizeof g_sched_name, "rev");
    } else if (strncmp(spec, "rand", 4) == 0 && (spec[4] == 0 || spec[4] == ':')) {
        unsigned long long seed;
        if (spec[4] == ':') {
            char *end;
            errno = 0;
            seed = strtoull(spec + 5, &end, 0);
            if (errno || end == spec + 5 || *end) return -1;
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            seed = (unsigned long long)ts.tv_sec * 1000000007ull + (unsigned long long)ts.tv_nsec;
            seed %= 1000000000ull; /* short enough to retype */
            fprintf(stderr, "emu: DM_EMU_SCHED=rand:%llu (set it to replay this order)\n", seed);
        }
        g_sched = DM_EMU_RAND;
        g_rng = emu_splitmix(seed) | 1; /* xorshift needs a nonzero state */
        snprintf(g_sched_name, sizeof g_sched_name, "rand:%llu", seed);
    } else {
        return -1;
    }
    return 0;
}

/* Reads DM_EMU_SCHED, DM_EMU_STRICT and DM_EMU_POISON once, before the first use. */
static void emu_init(void) {
    if (g_init) return;
    g_init = 1;
    const char *s = getenv("DM_EMU_SCHED");
    if (emu_parse_sched(s) != 0) {
        fprintf(stderr, "emu: warning: DM_EMU_SCHED=%s is not fwd, rev or rand[:seed]; using fwd\n", s);
        emu_parse_sched("fwd");
    }
    s = getenv("DM_EMU_STRICT");
    g_strict = s && strcmp(s, "1") == 0;
    s = getenv("DM_EMU_POISON");
    g_poison = !(s && strcmp(s, "0") == 0);
}

int dm_emu_set_sched(const char *spec) {
    emu_init();
    enum dm_emu_sched_kind kind = g_sched;
    char name[sizeof g_sched_name];
    memcpy(name, g_sched_name, sizeof name);
    if (emu_parse_sched(spec) == 0) return 0;
    g_sched = kind;
    memcpy(g_sched_name, name, sizeof name);
    return -1;
}

const char *dm_emu_sched(void) {
    emu_init();
    return g_sched_name;
}

void dm_emu_set_strict(int on) {
    emu_init();
    g_strict = on != 0;
}

void dm_emu_set_poison(int on) {
    emu_init();
    g_poison = on != 0;
}

const char *dm_emu_last_message(void) {
    return g_message;
}

unsigned long long dm_emu_resume_count(void) {
    return g_resumes;
}

/* ---- switching ------------------------------------------------------------------------------------- */
/* Scheduler -> fiber f; returns when f blocks or exits. */
static void emu_resume(struct dm_emu_fiber *f) {
    g_cur = f;
    dm_emu_thread_idx = &f->idx;
    g_resumes++;
#ifdef DM_EMU_SWAPCONTEXT
#ifdef __SANITIZE_THREAD__
    __tsan_switch_to_fiber(f->tsan_fiber, 0);
#endif
#ifdef __SANITIZE_ADDRESS__
    void *fake_stack;
    __sanitizer_start_switch_fiber(&fake_stack, f->stack, DM_EMU_STACK_SIZE);
#endif
    swapcontext(&g_sched_uc, &f->uc);
#ifdef __SANITIZE_ADDRESS__
    __sanitizer_finish_switch_fiber(fake_stack, NULL, NULL);
#endif
#else
    if (!_setjmp(g_sched_jb)) _longjmp(f->jb, 1);
#endif
    g_cur = NULL;
}

#ifdef DM_EMU_SWAPCONTEXT
/* On the fiber's stack, right after a switch into it. */
static void emu_arrived(struct dm_emu_fiber *f) {
#ifdef __SANITIZE_ADDRESS__
    __sanitizer_finish_switch_fiber(f->fake_stack, &g_sched_stack, &g_sched_stack_size);
#else
    (void)f;
#endif
}
#endif

/* Fiber f -> scheduler; returns when the scheduler resumes f. */
static void emu_yield(struct dm_emu_fiber *f) {
#ifdef DM_EMU_SWAPCONTEXT
#ifdef __SANITIZE_THREAD__
    __tsan_switch_to_fiber(g_sched_tsan, __tsan_switch_to_fiber_no_sync);
#endif
#ifdef __SANITIZE_ADDRESS__
    __sanitizer_start_switch_fiber(&f->fake_stack, g_sched_stack, g_sched_stack_size);
#endif
    swapcontext(&f->uc, &g_sched_uc);
    emu_arrived(f);
#else
    if (!_setjmp(f->jb)) _longjmp(g_sched_jb, 1);
#endif
}

/* A fiber's whole life: run the kernel for the current block, exit, wait to be resumed for the next. */
static void emu_fiber_main(void) {
    struct dm_emu_fiber *f = g_cur;
#ifdef DM_EMU_SWAPCONTEXT
    emu_arrived(f);
#else
    if (!_setjmp(f->jb)) setcontext(&g_boot_uc); /* bootstrapped: back to emu_fiber_create */
#endif
    for (;;) {
        L.run(L.args);
        emu_ignore_begin();
        f->state = DM_EMU_EXITED;
        B.n_exited++;
        emu_ignore_end();
        emu_release(&g_done_sync);
        emu_yield(f);
    }
}

/* Points f->uc at emu_fiber_main on f's stack (a function of its own: getcontext returns twice). */
static void emu_fiber_context(struct dm_emu_fiber *f) {
    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = f->stack;
    f->uc.uc_stack.ss_size = DM_EMU_STACK_SIZE;
    f->uc.uc_link = NULL;
    makecontext(&f->uc, emu_fiber_main, 0);
#ifdef __SANITIZE_ADDRESS__
    /* ASan's swapcontext clears the shadow of the target's uc_stack, which would wipe the redzones of
     * the fiber's live frames at every resume; the start/finish hooks describe the stack instead. */
    f->uc.uc_stack.ss_sp = NULL;
    f->uc.uc_stack.ss_size = 0;
#endif
}

static struct dm_emu_fiber *emu_fiber_create(unsigned tid) {
    struct dm_emu_fiber *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    f->map_size = DM_EMU_STACK_SIZE + page;
    f->map = mmap(NULL, f->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (f->map == MAP_FAILED || mprotect(f->map, page, PROT_NONE) != 0) {
        if (f->map != MAP_FAILED) munmap(f->map, f->map_size);
        free(f);
        return NULL;
    }
    f->stack = f->map + page;
    emu_fiber_context(f);
#ifdef __SANITIZE_THREAD__
    f->tsan_fiber = __tsan_create_fiber(0);
    snprintf(f->name, sizeof f->name, "cuda thread %u", tid);
    __tsan_set_fiber_name(f->tsan_fiber, f->name);
#else
    (void)tid;
#endif
#ifndef DM_EMU_SWAPCONTEXT
    g_cur = f;
    swapcontext(&g_boot_uc, &f->uc); /* runs emu_fiber_main up to its _setjmp */
    g_cur = NULL;
#endif
    return f;
}

static void emu_fiber_destroy(struct dm_emu_fiber *f) {
#ifdef __SANITIZE_THREAD__
    __tsan_destroy_fiber(f->tsan_fiber);
#endif
#ifdef __SANITIZE_ADDRESS__
    /* frames abandoned mid-kernel leave poisoned redzones that a later mapping could inherit */
    ASAN_UNPOISON_MEMORY_REGION(f->stack, DM_EMU_STACK_SIZE);
#endif
    munmap(f->map, f->map_size);
    free(f);
}

/* Destroys every fiber (after an abandoned launch, or at cudaDeviceReset). */
static void emu_fibers_release(void) {
    for (unsigned i = 0; i < g_nfibers; i++) emu_fiber_destroy(g_fibers[i]);
    g_nfibers = 0;
}

/* ---- kernel-side entries ------------------------------------------------------------------------- */
static struct dm_emu_fiber *emu_self(const char *what) {
    if (!g_cur) {
        fprintf(stderr, "emu: error: %s called outside a kernel\n", what);
        abort();
    }
    return g_cur;
}

void dm_emu_syncthreads(const char *file, int line) {
    struct dm_emu_fiber *f = emu_self("__syncthreads");
    emu_ignore_begin();
    f->state = DM_EMU_AT_BARRIER;
    f->file = file;
    f->line = line;
    B.n_barrier++;
    unsigned parity = B.bar_gen & 1, slot = f->slot;
    emu_ignore_end();
    emu_release(&g_bar_sync[slot][parity]);
    emu_release(&g_stop_sync);
    emu_yield(f);
    emu_acquire(&g_bar_sync[slot][parity]);
}

uint64_t dm_emu_warp_op(enum dm_emu_warp_op op, unsigned mask, uint64_t value, int arg, int width,
                        const char *file, int line) {
    struct dm_emu_fiber *f = emu_self(k_op_name[op]);
    emu_ignore_begin();
    f->state = DM_EMU_AT_WARP;
    f->op = op;
    f->mask = mask;
    f->value = value;
    f->arg = arg;
    f->width = width;
    f->file = file;
    f->line = line;
    B.n_warp++;
    unsigned warp = f->tid / 32, parity = B.warp_gen[warp] & 1, slot = f->slot;
    f->released = parity;
    f->acquire = 0;
    emu_ignore_end();
    if (op == DM_EMU_SYNCWARP) emu_release(&g_warp_sync[slot][warp][parity]);
    emu_release(&g_stop_sync);
    emu_yield(f);
    emu_ignore_begin();
    uint64_t result = f->value;
    unsigned acquire = f->acquire;
    emu_ignore_end();
    for (unsigned p = 0; p < 2; p++)
        if (acquire >> p & 1) emu_acquire(&g_warp_sync[slot][warp][p]);
    return result;
}

void *dm_emu_dyn_shared(void) {
    return B.dyn;
}

/* ---- the scheduler ----------------------------------------------------------------------------------- */
static int emu_same_site(const struct dm_emu_fiber *a, const struct dm_emu_fiber *b) {
    return a->line == b->line && (a->file == b->file || strcmp(a->file, b->file) == 0);
}

/* The fibers of warp w and its lane count. */
static struct dm_emu_fiber **emu_warp(unsigned w, unsigned *nlanes) {
    unsigned n = L.nthreads - w * 32;
    *nlanes = n < 32 ? n : 32;
    return g_fibers + L.slot * L.nthreads + w * 32;
}

/* 1 if every lane named by lane's mask waits at lane's operation (same kind, site and mask). */
static int emu_group_complete(struct dm_emu_fiber **fb, unsigned nlanes, unsigned lane) {
    const struct dm_emu_fiber *f = fb[lane];
    unsigned m = f->mask;
    if (!(m >> lane & 1) || (nlanes < 32 && (m >> nlanes) != 0)) return 0;
    for (unsigned b = 0; b < nlanes; b++) {
        if (!(m >> b & 1)) continue;
        const struct dm_emu_fiber *g = fb[b];
        if (g->state != DM_EMU_AT_WARP || g->op != f->op || g->mask != m) return 0;
        if (f->op != DM_EMU_SYNCWARP && !emu_same_site(f, g)) return 0;
    }
    return 1;
}

/* The lane a shuffle of `lane` reads (CUDA's segment rules for `width`); itself when out of range. */
static unsigned emu_shfl_source(enum dm_emu_warp_op op, unsigned lane, int arg, unsigned width) {
    unsigned first = lane & ~(width - 1), last = first + width - 1;
    long long j;
    switch (op) {
    case DM_EMU_SHFL_IDX:
        return first + ((unsigned)arg & (width - 1));
    case DM_EMU_SHFL_UP:
        j = (long long)lane - (unsigned)arg;
        return j < first ? lane : (unsigned)j;
    case DM_EMU_SHFL_DOWN:
        j = (long long)lane + (unsigned)arg;
        return j > last ? lane : (unsigned)j;
    default:
        j = lane ^ (unsigned)arg;
        return j > last ? lane : (unsigned)j; /* xor */
    }
}

/* Computes the results of the complete group of warp w with mask m and makes its lanes runnable. */
static void emu_resolve_group(struct dm_emu_fiber **fb, unsigned w, unsigned m) {
    uint64_t result[32];
    unsigned first = (unsigned)__builtin_ctz(m);
    enum dm_emu_warp_op op = fb[first]->op;
    unsigned ballot = 0;
    for (unsigned b = 0; b < 32; b++)
        if ((m >> b & 1) && fb[b]->value != 0) ballot |= 1u << b;
    for (unsigned b = 0; b < 32; b++) {
        if (!(m >> b & 1)) continue;
        const struct dm_emu_fiber *f = fb[b];
        switch (op) {
        case DM_EMU_BALLOT:
            result[b] = ballot;
            break;
        case DM_EMU_ANY:
            result[b] = ballot != 0;
            break;
        case DM_EMU_ALL:
            result[b] = ballot == m;
            break;
        case DM_EMU_SYNCWARP:
            result[b] = 0;
            break;
        default: {
            unsigned width = (unsigned)f->width;
            if (f->width < 1 || f->width > 32 || (width & (width - 1)) != 0) {
                emu_report("error", 0, "%s at %s:%d: lane %u uses width %d, not a power of 2 up to 32",
                           k_op_name[op], f->file, f->line, b, f->width);
                result[b] = UINT64_MAX;
                break;
            }
            unsigned src = emu_shfl_source(op, b, f->arg, width);
            if (!(m >> src & 1)) {
                emu_report("error", 0, "%s at %s:%d: lane %u reads lane %u, which is not in mask 0x%08x",
                           k_op_name[op], f->file, f->line, b, src, m);
                result[b] = UINT64_MAX; /* poisoned: 0xFF bytes */
            } else {
                result[b] = fb[src]->value;
            }
        }
        }
    }
    unsigned acquire = 0;
    for (unsigned b = 0; b < 32; b++)
        if (m >> b & 1) acquire |= 1u << fb[b]->released;
    if (op == DM_EMU_SYNCWARP) B.warp_gen[w]++;
    for (unsigned b = 0; b < 32; b++) {
        if (!(m >> b & 1)) continue;
        fb[b]->value = result[b];
        fb[b]->acquire = op == DM_EMU_SYNCWARP ? acquire : 0;
        fb[b]->state = DM_EMU_RUNNABLE;
        B.n_warp--;
    }
}

/* Resolves every complete warp group; 1 if any did. */
static int emu_resolve_warps(void) {
    int progress = 0;
    unsigned nwarps = (L.nthreads + 31) / 32;
    for (unsigned w = 0; w < nwarps; w++) {
        unsigned nl;
        struct dm_emu_fiber **fb = emu_warp(w, &nl);
        for (unsigned l = 0; l < nl; l++) {
            if (fb[l]->state != DM_EMU_AT_WARP || !emu_group_complete(fb, nl, l)) continue;
            emu_resolve_group(fb, w, fb[l]->mask);
            progress = 1;
        }
    }
    return progress;
}

/* Nothing is runnable and no warp group can complete: explains the first waiting lane's problem. */
static void emu_report_warp_stall(void) {
    unsigned nwarps = (L.nthreads + 31) / 32;
    for (unsigned w = 0; w < nwarps; w++) {
        unsigned nl;
        struct dm_emu_fiber **fb = emu_warp(w, &nl);
        for (unsigned l = 0; l < nl; l++) {
            const struct dm_emu_fiber *f = fb[l];
            if (f->state != DM_EMU_AT_WARP) continue;
            const char *op = k_op_name[f->op];
            unsigned m = f->mask;
            if (!(m >> l & 1)) {
                emu_report("error", 1,
                           "%s at %s:%d in warp %u: mask 0x%08x does not name the calling lane %u", op,
                           f->file, f->line, w, m, l);
                return;
            }
            for (unsigned b = 0; b < 32; b++) {
                if (!(m >> b & 1)) continue;
                if (b >= nl) {
                    emu_report("error", 1,
                               "%s at %s:%d in warp %u: mask 0x%08x names lane %u, which does not exist "
                               "(the warp has %u lanes)",
                               op, f->file, f->line, w, m, b, nl);
                    return;
                }
                const struct dm_emu_fiber *g = fb[b];
                if (g->state == DM_EMU_EXITED) {
                    emu_report("error", 1,
                               "%s at %s:%d in warp %u: lane %u named in mask 0x%08x has already exited", op,
                               f->file, f->line, w, b, m);
                    return;
                }
                if (g->state == DM_EMU_AT_BARRIER) {
                    emu_report(
                        "error", 1,
                        "deadlock: lane %u of warp %u waits at %s at %s:%d for lane %u, which waits at "
                        "__syncthreads() at %s:%d",
                        l, w, op, f->file, f->line, b, g->file, g->line);
                    return;
                }
                if (g->op != f->op || (f->op != DM_EMU_SYNCWARP && !emu_same_site(f, g))) {
                    emu_report(
                        "error", 1,
                        "lanes of one mask wait at different warp operations: warp %u lane %u at %s at "
                        "%s:%d, lane %u at %s at %s:%d",
                        w, l, op, f->file, f->line, b, k_op_name[g->op], g->file, g->line);
                    return;
                }
                if (g->mask != m) {
                    emu_report(
                        "error", 1,
                        "%s at %s:%d in warp %u: lanes %u and %u use different masks 0x%08x and 0x%08x", op,
                        f->file, f->line, w, l, b, m, g->mask);
                    return;
                }
            }
        }
    }
}

/* Every live thread waits at a barrier: releases it, or reports a divergent barrier. */
static void emu_release_barrier(void) {
    struct dm_emu_fiber *first = NULL, *exited = NULL, **fb = g_fibers + L.slot * L.nthreads;
    for (unsigned i = 0; i < L.nthreads; i++) {
        struct dm_emu_fiber *f = fb[i];
        if (f->state == DM_EMU_EXITED) {
            if (!exited) exited = f;
            continue;
        }
        if (!first) {
            first = f;
        } else if (!emu_same_site(first, f)) {
            emu_report("error", 1,
                       "divergent barrier: thread (%u,%u,%u) waits at __syncthreads() at %s:%d, thread "
                       "(%u,%u,%u) at %s:%d",
                       first->idx.x, first->idx.y, first->idx.z, first->file, first->line, f->idx.x, f->idx.y,
                       f->idx.z, f->file, f->line);
            return;
        }
    }
    if (exited && !L.warned_exit) {
        L.warned_exit = 1;
        emu_report(g_strict ? "error" : "warning", 0,
                   "thread (%u,%u,%u) exited before the __syncthreads() at %s:%d that %u threads wait at "
                   "(undefined in CUDA%s)",
                   exited->idx.x, exited->idx.y, exited->idx.z, first->file, first->line, B.n_barrier,
                   g_strict ? "" : "; an error with DM_EMU_STRICT=1");
    }
    for (unsigned i = 0; i < L.nthreads; i++)
        if (fb[i]->state == DM_EMU_AT_BARRIER) fb[i]->state = DM_EMU_RUNNABLE;
    B.n_barrier = 0;
    B.bar_gen++;
}

/* This round's order of the n fibers. */
static void emu_order(unsigned n) {
    unsigned *o = L.order;
    for (unsigned i = 0; i < n; i++) o[i] = g_sched == DM_EMU_REV ? n - 1 - i : i;
    if (g_sched == DM_EMU_RAND) {
        for (unsigned i = n - 1; i > 0; i--) {
            unsigned j = (unsigned)(emu_rand() % (i + 1));
            unsigned t = o[i];
            o[i] = o[j];
            o[j] = t;
        }
    }
}

/* Makes slot `slot` current: its blockIdx, and its copy of the __shared__ section in the section. */
static void emu_switch_slot(unsigned slot) {
    if (slot == L.slot) return;
    uintptr_t lo = (uintptr_t)__start_dm_emu_shared, hi = (uintptr_t)__stop_dm_emu_shared;
    if (L.blk[L.slot].shared) memcpy(L.blk[L.slot].shared, __start_dm_emu_shared, hi - lo);
    L.slot = slot;
    if (B.shared) memcpy(__start_dm_emu_shared, B.shared, hi - lo);
    dm_emu_block_idx = B.idx;
}

/* Starts block idx in slot `slot` (made current). */
static void emu_block_start(unsigned slot, uint3 idx) {
    emu_switch_slot(slot);
    B.idx = dm_emu_block_idx = idx;
    B.live = 1;
    if (g_poison) {
        uintptr_t lo = (uintptr_t)__start_dm_emu_shared, hi = (uintptr_t)__stop_dm_emu_shared;
        if (hi > lo) memset(__start_dm_emu_shared, DM_EMU_POISON_BYTE, hi - lo);
        if (B.dyn) memset(B.dyn, DM_EMU_POISON_BYTE, L.dyn_size);
    }
    struct dm_emu_fiber **fb = g_fibers + slot * L.nthreads;
    for (unsigned i = 0; i < L.nthreads; i++) fb[i]->state = DM_EMU_RUNNABLE;
    B.n_barrier = B.n_warp = B.n_exited = 0;
    B.bar_gen = 0;
    memset(B.warp_gen, 0, sizeof B.warp_gen);
}

/* One round of the current block: every runnable fiber runs until it blocks, then warp operations or
 * the barrier resolve. Returns 1 once the block has finished (or failed fatally). */
static int emu_block_round(void) {
    unsigned n = L.nthreads;
    struct dm_emu_fiber **fb = g_fibers + L.slot * n;
    emu_order(n);
    for (unsigned i = 0; i < n; i++) {
        struct dm_emu_fiber *f = fb[L.order[i]];
        if (f->state == DM_EMU_RUNNABLE) emu_resume(f);
    }
    if (B.n_exited == n) return 1;
    if (B.n_warp) {
        if (emu_resolve_warps()) return 0;
        emu_report_warp_stall();
        return 1;
    }
    emu_release_barrier();
    return L.fatal;
}

/* Checks an extent against the CUDA limits; prints the error. */
static int emu_check_extent(const char *what, struct dm_emu_extent e, long long max_x, long long max_y,
                            long long max_z) {
    if (e.x >= 1 && e.y >= 1 && e.z >= 1 && e.x <= max_x && e.y <= max_y && e.z <= max_z) return 1;
    emu_report("error", 1, "invalid launch %s (%lld,%lld,%lld)%s", what, e.x, e.y, e.z,
               (e.x >= 1 && (e.y == 0 || e.z == 0)) ? " (in C, dim3 d = {x} leaves y and z at 0)" : "");
    return 0;
}

/* A queued launch: its configuration (checked) and a copy of its arguments. */
struct emu_launch_item {
    const char *kernel;
    void (*run)(void *);
    struct dm_emu_extent grid, block;
    size_t shmem;
    unsigned nthreads;
    _Alignas(max_align_t) unsigned char args[];
};

static void emu_exec_launch(void *payload);

void dm_emu_launch(const char *kernel, void (*run)(void *), const void *args, size_t args_size,
                   struct dm_emu_extent grid, struct dm_emu_extent block, size_t shmem, cudaStream_t stream) {
    emu_init();
    if (g_cur) {
        fprintf(stderr, "emu: error: kernel %s launched from inside a kernel (not supported)\n", kernel);
        abort();
    }
    dm_emu_track_launch(kernel, stream, 0);
    memset(&L, 0, sizeof L); /* no launch runs while the host enqueues */
    L.kernel = kernel;
    unsigned nthreads = 0;
    if (emu_check_extent("grid", grid, INT32_MAX, 65535, 65535) &&
        emu_check_extent("block", block, 1024, 1024, 64)) {
        long long n = block.x * block.y * block.z;
        if (n > DM_EMU_MAX_THREADS)
            emu_report("error", 1, "invalid launch block (%lld,%lld,%lld): %lld threads, more than %u",
                       block.x, block.y, block.z, n, DM_EMU_MAX_THREADS);
        else if (shmem > DM_EMU_MAX_DYN_SHARED)
            emu_report("error", 1, "%zu bytes of dynamic shared memory, more than %u", shmem,
                       DM_EMU_MAX_DYN_SHARED);
        else
            nthreads = (unsigned)n;
    }
    if (L.failed) {
        g_last_error = cudaErrorLaunchFailure; /* a configuration error is returned by the launch */
        return;
    }
    struct emu_launch_item *it = malloc(sizeof *it + args_size);
    if (!it) dm_emu_die("out of memory queueing kernel %s", kernel);
    *it = (struct emu_launch_item){kernel, run, grid, block, shmem, nthreads};
    memcpy(it->args, args, args_size);
    dm_emu_enqueue(stream, emu_exec_launch, it);
}

/* Runs a queued launch to completion (from a synchronising call). */
static void emu_exec_launch(void *payload) {
    struct emu_launch_item *it = payload;
    const char *kernel = it->kernel;
    struct dm_emu_extent grid = it->grid, block = it->block;
    size_t shmem = it->shmem;
#ifdef __SANITIZE_THREAD__
    __tsan_ignore_thread_begin(); /* the scheduler's bookkeeping is not the kernel's */
    g_sched_tsan = __tsan_get_current_fiber();
#endif
    memset(&L, 0, sizeof L);
    L.kernel = kernel;
    L.run = it->run;
    L.args = it->args;
    L.nthreads = it->nthreads;
    /* rand runs a few blocks at once, round by round in a random order of blocks, each with its own
     * copy of the __shared__ section (swapped in when its fibers run); fwd and rev one at a time */
    unsigned long long nblocks = (unsigned long long)grid.x * grid.y * grid.z;
    size_t section = (size_t)((uintptr_t)__stop_dm_emu_shared - (uintptr_t)__start_dm_emu_shared);
    unsigned nslots = 1;
#ifdef __SANITIZE_THREAD__
    section = 0; /* one block at a time: see "Blocks" above */
#endif
    if (g_sched == DM_EMU_RAND && section > 0 && L.nthreads > 0) {
        nslots = DM_EMU_MAX_FIBERS / L.nthreads;
        if (nslots > DM_EMU_MAX_SLOTS) nslots = DM_EMU_MAX_SLOTS;
        if (nslots > nblocks) nslots = (unsigned)nblocks;
        if (nslots < 1) nslots = 1;
    }
    L.nslots = nslots;
    while (!L.fatal && g_nfibers < nslots * L.nthreads) {
        struct dm_emu_fiber *f = emu_fiber_create(g_nfibers);
        if (!f) {
            emu_report("error", 1, "cannot create fiber %u: %s", g_nfibers, strerror(errno));
            break;
        }
        g_fibers[g_nfibers++] = f;
    }
    L.dyn_size = shmem;
    for (unsigned sl = 0; sl < nslots && !L.fatal; sl++) {
        if (shmem > 0 && posix_memalign(&L.blk[sl].dyn, 256, shmem) != 0) {
            L.blk[sl].dyn = NULL;
            emu_report("error", 1, "cannot allocate %zu bytes of dynamic shared memory", shmem);
        }
        if (nslots > 1 && !(L.blk[sl].shared = malloc(section)))
            emu_report("error", 1, "cannot allocate %zu bytes of shared memory", section);
    }
    if (!L.fatal) {
        dm_emu_grid_dim = (dim3){(unsigned)grid.x, (unsigned)grid.y, (unsigned)grid.z};
        dm_emu_block_dim = (dim3){(unsigned)block.x, (unsigned)block.y, (unsigned)block.z};
        for (unsigned i = 0; i < nslots * L.nthreads; i++) {
            unsigned t = i % L.nthreads;
            g_fibers[i]->tid = t;
            g_fibers[i]->slot = i / L.nthreads;
            g_fibers[i]->idx = (uint3){t % dm_emu_block_dim.x, t / dm_emu_block_dim.x % dm_emu_block_dim.y,
                                       t / (dm_emu_block_dim.x * dm_emu_block_dim.y)};
        }
        L.in_block = 1;
        /* waves of nslots blocks (x fastest); a wave's blocks are unordered against each other, and
         * the next wave starts after the scheduler has acquired the whole wave's exits */
        for (unsigned long long next = 0; next < nblocks && !L.fatal;) {
            unsigned wave = nblocks - next < nslots ? (unsigned)(nblocks - next) : nslots, active = wave;
            for (unsigned sl = 0; sl < wave; sl++, next++)
                emu_block_start(sl, (uint3){(unsigned)(next % grid.x), (unsigned)(next / grid.x % grid.y),
                                            (unsigned)(next / ((unsigned long long)grid.x * grid.y))});
            unsigned perm[DM_EMU_MAX_SLOTS];
            while (active && !L.fatal) {
                for (unsigned i = 0; i < wave; i++) perm[i] = i;
                for (unsigned i = wave - 1; i > 0; i--) { /* wave > 1 only under rand */
                    unsigned j = (unsigned)(emu_rand() % (i + 1)), t = perm[i];
                    perm[i] = perm[j];
                    perm[j] = t;
                }
                for (unsigned i = 0; i < wave && !L.fatal; i++) {
                    if (!L.blk[perm[i]].live) continue;
                    emu_switch_slot(perm[i]);
                    if (emu_block_round()) {
                        B.live = 0;
                        active--;
                    }
                }
            }
            emu_acquire(&g_done_sync); /* the wave's writes happen before what follows */
        }
    }
    if (L.suppressed)
        fprintf(stderr, "emu: error: kernel %s: %u more errors after the first\n", kernel, L.suppressed);
    if (L.fatal && L.in_block) {
        /* the fibers stopped mid-kernel: their writes so far happen before what follows, and they
         * are recreated for the next launch */
        emu_acquire(&g_stop_sync);
        emu_acquire(&g_done_sync);
        emu_fibers_release();
    }
    L.in_block = 0;
    for (unsigned sl = 0; sl < DM_EMU_MAX_SLOTS; sl++) {
        free(L.blk[sl].dyn);
        free(L.blk[sl].shared);
        L.blk[sl].dyn = NULL;
        L.blk[sl].shared = NULL;
    }
    dm_emu_thread_idx = NULL;
    if (L.failed) {
        g_last_error = g_pending = cudaErrorLaunchFailure;
    }
#ifdef __SANITIZE_THREAD__
    __tsan_ignore_thread_end();
#endif
}

/* ---- CUDA runtime API ------------------------------------------------------------------------------ */
/* Returns e, recording it as the last error when it is one. */
static cudaError_t emu_ret(cudaError_t e) {
    if (e != cudaSuccess) g_last_error = e;
    return e;
}

cudaError_t dm_emu_ret(cudaError_t e) {
    return emu_ret(e);
}

/* A synchronising call: returns (and clears) a kernel failure not yet returned. */
static cudaError_t emu_sync(void) {
    cudaError_t e = g_pending;
    g_pending = cudaSuccess;
    return emu_ret(e);
}

cudaError_t dm_emu_sync_status(void) {
    return emu_sync();
}

unsigned dm_emu_sched_pick(unsigned n) {
    emu_init();
    if (n <= 1 || g_sched == DM_EMU_FWD) return 0;
    if (g_sched == DM_EMU_REV) return n - 1;
    return (unsigned)(emu_rand() % n);
}

cudaError_t cudaGetLastError(void) {
    cudaError_t e = g_last_error;
    g_last_error = cudaSuccess;
    g_pending = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) {
    return g_last_error;
}

const char *cudaGetErrorName(cudaError_t error) {
    switch (error) {
    case cudaSuccess:
        return "cudaSuccess";
    case cudaErrorInvalidValue:
        return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
        return "cudaErrorMemoryAllocation";
    case cudaErrorInsufficientDriver:
        return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice:
        return "cudaErrorNoDevice";
    case cudaErrorNotReady:
        return "cudaErrorNotReady";
    case cudaErrorInvalidDevice:
        return "cudaErrorInvalidDevice";
    case cudaErrorLaunchFailure:
        return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported:
        return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
        return "cudaErrorStreamCaptureInvalidated";
    }
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t error) {
    switch (error) {
    case cudaSuccess:
        return "no error";
    case cudaErrorInvalidValue:
        return "invalid argument";
    case cudaErrorMemoryAllocation:
        return "out of memory";
    case cudaErrorInsufficientDriver:
        return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice:
        return "no CUDA-capable device is detected";
    case cudaErrorNotReady:
        return "device not ready";
    case cudaErrorInvalidDevice:
        return "invalid device ordinal";
    case cudaErrorLaunchFailure:
        return "unspecified launch failure";
    case cudaErrorStreamCaptureUnsupported:
        return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
        return "operation failed due to a previous error during capture";
    }
    return "unrecognized error code";
}

cudaError_t cudaGetDeviceCount(int *count) {
    if (!count) return emu_ret(cudaErrorInvalidValue);
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    return emu_ret(device == 0 ? cudaSuccess : cudaErrorInvalidDevice);
}

cudaError_t cudaGetDevice(int *device) {
    if (!device) return emu_ret(cudaErrorInvalidValue);
    *device = 0;
    return cudaSuccess;
}

cudaError_t cudaDeviceReset(void) {
    dm_emu_drain_all(); /* queued work runs first (its memory is still allocated) */
    emu_fibers_release();
    g_last_error = g_pending = cudaSuccess;
    return cudaSuccess;
}

/* The emulator's fixed figures; the memory size is the host's. */
#define DM_EMU_SM_COUNT  8
#define DM_EMU_CLOCK_KHZ 1000000
#define DM_EMU_BUS_BITS  256

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device) {
    if (!prop) return emu_ret(cudaErrorInvalidValue);
    if (device != 0) return emu_ret(cudaErrorInvalidDevice);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "deepmotif CUDA emulator");
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    prop->totalGlobalMem = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
    prop->sharedMemPerBlock = DM_EMU_MAX_DYN_SHARED;
    prop->regsPerBlock = 65536;
    prop->warpSize = 32;
    prop->memPitch = SIZE_MAX;
    prop->maxThreadsPerBlock = DM_EMU_MAX_THREADS;
    prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
    prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = INT32_MAX;
    prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
    prop->totalConstMem = 65536;
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = DM_EMU_SM_COUNT;
    prop->memoryBusWidth = DM_EMU_BUS_BITS;
    prop->l2CacheSize = 1 << 20;
    prop->maxThreadsPerMultiProcessor = 2048;
    prop->sharedMemPerMultiprocessor = 4 * DM_EMU_MAX_DYN_SHARED;
    prop->regsPerMultiprocessor = 65536;
    prop->sharedMemPerBlockOptin = DM_EMU_MAX_DYN_SHARED;
    prop->maxBlocksPerMultiProcessor = 32;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device) {
    if (!value) return emu_ret(cudaErrorInvalidValue);
    if (device != 0) return emu_ret(cudaErrorInvalidDevice);
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock:
        *value = DM_EMU_MAX_THREADS;
        break;
    case cudaDevAttrClockRate:
        *value = DM_EMU_CLOCK_KHZ;
        break;
    case cudaDevAttrMultiProcessorCount:
        *value = DM_EMU_SM_COUNT;
        break;
    case cudaDevAttrMemoryClockRate:
        *value = DM_EMU_CLOCK_KHZ;
        break;
    case cudaDevAttrGlobalMemoryBusWidth:
        *value = DM_EMU_BUS_BITS;
        break;
    default:
        return emu_ret(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *version) {
    if (!version) return emu_ret(cudaErrorInvalidValue);
    *version = 13000;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *version) {
    if (!version) return emu_ret(cudaErrorInvalidValue);
    *version = 13000;
    return cudaSuccess;
}

/* Host memory standing in for device or pinned memory: 256-byte aligned, exactly `size` bytes (so
 * ASan catches overruns), 0xFF-filled when poisoning, recorded in the allocation table (emu_track.c). */
static cudaError_t emu_alloc(void **ptr, size_t size, enum dm_emu_mem kind) {
    emu_init();
    if (!ptr) return emu_ret(cudaErrorInvalidValue);
    if (dm_emu_capture_forbid(kind == DM_EMU_MEM_DEVICE ? "cudaMalloc" : "cudaMallocHost"))
        return emu_ret(cudaErrorStreamCaptureUnsupported);
    *ptr = NULL;
    if (size == 0) return cudaSuccess;
    if (posix_memalign(ptr, 256, size) != 0) {
        *ptr = NULL;
        return emu_ret(cudaErrorMemoryAllocation);
    }
    if (dm_emu_track_alloc(*ptr, size, kind) != 0) {
        free(*ptr);
        *ptr = NULL;
        return emu_ret(cudaErrorMemoryAllocation);
    }
    if (g_poison) memset(*ptr, DM_EMU_POISON_BYTE, size);
    return cudaSuccess;
}

static const char *const k_mem_name[] = {"host memory", "device memory", "pinned host memory"};

/* Frees an allocation of `kind`; anything else is a fatal misuse (a real runtime returns an error and
 * leaves the memory, which a caller ignoring the status would leak or reuse). */
static cudaError_t emu_free(const char *call, void *ptr, enum dm_emu_mem kind) {
    if (!ptr) return cudaSuccess;
    if (dm_emu_capture_forbid(call)) return emu_ret(cudaErrorStreamCaptureUnsupported);
    dm_emu_track_sync(); /* the host waits for the device before memory is released */
    dm_emu_drain_all();
    enum dm_emu_mem got = dm_emu_track_free(ptr, kind);
    if (got != kind)
        dm_emu_die("%s(%p): not the start of a live %s allocation (%s)", call, ptr, k_mem_name[kind],
                   got != DM_EMU_MEM_NONE ? k_mem_name[got] : "unknown or already freed");
    free(ptr);
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **ptr, size_t size) {
    return emu_alloc(ptr, size, DM_EMU_MEM_DEVICE);
}

cudaError_t cudaFree(void *ptr) {
    return emu_free("cudaFree", ptr, DM_EMU_MEM_DEVICE);
}

cudaError_t cudaMallocHost(void **ptr, size_t size) {
    return emu_alloc(ptr, size, DM_EMU_MEM_PINNED);
}

cudaError_t cudaFreeHost(void *ptr) {
    return emu_free("cudaFreeHost", ptr, DM_EMU_MEM_PINNED);
}

static const char *const k_kind_name[] = {"cudaMemcpyHostToHost", "cudaMemcpyHostToDevice",
                                          "cudaMemcpyDeviceToHost", "cudaMemcpyDeviceToDevice",
                                          "cudaMemcpyDefault"};

/* Whether [p, p + count) is device memory (1) or host memory (0); a range that starts in a device
 * allocation and runs past its end is fatal. */
static int emu_is_device(const char *call, const char *what, const void *p, size_t count) {
    const void *base;
    size_t size;
    if (dm_emu_track_find(p, &base, &size) != DM_EMU_MEM_DEVICE) return 0;
    size_t off = (size_t)((const char *)p - (const char *)base);
    if (count > size - off)
        dm_emu_die("%s: %s %p + %zu bytes runs past the end of its device allocation (%p, %zu bytes)", call,
                   what, p, count, base, size);
    return 1;
}

/* Checks the pointers against the kind (cudaMemcpyDefault: takes theirs) and returns the direction. */
static enum cudaMemcpyKind emu_copy_kind(const char *call, void *dst, const void *src, size_t count,
                                         enum cudaMemcpyKind kind) {
    int dd = emu_is_device(call, "destination", dst, count), sd = emu_is_device(call, "source", src, count);
    enum cudaMemcpyKind actual = dd ? (sd ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                    : (sd ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    if (kind != cudaMemcpyDefault && kind != actual) {
        /* the first pointer on the wrong side */
        int want_dd = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
        const char *what = dd != want_dd ? "destination" : "source";
        const void *p = dd != want_dd ? (const void *)dst : src;
        int is_dev = dd != want_dd ? dd : sd;
        dm_emu_die("%s(%s, %zu bytes): the %s %p is %s, not %s", call, k_kind_name[kind], count, what, p,
                   is_dev ? "device memory" : "host memory", is_dev ? "host memory" : "device memory");
    }
    return actual;
}

/* A queued copy or memset; `staged` holds a pageable source's bytes, copied when it was enqueued. */
struct emu_copy_item {
    void *dst;
    const void *src; /* NULL: memset to `value` */
    size_t count;
    int value;
    _Alignas(max_align_t) unsigned char staged[];
};

static void emu_exec_copy(void *payload) {
    struct emu_copy_item *it = payload;
    if (it->src)
        memcpy(it->dst, it->src, it->count);
    else
        memset(it->dst, it->value, it->count);
}

/* Enqueues a copy as CUDA orders it: a pageable host source is staged when the call is made (the
 * caller may reuse it at once); a copy into pageable host memory returns only once it has run; copies
 * from or to pinned memory and between device buffers run when the stream reaches them. */
static cudaError_t emu_memcpy(const char *call, void *dst, const void *src, size_t count,
                              enum cudaMemcpyKind kind, cudaStream_t stream) {
    if ((unsigned)kind > cudaMemcpyDefault || (count > 0 && (!dst || !src)))
        return emu_ret(cudaErrorInvalidValue);
    if (count == 0) return cudaSuccess;
    enum cudaMemcpyKind actual = emu_copy_kind(call, dst, src, count, kind);
    dm_emu_track_copy(actual, count, stream);
    int src_pageable = (actual == cudaMemcpyHostToDevice || actual == cudaMemcpyHostToHost) &&
                       dm_emu_track_find(src, NULL, NULL) != DM_EMU_MEM_PINNED;
    int dst_pageable = (actual == cudaMemcpyDeviceToHost || actual == cudaMemcpyHostToHost) &&
                       dm_emu_track_find(dst, NULL, NULL) != DM_EMU_MEM_PINNED;
    if (dst_pageable && dm_emu_capture_forbid(call)) return emu_ret(cudaErrorStreamCaptureUnsupported);
    struct emu_copy_item *it = malloc(sizeof *it + (src_pageable ? count : 0));
    if (!it) dm_emu_die("%s: out of memory queueing %zu bytes", call, count);
    *it = (struct emu_copy_item){dst, src, count, 0};
    if (src_pageable) {
        memcpy(it->staged, src, count);
        it->src = it->staged;
    }
    unsigned long long seq = dm_emu_enqueue(stream, emu_exec_copy, it);
    if (dst_pageable) dm_emu_drain_item(stream, seq);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind,
                            cudaStream_t stream) {
    return emu_memcpy("cudaMemcpyAsync", dst, src, count, kind, stream);
}

/* On the legacy default stream; the host waits until it has run. */
cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind) {
    if (dm_emu_capture_forbid("cudaMemcpy")) return emu_ret(cudaErrorStreamCaptureUnsupported);
    dm_emu_track_sync(); /* the host waits for the copy */
    cudaError_t e = emu_memcpy("cudaMemcpy", dst, src, count, kind, NULL);
    if (e != cudaSuccess) return e;
    dm_emu_drain_stream(NULL);
    return emu_sync(); /* like the real one, it reports an earlier kernel's failure */
}

cudaError_t cudaMemsetAsync(void *ptr, int value, size_t count, cudaStream_t stream) {
    if (count > 0 && !ptr) return emu_ret(cudaErrorInvalidValue);
    if (count == 0) return cudaSuccess;
    if (!emu_is_device("cudaMemset", "destination", ptr, count))
        dm_emu_die("cudaMemset(%p, %zu bytes): not device memory", ptr, count);
    dm_emu_track_memset(count, stream);
    struct emu_copy_item *it = malloc(sizeof *it);
    if (!it) dm_emu_die("cudaMemset: out of memory");
    *it = (struct emu_copy_item){ptr, NULL, count, value};
    dm_emu_enqueue(stream, emu_exec_copy, it);
    return cudaSuccess;
}

/* On the legacy default stream, asynchronous with respect to the host (as CUDA's for device memory). */
cudaError_t cudaMemset(void *ptr, int value, size_t count) {
    return cudaMemsetAsync(ptr, value, count, NULL);
}
