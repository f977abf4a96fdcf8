/*
 * dashboard.h: the "Dashboard" of the Deep Motif Dashboard: one self-contained HTML report per data
 * set, comparing the given models (typically the CNN, RNN and CNN-RNN of one TF), and an index page
 * over many reports.
 *
 * The report (DIR/index.html) holds inline SVG drawn by svg.c, some seventy lines of vanilla JavaScript
 * (hover read-out, sortable tables, a render-time note), no external reference of any kind; the style
 * sheet and script are host/dashboard/dashboard.css and dashboard.js, embedded at build time, and the
 * code is in host/dashboard/ (dashboard_internal.h says which file does what). It shows
 *   - a summary table: metrics per model and, with a database, the motif each model names (the target
 *     that is the top match, q ≤ 0.05, of most of its optimised and filter PPMs);
 *   - a model card per model: architecture, trained parameters, data files with SHA-256, seed,
 *     protocol, epochs, training time, device, engine version (the checkpoint's provenance);
 *   - training curves (loss, validation AUROC per epoch) and test ROC and PR curves with their areas,
 *     every model in the same axes;
 *   - the top-K test sequences by mean P(bound) over the models: per model a logo whose letter heights
 *     are the saliency |∂(−log P(y | X))/∂X| of the present base (SPEC.md §6.1, y the true label, or
 *     the bound class for unlabelled data; computed as P(not y) · |∂(z_pos − z_neg)/∂X|, the same
 *     value without float32's cancellation in 1 − P(y) on confident sequences), a white→red heatmap of
 *     that gradient's magnitude in all four channels under it, and for recurrent models the forward
 *     and backward temporal output scores (SPEC.md §6.2) in blue–white–red strips on the same columns;
 *   - class-optimised PPMs (SPEC.md §6.3, seeded restarts, best objective first) and first-layer
 *     filter PPMs (motifs.h) as logos in bits, each with its best database matches and q-values when
 *     a motif database is given;
 *   - links to the raw outputs written beside it:
 *       summary.tsv                 one row per model: data set, TF, tag, metrics, provenance, the
 *                                   motif named and by how many PPMs (read by the index)
 *       top.tsv, top.onehot.npy     the top sequences (rank, row, id, label, scores) and their one-hot
 *                                   input (K, 4, L)
 *       TAG.predictions.tsv         id, label, P(bound) of every test sequence
 *       TAG.saliency.npy            (K, 4, L) float32: |∂(−log P(y | X))/∂X|, all four channels
 *       TAG.temporal.npy            (K, L, 2) float32: forward, backward scores (recurrent models)
 *       TAG.optimized.meme, TAG.filters.meme, TAG.optimized.hits.tsv, TAG.filters.hits.tsv
 *     and with `figures` every figure again as a standalone SVG under DIR/figures/.
 * TAG is the architecture name ("cnn", "rnn", "cnnrnn"), with "-2", "-3" … for repeats.
 *
 * Output discipline: every input (checkpoints, data, database) is read and every number computed
 * before the first file is written; each file is written atomically (dm_outfile), index.html last;
 * when a write fails, the files already written and the directories created are removed again.
 */
#ifndef DM_DASHBOARD_H
#define DM_DASHBOARD_H

#include "backend.h"
#include "deepmotif.h"

#define DM_DASH_MAX_MODELS 8

typedef struct dm_dashboard_options {
    int top;             /* test sequences shown, by mean P(bound) over the models (10) */
    int restarts;        /* class-optimisation restarts per model (8) */
    int steps;           /* RMSprop steps of the class optimisation (1000) */
    int hits;            /* database matches listed per motif (3) */
    int max_filters;     /* filter logos shown per model, most significant first (24; 0: all); the
                            .meme file has every filter */
    bool figures;        /* every figure also as DIR/figures/NAME.svg */
    bool n_quarter;      /* N encoded as 0.25 per base */
    uint64_t seed;       /* optimisation starts and the comparison's null (1) */
    const char *db;      /* motif database (MEME, e.g. JASPAR) naming the PPMs, or NULL */
    const char *name;    /* data set name; NULL: the data file name without directory, extensions
                            and a trailing _B / _AC */
    const char *genome;  /* non-NULL: `data` is a BED file of regions of this indexed FASTA (genome.h) */
    int resize;          /* with genome: dm_resize of the regions to the models' length (center) */
    int label_col;       /* with genome: the BED column of the 0/1 labels, 0 none */
    const char *cmdline; /* shown in the report; may be NULL */
    void (*log)(void *ctx, const char *line); /* progress lines; may be NULL */
    void *log_ctx;
} dm_dashboard_options;

/* top 10, restarts 8, steps 1000, hits 3, max_filters 24, seed 1, everything else off / NULL. */
void dm_dashboard_options_default(dm_dashboard_options *o);

/* What the caller prints. */
typedef struct dm_dashboard_result {
    int n_models;
    char tag[DM_DASH_MAX_MODELS][24];
    double auroc[DM_DASH_MAX_MODELS]; /* on the data given; NaN when it is unlabelled */
    double auprc[DM_DASH_MAX_MODELS];
    char index[4200]; /* DIR/index.html */
} dm_dashboard_result;

/* Writes the report of the n_models checkpoints `models` (1..DM_DASH_MAX_MODELS, any architectures
 * of one input length) on the data file `data` into directory `dir` (created when missing), the
 * models running on `be`. Returns _OK; _IO, _FORMAT, _CORRUPT naming the file at fault (checkpoint,
 * data, including a data file without sequences, database, output); _ARG (options out of range,
 * models of different lengths); _NOMEM; a backend failure. On failure nothing is left behind. */
dm_status dm_dashboard_write(const char *const *models, int n_models, const char *data, const char *dir,
                             dm_backend *be, const dm_dashboard_options *o, dm_dashboard_result *res);

/* Writes OUT/index.html and OUT/index.tsv over the reports in dirs[0..n): a sortable table of data
 * set (linked to its report) × model tag AUROC, and per tag the number of data sets, the mean, median
 * and standard deviation (population, as bench/results/deepbind.md) of the AUROC. Each report is
 * found through DIR/summary.tsv. `index_path` (4200 bytes) receives OUT/index.html. Returns _OK;
 * _IO or _FORMAT naming a missing or malformed summary; _ARG (no directories, OUT one of them); _NOMEM. */
dm_status dm_dashboard_index(const char *const *dirs, int n, const char *out, const char *cmdline,
                             char *index_path);

#endif /* DM_DASHBOARD_H */
