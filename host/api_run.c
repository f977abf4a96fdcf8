/*
 * api_run.c: the computations of the public API over a dm_model: dm_train, dm_predict,
 * dm_saliency, dm_temporal, dm_optimize, dm_motifs. Each builds an engine dm_net on the caller's
 * backend for the call (allocation, once per call), holding the model's parameters, and runs the
 * engine's own loops (train.c, saliency.c, model.c, optimize.c, motifs.c), so the numbers are the
 * command line's.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "arch.h"
#include "motifs.h"
#include "netio.h"
#include "optimize.h"
#include "predavg.h"
#include "saliency.h"
#include "train.h"

/* Rows between progress reports (and cancellation checks) of the per-row loops: a multiple of the
 * batch, so the batches (hence the numbers) are those of one uninterrupted loop. */
static int64_t report_rows(int32_t batch) { return (int64_t)batch * 16; }

static dm_status report(dm_progress_fn fn, void *ctx, const char *what, int64_t done, int64_t total, double t0) {
    if (!fn) return DM_STATUS_OK;
    dm_progress p = {.what = what, .done = done, .total = total, .train_loss = NAN, .valid_loss = NAN,
                     .valid_auroc = NAN, .seconds = dm_now() - t0, .batch_loss = NAN};
    if (fn(ctx, &p) != 0) return dm_error(DM_STATUS_CANCELLED, "%s: cancelled by the progress callback", what);
    return DM_STATUS_OK;
}

/* ---- options ------------------------------------------------------------------------------ */

void dm_train_opts_default(dm_train_opts *o) {
    dm_train_options e;
    dm_train_options_default(&e, DM_PROTOCOL_DEFAULT);
    *o = (dm_train_opts){.protocol = 0, .epochs = e.epochs, .batch = e.batch, .lr = e.lr,
                         .lr_halve_every = e.lr_halve_every, .clip = e.clip, .patience = e.patience,
                         .rc = -1 /* the default: both strands */, .seed = e.seed, .ema = e.ema,
                         .restarts = -1 /* the default: e.restarts */,
                         .fresh_negatives = -1 /* the default: where the set pairs them */};
}

void dm_saliency_opts_default(dm_saliency_opts *o) {
    *o = (dm_saliency_opts){.method = DM_SALIENCY_GRAD, .target = DM_TARGET_POSITIVE, .center = 0, .steps = 64,
                            .shuffle_baseline = 0, .batch = 256, .seed = 1};
}

void dm_optimize_opts_default(dm_optimize_opts *o) {
    dm_optimize_options e;
    dm_optimize_options_default(&e);
    *o = (dm_optimize_opts){.restarts = e.restarts, .steps = e.steps, .lr = e.lr, .lambda = e.lambda,
                            .alpha = e.alpha, .eps = e.eps, .softmax = e.softmax, .seed = e.seed,
                            .report_every = 10};
}

void dm_motifs_opts_default(dm_motifs_opts *o) {
    dm_motifs_options e;
    dm_motifs_options_default(&e);
    *o = (dm_motifs_opts){.frac = e.frac, .min_sites = e.min_sites, .batch = 256};
}

/* ---- inputs as base codes ----------------------------------------------------------------- */

/* A data set view of `in` (codes and labels, nothing else: what the engine's data loops read).
 * One-hot input is turned back into codes: a row with one 1 is that base, an all-zero row padding
 * (always encoded as zeros), 0.25 everywhere N (encoded as 0.25 when `quarter`, which it must then
 * be); anything else is _ARG (training and motifs need sequences). *owned receives what to free. */
