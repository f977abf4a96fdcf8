/*
 * shard.c: --shard I/N and MPI ranks for the streaming commands (predict, saliency, temporal): which
 * rows this process computes, where its outputs go, and the assembly of the set (host/shard.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dist.h"

const cli_opt CLI_OPTS_SHARD[] = {
    {"--shard", "I/N", "compute shard I of N (a contiguous range of rows): the last shard to finish writes the "
                       "outputs, identical to an unsharded run (under mpirun -np K: rank r is shard r+1/K)", NULL, 0},
    {0},
};

/* "I/N", digits only, 1 ≤ I ≤ N ≤ 100000; anything else is one line and exit 2. */
static void parse_spec(const char *v, int *i, int *n) {
    const char *slash = strchr(v, '/');
    long long a = -1, b = -1;
    if (slash && slash > v && slash[1] && strspn(v, "0123456789") == (size_t)(slash - v) &&
        strspn(slash + 1, "0123456789") == strlen(slash + 1) && slash - v <= 6 && strlen(slash + 1) <= 6) {
        a = atoll(v);
        b = atoll(slash + 1);
    }
    if (a < 1 || b < 1 || a > b || b > 100000)
        cli_fail(dm_error(DM_STATUS_ARG, "--shard: '%s' is not I/N with 1 <= I <= N <= 100000 (e.g. --shard 3/8)", v));
    *i = (int)a - 1;
    *n = (int)b;
}

/* The run's key: the command line without --shard, --threads and --quiet (options that do not change
 * the outputs), and the size and modification time of each input file, so every shard of one run
 * computes the same key and a rerun on changed inputs another. */
static void run_key(cli_shard *c, const cli_args *a) {
    size_t cap = 1 << 16, used = 0;
    char *buf = cli_alloc(cap);
    used += (size_t)snprintf(buf, cap, "%s", cli_prog) + 1;
    static const char *const files[] = {"--data", "--bed", "--genome", "--model", NULL};
    for (int k = 0; k < a->argc && used < cap - 256; k++) {
        const char *s = a->argv[k];
        if (!strcmp(s, "--shard") || !strcmp(s, "--threads")) {
            k++;
            continue;
        }
        if (!strcmp(s, "--quiet")) continue;
        used += (size_t)snprintf(buf + used, cap - used, "%.4000s", s) + 1;
        for (int f = 0; files[f]; f++) {
            struct stat st;
            if (strcmp(s, files[f]) || k + 1 >= a->argc || stat(a->argv[k + 1], &st) != 0) continue;
            used += (size_t)snprintf(buf + used, cap - used, "%lld:%lld.%09ld", (long long)st.st_size,
                                     (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec) + 1;
        }
    }
    uint8_t d[32];
    dm_sha256(buf, used < cap ? used : cap, d);
    for (int k = 0; k < 8; k++) snprintf(c->sh.key + 2 * k, 3, "%02x", d[k]);
    free(buf);
}

void cli_shard_init(cli_shard *c, const cli_args *a) {
    memset(c, 0, sizeof *c);
    const char *spec = cli_opt_str(a, "--shard");
    if (dm_dist_size() > 1) {
        cli_dist_expect_agree();   /* every rank checks the inputs: a failure is every rank's (cli/dist.c) */
        if (spec) cli_fail(dm_error(DM_STATUS_ARG, "--shard: not under mpirun (rank r of K is already shard r+1/K)"));
        c->mpi = true;
        c->sh.index = dm_dist_rank();
        c->sh.count = dm_dist_size();
    } else if (spec) {
        parse_spec(spec, &c->sh.index, &c->sh.count);
    } else {
        return;
    }
    run_key(c, a);
}

void cli_shard_rows(cli_shard *c, cli_stream *s, int batch) {
    if (!c->sh.count) return;
    if (c->mpi) cli_dist_inputs_ok();
    dm_shard_range(&c->sh, s->tot.n, batch);
    s->row0 = c->sh.row0;
    s->row1 = c->sh.row1;
}

void cli_shard_check_out(const cli_shard *c, const char *path) {
    struct stat st;
    if (c->sh.count && (!strcmp(path, "-") || (stat(path, &st) == 0 && !S_ISREG(st.st_mode))))
        cli_fail(dm_error(DM_STATUS_ARG, "%s: sharded outputs are regular files (the shards write into its folder)", path));
}

void cli_shard_add(cli_shard *c, const char *path, dm_shard_kind kind, int ndim, const int64_t *shape) {
    if (c->n_outs >= (int)(sizeof c->outs / sizeof c->outs[0])) abort();   /* the commands' fixed lists */
    dm_shard_output *o = &c->outs[c->n_outs++];
    memset(o, 0, sizeof *o);
    snprintf(o->path, sizeof o->path, "%s", path);
    o->kind = kind;
    o->ndim = ndim;
    for (int d = 0; d < ndim; d++) o->shape[d] = shape[d];
}

dm_status cli_shard_text_open(const cli_shard *c, dm_outfile *o, const char *path) {
    return c->sh.count ? dm_shard_text_open(o, &c->sh, path) : dm_outfile_open(o, path);
}

bool cli_shard_header(const cli_shard *c) { return !c->sh.count || c->sh.index == 0; }

void cli_shard_fail(cli_shard *c, dm_status st) {
    if (c->mpi) {   /* every rank has stopped writing once all agree: rank 0 removes the set */
        st = dm_dist_agree(st);
        if (c->sh.index == 0) dm_shard_remove_all(&c->sh, c->outs, c->n_outs);
    }
    cli_fail(st);
}

bool cli_shard_finish(cli_shard *c) {
    bool committed = false;
    int done = 0;
    if (c->mpi) {   /* every rank's parts are written (or one failed: all end with its error) */
        dm_status st = dm_dist_agree(DM_STATUS_OK);
        if (st) {   /* another rank failed: the set is incomplete for good */
            if (c->sh.index == 0) dm_shard_remove_all(&c->sh, c->outs, c->n_outs);
            cli_fail(st);
        }
        if (c->sh.index == 0) st = dm_shard_finish(&c->sh, c->outs, c->n_outs, &committed, &done);
        if (!st && c->sh.index == 0 && !committed)
            st = dm_error(DM_STATUS_IO, "%s: the shards' parts are incomplete after every rank wrote its own",
                          c->outs[0].path);
        st = dm_dist_agree(st);
        if (st) cli_fail(st);
        return c->sh.index == 0;
    }
    CLI_CHECK(dm_shard_finish(&c->sh, c->outs, c->n_outs, &committed, &done));
    char rows[96];
    if (c->sh.row0 < c->sh.row1)
        snprintf(rows, sizeof rows, "rows %lld..%lld written", (long long)c->sh.row0 + 1, (long long)c->sh.row1);
    else
        snprintf(rows, sizeof rows, "no rows (more shards than batches)");
    if (!committed)
        fprintf(stderr, "%s: shard %d/%d: %s; %s\n", cli_prog, c->sh.index + 1, c->sh.count, rows,
                done < c->sh.count ? "the last shard to finish writes the outputs" : "another shard wrote the outputs");
    else
        fprintf(stderr, "%s: shard %d/%d: %s; finished the set of %d shards\n", cli_prog, c->sh.index + 1,
                c->sh.count, rows, c->sh.count);
    return committed;
}
