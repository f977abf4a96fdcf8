/*
 * test_sweep.c: `deepmotif sweep` (host/sweep.[ch], host/sweep_tables.c, host/cli/sweep.c): the
 * Wilcoxon signed-rank test against hand-derived and independently computed values, the shard
 * assignment and the slots, the scheduling loop with a stand-in runner, and end to end on three
 * small simulated data sets: an uninterrupted run, one killed (SIGKILL) after its first row and
 * rerun, two shards merged, a changed input redoing its rows, and bad folders.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sweep.h"
#include "testutil.h"

/* ---- the Wilcoxon test ---------------------------------------------------------------------------- */

/* Hand-derived: with m distinct |d| the ranks are 1..m and under the null every one of the 2^m sign
 * patterns is equally likely, so P(W+ = s) = (subsets of {1..m} summing to s) / 2^m. */
Test(wilcoxon, exact_small_cases_by_hand) {
    dm_wilcoxon w;
    /* m = 5, all positive: W+ = 15 only for the all-plus pattern: p = 2 · 1/32 */
    dm_wilcoxon_test((double[]){0.1, 0.2, 0.3, 0.4, 0.5}, 5, &w);
    cr_expect(w.exact && w.m == 5 && w.w_plus == 15 && w.w_minus == 0);
    cr_expect(w.p == 2.0 / 32, "%.17g", w.p);   /* exact: a ratio of small integers, computed without rounding */
    /* m = 3, d = (1, -2, 3): W+ = 4; the subset sums of {1,2,3} are 0 1 2 3 3 4 5 6, so
     * P(W+ <= 4) = 6/8, P(W+ >= 4) = 3/8 and p = 2 · 3/8 */
    dm_wilcoxon_test((double[]){1, -2, 3}, 3, &w);
    cr_expect(w.w_plus == 4 && w.w_minus == 2);
    cr_expect(w.p == 0.75, "%.17g", w.p);
    /* W+ at the centre of a symmetric null: p is capped at 1 (m = 3, d = (1, 2, -3): W+ = 3) */
    dm_wilcoxon_test((double[]){1, 2, -3}, 3, &w);
    cr_expect(w.p == 1.0, "%.17g", w.p);
    /* the sign of every difference flipped: the same two-sided p */
    double d[7] = {0.5, -1.5, 2.5, 3.5, -4.5, 5.5, 6.5}, e[7];
    for (int i = 0; i < 7; i++) e[i] = -d[i];
    dm_wilcoxon a, b;
    dm_wilcoxon_test(d, 7, &a);
    dm_wilcoxon_test(e, 7, &b);
    cr_expect(a.p == b.p && a.w_plus == b.w_minus);
}

/* Reference values computed independently with SciPy 1.17.1 (scipy.stats.wilcoxon, zero_method
 * "wilcox", two-sided), in /work/venv-torch, not a dependency of the tests:
 *   wilcoxon(D12, method="exact")                     statistic 19.0, p 0.12939453125
 *   wilcoxon(D30, method="approx", correction=True)   statistic 92.5, p 0.00406387739150137
 *   wilcoxon(D30 + [0, 0, 0], same)                   p 0.00406387739150137 (zeros dropped)
 *   wilcoxon(D30, method="approx", correction=False)  p 0.003933345229983805 (not ours: shows the
 *                                                     continuity correction is applied)
 *   wilcoxon(D60, method="approx", correction=True)   statistic 845.0, p 0.6089089992671246
 * Tolerance: the exact p is a ratio of integers below 2^53 (1e-15 relative covers the final
 * division); the normal approximation goes through sqrt and erfc, each within a few ulps of the
 * true value in both libraries: 1e-12 relative is far above that and far below the 3 % gap the
 * continuity correction makes. */
