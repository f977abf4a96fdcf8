/*
 * test_train_size.c: the default protocol's small-data rule (dm_train_options_for_size, issue 15):
 * the batch, epochs, patience and learning-rate halving derived from a training set's size, the
 * large-set values left as they were, given values kept, and the rule reaching dm_net_train, the
 * CLI and the C API. The rule is arithmetic: every expected value below is derived by hand from the
 * rule's statement in host/train.h, not measured.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepmotif.h"
#include "dm_internal.h"
#include "arch.h"
#include "model.h"
#include "simulate.h"
#include "testutil.h"
#include "train.h"

static dm_train_options sized(int64_t n, dm_protocol p) {
    dm_train_options o;
    dm_train_options_default(&o, p);
    dm_train_options_for_size(&o, n, NULL);
    return o;
}

static void expect_plan(int64_t n, int batch, int epochs, int patience, int halve) {
    dm_train_options o = sized(n, DM_PROTOCOL_DEFAULT);
    cr_expect_eq(o.batch, batch, "n %lld: batch %d, expected %d", (long long)n, o.batch, batch);
    cr_expect_eq(o.epochs, epochs, "n %lld: epochs %d, expected %d", (long long)n, o.epochs, epochs);
    cr_expect_eq(o.patience, patience, "n %lld: patience %d, expected %d", (long long)n, o.patience, patience);
    cr_expect_eq(o.lr_halve_every, halve, "n %lld: halve every %d, expected %d", (long long)n, o.lr_halve_every,
                 halve);
    /* 0.01 per 256 sequences: the same float operations as the rule, so equal bits */
    float lr = 0.01f * (float)batch / 256.0f;
    cr_expect_eq(o.lr, lr, "n %lld: lr %g, expected %g", (long long)n, (double)o.lr, (double)lr);
}

Test(train_size, defaults_are_left_to_the_size) {
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    cr_expect_eq(o.batch, DM_TRAIN_BY_SIZE);
    cr_expect_eq(o.epochs, DM_TRAIN_BY_SIZE);
    cr_expect_eq(o.patience, DM_TRAIN_BY_SIZE);
    cr_expect_eq(o.lr_halve_every, DM_TRAIN_BY_SIZE);
    cr_expect_eq(o.lr, (float)DM_TRAIN_BY_SIZE);
    cr_expect_eq(o.ema, (float)DM_TRAIN_BY_SIZE);
    dm_train_opts a;
    dm_train_opts_default(&a);
    cr_expect(a.batch == -1 && a.epochs == -1 && a.patience == -1 && a.lr_halve_every == -1 && a.lr == -1.0f &&
                  a.ema == -1.0f,
              "the C API's defaults are the library's: %d %d %d %d %g %g", a.batch, a.epochs, a.patience,
              a.lr_halve_every, (double)a.lr, (double)a.ema);
}

Test(train_size, large_sets_keep_the_old_defaults) {
    /* from 120 steps an epoch at batch 256 (30,720 sequences) the schedule is the old one */
    expect_plan(30720, 256, 50, 5, 10);   /* and lr 0.01 */
    cr_expect_eq(sized(30720, DM_PROTOCOL_DEFAULT).lr, 0.01f);
    expect_plan(30721, 256, 50, 5, 10);
    expect_plan(1000000, 256, 50, 5, 10);
    /* the original protocol is DeMo's fixed loop at any size */
    for (int64_t n = 1; n <= 100000; n *= 10) {
        dm_train_options o = sized(n, DM_PROTOCOL_ORIGINAL);
        cr_expect(o.batch == 256 && o.epochs == 50 && o.patience == 5 && o.lr_halve_every == 10 && o.lr == 0.01f,
                  "original protocol, n %lld: %d %d %d %d", (long long)n, o.batch, o.epochs, o.patience,
                  o.lr_halve_every);
    }
}

