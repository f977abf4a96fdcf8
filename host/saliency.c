/*
 * saliency.c: gradient attribution maps (see saliency.h). One forward pass in evaluation mode, then
 * the backward pass of the chosen class score from the log-softmax output down to the input:
 * ∂S/∂logprob is 1 at the target class (−1 for the loss of the original), 0 elsewhere.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "saliency.h"

dm_status dm_sal_method_parse(const char *s, dm_sal_method *m) {
    if (!strcmp(s, "grad")) *m = DM_SAL_GRAD;
    else if (!strcmp(s, "grad-x-input")) *m = DM_SAL_GRAD_X_INPUT;
    else if (!strcmp(s, "original")) *m = DM_SAL_ORIGINAL;
    else return dm_error(DM_STATUS_ARG, "unknown saliency method '%s' (grad, grad-x-input, original)", s);
    return DM_STATUS_OK;
}

dm_status dm_sal_target_parse(const char *s, dm_sal_target *t) {
    if (!strcmp(s, "pos")) *t = DM_TARGET_POS;
    else if (!strcmp(s, "label")) *t = DM_TARGET_LABEL;
    else return dm_error(DM_STATUS_ARG, "unknown saliency target '%s' (pos, label)", s);
    return DM_STATUS_OK;
}

dm_status dm_saliency_batch(dm_model *m, const float *x, const int8_t *labels, int B,
                            const dm_saliency_options *o, float *attr, float *p_pos) {
    int L = dm_model_hparams(m)->len;
    bool by_label = o->target == DM_TARGET_LABEL || o->method == DM_SAL_ORIGINAL;
    float *g = malloc(sizeof(float) * 2 * (size_t)B);
    if (!g) return dm_error(DM_STATUS_NOMEM, "saliency: out of memory");
    for (int b = 0; b < B; b++) {
        if (by_label && (!labels || (labels[b] != 0 && labels[b] != 1))) {
            free(g);
            return dm_error(DM_STATUS_ARG, "saliency: target 'label' and method 'original' need labelled data");
        }
        int cls = by_label ? (labels[b] == 1 ? 0 : 1) : 0;    /* positive class first */
        g[2 * b + cls] = o->method == DM_SAL_ORIGINAL ? -1.0f : 1.0f;
        g[2 * b + 1 - cls] = 0.0f;
    }
    dm_status st = dm_model_forward(m, x, B, false, 0, 0);
    if (st == DM_STATUS_OK) st = dm_model_scores(m, p_pos);
    if (st == DM_STATUS_OK) st = dm_model_backward_from(m, g, B, attr);
    free(g);
    DM_TRY(st);
    for (int64_t r = 0; r < (int64_t)B * L; r++) {
        float *a = attr + 4 * r;
        const float *xr = x + 4 * r;
        if (o->center) {
            float mean = 0.25f * (a[0] + a[1] + a[2] + a[3]);
            for (int c = 0; c < 4; c++) a[c] -= mean;
        }
        if (o->method == DM_SAL_ORIGINAL)
            for (int c = 0; c < 4; c++) a[c] = fabsf(a[c]) * xr[c];
        else if (o->method == DM_SAL_GRAD_X_INPUT)
            for (int c = 0; c < 4; c++) a[c] *= xr[c];
    }
    return DM_STATUS_OK;
}

/* x (B, L, 4) from base codes, as the backend's one-hot op does. */
static void onehot_host(float *x, const uint8_t *codes, int64_t n, bool n_quarter) {
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < 4; c++)
            x[4 * i + c] = codes[i] < 4 ? (float)(codes[i] == c)
                                        : (codes[i] == DM_BASE_N && n_quarter ? 0.25f : 0.0f);
}

/* (B, L, 4) → the output layout: itself (NLC) or (B, 4, L) (NCL). */
static void to_layout(float *dst, const float *src, int B, int L, bool nlc) {
    if (nlc) {
        memcpy(dst, src, sizeof(float) * 4 * (size_t)B * L);
        return;
    }
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            for (int c = 0; c < 4; c++)
                dst[((size_t)b * 4 + c) * L + l] = src[((size_t)b * L + l) * 4 + c];
}

