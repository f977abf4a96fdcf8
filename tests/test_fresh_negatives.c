/*
 * test_fresh_negatives.c: train --fresh-negatives (host/dataset.c's pairs and per-epoch shuffles,
 * host/train.c's epoch loop, the checkpoint's NEGF section, the CLI and dm_train).
 *
 * What must hold: every negative that is a dinucleotide shuffle of its group's positive is found
 * (also in a reverse-complement-augmented set, where a group holds two positives), and no other;
 * each epoch's negatives are exact shuffles of their positives (dinucleotide counts, ends, padding),
 * new every epoch, the same for the same seed and epoch, and nothing else changes; epoch 1 trains on
 * the negatives given (one epoch with and without the option: the same weights), later epochs on new
 * ones (different weights); a run resumed from its MODEL.last ends bit for bit where the
 * uninterrupted run ends; the option is recorded (NEGF) and a bad section is named.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "deepmotif.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "model.h"
#include "predavg.h"
#include "simulate.h"
#include "testutil.h"
#include "train.h"

/* n positives of random lengths 20..40 (some padded to 40, one holding an N), each followed by its
 * shuffle (dm_dataset_with_shuffled_negatives) */
static void padded_pairs(dm_dataset *out, int64_t n, uint64_t seed) {
    dm_dataset pos = {0};
    int32_t L = 40;
    pos.n = n;
    pos.len = L;
    pos.seq = malloc((size_t)(n * L));
    pos.seq_len = malloc(sizeof(int32_t) * (size_t)n);
    pos.label = malloc((size_t)n);
    pos.group = malloc(sizeof(int64_t) * (size_t)n);
    pos.id = calloc((size_t)n, sizeof(char *));
    cr_assert(pos.seq && pos.seq_len && pos.label && pos.group && pos.id);
    dm_rng r;
    dm_rng_init(&r, seed, DM_STREAM_SIMULATE, 0);
    for (int64_t i = 0; i < n; i++) {
        int32_t m = 20 + (int32_t)dm_rng_below(&r, 21);
        for (int32_t p = 0; p < L; p++) pos.seq[i * L + p] = p < m ? (uint8_t)dm_rng_below(&r, 4) : DM_BASE_PAD;
        if (i == 3) pos.seq[i * L + 5] = DM_BASE_N;
        pos.seq_len[i] = m;
        pos.label[i] = 1;
        pos.group[i] = i;
    }
    cr_assert_eq(dm_dataset_with_shuffled_negatives(out, &pos, seed), DM_STATUS_OK, "%s", dm_last_error());
    dm_dataset_free(&pos);
}

/* the pairs of ds: each negative with a positive of its group and its composition */
static void check_pairs(const dm_dataset *ds, const int64_t *pairs, int64_t n_pairs) {
    for (int64_t k = 0; k < n_pairs; k++) {
        int64_t i = pairs[2 * k], p = pairs[2 * k + 1];
        cr_assert(i >= 0 && i < ds->n && p >= 0 && p < ds->n);
        cr_expect(ds->label[i] == 0 && ds->label[p] == 1 && ds->group[i] == ds->group[p], "pair %lld: rows %lld, %lld",
                  (long long)k, (long long)i, (long long)p);
        cr_expect(dm_rows_same_composition(ds, p, i), "pair %lld: not a shuffle", (long long)k);
    }
}

