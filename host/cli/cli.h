/*
 * cli.h: the `deepmotif` command-line program, the only part of deepmotif that prints for the user
 * and exits (0 success, 1 bad input or a failure while running, 2 a usage error).
 *
 *   main.c       the command table: dispatch, the top-level --help, --version
 *   opts.c       option rows, parsing, each command's --help, the shared option blocks
 *   common.c     steps every command shares: notices, the device, loading a model, streaming --data,
 *                checking the outputs before anything is computed, metrics as text
 *   train.c      train
 *   eval.c       eval, predict
 *   visualize.c  saliency, temporal, optimize
 *   motifs.c     motifs, compare (and naming motifs against a database)
 *   dashboard.c  dashboard
 *   data.c       simulate
 *   scan.c       scan
 *   shard.c      --shard I/N and MPI ranks of predict, saliency, temporal (host/shard.h)
 *   sweep.c      sweep (runs `deepmotif train` per job)
 *
 * A command is a row of the table in main.c: its name, a one-line summary, its usage and about text,
 * its option blocks (rows of its own followed by shared blocks such as CLI_OPTS_DEVICE) and its
 * handler, which gets the parsed options. A choice option lists its values; any other value is a
 * usage error naming the option and the choices, before the command runs.
 */
#ifndef DM_CLI_H
#define DM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "deepmotif.h"
#include "compare.h"
#include "dm_internal.h"
#include "genome.h"
#include "meme.h"
#include "model.h"
#include "shard.h"

/* ---- options and commands (opts.c, main.c) ---------------------------------------------------- */

/* One option row; a block is an array of rows ended by a row with name NULL. */
typedef struct cli_opt {
    const char *name;             /* "--epochs" */
    const char *arg;              /* metavariable ("N"), NULL for a flag; NULL with choices: "a|b|c" */
    const char *help;
    const char *const *choices;   /* the accepted values (NULL-ended), or NULL for any value */
    unsigned flags;               /* CLI_REPEAT, CLI_LIST */
} cli_opt;

#define CLI_REPEAT 1u   /* may be given again: every value is kept (cli_list) */
#define CLI_LIST 2u     /* takes every following argument up to the next "--" option (cli_list) */

#define CLI_CHOICES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Shared blocks (opts.c), included by the commands that take them. */
extern const cli_opt CLI_OPTS_DEVICE[];    /* --threads, --device, --cudnn */
extern const cli_opt CLI_OPTS_NPOLICY[];   /* --n-policy zero|quarter */
extern const cli_opt CLI_OPTS_BED[];       /* --bed, --genome, --resize, --label-col */

#define CLI_MAX_OPTS 48

typedef struct cli_args cli_args;

typedef struct cli_cmd {
    const char *name;             /* "train" */
    const char *summary;          /* one line of the top-level help */
    const char *synopsis;         /* after "usage: " (may hold a second line) */
    const char *about;
    const cli_opt *const *blocks; /* NULL-ended list of option blocks */
    int (*run)(cli_args *a);
} cli_cmd;

/* The parsed command line of one command. */
struct cli_args {
    const cli_cmd *cmd;
    int argc;                          /* the command's own arguments (after the command name) */
    char **argv;
    int n;                             /* option rows of the command */
    const cli_opt *row[CLI_MAX_OPTS];
    const char *value[CLI_MAX_OPTS];   /* the argument, "1" for a given flag, NULL if absent */
    const char **list[CLI_MAX_OPTS];   /* CLI_REPEAT and CLI_LIST rows: every value (malloc'd) */
    int n_list[CLI_MAX_OPTS];
};

extern const cli_cmd cli_commands[];   /* main.c; ended by a row with name NULL */
extern const char *cli_prog;           /* "deepmotif train": the start of every message */

/* Fills a from argv (argc arguments after the command name): --help prints the command's help and
 * exits 0; an unknown option, a missing value or a value outside an option's choices is a usage
 * error. */
void cli_parse(cli_args *a, const cli_cmd *cmd, int argc, char **argv);
void cli_print_help(const cli_cmd *cmd);

