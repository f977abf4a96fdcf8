/*
 * compute.c: the dashboard's computation (dashboard_internal.h has the split): read the database,
 * every checkpoint and the data; score every sequence with every model (AUROC, AUPRC, accuracy); pick
 * the top-K sequences by mean P(bound); per model the saliency gradient and temporal scores of those
 * K, the class-optimised PPMs and the first-layer filter PPMs, and their database matches. All of it
 * goes into one dm_dash before anything is written; dm_dashboard_write then writes the raw files and
 * the page (files.c, page.c) and removes what it wrote when a write fails.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "dashboard_internal.h"
#include "genome.h"
#include "meme.h"
#include "netio.h"
#include "optimize.h"
#include "train.h"

void dm_dashboard_options_default(dm_dashboard_options *o) {
    *o = (dm_dashboard_options){
        .top = 10, .restarts = 8, .steps = 1000, .hits = 3, .max_filters = 24, .seed = 1};
}

/* A progress line through the caller's callback (the library itself never prints). */
static void dash_log(const dm_dash *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dash_log(const dm_dash *d, const char *fmt, ...) {
    if (!d->o->log) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    d->o->log(d->o->log_ctx, line);
}

/* The data set name: file name without directory, ".gz", one more extension and a trailing _B/_AC. */
static void dataset_name(const char *path, char *out, size_t n) {
    const char *s = strrchr(path, '/');
    snprintf(out, n, "%s", s ? s + 1 : path);
    size_t k = strlen(out);
    if (k > 3 && !strcmp(out + k - 3, ".gz")) out[k -= 3] = 0;
    static const char *const ext[] = {".seq", ".fa", ".fasta", ".tsv", ".txt", ".bed"};
    for (int i = 0; i < 6; i++) {
        size_t e = strlen(ext[i]);
        if (k > e && !strcmp(out + k - e, ext[i])) out[k -= e] = 0;
    }
    if (k > 2 && !strcmp(out + k - 2, "_B"))
        out[k - 2] = 0;
    else if (k > 3 && !strcmp(out + k - 3, "_AC"))
        out[k - 3] = 0;
}

/* The TF of a data set name: the part before the first '_' (DeepBind's <TF>_<cell>_…). */
void dash_tf_of(const char *name, char *out, size_t n) {
    snprintf(out, n, "%.*s", (int)strcspn(name, "_"), name);
}

/* Loads one checkpoint into a model on `be` for batches of `batch` (dm_net_load: errors name the
 * file), with its trainable-parameter count and the file's SHA-256. */
static dm_status load_model(dm_dash_model *dm, dm_backend *be, int batch) {
    if (!(dm->prov = calloc(1, sizeof *dm->prov)))
        return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    DM_TRY(dm_net_load(dm->path, be, batch, &dm->m, dm->prov));
    dm->hp = *dm_net_hparams(dm->m);
    dm->n_trainable = dm_net_n_trainable(dm->m);
    return dm_file_sha256(dm->path, &dm->bytes, dm->sha256);
}

/* ---- compute ------------------------------------------------------------------------------------ */

/* A row and its ranking key. */
typedef struct dm_ranked {
    float key;
    int64_t row;
} dm_ranked;

/* Descending key, then ascending row (NaN keys were mapped to −∞ by the caller). */
static int ranked_desc(const void *a, const void *b) {
    const dm_ranked *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? 1 : -1;
    return (x->row > y->row) - (x->row < y->row);
}

/* ROC and PR curves of one model (dashboard_internal.h). */
dm_status dash_curves(const float *score, const int8_t *label, int64_t n, dm_curves *c) {
    memset(c, 0, sizeof *c);
    dm_ranked *r = malloc(sizeof *r * (size_t)(n ? n : 1));
    c->fpr = malloc(sizeof(double) * (size_t)(n + 1));
    c->tpr = malloc(sizeof(double) * (size_t)(n + 1));
    c->rec = malloc(sizeof(double) * (size_t)(n + 1));
    c->prec = malloc(sizeof(double) * (size_t)(n + 1));
    if (!r || !c->fpr || !c->tpr || !c->rec || !c->prec) {
        free(r);
        return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    }
    /* labelled rows by descending score */
    int64_t m = 0, pos = 0, neg = 0;
    for (int64_t i = 0; i < n; i++) {
        if (label[i] != 0 && label[i] != 1) continue;
        r[m].key = isnan(score[i]) ? -INFINITY : score[i];
        r[m++].row = i;
        pos += label[i] == 1;
    }
    neg = m - pos;
    qsort(r, (size_t)m, sizeof *r, ranked_desc);
    /* walk tied groups: each adds one point after admitting the whole group */
    int64_t tp = 0, fp = 0;
    c->fpr[0] = c->tpr[0] = c->rec[0] = 0;
    c->prec[0] = 1;
    c->n = 1;
    for (int64_t i = 0; i < m;) {
        int64_t j = i;
        for (; j < m && r[j].key == r[i].key; j++) {
            if (label[r[j].row] == 1)
                tp++;
            else
                fp++;
        }
        c->fpr[c->n] = neg ? (double)fp / (double)neg : 0;
        c->tpr[c->n] = pos ? (double)tp / (double)pos : 0;
        c->rec[c->n] = c->tpr[c->n];
        c->prec[c->n] = (double)tp / (double)(tp + fp);
        c->n++;
        i = j;
    }
    free(r);
    return DM_STATUS_OK;
}

/* Frees the curve arrays; a zeroed dm_curves is a no-op. */
void dash_curves_free(dm_curves *c) {
    free(c->fpr);
    free(c->tpr);
    free(c->rec);
    free(c->prec);
    memset(c, 0, sizeof *c);
}

/* Every model's score of every sequence, and the metrics. */
static dm_status score_all(dm_dash *d) {
    for (int i = 0; i < d->nm; i++) {
        dm_dash_model *dm = &d->mod[i];
        if (!(dm->score = malloc(sizeof(float) * (size_t)d->ds.n)))
            return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
        DM_TRY(dm_net_predict(dm->m, &d->ds, d->o->n_quarter, dm->score));
        dm->auroc = d->labelled ? dm_auroc(dm->score, d->ds.label, d->ds.n) : NAN;
        dm->auprc = d->labelled ? dm_auprc(dm->score, d->ds.label, d->ds.n) : NAN;
        dm->acc = d->labelled ? dm_accuracy(dm->score, d->ds.label, d->ds.n) : NAN;
        /* an undefined metric (unlabelled data, one class) is logged as NA with the reason, never nan */
        char a[32] = "NA", p[32] = "NA";
        if (isfinite(dm->auroc)) snprintf(a, sizeof a, "%.4f", dm->auroc);
        if (isfinite(dm->auprc)) snprintf(p, sizeof p, "%.4f", dm->auprc);
        const char *why = !d->labelled ? "the data are unlabelled"
                        : dm_metric_undefined(dm->score, d->ds.label, d->ds.n, DM_METRIC_AUROC);
        dash_log(d, "%s: AUROC %s  AUPRC %s on %lld sequences%s%s%s", dm->tag, a, p, (long long)d->ds.n,
                 why ? " (AUROC undefined: " : "", why ? why : "", why ? ")" : "");
    }
    return DM_STATUS_OK;
}

/* The top-K rows by mean P(bound) over the models, their one-hot inputs, labels and bases. */
static dm_status pick_top(dm_dash *d) {
    int64_t n = d->ds.n;
    int L = d->L;
    d->K = (int)(d->o->top < n ? d->o->top : n);
    dm_ranked *r = malloc(sizeof *r * (size_t)n);
    d->mean = malloc(sizeof(float) * (size_t)n);
    d->top = malloc(sizeof(int64_t) * (size_t)d->K);
    d->x = calloc(4 * (size_t)d->K * L, sizeof(float));
    d->top_label = malloc((size_t)d->K);
    d->top_seq = malloc((size_t)d->K * (L + 1));
    if (!r || !d->mean || !d->top || !d->x || !d->top_label || !d->top_seq) {
        free(r);
        return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < d->nm; k++) s += d->mod[k].score[i];
        d->mean[i] = (float)(s / d->nm);
        r[i].key = isnan(d->mean[i]) ? -INFINITY : d->mean[i];
        r[i].row = i;
    }
    qsort(r, (size_t)n, sizeof *r, ranked_desc);
    /* inputs as the models see them (dm_onehot_host), and the bases as text */
    for (int k = 0; k < d->K; k++) {
        int64_t row = d->top[k] = r[k].row;
        const uint8_t *codes = d->ds.seq + (size_t)row * L;
        dm_onehot_host(d->x + (size_t)k * L * 4, codes, L, d->o->n_quarter);
        for (int l = 0; l < L; l++)
            d->top_seq[(size_t)k * (L + 1) + l] = "ACGTN-"[codes[l] <= DM_BASE_PAD ? codes[l] : DM_BASE_N];
        d->top_seq[(size_t)k * (L + 1) + L] = 0;
        d->top_label[k] = d->ds.label[row];
    }
    free(r);
    return DM_STATUS_OK;
}

