/*
 * compare.c: TOMTOM-like motif comparison and its TSV output (method: compare.h, FORMATS.md §8).
 *
 * Data layout. The database columns are pooled: pool (n_cols, 4), target t owning rows
 * [col0[t], col0[t] + w_t). Per query, one similarity table sim (n_cols, 2 w_q) holds, for every pool
 * column c, its similarity with each query column (query columns stored in reverse order, see below)
 * in [0, w_q), and the similarity of its complement in [w_q, 2 w_q). A target, real or random, is
 * then just a list of pool indices, and scoring it needs no similarity evaluations at all, so the
 * observed and null scores come from the very same numbers and the very same code.
 *
 * Diagonal sums. For a target of width w_t (oriented), column j facing query column i lies on offset
 * o = j − i. Storing query column w_q − 1 − r at position r of a sim row turns diagonal o into index
 * j + r = o + w_q − 1 of a (w_q + w_t − 1) accumulator, so each target column adds one contiguous sim
 * row into a contiguous slice (a vectorisable loop). The reverse-complement strand reads the target's
 * pool indices backwards and the complement half of each sim row.
 *
 * Analytic tail. Against a random target every column pairing is an independent draw, so at one
 * alignment the score S_a is a sum of independent column scores X_i, each distributed as the query
 * column's similarity with a uniformly drawn database column (complemented on the minus strand).
 * Each X_i is summarised as atoms (its exact maximum, then the means of 0.01-wide bins); the tail
 * P(S_a ≥ s) follows from the cumulant generating function K(θ) = Σ log E exp(θ X_i): the
 * Lugannani–Rice saddle-point formula, capped by the Chernoff bound exp(K(θ) − θ s), and exactly
 * Π P(X_i = max X_i) at the largest possible sum. The union bound Σ_a P(S_a ≥ s) over both strands
 * and every offset bounds P(best ≥ s) from above. Checked against 10^6 Monte Carlo targets on JASPAR
 * queries it is conservative: 5-15 times the Monte Carlo p-value between 1e-2 and 1e-5, closer
 * further out, where the union bound tightens (tests/test_compare.c checks 0.8-30 times).
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "compare.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "tomtom.h"

#define DM_COMPARE_TIE_EPS 1e-5f  /* a later alignment must beat the best by this to replace it */
#define DM_TAIL_COUNT      10     /* fewer null scores ≥ s than this: consult the analytic tail */
#define DM_TAIL_LO         (-1.5) /* column scores lie in [−√2, 1]: histogram from −1.5 ... */
#define DM_TAIL_DELTA      0.01   /* ... in bins of 0.01 ... */
#define DM_TAIL_BINS       300    /* ... up to 1.5 */
#define DM_TAIL_EDGE       1e-4   /* a score this close to the largest possible sum reaches it */
#define DM_TAIL_THETA_MAX  1e6    /* saddle-point search limit (beyond: the Chernoff bound there) */
#define DM_P_MIN           1e-300 /* p-values are clamped to (DM_P_MIN, 1] */

void dm_compare_options_default(dm_compare_options *o) {
    *o = (dm_compare_options){
        .dist = DM_DIST_PEARSON, .min_overlap = 1, .n_null = 10000, .seed = 1, .thresh = 0.5, .top = 10,
        .null = DM_NULL_TOMTOM};
}

/* ---- column similarities ---------------------------------------------------------------------- */

