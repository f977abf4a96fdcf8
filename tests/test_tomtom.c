/*
 * test_tomtom.c: TOMTOM's p-values in `compare` (host/tomtom.c, --null tomtom, the default).
 *
 * The discretised convolution equals the exact distribution enumerated over every combination of
 * database columns (a tiny database, 1-3 column spans), and dm_compare's p-values equal TOMTOM's
 * formula built from those enumerations; p-values lie in (0, 1] and never increase with the score
 * within a target width; JASPAR 2020 motifs find themselves first; results do not depend on the
 * thread count; a query and its reverse complement get the same p-value for every target, and a
 * signed CWM query the same as its PPM; the CLI's --null and --min-overlap reach the TSV.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "deepmotif.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "meme.h"
#include "testutil.h"
#include "tomtom.h"

#define JASPAR "jaspar/JASPAR2020_CORE_vertebrates_non-redundant_pfms_meme.txt"
#define NB (DM_TOMTOM_BINS + 1)

/* ---- helpers ----------------------------------------------------------------------------------- */

/* A motif of w random columns (u³ per base, normalised: some columns sharp, some flat). */
static dm_motif random_motif(dm_rng *r, int w, int k) {
    dm_motif m = {.w = w, .p = malloc(sizeof(float) * 4 * (size_t)w)};
    cr_assert(m.p);
    snprintf(m.id, sizeof m.id, "m%d", k);
    for (int j = 0; j < w; j++) {
        double s = 0;
        for (int b = 0; b < 4; b++) {
            double u = dm_rng_uniform(r);
            m.p[4 * j + b] = (float)(u * u * u + 1e-3);
            s += m.p[4 * j + b];
        }
        for (int b = 0; b < 4; b++) m.p[4 * j + b] = (float)(m.p[4 * j + b] / s);
    }
    return m;
}

static void free_motifs(dm_motif *m, int n) {
    for (int i = 0; i < n; i++) free(m[i].p);
}

/* The reverse complement of m (own matrix). */
static dm_motif revcomp(const dm_motif *m) {
    dm_motif c = *m;
    c.p = malloc(sizeof(float) * 4 * (size_t)m->w);
    cr_assert(c.p);
    for (int j = 0; j < m->w; j++)
        for (int b = 0; b < 4; b++) c.p[4 * j + b] = m->p[4 * (m->w - 1 - j) + (3 - b)];
    return c;
}

