/*
 * test_ops.c: every CPU op.
 *  - forward: the fast op (1 and 2 threads) against its naive reference, on shapes that include 1,
 *    odd sizes and the real model shapes;
 *  - backward: the reference backward against central finite differences of the reference forward
 *    (loss = Σ r ⊙ out with a fixed random r), and the fast backward against the reference backward;
 *  - parameter gradients accumulate: calling backward twice doubles them;
 *  - the fast conv1d backward is bit for bit the same at 1, 2 and 3 threads.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "dm_pack.h"
#include "dm_rng.h"
#include "testutil.h"

/* tolerances: fast vs reference (float BLAS vs double loops), and finite differences in float */
#define FAST_ATOL 2e-5
#define FAST_RTOL 2e-4
#define FD_ATOL 2e-3
#define FD_RTOL 2e-2

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

static void expect_close(const char *what, const float *got, const float *want, size_t n,
                         double atol, double rtol) {
    size_t w;
    double e = dm_test_max_err(got, want, n, atol, rtol, &w);
    cr_expect(e <= 1.0, "%s: element %zu: got %.8g, want %.8g (error %.3g × tolerance)", what, w,
              (double)got[w], (double)want[w], e);
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* A scalar loss of the reference forward: Σ r ⊙ out, as a function of the buffer being perturbed. */
typedef double (*loss_fn)(void *ctx);

/* Central differences of loss wrt every element of x (or every `stride`-th); compares with grad. */
static void check_fd(const char *what, loss_fn f, void *ctx, float *x, const float *grad, size_t n,
                     float h, size_t stride) {
    size_t checked = 0, bad = 0, worst = 0;
    double worst_e = 0, worst_fd = 0;
    for (size_t i = 0; i < n; i += stride) {
        float x0 = x[i];
        x[i] = x0 + h;
        double lp = f(ctx);
        x[i] = x0 - h;
        double lm = f(ctx);
        x[i] = x0;
        double fd = (lp - lm) / (2.0 * h);
        double e = fabs(fd - grad[i]) / (FD_ATOL + FD_RTOL * fabs(fd));
        checked++;
        if (e > 1.0) bad++;
        if (e > worst_e) { worst_e = e; worst = i; worst_fd = fd; }
    }
    cr_expect(checked > 0);
    cr_expect(bad == 0, "%s: %zu of %zu gradients off; worst at %zu: analytic %.6g, numeric %.6g",
              what, bad, checked, worst, (double)grad[worst], worst_fd);
}

/* ================================================================================================
 * conv1d
 * ============================================================================================== */

typedef struct conv_ctx {
    dm_backend *ref;
    float *in, *w, *b, *out, *r;
    int B, Li, Ci, Co, K, pad, Lo;
} conv_ctx;

static double conv_loss(void *p) {
    conv_ctx *c = p;
    c->ref->i->conv1d_fwd(c->ref, c->out, c->in, c->w, c->b, c->B, c->Li, c->Ci, c->Co, c->K, c->pad);
    return dot(c->out, c->r, (size_t)c->B * c->Lo * c->Co);
}

static void conv_case(int B, int Li, int Ci, int Co, int K, int pad, bool fd) {
    dm_backend *ref = dm_backend_cpu_ref_create();
    dm_backend *fast1 = dm_backend_cpu_create(1), *fast2 = dm_backend_cpu_create(2);
    int Lo = Li + 2 * pad - K + 1;
    size_t nin = (size_t)B * Li * Ci, nw = (size_t)Co * K * Ci, nout = (size_t)B * Lo * Co;
    uint64_t tag = (uint64_t)(B * 131 + Li * 17 + Ci * 7 + Co * 3 + K + pad * 1000);
    conv_ctx c = {ref, vec(nin, -1, 1, tag), vec(nw, -0.5f, 0.5f, tag + 1), vec(Co, -0.5f, 0.5f, tag + 2),
                  zeros(nout), vec(nout, -1, 1, tag + 3), B, Li, Ci, Co, K, pad, Lo};
    char what[160];
    snprintf(what, sizeof what, "conv1d B%d Li%d Ci%d Co%d K%d pad%d", B, Li, Ci, Co, K, pad);

    /* forward: fast (1 and 2 threads) against the reference */
    float *want = zeros(nout), *got = zeros(nout);
    ref->i->conv1d_fwd(ref, want, c.in, c.w, c.b, B, Li, Ci, Co, K, pad);
    dm_backend *fasts[2] = {fast1, fast2};
    for (int f = 0; f < 2; f++) {
        fasts[f]->i->conv1d_fwd(fasts[f], got, c.in, c.w, c.b, B, Li, Ci, Co, K, pad);
        expect_close(what, got, want, nout, FAST_ATOL, FAST_RTOL);
    }

    /* backward: reference against finite differences; fast against reference */
    float *gi = zeros(nin), *gw = zeros(nw), *gb = zeros(Co);
    ref->i->conv1d_bwd(ref, gi, gw, gb, c.r, c.in, c.w, B, Li, Ci, Co, K, pad);
    if (fd) {
        check_fd("conv1d grad_in", conv_loss, &c, c.in, gi, nin, 1e-2f, 1 + nin / 300);
        check_fd("conv1d grad_w", conv_loss, &c, c.w, gw, nw, 1e-2f, 1 + nw / 300);
        check_fd("conv1d grad_b", conv_loss, &c, c.b, gb, Co, 1e-2f, 1);
    }
    for (int f = 0; f < 2; f++) {
        float *gi2 = zeros(nin), *gw2 = zeros(nw), *gb2 = zeros(Co);
        fasts[f]->i->conv1d_bwd(fasts[f], gi2, gw2, gb2, c.r, c.in, c.w, B, Li, Ci, Co, K, pad);
        expect_close("conv1d fast grad_in", gi2, gi, nin, FAST_ATOL, FAST_RTOL);
        expect_close("conv1d fast grad_w", gw2, gw, nw, FAST_ATOL * 10, FAST_RTOL);
        expect_close("conv1d fast grad_b", gb2, gb, Co, FAST_ATOL * 10, FAST_RTOL);
        /* accumulation: a second call adds the same again (NULL grad_in skips the input gradient) */
        fasts[f]->i->conv1d_bwd(fasts[f], NULL, gw2, gb2, c.r, c.in, c.w, B, Li, Ci, Co, K, pad);
        for (size_t i = 0; i < nw; i++) gw[i] *= 2;
        for (int i = 0; i < Co; i++) gb[i] *= 2;
        expect_close("conv1d grad_w accumulates", gw2, gw, nw, FAST_ATOL * 20, FAST_RTOL);
        expect_close("conv1d grad_b accumulates", gb2, gb, Co, FAST_ATOL * 20, FAST_RTOL);
        for (size_t i = 0; i < nw; i++) gw[i] /= 2;
        for (int i = 0; i < Co; i++) gb[i] /= 2;
        free(gi2); free(gw2); free(gb2);
    }
    /* the fast backward bit for bit across 1, 2 and 3 threads: the parameter gradients are summed per
     * fixed group of sequences in group order, whichever thread claimed a group (conv1d.c) */
    float *g1 = zeros(nin + nw + Co), *gt = zeros(nin + nw + Co);
    fast1->i->conv1d_bwd(fast1, g1, g1 + nin, g1 + nin + nw, c.r, c.in, c.w, B, Li, Ci, Co, K, pad);
    for (int nt = 2; nt <= 3; nt++) {
        dm_backend *be = dm_backend_cpu_create(nt);
        memset(gt, 0, sizeof(float) * (nin + nw + Co));
        be->i->conv1d_bwd(be, gt, gt + nin, gt + nin + nw, c.r, c.in, c.w, B, Li, Ci, Co, K, pad);
        cr_expect(memcmp(gt, g1, sizeof(float) * nin) == 0, "%s: grad_in, %d threads against 1", what, nt);
        cr_expect(memcmp(gt + nin, g1 + nin, sizeof(float) * (nw + Co)) == 0,
                  "%s: grad_w and grad_b, %d threads against 1", what, nt);
        dm_backend_free(be);
    }
    free(g1); free(gt);
    free(c.in); free(c.w); free(c.b); free(c.out); free(c.r);
    free(want); free(got); free(gi); free(gw); free(gb);
    dm_backend_free(ref); dm_backend_free(fast1); dm_backend_free(fast2);
}

Test(conv1d, tiny_shapes) {
    conv_case(1, 1, 1, 1, 1, 0, true);
    conv_case(1, 7, 1, 1, 3, 0, true);
    conv_case(3, 20, 4, 5, 9, 0, true);
    conv_case(2, 13, 3, 7, 9, 4, true);     /* CNN-RNN style same padding */
    conv_case(5, 9, 4, 2, 9, 0, true);      /* Lo = 1 */
    conv_case(3, 5, 2, 3, 5, 2, true);      /* padding wider than the interior */
}

Test(conv1d, real_shapes) {
    conv_case(4, 101, 4, 128, 9, 0, false);   /* CNN conv1 */
    conv_case(3, 46, 128, 128, 5, 0, false);  /* CNN conv2 */
    conv_case(3, 101, 4, 128, 9, 4, false);   /* CNN-RNN conv */
    conv_case(2, 12, 16, 8, 5, 0, true);
    conv_case(19, 30, 4, 16, 9, 4, false);  /* more sequences than the backward's 8 groups, unequal groups */
}

/* ================================================================================================
 * LSTM
 * ============================================================================================== */

typedef struct lstm_ctx {
    dm_backend *ref;
    float *x, *wih, *whh, *bih, *bhh, *h, *gates, *cell, *r;
    int B, L, D, H, nd;
} lstm_ctx;

static double lstm_loss(void *p) {
    lstm_ctx *c = p;
    c->ref->i->lstm_fwd(c->ref, c->h, c->gates, c->cell, c->x, c->wih, c->whh, c->bih, c->bhh, c->B,
                        c->L, c->D, c->H, c->nd);
    return dot(c->h, c->r, (size_t)c->B * c->L * c->nd * c->H);
}

static void lstm_case(int B, int L, int D, int H, int nd, bool fd) {
    dm_backend *ref = dm_backend_cpu_ref_create();
    dm_backend *fast1 = dm_backend_cpu_create(1), *fast2 = dm_backend_cpu_create(2);
    int G = 4 * H;
    size_t nx = (size_t)B * L * D, nwih = (size_t)nd * G * D, nwhh = (size_t)nd * G * H, nb = (size_t)nd * G;
    size_t nh = (size_t)B * L * nd * H, ng = (size_t)B * L * nd * G;
    uint64_t tag = (uint64_t)(1000000 + B * 131 + L * 17 + D * 7 + H * 3 + nd);
    float sc = 1.0f / sqrtf((float)(D + H));
    lstm_ctx c = {ref, vec(nx, -1, 1, tag), vec(nwih, -sc, sc, tag + 1), vec(nwhh, -sc, sc, tag + 2),
                  vec(nb, -0.5f, 0.5f, tag + 3), vec(nb, -0.5f, 0.5f, tag + 4), zeros(nh), zeros(ng),
                  zeros(nh), vec(nh, -1, 1, tag + 5), B, L, D, H, nd};
    char what[160];
    snprintf(what, sizeof what, "lstm B%d L%d D%d H%d dirs%d", B, L, D, H, nd);
    lstm_loss(&c);

    dm_backend *fasts[2] = {fast1, fast2};
    float *h2 = zeros(nh), *g2 = zeros(ng), *c2 = zeros(nh);
    for (int f = 0; f < 2; f++) {
        fasts[f]->i->lstm_fwd(fasts[f], h2, g2, c2, c.x, c.wih, c.whh, c.bih, c.bhh, B, L, D, H, nd);
        expect_close(what, h2, c.h, nh, FAST_ATOL, FAST_RTOL);
        expect_close("lstm gates", g2, c.gates, ng, FAST_ATOL, FAST_RTOL);
        expect_close("lstm cell", c2, c.cell, nh, FAST_ATOL, FAST_RTOL);
    }

    float *gx = zeros(nx), *gwih = zeros(nwih), *gwhh = zeros(nwhh), *gbih = zeros(nb), *gbhh = zeros(nb);
    float *gg = zeros(ng);
    ref->i->lstm_bwd(ref, gx, gwih, gwhh, gbih, gbhh, gg, c.r, c.x, c.h, c.gates, c.cell, c.wih, c.whh,
                     B, L, D, H, nd);
    if (fd) {
        check_fd("lstm grad_x", lstm_loss, &c, c.x, gx, nx, 1e-3f, 1 + nx / 200);
        check_fd("lstm grad_w_ih", lstm_loss, &c, c.wih, gwih, nwih, 1e-3f, 1 + nwih / 200);
        check_fd("lstm grad_w_hh", lstm_loss, &c, c.whh, gwhh, nwhh, 1e-3f, 1 + nwhh / 200);
        check_fd("lstm grad_b_ih", lstm_loss, &c, c.bih, gbih, nb, 1e-3f, 1 + nb / 100);
        check_fd("lstm grad_b_hh", lstm_loss, &c, c.bhh, gbhh, nb, 1e-3f, 1 + nb / 100);
        lstm_loss(&c);   /* restore the saved state of the unperturbed pass */
    }
    for (int f = 0; f < 2; f++) {
        float *fx = zeros(nx), *fwih = zeros(nwih), *fwhh = zeros(nwhh), *fbih = zeros(nb), *fbhh = zeros(nb);
        float *fg = zeros(ng);
        fasts[f]->i->lstm_bwd(fasts[f], fx, fwih, fwhh, fbih, fbhh, fg, c.r, c.x, c.h, c.gates, c.cell,
                              c.wih, c.whh, B, L, D, H, nd);
        expect_close("lstm fast grad_x", fx, gx, nx, FAST_ATOL * 5, FAST_RTOL * 5);
        expect_close("lstm fast grad_w_ih", fwih, gwih, nwih, FAST_ATOL * 20, FAST_RTOL * 5);
        expect_close("lstm fast grad_w_hh", fwhh, gwhh, nwhh, FAST_ATOL * 20, FAST_RTOL * 5);
        expect_close("lstm fast grad_b_ih", fbih, gbih, nb, FAST_ATOL * 20, FAST_RTOL * 5);
        expect_close("lstm fast grad_b_hh", fbhh, gbhh, nb, FAST_ATOL * 20, FAST_RTOL * 5);
        /* accumulation of parameter gradients */
        fasts[f]->i->lstm_bwd(fasts[f], NULL, fwih, fwhh, fbih, fbhh, fg, c.r, c.x, c.h, c.gates, c.cell,
                              c.wih, c.whh, B, L, D, H, nd);
        for (size_t i = 0; i < nb; i++) gbih[i] *= 2;
        expect_close("lstm grad_b_ih accumulates", fbih, gbih, nb, FAST_ATOL * 40, FAST_RTOL * 5);
        for (size_t i = 0; i < nb; i++) gbih[i] /= 2;
        free(fx); free(fwih); free(fwhh); free(fbih); free(fbhh); free(fg);
    }
    free(c.x); free(c.wih); free(c.whh); free(c.bih); free(c.bhh); free(c.h); free(c.gates);
    free(c.cell); free(c.r); free(h2); free(g2); free(c2);
    free(gx); free(gwih); free(gwhh); free(gbih); free(gbhh); free(gg);
    dm_backend_free(ref); dm_backend_free(fast1); dm_backend_free(fast2);
}

Test(lstm, tiny_shapes) {
    lstm_case(1, 1, 1, 1, 1, true);
    lstm_case(2, 5, 4, 3, 2, true);
    lstm_case(3, 7, 4, 8, 1, true);
    lstm_case(3, 6, 5, 4, 2, true);
}

Test(lstm, real_shapes) {
    lstm_case(3, 101, 4, 32, 2, false);     /* RNN */
    lstm_case(2, 101, 128, 32, 2, false);   /* CNN-RNN */
    lstm_case(2, 12, 16, 32, 2, true);
}

/* ================================================================================================
 * pooling, global max, ReLU, mean over time, dense, log-softmax, NLL, dropout, one-hot, Adam
 * ============================================================================================== */

typedef struct pool_ctx {
    dm_backend *ref;
    float *in, *out, *r;
    int32_t *idx;
    int B, L, C, w;
    bool global;
} pool_ctx;

static double pool_loss(void *p) {
    pool_ctx *c = p;
    if (c->global) {
        c->ref->i->gmax_fwd(c->ref, c->out, c->idx, c->in, c->B, c->L, c->C);
        return dot(c->out, c->r, (size_t)c->B * c->C);
    }
    c->ref->i->maxpool_fwd(c->ref, c->out, c->idx, c->in, c->B, c->L, c->C, c->w);
    return dot(c->out, c->r, (size_t)c->B * (c->L / c->w) * c->C);
}

/* Distinct values at least 0.01 apart (in a shuffled order) keep the max away from kinks at h = 1e-3. */
static float *distinct(size_t n, uint64_t tag) {
    float *v = zeros(n);
    dm_rng r;
    dm_rng_init(&r, dm_test_seed(), 101, tag);
    for (size_t i = 0; i < n; i++) v[i] = 0.01f * (float)i - 0.005f * (float)n;
    for (size_t i = n; i > 1; i--) {
        size_t j = dm_rng_below(&r, (uint32_t)i);
        float t = v[i - 1]; v[i - 1] = v[j]; v[j] = t;
    }
    return v;
}

static void pool_case(int B, int L, int C, int w, bool global) {
    dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
    int Lo = global ? 1 : L / w;
    size_t nin = (size_t)B * L * C, nout = (size_t)B * Lo * C;
    pool_ctx c = {ref, distinct(nin, (uint64_t)(B * L * C + w)), zeros(nout), vec(nout, -1, 1, 7),
                  calloc(nout, sizeof(int32_t)), B, L, C, w, global};
    pool_loss(&c);
    float *o2 = zeros(nout), *gi = zeros(nin), *gi2 = zeros(nin);
    int32_t *idx2 = calloc(nout, sizeof(int32_t));
    if (global) {
        fast->i->gmax_fwd(fast, o2, idx2, c.in, B, L, C);
        ref->i->gmax_bwd(ref, gi, c.r, c.idx, B, L, C);
        fast->i->gmax_bwd(fast, gi2, c.r, idx2, B, L, C);
    } else {
        fast->i->maxpool_fwd(fast, o2, idx2, c.in, B, L, C, w);
        ref->i->maxpool_bwd(ref, gi, c.r, c.idx, B, L, C, w);
        fast->i->maxpool_bwd(fast, gi2, c.r, idx2, B, L, C, w);
    }
    expect_close(global ? "gmax fwd" : "maxpool fwd", o2, c.out, nout, 0, 0);
    cr_expect(memcmp(idx2, c.idx, nout * sizeof(int32_t)) == 0, "argmax differs");
    expect_close(global ? "gmax bwd" : "maxpool bwd", gi2, gi, nin, 0, 0);
    check_fd(global ? "gmax grad" : "maxpool grad", pool_loss, &c, c.in, gi, nin, 1e-3f, 1);
    free(c.in); free(c.out); free(c.r); free(c.idx); free(o2); free(gi); free(gi2); free(idx2);
    dm_backend_free(ref); dm_backend_free(fast);
}

Test(pool, maxpool_and_gmax) {
    pool_case(1, 1, 1, 1, false);
    pool_case(2, 7, 3, 2, false);    /* odd length: the last position is dropped (floor) */
    pool_case(3, 9, 5, 3, false);
    pool_case(2, 1, 4, 1, true);
    pool_case(3, 19, 6, 1, true);
}

Test(pool, maxpool_drops_tail) {
    /* L = 5, w = 2: position 4 is never pooled, so it gets no gradient even when it is the largest */
    dm_backend *be = dm_backend_cpu_create(1);
    float in[5] = {1, 2, 3, 4, 100}, out[2], g[2] = {1, 1}, gi[5];
    int32_t idx[2];
    be->i->maxpool_fwd(be, out, idx, in, 1, 5, 1, 2);
    cr_expect(out[0] == 2 && out[1] == 4);
    be->i->maxpool_bwd(be, gi, g, idx, 1, 5, 1, 2);
    cr_expect(gi[0] == 0 && gi[1] == 1 && gi[2] == 0 && gi[3] == 1 && gi[4] == 0);
    dm_backend_free(be);
}

Test(elementwise, relu_mean_dense_logsoftmax_nll) {
    dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
    /* ReLU */
    size_t n = 1001;
    float *x = vec(n, -1, 1, 11), *y1 = zeros(n), *y2 = zeros(n), *g = vec(n, -1, 1, 12);
    float *gi1 = zeros(n), *gi2 = zeros(n);
    ref->i->relu_fwd(ref, y1, x, (int64_t)n);
    fast->i->relu_fwd(fast, y2, x, (int64_t)n);
    expect_close("relu fwd", y2, y1, n, 0, 0);
    for (size_t i = 0; i < n; i++) cr_expect(y1[i] == (x[i] > 0 ? x[i] : 0));
    ref->i->relu_bwd(ref, gi1, g, y1, (int64_t)n);
    fast->i->relu_bwd(fast, gi2, g, y2, (int64_t)n);
    expect_close("relu bwd", gi2, gi1, n, 0, 0);
    for (size_t i = 0; i < n; i++) cr_expect(gi1[i] == (x[i] > 0 ? g[i] : 0));

    /* mean over time: (B 3, L 7, C 5) */
    int B = 3, L = 7, C = 5;
    float *in = vec((size_t)B * L * C, -1, 1, 13), *m1 = zeros(B * C), *m2 = zeros(B * C);
    ref->i->mean_time_fwd(ref, m1, in, B, L, C);
    fast->i->mean_time_fwd(fast, m2, in, B, L, C);
    expect_close("mean_time fwd", m2, m1, (size_t)B * C, 1e-6, 1e-6);
    double s = 0;
    for (int l = 0; l < L; l++) s += in[(1 * L + l) * C + 2];
    cr_expect(fabs(m1[1 * C + 2] - s / L) < 1e-6);
    float *gm = vec((size_t)B * C, -1, 1, 14), *gmi1 = zeros((size_t)B * L * C), *gmi2 = zeros((size_t)B * L * C);
    ref->i->mean_time_bwd(ref, gmi1, gm, B, L, C);
    fast->i->mean_time_bwd(fast, gmi2, gm, B, L, C);
    expect_close("mean_time bwd", gmi2, gmi1, (size_t)B * L * C, 1e-7, 1e-6);
    cr_expect(fabs(gmi1[(2 * L + 4) * C + 3] - gm[2 * C + 3] / L) < 1e-7);

    /* dense (B 4, Ci 9, Co 2) and log-softmax: fast vs reference, then gradients by differences */
    int Ci = 9, Co = 2;
    B = 4;
    float *din = vec((size_t)B * Ci, -1, 1, 15), *w = vec((size_t)Co * Ci, -1, 1, 16), *b = vec(Co, -1, 1, 17);
    float *o1 = zeros(B * Co), *o2 = zeros(B * Co);
    ref->i->dense_fwd(ref, o1, din, w, b, B, Ci, Co);
    fast->i->dense_fwd(fast, o2, din, w, b, B, Ci, Co);
    expect_close("dense fwd", o2, o1, (size_t)B * Co, 1e-5, 1e-5);
    float *go = vec((size_t)B * Co, -1, 1, 18);
    float *gi_r = zeros(B * Ci), *gw_r = zeros(Co * Ci), *gb_r = zeros(Co);
    float *gi_f = zeros(B * Ci), *gw_f = zeros(Co * Ci), *gb_f = zeros(Co);
    ref->i->dense_bwd(ref, gi_r, gw_r, gb_r, go, din, w, B, Ci, Co);
    fast->i->dense_bwd(fast, gi_f, gw_f, gb_f, go, din, w, B, Ci, Co);
    expect_close("dense grad_in", gi_f, gi_r, (size_t)B * Ci, 1e-5, 1e-5);
    expect_close("dense grad_w", gw_f, gw_r, (size_t)Co * Ci, 1e-5, 1e-5);
    expect_close("dense grad_b", gb_f, gb_r, Co, 1e-5, 1e-5);
    /* dense is linear: ∂(Σ go ⊙ out)/∂w[o, i] = Σ_b go[b, o] in[b, i], checked by one difference each */
    for (int k = 0; k < Co * Ci; k++) {
        float w0 = w[k];
        w[k] = w0 + 0.5f;
        ref->i->dense_fwd(ref, o2, din, w, b, B, Ci, Co);
        double lp = dot(o2, go, (size_t)B * Co);
        w[k] = w0 - 0.5f;
        ref->i->dense_fwd(ref, o2, din, w, b, B, Ci, Co);
        double lm = dot(o2, go, (size_t)B * Co);
        w[k] = w0;
        cr_expect(fabs((lp - lm) - gw_r[k]) < 1e-4, "dense grad_w[%d] %g vs %g", k, gw_r[k], lp - lm);
    }

    /* log-softmax over 2 classes */
    float z[8] = {0.3f, -1.2f, 5.0f, 5.0f, -30.0f, 40.0f, 0.0f, 1e-3f}, lp1[8], lp2[8];
    ref->i->logsoftmax_fwd(ref, lp1, z, 4, 2);
    fast->i->logsoftmax_fwd(fast, lp2, z, 4, 2);
    expect_close("logsoftmax fwd", lp2, lp1, 8, 1e-6, 1e-6);
    for (int r = 0; r < 4; r++) {
        double want0 = z[2 * r] - log(exp((double)z[2 * r]) + exp((double)z[2 * r + 1]));
        if (r == 2) want0 = -70.0;   /* exp underflows in double too: −70 − log(1 + e^−70) */
        cr_expect(fabs(lp1[2 * r] - want0) < 1e-5, "logsoftmax row %d: %g vs %g", r, lp1[2 * r], want0);
        cr_expect(fabs(exp(lp1[2 * r]) + exp(lp1[2 * r + 1]) - 1) < 1e-6);
    }
    float glp[8] = {0.7f, -0.2f, 1.0f, 0.0f, -0.5f, 0.25f, 2.0f, -1.0f}, gz1[8], gz2[8];
    ref->i->logsoftmax_bwd(ref, gz1, glp, lp1, 4, 2);
    fast->i->logsoftmax_bwd(fast, gz2, glp, lp2, 4, 2);
    expect_close("logsoftmax bwd", gz2, gz1, 8, 1e-6, 1e-5);
    for (int k = 0; k < 8; k++) {   /* differences in double of the exact log-softmax */
        double zp[8], zm[8], h = 1e-4, lpp = 0, lpm = 0;
        for (int j = 0; j < 8; j++) zp[j] = zm[j] = z[j];
        zp[k] += h;
        zm[k] -= h;
        for (int r = 0; r < 4; r++) {
            double lsp = log(exp(zp[2 * r]) + exp(zp[2 * r + 1])), lsm = log(exp(zm[2 * r]) + exp(zm[2 * r + 1]));
            lpp += glp[2 * r] * (zp[2 * r] - lsp) + glp[2 * r + 1] * (zp[2 * r + 1] - lsp);
            lpm += glp[2 * r] * (zm[2 * r] - lsm) + glp[2 * r + 1] * (zm[2 * r + 1] - lsm);
        }
        cr_expect(fabs((lpp - lpm) / (2 * h) - gz1[k]) < 1e-4, "logsoftmax grad[%d]", k);
    }

    /* NLL, positive class first: label 1 → class 0 */
    int8_t lab[4] = {1, 0, 1, 0};
    float loss[4], glo[8];
    ref->i->nll(ref, loss, glo, lp1, lab, 4, 0.25f);
    cr_expect(loss[0] == -lp1[0] && loss[1] == -lp1[3] && loss[2] == -lp1[4] && loss[3] == -lp1[7]);
    cr_expect(glo[0] == -0.25f && glo[1] == 0 && glo[2] == 0 && glo[3] == -0.25f);

    free(x); free(y1); free(y2); free(g); free(gi1); free(gi2); free(in); free(m1); free(m2); free(gm);
    free(gmi1); free(gmi2); free(din); free(w); free(b); free(o1); free(o2); free(go);
    free(gi_r); free(gw_r); free(gb_r); free(gi_f); free(gw_f); free(gb_f);
    dm_backend_free(ref); dm_backend_free(fast);
}

Test(dropout, masks_are_deterministic_scaled_and_backprop) {
    dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
    size_t n = 100003;
    float *x = vec(n, -1, 1, 21), *y1 = zeros(n), *y2 = zeros(n), *m1 = zeros(n), *m2 = zeros(n);
    uint64_t key = dm_stream_key(42, DM_STREAM_DROPOUT);
    ref->i->dropout_fwd(ref, y1, m1, x, (int64_t)n, 0.5f, key, 7);
    fast->i->dropout_fwd(fast, y2, m2, x, (int64_t)n, 0.5f, key, 7);
    cr_expect(memcmp(m1, m2, n * sizeof(float)) == 0, "fast and reference masks differ");
    cr_expect(memcmp(y1, y2, n * sizeof(float)) == 0);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(m1[i] == 0.0f || m1[i] == 2.0f, "mask value %g", m1[i]);
        kept += m1[i] != 0;
        cr_assert(y1[i] == x[i] * m1[i]);
    }
    /* binomial(n, 0.5): 6 standard deviations = 949 */
    cr_expect(fabs((double)kept - n / 2.0) < 949, "kept %zu of %zu", kept, n);
    /* another index (step or layer) gives another mask; p = 0.2 keeps ~80 % scaled by 1.25 */
    fast->i->dropout_fwd(fast, y2, m2, x, (int64_t)n, 0.5f, key, 8);
    cr_expect(memcmp(m1, m2, n * sizeof(float)) != 0);
    fast->i->dropout_fwd(fast, y2, m2, x, (int64_t)n, 0.2f, key, 8);
    kept = 0;
    for (size_t i = 0; i < n; i++) kept += m2[i] == 1.25f;
    cr_expect(fabs((double)kept - 0.8 * n) < 6 * sqrt(0.16 * n));
    /* backward multiplies by the same mask */
    float *g = vec(n, -1, 1, 22), *gi = zeros(n);
    fast->i->dropout_bwd(fast, gi, g, m1, (int64_t)n);
    for (size_t i = 0; i < n; i++) cr_assert(gi[i] == g[i] * m1[i]);
    free(x); free(y1); free(y2); free(m1); free(m2); free(g); free(gi);
    dm_backend_free(ref); dm_backend_free(fast);
}

