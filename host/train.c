/*
 * train.c: batched training with Adam, the learning-rate schedule, and model selection.
 *
 * Per epoch (SPEC.md §4, §5): lr = lr0 · 0.5^⌊(epoch−1)/10⌋; batches of 256 in file order (original
 * protocol) or in a seeded permutation drawn anew each epoch (default); each batch: forward with
 * dropout, mean NLL, backward, element-wise clip, Adam. Then the default protocol scores the
 * validation set and keeps a copy of the best weights (early stopping after `patience` epochs without
 * improvement); the original protocol keeps the epoch with the best *training* AUROC, measured on the
 * P(pos) of that epoch's own training passes, as DeMo did, but with a real copy of its weights.
 *
 * Everything random is counter-based (dm_rng.h): the permutation of epoch e is stream `shuffle`
 * index e, dropout masks are keyed by the global step, so a resumed run continues bit-identically.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm_rng.h"
#include "train.h"

void dm_train_options_default(dm_train_options *o, dm_protocol protocol) {
    *o = (dm_train_options){
        .protocol = protocol, .epochs = 50, .batch = 256, .lr = 0.01f, .lr_halve_every = 10,
        .clip = 5.0f, .patience = 5, .seed = 1, .n_quarter = false, .progress = false,
    };
}

const char *dm_protocol_name(dm_protocol p) { return p == DM_PROTOCOL_ORIGINAL ? "original" : "default"; }

/* P(pos) of every row of a resident data set, in file order. */
static dm_status predict_resident(dm_model *m, dm_devdata *d, bool n_quarter, float *scores) {
    int Bmax = dm_model_max_batch(m);
    for (int64_t i = 0; i < d->n; i += Bmax) {
        int B = (int)(d->n - i < Bmax ? d->n - i : Bmax);
        DM_TRY(dm_model_forward_data(m, d, i, B, false, 0, 0, n_quarter));
    }
    return dm_devdata_results(d, scores, 0, NULL);
}

dm_status dm_predict(dm_model *m, const dm_dataset *ds, bool n_quarter, float *scores) {
    if (ds->len != dm_model_hparams(m)->len)
        return dm_error(DM_STATUS_ARG, "data length %d != model length %d", ds->len, dm_model_hparams(m)->len);
    dm_devdata *d;
    DM_TRY(dm_devdata_create(&d, dm_model_backend(m), ds));
    dm_status st = predict_resident(m, d, n_quarter, scores);
    dm_devdata_free(d);
    return st;
}

/* Validation AUROC and mean NLL of `ds` under the current weights. */
static dm_status validate(dm_model *m, const dm_dataset *ds, dm_devdata *d, bool n_quarter,
                          float *scores, double *auroc, double *loss) {
    DM_TRY(predict_resident(m, d, n_quarter, scores));
    double s = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        double p = ds->label[i] == 1 ? scores[i] : 1.0 - scores[i];
        s -= log(p > 1e-30 ? p : 1e-30);
    }
    *loss = s / (double)ds->n;
    *auroc = dm_auroc(scores, ds->label, ds->n);
    return DM_STATUS_OK;
}

