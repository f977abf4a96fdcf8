/*
 * test_base.c: the base layer (base/): the log and progress callbacks (dm_set_log), silence without
 * them, DM_STATUS_ARG instead of a crash or an abort for bad arguments at the library's entry
 * points, and the allocation helpers.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deepmotif.h"
#include "dm_base.h"
#include "dm_internal.h"
#include "model.h"
#include "simulate.h"
#include "testutil.h"
#include "train.h"

/* ---- a tiny training run ---------------------------------------------------------------------- */

#define N_POS 48     /* 96 sequences: 3 batches of 32 per epoch */
#define EPOCHS 2

static dm_dataset sim_data(void) {
    dm_sim_options so;
    dm_sim_options_default(&so);
    so.n_pos = N_POS;
    so.seed = 11;
    dm_dataset ds = {0};
    cr_assert(dm_simulate(&ds, &so) == DM_STATUS_OK, "%s", dm_last_error());
    return ds;
}

/* Trains a small CNN for EPOCHS epochs without validation, asking for progress. */
static void train_tiny(void) {
    dm_dataset tr = sim_data();
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    hp.conv_channels = 8;
    dm_backend *be = dm_backend_cpu_create(1);
    cr_assert(be);
    dm_net *m;
    cr_assert(dm_net_create(&m, &hp, be, 32) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(dm_net_init_params(m, 3) == DM_STATUS_OK);
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    o.epochs = EPOCHS;
    o.batch = 32;
    o.progress = true;
    static dm_provenance prov;
    memset(&prov, 0, sizeof prov);
    dm_resume_state st = {0};
    cr_assert(dm_net_train(m, &tr, NULL, &o, &prov, &st, NULL) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(prov.n_epochs, EPOCHS);
    dm_resume_state_free(&st);
    dm_net_free(m);
    dm_backend_free(be);
    dm_dataset_free(&tr);
}

/* ---- what the callbacks receive --------------------------------------------------------------- */

typedef struct event {
    char kind;           /* 'L' log, 'P' progress, 'E' progress end */
    dm_log_level level;
    char what[16];
    int64_t done, total;
    char msg[256];
} event;

typedef struct recorder {
    event ev[256];
    int n;
    int magic;
} recorder;

static void rec_log(void *ctx, dm_log_level level, const char *msg) {
    recorder *r = ctx;
    cr_assert_eq(r->magic, 42, "the log callback got another ctx");
    if (r->n >= 256) return;
    event *e = &r->ev[r->n++];
    e->kind = 'L';
    e->level = level;
    snprintf(e->msg, sizeof e->msg, "%s", msg);
}

static void rec_progress(void *ctx, const char *what, int64_t done, int64_t total, const char *msg) {
    recorder *r = ctx;
    cr_assert_eq(r->magic, 42, "the progress callback got another ctx");
    if (r->n >= 256) return;
    event *e = &r->ev[r->n++];
    e->kind = msg ? 'P' : 'E';
    snprintf(e->what, sizeof e->what, "%s", what);
    e->done = done;
    e->total = total;
    snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "");
}

Test(base, log_callback_receives_training_progress) {
    static recorder r = {.magic = 42};
    dm_set_log(rec_log, rec_progress, &r);
    train_tiny();
    dm_set_log(NULL, NULL, NULL);

    const int64_t n = 2 * N_POS;
    int epoch_lines = 0, progress = 0;
    int64_t last_done = 0;
    for (int i = 0; i < r.n; i++) {
        const event *e = &r.ev[i];
        if (e->kind == 'L') {
            /* one INFO line per epoch, after that epoch's progress reached its last sequence */
            epoch_lines++;
            char want[32];
            snprintf(want, sizeof want, "epoch %d/%d  loss ", epoch_lines, EPOCHS);
            cr_expect_eq(e->level, DM_LOG_INFO);
            cr_expect(strncmp(e->msg, want, strlen(want)) == 0, "log line %d: '%s'", epoch_lines, e->msg);
            cr_expect(strchr(e->msg, '\n') == NULL && strchr(e->msg, '\r') == NULL, "'%s'", e->msg);
            cr_expect_eq(last_done, (int64_t)epoch_lines * n, "epoch %d ended its progress at %lld", epoch_lines,
                         (long long)last_done);
        } else if (e->kind == 'P') {
            progress++;
            cr_expect_str_eq(e->what, "train");
            cr_expect_eq(e->total, (int64_t)EPOCHS * n);
            cr_expect(e->done > last_done && e->done <= e->total, "done %lld after %lld", (long long)e->done,
                      (long long)last_done);
            last_done = e->done;
            cr_expect(strncmp(e->msg, "epoch ", 6) == 0 && strstr(e->msg, " batch ") && strstr(e->msg, "seq/s"),
                      "status '%s'", e->msg);
        } else {
            cr_expect(false, "an end of progress in a run that was not stopped");
        }
    }
    cr_expect_eq(epoch_lines, EPOCHS);
    /* the first and the last batch of every epoch report at least (the others at most twice a second) */
    cr_expect_geq(progress, 2 * EPOCHS);
}

Test(base, log_only_gets_the_epoch_lines) {
    static recorder r = {.magic = 42};
    dm_set_log(rec_log, NULL, &r);
    train_tiny();
    dm_set_log(NULL, NULL, NULL);
    cr_assert_eq(r.n, EPOCHS);
    for (int i = 0; i < r.n; i++) cr_expect_eq(r.ev[i].kind, 'L');
}

/* ---- silence without callbacks ---------------------------------------------------------------- */

/* Runs fn with file descriptors 1 and 2 redirected to temporary files; returns the bytes written. */
static long captured_bytes(void (*fn)(void)) {
    FILE *tmp[2] = {tmpfile(), tmpfile()};
    cr_assert(tmp[0] && tmp[1]);
    fflush(stdout);
    fflush(stderr);
    int saved[2] = {dup(1), dup(2)};
    cr_assert(saved[0] >= 0 && saved[1] >= 0);
    cr_assert(dup2(fileno(tmp[0]), 1) == 1 && dup2(fileno(tmp[1]), 2) == 2);
    fn();
    fflush(stdout);
    fflush(stderr);
    dup2(saved[0], 1);
    dup2(saved[1], 2);
    close(saved[0]);
    close(saved[1]);
    long bytes = 0;
    for (int k = 0; k < 2; k++) {
        struct stat st;
        cr_assert(fstat(fileno(tmp[k]), &st) == 0);
        bytes += (long)st.st_size;
        fclose(tmp[k]);
    }
    return bytes;
}

static void train_and_fail(void) {
    train_tiny();
    /* failures are returned, not printed */
    dm_dataset ds;
    cr_expect_neq(dm_dataset_read(&ds, "/nonexistent/deepmotif/data.fa", DM_FORMAT_AUTO, 101), DM_STATUS_OK);
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    static dm_provenance prov;
    cr_expect_eq(dm_checkpoint_save(NULL, &hp, NULL, 0, NULL, 0, &prov, NULL), DM_STATUS_ARG);
}

Test(base, silent_without_a_callback) {
    dm_set_log(NULL, NULL, NULL);
    long bytes = captured_bytes(train_and_fail);
    cr_expect_eq(bytes, 0, "the library wrote %ld bytes to stdout/stderr with no callback set", bytes);
}

/* ---- DM_STATUS_ARG, not a crash ---------------------------------------------------------------- */

static void expect_arg(dm_status st, const char *what) {
    cr_expect_eq(st, DM_STATUS_ARG, "%s: status %d (%s)", what, (int)st, dm_last_error());
    cr_expect(dm_last_error()[0] != '\0', "%s: no message", what);
}

Test(base, checkpoint_save_checks_its_arguments) {
    char *dir = dm_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/m.dm", dir);
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    dm_tensor_info t[DM_MAX_TENSORS];
    int64_t np = 0;
    int32_t nt = dm_net_table(&hp, t, &np);
    cr_assert(nt > 0 && np > 0);
    float *params = calloc((size_t)np, sizeof *params);
    static dm_provenance prov;
    memset(&prov, 0, sizeof prov);

    expect_arg(dm_checkpoint_save(NULL, &hp, t, nt, params, np, &prov, NULL), "NULL path");
    expect_arg(dm_checkpoint_save(path, NULL, t, nt, params, np, &prov, NULL), "NULL hparams");
    expect_arg(dm_checkpoint_save(path, &hp, t, nt, params, np, NULL, NULL), "NULL provenance");
    expect_arg(dm_checkpoint_save(path, &hp, t, nt, NULL, np, &prov, NULL), "NULL params");
    expect_arg(dm_checkpoint_save(path, &hp, t, nt, params, -1, &prov, NULL), "negative n_params");
    expect_arg(dm_checkpoint_save(path, &hp, t, DM_MAX_TENSORS + 1, params, np, &prov, NULL), "too many tensors");
    expect_arg(dm_checkpoint_save(path, &hp, NULL, nt, params, np, &prov, NULL), "NULL tensor table");
    t[0].ndim = 5;
    expect_arg(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, NULL), "5-dimensional tensor");
    t[0].ndim = -1;
    expect_arg(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, NULL), "negative ndim");
    nt = dm_net_table(&hp, t, &np);
    prov.n_inputs = DM_MAX_INPUTS + 1;
    expect_arg(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, NULL), "too many inputs");
    prov.n_inputs = -1;
    expect_arg(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, NULL), "negative inputs");
    prov.n_inputs = 0;
    prov.n_epochs = DM_MAX_EPOCHS + 1;
    expect_arg(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, NULL), "too many log rows");
    prov.n_epochs = 0;
    dm_resume_state r = {.epoch_done = 1};
    expect_arg(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, &r), "resume without Adam moments");
    r.adam_m = r.adam_v = r.best_params = params;
    r.batch_done = 2;
    expect_arg(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, &r), "mid-epoch resume without rows");
    struct stat st;
    cr_expect(stat(path, &st) != 0, "a rejected save left %s behind", path);

    /* and the same arguments, made right, save */
    r.batch_done = 0;
    cr_expect_eq(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, &r), DM_STATUS_OK, "%s", dm_last_error());

    dm_hparams hp2;
    float *p2 = NULL;
    int64_t np2 = 0;
    static dm_provenance prov2;
    expect_arg(dm_checkpoint_load(NULL, dm_net_table, &hp2, &p2, &np2, &prov2, NULL), "load: NULL path");
    expect_arg(dm_checkpoint_load(path, NULL, &hp2, &p2, &np2, &prov2, NULL), "load: NULL make_table");
    expect_arg(dm_checkpoint_load(path, dm_net_table, &hp2, NULL, &np2, &prov2, NULL), "load: NULL params");
    cr_expect_eq(dm_checkpoint_load(path, dm_net_table, &hp2, &p2, &np2, &prov2, NULL), DM_STATUS_OK, "%s",
                 dm_last_error());
    free(p2);
    free(params);
    dm_test_rmdir(dir);
    free(dir);
}

