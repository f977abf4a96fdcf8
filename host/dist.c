/*
 * dist.c: the process group of one (see dist.h). A build with MPI compiles host/dist_mpi.c instead.
 */
#include "dist.h"

dm_status dm_dist_init(int *argc, char ***argv) { (void)argc; (void)argv; return DM_STATUS_OK; }
void dm_dist_finalize(void) {}
int dm_dist_rank(void) { return 0; }
int dm_dist_size(void) { return 1; }
int dm_dist_local_rank(void) { return 0; }
int dm_dist_local_size(void) { return 1; }
void dm_dist_abort(int code) { (void)code; }
dm_status dm_dist_allreduce_sum_f32(float *buf, size_t n) { (void)buf; (void)n; return DM_STATUS_OK; }
dm_status dm_dist_bcast(void *buf, size_t bytes, int root) { (void)buf; (void)bytes; (void)root; return DM_STATUS_OK; }
dm_status dm_dist_barrier(void) { return DM_STATUS_OK; }
dm_status dm_dist_agree(dm_status mine) { return mine; }
bool dm_dist_failure_shared(void) { return false; }
