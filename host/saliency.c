/*
 * saliency.c: gradient attribution maps (see saliency.h). One forward pass in evaluation mode, then
 * the backward pass of the chosen class score from the log-softmax output down to the input:
 * ∂S/∂logprob is 1 at the target class (−1 for the loss of the original), 0 elsewhere.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netio.h"
#include "npy.h"
#include "ism_fast.h"
#include "predavg.h"
#include "saliency.h"

dm_status dm_sal_method_parse(const char *s, dm_sal_method *m) {
    if (!strcmp(s, "grad")) *m = DM_SAL_GRAD;
    else if (!strcmp(s, "grad-x-input")) *m = DM_SAL_GRAD_X_INPUT;
    else if (!strcmp(s, "original")) *m = DM_SAL_ORIGINAL;
    else if (!strcmp(s, "ig")) *m = DM_SAL_IG;
    else if (!strcmp(s, "ism")) *m = DM_SAL_ISM;
    else return dm_error(DM_STATUS_ARG, "unknown saliency method '%s' (grad, grad-x-input, original, ig, ism)", s);
    return DM_STATUS_OK;
}

dm_status dm_sal_target_parse(const char *s, dm_sal_target *t) {
    if (!strcmp(s, "pos")) *t = DM_TARGET_POS;
    else if (!strcmp(s, "label")) *t = DM_TARGET_LABEL;
    else return dm_error(DM_STATUS_ARG, "unknown saliency target '%s' (pos, label)", s);
    return DM_STATUS_OK;
}

/* The target class of each row (0 = bound, positive class first); _ARG when labels are needed and
 * missing. */
dm_status dm_sal_classes(const int8_t *labels, int B, bool by_label, int *cls) {
    for (int b = 0; b < B; b++) {
        if (by_label && (!labels || (labels[b] != 0 && labels[b] != 1)))
            return dm_error(DM_STATUS_ARG, "saliency: target 'label' and method 'original' need labelled data");
        cls[b] = by_label ? (labels[b] == 1 ? 0 : 1) : 0;
    }
    return DM_STATUS_OK;
}

/* ∂(sign · log P(cls))/∂x for input x (B, L, 4) into grad (B, L, 4); P(pos) into p_pos if non-NULL. */
static dm_status input_gradient(dm_net *m, const float *x, const int *cls, int B, float sign,
                                float *grad, float *p_pos, float *g2) {
    for (int b = 0; b < B; b++) {
        g2[2 * b + cls[b]] = sign;
        g2[2 * b + 1 - cls[b]] = 0.0f;
    }
    DM_TRY(dm_net_forward(m, x, B, false, 0, 0));
    if (p_pos) DM_TRY(dm_net_scores(m, p_pos));
    return dm_net_backward_from(m, g2, B, grad);
}

/* Integrated gradients (Sundararajan et al. 2017), midpoint rule: attr = (x − x0) ⊙ mean_k ∇S(x0 +
 * (k − ½)/steps · (x − x0)). The path loop stays in backend memory: x, x0 and the gradient sum are
 * uploaded once, each step interpolates straight into the model's input (lerp) and adds the input
 * gradient to the sum (axpy); only the sum comes back. */
