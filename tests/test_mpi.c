/*
 * test_mpi.c: data-parallel training (issue 13) under `mpirun --oversubscribe --allow-run-as-root
 * -np 2`, started here on loopback. Skipped, with a dm-skipped line, only when mpirun is not installed
 * (scripts/setup.sh installs OpenMPI) or the build has no MPI (DM_MPI=OFF).
 *
 * What "K ranks equal one process" means here, in two parts:
 *   - bit for bit: `mpirun -np 2 deepmotif train` against one process that cuts every batch into the
 *     same 2 slices and adds their gradients in the same order (DM_TRAIN_SLICES=2): same weights,
 *     Adam state and epoch log, for a CNN with validation and an RNN whose last batch holds one row
 *     (rank 1 then has nothing to do in it);
 *   - within a stated bound: those sliced gradients against one pass over the whole batch (the
 *     default single-process run). Only the order of the batch's sum differs (see slices_vs_one_pass).
 * Failures: one rank given a bad file ends both ranks with that rank's line and exit 1, well within a
 * timeout; a checkpoint write failing on rank 0 during training ends both likewise. Resume: a run of
 * 2 epochs resumed to 4 under mpirun equals an uninterrupted 4-epoch run under mpirun bit for bit.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "testutil.h"
#include "train.h"

/* One machine: shared memory between the ranks (OpenMPI's vader), no TCP transport. ASan builds:
 * OpenMPI's own allocations outlive MPI_Finalize, so leak checking is off for the ranks
 * (the single-process runs keep it) */
#define MPIRUN "mpirun --oversubscribe --allow-run-as-root -np 2 --mca btl self,vader -x OPENBLAS_NUM_THREADS=1 " \
               "-x ASAN_OPTIONS=detect_leaks=0"
#define COMMON "--len 40 --epochs 2 --batch 57 --threads 1 --seed 7 --device cpu --quiet"
#define TIMEOUT "timeout -s KILL 120"   /* a hang fails the test (exit 137), it never blocks it */

static char *dir;

static void setup(void) {
    dir = dm_test_tmpdir();
    cr_assert(dir);
    cr_assert(dm_test_system("OPENBLAS_NUM_THREADS=1 %s simulate --out %s/tr.seq.gz --n 200 --len 40 --seed 2 "
                             "> /dev/null 2>&1", DM_TEST_CLI, dir) == 0);
}

static void teardown(void) {
    dm_test_rmdir(dir);
    free(dir);
}

TestSuite(mpi, .init = setup, .fini = teardown, .timeout = 300);

static void need_mpirun(void) {
    if (dm_test_system("command -v mpirun > /dev/null 2>&1") != 0)
        cr_skip_test("mpirun is not installed (scripts/setup.sh installs openmpi-bin)");
#ifndef DM_USE_MPI
    cr_skip_test("this build has no MPI (DM_MPI=OFF, or libopenmpi-dev was missing at configure time)");
#endif
}

/* A checkpoint's weights, and its resume state when it has one. */
typedef struct ckpt {
    float *params;
    int64_t n;
    dm_provenance prov;
    dm_resume_state st;
} ckpt;

static ckpt load(const char *name) {
    ckpt c = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dm_hparams hp;
    cr_assert(dm_checkpoint_load(path, dm_net_table, &hp, &c.params, &c.n, &c.prov, &c.st) == DM_STATUS_OK, "%s: %s",
              path, dm_last_error());
    return c;
}

static void unload(ckpt *c) {
    free(c->params);
    dm_resume_state_free(&c->st);
}

/* Same weights, optimiser state, selection and epoch log, bit for bit. */
static void assert_same_run(const char *a, const char *b) {
    ckpt x = load(a), y = load(b);
    cr_assert_eq(x.n, y.n);
    cr_assert(memcmp(x.params, y.params, sizeof(float) * (size_t)x.n) == 0, "%s and %s: different weights", a, b);
    cr_assert_eq(x.st.adam_m != NULL, y.st.adam_m != NULL);
    if (x.st.adam_m) {
        cr_assert(memcmp(x.st.adam_m, y.st.adam_m, sizeof(float) * (size_t)x.n) == 0, "%s, %s: Adam m differs", a, b);
        cr_assert(memcmp(x.st.adam_v, y.st.adam_v, sizeof(float) * (size_t)x.n) == 0, "%s, %s: Adam v differs", a, b);
        cr_assert(memcmp(x.st.best_params, y.st.best_params, sizeof(float) * (size_t)x.n) == 0);
        cr_assert_eq(x.st.adam_t, y.st.adam_t);
        cr_assert_eq(x.st.best_epoch, y.st.best_epoch);
    }
    cr_assert_eq(x.prov.n_epochs, y.prov.n_epochs);
    for (int e = 0; e < x.prov.n_epochs; e++) {
        cr_assert(x.prov.log[e].train_loss == y.prov.log[e].train_loss, "%s, %s: epoch %d's training loss", a, b, e + 1);
        cr_assert(memcmp(&x.prov.log[e].valid_auroc, &y.prov.log[e].valid_auroc, sizeof(double)) == 0);
    }
    unload(&x);
    unload(&y);
}