Test(onehot, codes_and_n_policy) {
    dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
    uint8_t codes[7] = {DM_BASE_A, DM_BASE_C, DM_BASE_G, DM_BASE_T, DM_BASE_N, DM_BASE_PAD, DM_BASE_T};
    float x[28], x2[28];
    ref->i->onehot(ref, x, codes, 1, 7, false);
    fast->i->onehot(fast, x2, codes, 1, 7, false);
    cr_expect(memcmp(x, x2, sizeof x) == 0);
    float want[28] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    cr_expect(memcmp(x, want, sizeof x) == 0, "one-hot rows");
    fast->i->onehot(fast, x2, codes, 1, 7, true);
    for (int c = 0; c < 4; c++) {
        cr_expect(x2[16 + c] == 0.25f, "N row under the quarter policy");
        cr_expect(x2[20 + c] == 0.0f, "padding stays zero under the quarter policy");
    }
    dm_backend_free(ref); dm_backend_free(fast);
}

Test(adam, torch7_update_with_clipping) {
    /* two steps on four parameters, against the formula of SPEC.md §4 evaluated in double */
    dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
    dm_backend *bes[2] = {ref, fast};
    for (int k = 0; k < 2; k++) {
        float p[4] = {0.5f, -0.25f, 1.0f, 0.0f}, m[4] = {0}, v[4] = {0};
        float g[4] = {0.1f, -7.0f, 12.0f, 1e-9f};
        double pd[4] = {0.5, -0.25, 1.0, 0.0}, md[4] = {0}, vd[4] = {0};
        for (int t = 1; t <= 2; t++) {
            double step = 0.01 * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t));
            bes[k]->i->adam(bes[k], p, g, m, v, 4, (float)step, 0.9f, 0.999f, 1e-8f, 5.0f);
            for (int i = 0; i < 4; i++) {
                double gc = g[i] > 5 ? 5 : (g[i] < -5 ? -5 : g[i]);
                md[i] = 0.9 * md[i] + 0.1 * gc;
                vd[i] = 0.999 * vd[i] + 0.001 * gc * gc;
                pd[i] -= step * md[i] / (sqrt(vd[i]) + 1e-8);
            }
        }
        for (int i = 0; i < 4; i++)
            cr_expect(fabs(p[i] - pd[i]) < 1e-6, "%s adam param %d: %.8f vs %.8f", bes[k]->name, i,
                      p[i], pd[i]);
        /* the clipped components moved exactly like a gradient of ±5 would */
        cr_expect(fabs(m[1] - (-0.5 * 0.9 - 0.5)) < 1e-5 && fabs(m[2] - (0.5 * 0.9 + 0.5)) < 1e-5);
    }
    dm_backend_free(ref); dm_backend_free(fast);
}

