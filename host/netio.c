/*
 * netio.c: dm_net_load and dm_onehot_host (see netio.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "netio.h"
#include "predavg.h"

dm_status dm_net_load(const char *path, dm_backend *be, int max_batch, dm_net **out, dm_provenance *prov) {
    *out = NULL;
    dm_provenance *own = NULL;
    if (!prov && !(prov = own = calloc(1, sizeof *prov)))
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory", path);
    dm_hparams hp;
    float *params = NULL;
    int64_t np;
    dm_ckpt_extra x;
    dm_status st = dm_checkpoint_load_ex(path, dm_net_table, &hp, &params, &np, prov, NULL, &x);
    free(own);
    if (st) return st;
    dm_net *m = NULL;
    st = dm_net_create(&m, &hp, be, max_batch);
    if (!st && x.n_members > 1) {
        /* an ensemble: member 0 (PARM) and the others (ENSM) in one array */
        float *all = realloc(params, sizeof(float) * (size_t)x.n_members * (size_t)(np > 0 ? np : 1));
        if (!all) st = dm_error(DM_STATUS_NOMEM, "out of memory for %d ensemble members", (int)x.n_members);
        else {
            params = all;
            memcpy(params + np, x.members, sizeof(float) * (size_t)(x.n_members - 1) * (size_t)np);
        }
    }
    if (!st) st = dm_net_set_members(m, params, x.n_members);
    if (!st) dm_net_pred_of(m)->rc = x.rc;
    dm_ckpt_extra_free(&x);
    free(params);
    if (st) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dm_last_error());
        dm_net_free(m);
        return dm_error(st, "%s: %s", path, msg);
    }
    *out = m;
    return DM_STATUS_OK;
}

void dm_onehot_host(float *x, const uint8_t *codes, int64_t n, bool n_quarter) {
    float other_n = n_quarter ? 0.25f : 0.0f;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < 4; c++)
            x[4 * i + c] = codes[i] < 4 ? (float)(codes[i] == c) : (codes[i] == DM_BASE_N ? other_n : 0.0f);
}
