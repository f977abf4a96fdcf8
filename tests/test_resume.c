/*
 * test_resume.c: crash-safe training through the CLI (issue 9). A small RNN run (400 simulated
 * sequences of 40, batches of 16, 4 epochs, one thread) is interrupted in every way a cluster job can
 * be, and each time:
 *   - the files on disk load and satisfy the invariant of cli_train's commit order (host/cli/train.c,
 *     train_files): MODEL holds the selected weights of the epochs ≤ the one recorded in MODEL.last,
 *     or of the next epoch (killed between the two commits);
 *   - `--resume MODEL.last` completes to MODEL and MODEL.last bit-identical to an uninterrupted run
 *     (memcmp of the parameter arrays), with no temporary file left beside them.
 * Interruptions: SIGKILL at 20 seeded random moments (random delays, and inside checkpoint writes
 * through DM_FAULT=pause, see host/fileio.c), SIGINT and SIGTERM (exit 130/143, one line naming what
 * was kept and the exact resume command, which the test runs as printed), a second signal while the
 * first is being honoured (the process dies of it at once), a NaN injected into a weight
 * (DM_TEST_NAN: the run stops naming epoch and batch and keeps the last good files), and a full disk
 * (DM_FAULT=fail) on either file.
 *
 * The references are computed here, on this machine, by the same binary: nothing depends on the
 * numbers of another machine. DM_TEST_SEED replays another set of random moments.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "dm_internal.h"
#include "testutil.h"

#define EPOCHS 4
#define RUN "train --arch rnn --len 40 --epochs 4 --batch 16 --threads 1 --seed 7 --device cpu"

static char *dir;
static const char *extra = "";   /* more options for every run of the test (train_cmd) */

static void setup(void) {
    dir = dm_test_tmpdir();
    cr_assert(dir);
    cr_assert(dm_test_system("mkdir -p %s/logs && OPENBLAS_NUM_THREADS=1 %s simulate --out %s/tr.seq.gz --n 200 "
                             "--len 40 --seed 2 > /dev/null 2>&1", dir, DM_TEST_CLI, dir) == 0);
}

static void teardown(void) {
    dm_test_rmdir(dir);
    free(dir);
}

TestSuite(resume, .init = setup, .fini = teardown, .timeout = 600);

/* ---- processes ------------------------------------------------------------------------------- */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_s(double s) {
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

/* Starts the CLI with `args` (words separated by single spaces, no quoting: the test's paths have
 * none) and `env` ("NAME=VALUE" or NULL); stdout is discarded, stderr goes to `err`. */
static pid_t start(const char *args, const char *env, const char *err) {
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s", args);
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)DM_TEST_CLI;
    for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    /* emptied here, not in the child: a poll of `err` right after fork must not see the last run's */
    FILE *f = fopen(err, "w");
    cr_assert(f, "%s", err);
    fclose(f);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fe = open(err, O_WRONLY | O_APPEND), fo = open("/dev/null", O_WRONLY);
        if (fe < 0 || fo < 0) _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        unsetenv("DM_FAULT");
        unsetenv("DM_TEST_NAN");
        if (env) putenv((char *)env);
        execv(DM_TEST_CLI, argv);
        _exit(127);
    }
    return pid;
}

/* Waits for the process (at most `timeout` s: then it is killed and the test fails). */
static int finish(pid_t pid, double timeout) {
    double t0 = now_s();
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        cr_assert(r == 0, "waitpid failed");
        if (now_s() - t0 > timeout) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            cr_assert_fail("a deepmotif process did not end within %.0f s", timeout);
        }
        sleep_s(0.002);
    }
}

static char *slurp(const char *path) { return dm_test_slurp_in(NULL, path); }

/* Waits until `err` contains `needle` (true) or the process has ended (false; not reaped). */
static bool wait_text(pid_t pid, const char *err, const char *needle, double timeout) {
    double t0 = now_s();
    while (now_s() - t0 < timeout) {
        if (strstr(slurp(err), needle)) return true;
        siginfo_t si = {0};
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
            return strstr(slurp(err), needle) != NULL;
        sleep_s(0.002);
    }
    return false;
}

