/*
 * files.c: the dashboard's raw outputs (summary.tsv, top.tsv, top.onehot.npy and per model its
 * predictions, saliency and temporal arrays, MEME files and database matches), and the record of
 * written files and created directories that a failure removes again (dm_outputs).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dashboard_internal.h"
#include "meme.h"
#include "npy.h"

/* ---- written files, removed again on failure ---------------------------------------------------- */

/* Records a committed file (a copy of its path) for the rollback. */
dm_status dash_outputs_add(dm_outputs *w, const char *path) {
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
dm_status dash_outputs_mkdir(dm_outputs *w, const char *dir) {
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
void dash_outputs_rollback(dm_outputs *w) {
    for (int i = 0; i < w->n; i++) remove(w->path[i]);
    for (int i = w->n_made - 1; i >= 0; i--) rmdir(w->made[i]);
}

/* Success or failure alike: forget the record (the files stay, or were removed). */
void dash_outputs_free(dm_outputs *w) {
    for (int i = 0; i < w->n; i++) free(w->path[i]);
    free(w->path);
    memset(w, 0, sizeof *w);
}

/* Writes n bytes of text to DIR/name atomically and records it. */
dm_status dash_write_text(dm_outputs *w, const char *dir, const char *name, const char *text, size_t n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dm_outfile f;
    DM_TRY(dm_outfile_open(&f, path));
    fwrite(text, 1, n, f.f);
    DM_TRY(dm_outfile_commit(&f));
    return dash_outputs_add(w, path);
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
    return dash_outputs_add(&d->out, path);
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

/* A number of a TSV row and its tab, or NA and the tab when undefined (the metrics of unlabelled or
 * one-class data). */
static void tsv_num(dm_buf *b, double v) {
    if (isfinite(v))
        dm_buf_printf(b, "%.6f\t", v);
    else
        dm_buf_put(b, "NA\t");
}

/* summary.tsv (one row per model, read by the index) and top.tsv (the top sequences). */
static dm_status write_tables(dm_dash *d) {
    dm_buf b = {0};
    char tf[64];
    dash_tf_of(d->name, tf, sizeof tf);
    dm_buf_put(&b,
               "dataset\ttf\ttag\tarch\tauroc\tauprc\taccuracy\tn\tmodel\tmodel_sha256\ttrained_params\t"
               "epochs_run\tbest_epoch\ttrain_seconds\tseed\tprotocol\tversion\t"
               "named\tnamed_name\tnamed_by_optimized\tnamed_by_filters\tnamed_best_motif\tnamed_best_q\n");
    for (int i = 0; i < d->nm; i++) {
        const dm_dash_model *dm = &d->mod[i];
        dm_buf_printf(&b, "%s\t%s\t%s\t%s\t", d->name, tf, dm->tag, dm_arch_name(dm->hp.arch));
        tsv_num(&b, dm->auroc);
        tsv_num(&b, dm->auprc);
        tsv_num(&b, dm->acc);
        dm_buf_printf(&b, "%lld\t%s\t%s\t%lld\t%d\t%d\t%.1f\t%llu\t%s\t%s\t", (long long)d->ds.n, dm->path,
                      dm->sha256, (long long)dm->n_trainable, dm->prov->epochs_run, dm->prov->best_epoch,
                      dm->prov->train_seconds, (unsigned long long)dm->prov->seed, dm->prov->protocol,
                      dm->prov->version);
        /* the motif the model's PPMs name most often: target, name, votes, best PPM and its q */
        dm_named nm;
        dm_status st = dash_named_motif(d, dm, &nm);
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
    if (!st) st = dash_write_text(&d->out, d->dir, "summary.tsv", b.p, b.n);
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
    if (!st) st = dash_write_text(&d->out, d->dir, "top.tsv", b.p, b.n);
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
    if (!st) st = dash_write_text(&d->out, d->dir, name, b.p, b.n);
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
    dash_compare_options(d, &co);
    const dm_motif_set *sets[2] = {&dm->opt, &dm->filt};
    const dm_hit *hits[2] = {dm->opt_hits, dm->filt_hits};
    int nh[2] = {dm->n_opt_hits, dm->n_filt_hits};
    for (int s = 0; s < 2; s++) {
        if (!sets[s]->n) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s.%s.meme", d->dir, dm->tag, s ? "filters" : "optimized");
        DM_TRY(dm_meme_write(path, sets[s]));
        DM_TRY(dash_outputs_add(&d->out, path));
        if (!d->db.n) continue;
        snprintf(path, sizeof path, "%s/%s.%s.hits.tsv", d->dir, dm->tag, s ? "filters" : "optimized");
        DM_TRY(dm_compare_write_tsv(path, sets[s], &d->db, hits[s], nh[s], &co, d->o->cmdline));
        DM_TRY(dash_outputs_add(&d->out, path));
    }
    return DM_STATUS_OK;
}


/* DIR (and DIR/figures), the tables, the top sequences' one-hot inputs and every model's files. */
dm_status dash_write_raw(dm_dash *d) {
    DM_TRY(dash_outputs_mkdir(&d->out, d->dir));
    if (d->o->figures) {
        char fig[4200];
        snprintf(fig, sizeof fig, "%s/figures", d->dir);
        DM_TRY(dash_outputs_mkdir(&d->out, fig));
    }
    DM_TRY(write_tables(d));
    int64_t shape[3] = {d->K, 4, d->L};
    float *ncl = to_ncl(d->x, d->K, d->L);
    if (!ncl) return dm_error(DM_STATUS_NOMEM, "dashboard: out of memory");
    dm_status st = write_npy(d, "top.onehot.npy", 3, shape, ncl);
    free(ncl);
    DM_TRY(st);
    for (int i = 0; i < d->nm; i++) DM_TRY(write_model_files(d, &d->mod[i]));
    return DM_STATUS_OK;
}