static void compare_all(const dm_motif_set *q, const dm_motif_set *db, dm_compare_options *o, dm_hit **h,
                        int *n) {
    o->thresh = 1;
    o->top = db->n;
    cr_assert_eq(dm_compare(q, db, o, h, n), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(*n, q->n * db->n);
}

/* Pools the database columns as compare.c does (targets in order). */
static float *pool_of(const dm_motif_set *db, int *n_cols, int *col0) {
    int n = 0;
    for (int t = 0; t < db->n; t++) n += db->m[t].w;
    float *pool = malloc(sizeof(float) * 4 * (size_t)n);
    cr_assert(pool);
    n = 0;
    for (int t = 0; t < db->n; t++) {
        col0[t] = n;
        memcpy(pool + 4 * (size_t)n, db->m[t].p, sizeof(float) * 4 * (size_t)db->m[t].w);
        n += db->m[t].w;
    }
    *n_cols = n;
    return pool;
}

/* ---- the null against brute force -------------------------------------------------------------- */

/* Exact distribution of Σ_{i∈[s,e]} g_i over every combination of the 2 n_cols background columns
 * (pool column c on strand h is background column 2c + h), by enumeration: dist (len · BINS + 1). */
static void enumerate_span(const int16_t *g, int wq, int n_cols, int s, int e, double *dist) {
    int len = e - s + 1, nbg = 2 * n_cols;
    memset(dist, 0, sizeof(double) * (size_t)(len * DM_TOMTOM_BINS + 1));
    long combos = 1;
    for (int k = 0; k < len; k++) combos *= nbg;
    for (long x = 0; x < combos; x++) {
        long y = x;
        int sum = 0;
        for (int i = s; i <= e; i++) {
            int bgc = (int)(y % nbg);
            y /= nbg;
            int c = bgc / 2, h = bgc % 2;
            sum += g[(size_t)c * 2 * wq + (size_t)h * wq + (wq - 1 - i)];
        }
        dist[sum] += 1.0 / (double)combos;
    }
}

Test(tomtom, convolution_and_pvalues_match_brute_force) {
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 140, 0);
    /* Five targets of widths 1-5 (13 columns, 26 background columns); a 3-column query: internal,
     * overhanging and (width 5) repeated whole-query alignments all occur. */
    enum { NTB = 5 };
    int widths[NTB] = {1, 2, 3, 2, 5};
    dm_motif tm[NTB], qm = random_motif(&r, 3, 99);
    for (int t = 0; t < NTB; t++) tm[t] = random_motif(&r, widths[t], t);
    dm_motif_set db = {NTB, tm}, q = {1, &qm};
    for (int dist = 0; dist < 3; dist++) {
        int n_cols, col0[NTB];
        float *pool = pool_of(&db, &n_cols, col0);
        int wq = qm.w;
        float *sim = malloc(sizeof(float) * 2 * (size_t)wq * (size_t)n_cols);
        cr_assert(sim);
        dm_compare_sim(pool, n_cols, &qm, dist, sim);
        dm_tomtom_db tdb = {.n = NTB, .w = widths, .col0 = col0, .n_cols = n_cols, .wt_max = 5};
        dm_tomtom_work w;
        cr_assert_eq(dm_tomtom_work_init(&w, &tdb, wq), DM_STATUS_OK);
        dm_tomtom_discretise(&w, sim, wq, n_cols);
        cr_assert(w.scale >= 1 && w.zero >= 0 && w.zero <= DM_TOMTOM_BINS, "scale %d zero %d", w.scale, w.zero);
        /* The median shift: the lower median of each column's 2 n_cols scores lands on `zero`, so
         * fewer than half of them bin below it and at least half at or below it. */
        for (int i = 0; i < wq; i++) {
            int below = 0, at_or_below = 0;
            for (int k = 0; k < 2 * n_cols; k++) {
                int g = w.g[(size_t)(k / 2) * 2 * wq + (size_t)(k % 2) * wq + (wq - 1 - i)];
                below += g < w.zero;
                at_or_below += g <= w.zero;
            }
            cr_assert(below <= n_cols - 1 && at_or_below >= n_cols, "column %d: %d below, %d at or below of %d", i,
                      below, at_or_below, 2 * n_cols);
        }
        /* Every span: the convolution of the per-column histograms against the enumeration. */
        double conv[3 * DM_TOMTOM_BINS + 2], tmp[3 * DM_TOMTOM_BINS + 2], brute[3 * DM_TOMTOM_BINS + 1];
        double span_cdf[3][3][3 * DM_TOMTOM_BINS + 2]; /* P(sum < k) per span, from the enumeration */
        for (int s = 0; s < wq; s++) {
            conv[0] = 1;
            int n = 1;
            for (int e = s; e < wq; e++) {
                dm_tomtom_convolve(conv, n, w.f + (size_t)e * NB, tmp);
                n += DM_TOMTOM_BINS;
                memcpy(conv, tmp, sizeof(double) * (size_t)n);
                enumerate_span(w.g, wq, n_cols, s, e, brute);
                /* Both are sums of at most 26³ products of multiples of 1/26: equal to rounding
                 * (relative 1e-12 is ~10⁴ ulps, far above the error of a few thousand additions). */
                for (int k = 0; k < n; k++)
                    cr_assert(fabs(conv[k] - brute[k]) <= 1e-12 * fmax(brute[k], 1e-300) + 1e-300,
                              "dist %d span [%d, %d] sum %d: convolution %.17g, enumeration %.17g", dist, s, e, k,
                              conv[k], brute[k]);
                double c = 0;
                for (int k = 0; k <= n; k++) {
                    span_cdf[s][e][k] = c;
                    if (k < n) c += brute[k];
                }
            }
        }
        /* dm_compare against TOMTOM's formula from the enumerated spans: the best complete score S
         * over every alignment (min_overlap 1) on both strands, p = 1 − Π_a P(S_a < S)². */
        dm_compare_options o;
        dm_compare_options_default(&o);
        o.dist = dist;
        dm_hit *h;
        int nh;
        compare_all(&q, &db, &o, &h, &nh);
        for (int i = 0; i < nh; i++) {
            int t = h[i].target, wt = widths[t], best = -1;
            for (int minus = 0; minus < 2; minus++)
                for (int off = -(wq - 1); off <= wt - 1; off++) {
                    int sc = 0, lo = off < 0 ? -off : 0, hi = wq < wt - off ? wq : wt - off;
                    for (int qi = lo; qi < hi; qi++) {
                        int tj = qi + off, c = col0[t] + (minus ? wt - 1 - tj : tj);
                        sc += w.g[(size_t)c * 2 * wq + (size_t)minus * wq + (wq - 1 - qi)];
                    }
                    sc += (wq - (hi - lo)) * w.zero;
                    best = sc > best ? sc : best;
                }
            double logc = 0;
            for (int off = -(wq - 1); off <= wt - 1; off++) {
                int lo = off < 0 ? -off : 0, hi = wq < wt - off ? wq : wt - off;
                int k = best - (wq - (hi - lo)) * w.zero; /* P(S_a < best) = P(span sum < k) */
                int kmax = (hi - lo) * DM_TOMTOM_BINS + 1;
                double cdf = k <= 0 ? 0 : k >= kmax ? 1 : span_cdf[lo][hi - 1][k];
                logc += 2 * log(cdf);
            }
            double p = -expm1(logc);
            /* Same terms, summed and multiplied in another order: relative 1e-9 (the p-values are
             * ≥ 1e-6 here, and the head sums carry ~1e-15 relative error each). */
            cr_assert(fabs(h[i].pvalue - p) <= 1e-9 * p, "dist %d target %d: p %.17g, formula %.17g", dist, t,
                      h[i].pvalue, p);
            /* The same integers through the same division: 1e-12 only absorbs printing-free
             * double rounding (the value is exact up to one ulp). */
            cr_assert_float_eq(h[i].score, (double)(best - wq * w.zero) / w.scale, 1e-12);
        }
        free(h);
        dm_tomtom_work_free(&w);
        free(sim);
        free(pool);
    }
    free_motifs(tm, NTB);
    free(qm.p);
}

