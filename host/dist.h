/*
 * dist.h: the process group a command runs in. Under `mpirun -np K` (a build with MPI, CMake option
 * DM_MPI) it is MPI_COMM_WORLD; otherwise, or in a build without MPI, one process of rank 0 in a group
 * of size 1, and every collective below is the identity. The library never starts MPI by itself: the
 * CLI calls dm_dist_init first thing and dm_dist_finalize at exit.
 *
 * Interface only on main so far (the single-process implementation in host/dist.c); the MPI
 * implementation and its CMake option come with issue 13's data-parallel work.
 */
#ifndef DM_DIST_H
#define DM_DIST_H

#include <stddef.h>

#include "deepmotif.h"

/* Joins the process group when launched by an MPI launcher (MPI_Init), else makes a group of one.
 * Safe to call once per process; _BACKEND with one line when MPI fails to start. */
dm_status dm_dist_init(int *argc, char ***argv);
void dm_dist_finalize(void);

int dm_dist_rank(void); /* 0 .. size − 1 */
int dm_dist_size(void); /* 1 without MPI */

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

#endif
