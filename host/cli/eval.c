/*
 * eval.c: `deepmotif eval` (AUROC, AUPRC, accuracy of a model on labelled data) and `deepmotif
 * predict` (P(bound) per sequence as TSV), both streaming --data in two passes (cli_stream).
 */
#include <math.h>
#include <stdlib.h>

#include "cli.h"
#include "train.h"

const cli_opt cli_eval_opts[] = {
    {"--model", "MODEL", "checkpoint written by train (required)", NULL, 0},
    {"--data", "FILE", "labelled data (required, or --bed with --label-col)", NULL, 0},
    {"--versus", "MODEL2", "score the rows with MODEL2 as well: its metrics, and DeLong's paired test of AUROC(MODEL) "
                           "- AUROC(MODEL2) on these rows (difference, standard error, 95% interval, p)", NULL, 0},
    {"--json", NULL, "print one JSON object: n, auroc, auprc, accuracy (and with --versus an object \"versus\")",
     NULL, 0},
    {0},
};

const cli_opt cli_predict_opts[] = {
    {"--model", "MODEL", "checkpoint written by train (required)", NULL, 0},
    {"--data", "FILE", "sequences: any supported format, labelled or not (required, or --bed)", NULL, 0},
    {"--out", "FILE.tsv", "output: id (--bed: chrom, start, end, strand, name), label (if known), score = "
                          "P(bound) (required)", NULL, 0},
    {0},
};

typedef struct eval_ctx {
    dm_net *m, *m2;   /* m2: --versus, or NULL */
    bool quarter;
    const char *path;
    int64_t n;        /* rows of the checking pass */
    float *scores, *scores2;   /* all rows */
    int8_t *labels;
} eval_ctx;

static dm_status eval_chunk(void *ctx, const dm_dataset *ds, int64_t row0) {
    eval_ctx *c = ctx;
    if (row0 + ds->n > c->n) return DM_STATUS_OK;    /* the file grew: cli_stream_run reports it */
    DM_TRY(dm_net_predict(c->m, ds, c->quarter, c->scores + row0));
    if (c->m2) DM_TRY(dm_net_predict(c->m2, ds, c->quarter, c->scores2 + row0));
    for (int64_t i = 0; i < ds->n; i++) {
        if (ds->label[i] != 0 && ds->label[i] != 1)
            return dm_error(DM_STATUS_IO, "%s: changed while being read (row %lld lost its label)", c->path,
                            (long long)(row0 + i + 1));
        c->labels[row0 + i] = ds->label[i];
    }
    return DM_STATUS_OK;
}

/* The three metrics of one model's scores as text (NA, or null in JSON, where undefined). */
static void eval_metrics(const float *scores, const int8_t *labels, int64_t n, const char *path, bool json,
                         char ta[32], char tb[32], char tc[32]) {
    const char *undef = json ? "null" : "NA", *fmt = json ? "%.6f" : "%.4f";
    cli_metric_text(ta, cli_metric(DM_METRIC_AUROC, scores, labels, n, path), fmt, undef);
    cli_metric_text(tb, cli_metric(DM_METRIC_AUPRC, scores, labels, n, path), fmt, undef);
    cli_metric_text(tc, cli_metric(DM_METRIC_ACCURACY, scores, labels, n, path), fmt, undef);
}

