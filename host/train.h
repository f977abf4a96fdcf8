/*
 * train.h: the training loop and batched prediction (SPEC.md §4 and §5).
 */
#ifndef DM_TRAIN_H
#define DM_TRAIN_H

#include <signal.h>

#include "model.h"

typedef enum dm_protocol {
    DM_PROTOCOL_DEFAULT = 0,   /* reshuffled batches, validation early stopping, best weights kept */
    DM_PROTOCOL_ORIGINAL = 1,  /* DeMo's loop: file order, 50 epochs, selection by training AUROC */
} dm_protocol;

/* What dm_train hands its checkpoint hook: the moment to store MODEL and MODEL.last. */
typedef struct dm_train_checkpoint {
    int32_t epoch;              /* the epoch that ended, or the one a stop request interrupted */
    int64_t batch_done;         /* 0 at an epoch end; else batches of `epoch` run before the stop */
    int64_t n_batches;          /* batches per epoch */
    bool best_changed;          /* the selected weights changed at this epoch end */
    bool stopping;              /* a stop request ends the run after this checkpoint */
    const float *params;        /* the current weights (n_params): MODEL.last's */
    const dm_resume_state *state;   /* the resume state; state->best_params are MODEL's weights */
    double criterion;           /* this epoch's selection value (validation AUROC, training AUROC
                                 * under the original protocol, the epoch number without validation);
                                 * NaN at a mid-epoch stop */
} dm_train_checkpoint;

/* Returns _OK, or a failure that ends training with that status. `prov` (as passed to dm_train) is
 * up to date when it is called: its log, epochs_run, best_epoch and train_seconds. */
typedef dm_status (*dm_train_hook)(void *ctx, const dm_train_checkpoint *c);

/* What dm_train hands its batch hook after every batch's update. */
typedef struct dm_train_batch {
    int32_t epoch;              /* the running epoch (1-based) */
    int64_t batch;              /* the batch just run (1-based) */
    int64_t n_batches;          /* batches per epoch */
    int64_t rows;               /* sequences in that batch */
    double loss;                /* their mean training loss (dropout on, before the update) */
    float lr;                   /* the learning rate of the update */
} dm_train_batch;

/* Returns _OK, or a failure that ends training with that status. To stop at this batch instead,
 * the hook sets the flag o->stop points to: the stop is honoured before the next batch. */
typedef dm_status (*dm_train_batch_hook)(void *ctx, const dm_train_batch *b);

/* Why dm_train stopped early (filled when the options point to one; zeroed first). */
typedef struct dm_train_stop {
    int signal;                 /* the non-zero value *stop held: stopped on request (return _OK) */
    int32_t diverged_epoch;     /* ≥ 1: stopped on a NaN or Inf (return _ARG, message names it) */
    int64_t diverged_batch;     /* its batch (1-based) */
} dm_train_stop;

/* The validation measure that selects the kept weights and counts the patience (default protocol). */
typedef enum dm_select {
    DM_SELECT_AUTO = 0,    /* by the validation set (dm_train_select) */
    DM_SELECT_AUROC = 1,   /* the highest validation AUROC */
    DM_SELECT_LOSS = 2,    /* the lowest validation loss (mean NLL) */
    DM_SELECT_AUROC_LOSS = 3,   /* the highest validation AUROC kept, but the patience counts only
                                 * epochs in which neither the AUROC nor the loss improved */
} dm_select;

/* A schedule field left to the training set's size (dm_train_options_for_size). */
#define DM_TRAIN_BY_SIZE (-1)
/* A field left to the training set's rows (dm_train_options_for_data). */
#define DM_TRAIN_BY_DATA (-1)

