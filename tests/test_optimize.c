/*
 * test_optimize.c: class optimisation (SPEC.md §6.3).
 *  - the objective decreases for every restart, direct and softmax-parameterised;
 *  - the step direction is the true gradient of the objective (zero-step RMSprop update compared with
 *    finite differences of f);
 *  - the post-processing of the original, on a hand-computed matrix;
 *  - the MEME file is valid for TOMTOM (header, w rows of 4 probabilities summing to 1);
 *  - restarts split across threads (each slice a one-thread copy of the model) give the whole batch's
 *    bits (DM_OPTIMIZE=batch, and one thread) for every architecture, on the fast and the fixed-order
 *    backends; a stop asked by the progress callback ends every slice.
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

/* ---- the aligned consensus of the restarts ------------------------------------------------------ */

/* A peaked, seeded (w, 4) motif: each column puts 0.55-0.85 on one base, the rest spread. */
static void planted_motif(float *m, int w, uint64_t tag) {
    float u[4 * 32];
    dm_test_fill_uniform(u, 4 * (size_t)w, 0, 1, tag);
    for (int j = 0; j < w; j++) {
        int top = (int)(u[4 * j] * 4) & 3;
        float peak = 0.55f + 0.3f * u[4 * j + 1], rest[3] = {u[4 * j + 2], u[4 * j + 3], 0.5f}, s = 0;
        for (int k = 0; k < 3; k++) s += rest[k];
        for (int b = 0, k = 0; b < 4; b++) m[4 * j + b] = b == top ? peak : (1 - peak) * rest[k++] / s;
    }
}

/* Restart r: near-uniform background (0.25 +- 0.02, seeded per restart), the motif at `at`, the whole
 * restart reverse-complemented when `rc`. */
static void planted_restart(float *x, int L, const float *m, int w, int at, int rc, uint64_t tag) {
    float tmp[4 * 64], u[4 * 64];
    dm_test_fill_uniform(u, 4 * (size_t)L, -0.02f, 0.02f, tag);
    for (int l = 0; l < L; l++) {
        float s = 0;
        for (int b = 0; b < 4; b++) s += tmp[4 * l + b] = 0.25f + u[4 * l + b];
        for (int b = 0; b < 4; b++) tmp[4 * l + b] /= s;
    }
    memcpy(tmp + 4 * at, m, sizeof(float) * 4 * (size_t)w);
    for (int l = 0; l < L; l++)
        for (int b = 0; b < 4; b++) x[4 * l + b] = rc ? tmp[4 * (L - 1 - l) + 3 - b] : tmp[4 * l + b];
}

