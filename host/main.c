/*
 * main.c: the `deepmotif` command-line program. The only place that prints for the user and exits.
 *
 *   deepmotif train     train a CNN, RNN or CNN-RNN and write a checkpoint
 *   deepmotif eval      AUROC, AUPRC and accuracy of a model on labelled data
 *   deepmotif predict   P(bound) per sequence as TSV
 *   deepmotif saliency  attribution maps
 *   deepmotif temporal  temporal output scores
 *   deepmotif optimize  class optimisation
 *   deepmotif motifs    first-layer filters as PPMs
 *   deepmotif compare   motifs against a database (TOMTOM-like)
 *   deepmotif simulate  a labelled data set with planted motifs (the bundled default)
 *   deepmotif dashboard an HTML report comparing models on a data set, or an index over many
 *
 * Exit status: 0 success, 1 bad input or a failure while running, 2 a usage error.
 */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deepmotif.h"
#include "dm_internal.h"
#include "compare.h"
#include "dashboard.h"
#include "meme.h"
#include "model.h"
#include "motifs.h"
#include "npy.h"
#include "optimize.h"
#include "saliency.h"
#include "simulate.h"
#include "train.h"

/* ---- option parsing ---------------------------------------------------------------------------- */

typedef struct dm_opt {
    const char *name;   /* "--epochs" */
    const char *arg;    /* metavariable, NULL for a flag */
    const char *help;
    const char *value;  /* parsed: the argument, or "1" for a given flag, NULL if absent */
} dm_opt;

static const char *prog_cmd = "deepmotif";

static void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog_cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog_cmd);
    va_end(ap);
    exit(2);
}

static void fail(dm_status s) __attribute__((noreturn));
static void fail(dm_status s) {
    const char *msg = dm_last_error();
    fprintf(stderr, "%s: %s\n", prog_cmd, msg[0] ? msg : dm_status_str(s));
    exit(s == DM_STATUS_ARG ? 2 : 1);
}

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        dm_status check_s_ = (expr);                                                               \
        if (check_s_ != DM_STATUS_OK) fail(check_s_);                                              \
    } while (0)

static void print_help(const char *synopsis, const char *about, const dm_opt *opts) {
    printf("usage: %s\n\n%s\n\noptions:\n", synopsis, about);
    for (const dm_opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        printf("  %-24s %s\n", left, o->help);
    }
    printf("  %-24s %s\n", "-h, --help", "show this help");
}

/* Fills opts[].value from argv; --help prints and exits 0; unknown options are usage errors. */
static void parse(int argc, char **argv, dm_opt *opts, const char *synopsis, const char *about) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help(synopsis, about, opts);
            exit(0);
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        dm_opt *o = opts;
        while (o->name && (strlen(o->name) != len || strncmp(o->name, a, len) != 0)) o++;
        if (!o->name) usage_error("unknown option '%s'", a);
        if (!o->arg) {
            if (eq) usage_error("option %s takes no value", o->name);
            o->value = "1";
        } else if (eq) {
            o->value = eq + 1;
        } else {
            if (i + 1 >= argc) usage_error("option %s needs a value (%s)", o->name, o->arg);
            o->value = argv[++i];
        }
    }
}

static const char *opt(const dm_opt *opts, const char *name) {
    for (const dm_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name)) return o->value;
    return NULL;
}

static const char *required(const dm_opt *opts, const char *name) {
    const char *v = opt(opts, name);
    if (!v) usage_error("missing %s", name);
    return v;
}

static long long int_opt(const dm_opt *opts, const char *name, long long def, long long lo, long long hi) {
    const char *v = opt(opts, name);
    if (!v) return def;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 0);
    if (errno || *end || end == v || x < lo || x > hi)
        usage_error("%s: '%s' is not an integer in %lld..%lld", name, v, lo, hi);
    return x;
}

static double num_opt(const dm_opt *opts, const char *name, double def, double lo, double hi) {
    const char *v = opt(opts, name);
    if (!v) return def;
    char *end;
    double x = strtod(v, &end);
    if (*end || end == v || !(x >= lo && x <= hi)) usage_error("%s: '%s' is not a number in %g..%g", name, v, lo, hi);
    return x;
}

static uint64_t seed_opt(const dm_opt *opts) {
    const char *v = opt(opts, "--seed");
    if (!v) return 1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || *end || end == v || v[0] == '-') usage_error("--seed: '%s' is not a 64-bit unsigned integer", v);
    return x;
}

/* A byte count: an integer with an optional K, M, G or T suffix (powers of 1024). */
static uint64_t size_opt(const dm_opt *opts, const char *name, uint64_t def) {
    const char *v = opt(opts, name);
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
        usage_error("%s: '%s' is not a size (bytes, or a number with K, M, G or T)", name, v);
    return (uint64_t)x << shift;
}

/* ---- shared steps ------------------------------------------------------------------------------ */

/* The notice of --device auto falling back to the CPU, and the warnings about the inputs (padded
 * sequences). They wait until every input has been read and checked (notice_flush), so a bad input
 * still gets its one line and nothing else. */
static char g_notice[2048];

static void notice_flush(void) {
    if (g_notice[0]) fputs(g_notice, stderr);
    g_notice[0] = 0;
}

/* Appends a line to the waiting notices (printf-style; cut short when the buffer is full). */
static void notice_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void notice_add(const char *fmt, ...) {
    size_t used = strlen(g_notice);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_notice + used, sizeof g_notice - used, fmt, ap);
    va_end(ap);
}

/* Reads a whole data set holding at most max_bytes (past it: an error naming the file and line). */
static void load_data_max(dm_dataset *ds, const char *path, int32_t len, uint64_t max_bytes) {
    CHECK(dm_dataset_read_max(ds, path, DM_FORMAT_AUTO, len, max_bytes));
    if (ds->n_padded || ds->n_truncated)
        notice_add("%s: warning: %.900s: %lld sequence(s) shorter than %d padded, %lld longer truncated\n",
                   prog_cmd, path, (long long)ds->n_padded, len, (long long)ds->n_truncated);
}

static void load_data(dm_dataset *ds, const char *path, int32_t len) {
    CHECK(dm_dataset_read(ds, path, DM_FORMAT_AUTO, len));
    if (ds->n_padded || ds->n_truncated)
        notice_add("%s: warning: %.900s: %lld sequence(s) shorter than %d padded, %lld longer truncated\n",
                   prog_cmd, path, (long long)ds->n_padded, len, (long long)ds->n_truncated);
}

/* predict, saliency and temporal stream --data: a first pass parses and counts it (every line
 * checked before anything is computed or written, and the row count for the .npy headers), then a
 * second pass computes and writes it chunk by chunk. Chunks hold a multiple of the model's batch, so
 * the batches, hence the outputs, are those of a whole-file run; memory stays at one chunk. */
#define STREAM_CHUNK 8192

static int64_t stream_chunk(int batch) { return (STREAM_CHUNK + batch - 1) / batch * (int64_t)batch; }

/* First pass: labels all 0/1 (what has_labels says of a whole data set). */
static dm_status chunk_labels(void *ctx, const dm_dataset *chunk, int64_t row0) {
    (void)row0;
    bool *labelled = ctx;
    for (int64_t i = 0; i < chunk->n; i++) *labelled &= chunk->label[i] == 0 || chunk->label[i] == 1;
    return DM_STATUS_OK;
}

/* The first pass over a streamed --data file; *tot gets its row count and format, *labelled whether
 * every row has a 0/1 label. The file is read twice, so it must be a regular file. The caller flushes
 * the waiting notices once its own checks of the input (labels) have passed. */
static void scan_data(dm_dataset *tot, bool *labelled, const char *path, int32_t len, int64_t chunk) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) fail(dm_error(DM_STATUS_IO, "%s: is a directory", path));
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        fail(dm_error(DM_STATUS_IO, "%s: not a regular file: %s reads its input twice (a checking pass, then "
                      "the computation); save it to a file first", path, prog_cmd));
    bool lab = true;
    CHECK(dm_dataset_scan(path, DM_FORMAT_AUTO, len, chunk, chunk_labels, &lab, tot));
    *labelled = lab && tot->n > 0;
    if (tot->n_padded || tot->n_truncated)
        notice_add("%s: warning: %.900s: %lld sequence(s) shorter than %d padded, %lld longer truncated\n",
                   prog_cmd, path, (long long)tot->n_padded, len, (long long)tot->n_truncated);
}

/* The second pass must see the rows the first one counted. */
static dm_status scan_again(const char *path, int32_t len, int64_t chunk, dm_chunk_fn fn, void *ctx,
                            const dm_dataset *first) {
    dm_dataset tot;
    DM_TRY(dm_dataset_scan(path, DM_FORMAT_AUTO, len, chunk, fn, ctx, &tot));
    if (tot.n != first->n)
        return dm_error(DM_STATUS_IO, "%s: changed while being read (%lld sequences, then %lld)", path,
                        (long long)first->n, (long long)tot.n);
    return DM_STATUS_OK;
}

/* --device cpu|cuda|auto (default auto: CUDA when a device is usable, else one notice and the CPU). */
static dm_backend *make_backend(const dm_opt *opts) {
    const char *dev = opt(opts, "--device");
    if (!dev) dev = "auto";
    if (strcmp(dev, "cpu") && strcmp(dev, "cuda") && strcmp(dev, "auto"))
        usage_error("--device: '%s' is not cpu, cuda or auto", dev);
    if (strcmp(dev, "cpu")) {
        dm_backend *be;
        dm_status s = dm_backend_cuda_create(&be, 0);
        if (s == DM_STATUS_OK && opt(opts, "--cudnn") && (s = dm_backend_cuda_cudnn(be)) != DM_STATUS_OK) fail(s);
        if (s == DM_STATUS_OK) return be;
        if (!strcmp(dev, "cuda")) fail(s);
        if (dm_backend_cuda_built())   /* a CPU-only build has nothing to announce */
            notice_add("%s: notice: %.300s; running on the CPU (--device cpu silences this)\n", prog_cmd,
                       dm_last_error());
    }
    if (opt(opts, "--cudnn")) fail(dm_error(DM_STATUS_BACKEND, "--cudnn needs the CUDA backend (--device %s runs on the CPU)", dev));
    int threads = (int)int_opt(opts, "--threads", 0, 0, 64);
    dm_backend *be = dm_backend_cpu_create(threads);
    if (!be) fail(dm_error(DM_STATUS_NOMEM, "cannot create the CPU backend"));
    return be;
}

