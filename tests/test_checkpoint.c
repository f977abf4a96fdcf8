/*
 * test_checkpoint.c: the model file (host/checkpoint.c) and SHA-256 (host/sha256.c).
 *
 * Checkpoints: an exact round trip of every field (NaN and −0.0 included); atomic saving; every
 * truncation, many bit flips, foreign files and newer versions rejected as DM_STATUS_CORRUPT
 * without a crash or a leak (run under ASan to see the latter); CRC-valid but malformed files
 * (flips and truncations with the CRC recomputed) never read out of bounds; the tensor-table
 * check. The tests use their own small architecture table (fake_table), not host/model.c's.
 * SHA-256: the FIPS 180-4 / NIST example vectors, every padding boundary, and whole files.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "arch.h"
#include "dm_internal.h"
#include "dm_rng.h"
#include "testutil.h"

/* ---- a small fake architecture table --------------------------------------------------------- */

static void add_tensor(dm_tensor_info *t, int32_t *n, int64_t *off, const char *name, int ndim,
                       int64_t s0, int64_t s1, int64_t s2) {
    dm_tensor_info *x = &t[(*n)++];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", name);
    x->ndim = ndim;
    int64_t s[3] = {s0, s1, s2}, numel = 1;
    for (int d = 0; d < ndim; d++) numel *= x->shape[d] = s[d];
    x->offset = *off;
    x->numel = numel;
    *off += numel;
}

/* conv{i}.weight (C, K_i, C_in) and .bias (C) unless RNN; a one-direction LSTM unless CNN; fc.
 * `variant` 1 widens conv2 by one tap, 2 adds a tensor at the end, 3 renames conv1.bias, 4 reports
 * one parameter too many, 5 fails: the mismatches the loader must name. */
static int32_t fake_table_variant(const dm_hparams *hp, dm_tensor_info *t, int64_t *n_params,
                                  int variant) {
    if (variant == 5) return -1;
    int32_t n = 0;
    int64_t off = 0, c_in = 4;
    char name[40];
    if (hp->arch != DM_ARCH_RNN) {
        for (int i = 0; i < hp->n_conv; i++) {
            int64_t k = hp->conv_width[i] + (variant == 1 && i == 1);
            snprintf(name, sizeof name, "conv%d.weight", i + 1);
            add_tensor(t, &n, &off, name, 3, hp->conv_channels, k, c_in);
            snprintf(name, sizeof name, "conv%d.%s", i + 1, variant == 3 && i == 0 ? "b" : "bias");
            add_tensor(t, &n, &off, name, 1, hp->conv_channels, 0, 0);
            c_in = hp->conv_channels;
        }
    }
    if (hp->arch != DM_ARCH_CNN) {
        add_tensor(t, &n, &off, "lstm.fwd.weight_ih", 2, 4 * hp->hidden, c_in, 0);
        add_tensor(t, &n, &off, "lstm.fwd.weight_hh", 2, 4 * hp->hidden, hp->hidden, 0);
        add_tensor(t, &n, &off, "lstm.fwd.bias_ih", 1, 4 * hp->hidden, 0, 0);
        add_tensor(t, &n, &off, "lstm.fwd.bias_hh", 1, 4 * hp->hidden, 0, 0);
        c_in = hp->hidden;
    }
    add_tensor(t, &n, &off, "fc.weight", 2, 2, c_in, 0);
    add_tensor(t, &n, &off, "fc.bias", 1, 2, 0, 0);
    if (variant == 2) add_tensor(t, &n, &off, "extra.weight", 1, 3, 0, 0);
    *n_params = off + (variant == 4);
    return n;
}

static int32_t fake_table(const dm_hparams *hp, dm_tensor_info *t, int64_t *n_params) {
    return fake_table_variant(hp, t, n_params, 0);
}
static int32_t fake_table_wider(const dm_hparams *hp, dm_tensor_info *t, int64_t *n_params) {
    return fake_table_variant(hp, t, n_params, 1);
}
static int32_t fake_table_longer(const dm_hparams *hp, dm_tensor_info *t, int64_t *n_params) {
    return fake_table_variant(hp, t, n_params, 2);
}
static int32_t fake_table_renamed(const dm_hparams *hp, dm_tensor_info *t, int64_t *n_params) {
    return fake_table_variant(hp, t, n_params, 3);
}
static int32_t fake_table_plus_one(const dm_hparams *hp, dm_tensor_info *t, int64_t *n_params) {
    return fake_table_variant(hp, t, n_params, 4);
}
static int32_t fake_table_fails(const dm_hparams *hp, dm_tensor_info *t, int64_t *n_params) {
    return fake_table_variant(hp, t, n_params, 5);
}

