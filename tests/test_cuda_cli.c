/*
 * test_cuda_cli.c: `deepmotif train|predict|saliency|optimize --device cuda` end to end, against the
 * same commands with `--device cpu`. In emulator builds (DM_CUDA_EMU) the CLI runs the real CUDA host
 * layer and kernels on the emulator; in a real CUDA build it runs on the GPU, and skips without one.
 *
 * The outputs are compared token by token: text (ids, headers) must be equal, numbers must agree within
 * FILE_RTOL of the largest magnitude in the file plus FILE_RTOL relative (float sums in another order).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define FILE_RTOL 2e-3

static char *g_dir;

/* Sanitizer builds (DM_TEST_SMALL): fewer sequences, one epoch, fewer optimisation steps. */
static bool small(void) { return getenv("DM_TEST_SMALL") != NULL; }

static int cli(const char *fmt, const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, args);
    return dm_test_system("OPENBLAS_NUM_THREADS=1 %s %s >> %s/log 2>&1", DM_TEST_CLI, cmd, g_dir);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

/* Compares two TSV files as described above; returns the number of numbers compared. */
static long compare_tsv(const char *a_path, const char *b_path) {
    char *a = slurp(a_path), *b = slurp(b_path);
    double mx = 0;
    for (char *p = b; *p;) {   /* the largest magnitude of the reference file */
        char *end;
        double v = strtod(p, &end);
        if (end != p && isfinite(v)) { mx = fmax(mx, fabs(v)); p = end; }
        else p++;
    }
    long n = 0;
    char *sa, *sb, *ta = strtok_r(a, "\t\n,", &sa), *tb = strtok_r(b, "\t\n,", &sb);
    for (; ta && tb; ta = strtok_r(NULL, "\t\n,", &sa), tb = strtok_r(NULL, "\t\n,", &sb)) {
        char *ea, *eb;
        double va = strtod(ta, &ea), vb = strtod(tb, &eb);
        if (*ea == 0 && *eb == 0 && ea != ta && eb != tb) {
            cr_assert(fabs(va - vb) <= FILE_RTOL * (mx + fabs(vb)), "%s: %s vs %s (cpu)", a_path, ta, tb);
            n++;
        } else {
            cr_assert_str_eq(ta, tb, "%s: text differs: %s vs %s (cpu)", a_path, ta, tb);
        }
    }
    cr_assert(!ta && !tb, "%s and %s have different lengths", a_path, b_path);
    free(a);
    free(b);
    return n;
}

static void setup(void) {
    g_dir = dm_test_tmpdir();
    char args[1024];
    snprintf(args, sizeof args, "simulate --out %s/train.seq.gz --n %d --seed 3", g_dir, small() ? 40 : 160);
    cr_assert_eq(cli("%s", args), 0);
    snprintf(args, sizeof args, "simulate --out %s/test.seq.gz --n %d --seed 4", g_dir, small() ? 6 : 24);
    cr_assert_eq(cli("%s", args), 0);
    snprintf(args, sizeof args, "train --arch cnn --train %s/train.seq.gz --epochs 1 --batch 32 --out %s/probe.dm "
             "--device cuda --quiet", g_dir, g_dir);
    if (cli("%s", args) != 0) {
        char log[512];
        snprintf(log, sizeof log, "%s/log", g_dir);
        char *s = slurp(log);
        cr_skip_test("deepmotif --device cuda is not usable here: %s", s);
    }
}

static void teardown(void) {
    if (g_dir) dm_test_rmdir(g_dir);
    free(g_dir);
    g_dir = NULL;
}

static void run_both(const char *arch) {
    const char *dev[2] = {"cuda", "cpu"};
    char args[1024], a[512], b[512];
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "train --arch %s --train %s/train.seq.gz --test %s/test.seq.gz --epochs %d "
                 "--batch 32 --out %s/%s.%s.dm --device %s --threads 1 --quiet", arch, g_dir, g_dir, small() ? 1 : 2, g_dir,
                 arch, dev[k], dev[k]);
        cr_assert_eq(cli("%s", args), 0, "train --device %s", dev[k]);
    }
    /* every command on each device, from the CPU-trained model (so only the command differs) */
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "predict --model %s/%s.cpu.dm --data %s/test.seq.gz --out %s/pred.%s.tsv --device %s --threads 1",
                 g_dir, arch, g_dir, g_dir, dev[k], dev[k]);
        cr_assert_eq(cli("%s", args), 0, "predict --device %s", dev[k]);
        snprintf(args, sizeof args, "saliency --model %s/%s.cpu.dm --data %s/test.seq.gz --out %s/sal.%s --device %s --threads 1 "
                 "--quiet", g_dir, arch, g_dir, g_dir, dev[k], dev[k]);
        cr_assert_eq(cli("%s", args), 0, "saliency --device %s", dev[k]);
        snprintf(args, sizeof args, "optimize --model %s/%s.cpu.dm --out %s/opt.%s --restarts %d --steps %d --device %s "
                 "--threads 1", g_dir, arch, g_dir, dev[k], small() ? 2 : 4, small() ? 5 : 20, dev[k]);
        cr_assert_eq(cli("%s", args), 0, "optimize --device %s", dev[k]);
    }
    const char *outs[] = {"pred.%s.tsv", "sal.%s.tsv", "opt.%s.trajectory.tsv"};
    for (int i = 0; i < 3; i++) {
        char fa[64], fb[64];
        snprintf(fa, sizeof fa, outs[i], "cuda");
        snprintf(fb, sizeof fb, outs[i], "cpu");
        snprintf(a, sizeof a, "%s/%s", g_dir, fa);
        snprintf(b, sizeof b, "%s/%s", g_dir, fb);
        cr_expect(compare_tsv(a, b) > 0, "%s holds numbers", a);
    }
    /* the models trained on each device score the test set alike */
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "predict --model %s/%s.%s.dm --data %s/test.seq.gz --out %s/tp.%s.tsv --device cpu --threads 1",
                 g_dir, arch, dev[k], g_dir, g_dir, dev[k]);
        cr_assert_eq(cli("%s", args), 0);
    }
    snprintf(a, sizeof a, "%s/tp.cuda.tsv", g_dir);
    snprintf(b, sizeof b, "%s/tp.cpu.tsv", g_dir);
    compare_tsv(a, b);
}

Test(cuda_cli, cnn, .init = setup, .fini = teardown) { run_both("cnn"); }
Test(cuda_cli, rnn, .init = setup, .fini = teardown) { run_both("rnn"); }
Test(cuda_cli, cnnrnn, .init = setup, .fini = teardown) { run_both("cnnrnn"); }
