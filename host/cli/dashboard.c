/*
 * dashboard.c: `deepmotif dashboard`: an HTML report comparing models on a data set, or an index page
 * over many reports (the work is host/dashboard.c's; this checks the options and the outputs).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dashboard.h"

const cli_opt cli_dashboard_opts[] = {
    {"--model", "MODEL", "a checkpoint; repeat for each model, e.g. the cnn, rnn and cnnrnn (required)", NULL,
     CLI_REPEAT},
    {"--data", "FILE", "test data, any supported format (required, or --bed)", NULL, 0},
    {"--out", "DIR", "writes DIR/index.html and the raw outputs beside it (required)", NULL, 0},
    {"--index", "DIR...", "instead: OUT/index.html over the dashboards in these directories", NULL, CLI_LIST},
    {"--top", "K", "test sequences shown, by mean P(bound) over the models (default 10)", NULL, 0},
    {"--db", "DB.meme", "name the optimised and filter motifs against these (e.g. JASPAR)", NULL, 0},
    {"--restarts", "N", "class-optimisation restarts per model (default 8)", NULL, 0},
    {"--steps", "N", "class-optimisation RMSprop steps (default 1000)", NULL, 0},
    {"--hits", "N", "database matches listed per motif (default 3)", NULL, 0},
    {"--filters", "N", "filter logos shown per model, most significant first (default 24; 0: all)", NULL, 0},
    {"--name", "NAME", "data set name (default: the data file name without _B and extensions)", NULL, 0},
    {"--figures", NULL, "also write every figure as a standalone SVG under DIR/figures/", NULL, 0},
    {"--seed", "S", "seed of the optimisation starts and the comparison's null (default 1)", NULL, 0},
    {0},
};

static void log_line(void *ctx, const char *line) {
    (void)ctx;
    cli_notice_flush();   /* the dashboard logs only once its inputs have been read */
    fprintf(stderr, "%s: %s\n", cli_prog, line);
}

int cli_dashboard(cli_args *a) {
    int nm, nd;
    const char **models = cli_list(a, "--model", &nm), **dirs = cli_list(a, "--index", &nd);
    const char *out = cli_required(a, "--out");
    if (cli_flag(a, "--index")) {
        if (nm || cli_flag(a, "--data") || cli_flag(a, "--bed"))
            cli_usage_error("--index takes report directories, not --model or --data (or --bed)");
        if (!nd) cli_usage_error("--index needs at least one report directory");
        cli_check_out_dir(out);
        char path[4200];
        CLI_CHECK(dm_dashboard_index(dirs, nd, out, cli_cmdline(a), path));
        printf("index      %s (%d data sets)\n", path, nd);
        return 0;
    }
    if (!nm) cli_usage_error("missing --model");
    if (nm > DM_DASH_MAX_MODELS) cli_usage_error("at most %d models", DM_DASH_MAX_MODELS);
    dm_dashboard_options o;
    dm_dashboard_options_default(&o);
    o.top = (int)cli_int(a, "--top", o.top, 1, 100000);
    o.restarts = (int)cli_int(a, "--restarts", o.restarts, 1, 4096);
    o.steps = (int)cli_int(a, "--steps", o.steps, 0, 10000000);
    o.hits = (int)cli_int(a, "--hits", o.hits, 1, 100);
    o.max_filters = (int)cli_int(a, "--filters", o.max_filters, 0, 1 << 20);
    o.figures = cli_flag(a, "--figures");
    o.seed = cli_seed(a);
    o.db = cli_opt_str(a, "--db");
    o.name = cli_opt_str(a, "--name");
    o.n_quarter = cli_n_quarter(a);
    o.cmdline = cli_cmdline(a);
    o.log = log_line;
    bool bed = cli_bed_input(a, "--data", NULL);   /* --data, or --bed with --genome */
    const char *data = cli_opt_str(a, bed ? "--bed" : "--data");
    if (bed) o.genome = cli_opt_str(a, "--genome"), o.resize = (int)cli_resize(a), o.label_col = cli_label_col(a);
    cli_check_out_dir(out);
    if (o.figures) {   /* DIR/figures, when it exists, must be a folder that takes files */
        char fig[4200];
        snprintf(fig, sizeof fig, "%s/figures", out);
        struct stat st;
        if (stat(fig, &st) == 0) cli_check_out_dir(fig);
    }
    dm_backend *be = cli_backend(a);
    dm_dashboard_result res;
    double t0 = dm_now();
    CLI_CHECK(dm_dashboard_write(models, nm, data, out, be, &o, &res));
    for (int i = 0; i < res.n_models; i++) {
        char ta[32], tb[32];   /* undefined (one class in the data): NA, as the report's summary.tsv has it */
        printf("%-10s AUROC %s  AUPRC %s\n", res.tag[i], cli_metric_text(ta, res.auroc[i], "%.4f", "NA"),
               cli_metric_text(tb, res.auprc[i], "%.4f", "NA"));
    }
    printf("dashboard  %s (%.1f s)\n", res.index, dm_now() - t0);
    dm_backend_free(be);
    return 0;
}