int cli_eval(cli_args *a) {
    bool quarter = cli_n_quarter(a);
    const char *versus = cli_opt_str(a, "--versus");
    dm_backend *be = cli_backend(a);
    dm_net *m = cli_load_model(cli_required(a, "--model"), be, 256);
    dm_net *m2 = versus ? cli_load_model(versus, be, 256) : NULL;
    if (m2 && dm_net_hparams(m2)->len != dm_net_hparams(m)->len)
        cli_usage_error("--versus: %s takes sequences of %d bp, %s of %d: the two models must score the same rows",
                        versus, dm_net_hparams(m2)->len, cli_required(a, "--model"), dm_net_hparams(m)->len);
    /* streamed like predict: a checking pass (every line, the labels), then the scores chunk by chunk
     * (a multiple of the batch, so the scores are a whole-file run's); only the scores and labels of
     * all rows are kept, 5 bytes per sequence (9 with --versus) */
    cli_stream s;
    cli_stream_open(&s, a, dm_net_hparams(m)->len, 256);
    cli_stream_prefetch(&s, be);
    const char *path = s.path;
    int64_t n = s.tot.n;
    if (!s.labelled) cli_fail(dm_error(DM_STATUS_FORMAT, "%s: eval needs labelled data (use predict)", path));
    cli_notice_flush();
    eval_ctx ec = {.m = m, .m2 = m2, .quarter = quarter, .path = path, .n = n,
                   .scores = cli_alloc(sizeof(float) * (size_t)n), .labels = cli_alloc((size_t)n),
                   .scores2 = m2 ? cli_alloc(sizeof(float) * (size_t)n) : NULL};
    CLI_CHECK(cli_stream_run(&s, eval_chunk, &ec));
    const int8_t *labels = ec.labels;
    /* an undefined metric (one class, one sequence) is null in JSON and NA in text, with a warning */
    bool json = cli_flag(a, "--json");
    char ta[32], tb[32], tc[32], va[32], vb[32], vc[32];
    eval_metrics(ec.scores, labels, n, path, json, ta, tb, tc);
    dm_auroc_pair pr;
    if (m2) {
        eval_metrics(ec.scores2, labels, n, path, json, va, vb, vc);
        /* the test needs 2 of each class and finite scores: where it cannot run, the message says why */
        if (dm_auroc_paired(ec.scores, ec.scores2, labels, n, &pr))
            cli_fail(dm_error(DM_STATUS_FORMAT, "%s: --versus: %s", path, dm_last_error()));
    }
    if (json) {
        printf("{\"n\": %lld, \"auroc\": %s, \"auprc\": %s, \"accuracy\": %s", (long long)n, ta, tb, tc);
        if (m2) {
            char tz[32];   /* an infinite z (no variance, yet a difference) is null: JSON has no inf */
            cli_metric_text(tz, isfinite(pr.z) ? pr.z : NAN, "%.4f", "null");
            printf(", \"versus\": {\"auroc\": %s, \"auprc\": %s, \"accuracy\": %s, "
                   "\"auroc_diff\": %.6f, \"se\": %.6f, \"ci95\": [%.6f, %.6f], \"z\": %s, \"p\": %.6g}",
                   va, vb, vc, pr.diff, pr.se, pr.lo, pr.hi, tz, pr.p);
        }
        printf("}\n");
    } else {
        printf("n %lld\nAUROC %s\nAUPRC %s\naccuracy %s\n", (long long)n, ta, tb, tc);
        if (m2)
            printf("versus %s\nAUROC %s\nAUPRC %s\naccuracy %s\nAUROC difference %+.4f (SE %.4f, 95%% interval "
                   "%+.4f .. %+.4f; DeLong z %.2f, p %.3g)\n", versus, va, vb, vc, pr.diff, pr.se, pr.lo, pr.hi,
                   pr.z, pr.p);
    }
    free(ec.scores);
    free(ec.scores2);
    free(ec.labels);
    cli_stream_close(&s);
    dm_net_free(m);
    dm_net_free(m2);
    dm_backend_free(be);
    return 0;
}

typedef struct predict_ctx {
    dm_net *m;
    bool quarter, labelled;
    float *scores;   /* one chunk */
    const dm_regions *regions;   /* --bed: the coordinates of every row */
    dm_outfile f;
} predict_ctx;

static dm_status predict_chunk(void *ctx, const dm_dataset *ds, int64_t row0) {
    predict_ctx *c = ctx;
    DM_TRY(dm_net_predict(c->m, ds, c->quarter, c->scores));
    for (int64_t i = 0; i < ds->n; i++) {
        if (c->regions) {
            const dm_region *r = &c->regions->r[row0 + i];
            fprintf(c->f.f, "%s\t%lld\t%lld\t%c\t", r->chrom, (long long)r->start, (long long)r->end, r->strand);
        }
        if (c->labelled) fprintf(c->f.f, "%s\t%d\t%.6g\n", ds->id[i], ds->label[i], c->scores[i]);
        else fprintf(c->f.f, "%s\t%.6g\n", ds->id[i], c->scores[i]);
    }
    return DM_STATUS_OK;
}

int cli_predict(cli_args *a) {
    const char *out = cli_required(a, "--out");
    bool quarter = cli_n_quarter(a);
    cli_shard sh;
    cli_shard_init(&sh, a);
    cli_shard_check_out(&sh, out);
    cli_check_out(out);
    dm_backend *be = cli_backend(a);
    dm_net *m = cli_load_model(cli_required(a, "--model"), be, 256);
    cli_stream s;
    cli_stream_open(&s, a, dm_net_hparams(m)->len, 256);
    cli_stream_prefetch(&s, be);
    cli_shard_rows(&sh, &s, 256);
    cli_notice_flush();
    predict_ctx c = {.m = m, .quarter = quarter, .labelled = s.labelled, .regions = s.regions,
                     .scores = cli_alloc(sizeof(float) * (size_t)s.chunk)};
    cli_shard_add(&sh, out, DM_SHARD_TEXT, 0, NULL);
    dm_status st = cli_shard_text_open(&sh, &c.f, out);
    if (st) cli_shard_fail(&sh, st);
    /* --bed: the coordinates of the window scored (the region resized to the model's length) */
    if (cli_shard_header(&sh))
        fprintf(c.f.f, "%s%s\n", s.regions ? "chrom\tstart\tend\tstrand\tname" : "id",
                s.labelled ? "\tlabel\tscore" : "\tscore");
    st = cli_stream_run(&s, predict_chunk, &c);
    if (!st) st = dm_outfile_commit(&c.f);
    if (st) {
        dm_outfile_abort(&c.f);
        cli_shard_fail(&sh, st);
    }
    if (!sh.sh.count) fprintf(stderr, "%s: wrote %lld scores to %s\n", cli_prog, (long long)s.tot.n, out);
    else if (cli_shard_finish(&sh)) fprintf(stderr, "%s: wrote %lld scores to %s\n", cli_prog, (long long)s.tot.n, out);
    free(c.scores);
    cli_stream_close(&s);
    dm_net_free(m);
    dm_backend_free(be);
    return 0;
}
