/*
 * test_cuda_saliency.c: the resident saliency path (host/sal_dev.c) on the CUDA backend, every
 * architecture and method (grad, grad × input, original, IG with zero and shuffled baselines, ISM):
 *   - attributions and P(pos) of two batches of one loaded chunk against the CPU reference backend
 *     (tolerance relative to the largest reference magnitude, as test_cuda_model: float sums in
 *     another order differ by a few ulps of the largest terms, not of each element);
 *   - emulator builds: the second batch allocates and frees nothing, uploads nothing, downloads once
 *     (attributions and scores together) and makes the host wait at most once (that download).
 *   - the input-only backward (no parameter gradient) gives the maps of the full backward
 *     (dm_net_input_grads_full) bit for bit, grad and IG, and writes no parameter gradient.
 * Without a CUDA device the tests skip; in emulator builds ctest runs them once per thread order.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "netio.h"
#include "saliency.h"
#include "testutil.h"
#ifdef DM_CUDA_EMU
#include "emu/emu.h"
#endif

#define REL_NORM 2e-3   /* |cuda − ref| ≤ REL_NORM · max|ref| + 1e-3 · |ref| (test_cuda_model's bound) */
#define L 32            /* the sanitizer builds' length: ISM's 4L variants a row stay cheap */
#define BMAX 128        /* the model's batch: a row's 128 ISM variants in one forward batch */
#define B 3             /* rows per saliency batch: two batches from one load */

static dm_backend *g_cuda, *g_ref;

static void setup(void) {
    g_cuda = dm_test_cuda_backend();
    g_ref = dm_backend_cpu_ref_create();
    cr_assert_not_null(g_ref);
}

static void teardown(void) {
    dm_backend_free(g_cuda);
    dm_backend_free(g_ref);
}

static void expect_close(const float *got, const float *ref, size_t n, const char *what, const char *arch, int method) {
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(ref[i]));
    size_t worst = 0;
    double e = dm_test_max_err(got, ref, n, REL_NORM * (mx > 0 ? mx : 1), 1e-3, &worst);
    cr_expect(e <= 1.0, "%s method %d %s: element %zu of %zu: cuda %.9g, reference %.9g (max |ref| %.3g, error %.3g × tolerance)",
              arch, method, what, worst, n, got[worst], ref[worst], mx, e);
}

static void one(dm_arch arch, dm_saliency_options o) {
    const char *name = dm_arch_name(arch);
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = L;
    hp.conv_channels = 16;
    hp.hidden = 8;
    dm_net *mc, *mr;
    cr_assert_eq(dm_net_create(&mc, &hp, g_cuda, BMAX), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_create(&mr, &hp, g_ref, BMAX), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_net_init_params(mr, dm_test_seed()), DM_STATUS_OK);
    int64_t np = dm_net_n_params(mr);
    float *prm = malloc(sizeof(float) * np);
    cr_assert_eq(dm_net_get_params(mr, prm), DM_STATUS_OK);
    cr_assert_eq(dm_net_set_params(mc, prm), DM_STATUS_OK);
    free(prm);
    uint8_t codes[2 * B * L];
    int8_t labels[2 * B];
    float u[2 * B * L];
    dm_test_fill_uniform(u, 2 * B * L, 0, 4.2f, 13);
    for (int i = 0; i < 2 * B * L; i++) codes[i] = u[i] >= 4.0f ? DM_BASE_N : (uint8_t)u[i];
    for (int l = 0; l < L; l++) codes[4 * L + l] = DM_BASE_N;   /* row 4: no base (ISM scores the row itself) */
    for (int b = 0; b < 2 * B; b++) labels[b] = (int8_t)(b % 2);
    float x[B * L * 4], ac[B * L * 4], ar[B * L * 4], pc[B], pr[B];
    dm_sal_dev *dc, *dr;
    cr_assert_eq(dm_sal_dev_create(&dc, mc, &o), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_sal_dev_create(&dr, mr, &o), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_sal_dev_load(dc, codes, labels, 2 * B, 0), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_sal_dev_load(dr, codes, labels, 2 * B, 0), DM_STATUS_OK, "%s", dm_last_error());
    for (int k = 0; k < 2; k++) {
        dm_onehot_host(x, codes + (size_t)k * B * L, (int64_t)B * L, o.n_quarter);
#ifdef DM_CUDA_EMU
        dm_emu_counters_reset();
#endif
        cr_assert_eq(dm_sal_dev_batch(dc, k * B, B, x, ac, pc), DM_STATUS_OK, "%s", dm_last_error());
#ifdef DM_CUDA_EMU
        dm_emu_counters c;
        dm_emu_counters_get(&c);
        if (k == 1) {
            cr_expect(c.mallocs == 0 && c.frees == 0 && c.host_allocs == 0,
                      "%s method %d: the second batch allocated %llu and freed %llu", name, o.method, c.mallocs, c.frees);
            cr_expect(c.h2d_bytes == 0, "%s method %d: the second batch uploaded %llu bytes", name, o.method, c.h2d_bytes);
            cr_expect(c.d2h_copies == 1, "%s method %d: %llu downloads in a batch (one expected)", name, o.method, c.d2h_copies);
            cr_expect(c.syncs <= 1, "%s method %d: the host waited %llu times in a batch", name, o.method, c.syncs);
            cr_log_info("%s method %d: %llu launches (%llu cuBLAS) per batch of %d", name, o.method, c.launches,
                        c.cublas_calls, B);
        }
#endif
        cr_assert_eq(dm_sal_dev_batch(dr, k * B, B, x, ar, pr), DM_STATUS_OK, "%s", dm_last_error());
        expect_close(ac, ar, (size_t)B * L * 4, "attributions", name, o.method);
        expect_close(pc, pr, B, "P(pos)", name, o.method);
    }
    dm_sal_dev_free(dc);
    dm_sal_dev_free(dr);
    dm_net_free(mc);
    dm_net_free(mr);
}