static dm_status as_codes(const dm_input *in, const char *what, bool quarter, dm_dataset *ds, void **owned) {
    *owned = NULL;
    memset(ds, 0, sizeof *ds);
    ds->n = in->n;
    ds->len = in->len;
    ds->label = (int8_t *)in->labels;
    if (in->codes) {
        ds->seq = (uint8_t *)in->codes;   /* the engine only reads it */
        return DM_STATUS_OK;
    }
    size_t nc = (size_t)in->n * (size_t)in->len;
    uint8_t *c = malloc(nc ? nc : 1);
    if (!c) return dm_error(DM_STATUS_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < nc; i++) {
        const float *r = in->onehot + 4 * i;
        int ones = 0, zeros = 0, quarters = 0, base = 0;
        for (int k = 0; k < 4; k++) {
            if (r[k] == 1.0f) ones++, base = k;
            else if (r[k] == 0.0f) zeros++;
            else if (r[k] == 0.25f) quarters++;
        }
        if (ones == 1 && zeros == 3) c[i] = (uint8_t)base;
        else if (zeros == 4) c[i] = DM_BASE_PAD;
        else if (quarters == 4 && quarter) c[i] = DM_BASE_N;
        else {
            free(c);
            return dm_error(DM_STATUS_ARG, "%s: sequence %lld, position %lld is not one-hot (%g %g %g %g): this call "
                            "needs sequences (one-hot rows, zero rows, 0.25 rows for N%s, or base codes)", what,
                            (long long)(i / (size_t)in->len), (long long)(i % (size_t)in->len), r[0], r[1], r[2],
                            r[3], quarter ? "" : " when the codes of the same call use n_quarter 1");
        }
    }
    ds->seq = c;
    *owned = c;
    return DM_STATUS_OK;
}

/* ---- training ----------------------------------------------------------------------------- */

/* Fresh negatives from arrays: each row's length (up to its last base that is not padding) and
 * group, a negative right after a positive of its composition sharing the positive's group (as
 * labelled FASTA and TSV files are read). One block, *owned, holds both arrays. */
static dm_status with_pairs(dm_dataset *ds, void **owned) {
    size_t n = (size_t)ds->n;
    void *p = malloc(n * (sizeof(int64_t) + sizeof(int32_t)) + 1);
    if (!p) return dm_error(DM_STATUS_NOMEM, "dm_train: out of memory for the fresh negatives' pairs");
    ds->group = p;
    ds->seq_len = (int32_t *)(ds->group + n);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *row = ds->seq + i * (size_t)ds->len;
        int32_t m = ds->len;
        while (m > 0 && row[m - 1] == DM_BASE_PAD) m--;
        ds->seq_len[i] = m;
        ds->group[i] = (int64_t)i;
    }
    dm_dataset_pair_shuffles(ds);
    *owned = p;
    return DM_STATUS_OK;
}

typedef struct train_ctx {
    dm_progress_fn fn;
    void *ctx;
    const dm_provenance *prov;
    int32_t epochs;
    volatile sig_atomic_t stop;
    double t0;
} train_ctx;

static dm_status train_hook(void *vctx, const dm_train_checkpoint *c) {
    train_ctx *t = vctx;
    if (!t->fn || c->stopping || c->batch_done > 0 || t->stop) return DM_STATUS_OK;
    const dm_provenance *p = t->prov;
    const dm_epoch_log *row = p->n_epochs > 0 ? &p->log[p->n_epochs - 1] : NULL;
    dm_progress pr = {.what = "train", .done = c->epoch, .total = t->epochs, .epoch = c->epoch,
                      .train_loss = row ? row->train_loss : NAN, .valid_loss = row ? row->valid_loss : NAN,
                      .valid_auroc = row ? row->valid_auroc : NAN, .seconds = dm_now() - t->t0,
                      .batch = 0, .n_batches = (int32_t)c->n_batches, .batch_loss = NAN};
    if (t->fn(t->ctx, &pr) != 0) t->stop = 1;
    return DM_STATUS_OK;
}

/* After every batch: a report; a non-zero answer sets the engine's stop flag, which it honours
 * before the next batch (dm_train then returns _CANCELLED without touching the model). */