/* The device a run used, for provenance and progress lines. */
static void describe_backend(const dm_backend *be, char *buf, size_t n) {
    if (be->device[0]) snprintf(buf, n, "%.120s", be->device);
    else snprintf(buf, n, "cpu: %s, %d threads", dm_cpu_name(), be->n_threads);
}

static void record_input(dm_provenance *prov, const char *role, const char *path) {
    if (prov->n_inputs >= DM_MAX_INPUTS) return;
    dm_input_file *f = &prov->inputs[prov->n_inputs++];
    snprintf(f->role, sizeof f->role, "%s", role);
    snprintf(f->path, sizeof f->path, "%s", path);
    CHECK(dm_file_sha256(path, &f->bytes, f->sha256));
}

/* Loads a checkpoint into a new model on `be` for batches of `batch`. */
static dm_net *load_model(const char *path, dm_backend *be, int batch, dm_provenance *prov) {
    dm_hparams hp;
    float *params = NULL;
    int64_t np;
    CHECK(dm_checkpoint_load(path, dm_net_table, &hp, &params, &np, prov, NULL));
    dm_net *m;
    dm_status s = dm_net_create(&m, &hp, be, batch);
    if (s == DM_STATUS_OK) s = dm_net_set_params(m, params);
    free(params);
    CHECK(s);
    return m;
}

static bool has_labels(const dm_dataset *ds) {
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->label[i] != 0 && ds->label[i] != 1) return false;
    return ds->n > 0;
}

/* --n-policy zero|quarter (default zero): true for quarter. */
static bool n_quarter_opt(const dm_opt *opts) {
    const char *npol = opt(opts, "--n-policy") ? opt(opts, "--n-policy") : "zero";
    if (strcmp(npol, "zero") && strcmp(npol, "quarter")) usage_error("--n-policy must be zero or quarter");
    return !strcmp(npol, "quarter");
}

/* ---- validation before any output -------------------------------------------------------------- */

/* Every command reads and checks all of its inputs and checks that each output can be written before
 * it computes anything or writes a byte, so a bad file costs one line and leaves nothing behind. */

/* The folder of `path` ("." when it names none). */
static void folder_of(const char *path, char *dir, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, n, ".");
    else if (slash == path) snprintf(dir, n, "/");
    else snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

/* Fails (exit 1) unless `dir` is an existing folder this process may create files in; `path` is the
 * output the message names (as dm_outfile_check words it: "<path>: cannot write: <reason>"). */
static void check_folder(const char *path, const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0) fail(dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(errno)));
    if (!S_ISDIR(st.st_mode)) fail(dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(ENOTDIR)));
    if (access(dir, W_OK | X_OK) != 0) fail(dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(errno)));
}

/* Fails (exit 1) unless the output file `path` can be written, by dm_outfile_check: a new or regular
 * file needs a folder that takes a new (temporary) file, which it creates and removes; an existing
 * file that is not a regular one (a device such as /dev/null, a FIFO, /dev/stdout) must be writable
 * itself; "-" is standard output; a directory is refused. */
static void check_out(const char *path) { CHECK(dm_outfile_check(path)); }

/* check_out for PREFIX + each suffix (a NULL-ended list). */
static void check_outs(const char *prefix, const char *const *suffix) {
    for (int k = 0; suffix[k]; k++) {
        char path[4200];
        if (snprintf(path, sizeof path, "%s%s", prefix, suffix[k]) >= (int)sizeof path)
            fail(dm_error(DM_STATUS_ARG, "%s: path too long", prefix));
        check_out(path);
    }
}

/* An output folder (the dashboard's): an existing folder that takes new files, or a new one whose
 * parent does. */
static void check_out_dir(const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) fail(dm_error(DM_STATUS_IO, "%s: exists and is not a directory", dir));
        check_folder(dir, dir);
        return;
    }
    if (errno != ENOENT) fail(dm_error(DM_STATUS_IO, "%s: cannot write: %s", dir, strerror(errno)));
    char parent[4200];
    folder_of(dir, parent, sizeof parent);
    check_folder(dir, parent);
}

/* The training data must be labelled and hold both classes (positives only with --negatives
 * shuffle, which adds the negatives). */
static void check_training_labels(const dm_dataset *ds, const char *path, bool shuffle) {
    int64_t n_pos = 0, n_neg = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        if (ds->label[i] != 0 && ds->label[i] != 1)
            fail(dm_error(DM_STATUS_FORMAT, "%s: sequence %lld ('%.60s') has no 0/1 label: training needs labelled "
                          "data (DeepBind, labelled FASTA or TSV)", path, (long long)i + 1, ds->id[i] ? ds->id[i] : ""));
        n_pos += ds->label[i] == 1;
        n_neg += ds->label[i] == 0;
    }
    if (n_pos == 0)
        fail(dm_error(DM_STATUS_FORMAT, "%s: the data hold no bound sequences: training needs bound ones%s", path,
                      shuffle ? "" : " and unbound ones"));
    if (n_neg == 0 && !shuffle)
        fail(dm_error(DM_STATUS_FORMAT, "%s: the data hold only bound sequences: training needs unbound ones too "
                      "(for positive-only files use --negatives shuffle)", path));
}

/* ---- metrics for the user ----------------------------------------------------------------------- */

static const char *const metric_name[3] = {"AUROC", "AUPRC", "accuracy"};

/* A metric of scored, labelled rows from `path`: NaN when undefined, with a warning on stderr that
 * says why ("AUROC undefined: the data hold only bound sequences"). */
static double metric(dm_metric which, const float *score, const int8_t *label, int64_t n, const char *path) {
    double v = which == DM_METRIC_AUROC ? dm_auroc(score, label, n)
             : which == DM_METRIC_AUPRC ? dm_auprc(score, label, n) : dm_accuracy(score, label, n);
    if (isfinite(v)) return v;
    const char *why = dm_metric_undefined(score, label, n, which);
    fprintf(stderr, "%s: warning: %s: %s undefined: %s\n", prog_cmd, path, metric_name[which],
            why ? why : dm_last_error());
    return NAN;
}

/* A metric as text: printf's `fmt` of it, or `undef` ("NA" in text and TSV, "null" in JSON). */
static const char *metric_text(char buf[32], double v, const char *fmt, const char *undef) {
    if (isfinite(v)) snprintf(buf, 32, fmt, v);
    else snprintf(buf, 32, "%s", undef);
    return buf;
}

/* ---- train ------------------------------------------------------------------------------------- */

/* SIGINT/SIGTERM during training: the first sets a flag that dm_train reads after every batch (it
 * finishes the batch, the checkpoint hook writes MODEL and MODEL.last, the CLI says what it kept and
 * exits 128 + the signal); a second one of either ends the process at once, as the default
 * disposition would. */
static volatile sig_atomic_t g_stop_signal;

static void on_stop_signal(int sig) {
    if (g_stop_signal) {
        signal(sig, SIG_DFL);   /* async-signal-safe; `sig` is blocked here and fires on return */
        raise(sig);
        return;
    }
    g_stop_signal = sig;
}

static void catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The checkpoint files of a training run, written by dm_train's hook.
 *
 * Commit order and invariant: at every epoch end MODEL is committed first (when the selected
 * weights changed, and always at the first checkpoint of a process), then MODEL.last; a failed
 * MODEL write stops before MODEL.last. So whatever a crash, kill or full disk interrupts, MODEL
 * holds the selected weights of the epochs ≤ the epoch recorded in MODEL.last, or of the next
 * epoch (killed between the two commits), which a resume from MODEL.last reproduces bit for bit.
 * An old MODEL is never paired with a newer MODEL.last (tests/test_resume.c checks it). */
typedef struct train_files {
    const char *out;
    char last[4200];
    const dm_hparams *hp;
    const dm_tensor_info *tensors;
    int32_t n_tensors;
    int64_t n_params;
    dm_provenance *prov;
    bool model_written;     /* MODEL committed by this process */
    int32_t kept_epoch;     /* the last commit of MODEL.last: epochs done (−1: none yet) */
    int64_t kept_batch;     /* and batches of the next epoch */
} train_files;

static dm_status save_model_pair(train_files *f, const float *best, const float *last, const dm_resume_state *st) {
    dm_utc_now(f->prov->created_utc);
    snprintf(f->prov->label, sizeof f->prov->label, "best");
    DM_TRY(dm_checkpoint_save(f->out, f->hp, f->tensors, f->n_tensors, best, f->n_params, f->prov, NULL));
    f->model_written = true;
    if (!last) return DM_STATUS_OK;
    snprintf(f->prov->label, sizeof f->prov->label, "last");
    DM_TRY(dm_checkpoint_save(f->last, f->hp, f->tensors, f->n_tensors, last, f->n_params, f->prov, st));
    f->kept_epoch = st->epoch_done;
    f->kept_batch = st->batch_done;
    return DM_STATUS_OK;
}

static dm_status train_checkpoint(void *ctx, const dm_train_checkpoint *c) {
    train_files *f = ctx;
    if (c->best_changed || !f->model_written)
        return save_model_pair(f, c->state->best_params, c->params, c->state);
    snprintf(f->prov->label, sizeof f->prov->label, "last");
    dm_utc_now(f->prov->created_utc);
    DM_TRY(dm_checkpoint_save(f->last, f->hp, f->tensors, f->n_tensors, c->params, f->n_params, f->prov, c->state));
    f->kept_epoch = c->state->epoch_done;
    f->kept_batch = c->state->batch_done;
    return DM_STATUS_OK;
}

