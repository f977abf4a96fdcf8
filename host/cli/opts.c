/*
 * opts.c: option rows and their parsing, each command's --help, the shared option blocks, usage
 * errors and failures (see cli.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dist.h"

const char *cli_prog = "deepmotif";

/* ---- the shared blocks ------------------------------------------------------------------------- */

const cli_opt CLI_OPTS_DEVICE[] = {
    {"--threads", "N", "CPU threads (default: all cores)", NULL, 0},
    {"--device", "cpu|cuda|auto", "compute device (default auto: CUDA when a GPU is usable)",
     CLI_CHOICES("cpu", "cuda", "auto"), 0},
    {"--cudnn", NULL, "CUDA: cuDNN's convolution and LSTM instead of deepmotif's kernels", NULL, 0},
    {0},
};

const cli_opt CLI_OPTS_NPOLICY[] = {
    {"--n-policy", NULL, "encoding of N and IUPAC codes (default zero)", CLI_CHOICES("zero", "quarter"), 0},
    {0},
};

const cli_opt CLI_OPTS_BED[] = {
    {"--bed", "REGIONS.bed", "regions (BED3..BED6, gzip or plain) read from --genome, instead of --data", NULL, 0},
    {"--genome", "GENOME.fa", "indexed FASTA, plain or bgzip (.fai/.gzi built when missing)", NULL, 0},
    {"--resize", NULL, "--bed: regions resized to the model's length around their centre (default), start or "
                       "end, strand-aware", CLI_CHOICES("center", "start", "end"), 0},
    {"--label-col", "N", "--bed: the 1-based column holding a 0/1 label (default: none)", NULL, 0},
    {0},
};

/* ---- errors ------------------------------------------------------------------------------------- */

void cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli_prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help'.\n", cli_prog);
    va_end(ap);
    exit(2);
}

/* "a, b, c" */
static void join(char *buf, size_t n, const char *const *list, const char *sep) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; list[i] && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? sep : "", list[i]);
}

void cli_bad_choice(const char *name, const char *value, const char *const *choices) {
    char list[512];
    join(list, sizeof list, choices, ", ");
    cli_usage_error("%s: unknown value '%s' (choices: %s)", name, value, list);
}

void cli_fail(dm_status s) {
    const char *msg = dm_last_error();
    if (dm_dist_size() > 1) cli_dist_fail(s, msg[0] ? msg : dm_status_str(s));
    fprintf(stderr, "%s: %s\n", cli_prog, msg[0] ? msg : dm_status_str(s));
    exit(s == DM_STATUS_ARG ? 2 : 1);
}

/* ---- help and parsing --------------------------------------------------------------------------- */

/* The metavariable of a row: its arg, or its choices joined by '|'; "" for a flag. */
static const char *metavar(const cli_opt *o, char *buf, size_t n) {
    if (o->arg) return o->arg;
    if (!o->choices) return "";
    join(buf, n, o->choices, "|");
    return buf;
}

void cli_print_help(const cli_cmd *cmd) {
    printf("usage: %s\n\n%s\n\noptions:\n", cmd->synopsis, cmd->about);
    for (const cli_opt *const *b = cmd->blocks; *b; b++)
        for (const cli_opt *o = *b; o->name; o++) {
            char mv[256], left[300];
            const char *m = metavar(o, mv, sizeof mv);
            snprintf(left, sizeof left, "%s%s%s", o->name, m[0] ? " " : "", m);
            printf("  %-24s %s\n", left, o->help);
        }
    printf("  %-24s %s\n", "-h, --help", "show this help");
}

