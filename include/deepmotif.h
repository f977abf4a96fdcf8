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

/* The library is compiled with -fvisibility=hidden: exactly the functions marked DM_API are exported
 * from libdeepmotif.so (tests/api_symbols.sh checks the list against this header). */
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
    DM_STATUS_CANCELLED, /* a progress callback asked to stop (dm_progress_fn returned non-zero) */
} dm_status;

/* Human-readable name of a status ("format error", ...). Never NULL. */
DM_API const char *dm_status_str(dm_status s);

/* The message of the last failure on this thread; "" when there was none. */
DM_API const char *dm_last_error(void);

/* Version string "0.1.0 (commit)". */
DM_API const char *dm_version(void);

/* ---------------------------------------------------------------------------------------------
 * Logging and progress lines (base/log.c)
 *
 * The library never writes to stdout or stderr and never exits: what it has to say as text (the
 * command-line loops' epoch lines and status lines) goes to the callbacks the caller sets with
 * dm_set_log. By default none is set and nothing is said. The command-line program sets callbacks
 * that print to stderr. (The API calls below, dm_train, dm_predict, ..., report instead to the
 * dm_progress_fn each call takes, with numbers and cancellation; they send nothing here.)
 * ------------------------------------------------------------------------------------------- */

typedef enum dm_log_level {
    DM_LOG_INFO = 0,     /* a result line: "epoch 3/50  loss 0.4213  valid loss ...", early stop */
    DM_LOG_WARN = 1,     /* something the caller should know that did not stop the call */
    DM_LOG_ERROR = 2,    /* an internal error just before the process aborts (a library bug) */
} dm_log_level;

/* One finished line, without its newline. A log line also ends any progress status line shown
 * before it (a terminal front end overwrites the status line with it). */
typedef void (*dm_log_fn)(void *ctx, dm_log_level level, const char *msg);

/* The status of a long loop. `what` names the task ("train", "saliency"); `done` of `total` units
 * (training: sequences over the whole run, total = epochs x sequences, a maximum since early
 * stopping may end sooner; saliency: sequences; total 0 when unknown). `msg` is a one-line status
 * that replaces the task's previous one ("epoch 2/10  batch 12/40  loss 0.4213  9000 seq/s  ETA
 * 1m 5s (max)"), or NULL (done and total 0) when the task's status ends without a log line after
 * it (a stop request, the end of a saliency run). Sent at most about twice a second per task, plus
 * at each epoch's last batch. */
typedef void (*dm_log_progress_fn)(void *ctx, const char *what, int64_t done, int64_t total, const char *msg);

/* Sets the process's callbacks (either may be NULL: that kind is dropped; both NULL: silence, the
 * default); `ctx` is passed to both. Process-wide, not per thread. dm_set_log itself is
 * thread-safe, but set it before starting calls on other threads: a call running while it changes
 * may report to either. The callbacks run on the thread that called the library function that
 * reports (never on the library's worker threads); when several threads call the library at once
 * they may run concurrently and must then be thread-safe themselves. A callback must not call
 * dm_set_log. The engine's loops report only when their options ask for progress (the CLI's
 * train and saliency commands; --quiet turns it off). */
DM_API void dm_set_log(dm_log_fn log, dm_log_progress_fn progress, void *ctx);

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

/* An architecture id: the position of its entry in the library's table (host/arch.c), the number
 * checkpoints store. The enum names the first three; every registered id is 0 .. dm_arch_count() − 1
 * (3 is "danq"), named by dm_arch_name and found by name with dm_arch_parse. */
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

/* The defaults of architecture `arch` (all zero but arch for an unregistered id). */
DM_API void dm_hparams_default(dm_hparams *hp, dm_arch arch);
/* The number of registered architectures; their ids are 0 .. dm_arch_count() − 1. Thread-safe. */
DM_API int dm_arch_count(void);
DM_API const char *dm_arch_name(dm_arch arch);  /* "cnn", "rnn", "cnnrnn", "danq"; "unknown" outside */
DM_API dm_status dm_arch_parse(const char *s, dm_arch *arch);  /* _ARG if unknown (the message lists them) */

