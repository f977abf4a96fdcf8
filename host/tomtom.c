/*
 * tomtom.c: TOMTOM's complete-score p-values (method: tomtom.h). Library code: no printing, no
 * allocation after dm_tomtom_work_init, so queries can run in parallel with one workspace each.
 *
 * Spans and widths. A target of width w_t aligned at offset o (query column i facing target column
 * i + o) covers the query span [max(0, −o), min(w_q, w_t − o) − 1]. Read the other way, a span
 * [s, e] of length n occurs, per strand:
 *   s > 0, e < w_q − 1 (strictly inside the query): once for w_t = n;
 *   s > 0, e = w_q − 1 or s = 0, e < w_q − 1 (one query end overhangs): once for every w_t ≥ n;
 *   s = 0, e = w_q − 1 (the whole query): w_t − w_q + 1 times for every w_t ≥ w_q.
 * So the per-width tables need every span of at most min(w_q, w_t,max) columns, each once: the
 * spans are built by extending a start s one column at a time (one convolution per step), and each
 * span's log P(S < k) is added, with its multiplicity × 2 strands, to the table of every width
 * that uses it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "tomtom.h"

#define NB (DM_TOMTOM_BINS + 1) /* values of one column's integer score */

void dm_tomtom_work_free(dm_tomtom_work *w) {
    free(w->widths);
    free(w->width_slot);
    free(w->g);
    free(w->zbuf);
    free(w->f);
    free(w->pmf);
    free(w->tmp);
    free(w->ls);
    free(w->logcdf);
    free(w->diag);
    memset(w, 0, sizeof *w);
}

dm_status dm_tomtom_work_init(dm_tomtom_work *w, const dm_tomtom_db *db, int wq_max) {
    memset(w, 0, sizeof *w);
    w->wq_max = wq_max;
    w->width_slot = malloc(sizeof(int) * ((size_t)db->wt_max + 1));
    w->widths = malloc(sizeof(int) * ((size_t)db->wt_max + 1));
    if (w->width_slot && w->widths) {
        for (int k = 0; k <= db->wt_max; k++) w->width_slot[k] = -1;
        for (int t = 0; t < db->n; t++) w->width_slot[db->w[t]] = 0;
        for (int k = 0; k <= db->wt_max; k++)
            if (w->width_slot[k] == 0) {
                w->width_slot[k] = w->n_widths;
                w->widths[w->n_widths++] = k;
            }
    }
    int span_max = wq_max < db->wt_max ? wq_max : db->wt_max;
    size_t k_all = (size_t)wq_max * DM_TOMTOM_BINS + 1, k_span = (size_t)span_max * DM_TOMTOM_BINS + 2; /* + 1: tail sums */
    w->g = malloc(sizeof(int16_t) * 2 * (size_t)wq_max * (size_t)db->n_cols);
    w->zbuf = malloc(sizeof(float) * 2 * (size_t)db->n_cols);
    w->f = malloc(sizeof(double) * (size_t)wq_max * NB);
    w->pmf = malloc(sizeof(double) * k_span);
    w->tmp = malloc(sizeof(double) * k_span);
    w->ls = malloc(sizeof(double) * k_all);
    w->logcdf = malloc(sizeof(double) * k_all * (size_t)(w->n_widths > 0 ? w->n_widths : 1));
    w->diag = malloc(sizeof(int) * ((size_t)wq_max + (size_t)db->wt_max));
    if (!w->widths || !w->width_slot || !w->g || !w->zbuf || !w->f || !w->pmf || !w->tmp || !w->ls ||
        !w->logcdf || !w->diag) {
        dm_tomtom_work_free(w);
        return dm_error(DM_STATUS_NOMEM, "compare: out of memory for TOMTOM's null (query width %d)", wq_max);
    }
    return DM_STATUS_OK;
}

/* ---- median shift and discretisation ---------------------------------------------------------- */

/* The k-th smallest of a[0, n) (0-based), reordering a: Hoare's selection, median-of-three pivots. */
static float select_kth(float *a, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        float x = a[lo], y = a[mid], z = a[hi];
        float piv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < piv) i++;
            while (a[j] > piv) j--;
            if (i <= j) {
                float t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}

