/*
 * dm_internal.h: what the host modules share and the public header does not promise: atomic file
 * output, checksums, parameter tables, provenance and checkpoints. Errors, argument checks,
 * allocation helpers and logging come from the base layer (base/dm_base.h), shared with kernels/.
 */
#ifndef DM_INTERNAL_H
#define DM_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "deepmotif.h"
#include "dm_base.h"   /* errors, argument checks, allocation, logging (base/) */

/* ---- bounded reading (host/data.c) ------------------------------------------------------------ */

/* Memory of this machine, or of its cgroup v2 limit (memory.max) when that is lower: bytes. */
uint64_t dm_memory_total(void);

/* dm_dataset_read holding at most max_bytes (0: no limit) of rows and ids: past it, _NOMEM naming
 * the file and line, before the rest is read. dm_dataset_read is this with half dm_memory_total(). */
dm_status dm_dataset_read_max(dm_dataset *ds, const char *path, dm_format format, int32_t len,
                              uint64_t max_bytes);

/* A data set handed in by a caller is usable by the engine's loops: not NULL, n ≥ 0 and, with
 * rows, len ≥ 1 and its seq array present (the loops that need labels check them themselves).
 * DM_STATUS_ARG naming `fn` otherwise (host/dataset.c). */
dm_status dm_dataset_check(const dm_dataset *ds, const char *fn);

/* True when rows i and j of `ds` have the same length (≥ 1), first and last code and dinucleotide
 * counts: j can be a dinucleotide shuffle of i (host/dataset.c). */
bool dm_rows_same_composition(const dm_dataset *ds, int64_t i, int64_t j);

/* Labelled FASTA / TSV (and dm_train's arrays with fresh negatives): a negative right after a
 * positive whose shuffle it is joins its group (host/data.c). */
void dm_dataset_pair_shuffles(dm_dataset *ds);

/* The negatives of `ds` that are dinucleotide shuffles of a positive (train --fresh-negatives): rows
 * of label 0 whose group holds a positive with the same composition (dm_rows_same_composition; the
 * first such, in row order). *pairs = malloc'd (negative row, its positive's row) × *n_pairs, NULL
 * when there are none. Returns _OK, _ARG, _NOMEM. */
dm_status dm_dataset_shuffle_pairs(const dm_dataset *ds, int64_t **pairs, int64_t *n_pairs);

/* Epoch `epoch`'s fresh negatives: for each pair, row `negative` of codes ((n, len), the data set's
 * rows otherwise) becomes a dinucleotide shuffle of its positive (padding as the positive's), from
 * the fresh-negatives stream of `seed` indexed by the epoch, keyed by the negative's row. */
void dm_dataset_fresh_negatives(uint8_t *codes, const dm_dataset *ds, const int64_t *pairs, int64_t n_pairs,
                                uint64_t seed, int32_t epoch);

/* Host bytes a data set's rows and ids hold (the per-row arrays and each id's heap block). */
uint64_t dm_dataset_bytes(const dm_dataset *ds);

/* The consumer of a scan's chunk: rows row0 .. row0 + chunk->n − 1 of the file. A status other than
 * _OK stops the scan and is returned by it. */
typedef dm_status (*dm_chunk_fn)(void *ctx, const dm_dataset *chunk, int64_t row0);

/* Reads path in chunks of chunk_rows rows (the last one shorter), handing each to fn (NULL: parse and
 * count only, i.e. validate), so memory stays at one chunk whatever the file's size. *totals gets n,
 * the format and the padded/truncated/ambiguous counts (no arrays). Chunks carry chunk-local groups
 * and no shuffle pairing (whole-file properties). Errors are dm_dataset_read's, naming the file and
 * line; chunks before a bad line have been handed over, so consumers that must not act on a bad
 * file scan it once with fn NULL first. */
dm_status dm_dataset_scan(const char *path, dm_format format, int32_t len, int64_t chunk_rows,
                          dm_chunk_fn fn, void *ctx, dm_dataset *totals);

/* dm_dataset_scan with the reading and decoding of chunk k + 1 on a reader thread while fn works on
 * chunk k on the calling thread (host/prefetch.c): two chunk buffers, their codes in the backend's
 * host_alloc memory (pinned on CUDA; be NULL or without the op: malloc). fn sees the same chunks, row0
 * and order as with dm_dataset_scan, and the errors are the same. */
