/*
 * metrics.c: the evaluation metrics of SPEC.md §5: AUROC, AUPRC (average precision) and accuracy of
 * P(pos) scores against 0/1 labels.
 *
 * AUROC is the Mann–Whitney statistic: the probability that a random positive scores above a random
 * negative, ties counting 1/2,
 *   AUROC = Σ_pos ( #neg below + ½ #neg tied ) / (n_pos · n_neg),
 * which is the rank-sum (R_pos − n_pos(n_pos+1)/2) / (n_pos n_neg) with average ranks for ties. The
 * rows are sorted once by score (O(n log n)) and walked group by group, a group being one distinct
 * score; unlike the original's step-curve walk (SPEC.md §5) the result does not depend on how the
 * sort orders tied scores.
 *
 * AUPRC is average precision, exactly scikit-learn's average_precision_score: walking the distinct
 * scores in descending order, threshold k admits every row with score ≥ s_k (a tied group enters at
 * once), and
 *   AP = Σ_k (R_k − R_{k−1}) · P_k,   P_k = TP_k / (TP_k + FP_k),  R_k = TP_k / n_pos,  R_0 = 0.
 *
 * Rows whose label is neither 0 nor 1 (DM_LABEL_UNKNOWN, or any other value, which is a caller's
 * programming error) are ignored by all three metrics, so a partially labelled set can be scored
 * as is. A NaN score makes the ranking undefined: dm_auroc and dm_auprc then return NaN, and
 * dm_accuracy counts that row as wrong. All sums are accumulated in double (counts in int64).
 * The functions return a value, not a status: an allocation failure returns NaN and is recorded in
 * dm_last_error() as DM_STATUS_NOMEM; a NULL score or label array with n > 0 returns NaN and is
 * recorded as DM_STATUS_ARG (dm_metric_undefined then says so).
 *
 * Undefined values: AUROC needs both classes (one sequence, or only bound, or only unbound
 * sequences, leave it undefined), AUPRC needs a bound sequence (with bound sequences only it is 1,
 * as scikit-learn has it), accuracy needs one labelled row; a NaN score leaves AUROC and AUPRC
 * undefined. dm_metric_undefined says which of these holds, for the messages of the callers.
 *
 * dm_auroc_paired is DeLong's test of two AUROCs on the same rows. The placement value of a positive
 * is the fraction of negatives it outscores (ties ½), V10; of a negative, the fraction of positives
 * that outscore it, V01; each model's AUROC is the mean of either. With S10 and S01 the 2 × 2 sample
 * covariances (n − 1) of the two models' placements over the positives and over the negatives,
 *   var(auroc_a − auroc_b) = (S10_aa + S10_bb − 2 S10_ab) / n_pos + (S01_aa + S01_bb − 2 S01_ab) / n_neg.
 * The placements come from the same sorted walk as the AUROC (O(n log n) per model).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "dm_internal.h"

/* One labelled row, as sorted. */
typedef struct dm_scored {
    float score;
    int8_t label;   /* 0 or 1 */
} dm_scored;

/* Ascending by score; -0.0 and 0.0 compare equal and so fall into one tied group. */
static int dm_scored_cmp(const void *pa, const void *pb) {
    float a = ((const dm_scored *)pa)->score, b = ((const dm_scored *)pb)->score;
    return (a > b) - (a < b);
}

/* Copies the rows labelled 0/1 into a new array sorted ascending by score, and counts the classes.
 * Returns NULL with *m = 0 when there is nothing to rank (no rows, or a NaN score: *nan_seen set),
 * or on allocation failure (recorded). */
static dm_scored *dm_sorted_rows(const float *score, const int8_t *label, int64_t n, int64_t *m,
                                 int64_t *n_pos, int64_t *n_neg, int *nan_seen) {
    *m = *n_pos = *n_neg = 0;
    *nan_seen = 0;
    if (n <= 0) return NULL;
    if (!score || !label) {
        dm_error(DM_STATUS_ARG, "metrics: %lld rows but no %s array (NULL)", (long long)n, score ? "label" : "score");
        return NULL;
    }
    dm_scored *rows = malloc((size_t)n * sizeof *rows);
    if (!rows) {
        dm_error(DM_STATUS_NOMEM, "metrics: out of memory for %lld rows", (long long)n);
        return NULL;
    }
    // keep labelled rows only; count each class
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (label[i] != 0 && label[i] != 1) continue;
        if (isnan(score[i])) *nan_seen = 1;
        rows[k].score = score[i];
        rows[k].label = label[i];
        *n_pos += label[i];
        k++;
    }
    *n_neg = k - *n_pos;
    if (k == 0 || *nan_seen) {
        free(rows);
        return NULL;
    }
    qsort(rows, (size_t)k, sizeof *rows, dm_scored_cmp);
    *m = k;
    return rows;
}

