/*
 * sweep.h: `deepmotif sweep`, the library part: one model per (data set × architecture) over a folder
 * of data sets, a row of results per model, the paper-style summary with a paired Wilcoxon test.
 *
 *   discovery    DeepBind pairs NAME_AC.seq.gz (training, positives only: trained with shuffled
 *                negatives, as `train --negatives shuffle`) + NAME_B.seq.gz (test), and folders
 *                NAME/train.fa + NAME/test.fa (or .fasta, either gzip'ed). A lone NAME_B (a test-only
 *                set of DeepBind's collection) is no data set: it is listed in `skipped`.
 *   plan         every (data set × architecture), data sets by name then architectures in the order
 *                asked; each job's checksum covers its architecture, its negatives, the SHA-256 of its
 *                training and test files and the training options, so a changed input redoes it.
 *                Shards (--shard I/N) split the plan deterministically, each architecture's jobs
 *                balanced over the shards by file size (longest first onto the lightest shard).
 *   OUT/         plan.tsv (the whole plan: key, data set, architecture, bytes, checksum, the same for
 *                every shard of one sweep), rows/KEY.tsv (one row each, written atomically once its
 *                model is in models/KEY.dm), logs/KEY.log (the training's output), and the tables
 *                built from the rows of the plan whose checksums match: results.tsv, results.jsonl,
 *                summary.tsv, index.html. KEY is "DATASET.ARCH".
 *   run          the jobs of one shard not yet done, on slots (CPU jobs with their share of the
 *                threads, or one CUDA device each) through a caller's runner, which trains a job into
 *                its model file (the CLI runs `deepmotif train` for it, so training is train's own);
 *                events report progress. A job's row is written only after its runner succeeded.
 *   merge        rows and models of shard outputs of one plan into one OUT.
 *
 * Nothing here prints; errors are dm_status with one line (dm_error), naming the file at fault.
 */
#ifndef DM_SWEEP_H
#define DM_SWEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "deepmotif.h"

#define DM_SWEEP_MAX_ARCHS 8
#define DM_SWEEP_NAME_MAX 200
#define DM_SWEEP_KEY_MAX 224

/* One data set found by discovery. */
typedef struct dm_sweep_set {
    char name[DM_SWEEP_NAME_MAX];
    char train[4096], test[4096];
    bool positives_only;   /* DeepBind _AC: trained with --negatives shuffle */
    uint64_t bytes;        /* training + test file sizes */
} dm_sweep_set;

/* One (data set × architecture). */
typedef struct dm_sweep_job {
    char key[DM_SWEEP_KEY_MAX];       /* "DATASET.ARCH" */
    char dataset[DM_SWEEP_NAME_MAX];
    char arch[16];                    /* dm_arch_name */
    int set;                          /* index into dm_sweep.sets, −1 for a plan read back (merge) */
    uint64_t bytes;
    char checksum[65];
    int shard;                        /* 0 .. n_shards − 1 */
} dm_sweep_job;

/* One row of results.tsv. Text fields hold no tab or newline; metrics are NaN when undefined (NA). */
typedef struct dm_sweep_row {
    char dataset[DM_SWEEP_NAME_MAX];
    char arch[16];
    int64_t n_train, n_valid, n_test;
    double auroc, auprc, accuracy;
    int32_t epochs, best_epoch;
    double train_seconds, seqs_per_s;
    char device[128];
    char model[DM_SWEEP_KEY_MAX + 16];   /* relative to OUT: models/KEY.dm */
    uint64_t seed;
    char checksum[65];
} dm_sweep_row;

typedef struct dm_sweep {
    char out[3800];
    dm_sweep_set *sets;
    int n_sets;
    char skipped[4096];    /* discovery: the lone _B files left out, "A_B.seq.gz, B_B.seq.gz" */
    int n_skipped;
    dm_sweep_job *jobs;    /* the whole plan */
    int n_jobs;
    int n_shards;
} dm_sweep;