/* Runs the CLI to its end; returns the exit status (−1: killed by a signal). */
static int run(const char *args, const char *env, const char *err) {
    int status = finish(start(args, env, err), 300);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* The training command for the run in folder x, fresh or resumed from x/m.dm.last. */
static const char *train_cmd(const char *x, bool resume) {
    static char a[2048];
    snprintf(a, sizeof a, RUN "%s --train %s/tr.seq.gz --out %s/m.dm%s%s%s", extra, dir, x,
             resume ? " --resume " : "", resume ? x : "", resume ? "/m.dm.last" : "");
    return a;
}

static void fresh_folder(char *x, size_t cap, const char *name) {
    snprintf(x, cap, "%s/%s", dir, name);
    cr_assert(dm_test_system("rm -rf %s && mkdir -p %s", x, x) == 0);
}

/* ---- checkpoints --------------------------------------------------------------------------- */

typedef struct ckpt {
    bool present;
    float *params;
    int64_t np;
    dm_provenance *prov;
    dm_resume_state rs;
} ckpt;

static void load(ckpt *c, const char *x, const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", x, name);
    memset(c, 0, sizeof *c);
    c->prov = calloc(1, sizeof *c->prov);
    if (!exists(path)) return;
    dm_hparams hp;
    cr_assert(dm_checkpoint_load(path, dm_net_table, &hp, &c->params, &c->np, c->prov, &c->rs) == DM_STATUS_OK,
              "%s does not load: %s", path, dm_last_error());
    c->present = true;
}

static void unload(ckpt *c) {
    free(c->params);
    free(c->prov);
    dm_resume_state_free(&c->rs);
}

/* The uninterrupted run: selected and last weights after each epoch e (index 0 unused), and its
 * duration. Per-epoch references come from runs of --epochs e (a prefix of the --epochs 4 run: the
 * learning-rate schedule, the permutations and dropout depend on the epoch and step, not on the
 * maximum), each resumed from the previous one at its epoch boundary; the last one must equal the
 * uninterrupted run, and its folders e1..e4 are kept as starting points. */
static float *ref_best[EPOCHS + 1], *ref_last[EPOCHS + 1];
static int64_t ref_np;
static double ref_seconds;

static void make_refs(void) {
    char x[600], err[600];
    fresh_folder(x, sizeof x, "ref");
    snprintf(err, sizeof err, "%s/logs/ref.err", dir);
    double t0 = now_s();
    cr_assert(run(train_cmd(x, false), NULL, err) == 0, "%s", slurp(err));
    ref_seconds = now_s() - t0;
    ckpt full_m, full_l;
    load(&full_m, x, "m.dm");
    load(&full_l, x, "m.dm.last");
    for (int e = 1; e <= EPOCHS; e++) {
        char y[600], a[2400];
        snprintf(y, sizeof y, "%s/e%d", dir, e);
        if (e == 1) cr_assert(dm_test_system("mkdir -p %s", y) == 0);
        else cr_assert(dm_test_system("cp -a %s/e%d %s", dir, e - 1, y) == 0);
        snprintf(a, sizeof a, "%s", train_cmd(y, e > 1));
        char *ep = strstr(a, "--epochs 4");
        ep[9] = (char)('0' + e);
        cr_assert(run(a, NULL, err) == 0, "%s", slurp(err));
        ckpt m, l;
        load(&m, y, "m.dm");
        load(&l, y, "m.dm.last");
        cr_assert(m.present && l.present && l.rs.epoch_done == e && l.rs.batch_done == 0);
        ref_np = m.np;
        ref_best[e] = m.params;
        ref_last[e] = l.params;
        m.params = l.params = NULL;
        unload(&m);
        unload(&l);
    }
    cr_assert(memcmp(ref_best[EPOCHS], full_m.params, sizeof(float) * (size_t)ref_np) == 0 &&
              memcmp(ref_last[EPOCHS], full_l.params, sizeof(float) * (size_t)ref_np) == 0,
              "a run resumed at every epoch boundary differs from the uninterrupted one");
    unload(&full_m);
    unload(&full_l);
}

static bool same(const float *a, const float *b) { return memcmp(a, b, sizeof(float) * (size_t)ref_np) == 0; }

/* The invariant of the pair in folder x (see the top of the file). Returns the epochs recorded in
 * MODEL.last (−1: none) and its mid-epoch batches in *batch_done. */
static int check_pair(const char *x, int *batch_done) {
    ckpt m, l;
    load(&m, x, "m.dm");
    load(&l, x, "m.dm.last");
    int d = -1;
    *batch_done = 0;
    if (!l.present) {
        cr_expect(!m.present || same(m.params, ref_best[1]),
                  "%s: MODEL without MODEL.last must be epoch 1's selection", x);
    } else {
        d = l.rs.epoch_done;
        *batch_done = l.rs.batch_done;
        cr_assert(l.rs.adam_m && l.rs.best_params, "%s: MODEL.last without its resume state", x);
        cr_expect(m.present, "%s: MODEL.last without MODEL", x);
        cr_assert(d >= 0 && d <= EPOCHS);
        if (d >= 1) cr_expect(same(l.rs.best_params, ref_best[d]), "%s: MODEL.last's selection is not epoch %d's", x, d);
        if (d >= 1 && l.rs.batch_done == 0)
            cr_expect(same(l.params, ref_last[d]), "%s: MODEL.last's weights are not epoch %d's", x, d);
        if (m.present)
            cr_expect(same(m.params, l.rs.best_params) || (d < EPOCHS && same(m.params, ref_best[d + 1])),
                      "%s: MODEL (epoch %d of %d run) pairs wrongly with MODEL.last (epoch %d, batch %d)", x,
                      m.prov->best_epoch, m.prov->epochs_run, d, l.rs.batch_done);
    }
    unload(&m);
    unload(&l);
    return d;
}

/* The epochs recorded in folder x's MODEL.last (another architecture than the references). */
static int last_epoch_of(const char *x) {
    ckpt l;
    load(&l, x, "m.dm.last");
    int d = l.present ? l.rs.epoch_done : -1;
    unload(&l);
    return d;
}

/* Whether folder x holds exactly the uninterrupted run's MODEL and MODEL.last, and nothing else. */
static bool is_final(const char *x) {
    ckpt m, l;
    load(&m, x, "m.dm");
    load(&l, x, "m.dm.last");
    bool ok = m.present && l.present && same(m.params, ref_best[EPOCHS]) && same(l.params, ref_last[EPOCHS]);
    cr_expect(ok, "%s: the resumed run differs from the uninterrupted one", x);
    unload(&m);
    unload(&l);
    DIR *dd = opendir(x);
    cr_assert(dd);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            n++;
            cr_expect(!strcmp(e->d_name, "m.dm") || !strcmp(e->d_name, "m.dm.last"), "%s: left behind: %s", x,
                      e->d_name);
        }
    closedir(dd);
    return ok && n == 2;
}