typedef struct dm_train_options {
    dm_protocol protocol;
    int32_t epochs;            /* maximum epochs (DM_TRAIN_BY_SIZE: 50, more for small sets) */
    int32_t batch;             /* DM_TRAIN_BY_SIZE: 256, smaller for small sets */
    float lr;                  /* initial learning rate (DM_TRAIN_BY_SIZE: 0.01 · batch / 256) */
    int32_t lr_halve_every;    /* halve the learning rate after every N epochs (DM_TRAIN_BY_SIZE: 10,
                                * more for small sets); 0: never */
    float clip;                /* element-wise gradient clip (5) */
    int32_t patience;          /* default protocol: epochs without a better validation measure
                                * (DM_TRAIN_BY_SIZE: 5, more for small sets); 0: no early stopping */
    dm_select select;          /* default protocol: that measure (DM_SELECT_AUTO, the zero value:
                                * dm_train_select) */
    float ema;                 /* > 0 (below 1): validation, selection and the kept weights use an
                                * exponential moving average of the weights, updated after every
                                * step with decay min(ema, (1 + t) / (10 + t)) at step t; 0: the
                                * weights themselves (DM_TRAIN_BY_SIZE: 0.999 on some small sets) */
    int32_t restarts;          /* default protocol: a dead start (dm_train_dead_start) is trained again
                                * from a new initialisation, at most this many times (2 by
                                * dm_train_options_default; 0: never; the original protocol: 0) */
    uint64_t seed;             /* one seed, split into named streams */
    bool n_quarter;            /* N policy: 0.25 per channel instead of a zero row */
    uint32_t rc;               /* DM_RC_AUGMENT: train on every sequence and its reverse complement;
                                * DM_RC_AVERAGE: validation (and the model, dm_net_rc) scores the
                                * mean of both strands' P (host/predavg.c) */
    int32_t fresh_negatives;   /* default protocol: 1: from the second epoch on, every training negative
                                * that is a dinucleotide shuffle of its group's positive
                                * (dm_dataset_shuffle_pairs) is a new shuffle of it each epoch
                                * (dm_dataset_fresh_negatives); the validation set keeps its own.
                                * 0: the negatives as given. DM_TRAIN_BY_DATA: 1 where the training
                                * set has such a pair (dm_train_options_for_data), the front ends'
                                * default; dm_train_options_default leaves 0 */
    bool progress;             /* epoch lines to the log callback, the in-epoch status to the
                                * progress callback (dm_set_log); nothing is printed */
    /* crash safety (all optional, zero by default) */
    dm_train_hook checkpoint;  /* called at every epoch end and at a stop request */
    void *checkpoint_ctx;
    const volatile sig_atomic_t *stop;   /* non-zero (e.g. set by a signal handler): finish the
                                          * current batch, call `checkpoint` with the mid-epoch
                                          * state (or the epoch end, if it was the last batch),
                                          * return _OK */
    dm_train_stop *stopped;    /* out: why training stopped early */
    dm_train_batch_hook on_batch;   /* optional: called after every batch (NULL: nothing is done or
                                     * copied for it); before `stop` is looked at */
    void *on_batch_ctx;
    bool alone;                /* train in this process alone even under mpirun (a sweep's rank that
                                * trains its own data sets); false: data-parallel over the group */
    int32_t slices;            /* 0 or 1: each batch in one pass; K > 1: in K contiguous slices run in
                                * turn, their gradients added in slice order, which is bit for bit
                                * what `mpirun -np K` gives (there each rank runs its slice, and the
                                * batch is always cut in as many slices as the group has ranks) */
    int32_t nan_epoch, nan_batch;   /* tests only: a NaN is written into the first weight before
                                     * that batch (1-based), to exercise the divergence check */
} dm_train_options;

/* The default protocol leaves batch, lr, epochs, patience and lr_halve_every to the size of the
 * training set (DM_TRAIN_BY_SIZE); the original protocol fixes them (256, 0.01, 50, 5, 10). */
void dm_train_options_default(dm_train_options *o, dm_protocol protocol);

/* Issue 15's small-data rule: replaces every DM_TRAIN_BY_SIZE field of `o` for a training set of
 * n_train sequences (twice that under DM_RC_AUGMENT, which doubles an epoch); fields set to a value
 * stay. Batch: the largest power of two <= n/32 within [32, 256] (an epoch of at least ~32 steps;
 * 256 from 8,192 sequences up). Learning rate: 0.01 · batch / 256 (0.01 per 256 sequences, the
 * large-set value; the linear scaling rule). With S = ceil(n / batch) steps per epoch and an epoch counted as
 * U = max(S, 120) steps, the old schedule in units of U: epochs ceil(50·U/S), patience ceil(5·U/S),
 * lr halved every ceil(10·U/S) epochs; from 120 steps an epoch (30,720 sequences at 256) that is
 * 50, 5 and 10, the old defaults. Each count is capped at DM_MAX_EPOCHS. Under the original protocol
 * every DM_TRAIN_BY_SIZE field takes the large-set value (DeMo's fixed loop).
 * A model that reads its input with an LSTM (hp: dm_arch_lstm_reads_input; NULL: none) on a set of
 * fewer than 8,192 sequences (where the batch is below 256) sits on the ln 2 plateau for thousands of
 * steps and needs a larger, constant rate to leave it (bench/results/rnn_small.md): lr
 * 4 · 0.01 · batch / 256, never halved, patience ceil(50·U/S) (6,000 steps), epochs ceil(300·U/S)
 * (36,000 steps, capped). On larger sets that rate cost it (MYC, 14,584 sequences: 0.928 → 0.913).
 * A model with an LSTM after a convolution (cnnrnn, danq) on fewer than 2,048 sequences (batch 32)
 * takes twice the rate, 2 · 0.01 · batch / 256, the schedule otherwise unchanged
 * (bench/results/lstm_lr_small.md: at 500 positives, 1,800 sequences, the CNN-RNN gained in 14 of
 * 15 runs, mean +0.010 test AUROC, DanQ in 13 of 15, +0.008; 4x gained less on MYC).
 * The weights' moving average (ema): 0.999 from 4,096 to 8,191 sequences (batch 128) for the other
 * models, 0 elsewhere (bench/results/ema_small.md: it helped at 7,200 sequences, not at 1,800). */
