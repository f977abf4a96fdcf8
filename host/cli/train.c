/*
 * train.c: `deepmotif train`: reads and checks the data, trains, and writes MODEL and MODEL.last at
 * every epoch end (and at SIGINT/SIGTERM, for --resume).
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "cli.h"
#include "dist.h"
#include "train.h"

const cli_opt cli_train_opts[] = {
    {"--arch", dm_arch_choices_text, "architecture (required)", NULL, 0},
    {"--train", "FILE", "training data: DeepBind .seq.gz, labelled FASTA or TSV (required, or --bed)", NULL, 0},
    {"--test", "FILE", "test data, scored once with the selected weights", NULL, 0},
    {"--test-bed", "BED", "test regions of --genome instead of --test (labels: --label-col)", NULL, 0},
    {"--out", "MODEL", "checkpoint to write (required); MODEL.last gets every epoch end, for --resume", NULL, 0},
    {"--negatives", "KIND", "none (default); shuffle: one dinucleotide shuffle per positive (for _AC files); "
                            "--bed of peaks: flank:D (each peak's window D bp left and right) or gc-matched "
                            "(windows of --background in the peaks' GC bins)", NULL, 0},
    {"--background", "BED", "gc-matched: the regions the negatives are drawn from", NULL, 0},
    {"--fresh-negatives", NULL, "from the second epoch on, every training negative that is a dinucleotide shuffle "
                                "of its positive (--negatives shuffle, or a file pairing them) is a new shuffle of it "
                                "each epoch (seeded); the validation set keeps its own. The default where the training "
                                "set has such pairs; given, a set without them is an error", NULL, 0},
    {"--no-fresh-negatives", NULL, "train on the negatives as given every epoch", NULL, 0},
    {"--valid-frac", "F", "validation fraction of the training pairs (default 0.1)", NULL, 0},
    {"--epochs", "N", "maximum epochs (default 50; more below 30,720 training sequences: 6,000 steps; 36,000 "
                      "for the RNN below 8,192)", NULL, 0},
    {"--batch", "N", "batch size (default 256; below 8,192 training sequences n/32 rounded down to a power "
                     "of two, at least 32)", NULL, 0},
    {"--lr", "X", "initial learning rate, halved every 10 epochs (1,200 steps on smaller sets) (default 0.01 "
                  "at batch 256, 0.01 x batch / 256 for smaller batches; the RNN below 8,192 sequences: 4x that, "
                  "never halved; the CNN-RNN and DanQ below 2,048: 2x)", NULL, 0},
    {"--lr-halve-every", "N", "halve the learning rate after every N epochs; 0: never (default 10; 1,200 steps "
                              "on smaller sets; the RNN below 8,192 sequences: never)", NULL, 0},
    {"--patience", "N", "early stopping patience in epochs (default 5; 600 steps on smaller sets, 6,000 for the "
                        "RNN below 8,192 sequences)", NULL, 0},
    {"--select", "MODE", "the validation measure that selects the kept weights and counts the patience: auroc, "
                         "loss, auroc+loss (the best AUROC kept; patience runs out only when neither the AUROC nor "
                         "the loss improves), auto (default: auroc+loss where the validation set is too small for a "
                         "stable AUROC, below about 536 sequences; else auroc)",
     CLI_CHOICES("auto", "auroc", "loss", "auroc+loss"), 0},
    {"--ema", "D", "validate, select and keep an exponential moving average of the weights, decay D per step "
                   "(ramped up as min(D, (1 + t) / (10 + t)) at step t); 0: the weights themselves (default: 0.999 "
                   "from 4,096 to 8,191 training sequences, but not for the RNN; else 0)", NULL, 0},
    {"--restarts", "N", "train a dead start again from new weights, at most N times: a run of at least its patience "
                        "(>= 1) in epochs whose training loss never came 0.005 below a constant prediction's, i.e. it "
                        "learned nothing (default 2; 0 under --protocol original)", NULL, 0},
    {"--seed", "S", "64-bit seed for init, negatives, split, shuffle, dropout (default 1)", NULL, 0},
    {"--protocol", "default|original", "default: shuffled batches, validation early stopping; "
                                      "original: DeMo's file-order loop", CLI_CHOICES("default", "original"), 0},
    {"--len", "L", "sequence length (default 101)", NULL, 0},
    {"--channels", "N", "feature maps of each convolution (default 128; cnn, cnnrnn, danq)", NULL, 0},
    {"--widths", "W[,W...]", "convolution widths, one per convolution (default: cnn 9,5,3 (1 to 8 layers); "
                             "cnnrnn 9 (odd); danq 9)", NULL, 0},
    {"--pool", "P", "max-pool width = stride (default: cnn 2, danq 4)", NULL, 0},
    {"--hidden", "H", "LSTM hidden size per direction (default 32; rnn, cnnrnn, danq)", NULL, 0},
    {"--dropout", "P", "dropout probability (default: cnn, rnn, cnnrnn 0.5; danq 0.2)", NULL, 0},
    {"--resume", "MODEL.last", "continue a run from its last checkpoint", NULL, 0},
    {"--max-memory", "SIZE", "refuse data needing more host memory (K/M/G suffix; default half of RAM)", NULL, 0},
    {"--rc", "MODE", "reverse complements: both (default; none under --protocol original), augment (train "
                     "on both strands), average (score = mean P of both strands, stored in MODEL), none",
     CLI_CHOICES("none", "augment", "average", "both"), 0},
    {"--reproducible", NULL, "train on the engine's fixed-order kernels (no BLAS, no FMA, no libm in the "
                             "products): the same bits on any x86-64 CPU and --threads", NULL, 0},
    {"--seeds", "N", "train N seeds (--seed, +1, ...) into MODEL.seedS each; mean ± sd of every metric", NULL, 0},
    {"--ensemble", NULL, "with --seeds: MODEL = the N models as one ensemble (score = mean of members' P)", NULL, 0},
    {"--quiet", NULL, "no progress lines", NULL, 0},
    {0},
};

/* --channels, --widths, --pool, --hidden, --dropout (cli.h). */
void cli_train_sizes(const cli_args *a, dm_hparams *hp) {
    const dm_arch_def *d = dm_arch_get(hp);
    const char *arch = dm_arch_name(hp->arch);
    static const struct { const char *opt; unsigned use; } need[] = {
        {"--channels", DM_USES_CONV}, {"--widths", DM_USES_CONV}, {"--pool", DM_USES_POOL}, {"--hidden", DM_USES_LSTM}};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (cli_opt_str(a, need[i].opt) && !(d->uses & need[i].use))
            cli_usage_error("%s: the %s architecture has no %s", need[i].opt, arch,
                            need[i].use == DM_USES_LSTM ? "LSTM" : need[i].use == DM_USES_POOL ? "max-pool" : "convolution");
    hp->conv_channels = (int32_t)cli_int(a, "--channels", hp->conv_channels, 1, 4096);
    hp->pool = (int32_t)cli_int(a, "--pool", hp->pool, 1, 1000);
    hp->hidden = (int32_t)cli_int(a, "--hidden", hp->hidden, 1, 4096);
    hp->dropout = (float)cli_num(a, "--dropout", hp->dropout, 0, 0.95);
    const char *w = cli_opt_str(a, "--widths");
    if (!w) return;
    int max = d->defaults.n_conv > 1 ? DM_MAX_CONV : 1, n = 0;
    for (const char *p = w;; p++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1000 || (*end != ',' && *end != '\0'))
            cli_usage_error("--widths: '%s' is not a list of widths 1..1000 (e.g. 9,5,3)", w);
        if (n == max) {
            if (max == 1) cli_usage_error("--widths: the %s architecture has one convolution; got more widths in '%s'",
                                          arch, w);
            cli_usage_error("--widths: the %s architecture has at most %d convolutions; got more widths in '%s'", arch,
                            max, w);
        }
        hp->conv_width[n++] = (int32_t)v;
        if (*end == '\0') break;
        p = end;
    }
    hp->n_conv = n;
}