Test(tomtom, one_column_pvalue_is_the_two_strand_tail) {
    /* A 1-column query against 1-column targets: one alignment per strand, so p = 1 − (1 − P(g ≥ S))²
     * with P(g ≥ S) the fraction of the 2 n_cols background scores at or above the target's best. */
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 141, 0);
    enum { NT = 30 };
    dm_motif tm[NT], qm = random_motif(&r, 1, 99);
    int widths[NT], col0[NT], n_cols;
    for (int t = 0; t < NT; t++) {
        tm[t] = random_motif(&r, 1, t);
        widths[t] = 1;
    }
    dm_motif_set db = {NT, tm}, q = {1, &qm};
    float *pool = pool_of(&db, &n_cols, col0), *sim = malloc(sizeof(float) * 2 * (size_t)n_cols);
    cr_assert(sim);
    dm_compare_sim(pool, n_cols, &qm, DM_DIST_PEARSON, sim);
    dm_tomtom_db tdb = {.n = NT, .w = widths, .col0 = col0, .n_cols = n_cols, .wt_max = 1};
    dm_tomtom_work w;
    cr_assert_eq(dm_tomtom_work_init(&w, &tdb, 1), DM_STATUS_OK);
    dm_tomtom_discretise(&w, sim, 1, n_cols);
    dm_compare_options o;
    dm_compare_options_default(&o);
    dm_hit *h;
    int nh;
    compare_all(&q, &db, &o, &h, &nh);
    for (int i = 0; i < nh; i++) {
        int c = h[i].target, s = w.g[2 * c] > w.g[2 * c + 1] ? w.g[2 * c] : w.g[2 * c + 1], ge = 0;
        for (int k = 0; k < 2 * n_cols; k++) ge += w.g[k] >= s;
        double tail = (double)ge / (2 * n_cols), p = 1 - (1 - tail) * (1 - tail);
        /* p ≥ 1/60 here: relative 1e-12 is far above the rounding of a 60-term product. */
        cr_assert(fabs(h[i].pvalue - p) <= 1e-12 * p, "target %d: p %.17g, expected %.17g", c, h[i].pvalue, p);
        cr_assert_eq(h[i].orient, w.g[2 * c] >= w.g[2 * c + 1] ? '+' : '-', "ties go to '+'");
    }
    free(h);
    dm_tomtom_work_free(&w);
    free(sim);
    free(pool);
    free_motifs(tm, NT);
    free(qm.p);
}

