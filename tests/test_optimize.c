/*
 * test_optimize.c: class optimisation (SPEC.md §6.3).
 *  - the objective decreases for every restart, direct and softmax-parameterised;
 *  - the step direction is the true gradient of the objective (zero-step RMSprop update compared with
 *    finite differences of f);
 *  - the post-processing of the original, on a hand-computed matrix;
 *  - the MEME file is valid for TOMTOM (header, w rows of 4 probabilities summing to 1).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "optimize.h"
#include "testutil.h"

static dm_net *small_model(dm_backend *be, dm_arch arch, int B) {
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = 30;
    hp.conv_channels = 8;
    hp.hidden = 6;
    hp.conv_width[0] = 5;
    hp.conv_width[1] = 3;
    hp.conv_width[2] = 3;
    dm_net *m;
    cr_assert(dm_net_create(&m, &hp, be, B) == DM_STATUS_OK);
    cr_assert(dm_net_init_params(m, 6) == DM_STATUS_OK);
    return m;
}

Test(optimize, objective_decreases_for_every_restart) {
    dm_backend *be = dm_backend_cpu_create(2);
    for (int a = 0; a < dm_arch_count(); a++)
        for (int sm = 0; sm < 2; sm++) {
            int R = 5, L = 30;
            dm_net *m = small_model(be, (dm_arch)a, R);
            dm_optimize_options o;
            dm_optimize_options_default(&o);
            o.restarts = R;
            o.steps = 60;
            o.softmax = sm;
            float x[5 * 30 * 4], ppm[5 * 30 * 4], obj[61 * 5], p[5];
            cr_assert(dm_net_optimize(m, &o, x, ppm, obj, p) == DM_STATUS_OK, "%s", dm_last_error());
            for (int r = 0; r < R; r++) {
                cr_expect(obj[60 * R + r] < obj[r], "%s%s restart %d: %g -> %g", dm_arch_name((dm_arch)a),
                          sm ? " softmax" : "", r, obj[r], obj[60 * R + r]);
                for (int l = 0; l < L; l++) {
                    double s = 0;
                    for (int c = 0; c < 4; c++) {
                        float v = ppm[(r * L + l) * 4 + c];
                        cr_assert(v > 0 && v < 1);
                        s += v;
                    }
                    cr_assert(fabs(s - 1) < 1e-5, "PPM row sums to 1");   /* 4 float32 quotients: ~4 ulps */
                    if (sm) {   /* the softmax variant keeps X a distribution */
                        double sx = 0;
                        for (int c = 0; c < 4; c++) sx += x[(r * L + l) * 4 + c];
                        cr_assert(fabs(sx - 1) < 1e-5);
                    }
                }
            }
            /* restarts are distinct seeded starts */
            cr_expect(obj[0] != obj[1]);
            dm_net_free(m);
        }
    dm_backend_free(be);
}

/* f(X) = −log P(pos|X) + λ‖X‖² evaluated directly */
static double objective(dm_net *m, const float *x, int L, float lambda) {
    float p;
    cr_assert(dm_net_forward(m, x, 1, false, 0, 0) == DM_STATUS_OK);
    cr_assert(dm_net_scores(m, &p) == DM_STATUS_OK);
    double sq = 0;
    for (int i = 0; i < 4 * L; i++) sq += (double)x[i] * x[i];
    return -log(p) + lambda * sq;
}

Test(optimize, first_step_follows_the_gradient_of_the_objective) {
    /* RMSprop's first step moves every entry by −lr·g/(√((1−α) g²) + ε) = −lr/√(1−α)·sign(g) (for
     * |g| ≫ ε): the signs of the first move must be the signs of the true gradient of f */
    dm_backend *be = dm_backend_cpu_ref_create();
    for (int a = 0; a < dm_arch_count(); a++) {
        int L = 30;
        dm_net *m = small_model(be, (dm_arch)a, 1);
        dm_optimize_options o;
        dm_optimize_options_default(&o);
        o.steps = 0;
        float x0[120], x1[120], ppm[120], obj[2], p;
        cr_assert(dm_net_optimize(m, &o, x0, ppm, obj, &p) == DM_STATUS_OK);
        /* the same float32 forward on the reference backend; the objective (~1) differs only in the
         * float vs double sum of λ‖X‖² over 120 entries: ≤ 120·2⁻²⁴ ≈ 7e-6 */
        cr_expect(fabs(obj[0] - objective(m, x0, L, o.lambda)) < 1e-5, "objective value");
        o.steps = 1;
        float obj2[2];
        cr_assert(dm_net_optimize(m, &o, x1, ppm, obj2, &p) == DM_STATUS_OK);
        int agree = 0, checked = 0;
        for (int i = 0; i < 4 * L; i++) {
            float h = 1e-3f, v = x0[i];
            x0[i] = v + h;
            double fp = objective(m, x0, L, o.lambda);
            x0[i] = v - h;
            double fm = objective(m, x0, L, o.lambda);
            x0[i] = v;
            double g = (fp - fm) / (2 * h);
            if (fabs(g) < 1e-3) continue;      /* too flat to have a reliable sign */
            checked++;
            double move = x1[i] - x0[i];
            agree += (move < 0) == (g > 0);
            /* |move| = lr·|g|/(√((1−α)g²) + ε) = lr/√(1−α) · (1 − O(ε/(√(1−α)|g|))); with |g| ≥ 1e-3 and
             * ε = 1e-8 the relative deviation is ≤ 1e-4, i.e. ≤ 5e-5 of 0.5: 1e-3 also covers float32 */
            cr_expect(fabs(fabs(move) - 0.05 / sqrt(0.01)) < 1e-3, "first move of %g, not lr/sqrt(1-alpha)", move);
        }
        cr_expect(checked > 20 && agree == checked, "%s: %d of %d first moves against the gradient",
                  dm_arch_name((dm_arch)a), agree, checked);
        dm_net_free(m);
    }
    dm_backend_free(be);
}

