/*
 * dashboard_internal.h: what the files of host/dashboard/ share (see ../dashboard.h for the public
 * side). The dashboard has two phases and four files:
 *   compute.c   read the database, every checkpoint and the data; score every sequence with every
 *               model; pick the top-K sequences; per model saliency, temporal scores, class-optimised
 *               and filter PPMs and their database matches: everything into one dm_dash, nothing
 *               written. Also dm_dashboard_write, the entry point (compute, then write, or roll back).
 *   files.c     the raw outputs beside the page (TSV, .npy, MEME, hits) and the record of written
 *               files and created directories that a failure removes again.
 *   page.c      the HTML page of one data set (head, summary, model cards, performance charts, raw
 *               file links) and the figures (inline SVG, with --figures also standalone files);
 *   sequences.c its sequence and motif sections (saliency logos, heatmaps, temporal strips, PPM logos).
 *   index.c     the index page over many reports (dm_dashboard_index).
 * The page's style sheet and script are dashboard.css and dashboard.js beside these files, embedded
 * at build time (cmake/embed.cmake) as dm_dash_css and dm_dash_js.
 */
#ifndef DM_DASHBOARD_INTERNAL_H
#define DM_DASHBOARD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compare.h"
#include "dashboard.h"
#include "dm_internal.h"
#include "model.h"
#include "motifs.h"
#include "svg.h"

/* ---- the embedded assets (generated from dashboard.css and dashboard.js) ------------------------ */

extern const char dm_dash_css[]; /* the style sheet of both pages, NUL-terminated */
extern const char dm_dash_js[];  /* the script of both pages: hover read-out, sorting, render time */

/* ---- written files, removed again on failure (files.c) ----------------------------------------- */

typedef struct dm_outputs {
    char **path; /* (n) files committed so far */
    int n, cap;
    char made[2][4200]; /* directories this run created, innermost last */
    int n_made;
} dm_outputs;

dm_status dash_outputs_add(dm_outputs *w, const char *path);
dm_status dash_outputs_mkdir(dm_outputs *w, const char *dir);
void dash_outputs_rollback(dm_outputs *w);
void dash_outputs_free(dm_outputs *w);
dm_status dash_write_text(dm_outputs *w, const char *dir, const char *name, const char *text, size_t n);

/* ---- the computed report (compute.c) ------------------------------------------------------------ */

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

/* The TF of a data set name: the part before the first '_' (DeepBind's <TF>_<cell>_…). */
void dash_tf_of(const char *name, char *out, size_t n);

/* The comparison settings: TOMTOM-like defaults, `hits` matches per motif, the run's seed. */
void dash_compare_options(const dm_dash *d, dm_compare_options *co);

/* ROC and PR curves of one model: one point per distinct score from the highest down, from (0, 0)
 * and (recall 0, precision 1). The arrays (n + 1 each) are malloc'd for the caller. */
typedef struct dm_curves {
    double *fpr, *tpr, *rec, *prec;
    int n;
} dm_curves;

dm_status dash_curves(const float *score, const int8_t *label, int64_t n, dm_curves *c);
void dash_curves_free(dm_curves *c);

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

dm_status dash_named_motif(const dm_dash *d, const dm_dash_model *dm, dm_named *out);

/* ---- writing (files.c, page.c, sequences.c) ----------------------------------------------------- */

/* Creates DIR (and DIR/figures with --figures), writes summary.tsv, top.tsv, top.onehot.npy and
 * every model's files. */
dm_status dash_write_raw(dm_dash *d);

/* Builds the page into d->page (figures written as it is built) and writes DIR/index.html. */
dm_status dash_write_page(dm_dash *d);

/* Line colours of the models in the shared charts, by model index (page.c). */
extern const char *const dash_model_colour[DM_DASH_MAX_MODELS];

/* What one figure draws; dash_fig_emit renders it inline and, with --figures, standalone. */
typedef enum { DM_FIG_LOGO, DM_FIG_HEAT, DM_FIG_STRIP, DM_FIG_CHART } dm_fig_kind;

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

/* The horizontal layout shared by a sequence's logo, heatmap and strips (8 px per base). */
extern const dm_svg_track dash_seq_track;

dm_status dash_fig_emit(dm_dash *d, const dm_fig *f, const char *name);
void dash_svg_link(dm_dash *d, const char *name, const char *label);

/* The sequence and motif sections (sequences.c). */
dm_status dash_section_sequences(dm_dash *d);
dm_status dash_section_motifs(dm_dash *d);

/* Page writing shorthands: every page function has its dm_dash *d. */
#define P(...) dm_buf_printf(&d->page, __VA_ARGS__)
#define PUT(s) dm_buf_put(&d->page, s)
#define ESC(s) dm_buf_escaped(&d->page, s)

#endif /* DM_DASHBOARD_INTERNAL_H */