/* Resumes a copy of folder x (or starts afresh when it holds no MODEL.last) and runs it to its end. */
static bool completes_identically(const char *x) {
    char y[600], err[600];
    snprintf(y, sizeof y, "%s.copy", x);
    snprintf(err, sizeof err, "%s/logs/complete.err", dir);
    cr_assert(dm_test_system("rm -rf %s && cp -a %s %s", y, x, y) == 0);
    char last[700];
    snprintf(last, sizeof last, "%s/m.dm.last", y);
    int rc = run(train_cmd(y, exists(last)), NULL, err);
    cr_expect(rc == 0, "resume failed: %s", slurp(err));
    bool ok = rc == 0 && is_final(y);
    cr_assert(dm_test_system("rm -rf %s", y) == 0);
    return ok;
}

static uint64_t rng_state;
static double uniform(void) {   /* xorshift64*, seeded from DM_TEST_SEED */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* ---- the tests ------------------------------------------------------------------------------- */

/* SIGKILL at 20 random moments: 2 of every 3 after a random delay in [0, 1.1 × what is left of the run)
 * (some land before the first checkpoint, some after the end: those are not counted and another
 * moment is drawn), 1 of 3 inside a checkpoint write (DM_FAULT=pause on MODEL's first commit or on
 * one of MODEL.last's). Runs form chains: each kill hits a run resumed from what the previous kill
 * left (5 kills per chain); every kill's files are also resumed, in a copy, to the end. */
Test(resume, sigkill_at_20_moments_then_resume_is_bit_identical) {
    make_refs();
    rng_state = dm_test_seed() * 0x9E3779B97F4A7C15ULL | 1;
    int kills = 0, in_writes = 0, identical = 0, finished_first = 0, chains = 1, attempts = 0, before_first = 0;
    char x[600], err[600], env[128], name[64];
    fresh_folder(x, sizeof x, "chain1");
    snprintf(err, sizeof err, "%s/logs/kill.err", dir);
    while (kills < 20) {
        cr_assert(++attempts < 200, "too many runs ended before their kill");
        char last[700];
        snprintf(last, sizeof last, "%s/m.dm.last", x);
        int bd, d = exists(last) ? check_pair(x, &bd) : 0;
        bool in_write = kills % 3 == 2;
        pid_t pid;
        if (in_write) {
            int left = EPOCHS - d;   /* MODEL.last commits this run makes at epoch ends (+1 at the end) */
            if (uniform() < 0.3) snprintf(env, sizeof env, "DM_FAULT=pause@m.dm#1");
            else snprintf(env, sizeof env, "DM_FAULT=pause@m.dm.last#%d", 1 + (int)(uniform() * (left + 1)));
            pid = start(train_cmd(x, exists(last)), env, err);
            cr_assert(wait_text(pid, err, "DM_FAULT paused", 120), "no pause (%s): %s", env, slurp(err));
        } else {
            pid = start(train_cmd(x, exists(last)), NULL, err);
            sleep_s(uniform() * (0.1 + 1.1 * (EPOCHS - d) / EPOCHS) * ref_seconds);   /* what is left of the run */
        }
        kill(pid, SIGKILL);
        int status = finish(pid, 120);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            /* the run ended before the kill: it must have ended well; start another chain */
            cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", slurp(err));
            cr_expect(is_final(x));
            finished_first++;
            snprintf(name, sizeof name, "chain%d", ++chains);
            fresh_folder(x, sizeof x, name);
            continue;
        }
        kills++;
        in_writes += in_write;
        if (check_pair(x, &bd) < 0) before_first++;
        identical += completes_identically(x);
        if (kills % 5 == 0) {
            snprintf(name, sizeof name, "chain%d", ++chains);
            fresh_folder(x, sizeof x, name);
        }
    }
    fprintf(stderr, "test_resume: %d SIGKILLs (%d inside checkpoint writes, %d before the first checkpoint; "
            "%d runs ended before their kill), %d of %d resumed bit-identically\n",
            kills, in_writes, before_first, finished_first, identical, kills);
    cr_expect(identical == kills);
}