/* A model is a list of layers, built by its architecture's table entry from the hyper-parameters.
 * The ops (values are stable: new ones are appended); shapes are per sequence, (length, channels):
 *   CONV        conv1d + bias, n output channels, width k, zero padding pad each side:
 *               (L, C) → (L + 2·pad − k + 1, n); tensors <name>.weight (n, k, C), <name>.bias (n)
 *   RELU        element-wise
 *   MAXPOOL     width = stride k: (L, C) → (⌊L / k⌋, C)
 *   DROPOUT     probability p while training (identity in evaluation)
 *   GMAX        global max over time: (L, C) → (1, C)
 *   BILSTM      bidirectional LSTM, n = H per direction: (L, D) → (L, 2H), [forward, backward];
 *               tensors <name>.{fwd,bwd}.{weight_ih (4H, D), weight_hh (4H, H), bias_ih, bias_hh (4H)},
 *               gates i, f, g, o
 *   MEAN        mean over time: (L, C) → (1, C)
 *   DENSE       n outputs: (1, F) → (1, n); tensors <name>.weight (n, F), <name>.bias (n)
 *   LOGSOFTMAX  over the 2 classes (bound, unbound); every model ends DENSE(2) → LOGSOFTMAX
 * The parameter tensors (dm_model_tensor_at) follow the layer order. */
typedef enum dm_layer_op {
    DM_LAYER_CONV = 0,
    DM_LAYER_RELU = 1,
    DM_LAYER_MAXPOOL = 2,
    DM_LAYER_DROPOUT = 3,
    DM_LAYER_GMAX = 4,
    DM_LAYER_BILSTM = 5,
    DM_LAYER_MEAN = 6,
    DM_LAYER_DENSE = 7,
    DM_LAYER_LOGSOFTMAX = 8,
} dm_layer_op;

#define DM_MAX_LAYERS 48   /* the most layers a model has */

/* One layer of a model, with its shapes. */
typedef struct dm_layer_info {
    int32_t op;              /* dm_layer_op */
    int32_t n;               /* CONV: output channels; BILSTM: H; DENSE: outputs; 0 otherwise */
    int32_t k;               /* CONV: width; MAXPOOL: width = stride; 0 otherwise */
    int32_t pad;             /* CONV: zero padding each side */
    float p;                 /* DROPOUT: probability */
    char name[16];           /* tensor name prefix ("conv1", "lstm", "fc"); "" for layers without */
    int32_t len_in, ch_in;   /* input shape (length, channels) per sequence */
    int32_t len_out, ch_out; /* output shape */
} dm_layer_info;

/* The layers of a model of `hp` (what dm_model_create(hp) would build), in order: *n receives their
 * number and out[0 .. min(*n, cap)) the layers (out may be NULL when cap is 0). Returns _OK, or _ARG
 * for NULL hp or n, an unregistered architecture, hyper-parameters that do not fit (the message
 * says why, as dm_model_create's) or cap < *n (*n then holds the number needed: DM_MAX_LAYERS is
 * always enough). Thread-safe. */
DM_API dm_status dm_arch_layers_of(const dm_hparams *hp, dm_layer_info *out, int cap, int *n);

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

/* Two models' AUROC on the same rows and DeLong's paired test of their difference (DeLong, DeLong
 * and Clarke-Pearson 1988): each AUROC is the mean of per-positive and per-negative placement values,
 * whose covariances between the models give the variance of auroc_a − auroc_b; z = diff / se, p the
 * two-sided normal p-value, [lo, hi] the 95 % interval diff ± 1.96 se. Where the placements differ by
 * a constant (e.g. identical scores) se is 0: z is 0 and p 1 for no difference, ±inf and 0 otherwise. */