Test(train_size, small_sets_by_hand) {
    /* n = 900 (500 positives and their shuffles, 10 % held out): batch 32 (900 < 32·64), lr 0.00125,
     * 29 steps an epoch; epochs ⌈50·120/29⌉ = 207, patience ⌈5·120/29⌉ = 21, halving ⌈10·120/29⌉ = 42 */
    expect_plan(900, 32, 207, 21, 42);
    /* n = 3,600 (2,000 positives): batch 64 (2048 <= 3600 < 4096), 57 steps: 106, 11, 22 */
    expect_plan(3600, 64, 106, 11, 22);
    /* n = 8,192: batch 256 from here, 32 steps: 188, 19, 38 */
    expect_plan(8192, 256, 188, 19, 38);
    expect_plan(8191, 128, 94, 10, 19);   /* 64 steps of 128: 6000/64 = 93.75, 600/64, 1200/64 */
    /* one step an epoch: 6,000 epochs and halving every 1,200, both capped at DM_MAX_EPOCHS (1,000);
     * patience 600 */
    expect_plan(10, 32, DM_MAX_EPOCHS, 600, DM_MAX_EPOCHS);
    expect_plan(1, 32, DM_MAX_EPOCHS, 600, DM_MAX_EPOCHS);
}

Test(train_size, the_rule_holds_at_every_size) {
    int prev_batch = 0;
    for (int64_t n = 1; n <= 70000; n += 1 + n / 50) {
        dm_train_options o = sized(n, DM_PROTOCOL_DEFAULT);
        int64_t steps = (n + o.batch - 1) / o.batch;
        cr_assert(o.batch >= 32 && o.batch <= 256 && (o.batch & (o.batch - 1)) == 0, "n %lld: batch %d", (long long)n,
                  o.batch);
        cr_assert(o.batch >= prev_batch, "n %lld: the batch shrank to %d", (long long)n, o.batch);
        prev_batch = o.batch;
        /* an epoch of at least 32 steps wherever a batch of 32 allows it */
        if (o.batch > 32) cr_assert(steps >= 32, "n %lld: %lld steps of %d", (long long)n, (long long)steps, o.batch);
        /* the schedule in steps: never less than the old one at 120 steps an epoch */
        cr_assert(o.epochs == DM_MAX_EPOCHS || o.epochs * steps >= 6000, "n %lld: %d epochs", (long long)n, o.epochs);
        cr_assert(o.patience * steps >= 600, "n %lld: patience %d", (long long)n, o.patience);
        cr_assert(o.lr_halve_every == DM_MAX_EPOCHS || o.lr_halve_every * steps >= 1200, "n %lld: halving %d",
                  (long long)n, o.lr_halve_every);
        cr_assert(o.epochs >= 50 && o.patience >= 5 && o.lr_halve_every >= 10, "n %lld", (long long)n);
        /* and rounded up by less than one epoch */
        if (o.epochs < DM_MAX_EPOCHS && steps < 120) cr_assert((o.epochs - 1) * steps < 6000, "n %lld", (long long)n);
        cr_assert(steps >= 120 || (o.patience - 1) * steps < 600, "n %lld", (long long)n);
    }
}

/* The RNN (an LSTM reads the input) on a small set: 4x the rate, never halved, patience ceil(50·U/S),
 * epochs ceil(300·U/S) below 8,192 sequences (host/train.h), the ordinary rule from there; every
 * other architecture the ordinary rule. Expected values by hand from that statement. */
static dm_train_options sized_arch(int64_t n, dm_arch arch) {
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    dm_train_options_for_size(&o, n, &hp);
    return o;
}

