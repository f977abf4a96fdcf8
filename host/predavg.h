/*
 * predavg.h: scores averaged over both strands and over an ensemble's members, and the reverse
 * complements they and --rc augment use (host/predavg.c says how a score is defined).
 */
#ifndef DM_PREDAVG_H
#define DM_PREDAVG_H

#include "model.h"
#include "netio.h"
#include "saliency.h"
#include "train.h"

/* dst (len) = the reverse complement of the first `used` codes of src followed by src's codes from
 * `used` on (the padding stays on the right); dst may equal src only when used is 0. */
void dm_revcomp_row(uint8_t *dst, const uint8_t *src, int32_t len, int32_t used);

/* A per-base map (len, 4) of a reverse-complemented row back onto the row: position j of the first
 * `used` goes to used − 1 − j with channel c to 3 − c; the rest is copied. dst != src. */
void dm_revcomp_map_back(float *dst, const float *src, int32_t len, int32_t used);

/* *rc = ds with every row reverse-complemented (dm_revcomp_row over seq_len): rc->seq is malloc'd
 * (free(rc->seq) only); seq_len, label and group are ds's own arrays, ids NULL. _ARG, _NOMEM. */
dm_status dm_dataset_revcomp(const dm_dataset *ds, dm_dataset *rc);

/* *out (dm_dataset_free) = ds's rows, then their reverse complements in the same order, each with
 * its row's label, length and group (a labelled ds; ids NULL). _ARG, _NOMEM. */
dm_status dm_dataset_with_revcomp(const dm_dataset *ds, dm_dataset *out);

/* Scores of a resident data set d (drc: its reverse complements, or NULL when the model does not
 * average strands), in file order, as predavg.c defines them; member 0 is loaded afterwards. */
dm_status dm_pred_resident(dm_net *m, dm_devdata *d, dm_devdata *drc, bool n_quarter, float *scores);

/* The member mean of P(bound) of B rows of base codes (evaluation mode), into p (B): scan's score of
 * one strand. A single model is one forward pass. */
dm_status dm_net_score_codes(dm_net *m, const uint8_t *codes, int32_t B, bool n_quarter, float *p);

/* The score of B one-hot (or dense) rows x (B, L, 4), host memory, into p (B): a single model's
 * P(bound), an ensemble's member mean, with rc averaging the mean of x's and its reverse
 * complement's (whole rows reversed, channels A C G T reversed). */
dm_status dm_net_score_onehot(dm_net *m, const float *x, int32_t B, float *p);

/* Saliency of rows i..i+B−1 of ds for a model that averages (strands, members): every member's
 * attributions of each row and, with rc averaging, of its reverse complement mapped back
 * (dm_revcomp_map_back), combined as the scores are (predavg.c); p (B) gets the score. The rows are
 * loaded into `dev` per member and strand (dm_sal_dev_load, row index row0 + i). */
dm_status dm_sal_avg_batch(dm_sal_dev *dev, dm_net *m, const dm_saliency_options *o, const dm_dataset *ds, int64_t i,
                           int B, int64_t row0, float *attr, float *p);

/* Whether a model's scores average anything (rc flags or ensemble members). */
static inline bool dm_net_averages(dm_net *m) { return (dm_net_rc(m) & DM_RC_AVERAGE) || dm_net_n_members(m) > 1; }

#endif /* DM_PREDAVG_H */
