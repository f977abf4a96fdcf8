/*
 * common.c: the steps the commands share (see cli.h): notices, data, the device, models, streaming,
 * output checks, metrics.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dist.h"
#include "netio.h"

/* ---- notices ----------------------------------------------------------------------------------- */

static char g_notice[2048];

void cli_notice_flush(void) {
    if (g_notice[0]) fputs(g_notice, stderr);
    g_notice[0] = 0;
}

/* Appends a line to the waiting notices (printf-style; cut short when the buffer is full). */
void cli_notice_add(const char *fmt, ...) {
    size_t used = strlen(g_notice);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_notice + used, sizeof g_notice - used, fmt, ap);
    va_end(ap);
}

void cli_note_padding(const dm_dataset *ds, const char *path, int32_t len) {
    if (ds->n_padded || ds->n_truncated)
        cli_notice_add("%s: warning: %.900s: %lld sequence(s) shorter than %d padded, %lld longer truncated\n",
                       cli_prog, path, (long long)ds->n_padded, len, (long long)ds->n_truncated);
}

void *cli_alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) cli_fail(dm_error(DM_STATUS_NOMEM, "out of memory"));
    return p;
}

/* ---- data -------------------------------------------------------------------------------------- */

/* Reads a whole data set holding at most max_bytes (past it: an error naming the file and line). */
void cli_load_data_max(dm_dataset *ds, const char *path, int32_t len, uint64_t max_bytes) {
    CLI_CHECK(dm_dataset_read_max(ds, path, DM_FORMAT_AUTO, len, max_bytes));
    cli_note_padding(ds, path, len);
}

void cli_load_data(dm_dataset *ds, const char *path, int32_t len) {
    CLI_CHECK(dm_dataset_read(ds, path, DM_FORMAT_AUTO, len));
    cli_note_padding(ds, path, len);
}

/* ---- genomic coordinates: --bed, --genome ------------------------------------------------------ */

bool cli_bed_input(const cli_args *a, const char *data_opt, const char *other_bed) {
    bool bed = cli_flag(a, "--bed"), data = cli_flag(a, data_opt);
    bool other = other_bed && cli_flag(a, other_bed);
    if (bed && data) cli_usage_error("--bed replaces %s: give one of them", data_opt);
    if (!bed && !data) cli_usage_error("missing %s (or --bed REGIONS.bed with --genome GENOME.fa)", data_opt);
    if ((bed || other) && !cli_flag(a, "--genome"))
        cli_usage_error("%s needs --genome GENOME.fa (the sequences of its regions)", bed ? "--bed" : other_bed);
    if (!bed && !other) {
        static const char *const only_bed[] = {"--genome", "--resize", "--label-col", NULL};
        for (int k = 0; only_bed[k]; k++)
            if (cli_flag(a, only_bed[k])) cli_usage_error("%s goes with --bed REGIONS.bed", only_bed[k]);
    }
    return bed;
}

dm_resize cli_resize(const cli_args *a) {
    const char *v = cli_opt_or(a, "--resize", "center");
    return !strcmp(v, "start") ? DM_RESIZE_START : !strcmp(v, "end") ? DM_RESIZE_END : DM_RESIZE_CENTER;
}

int cli_label_col(const cli_args *a) { return (int)cli_int(a, "--label-col", 0, 4, 64); }

/* Reads, resizes and checks a BED file against --genome; *g gets the open genome. */
static void read_regions(dm_regions *rs, dm_genome **g, const cli_args *a, const char *bed, int32_t len) {
    CLI_CHECK(dm_bed_read(bed, cli_label_col(a), rs));
    dm_regions_resize(rs, len, cli_resize(a));
    CLI_CHECK(dm_genome_open(g, cli_required(a, "--genome")));
    CLI_CHECK(dm_regions_check(rs, *g));
}

