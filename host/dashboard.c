/*
 * dashboard.c: the HTML report of one data set and the index over many (see dashboard.h).
 *
 * Two phases. Compute: read the database, every checkpoint and the data; score every sequence with
 * every model (AUROC, AUPRC, ROC and PR points); pick the top-K sequences by mean P(bound); per model
 * the saliency gradient and temporal scores of those K, the class-optimised PPMs and the first-layer
 * filter PPMs, and their database matches. Write: create DIR, write the raw outputs, build the page
 * (inline SVG from svg.c; with --figures each figure also as its own file) and write index.html last.
 * A failure in the write phase removes every file written so far and the directories created.
 *
 * The page is plain HTML5 + CSS + some seventy lines of JavaScript (hover read-out through one
 * document listener reading the figures' data-* attributes, table sorting, a render-time note).
 * Long sequence lists stay fast: each sequence block has `content-visibility: auto`, so the browser
 * lays out and paints only the blocks on screen, and heatmaps and strips are a few paths each
 * (svg.c), so the page's element count grows by about 110 letters per logo and a handful of paths
 * per track.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "compare.h"
#include "dashboard.h"
#include "dm_internal.h"
#include "meme.h"
#include "model.h"
#include "motifs.h"
#include "npy.h"
#include "optimize.h"
#include "svg.h"
#include "train.h"

void dm_dashboard_options_default(dm_dashboard_options *o) {
    *o = (dm_dashboard_options){
        .top = 10, .restarts = 8, .steps = 1000, .hits = 3, .max_filters = 24, .seed = 1};
}

/* Line colours of the models in the shared charts, by model index. */
static const char *const model_colour[DM_DASH_MAX_MODELS] = {"#1F77B4", "#9467BD", "#D62728", "#17BECF",
                                                             "#8C564B", "#E377C2", "#7F7F7F", "#BCBD22"};

/* The horizontal layout shared by a sequence's logo, heatmap and strips (8 px per base). */
static const dm_svg_track seq_track = {.left = 56, .cw = 8, .right = 8};

/* ---- written files, removed again on failure ---------------------------------------------------- */

typedef struct dm_outputs {
    char **path; /* (n) files committed so far */
    int n, cap;
    char made[2][4200]; /* directories this run created, innermost last */
    int n_made;
} dm_outputs;

/* Records a committed file (a copy of its path) for the rollback. */
static dm_status outputs_add(dm_outputs *w, const char *path) {
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        char **p = realloc(w->path, sizeof(char *) * (size_t)cap);
        if (!p) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
        w->path = p;
        w->cap = cap;
    }
    if (!(w->path[w->n] = strdup(path))) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    w->n++;
    return DM_STATUS_OK;
}

/* Creates dir unless it exists (remembering it for the rollback). */
static dm_status outputs_mkdir(dm_outputs *w, const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return DM_STATUS_OK;
        return dm_error(DM_STATUS_IO, "%s: exists and is not a directory", dir);
    }
    if (mkdir(dir, 0777) != 0)
        return dm_error(DM_STATUS_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    snprintf(w->made[w->n_made++], sizeof w->made[0], "%s", dir);
    return DM_STATUS_OK;
}

/* Failure: remove every committed file and the directories created (innermost first). */
static void outputs_rollback(dm_outputs *w) {
    for (int i = 0; i < w->n; i++) remove(w->path[i]);
    for (int i = w->n_made - 1; i >= 0; i--) rmdir(w->made[i]);
}

/* Success or failure alike: forget the record (the files stay, or were removed). */
static void outputs_free(dm_outputs *w) {
    for (int i = 0; i < w->n; i++) free(w->path[i]);
    free(w->path);
    memset(w, 0, sizeof *w);
}

/* Writes n bytes of text to DIR/name atomically and records it. */
static dm_status write_text(dm_outputs *w, const char *dir, const char *name, const char *text, size_t n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dm_outfile f;
    DM_TRY(dm_outfile_open(&f, path));
    fwrite(text, 1, n, f.f);
    DM_TRY(dm_outfile_commit(&f));
    return outputs_add(w, path);
}

/* ---- the computed report ------------------------------------------------------------------------ */

/* One model and everything shown for it. */
typedef struct dm_dash_model {
    const char *path;
    char tag[24]; /* "cnn", "rnn", "cnnrnn"; "cnn-2" for a second cnn */
    char sha256[65];
    uint64_t bytes;
    dm_hparams hp;
    int64_t n_trainable;
    dm_provenance *prov;
    dm_net *m;
    float *score; /* (n) P(bound) of every sequence */
    double auroc, auprc, acc;
    float *grad;            /* (K, L, 4) |∂ log P(target)/∂X| of the top sequences */
    float *fwd, *bwd;       /* (K, L) temporal scores; NULL for the cnn */
    dm_motif_set opt;       /* class-optimised PPMs, best objective first */
    float *opt_p, *opt_obj; /* (R) final P(bound) and objective, same order */
    dm_motif_set filt;      /* first-layer filters (cnn, cnnrnn) with enough sites, by filter index */
    dm_hit *opt_hits, *filt_hits;
    int n_opt_hits, n_filt_hits;
} dm_dash_model;

typedef struct dm_dash {
    const dm_dashboard_options *o;
    const char *dir, *data_path;
    char data_sha[65];
    uint64_t data_bytes;
    char name[256];
    dm_dataset ds;
    bool labelled;
    int64_t n_pos, n_neg;
    int nm;
    dm_dash_model mod[DM_DASH_MAX_MODELS];
    int K, L;
    int64_t *top;      /* (K) rows of the top sequences */
    float *mean;       /* (n) mean P(bound) over the models */
    float *x;          /* (K, L, 4) their one-hot inputs */
    int8_t *top_label; /* (K) */
    char *top_seq;     /* (K, L + 1) their bases as text */
    dm_motif_set db;
    dm_outputs out;
    dm_buf page;
} dm_dash;

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
    static const char *const ext[] = {".seq", ".fa", ".fasta", ".tsv", ".txt"};
    for (int i = 0; i < 5; i++) {
        size_t e = strlen(ext[i]);
        if (k > e && !strcmp(out + k - e, ext[i])) out[k -= e] = 0;
    }
    if (k > 2 && !strcmp(out + k - 2, "_B"))
        out[k - 2] = 0;
    else if (k > 3 && !strcmp(out + k - 3, "_AC"))
        out[k - 3] = 0;
}

/* The TF of a data set name: the part before the first '_' (DeepBind's <TF>_<cell>_…). */
static void tf_of(const char *name, char *out, size_t n) {
    snprintf(out, n, "%.*s", (int)strcspn(name, "_"), name);
}

/* Loads one checkpoint into a model on `be` for batches of `batch`; errors name the file. */
static dm_status load_model(dm_dash_model *dm, dm_backend *be, int batch) {
    float *params = NULL;
    int64_t np;
    if (!(dm->prov = calloc(1, sizeof *dm->prov)))
        return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    DM_TRY(dm_checkpoint_load(dm->path, dm_net_table, &dm->hp, &params, &np, dm->prov, NULL));
    dm_status st = dm_net_create(&dm->m, &dm->hp, be, batch);
    if (!st) st = dm_net_set_params(dm->m, params);
    free(params);
    if (st) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dm_last_error());
        return dm_error(st, "%s: %s", dm->path, msg);
    }
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

/* ROC and PR curves of one model: one point per distinct score from the highest down, from (0, 0)
 * and (recall 0, precision 1). The arrays (n + 1 each) are malloc'd for the caller. */
typedef struct dm_curves {
    double *fpr, *tpr, *rec, *prec;
    int n;
} dm_curves;