/* Saliency gradients and (recurrent models) temporal scores of the top sequences, in batches of the
 * model's size.
 *
 * The saliency is DeMo's |∂(−log P(y | X))/∂X| (SPEC.md §6.1) in all four channels, y the true label
 * (the bound class without labels). Through the log-softmax, ∂(−log p_y)/∂z = ±p_ȳ (1, −1) with ȳ the
 * other class, so the map equals p_ȳ · |∂(z_pos − z_neg)/∂X|, which is what is computed: the backward
 * pass of (1, −1) on the log-probabilities (the logit difference, exact), times p_ȳ = exp(log p_ȳ).
 * The direct form goes through 1 − p_y, which float32 rounds to a few levels (or 0) once p_y nears 1,
 * mixing in the common-mode gradient of z_pos + z_neg: noise exactly on the confident top sequences. */
static dm_status top_maps(dm_dash *d, dm_dash_model *dm) {
    int K = d->K, L = d->L, Bmax = dm_net_max_batch(dm->m);
    float *g2 = malloc(sizeof(float) * 2 * (size_t)Bmax), *lp = malloc(sizeof(float) * 2 * (size_t)Bmax);
    dm->grad = malloc(sizeof(float) * 4 * (size_t)K * L);
    dm_status st =
        !g2 || !lp || !dm->grad ? dm_error(DM_STATUS_NOMEM, "dashboard: out of memory") : DM_STATUS_OK;
    for (int b = 0; b < Bmax && !st; b++) g2[2 * b] = 1.0f, g2[2 * b + 1] = -1.0f;
    for (int k0 = 0; k0 < K && !st; k0 += Bmax) {
        int B = K - k0 < Bmax ? K - k0 : Bmax;
        float *g = dm->grad + (size_t)k0 * L * 4;
        st = dm_net_forward(dm->m, d->x + (size_t)k0 * L * 4, B, false, 0, 0);
        if (!st) st = dm_net_logprob(dm->m, lp);
        if (!st) st = dm_net_backward_from(dm->m, g2, B, g);
        /* scale row b by the probability of the other class: column 1 (unbound) for y = 1 */
        for (int b = 0; b < B && !st; b++) {
            float p_other = expf(lp[2 * b + (d->top_label[k0 + b] == 0 ? 0 : 1)]);
            for (int i = 0; i < 4 * L; i++)
                g[(size_t)b * 4 * L + i] = p_other * fabsf(g[(size_t)b * 4 * L + i]);
        }
    }
    free(g2);
    free(lp);
    DM_TRY(st);
    /* temporal output scores (SPEC.md §6.2): none without a recurrent layer (the cnn) */
    if (!dm_net_temporal_stride(dm->m)) return DM_STATUS_OK;
    dm->fwd = malloc(sizeof(float) * (size_t)K * L);
    dm->bwd = malloc(sizeof(float) * (size_t)K * L);
    if (!dm->fwd || !dm->bwd) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    for (int k0 = 0; k0 < K; k0 += Bmax) {
        int B = K - k0 < Bmax ? K - k0 : Bmax;
        DM_TRY(dm_net_temporal(dm->m, d->x + (size_t)k0 * L * 4, B, dm->fwd + (size_t)k0 * L,
                                 dm->bwd + (size_t)k0 * L));
    }
    return DM_STATUS_OK;
}