/* A make_table that returns an impossible table: the caller's fault, _ARG (not an abort). */
static int32_t bad_table(const dm_hparams *hp, dm_tensor_info *t, int64_t *n_params) {
    int32_t n = dm_net_table(hp, t, n_params);
    t[0].ndim = 7;
    return n;
}

Test(base, checkpoint_load_checks_the_callers_table) {
    char *dir = dm_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/m.dm", dir);
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_RNN);
    dm_tensor_info t[DM_MAX_TENSORS];
    int64_t np = 0;
    int32_t nt = dm_net_table(&hp, t, &np);
    float *params = calloc((size_t)np, sizeof *params);
    static dm_provenance prov, prov2;
    cr_assert_eq(dm_checkpoint_save(path, &hp, t, nt, params, np, &prov, NULL), DM_STATUS_OK, "%s", dm_last_error());
    float *p2 = NULL;
    int64_t np2 = 0;
    dm_hparams hp2;
    expect_arg(dm_checkpoint_load(path, bad_table, &hp2, &p2, &np2, &prov2, NULL), "a 7-dimensional expected tensor");
    cr_expect_null(p2);
    free(params);
    dm_test_rmdir(dir);
    free(dir);
}

Test(base, metrics_take_null_arrays) {
    const float s[2] = {0.2f, 0.8f};
    const int8_t l[2] = {0, 1};
    cr_expect(isnan(dm_auroc(NULL, l, 2)));
    cr_expect(strstr(dm_last_error(), "score") != NULL, "'%s'", dm_last_error());
    cr_expect(isnan(dm_auprc(s, NULL, 2)));
    cr_expect(strstr(dm_last_error(), "label") != NULL, "'%s'", dm_last_error());
    cr_expect(isnan(dm_accuracy(NULL, NULL, 2)));
    cr_expect_not_null(dm_metric_undefined(NULL, l, 2, DM_METRIC_AUROC));
    cr_expect_null(dm_metric_undefined(s, l, 2, DM_METRIC_AUROC));
    cr_expect_eq(dm_auroc(s, l, 2), 1.0);   /* exact: one pair, ranked right */
    cr_expect(isnan(dm_auroc(NULL, NULL, 0)));   /* no rows: undefined, as before */
}

