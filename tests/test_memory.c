/*
 * test_memory.c: bounded memory on any input (issue 9). The CLI runs as a child (fork/exec of
 * DM_TEST_CLI) and wait4 reports its peak RSS:
 *  - predict streams its input: 10k and 200k sequences peak within a fixed margin of each other;
 *  - a bad line deep in the file (past the first chunks) leaves no output and names file and line;
 *  - the line cap names file and line, and a gzip bomb of one endless line (4 GiB of 'A') or of
 *    millions of short rows (train, --max-memory) is refused within a bounded RSS.
 * Inputs and bombs are generated here; bombs as concatenated gzip members made by zlib from one small
 * block, so nothing large is ever held or written.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "dm_internal.h"
#include "model.h"
#include "testutil.h"

/* Under AddressSanitizer (the CLI and the tests are built alike), freed blocks wait in a quarantine
 * of up to 256 MB and every block carries redzones, so peak RSS grows with the number of blocks ever
 * freed: the RSS bounds are then not checked (exit codes, messages and outputs still are). */
#if defined(__SANITIZE_ADDRESS__)
#define DM_RSS_CHECKED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DM_RSS_CHECKED 0
#endif
#endif
#ifndef DM_RSS_CHECKED
#define DM_RSS_CHECKED 1
#endif

static char *dir;

static void setup(void) {
    dir = dm_test_tmpdir();
    cr_assert(dir);
}
static void teardown(void) {
    dm_test_rmdir(dir);
    free(dir);
}

TestSuite(memory, .init = setup, .fini = teardown, .timeout = 240);

/* Runs the CLI with argv (NULL-ended, without the program), one thread, stderr into DIR/err, stdout
 * into `out` (NULL: /dev/null). Returns the exit status (128 + signal when killed); *rss_kb gets the
 * child's peak RSS. */
static int run_cli_to(long *rss_kb, const char *out, const char *const *args) {
    char errp[600];
    snprintf(errp, sizeof errp, "%s/err", dir);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 2);
        int nul = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644) : open("/dev/null", O_WRONLY);
        if (nul >= 0) dup2(nul, 1);
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        setenv("OMP_NUM_THREADS", "1", 1);
        const char *argv[32] = {DM_TEST_CLI};
        int k = 1;
        for (; args[k - 1] && k < 31; k++) argv[k] = args[k - 1];
        argv[k] = NULL;
        execv(DM_TEST_CLI, (char *const *)argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    cr_assert(wait4(pid, &status, 0, &ru) == pid);
    *rss_kb = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_cli(long *rss_kb, const char *const *args) { return run_cli_to(rss_kb, NULL, args); }

static const char *err_text(void) {
    static char buf[4096];
    char p[600];
    snprintf(p, sizeof p, "%s/err", dir);
    FILE *f = fopen(p, "r");
    buf[0] = 0;
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
    }
    return buf;
}

static bool exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A small CNN checkpoint (one conv layer of 4 filters of width 5), random weights: what predict
 * costs per sequence is then mostly reading and writing, which is what this file measures. */
static void write_small_model(const char *path) {
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    hp.n_conv = 1;
    hp.conv_width[0] = 5;
    hp.conv_channels = 4;
    hp.dropout = 0;
    dm_test_save_random_model(path, &hp);
}

/* n rows of a two-column TSV (101 random bases, 0/1 label); row `bad` (1-based, 0: none) gets an
 * invalid base. Returns the path in a static buffer. */
