/*
 * test_cuda_cli.c: `deepmotif train|predict|saliency|optimize --device cuda` end to end, against the
 * same commands with `--device cpu`. In emulator builds (DM_CUDA_EMU) the CLI runs the real CUDA host
 * layer and kernels on the emulator; in a real CUDA build it runs on the GPU. Without a CUDA device
 * the tests skip, saying why (ctest reports them as skipped: SKIP_RETURN_CODE); when a device exists,
 * any command that fails is a test failure (with the end of its log), never a skip.
 *
 * The outputs are compared as tables (lines of tab- or comma-separated fields): the same shape, text
 * columns (ids, headers) equal, and each numeric column (every field below the header parses as a
 * number in the reference) within FILE_RTOL of that column's largest reference magnitude plus
 * FILE_RTOL relative: float sums in another order differ by a few ulps of the largest terms of the
 * same quantity, and columns hold different quantities (a P(bound) next to a logit).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "testutil.h"

#define FILE_RTOL 2e-3

static char *g_dir;

/* Sanitizer builds (DM_TEST_SMALL): fewer sequences, one epoch, fewer optimisation steps. */
static bool small(void) { return getenv("DM_TEST_SMALL") != NULL; }

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

/* Runs the CLI with the formatted arguments; a non-zero exit fails the test with the log's end. */
static void cli(const char *what, const char *fmt, const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, args);
    int rc = dm_test_system("OPENBLAS_NUM_THREADS=1 %s %s >> %s/log 2>&1", DM_TEST_CLI, cmd, g_dir);
    if (rc != 0) {
        char log[512];
        snprintf(log, sizeof log, "%s/log", g_dir);
        char *s = slurp(log);
        size_t n = strlen(s);
        cr_assert_fail("%s: `deepmotif %s` exited with %d; end of its log:\n%s", what, cmd, rc,
                       s + (n > 1500 ? n - 1500 : 0));
    }
}

/* A table: rows of fields (the text is modified in place). */
typedef struct table {
    int rows, cols;   /* cols: the widest row */
    int *nf;          /* fields per row */
    char ***f;        /* f[row][field] */
} table;

static table read_table(char *text) {
    table t = {0};
    int cap = 0;
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (t.rows == cap) {
            cap = cap ? 2 * cap : 64;
            t.nf = realloc(t.nf, sizeof *t.nf * (size_t)cap);
            t.f = realloc(t.f, sizeof *t.f * (size_t)cap);
            cr_assert(t.nf && t.f);
        }
        int n = 1;
        for (char *p = line; *p; p++) n += *p == '\t' || *p == ',';
        char **fs = malloc(sizeof *fs * (size_t)n);
        cr_assert_not_null(fs);
        int k = 0;
        for (char *p = line;; p++)
            if (*p == '\t' || *p == ',' || *p == 0) {
                int end = *p == 0;
                *p = 0;
                fs[k++] = line;
                line = p + 1;
                if (end) break;
            }
        t.nf[t.rows] = k;
        t.f[t.rows++] = fs;
        if (k > t.cols) t.cols = k;
        line = next;
    }
    return t;
}

static void free_table(table *t) {
    for (int r = 0; r < t->rows; r++) free(t->f[r]);
    free(t->f);
    free(t->nf);
}

static bool number(const char *s, double *v) {
    char *end;
    *v = strtod(s, &end);
    return end != s && *end == 0;
}

