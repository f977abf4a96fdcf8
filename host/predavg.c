/*
 * predavg.c: predictions that average (issue 15): a model's score on both strands (--rc average)
 * and an ensemble's mean over its members (--ensemble), for every command that scores sequences;
 * the reverse-complement data sets that training (--rc augment) and prediction use.
 *
 * One definition of a score, used by predict, eval, train's test and validation scores, the
 * dashboard and scan: with M members and P_k(s) member k's P(bound) of sequence s,
 *   Pf(s) = (Σ_k P_k(s)) / M   (summed in member order in double, then rounded to float),
 *   score(s) = Pf(s) without rc averaging, 0.5f · (Pf(s) + Pf(rc(s))) with it.
 * IEEE addition is commutative, so score(s) == score(rc(s)) bit for bit when the two strands are
 * scored in batches of the same content (tests/test_rc.c). The mean is over probabilities, not
 * logits: the score stays the P(bound) every command reports, the dashboard's and eval's metrics
 * are those of that P, and scan's --combine mean (which averaged P before this) agrees with it.
 *
 * rc(s) of a row reverses and complements its first seq_len bases (A<->T, C<->G, N stays N) and
 * keeps the right padding where it is, so rc(rc(s)) == s and a short sequence's reverse complement
 * is the reverse complement of the sequence read, not of its padding.
 */
#include <stdlib.h>
#include <string.h>

#include "predavg.h"

static const uint8_t comp_code[6] = {DM_BASE_T, DM_BASE_G, DM_BASE_C, DM_BASE_A, DM_BASE_N, DM_BASE_PAD};

/* ---- the model's prediction setup -------------------------------------------------------------- */

uint32_t dm_net_rc(dm_net *m) { return dm_net_pred_of(m)->rc; }

int32_t dm_net_n_members(dm_net *m) {
    const dm_net_pred *p = dm_net_pred_of(m);
    return p->members ? p->n_members : 1;
}

dm_status dm_net_set_members(dm_net *m, const float *params, int32_t n) {
    DM_CHECK_ARG(n >= 1 && params, "ensemble: %d members%s", (int)n, params ? "" : " without weights");
    dm_net_pred *p = dm_net_pred_of(m);
    int64_t np = dm_net_n_params(m);
    free(p->members);
    p->members = NULL;
    p->n_members = 1;
    if (n == 1) return dm_net_set_params(m, params);
    size_t count = (size_t)n * (size_t)(np > 0 ? np : 1);
    if (!(p->members = malloc(sizeof(float) * count)))
        return dm_error(DM_STATUS_NOMEM, "ensemble: out of memory for %d members", (int)n);
    memcpy(p->members, params, sizeof(float) * (size_t)n * (size_t)np);
    p->n_members = n;
    return dm_net_set_params(m, p->members);
}

dm_status dm_net_use_member(dm_net *m, int32_t k) {
    dm_net_pred *p = dm_net_pred_of(m);
    DM_CHECK_ARG(k >= 0 && k < dm_net_n_members(m), "ensemble: member %d of %d", (int)k, (int)dm_net_n_members(m));
    if (!p->members) return DM_STATUS_OK;
    return dm_net_set_params(m, p->members + (size_t)k * (size_t)dm_net_n_params(m));
}

/* ---- reverse complements ----------------------------------------------------------------------- */

void dm_revcomp_row(uint8_t *dst, const uint8_t *src, int32_t len, int32_t used) {
    if (used < 0 || used > len) used = len;
    for (int32_t j = 0; j < used; j++) {
        uint8_t c = src[used - 1 - j];
        dst[j] = comp_code[c < 6 ? c : DM_BASE_N];
    }
    if (dst != src || used < len) memmove(dst + used, src + used, (size_t)(len - used));
}

