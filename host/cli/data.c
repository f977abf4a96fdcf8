/*
 * data.c: `deepmotif simulate`: a labelled data set with planted motifs (the bundled default).
 */
#include "cli.h"
#include "simulate.h"

const cli_opt cli_simulate_opts[] = {
    {"--out", "FILE", "output, DeepBind TSV (gzip when FILE ends in .gz) (required)", NULL, 0},
    {"--n", "N", "number of positives; each gets one shuffled negative (default 5000)", NULL, 0},
    {"--len", "L", "sequence length (default 101)", NULL, 0},
    {"--motifs", "A,B,...", "built-in motifs to plant (default: the first; see --list)", NULL, 0},
    {"--gc", "F", "background GC fraction (default 0.42)", NULL, 0},
    {"--seed", "S", "seed (default 1)", NULL, 0},
    {"--list", NULL, "list the built-in motifs and exit", NULL, 0},
    {0},
};

int cli_simulate(cli_args *a) {
    if (cli_flag(a, "--list")) {
        for (int i = 0; i < dm_sim_motif_count(); i++)
            printf("%s\t%d\n", dm_sim_motif_name(i), dm_sim_motif_width(i));
        return 0;
    }
    dm_sim_options so;
    dm_sim_options_default(&so);
    so.n_pos = cli_int(a, "--n", so.n_pos, 1, 100000000);
    so.len = (int32_t)cli_int(a, "--len", so.len, 10, 100000);
    so.gc = cli_num(a, "--gc", so.gc, 0, 1);
    so.seed = cli_seed(a);
    so.motifs = cli_opt_str(a, "--motifs");
    const char *out = cli_required(a, "--out");
    cli_check_out(out);
    dm_dataset ds = {0};
    CLI_CHECK(dm_simulate(&ds, &so));
    CLI_CHECK(dm_dataset_write_deepbind(&ds, out));
    fprintf(stderr, "%s: wrote %lld sequences (%lld bound) to %s\n", cli_prog, (long long)ds.n,
            (long long)so.n_pos, out);
    dm_dataset_free(&ds);
    return 0;
}