Test(fresh_negatives, every_shuffle_pair_is_found_and_nothing_else) {
    dm_dataset full, tr, va, aug;
    padded_pairs(&full, 60, 11);
    int64_t *pairs = NULL, n_pairs = 0;
    cr_assert_eq(dm_dataset_shuffle_pairs(&full, &pairs, &n_pairs), DM_STATUS_OK);
    cr_expect_eq(n_pairs, 60);
    check_pairs(&full, pairs, n_pairs);
    free(pairs);
    /* after the split (rows copied in order) and with reverse complements (two positives a group) */
    cr_assert_eq(dm_dataset_split(&full, 0.2, 3, &tr, &va), DM_STATUS_OK);
    cr_assert_eq(dm_dataset_with_revcomp(&tr, &aug), DM_STATUS_OK);
    cr_assert_eq(dm_dataset_shuffle_pairs(&aug, &pairs, &n_pairs), DM_STATUS_OK);
    cr_expect_eq(n_pairs, tr.n, "%lld of %lld negatives paired", (long long)n_pairs, (long long)tr.n);
    check_pairs(&aug, pairs, n_pairs);
    for (int64_t k = 0; k < n_pairs; k++)   /* a reverse complement's shuffle pairs with the reverse complement */
        cr_expect((pairs[2 * k] < tr.n) == (pairs[2 * k + 1] < tr.n), "pair %lld crosses the strands", (long long)k);
    free(pairs);
    /* a negative that is not a shuffle (one base changed in the middle), one whose positive is gone
     * (relabelled), a positive with no negative: none of them pairs */
    int32_t L = full.len;
    uint8_t *b = full.seq + 1 * L + 10;
    *b = (uint8_t)((*b + 1) % 4);
    full.label[4] = 0;   /* row 5 (group 2's negative) loses its positive; row 4 becomes a negative of no positive */
    cr_assert_eq(dm_dataset_shuffle_pairs(&full, &pairs, &n_pairs), DM_STATUS_OK);
    cr_expect_eq(n_pairs, 58);
    for (int64_t k = 0; k < n_pairs; k++)
        cr_expect(pairs[2 * k] != 1 && pairs[2 * k] != 4 && pairs[2 * k] != 5, "row %lld paired", (long long)pairs[2 * k]);
    free(pairs);
    /* a set without any: NULL, 0 */
    for (int64_t i = 0; i < full.n; i++) full.label[i] = 1;
    cr_assert_eq(dm_dataset_shuffle_pairs(&full, &pairs, &n_pairs), DM_STATUS_OK);
    cr_expect(n_pairs == 0 && pairs == NULL);
    dm_dataset_free(&aug);
    dm_dataset_free(&tr);
    dm_dataset_free(&va);
    dm_dataset_free(&full);
}

Test(fresh_negatives, each_epoch_new_exact_shuffles_and_nothing_else_changes) {
    dm_dataset ds;
    padded_pairs(&ds, 80, 12);
    int64_t *pairs = NULL, n_pairs = 0;
    cr_assert_eq(dm_dataset_shuffle_pairs(&ds, &pairs, &n_pairs), DM_STATUS_OK);
    size_t bytes = (size_t)(ds.n * ds.len);
    uint8_t *e2 = malloc(bytes), *e3 = malloc(bytes), *again = malloc(bytes), *other = malloc(bytes);
    uint8_t *keep = ds.seq;
    memcpy(e2, ds.seq, bytes);
    memcpy(e3, ds.seq, bytes);
    memcpy(again, ds.seq, bytes);
    memcpy(other, ds.seq, bytes);
    dm_dataset_fresh_negatives(e2, &ds, pairs, n_pairs, 5, 2);
    dm_dataset_fresh_negatives(e3, &ds, pairs, n_pairs, 5, 3);
    dm_dataset_fresh_negatives(again, &ds, pairs, n_pairs, 5, 2);
    dm_dataset_fresh_negatives(other, &ds, pairs, n_pairs, 6, 2);
    cr_expect(memcmp(e2, again, bytes) == 0, "the same seed and epoch gave other negatives");
    int64_t new2 = 0, new3 = 0, differ = 0, seed_differ = 0;
    for (int64_t i = 0; i < ds.n; i++) {
        const uint8_t *given = keep + i * ds.len;
        if (ds.label[i] == 1) {   /* positives as they were */
            cr_expect(memcmp(e2 + i * ds.len, given, (size_t)ds.len) == 0, "positive %lld changed", (long long)i);
            continue;
        }
        /* row i of each epoch, checked against its positive (row i - 1) as a data set of both rows */
        const uint8_t *rows[3] = {e2 + i * ds.len, e3 + i * ds.len, other + i * ds.len};
        for (int k = 0; k < 3; k++) {
            uint8_t two[80];
            memcpy(two, keep + (i - 1) * ds.len, (size_t)ds.len);
            memcpy(two + ds.len, rows[k], (size_t)ds.len);
            int32_t lens[2] = {ds.seq_len[i - 1], ds.seq_len[i - 1]};
            int8_t lab[2] = {1, 0};
            dm_dataset pair = {.n = 2, .len = ds.len, .seq = two, .seq_len = lens, .label = lab};
            cr_expect(dm_rows_same_composition(&pair, 0, 1), "row %lld, variant %d: not a shuffle", (long long)i, k);
            for (int32_t p = ds.seq_len[i - 1]; p < ds.len; p++)
                cr_expect(rows[k][p] == DM_BASE_PAD, "row %lld: padding at %d lost", (long long)i, p);
        }
        new2 += memcmp(rows[0], given, (size_t)ds.len) != 0;
        new3 += memcmp(rows[1], given, (size_t)ds.len) != 0;
        differ += memcmp(rows[0], rows[1], (size_t)ds.len) != 0;
        seed_differ += memcmp(rows[0], rows[2], (size_t)ds.len) != 0;
    }
    /* sequences of 20-40 random bases have millions of shuffles: a repeat is (nearly) impossible; 75
     * of 80 leaves room for a short sequence whose class is small */
    cr_expect(new2 >= 75 && new3 >= 75 && differ >= 75 && seed_differ >= 75, "new %lld, %lld; epochs differ %lld; "
              "seeds differ %lld (of 80)", (long long)new2, (long long)new3, (long long)differ, (long long)seed_differ);
    free(pairs);
    free(e2);
    free(e3);
    free(again);
    free(other);
    dm_dataset_free(&ds);
}