static const double D12[12] = {0.8, -0.3, 1.7, 2.2, -0.9, 1.1, 0.05, 3.1, -1.4, 0.6, 2.7, -0.15};
static const double D30[30] = {1, 2, -2, 3, 3, -3, 4, 5, -1, 6, 2, 7, -4, 8, 9, 1, -5, 3, 10, 2, 11, -6, 4, 12, 2, 13, -7, 14, 15, 3};
static const double D60[60] = {-0.5019, -1.0244, 0.0516, 0.7204, 1.436, 0.4097, -0.2526, -0.4848, 1.0487, 1.9348, 0.5728,
                               -0.9333, -0.6583, 1.9, 0.5029, -1.4321, 0.2163, -0.8632, -0.3293, -0.188, -0.4133, 0.8534,
                               0.2369, -0.2894, 0.7096, 1.1299, -1.343, 0.0433, -0.6807, 0.1268, -0.9894, 0.3207, 0.2621,
                               -0.0043, -0.7479, -0.0962, -0.7913, -1.0552, 0.5248, -0.8093, 1.4703, 1.0166, -1.6978, 0.5721,
                               -0.8017, 0.3331, 0.3436, -1.6884, 0.0666, 0.0442, 1.262, -0.8814, 1.038, -0.799, -0.0313,
                               -0.5405, 1.7487, 0.8682, 2.7317, 0.9419};

static bool close_rel(double a, double b, double rel) { return fabs(a - b) <= rel * fabs(b); }

Test(wilcoxon, matches_scipy) {
    dm_wilcoxon w;
    dm_wilcoxon_test(D12, 12, &w);
    cr_expect(w.exact && fmin(w.w_plus, w.w_minus) == 19.0);
    cr_expect(close_rel(w.p, 0.12939453125, 1e-15), "%.17g", w.p);
    dm_wilcoxon_test(D30, 30, &w);   /* tied |d|: the normal approximation */
    cr_expect(!w.exact && fmin(w.w_plus, w.w_minus) == 92.5);
    cr_expect(close_rel(w.p, 0.00406387739150137, 1e-12), "%.17g", w.p);
    cr_expect(!close_rel(w.p, 0.003933345229983805, 1e-3));
    double z[33];
    memcpy(z, D30, sizeof D30);
    z[30] = z[31] = z[32] = 0;
    dm_wilcoxon_test(z, 33, &w);
    cr_expect(w.m == 30 && close_rel(w.p, 0.00406387739150137, 1e-12), "%.17g", w.p);
    dm_wilcoxon_test(D60, 60, &w);   /* m > 50: the normal approximation without ties */
    cr_expect(!w.exact && fmin(w.w_plus, w.w_minus) == 845.0);
    cr_expect(close_rel(w.p, 0.6089089992671246, 1e-12), "%.17g", w.p);
    dm_wilcoxon_test((double[]){0, 0}, 2, &w);
    cr_expect(w.m == 0 && isnan(w.p));
}

/* ---- shards and slots ---------------------------------------------------------------------------- */

Test(sweep, shards_balanced_and_deterministic) {
    enum { SETS = 13, ARCHS = 3 };
    const char *arch[ARCHS] = {"cnn", "rnn", "cnnrnn"};
    dm_sweep_job jobs[SETS * ARCHS], again[SETS * ARCHS];
    memset(jobs, 0, sizeof jobs);
    for (int s = 0; s < SETS; s++)
        for (int a = 0; a < ARCHS; a++) {
            dm_sweep_job *j = &jobs[s * ARCHS + a];
            snprintf(j->arch, sizeof j->arch, "%s", arch[a]);
            j->bytes = 100000 + (uint64_t)((s * 7919) % 13) * 50000;   /* uneven sizes */
        }
    for (int n = 1; n <= 5; n++) {
        dm_sweep_assign_shards(jobs, SETS * ARCHS, n);
        memcpy(again, jobs, sizeof jobs);
        dm_sweep_assign_shards(again, SETS * ARCHS, n);
        for (int a = 0; a < ARCHS; a++) {
            int count[5] = {0};
            for (int s = 0; s < SETS; s++) {
                int sh = jobs[s * ARCHS + a].shard;
                cr_assert(sh >= 0 && sh < n);
                cr_expect(again[s * ARCHS + a].shard == sh, "not deterministic");
                count[sh]++;
            }
            for (int sh = 0; sh < n; sh++)   /* every architecture split evenly: 13/n, floor or ceil */
                cr_expect(count[sh] == SETS / n || count[sh] == SETS / n + 1, "n %d arch %s shard %d: %d", n, arch[a], sh,
                          count[sh]);
        }
        int total[5] = {0};
        for (int j = 0; j < SETS * ARCHS; j++) total[jobs[j].shard]++;
        for (int sh = 0; sh < n; sh++)   /* the extra jobs of each architecture rotate over the shards */
            cr_expect(abs(total[sh] - SETS * ARCHS / n) <= 1, "n %d shard %d: %d jobs", n, sh, total[sh]);
    }
}

