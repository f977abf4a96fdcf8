/*
 * backend.c: what every backend shares: lifetime, the sticky error status, and the BLAS description.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "dm_base.h"

void dm_backend_free(dm_backend *be) {
    if (!be) return;
    be->i->destroy(be);
    free(be);
}

void dm_backend_fail(dm_backend *be, dm_status s, const char *msg) {
    if (be->status != DM_STATUS_OK) return;
    be->status = s;
    snprintf(be->error, sizeof be->error, "%s: %s", be->name, msg);
}

dm_status dm_backend_status(dm_backend *be) {
    dm_status s = be->status;
    if (s != DM_STATUS_OK) dm_error(s, "%s", be->error);   /* on the caller's thread */
    be->status = DM_STATUS_OK;
    return s;
}

const char *dm_blas_info(void) {
    static char buf[256];
    snprintf(buf, sizeof buf, "%s (core %s)", openblas_get_config(), openblas_get_corename());
    return buf;
}

#ifndef DM_USE_CUDA
/* Registration without CUDA: the only #ifdef of the backend (STYLE.md rule 4). */
bool dm_backend_cuda_built(void) { return false; }

dm_status dm_backend_cuda_create(dm_backend **out, int device) {
    *out = NULL;
    return dm_error(DM_STATUS_BACKEND, "this deepmotif was built without CUDA (configure with -DDM_CUDA=ON)");
}

dm_status dm_backend_cuda_cudnn(dm_backend *be) {
    return dm_error(DM_STATUS_BACKEND, "--cudnn: this deepmotif was built without CUDA");
}
#endif
