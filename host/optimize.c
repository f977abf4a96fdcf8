/*
 * optimize.c: class optimisation (see optimize.h). Each step is one forward and one backward pass of
 * the whole batch of restarts: ∂f/∂X = ∂(−log P(pos))/∂X + 2λX, then RMSprop on X (or on Z through
 * the softmax Jacobian, ∂f/∂Z = X ⊙ (g − Σ_b g_b X_b) per position). X, Z, the RMSprop cache and the
 * objective trajectory live in backend memory (the optin_* ops); only the results come back.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_rng.h"
#include "meme.h"
#include "optimize.h"

#define DM_OPT_MAX_SLICES 64   /* threads of one run (the CPU backend's DM_CPU_MAX_THREADS or fewer) */

void dm_optimize_options_default(dm_optimize_options *o) {
    *o = (dm_optimize_options){.restarts = 1, .steps = 1000, .lr = 0.05f, .lambda = 0.009f,
                               .alpha = 0.99f, .eps = 1e-8f, .softmax = false, .seed = 1};
}

/* One step's work and the buffers it uses (dm_net_optimize). */
struct opt_step {
    dm_net *m;
    const dm_optimize_options *o;
    float *z, *v, *g2, *obj;
    float *cur;    /* this step's objective (R), when the backend has optin_record, else NULL */
    int *stepd;    /* the step number in backend memory (with cur) */
    int R, L;
    bool byvalue;  /* DM_TEST_GRAPH_BYVALUE: the row passed by value (wrong under graphs: tests catch it) */
};

/* Step `step`: project, forward, backward, objective (its row of the trajectory), update unless last. */
static dm_status opt_step_run(const struct opt_step *p, int step) {
    dm_backend *be = dm_net_backend(p->m);
    const struct dm_backend_i *op = be->i;
    const dm_optimize_options *o = p->o;
    int R = p->R, L = p->L;
    float *xd = dm_net_input(p->m), *grad = dm_net_input_grad(p->m);
    dm_status st;
    op->optin_project(be, xd, p->z, (int64_t)R * L, o->softmax);
    if ((st = dm_net_forward_input(p->m, R, false, 0, 0)) || (st = dm_net_backward_input(p->m, p->g2, R))) return st;
    bool rec = p->cur && !p->byvalue;
    op->optin_objective(be, rec ? p->cur : p->obj + (size_t)step * R, grad, xd, dm_net_logprob_buf(p->m), R,
                        4 * L, o->lambda);
    if (rec) op->optin_record(be, p->obj, p->cur, p->stepd, R);
    if (step < o->steps)
        op->optin_rmsprop(be, p->z, p->v, grad, xd, (int64_t)R * L, o->lr, o->alpha, o->eps, o->softmax);
    return DM_STATUS_OK;
}

/* One slice of a run's restarts: [r0, r0 + n) of R, in the batch of `m` (the caller's model, or a
 * one-thread copy of it on its own backend: optimize_split). */
struct opt_slice {
    dm_net *m;
    const dm_optimize_options *o;
    int r0, n, R;
    float *x, *objective, *p_pos;   /* the whole run's outputs: (R, L, 4), (steps + 1, R), (R) */
    bool report;                    /* calls o->on_step (the caller's thread only) */
    atomic_int *stop;               /* set by a slice that fails or is stopped: the others end too */
    dm_status st;
    char err[256];                  /* a worker thread's dm_last_error() */
};

