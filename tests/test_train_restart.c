/*
 * test_train_restart.c: a dead start trained again (dm_train_dead_start, dm_train_options.restarts).
 *
 * A dead start is planted, not waited for: a CNN whose every convolution bias is -100 has no ReLU
 * that fires on any one-hot input (each pre-activation is at most the sum of a filter's largest
 * weights, |w| <= 1/sqrt(fan_in), minus 100), so its output is a constant and no gradient reaches the
 * filters, which is what the MYC run of bench/results/dead_start.md reached in its first epoch. The
 * criterion is arithmetic and checked by hand; the restart is checked by what it must give (a model
 * that learned the simulated motif, where the same run without restarts stays at AUROC 0.5), and by
 * a resume from a checkpoint written inside the restarted attempt, which must end bit for bit where
 * the uninterrupted run ends (the restart's seed comes back from the file's RSTR section).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "deepmotif.h"
#include "dm_internal.h"
#include "arch.h"
#include "model.h"
#include "simulate.h"
#include "testutil.h"
#include "train.h"

/* ---- the criterion, by hand ----------------------------------------------------------------------- */

static dm_provenance crit_prov;

static void log_losses(const double *loss, int n) {
    memset(&crit_prov, 0, sizeof crit_prov);
    crit_prov.n_epochs = n;
    for (int e = 0; e < n; e++) crit_prov.log[e] = (dm_epoch_log){.epoch = e + 1, .train_loss = loss[e]};
}

Test(train_restart, the_criterion_by_hand) {
    int8_t lab[8] = {1, 0, 1, 0, 1, 0, 1, 0};
    dm_dataset ds = {.n = 8, .label = lab};
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    cr_expect_eq(o.restarts, 2, "default restarts %d", o.restarts);
    o.patience = 4;
    double ln2 = log(2.0);
    /* balanced: the constant's loss is ln 2; 0.7636 then the plateau, as the MYC run */
    double dead[4] = {0.7636, 0.6935, ln2 - 0.0049, 0.6933};
    log_losses(dead, 4);
    cr_expect(dm_train_dead_start(&crit_prov, &ds, &o), "a plateau at ln 2 is a dead start");
    double learned[4] = {0.7636, 0.6935, ln2 - 0.0051, 0.6933};
    log_losses(learned, 4);
    cr_expect(!dm_train_dead_start(&crit_prov, &ds, &o), "an epoch 0.0051 below ln 2 learned something");
    log_losses(dead, 4);
    o.patience = 5;
    cr_expect(!dm_train_dead_start(&crit_prov, &ds, &o), "4 epochs, fewer than the patience (5)");
    o.patience = 0;
    cr_expect(!dm_train_dead_start(&crit_prov, &ds, &o), "no early stopping: the epochs asked for");
    o.patience = 4;
    volatile sig_atomic_t stop = 1;
    o.stop = &stop;
    cr_expect(!dm_train_dead_start(&crit_prov, &ds, &o), "a run stopped by a signal");
    o.stop = NULL;
    o.protocol = DM_PROTOCOL_ORIGINAL;
    cr_expect(!dm_train_dead_start(&crit_prov, &ds, &o), "the original protocol");
    o.protocol = DM_PROTOCOL_DEFAULT;
    /* 1 positive in 4: the constant predicts 1/4, loss -(ln(1/4)/4 + 3 ln(3/4)/4) = 0.5623 */
    int8_t lab4[8] = {1, 0, 0, 0, 1, 0, 0, 0};
    dm_dataset ds4 = {.n = 8, .label = lab4};
    double h = -(0.25 * log(0.25) + 0.75 * log(0.75));
    o.patience = 2;
    double imb[2] = {0.6, h - 0.004};
    log_losses(imb, 2);
    cr_expect(dm_train_dead_start(&crit_prov, &ds4, &o), "imbalanced: at the constant's loss");
    double imb2[2] = {0.6, h - 0.006};
    log_losses(imb2, 2);
    cr_expect(!dm_train_dead_start(&crit_prov, &ds4, &o), "imbalanced: below the constant's loss");
    /* restart seeds: distinct from each other and from the run's own */
    cr_expect(dm_train_restart_seed(3, 1) != 3 && dm_train_restart_seed(3, 1) != dm_train_restart_seed(3, 2) &&
              dm_train_restart_seed(3, 1) != dm_train_restart_seed(4, 1));
}

/* ---- a planted dead start ------------------------------------------------------------------------- */