static dm_status train_batch_hook(void *vctx, const dm_train_batch *b) {
    train_ctx *t = vctx;
    if (t->stop) return DM_STATUS_OK;
    dm_progress pr = {.what = "train", .done = b->epoch - 1, .total = t->epochs, .epoch = b->epoch,
                      .train_loss = NAN, .valid_loss = NAN, .valid_auroc = NAN, .seconds = dm_now() - t->t0,
                      .batch = (int32_t)b->batch, .n_batches = (int32_t)b->n_batches, .batch_loss = b->loss};
    if (t->fn(t->ctx, &pr) != 0) t->stop = 1;
    return DM_STATUS_OK;
}

static dm_status train_labels(const dm_input *in, const char *what) {
    for (int64_t i = 0; i < in->n; i++)
        if (in->labels[i] != 0 && in->labels[i] != 1)
            return dm_error(DM_STATUS_ARG, "%s: sequence %lld has no label (training needs 1 or 0)", what, (long long)i);
    return DM_STATUS_OK;
}

dm_status dm_train(dm_model *m, dm_backend *be, const dm_input *train, const dm_input *valid,
                   const dm_train_opts *o, dm_progress_fn progress, void *ctx) {
    if (!o) return dm_error(DM_STATUS_ARG, "dm_train: no options (dm_train_opts_default gives them)");
    DM_TRY(dm_api_check_input(m, train, "dm_train: train", true));
    DM_TRY(train_labels(train, "dm_train: train"));
    if (train->n == 0) return dm_error(DM_STATUS_ARG, "dm_train: no training sequences");
    if (valid) {
        DM_TRY(dm_api_check_input(m, valid, "dm_train: valid", true));
        DM_TRY(train_labels(valid, "dm_train: valid"));
    }
    if (o->protocol != 0 && o->protocol != 1) return dm_error(DM_STATUS_ARG, "dm_train: protocol %d (0 or 1)", o->protocol);
    /* DM_TRAIN_BY_SIZE (-1): by the training set's size, as the CLI (dm_train_options_for_size) */
    if ((o->epochs < 1 && o->epochs != DM_TRAIN_BY_SIZE) || o->epochs > DM_MAX_EPOCHS)
        return dm_error(DM_STATUS_ARG, "dm_train: epochs %d (1..%d, or -1: by the set's size)", o->epochs, DM_MAX_EPOCHS);
    if ((o->batch < 1 && o->batch != DM_TRAIN_BY_SIZE) || o->batch > (1 << 16))
        return dm_error(DM_STATUS_ARG, "dm_train: batch %d (1..65536, or -1: by the set's size)", o->batch);
    if (!(o->lr > 0 || o->lr == DM_TRAIN_BY_SIZE) || !isfinite(o->lr))
        return dm_error(DM_STATUS_ARG, "dm_train: learning rate %g (positive, or -1: by the batch)", o->lr);
    if ((o->lr_halve_every < 0 && o->lr_halve_every != DM_TRAIN_BY_SIZE) ||
        (o->patience < 0 && o->patience != DM_TRAIN_BY_SIZE) || !(o->clip >= 0))
        return dm_error(DM_STATUS_ARG, "dm_train: lr_halve_every and patience must be >= 0 or -1 (by the set's "
                        "size), clip >= 0");
    if (!(o->ema == DM_TRAIN_BY_SIZE || (o->ema >= 0 && o->ema < 1)))
        return dm_error(DM_STATUS_ARG, "dm_train: ema %g (0 to 1, or -1: by the set's size)", (double)o->ema);
    if (o->ema > 0 && o->protocol)
        return dm_error(DM_STATUS_ARG, "dm_train: ema with the original protocol (it keeps a training pass's weights)");
    if (o->restarts < -1 || o->restarts > 1000)
        return dm_error(DM_STATUS_ARG, "dm_train: restarts %d (0..1000, or -1: the default)", (int)o->restarts);
    if (o->fresh_negatives < -1 || o->fresh_negatives > 1)
        return dm_error(DM_STATUS_ARG, "dm_train: fresh_negatives %d (0 off, 1 on, -1 the default: on where the "
                        "training set pairs a negative with the positive it shuffles)", (int)o->fresh_negatives);
    if (o->fresh_negatives == 1 && o->protocol)
        return dm_error(DM_STATUS_ARG, "dm_train: fresh_negatives with the original protocol (it trains on the "
                        "data as given)");
    if (o->rc < -1 || o->rc > 3)
        return dm_error(DM_STATUS_ARG, "dm_train: rc %d (0 none, 1 augment, 2 average, 3 both, -1 the default)", o->rc);
    /* the N policy: the codes' (one-hot rows of 0.25 are N under the quarter policy) */
    if (train->codes && valid && valid->codes && (train->n_quarter != 0) != (valid->n_quarter != 0))
        return dm_error(DM_STATUS_ARG, "dm_train: train and valid use different N policies (n_quarter)");
    bool quarter = train->codes ? train->n_quarter != 0 : valid && valid->codes ? valid->n_quarter != 0 : true;

    dm_train_options e;
    dm_train_options_default(&e, o->protocol ? DM_PROTOCOL_ORIGINAL : DM_PROTOCOL_DEFAULT);
    e.epochs = o->epochs;
    e.batch = o->batch;
    e.lr = o->lr;
    e.lr_halve_every = o->lr_halve_every;
    e.clip = o->clip;
    e.patience = o->patience;
    e.ema = o->protocol && o->ema < 0 ? 0.0f : o->ema;
    if (o->restarts >= 0) e.restarts = o->restarts;   /* -1: the protocol's default */
    e.seed = o->seed;
    /* -1: on where the training set pairs them, off under the original protocol (dm_net_train decides) */
    e.fresh_negatives = o->fresh_negatives >= 0 ? o->fresh_negatives : o->protocol ? 0 : DM_TRAIN_BY_DATA;
    e.n_quarter = quarter;
    e.progress = false;
    /* -1: both strands, as `deepmotif train` (README "Reverse complements"); DeMo's loop had none */
    e.rc = o->rc >= 0 ? (uint32_t)o->rc : o->protocol ? 0u : (uint32_t)(DM_RC_AUGMENT | DM_RC_AVERAGE);
    dm_train_options_for_size(&e, train->n, &m->hp);

    dm_dataset tr, va;
    void *own_tr = NULL, *own_va = NULL, *own_pairs = NULL;
    dm_provenance *prov = malloc(sizeof *prov);
    float *params = malloc(sizeof(float) * (size_t)m->n_params);
    dm_net *net = NULL;
    dm_resume_state state = {0};
    dm_train_stop stopped = {0};
    train_ctx t = {.fn = progress, .ctx = ctx, .prov = prov, .epochs = e.epochs, .t0 = dm_now()};
    dm_status s = !prov || !params ? dm_error(DM_STATUS_NOMEM, "dm_train: out of memory") : DM_STATUS_OK;
    if (!s) s = as_codes(train, "dm_train: train", quarter, &tr, &own_tr);
    if (!s && e.fresh_negatives != 0) s = with_pairs(&tr, &own_pairs);
    if (!s) s = dm_train_options_for_data(&e, &tr);
    if (!s && !e.fresh_negatives && own_pairs) {   /* none paired: the rows as the plain run sees them */
        free(own_pairs);
        own_pairs = NULL;
        tr.group = NULL;
        tr.seq_len = NULL;
    }
    if (!s && valid) s = as_codes(valid, "dm_train: valid", quarter, &va, &own_va);
    if (!s) s = dm_api_net(m, be, e.batch, &net);
    if (!s) {
        /* the run's provenance: the model's, with this run's settings, counts and log */
        *prov = *m->prov;
        snprintf(prov->version, sizeof prov->version, "%s", dm_version());
        snprintf(prov->protocol, sizeof prov->protocol, "%s", dm_protocol_name(e.protocol));
        snprintf(prov->device, sizeof prov->device, "%s", dm_backend_name(be));
        snprintf(prov->label, sizeof prov->label, "best");
        dm_utc_now(prov->created_utc);
        prov->seed = o->seed;
        prov->threads = be->n_threads;
        prov->batch = e.batch;
        prov->lr0 = e.lr;
        prov->valid_frac = 0;
        prov->epochs_max = e.epochs;
        prov->epochs_run = prov->best_epoch = 0;
        prov->n_train = train->n;
        prov->n_valid = valid ? valid->n : 0;
        prov->n_test = 0;
        prov->test_auroc = prov->test_auprc = prov->test_accuracy = NAN;
        prov->n_inputs = 0;   /* arrays: no files to record */
        prov->n_epochs = 0;
        prov->restarts = 0;   /* this run's own (the model's earlier training may have restarted) */
        e.checkpoint = train_hook;
        e.checkpoint_ctx = &t;
        e.stop = &t.stop;
        e.stopped = &stopped;
        if (progress) {
            e.on_batch = train_batch_hook;
            e.on_batch_ctx = &t;
        }
        s = dm_net_train(net, &tr, valid ? &va : NULL, &e, prov, &state, NULL);
    }
    if (!s && (t.stop || stopped.signal)) s = dm_error(DM_STATUS_CANCELLED, "dm_train: cancelled by the progress callback");
    if (!s) s = dm_net_get_params(net, params);
    if (!s) {   /* only now is the model changed */
        memcpy(m->params, params, sizeof(float) * (size_t)m->n_params);
        memcpy(m->prov, prov, sizeof *prov);
        free(m->json);
        m->json = NULL;
        dm_ckpt_extra_free(&m->x);   /* one model (an ensemble's members are gone), averaging as trained */
        m->x.rc = e.rc;
    }
    dm_resume_state_free(&state);
    dm_net_free(net);
    free(own_tr);
    free(own_va);
    free(own_pairs);
    free(params);
    free(prov);
    return s;
}

