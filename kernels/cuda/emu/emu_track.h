/*
 * emu_track.h: what the emulator's runtime (emu.c) and cuBLAS stand-in (cublas.c) tell emu_track.c: every
 * launch, copy, synchronisation and allocation, counted for dm_emu_counters_get (emu.h), and the table
 * of live allocations the pointer checks read. Internal to kernels/cuda/emu.
 */
#ifndef DM_EMU_TRACK_H
#define DM_EMU_TRACK_H

#include <stddef.h>

#include "include/cuda_runtime.h"

/* A kernel launch (cublas = 0) or a cuBLAS call (cublas = 1) named `name` (a string that outlives the
 * process: a literal) on `stream`. */
void dm_emu_track_launch(const char *name, cudaStream_t stream, int cublas);
/* A copy of `bytes` in direction `kind` (HostToDevice, DeviceToHost or DeviceToDevice, resolved). */
void dm_emu_track_copy(enum cudaMemcpyKind kind, size_t bytes, cudaStream_t stream);
void dm_emu_track_memset(size_t bytes, cudaStream_t stream);
/* A call that makes the host wait for the device. */
void dm_emu_track_sync(void);
/* Forgets a destroyed stream's counters. */
void dm_emu_track_stream_destroy(cudaStream_t stream);

/* Live allocations: device memory (cudaMalloc) or pinned host memory (cudaMallocHost). */
enum dm_emu_mem { DM_EMU_MEM_NONE, DM_EMU_MEM_DEVICE, DM_EMU_MEM_PINNED };
/* Records [p, p + size); returns 0, or -1 when out of memory for the table. */
int dm_emu_track_alloc(void *p, size_t size, enum dm_emu_mem kind);
/* Forgets the allocation starting at p; returns its kind (NONE when p starts no live allocation, or
 * starts one of another kind than `kind`: then nothing is forgotten). */
enum dm_emu_mem dm_emu_track_free(void *p, enum dm_emu_mem kind);
/* The kind of live allocation holding byte p (NONE: ordinary host memory); *base and *size, when
 * not NULL, receive that allocation's extent. */
enum dm_emu_mem dm_emu_track_find(const void *p, const void **base, size_t *size);

/* Prints `emu: error: <text>` on stderr and aborts: a misuse a real GPU would turn into a fault or
 * into silent corruption (a test failure). */
void dm_emu_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* DM_EMU_TRACK_H */