const char *cli_opt_str(const cli_args *a, const char *name);              /* NULL when absent */
const char *cli_opt_or(const cli_args *a, const char *name, const char *def);
bool cli_flag(const cli_args *a, const char *name);
/* The values of a CLI_REPEAT or CLI_LIST row (*n of them; NULL and 0 when absent). */
const char **cli_list(const cli_args *a, const char *name, int *n);
void cli_args_free(cli_args *a);
const char *cli_required(const cli_args *a, const char *name);
long long cli_int(const cli_args *a, const char *name, long long def, long long lo, long long hi);
double cli_num(const cli_args *a, const char *name, double def, double lo, double hi);
uint64_t cli_seed(const cli_args *a);                                      /* --seed, default 1 */
uint64_t cli_size(const cli_args *a, const char *name, uint64_t def);      /* bytes, K/M/G/T */
bool cli_n_quarter(const cli_args *a);                                     /* --n-policy quarter */

/* train's --channels, --widths, --pool, --hidden, --dropout (host/cli/train.c): the model's sizes, over
 * the architecture's defaults in *hp. An option the architecture has no use for is a usage error, not
 * ignored (sweep asks it of each of its architectures before any job); whether the sizes make a model
 * of --len is dm_arch_layers's question, asked when the model is built. */
void cli_train_sizes(const cli_args *a, dm_hparams *hp);

void cli_usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* A usage error for a value outside `choices`: "--opt: unknown value 'v' (choices: a, b)". */
void cli_bad_choice(const char *name, const char *value, const char *const *choices) __attribute__((noreturn));
/* The failure of a library call: its message (dm_last_error) on one line; exit 2 for _ARG, else 1. */
void cli_fail(dm_status s) __attribute__((noreturn));

/* ---- the process group (dist.c): mpirun -np K ------------------------------------------------- */

/* Joins the group (dm_dist_init; MPI_Finalize at exit); ranks > 0 print nothing from here on. */
void cli_dist_start(int *argc, char ***argv);
/* Failures (cli_fail) from here until cli_dist_inputs_ok() are agreed by every rank: each rank
 * validates its inputs, and one bad rank ends them all with its line (printed by rank 0). */
void cli_dist_expect_agree(void);
void cli_dist_inputs_ok(void);
/* cli_fail in a group of K > 1 (see dist.c). */
void cli_dist_fail(dm_status s, const char *msg) __attribute__((noreturn));

#define CLI_CHECK(expr)                                                                            \
    do {                                                                                           \
        dm_status check_s_ = (expr);                                                               \
        if (check_s_ != DM_STATUS_OK) cli_fail(check_s_);                                          \
    } while (0)

/* ---- shared steps (common.c) ------------------------------------------------------------------- */

/* Notices (the device fallback, padded inputs) wait until every input has been read and checked, so
 * a bad input still gets its one line and nothing else. */
void cli_notice_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_notice_flush(void);

/* The warning about padded or truncated rows of `path`, when there are any. */
void cli_note_padding(const dm_dataset *ds, const char *path, int32_t len);

void cli_load_data(dm_dataset *ds, const char *path, int32_t len);
void cli_load_data_max(dm_dataset *ds, const char *path, int32_t len, uint64_t max_bytes);
bool cli_has_labels(const dm_dataset *ds);

/* --device, --threads, --cudnn (CLI_OPTS_DEVICE): the backend, or a notice and the CPU under auto. */
dm_backend *cli_backend_reproducible(const cli_args *a);
dm_backend *cli_backend(const cli_args *a);
void cli_describe_backend(const dm_backend *be, char *buf, size_t n);
void cli_record_input(dm_provenance *prov, const char *role, const char *path);

/* dm_net_load of `path` for batches of `batch`, or exit. */
dm_net *cli_load_model(const char *path, dm_backend *be, int batch);
/* Exits (1) when m is an ensemble: `command` works on one model's weights. */
void cli_single_model(dm_net *m, const char *path, const char *command);

/* Genomic coordinates (CLI_OPTS_BED): `--bed REGIONS.bed --genome GENOME.fa` instead of the command's
 * data option (data_opt: "--data", train's "--train"). cli_bed_input says which one was given and
 * makes every misuse a usage error: both, neither, --bed without --genome, --genome, --resize or
 * --label-col without --bed. `other_bed` names a further BED option of the command (train's
 * --test-bed) that also counts as a BED input, or NULL. */