/* ---- prediction --------------------------------------------------------------------------- */

dm_status dm_predict(const dm_model *m, dm_backend *be, const dm_input *in, float *scores,
                     dm_progress_fn progress, void *ctx) {
    DM_TRY(dm_api_check_input(m, in, "dm_predict", false));
    if (!scores && in->n) return dm_error(DM_STATUS_ARG, "dm_predict: scores is NULL");
    const int32_t batch = 256, L = in->len;   /* `deepmotif predict`'s batch */
    int32_t B0 = in->n < batch ? (int32_t)(in->n > 0 ? in->n : 1) : batch;
    int64_t step = report_rows(B0);
    dm_net *net;
    DM_TRY(dm_api_net(m, be, B0, &net));
    int8_t *unknown = NULL;
    dm_status s = DM_STATUS_OK;
    if (in->codes && !in->labels && !(unknown = malloc((size_t)step)))
        s = dm_error(DM_STATUS_NOMEM, "dm_predict: out of memory");
    if (unknown) memset(unknown, DM_LABEL_UNKNOWN, (size_t)step);
    double t0 = dm_now();
    for (int64_t i = 0; !s && i < in->n; i += step) {
        int64_t nr = in->n - i < step ? in->n - i : step;
        if (in->codes) {   /* packed on the backend and one-hot encoded there, as the CLI does */
            dm_dataset ds = {.n = nr, .len = L, .seq = (uint8_t *)in->codes + (size_t)i * L,
                             .label = in->labels ? (int8_t *)in->labels + i : unknown};
            s = dm_net_predict(net, &ds, in->n_quarter != 0, scores + i);
        } else {
            for (int64_t j = 0; !s && j < nr; j += B0) {
                int32_t B = (int32_t)(nr - j < B0 ? nr - j : B0);
                s = dm_net_score_onehot(net, in->onehot + (size_t)(i + j) * L * 4, B, scores + i + j);
            }
        }
        if (!s) s = report(progress, ctx, "predict", i + nr, in->n, t0);
    }
    free(unknown);
    dm_net_free(net);
    return s;
}

