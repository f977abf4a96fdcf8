/*
 * test_repro_ops.c: the fixed-order kernels of the "cpu-reproducible" backend (kernels/cpu/repro.h).
 *  - bits: every op (convolution, dense, LSTM, forward and backward) gives the same bits at every ISA
 *    level this CPU runs (dm_cpu_isa_force: portable, AVX2, AVX-512) and for 1, 2 and 3 threads, on odd
 *    shapes (batches not divisible by the thread count, column counts no vector width divides, one-hot
 *    width D = 4, H not a multiple of 8, L = 1);
 *  - values: each op against its double-precision reference (cpu-ref) within a derived bound;
 *  - training: a short run of every architecture gives one hash of its weights at every level and
 *    thread count; and the check has teeth: the same run with the convolution's weight gradient summed
 *    per thread chunk (the split the fast backend uses) gives different weights for 1 and 2 threads.
 * OPENBLAS_CORETYPE and glibc's libm variants are covered by test_reproducible.c (subprocesses).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "deepmotif.h"
#include "simulate.h"
#include "testutil.h"

int dm_cpu_isa_force(int level);
int dm_cpu_isa_supported(void);
const char *dm_cpu_isa_name(int level);
void dm_cpu_conv1d_bwd_fixed(dm_backend *be, float *grad_in, float *grad_w, float *grad_b, const float *grad_out,
                             const float *in, const float *w, int B, int Li, int Ci, int Co, int K, int pad);

#define U 5.9604644775390625e-8 /* 2⁻²⁴, the unit roundoff of float */

static float *vec(size_t n, float lo, float hi, uint64_t tag) {
    float *v = malloc(sizeof(float) * (n ? n : 1));
    cr_assert(v);
    dm_test_fill_uniform(v, n, lo, hi, tag);
    return v;
}
static float *zeros(size_t n) {
    float *v = calloc(n ? n : 1, sizeof(float));
    cr_assert(v);
    return v;
}
static float *absv(const float *v, size_t n) {
    float *a = malloc(sizeof(float) * (n ? n : 1));
    cr_assert(a);
    for (size_t i = 0; i < n; i++) a[i] = fabsf(v[i]);
    return a;
}

/* ---- one op's outputs, over levels and thread counts ----
 * An op case fills `out` (its outputs concatenated, n floats) on a backend; run_all runs it on the
 * reproducible backend at the portable level with 1 thread (the result returned), then at every level
 * this CPU has with 1, 2 and 3 threads, each of which must give those bits. */
typedef void (*op_run)(dm_backend *be, const void *c, float *out);

static float *run_all(const char *what, op_run run, const void *c, size_t n) {
    float *base = zeros(n), *got = zeros(n);
    dm_backend *be = dm_backend_cpu_reproducible_create(1);
    cr_assert(dm_cpu_isa_force(0) == 0);
    run(be, c, base);
    dm_backend_free(be);
    for (int level = 0; level <= dm_cpu_isa_supported(); level++)
        for (int nt = 1; nt <= 3; nt++) {
            dm_cpu_isa_force(level);
            be = dm_backend_cpu_reproducible_create(nt);
            memset(got, 0, sizeof(float) * n);
            run(be, c, got);
            cr_assert_eq(dm_backend_status(be), DM_STATUS_OK, "%s", dm_last_error());
            dm_backend_free(be);
            size_t diff = 0, first = 0;
            for (size_t i = 0; i < n; i++)
                if (memcmp(&got[i], &base[i], sizeof(float)) != 0 && !diff++) first = i;
            cr_expect_eq(diff, 0, "%s at %s, %d threads: %zu of %zu values differ from portable/1 thread (first %zu: "
                         "%.9g, not %.9g)", what, dm_cpu_isa_name(level), nt, diff, n, first, (double)got[first],
                         (double)base[first]);
        }
    dm_cpu_isa_force(-1);
    free(got);
    return base;
}

/* |got − want| ≤ γ_{n+1}·S + u·|want| per element: the fixed-order float chain of n products added to a
 * start value meets the recursive-summation bound γ_{n+1}·S, S = Σ|terms| with the start (Higham, any
 * order), and the reference (double, then rounded) is within u·|want| of the exact value.
 * γ_k = k·u / (1 − k·u). S comes from the reference op run on the absolute values of every input. */
