/*
 * test_metrics.c: AUROC, AUPRC (average precision) and accuracy (host/metrics.c).
 *
 * Small cases are derived by hand in the comments; then random cases with many ties are checked
 * against brute-force definitions: AUROC by counting every (positive, negative) pair (ties ½),
 * and AP by recomputing precision and recall from scratch at every distinct threshold.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "deepmotif.h"
#include "dm_rng.h"
#include "testutil.h"

#define EPS 1e-12

/* Perfect ranking: both positives above both negatives. Every pair is won: AUROC 4/4 = 1.
 * Descending thresholds: 0.9 → TP 1, FP 0, P 1, R ½; 0.8 → P 1, R 1; the negatives add no recall.
 * AP = ½·1 + ½·1 = 1. */
Test(metrics, perfect_ranking) {
    float s[] = {0.9f, 0.8f, 0.7f, 0.6f};
    int8_t y[] = {1, 1, 0, 0};
    cr_assert_float_eq(dm_auroc(s, y, 4), 1.0, EPS);
    cr_assert_float_eq(dm_auprc(s, y, 4), 1.0, EPS);
}

/* Reversed: both negatives above both positives, no pair won: AUROC 0.
 * 0.9 (neg) and 0.8 (neg): TP 0, R 0, no contribution; 0.7 (pos): TP 1, FP 2, P 1/3, R ½ → ½·⅓;
 * 0.6 (pos): TP 2, FP 2, P ½, R 1 → ½·½. AP = 1/6 + 1/4 = 5/12. */
Test(metrics, reversed_ranking) {
    float s[] = {0.9f, 0.8f, 0.7f, 0.6f};
    int8_t y[] = {0, 0, 1, 1};
    cr_assert_float_eq(dm_auroc(s, y, 4), 0.0, EPS);
    cr_assert_float_eq(dm_auprc(s, y, 4), 5.0 / 12.0, EPS);
}

/* scikit-learn's documented example: y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8].
 * Pairs: pos 0.35 beats neg 0.1, loses to neg 0.4; pos 0.8 beats both: AUROC 3/4.
 * Thresholds: 0.8 → TP 1 FP 0, P 1, R ½ → ½; 0.4 → TP 1 FP 1, R unchanged → 0;
 * 0.35 → TP 2 FP 1, P ⅔, R 1 → ½·⅔ = ⅓; 0.1 → R unchanged. AP = 5/6 ≈ 0.8333 (sklearn: 0.83). */
Test(metrics, sklearn_example) {
    float s[] = {0.1f, 0.4f, 0.35f, 0.8f};
    int8_t y[] = {0, 0, 1, 1};
    cr_assert_float_eq(dm_auroc(s, y, 4), 0.75, EPS);
    cr_assert_float_eq(dm_auprc(s, y, 4), 5.0 / 6.0, EPS);
}

/* A positive tied with a negative at 0.5. Pairs (pos, neg): (0.9, 0.5) 1, (0.9, 0.1) 1,
 * (0.5, 0.5) ½, (0.5, 0.1) 1: AUROC 3.5/4 = 0.875.
 * Thresholds: 0.9 → TP 1 FP 0, P 1, R ½ → ½; 0.5 (pos and neg enter together) → TP 2 FP 1,
 * P ⅔, R 1 → ½·⅔ = ⅓; 0.1 → nothing. AP = 5/6. */
Test(metrics, tie_between_classes) {
    float s[] = {0.9f, 0.5f, 0.5f, 0.1f};
    int8_t y[] = {1, 1, 0, 0};
    cr_assert_float_eq(dm_auroc(s, y, 4), 0.875, EPS);
    cr_assert_float_eq(dm_auprc(s, y, 4), 5.0 / 6.0, EPS);
    // the same rows in another order give the same values (ties do not depend on the sort)
    float s2[] = {0.5f, 0.1f, 0.9f, 0.5f};
    int8_t y2[] = {0, 0, 1, 1};
    cr_assert_float_eq(dm_auroc(s2, y2, 4), 0.875, EPS);
    cr_assert_float_eq(dm_auprc(s2, y2, 4), 5.0 / 6.0, EPS);
}