void cli_load_bed(dm_dataset *ds, const cli_args *a, const char *bed, int32_t len, uint64_t max_bytes,
                  dm_regions *regions) {
    dm_regions rs;
    dm_genome *g;
    read_regions(&rs, &g, a, bed, len);
    if (!max_bytes) max_bytes = dm_memory_total() / 2;
    /* the rows as dm_dataset_read counts them: codes, length, label, group, id pointer and id */
    double bytes = (double)rs.n * ((double)len + 21 + 8 + 48);
    if (bytes > (double)max_bytes)
        cli_fail(dm_error(DM_STATUS_NOMEM, "%s: %lld regions of %d bp need about %.1f MiB, over the memory limit %.1f MiB",
                          bed, (long long)rs.n, (int)len, bytes / 1048576.0, (double)max_bytes / 1048576.0));
    CLI_CHECK(dm_regions_dataset(&rs, g, len, ds));
    dm_genome_close(g);
    if (regions) *regions = rs;
    else dm_regions_free(&rs);
}

int64_t cli_load_peaks(dm_dataset *ds, const cli_args *a, const char *bed, int32_t len, const char *neg,
                       uint64_t seed, uint64_t max_bytes) {
    dm_regions rs, nr = {0};
    dm_genome *g;
    read_regions(&rs, &g, a, bed, len);
    int64_t *pair = NULL;
    if (!strncmp(neg, "flank:", 6)) {
        long long d = atoll(neg + 6);   /* checked by the caller (cli_negatives) */
        CLI_CHECK(dm_negatives_flank(&rs, g, d, &nr, &pair));
        cli_notice_add("%s: %lld peaks, %lld flanking negatives %lld bp away (%lld of %lld dropped: overlapping a peak, "
                       "past a chromosome end or made twice)\n", cli_prog, (long long)rs.n, (long long)nr.n, d,
                       (long long)(2 * rs.n - nr.n), (long long)(2 * rs.n));
    } else if (!strcmp(neg, "gc-matched")) {
        const char *bg_path = cli_required(a, "--background");
        dm_regions bg;
        CLI_CHECK(dm_bed_read(bg_path, 0, &bg));
        dm_gc_report rep;
        CLI_CHECK(dm_negatives_gc(&rs, &bg, g, len, seed, &nr, &pair, &rep));
        dm_regions_free(&bg);
        if (rep.found < rep.wanted)
            cli_notice_add("%s: warning: %s: %lld GC-matched negatives for %lld peaks: some GC bins of the peaks have "
                           "too few background windows (%lld windows in all); use a larger --background\n", cli_prog,
                           bg_path, (long long)rep.found, (long long)rep.wanted, (long long)rep.candidates);
    }
    double bytes = (double)(rs.n + nr.n) * ((double)len + 21 + 8 + 48);
    if (bytes > (double)max_bytes)
        cli_fail(dm_error(DM_STATUS_NOMEM, "%s: %lld peaks and negatives of %d bp need about %.1f MiB, over the memory "
                          "limit %.1f MiB", bed, (long long)(rs.n + nr.n), (int)len, bytes / 1048576.0,
                          (double)max_bytes / 1048576.0));
    CLI_CHECK(dm_peaks_dataset(&rs, &nr, pair, g, len, ds, NULL));
    int64_t n_neg = nr.n;
    free(pair);
    dm_regions_free(&nr);
    dm_regions_free(&rs);
    dm_genome_close(g);
    return n_neg;
}

const char *cli_load_input(dm_dataset *ds, const cli_args *a, const char *data_opt, int32_t len,
                           dm_regions *regions) {
    if (regions) memset(regions, 0, sizeof *regions);
    if (cli_bed_input(a, data_opt, NULL)) {
        const char *bed = cli_opt_str(a, "--bed");
        cli_load_bed(ds, a, bed, len, 0, regions);
        return bed;
    }
    const char *path = cli_opt_str(a, data_opt);
    cli_load_data(ds, path, len);
    return path;
}

bool cli_has_labels(const dm_dataset *ds) {
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->label[i] != 0 && ds->label[i] != 1) return false;
    return ds->n > 0;
}

/* ---- streaming --data -------------------------------------------------------------------------- */

#define STREAM_CHUNK 8192

/* First pass: labels all 0/1. */
static dm_status chunk_labels(void *ctx, const dm_dataset *chunk, int64_t row0) {
    (void)row0;
    bool *labelled = ctx;
    for (int64_t i = 0; i < chunk->n; i++) *labelled &= chunk->label[i] == 0 || chunk->label[i] == 1;
    return DM_STATUS_OK;
}

/* The file is read twice, so it must be a regular file. The caller flushes the waiting notices once
 * its own checks of the input (labels) have passed. */
