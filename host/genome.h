/*
 * genome.h: genomic coordinates. A genome is an indexed FASTA read through htslib's faidx (plain or
 * bgzip-compressed; the .fai, and the .gzi of a bgzip file, are built beside it when missing);
 * regions come from BED files (BED3 to BED6). Coordinates are BED's: 0-based, half-open [start, end).
 *
 * Every input error is one dm_error line naming the file and line: a malformed BED line, a region
 * outside its chromosome, a chromosome the genome lacks, a FASTA without an index that cannot be
 * indexed. Nothing here prints; nothing writes a file except the index htslib builds for a genome.
 *
 * Implemented in host/genome.c (the genome) and host/bed.c (regions, resizing, data sets).
 */
#ifndef DM_GENOME_H
#define DM_GENOME_H

#include <stdint.h>

#include "deepmotif.h"

/* ---- the genome (host/genome.c) --------------------------------------------------------------- */

typedef struct dm_genome dm_genome;   /* opaque: an open faidx index and its chromosome table */

/* Opens path (FASTA, plain or bgzip), building path.fai (and path.gzi) when missing, or older than the
 * FASTA in a folder that takes files. _IO (cannot
 * open, cannot index: "GENOME: no index and cannot build one: reason"), _FORMAT, _NOMEM. */
dm_status dm_genome_open(dm_genome **g, const char *path);
void dm_genome_close(dm_genome *g);   /* NULL is a no-op */

int dm_genome_n_chroms(const dm_genome *g);
const char *dm_genome_chrom_name(const dm_genome *g, int chrom);
int64_t dm_genome_chrom_len(const dm_genome *g, int chrom);
int dm_genome_chrom_index(const dm_genome *g, const char *name);   /* −1 when absent */
const char *dm_genome_path(const dm_genome *g);

/* The bases [start, end) of chrom as codes DM_BASE_* (lower case upper-cased, N and IUPAC codes
 * DM_BASE_N), reverse-complemented when strand is '-'. codes holds end − start bytes. The interval
 * must lie inside the chromosome (_ARG otherwise). Not thread-safe on one dm_genome. */
dm_status dm_genome_fetch(dm_genome *g, int chrom, int64_t start, int64_t end, char strand, uint8_t *codes);

/* ---- regions (host/bed.c) --------------------------------------------------------------------- */

typedef struct dm_region {
    char chrom[128];
    int64_t start, end;   /* [start, end), 0-based: the window read (after dm_regions_resize) */
    int64_t bed_start, bed_end;   /* the region as the BED file gave it (messages, default names) */
    char strand;          /* '+', '-' or '.' (BED6's '.', or fewer than 6 columns: read as '+') */
    char name[128];       /* BED4's name, or "chrom:start-end(strand)" when absent or "." (the BED's
                             coordinates; "(strand)" only for '+' or '-') */
    int8_t label;         /* from the label column (1, 0), else DM_LABEL_UNKNOWN */
    int64_t line;         /* the line of the BED file it came from (1-based) */
} dm_region;

typedef struct dm_regions {
    int64_t n;
    dm_region *r;
    char path[4096];      /* the BED file, for messages */
} dm_regions;

/* Reads a BED file (gzip or plain; "track", "browser" and '#' lines skipped). label_col ≥ 1 names the
 * 1-based column holding the label (0/1), 0 none. _IO, _FORMAT ("FILE:LINE: what"), _NOMEM. */
dm_status dm_bed_read(const char *path, int label_col, dm_regions *out);
void dm_regions_free(dm_regions *rs);   /* NULL and empty are no-ops */

typedef enum { DM_RESIZE_CENTER = 0, DM_RESIZE_START = 1, DM_RESIZE_END = 2 } dm_resize;

/* Every region becomes len bp around its centre, start or end (start and end as the strand reads
 * them: a minus-strand region's start is its right end). */
void dm_regions_resize(dm_regions *rs, int32_t len, dm_resize how);

/* Every region's chromosome exists in g and the region lies inside it: _FORMAT naming the BED file
 * and line otherwise. */
dm_status dm_regions_check(const dm_regions *rs, dm_genome *g);

/* A data set of the regions' sequences (each region's bases, strand honoured, padded or truncated to
 * len as dm_dataset_read does), labels from the regions, ids their names. */
dm_status dm_regions_dataset(const dm_regions *rs, dm_genome *g, int32_t len, dm_dataset *out);

/* The whole path from a BED file to a data set: reads `bed` (label column label_col, 0 none), resizes
 * every region to len bp (how), opens the genome at genome_path, checks the regions against it and
 * reads their sequences into *out (row i = region i). `regions` (may be NULL) receives the resized
 * regions (the caller frees them). Errors are those of the steps, naming the file and line. */
dm_status dm_bed_load(const char *bed, int label_col, const char *genome_path, int32_t len, dm_resize how,
                      dm_dataset *out, dm_regions *regions);

/* ---- negatives for a BED of peaks (host/negatives.c) ------------------------------------------- */

/* A peak's span is the union of its BED interval and its window (bed_start/bed_end and start/end);
 * a negative overlaps no peak's span. `pair` (malloc'd, the caller frees it) gets, for every
 * negative, the index of the peak it was made for. */

/* flank:D — each peak's window shifted d bp left and right (same length and strand, label 0), kept
 * when inside its chromosome and overlapping no peak; a window made twice is kept once. Names
 * "<peak>|flank-D" / "|flank+D". */
dm_status dm_negatives_flank(const dm_regions *peaks, dm_genome *g, int64_t d, dm_regions *out, int64_t **pair);

#define DM_GC_BINS 20   /* GC fraction in 20 equal bins of [0, 1] */

typedef struct dm_gc_report {
    int64_t pos_hist[DM_GC_BINS];   /* peaks per GC bin (a window of only N in none) */
    int64_t neg_hist[DM_GC_BINS];   /* negatives drawn per bin: pos_hist, or every candidate when fewer */
    int64_t wanted, found;          /* sums of the two */
    int64_t cand_hist[DM_GC_BINS];  /* background windows per bin */
    int64_t candidates;             /* background windows considered (their sum) */
} dm_gc_report;

/* GC-matched: the background regions tiled with len-bp windows (from each region's start, stride len)
 * inside their chromosome, free of N/IUPAC codes and of peaks, binned by GC fraction; in each bin as
 * many drawn, uniformly without replacement (reservoir sampling, the `negatives` stream of seed), as
 * there are peaks in it, each paired with one of them. Strand '+', label 0, names
 * "chrom:start-end|gc". A bin with too few candidates gives all it has (rep->found < rep->wanted). */
dm_status dm_negatives_gc(const dm_regions *peaks, const dm_regions *background, dm_genome *g, int32_t len,
                          uint64_t seed, dm_regions *out, int64_t **pair, dm_gc_report *rep);

/* The GC bin of codes[0, n) (GC over the A/C/G/T codes), −1 when there are none. */
int dm_gc_bin_of(const uint8_t *codes, int64_t n);

/* Every peak (label 1) followed by its negatives (label 0; pair[k]: the peak of negative k) as one data
 * set; a peak and its negatives share a group (the validation split keeps them together). `rows`
 * (may be NULL) gets the regions in row order. */
dm_status dm_peaks_dataset(const dm_regions *peaks, const dm_regions *neg, const int64_t *pair, dm_genome *g,
                           int32_t len, dm_dataset *out, dm_regions *rows);

#endif /* DM_GENOME_H */