static dm_status curves(const float *score, const int8_t *label, int64_t n, dm_curves *c) {
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
static void curves_free(dm_curves *c) {
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
    /* inputs as the models see them: one-hot, N a zero row (or 0.25 each), padding zero */
    for (int k = 0; k < d->K; k++) {
        int64_t row = d->top[k] = r[k].row;
        const uint8_t *codes = d->ds.seq + (size_t)row * L;
        for (int l = 0; l < L; l++) {
            float *xr = d->x + ((size_t)k * L + l) * 4;
            if (codes[l] < 4)
                xr[codes[l]] = 1.0f;
            else if (codes[l] == DM_BASE_N && d->o->n_quarter)
                xr[0] = xr[1] = xr[2] = xr[3] = 0.25f;
            d->top_seq[(size_t)k * (L + 1) + l] = "ACGTN-"[codes[l] <= DM_BASE_PAD ? codes[l] : DM_BASE_N];
        }
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
static void compare_options(const dm_dash *d, dm_compare_options *co) {
    dm_compare_options_default(co);
    co->top = d->o->hits;
    co->seed = d->o->seed;
}

/* Database matches of the optimised and filter PPMs (nothing without a database). */
static dm_status name_motifs(dm_dash *d, dm_dash_model *dm) {
    if (!d->db.n) return DM_STATUS_OK;
    dm_compare_options co;
    compare_options(d, &co);
    if (dm->opt.n) DM_TRY(dm_compare(&dm->opt, &d->db, &co, &dm->opt_hits, &dm->n_opt_hits));
    if (dm->filt.n) DM_TRY(dm_compare(&dm->filt, &d->db, &co, &dm->filt_hits, &dm->n_filt_hits));
    return DM_STATUS_OK;
}

/* The database motif a model's PPMs name most often: among the top matches (lowest p) of every
 * optimised and filter PPM with q ≤ DM_DASH_NAMED_Q, the target that is top match most often (ties:
 * the smaller best q), with its vote counts and the PPM that matches it best. A single most
 * significant hit can be a long optimised PPM hitting a GC-rich motif by its composition; a vote over
 * all of a model's motifs names what it learned (as bench/results/jaspar.md counts queries). */
#define DM_DASH_NAMED_Q 0.05
typedef struct dm_named {
    int target;              /* index into the database; −1 when no PPM has a match */
    int votes[2];            /* optimised PPMs and filters whose top match it is */
    int queries[2];          /* PPMs compared: optimised, filters */
    double q;                /* the best q of those top matches */
    const dm_motif_set *set; /* and the PPM it belongs to */
    int query;
} dm_named;

static dm_status named_motif(const dm_dash *d, const dm_dash_model *dm, dm_named *out) {
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

/* ---- raw outputs -------------------------------------------------------------------------------- */

/* A float32 .npy of `shape` (values already in C order) as DIR/name. */
static dm_status write_npy(dm_dash *d, const char *name, int ndim, const int64_t *shape, const float *v) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", d->dir, name);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    dm_npy_writer w;
    DM_TRY(dm_npy_open(&w, path, ndim, shape));
    dm_status st = dm_npy_append(&w, v, n);
    if (st)
        dm_npy_abort(&w);
    else
        st = dm_npy_commit(&w);
    DM_TRY(st);
    return outputs_add(&d->out, path);
}

/* (K, L, 4) → (K, 4, L), the NCL layout of the other .npy outputs (FORMATS.md §11). */
static float *to_ncl(const float *src, int K, int L) {
    float *dst = malloc(sizeof(float) * 4 * (size_t)K * L);
    if (!dst) return NULL;
    for (int k = 0; k < K; k++)
        for (int l = 0; l < L; l++)
            for (int c = 0; c < 4; c++) dst[((size_t)k * 4 + c) * L + l] = src[((size_t)k * L + l) * 4 + c];
    return dst;
}

/* A number of a TSV row, or NA when undefined (the metrics of unlabelled data). */
static void tsv_num(dm_buf *b, double v, const char *fmt) {
    if (isfinite(v))
        dm_buf_printf(b, fmt, v);
    else
        dm_buf_put(b, "NA");
}

/* summary.tsv (one row per model, read by the index) and top.tsv (the top sequences). */
static dm_status write_tables(dm_dash *d) {
    dm_buf b = {0};
    char tf[64];
    tf_of(d->name, tf, sizeof tf);
    dm_buf_put(&b,
               "dataset\ttf\ttag\tarch\tauroc\tauprc\taccuracy\tn\tmodel\tmodel_sha256\ttrained_params\t"
               "epochs_run\tbest_epoch\ttrain_seconds\tseed\tprotocol\tversion\t"
               "named\tnamed_name\tnamed_by_optimized\tnamed_by_filters\tnamed_best_motif\tnamed_best_q\n");
    for (int i = 0; i < d->nm; i++) {
        const dm_dash_model *dm = &d->mod[i];
        dm_buf_printf(&b, "%s\t%s\t%s\t%s\t", d->name, tf, dm->tag, dm_arch_name(dm->hp.arch));
        tsv_num(&b, dm->auroc, "%.6f\t");
        tsv_num(&b, dm->auprc, "%.6f\t");
        tsv_num(&b, dm->acc, "%.6f\t");
        dm_buf_printf(&b, "%lld\t%s\t%s\t%lld\t%d\t%d\t%.1f\t%llu\t%s\t%s\t", (long long)d->ds.n, dm->path,
                      dm->sha256, (long long)dm->n_trainable, dm->prov->epochs_run, dm->prov->best_epoch,
                      dm->prov->train_seconds, (unsigned long long)dm->prov->seed, dm->prov->protocol,
                      dm->prov->version);
        /* the motif the model's PPMs name most often: target, name, votes, best PPM and its q */
        dm_named nm;
        dm_status st = named_motif(d, dm, &nm);
        if (st) {
            dm_buf_free(&b);
            return st;
        }
        if (nm.target >= 0)
            dm_buf_printf(&b, "%s\t%s\t%d\t%d\t%s\t%.3g\n", d->db.m[nm.target].id,
                          d->db.m[nm.target].name[0] ? d->db.m[nm.target].name : "NA", nm.votes[0],
                          nm.votes[1], nm.set->m[nm.query].id, nm.q);
        else
            dm_buf_put(&b, "NA\tNA\t0\t0\tNA\tNA\n");
    }
    dm_status st = dm_buf_status(&b);
    if (!st) st = write_text(&d->out, d->dir, "summary.tsv", b.p, b.n);
    dm_buf_free(&b);
    DM_TRY(st);
    /* rank, 1-based row, id, label, mean score, each model's score */
    dm_buf_put(&b, "rank\trow\tid\tlabel\tmean_score");
    for (int i = 0; i < d->nm; i++) dm_buf_printf(&b, "\tscore_%s", d->mod[i].tag);
    dm_buf_put(&b, "\n");
    for (int k = 0; k < d->K; k++) {
        int64_t row = d->top[k];
        dm_buf_printf(&b, "%d\t%lld\t%s\t", k + 1, (long long)row + 1, d->ds.id[row]);
        if (d->top_label[k] == 0 || d->top_label[k] == 1)
            dm_buf_printf(&b, "%d", d->top_label[k]);
        else
            dm_buf_put(&b, "NA");
        dm_buf_printf(&b, "\t%.6g", d->mean[row]);
        for (int i = 0; i < d->nm; i++) dm_buf_printf(&b, "\t%.6g", d->mod[i].score[row]);
        dm_buf_put(&b, "\n");
    }
    st = dm_buf_status(&b);
    if (!st) st = write_text(&d->out, d->dir, "top.tsv", b.p, b.n);
    dm_buf_free(&b);
    return st;
}

/* One model's files: predictions, saliency and temporal arrays, motifs and their matches. */
static dm_status write_model_files(dm_dash *d, const dm_dash_model *dm) {
    char name[256];
    dm_buf b = {0};
    dm_buf_put(&b, d->labelled ? "id\tlabel\tscore\n" : "id\tscore\n");
    for (int64_t i = 0; i < d->ds.n; i++) {
        if (d->labelled)
            dm_buf_printf(&b, "%s\t%d\t%.6g\n", d->ds.id[i], d->ds.label[i], dm->score[i]);
        else
            dm_buf_printf(&b, "%s\t%.6g\n", d->ds.id[i], dm->score[i]);
    }
    snprintf(name, sizeof name, "%s.predictions.tsv", dm->tag);
    dm_status st = dm_buf_status(&b);
    if (!st) st = write_text(&d->out, d->dir, name, b.p, b.n);
    dm_buf_free(&b);
    DM_TRY(st);
    /* (K, 4, L) gradient magnitudes; (K, L, 2) forward and backward scores */
    int64_t shape[3] = {d->K, 4, d->L};
    float *ncl = to_ncl(dm->grad, d->K, d->L);
    if (!ncl) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    snprintf(name, sizeof name, "%s.saliency.npy", dm->tag);
    st = write_npy(d, name, 3, shape, ncl);
    free(ncl);
    DM_TRY(st);
    if (dm->fwd) {
        float *fb = malloc(sizeof(float) * 2 * (size_t)d->K * d->L);
        if (!fb) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
        for (size_t i = 0; i < (size_t)d->K * d->L; i++) fb[2 * i] = dm->fwd[i], fb[2 * i + 1] = dm->bwd[i];
        int64_t tshape[3] = {d->K, d->L, 2};
        snprintf(name, sizeof name, "%s.temporal.npy", dm->tag);
        st = write_npy(d, name, 3, tshape, fb);
        free(fb);
        DM_TRY(st);
    }
    /* motifs (MEME) and, with a database, their matches (TOMTOM-like TSV) */
    dm_compare_options co;
    compare_options(d, &co);
    const dm_motif_set *sets[2] = {&dm->opt, &dm->filt};
    const dm_hit *hits[2] = {dm->opt_hits, dm->filt_hits};
    int nh[2] = {dm->n_opt_hits, dm->n_filt_hits};
    for (int s = 0; s < 2; s++) {
        if (!sets[s]->n) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s.%s.meme", d->dir, dm->tag, s ? "filters" : "optimized");
        DM_TRY(dm_meme_write(path, sets[s]));
        DM_TRY(outputs_add(&d->out, path));
        if (!d->db.n) continue;
        snprintf(path, sizeof path, "%s/%s.%s.hits.tsv", d->dir, dm->tag, s ? "filters" : "optimized");
        DM_TRY(dm_compare_write_tsv(path, sets[s], &d->db, hits[s], nh[s], &co, d->o->cmdline));
        DM_TRY(outputs_add(&d->out, path));
    }
    return DM_STATUS_OK;
}

/* ---- figures ------------------------------------------------------------------------------------ */

typedef enum { DM_FIG_LOGO, DM_FIG_HEAT, DM_FIG_STRIP, DM_FIG_CHART } dm_fig_kind;

/* What one figure draws; fig_draw renders it inline or standalone. */
typedef struct dm_fig {
    dm_fig_kind kind;
    const float *v, *v2; /* logo heights / heatmap values (L, 4); strips fwd, bwd (L) */
    int L;
    dm_svg_logo_opts lo; /* logo */
    float rh, vmax;      /* heatmap, strips */
    const char *seq;
    const dm_svg_series *s; /* chart */
    int ns;
    dm_svg_chart_opts co;
    dm_svg_opts so;
} dm_fig;

/* Renders f into b: inline (the page's shared glyphs) or standalone (a file of its own). */
static void fig_draw(dm_buf *b, const dm_fig *f, bool standalone) {
    dm_svg_opts so = f->so;
    so.standalone = standalone;
    switch (f->kind) {
    case DM_FIG_LOGO:
        dm_svg_logo(b, f->v, f->L, &f->lo, &so);
        break;
    case DM_FIG_HEAT:
        dm_svg_heatmap(b, f->v, f->L, f->vmax, &seq_track, f->rh, f->seq, &so);
        break;
    case DM_FIG_STRIP:
        dm_svg_strips(b, f->v, f->v2, f->L, &seq_track, f->rh, f->seq, false, &so);
        break;
    case DM_FIG_CHART:
        dm_svg_chart(b, f->s, f->ns, &f->co, &so);
        break;
    }
}

/* Draws f into the page; with --figures also into DIR/figures/NAME.svg. */
static dm_status fig_emit(dm_dash *d, const dm_fig *f, const char *name) {
    fig_draw(&d->page, f, false);
    if (!d->o->figures) return DM_STATUS_OK;
    dm_buf sb = {0};
    dm_buf_put(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fig_draw(&sb, f, true);
    dm_buf_put(&sb, "\n");
    char rel[300];
    snprintf(rel, sizeof rel, "figures/%s.svg", name);
    dm_status st = dm_buf_status(&sb);
    if (!st) st = write_text(&d->out, d->dir, rel, sb.p, sb.n);
    dm_buf_free(&sb);
    return st;
}

/* With --figures, a small link to figures/NAME.svg. */
static void svg_link(dm_dash *d, const char *name, const char *label) {
    if (d->o->figures)
        dm_buf_printf(&d->page, " <a class=\"dm-svglink\" href=\"figures/%s.svg\">%s</a>", name, label);
}

/* ---- the page ----------------------------------------------------------------------------------- */

#define P(...) dm_buf_printf(&d->page, __VA_ARGS__)
#define PUT(s) dm_buf_put(&d->page, s)
#define ESC(s) dm_buf_escaped(&d->page, s)

/* The style sheet of both pages: system fonts only, flexible rows that wrap on narrow screens, and
 * `content-visibility: auto` on the sequence blocks, so a long list costs layout only on screen. */
static const char page_css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
    "color:#222;background:#fff;margin:0;padding:0 24px 40px}\n"
    "h1{font-size:22px;margin:18px 0 2px}\n"
    "h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:3px;margin:28px 0 10px}\n"
    "h3{font-size:14px;margin:12px 0 4px}\n"
    "nav a{margin-right:14px}.dm-meta{color:#555;font-size:12px}code{font-size:12px;word-break:break-all}\n"
    "table{border-collapse:collapse;font-size:13px}\n"
    "td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}th{background:#f5f5f5}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "table.dm-sortable thead th{cursor:pointer}table.dm-sortable thead th:hover{background:#e8e8e8}\n"
    ".dm-cards,.dm-row,.dm-motifs{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}\n"
    ".dm-card{border:1px solid #ccc;border-radius:6px;padding:6px 14px 10px;flex:1 1 320px;max-width:520px}\n"
    ".dm-card dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0;font-size:12px}\n"
    ".dm-card dt{color:#666}.dm-card dd{margin:0;word-break:break-all}\n"
    "svg[data-kind]{display:block}.dm-svglink{font-size:10px;color:#888}\n"
    ".dm-seq{border-top:1px solid #eee;padding:4px 0 8px;"
    "content-visibility:auto;contain-intrinsic-size:auto 420px}\n"
    ".dm-track{display:flex;gap:8px;align-items:flex-start;margin:4px 0}\n"
    ".dm-tag{width:88px;font-size:12px;padding-top:6px}\n"
    ".dm-motif{border:1px solid #e4e4e4;border-radius:4px;padding:4px 6px;font-size:11px}\n"
    ".dm-motif table{font-size:11px;margin-top:3px}.dm-cap{color:#444}.dm-note{color:#777;font-size:12px}\n"
    "#dm-tip{position:absolute;background:#222;color:#fff;font-size:12px;padding:3px 7px;border-radius:3px;"
    "pointer-events:none;white-space:nowrap;z-index:10}\n"
    "footer{margin-top:30px;color:#777;font-size:12px}\n";

/* The page's only script: hover read-out of every position track, sortable tables, render time. */
/* clang-format off */
static const char page_js[] =
    "(function () {\n"
    "  'use strict';\n"
    "  var tip = document.getElementById('dm-tip'), mid = ' \\u00b7 ';\n"
    "  function fmt(v) { return v === 0 ? '0' : Math.abs(v) >= 0.01 ? v.toFixed(3) : v.toExponential(2); }\n"
    "  function num(s, a) { return parseFloat(s.getAttribute(a)); }\n"
    "  // a track's values: integers times data-unit, parsed once\n"
    "  function values(s) {\n"
    "    if (!s.dmValues) {\n"
    "      var u = num(s, 'data-unit');\n"
    "      s.dmValues = s.getAttribute('data-v').split(',').map(function (x) { return x * u; });\n"
    "    }\n"
    "    return s.dmValues;\n"
    "  }\n"
    "  // what is under the pointer: position i of the track (and row r of a heatmap or strip)\n"
    "  function describe(s, e) {\n"
    "    var pt = s.createSVGPoint(); pt.x = e.clientX; pt.y = e.clientY;\n"
    "    var p = pt.matrixTransform(s.getScreenCTM().inverse());\n"
    "    var kind = s.getAttribute('data-kind'), v = values(s);\n"
    "    var rows = kind === 'strip' ? 2 : 4, n = v.length / rows;\n"
    "    var i = Math.floor((p.x - num(s, 'data-x0')) / num(s, 'data-cw'));\n"
    "    if (!(i >= 0 && i < n)) return null;\n"
    "    var seq = s.getAttribute('data-seq') || '', t = 'position ' + (i + 1) + mid;\n"
    "    if (kind === 'logo') {\n"
    "      var c = v.slice(4 * i, 4 * i + 4), sum = c[0] + c[1] + c[2] + c[3];\n"
    "      if (seq) return t + seq.charAt(i) + mid + 'saliency ' + fmt(sum);\n"
    "      var top = 'ACGT'.charAt(c.indexOf(Math.max.apply(null, c)));\n"
    "      var ps = c.map(function (h, k) { return 'ACGT'.charAt(k) + ' ' + (h / sum).toFixed(2); });\n"
    "      return t + top + mid + fmt(sum) + ' bits' + (sum > 0 ? ' (' + ps.join(', ') + ')' : '');\n"
    "    }\n"
    "    var r = Math.floor((p.y - num(s, 'data-y0')) / num(s, 'data-rh'));\n"
    "    r = Math.min(rows - 1, Math.max(0, r));\n"
    "    if (kind === 'heat')\n"
    "      return t + seq.charAt(i) + mid + 'channel ' + 'ACGT'.charAt(r) + ' ' + fmt(v[4 * i + r]);\n"
    "    return t + seq.charAt(i) + mid + (r ? 'backward ' : 'forward ') + fmt(v[r * n + i]);\n"
    "  }\n"
    "  document.addEventListener('mousemove', function (e) {\n"
    "    var s = e.target.closest ? e.target.closest('svg[data-v]') : null, t = s ? describe(s, e) : null;\n"
    "    if (!t) { tip.hidden = true; return; }\n"
    "    tip.textContent = t; tip.hidden = false;\n"
    "    tip.style.left = (e.pageX + 12) + 'px'; tip.style.top = (e.pageY + 14) + 'px';\n"
    "  });\n"
    "  // sortable tables: click a header to sort the body by that column's data-sort values\n"
    "  Array.prototype.forEach.call(document.querySelectorAll('table.dm-sortable'), function (table) {\n"
    "    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {\n"
    "      th.addEventListener('click', function () {\n"
    "        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);\n"
    "        var up = th.getAttribute('data-dir') !== 'up';\n"
    "        rows.sort(function (a, b) {\n"
    "          var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');\n"
    "          var nx = parseFloat(x), ny = parseFloat(y);\n"
    "          var c = isNaN(nx) || isNaN(ny) ? String(x).localeCompare(String(y)) : nx - ny;\n"
    "          return up ? c : -c;\n"
    "        });\n"
    "        th.setAttribute('data-dir', up ? 'up' : 'down');\n"
    "        rows.forEach(function (r) { body.appendChild(r); });\n"
    "      });\n"
    "    });\n"
    "  });\n"
    "  // time from navigation to a laid-out page, shown in the footer\n"
    "  window.addEventListener('load', function () {\n"
    "    var el = document.getElementById('dm-render'), h = document.body.offsetHeight;\n"
    "    var ms = Math.round(performance.now());\n"
    "    if (!el) return;\n"
    "    el.setAttribute('data-ms', String(ms));\n"
    "    el.textContent = 'Loaded and laid out in ' + ms + ' ms (' + h + ' px).';\n"
    "  });\n"
    "})();\n";
/* clang-format on */

/* "1,234,567" */
static const char *commas(char buf[32], long long v) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", v < 0 ? -v : v);
    int n = (int)strlen(raw), o = 0;
    if (v < 0) buf[o++] = '-';
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
    return buf;
}

/* A metric cell: 4 decimals, or "–" when undefined. */
static void metric_cell(dm_dash *d, double v) {
    if (isfinite(v))
        P("<td class=\"num\" data-sort=\"%.6f\">%.4f</td>", v, v);
    else
        PUT("<td class=\"num\" data-sort=\"\">&ndash;</td>");
}

/* Doctype, style sheet, the shared letter glyphs, the title block (data file, checksum, counts, how
 * the page was made) and the section links. */
static void html_head(dm_dash *d) {
    PUT("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    ESC(d->name);
    PUT(" &middot; deepmotif dashboard</title>\n<style>\n");
    PUT(page_css);
    PUT("</style>\n</head>\n<body>\n<svg width=\"0\" height=\"0\" style=\"position:absolute\" "
        "aria-hidden=\"true\">");
    dm_svg_glyph_defs(&d->page);
    PUT("</svg>\n<h1>");
    ESC(d->name);
    PUT("</h1>\n<p class=\"dm-meta\">Data <code>");
    ESC(d->data_path);
    char c1[32], c2[32], c3[32];
    P("</code> &middot; SHA-256 <code>%s</code> &middot; %s bytes &middot; %s sequences of length %d",
      d->data_sha, commas(c1, (long long)d->data_bytes), commas(c2, (long long)d->ds.n), d->L);
    if (d->labelled)
        P(" (%s bound, %s unbound)", commas(c1, (long long)d->n_pos), commas(c3, (long long)d->n_neg));
    else
        PUT(" (unlabelled)");
    if (d->ds.n_padded || d->ds.n_truncated || d->ds.n_ambiguous)
        P(" &middot; %lld padded, %lld truncated, %lld with N", (long long)d->ds.n_padded,
          (long long)d->ds.n_truncated, (long long)d->ds.n_ambiguous);
    char now[32];
    dm_utc_now(now);
    P("<br>Written %s by deepmotif %s", now, dm_version());
    if (d->o->cmdline) {
        PUT(": <code>");
        ESC(d->o->cmdline);
        PUT("</code>");
    }
    PUT("</p>\n<nav><a href=\"#summary\">Summary</a><a href=\"#models\">Models</a><a "
        "href=\"#performance\">Performance</a>"
        "<a href=\"#sequences\">Top sequences</a><a href=\"#optimized\">Class optimisation</a>"
        "<a href=\"#filters\">Filters</a><a href=\"#files\">Raw outputs</a></nav>\n");
}

/* The comparison table: one row per model. */
static void section_summary(dm_dash *d) {
    PUT("<section id=\"summary\"><h2>Summary</h2>\n<table "
        "class=\"dm-sortable\"><thead><tr><th>model</th><th>architecture</th>"
        "<th>AUROC</th><th>AUPRC</th><th>accuracy</th><th>trained parameters</th><th>epoch (of run)</th>"
        "<th>training time</th>");
    if (d->db.n) PUT("<th>motif named</th>");
    PUT("</tr></thead><tbody>\n");
    for (int i = 0; i < d->nm; i++) {
        const dm_dash_model *dm = &d->mod[i];
        char c[32];
        P("<tr><td data-sort=\"%s\"><a href=\"#card-%s\" style=\"color:%s\">%s</a></td><td "
          "data-sort=\"%s\">%s</td>",
          dm->tag, dm->tag, model_colour[i], dm->tag, dm_arch_name(dm->hp.arch), dm_arch_name(dm->hp.arch));
        metric_cell(d, dm->auroc);
        metric_cell(d, dm->auprc);
        metric_cell(d, dm->acc);
        P("<td class=\"num\" data-sort=\"%lld\">%s</td><td class=\"num\" data-sort=\"%d\">%d (%d)</td>"
          "<td class=\"num\" data-sort=\"%.3f\">%.1f s</td>",
          (long long)dm->n_trainable, commas(c, (long long)dm->n_trainable), dm->prov->best_epoch,
          dm->prov->best_epoch, dm->prov->epochs_run, dm->prov->train_seconds, dm->prov->train_seconds);
        /* the name the model's motifs earn (a vote over their top matches), linked to its best PPM */
        dm_named nm = {.target = -1};
        if (d->db.n && named_motif(d, dm, &nm)) nm.target = -1;
        if (nm.target >= 0) {
            const dm_motif *t = &d->db.m[nm.target], *q = &nm.set->m[nm.query];
            P("<td data-sort=\"%d\"><b>", nm.votes[0] + nm.votes[1]);
            ESC(t->name[0] ? t->name : t->id);
            PUT("</b> ");
            ESC(t->id);
            P(": top match of %d of %d optimised and %d of %d filter PPMs; best <a "
              "href=\"#motif-%s-%s\">%s</a> "
              "q %.2g</td>",
              nm.votes[0], nm.queries[0], nm.votes[1], nm.queries[1], dm->tag, q->id, q->id, nm.q);
        } else if (d->db.n) {
            P("<td data-sort=\"0\">no top match with q &le; %g</td>", DM_DASH_NAMED_Q);
        }
        PUT("</tr>\n");
    }
    PUT("</tbody></table>\n<p class=\"dm-note\">Metrics of each model on the data above (AUROC with ties "
        "counting &frac12;, AUPRC as average precision). Click a column header to sort.</p></section>\n");
}

/* One line describing an architecture's layers. */
static void arch_text(dm_dash *d, const dm_hparams *hp) {
    char text[512];
    dm_arch_describe(hp, text, sizeof text);
    P("%s", text);
    P("; dropout %.2g; input length %d", hp->dropout, hp->len);
}

/* The model cards: provenance of every model. */
static void section_cards(dm_dash *d) {
    PUT("<section id=\"models\"><h2>Models</h2>\n<div class=\"dm-cards\">\n");
    for (int i = 0; i < d->nm; i++) {
        const dm_dash_model *dm = &d->mod[i];
        const dm_provenance *pv = dm->prov;
        char c[32];
        P("<div class=\"dm-card\" id=\"card-%s\"><h3 "
          "style=\"color:%s\">%s</h3><dl>\n<dt>architecture</dt><dd>",
          dm->tag, model_colour[i], dm->tag);
        arch_text(d, &dm->hp);
        /* the file itself and its checksum */
        P("</dd>\n<dt>trained parameters</dt><dd>%s</dd>\n<dt>model file</dt><dd><code>",
          commas(c, (long long)dm->n_trainable));
        ESC(dm->path);
        P("</code><br>SHA-256 <code>%s</code> (%s bytes, %s weights)</dd>\n", dm->sha256,
          commas(c, (long long)dm->bytes), pv->label);
        /* the data it was trained (and tested) on, as recorded at training */
        for (int k = 0; k < pv->n_inputs; k++) {
            PUT("<dt>");
            ESC(pv->inputs[k].role);
            PUT(" data</dt><dd><code>");
            ESC(pv->inputs[k].path);
            P("</code><br>SHA-256 <code>%s</code> (%s bytes)</dd>\n", pv->inputs[k].sha256,
              commas(c, (long long)pv->inputs[k].bytes));
        }
        /* how: seed, protocol, epochs and sizes; then where, with which engine, when */
        P("<dt>seed</dt><dd>%llu</dd>\n<dt>protocol</dt><dd>", (unsigned long long)pv->seed);
        ESC(pv->protocol);
        P(" (batch %d, lr %g halved every 10 epochs, validation fraction %g)</dd>\n", pv->batch, pv->lr0,
          pv->valid_frac);
        P("<dt>epochs</dt><dd>weights of epoch %d; %d run of at most %d</dd>\n", pv->best_epoch,
          pv->epochs_run, pv->epochs_max);
        P("<dt>sequences</dt><dd>%s training", commas(c, (long long)pv->n_train));
        P(", %s validation</dd>\n", commas(c, (long long)pv->n_valid));
        P("<dt>training time</dt><dd>%.1f s</dd>\n<dt>device</dt><dd>", pv->train_seconds);
        ESC(pv->device);
        PUT("</dd>\n<dt>engine</dt><dd>deepmotif ");
        ESC(pv->version);
        PUT("</dd>\n<dt>written</dt><dd>");
        ESC(pv->created_utc);
        PUT("</dd>\n");
        /* the test metrics recorded at training, when a test file was given then */
        if (pv->n_test > 0) {   /* an undefined metric (a one-class test file) shows as NA */
            char ta[32] = "NA", tp[32] = "NA";
            if (isfinite(pv->test_auroc)) snprintf(ta, sizeof ta, "%.4f", pv->test_auroc);
            if (isfinite(pv->test_auprc)) snprintf(tp, sizeof tp, "%.4f", pv->test_auprc);
            P("<dt>test at training</dt><dd>AUROC %s, AUPRC %s (n %s)</dd>\n", ta, tp,
              commas(c, (long long)pv->n_test));
        }
        PUT("</dl></div>\n");
    }
    PUT("</div></section>\n");
}

/* One chart of the performance row, with its link. */
static dm_status chart(dm_dash *d, const dm_fig *f, const char *name) {
    PUT("<div>");
    DM_TRY(fig_emit(d, f, name));
    svg_link(d, name, "svg");
    PUT("</div>\n");
    return DM_STATUS_OK;
}

/* Training curves from the checkpoints' epoch logs and test ROC / PR curves, all models per chart. */
static dm_status section_performance(dm_dash *d) {
    int nm = d->nm;
    dm_svg_series loss[2 * DM_DASH_MAX_MODELS], vauc[DM_DASH_MAX_MODELS], roc[DM_DASH_MAX_MODELS],
        pr[DM_DASH_MAX_MODELS];
    char lab[4][DM_DASH_MAX_MODELS][64];
    double *logv[DM_DASH_MAX_MODELS] = {NULL};
    dm_curves cv[DM_DASH_MAX_MODELS];
    memset(cv, 0, sizeof cv);
    dm_status st = DM_STATUS_OK;
    for (int i = 0; i < nm && !st; i++) {
        const dm_dash_model *dm = &d->mod[i];
        const dm_provenance *pv = dm->prov;
        int ne = pv->n_epochs, best = -1;
        /* epoch, training loss, validation loss, validation AUROC: four columns of one block */
        if (!(logv[i] = malloc(sizeof(double) * 4 * (size_t)(ne ? ne : 1)))) {
            st = dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
            break;
        }
        double *e = logv[i], *tl = e + ne, *vl = e + 2 * ne, *va = e + 3 * ne;
        for (int k = 0; k < ne; k++) {
            e[k] = pv->log[k].epoch;
            tl[k] = pv->log[k].train_loss;
            vl[k] = pv->log[k].valid_loss;
            va[k] = pv->log[k].valid_auroc;
            if (pv->log[k].epoch == pv->best_epoch) best = k;
        }
        snprintf(lab[0][i], 64, "%s training", dm->tag);
        snprintf(lab[1][i], 64, "%s validation", dm->tag);
        loss[2 * i] = (dm_svg_series){lab[0][i], model_colour[i], e, tl, ne, false, -1};
        loss[2 * i + 1] = (dm_svg_series){lab[1][i], model_colour[i], e, vl, ne, true, best};
        vauc[i] = (dm_svg_series){dm->tag, model_colour[i], e, va, ne, false, best};
        if (d->labelled) st = curves(dm->score, d->ds.label, d->ds.n, &cv[i]);
        if (isfinite(dm->auroc)) snprintf(lab[2][i], 64, "%s AUROC %.4f", dm->tag, dm->auroc);
        else snprintf(lab[2][i], 64, "%s AUROC NA", dm->tag);
        if (isfinite(dm->auprc)) snprintf(lab[3][i], 64, "%s AUPRC %.4f", dm->tag, dm->auprc);
        else snprintf(lab[3][i], 64, "%s AUPRC NA", dm->tag);
        roc[i] = (dm_svg_series){lab[2][i], model_colour[i], cv[i].fpr, cv[i].tpr, cv[i].n, false, -1};
        pr[i] = (dm_svg_series){lab[3][i], model_colour[i], cv[i].rec, cv[i].prec, cv[i].n, false, -1};
    }
    PUT("<section id=\"performance\"><h2>Performance</h2>\n<div class=\"dm-row\">\n");
    /* four charts side by side; each also as a standalone figure */
    dm_fig f = {.kind = DM_FIG_CHART, .so = {.cls = "dm-curve"}};
    f.co = (dm_svg_chart_opts){.title = "Loss per epoch",
                               .xlabel = "epoch",
                               .ylabel = "mean NLL",
                               .width = 296,
                               .height = 250,
                               .kind = "loss",
                               .legend_top = true};
    f.s = loss;
    f.ns = 2 * nm;
    if (!st) st = chart(d, &f, "loss");
    f.co = (dm_svg_chart_opts){.title = "Validation AUROC per epoch",
                               .xlabel = "epoch",
                               .ylabel = "AUROC",
                               .width = 296,
                               .height = 250,
                               .kind = "valid-auroc"};
    f.s = vauc;
    f.ns = nm;
    if (!st) st = chart(d, &f, "valid_auroc");
    if (d->labelled) {
        f.co = (dm_svg_chart_opts){.title = "ROC (test)",
                                   .xlabel = "false positive rate",
                                   .ylabel = "true positive rate",
                                   .xmin = 0,
                                   .xmax = 1,
                                   .ymin = 0,
                                   .ymax = 1,
                                   .diagonal = true,
                                   .width = 296,
                                   .height = 250,
                                   .kind = "roc"};
        f.s = roc;
        if (!st) st = chart(d, &f, "roc");
        f.co = (dm_svg_chart_opts){.title = "Precision-recall (test)",
                                   .xlabel = "recall",
                                   .ylabel = "precision",
                                   .xmin = 0,
                                   .xmax = 1,
                                   .ymin = 0,
                                   .ymax = 1,
                                   .width = 296,
                                   .height = 250,
                                   .kind = "pr"};
        f.s = pr;
        if (!st) st = chart(d, &f, "pr");
    }
    PUT("</div>\n<p class=\"dm-note\">Dashed: validation loss; dots: the epoch whose weights each checkpoint "
        "holds. ");
    PUT(d->labelled ? "ROC and precision-recall curves of every model on the data above.</p>"
                    : "The data is unlabelled: no ROC or precision-recall curves.</p>");
    PUT("</section>\n");
    for (int i = 0; i < nm; i++) {
        free(logv[i]);
        curves_free(&cv[i]);
    }
    return st;
}

/* The top sequences: per model a saliency logo, the gradient heatmap and (recurrent) temporal strips. */
static dm_status section_sequences(dm_dash *d) {
    int L = d->L;
    P("<section id=\"sequences\"><h2>Top %d sequences</h2>\n<p class=\"dm-note\">By mean P(bound) over the "
      "models. "
      "Logo: letter height = saliency of the present base, |&part;(&minus;log P(y | X))/&part;X| with y the "
      "%s "
      "(SPEC &sect;6.1); heatmap: the same gradient's magnitude in all four channels, white to red from 0 to "
      "its maximum; strips (recurrent models): temporal output scores, P(bound) of positions 1..i (fwd) and "
      "i..L (bwd), blue 0, white 0.5, red 1. Hover a position for its base and value.</p>\n",
      d->K, d->labelled ? "true label" : "bound class (unlabelled data)");
    float *h = malloc(sizeof(float) * 4 * (size_t)L);
    if (!h) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    dm_status st = DM_STATUS_OK;
    for (int k = 0; k < d->K && !st; k++) {
        /* one block per sequence: its id, label and mean score, then one track row per model */
        int64_t row = d->top[k];
        const char *seq = d->top_seq + (size_t)k * (L + 1);
        P("<div class=\"dm-seq\" id=\"seq-%d\"><h3>#%d &middot; <code>", k + 1, k + 1);
        ESC(d->ds.id[row]);
        PUT("</code>");
        if (d->top_label[k] == 0 || d->top_label[k] == 1) P(" &middot; label %d", d->top_label[k]);
        P(" &middot; mean P(bound) %.4f</h3>\n", d->mean[row]);
        for (int i = 0; i < d->nm && !st; i++) {
            const dm_dash_model *dm = &d->mod[i];
            const float *g = dm->grad + (size_t)k * L * 4, *x = d->x + (size_t)k * L * 4;
            char name[96];
            for (int j = 0; j < 4 * L; j++) h[j] = g[j] * x[j]; /* the present base's saliency */
            P("<div class=\"dm-track\"><div class=\"dm-tag\" style=\"color:%s\">%s<br>P %.4f",
              model_colour[i], dm->tag, dm->score[row]);
            if (d->o->figures) {
                PUT("<br>");
                snprintf(name, sizeof name, "%s.seq%d.logo", dm->tag, k + 1);
                svg_link(d, name, "logo");
                snprintf(name, sizeof name, "%s.seq%d.heatmap", dm->tag, k + 1);
                svg_link(d, name, "heat");
                snprintf(name, sizeof name, "%s.seq%d.temporal", dm->tag, k + 1);
                if (dm->fwd) svg_link(d, name, "temporal");
            }
            PUT("</div><div>");
            /* logo, heatmap and strips on the same columns (seq_track) */
            dm_fig f = {
                .kind = DM_FIG_LOGO, .v = h, .L = L, .seq = seq, .so = {.cls = "dm-logo dm-saliency"}};
            f.lo = (dm_svg_logo_opts){
                .track = seq_track, .height = 50, .ylabel = "saliency", .seq = seq, .ruler = true};
            snprintf(name, sizeof name, "%s.seq%d.logo", dm->tag, k + 1);
            st = fig_emit(d, &f, name);
            f = (dm_fig){
                .kind = DM_FIG_HEAT, .v = g, .L = L, .rh = 9, .seq = seq, .so = {.cls = "dm-heatmap"}};
            snprintf(name, sizeof name, "%s.seq%d.heatmap", dm->tag, k + 1);
            if (!st) st = fig_emit(d, &f, name);
            if (!st && dm->fwd) {
                f = (dm_fig){.kind = DM_FIG_STRIP,
                             .v = dm->fwd + (size_t)k * L,
                             .v2 = dm->bwd + (size_t)k * L,
                             .L = L,
                             .rh = 9,
                             .seq = seq,
                             .so = {.cls = "dm-temporal"}};
                snprintf(name, sizeof name, "%s.seq%d.temporal", dm->tag, k + 1);
                st = fig_emit(d, &f, name);
            }
            PUT("</div></div>\n");
        }
        PUT("</div>\n");
    }
    free(h);
    PUT("</section>\n");
    return st;
}

/* The database matches of query q (hits sorted by query) as a small table. */
static void hits_table(dm_dash *d, const dm_hit *hits, int nh, int q) {
    if (!d->db.n) {
        PUT("<div class=\"dm-note\">no motif database (--db)</div>");
        return;
    }
    int first = 0;
    while (first < nh && hits[first].query != q) first++;
    if (first == nh) {
        PUT("<div class=\"dm-note\">no match with q &le; 0.5</div>");
        return;
    }
    PUT("<table class=\"dm-hits\"><tr><th>match</th><th>name</th><th>q</th><th>p</th><th>strand, "
        "offset</th></tr>");
    for (int i = first; i < nh && hits[i].query == q; i++) {
        const dm_motif *t = &d->db.m[hits[i].target];
        PUT("<tr><td>");
        ESC(t->id);
        PUT("</td><td><b>");
        ESC(t->name);
        P("</b></td><td class=\"num\">%.2g</td><td class=\"num\">%.2g</td><td>%c %d</td></tr>",
          hits[i].qvalue, hits[i].pvalue, hits[i].orient, hits[i].offset);
    }
    PUT("</table>");
}

/* The best p-value of query q among the hits, 2 without any. */
static double best_p(const dm_hit *hits, int nh, int q) {
    double p = 2;
    for (int i = 0; i < nh; i++)
        if (hits[i].query == q && hits[i].pvalue < p) p = hits[i].pvalue;
    return p;
}

/* Logos in bits of `shown` motifs of a set, each with its matches, in the order of `order`. */
static dm_status motif_grid(dm_dash *d, const dm_dash_model *dm, const dm_motif_set *set, const dm_hit *hits,
                            int nh, const int *order, int shown, bool optimised) {
    PUT("<div class=\"dm-motifs\">\n");
    dm_status st = DM_STATUS_OK;
    for (int j = 0; j < shown && !st; j++) {
        int q = order[j];
        const dm_motif *mo = &set->m[q];
        float *bits = malloc(sizeof(float) * 4 * (size_t)mo->w);
        if (!bits) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
        dm_svg_ppm_bits(mo->p, mo->w, bits);
        P("<div class=\"dm-motif %s\" id=\"motif-%s-%s\"><div class=\"dm-cap\"><b>%s</b> &middot; ",
          optimised ? "dm-opt" : "dm-filter", dm->tag, mo->id, mo->id);
        if (optimised)
            P("P(bound) %.4f &middot; objective %.4g", dm->opt_p[q], dm->opt_obj[q]);
        else
            P("%d sites", mo->nsites);
        char name[200];
        snprintf(name, sizeof name, "%s.%s", dm->tag, mo->id);
        svg_link(d, name, "svg");
        PUT("</div>");
        /* a fixed 2-bit scale, so logos compare across motifs */
        dm_fig f = {.kind = DM_FIG_LOGO, .v = bits, .L = mo->w, .so = {.cls = "dm-logo dm-ppm"}};
        f.lo = (dm_svg_logo_opts){.track = {.left = 40, .cw = optimised ? 7 : 14, .right = 6},
                                  .height = 56,
                                  .scale = 28,
                                  .ylabel = "bits",
                                  .ruler = optimised};
        st = fig_emit(d, &f, name);
        free(bits);
        hits_table(d, hits, nh, q);
        PUT("</div>\n");
    }
    PUT("</div>\n");
    return st;
}

/* Class-optimised PPMs (best objective first) and filters (most significant match first). */
static dm_status section_motifs(dm_dash *d) {
    P("<section id=\"optimized\"><h2>Class optimisation</h2>\n<p class=\"dm-note\">The input each model "
      "scores as most bound: %d seeded restarts of %d RMSprop steps on &minus;log P(bound) + "
      "&lambda;&Vert;X&Vert;&sup2; (SPEC &sect;6.3), post-processed to PPMs, best objective first; logos in "
      "bits (A green, C blue, G orange, T red)",
      d->o->restarts, d->o->steps);
    PUT(d->db.n ? "; matches: TOMTOM-like comparison with the database, q &le; 0.5.</p>\n" : ".</p>\n");
    int most = 1;
    for (int i = 0; i < d->nm; i++) {
        most = d->mod[i].opt.n > most ? d->mod[i].opt.n : most;
        most = d->mod[i].filt.n > most ? d->mod[i].filt.n : most;
    }
    int *order = malloc(sizeof(int) * (size_t)most);
    if (!order) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    dm_status st = DM_STATUS_OK;
    for (int i = 0; i < d->nm && !st; i++) {
        const dm_dash_model *dm = &d->mod[i];
        P("<h3 style=\"color:%s\">%s</h3>\n", model_colour[i], dm->tag);
        for (int j = 0; j < dm->opt.n; j++) order[j] = j;
        st = motif_grid(d, dm, &dm->opt, dm->opt_hits, dm->n_opt_hits, order, dm->opt.n, true);
    }
    PUT("</section>\n<section id=\"filters\"><h2>First-layer filters</h2>\n<p class=\"dm-note\">Each "
        "convolution filter of the first layer as the base composition of the windows activating it above "
        "half its maximum on the data above (filters with at least 10 such sites), most significant database "
        "match first.</p>\n");
    for (int i = 0; i < d->nm && !st; i++) {
        const dm_dash_model *dm = &d->mod[i];
        if (!dm_arch_has(&dm->hp, DM_LAYER_CONV)) continue;
        P("<h3 style=\"color:%s\">%s</h3>\n", model_colour[i], dm->tag);
        if (!dm->filt.n) {
            PUT("<p class=\"dm-note\">No filter has 10 sites.</p>\n");
            continue;
        }
        /* insertion sort by best p-value, then by sites (few filters) */
        for (int j = 0; j < dm->filt.n; j++) {
            int q = j, k = j;
            double pq = best_p(dm->filt_hits, dm->n_filt_hits, q);
            for (; k > 0; k--) {
                int o = order[k - 1];
                double po = best_p(dm->filt_hits, dm->n_filt_hits, o);
                if (po < pq || (po == pq && dm->filt.m[o].nsites >= dm->filt.m[q].nsites)) break;
                order[k] = o;
            }
            order[k] = q;
        }
        int shown = d->o->max_filters > 0 && d->o->max_filters < dm->filt.n ? d->o->max_filters : dm->filt.n;
        st = motif_grid(d, dm, &dm->filt, dm->filt_hits, dm->n_filt_hits, order, shown, false);
        if (shown < dm->filt.n)
            P("<p class=\"dm-note\">%d of %d filters shown; all are in <a "
              "href=\"%s.filters.meme\">%s.filters.meme</a>.</p>\n",
              shown, dm->filt.n, dm->tag, dm->tag);
    }
    PUT("</section>\n");
    free(order);
    return st;
}

/* A link to a raw output written beside the page. */
static void file_link(dm_dash *d, const char *name, const char *what) {
    P("<li><a href=\"%s\">%s</a> &middot; ", name, name);
    PUT(what);
    PUT("</li>\n");
}

/* Links to every raw output beside the page, with what each holds. */
static void section_files(dm_dash *d) {
    PUT("<section id=\"files\"><h2>Raw outputs</h2>\n<ul>\n");
    file_link(d, "summary.tsv",
              "one row per model: data set, TF, AUROC, AUPRC, accuracy, model and provenance");
    file_link(d, "top.tsv", "the top sequences: rank, row, id, label, mean and per-model P(bound)");
    file_link(d, "top.onehot.npy", "their one-hot inputs, float32 (K, 4, L)");
    for (int i = 0; i < d->nm; i++) {
        const dm_dash_model *dm = &d->mod[i];
        char name[128];
        snprintf(name, sizeof name, "%s.predictions.tsv", dm->tag);
        file_link(d, name, "id, label, P(bound) of every sequence");
        snprintf(name, sizeof name, "%s.saliency.npy", dm->tag);
        file_link(d, name, "|&part;(&minus;log P(y | X))/&part;X| of the top sequences, float32 (K, 4, L)");
        if (dm->fwd) {
            snprintf(name, sizeof name, "%s.temporal.npy", dm->tag);
            file_link(d, name, "forward and backward temporal output scores, float32 (K, L, 2)");
        }
        const dm_motif_set *sets[2] = {&dm->opt, &dm->filt};
        for (int s = 0; s < 2; s++) {
            if (!sets[s]->n) continue;
            const char *kind = s ? "filters" : "optimized";
            snprintf(name, sizeof name, "%s.%s.meme", dm->tag, kind);
            file_link(d, name,
                      s ? "first-layer filter PPMs (MEME)"
                        : "class-optimised PPMs, best objective first (MEME)");
            if (!d->db.n) continue;
            snprintf(name, sizeof name, "%s.%s.hits.tsv", dm->tag, kind);
            file_link(d, name, "their database matches (TOMTOM-like TSV)");
        }
    }
    if (d->o->figures)
        PUT("<li>figures/ &middot; every figure as a standalone SVG (linked under each figure)</li>\n");
    PUT("</ul></section>\n");
}

/* Footer (with the render-time note the script fills in), the hover box and the script. */
static void html_tail(dm_dash *d) {
    PUT("<footer>A self-contained page: inline SVG drawn by deepmotif, no external resources. "
        "<span id=\"dm-render\"></span></footer>\n<div id=\"dm-tip\" hidden></div>\n<script>\n");
    PUT(page_js);
    PUT("</script>\n</body>\n</html>\n");
}

/* Every raw output, then the page (figures written as it is built), index.html last. */
static dm_status write_all(dm_dash *d, dm_dashboard_result *res) {
    DM_TRY(outputs_mkdir(&d->out, d->dir));
    if (d->o->figures) {
        char fig[4200];
        snprintf(fig, sizeof fig, "%s/figures", d->dir);
        DM_TRY(outputs_mkdir(&d->out, fig));
    }
    DM_TRY(write_tables(d));
    int64_t shape[3] = {d->K, 4, d->L};
    float *ncl = to_ncl(d->x, d->K, d->L);
    if (!ncl) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    dm_status st = write_npy(d, "top.onehot.npy", 3, shape, ncl);
    free(ncl);
    DM_TRY(st);
    for (int i = 0; i < d->nm; i++) DM_TRY(write_model_files(d, &d->mod[i]));
    html_head(d);
    section_summary(d);
    section_cards(d);
    DM_TRY(section_performance(d));
    DM_TRY(section_sequences(d));
    DM_TRY(section_motifs(d));
    section_files(d);
    html_tail(d);
    DM_TRY(dm_buf_status(&d->page));
    DM_TRY(write_text(&d->out, d->dir, "index.html", d->page.p, d->page.n));
    snprintf(res->index, sizeof res->index, "%s/index.html", d->dir);
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
    outputs_free(&d->out);
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
    if (!st) st = write_all(d, res);
    if (st)
        outputs_rollback(&d->out);
    else {
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

/* ---- the index over many reports ---------------------------------------------------------------- */

#define DM_INDEX_MAX_TAGS 16

/* One report: its name, TF, link, and AUROC per tag (NaN where the report has no such model). */
typedef struct dm_index_row {
    char name[256], tf[64];
    char link[8192];
    double auroc[DM_INDEX_MAX_TAGS];
} dm_index_row;

/* Index of `tag` in tags[], added when new (at most DM_INDEX_MAX_TAGS); −1 when full. */
static int tag_index(char tags[][24], int *n, const char *tag) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(tags[i], tag)) return i;
    if (*n == DM_INDEX_MAX_TAGS) return -1;
    snprintf(tags[*n], 24, "%s", tag);
    return (*n)++;
}

/* Reads DIR/summary.tsv: columns found by name in the header; each row one model of the report. */
static dm_status read_summary(const char *dir, dm_index_row *row, char tags[][24], int *n_tags) {
    char path[4200], line[8192];
    snprintf(path, sizeof path, "%s/summary.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return dm_error(DM_STATUS_IO, "%s: cannot read: %s (not a dashboard directory?)", path,
                        strerror(errno));
    int col[4] = {-1, -1, -1, -1}, ln = 0, rows = 0;
    static const char *const want[4] = {"dataset", "tf", "tag", "auroc"};
    dm_status st = DM_STATUS_OK;
    for (int t = 0; t < DM_INDEX_MAX_TAGS; t++) row->auroc[t] = NAN;
    while (!st && fgets(line, sizeof line, f)) {
        ln++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        /* split on tabs */
        char *field[64];
        int nf = 0;
        for (char *p = line; nf < 64;) {
            field[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab) break;
            *tab = 0;
            p = tab + 1;
        }
        if (ln == 1) {
            for (int k = 0; k < 4; k++)
                for (int j = 0; j < nf; j++)
                    if (!strcmp(field[j], want[k])) col[k] = j;
            if (col[0] < 0 || col[1] < 0 || col[2] < 0 || col[3] < 0)
                st = dm_error(DM_STATUS_FORMAT,
                              "%s:1: not a dashboard summary (needs columns dataset, tf, tag, auroc)", path);
            continue;
        }
        if (nf <= col[0] || nf <= col[1] || nf <= col[2] || nf <= col[3]) {
            st = dm_error(DM_STATUS_FORMAT, "%s:%d: %d columns, expected at least %d", path, ln, nf,
                          1 + (col[3] > col[2] ? (col[3] > col[1] ? col[3] : col[1]) : col[2]));
            break;
        }
        char *end;
        double a = strtod(field[col[3]], &end);
        if (!strcmp(field[col[3]], "NA"))
            a = NAN;
        else if (*end || end == field[col[3]]) {
            st = dm_error(DM_STATUS_FORMAT, "%s:%d: auroc '%s' is not a number", path, ln, field[col[3]]);
            break;
        }
        int t = tag_index(tags, n_tags, field[col[2]]);
        if (t < 0) {
            st = dm_error(DM_STATUS_FORMAT, "%s:%d: more than %d model tags over the reports", path, ln,
                          DM_INDEX_MAX_TAGS);
            break;
        }
        snprintf(row->name, sizeof row->name, "%s", field[col[0]]);
        snprintf(row->tf, sizeof row->tf, "%s", field[col[1]]);
        row->auroc[t] = a;
        rows++;
    }
    if (!st && ferror(f)) st = dm_error(DM_STATUS_IO, "%s: read error", path);
    if (!st && ln == 0)
        st = dm_error(DM_STATUS_FORMAT, "%s: empty", path);
    else if (!st && rows == 0)
        st = dm_error(DM_STATUS_FORMAT, "%s: no models listed", path);
    fclose(f);
    return st;
}

/* The path of `to` relative to directory `from` (both absolute and canonical), into out. */
static void relative_path(const char *from, const char *to, char *out, size_t n) {
    /* the longest common prefix that ends at a component boundary */
    size_t i = 0, common = 0;
    while (from[i] && from[i] == to[i]) {
        i++;
        if (from[i - 1] == '/') common = i;
    }
    if (!from[i] && (to[i] == '/' || !to[i])) common = i;
    if (!strcmp(from, "/")) common = 1;
    size_t o = 0;
    out[0] = 0;
    /* one ".." per component of `from` after the common part, then the rest of `to` */
    for (const char *p = from + common; *p; p++)
        if (p == from + common || p[-1] == '/') o += (size_t)snprintf(out + o, o < n ? n - o : 0, "../");
    const char *rest = to + common;
    if (*rest == '/') rest++;
    snprintf(out + (o < n ? o : n - 1), o < n ? n - o : 1, "%s", rest);
}

/* Percent-encodes the bytes of a relative URL path that are not unreserved, '/', or sub-delims. */
static void url_path(const char *s, char *out, size_t n) {
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("-._~/()!*+,;=:@", c))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, n - o, "%%%02X", c);
    }
    out[o] = 0;
}

/* Mean, median and population standard deviation of the finite values; n receives their count. */
static void stats(const double *v, int m, int *n, double *mean, double *median, double *sd) {
    double *x = malloc(sizeof(double) * (size_t)(m ? m : 1));
    *n = 0;
    *mean = *median = *sd = NAN;
    if (!x) return;
    for (int i = 0; i < m; i++)
        if (isfinite(v[i])) x[(*n)++] = v[i];
    if (*n) {
        /* insertion sort: a handful to a few hundred data sets */
        for (int i = 1; i < *n; i++)
            for (int j = i; j > 0 && x[j] < x[j - 1]; j--) {
                double t = x[j];
                x[j] = x[j - 1];
                x[j - 1] = t;
            }
        double s = 0, ss = 0;
        for (int i = 0; i < *n; i++) s += x[i];
        *mean = s / *n;
        for (int i = 0; i < *n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
        *sd = sqrt(ss / *n);
        *median = *n % 2 ? x[*n / 2] : 0.5 * (x[*n / 2 - 1] + x[*n / 2]);
    }
    free(x);
}

/* Canonical tag order: the registered architectures first (table order), then others as met. */
static void order_tags(char tags[][24], int n, int *order) {
    int k = 0;
    for (int f = 0; f < dm_arch_count(); f++)
        for (int i = 0; i < n; i++)
            if (!strcmp(tags[i], dm_arch_name((dm_arch)f))) order[k++] = i;
    for (int i = 0; i < n; i++) {
        bool named = false;
        for (int f = 0; f < dm_arch_count(); f++) named = named || !strcmp(tags[i], dm_arch_name((dm_arch)f));
        if (!named) order[k++] = i;
    }
}

/* The index page into b and its table as TSV into t: data set × model tag AUROC (tags in `order`),
 * the foot rows mean, median, std and n per tag. `col` is scratch space for n values. */
static void index_page(dm_buf *b, dm_buf *t, const dm_index_row *rows, int n, char tags[][24],
                       const int *order, int n_tags, double *col, const char *cmdline) {
    /* the page: the sortable table of data set × model AUROC, summary rows under it */
    dm_buf_put(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<title>deepmotif dashboards</title>\n<style>\n");
    dm_buf_put(b, page_css);
    char now[32];
    dm_utc_now(now);
    dm_buf_printf(
        b,
        "</style>\n</head>\n<body>\n<h1>deepmotif dashboards</h1>\n<p class=\"dm-meta\">%d data sets. "
        "Written %s by deepmotif %s",
        n, now, dm_version());
    if (cmdline) {
        dm_buf_put(b, ": <code>");
        dm_buf_escaped(b, cmdline);
        dm_buf_put(b, "</code>");
    }
    dm_buf_put(b, "</p>\n<h2>Test AUROC per data set</h2>\n<table class=\"dm-sortable dm-index\"><thead><tr>"
                  "<th>TF</th><th>data set</th>");
    dm_buf_put(t, "tf\tdataset\treport");
    for (int k = 0; k < n_tags; k++) {
        dm_buf_printf(b, "<th>%s</th>", tags[order[k]]);
        dm_buf_printf(t, "\t%s", tags[order[k]]);
    }
    dm_buf_put(b, "</tr></thead>\n<tbody>\n");
    dm_buf_put(t, "\n");
    for (int i = 0; i < n; i++) {
        dm_buf_put(b, "<tr><td data-sort=\"");
        dm_buf_escaped(b, rows[i].tf);
        dm_buf_put(b, "\">");
        dm_buf_escaped(b, rows[i].tf);
        dm_buf_put(b, "</td><td data-sort=\"");
        dm_buf_escaped(b, rows[i].name);
        dm_buf_put(b, "\"><a href=\"");
        dm_buf_escaped(b, rows[i].link);
        dm_buf_put(b, "\">");
        dm_buf_escaped(b, rows[i].name);
        dm_buf_put(b, "</a></td>");
        dm_buf_printf(t, "%s\t%s\t%s", rows[i].tf, rows[i].name, rows[i].link);
        for (int k = 0; k < n_tags; k++) {
            double a = rows[i].auroc[order[k]];
            if (isfinite(a))
                dm_buf_printf(b, "<td class=\"num\" data-sort=\"%.6f\">%.4f</td>", a, a);
            else
                dm_buf_put(b, "<td class=\"num\" data-sort=\"\">&ndash;</td>");
            if (isfinite(a))
                dm_buf_printf(t, "\t%.6f", a);
            else
                dm_buf_put(t, "\tNA");
        }
        dm_buf_put(b, "</tr>\n");
        dm_buf_put(t, "\n");
    }
    /* mean, median, std and n per model tag, in the table's foot (not sorted) */
    static const char *const what[4] = {"mean", "median", "std", "n"};
    dm_buf_put(b, "</tbody>\n<tfoot>\n");
    for (int s = 0; s < 4; s++) {
        dm_buf_printf(b, "<tr><th colspan=\"2\">%s</th>", what[s]);
        for (int k = 0; k < n_tags; k++) {
            for (int i = 0; i < n; i++) col[i] = rows[i].auroc[order[k]];
            int cnt;
            double v[3];
            stats(col, n, &cnt, &v[0], &v[1], &v[2]);
            if (s == 3)
                dm_buf_printf(b, "<td class=\"num dm-stat\" data-stat=\"n\">%d</td>", cnt);
            else if (isfinite(v[s]))
                dm_buf_printf(b, "<td class=\"num dm-stat\" data-stat=\"%s\">%.4f</td>", what[s], v[s]);
            else
                dm_buf_printf(b, "<td class=\"num dm-stat\" data-stat=\"%s\">&ndash;</td>", what[s]);
        }
        dm_buf_put(b, "</tr>\n");
    }
    dm_buf_put(
        b, "</tfoot></table>\n<p class=\"dm-note\">Click a column header to sort. The foot rows summarise "
           "each model over the data sets that have it (standard deviation over the population), as the "
           "paper's comparison table.</p>\n<footer>A self-contained page, no external resources. "
           "<span id=\"dm-render\"></span></footer>\n<div id=\"dm-tip\" hidden></div>\n<script>\n");
    dm_buf_put(b, page_js);
    dm_buf_put(b, "</script>\n</body>\n</html>\n");
}

dm_status dm_dashboard_index(const char *const *dirs, int n, const char *out, const char *cmdline,
                             char *index_path) {
    if (n < 1) return dm_error(DM_STATUS_ARG, "dashboard --index: no report directories");
    if (strlen(out) > 3900) return dm_error(DM_STATUS_ARG, "%s: path too long", out);
    dm_index_row *rows = calloc((size_t)n, sizeof *rows);
    double *col = malloc(sizeof(double) * (size_t)n);
    char(*tags)[24] = calloc(DM_INDEX_MAX_TAGS, 24);
    dm_outputs w = {0};
    dm_buf b = {0}, t = {0};
    dm_status st =
        !rows || !col || !tags ? dm_error(DM_STATUS_NOMEM, "dashboard: out of memory") : DM_STATUS_OK;
    int n_tags = 0, order[DM_INDEX_MAX_TAGS];
    for (int i = 0; i < n && !st; i++) st = read_summary(dirs[i], &rows[i], tags, &n_tags);
    /* OUT must exist to resolve links; it must not be one of the reports (its index.html) */
    if (!st) st = outputs_mkdir(&w, out);
    char rout[PATH_MAX], rdir[PATH_MAX], rel[8192];
    if (!st && !realpath(out, rout)) st = dm_error(DM_STATUS_IO, "%s: %s", out, strerror(errno));
    for (int i = 0; i < n && !st; i++) {
        if (!realpath(dirs[i], rdir))
            st = dm_error(DM_STATUS_IO, "%s: %s", dirs[i], strerror(errno));
        else if (!strcmp(rdir, rout))
            st = dm_error(DM_STATUS_ARG, "%s: --out must not be a report directory", out);
        else {
            relative_path(rout, rdir, rel, sizeof rel);
            strncat(rel, "/index.html", sizeof rel - strlen(rel) - 1);
            url_path(rel, rows[i].link, sizeof rows[i].link);
        }
    }
    if (!st) {
        order_tags(tags, n_tags, order);
        index_page(&b, &t, rows, n, tags, order, n_tags, col, cmdline);
        st = dm_buf_status(&b);
        if (!st) st = dm_buf_status(&t);
    }
    if (!st) st = write_text(&w, out, "index.tsv", t.p, t.n);
    if (!st) st = write_text(&w, out, "index.html", b.p, b.n);
    if (st)
        outputs_rollback(&w);
    else
        snprintf(index_path, 4200, "%s/index.html", out);
    outputs_free(&w);
    dm_buf_free(&b);
    dm_buf_free(&t);
    free(rows);
    free(col);
    free(tags);
    return st;
}