Test(sweep, slots) {
    dm_sweep_slot s[64];
    int n = dm_sweep_slots(3, NULL, 0, 8, s);
    cr_expect(n == 3 && s[0].threads == 2 && s[2].threads == 2 && s[1].device == -1);
    n = dm_sweep_slots(4, NULL, 0, 2, s);   /* more jobs than threads: one thread each */
    cr_expect(n == 4 && s[3].threads == 1);
    n = dm_sweep_slots(1, (int[]){2, 5}, 2, 16, s);   /* one per device */
    cr_expect(n == 2 && s[0].device == 2 && s[1].device == 5 && s[1].threads == 8);
}

/* ---- discovery ------------------------------------------------------------------------------------- */

Test(sweep, discovery_layouts) {
    char *d = dm_test_tmpdir();
    /* a DeepBind pair, a NAME/ folder (.fasta test, gzip'ed train), a lone _B, a folder of neither,
     * another file; and a second folder holding the test half of a pair whose training half is in the
     * first (--test-only-dir) */
    cr_assert(dm_test_system("cd %s && mkdir -p a/T b a/notes && touch a/P_AC.seq.gz a/P_B.seq.gz a/L_B.seq.gz "
                             "a/T/train.fa.gz a/T/test.fasta a/README a/Q_AC.seq b/Q_B.seq.gz", d) == 0);
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/a", d), snprintf(b, sizeof b, "%s/b", d);
    dm_sweep sw = {0};
    cr_expect(dm_sweep_discover(&sw, a, NULL) == DM_STATUS_FORMAT, "Q_AC without its _B");
    cr_expect(strstr(dm_last_error(), "Q_AC.seq: no test half") != NULL, "%s", dm_last_error());
    dm_sweep_free(&sw);
    cr_assert(dm_test_system("cd %s && mv a/P_B.seq.gz b/ && mv a/T b/T2 && mkdir a/T && mv b/T2/train.fa.gz a/T/ && "
                             "mv b/T2 b/T", d) == 0);   /* every test half in b now */
    cr_assert(dm_sweep_discover(&sw, a, b) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(sw.n_sets == 3, "%d sets", sw.n_sets);
    cr_expect(!strcmp(sw.sets[0].name, "P") && !strcmp(sw.sets[1].name, "Q") && !strcmp(sw.sets[2].name, "T"));
    cr_expect(sw.sets[0].positives_only && sw.sets[1].positives_only && !sw.sets[2].positives_only);
    cr_expect(strstr(sw.sets[0].test, "/b/P_B.seq.gz") && strstr(sw.sets[2].train, "/a/T/train.fa.gz") &&
              strstr(sw.sets[2].test, "/b/T/test.fasta"));
    cr_expect(sw.n_skipped == 0, "L_B in a is not looked at when the test halves are in b");
    dm_sweep_free(&sw);
    cr_assert(dm_test_system("cd %s && mv b/T/test.fasta a/T/ && mv b/P_B.seq.gz b/Q_B.seq.gz a/", d) == 0);   /* everything in one folder */
    cr_assert(dm_sweep_discover(&sw, a, NULL) == DM_STATUS_OK, "%s", dm_last_error());
    cr_expect(sw.n_sets == 3 && sw.n_skipped == 1 && !strcmp(sw.skipped, "L_B.seq.gz"), "%d %s", sw.n_skipped, sw.skipped);
    dm_sweep_free(&sw);
    dm_test_rmdir(d);
    free(d);
}

/* ---- the scheduling loop, with a stand-in runner ---------------------------------------------------- */

typedef struct fake {
    int running, max_running, started, order[64], n_order;
    int queue[64], queue_slot[64], nq;
    bool slot_busy[8];
} fake;

static dm_status fake_start(void *ctx, const dm_sweep *sw, int job, const dm_sweep_slot *slot, int slot_index) {
    fake *f = ctx;
    cr_assert(!f->slot_busy[slot_index], "slot %d given twice", slot_index);
    f->slot_busy[slot_index] = true;
    f->order[f->n_order++] = job;
    f->queue[f->nq] = job, f->queue_slot[f->nq++] = slot_index;
    if (++f->running > f->max_running) f->max_running = f->running;
    return DM_STATUS_OK;
}

/* Jobs end in reverse order of start (the most recent first): a finishing order the loop must not
 * assume away. Every job fails, so no model is needed. */
static dm_status fake_wait(void *ctx, int *job, int *slot, bool *ok, char *why, size_t cap) {
    fake *f = ctx;
    cr_assert(f->nq > 0, "wait with nothing running");
    f->nq--;
    *job = f->queue[f->nq], *slot = f->queue_slot[f->nq];
    f->slot_busy[*slot] = false;
    f->running--;
    *ok = false;
    snprintf(why, cap, "stand-in failure of job %d", *job);
    return DM_STATUS_OK;
}

static int events[3];
static void count_event(void *ctx, const dm_sweep_event *e) { events[e->kind]++; }

Test(sweep, scheduler_fills_slots_and_counts) {
    char *dir = dm_test_tmpdir();
    dm_sweep sw = {0};
    sw.n_jobs = 10;
    sw.jobs = calloc(10, sizeof(dm_sweep_job));
    for (int j = 0; j < 10; j++) {
        snprintf(sw.jobs[j].key, sizeof sw.jobs[j].key, "set%d.cnn", j);
        snprintf(sw.jobs[j].dataset, sizeof sw.jobs[j].dataset, "set%d", j);
        snprintf(sw.jobs[j].arch, sizeof sw.jobs[j].arch, "cnn");
        memset(sw.jobs[j].checksum, 'a', 64);
        sw.jobs[j].shard = j % 2;
        sw.jobs[j].bytes = 1000;
    }
    cr_assert(dm_sweep_prepare(&sw, dir) == DM_STATUS_OK, "%s", dm_last_error());
    dm_sweep_slot slots[3];
    int n = dm_sweep_slots(3, NULL, 0, 6, slots);
    fake f = {0};
    dm_sweep_runner r = {fake_start, fake_wait, NULL, &f};
    dm_sweep_result res;
    cr_assert(dm_sweep_run(&sw, -1, slots, n, &r, count_event, NULL, &res) == DM_STATUS_OK);
    cr_expect(f.max_running == 3 && f.n_order == 10 && res.total == 10 && res.failed == 10 && res.trained == 0);
    for (int k = 0; k < 10; k++) cr_expect(f.order[k] == k, "started in plan order");
    cr_expect(events[DM_SWEEP_EV_START] == 10 && events[DM_SWEEP_EV_FAILED] == 10);
    cr_expect(strstr(res.first_failure, "set2.cnn: stand-in failure of job 2") != NULL, "%s", res.first_failure);
    /* one shard: its jobs only */
    memset(&f, 0, sizeof f);
    cr_assert(dm_sweep_run(&sw, 1, slots, n, &r, NULL, NULL, &res) == DM_STATUS_OK);
    cr_expect(res.total == 5 && f.n_order == 5);
    for (int k = 0; k < 5; k++) cr_expect(sw.jobs[f.order[k]].shard == 1);
    dm_sweep_free(&sw);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- end to end ------------------------------------------------------------------------------------ */

static char *dir;

static void setup(void) {
    dir = dm_test_tmpdir();
    cr_assert(dir);
}
static void teardown(void) {
    dm_test_rmdir(dir);
    free(dir);
}

#define cli(...) dm_test_cli_in(dir, __VA_ARGS__)

/* Three small data sets as DeepBind pairs (positives and their shuffles, 40 bp). */
static void make_data(void) {
    cr_assert(dm_test_system("mkdir -p %s/data", dir) == 0);
    for (int i = 1; i <= 3; i++) {
        cr_assert(cli("simulate --out data/S%d_AC.seq.gz --n %d --len 40 --seed %d", i, 150 + 20 * i, i) == 0);
        cr_assert(cli("simulate --out data/S%d_B.seq.gz --n 60 --len 40 --seed %d", i, 10 + i) == 0);
    }
}

#define TRAIN_OPTS "--archs cnn,rnn --epochs 2 --len 40 --batch 32 --threads 1"

/* A results table without its timing columns (train_seconds, seqs_per_s: the 11th and 12th). */
static char *table_sans_timing(const char *out) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s/results.tsv", dir, out);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s missing", path);
    size_t cap = 1 << 16, k = 0;
    char *buf = calloc(cap, 1), line[8192];
    while (fgets(line, sizeof line, f)) {
        int col = 1;
        for (char *p = line; *p; p++) {
            if (col != 11 && col != 12 && k + 1 < cap) buf[k++] = *p;
            if (*p == '\t') col++;
        }
    }
    fclose(f);
    return buf;
}

