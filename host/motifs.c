/*
 * motifs.c: first-layer filters → PPMs (see motifs.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "motifs.h"
#include "netio.h"

void dm_motifs_options_default(dm_motifs_options *o) {
    *o = (dm_motifs_options){.frac = 0.5f, .min_sites = 10, .n_quarter = false};
}

dm_status dm_motifs_extract(dm_net *m, const dm_dataset *ds, const dm_motifs_options *o, dm_motif_set *out) {
    memset(out, 0, sizeof *out);
    int L = dm_net_hparams(m)->len, Bmax = dm_net_max_batch(m);
    int n_layers;
    const dm_layer *first = dm_net_layers(m, &n_layers);
    if (first->op != DM_LAYER_CONV)
        return dm_error(DM_STATUS_ARG, "motifs: the %s has no convolution filters", dm_arch_name(dm_net_hparams(m)->arch));
    int Lo = 0, K = 0, pad = 0, C = first->n;
    if (ds->len != L) return dm_error(DM_STATUS_ARG, "data length %d != model length %d", ds->len, L);
    /* the first conv's output is at most L long: valid (L − K + 1) or same-padded (L) */
    float *x = malloc(sizeof(float) * 4 * (size_t)Bmax * L), *act = malloc(sizeof(float) * (size_t)Bmax * L * C);
    float *mx = calloc((size_t)C, sizeof(float));
    double *counts = NULL;
    int64_t *sites = calloc((size_t)C, sizeof(int64_t));
    dm_status st = !x || !act || !mx || !sites ? dm_error(DM_STATUS_NOMEM, "motifs: out of memory") : DM_STATUS_OK;
    for (int pass = 0; pass < 2 && !st; pass++) {
        for (int64_t i = 0; i < ds->n && !st; i += Bmax) {
            int B = (int)(ds->n - i < Bmax ? ds->n - i : Bmax);
            const uint8_t *codes = ds->seq + (size_t)i * L;
            dm_onehot_host(x, codes, (int64_t)B * L, o->n_quarter);
            st = dm_net_first_layer(m, x, B, act, &Lo, &K, &pad, &C);
            if (st) break;
            if (pass == 1 && !counts) {
                counts = calloc((size_t)C * K * 4, sizeof(double));
                if (!counts) { st = dm_error(DM_STATUS_NOMEM, "motifs: out of memory"); break; }
            }
            for (int b = 0; b < B; b++)
                for (int l = 0; l < Lo; l++) {
                    const float *a = act + ((size_t)b * Lo + l) * C;
                    for (int k = 0; k < C; k++) {
                        if (pass == 0) { if (a[k] > mx[k]) mx[k] = a[k]; continue; }
                        if (mx[k] <= 0 || a[k] <= o->frac * mx[k]) continue;
                        sites[k]++;
                        for (int t = 0; t < K; t++) {    /* the window: input positions l + t − pad */
                            int p = l + t - pad;
                            if (p < 0 || p >= L || codes[(size_t)b * L + p] >= 4) continue;
                            counts[((size_t)k * K + t) * 4 + codes[(size_t)b * L + p]] += 1.0;
                        }
                    }
                }
        }
    }
    int kept = 0;
    for (int k = 0; k < C && !st; k++) kept += sites[k] >= o->min_sites;
    if (!st && kept > 0) {
        out->m = calloc((size_t)kept, sizeof(dm_motif));
        if (!out->m) st = dm_error(DM_STATUS_NOMEM, "motifs: out of memory");
    }
    for (int k = 0; k < C && !st; k++) {
        if (sites[k] < o->min_sites) continue;
        dm_motif *mo = &out->m[out->n];
        mo->p = malloc(sizeof(float) * (size_t)K * 4);
        if (!mo->p) { st = dm_error(DM_STATUS_NOMEM, "motifs: out of memory"); break; }
        out->n++;
        snprintf(mo->id, sizeof mo->id, "filter_%d", k + 1);
        snprintf(mo->name, sizeof mo->name, "max_activation=%.4g", mx[k]);
        mo->w = K;
        mo->nsites = (int)(sites[k] > 2147483647 ? 2147483647 : sites[k]);
        for (int t = 0; t < K; t++) {     /* column frequencies with a pseudocount of 0.1 per base */
            const double *cn = counts + ((size_t)k * K + t) * 4;
            double s = cn[0] + cn[1] + cn[2] + cn[3] + 0.4;
            for (int c = 0; c < 4; c++) mo->p[4 * t + c] = (float)((cn[c] + 0.1) / s);
        }
    }
    if (st) dm_motif_set_free(out);
    free(x); free(act); free(mx); free(counts); free(sites);
    return st;
}
