/*
 * motifs.c: `deepmotif motifs` (first-layer filters as PPMs) and `deepmotif compare` (TOMTOM-like
 * comparison with a database), and the naming of motifs against a database that optimize shares.
 */
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "cli.h"
#include "motifs.h"

const cli_opt cli_motifs_opts[] = {
    {"--model", "MODEL", "a checkpoint whose first layer is a convolution (required)", NULL, 0},
    {"--data", "FILE", "sequences whose windows align the filters, e.g. the positives (required, or --bed)", NULL, 0},
    {"--out", "PREFIX", "writes PREFIX.meme (and PREFIX.hits.tsv with --db) (required)", NULL, 0},
    {"--frac", "F", "site threshold: activation > F x the filter's maximum (default 0.5)", NULL, 0},
    {"--min-sites", "N", "filters with fewer sites are left out (default 10)", NULL, 0},
    {"--db", "DB.meme", "name the filters against these motifs (e.g. JASPAR)", NULL, 0},
    {0},
};

const cli_opt cli_compare_opts[] = {
    {"--query", "Q.meme", "query motifs, MEME format (required)", NULL, 0},
    {"--db", "DB.meme", "target motifs, e.g. JASPAR in MEME format (required)", NULL, 0},
    {"--out", "HITS.tsv", "TOMTOM-like TSV (required)", NULL, 0},
    {"--top", "N", "matches reported per query (default 10)", NULL, 0},
    {"--thresh", "Q", "q-value threshold (default 0.5)", NULL, 0},
    {"--dist", "pearson|euclid", "column similarity (default pearson)", CLI_CHOICES("pearson", "euclid"), 0},
    {"--seed", "S", "seed of the null distribution (default 1)", NULL, 0},
    {0},
};

/* Reads a motif database (MEME format) that must hold at least one motif. */
void cli_read_db(const char *path, dm_motif_set *db) {
    CLI_CHECK(dm_meme_read(path, db));
    if (!db->n) cli_fail(dm_error(DM_STATUS_FORMAT, "%s: no motifs", path));
}

void cli_annotate_compute(const dm_motif_set *q, const dm_motif_set *db, cli_annotation *an) {
    dm_compare_options_default(&an->co);
    an->hits = NULL;
    an->nh = 0;
    CLI_CHECK(dm_compare(q, db, &an->co, &an->hits, &an->nh));
}

void cli_annotate_finish(const dm_motif_set *q, const dm_motif_set *db, cli_annotation *an, const char *prefix,
                         const char *const *written, const cli_args *a) {
    char out_path[CLI_PATH_MAX], path[CLI_PATH_MAX];
    cli_path(out_path, prefix, ".hits.tsv");
    dm_status st = dm_compare_write_tsv(out_path, q, db, an->hits, an->nh, &an->co, cli_cmdline(a));
    if (st) {
        for (int k = 0; written[k]; k++) remove(cli_path(path, prefix, written[k]));
        cli_fail(st);
    }
    const dm_hit *hits = an->hits;
    for (int i = 0; i < an->nh; i++)
        if (i == 0 || hits[i].query != hits[i - 1].query)
            printf("%-16s best match %s %s  p %.3g  q %.3g  (%c, offset %d)\n", q->m[hits[i].query].id,
                   db->m[hits[i].target].id, db->m[hits[i].target].name, hits[i].pvalue, hits[i].qvalue,
                   hits[i].orient, hits[i].offset);
    fprintf(stderr, "%s: %d matches (q <= %g) written to %s\n", cli_prog, an->nh, an->co.thresh, out_path);
    free(an->hits);
    an->hits = NULL;
}

int cli_compare(cli_args *a) {
    dm_compare_options co;
    dm_compare_options_default(&co);
    co.top = (int)cli_int(a, "--top", co.top, 1, 100000);
    co.thresh = cli_num(a, "--thresh", co.thresh, 0, 1);
    co.seed = cli_seed(a);
    co.dist = !strcmp(cli_opt_or(a, "--dist", "pearson"), "euclid");
    const char *out = cli_required(a, "--out"), *qpath = cli_required(a, "--query"), *dbpath = cli_required(a, "--db");
    cli_check_out(out);
    dm_motif_set q = {0}, db = {0};
    CLI_CHECK(dm_meme_read(qpath, &q));
    cli_read_db(dbpath, &db);
    dm_hit *hits = NULL;
    int nh = 0;
    CLI_CHECK(dm_compare(&q, &db, &co, &hits, &nh));
    CLI_CHECK(dm_compare_write_tsv(out, &q, &db, hits, nh, &co, cli_cmdline(a)));
    fprintf(stderr, "%s: %d queries x %d targets: %d matches (q <= %g)\n", cli_prog, q.n, db.n, nh, co.thresh);
    free(hits);
    dm_motif_set_free(&q);
    dm_motif_set_free(&db);
    return 0;
}

int cli_motifs(cli_args *a) {
    dm_motifs_options mo;
    dm_motifs_options_default(&mo);
    mo.frac = (float)cli_num(a, "--frac", mo.frac, 0, 1);
    mo.min_sites = (int)cli_int(a, "--min-sites", mo.min_sites, 1, 1 << 30);
    const char *prefix = cli_required(a, "--out"), *db_path = cli_opt_str(a, "--db");
    cli_check_outs(prefix, (const char *const[]){".meme", db_path ? ".hits.tsv" : NULL, NULL});
    dm_backend *be = cli_backend(a);
    const char *model_path = cli_required(a, "--model");
    dm_net *m = cli_load_model(model_path, be, 256);
    int n_layers;
    if (dm_net_layers(m, &n_layers)->op != DM_LAYER_CONV) {
        char with[256];
        dm_arch_list_having(DM_LAYER_CONV, with, sizeof with);
        cli_fail(dm_error(DM_STATUS_FORMAT, "%s: a %s model has no convolution filters (motifs needs a %s)", model_path,
                          dm_arch_name(dm_net_hparams(m)->arch), with));
    }
    dm_dataset ds = {0};
    cli_load_input(&ds, a, "--data", dm_net_hparams(m)->len, NULL);   /* --data or --bed */
    dm_motif_set db = {0};
    if (db_path) cli_read_db(db_path, &db);
    cli_notice_flush();
    dm_motif_set set = {0};
    CLI_CHECK(dm_motifs_extract(m, &ds, &mo, &set));
    cli_annotation an = {0};
    if (db_path) cli_annotate_compute(&set, &db, &an);
    char path[CLI_PATH_MAX];
    CLI_CHECK(dm_meme_write(cli_path(path, prefix, ".meme"), &set));
    fprintf(stderr, "%s: %d filters with >= %d sites written to %s\n", cli_prog, set.n, mo.min_sites, path);
    if (db_path) cli_annotate_finish(&set, &db, &an, prefix, (const char *const[]){".meme", NULL}, a);
    dm_motif_set_free(&db);
    dm_motif_set_free(&set);
    dm_dataset_free(&ds);
    dm_net_free(m);
    dm_backend_free(be);
    return 0;
}