static void expect_bound(const char *what, const float *got, const float *want, const float *S, size_t n,
                         double terms) {
    double g = (terms + 1) * U / (1 - (terms + 1) * U);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        double b = g * S[i] * (1 + 1e-6) + U * fabs(want[i]);   /* (1e−6: S itself is rounded to float) */
        if (!(fabs((double)got[i] - want[i]) <= b) && !bad++) first = i;
    }
    cr_expect_eq(bad, 0, "%s: %zu of %zu values out of the summation bound (first %zu: %.9g, want %.9g, S %.3g)",
                 what, bad, n, first, (double)got[first], (double)want[first], (double)S[first]);
}

/* ---- convolution ---- */

typedef struct {
    int B, Li, Ci, Co, K, pad, Lo;
    size_t nin, nw, nout;
    float *in, *w, *b, *r, *gw0, *gb0;   /* r: the output gradient; gw0, gb0: gradients' start values */
} conv_case;

static void conv_run(dm_backend *be, const void *p, float *out) {
    const conv_case *c = p;
    float *o = out, *gi = o + c->nout, *gw = gi + c->nin, *gb = gw + c->nw;
    memcpy(gw, c->gw0, sizeof(float) * c->nw);   /* grad_w and grad_b accumulate (+=) */
    memcpy(gb, c->gb0, sizeof(float) * c->Co);
    be->i->conv1d_fwd(be, o, c->in, c->w, c->b, c->B, c->Li, c->Ci, c->Co, c->K, c->pad);
    be->i->conv1d_bwd(be, gi, gw, gb, c->r, c->in, c->w, c->B, c->Li, c->Ci, c->Co, c->K, c->pad);
}

static void conv_check(int B, int Li, int Ci, int Co, int K, int pad) {
    conv_case c = {.B = B, .Li = Li, .Ci = Ci, .Co = Co, .K = K, .pad = pad, .Lo = Li + 2 * pad - K + 1};
    c.nin = (size_t)B * Li * Ci;
    c.nw = (size_t)Co * K * Ci;
    c.nout = (size_t)B * c.Lo * Co;
    uint64_t tag = 9100000 + (uint64_t)(B * 7 + Li * 11 + Ci * 13 + Co * 17 + K * 19 + pad);
    c.in = vec(c.nin, -1, 1, tag);
    c.w = vec(c.nw, -0.5f, 0.5f, tag + 1);
    c.b = vec(Co, -0.5f, 0.5f, tag + 2);
    c.r = vec(c.nout, -1, 1, tag + 3);
    c.gw0 = vec(c.nw, -0.1f, 0.1f, tag + 4);
    c.gb0 = vec(Co, -0.1f, 0.1f, tag + 5);
    size_t n = c.nout + c.nin + c.nw + Co;
    char what[128];
    snprintf(what, sizeof what, "conv B%d Li%d Ci%d Co%d K%d pad%d", B, Li, Ci, Co, K, pad);
    float *got = run_all(what, conv_run, &c, n);
    /* the reference, and the reference on |inputs| (Σ|terms| per output) */
    dm_backend *ref = dm_backend_cpu_ref_create();
    float *want = zeros(n), *S = zeros(n);
    conv_run(ref, &c, want);
    conv_case a = c;
    a.in = absv(c.in, c.nin), a.w = absv(c.w, c.nw), a.b = absv(c.b, Co), a.r = absv(c.r, c.nout);
    a.gw0 = absv(c.gw0, c.nw), a.gb0 = absv(c.gb0, Co);
    conv_run(ref, &a, S);
    /* terms: forward K·Ci products; grad_in K·Co; grad_w and grad_b B·Lo (+1: the start value) */
    expect_bound(what, got, want, S, c.nout, (double)K * Ci);
    expect_bound("conv grad_in", got + c.nout, want + c.nout, S + c.nout, c.nin, (double)K * Co);
    expect_bound("conv grad_w", got + c.nout + c.nin, want + c.nout + c.nin, S + c.nout + c.nin, c.nw,
                 (double)B * c.Lo + 1);
    expect_bound("conv grad_b", got + c.nout + c.nin + c.nw, want + c.nout + c.nin + c.nw,
                 S + c.nout + c.nin + c.nw, Co, (double)B * c.Lo + 1);
    float *f[] = {c.in, c.w, c.b, c.r, c.gw0, c.gb0, a.in, a.w, a.b, a.r, a.gw0, a.gb0, got, want, S};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(f[i]);
    dm_backend_free(ref);
}

