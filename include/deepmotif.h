/*
 * deepmotif.h: the public C API of deepmotif.
 *
 * deepmotif trains and evaluates the three classifiers of the Deep Motif Dashboard (Lanchantin et
 * al., PSB 2017) on transcription-factor binding data: a CNN, a bidirectional LSTM ("RNN") and a
 * CNN-RNN. Reference behaviour: shared/design/SPEC.md. This header compiles as C11 and C++ and needs
 * no CUDA.
 *
 * Conventions
 *  - Every function that can fail returns dm_status; on failure dm_last_error() holds one line
 *    ("file:line: what"), naming the input file and line where the failure is the input's fault.
 *  - Tensors are float32, row-major, (B, L, C) channels-last. Base codes: 0..3 = A, C, G, T.
 *  - Objects come in _create/_free pairs; _free(NULL) is a no-op.
 *  - Arguments are checked: a NULL pointer, a count out of range or an inconsistent data set is
 *    DM_STATUS_ARG with a message, never a crash or an abort (functions without a status: NaN for
 *    the metrics, nothing written for dm_dinuc_shuffle). The library never prints (dm_set_log).
 */
#ifndef DEEPMOTIF_H
#define DEEPMOTIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define DM_API __declspec(dllexport)
#else
#define DM_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------------------------------------
 * Status and errors
 * ------------------------------------------------------------------------------------------- */

typedef enum dm_status {
    DM_STATUS_OK = 0,
    DM_STATUS_IO,        /* a file could not be opened, read or written */
    DM_STATUS_FORMAT,    /* malformed input: the message names file and line */
    DM_STATUS_ARG,       /* an argument out of range, or shapes that do not fit */
    DM_STATUS_NOMEM,     /* an allocation failed */
    DM_STATUS_CORRUPT,   /* a checkpoint failed its checks (magic, version, size, CRC) */
    DM_STATUS_BACKEND,   /* the compute backend failed or is unavailable */
} dm_status;

/* Human-readable name of a status ("format error", ...). Never NULL. */
DM_API const char *dm_status_str(dm_status s);

/* The message of the last failure on this thread; "" when there was none. */
DM_API const char *dm_last_error(void);

/* Version string "0.1.0 (commit)". */
DM_API const char *dm_version(void);

/* ---------------------------------------------------------------------------------------------
 * Logging and progress (base/log.c)
 *
 * The library never writes to stdout or stderr and never exits: what it has to say (training's
 * epoch lines, progress of long calls) goes to the callbacks the caller sets with dm_set_log. By
 * default none is set and nothing is said. The command-line program sets callbacks that print to
 * stderr; the Python package shows a progress bar.
 * ------------------------------------------------------------------------------------------- */

typedef enum dm_log_level {
    DM_LOG_INFO = 0,     /* a result line: "epoch 3/50  loss 0.4213  valid loss ...", early stop */
    DM_LOG_WARN = 1,     /* something the caller should know that did not stop the call */
    DM_LOG_ERROR = 2,    /* an internal error just before the process aborts (a library bug) */
} dm_log_level;

/* One finished line, without its newline. A log line also ends any progress status line shown
 * before it (a terminal front end overwrites the status line with it). */
typedef void (*dm_log_fn)(void *ctx, dm_log_level level, const char *msg);

/* Progress of a long call. `what` names the task ("train", "saliency"); `done` of `total` units
 * (training: sequences over the whole run, total = epochs x sequences, a maximum since early
 * stopping may end sooner; saliency: sequences; total 0 when unknown). `msg` is a one-line status
 * that replaces the task's previous one ("epoch 2/10  batch 12/40  loss 0.4213  9000 seq/s  ETA
 * 1m 5s (max)"), or NULL (done and total 0) when the task's progress ends without a log line after
 * it (a stop request, the end of a saliency run). Sent at most about twice a second per task, plus at each epoch's
 * last batch. */
typedef void (*dm_progress_fn)(void *ctx, const char *what, int64_t done, int64_t total, const char *msg);

/* Sets the process's callbacks (either may be NULL: that kind is dropped; both NULL: silence, the
 * default); `ctx` is passed to both. Process-wide, not per thread. dm_set_log itself is
 * thread-safe, but set it before starting calls on other threads: a call running while it changes
 * may report to either. The callbacks run on the thread that called the library function that
 * reports (never on the library's worker threads); when several threads call the library at once
 * they may run concurrently and must then be thread-safe themselves. A callback must not call
 * dm_set_log. Training and saliency report only when their options ask for progress. */