/* The training data must be labelled and hold both classes (positives only with --negatives
 * shuffle, which adds the negatives). */
static void check_training_labels(const dm_dataset *ds, const char *path, bool shuffle) {
    int64_t n_pos = 0, n_neg = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        if (ds->label[i] != 0 && ds->label[i] != 1)
            cli_fail(dm_error(DM_STATUS_FORMAT, "%s: sequence %lld ('%.60s') has no 0/1 label: training needs labelled "
                              "data (DeepBind, labelled FASTA or TSV)", path, (long long)i + 1, ds->id[i] ? ds->id[i] : ""));
        n_pos += ds->label[i] == 1;
        n_neg += ds->label[i] == 0;
    }
    if (n_pos == 0)
        cli_fail(dm_error(DM_STATUS_FORMAT, "%s: the data hold no bound sequences: training needs bound ones%s", path,
                          shuffle ? "" : " and unbound ones"));
    if (n_neg == 0 && !shuffle)
        cli_fail(dm_error(DM_STATUS_FORMAT, "%s: the data hold only bound sequences: training needs unbound ones too "
                          "(for positive-only files use --negatives shuffle)", path));
}

/* --negatives: none, shuffle, flank:D (D ≥ 1) or gc-matched; the last two for a --bed of peaks (no
 * --label-col), gc-matched with --background. Misuse is a usage error. */
static const char *negatives_opt(const cli_args *a, bool bed) {
    const char *neg = cli_opt_or(a, "--negatives", "none");
    bool flank = !strncmp(neg, "flank:", 6), gc = !strcmp(neg, "gc-matched");
    if (flank) {
        char *end;
        long long d = strtoll(neg + 6, &end, 10);
        if (end == neg + 6 || *end || d < 1 || d > 1000000000)
            cli_usage_error("--negatives flank:D: '%s' is not a distance D in 1..1000000000 bp", neg + 6);
    } else if (!gc && strcmp(neg, "none") && strcmp(neg, "shuffle")) {
        cli_usage_error("--negatives: unknown value '%s' (choices: none, shuffle, flank:D, gc-matched)", neg);
    }
    if ((flank || gc) && (!bed || cli_flag(a, "--label-col")))
        cli_usage_error("--negatives %s needs a BED of peaks: --bed without --label-col", neg);
    if (gc && !cli_flag(a, "--background")) cli_usage_error("--negatives gc-matched needs --background BED");
    if (!gc && cli_flag(a, "--background")) cli_usage_error("--background goes with --negatives gc-matched");
    return neg;
}

/* --rc: the DM_RC_* flags of a mode name, and back */
static uint32_t rc_opt(const char *v) {
    if (!strcmp(v, "none")) return 0;
    if (!strcmp(v, "augment")) return DM_RC_AUGMENT;
    if (!strcmp(v, "average")) return DM_RC_AVERAGE;
    if (!strcmp(v, "both")) return DM_RC_AUGMENT | DM_RC_AVERAGE;
    cli_usage_error("--rc: unknown value '%s' (choices: none, augment, average, both)", v);
}

static const char *rc_name(uint32_t rc) {
    static const char *const names[4] = {"none", "augment", "average", "both"};
    return names[rc & 3];
}

/* --arch: an architecture the library knows (dm_arch_parse, which also takes "cnn-rnn"). */
static dm_arch arch_opt(const char *v) {
    dm_arch arch;
    if (dm_arch_parse(v, &arch) == DM_STATUS_OK) return arch;
    cli_bad_choice("--arch", v, dm_arch_names);
}

/* SIGINT/SIGTERM during training: the first sets a flag that dm_train reads after every batch (it
 * finishes the batch, the checkpoint hook writes MODEL and MODEL.last, the CLI says what it kept and
 * exits 128 + the signal); a second one of either ends the process at once, as the default
 * disposition would. */
static volatile sig_atomic_t g_stop_signal;
static sig_atomic_t g_in_group;   /* under mpirun: a SIGTERM may come twice (from mpirun and from a
                                   * scheduler that signals every process); only SIGINT repeats count */