/* Appends `a` to buf, in single quotes when the shell would otherwise split or expand it. */
static void shell_word(char *buf, size_t cap, const char *a) {
    size_t k = strlen(buf);
    bool plain = a[0] != 0;
    for (const char *p = a; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,+-@%", *p)) plain = false;
    if (plain) {
        snprintf(buf + k, cap - k, " %s", a);
        return;
    }
    k += (size_t)snprintf(buf + k, cap - k, " '");
    for (const char *p = a; *p && k + 5 < cap; p++) {
        if (*p == '\'') k += (size_t)snprintf(buf + k, cap - k, "'\\''");
        else buf[k++] = *p, buf[k] = 0;
    }
    if (k < cap) snprintf(buf + k, cap - k, "'");
}

/* The command that continues this run: its own arguments with --resume MODEL.last. */
static void resume_command(char *buf, size_t cap, int argc, char **argv, const char *last) {
    snprintf(buf, cap, "deepmotif train");
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--resume")) {
            i++;
            continue;
        }
        if (!strncmp(argv[i], "--resume=", 9)) continue;
        shell_word(buf, cap, argv[i]);
    }
    size_t k = strlen(buf);
    snprintf(buf + k, cap - k, " --resume");
    shell_word(buf, cap, last);
}

static int cmd_train(int argc, char **argv) {
    dm_opt opts[] = {
        {"--arch", "cnn|rnn|cnnrnn", "architecture (required)", NULL},
        {"--train", "FILE", "training data: DeepBind .seq.gz, labelled FASTA or TSV (required)", NULL},
        {"--test", "FILE", "test data, scored once with the selected weights", NULL},
        {"--out", "MODEL", "checkpoint to write (required); MODEL.last gets every epoch end, for --resume", NULL},
        {"--negatives", "none|shuffle", "shuffle: add one dinucleotide shuffle per positive (for _AC files)", NULL},
        {"--valid-frac", "F", "validation fraction of the training pairs (default 0.1)", NULL},
        {"--epochs", "N", "maximum epochs (default 50)", NULL},
        {"--batch", "N", "batch size (default 256)", NULL},
        {"--lr", "X", "initial learning rate, halved every 10 epochs (default 0.01)", NULL},
        {"--patience", "N", "early stopping patience in epochs (default 5)", NULL},
        {"--seed", "S", "64-bit seed for init, negatives, split, shuffle, dropout (default 1)", NULL},
        {"--threads", "N", "CPU threads (default: all cores)", NULL},
        {"--device", "cpu|cuda|auto", "compute device (default auto: CUDA when a GPU is usable)", NULL},
        {"--cudnn", NULL, "CUDA: cuDNN's convolution and LSTM instead of deepmotif's kernels", NULL},
        {"--protocol", "default|original", "default: shuffled batches, validation early stopping; "
                                          "original: DeMo's file-order loop", NULL},
        {"--len", "L", "sequence length (default 101)", NULL},
        {"--n-policy", "zero|quarter", "encoding of N and IUPAC codes (default zero)", NULL},
        {"--resume", "MODEL.last", "continue a run from its last checkpoint", NULL},
        {"--max-memory", "SIZE", "refuse data needing more host memory (K/M/G suffix; default half of RAM)", NULL},
        {"--quiet", NULL, "no progress lines", NULL},
        {0},
    };
    parse(argc, argv, opts, "deepmotif train --arch ARCH --train FILE --out MODEL [options]",
          "Trains one of the three Deep Motif Dashboard models and writes MODEL (the selected weights)\n"
          "and MODEL.last (the last epoch end with its optimiser state, for --resume), both at every epoch end.");
    const char *train_path = required(opts, "--train"), *out = required(opts, "--out");
    const char *resume = opt(opts, "--resume");
    dm_arch arch = DM_ARCH_CNN;
    if (!resume || opt(opts, "--arch")) CHECK(dm_arch_parse(required(opts, "--arch"), &arch));
    const char *proto = opt(opts, "--protocol") ? opt(opts, "--protocol") : "default";
    if (strcmp(proto, "default") && strcmp(proto, "original")) usage_error("--protocol must be default or original");
    dm_protocol protocol = strcmp(proto, "original") ? DM_PROTOCOL_DEFAULT : DM_PROTOCOL_ORIGINAL;
    dm_train_options o;
    dm_train_options_default(&o, protocol);
    o.epochs = (int32_t)int_opt(opts, "--epochs", o.epochs, 1, DM_MAX_EPOCHS);
    o.batch = (int32_t)int_opt(opts, "--batch", o.batch, 1, 1 << 16);
    o.lr = (float)num_opt(opts, "--lr", o.lr, 1e-8, 10);
    o.patience = (int32_t)int_opt(opts, "--patience", o.patience, 0, 1000);
    o.seed = seed_opt(opts);
    o.progress = !opt(opts, "--quiet");
    const char *npol = opt(opts, "--n-policy") ? opt(opts, "--n-policy") : "zero";
    if (strcmp(npol, "zero") && strcmp(npol, "quarter")) usage_error("--n-policy must be zero or quarter");
    o.n_quarter = !strcmp(npol, "quarter");
    double valid_frac = num_opt(opts, "--valid-frac", protocol == DM_PROTOCOL_ORIGINAL ? 0.0 : 0.1, 0, 0.9);
    const char *neg = opt(opts, "--negatives") ? opt(opts, "--negatives") : "none";
    if (strcmp(neg, "none") && strcmp(neg, "shuffle")) usage_error("--negatives must be none or shuffle");

    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = (int32_t)int_opt(opts, "--len", hp.len, 1, 100000);

    /* resume: hyper-parameters, weights and optimiser state come from MODEL.last */
    static dm_provenance prov;
    dm_resume_state state = {0};
    float *params = NULL;
    if (resume) {
        int64_t np;
        int32_t len_asked = hp.len;
        CHECK(dm_checkpoint_load(resume, dm_net_table, &hp, &params, &np, &prov, &state));
        if (!state.adam_m) fail(dm_error(DM_STATUS_FORMAT, "%s: no resume state (use the MODEL.last file)", resume));
        if (opt(opts, "--arch") && hp.arch != arch)
            fail(dm_error(DM_STATUS_FORMAT, "%s: the checkpoint's architecture is %s; it cannot resume as --arch %s",
                          resume, dm_arch_name(hp.arch), dm_arch_name(arch)));
        if (opt(opts, "--len") && hp.len != len_asked)
            fail(dm_error(DM_STATUS_FORMAT, "%s: a model of sequence length %d cannot resume with --len %d", resume,
                          (int)hp.len, (int)len_asked));
        if (o.seed != prov.seed && opt(opts, "--seed"))
            fprintf(stderr, "%s: warning: --seed %llu differs from the run's seed %llu; using the run's\n",
                    prog_cmd, (unsigned long long)o.seed, (unsigned long long)prov.seed);
        o.seed = prov.seed;
        /* what was not given again is the run's own, so a bare resume continues it unchanged */
        if (!opt(opts, "--protocol") && !strcmp(prov.protocol, "original")) {
            protocol = o.protocol = DM_PROTOCOL_ORIGINAL;
            valid_frac = 0;
        }
        if (!opt(opts, "--batch") && prov.batch >= 1) o.batch = prov.batch;
        if (!opt(opts, "--lr") && prov.lr0 > 0) o.lr = prov.lr0;
        if (!opt(opts, "--epochs") && prov.epochs_max >= 1 && prov.epochs_max <= DM_MAX_EPOCHS) o.epochs = prov.epochs_max;
        if (!opt(opts, "--valid-frac") && protocol == DM_PROTOCOL_DEFAULT) valid_frac = prov.valid_frac;
    }

    /* fail now, not after hours of training, when the outputs cannot be written */
    check_outs(out, (const char *const[]){"", ".last", NULL});

    /* data: training file (+ shuffled negatives), validation split, optional test file */
    /* Memory: the rows as read (R bytes each: codes, length, label, group, id) are held twice while
     * the validation split copies them, four times with --negatives shuffle (each positive gains a
     * negative); the reader stops at --max-memory / that factor, before the rest of a file is read. */
    uint64_t max_mem = size_opt(opts, "--max-memory", dm_memory_total() / 2);
    int mem_factor = strcmp(neg, "shuffle") ? 2 : 4;
    dm_dataset raw = {0}, full = {0}, tr = {0}, va = {0}, te = {0};
    dm_status rs = dm_dataset_read_max(&raw, train_path, DM_FORMAT_AUTO, hp.len, max_mem / (uint64_t)mem_factor);
    if (rs == DM_STATUS_NOMEM) {
        char why[512];
        snprintf(why, sizeof why, "%s", dm_last_error());
        fail(dm_error(rs, "%s; train holds about %dx that while splitting, over --max-memory %.0f MiB "
                      "(default: half of this machine's memory); raise --max-memory or use a smaller file",
                      why, mem_factor, (double)max_mem / 1048576.0));
    }
    CHECK(rs);
    if (raw.n_padded || raw.n_truncated)
        notice_add("%s: warning: %.900s: %lld sequence(s) shorter than %d padded, %lld longer truncated\n",
                   prog_cmd, train_path, (long long)raw.n_padded, hp.len, (long long)raw.n_truncated);
    double row_bytes = (double)dm_dataset_bytes(&raw) / (double)raw.n;
    check_training_labels(&raw, train_path, !strcmp(neg, "shuffle"));
    const char *test_path = opt(opts, "--test");   /* read before anything is computed */
    if (test_path) {
        /* the test rows and their packed copy sit beside the training data at its peak */
        uint64_t peak = (uint64_t)(row_bytes * (double)raw.n) * (uint64_t)mem_factor;
        load_data_max(&te, test_path, hp.len, max_mem > peak ? (max_mem - peak) / 2 : 1);
        if (!has_labels(&te)) fail(dm_error(DM_STATUS_FORMAT, "%s: --test needs labelled data", test_path));
    }
    if (!strcmp(neg, "shuffle")) {
        CHECK(dm_dataset_with_shuffled_negatives(&full, &raw, o.seed));
        dm_dataset_free(&raw);
    } else {
        full = raw;
    }
    if (protocol == DM_PROTOCOL_ORIGINAL) valid_frac = 0;
    CHECK(dm_dataset_split(&full, valid_frac, o.seed, &tr, &va));
    if (tr.n == 0)
        fail(dm_error(DM_STATUS_FORMAT, "%s: no training sequences are left after the validation split "
                      "(--valid-frac %g of %lld sequences)", train_path, valid_frac, (long long)full.n));
    for (int k = 0; k < 2; k++) {   /* both parts of the split need both classes */
        const dm_dataset *part = k ? &va : &tr;
        int64_t n_pos = 0;
        for (int64_t i = 0; i < part->n; i++) n_pos += part->label[i] == 1;
        if (part->n && (n_pos == 0 || n_pos == part->n))
            fail(dm_error(DM_STATUS_FORMAT, "%s: the %s part of the split (--valid-frac %g: %lld sequences) holds "
                          "one class only: use %s --valid-frac or more data", train_path, k ? "validation" : "training",
                          valid_frac, (long long)part->n, k ? "a larger" : "a smaller"));
    }
    dm_dataset_free(&full);   /* tr and va hold copies */

    dm_backend *be = make_backend(opts);
    notice_flush();
    dm_net *m;
    CHECK(dm_net_create(&m, &hp, be, o.batch));
    if (params) CHECK(dm_net_set_params(m, params));
    else CHECK(dm_net_init_params(m, o.seed));
    if (!resume) {
        record_input(&prov, "train", train_path);
        if (test_path) record_input(&prov, "test", test_path);
    }
    prov.threads = be->n_threads;
    prov.valid_frac = (float)valid_frac;
    snprintf(prov.version, sizeof prov.version, "%s", dm_version());
    describe_backend(be, prov.device, sizeof prov.device);
    catch_stop_signals();   /* from here a signal is honoured after the next batch (before the header
                             * line, so a caller that waits for it knows) */
    if (o.progress)
        fprintf(stderr, "deepmotif train: %s, %lld trained parameters; %lld training, %lld validation sequences; "
                "%s protocol, batch %d, %s\n", dm_arch_name(hp.arch), (long long)dm_net_n_trainable(m),
                (long long)tr.n, (long long)va.n, dm_protocol_name(protocol), o.batch, prov.device);
    if (o.progress) {
        int packed = (hp.len + 3) / 4 + (hp.len + 7) / 8 + 17;   /* dm_pack row + label, order, log-probs, loss */
        fprintf(stderr, "deepmotif train: memory: %.0f bytes per sequence as read, held twice at the split (peak %.1f MiB, "
                "--max-memory %.0f MiB); while training %.0f bytes on the host + %d packed on the backend per sequence\n",
                row_bytes, row_bytes * (double)(tr.n + va.n) * 2 / 1048576.0,
                (double)max_mem / 1048576.0, row_bytes + 13, packed);
    }

    int64_t np = dm_net_n_params(m);
    float *last = malloc(sizeof(float) * (size_t)np);
    if (!last) fail(dm_error(DM_STATUS_NOMEM, "out of memory"));

    /* MODEL and MODEL.last at every epoch end (train_files: the commit order), and at a signal */
    int32_t nt;
    const dm_tensor_info *tensors = dm_net_tensors(m, &nt);
    train_files files = {.out = out, .hp = &hp, .tensors = tensors, .n_tensors = nt, .n_params = np,
                         .prov = &prov, .kept_epoch = -1};
    snprintf(files.last, sizeof files.last, "%s.last", out);
    if (resume && !strcmp(resume, files.last)) {   /* resumed in place: the files on disk are this state */
        files.kept_epoch = state.epoch_done;
        files.kept_batch = state.batch_done;
    }
    prov.test_auroc = prov.test_auprc = prov.test_accuracy = NAN;   /* until the test set is scored */
    prov.n_test = 0;
    dm_train_stop stopped;
    o.checkpoint = train_checkpoint;
    o.checkpoint_ctx = &files;
    o.stop = &g_stop_signal;
    o.stopped = &stopped;
    const char *nan_at = getenv("DM_TEST_NAN");   /* tests only: "EPOCH:BATCH" poisons a weight there */
    if (nan_at && sscanf(nan_at, "%d:%d", &o.nan_epoch, &o.nan_batch) != 2) o.nan_epoch = o.nan_batch = 0;
    dm_status trained = dm_net_train(m, &tr, &va, &o, &prov, &state, last);
    if (trained != DM_STATUS_OK && stopped.diverged_epoch > 0) {
        /* one line: where it diverged and what is left on disk (never weights of a bad batch) */
        fprintf(stderr, "%s: %s; ", prog_cmd, dm_last_error());
        if (files.kept_epoch < 0) fprintf(stderr, "no checkpoint was written by this run\n");
        else if (files.kept_batch > 0)
            fprintf(stderr, "%s and %s hold the run as of batch %lld of epoch %d\n", out, files.last,
                    (long long)files.kept_batch, files.kept_epoch + 1);
        else fprintf(stderr, "%s and %s hold the run as of epoch %d\n", out, files.last, files.kept_epoch);
        exit(1);
    }
    CHECK(trained);
    if (stopped.signal) {
        int sig = stopped.signal;
        char cmd[8192];
        resume_command(cmd, sizeof cmd, argc, argv, files.last);
        char where[96], sel[160];
        if (state.batch_done > 0)
            snprintf(where, sizeof where, "in epoch %d after batch %d of %lld", state.epoch_done + 1, state.batch_done,
                     (long long)((tr.n + prov.batch - 1) / prov.batch));
        else
            snprintf(where, sizeof where, "after epoch %d", state.epoch_done);
        if (state.best_epoch == 0) snprintf(sel, sizeof sel, "the initial weights");
        else if (va.n) snprintf(sel, sizeof sel, "epoch %d, validation AUROC %.4f", state.best_epoch, state.best_valid);
        else if (protocol == DM_PROTOCOL_ORIGINAL)
            snprintf(sel, sizeof sel, "epoch %d, training AUROC %.4f", state.best_epoch, state.best_valid);
        else snprintf(sel, sizeof sel, "epoch %d", state.best_epoch);
        fprintf(stderr, "%s: interrupted by %s %s: kept %s (%s) and %s; resume with: %s\n", prog_cmd,
                sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal", where, out, sel, files.last, cmd);
        exit(128 + sig);
    }

    /* the test set is scored once, with the selected weights */
    prov.n_test = te.n;
    if (test_path) {
        float *scores = malloc(sizeof(float) * (size_t)te.n);
        if (!scores) fail(dm_error(DM_STATUS_NOMEM, "out of memory"));
        CHECK(dm_net_predict(m, &te, o.n_quarter, scores));
        prov.test_auroc = metric(DM_METRIC_AUROC, scores, te.label, te.n, test_path);
        prov.test_auprc = metric(DM_METRIC_AUPRC, scores, te.label, te.n, test_path);
        prov.test_accuracy = metric(DM_METRIC_ACCURACY, scores, te.label, te.n, test_path);
        free(scores);
    }

    /* MODEL: the selected weights; MODEL.last: the final epoch and its optimiser state; both again
     * with the complete provenance (log, test metrics), in the same order */
    float *best = malloc(sizeof(float) * (size_t)np);
    if (!best) fail(dm_error(DM_STATUS_NOMEM, "out of memory"));
    CHECK(dm_net_get_params(m, best));
    CHECK(save_model_pair(&files, best, last, &state));

    printf("model      %s (%s, epoch %d of %d run)\n", out, dm_arch_name(hp.arch), prov.best_epoch, prov.epochs_run);
    if (va.n) printf("valid      AUROC %.4f\n", state.best_valid);
    if (test_path) {
        char a[32], b[32], c[32];
        printf("test       n %lld  AUROC %s  AUPRC %s  accuracy %s\n", (long long)te.n,
               metric_text(a, prov.test_auroc, "%.4f", "NA"), metric_text(b, prov.test_auprc, "%.4f", "NA"),
               metric_text(c, prov.test_accuracy, "%.4f", "NA"));
    }
    printf("time       %.1f s, %.0f sequences/s\n", prov.train_seconds,
           (double)tr.n * prov.epochs_run / (prov.train_seconds > 0 ? prov.train_seconds : 1));
    free(best);
    free(last);
    free(params);
    dm_resume_state_free(&state);
    dm_net_free(m);
    dm_backend_free(be);
    dm_dataset_free(&full);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);
    dm_dataset_free(&te);
    return 0;
}