void cli_parse(cli_args *a, const cli_cmd *cmd, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->argc = argc;
    a->argv = argv;
    for (const cli_opt *const *b = cmd->blocks; *b; b++)
        for (const cli_opt *o = *b; o->name; o++) {
            if (a->n == CLI_MAX_OPTS) abort();   /* a table error, caught by any run of the command */
            a->row[a->n++] = o;
        }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            cli_print_help(cmd);
            exit(0);
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        int k = 0;
        while (k < a->n && (strlen(a->row[k]->name) != len || strncmp(a->row[k]->name, arg, len) != 0)) k++;
        if (k == a->n) cli_usage_error("unknown option '%s'", arg);
        const cli_opt *o = a->row[k];
        if (o->flags & (CLI_REPEAT | CLI_LIST) && !a->list[k])
            a->list[k] = cli_alloc(sizeof(char *) * (size_t)(argc + 1));
        if (o->flags & CLI_LIST) {
            if (eq) cli_usage_error("option %s takes its values after it, not after '='", o->name);
            a->value[k] = "1";
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2)) a->list[k][a->n_list[k]++] = argv[++i];
            continue;
        }
        if (!o->arg && !o->choices) {
            if (eq) cli_usage_error("option %s takes no value", o->name);
            a->value[k] = "1";
            continue;
        }
        if (eq) {
            a->value[k] = eq + 1;
        } else {
            if (i + 1 >= argc) {
                char mv[256];
                cli_usage_error("option %s needs a value (%s)", o->name, metavar(o, mv, sizeof mv));
            }
            a->value[k] = argv[++i];
        }
        if (o->flags & CLI_REPEAT) a->list[k][a->n_list[k]++] = a->value[k];
        if (o->choices) {
            int c = 0;
            while (o->choices[c] && strcmp(o->choices[c], a->value[k])) c++;
            if (!o->choices[c]) cli_bad_choice(o->name, a->value[k], o->choices);
        }
    }
}

/* ---- values ------------------------------------------------------------------------------------- */

const char *cli_opt_str(const cli_args *a, const char *name) {
    for (int k = 0; k < a->n; k++)
        if (!strcmp(a->row[k]->name, name)) return a->value[k];
    return NULL;
}

const char *cli_opt_or(const cli_args *a, const char *name, const char *def) {
    const char *v = cli_opt_str(a, name);
    return v ? v : def;
}

bool cli_flag(const cli_args *a, const char *name) { return cli_opt_str(a, name) != NULL; }

const char **cli_list(const cli_args *a, const char *name, int *n) {
    for (int k = 0; k < a->n; k++)
        if (!strcmp(a->row[k]->name, name)) {
            *n = a->n_list[k];
            return a->list[k];
        }
    *n = 0;
    return NULL;
}

void cli_args_free(cli_args *a) {
    for (int k = 0; k < a->n; k++) free(a->list[k]);
    memset(a, 0, sizeof *a);
}

const char *cli_required(const cli_args *a, const char *name) {
    const char *v = cli_opt_str(a, name);
    if (!v) cli_usage_error("missing %s", name);
    return v;
}

long long cli_int(const cli_args *a, const char *name, long long def, long long lo, long long hi) {
    const char *v = cli_opt_str(a, name);
    if (!v) return def;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 0);
    if (errno || *end || end == v || x < lo || x > hi)
        cli_usage_error("%s: '%s' is not an integer in %lld..%lld", name, v, lo, hi);
    return x;
}

double cli_num(const cli_args *a, const char *name, double def, double lo, double hi) {
    const char *v = cli_opt_str(a, name);
    if (!v) return def;
    char *end;
    double x = strtod(v, &end);
    if (*end || end == v || !(x >= lo && x <= hi)) cli_usage_error("%s: '%s' is not a number in %g..%g", name, v, lo, hi);
    return x;
}

uint64_t cli_seed(const cli_args *a) {
    const char *v = cli_opt_str(a, "--seed");
    if (!v) return 1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || *end || end == v || v[0] == '-') cli_usage_error("--seed: '%s' is not a 64-bit unsigned integer", v);
    return x;
}

uint64_t cli_size(const cli_args *a, const char *name, uint64_t def) {
    const char *v = cli_opt_str(a, name);
    if (!v) return def;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    int shift = 0;
    if (*end) {
        const char *units = "KMGT", *u = strchr(units, *end >= 'a' ? *end - 32 : *end);
        if (u && *u) shift = 10 * (int)(u - units + 1), end++;
        if (*end == 'i' && end[1] == 'B') end += 2;
        else if (*end == 'B') end++;
    }
    if (errno || *end || end == v || v[0] == '-' || x == 0 || (shift && x > (~0ULL >> shift)))
        cli_usage_error("%s: '%s' is not a size (bytes, or a number with K, M, G or T)", name, v);
    return (uint64_t)x << shift;
}

bool cli_n_quarter(const cli_args *a) { return !strcmp(cli_opt_or(a, "--n-policy", "zero"), "quarter"); }
