/*
 * kcompat.h: the one header every kernels/cuda .cu file includes first (CUDA-EMULATION.md §2).
 *
 * A .cu file is written in the subset of CUDA that is also GNU C, so it builds twice: with nvcc for
 * the GPU and with gcc against the CPU emulator (kernels/cuda/emu/emu.h, DM_CUDA_EMU builds). Three
 * macros hide the only syntax the two disagree on:
 *   DM_LAUNCH(kernel, grid, block, shmem, stream, args...)   kernel<<<grid, block, shmem, stream>>>(args)
 *   DM_DYN_SHARED(T, name)                                   extern __shared__ T name[]
 *   DM_KAPI                                                  C linkage for launchers and table entries
 */
#ifndef DM_KCOMPAT_H
#define DM_KCOMPAT_H

#ifdef __CUDACC__
#include <cuda_runtime.h>
#define DM_LAUNCH(k, grid, block, shmem, stream, ...) k<<<(grid), (block), (shmem), (stream)>>>(__VA_ARGS__)
#define DM_DYN_SHARED(T, name) extern __shared__ T name[]
#define DM_KAPI extern "C"
#else
#include "emu/emu.h"
#define DM_LAUNCH(k, grid, block, shmem, stream, ...) DM_EMU_LAUNCH(k, grid, block, shmem, stream, __VA_ARGS__)
#define DM_DYN_SHARED(T, name) T *name = (T *)dm_emu_dyn_shared()
#define DM_KAPI
#endif

#endif /* DM_KCOMPAT_H */
