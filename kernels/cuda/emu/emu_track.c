/*
 * emu_track.c: the emulator's counters (emu.h: dm_emu_counters_get and the per-kernel table) and its table
 * of live allocations (emu_track.h), which the cuBLAS stand-in and cudaMemcpy check pointers against.
 *
 * Cost: a launch adds a pointer-hash lookup of its name (the name is a literal, so after the first
 * launch of a kernel the lookup is one or two probes) and a few increments; a copy or allocation a
 * binary search in the allocation table. Plain counters: the runtime has one host thread (emu.h), and
 * kernels (the fibers) never call the runtime.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include "emu.h"
#include "emu_queue.h"
#include "emu_track.h"

/* ---- counters --------------------------------------------------------------------------------------- */
#define DM_EMU_MAX_STREAMS 64
#define DM_EMU_MAX_KERNELS 512 /* distinct names; more are counted in the totals only */
#define DM_EMU_NAME_SLOTS  2048 /* pointer hash, a power of two, well above DM_EMU_MAX_KERNELS */

static dm_emu_counters g_total;
static struct {
    cudaStream_t stream;
    dm_emu_counters c;
} g_streams[DM_EMU_MAX_STREAMS];
static int g_nstreams;

static struct {
    const char *name;
    unsigned long long launches;
    int cublas;
} g_kernels[DM_EMU_MAX_KERNELS];
static int g_nkernels;
/* name pointer -> index + 1 into g_kernels (0: empty slot) */
static struct {
    const char *ptr;
    int index;
} g_name_hash[DM_EMU_NAME_SLOTS];

static dm_emu_counters *emu_stream_counters(cudaStream_t s) {
    for (int i = 0; i < g_nstreams; i++)
        if (g_streams[i].stream == s) return &g_streams[i].c;
    if (g_nstreams == DM_EMU_MAX_STREAMS) return NULL; /* counted in the totals only */
    g_streams[g_nstreams].stream = s;
    memset(&g_streams[g_nstreams].c, 0, sizeof g_streams[g_nstreams].c);
    return &g_streams[g_nstreams++].c;
}

static int emu_kernel_index(const char *name, int cublas) {
    size_t h = ((uintptr_t)name >> 3) * 0x9e3779b97f4a7c15ull;
    for (size_t probe = 0; probe < DM_EMU_NAME_SLOTS; probe++) {
        size_t slot = (h + probe) & (DM_EMU_NAME_SLOTS - 1);
        if (g_name_hash[slot].ptr == name) return g_name_hash[slot].index;
        if (g_name_hash[slot].ptr) continue;
        /* a pointer not seen yet: the same name may have come through another literal */
        int index = -1;
        for (int i = 0; i < g_nkernels; i++)
            if (strcmp(g_kernels[i].name, name) == 0) index = i;
        if (index < 0 && g_nkernels < DM_EMU_MAX_KERNELS) {
            index = g_nkernels++;
            g_kernels[index].name = name;
            g_kernels[index].launches = 0;
            g_kernels[index].cublas = cublas;
        }
        if (index < 0) return -1;
        g_name_hash[slot].ptr = name;
        g_name_hash[slot].index = index;
        return index;
    }
    return -1;
}

void dm_emu_track_launch(const char *name, cudaStream_t stream, int cublas) {
    if (dm_emu_capturing(stream)) {
        dm_emu_capture_note(&(struct dm_emu_track_rec){.what = DM_EMU_REC_LAUNCH, .name = name, .cublas = cublas});
        return;
    }
    dm_emu_counters *s = emu_stream_counters(stream);
    g_total.launches++;
    if (s) s->launches++;
    if (cublas) {
        g_total.cublas_calls++;
        if (s) s->cublas_calls++;
    } else {
        g_total.kernels++;
        if (s) s->kernels++;
    }
    int k = emu_kernel_index(name, cublas);
    if (k >= 0) g_kernels[k].launches++;
}

static void emu_add_copy(dm_emu_counters *c, enum cudaMemcpyKind kind, size_t bytes) {
    switch (kind) {
    case cudaMemcpyHostToDevice:
        c->h2d_bytes += bytes;
        c->h2d_copies++;
        break;
    case cudaMemcpyDeviceToHost:
        c->d2h_bytes += bytes;
        c->d2h_copies++;
        break;
    case cudaMemcpyDeviceToDevice:
        c->d2d_bytes += bytes;
        c->d2d_copies++;
        break;
    default: /* host to host: no device traffic */
        break;
    }
}

void dm_emu_track_copy(enum cudaMemcpyKind kind, size_t bytes, cudaStream_t stream) {
    if (dm_emu_capturing(stream)) {
        dm_emu_capture_note(&(struct dm_emu_track_rec){.what = DM_EMU_REC_COPY, .kind = kind, .bytes = bytes});
        return;
    }
    dm_emu_counters *s = emu_stream_counters(stream);
    emu_add_copy(&g_total, kind, bytes);
    if (s) emu_add_copy(s, kind, bytes);
}

void dm_emu_track_memset(size_t bytes, cudaStream_t stream) {
    if (dm_emu_capturing(stream)) {
        dm_emu_capture_note(&(struct dm_emu_track_rec){.what = DM_EMU_REC_MEMSET, .bytes = bytes});
        return;
    }
    dm_emu_counters *s = emu_stream_counters(stream);
    g_total.memsets++;
    g_total.memset_bytes += bytes;
    if (s) {
        s->memsets++;
        s->memset_bytes += bytes;
    }
}

