/*
 * test_dashboard.c: the HTML dashboard (host/dashboard/) and its index, on small models trained here
 * on simulated data (a few seconds), and in a real browser.
 *  - the report: every section, the expected number of logos, heatmaps, strips and curves, the raw
 *    outputs beside it (every relative link resolves), standalone figures, the saliency array equal
 *    to DeMo's map computed independently, the top sequences in score order, no external reference;
 *  - unlabelled data and a single model;
 *  - the CLI: usage errors, bad checkpoint / data / database named in one line with nothing written,
 *    a failure while writing rolls back what was written;
 *  - the index: AUROC table, mean / median / population std per model, relative links, errors;
 *  - the style sheet and script: both pages hold host/dashboard/dashboard.css and dashboard.js whole
 *    (what the build embeds is what the files say); the CSS's braces balance, the script parses
 *    (`node --check`, skipped without Debian's nodejs); an unlabelled report's summary reads in the index;
 *  - Chromium (headless, Debian's `chromium`; skipped when it is not installed): the page loads with
 *    no console message and no network request, the DOM holds the expected figures, the page's load
 *    handler runs and records its render time (logged, not asserted), hovering a position reads out
 *    base, position and value, and a screenshot is not blank (base colours and heatmap red present);
 *    the index's table sorts on a header click. A deliberately bad page proves the harness catches console errors and
 *    requests.
 *
 * How the browser checks work (no DevTools protocol needed):
 *  - console: `--enable-logging=stderr --v=0` makes Chromium log every console message of the page
 *    (console.log/warn/error, uncaught exceptions) as an "INFO:CONSOLE" line on stderr; the page itself
 *    logs nothing, so any such line is a failure (a blocked external load shows up in the net log);
 *  - network: `--log-net-log=FILE` records every URL request of the browser as JSON, one event per
 *    line; a request made by the page carries the network isolation key of its file:// document
 *    ("network_isolation_key":"file://…"), the browser's own background requests do not, so the count
 *    of such lines is the number of requests the page made. `--host-resolver-rules=MAP * ~NOTFOUND`
 *    keeps anything from leaving the machine either way;
 *  - DOM: `--dump-dom` prints the document after the load event (scripts run), where figures are
 *    counted by class and the page's own render time (data-ms) is read;
 *  - screenshot: `--screenshot` writes a PNG, decoded here with zlib.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dashboard.h"
#include "meme.h"
#include "saliency.h"
#include "simulate.h"
#include "testutil.h"
#include "train.h"

/* ---- helpers ------------------------------------------------------------------------------------ */

static char *slurp_path(const char *path, size_t *n_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    if (n_out) *n_out = (size_t)n;
    return buf;
}

static char *slurp(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return slurp_path(path, NULL);
}

/* DIR/name for a quick look: valid until the next call (the CLI's stdout and stderr). */
static const char *text(const char *dir, const char *name) {
    static char *last;
    free(last);
    last = slurp(dir, name);
    return last ? last : "";
}