static const char *write_tsv(const char *name, int64_t n, int64_t bad) {
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    uint64_t s = 88172645463325252ull;
    char line[110];
    for (int64_t i = 1; i <= n; i++) {
        for (int j = 0; j < 101; j++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;   /* xorshift64 */
            line[j] = "ACGT"[s >> 62];
        }
        if (i == bad) line[50] = 'Z';
        fprintf(f, "%.101s\t%d\n", line, (int)(i & 1));
    }
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* A gzip of `members` concatenated members, each the gzip of `block` repeated `reps` times (zlib reads
 * concatenated members as one stream). Only the block and one member are ever in memory. */
static void write_bomb(const char *path, const char *head, const char *block, int reps, int members) {
    size_t bl = strlen(block), raw_n = bl * (size_t)reps;
    char *raw = malloc(raw_n);
    cr_assert(raw);
    for (int r = 0; r < reps; r++) memcpy(raw + (size_t)r * bl, block, bl);
    uLongf cap = compressBound((uLong)raw_n) + 64;
    unsigned char *z = malloc(cap);
    cr_assert(z);
    z_stream zs = {0};
    cr_assert_eq(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (unsigned char *)raw;
    zs.avail_in = (uInt)raw_n;
    zs.next_out = z;
    zs.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t zn = cap - zs.avail_out;
    deflateEnd(&zs);
    gzFile h = gzopen(path, "wb");   /* the head (a header line), as its own member */
    cr_assert(h);
    if (head[0]) gzputs(h, head);
    cr_assert_eq(gzclose(h), Z_OK);
    FILE *f = fopen(path, "ab");
    cr_assert(f);
    for (int k = 0; k < members; k++) cr_assert_eq(fwrite(z, 1, zn, f), zn);
    cr_assert_eq(fclose(f), 0);
    free(raw);
    free(z);
}

/* The peak RSS of predict grows by less than 8 MiB from 10k to 200k sequences. Bound: whole-file
 * loading holds at least the rows' codes and metadata, 122 bytes per sequence of length 101 (the
 * old reader: about 220 with the id), i.e. ≥ 22 MiB for the 190k extra rows, so 8 MiB (44 bytes per
 * extra sequence) catches any per-sequence cost above a quarter of that; streaming holds one chunk
 * (8192 rows, about 1.4 MB, plus its packed copy) whatever N is, so its difference is allocator
 * noise, well under 8 MiB. */
Test(memory, predict_peak_rss_is_flat_in_the_number_of_sequences) {
    char model[600], out[600];
    snprintf(model, sizeof model, "%s/small.model", dir);
    snprintf(out, sizeof out, "%s/pred.tsv", dir);
    write_small_model(model);
    long rss[2];
    int64_t ns[2] = {10000, 200000};
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "n%lld.tsv", (long long)ns[k]);
        const char *data = write_tsv(name, ns[k], 0);
        const char *args[] = {"predict", "--model", model, "--data", data, "--out", out,
                              "--device", "cpu", "--threads", "1", NULL};
        int rc = run_cli(&rss[k], args);
        cr_assert_eq(rc, 0, "predict on %lld sequences: exit %d: %s", (long long)ns[k], rc, err_text());
        /* every row came out: header + n lines */
        FILE *f = fopen(out, "r");
        cr_assert(f);
        int64_t lines = 0;
        for (int c; (c = fgetc(f)) != EOF;) lines += c == '\n';
        fclose(f);
        cr_assert_eq(lines, ns[k] + 1);
        unlink(data);
    }
    cr_log_info("predict peak RSS: %ld KiB at 10k, %ld KiB at 200k sequences", rss[0], rss[1]);
    cr_expect(!DM_RSS_CHECKED || labs(rss[1] - rss[0]) < 8 * 1024, "peak RSS %ld KiB at 10k vs %ld KiB at 200k sequences",
              rss[0], rss[1]);
}

/* eval streams like predict and keeps only each row's score and label (5 bytes per sequence); the
 * metrics then sort a copy (8-byte rows, and glibc's qsort a merge buffer of the same size), so its
 * peak grows by at most 21 bytes per sequence: 190k × 21 B ≈ 3.8 MiB from 10k to 200k sequences,
 * plus allocator noise. Whole-file loading added ≥ 122 bytes per sequence on top (≥ 22 MiB, the bound
 * of the predict test above), so 8 MiB (44 bytes per extra sequence) separates the two. Every row is
 * counted (n in the JSON). */
Test(memory, eval_peak_rss_is_flat_in_the_number_of_sequences) {
    char model[600], out[600];
    snprintf(model, sizeof model, "%s/small.model", dir);
    snprintf(out, sizeof out, "%s/eval.json", dir);
    write_small_model(model);
    long rss[2];
    int64_t ns[2] = {10000, 200000};
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "e%lld.tsv", (long long)ns[k]);
        const char *data = write_tsv(name, ns[k], 0);
        const char *args[] = {"eval", "--model", model, "--data", data, "--json",
                              "--device", "cpu", "--threads", "1", NULL};
        int rc = run_cli_to(&rss[k], out, args);
        cr_assert_eq(rc, 0, "eval on %lld sequences: exit %d: %s", (long long)ns[k], rc, err_text());
        char want[64], got[256] = {0};
        snprintf(want, sizeof want, "{\"n\": %lld, \"auroc\": 0.", (long long)ns[k]);
        FILE *f = fopen(out, "r");
        cr_assert(f);
        cr_assert(fgets(got, sizeof got, f));
        fclose(f);
        cr_expect(strncmp(got, want, strlen(want)) == 0, "eval --json on %lld sequences: %s", (long long)ns[k], got);
        unlink(data);
    }
    cr_log_info("eval peak RSS: %ld KiB at 10k, %ld KiB at 200k sequences", rss[0], rss[1]);
    cr_expect(!DM_RSS_CHECKED || labs(rss[1] - rss[0]) < 8 * 1024, "peak RSS %ld KiB at 10k vs %ld KiB at 200k sequences",
              rss[0], rss[1]);
}

