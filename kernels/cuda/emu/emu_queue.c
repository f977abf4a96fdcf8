/*
 * emu_queue.c: streams and events as queues (emu_queue.h), and the CUDA stream and event API of
 * include/cuda_runtime.h.
 *
 * Model. Every stream has a FIFO of items; an item may also wait for items of other streams (a
 * cudaStreamWaitEvent, or the legacy default stream's implicit ordering). Nothing runs when it is
 * enqueued: work runs when the host waits for it (cudaStreamSynchronize, cudaDeviceSynchronize,
 * cudaEventSynchronize, a synchronous cudaMemcpy, a copy to pageable host memory, cudaFree). To reach
 * the awaited item the scheduler repeatedly runs the next item of one stream whose next item is ready
 * (all it waits for has run): under DM_EMU_SCHED=fwd the oldest such item (program order, what the
 * emulator did before streams were queues), under rev the newest, under rand a seeded random one. So
 * two streams with no dependency between them run in different orders in fwd, rev and rand, and a
 * missing cudaStreamWaitEvent changes the results.
 *
 * The legacy default stream (NULL): an item on it waits for every earlier item of the blocking
 * streams (created without cudaStreamNonBlocking), and an item on a blocking stream waits for every
 * earlier item of the NULL stream, as CUDA documents; non-blocking streams are not ordered against it.
 * Simplifications: cudaStreamDestroy and cudaEventDestroy first run what the stream (or the event's
 * record) still waits for (CUDA defers the release instead); events carry no flags.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu_queue.h"
#include "emu_track.h"

struct dm_emu_dep {
    int sid;                 /* stream registry index */
    unsigned long long seq;  /* satisfied once that stream has no pending item with seq <= this */
};

struct dm_emu_item {
    unsigned long long seq;
    dm_emu_work_fn fn;
    void *payload;
    struct dm_emu_dep *deps;
    int ndeps;
    struct dm_emu_item *next;
};

struct CUstream_st {
    struct CUgraph_st *capture; /* the graph being captured, or NULL */
    unsigned flags;
    int sid;
    struct dm_emu_item *head, *tail;
    unsigned long long last_seq; /* the last item enqueued (0: none) */
};

struct CUevent_st {
    struct timespec when; /* when its record ran */
    int recorded;         /* cudaEventRecord was called */
    int sid;              /* the record item: stream and seq */
    unsigned long long seq;
};

static struct CUstream_st g_legacy = {NULL, 0, 0, NULL, NULL, 0};
static struct CUstream_st **g_reg; /* sid -> stream (NULL once destroyed); 0 is the legacy stream */
static int g_nreg, g_capreg;
static unsigned long long g_seq;

static struct CUstream_st *emu_stream(cudaStream_t s) {
    return s ? s : &g_legacy;
}

/* Adds s (NULL: only makes sure the legacy stream is entry 0) to the registry; 0 or -1. */
static int emu_register(struct CUstream_st *s) {
    if (g_nreg > 0 && !s) return 0;
    if (g_nreg + 2 > g_capreg) {
        int cap = g_capreg ? 2 * g_capreg : 16;
        struct CUstream_st **r = realloc(g_reg, sizeof *r * (size_t)cap);
        if (!r) return -1;
        g_reg = r;
        g_capreg = cap;
    }
    if (g_nreg == 0) g_reg[g_nreg++] = &g_legacy;
    if (!s) return 0;
    s->sid = g_nreg;
    g_reg[g_nreg++] = s;
    return 0;
}

static int emu_dep_done(const struct dm_emu_dep *d) {
    const struct CUstream_st *s = d->sid == 0 ? &g_legacy : (d->sid < g_nreg ? g_reg[d->sid] : NULL);
    return !s || !s->head || s->head->seq > d->seq;
}

static int emu_item_ready(const struct dm_emu_item *it) {
    for (int i = 0; i < it->ndeps; i++)
        if (!emu_dep_done(&it->deps[i])) return 0;
    return 1;
}

static void emu_add_dep(struct dm_emu_item *it, int sid, unsigned long long seq) {
    if (seq == 0) return;
    struct dm_emu_dep *d = realloc(it->deps, sizeof *d * (size_t)(it->ndeps + 1));
    if (!d) dm_emu_die("out of memory for a stream dependency");
    it->deps = d;
    d[it->ndeps++] = (struct dm_emu_dep){sid, seq};
}

