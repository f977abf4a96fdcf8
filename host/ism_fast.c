/*
 * ism_fast.c: in-silico mutagenesis by receptive-field windows (ism_fast.h). The plan, made once per
 * model: the steps of the prefix (a CONV with the RELU after it, or a MAXPOOL; DROPOUT is the identity
 * at inference), each with the width W of its recomputed output window and, per mutated input
 * position p, where that window starts and where its gathered input starts.
 *
 * Windows. The positions a change at p reaches, [lo, hi], are [p, p] at the input; a conv of width K and
 * padding P maps them to [lo + P − K + 1, hi + P], a max-pool of width k to [⌊lo / k⌋, ⌊hi / k⌋], each
 * clipped to the layer's length (possibly empty: a pool drops a tail that does not fill a window). The
 * width w of an unclipped interval grows to w + K − 1 through a conv and to at most ⌈(w − 1) / k⌉ + 1
 * cells through a pool; W = min(that, the layer's length) bounds every clipped interval, so the window
 * [s, s + W) with s = min(lo, length − W) holds all of [lo, hi] (s = 0 when it is empty). Outside its
 * window a layer's output is the unmutated one (the cache). A conv's window needs inputs [s − P,
 * s − P + W + K − 1) (zeros outside the layer below, as the padding), a pool's [k·s, k·(s + W)).
 */
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "ism_fast.h"

typedef struct step {
    const dm_layer *l;       /* the CONV or MAXPOOL layer */
    bool relu;               /* CONV followed by RELU (in place on the window) */
    int Lin, Cin, Lout, Cout;
    int W, Win;              /* output window width, gathered input width */
    int32_t *h_starts;       /* (L, 2) gather start, window start per mutated position */
    int32_t *d_starts;
    float *ref;              /* (Lout, Cout) on the unmutated row */
    float *win;              /* (Bmax, W, Cout) */
} step;

struct dm_ism_fast {
    dm_net *m;
    dm_backend *be;
    int L, Bmax, n, suffix;  /* steps; first layer after the prefix */
    step s[DM_MAX_LAYERS];
    float *gin;              /* (Bmax, max Win · Cin) */
    int32_t *pidx;           /* max-pool argmax (Bmax, max W · C) */
    float *full;             /* (Bmax, Lp, Cp): the prefix's output */
    float *alt;              /* (Bmax, max Lout · Cout): dm_ism_fast_prefix's full path, allocated there */
    int32_t *pidx_full;      /* its max-pool argmax */
    int32_t *d_full;         /* (L, 2): 0 and the last window's start */
    double macs_win, macs_full;
};