void dm_revcomp_map_back(float *dst, const float *src, int32_t len, int32_t used) {
    if (used < 0 || used > len) used = len;
    for (int32_t j = 0; j < used; j++)
        for (int c = 0; c < 4; c++) dst[(size_t)(used - 1 - j) * 4 + (size_t)(3 - c)] = src[(size_t)j * 4 + c];
    memcpy(dst + (size_t)used * 4, src + (size_t)used * 4, sizeof(float) * 4 * (size_t)(len - used));
}

static int32_t row_used(const dm_dataset *ds, int64_t i) { return ds->seq_len ? ds->seq_len[i] : ds->len; }

dm_status dm_dataset_revcomp(const dm_dataset *ds, dm_dataset *rc) {
    memset(rc, 0, sizeof *rc);
    DM_TRY(dm_dataset_check(ds, "reverse complement"));
    *rc = *ds;
    rc->id = NULL;
    rc->seq = NULL;
    if (ds->n == 0) return DM_STATUS_OK;
    if (!(rc->seq = malloc((size_t)ds->n * (size_t)ds->len)))
        return dm_error(DM_STATUS_NOMEM, "out of memory for the reverse complements of %lld sequences", (long long)ds->n);
    for (int64_t i = 0; i < ds->n; i++)
        dm_revcomp_row(rc->seq + (size_t)i * ds->len, ds->seq + (size_t)i * ds->len, ds->len, row_used(ds, i));
    return DM_STATUS_OK;
}

dm_status dm_dataset_with_revcomp(const dm_dataset *ds, dm_dataset *out) {
    memset(out, 0, sizeof *out);
    DM_TRY(dm_dataset_check(ds, "reverse-complement augmentation"));
    DM_CHECK_ARG(ds->label, "reverse-complement augmentation: data without labels");
    size_t n = (size_t)ds->n, L = (size_t)ds->len;
    out->n = 2 * ds->n;
    out->len = ds->len;
    out->format = ds->format;
    out->seq = malloc(2 * n * L + 1);
    out->seq_len = malloc(2 * n * sizeof *out->seq_len + 1);
    out->label = malloc(2 * n + 1);
    out->group = malloc(2 * n * sizeof *out->group + 1);
    if (!out->seq || !out->seq_len || !out->label || !out->group) {
        dm_dataset_free(out);
        return dm_error(DM_STATUS_NOMEM, "out of memory for the reverse complements of %lld sequences", (long long)n);
    }
    memcpy(out->seq, ds->seq, n * L);
    for (size_t i = 0; i < n; i++) {
        int32_t used = row_used(ds, (int64_t)i);
        dm_revcomp_row(out->seq + (n + i) * L, ds->seq + i * L, ds->len, used);
        out->seq_len[i] = out->seq_len[n + i] = used;
        out->label[i] = out->label[n + i] = ds->label[i];
        out->group[i] = out->group[n + i] = ds->group ? ds->group[i] : (int64_t)i;
    }
    return DM_STATUS_OK;
}

/* ---- averaged scores --------------------------------------------------------------------------- */

dm_status dm_pred_resident(dm_net *m, dm_devdata *d, dm_devdata *drc, bool n_quarter, float *scores) {
    int32_t M = dm_net_n_members(m);
    bool rc = drc && (dm_net_rc(m) & DM_RC_AVERAGE);
    if (M == 1 && !rc) return dm_net_predict_resident(m, d, n_quarter, scores);
    int64_t n = d->n;
    double *acc = calloc((size_t)(rc ? 2 : 1) * (size_t)n, sizeof(double));
    float *tmp = malloc(sizeof(float) * (size_t)n);
    dm_status st = acc && tmp ? DM_STATUS_OK : dm_error(DM_STATUS_NOMEM, "prediction: out of memory");
    for (int32_t k = 0; !st && k < M; k++) {
        st = dm_net_use_member(m, k);
        for (int s = 0; !st && s < (rc ? 2 : 1); s++) {
            st = dm_net_predict_resident(m, s ? drc : d, n_quarter, tmp);
            for (int64_t i = 0; !st && i < n; i++) acc[(size_t)s * (size_t)n + (size_t)i] += tmp[i];
        }
    }
    if (!st && M > 1) st = dm_net_use_member(m, 0);
    for (int64_t i = 0; !st && i < n; i++) {
        float f = (float)(acc[i] / M);
        scores[i] = rc ? 0.5f * (f + (float)(acc[(size_t)n + (size_t)i] / M)) : f;
    }
    free(acc);
    free(tmp);
    return st;
}