void dm_tomtom_discretise(dm_tomtom_work *w, const float *sim, int wq, int n_cols) {
    int n = 2 * n_cols;
    size_t stride = 2 * (size_t)wq;
    double z_min = INFINITY, z_max = -INFINITY;
    double *med = w->ls; /* (wq) medians: ls is free until dm_tomtom_query */
    for (int i = 0; i < wq; i++) {
        /* Query column i sits at position wq − 1 − i of each half of a sim row. */
        const float *col = sim + (wq - 1 - i);
        float lo = INFINITY, hi = -INFINITY;
        for (int c = 0; c < n_cols; c++) {
            float a = col[(size_t)c * stride], b = col[(size_t)c * stride + wq];
            w->zbuf[2 * c] = a;
            w->zbuf[2 * c + 1] = b;
            lo = a < lo ? a : lo;
            lo = b < lo ? b : lo;
            hi = a > hi ? a : hi;
            hi = b > hi ? b : hi;
        }
        /* tomtom's 0.5 quantile of an even count: the lower median, element n/2 − 1 in order. */
        med[i] = select_kth(w->zbuf, n, n / 2 - 1);
        z_min = lo - med[i] < z_min ? lo - med[i] : z_min;
        z_max = hi - med[i] > z_max ? hi - med[i] : z_max;
    }
    int i_min = (int)floor(z_min);
    double range = z_max - i_min;
    w->scale = (int)floor(DM_TOMTOM_BINS / (range > 1 ? range : 1.0));
    w->zero = -i_min * w->scale;
    memset(w->f, 0, sizeof(double) * (size_t)wq * NB);
    for (int c = 0; c < n_cols; c++)
        for (int h = 0; h < 2; h++)
            for (int r = 0; r < wq; r++) {
                int i = wq - 1 - r;
                size_t at = (size_t)c * stride + (size_t)h * wq + r;
                double v = floor((sim[at] - med[i] - i_min) * w->scale + 0.5);
                int gi = v < 0 ? 0 : v > DM_TOMTOM_BINS ? DM_TOMTOM_BINS : (int)v; /* rounding guard */
                w->g[at] = (int16_t)gi;
                w->f[(size_t)i * NB + gi] += 1.0;
            }
    for (size_t k = 0; k < (size_t)wq * NB; k++) w->f[k] /= n;
}

/* ---- the null --------------------------------------------------------------------------------- */

void dm_tomtom_convolve(const double *pmf, int n, const double *f, double *out) {
    memset(out, 0, sizeof(double) * (size_t)(n + DM_TOMTOM_BINS));
    for (int b = 0; b < NB; b++) {
        double fb = f[b];
        if (fb == 0) continue;
        double *o = out + b;
        for (int k = 0; k < n; k++) o[k] += pmf[k] * fb;
    }
}

/* How often span [s, e] is one strand's alignment with a target of width wt (file comment), 0 when
 * its length is below the overlap floor min(min_overlap, wq, wt). */
static int span_uses(int s, int e, int wq, int wt, int min_overlap) {
    int n = e - s + 1, ov = min_overlap < wq ? min_overlap : wq;
    ov = ov < wt ? ov : wt;
    if (n < ov) return 0;
    if (s > 0 && e < wq - 1) return wt == n;
    if (s > 0 || e < wq - 1) return wt >= n;
    return wt >= wq ? wt - wq + 1 : 0;
}

/* ls[k] = log P(S < k) for k in [0, wq · BINS], S = (span sum ~ pmf over [0, n)) + shift. The head
 * sum gives the logarithm where P(S < k) < 1/2, log1p of minus the tail sum elsewhere, so neither
 * a probability near 1 nor a tail far below 1e-16 loses its digits. */
static void span_logcdf(const double *pmf, int n, int shift, int k_all, double *head_tail, double *ls) {
    double *tail = head_tail; /* tail[j] = P(sum ≥ j), j in [0, n] */
    tail[n] = 0;
    for (int j = n - 1; j >= 0; j--) tail[j] = tail[j + 1] + pmf[j];
    double head = 0; /* P(sum < j) */
    for (int k = 0; k < k_all; k++) {
        int j = k - shift;
        if (j <= 0) {
            ls[k] = -INFINITY;
            continue;
        }
        if (j >= n) {
            ls[k] = 0;
            continue;
        }
        head += pmf[j - 1];
        ls[k] = head < 0.5 ? log(head) : log1p(-tail[j]);
    }
}

