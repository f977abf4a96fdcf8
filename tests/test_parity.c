/*
 * test_parity.c: the whole C models against PyTorch (STYLE.md rule 14).
 *
 * tests/reference/gen_fixture.py (PyTorch 1.13, run by hand; see tests/reference/README.md) builds a
 * small model of each architecture of SPEC.md §2 from PyTorch modules and records, in deepmotif's
 * canonical layout (SPEC.md §3), its parameters, an input batch, the log-softmax output, the mean
 * NLL loss, the gradient of the loss with respect to every parameter and to the input, and three
 * steps of Torch7 Adam with element-wise clipping (SPEC.md §4). Each test here loads one fixture into
 * the C model on the CPU backend (1 thread), replays the same computation through host/model.h, and
 * compares every number. Sizes: cnn L 50, B 6, widths 9-5-3, 16 maps, pool 2; rnn L 30, B 5, H 8;
 * cnnrnn L 30, B 5, conv 4 -> 12 width 9, H 8. Dropout is 0: the fixtures test the deterministic math.
 *
 * Fixture format (little-endian), tests/reference/<arch>.fix:
 *   char magic[4] = "DMFX"; u32 version = 1; u32 arch (0 cnn, 1 rnn, 2 cnnrnn);
 *   i32 B; i32 L; i32 n_conv; i32 conv_width[n_conv]; i32 conv_channels; i32 pool; i32 hidden;
 *   f32 dropout;
 *   records, each: u32 name_len; char name[name_len] (no NUL); u32 ndim; i64 shape[ndim];
 *                  f32 data[prod(shape)]   (a scalar has ndim 0 and one value)
 *   terminated by a record with name_len = 0.
 * Header fields an architecture does not use are 0 (rnn: n_conv, conv_channels, pool; cnnrnn: pool;
 * cnn: hidden); the test then keeps dm_hparams_default()'s value.
 * Records: every parameter under its host/model.h name (conv1.weight (C_out, K, C_in), ...,
 * lstm.fwd.weight_ih (4H, D), fc.bias (2)); "x" (B, L, 4); "labels" (B) as 0/1 floats; "logprob"
 * (B, 2) with the bound class first; "loss" (scalar); "grad.<param>" for every parameter; "grad.x"
 * (B, L, 4); "adam.losses" (4): the loss before Adam updates 1, 2, 3 and after update 3;
 * "adam3.<param>": every parameter after 3 updates.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testutil.h"

/* ---- the fixture reader ---------------------------------------------------------------------- */

#define FX_MAX_REC 128
#define FX_MAX_NAME 63
#define FX_MAX_DIM 8

typedef struct fx_rec {
    char name[FX_MAX_NAME + 1];
    int32_t ndim;
    int64_t shape[FX_MAX_DIM];
    int64_t numel;
    float *data;                    /* (numel), malloc'd */
} fx_rec;

typedef struct fixture {
    char path[4096];
    uint32_t arch;
    int32_t B, L, n_conv, conv_width[DM_MAX_CONV], conv_channels, pool, hidden;
    float dropout;
    int32_t n_rec;
    fx_rec rec[FX_MAX_REC];
} fixture;

/* A bounds-checked little-endian cursor over the file's bytes. */
typedef struct fx_cursor {
    const uint8_t *p;
    size_t n, at;
    const char *path;
} fx_cursor;

static const uint8_t *fx_take(fx_cursor *c, size_t n, const char *what) {
    cr_assert(n <= c->n - c->at, "%s: truncated at byte %zu reading %s (%zu bytes wanted, %zu left)",
              c->path, c->at, what, n, c->n - c->at);
    const uint8_t *p = c->p + c->at;
    c->at += n;
    return p;
}

