/*
 * sal_dev.c: saliency with its data resident in backend memory (saliency.h, dm_sal_dev). A load packs
 * a chunk of rows (dm_pack.h: 39 bytes per sequence of 101 instead of 1,616 bytes of one-hot floats),
 * their ∂S/∂logprob rows and, for IG with shuffled baselines, the packed shuffles, and uploads them once;
 * a batch gathers its one-hot input on the backend (the `gather` op, as training does), runs forward
 * and backward there, and copies the input gradient and the log-probabilities side by side into one
 * result buffer that comes back in a single download. Integrated gradients keep x, x0 and the
 * gradient sum in buffers allocated once per run.
 *
 * Bit for bit the CPU results of dm_saliency_batch (saliency.c) on the same codes: the backend sees the
 * same floats (gather and dm_onehot_host encode with dm_onehot_value), runs the same ops in the same
 * order, and the host finishes with the same arithmetic.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dm_pack.h"
#include "ism_fast.h"
#include "netio.h"
#include "saliency.h"

struct dm_sal_dev {
    dm_net *m;
    dm_backend *be;
    dm_saliency_options o;
    int L, Bmax, rb;
    bool by_label;
    /* chunk-sized (cap rows), allocated at the first load that needs them */
    int64_t cap, n, row0;
    uint8_t *d_packed, *d_packed0;   /* codes and (IG shuffle) baseline codes, packed */
    int8_t *d_labels;                /* labels of the rows (0 when none: gather copies them) */
    int8_t *d_cls, *h_cls;           /* target class of each row */
    int32_t *d_order;                /* 0, 1, ..., cap − 1: the rows of a batch are consecutive */
    float *d_g2;                     /* (cap, 2) ∂S/∂logprob of each row */
    uint8_t *h_packed;               /* host staging of the packed rows */
    uint8_t *h_shuf;                 /* (cap, L) IG's shuffled baseline codes */
    float *h_g2;
    int8_t *h_lab0;                  /* zero labels for unlabelled loads */
    /* batch-sized, allocated by create */
    int8_t *d_lab;                   /* gather's label output (unused) */
    float *d_res;                    /* (Bmax, L, 4) attributions then (Bmax, 2) log-probabilities */
    float *d_x, *d_x0, *d_sum;       /* IG: input, baseline, gradient sum */
    float *d_scores;                 /* ISM: (Bmax, 4L + 1) variant scores, then the row's own */
    float *h_res, *h_x0;
    int *cls;
    /* graphs (backends with graph_begin; gradient methods and IG): a full batch is recorded once and
     * replayed; its rows enter through d_border and d_bg2 (copied from the chunk's before each batch) */
    int32_t *d_border;               /* (Bmax) the batch's rows */
    float *d_bg2;                    /* (Bmax, 2) their ∂S/∂logprob */
    void *graph;
    bool warm, graphs_off;           /* a full batch ran plainly (scratch grew); the backend declined */
    dm_ism_fast *fast;               /* ISM by receptive-field windows; NULL: every variant in full */
};

/* Drops the recorded batch (its buffers are about to change). */
static void drop_graph(dm_sal_dev *d) {
    if (d->graph) d->be->i->graph_free(d->be, d->graph);
    d->graph = NULL;
    d->warm = false;
}

void dm_sal_dev_free(dm_sal_dev *d) {
    if (!d) return;
    drop_graph(d);
    dm_ism_fast_free(d->fast);
    void *dev[] = {d->d_packed, d->d_packed0, d->d_labels, d->d_order, d->d_g2, d->d_cls,
                   d->d_lab, d->d_res, d->d_x, d->d_x0, d->d_sum, d->d_scores, d->d_border, d->d_bg2};
    for (size_t k = 0; k < sizeof dev / sizeof dev[0]; k++)
        if (dev[k]) d->be->i->free(d->be, dev[k]);
    free(d->h_packed);
    free(d->h_shuf);
    free(d->h_g2);
    free(d->h_lab0);
    free(d->h_cls);
    free(d->h_res);
    free(d->h_x0);
    free(d->cls);
    free(d);
}