Test(train_size, lstm_input_rule_by_hand) {
    for (int i = 0; i < dm_arch_count(); i++) {
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)i);
        cr_expect_eq(dm_arch_lstm_reads_input(&hp), !strcmp(dm_arch_name((dm_arch)i), "rnn"), "%s",
                     dm_arch_name((dm_arch)i));
    }
    /* 1,800 (500 positives with shuffles, 10 % held out, both strands): batch 32, S 57: lr 4 · 0.00125,
     * patience ceil(6000/57) = 106, epochs ceil(36000/57) = 632 */
    dm_train_options o = sized_arch(1800, DM_ARCH_RNN);
    cr_expect(o.batch == 32 && o.lr_halve_every == 0 && o.patience == 106 && o.epochs == 632, "%d %d %d %d", o.batch,
              o.lr_halve_every, o.patience, o.epochs);
    cr_expect_eq(o.lr, 4.0f * 0.01f * 32.0f / 256.0f);
    /* 7,200 (2,000 positives): batch 128, S 57 again; lr 0.02 */
    o = sized_arch(7200, DM_ARCH_RNN);
    cr_expect(o.batch == 128 && o.lr_halve_every == 0 && o.patience == 106 && o.epochs == 632, "%d %d %d %d",
              o.batch, o.lr_halve_every, o.patience, o.epochs);
    cr_expect_eq(o.lr, 4.0f * 0.01f * 128.0f / 256.0f);
    /* 8,191: batch 128, S 64: patience ceil(6000/64) = 94, epochs ceil(36000/64) = 563 */
    o = sized_arch(8191, DM_ARCH_RNN);
    cr_expect(o.batch == 128 && o.lr_halve_every == 0 && o.patience == 94 && o.epochs == 563, "%d %d %d %d",
              o.batch, o.lr_halve_every, o.patience, o.epochs);
    cr_expect_eq(o.lr, 0.02f);
    /* from 8,192 (batch 256) the ordinary rule: S 32, epochs 188, patience 19, halving 38, lr 0.01 */
    o = sized_arch(8192, DM_ARCH_RNN);
    cr_expect(o.batch == 256 && o.lr == 0.01f && o.lr_halve_every == 38 && o.patience == 19 && o.epochs == 188,
              "%d %g %d %d %d", o.batch, (double)o.lr, o.lr_halve_every, o.patience, o.epochs);
    o = sized_arch(30720, DM_ARCH_RNN);
    cr_expect(o.batch == 256 && o.lr == 0.01f && o.lr_halve_every == 10 && o.patience == 5 && o.epochs == 50,
              "%d %g %d %d %d", o.batch, (double)o.lr, o.lr_halve_every, o.patience, o.epochs);
    /* an LSTM after a convolution (the CNN-RNN, DanQ) at 1,800: the ordinary schedule (22, 11, 106)
     * at twice the rate, 2 · 0.00125; at 2,047 still (batch 32); from 2,048 (batch 64) the ordinary
     * rate; the CNN (no LSTM) never */
    for (int i = 0; i < dm_arch_count(); i++) {
        dm_hparams hpi;
        dm_hparams_default(&hpi, (dm_arch)i);
        bool later = dm_arch_has(&hpi, DM_LAYER_BILSTM) && !dm_arch_lstm_reads_input(&hpi);
        cr_expect_eq(later, !strcmp(dm_arch_name((dm_arch)i), "cnnrnn") || !strcmp(dm_arch_name((dm_arch)i), "danq"),
                     "%s", dm_arch_name((dm_arch)i));
        if (dm_arch_lstm_reads_input(&hpi)) continue;
        o = sized_arch(1800, (dm_arch)i);
        cr_expect(o.batch == 32 && o.lr_halve_every == 22 && o.patience == 11 && o.epochs == 106, "%s: %d %d %d %d",
                  dm_arch_name((dm_arch)i), o.batch, o.lr_halve_every, o.patience, o.epochs);
        cr_expect_eq(o.lr, (later ? 2.0f : 1.0f) * 0.01f * 32.0f / 256.0f, "%s", dm_arch_name((dm_arch)i));
        o = sized_arch(2047, (dm_arch)i);
        cr_expect(o.batch == 32 && o.lr == (later ? 2.0f : 1.0f) * 0.01f * 32.0f / 256.0f, "%s", dm_arch_name((dm_arch)i));
        o = sized_arch(2048, (dm_arch)i);
        cr_expect(o.batch == 64 && o.lr == 0.01f * 64.0f / 256.0f, "%s: %d %g", dm_arch_name((dm_arch)i), o.batch,
                  (double)o.lr);
    }
    /* given values stay */
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_RNN);
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    o.lr = 0.001f;
    o.lr_halve_every = 7;
    o.patience = 3;
    dm_train_options_for_size(&o, 1800, &hp);
    cr_expect(o.lr == 0.001f && o.lr_halve_every == 7 && o.patience == 3 && o.epochs == 632, "%g %d %d %d",
              (double)o.lr, o.lr_halve_every, o.patience, o.epochs);
    /* the original protocol: DeMo's loop for every architecture */
    dm_train_options_default(&o, DM_PROTOCOL_ORIGINAL);
    dm_train_options_for_size(&o, 1800, &hp);
    cr_expect(o.batch == 256 && o.lr == 0.01f && o.lr_halve_every == 10 && o.epochs == 50, "%d %g %d %d", o.batch,
              (double)o.lr, o.lr_halve_every, o.epochs);
}