/* ---- a fixture model ------------------------------------------------------------------------- */

typedef struct fixture {
    dm_hparams hp;
    dm_tensor_info t[DM_MAX_TENSORS];
    int32_t n_tensors;
    int64_t n_params;
    float *params;
    dm_provenance *prov;
    dm_resume_state rs;
    char *dir;
    char path[512];
    char scratch[512];  /* for damaged copies, rewritten thousands of times: on tmpfs if there is
                           one (a disk-backed /tmp makes each rewrite cost milliseconds) */
} fixture;

/* A two-conv CNN with random weights (one NaN, one −0.0), a provenance with two inputs and three
 * log rows (NaN validation values), and a resume state. Structs are zeroed first so that memcmp
 * compares them exactly. */
static void fixture_make(fixture *f, dm_arch arch) {
    memset(f, 0, sizeof *f);
    f->hp.arch = arch;
    f->hp.len = 101;
    f->hp.n_conv = arch == DM_ARCH_RNN ? 0 : 2;
    f->hp.conv_width[0] = 5;
    f->hp.conv_width[1] = 3;
    f->hp.conv_width[7] = 9;   /* unused slot: still round-trips */
    f->hp.conv_channels = arch == DM_ARCH_RNN ? 0 : 3;
    f->hp.pool = arch == DM_ARCH_CNN ? 2 : 0;
    f->hp.hidden = arch == DM_ARCH_CNN ? 0 : 2;
    f->hp.dropout = 0.5f;
    f->n_tensors = fake_table(&f->hp, f->t, &f->n_params);
    f->params = malloc((size_t)f->n_params * sizeof(float));
    cr_assert_not_null(f->params);
    dm_test_fill_uniform(f->params, (size_t)f->n_params, -1, 1, 1);
    f->params[3] = NAN;
    f->params[5] = -0.0f;
    // provenance: every field set, strings of several lengths
    f->prov = calloc(1, sizeof *f->prov);
    cr_assert_not_null(f->prov);
    dm_provenance *p = f->prov;
    snprintf(p->version, sizeof p->version, "%s", "0.1.0 (dev)");
    snprintf(p->protocol, sizeof p->protocol, "%s", "default");
    snprintf(p->device, sizeof p->device, "%s", "cpu: test machine, 2 threads");
    snprintf(p->created_utc, sizeof p->created_utc, "%s", "2026-11-24T12:00:00Z");
    snprintf(p->label, sizeof p->label, "%s", "best");
    p->seed = 0x0123456789abcdefull;
    p->threads = 2;
    p->batch = 256;
    p->lr0 = 0.01f;
    p->valid_frac = 0.1f;
    p->epochs_max = 50;
    p->epochs_run = 3;
    p->best_epoch = 2;
    p->n_train = 9000;
    p->n_valid = 1000;
    p->n_test = -1;
    p->train_seconds = 12.5;
    p->test_auroc = 0.91;
    p->test_auprc = NAN;
    p->test_accuracy = -INFINITY;
    p->n_inputs = 2;
    snprintf(p->inputs[0].role, sizeof p->inputs[0].role, "train");
    snprintf(p->inputs[0].path, sizeof p->inputs[0].path, "data/REST_train.fa.gz");
    p->inputs[0].bytes = 123456789012ull;
    snprintf(p->inputs[0].sha256, sizeof p->inputs[0].sha256, "%064d", 7);
    snprintf(p->inputs[1].role, sizeof p->inputs[1].role, "test");
    memset(p->inputs[1].path, 'x', sizeof p->inputs[1].path - 1);   /* longest path */
    p->n_epochs = 3;
    for (int i = 0; i < 3; i++) {
        p->log[i] = (dm_epoch_log){.epoch = i + 1, .lr = 0.01f, .train_loss = 0.7 - 0.1 * i,
                                   .valid_loss = i == 1 ? NAN : 0.6, .valid_auroc = 0.8 + 0.01 * i,
                                   .seconds = 4.25};
    }
    // resume state
    f->rs.epoch_done = 3;
    f->rs.adam_t = 1234567;
    f->rs.lr = 0.005f;
    f->rs.best_valid = 0.82;
    f->rs.best_epoch = 2;
    f->rs.bad_epochs = 1;
    f->rs.adam_m = malloc((size_t)f->n_params * sizeof(float));
    f->rs.adam_v = malloc((size_t)f->n_params * sizeof(float));
    f->rs.best_params = malloc((size_t)f->n_params * sizeof(float));
    cr_assert(f->rs.adam_m && f->rs.adam_v && f->rs.best_params);
    dm_test_fill_uniform(f->rs.adam_m, (size_t)f->n_params, -1e-3f, 1e-3f, 2);
    dm_test_fill_uniform(f->rs.adam_v, (size_t)f->n_params, 0, 1e-6f, 3);
    dm_test_fill_uniform(f->rs.best_params, (size_t)f->n_params, -1, 1, 4);
    f->dir = dm_test_tmpdir();
    cr_assert_not_null(f->dir);
    snprintf(f->path, sizeof f->path, "%s/model.dm", f->dir);
    if (access("/dev/shm", W_OK) == 0)
        snprintf(f->scratch, sizeof f->scratch, "/dev/shm/dmtest.%ld.dm", (long)getpid());
    else
        snprintf(f->scratch, sizeof f->scratch, "%s/scratch.dm", f->dir);
}