void cli_stream_scan(cli_stream *s, const char *path, int32_t len, int batch) {
    memset(s, 0, sizeof *s);
    s->path = path;
    s->len = len;
    s->chunk = (STREAM_CHUNK + batch - 1) / batch * (int64_t)batch;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) cli_fail(dm_error(DM_STATUS_IO, "%s: is a directory", path));
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        cli_fail(dm_error(DM_STATUS_IO, "%s: not a regular file: %s reads its input twice (a checking pass, then "
                          "the computation); save it to a file first", path, cli_prog));
    bool lab = true;
    CLI_CHECK(dm_dataset_scan(path, DM_FORMAT_AUTO, len, s->chunk, chunk_labels, &lab, &s->tot));
    s->labelled = lab && s->tot.n > 0;
    s->row1 = s->tot.n;
    cli_note_padding(&s->tot, path, len);
}

void cli_stream_open(cli_stream *s, const cli_args *a, int32_t len, int batch) {
    if (!cli_bed_input(a, "--data", NULL)) {
        cli_stream_scan(s, cli_opt_str(a, "--data"), len, batch);
        return;
    }
    memset(s, 0, sizeof *s);
    s->path = cli_opt_str(a, "--bed");
    s->len = len;
    s->chunk = (STREAM_CHUNK + batch - 1) / batch * (int64_t)batch;
    s->regions = cli_alloc(sizeof *s->regions);
    read_regions(s->regions, &s->genome, a, s->path, len);
    bool lab = s->regions->n > 0;
    for (int64_t i = 0; i < s->regions->n; i++) lab &= s->regions->r[i].label == 0 || s->regions->r[i].label == 1;
    s->labelled = lab;
    s->tot.n = s->regions->n;
    s->tot.len = len;
    s->tot.format = lab ? DM_FORMAT_LABELLED_FASTA : DM_FORMAT_FASTA;
    s->row1 = s->tot.n;
}

void cli_stream_close(cli_stream *s) {
    if (s->regions) dm_regions_free(s->regions);
    free(s->regions);
    dm_genome_close(s->genome);
    s->regions = NULL;
    s->genome = NULL;
}

void cli_stream_prefetch(cli_stream *s, dm_backend *be) {
    const char *env = getenv("DM_STREAM_PREFETCH");
    bool on = env && *env ? strcmp(env, "0") != 0 : be->device[0] != 0;   /* device[]: a CUDA backend */
    s->prefetch = on ? be : NULL;
}

/* The scan of the computing pass: on a reader thread a chunk ahead, or on this one. */
static dm_status stream_scan(const cli_stream *s, dm_chunk_fn fn, void *ctx, dm_dataset *tot) {
    if (s->prefetch) return dm_dataset_scan_prefetch(s->path, DM_FORMAT_AUTO, s->len, s->chunk, fn, ctx, tot, s->prefetch);
    return dm_dataset_scan(s->path, DM_FORMAT_AUTO, s->len, s->chunk, fn, ctx, tot);
}

/* --bed: the regions' sequences read from the genome a chunk at a time (fixed memory). */
static dm_status stream_regions(const cli_stream *s, dm_chunk_fn fn, void *ctx) {
    dm_regions *view = malloc(sizeof *view);
    if (!view) return dm_error(DM_STATUS_NOMEM, "out of memory");
    *view = *s->regions;
    dm_status st = DM_STATUS_OK;
    for (int64_t row0 = s->row0; row0 < s->row1 && !st; row0 += s->chunk) {
        view->r = s->regions->r + row0;
        view->n = s->row1 - row0 < s->chunk ? s->row1 - row0 : s->chunk;
        dm_dataset ds;
        st = dm_regions_dataset(view, s->genome, s->len, &ds);
        if (!st) st = fn(ctx, &ds, row0);
        dm_dataset_free(&ds);
    }
    free(view);
    return st;
}

/* A shard's rows of the file: chunks cut to [row0, row1) (their starts stay multiples of the batch, so
 * the batches are a whole-file run's); the scan stops past row1. */
typedef struct range_ctx {
    const cli_stream *s;
    dm_chunk_fn fn;
    void *ctx;
    bool stopped;
} range_ctx;