/* Class optimisation (SPEC.md §6.3): R seeded restarts in one batch; their PPMs kept as a motif set,
 * best (lowest) final objective first, each named restart_<k> by its seed stream. */
static dm_status optimised_ppms(dm_dash *d, dm_dash_model *dm) {
    int L = d->L, R = d->o->restarts;
    dm_optimize_options oo;
    dm_optimize_options_default(&oo);
    oo.restarts = R;
    oo.steps = d->o->steps;
    oo.seed = d->o->seed;
    float *xo = malloc(sizeof(float) * 4 * (size_t)R * L), *ppm = malloc(sizeof(float) * 4 * (size_t)R * L);
    float *obj = malloc(sizeof(float) * (size_t)(oo.steps + 1) * R), *pp = malloc(sizeof(float) * (size_t)R);
    dm_ranked *order = malloc(sizeof *order * (size_t)R);
    dm->opt_p = malloc(sizeof(float) * (size_t)R);
    dm->opt_obj = malloc(sizeof(float) * (size_t)R);
    dm->opt.m = calloc((size_t)R, sizeof(dm_motif));
    dm_status st = !xo || !ppm || !obj || !pp || !order || !dm->opt_p || !dm->opt_obj || !dm->opt.m
                       ? dm_error(DM_STATUS_NOMEM, "dashboard: out of memory")
                       : dm_net_optimize(dm->m, &oo, xo, ppm, obj, pp);
    /* rank by the objective after the last step (row `steps` of the trajectory) */
    const float *final = obj + (size_t)oo.steps * R;
    for (int r = 0; r < R && !st; r++) order[r] = (dm_ranked){.key = -final[r], .row = r};
    if (!st) qsort(order, (size_t)R, sizeof *order, ranked_desc);
    for (int i = 0; i < R && !st; i++) {
        int r = (int)order[i].row;
        dm_motif *mo = &dm->opt.m[i];
        if (!(mo->p = malloc(sizeof(float) * 4 * (size_t)L))) {
            st = dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
            break;
        }
        dm->opt.n++;
        memcpy(mo->p, ppm + 4 * (size_t)r * L, sizeof(float) * 4 * (size_t)L);
        snprintf(mo->id, sizeof mo->id, "restart_%d", r + 1);
        snprintf(mo->name, sizeof mo->name, "P(bound)=%.4f", pp[r]);
        mo->w = L;
        mo->nsites = 1;
        dm->opt_p[i] = pp[r];
        dm->opt_obj[i] = final[r];
    }
    free(xo);
    free(ppm);
    free(obj);
    free(pp);
    free(order);
    return st;
}

