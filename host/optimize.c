/*
 * optimize.c: class optimisation (see optimize.h). Each step is one forward and one backward pass of
 * the whole batch of restarts: ∂f/∂X = ∂(−log P(pos))/∂X + 2λX, then RMSprop on X (or on Z through
 * the softmax Jacobian, ∂f/∂Z = X ⊙ (g − Σ_b g_b X_b) per position). X, Z, the RMSprop cache and the
 * objective trajectory live in backend memory (the optin_* ops); only the results come back.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dm_rng.h"
#include "meme.h"
#include "optimize.h"

void dm_optimize_options_default(dm_optimize_options *o) {
    *o = (dm_optimize_options){.restarts = 1, .steps = 1000, .lr = 0.05f, .lambda = 0.009f,
                               .alpha = 0.99f, .eps = 1e-8f, .softmax = false, .seed = 1};
}

dm_status dm_net_optimize(dm_net *m, const dm_optimize_options *o, float *x, float *ppm, float *objective,
                      float *p_pos) {
    int R = o->restarts, L = dm_net_hparams(m)->len;
    if (R < 1 || R > dm_net_max_batch(m))
        return dm_error(DM_STATUS_ARG, "optimize: %d restarts for a batch of %d", R, dm_net_max_batch(m));
    dm_backend *be = dm_net_backend(m);
    const struct dm_backend_i *op = be->i;
    size_t n = 4 * (size_t)R * L;
    /* backend state: Z, the RMSprop cache, ∂/∂logprob, the objective trajectory; X is the model's input */
    float *z = op->alloc(be, sizeof(float) * n), *v = op->alloc(be, sizeof(float) * n);
    float *g2 = op->alloc(be, sizeof(float) * 2 * (size_t)R);
    float *obj = op->alloc(be, sizeof(float) * (size_t)(o->steps + 1) * R);
    float *host = malloc(sizeof(float) * (n > 2 * (size_t)R ? n : 2 * (size_t)R));
    dm_status st = DM_STATUS_OK;
    if (!z || !v || !g2 || !obj || !host) {
        st = dm_error(DM_STATUS_NOMEM, "optimize: out of memory");
        goto done;
    }
    /* X ~ U[0, 1): one counter-based stream per restart (Z for the softmax variant) */
    for (int r = 0; r < R; r++) {
        dm_rng rng;
        dm_rng_init(&rng, o->seed, DM_STREAM_OPTIMIZE, (uint64_t)r);
        for (size_t i = 0; i < 4 * (size_t)L; i++) host[r * 4 * (size_t)L + i] = (float)dm_rng_uniform(&rng);
    }
    op->upload(be, z, host, sizeof(float) * n);
    op->memset0(be, v, sizeof(float) * n);
    for (int r = 0; r < R; r++) {   /* ∂(−log P(pos))/∂logprob: −1 at the bound class */
        host[2 * r] = -1.0f;
        host[2 * r + 1] = 0.0f;
    }
    op->upload(be, g2, host, sizeof(float) * 2 * (size_t)R);

    /* the whole loop stays in backend memory: one forward and one backward of all restarts per step */
    float *xd = dm_net_input(m), *grad = dm_net_input_grad(m);
    for (int step = 0; step <= o->steps && !st; step++) {
        op->optin_project(be, xd, z, (int64_t)R * L, o->softmax);
        if ((st = dm_net_forward_input(m, R, false, 0, 0)) || (st = dm_net_backward_input(m, g2, R))) break;
        op->optin_objective(be, obj + (size_t)step * R, grad, xd, dm_net_logprob_buf(m), R, 4 * L, o->lambda);
        if (step < o->steps) op->optin_rmsprop(be, z, v, grad, xd, (int64_t)R * L, o->lr, o->alpha, o->eps, o->softmax);
        st = dm_backend_status(be);
        if (!st && o->on_step) {
            int every = o->report_every > 0 ? o->report_every : 10;
            if (step == o->steps || (step + 1 < o->steps && (step + 1) % every == 0))
                st = o->on_step(o->on_step_ctx, step < o->steps ? step + 1 : o->steps, o->steps);
        }
    }
    if (!st) {
        op->download(be, x, xd, sizeof(float) * n);
        op->download(be, objective, obj, sizeof(float) * (size_t)(o->steps + 1) * R);
        st = dm_net_scores(m, p_pos);
    }
    if (!st) {
        memcpy(ppm, x, sizeof(float) * n);
        for (int r = 0; r < R; r++) dm_optimize_postprocess(ppm + 4 * (size_t)r * L, L);
    }