/* Mixed ties, 4 positives and 3 negatives:
 *   0.9 pos | 0.8 neg, pos, pos | 0.5 neg | 0.2 pos, neg
 * Wins per positive (neg below + ½ neg tied): 0.9 → 3; each 0.8 → 2 + ½ = 2.5; 0.2 → 0 + ½.
 * AUROC = (3 + 2.5 + 2.5 + 0.5) / (4·3) = 8.5/12 = 17/24.
 * Thresholds: 0.9 → TP 1 FP 0, P 1, R ¼ → ¼; 0.8 → TP 3 FP 1, P ¾, R ¾ → ½·¾ = 3/8;
 * 0.5 → TP 3 FP 2, R unchanged → 0; 0.2 → TP 4 FP 3, P 4/7, R 1 → ¼·4/7 = 1/7.
 * AP = 1/4 + 3/8 + 1/7 = 14/56 + 21/56 + 8/56 = 43/56. */
Test(metrics, mixed_ties) {
    float s[] = {0.8f, 0.2f, 0.9f, 0.5f, 0.8f, 0.2f, 0.8f};
    int8_t y[] = {0, 1, 1, 0, 1, 0, 1};
    cr_assert_float_eq(dm_auroc(s, y, 7), 17.0 / 24.0, EPS);
    cr_assert_float_eq(dm_auprc(s, y, 7), 43.0 / 56.0, EPS);
}

/* All scores tied: every pair is ½, AUROC ½. One threshold admits everything: P = 2/5, R 1,
 * AP = 2/5 (the prevalence). */
Test(metrics, all_tied) {
    float s[] = {0.3f, 0.3f, 0.3f, 0.3f, 0.3f};
    int8_t y[] = {1, 0, 1, 0, 0};
    cr_assert_float_eq(dm_auroc(s, y, 5), 0.5, EPS);
    cr_assert_float_eq(dm_auprc(s, y, 5), 0.4, EPS);
}

/* A class absent: AUROC undefined either way; AP undefined without positives, and 1 without
 * negatives (every threshold has precision 1). No rows at all: everything NaN. */
Test(metrics, class_absent) {
    float s[] = {0.9f, 0.1f, 0.5f};
    int8_t pos[] = {1, 1, 1}, neg[] = {0, 0, 0};
    cr_assert(isnan(dm_auroc(s, pos, 3)));
    cr_assert(isnan(dm_auroc(s, neg, 3)));
    cr_assert(isnan(dm_auprc(s, neg, 3)));
    cr_assert_float_eq(dm_auprc(s, pos, 3), 1.0, EPS);
    cr_assert(isnan(dm_auroc(s, pos, 0)));
    cr_assert(isnan(dm_auprc(s, pos, 0)));
    cr_assert(isnan(dm_accuracy(s, pos, 0)));
}

/* Rows labelled neither 0 nor 1 are ignored: mixed_ties plus unlabelled rows scoring everywhere
 * gives mixed_ties' values; a set of only unknown labels is like an empty one. */
Test(metrics, unknown_labels_ignored) {
    float s[] = {0.8f, 0.2f, 0.99f, 0.9f, 0.5f, 0.8f, 0.0f, 0.2f, 0.8f, 0.8f};
    int8_t y[] = {0, 1, DM_LABEL_UNKNOWN, 1, 0, 1, DM_LABEL_UNKNOWN, 0, 1, 7};
    cr_assert_float_eq(dm_auroc(s, y, 10), 17.0 / 24.0, EPS);
    cr_assert_float_eq(dm_auprc(s, y, 10), 43.0 / 56.0, EPS);
    int8_t none[] = {-1, -1, -1};
    cr_assert(isnan(dm_auroc(s, none, 3)));
    cr_assert(isnan(dm_accuracy(s, none, 3)));
}

/* A NaN score leaves the ranking undefined: AUROC and AP are NaN. */
Test(metrics, nan_score) {
    float s[] = {0.9f, NAN, 0.1f, 0.4f};
    int8_t y[] = {1, 0, 0, 1};
    cr_assert(isnan(dm_auroc(s, y, 4)));
    cr_assert(isnan(dm_auprc(s, y, 4)));
    // on an ignored row it does not matter
    int8_t y2[] = {1, -1, 0, 1};
    cr_assert_float_eq(dm_auroc(s, y2, 4), 1.0, EPS);
}