static void fixture_save(fixture *f, const char *path, int with_resume) {
    dm_status st = dm_checkpoint_save(path, &f->hp, f->t, f->n_tensors, f->params, f->n_params,
                                      f->prov, with_resume ? &f->rs : NULL);
    cr_assert_eq(st, DM_STATUS_OK, "save: %s", dm_last_error());
}

static void fixture_free(fixture *f) {
    free(f->params);
    free(f->prov);
    dm_resume_state_free(&f->rs);
    unlink(f->scratch);
    dm_test_rmdir(f->dir);
    free(f->dir);
}

/* Loads `path` with `table`; frees whatever was returned; returns the status. On failure checks
 * that nothing was handed out. */
static dm_status try_load(const char *path, dm_table_fn table) {
    dm_hparams hp;
    float *params = (float *)&hp;   /* must be overwritten */
    int64_t n;
    dm_provenance *prov = malloc(sizeof *prov);
    dm_resume_state rs;
    cr_assert_not_null(prov);
    dm_status st = dm_checkpoint_load(path, table, &hp, &params, &n, prov, &rs);
    if (st != DM_STATUS_OK) {
        cr_assert_null(params);
        cr_assert(rs.adam_m == NULL && rs.adam_v == NULL && rs.best_params == NULL);
        cr_assert_neq(dm_last_error()[0], '\0');
    }
    free(prov);
    if (st == DM_STATUS_OK) free(params);
    dm_resume_state_free(&rs);
    return st;
}

/* ---- whole-file helpers ---------------------------------------------------------------------- */

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "%s", path);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)sz, fp), (size_t)sz);
    fclose(fp);
    *n = (size_t)sz;
    return b;
}

static void spill(const char *path, const void *b, size_t n) {
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "%s", path);
    cr_assert_eq(fwrite(b, 1, n, fp), n);
    cr_assert_eq(fclose(fp), 0);
}

/* Rewrites the trailing CRC of an n-byte model image after an edit. */
static void fix_crc(uint8_t *b, size_t n) {
    uint32_t c = (uint32_t)crc32(0L, b, (uInt)(n - 4));
    for (int i = 0; i < 4; i++) b[n - 4 + i] = (uint8_t)(c >> (8 * i));
}