int dm_cpu_isa_force(int level);
int dm_cpu_isa_supported(void);
const char *dm_cpu_isa_name(int level);

Test(adam, the_clip_keeps_nan_and_clips_like_fminf_fmaxf) {
    /* the clip passes a NaN gradient through (param, m and v NaN: the divergence check sees it), and on
     * everything else, ±Inf, ±clip and −0 included, it is fminf(fmaxf(g, −clip), clip) bit for bit:
     * the same backend with clip 5 on g, and with clip 0 (no clip) on g clipped that way, agree exactly;
     * the reference, then the fast backend at every ISA level this CPU has */
    dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
    dm_backend *bes[2] = {ref, fast};
    enum { N = 1031 };   /* not a multiple of any vector width: the tail is covered */
    static float g[N], gc[N], p0[N], p[2][N], m[2][N], v[2][N];
    dm_test_fill_uniform(g, N, -8.0f, 8.0f, 91);
    dm_test_fill_uniform(p0, N, -1.0f, 1.0f, 92);
    g[3] = INFINITY, g[4] = -INFINITY, g[5] = 5.0f, g[6] = -5.0f, g[7] = -0.0f, g[8] = 0.0f;
    for (int i = 0; i < N; i++) gc[i] = fminf(fmaxf(g[i], -5.0f), 5.0f);
    g[600] = NAN;
    gc[600] = NAN;
    for (int level = -1, top = dm_cpu_isa_supported(); level <= top; level++) {   /* −1: the reference */
        int k = level >= 0;
        if (k) dm_cpu_isa_force(level);
        for (int run = 0; run < 2; run++) {
            memcpy(p[run], p0, sizeof p0);
            memset(m[run], 0, sizeof m[run]);
            memset(v[run], 0, sizeof v[run]);
            for (int t = 0; t < 2; t++)
                bes[k]->i->adam(bes[k], p[run], run ? gc : g, m[run], v[run], N, 0.003f, 0.9f, 0.999f, 1e-8f,
                                run ? 0.0f : 5.0f);
        }
        const char *isa = k ? dm_cpu_isa_name(level) : "";
        cr_expect(isnan(p[0][600]) && isnan(m[0][600]) && isnan(v[0][600]), "%s %s: a NaN gradient stays NaN",
                  bes[k]->name, isa);
        cr_expect(memcmp(p[0], p[1], sizeof p[0]) == 0 && memcmp(m[0], m[1], sizeof m[0]) == 0 &&
                  memcmp(v[0], v[1], sizeof v[0]) == 0, "%s %s: the clip differs from fminf/fmaxf's",
                  bes[k]->name, isa);
    }
    dm_cpu_isa_force(-1);
    dm_backend_free(ref); dm_backend_free(fast);
}

