/*
 * test_lstm_fused.c: the CPU backend's fused LSTM (kernels/cpu/lstm_fused.c).
 *  - odd shapes: batch 1, batches not divisible by the thread count (1, 2, 3 threads) nor by the
 *    kernel's block of R sequences, H not a multiple of 8 (the vector width) nor of 32, one and two
 *    directions, L = 1: forward and backward against the naive double-precision reference;
 *  - every ISA level this CPU runs (AVX2 + FMA, AVX-512) against the portable level, forward and
 *    backward, within a bound derived from FMA contraction (below); a level the CPU lacks is skipped;
 *  - thread counts: the forward (h, gates, cell) and the gate gradients are bit-identical for 1, 2
 *    and 3 threads (each sequence's recurrence runs the same instructions whatever slice or block it
 *    falls in), and so are the parameter gradients (summed per fixed group of blocks, in group order);
 *  - inference (lstm_infer, no saved gates or cells) gives lstm_fwd's h bit for bit at every level and
 *    thread count, and the AVX-512 level's 16-lane step the 8-lane copy's h, gates and cell bit for bit.
 * The finite-difference checks of the reference backward are in test_ops.c (lstm suite).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "testutil.h"

int dm_cpu_isa_force(int level);
int dm_cpu_isa_supported(void);
const char *dm_cpu_isa_name(int level);

/* Fast (float, FMA, fast exp) against the double reference: the tolerances of test_ops.c's LSTM
 * cases (FAST_ATOL/FAST_RTOL there), which bound float rounding through 101 recurrent steps. */
#define FAST_ATOL 2e-5
#define FAST_RTOL 2e-4
#define U         5.9604644775390625e-8 /* 2⁻²⁴, the unit roundoff of float */

typedef struct lstm_io {
    int B, L, D, H, nd;
    size_t nx, nwih, nwhh, nb, nh, ng;
    float *x, *wih, *whh, *bih, *bhh, *r;       /* inputs; r: the output gradient */
    float *h, *gates, *cell;                    /* forward */
    float *gx, *gwih, *gwhh, *gbih, *gbhh, *gg; /* backward */
} lstm_io;

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

/* Inputs for a shape; whh in ±s (s small enough that the recurrence does not expand errors: see
 * level_bound). */
static void io_init(lstm_io *io, int B, int L, int D, int H, int nd, float s) {
    *io = (lstm_io){.B = B, .L = L, .D = D, .H = H, .nd = nd};
    int G = 4 * H;
    io->nx = (size_t)B * L * D;
    io->nwih = (size_t)nd * G * D;
    io->nwhh = (size_t)nd * G * H;
    io->nb = (size_t)nd * G;
    io->nh = (size_t)B * L * nd * H;
    io->ng = (size_t)B * L * nd * G;
    uint64_t tag = (uint64_t)(7000000 + B * 131 + L * 17 + D * 7 + H * 3 + nd);
    io->x = vec(io->nx, -1, 1, tag);
    io->wih = vec(io->nwih, -0.3f, 0.3f, tag + 1);
    io->whh = vec(io->nwhh, -s, s, tag + 2);
    io->bih = vec(io->nb, -0.5f, 0.5f, tag + 3);
    io->bhh = vec(io->nb, -0.5f, 0.5f, tag + 4);
    io->r = vec(io->nh, -1, 1, tag + 5);
    io->h = zeros(io->nh);
    io->gates = zeros(io->ng);
    io->cell = zeros(io->nh);
    io->gx = zeros(io->nx);
    io->gwih = zeros(io->nwih);
    io->gwhh = zeros(io->nwhh);
    io->gbih = zeros(io->nb);
    io->gbhh = zeros(io->nb);
    io->gg = zeros(io->ng);
}

static void io_free(lstm_io *io) {
    float *p[] = {io->x,    io->wih, io->whh,  io->bih,  io->bhh,  io->r,    io->h, io->gates,
                  io->cell, io->gx,  io->gwih, io->gwhh, io->gbih, io->gbhh, io->gg};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
}

/* Forward into o's outputs; backward (from the saved state of `saved`, so that two backends'
 * backwards see the same inputs) into o's gradients, which start at zero. */