/* ---- eval and predict -------------------------------------------------------------------------- */

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
    if (row0 + ds->n > c->n) return DM_STATUS_OK;    /* the file grew: scan_again reports it */
    DM_TRY(dm_net_predict(c->m, ds, c->quarter, c->scores + row0));
    for (int64_t i = 0; i < ds->n; i++) {
        if (ds->label[i] != 0 && ds->label[i] != 1)
            return dm_error(DM_STATUS_IO, "%s: changed while being read (row %lld lost its label)", c->path,
                            (long long)(row0 + i + 1));
        c->labels[row0 + i] = ds->label[i];
    }
    return DM_STATUS_OK;
}

static int cmd_eval(int argc, char **argv) {
    dm_opt opts[] = {
        {"--model", "MODEL", "checkpoint written by train (required)", NULL},
        {"--data", "FILE", "labelled data (required)", NULL},
        {"--json", NULL, "print one JSON object: n, auroc, auprc, accuracy", NULL},
        {"--threads", "N", "CPU threads (default: all cores)", NULL},
        {"--device", "cpu|cuda|auto", "compute device (default auto: CUDA when a GPU is usable)", NULL},
        {"--cudnn", NULL, "CUDA: cuDNN's convolution and LSTM instead of deepmotif's kernels", NULL},
        {"--n-policy", "zero|quarter", "encoding of N and IUPAC codes (default zero)", NULL},
        {0},
    };
    parse(argc, argv, opts, "deepmotif eval --model MODEL --data FILE [--json]",
          "Scores labelled data with a trained model: n, AUROC (ties count 1/2), AUPRC, accuracy.\n"
          "An undefined metric (one class, one sequence) is NA (null in JSON), with a warning saying why.");
    bool quarter = n_quarter_opt(opts);
    dm_backend *be = make_backend(opts);
    static dm_provenance prov;
    dm_net *m = load_model(required(opts, "--model"), be, 256, &prov);
    /* streamed like predict: a checking pass (every line, the labels), then the scores chunk by chunk
     * (a multiple of the batch, so the scores are a whole-file run's); only the scores and labels of
     * all rows are kept, 5 bytes per sequence */
    const char *path = required(opts, "--data");
    int32_t len = dm_net_hparams(m)->len;
    int64_t chunk = stream_chunk(256);
    dm_dataset ds = {0};
    bool labelled;
    scan_data(&ds, &labelled, path, len, chunk);
    if (!labelled) fail(dm_error(DM_STATUS_FORMAT, "%s: eval needs labelled data (use predict)", path));
    notice_flush();
    eval_ctx ec = {.m = m, .quarter = quarter, .path = path, .n = ds.n,
                  .scores = malloc(sizeof(float) * (size_t)ds.n), .labels = malloc((size_t)ds.n)};
    if (!ec.scores || !ec.labels) fail(dm_error(DM_STATUS_NOMEM, "out of memory"));
    CHECK(scan_again(path, len, chunk, eval_chunk, &ec, &ds));
    float *scores = ec.scores;
    const int8_t *labels = ec.labels;
    /* an undefined metric (one class, one sequence) is null in JSON and NA in text, with a warning */
    double auroc = metric(DM_METRIC_AUROC, scores, labels, ds.n, path);
    double auprc = metric(DM_METRIC_AUPRC, scores, labels, ds.n, path);
    double acc = metric(DM_METRIC_ACCURACY, scores, labels, ds.n, path);
    char a[32], b[32], c[32];
    bool json = opt(opts, "--json") != NULL;
    const char *undef = json ? "null" : "NA";
    metric_text(a, auroc, json ? "%.6f" : "%.4f", undef);
    metric_text(b, auprc, json ? "%.6f" : "%.4f", undef);
    metric_text(c, acc, json ? "%.6f" : "%.4f", undef);
    if (json)
        printf("{\"n\": %lld, \"auroc\": %s, \"auprc\": %s, \"accuracy\": %s}\n", (long long)ds.n, a, b, c);
    else
        printf("n %lld\nAUROC %s\nAUPRC %s\naccuracy %s\n", (long long)ds.n, a, b, c);
    free(scores);
    free(ec.labels);
    dm_net_free(m);
    dm_backend_free(be);
    return 0;
}