static dm_status integrated_gradients(dm_net *m, const float *x, const int *cls, int B,
                                      const dm_saliency_options *o, float *attr, float *p_pos,
                                      float *g2, uint64_t row0) {
    int L = dm_net_hparams(m)->len, steps = o->steps > 0 ? o->steps : 64;
    size_t n = 4 * (size_t)B * L;
    float *x0 = malloc(sizeof(float) * n);
    if (!x0) return dm_error(DM_STATUS_NOMEM, "saliency: out of memory");
    memset(x0, 0, sizeof(float) * n);
    if (o->shuffle_baseline) {
        /* the baseline of row b is a dinucleotide shuffle of its bases (zero rows stay N) */
        uint8_t *c = malloc((size_t)L), *cs = malloc((size_t)L);
        if (!c || !cs) { free(c); free(cs); free(x0); return dm_error(DM_STATUS_NOMEM, "saliency: out of memory"); }
        for (int b = 0; b < B; b++) {
            for (int l = 0; l < L; l++) {
                const float *r = x + ((size_t)b * L + l) * 4;
                c[l] = DM_BASE_N;
                for (int k = 0; k < 4; k++) if (r[k] == 1.0f) c[l] = (uint8_t)k;
            }
            dm_dinuc_shuffle(cs, c, (size_t)L, o->seed, row0 + (uint64_t)b);
            for (int l = 0; l < L; l++)
                if (cs[l] < 4) x0[((size_t)b * L + l) * 4 + cs[l]] = 1.0f;
        }
        free(c);
        free(cs);
    }
    dm_backend *be = dm_net_backend(m);
    const struct dm_backend_i *op = be->i;
    float *d_x = op->alloc(be, sizeof(float) * n), *d_x0 = op->alloc(be, sizeof(float) * n);
    float *d_sum = op->alloc(be, sizeof(float) * n), *d_g2 = op->alloc(be, sizeof(float) * 2 * (size_t)B);
    dm_status st = DM_STATUS_OK;
    if (!d_x || !d_x0 || !d_sum || !d_g2) st = dm_error(DM_STATUS_NOMEM, "saliency: out of backend memory");
    if (!st) {
        for (int b = 0; b < B; b++) {   /* ∂ log P(cls)/∂logprob */
            g2[2 * b + cls[b]] = 1.0f;
            g2[2 * b + 1 - cls[b]] = 0.0f;
        }
        op->upload(be, d_x, x, sizeof(float) * n);
        op->upload(be, d_x0, x0, sizeof(float) * n);
        op->upload(be, d_g2, g2, sizeof(float) * 2 * (size_t)B);
        op->memset0(be, d_sum, sizeof(float) * n);
    }
    for (int k = 0; k < steps && !st; k++) {
        float a = ((float)k + 0.5f) / (float)steps;
        op->lerp(be, dm_net_input(m), d_x0, d_x, a, (int64_t)n);
        st = dm_net_forward_input(m, B, false, 0, 0);
        if (!st) st = dm_net_backward_input(m, d_g2, B);
        if (!st) op->axpy(be, d_sum, dm_net_input_grad(m), 1.0f, (int64_t)n);
    }
    if (!st) {
        op->download(be, attr, d_sum, sizeof(float) * n);
        st = dm_backend_status(be);
    }
    float *bufs[] = {d_x, d_x0, d_sum, d_g2};
    for (int k = 0; k < 4; k++) if (bufs[k]) op->free(be, bufs[k]);
    if (!st && o->center)   /* the path-averaged gradient, corrected before it meets (x − x0) */
        for (size_t r = 0; r < n; r += 4) {
            float mean = 0.25f * (attr[r] + attr[r + 1] + attr[r + 2] + attr[r + 3]);
            for (int c = 0; c < 4; c++) attr[r + c] -= mean;
        }
    for (size_t i = 0; !st && i < n; i++) attr[i] = attr[i] / (float)steps * (x[i] - x0[i]);
    if (!st) {   /* the score of the input itself */
        st = dm_net_forward(m, x, B, false, 0, 0);
        if (!st) st = dm_net_scores(m, p_pos);
    }
    free(x0);
    return st;
}

/* In-silico mutagenesis: for each row, the 4·L single-base variants (the unchanged base included, so
 * S(x) comes from the same passes) in forward batches of the model's size. attr[l, b] = S(x^{l→b})
 * − S(x). With `fast`, each batch by receptive-field windows (ism_fast.h); without, in full (the
 * reference). */
static dm_status mutagenesis(dm_net *m, const float *x, const int *cls, int B, float *attr,
                             float *p_pos, float *work, dm_ism_fast *fast) {
    int L = dm_net_hparams(m)->len, Bmax = dm_net_max_batch(m);
    dm_backend *be = dm_net_backend(m);
    float lp[2 * 4096];
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * L * 4;
        float *ab = attr + (size_t)b * L * 4;
        double s_ref = NAN;
        if (fast) {   /* the windows' cache: the prefix on the row itself */
            be->i->upload(be, dm_net_input(m), xb, sizeof(float) * 4 * (size_t)L);
            DM_TRY(dm_ism_fast_reference(fast, dm_net_input(m)));
        }
        for (int v0 = 0; v0 < 4 * L; v0 += Bmax) {
            int nv = 4 * L - v0 < Bmax ? 4 * L - v0 : Bmax;
            if (nv > 4096) nv = 4096;
            for (int j = 0; j < nv; j++) {    /* variant v: position v / 4 set to base v % 4 */
                int v = v0 + j, l = v / 4, base = v % 4;
                float *w = work + (size_t)j * L * 4;
                memcpy(w, xb, sizeof(float) * 4 * (size_t)L);
                for (int c = 0; c < 4; c++) w[4 * l + c] = (float)(c == base);
            }
            if (fast) {
                be->i->upload(be, dm_net_input(m), work, sizeof(float) * 4 * (size_t)L * nv);
                DM_TRY(dm_ism_fast_forward(fast, v0, nv));
            } else {
                DM_TRY(dm_net_forward(m, work, nv, false, 0, 0));
            }
            DM_TRY(dm_net_logprob(m, lp));
            for (int j = 0; j < nv; j++) ab[v0 + j] = lp[2 * j + cls[b]];
        }
        /* S(x): the variant that sets the present base at its own position (any one-hot position) */
        for (int l = 0; l < L && isnan(s_ref); l++)
            for (int c = 0; c < 4; c++)
                if (xb[4 * l + c] == 1.0f) { s_ref = ab[4 * l + c]; break; }
        if (isnan(s_ref)) {      /* no one-hot position at all: score x itself */
            DM_TRY(dm_net_forward(m, xb, 1, false, 0, 0));
            DM_TRY(dm_net_logprob(m, lp));
            s_ref = lp[cls[b]];
        }
        for (int i = 0; i < 4 * L; i++) ab[i] = (float)(ab[i] - s_ref);
        p_pos[b] = cls[b] == 0 ? expf((float)s_ref) : 1.0f - expf((float)s_ref);
    }
    return DM_STATUS_OK;
}