/* SIGINT and SIGTERM: exit 130/143 with one line naming what was kept and the resume command; the
 * command, run as printed, is interrupted once more by the other signal and then run to the end. */
Test(resume, sigint_and_sigterm_keep_state_and_resume_bit_identical) {
    make_refs();
    rng_state = (dm_test_seed() + 77) * 0x9E3779B97F4A7C15ULL | 1;
    int signals = 0, mid_epoch = 0, identical = 0, late = 0;
    char err[600];
    snprintf(err, sizeof err, "%s/logs/sig.err", dir);
    for (int s = 0; s < 3; s++) {
        char x[600], name[32];
        snprintf(name, sizeof name, "sig%d", s);
        fresh_folder(x, sizeof x, name);
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "%s", train_cmd(x, false));
        for (int round = 0; round < 2; round++) {
            int sig = (s + round) % 2 ? SIGTERM : SIGINT;
            pid_t pid = start(cmd, NULL, err);
            /* the handler is in place once the header line is out */
            cr_assert(wait_text(pid, err, "deepmotif train: rnn", 60), "%s", slurp(err));
            sleep_s(uniform() * 0.6 * ref_seconds);
            kill(pid, sig);
            int status = finish(pid, 120);
            cr_assert(WIFEXITED(status), "killed by the first signal: %s", slurp(err));
            if (WEXITSTATUS(status) == 0) {   /* it finished first: try again, sooner */
                cr_assert(++late < 10);
                round--;
                cr_assert(dm_test_system("rm -rf %s && mkdir -p %s", x, x) == 0);
                snprintf(cmd, sizeof cmd, "%s", train_cmd(x, false));
                continue;
            }
            signals++;
            cr_assert_eq(WEXITSTATUS(status), 128 + sig, "%s", slurp(err));
            char *e = slurp(err), *line = strstr(e, "deepmotif train: interrupted by ");
            cr_assert(line, "%s", e);
            cr_expect(strchr(line, '\n') == line + strlen(line) - 1, "one line: %s", line);
            cr_expect(strstr(line, sig == SIGINT ? "SIGINT" : "SIGTERM") != NULL, "%s", line);
            char want[700];
            snprintf(want, sizeof want, "kept %s/m.dm (", x);
            cr_expect(strstr(line, want) != NULL, "%s", line);
            snprintf(want, sizeof want, " --resume %s/m.dm.last\n", x);
            cr_expect(strstr(line, want) != NULL, "%s", line);
            char *c = strstr(line, "resume with: deepmotif ");
            cr_assert(c, "%s", line);
            snprintf(cmd, sizeof cmd, "%s", c + strlen("resume with: deepmotif "));
            cmd[strcspn(cmd, "\n")] = 0;
            int bd;
            cr_expect(check_pair(x, &bd) >= 0, "no MODEL.last kept: %s", line);
            mid_epoch += bd > 0;
        }
        cr_expect(run(cmd, NULL, err) == 0, "%s", slurp(err));
        identical += is_final(x);
    }
    fprintf(stderr, "test_resume: %d SIGINT/SIGTERM stops (%d inside an epoch; %d landed after the end and "
            "were redrawn), %d of 3 runs resumed bit-identically\n", signals, mid_epoch, late, identical);
    cr_expect(identical == 3);
    /* a signal lands inside an epoch unless it hits the last batch or the validation (under 15 % of
     * the time here); 6 stops all at epoch ends would be a failure of the mid-epoch path to show */
    cr_expect(mid_epoch >= 1, "no stop inside an epoch among %d", signals);
}

/* While the first signal is being honoured (here: the process is held inside its first MODEL.last
 * write), a second one ends it at once, by that signal; what is on disk still pairs correctly. */
Test(resume, a_second_signal_exits_at_once) {
    make_refs();
    int pairs[2][2] = {{SIGINT, SIGINT}, {SIGTERM, SIGINT}};
    for (int k = 0; k < 2; k++) {
        char x[600], err[600], name[32];
        snprintf(name, sizeof name, "second%d", k);
        fresh_folder(x, sizeof x, name);
        snprintf(err, sizeof err, "%s/logs/second.err", dir);
        pid_t pid = start(train_cmd(x, false), "DM_FAULT=pause@m.dm.last#1", err);
        cr_assert(wait_text(pid, err, "DM_FAULT paused", 60), "%s", slurp(err));
        kill(pid, pairs[k][0]);
        sleep_s(0.2);
        siginfo_t si = {0};
        int wr = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
        cr_assert(wr == 0 && si.si_pid == 0,
                  "the first signal alone ended the process (code %d, status %d): %s", si.si_code, si.si_status,
                  slurp(err));
        double t0 = now_s();
        kill(pid, pairs[k][1]);
        int status = finish(pid, 30);
        cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == pairs[k][1], "status %#x: %s", status, slurp(err));
        /* "at once": a generous bound for a loaded machine; the process never continues by itself */
        cr_expect(now_s() - t0 < 5.0);
        int bd;
        cr_expect(check_pair(x, &bd) == -1, "MODEL.last was committed");
        cr_expect(completes_identically(x));
    }
}

