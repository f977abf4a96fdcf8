/*
 * emu_queue.h: the emulator's streams as queues (emu_queue.c), for emu.c and cublas.c. Internal to
 * kernels/cuda/emu.
 *
 * Work on a stream (a kernel launch, an asynchronous copy or memset, a cuBLAS call, an event record, a
 * wait for an event) is an item in that stream's queue; it runs when the host synchronises with it or
 * with work that depends on it. Items of one stream run in order; among the streams whose next item
 * is ready (every item it waits for has run), DM_EMU_SCHED picks: fwd the oldest (program order), rev
 * the newest, rand a seeded random one.
 */
#ifndef DM_EMU_QUEUE_H
#define DM_EMU_QUEUE_H

#include "include/cuda_runtime.h"

typedef void (*dm_emu_work_fn)(void *payload);

/* Enqueues fn(payload) on `stream` (NULL: the legacy default stream, with its implicit ordering
 * against blocking streams); `payload` (malloc'd or NULL) is freed after fn has run. Returns the
 * item's sequence number (increasing over the process). */
unsigned long long dm_emu_enqueue(cudaStream_t stream, dm_emu_work_fn fn, void *payload);

/* Runs queued work until every stream is empty. */
void dm_emu_drain_all(void);
/* Runs queued work until everything enqueued on `stream` so far has run. */
void dm_emu_drain_stream(cudaStream_t stream);
/* Runs queued work until item `seq` of `stream` has run. */
void dm_emu_drain_item(cudaStream_t stream, unsigned long long seq);

/* The scheduler's pick among n ready streams sorted oldest first (emu.c: fwd 0, rev n - 1, rand a
 * random index). */
unsigned dm_emu_sched_pick(unsigned n);
/* Records e as the last error (cudaGetLastError) and returns it (emu.c). */
cudaError_t dm_emu_ret(cudaError_t e);
/* A synchronising call's status: a kernel failure not yet returned, cleared (emu.c). */
cudaError_t dm_emu_sync_status(void);

/* ---- stream capture (emu_queue.c) ---- */
/* What emu_track.c counts for one piece of work; during a capture it is kept with the graph node and
 * counted each time the graph is launched. */
struct dm_emu_track_rec {
    enum { DM_EMU_REC_NONE, DM_EMU_REC_LAUNCH, DM_EMU_REC_COPY, DM_EMU_REC_MEMSET } what;
    const char *name;         /* launch: kernel or cuBLAS function */
    int cublas;               /* launch: a cuBLAS call */
    enum cudaMemcpyKind kind; /* copy: the resolved direction */
    size_t bytes;             /* copy or memset */
};
/* Whether `stream` (NULL: the legacy stream) is capturing. */
int dm_emu_capturing(cudaStream_t stream);
/* emu_track.c hands the count of the work about to be enqueued on a capturing stream to the capture. */
void dm_emu_capture_note(const struct dm_emu_track_rec *rec);
/* Counts a replayed node's work (emu_track.c). */
void dm_emu_track_node(const struct dm_emu_track_rec *rec, cudaStream_t stream);
/* A graph launch of `nodes` nodes, `launch_nodes` of them kernels or cuBLAS calls (emu_track.c). */
void dm_emu_track_graph(cudaStream_t stream, unsigned long long nodes, unsigned long long launch_nodes);
/* Called by an allocation, free or synchronisation: if any stream is capturing, prints
 * `emu: error: CALL during stream capture`, invalidates the captures and returns 1; else 0. */
int dm_emu_capture_forbid(const char *call);

#endif /* DM_EMU_QUEUE_H */
