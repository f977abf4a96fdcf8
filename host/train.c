/*
 * train.c: batched training with Adam, the learning-rate schedule, and model selection.
 *
 * Per epoch (SPEC.md §4, §5): lr = lr0 · 0.5^⌊(epoch−1)/H⌋; batches of B in file order (original
 * protocol: B 256, H 10) or in a seeded permutation drawn anew each epoch (default: B, lr0, H, the
 * patience and the epochs by the set's size, dm_train_options_for_size); each batch: forward with
 * dropout, mean NLL, backward, element-wise clip, Adam. Then the default protocol scores the
 * validation set and keeps a copy of the best weights (by the validation AUROC; early stopping after
 * `patience` epochs without improvement, of the AUROC or, where a small validation set makes the
 * AUROC coarse, of the loss: dm_train_select); the original protocol keeps the epoch with the best
 * *training* AUROC, measured on the P(pos) of that epoch's own training passes, as DeMo did, but with
 * a real copy of its weights.
 *
 * Everything random is counter-based (dm_rng.h): the permutation of epoch e is stream `shuffle`
 * index e, dropout masks are keyed by the global step, and with fresh negatives (o->fresh_negatives)
 * epoch e's shuffles come from stream `fresh_negatives` index e, so a resumed run continues
 * bit-identically.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "dist.h"
#include "dm_rng.h"
#include "predavg.h"
#include "train.h"

/* restarts of a dead start by default: two dead starts in the ~300 runs of the learning curve and
 * the rc table (bench/results/dead_start.md), so a third dead start in a row is a data or option
 * problem worth the user's attention, not bad luck */
enum { DM_TRAIN_RESTARTS = 2 };

void dm_train_options_default(dm_train_options *o, dm_protocol protocol) {
    bool by_size = protocol == DM_PROTOCOL_DEFAULT;
    *o = (dm_train_options){
        .protocol = protocol, .epochs = by_size ? DM_TRAIN_BY_SIZE : 50, .batch = by_size ? DM_TRAIN_BY_SIZE : 256,
        .lr = by_size ? DM_TRAIN_BY_SIZE : 0.01f, .lr_halve_every = by_size ? DM_TRAIN_BY_SIZE : 10, .clip = 5.0f,
        .patience = by_size ? DM_TRAIN_BY_SIZE : 5, .ema = by_size ? DM_TRAIN_BY_SIZE : 0.0f,
        .restarts = by_size ? DM_TRAIN_RESTARTS : 0, .seed = 1,
        .n_quarter = false, .progress = false,
    };
}

/* The small-data rule (README "Training protocols", bench/results/small_data.md): on small sets the
 * old epoch-counted schedule stopped training after a few dozen optimiser steps, before the models
 * had left their start (test AUROC 0.5-0.75 where longer runs reach 0.9), so the schedule is counted
 * in steps, and small sets get smaller batches (more steps for the same passes over the data). */
enum { BY_SIZE_BATCH_MAX = 256, BY_SIZE_BATCH_MIN = 32, BY_SIZE_STEPS_MIN = 32, BY_SIZE_UNIT = 120 };
/* an LSTM on the input, small set: 4x the rate, no halving, 10x the patience, 6x the epochs (train.h) */
enum { LSTM_IN_LR_FACTOR = 4, LSTM_IN_PATIENCE = 50, LSTM_IN_EPOCHS = 300 };
enum { LSTM_LATER_LR_FACTOR = 2, LSTM_LATER_MAX = 2048 };   /* an LSTM after a convolution: train.h */
/* the weights' moving average, decay 0.999, from 4,096 to 8,191 sequences (batch 128) for models
 * without an LSTM on the input (train.h, bench/results/ema_small.md) */
#define BY_SIZE_EMA 0.999f
enum { BY_SIZE_EMA_MIN = 4096 };

static int32_t epochs_for(int32_t epochs_at_unit, int64_t steps) {
    int64_t unit = steps > BY_SIZE_UNIT ? steps : BY_SIZE_UNIT;
    int64_t e = ((int64_t)epochs_at_unit * unit + steps - 1) / steps;
    return (int32_t)(e < DM_MAX_EPOCHS ? e : DM_MAX_EPOCHS);
}

void dm_train_options_for_size(dm_train_options *o, int64_t n_train, const dm_hparams *hp) {
    int64_t n = (o->rc & DM_RC_AUGMENT) ? 2 * n_train : n_train;
    if (n < 1) n = 1;
    if (o->protocol == DM_PROTOCOL_ORIGINAL) n = INT64_MAX / 2;   /* DeMo's fixed loop: the large-set values */
    if (o->batch == DM_TRAIN_BY_SIZE) {
        int32_t b = BY_SIZE_BATCH_MAX;
        while (b > BY_SIZE_BATCH_MIN && n < (int64_t)BY_SIZE_STEPS_MIN * b) b /= 2;
        o->batch = b;
    }
    int64_t steps = (n + (o->batch > 0 ? o->batch : 1) - 1) / (o->batch > 0 ? o->batch : 1);
    bool lstm_in = hp && n < (int64_t)BY_SIZE_STEPS_MIN * BY_SIZE_BATCH_MAX && dm_arch_lstm_reads_input(hp);
    bool lstm_later = hp && n < LSTM_LATER_MAX && !lstm_in && dm_arch_has(hp, DM_LAYER_BILSTM);
    /* the learning rate per sequence of the large-set protocol (0.01 at 256): linear in the batch */
    float factor = lstm_in ? (float)LSTM_IN_LR_FACTOR : lstm_later ? (float)LSTM_LATER_LR_FACTOR : 1.0f;
    if (o->lr == DM_TRAIN_BY_SIZE) o->lr = factor * 0.01f * (float)(o->batch > 0 ? o->batch : 1) / (float)BY_SIZE_BATCH_MAX;
    if (o->epochs == DM_TRAIN_BY_SIZE) o->epochs = epochs_for(lstm_in ? LSTM_IN_EPOCHS : 50, steps);
    if (o->patience == DM_TRAIN_BY_SIZE) o->patience = epochs_for(lstm_in ? LSTM_IN_PATIENCE : 5, steps);
    if (o->lr_halve_every == DM_TRAIN_BY_SIZE) o->lr_halve_every = lstm_in ? 0 : epochs_for(10, steps);
    bool ema = !lstm_in && n >= BY_SIZE_EMA_MIN && n < (int64_t)BY_SIZE_STEPS_MIN * BY_SIZE_BATCH_MAX;
    if (o->ema == DM_TRAIN_BY_SIZE) o->ema = ema ? BY_SIZE_EMA : 0.0f;
}