dm_status dm_sal_dev_create(dm_sal_dev **out, dm_net *m, const dm_saliency_options *o) {
    *out = NULL;
    dm_sal_dev *d = calloc(1, sizeof *d);
    if (!d) return dm_error(DM_STATUS_NOMEM, "saliency: out of memory");
    d->m = m;
    d->be = dm_net_backend(m);
    d->o = *o;
    d->L = dm_net_hparams(m)->len;
    d->Bmax = dm_net_max_batch(m);
    d->rb = dm_pack_row_bytes(d->L);
    d->by_label = o->target == DM_TARGET_LABEL || o->method == DM_SAL_ORIGINAL;
    const struct dm_backend_i *op = d->be->i;
    size_t nx = 4 * (size_t)d->Bmax * d->L, nres = nx + 2 * (size_t)d->Bmax;
    bool ig = o->method == DM_SAL_IG;
    d->d_lab = op->alloc(d->be, (size_t)d->Bmax);
    d->d_res = op->alloc(d->be, sizeof(float) * nres);
    d->h_res = malloc(sizeof(float) * nres);
    d->cls = malloc(sizeof(int) * (size_t)d->Bmax);
    bool ok = d->d_lab && d->d_res && d->h_res && d->cls;
    if (o->method == DM_SAL_ISM) {
        d->d_scores = op->alloc(d->be, sizeof(float) * (size_t)d->Bmax * (4 * (size_t)d->L + 1));
        ok = ok && d->d_scores;
        const char *env = getenv("DM_ISM");   /* "full": the reference path (comparisons, benches) */
        if (ok && !o->ism_full && !(env && strcmp(env, "full") == 0)) {
            dm_status st = dm_ism_fast_create(&d->fast, m);
            if (st) {
                dm_sal_dev_free(d);
                return st;
            }
        }
    }
    if (ig) {
        d->d_x = op->alloc(d->be, sizeof(float) * nx);
        d->d_x0 = op->alloc(d->be, sizeof(float) * nx);
        d->d_sum = op->alloc(d->be, sizeof(float) * nx);
        d->h_x0 = malloc(sizeof(float) * nx);
        ok = ok && d->d_x && d->d_x0 && d->d_sum && d->h_x0;
        if (ok && !o->shuffle_baseline) {   /* the all-zero baseline, set once */
            op->memset0(d->be, d->d_x0, sizeof(float) * nx);
            memset(d->h_x0, 0, sizeof(float) * nx);
        }
    }
    if (op->graph_begin && o->method != DM_SAL_ISM) {
        d->d_border = op->alloc(d->be, sizeof(int32_t) * (size_t)d->Bmax);
        d->d_bg2 = op->alloc(d->be, sizeof(float) * 2 * (size_t)d->Bmax);
        ok = ok && d->d_border && d->d_bg2;
    }
    if (!ok) {
        dm_sal_dev_free(d);
        return dm_error(DM_STATUS_NOMEM, "saliency: out of backend memory for a batch of %d", d->Bmax);
    }
    *out = d;
    return dm_backend_status(d->be);
}

/* Chunk-sized buffers for n rows (kept when they are large enough). */
static dm_status reserve(dm_sal_dev *d, int64_t n) {
    if (n <= d->cap) return DM_STATUS_OK;
    drop_graph(d);   /* it reads the chunk's buffers */
    const struct dm_backend_i *op = d->be->i;
    void *dev[] = {d->d_packed, d->d_packed0, d->d_labels, d->d_order, d->d_g2, d->d_cls};
    for (size_t k = 0; k < sizeof dev / sizeof dev[0]; k++)
        if (dev[k]) op->free(d->be, dev[k]);
    free(d->h_packed);
    free(d->h_shuf);
    free(d->h_g2);
    free(d->h_lab0);
    free(d->h_cls);
    d->d_packed0 = NULL;
    d->h_shuf = NULL;
    d->cap = 0;
    size_t nn = (size_t)n;
    bool shuf = d->o.method == DM_SAL_IG && d->o.shuffle_baseline;
    d->d_packed = op->alloc(d->be, nn * (size_t)d->rb);
    d->d_labels = op->alloc(d->be, nn);
    d->d_order = op->alloc(d->be, sizeof(int32_t) * nn);
    d->d_g2 = op->alloc(d->be, sizeof(float) * 2 * nn);
    d->h_packed = malloc(nn * (size_t)d->rb);
    d->h_g2 = malloc(sizeof(float) * 2 * nn);
    d->h_lab0 = calloc(nn, 1);
    d->d_cls = op->alloc(d->be, nn);
    d->h_cls = malloc(nn);
    bool ok = d->d_packed && d->d_labels && d->d_order && d->d_g2 && d->h_packed && d->h_g2 && d->h_lab0 &&
              d->d_cls && d->h_cls;
    if (ok && shuf) {
        d->d_packed0 = op->alloc(d->be, nn * (size_t)d->rb);
        d->h_shuf = malloc(nn * (size_t)d->L);
        ok = d->d_packed0 && d->h_shuf;
    }
    if (!ok) return dm_error(DM_STATUS_NOMEM, "saliency: out of memory for %lld resident sequences", (long long)n);
    int32_t *order = (int32_t *)d->h_g2;   /* staging: 8 bytes per row, the order needs 4 */
    for (int64_t r = 0; r < n; r++) order[r] = (int32_t)r;
    op->upload(d->be, d->d_order, order, sizeof(int32_t) * nn);
    d->cap = n;
    return dm_backend_status(d->be);
}