/* Runs one slice: every step of its restarts in backend memory; the results into the run's outputs. */
static dm_status opt_slice_run(struct opt_slice *sl) {
    dm_net *m = sl->m;
    const dm_optimize_options *o = sl->o;
    struct opt_step sp = {0};
    int R = sl->n, L = dm_net_hparams(m)->len;
    dm_backend *be = dm_net_backend(m);
    const struct dm_backend_i *op = be->i;
    size_t n = 4 * (size_t)R * L, nobj = (size_t)(o->steps + 1) * R;
    /* backend state: Z, the RMSprop cache, ∂/∂logprob, the objective trajectory; X is the model's input */
    float *z = op->alloc(be, sizeof(float) * n), *v = op->alloc(be, sizeof(float) * n);
    float *g2 = op->alloc(be, sizeof(float) * 2 * (size_t)R);
    float *obj = op->alloc(be, sizeof(float) * nobj);
    size_t nh = n > 2 * (size_t)R ? n : 2 * (size_t)R;
    float *host = malloc(sizeof(float) * (nh > nobj ? nh : nobj));
    dm_status st = DM_STATUS_OK;
    if (!z || !v || !g2 || !obj || !host) {
        st = dm_error(DM_STATUS_NOMEM, "optimize: out of memory");
        goto done;
    }
    /* X ~ U[0, 1): one counter-based stream per restart of the run (Z for the softmax variant) */
    for (int r = 0; r < R; r++) {
        dm_rng rng;
        dm_rng_init(&rng, o->seed, DM_STREAM_OPTIMIZE, (uint64_t)(sl->r0 + r));
        for (size_t i = 0; i < 4 * (size_t)L; i++) host[r * 4 * (size_t)L + i] = (float)dm_rng_uniform(&rng);
    }
    op->upload(be, z, host, sizeof(float) * n);
    op->memset0(be, v, sizeof(float) * n);
    for (int r = 0; r < R; r++) {   /* ∂(−log P(pos))/∂logprob: −1 at the bound class */
        host[2 * r] = -1.0f;
        host[2 * r + 1] = 0.0f;
    }
    op->upload(be, g2, host, sizeof(float) * 2 * (size_t)R);

    /* the whole loop stays in backend memory: one forward and one backward of all restarts per step.
     * Steps 1 .. steps − 1 have the same shapes and arguments: where the backend has graphs they are
     * recorded once (at step 1) and replayed; the step number enters through backend memory
     * (optin_record writes its row of the trajectory). Step 0 (scratch grows) and the last step (no
     * update) run plainly. */
    sp = (struct opt_step){m, o, z, v, g2, obj, NULL, NULL, R, L,
                           getenv("DM_TEST_GRAPH_BYVALUE") != NULL};   /* tests only: a planted bug */
    void *graph = NULL;
    bool graphs = op->graph_begin != NULL && op->optin_record != NULL;
    if (op->optin_record) {
        sp.cur = op->alloc(be, sizeof(float) * (size_t)R);
        sp.stepd = op->alloc(be, sizeof(int));
        if (!sp.cur || !sp.stepd) st = dm_error(DM_STATUS_NOMEM, "optimize: out of memory");
        else op->memset0(be, sp.stepd, sizeof(int));
    }
    for (int step = 0; step <= o->steps && !st; step++) {
        if (atomic_load_explicit(sl->stop, memory_order_relaxed)) {
            st = DM_STATUS_CANCELLED;   /* another slice failed or was stopped: its status is the run's */
            break;
        }
        if (graphs && step >= 1 && step < o->steps) {
            if (!graph && op->graph_begin(be)) {
                st = opt_step_run(&sp, step);
                graph = op->graph_end(be);
                if (!st && !graph) st = dm_backend_status(be);
                if (st) break;
            }
            if (graph) op->graph_launch(be, graph);
            else st = opt_step_run(&sp, step);   /* graphs declined (DM_CUDA_GRAPHS=off) */
        } else {
            st = opt_step_run(&sp, step);
        }
        if (!st) st = dm_backend_status(be);
        if (!st && sl->report && o->on_step) {
            int every = o->report_every > 0 ? o->report_every : 10;
            if (step == o->steps || (step + 1 < o->steps && (step + 1) % every == 0))
                st = o->on_step(o->on_step_ctx, step < o->steps ? step + 1 : o->steps, o->steps);
        }
    }
    if (op->graph_free) op->graph_free(be, graph);
    if (!st) {
        op->download(be, sl->x + 4 * (size_t)sl->r0 * L, dm_net_input(m), sizeof(float) * n);
        op->download(be, host, obj, sizeof(float) * nobj);
        for (int s = 0; s <= o->steps; s++)
            memcpy(sl->objective + (size_t)s * sl->R + sl->r0, host + (size_t)s * R,
                   sizeof(float) * (size_t)R);
        st = dm_net_scores(m, sl->p_pos + sl->r0);
    }
done:
    free(host);
    float *bufs[] = {z, v, g2, obj, sp.cur, (float *)sp.stepd};
    for (int k = 0; k < 6; k++) if (bufs[k]) op->free(be, bufs[k]);
    if (st) atomic_store(sl->stop, 1);
    return st;
}

static void *opt_slice_thread(void *arg) {
    struct opt_slice *sl = arg;
    if ((sl->st = opt_slice_run(sl))) snprintf(sl->err, sizeof sl->err, "%s", dm_last_error());
    return NULL;
}

/* The restarts split into T slices, each on its own thread with a one-thread copy of the model
 * (backend op `solo`): no thread ever waits for another during the run, so a thread the OS sets
 * aside delays only its own restarts, and no step pays a barrier. Every restart's result is the one
 * the whole batch gives (each op computes a row independently of the batch size: tests/test_optimize.c
 * compares every thread count with DM_OPTIMIZE=batch bit for bit). */