/* Finds the data sets of dir (see above); test halves are looked for in test_dir when non-NULL
 * (DIR holding NAME_B.seq.gz or NAME/test.fa), else in dir. _IO when dir cannot be read, _FORMAT
 * naming the file for an empty folder, a training file without its test half (or the reverse in a
 * NAME/ folder), a name holding a tab or newline, two data sets of one name. */
dm_status dm_sweep_discover(dm_sweep *sw, const char *dir, const char *test_dir);

/* The plan of the discovered sets × archs (n_archs ≤ DM_SWEEP_MAX_ARCHS), split into n_shards.
 * `options` is the text of the training options that change results (part of every checksum). */
dm_status dm_sweep_plan(dm_sweep *sw, const dm_arch *archs, int n_archs, const char *options, int n_shards);

/* Shard of every job for n_shards (dm_sweep_plan calls it), deterministic: per architecture (in
 * plan order), each shard takes n/N of its n jobs, the n mod N left over going to the shards with
 * the fewest bytes so far; its jobs, largest first (ties in plan order), each onto the shard with
 * room and the fewest bytes of this architecture (ties: fewest bytes overall, then lowest index). */
void dm_sweep_assign_shards(dm_sweep_job *jobs, int n_jobs, int n_shards);

/* Creates OUT, OUT/rows, OUT/models, OUT/logs and writes OUT/plan.tsv. */
dm_status dm_sweep_prepare(dm_sweep *sw, const char *out);

/* Reads OUT/plan.tsv (a merge's inputs): jobs with set −1. _FORMAT naming the file and line. */
dm_status dm_sweep_load_plan(dm_sweep *sw, const char *out);

void dm_sweep_free(dm_sweep *sw);

/* Paths of a job's files under OUT (buf of 4200 bytes): "rows/KEY.tsv", "models/KEY.dm",
 * "logs/KEY.log", "models/KEY.pending" (what = "row", "model", "log", "pending"). */
const char *dm_sweep_path(const dm_sweep *sw, int job, const char *what, char *buf);

/* Whether job's row is in OUT with the job's checksum and its model file exists. */
bool dm_sweep_job_done(const dm_sweep *sw, int job);

/* The current row of a job (there, parsed, with the job's checksum) into *r; false when none. */
bool dm_sweep_read_current_row(const dm_sweep *sw, int job, dm_sweep_row *r);

/* Before a job's training: models/KEY.pending records its checksum. dm_sweep_can_resume: the job
 * was started with the same checksum and its training left models/KEY.dm.last (continue it with
 * train's --resume). Both files go once the row is written. */
dm_status dm_sweep_mark_pending(const dm_sweep *sw, int job);
bool dm_sweep_can_resume(const dm_sweep *sw, int job);

/* The row of a trained job from its model's provenance (models/KEY.dm), written to rows/KEY.tsv
 * atomically. _CORRUPT/_IO naming the model when it cannot be read. */
dm_status dm_sweep_commit_row(const dm_sweep *sw, int job, dm_sweep_row *row);

/* A row as its TSV line (no newline) and back; the header line. _FORMAT when a line is malformed
 * (`where` names it in the message). */
void dm_sweep_row_format(const dm_sweep_row *r, char *buf, size_t cap);
dm_status dm_sweep_row_parse(const char *line, dm_sweep_row *r, const char *where);
extern const char dm_sweep_header[];

/* ---- running ---------------------------------------------------------------------------------- */

/* Where jobs run: a CPU job with its share of the threads, or a CUDA device. */
typedef struct dm_sweep_slot {
    int threads;
    int device;   /* −1: the CPU; else a CUDA device index */
} dm_sweep_slot;

/* Slots for `jobs` concurrent CPU jobs sharing total_threads (each max(1, total/jobs), the same for
 * every slot so a job's result does not depend on the slot it gets), or, with n_devices > 0, one
 * per device (the threads shared the same way). Returns the number of slots (≤ 64). */
int dm_sweep_slots(int jobs, const int *devices, int n_devices, int total_threads, dm_sweep_slot *slots);

/* The caller's way of training a job: start it on a slot (asynchronously, or synchronously: then
 * wait returns it), and wait for any started job to end. *ok false with a one-line reason in why
 * when the job failed (its row is then not written). */