Test(base, data_set_functions_check_their_arguments) {
    dm_dataset good = sim_data(), out = {0}, tr = {0}, va = {0};
    expect_arg(dm_dataset_read(NULL, "x.fa", DM_FORMAT_AUTO, 101), "read: NULL data set");
    expect_arg(dm_dataset_read(&out, NULL, DM_FORMAT_AUTO, 101), "read: NULL path");
    expect_arg(dm_dataset_read(&out, "x.fa", DM_FORMAT_AUTO, 0), "read: length 0");
    expect_arg(dm_dataset_read(&out, "x.fa", (dm_format)99, 101), "read: unknown format");
    expect_arg(dm_dataset_with_shuffled_negatives(&out, NULL, 1), "negatives: NULL input");
    expect_arg(dm_dataset_with_shuffled_negatives(NULL, &good, 1), "negatives: NULL output");
    expect_arg(dm_dataset_with_shuffled_negatives(&good, &good, 1), "negatives: in place");
    cr_assert_eq(good.n, 2 * N_POS, "the rejected in-place call changed its input");
    expect_arg(dm_dataset_split(NULL, 0.1, 1, &tr, &va), "split: NULL input");
    expect_arg(dm_dataset_split(&good, 0.1, 1, &tr, &tr), "split: the same output twice");
    expect_arg(dm_dataset_split(&good, 0.1, 1, &good, &va), "split: the input as an output");
    expect_arg(dm_dataset_split(&good, 1.5, 1, &tr, &va), "split: fraction 1.5");
    expect_arg(dm_dataset_split(&good, NAN, 1, &tr, &va), "split: fraction NaN");
    /* a data set whose counts and arrays disagree */
    dm_dataset broken = {.n = 5, .len = 101};
    expect_arg(dm_dataset_split(&broken, 0.1, 1, &tr, &va), "split: rows without arrays");
    expect_arg(dm_dataset_with_shuffled_negatives(&out, &broken, 1), "negatives: rows without arrays");
    expect_arg(dm_dataset_write_fasta(&broken, "/dev/null"), "fasta: rows without arrays");
    broken.n = -3;
    expect_arg(dm_dataset_split(&broken, 0.1, 1, &tr, &va), "split: negative n");
    broken = good;
    broken.len = 0;
    expect_arg(dm_dataset_split(&broken, 0.1, 1, &tr, &va), "split: length 0");
    expect_arg(dm_dataset_write_fasta(NULL, "/dev/null"), "fasta: NULL data set");
    expect_arg(dm_dataset_write_fasta(&good, NULL), "fasta: NULL path");
    /* and with good arguments they work */
    cr_expect_eq(dm_dataset_split(&good, 0.25, 1, &tr, &va), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect_eq(tr.n + va.n, good.n);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);
    dm_dataset_free(&good);
    dm_dataset_free(NULL);
}