DM_API void dm_set_log(dm_log_fn log, dm_progress_fn progress, void *ctx);

/* ---------------------------------------------------------------------------------------------
 * Sequences and data sets (host/data.c)
 * ------------------------------------------------------------------------------------------- */

enum {
    DM_BASE_A = 0, DM_BASE_C = 1, DM_BASE_G = 2, DM_BASE_T = 3,
    DM_BASE_N   = 4,   /* N or an IUPAC ambiguity code: zero row (or 0.25 each, n_policy quarter) */
    DM_BASE_PAD = 5,   /* right padding of a short sequence: always a zero row */
};

#define DM_LABEL_UNKNOWN (-1)

typedef enum dm_format {
    DM_FORMAT_AUTO = 0,
    DM_FORMAT_DEEPBIND,        /* TSV with header FoldID EventID seq Bound (FORMATS.md §1) */
    DM_FORMAT_LABELLED_FASTA,  /* >1 / >0 headers (FORMATS.md §2) */
    DM_FORMAT_FASTA,           /* >id description; unlabelled (FORMATS.md §3) */
    DM_FORMAT_TSV,             /* two columns: sequence <TAB> label (0/1) */
} dm_format;

/* A set of sequences, every one padded or truncated to the same length. */
typedef struct dm_dataset {
    int64_t n;            /* number of sequences */
    int32_t len;          /* L: every row of seq has exactly len codes */
    uint8_t *seq;         /* (n, len) base codes DM_BASE_* */
    int32_t *seq_len;     /* (n) original length, clipped to len (the shuffle works on this prefix) */
    int8_t *label;        /* (n) 1 bound, 0 unbound, DM_LABEL_UNKNOWN */
    int64_t *group;       /* (n) pair id: a positive and the shuffle made from it share it (DeepBind:
                             the rank of seq_NNNNN_peak/_shuf; labelled FASTA/TSV: a >0 right after a
                             >1 when it is an exact dinucleotide shuffle of it; otherwise the row);
                             the validation split never separates a group */
    char **id;            /* (n) identifiers: FASTA id, DeepBind EventID, or "<file>:<line>"; each a
                             malloc'd string owned by the data set (dm_dataset_free frees them) */
    dm_format format;     /* what the reader detected */
    int64_t n_padded;     /* sequences shorter than len (padded on the right) */
    int64_t n_truncated;  /* sequences longer than len (their first len bases kept); 0 in derived
                             data sets (split, negatives), where it cannot be recovered per row */
    int64_t n_ambiguous;  /* sequences holding at least one N or IUPAC code */
} dm_dataset;

/* Reads a data set; gzip or plain text, format detected from the content unless `format` says.
 * Every sequence is padded/truncated to `len` (SPEC.md §1); the counts are left in the data set for
 * the caller to warn about. Lower case is upper-cased; N and IUPAC codes become DM_BASE_N; any other
 * byte is DM_STATUS_FORMAT naming file and line. Returns DM_STATUS_OK, _IO, _FORMAT, _NOMEM. */
DM_API dm_status dm_dataset_read(dm_dataset *ds, const char *path, dm_format format, int32_t len);

/* Frees the arrays of a data set and zeroes it. NULL is a no-op. */
DM_API void dm_dataset_free(dm_dataset *ds);

/* Builds `out` from the positives of `pos`: each positive i followed by its dinucleotide shuffle
 * (FORMATS.md §13), drawn from the `negatives` stream of `seed` indexed by i; both share group i.
 * Rows of `pos` that are not positive are dropped. Returns DM_STATUS_OK, _ARG (no positives), _NOMEM. */
DM_API dm_status dm_dataset_with_shuffled_negatives(dm_dataset *out, const dm_dataset *pos,
                                                    uint64_t seed);

/* Splits `ds` into train and validation by group, seeded from the `split` stream: about `frac` of the
 * groups go to `valid`. Both outputs are new data sets (copies). Returns _OK, _ARG, _NOMEM. */
DM_API dm_status dm_dataset_split(const dm_dataset *ds, double frac, uint64_t seed,
                                  dm_dataset *train, dm_dataset *valid);