/* Everything shown for one model: maps of the top sequences, optimised PPMs, first-layer filters
 * (aligned on the whole data set; not for the rnn). */
static dm_status visualise(dm_dash *d, dm_dash_model *dm) {
    DM_TRY(top_maps(d, dm));
    DM_TRY(optimised_ppms(d, dm));
    if (dm_arch_has(&dm->hp, DM_LAYER_CONV)) {
        dm_motifs_options mo;
        dm_motifs_options_default(&mo);
        mo.n_quarter = d->o->n_quarter;
        DM_TRY(dm_motifs_extract(dm->m, &d->ds, &mo, &dm->filt));
    }
    dash_log(d, "%s: saliency%s of %d sequences, %d optimised PPMs, %d filter PPMs", dm->tag,
             dm->fwd ? " and temporal scores" : "", d->K, dm->opt.n, dm->filt.n);
    return DM_STATUS_OK;
}

/* The comparison settings: TOMTOM-like defaults, `hits` matches per motif, the run's seed. */
void dash_compare_options(const dm_dash *d, dm_compare_options *co) {
    dm_compare_options_default(co);
    co->top = d->o->hits;
    co->seed = d->o->seed;
}

/* Database matches of the optimised and filter PPMs (nothing without a database). */
static dm_status name_motifs(dm_dash *d, dm_dash_model *dm) {
    if (!d->db.n) return DM_STATUS_OK;
    dm_compare_options co;
    dash_compare_options(d, &co);
    if (dm->opt.n) DM_TRY(dm_compare(&dm->opt, &d->db, &co, &dm->opt_hits, &dm->n_opt_hits));
    if (dm->filt.n) DM_TRY(dm_compare(&dm->filt, &d->db, &co, &dm->filt_hits, &dm->n_filt_hits));
    return DM_STATUS_OK;
}