/* A NaN weight before batch 5 of epoch 3: one line naming epoch 3 and batch 5, exit 1, and the files
 * are epoch 2's, from which a resume completes the run; in batch 1 of epoch 1 nothing is written. */
Test(resume, divergence_names_epoch_and_batch_and_keeps_the_last_good_files) {
    make_refs();
    char x[600], err[600];
    fresh_folder(x, sizeof x, "nan");
    snprintf(err, sizeof err, "%s/logs/nan.err", dir);
    cr_assert_eq(run(train_cmd(x, false), "DM_TEST_NAN=3:5", err), 1, "%s", slurp(err));
    char *e = strstr(slurp(err), "deepmotif train: training diverged in epoch 3, batch 5 of "), want[1400];
    cr_assert(e != NULL, "%s", slurp(err));
    snprintf(want, sizeof want, "%s/m.dm and %s/m.dm.last hold the run as of epoch 2\n", x, x);
    cr_expect(strstr(e, want) != NULL, "%s", e);
    cr_expect(strchr(e, '\n') == e + strlen(e) - 1, "one last line: %s", e);
    int bd;
    cr_expect(check_pair(x, &bd) == 2 && bd == 0);
    ckpt m;
    load(&m, x, "m.dm");
    cr_expect(m.present && same(m.params, ref_best[2]), "MODEL is not epoch 2's selection");
    unload(&m);
    cr_expect(completes_identically(x));

    /* in the CNN a NaN weight can hide behind a ReLU and never reach the loss: the weights are
     * checked after every update too, and the batch is still named */
    fresh_folder(x, sizeof x, "nancnn");
    char a[2400];
    snprintf(a, sizeof a, "%s", train_cmd(x, false));
    memcpy(strstr(a, "--arch rnn") + 7, "cnn", 3);
    cr_assert_eq(run(a, "DM_TEST_NAN=2:3", err), 1, "%s", slurp(err));
    cr_expect(strstr(slurp(err), "training diverged in epoch 2, batch 3 of ") != NULL, "%s", slurp(err));
    cr_expect(last_epoch_of(x) == 1);

    fresh_folder(x, sizeof x, "nan1");
    cr_assert_eq(run(train_cmd(x, false), "DM_TEST_NAN=1:1", err), 1, "%s", slurp(err));
    cr_expect(strstr(slurp(err), "epoch 1, batch 1 of ") && strstr(slurp(err), "no checkpoint was written"), "%s",
              slurp(err));
    cr_expect(dm_test_system("test -z \"$(ls -A %s)\"", x) == 0, "files left after divergence in batch 1");
}

/* A full disk (DM_FAULT=fail, "No space left on device") on MODEL.last or on MODEL: exit 1 naming the
 * file, the pair on disk still satisfies the invariant, and a resume completes the run. */
Test(resume, enospc_never_pairs_an_old_model_with_a_newer_last) {
    make_refs();
    char x[600], err[600], want[700];
    snprintf(err, sizeof err, "%s/logs/enospc.err", dir);
    int bd;

    /* MODEL.last's second commit (epoch 2) fails: MODEL may be epoch 2's, MODEL.last stays epoch 1's */
    fresh_folder(x, sizeof x, "full1");
    cr_assert_eq(run(train_cmd(x, false), "DM_FAULT=fail@m.dm.last#2", err), 1, "%s", slurp(err));
    snprintf(want, sizeof want, "%s/m.dm.last: write failed: No space left on device", x);
    cr_expect(strstr(slurp(err), want) != NULL, "%s", slurp(err));
    cr_expect(check_pair(x, &bd) == 1);
    cr_expect(completes_identically(x));

    /* a resumed run's first MODEL commit fails: neither file moves */
    snprintf(x, sizeof x, "%s/full2", dir);
    cr_assert(dm_test_system("rm -rf %s && cp -a %s/e1 %s", x, dir, x) == 0);
    cr_assert(dm_test_system("cp -a %s %s.before", x, x) == 0);
    cr_assert_eq(run(train_cmd(x, true), "DM_FAULT=fail@m.dm#1", err), 1, "%s", slurp(err));
    snprintf(want, sizeof want, "%s/m.dm: write failed: No space left on device", x);
    cr_expect(strstr(slurp(err), want) != NULL, "%s", slurp(err));
    cr_expect(dm_test_system("cmp -s %s/m.dm %s.before/m.dm && cmp -s %s/m.dm.last %s.before/m.dm.last", x, x, x, x) == 0,
              "a failed MODEL commit changed the files");
    cr_expect(check_pair(x, &bd) == 1);
    cr_expect(completes_identically(x));

    /* a fresh run's first MODEL commit fails: nothing is written */
    fresh_folder(x, sizeof x, "full3");
    cr_assert_eq(run(train_cmd(x, false), "DM_FAULT=fail@m.dm#1", err), 1, "%s", slurp(err));
    cr_expect(dm_test_system("test -z \"$(ls -A %s)\"", x) == 0, "files left after a failed first commit");
}