dm_status dm_sal_dev_load(dm_sal_dev *d, const uint8_t *codes, const int8_t *labels, int64_t n, int64_t row0) {
    if (n < 1 || n > INT32_MAX) return dm_error(DM_STATUS_ARG, "saliency: %lld rows to load (1..2^31−1)", (long long)n);
    DM_TRY(reserve(d, n));
    const struct dm_backend_i *op = d->be->i;
    int L = d->L;
    float sign = d->o.method == DM_SAL_ORIGINAL ? -1.0f : 1.0f;   /* DeMo's map: the loss −log p_y */
    for (int64_t r0 = 0; r0 < n; r0 += d->Bmax) {   /* ∂S/∂logprob per row, as saliency.c sets it */
        int B = (int)(n - r0 < d->Bmax ? n - r0 : d->Bmax);
        DM_TRY(dm_sal_classes(labels ? labels + r0 : NULL, B, d->by_label, d->cls));
        for (int b = 0; b < B; b++) {
            d->h_cls[r0 + b] = (int8_t)d->cls[b];
            d->h_g2[2 * (r0 + b) + d->cls[b]] = sign;
            d->h_g2[2 * (r0 + b) + 1 - d->cls[b]] = 0.0f;
        }
    }
    for (int64_t r = 0; r < n; r++) dm_pack_row(d->h_packed + r * d->rb, codes + r * L, L);
    op->upload(d->be, d->d_packed, d->h_packed, (size_t)n * d->rb);
    op->upload(d->be, d->d_labels, labels ? labels : d->h_lab0, (size_t)n);
    op->upload(d->be, d->d_g2, d->h_g2, sizeof(float) * 2 * (size_t)n);
    op->upload(d->be, d->d_cls, d->h_cls, (size_t)n);
    if (d->h_shuf) {   /* IG's baseline of row r: a dinucleotide shuffle of its bases (N and padding as N) */
        uint8_t *c = malloc((size_t)L);
        if (!c) return dm_error(DM_STATUS_NOMEM, "saliency: out of memory");
        for (int64_t r = 0; r < n; r++) {
            for (int l = 0; l < L; l++) c[l] = codes[r * L + l] < 4 ? codes[r * L + l] : DM_BASE_N;
            dm_dinuc_shuffle(d->h_shuf + r * L, c, (size_t)L, d->o.seed, (uint64_t)(row0 + r));
            dm_pack_row(d->h_packed + r * d->rb, d->h_shuf + r * L, L);
        }
        free(c);
        op->upload(d->be, d->d_packed0, d->h_packed, (size_t)n * d->rb);
    }
    d->n = n;
    d->row0 = row0;
    return dm_backend_status(d->be);
}

/* The result buffer's B rows of attributions and log-probabilities, downloaded at once: attr and
 * P(pos) = exp(log P(pos)) (as dm_net_scores). */
static void fetch_copy(dm_sal_dev *d, const float *grad, int B) {
    const struct dm_backend_i *op = d->be->i;
    size_t nx = 4 * (size_t)B * d->L;
    op->copy(d->be, d->d_res, grad, sizeof(float) * nx);
    op->copy(d->be, d->d_res + nx, dm_net_logprob_buf(d->m), sizeof(float) * 2 * (size_t)B);
}

static dm_status fetch(dm_sal_dev *d, int B, float *attr, float *p_pos) {
    const struct dm_backend_i *op = d->be->i;
    size_t nx = 4 * (size_t)B * d->L;
    op->download(d->be, d->h_res, d->d_res, sizeof(float) * (nx + 2 * (size_t)B));
    DM_TRY(dm_backend_status(d->be));
    memcpy(attr, d->h_res, sizeof(float) * nx);
    for (int b = 0; b < B; b++) p_pos[b] = expf(d->h_res[nx + 2 * (size_t)b]);
    return DM_STATUS_OK;
}

/* The backend work of an IG batch on rows `order` (B) with ∂S/∂logprob rows g2, up to the result
 * buffer (the same for every batch of B rows: recordable). */