Test(gather, packed_rows_equal_onehot_of_the_codes) {
    /* rows of a packed data set, in a scrambled order, against the one-hot op on the unpacked codes */
    dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
    int N = 37, L = 101, B = 19, rb = dm_pack_row_bytes(L);
    uint8_t *codes = malloc((size_t)N * L), *packed = malloc((size_t)N * rb), *batch = malloc((size_t)B * L);
    int8_t labels[37], lr[19], lf[19];
    int32_t perm[19];
    for (int i = 0; i < N * L; i++) codes[i] = (uint8_t)((i * 7 + i / 13) % 6);   /* A..T, N, PAD */
    for (int r = 0; r < N; r++) {
        labels[r] = (int8_t)(r % 3 == 0 ? 1 : (r % 3 == 1 ? 0 : DM_LABEL_UNKNOWN));
        dm_pack_row(packed + (size_t)r * rb, codes + (size_t)r * L, L);
    }
    for (int b = 0; b < B; b++) {
        perm[b] = (b * 11 + 5) % N;
        memcpy(batch + (size_t)b * L, codes + (size_t)perm[b] * L, (size_t)L);
    }
    for (int q = 0; q < 2; q++) {
        float *xr = zeros((size_t)B * L * 4), *xf = zeros((size_t)B * L * 4), *xo = zeros((size_t)B * L * 4);
        ref->i->gather(ref, xr, lr, packed, labels, perm, B, L, q);
        fast->i->gather(fast, xf, lf, packed, labels, perm, B, L, q);
        ref->i->onehot(ref, xo, batch, B, L, q);
        cr_expect(memcmp(xr, xo, sizeof(float) * B * L * 4) == 0, "gather = one-hot of the row's codes (q %d)", q);
        cr_expect(memcmp(xf, xr, sizeof(float) * B * L * 4) == 0, "fast gather = reference (q %d)", q);
        for (int b = 0; b < B; b++) cr_expect(lr[b] == labels[perm[b]] && lf[b] == lr[b], "label of batch row %d", b);
        free(xr); free(xf); free(xo);
    }
    free(codes); free(packed); free(batch);
    dm_backend_free(ref); dm_backend_free(fast);
}