typedef struct dm_auroc_pair {
    int64_t n_pos, n_neg;               /* labelled rows of each class */
    double auroc_a, auroc_b, diff, se, z, p, lo, hi;
} dm_auroc_pair;

/* Fills *out for scores a and b of the same n rows (labels as for dm_auroc). DM_STATUS_ARG (nothing
 * filled) without 2 rows of each class, with a NaN score, or with a NULL array. */
DM_API dm_status dm_auroc_paired(const float *a, const float *b, const int8_t *label, int64_t n,
                                 dm_auroc_pair *out);


/* =============================================================================================
 * The engine API (host/api*.c): backends, models, training and every analysis over in-memory
 * arrays or data sets.
 *
 * Thread safety, in general (each function says where it differs):
 *  - dm_last_error() is per thread: read it on the thread whose call failed.
 *  - A dm_backend is used by one thread at a time (it holds scratch memory and a sticky error);
 *    different backends may be used from different threads at the same time.
 *  - A dm_model is only read by dm_predict, dm_saliency, dm_temporal, dm_optimize, dm_motifs, the
 *    getters and dm_model_save, so any number of those may run on one model at once, each with its
 *    own backend. dm_train, dm_model_set_tensor, dm_model_set_params and dm_model_free change it:
 *    no other call may use that model meanwhile.
 *  - Callbacks run on the calling thread, inside the call.
 * Shapes: N sequences of length L; arrays are C-contiguous float32 unless said otherwise.
 * ============================================================================================= */

/* ---- progress and cancellation ------------------------------------------------------------ */

/* What a long call reports to its progress callback. */
typedef struct dm_progress {
    const char *what;      /* "train", "predict", "saliency", "temporal", "optimize", "motifs" */
    int64_t done;          /* units done: epochs finished for train, steps made for optimize,
                              sequences otherwise (motifs: both passes over the sequences,
                              total = 2 N, reported once at the end) */
    int64_t total;         /* units in all (train: the maximum number of epochs; optimize: steps) */
    int32_t epoch;         /* train: the epoch that just ended (batch 0), or the running one (batch
                              >= 1), 1-based; 0 otherwise */
    double train_loss;     /* train, at an epoch end: that epoch's mean training loss; NaN otherwise */
    double valid_loss;     /* train, at an epoch end: its validation loss; NaN without validation data */
    double valid_auroc;    /* train, at an epoch end: its validation AUROC; NaN without validation data */
    double seconds;        /* wall time since the call started */
    int32_t batch;         /* train: 0 in the report at an epoch's end; 1 .. n_batches in the report
                              after that batch of epoch `epoch`; 0 otherwise */
    int32_t n_batches;     /* train: batches per epoch; 0 otherwise */
    double batch_loss;     /* train, after a batch: that batch's mean training loss (dropout on,
                              before its update); NaN otherwise */
} dm_progress;

/* Called by long calls between batches (train: after every batch and at every epoch end; optimize:
 * every report_every steps and at the end). Return 0 to go on, non-zero to stop: the call then
 * returns DM_STATUS_CANCELLED as soon as the current batch (or step) is done, and its outputs are
 * undefined (dm_train leaves the model as it was before the call, also when stopped inside an
 * epoch). A NULL callback costs nothing. */
typedef int (*dm_progress_fn)(void *ctx, const dm_progress *p);

/* ---- backends ----------------------------------------------------------------------------- */

typedef struct dm_backend dm_backend;   /* opaque: where the computation runs */