static dm_status ig_work(dm_sal_dev *d, const int32_t *order, const float *g2, int B) {
    dm_net *m = d->m;
    dm_backend *be = d->be;
    const struct dm_backend_i *op = be->i;
    int L = d->L, steps = d->o.steps > 0 ? d->o.steps : 64;
    size_t n = 4 * (size_t)B * L;
    op->gather(be, d->d_x, d->d_lab, d->d_packed, d->d_labels, order, B, L, d->o.n_quarter);
    if (d->h_shuf)   /* baseline rows: one-hot of the shuffle, N (never present after it) a zero row */
        op->gather(be, d->d_x0, d->d_lab, d->d_packed0, d->d_labels, order, B, L, false);
    op->memset0(be, d->d_sum, sizeof(float) * n);
    dm_status st = DM_STATUS_OK;
    for (int k = 0; k < steps && !st; k++) {
        float a = ((float)k + 0.5f) / (float)steps;
        op->lerp(be, dm_net_input(m), d->d_x0, d->d_x, a, (int64_t)n);
        st = dm_net_forward_input(m, B, false, 0, 0);
        if (!st) st = dm_net_backward_input(m, g2, B);
        if (!st) op->axpy(be, d->d_sum, dm_net_input_grad(m), 1.0f, (int64_t)n);
    }
    if (!st) {   /* the score of the input itself, fetched with the sum */
        op->copy(be, dm_net_input(m), d->d_x, sizeof(float) * n);
        st = dm_net_forward_input(m, B, false, 0, 0);
    }
    if (!st) fetch_copy(d, d->d_sum, B);
    return st;
}

/* The backend work of a gradient batch (saliency, original, input×gradient, ...). */
static dm_status grad_work(dm_sal_dev *d, const int32_t *order, const float *g2, int B) {
    dm_net *m = d->m;
    dm_backend *be = d->be;
    be->i->gather(be, dm_net_input(m), d->d_lab, d->d_packed, d->d_labels, order, B, d->L, d->o.n_quarter);
    DM_TRY(dm_net_forward_input(m, B, false, 0, 0));
    DM_TRY(dm_net_backward_input(m, g2, B));
    fetch_copy(d, dm_net_input_grad(m), B);
    return DM_STATUS_OK;
}

/* Runs a batch's backend work for rows i .. i + B − 1. A full batch on a backend with graphs: the
 * rows are copied into d_border and d_bg2, the first such batch runs plainly (scratch grows), the
 * second is recorded, and every later one replays the recording. */
static dm_status batch_work(dm_sal_dev *d, int64_t i, int B) {
    dm_backend *be = d->be;
    const struct dm_backend_i *op = be->i;
    dm_status (*work)(dm_sal_dev *, const int32_t *, const float *, int) =
        d->o.method == DM_SAL_IG ? ig_work : grad_work;
    if (!d->d_border || B != d->Bmax || d->graphs_off) return work(d, d->d_order + i, d->d_g2 + 2 * i, B);
    op->copy(be, d->d_border, d->d_order + i, sizeof(int32_t) * (size_t)B);
    op->copy(be, d->d_bg2, d->d_g2 + 2 * i, sizeof(float) * 2 * (size_t)B);
    if (!d->warm) {
        d->warm = true;
        return work(d, d->d_border, d->d_bg2, B);
    }
    if (!d->graph) {
        if (!op->graph_begin(be)) {
            d->graphs_off = true;
            return work(d, d->d_border, d->d_bg2, B);
        }
        dm_status st = work(d, d->d_border, d->d_bg2, B);
        d->graph = op->graph_end(be);
        if (st) return st;
        if (!d->graph) return dm_backend_status(be);
    }
    op->graph_launch(be, d->graph);
    return dm_backend_status(be);
}

/* Integrated gradients on the resident rows (saliency.c's integrated_gradients, same path). */
static dm_status ig_batch(dm_sal_dev *d, int64_t i, int B, const float *x, float *attr, float *p_pos) {
    int L = d->L, steps = d->o.steps > 0 ? d->o.steps : 64;
    size_t n = 4 * (size_t)B * L;
    if (d->h_shuf) {   /* the host's copy of the baseline rows */
        memset(d->h_x0, 0, sizeof(float) * n);
        const uint8_t *cs = d->h_shuf + i * L;
        for (size_t r = 0; r < (size_t)B * L; r++)
            if (cs[r] < 4) d->h_x0[4 * r + cs[r]] = 1.0f;
    }
    DM_TRY(batch_work(d, i, B));
    DM_TRY(fetch(d, B, attr, p_pos));
    if (d->o.center)   /* the path-averaged gradient, corrected before it meets (x − x0) */
        for (size_t r = 0; r < n; r += 4) {
            float mean = 0.25f * (attr[r] + attr[r + 1] + attr[r + 2] + attr[r + 3]);
            for (int c = 0; c < 4; c++) attr[r + c] -= mean;
        }
    for (size_t j = 0; j < n; j++) attr[j] = attr[j] / (float)steps * (x[j] - d->h_x0[j]);
    return DM_STATUS_OK;
}