static int count_lines(const char *text) {
    int n = 0;
    for (; *text; text++) n += *text == '\n';
    return n;
}

TestSuite(sweep_cli, .init = setup, .fini = teardown, .timeout = 240);

Test(sweep_cli, killed_resumed_and_sharded_equal_one_run) {
    make_data();
    cr_assert(cli("sweep --data data --out full " TRAIN_OPTS) == 0, "%s", dm_test_slurp_in(dir, "err"));
    char *want = table_sans_timing("full");
    cr_expect(count_lines(want) == 7, "header + 3 data sets x 2 architectures:\n%s", want);
    char *want_summary = strdup(dm_test_slurp_in(dir, "full/summary.tsv"));
    cr_expect(strstr(want_summary, "cnn\trnn\tauroc\t3\t") != NULL, "%s", want_summary);

    /* stopped with SIGTERM once its first row is written, killed with SIGKILL once its second is,
     * then the same command again */
    char rows[4200];
    snprintf(rows, sizeof rows, "%s/killed/rows", dir);
    const char *row_at[2] = {"S1.cnn.tsv", "S1.rnn.tsv"};
    for (int round = 0; round < 2; round++) {
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            if (chdir(dir) != 0) _exit(126);
            if (!freopen("/dev/null", "w", stdout) || !freopen("killed.err", "w", stderr)) _exit(126);
            execl(DM_TEST_CLI, DM_TEST_CLI, "sweep", "--data", "data", "--out", "killed", "--archs", "cnn,rnn", "--epochs",
                  "2", "--len", "40", "--batch", "32", "--threads", "1", (char *)NULL);
            _exit(127);
        }
        bool seen = false;
        char row[4300];
        snprintf(row, sizeof row, "%s/%s", rows, row_at[round]);
        for (int t = 0; t < 6000 && !seen; t++) {   /* up to 60 s for the row */
            seen = access(row, F_OK) == 0;
            if (!seen) usleep(10000);
        }
        cr_assert(seen, "no row %s", row_at[round]);
        kill(pid, round == 0 ? SIGTERM : SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        char last[4300];
        snprintf(last, sizeof last, "%s/S3.rnn.tsv", rows);
        cr_assert(access(last, F_OK) != 0, "the last row exists: the signal came too late to test anything");
        if (round == 0) {   /* SIGTERM: the tables of the rows done, one line, 128 + 15 */
            char *err = dm_test_slurp_in(dir, "killed.err");
            cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 143, "status %d: %s", status, err);
            cr_expect(strstr(err, "interrupted by SIGTERM") != NULL, "%s", err);
            cr_expect(count_lines(dm_test_slurp_in(dir, "killed/results.tsv")) >= 2);
        } else {
            cr_assert(WIFSIGNALED(status), "the sweep ended before it was killed: the test did not interrupt it");
        }
    }
    cr_assert(cli("sweep --data data --out killed " TRAIN_OPTS) == 0, "%s", dm_test_slurp_in(dir, "err"));
    char *got = table_sans_timing("killed");
    cr_expect(!strcmp(got, want), "interrupted and resumed:\n%s\nuninterrupted:\n%s", got, want);
    cr_expect(!strcmp(dm_test_slurp_in(dir, "killed/summary.tsv"), want_summary));
    free(got);

    /* a rerun keeps every row */
    cr_assert(cli("sweep --data data --out killed " TRAIN_OPTS) == 0);
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "6 kept, 0 trained, 0 failed") != NULL, "%s", dm_test_slurp_in(dir, "err"));

    /* two shards (the second with two jobs at a time) and their merge */
    cr_assert(cli("sweep --data data --out s1 --shard 1/2 " TRAIN_OPTS) == 0, "%s", dm_test_slurp_in(dir, "err"));
    cr_assert(cli("sweep --data data --out s2 --shard 2/2 --jobs 2 --archs cnn,rnn --epochs 2 --len 40 --batch 32 --threads 2") == 0,
              "%s", dm_test_slurp_in(dir, "err"));
    char *t1 = table_sans_timing("s1"), *t2 = table_sans_timing("s2");
    int n1 = count_lines(t1) - 1, n2 = count_lines(t2) - 1;
    free(t1), free(t2);
    cr_expect(n1 == 3 && n2 == 3, "shards of %d and %d rows", n1, n2);
    cr_expect(cli("sweep --merge s1 --out merged") == 1, "a merge missing a shard fails");
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "no shard output holds the row of") != NULL, "%s", dm_test_slurp_in(dir, "err"));
    cr_assert(cli("sweep --merge s1 s2 --out merged") == 0, "%s", dm_test_slurp_in(dir, "err"));
    got = table_sans_timing("merged");
    cr_expect(!strcmp(got, want), "merged:\n%s\nuninterrupted:\n%s", got, want);
    cr_expect(!strcmp(dm_test_slurp_in(dir, "merged/summary.tsv"), want_summary));
    cr_expect(dm_test_exists_in(dir, "merged/models/S2.rnn.dm") && dm_test_exists_in(dir, "merged/index.html"));
    free(got);
    free(want);
    free(want_summary);
}

