/*
 * test_cuda_api.c: the public API on the CUDA backend (dm_backend_open("cuda:0"); the emulator in
 * DM_CUDA_EMU builds; skipped without a usable device): predictions, saliency and training against
 * the CPU backend, and one-hot against base-code inputs.
 *
 * Tolerance (as test_cuda_model.c): |cuda − cpu| ≤ 2e-3 · max|cpu| + 1e-3 · |cpu|: the GEMMs and the
 * LSTM sum in other orders on the device, float rounding that the sequence of layers amplifies by
 * a bounded factor. One-hot against codes on the same backend is exact: the same kernels see the
 * same numbers in the same batches.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "deepmotif.h"
#include "simulate.h"
#include "testutil.h"

#define L_TEST 40

static void close_to(const float *got, const float *ref, size_t n, const char *what) {
    float mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmaxf(mx, fabsf(ref[i]));
    size_t worst;
    double e = dm_test_max_err(got, ref, n, 2e-3 * (mx > 0 ? mx : 1), 1e-3, &worst);
    cr_expect(e <= 1.0, "%s: element %zu: cuda %.9g, cpu %.9g (error %.3g x tolerance)", what, worst, got[worst],
              ref[worst], e);
}

Test(cuda_api, matches_cpu) {
    dm_backend *gpu = NULL, *cpu = NULL;
    if (dm_backend_open("cuda:0", 0, &gpu) != DM_STATUS_OK) cr_skip_test("no CUDA backend to test: %s", dm_last_error());
    cr_expect(!strncmp(dm_backend_name(gpu), "cuda", 4), "name '%s'", dm_backend_name(gpu));
    /* the CPU reference on one thread: libgomp is not instrumented for ThreadSanitizer, so its
     * worker threads' hand-offs read as races in the emulator's TSan build */
    cr_assert_eq(dm_backend_open("cpu", 1, &cpu), DM_STATUS_OK);
    dm_sim_options so;
    dm_sim_options_default(&so);
    so.n_pos = 20;
    so.len = L_TEST;
    so.seed = 21;
    dm_dataset ds = {0};
    cr_assert_eq(dm_simulate(&ds, &so), DM_STATUS_OK);
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNNRNN);
    hp.len = L_TEST;
    hp.conv_channels = 16;
    hp.hidden = 8;
    dm_model *m = NULL;
    cr_assert_eq(dm_model_create(&m, &hp, 22), DM_STATUS_OK, "%s", dm_last_error());
    dm_input in;
    dm_input_from_dataset(&ds, &in);
    size_t n = (size_t)ds.n;
    float *x = malloc(sizeof(float) * 4 * n * L_TEST);
    for (size_t i = 0; i < n * L_TEST; i++)
        for (int c = 0; c < 4; c++) x[4 * i + c] = (float)(ds.seq[i] == c);
    dm_input hot = {.n = ds.n, .len = L_TEST, .onehot = x, .labels = ds.label};

    float *sg = malloc(sizeof(float) * n), *sh = malloc(sizeof(float) * n), *sc = malloc(sizeof(float) * n);
    cr_assert_eq(dm_predict(m, gpu, &in, sg, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_predict(m, gpu, &hot, sh, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_predict(m, cpu, &in, sc, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect(!memcmp(sg, sh, sizeof(float) * n), "cuda: codes and one-hot differ");
    close_to(sg, sc, n, "predict");

    dm_saliency_opts o;
    dm_saliency_opts_default(&o);
    float *ag = malloc(sizeof(float) * 4 * n * L_TEST), *ac = malloc(sizeof(float) * 4 * n * L_TEST);
    cr_assert_eq(dm_saliency(m, gpu, &in, &o, ag, NULL, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_saliency(m, cpu, &in, &o, ac, NULL, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    close_to(ag, ac, 4 * n * L_TEST, "saliency");

    dm_train_opts to;
    dm_train_opts_default(&to);
    to.epochs = 1;
    to.batch = 20;
    cr_assert_eq(dm_train(m, gpu, &in, NULL, &to, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    const char *json;
    cr_assert_eq(dm_model_provenance(m, &json), DM_STATUS_OK);
    cr_expect(strstr(json, "\"device\": \"cuda") && strstr(json, "\"epochs_run\": 1"), "%s", json);

    free(sg), free(sh), free(sc), free(ag), free(ac), free(x);
    dm_model_free(m);
    dm_dataset_free(&ds);
    dm_backend_free(cpu);
    dm_backend_free(gpu);
}

/* Per-batch progress on the device: the batch losses come from device memory (the CPU backend
 * checks every batch on the host, the device does not), so they are compared with the CPU's; a
 * cancel after a batch leaves the model unchanged. */
typedef struct batch_seen {
    int batches, epochs, cancel_at;
    float loss[8];
} batch_seen;

static int on_report(void *ctx, const dm_progress *p) {
    batch_seen *b = ctx;
    if (p->batch == 0) {
        b->epochs++;
        return 0;
    }
    if (b->batches < 8) b->loss[b->batches] = (float)p->batch_loss;
    b->batches++;
    return b->cancel_at && b->batches >= b->cancel_at;
}

Test(cuda_api, train_progress_per_batch) {
    dm_backend *gpu = NULL, *cpu = NULL;
    if (dm_backend_open("cuda:0", 0, &gpu) != DM_STATUS_OK) cr_skip_test("no CUDA backend to test: %s", dm_last_error());
    /* one thread, as in matches_cpu: libgomp is not instrumented for ThreadSanitizer */
    cr_assert_eq(dm_backend_open("cpu", 1, &cpu), DM_STATUS_OK);
    dm_sim_options so;
    dm_sim_options_default(&so);
    so.n_pos = 20;
    so.len = L_TEST;
    so.seed = 23;
    dm_dataset ds = {0};
    cr_assert_eq(dm_simulate(&ds, &so), DM_STATUS_OK);
    dm_input in;
    dm_input_from_dataset(&ds, &in);
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    hp.len = L_TEST;
    hp.conv_channels = 16;
    dm_model *mg = NULL, *mc = NULL, *mx = NULL;
    cr_assert_eq(dm_model_create(&mg, &hp, 24), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_model_create(&mc, &hp, 24), DM_STATUS_OK);
    cr_assert_eq(dm_model_create(&mx, &hp, 24), DM_STATUS_OK);
    dm_train_opts to;
    dm_train_opts_default(&to);
    to.epochs = 2;
    to.batch = 16;            /* 40 sequences: batches of 16, 16, 8 */
    to.rc = 0;                /* one strand (the default, both, would double the batches) */
    batch_seen g = {0}, c = {0};
    cr_assert_eq(dm_train(mg, gpu, &in, NULL, &to, on_report, &g), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_train(mc, cpu, &in, NULL, &to, on_report, &c), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect_eq(g.batches, 6);
    cr_expect_eq(g.epochs, 2);
    cr_expect_eq(c.batches, 6);
    close_to(g.loss, c.loss, 6, "batch losses");

    const float *before, *after;
    int64_t np;
    dm_model_params(mx, &before, &np);
    float *init = malloc(sizeof(float) * (size_t)np);
    memcpy(init, before, sizeof(float) * (size_t)np);
    batch_seen x = {.cancel_at = 4};      /* after the first batch of epoch 2 */
    cr_expect_eq(dm_train(mx, gpu, &in, NULL, &to, on_report, &x), DM_STATUS_CANCELLED);
    cr_expect_eq(x.batches, 4);
    dm_model_params(mx, &after, &np);
    cr_expect(!memcmp(after, init, sizeof(float) * (size_t)np), "a cancelled run changed the model");
    free(init);
    dm_model_free(mg);
    dm_model_free(mc);
    dm_model_free(mx);
    dm_dataset_free(&ds);
    dm_backend_free(cpu);
    dm_backend_free(gpu);
}
