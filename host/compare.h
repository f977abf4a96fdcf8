/*
 * compare.h: TOMTOM motif comparison (Gupta et al., Genome Biology 2007). Two null models:
 * --null tomtom (DM_NULL_TOMTOM, the default): TOMTOM's own p-values from complete scores and the
 * convolution of per-column score distributions (host/tomtom.h has the method; the alignments,
 * tie-breaking and score there); --null shuffle (DM_NULL_SHUFFLE): the column-shuffled Monte
 * Carlo null with an analytic tail, described below. Both share the similarities, the E- and
 * q-values and the TSV.
 *
 * Alignments. A query Q (w_q columns) is aligned with a target T (w_t columns) and with T's reverse
 * complement (columns in reverse order, A<->T and C<->G swapped) at every offset o where at least
 * min(min_overlap, w_q, w_t) columns overlap; query column i faces target column i + o, so o is the
 * position of the query's first column in the (oriented) target and may be negative.
 *
 * Scores (shuffle null). The alignment score is the sum over the overlapping columns of a column similarity:
 *   pearson: the Pearson correlation of the two 4-vectors (0 when either column is uniform);
 *   euclid:  d(q, u) − d(q, t), with d the Euclidean distance and u the uniform column: −d(q, t) up
 *            to a per-query-column constant, shifted so that, as with pearson, an uninformative
 *            target column scores 0 and overlap length alone neither helps nor hurts (in the
 *            manner of TOMTOM's complete scores, where unaligned query columns face the background).
 *            A flat query is close to flat stretches of targets under euclid and can match them
 *            significantly; under pearson it scores 0 everywhere (p = 1).
 *   sandelin: 2 − Σ (q − t)² (TOMTOM's SANDELIN).
 * Under the tomtom null every similarity is shifted by its median over the database columns, so
 * euclid there is exactly TOMTOM's ED (−d(q, t)) and the per-query-column constant d(q, u) cancels.
 * The best alignment maximises the score; near-ties (within 1e-5) keep the '+' strand, then the
 * smaller |offset|.
 *
 * Null model and p-values (shuffle). For each query and each target width w in the database, n_null random
 * targets of width w are drawn, each column an independent uniform pick among all columns of the
 * database (a column-shuffled database), and scored exactly as real targets (best over both strands
 * and all offsets). With c of those scores ≥ the observed score s, p = (1 + c) / (1 + n_null): exact
 * for the best-alignment statistic, with resolution 1 / (1 + n_null) (1e-4 with the default 10,000).
 * Where c < 10, p is the smaller of that and an analytic upper bound on the same tail probability,
 * computed from the same database columns: the union over all alignments (both strands, every
 * offset) of P(alignment score ≥ s) against a random target, each from a saddle-point approximation
 * (Lugannani–Rice, capped by the Chernoff bound) of the sum of independent column scores (compare.c).
 * The bound is conservative (5-15 times the Monte Carlo value between p = 1e-2 and 1e-4, tighter beyond)
 * and deterministic, so strong matches get small, stable p-values (1e-14 .. 1e-95 for the JASPAR 2020
 * motifs against themselves, every one of which is its own best hit) that rank consistently across
 * target widths. p is clamped to [1e-300, 1].
 * The random targets depend only on (seed, w), so every query sees the same null columns and results
 * do not depend on query order or thread count.
 * E = p × (number of targets); q = Benjamini–Hochberg over all targets of the query.
 *
 * Cost: per query, one table of similarities between each query column and every database column
 * (both orientations), then n_null × (distinct target widths) random targets of 2 w_q w additions
 * each, plus the analytic tail for the few targets that need it: about 0.06 s for a 12-20-column
 * query against JASPAR 2020's 746 motifs (18 distinct widths) on one core with n_null = 10,000.
 * Queries run in parallel (OpenMP) with the workspaces allocated up front.
 */
#ifndef DM_COMPARE_H
#define DM_COMPARE_H

#include "meme.h"

/* dm_compare_options, dm_hit, DM_DIST_* and DM_NULL_* are public (deepmotif.h). */
void dm_compare_options_default(dm_compare_options *o);

/* The similarity table of query q against pool (n_cols, 4) columns: sim (n_cols, 2 q->w), row c
 * holding at position q->w − 1 − i the similarity of query column i with pool column c, and after
 * it, at q->w + q->w − 1 − i, with c's complement (A<->T, C<->G). */
void dm_compare_sim(const float *pool, int n_cols, const dm_motif *q, int dist, float *sim);

/* Compares every query with every database motif. *hits (malloc'd for the caller, NULL when
 * *n_hits = 0) receives per query its `top` best targets with q ≤ thresh, sorted by query, then
 * p-value, then score (higher first), then target index. The motif sets are not modified.
 * Returns _OK, _ARG (an empty database, a motif with w < 1, no matrix or a negative or non-finite
 * entry, dist not 0-2, null not 0-1, min_overlap < 1, n_null < 1, top < 1, thresh negative or NaN),
 * _NOMEM. With query_type DM_MOTIF_CWM the queries' entries may be negative (signed contributions,
 * compared by the Pearson correlation of each column as they are; euclid and sandelin are then
 * _ARG); the database is always probabilities. */
dm_status dm_compare(const dm_motif_set *queries, const dm_motif_set *db, const dm_compare_options *o,
                     dm_hit **hits, int *n_hits);

/* Writes the hits as a TOMTOM-like TSV (FORMATS.md §8), atomically: the header Query_ID Target_ID
 * Optimal_offset p-value E-value q-value Overlap Query_consensus Target_consensus Orientation, one
 * row per hit (consensus: the most probable base per column, the target's in the reported
 * orientation), then '#' lines: the tool version, the command line (`cmdline`, may be NULL), the
 * similarity measure and the threshold. Returns _OK, _IO, _ARG (a hit indexing outside q or db). */
dm_status dm_compare_write_tsv(const char *path, const dm_motif_set *q, const dm_motif_set *db,
                               const dm_hit *hits, int n, const dm_compare_options *o, const char *cmdline);

#endif /* DM_COMPARE_H */
