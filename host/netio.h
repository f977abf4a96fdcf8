/*
 * netio.h: the one engine model loader and the one host-side one-hot encoder, shared by the CLI,
 * the dashboard, saliency, temporal scores and motif extraction.
 */
#ifndef DM_NETIO_H
#define DM_NETIO_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

/* Loads the checkpoint at `path` (dm_checkpoint_load) into a new net on `be` for batches of up to
 * `max_batch`, its weights set; *out gets it (dm_net_free), *prov (may be NULL) the checkpoint's
 * provenance. A checkpoint error is the reader's message ("path: ..."); an error building the net
 * names the file too. On failure *out is NULL and nothing is left allocated.
 * Returns _OK, _IO, _FORMAT, _NOMEM, _BACKEND. */
dm_status dm_net_load(const char *path, dm_backend *be, int max_batch, dm_net **out, dm_provenance *prov);

/* x (n, 4) float32 from n base codes, as the backend's one-hot op encodes them: A C G T are unit
 * rows, DM_BASE_N is a zero row or 0.25 per channel when `n_quarter`, anything else (padding) a
 * zero row. */
void dm_onehot_host(float *x, const uint8_t *codes, int64_t n, bool n_quarter);

#endif /* DM_NETIO_H */