static void run_fwd(dm_backend *be, lstm_io *o) {
    be->i->lstm_fwd(be, o->h, o->gates, o->cell, o->x, o->wih, o->whh, o->bih, o->bhh, o->B, o->L, o->D, o->H,
                    o->nd);
}
static void run_bwd(dm_backend *be, lstm_io *o, const lstm_io *saved) {
    memset(o->gwih, 0, sizeof(float) * o->nwih);
    memset(o->gwhh, 0, sizeof(float) * o->nwhh);
    memset(o->gbih, 0, sizeof(float) * o->nb);
    memset(o->gbhh, 0, sizeof(float) * o->nb);
    be->i->lstm_bwd(be, o->gx, o->gwih, o->gwhh, o->gbih, o->gbhh, o->gg, o->r, o->x, saved->h, saved->gates,
                    saved->cell, o->wih, o->whh, o->B, o->L, o->D, o->H, o->nd);
}

/* A second io with the same inputs and fresh outputs. */
static void io_twin(lstm_io *t, const lstm_io *o) {
    *t = *o;
    t->h = zeros(o->nh);
    t->gates = zeros(o->ng);
    t->cell = zeros(o->nh);
    t->gx = zeros(o->nx);
    t->gwih = zeros(o->nwih);
    t->gwhh = zeros(o->nwhh);
    t->gbih = zeros(o->nb);
    t->gbhh = zeros(o->nb);
    t->gg = zeros(o->ng);
}
static void twin_free(lstm_io *t) {
    float *p[] = {t->h, t->gates, t->cell, t->gx, t->gwih, t->gwhh, t->gbih, t->gbhh, t->gg};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
}

static void expect_close(const char *what, const float *got, const float *want, size_t n, double atol,
                         double rtol) {
    size_t w;
    double e = dm_test_max_err(got, want, n, atol, rtol, &w);
    cr_expect(e <= 1.0, "%s: element %zu: got %.8g, want %.8g (error %.3g × tolerance)", what, w,
              (double)got[w], (double)want[w], e);
}