dm_status dm_saliency_batch(dm_net *m, const float *x, const int8_t *labels, int B, int64_t row0,
                            const dm_saliency_options *o, float *attr, float *p_pos) {
    int L = dm_net_hparams(m)->len, Bmax = dm_net_max_batch(m);
    bool by_label = o->target == DM_TARGET_LABEL || o->method == DM_SAL_ORIGINAL;
    int *cls = malloc(sizeof(int) * (size_t)B);
    float *g2 = malloc(sizeof(float) * 2 * (size_t)B);
    float *work = malloc(sizeof(float) * 4 * (size_t)L * (size_t)(B > Bmax ? B : Bmax));
    dm_status st = !cls || !g2 || !work ? dm_error(DM_STATUS_NOMEM, "saliency: out of memory")
                                                 : dm_sal_classes(labels, B, by_label, cls);
    if (!st) {
        if (o->method == DM_SAL_IG)
            st = integrated_gradients(m, x, cls, B, o, attr, p_pos, g2, (uint64_t)row0);
        else if (o->method == DM_SAL_ISM) {   /* by receptive-field windows unless asked for in full */
            const char *env = getenv("DM_ISM");
            dm_ism_fast *fast = NULL;
            if (!o->ism_full && !(env && strcmp(env, "full") == 0)) st = dm_ism_fast_create(&fast, m);
            if (!st) st = mutagenesis(m, x, cls, B, attr, p_pos, work, fast);
            dm_ism_fast_free(fast);
        }
        else    /* DeMo's map is the gradient of the loss −log p_y */
            st = input_gradient(m, x, cls, B, o->method == DM_SAL_ORIGINAL ? -1.0f : 1.0f, attr, p_pos, g2);
    }
    free(cls);
    free(g2);
    free(work);
    DM_TRY(st);
    dm_sal_finish(o, attr, x, B, L);
    return DM_STATUS_OK;
}