/* Pearson correlation of two 4-vectors; 0 when either has (numerically) no variance. */
static double col_pearson(const float *a, const float *b) {
    double ma = 0.25 * ((double)a[0] + a[1] + a[2] + a[3]), mb = 0.25 * ((double)b[0] + b[1] + b[2] + b[3]);
    double sab = 0, saa = 0, sbb = 0;
    for (int k = 0; k < 4; k++) {
        double da = a[k] - ma, db = b[k] - mb;
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    if (saa <= 1e-12 || sbb <= 1e-12) return 0;
    return sab / sqrt(saa * sbb);
}

/* d(q, uniform) − d(q, t): how much closer t is to q than the background is. */
static double col_euclid(const float *q, const float *t) {
    double du = 0, dt = 0;
    for (int k = 0; k < 4; k++) {
        du += (q[k] - 0.25) * (q[k] - 0.25);
        dt += ((double)q[k] - t[k]) * ((double)q[k] - t[k]);
    }
    return sqrt(du) - sqrt(dt);
}

/* 2 − Σ (q − t)²: TOMTOM's SANDELIN similarity. */
static double col_sandelin(const float *q, const float *t) {
    double d = 0;
    for (int k = 0; k < 4; k++) d += ((double)q[k] - t[k]) * ((double)q[k] - t[k]);
    return 2 - d;
}

static double col_sim(int dist, const float *q, const float *t) {
    return dist == DM_DIST_EUCLID ? col_euclid(q, t) : dist == DM_DIST_SANDELIN ? col_sandelin(q, t) : col_pearson(q, t);
}

/* ---- shared, read-only state ------------------------------------------------------------------ */

typedef struct dm_cmp_db {
    int n_cols;    /* columns of all targets together */
    float *pool;   /* (n_cols, 4) every target column, targets in order */
    int *col0;     /* (n_db) first pool row of each target */
    int *by_width; /* (n_db) target indices sorted by width, then index */
    int *width;    /* (n_db) target widths */
    int wt_max;
} dm_cmp_db;

/* One thread's scratch space, sized for the widest query and target. */
typedef struct dm_cmp_work {
    float *sim;  /* (n_cols, 2 wq) similarity table of the current query */
    float *diag; /* (wq_max + wt_max − 1) diagonal sums */
    float *null; /* (n_null) null scores of one target width, sorted descending */
    int *idx;    /* (wt_max) pool indices of one random target */
    dm_hit *all; /* (n_db) every target's result for the current query */
    dm_tomtom_work tt; /* TOMTOM's null (--null tomtom) */
    /* Analytic tail of the current query (tail_build), built on first use. */
    bool tail_ready;
    int *tn;              /* (2, wq) atoms per (strand, query column) */
    double *tval, *tprob; /* (2, wq, DM_TAIL_BINS + 1) atom values and probabilities */
    double *tmean;        /* (2, wq) mean similarity */
    double *acc;          /* (2 DM_TAIL_BINS) binning scratch: sums, then counts */
} dm_cmp_work;

/* ---- alignment -------------------------------------------------------------------------------- */

/* The fewest aligned columns an alignment needs: min(min_overlap, wq, wt). */
static int overlap_floor(int min_overlap, int wq, int wt) {
    int ov = min_overlap < wq ? min_overlap : wq;
    return ov < wt ? ov : wt;
}

/* Columns aligned at offset off: query columns [max(0, −off), min(wq, wt − off)). Offsets with at
 * least ov of them form the range [−(wq − ov), wt − ov]. */
static int aligned_columns(int wq, int wt, int off) {
    int hi = wq < wt - off ? wq : wt - off, lo = off < 0 ? -off : 0;
    return hi - lo;
}

/* Diagonal sums of one strand: diag[o + wq − 1] = score at offset o. idx: (wt) pool indices. */
static void strand_diagonals(const float *sim, int wq, const int *idx, int wt, int minus, float *diag) {
    memset(diag, 0, sizeof(float) * (size_t)(wq + wt - 1));
    for (int j = 0; j < wt; j++) {
        /* Target column j is pool column idx[j] (+), or the complement of idx[wt − 1 − j] (−). */
        const float *row = sim + (size_t)idx[minus ? wt - 1 - j : j] * 2 * wq + (minus ? wq : 0);
        float *d = diag + j;
        for (int r = 0; r < wq; r++) d[r] += row[r];
    }
}

/* The best score over both strands and every offset with ≥ ov aligned columns (the null statistic). */
static float best_score(const float *sim, int wq, const int *idx, int wt, int ov, float *diag) {
    float best = -INFINITY;
    for (int minus = 0; minus < 2; minus++) {
        strand_diagonals(sim, wq, idx, wt, minus, diag);
        for (int d = ov - 1; d <= wq + wt - 1 - ov; d++) best = diag[d] > best ? diag[d] : best;
    }
    return best;
}

/* The best alignment of a real target, with its place: '+' first, then offsets by increasing
 * |offset| (0, −1, +1, −2, ...); a candidate must beat the best by DM_COMPARE_TIE_EPS. */
static void best_alignment(const float *sim, int wq, const int *idx, int wt, int ov, float *diag, dm_hit *h) {
    float best = -INFINITY;
    int lo = -(wq - ov), hi = wt - ov;
    for (int minus = 0; minus < 2; minus++) {
        strand_diagonals(sim, wq, idx, wt, minus, diag);
        for (int a = 0; a <= (hi > -lo ? hi : -lo); a++)
            for (int sgn = -1; sgn <= 1; sgn += 2) {
                int off = sgn * a;
                if (off < lo || off > hi || (a == 0 && sgn > 0)) continue;
                float s = diag[off + wq - 1];
                if (best == -INFINITY || s > best + DM_COMPARE_TIE_EPS) {
                    best = s;
                    h->offset = off;
                    h->orient = minus ? '-' : '+';
                }
            }
    }
    h->score = best;
    h->overlap = aligned_columns(wq, wt, h->offset);
}

/* ---- null distribution: the empirical body ------------------------------------------------------ */

static int cmp_float_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* #{null ≥ s} in the sorted (descending) null of n scores. */
static int null_count(const float *null, int n, float s) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (null[mid] >= s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- null distribution: the analytic tail ------------------------------------------------------ */

/* Per (strand, query column): the distribution of its similarity with a random database column
 * (the complement on strand 1), as atoms: atom 0 the exact maximum, then one atom per occupied bin
 * of width DM_TAIL_DELTA holding the mean of its values. */
static void tail_build(dm_cmp_work *w, int wq, int n_cols) {
    double *sum = w->acc, *cnt = w->acc + DM_TAIL_BINS;
    for (int sg = 0; sg < 2; sg++)
        for (int i = 0; i < wq; i++) {
            /* Query column i sits at position wq − 1 − i of a sim row (reversed), strand sg's half. */
            const float *col = w->sim + sg * wq + (wq - 1 - i);
            float mx = -INFINITY;
            for (int c = 0; c < n_cols; c++) mx = col[(size_t)c * 2 * wq] > mx ? col[(size_t)c * 2 * wq] : mx;
            memset(w->acc, 0, sizeof(double) * 2 * DM_TAIL_BINS);
            double mean = 0, n_max = 0;
            for (int c = 0; c < n_cols; c++) {
                float v = col[(size_t)c * 2 * wq];
                mean += v;
                if (v == mx) {
                    n_max++;
                    continue;
                }
                int b = (int)floor((v - DM_TAIL_LO) / DM_TAIL_DELTA);
                b = b < 0 ? 0 : b >= DM_TAIL_BINS ? DM_TAIL_BINS - 1 : b;
                sum[b] += v;
                cnt[b] += 1;
            }
            /* Compress the occupied bins behind the maximum atom. */
            size_t base = ((size_t)sg * wq + i) * (DM_TAIL_BINS + 1);
            int n = 1;
            w->tval[base] = mx;
            w->tprob[base] = n_max / n_cols;
            for (int b = 0; b < DM_TAIL_BINS; b++)
                if (cnt[b] > 0) {
                    w->tval[base + n] = sum[b] / cnt[b];
                    w->tprob[base + n] = cnt[b] / n_cols;
                    n++;
                }
            w->tn[sg * wq + i] = n;
            w->tmean[sg * wq + i] = mean / n_cols;
        }
    w->tail_ready = true;
}

/* Cumulant generating function K(θ) of the sum over query columns [i0, i1) on strand sg, with its
 * first two derivatives, computed relative to each column's maximum m (so exp never overflows). */
static void tail_cgf(const dm_cmp_work *w, int wq, int sg, int i0, int i1, double th, double k[3]) {
    k[0] = k[1] = k[2] = 0;
    for (int i = i0; i < i1; i++) {
        size_t base = ((size_t)sg * wq + i) * (DM_TAIL_BINS + 1);
        const double *v = w->tval + base, *p = w->tprob + base;
        double m = v[0], z = 0, z1 = 0, z2 = 0;
        for (int b = 0; b < w->tn[sg * wq + i]; b++) {
            double d = v[b] - m, e = p[b] * exp(th * d);
            z += e;
            z1 += e * d;
            z2 += e * d * d;
        }
        k[0] += th * m + log(z);
        k[1] += m + z1 / z;
        k[2] += z2 / z - (z1 / z) * (z1 / z);
    }
}

/* R(w) − 1/w, with R = Q/φ the Mills ratio of the standard normal (asymptotic series for w ≥ 10). */
static double mills_minus_inv(double x) {
    if (x < 10) return 0.5 * erfc(x / sqrt(2.0)) * sqrt(2 * M_PI) * exp(0.5 * x * x) - 1 / x;
    double x2 = x * x;
    return (-1 + (3 + (-15 + 105 / x2) / x2) / x2) / (x2 * x);
}

/* P(S ≥ s) for the sum S over query columns [i0, i1) on strand sg against random target columns:
 * 0 beyond the largest possible sum, the product of the maxima's probabilities at it, otherwise the
 * smaller of the Chernoff bound exp(K(θ) − θ s) and the Lugannani–Rice saddle-point approximation
 * C · (R(w) − 1/w + 1/u) / √(2π) (w = √(−2 log C), u = θ √K''(θ)) at the saddle point K'(θ) = s. */
static double tail_range(const dm_cmp_work *w, int wq, int sg, int i0, int i1, double s) {
    double smax = 0, mean = 0, pedge = 1;
    for (int i = i0; i < i1; i++) {
        size_t base = ((size_t)sg * wq + i) * (DM_TAIL_BINS + 1);
        smax += w->tval[base];
        pedge *= w->tprob[base];
        mean += w->tmean[sg * wq + i];
    }
    if (s <= mean) return 1;
    if (s > smax + DM_TAIL_EDGE) return 0;
    if (s >= smax - DM_TAIL_EDGE) return pedge;
    /* K' grows from the mean to smax: bracket θ by doubling, then Newton kept inside the bracket. */
    double k[3], lo = 0, hi = 1, th = 1;
    tail_cgf(w, wq, sg, i0, i1, th, k);
    while (k[1] < s && hi < DM_TAIL_THETA_MAX) {
        lo = hi;
        th = hi *= 2;
        tail_cgf(w, wq, sg, i0, i1, th, k);
    }
    for (int it = 0; it < 60 && k[1] >= s - 1e-12 && fabs(k[1] - s) > 1e-10 * (1 + fabs(s)); it++) {
        double nt = k[2] > 0 ? th - (k[1] - s) / k[2] : 0.5 * (lo + hi);
        if (!(nt > lo && nt < hi)) nt = 0.5 * (lo + hi);
        tail_cgf(w, wq, sg, i0, i1, nt, k);
        th = nt;
        if (k[1] < s)
            lo = nt;
        else
            hi = nt;
        if (hi - lo <= 1e-12 * hi) break;
    }
    double logc = k[0] - th * s; /* a valid Chernoff bound at any θ ≥ 0 */
    double chern = exp(logc < 0 ? logc : 0);
    double x = sqrt(-2 * (logc < 0 ? logc : 0)), u = th * sqrt(k[2] > 0 ? k[2] : 0);
    if (fabs(k[1] - s) < 1e-6 * (1 + fabs(s)) && x > 0.5 && u > 0) {
        double lr = chern * (mills_minus_inv(x) + 1 / u) / sqrt(2 * M_PI);
        if (lr > 0 && lr < chern) return lr;
    }
    return chern;
}

/* Union (Bonferroni) bound over every alignment, both strands: P(best score ≥ s) ≤ Σ P(S_a ≥ s). */
static double tail_union(const dm_cmp_work *w, int wq, int wt, int ov, double s) {
    double b = 0;
    for (int sg = 0; sg < 2; sg++)
        for (int off = -(wq - ov); off <= wt - ov && b < 1; off++)
            b += tail_range(w, wq, sg, off < 0 ? -off : 0, wq < wt - off ? wq : wt - off, s);
    return b < 1 ? b : 1;
}

/* ---- one query -------------------------------------------------------------------------------- */

void dm_compare_sim(const float *pool, int n_cols, const dm_motif *q, int dist, float *sim) {
    int wq = q->w;
    for (int c = 0; c < n_cols; c++) {
        const float *t = pool + 4 * (size_t)c;
        float comp[4] = {t[3], t[2], t[1], t[0]}; /* A<->T, C<->G */
        float *row = sim + (size_t)c * 2 * wq;
        for (int r = 0; r < wq; r++) {
            const float *qc = q->p + 4 * (size_t)(wq - 1 - r);
            row[r] = (float)col_sim(dist, qc, t);
            row[wq + r] = (float)col_sim(dist, qc, comp);
        }
    }
}

/* Order of a query's targets (qsort on dm_hit): p ascending, then score descending, then index. */
static int cmp_hit(const void *pa, const void *pb) {
    const dm_hit *a = pa, *b = pb;
    if (a->pvalue != b->pvalue) return a->pvalue < b->pvalue ? -1 : 1;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->target > b->target) - (a->target < b->target);
}

static void shuffle_pvalues(const dm_motif_set *qs, int qi, const dm_motif_set *db, const dm_cmp_db *d,
                            const dm_compare_options *o, dm_cmp_work *w);
static void report(const dm_compare_options *o, int n_db, dm_cmp_work *w, dm_hit *out, int *n_out);

/* Compares query qi with every target; writes its reported hits to out (≤ top) and their count. */
static void compare_one(const dm_motif_set *qs, int qi, const dm_motif_set *db, const dm_cmp_db *d,
                        const dm_compare_options *o, dm_cmp_work *w, dm_hit *out, int *n_out) {
    const dm_motif *q = &qs->m[qi];
    int wq = q->w, n_db = db->n;
    dm_compare_sim(d->pool, d->n_cols, q, o->dist, w->sim);
    if (o->null == DM_NULL_TOMTOM) {
        for (int t = 0; t < n_db; t++) w->all[t] = (dm_hit){.query = qi, .target = t};
        dm_tomtom_discretise(&w->tt, w->sim, wq, d->n_cols);
        dm_tomtom_db tdb = {.n = n_db, .w = d->width, .col0 = d->col0, .n_cols = d->n_cols, .wt_max = d->wt_max};
        dm_tomtom_query(&w->tt, &tdb, wq, o->min_overlap, w->all);
        for (int t = 0; t < n_db; t++) {
            dm_hit *h = &w->all[t];
            h->pvalue = h->pvalue > DM_P_MIN ? h->pvalue : DM_P_MIN;
            h->evalue = h->pvalue * n_db;
        }
    } else
        shuffle_pvalues(qs, qi, db, d, o, w);
    report(o, n_db, w, out, n_out);
}

/* The column-shuffled null (--null shuffle): best alignments and their p-values into w->all. */
static void shuffle_pvalues(const dm_motif_set *qs, int qi, const dm_motif_set *db, const dm_cmp_db *d,
                            const dm_compare_options *o, dm_cmp_work *w) {
    const dm_motif *q = &qs->m[qi];
    int wq = q->w, n_db = db->n;
    w->tail_ready = false;
    /* Observed best alignments: a real target is its own run of pool indices. */
    for (int t = 0; t < n_db; t++) {
        int wt = db->m[t].w, ov = overlap_floor(o->min_overlap, wq, wt);
        for (int j = 0; j < wt; j++) w->idx[j] = d->col0[t] + j;
        dm_hit *h = &w->all[t];
        *h = (dm_hit){.query = qi, .target = t};
        best_alignment(w->sim, wq, w->idx, wt, ov, w->diag, h);
    }
    /* Nulls, one per distinct target width, each scoring the targets of that width. */
    for (int a = 0; a < n_db;) {
        int wt = db->m[d->by_width[a]].w, ov = overlap_floor(o->min_overlap, wq, wt);
        dm_rng r;
        dm_rng_init(&r, o->seed, DM_STREAM_COMPARE, (uint64_t)wt);
        for (int s = 0; s < o->n_null; s++) {
            for (int j = 0; j < wt; j++) w->idx[j] = (int)dm_rng_below(&r, (uint32_t)d->n_cols);
            w->null[s] = best_score(w->sim, wq, w->idx, wt, ov, w->diag);
        }
        qsort(w->null, (size_t)o->n_null, sizeof(float), cmp_float_desc);
        for (; a < n_db && db->m[d->by_width[a]].w == wt; a++) {
            /* Empirical p; where fewer than DM_TAIL_COUNT null scores reach s, the analytic tail too. */
            dm_hit *h = &w->all[d->by_width[a]];
            int c = null_count(w->null, o->n_null, (float)h->score);
            double p = (1.0 + c) / (1.0 + o->n_null);
            if (c < DM_TAIL_COUNT) {
                if (!w->tail_ready) tail_build(w, wq, d->n_cols);
                double b = tail_union(w, wq, wt, ov, h->score);
                p = b < p ? b : p;
            }
            h->pvalue = p > DM_P_MIN ? p : DM_P_MIN;
            h->evalue = h->pvalue * n_db;
        }
    }
}

/* q-values of w->all and the query's reported hits (≤ top, q ≤ thresh) into out. */
static void report(const dm_compare_options *o, int n_db, dm_cmp_work *w, dm_hit *out, int *n_out) {
    /* Benjamini–Hochberg: q_(k) = min over j ≥ k of p_(j) · m / j, walking from the largest p. */
    qsort(w->all, (size_t)n_db, sizeof(dm_hit), cmp_hit);
    double run = 1.0;
    for (int k = n_db - 1; k >= 0; k--) {
        dm_hit *h = &w->all[k];
        double qk = h->pvalue * n_db / (k + 1);
        run = qk < run ? qk : run;
        h->qvalue = run > h->pvalue ? run : h->pvalue; /* p · m / m can round 1 ulp below p */
    }
    /* The `top` best with q ≤ thresh. */
    int n = 0;
    for (int k = 0; k < n_db && n < o->top; k++)
        if (w->all[k].qvalue <= o->thresh) out[n++] = w->all[k];
    *n_out = n;
}

/* ---- driver ----------------------------------------------------------------------------------- */

/* Every motif needs a matrix of finite entries, non-negative unless `signed_ok` (CWM queries). */
static dm_status check_set(const dm_motif_set *s, const char *what, bool signed_ok) {
    for (int i = 0; i < s->n; i++) {
        const dm_motif *m = &s->m[i];
        if (m->w < 1 || !m->p)
            return dm_error(DM_STATUS_ARG, "compare: %s motif %d (%s) has no matrix (w = %d)", what, i + 1,
                            m->id, m->w);
        for (int k = 0; k < 4 * m->w; k++)
            if (!isfinite(m->p[k]) || (m->p[k] < 0 && !signed_ok))
                return dm_error(DM_STATUS_ARG, "compare: %s motif %s: entry %g in column %d", what, m->id,
                                (double)m->p[k], k / 4 + 1);
    }
    return DM_STATUS_OK;
}

static void work_free(dm_cmp_work *w) {
    free(w->sim);
    free(w->diag);
    free(w->null);
    free(w->idx);
    free(w->all);
    free(w->tn);
    free(w->tval);
    free(w->tprob);
    free(w->tmean);
    free(w->acc);
    dm_tomtom_work_free(&w->tt);
}

/* The pooled database columns and the by-width order (a stable counting sort on the width). */
static dm_status db_prepare(const dm_motif_set *db, dm_cmp_db *d) {
    int64_t n_cols = 0;
    for (int t = 0; t < db->n; t++) {
        n_cols += db->m[t].w;
        d->wt_max = db->m[t].w > d->wt_max ? db->m[t].w : d->wt_max;
    }
    if (n_cols > INT32_MAX / 8)
        return dm_error(DM_STATUS_ARG, "compare: database of %lld columns is too large", (long long)n_cols);
    d->n_cols = (int)n_cols;
    d->pool = malloc(sizeof(float) * 4 * (size_t)n_cols);
    d->col0 = malloc(sizeof(int) * (size_t)db->n);
    d->by_width = malloc(sizeof(int) * (size_t)db->n);
    d->width = malloc(sizeof(int) * (size_t)db->n);
    int *start = calloc((size_t)d->wt_max + 2, sizeof(int)); /* first by_width slot of each width */
    if (!d->pool || !d->col0 || !d->by_width || !d->width || !start) {
        free(start);
        return dm_error(DM_STATUS_NOMEM, "compare: out of memory");
    }
    int c = 0;
    for (int t = 0; t < db->n; t++) {
        d->col0[t] = c;
        d->width[t] = db->m[t].w;
        memcpy(d->pool + 4 * (size_t)c, db->m[t].p, sizeof(float) * 4 * (size_t)db->m[t].w);
        c += db->m[t].w;
        start[db->m[t].w + 1]++;
    }
    for (int wt = 1; wt <= d->wt_max + 1; wt++) start[wt] += start[wt - 1];
    for (int t = 0; t < db->n; t++) d->by_width[start[db->m[t].w]++] = t;
    free(start);
    return DM_STATUS_OK;
}

dm_status dm_compare(const dm_motif_set *queries, const dm_motif_set *db, const dm_compare_options *o,
                     dm_hit **hits, int *n_hits) {
    *hits = NULL;
    *n_hits = 0;
    if (db->n < 1) return dm_error(DM_STATUS_ARG, "compare: the motif database is empty");
    if (o->dist < DM_DIST_PEARSON || o->dist > DM_DIST_SANDELIN || o->min_overlap < 1 || o->n_null < 1 ||
        o->top < 1 || !(o->thresh >= 0) || (o->null != DM_NULL_TOMTOM && o->null != DM_NULL_SHUFFLE))
        return dm_error(DM_STATUS_ARG,
                        "compare: bad options (dist %d, min_overlap %d, n_null %d, top %d, thresh %g, null %d)",
                        o->dist, o->min_overlap, o->n_null, o->top, o->thresh, o->null);
    /* CWM queries: Pearson correlation reads signed columns as they are (it centres each column);
     * a Euclidean distance between contributions and probabilities would mean nothing. */
    if (o->query_type != DM_MOTIF_PPM && o->query_type != DM_MOTIF_CWM)
        return dm_error(DM_STATUS_ARG, "compare: bad query type %d", o->query_type);
    if (o->query_type == DM_MOTIF_CWM && o->dist != DM_DIST_PEARSON)
        return dm_error(DM_STATUS_ARG, "compare: CWM queries (signed contributions) need the pearson distance");
    DM_TRY(check_set(queries, "query", o->query_type == DM_MOTIF_CWM));
    DM_TRY(check_set(db, "database", false));
    if (queries->n == 0) return DM_STATUS_OK;

    dm_cmp_db d = {0};
    int nt = omp_get_max_threads();
    nt = nt < queries->n ? nt : queries->n;
    int wq_max = 0, per_q = o->top < db->n ? o->top : db->n;
    for (int i = 0; i < queries->n; i++) wq_max = queries->m[i].w > wq_max ? queries->m[i].w : wq_max;
    dm_cmp_work *work = calloc((size_t)nt, sizeof *work);
    dm_hit *slots = malloc(sizeof(dm_hit) * (size_t)queries->n * (size_t)per_q);
    int *counts = calloc((size_t)queries->n, sizeof(int));
    dm_status st =
        work && slots && counts ? db_prepare(db, &d) : dm_error(DM_STATUS_NOMEM, "compare: out of memory");
    /* Every allocation happens here, on the calling thread, so the parallel loop cannot fail. */
    for (int t = 0; t < nt && st == DM_STATUS_OK; t++) {
        dm_cmp_work *w = &work[t];
        w->sim = malloc(sizeof(float) * 2 * (size_t)wq_max * (size_t)d.n_cols);
        w->diag = malloc(sizeof(float) * (size_t)(wq_max + d.wt_max));
        bool shuffle = o->null == DM_NULL_SHUFFLE;
        w->null = malloc(sizeof(float) * (size_t)(shuffle ? o->n_null : 1));
        w->idx = malloc(sizeof(int) * (size_t)d.wt_max);
        w->all = malloc(sizeof(dm_hit) * (size_t)db->n);
        w->tn = malloc(sizeof(int) * 2 * (size_t)wq_max);
        w->tval = malloc(sizeof(double) * 2 * (size_t)wq_max * (DM_TAIL_BINS + 1));
        w->tprob = malloc(sizeof(double) * 2 * (size_t)wq_max * (DM_TAIL_BINS + 1));
        w->tmean = malloc(sizeof(double) * 2 * (size_t)wq_max);
        w->acc = malloc(sizeof(double) * 2 * DM_TAIL_BINS);
        if (!shuffle) {
            dm_tomtom_db tdb = {.n = db->n, .w = d.width, .col0 = d.col0, .n_cols = d.n_cols, .wt_max = d.wt_max};
            st = dm_tomtom_work_init(&w->tt, &tdb, wq_max);
        }
        if (st == DM_STATUS_OK && (!w->sim || !w->diag || !w->null || !w->idx || !w->all || !w->tn ||
                                   !w->tval || !w->tprob || !w->tmean || !w->acc))
            st = dm_error(DM_STATUS_NOMEM, "compare: out of memory for %d threads' workspaces", nt);
    }
    if (st == DM_STATUS_OK) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int i = 0; i < queries->n; i++)
            compare_one(queries, i, db, &d, o, &work[omp_get_thread_num()], slots + (size_t)i * per_q,
                        &counts[i]);
        /* Compact the per-query slots into one list, already in (query, p) order. */
        int n = 0;
        for (int i = 0; i < queries->n; i++) {
            memmove(slots + n, slots + (size_t)i * per_q, sizeof(dm_hit) * (size_t)counts[i]);
            n += counts[i];
        }
        if (n > 0) {
            dm_hit *shrunk = realloc(slots, sizeof(dm_hit) * (size_t)n);
            *hits = shrunk ? shrunk : slots;
            slots = NULL;
        }
        *n_hits = n;
    }
    for (int t = 0; work && t < nt; t++) work_free(&work[t]);
    free(work);
    free(slots);
    free(counts);
    free(d.pool);
    free(d.col0);
    free(d.by_width);
    free(d.width);
    return st;
}

