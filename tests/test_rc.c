/*
 * test_rc.c: reverse-complement handling and ensembles (issue 15; host/predavg.c, the PRED and ENSM
 * sections of host/checkpoint.c, train --rc / --seeds / --ensemble).
 *
 * Reverse complements: rc(rc(s)) == s (short rows keep their padding on the right); a strand-
 * averaging model gives a sequence and its reverse complement the same score bit for bit (the mean
 * of the same two floats, and IEEE addition commutes), and its saliency map of rc(s), mapped back,
 * is its map of s; --rc augment is seeded (same seed, same weights) and changes training.
 * Ensembles: the score is the mean of the members' P (compared with the members loaded one by one,
 * averaged as predavg.c defines it: exact); old (format 1) files load with rc off and one member; a
 * damaged ENSM is one CORRUPT line naming the file; the CLI writes MODEL.seedS and the ensemble.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dm_internal.h"
#include "dm_rng.h"
#include "netio.h"
#include "predavg.h"
#include "saliency.h"
#include "testutil.h"
#include "train.h"

#define L 40

/* A small CNN on the CPU backend (2 threads), weights from `seed`. */
static dm_net *small_cnn(dm_backend *be, uint64_t seed) {
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    hp.len = L;
    hp.conv_channels = 16;
    dm_net *m;
    cr_assert(dm_net_create(&m, &hp, be, 64) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(dm_net_init_params(m, seed) == DM_STATUS_OK);
    return m;
}

/* n random rows of length L: every 5th row is short (seq_len < L, padded), some bases N; labels from
 * a planted motif so that training has something to learn. */
static void random_rows(dm_dataset *ds, int64_t n, uint64_t tag) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->len = L;
    ds->seq = malloc((size_t)n * L);
    ds->seq_len = malloc(sizeof(int32_t) * (size_t)n);
    ds->label = malloc((size_t)n);
    ds->group = malloc(sizeof(int64_t) * (size_t)n);
    ds->id = calloc((size_t)n, sizeof(char *));
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 77, tag);
    static const uint8_t motif[6] = {DM_BASE_C, DM_BASE_A, DM_BASE_C, DM_BASE_G, DM_BASE_T, DM_BASE_G};
    for (int64_t i = 0; i < n; i++) {
        int32_t used = i % 5 == 4 ? L - 7 - (int32_t)(i % 3) : L;
        uint8_t *s = ds->seq + (size_t)i * L;
        for (int j = 0; j < L; j++) {
            uint64_t v = dm_rng_u64(&r) % 41;
            s[j] = j >= used ? DM_BASE_PAD : v == 40 ? DM_BASE_N : (uint8_t)(v % 4);
        }
        ds->label[i] = (int8_t)(i % 2);
        if (ds->label[i]) memcpy(s + 10, motif, sizeof motif);
        ds->seq_len[i] = used;
        ds->group[i] = i;
        char id[32];
        snprintf(id, sizeof id, "r%lld", (long long)i);
        ds->id[i] = strdup(id);
    }
}

Test(rc, revcomp_is_an_involution) {
    uint8_t a[L], b[L], c[L];
    for (int used = 0; used <= L; used += 7) {
        for (int j = 0; j < L; j++) a[j] = j < used ? (uint8_t)((j * 7 + used) % 5) : DM_BASE_PAD;
        dm_revcomp_row(b, a, L, used);
        dm_revcomp_row(c, b, L, used);
        cr_assert_eq(memcmp(a, c, L), 0, "used %d", used);
        for (int j = 0; j < used; j++) {
            uint8_t x = a[used - 1 - j];
            cr_assert_eq(b[j], x < 4 ? 3 - x : x, "used %d position %d", used, j);
        }
        for (int j = used; j < L; j++) cr_assert_eq(b[j], DM_BASE_PAD);
    }
    /* a map of the reverse strand, mapped back: position j, base c -> used-1-j, 3-c */
    float m[L * 4], back[L * 4];
    for (int i = 0; i < L * 4; i++) m[i] = (float)i;
    dm_revcomp_map_back(back, m, L, 30);
    cr_assert_eq(back[(29 - 3) * 4 + (3 - 1)], m[3 * 4 + 1]);
    cr_assert_eq(back[35 * 4 + 2], m[35 * 4 + 2]);
}