Test(base, small_functions_take_null) {
    dm_arch a = DM_ARCH_RNN;
    expect_arg(dm_arch_parse(NULL, &a), "arch_parse: NULL name");
    expect_arg(dm_arch_parse("cnn", NULL), "arch_parse: NULL output");
    expect_arg(dm_arch_parse("transformer", &a), "arch_parse: unknown name");
    cr_expect_eq(a, DM_ARCH_RNN, "a failed parse changed its output");
    dm_hparams_default(NULL, DM_ARCH_CNN);
    dm_dinuc_shuffle(NULL, NULL, 10, 1, 0);
    uint8_t in[4] = {0, 1, 2, 3}, out[4] = {9, 9, 9, 9};
    dm_dinuc_shuffle(out, NULL, 4, 1, 0);
    cr_expect_eq(out[0], 9, "written from a NULL input");
    dm_dinuc_shuffle(NULL, in, 4, 1, 0);
    cr_expect_str_eq(dm_status_str((dm_status)123), "unknown status");
}

Test(base, training_checks_its_arguments) {
    dm_dataset tr = sim_data(), broken = {.n = 10, .len = 101};
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    hp.conv_channels = 8;
    dm_backend *be = dm_backend_cpu_create(1);
    dm_net *m;
    cr_assert(dm_net_create(&m, &hp, be, 32) == DM_STATUS_OK, "%s", dm_last_error());
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    o.epochs = 1;
    static dm_provenance prov;
    dm_resume_state st = {0};
    expect_arg(dm_net_train(m, NULL, NULL, &o, &prov, &st, NULL), "NULL training data");
    expect_arg(dm_net_train(m, &broken, NULL, &o, &prov, &st, NULL), "training rows without arrays");
    expect_arg(dm_net_train(m, &tr, &broken, &o, &prov, &st, NULL), "validation rows without arrays");
    dm_dataset unlabelled = tr;
    unlabelled.label = NULL;
    expect_arg(dm_net_train(m, &unlabelled, NULL, &o, &prov, &st, NULL), "training data without labels");
    expect_arg(dm_net_train(m, &tr, NULL, NULL, &prov, &st, NULL), "NULL options");
    expect_arg(dm_net_train(NULL, &tr, NULL, &o, &prov, &st, NULL), "NULL model");
    o.batch = 0;
    expect_arg(dm_net_train(m, &tr, NULL, &o, &prov, &st, NULL), "batch 0");
    o.batch = 32;
    o.lr = NAN;
    expect_arg(dm_net_train(m, &tr, NULL, &o, &prov, &st, NULL), "learning rate NaN");
    o.lr = 0.01f;
    float *scores = malloc(sizeof(float) * (size_t)tr.n);
    expect_arg(dm_net_predict(m, &broken, false, scores), "predict: rows without arrays");
    expect_arg(dm_net_predict(m, &tr, false, NULL), "predict: NULL scores");
    cr_expect_eq(dm_net_predict(m, &tr, false, scores), DM_STATUS_OK, "%s", dm_last_error());
    free(scores);
    dm_resume_state_free(&st);
    dm_net_free(m);
    dm_backend_free(be);
    dm_dataset_free(&tr);
}

/* ---- allocation helpers ----------------------------------------------------------------------- */

Test(base, allocation_helpers) {
    cr_expect_null(dm_malloc_n(SIZE_MAX / 2 + 1, 2), "n·size overflowed and allocated");
    void *p = dm_malloc_n(1000, 8);
    cr_expect_not_null(p);
    free(p);
    cr_expect_null(dm_aligned_alloc(48, 100), "alignment 48 is not a power of two");
    cr_expect_null(dm_aligned_alloc(64, SIZE_MAX - 10), "the rounding overflowed");
    for (size_t bytes = 1; bytes < 300; bytes += 37) {
        void *q = dm_aligned_alloc(64, bytes);   /* aligned_alloc wants a multiple of 64: rounded up */
        cr_expect(q != NULL && ((uintptr_t)q & 63) == 0, "%zu bytes: %p", bytes, q);
        free(q);
    }
}