static bool exists(const char *dir, const char *name) {
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static int count(const char *s, const char *what) {
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* Files in a directory (not . and ..), by shell. */
static int n_files(const char *dir) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    cr_assert(p && fscanf(p, "%d", &n) == 1);
    pclose(p);
    return n;
}

/* ---- fixture: three small trained models, test data, a motif database ------------------------- */

typedef struct fixture {
    char dir[256];
    char model[3][512];
    char data[512];
    char db[512];
} fixture;

/* Trains a small `arch` (16 maps, H 8) for 2 epochs and saves it with a provenance like train's. */
static void train_small(const fixture *fx, dm_arch arch, const dm_dataset *tr, const dm_dataset *va,
                        const char *path) {
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.conv_channels = 16;
    hp.hidden = 8;
    dm_backend *be = dm_backend_cpu_create(2);
    dm_net *m;
    cr_assert_eq(dm_net_create(&m, &hp, be, 64), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_init_params(m, 5), DM_STATUS_OK);
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    o.epochs = 2;
    o.batch = 64;
    o.lr = 0.005f;
    static dm_provenance prov;
    memset(&prov, 0, sizeof prov);
    snprintf(prov.version, sizeof prov.version, "%s", dm_version());
    snprintf(prov.device, sizeof prov.device, "cpu: test, 2 threads");
    snprintf(prov.label, sizeof prov.label, "best");
    prov.n_inputs = 1;
    snprintf(prov.inputs[0].role, sizeof prov.inputs[0].role, "train");
    snprintf(prov.inputs[0].path, sizeof prov.inputs[0].path, "%s/train.seq.gz", fx->dir);
    cr_assert_eq(dm_file_sha256(prov.inputs[0].path, &prov.inputs[0].bytes, prov.inputs[0].sha256),
                 DM_STATUS_OK);
    prov.test_auroc = prov.test_auprc = prov.test_accuracy = NAN;
    dm_resume_state st = {0};
    cr_assert_eq(dm_net_train(m, tr, va, &o, &prov, &st, NULL), DM_STATUS_OK, "%s", dm_last_error());
    int32_t nt;
    const dm_tensor_info *t = dm_net_tensors(m, &nt);
    float *params = malloc(sizeof(float) * (size_t)dm_net_n_params(m));
    cr_assert(params && dm_net_get_params(m, params) == DM_STATUS_OK);
    cr_assert_eq(dm_checkpoint_save(path, &hp, t, nt, params, dm_net_n_params(m), &prov, NULL),
                 DM_STATUS_OK);
    free(params);
    dm_resume_state_free(&st);
    dm_net_free(m);
    dm_backend_free(be);
}

/* The simulator's built-in motifs as a MEME database. */
static void write_builtin_db(const char *path) {
    dm_motif_set db = {.n = dm_sim_motif_count()};
    db.m = calloc((size_t)db.n, sizeof(dm_motif));
    cr_assert(db.m);
    for (int i = 0; i < db.n; i++) {
        snprintf(db.m[i].id, sizeof db.m[i].id, "SIM%d", i + 1);
        snprintf(db.m[i].name, sizeof db.m[i].name, "%s", dm_sim_motif_name(i));
        db.m[i].w = dm_sim_motif_width(i);
        db.m[i].p = malloc(sizeof(float) * 4 * (size_t)db.m[i].w);
        memcpy(db.m[i].p, dm_sim_motif_ppm(i), sizeof(float) * 4 * (size_t)db.m[i].w);
    }
    cr_assert_eq(dm_meme_write(path, &db), DM_STATUS_OK, "%s", dm_last_error());
    dm_motif_set_free(&db);
}

/* 600 simulated training pairs (CTCF planted), 100 test pairs, and a CNN, an RNN and a CNN-RNN. */
static void make_fixture(fixture *fx) {
    char *d = dm_test_tmpdir();
    cr_assert(d);
    snprintf(fx->dir, sizeof fx->dir, "%s", d);
    free(d);
    dm_sim_options so;
    dm_sim_options_default(&so);
    dm_dataset all = {0}, test = {0}, tr = {0}, va = {0};
    so.n_pos = 600;
    so.seed = 7;
    cr_assert_eq(dm_simulate(&all, &so), DM_STATUS_OK);
    so.n_pos = 100;
    so.seed = 8;
    cr_assert_eq(dm_simulate(&test, &so), DM_STATUS_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/train.seq.gz", fx->dir);
    cr_assert_eq(dm_dataset_write_deepbind(&all, path), DM_STATUS_OK);
    snprintf(fx->data, sizeof fx->data, "%s/SIM_test_B.seq.gz", fx->dir);
    cr_assert_eq(dm_dataset_write_deepbind(&test, fx->data), DM_STATUS_OK);
    snprintf(fx->db, sizeof fx->db, "%s/db.meme", fx->dir);
    write_builtin_db(fx->db);
    cr_assert_eq(dm_dataset_split(&all, 0.1, 7, &tr, &va), DM_STATUS_OK);
    const dm_arch arch[3] = {DM_ARCH_CNN, DM_ARCH_RNN, DM_ARCH_CNNRNN};
    for (int i = 0; i < 3; i++) {
        snprintf(fx->model[i], sizeof fx->model[i], "%s/%s.dm", fx->dir, dm_arch_name(arch[i]));
        train_small(fx, arch[i], &tr, &va, fx->model[i]);
    }
    dm_dataset_free(&all);
    dm_dataset_free(&test);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);
}

/* The report of the three fixture models in FX/out with `top` sequences (2 restarts of 20 steps). */
static void make_report(const fixture *fx, int top, bool figures, dm_dashboard_result *res, char *out,
                        size_t n) {
    snprintf(out, n, "%s/out", fx->dir);
    dm_dashboard_options o;
    dm_dashboard_options_default(&o);
    o.top = top;
    o.restarts = 2;
    o.steps = 20;
    o.figures = figures;
    o.db = fx->db;
    o.cmdline = "deepmotif dashboard (test)";
    const char *models[3] = {fx->model[0], fx->model[1], fx->model[2]};
    dm_backend *be = dm_backend_cpu_create(2);
    cr_assert_eq(dm_dashboard_write(models, 3, fx->data, out, be, &o, res), DM_STATUS_OK, "%s",
                 dm_last_error());
    dm_backend_free(be);
}

/* Float32 payload of a .npy written by deepmotif (v1.0 header), and its header text. */
static float *npy_data(const char *path, char *header, size_t hn) {
    size_t n;
    char *raw = slurp_path(path, &n);
    cr_assert(raw && n > 10 && !memcmp(raw, "\x93NUMPY", 6), "%s", path);
    size_t hl = (unsigned char)raw[8] | (size_t)(unsigned char)raw[9] << 8;
    snprintf(header, hn, "%.*s", (int)hl, raw + 10);
    float *v = malloc(n - 10 - hl);
    memcpy(v, raw + 10 + hl, n - 10 - hl);
    free(raw);
    return v;
}

/* ---- the report --------------------------------------------------------------------------------- */

Test(dashboard, report_sections_outputs_and_counts, .timeout = 300) {
    fixture fx;
    make_fixture(&fx);
    dm_dashboard_result res;
    char out[512];
    make_report(&fx, 5, true, &res, out, sizeof out);
    cr_assert_eq(res.n_models, 3);
    cr_expect(!strcmp(res.tag[0], "cnn") && !strcmp(res.tag[1], "rnn") && !strcmp(res.tag[2], "cnnrnn"));
    char *html = slurp(out, "index.html");
    cr_assert(html);

    /* every section, a card per model, the figure counts (5 sequences × 3 models, 2 recurrent) */
    const char *sections[] = {"id=\"summary\"",   "id=\"models\"",  "id=\"performance\"", "id=\"sequences\"",
                              "id=\"optimized\"", "id=\"filters\"", "id=\"files\""};
    for (int i = 0; i < 7; i++) cr_expect(strstr(html, sections[i]) != NULL, "section %s", sections[i]);
    cr_expect_eq(count(html, "class=\"dm-card\""), 3);
    cr_expect_eq(count(html, "<svg class=\"dm-logo dm-saliency\""), 15);
    cr_expect_eq(count(html, "<svg class=\"dm-heatmap\""), 15);
    cr_expect_eq(count(html, "<svg class=\"dm-temporal\""), 10);
    cr_expect_eq(count(html, "<svg class=\"dm-curve\""), 4);
    cr_expect_eq(count(html, "class=\"dm-motif dm-opt\""), 6);
    int n_filters = count(html, "class=\"dm-motif dm-filter\"");
    cr_expect(n_filters > 0 && n_filters <= 48, "filter logos of the cnn and the cnnrnn: %d", n_filters);
    cr_expect_eq(count(html, "<svg class=\"dm-logo dm-ppm\""), 6 + n_filters);
    /* model cards carry the provenance: seed, protocol, data checksum, training time, engine */
    char sha[65];
    uint64_t bytes;
    char train_path[512];
    snprintf(train_path, sizeof train_path, "%s/train.seq.gz", fx.dir);
    cr_assert_eq(dm_file_sha256(train_path, &bytes, sha), DM_STATUS_OK);
    cr_expect_eq(count(html, sha), 3, "the training file's SHA-256 on every card");
    cr_expect(strstr(html, "<dt>seed</dt><dd>1</dd>") && strstr(html, "<dt>protocol</dt><dd>default"));
    cr_expect(strstr(html, "<dt>training time</dt>") && strstr(html, "<dt>device</dt><dd>cpu: test"));
    cr_expect(strstr(html, "<dt>engine</dt><dd>deepmotif ") != NULL);
    cr_expect(strstr(html, "<title>SIM_test &middot;") != NULL, "the name drops _B and the extensions");

    /* self-contained: no external reference of any kind */
    const char *bad[] = {"http:", "https:",  "src=",   "url(",          "@import",
                         "<link", "<iframe", "fetch(", "XMLHttpRequest"};
    for (int i = 0; i < 9; i++)
        cr_expect(strstr(html, bad[i]) == NULL, "the page must not contain '%s'", bad[i]);
    /* every link is an anchor on the page or a file written beside it */
    int links = 0;
    for (const char *p = strstr(html, "href=\""); p; p = strstr(p + 1, "href=\"")) {
        char target[512];
        cr_assert_eq(sscanf(p, "href=\"%511[^\"]\"", target), 1);
        if (target[0] == '#') {
            char id[520];
            snprintf(id, sizeof id, "id=\"%s\"", target + 1);
            if (strncmp(target, "#dm-", 4)) cr_expect(strstr(html, id) != NULL, "anchor %s", target);
            continue;
        }
        cr_expect(exists(out, target), "link to a missing file: %s", target);
        links++;
    }
    const char *raw[] = {"summary.tsv",
                         "top.tsv",
                         "top.onehot.npy",
                         "cnn.predictions.tsv",
                         "cnn.saliency.npy",
                         "rnn.temporal.npy",
                         "cnnrnn.temporal.npy",
                         "cnn.optimized.meme",
                         "rnn.optimized.hits.tsv",
                         "cnn.filters.meme",
                         "cnnrnn.filters.hits.tsv"};
    for (int i = 0; i < 11; i++) {
        char a[128];
        snprintf(a, sizeof a, "href=\"%s\"", raw[i]);
        cr_expect(exists(out, raw[i]) && strstr(html, a), "raw output %s written and linked", raw[i]);
    }
    cr_expect(!exists(out, "cnn.temporal.npy") && !exists(out, "rnn.filters.meme"),
              "no temporal cnn, no rnn filters");

    /* standalone figures: one per figure on the page, each a complete SVG file */
    char figdir[600];
    snprintf(figdir, sizeof figdir, "%s/figures", out);
    cr_expect_eq(n_files(figdir), 15 + 15 + 10 + 4 + 6 + n_filters);
    char *svg = slurp(figdir, "cnnrnn.seq1.temporal.svg");
    cr_assert(svg);
    cr_expect(!strncmp(svg, "<?xml", 5) && strstr(svg, "xmlns=\"http://www.w3.org/2000/svg\"") &&
              strstr(svg, "</svg>"));
    free(svg);
    svg = slurp(figdir, "cnn.seq1.logo.svg");
    cr_assert(svg);
    cr_expect(strstr(svg, "<symbol id=\"dm-A\"") != NULL, "a standalone logo carries its glyphs");
    free(svg);

    /* summary.tsv: one row per model, with the AUROC printed */
    char *sum = slurp(out, "summary.tsv");
    cr_assert(sum);
    cr_expect_eq(count(sum, "\n"), 4);
    cr_expect(strstr(sum, "\tnamed\tnamed_name\tnamed_by_optimized\tnamed_by_filters\t") != NULL,
              "the motif each model names, by a vote of its PPMs' top matches");
    for (int i = 0; i < 3; i++) {
        char row[128];
        snprintf(row, sizeof row, "SIM_test\tSIM\t%s\t%s\t%.6f", res.tag[i], res.tag[i], res.auroc[i]);
        cr_expect(strstr(sum, row) != NULL, "summary row %s", row);
    }
    free(sum);

    /* top.tsv: ranks by descending mean score; the first is the best mean over all sequences */
    char *top = slurp(out, "top.tsv");
    cr_assert(top);
    double prev = 2, mean;
    int rank, row, label1 = -1;
    const char *p = strchr(top, '\n') + 1;
    for (int k = 0; k < 5; k++) {
        char id[128], label[8];
        cr_assert_eq(sscanf(p, "%d\t%d\t%127s\t%7s\t%lf", &rank, &row, id, label, &mean), 5);
        /* sorted doubles printed with rounding, which is monotone: non-increasing as parsed (1e-12: strtod) */
        cr_expect(rank == k + 1 && mean <= prev + 1e-12, "rank %d mean %g after %g", rank, mean, prev);
        if (k == 0) label1 = atoi(label);
        prev = mean;
        p = strchr(p, '\n') + 1;
    }
    free(top);

    /* the saliency array is (K, 4, L) and at the present base equals DeMo's map, computed here */
    char header[256], sal_path[600], ohe_path[600];
    snprintf(sal_path, sizeof sal_path, "%s/cnn.saliency.npy", out);
    snprintf(ohe_path, sizeof ohe_path, "%s/top.onehot.npy", out);
    float *sal = npy_data(sal_path, header, sizeof header);
    cr_expect(strstr(header, "'shape': (5, 4, 101") != NULL, "%s", header);
    float *ohe = npy_data(ohe_path, header, sizeof header);
    dm_backend *be = dm_backend_cpu_create(2);
    dm_hparams hp;
    float *params;
    int64_t np;
    static dm_provenance prov;
    cr_assert_eq(dm_checkpoint_load(fx.model[0], dm_net_table, &hp, &params, &np, &prov, NULL),
                 DM_STATUS_OK);
    dm_net *m;
    cr_assert_eq(dm_net_create(&m, &hp, be, 1), DM_STATUS_OK);
    dm_net_set_params(m, params);
    float x[101 * 4], attr[101 * 4], pp;
    for (int l = 0; l < 101; l++)
        for (int c = 0; c < 4; c++) x[4 * l + c] = ohe[c * 101 + l]; /* sequence 1, (4, L) → (L, 4) */
    int8_t label = (int8_t)label1;
    dm_saliency_options so = {.method = DM_SAL_ORIGINAL};
    cr_assert_eq(dm_saliency_batch(m, x, &label, 1, 0, &so, attr, &pp), DM_STATUS_OK, "%s", dm_last_error());
    double worst = 0, scale = 0;
    for (int l = 0; l < 101; l++)
        for (int c = 0; c < 4; c++) {
            double mine = sal[c * 101 + l] * x[4 * l + c];
            worst = fmax(worst, fabs(mine - attr[4 * l + c]));
            scale = fmax(scale, fabs(attr[4 * l + c]));
        }
    /* the same weights and input through the same float32 code, at batch 1 here and the dashboard's
     * batch there: only the GEMM blocking of another batch size rounds differently (≲ 10² ulps of
     * the largest value, 2⁻²⁴·10² ≈ 6e-6), on any OpenBLAS kernel */
    cr_expect(scale > 0 && worst <= 1e-5 * scale + 1e-12, "saliency differs from DeMo's map by %g (max %g)",
              worst, scale);
    free(params);
    dm_net_free(m);
    dm_backend_free(be);
    free(sal);
    free(ohe);
    free(html);
    dm_test_rmdir(fx.dir);
}

Test(dashboard, unlabelled_data_and_one_model, .timeout = 120) {
    fixture fx;
    make_fixture(&fx);
    /* plain FASTA: no labels, so no ROC/PR and the saliency of the bound class */
    char fa[600], out[600];
    snprintf(fa, sizeof fa, "%s/peaks.fa", fx.dir);
    write_file(fa, ">p1 first\nACGTACGTTGCCGCGAGGGCAGTACGATCGATCGA\n>p2\nTTGCCGCGCGGGCAGGGACGTACGATTTAC\n");
    snprintf(out, sizeof out, "%s/unl", fx.dir);
    dm_dashboard_options o;
    dm_dashboard_options_default(&o);
    o.restarts = 1;
    o.steps = 5;
    dm_backend *be = dm_backend_cpu_create(2);
    dm_dashboard_result res;
    const char *models[1] = {fx.model[2]};
    cr_assert_eq(dm_dashboard_write(models, 1, fa, out, be, &o, &res), DM_STATUS_OK, "%s", dm_last_error());
    dm_backend_free(be);
    cr_expect(isnan(res.auroc[0]));
    char *html = slurp(out, "index.html");
    cr_assert(html);
    cr_expect_eq(count(html, "<svg class=\"dm-curve\""), 2, "training curves only");
    cr_expect_eq(count(html, "<svg class=\"dm-logo dm-saliency\""), 2, "both sequences (fewer than --top)");
    cr_expect_eq(count(html, "<svg class=\"dm-temporal\""), 2);
    cr_expect(strstr(html, "(unlabelled)") && strstr(html, "no motif database"));
    cr_expect(strstr(html, "data-seq=\"ACGTACGTTGCCGCGAGGGCAGTACGATCGATCGA------") != NULL,
              "padding shown as '-'");
    char *pred = slurp(out, "cnnrnn.predictions.tsv");
    cr_expect(pred && !strncmp(pred, "id\tscore\np1\t", 12), "%s", pred);
    free(pred);
    free(html);
    dm_test_rmdir(fx.dir);
}

/* ---- the CLI ------------------------------------------------------------------------------------ */

/* Runs the CLI; stdout to DIR/stdout, stderr to DIR/stderr; the exit status. */
static int cli(const char *dir, const char *args) {
    return dm_test_system(
        "OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1 %s dashboard %s > '%s/stdout' 2> '%s/stderr'",
        DM_TEST_CLI, args, dir, dir);
}

/* An untrained small CNN checkpoint (enough for the error paths). */
static void save_untrained(const char *path) {
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    hp.conv_channels = 4;
    dm_backend *be = dm_backend_cpu_create(1);
    dm_net *m;
    cr_assert_eq(dm_net_create(&m, &hp, be, 8), DM_STATUS_OK);
    dm_net_init_params(m, 3);
    int32_t nt;
    const dm_tensor_info *t = dm_net_tensors(m, &nt);
    float *params = malloc(sizeof(float) * (size_t)dm_net_n_params(m));
    dm_net_get_params(m, params);
    static dm_provenance prov;
    cr_assert_eq(dm_checkpoint_save(path, &hp, t, nt, params, dm_net_n_params(m), &prov, NULL),
                 DM_STATUS_OK);
    free(params);
    dm_net_free(m);
    dm_backend_free(be);
}

Test(dashboard, cli_errors_name_the_file_and_leave_nothing, .timeout = 120) {
    char *d = dm_test_tmpdir();
    cr_assert(d);
    char model[600], data[600], bad[600], db[600], args[4096];
    snprintf(model, sizeof model, "%s/m.dm", d);
    save_untrained(model);
    snprintf(data, sizeof data, "%s/ok.fa", d);
    write_file(data, ">1\nACGTTGCAACGTTGCAACGTTGCAACGTTGCAACGT\n>0\nTTTTGGGGCCCCAAAATTTTGGGGCCCCAAAA\n");

    /* usage errors exit 2 */
    cr_expect_eq(cli(d, "--data x --out y"), 2);
    cr_expect(strstr(text(d, "stderr"), "missing --model") != NULL);
    cr_expect_eq(cli(d, "--index --out y"), 2);
    cr_expect_eq(cli(d, "--model m --data d --out o --top 0"), 2);
    cr_expect_eq(cli(d, "--help"), 0);
    cr_expect(strstr(text(d, "stdout"), "usage: deepmotif dashboard") != NULL);

    /* a corrupt checkpoint: one line naming it, exit 1, no output directory */
    snprintf(bad, sizeof bad, "%s/bad.dm", d);
    write_file(bad, "not a model at all, just text\n");
    snprintf(args, sizeof args, "--model '%s' --model '%s' --data '%s' --out '%s/o1'", model, bad, data, d);
    cr_expect_eq(cli(d, args), 1);
    const char *err = text(d, "stderr");
    cr_expect(strstr(err, bad) != NULL && count(err, "\n") == 1, "one line naming the checkpoint: %s", err);
    cr_expect(!exists(d, "o1"));

    /* bad data: the file and line */
    snprintf(bad, sizeof bad, "%s/bad.fa", d);
    write_file(bad, ">1\nACGT\n>0\nACGJT\n");
    snprintf(args, sizeof args, "--model '%s' --data '%s' --out '%s/o2'", model, bad, d);
    cr_expect_eq(cli(d, args), 1);
    err = text(d, "stderr");
    char where[700];
    snprintf(where, sizeof where, "%s:4", bad);
    cr_expect(strstr(err, where) != NULL && count(err, "\n") == 1, "one line naming file:line: %s", err);
    cr_expect(!exists(d, "o2"));

    /* a malformed database */
    snprintf(db, sizeof db, "%s/bad.meme", d);
    write_file(db, "MEME version 4\n\nMOTIF X\nletter-probability matrix: alength= 4 w= 2\n0.5 0.5 0 0\n");
    snprintf(args, sizeof args, "--model '%s' --data '%s' --db '%s' --out '%s/o3'", model, data, db, d);
    cr_expect_eq(cli(d, args), 1);
    err = text(d, "stderr");
    cr_expect(strstr(err, db) != NULL && count(err, "\n") == 1, "%s", err);
    cr_expect(!exists(d, "o3"));

    /* a failure while writing (index.html is a directory): everything written is removed again */
    char o4[700];
    snprintf(o4, sizeof o4, "%s/o4/index.html", d);
    cr_assert_eq(dm_test_system("mkdir -p '%s'", o4), 0);
    snprintf(args, sizeof args, "--model '%s' --data '%s' --out '%s/o4' --restarts 1 --steps 2 --figures",
             model, data, d);
    cr_expect_eq(cli(d, args), 1);
    err = text(d, "stderr");
    cr_expect(strstr(err, "index.html") != NULL, "%s", err);
    snprintf(o4, sizeof o4, "%s/o4", d);
    cr_expect_eq(n_files(o4), 1, "only the blocking directory is left");

    /* and a good run prints the AUROC and the path */
    snprintf(args, sizeof args, "--model '%s' --data '%s' --out '%s/o5' --restarts 1 --steps 2", model, data,
             d);
    cr_expect_eq(cli(d, args), 0, "%s", text(d, "stderr"));
    const char *so = text(d, "stdout");
    cr_expect(strstr(so, "cnn        AUROC ") && strstr(so, "o5/index.html"), "%s", so);
    dm_test_rmdir(d);
    free(d);
}

/* ---- the index ---------------------------------------------------------------------------------- */

/* A report directory holding only a summary.tsv with the given AUROCs (NAN: no such model). */
static void fake_report(const char *dir, const char *name, double cnn, double rnn, double cnnrnn) {
    cr_assert_eq(dm_test_system("mkdir -p '%s'", dir), 0);
    char path[1024], text[2048];
    snprintf(path, sizeof path, "%s/summary.tsv", dir);
    int n = snprintf(text, sizeof text, "dataset\ttf\ttag\tarch\tauroc\tauprc\n");
    const char *tags[3] = {"cnn", "rnn", "cnnrnn"};
    double v[3] = {cnn, rnn, cnnrnn};
    for (int i = 0; i < 3; i++)
        if (!isnan(v[i]))
            n += snprintf(text + n, sizeof text - (size_t)n, "%s\t%.*s\t%s\t%s\t%.6f\t0.5\n", name,
                          (int)strcspn(name, "_"), name, tags[i], tags[i], v[i]);
    write_file(path, text);
}

/* Three fake reports in dirs[i] = d/r/<sub[i]> (data-set names tf[i], AUROCs auc[i] of cnn, rnn,
 * cnnrnn) and their index in out = d/idx; returns the index page's text (the caller frees it). */
static char *index_of_three(const char *d, const char *const sub[3], const char *const tf[3],
                            const double auc[3][3], char report[3][600], char *out, size_t n_out) {
    char path[4200];
    const char *dirs[3];
    for (int i = 0; i < 3; i++) {
        snprintf(report[i], 600, "%s/r/%s", d, sub[i]);
        fake_report(report[i], tf[i], auc[i][0], auc[i][1], auc[i][2]);
        dirs[i] = report[i];
    }
    snprintf(out, n_out, "%s/idx", d);
    cr_assert_eq(dm_dashboard_index(dirs, 3, out, NULL, path), DM_STATUS_OK, "%s", dm_last_error());
    char *html = slurp(out, "index.html");
    cr_assert(html);
    return html;
}

Test(dashboard, index_table_statistics_and_links) {
    char *d = dm_test_tmpdir();
    cr_assert(d);
    char out[600], report[3][600], path[4200];
    const char *const sub[3] = {"REST_GM12878", "FOXA1 (x)", "USF1_HepG2"};
    const char *const tf[3] = {"REST_GM12878", "FOXA1_HepG2", "USF1_HepG2"};
    const double auc[3][3] = {{0.9, 0.8, 0.95}, {0.7, NAN, 0.85}, {0.8, 0.6, 0.9}};
    char *html = index_of_three(d, sub, tf, auc, report, out, sizeof out);
    const char *a = report[0], *b = report[1], *c = report[2], *dirs[3] = {a, b, c};
    /* relative, percent-encoded links to each report */
    cr_expect(strstr(html, "href=\"../r/REST_GM12878/index.html\"") != NULL);
    cr_expect(strstr(html, "href=\"../r/FOXA1%20(x)/index.html\"") != NULL, "%s", html);
    cr_expect(strstr(html, "<th>TF</th><th>data set</th><th>cnn</th><th>rnn</th><th>cnnrnn</th>") != NULL);
    cr_expect(strstr(html, "class=\"dm-sortable") != NULL && strstr(html, "http") == NULL);
    /* mean, median, population std, n per model: cnn {.9 .7 .8}, rnn {.8 .6}, cnnrnn {.95 .85 .9} */
    const char *want[] = {
        "data-stat=\"mean\">0.8000</td><td class=\"num dm-stat\" data-stat=\"mean\">0.7000</td>"
        "<td class=\"num dm-stat\" data-stat=\"mean\">0.9000</td>",
        "data-stat=\"median\">0.8000</td><td class=\"num dm-stat\" data-stat=\"median\">0.7000</td>"
        "<td class=\"num dm-stat\" data-stat=\"median\">0.9000</td>",
        "data-stat=\"std\">0.0816</td><td class=\"num dm-stat\" data-stat=\"std\">0.1000</td>"
        "<td class=\"num dm-stat\" data-stat=\"std\">0.0408</td>",
        "data-stat=\"n\">3</td><td class=\"num dm-stat\" data-stat=\"n\">2</td><td class=\"num dm-stat\" "
        "data-stat=\"n\">3</td>",
    };
    for (int i = 0; i < 4; i++) cr_expect(strstr(html, want[i]) != NULL, "stats row %d", i);
    cr_expect(strstr(html, "<td class=\"num\" data-sort=\"\">&ndash;</td>") != NULL, "FOXA1 has no rnn");
    char *tsv = slurp(out, "index.tsv");
    cr_expect(tsv && strstr(tsv, "tf\tdataset\treport\tcnn\trnn\tcnnrnn\n") &&
                  strstr(tsv, "FOXA1\tFOXA1_HepG2\t../r/FOXA1%20(x)/index.html\t0.700000\tNA\t0.850000\n"),
              "%s", tsv);
    free(tsv);
    free(html);

    /* errors: a directory without a summary (named), --out one of the reports */
    char e[600];
    snprintf(e, sizeof e, "%s/empty", d);
    cr_assert_eq(dm_test_system("mkdir -p '%s'", e), 0);
    const char *dirs2[2] = {a, e};
    char out2[600];
    snprintf(out2, sizeof out2, "%s/idx2", d);
    cr_expect_eq(dm_dashboard_index(dirs2, 2, out2, NULL, path), DM_STATUS_IO);
    cr_expect(strstr(dm_last_error(), "empty/summary.tsv") != NULL, "%s", dm_last_error());
    cr_expect(!exists(d, "idx2"), "nothing left behind");
    cr_expect_eq(dm_dashboard_index(dirs, 3, a, NULL, path), DM_STATUS_ARG);
    /* and through the CLI */
    char args[4096];
    snprintf(args, sizeof args, "--index '%s' '%s' '%s' --out '%s/idx3'", a, b, c, d);
    cr_expect_eq(cli(d, args), 0, "%s", text(d, "stderr"));
    cr_expect(strstr(text(d, "stdout"), "idx3/index.html (3 data sets)") != NULL);
    dm_test_rmdir(d);
    free(d);
}

/* ---- the embedded style sheet and script; an unlabelled report in the index --------------------- */

/* The style sheet and script of both pages are host/dashboard/dashboard.css and dashboard.js,
 * embedded at build time: each page holds each file whole, once, between its tags, so an edit to a
 * file that the build did not pick up (or a page that stopped using it) fails here. The report is of
 * unlabelled data, whose undefined metrics summary.tsv writes as NA in their own columns, so the
 * index reads it and shows a dash. */
Test(dashboard, embedded_style_and_script_are_the_files_and_unlabelled_reports_index, .timeout = 120) {
    char *d = dm_test_tmpdir();
    cr_assert(d);
    char model[600], fa[600], out[600], idx[600], path[4200];
    snprintf(model, sizeof model, "%s/cnn.dm", d);
    save_untrained(model);
    snprintf(fa, sizeof fa, "%s/peaks.fa", d);
    write_file(fa, ">p1\nACGTACGTTGCCGCGAGGGCAGTACGATCGATCGA\n>p2\nTTGCCGCGCGGGCAGGGACGTACGATTTAC\n");
    snprintf(out, sizeof out, "%s/rep", d);
    dm_dashboard_options o;
    dm_dashboard_options_default(&o);
    o.restarts = 1;
    o.steps = 2;
    dm_backend *be = dm_backend_cpu_create(1);
    dm_dashboard_result res;
    const char *models[1] = {model};
    cr_assert_eq(dm_dashboard_write(models, 1, fa, out, be, &o, &res), DM_STATUS_OK, "%s", dm_last_error());
    dm_backend_free(be);
    snprintf(idx, sizeof idx, "%s/idx", d);
    const char *dirs[1] = {out};
    cr_assert_eq(dm_dashboard_index(dirs, 1, idx, NULL, path), DM_STATUS_OK, "%s", dm_last_error());

    char *css = slurp_path(DM_TEST_SOURCE_DIR "/host/dashboard/dashboard.css", NULL);
    char *js = slurp_path(DM_TEST_SOURCE_DIR "/host/dashboard/dashboard.js", NULL);
    cr_assert(css && js && strlen(css) > 100 && strlen(js) > 100, "host/dashboard/dashboard.{css,js}");
    size_t ns = strlen(css) + 32, nj = strlen(js) + 32;
    char *style = malloc(ns), *script = malloc(nj);
    cr_assert(style && script);
    snprintf(style, ns, "<style>\n%s</style>\n", css);
    snprintf(script, nj, "<script>\n%s</script>\n", js);
    const char *page_dir[2] = {out, idx};
    for (int i = 0; i < 2; i++) {
        char *html = slurp(page_dir[i], "index.html");
        cr_assert(html);
        cr_expect_eq(count(html, style), 1, "%s/index.html: dashboard.css whole, once", page_dir[i]);
        cr_expect_eq(count(html, script), 1, "%s/index.html: dashboard.js whole, once", page_dir[i]);
        cr_expect_eq(count(html, "<style>"), 1);
        cr_expect_eq(count(html, "<script>"), 1);
        free(html);
    }

    /* summary.tsv: as many fields in the row as in the header, the metrics NA */
    char *sum = slurp(out, "summary.tsv");
    cr_assert(sum);
    char *row = strchr(sum, '\n');
    cr_assert(row);
    *row++ = 0;
    cr_expect_eq(count(sum, "\t"), count(row, "\t"), "header %s\nrow %s", sum, row);
    cr_expect(strstr(row, "\tcnn\tcnn\tNA\tNA\tNA\t2\t") != NULL, "%s", row);
    free(sum);
    char *tsv = slurp(idx, "index.tsv"), *html = slurp(idx, "index.html");
    cr_assert(tsv && html);
    cr_expect(strstr(tsv, "\tcnn\n") && strstr(tsv, "peaks\tpeaks\t../rep/index.html\tNA\n"), "%s", tsv);
    cr_expect(strstr(html, "<td class=\"num\" data-sort=\"\">&ndash;</td>") != NULL);
    free(tsv);
    free(html);
    free(style);
    free(script);
    free(css);
    free(js);
    dm_test_rmdir(d);
    free(d);
}

/* Lint of the files themselves: the script parses (`node --check`, Debian's nodejs; skipped without
 * it), and a deliberately broken copy does not, so the check can fail; the style sheet's braces
 * balance and it has no unterminated comment. */
Test(dashboard, style_and_script_files_parse, .timeout = 60) {
    char *css = slurp_path(DM_TEST_SOURCE_DIR "/host/dashboard/dashboard.css", NULL);
    cr_assert(css);
    int depth = 0, rules = 0;
    for (const char *p = css; *p; p++) {
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            cr_assert(e, "dashboard.css: unterminated comment");
            p = e + 1;
        } else if (*p == '{') {
            depth++;
            rules++;
        } else if (*p == '}') {
            cr_assert(--depth >= 0, "dashboard.css: '}' without '{' at byte %td", p - css);
        }
    }
    cr_expect_eq(depth, 0, "dashboard.css: %d unclosed '{'", depth);
    cr_expect_gt(rules, 10);
    free(css);
    if (dm_test_system("node --version > /dev/null 2>&1") != 0)
        cr_skip_test("no node (Debian's nodejs) to check dashboard.js");
    cr_expect_eq(dm_test_system("node --check '%s/host/dashboard/dashboard.js'", DM_TEST_SOURCE_DIR), 0,
                 "dashboard.js does not parse");
    char *d = dm_test_tmpdir();
    cr_assert(d);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.js", d);
    write_file(bad, "(function () {\n  var x = ;\n})();\n");
    cr_expect_neq(dm_test_system("node --check '%s' 2> /dev/null", bad), 0, "node --check let a syntax error pass");
    dm_test_rmdir(d);
    free(d);
}