Test(sweep_cli, changed_input_redoes_its_rows) {
    make_data();
    cr_assert(cli("sweep --data data --out o --archs cnn --epochs 1 --len 40 --batch 32 --threads 1") == 0);
    char before[3][128];
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "o/rows/S%d.cnn.tsv", i + 1);
        snprintf(before[i], sizeof before[i], "%s", strrchr(dm_test_slurp_in(dir, name), '\t') + 1);
    }
    cr_assert(cli("simulate --out data/S2_B.seq.gz --n 60 --len 40 --seed 99") == 0);   /* another test file */
    cr_assert(cli("sweep --data data --out o --archs cnn --epochs 1 --len 40 --batch 32 --threads 1") == 0);
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "2 kept, 1 trained, 0 failed") != NULL, "%s", dm_test_slurp_in(dir, "err"));
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "o/rows/S%d.cnn.tsv", i + 1);
        bool same = !strcmp(before[i], strrchr(dm_test_slurp_in(dir, name), '\t') + 1);
        cr_expect(same == (i != 1), "S%d: checksum %s", i + 1, same ? "kept" : "changed");
    }
    /* another training option changes every checksum */
    cr_assert(cli("sweep --data data --out o --archs cnn --epochs 1 --len 40 --batch 16 --threads 1") == 0);
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "0 kept, 3 trained") != NULL, "%s", dm_test_slurp_in(dir, "err"));
    /* --threads does not (where a job runs is no input) */
    cr_assert(cli("sweep --data data --out o --archs cnn --epochs 1 --len 40 --batch 16 --threads 2") == 0);
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "3 kept, 0 trained") != NULL, "%s", dm_test_slurp_in(dir, "err"));
}