/* Opens a backend. spec: "cpu"; "cuda" or "cuda:N" (device N, default 0); "auto" (NULL too):
 * CUDA device 0 when this build has the CUDA backend and a device is usable, else the CPU;
 * "cpu-reproducible": the engine's fixed-order kernels, no BLAS, with `threads` threads: training on
 * it gives the same bits on any x86-64 CPU and thread count (README "Reproducibility").
 * threads: CPU worker threads, <= 0 for all cores (ignored by CUDA).
 * In libdeepmotif.so (and the deepmotif program) of a CUDA build, the CUDA backend is the shared
 * object libdeepmotif_cuda.so, loaded on first use from the folder of libdeepmotif.so, then ../lib
 * beside it, then the running program's folder (and its ../lib), then the dynamic loader's search
 * path; the environment variable DM_CUDA_LIBRARY names the file instead. When it cannot be loaded,
 * "cuda:N" fails with DM_STATUS_BACKEND ("cuda:0: libdeepmotif_cuda.so: <reason>") and "auto" takes
 * the CPU. (libdeepmotif.a links the CUDA backend in; builds without CUDA have none.)
 * Returns _OK, _ARG (an unknown spec), _BACKEND, _NOMEM. Thread-safe. */
DM_API dm_status dm_backend_open(const char *spec, int threads, dm_backend **out);

/* Frees a backend; NULL is a no-op. No call may be using it. */
DM_API void dm_backend_free(dm_backend *be);

/* What the backend runs on, e.g. "cpu: AMD EPYC 7B13, 8 threads" or "cuda: NVIDIA H100 (sm_90)";
 * the text before the first ':' is the kind ("cpu" or "cuda"). Owned by the backend. */
DM_API const char *dm_backend_name(const dm_backend *be);

/* ---- inputs ------------------------------------------------------------------------------- */

/* N sequences of length L, given either as one-hot (or any dense (N, L, 4) input: saliency,
 * prediction and temporal scores accept any values) or as base codes DM_BASE_* (encoded on the
 * backend). Exactly one of onehot and codes is non-NULL. The arrays are only read, and only
 * during the call. */
typedef struct dm_input {
    int64_t n;               /* N */
    int32_t len;             /* L: must equal the model's length */
    int32_t n_quarter;       /* codes only: DM_BASE_N as 0.25 per base (1) or a zero row (0) */
    const float *onehot;     /* (N, L, 4) float32, or NULL */
    const uint8_t *codes;    /* (N, L) DM_BASE_*, or NULL */
    const int8_t *labels;    /* (N) 1 bound, 0 unbound, DM_LABEL_UNKNOWN; NULL when unknown
                                (dm_train and label targets need them) */
} dm_input;

/* A view of a data set as an input (codes and labels point into ds; n_quarter 0). Cannot fail
 * unless an argument is NULL (_ARG). */
DM_API dm_status dm_input_from_dataset(const dm_dataset *ds, dm_input *in);

/* ---- models ------------------------------------------------------------------------------- */

/* A model independent of any backend: hyper-parameters, parameters on the host (the canonical
 * layout, SPEC.md §3) and provenance. Every computation takes the backend to run on. */

/* A new model of `hp` with parameters initialised from `seed` (SPEC.md §4). Returns _OK, _ARG
 * (hyper-parameters that do not fit, e.g. L too short for the convolutions), _NOMEM. */
DM_API dm_status dm_model_create(dm_model **out, const dm_hparams *hp, uint64_t seed);

/* Loads a checkpoint written by dm_model_save or `deepmotif train`. Returns _OK, _IO, _CORRUPT
 * (damaged, foreign or newer file: the message names it), _NOMEM. */
DM_API dm_status dm_model_load(const char *path, dm_model **out);

/* Writes the model (hyper-parameters, parameters, provenance) atomically; `deepmotif` reads it.
 * Returns _OK, _IO, _ARG, _NOMEM. */
DM_API dm_status dm_model_save(const dm_model *m, const char *path);

/* Frees a model; NULL is a no-op. */
DM_API void dm_model_free(dm_model *m);

/* Copies the hyper-parameters (the architecture is hp->arch). */
DM_API dm_status dm_model_hparams(const dm_model *m, dm_hparams *hp);

/* Parameter tensors. Names are PyTorch's (model.h): "conv1.weight" (C_out, K, C_in), "fc.bias",
 * "lstm.fwd.weight_ih", ... */