/* ---- in a real browser -------------------------------------------------------------------------- */

/* The Chromium binary, or NULL when it is not installed or cannot start headless here (the browser
 * tests then skip): a probe dumps about:blank once per test process. */
static const char *chromium(void) {
    static const char *const names[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser",
                                        "/snap/bin/chromium"};
    static const char *found;
    static bool probed;
    if (probed) return found;
    probed = true;
    for (int i = 0; i < 3 && !found; i++) {
        if (access(names[i], X_OK) != 0) continue;
        char *d = dm_test_tmpdir();
        cr_assert(d);
        int st = dm_test_system("timeout 60 %s --headless --no-sandbox --disable-gpu --no-first-run "
                                "--user-data-dir='%s/probe' --dump-dom about:blank > /dev/null 2>&1",
                                names[i], d);
        if (st == 0)
            found = names[i];
        else
            cr_log_warn("%s is installed but does not start headless (exit %d)", names[i], st);
        dm_test_rmdir(d);
        free(d);
    }
    return found;
}

/* What one headless load of a page gives. */
typedef struct browsed {
    int status;      /* exit status of the browser */
    int console;     /* console messages of the page (errors, exceptions, failed loads) */
    char first[512]; /* the first of them */
    int requests;    /* network requests made by the page */
    char *dom;       /* the document after load (malloc'd) */
} browsed;