dm_status dm_saliency_run(dm_model *m, const dm_dataset *ds, const dm_saliency_options *o,
                          const char *prefix) {
    int L = dm_model_hparams(m)->len, Bmax = dm_model_max_batch(m);
    if (ds->len != L) return dm_error(DM_STATUS_ARG, "data length %d != model length %d", ds->len, L);
    char path[3][4200];
    snprintf(path[0], sizeof path[0], "%s.npy", prefix);
    snprintf(path[1], sizeof path[1], "%s.onehot.npy", prefix);
    snprintf(path[2], sizeof path[2], "%s.tsv", prefix);
    int64_t shape[3] = {ds->n, o->nlc ? L : 4, o->nlc ? 4 : L};
    size_t nb = 4 * (size_t)Bmax * L;
    float *x = malloc(sizeof(float) * nb), *attr = malloc(sizeof(float) * nb);
    float *buf = malloc(sizeof(float) * nb), *p = malloc(sizeof(float) * (size_t)Bmax);
    dm_npy_writer wa = {0}, wx = {0};
    dm_outfile tsv = {0};
    dm_status st = DM_STATUS_OK;
    if (!x || !attr || !buf || !p) st = dm_error(DM_STATUS_NOMEM, "saliency: out of memory");
    if (!st) st = dm_npy_open(&wa, path[0], 3, shape);
    if (!st) st = dm_npy_open(&wx, path[1], 3, shape);
    if (!st) st = dm_outfile_open(&tsv, path[2]);
    if (!st) fprintf(tsv.f, "id\tscore\tattribution\n");
    double t0 = dm_now(), t_print = 0;
    for (int64_t i = 0; !st && i < ds->n; i += Bmax) {
        int B = (int)(ds->n - i < Bmax ? ds->n - i : Bmax);
        onehot_host(x, ds->seq + (size_t)i * L, (int64_t)B * L, o->n_quarter);
        st = dm_saliency_batch(m, x, ds->label + i, B, o, attr, p);
        if (!st) { to_layout(buf, attr, B, L, o->nlc); st = dm_npy_append(&wa, buf, 4 * (int64_t)B * L); }
        if (!st) { to_layout(buf, x, B, L, o->nlc); st = dm_npy_append(&wx, buf, 4 * (int64_t)B * L); }
        for (int b = 0; !st && b < B; b++) {
            /* the attribution of the present base: Σ_c attr ⊙ x per position */
            fprintf(tsv.f, "%s\t%.6g\t", ds->id[i + b], p[b]);
            for (int l = 0; l < L; l++) {
                const float *a = attr + ((size_t)b * L + l) * 4, *xr = x + ((size_t)b * L + l) * 4;
                fprintf(tsv.f, "%.6g%c", a[0] * xr[0] + a[1] * xr[1] + a[2] * xr[2] + a[3] * xr[3],
                        l + 1 < L ? ',' : '\n');
            }
        }
        double now = dm_now();
        if (o->progress && (now - t_print > 0.5 || i + B == ds->n)) {
            fprintf(stderr, "\rsaliency: %lld/%lld sequences  %.0f seq/s   ", (long long)(i + B),
                    (long long)ds->n, (double)(i + B) / (now - t0));
            t_print = now;
        }
    }
    if (o->progress) fprintf(stderr, "\n");
    if (!st) st = dm_npy_commit(&wa);
    if (!st) st = dm_npy_commit(&wx);
    if (!st) st = dm_outfile_commit(&tsv);
    if (st) {     /* nothing partial is left behind */
        dm_npy_abort(&wa);
        dm_npy_abort(&wx);
        dm_outfile_abort(&tsv);
        remove(path[0]);
        remove(path[1]);
    }
    free(x);
    free(attr);
    free(buf);
    free(p);
    return st;
}