Test(train_size, given_values_stay) {
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    o.batch = 16;   /* the rest follows the given batch: 900 / 16 → 57 steps, lr 0.01 · 16 / 256 */
    dm_train_options_for_size(&o, 900, NULL);
    cr_expect_eq(o.lr, 0.01f * 16.0f / 256.0f);
    cr_expect(o.batch == 16 && o.epochs == 106 && o.patience == 11 && o.lr_halve_every == 22, "%d %d %d %d", o.batch,
              o.epochs, o.patience, o.lr_halve_every);
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    o.epochs = 3;
    o.lr = 0.02f;
    o.patience = 0;
    o.lr_halve_every = 0;
    dm_train_options_for_size(&o, 900, NULL);
    cr_expect(o.batch == 32 && o.epochs == 3 && o.patience == 0 && o.lr_halve_every == 0 && o.lr == 0.02f,
              "%d %d %d %d", o.batch,
              o.epochs, o.patience, o.lr_halve_every);
    /* --rc augment: an epoch is both strands, so 900 sequences count as 1,800 (batch 32, 57 steps) */
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    o.rc = DM_RC_AUGMENT;
    dm_train_options_for_size(&o, 900, NULL);
    cr_expect(o.batch == 32 && o.epochs == 106 && o.patience == 11, "%d %d %d", o.batch, o.epochs, o.patience);
}

/* One epoch of dm_net_train on 96 simulated sequences (batch 32 by the rule, 3 steps) with a small
 * model of `arch`, the rest left to the set's size; the provenance it records. */