/* ---- properties -------------------------------------------------------------------------------- */

/* A random database of NT motifs of widths 5-16 and NQ queries of widths 4-20. */
enum { NT = 120, NQ = 8 };
static void random_sets(dm_motif *all, uint64_t tag) {
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 142, tag);
    for (int i = 0; i < NT; i++) all[i] = random_motif(&r, 5 + (int)dm_rng_below(&r, 12), i);
    for (int i = 0; i < NQ; i++) all[NT + i] = random_motif(&r, 4 + (int)dm_rng_below(&r, 17), NT + i);
}

Test(tomtom, pvalues_in_unit_interval_and_monotone_in_score) {
    dm_motif all[NT + NQ];
    random_sets(all, 0);
    /* Plant noisy copies of two targets among the queries so that small p-values occur too. */
    for (int j = 0; j < all[NT].w && j < all[3].w; j++) memcpy(all[NT].p + 4 * j, all[3].p + 4 * j, 16);
    for (int j = 0; j < all[NT + 1].w && j < all[7].w; j++) memcpy(all[NT + 1].p + 4 * j, all[7].p + 4 * j, 16);
    dm_motif_set db = {NT, all}, q = {NQ, all + NT};
    for (int dist = 0; dist < 3; dist++) {
        dm_compare_options o;
        dm_compare_options_default(&o);
        o.dist = dist;
        o.min_overlap = 1 + 2 * dist; /* 1, 3, 5: the overlap floor enters the null too */
        dm_hit *h;
        int n;
        compare_all(&q, &db, &o, &h, &n);
        double p_min = 1;
        for (int i = 0; i < n; i++) {
            cr_assert(h[i].pvalue > 0 && h[i].pvalue <= 1, "p %g", h[i].pvalue);
            p_min = fmin(p_min, h[i].pvalue);
            for (int j = 0; j < n; j++) {
                if (h[j].query != h[i].query || db.m[h[j].target].w != db.m[h[i].target].w) continue;
                /* One table per (query, width): a higher complete score never has a larger p. */
                if (h[j].score > h[i].score)
                    cr_assert_leq(h[j].pvalue, h[i].pvalue, "dist %d: score %g p %g vs score %g p %g", dist,
                                  h[j].score, h[j].pvalue, h[i].score, h[i].pvalue);
                if (h[j].score == h[i].score) cr_assert_eq(h[j].pvalue, h[i].pvalue);
            }
        }
        cr_assert_lt(p_min, 1e-6, "dist %d: the planted copies are significant (p %g)", dist, p_min);
        free(h);
    }
    free_motifs(all, NT + NQ);
}

Test(tomtom, deterministic_across_thread_counts) {
    dm_motif all[NT + NQ];
    random_sets(all, 1);
    dm_motif_set db = {NT, all}, q = {NQ, all + NT};
    dm_compare_options o;
    dm_compare_options_default(&o);
    dm_hit *h1, *h3;
    int n1, n3, saved = omp_get_max_threads();
    omp_set_num_threads(1);
    compare_all(&q, &db, &o, &h1, &n1);
    omp_set_num_threads(3);
    compare_all(&q, &db, &o, &h3, &n3);
    omp_set_num_threads(saved);
    cr_assert_eq(n1, n3);
    cr_assert(memcmp(h1, h3, sizeof(dm_hit) * (size_t)n1) == 0, "hits differ between 1 and 3 threads");
    free(h1);
    free(h3);
    free_motifs(all, NT + NQ);
}

