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
 * the final P(bound). The model's batch must hold R. */
dm_status dm_net_optimize(dm_net *m, const dm_optimize_options *o, float *x, float *ppm, float *objective,
                      float *p_pos);

/* The original post-processing of one (L, 4) matrix into a PPM, in place. */
void dm_optimize_postprocess(float *x, int L);

/* Writes PREFIX.meme (the PPM of every restart and their mean as "consensus"), PREFIX.trajectory.tsv
 * (step, then the objective of every restart) and PREFIX.fa (the most probable sequence of the best
 * restart). */
dm_status dm_optimize_write(const char *prefix, const dm_optimize_options *o, int L, const float *ppm,
                            const float *objective, const float *p_pos);

#endif /* DM_OPTIMIZE_H */