static void train_one_epoch(dm_arch arch, dm_provenance *prov) {
    dm_sim_options so;
    dm_sim_options_default(&so);
    so.n_pos = 48;
    so.len = 40;
    so.seed = 3;
    dm_dataset tr = {0};
    cr_assert_eq(dm_simulate(&tr, &so), DM_STATUS_OK, "%s", dm_last_error());
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = 40;
    hp.conv_channels = 8;
    hp.hidden = 4;
    dm_backend *be = dm_backend_cpu_create(1);
    cr_assert(be);
    dm_net *m;
    cr_assert_eq(dm_net_create(&m, &hp, be, 256), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_init_params(m, 3), DM_STATUS_OK);
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    memset(prov, 0, sizeof *prov);
    dm_resume_state st = {0};
    o.epochs = 1;
    cr_assert_eq(dm_net_train(m, &tr, NULL, &o, prov, &st, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect_eq(o.batch, DM_TRAIN_BY_SIZE, "the caller's options are left as they were");
    dm_resume_state_free(&st);
    dm_net_free(m);
    dm_backend_free(be);
    dm_dataset_free(&tr);
}

/* dm_net_train applies the rule to what its caller left open, for the model it trains: the
 * provenance records the batch and rate derived from the training set (the RNN's 4x) and the given
 * maximum epochs. */
Test(train_size, dm_net_train_resolves_the_rule) {
    static dm_provenance prov;
    train_one_epoch(DM_ARCH_CNN, &prov);
    cr_expect_eq(prov.batch, 32);
    cr_expect_eq(prov.lr0, 0.01f * 32.0f / 256.0f);
    cr_expect_eq(prov.epochs_max, 1);
    train_one_epoch(DM_ARCH_RNN, &prov);
    cr_expect_eq(prov.batch, 32);
    cr_expect_eq(prov.lr0, 4.0f * 0.01f * 32.0f / 256.0f);
    cr_expect_eq(prov.epochs_max, 1);
}

/* The CLI only parses: `train` without --batch prints the batch the rule chose for its split. */
Test(train_size, cli_reports_the_derived_batch, .timeout = 120) {
    char dir[] = "/tmp/dm_train_size_XXXXXX";
    cr_assert(mkdtemp(dir));
    /* 100 simulated sequences, 10 % held out: 90 training sequences → batch 32 */
    cr_assert_eq(dm_test_system("%s simulate --out %s/tr.seq.gz --n 50 --len 40 --seed 5 > /dev/null 2>&1",
                                DM_TEST_CLI, dir), 0);
    cr_assert_eq(dm_test_system("%s train --arch cnn --len 40 --train %s/tr.seq.gz --epochs 1 --threads 1 "
                                "--out %s/m.dm > %s/out 2> %s/err", DM_TEST_CLI, dir, dir, dir, dir), 0,
                 "%s", dm_test_slurp_in(dir, "err"));
    const char *err = dm_test_slurp_in(dir, "err");
    cr_expect(strstr(err, "batch 32,") != NULL, "%s", err);
    dm_test_rmdir(dir);
}

/* ---- the weights' moving average (train --ema) ----------------------------------------------- */

/* The rule: 0.999 from 4,096 to 8,191 sequences (the rule's count: twice the set under --rc augment),
 * not for a model whose LSTM reads the input, 0 elsewhere and under the original protocol; a given
 * value stays. */
Test(train_size, the_average_by_size) {
    cr_expect_eq(sized(4095, DM_PROTOCOL_DEFAULT).ema, 0.0f);
    cr_expect_eq(sized(4096, DM_PROTOCOL_DEFAULT).ema, 0.999f);
    cr_expect_eq(sized(7200, DM_PROTOCOL_DEFAULT).ema, 0.999f);
    cr_expect_eq(sized(8191, DM_PROTOCOL_DEFAULT).ema, 0.999f);
    cr_expect_eq(sized(8192, DM_PROTOCOL_DEFAULT).ema, 0.0f);
    cr_expect_eq(sized(1000000, DM_PROTOCOL_DEFAULT).ema, 0.0f);
    cr_expect_eq(sized(7200, DM_PROTOCOL_ORIGINAL).ema, 0.0f);
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    o.rc = DM_RC_AUGMENT;   /* 3,600 sequences count as 7,200 */
    dm_train_options_for_size(&o, 3600, NULL);
    cr_expect_eq(o.ema, 0.999f);
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_RNN);
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    dm_train_options_for_size(&o, 7200, &hp);
    cr_expect_eq(o.ema, 0.0f, "the RNN's own row has no average");
    dm_hparams_default(&hp, DM_ARCH_CNNRNN);
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    dm_train_options_for_size(&o, 7200, &hp);
    cr_expect_eq(o.ema, 0.999f);
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    o.ema = 0;
    dm_train_options_for_size(&o, 7200, NULL);
    cr_expect_eq(o.ema, 0.0f, "a given 0 stays");
}

/* The average recomputed on the host from the weights after every step (the batch hook runs after
 * the update): avg + (1 − d)·(w − avg), d = min(ema, (1 + t) / (10 + t)) at step t, the expression
 * of host/train.h; kept at every epoch end, beside the raw weights. */
typedef struct avg_ref {
    dm_net *m;
    int64_t np, t;
    float ema;
    float *w, *avg, *avg_at[8], *w_at[8];
} avg_ref;

static dm_status avg_hook(void *ctx, const dm_train_batch *b) {
    avg_ref *r = ctx;
    r->t++;
    cr_assert_eq(dm_net_get_params(r->m, r->w), DM_STATUS_OK);
    double d = (1.0 + (double)r->t) / (10.0 + (double)r->t);
    float s = 1.0f - (float)(d < r->ema ? d : r->ema);
    for (int64_t j = 0; j < r->np; j++) r->avg[j] = r->avg[j] + s * (r->w[j] - r->avg[j]);
    if (b->batch == b->n_batches) {
        memcpy(r->avg_at[b->epoch], r->avg, sizeof(float) * (size_t)r->np);
        memcpy(r->w_at[b->epoch], r->w, sizeof(float) * (size_t)r->np);
    }
    return DM_STATUS_OK;
}

/* 4 epochs (no early stop) on 96 simulated sequences with a validation set: the weights kept are the
 * host average at the selected epoch's end, not that epoch's weights; the resume state holds the
 * final average, the provenance the decay; with ema 0 the weights themselves are kept. */
static void avg_run(float ema, avg_ref *r, dm_provenance *prov, dm_resume_state *st, float **kept) {
    dm_sim_options so;
    dm_sim_options_default(&so);
    so.n_pos = 48;
    so.len = 40;
    so.seed = 3;
    dm_dataset tr = {0}, va = {0};
    cr_assert_eq(dm_simulate(&tr, &so), DM_STATUS_OK, "%s", dm_last_error());
    so.seed = 4;
    so.n_pos = 40;
    cr_assert_eq(dm_simulate(&va, &so), DM_STATUS_OK, "%s", dm_last_error());
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    hp.len = 40;
    hp.conv_channels = 8;
    dm_backend *be = dm_backend_cpu_create(1);
    cr_assert(be);
    cr_assert_eq(dm_net_create(&r->m, &hp, be, 256), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_init_params(r->m, 3), DM_STATUS_OK);
    r->np = dm_net_n_params(r->m);
    r->t = 0;
    r->ema = ema;
    r->w = malloc(sizeof(float) * (size_t)r->np);
    r->avg = malloc(sizeof(float) * (size_t)r->np);
    for (int e = 0; e < 8; e++) {
        r->avg_at[e] = calloc((size_t)r->np, sizeof(float));
        r->w_at[e] = calloc((size_t)r->np, sizeof(float));
    }
    cr_assert_eq(dm_net_get_params(r->m, r->avg), DM_STATUS_OK);   /* the average starts at the initial weights */
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    o.epochs = 4;
    o.patience = 0;
    o.ema = ema;
    o.on_batch = avg_hook;
    o.on_batch_ctx = r;
    memset(prov, 0, sizeof *prov);
    memset(st, 0, sizeof *st);
    cr_assert_eq(dm_net_train(r->m, &tr, &va, &o, prov, st, NULL), DM_STATUS_OK, "%s", dm_last_error());
    *kept = malloc(sizeof(float) * (size_t)r->np);
    cr_assert_eq(dm_net_get_params(r->m, *kept), DM_STATUS_OK);
    dm_net_free(r->m);
    dm_backend_free(be);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);
}