static uint32_t fx_u32(fx_cursor *c, const char *what) {
    const uint8_t *p = fx_take(c, 4, what);
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int32_t fx_i32(fx_cursor *c, const char *what) {
    return (int32_t)fx_u32(c, what);
}

static int64_t fx_i64(fx_cursor *c, const char *what) {
    uint64_t lo = fx_u32(c, what);
    uint64_t hi = fx_u32(c, what);
    return (int64_t)(lo | hi << 32);
}

static float fx_f32(fx_cursor *c, const char *what) {
    uint32_t u = fx_u32(c, what);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Reads tests/reference/<stem>.fix into *fx (records' data malloc'd; the worker exits afterwards). */
static void fx_load(fixture *fx, const char *stem) {
    memset(fx, 0, sizeof *fx);
    snprintf(fx->path, sizeof fx->path, "%s/tests/reference/%s.fix", DM_TEST_SOURCE_DIR, stem);
    FILE *f = fopen(fx->path, "rb");
    cr_assert_not_null(f, "%s: cannot open (regenerate with tests/reference/gen_fixture.py)",
                       fx->path);
    size_t cap = 1 << 16, n = 0, got;
    uint8_t *buf = malloc(cap);
    cr_assert_not_null(buf);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cr_assert(cap < ((size_t)64 << 20), "%s: larger than 64 MiB", fx->path);
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    cr_assert(!ferror(f), "%s: read error", fx->path);
    fclose(f);

    fx_cursor c = {buf, n, 0, fx->path};
    cr_assert(memcmp(fx_take(&c, 4, "magic"), "DMFX", 4) == 0, "%s: not a DMFX fixture", fx->path);
    uint32_t version = fx_u32(&c, "version");
    cr_assert_eq(version, 1, "%s: fixture version %u, this test reads version 1", fx->path, version);
    fx->arch = fx_u32(&c, "arch");
    fx->B = fx_i32(&c, "B");
    fx->L = fx_i32(&c, "L");
    fx->n_conv = fx_i32(&c, "n_conv");
    cr_assert(fx->arch <= 2 && fx->B > 0 && fx->L > 0 && fx->n_conv >= 0 &&
                  fx->n_conv <= DM_MAX_CONV,
              "%s: bad header (arch %u, B %d, L %d, n_conv %d)", fx->path, fx->arch, fx->B, fx->L,
              fx->n_conv);
    for (int i = 0; i < fx->n_conv; i++) fx->conv_width[i] = fx_i32(&c, "conv_width");
    fx->conv_channels = fx_i32(&c, "conv_channels");
    fx->pool = fx_i32(&c, "pool");
    fx->hidden = fx_i32(&c, "hidden");
    fx->dropout = fx_f32(&c, "dropout");

    for (;;) {
        uint32_t len = fx_u32(&c, "record name length");
        if (len == 0) break;
        cr_assert(len <= FX_MAX_NAME, "%s: record name of %u bytes at byte %zu", fx->path, len,
                  c.at);
        cr_assert(fx->n_rec < FX_MAX_REC, "%s: more than %d records", fx->path, FX_MAX_REC);
        fx_rec *r = &fx->rec[fx->n_rec++];
        memcpy(r->name, fx_take(&c, len, "record name"), len);
        r->name[len] = '\0';
        r->ndim = (int32_t)fx_u32(&c, "ndim");
        cr_assert(r->ndim >= 0 && r->ndim <= FX_MAX_DIM, "%s: %s: ndim %d", fx->path, r->name,
                  r->ndim);
        r->numel = 1;
        for (int d = 0; d < r->ndim; d++) {
            r->shape[d] = fx_i64(&c, "shape");
            cr_assert(r->shape[d] >= 0 && r->shape[d] <= (int64_t)(n / 4),
                      "%s: %s: dimension %d of size %lld", fx->path, r->name, d,
                      (long long)r->shape[d]);
            r->numel *= r->shape[d];
            cr_assert(r->numel <= (int64_t)(n / 4), "%s: %s: too many elements", fx->path,
                      r->name);
        }
        const uint8_t *p = fx_take(&c, (size_t)r->numel * 4, r->name);
        r->data = malloc(sizeof(float) * (size_t)(r->numel ? r->numel : 1));
        cr_assert_not_null(r->data);
        for (int64_t i = 0; i < r->numel; i++) {
            const uint8_t *q = p + 4 * i;
            uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                         (uint32_t)q[3] << 24;
            memcpy(&r->data[i], &u, sizeof u);
        }
    }
    cr_assert_eq(c.at, c.n, "%s: %zu bytes after the end record", fx->path, c.n - c.at);
    free(buf);
}

static const fx_rec *fx_find(const fixture *fx, const char *name) {
    for (int i = 0; i < fx->n_rec; i++)
        if (strcmp(fx->rec[i].name, name) == 0) return &fx->rec[i];
    return NULL;
}

/* The record `prefix``name`, which must exist and hold `numel` values. */
static const fx_rec *fx_get(const fixture *fx, const char *prefix, const char *name, int64_t numel) {
    char full[2 * FX_MAX_NAME + 2];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    const fx_rec *r = fx_find(fx, full);
    cr_assert_not_null(r, "%s: no record '%s'", fx->path, full);
    cr_assert_eq(r->numel, numel, "%s: record '%s' has %lld values, expected %lld", fx->path, full,
                 (long long)r->numel, (long long)numel);
    return r;
}

/* Parameter records are the ones that are not data, outputs, gradients or Adam results. */
static bool fx_is_param(const fx_rec *r) {
    static const char *const other[] = {"x", "labels", "logprob", "loss", "adam.losses"};
    for (size_t i = 0; i < sizeof other / sizeof *other; i++)
        if (strcmp(r->name, other[i]) == 0) return false;
    return strncmp(r->name, "grad.", 5) != 0 && strncmp(r->name, "adam3.", 6) != 0;
}

/* ---- comparison ------------------------------------------------------------------------------ */

/* The worst comparison of a test, printed at its end: how close the C model came to the limits. */
typedef struct parity_log {
    double worst;
    char what[96];
} parity_log;

/* Asserts |got − want| ≤ atol + rtol·|want| element-wise; on failure names the tensor, the element
 * (flat index and, with a shape, its multi-index) and both values. */
static void check_close(parity_log *log, const char *what, const float *got, const float *want,
                        size_t n, const int64_t *shape, int ndim, double atol, double rtol) {
    size_t w = 0;
    double e = dm_test_max_err(got, want, n, atol, rtol, &w);
    if (e > log->worst) {
        log->worst = e;
        snprintf(log->what, sizeof log->what, "%s", what);
    }
    if (e <= 1.0) return;
    char idx[128] = "";
    if (shape && ndim > 0) {
        int64_t rest = (int64_t)w, sub[FX_MAX_DIM];
        for (int d = ndim - 1; d >= 0; d--) {
            sub[d] = shape[d] ? rest % shape[d] : 0;
            rest = shape[d] ? rest / shape[d] : 0;
        }
        size_t k = (size_t)snprintf(idx, sizeof idx, " [");
        for (int d = 0; d < ndim && k < sizeof idx; d++)
            k += (size_t)snprintf(idx + k, sizeof idx - k, d ? ", %lld" : "%lld", (long long)sub[d]);
        if (k < sizeof idx) snprintf(idx + k, sizeof idx - k, "]");
    }
    cr_assert_fail("%s: element %zu%s: C %.9g, PyTorch %.9g (|diff| %.3g; tolerance %.3g = atol %g "
                   "+ rtol %g * |PyTorch|; %.3g x over)",
                   what, w, idx, (double)got[w], (double)want[w],
                   fabs((double)got[w] - (double)want[w]), atol + rtol * fabs((double)want[w]),
                   atol, rtol, e);
}

static void check_scalar(parity_log *log, const char *what, double got, double want, double rtol) {
    double e = fabs(got - want) / (rtol * fabs(want));
    if (!isfinite(got)) e = INFINITY;
    if (e > log->worst) {
        log->worst = e;
        snprintf(log->what, sizeof log->what, "%s", what);
    }
    cr_assert(e <= 1.0, "%s: C %.9g, PyTorch %.9g (relative difference %.3g > %g)", what, got, want,
              fabs(got - want) / fabs(want), rtol);
}

/* Tolerances. The fixture generator reports how much of each float32 rounding alone uses (the same
 * computation in float64): at most 3 % here, so these leave a wide margin for a different order of
 * summation (BLAS blocking, threads) while any real error (a wrong index, gate, bias or branch)
 * exceeds them by orders of magnitude. */
#define TOL_LOGPROB_ATOL 1e-5
#define TOL_LOGPROB_RTOL 1e-4
#define TOL_LOSS_RTOL 1e-5
#define TOL_GRAD_ATOL 1e-6
#define TOL_GRAD_RTOL 1e-3
#define TOL_ADAM_LOSS_RTOL 1e-4
/* Adam after 3 steps. Its first steps are sign-like: at t = 1 a component moves by
 *   lr · √(1−β2)/(1−β1) · 0.1·g / (√0.001·|g| + ε) = lr · g / (|g| + ε/√(1−β2)) = lr · g / (|g| + 3.2e-7),
 * i.e. by ±lr whatever |g| is once |g| ≫ 3e-7, and by a g-dependent fraction of lr when |g| ≲ 1e-6,
 * with slope lr / 3.2e-7 ≈ 3e4 at g = 0. A gradient that is tiny through cancellation may differ by
 * ~1e-10 between two correct float32 implementations, which moves θ by ~3e-6: an error proportional
 * to lr, not to θ, so rtol alone cannot absorb it and the atol must be a small fraction of lr. The
 * fixtures hold 17 (cnn), 11 (rnn) and 93 (cnnrnn) gradient components with 0 < |g| < 1e-6 over the
 * three steps; in float32 vs float64 the parameters after 3 steps differ by at most 8.4e-7 (under
 * 3 % of the tolerance below, displacement included). atol 2e-5 = lr / 500 keeps 20x headroom and
 * still catches PyTorch's ε placement (ε on the corrected √v̂: 10x to 240x over) and a missing clip
 * (cnn: 7.7x over). Parameters are compared as values and as displacements θ3 − θ0, the latter
 * with the same tolerance relative to the update rather than to θ. */
#define TOL_ADAM_ATOL 2e-5
#define TOL_ADAM_RTOL 1e-3

/* ---- the test -------------------------------------------------------------------------------- */

static void run_parity(const char *stem, dm_arch arch) {
    static fixture fx;                  /* ~19 KB of record headers: keep it off the stack */
    parity_log log = {0.0, ""};
    fx_load(&fx, stem);
    cr_assert_eq(fx.arch, (uint32_t)arch, "%s: architecture %u, expected %d", fx.path, fx.arch,
                 (int)arch);
    const int32_t B = fx.B, L = fx.L;

    /* Hyper-parameters: the defaults, overridden by every field the fixture uses. */
    dm_hparams hp;
    dm_hparams_default(&hp, arch);
    hp.len = L;
    if (fx.n_conv > 0) {
        hp.n_conv = fx.n_conv;
        for (int i = 0; i < fx.n_conv; i++) hp.conv_width[i] = fx.conv_width[i];
    }
    if (fx.conv_channels > 0) hp.conv_channels = fx.conv_channels;
    if (fx.pool > 0) hp.pool = fx.pool;
    if (fx.hidden > 0) hp.hidden = fx.hidden;
    hp.dropout = fx.dropout;
    cr_assert_eq(fx.dropout, 0.0f, "%s: dropout %g, the parity fixtures use 0", fx.path,
                 (double)fx.dropout);

    dm_backend *be = dm_backend_cpu_create(1);
    cr_assert_not_null(be, "dm_backend_cpu_create failed");
    dm_net *m = NULL;
    dm_status st = dm_net_create(&m, &hp, be, B);
    cr_assert_eq(st, DM_STATUS_OK, "dm_net_create(%s): %s: %s", stem, dm_status_str(st),
                 dm_last_error());

    /* The model's tensor table must be exactly the fixture's parameters. */
    int64_t n_params = dm_net_n_params(m), fx_params = 0;
    int32_t n_tensors = 0, fx_tensors = 0;
    const dm_tensor_info *tensors = dm_net_tensors(m, &n_tensors);
    for (int i = 0; i < fx.n_rec; i++)
        if (fx_is_param(&fx.rec[i])) {
            fx_params += fx.rec[i].numel;
            fx_tensors++;
        }
    cr_assert_eq(n_params, fx_params, "%s: the C model has %lld parameters, the fixture %lld",
                 stem, (long long)n_params, (long long)fx_params);
    cr_assert_eq(n_tensors, fx_tensors, "%s: the C model has %d tensors, the fixture %d", stem,
                 n_tensors, fx_tensors);

    /* Host parameter array: each fixture tensor at its offset; every float covered exactly once. */
    float *params0 = calloc((size_t)n_params, sizeof(float));
    unsigned char *covered = calloc((size_t)n_params, 1);
    cr_assert(params0 && covered);
    for (int i = 0; i < fx.n_rec; i++) {
        const fx_rec *r = &fx.rec[i];
        if (!fx_is_param(r)) continue;
        const dm_tensor_info *t = dm_net_tensor(m, r->name);
        cr_assert_not_null(t, "%s: the C model has no tensor '%s'", stem, r->name);
        cr_assert_eq(t->ndim, r->ndim, "%s: %s: C ndim %d, fixture %d", stem, r->name, t->ndim,
                     r->ndim);
        for (int d = 0; d < r->ndim; d++)
            cr_assert_eq(t->shape[d], r->shape[d], "%s: %s: dimension %d is %lld in C, %lld in "
                         "the fixture", stem, r->name, d, (long long)t->shape[d],
                         (long long)r->shape[d]);
        cr_assert_eq(t->numel, r->numel);
        cr_assert(t->offset >= 0 && t->offset + t->numel <= n_params, "%s: %s: offset out of range",
                  stem, r->name);
        for (int64_t k = 0; k < t->numel; k++) {
            cr_assert(!covered[t->offset + k], "%s: %s overlaps another tensor", stem, r->name);
            covered[t->offset + k] = 1;
        }
        memcpy(params0 + t->offset, r->data, sizeof(float) * (size_t)t->numel);
    }
    st = dm_net_set_params(m, params0);
    cr_assert_eq(st, DM_STATUS_OK, "dm_net_set_params: %s", dm_last_error());

    /* Inputs. */
    const fx_rec *rx = fx_get(&fx, "", "x", (int64_t)B * L * 4);
    const fx_rec *rl = fx_get(&fx, "", "labels", B);
    int8_t *labels = malloc((size_t)B);
    cr_assert_not_null(labels);
    for (int b = 0; b < B; b++) {
        cr_assert(rl->data[b] == 0.0f || rl->data[b] == 1.0f, "%s: label %d is %g", stem, b,
                  (double)rl->data[b]);
        labels[b] = (int8_t)rl->data[b];
    }

    /* Forward (evaluation mode; dropout is 0 anyway): log-softmax (B, 2), bound class first. */
    float logprob[2 * 64];
    cr_assert(B <= 64);
    st = dm_net_forward(m, rx->data, B, false, 0, 0);
    cr_assert_eq(st, DM_STATUS_OK, "dm_net_forward: %s", dm_last_error());
    st = dm_net_logprob(m, logprob);
    cr_assert_eq(st, DM_STATUS_OK, "dm_net_logprob: %s", dm_last_error());
    const fx_rec *rlp = fx_get(&fx, "", "logprob", (int64_t)B * 2);
    check_close(&log, "logprob", logprob, rlp->data, (size_t)B * 2, rlp->shape, rlp->ndim,
                TOL_LOGPROB_ATOL, TOL_LOGPROB_RTOL);

    /* Backward of the mean NLL: the loss, every parameter gradient and ∂loss/∂x. */
    double loss = NAN;
    float *grad_x = calloc((size_t)B * L * 4, sizeof(float));
    float *grads = calloc((size_t)n_params, sizeof(float));
    cr_assert(grad_x && grads);
    dm_net_zero_grad(m);
    st = dm_net_backward(m, labels, B, (double)B, &loss, grad_x);
    cr_assert_eq(st, DM_STATUS_OK, "dm_net_backward: %s", dm_last_error());
    check_scalar(&log, "loss", loss, (double)fx_get(&fx, "", "loss", 1)->data[0], TOL_LOSS_RTOL);
    st = dm_net_get_grads(m, grads);
    cr_assert_eq(st, DM_STATUS_OK, "dm_net_get_grads: %s", dm_last_error());
    for (int i = 0; i < n_tensors; i++) {
        const dm_tensor_info *t = &tensors[i];
        const fx_rec *rg = fx_get(&fx, "grad.", t->name, t->numel);
        check_close(&log, rg->name, grads + t->offset, rg->data, (size_t)t->numel, rg->shape,
                    rg->ndim, TOL_GRAD_ATOL, TOL_GRAD_RTOL);
    }
    const fx_rec *rgx = fx_get(&fx, "", "grad.x", (int64_t)B * L * 4);
    check_close(&log, "grad.x", grad_x, rgx->data, (size_t)B * L * 4, rgx->shape, rgx->ndim,
                TOL_GRAD_ATOL, TOL_GRAD_RTOL);

    /* Three Torch7-Adam steps from the same start (fresh Adam state), then the final loss. */
    dm_net_zero_grad(m);
    st = dm_net_set_params(m, params0);
    cr_assert_eq(st, DM_STATUS_OK, "dm_net_set_params: %s", dm_last_error());
    dm_adam opt;
    dm_adam_default(&opt);
    cr_assert(opt.lr == 0.01f && opt.beta1 == 0.9f && opt.beta2 == 0.999f && opt.eps == 1e-8f &&
                  opt.clip == 5.0f && opt.t == 0,
              "dm_adam_default is not the configuration the fixture was made with (lr %g, "
              "betas %g %g, eps %g, clip %g, t %lld)", (double)opt.lr, (double)opt.beta1,
              (double)opt.beta2, (double)opt.eps, (double)opt.clip, (long long)opt.t);
    double losses[4];
    for (int s = 0; s < 4; s++) {
        dm_net_zero_grad(m);
        st = dm_net_forward(m, rx->data, B, false, 0, 0);
        cr_assert_eq(st, DM_STATUS_OK, "dm_net_forward: %s", dm_last_error());
        st = dm_net_backward(m, labels, B, (double)B, &losses[s], NULL);
        cr_assert_eq(st, DM_STATUS_OK, "dm_net_backward: %s", dm_last_error());
        if (s == 3) break;                          /* after update 3: the loss only */
        st = dm_net_adam_step(m, &opt);
        cr_assert_eq(st, DM_STATUS_OK, "dm_net_adam_step: %s", dm_last_error());
    }
    cr_assert_eq(opt.t, 3, "the Adam step counter is %lld after 3 steps", (long long)opt.t);
    const fx_rec *ral = fx_get(&fx, "", "adam.losses", 4);
    for (int s = 0; s < 4; s++) {
        char what[64];
        snprintf(what, sizeof what, "adam.losses[%d] (%s update %d)", s, s < 3 ? "before" : "after",
                 s < 3 ? s + 1 : 3);
        check_scalar(&log, what, losses[s], (double)ral->data[s], TOL_ADAM_LOSS_RTOL);
    }

    float *params3 = calloc((size_t)n_params, sizeof(float));
    float *moved = calloc((size_t)n_params, sizeof(float)), *moved_ref = NULL;
    cr_assert(params3 && moved);
    st = dm_net_get_params(m, params3);
    cr_assert_eq(st, DM_STATUS_OK, "dm_net_get_params: %s", dm_last_error());
    for (int i = 0; i < n_tensors; i++) {
        const dm_tensor_info *t = &tensors[i];
        const fx_rec *ra = fx_get(&fx, "adam3.", t->name, t->numel);
        check_close(&log, ra->name, params3 + t->offset, ra->data, (size_t)t->numel, ra->shape,
                    ra->ndim, TOL_ADAM_ATOL, TOL_ADAM_RTOL);
        /* Displacements θ3 − θ0, C and PyTorch, from the same θ0. */
        moved_ref = realloc(moved_ref, sizeof(float) * (size_t)t->numel);
        cr_assert_not_null(moved_ref);
        for (int64_t k = 0; k < t->numel; k++) {
            moved[k] = params3[t->offset + k] - params0[t->offset + k];
            moved_ref[k] = ra->data[k] - params0[t->offset + k];
        }
        char what[96];
        snprintf(what, sizeof what, "%s - %s", ra->name, t->name);
        check_close(&log, what, moved, moved_ref, (size_t)t->numel, ra->shape, ra->ndim,
                    TOL_ADAM_ATOL, TOL_ADAM_RTOL);
    }
    cr_log_info("parity %s: worst comparison %.3g of its tolerance (%s)", stem, log.worst,
                log.what);

    free(moved_ref);
    free(moved);
    free(params3);
    free(grads);
    free(grad_x);
    free(labels);
    free(covered);
    free(params0);
    for (int i = 0; i < fx.n_rec; i++) free(fx.rec[i].data);
    dm_net_free(m);
    dm_backend_free(be);
}

Test(parity, cnn) { run_parity("cnn", DM_ARCH_CNN); }
Test(parity, rnn) { run_parity("rnn", DM_ARCH_RNN); }
Test(parity, cnnrnn) { run_parity("cnnrnn", DM_ARCH_CNNRNN); }