done:
    free(host);
    float *bufs[] = {z, v, g2, obj};
    for (int k = 0; k < 4; k++) if (bufs[k]) op->free(be, bufs[k]);
    return st;
}

void dm_optimize_postprocess(float *x, int L) {
    float mx = 0;
    for (int i = 0; i < 4 * L; i++) {
        x[i] = fminf(fmaxf(x[i], 0.0f), 1.0f);
        mx = fmaxf(mx, x[i]);
    }
    for (int l = 0; l < L; l++) {
        float *r = x + 4 * l;
        float s = r[0] + r[1] + r[2] + r[3];
        for (int c = 0; c < 4; c++) {
            if (s > 0 && mx > 0) r[c] /= mx;
            r[c] += 0.01f;
        }
        s = r[0] + r[1] + r[2] + r[3];
        for (int c = 0; c < 4; c++) r[c] /= s;
    }
}

dm_status dm_optimize_write(const char *prefix, const dm_optimize_options *o, int L, const float *ppm,
                            const float *objective, const float *p_pos) {
    int R = o->restarts;
    char path[3][4200];
    snprintf(path[0], sizeof path[0], "%s.meme", prefix);
    snprintf(path[1], sizeof path[1], "%s.trajectory.tsv", prefix);
    snprintf(path[2], sizeof path[2], "%s.fa", prefix);
    float *mean = calloc(4 * (size_t)L, sizeof(float));
    if (!mean) return dm_error(DM_STATUS_NOMEM, "optimize: out of memory");
    int best = 0;
    for (int r = 1; r < R; r++)
        if (objective[(size_t)o->steps * R + r] < objective[(size_t)o->steps * R + best]) best = r;
    for (int r = 0; r < R; r++)
        for (int i = 0; i < 4 * L; i++) mean[i] += ppm[4 * (size_t)r * L + i] / (float)R;

    /* the MEME file: every restart's PPM (views into ppm), then their mean as the consensus */
    dm_motif_set set = {.n = R + 1, .m = calloc((size_t)R + 1, sizeof(dm_motif))};
    if (!set.m) {
        free(mean);
        return dm_error(DM_STATUS_NOMEM, "optimize: out of memory");
    }
    for (int r = 0; r <= R; r++) {
        dm_motif *mo = &set.m[r];
        mo->w = L;
        mo->p = r < R ? (float *)ppm + 4 * (size_t)r * L : mean;
        mo->nsites = r < R ? 1 : R;
        if (r < R) {
            snprintf(mo->id, sizeof mo->id, "restart_%d", r + 1);
            snprintf(mo->name, sizeof mo->name, "P(bound)=%.4f", p_pos[r]);
        } else {
            snprintf(mo->id, sizeof mo->id, "consensus");
            snprintf(mo->name, sizeof mo->name, "mean_of_%d_restarts", R);
        }
    }

    dm_outfile f[3];
    memset(f, 0, sizeof f);
    dm_status st = DM_STATUS_OK;
    for (int k = 0; k < 3 && !st; k++) st = dm_outfile_open(&f[k], path[k]);
    if (!st) st = dm_meme_fprint(f[0].f, path[0], &set);
    if (!st) {

        fprintf(f[1].f, "step");
        for (int r = 0; r < R; r++) fprintf(f[1].f, "\trestart_%d", r + 1);
        fputc('\n', f[1].f);
        for (int s = 0; s <= o->steps; s++) {
            fprintf(f[1].f, "%d", s);
            for (int r = 0; r < R; r++) fprintf(f[1].f, "\t%.6g", objective[(size_t)s * R + r]);
            fputc('\n', f[1].f);
        }

        fprintf(f[2].f, ">restart_%d P(bound)=%.6f objective=%.6f\n", best + 1, p_pos[best],
                objective[(size_t)o->steps * R + best]);
        for (int l = 0; l < L; l++) {
            const float *row = ppm + 4 * ((size_t)best * L + l);
            int c = 0;
            for (int k = 1; k < 4; k++) if (row[k] > row[c]) c = k;
            fputc("ACGT"[c], f[2].f);
        }
        fputc('\n', f[2].f);
    }
    for (int k = 0; k < 3 && !st; k++) st = dm_outfile_commit(&f[k]);
    if (st) {
        for (int k = 0; k < 3; k++) {
            dm_outfile_abort(&f[k]);
            remove(path[k]);
        }
    }
    free(set.m);
    free(mean);
    return st;
}
