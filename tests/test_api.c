/*
 * test_api.c: the public C API (include/deepmotif.h, host/api*.c) on small data: every function,
 * errors as statuses with messages, and the numbers against the command line and the engine on the
 * same data (arrays in one-hot and in base codes alike).
 *
 * Tolerances. The API runs the engine's own loops on the same backend with the same batches, so
 * most comparisons are exact (0): a difference would be a different computation, not rounding. The
 * comparisons with the CLI go through its text output, printed with %.6g: 1e-5 relative covers that
 * rounding (half a unit in the 6th significant digit is 5e-6 relative).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepmotif.h"
#include "motifs.h"
#include "optimize.h"
#include "saliency.h"
#include "simulate.h"
#include "testutil.h"
#include "train.h"

#define L_TEST 60

/* Simulated CTCF pairs, length L_TEST. */
static void sim(dm_dataset *ds, int64_t n_pos, uint64_t seed) {
    dm_sim_options so;
    dm_sim_options_default(&so);
    so.n_pos = n_pos;
    so.len = L_TEST;
    so.seed = seed;
    cr_assert_eq(dm_simulate(ds, &so), DM_STATUS_OK, "%s", dm_last_error());
}

/* A small model of `arch` (16 filters, hidden 8) at length L_TEST. */
static dm_model *small_model(dm_arch arch, uint64_t seed) {
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = L_TEST;
    hp.conv_channels = 16;   /* unused by the RNN */
    hp.hidden = 8;           /* unused by the CNN */
    dm_model *m = NULL;
    cr_assert_eq(dm_model_create(&m, &hp, seed), DM_STATUS_OK, "%s", dm_last_error());
    return m;
}

static dm_backend *cpu(void) {
    dm_backend *be = NULL;
    cr_assert_eq(dm_backend_open("cpu", 2, &be), DM_STATUS_OK, "%s", dm_last_error());
    return be;
}

static float *onehot_of(const dm_dataset *ds, bool quarter) {
    size_t n = (size_t)ds->n * ds->len;
    float *x = malloc(sizeof(float) * 4 * n);
    cr_assert(x);
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 4; c++)
            x[4 * i + c] = ds->seq[i] < 4 ? (float)(ds->seq[i] == c) : (ds->seq[i] == DM_BASE_N && quarter ? 0.25f : 0.0f);
    return x;
}

static void expect_error(dm_status got, dm_status want, const char *needle) {
    cr_expect_eq(got, want, "status %d (%s), expected %d; message: %s", got, dm_status_str(got), want, dm_last_error());
    cr_expect(strstr(dm_last_error(), needle) != NULL, "message '%s' lacks '%s'", dm_last_error(), needle);
}

/* ---- backends ------------------------------------------------------------------------------ */