/* ---- training ------------------------------------------------------------------------------------ */


static void options(dm_train_options *o, int epochs, bool fresh) {
    dm_train_options_default(o, DM_PROTOCOL_DEFAULT);
    o->epochs = epochs;
    o->batch = 64;
    o->patience = 0;
    o->seed = 3;
    o->rc = DM_RC_AUGMENT | DM_RC_AVERAGE;
    o->fresh_negatives = fresh;
}

/* trains from init seed 1 for `epochs`; the final weights into w */
static void train_to(dm_test_run *r, int epochs, bool fresh, float *w, dm_provenance *prov) {
    cr_assert_eq(dm_net_init_params(r->m, 1), DM_STATUS_OK);
    dm_train_options o;
    options(&o, epochs, fresh);
    dm_resume_state st = {0};
    memset(prov, 0, sizeof *prov);
    cr_assert_eq(dm_net_train(r->m, &r->tr, &r->va, &o, prov, &st, w), DM_STATUS_OK, "%s", dm_last_error());
    dm_resume_state_free(&st);
}

static dm_provenance prov_a, prov_b;

Test(fresh_negatives, epoch_one_as_given_later_epochs_fresh, .timeout = 300) {
    dm_test_run r;
    dm_test_run_open(&r, 300, 64);
    float *a = malloc(sizeof(float) * (size_t)dm_net_n_params(r.m)), *b = malloc(sizeof(float) * (size_t)dm_net_n_params(r.m));
    train_to(&r, 1, true, a, &prov_a);
    train_to(&r, 1, false, b, &prov_b);
    cr_expect(memcmp(a, b, sizeof(float) * (size_t)dm_net_n_params(r.m)) == 0, "one epoch: the option changed the weights");
    cr_expect(prov_a.fresh_negatives && !prov_b.fresh_negatives);
    train_to(&r, 3, true, a, &prov_a);
    train_to(&r, 3, false, b, &prov_b);
    cr_expect(memcmp(a, b, sizeof(float) * (size_t)dm_net_n_params(r.m)) != 0, "three epochs: the option made no difference");
    /* the original protocol trains on the data as given: refused */
    dm_train_options o;
    options(&o, 2, true);
    o.protocol = DM_PROTOCOL_ORIGINAL;
    o.rc = 0;
    dm_resume_state st = {0};
    memset(&prov_a, 0, sizeof prov_a);
    cr_expect_eq(dm_net_train(r.m, &r.tr, NULL, &o, &prov_a, &st, NULL), DM_STATUS_ARG);
    cr_expect(strstr(dm_last_error(), "fresh negatives") != NULL, "%s", dm_last_error());
    dm_resume_state_free(&st);
    /* a set whose negatives are no shuffles of their positives (each a copy of the next pair's
     * positive): said, not trained */
    for (int64_t i = 1; i + 1 < r.tr.n; i += 2) memcpy(r.tr.seq + i * r.tr.len, r.tr.seq + (i + 1) * r.tr.len, (size_t)r.tr.len);
    memcpy(r.tr.seq + (r.tr.n - 1) * r.tr.len, r.tr.seq, (size_t)r.tr.len);
    options(&o, 2, true);
    memset(&prov_a, 0, sizeof prov_a);
    cr_expect_eq(dm_net_train(r.m, &r.tr, &r.va, &o, &prov_a, &st, NULL), DM_STATUS_ARG);
    cr_expect(strstr(dm_last_error(), "no training negative is a dinucleotide shuffle") != NULL, "%s", dm_last_error());
    dm_resume_state_free(&st);
    free(a);
    free(b);
    dm_test_run_close(&r);
}

