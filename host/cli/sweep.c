/*
 * sweep.c: `deepmotif sweep`: one model per (data set × architecture) over a folder of data sets, the
 * results table and its summary (host/sweep.h does the work; this runs the trainings and prints).
 *
 * Each job is a `deepmotif train` child process of this program (the training path, defaults and
 * options are train's own; its output goes to OUT/logs/KEY.log), started on a slot: a CPU share of
 * the threads (--jobs) or a CUDA device (--devices, through CUDA_VISIBLE_DEVICES). Children die with
 * the sweep (PR_SET_PDEATHSIG), so a killed sweep leaves no training behind; its rerun keeps the
 * rows written and continues an interrupted training from its MODEL.last (train --resume).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch.h"
#include "cli.h"
#include "dashboard.h"
#include "dist.h"
#include "sweep.h"

const cli_opt cli_sweep_opts[] = {
    {"--data", "DIR", "the data sets: NAME_AC.seq.gz + NAME_B.seq.gz pairs (DeepBind; _AC trained with --negatives "
                      "shuffle) and NAME/train.fa + NAME/test.fa folders (.fasta, .gz too) (required, or --merge)", NULL, 0},
    {"--test-only-dir", "DIR", "a folder holding only the test halves (NAME_B.seq.gz, NAME/test.fa), when they are "
                               "not beside the training halves in --data", NULL, 0},
    {"--archs", "A,B,...", "architectures (default cnn,rnn,cnnrnn)", NULL, 0},
    {"--out", "OUT", "output folder: results.tsv, results.jsonl, summary.tsv, index.html, models/, logs/ (required)",
     NULL, 0},
    {"--shard", "I/N", "run shard I of N (1-based) of the (data set x architecture) jobs, balanced by file size", NULL, 0},
    {"--merge", "OUT...", "instead: join the outputs of the shards of one sweep into --out", NULL, CLI_LIST},
    {"--jobs", "J", "CPU: J trainings at a time, the threads split between them (default 1)", NULL, 0},
    {"--devices", "I,J,...", "CUDA: one training at a time on each of these devices", NULL, 0},
    {"--dashboards", NULL, "also a dashboard per data set under OUT/dashboards/ (its models on its test file)", NULL, 0},
    {"--quiet", NULL, "no progress lines", NULL, 0},
    {0},
};

/* Training options passed on to every `deepmotif train`: train's own rows but those the sweep sets
 * for each job (filled from cli_train_opts at start-up, so a new train option is a sweep option). */
static const char *const not_passed[] = {"--arch", "--train", "--test", "--test-bed", "--out", "--resume",
                                         "--negatives", "--background", "--quiet", NULL};
cli_opt cli_sweep_train_opts[CLI_MAX_OPTS];

__attribute__((constructor)) static void fill_train_opts(void) {
    int n = 0;
    for (const cli_opt *o = cli_train_opts; o->name && n < CLI_MAX_OPTS - 1; o++) {
        int k = 0;
        while (not_passed[k] && strcmp(not_passed[k], o->name)) k++;
        if (!not_passed[k]) cli_sweep_train_opts[n++] = *o;
    }
}

/* Options of the shared blocks passed on as well, and which of all change no result (left out of the
 * checksum): where and how fast a job runs. */
static const char *const passed_blocks[] = {"--n-policy", "--cudnn", NULL};
static const char *const no_result[] = {"--max-memory", NULL};

static bool in_list(const char *const *list, const char *s) {
    for (int k = 0; list[k]; k++)
        if (!strcmp(list[k], s)) return true;
    return false;
}

typedef struct child {
    pid_t pid;
    int job, slot;
} child;

typedef struct runner_ctx {
    const cli_args *a;
    const dm_sweep *sw;
    char exe[4096];
    const char *device;   /* --device of the user, or NULL */
    child kids[64];
    int n_kids;
} runner_ctx;

/* The passed-on options as argv words (value after name), in the order of the option table. */
static int passed_words(const cli_args *a, const char **w, int cap, bool for_checksum) {
    int n = 0;
    for (int k = 0; k < a->n && n + 2 < cap; k++) {
        const cli_opt *o = a->row[k];
        bool train_row = o >= cli_sweep_train_opts && o < cli_sweep_train_opts + CLI_MAX_OPTS;
        if (!a->value[k] || !(train_row || in_list(passed_blocks, o->name))) continue;
        if (for_checksum && in_list(no_result, o->name)) continue;
        w[n++] = o->name;
        if (o->arg || o->choices) w[n++] = a->value[k];
    }
    return n;
}