bool cli_bed_input(const cli_args *a, const char *data_opt, const char *other_bed);
dm_resize cli_resize(const cli_args *a);   /* --resize, default center */
int cli_label_col(const cli_args *a);      /* --label-col, 0 when absent */

/* The sequences of the BED file `bed` read from --genome, every region resized to len (--resize):
 * labels from --label-col, ids the regions' names; at most max_bytes of rows (0: half the memory).
 * `regions` (may be NULL) keeps the resized regions, row i = region i. Exits on any error. */
void cli_load_bed(dm_dataset *ds, const cli_args *a, const char *bed, int32_t len, uint64_t max_bytes,
                  dm_regions *regions);

/* train's data from a BED of peaks (no label column): every region bound (label 1); with neg
 * "flank:D" or "gc-matched" (from --background, seeded) each peak is followed by its negatives
 * (host/negatives.c), with a notice of how many. Any other neg adds nothing (the caller adds
 * shuffles). Returns the number of negatives added. */
int64_t cli_load_peaks(dm_dataset *ds, const cli_args *a, const char *bed, int32_t len, const char *neg,
                       uint64_t seed, uint64_t max_bytes);

/* The whole data set of --data (data_opt) or of --bed (cli_bed_input): returns the path read, for
 * messages. regions (may be NULL) is filled from a BED input and emptied otherwise. */
const char *cli_load_input(dm_dataset *ds, const cli_args *a, const char *data_opt, int32_t len,
                           dm_regions *regions);

/* eval, predict, saliency and temporal stream --data: a first pass (cli_stream_scan) parses and
 * counts it, every line checked before anything is computed or written; a second pass
 * (cli_stream_run) computes and writes it chunk by chunk. Chunks hold a multiple of the model's
 * batch, so the batches, hence the outputs, are those of a whole-file run. */
typedef struct cli_stream {
    const char *path;     /* --data, or the --bed file */
    int32_t len;
    int64_t chunk;
    dm_dataset tot;       /* the first pass's totals: rows, format, padding */
    bool labelled;        /* every row has a 0/1 label */
    dm_regions *regions;  /* --bed: the regions, resized to len and checked; row i of the stream is
                             regions->r[i] (its chrom, start, end, strand, name). NULL for --data */
    dm_genome *genome;    /* --bed: the open genome the chunks are read from */
    int64_t row0, row1;   /* the rows cli_stream_run hands over: all (0, tot.n) unless sharded */
    dm_backend *prefetch; /* --data read on a reader thread, a chunk ahead (dm_dataset_scan_prefetch):
                             set by cli_stream_prefetch; NULL: on the calling thread */
} cli_stream;

/* --data or --bed (cli_bed_input with "--data"): the first pass of either. A BED input is read,
 * resized and checked against the genome here (every line before anything is computed); its rows
 * are read from the genome chunk by chunk in cli_stream_run. */
void cli_stream_open(cli_stream *s, const cli_args *a, int32_t len, int batch);
void cli_stream_scan(cli_stream *s, const char *path, int32_t len, int batch);   /* --data only */
dm_status cli_stream_run(const cli_stream *s, dm_chunk_fn fn, void *ctx);
void cli_stream_close(cli_stream *s);
/* The computing pass reads the next chunk while the device works on the current one: on for the CUDA
 * backend (pinned chunk buffers), off for the CPU (whose threads are all busy computing);
 * DM_STREAM_PREFETCH=1 or 0 forces it either way (tests compare the two). */
void cli_stream_prefetch(cli_stream *s, dm_backend *be);   /* frees the regions and closes the genome */

/* ---- shards (shard.c): --shard I/N, or rank r of an MPI group of K as shard r+1/K ---------------- */

extern const cli_opt CLI_OPTS_SHARD[];   /* --shard I/N */

typedef struct cli_shard {
    dm_shard sh;             /* sh.count 0: not sharded, the outputs are written as usual */
    bool mpi;                /* the shards are the ranks of the MPI group */
    dm_shard_output outs[8]; /* the run's outputs, for the assembly */
    int n_outs;
} cli_shard;