/* Position of the header of section `tag` in a model image, or 0 when absent. */
static size_t find_section(const uint8_t *b, size_t n, const char *tag) {
    for (size_t pos = 16; pos + 12 <= n - 4;) {
        if (memcmp(b + pos, tag, 4) == 0) return pos;
        uint64_t len = 0;
        for (int i = 7; i >= 0; i--) len = len << 8 | b[pos + 4 + i];
        pos += 12 + len;
    }
    return 0;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* ---- round trip ------------------------------------------------------------------------------ */

static void check_round_trip(dm_arch arch) {
    fixture f;
    fixture_make(&f, arch);
    fixture_save(&f, f.path, 1);
    dm_hparams hp;
    float *params = NULL;
    int64_t n = 0;
    dm_provenance *prov = malloc(sizeof *prov);
    dm_resume_state rs;
    cr_assert_not_null(prov);
    dm_status st = dm_checkpoint_load(f.path, fake_table, &hp, &params, &n, prov, &rs);
    cr_assert_eq(st, DM_STATUS_OK, "%s", dm_last_error());
    // everything bit-identical, NaN payloads and −0.0 included
    cr_assert_eq(memcmp(&hp, &f.hp, sizeof hp), 0);
    cr_assert_eq(n, f.n_params);
    cr_assert_eq(memcmp(params, f.params, (size_t)n * sizeof(float)), 0);
    cr_assert_eq(memcmp(prov, f.prov, sizeof *prov), 0);
    cr_assert_str_eq(prov->inputs[1].path, f.prov->inputs[1].path);
    cr_assert(isnan(prov->log[1].valid_loss));
    cr_assert_eq(rs.epoch_done, 3);
    cr_assert_eq(rs.adam_t, 1234567);
    cr_assert_eq(rs.lr, 0.005f);
    cr_assert_eq(rs.best_valid, 0.82);
    cr_assert_eq(rs.best_epoch, 2);
    cr_assert_eq(rs.bad_epochs, 1);
    cr_assert_eq(memcmp(rs.adam_m, f.rs.adam_m, (size_t)n * sizeof(float)), 0);
    cr_assert_eq(memcmp(rs.adam_v, f.rs.adam_v, (size_t)n * sizeof(float)), 0);
    cr_assert_eq(memcmp(rs.best_params, f.rs.best_params, (size_t)n * sizeof(float)), 0);
    free(params);
    free(prov);
    dm_resume_state_free(&rs);
    cr_assert_null(rs.adam_m);
    fixture_free(&f);
}

Test(checkpoint, round_trip_cnn) { check_round_trip(DM_ARCH_CNN); }
Test(checkpoint, round_trip_rnn) { check_round_trip(DM_ARCH_RNN); }
Test(checkpoint, round_trip_cnnrnn) { check_round_trip(DM_ARCH_CNNRNN); }

/* Without a resume state the flag is clear and a caller asking for one gets an empty one; a caller
 * not asking (NULL) can load a file that has one. */
Test(checkpoint, resume_optional) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    fixture_save(&f, f.path, 0);
    dm_hparams hp;
    float *params;
    int64_t n;
    dm_provenance *prov = malloc(sizeof *prov);
    dm_resume_state rs;
    cr_assert_not_null(prov);
    memset(&rs, 0xAB, sizeof rs);
    cr_assert_eq(dm_checkpoint_load(f.path, fake_table, &hp, &params, &n, prov, &rs),
                 DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(rs.adam_m == NULL && rs.adam_v == NULL && rs.best_params == NULL);
    cr_assert_eq(rs.epoch_done, 0);
    free(params);
    fixture_save(&f, f.path, 1);
    cr_assert_eq(dm_checkpoint_load(f.path, fake_table, &hp, &params, &n, prov, NULL),
                 DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(memcmp(params, f.params, (size_t)n * sizeof(float)), 0);
    free(params);
    free(prov);
    fixture_free(&f);
}

/* The header as documented: magic, version 1, flags bit 0 = resume; sections in order; CRC. */
Test(checkpoint, header_layout) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    fixture_save(&f, f.path, 1);
    size_t n;
    uint8_t *b = slurp(f.path, &n);
    cr_assert_eq(memcmp(b, "DMMODEL\0", 8), 0);
    cr_assert(b[8] == 1 && b[9] == 0 && b[10] == 0 && b[11] == 0);
    cr_assert(b[12] == 1 && b[13] == 0 && b[14] == 0 && b[15] == 0);
    // walk the sections: tags in writing order, lengths adding up to the CRC
    const char *tags[] = {"HPAR", "TENS", "PARM", "PROV", "RESM"};
    size_t pos = 16;
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(memcmp(b + pos, tags[k], 4), 0, "section %d", k);
        uint64_t len = 0;
        for (int i = 7; i >= 0; i--) len = len << 8 | b[pos + 4 + i];
        pos += 12 + len;
    }
    cr_assert_eq(pos, n - 4);
    uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(n - 4));
    cr_assert(b[n - 4] == (crc & 255) && b[n - 1] == (crc >> 24));
    free(b);
    fixture_free(&f);
}