/* Fills w->logcdf: per target width, log P(M < k) for the best complete score M over its
 * alignments on both strands. */
static void null_tables(dm_tomtom_work *w, int wq, int wt_max, int min_overlap) {
    int k_all = wq * DM_TOMTOM_BINS + 1, span_max = wq < wt_max ? wq : wt_max;
    memset(w->logcdf, 0, sizeof(double) * (size_t)k_all * (size_t)w->n_widths);
    for (int s = 0; s < wq; s++) {
        w->pmf[0] = 1;
        int n = 1; /* the running span's sum takes values [0, n) */
        for (int e = s; e < wq && e - s < span_max; e++) {
            dm_tomtom_convolve(w->pmf, n, w->f + (size_t)e * NB, w->tmp);
            n += DM_TOMTOM_BINS;
            double *t = w->pmf;
            w->pmf = w->tmp;
            w->tmp = t;
            bool any = false;
            for (int j = 0; j < w->n_widths && !any; j++) any = span_uses(s, e, wq, w->widths[j], min_overlap);
            if (!any) continue;
            /* tmp (the previous span) is free: it holds the tail sums. */
            span_logcdf(w->pmf, n, (wq - (e - s + 1)) * w->zero, k_all, w->tmp, w->ls);
            for (int j = 0; j < w->n_widths; j++) {
                int m = span_uses(s, e, wq, w->widths[j], min_overlap);
                if (!m) continue;
                double *lc = w->logcdf + (size_t)j * k_all, mult = 2.0 * m;
                for (int k = 0; k < k_all; k++) lc[k] += mult * w->ls[k];
            }
        }
    }
}

/* ---- observed alignments ---------------------------------------------------------------------- */

/* Diagonal sums of one strand's integer scores: diag[o + wq − 1] = Σ g over the columns aligned at
 * offset o (the layout of compare.c's strand_diagonals). */
static void int_diagonals(const int16_t *g, int wq, int col0, int wt, int minus, int *diag) {
    memset(diag, 0, sizeof(int) * (size_t)(wq + wt - 1));
    for (int j = 0; j < wt; j++) {
        /* Target column j is pool column col0 + j (+), or the complement of col0 + wt − 1 − j (−). */
        const int16_t *row = g + (size_t)(col0 + (minus ? wt - 1 - j : j)) * 2 * wq + (minus ? wq : 0);
        int *d = diag + j;
        for (int r = 0; r < wq; r++) d[r] += row[r];
    }
}

void dm_tomtom_query(dm_tomtom_work *w, const dm_tomtom_db *db, int wq, int min_overlap, dm_hit *all) {
    null_tables(w, wq, db->wt_max, min_overlap);
    int k_all = wq * DM_TOMTOM_BINS + 1;
    for (int t = 0; t < db->n; t++) {
        int wt = db->w[t], ov = min_overlap < wq ? min_overlap : wq;
        ov = ov < wt ? ov : wt;
        int best = -1, best_n = 0, best_o = 0, best_minus = 0;
        for (int minus = 0; minus < 2; minus++) {
            int_diagonals(w->g, wq, db->col0[t], wt, minus, w->diag);
            for (int o = -(wq - ov); o <= wt - ov; o++) {
                int lo = o < 0 ? -o : 0, hi = wq < wt - o ? wq : wt - o, n = hi - lo;
                int sc = w->diag[o + wq - 1] + (wq - n) * w->zero;
                /* Higher score, then larger overlap; the '+' strand and the smaller |offset|
                 * (negative first) by the order of the loops and the strict comparisons. */
                bool better = sc > best || (sc == best && n > best_n) ||
                              (sc == best && n == best_n && minus == best_minus && abs(o) < abs(best_o));
                if (better) {
                    best = sc;
                    best_n = n;
                    best_o = o;
                    best_minus = minus;
                }
            }
        }
        dm_hit *h = &all[t];
        h->offset = best_o;
        h->orient = best_minus ? '-' : '+';
        h->overlap = best_n;
        h->score = (double)(best - wq * w->zero) / w->scale;
        double lc = w->logcdf[(size_t)w->width_slot[wt] * k_all + best];
        h->pvalue = -expm1(lc);
    }
}