dm_status dm_train_options_for_data(dm_train_options *o, const dm_dataset *train) {
    if (o->fresh_negatives != DM_TRAIN_BY_DATA) return DM_STATUS_OK;
    int64_t *pairs = NULL, n_pairs = 0;
    bool maybe = o->protocol == DM_PROTOCOL_DEFAULT && train && train->n > 0 && train->label;
    if (maybe) DM_TRY(dm_dataset_shuffle_pairs(train, &pairs, &n_pairs));
    free(pairs);
    o->fresh_negatives = n_pairs > 0;
    return DM_STATUS_OK;
}

const char *dm_protocol_name(dm_protocol p) { return p == DM_PROTOCOL_ORIGINAL ? "original" : "default"; }

dm_select dm_train_select(const dm_train_options *o, int64_t n_pos, int64_t n_neg) {
    if (o->select != DM_SELECT_AUTO) return o->select;
    if (n_pos < 1 || n_neg < 1) return DM_SELECT_AUROC_LOSS;
    double se = sqrt((double)(n_pos + n_neg + 1) / (12.0 * (double)n_pos * (double)n_neg));
    return se > DM_SELECT_AUROC_SE_MAX ? DM_SELECT_AUROC_LOSS : DM_SELECT_AUROC;
}

double dm_train_criterion(dm_select s, double valid_auroc, double valid_loss) {
    return s == DM_SELECT_LOSS ? -valid_loss : valid_auroc;
}

const char *dm_select_name(dm_select s) {
    return s == DM_SELECT_LOSS ? "validation loss"
           : s == DM_SELECT_AUROC_LOSS ? "validation AUROC (patience: AUROC or loss)" : "validation AUROC";
}

dm_status dm_net_predict_resident(dm_net *m, dm_devdata *d, bool n_quarter, float *scores) {
    int Bmax = dm_net_max_batch(m);
    for (int64_t i = 0; i < d->n; i += Bmax) {
        int B = (int)(d->n - i < Bmax ? d->n - i : Bmax);
        DM_TRY(dm_net_forward_data(m, d, i, B, false, 0, 0, n_quarter));
    }
    return dm_devdata_results(d, scores, 0, NULL);
}

/* Validation AUROC and mean NLL of `ds` under the current weights. */
static dm_status validate(dm_net *m, const dm_dataset *ds, dm_devdata *d, dm_devdata *drc, bool n_quarter,
                          float *scores, double *auroc, double *loss) {
    DM_TRY(dm_pred_resident(m, d, drc, n_quarter, scores));
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

/* Whether the backend computes in host memory (the CPU backends): then reading a batch's losses,
 * gradients and weights is a plain copy (n_params floats, well under 1 % of a batch's time), and
 * divergence is checked at every batch. */
static bool host_memory(const dm_backend *be) { return be->device[0] == '\0'; }

static bool all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return false;
    return true;
}

static dm_status diverged(dm_train_stop *why, int epoch, int64_t batch, int64_t n_batches, const char *what) {
    why->diverged_epoch = epoch;
    why->diverged_batch = batch;
    return dm_error(DM_STATUS_ARG, "training diverged in epoch %d, batch %lld of %lld: %s (lower --lr)", epoch,
                    (long long)batch, (long long)n_batches, what);
}

/* The mid-epoch part of the resume state: the first `rows` visiting positions' results. */
static dm_status keep_partial(dm_resume_state *state, dm_devdata *d, int64_t batch_done, int B, int64_t rows) {
    float *lp = realloc(state->part_logprob, sizeof(float) * 2 * (size_t)rows);
    if (lp) state->part_logprob = lp;
    float *ls = lp ? realloc(state->part_loss, sizeof(float) * (size_t)rows) : NULL;
    if (ls) state->part_loss = ls;
    if (!lp || !ls) return dm_error(DM_STATUS_NOMEM, "training: out of memory for the mid-epoch state");
    d->be->i->download(d->be, state->part_logprob, d->logprob, sizeof(float) * 2 * (size_t)rows);
    d->be->i->download(d->be, state->part_loss, d->loss, sizeof(float) * (size_t)rows);
    state->batch_done = (int32_t)batch_done;
    state->batch = B;
    state->rows_done = rows;
    return dm_backend_status(d->be);
}

/* Rows [lo, hi) of slice s of a batch of Bk rows cut into K. */
static void slice_of(int Bk, int K, int s, int *lo, int *hi) {
    *lo = (int)((int64_t)Bk * s / K);
    *hi = (int)((int64_t)Bk * (s + 1) / K);
}

enum { X_BAD = DM_GRADS_BAD, X_STOP = DM_GRADS_STOP, X_LOSS = DM_GRADS_LOSS, N_EXTRA = DM_GRADS_EXTRA };