/* The mid-epoch resume state is format 2 and round-trips exactly; an epoch-boundary state is still
 * written as format 1; a format-2 section whose row count overruns it is refused as corrupt. */
/* A file's bytes (malloc'd) and its size in *n. */
static unsigned char *read_whole(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    unsigned char *b = malloc((size_t)*n);
    fseek(f, 0, SEEK_SET);
    cr_assert(b && fread(b, 1, (size_t)*n, f) == (size_t)*n);
    fclose(f);
    return b;
}

/* Writes an edited model file back with its CRC trailer recomputed (so the loader gets past the
 * checksum to the field checks), and frees b. */
static void write_with_crc(const char *path, unsigned char *b, long n) {
    uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(n - 4));
    for (int i = 0; i < 4; i++) b[n - 4 + i] = (unsigned char)(crc >> (8 * i));
    FILE *f = fopen(path, "wb");
    cr_assert(f && fwrite(b, 1, (size_t)n, f) == (size_t)n, "%s", path);
    fclose(f);
    free(b);
}

Test(resume, mid_epoch_state_is_format_2_and_round_trips) {
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_RNN);
    hp.len = 40;
    dm_tensor_info t[DM_MAX_TENSORS];
    int64_t np;
    int32_t nt = dm_net_table(&hp, t, &np);
    float *params = calloc((size_t)np, sizeof(float));
    dm_resume_state rs = {.epoch_done = 2, .adam_t = 69, .lr = 0.01f, .best_valid = 0.75, .best_epoch = 1,
                          .bad_epochs = 1, .batch_done = 3, .batch = 16, .rows_done = 48};
    rs.adam_m = calloc((size_t)np, sizeof(float));
    rs.adam_v = calloc((size_t)np, sizeof(float));
    rs.best_params = calloc((size_t)np, sizeof(float));
    rs.part_logprob = malloc(sizeof(float) * 96);
    rs.part_loss = malloc(sizeof(float) * 48);
    for (int i = 0; i < 96; i++) rs.part_logprob[i] = -0.01f * (float)i;
    for (int i = 0; i < 48; i++) rs.part_loss[i] = i == 7 ? NAN : 0.5f + (float)i;
    static dm_provenance prov, prov2;
    char path[600];
    snprintf(path, sizeof path, "%s/mid.dm.last", dir);
    cr_assert(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, &rs) == DM_STATUS_OK, "%s", dm_last_error());
    FILE *f = fopen(path, "rb");
    unsigned char head[16];
    cr_assert(f && fread(head, 1, 16, f) == 16);
    fclose(f);
    cr_expect(head[8] == 2, "a mid-epoch state is format 2");

    dm_hparams hp2;
    float *p2;
    int64_t np2;
    dm_resume_state r2;
    cr_assert(dm_checkpoint_load(path, dm_net_table, &hp2, &p2, &np2, &prov2, &r2) == DM_STATUS_OK, "%s",
              dm_last_error());
    cr_expect(r2.epoch_done == 2 && r2.batch_done == 3 && r2.batch == 16 && r2.rows_done == 48 && r2.adam_t == 69);
    cr_expect(memcmp(r2.part_logprob, rs.part_logprob, sizeof(float) * 96) == 0);
    cr_expect(memcmp(r2.part_loss, rs.part_loss, sizeof(float) * 48) == 0, "NaN kept bit for bit");
    free(p2);
    dm_resume_state_free(&r2);

    /* at an epoch boundary: format 1, no mid-epoch arrays */
    rs.batch_done = 0;
    cr_assert(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, &rs) == DM_STATUS_OK);
    f = fopen(path, "rb");
    cr_assert(f && fread(head, 1, 16, f) == 16);
    fclose(f);
    cr_expect(head[8] == 1, "an epoch-boundary state stays format 1");
    cr_assert(dm_checkpoint_load(path, dm_net_table, &hp2, &p2, &np2, &prov2, &r2) == DM_STATUS_OK);
    cr_expect(r2.batch_done == 0 && !r2.part_logprob && !r2.part_loss);
    free(p2);
    dm_resume_state_free(&r2);

    /* format 2 with rows_done beyond the section: corrupt, never a huge allocation */
    rs.batch_done = 3;
    rs.rows_done = 48;
    cr_assert(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, &rs) == DM_STATUS_OK);
    long n;
    unsigned char *b = read_whole(path, &n);
    /* rows_done sits before the 48·12 bytes of arrays and the 4-byte CRC */
    long at = n - 4 - 48 * 12 - 8;
    cr_assert(b[at] == 48 && b[at + 1] == 0);
    b[at + 7] = 0x40;
    write_with_crc(path, b, n);
    cr_expect(dm_checkpoint_load(path, dm_net_table, &hp2, &p2, &np2, &prov2, &r2) == DM_STATUS_CORRUPT);
    cr_expect(strstr(dm_last_error(), "RESM") != NULL, "%s", dm_last_error());

    free(params);
    dm_resume_state_free(&rs);
}

