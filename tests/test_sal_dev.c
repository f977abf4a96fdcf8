/*
 * test_sal_dev.c: the resident saliency path (host/sal_dev.c) on the CPU backend, every method:
 *   - its attributions and P(pos) are bit for bit those of dm_saliency_batch on the same rows (the
 *     one-hot host path it replaces), over two batches of a chunk, N bases included;
 *   - the second batch allocates nothing (the CPU backend's alloc count, dm_cpu_alloc_count);
 *   - a target that needs labels fails at the load, with dm_saliency_batch's message;
 *   - the input-only backward (dm_net_backward_from / _input, no parameter gradient) gives bit for bit
 *     the maps of the full backward (dm_net_input_grads_full) for grad, IG (host and resident paths)
 *     and class optimisation, on the fast backend (2 threads, so a second batch chunk) and the
 *     reference, and leaves the parameter gradients untouched where the full pass accumulates them.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu/cpu.h"
#include "netio.h"
#include "optimize.h"
#include "saliency.h"
#include "testutil.h"

#define L 32       /* short rows keep ISM (4L variants a row) quick; the smallest the sanitizer builds use */
#define BMAX 128   /* the model's batch: ISM scores a row's 128 variants in one forward batch */
#define B 3        /* rows per saliency batch: two batches from one load */

static void rows(uint8_t *codes, int8_t *labels, int n, uint64_t tag) {
    float *u = malloc(sizeof(float) * n * L);
    dm_test_fill_uniform(u, (size_t)n * L, 0, 4.3f, tag);
    for (int i = 0; i < n * L; i++) codes[i] = u[i] >= 4.15f ? DM_BASE_PAD : u[i] >= 4.0f ? DM_BASE_N : (uint8_t)u[i];
    for (int l = 0; l < L; l++) codes[L + l] = DM_BASE_N;   /* row 1: no base at all (ISM's own-score case) */
    for (int b = 0; b < n; b++) labels[b] = (int8_t)(b % 2);
    free(u);
}

static void one(dm_arch arch, dm_saliency_options o) {
    dm_backend *be = dm_backend_cpu_create(1);
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = L;
    hp.conv_channels = 8;
    hp.hidden = 4;
    dm_net *m;
    cr_assert_eq(dm_net_create(&m, &hp, be, BMAX), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_init_params(m, 5), DM_STATUS_OK);
    uint8_t codes[2 * B * L];
    int8_t labels[2 * B];
    rows(codes, labels, 2 * B, 11);
    float x[B * L * 4], a_dev[B * L * 4], a_host[B * L * 4], p_dev[B], p_host[B];
    dm_sal_dev *d;
    cr_assert_eq(dm_sal_dev_create(&d, m, &o), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_sal_dev_load(d, codes, labels, 2 * B, 100), DM_STATUS_OK, "%s", dm_last_error());
    for (int k = 0; k < 2; k++) {
        dm_onehot_host(x, codes + (size_t)k * B * L, (int64_t)B * L, o.n_quarter);
        int64_t before = dm_cpu_alloc_count(be);
        cr_assert_eq(dm_sal_dev_batch(d, k * B, B, x, a_dev, p_dev), DM_STATUS_OK, "%s", dm_last_error());
        if (k == 1)
            cr_expect_eq(dm_cpu_alloc_count(be), before, "%s method %d: the second batch allocated %lld times",
                         dm_arch_name(arch), o.method, (long long)(dm_cpu_alloc_count(be) - before));
        cr_assert_eq(dm_saliency_batch(m, x, labels + k * B, B, 100 + k * B, &o, a_host, p_host), DM_STATUS_OK,
                     "%s", dm_last_error());
        cr_expect(memcmp(a_dev, a_host, sizeof a_dev) == 0, "%s method %d batch %d: attributions differ from the host path",
                  dm_arch_name(arch), o.method, k);
        cr_expect(memcmp(p_dev, p_host, sizeof p_dev) == 0, "%s method %d batch %d: P(pos) differs from the host path",
                  dm_arch_name(arch), o.method, k);
    }
    dm_sal_dev_free(d);
    dm_net_free(m);
    dm_backend_free(be);
}

Test(sal_dev, every_method_equals_the_host_path_and_allocates_once) {
    for (int a = 0; a < dm_arch_count(); a++) {
        dm_saliency_options o = {.target = DM_TARGET_LABEL, .steps = 3, .seed = 7};
        for (int mth = DM_SAL_GRAD; mth <= DM_SAL_ISM; mth++) {
            o.method = (dm_sal_method)mth;
            o.center = o.n_quarter = false;
            one((dm_arch)a, o);
            o.center = o.n_quarter = true;
            o.shuffle_baseline = mth == DM_SAL_IG;
            one((dm_arch)a, o);
            o.shuffle_baseline = false;
        }
    }
}

Test(sal_dev, label_target_needs_labels) {
    dm_backend *be = dm_backend_cpu_create(1);
    dm_hparams hp;
    dm_hparams_default(&hp, DM_ARCH_CNN);
    hp.len = L;
    dm_net *m;
    cr_assert_eq(dm_net_create(&m, &hp, be, BMAX), DM_STATUS_OK);
    dm_saliency_options o = {.method = DM_SAL_ORIGINAL};
    uint8_t codes[B * L] = {0};
    dm_sal_dev *d;
    cr_assert_eq(dm_sal_dev_create(&d, m, &o), DM_STATUS_OK);
    cr_expect_eq(dm_sal_dev_load(d, codes, NULL, B, 0), DM_STATUS_ARG);
    cr_expect(strstr(dm_last_error(), "need labelled data") != NULL, "%s", dm_last_error());
    dm_sal_dev_free(d);
    dm_net_free(m);
    dm_backend_free(be);
}