dm_status dm_net_batch_grads(dm_net *m, dm_devdata *d, int64_t i0, int32_t Bk, int K, int s0, int s1,
                             const dm_train_options *o, uint64_t step, bool device_sum, float *acc, float *tmp,
                             float *row_loss, double *t_reduce) {
    dm_backend *be = dm_net_backend(m);
    int64_t np = dm_net_n_params(m);
    if (device_sum) {
        /* one slice per rank, its gradients left in the arena (0 + g, as below) and summed there */
        DM_CHECK_ARG(s1 == s0 + 1, "training: device sums take one slice per rank");
        memset(acc + np, 0, sizeof(float) * N_EXTRA);
        int lo, hi;
        slice_of(Bk, K, s0, &lo, &hi);
        dm_net_zero_grad(m);
        if (hi > lo) {
            DM_TRY(dm_net_set_row0(m, lo));
            dm_status st = dm_net_forward_data(m, d, i0 + lo, hi - lo, true, o->seed, step, o->n_quarter);
            if (!st) st = dm_net_backward_data(m, d, i0 + lo, hi - lo, (double)Bk);
            dm_net_set_row0(m, 0);
            if (st) return st;
            be->i->download(be, row_loss, d->loss + i0 + lo, sizeof(float) * (size_t)(hi - lo));
            DM_TRY(dm_backend_status(be));
            for (int j = 0; j < hi - lo; j++) {
                acc[np + X_LOSS] += row_loss[j];
                acc[np + X_BAD] += !isfinite(row_loss[j]);
            }
        }
        acc[np + X_STOP] = o->stop && *o->stop ? (float)*o->stop : 0.0f;
        double t0 = dm_now();
        DM_TRY(dm_dist_allreduce_sum_f32(acc + np, N_EXTRA));   /* (device sums: always a group) */
        DM_TRY(dm_net_group_grads(m));
        if (t_reduce) {
            be->i->sync(be);   /* the sum's time, not the queue's */
            *t_reduce += dm_now() - t0;
        }
        return dm_backend_status(be);
    }
    memset(acc, 0, sizeof(float) * (size_t)(np + N_EXTRA));
    for (int s = s0; s < s1; s++) {
        int lo, hi;
        slice_of(Bk, K, s, &lo, &hi);
        if (hi == lo) continue;   /* a last batch smaller than K */
        dm_net_zero_grad(m);
        DM_TRY(dm_net_set_row0(m, lo));
        dm_status st = dm_net_forward_data(m, d, i0 + lo, hi - lo, true, o->seed, step, o->n_quarter);
        if (!st) st = dm_net_backward_data(m, d, i0 + lo, hi - lo, (double)Bk);
        dm_net_set_row0(m, 0);
        if (st) return st;
        DM_TRY(dm_net_get_grads(m, tmp));
        for (int64_t i = 0; i < np; i++) acc[i] += tmp[i];
        be->i->download(be, row_loss, d->loss + i0 + lo, sizeof(float) * (size_t)(hi - lo));
        DM_TRY(dm_backend_status(be));
        for (int j = 0; j < hi - lo; j++) {
            acc[np + X_LOSS] += row_loss[j];
            acc[np + X_BAD] += !isfinite(row_loss[j]);
        }
    }
    acc[np + X_STOP] = o->stop && *o->stop ? (float)*o->stop : 0.0f;
    double t0 = dm_now();
    if (dm_dist_size() > 1 && !o->alone) DM_TRY(dm_dist_allreduce_sum_f32(acc, (size_t)(np + N_EXTRA)));
    if (t_reduce) *t_reduce += dm_now() - t0;
    return dm_net_set_grads(m, acc);
}

/* A group of K > 1: the per-row results (log-probabilities, losses) of the visiting positions
 * [0, rows) to every rank. Each rank keeps the rows of its own slices of the batches run since k_from
 * (before: results of a resumed run, alike everywhere, kept by rank 0) and zeros the others; x + 0 is
 * x, so the sum over the ranks is every row's own bits. buf: 3 · rows floats. */
static dm_status gather_rows(dm_devdata *d, int64_t n, int64_t rows, int B, int64_t k_from, float *buf) {
    dm_backend *be = d->be;
    int K = dm_dist_size(), rank = dm_dist_rank();
    float *lp = buf, *ls = buf + 2 * rows;
    be->i->download(be, lp, d->logprob, sizeof(float) * 2 * (size_t)rows);
    be->i->download(be, ls, d->loss, sizeof(float) * (size_t)rows);
    DM_TRY(dm_backend_status(be));
    for (int64_t p = 0; p < rows; p++) {
        int64_t k = p / B;
        bool own;
        if (k < k_from) {
            own = rank == 0;
        } else {
            int Bk = (int)(n - k * B < B ? n - k * B : B), lo, hi, j = (int)(p - k * B);
            slice_of(Bk, K, rank, &lo, &hi);
            own = j >= lo && j < hi;
        }
        if (!own) lp[2 * p] = lp[2 * p + 1] = ls[p] = 0.0f;
    }
    DM_TRY(dm_dist_allreduce_sum_f32(buf, 3 * (size_t)rows));
    be->i->upload(be, d->logprob, lp, sizeof(float) * 2 * (size_t)rows);
    be->i->upload(be, d->loss, ls, sizeof(float) * (size_t)rows);
    return dm_backend_status(be);
}