Test(cuda_saliency, every_method_resident, .init = setup, .fini = teardown) {
    for (int a = 0; a < dm_arch_count(); a++)
        for (int mth = DM_SAL_GRAD; mth <= DM_SAL_ISM; mth++) {
            dm_saliency_options o = {.method = (dm_sal_method)mth, .target = DM_TARGET_LABEL, .steps = 3, .seed = 7,
                                     .n_quarter = mth % 2 == 1, .center = mth == DM_SAL_ISM};
            one((dm_arch)a, o);
            if (mth == DM_SAL_IG) {
                o.shuffle_baseline = true;
                one((dm_arch)a, o);
            }
            if (mth == DM_SAL_ISM) {   /* above by receptive-field windows (conv models), here in full */
                o.ism_full = true;
                one((dm_arch)a, o);
            }
        }
}

/* grad and IG on the resident path, in input-only or full mode: attributions, P(pos), then the
 * parameter gradients accumulated from zero. */
static void run_mode(dm_net *m, bool full, const uint8_t *codes, const int8_t *labels, float *attr, float *p,
                     float *pgrad) {
    dm_net_input_grads_full(m, full);
    dm_net_zero_grad(m);
    float x[B * L * 4];
    dm_onehot_host(x, codes, (int64_t)B * L, false);
    for (int k = 0; k < 2; k++) {
        dm_saliency_options o = {.method = k ? DM_SAL_IG : DM_SAL_GRAD, .target = DM_TARGET_LABEL, .steps = 3};
        dm_sal_dev *d;
        cr_assert_eq(dm_sal_dev_create(&d, m, &o), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert_eq(dm_sal_dev_load(d, codes, labels, B, 0), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert_eq(dm_sal_dev_batch(d, 0, B, x, attr + (size_t)k * B * L * 4, p + k * B), DM_STATUS_OK, "%s",
                     dm_last_error());
        dm_sal_dev_free(d);
    }
    cr_assert_eq(dm_net_get_grads(m, pgrad), DM_STATUS_OK, "%s", dm_last_error());
    dm_net_input_grads_full(m, false);
}

Test(cuda_saliency, input_only_backward_equals_the_full_backward, .init = setup, .fini = teardown) {
    for (int a = 0; a < dm_arch_count(); a++) {
        const char *name = dm_arch_name((dm_arch)a);
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)a);
        hp.len = L;
        hp.conv_channels = 16;
        hp.hidden = 8;
        dm_net *m;
        cr_assert_eq(dm_net_create(&m, &hp, g_cuda, BMAX), DM_STATUS_OK, "%s", dm_last_error());
        cr_assert_eq(dm_net_init_params(m, dm_test_seed()), DM_STATUS_OK);
        uint8_t codes[B * L];
        int8_t labels[B];
        float u[B * L];
        dm_test_fill_uniform(u, B * L, 0, 4.0f, 17);
        for (int i = 0; i < B * L; i++) codes[i] = (uint8_t)u[i] > 3 ? 3 : (uint8_t)u[i];
        for (int b = 0; b < B; b++) labels[b] = (int8_t)(b % 2);
        int64_t np = dm_net_n_params(m);
        float a_in[2 * B * L * 4], a_full[2 * B * L * 4], p_in[2 * B], p_full[2 * B];
        float *g_in = malloc(sizeof(float) * np), *g_full = malloc(sizeof(float) * np);
        run_mode(m, false, codes, labels, a_in, p_in, g_in);
        run_mode(m, true, codes, labels, a_full, p_full, g_full);
        cr_expect(memcmp(a_in, a_full, sizeof a_in) == 0, "%s: attributions differ between the input-only and the "
                  "full backward", name);
        cr_expect(memcmp(p_in, p_full, sizeof p_in) == 0, "%s: P(pos) differs", name);
        double full_max = 0;
        int64_t nonzero = 0;
        for (int64_t i = 0; i < np; i++) {
            full_max = fmax(full_max, fabs(g_full[i]));
            nonzero += g_in[i] != 0.0f;
        }
        cr_expect(full_max > 0, "%s: the full backward left no parameter gradient", name);
        cr_expect_eq(nonzero, 0, "%s: the input-only backward wrote %lld parameter gradients", name, (long long)nonzero);
        free(g_in);
        free(g_full);
        dm_net_free(m);
    }
}
