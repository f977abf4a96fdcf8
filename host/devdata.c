/*
 * devdata.c: a data set resident in backend memory (model.h). Uploaded once in packed form
 * (dm_pack.h: 2 bits per base plus an exception bit), so a training epoch moves only the permutation
 * (4 bytes per row) to the backend and the per-row results (12 bytes per row) back; with fresh
 * negatives (train --fresh-negatives) the rows go again at every epoch (dm_devdata_set_codes).
 */
#include <math.h>
#include <stdlib.h>

#include "dm_pack.h"
#include "model.h"

void dm_devdata_free(dm_devdata *d) {
    if (!d) return;
    void *bufs[] = {d->packed, d->labels, d->order, d->logprob, d->loss};
    for (int k = 0; k < 5; k++)
        if (bufs[k]) d->be->i->free(d->be, bufs[k]);
    free(d);
}

dm_status dm_devdata_create(dm_devdata **out, dm_backend *be, const dm_dataset *ds) {
    *out = NULL;
    if (ds->n < 1 || ds->n > INT32_MAX) return dm_error(DM_STATUS_ARG, "data set of %lld rows: need 1..2^31−1", (long long)ds->n);
    dm_devdata *d = calloc(1, sizeof *d);
    if (!d) return dm_error(DM_STATUS_NOMEM, "out of memory for the device data set");
    size_t n = (size_t)ds->n, rb = (size_t)dm_pack_row_bytes(ds->len);
    d->be = be;
    d->n = ds->n;
    d->len = ds->len;
    d->packed = be->i->alloc(be, n * rb);
    d->labels = be->i->alloc(be, n);
    d->order = be->i->alloc(be, sizeof(int32_t) * n);
    d->logprob = be->i->alloc(be, sizeof(float) * 2 * n);
    d->loss = be->i->alloc(be, sizeof(float) * n);
    if (!d->packed || !d->labels || !d->order || !d->logprob || !d->loss) {
        dm_devdata_free(d);
        return dm_error(DM_STATUS_NOMEM, "out of memory for a data set of %lld sequences", (long long)ds->n);
    }
    be->i->upload(be, d->labels, ds->label, n);
    dm_status st = dm_devdata_set_codes(d, ds->seq);
    if (st == DM_STATUS_OK) st = dm_devdata_set_order(d, NULL);
    if (st) {
        dm_devdata_free(d);
        return st;
    }
    *out = d;
    return DM_STATUS_OK;
}

dm_status dm_devdata_set_codes(dm_devdata *d, const uint8_t *codes) {
    size_t n = (size_t)d->n, rb = (size_t)dm_pack_row_bytes(d->len);
    uint8_t *host = malloc(n * rb);
    if (!host) return dm_error(DM_STATUS_NOMEM, "out of memory for a data set of %lld sequences", (long long)d->n);
    for (size_t i = 0; i < n; i++) dm_pack_row(host + i * rb, codes + i * (size_t)d->len, d->len);
    d->be->i->upload(d->be, d->packed, host, n * rb);
    free(host);
    return dm_backend_status(d->be);
}

dm_status dm_devdata_set_order(dm_devdata *d, const int64_t *idx) {
    int32_t *order = malloc(sizeof(int32_t) * (size_t)d->n);
    if (!order) return dm_error(DM_STATUS_NOMEM, "out of memory for a row order");
    for (int64_t i = 0; i < d->n; i++) order[i] = (int32_t)(idx ? idx[i] : i);
    d->be->i->upload(d->be, d->order, order, sizeof(int32_t) * (size_t)d->n);
    free(order);
    return dm_backend_status(d->be);
}

dm_status dm_devdata_results(dm_devdata *d, float *p_pos, int64_t n_loss, double *loss_sum) {
    size_t n = (size_t)d->n;
    float *buf = malloc(sizeof(float) * 2 * n);
    if (!buf) return dm_error(DM_STATUS_NOMEM, "out of memory for epoch results");
    if (p_pos) {
        d->be->i->download(d->be, buf, d->logprob, sizeof(float) * 2 * n);
        for (size_t i = 0; i < n; i++) p_pos[i] = expf(buf[2 * i]);
    }
    if (loss_sum) {
        d->be->i->download(d->be, buf, d->loss, sizeof(float) * (size_t)n_loss);
        double s = 0;
        for (int64_t i = 0; i < n_loss; i++) s += buf[i];
        *loss_sum = s;
    }
    free(buf);
    return dm_backend_status(d->be);
}