/* --shard (a bad spec: one line, exit 2) or the MPI rank; the run's key. */
void cli_shard_init(cli_shard *c, const cli_args *a);
/* The shard's rows of the stream's tot.n (whole batches of `batch`) into s->row0, row1. */
void cli_shard_rows(cli_shard *c, cli_stream *s, int batch);
/* A sharded output must be a regular file (or absent): exit 2 otherwise. */
void cli_shard_check_out(const cli_shard *c, const char *path);
void cli_shard_add(cli_shard *c, const char *path, dm_shard_kind kind, int ndim, const int64_t *shape);
/* A text output: this shard's part, or the file itself when not sharded. */
dm_status cli_shard_text_open(const cli_shard *c, dm_outfile *o, const char *path);
/* Whether this process writes the text outputs' header lines (not sharded, or shard 1). */
bool cli_shard_header(const cli_shard *c);
/* This shard failed (its own parts already aborted): under MPI every rank ends with the error. */
void cli_shard_fail(cli_shard *c, dm_status st) __attribute__((noreturn));
/* This shard's parts are written: the set is assembled when complete (shard.h). Returns whether this
 * process reports the outputs as written. */
bool cli_shard_finish(cli_shard *c);

/* Outputs are checked before anything is computed: exit 1 unless each can be written. */
void cli_check_out(const char *path);
void cli_check_outs(const char *prefix, const char *const *suffix);   /* NULL-ended suffixes */

/* PREFIX + suffix in buf (CLI_PATH_MAX bytes); a path too long is an error (exit 2). */
#define CLI_PATH_MAX 4200
const char *cli_path(char *buf, const char *prefix, const char *suffix);
void cli_check_out_dir(const char *dir);

/* A metric of scored, labelled rows from `path`: NaN when undefined, with a warning saying why. */
double cli_metric(dm_metric which, const float *score, const int8_t *label, int64_t n, const char *path);
/* printf's `fmt` of v, or `undef` when it is not finite. */
const char *cli_metric_text(char buf[32], double v, const char *fmt, const char *undef);

/* The command line as one string ("deepmotif motifs --model ..."), for the '#' lines of outputs. */
const char *cli_cmdline(const cli_args *a);

/* A malloc that exits with "out of memory". */
void *cli_alloc(size_t bytes);

/* ---- motif databases (motifs.c) ---------------------------------------------------------------- */

/* Reads a MEME database that must hold at least one motif. */
void cli_read_db(const char *path, dm_motif_set *db);

/* The comparison of motifs with a database, computed before anything is written. */
typedef struct cli_annotation {
    dm_compare_options co;
    dm_hit *hits;
    int nh;
} cli_annotation;

void cli_annotate_compute(const dm_motif_set *q, const dm_motif_set *db, cli_annotation *an);
/* Writes PREFIX.hits.tsv (TOMTOM-like TSV) and prints each query's best match; on failure removes
 * PREFIX + each of `written` (the outputs already written: no half-written set is left) and exits. */
void cli_annotate_finish(const dm_motif_set *q, const dm_motif_set *db, cli_annotation *an, const char *prefix,
                         const char *const *written, const cli_args *a);

/* ---- the commands: each one's own option rows and its handler ------------------------------------ */

extern const cli_opt cli_train_opts[], cli_eval_opts[], cli_predict_opts[], cli_saliency_opts[],
    cli_temporal_opts[], cli_optimize_opts[], cli_motifs_opts[], cli_compare_opts[], cli_dashboard_opts[],
    cli_simulate_opts[], cli_export_opts[], cli_scan_opts[], cli_sweep_opts[];
extern cli_opt cli_sweep_train_opts[];   /* train's rows that sweep passes on (sweep.c) */

int cli_train(cli_args *a);
int cli_eval(cli_args *a);
int cli_predict(cli_args *a);
int cli_saliency(cli_args *a);
int cli_temporal(cli_args *a);
int cli_optimize(cli_args *a);
int cli_motifs(cli_args *a);
int cli_compare(cli_args *a);
int cli_dashboard(cli_args *a);
int cli_simulate(cli_args *a);
int cli_export(cli_args *a);
int cli_scan(cli_args *a);
int cli_sweep(cli_args *a);

#endif /* DM_CLI_H */