/* ---- atomic saving --------------------------------------------------------------------------- */

/* Saving leaves exactly the model in the directory (no temporary), and overwriting replaces it. */
Test(checkpoint, save_is_atomic) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    fixture_save(&f, f.path, 1);
    cr_assert_eq(count_entries(f.dir), 1);
    f.params[0] = 42.0f;
    fixture_save(&f, f.path, 0);
    cr_assert_eq(count_entries(f.dir), 1);
    dm_hparams hp;
    float *params;
    int64_t n;
    dm_provenance *prov = malloc(sizeof *prov);
    cr_assert_not_null(prov);
    cr_assert_eq(dm_checkpoint_load(f.path, fake_table, &hp, &params, &n, prov, NULL),
                 DM_STATUS_OK);
    cr_assert_eq(params[0], 42.0f);
    free(params);
    free(prov);
    fixture_free(&f);
}

/* A directory that cannot be written: DM_STATUS_IO, and nothing left behind. (Root ignores
 * permissions, so the chmod case runs only for other users; a missing directory and a path
 * under a regular file always fail.) */
Test(checkpoint, save_unwritable) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    char path[1024];
    snprintf(path, sizeof path, "%s/missing/model.dm", f.dir);
    cr_assert_eq(dm_checkpoint_save(path, &f.hp, f.t, f.n_tensors, f.params, f.n_params, f.prov,
                                    &f.rs), DM_STATUS_IO);
    cr_assert(strstr(dm_last_error(), "missing/model.dm") != NULL, "%s", dm_last_error());
    spill(f.path, "x", 1);
    snprintf(path, sizeof path, "%s/sub.dm", f.path);
    cr_assert_eq(dm_checkpoint_save(path, &f.hp, f.t, f.n_tensors, f.params, f.n_params, f.prov,
                                    NULL), DM_STATUS_IO);
    cr_assert_eq(count_entries(f.dir), 1);
    if (geteuid() != 0) {
        char ro[512];
        snprintf(ro, sizeof ro, "%s/ro", f.dir);
        cr_assert_eq(mkdir(ro, 0555), 0);
        snprintf(path, sizeof path, "%s/model.dm", ro);
        cr_assert_eq(dm_checkpoint_save(path, &f.hp, f.t, f.n_tensors, f.params, f.n_params,
                                        f.prov, NULL), DM_STATUS_IO);
        cr_assert_eq(count_entries(ro), 0);
        chmod(ro, 0755);
    }
    fixture_free(&f);
}

/* ---- damaged files --------------------------------------------------------------------------- */

/* Every proper prefix, from 0 bytes up, is CORRUPT (an empty file too: it exists and was read;
 * DM_STATUS_IO is kept for files that cannot be opened or read). */
Test(checkpoint, truncated_everywhere) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    fixture_save(&f, f.path, 1);
    size_t n;
    uint8_t *b = slurp(f.path, &n);
    const char *cut = f.scratch;
    for (size_t k = 0; k < n; k++) {
        spill(cut, b, k);
        cr_assert_eq(try_load(cut, fake_table), DM_STATUS_CORRUPT, "prefix %zu of %zu: %s", k, n,
                     dm_last_error());
    }
    spill(cut, b, 0);
    try_load(cut, fake_table);
    cr_assert(strstr(dm_last_error(), "not a deepmotif model file") != NULL);
    spill(cut, b, 5);
    try_load(cut, fake_table);
    cr_assert(strstr(dm_last_error(), "truncated") != NULL, "%s", dm_last_error());
    spill(cut, b, n - 1);   /* the CRC fails, and the section walk says where the data run out */
    try_load(cut, fake_table);
    cr_assert(strstr(dm_last_error(), "truncated or damaged") != NULL && strstr(dm_last_error(), "at byte"),
              "%s", dm_last_error());
    free(b);
    fixture_free(&f);
}

/* Prefixes with a valid CRC appended: the section walk and the field reads must catch every one
 * (the flag catches the prefix that ends just before RESM). */
Test(checkpoint, truncated_with_valid_crc) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    fixture_save(&f, f.path, 1);
    size_t n;
    uint8_t *b = slurp(f.path, &n);
    uint8_t *c = malloc(n);
    cr_assert_not_null(c);
    const char *cut = f.scratch;
    for (size_t k = 16; k < n - 4; k++) {
        memcpy(c, b, k);
        fix_crc(c, k + 4);
        spill(cut, c, k + 4);
        cr_assert_eq(try_load(cut, fake_table), DM_STATUS_CORRUPT, "prefix %zu: %s", k,
                     dm_last_error());
    }
    free(c);
    free(b);
    fixture_free(&f);
}

