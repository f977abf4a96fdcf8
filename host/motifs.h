/*
 * motifs.h: first-layer convolution filters as position probability matrices, by the usual
 * activation alignment (Kelley et al. 2016, Basset; Alipanahi et al. 2015): for each filter, every
 * input window whose activation (after ReLU) exceeds `frac` × the filter's maximum over the data is a
 * site; the PPM is the base composition of its sites, column by column.
 */
#ifndef DM_MOTIFS_H
#define DM_MOTIFS_H

#include "meme.h"
#include "model.h"

typedef struct dm_motifs_options {
    float frac;            /* activation threshold relative to the filter's maximum (0.5) */
    int min_sites;         /* filters with fewer sites are left out (10) */
    bool n_quarter;
} dm_motifs_options;

void dm_motifs_options_default(dm_motifs_options *o);

/* Two passes over `ds` (fixed memory: one batch of activations at a time): the maximum activation of
 * every filter, then the base counts of the windows above frac × max. Windows reaching into the
 * padding or over N contribute only their ACGT positions. `out` receives one motif per filter with at
 * least min_sites sites, named filter_<k> (1-based), nsites = the number of sites, alt name with the
 * maximum activation. */
dm_status dm_motifs_extract(dm_net *m, const dm_dataset *ds, const dm_motifs_options *o, dm_motif_set *out);

#endif /* DM_MOTIFS_H */
