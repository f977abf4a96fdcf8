/*
 * test_cuda_mpi.c: data-parallel training on the CUDA backend under `mpirun -np 2` (issue 13). The
 * gradients of each rank's slice come to the host and go through the same MPI sum as on the CPU
 * (host/train.c, dm_net_batch_grads); the emulator has no NCCL and one device, shared by both ranks.
 * Checked: 2 ranks on `--device cuda` give the weights, Adam state and epoch log of one process
 * cutting each batch into the same 2 slices (DM_TRAIN_SLICES=2) on the same backend, bit for bit,
 * under every DM_EMU_SCHED order ctest runs (passed on to the ranks).
 *
 * Skipped without mpirun, in a build without MPI, and without a CUDA backend (a CPU-only build, or
 * no usable GPU; on a real machine each rank takes the GPU of its local rank, so this needs 2).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm_internal.h"
#include "testutil.h"

#define MPIRUN "mpirun --oversubscribe --allow-run-as-root -np 2 --mca btl self,vader -x OPENBLAS_NUM_THREADS=1 " \
               "-x ASAN_OPTIONS=detect_leaks=0"
#define COMMON "--len 40 --epochs 1 --batch 57 --seed 7 --device cuda --quiet"

static char *dir;

static void setup(void) {
    dir = dm_test_tmpdir();
    cr_assert(dir);
    /* sanitizer builds (DM_TEST_SMALL): 60 sequences, two batches of the 54 left for training */
    cr_assert(dm_test_system("OPENBLAS_NUM_THREADS=1 %s simulate --out %s/tr.seq.gz --n %d --len 40 --seed 2 "
                             "> /dev/null 2>&1", DM_TEST_CLI, dir, getenv("DM_TEST_SMALL") ? 30 : 100) == 0);
}

static void teardown(void) {
    dm_test_rmdir(dir);
    free(dir);
}

static float *load(const char *name, int64_t *n, dm_resume_state *st) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dm_hparams hp;
    float *p = NULL;
    dm_provenance prov;
    cr_assert(dm_checkpoint_load(path, dm_net_table, &hp, &p, n, &prov, st) == DM_STATUS_OK, "%s: %s", path,
              dm_last_error());
    return p;
}

/* (no TestSuite: the TSan builds' runner, tests/crshim, takes .init and .fini per test) */
Test(cuda_mpi, two_ranks_equal_two_slices, .init = setup, .fini = teardown, .timeout = 600) {
    if (dm_test_system("command -v mpirun > /dev/null 2>&1") != 0)
        cr_skip_test("mpirun is not installed (scripts/setup.sh installs openmpi-bin)");
#ifndef DM_USE_MPI
    cr_skip_test("this build has no MPI (DM_MPI=OFF, or libopenmpi-dev was missing at configure time)");
#endif
    dm_backend_free(dm_test_cuda_backend());   /* skips without one */
#ifndef DM_CUDA_EMU
    cr_skip_test("a real GPU: 2 ranks need 2 devices (one per rank), not checked here");
#endif
    const char *sched = getenv("DM_EMU_SCHED");
    char xs[128] = "";
    if (sched) snprintf(xs, sizeof xs, "-x DM_EMU_SCHED=%s", sched);
    /* sanitizer builds (DM_TEST_SMALL): the CNN only, the emulator being slow under them */
    int n_arch = getenv("DM_TEST_SMALL") ? 1 : 2;
    for (int a = 0; a < n_arch; a++) {
        const char *arch = a ? "rnn" : "cnn";
        cr_assert(dm_test_system("cd %s && DM_TRAIN_SLICES=2 OPENBLAS_NUM_THREADS=1 %s train --arch %s --train tr.seq.gz "
                                 "--out one.dm " COMMON " > /dev/null 2> one.err", dir, DM_TEST_CLI, arch) == 0,
                  "%s", dm_test_slurp_in(dir, "one.err"));
        cr_assert(dm_test_system("cd %s && timeout -s KILL 500 " MPIRUN " %s %s train --arch %s --train tr.seq.gz "
                                 "--out two.dm " COMMON " > /dev/null 2> two.err", dir, xs, DM_TEST_CLI, arch) == 0,
                  "%s", dm_test_slurp_in(dir, "two.err"));
        int64_t n1, n2;
        dm_resume_state s1 = {0}, s2 = {0};
        float *p1 = load("one.dm.last", &n1, &s1), *p2 = load("two.dm.last", &n2, &s2);
        cr_assert_eq(n1, n2);
        cr_assert(memcmp(p1, p2, sizeof(float) * (size_t)n1) == 0, "%s: different weights", arch);
        cr_assert(memcmp(s1.adam_m, s2.adam_m, sizeof(float) * (size_t)n1) == 0, "%s: Adam m differs", arch);
        cr_assert(memcmp(s1.adam_v, s2.adam_v, sizeof(float) * (size_t)n1) == 0, "%s: Adam v differs", arch);
        cr_assert(memcmp(&s1.best_valid, &s2.best_valid, sizeof(double)) == 0, "%s: validation AUROC differs", arch);
        free(p1);
        free(p2);
        dm_resume_state_free(&s1);
        dm_resume_state_free(&s2);
    }
}
