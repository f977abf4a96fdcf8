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

/* Gathers the codes and labels of rows idx[0..B) into contiguous batch buffers. */
static void gather(const dm_dataset *ds, const int64_t *idx, int B, uint8_t *codes, int8_t *labels) {
    for (int b = 0; b < B; b++) {
        memcpy(codes + (size_t)b * ds->len, ds->seq + (size_t)idx[b] * ds->len, (size_t)ds->len);
        if (labels) labels[b] = ds->label[idx[b]];
    }
}

dm_status dm_predict(dm_model *m, const dm_dataset *ds, bool n_quarter, float *scores) {
    int Bmax = dm_model_max_batch(m);
    if (ds->len != dm_model_hparams(m)->len)
        return dm_error(DM_STATUS_ARG, "data length %d != model length %d", ds->len, dm_model_hparams(m)->len);
    for (int64_t i = 0; i < ds->n; i += Bmax) {
        int B = (int)(ds->n - i < Bmax ? ds->n - i : Bmax);
        DM_TRY(dm_model_forward_codes(m, ds->seq + (size_t)i * ds->len, B, false, 0, 0, n_quarter));
        DM_TRY(dm_model_scores(m, scores + i));
    }
    return DM_STATUS_OK;
}

/* Validation AUROC and mean NLL of `ds` under the current weights. */
static dm_status validate(dm_model *m, const dm_dataset *ds, bool n_quarter, float *scores,
                          double *auroc, double *loss) {
    DM_TRY(dm_predict(m, ds, n_quarter, scores));
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

    /* every buffer of the loop is allocated here, none inside it */
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
    uint8_t *codes = malloc((size_t)B * hp->len);
    int8_t *labels = malloc((size_t)B);
    float *train_scores = malloc(sizeof(float) * (size_t)n);
    int8_t *train_labels = malloc((size_t)n);
    float *valid_scores = use_valid ? malloc(sizeof(float) * (size_t)valid->n) : NULL;
    if (!state->adam_m) state->adam_m = calloc((size_t)np, sizeof(float));
    if (!state->adam_v) state->adam_v = calloc((size_t)np, sizeof(float));
    if (!state->best_params) state->best_params = calloc((size_t)np, sizeof(float));
    dm_status st = DM_STATUS_OK;
    if (!idx || !codes || !labels || !train_scores || !train_labels || (use_valid && !valid_scores) ||
        !state->adam_m || !state->adam_v || !state->best_params) {
        st = dm_error(DM_STATUS_NOMEM, "training: out of memory");
        goto done;
    }

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
        for (int64_t k = 0; k < n_batches; k++) {
            int64_t i0 = k * B;
            int Bk = (int)(n - i0 < B ? n - i0 : B);
            double loss;
            gather(train, idx + i0, Bk, codes, labels);
            dm_model_zero_grad(m);
            if ((st = dm_model_forward_codes(m, codes, Bk, true, o->seed, (uint64_t)opt.t, o->n_quarter)) ||
                (st = dm_model_scores(m, train_scores + i0)) ||
                (st = dm_model_backward(m, labels, Bk, (double)Bk, &loss, NULL)) ||
                (st = dm_model_adam_step(m, &opt)))
                goto done;
            memcpy(train_labels + i0, labels, (size_t)Bk);
            loss_sum += loss * Bk;
            if (!isfinite(loss)) {
                st = dm_error(DM_STATUS_ARG, "training diverged at epoch %d batch %lld (loss %g): lower --lr",
                              epoch, (long long)k + 1, loss);
                goto done;
            }
            double now = dm_now();
            if (live && (now - t_last_print > 0.5 || k == n_batches - 1)) {
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

        /* end of epoch: validation and selection */
        dm_epoch_log row = {.epoch = epoch, .lr = opt.lr, .train_loss = loss_sum / (double)n,
                            .valid_loss = NAN, .valid_auroc = NAN};
        double criterion;
        if (use_valid) {
            if ((st = validate(m, valid, o->n_quarter, valid_scores, &row.valid_auroc, &row.valid_loss)))
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
    free(idx);
    free(codes);
    free(labels);
    free(train_scores);
    free(train_labels);
    free(valid_scores);
    return st;
}