/* Scores ≥ 0.5 predict 1. Rows: 0.7/1 right, 0.5/0 wrong (0.5 predicts 1), 0.49/0 right, 0.2/1
 * wrong, NaN/1 wrong, 0.9/−1 ignored: 2 right of 5 = 0.4. */
Test(metrics, accuracy) {
    float s[] = {0.7f, 0.5f, 0.49f, 0.2f, NAN, 0.9f};
    int8_t y[] = {1, 0, 0, 1, 1, -1};
    cr_assert_float_eq(dm_accuracy(s, y, 6), 0.4, EPS);
    float s2[] = {0.6f, 0.4f};
    int8_t y2[] = {1, 0};
    cr_assert_float_eq(dm_accuracy(s2, y2, 2), 1.0, EPS);
}

/* Brute-force AUROC: every (positive, negative) pair, ties ½. */
static double brute_auroc(const float *s, const int8_t *y, int n) {
    double wins = 0, pairs = 0;
    for (int i = 0; i < n; i++) {
        if (y[i] != 1) continue;
        for (int j = 0; j < n; j++) {
            if (y[j] != 0) continue;
            pairs += 1;
            wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
    }
    return pairs > 0 ? wins / pairs : NAN;
}

static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, z = *(const float *)b;
    return (x < z) - (x > z);
}

/* Brute-force AP: for each distinct score t, descending, count TP and FP over all rows with
 * score ≥ t from scratch, and add (R − R_prev)·P. */
static double brute_ap(const float *s, const int8_t *y, int n) {
    float *t = malloc((size_t)n * sizeof *t);
    cr_assert_not_null(t);
    int m = 0, n_pos = 0;
    for (int i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1) continue;
        t[m++] = s[i];
        n_pos += y[i];
    }
    qsort(t, (size_t)m, sizeof *t, cmp_desc);
    double ap = 0, r_prev = 0;
    for (int k = 0; k < m; k++) {
        if (k > 0 && t[k] == t[k - 1]) continue;
        int tp = 0, fp = 0;
        for (int i = 0; i < n; i++) {
            if ((y[i] != 0 && y[i] != 1) || s[i] < t[k]) continue;
            tp += y[i];
            fp += 1 - y[i];
        }
        double r = (double)tp / n_pos, p = (double)tp / (tp + fp);
        ap += (r - r_prev) * p;
        r_prev = r;
    }
    free(t);
    return n_pos > 0 ? ap : NAN;
}

/* Random sets of 1..400 rows: scores on a coarse grid (many ties within and across classes),
 * labels 1 with probability 0.3..0.7, a few unknown labels. */
Test(metrics, random_against_brute_force) {
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 100, 7);
    enum { NMAX = 400 };
    float s[NMAX];
    int8_t y[NMAX];
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + (int)dm_rng_below(&r, NMAX);
        int levels = 1 + (int)dm_rng_below(&r, 30);
        double prev = 0.3 + 0.4 * dm_rng_uniform(&r);
        for (int i = 0; i < n; i++) {
            s[i] = (float)dm_rng_below(&r, (uint32_t)levels) / (float)levels;
            double u = dm_rng_uniform(&r);
            y[i] = u < 0.05 ? DM_LABEL_UNKNOWN : (u < 0.05 + prev * 0.95 ? 1 : 0);
        }
        double a = dm_auroc(s, y, n), b = brute_auroc(s, y, n);
        double p = dm_auprc(s, y, n), q = brute_ap(s, y, n);
        cr_assert(isnan(a) == isnan(b), "trial %d: auroc %g vs %g", trial, a, b);
        cr_assert(isnan(p) == isnan(q), "trial %d: ap %g vs %g", trial, p, q);
        if (!isnan(b)) cr_assert_float_eq(a, b, 1e-12, "trial %d n %d: auroc %.17g vs %.17g",
                                          trial, n, a, b);
        if (!isnan(q)) cr_assert_float_eq(p, q, 1e-12, "trial %d n %d: ap %.17g vs %.17g",
                                          trial, n, p, q);
    }
}