TestSuite(repro_ops, .timeout = 240);

Test(repro_ops, conv) {
    conv_check(1, 1, 1, 1, 1, 0);       /* one output */
    conv_check(7, 13, 4, 37, 5, 2);     /* one-hot width; 37 columns: vectors and a scalar edge at every level */
    conv_check(5, 20, 19, 130, 3, 0);   /* valid convolution, 130 = 2·64 + 2 columns */
    conv_check(3, 9, 4, 16, 9, 4);      /* the CNN-RNN's padding (length kept), window wider than half */
}

/* ---- dense ---- */

typedef struct {
    int B, Ci, Co;
    float *in, *w, *b, *r, *gw0, *gb0;
} dense_case;

static void dense_run(dm_backend *be, const void *p, float *out) {
    const dense_case *c = p;
    size_t no = (size_t)c->B * c->Co, ni = (size_t)c->B * c->Ci, nw = (size_t)c->Co * c->Ci;
    float *o = out, *gi = o + no, *gw = gi + ni, *gb = gw + nw;
    memcpy(gw, c->gw0, sizeof(float) * nw);
    memcpy(gb, c->gb0, sizeof(float) * c->Co);
    be->i->dense_fwd(be, o, c->in, c->w, c->b, c->B, c->Ci, c->Co);
    be->i->dense_bwd(be, gi, gw, gb, c->r, c->in, c->w, c->B, c->Ci, c->Co);
}

static void dense_check(int B, int Ci, int Co) {
    dense_case c = {.B = B, .Ci = Ci, .Co = Co};
    size_t no = (size_t)B * Co, ni = (size_t)B * Ci, nw = (size_t)Co * Ci, n = no + ni + nw + Co;
    uint64_t tag = 9200000 + (uint64_t)(B * 7 + Ci * 11 + Co * 13);
    c.in = vec(ni, -1, 1, tag), c.w = vec(nw, -0.5f, 0.5f, tag + 1), c.b = vec(Co, -0.5f, 0.5f, tag + 2);
    c.r = vec(no, -1, 1, tag + 3), c.gw0 = vec(nw, -0.1f, 0.1f, tag + 4), c.gb0 = vec(Co, -0.1f, 0.1f, tag + 5);
    char what[96];
    snprintf(what, sizeof what, "dense B%d Ci%d Co%d", B, Ci, Co);
    float *got = run_all(what, dense_run, &c, n);
    dm_backend *ref = dm_backend_cpu_ref_create();
    float *want = zeros(n), *S = zeros(n);
    dense_run(ref, &c, want);
    dense_case a = c;
    a.in = absv(c.in, ni), a.w = absv(c.w, nw), a.b = absv(c.b, Co), a.r = absv(c.r, no);
    a.gw0 = absv(c.gw0, nw), a.gb0 = absv(c.gb0, Co);
    dense_run(ref, &a, S);
    expect_bound(what, got, want, S, no, Ci);
    expect_bound("dense grad_in", got + no, want + no, S + no, ni, Co);
    expect_bound("dense grad_w, grad_b", got + no + ni, want + no + ni, S + no + ni, nw + Co, (double)B + 1);
    float *f[] = {c.in, c.w, c.b, c.r, c.gw0, c.gb0, a.in, a.w, a.b, a.r, a.gw0, a.gb0, got, want, S};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(f[i]);
    dm_backend_free(ref);
}

Test(repro_ops, dense) {
    dense_check(13, 37, 2);   /* the DeMo head: 2 columns, all in the scalar edge */
    dense_check(7, 64, 19);
    dense_check(1, 1, 1);
}

/* ---- LSTM ---- */

typedef struct {
    int B, L, D, H, nd;
    size_t nx, nwih, nwhh, nb, nh, ng;
    float *x, *wih, *whh, *bih, *bhh, *r;
    const float *h, *gates, *cell;   /* the saved state the backward reads (the reference's) */
} lstm_case;