/* Appends an item with fn(payload) to s, with the legacy stream's implicit dependencies. */
static struct dm_emu_item *emu_push(struct CUstream_st *s, dm_emu_work_fn fn, void *payload) {
    if (emu_register(NULL) != 0) dm_emu_die("out of memory for a stream");
    struct dm_emu_item *it = calloc(1, sizeof *it);
    if (!it) dm_emu_die("out of memory for a stream item");
    it->seq = ++g_seq;
    it->fn = fn;
    it->payload = payload;
    if (s == &g_legacy) {
        for (int i = 1; i < g_nreg; i++)
            if (g_reg[i] && !(g_reg[i]->flags & cudaStreamNonBlocking)) emu_add_dep(it, i, g_reg[i]->last_seq);
    } else if (!(s->flags & cudaStreamNonBlocking)) {
        emu_add_dep(it, 0, g_legacy.last_seq);
    }
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    s->last_seq = it->seq;
    return it;
}

static void emu_capture_add(struct CUgraph_st *g, dm_emu_work_fn fn, void *payload);

unsigned long long dm_emu_enqueue(cudaStream_t stream, dm_emu_work_fn fn, void *payload) {
    struct CUstream_st *s = emu_stream(stream);
    if (s->capture) {
        emu_capture_add(s->capture, fn, payload);
        return 0;
    }
    return emu_push(s, fn, payload)->seq;
}

/* Runs one ready item chosen by the schedule; 0 if nothing is pending. */
static int emu_step(void) {
    enum { MAXR = 256 };
    struct CUstream_st *ready[MAXR];
    unsigned n = 0;
    int pending = 0;
    for (int i = 0; i < g_nreg; i++) {
        struct CUstream_st *s = g_reg[i];
        if (!s || !s->head) continue;
        pending = 1;
        if (n < MAXR && emu_item_ready(s->head)) ready[n++] = s;
    }
    if (!pending) return 0;
    if (n == 0) dm_emu_die("stream scheduler: pending work but no stream ready (a dependency cycle)");
    /* oldest first, so that fwd is program order */
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && ready[j - 1]->head->seq > ready[j]->head->seq; j--) {
            struct CUstream_st *t = ready[j];
            ready[j] = ready[j - 1];
            ready[j - 1] = t;
        }
    struct CUstream_st *s = ready[dm_emu_sched_pick(n)];
    struct dm_emu_item *it = s->head;
    s->head = it->next;
    if (!s->head) s->tail = NULL;
    it->fn(it->payload);
    free(it->payload);
    free(it->deps);
    free(it);
    return 1;
}

void dm_emu_drain_all(void) {
    while (emu_step()) {
    }
}

void dm_emu_drain_item(cudaStream_t stream, unsigned long long seq) {
    struct CUstream_st *s = emu_stream(stream);
    struct dm_emu_dep d = {s == &g_legacy ? 0 : s->sid, seq};
    while (!emu_dep_done(&d) && emu_step()) {
    }
}

void dm_emu_drain_stream(cudaStream_t stream) {
    struct CUstream_st *s = emu_stream(stream);
    dm_emu_drain_item(stream, s->last_seq);
}

/* ---- the stream and event API ------------------------------------------------------------------------ */
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags) {
    if (!stream || (flags & ~(unsigned)cudaStreamNonBlocking)) return dm_emu_ret(cudaErrorInvalidValue);
    *stream = calloc(1, sizeof **stream);
    if (!*stream) return dm_emu_ret(cudaErrorMemoryAllocation);
    (*stream)->flags = flags;
    if (emu_register(NULL) != 0 || emu_register(*stream) != 0) {
        free(*stream);
        *stream = NULL;
        return dm_emu_ret(cudaErrorMemoryAllocation);
    }
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *stream) {
    return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    if (!stream) return dm_emu_ret(cudaErrorInvalidValue);
    dm_emu_drain_stream(stream); /* its work completes (CUDA releases the stream after it) */
    if (stream->sid > 0 && stream->sid < g_nreg) g_reg[stream->sid] = NULL;
    dm_emu_track_stream_destroy(stream);
    free(stream);
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    if (dm_emu_capture_forbid("cudaStreamSynchronize")) return dm_emu_ret(cudaErrorStreamCaptureUnsupported);
    dm_emu_track_sync();
    dm_emu_drain_stream(stream);
    return dm_emu_sync_status();
}

cudaError_t cudaDeviceSynchronize(void) {
    if (dm_emu_capture_forbid("cudaDeviceSynchronize")) return dm_emu_ret(cudaErrorStreamCaptureUnsupported);
    dm_emu_track_sync();
    dm_emu_drain_all();
    return dm_emu_sync_status();
}