/* Compares two tables as described above; returns the number of numbers compared. */
static long compare_tsv(const char *a_path, const char *b_path) {
    char *a = slurp(a_path), *b = slurp(b_path);
    table ta = read_table(a), tb = read_table(b);
    cr_assert_eq(ta.rows, tb.rows, "%s has %d lines, the cpu output %d", a_path, ta.rows, tb.rows);
    for (int r = 0; r < ta.rows; r++)
        cr_assert_eq(ta.nf[r], tb.nf[r], "%s line %d: %d fields, the cpu output %d", a_path, r + 1, ta.nf[r], tb.nf[r]);
    /* a column is numeric when every field of it below the first line is a number in the reference;
     * its scale is its largest reference magnitude (below the first line) */
    bool *numeric = calloc((size_t)tb.cols, sizeof *numeric);
    double *scale = calloc((size_t)tb.cols, sizeof *scale);
    int *count = calloc((size_t)tb.cols, sizeof *count);
    cr_assert(numeric && scale && count);
    for (int c = 0; c < tb.cols; c++) numeric[c] = true;
    for (int r = 1; r < tb.rows; r++)
        for (int c = 0; c < tb.nf[r]; c++) {
            double v;
            if (!number(tb.f[r][c], &v) || !isfinite(v)) numeric[c] = false;
            else { scale[c] = fmax(scale[c], fabs(v)); count[c]++; }
        }
    long n = 0;
    for (int r = 0; r < tb.rows; r++)
        for (int c = 0; c < tb.nf[r]; c++) {
            double va, vb;
            const char *fa = ta.f[r][c], *fb = tb.f[r][c];
            bool nums = number(fa, &va) && number(fb, &vb); /* a first line of numbers is no header */
            if (numeric[c] && count[c] > 0 && (r > 0 || nums)) {
                cr_assert(number(fa, &va), "%s line %d column %d: '%s' is not a number (cpu: %s)", a_path, r + 1,
                          c + 1, fa, fb);
                number(fb, &vb);
                cr_assert(fabs(va - vb) <= FILE_RTOL * (scale[c] + fabs(vb)),
                          "%s line %d column %d: %s vs %s (cpu; column scale %.3g)", a_path, r + 1, c + 1, fa, fb,
                          scale[c]);
                n++;
            } else {
                cr_assert_str_eq(fa, fb, "%s line %d column %d: text differs: %s vs %s (cpu)", a_path, r + 1, c + 1,
                                 fa, fb);
            }
        }
    free(numeric);
    free(scale);
    free(count);
    free_table(&ta);
    free_table(&tb);
    free(a);
    free(b);
    return n;
}

static void setup(void) {
    dm_backend_free(dm_test_cuda_backend()); /* skips, with the reason, when there is no CUDA device */
    g_dir = dm_test_tmpdir();
    cr_assert_not_null(g_dir);
    char args[1024];
    snprintf(args, sizeof args, "simulate --out %s/train.seq.gz --n %d --seed 3", g_dir, small() ? 40 : 160);
    cli("simulate", "%s", args);
    snprintf(args, sizeof args, "simulate --out %s/test.seq.gz --n %d --seed 4", g_dir, small() ? 6 : 24);
    cli("simulate", "%s", args);
}

static void teardown(void) {
    if (g_dir) dm_test_rmdir(g_dir);
    free(g_dir);
    g_dir = NULL;
}

static void run_both(const char *arch) {
    const char *dev[2] = {"cuda", "cpu"};
    char args[1024], a[512], b[512];
    for (int k = 0; k < 2; k++) {   /* one strand: --rc both would double every run (test_rc covers it) */
        snprintf(args, sizeof args, "train --arch %s --train %s/train.seq.gz --test %s/test.seq.gz --epochs %d "
                 "--batch 32 --rc none --out %s/%s.%s.dm --device %s --threads 1 --quiet", arch, g_dir, g_dir, small() ? 1 : 2, g_dir,
                 arch, dev[k], dev[k]);
        cli(dev[k], "%s", args);
    }
    /* every command on each device, from the CPU-trained model (so only the command differs) */
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "predict --model %s/%s.cpu.dm --data %s/test.seq.gz --out %s/pred.%s.tsv --device %s --threads 1",
                 g_dir, arch, g_dir, g_dir, dev[k], dev[k]);
        cli(dev[k], "%s", args);
        snprintf(args, sizeof args, "saliency --model %s/%s.cpu.dm --data %s/test.seq.gz --out %s/sal.%s --device %s --threads 1 "
                 "--quiet", g_dir, arch, g_dir, g_dir, dev[k], dev[k]);
        cli(dev[k], "%s", args);
        snprintf(args, sizeof args, "optimize --model %s/%s.cpu.dm --out %s/opt.%s --restarts %d --steps %d --device %s "
                 "--threads 1", g_dir, arch, g_dir, dev[k], small() ? 2 : 4, small() ? 5 : 20, dev[k]);
        cli(dev[k], "%s", args);
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
        cli("predict --device cpu", "%s", args);
    }
    snprintf(a, sizeof a, "%s/tp.cuda.tsv", g_dir);
    snprintf(b, sizeof b, "%s/tp.cpu.tsv", g_dir);
    compare_tsv(a, b);
}

Test(cuda_cli, cnn, .init = setup, .fini = teardown) { run_both("cnn"); }
Test(cuda_cli, rnn, .init = setup, .fini = teardown) { run_both("rnn"); }
Test(cuda_cli, cnnrnn, .init = setup, .fini = teardown) { run_both("cnnrnn"); }