dm_status dm_dataset_scan_prefetch(const char *path, dm_format format, int32_t len, int64_t chunk_rows,
                                   dm_chunk_fn fn, void *ctx, dm_dataset *totals, dm_backend *be);

/* ---- output files (host/fileio.c) ------------------------------------------------------------- */

/* An output file. A path that does not exist or names a regular file (or a symbolic link to one, or
 * a dangling link) is written atomically: a fresh temporary file is created in the destination folder
 * with O_CREAT|O_EXCL|O_NOFOLLOW under a random hidden name ".<basename>.dmtmp.<pid>.<random6>", mode
 * 0666 & ~umask; commit flushes it, fsyncs it, renames it over the path (a link at the path is
 * replaced, never written through) and fsyncs the folder, so a reader never sees a partial file and a
 * failure leaves nothing behind. The commit then removes stale temporaries of the same output in that
 * folder left by processes that no longer exist (same user, pid gone, no lock held), and nothing else.
 *
 * An existing path that is not a regular file (a character or block device such as /dev/null or
 * /dev/full, a FIFO, or a link to one) is written directly, without temporary or rename. "-" and
 * /dev/stdout (/dev/stderr, /dev/fd/N, /proc/self/fd/N) write to that descriptor of this process.
 * Write errors of every kind are reported with their reason ("PATH: write failed: No space left on
 * device").
 *
 * For tests, the environment variable DM_FAULT injects faults into commits (fileio.c explains). */
typedef struct dm_outfile {
    FILE *f;              /* write here; fseek works when the output is a regular file */
    int fd;               /* f's descriptor, for writers that bypass stdio (gzip): dup() it */
    char path[4096];      /* the output path as given */
    char tmp[256];        /* the temporary file's name in the folder; "" when written directly */
    int dirfd;            /* the destination folder (atomic outputs), else -1 */
    int base;             /* offset of the basename in path */
    int fault;            /* DM_FAULT action for this output: 0 none */
    bool direct;          /* written in place: a device, FIFO or standard stream */
    bool active;          /* opened, not yet committed or aborted */
    bool dir_sync;        /* dirfd can be fsynced and read */
    void *err;            /* the stream's record of its first write error */
} dm_outfile;

/* Opens `path` for writing (above). _IO with the reason when the folder is not writable, the path is
 * a directory, or the device cannot be opened; _ARG for an empty or too long path or a malformed
 * DM_FAULT. On failure nothing is left to abort (dm_outfile_abort is harmless). */
dm_status dm_outfile_open(dm_outfile *o, const char *path);

/* Flush, fsync, rename into place, fsync the folder, remove stale temporaries. On failure (_IO,
 * "PATH: write failed: REASON") the temporary file is removed. Either way the outfile is closed. */
dm_status dm_outfile_commit(dm_outfile *o);

/* Discards unwritten data, closes and removes the temporary file. A no-op on an outfile that was
 * zero-initialised, failed to open, or was already committed or aborted. */
void dm_outfile_abort(dm_outfile *o);

/* The errno of the first failed write to the output (kept by its stream even when stdio reports only
 * a sticky error later), else errno when non-zero, else EIO: the reason for "write failed: REASON". */
int dm_outfile_errno(const dm_outfile *o);

/* Whether `path` could be opened by dm_outfile_open, without writing to it or opening a device or
 * FIFO (a FIFO would see an early end of file): the same _IO/_ARG messages. A temporary file is
 * created and removed in the folder. Does not count as an opened output for DM_FAULT's #N. */
dm_status dm_outfile_check(const char *path);

/* Size and SHA-256 (lower-case hex, 64 chars + NUL) of a whole file (host/sha256.c). _IO or _NOMEM
 * on failure. */
dm_status dm_file_sha256(const char *path, uint64_t *bytes, char hex[65]);

/* SHA-256 of a buffer (host/sha256.c). */
void dm_sha256(const void *data, size_t n, uint8_t digest[32]);

/* ---- input files (host/util.c) ---------------------------------------------------------------- */