dm_status dm_net_predict(dm_net *m, const dm_dataset *ds, bool n_quarter, float *scores) {
    DM_CHECK_ARG(m && scores, "prediction: NULL model or scores");
    DM_TRY(dm_dataset_check(ds, "prediction data"));
    if (ds->len != dm_net_hparams(m)->len)
        return dm_error(DM_STATUS_ARG, "data length %d != model length %d", ds->len, dm_net_hparams(m)->len);
    bool rc = dm_net_rc(m) & DM_RC_AVERAGE;
    dm_dataset r = {0};
    dm_devdata *d = NULL, *drc = NULL;
    dm_status st = dm_devdata_create(&d, dm_net_backend(m), ds);
    if (!st && rc) st = dm_dataset_revcomp(ds, &r);
    if (!st && rc) st = dm_devdata_create(&drc, dm_net_backend(m), &r);
    free(r.seq);
    if (!st) st = dm_pred_resident(m, d, drc, n_quarter, scores);
    dm_devdata_free(d);
    dm_devdata_free(drc);
    return st;
}

dm_status dm_net_score_codes(dm_net *m, const uint8_t *codes, int32_t B, bool n_quarter, float *p) {
    int32_t M = dm_net_n_members(m);
    if (M == 1) {
        DM_TRY(dm_net_infer_codes(m, codes, B, n_quarter));
        return dm_net_scores(m, p);
    }
    double *acc = calloc((size_t)B, sizeof(double));
    if (!acc) return dm_error(DM_STATUS_NOMEM, "prediction: out of memory");
    dm_status st = DM_STATUS_OK;
    for (int32_t k = 0; !st && k < M; k++) {
        if (!(st = dm_net_use_member(m, k)) && !(st = dm_net_infer_codes(m, codes, B, n_quarter)))
            st = dm_net_scores(m, p);
        for (int32_t i = 0; !st && i < B; i++) acc[i] += p[i];
    }
    if (!st) st = dm_net_use_member(m, 0);
    for (int32_t i = 0; !st && i < B; i++) p[i] = (float)(acc[i] / M);
    free(acc);
    return st;
}

/* ---- saliency of both strands and of every member ---------------------------------------------- */