/* Query vs its reverse complement: the same p for every target, the strand flipped. */
static void check_rc_symmetry(const dm_motif_set *db, dm_motif *queries, int nq, int dist) {
    dm_motif *both = malloc(sizeof(dm_motif) * 2 * (size_t)nq);
    cr_assert(both);
    for (int i = 0; i < nq; i++) {
        both[2 * i] = queries[i];
        both[2 * i + 1] = revcomp(&queries[i]);
    }
    dm_motif_set q = {2 * nq, both};
    dm_compare_options o;
    dm_compare_options_default(&o);
    o.dist = dist;
    dm_hit *h;
    int n;
    compare_all(&q, db, &o, &h, &n);
    double *p = malloc(sizeof(double) * (size_t)n);
    cr_assert(p);
    for (int i = 0; i < n; i++) p[(size_t)h[i].query * db->n + h[i].target] = h[i].pvalue;
    int differ = 0;
    for (int i = 0; i < nq; i++)
        for (int t = 0; t < db->n; t++) {
            double a = p[(size_t)(2 * i) * db->n + t], b = p[(size_t)(2 * i + 1) * db->n + t];
            /* The reverse complement's similarities are the same numbers computed in another order
             * (float rounding can move a score across a bin edge, one bin of 1/scale): relative 1e-9
             * for the pair, and such moves allowed in at most 1% of the pairs. */
            differ += fabs(a - b) > 1e-9 * fmax(a, b);
        }
    cr_assert_leq(differ, nq * db->n / 100, "dist %d: %d of %d pairs differ", dist, differ, nq * db->n);
    free(p);
    free(h);
    for (int i = 0; i < nq; i++) free(both[2 * i + 1].p);
    free(both);
}

Test(tomtom, reverse_complement_symmetry) {
    dm_motif all[NT + NQ];
    random_sets(all, 2);
    dm_motif_set db = {NT, all};
    for (int dist = 0; dist < 3; dist++) check_rc_symmetry(&db, all + NT, NQ, dist);
    free_motifs(all, NT + NQ);
}

Test(tomtom, cwm_query_scores_as_its_ppm) {
    /* A contribution weight matrix 0.3 (p − 1/4) of a target: Pearson ignores each column's shift
     * and positive scale, so under TOMTOM's null it matches exactly as the PPM does. */
    dm_motif all[NT + NQ];
    random_sets(all, 4);
    dm_motif_set db = {NT, all};
    dm_motif ppm = all[5], cwm = all[5];
    cwm.p = malloc(sizeof(float) * 4 * (size_t)cwm.w);
    cr_assert(cwm.p);
    for (int k = 0; k < 4 * cwm.w; k++) cwm.p[k] = 0.3f * (ppm.p[k] - 0.25f);
    dm_motif_set qp = {1, &ppm}, qc = {1, &cwm};
    dm_compare_options o;
    dm_compare_options_default(&o);
    dm_hit *hp, *hc;
    int np, nc;
    compare_all(&qp, &db, &o, &hp, &np);
    o.query_type = DM_MOTIF_CWM;
    compare_all(&qc, &db, &o, &hc, &nc);
    cr_assert_eq(hc[0].target, 5, "best target %d", hc[0].target);
    cr_assert_eq(hp[0].target, 5);
    int differ = 0;
    for (int i = 0; i < np; i++)
        for (int j = 0; j < nc; j++)
            if (hp[i].target == hc[j].target)
                /* The same correlations up to float rounding, which may move a score across a bin
                 * edge: relative 1e-9, at most 2 of the 120 targets off (a few % of p then). */
                differ += fabs(hp[i].pvalue - hc[j].pvalue) > 1e-9 * hp[i].pvalue;
    cr_assert_leq(differ, 2, "%d targets' p-values differ", differ);
    free(hp);
    free(hc);
    free(cwm.p);
    free_motifs(all, NT + NQ);
}

/* ---- JASPAR 2020 ------------------------------------------------------------------------------- */

