/*
 * testutil.h: what the Criterion tests share: the data directory, seeded random inputs, tolerances.
 */
#ifndef DM_TESTUTIL_H
#define DM_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "model.h"

/* The real-data directory (env DM_DATA_DIR, else the configured ../shared/data), or NULL when it
 * does not exist. */
const char *dm_test_data_dir(void);

/* Path of a file in the data directory ("deepbind/REST_..._B.seq.gz") in a static buffer, or NULL when
 * the directory or file is missing; tests then cr_skip_test() with a message. */
const char *dm_test_data_file(const char *rel);

/* Every DeepBind test (_B) file of the shared data directory (relative to deepbind/), NULL-ended. */
extern const char *const dm_test_b_files[];

/* Reads dm_test_b_files[f] (length 101) into *ds; false, with a logged warning, when the file is
 * missing; a read error fails the test. */
bool dm_test_load_b_file(int f, dm_dataset *ds);

/* The test seed: env DM_TEST_SEED or 1234; printed once per process so a failure can be replayed. */
uint64_t dm_test_seed(void);

/* Fills x[0..n) with uniform values in [lo, hi) from (seed, tag). */
void dm_test_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t tag);

/* Largest |a - b| / (atol + rtol |b|) over n values; > 1 means out of tolerance. NaN/Inf in a gives
 * +Inf. *worst receives the index of the worst element when non-NULL. */
double dm_test_max_err(const float *a, const float *b, size_t n, double atol, double rtol,
                       size_t *worst);

/* A CNN (default shapes, batch 128) trained for 5 epochs (lr 0.002) on 2,000 simulated pairs with a
 * planted CTCF site per positive (seed 31, which leaves the loss plateau in time); the model holds
 * the best-validation weights; the 10 % validation split goes to *valid (the caller frees it). The
 * test fails unless the validation AUROC exceeds 0.85. */
dm_net *dm_test_trained_sim_cnn(dm_backend *be, dm_dataset *valid);

/* The CUDA backend on device 0 (the emulator in DM_CUDA_EMU builds); skips the test, naming the
 * reason, when there is none (a CPU-only build, or no usable GPU). */
dm_backend *dm_test_cuda_backend(void);

/* A small training run of the simulated motif: tr = n_pos positives (seed 5) with their shuffles,
 * va = 100 (seed 6), length 40; a CNN of 8 maps (hp) on a one-thread CPU backend, batches of at
 * most max_batch (the dead-start and fresh-negative tests). */
typedef struct dm_test_run {
    dm_dataset tr, va;
    dm_hparams hp;
    dm_backend *be;
    dm_net *m;
} dm_test_run;
void dm_test_run_open(dm_test_run *r, int64_t n_pos, int max_batch);
void dm_test_run_close(dm_test_run *r);

/* A fresh temporary directory (removed by the caller with dm_test_rmdir). */
char *dm_test_tmpdir(void);
void dm_test_rmdir(const char *dir);

/* The exit status of a test binary whose selected tests all skipped (ctest's SKIP_RETURN_CODE), and
 * the tag of the line it prints to stderr when any skipped ("dm-skipped: test_x: 2 of 9 tests
 * skipped (the first: <its reason>): suite::name, ..."), which `make test` gathers from ctest's log. testutil.c gives
 * the Criterion binaries a main that follows this; tests/crshim does the same. */
#define DM_TEST_SKIPPED 77
#define DM_TEST_SKIP_TAG "dm-skipped:"

/* The text of the file dir/name (name alone when dir is NULL), at most 8 MiB of it; "" when it
 * cannot be opened. A static buffer, overwritten by the next call (the CLI tests' out and err). */
char *dm_test_slurp_in(const char *dir, const char *name);

/* Writes `text` to dir/name (the test fails when it cannot); whether dir/name exists. */
void dm_test_write_in(const char *dir, const char *name, const char *text);
bool dm_test_exists_in(const char *dir, const char *name);

/* Saves a model of hp with random weights (dm_net_init_params seed 7; CPU backend, batch 64) as a
 * checkpoint at path, labelled "best" (the CLI tests' stand-in for a trained model). */
void dm_test_save_random_model(const char *path, const dm_hparams *hp);

/* Runs a shell command, returns its exit status (0..255), or -1. */
int dm_test_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs the CLI (DM_TEST_CLI) with the arguments fmt in folder dir, stdout to dir/out and stderr to
 * dir/err, OpenBLAS on one thread; returns its exit status as dm_test_system does. */
int dm_test_cli_in(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