typedef struct dm_tensor_desc {
    char name[40];
    int32_t ndim;            /* 1..4 */
    int64_t shape[4];        /* unused dimensions 0 */
    int64_t numel;
    int64_t offset;          /* in floats, into the flat parameter array of dm_model_params */
} dm_tensor_desc;

/* Number of parameter tensors; *n_params (may be NULL) receives the number of floats of all. */
DM_API dm_status dm_model_n_tensors(const dm_model *m, int32_t *n_tensors, int64_t *n_params);

/* The description of tensor `index` (0 .. n_tensors − 1), or of tensor `name` (_ARG when no tensor
 * has that name: the message lists them). */
DM_API dm_status dm_model_tensor_at(const dm_model *m, int32_t index, dm_tensor_desc *desc);
DM_API dm_status dm_model_tensor_find(const dm_model *m, const char *name, dm_tensor_desc *desc);

/* Copies tensor `name` out to data (n floats, n = its numel: else _ARG), or in from data. */
DM_API dm_status dm_model_tensor(const dm_model *m, const char *name, float *data, int64_t n);
DM_API dm_status dm_model_set_tensor(dm_model *m, const char *name, const float *data, int64_t n);

/* All parameters as one array (n_params floats, tensors at their offsets): *data points into the
 * model (read-only; valid until the model is changed or freed). set_params copies n_params in. */
DM_API dm_status dm_model_params(const dm_model *m, const float **data, int64_t *n_params);
DM_API dm_status dm_model_set_params(dm_model *m, const float *data, int64_t n_params);

/* Provenance as one JSON object (version, protocol, device, created_utc, label, seed, threads, batch,
 * lr0, valid_frac, epochs_max, epochs_run, best_epoch, n_train, n_valid, n_test, train_seconds,
 * test metrics (null when absent), inputs [{role, path, bytes, sha256}], log [{epoch, lr, train_loss,
 * valid_loss, valid_auroc, seconds}]). *json is owned by the model, valid until it is changed. */
DM_API dm_status dm_model_provenance(const dm_model *m, const char **json);

/* ---- training ----------------------------------------------------------------------------- */

typedef struct dm_train_opts {
    int32_t protocol;        /* 0 default (reshuffled batches, early stopping on validation AUROC,
                                or on AUROC and loss below about 536 validation sequences (README
                                "Training protocols"), best weights kept), 1 original (DeMo's loop:
                                file order, selection by training AUROC) */
    int32_t epochs;          /* maximum epochs (-1: by the set's size: 50, more below 30,720 sequences) */
    int32_t batch;           /* -1: by the set's size (256; n/32 as a power of two >= 32 below 8,192) */
    float lr;                /* initial learning rate (-1: 0.01 at batch 256, 0.01 x batch / 256 below) */
    int32_t lr_halve_every;  /* halve the learning rate after every N epochs (-1: by the set's size:
                                10, more below 30,720 sequences; 0: never) */
    float clip;              /* element-wise gradient clip (5) */
    int32_t patience;        /* default protocol: epochs without a better validation measure (-1: by the
                                set's size: 5, more below 30,720 sequences; 0: no early stopping) */
    int32_t rc;              /* reverse complements (README "Reverse complements"): 0 none, 1 augment
                                (train on both strands), 2 average (score = mean P of both strands,
                                kept in the model), 3 both; -1: the default, both (none under
                                protocol 1). A zeroed struct from before this field was named is 0. */
    uint64_t seed;           /* batch order and dropout (1); initialisation is dm_model_create's */
    float ema;               /* the weights' moving average (README "Training protocols"): validation,
                                selection and the kept weights use it, decay ema per step (ramped up);
                                0: the weights themselves; -1: by the set's size (0.999 from 4,096 to
                                8,191 sequences, not for the RNN; else 0). A zeroed struct is 0. */
    int32_t restarts;        /* a dead start (README "Training protocols": at least the patience in
                                epochs, the training loss never 0.005 below a constant prediction's)
                                trained again from new weights, at most this many times; -1: the
                                default, 2 (0 under protocol 1). A zeroed struct is 0: never. */
    int32_t fresh_negatives; /* 1: from the second epoch on, every training negative that follows a
                                positive it is a dinucleotide shuffle of (same length, ends and
                                dinucleotide counts) is a new shuffle of that positive each epoch
                                (README "Fresh negatives"; protocol 0 only; none such is _ARG);
                                0: the negatives as given; -1: the default, 1 where at least one
                                negative is such a shuffle (0 under protocol 1). A zeroed struct
                                from before this field was named is 0. */
} dm_train_opts;