/* A larger all-tied set stays exactly ½ and runs in O(n log n). */
Test(metrics, large_all_tied) {
    enum { N = 200000 };
    float *s = malloc(N * sizeof *s);
    int8_t *y = malloc(N);
    cr_assert(s && y);
    for (int i = 0; i < N; i++) {
        s[i] = 0.25f;
        y[i] = (int8_t)(i % 3 == 0);
    }
    cr_assert_eq(dm_auroc(s, y, N), 0.5);
    cr_assert_float_eq(dm_auprc(s, y, N), (double)((N + 2) / 3) / N, EPS);
    free(s);
    free(y);
}

/* Why a metric is undefined: one class, one sequence, no labels, a NaN score; NULL when defined. */
Test(metrics, undefined_reasons) {
    float s[] = {0.9f, 0.2f, 0.7f};
    int8_t both[] = {1, 0, 1}, pos[] = {1, 1, 1}, neg[] = {0, 0, 0}, none[] = {-1, -1, -1};
    cr_assert_null(dm_metric_undefined(s, both, 3, DM_METRIC_AUROC));
    cr_assert_null(dm_metric_undefined(s, both, 3, DM_METRIC_AUPRC));
    cr_assert_str_eq(dm_metric_undefined(s, pos, 3, DM_METRIC_AUROC), "the data hold only bound sequences");
    cr_assert_null(dm_metric_undefined(s, pos, 3, DM_METRIC_AUPRC));   /* AP is 1 without negatives */
    cr_assert_eq(dm_auprc(s, pos, 3), 1.0);
    cr_assert_str_eq(dm_metric_undefined(s, neg, 3, DM_METRIC_AUROC), "the data hold only unbound sequences");
    cr_assert_str_eq(dm_metric_undefined(s, neg, 3, DM_METRIC_AUPRC), "the data hold only unbound sequences");
    cr_assert(strstr(dm_metric_undefined(s, pos, 1, DM_METRIC_AUROC), "one sequence") != NULL);
    cr_assert_str_eq(dm_metric_undefined(s, none, 3, DM_METRIC_ACCURACY), "the data hold no labelled sequences");
    cr_assert_str_eq(dm_metric_undefined(s, both, 0, DM_METRIC_AUROC), "the data hold no sequences");
    cr_assert_null(dm_metric_undefined(s, neg, 3, DM_METRIC_ACCURACY));
    float bad[] = {0.9f, NAN, 0.1f};
    cr_assert(strstr(dm_metric_undefined(bad, both, 3, DM_METRIC_AUROC), "NaN") != NULL);
    /* every undefined value of the three functions has a reason, every defined one none */
    const int8_t *labels[4] = {both, pos, neg, none};
    for (int l = 0; l < 4; l++)
        for (int64_t n = 0; n <= 3; n++) {
            cr_assert_eq(isnan(dm_auroc(s, labels[l], n)), dm_metric_undefined(s, labels[l], n, DM_METRIC_AUROC) != NULL);
            cr_assert_eq(isnan(dm_auprc(s, labels[l], n)), dm_metric_undefined(s, labels[l], n, DM_METRIC_AUPRC) != NULL);
            cr_assert_eq(isnan(dm_accuracy(s, labels[l], n)),
                         dm_metric_undefined(s, labels[l], n, DM_METRIC_ACCURACY) != NULL);
        }
}

/* ---- DeLong's paired test (dm_auroc_paired) ------------------------------------------------------ */

/* The test's quantities from their definitions: each placement by counting every pair (ties ½), the
 * covariances by the textbook two-pass formula, all in double. */