/* Every output of one input-gradient consumer, run once with the model in input-only mode and once in
 * full mode (`full`), plus the parameter gradients left in the arena afterwards. */
typedef struct {
    float grad[B * L * 4], ig[B * L * 4], ig_dev[B * L * 4], opt_x[B * L * 4], opt_ppm[B * L * 4];
    float p[4][B], obj[(4 + 1) * B];
    float *pgrad;
} sal_outputs;

static void run_all(dm_net *m, bool full, const uint8_t *codes, const int8_t *labels, sal_outputs *out) {
    dm_net_input_grads_full(m, full);
    dm_net_zero_grad(m);
    float x[B * L * 4];
    dm_onehot_host(x, codes, (int64_t)B * L, false);
    dm_saliency_options o = {.method = DM_SAL_GRAD, .target = DM_TARGET_LABEL};
    cr_assert_eq(dm_saliency_batch(m, x, labels, B, 0, &o, out->grad, out->p[0]), DM_STATUS_OK, "%s", dm_last_error());
    o.method = DM_SAL_IG;
    o.steps = 3;
    cr_assert_eq(dm_saliency_batch(m, x, labels, B, 0, &o, out->ig, out->p[1]), DM_STATUS_OK, "%s", dm_last_error());
    dm_sal_dev *d;
    cr_assert_eq(dm_sal_dev_create(&d, m, &o), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_sal_dev_load(d, codes, labels, B, 0), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_sal_dev_batch(d, 0, B, x, out->ig_dev, out->p[2]), DM_STATUS_OK, "%s", dm_last_error());
    dm_sal_dev_free(d);
    dm_optimize_options oo;
    dm_optimize_options_default(&oo);
    oo.restarts = B;
    oo.steps = 4;
    cr_assert_eq(dm_net_optimize(m, &oo, out->opt_x, out->opt_ppm, out->obj, out->p[3]), DM_STATUS_OK, "%s",
                 dm_last_error());
    out->pgrad = malloc(sizeof(float) * (size_t)dm_net_n_params(m));
    cr_assert_eq(dm_net_get_grads(m, out->pgrad), DM_STATUS_OK);
    dm_net_input_grads_full(m, false);
}

Test(sal_dev, input_only_backward_equals_the_full_backward) {
    for (int k = 0; k < 2; k++)
        for (int a = 0; a < dm_arch_count(); a++) {
            dm_backend *be = k == 0 ? dm_backend_cpu_create(2) : dm_backend_cpu_ref_create();
            const char *name = dm_arch_name((dm_arch)a), *bn = be->name;
            dm_hparams hp;
            dm_hparams_default(&hp, (dm_arch)a);
            hp.len = L;
            hp.conv_channels = 8;
            hp.hidden = 4;
            dm_net *m;
            cr_assert_eq(dm_net_create(&m, &hp, be, B), DM_STATUS_OK, "%s", dm_last_error());
            cr_assert_eq(dm_net_init_params(m, 5), DM_STATUS_OK);
            uint8_t codes[B * L];
            int8_t labels[B];
            rows(codes, labels, B, 23);
            static sal_outputs in_only, full;
            run_all(m, false, codes, labels, &in_only);
            run_all(m, true, codes, labels, &full);
            const struct { const char *what; const void *a, *b; size_t n; } cmp[] = {
                {"grad", in_only.grad, full.grad, sizeof full.grad},
                {"IG", in_only.ig, full.ig, sizeof full.ig},
                {"IG resident", in_only.ig_dev, full.ig_dev, sizeof full.ig_dev},
                {"optimised input", in_only.opt_x, full.opt_x, sizeof full.opt_x},
                {"optimised PPM", in_only.opt_ppm, full.opt_ppm, sizeof full.opt_ppm},
                {"objective", in_only.obj, full.obj, sizeof full.obj},
                {"P(pos)", in_only.p, full.p, sizeof full.p},
            };
            for (size_t c = 0; c < sizeof cmp / sizeof *cmp; c++)
                cr_expect(memcmp(cmp[c].a, cmp[c].b, cmp[c].n) == 0, "%s on %s: %s differs between the input-only "
                          "and the full backward", name, bn, cmp[c].what);
            /* the full pass accumulated parameter gradients (so the comparison has something to skip); the
             * input-only pass left the zeroed arena as it was */
            double full_max = 0;
            int64_t np = dm_net_n_params(m), nonzero = 0;
            for (int64_t i = 0; i < np; i++) {
                full_max = fmax(full_max, fabs(full.pgrad[i]));
                nonzero += in_only.pgrad[i] != 0.0f;
            }
            cr_expect(full_max > 0, "%s on %s: the full backward left no parameter gradient", name, bn);
            cr_expect_eq(nonzero, 0, "%s on %s: the input-only backward wrote %lld parameter gradients", name, bn,
                         (long long)nonzero);
            free(in_only.pgrad);
            free(full.pgrad);
            dm_net_free(m);
            dm_backend_free(be);
        }
}