/* In-silico mutagenesis on the resident rows (saliency.c's mutagenesis, the same forward batches; with
 * a conv model, unless ism_full or DM_ISM=full, each batch by receptive-field windows, ism_fast.h):
 * the variants are written on the backend from the packed codes, each forward batch's class scores
 * collected there, and the differences to the unchanged sequence's score reduced there; only the
 * (B, L, 4) effects and P(pos) come back. */
static dm_status ism_batch(dm_sal_dev *d, int64_t i, int B, const float *x, float *attr, float *p_pos) {
    dm_net *m = d->m;
    dm_backend *be = d->be;
    const struct dm_backend_i *op = be->i;
    int L = d->L, nvar = 4 * L;
    size_t stride = (size_t)nvar + 1;
    for (int b = 0; b < B; b++) {
        int64_t r = i + b;
        const uint8_t *row = d->d_packed + r * d->rb;
        float *sc = d->d_scores + (size_t)b * stride;
        if (d->fast) {   /* the windows' cache: the prefix on the row itself */
            op->gather(be, dm_net_input(m), d->d_lab, d->d_packed, d->d_labels, d->d_order + r, 1, L, d->o.n_quarter);
            DM_TRY(dm_ism_fast_reference(d->fast, dm_net_input(m)));
        }
        for (int v0 = 0; v0 < nvar; v0 += d->Bmax) {
            int nv = nvar - v0 < d->Bmax ? nvar - v0 : d->Bmax;
            if (nv > 4096) nv = 4096;
            op->ism_variants(be, dm_net_input(m), row, v0, nv, L, d->o.n_quarter);
            DM_TRY(d->fast ? dm_ism_fast_forward(d->fast, v0, nv) : dm_net_forward_input(m, nv, false, 0, 0));
            op->ism_collect(be, sc + v0, dm_net_logprob_buf(m), d->h_cls[r], nv);
        }
        bool base = false;   /* a one-hot position: its unchanged variant is the reference */
        for (int64_t k = (int64_t)b * L * 4; k < (int64_t)(b + 1) * L * 4 && !base; k++) base = x[k] == 1.0f;
        if (!base) {         /* none: score the row itself */
            op->gather(be, dm_net_input(m), d->d_lab, d->d_packed, d->d_labels, d->d_order + r, 1, L, d->o.n_quarter);
            DM_TRY(dm_net_forward_input(m, 1, false, 0, 0));
            op->ism_collect(be, sc + nvar, dm_net_logprob_buf(m), d->h_cls[r], 1);
        }
    }
    size_t na = (size_t)B * nvar;
    op->ism_reduce(be, d->d_res, d->d_res + na, d->d_scores, d->d_packed + i * d->rb, d->d_cls + i, B, L);
    op->download(be, d->h_res, d->d_res, sizeof(float) * (na + (size_t)B));
    DM_TRY(dm_backend_status(be));
    memcpy(attr, d->h_res, sizeof(float) * na);
    memcpy(p_pos, d->h_res + na, sizeof(float) * (size_t)B);
    dm_sal_finish(&d->o, attr, x, B, L);
    return DM_STATUS_OK;
}

dm_status dm_sal_dev_batch(dm_sal_dev *d, int64_t i, int B, const float *x, float *attr, float *p_pos) {
    if (B < 1 || B > d->Bmax || i < 0 || i + B > d->n)
        return dm_error(DM_STATUS_ARG, "saliency: rows %lld..%lld outside the loaded %lld or the batch %d",
                        (long long)i, (long long)(i + B), (long long)d->n, d->Bmax);
    if (d->o.method == DM_SAL_ISM) return ism_batch(d, i, B, x, attr, p_pos);
    if (d->o.method == DM_SAL_IG) return ig_batch(d, i, B, x, attr, p_pos);
    DM_TRY(batch_work(d, i, B));
    DM_TRY(fetch(d, B, attr, p_pos));
    dm_sal_finish(&d->o, attr, x, B, d->L);
    return DM_STATUS_OK;
}