/* initial weights with every convolution bias at -100: no ReLU fires */
static void plant_dead_start(dm_net *m) {
    cr_assert_eq(dm_net_init_params(m, 3), DM_STATUS_OK);
    int64_t np = dm_net_n_params(m);
    float *p = malloc(sizeof(float) * (size_t)np);
    cr_assert_eq(dm_net_get_params(m, p), DM_STATUS_OK);
    int32_t nt;
    const dm_tensor_info *t = dm_net_tensors(m, &nt);
    int planted = 0;
    for (int32_t i = 0; i < nt; i++)
        if (!strncmp(t[i].name, "conv", 4) && strstr(t[i].name, ".bias")) {
            for (int64_t j = 0; j < t[i].numel; j++) p[t[i].offset + j] = -100.0f;
            planted++;
        }
    cr_assert(planted >= 1, "no convolution bias found");
    cr_assert_eq(dm_net_set_params(m, p), DM_STATUS_OK);
    free(p);
}

static void options(dm_train_options *o, int restarts) {
    dm_train_options_default(o, DM_PROTOCOL_DEFAULT);
    o->epochs = 40;
    o->patience = 4;
    o->seed = 3;
    o->restarts = restarts;
}

static double valid_auroc(dm_test_run *r) {
    float *s = malloc(sizeof(float) * (size_t)r->va.n);
    cr_assert_eq(dm_net_predict(r->m, &r->va, false, s), DM_STATUS_OK, "%s", dm_last_error());
    double a = dm_auroc(s, r->va.label, r->va.n);
    free(s);
    return a;
}

static dm_provenance prov_a, prov_b, prov_c;

Test(train_restart, a_dead_start_is_trained_again, .timeout = 300) {
    dm_test_run r;
    dm_test_run_open(&r, 200, 256);
    dm_train_options o;
    /* without restarts the planted run stays dead: a constant output, AUROC 0.5 */
    plant_dead_start(r.m);
    options(&o, 0);
    dm_resume_state st = {0};
    cr_assert_eq(dm_net_train(r.m, &r.tr, &r.va, &o, &prov_a, &st, NULL), DM_STATUS_OK, "%s", dm_last_error());
    double dead = valid_auroc(&r);
    cr_expect_eq(prov_a.restarts, 0);
    cr_expect(dead == 0.5, "the planted dead start learned (validation AUROC %.4f): the plant is wrong", dead);
    cr_expect(dm_train_dead_start(&prov_a, &r.tr, &o), "the planted run is not a dead start");
    dm_resume_state_free(&st);
    /* with restarts: one restart, from new weights, learns the simulated motif */
    plant_dead_start(r.m);
    options(&o, 2);
    memset(&st, 0, sizeof st);
    cr_assert_eq(dm_net_train(r.m, &r.tr, &r.va, &o, &prov_b, &st, NULL), DM_STATUS_OK, "%s", dm_last_error());
    double alive = valid_auroc(&r);
    cr_log_info("restarted run: validation AUROC %.4f, %d epochs", alive, prov_b.epochs_run);
    cr_expect_eq(prov_b.restarts, 1, "restarts %d", prov_b.restarts);
    cr_expect_eq(prov_b.seed, 3u, "the provenance names the user's seed, not the restart's");
    /* the simulated motif is learned to about 0.9 and above by this CNN in a few epochs; 0.75 is far
     * above what a constant or a barely living network gives (0.5) */
    cr_expect(alive > 0.75, "the restarted run's validation AUROC %.4f", alive);
    cr_expect(prov_b.n_epochs == prov_b.epochs_run && prov_b.log[0].epoch == 1,
              "the log is the restarted attempt's (%d rows, %d run)", prov_b.n_epochs, prov_b.epochs_run);
    dm_resume_state_free(&st);
    dm_test_run_close(&r);
}

/* ---- a resume inside the restarted attempt --------------------------------------------------------- */

typedef struct ckpt_ctx {
    const char *path;
    dm_test_run *r;
    dm_provenance *prov;
    int at_epoch;     /* write the file at this epoch end of the restarted attempt */
    bool written;
} ckpt_ctx;

static dm_status write_at(void *ctx, const dm_train_checkpoint *c) {
    ckpt_ctx *k = ctx;
    if (k->prov->restarts != 1 || c->epoch != k->at_epoch || k->written) return DM_STATUS_OK;
    int32_t nt;
    const dm_tensor_info *t = dm_net_tensors(k->r->m, &nt);
    k->written = true;
    return dm_checkpoint_save_ex(k->path, &k->r->hp, t, nt, c->params, dm_net_n_params(k->r->m), k->prov, c->state,
                                 NULL);
}