dm_status dash_named_motif(const dm_dash *d, const dm_dash_model *dm, dm_named *out) {
    *out = (dm_named){.target = -1, .queries = {dm->opt.n, dm->filt.n}};
    int *votes = calloc(2 * (size_t)d->db.n, sizeof(int));
    if (!votes) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    const dm_hit *hits[2] = {dm->opt_hits, dm->filt_hits};
    int nh[2] = {dm->n_opt_hits, dm->n_filt_hits};
    /* hits come sorted by query, then p: the first of each query is its top match */
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < nh[s]; i++)
            if ((i == 0 || hits[s][i].query != hits[s][i - 1].query) && hits[s][i].qvalue <= DM_DASH_NAMED_Q)
                votes[2 * hits[s][i].target + s]++;
    /* the target with the most votes, then its best top match */
    for (int t = 0; t < d->db.n; t++) {
        int v = votes[2 * t] + votes[2 * t + 1], best = out->target < 0 ? 0 : out->votes[0] + out->votes[1];
        if (v == 0 || v < best) continue;
        double q = 2;
        const dm_motif_set *set = NULL;
        int query = -1;
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < nh[s]; i++)
                if ((i == 0 || hits[s][i].query != hits[s][i - 1].query) && hits[s][i].target == t &&
                    hits[s][i].qvalue < q)
                    q = hits[s][i].qvalue, set = s ? &dm->filt : &dm->opt, query = hits[s][i].query;
        if (v == best && q >= out->q) continue;
        out->target = t;
        out->votes[0] = votes[2 * t];
        out->votes[1] = votes[2 * t + 1];
        out->q = q;
        out->set = set;
        out->query = query;
    }
    free(votes);
    return DM_STATUS_OK;
}

/* Frees everything the computation and the page held (not the dm_dash itself). */
static void dash_free(dm_dash *d) {
    for (int i = 0; i < d->nm; i++) {
        dm_dash_model *dm = &d->mod[i];
        dm_net_free(dm->m);
        free(dm->prov);
        free(dm->score);
        free(dm->grad);
        free(dm->fwd);
        free(dm->bwd);
        free(dm->opt_p);
        free(dm->opt_obj);
        free(dm->opt_hits);
        free(dm->filt_hits);
        dm_motif_set_free(&dm->opt);
        dm_motif_set_free(&dm->filt);
    }
    dm_dataset_free(&d->ds);
    dm_motif_set_free(&d->db);
    free(d->top);
    free(d->mean);
    free(d->x);
    free(d->top_label);
    free(d->top_seq);
    dm_buf_free(&d->page);
    dash_outputs_free(&d->out);
}