/* ---- TSV output ------------------------------------------------------------------------------- */

/* The most probable base of each column (first of A C G T on ties), reverse-complemented when minus. */
static void put_consensus(FILE *f, const dm_motif *m, int minus) {
    static const char base[4] = {'A', 'C', 'G', 'T'};
    for (int j = 0; j < m->w; j++) {
        /* The oriented column j is column w − 1 − j complemented on the minus strand. */
        const float *c = m->p + 4 * (size_t)(minus ? m->w - 1 - j : j);
        float v[4] = {c[0], c[1], c[2], c[3]};
        if (minus) {
            v[0] = c[3];
            v[1] = c[2];
            v[2] = c[1];
            v[3] = c[0];
        }
        int b = 0;
        for (int k = 1; k < 4; k++) b = v[k] > v[b] ? k : b;
        fputc(base[b], f);
    }
}

dm_status dm_compare_write_tsv(const char *path, const dm_motif_set *q, const dm_motif_set *db,
                               const dm_hit *hits, int n, const dm_compare_options *o, const char *cmdline) {
    for (int i = 0; i < n; i++)
        if (hits[i].query < 0 || hits[i].query >= q->n || hits[i].target < 0 || hits[i].target >= db->n)
            return dm_error(DM_STATUS_ARG, "%s: hit %d names query %d / target %d outside the motif sets",
                            path, i, hits[i].query, hits[i].target);
    dm_outfile out;
    DM_TRY(dm_outfile_open(&out, path));
    FILE *f = out.f;
    fprintf(f, "Query_ID\tTarget_ID\tOptimal_offset\tp-value\tE-value\tq-value\tOverlap\tQuery_consensus\t"
               "Target_consensus\tOrientation\n");
    for (int i = 0; i < n; i++) {
        const dm_hit *h = &hits[i];
        fprintf(f, "%s\t%s\t%d\t%.6g\t%.6g\t%.6g\t%d\t", q->m[h->query].id, db->m[h->target].id, h->offset,
                h->pvalue, h->evalue, h->qvalue, h->overlap);
        put_consensus(f, &q->m[h->query], 0);
        fputc('\t', f);
        put_consensus(f, &db->m[h->target], h->orient == '-');
        fprintf(f, "\t%c\n", h->orient);
    }
    /* Provenance, TOMTOM-style: trailing comment lines. */
    fprintf(f, "# deepmotif %s\n", dm_version());
    fprintf(f, "# command: %s\n", cmdline ? cmdline : "(not given)");
    const char *dist = o->dist == DM_DIST_EUCLID ? "euclid" : o->dist == DM_DIST_SANDELIN ? "sandelin" : "pearson";
    if (o->null == DM_NULL_TOMTOM)
        fprintf(f, "# similarity: %s; min_overlap %d; null: tomtom (complete scores, %d bins per column)\n", dist,
                o->min_overlap, DM_TOMTOM_BINS);
    else
        fprintf(f, "# similarity: %s; min_overlap %d; null: %d column-shuffled targets per (query, width), seed %llu\n",
                dist, o->min_overlap, o->n_null, (unsigned long long)o->seed);
    fprintf(f, "# threshold: q-value <= %g; at most %d hits per query\n", o->thresh, o->top);
    return dm_outfile_commit(&out);
}