static void avg_free(avg_ref *r, dm_resume_state *st, float *kept) {
    free(r->w);
    free(r->avg);
    for (int e = 0; e < 8; e++) free(r->avg_at[e]), free(r->w_at[e]);
    dm_resume_state_free(st);
    free(kept);
}

/* Largest |a − b| / (1 + |b|). The engine's lerp and avg_hook round the same float expression in the
 * same order; only a DM_NATIVE build may contract either into an FMA (one rounding fewer per step,
 * about 6e-8 each over 12 steps), hence 1e-6, far below the gap between two epochs' weights. */
static double max_rel(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t j = 0; j < n; j++) {
        double d = fabs((double)a[j] - (double)b[j]) / (1.0 + fabs((double)b[j]));
        if (d > m) m = d;
    }
    return m;
}

Test(train_size, the_weight_average_is_what_is_kept) {
    static dm_provenance prov;
    avg_ref r;
    dm_resume_state st;
    float *kept;
    avg_run(0.99f, &r, &prov, &st, &kept);
    int e = prov.best_epoch;
    cr_assert(e >= 1 && e <= 4, "best epoch %d", e);
    cr_expect_eq(r.t, 12, "96 sequences in batches of 32 for 4 epochs: %lld steps", (long long)r.t);
    cr_expect_eq(prov.ema, 0.99f);
    cr_expect(max_rel(kept, r.avg_at[e], r.np) < 1e-6, "the kept weights are not epoch %d's average (%g)", e,
              max_rel(kept, r.avg_at[e], r.np));
    cr_expect(max_rel(kept, r.w_at[e], r.np) > 1e-3, "the kept weights are epoch %d's own weights", e);
    cr_assert(st.avg, "the resume state lacks the average");
    cr_expect(max_rel(st.avg, r.avg, r.np) < 1e-6, "the resume state's average is not the final one");
    avg_free(&r, &st, kept);
    /* ema 0: the weights themselves, no average in the state or the provenance */
    avg_run(0.0f, &r, &prov, &st, &kept);
    e = prov.best_epoch;
    cr_expect(memcmp(kept, r.w_at[e], sizeof(float) * (size_t)r.np) == 0, "ema 0 keeps epoch %d's weights", e);
    cr_expect(!st.avg && prov.ema == 0.0f);
    avg_free(&r, &st, kept);
}