static void two_ranks_equal_slices(const char *arch, const char *more) {
    need_mpirun();
    cr_assert(dm_test_system("cd %s && DM_TRAIN_SLICES=2 OPENBLAS_NUM_THREADS=1 %s train --arch %s --train tr.seq.gz "
                             "--out one.dm " COMMON " %s > /dev/null 2> one.err", dir, DM_TEST_CLI, arch, more) == 0,
              "%s", dm_test_slurp_in(dir, "one.err"));
    cr_assert(dm_test_system("cd %s && " TIMEOUT " " MPIRUN " %s train --arch %s --train tr.seq.gz --out two.dm " COMMON
                             " %s > two.out 2> two.err", dir, DM_TEST_CLI, arch, more) == 0,
              "%s", dm_test_slurp_in(dir, "two.err"));
    /* only rank 0 printed: one summary */
    char *out = dm_test_slurp_in(dir, "two.out");
    char *first = strstr(out, "model ");
    cr_assert(first && !strstr(first + 1, "model "), "expected one summary, got:\n%s", out);
    assert_same_run("one.dm", "two.dm");
    assert_same_run("one.dm.last", "two.dm.last");
}

/* 360 training rows in batches of 57 (the last of 18), validation split 0.1 */
Test(mpi, cnn_two_ranks_equal_two_slices) { two_ranks_equal_slices("cnn", ""); }
/* 400 rows, no validation: the last batch holds 1 row, all of it rank 0's */
Test(mpi, rnn_two_ranks_equal_two_slices) { two_ranks_equal_slices("rnn", "--valid-frac 0"); }

/* The sliced sum against one pass over the batch, on one process (no MPI needed for it; the tests
 * above tie mpirun to the sliced sum bit for bit).
 *
 * Bound. Every gradient element is a sum of n = Bk·L terms t (rows × positions or time steps); the
 * two computations differ in how that sum is grouped (one GEMM or kernel over Bk rows against two
 * over Bk/2, then one addition), and the rows' own values can differ by a few ulps too (a GEMM kernel
 * for another number of rows). For any grouping, |ŝ − s| ≤ (n − 1)·u·Σ|t| (u = 2^−24), so two of
 * them differ by at most 2(n − 1)·u·Σ|t|. Σ|t| is not observable; its scale is taken as
 * A = max_i Σ_rows |g_row,i| (each row's own gradient, computed alone), and the test holds the
 * infinity norm: max_i |Δ_i| ≤ 2(n − 1)·u·A. Typical errors are ~√n·u·|g|, far below; a slice run with
 * the wrong dropout masks or a row missing differs by a fair part of A. */
