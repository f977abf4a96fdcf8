/*
 * test_shard.c: predict, saliency and temporal split into shards (--shard I/N, and mpirun -np 2 when
 * the build has MPI) write the files an unsharded run writes, byte for byte: predict's TSV (also from
 * --bed regions), saliency's .npy, .npz and TSV (also IG with shuffled baselines, whose seeds are the
 * global row numbers), temporal's .npy and TSV; with 2 and 3 shards of uneven sizes, shards without
 * rows, shards run in any order and gzip input. Bad shard specs are one line and exit 2; a shard that
 * fails leaves nothing at the final paths, and rerunning it completes the set.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm_internal.h"
#include "model.h"
#include "testutil.h"

#define L_SEQ 40

/* ASan builds: OpenMPI's own allocations outlive MPI_Finalize (test_mpi.c does the same) */
#define MPIRUN "mpirun --oversubscribe --allow-run-as-root -np 2 -x OPENBLAS_NUM_THREADS=1 -x ASAN_OPTIONS=detect_leaks=0"
#define MPIRUN3 "mpirun --oversubscribe --allow-run-as-root -np 3 -x OPENBLAS_NUM_THREADS=1 -x ASAN_OPTIONS=detect_leaks=0"

static char *dir;

#define cli(...) dm_test_cli_in(dir, __VA_ARGS__)

static char *slurp(const char *name) { return dm_test_slurp_in(dir, name); }
static bool exists(const char *name) { return dm_test_exists_in(dir, name); }

/* A model of `arch` with random weights (seed 7), length L_SEQ, saved as dir/name. */
static void write_model(const char *name, dm_arch arch) {
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = L_SEQ;
    hp.conv_channels = 8;
    hp.conv_width[0] = 5;
    hp.hidden = 6;
    hp.dropout = 0;
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dm_test_save_random_model(path, &hp);
}

/* n rows of labelled FASTA (random bases, a few N, lengths 30..50: padded and truncated rows). */
static void write_fasta(const char *name, int n, uint64_t seed) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    uint64_t x = seed;
    for (int i = 0; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int len = 30 + (int)((x >> 40) % 21);
        fprintf(f, ">%d\n", (int)((x >> 20) & 1));   /* DeMo's labelled FASTA */
        for (int p = 0; p < len; p++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            fputc((x >> 33) % 97 == 0 ? 'N' : "ACGT"[(x >> 33) & 3], f);
        }
        fputc('\n', f);
    }
    fclose(f);
}

static void setup(void) {
    dir = dm_test_tmpdir();
    cr_assert(dir);
    write_model("cnn.dm", DM_ARCH_CNN);
    write_model("rnn.dm", DM_ARCH_RNN);
    write_fasta("d.fa", 700, 11);    /* predict: 3 batches of 256 (the last 188 rows) */
    write_fasta("t.fa", 37, 12);     /* temporal: 3 batches of 16 (the last 5 rows) */
}

static void teardown(void) {
    dm_test_rmdir(dir);
    free(dir);
}

TestSuite(shard, .init = setup, .fini = teardown, .timeout = 120);

/* dir/a and dir/b hold the same bytes (and exist). */
static bool same_file(const char *a, const char *b) {
    return dm_test_system("cmp -s '%s/%s' '%s/%s'", dir, a, dir, b) == 0;
}

/* Nothing of the set is left in the folder: no hidden part, marker, shared file or lock. */
static void expect_no_leftovers(void) {
    cr_expect_neq(dm_test_system("ls -a '%s' | grep -q dmshard", dir), 0, "leftover shard files in %s", dir);
}

/* Runs `cmd --shard i/n` for i in `order` (1-based, n of them), expecting exit 0 each time. */
static void run_shards(const char *cmd, int n, const int *order) {
    for (int k = 0; k < n; k++) {
        int rc = cli("%s --shard %d/%d", cmd, order[k], n);
        cr_assert_eq(rc, 0, "%s --shard %d/%d: exit %d: %s", cmd, order[k], n, rc, slurp("err"));
        if (k + 1 < n) cr_expect(strstr(slurp("err"), "the last shard to finish writes the outputs"), "%s", slurp("err"));
    }
}

static void expect_same(const char *ref, const char *got, const char *const *suffix) {
    for (int k = 0; suffix[k]; k++) {
        char a[256], b[256];
        snprintf(a, sizeof a, "%s%s", ref, suffix[k]);
        snprintf(b, sizeof b, "%s%s", got, suffix[k]);
        cr_expect(exists(b), "%s missing", b);
        cr_expect(same_file(a, b), "%s differs from the unsharded %s", b, a);
    }
}