dm_status dm_sal_avg_batch(dm_sal_dev *dev, dm_net *m, const dm_saliency_options *o, const dm_dataset *ds, int64_t i,
                           int B, int64_t row0, float *attr, float *p) {
    int32_t M = dm_net_n_members(m), L = ds->len;
    int S = (dm_net_rc(m) & DM_RC_AVERAGE) ? 2 : 1;
    size_t nv = (size_t)B * (size_t)L * 4;
    uint8_t *rc = malloc((size_t)B * (size_t)L);
    float *xs = malloc(sizeof(float) * nv), *a = malloc(sizeof(float) * nv), *acc = calloc(2 * nv, sizeof(float));
    float *pt = malloc(sizeof(float) * (size_t)B);
    double *pacc = calloc(2 * (size_t)B, sizeof(double));
    dm_status st = rc && xs && a && acc && pt && pacc ? DM_STATUS_OK : dm_error(DM_STATUS_NOMEM, "saliency: out of memory");
    const uint8_t *fwd = ds->seq + (size_t)i * (size_t)L;
    const int8_t *lab = ds->label ? ds->label + i : NULL;
    for (int b = 0; !st && b < B; b++)
        dm_revcomp_row(rc + (size_t)b * L, fwd + (size_t)b * L, L, row_used(ds, i + b));
    for (int32_t k = 0; !st && k < M; k++) {
        st = dm_net_use_member(m, k);
        for (int s = 0; !st && s < S; s++) {
            const uint8_t *codes = s ? rc : fwd;
            dm_onehot_host(xs, codes, (int64_t)B * L, o->n_quarter);
            if ((st = dm_sal_dev_load(dev, codes, lab, B, row0 + i)) || (st = dm_sal_dev_batch(dev, 0, B, xs, a, pt)))
                break;
            float *dst = acc + (size_t)s * nv;
            for (int b = 0; b < B; b++) {
                float *ab = a + (size_t)b * L * 4;
                if (s) {   /* the reverse strand's map onto the forward strand: positions reversed, bases complemented */
                    float *tmp = xs + (size_t)b * L * 4;   /* xs is free again after the batch */
                    dm_revcomp_map_back(tmp, ab, L, row_used(ds, i + b));
                    ab = tmp;
                }
                for (size_t v = 0; v < (size_t)L * 4; v++) dst[(size_t)b * L * 4 + v] += ab[v];
                pacc[(size_t)s * B + b] += pt[b];
            }
        }
    }
    if (!st && M > 1) st = dm_net_use_member(m, 0);
    for (size_t v = 0; !st && v < nv; v++) attr[v] = S == 2 ? 0.5f * (acc[v] / M + acc[nv + v] / M) : acc[v] / M;
    for (int b = 0; !st && b < B; b++) {
        float f = (float)(pacc[b] / M);
        p[b] = S == 2 ? 0.5f * (f + (float)(pacc[B + b] / M)) : f;
    }
    free(rc);
    free(xs);
    free(a);
    free(acc);
    free(pt);
    free(pacc);
    return st;
}

/* ---- dense input (the C API's one-hot arrays) -------------------------------------------------- */

dm_status dm_net_score_onehot(dm_net *m, const float *x, int32_t B, float *p) {
    int32_t M = dm_net_n_members(m), L = dm_net_hparams(m)->len;
    bool rc = dm_net_rc(m) & DM_RC_AVERAGE;
    if (M == 1 && !rc) {
        DM_TRY(dm_net_infer(m, x, B));
        return dm_net_scores(m, p);
    }
    size_t nv = (size_t)B * (size_t)L * 4;
    float *xr = rc ? malloc(sizeof(float) * nv) : NULL;
    double *acc = calloc(2 * (size_t)B, sizeof(double));
    dm_status st = (!rc || xr) && acc ? DM_STATUS_OK : dm_error(DM_STATUS_NOMEM, "prediction: out of memory");
    for (int32_t b = 0; !st && rc && b < B; b++)   /* the reverse complement: rows reversed, channels reversed */
        for (int32_t l = 0; l < L; l++)
            for (int c = 0; c < 4; c++)
                xr[((size_t)b * L + l) * 4 + c] = x[((size_t)b * L + (L - 1 - l)) * 4 + (3 - c)];
    for (int32_t k = 0; !st && k < M; k++) {
        st = dm_net_use_member(m, k);
        for (int s = 0; !st && s < (rc ? 2 : 1); s++) {
            if ((st = dm_net_infer(m, s ? xr : x, B)) || (st = dm_net_scores(m, p))) break;
            for (int32_t b = 0; b < B; b++) acc[(size_t)s * B + b] += p[b];
        }
    }
    if (!st && M > 1) st = dm_net_use_member(m, 0);
    for (int32_t b = 0; !st && b < B; b++) {
        float f = (float)(acc[b] / M);
        p[b] = rc ? 0.5f * (f + (float)(acc[B + b] / M)) : f;
    }
    free(xr);
    free(acc);
    return st;
}