Test(train_restart, a_restart_resumes_bit_identically, .timeout = 300) {
    char *dir = dm_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/run.last", dir);
    dm_test_run r;
    dm_test_run_open(&r, 200, 256);
    int64_t np = dm_net_n_params(r.m);
    /* uninterrupted, writing MODEL.last at epoch 2 of the restarted attempt */
    plant_dead_start(r.m);
    dm_train_options o;
    options(&o, 2);
    ckpt_ctx k = {.path = path, .r = &r, .prov = &prov_a, .at_epoch = 2};
    o.checkpoint = write_at;
    o.checkpoint_ctx = &k;
    dm_resume_state st = {0};
    memset(&prov_a, 0, sizeof prov_a);
    cr_assert_eq(dm_net_train(r.m, &r.tr, &r.va, &o, &prov_a, &st, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(prov_a.restarts, 1);
    cr_assert(k.written, "no checkpoint inside the restarted attempt (it ran %d epochs)", prov_a.epochs_run);
    cr_assert(prov_a.epochs_run > 2, "the restarted attempt ended at epoch %d", prov_a.epochs_run);
    float *want = malloc(sizeof(float) * (size_t)np);
    cr_assert_eq(dm_net_get_params(r.m, want), DM_STATUS_OK);
    dm_resume_state_free(&st);
    /* resumed from the file: the restart count (RSTR) and the state come back, the end is the same */
    dm_hparams hp;
    float *params = NULL;
    int64_t n = 0;
    memset(&prov_c, 0, sizeof prov_c);
    dm_resume_state rs = {0};
    cr_assert_eq(dm_checkpoint_load_ex(path, dm_net_table, &hp, &params, &n, &prov_c, &rs, NULL), DM_STATUS_OK, "%s",
                 dm_last_error());
    cr_expect_eq(prov_c.restarts, 1, "RSTR did not round-trip: %d", prov_c.restarts);
    cr_expect_eq(rs.epoch_done, 2);
    cr_assert_eq(dm_net_set_params(r.m, params), DM_STATUS_OK);
    o.checkpoint = NULL;
    cr_assert_eq(dm_net_train(r.m, &r.tr, &r.va, &o, &prov_c, &rs, NULL), DM_STATUS_OK, "%s", dm_last_error());
    float *got = malloc(sizeof(float) * (size_t)np);
    cr_assert_eq(dm_net_get_params(r.m, got), DM_STATUS_OK);
    cr_expect_eq(prov_c.restarts, 1);
    cr_expect_eq(prov_c.best_epoch, prov_a.best_epoch);
    cr_expect_eq(prov_c.epochs_run, prov_a.epochs_run);
    cr_expect(memcmp(got, want, sizeof(float) * (size_t)np) == 0,
              "the resumed restart does not end where the uninterrupted run ends");
    /* the same file with the count of restarts taken out: a resume of the user's own seed diverges,
     * so the count is what carries the restart's seed */
    prov_c.restarts = 0;
    dm_resume_state_free(&rs);
    free(params);
    memset(&prov_c, 0, sizeof prov_c);
    cr_assert_eq(dm_checkpoint_load_ex(path, dm_net_table, &hp, &params, &n, &prov_c, &rs, NULL), DM_STATUS_OK);
    prov_c.restarts = 0;
    o.restarts = 0;
    cr_assert_eq(dm_net_set_params(r.m, params), DM_STATUS_OK);
    cr_assert_eq(dm_net_train(r.m, &r.tr, &r.va, &o, &prov_c, &rs, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_get_params(r.m, got), DM_STATUS_OK);
    cr_expect(memcmp(got, want, sizeof(float) * (size_t)np) != 0, "the restart's seed made no difference");
    dm_resume_state_free(&rs);
    free(params);
    free(want);
    free(got);
    dm_test_run_close(&r);
    dm_test_rmdir(dir);
    free(dir);
}

Test(train_restart, a_file_without_restarts_has_no_rstr_section) {
    /* runs that never restarted write the files they wrote before (no RSTR); a count round-trips, and
     * a bad one is named */
    char *dir = dm_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/m.dm", dir);
    dm_test_run r;
    dm_test_run_open(&r, 200, 256);
    cr_assert_eq(dm_net_init_params(r.m, 1), DM_STATUS_OK);
    int64_t np = dm_net_n_params(r.m);
    float *p = malloc(sizeof(float) * (size_t)np);
    cr_assert_eq(dm_net_get_params(r.m, p), DM_STATUS_OK);
    int32_t nt;
    const dm_tensor_info *t = dm_net_tensors(r.m, &nt);
    memset(&prov_a, 0, sizeof prov_a);
    cr_assert_eq(dm_checkpoint_save_ex(path, &r.hp, t, nt, p, np, &prov_a, NULL, NULL), DM_STATUS_OK);
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    static char bytes[1 << 20];
    size_t size = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    cr_assert(size > 16 && size < sizeof bytes);
    bool found = false;
    for (size_t i = 0; i + 4 <= size; i++) found |= !memcmp(bytes + i, "RSTR", 4);
    cr_expect(!found, "a file without restarts has an RSTR section");
    prov_a.restarts = 2;
    cr_assert_eq(dm_checkpoint_save_ex(path, &r.hp, t, nt, p, np, &prov_a, NULL, NULL), DM_STATUS_OK);
    dm_hparams hp;
    float *q = NULL;
    int64_t n = 0;
    memset(&prov_b, 0, sizeof prov_b);
    cr_assert_eq(dm_checkpoint_load_ex(path, dm_net_table, &hp, &q, &n, &prov_b, NULL, NULL), DM_STATUS_OK);
    cr_expect_eq(prov_b.restarts, 2);
    free(q);
    /* a count of 0 in RSTR (the CRC made right again, so the section's own check is what fails) */
    f = fopen(path, "rb");
    cr_assert(f);
    size = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    size_t at = 0;
    for (size_t i = 16; i + 16 <= size; i++)
        if (!memcmp(bytes + i, "RSTR", 4)) at = i + 12;   /* tag, u64 length, then the u32 count */
    cr_assert(at > 0 && bytes[at] == 2, "no RSTR section holding 2");
    bytes[at] = 0;
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)bytes, (uInt)(size - 4));
    for (int k = 0; k < 4; k++) bytes[size - 4 + k] = (char)(crc >> (8 * k));
    f = fopen(path, "wb");
    cr_assert(f && fwrite(bytes, 1, size, f) == size);
    fclose(f);
    q = NULL;
    cr_expect_eq(dm_checkpoint_load_ex(path, dm_net_table, &hp, &q, &n, &prov_b, NULL, NULL), DM_STATUS_CORRUPT);
    cr_expect(strstr(dm_last_error(), "section RSTR") != NULL && strstr(dm_last_error(), path) != NULL, "%s",
              dm_last_error());
    free(q);
    free(p);
    dm_test_run_close(&r);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- the CLI ---------------------------------------------------------------------------------------- */

Test(train_restart, the_cli_says_and_records_it, .timeout = 120) {
    /* a run that cannot move (lr 1e-7) sits at the constant's loss for its patience: with --restarts 1
     * train says so once, the model line names it, MODEL and MODEL.last record it (section RSTR);
     * with --restarts 0 nothing is said or recorded */
    char *dir = dm_test_tmpdir();
    cr_assert_eq(dm_test_system("%s simulate --out %s/tr.seq.gz --n 100 --len 40 --seed 5 > /dev/null 2>&1",
                                DM_TEST_CLI, dir), 0);
    const char *stuck = "--arch cnn --len 40 --epochs 4 --patience 2 --lr 1e-7 --threads 1 --rc none";
    cr_assert_eq(dm_test_system("%s train %s --train %s/tr.seq.gz --restarts 1 --out %s/m.dm > %s/out 2> %s/err",
                                DM_TEST_CLI, stuck, dir, dir, dir, dir), 0, "%s", dm_test_slurp_in(dir, "err"));
    char *err = strdup(dm_test_slurp_in(dir, "err")), *out = strdup(dm_test_slurp_in(dir, "out"));   /* (one buffer) */
    cr_expect(strstr(err, "restart 1 of 1: a dead start") != NULL, "%s", err);
    cr_expect(strstr(err, "restart 2") == NULL, "%s", err);
    cr_expect(strstr(out, ", after 1 dead start\n") != NULL, "%s", out);
    char path[4200];
    dm_hparams hp;
    float *p = NULL;
    int64_t n = 0;
    const char *files[2] = {"m.dm", "m.dm.last"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        memset(&prov_a, 0, sizeof prov_a);
        cr_assert_eq(dm_checkpoint_load_ex(path, dm_net_table, &hp, &p, &n, &prov_a, NULL, NULL), DM_STATUS_OK, "%s",
                     dm_last_error());
        cr_expect_eq(prov_a.restarts, 1, "%s: restarts %d", files[k], prov_a.restarts);
        free(p);
    }
    cr_assert_eq(dm_test_system("%s train %s --train %s/tr.seq.gz --restarts 0 --out %s/n.dm > %s/out 2> %s/err",
                                DM_TEST_CLI, stuck, dir, dir, dir, dir), 0);
    free(err);
    free(out);
    err = strdup(dm_test_slurp_in(dir, "err"));
    out = strdup(dm_test_slurp_in(dir, "out"));
    cr_expect(strstr(err, "restart") == NULL && strstr(out, "dead start") == NULL, "%s%s", err, out);
    free(err);
    free(out);
    dm_test_rmdir(dir);
    free(dir);
}