/* A training that fails (a malformed training file) is reported with its log's last line; the
 * other rows are written; the sweep exits 1; a rerun after the fix trains only the failed one. */
Test(sweep_cli, failed_training_reported_others_kept) {
    cr_assert(dm_test_system("mkdir -p %s/data", dir) == 0);
    cr_assert(cli("simulate --out data/S1_AC.seq.gz --n 120 --len 40 --seed 1") == 0);
    cr_assert(cli("simulate --out data/S1_B.seq.gz --n 40 --len 40 --seed 2") == 0);
    cr_assert(cli("simulate --out data/B1_B.seq.gz --n 40 --len 40 --seed 3") == 0);
    dm_test_write_in(dir, "data/B1_AC.seq.gz", "not\ta\tDeepBind\tfile\n");
    int rc = cli("sweep --data data --out o --archs cnn --epochs 1 --len 40 --batch 32 --threads 1");
    char *err = dm_test_slurp_in(dir, "err");
    cr_expect(rc == 1, "exit %d: %s", rc, err);
    cr_expect(strstr(err, "1 of 2 trainings failed; the first: B1.cnn: deepmotif train: ") != NULL, "%s", err);
    cr_expect(strstr(err, "B1_AC.seq.gz") != NULL && strstr(err, "log: o/logs/B1.cnn.log") != NULL, "%s", err);
    char *t = table_sans_timing("o");
    cr_expect(count_lines(t) == 2 && strstr(t, "\nS1\tcnn\t") != NULL, "%s", t);
    free(t);
    cr_assert(cli("simulate --out data/B1_AC.seq.gz --n 120 --len 40 --seed 4") == 0);
    cr_expect(cli("sweep --data data --out o --archs cnn --epochs 1 --len 40 --batch 32 --threads 1") == 0);
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "1 kept, 1 trained, 0 failed") != NULL, "%s", dm_test_slurp_in(dir, "err"));
}

