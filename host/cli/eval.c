/*
 * eval.c: `deepmotif eval` (AUROC, AUPRC, accuracy of a model on labelled data) and `deepmotif
 * predict` (P(bound) per sequence as TSV), both streaming --data in two passes (cli_stream).
 */
#include <stdlib.h>

#include "cli.h"
#include "train.h"

const cli_opt cli_eval_opts[] = {
    {"--model", "MODEL", "checkpoint written by train (required)", NULL, 0},
    {"--data", "FILE", "labelled data (required, or --bed with --label-col)", NULL, 0},
    {"--json", NULL, "print one JSON object: n, auroc, auprc, accuracy", NULL, 0},
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
    dm_net *m;
    bool quarter;
    const char *path;
    int64_t n;        /* rows of the checking pass */
    float *scores;    /* all rows */
    int8_t *labels;
} eval_ctx;

static dm_status eval_chunk(void *ctx, const dm_dataset *ds, int64_t row0) {
    eval_ctx *c = ctx;
    if (row0 + ds->n > c->n) return DM_STATUS_OK;    /* the file grew: cli_stream_run reports it */
    DM_TRY(dm_net_predict(c->m, ds, c->quarter, c->scores + row0));
    for (int64_t i = 0; i < ds->n; i++) {
        if (ds->label[i] != 0 && ds->label[i] != 1)
            return dm_error(DM_STATUS_IO, "%s: changed while being read (row %lld lost its label)", c->path,
                            (long long)(row0 + i + 1));
        c->labels[row0 + i] = ds->label[i];
    }
    return DM_STATUS_OK;
}

int cli_eval(cli_args *a) {
    bool quarter = cli_n_quarter(a);
    dm_backend *be = cli_backend(a);
    dm_net *m = cli_load_model(cli_required(a, "--model"), be, 256);
    /* streamed like predict: a checking pass (every line, the labels), then the scores chunk by chunk
     * (a multiple of the batch, so the scores are a whole-file run's); only the scores and labels of
     * all rows are kept, 5 bytes per sequence */
    cli_stream s;
    cli_stream_open(&s, a, dm_net_hparams(m)->len, 256);
    cli_stream_prefetch(&s, be);
    const char *path = s.path;
    int64_t n = s.tot.n;
    if (!s.labelled) cli_fail(dm_error(DM_STATUS_FORMAT, "%s: eval needs labelled data (use predict)", path));
    cli_notice_flush();
    eval_ctx ec = {.m = m, .quarter = quarter, .path = path, .n = n,
                   .scores = cli_alloc(sizeof(float) * (size_t)n), .labels = cli_alloc((size_t)n)};
    CLI_CHECK(cli_stream_run(&s, eval_chunk, &ec));
    float *scores = ec.scores;
    const int8_t *labels = ec.labels;
    /* an undefined metric (one class, one sequence) is null in JSON and NA in text, with a warning */
    double auroc = cli_metric(DM_METRIC_AUROC, scores, labels, n, path);
    double auprc = cli_metric(DM_METRIC_AUPRC, scores, labels, n, path);
    double acc = cli_metric(DM_METRIC_ACCURACY, scores, labels, n, path);
    char ta[32], tb[32], tc[32];
    bool json = cli_flag(a, "--json");
    const char *undef = json ? "null" : "NA";
    cli_metric_text(ta, auroc, json ? "%.6f" : "%.4f", undef);
    cli_metric_text(tb, auprc, json ? "%.6f" : "%.4f", undef);
    cli_metric_text(tc, acc, json ? "%.6f" : "%.4f", undef);
    if (json)
        printf("{\"n\": %lld, \"auroc\": %s, \"auprc\": %s, \"accuracy\": %s}\n", (long long)n, ta, tb, tc);
    else
        printf("n %lld\nAUROC %s\nAUPRC %s\naccuracy %s\n", (long long)n, ta, tb, tc);
    free(scores);
    free(ec.labels);
    cli_stream_close(&s);
    dm_net_free(m);
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