/* A wait item: its dependency is the whole work. */
static void emu_nothing(void *p) {
    (void)p;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
    if (!event || flags != 0) return dm_emu_ret(cudaErrorInvalidValue);
    if (emu_stream(stream)->capture && dm_emu_capture_forbid("cudaStreamWaitEvent on a capturing stream"))
        return dm_emu_ret(cudaErrorStreamCaptureUnsupported);
    struct dm_emu_item *it = emu_push(emu_stream(stream), emu_nothing, NULL);
    if (event->recorded) emu_add_dep(it, event->sid, event->seq);
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *event) {
    if (!event) return dm_emu_ret(cudaErrorInvalidValue);
    *event = calloc(1, sizeof **event);
    return *event ? cudaSuccess : dm_emu_ret(cudaErrorMemoryAllocation);
}

static void emu_event_mark(void *p) {
    cudaEvent_t e = *(cudaEvent_t *)p;
    clock_gettime(CLOCK_MONOTONIC, &e->when);
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
    if (!event) return dm_emu_ret(cudaErrorInvalidValue);
    if (emu_stream(stream)->capture && dm_emu_capture_forbid("cudaEventRecord on a capturing stream"))
        return dm_emu_ret(cudaErrorStreamCaptureUnsupported);
    cudaEvent_t *p = malloc(sizeof *p);
    if (!p) return dm_emu_ret(cudaErrorMemoryAllocation);
    *p = event;
    struct CUstream_st *s = emu_stream(stream);
    struct dm_emu_item *it = emu_push(s, emu_event_mark, p);
    event->recorded = 1;
    event->sid = s == &g_legacy ? 0 : s->sid;
    event->seq = it->seq;
    return cudaSuccess;
}

static int emu_event_done(cudaEvent_t e) {
    struct dm_emu_dep d = {e->sid, e->seq};
    return !e->recorded || emu_dep_done(&d);
}

static void emu_event_drain(cudaEvent_t e) {
    struct dm_emu_dep d = {e->sid, e->seq};
    while (e->recorded && !emu_dep_done(&d) && emu_step()) {
    }
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
    if (!event) return dm_emu_ret(cudaErrorInvalidValue);
    if (dm_emu_capture_forbid("cudaEventSynchronize")) return dm_emu_ret(cudaErrorStreamCaptureUnsupported);
    dm_emu_track_sync();
    emu_event_drain(event);
    return dm_emu_sync_status();
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
    if (!event) return dm_emu_ret(cudaErrorInvalidValue);
    return emu_event_done(event) ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    if (!ms || !start || !end || !start->recorded || !end->recorded) return dm_emu_ret(cudaErrorInvalidValue);
    if (!emu_event_done(start) || !emu_event_done(end)) return dm_emu_ret(cudaErrorNotReady);
    *ms = (float)((double)(end->when.tv_sec - start->when.tv_sec) * 1e3 +
                  (double)(end->when.tv_nsec - start->when.tv_nsec) * 1e-6);
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
    if (!event) return dm_emu_ret(cudaErrorInvalidValue);
    emu_event_drain(event); /* its record item still points at it */
    free(event);
    return cudaSuccess;
}

/* ---- graphs: stream capture and replay ------------------------------------------------------------------
 * A capture keeps every piece of work enqueued on the stream as a node: the work function, its payload
 * (the launch's copy of its arguments, the copy's pointers and staged bytes, the cuBLAS call's
 * operands) and what the counters would have counted. A launch of the instantiated graph enqueues each
 * node in order on the launching stream with the recorded payload, as a real graph replays the
 * recorded kernel parameters: a value that changes between steps but was passed by value at capture
 * is replayed unchanged. Nodes of one graph run in capture order (one captured stream: a chain).
 * Capture mode is always thread-local: only the capturing thread's allocations and synchronisations
 * are refused (the backend captures in that mode). */
struct dm_emu_node {
    dm_emu_work_fn fn;
    void *payload;
    struct dm_emu_track_rec rec;
};

struct CUgraph_st {
    struct dm_emu_node *nodes;
    int n, cap;
    int refs;        /* the graph handle and each instantiation */
    int invalid;     /* an unsupported call happened during the capture */
    int ended;       /* cudaStreamEndCapture returned it */
    pthread_t owner; /* the capturing thread (cudaStreamCaptureModeThreadLocal: its calls are checked) */
};

struct CUgraphExec_st {
    struct CUgraph_st *graph;
};

static int g_ncapturing;                  /* streams capturing now */
/* the count of the work about to be captured: per thread, as the note and the node it goes into are made
 * by the enqueuing thread (other host threads, e.g. the read-ahead thread allocating pinned memory, reset
 * their own) */
static _Thread_local struct dm_emu_track_rec g_pending;

int dm_emu_capturing(cudaStream_t stream) {
    return emu_stream(stream)->capture != NULL;
}

