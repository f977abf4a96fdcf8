/*
 * test_reproducible.c: `train --reproducible` gives bit-identical weights whatever the machine it
 * runs on. Other machines are emulated in subprocesses of the CLI (DM_TEST_CLI): OpenBLAS's kernels
 * per core type (OPENBLAS_CORETYPE Haswell, SkylakeX, Zen), the engine's own ISA dispatch
 * (DM_CPU_ISA portable, avx2, avx512: the levels this CPU has), glibc's non-FMA libm variants
 * (GLIBC_TUNABLES masking FMA and AVX2) and the thread count (--threads 1, 2, 3). Every run's
 * parameters must equal the first run's byte for byte (no tolerance: that is the mode's promise).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "deepmotif.h"
#include "testutil.h"

int dm_cpu_isa_supported(void);
const char *dm_cpu_isa_name(int level);

static char *dir;

static void setup(void) {
    dir = dm_test_tmpdir();
    /* 2 × 50 sequences: one epoch of a CNN-RNN (conv, BiLSTM, dense) on the fixed-order kernels takes
     * well under a second */
    cr_assert_eq(dm_test_system("%s simulate --out %s/tr.seq.gz --n 50 --seed 5 > /dev/null 2>&1", DM_TEST_CLI,
                                dir),
                 0);
}
static void teardown(void) { dm_test_rmdir(dir); }

/* Trains into dir/<name>.dm under the environment `env` with the extra options `opts`; returns the
 * parameters (malloc'd) and their count. */
static float *train_params(const char *env, const char *opts, const char *name, int64_t *n) {
    int rc = dm_test_system("env %s %s train --arch cnnrnn --train %s/tr.seq.gz --epochs 1 --seed 7 "
                            "--out %s/%s.dm --quiet %s > %s/out 2> %s/err",
                            env, DM_TEST_CLI, dir, dir, name, opts, dir, dir);
    cr_assert_eq(rc, 0, "train under '%s' %s: exit %d: %s", env, opts, rc, dm_test_slurp_in(dir, "err"));
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.dm", dir, name);
    dm_model *m = NULL;
    cr_assert_eq(dm_model_load(path, &m), DM_STATUS_OK, "%s", dm_last_error());
    const float *p;
    cr_assert_eq(dm_model_params(m, &p, n), DM_STATUS_OK);
    float *copy = malloc((size_t)*n * sizeof *copy);
    cr_assert(copy);
    memcpy(copy, p, (size_t)*n * sizeof *copy);
    dm_model_free(m);
    return copy;
}

/* (glibc ≥ 2.33 spells the hwcaps without _Usable, older ones with it; an unknown name is ignored) */
#define NO_FMA "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA,-AVX2_Usable,-FMA_Usable"

/* The run every other is compared with: OpenBLAS's Haswell kernels, one thread. */
static float *p0;
static int64_t n0;
static void expect_same(const char *env, const char *opts) {
    if (!p0) p0 = train_params("OPENBLAS_CORETYPE=Haswell", "--reproducible --threads 1", "ref", &n0);
    int64_t n1;
    float *p1 = train_params(env, opts, "run", &n1);
    cr_assert_eq(n1, n0);
    int64_t diff = 0;
    for (int64_t i = 0; i < n0; i++) diff += memcmp(&p0[i], &p1[i], sizeof *p0) != 0;
    cr_expect_eq(diff, 0, "under '%s' %s: %lld of %lld parameters differ from OPENBLAS_CORETYPE=Haswell's",
                 env, opts, (long long)diff, (long long)n0);
    free(p1);
}

TestSuite(reproducible, .init = setup, .fini = teardown, .timeout = 240);

/* core types × thread counts × libm variants (each run changes several at once: fewer runs) */
Test(reproducible, core_types_threads_libm) {
    expect_same("OPENBLAS_CORETYPE=SkylakeX", "--reproducible --threads 2");
    expect_same("OPENBLAS_CORETYPE=Zen " NO_FMA, "--reproducible --threads 3");
}

static void isa_case(int level) {
    if (dm_cpu_isa_supported() < level)
        cr_skip_test("this CPU has no %s (the levels it has are tested)", dm_cpu_isa_name(level));
    char env[64];
    snprintf(env, sizeof env, "DM_CPU_ISA=%s", dm_cpu_isa_name(level));
    expect_same(env, "--reproducible");   /* (all threads: the default) */
}
Test(reproducible, isa_portable) { isa_case(0); }
Test(reproducible, isa_avx2) { isa_case(1); }
Test(reproducible, isa_avx512) { isa_case(2); }

/* What the mode is for: without it the core types' weights may differ (OpenBLAS's kernels and the
 * engine's own dispatch differ in summation order and FMA use). Not asserted, since they may also
 * coincide on a given CPU; the count of differing parameters is logged. Without --reproducible
 * OpenBLAS runs its kernels for the named core: SkylakeX's are AVX-512 and die of SIGILL on a CPU
 * without it (an AMD EPYC of this workplace's kind has only AVX2), so there the other core is Zen. */
Test(reproducible, default_mode_documented) {
    int64_t na, nb;
    const char *other = dm_cpu_isa_supported() >= 2 ? "SkylakeX" : "Zen";
    char env[64];
    snprintf(env, sizeof env, "OPENBLAS_CORETYPE=%s", other);
    float *pa = train_params("OPENBLAS_CORETYPE=Haswell DM_CPU_ISA=portable", "--threads 1", "h", &na);
    float *pb = train_params(env, "--threads 2", "s", &nb);
    cr_assert_eq(nb, na);
    int64_t diff = 0;
    for (int64_t i = 0; i < na; i++) diff += memcmp(&pa[i], &pb[i], sizeof *pa) != 0;
    cr_log_info("without --reproducible: %lld of %lld parameters differ between Haswell/portable/1 thread "
                "and %s/2 threads", (long long)diff, (long long)na, other);
    free(pa);
    free(pb);
}