Test(shard, predict_two_three_and_four_shards_equal_the_unsharded_file) {
    cr_assert_eq(cli("predict --model cnn.dm --data d.fa --out p.tsv --device cpu"), 0, "%s", slurp("err"));
    /* 2 shards (2 batches + 1), 3 (one batch each, the last short), 4 (the fourth has no rows), in
     * orders where the first, a middle and the last shard finishes the set */
    static const int o2[] = {2, 1}, o3[] = {1, 3, 2}, o4[] = {4, 1, 2, 3};
    run_shards("predict --model cnn.dm --data d.fa --out p2.tsv --device cpu", 2, o2);
    run_shards("predict --model cnn.dm --data d.fa --out p3.tsv --device cpu", 3, o3);
    run_shards("predict --model cnn.dm --data d.fa --out p4.tsv --device cpu --threads 2", 4, o4);
    cr_expect(strstr(slurp("err"), "wrote 700 scores to p4.tsv"), "%s", slurp("err"));
    cr_expect(same_file("p.tsv", "p2.tsv"));
    cr_expect(same_file("p.tsv", "p3.tsv"));
    cr_expect(same_file("p.tsv", "p4.tsv"));
    /* gzip input (the ids name the file: compared with the unsharded run on the same file) */
    cr_assert_eq(dm_test_system("gzip -c '%s/d.fa' > '%s/d.fa.gz'", dir, dir), 0);
    cr_assert_eq(cli("predict --model cnn.dm --data d.fa.gz --out pzu.tsv --device cpu"), 0, "%s", slurp("err"));
    static const int o2b[] = {1, 2};
    run_shards("predict --model cnn.dm --data d.fa.gz --out pz.tsv --device cpu", 2, o2b);
    cr_expect(same_file("pzu.tsv", "pz.tsv"));
    expect_no_leftovers();
}

Test(shard, saliency_npy_npz_and_tsv_equal_the_unsharded_files) {
    static const char *const sfx[] = {".npy", ".onehot.npy", ".npz", ".onehot.npz", ".tsv", NULL};
    const char *base = "saliency --model cnn.dm --data d.fa --device cpu --quiet --batch 64";
    cr_assert_eq(cli("%s --out s", base), 0, "%s", slurp("err"));
    /* 11 batches of 64: 6 + 5, and 4 + 4 + 3 */
    static const int o2[] = {1, 2}, o3[] = {3, 2, 1};
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s --out s2", base);
    run_shards(cmd, 2, o2);
    expect_same("s", "s2", sfx);
    snprintf(cmd, sizeof cmd, "%s --out s3", base);
    run_shards(cmd, 3, o3);
    expect_same("s", "s3", sfx);
    /* integrated gradients from shuffled baselines seeded by the global row, (N, L, 4) layout */
    const char *ig = "saliency --model cnn.dm --data d.fa --device cpu --quiet --batch 128 --method ig --steps 3 "
                     "--baseline shuffle --seed 5 --layout nlc";
    cr_assert_eq(cli("%s --out g", ig), 0, "%s", slurp("err"));
    snprintf(cmd, sizeof cmd, "%s --out g3", ig);
    run_shards(cmd, 3, o3);
    expect_same("g", "g3", sfx);
    expect_no_leftovers();
}

Test(shard, temporal_npy_and_tsv_equal_the_unsharded_files) {
    static const char *const sfx[] = {".npy", ".tsv", NULL};
    const char *base = "temporal --model rnn.dm --data t.fa --device cpu --batch 16";
    cr_assert_eq(cli("%s --out t", base), 0, "%s", slurp("err"));
    static const int o2[] = {2, 1}, o3[] = {2, 3, 1}, o5[] = {5, 4, 3, 2, 1};
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s --out t2", base);
    run_shards(cmd, 2, o2);
    expect_same("t", "t2", sfx);
    snprintf(cmd, sizeof cmd, "%s --out t3", base);
    run_shards(cmd, 3, o3);
    expect_same("t", "t3", sfx);
    /* 5 shards of 3 batches: two of them without rows */
    snprintf(cmd, sizeof cmd, "%s --out t5", base);
    run_shards(cmd, 5, o5);
    expect_same("t", "t5", sfx);
    expect_no_leftovers();
}