/* Every input read and every number computed, nothing written yet. */
static dm_status compute(dm_dash *d, const char *const *models, dm_backend *be) {
    const dm_dashboard_options *o = d->o;
    if (o->db) DM_TRY(dm_meme_read(o->db, &d->db));
    if (o->db && !d->db.n) return dm_error(DM_STATUS_FORMAT, "%s: no motifs", o->db);
    /* checkpoints: a batch that holds the restarts; tags by architecture, numbered on repeats */
    int batch = o->restarts > 256 ? o->restarts : 256;
    for (int i = 0; i < d->nm; i++) {
        dm_dash_model *dm = &d->mod[i];
        dm->path = models[i];
        DM_TRY(load_model(dm, be, batch));
        int same = 1;
        for (int j = 0; j < i; j++) same += d->mod[j].hp.arch == dm->hp.arch;
        if (same > 1)
            snprintf(dm->tag, sizeof dm->tag, "%s-%d", dm_arch_name(dm->hp.arch), same);
        else
            snprintf(dm->tag, sizeof dm->tag, "%s", dm_arch_name(dm->hp.arch));
        if (dm->hp.len != d->mod[0].hp.len)
            return dm_error(DM_STATUS_ARG, "%s: input length %d, but %s has %d", dm->path, dm->hp.len,
                            d->mod[0].path, d->mod[0].hp.len);
    }
    /* the data, at the models' length */
    d->L = d->mod[0].hp.len;
    if (d->o->genome)   /* the data path is a BED file of regions of this genome */
        DM_TRY(dm_bed_load(d->data_path, d->o->label_col, d->o->genome, d->L, (dm_resize)d->o->resize, &d->ds, NULL));
    else
        DM_TRY(dm_dataset_read(&d->ds, d->data_path, DM_FORMAT_AUTO, d->L));
    if (d->ds.n == 0) return dm_error(DM_STATUS_FORMAT, "%s: no sequences", d->data_path);
    DM_TRY(dm_file_sha256(d->data_path, &d->data_bytes, d->data_sha));
    d->labelled = true;
    for (int64_t i = 0; i < d->ds.n; i++) {
        d->labelled &= d->ds.label[i] == 0 || d->ds.label[i] == 1;
        d->n_pos += d->ds.label[i] == 1;
        d->n_neg += d->ds.label[i] == 0;
    }
    if (o->name)
        snprintf(d->name, sizeof d->name, "%s", o->name);
    else
        dataset_name(d->data_path, d->name, sizeof d->name);
    dash_log(d, "%s: %lld sequences, %d model(s)", d->name, (long long)d->ds.n, d->nm);
    /* scores, the top sequences, then each model's visualisations and motif names */
    DM_TRY(score_all(d));
    DM_TRY(pick_top(d));
    for (int i = 0; i < d->nm; i++) {
        DM_TRY(visualise(d, &d->mod[i]));
        DM_TRY(name_motifs(d, &d->mod[i]));
    }
    return DM_STATUS_OK;
}

dm_status dm_dashboard_write(const char *const *models, int n_models, const char *data, const char *dir,
                             dm_backend *be, const dm_dashboard_options *o, dm_dashboard_result *res) {
    memset(res, 0, sizeof *res);
    if (n_models < 1 || n_models > DM_DASH_MAX_MODELS)
        return dm_error(DM_STATUS_ARG, "dashboard: %d models (1 to %d)", n_models, DM_DASH_MAX_MODELS);
    if (o->top < 1 || o->restarts < 1 || o->restarts > 4096 || o->steps < 0 || o->hits < 1 ||
        o->max_filters < 0)
        return dm_error(DM_STATUS_ARG, "dashboard: top, restarts (at most 4096) and hits must be positive, "
                                       "steps and max_filters >= 0");
    if (strlen(dir) > 3900) return dm_error(DM_STATUS_ARG, "%s: path too long", dir);
    dm_dash *d = calloc(1, sizeof *d);
    if (!d) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    d->o = o;
    d->dir = dir;
    d->data_path = data;
    d->nm = n_models;
    dm_status st = compute(d, models, be);
    /* every raw output, then the page (figures written as it is built), index.html last */
    if (!st) st = dash_write_raw(d);
    if (!st) st = dash_write_page(d);
    if (st)
        dash_outputs_rollback(&d->out);
    else {
        snprintf(res->index, sizeof res->index, "%s/index.html", d->dir);
        res->n_models = d->nm;
        for (int i = 0; i < d->nm; i++) {
            snprintf(res->tag[i], sizeof res->tag[i], "%s", d->mod[i].tag);
            res->auroc[i] = d->mod[i].auroc;
            res->auprc[i] = d->mod[i].auprc;
        }
    }
    dash_free(d);
    free(d);
    return st;
}
