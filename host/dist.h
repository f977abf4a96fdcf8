/*
 * dist.h: the process group a command runs in. Under `mpirun -np K` (a build with MPI, CMake option
 * DM_MPI) it is MPI_COMM_WORLD; otherwise, or in a build without MPI, one process of rank 0 in a group
 * of size 1, and every collective below is the identity. The library never starts MPI by itself: the
 * CLI calls dm_dist_init first thing and dm_dist_finalize at exit.
 *
 * Two implementations: host/dist.c (a group of one) and host/dist_mpi.c, compiled instead when the build
 * has MPI (CMake DM_MPI=AUTO|ON|OFF). The MPI one joins MPI_COMM_WORLD only when an MPI launcher
 * started the process, so a plain run never starts MPI.
 */
#ifndef DM_DIST_H
#define DM_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "deepmotif.h"

/* Joins the process group when launched by an MPI launcher (MPI_Init), else makes a group of one.
 * Safe to call once per process; _BACKEND with one line when MPI fails to start. */
dm_status dm_dist_init(int *argc, char ***argv);
void dm_dist_finalize(void);

int dm_dist_rank(void); /* 0 .. size − 1 */
int dm_dist_size(void); /* 1 without MPI */
/* Rank among the ranks on this machine and their number (a rank's GPU: its local rank). */
int dm_dist_local_rank(void);
int dm_dist_local_size(void);
/* Ends every rank of the group at once with exit code `code` (MPI_Abort), for a failure on one rank
 * that the others cannot learn of through dm_dist_agree (they may be waiting in a collective). Returns
 * only in a group of one: the caller then exits as usual. */
void dm_dist_abort(int code);

/* In-place sum over the group of n floats (every rank ends with the same bits: the sum is taken in
 * rank order). */
dm_status dm_dist_allreduce_sum_f32(float *buf, size_t n);
/* Root's bytes to every rank. */
dm_status dm_dist_bcast(void *buf, size_t bytes, int root);
dm_status dm_dist_barrier(void);
/* Every rank passes its own status; every rank gets the first failing rank's status (lowest rank),
 * with that rank's dm_last_error() line, so every rank can end with the same error. _OK when all
 * passed. */
dm_status dm_dist_agree(dm_status mine);
/* Whether the failure a command is ending with is the whole group's (the last dm_dist_agree returned
 * it): every rank has it and can exit on its own; otherwise a rank that fails alone must end the
 * others with dm_dist_abort. */
bool dm_dist_failure_shared(void);

#endif