static dm_status range_chunk(void *ctx, const dm_dataset *chunk, int64_t row0) {
    range_ctx *r = ctx;
    int64_t a = r->s->row0 > row0 ? r->s->row0 : row0;
    int64_t b = r->s->row1 < row0 + chunk->n ? r->s->row1 : row0 + chunk->n;
    if (a < b) {
        dm_dataset v = *chunk;   /* a view of rows a..b of the chunk */
        int64_t k = a - row0;
        v.n = b - a;
        v.seq = chunk->seq + (size_t)k * chunk->len;
        v.seq_len = chunk->seq_len ? chunk->seq_len + k : NULL;
        v.label = chunk->label ? chunk->label + k : NULL;
        v.group = chunk->group ? chunk->group + k : NULL;
        v.id = chunk->id ? chunk->id + k : NULL;
        DM_TRY(r->fn(r->ctx, &v, a));
    }
    if (row0 + chunk->n >= r->s->row1) {
        r->stopped = true;
        return DM_STATUS_CANCELLED;   /* the rest of the file belongs to later shards */
    }
    return DM_STATUS_OK;
}

/* The second pass must see the rows the first one counted. */
dm_status cli_stream_run(const cli_stream *s, dm_chunk_fn fn, void *ctx) {
    if (s->regions) return stream_regions(s, fn, ctx);
    dm_dataset tot;
    if (s->row0 != 0 || s->row1 != s->tot.n) {
        range_ctx r = {.s = s, .fn = fn, .ctx = ctx};
        if (s->row0 >= s->row1) return DM_STATUS_OK;   /* a shard without rows */
        dm_status st = stream_scan(s, range_chunk, &r, &tot);
        return r.stopped && st == DM_STATUS_CANCELLED ? DM_STATUS_OK : st;
    }
    DM_TRY(stream_scan(s, fn, ctx, &tot));
    if (tot.n != s->tot.n)
        return dm_error(DM_STATUS_IO, "%s: changed while being read (%lld sequences, then %lld)", s->path,
                        (long long)s->tot.n, (long long)tot.n);
    return DM_STATUS_OK;
}

/* ---- the device and the model ------------------------------------------------------------------ */

/* --device cpu|cuda|auto (default auto: CUDA when a device is usable, else one notice and the CPU). */
/* --reproducible: the fixed-order CPU backend with --threads threads (its results do not depend on them),
 * whatever --device says (--device cuda and --cudnn are usage errors: the GPU's kernels are not the
 * reproducible ones). */
dm_backend *cli_backend_reproducible(const cli_args *a) {
    if (!strcmp(cli_opt_or(a, "--device", "cpu"), "cuda") || cli_flag(a, "--cudnn"))
        cli_usage_error("--reproducible trains on the CPU: it does not go with --device cuda or --cudnn");
    dm_backend *be = dm_backend_cpu_reproducible_create((int)cli_int(a, "--threads", 0, 0, 64));
    if (!be) cli_fail(dm_error(DM_STATUS_NOMEM, "cannot create the CPU backend"));
    return be;
}

dm_backend *cli_backend(const cli_args *a) {
    const char *dev = cli_opt_or(a, "--device", "auto");
    bool cudnn = cli_flag(a, "--cudnn");
    if (strcmp(dev, "cpu")) {
        dm_backend *be;
        /* under mpirun, one GPU per rank of a machine: its local rank's (the emulator has one device,
         * shared) */
#ifdef DM_CUDA_EMU
        int device = 0;
#else
        int device = dm_dist_local_rank();
#endif
        dm_status s = dm_backend_cuda_create(&be, device);
        if (s == DM_STATUS_OK && cudnn && (s = dm_backend_cuda_cudnn(be)) != DM_STATUS_OK) cli_fail(s);
        if (s == DM_STATUS_OK) return be;
        if (!strcmp(dev, "cuda")) cli_fail(s);
        if (dm_backend_cuda_built())   /* a CPU-only build has nothing to announce */
            cli_notice_add("%s: notice: %.300s; running on the CPU (--device cpu silences this)\n", cli_prog,
                           dm_last_error());
    }
    if (cudnn) cli_fail(dm_error(DM_STATUS_BACKEND, "--cudnn needs the CUDA backend (--device %s runs on the CPU)", dev));
    int threads = (int)cli_int(a, "--threads", 0, 0, 64);
    dm_backend *be = dm_backend_cpu_create(threads);
    if (!be) cli_fail(dm_error(DM_STATUS_NOMEM, "cannot create the CPU backend"));
    return be;
}