/* The check a reader makes on a file it has just opened as `fd`: a directory is DM_STATUS_IO
 * "<path>: is a directory" (open(2) and fopen accept one for reading; the first read fails with a
 * less helpful message, or, for fseek-based sizing, not at all). *size (when non-NULL) receives the
 * size of a regular file, -1 for anything else (a FIFO, a device). */
dm_status dm_input_check(const char *path, int fd, int64_t *size);

/* ---- parameter tables ------------------------------------------------------------------------- */

#define DM_MAX_TENSORS 64

/* One named parameter tensor, a view into the model's flat parameter arena (canonical layout,
 * SPEC.md §3: conv W (C_out, K, C_in), dense W (C_out, C_in), LSTM W_ih (4H, D), W_hh (4H, H)). */
typedef struct dm_tensor_info {
    char name[40];        /* e.g. "conv1.weight", "lstm.fwd.weight_ih", "fc.bias" */
    int32_t ndim;
    int64_t shape[4];
    int64_t offset;       /* in floats, into the parameter arena */
    int64_t numel;
} dm_tensor_info;

/* ---- provenance and checkpoints (host/checkpoint.c) ------------------------------------------- */

#define DM_MAX_INPUTS 4
#define DM_MAX_EPOCHS 1000

typedef struct dm_input_file {
    char role[16];        /* "train", "test", "valid" */
    char path[1024];      /* as given on the command line */
    uint64_t bytes;
    char sha256[65];
} dm_input_file;

/* One row of the training log. */
typedef struct dm_epoch_log {
    int32_t epoch;        /* 1-based */
    float lr;
    double train_loss;    /* mean training loss over the epoch */
    double valid_loss;    /* NaN when there is no validation set */
    double valid_auroc;   /* NaN when there is no validation set */
    double seconds;       /* wall time of the epoch */
} dm_epoch_log;

/* Where a model came from and how it did. Stored in every checkpoint. */
typedef struct dm_provenance {
    char version[64];     /* dm_version() of the writer */
    char protocol[16];    /* "default" or "original" */
    char device[128];     /* "cpu: <cpu model>, N threads" */
    char created_utc[32]; /* ISO 8601 */
    char label[16];       /* "best" (selected weights) or "last" (final epoch) */
    uint64_t seed;
    int32_t threads;
    int32_t batch;
    float lr0;
    float valid_frac;
    float ema;            /* decay of the weight average the selection used (train --ema); 0: none */
    int32_t restarts;     /* dead starts retrained from a new initialisation before these weights
                           * (dm_train_options.restarts); 0: none */
    bool fresh_negatives; /* trained with a new shuffle of each paired negative every epoch (train
                           * --fresh-negatives; dm_train_options.fresh_negatives) */
    int32_t epochs_max;
    int32_t epochs_run;
    int32_t best_epoch;   /* epoch whose weights these are (label "best") */
    int64_t n_train, n_valid, n_test;
    double train_seconds;
    double test_auroc, test_auprc, test_accuracy;  /* NaN when no test set was given */
    int32_t n_inputs;
    dm_input_file inputs[DM_MAX_INPUTS];
    int32_t n_epochs;     /* rows of log */
    dm_epoch_log log[DM_MAX_EPOCHS];
} dm_provenance;

/* What training needs to continue exactly where it stopped (stored in the "last" checkpoint). */
typedef struct dm_resume_state {
    int32_t epoch_done;   /* epochs completed */
    int64_t adam_t;       /* Adam step counter */
    float lr;             /* learning rate for the next epoch */
    double best_valid;    /* best selection value so far (dm_train_criterion: the validation AUROC,
                           * or minus the validation loss; the training AUROC under the original
                           * protocol) */
    int32_t best_epoch;
    int32_t bad_epochs;   /* epochs since the best (early stopping) */
    float *adam_m;        /* (n_params) */
    float *adam_v;        /* (n_params) */
    float *best_params;   /* (n_params) weights of best_epoch */
    /* Mid-epoch state (checkpoint format 2), for a run stopped inside epoch epoch_done + 1 by a
     * signal: batch_done > 0 batches of that epoch (of size `batch`) have been run; the first
     * rows_done visiting positions' log-softmax and NLL are kept so the epoch's training AUROC and
     * loss come out as in an uninterrupted run. batch_done = 0 at an epoch boundary (format 1). */
    int32_t batch_done;
    int32_t batch;
    int64_t rows_done;
    float *part_logprob;  /* (rows_done, 2) */
    float *part_loss;     /* (rows_done) */
    float *avg;           /* (n_params) the weights' moving average (train --ema), or NULL */
} dm_resume_state;

