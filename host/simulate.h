/*
 * simulate.h: the simulated data set behind `deepmotif simulate`, the bundled default that the demo
 * trains on (no real data ships with the repository).
 *
 * Positives are an i.i.d. background with a given GC fraction plus one planted instance of a
 * built-in motif (sampled from its probability matrix, random strand, random position fully inside
 * the sequence). Each positive is followed by its dinucleotide shuffle (FORMATS.md §13) as the
 * negative, in the same group, exactly as DeepBind built its negatives. Everything is a function of
 * the seed (streams `simulate` and `negatives`): the same options give byte-identical files.
 */
#ifndef DM_SIMULATE_H
#define DM_SIMULATE_H

#include <stdint.h>

#include "deepmotif.h"

typedef struct dm_sim_options {
    int64_t n_pos;        /* number of positives; the data set has 2 · n_pos rows */
    int32_t len;          /* sequence length L (≥ the widest planted motif) */
    uint64_t seed;
    const char *motifs;   /* comma-separated built-in motif names (case-insensitive), NULL = the
                             default set: the first built-in motif (CTCF) only */
    double gc;            /* background GC fraction in [0, 1] */
} dm_sim_options;

/* n_pos 5000, len 101, seed 1, motifs NULL, gc 0.42. */
void dm_sim_options_default(dm_sim_options *o);

/* Builds the data set: row 2i is positive i (label 1, EventID "sim_NNNNNN_peak|NAME:START:S" with
 * NNNNNN = i + 1 as %06d, START the 0-based leftmost position of the site, S its strand + or -),
 * row 2i + 1 its shuffle (label 0, "sim_NNNNNN_shuf"); both in group i + 1, as the DeepBind reader
 * would give them. With one motif named every positive carries it; with several each positive gets
 * one chosen at random.
 * Returns _OK, _ARG (n_pos < 1, len shorter than a motif or > 2^20, gc outside [0, 1], an unknown
 * or empty motif name), _NOMEM. */
dm_status dm_simulate(dm_dataset *out, const dm_sim_options *o);

/* The built-in motifs: count, name ("CTCF", "REST", ...), width, and the (width, 4) probability
 * matrix, rows in A C G T order summing to 1. Out-of-range i gives NULL / 0. */
int dm_sim_motif_count(void);
const char *dm_sim_motif_name(int i);
int dm_sim_motif_width(int i);
const float *dm_sim_motif_ppm(int i);

/* Writes `ds` as a DeepBind TSV (FORMATS.md §1): header FoldID EventID seq Bound, one row per
 * sequence with FoldID "A" and the real bases (padding dropped), gzip-compressed when `path` ends
 * in ".gz". Atomic: the file appears only when everything was written. Returns _OK, _ARG (a row
 * without a 0/1 label, or an id holding a tab or newline), _IO, _NOMEM. */
dm_status dm_dataset_write_deepbind(const dm_dataset *ds, const char *path);

#endif /* DM_SIMULATE_H */