/* The device path (--device cuda, which overrides RUN's --device cpu; the CUDA emulator in DM_CUDA_EMU
 * builds; skipped without CUDA):
 * the mid-epoch state goes to and comes back from device memory, and divergence is found by the
 * once-per-epoch check on the per-sequence losses, which must still name the batch. */
Test(resume, device_stop_resume_and_divergence) {
    char x[600], err[600], a[2400];
    snprintf(err, sizeof err, "%s/logs/dev.err", dir);
    fresh_folder(x, sizeof x, "devref");
    snprintf(a, sizeof a, "%s --device cuda", train_cmd(x, false));
    char *ep = strstr(a, "--epochs 4");
    ep[9] = '2';
    double t0 = now_s();
    int rc = run(a, NULL, err);
    if (rc != 0 && (strstr(slurp(err), "CUDA") || strstr(slurp(err), "cuda")))
        cr_skip_test("no CUDA backend: %s", slurp(err));
    cr_assert_eq(rc, 0, "%s", slurp(err));
    double seconds = now_s() - t0;
    ckpt rm, rl;
    load(&rm, x, "m.dm");
    load(&rl, x, "m.dm.last");
    ref_np = rm.np;

    /* SIGINT inside the run, then the printed command to the end: the device reference, bit for bit */
    rng_state = (dm_test_seed() + 5) * 0x9E3779B97F4A7C15ULL | 1;
    int mid = 0, identical = 0;
    for (int k = 0; k < 2; k++) {
        char y[600], name[32];
        snprintf(name, sizeof name, "dev%d", k);
        fresh_folder(y, sizeof y, name);
        snprintf(a, sizeof a, "%s --device cuda", train_cmd(y, false));
        ep = strstr(a, "--epochs 4");
        ep[9] = '2';
        pid_t pid = start(a, NULL, err);
        cr_assert(wait_text(pid, err, "deepmotif train: rnn", 60), "%s", slurp(err));
        sleep_s((0.2 + 0.5 * uniform()) * seconds);
        kill(pid, SIGINT);
        int status = finish(pid, 300);
        cr_assert(WIFEXITED(status), "%s", slurp(err));
        if (WEXITSTATUS(status) == 0) continue;   /* finished first */
        cr_assert_eq(WEXITSTATUS(status), 130, "%s", slurp(err));
        ckpt l;
        load(&l, y, "m.dm.last");
        mid += l.present && l.rs.batch_done > 0;
        unload(&l);
        char *c = strstr(slurp(err), "resume with: deepmotif ");
        cr_assert(c, "%s", slurp(err));
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "%s", c + strlen("resume with: deepmotif "));
        cmd[strcspn(cmd, "\n")] = 0;
        cr_assert_eq(run(cmd, NULL, err), 0, "%s", slurp(err));
        ckpt m2, l2;
        load(&m2, y, "m.dm");
        load(&l2, y, "m.dm.last");
        bool ok = same(m2.params, rm.params) && same(l2.params, rl.params);
        cr_expect(ok, "the device run resumed from a stop differs from the uninterrupted one");
        identical += ok;
        unload(&m2);
        unload(&l2);
    }
    fprintf(stderr, "test_resume: device: %d mid-epoch stops, %d resumed bit-identically\n", mid, identical);

    /* a NaN weight before batch 7 of epoch 2: named by the per-epoch check; the files stay epoch 1's */
    fresh_folder(x, sizeof x, "devnan");
    snprintf(a, sizeof a, "%s --device cuda", train_cmd(x, false));
    cr_assert_eq(run(a, "DM_TEST_NAN=2:7", err), 1, "%s", slurp(err));
    cr_expect(strstr(slurp(err), "training diverged in epoch 2, batch 7 of ") != NULL, "%s", slurp(err));
    ckpt l;
    load(&l, x, "m.dm.last");
    cr_expect(l.present && l.rs.epoch_done == 1 && l.rs.batch_done == 0);
    unload(&l);
    unload(&rm);
    unload(&rl);
}

/* The weights' moving average (--ema): the per-epoch references resumed at every epoch boundary
 * equal the uninterrupted run (make_refs), and a run stopped by SIGINT inside an epoch resumes, by the
 * printed command (which need not repeat --ema: the run's own is kept), to the same files. */