/* SIGINT/SIGTERM: the first is passed on to the running trainings (each in a process group of its
 * own, so a terminal's Ctrl-C reaches them once, through here), which keep their state in
 * MODEL.last and end; no training starts any more, the tables are written with the rows done and
 * the sweep exits 128 + the signal. A second signal ends the sweep at once (its trainings with it). */
static volatile sig_atomic_t g_stop;
static runner_ctx *g_runner;

static void on_stop_signal(int sig) {
    if (g_stop) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_stop = sig;
    if (g_runner)
        for (int k = 0; k < g_runner->n_kids; k++) kill(g_runner->kids[k].pid, sig);
}

static bool stopping(void *ctx) { return g_stop != 0; }

static dm_status start_job(void *vctx, const dm_sweep *sw, int job, const dm_sweep_slot *slot, int slot_index) {
    runner_ctx *c = vctx;
    c->sw = sw;
    const dm_sweep_job *j = &sw->jobs[job];
    const dm_sweep_set *t = &sw->sets[j->set];
    char model[4200], log[4200], last[4300], threads[32];
    dm_sweep_path(sw, job, "model", model);
    dm_sweep_path(sw, job, "log", log);
    snprintf(last, sizeof last, "%s.last", model);
    snprintf(threads, sizeof threads, "%d", slot->threads);
    bool resume = dm_sweep_can_resume(sw, job);
    if (!resume) DM_TRY(dm_sweep_mark_pending(sw, job));
    const char *argv[128];
    int n = 0;
    argv[n++] = c->exe;
    argv[n++] = "train";
    argv[n++] = "--arch", argv[n++] = j->arch;
    argv[n++] = "--train", argv[n++] = t->train;
    argv[n++] = "--test", argv[n++] = t->test;
    argv[n++] = "--out", argv[n++] = model;
    if (t->positives_only) argv[n++] = "--negatives", argv[n++] = "shuffle";
    n += passed_words(c->a, argv + n, 100, false);
    argv[n++] = "--threads", argv[n++] = threads;
    if (slot->device >= 0) argv[n++] = "--device", argv[n++] = "cuda";
    else if (c->device) argv[n++] = "--device", argv[n++] = c->device;
    if (resume) argv[n++] = "--resume", argv[n++] = last;
    argv[n] = NULL;
    int fd = open(log, O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? O_APPEND : O_TRUNC), 0666);
    if (fd < 0) return dm_error(DM_STATUS_IO, "%s: cannot write: %s", log, strerror(errno));
    if (resume) dprintf(fd, "deepmotif sweep: continuing from %s\n", last);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return dm_error(DM_STATUS_IO, "cannot start a training: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* the training ends with the sweep */
        setpgid(0, 0);                       /* signals reach it through the sweep (on_stop_signal) */
        signal(SIGINT, SIG_DFL), signal(SIGTERM, SIG_DFL);
        if (getppid() != parent) _exit(127);
        dup2(fd, 1), dup2(fd, 2);
        /* the child is a process of its own, not a rank of an MPI job the sweep may be part of */
        for (char **e = environ; *e;) {
            if (!strncmp(*e, "OMPI_", 5) || !strncmp(*e, "PMIX_", 5) || !strncmp(*e, "PMI_", 4)) {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)(strchr(*e, '=') ? strchr(*e, '=') - *e : 255), *e);
                unsetenv(name);
            } else {
                e++;
            }
        }
        if (slot->device >= 0) {
            char dev[16];
            snprintf(dev, sizeof dev, "%d", slot->device);
            setenv("CUDA_VISIBLE_DEVICES", dev, 1);
        }
        execv(c->exe, (char *const *)argv);
        dprintf(2, "deepmotif sweep: cannot run %s: %s\n", c->exe, strerror(errno));
        _exit(127);
    }
    close(fd);
    c->kids[c->n_kids++] = (child){pid, job, slot_index};
    return DM_STATUS_OK;
}

