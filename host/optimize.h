/*
 * optimize.h: class optimisation (SPEC.md §6.3): the input the model considers ideal for the bound
 * class, by gradient descent on the input itself, many seeded restarts in one batch.
 *
 *   minimise f(X) = −log P(pos | X) + λ ‖X‖²_F     over X ∈ R^{L×4} (or X = softmax(Z) per position)
 *   X ~ U[0, 1) seeded; RMSprop (α 0.99, ε 1e-8, no momentum), lr 0.05, 1000 steps, λ 0.009.
 * Post-processing to a position probability matrix, as the original: clamp to [0, 1]; divide every
 * row with a non-zero sum by the global max; add 0.01; divide each row by its sum.
 */
#ifndef DM_OPTIMIZE_H
#define DM_OPTIMIZE_H

#include "model.h"

typedef struct dm_optimize_options {
    int32_t restarts;     /* independent seeded starts, optimised together in one batch (1) */
    int32_t steps;        /* 1000 */
    float lr;             /* 0.05 */
    float lambda;         /* 0.009 */
    float alpha;          /* RMSprop decay 0.99 */
    float eps;            /* 1e-8 */
    bool softmax;         /* optimise Z with X = softmax(Z) per position (X stays a distribution) */
    uint64_t seed;
    /* optional (NULL: nothing is done for it): called with the number of steps made, every
     * report_every steps (≤ 0: 10) and once after the final objective; a failure it returns (e.g.
     * _CANCELLED) ends the run with that status, the outputs then unwritten */
    dm_status (*on_step)(void *ctx, int32_t done, int32_t steps);
    void *on_step_ctx;
    int32_t report_every;
} dm_optimize_options;

void dm_optimize_options_default(dm_optimize_options *o);

/* Runs the optimisation. x (R, L, 4) receives the final inputs, ppm (R, L, 4) their post-processed
 * matrices, objective (steps + 1, R) the objective before every step and after the last, p_pos (R)
 * the final P(bound). The model's batch must hold R. The restarts run in dm_optimize_slices(m, R)
 * slices; the model's own batch buffers then hold nothing of the run. */
dm_status dm_net_optimize(dm_net *m, const dm_optimize_options *o, float *x, float *ppm, float *objective,
                      float *p_pos);

/* How many slices dm_net_optimize cuts R restarts into: on a backend with one-thread copies (op `solo`:
 * the CPU ones) min(threads, R), each slice a thread carrying its restarts through every step; 1 (the
 * whole batch, the ops threaded) elsewhere or with DM_OPTIMIZE=batch. The results are the same bits. */
int dm_optimize_slices(dm_net *m, int R);

/* The original post-processing of one (L, 4) matrix into a PPM, in place. */
void dm_optimize_postprocess(float *x, int L);

/* The consensus of the restarts, built after aligning them (never the mean of unaligned PPMs, whose
 * motifs sit at different places and on either strand):
 *   - only restarts with P(bound) >= DM_CONSENSUS_MIN_P (0.5) take part; the others are left out;
 *   - the reference is the one with the highest P(bound) (the lowest index on ties);
 *   - every other one is placed at the shift and strand (itself, or reverse-complemented: columns
 *     reversed, A<->T, C<->G) that maximise the summed dot product of centred columns,
 *     sum_i sum_b (ref_ib - 1/4)(r_{i+shift,b} - 1/4), over overlaps of at least
 *     min(DM_CONSENSUS_MIN_OVERLAP, L) columns. The centred dot product rather than the Pearson
 *     correlation: the optimised PPMs are near-uniform outside their motifs, where a correlation
 *     is noise of magnitude 1 per column, while the dot product weighs each column by how informative
 *     both are. Ties keep '+', then the smaller |shift|;
 *   - consensus column i (the reference's frame, L columns) is the mean of the aligned columns of
 *     every taking-part restart that covers it (the reference covers them all).
 * shift (R), minus (R) and used (R) receive each restart's placement (ref column i faces the oriented
 * restart's column i + shift) and whether it took part; cons (L, 4) the consensus. Returns the number
 * of restarts that took part (0: none reached the threshold, cons untouched); *ref the reference
 * (-1 when none). */
#define DM_CONSENSUS_MIN_P       0.5f
#define DM_CONSENSUS_MIN_OVERLAP 8
int dm_optimize_consensus(const float *ppm, const float *p_pos, int R, int L, float *cons, int *shift, int *minus,
                          int *used, int *ref);

/* Writes PREFIX.meme (the PPM of every restart, then their aligned consensus as "consensus" named
 * "consensus_of_K_of_R_restarts", K the restarts with P(bound) >= 0.5; no consensus motif when K is
 * 0), PREFIX.trajectory.tsv (step, then the objective of every restart) and PREFIX.fa (the most
 * probable sequence of the best restart). *n_consensus (may be NULL) receives K. */
dm_status dm_optimize_write(const char *prefix, const dm_optimize_options *o, int L, const float *ppm,
                            const float *objective, const float *p_pos, int *n_consensus);

#endif /* DM_OPTIMIZE_H */