double dm_auroc(const float *score, const int8_t *label, int64_t n) {
    int64_t m, n_pos, n_neg;
    int nan_seen;
    dm_scored *rows = dm_sorted_rows(score, label, n, &m, &n_pos, &n_neg, &nan_seen);
    if (!rows) return NAN;
    if (n_pos == 0 || n_neg == 0) {
        free(rows);
        return NAN;
    }
    // ascending walk over tied groups: each positive in a group beats every negative below it and
    // half-beats each negative tied with it; 2·wins stays an integer, summed in double
    double twice_wins = 0;
    int64_t neg_below = 0;
    for (int64_t i = 0; i < m;) {
        int64_t j = i, pos_g = 0;
        while (j < m && rows[j].score == rows[i].score) pos_g += rows[j++].label;
        int64_t neg_g = (j - i) - pos_g;
        twice_wins += (double)pos_g * (double)(2 * neg_below + neg_g);
        neg_below += neg_g;
        i = j;
    }
    free(rows);
    return twice_wins / (2.0 * (double)n_pos * (double)n_neg);
}

double dm_auprc(const float *score, const int8_t *label, int64_t n) {
    int64_t m, n_pos, n_neg;
    int nan_seen;
    dm_scored *rows = dm_sorted_rows(score, label, n, &m, &n_pos, &n_neg, &nan_seen);
    if (!rows) return NAN;
    if (n_pos == 0) {
        free(rows);
        return NAN;
    }
    // descending walk: each tied group is one threshold; recall only moves when TP grows
    double ap = 0, recall_prev = 0;
    int64_t tp = 0, fp = 0;
    for (int64_t j = m; j > 0;) {
        int64_t i = j - 1;
        while (i > 0 && rows[i - 1].score == rows[j - 1].score) i--;
        for (int64_t r = i; r < j; r++) {
            tp += rows[r].label;
            fp += 1 - rows[r].label;
        }
        double recall = (double)tp / (double)n_pos;
        double precision = (double)tp / (double)(tp + fp);
        ap += (recall - recall_prev) * precision;
        recall_prev = recall;
        j = i;
    }
    free(rows);
    return ap;
}

double dm_accuracy(const float *score, const int8_t *label, int64_t n) {
    if (n > 0 && (!score || !label)) {
        dm_error(DM_STATUS_ARG, "metrics: %lld rows but no %s array (NULL)", (long long)n, score ? "label" : "score");
        return NAN;
    }
    // predicted class 1 iff score ≥ 0.5; a NaN score predicts neither class
    int64_t counted = 0, correct = 0;
    for (int64_t i = 0; i < n; i++) {
        if (label[i] != 0 && label[i] != 1) continue;
        counted++;
        if (isnan(score[i])) continue;
        correct += (score[i] >= 0.5f) == (label[i] == 1);
    }
    return counted > 0 ? (double)correct / (double)counted : NAN;
}

const char *dm_metric_undefined(const float *score, const int8_t *label, int64_t n, dm_metric metric) {
    int64_t n_pos = 0, n_neg = 0;
    bool nan_seen = false;
    if (n > 0 && (!score || !label)) return "no scores or labels were given (a NULL array)";
    for (int64_t i = 0; i < n; i++) {
        if (label[i] != 0 && label[i] != 1) continue;
        n_pos += label[i] == 1;
        n_neg += label[i] == 0;
        nan_seen |= isnan(score[i]);
    }
    if (n_pos + n_neg == 0) return n > 0 ? "the data hold no labelled sequences" : "the data hold no sequences";
    if (metric == DM_METRIC_ACCURACY) return NULL;
    if (n_pos + n_neg == 1 && metric == DM_METRIC_AUROC)
        return n_pos ? "the data hold one sequence (bound); AUROC needs bound and unbound ones"
                     : "the data hold one sequence (unbound); AUROC needs bound and unbound ones";
    if (n_pos == 0) return "the data hold only unbound sequences";
    if (n_neg == 0 && metric == DM_METRIC_AUROC) return "the data hold only bound sequences";
    if (nan_seen) return "a score is NaN (the model's output is not finite)";
    return NULL;
}

/* One labelled row for the placements: its score, its row number. */
typedef struct dm_keyed {
    float score;
    int64_t row;
} dm_keyed;

static int dm_keyed_cmp(const void *pa, const void *pb) {
    float a = ((const dm_keyed *)pa)->score, b = ((const dm_keyed *)pb)->score;
    return (a > b) - (a < b);
}

/* Placement values of one model's scores (see the top): v10[k] for the k-th positive row in row
 * order, v01[k] for the k-th negative; rows labelled neither are skipped. `keys` has room for the
 * labelled rows, `cls_rank` for n. Scores are free of NaN (the caller checks). */