/* The device a run used, for provenance and progress lines. */
void cli_describe_backend(const dm_backend *be, char *buf, size_t n) {
    if (be->device[0]) snprintf(buf, n, "%.120s", be->device);
    else snprintf(buf, n, "cpu: %s, %d threads", dm_cpu_name(), be->n_threads);
}

void cli_record_input(dm_provenance *prov, const char *role, const char *path) {
    if (prov->n_inputs >= DM_MAX_INPUTS) return;
    dm_input_file *f = &prov->inputs[prov->n_inputs++];
    snprintf(f->role, sizeof f->role, "%s", role);
    snprintf(f->path, sizeof f->path, "%s", path);
    CLI_CHECK(dm_file_sha256(path, &f->bytes, f->sha256));
}

dm_net *cli_load_model(const char *path, dm_backend *be, int batch) {
    dm_net *m;
    CLI_CHECK(dm_net_load(path, be, batch, &m, NULL));
    return m;
}

void cli_single_model(dm_net *m, const char *path, const char *command) {
    if (dm_net_n_members(m) > 1)
        cli_fail(dm_error(DM_STATUS_FORMAT, "%s: an ensemble of %d models; %s needs one model (give a member, "
                          "MODEL.seedS, written beside it by train --seeds)", path, (int)dm_net_n_members(m), command));
}

/* ---- outputs, checked before any is written ---------------------------------------------------- */

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
    if (stat(dir, &st) != 0) cli_fail(dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(errno)));
    if (!S_ISDIR(st.st_mode)) cli_fail(dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(ENOTDIR)));
    if (access(dir, W_OK | X_OK) != 0) cli_fail(dm_error(DM_STATUS_IO, "%s: cannot write: %s", path, strerror(errno)));
}

/* dm_outfile_check: a new or regular file needs a folder that takes a new (temporary) file; an
 * existing file that is not a regular one (a device such as /dev/null, a FIFO) must be writable
 * itself; "-" is standard output; a directory is refused. */
void cli_check_out(const char *path) { CLI_CHECK(dm_outfile_check(path)); }

const char *cli_path(char *buf, const char *prefix, const char *suffix) {
    if (snprintf(buf, CLI_PATH_MAX, "%s%s", prefix, suffix) >= CLI_PATH_MAX)
        cli_fail(dm_error(DM_STATUS_ARG, "%s: path too long", prefix));
    return buf;
}

void cli_check_outs(const char *prefix, const char *const *suffix) {
    char path[CLI_PATH_MAX];
    for (int k = 0; suffix[k]; k++) cli_check_out(cli_path(path, prefix, suffix[k]));
}

/* An output folder: an existing folder that takes new files, or a new one whose parent does. */
void cli_check_out_dir(const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) cli_fail(dm_error(DM_STATUS_IO, "%s: exists and is not a directory", dir));
        check_folder(dir, dir);
        return;
    }
    if (errno != ENOENT) cli_fail(dm_error(DM_STATUS_IO, "%s: cannot write: %s", dir, strerror(errno)));
    char parent[4200];
    folder_of(dir, parent, sizeof parent);
    check_folder(dir, parent);
}

/* ---- metrics and the command line -------------------------------------------------------------- */

static const char *const metric_name[3] = {"AUROC", "AUPRC", "accuracy"};

double cli_metric(dm_metric which, const float *score, const int8_t *label, int64_t n, const char *path) {
    double v = which == DM_METRIC_AUROC ? dm_auroc(score, label, n)
             : which == DM_METRIC_AUPRC ? dm_auprc(score, label, n) : dm_accuracy(score, label, n);
    if (isfinite(v)) return v;
    const char *why = dm_metric_undefined(score, label, n, which);
    fprintf(stderr, "%s: warning: %s: %s undefined: %s\n", cli_prog, path, metric_name[which],
            why ? why : dm_last_error());
    return NAN;
}

const char *cli_metric_text(char buf[32], double v, const char *fmt, const char *undef) {
    if (isfinite(v)) snprintf(buf, 32, fmt, v);
    else snprintf(buf, 32, "%s", undef);
    return buf;
}

const char *cli_cmdline(const cli_args *a) {
    static char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s", cli_prog);
    for (int i = 0; i < a->argc && n < sizeof buf; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, " %s", a->argv[i]);
    return buf;
}