static void on_stop_signal(int sig) {
    if (g_stop_signal && g_in_group && sig == SIGTERM) return;
    if (g_stop_signal) {
        signal(sig, SIG_DFL);   /* async-signal-safe; `sig` is blocked here and fires on return */
        raise(sig);
        return;
    }
    g_stop_signal = sig;
}

static void catch_stop_signals(void) {
    g_in_group = dm_dist_size() > 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The checkpoint files of a training run, written by dm_train's hook.
 *
 * Commit order and invariant: at every epoch end MODEL is committed first (when the selected
 * weights changed, and always at the first checkpoint of a process), then MODEL.last; a failed
 * MODEL write stops before MODEL.last. So whatever a crash, kill or full disk interrupts, MODEL
 * holds the selected weights of the epochs ≤ the epoch recorded in MODEL.last, or of the next
 * epoch (killed between the two commits), which a resume from MODEL.last reproduces bit for bit.
 * An old MODEL is never paired with a newer MODEL.last (tests/test_resume.c checks it). */
typedef struct train_files {
    const char *out;
    char last[4200];
    const dm_hparams *hp;
    const dm_tensor_info *tensors;
    int32_t n_tensors;
    int64_t n_params;
    dm_provenance *prov;
    uint32_t rc;            /* --rc flags, stored in both files (PRED) */
    bool model_written;     /* MODEL committed by this process */
    int32_t kept_epoch;     /* the last commit of MODEL.last: epochs done (−1: none yet) */
    int64_t kept_batch;     /* and batches of the next epoch */
} train_files;

static dm_status save_model_pair(train_files *f, const float *best, const float *last, const dm_resume_state *st) {
    dm_utc_now(f->prov->created_utc);
    snprintf(f->prov->label, sizeof f->prov->label, "best");
    dm_ckpt_extra x = {.rc = f->rc, .n_members = 1};
    DM_TRY(dm_checkpoint_save_ex(f->out, f->hp, f->tensors, f->n_tensors, best, f->n_params, f->prov, NULL, &x));
    f->model_written = true;
    if (!last) return DM_STATUS_OK;
    snprintf(f->prov->label, sizeof f->prov->label, "last");
    DM_TRY(dm_checkpoint_save_ex(f->last, f->hp, f->tensors, f->n_tensors, last, f->n_params, f->prov, st, &x));
    f->kept_epoch = st->epoch_done;
    f->kept_batch = st->batch_done;
    return DM_STATUS_OK;
}

static dm_status train_checkpoint(void *ctx, const dm_train_checkpoint *c) {
    train_files *f = ctx;
    if (c->best_changed || !f->model_written)
        return save_model_pair(f, c->state->best_params, c->params, c->state);
    snprintf(f->prov->label, sizeof f->prov->label, "last");
    dm_utc_now(f->prov->created_utc);
    dm_ckpt_extra x = {.rc = f->rc, .n_members = 1};
    DM_TRY(dm_checkpoint_save_ex(f->last, f->hp, f->tensors, f->n_tensors, c->params, f->n_params, f->prov, c->state,
                                 &x));
    f->kept_epoch = c->state->epoch_done;
    f->kept_batch = c->state->batch_done;
    return DM_STATUS_OK;
}

/* Appends `a` to buf, in single quotes when the shell would otherwise split or expand it. */
static void shell_word(char *buf, size_t cap, const char *a) {
    size_t k = strlen(buf);
    bool plain = a[0] != 0;
    for (const char *p = a; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,+-@%", *p)) plain = false;
    if (plain) {
        snprintf(buf + k, cap - k, " %s", a);
        return;
    }
    k += (size_t)snprintf(buf + k, cap - k, " '");
    for (const char *p = a; *p && k + 5 < cap; p++) {
        if (*p == '\'') k += (size_t)snprintf(buf + k, cap - k, "'\\''");
        else buf[k++] = *p, buf[k] = 0;
    }
    if (k < cap) snprintf(buf + k, cap - k, "'");
}

/* The command that continues this run: its own arguments with --resume MODEL.last. One seed of
 * --seeds N continues alone: --seeds, --ensemble, --seed and --out give way to its own seed and files. */
static void resume_command(char *buf, size_t cap, int argc, char **argv, const char *last, bool one_of_seeds,
                           uint64_t seed, const char *out) {
    static const char *const valued[] = {"--resume", "--seeds", "--seed", "--out", NULL};
    if (dm_dist_size() > 1) snprintf(buf, cap, "mpirun -np %d deepmotif train", dm_dist_size());
    else snprintf(buf, cap, "deepmotif train");
    for (int i = 0; i < argc; i++) {
        bool skip = false;
        for (int k = 0; valued[k] && !skip; k++) {
            if (k > 0 && !one_of_seeds) break;
            size_t n = strlen(valued[k]);
            if (!strcmp(argv[i], valued[k])) skip = true, i++;
            else if (!strncmp(argv[i], valued[k], n) && argv[i][n] == '=') skip = true;
        }
        if (skip || (one_of_seeds && !strcmp(argv[i], "--ensemble"))) continue;
        shell_word(buf, cap, argv[i]);
    }
    size_t k = strlen(buf);
    if (one_of_seeds) {
        char s[32];
        snprintf(s, sizeof s, "%llu", (unsigned long long)seed);
        snprintf(buf + k, cap - k, " --seed %s --out", s);
        shell_word(buf, cap, out);
        k = strlen(buf);
    }
    snprintf(buf + k, cap - k, " --resume");
    shell_word(buf, cap, last);
}

/* One training run's inputs, shared by every seed of --seeds. */
typedef struct train_job {
    cli_args *a;
    dm_hparams hp;
    dm_train_options o;          /* o.seed is set per run */
    const dm_dataset *tr, *va, *te;
    const char *test_path, *resume;
    dm_protocol protocol;
    double valid_frac, row_bytes;
    uint64_t max_mem;
    dm_backend *be;
    float *params;               /* --resume: the weights to continue from */
    dm_resume_state *state;      /* --resume: the optimiser state; else empty */
    int n_seeds;
} train_job;

/* What one seed's run reports: AUROC, AUPRC, accuracy on validation and test (NaN when absent). */
typedef struct seed_result {
    uint64_t seed;
    double valid[3], test[3];
    int32_t best_epoch, epochs_run;
    double seconds;
} seed_result;

static void metrics3(double v[3], const float *score, const int8_t *label, int64_t n, const char *path) {
    v[0] = v[1] = v[2] = NAN;
    if (n < 1) return;
    v[0] = cli_metric(DM_METRIC_AUROC, score, label, n, path);
    v[1] = cli_metric(DM_METRIC_AUPRC, score, label, n, path);
    v[2] = cli_metric(DM_METRIC_ACCURACY, score, label, n, path);
}

/* The scores of a data set under `m` (its rc flags and members), into v[3]. */
static void score_set(double v[3], dm_net *m, const dm_dataset *ds, bool quarter, const char *path) {
    v[0] = v[1] = v[2] = NAN;
    if (ds->n < 1) return;
    float *scores = cli_alloc(sizeof(float) * (size_t)ds->n);
    CLI_CHECK(dm_net_predict(m, ds, quarter, scores));
    metrics3(v, scores, ds->label, ds->n, path);
    free(scores);
}

/* Trains one seed into `out` (and out.last). With res (--seeds) the result is recorded there and the
 * selected weights are returned (malloc'd, *np_out floats); alone it prints the run's summary. */
static float *train_seed(train_job *j, uint64_t seed, const char *out, dm_provenance *prov_in, seed_result *res,
                         int64_t *np_out) {
    cli_args *a = j->a;
    dm_train_options o = j->o;
    o.seed = seed;
    const dm_hparams hp = j->hp;
    const dm_dataset tr = *j->tr, va = *j->va, te = *j->te;
    const char *test_path = j->test_path, *resume = j->resume;
    dm_protocol protocol = j->protocol;
    dm_resume_state state = *j->state;
    memset(j->state, 0, sizeof *j->state);   /* a resume state is the first (only) run's */
    static dm_provenance prov;
    prov = *prov_in;
    dm_backend *be = j->be;
    double row_bytes = j->row_bytes, valid_frac = j->valid_frac;
    uint64_t max_mem = j->max_mem;
    dm_net *m;
    CLI_CHECK(dm_net_create(&m, &hp, be, o.batch));
    if (j->params) CLI_CHECK(dm_net_set_params(m, j->params));
    else CLI_CHECK(dm_net_init_params(m, o.seed));
    prov.threads = be->n_threads;
    prov.valid_frac = (float)valid_frac;
    snprintf(prov.version, sizeof prov.version, "%s", dm_version());
    cli_describe_backend(be, prov.device, sizeof prov.device);
    if (dm_dist_size() > 1) {
        size_t k = strlen(prov.device);
        snprintf(prov.device + k, sizeof prov.device - k, " x %d MPI ranks", dm_dist_size());
    }
    catch_stop_signals();   /* from here a signal is honoured after the next batch (before the header
                             * line, so a caller that waits for it knows) */
    if (!res || seed == j->o.seed) cli_dist_inputs_ok();   /* every rank has its data, model, backend, handlers */
    int64_t va_pos = 0;
    for (int64_t i = 0; i < va.n; i++) va_pos += va.label[i] == 1;
    dm_select measure = dm_train_select(&o, va_pos, va.n - va_pos);
    char avg_text[96] = "";
    if (o.ema > 0) snprintf(avg_text, sizeof avg_text, ", the weights' moving average (decay %g)", (double)o.ema);
    if (o.fresh_negatives) {
        size_t k = strlen(avg_text);
        snprintf(avg_text + k, sizeof avg_text - k, ", fresh negatives each epoch");
    }
    if (o.progress)
        fprintf(stderr, "deepmotif train: %s, %lld trained parameters; %lld training, %lld validation sequences; "
                "%s protocol, batch %d%s%s%s, %s\n", dm_arch_name(hp.arch), (long long)dm_net_n_trainable(m),
                (long long)tr.n, (long long)va.n, dm_protocol_name(protocol), o.batch,
                va.n && protocol == DM_PROTOCOL_DEFAULT ? ", selecting by the " : "",
                va.n && protocol == DM_PROTOCOL_DEFAULT ? dm_select_name(measure) : "",
                avg_text, prov.device);
    if (o.progress) {
        int packed = (hp.len + 3) / 4 + (hp.len + 7) / 8 + 17;   /* dm_pack row + label, order, log-probs, loss */
        fprintf(stderr, "deepmotif train: memory: %.0f bytes per sequence as read, held twice at the split (peak %.1f MiB, "
                "--max-memory %.0f MiB); while training %.0f bytes on the host + %d packed on the backend per sequence\n",
                row_bytes, row_bytes * (double)(tr.n + va.n) * 2 / 1048576.0,
                (double)max_mem / 1048576.0, row_bytes + 13 + (o.fresh_negatives ? hp.len : 0), packed);
    }

    int64_t np = dm_net_n_params(m);
    float *last = cli_alloc(sizeof(float) * (size_t)np);

    /* MODEL and MODEL.last at every epoch end (train_files: the commit order), and at a signal */
    int32_t nt;
    const dm_tensor_info *tensors = dm_net_tensors(m, &nt);
    train_files files = {.out = out, .hp = &hp, .rc = o.rc, .tensors = tensors, .n_tensors = nt, .n_params = np,
                         .prov = &prov, .kept_epoch = -1};
    snprintf(files.last, sizeof files.last, "%s.last", out);
    if (resume && !strcmp(resume, files.last)) {   /* resumed in place: the files on disk are this state */
        files.kept_epoch = state.epoch_done;
        files.kept_batch = state.batch_done;
    }
    prov.test_auroc = prov.test_auprc = prov.test_accuracy = NAN;   /* until the test set is scored */
    prov.n_test = 0;
    dm_train_stop stopped;
    o.checkpoint = train_checkpoint;
    o.checkpoint_ctx = &files;
    o.stop = &g_stop_signal;
    o.stopped = &stopped;
    const char *nan_at = getenv("DM_TEST_NAN");   /* tests only: "EPOCH:BATCH" poisons a weight there */
    if (nan_at && sscanf(nan_at, "%d:%d", &o.nan_epoch, &o.nan_batch) != 2) o.nan_epoch = o.nan_batch = 0;
    dm_status trained = dm_net_train(m, &tr, &va, &o, &prov, &state, last);
    if (trained != DM_STATUS_OK && stopped.diverged_epoch > 0) {
        /* one line: where it diverged and what is left on disk (never weights of a bad batch) */
        fprintf(stderr, "%s: %s; ", cli_prog, dm_last_error());
        if (files.kept_epoch < 0) fprintf(stderr, "no checkpoint was written by this run\n");
        else if (files.kept_batch > 0)
            fprintf(stderr, "%s and %s hold the run as of batch %lld of epoch %d\n", out, files.last,
                    (long long)files.kept_batch, files.kept_epoch + 1);
        else fprintf(stderr, "%s and %s hold the run as of epoch %d\n", out, files.last, files.kept_epoch);
        free(last);   /* the buffers of a run that ends here (LeakSanitizer checks the exit) */
        exit(1);
    }
    CLI_CHECK(trained);
    if (stopped.signal) {
        int sig = stopped.signal;
        char cmd[8192];
        resume_command(cmd, sizeof cmd, a->argc, a->argv, files.last, j->n_seeds > 1, seed, out);
        char where[96], sel[160];
        if (state.batch_done > 0)
            snprintf(where, sizeof where, "in epoch %d after batch %d of %lld", state.epoch_done + 1, state.batch_done,
                     (long long)((tr.n + prov.batch - 1) / prov.batch));
        else
            snprintf(where, sizeof where, "after epoch %d", state.epoch_done);
        if (state.best_epoch == 0) snprintf(sel, sizeof sel, "the initial weights");
        else if (va.n && protocol == DM_PROTOCOL_DEFAULT)
            snprintf(sel, sizeof sel, "epoch %d, %s %.4f", state.best_epoch, dm_select_name(measure),
                     measure == DM_SELECT_LOSS ? -state.best_valid : state.best_valid);
        else if (protocol == DM_PROTOCOL_ORIGINAL)
            snprintf(sel, sizeof sel, "epoch %d, training AUROC %.4f", state.best_epoch, state.best_valid);
        else snprintf(sel, sizeof sel, "epoch %d", state.best_epoch);
        fprintf(stderr, "%s: interrupted by %s %s: kept %s (%s) and %s; resume with: %s%s\n", cli_prog,
                sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal", where, out, sel, files.last, cmd,
                j->n_seeds > 1 ? " (the later seeds were not trained and no ensemble was written)" : "");
        free(last);
        exit(128 + sig);
    }

    if (dm_dist_rank() > 0) {   /* rank 0 scores the test set and writes the files */
        free(last);
        dm_resume_state_free(&state);
        if (res) {   /* the other seeds still need this rank; the weights are rank 0's to keep */
            *res = (seed_result){.seed = seed};
            *np_out = np;
            float *best = cli_alloc(sizeof(float) * (size_t)np);
            CLI_CHECK(dm_net_get_params(m, best));
            dm_net_free(m);
            return best;
        }
        dm_net_free(m);
        return NULL;
    }

    /* the test set is scored once, with the selected weights (and the model's rc averaging) */
    prov.n_test = te.n;
    double tv[3], vv[3];
    score_set(tv, m, &te, o.n_quarter, test_path ? test_path : "");
    prov.test_auroc = tv[0];
    prov.test_auprc = tv[1];
    prov.test_accuracy = tv[2];

    /* MODEL: the selected weights; MODEL.last: the final epoch and its optimiser state; both again
     * with the complete provenance (log, test metrics), in the same order */
    float *best = cli_alloc(sizeof(float) * (size_t)np);
    CLI_CHECK(dm_net_get_params(m, best));
    CLI_CHECK(save_model_pair(&files, best, last, &state));

    if (res) {
        score_set(vv, m, &va, o.n_quarter, "validation split");
        *res = (seed_result){.seed = seed, .best_epoch = prov.best_epoch, .epochs_run = prov.epochs_run,
                             .seconds = prov.train_seconds};
        memcpy(res->valid, vv, sizeof vv);
        memcpy(res->test, tv, sizeof tv);
        printf("seed %-6llu %s: epoch %d of %d, valid AUROC %.4f%s", (unsigned long long)seed, out, prov.best_epoch,
               prov.epochs_run, vv[0], test_path ? "" : "\n");
        if (test_path) printf(", test AUROC %.4f AUPRC %.4f accuracy %.4f\n", tv[0], tv[1], tv[2]);
        fflush(stdout);
        *np_out = np;
    } else {
        printf("model      %s (%s, epoch %d of %d run)", out, dm_arch_name(hp.arch), prov.best_epoch, prov.epochs_run);
        if (prov.restarts > 0) printf(", after %d dead start%s", prov.restarts, prov.restarts > 1 ? "s" : "");
        printf("\n");
        if (va.n) printf("valid      AUROC %.4f\n", state.best_valid);
        if (test_path) {
            char ta[32], tb[32], tc[32];
            printf("test       n %lld  AUROC %s  AUPRC %s  accuracy %s\n", (long long)te.n,
                   cli_metric_text(ta, prov.test_auroc, "%.4f", "NA"), cli_metric_text(tb, prov.test_auprc, "%.4f", "NA"),
                   cli_metric_text(tc, prov.test_accuracy, "%.4f", "NA"));
        }
        printf("time       %.1f s, %.0f sequences/s\n", prov.train_seconds,
               (double)tr.n * prov.epochs_run / (prov.train_seconds > 0 ? prov.train_seconds : 1));
        free(best);
        best = NULL;
    }
    (void)row_bytes, (void)valid_frac, (void)max_mem, (void)a;
    free(last);
    dm_resume_state_free(&state);
    dm_net_free(m);
    return best;
}

/* mean ± sd (sample, n − 1) of each metric over the seeds; NA where a seed has none */
static void print_seed_summary(const seed_result *r, int n, bool test) {
    static const char *const name[3] = {"AUROC", "AUPRC", "accuracy"};
    for (int part = 0; part < (test ? 2 : 1); part++) {
        printf("%-10s", part ? "test" : "valid");
        for (int k = 0; k < 3; k++) {
            double s = 0, s2 = 0;
            for (int i = 0; i < n; i++) s += part ? r[i].test[k] : r[i].valid[k];
            double mean = s / n;
            for (int i = 0; i < n; i++) {
                double d = (part ? r[i].test[k] : r[i].valid[k]) - mean;
                s2 += d * d;
            }
            printf(" %s %.4f ± %.4f", name[k], mean, sqrt(s2 / (n - 1)));
        }
        printf("   (mean ± sd over %d seeds)\n", n);
    }
    double t = 0;
    for (int i = 0; i < n; i++) t += r[i].seconds;
    printf("time       %.1f s for %d seeds\n", t, n);
}

/* --ensemble: the seeds' selected weights as one model file (ENSM, host/checkpoint.c), its own
 * validation and test metrics in its provenance. */
static void save_ensemble(train_job *j, const char *out, const float *members, int64_t np, dm_provenance *prov,
                          const seed_result *res) {
    dm_net *m;
    CLI_CHECK(dm_net_create(&m, &j->hp, j->be, 256));
    CLI_CHECK(dm_net_set_members(m, members, j->n_seeds));
    dm_net_pred_of(m)->rc = j->o.rc;
    double tv[3], vv[3];
    score_set(tv, m, j->te, j->o.n_quarter, j->test_path ? j->test_path : "");
    score_set(vv, m, j->va, j->o.n_quarter, "validation split");
    prov->seed = j->o.seed;
    prov->n_train = j->tr->n;
    prov->n_valid = j->va->n;
    prov->n_test = j->te->n;
    prov->epochs_run = res[0].epochs_run;
    prov->best_epoch = res[0].best_epoch;
    for (int k = 0; k < j->n_seeds; k++) prov->train_seconds += res[k].seconds;
    prov->test_auroc = tv[0];
    prov->test_auprc = tv[1];
    prov->test_accuracy = tv[2];
    snprintf(prov->protocol, sizeof prov->protocol, "%s", dm_protocol_name(j->protocol));
    snprintf(prov->label, sizeof prov->label, "ensemble");
    snprintf(prov->version, sizeof prov->version, "%s", dm_version());
    cli_describe_backend(j->be, prov->device, sizeof prov->device);
    prov->valid_frac = (float)j->valid_frac;
    dm_utc_now(prov->created_utc);
    int32_t nt;
    const dm_tensor_info *tensors = dm_net_tensors(m, &nt);
    dm_ckpt_extra x = {.rc = j->o.rc, .n_members = j->n_seeds, .members = (float *)members + np};
    CLI_CHECK(dm_checkpoint_save_ex(out, &j->hp, tensors, nt, members, np, prov, NULL, &x));
    printf("ensemble   %s (%d members, mean P): valid AUROC %.4f", out, j->n_seeds, vv[0]);
    if (j->test_path) printf(", test AUROC %.4f AUPRC %.4f accuracy %.4f", tv[0], tv[1], tv[2]);
    printf("\n");
    dm_net_free(m);
}


int cli_train(cli_args *a) {
    /* mpirun -np K: every rank reads and checks its inputs; a failure on any rank ends them all with
     * its line (cli_dist_inputs_ok below), before the first collective of training */
    cli_dist_expect_agree();
    const char *resume = cli_opt_str(a, "--resume");
    dm_arch arch = DM_ARCH_CNN;
    if (cli_opt_str(a, "--arch")) arch = arch_opt(cli_opt_str(a, "--arch"));
    bool bed = cli_bed_input(a, "--train", "--test-bed");   /* --train, or --bed with --genome */
    const char *train_path = cli_opt_str(a, bed ? "--bed" : "--train"), *out = cli_required(a, "--out");
    if (cli_flag(a, "--test") && cli_flag(a, "--test-bed")) cli_usage_error("--test-bed replaces --test: give one of them");
    if (!resume) cli_required(a, "--arch");
    const char *proto = cli_opt_or(a, "--protocol", "default");
    dm_protocol protocol = strcmp(proto, "original") ? DM_PROTOCOL_DEFAULT : DM_PROTOCOL_ORIGINAL;
    dm_train_options o;
    dm_train_options_default(&o, protocol);
    o.epochs = (int32_t)cli_int(a, "--epochs", o.epochs, 1, DM_MAX_EPOCHS);
    o.batch = (int32_t)cli_int(a, "--batch", o.batch, 1, 1 << 16);
    o.lr = (float)cli_num(a, "--lr", o.lr, 1e-8, 10);
    o.lr_halve_every = (int32_t)cli_int(a, "--lr-halve-every", o.lr_halve_every, 0, DM_MAX_EPOCHS);
    o.patience = (int32_t)cli_int(a, "--patience", o.patience, 0, 1000);
    const char *sel = cli_opt_or(a, "--select", "auto");
    o.select = !strcmp(sel, "auroc")        ? DM_SELECT_AUROC
               : !strcmp(sel, "loss")       ? DM_SELECT_LOSS
               : !strcmp(sel, "auroc+loss") ? DM_SELECT_AUROC_LOSS
                                            : DM_SELECT_AUTO;
    o.ema = (float)cli_num(a, "--ema", o.ema, 0, 0.999999);
    o.restarts = (int32_t)cli_int(a, "--restarts", o.restarts, 0, 1000);
    if (o.ema > 0 && protocol == DM_PROTOCOL_ORIGINAL)
        cli_usage_error("--ema: the original protocol keeps the weights of its best training pass, not an average");
    /* fresh negatives: by default where the training set pairs negatives with positives they shuffle */
    bool fresh_on = cli_flag(a, "--fresh-negatives"), fresh_off = cli_flag(a, "--no-fresh-negatives");
    if (fresh_on && fresh_off) cli_usage_error("--fresh-negatives and --no-fresh-negatives: give one of them");
    o.fresh_negatives = fresh_on ? 1 : fresh_off || protocol == DM_PROTOCOL_ORIGINAL ? 0 : DM_TRAIN_BY_DATA;
    if (fresh_on && protocol == DM_PROTOCOL_ORIGINAL)
        cli_usage_error("--fresh-negatives: the original protocol trains on the file as it is");
    o.seed = cli_seed(a);
    o.progress = !cli_opt_str(a, "--quiet") && dm_dist_rank() == 0;
    /* DM_TRAIN_SLICES=K: each batch in K slices in turn, bit for bit what mpirun -np K computes */
    const char *slices = getenv("DM_TRAIN_SLICES");
    if (slices) o.slices = (int32_t)strtol(slices, NULL, 10);
    o.n_quarter = cli_n_quarter(a);
    /* both strands by default (README "Reverse complements": measured); DeMo's original loop had none */
    o.rc = rc_opt(cli_opt_or(a, "--rc", protocol == DM_PROTOCOL_ORIGINAL ? "none" : "both"));
    int n_seeds = (int)cli_int(a, "--seeds", 1, 1, 1000);
    bool ensemble = cli_flag(a, "--ensemble");
    if (ensemble && n_seeds < 2) cli_usage_error("--ensemble needs --seeds N with N >= 2");
    if (resume && n_seeds > 1)
        cli_usage_error("--resume continues one run: resume each seed's MODEL.seedS.last with --out MODEL.seedS");
    double valid_frac = cli_num(a, "--valid-frac", protocol == DM_PROTOCOL_ORIGINAL ? 0.0 : 0.1, 0, 0.9);
    const char *neg = negatives_opt(a, bed);
    bool peaks = bed && !cli_flag(a, "--label-col");   /* a BED of peaks: every region bound */

    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = (int32_t)cli_int(a, "--len", hp.len, 1, 100000);
    if (!resume) cli_train_sizes(a, &hp);

    /* resume: hyper-parameters, weights and optimiser state come from MODEL.last */
    static dm_provenance prov;
    dm_resume_state state = {0};
    float *params = NULL;
    if (resume) {
        int64_t np;
        int32_t len_asked = hp.len;
        dm_ckpt_extra x;
        CLI_CHECK(dm_checkpoint_load_ex(resume, dm_net_table, &hp, &params, &np, &prov, &state, &x));
        if (x.n_members > 1) cli_fail(dm_error(DM_STATUS_FORMAT, "%s: an ensemble cannot be resumed (resume a "
                                               "member's MODEL.seedS.last)", resume));
        if (cli_opt_str(a, "--rc") && o.rc != x.rc)
            cli_fail(dm_error(DM_STATUS_FORMAT, "%s: the run was trained with --rc %s; it cannot resume with --rc %s",
                              resume, rc_name(x.rc), rc_name(o.rc)));
        o.rc = x.rc;
        if (!state.adam_m) cli_fail(dm_error(DM_STATUS_FORMAT, "%s: no resume state (use the MODEL.last file)", resume));
        if (cli_opt_str(a, "--arch") && hp.arch != arch)
            cli_fail(dm_error(DM_STATUS_FORMAT, "%s: the checkpoint's architecture is %s; it cannot resume as --arch %s",
                          resume, dm_arch_name(hp.arch), dm_arch_name(arch)));
        if (cli_opt_str(a, "--len") && hp.len != len_asked)
            cli_fail(dm_error(DM_STATUS_FORMAT, "%s: a model of sequence length %d cannot resume with --len %d", resume,
                          (int)hp.len, (int)len_asked));
        /* the sizes are the run's: any given again must be the same */
        dm_hparams asked = hp;
        cli_train_sizes(a, &asked);
        static const char *const size_names[] = {"--channels", "--widths", "--pool", "--hidden", "--dropout"};
        const bool same[] = {hp.conv_channels == asked.conv_channels,
                             hp.n_conv == asked.n_conv &&
                                 !memcmp(hp.conv_width, asked.conv_width, sizeof(int32_t) * (size_t)hp.n_conv),
                             hp.pool == asked.pool, hp.hidden == asked.hidden, hp.dropout == asked.dropout};
        for (size_t i = 0; i < sizeof size_names / sizeof size_names[0]; i++) {
            if (cli_opt_str(a, size_names[i]) && !same[i])
                cli_fail(dm_error(DM_STATUS_FORMAT, "%s: the run's model was not trained with %s %s; a run resumes "
                                  "with its own sizes", resume, size_names[i], cli_opt_str(a, size_names[i])));
        }
        if (o.seed != prov.seed && cli_opt_str(a, "--seed"))
            fprintf(stderr, "%s: warning: --seed %llu differs from the run's seed %llu; using the run's\n",
                    cli_prog, (unsigned long long)o.seed, (unsigned long long)prov.seed);
        o.seed = prov.seed;
        /* what was not given again is the run's own, so a bare resume continues it unchanged */
        if (!cli_opt_str(a, "--protocol") && !strcmp(prov.protocol, "original")) {
            protocol = o.protocol = DM_PROTOCOL_ORIGINAL;
            valid_frac = 0;
        }
        if (!cli_opt_str(a, "--batch") && prov.batch >= 1) o.batch = prov.batch;
        if (!cli_opt_str(a, "--lr") && prov.lr0 > 0) o.lr = prov.lr0;
        if (!cli_opt_str(a, "--ema")) o.ema = prov.ema;
        if (!fresh_on && !fresh_off) o.fresh_negatives = prov.fresh_negatives;   /* a file before NEGF: 0 */
        if (!cli_opt_str(a, "--epochs") && prov.epochs_max >= 1 && prov.epochs_max <= DM_MAX_EPOCHS) o.epochs = prov.epochs_max;
        if (!cli_opt_str(a, "--valid-frac") && protocol == DM_PROTOCOL_DEFAULT) valid_frac = prov.valid_frac;
    }

    /* fail now, not after hours of training, when the outputs cannot be written */
    if (dm_dist_rank() == 0) cli_check_outs(out, (const char *const[]){"", ".last", NULL});   /* the writer */

    /* data: training file (+ shuffled negatives), validation split, optional test file */
    /* Memory: the rows as read (R bytes each: codes, length, label, group, id) are held twice while
     * the validation split copies them, four times with --negatives shuffle (each positive gains a
     * negative); the reader stops at --max-memory / that factor, before the rest of a file is read. */
    uint64_t max_mem = cli_size(a, "--max-memory", dm_memory_total() / 2);
    int mem_factor = strcmp(neg, "shuffle") ? 2 : 4;
    dm_dataset raw = {0}, full = {0}, tr = {0}, va = {0}, te = {0};
    dm_status rs = DM_STATUS_OK;
    if (peaks) cli_load_peaks(&raw, a, train_path, hp.len, neg, o.seed, max_mem / (uint64_t)mem_factor);
    else if (bed) cli_load_bed(&raw, a, train_path, hp.len, max_mem / (uint64_t)mem_factor, NULL);
    else rs = dm_dataset_read_max(&raw, train_path, DM_FORMAT_AUTO, hp.len, max_mem / (uint64_t)mem_factor);
    if (rs == DM_STATUS_NOMEM) {
        char why[512];
        snprintf(why, sizeof why, "%s", dm_last_error());
        cli_fail(dm_error(rs, "%s; train holds about %dx that while splitting, over --max-memory %.0f MiB "
                      "(default: half of this machine's memory); raise --max-memory or use a smaller file",
                      why, mem_factor, (double)max_mem / 1048576.0));
    }
    CLI_CHECK(rs);
    cli_note_padding(&raw, train_path, hp.len);
    double row_bytes = (double)dm_dataset_bytes(&raw) / (double)raw.n;
    check_training_labels(&raw, train_path, !strcmp(neg, "shuffle"));
    const char *test_path = cli_opt_str(a, "--test");   /* read before anything is computed */
    const char *test_bed = cli_opt_str(a, "--test-bed");
    if (test_bed) test_path = test_bed;
    if (test_path) {
        /* the test rows and their packed copy sit beside the training data at its peak */
        uint64_t peak = (uint64_t)(row_bytes * (double)raw.n) * (uint64_t)mem_factor;
        uint64_t te_max = max_mem > peak ? (max_mem - peak) / 2 : 1;
        if (test_bed) cli_load_bed(&te, a, test_bed, hp.len, te_max, NULL);
        else cli_load_data_max(&te, test_path, hp.len, te_max);
        if (!cli_has_labels(&te)) cli_fail(dm_error(DM_STATUS_FORMAT, "%s: --test needs labelled data", test_path));
    }
    if (!strcmp(neg, "shuffle")) {
        CLI_CHECK(dm_dataset_with_shuffled_negatives(&full, &raw, o.seed));
        dm_dataset_free(&raw);
    } else {
        full = raw;
    }
    if (protocol == DM_PROTOCOL_ORIGINAL) valid_frac = 0;
    CLI_CHECK(dm_dataset_split(&full, valid_frac, o.seed, &tr, &va));
    if (tr.n == 0)
        cli_fail(dm_error(DM_STATUS_FORMAT, "%s: no training sequences are left after the validation split "
                      "(--valid-frac %g of %lld sequences)", train_path, valid_frac, (long long)full.n));
    for (int k = 0; k < 2; k++) {   /* both parts of the split need both classes */
        const dm_dataset *part = k ? &va : &tr;
        int64_t n_pos = 0;
        for (int64_t i = 0; i < part->n; i++) n_pos += part->label[i] == 1;
        if (part->n && (n_pos == 0 || n_pos == part->n))
            cli_fail(dm_error(DM_STATUS_FORMAT, "%s: the %s part of the split (--valid-frac %g: %lld sequences) holds "
                          "one class only: use %s --valid-frac or more data", train_path, k ? "validation" : "training",
                          valid_frac, (long long)part->n, k ? "a larger" : "a smaller"));
    }
    dm_dataset_free(&full);   /* tr and va hold copies */
    dm_train_options_for_size(&o, tr.n, &hp);   /* what was not given: by the training set's size (and model) */
    CLI_CHECK(dm_train_options_for_data(&o, &tr));   /* and by its rows (fresh negatives where it pairs them) */

    dm_backend *be = cli_flag(a, "--reproducible") ? cli_backend_reproducible(a) : cli_backend(a);
    cli_notice_flush();
    if (!resume) {
        cli_record_input(&prov, "train", train_path);
        if (test_path) cli_record_input(&prov, "test", test_path);
    }
    train_job j = {.a = a, .hp = hp, .o = o, .tr = &tr, .va = &va, .te = &te, .test_path = test_path,
                   .protocol = protocol, .valid_frac = valid_frac, .be = be, .params = params, .state = &state,
                   .max_mem = max_mem, .row_bytes = row_bytes, .n_seeds = n_seeds, .resume = resume};
    if (n_seeds == 1) {
        train_seed(&j, o.seed, out, &prov, NULL, NULL);
    } else {
        /* every seed from the same data, split and negatives (--seed's); each its own files */
        static dm_provenance base;
        base = prov;
        seed_result *res = cli_alloc(sizeof *res * (size_t)n_seeds);
        int64_t np = 0;
        float *members = NULL;
        for (int k = 0; k < n_seeds; k++) {
            char path[CLI_PATH_MAX];
            if (snprintf(path, sizeof path, "%s.seed%llu", out, (unsigned long long)(o.seed + (uint64_t)k)) >= (int)sizeof path)
                cli_fail(dm_error(DM_STATUS_ARG, "%s: path too long", out));
            prov = base;
            float *best = train_seed(&j, o.seed + (uint64_t)k, path, &prov, &res[k], &np);
            if (ensemble) {
                if (!members) members = cli_alloc(sizeof(float) * (size_t)n_seeds * (size_t)(np > 0 ? np : 1));
                memcpy(members + (size_t)k * (size_t)np, best, sizeof(float) * (size_t)np);
            }
            free(best);
        }
        if (dm_dist_rank() == 0) print_seed_summary(res, n_seeds, test_path != NULL);
        if (ensemble && dm_dist_rank() == 0) {
            prov = base;
            save_ensemble(&j, out, members, np, &prov, res);
        }
        free(members);
        free(res);
    }
    free(params);
    dm_resume_state_free(&state);
    dm_backend_free(be);
    dm_dataset_free(&full);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);
    dm_dataset_free(&te);
    return 0;
}