static void slices_vs_one_pass(dm_arch arch) {
    dm_dataset ds = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/tr.seq.gz", dir);
    cr_assert(dm_dataset_read(&ds, path, DM_FORMAT_AUTO, 40) == DM_STATUS_OK, "%s", dm_last_error());
    dm_backend *be = dm_backend_cpu_create(1);
    cr_assert(be);
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = 40;
    const int Bk = 57;
    dm_net *m;
    cr_assert(dm_net_create(&m, &hp, be, Bk) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(dm_net_init_params(m, 7) == DM_STATUS_OK);
    dm_devdata *d;
    cr_assert(dm_devdata_create(&d, be, &ds) == DM_STATUS_OK);
    int64_t *order = malloc(sizeof(int64_t) * (size_t)ds.n);
    for (int64_t i = 0; i < ds.n; i++) order[i] = (i * 37) % ds.n;   /* 37 is prime to 400: a permutation */
    cr_assert(dm_devdata_set_order(d, order) == DM_STATUS_OK);
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    int64_t np = dm_net_n_params(m);
    float *one = malloc(sizeof(float) * (size_t)(np + DM_GRADS_EXTRA)), *two = malloc(sizeof(float) * (size_t)(np + DM_GRADS_EXTRA));
    float *row = malloc(sizeof(float) * (size_t)(np + DM_GRADS_EXTRA)), *tmp = malloc(sizeof(float) * (size_t)np);
    double *A = calloc((size_t)np, sizeof(double));
    float loss[64];
    const int64_t i0 = 57, step = 3;   /* the second batch, at a step with dropout on */
    cr_assert(dm_net_batch_grads(m, d, i0, Bk, 1, 0, 1, &o, step, false, one, tmp, loss, NULL) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(dm_net_batch_grads(m, d, i0, Bk, 2, 0, 2, &o, step, false, two, tmp, loss, NULL) == DM_STATUS_OK, "%s", dm_last_error());
    double rowmax = 0;   /* the largest gradient element of one row alone */
    for (int r = 0; r < Bk; r++) {   /* each row alone: slice r of Bk */
        cr_assert(dm_net_batch_grads(m, d, i0, Bk, Bk, r, r + 1, &o, step, false, row, tmp, loss, NULL) == DM_STATUS_OK);
        for (int64_t i = 0; i < np; i++) {
            A[i] += fabs((double)row[i]);
            rowmax = fmax(rowmax, fabs((double)row[i]));
        }
    }
    double amax = 0, dmax = 0, gmax = 0;
    for (int64_t i = 0; i < np; i++) {
        amax = fmax(amax, A[i]);
        dmax = fmax(dmax, fabs((double)one[i] - (double)two[i]));
        gmax = fmax(gmax, fabs((double)one[i]));
        cr_assert(isfinite(one[i]) && isfinite(two[i]));
    }
    double n = (double)Bk * hp.len, u = ldexp(1.0, -24), tol = 2 * (n - 1) * u * amax;
    cr_log_info("%s: max |one pass - 2 slices| %.3g, bound %.3g (A %.3g, max |g| %.3g, one row's max %.3g)",
                dm_arch_name(arch), dmax, tol, amax, gmax, rowmax);
    cr_assert(dmax <= tol, "%s: the sliced gradient differs by %.3g > %.3g", dm_arch_name(arch), dmax, tol);
    /* the check can fail: one row left out, or run with another row's dropout masks, moves some
     * element by about its own gradient there, which is over 10 times the bound */
    cr_assert(rowmax > 10 * tol, "%s: the bound %.3g is too loose to see one row (%.3g)", dm_arch_name(arch), tol, rowmax);
    /* the batch's loss: the same rows, summed in another order (Bk terms) */
    cr_assert(fabs(one[np + DM_GRADS_LOSS] - two[np + DM_GRADS_LOSS]) <=
              2 * Bk * u * fabs(one[np + DM_GRADS_LOSS]) + 1e-30);
    free(one);
    free(two);
    free(row);
    free(tmp);
    free(A);
    free(order);
    dm_devdata_free(d);
    dm_net_free(m);
    dm_backend_free(be);
    dm_dataset_free(&ds);
}

Test(mpi, slices_vs_one_pass_cnn) { slices_vs_one_pass(DM_ARCH_CNN); }
Test(mpi, slices_vs_one_pass_rnn) { slices_vs_one_pass(DM_ARCH_RNN); }

/* Rank 1 reads a bad file (a wrapper picks the file by OMPI_COMM_WORLD_RANK): both ranks end, exit
 * 1, one line naming rank 1, the file and its line; no model written. */
Test(mpi, bad_file_on_one_rank) {
    need_mpirun();
    dm_test_write_in(dir, "bad.tsv", "FoldID\tEventID\tseq\tBound\nA\tx\tACGTACGT\t1\nA\ty\tACGTNNZZ\t1\n");
    char script[8192];
    snprintf(script, sizeof script,
             "#!/bin/sh\nif [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then f=bad.tsv; else f=tr.seq.gz; fi\n"
             "exec %s train --arch cnn --train \"$f\" --out m.dm " COMMON "\n", DM_TEST_CLI);
    dm_test_write_in(dir, "per_rank.sh", script);
    int rc = dm_test_system("cd %s && " TIMEOUT " " MPIRUN " sh per_rank.sh > out 2> err", dir);
    char *err = dm_test_slurp_in(dir, "err");
    cr_assert(rc != 0 && rc != 137, "exit %d (137: a hang, killed)\n%s", rc, err);
    cr_assert(strstr(err, "deepmotif train: rank 1: bad.tsv:3: invalid base 'Z'"), "stderr:\n%s", err);
    char *again = strstr(err, "deepmotif train:");
    cr_assert(!strstr(again + 1, "deepmotif train:"), "more than one line of ours:\n%s", err);
    cr_assert(!dm_test_exists_in(dir, "m.dm") && !dm_test_exists_in(dir, "m.dm.last"));
}

/* A checkpoint commit failing on rank 0 (the writer) in epoch 2, while rank 1 trains on: both end
 * with its line and exit 1; epoch 1's files stay. */
Test(mpi, write_failure_on_rank0) {
    need_mpirun();
    int rc = dm_test_system("cd %s && " TIMEOUT " " MPIRUN " -x DM_FAULT=fail@m.dm.last#2 %s train --arch cnn "
                            "--train tr.seq.gz --out m.dm " COMMON " > out 2> err", dir, DM_TEST_CLI);
    char *err = dm_test_slurp_in(dir, "err");
    cr_assert(rc != 0 && rc != 137, "exit %d (137: a hang, killed)\n%s", rc, err);
    char *line = strstr(err, "deepmotif train: rank 0: ");
    cr_assert(line && strstr(line, "m.dm.last"), "stderr:\n%s", err);
    cr_assert(!strstr(line + 1, "deepmotif train:"), "more than one line of ours:\n%s", err);
    ckpt c = load("m.dm.last");
    cr_assert_eq(c.st.epoch_done, 1);
    unload(&c);
}

/* SIGTERM to mpirun during training (it passes the signal on to the ranks): both stop after the same
 * batch, rank 0 keeps the files and prints the resume command (with mpirun), and that resume under
 * mpirun ends with the files of an uninterrupted run under mpirun, bit for bit. */
Test(mpi, sigterm_and_resume_under_mpirun) {
    need_mpirun();
#define SIG "--len 40 --epochs 4 --batch 57 --threads 1 --seed 7 --device cpu"
    cr_assert(dm_test_system("OPENBLAS_NUM_THREADS=1 %s simulate --out %s/big.seq.gz --n 6000 --len 40 --seed 4 "
                             "> /dev/null 2>&1", DM_TEST_CLI, dir) == 0);
    cr_assert(dm_test_system("cd %s && " TIMEOUT " " MPIRUN " %s train --arch cnn --train big.seq.gz --out full.dm " SIG
                             " --quiet > /dev/null 2> err", dir, DM_TEST_CLI) == 0, "%s", dm_test_slurp_in(dir, "err"));
    /* the signal comes when rank 0's first epoch line reaches the file (mpirun forwards the ranks'
     * stderr with some delay), i.e. during epoch 2 of 4: three epochs are left whatever the machine's
     * speed (a fixed delay after the header was outrun once training reached 20,000 seq/s) */
    /* (mpirun itself gets the signal, as from a scheduler; a watchdog kills it after 120 s: 137) */
    int rc = dm_test_system("cd %s && (" MPIRUN " %s train --arch cnn --train big.seq.gz --out sig.dm " SIG
                            " > /dev/null 2> sig.err & p=$!; (sleep 120; kill -KILL $p) > /dev/null 2>&1 < /dev/null & w=$!; "
                            "i=0; "
                            "while ! grep -qs 'epoch 1/4' sig.err && [ $i -lt 2000 ]; do sleep 0.02; "
                            "i=$((i + 1)); done; kill -TERM $p; wait $p; r=$?; kill $w; exit $r)",
                            dir, DM_TEST_CLI);
    char *err = dm_test_slurp_in(dir, "sig.err");
    cr_assert(rc != 137, "a hang, killed\n%s", err);
    /* a run that ended before the signal would leave the interruption untested, so it fails (Criterion
     * also exits 1 on a logged warning, so a warning is no way out) */
    cr_assert(strstr(err, "interrupted by SIGTERM"), "the run ended before the signal\n%s", err);
    cr_assert(strstr(err, "resume with: mpirun -np 2 deepmotif train"), "%s", err);
    cr_assert(rc != 0);
    cr_assert(dm_test_system("cd %s && " TIMEOUT " " MPIRUN " %s train --arch cnn --train big.seq.gz --out sig.dm " SIG
                             " --resume sig.dm.last --quiet > /dev/null 2> err", dir, DM_TEST_CLI) == 0,
              "%s", dm_test_slurp_in(dir, "err"));
    assert_same_run("full.dm.last", "sig.dm.last");
    assert_same_run("full.dm", "sig.dm");
}

/* 2 epochs, then --resume to 4, under mpirun: the same files as 4 epochs at once under mpirun. */
Test(mpi, resume_under_mpirun) {
    need_mpirun();
#define RES "--len 40 --batch 57 --threads 1 --seed 7 --device cpu --quiet --patience 0"
    cr_assert(dm_test_system("cd %s && " TIMEOUT " " MPIRUN " %s train --arch cnn --train tr.seq.gz --out full.dm "
                             "--epochs 4 " RES " > /dev/null 2> err", dir, DM_TEST_CLI) == 0,
              "%s", dm_test_slurp_in(dir, "err"));
    cr_assert(dm_test_system("cd %s && " TIMEOUT " " MPIRUN " %s train --arch cnn --train tr.seq.gz --out part.dm "
                             "--epochs 2 " RES " > /dev/null 2> err", dir, DM_TEST_CLI) == 0,
              "%s", dm_test_slurp_in(dir, "err"));
    cr_assert(dm_test_system("cd %s && " TIMEOUT " " MPIRUN " %s train --train tr.seq.gz --out part.dm "
                             "--resume part.dm.last --epochs 4 " RES " > /dev/null 2> err", dir, DM_TEST_CLI) == 0,
              "%s", dm_test_slurp_in(dir, "err"));
    assert_same_run("full.dm", "part.dm");
    assert_same_run("full.dm.last", "part.dm.last");
}