/* dm_train_opts_default leaves epochs, batch, lr, lr_halve_every, patience, rc, ema, restarts and
 * fresh_negatives at -1: the default
 * protocol's schedule counted in optimiser steps for small training sets (README "Training
 * protocols"), the same rule as `deepmotif train`; below 8,192 sequences the RNN (an LSTM reads the
 * input) gets its own row: 4x the rate, never halved, a longer patience and more epochs; below 2,048
 * the CNN-RNN and DanQ (an LSTM after a convolution) take 2x the rate. Under the
 * original protocol (1), -1 is DeMo's fixed 50 epochs, batch 256, lr 0.01, halving every 10 and
 * patience 5 (unused there). */

DM_API void dm_train_opts_default(dm_train_opts *o);

/* Trains m from its current parameters on `train` (labels required, both classes, one-hot rows or
 * codes: a dense non-one-hot row is _ARG; one-hot rows of 0.25 are N under the quarter policy, which
 * codes inputs choose with n_quarter), validating on `valid` (NULL: none; the last epoch is
 * then kept under the default protocol). On success m holds the selected weights and its
 * provenance the run (epoch log, counts, device). `progress` (may be NULL) is called after every
 * batch (batch >= 1, its loss) and at every epoch end (batch 0, the epoch's losses and AUROC); a
 * non-zero answer stops before the next batch. Returns _OK, _ARG (no data, one class, shapes, diverged: the message names epoch and batch),
 * _BACKEND, _NOMEM, _CANCELLED (m unchanged). */
DM_API dm_status dm_train(dm_model *m, dm_backend *be, const dm_input *train, const dm_input *valid,
                          const dm_train_opts *o, dm_progress_fn progress, void *ctx);

/* ---- prediction and attribution ------------------------------------------------------------ */

/* P(bound) of every sequence, evaluation mode: scores (N). Same numbers as `deepmotif predict`.
 * progress (may be NULL) is called after every batch. */
DM_API dm_status dm_predict(const dm_model *m, dm_backend *be, const dm_input *in, float *scores,
                            dm_progress_fn progress, void *ctx);

enum { DM_SALIENCY_GRAD = 0, DM_SALIENCY_GRAD_X_INPUT = 1, DM_SALIENCY_ORIGINAL = 2,
       DM_SALIENCY_IG = 3, DM_SALIENCY_ISM = 4 };
enum { DM_TARGET_POSITIVE = 0, DM_TARGET_TRUE_LABEL = 1 };

typedef struct dm_saliency_opts {
    int32_t method;          /* DM_SALIENCY_* (grad): as `deepmotif saliency --method` */
    int32_t target;          /* DM_TARGET_POSITIVE: log P(bound); _TRUE_LABEL: log P(label) */
    int32_t center;          /* 1: mean-centre the gradient over the four bases */
    int32_t steps;           /* integrated gradients: path steps (64) */
    int32_t shuffle_baseline;/* integrated gradients: dinucleotide-shuffled baselines (0: zeros) */
    int32_t batch;           /* sequences per batch (256) */
    uint64_t seed;           /* shuffled baselines (1) */
} dm_saliency_opts;

