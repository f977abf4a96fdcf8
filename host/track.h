/*
 * track.h: genome-browser tracks out: a bigWig (through libBigWig) or a bedGraph of (chrom, start, end,
 * value) intervals, and a BED of intervals. Every file is written atomically through dm_outfile (a
 * temporary file in the destination folder, renamed into place on commit), so a failure leaves
 * nothing behind. Coordinates are BED's: 0-based, half-open.
 */
#ifndef DM_TRACK_H
#define DM_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "deepmotif.h"

typedef enum { DM_TRACK_BIGWIG = 0, DM_TRACK_BEDGRAPH = 1 } dm_track_format;

/* "bigwig" or "bedgraph"; _ARG otherwise. */
dm_status dm_track_format_parse(const char *s, dm_track_format *f);
/* The file suffix of a format: ".bw" or ".bedGraph". */
const char *dm_track_suffix(dm_track_format f);

typedef struct dm_track dm_track;

/* Opens a track at `path` over n chromosomes (names, lengths: the bigWig header; every length in
 * 1 .. 2^32 − 1). _IO, _ARG, _NOMEM. */
dm_status dm_track_open(dm_track **t, const char *path, dm_track_format fmt, int n,
                        const char *const *names, const int64_t *lens);

/* Appends [start, end) of chromosome `chrom` with value v. Intervals come in the order of the
 * chromosome list, sorted and non-overlapping within a chromosome (_ARG otherwise: the caller's bug),
 * inside the chromosome. */
dm_status dm_track_add(dm_track *t, int chrom, int64_t start, int64_t end, float v);

/* Writes everything out and renames it into place; on failure nothing is left. Frees t. */
dm_status dm_track_commit(dm_track *t);
void dm_track_abort(dm_track *t);   /* removes the temporary file; frees t; NULL is a no-op */

/* Per-base averages of overlapping intervals, for tracks built from overlapping windows (saliency's
 * per-base attribution): add values of consecutive bases, flush positions no later window can
 * reach. Windows of one chromosome come sorted by start; a new chromosome flushes the last. */
typedef struct dm_track_avg dm_track_avg;
dm_status dm_track_avg_open(dm_track_avg **a, dm_track *t);
/* Adds v[0..n) to bases start .. start + n − 1 of chrom (start ≥ the previous window's start). */
dm_status dm_track_avg_add(dm_track_avg *a, int chrom, int64_t start, const float *v, int64_t n);
/* Writes what is left to the track and frees a (the track stays open). */
dm_status dm_track_avg_finish(dm_track_avg *a);
void dm_track_avg_free(dm_track_avg *a);

#endif /* DM_TRACK_H */