/* out: h, gates, cell of the forward; then, from the reference's saved state (so the backward's own
 * error is measured), grad_gates, grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh (from 0) */
static void lstm_run(dm_backend *be, const void *p, float *out) {
    const lstm_case *c = p;
    float *h = out, *g = h + c->nh, *cl = g + c->ng, *gg = cl + c->nh, *gx = gg + c->ng, *gwih = gx + c->nx;
    float *gwhh = gwih + c->nwih, *gbih = gwhh + c->nwhh, *gbhh = gbih + c->nb;
    be->i->lstm_fwd(be, h, g, cl, c->x, c->wih, c->whh, c->bih, c->bhh, c->B, c->L, c->D, c->H, c->nd);
    be->i->lstm_bwd(be, gx, gwih, gwhh, gbih, gbhh, gg, c->r, c->x, c->h ? c->h : h, c->gates ? c->gates : g,
                    c->cell ? c->cell : cl, c->wih, c->whh, c->B, c->L, c->D, c->H, c->nd);
}

static double max_abs(const float *v, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* The LSTM against the double reference. Forward, per step: a pre-activation is a chain of D + H
 * products from b_ih + b_hh (one more rounding): γ_{D+H+2}·S with S ≤ 1 + 0.3·D + 0.3 for these inputs
 * (|b| ≤ 0.5 each, |x| ≤ 1, |w_ih| ≤ 0.3, |h| ≤ 1, |w_hh| ≤ 0.3/H). The gate math: exp's error is
 * ≤ 21u relative (repro_lstm.c: argument reduction ≤ 0.4u, Taylor remainder u/11, 7 Horner steps of
 * values ≤ 1.42), so σ and tanh are within 24u absolute, and a value takes at most 4 of them and 3 more
 * roundings (the cell update): ≤ 100u. Across steps: an error in c is carried with the factor f < 1,
 * one in h goes back through W_hh (row sums ≤ 0.3) and the gates (∂h/∂a ≤ 1.5 + max|c|/4), a loop gain
 * ρ = 0.3·(1.5 + max|c|/4) < 1 (checked), so |Δ| ≤ L/(1 − ρ)·(γ·S + 100u)·max(1, m), m the largest
 * |value| of the array. Backward (same saved state for both): dA's chain per step sums 4H products
 * (γ_{4H+1}, S ≤ 1.2·max|dA|) and ≤ 12 roundings and one tanh (≤ 40u of the gradient's scale g =
 * L·max|grad_h|, since dc sums at most L steps' dh); carried the same way. dx adds n_dir·4H products
 * of dA (|w_ih| ≤ 0.3), the parameter gradients B·L products with x or h (≤ 1): their chains' own
 * γ_{K+1}·Σ|terms| plus K times dA's bound. */
static void lstm_check(int B, int L, int D, int H, int nd) {
    lstm_case c = {.B = B, .L = L, .D = D, .H = H, .nd = nd};
    int G = 4 * H;
    c.nx = (size_t)B * L * D, c.nwih = (size_t)nd * G * D, c.nwhh = (size_t)nd * G * H, c.nb = (size_t)nd * G;
    c.nh = (size_t)B * L * nd * H, c.ng = (size_t)B * L * nd * G;
    uint64_t tag = 9300000 + (uint64_t)(B * 131 + L * 17 + D * 7 + H * 3 + nd);
    float s = 0.3f / (float)H;
    c.x = vec(c.nx, -1, 1, tag), c.wih = vec(c.nwih, -0.3f, 0.3f, tag + 1), c.whh = vec(c.nwhh, -s, s, tag + 2);
    c.bih = vec(c.nb, -0.5f, 0.5f, tag + 3), c.bhh = vec(c.nb, -0.5f, 0.5f, tag + 4), c.r = vec(c.nh, -1, 1, tag + 5);
    size_t n = 2 * c.nh + 2 * c.ng + c.nx + c.nwih + c.nwhh + 2 * c.nb;
    dm_backend *ref = dm_backend_cpu_ref_create();
    float *want = zeros(n);
    lstm_run(ref, &c, want);
    c.h = want, c.gates = want + c.nh, c.cell = want + c.nh + c.ng;
    char what[128];
    snprintf(what, sizeof what, "lstm B%d L%d D%d H%d dirs%d", B, L, D, H, nd);
    float *got = run_all(what, lstm_run, &c, n);

    double rho = 0.3 * (1.5 + max_abs(c.cell, c.nh) / 4), amp = 1 / (1 - rho);
    cr_assert(rho < 1, "%s: loop gain %g", what, rho);
    double Sf = 1 + 0.3 * D + 0.3, gf = (D + H + 2) * U / (1 - (D + H + 2) * U);
    double fwd = amp * L * (gf * Sf + 100 * U);
    size_t off[] = {0, c.nh, c.nh + c.ng, 2 * c.nh + c.ng};
    const char *names[] = {"h", "gates", "cell"};
    for (int k = 0; k < 3; k++) {
        size_t m = off[k + 1] - off[k];
        double atol = fwd * fmax(1, max_abs(want + off[k], m));
        size_t w;
        double e = dm_test_max_err(got + off[k], want + off[k], m, atol, 0, &w);
        cr_expect(e <= 1, "%s %s: element %zu: %.9g, want %.9g (%.3g × the bound %.3g)", what, names[k], w,
                  (double)got[off[k] + w], (double)want[off[k] + w], e, atol);
    }
    const float *gg = want + off[3];
    double mda = max_abs(gg, c.ng), gscale = L * max_abs(c.r, c.nh);
    double dA = amp * L * ((4.0 * H + 1) * U * 1.2 * mda + 40 * U * gscale);
    double gx = nd * G * (dA * 0.3) + (nd * G + 1) * U * nd * G * 0.3 * mda;
    double gw = (double)B * L * dA + ((double)B * L + 1) * U * B * L * mda;
    struct { const char *name; size_t n; double atol; } part[] = {
        {"grad_gates", c.ng, dA}, {"grad_x", c.nx, gx}, {"grad_w_ih", c.nwih, gw}, {"grad_w_hh", c.nwhh, gw},
        {"grad_b_ih", c.nb, gw}, {"grad_b_hh", c.nb, gw}};
    size_t o = off[3];
    for (int k = 0; k < 6; k++) {
        size_t w;
        double e = dm_test_max_err(got + o, want + o, part[k].n, part[k].atol, 0, &w);
        cr_expect(e <= 1, "%s %s: element %zu: %.9g, want %.9g (%.3g × the bound %.3g)", what, part[k].name, w,
                  (double)got[o + w], (double)want[o + w], e, part[k].atol);
        o += part[k].n;
    }
    float *f[] = {c.x, c.wih, c.whh, c.bih, c.bhh, c.r, got, want};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(f[i]);
    dm_backend_free(ref);
}

Test(repro_ops, lstm) {
    lstm_check(1, 1, 1, 1, 1);      /* one step: no recurrent product */
    lstm_check(7, 13, 5, 13, 2);    /* 7 sequences over 2 and 3 threads; H = 8 + 5 lanes */
    lstm_check(13, 17, 7, 8, 2);    /* blocks of 6, 6 and 1 sequences */
    lstm_check(5, 6, 4, 33, 1);     /* one-hot width, H = 33: 4·33 = 132 gate columns */
    lstm_check(4, 40, 128, 32, 2);  /* the CNN-RNN's widths */
}

/* ---- training: one hash at every level and thread count ---- */

static uint64_t fnv(const float *p, int64_t n) {
    uint64_t h = 1469598103934665603ull;
    const unsigned char *b = (const unsigned char *)p;
    for (int64_t i = 0; i < n * (int64_t)sizeof(float); i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static dm_input g_in;
static dm_dataset g_ds;
static void train_data(void) {
    if (g_ds.n) return;
    dm_sim_options so;
    dm_sim_options_default(&so);
    so.n_pos = 48;
    so.len = 60;
    so.seed = 21;
    cr_assert_eq(dm_simulate(&g_ds, &so), DM_STATUS_OK, "%s", dm_last_error());
    cr_assert_eq(dm_input_from_dataset(&g_ds, &g_in), DM_STATUS_OK);
}

/* Two epochs of `arch` (its default widths at length 60, batch 32) on be; the weights' hash. */
static uint64_t train_hash(const char *arch, dm_backend *be) {
    train_data();
    dm_hparams hp;
    dm_arch a;
    cr_assert_eq(dm_arch_parse(arch, &a), DM_STATUS_OK);
    dm_hparams_default(&hp, a);
    hp.len = 60;
    dm_model *m = NULL;
    cr_assert_eq(dm_model_create(&m, &hp, 3), DM_STATUS_OK, "%s", dm_last_error());
    dm_train_opts o;
    dm_train_opts_default(&o);
    o.epochs = 2;
    o.batch = 32;
    o.seed = 5;
    cr_assert_eq(dm_train(m, be, &g_in, NULL, &o, NULL, NULL), DM_STATUS_OK, "%s: %s", arch, dm_last_error());
    const float *p;
    int64_t n;
    cr_assert_eq(dm_model_params(m, &p, &n), DM_STATUS_OK);
    uint64_t h = fnv(p, n);
    dm_model_free(m);
    return h;
}

Test(repro_ops, training_one_hash) {
    const char *archs[] = {"cnn", "rnn", "cnnrnn", "danq"};
    for (int k = 0; k < 4; k++) {
        uint64_t h0 = 0;
        for (int level = 0; level <= dm_cpu_isa_supported(); level++)
            for (int nt = 1; nt <= 3; nt++) {
                dm_cpu_isa_force(level);
                dm_backend *be = NULL;
                cr_assert_eq(dm_backend_open("cpu-reproducible", nt, &be), DM_STATUS_OK, "%s", dm_last_error());
                uint64_t h = train_hash(archs[k], be);
                dm_backend_free(be);
                if (level == 0 && nt == 1) h0 = h;
                cr_expect_eq(h, h0, "%s at %s, %d threads: weights %016llx, portable/1 thread %016llx", archs[k],
                             dm_cpu_isa_name(level), nt, (unsigned long long)h, (unsigned long long)h0);
            }
        dm_cpu_isa_force(-1);
        cr_log_info("%s: weights %016llx at every level and thread count", archs[k], (unsigned long long)h0);
    }
}

/* A deliberately broken op: the convolution's weight gradient summed per thread chunk of the batch and the
 * chunks added in order (the fast backend's split), so the sum's grouping follows the thread count. */
static void conv_bwd_split(dm_backend *be, float *grad_in, float *grad_w, float *grad_b, const float *grad_out,
                           const float *in, const float *w, int B, int Li, int Ci, int Co, int K, int pad) {
    int Lo = Li + 2 * pad - K + 1, nt = be->n_threads < B ? be->n_threads : B;
    size_t nw = (size_t)Co * K * Ci;
    float *pw = zeros(nw), *pb = zeros(Co);
    for (int t = 0; t < nt; t++) {
        int b0 = (int)((int64_t)B * t / nt), b1 = (int)((int64_t)B * (t + 1) / nt);
        memset(pw, 0, sizeof(float) * nw);
        memset(pb, 0, sizeof(float) * Co);
        dm_cpu_conv1d_bwd_fixed(be, grad_in ? grad_in + (int64_t)b0 * Li * Ci : NULL, grad_w ? pw : NULL,
                                grad_w ? pb : NULL, grad_out + (int64_t)b0 * Lo * Co, in + (int64_t)b0 * Li * Ci, w,
                                b1 - b0, Li, Ci, Co, K, pad);
        for (size_t i = 0; grad_w && i < nw; i++) grad_w[i] += pw[i];
        for (int i = 0; grad_w && i < Co; i++) grad_b[i] += pb[i];
    }
    free(pw);
    free(pb);
}

Test(repro_ops, training_hash_catches_a_thread_split) {
    uint64_t h[2];
    for (int nt = 1; nt <= 2; nt++) {
        dm_backend *be = NULL;
        cr_assert_eq(dm_backend_open("cpu-reproducible", nt, &be), DM_STATUS_OK, "%s", dm_last_error());
        struct dm_backend_i broken = *be->i;
        broken.conv1d_bwd = conv_bwd_split;
        be->i = &broken;
        h[nt - 1] = train_hash("cnnrnn", be);
        dm_backend_free(be);
    }
    cr_expect_neq(h[0], h[1], "a weight gradient summed per thread chunk gave the same weights for 1 and 2 threads: "
                              "the hash comparison of training_one_hash would not see such a bug");
}