DM_API void dm_saliency_opts_default(dm_saliency_opts *o);

/* Attribution maps attr (N, L, 4) and P(bound) p_pos (N; may be NULL): the numbers of
 * `deepmotif saliency --layout nlc`. Labels are needed by the original method and the label
 * target. Returns _OK, _ARG, _BACKEND, _NOMEM, _CANCELLED. */
DM_API dm_status dm_saliency(const dm_model *m, dm_backend *be, const dm_input *in,
                             const dm_saliency_opts *o, float *attr, float *p_pos,
                             dm_progress_fn progress, void *ctx);

/* Temporal output scores (RNN and CNN-RNN; _ARG for the CNN): fwd (N, L) = P(bound) on positions
 * 0..i, bwd (N, L) = on positions i..L−1. */
DM_API dm_status dm_temporal(const dm_model *m, dm_backend *be, const dm_input *in, float *fwd,
                             float *bwd, dm_progress_fn progress, void *ctx);

/* ---- class optimisation -------------------------------------------------------------------- */

typedef struct dm_optimize_opts {
    int32_t restarts;        /* independent seeded starts, optimised together (1) */
    int32_t steps;           /* 1000 */
    float lr;                /* 0.05 */
    float lambda;            /* L2 weight (0.009) */
    float alpha;             /* RMSprop decay (0.99) */
    float eps;               /* 1e-8 */
    int32_t softmax;         /* 1: optimise Z with X = softmax(Z) per position */
    int32_t report_every;    /* steps between progress reports (10; <= 0: 10) */
    uint64_t seed;           /* 1 */
} dm_optimize_opts;

DM_API void dm_optimize_opts_default(dm_optimize_opts *o);

/* The input the model finds most "bound" (SPEC.md §6.3), R = restarts: ppm (R, L, 4) the position
 * probability matrices; x (R, L, 4) the raw optimised inputs, objective (steps + 1, R) the
 * objective before every step and after the last, p_pos (R) the final P(bound): each may be NULL.
 * All restarts run as one batch on the backend. `progress` (may be NULL) is called every
 * report_every steps and after the last (done = steps made, total = steps); a non-zero answer
 * stops after the current step (_CANCELLED, outputs undefined). Returns _OK, _ARG, _BACKEND,
 * _NOMEM, _CANCELLED. */
DM_API dm_status dm_optimize(const dm_model *m, dm_backend *be, const dm_optimize_opts *o, float *ppm,
                             float *x, float *objective, float *p_pos, dm_progress_fn progress, void *ctx);

/* ---- motifs ------------------------------------------------------------------------------- */

/* One motif: a (w, 4) probability matrix, rows A C G T each summing to 1 (a CWM query, read as
 * such, holds its signed contributions instead). */
typedef struct dm_motif {
    char id[128];            /* identifier, e.g. "MA0139.1" or "filter_12"; no whitespace */
    char name[128];          /* alternative name, e.g. "CTCF"; "" when absent */
    int w;                   /* width (columns), >= 1 */
    float *p;                /* (w, 4) row-major: p[4 * j + b], b = A, C, G, T */
    int nsites;              /* sites behind the matrix; 0 when unknown */
} dm_motif;

/* A list of motifs; owns every m[i].p and m itself (dm_motif_set_free). */
typedef struct dm_motif_set {
    int n;
    dm_motif *m;             /* (n) */
} dm_motif_set;

/* Reads every motif of a MEME file (gzip or plain) into *out (overwritten, not freed first).
 * Returns _OK, _IO, _FORMAT ("file:line: what"), _NOMEM. */
DM_API dm_status dm_meme_read(const char *path, dm_motif_set *out);

/* Writes a MEME (version 4) file atomically. Returns _OK, _IO, _ARG. */
DM_API dm_status dm_meme_write(const char *path, const dm_motif_set *s);

/* Frees every matrix and the list; leaves {0, NULL}. NULL is a no-op. */
DM_API void dm_motif_set_free(dm_motif_set *s);