Test(optimize, consensus_aligns_shifted_and_reverse_complemented_restarts) {
    enum { L = 40, W = 10, R = 7 };
    float m[4 * W], other[4 * W], ppm[R * L * 4], cons[L * 4];
    planted_motif(m, W, 71);
    planted_motif(other, W, 72);
    /* restart: P(bound), position of the motif in its own (unflipped) frame, flipped, motif or other */
    static const float p[R] = {0.71f, 0.93f, 0.62f, 0.30f, 0.88f, 0.49f, 0.55f};
    static const int at[R] = {3, 15, 27, 15, 8, 20, 22}, rc[R] = {0, 0, 1, 0, 1, 0, 1}, good[R] = {1, 1, 1, 0, 1, 0, 1};
    for (int r = 0; r < R; r++)
        planted_restart(ppm + 4 * r * L, L, good[r] ? m : other, W, at[r], rc[r], 100 + r);
    int shift[R], minus[R], used[R], ref;
    int K = dm_optimize_consensus(ppm, p, R, L, cons, shift, minus, used, &ref);
    cr_assert_eq(ref, 1, "the reference is the restart with the highest P(bound)");
    cr_assert_eq(K, 5, "restarts with P(bound) >= 0.5: %d", K);
    cr_expect(!used[3] && !used[5], "P(bound) 0.30 and 0.49 are left out");
    for (int r = 0; r < R; r++) {
        if (!used[r]) continue;
        /* a flipped restart, reverse-complemented back (minus), has the motif at at[r] again; the
         * reference's column i faces the oriented restart's column i + shift */
        int pos = at[r];
        cr_expect_eq(minus[r], rc[r], "restart %d strand", r);
        cr_expect_eq(shift[r], pos - at[1], "restart %d shift %d, planted %d", r, shift[r], pos - at[1]);
    }
    /* the consensus holds the motif where the reference has it: the mean of five equal columns, in
     * float: a few ulps (1e-6) */
    for (int j = 0; j < W; j++)
        for (int b = 0; b < 4; b++)
            cr_expect(fabsf(cons[4 * (at[1] + j) + b] - m[4 * j + b]) < 1e-6f, "column %d base %d: %g vs %g", j, b,
                      cons[4 * (at[1] + j) + b], m[4 * j + b]);
    /* the mean of the unaligned PPMs (what the consensus used to be) does not */
    double naive_err = 0;
    for (int j = 0; j < W; j++)
        for (int b = 0; b < 4; b++) {
            double mean = 0;
            for (int r = 0; r < R; r++) mean += ppm[4 * (r * L + at[1] + j) + b] / R;
            naive_err = fmax(naive_err, fabs(mean - m[4 * j + b]));
        }
    cr_expect(naive_err > 0.1, "the unaligned mean is off by %.3f only", naive_err);

    /* the MEME file names the consensus by its count; none when no restart reaches 0.5 */
    char *dir = dm_test_tmpdir(), prefix[512];
    snprintf(prefix, sizeof prefix, "%s/opt", dir);
    dm_optimize_options o;
    dm_optimize_options_default(&o);
    o.restarts = R;
    o.steps = 0;
    float obj[R] = {0};
    int k = -1;
    cr_assert_eq(dm_optimize_write(prefix, &o, L, ppm, obj, p, &k), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect_eq(k, 5);
    char *text = dm_test_slurp_in(dir, "opt.meme");
    cr_expect(strstr(text, "MOTIF consensus consensus_of_5_of_7_restarts\n") != NULL, "%s", text);
    float low[R];
    for (int r = 0; r < R; r++) low[r] = 0.2f;
    cr_assert_eq(dm_optimize_write(prefix, &o, L, ppm, obj, low, &k), DM_STATUS_OK, "%s", dm_last_error());
    cr_expect_eq(k, 0);
    cr_expect(strstr(dm_test_slurp_in(dir, "opt.meme"), "MOTIF consensus") == NULL, "no consensus of nothing");
    dm_test_rmdir(dir);
    free(dir);
}

/* The run on `be` for architecture a at the default sizes (L 101: the shapes training uses, so the
 * BLAS calls take the paths they take in practice): x, objective, P. */
struct opt_run {
    float x[7 * 101 * 4], ppm[7 * 101 * 4], obj[9 * 7], p[7];
};
static void run_default(dm_backend *be, dm_arch a, int softmax, struct opt_run *out) {
    dm_hparams hp;
    dm_hparams_default(&hp, a);
    cr_assert(hp.len == 101);
    dm_net *m;
    cr_assert(dm_net_create(&m, &hp, be, 7) == DM_STATUS_OK);
    cr_assert(dm_net_init_params(m, 11) == DM_STATUS_OK);
    const char *mode = getenv("DM_OPTIMIZE");
    int want = mode && !strcmp(mode, "batch") ? 1 : be->n_threads;
    cr_assert_eq(dm_optimize_slices(m, 7), want, "%s, %d threads: %d slices", be->name, be->n_threads,
                 dm_optimize_slices(m, 7));
    dm_optimize_options o;
    dm_optimize_options_default(&o);
    o.restarts = 7;   /* splits of 7 into 2 and 3 slices: 4+3, 3+2+2 */
    o.steps = 8;
    o.softmax = softmax;
    cr_assert(dm_net_optimize(m, &o, out->x, out->ppm, out->obj, out->p) == DM_STATUS_OK, "%s",
              dm_last_error());
    dm_net_free(m);
}

int dm_cpu_isa_force(int level);   /* kernels/cpu/cpu.h: the tests' hook to run every level this CPU has */
int dm_cpu_isa_supported(void);

/* At every ISA level the CPU has. The fast backend at the portable level is left out: its convolution
 * there is im2col + one BLAS GEMM per thread's chunk of the batch, whose bits depend on the chunk
 * (ARCHITECTURE.md "CPU convolution forward"), so it promises no bits across thread counts at all. */
Test(optimize, restarts_split_across_threads_give_the_whole_batchs_bits) {
    const char *kinds[] = {"cpu", "cpu-reproducible"};
    dm_backend *(*make[])(int) = {dm_backend_cpu_create, dm_backend_cpu_reproducible_create};
    for (int level = 0; level <= dm_cpu_isa_supported(); level++)
        for (int k = level == 0; k < 2; k++)
            for (int a = 0; a < dm_arch_count(); a++)
                for (int sm = 0; sm < 2; sm++) {
                    static struct opt_run ref, got;
                    dm_backend *be;
                    cr_assert_eq(dm_cpu_isa_force(level), level);
                    setenv("DM_OPTIMIZE", "batch", 1);
                    cr_assert((be = make[k](3)));
                    run_default(be, (dm_arch)a, sm, &ref);   /* the reference: the ops threaded, one batch */
                    dm_backend_free(be);
                    unsetenv("DM_OPTIMIZE");
                    for (int T = 1; T <= 3; T++) {
                        cr_assert((be = make[k](T)));
                        run_default(be, (dm_arch)a, sm, &got);
                        dm_backend_free(be);
                        int d = 0;   /* the first objective that differs (step · 7 + restart) */
                        while (d < 9 * 7 - 1 && !memcmp(&ref.obj[d], &got.obj[d], sizeof(float))) d++;
                        bool same = !memcmp(ref.x, got.x, sizeof ref.x) && !memcmp(ref.p, got.p, sizeof ref.p)
                                    && !memcmp(ref.obj, got.obj, sizeof ref.obj) &&
                                    !memcmp(ref.ppm, got.ppm, sizeof ref.ppm);
                        cr_expect(same,
                                  "%s (ISA level %d) %s%s, %d threads: not the whole batch's bits (objective "
                                  "at step %d of restart %d: %.9g vs %.9g)",
                                  kinds[k], level, dm_arch_name((dm_arch)a), sm ? " softmax" : "", T, d / 7,
                                  d % 7 + 1, got.obj[d], ref.obj[d]);
                    }
                    /* distinct seeded restarts, and the last slice's moved */
                    cr_expect(ref.obj[8 * 7 + 6] != ref.obj[6] && ref.obj[6] != ref.obj[5]);
                }
}

static dm_status stop_at_4(void *ctx, int32_t done, int32_t steps) {
    (void)steps;
    int *calls = ctx;
    ++*calls;
    return done >= 4 ? DM_STATUS_CANCELLED : DM_STATUS_OK;
}

Test(optimize, a_stop_from_the_progress_callback_ends_every_slice) {
    dm_backend *be = dm_backend_cpu_create(3);
    dm_net *m = small_model(be, (dm_arch)0, 6);
    dm_optimize_options o;
    dm_optimize_options_default(&o);
    o.restarts = 6;
    o.steps = 100000;   /* minutes if a slice kept going */
    int calls = 0;
    o.on_step = stop_at_4;
    o.on_step_ctx = &calls;
    o.report_every = 2;
    static float x[6 * 30 * 4], ppm[6 * 30 * 4], obj[100001 * 6], p[6];
    cr_expect_eq(dm_net_optimize(m, &o, x, ppm, obj, p), DM_STATUS_CANCELLED);
    cr_expect_eq(calls, 2, "the callback was called %d times (at steps 2 and 4)", calls);
    dm_net_free(m);
    dm_backend_free(be);
}