typedef struct predict_ctx {
    dm_net *m;
    bool quarter, labelled;
    float *scores;   /* one chunk */
    dm_outfile f;
} predict_ctx;

static dm_status predict_chunk(void *ctx, const dm_dataset *ds, int64_t row0) {
    (void)row0;
    predict_ctx *c = ctx;
    DM_TRY(dm_net_predict(c->m, ds, c->quarter, c->scores));
    for (int64_t i = 0; i < ds->n; i++) {
        if (c->labelled) fprintf(c->f.f, "%s\t%d\t%.6g\n", ds->id[i], ds->label[i], c->scores[i]);
        else fprintf(c->f.f, "%s\t%.6g\n", ds->id[i], c->scores[i]);
    }
    return DM_STATUS_OK;
}

static int cmd_predict(int argc, char **argv) {
    dm_opt opts[] = {
        {"--model", "MODEL", "checkpoint written by train (required)", NULL},
        {"--data", "FILE", "sequences: any supported format, labelled or not (required)", NULL},
        {"--out", "FILE.tsv", "output: id, label (if known), score = P(bound) (required)", NULL},
        {"--threads", "N", "CPU threads (default: all cores)", NULL},
        {"--device", "cpu|cuda|auto", "compute device (default auto: CUDA when a GPU is usable)", NULL},
        {"--cudnn", NULL, "CUDA: cuDNN's convolution and LSTM instead of deepmotif's kernels", NULL},
        {"--n-policy", "zero|quarter", "encoding of N and IUPAC codes (default zero)", NULL},
        {0},
    };
    parse(argc, argv, opts, "deepmotif predict --model MODEL --data FILE --out FILE.tsv",
          "Writes P(bound) for every sequence, in input order.");
    const char *out = required(opts, "--out");
    bool quarter = n_quarter_opt(opts);
    check_out(out);
    dm_backend *be = make_backend(opts);
    static dm_provenance prov;
    dm_net *m = load_model(required(opts, "--model"), be, 256, &prov);
    const char *data = required(opts, "--data");
    int32_t len = dm_net_hparams(m)->len;
    int64_t chunk = stream_chunk(256);
    dm_dataset tot;
    bool labelled;
    scan_data(&tot, &labelled, data, len, chunk);
    notice_flush();
    predict_ctx c = {.m = m, .quarter = quarter, .labelled = labelled,
                     .scores = malloc(sizeof(float) * (size_t)chunk)};
    if (!c.scores) fail(dm_error(DM_STATUS_NOMEM, "out of memory"));
    CHECK(dm_outfile_open(&c.f, out));
    fprintf(c.f.f, labelled ? "id\tlabel\tscore\n" : "id\tscore\n");
    dm_status st = scan_again(data, len, chunk, predict_chunk, &c, &tot);
    if (st) {
        dm_outfile_abort(&c.f);
        fail(st);
    }
    CHECK(dm_outfile_commit(&c.f));
    fprintf(stderr, "%s: wrote %lld scores to %s\n", prog_cmd, (long long)tot.n, out);
    free(c.scores);
    dm_net_free(m);
    dm_backend_free(be);
    return 0;
}

/* ---- saliency ---------------------------------------------------------------------------------- */

static dm_status saliency_chunk(void *ctx, const dm_dataset *ds, int64_t row0) {
    return dm_saliency_rows(ctx, ds, row0);
}

static int cmd_saliency(int argc, char **argv) {
    dm_opt opts[] = {
        {"--model", "MODEL", "checkpoint written by train (required)", NULL},
        {"--data", "FILE", "sequences, any supported format (required)", NULL},
        {"--out", "PREFIX", "writes PREFIX.npy, .onehot.npy, .npz, .onehot.npz (key arr_0), .tsv (required)", NULL},
        {"--method", "M", "grad (default), grad-x-input, original (DeMo: |d(-log p_y)/dX| * X), "
                          "ig (integrated gradients), ism (in-silico mutagenesis)", NULL},
        {"--steps", "N", "ig: path steps (default 64)", NULL},
        {"--baseline", "zero|shuffle", "ig: all-zero input (default) or a dinucleotide shuffle of each sequence", NULL},
        {"--seed", "S", "ig: seed of the shuffled baselines (default 1)", NULL},
        {"--target", "pos|label", "class score: log P(bound) (default) or log P(true label)", NULL},
        {"--layout", "ncl|nlc", "array layout: (N, 4, L) (default, PyTorch/TF-MoDISco) or (N, L, 4)", NULL},
        {"--center", NULL, "mean-centre the gradient over the 4 bases (hypothetical contributions)", NULL},
        {"--batch", "N", "sequences per batch (default 256)", NULL},
        {"--threads", "N", "CPU threads (default: all cores)", NULL},
        {"--device", "cpu|cuda|auto", "compute device (default auto: CUDA when a GPU is usable)", NULL},
        {"--cudnn", NULL, "CUDA: cuDNN's convolution and LSTM instead of deepmotif's kernels", NULL},
        {"--n-policy", "zero|quarter", "encoding of N and IUPAC codes (default zero)", NULL},
        {"--quiet", NULL, "no progress line", NULL},
        {0},
    };
    parse(argc, argv, opts, "deepmotif saliency --model MODEL --data FILE --out PREFIX [options]",
          "Input-gradient saliency maps of a trained model, streamed in fixed-memory batches.");
    dm_saliency_options so = {0};
    if (opt(opts, "--method")) CHECK(dm_sal_method_parse(opt(opts, "--method"), &so.method));
    if (opt(opts, "--target")) CHECK(dm_sal_target_parse(opt(opts, "--target"), &so.target));
    const char *layout = opt(opts, "--layout") ? opt(opts, "--layout") : "ncl";
    if (strcmp(layout, "ncl") && strcmp(layout, "nlc")) usage_error("--layout must be ncl or nlc");
    so.nlc = !strcmp(layout, "nlc");
    so.center = opt(opts, "--center") != NULL;
    so.steps = (int)int_opt(opts, "--steps", 64, 1, 100000);
    const char *base = opt(opts, "--baseline") ? opt(opts, "--baseline") : "zero";
    if (strcmp(base, "zero") && strcmp(base, "shuffle")) usage_error("--baseline must be zero or shuffle");
    so.shuffle_baseline = !strcmp(base, "shuffle");
    so.seed = seed_opt(opts);
    so.n_quarter = n_quarter_opt(opts);
    so.progress = !opt(opts, "--quiet") && isatty(fileno(stderr));
    const char *prefix = required(opts, "--out");
    int batch = (int)int_opt(opts, "--batch", 256, 1, 1 << 16);
    check_outs(prefix, (const char *const[]){".npy", ".onehot.npy", ".npz", ".onehot.npz", ".tsv", NULL});
    dm_backend *be = make_backend(opts);
    static dm_provenance prov;
    dm_net *m = load_model(required(opts, "--model"), be, batch, &prov);
    const char *data = required(opts, "--data");
    int32_t len = dm_net_hparams(m)->len;
    int64_t chunk = stream_chunk(batch);
    dm_dataset tot;
    bool labelled;
    scan_data(&tot, &labelled, data, len, chunk);
    if ((so.target == DM_TARGET_LABEL || so.method == DM_SAL_ORIGINAL) && !labelled)
        fail(dm_error(DM_STATUS_FORMAT, "%s: saliency target 'label' and method 'original' need labelled data", data));
    notice_flush();
    double t0 = dm_now();
    dm_saliency_out *so_out;
    CHECK(dm_saliency_open(&so_out, m, tot.n, &so, prefix));
    dm_status st = scan_again(data, len, chunk, saliency_chunk, so_out, &tot);
    if (st) {
        dm_saliency_abort(so_out);
        fail(st);
    }
    CHECK(dm_saliency_commit(so_out));
    fprintf(stderr, "%s: %lld sequences in %.1f s; wrote %s.{npy,onehot.npy,npz,onehot.npz,tsv}\n", prog_cmd,
            (long long)tot.n, dm_now() - t0, prefix);
    dm_net_free(m);
    dm_backend_free(be);
    return 0;
}

/* ---- motif comparison ------------------------------------------------------------------------- */

/* The command line as one string, for the '#' lines of comparison outputs. */
static const char *cmdline_of(int argc, char **argv) {
    static char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s", prog_cmd);
    for (int i = 0; i < argc && n < sizeof buf; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, " %s", argv[i]);
    return buf;
}