static dm_status train_run(dm_net *m, const dm_dataset *train, const dm_dataset *valid, const dm_dataset *valid_rc,
                           const dm_train_options *o, dm_provenance *prov, dm_resume_state *state,
                           float *last_params) {
    DM_TRY(dm_dataset_check(train, "training data"));
    DM_CHECK_ARG(train->n == 0 || train->label, "training data: %lld sequences without labels", (long long)train->n);
    if (valid) {
        DM_TRY(dm_dataset_check(valid, "validation data"));
        DM_CHECK_ARG(valid->n == 0 || valid->label, "validation data: %lld sequences without labels",
                     (long long)valid->n);
    }
    DM_CHECK_ARG(o->batch >= 1, "training: batch size %d (at least 1)", (int)o->batch);
    DM_CHECK_ARG(o->epochs >= 0, "training: %d epochs", (int)o->epochs);
    DM_CHECK_ARG(isfinite(o->lr) && o->lr > 0, "training: learning rate %g (positive)", (double)o->lr);
    DM_CHECK_ARG(o->ema >= 0 && o->ema < 1, "training: weight-average decay %g (0 to 1; 0: none)", (double)o->ema);
    DM_CHECK_ARG(o->ema == 0 || o->protocol != DM_PROTOCOL_ORIGINAL,
                 "training: the original protocol selects by the training passes' own weights, not an average");
    const dm_hparams *hp = dm_net_hparams(m);
    dm_backend *be = dm_net_backend(m);
    int64_t n = train->n, np = dm_net_n_params(m);
    int Bmax = dm_net_max_batch(m), B = o->batch < Bmax ? o->batch : Bmax;
    bool original = o->protocol == DM_PROTOCOL_ORIGINAL;
    bool use_valid = !original && valid && valid->n > 0;
    dm_train_stop why_local, *why = o->stopped ? o->stopped : &why_local;
    memset(why, 0, sizeof *why);
    if (n < 1) return dm_error(DM_STATUS_ARG, "no training sequences");
    if (train->len != hp->len) return dm_error(DM_STATUS_ARG, "data length %d != model length %d", train->len, hp->len);
    if (!has_both_classes(train))
        return dm_error(DM_STATUS_ARG, "the training data needs bound and unbound sequences "
                                       "(for positive-only files use --negatives shuffle)");
    for (int64_t i = 0; i < n; i++)
        if (train->label[i] != 0 && train->label[i] != 1)
            return train->id && train->id[i]
                       ? dm_error(DM_STATUS_ARG, "training sequence %s has no label", train->id[i])
                       : dm_error(DM_STATUS_ARG, "training sequence %lld has no label", (long long)i + 1);
    if (use_valid && !has_both_classes(valid))
        return dm_error(DM_STATUS_ARG, "the validation split holds one class only: use a larger --valid-frac");
    int64_t valid_pos = 0;
    for (int64_t i = 0; use_valid && i < valid->n; i++) valid_pos += valid->label[i] == 1;
    dm_select measure = use_valid ? dm_train_select(o, valid_pos, valid->n - valid_pos) : DM_SELECT_AUROC;
    /* DM_SELECT_AUROC_LOSS: the lowest validation loss so far (a resumed run's from its log) */
    double best_loss = INFINITY;
    for (int32_t e = 0; e < prov->n_epochs && prov->log[e].epoch <= state->epoch_done; e++)
        if (prov->log[e].valid_loss < best_loss) best_loss = prov->log[e].valid_loss;
    int64_t n_batches = (n + B - 1) / B;
    /* a run stopped inside an epoch continues at its next batch, with the same batches */
    int64_t k_start = 0;
    bool fresh = state->epoch_done == 0 && state->batch_done <= 0;
    if (state->batch_done > 0) {
        if (state->batch != B)
            return dm_error(DM_STATUS_ARG, "the run stopped inside epoch %d with batches of %d; resume it with "
                            "--batch %d", state->epoch_done + 1, state->batch, state->batch);
        int64_t rows = (int64_t)state->batch_done * B;
        if (state->batch_done >= n_batches || state->rows_done != rows || !state->part_logprob || !state->part_loss)
            return dm_error(DM_STATUS_ARG, "the resume state (%d batches of %d done in epoch %d) does not fit a "
                            "training set of %lld sequences", state->batch_done, state->batch,
                            state->epoch_done + 1, (long long)n);
        k_start = state->batch_done;
    } else {
        state->batch_done = 0;
        state->rows_done = 0;
    }

    /* the weights' moving average (o->ema > 0): kept on the backend, in the resume state at checkpoints */
    bool use_avg = o->ema > 0, avg_resumed = state->avg != NULL;
    dm_net_avg avg = {{NULL, NULL}, 0};

    /* every buffer of the loop is allocated here, none inside it; both data sets go to the backend
     * once, packed, and each batch is gathered there */
    bool check_batches = host_memory(be);
    /* data parallel: K ranks, one slice of each batch each, or K slices in turn in one process */
    bool dist = dm_dist_size() > 1 && !o->alone;
    int K = dist ? dm_dist_size() : o->slices > 1 ? o->slices : 1, rank = dist ? dm_dist_rank() : 0;
    bool do_valid = use_valid && rank == 0;    /* rank 0 validates, for everyone */
    float *acc = K > 1 ? malloc(sizeof(float) * (size_t)(np + N_EXTRA)) : NULL;
    float *tmp = K > 1 ? malloc(sizeof(float) * (size_t)(np > 0 ? np : 1)) : NULL;
    float *gathered = dist ? malloc(sizeof(float) * 3 * (size_t)n) : NULL;
    dm_devdata *dtrain = NULL, *dvalid = NULL, *dvalid_rc = NULL;
    int64_t *fresh_pairs = NULL, n_fresh = 0;   /* --fresh-negatives: (negative, positive) rows */
    uint8_t *fresh_codes = NULL;                /* the training rows with this epoch's negatives */
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
    float *train_scores = malloc(sizeof(float) * (size_t)n);
    float *row_loss = malloc(sizeof(float) * (size_t)n);          /* per-row losses, divergence check */
    float *cur = malloc(sizeof(float) * (size_t)(np > 0 ? np : 1));   /* weights or gradients */
    int8_t *train_labels = malloc((size_t)n);
    float *valid_scores = do_valid ? malloc(sizeof(float) * (size_t)valid->n) : NULL;
    if (!state->adam_m) state->adam_m = calloc((size_t)np, sizeof(float));
    if (!state->adam_v) state->adam_v = calloc((size_t)np, sizeof(float));
    if (!state->best_params) state->best_params = calloc((size_t)np, sizeof(float));
    if (use_avg && !state->avg) state->avg = calloc((size_t)(np > 0 ? np : 1), sizeof(float));
    dm_status st = DM_STATUS_OK;
    if (!idx || !train_scores || !row_loss || !cur || !train_labels || (do_valid && !valid_scores) ||
        (K > 1 && (!acc || !tmp)) || (dist && !gathered) ||
        !state->adam_m || !state->adam_v || !state->best_params || (use_avg && !state->avg)) {
        st = dm_error(DM_STATUS_NOMEM, "training: out of memory");
        goto done;
    }
    if (!fresh && use_avg != avg_resumed) {
        st = dm_error(DM_STATUS_ARG, use_avg ? "the run being resumed was trained without a weight average (--ema 0)"
                                             : "the run being resumed was trained with a weight average (--ema)");
        goto done;
    }

    if (o->fresh_negatives) {
        if (original) {
            st = dm_error(DM_STATUS_ARG, "training: fresh negatives need the default protocol (the original "
                                         "protocol trains on the file as it is)");
            goto done;
        }
        if ((st = dm_dataset_shuffle_pairs(train, &fresh_pairs, &n_fresh))) goto done;
        if (n_fresh == 0) {
            st = dm_error(DM_STATUS_ARG, "fresh negatives: no training negative is a dinucleotide shuffle of its "
                                         "positive (use --negatives shuffle, or pair each positive with its shuffle)");
            goto done;
        }
        fresh_codes = malloc((size_t)n * (size_t)train->len);
        if (!fresh_codes) {
            st = dm_error(DM_STATUS_NOMEM, "training: out of memory for the fresh negatives");
            goto done;
        }
        memcpy(fresh_codes, train->seq, (size_t)n * (size_t)train->len);
    }
    if ((st = dm_devdata_create(&dtrain, be, train))) goto done;
    if (do_valid && (st = dm_devdata_create(&dvalid, be, valid))) goto done;
    if (do_valid && valid_rc && (st = dm_devdata_create(&dvalid_rc, be, valid_rc))) goto done;

    /* K ranks whose backends all sum on the device (NCCL): rank 0 makes the group's id, every rank
     * joins; else (or with DM_NCCL=off) the gradients go through host copies and the MPI sum */
    bool device_sum = false;
    if (dist) {
        const char *nccl = getenv("DM_NCCL");
        float have = be->i->allreduce_sum && !(nccl && !strcmp(nccl, "off")) ? 1.0f : 0.0f;
        if ((st = dm_dist_allreduce_sum_f32(&have, 1))) goto done;
        if (have == (float)K) {
            char id[128] = {0};
            if (rank == 0) {
                be->i->group_id(be, id);
                st = dm_backend_status(be);
            }
            if ((st = dm_dist_agree(st)) || (st = dm_dist_bcast(id, sizeof id, 0))) goto done;
            be->i->group_join(be, id, rank, K);
            if ((st = dm_dist_agree(dm_backend_status(be)))) goto done;
            device_sum = true;
        }
    }

    /* fresh start or resume */
    dm_adam opt;
    dm_adam_default(&opt);
    opt.clip = o->clip;
    if (fresh) {
        state->best_valid = -INFINITY;
        state->best_epoch = 0;
        state->bad_epochs = 0;
        state->adam_t = 0;
        if ((st = dm_net_get_params(m, state->best_params))) goto done;
        /* Adam's moments from zero, also in a net trained before (its buffers keep the last run's) */
        memset(state->adam_m, 0, sizeof(float) * (size_t)np);
        memset(state->adam_v, 0, sizeof(float) * (size_t)np);
        if ((st = dm_net_set_adam(m, state->adam_m, state->adam_v))) goto done;
    } else {
        if ((st = dm_net_set_adam(m, state->adam_m, state->adam_v))) goto done;
    }
    opt.t = state->adam_t;
    opt.lr = state->lr;
    if (use_avg && (st = dm_net_avg_init(m, &avg, fresh ? NULL : state->avg))) goto done;

    prov->batch = B;   /* (prov->seed: the caller's seed, also in a restart; dm_net_train) */
    prov->lr0 = o->lr;
    prov->ema = use_avg ? o->ema : 0;
    prov->fresh_negatives = o->fresh_negatives;
    prov->epochs_max = o->epochs;
    prov->n_train = n;
    prov->n_valid = use_valid ? valid->n : 0;
    snprintf(prov->protocol, sizeof prov->protocol, "%s", dm_protocol_name(o->protocol));
    double t_start = dm_now(), seconds0 = prov->train_seconds;
    /* the in-epoch status goes to the progress callback (the CLI sets one on a terminal only); the
     * log callback gets one line per epoch */
    bool live = o->progress && dm_log_progress_enabled();
    /* a run that stopped early stays stopped when resumed */
    bool finished = use_valid && o->patience > 0 && state->bad_epochs >= o->patience;

    for (int epoch = state->epoch_done + 1; epoch <= o->epochs && !finished; epoch++) {
        double t_epoch = dm_now(), t_last_print = 0, loss_sum = 0, run_loss = 0, t_reduce = 0;
        int64_t k_from = k_start;     /* the first batch this process runs in this epoch */
        bool stop_all = false;        /* K ranks: a stop request agreed after the last batch */
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
        if (fresh_codes && epoch > 1) {   /* epoch 1 trains on the negatives it was given */
            dm_dataset_fresh_negatives(fresh_codes, train, fresh_pairs, n_fresh, o->seed, epoch);
            if ((st = dm_devdata_set_codes(dtrain, fresh_codes))) goto done;
        }
        if (k_start > 0) {
            /* the batches run before the stop: their results, as they were */
            be->i->upload(be, dtrain->logprob, state->part_logprob, sizeof(float) * 2 * (size_t)state->rows_done);
            be->i->upload(be, dtrain->loss, state->part_loss, sizeof(float) * (size_t)state->rows_done);
            if ((st = dm_backend_status(be))) goto done;
        }
        for (int64_t k = k_start; k < n_batches; k++) {
            int64_t i0 = k * B;
            int Bk = (int)(n - i0 < B ? n - i0 : B);
            if (o->nan_epoch == epoch && o->nan_batch == k + 1) {
                /* test hook: a poisoned weight, so the check below meets a real NaN loss */
                if ((st = dm_net_get_params(m, cur))) goto done;
                cur[0] = NAN;
                if ((st = dm_net_set_params(m, cur))) goto done;
            }
            if (K > 1) {
                /* the batch in slices: this rank's (a group), or all of them in turn */
                if ((st = dm_net_batch_grads(m, dtrain, i0, Bk, K, dist ? rank : 0, dist ? rank + 1 : K, o,
                                             (uint64_t)opt.t, device_sum, acc, tmp, row_loss, &t_reduce)))
                    goto done;
                run_loss += acc[np + X_LOSS];
                stop_all = acc[np + X_STOP] > 0;
                if (acc[np + X_BAD] > 0) {
                    st = diverged(why, epoch, k + 1, n_batches, "the loss is not finite");
                    goto done;
                }
                if (check_batches && !all_finite(acc, np)) {
                    st = diverged(why, epoch, k + 1, n_batches, "a gradient is not finite");
                    goto done;
                }
            } else {
                dm_net_zero_grad(m);
                if ((st = dm_net_forward_data(m, dtrain, i0, Bk, true, o->seed, (uint64_t)opt.t, o->n_quarter)) ||
                    (st = dm_net_backward_data(m, dtrain, i0, Bk, (double)Bk)))
                    goto done;
            }
            if (check_batches && K == 1) {
                /* host memory: the batch's losses and gradients are read before they move a weight */
                be->i->download(be, row_loss, dtrain->loss + i0, sizeof(float) * (size_t)Bk);
                if ((st = dm_net_get_grads(m, cur))) goto done;
                if (!all_finite(row_loss, Bk)) {
                    st = diverged(why, epoch, k + 1, n_batches, "the loss is not finite");
                    goto done;
                }
                if (!all_finite(cur, np)) {
                    st = diverged(why, epoch, k + 1, n_batches, "a gradient is not finite");
                    goto done;
                }
            }
            if ((st = dm_net_adam_step(m, &opt))) goto done;
            if (use_avg) {
                /* the decay ramps up from 2/11 at the first step (TensorFlow's ExponentialMovingAverage
                 * with num_updates), so the first weights do not dominate the average of a short run */
                double d = (1.0 + (double)opt.t) / (10.0 + (double)opt.t);
                if ((st = dm_net_avg_step(m, &avg, (float)(d < o->ema ? d : o->ema)))) goto done;
            }
            if (check_batches) {
                if ((st = dm_net_get_params(m, cur))) goto done;
                if (!all_finite(cur, np)) {
                    st = diverged(why, epoch, k + 1, n_batches, "a weight is not finite after the update");
                    goto done;
                }
            }
            if (o->on_batch) {
                /* the batch's own losses (already on the host when every batch is checked) */
                if (K > 1) {
                    row_loss[0] = (float)(acc[np + X_LOSS]);   /* their sum, over the slices */
                } else if (!check_batches) {
                    be->i->download(be, row_loss, dtrain->loss + i0, sizeof(float) * (size_t)Bk);
                    if ((st = dm_backend_status(be))) goto done;
                }
                double bl = 0;
                for (int j = 0; j < (K > 1 ? 1 : Bk); j++) bl += row_loss[j];
                dm_train_batch b = {.epoch = epoch, .batch = k + 1, .n_batches = n_batches, .rows = Bk,
                                    .loss = bl / Bk, .lr = opt.lr};
                if ((st = o->on_batch(o->on_batch_ctx, &b))) goto done;
            }
            double now = dm_now();
            if (live && (now - t_last_print > 0.5 || k == n_batches - 1)) {
                /* the running loss is a host copy: only worth it when someone watches (slices: the
                 * batches of this run of the epoch) */
                if (K > 1) loss_sum = run_loss * (double)(i0 + Bk) / (double)(i0 + Bk - k_from * B);
                else if ((st = dm_devdata_results(dtrain, NULL, i0 + Bk, &loss_sum))) goto done;
                double rate = (double)(i0 + Bk - k_start * B) / (now - t_epoch);
                double left = ((double)(o->epochs - epoch) * n + (double)(n - i0 - Bk)) / rate;
                char eta[32];
                fmt_duration(eta, sizeof eta, left);
                dm_log_progress("train", (int64_t)(epoch - 1) * n + i0 + Bk, (int64_t)o->epochs * n,
                            "epoch %d/%d  batch %lld/%lld  loss %.4f  %.0f seq/s  ETA %s (max)", epoch, o->epochs,
                            (long long)k + 1, (long long)n_batches, loss_sum / (double)(i0 + Bk), rate, eta);
                t_last_print = now;
            }
            bool stop_now = K > 1 ? stop_all : o->stop && *o->stop;
            if (stop_now && k + 1 < n_batches) {
                /* a stop request inside the epoch: keep everything needed to continue at batch k + 2 */
                why->signal = o->stop && *o->stop ? *o->stop : (int)acc[np + X_STOP];
                if (dist && (st = gather_rows(dtrain, n, i0 + Bk, B, k_from, gathered))) goto done;
                if ((st = keep_partial(state, dtrain, k + 1, B, i0 + Bk))) goto done;
                state->adam_t = opt.t;
                state->lr = opt.lr;
                if ((st = dm_net_get_adam(m, state->adam_m, state->adam_v)) || (st = dm_net_get_params(m, cur)) ||
                    (use_avg && (st = dm_net_avg_get(m, &avg, state->avg))))
                    goto done;
                prov->epochs_run = state->epoch_done;
                prov->best_epoch = state->best_epoch;
                prov->train_seconds = seconds0 + (dm_now() - t_start);
                if (o->checkpoint && rank == 0) {
                    dm_train_checkpoint c = {.epoch = epoch, .batch_done = k + 1, .n_batches = n_batches,
                                             .stopping = true, .params = cur, .state = state, .criterion = NAN};
                    st = o->checkpoint(o->checkpoint_ctx, &c);
                }
                if (dist) st = dm_dist_agree(st);
                if (st) goto done;
                if (live) dm_log_progress_end("train");
                if (last_params) memcpy(last_params, cur, sizeof(float) * (size_t)np);
                st = dm_net_set_params(m, state->best_params);
                goto done;
            }
        }
        k_start = 0;
        state->batch_done = 0;
        state->rows_done = 0;
        /* the epoch's scores and losses come back once; on a device, the divergence check is here */
        if (dist && (st = gather_rows(dtrain, n, n, B, k_from, gathered))) goto done;
        if ((st = dm_devdata_results(dtrain, train_scores, n, &loss_sum))) goto done;
        for (int64_t i = 0; i < n; i++) train_labels[i] = train->label[idx[i]];
        if (!isfinite(loss_sum)) {
            be->i->download(be, row_loss, dtrain->loss, sizeof(float) * (size_t)n);
            if ((st = dm_backend_status(be))) goto done;
            int64_t p = 0;
            while (p < n - 1 && isfinite(row_loss[p])) p++;
            st = diverged(why, epoch, p / B + 1, n_batches, "the loss is not finite");
            goto done;
        }
        if ((st = dm_net_get_params(m, cur))) goto done;
        if (!all_finite(cur, np)) {   /* on a device; the CPU checked every batch */
            st = diverged(why, epoch, n_batches, n_batches, "a weight is not finite at the end of the epoch (the "
                          "once-per-epoch check on the device cannot tell the batch)");
            goto done;
        }

        /* end of epoch: validation and selection */
        dm_epoch_log row = {.epoch = epoch, .lr = opt.lr, .train_loss = loss_sum / (double)n,
                            .valid_loss = NAN, .valid_auroc = NAN};
        double criterion;
        if (use_valid) {
            if (do_valid) {
                if (use_avg) dm_net_avg_swap(m, &avg);   /* the average is what is validated and kept */
                st = validate(m, valid, dvalid, dvalid_rc, o->n_quarter, valid_scores, &row.valid_auroc, &row.valid_loss);
                if (use_avg) dm_net_avg_swap(m, &avg);
            }
            if (dist && (st = dm_dist_agree(st))) goto done;
            if (st) goto done;
            double v[3] = {row.valid_auroc, row.valid_loss, (double)measure};   /* rank 0's, to everyone */
            if (dist && (st = dm_dist_bcast(v, sizeof v, 0))) goto done;
            row.valid_auroc = v[0];
            row.valid_loss = v[1];
            measure = (dm_select)v[2];
            criterion = dm_train_criterion(measure, row.valid_auroc, row.valid_loss);
        } else if (original) {
            criterion = dm_auroc(train_scores, train_labels, n);   /* DeMo's training AUROC */
        } else {
            criterion = (double)epoch;                                /* no validation: the last epoch */
        }
        row.seconds = dm_now() - t_epoch;
        if (prov->n_epochs < DM_MAX_EPOCHS) prov->log[prov->n_epochs++] = row;
        bool better = criterion > state->best_valid, progress = better;
        if (use_valid && measure == DM_SELECT_AUROC_LOSS && row.valid_loss < best_loss) progress = true;
        if (use_valid && row.valid_loss < best_loss) best_loss = row.valid_loss;
        if (better) {
            state->best_valid = criterion;
            state->best_epoch = epoch;
            if (!use_avg) memcpy(state->best_params, cur, sizeof(float) * (size_t)np);
            else if ((st = dm_net_avg_get(m, &avg, state->best_params))) goto done;
        }
        state->bad_epochs = progress ? 0 : state->bad_epochs + 1;
        state->epoch_done = epoch;
        state->adam_t = opt.t;
        state->lr = opt.lr;
        finished = use_valid && o->patience > 0 && state->bad_epochs >= o->patience;
        bool stopping = K > 1 ? stop_all : o->stop && *o->stop;
        if (o->progress) {
            char vals[96] = "";
            if (use_valid)
                snprintf(vals, sizeof vals, "  valid loss %.4f  valid AUROC %.4f", row.valid_loss, row.valid_auroc);
            else if (original)
                snprintf(vals, sizeof vals, "  train AUROC %.4f", criterion);
            char comm[64] = "";   /* K ranks: the gradient all-reduce's share (waiting for the slowest rank included) */
            if (dist) snprintf(comm, sizeof comm, "  all-reduce %.2fs (%.0f%%)", t_reduce, 100 * t_reduce / row.seconds);
            dm_log(DM_LOG_INFO, "epoch %d/%d  loss %.4f%s  %.0f seq/s  %.1fs%s%s", epoch, o->epochs, row.train_loss,
                   vals, (double)n / row.seconds, row.seconds, comm, better ? "  *" : "");
        }
        if (o->checkpoint) {
            /* MODEL.last's state is complete at every epoch end: weights, Adam, the selection */
            if ((st = dm_net_get_adam(m, state->adam_m, state->adam_v))) goto done;
            if (use_avg && (st = dm_net_avg_get(m, &avg, state->avg))) goto done;
            prov->epochs_run = epoch;
            prov->best_epoch = state->best_epoch;
            prov->train_seconds = seconds0 + (dm_now() - t_start);
            dm_train_checkpoint c = {.epoch = epoch, .n_batches = n_batches, .best_changed = better,
                                     .stopping = stopping, .params = cur, .state = state, .criterion = criterion};
            if (rank == 0) st = o->checkpoint(o->checkpoint_ctx, &c);   /* only rank 0 writes */
            if (dist) st = dm_dist_agree(st);
            if (st) goto done;
        }
        if (stopping) {
            why->signal = o->stop && *o->stop ? *o->stop : (int)acc[np + X_STOP];
            break;
        }
        if (finished && o->progress)
            dm_log(DM_LOG_INFO, "early stop: no better %s for %d epochs (best: epoch %d, %.4f)",
                   dm_select_name(measure), o->patience, state->best_epoch,
                   measure == DM_SELECT_LOSS ? -state->best_valid : state->best_valid);
    }

    /* the final epoch's weights and optimiser state, then the selected weights back in the model */
    state->adam_t = opt.t;
    state->lr = opt.lr;
    if ((st = dm_net_get_adam(m, state->adam_m, state->adam_v))) goto done;
    if (use_avg && (st = dm_net_avg_get(m, &avg, state->avg))) goto done;
    if (last_params && (st = dm_net_get_params(m, last_params))) goto done;
    if ((st = dm_net_set_params(m, state->best_params))) goto done;
    prov->epochs_run = state->epoch_done;
    prov->best_epoch = state->best_epoch;
    prov->train_seconds = seconds0 + (dm_now() - t_start);

done:
    dm_net_avg_free(m, &avg);
    dm_devdata_free(dtrain);
    dm_devdata_free(dvalid);
    dm_devdata_free(dvalid_rc);
    free(idx);
    free(train_scores);
    free(row_loss);
    free(cur);
    free(train_labels);
    free(valid_scores);
    free(acc);
    free(tmp);
    free(gathered);
    free(fresh_pairs);
    free(fresh_codes);
    return st;
}