typedef struct dm_sweep_runner {
    dm_status (*start)(void *ctx, const dm_sweep *sw, int job, const dm_sweep_slot *slot, int slot_index);
    dm_status (*wait)(void *ctx, int *job, int *slot_index, bool *ok, char *why, size_t why_cap);
    /* may be NULL; true once the sweep is to stop (a signal): no job is started any more, the running
     * ones are waited for, and those that end without success count as interrupted, not failed */
    bool (*stopping)(void *ctx);
    void *ctx;
} dm_sweep_runner;

typedef enum dm_sweep_event_kind {
    DM_SWEEP_EV_START,   /* job started on a slot */
    DM_SWEEP_EV_DONE,    /* job trained, its row written (row set) */
    DM_SWEEP_EV_FAILED,  /* job failed (why set) */
} dm_sweep_event_kind;

typedef struct dm_sweep_event {
    dm_sweep_event_kind kind;
    int job;
    int done, failed, total;   /* of this run's share: rows done (kept ones included), failures */
    int kept;                  /* rows found done at the start */
    double elapsed, eta;       /* seconds; eta NaN while nothing is known */
    const char *running;       /* keys of the running jobs, ", "-separated */
    const dm_sweep_row *row;   /* DONE */
    const char *why;           /* FAILED */
    int sets_done, sets_total; /* data sets of this run's share with every row of the share done */
} dm_sweep_event;

typedef void (*dm_sweep_event_fn)(void *ctx, const dm_sweep_event *e);

typedef struct dm_sweep_result {
    int total, kept, trained, failed;
    int interrupted;            /* jobs that ended without a row after the runner said stop */
    char first_failure[1024];   /* "KEY: reason" of the first failure */
} dm_sweep_result;

/* Runs the jobs of `shard` (0-based; −1: all) that are not done, at most n_slots at a time, in plan
 * order. A runner or row failure of one job is reported and counted, and the others go on; the
 * status is _OK unless the runner itself broke (start/wait returning an error), or _CANCELLED when
 * the runner said stop (its running jobs have ended then). */
dm_status dm_sweep_run(dm_sweep *sw, int shard, const dm_sweep_slot *slots, int n_slots, const dm_sweep_runner *r,
                       dm_sweep_event_fn on_event, void *ctx, dm_sweep_result *res);

/* ---- tables, merge, statistics (host/sweep_tables.c) ----------------------------------------- */

/* What the tables hold. */
typedef struct dm_sweep_tables_info {
    int rows, missing;   /* jobs of the plan with and without a current row */
} dm_sweep_tables_info;

/* Writes OUT/results.tsv, results.jsonl, summary.tsv and index.html from the current rows of the
 * plan (each atomically). `dashboards` (may be NULL) gives per data set the path, relative to OUT, of
 * its dashboard (or NULL), linked from the index. */
dm_status dm_sweep_write_tables(const dm_sweep *sw, const char *const *dashboards, dm_sweep_tables_info *info);

/* Joins shard outputs ins[0..n) into OUT: their plans must be one plan (_FORMAT otherwise, naming
 * the first that differs); every job's current row must be in one of them (_FORMAT naming the first
 * missing key). Rows and models are copied (hard-linked when possible) into OUT, then the tables
 * are written. sw is filled with the plan. */
dm_status dm_sweep_merge(dm_sweep *sw, const char *const *ins, int n, const char *out, dm_sweep_tables_info *info);

/* The Wilcoxon signed-rank test of paired differences d[0..n): zeros are dropped (Wilcoxon's
 * method), |d| ranked with ties sharing their mean rank. Two-sided p: exact (the null distribution
 * of W+ over all 2^m sign patterns) when m ≤ 50 non-zero differences without tied |d|; else the
 * normal approximation with the tie correction of the variance and a continuity correction of 0.5.
 * p is NaN when m = 0. */
typedef struct dm_wilcoxon {
    int m;             /* non-zero differences */
    double w_plus, w_minus;
    double p;
    bool exact;
} dm_wilcoxon;

void dm_wilcoxon_test(const double *d, int n, dm_wilcoxon *w);

#endif /* DM_SWEEP_H */