static double max_abs(const float *v, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

/* ---- fast against the reference on odd shapes, 1, 2 and 3 threads ---- */

static void odd_case(int B, int L, int D, int H, int nd) {
    dm_backend *ref = dm_backend_cpu_ref_create();
    lstm_io o, f;
    io_init(&o, B, L, D, H, nd, 1.0f / sqrtf((float)(D + H)));
    run_fwd(ref, &o);
    run_bwd(ref, &o, &o);
    char w[160];
    for (int nt = 1; nt <= 3; nt++) {
        dm_backend *fast = dm_backend_cpu_create(nt);
        io_twin(&f, &o);
        run_fwd(fast, &f);
        run_bwd(fast, &f, &o);
        snprintf(w, sizeof w, "B%d L%d D%d H%d dirs%d threads %d", B, L, D, H, nd, nt);
        cr_log_info("%s", w);
        expect_close(w, f.h, o.h, o.nh, FAST_ATOL, FAST_RTOL);
        expect_close("gates", f.gates, o.gates, o.ng, FAST_ATOL, FAST_RTOL);
        expect_close("cell", f.cell, o.cell, o.nh, FAST_ATOL, FAST_RTOL);
        /* gradients: test_ops.c's factors (×5 for dA and dx, ×20 for sums over the batch and steps) */
        expect_close("grad_gates", f.gg, o.gg, o.ng, FAST_ATOL * 5, FAST_RTOL * 5);
        expect_close("grad_x", f.gx, o.gx, o.nx, FAST_ATOL * 5, FAST_RTOL * 5);
        expect_close("grad_w_ih", f.gwih, o.gwih, o.nwih, FAST_ATOL * 20, FAST_RTOL * 5);
        expect_close("grad_w_hh", f.gwhh, o.gwhh, o.nwhh, FAST_ATOL * 20, FAST_RTOL * 5);
        expect_close("grad_b_ih", f.gbih, o.gbih, o.nb, FAST_ATOL * 20, FAST_RTOL * 5);
        expect_close("grad_b_hh", f.gbhh, o.gbhh, o.nb, FAST_ATOL * 20, FAST_RTOL * 5);
        /* NULL parameter gradients (input gradients only): the same dA and dx */
        float *gg2 = zeros(o.ng), *gx2 = zeros(o.nx);
        fast->i->lstm_bwd(fast, gx2, NULL, NULL, NULL, NULL, gg2, o.r, o.x, o.h, o.gates, o.cell, o.wih,
                          o.whh, B, L, D, H, nd);
        cr_expect(memcmp(gg2, f.gg, sizeof(float) * o.ng) == 0, "%s: dA without parameter gradients", w);
        cr_expect(memcmp(gx2, f.gx, sizeof(float) * o.nx) == 0, "%s: dx without parameter gradients", w);
        free(gg2);
        free(gx2);
        twin_free(&f);
        dm_backend_free(fast);
    }
    io_free(&o);
    dm_backend_free(ref);
}

Test(lstm_fused, odd_shapes_against_the_reference) {
    odd_case(1, 1, 1, 1, 1);    /* batch 1, one step: no recurrent product at all */
    odd_case(1, 9, 3, 5, 2);    /* batch 1, H < 8: one partial vector */
    odd_case(7, 13, 5, 13, 2);  /* 7 = 3 + 4 rows over 2 threads, 2 + 2 + 3 over 3; H = 8 + 5 */
    odd_case(5, 6, 4, 33, 1);   /* H = 33: 4 full vectors and 1 lane, 2 blocks of 32 in the backward */
    odd_case(13, 17, 7, 8, 2);  /* 13 rows: partial blocks of 6, 3 and 2 at every level */
    odd_case(4, 101, 4, 32, 2); /* the RNN's step shape */
}

/* ---- every ISA level against the portable level ----
 * The levels run the same float expressions; they differ only where the AVX2/AVX-512 copies contract
 * a·b + c into one FMA (one rounding instead of two), u = 2⁻²⁴. Bound, per step:
 *  - a pre-activation adds n terms to a start value (forward: n = H, the start the input projection,
 *    the same OpenBLAS call at every level; backward dA · W_hh: n = 4H from 0). Two evaluations that
 *    each meet the recursive-summation bound γ_{n+1}·S (S = Σ|terms| with the start) differ by at most
 *    2(n + 1)u·S. Forward: |b_ih + b_hh| ≤ 1, |x·W_ihᵀ| ≤ 0.3·D, |h·W_hhᵀ| ≤ H·s = 0.3 (s = 0.3/H), so
 *    S ≤ 1.3 + 0.3·D. Backward: S ≤ 4H·s·max|dA| = 1.2·max|dA|.
 *  - the gate polynomials and the cell update: ≤ 3 nonlinearities per value, each ≤ 16u (8 contracted
 *    operations, values ≤ 1): 48u.
 * Across steps: an error in c (or dc) is carried with the factor f < 1, so those add up at most
 *   linearly over the L steps; an error in h goes back through W_hh (row sums ≤ 0.3) and the gates
 *   (∂h/∂a ≤ 1/4 + 1/4 + 1 + |c_prev|/4 = 1.5 + max|c|/4), a loop gain ρ = 0.3·(1.5 + max|c|/4),
 *   which the test checks is < 1, so each error is amplified by at most 1/(1 − ρ):
 *     |Δ| ≤ L/(1 − ρ) · (2(n + 1)u·S + 48u) · m,   m = the largest |value| of the array (≥ its scale).
 * dx sums GD = n_dir·4H products of dA with W_ih (|w| ≤ 0.3), the parameter gradients B·L products with
 * h or x (≤ 1): those counts times dA's bound, plus their own summation bound 2(K + 1)u·Σ|terms|. */
static double g_amp; /* 1/(1 − ρ) of the case at hand */
static double level_bound(int L, int n, double S, double m) {
    return g_amp * L * (2.0 * (n + 1) * U * S + 48 * U) * m;
}

static void level_case(int level, int B, int L, int D, int H, int nd) {
    dm_backend *fast = dm_backend_cpu_create(2);
    lstm_io p, q;
    io_init(&p, B, L, D, H, nd, 0.3f / (float)H);
    io_twin(&q, &p);
    cr_assert(dm_cpu_isa_force(0) == 0);
    run_fwd(fast, &p);
    run_bwd(fast, &p, &p);
    cr_assert(dm_cpu_isa_force(level) == level);
    run_fwd(fast, &q);
    run_bwd(fast, &q, &p); /* the same saved state: the backward's own difference */
    dm_cpu_isa_force(-1);
    char w[160];
    snprintf(w, sizeof w, "%s against portable, B%d L%d D%d H%d dirs%d", dm_cpu_isa_name(level), B, L, D, H,
             nd);
    double mc = max_abs(p.cell, p.nh), mda = max_abs(p.gg, p.ng), S = 1.3 + 0.3 * D;
    double rho = 0.3 * (1.5 + mc / 4);
    cr_assert(rho < 0.9, "%s: loop gain %g (max |c| %g) must stay below 1 for the bound", w, rho, mc);
    g_amp = 1 / (1 - rho);
    double bh = level_bound(L, H, S, 1.0); /* h and the gates are at most 1 in magnitude */
    expect_close(w, q.h, p.h, p.nh, bh, 0);
    expect_close("gates", q.gates, p.gates, p.ng, bh, 0);
    expect_close("cell", q.cell, p.cell, p.nh, level_bound(L, H, S, fmax(mc, 1.0)), 0);
    double bda = level_bound(L, 4 * H, 1.2, mda);
    expect_close("grad_gates", q.gg, p.gg, p.ng, bda, 0);
    int GD = nd * 4 * H;
    double sx = GD * 0.3 * mda, sp = (double)B * L * mda;
    expect_close("grad_x", q.gx, p.gx, p.nx, GD * 0.3 * bda + 2.0 * (GD + 1) * U * sx, 0);
    double bparam = (double)B * L * bda + 2.0 * ((double)B * L + 1) * U * sp;
    expect_close("grad_w_ih", q.gwih, p.gwih, p.nwih, bparam, 0);
    expect_close("grad_w_hh", q.gwhh, p.gwhh, p.nwhh, bparam, 0);
    expect_close("grad_b_ih", q.gbih, p.gbih, p.nb, bparam, 0);
    twin_free(&q);
    io_free(&p);
    dm_backend_free(fast);
}

static void level_cases(int level) {
    if (dm_cpu_isa_supported() < level)
        cr_skip_test("this CPU has no %s (the portable level and those it has are tested)",
                     dm_cpu_isa_name(level));
    level_case(level, 1, 1, 1, 1, 1);
    level_case(level, 7, 13, 5, 13, 2);
    level_case(level, 5, 17, 4, 33, 1);
    level_case(level, 13, 101, 4, 32, 2);  /* the RNN's steps */
    level_case(level, 3, 101, 128, 32, 2); /* the CNN-RNN's */
}

Test(lstm_fused, avx2_matches_portable) {
    level_cases(1);
}
Test(lstm_fused, avx512_matches_portable) {
    level_cases(2);
}

/* ---- thread counts ---- */

static void threads_case(int B, int L, int D, int H, int nd) {
    lstm_io o, t;
    io_init(&o, B, L, D, H, nd, 1.0f / sqrtf((float)(D + H)));
    dm_backend *one = dm_backend_cpu_create(1);
    run_fwd(one, &o);
    run_bwd(one, &o, &o);
    char w[160];
    for (int nt = 2; nt <= 3; nt++) {
        dm_backend *be = dm_backend_cpu_create(nt);
        io_twin(&t, &o);
        run_fwd(be, &t);
        run_bwd(be, &t, &o);
        snprintf(w, sizeof w, "B%d L%d D%d H%d dirs%d: %d threads against 1", B, L, D, H, nd, nt);
        cr_expect(memcmp(t.h, o.h, sizeof(float) * o.nh) == 0, "%s: h", w);
        cr_expect(memcmp(t.gates, o.gates, sizeof(float) * o.ng) == 0, "%s: gates", w);
        cr_expect(memcmp(t.cell, o.cell, sizeof(float) * o.nh) == 0, "%s: cell", w);
        cr_expect(memcmp(t.gg, o.gg, sizeof(float) * o.ng) == 0, "%s: grad_gates", w);
        cr_expect(memcmp(t.gx, o.gx, sizeof(float) * o.nx) == 0, "%s: grad_x", w);
        /* parameter gradients: summed per fixed group of blocks in group order, whichever thread
         * claimed a group, so bit for bit across thread counts, and again on a second run */
        cr_expect(memcmp(t.gwhh, o.gwhh, sizeof(float) * o.nwhh) == 0 &&
                      memcmp(t.gwih, o.gwih, sizeof(float) * o.nwih) == 0 &&
                      memcmp(t.gbih, o.gbih, sizeof(float) * o.nb) == 0 &&
                      memcmp(t.gbhh, o.gbhh, sizeof(float) * o.nb) == 0,
                  "%s: parameter gradients", w);
        lstm_io u;
        io_twin(&u, &o);
        run_bwd(be, &u, &o);
        cr_expect(memcmp(u.gwhh, o.gwhh, sizeof(float) * o.nwhh) == 0 &&
                      memcmp(u.gwih, o.gwih, sizeof(float) * o.nwih) == 0 &&
                      memcmp(u.gbih, o.gbih, sizeof(float) * o.nb) == 0,
                  "%s: parameter gradients of a second run", w);
        twin_free(&u);
        twin_free(&t);
        dm_backend_free(be);
    }
    io_free(&o);
    dm_backend_free(one);
}

Test(lstm_fused, bit_identical_across_thread_counts) {
    for (int level = 0; level <= dm_cpu_isa_supported(); level++) {
        cr_assert(dm_cpu_isa_force(level) == level);
        threads_case(7, 13, 5, 13, 2);
        threads_case(11, 101, 4, 32, 2);
        threads_case(5, 23, 128, 32, 2);
        threads_case(70, 9, 6, 8, 2);  /* more blocks than groups (8), groups of unequal size */
    }
    dm_cpu_isa_force(-1);
}

/* ---- inference (lstm_infer) and the 16-lane AVX-512 step ---- */

int dm_cpu_lstm_force_width(int w);

static void infer_case(int level, int B, int L, int D, int H, int nd) {
    lstm_io o;
    io_init(&o, B, L, D, H, nd, 1.0f / sqrtf((float)(D + H)));
    dm_backend *one = dm_backend_cpu_create(1);
    run_fwd(one, &o);
    for (int nt = 1; nt <= 3; nt++) {
        dm_backend *be = dm_backend_cpu_create(nt);
        cr_assert(be->i->lstm_infer, "the fast backend has lstm_infer");
        float *h = zeros(o.nh);
        be->i->lstm_infer(be, h, NULL, o.x, o.wih, o.whh, o.bih, o.bhh, B, L, D, H, nd);
        cr_expect(memcmp(h, o.h, sizeof(float) * o.nh) == 0,
                  "B%d L%d D%d H%d dirs%d, %s: lstm_infer with %d threads differs from lstm_fwd with 1", B, L, D,
                  H, nd, dm_cpu_isa_name(level), nt);
        /* the mean over time in the same pass, h not written: mean_time_fwd of lstm_fwd's h */
        size_t nm = (size_t)B * nd * H;
        float *mean = zeros(nm), *want = zeros(nm);
        be->i->mean_time_fwd(be, want, o.h, B, L, nd * H);
        be->i->lstm_infer(be, NULL, mean, o.x, o.wih, o.whh, o.bih, o.bhh, B, L, D, H, nd);
        cr_expect(memcmp(mean, want, sizeof(float) * nm) == 0,
                  "B%d L%d D%d H%d dirs%d, %s, %d threads: lstm_infer's mean differs from mean_time_fwd", B, L,
                  D, H, nd, dm_cpu_isa_name(level), nt);
        free(mean);
        free(want);
        free(h);
        dm_backend_free(be);
    }
    io_free(&o);
    dm_backend_free(one);
}

/* lstm_infer's h is lstm_fwd's bit for bit (the same steps on the same values, the block's state in
 * scratch instead of the saved arrays), and its mean mean_time_fwd's of that h, at every ISA level and
 * for 1, 2 and 3 threads */
Test(lstm_fused, inference_is_the_saving_forward_bit_for_bit) {
    for (int level = 0; level <= dm_cpu_isa_supported(); level++) {
        cr_assert(dm_cpu_isa_force(level) == level);
        cr_log_info("level %s", dm_cpu_isa_name(level));
        infer_case(level, 1, 1, 1, 1, 1);
        infer_case(level, 1, 9, 3, 5, 2);
        infer_case(level, 7, 13, 5, 13, 2);
        infer_case(level, 5, 6, 4, 33, 1);
        infer_case(level, 13, 17, 7, 8, 2);
        infer_case(level, 11, 101, 4, 32, 2);  /* the RNN's shape */
        infer_case(level, 5, 23, 128, 32, 2);  /* the CNN-RNN's */
    }
    dm_cpu_isa_force(-1);
}

/* The AVX-512 level's forward on 16-lane vectors gives the 8-lane copy's h, gates and cell bit for bit
 * (each lane runs the same operations in the same order); H not a multiple of 16 (partial vectors). */
Test(lstm_fused, avx512_16_lanes_is_the_8_lane_step) {
    if (dm_cpu_isa_supported() < 2) cr_skip_test("this CPU has no AVX-512");
    cr_assert(dm_cpu_isa_force(2) == 2);
    int shapes[][5] = {{1, 9, 3, 5, 2}, {7, 13, 5, 13, 2}, {5, 6, 4, 33, 1}, {13, 17, 7, 8, 2},
                       {8, 11, 6, 20, 2}, {11, 101, 4, 32, 2}, {5, 23, 128, 32, 2}};
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        int *s = shapes[c];
        lstm_io p, q;
        io_init(&p, s[0], s[1], s[2], s[3], s[4], 1.0f / sqrtf((float)(s[2] + s[3])));
        io_twin(&q, &p);
        dm_backend *be = dm_backend_cpu_create(2);
        cr_assert(dm_cpu_lstm_force_width(8) == 8);
        run_fwd(be, &p);
        cr_assert(dm_cpu_lstm_force_width(0) == 16);
        run_fwd(be, &q);
        char w[96];
        snprintf(w, sizeof w, "B%d L%d D%d H%d dirs%d: 16 lanes against 8", s[0], s[1], s[2], s[3], s[4]);
        cr_expect(memcmp(q.h, p.h, sizeof(float) * p.nh) == 0, "%s: h", w);
        cr_expect(memcmp(q.gates, p.gates, sizeof(float) * p.ng) == 0, "%s: gates", w);
        cr_expect(memcmp(q.cell, p.cell, sizeof(float) * p.nh) == 0, "%s: cell", w);
        dm_backend_free(be);
        twin_free(&q);
        io_free(&p);
    }
    dm_cpu_lstm_force_width(0);
    dm_cpu_isa_force(-1);
}