Test(elementwise, lerp_axpy_and_input_optimisation_steps) {
    dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
    int R = 3, L = 7, n = 4 * L;
    size_t N = (size_t)R * n;
    float *a = vec(N, -1, 1, 91), *b = vec(N, -1, 1, 92), *o1 = zeros(N), *o2 = zeros(N);
    /* lerp and axpy against their formulas */
    ref->i->lerp(ref, o1, a, b, 0.3f, (int64_t)N);
    fast->i->lerp(fast, o2, a, b, 0.3f, (int64_t)N);
    for (size_t i = 0; i < N; i++) cr_expect(o1[i] == a[i] + 0.3f * (b[i] - a[i]) && o2[i] == o1[i], "lerp %zu", i);
    ref->i->axpy(ref, o1, b, -2.0f, (int64_t)N);
    fast->i->axpy(fast, o2, b, -2.0f, (int64_t)N);
    for (size_t i = 0; i < N; i++)
        cr_expect(fabsf(o1[i] - (a[i] + 0.3f * (b[i] - a[i]) - 2.0f * b[i])) < 1e-6f && o2[i] == o1[i], "axpy %zu", i);

    for (int sm = 0; sm < 2; sm++) {
        /* projection: rows of the softmax sum to 1; the identity copies */
        float *z = vec(N, -3, 3, 93), *x = zeros(N), *xf = zeros(N);
        ref->i->optin_project(ref, x, z, (int64_t)R * L, sm);
        fast->i->optin_project(fast, xf, z, (int64_t)R * L, sm);
        expect_close("optin_project", xf, x, N, 0, 0);
        for (int p = 0; p < R * L; p++) {
            double s = x[4 * p] + x[4 * p + 1] + x[4 * p + 2] + x[4 * p + 3];
            if (sm) cr_expect(fabs(s - 1.0) < 1e-6, "softmax row %d sums to %g", p, s);
            else cr_expect(memcmp(x + 4 * p, z + 4 * p, 16) == 0, "identity projection");
        }
        /* objective: −max(lp, ln 1e−30) + λ Σ x², and grad += 2λ x */
        float lp[6] = {-0.5f, -0.9f, -100.0f, 0.0f, -2.0f, -0.2f}, obj[3], objf[3];
        float *g = vec(N, -1, 1, 94), *g0 = malloc(sizeof(float) * N), *gf = malloc(sizeof(float) * N);
        memcpy(g0, g, sizeof(float) * N);
        memcpy(gf, g, sizeof(float) * N);
        ref->i->optin_objective(ref, obj, g, x, lp, R, n, 0.009f);
        fast->i->optin_objective(fast, objf, gf, x, lp, R, n, 0.009f);
        for (int r = 0; r < R; r++) {
            double sq = 0;
            for (int i = 0; i < n; i++) sq += (double)x[r * n + i] * x[r * n + i];
            double want = -fmax(lp[2 * r], log(1e-30)) + 0.009 * sq;
            cr_expect(fabs(obj[r] - want) < 1e-5 * fmax(1, fabs(want)) && objf[r] == obj[r], "objective %d: %g vs %g", r,
                      obj[r], want);
        }
        for (size_t i = 0; i < N; i++) cr_expect(fabsf(g[i] - (g0[i] + 2 * 0.009f * x[i])) < 1e-6f && gf[i] == g[i]);
        /* RMSprop: through the softmax Jacobian, the step's gradient is x ⊙ (g − Σ g x) */
        float *v = vec(N, 0, 0.01f, 95), *vf = malloc(sizeof(float) * N), *zf = malloc(sizeof(float) * N);
        float *z0 = malloc(sizeof(float) * N), *v0 = malloc(sizeof(float) * N);
        memcpy(vf, v, sizeof(float) * N); memcpy(v0, v, sizeof(float) * N);
        memcpy(zf, z, sizeof(float) * N); memcpy(z0, z, sizeof(float) * N);
        ref->i->optin_rmsprop(ref, z, v, g, x, (int64_t)R * L, 0.05f, 0.99f, 1e-8f, sm);
        fast->i->optin_rmsprop(fast, zf, vf, g, x, (int64_t)R * L, 0.05f, 0.99f, 1e-8f, sm);
        expect_close("optin_rmsprop z", zf, z, N, 0, 0);
        expect_close("optin_rmsprop v", vf, v, N, 0, 0);
        for (int p = 0; p < R * L; p++) {
            const float *gp = g + 4 * p, *xp = x + 4 * p;
            double gx = (double)gp[0] * xp[0] + (double)gp[1] * xp[1] + (double)gp[2] * xp[2] + (double)gp[3] * xp[3];
            for (int c = 0; c < 4; c++) {
                double gc = sm ? xp[c] * (gp[c] - gx) : gp[c];
                double vc = 0.99 * v0[4 * p + c] + 0.01 * gc * gc;
                double zc = z0[4 * p + c] - 0.05 * gc / (sqrt(vc) + 1e-8);
                cr_expect(fabs(z[4 * p + c] - zc) < 1e-5, "rmsprop z[%d,%d]: %g vs %g", p, c, z[4 * p + c], zc);
            }
        }
        free(z); free(x); free(xf); free(g); free(g0); free(gf); free(v); free(vf); free(zf); free(z0); free(v0);
    }
    free(a); free(b); free(o1); free(o2);
    dm_backend_free(ref); dm_backend_free(fast);
}