static dm_status optimize_split(dm_net *m, const dm_optimize_options *o, int T, float *x, float *objective,
                                float *p_pos) {
    int R = o->restarts;
    dm_backend *be = dm_net_backend(m);
    dm_backend *sbe[DM_OPT_MAX_SLICES] = {0};
    dm_net *sm[DM_OPT_MAX_SLICES] = {0};
    struct opt_slice sl[DM_OPT_MAX_SLICES];
    pthread_t tid[DM_OPT_MAX_SLICES];
    bool started[DM_OPT_MAX_SLICES] = {0};
    atomic_int stop = 0;
    float *params = malloc(sizeof(float) * (size_t)dm_net_n_params(m));
    dm_status st = params ? dm_net_get_params(m, params)
                          : dm_error(DM_STATUS_NOMEM, "optimize: out of memory");
    for (int t = 0, r0 = 0; t < T && !st; t++) {
        int n = R / T + (t < R % T);   /* slice sizes differ by at most one, in restart order */
        sl[t] = (struct opt_slice){NULL, o, r0, n, R, x, objective, p_pos, t == 0, &stop, DM_STATUS_OK, ""};
        r0 += n;
        if (!(sbe[t] = be->i->solo(be))) st = dm_error(DM_STATUS_NOMEM, "optimize: out of memory");
        if (!st) st = dm_net_create(&sm[t], dm_net_hparams(m), sbe[t], n);
        if (!st) st = dm_net_set_params(sm[t], params);
        sl[t].m = sm[t];
    }
    for (int t = 1; t < T && !st; t++) {
        if (pthread_create(&tid[t], NULL, opt_slice_thread, &sl[t])) {
            st = dm_error(DM_STATUS_NOMEM, "optimize: cannot start a thread");
            atomic_store(&stop, 1);
        } else {
            started[t] = true;
        }
    }
    if (!st) sl[0].st = opt_slice_run(&sl[0]);   /* the caller's slice: it reports progress */
    for (int t = 1; t < T; t++) if (started[t]) pthread_join(tid[t], NULL);
    /* the run's status: the first slice that failed for a reason of its own (not the stop it saw) */
    for (int t = 0; t < T && !st; t++)
        if (sl[t].st && sl[t].st != DM_STATUS_CANCELLED)
            st = t ? dm_error(sl[t].st, "%s", sl[t].err) : sl[t].st;
    if (!st && sl[0].st) st = sl[0].st;   /* the caller's on_step stopped the run */
    for (int t = 0; t < T; t++) {
        dm_net_free(sm[t]);
        if (sbe[t]) dm_backend_free(sbe[t]);
    }
    free(params);
    return st;
}

int dm_optimize_slices(dm_net *m, int R) {
    /* threads take restarts, not ops, where the backend can give one-thread copies; DM_OPTIMIZE=batch
     * keeps the whole batch on the model's backend, its ops threaded (the reference of the split) */
    dm_backend *be = dm_net_backend(m);
    const char *mode = getenv("DM_OPTIMIZE");
    if (!be->i->solo || (mode && !strcmp(mode, "batch"))) return 1;
    int T = be->n_threads < R ? be->n_threads : R;
    return T > DM_OPT_MAX_SLICES ? DM_OPT_MAX_SLICES : T < 1 ? 1 : T;
}

