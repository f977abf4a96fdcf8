/*
 * tomtom.h: TOMTOM's p-values for `compare` (--null tomtom, the default): Gupta, Stamatoyannopoulos,
 * Bailey and Noble, Genome Biology 8:R24 (2007), with the complete scores of the MEME suite's tomtom.
 *
 * Column scores. Each query column i is scored against every database column and every column's
 * reverse complement (the 2 n_cols columns of the database read on both strands: TOMTOM's
 * background), with the similarity of compare.h (pearson, euclid or sandelin). The scores of column
 * i are shifted by their median m_i (the lower median of the 2 n_cols scores, as tomtom's 0.5
 * quantile), so that an unaligned query column can count as its median: the complete score of an
 * alignment is the sum of the shifted scores of the aligned columns, each unaligned query column
 * adding 0. The shifted scores are discretised for the whole query at once: with
 * z_min, z_max the smallest and largest shifted score over all its columns, i_min = floor(z_min),
 * scale = floor(DM_TOMTOM_BINS / max(z_max − i_min, 1)), a score z becomes the integer
 * g = floor((z − i_min) · scale + 0.5) in [0, DM_TOMTOM_BINS], and an unaligned column the integer
 * zero = −i_min · scale. The complete score of an alignment over query columns [s, e] is
 * S = Σ_{i∈[s,e]} g_i + (w_q − (e − s + 1)) · zero, an integer in [0, w_q · DM_TOMTOM_BINS].
 *
 * Null. Under TOMTOM's null every aligned target column is an independent uniform draw from the 2
 * n_cols background columns, so g_i has the histogram f_i of query column i's integer scores, and
 * the sum over a span [s, e] has the convolution f_s * ... * f_e (computed exactly, by dynamic
 * programming over the span's columns). A target of width w_t is aligned at every offset with at
 * least min(min_overlap, w_q, w_t) columns on both strands; taking these alignments as independent
 * (TOMTOM's model), the best complete score M over them has
 *     P(M ≥ S) = 1 − Π_a P(S_a < S)²        (a over the offsets of one strand, squared for two),
 * the distribution of the maximum that tomtom builds for each target width. (tomtom's null takes
 * every offset whatever its -min-overlap; here the null takes the offsets the search takes, the
 * same at min_overlap 1, TOMTOM's default and compare's.) It is the p-value of
 * a target whose best alignment scores S: one table per (query, target width), so targets of the
 * same width and score share a p-value. The product is accumulated as a sum of logarithms and p is
 * −expm1 of it, so p-values far below 1e-16 keep their digits.
 *
 * Best alignment: the highest complete score; ties go to the larger overlap, then the '+' strand,
 * then the smaller |offset| (negative first). E = p × (number of targets) and q-values
 * (Benjamini–Hochberg over the query's targets) are computed by compare.c for either null.
 *
 * Cost per query: the convolutions of every span of at most min(w_q, widest target) columns,
 * about w_q · min(w_q, w_t,max)² / 2 · DM_TOMTOM_BINS · (occupied bins per column) operations (about
 * 5 ms for a 15-column query against JASPAR 2020 on one core), then one table per target width.
 */
#ifndef DM_TOMTOM_H
#define DM_TOMTOM_H

#include <stdint.h>

#include "deepmotif.h"

#define DM_TOMTOM_BINS 100 /* TOMTOM's BINS: the range of one column's integer score */

/* The database as compare.c pools it: target t owns pool columns [col0[t], col0[t] + w[t]). */
typedef struct dm_tomtom_db {
    int n;           /* targets */
    const int *w;    /* (n) widths */
    const int *col0; /* (n) first pool column */
    int n_cols;      /* pool columns */
    int wt_max;      /* widest target */
} dm_tomtom_db;

/* One thread's workspace, sized for the widest query. */
typedef struct dm_tomtom_work {
    int wq_max, n_widths;
    int *widths;     /* (n_widths) distinct target widths, ascending */
    int *width_slot; /* (wt_max + 1) index into widths, or −1 */
    int16_t *g;      /* (n_cols, 2 wq) integer scores, compare.c's sim layout (query columns reversed) */
    float *zbuf;     /* (2 n_cols) one query column's scores (median selection) */
    double *f;       /* (wq, DM_TOMTOM_BINS + 1) per-column histograms f_i */
    double *pmf, *tmp; /* (span_max · DM_TOMTOM_BINS + 1) running span distribution */
    double *ls;      /* (wq · DM_TOMTOM_BINS + 1) log P(S_a < k) of one alignment */
    double *logcdf;  /* (n_widths, wq · DM_TOMTOM_BINS + 1) log P(M < k) per target width */
    int *diag;       /* (wq + wt_max − 1) diagonal sums of one strand */
    int zero;        /* integer score of an unaligned column (the current query's) */
    int scale;       /* integer bins per unit of shifted score (the current query's) */
} dm_tomtom_work;

/* Allocates a workspace for queries up to wq_max columns; _OK or _NOMEM. */
dm_status dm_tomtom_work_init(dm_tomtom_work *w, const dm_tomtom_db *db, int wq_max);
void dm_tomtom_work_free(dm_tomtom_work *w);

/* Median shift and discretisation of one query's similarity table sim (n_cols, 2 wq; compare.c's
 * layout: query column i at position wq − 1 − i of a row, the complement's half after): fills
 * w->g, w->f, w->zero and w->scale. */
void dm_tomtom_discretise(dm_tomtom_work *w, const float *sim, int wq, int n_cols);

/* out (n + DM_TOMTOM_BINS) = the distribution of X + Y, X ~ pmf (n values from 0), Y ~ f
 * (DM_TOMTOM_BINS + 1 values from 0). */
void dm_tomtom_convolve(const double *pmf, int n, const double *f, double *out);

/* One query against every target: w->g and w->f must hold the query's discretisation. all[t]
 * receives target t's best alignment (offset, orient, overlap), its complete score in shifted-score
 * units (score) and its p-value; query, target and the other fields are left as they are. */
void dm_tomtom_query(dm_tomtom_work *w, const dm_tomtom_db *db, int wq, int min_overlap, dm_hit *all);

#endif /* DM_TOMTOM_H */