static void delong_brute(const float *a, const float *b, const int8_t *y, int n, double *auc_a, double *auc_b,
                         double *var) {
    int np = 0, nn = 0;
    for (int i = 0; i < n; i++) np += y[i] == 1, nn += y[i] == 0;
    double *p = malloc(sizeof(double) * 2 * (size_t)(np + nn)), *q = p + np + nn;  /* p: a; q: b */
    const float *s[2] = {a, b};
    for (int m = 0; m < 2; m++) {
        double *v = m ? q : p;
        int k10 = 0, k01 = np;
        for (int i = 0; i < n; i++) {
            if (y[i] != 0 && y[i] != 1) continue;
            double w = 0;
            for (int j = 0; j < n; j++) {
                if (y[j] != 1 - y[i]) continue;
                float hi = y[i] ? s[m][i] : s[m][j], lo = y[i] ? s[m][j] : s[m][i];
                w += hi > lo ? 1 : hi == lo ? 0.5 : 0;
            }
            if (y[i]) v[k10++] = w / nn;
            else v[k01++] = w / np;
        }
    }
    double ma = 0, mb = 0;
    for (int i = 0; i < np; i++) ma += p[i], mb += q[i];
    *auc_a = ma / np;
    *auc_b = mb / np;
    double v10 = 0, v01 = 0, m01a = 0, m01b = 0;
    for (int i = 0; i < nn; i++) m01a += p[np + i], m01b += q[np + i];
    m01a /= nn;
    m01b /= nn;
    for (int i = 0; i < np; i++) {
        double d = (p[i] - *auc_a) - (q[i] - *auc_b);
        v10 += d * d;
    }
    for (int i = 0; i < nn; i++) {
        double d = (p[np + i] - m01a) - (q[np + i] - m01b);
        v01 += d * d;
    }
    *var = v10 / (np - 1) / np + v01 / (nn - 1) / nn;
    free(p);
}

/* Random sets with many ties (scores on a few levels, the second model correlated with the first)
 * and some unlabelled rows: every field against the brute force. The sums differ in order only:
 * 1e-9 relative is far above double rounding over a few hundred terms and far below any real error. */
Test(metrics, paired_against_brute_force) {
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 100, 11);
    enum { NMAX = 300 };
    float a[NMAX], b[NMAX];
    int8_t y[NMAX];
    for (int t = 0; t < 200; t++) {
        int n = 4 + (int)dm_rng_below(&r, NMAX - 4), levels = 2 + (int)dm_rng_below(&r, 20);
        for (int i = 0; i < n; i++) {
            double u = dm_rng_uniform(&r);
            y[i] = u < 0.05 ? DM_LABEL_UNKNOWN : u < 0.5 ? 1 : 0;
            a[i] = (float)dm_rng_below(&r, (uint32_t)levels) / (float)levels + (y[i] == 1 ? 0.2f : 0);
            b[i] = dm_rng_uniform(&r) < 0.7 ? a[i] : (float)dm_rng_below(&r, (uint32_t)levels) / (float)levels;
        }
        int np = 0, nn = 0;
        for (int i = 0; i < n; i++) np += y[i] == 1, nn += y[i] == 0;
        dm_auroc_pair pr;
        dm_status st = dm_auroc_paired(a, b, y, n, &pr);
        if (np < 2 || nn < 2) {
            cr_expect_eq(st, DM_STATUS_ARG, "n %d: %d positives, %d negatives", n, np, nn);
            continue;
        }
        cr_assert_eq(st, DM_STATUS_OK, "%s", dm_last_error());
        double auc_a, auc_b, var;
        delong_brute(a, b, y, n, &auc_a, &auc_b, &var);
        cr_expect(pr.n_pos == np && pr.n_neg == nn);
        cr_expect(fabs(pr.auroc_a - auc_a) <= 1e-9 && fabs(pr.auroc_b - auc_b) <= 1e-9, "case %d", t);
        cr_expect(fabs(pr.auroc_a - dm_auroc(a, y, n)) <= 1e-9, "case %d: the AUROC of dm_auroc", t);
        cr_expect(fabs(pr.diff - (auc_a - auc_b)) <= 1e-9, "case %d", t);
        cr_expect(fabs(pr.se * pr.se - var) <= 1e-9 * fmax(var, 1e-12), "case %d: var %.17g, brute %.17g", t,
                  pr.se * pr.se, var);
        if (pr.se > 0) {
            cr_expect(fabs(pr.z - pr.diff / pr.se) <= 1e-9 * fabs(pr.z) + 1e-12);
            cr_expect(fabs(pr.p - erfc(fabs(pr.z) / sqrt(2.0))) <= 1e-12);
            cr_expect(fabs((pr.hi - pr.lo) / (2 * 1.959963984540054) - pr.se) <= 1e-12);
        }
        // the same pair the other way round: the difference and z change sign, nothing else
        dm_auroc_pair rv;
        cr_assert_eq(dm_auroc_paired(b, a, y, n, &rv), DM_STATUS_OK);
        cr_expect(rv.diff == -pr.diff && rv.se == pr.se && rv.p == pr.p, "case %d: swapped", t);
    }
}