/* ---- saliency ------------------------------------------------------------------------------ */

dm_status dm_saliency(const dm_model *m, dm_backend *be, const dm_input *in, const dm_saliency_opts *o,
                      float *attr, float *p_pos, dm_progress_fn progress, void *ctx) {
    if (!o) return dm_error(DM_STATUS_ARG, "dm_saliency: no options (dm_saliency_opts_default gives them)");
    if (o->method < DM_SALIENCY_GRAD || o->method > DM_SALIENCY_ISM)
        return dm_error(DM_STATUS_ARG, "dm_saliency: method %d (0 grad .. 4 ism)", o->method);
    if (o->target != DM_TARGET_POSITIVE && o->target != DM_TARGET_TRUE_LABEL)
        return dm_error(DM_STATUS_ARG, "dm_saliency: target %d (0 positive, 1 true label)", o->target);
    if (o->batch < 1 || o->batch > (1 << 16)) return dm_error(DM_STATUS_ARG, "dm_saliency: batch %d (1..65536)", o->batch);
    if (o->method == DM_SALIENCY_IG && (o->steps < 1 || o->steps > 100000))
        return dm_error(DM_STATUS_ARG, "dm_saliency: steps %d (1..100000)", o->steps);
    bool by_label = o->target == DM_TARGET_TRUE_LABEL || o->method == DM_SALIENCY_ORIGINAL;
    DM_TRY(dm_api_check_input(m, in, "dm_saliency", by_label));
    if (by_label)
        for (int64_t i = 0; i < in->n; i++)
            if (in->labels[i] != 0 && in->labels[i] != 1)
                return dm_error(DM_STATUS_ARG, "dm_saliency: sequence %lld has no label (the original method and the "
                                "true-label target need 1 or 0)", (long long)i);
    if (!attr && in->n) return dm_error(DM_STATUS_ARG, "dm_saliency: attr is NULL");
    static const dm_sal_method methods[] = {DM_SAL_GRAD, DM_SAL_GRAD_X_INPUT, DM_SAL_ORIGINAL, DM_SAL_IG, DM_SAL_ISM};
    dm_saliency_options so = {.method = methods[o->method],
                              .target = o->target == DM_TARGET_TRUE_LABEL ? DM_TARGET_LABEL : DM_TARGET_POS,
                              .center = o->center != 0, .nlc = true, .n_quarter = in->n_quarter != 0,
                              .progress = false, .steps = o->steps, .shuffle_baseline = o->shuffle_baseline != 0,
                              .seed = o->seed};
    const int32_t L = in->len;
    int32_t B0 = in->n < o->batch ? (int32_t)(in->n > 0 ? in->n : 1) : o->batch;
    dm_net *net;
    DM_TRY(dm_api_net(m, be, B0, &net));
    float *x = in->codes ? malloc(sizeof(float) * 4 * (size_t)B0 * L) : NULL;
    float *p = p_pos ? NULL : malloc(sizeof(float) * (size_t)B0);
    dm_status s = (in->codes && !x) || (!p_pos && !p) ? dm_error(DM_STATUS_NOMEM, "dm_saliency: out of memory")
                                                       : DM_STATUS_OK;
    int64_t step = report_rows(B0);
    /* base codes: resident on the backend in chunks of whole batches (sal_dev.c) */
    int64_t chunk = (8192 + B0 - 1) / B0 * (int64_t)B0, c0 = -1;
    dm_sal_dev *dev = NULL;
    if (!s && in->codes) s = dm_sal_dev_create(&dev, net, &so);
    double t0 = dm_now();
    for (int64_t i = 0; !s && i < in->n; i += B0) {
        int32_t B = (int32_t)(in->n - i < B0 ? in->n - i : B0);
        const float *xb = in->onehot ? in->onehot + (size_t)i * L * 4 : x;
        float *ab = attr + (size_t)i * L * 4, *pb = p_pos ? p_pos + i : p;
        if (in->codes) {
            if (c0 < 0 || i >= c0 + chunk) {
                c0 = i;
                int64_t nc = in->n - c0 < chunk ? in->n - c0 : chunk;
                s = dm_sal_dev_load(dev, in->codes + (size_t)c0 * L, in->labels ? in->labels + c0 : NULL, nc, c0);
            }
            dm_onehot_host(x, in->codes + (size_t)i * L, (int64_t)B * L, in->n_quarter != 0);
            if (!s) s = dm_sal_dev_batch(dev, i - c0, B, x, ab, pb);
        } else {
            s = dm_saliency_batch(net, xb, in->labels ? in->labels + i : NULL, B, i, &so, ab, pb);
        }
        if (!s && ((i + B) % step == 0 || i + B == in->n)) s = report(progress, ctx, "saliency", i + B, in->n, t0);
    }
    dm_sal_dev_free(dev);
    free(x);
    free(p);
    dm_net_free(net);
    return s;
}