Test(resume, the_weight_average_resumes_bit_identically) {
    extra = " --ema 0.99";
    make_refs();
    char x[600], err[600], cmd[4096];
    snprintf(err, sizeof err, "%s/logs/avg.err", dir);
    fresh_folder(x, sizeof x, "avg");
    ckpt l;
    load(&l, dir, "ref/m.dm.last");
    cr_assert(l.present && l.rs.avg && l.prov->ema == 0.99f, "MODEL.last lacks the average or its decay");
    unload(&l);
    rng_state = (dm_test_seed() + 91) * 0x9E3779B97F4A7C15ULL | 1;
    for (int late = 0;; late++) {
        cr_assert(late < 10, "every SIGINT landed after the end");
        snprintf(cmd, sizeof cmd, "%s", train_cmd(x, false));
        pid_t pid = start(cmd, NULL, err);
        cr_assert(wait_text(pid, err, "deepmotif train: rnn", 60), "%s", slurp(err));
        sleep_s((0.2 + 0.5 * uniform()) * ref_seconds);
        kill(pid, SIGINT);
        int status = finish(pid, 120);
        cr_assert(WIFEXITED(status), "%s", slurp(err));
        if (WEXITSTATUS(status) == 130) break;
        cr_assert(dm_test_system("rm -rf %s && mkdir -p %s", x, x) == 0);
    }
    char *c = strstr(slurp(err), "resume with: deepmotif ");
    cr_assert(c, "%s", slurp(err));
    snprintf(cmd, sizeof cmd, "%s", c + strlen("resume with: deepmotif "));
    cmd[strcspn(cmd, "\n")] = 0;
    char *e = strstr(cmd, " --ema 0.99");   /* the run's decay comes from MODEL.last */
    if (e) memmove(e, e + strlen(" --ema 0.99"), strlen(e + strlen(" --ema 0.99")) + 1);
    cr_expect(run(cmd, NULL, err) == 0, "%s", slurp(err));
    cr_expect(is_final(x));
    /* resuming it under another choice is refused in one line */
    snprintf(cmd, sizeof cmd, "%s --ema 0", train_cmd(x, true));
    cr_expect(run(cmd, NULL, err) != 0);
    cr_expect(strstr(slurp(err), "weight average") != NULL, "%s", slurp(err));
}

/* AVGW round trip: the decay and the running average beside RESM; in a model without a resume state
 * only the decay; a damaged section is corrupt, naming it. */
Test(resume, the_average_section_round_trips) {
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_RNN);
    hp.len = 40;
    dm_tensor_info t[DM_MAX_TENSORS];
    int64_t np;
    int32_t nt = dm_net_table(&hp, t, &np);
    float *params = calloc((size_t)np, sizeof(float));
    dm_resume_state rs = {.epoch_done = 2, .adam_t = 69, .lr = 0.01f, .best_epoch = 1};
    rs.adam_m = calloc((size_t)np, sizeof(float));
    rs.adam_v = calloc((size_t)np, sizeof(float));
    rs.best_params = calloc((size_t)np, sizeof(float));
    rs.avg = malloc(sizeof(float) * (size_t)np);
    for (int64_t j = 0; j < np; j++) rs.avg[j] = 0.001f * (float)j - 1.0f;
    static dm_provenance prov, prov2;
    prov.ema = 0.999f;
    char path[600];
    snprintf(path, sizeof path, "%s/avg.dm.last", dir);
    cr_assert(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, &rs) == DM_STATUS_OK, "%s", dm_last_error());
    dm_hparams hp2;
    float *p2;
    int64_t np2;
    dm_resume_state r2;
    cr_assert(dm_checkpoint_load(path, dm_net_table, &hp2, &p2, &np2, &prov2, &r2) == DM_STATUS_OK, "%s",
              dm_last_error());
    cr_expect(prov2.ema == 0.999f && r2.avg && memcmp(r2.avg, rs.avg, sizeof(float) * (size_t)np) == 0);
    free(p2);
    dm_resume_state_free(&r2);
    /* MODEL: no resume state, the decay only */
    cr_assert(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, NULL) == DM_STATUS_OK);
    memset(&prov2, 0, sizeof prov2);
    cr_assert(dm_checkpoint_load(path, dm_net_table, &hp2, &p2, &np2, &prov2, &r2) == DM_STATUS_OK);
    cr_expect(prov2.ema == 0.999f && !r2.avg);
    free(p2);
    dm_resume_state_free(&r2);
    /* a decay of 1.5 in the section (its first 4 bytes, after tag and length, before n = 0 and the CRC) */
    long n;
    unsigned char *b = read_whole(path, &n);
    long at = n - 4 - 8 - 4;
    cr_assert(memcmp(b + at - 12, "AVGW", 4) == 0, "AVGW is the last section");
    float bad = 1.5f;
    memcpy(b + at, &bad, 4);
    write_with_crc(path, b, n);
    cr_expect(dm_checkpoint_load(path, dm_net_table, &hp2, &p2, &np2, &prov2, &r2) == DM_STATUS_CORRUPT);
    cr_expect(strstr(dm_last_error(), "AVGW") != NULL, "%s", dm_last_error());
    free(params);
    dm_resume_state_free(&rs);
}