void dm_train_options_for_size(dm_train_options *o, int64_t n_train, const dm_hparams *hp);

/* Replaces a DM_TRAIN_BY_DATA fresh_negatives: 1 under the default protocol where at least one
 * training negative is a dinucleotide shuffle of its group's positive (dm_dataset_shuffle_pairs),
 * else 0 (README "Fresh negatives": measured better in 138 of 150 paired runs,
 * bench/results/fresh_negatives.md). A value already set stays. _NOMEM only. */
dm_status dm_train_options_for_data(dm_train_options *o, const dm_dataset *train);

/* A dead start: a default-protocol run with early stopping (patience ≥ 1) that ended (by its patience
 * or its epoch cap, not by a stop request) after at least `patience` epochs, none of whose training
 * losses came DM_TRAIN_DEAD_MARGIN
 * below the loss of the constant prediction (the entropy of the training labels: ln 2 for a
 * balanced set). Such a network computes (nearly) a constant: every ReLU of a convolution stopped
 * firing in the first steps, so no gradient reaches the filters again (bench/results/dead_start.md:
 * MYC's CNN, seed 3, test AUROC 0.500). The whole run is looked at, not its first epochs: an RNN
 * can sit on the ln 2 plateau for several epochs and then learn (0.86 test AUROC). A run that learned
 * from its data ends far below that loss, so only dead runs are retrained and every other run's bits
 * are unchanged. */
#define DM_TRAIN_DEAD_MARGIN 0.005
bool dm_train_dead_start(const dm_provenance *prov, const dm_dataset *train, const dm_train_options *o);

/* The seed of restart r ≥ 1 of a run seeded `seed` (initialisation, batch order, dropout): a stream
 * of its own, so it is no other run's seed. */
uint64_t dm_train_restart_seed(uint64_t seed, int32_t r);
const char *dm_protocol_name(dm_protocol p);

/* The AUROC of a model at chance on a validation set of n_pos positives and n_neg negatives varies
 * with standard error sqrt((n_pos + n_neg + 1) / (12 n_pos n_neg)) (the Mann-Whitney U's null
 * variance): 0.058 on 100 sequences, 0.029 on 400, 0.020 on 810. Above this value the validation
 * AUROC is too coarse to count the patience by: a lucky 0.61 in the second epoch held the whole
 * patience while the validation loss was still falling (bench/results/small_stop.md), so
 * DM_SELECT_AUTO lets an improvement of the loss, too, reset the patience there (DM_SELECT_AUROC_LOSS;
 * selecting by the loss instead cost the RNN: bench/results/small_select.md). The value lies between
 * that failure (0.058) and the smallest validation set of the 13 ENCODE sets at full size (MYC, 810
 * sequences: 0.020), where the AUROC alone gave the measured tables; balanced, it is about 536
 * validation sequences. */
#define DM_SELECT_AUROC_SE_MAX 0.025

/* o->select, or for DM_SELECT_AUTO: DM_SELECT_AUROC_LOSS where that standard error exceeds
 * DM_SELECT_AUROC_SE_MAX, else DM_SELECT_AUROC. */
dm_select dm_train_select(const dm_train_options *o, int64_t n_pos, int64_t n_neg);
/* The value selection maximises for an epoch: its validation AUROC, or minus its validation loss. */
double dm_train_criterion(dm_select s, double valid_auroc, double valid_loss);
/* "validation AUROC", "validation loss", "validation AUROC (patience: AUROC or loss)" */
const char *dm_select_name(dm_select s);