/* One flipped bit in any byte: CORRUPT (CRC, or magic/version ahead of it). */
Test(checkpoint, bit_flips) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    fixture_save(&f, f.path, 1);
    size_t n;
    uint8_t *b = slurp(f.path, &n);
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 100, 11);
    const char *bad = f.scratch;
    for (size_t pos = 0; pos < n; pos++) {
        uint8_t bit = (uint8_t)(1u << dm_rng_below(&r, 8));
        b[pos] ^= bit;
        spill(bad, b, n);
        cr_assert_eq(try_load(bad, fake_table), DM_STATUS_CORRUPT, "byte %zu bit %u: %s", pos,
                     bit, dm_last_error());
        b[pos] ^= bit;
    }
    free(b);
    fixture_free(&f);
}

/* Flips with the CRC recomputed reach the parser: each load is OK (a changed weight, a reserved
 * flag bit) or CORRUPT, never a crash or an out-of-bounds read (ASan). Structural fields must
 * fail. */
Test(checkpoint, bit_flips_with_valid_crc) {
    fixture f;
    fixture_make(&f, DM_ARCH_RNN);
    fixture_save(&f, f.path, 1);
    size_t n;
    uint8_t *b = slurp(f.path, &n);
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 100, 12);
    const char *bad = f.scratch;
    int n_ok = 0, n_corrupt = 0;
    for (size_t pos = 0; pos < n - 4; pos++) {
        uint8_t bit = (uint8_t)(1u << dm_rng_below(&r, 8));
        b[pos] ^= bit;
        fix_crc(b, n);
        spill(bad, b, n);
        dm_status st = try_load(bad, fake_table);
        cr_assert(st == DM_STATUS_OK || st == DM_STATUS_CORRUPT, "byte %zu: %s", pos,
                  dm_status_str(st));
        n_ok += st == DM_STATUS_OK;
        n_corrupt += st == DM_STATUS_CORRUPT;
        // magic, version and the first section header are always fatal
        if (pos < 12 || (pos >= 16 && pos < 28))
            cr_assert_eq(st, DM_STATUS_CORRUPT, "byte %zu", pos);
        b[pos] ^= bit;
    }
    cr_assert(n_ok > 0 && n_corrupt > 0);
    free(b);
    fixture_free(&f);
}

/* Foreign files: text, gzip, a short non-model file. */
Test(checkpoint, foreign_files) {
    char *dir = dm_test_tmpdir();
    cr_assert_not_null(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    const char *text = "This is a text file, long enough to be more than a model header.\n";
    spill(path, text, strlen(text));
    cr_assert_eq(try_load(path, fake_table), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "not a deepmotif model file") != NULL, "%s", dm_last_error());
    cr_assert(strstr(dm_last_error(), "notes.txt") != NULL);
    snprintf(path, sizeof path, "%s/data.fa.gz", dir);
    gzFile gz = gzopen(path, "wb");
    cr_assert_not_null(gz);
    gzputs(gz, ">1\nACGTACGTACGT\n>0\nTTTTGGGGCCCC\n");
    gzclose(gz);
    cr_assert_eq(try_load(path, fake_table), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "not a deepmotif model file") != NULL, "%s", dm_last_error());
    snprintf(path, sizeof path, "%s/short", dir);
    spill(path, "DX", 2);
    cr_assert_eq(try_load(path, fake_table), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "not a deepmotif model file") != NULL, "%s", dm_last_error());
    // a missing file is an I/O error, not a corrupt one
    snprintf(path, sizeof path, "%s/absent.dm", dir);
    cr_assert_eq(try_load(path, fake_table), DM_STATUS_IO);
    cr_assert(strstr(dm_last_error(), "absent.dm") != NULL);
    dm_test_rmdir(dir);
    free(dir);
}

/* Version 4 (the first this build does not know) with a valid CRC: CORRUPT, naming the format;
 * version 0 likewise. */