/* A bad base in row 20000 (the third chunk of 8192): exit 1, the message names file and line, and
 * no output file exists, although two chunks were clean. */
Test(memory, a_bad_line_past_the_first_chunks_leaves_no_output) {
    char model[600], out[600], expect[700];
    snprintf(model, sizeof model, "%s/small.model", dir);
    snprintf(out, sizeof out, "%s/pred.tsv", dir);
    write_small_model(model);
    const char *data = write_tsv("bad.tsv", 25000, 20000);
    snprintf(expect, sizeof expect, "%s:20000: invalid base 'Z'", data);
    const char *cmds[3][16] = {
        {"predict", "--model", model, "--data", data, "--out", out, "--device", "cpu", "--threads", "1", NULL},
        {"saliency", "--model", model, "--data", data, "--out", out, "--device", "cpu", "--threads", "1", NULL},
        {"eval", "--model", model, "--data", data, "--device", "cpu", "--threads", "1", NULL},
    };
    for (int c = 0; c < 3; c++) {
        long rss;
        int rc = run_cli(&rss, cmds[c]);
        cr_expect_eq(rc, 1, "%s: exit %d", cmds[c][0], rc);
        cr_expect(strstr(err_text(), expect), "%s: message '%s' lacks '%s'", cmds[c][0], err_text(), expect);
        cr_expect(!exists(out), "%s: output left behind", cmds[c][0]);
        char npy[700];
        snprintf(npy, sizeof npy, "%s.npy", out);
        cr_expect(!exists(npy), "%s: %s left behind", cmds[c][0], npy);
    }
    /* nothing else in the folder either (no temporary) */
    char cmd[800];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 3", dir);   /* small.model, bad.tsv, err */
    cr_expect_eq(dm_test_system("%s", cmd), 0, "the folder holds more than its inputs");
}