/* The last non-empty line of a log (a failed training's error), in why. */
static void last_line(const char *log, char *why, size_t cap) {
    FILE *f = fopen(log, "rb");
    why[0] = 0;
    if (!f) return;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0]) snprintf(why, cap, "%.*s", (int)(cap - 1), line);
    }
    fclose(f);
}

static dm_status wait_job(void *vctx, int *job, int *slot, bool *ok, char *why, size_t cap) {
    runner_ctx *c = vctx;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            return dm_error(DM_STATUS_IO, "waiting for a training: %s", strerror(errno));
        }
        int k = 0;
        while (k < c->n_kids && c->kids[k].pid != pid) k++;
        if (k == c->n_kids) continue;   /* not one of ours */
        *job = c->kids[k].job, *slot = c->kids[k].slot;
        c->kids[k] = c->kids[--c->n_kids];
        *ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!*ok) {
            char log[4200], tail[900];
            last_line(dm_sweep_path(c->sw, *job, "log", log), tail, sizeof tail);
            if (WIFSIGNALED(status)) snprintf(why, cap, "killed by signal %d (log: %s)", WTERMSIG(status), log);
            else snprintf(why, cap, "%s (exit status %d; log: %s)", tail[0] ? tail : "no output", WEXITSTATUS(status), log);
        }
        return DM_STATUS_OK;
    }
}

/* ---- progress ------------------------------------------------------------------------------------ */

typedef struct progress_ctx {
    bool quiet;
    int rank, size;
    const dm_sweep *sw;
} progress_ctx;

static void eta_text(char *buf, size_t cap, double s) {
    if (!isfinite(s)) snprintf(buf, cap, "ETA unknown");
    else if (s < 90) snprintf(buf, cap, "ETA %.0f s", s);
    else if (s < 5400) snprintf(buf, cap, "ETA %.0f min", s / 60);
    else snprintf(buf, cap, "ETA %.1f h", s / 3600);
}

static void on_event(void *vctx, const dm_sweep_event *e) {
    progress_ctx *p = vctx;
    if (p->quiet) return;
    char eta[64], rank[32] = "";
    eta_text(eta, sizeof eta, e->eta);
    if (p->size > 1) snprintf(rank, sizeof rank, "rank %d: ", p->rank);
    if (e->kind == DM_SWEEP_EV_START) {
        int running = 1;
        for (const char *q = e->running; *q; q++) running += *q == ',';
        fprintf(stderr, "%s: %s[rows %d/%d, data sets %d/%d] training %s (%d running); %s\n", cli_prog, rank, e->done,
                e->total, e->sets_done, e->sets_total, p->sw->jobs[e->job].key, running, eta);
    } else if (e->kind == DM_SWEEP_EV_DONE) {
        char m[32];
        fprintf(stderr, "%s: %s[rows %d/%d, data sets %d/%d] %s.%s: test AUROC %s, %d epochs, %.1f s; running: %s; %s\n",
                cli_prog, rank, e->done, e->total, e->sets_done, e->sets_total, e->row->dataset, e->row->arch, cli_metric_text(m, e->row->auroc, "%.4f", "NA"), (int)e->row->epochs,
                e->row->train_seconds, e->running[0] ? e->running : "none", eta);
    } else {
        fprintf(stderr, "%s: %s[rows %d/%d, data sets %d/%d] failed: %s\n", cli_prog, rank, e->done, e->total,
                e->sets_done, e->sets_total, e->why);
    }
}

/* ---- options ------------------------------------------------------------------------------------- */

static int parse_archs(const char *v, dm_arch *archs) {
    int n = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        dm_arch a;
        if (dm_arch_parse(tok, &a) != DM_STATUS_OK) cli_bad_choice("--archs", tok, dm_arch_names);
        for (int k = 0; k < n; k++)
            if (archs[k] == a) cli_usage_error("--archs: %s is given twice", tok);
        if (n == DM_SWEEP_MAX_ARCHS) cli_usage_error("--archs: at most %d architectures", DM_SWEEP_MAX_ARCHS);
        archs[n++] = a;
    }
    if (!n) cli_usage_error("--archs: no architecture in '%s'", v);
    return n;
}

