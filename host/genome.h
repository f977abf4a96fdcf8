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

/* Opens path (FASTA, plain or bgzip), building path.fai (and path.gzi) when missing. _IO (cannot
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

#endif /* DM_GENOME_H */