/* ================================================================================================
 * runtime ISA dispatch (kernels/cpu/cpu.h): the other tests run the level this CPU picks; here every
 * level it supports (portable reference copy, AVX2, AVX-512) runs the dispatched ops against the naive
 * references, and the levels are compared with each other directly
 * ============================================================================================== */

int dm_cpu_isa_force(int level);
int dm_cpu_isa_supported(void);
const char *dm_cpu_isa_name(int level);

Test(dispatch, every_isa_level_matches_the_reference) {
    int top = dm_cpu_isa_supported();
    cr_log_info("ISA levels on this CPU: portable .. %s", dm_cpu_isa_name(top));
    size_t n = 100003;
    float *x = vec(n, -1, 1, 61), *g = vec(n, -1, 1, 62), *ref_y = zeros(n), *ref_m = zeros(n), *y = zeros(n);
    float *m = zeros(n), *gi = zeros(n), *ref_gi = zeros(n);
    dm_backend *ref = dm_backend_cpu_ref_create(), *fast = dm_backend_cpu_create(2);
    uint64_t key = dm_stream_key(42, DM_STREAM_DROPOUT);
    /* LSTM forward of the RNN's shape at each level, to compare the levels with each other */
    int B = 3, L = 101, D = 4, H = 32, G = 4 * H;
    float *lx = vec((size_t)B * L * D, -1, 1, 63), *wih = vec((size_t)2 * G * D, -0.3f, 0.3f, 64);
    float *whh = vec((size_t)2 * G * H, -0.3f, 0.3f, 65), *bih = vec(2 * G, -0.1f, 0.1f, 66);
    float *bhh = vec(2 * G, -0.1f, 0.1f, 67), *h0 = zeros((size_t)B * L * 2 * H);
    float *lh = zeros((size_t)B * L * 2 * H), *lg = zeros((size_t)B * L * 2 * G), *lc = zeros((size_t)B * L * 2 * H);
    for (int level = 0; level <= top; level++) {
        cr_assert(dm_cpu_isa_force(level) == level);
        cr_log_info("level %s", dm_cpu_isa_name(level));
        /* the shapes of the per-op tests that exercise the dispatched loops */
        conv_case(2, 13, 3, 7, 9, 4, false);      /* col2im at the padded edges */
        conv_case(3, 46, 128, 128, 5, 0, false);
        lstm_case(2, 5, 4, 3, 2, false);
        lstm_case(3, 101, 4, 32, 2, false);
        pool_case(3, 9, 5, 3, false);
        /* ReLU and dropout are exact (no rounding): bit-identical to the reference */
        ref->i->relu_fwd(ref, ref_y, x, (int64_t)n);
        fast->i->relu_fwd(fast, y, x, (int64_t)n);
        cr_expect(memcmp(y, ref_y, n * sizeof(float)) == 0, "%s relu fwd", dm_cpu_isa_name(level));
        ref->i->relu_bwd(ref, ref_gi, g, ref_y, (int64_t)n);
        fast->i->relu_bwd(fast, gi, g, y, (int64_t)n);
        cr_expect(memcmp(gi, ref_gi, n * sizeof(float)) == 0, "%s relu bwd", dm_cpu_isa_name(level));
        ref->i->dropout_fwd(ref, ref_y, ref_m, x, (int64_t)n, 0.3f, key, 5);
        fast->i->dropout_fwd(fast, y, m, x, (int64_t)n, 0.3f, key, 5);
        cr_expect(memcmp(m, ref_m, n * sizeof(float)) == 0 && memcmp(y, ref_y, n * sizeof(float)) == 0,
                  "%s dropout masks", dm_cpu_isa_name(level));
        /* Adam: the same float expression in another vector width; sqrtf and division are correctly
         * rounded at every width, so only FMA contraction separates the levels (a few ulps) */
        float p1[7] = {0.5f, -0.25f, 1, 0, 3, -3, 0.125f}, p2[7], m1[7] = {0}, m2[7] = {0}, v1[7] = {0}, v2[7] = {0};
        float ga[7] = {0.1f, -7, 12, 1e-9f, -0.5f, 2, 4};
        memcpy(p2, p1, sizeof p1);
        for (int t = 0; t < 3; t++) {
            ref->i->adam(ref, p1, ga, m1, v1, 7, 0.01f, 0.9f, 0.999f, 1e-8f, 5.0f);
            fast->i->adam(fast, p2, ga, m2, v2, 7, 0.01f, 0.9f, 0.999f, 1e-8f, 5.0f);
        }
        expect_close("adam params", p2, p1, 7, 1e-7, 1e-6);
        /* the LSTM at this level against the portable level's result: FMA contraction (recurrent
         * product, exp polynomial) differs by a few ulps per step; 101 steps stay far inside FAST
         * tolerances (test_lstm_fused.c derives the bound level by level) */
        fast->i->lstm_fwd(fast, lh, lg, lc, lx, wih, whh, bih, bhh, B, L, D, H, 2);
        if (level == 0) memcpy(h0, lh, sizeof(float) * (size_t)B * L * 2 * H);
        else expect_close("lstm h against the portable level", lh, h0, (size_t)B * L * 2 * H, 1e-6, 1e-5);
    }
    dm_cpu_isa_force(-1);
    free(x); free(g); free(ref_y); free(ref_m); free(y); free(m); free(gi); free(ref_gi);
    free(lx); free(wih); free(whh); free(bih); free(bhh); free(h0); free(lh); free(lg); free(lc);
    dm_backend_free(ref); dm_backend_free(fast);
}