/* ---- temporal output scores ------------------------------------------------------------------ */

dm_status dm_temporal(const dm_model *m, dm_backend *be, const dm_input *in, float *fwd, float *bwd,
                      dm_progress_fn progress, void *ctx) {
    DM_TRY(dm_api_check_input(m, in, "dm_temporal", false));
    if (!dm_arch_has(&m->hp, DM_LAYER_BILSTM)) {
        char with[256];
        dm_arch_list_having(DM_LAYER_BILSTM, with, sizeof with);
        return dm_error(DM_STATUS_ARG, "dm_temporal: a %s model has no recurrent layer (temporal scores need %s)",
                        dm_arch_name(m->hp.arch), with);
    }
    if ((!fwd || !bwd) && in->n) return dm_error(DM_STATUS_ARG, "dm_temporal: fwd or bwd is NULL");
    const int32_t batch = 64, L = in->len;   /* `deepmotif temporal`'s batch */
    int32_t B0 = in->n < batch ? (int32_t)(in->n > 0 ? in->n : 1) : batch;
    dm_net *net;
    DM_TRY(dm_api_net(m, be, B0, &net));
    float *x = in->codes ? malloc(sizeof(float) * 4 * (size_t)B0 * L) : NULL;
    dm_status s = in->codes && !x ? dm_error(DM_STATUS_NOMEM, "dm_temporal: out of memory") : DM_STATUS_OK;
    int64_t step = report_rows(B0);
    double t0 = dm_now();
    for (int64_t i = 0; !s && i < in->n; i += B0) {
        int32_t B = (int32_t)(in->n - i < B0 ? in->n - i : B0);
        const float *xb = in->onehot ? in->onehot + (size_t)i * L * 4 : x;
        if (in->codes) dm_onehot_host(x, in->codes + (size_t)i * L, (int64_t)B * L, in->n_quarter != 0);
        s = dm_net_temporal(net, xb, B, fwd + (size_t)i * L, bwd + (size_t)i * L);
        if (!s && ((i + B) % step == 0 || i + B == in->n)) s = report(progress, ctx, "temporal", i + B, in->n, t0);
    }
    free(x);
    dm_net_free(net);
    return s;
}

