/*
 * motifs.c: `deepmotif motifs` (first-layer filters as PPMs) and `deepmotif compare` (TOMTOM-like
 * comparison with a database), and the naming of motifs against a database that optimize shares.
 */
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "cli.h"
#include "motifdb.h"
#include "motifs.h"

const cli_opt cli_motifs_opts[] = {
    {"--model", "MODEL", "a checkpoint whose first layer is a convolution (required)", NULL, 0},
    {"--data", "FILE", "sequences whose windows align the filters, e.g. the positives (required, or --bed)", NULL, 0},
    {"--out", "PREFIX", "writes PREFIX.meme (and PREFIX.hits.tsv with --db) (required)", NULL, 0},
    {"--frac", "F", "site threshold: activation > F x the filter's maximum (default 0.5)", NULL, 0},
    {"--min-sites", "N", "filters with fewer sites are left out (default 10)", NULL, 0},
    {"--db", "DB", "name the filters against these motifs (e.g. JASPAR; MEME, JASPAR, HOCOMOCO or TRANSFAC)", NULL, 0},
    {0},
};

const cli_opt cli_compare_opts[] = {
    {"--query", "Q", "query motifs: MEME, JASPAR, HOCOMOCO or TRANSFAC, detected by content (required)", NULL, 0},
    {"--db", "DB", "target motifs, e.g. JASPAR; any format --query takes (required)", NULL, 0},
    {"--query-type", "auto|ppm|cwm",
     "queries are probabilities (ppm) or signed contribution weights (cwm, e.g. TF-MoDISco's CWM export; "
     "pearson only); auto (default): cwm when a MEME query file has a negative entry",
     CLI_CHOICES("auto", "ppm", "cwm"), 0},
    {"--pseudocount", "X", "total pseudocount per position for count matrices, spread evenly over the bases "
                           "(default 0.8)", NULL, 0},
    {"--out", "HITS.tsv", "TOMTOM-like TSV (required)", NULL, 0},
    {"--top", "N", "matches reported per query (default 10)", NULL, 0},
    {"--thresh", "Q", "q-value threshold (default 0.5)", NULL, 0},
    {"--dist", "pearson|euclid|sandelin", "column similarity (default pearson; euclid is TOMTOM's ed)",
     CLI_CHOICES("pearson", "euclid", "sandelin"), 0},
    {"--null", "tomtom|shuffle", "p-values: TOMTOM's (default) or a column-shuffled Monte Carlo null",
     CLI_CHOICES("tomtom", "shuffle"), 0},
    {"--min-overlap", "N", "fewest aligned columns (default 1 with --null tomtom, as TOMTOM; 5 with shuffle)", NULL, 0},
    {"--seed", "S", "seed of the shuffle null (default 1)", NULL, 0},
    {0},
};

/* Reads a motif database (any format motifdb.h reads, as probabilities) that must hold a motif. */
void cli_read_db(const char *path, dm_motif_set *db) {
    dm_motifs_read_options ro;
    dm_motifs_read_options_default(&ro);
    ro.type = DM_MOTIF_PPM;
    CLI_CHECK(dm_motifs_read(path, &ro, db, NULL));
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
    const char *dist = cli_opt_or(a, "--dist", "pearson");
    co.dist = !strcmp(dist, "euclid") ? DM_DIST_EUCLID : !strcmp(dist, "sandelin") ? DM_DIST_SANDELIN : DM_DIST_PEARSON;
    co.null = !strcmp(cli_opt_or(a, "--null", "tomtom"), "shuffle") ? DM_NULL_SHUFFLE : DM_NULL_TOMTOM;
    co.min_overlap = (int)cli_int(a, "--min-overlap", co.null == DM_NULL_SHUFFLE ? 5 : 1, 1, 1000);
    dm_motifs_read_options ro;
    dm_motifs_read_options_default(&ro);
    const char *qt = cli_opt_or(a, "--query-type", "auto");
    ro.type = !strcmp(qt, "cwm") ? DM_MOTIF_CWM : !strcmp(qt, "ppm") ? DM_MOTIF_PPM : DM_MOTIF_AUTO;
    ro.pseudocount = cli_num(a, "--pseudocount", ro.pseudocount, 0, 1e6);
    if (ro.type == DM_MOTIF_CWM && co.dist != DM_DIST_PEARSON)
        cli_usage_error("--query-type cwm needs --dist pearson (signed contributions have no Euclidean distance "
                        "to probabilities)");
    const char *out = cli_required(a, "--out"), *qpath = cli_required(a, "--query"), *dbpath = cli_required(a, "--db");
    cli_check_out(out);
    dm_motif_set q = {0}, db = {0};
    dm_motifs_info qi;
    CLI_CHECK(dm_motifs_read(qpath, &ro, &q, &qi));
    co.query_type = qi.type;
    if (co.query_type == DM_MOTIF_CWM && co.dist != DM_DIST_PEARSON)
        cli_fail(dm_error(DM_STATUS_FORMAT, "%s: the queries are CWMs (negative entries); they need --dist pearson",
                          qpath));
    ro.type = DM_MOTIF_PPM;
    CLI_CHECK(dm_motifs_read(dbpath, &ro, &db, NULL));
    if (!db.n) cli_fail(dm_error(DM_STATUS_FORMAT, "%s: no motifs", dbpath));
    dm_hit *hits = NULL;
    int nh = 0;
    CLI_CHECK(dm_compare(&q, &db, &co, &hits, &nh));
    CLI_CHECK(dm_compare_write_tsv(out, &q, &db, hits, nh, &co, cli_cmdline(a)));
    fprintf(stderr, "%s: %d %s queries (%s) x %d targets: %d matches (q <= %g)\n", cli_prog, q.n,
            co.query_type == DM_MOTIF_CWM ? "CWM" : "PPM", dm_motif_format_name(qi.format), db.n, nh, co.thresh);
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
    cli_single_model(m, model_path, "motifs");
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