typedef struct ckpt_ctx {
    const char *path;
    dm_test_run *r;
    dm_provenance *prov;
    int at_epoch;
    bool written;
} ckpt_ctx;

static dm_status write_at(void *ctx, const dm_train_checkpoint *c) {
    ckpt_ctx *k = ctx;
    if (c->epoch != k->at_epoch || k->written) return DM_STATUS_OK;
    int32_t nt;
    const dm_tensor_info *t = dm_net_tensors(k->r->m, &nt);
    k->written = true;
    return dm_checkpoint_save_ex(k->path, &k->r->hp, t, nt, c->params, dm_net_n_params(k->r->m), k->prov, c->state,
                                 NULL);
}

Test(fresh_negatives, a_resumed_run_is_bit_identical_and_the_file_records_it, .timeout = 300) {
    char *dir = dm_test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/run.last", dir);
    dm_test_run r;
    dm_test_run_open(&r, 300, 64);
    cr_assert_eq(dm_net_init_params(r.m, 1), DM_STATUS_OK);
    dm_train_options o;
    options(&o, 5, true);
    ckpt_ctx k = {.path = path, .r = &r, .prov = &prov_a, .at_epoch = 3};
    o.checkpoint = write_at;
    o.checkpoint_ctx = &k;
    dm_resume_state st = {0};
    memset(&prov_a, 0, sizeof prov_a);
    cr_assert_eq(dm_net_train(r.m, &r.tr, &r.va, &o, &prov_a, &st, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(k.written);
    float *want = malloc(sizeof(float) * (size_t)dm_net_n_params(r.m)), *got = malloc(sizeof(float) * (size_t)dm_net_n_params(r.m));
    cr_assert_eq(dm_net_get_params(r.m, want), DM_STATUS_OK);
    dm_resume_state_free(&st);
    /* resumed at epoch 3 from the file: NEGF says fresh negatives, epochs 4 and 5 draw the same ones */
    dm_hparams hp;
    float *params = NULL;
    int64_t n = 0;
    dm_resume_state rs = {0};
    memset(&prov_b, 0, sizeof prov_b);
    cr_assert_eq(dm_checkpoint_load_ex(path, dm_net_table, &hp, &params, &n, &prov_b, &rs, NULL), DM_STATUS_OK, "%s",
                 dm_last_error());
    cr_expect(prov_b.fresh_negatives, "NEGF did not round-trip");
    cr_assert_eq(dm_net_set_params(r.m, params), DM_STATUS_OK);
    o.checkpoint = NULL;
    o.fresh_negatives = prov_b.fresh_negatives;
    cr_assert_eq(dm_net_train(r.m, &r.tr, &r.va, &o, &prov_b, &rs, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_get_params(r.m, got), DM_STATUS_OK);
    cr_expect(memcmp(got, want, sizeof(float) * (size_t)dm_net_n_params(r.m)) == 0, "the resumed run ends elsewhere");
    dm_resume_state_free(&rs);
    free(params);
    /* the file's section: a run without the option writes none; a value other than 1 is named */
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    static char bytes[1 << 21];
    size_t size = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    cr_assert(size > 16 && size < sizeof bytes);
    size_t at = 0;
    for (size_t i = 16; i + 16 <= size; i++)
        if (!memcmp(bytes + i, "NEGF", 4)) at = i + 12;   /* tag, u64 length, then the u32 */
    cr_assert(at > 0 && bytes[at] == 1, "no NEGF section holding 1");
    bytes[at] = 2;
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)bytes, (uInt)(size - 4));
    for (int b = 0; b < 4; b++) bytes[size - 4 + b] = (char)(crc >> (8 * b));
    f = fopen(path, "wb");
    cr_assert(f && fwrite(bytes, 1, size, f) == size);
    fclose(f);
    params = NULL;
    cr_expect_eq(dm_checkpoint_load_ex(path, dm_net_table, &hp, &params, &n, &prov_b, NULL, NULL), DM_STATUS_CORRUPT);
    cr_expect(strstr(dm_last_error(), "section NEGF") != NULL && strstr(dm_last_error(), path) != NULL, "%s",
              dm_last_error());
    free(params);
    prov_a.fresh_negatives = false;
    int32_t nt;
    const dm_tensor_info *t = dm_net_tensors(r.m, &nt);
    cr_assert_eq(dm_checkpoint_save_ex(path, &r.hp, t, nt, want, dm_net_n_params(r.m), &prov_a, NULL, NULL), DM_STATUS_OK);
    f = fopen(path, "rb");
    cr_assert(f);
    size = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    bool found = false;
    for (size_t i = 0; i + 4 <= size; i++) found |= !memcmp(bytes + i, "NEGF", 4);
    cr_expect(!found, "a file without fresh negatives has a NEGF section");
    free(want);
    free(got);
    dm_test_run_close(&r);
    dm_test_rmdir(dir);
    free(dir);
}

/* ---- the CLI and the library ------------------------------------------------------------------- */

/* whether checkpoints DIR/A and DIR/B hold the same weights, bit for bit */
static bool same_weights(const char *dir, const char *a, const char *b) {
    float *p[2] = {NULL, NULL};
    int64_t n[2] = {0, 0};
    const char *names[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        char path[4200];
        dm_hparams hp;
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        memset(&prov_a, 0, sizeof prov_a);
        cr_assert_eq(dm_checkpoint_load_ex(path, dm_net_table, &hp, &p[k], &n[k], &prov_a, NULL, NULL), DM_STATUS_OK,
                     "%s", dm_last_error());
    }
    bool same = n[0] == n[1] && memcmp(p[0], p[1], sizeof(float) * (size_t)n[0]) == 0;
    free(p[0]);
    free(p[1]);
    return same;
}

Test(fresh_negatives, the_cli_says_records_and_resumes_it, .timeout = 120) {
    char *dir = dm_test_tmpdir();
    cr_assert_eq(dm_test_cli_in(dir, "simulate --out tr.seq.gz --n 150 --len 40 --seed 5"), 0);
    const char *base = "train --arch cnn --len 40 --channels 8 --threads 1 --train tr.seq.gz";
    cr_assert_eq(dm_test_cli_in(dir, "%s --epochs 2 --fresh-negatives --out m.dm", base), 0, "%s",
                 dm_test_slurp_in(dir, "err"));
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), ", fresh negatives each epoch") != NULL, "%s",
              dm_test_slurp_in(dir, "err"));
    char path[4200];
    const char *files[2] = {"m.dm", "m.dm.last"};
    for (int k = 0; k < 2; k++) {
        dm_hparams hp;
        float *p = NULL;
        int64_t n = 0;
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        memset(&prov_a, 0, sizeof prov_a);
        cr_assert_eq(dm_checkpoint_load_ex(path, dm_net_table, &hp, &p, &n, &prov_a, NULL, NULL), DM_STATUS_OK);
        cr_expect(prov_a.fresh_negatives, "%s: not recorded", files[k]);
        free(p);
    }
    /* the dashboard's provenance names them */
    cr_assert_eq(dm_test_cli_in(dir, "dashboard --model m.dm --data tr.seq.gz --out dash --restarts 1 --steps 2 "
                                     "--threads 1"), 0, "%s", dm_test_slurp_in(dir, "err"));
    cr_expect(strstr(dm_test_slurp_in(dir, "dash/index.html"), "<dt>negatives</dt><dd>fresh:") != NULL);
    /* a bare resume keeps them (said in its header line) */
    cr_assert_eq(dm_test_cli_in(dir, "train --resume m.dm.last --epochs 3 --threads 1 --train tr.seq.gz --out m.dm"),
                 0, "%s", dm_test_slurp_in(dir, "err"));
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), ", fresh negatives each epoch") != NULL, "%s",
              dm_test_slurp_in(dir, "err"));
    /* the default on a set that pairs them: the same run as --fresh-negatives, bit for bit */
    cr_assert_eq(dm_test_cli_in(dir, "%s --epochs 2 --out d.dm", base), 0, "%s", dm_test_slurp_in(dir, "err"));
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), ", fresh negatives each epoch") != NULL, "%s",
              dm_test_slurp_in(dir, "err"));
    cr_assert_eq(dm_test_cli_in(dir, "%s --epochs 2 --fresh-negatives --out e.dm", base), 0);
    cr_expect(same_weights(dir, "d.dm", "e.dm"), "the default differs from --fresh-negatives");
    /* --no-fresh-negatives: nothing is said or recorded, and a bare resume keeps them off */
    cr_assert_eq(dm_test_cli_in(dir, "%s --epochs 1 --no-fresh-negatives --out n.dm", base), 0);
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "fresh negatives") == NULL);
    cr_assert_eq(dm_test_cli_in(dir, "dashboard --model n.dm --data tr.seq.gz --out dash2 --restarts 1 --steps 2 "
                                     "--threads 1"), 0);
    cr_expect(strstr(dm_test_slurp_in(dir, "dash2/index.html"), "<dt>negatives</dt>") == NULL);
    cr_assert_eq(dm_test_cli_in(dir, "train --resume n.dm.last --epochs 2 --threads 1 --train tr.seq.gz --out n.dm"),
                 0, "%s", dm_test_slurp_in(dir, "err"));
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "fresh negatives") == NULL, "%s", dm_test_slurp_in(dir, "err"));
    cr_expect_neq(dm_test_cli_in(dir, "%s --fresh-negatives --no-fresh-negatives --out b.dm", base), 0);
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "give one of them") != NULL, "%s", dm_test_slurp_in(dir, "err"));
    /* refused: the original protocol; a file whose negatives are no shuffles (one line naming why) */
    cr_expect_neq(dm_test_cli_in(dir, "%s --protocol original --fresh-negatives --out o.dm", base), 0);
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "--fresh-negatives: the original protocol") != NULL, "%s",
              dm_test_slurp_in(dir, "err"));
    cr_expect(!dm_test_exists_in(dir, "o.dm"));
    dm_test_write_in(dir, "plain.tsv", "ACGTACGTAACCGGTTACGTACGTAACCGGTTACGTACGT\t1\n"
                                       "TTTTTTTTTTGGGGGGGGGGCCCCCCCCCCAAAAAAAAAA\t0\n"
                                       "ACGTTGCAACGTTGCAACGTTGCAACGTTGCAACGTTGCA\t1\n"
                                       "GGGGGGGGGGTTTTTTTTTTAAAAAAAAAACCCCCCCCCC\t0\n");
    cr_expect_neq(dm_test_cli_in(dir, "train --arch cnn --len 40 --channels 8 --threads 1 --train plain.tsv "
                                      "--valid-frac 0 --fresh-negatives --out p.dm"), 0);
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "no training negative is a dinucleotide shuffle") != NULL, "%s",
              dm_test_slurp_in(dir, "err"));
    cr_expect(!dm_test_exists_in(dir, "p.dm"));
    /* by default such a file trains on its negatives as given, silently */
    cr_assert_eq(dm_test_cli_in(dir, "train --arch cnn --len 40 --channels 8 --threads 1 --train plain.tsv "
                                     "--valid-frac 0 --epochs 1 --out q.dm"), 0, "%s", dm_test_slurp_in(dir, "err"));
    cr_expect(strstr(dm_test_slurp_in(dir, "err"), "fresh negatives") == NULL, "%s", dm_test_slurp_in(dir, "err"));
    dm_test_rmdir(dir);
    free(dir);
}