dm_status dm_net_optimize(dm_net *m, const dm_optimize_options *o, float *x, float *ppm, float *objective,
                      float *p_pos) {
    int R = o->restarts, L = dm_net_hparams(m)->len;
    if (R < 1 || R > dm_net_max_batch(m))
        return dm_error(DM_STATUS_ARG, "optimize: %d restarts for a batch of %d", R, dm_net_max_batch(m));
    int T = dm_optimize_slices(m, R);
    dm_status st;
    if (T > 1) {
        st = optimize_split(m, o, T, x, objective, p_pos);
    } else {
        atomic_int stop = 0;
        struct opt_slice sl = {m, o, 0, R, R, x, objective, p_pos, true, &stop, DM_STATUS_OK, ""};
        st = opt_slice_run(&sl);
    }
    if (!st) {
        memcpy(ppm, x, sizeof(float) * 4 * (size_t)R * L);
        for (int r = 0; r < R; r++) dm_optimize_postprocess(ppm + 4 * (size_t)r * L, L);
    }
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

/* The centred dot product of column a with column b, complemented when `comp` (A<->T, C<->G). */
static double col_dot(const float *a, const float *b, int comp) {
    double d = 0;
    for (int k = 0; k < 4; k++) d += ((double)a[k] - 0.25) * ((double)b[comp ? 3 - k : k] - 0.25);
    return d;
}

int dm_optimize_consensus(const float *ppm, const float *p_pos, int R, int L, float *cons, int *shift, int *minus,
                          int *used, int *ref) {
    int best = -1, n = 0;
    for (int r = 0; r < R; r++) {
        used[r] = p_pos[r] >= DM_CONSENSUS_MIN_P;
        shift[r] = minus[r] = 0;
        if (used[r] && (best < 0 || p_pos[r] > p_pos[best])) best = r;
        n += used[r];
    }
    *ref = best;
    if (!n) return 0;
    int ov = L < DM_CONSENSUS_MIN_OVERLAP ? L : DM_CONSENSUS_MIN_OVERLAP;
    const float *q = ppm + 4 * (size_t)best * L;
    for (int r = 0; r < R; r++) {
        if (!used[r] || r == best) continue;
        const float *t = ppm + 4 * (size_t)r * L;
        double top = -INFINITY;
        for (int m = 0; m < 2; m++)
            for (int a = 0; a <= L - ov; a++)
                for (int sg = -1; sg <= 1; sg += 2) {
                    int s = sg * a;
                    if (a == 0 && sg > 0) continue;
                    /* ref column i faces oriented column j = i + s; oriented j is t's column j (+) or the
                     * complement of column L − 1 − j (−) */
                    double d = 0;
                    for (int i = s < 0 ? -s : 0; i < L && i + s < L; i++) {
                        int j = i + s;
                        d += col_dot(q + 4 * i, t + 4 * (m ? L - 1 - j : j), m);
                    }
                    if (d > top + 1e-9) {
                        top = d;
                        shift[r] = s;
                        minus[r] = m;
                    }
                }
    }
    /* the mean of the aligned columns covering each reference column */
    for (int i = 0; i < L; i++) {
        double acc[4] = {0, 0, 0, 0};
        for (int r = 0; r < R; r++) {
            int j = i + shift[r];
            if (!used[r] || j < 0 || j >= L) continue;
            const float *col = ppm + 4 * ((size_t)r * L + (minus[r] ? L - 1 - j : j));
            for (int k = 0; k < 4; k++) acc[k] += col[minus[r] ? 3 - k : k];
        }
        double sum = acc[0] + acc[1] + acc[2] + acc[3];
        for (int k = 0; k < 4; k++) cons[4 * i + k] = (float)(acc[k] / sum);
    }
    return n;
}

dm_status dm_optimize_write(const char *prefix, const dm_optimize_options *o, int L, const float *ppm,
                            const float *objective, const float *p_pos, int *n_consensus) {
    int R = o->restarts;
    char path[3][4200];
    snprintf(path[0], sizeof path[0], "%s.meme", prefix);
    snprintf(path[1], sizeof path[1], "%s.trajectory.tsv", prefix);
    snprintf(path[2], sizeof path[2], "%s.fa", prefix);
    float *cons = malloc(sizeof(float) * 4 * (size_t)L);
    int *place = malloc(sizeof(int) * 3 * (size_t)R);
    if (!cons || !place) {
        free(cons);
        free(place);
        return dm_error(DM_STATUS_NOMEM, "optimize: out of memory");
    }
    int best = 0, ref;
    for (int r = 1; r < R; r++)
        if (objective[(size_t)o->steps * R + r] < objective[(size_t)o->steps * R + best]) best = r;
    int K = dm_optimize_consensus(ppm, p_pos, R, L, cons, place, place + R, place + 2 * R, &ref);
    free(place);
    if (n_consensus) *n_consensus = K;

    /* the MEME file: every restart's PPM (views into ppm), then their aligned consensus when K > 0 */
    dm_motif_set set = {.n = R + (K > 0), .m = calloc((size_t)R + 1, sizeof(dm_motif))};
    if (!set.m) {
        free(cons);
        return dm_error(DM_STATUS_NOMEM, "optimize: out of memory");
    }
    for (int r = 0; r < set.n; r++) {
        dm_motif *mo = &set.m[r];
        mo->w = L;
        mo->p = r < R ? (float *)ppm + 4 * (size_t)r * L : cons;
        mo->nsites = r < R ? 1 : K;
        if (r < R) {
            snprintf(mo->id, sizeof mo->id, "restart_%d", r + 1);
            snprintf(mo->name, sizeof mo->name, "P(bound)=%.4f", p_pos[r]);
        } else {
            snprintf(mo->id, sizeof mo->id, "consensus");
            snprintf(mo->name, sizeof mo->name, "consensus_of_%d_of_%d_restarts", K, R);
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
    free(cons);
    return st;
}