void dm_sal_finish(const dm_saliency_options *o, float *attr, const float *x, int B, int L) {
    for (int64_t r = 0; r < (int64_t)B * L; r++) {
        float *a = attr + 4 * r;
        const float *xr = x + 4 * r;
        if (o->center && o->method != DM_SAL_IG) {   /* IG centres its averaged gradient itself */
            float mean = 0.25f * (a[0] + a[1] + a[2] + a[3]);
            for (int c = 0; c < 4; c++) a[c] -= mean;
        }
        if (o->method == DM_SAL_ORIGINAL)
            for (int c = 0; c < 4; c++) a[c] = fabsf(a[c]) * xr[c];
        else if (o->method == DM_SAL_GRAD_X_INPUT)
            for (int c = 0; c < 4; c++) a[c] *= xr[c];
    }
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

struct dm_saliency_out {
    dm_net *m;
    dm_saliency_options o;
    char path[5][4200];
    dm_npy_writer w[4];
    dm_outfile tsv;
    bool tsv_open;
    bool committed[4];           /* arrays renamed into place (removed again if a later one fails) */
    float *x, *attr, *buf, *p;   /* one batch: inputs, attributions, layout buffer, P(pos) */
    dm_sal_dev *dev;             /* the rows in backend memory (sal_dev.c) */
    int64_t n_total, n_done;
    double t0, t_print;
    dm_sal_coords *coords;       /* --bed: regions.bed and the track, or NULL */
    bool track;
    char prefix[4096];
};

void dm_saliency_abort(dm_saliency_out *s) {
    if (!s) return;
    for (int k = 0; k < 4; k++) {   /* nothing partial is left behind */
        if (s->committed[k]) {   /* a device or FIFO output was written in place: never removed */
            if (!s->w[k].out.direct && !s->o.shard) remove(s->path[k]);
        }
        else dm_npy_abort(&s->w[k]);
    }
    if (s->tsv_open) dm_outfile_abort(&s->tsv);
    dm_sal_coords_abort(s->coords);
    dm_sal_dev_free(s->dev);
    free(s->x);
    free(s->attr);
    free(s->buf);
    free(s->p);
    free(s);
}

dm_status dm_saliency_open(dm_saliency_out **out, dm_net *m, int64_t n, const dm_saliency_options *o,
                           const char *prefix) {
    *out = NULL;
    int L = dm_net_hparams(m)->len, Bmax = dm_net_max_batch(m);
    dm_saliency_out *s = calloc(1, sizeof *s);
    if (!s) return dm_error(DM_STATUS_NOMEM, "saliency: out of memory");
    s->m = m;
    s->o = *o;
    const dm_shard *sh = o->shard;   /* sharded: this shard's rows of the n, into its parts (shard.h) */
    s->n_total = sh ? sh->row1 - sh->row0 : n;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    /* attributions and inputs, each as .npy and as an .npz with key arr_0 (TF-MoDISco) */
    static const char *const suffix[4] = {".npy", ".onehot.npy", ".npz", ".onehot.npz"};
    for (int k = 0; k < 4; k++) snprintf(s->path[k], sizeof s->path[k], "%s%s", prefix, suffix[k]);
    snprintf(s->path[4], sizeof s->path[4], "%s.tsv", prefix);
    int64_t shape[3] = {n, o->nlc ? L : 4, o->nlc ? 4 : L};
    size_t nb = 4 * (size_t)Bmax * L;
    s->x = malloc(sizeof(float) * nb);
    s->attr = malloc(sizeof(float) * nb);
    s->buf = malloc(sizeof(float) * nb);
    s->p = malloc(sizeof(float) * (size_t)Bmax);
    dm_status st = DM_STATUS_OK;
    if (!s->x || !s->attr || !s->buf || !s->p) st = dm_error(DM_STATUS_NOMEM, "saliency: out of memory");
    if (!st) st = dm_sal_dev_create(&s->dev, m, o);
    if (sh && sh->n != n) st = dm_error(DM_STATUS_ARG, "saliency: a shard of %lld rows for %lld", (long long)sh->n,
                                        (long long)n);
    for (int k = 0; k < 4 && !st; k++)
        st = sh ? dm_npy_open_shard(&s->w[k], s->path[k], k < 2 ? NULL : "arr_0", 3, shape, sh)
           : k < 2 ? dm_npy_open(&s->w[k], s->path[k], 3, shape)
                   : dm_npz_open(&s->w[k], s->path[k], "arr_0", 3, shape);
    if (!st) st = sh ? dm_shard_text_open(&s->tsv, sh, s->path[4]) : dm_outfile_open(&s->tsv, s->path[4]);
    if (!st) {
        s->tsv_open = true;
        if (!sh || sh->index == 0) fprintf(s->tsv.f, "id\tscore\tattribution\n");
    }
    if (st) {
        dm_saliency_abort(s);
        return st;
    }
    s->t0 = dm_now();
    *out = s;
    return DM_STATUS_OK;
}

dm_status dm_saliency_rows(dm_saliency_out *s, const dm_dataset *ds, int64_t row0) {
    dm_net *m = s->m;
    const dm_saliency_options *o = &s->o;
    int L = dm_net_hparams(m)->len, Bmax = dm_net_max_batch(m);
    if (ds->len != L) return dm_error(DM_STATUS_ARG, "data length %d != model length %d", ds->len, L);
    float *x = s->x, *attr = s->attr, *buf = s->buf, *p = s->p;
    if (ds->n < 1) return DM_STATUS_OK;
    /* the chunk goes to the backend once, packed; its batches are gathered there */
    bool avg = dm_net_averages(m);   /* strands or members: each batch loaded per member and strand */
    dm_status st = avg ? DM_STATUS_OK : dm_sal_dev_load(s->dev, ds->seq, ds->label, ds->n, row0);
    for (int64_t i = 0; !st && i < ds->n; i += Bmax) {
        int B = (int)(ds->n - i < Bmax ? ds->n - i : Bmax);
        int64_t nv = 4 * (int64_t)B * L;
        dm_onehot_host(x, ds->seq + (size_t)i * L, (int64_t)B * L, o->n_quarter);
        st = avg ? dm_sal_avg_batch(s->dev, m, o, ds, i, B, row0, attr, p) : dm_sal_dev_batch(s->dev, i, B, x, attr, p);
        if (!st && s->coords) dm_sal_coords_rows(s->coords, row0 + i, B, attr, x);
        if (!st) to_layout(buf, attr, B, L, o->nlc);
        for (int k = 0; !st && k < 4; k += 2) st = dm_npy_append(&s->w[k], buf, nv);
        if (!st) to_layout(buf, x, B, L, o->nlc);
        for (int k = 1; !st && k < 4; k += 2) st = dm_npy_append(&s->w[k], buf, nv);
        for (int b = 0; !st && b < B; b++) {
            /* the attribution of the present base: Σ_c attr ⊙ x per position */
            fprintf(s->tsv.f, "%s\t%.6g\t", ds->id[i + b], p[b]);
            for (int l = 0; l < L; l++) {
                const float *a = attr + ((size_t)b * L + l) * 4, *xr = x + ((size_t)b * L + l) * 4;
                fprintf(s->tsv.f, "%.6g%c", a[0] * xr[0] + a[1] * xr[1] + a[2] * xr[2] + a[3] * xr[3],
                        l + 1 < L ? ',' : '\n');
            }
        }
        if (!st) s->n_done += B;
        double now = dm_now();
        if (o->progress && (now - s->t_print > 0.5 || s->n_done == s->n_total)) {
            dm_log_progress("saliency", s->n_done, s->n_total, "saliency: %lld/%lld sequences  %.0f seq/s",
                        (long long)s->n_done, (long long)s->n_total, (double)s->n_done / (now - s->t0));
            s->t_print = now;
        }
    }
    return st;
}

dm_status dm_saliency_coords(dm_saliency_out *s, const dm_regions *rs, dm_genome *g, bool track) {
    DM_CHECK_ARG(rs && g && !s->coords && s->n_done == 0, "saliency: coordinates set twice or after rows");
    const dm_shard *sh = s->o.shard;
    if (rs->n != (sh ? sh->n : s->n_total))
        return dm_error(DM_STATUS_ARG, "saliency: %lld regions for %lld rows", (long long)rs->n, (long long)s->n_total);
    DM_CHECK_ARG(!(sh && track), "saliency: a track needs every row in one process (not sharded)");
    s->track = track;
    return dm_sal_coords_open(&s->coords, rs, g, dm_net_hparams(s->m)->len, track, s->prefix, sh);
}

dm_status dm_saliency_commit(dm_saliency_out *s) {
    if (s->o.progress) dm_log_progress_end("saliency");
    dm_status st = DM_STATUS_OK;
    bool coords = s->coords != NULL;
    if (coords) {   /* the coordinates first: the arrays' failure removes them again below */
        st = dm_sal_coords_commit(s->coords);
        s->coords = NULL;
        if (st) {
            dm_saliency_abort(s);
            return st;
        }
    }
    for (int k = 0; k < 4 && !st; k++) {
        st = dm_npy_commit(&s->w[k]);
        s->committed[k] = st == DM_STATUS_OK;
    }
    if (!st) {
        st = dm_outfile_commit(&s->tsv);
        s->tsv_open = false;
    }
    if (st) {
        if (coords && !s->o.shard) dm_sal_coords_remove(s->prefix, s->track);
        dm_saliency_abort(s);
        return st;
    }
    /* committed: only the buffers go */
    dm_sal_dev_free(s->dev);
    free(s->x);
    free(s->attr);
    free(s->buf);
    free(s->p);
    free(s);
    return DM_STATUS_OK;
}

dm_status dm_saliency_run(dm_net *m, const dm_dataset *ds, const dm_saliency_options *o,
                          const char *prefix) {
    if (ds->len != dm_net_hparams(m)->len)
        return dm_error(DM_STATUS_ARG, "data length %d != model length %d", ds->len,
                        dm_net_hparams(m)->len);
    dm_saliency_out *s;
    DM_TRY(dm_saliency_open(&s, m, ds->n, o, prefix));
    dm_status st = dm_saliency_rows(s, ds, 0);
    if (st) {
        dm_saliency_abort(s);
        return st;
    }
    return dm_saliency_commit(s);
}