Test(checkpoint, newer_version) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    fixture_save(&f, f.path, 1);
    size_t n;
    uint8_t *b = slurp(f.path, &n);
    b[8] = 4;
    fix_crc(b, n);
    spill(f.path, b, n);
    cr_assert_eq(try_load(f.path, fake_table), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "newer deepmotif (format 4)") != NULL, "%s",
              dm_last_error());
    b[8] = 0;
    fix_crc(b, n);
    spill(f.path, b, n);
    cr_assert_eq(try_load(f.path, fake_table), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "version") != NULL, "%s", dm_last_error());
    free(b);
    fixture_free(&f);
}

/* A section this reader does not know is skipped; a duplicated known one is CORRUPT; a reserved
 * flag bit is ignored. */
Test(checkpoint, unknown_and_duplicate_sections) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    fixture_save(&f, f.path, 0);
    size_t n;
    uint8_t *b = slurp(f.path, &n);
    // insert "ZZZZ" with a 5-byte payload before the CRC
    uint8_t *c = malloc(n + 17);
    cr_assert_not_null(c);
    memcpy(c, b, n - 4);
    memcpy(c + n - 4, "ZZZZ\5\0\0\0\0\0\0\0hello", 17);
    c[13] = 0x80;   /* a reserved flag bit */
    fix_crc(c, n + 17);
    spill(f.path, c, n + 17);
    cr_assert_eq(try_load(f.path, fake_table), DM_STATUS_OK, "%s", dm_last_error());
    // the same bytes as a second HPAR section
    memcpy(c + n - 4, "HPAR", 4);
    fix_crc(c, n + 17);
    spill(f.path, c, n + 17);
    cr_assert_eq(try_load(f.path, fake_table), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "duplicate section HPAR") != NULL, "%s", dm_last_error());
    free(c);
    free(b);
    fixture_free(&f);
}

/* A known section with bytes after its last field is malformed (sections are read exactly). */
Test(checkpoint, section_trailing_bytes) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    fixture_save(&f, f.path, 0);
    size_t n;
    uint8_t *b = slurp(f.path, &n);
    // PROV is the last section: grow its payload by 3 bytes of junk and its length to match
    size_t at = find_section(b, n, "PROV");
    cr_assert_gt(at, 0);
    uint8_t *c = malloc(n + 3);
    cr_assert_not_null(c);
    memcpy(c, b, n - 4);
    memcpy(c + n - 4, "abc", 3);
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | c[at + 4 + i];
    len += 3;
    for (int i = 0; i < 8; i++) c[at + 4 + i] = (uint8_t)(len >> (8 * i));
    fix_crc(c, n + 3);
    spill(f.path, c, n + 3);
    cr_assert_eq(try_load(f.path, fake_table), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "section PROV is malformed") != NULL, "%s",
              dm_last_error());
    free(c);
    free(b);
    fixture_free(&f);
}

/* The stored tensor table must be exactly the model's; the message names the first difference. */
Test(checkpoint, table_mismatch) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    fixture_save(&f, f.path, 1);
    cr_assert_eq(try_load(f.path, fake_table_wider), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "'conv2.weight' has shape (3, 3, 3) in the file, the model "
                     "expects (3, 4, 3)") != NULL, "%s", dm_last_error());
    cr_assert_eq(try_load(f.path, fake_table_longer), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "extra.weight") != NULL, "%s", dm_last_error());
    cr_assert_eq(try_load(f.path, fake_table_renamed), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "'conv1.bias'") != NULL, "%s", dm_last_error());
    cr_assert_eq(try_load(f.path, fake_table_plus_one), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "parameters") != NULL, "%s", dm_last_error());
    cr_assert_eq(try_load(f.path, fake_table_fails), DM_STATUS_CORRUPT);
    fixture_free(&f);
}