/* Writes a checkpoint atomically: magic, format version, hyper-parameters, the tensor table with
 * shapes, the parameters (canonical layout), provenance, the resume state if non-NULL, and a CRC-32
 * over everything (format: host/checkpoint.c). Returns _OK, _IO, _ARG (path too long), _NOMEM. */
dm_status dm_checkpoint_save(const char *path, const dm_hparams *hp, const dm_tensor_info *tensors,
                             int32_t n_tensors, const float *params, int64_t n_params,
                             const dm_provenance *prov, const dm_resume_state *resume);

/* Reads a checkpoint. *params (and the arrays of *resume, when the file has a resume state and
 * `resume` is non-NULL; otherwise they are NULL) are malloc'd for the caller. The tensor table is
 * checked against the one the model of *hp would have (`expect`, built by the caller from *hp via
 * `make_table`). Truncated, corrupt (CRC), foreign (magic) or newer (version) files are
 * DM_STATUS_CORRUPT with a message naming the file (an empty file too; _IO only when it cannot be
 * opened or read); never a crash. *hp is output only; *resume is overwritten without freeing what it
 * held. */
typedef int32_t (*dm_table_fn)(const dm_hparams *hp, dm_tensor_info *tensors, int64_t *n_params);
dm_status dm_checkpoint_load(const char *path, dm_table_fn make_table, dm_hparams *hp,
                             float **params, int64_t *n_params, dm_provenance *prov,
                             dm_resume_state *resume);

void dm_resume_state_free(dm_resume_state *r);

/* What a checkpoint may add to one model (format 3, host/checkpoint.c): the reverse-complement
 * flags (DM_RC_* of host/model.h) and an ensemble's further members. */
#define DM_RC_AUGMENT 1u    /* trained on both strands (recorded; no effect on prediction) */
#define DM_RC_AVERAGE 2u    /* a sequence's score is the mean of its and its reverse complement's P */
typedef struct dm_ckpt_extra {
    uint32_t rc;          /* 0: none (and for any file without a PRED section) */
    int32_t n_members;    /* 1: a single model; N ≥ 2: PARM is member 0, `members` the others */
    float *members;       /* ((n_members − 1), n_params); on loading malloc'd for the caller */
} dm_ckpt_extra;

/* dm_checkpoint_save / _load with the extra part; `x` NULL (or rc 0 and one member) writes the
 * format-1/2 file dm_checkpoint_save writes. dm_checkpoint_load reads member 0 of an ensemble and
 * ignores the rc flags; dm_checkpoint_load_ex fills *x (members NULL for a single model; free it
 * with dm_ckpt_extra_free). A damaged PRED or ENSM section is DM_STATUS_CORRUPT naming the file. */
dm_status dm_checkpoint_save_ex(const char *path, const dm_hparams *hp, const dm_tensor_info *tensors,
                                int32_t n_tensors, const float *params, int64_t n_params,
                                const dm_provenance *prov, const dm_resume_state *resume, const dm_ckpt_extra *x);
dm_status dm_checkpoint_load_ex(const char *path, dm_table_fn make_table, dm_hparams *hp, float **params,
                                int64_t *n_params, dm_provenance *prov, dm_resume_state *resume, dm_ckpt_extra *x);
void dm_ckpt_extra_free(dm_ckpt_extra *x);

/* ---- misc (host/util.c) ------------------------------------------------------------------------ */

double dm_now(void);                      /* CLOCK_MONOTONIC seconds */
const char *dm_git_commit(void);          /* the commit built ("abc123def456", "-dirty" if modified) */
void dm_utc_now(char buf[32]);            /* "2026-11-24T12:00:00Z" */
const char *dm_cpu_name(void);            /* from /proc/cpuinfo; "unknown cpu" otherwise */

#endif /* DM_INTERNAL_H */