/* ---- class optimisation ---------------------------------------------------------------------- */

typedef struct optimize_ctx {
    dm_progress_fn fn;
    void *ctx;
    double t0;
} optimize_ctx;

static dm_status optimize_step(void *vctx, int32_t done, int32_t steps) {
    optimize_ctx *c = vctx;
    return report(c->fn, c->ctx, "optimize", done, steps, c->t0);
}

dm_status dm_optimize(const dm_model *m, dm_backend *be, const dm_optimize_opts *o, float *ppm, float *x,
                      float *objective, float *p_pos, dm_progress_fn progress, void *ctx) {
    if (!m || !o) return dm_error(DM_STATUS_ARG, "dm_optimize: NULL model or options");
    if (o->restarts < 1 || o->restarts > 4096)
        return dm_error(DM_STATUS_ARG, "dm_optimize: restarts %d (1..4096)", o->restarts);
    if (o->steps < 0 || o->steps > 10000000) return dm_error(DM_STATUS_ARG, "dm_optimize: steps %d", o->steps);
    if (!(o->lr > 0) || !isfinite(o->lr) || !(o->lambda >= 0) || !(o->alpha >= 0 && o->alpha < 1) || !(o->eps > 0))
        return dm_error(DM_STATUS_ARG, "dm_optimize: lr > 0, lambda >= 0, 0 <= alpha < 1 and eps > 0 are needed");
    dm_optimize_options e;
    dm_optimize_options_default(&e);
    e.restarts = o->restarts;
    e.steps = o->steps;
    e.lr = o->lr;
    e.lambda = o->lambda;
    e.alpha = o->alpha;
    e.eps = o->eps;
    e.softmax = o->softmax != 0;
    e.seed = o->seed;
    optimize_ctx oc = {.fn = progress, .ctx = ctx, .t0 = dm_now()};
    if (progress) {
        e.on_step = optimize_step;
        e.on_step_ctx = &oc;
        e.report_every = o->report_every;
    }
    size_t R = (size_t)o->restarts, L = (size_t)m->hp.len;
    /* the engine fills every array: scratch for the ones the caller does not want */
    float *own_ppm = ppm ? NULL : malloc(sizeof(float) * R * L * 4);
    float *own_x = x ? NULL : malloc(sizeof(float) * R * L * 4);
    float *own_obj = objective ? NULL : malloc(sizeof(float) * ((size_t)o->steps + 1) * R);
    float *own_p = p_pos ? NULL : malloc(sizeof(float) * R);
    dm_net *net = NULL;
    dm_status s = (!ppm && !own_ppm) || (!x && !own_x) || (!objective && !own_obj) || (!p_pos && !own_p)
                      ? dm_error(DM_STATUS_NOMEM, "dm_optimize: out of memory") : DM_STATUS_OK;
    if (!s) s = dm_api_net(m, be, o->restarts, &net);
    if (!s) s = dm_net_optimize(net, &e, x ? x : own_x, ppm ? ppm : own_ppm, objective ? objective : own_obj,
                                p_pos ? p_pos : own_p);
    dm_net_free(net);
    free(own_ppm);
    free(own_x);
    free(own_obj);
    free(own_p);
    return s;
}