/* CRC-valid hyper-parameters out of range are refused before the table is built. */
Test(checkpoint, hparams_out_of_range) {
    fixture f;
    fixture_make(&f, DM_ARCH_CNN);
    struct { const char *field; dm_hparams hp; } cases[8];
    for (int i = 0; i < 8; i++) cases[i].hp = f.hp;
    cases[0].field = "len";           cases[0].hp.len = 0;
    cases[1].field = "n_conv";        cases[1].hp.n_conv = DM_MAX_CONV + 1;
    cases[2].field = "conv_width";    cases[2].hp.conv_width[1] = 65;
    cases[3].field = "conv_channels"; cases[3].hp.conv_channels = 1 << 20;
    cases[4].field = "hidden";        cases[4].hp.hidden = -1;
    cases[5].field = "pool";          cases[5].hp.pool = 0;
    cases[6].field = "dropout";       cases[6].hp.dropout = 1.0f;
    cases[7].field = "dropout";       cases[7].hp.dropout = NAN;
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(dm_checkpoint_save(f.path, &cases[i].hp, f.t, f.n_tensors, f.params,
                                        f.n_params, f.prov, NULL), DM_STATUS_OK);
        cr_assert_eq(try_load(f.path, fake_table), DM_STATUS_CORRUPT, "case %d", i);
        cr_assert(strstr(dm_last_error(), cases[i].field) != NULL, "case %d: %s", i,
                  dm_last_error());
    }
    // an architecture number out of range (the first HPAR field, after the 12-byte section header):
    // one past the last registered architecture
    fixture_save(&f, f.path, 0);
    size_t n;
    uint8_t *b = slurp(f.path, &n);
    cr_assert_eq(memcmp(b + 16, "HPAR", 4), 0);
    cr_assert(dm_arch_count() < 256);
    b[28] = (uint8_t)dm_arch_count();
    fix_crc(b, n);
    spill(f.path, b, n);
    cr_assert_eq(try_load(f.path, fake_table), DM_STATUS_CORRUPT);
    cr_assert(strstr(dm_last_error(), "hyper-parameter arch out of range") != NULL, "%s",
              dm_last_error());
    free(b);
    fixture_free(&f);
}

/* ---- SHA-256 --------------------------------------------------------------------------------- */

static void hex_of(const uint8_t d[32], char out[65]) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check_sha(const void *msg, size_t n, const char *want) {
    uint8_t d[32];
    char hex[65];
    dm_sha256(msg, n, d);
    hex_of(d, hex);
    cr_assert_str_eq(hex, want, "length %zu", n);
}

/* FIPS 180-4 / NIST CAVP examples: "", "abc", the 448- and 896-bit messages, a million 'a'. */
Test(sha256, fips_vectors) {
    check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha(m448, strlen(m448),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                       "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    check_sha(m896, strlen(m896),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    char *a = malloc(1000000);
    cr_assert_not_null(a);
    memset(a, 'a', 1000000);
    check_sha(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

/* Every length 0..200 (each padding case: 55/56 bytes, block ends, two blocks): the digests of
 * message i = bytes (31 j + 7) mod 256, concatenated and hashed, against Python's hashlib. */
Test(sha256, padding_boundaries) {
    uint8_t msg[200], *cat = malloc(201 * 32);
    cr_assert_not_null(cat);
    for (int j = 0; j < 200; j++) msg[j] = (uint8_t)((j * 31 + 7) & 255);
    for (int i = 0; i <= 200; i++) dm_sha256(msg, (size_t)i, cat + 32 * i);
    check_sha(cat, 201 * 32, "2596dc78bf91fcc2d7cdba569d85e7c20f5d24bdc74fb082da12c7272515aa28");
    free(cat);
}

/* A file spanning several 64 KiB chunks and ending mid-block; an empty file; a missing one. */
Test(sha256, files) {
    char *dir = dm_test_tmpdir();
    cr_assert_not_null(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/data.bin", dir);
    enum { N = 200003 };
    uint8_t *b = malloc(N);
    cr_assert_not_null(b);
    for (int j = 0; j < N; j++) b[j] = (uint8_t)(((j * 131 + 17) ^ (j >> 9)) & 255);
    spill(path, b, N);
    uint64_t bytes = 0;
    char hex[65];
    cr_assert_eq(dm_file_sha256(path, &bytes, hex), DM_STATUS_OK);
    cr_assert_eq(bytes, N);
    cr_assert_str_eq(hex, "e374462efb731bcb491fb9e0ac61ac553d0247bb46142ad6291c8b9102264cfd");
    spill(path, b, 0);
    cr_assert_eq(dm_file_sha256(path, &bytes, hex), DM_STATUS_OK);
    cr_assert_eq(bytes, 0);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    snprintf(path, sizeof path, "%s/absent.bin", dir);
    cr_assert_eq(dm_file_sha256(path, &bytes, hex), DM_STATUS_IO);
    cr_assert(strstr(dm_last_error(), "absent.bin") != NULL);
    free(b);
    dm_test_rmdir(dir);
    free(dir);
}
