/*
 * test_temporal.c: temporal output scores (SPEC.md §6.2).
 *  - RNN: the exact shortcut equals the naive definition, evaluated by an independent path: a model
 *    built for length n with the same weights, run on the truncated input (prefix and suffix);
 *  - RNN and CNN-RNN: the forward score at i = L and the backward score at i = 1 equal the full
 *    prediction;
 *  - the CNN has no temporal scores;
 *  - every registered architecture: the ends equal the prediction, pooled steps map to blocks of
 *    input positions, or temporal scores are refused when the model has no recurrent layer.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "dm_rng.h"
#include "model.h"
#include "testutil.h"

static dm_hparams hparams(dm_arch arch, int L) {
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = L;
    hp.conv_channels = 8;
    hp.hidden = 6;
    hp.conv_width[0] = 5;
    return hp;
}

static void onehot(float *x, int n, uint64_t tag) {
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 400, tag);
    memset(x, 0, sizeof(float) * 4 * (size_t)n);
    for (int i = 0; i < n; i++) x[4 * i + dm_rng_below(&r, 4)] = 1.0f;
}

Test(temporal, rnn_shortcut_equals_truncated_models) {
    int B = 3, L = 25;
    dm_hparams hp = hparams(DM_ARCH_RNN, L);
    dm_backend *be = dm_backend_cpu_create(2);
    dm_net *m;
    cr_assert(dm_net_create(&m, &hp, be, B) == DM_STATUS_OK);
    cr_assert(dm_net_init_params(m, 3) == DM_STATUS_OK);
    int64_t np = dm_net_n_params(m);
    float *params = malloc(sizeof(float) * np);
    dm_net_get_params(m, params);
    for (int64_t i = 0; i < np; i++) params[i] *= 2.5f;   /* scores that move along the sequence */
    dm_net_set_params(m, params);
    float x[3 * 25 * 4], fwd[3 * 25], bwd[3 * 25], full[3];
    onehot(x, B * L, 1);
    cr_assert(dm_net_temporal(m, x, B, fwd, bwd) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(dm_net_forward(m, x, B, false, 0, 0) == DM_STATUS_OK);
    cr_assert(dm_net_scores(m, full) == DM_STATUS_OK);
    /* Tolerance 2e-6 on probabilities in (0, 1): the shortcut and the truncated model compute the same
     * float32 recurrence; they differ only in how the mean over positions and the GEMM blocking round
     * (a handful of float32 ulps, 2⁻²⁴ ≈ 6e-8 each, on values ≤ 1), on any OpenBLAS kernel. */
    double spread = 0;
    for (int n = 1; n <= L; n++) {
        /* the naive definition: the whole model on the truncated input */
        dm_hparams hn = hparams(DM_ARCH_RNN, n);
        dm_net *mn;
        cr_assert(dm_net_create(&mn, &hn, be, B) == DM_STATUS_OK);
        cr_assert(dm_net_n_params(mn) == np);
        dm_net_set_params(mn, params);
        float xp[3 * 25 * 4], xs[3 * 25 * 4], pp[3], ps[3];
        for (int b = 0; b < B; b++) {
            memcpy(xp + (size_t)b * n * 4, x + (size_t)b * L * 4, sizeof(float) * 4 * n);
            memcpy(xs + (size_t)b * n * 4, x + ((size_t)b * L + L - n) * 4, sizeof(float) * 4 * n);
        }
        cr_assert(dm_net_forward(mn, xp, B, false, 0, 0) == DM_STATUS_OK);
        dm_net_scores(mn, pp);
        cr_assert(dm_net_forward(mn, xs, B, false, 0, 0) == DM_STATUS_OK);
        dm_net_scores(mn, ps);
        for (int b = 0; b < B; b++) {
            cr_expect(fabsf(fwd[b * L + n - 1] - pp[b]) < 2e-6f, "fwd b%d i%d: %.7f vs %.7f", b, n, fwd[b * L + n - 1], pp[b]);
            cr_expect(fabsf(bwd[b * L + L - n] - ps[b]) < 2e-6f, "bwd b%d i%d: %.7f vs %.7f", b, L - n + 1, bwd[b * L + L - n], ps[b]);
            spread = fmax(spread, fabs(fwd[b * L + n - 1] - full[b]));
        }
        dm_net_free(mn);
    }
    for (int b = 0; b < B; b++) {
        cr_expect(fabsf(fwd[b * L + L - 1] - full[b]) < 2e-6f, "fwd at i = L is the prediction");
        cr_expect(fabsf(bwd[b * L] - full[b]) < 2e-6f, "bwd at i = 1 is the prediction");
    }
    cr_expect(spread > 1e-3, "scores must vary along the sequence for the test to mean something");
    free(params);
    dm_net_free(m);
    dm_backend_free(be);
}