Test(optimize, postprocessing_of_the_original) {
    /* rows: (0.5, −1, 2, 0) → clamp (0.5, 0, 1, 0); all-zero row stays zero; global max 1 */
    float x[12] = {0.5f, -1.0f, 2.0f, 0.0f, -3.0f, -1.0f, 0.0f, -0.5f, 0.25f, 0.25f, 0.25f, 0.25f};
    dm_optimize_postprocess(x, 3);
    /* row 0: (0.5, 0, 1, 0)/1 + 0.01 = (0.51, 0.01, 1.01, 0.01), sum 1.54 */
    float want0[4] = {0.51f / 1.54f, 0.01f / 1.54f, 1.01f / 1.54f, 0.01f / 1.54f};
    /* 1e-6: values < 1 after three float32 operations, a few ulps of 6e-8; no BLAS involved */
    for (int c = 0; c < 4; c++) cr_expect(fabsf(x[c] - want0[c]) < 1e-6f, "row 0 col %d: %g", c, x[c]);
    for (int c = 0; c < 4; c++) cr_expect(fabsf(x[4 + c] - 0.25f) < 1e-6f, "a zero row becomes uniform");
    for (int c = 0; c < 4; c++) cr_expect(fabsf(x[8 + c] - 0.25f) < 1e-6f);
}

Test(optimize, meme_output_is_valid_for_tomtom) {
    dm_backend *be = dm_backend_cpu_create(1);
    int R = 3, L = 30;
    dm_net *m = small_model(be, DM_ARCH_CNN, R);
    dm_optimize_options o;
    dm_optimize_options_default(&o);
    o.restarts = R;
    o.steps = 20;
    float x[3 * 30 * 4], ppm[3 * 30 * 4], obj[21 * 3], p[3];
    cr_assert(dm_net_optimize(m, &o, x, ppm, obj, p) == DM_STATUS_OK);
    char *dir = dm_test_tmpdir(), prefix[512], path[600], line[512];
    snprintf(prefix, sizeof prefix, "%s/opt", dir);
    int K = -1;
    cr_assert(dm_optimize_write(prefix, &o, L, ppm, obj, p, &K) == DM_STATUS_OK, "%s", dm_last_error());
    int reached = 0;
    for (int r = 0; r < R; r++) reached += p[r] >= 0.5f;
    cr_expect(K == reached, "the consensus counts the restarts with P(bound) >= 0.5: %d, not %d", K, reached);
    snprintf(path, sizeof path, "%s.meme", prefix);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    cr_assert(fgets(line, sizeof line, f) && strcmp(line, "MEME version 4\n") == 0, "first line");
    int motifs = 0, rows = 0, w = -1;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "MOTIF ", 6)) { motifs++; rows = 0; }
        if (!strncmp(line, "letter-probability matrix:", 26)) {
            cr_assert(sscanf(strstr(line, "w="), "w= %d", &w) == 1 && w == L);
            cr_assert(strstr(line, "alength= 4") != NULL);
        }
        double v[4];
        if (line[0] == ' ' && sscanf(line, "%lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3]) == 4) {
            rows++;
            /* four values printed with %.6f: each rounded by ≤ 5e-7, the sum by ≤ 2e-6 */
            cr_assert(fabs(v[0] + v[1] + v[2] + v[3] - 1) <= 2e-6, "row sums to 1: %s", line);
        }
        if (line[0] == '\n' && motifs) cr_assert(rows == L, "w rows per motif");
    }
    fclose(f);
    cr_expect(motifs == R + (reached > 0), "one motif per restart, and the consensus when one reached 0.5");
    snprintf(path, sizeof path, "%s.trajectory.tsv", prefix);
    f = fopen(path, "r");
    int lines = 0;
    while (f && fgets(line, sizeof line, f)) lines++;
    if (f) fclose(f);
    cr_expect(lines == 1 + o.steps + 1, "header + one line per step");
    snprintf(path, sizeof path, "%s.fa", prefix);
    f = fopen(path, "r");
    cr_assert(f && fgets(line, sizeof line, f) && line[0] == '>');
    cr_assert(fgets(line, sizeof line, f) && strspn(line, "ACGT") == (size_t)L);
    fclose(f);
    dm_test_rmdir(dir);
    free(dir);
    dm_net_free(m);
    dm_backend_free(be);
}