static void dm_placements(const float *score, const int8_t *label, int64_t n, int64_t n_pos, int64_t n_neg,
                          dm_keyed *keys, int64_t *cls_rank, double *v10, double *v01) {
    int64_t k = 0, kp = 0, kn = 0;
    for (int64_t i = 0; i < n; i++) {
        if (label[i] != 0 && label[i] != 1) continue;
        cls_rank[i] = label[i] ? kp++ : kn++;
        keys[k++] = (dm_keyed){score[i], i};
    }
    qsort(keys, (size_t)k, sizeof *keys, dm_keyed_cmp);
    // ascending over tied groups: a positive outscores the negatives below its group and half of
    // those in it; a negative is outscored by the positives above its group and half of those in it
    int64_t neg_below = 0, pos_below = 0;
    for (int64_t a = 0; a < k;) {
        int64_t b = a, pos_g = 0;
        while (b < k && keys[b].score == keys[a].score) pos_g += label[keys[b++].row];
        int64_t neg_g = (b - a) - pos_g, pos_above = n_pos - pos_below - pos_g;
        for (int64_t c = a; c < b; c++) {
            int64_t i = keys[c].row;
            if (label[i]) v10[cls_rank[i]] = ((double)neg_below + 0.5 * (double)neg_g) / (double)n_neg;
            else v01[cls_rank[i]] = ((double)pos_above + 0.5 * (double)pos_g) / (double)n_pos;
        }
        neg_below += neg_g;
        pos_below += pos_g;
        a = b;
    }
}

/* Sample covariance (n − 1) of x and y over n ≥ 2 values, two-pass. */
static double dm_cov(const double *x, const double *y, int64_t n) {
    double mx = 0, my = 0, c = 0;
    for (int64_t i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= (double)n;
    my /= (double)n;
    for (int64_t i = 0; i < n; i++) c += (x[i] - mx) * (y[i] - my);
    return c / (double)(n - 1);
}

static double dm_mean(const double *x, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m += x[i];
    return m / (double)n;
}

dm_status dm_auroc_paired(const float *a, const float *b, const int8_t *label, int64_t n, dm_auroc_pair *out) {
    if (!out || (n > 0 && (!a || !b || !label)))
        return dm_error(DM_STATUS_ARG, "dm_auroc_paired: a NULL %s", !out ? "result" : !label ? "label array"
                                                                                   : "score array");
    int64_t n_pos = 0, n_neg = 0;
    for (int64_t i = 0; i < n; i++) {
        if (label[i] != 0 && label[i] != 1) continue;
        if (isnan(a[i]) || isnan(b[i]))
            return dm_error(DM_STATUS_ARG, "row %lld has a NaN score: the paired test needs finite scores",
                            (long long)i + 1);
        n_pos += label[i] == 1;
        n_neg += label[i] == 0;
    }
    if (n_pos < 2 || n_neg < 2)
        return dm_error(DM_STATUS_ARG, "the paired test needs at least 2 bound and 2 unbound sequences (%lld and "
                        "%lld here)", (long long)n_pos, (long long)n_neg);
    int64_t m = n_pos + n_neg;
    dm_keyed *keys = malloc(sizeof *keys * (size_t)m);
    int64_t *cls_rank = malloc(sizeof(int64_t) * (size_t)n);
    double *v = malloc(sizeof(double) * 2 * (size_t)m);   /* a10 a01 | b10 b01 */
    if (!keys || !cls_rank || !v) {
        free(keys); free(cls_rank); free(v);
        return dm_error(DM_STATUS_NOMEM, "dm_auroc_paired: out of memory for %lld rows", (long long)n);
    }
    double *a10 = v, *a01 = v + n_pos, *b10 = v + m, *b01 = v + m + n_pos;
    dm_placements(a, label, n, n_pos, n_neg, keys, cls_rank, a10, a01);
    dm_placements(b, label, n, n_pos, n_neg, keys, cls_rank, b10, b01);
    dm_auroc_pair r = {.n_pos = n_pos, .n_neg = n_neg, .auroc_a = dm_mean(a10, n_pos), .auroc_b = dm_mean(b10, n_pos)};
    r.diff = r.auroc_a - r.auroc_b;
    double var = (dm_cov(a10, a10, n_pos) + dm_cov(b10, b10, n_pos) - 2 * dm_cov(a10, b10, n_pos)) / (double)n_pos +
                 (dm_cov(a01, a01, n_neg) + dm_cov(b01, b01, n_neg) - 2 * dm_cov(a01, b01, n_neg)) / (double)n_neg;
    free(keys); free(cls_rank); free(v);
    r.se = var > 0 ? sqrt(var) : 0;
    if (r.se > 0) {
        r.z = r.diff / r.se;
        r.p = erfc(fabs(r.z) / sqrt(2.0));
    } else {
        r.z = r.diff == 0 ? 0 : copysign(INFINITY, r.diff);
        r.p = r.diff == 0 ? 1 : 0;
    }
    r.lo = r.diff - 1.959963984540054 * r.se;
    r.hi = r.diff + 1.959963984540054 * r.se;
    *out = r;
    return DM_STATUS_OK;
}