typedef struct dm_motifs_opts {
    float frac;              /* activation threshold relative to the filter's maximum (0.5) */
    int32_t min_sites;       /* filters with fewer sites are left out (10) */
    int32_t batch;           /* sequences per batch (256) */
    int32_t reserved;        /* 0 */
} dm_motifs_opts;

DM_API void dm_motifs_opts_default(dm_motifs_opts *o);

/* First-layer filters as motifs (`deepmotif motifs`; _ARG for the RNN): *out (overwritten) gets
 * one motif per filter with at least min_sites sites, "filter_<k>". One-hot input rows must be
 * one-hot, all zero (padding) or 0.25 each (N); other values are _ARG. progress is called once,
 * at the end (the engine makes both passes in one call). */
DM_API dm_status dm_motifs(const dm_model *m, dm_backend *be, const dm_input *in,
                           const dm_motifs_opts *o, dm_motif_set *out, dm_progress_fn progress,
                           void *ctx);

/* ---- motif comparison (host/compare.h explains the scores and p-values) ----------------------- */

enum { DM_DIST_PEARSON = 0, DM_DIST_EUCLID = 1, DM_DIST_SANDELIN = 2 };
/* Null models of compare: TOMTOM's (complete scores, convolution of per-column score distributions,
 * host/tomtom.h) or the column-shuffled Monte Carlo null (host/compare.h). */
enum { DM_NULL_TOMTOM = 0, DM_NULL_SHUFFLE = 1 };

/* What a query matrix holds: probabilities (rows sum to 1), or a contribution weight matrix (CWM,
 * e.g. TF-MoDISco's export: signed per-base contributions, compared as they are). */
enum { DM_MOTIF_PPM = 0, DM_MOTIF_CWM = 1 };

typedef struct dm_compare_options {
    int dist;                /* DM_DIST_PEARSON (0), DM_DIST_EUCLID (1) or DM_DIST_SANDELIN (2) */
    int min_overlap;         /* fewest aligned columns (capped by both widths); 1, TOMTOM's default */
    int n_null;              /* shuffle null: random targets per (query, target width); 10000 */
    uint64_t seed;           /* shuffle null: seed of the null targets; 1 */
    double thresh;           /* report hits with q <= thresh; 0.5 */
    int top;                 /* at most this many hits per query; 10 */
    int query_type;          /* DM_MOTIF_PPM (0) or DM_MOTIF_CWM (1: signed query entries allowed,
                                pearson only; the database stays probabilities); DM_MOTIF_PPM */
    int null;                /* DM_NULL_TOMTOM (default) or DM_NULL_SHUFFLE */
} dm_compare_options;

DM_API void dm_compare_options_default(dm_compare_options *o);

/* One reported (query, target) pair. */
typedef struct dm_hit {
    int query, target;       /* indices into the query set and the database */
    int offset;              /* position of the query's first column in the oriented target */
    int overlap;             /* aligned columns */
    char orient;             /* '+', or '-' when the target is reverse-complemented */
    double score;            /* the best alignment score: the sum of the aligned column similarities
                                (shuffle null), or TOMTOM's complete score, the sum of the aligned
                                columns' similarities less their medians over the database (tomtom) */
    double pvalue, evalue, qvalue;
} dm_hit;

/* Compares every query with every database motif (`deepmotif compare`). *hits (free with dm_free;
 * NULL when *n_hits = 0) gets per query its `top` best targets with q <= thresh, sorted by query,
 * then p-value. Thread-safe (runs OpenMP threads inside). Returns _OK, _ARG, _NOMEM. */
DM_API dm_status dm_compare(const dm_motif_set *queries, const dm_motif_set *db,
                            const dm_compare_options *o, dm_hit **hits, int *n_hits);

/* Frees memory the library allocated for the caller (dm_compare's hits). NULL is a no-op. */
DM_API void dm_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* DEEPMOTIF_H */
