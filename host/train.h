/*
 * train.h: the training loop and batched prediction (SPEC.md §4 and §5).
 */
#ifndef DM_TRAIN_H
#define DM_TRAIN_H

#include "model.h"

typedef enum dm_protocol {
    DM_PROTOCOL_DEFAULT = 0,   /* reshuffled batches, validation early stopping, best weights kept */
    DM_PROTOCOL_ORIGINAL = 1,  /* DeMo's loop: file order, 50 epochs, selection by training AUROC */
} dm_protocol;

typedef struct dm_train_options {
    dm_protocol protocol;
    int32_t epochs;            /* maximum epochs (50) */
    int32_t batch;             /* 256 */
    float lr;                  /* initial learning rate (0.01) */
    int32_t lr_halve_every;    /* halve the learning rate after every N epochs (10) */
    float clip;                /* element-wise gradient clip (5) */
    int32_t patience;          /* default protocol: epochs without a better validation AUROC (5) */
    uint64_t seed;             /* one seed, split into named streams */
    bool n_quarter;            /* N policy: 0.25 per channel instead of a zero row */
    bool progress;             /* a progress line on stderr */
} dm_train_options;

void dm_train_options_default(dm_train_options *o, dm_protocol protocol);
const char *dm_protocol_name(dm_protocol p);

/* Trains `m` (parameters already initialised, or restored for a resume) on `train`, validating on
 * `valid` (may be NULL or empty: then the last epoch is selected under the default protocol).
 * `state`: in, the resume point (epoch_done = 0 for a fresh start; arrays allocated by the caller or
 * NULL); out, the state after the last epoch (arrays allocated here if they were NULL), ready to be
 * stored in the "last" checkpoint. On return the model holds the SELECTED weights (best validation
 * AUROC, or best training AUROC under the original protocol); `last_params` (n_params, may be NULL)
 * receives the final epoch's weights. The epoch log and counts go to `prov`.
 * Returns _OK, _ARG (no data, a class missing), or a backend failure. */
dm_status dm_train(dm_model *m, const dm_dataset *train, const dm_dataset *valid,
                   const dm_train_options *o, dm_provenance *prov, dm_resume_state *state,
                   float *last_params);

/* P(bound) of every sequence of `ds` in evaluation mode, in batches of the model's max batch. */
dm_status dm_predict(dm_model *m, const dm_dataset *ds, bool n_quarter, float *scores);

#endif /* DM_TRAIN_H */