/* One-hot rows (all 0 but one 1, or all 0: the RNN's encoded bases) take their projection from a table
 * of W_ih's columns plus the bias instead of the GEMM (D ≤ 8): the same bits, since the sum has one
 * nonzero exact term. Checked against the GEMM path on the same values: x padded with zero columns to
 * D = 12 (past the table's limit), W_ih with random extra columns, which only ever meet zeros. */
static void onehot_case(int B, int L, int H, int nd) {
    const int D = 4, DP = 12, G = 4 * H;
    lstm_io o, p;
    io_init(&o, B, L, D, H, nd, 1.0f / sqrtf((float)(D + H)));
    io_init(&p, B, L, DP, H, nd, 1.0f / sqrtf((float)(D + H)));
    memcpy(p.whh, o.whh, sizeof(float) * o.nwhh);
    memcpy(p.bih, o.bih, sizeof(float) * o.nb);
    memcpy(p.bhh, o.bhh, sizeof(float) * o.nb);
    for (int r = 0; r < nd * G; r++)
        for (int c = 0; c < D; c++) p.wih[(size_t)r * DP + c] = o.wih[(size_t)r * D + c];
    float *u = vec((size_t)B * L, 0, 5, 99);  /* codes 0..3, 4 = a zero row (N) */
    memset(o.x, 0, sizeof(float) * o.nx);
    memset(p.x, 0, sizeof(float) * p.nx);
    for (size_t i = 0; i < (size_t)B * L; i++) {
        int c = (int)u[i] < 4 ? (int)u[i] : 4;
        if (c < 4) o.x[i * D + c] = p.x[i * DP + c] = 1.0f;
    }
    free(u);
    for (int nt = 1; nt <= 2; nt++) {
        dm_backend *be = dm_backend_cpu_create(nt);
        memset(o.h, 0, sizeof(float) * o.nh);
        run_fwd(be, &o);
        run_fwd(be, &p);
        char w[96];
        snprintf(w, sizeof w, "one-hot B%d L%d H%d dirs%d, %d threads: table against GEMM", B, L, H, nd, nt);
        cr_expect(memcmp(o.h, p.h, sizeof(float) * o.nh) == 0, "%s: h", w);
        cr_expect(memcmp(o.gates, p.gates, sizeof(float) * o.ng) == 0, "%s: gates", w);
        cr_expect(memcmp(o.cell, p.cell, sizeof(float) * o.nh) == 0, "%s: cell", w);
        float *hi = zeros(o.nh);
        be->i->lstm_infer(be, hi, NULL, o.x, o.wih, o.whh, o.bih, o.bhh, B, L, D, H, nd);
        cr_expect(memcmp(hi, p.h, sizeof(float) * o.nh) == 0, "%s: lstm_infer's h", w);
        free(hi);
        dm_backend_free(be);
    }
    io_free(&o);
    io_free(&p);
}

Test(lstm_fused, onehot_rows_are_the_gemm_bit_for_bit) {
    for (int level = 0; level <= dm_cpu_isa_supported(); level++) {
        cr_assert(dm_cpu_isa_force(level) == level);
        onehot_case(7, 13, 13, 2);
        onehot_case(11, 101, 32, 2); /* the RNN's shape */
        onehot_case(3, 9, 5, 1);
    }
    dm_cpu_isa_force(-1);
}