/* Exact Altschul–Erickson dinucleotide shuffle of `in[0..n)` into `out` (FORMATS.md §13): same
 * dinucleotide counts, first and last letter; every such sequence equally likely (the last-exit tree
 * is drawn by Wilson's loop-erased random walk, which gives the same distribution as redrawing).
 * Any byte is a letter. Deterministic in (seed, row). `out` and `in` must not overlap. Cannot fail:
 * when a rare allocation (> 16 distinct letters) fails, the input is copied unchanged (still a
 * member of its shuffle class). NULL arrays: nothing is written. */
DM_API void dm_dinuc_shuffle(uint8_t *out, const uint8_t *in, size_t n, uint64_t seed, uint64_t row);

/* Writes a labelled FASTA (`>1`/`>0`, one upper-case line) of `ds`; atomic (temp file + rename). */
DM_API dm_status dm_dataset_write_fasta(const dm_dataset *ds, const char *path);

/* ---------------------------------------------------------------------------------------------
 * Models (host/model.c)
 * ------------------------------------------------------------------------------------------- */

typedef enum dm_arch { DM_ARCH_CNN = 0, DM_ARCH_RNN = 1, DM_ARCH_CNNRNN = 2 } dm_arch;

#define DM_MAX_CONV 8

/* Hyper-parameters of a model; dm_hparams_default() gives SPEC.md §2 ("medium" models). */
typedef struct dm_hparams {
    dm_arch arch;
    int32_t len;                  /* input length L (101) */
    int32_t n_conv;               /* CNN: number of conv layers (3); CNN-RNN: 1 */
    int32_t conv_width[DM_MAX_CONV]; /* kernel widths (9, 5, 3) */
    int32_t conv_channels;        /* feature maps per conv layer (128) */
    int32_t pool;                 /* CNN max-pool width = stride (2) */
    int32_t hidden;               /* LSTM hidden size H per direction (32) */
    float dropout;                /* dropout probability (0.5) */
} dm_hparams;

DM_API void dm_hparams_default(dm_hparams *hp, dm_arch arch);
DM_API const char *dm_arch_name(dm_arch arch);                 /* "cnn", "rnn", "cnnrnn" */
DM_API dm_status dm_arch_parse(const char *s, dm_arch *arch);  /* _ARG if unknown */

typedef struct dm_model dm_model;      /* opaque */

/* ---------------------------------------------------------------------------------------------
 * Metrics (host/metrics.c)
 * ------------------------------------------------------------------------------------------- */

/* Metrics ignore rows whose label is not 0 or 1. A NaN score on a labelled row makes AUROC and
 * AUPRC NaN (and counts as wrong for accuracy). A NULL score or label array with n > 0 gives NaN
 * (dm_last_error() says why, as DM_STATUS_ARG). */

/* AUROC with tied scores counting 1/2 (the Mann–Whitney statistic). NaN if a class is absent. */
DM_API double dm_auroc(const float *score, const int8_t *label, int64_t n);

/* AUPRC as average precision: Σ over distinct thresholds (descending) of (R_k − R_{k−1}) · P_k, tied
 * scores forming one threshold (scikit-learn's average_precision_score). NaN without positives, 1
 * without negatives. */
DM_API double dm_auprc(const float *score, const int8_t *label, int64_t n);

/* Fraction of rows whose score ≥ 0.5 agrees with label 1 (and < 0.5 with label 0). NaN without
 * labelled rows. */
DM_API double dm_accuracy(const float *score, const int8_t *label, int64_t n);

/* Which metric dm_metric_undefined explains. */
typedef enum dm_metric { DM_METRIC_AUROC, DM_METRIC_AUPRC, DM_METRIC_ACCURACY } dm_metric;

/* Why the metric of these rows is undefined (the NaN dm_auroc, dm_auprc or dm_accuracy return), as
 * a phrase that completes "AUROC undefined: ", e.g. "the data hold only bound sequences"; NULL when
 * the metric is defined. Callers report an undefined metric as such (null in JSON, NA in text and
 * TSV) with this reason, never as nan. */
DM_API const char *dm_metric_undefined(const float *score, const int8_t *label, int64_t n, dm_metric metric);

#ifdef __cplusplus
}
#endif
#endif /* DEEPMOTIF_H */