/* Strand averaging: score(s) == score(rc(s)) exactly, and it is not the one-strand score. */
Test(rc, average_is_strand_symmetric) {
    dm_backend *be = dm_backend_cpu_create(2);
    dm_net *m = small_cnn(be, 5);
    dm_dataset ds, rc;
    random_rows(&ds, 150, 1);
    cr_assert(dm_dataset_revcomp(&ds, &rc) == DM_STATUS_OK);
    float *plain = malloc(sizeof(float) * 150), *a = malloc(sizeof(float) * 150), *b = malloc(sizeof(float) * 150);
    cr_assert(dm_net_predict(m, &ds, false, plain) == DM_STATUS_OK);
    dm_net_pred_of(m)->rc = DM_RC_AVERAGE;
    cr_assert(dm_net_predict(m, &ds, false, a) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(dm_net_predict(m, &rc, false, b) == DM_STATUS_OK);
    int differ = 0;
    for (int i = 0; i < 150; i++) {
        /* exact: both are 0.5f * (P(s) + P(rc s)) of the same two floats, from batches of the same rows */
        cr_assert_eq(a[i], b[i], "row %d: %.9g vs %.9g", i, a[i], b[i]);
        differ += a[i] != plain[i];
    }
    cr_assert_gt(differ, 100, "strand averaging changed only %d of 150 scores", differ);
    free(plain), free(a), free(b), free(rc.seq);
    dm_dataset_free(&ds);
    dm_net_free(m);
    dm_backend_free(be);
}

/* The saliency of rc(s), mapped back, is the saliency of s (grad, strand-averaging model). */
Test(rc, saliency_maps_back) {
    dm_backend *be = dm_backend_cpu_create(2);
    dm_net *m = small_cnn(be, 6);
    dm_net_pred_of(m)->rc = DM_RC_AVERAGE;
    dm_dataset ds, rc;
    random_rows(&ds, 20, 2);
    cr_assert(dm_dataset_revcomp(&ds, &rc) == DM_STATUS_OK);
    dm_saliency_options so = {0};
    dm_sal_dev *dev;
    cr_assert(dm_sal_dev_create(&dev, m, &so) == DM_STATUS_OK, "%s", dm_last_error());
    float *a = malloc(sizeof(float) * 20 * L * 4), *b = malloc(sizeof(float) * 20 * L * 4), back[L * 4];
    float pa[20], pb[20];
    cr_assert(dm_sal_avg_batch(dev, m, &so, &ds, 0, 20, 0, a, pa) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(dm_sal_avg_batch(dev, m, &so, &rc, 0, 20, 0, b, pb) == DM_STATUS_OK);
    for (int r = 0; r < 20; r++) {
        cr_assert_eq(pa[r], pb[r], "row %d", r);
        dm_revcomp_map_back(back, b + (size_t)r * L * 4, L, ds.seq_len[r]);
        /* exact: the same two maps (one permuted) added in the other order */
        cr_assert_eq(memcmp(back, a + (size_t)r * L * 4, sizeof back), 0, "row %d", r);
    }
    free(a), free(b), free(rc.seq);
    dm_sal_dev_free(dev);
    dm_dataset_free(&ds);
    dm_net_free(m);
    dm_backend_free(be);
}

/* Weights after one epoch of training with the given rc flags and seed. */
static float *train_once(uint32_t rc, uint64_t seed, int64_t *np) {
    dm_backend *be = dm_backend_cpu_create(2);
    dm_net *m = small_cnn(be, seed);
    dm_dataset tr, va;
    random_rows(&tr, 160, 3);
    random_rows(&va, 40, 4);
    dm_train_options o;
    dm_train_options_default(&o, DM_PROTOCOL_DEFAULT);
    o.epochs = 1;
    o.batch = 32;
    o.seed = seed;
    o.rc = rc;
    dm_provenance *prov = calloc(1, sizeof *prov);
    dm_resume_state st = {0};
    cr_assert(dm_net_train(m, &tr, &va, &o, prov, &st, NULL) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(prov->n_train, rc & DM_RC_AUGMENT ? 320 : 160);
    *np = dm_net_n_params(m);
    float *w = malloc(sizeof(float) * (size_t)*np);
    cr_assert(dm_net_get_params(m, w) == DM_STATUS_OK);
    free(prov);
    dm_resume_state_free(&st);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);
    dm_net_free(m);
    dm_backend_free(be);
    return w;
}

Test(rc, augment_is_seeded) {
    int64_t n1, n2, n3;
    float *a = train_once(DM_RC_AUGMENT | DM_RC_AVERAGE, 11, &n1), *b = train_once(DM_RC_AUGMENT | DM_RC_AVERAGE, 11, &n2);
    float *c = train_once(0, 11, &n3);
    cr_assert_eq(memcmp(a, b, sizeof(float) * (size_t)n1), 0, "same seed, different weights");
    cr_assert_neq(memcmp(a, c, sizeof(float) * (size_t)n1), 0, "augmentation changed nothing");
    free(a), free(b), free(c);
}

/* ---- ensembles --------------------------------------------------------------------------------- */

/* Writes a 3-member ensemble (weights of seeds 21, 22, 23) with rc flags `rc` to dir/ens.dm. */
static void write_ensemble(const char *path, uint32_t rc, float **members, int64_t *np) {
    dm_backend *be = dm_backend_cpu_create(1);
    dm_net *m = small_cnn(be, 21);
    *np = dm_net_n_params(m);
    *members = malloc(sizeof(float) * 3 * (size_t)*np);
    for (int k = 0; k < 3; k++) {
        cr_assert(dm_net_init_params(m, 21 + (uint64_t)k) == DM_STATUS_OK);
        cr_assert(dm_net_get_params(m, *members + (size_t)k * (size_t)*np) == DM_STATUS_OK);
    }
    dm_provenance *prov = calloc(1, sizeof *prov);
    int32_t nt;
    const dm_tensor_info *t = dm_net_tensors(m, &nt);
    dm_ckpt_extra x = {.rc = rc, .n_members = 3, .members = *members + *np};
    cr_assert(dm_checkpoint_save_ex(path, dm_net_hparams(m), t, nt, *members, *np, prov, NULL, &x) == DM_STATUS_OK,
              "%s", dm_last_error());
    free(prov);
    dm_net_free(m);
    dm_backend_free(be);
}

Test(ensemble, mean_of_members) {
    char *dir = dm_test_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/ens.dm", dir);
    for (uint32_t rc = 0; rc <= DM_RC_AVERAGE; rc += DM_RC_AVERAGE) {
        float *members;
        int64_t np;
        write_ensemble(path, rc, &members, &np);
        dm_backend *be = dm_backend_cpu_create(2);
        dm_net *e;
        cr_assert(dm_net_load(path, be, 64, &e, NULL) == DM_STATUS_OK, "%s", dm_last_error());
        cr_assert_eq(dm_net_n_members(e), 3);
        cr_assert_eq(dm_net_rc(e), rc);
        dm_dataset ds, rcd;
        random_rows(&ds, 100, 5);
        cr_assert(dm_dataset_revcomp(&ds, &rcd) == DM_STATUS_OK);
        float *got = malloc(sizeof(float) * 100), *p = malloc(sizeof(float) * 100);
        cr_assert(dm_net_predict(e, &ds, false, got) == DM_STATUS_OK, "%s", dm_last_error());
        /* the members one by one, each a separate single model */
        double f[100] = {0}, r[100] = {0};
        for (int k = 0; k < 3; k++) {
            dm_net *m = small_cnn(be, 1);
            cr_assert(dm_net_set_params(m, members + (size_t)k * (size_t)np) == DM_STATUS_OK);
            cr_assert(dm_net_predict(m, &ds, false, p) == DM_STATUS_OK);
            for (int i = 0; i < 100; i++) f[i] += p[i];
            cr_assert(dm_net_predict(m, &rcd, false, p) == DM_STATUS_OK);
            for (int i = 0; i < 100; i++) r[i] += p[i];
            dm_net_free(m);
        }
        for (int i = 0; i < 100; i++) {
            float want = (float)(f[i] / 3);
            if (rc) want = 0.5f * (want + (float)(r[i] / 3));
            /* exact: the same forward passes on the same batches, summed in the same order */
            cr_assert_eq(got[i], want, "rc %u row %d: %.9g vs %.9g", rc, i, got[i], want);
        }
        free(got), free(p), free(members), free(rcd.seq);
        dm_dataset_free(&ds);
        dm_net_free(e);
        dm_backend_free(be);
    }
    dm_test_rmdir(dir);
    free(dir);
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    cr_assert_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void spill(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert(f && fwrite(b, 1, n, f) == n);
    fclose(f);
}

/* A format-1 file (no PRED, no ENSM) loads with rc off and one member; a format-3 file says 3; the
 * old reader (dm_checkpoint_load) reads member 0 of an ensemble. */
Test(ensemble, formats) {
    char *dir = dm_test_tmpdir(), path[4200], old[4200];
    snprintf(path, sizeof path, "%s/ens.dm", dir);
    snprintf(old, sizeof old, "%s/old.dm", dir);
    float *members;
    int64_t np;
    write_ensemble(path, DM_RC_AUGMENT | DM_RC_AVERAGE, &members, &np);
    size_t n;
    uint8_t *b = slurp(path, &n);
    cr_assert_eq(b[8], 3);
    free(b);
    dm_hparams hp;
    float *params;
    int64_t np2;
    dm_provenance *prov = calloc(1, sizeof *prov);
    cr_assert(dm_checkpoint_load(path, dm_net_table, &hp, &params, &np2, prov, NULL) == DM_STATUS_OK);
    cr_assert_eq(memcmp(params, members, sizeof(float) * (size_t)np), 0);
    dm_tensor_info t[DM_MAX_TENSORS];
    int32_t nt = dm_net_table(&hp, t, &np2);
    cr_assert(dm_checkpoint_save(old, &hp, t, nt, params, np2, prov, NULL) == DM_STATUS_OK);
    b = slurp(old, &n);
    cr_assert_eq(b[8], 1);
    free(b);
    dm_backend *be = dm_backend_cpu_create(1);
    dm_net *m;
    cr_assert(dm_net_load(old, be, 8, &m, NULL) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_rc(m), 0);
    cr_assert_eq(dm_net_n_members(m), 1);
    dm_net_free(m);
    dm_backend_free(be);
    free(params);
    free(prov);
    free(members);
    dm_test_rmdir(dir);
    free(dir);
}

/* A damaged ENSM with a valid CRC: one CORRUPT line naming the file and the section. */
Test(ensemble, bad_file_is_one_line) {
    char *dir = dm_test_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/ens.dm", dir);
    float *members;
    int64_t np;
    write_ensemble(path, 0, &members, &np);
    size_t n;
    uint8_t *b = slurp(path, &n);
    uint8_t *e = memmem(b, n, "ENSM", 4);
    cr_assert(e);
    for (int variant = 0; variant < 3; variant++) {
        uint8_t *c = malloc(n);
        memcpy(c, b, n);
        uint8_t *f = c + (e - b) + 12;   /* the payload: u32 n_members, u64 n_params, floats */
        if (variant == 0) f[0] = 9;      /* more members than the bytes hold */
        if (variant == 1) f[0] = 1;      /* an ensemble of one */
        if (variant == 2) f[4] ^= 1;     /* another parameter count */
        uint32_t crc = (uint32_t)crc32(0L, c, (uInt)(n - 4));
        for (int i = 0; i < 4; i++) c[n - 4 + i] = (uint8_t)(crc >> (8 * i));
        spill(path, c, n);
        dm_backend *be = dm_backend_cpu_create(1);
        dm_net *m = NULL;
        cr_assert_eq(dm_net_load(path, be, 8, &m, NULL), DM_STATUS_CORRUPT, "variant %d", variant);
        cr_assert_null(m);
        const char *msg = dm_last_error();
        cr_assert(strstr(msg, path) && strstr(msg, "ENSM") && !strchr(msg, '\n'), "variant %d: %s", variant, msg);
        dm_backend_free(be);
        free(c);
    }
    free(b);
    free(members);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- the command line -------------------------------------------------------------------------- */

static int cli_in(const char *dir, const char *args) {
    return dm_test_system("OPENBLAS_NUM_THREADS=1 %s %s > %s/out 2> %s/err", DM_TEST_CLI, args, dir, dir);
}

/* train --rc both --seeds 2 --ensemble: two member files, mean ± sd, one ensemble that predict, eval
 * and saliency take; motifs refuses it in one line; a member predicts differently from the mean. */
Test(ensemble, cli_seeds_ensemble, .timeout = 600) {
    char *dir = dm_test_tmpdir(), a[8192];
    snprintf(a, sizeof a, "simulate --out %s/tr.seq.gz --n 300 --len 40 --seed 2", dir);
    cr_assert_eq(cli_in(dir, a), 0, "%s", dm_test_slurp_in(dir, "err"));
    snprintf(a, sizeof a, "train --arch cnn --len 40 --train %s/tr.seq.gz --test %s/tr.seq.gz --epochs 1 --batch 64 "
             "--rc both --seeds 2 --seed 5 --ensemble --out %s/e.dm --threads 1 --quiet", dir, dir, dir);
    cr_assert_eq(cli_in(dir, a), 0, "%s", dm_test_slurp_in(dir, "err"));
    char *out = dm_test_slurp_in(dir, "out");
    cr_assert(strstr(out, "seed 5") && strstr(out, "seed 6") && strstr(out, "±") && strstr(out, "ensemble"), "%s", out);
    cr_assert(dm_test_exists_in(dir, "e.dm.seed5") && dm_test_exists_in(dir, "e.dm.seed6.last") &&
              dm_test_exists_in(dir, "e.dm"));
    const char *models[3] = {"e.dm", "e.dm.seed5", "e.dm.seed6"};
    char *pred[3];
    for (int k = 0; k < 3; k++) {
        snprintf(a, sizeof a, "predict --model %s/%s --data %s/tr.seq.gz --out %s/p%d.tsv --threads 1", dir, models[k],
                 dir, dir, k);
        cr_assert_eq(cli_in(dir, a), 0, "%s", dm_test_slurp_in(dir, "err"));
        snprintf(a, sizeof a, "p%d.tsv", k);
        pred[k] = strdup(dm_test_slurp_in(dir, a));
    }
    cr_assert(strcmp(pred[0], pred[1]) && strcmp(pred[0], pred[2]), "the ensemble scores as one member");
    for (int k = 0; k < 3; k++) free(pred[k]);
    snprintf(a, sizeof a, "eval --model %s/e.dm --data %s/tr.seq.gz --threads 1", dir, dir);
    cr_assert_eq(cli_in(dir, a), 0, "%s", dm_test_slurp_in(dir, "err"));
    snprintf(a, sizeof a, "saliency --model %s/e.dm --data %s/tr.seq.gz --out %s/s --threads 1 --quiet", dir, dir, dir);
    cr_assert_eq(cli_in(dir, a), 0, "%s", dm_test_slurp_in(dir, "err"));
    /* scan of one window of an rc ensemble: the strands' mean by default, predict's score of that window */
    dm_test_write_in(dir, "w.fa", ">w1\nACGTTGCATGCATGCAAGTCCGTAGCTAGCTAGGCTAACG\n");
    snprintf(a, sizeof a, "scan --model %s/e.dm --data %s/w.fa --out %s/sc --format bedgraph --threads 1 --quiet", dir,
             dir, dir);
    cr_assert_eq(cli_in(dir, a), 0, "%s", dm_test_slurp_in(dir, "err"));
    double v_scan = NAN, v_pred = NAN;
    sscanf(dm_test_slurp_in(dir, "sc.bedGraph"), "w1 %*d %*d %lf", &v_scan);
    snprintf(a, sizeof a, "predict --model %s/e.dm --data %s/w.fa --out %s/pw.tsv --threads 1", dir, dir, dir);
    cr_assert_eq(cli_in(dir, a), 0, "%s", dm_test_slurp_in(dir, "err"));
    sscanf(dm_test_slurp_in(dir, "pw.tsv"), "id score w1 %lf", &v_pred);
    /* both printed to 6 significant digits (%.6g): they agree to its last digit */
    cr_assert(fabs(v_scan - v_pred) <= 1e-6, "scan %.9g, predict %.9g", v_scan, v_pred);
    snprintf(a, sizeof a, "motifs --model %s/e.dm --data %s/tr.seq.gz --out %s/m --threads 1", dir, dir, dir);
    cr_assert_eq(cli_in(dir, a), 1);
    char *err = dm_test_slurp_in(dir, "err");
    cr_assert(strstr(err, "e.dm: an ensemble of 2 models") && strchr(err, '\n') == err + strlen(err) - 1, "%s", err);
    cr_assert(!dm_test_exists_in(dir, "m.meme"));
    dm_test_rmdir(dir);
    free(dir);
}

/* The C API: dm_model_load keeps the rc flags and members, dm_predict averages as the CLI does
 * (codes and one-hot input alike), dm_model_save writes them back. */
Test(ensemble, api_predict) {
    char *dir = dm_test_tmpdir(), path[4200], again[4200];
    snprintf(path, sizeof path, "%s/ens.dm", dir);
    snprintf(again, sizeof again, "%s/again.dm", dir);
    float *members;
    int64_t np;
    write_ensemble(path, DM_RC_AVERAGE, &members, &np);
    dm_dataset ds;
    random_rows(&ds, 50, 6);
    for (int64_t i = 0; i < ds.n; i++) ds.seq_len[i] = L;   /* whole rows: a one-hot row has no length */
    for (size_t v = 0; v < (size_t)ds.n * L; v++) if (ds.seq[v] > 3) ds.seq[v] = DM_BASE_A;
    dm_backend *be = dm_backend_cpu_create(1);
    dm_net *e;
    cr_assert(dm_net_load(path, be, 256, &e, NULL) == DM_STATUS_OK);
    float want[50], got[50], got1[50], *x = malloc(sizeof(float) * 50 * L * 4);
    cr_assert(dm_net_predict(e, &ds, false, want) == DM_STATUS_OK);
    dm_model *m;
    cr_assert(dm_model_load(path, &m) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(dm_model_save(m, again) == DM_STATUS_OK);
    dm_model_free(m);
    cr_assert(dm_model_load(again, &m) == DM_STATUS_OK, "%s", dm_last_error());
    dm_input in = {.n = 50, .len = L, .codes = ds.seq};
    cr_assert(dm_predict(m, be, &in, got, NULL, NULL) == DM_STATUS_OK, "%s", dm_last_error());
    dm_onehot_host(x, ds.seq, 50 * L, false);
    dm_input in1 = {.n = 50, .len = L, .onehot = x};
    cr_assert(dm_predict(m, be, &in1, got1, NULL, NULL) == DM_STATUS_OK, "%s", dm_last_error());
    for (int i = 0; i < 50; i++) {
        /* exact: the same members, strands and batches as dm_net_predict */
        cr_assert_eq(got[i], want[i], "codes row %d: %.9g vs %.9g", i, got[i], want[i]);
        /* one-hot input runs the same forward passes on the same one-hot rows */
        cr_assert_eq(got1[i], want[i], "one-hot row %d: %.9g vs %.9g", i, got1[i], want[i]);
    }
    free(x);
    free(members);
    dm_model_free(m);
    dm_net_free(e);
    dm_backend_free(be);
    dm_dataset_free(&ds);
    dm_test_rmdir(dir);
    free(dir);
}

/* Format 3 with a mid-epoch resume state (flags bit 1): the state comes back whole, with the rc flags;
 * the same state without rc is the format-2 file it always was. */
Test(rc, format3_mid_epoch_resume) {
    char *dir = dm_test_tmpdir(), path[4200];
    snprintf(path, sizeof path, "%s/m.last", dir);
    dm_backend *be = dm_backend_cpu_create(1);
    dm_net *m = small_cnn(be, 3);
    int64_t np = dm_net_n_params(m);
    float *w = malloc(sizeof(float) * (size_t)np), *mv = malloc(sizeof(float) * 3 * (size_t)np);
    cr_assert(dm_net_get_params(m, w) == DM_STATUS_OK);
    for (int64_t i = 0; i < 3 * np; i++) mv[i] = (float)i * 0.25f;
    float lp[8] = {-0.1f, -2.3f, -0.5f, -0.9f, -1.5f, -0.25f, -0.7f, -0.7f}, ls[4] = {0.1f, 0.5f, 0.25f, 0.7f};
    dm_resume_state rs = {.epoch_done = 2, .adam_t = 17, .lr = 0.005f, .best_valid = 0.75, .best_epoch = 1,
                          .bad_epochs = 1, .adam_m = mv, .adam_v = mv + np, .best_params = mv + 2 * np,
                          .batch_done = 2, .batch = 2, .rows_done = 4, .part_logprob = lp, .part_loss = ls};
    dm_provenance *prov = calloc(1, sizeof *prov);
    int32_t nt;
    const dm_tensor_info *t = dm_net_tensors(m, &nt);
    for (uint32_t rc = 0; rc <= 3; rc += 3) {
        dm_ckpt_extra x = {.rc = rc, .n_members = 1};
        cr_assert(dm_checkpoint_save_ex(path, dm_net_hparams(m), t, nt, w, np, prov, &rs, &x) == DM_STATUS_OK);
        size_t n;
        uint8_t *b = slurp(path, &n);
        cr_assert_eq(b[8], rc ? 3 : 2);
        cr_assert_eq(b[12], rc ? 3 : 1);
        free(b);
        dm_hparams hp;
        float *params;
        int64_t np2;
        dm_resume_state got;
        dm_ckpt_extra gx;
        cr_assert(dm_checkpoint_load_ex(path, dm_net_table, &hp, &params, &np2, prov, &got, &gx) == DM_STATUS_OK,
                  "%s", dm_last_error());
        cr_assert_eq(gx.rc, rc);
        cr_assert_eq(gx.n_members, 1);
        cr_assert(got.batch_done == 2 && got.batch == 2 && got.rows_done == 4 && got.adam_t == 17);
        cr_assert_eq(memcmp(got.part_logprob, lp, sizeof lp), 0);
        cr_assert_eq(memcmp(got.part_loss, ls, sizeof ls), 0);
        cr_assert_eq(memcmp(got.best_params, mv + 2 * np, sizeof(float) * (size_t)np), 0);
        dm_resume_state_free(&got);
        free(params);
    }
    free(prov);
    free(w);
    free(mv);
    dm_net_free(m);
    dm_backend_free(be);
    dm_test_rmdir(dir);
    free(dir);
}