/* A line over the cap: exit 1 naming file and line 3, for a plain and a gzip file. */
Test(memory, the_line_cap_names_file_and_line) {
    char model[600], path[600], out[600];
    snprintf(model, sizeof model, "%s/small.model", dir);
    snprintf(out, sizeof out, "%s/pred.tsv", dir);
    write_small_model(model);
    snprintf(path, sizeof path, "%s/long.fa", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(">a\nACGT\n>b", f);   /* line 3 is a header of 2 MiB: over the cap */
    for (int i = 0; i < (2 << 20); i++) fputc('x', f);
    fputs("\nACGT\n", f);
    cr_assert_eq(fclose(f), 0);
    const char *args[] = {"predict", "--model", model, "--data", path, "--out", out, "--device", "cpu", NULL};
    long rss;
    cr_expect_eq(run_cli(&rss, args), 1);
    char expect[700];
    snprintf(expect, sizeof expect, "%s:3: line longer than 1048576 bytes", path);
    cr_expect(strstr(err_text(), expect), "message '%s' lacks '%s'", err_text(), expect);
    cr_expect(!exists(out));
    /* a FASTA sequence wrapped over lines of any number is not limited by the cap */
    f = fopen(path, "w");
    cr_assert(f);
    fputs(">a\n", f);
    for (int i = 0; i < 3000; i++) fputs("ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGT\n", f);
    cr_assert_eq(fclose(f), 0);
    cr_expect_eq(run_cli(&rss, args), 0, "%s", err_text());
    cr_expect(exists(out));
}

/* Decompression bombs: 4 GiB of 'A' without a newline (one endless line) is refused at the cap by
 * every reading command; 1.5 GiB of short valid rows is refused by train at --max-memory. RSS bound:
 * the small model's run on 10k sequences (the program's fixed cost) plus 16 MiB for the endless
 * line (the cap's 1 MiB line buffer, doubled by its growth, and the 256 KiB read buffers: ~3 MiB),
 * plus --max-memory and the same 16 MiB for the rows (the limit bounds the rows held). Whole-file
 * reading would hold gigabytes. */
Test(memory, decompression_bombs_are_refused_within_bounded_rss) {
    char model[600], out[600], bomb[600];
    snprintf(model, sizeof model, "%s/small.model", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    write_small_model(model);
    const char *data = write_tsv("n10k.tsv", 10000, 0);
    long base;
    const char *pargs[] = {"predict", "--model", model, "--data", data, "--out", out, "--device", "cpu",
                           "--threads", "1", NULL};
    cr_assert_eq(run_cli(&base, pargs), 0, "%s", err_text());
    unlink(out);

    /* one endless line: 4096 members of 1 MiB of 'A' (4 GiB), about 4 MB of gzip */
    snprintf(bomb, sizeof bomb, "%s/line.gz", dir);
    static char block[1025];
    memset(block, 'A', 1024);
    write_bomb(bomb, "", block, 1024, 4096);
    const char *cmds[5][16] = {
        {"predict", "--model", model, "--data", bomb, "--out", out, "--device", "cpu", "--threads", "1", NULL},
        {"saliency", "--model", model, "--data", bomb, "--out", out, "--device", "cpu", "--threads", "1", NULL},
        {"eval", "--model", model, "--data", bomb, "--device", "cpu", "--threads", "1", NULL},
        {"motifs", "--model", model, "--data", bomb, "--out", out, "--device", "cpu", "--threads", "1", NULL},
        {"train", "--arch", "cnn", "--train", bomb, "--out", out, "--device", "cpu", "--threads", "1", NULL},
    };
    char expect[700];
    snprintf(expect, sizeof expect, "%s:1: line longer than", bomb);
    for (int c = 0; c < 5; c++) {
        long rss;
        int rc = run_cli(&rss, cmds[c]);
        cr_log_info("%s on an endless line: exit %d, peak RSS %ld KiB (10k sequences: %ld KiB)", cmds[c][0], rc,
                    rss, base);
        cr_expect_eq(rc, 1, "%s: exit %d: %s", cmds[c][0], rc, err_text());
        cr_expect(strstr(err_text(), expect), "%s: message '%s' lacks '%s'", cmds[c][0], err_text(), expect);
        cr_expect(!DM_RSS_CHECKED || rss < base + 16 * 1024, "%s: peak RSS %ld KiB on the bomb, %ld KiB on 10k sequences",
                  cmds[c][0], rss, base);
    }

    /* short valid rows: "A<TAB>1" 4 bytes each, 1.5 GiB in 1536 members (~400 M rows) */
    snprintf(bomb, sizeof bomb, "%s/rows.gz", dir);
    static char rows[1025];
    for (int i = 0; i < 256; i++) memcpy(rows + 4 * i, "A\t1\n", 4);
    write_bomb(bomb, "", rows, 1024, 1536);
    const char *targs[] = {"train", "--arch", "cnn", "--train", bomb, "--out", out, "--device", "cpu",
                           "--threads", "1", "--max-memory", "64M", NULL};
    long rss;
    int rc = run_cli(&rss, targs);
    cr_log_info("train on short rows: exit %d, peak RSS %ld KiB: %s", rc, rss, err_text());
    cr_expect_eq(rc, 1, "train: exit %d: %s", rc, err_text());
    cr_expect(strstr(err_text(), "data set too large") && strstr(err_text(), "--max-memory"), "%s", err_text());
    cr_expect(!DM_RSS_CHECKED || rss < base + (64 + 16) * 1024, "train: peak RSS %ld KiB on the bomb, %ld KiB on 10k sequences",
              rss, base);
    cr_expect(!exists(out));
}

/* train states its memory per sequence: the rows as read are L + 21 bytes of arrays plus the id's
 * heap block ("rows.tsv:N", 32 bytes with glibc's 16-byte granules and 8-byte header), so 101 + 21 +
 * 32 = 154 at L 101; and it trains under a --max-memory that holds them. */
Test(memory, train_states_bytes_per_sequence) {
    char out[600];
    snprintf(out, sizeof out, "%s/m.model", dir);
    const char *data = write_tsv("rows.tsv", 600, 0);
    const char *args[] = {"train", "--arch", "cnn", "--train", data, "--out", out, "--epochs", "1", "--device", "cpu",
                          "--threads", "1", "--max-memory", "64M", NULL};
    long rss;
    int rc = run_cli(&rss, args);
    cr_assert_eq(rc, 0, "train: exit %d: %s", rc, err_text());
    const char *m = strstr(err_text(), "memory: ");
    cr_assert(m, "no memory statement in '%s'", err_text());
    double per_seq = atof(m + 8);
    cr_expect_eq(per_seq, 154.0, "%s", m);
    cr_expect(strstr(m, "packed on the backend"), "%s", m);
    cr_expect(exists(out));
}
