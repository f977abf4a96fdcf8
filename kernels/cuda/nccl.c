/*
 * nccl.c: the CUDA backend's sums over a process group (backend.h: group_id, group_join,
 * allreduce_sum), with NCCL from the CUDA toolkit: data-parallel training sums each rank's gradients
 * on the device, without host copies. Compiled only in CUDA builds that find NCCL and MPI (CMake); the
 * emulator has no NCCL, so there (and in builds without it) host/train.c sums host copies through MPI.
 *
 * Every rank gets the same bits from ncclAllReduce (each element's sum is formed once, by the ring's
 * or the tree's reduction, and then copied to every rank); the order of that sum is NCCL's, so the
 * weights are close to, not equal to, the MPI path's rank-order sum.
 */
#include <nccl.h>
#include <stdio.h>
#include <string.h>

#include "dm_cuda.h"

_Static_assert(sizeof(ncclUniqueId) == 128, "NCCL's id is 128 bytes (backend.h's group_id)");

static void nccl_check(dm_backend *be, ncclResult_t r, const char *what) {
    if (r == ncclSuccess) return;
    char msg[200];
    snprintf(msg, sizeof msg, "%s: %s", what, ncclGetErrorString(r));
    dm_backend_fail(be, DM_STATUS_BACKEND, msg);
}

void dm_cuda_group_id(dm_backend *be, void *id128) {
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    nccl_check(be, ncclGetUniqueId(&id), "ncclGetUniqueId");
    memcpy(id128, &id, sizeof id);
}

void dm_cuda_group_join(dm_backend *be, const void *id128, int rank, int size) {
    dm_cuda_ctx *ctx = be->ctx;
    dm_cuda_group_free(be);
    dm_cuda_check(be, cudaSetDevice(ctx->device), "cudaSetDevice (NCCL)");
    ncclUniqueId id;
    memcpy(&id, id128, sizeof id);
    ncclComm_t comm = NULL;
    ncclResult_t r = ncclCommInitRank(&comm, size, id, rank);
    nccl_check(be, r, "ncclCommInitRank");
    if (r == ncclSuccess) ctx->nccl = comm;
}

void dm_cuda_allreduce_sum(dm_backend *be, float *buf, int64_t n) {
    dm_cuda_ctx *ctx = be->ctx;
    if (!ctx->nccl) {
        dm_backend_fail(be, DM_STATUS_BACKEND, "allreduce_sum: no NCCL group joined");
        return;
    }
    if (n > 0)
        nccl_check(be, ncclAllReduce(buf, buf, (size_t)n, ncclFloat, ncclSum, (ncclComm_t)ctx->nccl, ctx->stream),
                   "ncclAllReduce");
}

void dm_cuda_group_free(dm_backend *be) {
    dm_cuda_ctx *ctx = be->ctx;
    if (ctx && ctx->nccl) {
        ncclCommDestroy((ncclComm_t)ctx->nccl);
        ctx->nccl = NULL;
    }
}