/* ---- motifs ---------------------------------------------------------------------------------- */

dm_status dm_motifs(const dm_model *m, dm_backend *be, const dm_input *in, const dm_motifs_opts *o,
                    dm_motif_set *out, dm_progress_fn progress, void *ctx) {
    if (!o || !out) return dm_error(DM_STATUS_ARG, "dm_motifs: NULL options or output");
    *out = (dm_motif_set){0};
    DM_TRY(dm_api_check_input(m, in, "dm_motifs", false));
    if (!dm_arch_has(&m->hp, DM_LAYER_CONV)) {
        char with[256];
        dm_arch_list_having(DM_LAYER_CONV, with, sizeof with);
        return dm_error(DM_STATUS_ARG, "dm_motifs: a %s model has no convolution filters (motifs need %s)",
                        dm_arch_name(m->hp.arch), with);
    }
    if (!(o->frac >= 0 && o->frac <= 1)) return dm_error(DM_STATUS_ARG, "dm_motifs: frac %g (0..1)", o->frac);
    if (o->min_sites < 1) return dm_error(DM_STATUS_ARG, "dm_motifs: min_sites %d (>= 1)", o->min_sites);
    if (o->batch < 1 || o->batch > (1 << 16)) return dm_error(DM_STATUS_ARG, "dm_motifs: batch %d (1..65536)", o->batch);
    dm_motifs_options e;
    dm_motifs_options_default(&e);
    e.frac = o->frac;
    e.min_sites = o->min_sites;
    e.n_quarter = in->codes ? in->n_quarter != 0 : true;
    dm_dataset ds;
    void *own = NULL;
    dm_net *net = NULL;
    double t0 = dm_now();
    dm_status s = as_codes(in, "dm_motifs", e.n_quarter, &ds, &own);
    if (!s) s = dm_api_net(m, be, o->batch, &net);
    if (!s) s = dm_motifs_extract(net, &ds, &e, out);
    if (!s) s = report(progress, ctx, "motifs", 2 * in->n, 2 * in->n, t0);
    if (s) dm_motif_set_free(out);
    dm_net_free(net);
    free(own);
    return s;
}