/* The standard error against a paired bootstrap (positives and negatives resampled separately, the
 * two models' scores of a row kept together): 2,000 replicates estimate an SD to about 1.6 %
 * (1/√(2·2000)), and DeLong's asymptotic variance differs from the bootstrap's by O(1/n) at n = 600:
 * 10 % allows both and still fails a variance that drops the covariance term (here about 1.8× too
 * large: the models share most of their signal). */
Test(metrics, paired_se_against_bootstrap) {
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 100, 12);
    enum { N = 600, REPS = 2000 };
    static float a[N], b[N], ra[N], rb[N];
    static int8_t y[N], ry[N];
    for (int i = 0; i < N; i++) {
        y[i] = i < N / 2;
        double common = dm_rng_uniform(&r) + dm_rng_uniform(&r) + dm_rng_uniform(&r);
        a[i] = (float)(common + 0.8 * y[i] + dm_rng_uniform(&r));
        b[i] = (float)(common + 0.7 * y[i] + dm_rng_uniform(&r));
    }
    dm_auroc_pair pr;
    cr_assert_eq(dm_auroc_paired(a, b, y, N, &pr), DM_STATUS_OK);
    double sum = 0, sum2 = 0;
    for (int t = 0; t < REPS; t++) {
        for (int i = 0; i < N; i++) {
            int j = i < N / 2 ? (int)dm_rng_below(&r, N / 2) : N / 2 + (int)dm_rng_below(&r, N / 2);
            ra[i] = a[j], rb[i] = b[j], ry[i] = y[j];
        }
        double d = dm_auroc(ra, ry, N) - dm_auroc(rb, ry, N);
        sum += d, sum2 += d * d;
    }
    double sd = sqrt((sum2 - sum * sum / REPS) / (REPS - 1));
    cr_expect(fabs(pr.se / sd - 1) < 0.10, "DeLong SE %.5f, bootstrap SD %.5f", pr.se, sd);
}

/* Identical scores: no difference and no variance (z 0, p 1); a NaN score or a missing class is
 * refused with DM_STATUS_ARG and leaves the result alone. */
Test(metrics, paired_degenerate) {
    float a[] = {0.9f, 0.8f, 0.3f, 0.2f, 0.5f, 0.5f};
    int8_t y[] = {1, 1, 0, 0, 1, 0};
    dm_auroc_pair pr;
    cr_assert_eq(dm_auroc_paired(a, a, y, 6, &pr), DM_STATUS_OK);
    cr_expect(pr.diff == 0 && pr.se == 0 && pr.z == 0 && pr.p == 1 && pr.lo == 0 && pr.hi == 0);
    cr_expect_float_eq(pr.auroc_a, dm_auroc(a, y, 6), EPS);
    dm_auroc_pair keep = pr;
    float nan_a[] = {0.9f, NAN, 0.3f, 0.2f, 0.5f, 0.5f};
    cr_expect_eq(dm_auroc_paired(a, nan_a, y, 6, &pr), DM_STATUS_ARG);
    cr_expect(strstr(dm_last_error(), "row 2 has a NaN score") != NULL, "%s", dm_last_error());
    int8_t one_pos[] = {1, 0, 0, 0, 0, 0};
    cr_expect_eq(dm_auroc_paired(a, a, one_pos, 6, &pr), DM_STATUS_ARG);
    cr_expect(strstr(dm_last_error(), "(1 and 5 here)") != NULL, "%s", dm_last_error());
    cr_expect(memcmp(&pr, &keep, sizeof pr) == 0, "a refused call changed the result");
    cr_expect_eq(dm_auroc_paired(NULL, a, y, 6, &pr), DM_STATUS_ARG);
}