/* Reads a motif database (MEME format) that must hold at least one motif. */
static void read_db(const char *path, dm_motif_set *db) {
    CHECK(dm_meme_read(path, db));
    if (!db->n) fail(dm_error(DM_STATUS_FORMAT, "%s: no motifs", path));
}

/* The comparison of `q` with a database, computed before anything is written. */
typedef struct dm_annotation {
    dm_compare_options co;
    dm_hit *hits;
    int nh;
} dm_annotation;

static void annotate_compute(const dm_motif_set *q, const dm_motif_set *db, dm_annotation *an) {
    dm_compare_options_default(&an->co);
    an->hits = NULL;
    an->nh = 0;
    CHECK(dm_compare(q, db, &an->co, &an->hits, &an->nh));
}

/* Writes out_path (TOMTOM-like TSV) and prints each query's best match; returns the status of the
 * write (the caller removes its other outputs on failure). */
static dm_status annotate_write(const dm_motif_set *q, const dm_motif_set *db, dm_annotation *an,
                                const char *out_path, const char *cmdline) {
    DM_TRY(dm_compare_write_tsv(out_path, q, db, an->hits, an->nh, &an->co, cmdline));
    const dm_hit *hits = an->hits;
    for (int i = 0; i < an->nh; i++)
        if (i == 0 || hits[i].query != hits[i - 1].query)
            printf("%-16s best match %s %s  p %.3g  q %.3g  (%c, offset %d)\n", q->m[hits[i].query].id,
                   db->m[hits[i].target].id, db->m[hits[i].target].name, hits[i].pvalue, hits[i].qvalue,
                   hits[i].orient, hits[i].offset);
    fprintf(stderr, "%s: %d matches (q <= %g) written to %s\n", prog_cmd, an->nh, an->co.thresh, out_path);
    free(an->hits);
    an->hits = NULL;
    return DM_STATUS_OK;
}

static int cmd_compare(int argc, char **argv) {
    dm_opt opts[] = {
        {"--query", "Q.meme", "query motifs, MEME format (required)", NULL},
        {"--db", "DB.meme", "target motifs, e.g. JASPAR in MEME format (required)", NULL},
        {"--out", "HITS.tsv", "TOMTOM-like TSV (required)", NULL},
        {"--top", "N", "matches reported per query (default 10)", NULL},
        {"--thresh", "Q", "q-value threshold (default 0.5)", NULL},
        {"--dist", "pearson|euclid", "column similarity (default pearson)", NULL},
        {"--seed", "S", "seed of the null distribution (default 1)", NULL},
        {0},
    };
    parse(argc, argv, opts, "deepmotif compare --query Q.meme --db DB.meme --out HITS.tsv",
          "TOMTOM-like comparison: every offset and both strands, column-wise similarity, p-values from a\n"
          "column-shuffled null, E = p x targets, Benjamini-Hochberg q-values.");
    dm_compare_options co;
    dm_compare_options_default(&co);
    co.top = (int)int_opt(opts, "--top", co.top, 1, 100000);
    co.thresh = num_opt(opts, "--thresh", co.thresh, 0, 1);
    co.seed = seed_opt(opts);
    const char *dist = opt(opts, "--dist") ? opt(opts, "--dist") : "pearson";
    if (strcmp(dist, "pearson") && strcmp(dist, "euclid")) usage_error("--dist must be pearson or euclid");
    co.dist = !strcmp(dist, "euclid");
    const char *out = required(opts, "--out"), *qpath = required(opts, "--query"), *dbpath = required(opts, "--db");
    check_out(out);
    dm_motif_set q = {0}, db = {0};
    CHECK(dm_meme_read(qpath, &q));
    read_db(dbpath, &db);
    dm_hit *hits = NULL;
    int nh = 0;
    CHECK(dm_compare(&q, &db, &co, &hits, &nh));
    CHECK(dm_compare_write_tsv(out, &q, &db, hits, nh, &co, cmdline_of(argc, argv)));
    fprintf(stderr, "%s: %d queries x %d targets: %d matches (q <= %g)\n", prog_cmd, q.n, db.n, nh, co.thresh);
    free(hits);
    dm_motif_set_free(&q);
    dm_motif_set_free(&db);
    return 0;
}

static int cmd_motifs(int argc, char **argv) {
    dm_opt opts[] = {
        {"--model", "MODEL", "a cnn or cnnrnn checkpoint (required)", NULL},
        {"--data", "FILE", "sequences whose windows align the filters, e.g. the positives (required)", NULL},
        {"--out", "PREFIX", "writes PREFIX.meme (and PREFIX.hits.tsv with --db) (required)", NULL},
        {"--frac", "F", "site threshold: activation > F x the filter's maximum (default 0.5)", NULL},
        {"--min-sites", "N", "filters with fewer sites are left out (default 10)", NULL},
        {"--db", "DB.meme", "name the filters against these motifs (e.g. JASPAR)", NULL},
        {"--threads", "N", "CPU threads (default: all cores)", NULL},
        {"--device", "cpu|cuda|auto", "compute device (default auto: CUDA when a GPU is usable)", NULL},
        {"--cudnn", NULL, "CUDA: cuDNN's convolution and LSTM instead of deepmotif's kernels", NULL},
        {0},
    };
    parse(argc, argv, opts, "deepmotif motifs --model MODEL --data FILE --out PREFIX [--db DB.meme]",
          "First-layer convolution filters as position probability matrices (activation alignment).");
    dm_motifs_options mo;
    dm_motifs_options_default(&mo);
    mo.frac = (float)num_opt(opts, "--frac", mo.frac, 0, 1);
    mo.min_sites = (int)int_opt(opts, "--min-sites", mo.min_sites, 1, 1 << 30);
    const char *prefix = required(opts, "--out"), *db_path = opt(opts, "--db");
    check_outs(prefix, (const char *const[]){".meme", db_path ? ".hits.tsv" : NULL, NULL});
    dm_backend *be = make_backend(opts);
    static dm_provenance prov;
    const char *model_path = required(opts, "--model");
    dm_net *m = load_model(model_path, be, 256, &prov);
    if (dm_net_hparams(m)->arch == DM_ARCH_RNN)
        fail(dm_error(DM_STATUS_FORMAT, "%s: an rnn model has no convolution filters (motifs needs a cnn or cnnrnn)",
                      model_path));
    dm_dataset ds = {0};
    load_data(&ds, required(opts, "--data"), dm_net_hparams(m)->len);
    dm_motif_set db = {0};
    if (db_path) read_db(db_path, &db);
    notice_flush();
    dm_motif_set set = {0};
    CHECK(dm_motifs_extract(m, &ds, &mo, &set));
    dm_annotation an = {0};
    if (db_path) annotate_compute(&set, &db, &an);
    char path[4200], hits_path[4200];
    snprintf(path, sizeof path, "%s.meme", prefix);
    snprintf(hits_path, sizeof hits_path, "%s.hits.tsv", prefix);
    CHECK(dm_meme_write(path, &set));
    fprintf(stderr, "%s: %d filters with >= %d sites written to %s\n", prog_cmd, set.n, mo.min_sites, path);
    if (db_path) {
        dm_status st = annotate_write(&set, &db, &an, hits_path, cmdline_of(argc, argv));
        if (st) {
            remove(path);
            fail(st);
        }
    }
    dm_motif_set_free(&db);
    dm_motif_set_free(&set);
    dm_dataset_free(&ds);
    dm_net_free(m);
    dm_backend_free(be);
    return 0;
}

/* ---- temporal ---------------------------------------------------------------------------------- */

typedef struct temporal_ctx {
    dm_net *m;
    int batch;
    bool quarter;
    float *x, *f, *b, *fb;   /* one batch: inputs, forward and backward scores, both interleaved */
    dm_npy_writer w;
    dm_outfile tsv;
} temporal_ctx;

static dm_status temporal_chunk(void *ctx, const dm_dataset *ds, int64_t row0) {
    (void)row0;
    temporal_ctx *c = ctx;
    int L = ds->len, batch = c->batch;
    float *x = c->x, *f = c->f, *b = c->b, *fb = c->fb;
    dm_status st = DM_STATUS_OK;
    for (int64_t i = 0; i < ds->n && !st; i += batch) {
        int B = (int)(ds->n - i < batch ? ds->n - i : batch);
        for (int64_t r = 0; r < (int64_t)B * L; r++)
            for (int ch = 0; ch < 4; ch++) {
                uint8_t code = ds->seq[(size_t)i * L + r];
                x[4 * r + ch] = code < 4 ? (float)(code == ch) : (code == DM_BASE_N && c->quarter ? 0.25f : 0.0f);
            }
        st = dm_net_temporal(c->m, x, B, f, b);
        for (int64_t r = 0; r < (int64_t)B * L && !st; r++) fb[2 * r] = f[r], fb[2 * r + 1] = b[r];
        if (!st) st = dm_npy_append(&c->w, fb, 2 * (int64_t)B * L);
        for (int k = 0; k < B && !st; k++) {
            fprintf(c->tsv.f, "%s\t", ds->id[i + k]);
            for (int l = 0; l < L; l++) fprintf(c->tsv.f, "%.5g%c", f[(size_t)k * L + l], l + 1 < L ? ',' : '\t');
            for (int l = 0; l < L; l++) fprintf(c->tsv.f, "%.5g%c", b[(size_t)k * L + l], l + 1 < L ? ',' : '\n');
        }
    }
    return st;
}