/* Trains `m` (parameters already initialised, or restored for a resume) on `train`, validating on
 * `valid` (may be NULL or empty: then the last epoch is selected under the default protocol).
 * `state`: in, the resume point (epoch_done = 0 for a fresh start; arrays allocated by the caller or
 * NULL; batch_done > 0 continues inside epoch epoch_done + 1 and needs the same batch size and
 * training set); out, the state after the last epoch (arrays allocated here if they were NULL),
 * ready to be stored in the "last" checkpoint. On return the model holds the SELECTED weights (best
 * validation AUROC or loss, dm_train_select; best training AUROC under the original protocol);
 * `last_params` (n_params, may be NULL) receives the final epoch's weights. The epoch log and counts
 * go to `prov`; a resume continues `prov` as the checkpoint stored it, whose log also gives the
 * lowest validation loss so far (DM_SELECT_AUROC_LOSS's patience; an empty log: none yet).
 *
 * Divergence: a NaN or Inf in a batch's loss or gradients (or weights) stops training before any
 * checkpoint of that epoch, with _ARG and a message naming the epoch and the batch. On a backend
 * whose memory is the host's (the CPU) every batch's loss and gradients are checked before the
 * update and its weights after it; on a device (CUDA) the check runs once per epoch, on the per-row
 * losses and the epoch's final weights, so it costs no host synchronisation per batch (the batch
 * named is then the first whose loss is not finite; a NaN gradient goes unseen there when the
 * element-wise clip turns it into ±clip).
 *
 * Data-parallel (dm_dist_size() = K > 1, host/dist.h): every rank calls this with the same model,
 * data, options and state. Each batch's rows are cut into K contiguous slices in rank order; rank r
 * runs forward and backward on slice r (its dropout masks are those rows' masks in the whole batch)
 * with the loss divided by the whole batch's size, and the gradients are summed over the ranks in
 * rank order (dm_dist_allreduce_sum_f32), so every rank takes the same Adam step. The divergence
 * check, a stop request (the first rank that sees one stops them all after the same batch) and the
 * per-row results at an epoch end (and at a stop) are shared through the same sums; rank 0 alone
 * validates (the result broadcast) and calls the checkpoint hook, whose status every rank returns.
 *
 * A stop request (o->stop) ends with _OK, state describing where it stopped, and
 * o->stopped->signal set; `last_params` and the model's weights are then the current ones.
 * Returns _OK, _ARG (no data, a class missing, diverged, a resume state that does not fit), a
 * backend failure, or the checkpoint hook's failure. */
dm_status dm_net_train(dm_net *m, const dm_dataset *train, const dm_dataset *valid,
                   const dm_train_options *o, dm_provenance *prov, dm_resume_state *state,
                   float *last_params);

/* One training batch's gradients (rows i0..i0+Bk−1 of `d` in its visiting order, the loss divided by
 * Bk) cut into K contiguous slices (rows ⌊Bk·s/K⌋..⌊Bk·(s+1)/K⌋−1): slices s0..s1−1 run here (all K
 * in one process, or one per rank: s0 = rank, s1 = rank + 1), each one's gradients added in slice
 * order to acc (which starts from zero), then acc is summed over the process group (unless o->alone) in rank order
 * (dm_dist_allreduce_sum_f32) and written to the model's gradient arena. The sum is the same bits for
 * any split of the slices between ranks. acc: n_params + DM_GRADS_EXTRA floats; its extras are the
 * batch's rows with a non-finite loss, the stop signal (o->stop, summed) and its loss sum. tmp:
 * n_params floats; row_loss: Bk floats. Dropout, seed and N policy from `o`, the step for the masks.
 * t_reduce (may be NULL) accumulates the seconds spent in the all-reduce. device_sum: the backend
 * joined the group (NCCL) and one slice runs here: its gradients stay in the model's arena and are
 * summed there (dm_net_group_grads; only the extras go through acc); tmp is then unused. */
enum { DM_GRADS_BAD, DM_GRADS_STOP, DM_GRADS_LOSS, DM_GRADS_EXTRA };
dm_status dm_net_batch_grads(dm_net *m, dm_devdata *d, int64_t i0, int32_t Bk, int K, int s0, int s1,
                             const dm_train_options *o, uint64_t step, bool device_sum, float *acc, float *tmp,
                             float *row_loss, double *t_reduce);

/* The score of every sequence of `ds` in evaluation mode, in batches of the model's max batch:
 * P(bound), averaged over both strands and an ensemble's members as the model says (predavg.c). */
dm_status dm_net_predict(dm_net *m, const dm_dataset *ds, bool n_quarter, float *scores);

/* P(pos) of every row of a resident data set with the weights loaded now, in file order. */
dm_status dm_net_predict_resident(dm_net *m, dm_devdata *d, bool n_quarter, float *scores);

#endif /* DM_TRAIN_H */