bool dm_train_dead_start(const dm_provenance *prov, const dm_dataset *train, const dm_train_options *o) {
    if (o->protocol != DM_PROTOCOL_DEFAULT || o->patience < 1 || prov->n_epochs < o->patience || (o->stop && *o->stop))
        return false;
    int64_t pos = 0;
    for (int64_t i = 0; i < train->n; i++) pos += train->label[i] == 1;
    double p = (double)pos / (double)train->n;
    double h = p > 0 && p < 1 ? -(p * log(p) + (1 - p) * log(1 - p)) : 0;   /* the constant's loss */
    for (int32_t e = 0; e < prov->n_epochs; e++)
        if (!(prov->log[e].train_loss >= h - DM_TRAIN_DEAD_MARGIN)) return false;
    return true;
}

uint64_t dm_train_restart_seed(uint64_t seed, int32_t r) {
    return dm_mix64(dm_stream_key(seed, DM_STREAM_RESTART) + (uint64_t)r);
}

/* A dead start's restart: new weights from restart r's seed, the optimiser and the selection from
 * zero (train_run's fresh start), the epoch log of the dead attempt dropped (prov->restarts says it
 * was there; its seconds stay in train_seconds). */
static dm_status restart(dm_net *m, dm_provenance *prov, dm_resume_state *state, uint64_t seed) {
    int64_t np = dm_net_n_params(m);
    state->epoch_done = 0;
    state->batch_done = 0;
    state->rows_done = 0;
    if (state->adam_m) memset(state->adam_m, 0, sizeof(float) * (size_t)np);
    if (state->adam_v) memset(state->adam_v, 0, sizeof(float) * (size_t)np);
    if (state->adam_m && state->adam_v) DM_TRY(dm_net_set_adam(m, state->adam_m, state->adam_v));
    free(state->avg);
    state->avg = NULL;
    prov->n_epochs = 0;
    return dm_net_init_params(m, seed);
}

