/*
 * test_netio.c: the one model loader (dm_net_load) and the one host one-hot encoder (dm_onehot_host):
 *  - a checkpoint of each architecture loads into a net whose weights are the saved ones, bit for bit,
 *    with or without its provenance; a missing or damaged file is an error naming it and leaves
 *    nothing allocated;
 *  - dm_onehot_host encodes every base code as the backend's one-hot op does, under both N policies.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm_internal.h"
#include "netio.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = dm_test_tmpdir(); cr_assert(dir); }
static void teardown(void) { dm_test_rmdir(dir); free(dir); }

TestSuite(netio, .init = setup, .fini = teardown);

Test(netio, load_restores_the_saved_weights) {
    dm_backend *be = dm_backend_cpu_create(1);
    cr_assert(be);
    for (int arch = DM_ARCH_CNN; arch <= DM_ARCH_CNNRNN; arch++) {
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)arch);
        hp.len = 40;
        dm_net *m;
        cr_assert_eq(dm_net_create(&m, &hp, be, 4), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert_eq(dm_net_init_params(m, 7 + (uint64_t)arch), DM_STATUS_OK);
        int64_t np = dm_net_n_params(m);
        float *want = malloc(sizeof(float) * (size_t)np), *got = malloc(sizeof(float) * (size_t)np);
        cr_assert(want && got);
        cr_assert_eq(dm_net_get_params(m, want), DM_STATUS_OK);
        int32_t nt;
        const dm_tensor_info *t = dm_net_tensors(m, &nt);
        static dm_provenance prov, back;
        memset(&prov, 0, sizeof prov);
        prov.seed = 1234 + (uint64_t)arch;
        char path[512];
        snprintf(path, sizeof path, "%s/%s.dm", dir, dm_arch_name((dm_arch)arch));
        cr_assert_eq(dm_checkpoint_save(path, &hp, t, nt, want, np, &prov, NULL), DM_STATUS_OK, "%s", dm_last_error());
        dm_net_free(m);

        for (int with_prov = 0; with_prov < 2; with_prov++) {
            dm_net *l = NULL;
            memset(&back, 0, sizeof back);
            cr_assert_eq(dm_net_load(path, be, 3, &l, with_prov ? &back : NULL), DM_STATUS_OK, "%s", dm_last_error());
            cr_assert(l);
            cr_expect_eq(dm_net_hparams(l)->arch, arch);
            cr_expect_eq(dm_net_hparams(l)->len, 40);
            cr_expect_eq(dm_net_max_batch(l), 3);
            cr_assert_eq(dm_net_n_params(l), np);
            cr_assert_eq(dm_net_get_params(l, got), DM_STATUS_OK);
            cr_expect(memcmp(want, got, sizeof(float) * (size_t)np) == 0, "%s: weights differ", path);
            if (with_prov) cr_expect_eq(back.seed, prov.seed);
            dm_net_free(l);
        }
        free(want);
        free(got);
    }

    /* a missing file and a damaged one: the message names the file, *out stays NULL */
    char path[512];
    snprintf(path, sizeof path, "%s/none.dm", dir);
    dm_net *l = (dm_net *)&path;   /* overwritten with NULL on failure */
    cr_expect_neq(dm_net_load(path, be, 1, &l, NULL), DM_STATUS_OK);
    cr_expect_null(l);
    cr_expect(strstr(dm_last_error(), path) != NULL, "%s", dm_last_error());
    snprintf(path, sizeof path, "%s/cnn.dm", dir);
    FILE *f = fopen(path, "r+b");
    cr_assert(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    cr_assert_eq(ftruncate(fileno(f), size / 2), 0);
    fclose(f);
    l = (dm_net *)&path;
    cr_expect_neq(dm_net_load(path, be, 1, &l, NULL), DM_STATUS_OK);
    cr_expect_null(l);
    cr_expect(strncmp(dm_last_error(), path, strlen(path)) == 0, "%s", dm_last_error());
    dm_backend_free(be);
}

Test(netio, onehot_host_matches_the_backend_op) {
    dm_backend *be = dm_backend_cpu_create(1);
    cr_assert(be);
    enum { B = 2, L = 9 };
    uint8_t codes[B * L];
    for (int i = 0; i < B * L; i++) codes[i] = (uint8_t)(i % (DM_BASE_PAD + 1));   /* A C G T N pad */
    uint8_t *dcodes = be->i->alloc(be, sizeof codes);
    float *dx = be->i->alloc(be, sizeof(float) * 4 * B * L);
    cr_assert(dcodes && dx);
    be->i->upload(be, dcodes, codes, sizeof codes);
    for (int q = 0; q < 2; q++) {
        float host[4 * B * L], dev[4 * B * L];
        memset(host, 0xff, sizeof host);   /* every element must be written */
        dm_onehot_host(host, codes, B * L, q);
        be->i->onehot(be, dx, dcodes, B, L, q);
        be->i->download(be, dev, dx, sizeof dev);
        /* exact: both write the constants 0, 1 and 0.25 */
        cr_expect(memcmp(host, dev, sizeof host) == 0, "n_quarter %d: host and backend one-hot differ", q);
        cr_expect_eq(host[4 * 4 + 0], q ? 0.25f : 0.0f, "N");
        cr_expect_eq(host[4 * 5 + 0], 0.0f, "padding");
        cr_expect_eq(host[4 * 2 + 2], 1.0f, "G");
    }
    be->i->free(be, dcodes);
    be->i->free(be, dx);
    dm_backend_free(be);
}