static int cmd_temporal(int argc, char **argv) {
    dm_opt opts[] = {
        {"--model", "MODEL", "an rnn or cnnrnn checkpoint (required)", NULL},
        {"--data", "FILE", "sequences, any supported format (required)", NULL},
        {"--out", "PREFIX", "writes PREFIX.npy (N, L, 2: forward, backward score) and PREFIX.tsv (required)", NULL},
        {"--batch", "N", "sequences per batch (default 64)", NULL},
        {"--threads", "N", "CPU threads (default: all cores)", NULL},
        {"--device", "cpu|cuda|auto", "compute device (default auto: CUDA when a GPU is usable)", NULL},
        {"--cudnn", NULL, "CUDA: cuDNN's convolution and LSTM instead of deepmotif's kernels", NULL},
        {"--n-policy", "zero|quarter", "encoding of N and IUPAC codes (default zero)", NULL},
        {0},
    };
    parse(argc, argv, opts, "deepmotif temporal --model MODEL --data FILE --out PREFIX",
          "Temporal output scores of a recurrent model: at every position i, P(bound) of the whole model\n"
          "on positions 1..i (forward) and i..L (backward).");
    const char *prefix = required(opts, "--out");
    int batch = (int)int_opt(opts, "--batch", 64, 1, 1 << 16);
    bool quarter = n_quarter_opt(opts);
    check_outs(prefix, (const char *const[]){".npy", ".tsv", NULL});
    dm_backend *be = make_backend(opts);
    static dm_provenance prov;
    const char *model_path = required(opts, "--model");
    dm_net *m = load_model(model_path, be, batch, &prov);
    if (dm_net_hparams(m)->arch == DM_ARCH_CNN)
        fail(dm_error(DM_STATUS_FORMAT, "%s: a cnn model; temporal scores need an rnn or cnnrnn model", model_path));
    const char *data = required(opts, "--data");
    int32_t L = dm_net_hparams(m)->len;
    int64_t chunk = stream_chunk(batch);
    dm_dataset tot;
    bool labelled;
    scan_data(&tot, &labelled, data, L, chunk);
    notice_flush();
    temporal_ctx c = {.m = m, .batch = batch, .quarter = quarter};
    c.x = malloc(sizeof(float) * 4 * (size_t)batch * L), c.f = malloc(sizeof(float) * (size_t)batch * L);
    c.b = malloc(sizeof(float) * (size_t)batch * L), c.fb = malloc(sizeof(float) * 2 * (size_t)batch * L);
    if (!c.x || !c.f || !c.b || !c.fb) fail(dm_error(DM_STATUS_NOMEM, "out of memory"));
    char npy[4200], tsvp[4200];
    snprintf(npy, sizeof npy, "%s.npy", prefix);
    snprintf(tsvp, sizeof tsvp, "%s.tsv", prefix);
    int64_t shape[3] = {tot.n, L, 2};
    CHECK(dm_npy_open(&c.w, npy, 3, shape));
    dm_status st = dm_outfile_open(&c.tsv, tsvp);
    if (st) { dm_npy_abort(&c.w); fail(st); }
    fprintf(c.tsv.f, "id\tforward\tbackward\n");
    double t0 = dm_now();
    st = scan_again(data, L, chunk, temporal_chunk, &c, &tot);
    bool npy_done = false;
    if (!st) npy_done = (st = dm_npy_commit(&c.w)) == DM_STATUS_OK;
    if (!st) st = dm_outfile_commit(&c.tsv);
    if (st) {
        dm_npy_abort(&c.w);
        dm_outfile_abort(&c.tsv);
        if (npy_done && !c.w.out.direct) remove(npy);   /* the pair goes together; a device stays */
        fail(st);
    }
    fprintf(stderr, "%s: %lld sequences in %.1f s; wrote %s and %s\n", prog_cmd, (long long)tot.n,
            dm_now() - t0, npy, tsvp);
    free(c.x); free(c.f); free(c.b); free(c.fb);
    dm_net_free(m);
    dm_backend_free(be);
    return 0;
}

/* ---- optimize ---------------------------------------------------------------------------------- */

static int cmd_optimize(int argc, char **argv) {
    dm_opt opts[] = {
        {"--model", "MODEL", "checkpoint written by train (required)", NULL},
        {"--out", "PREFIX", "writes PREFIX.meme, PREFIX.trajectory.tsv, PREFIX.fa (required)", NULL},
        {"--restarts", "N", "seeded restarts, optimised together in one batch (default 1, as the original)", NULL},
        {"--steps", "N", "RMSprop steps (default 1000)", NULL},
        {"--lr", "X", "RMSprop learning rate (default 0.05)", NULL},
        {"--lambda", "X", "L2 penalty on the input (default 0.009)", NULL},
        {"--param", "direct|softmax", "optimise X itself (default, the original) or X = softmax(Z) per position", NULL},
        {"--seed", "S", "seed of the U[0,1) starts (default 1)", NULL},
        {"--db", "DB.meme", "name the optimised PPMs against these motifs (e.g. JASPAR): PREFIX.hits.tsv", NULL},
        {"--threads", "N", "CPU threads (default: all cores)", NULL},
        {"--device", "cpu|cuda|auto", "compute device (default auto: CUDA when a GPU is usable)", NULL},
        {"--cudnn", NULL, "CUDA: cuDNN's convolution and LSTM instead of deepmotif's kernels", NULL},
        {0},
    };
    parse(argc, argv, opts, "deepmotif optimize --model MODEL --out PREFIX [options]",
          "Class optimisation: the input that maximises log P(bound) - lambda |X|^2, by RMSprop on the\n"
          "input, post-processed to a position probability matrix as in the Deep Motif Dashboard.");
    dm_optimize_options oo;
    dm_optimize_options_default(&oo);
    oo.restarts = (int32_t)int_opt(opts, "--restarts", oo.restarts, 1, 4096);
    oo.steps = (int32_t)int_opt(opts, "--steps", oo.steps, 0, 10000000);
    oo.lr = (float)num_opt(opts, "--lr", oo.lr, 1e-9, 100);
    oo.lambda = (float)num_opt(opts, "--lambda", oo.lambda, 0, 100);
    oo.seed = seed_opt(opts);
    const char *param = opt(opts, "--param") ? opt(opts, "--param") : "direct";
    if (strcmp(param, "direct") && strcmp(param, "softmax")) usage_error("--param must be direct or softmax");
    oo.softmax = !strcmp(param, "softmax");
    const char *prefix = required(opts, "--out"), *db_path = opt(opts, "--db");
    check_outs(prefix, (const char *const[]){".meme", ".trajectory.tsv", ".fa", db_path ? ".hits.tsv" : NULL, NULL});
    dm_backend *be = make_backend(opts);
    static dm_provenance prov;
    dm_net *m = load_model(required(opts, "--model"), be, oo.restarts, &prov);
    dm_motif_set db = {0};
    if (db_path) read_db(db_path, &db);
    notice_flush();
    int L = dm_net_hparams(m)->len, R = oo.restarts;
    float *x = malloc(sizeof(float) * 4 * (size_t)R * L), *ppm = malloc(sizeof(float) * 4 * (size_t)R * L);
    float *obj = malloc(sizeof(float) * (size_t)(oo.steps + 1) * R), *p = malloc(sizeof(float) * (size_t)R);
    if (!x || !ppm || !obj || !p) fail(dm_error(DM_STATUS_NOMEM, "out of memory"));
    double t0 = dm_now();
    CHECK(dm_net_optimize(m, &oo, x, ppm, obj, p));
    double secs = dm_now() - t0;
    /* the PPMs as a motif set (views into ppm), compared with the database before anything is written */
    dm_motif_set q = {.n = R, .m = calloc((size_t)R, sizeof(dm_motif))};
    if (!q.m) fail(dm_error(DM_STATUS_NOMEM, "out of memory"));
    for (int r = 0; r < R; r++) {
        snprintf(q.m[r].id, sizeof q.m[r].id, "restart_%d", r + 1);
        q.m[r].w = L;
        q.m[r].p = ppm + 4 * (size_t)r * L;
        q.m[r].nsites = 1;
    }
    dm_annotation an = {0};
    if (db_path) annotate_compute(&q, &db, &an);
    CHECK(dm_optimize_write(prefix, &oo, L, ppm, obj, p));
    for (int r = 0; r < R; r++)
        printf("restart %d  objective %.4f -> %.4f  P(bound) %.4f\n", r + 1, obj[r], obj[(size_t)oo.steps * R + r], p[r]);
    if (db_path) {
        char path[4200];
        snprintf(path, sizeof path, "%s.hits.tsv", prefix);
        dm_status st = annotate_write(&q, &db, &an, path, cmdline_of(argc, argv));
        if (st) {   /* no half-written set: the three files just written go too */
            static const char *const sfx[3] = {".meme", ".trajectory.tsv", ".fa"};
            for (int k = 0; k < 3; k++) {
                snprintf(path, sizeof path, "%s%s", prefix, sfx[k]);
                remove(path);
            }
            fail(st);
        }
    }
    free(q.m);
    dm_motif_set_free(&db);
    fprintf(stderr, "%s: %d restarts x %d steps in %.1f s (%.0f steps/s); wrote %s.meme, %s.trajectory.tsv, %s.fa\n",
            prog_cmd, R, oo.steps, secs, oo.steps / (secs > 0 ? secs : 1), prefix, prefix, prefix);
    free(x); free(ppm); free(obj); free(p);
    dm_net_free(m);
    dm_backend_free(be);
    return 0;
}

/* ---- dashboard --------------------------------------------------------------------------------- */

static void log_line(void *ctx, const char *line) {
    (void)ctx;
    notice_flush();   /* the dashboard logs only once its inputs have been read */
    fprintf(stderr, "%s: %s\n", prog_cmd, line);
}