/* Loads file `page` headless: the DOM (--dump-dom), console messages and the page's requests. */
static browsed browse(const char *dir, const char *page) {
    browsed r = {0};
    char ud[700];
    snprintf(ud, sizeof ud, "%s/chromium-profile", dir);
    r.status = dm_test_system(
        "cd '%s' && timeout 120 %s --headless --no-sandbox --disable-gpu --disable-background-networking "
        "--no-first-run --user-data-dir='%s' --enable-logging=stderr --v=0 --log-net-log='%s/net.json' "
        "--host-resolver-rules='MAP * ~NOTFOUND' --dump-dom 'file://%s' > '%s/dom.html' 2> '%s/chromium.log'",
        dir, chromium(), ud, dir, page, dir, dir);
    char *log = slurp(dir, "chromium.log"), *net = slurp(dir, "net.json");
    r.console = log ? count(log, ":CONSOLE") : -1;
    r.requests = net ? count(net, "\"network_isolation_key\":\"file://") : -1;
    if (r.console > 0)
        snprintf(r.first, sizeof r.first, "%.*s", (int)strcspn(strstr(log, ":CONSOLE"), "\n"),
                 strstr(log, ":CONSOLE"));
    r.dom = slurp(dir, "dom.html");
    free(log);
    free(net);
    return r;
}

/* Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) into RGB (w × h × 3). */
static unsigned char *png_rgb(const char *path, int *w, int *h) {
    size_t n;
    unsigned char *f = (unsigned char *)slurp_path(path, &n);
    cr_assert(f && n > 33 && !memcmp(f, "\x89PNG\r\n\x1a\n", 8), "%s is not a PNG", path);
    /* chunks: IHDR for the shape, IDAT concatenated */
    unsigned char *z = malloc(n);
    size_t zn = 0;
    int depth = 0, type = 0, interlace = 0;
    for (size_t p = 8; p + 12 <= n;) {
        size_t len = (size_t)f[p] << 24 | (size_t)f[p + 1] << 16 | (size_t)f[p + 2] << 8 | f[p + 3];
        const unsigned char *t = f + p + 4, *d = f + p + 8;
        if (!memcmp(t, "IHDR", 4)) {
            *w = d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3];
            *h = d[4] << 24 | d[5] << 16 | d[6] << 8 | d[7];
            depth = d[8], type = d[9], interlace = d[12];
        } else if (!memcmp(t, "IDAT", 4)) {
            memcpy(z + zn, d, len);
            zn += len;
        }
        p += 12 + len;
    }
    cr_assert(depth == 8 && (type == 2 || type == 6) && !interlace, "PNG depth %d type %d", depth, type);
    int bpp = type == 6 ? 4 : 3;
    size_t stride = (size_t)*w * bpp;
    uLongf rawn = (uLongf)((stride + 1) * (size_t)*h);
    unsigned char *raw = malloc(rawn), *rgb = malloc((size_t)*w * *h * 3);
    cr_assert_eq(uncompress(raw, &rawn, z, (uLong)zn), Z_OK);
    /* undo the per-row filters (none, sub, up, average, Paeth) in place */
    for (int y = 0; y < *h; y++) {
        unsigned char *row = raw + y * (stride + 1) + 1, *up = y ? row - (stride + 1) : NULL;
        int ft = row[-1];
        for (size_t i = 0; i < stride; i++) {
            int a = i >= (size_t)bpp ? row[i - bpp] : 0, b = up ? up[i] : 0,
                c = up && i >= (size_t)bpp ? up[i - bpp] : 0;
            int pred = 0;
            if (ft == 1)
                pred = a;
            else if (ft == 2)
                pred = b;
            else if (ft == 3)
                pred = (a + b) / 2;
            else if (ft == 4) {
                int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
                pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            }
            row[i] = (unsigned char)(row[i] + pred);
        }
        for (int x = 0; x < *w; x++) memcpy(rgb + ((size_t)y * *w + x) * 3, row + (size_t)x * bpp, 3);
    }
    free(f);
    free(z);
    free(raw);
    return rgb;
}