void dm_emu_capture_note(const struct dm_emu_track_rec *rec) {
    g_pending = *rec;
}

static void emu_capture_add(struct CUgraph_st *g, dm_emu_work_fn fn, void *payload) {
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 32;
        struct dm_emu_node *nn = realloc(g->nodes, sizeof *nn * (size_t)cap);
        if (!nn) dm_emu_die("out of memory for a graph node");
        g->nodes = nn;
        g->cap = cap;
    }
    g->nodes[g->n++] = (struct dm_emu_node){fn, payload, g_pending};
    g_pending = (struct dm_emu_track_rec){0};
}

int dm_emu_capture_forbid(const char *call) {
    g_pending = (struct dm_emu_track_rec){0};
    if (g_ncapturing == 0) return 0;
    int mine = 0;
    for (int i = 0; i < g_nreg; i++)
        if (g_reg[i] && g_reg[i]->capture && pthread_equal(g_reg[i]->capture->owner, pthread_self())) mine = 1;
    if (!mine) return 0;   /* another thread's call (thread-local capture mode) */
    fprintf(stderr, "emu: error: %s during stream capture (cudaErrorStreamCaptureUnsupported)\n", call);
    for (int i = 0; i < g_nreg; i++)
        if (g_reg[i] && g_reg[i]->capture) g_reg[i]->capture->invalid = 1;
    return 1;
}

static void emu_graph_unref(struct CUgraph_st *g) {
    if (--g->refs > 0) return;
    for (int i = 0; i < g->n; i++) free(g->nodes[i].payload);
    free(g->nodes);
    free(g);
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode) {
    (void)mode;
    if (!stream) return dm_emu_ret(cudaErrorStreamCaptureUnsupported); /* the legacy stream */
    if (stream->capture) return dm_emu_ret(cudaErrorInvalidValue);
    if (emu_register(NULL) != 0) return dm_emu_ret(cudaErrorMemoryAllocation);
    stream->capture = calloc(1, sizeof *stream->capture);
    if (!stream->capture) return dm_emu_ret(cudaErrorMemoryAllocation);
    stream->capture->refs = 1;
    stream->capture->owner = pthread_self();
    g_ncapturing++;
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph) {
    if (!graph) return dm_emu_ret(cudaErrorInvalidValue);
    *graph = NULL;
    if (!stream || !stream->capture) return dm_emu_ret(cudaErrorInvalidValue);
    struct CUgraph_st *g = stream->capture;
    stream->capture = NULL;
    g_ncapturing--;
    if (g->invalid) {
        emu_graph_unref(g);
        return dm_emu_ret(cudaErrorStreamCaptureInvalidated);
    }
    g->ended = 1;
    *graph = g;
    return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags) {
    if (!exec || !graph || !graph->ended || flags != 0) return dm_emu_ret(cudaErrorInvalidValue);
    *exec = calloc(1, sizeof **exec);
    if (!*exec) return dm_emu_ret(cudaErrorMemoryAllocation);
    (*exec)->graph = graph;
    graph->refs++;
    return cudaSuccess;
}

/* A replayed node: runs the recorded work without taking its payload (the graph keeps it). */
static void emu_node_run(void *p) {
    const struct dm_emu_node *nd = *(const struct dm_emu_node **)p;
    nd->fn(nd->payload);
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
    if (!exec) return dm_emu_ret(cudaErrorInvalidValue);
    struct CUstream_st *s = emu_stream(stream);
    if (s->capture) return dm_emu_ret(cudaErrorStreamCaptureUnsupported); /* no nested graphs here */
    struct CUgraph_st *g = exec->graph;
    unsigned long long kn = 0;
    for (int i = 0; i < g->n; i++) kn += g->nodes[i].rec.what == DM_EMU_REC_LAUNCH;
    dm_emu_track_graph(stream, (unsigned long long)g->n, kn);
    for (int i = 0; i < g->n; i++) {
        const struct dm_emu_node **p = malloc(sizeof *p);
        if (!p) dm_emu_die("out of memory launching a graph");
        *p = &g->nodes[i];
        dm_emu_track_node(&g->nodes[i].rec, stream);
        emu_push(s, emu_node_run, p);
    }
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    if (!exec) return dm_emu_ret(cudaErrorInvalidValue);
    dm_emu_drain_all(); /* its nodes' payloads may still be queued (CUDA defers the release instead) */
    emu_graph_unref(exec->graph);
    free(exec);
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    if (!graph) return dm_emu_ret(cudaErrorInvalidValue);
    dm_emu_drain_all();
    emu_graph_unref(graph);
    return cudaSuccess;
}