void dm_emu_track_node(const struct dm_emu_track_rec *rec, cudaStream_t stream) {
    if (rec->what == DM_EMU_REC_LAUNCH) dm_emu_track_launch(rec->name, stream, rec->cublas);
    if (rec->what == DM_EMU_REC_COPY) dm_emu_track_copy(rec->kind, rec->bytes, stream);
    if (rec->what == DM_EMU_REC_MEMSET) dm_emu_track_memset(rec->bytes, stream);
}

void dm_emu_track_graph(cudaStream_t stream, unsigned long long nodes, unsigned long long launch_nodes) {
    dm_emu_counters *s = emu_stream_counters(stream);
    g_total.graph_launches++;
    g_total.graph_nodes += nodes;
    g_total.graph_launch_nodes += launch_nodes;
    if (s) {
        s->graph_launches++;
        s->graph_nodes += nodes;
        s->graph_launch_nodes += launch_nodes;
    }
}

void dm_emu_track_sync(void) {
    g_total.syncs++;
}

void dm_emu_track_stream_destroy(cudaStream_t stream) {
    for (int i = 0; i < g_nstreams; i++)
        if (g_streams[i].stream == stream) {
            g_streams[i] = g_streams[--g_nstreams];
            return;
        }
}

void dm_emu_counters_get(dm_emu_counters *c) {
    *c = g_total;
}

void dm_emu_counters_stream(cudaStream_t stream, dm_emu_counters *c) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < g_nstreams; i++)
        if (g_streams[i].stream == stream) *c = g_streams[i].c;
}

void dm_emu_counters_reset(void) {
    memset(&g_total, 0, sizeof g_total);
    for (int i = 0; i < g_nstreams; i++) memset(&g_streams[i].c, 0, sizeof g_streams[i].c);
    g_nkernels = 0;
    memset(g_name_hash, 0, sizeof g_name_hash);
}

int dm_emu_kernel_entry(int i, const char **name, unsigned long long *launches, int *cublas) {
    if (i < 0 || i >= g_nkernels) return 0;
    if (name) *name = g_kernels[i].name;
    if (launches) *launches = g_kernels[i].launches;
    if (cublas) *cublas = g_kernels[i].cublas;
    return 1;
}

unsigned long long dm_emu_kernel_launches(const char *name) {
    for (int i = 0; i < g_nkernels; i++)
        if (strcmp(g_kernels[i].name, name) == 0) return g_kernels[i].launches;
    return 0;
}

/* ---- live allocations, sorted by address ------------------------------------------------------------ */
static struct dm_emu_block {
    uintptr_t lo;
    size_t size;
    enum dm_emu_mem kind;
} *g_blocks;
static size_t g_nblocks, g_capblocks;
/* Host threads other than the caller's allocate too (the read-ahead thread's pinned buffers, while the
 * main thread allocates device memory): the table is shared, so every access holds this lock. */
static pthread_mutex_t g_blocks_lock = PTHREAD_MUTEX_INITIALIZER;

/* The index of the last block starting at or below p, or -1. */
static long emu_block_below(uintptr_t p) {
    size_t lo = 0, hi = g_nblocks; /* the answer is in [lo, hi) - 1 */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g_blocks[mid].lo <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

int dm_emu_track_alloc(void *p, size_t size, enum dm_emu_mem kind) {
    pthread_mutex_lock(&g_blocks_lock);
    if (g_nblocks == g_capblocks) {
        size_t cap = g_capblocks ? 2 * g_capblocks : 256;
        struct dm_emu_block *b = realloc(g_blocks, cap * sizeof *b);
        if (!b) {
            pthread_mutex_unlock(&g_blocks_lock);
            return -1;
        }
        g_blocks = b;
        g_capblocks = cap;
    }
    size_t at = (size_t)(emu_block_below((uintptr_t)p) + 1);
    memmove(g_blocks + at + 1, g_blocks + at, (g_nblocks - at) * sizeof *g_blocks);
    g_blocks[at] = (struct dm_emu_block){(uintptr_t)p, size, kind};
    g_nblocks++;
    if (kind == DM_EMU_MEM_DEVICE) g_total.mallocs++;
    else g_total.host_allocs++;
    pthread_mutex_unlock(&g_blocks_lock);
    return 0;
}

enum dm_emu_mem dm_emu_track_free(void *p, enum dm_emu_mem kind) {
    pthread_mutex_lock(&g_blocks_lock);
    long i = emu_block_below((uintptr_t)p);
    enum dm_emu_mem k = DM_EMU_MEM_NONE;
    if (i >= 0 && g_blocks[i].lo == (uintptr_t)p) {
        k = g_blocks[i].kind;
        if (k == kind) { /* else the caller reports the mismatch */
            memmove(g_blocks + i, g_blocks + i + 1, (g_nblocks - (size_t)i - 1) * sizeof *g_blocks);
            g_nblocks--;
            if (kind == DM_EMU_MEM_DEVICE) g_total.frees++;
        }
    }
    pthread_mutex_unlock(&g_blocks_lock);
    return k;
}

enum dm_emu_mem dm_emu_track_find(const void *p, const void **base, size_t *size) {
    pthread_mutex_lock(&g_blocks_lock);
    long i = emu_block_below((uintptr_t)p);
    enum dm_emu_mem k = DM_EMU_MEM_NONE;
    /* a zero-size block holds nothing; p one past the end is outside */
    if (i >= 0 && (uintptr_t)p - g_blocks[i].lo < g_blocks[i].size) {
        if (base) *base = (const void *)g_blocks[i].lo;
        if (size) *size = g_blocks[i].size;
        k = g_blocks[i].kind;
    }
    pthread_mutex_unlock(&g_blocks_lock);
    return k;
}

void dm_emu_die(const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "emu: error: %s\n", text);
    fflush(stderr);
    abort();
}