/* Pixels within `tol` of colour (r, g, b) per channel. */
static long near_colour(const unsigned char *rgb, int w, int h, int r, int g, int b, int tol) {
    long n = 0;
    for (long i = 0; i < (long)w * h; i++)
        n += abs(rgb[3 * i] - r) <= tol && abs(rgb[3 * i + 1] - g) <= tol && abs(rgb[3 * i + 2] - b) <= tol;
    return n;
}

Test(dashboard, chromium_loads_the_page_cleanly, .timeout = 600) {
    if (!chromium()) cr_skip_test("no usable chromium (scripts/setup.sh installs it when it can)");
    fixture fx;
    make_fixture(&fx);
    dm_dashboard_result res;
    char out[512], page[700];
    make_report(&fx, 100, false, &res, out, sizeof out);
    snprintf(page, sizeof page, "%s/index.html", out);

    /* loads with no console message and no network request */
    browsed r = browse(fx.dir, page);
    cr_assert_eq(r.status, 0, "chromium failed (exit %d)", r.status);
    cr_assert(r.dom && strstr(r.dom, "</html>"), "no DOM dumped");
    cr_expect_eq(r.console, 0, "console messages of the page, the first: %s", r.first);
    cr_expect_eq(r.requests, 0, "network requests of the page");
    /* the figures are in the DOM: 100 sequences × 3 models, 2 of them recurrent */
    cr_expect_eq(count(r.dom, "class=\"dm-card\""), 3);
    cr_expect_eq(count(r.dom, "<svg class=\"dm-logo dm-saliency\""), 300);
    cr_expect_eq(count(r.dom, "<svg class=\"dm-heatmap\""), 300);
    cr_expect_eq(count(r.dom, "<svg class=\"dm-temporal\""), 200);
    cr_expect_eq(count(r.dom, "<svg class=\"dm-curve\""), 4);
    cr_expect_eq(count(r.dom, "class=\"dm-motif dm-opt\""), 6);
    cr_expect(count(r.dom, "class=\"dm-motif dm-filter\"") > 0);
    /* the script ran and measured its own load (data-ms). Its speed is not asserted here: a wall-clock
     * limit in a test fails on a loaded machine (it did: 2763 ms against 2000 with five test streams
     * running); the time is logged, and page speed belongs to the benchmarks. */
    const char *ms = strstr(r.dom, "data-ms=\"");
    cr_assert(ms, "the page's load handler did not run");
    int t = atoi(ms + 9);
    free(r.dom);
    cr_log_info("100 sequences x 3 models: loaded and laid out in %d ms", t);
    cr_expect(t > 0, "the load handler recorded no time (%d ms)", t);

    /* hovering: a copy of the page moves the pointer over position 6 of the first saliency logo and
     * channel rows of the first heatmap, and records the read-outs in the DOM */
    char *html = slurp(out, "index.html");
    cr_assert(html);
    char *end = strstr(html, "</body>");
    cr_assert(end);
    *end = 0;
    char hover[700];
    snprintf(hover, sizeof hover, "%s/hover.html", out);
    FILE *f = fopen(hover, "w");
    cr_assert(f);
    fputs(html, f);
    fputs("<script>window.addEventListener('load', function () {\n"
          "  function at(s, pos, row) {\n"
          "    var b = s.getBoundingClientRect(), k = b.width / s.viewBox.baseVal.width;\n"
          "    var x = b.left + (parseFloat(s.getAttribute('data-x0')) + (pos + 0.5) * "
          "parseFloat(s.getAttribute('data-cw'))) * k;\n"
          "    var y = row < 0 ? b.top + b.height / 2 : b.top + (1 + (row + 0.5) * "
          "parseFloat(s.getAttribute('data-rh'))) * k;\n"
          "    s.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: y, bubbles: true}));\n"
          "    return document.getElementById('dm-tip').hidden ? '' : "
          "document.getElementById('dm-tip').textContent;\n"
          "  }\n"
          "  var logo = document.querySelector('svg.dm-saliency'), heat = "
          "document.querySelector('svg.dm-heatmap');\n"
          "  logo.scrollIntoView();\n"
          "  document.body.setAttribute('data-hover-logo', at(logo, 5, -1));\n"
          "  document.body.setAttribute('data-hover-heat', at(heat, 5, 2));\n"
          "  document.body.setAttribute('data-seq6', logo.getAttribute('data-seq').charAt(5));\n"
          "});</script>\n</body></html>\n",
          f);
    fclose(f);
    free(html);
    r = browse(fx.dir, hover);
    cr_assert(r.dom);
    cr_expect_eq(r.console, 0, "%s", r.first);
    char base = 0, want[64];
    const char *s6 = strstr(r.dom, "data-seq6=\"");
    cr_assert(s6);
    base = s6[11];
    snprintf(want, sizeof want, "data-hover-logo=\"position 6 \xc2\xb7 %c \xc2\xb7 saliency ", base);
    cr_expect(strstr(r.dom, want) != NULL, "logo read-out: want '%s'", want);
    snprintf(want, sizeof want, "data-hover-heat=\"position 6 \xc2\xb7 %c \xc2\xb7 channel G ", base);
    cr_expect(strstr(r.dom, want) != NULL, "heatmap read-out: want '%s'", want);
    free(r.dom);

    /* a screenshot: not blank; the base colours of the logos and the red of the heatmaps are there */
    char png[700], ud[700];
    snprintf(png, sizeof png, "%s/shot.png", fx.dir);
    snprintf(ud, sizeof ud, "%s/chromium-shot", fx.dir);
    int st = dm_test_system(
        "timeout 120 %s --headless --no-sandbox --disable-gpu --disable-background-networking "
        "--no-first-run --user-data-dir='%s' --host-resolver-rules='MAP * ~NOTFOUND' --hide-scrollbars "
        "--window-size=1280,2400 --screenshot='%s' 'file://%s' > /dev/null 2>&1",
        chromium(), ud, png, page);
    cr_assert_eq(st, 0, "screenshot failed");
    int w, h;
    unsigned char *rgb = png_rgb(png, &w, &h);
    cr_expect(w == 1280 && h == 2400, "%d x %d", w, h);
    long white = near_colour(rgb, w, h, 255, 255, 255, 8);
    long green = near_colour(rgb, w, h, 0x00, 0xCC, 0x00, 40),
         blue = near_colour(rgb, w, h, 0x00, 0x00, 0xCC, 40);
    long red = near_colour(rgb, w, h, 0xFF, 0x00, 0x00, 60);
    cr_log_info("screenshot: %.1f%% non-white, %ld green, %ld blue, %ld red pixels",
                100.0 - 100.0 * white / ((double)w * h), green, blue, red);
    cr_expect(white < (long)w * h * 97 / 100, "at least 3%% of the page is not white");
    cr_expect(green > 200 && blue > 200, "logo letters drawn (A green %ld, C blue %ld)", green, blue);
    cr_expect(red > 100, "heatmap or temporal red drawn (%ld)", red);
    free(rgb);
    dm_test_rmdir(fx.dir);
}