static int cmd_dashboard(int argc, char **argv) {
    dm_opt opts[] = {
        {"--model", "MODEL", "a checkpoint; repeat for each model, e.g. the cnn, rnn and cnnrnn (required)", NULL},
        {"--data", "FILE", "test data, any supported format (required)", NULL},
        {"--out", "DIR", "writes DIR/index.html and the raw outputs beside it (required)", NULL},
        {"--index", "DIR...", "instead: OUT/index.html over the dashboards in these directories", NULL},
        {"--top", "K", "test sequences shown, by mean P(bound) over the models (default 10)", NULL},
        {"--db", "DB.meme", "name the optimised and filter motifs against these (e.g. JASPAR)", NULL},
        {"--restarts", "N", "class-optimisation restarts per model (default 8)", NULL},
        {"--steps", "N", "class-optimisation RMSprop steps (default 1000)", NULL},
        {"--hits", "N", "database matches listed per motif (default 3)", NULL},
        {"--filters", "N", "filter logos shown per model, most significant first (default 24; 0: all)", NULL},
        {"--name", "NAME", "data set name (default: the data file name without _B and extensions)", NULL},
        {"--figures", NULL, "also write every figure as a standalone SVG under DIR/figures/", NULL},
        {"--seed", "S", "seed of the optimisation starts and the comparison's null (default 1)", NULL},
        {"--threads", "N", "CPU threads (default: all cores)", NULL},
        {"--device", "cpu|cuda|auto", "compute device (default auto: CUDA when a GPU is usable)", NULL},
        {"--cudnn", NULL, "CUDA: cuDNN's convolution and LSTM instead of deepmotif's kernels", NULL},
        {"--n-policy", "zero|quarter", "encoding of N and IUPAC codes (default zero)", NULL},
        {0},
    };
    /* --model repeats and --index takes every following non-option: set them aside before parsing */
    const char **models = malloc(sizeof(char *) * (size_t)(argc + 1)), **dirs = malloc(sizeof(char *) * (size_t)(argc + 1));
    char **rest = malloc(sizeof(char *) * (size_t)(argc + 1));
    if (!models || !dirs || !rest) fail(dm_error(DM_STATUS_NOMEM, "out of memory"));
    int nm = 0, nd = 0, nr = 0;
    bool index = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) models[nm++] = argv[++i];
        else if (!strncmp(argv[i], "--model=", 8)) models[nm++] = argv[i] + 8;
        else if (!strcmp(argv[i], "--index")) {
            index = true;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2)) dirs[nd++] = argv[++i];
        } else rest[nr++] = argv[i];
    }
    parse(nr, rest, opts, "deepmotif dashboard --model MODEL [--model MODEL ...] --data FILE --out DIR [options]\n"
                          "       deepmotif dashboard --index DIR... --out DIR",
          "Writes a self-contained HTML report (inline SVG, no network) comparing the models on the data: model\n"
          "cards, training and ROC/PR curves, saliency logos, heatmaps and temporal scores of the top sequences,\n"
          "class-optimised and filter motifs with their database matches; or an index page over many reports.");
    const char *out = required(opts, "--out");
    if (index) {
        if (nm || opt(opts, "--data")) usage_error("--index takes report directories, not --model or --data");
        if (!nd) usage_error("--index needs at least one report directory");
        check_out_dir(out);
        char path[4200];
        CHECK(dm_dashboard_index(dirs, nd, out, cmdline_of(argc, argv), path));
        printf("index      %s (%d data sets)\n", path, nd);
        free(models); free(dirs); free(rest);
        return 0;
    }
    if (!nm) usage_error("missing --model");
    if (nm > DM_DASH_MAX_MODELS) usage_error("at most %d models", DM_DASH_MAX_MODELS);
    dm_dashboard_options o;
    dm_dashboard_options_default(&o);
    o.top = (int)int_opt(opts, "--top", o.top, 1, 100000);
    o.restarts = (int)int_opt(opts, "--restarts", o.restarts, 1, 4096);
    o.steps = (int)int_opt(opts, "--steps", o.steps, 0, 10000000);
    o.hits = (int)int_opt(opts, "--hits", o.hits, 1, 100);
    o.max_filters = (int)int_opt(opts, "--filters", o.max_filters, 0, 1 << 20);
    o.figures = opt(opts, "--figures") != NULL;
    o.seed = seed_opt(opts);
    o.db = opt(opts, "--db");
    o.name = opt(opts, "--name");
    const char *npol = opt(opts, "--n-policy") ? opt(opts, "--n-policy") : "zero";
    if (strcmp(npol, "zero") && strcmp(npol, "quarter")) usage_error("--n-policy must be zero or quarter");
    o.n_quarter = !strcmp(npol, "quarter");
    o.cmdline = cmdline_of(argc, argv);
    o.log = log_line;
    const char *data = required(opts, "--data");
    check_out_dir(out);
    if (o.figures) {   /* DIR/figures, when it exists, must be a folder that takes files */
        char fig[4200];
        snprintf(fig, sizeof fig, "%s/figures", out);
        struct stat st;
        if (stat(fig, &st) == 0) check_out_dir(fig);
    }
    dm_backend *be = make_backend(opts);
    dm_dashboard_result res;
    double t0 = dm_now();
    CHECK(dm_dashboard_write(models, nm, data, out, be, &o, &res));
    for (int i = 0; i < res.n_models; i++) {
        char a[32], b[32];   /* undefined (one class in the data): NA, as the report's summary.tsv has it */
        printf("%-10s AUROC %s  AUPRC %s\n", res.tag[i], metric_text(a, res.auroc[i], "%.4f", "NA"),
               metric_text(b, res.auprc[i], "%.4f", "NA"));
    }
    printf("dashboard  %s (%.1f s)\n", res.index, dm_now() - t0);
    free(models); free(dirs); free(rest);
    dm_backend_free(be);
    return 0;
}

/* ---- simulate ---------------------------------------------------------------------------------- */

static int cmd_simulate(int argc, char **argv) {
    dm_opt opts[] = {
        {"--out", "FILE", "output, DeepBind TSV (gzip when FILE ends in .gz) (required)", NULL},
        {"--n", "N", "number of positives; each gets one shuffled negative (default 5000)", NULL},
        {"--len", "L", "sequence length (default 101)", NULL},
        {"--motifs", "A,B,...", "built-in motifs to plant (default: the first; see --list)", NULL},
        {"--gc", "F", "background GC fraction (default 0.42)", NULL},
        {"--seed", "S", "seed (default 1)", NULL},
        {"--list", NULL, "list the built-in motifs and exit", NULL},
        {0},
    };
    parse(argc, argv, opts, "deepmotif simulate --out FILE [options]",
          "Writes a labelled data set: random background with one planted motif instance per positive\n"
          "(name:start:strand in the EventID) and a dinucleotide shuffle of each positive as its negative.");
    if (opt(opts, "--list")) {
        for (int i = 0; i < dm_sim_motif_count(); i++)
            printf("%s\t%d\n", dm_sim_motif_name(i), dm_sim_motif_width(i));
        return 0;
    }
    dm_sim_options so;
    dm_sim_options_default(&so);
    so.n_pos = int_opt(opts, "--n", so.n_pos, 1, 100000000);
    so.len = (int32_t)int_opt(opts, "--len", so.len, 10, 100000);
    so.gc = num_opt(opts, "--gc", so.gc, 0, 1);
    so.seed = seed_opt(opts);
    so.motifs = opt(opts, "--motifs");
    const char *out = required(opts, "--out");
    check_out(out);
    dm_dataset ds = {0};
    CHECK(dm_simulate(&ds, &so));
    CHECK(dm_dataset_write_deepbind(&ds, out));
    fprintf(stderr, "%s: wrote %lld sequences (%lld bound) to %s\n", prog_cmd, (long long)ds.n,
            (long long)so.n_pos, out);
    dm_dataset_free(&ds);
    return 0;
}

/* ---- main -------------------------------------------------------------------------------------- */

static void print_version(void) {
    printf("deepmotif %s\n", dm_version());
#ifdef DM_CUDA_EMU
    printf("backends: cpu, cuda (on the CPU emulator: a test build)\n");
#else
    printf("backends: cpu%s\n", dm_backend_cuda_built() ? ", cuda" : "");
#endif
    printf("blas: %s\n", dm_blas_info());
    printf("cpu: %s, %d cores\n", dm_cpu_name(), omp_get_num_procs());
}

static void print_usage(FILE *f) {
    fprintf(f,
            "usage: deepmotif COMMAND [options]\n\n"
            "Trains and evaluates the Deep Motif Dashboard models of transcription-factor binding.\n\n"
            "commands:\n"
            "  train      train a CNN, RNN (bidirectional LSTM) or CNN-RNN; write a checkpoint\n"
            "  eval       AUROC, AUPRC and accuracy on labelled data\n"
            "  predict    P(bound) for every sequence, as TSV\n"
            "  saliency   attribution maps: gradients, integrated gradients, mutagenesis (.npy, .npz, TSV)\n"
            "  temporal   temporal output scores of a recurrent model (.npy, TSV)\n"
            "  optimize   class optimisation: the ideal bound input as a PPM (MEME)\n"
            "  motifs     first-layer filters as PPMs (MEME)\n"
            "  compare    TOMTOM-like comparison of motifs with a database (JASPAR)\n"
            "  simulate   a labelled data set with planted motifs (the bundled default)\n"
            "  dashboard  an HTML report comparing models on a data set (or an index over many)\n\n"
            "  --version  version, backends and BLAS\n"
            "  --help     this help; 'deepmotif COMMAND --help' for a command's options\n");
}

/* The library prints nothing; the CLI prints what it reports (dm_set_log) on stderr: log lines
 * whole, the progress status rewriting itself in place (set on a terminal only), overwritten by the
 * next log line or ended by a newline. */
static bool cli_status_open;   /* a status line is on the terminal, not yet ended */

static void cli_log(void *ctx, dm_log_level level, const char *msg) {
    fprintf(stderr, "%s%s\n", cli_status_open ? "\r" : "", msg);
    cli_status_open = false;
}

static void cli_progress(void *ctx, const char *what, int64_t done, int64_t total, const char *msg) {
    if (msg) {
        fprintf(stderr, "\r%s   ", msg);
        cli_status_open = true;
    } else if (cli_status_open) {
        fputc('\n', stderr);
        cli_status_open = false;
    }
}

int main(int argc, char **argv) {
    dm_set_log(cli_log, isatty(fileno(stderr)) ? cli_progress : NULL, NULL);
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        print_version();
        return 0;
    }
    static char name[64];
    snprintf(name, sizeof name, "deepmotif %s", cmd);
    prog_cmd = name;
    if (!strcmp(cmd, "train")) return cmd_train(argc - 2, argv + 2);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 2, argv + 2);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc - 2, argv + 2);
    if (!strcmp(cmd, "saliency")) return cmd_saliency(argc - 2, argv + 2);
    if (!strcmp(cmd, "optimize")) return cmd_optimize(argc - 2, argv + 2);
    if (!strcmp(cmd, "temporal")) return cmd_temporal(argc - 2, argv + 2);
    if (!strcmp(cmd, "motifs")) return cmd_motifs(argc - 2, argv + 2);
    if (!strcmp(cmd, "compare")) return cmd_compare(argc - 2, argv + 2);
    if (!strcmp(cmd, "simulate")) return cmd_simulate(argc - 2, argv + 2);
    if (!strcmp(cmd, "dashboard")) return cmd_dashboard(argc - 2, argv + 2);
    prog_cmd = "deepmotif";
    usage_error("unknown command '%s'", cmd);
}