static void fmt_duration(char *buf, size_t n, double s) {
    if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static bool has_both_classes(const dm_dataset *ds) {
    bool pos = false, neg = false;
    for (int64_t i = 0; i < ds->n; i++) {
        pos |= ds->label[i] == 1;
        neg |= ds->label[i] == 0;
    }
    return pos && neg;
}

dm_status dm_train(dm_model *m, const dm_dataset *train, const dm_dataset *valid,
                   const dm_train_options *o, dm_provenance *prov, dm_resume_state *state,
                   float *last_params) {
    const dm_hparams *hp = dm_model_hparams(m);
    int64_t n = train->n, np = dm_model_n_params(m);
    int Bmax = dm_model_max_batch(m), B = o->batch < Bmax ? o->batch : Bmax;
    bool original = o->protocol == DM_PROTOCOL_ORIGINAL;
    bool use_valid = !original && valid && valid->n > 0;
    if (n < 1) return dm_error(DM_STATUS_ARG, "no training sequences");
    if (train->len != hp->len) return dm_error(DM_STATUS_ARG, "data length %d != model length %d", train->len, hp->len);
    if (!has_both_classes(train))
        return dm_error(DM_STATUS_ARG, "the training data needs bound and unbound sequences "
                                       "(for positive-only files use --negatives shuffle)");
    for (int64_t i = 0; i < n; i++)
        if (train->label[i] != 0 && train->label[i] != 1)
            return dm_error(DM_STATUS_ARG, "training sequence %s has no label", train->id[i]);
    if (use_valid && !has_both_classes(valid))
        return dm_error(DM_STATUS_ARG, "the validation split holds one class only: use a larger --valid-frac");

    /* every buffer of the loop is allocated here, none inside it; both data sets go to the backend
     * once, packed, and each batch is gathered there */
    dm_devdata *dtrain = NULL, *dvalid = NULL;
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
    float *train_scores = malloc(sizeof(float) * (size_t)n);
    int8_t *train_labels = malloc((size_t)n);
    float *valid_scores = use_valid ? malloc(sizeof(float) * (size_t)valid->n) : NULL;
    if (!state->adam_m) state->adam_m = calloc((size_t)np, sizeof(float));
    if (!state->adam_v) state->adam_v = calloc((size_t)np, sizeof(float));
    if (!state->best_params) state->best_params = calloc((size_t)np, sizeof(float));
    dm_status st = DM_STATUS_OK;
    if (!idx || !train_scores || !train_labels || (use_valid && !valid_scores) ||
        !state->adam_m || !state->adam_v || !state->best_params) {
        st = dm_error(DM_STATUS_NOMEM, "training: out of memory");
        goto done;
    }

    if ((st = dm_devdata_create(&dtrain, dm_model_backend(m), train))) goto done;
    if (use_valid && (st = dm_devdata_create(&dvalid, dm_model_backend(m), valid))) goto done;

    /* fresh start or resume */
    dm_adam opt;
    dm_adam_default(&opt);
    opt.clip = o->clip;
    if (state->epoch_done == 0) {
        state->best_valid = -INFINITY;
        state->best_epoch = 0;
        state->bad_epochs = 0;
        state->adam_t = 0;
        if ((st = dm_model_get_params(m, state->best_params))) goto done;
    } else {
        if ((st = dm_model_set_adam(m, state->adam_m, state->adam_v))) goto done;
    }
    opt.t = state->adam_t;

    prov->seed = o->seed;
    prov->batch = B;
    prov->lr0 = o->lr;
    prov->epochs_max = o->epochs;
    prov->n_train = n;
    prov->n_valid = use_valid ? valid->n : 0;
    snprintf(prov->protocol, sizeof prov->protocol, "%s", dm_protocol_name(o->protocol));
    int64_t n_batches = (n + B - 1) / B;
    double t_start = dm_now();
    /* the in-epoch progress line rewrites itself: only on a terminal; logs get one line per epoch */
    bool live = o->progress && isatty(fileno(stderr));

    for (int epoch = state->epoch_done + 1; epoch <= o->epochs; epoch++) {
        double t_epoch = dm_now(), t_last_print = 0, loss_sum = 0;
        opt.lr = (float)(o->lr * pow(0.5, (epoch - 1) / (o->lr_halve_every > 0 ? o->lr_halve_every : 1 << 30)));
        /* batch order: file order (original) or this epoch's seeded permutation */
        for (int64_t i = 0; i < n; i++) idx[i] = i;
        if (!original) {
            dm_rng r;
            dm_rng_init(&r, o->seed, DM_STREAM_SHUFFLE, (uint64_t)epoch);
            for (int64_t i = n - 1; i > 0; i--) {
                int64_t j = (int64_t)(dm_rng_u64(&r) % (uint64_t)(i + 1));
                int64_t t = idx[i]; idx[i] = idx[j]; idx[j] = t;
            }
        }
        if ((st = dm_devdata_set_order(dtrain, idx))) goto done;
        for (int64_t k = 0; k < n_batches; k++) {
            int64_t i0 = k * B;
            int Bk = (int)(n - i0 < B ? n - i0 : B);
            dm_model_zero_grad(m);
            if ((st = dm_model_forward_data(m, dtrain, i0, Bk, true, o->seed, (uint64_t)opt.t, o->n_quarter)) ||
                (st = dm_model_backward_data(m, dtrain, i0, Bk, (double)Bk)) ||
                (st = dm_model_adam_step(m, &opt)))
                goto done;
            double now = dm_now();
            if (live && (now - t_last_print > 0.5 || k == n_batches - 1)) {
                /* the running loss is a host copy: only worth it when someone watches */
                if ((st = dm_devdata_results(dtrain, NULL, i0 + Bk, &loss_sum))) goto done;
                double rate = (double)(i0 + Bk) / (now - t_epoch);
                double left = ((double)(o->epochs - epoch) * n + (double)(n - i0 - Bk)) / rate;
                char eta[32];
                fmt_duration(eta, sizeof eta, left);
                fprintf(stderr, "\repoch %d/%d  batch %lld/%lld  loss %.4f  %.0f seq/s  ETA %s (max)   ",
                        epoch, o->epochs, (long long)k + 1, (long long)n_batches, loss_sum / (double)(i0 + Bk),
                        rate, eta);
                t_last_print = now;
            }
        }
        /* the epoch's scores and losses come back once */
        if ((st = dm_devdata_results(dtrain, train_scores, n, &loss_sum))) goto done;
        for (int64_t i = 0; i < n; i++) train_labels[i] = train->label[idx[i]];
        if (!isfinite(loss_sum)) {
            st = dm_error(DM_STATUS_ARG, "training diverged in epoch %d (loss %g): lower --lr", epoch, loss_sum / (double)n);
            goto done;
        }

        /* end of epoch: validation and selection */
        dm_epoch_log row = {.epoch = epoch, .lr = opt.lr, .train_loss = loss_sum / (double)n,
                            .valid_loss = NAN, .valid_auroc = NAN};
        double criterion;
        if (use_valid) {
            if ((st = validate(m, valid, dvalid, o->n_quarter, valid_scores, &row.valid_auroc, &row.valid_loss)))
                goto done;
            criterion = row.valid_auroc;
        } else if (original) {
            criterion = dm_auroc(train_scores, train_labels, n);   /* DeMo's training AUROC */
        } else {
            criterion = (double)epoch;                                /* no validation: the last epoch */
        }
        row.seconds = dm_now() - t_epoch;
        if (prov->n_epochs < DM_MAX_EPOCHS) prov->log[prov->n_epochs++] = row;
        bool better = criterion > state->best_valid;
        if (better) {
            state->best_valid = criterion;
            state->best_epoch = epoch;
            state->bad_epochs = 0;
            if ((st = dm_model_get_params(m, state->best_params))) goto done;
        } else {
            state->bad_epochs++;
        }
        state->epoch_done = epoch;
        if (o->progress) {
            fprintf(stderr, "%sepoch %d/%d  loss %.4f", live ? "\r" : "", epoch, o->epochs, row.train_loss);
            if (use_valid) fprintf(stderr, "  valid loss %.4f  valid AUROC %.4f", row.valid_loss, row.valid_auroc);
            else if (original) fprintf(stderr, "  train AUROC %.4f", criterion);
            fprintf(stderr, "  %.0f seq/s  %.1fs%s\n", (double)n / row.seconds, row.seconds, better ? "  *" : "");
        }
        if (use_valid && o->patience > 0 && state->bad_epochs >= o->patience) {
            if (o->progress)
                fprintf(stderr, "early stop: no better validation AUROC for %d epochs (best: epoch %d, %.4f)\n",
                        o->patience, state->best_epoch, state->best_valid);
            break;
        }
    }

    /* the final epoch's weights and optimiser state, then the selected weights back in the model */
    state->adam_t = opt.t;
    state->lr = opt.lr;
    if ((st = dm_model_get_adam(m, state->adam_m, state->adam_v))) goto done;
    if (last_params && (st = dm_model_get_params(m, last_params))) goto done;
    if ((st = dm_model_set_params(m, state->best_params))) goto done;
    prov->epochs_run = state->epoch_done;
    prov->best_epoch = state->best_epoch;
    prov->train_seconds += dm_now() - t_start;

done:
    dm_devdata_free(dtrain);
    dm_devdata_free(dvalid);
    free(idx);
    free(train_scores);
    free(train_labels);
    free(valid_scores);
    return st;
}