static void parse_shard(const char *v, int *i, int *n) {
    char *end;
    long a = strtol(v, &end, 10), b = 0;
    bool ok = end != v && *end == '/';
    if (ok) {
        const char *q = end + 1;
        b = strtol(q, &end, 10);
        ok = end != q && !*end && b >= 1 && b <= 100000 && a >= 1 && a <= b;
    }
    if (!ok) cli_usage_error("--shard: '%s' is not I/N with 1 <= I <= N (e.g. 1/4)", v);
    *i = (int)a - 1, *n = (int)b;
}

static int parse_devices(const char *v, int *dev) {
    int n = 0;
    for (const char *p = v; *p;) {
        char *end;
        long d = strtol(p, &end, 10);
        if (end == p || d < 0 || d > 1023 || (*end && *end != ',') || n == 64)
            cli_usage_error("--devices: '%s' is not a list of CUDA device numbers (e.g. 0,1,2,3)", v);
        for (int k = 0; k < n; k++)
            if (dev[k] == d) cli_usage_error("--devices: device %ld is given twice", d);
        dev[n++] = (int)d;
        p = *end ? end + 1 : end;
    }
    if (!n) cli_usage_error("--devices: no device in '%s'", v);
    return n;
}

/* A small file's text (malloc'd), or NULL. */
static char *read_small(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = cli_alloc(65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* --dashboards: a dashboard per data set whose rows are all current, under OUT/dashboards/NAME/,
 * remade only when its rows changed (OUT/dashboards/NAME/sweep.stamp holds their checksums). links[s]
 * gets its index.html relative to OUT. */
static void build_dashboards(const cli_args *a, dm_sweep *sw, char **links, bool quiet) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/dashboards", sw->out);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) cli_fail(dm_error(DM_STATUS_IO, "%s: cannot create: %s", dir, strerror(errno)));
    dm_backend *be = NULL;
    const char **built = cli_alloc(sizeof(char *) * (size_t)(sw->n_sets + 1));
    int n_built = 0;
    for (int s = 0; s < sw->n_sets; s++) {
        const char *models[DM_DASH_MAX_MODELS];
        char paths[DM_DASH_MAX_MODELS][4200], stamp[DM_DASH_MAX_MODELS * 66 + 1] = "";
        int nm = 0;
        bool all = true;
        for (int j = 0; j < sw->n_jobs; j++) {
            if (sw->jobs[j].set != s) continue;
            if (!dm_sweep_job_done(sw, j) || nm == DM_DASH_MAX_MODELS) {
                all = false;
                break;
            }
            models[nm] = dm_sweep_path(sw, j, "model", paths[nm]);
            strcat(stamp, sw->jobs[j].checksum), strcat(stamp, "\n");
            nm++;
        }
        if (!all || !nm) continue;
        char out[4500], stamp_path[4600];
        snprintf(out, sizeof out, "%s/%s", dir, sw->sets[s].name);
        snprintf(stamp_path, sizeof stamp_path, "%s/sweep.stamp", out);
        links[s] = cli_alloc(strlen(sw->sets[s].name) + 32);
        sprintf(links[s], "dashboards/%s/index.html", sw->sets[s].name);
        built[n_built++] = strdup(out);
        char *old = read_small(stamp_path);
        bool same = old && !strcmp(old, stamp);
        free(old);
        if (same) continue;
        if (!be) be = cli_backend(a);
        dm_dashboard_options o;
        dm_dashboard_options_default(&o);
        o.name = sw->sets[s].name;
        o.n_quarter = cli_n_quarter(a);
        o.cmdline = cli_cmdline(a);
        dm_dashboard_result res;
        if (!quiet) fprintf(stderr, "%s: dashboard of %s\n", cli_prog, sw->sets[s].name);
        CLI_CHECK(dm_dashboard_write(models, nm, sw->sets[s].test, out, be, &o, &res));
        dm_outfile f;
        CLI_CHECK(dm_outfile_open(&f, stamp_path));
        fputs(stamp, f.f);
        CLI_CHECK(dm_outfile_commit(&f));
    }
    if (n_built) {
        char index[4200];
        CLI_CHECK(dm_dashboard_index(built, n_built, dir, cli_cmdline(a), index));
    }
    for (int k = 0; k < n_built; k++) free((void *)built[k]);
    free(built);
    if (be) dm_backend_free(be);
}

static void print_tables(const char *out, const dm_sweep_tables_info *ti) {
    printf("results    %s/results.tsv (%d rows%s), %s/results.jsonl\n", out, ti->rows, ti->missing ? "; some not done" : "",
           out);
    if (ti->missing) printf("missing    %d rows of the plan (other shards, or failed)\n", ti->missing);
    printf("summary    %s/summary.tsv\nindex      %s/index.html\n", out, out);
}

static int run_merge(const cli_args *a, const char *out) {
    int n;
    const char **ins = cli_list(a, "--merge", &n);
    if (!n) cli_usage_error("--merge needs the output folders of the shards");
    static const char *const alone[] = {"--data", "--test-only-dir", "--archs", "--shard", "--jobs", "--devices", "--dashboards", NULL};
    for (int k = 0; alone[k]; k++)
        if (cli_flag(a, alone[k])) cli_usage_error("%s does not go with --merge (which reads the shards' outputs)", alone[k]);
    dm_sweep sw = {0};
    dm_sweep_tables_info ti;
    CLI_CHECK(dm_sweep_merge(&sw, ins, n, out, &ti));
    print_tables(out, &ti);
    dm_sweep_free(&sw);
    return 0;
}

int cli_sweep(cli_args *a) {
    const char *out = cli_required(a, "--out");
    if (cli_flag(a, "--merge")) return run_merge(a, out);
    const char *data = cli_required(a, "--data");
    dm_arch archs[DM_SWEEP_MAX_ARCHS];
    int n_archs = parse_archs(cli_opt_or(a, "--archs", "cnn,rnn,cnnrnn"), archs);
    for (int k = 0; k < n_archs; k++) {   /* train's size options, refused before any job where one has no use */
        dm_hparams hp;
        dm_hparams_default(&hp, archs[k]);
        cli_train_sizes(a, &hp);
    }
    int shard = -1, n_shards = 1;
    if (cli_flag(a, "--shard")) parse_shard(cli_opt_str(a, "--shard"), &shard, &n_shards);
    int rank = dm_dist_rank(), size = dm_dist_size();
    if (size > 1) {   /* under mpirun: rank r runs shard r of the group's size */
        if (shard >= 0) cli_usage_error("--shard does not go with mpirun (each rank takes the shard of its rank)");
        shard = rank, n_shards = size;
    }
    int devices[64], n_dev = 0;
    if (cli_flag(a, "--devices")) {
        n_dev = parse_devices(cli_opt_str(a, "--devices"), devices);
        if (cli_flag(a, "--jobs")) cli_usage_error("--jobs is for the CPU; --devices runs one training per device");
        if (!strcmp(cli_opt_or(a, "--device", "cuda"), "cpu")) cli_usage_error("--devices does not go with --device cpu");
    }
    int jobs = (int)cli_int(a, "--jobs", 1, 1, 64);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int total_threads = (int)cli_int(a, "--threads", cores > 0 ? cores : 1, 1, 4096);
    bool quiet = cli_flag(a, "--quiet");

    /* the options that change results, as words: part of every job's checksum */
    const char *w[128];
    int nw = passed_words(a, w, 128, true);
    char options[4096] = "";
    for (int k = 0; k < nw; k++) {
        size_t len = strlen(options);
        snprintf(options + len, sizeof options - len, "%s%s", k ? " " : "", w[k]);
    }

    dm_sweep sw = {0};
    CLI_CHECK(dm_sweep_discover(&sw, data, cli_opt_str(a, "--test-only-dir")));
    if (sw.n_skipped && !quiet && rank == 0)
        fprintf(stderr, "%s: %d test-only file(s) without a training half left out: %.600s\n", cli_prog, sw.n_skipped, sw.skipped);
    CLI_CHECK(dm_sweep_plan(&sw, archs, n_archs, options, n_shards));
    CLI_CHECK(dm_sweep_prepare(&sw, out));

    dm_sweep_slot slots[64];
    int n_slots = dm_sweep_slots(jobs, devices, n_dev, total_threads, slots);
    runner_ctx rc = {.a = a, .device = cli_opt_str(a, "--device")};
    ssize_t len = readlink("/proc/self/exe", rc.exe, sizeof rc.exe - 1);
    if (len <= 0) cli_fail(dm_error(DM_STATUS_IO, "cannot find this program (/proc/self/exe): %s", strerror(errno)));
    rc.exe[len] = 0;
    dm_sweep_runner runner = {start_job, wait_job, stopping, &rc};
    g_runner = &rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    progress_ctx pc = {quiet, rank, size, &sw};
    if (!quiet) {
        int mine = 0;
        for (int j = 0; j < sw.n_jobs; j++) mine += shard < 0 || sw.jobs[j].shard == shard;
        fprintf(stderr, "%s: %d data sets x %d architectures: %d jobs", cli_prog, sw.n_sets, n_archs,
                sw.n_jobs);
        if (shard >= 0) fprintf(stderr, ", %d in shard %d/%d", mine, shard + 1, n_shards);
        if (n_dev) fprintf(stderr, "; %d at a time, one per CUDA device\n", n_slots);
        else fprintf(stderr, "; %d at a time, %d thread%s each\n", n_slots, slots[0].threads, slots[0].threads > 1 ? "s" : "");
    }
    dm_sweep_result res;
    dm_status st = dm_sweep_run(&sw, shard, slots, n_slots, &runner, on_event, &pc, &res);
    if (st == DM_STATUS_CANCELLED && g_stop) {   /* a signal: the rows done are kept, the tables written */
        int sig = g_stop;
        dm_sweep_tables_info ti = {0};
        if (size == 1) CLI_CHECK(dm_sweep_write_tables(&sw, NULL, &ti));
        fprintf(stderr, "%s: interrupted by %s: %d of %d rows done (%d trainings stopped, kept in their MODEL.last); "
                "run the same command again to continue\n", cli_prog, sig == SIGINT ? "SIGINT" : "SIGTERM",
                res.kept + res.trained, res.total, res.interrupted);
        dm_sweep_free(&sw);
        return 128 + sig;
    }
    /* under mpirun: every rank ends with the first failing rank's error; the counts are summed over
     * the ranks (exact in floats: far below 2^24 jobs); rank 0 writes the tables once all are done */
    int failed_here = res.failed;
    if (size > 1) {
        st = dm_dist_agree(st);
        float n[4] = {(float)res.kept, (float)res.trained, (float)res.failed, (float)res.total};
        if (st == DM_STATUS_OK) st = dm_dist_allreduce_sum_f32(n, 4);
        if (st == DM_STATUS_OK) st = dm_dist_barrier();
        res.kept = (int)n[0], res.trained = (int)n[1], res.failed = (int)n[2], res.total = (int)n[3];
    }
    CLI_CHECK(st);
    if (rank == 0) {
        char **links = calloc((size_t)sw.n_sets + 1, sizeof(char *));
        if (cli_flag(a, "--dashboards")) build_dashboards(a, &sw, links, quiet);
        dm_sweep_tables_info ti;
        CLI_CHECK(dm_sweep_write_tables(&sw, (const char *const *)links, &ti));
        for (int s = 0; s < sw.n_sets; s++) free(links[s]);
        free(links);
        if (!quiet)
            fprintf(stderr, "%s: %d kept, %d trained, %d failed%s\n", cli_prog, res.kept, res.trained, res.failed,
                    size > 1 ? " (all ranks)" : "");
        print_tables(out, &ti);
        if (res.failed && !failed_here) {   /* the other ranks' lines are not shown: name a missing row */
            dm_sweep_row r;
            int j = 0;
            while (j < sw.n_jobs && dm_sweep_read_current_row(&sw, j, &r)) j++;
            if (j < sw.n_jobs) {
                char log[4200];
                snprintf(res.first_failure, sizeof res.first_failure, "%.200s (log: %.700s)", sw.jobs[j].key,
                         dm_sweep_path(&sw, j, "log", log));
            }
        }
    }
    if (res.failed) {
        fprintf(stderr, "%s: %d of %d trainings failed; the first: %s\n", cli_prog, res.failed, res.total, res.first_failure);
        dm_sweep_free(&sw);
        return 1;
    }
    dm_sweep_free(&sw);
    return 0;
}