Test(temporal, cnnrnn_ends_equal_the_prediction_and_cnn_is_refused) {
    int B = 2, L = 20;
    dm_hparams hp = hparams(DM_ARCH_CNNRNN, L);
    dm_backend *be = dm_backend_cpu_create(2);
    dm_net *m;
    cr_assert(dm_net_create(&m, &hp, be, B) == DM_STATUS_OK);
    cr_assert(dm_net_init_params(m, 4) == DM_STATUS_OK);
    float x[2 * 20 * 4], fwd[40], bwd[40], full[2];
    onehot(x, B * L, 2);
    cr_assert(dm_net_temporal(m, x, B, fwd, bwd) == DM_STATUS_OK, "%s", dm_last_error());
    cr_assert(dm_net_forward(m, x, B, false, 0, 0) == DM_STATUS_OK);
    dm_net_scores(m, full);
    for (int b = 0; b < B; b++) {   /* 2e-6: a few float32 ulps, as in the test above */
        cr_expect(fabsf(fwd[b * L + L - 1] - full[b]) < 2e-6f);
        cr_expect(fabsf(bwd[b * L] - full[b]) < 2e-6f);
        for (int i = 0; i < L; i++) cr_expect(fwd[b * L + i] > 0 && fwd[b * L + i] < 1 && bwd[b * L + i] > 0);
    }
    dm_net_free(m);
    dm_hparams hc = hparams(DM_ARCH_CNN, 40);
    cr_assert(dm_net_create(&m, &hc, be, B) == DM_STATUS_OK);
    float xc[2 * 40 * 4], f2[80], b2[80];
    onehot(xc, 80, 3);
    cr_expect(dm_net_temporal(m, xc, B, f2, b2) == DM_STATUS_ARG);
    dm_net_free(m);
    dm_backend_free(be);
}

/* Every registered architecture (host/arch.c): with a recurrent layer, the scores at the ends equal
 * the prediction and, with max-pools before the LSTM (stride s), input position i carries the
 * score of step min(⌊i / s⌋, T − 1), so the scores are constant on each block of s positions and
 * on the tail past the last whole window; without one, temporal scores are refused. */
Test(temporal, every_architecture_ends_equal_the_prediction_or_is_refused) {
    int B = 2, L = 48;
    dm_backend *be = dm_backend_cpu_create(2);
    for (int a = 0; a < dm_arch_count(); a++) {
        const char *name = dm_arch_name((dm_arch)a);
        dm_hparams hp = hparams((dm_arch)a, L);
        dm_net *m;
        cr_assert(dm_net_create(&m, &hp, be, B) == DM_STATUS_OK, "%s: %s", name, dm_last_error());
        cr_assert(dm_net_init_params(m, 4) == DM_STATUS_OK);
        float x[2 * 48 * 4], fwd[96], bwd[96], full[2];
        onehot(x, B * L, 5);
        int s = dm_net_temporal_stride(m);
        if (s == 0) {
            cr_expect(dm_net_temporal(m, x, B, fwd, bwd) == DM_STATUS_ARG, "%s", name);
            dm_net_free(m);
            continue;
        }
        cr_assert(dm_net_temporal(m, x, B, fwd, bwd) == DM_STATUS_OK, "%s: %s", name, dm_last_error());
        cr_assert(dm_net_forward(m, x, B, false, 0, 0) == DM_STATUS_OK);
        dm_net_scores(m, full);
        /* the recurrent layer's steps T: the input length of the BiLSTM */
        int nl, T = 0;
        const struct dm_layer *l = dm_net_layers(m, &nl);
        for (int i = 0; i < nl && !T; i++)
            if (l[i].op == DM_LAYER_BILSTM) T = l[i].len_in;
        cr_assert(T >= 2 && T <= L, "%s: %d steps", name, T);
        for (int b = 0; b < B; b++) {   /* 2e-6: a few float32 ulps, as in the tests above */
            cr_expect(fabsf(fwd[b * L + L - 1] - full[b]) < 2e-6f, "%s fwd end %g vs %g", name, fwd[b * L + L - 1], full[b]);
            cr_expect(fabsf(bwd[b * L] - full[b]) < 2e-6f, "%s bwd start %g vs %g", name, bwd[b * L], full[b]);
            for (int i = 0; i < L; i++) {
                int t = i / s < T ? i / s : T - 1, i0 = t * s;     /* the first position of step t */
                cr_expect(fwd[b * L + i] == fwd[b * L + i0] && bwd[b * L + i] == bwd[b * L + i0], "%s step %d", name, t);
                cr_expect(fwd[b * L + i] > 0 && fwd[b * L + i] < 1 && bwd[b * L + i] > 0 && bwd[b * L + i] < 1);
            }
            /* distinct steps give distinct prefixes: the scores move along the sequence */
            cr_expect(fwd[b * L] != fwd[b * L + L - 1], "%s: constant forward scores", name);
        }
        dm_net_free(m);
    }
    dm_backend_free(be);
}