/* --rc: the model records the flags (validation then scores both strands when it averages them),
 * and with augmentation the training set is its rows followed by their reverse complements, so
 * every epoch's seeded permutation mixes both strands into its batches. */
dm_status dm_net_train(dm_net *m, const dm_dataset *train, const dm_dataset *valid,
                   const dm_train_options *o, dm_provenance *prov, dm_resume_state *state,
                   float *last_params) {
    DM_CHECK_ARG(m && o && prov && state, "training: NULL model, options, provenance or state");
    DM_CHECK_ARG(o->rc <= (DM_RC_AUGMENT | DM_RC_AVERAGE), "training: reverse-complement flags %u", o->rc);
    dm_train_options sized = *o;   /* what the caller left to the set's size (the un-doubled count) */
    dm_train_options_for_size(&sized, train ? train->n : 0, dm_net_hparams(m));
    DM_TRY(dm_train_options_for_data(&sized, train));
    o = &sized;
    dm_net_pred_of(m)->rc = o->rc;
    dm_dataset aug = {0}, vrc = {0};
    dm_status st = DM_STATUS_OK;
    if ((o->rc & DM_RC_AUGMENT) && train && train->n > 0 && train->label) st = dm_dataset_with_revcomp(train, &aug);
    if (!st && (o->rc & DM_RC_AVERAGE) && valid && valid->n > 0) st = dm_dataset_revcomp(valid, &vrc);
    /* a dead start is trained again from restart r's seed (a resumed restart continues with it) */
    const dm_dataset *tr = aug.n ? &aug : train;
    uint64_t seed = o->seed;
    if (prov->restarts < 0) prov->restarts = 0;
    while (!st) {
        sized.seed = prov->restarts > 0 ? dm_train_restart_seed(seed, prov->restarts) : seed;
        prov->seed = seed;   /* the checkpoints name the user's seed; the restart count derives the rest */
        st = train_run(m, tr, valid, vrc.seq ? &vrc : NULL, o, prov, state, last_params);
        if (st || prov->restarts >= o->restarts || !dm_train_dead_start(prov, tr, o)) break;
        prov->restarts++;
        if (o->progress)
            dm_log(DM_LOG_INFO, "restart %d of %d: a dead start (%d epochs, the training loss never %.3f below "
                   "a constant prediction's); new weights from seed %llu's restart stream", prov->restarts,
                   o->restarts, prov->n_epochs, DM_TRAIN_DEAD_MARGIN, (unsigned long long)seed);
        st = restart(m, prov, state, dm_train_restart_seed(seed, prov->restarts));
    }
    dm_dataset_free(&aug);
    free(vrc.seq);
    return st;
}