Test(tomtom, jaspar_motifs_find_themselves_first) {
    const char *path = dm_test_data_file(JASPAR);
    if (!path) cr_skip_test("%s not found (set DM_DATA_DIR)", JASPAR);
    dm_motif_set db;
    cr_assert_eq(dm_meme_read(path, &db), DM_STATUS_OK, "%s", dm_last_error());
    dm_motif qm[24];
    int nq = 0;
    for (int i = 0; i < db.n && nq < 24; i += 33) qm[nq++] = db.m[i];
    dm_motif_set q = {nq, qm};
    for (int dist = 0; dist < 2; dist++) {
        dm_compare_options o;
        dm_compare_options_default(&o);
        o.dist = dist;
        o.top = 1;
        dm_hit *h;
        int n;
        cr_assert_eq(dm_compare(&q, &db, &o, &h, &n), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert_eq(n, nq);
        for (int k = 0; k < n; k++) {
            const dm_motif *m = &qm[h[k].query];
            /* A motif against itself: every column at the top of its distribution. Bound: 1e-4 for
             * every motif (the shortest, 5-6 low-information columns, reach ~1e-7: each column's
             * top bin holds a few % of the background, and the maximum runs over ~2 (w_q + w_t)
             * alignments), 1e-12 from 12 columns on (each column ≤ 1/10 in its top bins). */
            cr_assert_str_eq(db.m[h[k].target].id, m->id, "dist %d: %s's best hit is %s", dist, m->id,
                             db.m[h[k].target].id);
            cr_assert(h[k].orient == '+' && h[k].offset == 0 && h[k].overlap == m->w, "%s", m->id);
            cr_assert_lt(h[k].pvalue, m->w >= 12 ? 1e-12 : 1e-4, "%s (w %d): p %g", m->id, m->w, h[k].pvalue);
        }
        free(h);
    }
    /* The reverse-complement symmetry on real motifs too (both similarities). */
    for (int dist = 0; dist < 2; dist++) check_rc_symmetry(&db, qm, 6, dist);
    dm_motif_set_free(&db);
}

/* ---- CLI --------------------------------------------------------------------------------------- */

Test(tomtom, cli_null_and_min_overlap_reach_the_tsv) {
    char *dir = dm_test_tmpdir();
    dm_motif all[NT + NQ];
    random_sets(all, 3);
    dm_motif_set db = {NT, all}, q = {NQ, all + NT};
    char dbp[512], qp[512];
    snprintf(dbp, sizeof dbp, "%s/db.meme", dir);
    snprintf(qp, sizeof qp, "%s/q.meme", dir);
    cr_assert_eq(dm_meme_write(dbp, &db), DM_STATUS_OK);
    cr_assert_eq(dm_meme_write(qp, &q), DM_STATUS_OK);
    cr_assert_eq(dm_test_system("'%s' compare --query '%s' --db '%s' --out '%s/t.tsv' 2>/dev/null", DM_TEST_CLI, qp,
                                dbp, dir),
                 0);
    char *t = dm_test_slurp_in(dir, "t.tsv");
    cr_assert(strstr(t, "min_overlap 1; null: tomtom"), "%s", t);
    cr_assert_eq(dm_test_system("'%s' compare --query '%s' --db '%s' --out '%s/s.tsv' --null shuffle "
                                "--dist sandelin 2>/dev/null",
                                DM_TEST_CLI, qp, dbp, dir),
                 0);
    t = dm_test_slurp_in(dir, "s.tsv");
    cr_assert(strstr(t, "# similarity: sandelin; min_overlap 5; null: 10000 column-shuffled"), "%s", t);
    cr_assert_eq(dm_test_system("'%s' compare --query '%s' --db '%s' --out '%s/m.tsv' --min-overlap 4 "
                                "--dist euclid 2>/dev/null",
                                DM_TEST_CLI, qp, dbp, dir),
                 0);
    t = dm_test_slurp_in(dir, "m.tsv");
    cr_assert(strstr(t, "# similarity: euclid; min_overlap 4; null: tomtom"), "%s", t);
    /* A bad choice is a usage error (2), with nothing written. */
    cr_assert_eq(dm_test_system("'%s' compare --query '%s' --db '%s' --out '%s/x.tsv' --null exact 2>/dev/null",
                                DM_TEST_CLI, qp, dbp, dir),
                 2);
    char xp[600];
    snprintf(xp, sizeof xp, "%s/x.tsv", dir);
    cr_assert(fopen(xp, "r") == NULL);
    free_motifs(all, NT + NQ);
    dm_test_rmdir(dir);
}