/* Bad folders: one line naming the folder or file, exit 1, no output folder made. */
Test(sweep_cli, bad_folders) {
    struct {
        const char *setup, *args, *says;
    } cases[] = {
        {"true", "--data nowhere", "nowhere: cannot read the folder"},
        {"mkdir empty", "--data empty", "empty: no data sets: the folder is empty"},
        {"mkdir other && touch other/README", "--data other", "other: no data sets: the folder holds none"},
        {"mkdir half && touch half/X_AC.seq.gz", "--data half", "half/X_AC.seq.gz: no test half: half/X_B.seq.gz is missing"},
        {"mkdir -p fa/T && touch fa/T/train.fa", "--data fa", "fa/T/train.fa: no test half"},
        {"mkdir -p two/T && touch two/T/train.fa two/T/train.fasta two/T/test.fa", "--data two", "both train.fa and train.fasta"},
        {"mkdir lone && touch lone/X_B.seq.gz", "--data lone", "1 test file(s) without a training half (X_B.seq.gz)"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cr_assert(dm_test_system("cd %s && %s", dir, cases[k].setup) == 0);
        int rc = cli("sweep %s --out res", cases[k].args);
        char *err = dm_test_slurp_in(dir, "err");
        cr_expect(rc == 1, "%s: exit %d", cases[k].args, rc);
        cr_expect(strstr(err, cases[k].says) != NULL, "%s: %s", cases[k].args, err);
        cr_expect(count_lines(err) == 1, "%s: one line: %s", cases[k].args, err);
        cr_expect(!dm_test_exists_in(dir, "res"), "%s: made the output folder", cases[k].args);
    }
    cr_expect(cli("sweep --data x --out res --shard 3/2") == 2);
    cr_expect(cli("sweep --data x --out res --archs cnn,lstm") == 2);
    cr_expect(cli("sweep --merge a --data x --out res") == 2);
    cr_expect(cli("sweep --data x --out res --jobs 2 --devices 0") == 2);
    cr_expect(cli("sweep --help") == 0 && strstr(dm_test_slurp_in(dir, "out"), "--epochs") != NULL);
}