void dm_ism_fast_free(dm_ism_fast *f) {
    if (!f) return;
    const struct dm_backend_i *op = f->be->i;
    for (int i = 0; i < f->n; i++) {
        step *s = &f->s[i];
        free(s->h_starts);
        if (s->d_starts) op->free(f->be, s->d_starts);
        if (s->ref) op->free(f->be, s->ref);
        if (s->win) op->free(f->be, s->win);
    }
    void *dev[] = {f->gin, f->pidx, f->full, f->d_full, f->alt, f->pidx_full};
    for (size_t k = 0; k < sizeof dev / sizeof dev[0]; k++)
        if (dev[k]) op->free(f->be, dev[k]);
    free(f);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The steps of the prefix and their widths; false when the model does not begin with a conv. */
static bool plan(dm_ism_fast *f) {
    int nl, i = 0, w = 1;
    const dm_layer *ly = dm_net_layers(f->m, &nl);
    for (f->n = 0; i < nl; i++) {
        const dm_layer *l = &ly[i];
        if (l->op == DM_LAYER_DROPOUT) continue;    /* the identity at inference */
        if (l->op != DM_LAYER_CONV && (l->op != DM_LAYER_MAXPOOL || f->n == 0)) break;
        step *s = &f->s[f->n++];
        *s = (step){.l = l, .Lin = l->len_in, .Cin = l->ch_in, .Lout = l->len_out, .Cout = l->ch_out};
        if (l->op == DM_LAYER_CONV && i + 1 < nl && ly[i + 1].op == DM_LAYER_RELU) s->relu = true, i++;
        w = l->op == DM_LAYER_CONV ? w + l->k - 1 : (w - 1 + l->k - 1) / l->k + 1;
        s->W = w = w < s->Lout ? w : s->Lout;
        s->Win = l->op == DM_LAYER_CONV ? s->W + l->k - 1 : s->W * l->k;
        if (l->op == DM_LAYER_CONV) {
            double macs = (double)l->k * s->Cin * s->Cout;
            f->macs_win += macs * s->W;
            f->macs_full += macs * s->Lout;
        }
    }
    f->suffix = i;
    return f->n > 0 && i < nl;
}

/* Per mutated input position p, step i's starts: where its gathered input begins and where the window
 * of the layer below begins (0 at step 0: every variant's whole input is its own); full gets 0 and the
 * last step's window start, for the assembly of the prefix's output. */
static void starts(dm_ism_fast *f, int32_t *full) {
    for (int p = 0; p < f->L; p++) {
        int lo = p, hi = p, below = 0;
        for (int i = 0; i < f->n; i++) {
            step *s = &f->s[i];
            const dm_layer *l = s->l;
            if (lo <= hi) {
                if (l->op == DM_LAYER_CONV) lo += l->pad - l->k + 1, hi += l->pad;
                else lo /= l->k, hi /= l->k;
                lo = lo < 0 ? 0 : lo;
                hi = hi > s->Lout - 1 ? s->Lout - 1 : hi;
            }
            int st = lo <= hi ? clampi(lo, 0, s->Lout - s->W) : 0;
            s->h_starts[2 * p] = l->op == DM_LAYER_CONV ? st - l->pad : st * l->k;
            s->h_starts[2 * p + 1] = below;
            below = st;
        }
        full[2 * p] = 0;
        full[2 * p + 1] = below;
    }
}

dm_status dm_ism_fast_create(dm_ism_fast **out, dm_net *m) {
    *out = NULL;
    dm_ism_fast *f = calloc(1, sizeof *f);
    if (!f) return dm_error(DM_STATUS_NOMEM, "ism: out of memory");
    f->m = m;
    f->be = dm_net_backend(m);
    f->L = dm_net_hparams(m)->len;
    f->Bmax = dm_net_max_batch(m);
    if (!f->be->i->ism_window || !plan(f) || f->macs_win >= f->macs_full) {
        free(f);
        return DM_STATUS_OK;
    }
    const struct dm_backend_i *op = f->be->i;
    size_t B = (size_t)f->Bmax, gin = 0, pidx = 0;
    bool ok = true;
    for (int i = 0; i < f->n && ok; i++) {
        step *s = &f->s[i];
        s->h_starts = malloc(sizeof(int32_t) * 2 * (size_t)f->L);
        s->d_starts = op->alloc(f->be, sizeof(int32_t) * 2 * (size_t)f->L);
        s->ref = op->alloc(f->be, sizeof(float) * (size_t)s->Lout * s->Cout);
        s->win = op->alloc(f->be, sizeof(float) * B * s->W * s->Cout);
        ok = s->h_starts && s->d_starts && s->ref && s->win;
        if ((size_t)s->Win * s->Cin > gin) gin = (size_t)s->Win * s->Cin;
        if (s->l->op == DM_LAYER_MAXPOOL) {   /* the windows', and the cache's (one row of Lout) */
            size_t need = B * s->W * s->Cout > (size_t)s->Lout * s->Cout ? B * s->W * s->Cout : (size_t)s->Lout * s->Cout;
            if (need > pidx) pidx = need;
        }
    }
    step *last = &f->s[f->n - 1];
    if (ok) {
        f->gin = op->alloc(f->be, sizeof(float) * B * gin);
        f->pidx = pidx ? op->alloc(f->be, sizeof(int32_t) * pidx) : NULL;
        f->full = op->alloc(f->be, sizeof(float) * B * last->Lout * last->Cout);
        f->d_full = op->alloc(f->be, sizeof(int32_t) * 2 * (size_t)f->L);
        ok = f->gin && (f->pidx || !pidx) && f->full && f->d_full;
    }
    if (!ok) {
        dm_ism_fast_free(f);
        return dm_error(DM_STATUS_NOMEM, "ism: out of backend memory for the windows of a batch of %d", f->Bmax);
    }
    int32_t *full = malloc(sizeof(int32_t) * 2 * (size_t)f->L);
    if (!full) {
        dm_ism_fast_free(f);
        return dm_error(DM_STATUS_NOMEM, "ism: out of memory");
    }
    starts(f, full);
    for (int i = 0; i < f->n; i++)
        op->upload(f->be, f->s[i].d_starts, f->s[i].h_starts, sizeof(int32_t) * 2 * (size_t)f->L);
    op->upload(f->be, f->d_full, full, sizeof(int32_t) * 2 * (size_t)f->L);
    free(full);
    dm_status st = dm_backend_status(f->be);
    if (st) {
        dm_ism_fast_free(f);
        return st;
    }
    *out = f;
    return DM_STATUS_OK;
}

/* One step on B sequences of the layer's input in `in` (B, Lin, Cin): out (B, Lo, Cout). */
static void step_fwd(dm_ism_fast *f, const step *s, float *out, const float *in, int B, int Lin, int pad) {
    const struct dm_backend_i *op = f->be->i;
    dm_backend *be = f->be;
    const dm_layer *l = s->l;
    if (l->op == DM_LAYER_MAXPOOL) {
        op->maxpool_fwd(be, out, f->pidx, in, B, Lin, s->Cin, l->k);
        return;
    }
    const float *w = dm_net_param_buf(f->m, l->tensor), *b = dm_net_param_buf(f->m, l->tensor + 1);
    int Lo = Lin + 2 * pad - l->k + 1;
    if (s->relu && op->conv1d_relu_fwd) {   /* exactly conv then ReLU (backend.h's fused ops) */
        op->conv1d_relu_fwd(be, out, in, w, b, B, Lin, s->Cin, s->Cout, l->k, pad);
        return;
    }
    op->conv1d_fwd(be, out, in, w, b, B, Lin, s->Cin, s->Cout, l->k, pad);
    if (s->relu) op->relu_fwd(be, out, out, (int64_t)B * Lo * s->Cout);
}

dm_status dm_ism_fast_reference(dm_ism_fast *f, const float *x) {
    const float *in = x;
    for (int i = 0; i < f->n; i++) {
        const step *s = &f->s[i];
        step_fwd(f, s, s->ref, in, 1, s->Lin, s->l->op == DM_LAYER_CONV ? s->l->pad : 0);
        in = s->ref;
    }
    return dm_backend_status(f->be);
}

dm_status dm_ism_fast_prefix(dm_ism_fast *f, int v0, int nv, bool windowed, const float **out, int *Lp, int *Cp) {
    if (nv < 1 || nv > f->Bmax || v0 < 0 || v0 + nv > 4 * f->L)
        return dm_error(DM_STATUS_ARG, "ism: variants %d..%d outside 0..%d or a batch of %d", v0, v0 + nv,
                        4 * f->L, f->Bmax);
    const struct dm_backend_i *op = f->be->i;
    dm_backend *be = f->be;
    step *last = &f->s[f->n - 1];
    *Lp = last->Lout;
    *Cp = last->Cout;
    *out = f->full;
    if (!windowed) {   /* the whole prefix on the variants, as the full forward runs it (tests) */
        size_t na = 0;
        for (int i = 0; i < f->n; i++)
            if ((size_t)f->s[i].Lout * f->s[i].Cout > na) na = (size_t)f->s[i].Lout * f->s[i].Cout;
        if (!f->alt && !(f->alt = op->alloc(be, sizeof(float) * 2 * (size_t)f->Bmax * na)))
            return dm_error(DM_STATUS_NOMEM, "ism: out of backend memory");
        if (!f->pidx_full && !(f->pidx_full = op->alloc(be, sizeof(int32_t) * (size_t)f->Bmax * na)))
            return dm_error(DM_STATUS_NOMEM, "ism: out of backend memory");
        int32_t *keep = f->pidx;
        f->pidx = f->pidx_full;
        const float *in = dm_net_input(f->m);
        float *buf[2] = {f->alt, f->alt + (size_t)f->Bmax * na};
        for (int i = 0; i < f->n; i++) {
            const step *s = &f->s[i];
            float *o = buf[i % 2];
            step_fwd(f, s, o, in, nv, s->Lin, s->l->op == DM_LAYER_CONV ? s->l->pad : 0);
            in = *out = o;
        }
        f->pidx = keep;
        return dm_backend_status(be);
    }
    const float *below = dm_net_input(f->m), *below_ref = NULL;   /* the variants' full inputs */
    int below_W = f->L;
    for (int i = 0; i < f->n; i++) {
        step *s = &f->s[i];
        /* the gathered input: the layer below's window (the whole input at step 0), its cache elsewhere */
        op->ism_window(be, f->gin, below_ref, below, s->d_starts, v0, nv, s->Win, below_W, s->Lin, s->Cin);
        step_fwd(f, s, s->win, f->gin, nv, s->Win, 0);
        below = s->win;
        below_ref = s->ref;
        below_W = s->W;
    }
    op->ism_window(be, f->full, last->ref, last->win, f->d_full, v0, nv, last->Lout, last->W, last->Lout,
                   last->Cout);
    return dm_backend_status(be);
}

dm_status dm_ism_fast_forward(dm_ism_fast *f, int v0, int nv) {
    const float *full;
    int Lp, Cp;
    DM_TRY(dm_ism_fast_prefix(f, v0, nv, true, &full, &Lp, &Cp));
    return dm_net_forward_from(f->m, f->suffix, full, nv);
}

void dm_ism_fast_macs(const dm_ism_fast *f, double *windowed, double *full) {
    *windowed = f->macs_win;
    *full = f->macs_full;
}