Test(dashboard, chromium_harness_catches_console_errors_and_requests, .timeout = 120) {
    if (!chromium()) cr_skip_test("no usable chromium (scripts/setup.sh installs it when it can)");
    /* the positive control: a page with an error, an exception and an external image */
    char *d = dm_test_tmpdir();
    cr_assert(d);
    char page[600];
    snprintf(page, sizeof page, "%s/bad.html", d);
    write_file(page, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>bad</title></head><body>\n"
                     "<img src=\"http://example.invalid/x.png\" alt=\"\">\n"
                     "<script>console.error('an error'); nosuchfunction();</script></body></html>\n");
    browsed r = browse(d, page);
    cr_expect_eq(r.status, 0);
    cr_expect_geq(r.console, 2, "console.error and the exception are seen (%d)", r.console);
    cr_expect_geq(r.requests, 1, "the image request is seen (%d)", r.requests);
    free(r.dom);
    dm_test_rmdir(d);
    free(d);
}

Test(dashboard, chromium_index_table_sorts, .timeout = 120) {
    if (!chromium()) cr_skip_test("no usable chromium (scripts/setup.sh installs it when it can)");
    char *d = dm_test_tmpdir();
    cr_assert(d);
    char out[600], report[3][600];
    const char *const sub[3] = {"A", "B", "C"};
    const char *const tf[3] = {"GABPA_x", "REST_x", "MYC_x"};
    const double auc[3][3] = {{0.97, 0.96, 0.98}, {0.99, NAN, 0.999}, {0.92, 0.78, 0.93}};
    /* a copy of the page clicks the cnn header twice and records the TF order after each click */
    char *html = index_of_three(d, sub, tf, auc, report, out, sizeof out);
    *strstr(html, "</body>") = 0;
    char page[700];
    snprintf(page, sizeof page, "%s/sort.html", out);
    FILE *f = fopen(page, "w");
    cr_assert(f);
    fputs(html, f);
    fputs("<script>window.addEventListener('load', function () {\n"
          "  var th = document.querySelector('table.dm-sortable thead').rows[0].cells[2];\n"
          "  function order() {\n"
          "    return Array.prototype.map.call(document.querySelector('table.dm-sortable').tBodies[0].rows,\n"
          "      function (r) { return r.cells[0].textContent; }).join(',');\n"
          "  }\n"
          "  th.click(); document.body.setAttribute('data-up', order());\n"
          "  th.click(); document.body.setAttribute('data-down', order());\n"
          "});</script>\n</body></html>\n",
          f);
    fclose(f);
    free(html);
    browsed r = browse(d, page);
    cr_assert(r.dom);
    cr_expect_eq(r.console, 0, "%s", r.first);
    cr_expect(strstr(r.dom, "data-up=\"MYC,GABPA,REST\"") != NULL, "ascending by cnn AUROC");
    cr_expect(strstr(r.dom, "data-down=\"REST,GABPA,MYC\"") != NULL, "then descending");
    free(r.dom);
    dm_test_rmdir(d);
    free(d);
}
