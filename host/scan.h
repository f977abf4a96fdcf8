/*
 * scan.h: genome-wide scans (`deepmotif scan`): P(bound) of every window of the model's length L at
 * stride S over long sequences, streamed in fixed memory and batched through the model's forward
 * pass on its backend.
 *
 * Windows of an interval [a, b) start at a, a + S, a + 2S, ... while they fit (p + L ≤ b): no window
 * leaves its interval, so none leaves a chromosome; the last < S + L − 1 bases of an interval may be
 * covered only partly, and an interval shorter than L gets no window. With both strands the reverse
 * complement of each window is scored too and the two P combined by max or mean.
 *
 * What a base gets: the score of window p is written for the S bases centred on the window's centre,
 * [p + ⌊(L − S) / 2⌋, that + S) (clipped to the interval when S > L), so the track has one value per
 * stride step and no two values overlap; with S = 1 it is the window's central base.
 *
 * Outputs (atomic, nothing left on failure): PREFIX.bw (bigWig) or PREFIX.bedGraph, and
 * PREFIX.peaks.bed: the windows with P ≥ threshold, merged when they overlap or touch (window
 * extents [p, p + L)), as BED5 lines chrom, start, end, name peak_N, score = the highest P of the
 * merged windows.
 */
#ifndef DM_SCAN_H
#define DM_SCAN_H

#include "genome.h"
#include "model.h"
#include "track.h"

typedef struct dm_scan_options {
    int32_t stride;           /* S ≥ 1 */
    bool plus_only;           /* score the + strand only (default both) */
    bool mean;                /* combine the two strands by their mean (default max) */
    float threshold;          /* peaks: windows with P ≥ threshold (default 0.5) */
    dm_track_format format;   /* bigWig (default) or bedGraph */
    bool n_quarter;           /* N as 0.25 per base */
    bool progress;            /* dm_log_progress ("scan") every half second */
} dm_scan_options;

void dm_scan_options_default(dm_scan_options *o);

typedef struct dm_scan_stats {
    int64_t bases;            /* bases of the scanned intervals */
    int64_t windows;          /* windows scored (each on one or both strands) */
    int64_t peaks;            /* lines of PREFIX.peaks.bed */
    int64_t short_intervals;  /* intervals shorter than L: no window */
    int64_t n_intervals;
} dm_scan_stats;

/* The sequences of a FASTA file (plain or gzip), records of any length: checked first (one pass:
 * names, lengths, bases; a duplicate name, a bad base or text before the first '>' is _FORMAT naming
 * the file and line), then scanned record by record. The track's chromosomes are the records. */
dm_status dm_scan_fasta(dm_net *m, const char *path, const dm_scan_options *o, const char *prefix,
                        dm_scan_stats *stats);

/* Regions of a genome (rs NULL: every chromosome whole). The regions are checked (dm_regions_check),
 * sorted and merged where they overlap or touch (each base is scanned once; strands of the BED are
 * ignored: the track is in the genome's + strand coordinates). */
dm_status dm_scan_genome(dm_net *m, dm_genome *g, const dm_regions *rs, const dm_scan_options *o,
                         const char *prefix, dm_scan_stats *stats);

/* The core both use: intervals (sorted by chromosome then start, non-overlapping) of n chromosomes
 * whose bases come from `read` (called with increasing positions within an interval, intervals in
 * order: a sequential reader suffices). */
typedef struct dm_scan_interval {
    int chrom;
    int64_t start, end;
} dm_scan_interval;
typedef dm_status (*dm_scan_read_fn)(void *ctx, int chrom, int64_t start, int64_t n, uint8_t *codes);

dm_status dm_scan_run(dm_net *m, int n_chroms, const char *const *names, const int64_t *lens,
                      const dm_scan_interval *iv, int64_t n_iv, dm_scan_read_fn read, void *ctx,
                      const dm_scan_options *o, const char *prefix, dm_scan_stats *stats);

#endif /* DM_SCAN_H */