Test(shard, bed_regions_are_sharded_like_data) {
    /* a genome of one 3000-bp chromosome and 50 regions on both strands */
    char path[600];
    snprintf(path, sizeof path, "%s/g.fa", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, ">chr1\n");
    uint64_t x = 3;
    for (int p = 0; p < 3000; p++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        fputc("ACGT"[(x >> 33) & 3], f);
        if (p % 60 == 59) fputc('\n', f);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/r.bed", dir);
    f = fopen(path, "w");
    cr_assert(f);
    for (int i = 0; i < 50; i++) fprintf(f, "chr1\t%d\t%d\tr%d\t0\t%c\n", 50 + 53 * i, 90 + 53 * i, i, "+-"[i % 2]);
    fclose(f);
    cr_assert_eq(cli("saliency --model cnn.dm --bed r.bed --genome g.fa --out b --batch 16 --device cpu --quiet"), 0,
                 "%s", slurp("err"));
    static const int o3[] = {2, 1, 3};
    run_shards("saliency --model cnn.dm --bed r.bed --genome g.fa --out b3 --batch 16 --device cpu --quiet", 3, o3);
    static const char *const sfx[] = {".npy", ".npz", ".tsv", ".regions.bed", NULL};
    expect_same("b", "b3", sfx);
    cr_assert_eq(cli("predict --model cnn.dm --bed r.bed --genome g.fa --out bp.tsv --device cpu"), 0, "%s", slurp("err"));
    static const int o2[] = {1, 2};
    run_shards("predict --model cnn.dm --bed r.bed --genome g.fa --out bp2.tsv --device cpu", 2, o2);
    cr_expect(same_file("bp.tsv", "bp2.tsv"));
    /* a track needs every row in one process */
    cr_expect_eq(cli("saliency --model cnn.dm --bed r.bed --genome g.fa --out bt --track --shard 1/2 --device cpu"), 2);
    expect_no_leftovers();
}

Test(shard, bad_specs_are_one_line_and_exit_2) {
    static const char *const bad[] = {"0/2", "3/2", "1/0", "junk", "1/", "/2", "-1/2", "1/2x", "1.5/2", "2/1000001", NULL};
    for (int k = 0; bad[k]; k++) {
        int rc = cli("predict --model cnn.dm --data d.fa --out p.tsv --shard %s", bad[k]);
        cr_expect_eq(rc, 2, "--shard %s: exit %d", bad[k], rc);
        const char *err = slurp("err");
        cr_expect(strstr(err, "--shard") && strchr(err, '\n') == err + strlen(err) - 1, "--shard %s: %s", bad[k], err);
        cr_expect(!exists("p.tsv"), "--shard %s wrote p.tsv", bad[k]);
    }
    expect_no_leftovers();
}

/* A shard whose part fails (DM_FAULT: the commit fails as a full disk would) exits 1 and nothing is
 * at the final paths, however the others did; rerunning it alone completes the set. */
Test(shard, a_failed_shard_leaves_no_output_and_its_rerun_completes_the_set) {
    const char *base = "temporal --model rnn.dm --data t.fa --device cpu --batch 16";
    cr_assert_eq(cli("%s --out t", base), 0, "%s", slurp("err"));
    cr_assert_eq(cli("%s --out f --shard 1/2", base), 0, "%s", slurp("err"));
    int rc = dm_test_system("cd %s && DM_FAULT='fail@.f.tsv.dmshard*' %s %s --out f --shard 2/2 > out 2> err", dir,
                            DM_TEST_CLI, base);
    cr_expect_eq(rc, 1, "exit %d: %s", rc, slurp("err"));
    cr_expect(!exists("f.npy") && !exists("f.tsv"), "output at the final path after a failed shard");
    /* the array's rows of the failed shard went in before its text part failed: still no output */
    rc = cli("%s --out f --shard 2/2", base);
    cr_assert_eq(rc, 0, "%s", slurp("err"));
    static const char *const sfx[] = {".npy", ".tsv", NULL};
    expect_same("t", "f", sfx);
    /* predict: the last shard fails; the first's part waits, nothing final */
    cr_assert_eq(cli("predict --model cnn.dm --data d.fa --out q.tsv --device cpu --shard 2/2"), 0, "%s", slurp("err"));
    rc = dm_test_system("cd %s && DM_FAULT='fail@.q.tsv.dmshard*' %s predict --model cnn.dm --data d.fa --out q.tsv "
                        "--device cpu --shard 1/2 > out 2> err", dir, DM_TEST_CLI);
    cr_expect_eq(rc, 1);
    cr_expect(strstr(slurp("err"), "write failed"), "%s", slurp("err"));
    cr_expect(!exists("q.tsv"));
    /* the waiting part of shard 2 is hidden, never at the final path */
    cr_expect_eq(dm_test_system("ls -a '%s' | grep -q '^\\.q\\.tsv\\.dmshard-.*part-2$'", dir), 0);
}

/* A run on other inputs never mixes with a waiting part: the key names the run. */
Test(shard, shards_of_different_runs_do_not_mix) {
    write_fasta("e.fa", 700, 99);
    cr_assert_eq(cli("predict --model cnn.dm --data d.fa --out m.tsv --device cpu --shard 1/2"), 0, "%s", slurp("err"));
    cr_assert_eq(cli("predict --model cnn.dm --data e.fa --out m.tsv --device cpu --shard 2/2"), 0, "%s", slurp("err"));
    cr_expect(!exists("m.tsv"), "shards of two runs were assembled together");
}

/* mpirun -np 2: rank r is shard r+1/2, rank 0 assembles. Skipped when the build has no MPI or
 * mpirun is absent. */
Test(shard, mpirun_two_ranks_equal_the_unsharded_files) {
    if (dm_test_system("command -v mpirun > /dev/null 2>&1") != 0)
        cr_skip_test("mpirun is not installed (scripts/setup.sh installs openmpi-bin)");
#ifndef DM_USE_MPI
    cr_skip_test("this build has no MPI (DM_MPI=OFF, or libopenmpi-dev was missing at configure time)");
#endif
    const char *base = "saliency --model cnn.dm --data d.fa --device cpu --quiet --batch 64 --threads 1";
    cr_assert_eq(cli("%s --out s", base), 0, "%s", slurp("err"));
    int rc = dm_test_system("cd %s && timeout 100 " MPIRUN " %s %s --out sm > out 2> err", dir, DM_TEST_CLI, base);
    cr_assert_eq(rc, 0, "mpirun: exit %d: %s", rc, slurp("err"));
    static const char *const sfx[] = {".npy", ".onehot.npy", ".npz", ".onehot.npz", ".tsv", NULL};
    expect_same("s", "sm", sfx);
    cr_expect(strstr(slurp("err"), "wrote sm."), "%s", slurp("err"));
    /* predict with 3 ranks: one without rows of its own (700 rows, 3 batches) */
    cr_assert_eq(cli("predict --model cnn.dm --data d.fa --out p.tsv --device cpu"), 0, "%s", slurp("err"));
    rc = dm_test_system("cd %s && timeout 100 " MPIRUN3 " %s predict --model cnn.dm --data d.fa --out pm.tsv --device cpu "
                        "--threads 1 > out 2> err", dir, DM_TEST_CLI);
    cr_assert_eq(rc, 0, "mpirun: exit %d: %s", rc, slurp("err"));
    cr_expect(same_file("p.tsv", "pm.tsv"));
    /* rank 1's TSV part fails (DM_FAULT on that rank alone) after its arrays' rows went into the
     * shared files: every rank exits 1, nothing is left, not even the shared files */
    const char *sal = "saliency --model cnn.dm --data d.fa --device cpu --quiet --batch 64 --threads 1 --out sf";
    rc = dm_test_system("cd %s && timeout 100 mpirun --oversubscribe --allow-run-as-root -x OPENBLAS_NUM_THREADS=1 "
                        "-x ASAN_OPTIONS=detect_leaks=0 -np 1 %s %s : -np 1 -x DM_FAULT='fail@.sf.tsv.dmshard*' %s %s "
                        "> out 2> err", dir, DM_TEST_CLI, sal, DM_TEST_CLI, sal);
    cr_expect_eq(rc, 1, "exit %d: %s", rc, slurp("err"));
    cr_expect(strstr(slurp("err"), "write failed"), "%s", slurp("err"));
    cr_expect(!exists("sf.npy") && !exists("sf.tsv") && !exists("sf.npz"));
    expect_no_leftovers();
    /* --shard is refused under mpirun (the ranks are the shards) */
    rc = dm_test_system("cd %s && timeout 100 " MPIRUN " %s predict --model cnn.dm --data d.fa --out px.tsv --shard 1/2 "
                        "> out 2> err", dir, DM_TEST_CLI);
    cr_expect_eq(rc, 2, "exit %d: %s", rc, slurp("err"));
    cr_expect(strstr(slurp("err"), "--shard: not under mpirun"), "%s", slurp("err"));
    cr_expect(!exists("px.tsv"));
    expect_no_leftovers();
}