Test(fresh_negatives, dm_train_pairs_adjacent_rows, .timeout = 120) {
    /* arrays carry no groups: a negative right after the positive it is a shuffle of pairs with it */
    dm_dataset ds;
    dm_sim_options so;
    dm_sim_options_default(&so);
    so.n_pos = 150;
    so.len = 40;
    so.seed = 5;
    cr_assert_eq(dm_simulate(&ds, &so), DM_STATUS_OK);
    dm_input in;
    cr_assert_eq(dm_input_from_dataset(&ds, &in), DM_STATUS_OK);
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    hp.len = 40;
    hp.conv_channels = 8;
    dm_backend *be = dm_backend_cpu_create(1);
    dm_model *m;
    cr_assert_eq(dm_model_create(&m, &hp, 1), DM_STATUS_OK);
    dm_train_opts o;
    dm_train_opts_default(&o);
    cr_expect_eq(o.fresh_negatives, -1, "the default: by the data");
    o.epochs = 2;
    o.batch = 64;
    /* the default (-1) on pairs is the same run as 1, bit for bit */
    int64_t np = 0;
    const float *w;
    cr_assert_eq(dm_model_params(m, &w, &np), DM_STATUS_OK);
    float *init = malloc(sizeof(float) * (size_t)np), *by_default = malloc(sizeof(float) * (size_t)np);
    memcpy(init, w, sizeof(float) * (size_t)np);
    cr_assert_eq(dm_train(m, be, &in, NULL, &o, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_model_params(m, &w, &np), DM_STATUS_OK);
    memcpy(by_default, w, sizeof(float) * (size_t)np);
    const char *json;
    cr_assert_eq(dm_model_provenance(m, &json), DM_STATUS_OK);
    cr_expect(strstr(json, "\"fresh_negatives\": true") != NULL, "%s", json);
    cr_assert_eq(dm_model_set_params(m, init, np), DM_STATUS_OK);
    o.fresh_negatives = 1;
    cr_assert_eq(dm_train(m, be, &in, NULL, &o, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_model_params(m, &w, &np), DM_STATUS_OK);
    cr_expect(memcmp(w, by_default, sizeof(float) * (size_t)np) == 0, "the default differs from 1");
    cr_assert_eq(dm_model_provenance(m, &json), DM_STATUS_OK);
    cr_expect(strstr(json, "\"fresh_negatives\": true") != NULL, "%s", json);
    o.fresh_negatives = 2;
    cr_expect_eq(dm_train(m, be, &in, NULL, &o, NULL, NULL), DM_STATUS_ARG);
    o.fresh_negatives = 1;
    o.protocol = 1;
    cr_expect_eq(dm_train(m, be, &in, NULL, &o, NULL, NULL), DM_STATUS_ARG);
    cr_expect(strstr(dm_last_error(), "fresh_negatives") != NULL, "%s", dm_last_error());
    /* each negative before its positive instead of after: no pairs, refused */
    o.protocol = 0;
    for (int64_t i = 0; i < ds.n; i += 2) {
        uint8_t tmp[40];
        memcpy(tmp, ds.seq + i * 40, 40);
        memcpy(ds.seq + i * 40, ds.seq + (i + 1) * 40, 40);
        memcpy(ds.seq + (i + 1) * 40, tmp, 40);
        ds.label[i] = 0;
        ds.label[i + 1] = 1;
    }
    cr_expect_eq(dm_train(m, be, &in, NULL, &o, NULL, NULL), DM_STATUS_ARG);
    cr_expect(strstr(dm_last_error(), "no training negative") != NULL, "%s", dm_last_error());
    /* ... but by default trained as given: the same run as 0, bit for bit, and recorded so */
    o.fresh_negatives = 0;
    cr_assert_eq(dm_model_set_params(m, init, np), DM_STATUS_OK);
    cr_assert_eq(dm_train(m, be, &in, NULL, &o, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_model_params(m, &w, &np), DM_STATUS_OK);
    memcpy(by_default, w, sizeof(float) * (size_t)np);
    o.fresh_negatives = -1;
    cr_assert_eq(dm_model_set_params(m, init, np), DM_STATUS_OK);
    cr_assert_eq(dm_train(m, be, &in, NULL, &o, NULL, NULL), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_model_params(m, &w, &np), DM_STATUS_OK);
    cr_expect(memcmp(w, by_default, sizeof(float) * (size_t)np) == 0, "the default on unpaired rows differs from 0");
    cr_assert_eq(dm_model_provenance(m, &json), DM_STATUS_OK);
    cr_expect(strstr(json, "\"fresh_negatives\": false") != NULL, "%s", json);
    free(init);
    free(by_default);
    dm_model_free(m);
    dm_backend_free(be);
    dm_dataset_free(&ds);
}
