/*
 * ism_fast.h: in-silico mutagenesis by receptive-field windows (host/ism_fast.c), the fast path of
 * sal_dev.c's ISM for models that begin with convolutions (fastISM, Nair et al. 2020).
 *
 * A single-base change at input position p alters a conv layer's output only at the positions whose
 * taps reach p, and every later conv or max-pool layer only where its window meets those. The model's
 * leading run of CONV / RELU / MAXPOOL / DROPOUT layers (the prefix) is computed once on the unmutated
 * row (the cache), and for each variant only a fixed-width window per layer, gathered from the
 * variant's recomputed window of the layer below and the cache elsewhere (the backend's ism_window
 * op); the prefix's full output is then assembled the same way and the rest of the model (global
 * max, or BiLSTM → mean, then the head) runs on it with the model's own ops (dm_net_forward_from).
 *
 * Each recomputed element is the same sum of the same products as in the full forward, so on a
 * backend whose conv sums each output in a fixed order whatever the batch and length (the reference
 * CPU backend, double accumulation) the scores equal the full recomputation's bit for bit; the fast
 * CPU backend's GEMM may choose another kernel for another matrix height (OpenBLAS), which changes the
 * summation order only (test_ism_fast derives the bound).
 */
#ifndef DM_ISM_FAST_H
#define DM_ISM_FAST_H

#include "model.h"

typedef struct dm_ism_fast dm_ism_fast;

/* The window plan of m (row length L = the model's). *out = NULL, with _OK, when the model does not
 * begin with a convolution or the windows would not be narrower than the layers (nothing to save).
 * Allocates its backend buffers once (max batch rows). */
dm_status dm_ism_fast_create(dm_ism_fast **out, dm_net *m);
void dm_ism_fast_free(dm_ism_fast *f);

/* The cache: the prefix on the unmutated row x (1, L, 4), backend memory (one-hot as the variants). */
dm_status dm_ism_fast_reference(dm_ism_fast *f, const float *x);

/* Variants v0..v0+nv−1 (nv ≤ the max batch) whose one-hot inputs (nv, L, 4) are in dm_net_input() (the
 * ism_variants op): the model's log-softmax (nv, 2) in dm_net_logprob_buf(), as a full forward gives. */
dm_status dm_ism_fast_forward(dm_ism_fast *f, int v0, int nv);

/* The prefix's output for variants v0..v0+nv−1 (inputs in dm_net_input()): *out (nv, *Lp, *Cp), backend
 * memory, by windows, or (windowed false) by the whole prefix on every variant with the ops and shapes
 * the model's full forward uses (what test_ism_fast compares the windows with). */
dm_status dm_ism_fast_prefix(dm_ism_fast *f, int v0, int nv, bool windowed, const float **out, int *Lp, int *Cp);

/* Multiply-adds of the conv layers per variant, windowed and full (for the benches and the choice). */
void dm_ism_fast_macs(const dm_ism_fast *f, double *windowed, double *full);

#endif /* DM_ISM_FAST_H */