Test(api, backend_open) {
    dm_backend *be = cpu();
    cr_expect(!strncmp(dm_backend_name(be), "cpu: ", 5), "name '%s'", dm_backend_name(be));
    cr_expect(strstr(dm_backend_name(be), "2 threads") != NULL, "name '%s'", dm_backend_name(be));
    dm_backend_free(be);
    dm_backend_free(NULL);
    dm_backend *x = (dm_backend *)0x1;
    expect_error(dm_backend_open("gpu", 1, &x), DM_STATUS_ARG, "expected auto, cpu, cpu-reproducible, cuda or cuda:N");
    cr_expect_null(x);
    expect_error(dm_backend_open("cuda:x", 1, &x), DM_STATUS_ARG, "cuda:N");
    /* the fixed-order backend of train --reproducible (its threads do not change its results) */
    cr_assert_eq(dm_backend_open("cpu-reproducible", 4, &x), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect(!strncmp(dm_backend_name(x), "cpu-reproducible", 16), "name '%s'", dm_backend_name(x));
    dm_backend_free(x);
    /* auto always gives a backend (the CPU when no CUDA device can be used) */
    cr_assert_eq(dm_backend_open("auto", 1, &x), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect(!strncmp(dm_backend_name(x), "cpu: ", 5) || !strncmp(dm_backend_name(x), "cuda", 4));
    dm_backend_free(x);
    /* a CUDA device that cannot be had is an error naming it */
    dm_status s = dm_backend_open("cuda:7", 1, &x);
    if (s == DM_STATUS_OK) dm_backend_free(x);   /* a machine with eight GPUs */
    else expect_error(s, DM_STATUS_BACKEND, "cuda:7: ");
}

/* ---- models -------------------------------------------------------------------------------- */

Test(api, model_tensors_and_roundtrip) {
    dm_model *m = small_model(DM_ARCH_CNN, 5);
    dm_hparams hp;
    cr_assert_eq(dm_model_hparams(m, &hp), DM_STATUS_OK);
    cr_expect_eq(hp.arch, DM_ARCH_CNN);
    cr_expect_eq(hp.len, L_TEST);
    int32_t nt;
    int64_t np;
    cr_assert_eq(dm_model_n_tensors(m, &nt, &np), DM_STATUS_OK);
    cr_expect_eq(nt, 2 * hp.n_conv + 2, "conv weight and bias per layer, then fc");
    int64_t sum = 0;
    for (int32_t i = 0; i < nt; i++) {
        dm_tensor_desc d;
        cr_assert_eq(dm_model_tensor_at(m, i, &d), DM_STATUS_OK);
        int64_t numel = 1;
        for (int k = 0; k < d.ndim; k++) numel *= d.shape[k];
        cr_expect_eq(numel, d.numel, "%s", d.name);
        sum += d.numel;
        dm_tensor_desc e;
        cr_assert_eq(dm_model_tensor_find(m, d.name, &e), DM_STATUS_OK);
        cr_expect_eq(e.offset, d.offset);
    }
    cr_expect_eq(sum, np);
    dm_tensor_desc w;
    cr_assert_eq(dm_model_tensor_find(m, "conv1.weight", &w), DM_STATUS_OK);
    cr_expect_eq(w.ndim, 3);
    cr_expect(w.shape[0] == 16 && w.shape[1] == hp.conv_width[0] && w.shape[2] == 4);
    expect_error(dm_model_tensor_at(m, nt, &w), DM_STATUS_ARG, "tensor index");
    expect_error(dm_model_tensor_find(m, "conv9.weight", &w), DM_STATUS_ARG, "conv1.weight");

    /* copy out, change, copy in, read back; the flat view agrees */
    cr_assert_eq(dm_model_tensor_find(m, "fc.bias", &w), DM_STATUS_OK);
    float b[2];
    cr_assert_eq(dm_model_tensor(m, "fc.bias", b, 2), DM_STATUS_OK);
    expect_error(dm_model_tensor(m, "fc.bias", b, 3), DM_STATUS_ARG, "holds 2 floats");
    float nb[2] = {b[0] + 1.0f, -3.5f};
    cr_assert_eq(dm_model_set_tensor(m, "fc.bias", nb, 2), DM_STATUS_OK);
    const float *flat;
    cr_assert_eq(dm_model_params(m, &flat, &np), DM_STATUS_OK);
    cr_expect(flat[w.offset] == nb[0] && flat[w.offset + 1] == nb[1]);
    expect_error(dm_model_set_params(m, flat, np - 1), DM_STATUS_ARG, "parameters");

    /* save and load: same hyper-parameters and parameters, bit for bit */
    char *dir = dm_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/m.dm", dir);
    cr_assert_eq(dm_model_save(m, path), DM_STATUS_OK, "%s", dm_last_error());
    dm_model *l = NULL;
    cr_assert_eq(dm_model_load(path, &l), DM_STATUS_OK, "%s", dm_last_error());
    dm_hparams hl;
    dm_model_hparams(l, &hl);
    cr_expect(!memcmp(&hl, &hp, sizeof hp));
    const float *lf;
    int64_t ln;
    dm_model_params(l, &lf, &ln);
    cr_assert_eq(ln, np);
    cr_expect(!memcmp(lf, flat, sizeof(float) * (size_t)np));
    const char *json;
    cr_assert_eq(dm_model_provenance(l, &json), DM_STATUS_OK);
    cr_expect(strstr(json, "\"label\": \"init\"") && strstr(json, "\"seed\": 5,") && json[strlen(json) - 1] == '}',
              "%s", json);

    /* errors: a missing file, a foreign file, bad hyper-parameters */
    dm_model *bad = (dm_model *)0x1;
    snprintf(path, sizeof path, "%s/missing.dm", dir);
    expect_error(dm_model_load(path, &bad), DM_STATUS_IO, "missing.dm");
    cr_expect_null(bad);
    snprintf(path, sizeof path, "%s/foreign.dm", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not a model, but it is long enough to be read as one\n", f);
    fclose(f);
    expect_error(dm_model_load(path, &bad), DM_STATUS_CORRUPT, "foreign.dm");
    dm_hparams tiny = hp;
    tiny.len = 2;   /* shorter than the convolutions and pools */
    expect_error(dm_model_create(&bad, &tiny, 1), DM_STATUS_ARG, "");
    dm_model_free(l);
    dm_model_free(m);
    dm_model_free(NULL);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- inputs -------------------------------------------------------------------------------- */

Test(api, input_errors) {
    dm_model *m = small_model(DM_ARCH_CNN, 1);
    dm_backend *be = cpu();
    dm_dataset ds = {0};
    sim(&ds, 4, 3);
    dm_input in;
    cr_assert_eq(dm_input_from_dataset(&ds, &in), DM_STATUS_OK);
    cr_expect(in.n == ds.n && in.len == ds.len && in.codes == ds.seq && in.labels == ds.label && !in.onehot);
    float s[8];
    dm_input wrong = in;
    wrong.len = L_TEST + 1;
    expect_error(dm_predict(m, be, &wrong, s, NULL, NULL), DM_STATUS_ARG, "the model's length is 60");
    float *x = onehot_of(&ds, false);
    dm_input both = in;
    both.onehot = x;
    expect_error(dm_predict(m, be, &both, s, NULL, NULL), DM_STATUS_ARG, "exactly one of onehot");
    uint8_t *codes = malloc((size_t)ds.n * L_TEST);
    memcpy(codes, ds.seq, (size_t)ds.n * L_TEST);
    codes[L_TEST + 7] = 9;
    dm_input badcode = in;
    badcode.codes = codes;
    expect_error(dm_predict(m, be, &badcode, s, NULL, NULL), DM_STATUS_ARG, "sequence 1, position 7: base code 9");
    dm_input unlabelled = in;
    unlabelled.labels = NULL;
    dm_train_opts to;
    dm_train_opts_default(&to);
    expect_error(dm_train(m, be, &unlabelled, NULL, &to, NULL, NULL), DM_STATUS_ARG, "labels are needed");
    dm_saliency_opts so;
    dm_saliency_opts_default(&so);
    so.target = DM_TARGET_TRUE_LABEL;
    float *attr = malloc(sizeof(float) * 4 * (size_t)ds.n * L_TEST);
    expect_error(dm_saliency(m, be, &unlabelled, &so, attr, NULL, NULL, NULL), DM_STATUS_ARG, "labels are needed");
    so.target = 0;
    so.method = 7;
    expect_error(dm_saliency(m, be, &in, &so, attr, NULL, NULL, NULL), DM_STATUS_ARG, "method 7");
    /* motifs need sequences: a dense row is refused */
    x[4 * 3] = 0.3f;
    dm_input dense = {.n = ds.n, .len = L_TEST, .onehot = x};
    dm_motifs_opts mo;
    dm_motifs_opts_default(&mo);
    dm_motif_set ms;
    expect_error(dm_motifs(m, be, &dense, &mo, &ms, NULL, NULL), DM_STATUS_ARG, "sequence 0, position 3 is not one-hot");
    dm_model *rnn = small_model(DM_ARCH_RNN, 1);
    expect_error(dm_motifs(rnn, be, &in, &mo, &ms, NULL, NULL), DM_STATUS_ARG, "rnn");
    float *fw = malloc(sizeof(float) * (size_t)ds.n * L_TEST), *bw = malloc(sizeof(float) * (size_t)ds.n * L_TEST);
    expect_error(dm_temporal(m, be, &in, fw, bw, NULL, NULL), DM_STATUS_ARG, "cnn");
    expect_error(dm_predict(m, NULL, &in, s, NULL, NULL), DM_STATUS_ARG, "no backend");
    free(fw);
    free(bw);
    free(attr);
    free(codes);
    free(x);
    dm_model_free(rnn);
    dm_dataset_free(&ds);
    dm_backend_free(be);
    dm_model_free(m);
}

/* ---- predictions and attributions against the engine and the CLI ------------------------------ */

static int count_calls(void *ctx, const dm_progress *p) {
    int *n = ctx;
    (*n)++;
    cr_expect(p->done > 0 && p->done <= p->total);
    return 0;
}

static int cancel_at_once(void *ctx, const dm_progress *p) {
    (void)ctx;
    (void)p;
    return 1;
}

/* Reads a float32 .npy (version 1) of n values. */
static void read_npy(const char *path, float *v, size_t n) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s", path);
    unsigned char h[10];
    cr_assert_eq(fread(h, 1, 10, f), 10);
    cr_assert(!memcmp(h, "\x93NUMPY", 6) && h[6] == 1);
    fseek(f, 10 + h[8] + 256 * h[9], SEEK_SET);
    cr_assert_eq(fread(v, sizeof(float), n, f), n, "%s: short", path);
    fclose(f);
}

Test(api, predict_and_saliency_match_cli) {
    dm_model *m = small_model(DM_ARCH_CNN, 11);
    dm_backend *be = cpu();
    dm_dataset ds = {0};
    sim(&ds, 150, 4);   /* 300 rows: two batches of 256 */
    ds.seq[5] = DM_BASE_N;   /* an N: the N policy is exercised */
    char *dir = dm_test_tmpdir(), model[512], data[512], out[512];
    snprintf(model, sizeof model, "%s/m.dm", dir);
    snprintf(data, sizeof data, "%s/d.fa", dir);
    cr_assert_eq(dm_model_save(m, model), DM_STATUS_OK);
    cr_assert_eq(dm_dataset_write_fasta(&ds, data), DM_STATUS_OK, "%s", dm_last_error());
    dm_dataset rd = {0};   /* the file as the CLI reads it (ids aside, the same rows) */
    cr_assert_eq(dm_dataset_read(&rd, data, DM_FORMAT_AUTO, L_TEST), DM_STATUS_OK);
    cr_assert(!memcmp(rd.seq, ds.seq, (size_t)ds.n * L_TEST));

    size_t n = (size_t)ds.n;
    float *s_codes = malloc(sizeof(float) * n), *s_hot = malloc(sizeof(float) * n), *s_eng = malloc(sizeof(float) * n);
    dm_input in;
    dm_input_from_dataset(&ds, &in);
    int calls = 0;
    cr_assert_eq(dm_predict(m, be, &in, s_codes, count_calls, &calls), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect_eq(calls, 1, "one report per 16 batches: 300 rows give one");
    float *x = onehot_of(&ds, false);
    dm_input hot = {.n = ds.n, .len = L_TEST, .onehot = x, .labels = ds.label};
    cr_assert_eq(dm_predict(m, be, &hot, s_hot, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    for (size_t i = 0; i < n; i++) cr_assert_eq(s_codes[i], s_hot[i], "row %zu: codes %g, one-hot %g", i, s_codes[i], s_hot[i]);
    /* the engine on the same backend */
    const float *flat;
    int64_t np;
    dm_model_params(m, &flat, &np);
    dm_hparams hp;
    dm_model_hparams(m, &hp);
    dm_net *net;
    cr_assert_eq(dm_net_create(&net, &hp, be, 256), DM_STATUS_OK);
    cr_assert_eq(dm_net_set_params(net, flat), DM_STATUS_OK);
    cr_assert_eq(dm_net_predict(net, &ds, false, s_eng), DM_STATUS_OK);
    for (size_t i = 0; i < n; i++) cr_assert_eq(s_codes[i], s_eng[i], "row %zu", i);
    expect_error(dm_predict(m, be, &in, s_codes, cancel_at_once, NULL), DM_STATUS_CANCELLED, "cancelled");

    /* the CLI's predict */
    snprintf(out, sizeof out, "%s/p.tsv", dir);
    cr_assert_eq(dm_test_system("'%s' predict --model '%s' --data '%s' --out '%s' --device cpu --threads 2 2>/dev/null",
                                DM_TEST_CLI, model, data, out), 0);
    FILE *f = fopen(out, "r");
    char line[512];
    cr_assert(fgets(line, sizeof line, f));   /* header */
    for (size_t i = 0; i < n; i++) {
        cr_assert(fgets(line, sizeof line, f));
        float v = strtof(strrchr(line, '\t') + 1, NULL);
        cr_assert(fabsf(v - s_codes[i]) <= 1e-5f * fabsf(s_codes[i]) + 1e-12f, "row %zu: cli %g, api %g", i, v, s_codes[i]);
    }
    fclose(f);

    /* saliency (grad, centred) against `deepmotif saliency --layout nlc` and across input kinds */
    dm_saliency_opts so;
    dm_saliency_opts_default(&so);
    so.center = 1;
    float *a_codes = malloc(sizeof(float) * 4 * n * L_TEST), *a_hot = malloc(sizeof(float) * 4 * n * L_TEST);
    float *a_cli = malloc(sizeof(float) * 4 * n * L_TEST), *p = malloc(sizeof(float) * n);
    cr_assert_eq(dm_saliency(m, be, &in, &so, a_codes, p, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_saliency(m, be, &hot, &so, a_hot, NULL, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(!memcmp(a_codes, a_hot, sizeof(float) * 4 * n * L_TEST), "codes and one-hot give the same maps");
    for (size_t i = 0; i < n; i++) cr_assert_eq(p[i], s_codes[i], "saliency's P(bound), row %zu", i);
    snprintf(out, sizeof out, "%s/sal", dir);
    cr_assert_eq(dm_test_system("'%s' saliency --model '%s' --data '%s' --out '%s' --layout nlc --center --device cpu "
                                "--threads 2 --quiet 2>/dev/null", DM_TEST_CLI, model, data, out), 0);
    char npy[600];
    snprintf(npy, sizeof npy, "%s.npy", out);
    read_npy(npy, a_cli, 4 * n * L_TEST);
    /* the same engine calls on the same batches: equal bit for bit */
    cr_assert(!memcmp(a_cli, a_codes, sizeof(float) * 4 * n * L_TEST), "API and CLI saliency maps differ");

    /* ism and ig run too (against the engine's batch function on the first rows) */
    so = (dm_saliency_opts){0};
    dm_saliency_opts_default(&so);
    so.method = DM_SALIENCY_IG;
    so.steps = 8;
    so.shuffle_baseline = 1;
    so.batch = 16;
    dm_input head = in;
    head.n = 20;
    cr_assert_eq(dm_saliency(m, be, &head, &so, a_codes, NULL, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    dm_saliency_options eo = {.method = DM_SAL_IG, .target = DM_TARGET_POS, .nlc = true, .steps = 8,
                              .shuffle_baseline = true, .seed = 1};
    dm_net *n16;
    cr_assert_eq(dm_net_create(&n16, &hp, be, 16), DM_STATUS_OK);
    cr_assert_eq(dm_net_set_params(n16, flat), DM_STATUS_OK);
    cr_assert_eq(dm_saliency_batch(n16, x, ds.label, 16, 0, &eo, a_hot, p), DM_STATUS_OK);
    cr_assert_eq(dm_saliency_batch(n16, x + 16 * L_TEST * 4, ds.label + 16, 4, 16, &eo, a_hot + 16 * L_TEST * 4, p),
                 DM_STATUS_OK);
    cr_assert(!memcmp(a_codes, a_hot, sizeof(float) * 4 * 20 * L_TEST), "integrated gradients differ from the engine's");
    so.method = DM_SALIENCY_ISM;
    cr_assert_eq(dm_saliency(m, be, &head, &so, a_codes, p, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    /* ISM of the present base is 0, and P(bound) is predict's (one forward pass of a variant equal to x) */
    for (int l = 0; l < L_TEST; l++)
        if (ds.seq[l] < 4) cr_expect_eq(a_codes[4 * l + ds.seq[l]], 0.0f);
    for (int i = 0; i < 20; i++)
        cr_expect(fabsf(p[i] - s_codes[i]) <= 1e-6f, "ism P(bound) row %d: %g vs %g", i, p[i], s_codes[i]);

    dm_net_free(n16);
    dm_net_free(net);
    free(a_codes), free(a_hot), free(a_cli), free(p), free(s_codes), free(s_hot), free(s_eng), free(x);
    dm_dataset_free(&rd);
    dm_dataset_free(&ds);
    dm_backend_free(be);
    dm_model_free(m);
    dm_test_rmdir(dir);
    free(dir);
}

typedef struct steps_seen {
    int n, cancel_at;
    int64_t done[16];
} steps_seen;

static int on_step(void *ctx, const dm_progress *p) {
    steps_seen *s = ctx;
    cr_expect(!strcmp(p->what, "optimize"));
    cr_expect_eq(p->total, 20);
    if (s->n < 16) s->done[s->n] = p->done;
    s->n++;
    return s->cancel_at && s->n >= s->cancel_at;
}

Test(api, temporal_optimize_motifs_compare) {
    dm_backend *be = cpu();
    dm_dataset ds = {0};
    sim(&ds, 40, 6);
    dm_input in;
    dm_input_from_dataset(&ds, &in);
    float *x = onehot_of(&ds, false);
    dm_input hot = {.n = ds.n, .len = L_TEST, .onehot = x};
    size_t n = (size_t)ds.n;

    /* temporal: RNN, against the engine, codes = one-hot */
    dm_model *rnn = small_model(DM_ARCH_RNN, 2);
    float *f1 = malloc(sizeof(float) * n * L_TEST), *b1 = malloc(sizeof(float) * n * L_TEST);
    float *f2 = malloc(sizeof(float) * n * L_TEST), *b2 = malloc(sizeof(float) * n * L_TEST);
    cr_assert_eq(dm_temporal(rnn, be, &in, f1, b1, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_temporal(rnn, be, &hot, f2, b2, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(!memcmp(f1, f2, sizeof(float) * n * L_TEST) && !memcmp(b1, b2, sizeof(float) * n * L_TEST));
    dm_hparams hp;
    dm_model_hparams(rnn, &hp);
    const float *flat;
    int64_t np;
    dm_model_params(rnn, &flat, &np);
    dm_net *net;
    /* the same batches as the API (64, then 16): GEMM blocking makes a row's rounding depend on its batch */
    cr_assert_eq(dm_net_create(&net, &hp, be, 64), DM_STATUS_OK);
    cr_assert_eq(dm_net_set_params(net, flat), DM_STATUS_OK);
    cr_assert_eq(dm_net_temporal(net, x, 64, f2, b2), DM_STATUS_OK);
    cr_assert_eq(dm_net_temporal(net, x + 64 * L_TEST * 4, (int)n - 64, f2 + 64 * L_TEST, b2 + 64 * L_TEST), DM_STATUS_OK);
    cr_assert(!memcmp(f1, f2, sizeof(float) * n * L_TEST) && !memcmp(b1, b2, sizeof(float) * n * L_TEST));
    /* the last forward prefix and the first backward suffix are the whole sequence: predict's score */
    float *s = malloc(sizeof(float) * n);
    cr_assert_eq(dm_predict(rnn, be, &in, s, NULL, NULL), DM_STATUS_OK);
    for (size_t i = 0; i < n; i++)   /* different code paths (the shortcut of model.c): float rounding */
        cr_expect(fabsf(f1[i * L_TEST + L_TEST - 1] - s[i]) <= 1e-5f, "row %zu: %g vs %g", i, f1[i * L_TEST + L_TEST - 1], s[i]);
    dm_net_free(net);

    /* optimize: against the engine */
    dm_model *cnn = small_model(DM_ARCH_CNN, 3);
    dm_optimize_opts oo;
    dm_optimize_opts_default(&oo);
    oo.restarts = 3;
    oo.steps = 20;
    float *ppm = malloc(sizeof(float) * 3 * L_TEST * 4), *obj = malloc(sizeof(float) * 21 * 3), pp[3];
    cr_assert_eq(dm_optimize(cnn, be, &oo, ppm, NULL, obj, pp, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    dm_optimize_options eo;
    dm_optimize_options_default(&eo);
    eo.restarts = 3;
    eo.steps = 20;
    dm_model_hparams(cnn, &hp);
    dm_model_params(cnn, &flat, &np);
    cr_assert_eq(dm_net_create(&net, &hp, be, 3), DM_STATUS_OK);
    cr_assert_eq(dm_net_set_params(net, flat), DM_STATUS_OK);
    float *ex = malloc(sizeof(float) * 3 * L_TEST * 4), *eppm = malloc(sizeof(float) * 3 * L_TEST * 4);
    float *eobj = malloc(sizeof(float) * 21 * 3), ep[3];
    cr_assert_eq(dm_net_optimize(net, &eo, ex, eppm, eobj, ep), DM_STATUS_OK);
    cr_assert(!memcmp(ppm, eppm, sizeof(float) * 3 * L_TEST * 4) && !memcmp(obj, eobj, sizeof(float) * 63) &&
              !memcmp(pp, ep, sizeof pp));
    for (int r = 0; r < 3; r++)
        for (int l = 0; l < L_TEST; l++) {
            const float *row = ppm + ((size_t)r * L_TEST + l) * 4;
            cr_expect(fabsf(row[0] + row[1] + row[2] + row[3] - 1.0f) < 1e-5f, "a PPM row sums to 1 (float rounding)");
        }
    dm_optimize_opts bad = oo;
    bad.restarts = 0;
    expect_error(dm_optimize(cnn, be, &bad, ppm, NULL, NULL, NULL, NULL, NULL), DM_STATUS_ARG, "restarts 0");

    /* progress: every report_every steps and after the last, the same numbers as without; a
     * non-zero answer cancels */
    for (int every = 5; every <= 7; every += 2) {
        steps_seen ss = {0};
        oo.report_every = every;
        float *ppm2 = malloc(sizeof(float) * 3 * L_TEST * 4), *obj2 = malloc(sizeof(float) * 21 * 3), pp2[3];
        cr_assert_eq(dm_optimize(cnn, be, &oo, ppm2, NULL, obj2, pp2, on_step, &ss), DM_STATUS_OK, "%s", dm_last_error());
        int want[8], nw = 0;
        for (int d = every; d < 20; d += every) want[nw++] = d;
        want[nw++] = 20;
        cr_expect_eq(ss.n, nw, "report_every %d: %d reports, expected %d", every, ss.n, nw);
        for (int i = 0; i < nw && i < ss.n; i++) cr_expect_eq(ss.done[i], want[i], "report %d", i);
        cr_expect(!memcmp(ppm, ppm2, sizeof(float) * 3 * L_TEST * 4) && !memcmp(obj, obj2, sizeof(float) * 63) &&
                  !memcmp(pp, pp2, sizeof pp), "a progress callback changed the optimisation");
        ss = (steps_seen){.cancel_at = 2};
        expect_error(dm_optimize(cnn, be, &oo, ppm2, NULL, obj2, pp2, on_step, &ss), DM_STATUS_CANCELLED, "optimize");
        cr_expect_eq(ss.n, 2, "no report after the cancelling one");
        free(ppm2);
        free(obj2);
    }
    dm_net_free(net);

    /* motifs: against the engine; one-hot = codes */
    dm_motifs_opts mo;
    dm_motifs_opts_default(&mo);
    mo.min_sites = 1;
    dm_motif_set a = {0}, b = {0}, c = {0};
    cr_assert_eq(dm_motifs(cnn, be, &in, &mo, &a, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_motifs(cnn, be, &hot, &mo, &b, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    dm_motifs_options emo;
    dm_motifs_options_default(&emo);
    emo.min_sites = 1;
    cr_assert_eq(dm_net_create(&net, &hp, be, 256), DM_STATUS_OK);
    cr_assert_eq(dm_net_set_params(net, flat), DM_STATUS_OK);
    cr_assert_eq(dm_motifs_extract(net, &ds, &emo, &c), DM_STATUS_OK);
    cr_assert(a.n > 0 && a.n == b.n && a.n == c.n, "%d %d %d motifs", a.n, b.n, c.n);
    for (int i = 0; i < a.n; i++) {
        cr_assert(!strcmp(a.m[i].id, c.m[i].id) && a.m[i].w == c.m[i].w && a.m[i].nsites == c.m[i].nsites);
        cr_assert(!memcmp(a.m[i].p, b.m[i].p, sizeof(float) * 4 * (size_t)a.m[i].w));
        cr_assert(!memcmp(a.m[i].p, c.m[i].p, sizeof(float) * 4 * (size_t)a.m[i].w));
    }

    /* compare: every filter's best match in its own set is itself */
    dm_compare_options co;
    dm_compare_options_default(&co);
    co.n_null = 200;
    co.top = 1;
    co.thresh = 1.0;
    dm_hit *hits = NULL;
    int nh = 0;
    cr_assert_eq(dm_compare(&a, &a, &co, &hits, &nh), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(nh, a.n);
    for (int i = 0; i < nh; i++) cr_expect_eq(hits[i].target, hits[i].query, "filter %d", hits[i].query);
    dm_free(hits);
    /* MEME round trip through the public reader and writer */
    char *dir = dm_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/f.meme", dir);
    cr_assert_eq(dm_meme_write(path, &a), DM_STATUS_OK, "%s", dm_last_error());
    dm_motif_set r = {0};
    cr_assert_eq(dm_meme_read(path, &r), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect_eq(r.n, a.n);
    dm_motif_set_free(&r);
    dm_test_rmdir(dir);
    free(dir);

    dm_net_free(net);
    dm_motif_set_free(&a), dm_motif_set_free(&b), dm_motif_set_free(&c);
    free(ppm), free(obj), free(ex), free(eppm), free(eobj);
    free(f1), free(b1), free(f2), free(b2), free(s), free(x);
    dm_model_free(rnn);
    dm_model_free(cnn);
    dm_dataset_free(&ds);
    dm_backend_free(be);
}

/* ---- training ------------------------------------------------------------------------------ */

typedef struct epochs_seen {
    int n;                 /* epoch-end reports */
    int batches;           /* batch reports */
    int cancel_at;         /* answer "stop" at this epoch-end report */
    int cancel_at_batch;   /* ... or at this batch report (counted over the run) */
    int n_batches;         /* the batches per epoch the reports state */
} epochs_seen;

static int on_epoch(void *ctx, const dm_progress *p) {
    epochs_seen *e = ctx;
    cr_expect(!strcmp(p->what, "train"));
    if (p->batch > 0) {    /* after a batch: the batches of each epoch in order, then its end */
        e->batches++;
        cr_expect_eq(p->epoch, e->n + 1);
        cr_expect_eq(p->done, e->n);
        cr_expect_eq(p->batch, e->batches - e->n * p->n_batches, "batch %d of epoch %d", p->batch, p->epoch);
        cr_expect(isfinite(p->batch_loss) && p->batch_loss > 0, "batch loss %g", p->batch_loss);
        cr_expect(isnan(p->train_loss));
        e->n_batches = p->n_batches;
        return e->cancel_at_batch && e->batches >= e->cancel_at_batch;
    }
    e->n++;
    cr_expect_eq(p->epoch, e->n);
    cr_expect_eq(e->batches, e->n * p->n_batches, "every batch reported before the epoch's end");
    cr_expect(isnan(p->batch_loss));
    cr_expect(isfinite(p->train_loss) && p->train_loss > 0, "train loss %g", p->train_loss);
    return e->cancel_at && e->n >= e->cancel_at;
}

/* dm_train on arrays = `deepmotif train --valid-frac 0` on the file of those rows: same initial
 * weights (dm_model_create's seed), batches and updates, so the same model. */
Test(api, train_matches_cli) {
    dm_dataset ds = {0};
    sim(&ds, 200, 8);
    dm_backend *be = cpu();
    dm_model *m = small_model(DM_ARCH_CNN, 9);
    dm_input in;
    dm_input_from_dataset(&ds, &in);
    dm_train_opts o;
    dm_train_opts_default(&o);
    o.epochs = 3;
    o.batch = 64;
    o.seed = 9;
    epochs_seen seen = {0};
    const float *before;
    int64_t np;
    dm_model_params(m, &before, &np);
    float *init = malloc(sizeof(float) * (size_t)np);
    memcpy(init, before, sizeof(float) * (size_t)np);

    /* cancelled after the first epoch: DM_STATUS_CANCELLED and the model unchanged */
    seen.cancel_at = 1;
    expect_error(dm_train(m, be, &in, NULL, &o, on_epoch, &seen), DM_STATUS_CANCELLED, "cancelled");
    cr_expect_eq(seen.n, 1);
    const float *now;
    dm_model_params(m, &now, &np);
    cr_assert(!memcmp(now, init, sizeof(float) * (size_t)np), "a cancelled run left the model changed");

    /* cancelled after a batch: inside epoch 1 (batch 3), at its last batch (13 of 13: the 400 rows
     * and their reverse complements, rc -1 = both, in batches of 64), inside epoch 2 (its batch 2):
     * _CANCELLED, no report after the cancelling one, the model unchanged */
    static const int cancel_batch[] = {3, 13, 13 + 2};
    for (int c = 0; c < 3; c++) {
        seen = (epochs_seen){.cancel_at_batch = cancel_batch[c]};
        expect_error(dm_train(m, be, &in, NULL, &o, on_epoch, &seen), DM_STATUS_CANCELLED, "cancelled");
        cr_expect_eq(seen.batches, cancel_batch[c]);
        cr_expect_eq(seen.n, cancel_batch[c] / 14, "epoch-end reports before batch %d", cancel_batch[c]);
        dm_model_params(m, &now, &np);
        cr_assert(!memcmp(now, init, sizeof(float) * (size_t)np), "a run cancelled after batch %d left the model changed",
                  cancel_batch[c]);
    }

    seen = (epochs_seen){0};
    cr_assert_eq(dm_train(m, be, &in, NULL, &o, on_epoch, &seen), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect_eq(seen.n, 3);
    cr_expect_eq(seen.n_batches, 13, "400 sequences and their reverse complements in batches of 64");
    cr_expect_eq(seen.batches, 3 * 13);
    /* reports change nothing: the same run without a callback gives the same weights, bit for bit */
    dm_model *quiet = small_model(DM_ARCH_CNN, 9);
    cr_assert_eq(dm_train(quiet, be, &in, NULL, &o, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    const float *pq;
    dm_model_params(m, &now, &np);
    dm_model_params(quiet, &pq, &np);
    cr_expect(!memcmp(now, pq, sizeof(float) * (size_t)np), "a progress callback changed the training");
    dm_model_free(quiet);
    const char *json;
    cr_assert_eq(dm_model_provenance(m, &json), DM_STATUS_OK);
    cr_expect(strstr(json, "\"epochs_run\": 3") && strstr(json, "\"n_train\": 800") && strstr(json, "{\"epoch\": 3, "),
              "%s", json);

    char *dir = dm_test_tmpdir(), data[512], model[512], out[512];
    snprintf(data, sizeof data, "%s/d.fa", dir);
    snprintf(model, sizeof model, "%s/cli.dm", dir);
    cr_assert_eq(dm_dataset_write_fasta(&ds, data), DM_STATUS_OK);
    /* the CLI trains the default shapes (it has no options for small ones) */
    dm_hparams dh;
    dm_hparams_default(&dh, DM_ARCH_CNN);
    dh.len = L_TEST;
    dm_model *d = NULL;
    cr_assert_eq(dm_model_create(&d, &dh, 9), DM_STATUS_OK);
    cr_assert_eq(dm_train(d, be, &in, NULL, &o, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_test_system("'%s' train --arch cnn --len %d --train '%s' --out '%s' --epochs 3 --batch 64 --seed 9 "
                                "--valid-frac 0 --device cpu --threads 2 --quiet >/dev/null 2>&1", DM_TEST_CLI, L_TEST,
                                data, model), 0);
    dm_model *cli = NULL;
    cr_assert_eq(dm_model_load(model, &cli), DM_STATUS_OK, "%s", dm_last_error());
    const float *pa, *pc;
    int64_t na, nc;
    dm_model_params(d, &pa, &na);
    dm_model_params(cli, &pc, &nc);
    cr_assert_eq(na, nc);
    /* the same computation on the same backend and thread count: equal, bit for bit */
    cr_expect(!memcmp(pa, pc, sizeof(float) * (size_t)na), "API and CLI training differ (max err %g)",
              dm_test_max_err(pa, pc, (size_t)na, 1e-30, 0, NULL));
    /* the API's model is usable by the CLI */
    snprintf(out, sizeof out, "%s/api.dm", dir);
    cr_assert_eq(dm_model_save(d, out), DM_STATUS_OK);
    cr_assert_eq(dm_test_system("'%s' eval --model '%s' --data '%s' >/dev/null 2>&1", DM_TEST_CLI, out, data), 0);
    dm_model_free(cli);
    dm_model_free(d);
    dm_test_rmdir(dir);
    free(dir);
    free(init);
    dm_model_free(m);
    dm_backend_free(be);
    dm_dataset_free(&ds);
}

/* ---- the layer table ---------------------------------------------------------------------------- */

/* Every registered architecture: its name round-trips, its layer list chains its shapes, ends in
 * dense(2) → log-softmax, and names exactly the model's parameter tensors with their shapes. */
Test(api, arch_layers_of) {
    int na = dm_arch_count();
    cr_assert_geq(na, 4, "cnn, rnn, cnnrnn, danq at least");
    for (int a = 0; a < na; a++) {
        const char *name = dm_arch_name((dm_arch)a);
        dm_arch back;
        cr_assert_eq(dm_arch_parse(name, &back), DM_STATUS_OK, "%s", dm_last_error());
        cr_expect_eq((int)back, a, "%s", name);
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        hp.len = L_TEST;
        hp.conv_channels = 16;
        hp.hidden = 8;
        dm_layer_info l[DM_MAX_LAYERS];
        int n = -1;
        cr_assert_eq(dm_arch_layers_of(&hp, l, DM_MAX_LAYERS, &n), DM_STATUS_OK, "%s: %s", name, dm_last_error());
        cr_assert_geq(n, 2, "%s", name);
        cr_expect_eq(l[0].len_in, L_TEST, "%s", name);
        cr_expect_eq(l[0].ch_in, 4, "%s", name);
        for (int i = 1; i < n; i++) {
            cr_expect_eq(l[i].len_in, l[i - 1].len_out, "%s layer %d", name, i);
            cr_expect_eq(l[i].ch_in, l[i - 1].ch_out, "%s layer %d", name, i);
        }
        cr_expect_eq(l[n - 1].op, DM_LAYER_LOGSOFTMAX, "%s", name);
        cr_expect_eq(l[n - 2].op, DM_LAYER_DENSE, "%s", name);
        cr_expect_eq(l[n - 2].n, 2, "%s", name);
        cr_expect_eq(l[n - 1].len_out * l[n - 1].ch_out, 2, "%s", name);

        /* the tensors the list names are the model's, in order, with the shapes the list implies */
        dm_model *m = NULL;
        cr_assert_eq(dm_model_create(&m, &hp, 1), DM_STATUS_OK, "%s: %s", name, dm_last_error());
        int32_t nt;
        cr_assert_eq(dm_model_n_tensors(m, &nt, NULL), DM_STATUS_OK);
        int t = 0;
        for (int i = 0; i < n; i++) {
            char want[8][40];
            int64_t shape0[8], shape1[8];
            int k = 0;
            const dm_layer_info *y = &l[i];
            if (y->op == DM_LAYER_CONV || y->op == DM_LAYER_DENSE) {
                snprintf(want[k], 40, "%s.weight", y->name), shape0[k] = y->n, shape1[k++] = y->op == DM_LAYER_CONV ? y->k : y->ch_in;
                snprintf(want[k], 40, "%s.bias", y->name), shape0[k] = y->n, shape1[k++] = 0;
                if (y->op == DM_LAYER_CONV) cr_expect_eq(y->ch_out, y->n, "%s %s", name, y->name);
            } else if (y->op == DM_LAYER_BILSTM) {
                static const char *const kinds[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
                for (int q = 0; q < 4; q++)
                    for (int d = 0; d < 2; d++) {
                        snprintf(want[k], 40, "%s.%s.%s", y->name, d ? "bwd" : "fwd", kinds[q]);
                        shape0[k] = 4 * y->n;
                        shape1[k++] = q == 0 ? y->ch_in : q == 1 ? y->n : 0;
                    }
                cr_expect_eq(y->ch_out, 2 * y->n, "%s", name);
            } else {
                cr_expect_str_empty(y->name, "%s layer %d (op %d) names no tensors", name, i, y->op);
            }
            for (int j = 0; j < k; j++, t++) {
                dm_tensor_desc d;
                cr_assert_lt(t, nt, "%s: the list names more tensors than the model has", name);
                cr_assert_eq(dm_model_tensor_at(m, t, &d), DM_STATUS_OK);
                cr_expect_str_eq(d.name, want[j], "%s tensor %d", name, t);
                cr_expect_eq(d.shape[0], shape0[j], "%s", d.name);
                if (shape1[j]) cr_expect_eq(d.shape[1], shape1[j], "%s", d.name);
                else cr_expect_eq(d.ndim, 1, "%s", d.name);
            }
        }
        cr_expect_eq(t, nt, "%s: the list names %d tensors, the model has %d", name, t, nt);
        dm_model_free(m);

        /* a short output: _ARG and the count needed; a count query with no output likewise */
        int n2 = -1;
        expect_error(dm_arch_layers_of(&hp, l, n - 1, &n2), DM_STATUS_ARG, name);
        cr_expect_eq(n2, n);
        expect_error(dm_arch_layers_of(&hp, NULL, 0, &n2), DM_STATUS_ARG, "layers");
        cr_expect_eq(n2, n);
    }
    dm_layer_info l[DM_MAX_LAYERS];
    int n;
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    expect_error(dm_arch_layers_of(NULL, l, DM_MAX_LAYERS, &n), DM_STATUS_ARG, "NULL");
    expect_error(dm_arch_layers_of(&hp, l, DM_MAX_LAYERS, NULL), DM_STATUS_ARG, "NULL");
    expect_error(dm_arch_layers_of(&hp, NULL, 4, &n), DM_STATUS_ARG, "capacity");
    hp.len = 5;                                   /* shorter than the three convolutions */
    expect_error(dm_arch_layers_of(&hp, l, DM_MAX_LAYERS, &n), DM_STATUS_ARG, "too short");
    hp.arch = (dm_arch)dm_arch_count();
    expect_error(dm_arch_layers_of(&hp, l, DM_MAX_LAYERS, &n), DM_STATUS_ARG, "unknown architecture");
    cr_expect_str_eq(dm_arch_name((dm_arch)dm_arch_count()), "unknown");
}

/* ---- thread safety: one model, a backend per thread ---------------------------------------------- */

typedef struct predict_job {
    const dm_model *m;
    const dm_input *in;
    float *scores;
    dm_status status;
} predict_job;

static void *predict_thread(void *arg) {
    predict_job *j = arg;
    dm_backend *be = NULL;
    j->status = dm_backend_open("cpu", 1, &be);
    if (!j->status) j->status = dm_predict(j->m, be, j->in, j->scores, NULL, NULL);
    dm_backend_free(be);
    return NULL;
}

Test(api, concurrent_predictions) {
    dm_model *m = small_model(DM_ARCH_CNNRNN, 13);
    dm_dataset ds = {0};
    sim(&ds, 100, 14);
    dm_input in;
    dm_input_from_dataset(&ds, &in);
    size_t n = (size_t)ds.n;
    enum { T = 4 };
    float *want = malloc(sizeof(float) * n), *got[T];
    dm_backend *be;
    cr_assert_eq(dm_backend_open("cpu", 1, &be), DM_STATUS_OK);
    cr_assert_eq(dm_predict(m, be, &in, want, NULL, NULL), DM_STATUS_OK);
    dm_backend_free(be);
    pthread_t th[T];
    predict_job job[T];
    for (int t = 0; t < T; t++) {
        got[t] = malloc(sizeof(float) * n);
        job[t] = (predict_job){.m = m, .in = &in, .scores = got[t]};
        cr_assert_eq(pthread_create(&th[t], NULL, predict_thread, &job[t]), 0);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        cr_expect_eq(job[t].status, DM_STATUS_OK, "thread %d", t);
        /* one thread per backend, same batches: the same numbers as the serial run */
        cr_expect(!memcmp(got[t], want, sizeof(float) * n), "thread %d differs", t);
        free(got[t]);
    }
    free(want);
    dm_dataset_free(&ds);
    dm_model_free(m);
}
