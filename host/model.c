/*
 * Longer than 800 lines because: the layer walks (forward, backward, their fusions), the arenas and the
 * parameter table share one private struct; split, each part would need it in a header.
 *
 * model.c: a model is the layer list of its architecture (host/arch.h, the table in host/arch.c);
 * forward and backward walk that list calling the backend table, so nothing here knows an
 * architecture by name. The three DeMo models (SPEC.md §2) as lists:
 *
 *   cnn      [conv → ReLU → maxpool → dropout] × (n−1) → conv → ReLU → dropout → global max → fc
 *   rnn      BiLSTM → dropout → mean over time → fc
 *   cnnrnn   conv (zero-pad (K−1)/2) → ReLU → BiLSTM → dropout → mean over time → fc
 * every model ending in log-softmax over (pos, neg) and the mean NLL.
 *
 * Memory (STYLE.md rule 8): parameters, gradients, Adam m and v, activations and activation
 * gradients are one backend allocation each, carved into per-layer views by model_layout(), which
 * runs once to size the arenas and once to place the views. ReLU works in place; ReLU and dropout
 * share their output gradient with their input's (their backward runs in place).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "dm_rng.h"
#include "model.h"

/* A layer's views in the arenas. */
typedef struct dm_lbuf {
    float *out;                 /* (B, len_out, ch_out); NULL for ReLU in place */
    float *g;                   /* gradient of the output (ReLU, dropout: the input's) */
    int32_t *idx;               /* maxpool / global max: argmax */
    float *mask;                /* dropout */
    float *gates, *cell, *g_gates;   /* BiLSTM: (B, L, 8H), (B, L, 2H), (B, L, 8H) */
    const float *y;             /* what the last forward handed to the next layer */
} dm_lbuf;

struct dm_net {
    dm_hparams hp;
    dm_backend *be;
    int32_t max_batch;
    int32_t n_tensors;
    dm_tensor_info tensors[DM_MAX_TENSORS];
    int64_t n_params;

    /* one allocation per role */
    float *params, *grads, *adam_m, *adam_v;
    float *acts, *gacts;
    int64_t n_acts, n_gacts;

    float *x, *g_x;             /* input (B, L, 4) and its gradient */
    uint8_t *codes;             /* (B, L) */
    int8_t *labels;             /* (B) */
    float *loss;                /* (B) */

    int n_layers;
    dm_layer layer[DM_MAX_LAYERS];
    dm_lbuf buf[DM_MAX_LAYERS];     /* the last one's out / g: log-softmax (B, 2) and its gradient */

    /* the BiLSTM's b_hh pair (contiguous): kept for one-to-one PyTorch imports, never trained */
    int64_t frozen_off, frozen_n;
    dm_net_pred pred;           /* rc flags and ensemble members (host/predavg.c) */

    /* a slice of a larger batch (data-parallel training): its rows start at row0 of that batch,
     * which is what its dropout masks are drawn for (dm_net_set_row0) */
    int32_t row0;

    /* state of the last forward pass */
    int32_t last_B;
    bool last_train;
    bool last_keep;             /* it saved what a backward needs (false: inference only) */
    bool input_pgrad;           /* dm_net_input_grads_full: backward_from/_input also do dW, db */
};

#define LOGPROB(m) ((m)->buf[(m)->n_layers - 1].out)
#define G_LOGPROB(m) ((m)->buf[(m)->n_layers - 1].g)

/* ---- tensor table ----------------------------------------------------------------------------- */

static int32_t table_add(dm_tensor_info *t, int32_t n, int64_t *off, const char *prefix, const char *name,
                         int ndim, int64_t s0, int64_t s1, int64_t s2) {
    if (n >= DM_MAX_TENSORS) return n + 1;      /* counted; the caller refuses the table */
    dm_tensor_info *ti = &t[n];
    memset(ti, 0, sizeof *ti);
    snprintf(ti->name, sizeof ti->name, "%s.%s", prefix, name);
    ti->ndim = ndim;
    int64_t s[3] = {s0, s1, s2};
    ti->numel = 1;
    for (int d = 0; d < ndim; d++) { ti->shape[d] = s[d]; ti->numel *= s[d]; }
    ti->offset = *off;
    *off += ti->numel;
    return n + 1;
}

/* Appends layer l's tensors (conv, dense: weight, bias; BiLSTM: stacked by direction so one GEMM
 * projects both, W_ih (2·4H, D), W_hh (2, 4H, H), then b_ih, b_hh). */
static int32_t layer_tensors(const dm_layer *l, dm_tensor_info *t, int32_t n, int64_t *off) {
    const char *p = l->name;
    int64_t H4 = 4 * (int64_t)l->n, D = l->ch_in;
    switch (l->op) {
    case DM_LAYER_CONV:
        n = table_add(t, n, off, p, "weight", 3, l->n, l->k, l->ch_in);
        return table_add(t, n, off, p, "bias", 1, l->n, 0, 0);
    case DM_LAYER_DENSE:
        n = table_add(t, n, off, p, "weight", 2, l->n, l->ch_in, 0);
        return table_add(t, n, off, p, "bias", 1, l->n, 0, 0);
    case DM_LAYER_BILSTM:
        n = table_add(t, n, off, p, "fwd.weight_ih", 2, H4, D, 0);
        n = table_add(t, n, off, p, "bwd.weight_ih", 2, H4, D, 0);
        n = table_add(t, n, off, p, "fwd.weight_hh", 2, H4, l->n, 0);
        n = table_add(t, n, off, p, "bwd.weight_hh", 2, H4, l->n, 0);
        n = table_add(t, n, off, p, "fwd.bias_ih", 1, H4, 0, 0);
        n = table_add(t, n, off, p, "bwd.bias_ih", 1, H4, 0, 0);
        n = table_add(t, n, off, p, "fwd.bias_hh", 1, H4, 0, 0);
        return table_add(t, n, off, p, "bwd.bias_hh", 1, H4, 0, 0);
    default:
        return n;
    }
}

int32_t dm_net_table(const dm_hparams *hp, dm_tensor_info *t, int64_t *n_params) {
    dm_layer l[DM_MAX_LAYERS];
    int nl;
    *n_params = 0;
    /* lengths may fail (the table does not depend on them); a list that does not build may not */
    if (dm_arch_layers(hp, l, &nl) != DM_STATUS_OK && nl == 0) return -1;
    int32_t n = 0;
    int64_t off = 0;
    for (int i = 0; i < nl; i++) n = layer_tensors(&l[i], t, n, &off);
    if (n > DM_MAX_TENSORS) return -1;
    *n_params = off;
    return n;
}

/* ---- arena layout ----------------------------------------------------------------------------- */

/* A bump allocator over an arena: with base == NULL it only counts. Views are 16-float aligned. */
typedef struct dm_plan {
    float *base;
    int64_t used;
} dm_plan;

static float *take(dm_plan *p, int64_t n) {
    float *v = p->base ? p->base + p->used : NULL;
    p->used += (n + 15) & ~(int64_t)15;
    return v;
}

/* Places (or sizes) every activation and activation-gradient view for batches of max_batch. */
static void model_layout(dm_net *m, dm_plan *a, dm_plan *g) {
    int64_t B = m->max_batch, L = m->hp.len;
    m->x = take(a, B * L * 4);
    m->codes = (uint8_t *)take(a, (B * L + 3) / 4);
    m->labels = (int8_t *)take(a, (B + 3) / 4);
    m->g_x = take(g, B * L * 4);
    for (int i = 0; i < m->n_layers; i++) {
        const dm_layer *l = &m->layer[i];
        dm_lbuf *b = &m->buf[i];
        int64_t no = B * l->len_out * l->ch_out;
        bool alias = i > 0 && (l->op == DM_LAYER_RELU || l->op == DM_LAYER_DROPOUT);
        if (!(alias && l->op == DM_LAYER_RELU)) b->out = take(a, no);
        b->g = alias ? m->buf[i - 1].g : take(g, no);
        if (l->op == DM_LAYER_MAXPOOL || l->op == DM_LAYER_GMAX) b->idx = (int32_t *)take(a, no);
        if (l->op == DM_LAYER_DROPOUT) b->mask = take(a, no);
        if (l->op == DM_LAYER_BILSTM) {
            int64_t H = l->n;
            b->gates = take(a, B * l->len_in * 8 * H);
            b->cell = take(a, B * l->len_in * 2 * H);
            b->g_gates = take(g, B * l->len_in * 8 * H);
        }
    }
    m->loss = take(a, B);
}

/* Derives the layer list of `hp`; _ARG when the input is too short or a size is out of range. */
static dm_status model_shapes(dm_net *m) {
    const dm_hparams *hp = &m->hp;
    if (hp->len < 1 || hp->conv_channels < 1 || hp->hidden < 1 || hp->hidden > 4096 ||
        hp->conv_channels > 4096 || hp->pool < 1 || !(hp->dropout >= 0 && hp->dropout < 1))
        return dm_error(DM_STATUS_ARG, "model: hyper-parameter out of range");
    DM_TRY(dm_arch_layers(hp, m->layer, &m->n_layers));
    for (int i = 0; i < m->n_layers; i++)
        if (m->layer[i].op == DM_LAYER_DROPOUT && (m->layer[i].slot < 0 || m->layer[i].slot > 63))
            return dm_error(DM_STATUS_ARG, "model: dropout slot %d outside 0..63", m->layer[i].slot);
    return DM_STATUS_OK;
}

/* ---- lifetime --------------------------------------------------------------------------------- */

dm_status dm_net_create(dm_net **out, const dm_hparams *hp, dm_backend *be, int32_t max_batch) {
    *out = NULL;
    if (max_batch < 1) return dm_error(DM_STATUS_ARG, "model: batch size %d", max_batch);
    dm_net *m = calloc(1, sizeof *m);
    if (!m) return dm_error(DM_STATUS_NOMEM, "model: out of memory");
    m->hp = *hp;
    m->be = be;
    m->max_batch = max_batch;
    dm_status s = model_shapes(m);
    if (s != DM_STATUS_OK) { free(m); return s; }
    m->n_tensors = dm_net_table(hp, m->tensors, &m->n_params);
    if (m->n_tensors < 0) { free(m); return dm_error(DM_STATUS_ARG, "model: more than %d tensors", DM_MAX_TENSORS); }
    for (int i = 0; i < m->n_layers; i++)
        if (m->layer[i].op == DM_LAYER_BILSTM) {     /* <name>.fwd.bias_hh, then .bwd.bias_hh */
            const dm_tensor_info *bhh = &m->tensors[m->layer[i].tensor + 6];
            m->frozen_off = bhh->offset;
            m->frozen_n = 2 * bhh->numel;
            break;
        }

    dm_plan a = {0}, g = {0};
    model_layout(m, &a, &g);
    m->n_acts = a.used;
    m->n_gacts = g.used;
    size_t pbytes = sizeof(float) * (size_t)m->n_params;
    m->params = be->i->alloc(be, pbytes);
    m->grads = be->i->alloc(be, pbytes);
    m->adam_m = be->i->alloc(be, pbytes);
    m->adam_v = be->i->alloc(be, pbytes);
    m->acts = be->i->alloc(be, sizeof(float) * (size_t)a.used);
    m->gacts = be->i->alloc(be, sizeof(float) * (size_t)g.used);
    if (!m->params || !m->grads || !m->adam_m || !m->adam_v || !m->acts || !m->gacts) {
        dm_net_free(m);
        return dm_error(DM_STATUS_NOMEM, "model: cannot allocate %.1f MB for batch %d",
                        (4.0 * (double)pbytes + 4.0 * (double)(a.used + g.used)) / 1e6, max_batch);
    }
    be->i->memset0(be, m->params, pbytes);
    be->i->memset0(be, m->grads, pbytes);
    be->i->memset0(be, m->adam_m, pbytes);
    be->i->memset0(be, m->adam_v, pbytes);
    a = (dm_plan){.base = m->acts};
    g = (dm_plan){.base = m->gacts};
    model_layout(m, &a, &g);
    *out = m;
    return DM_STATUS_OK;
}

void dm_net_free(dm_net *m) {
    if (!m) return;
    dm_backend *be = m->be;
    float *bufs[] = {m->params, m->grads, m->adam_m, m->adam_v, m->acts, m->gacts};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) if (bufs[i]) be->i->free(be, bufs[i]);
    free(m->pred.members);
    free(m);
}

dm_net_pred *dm_net_pred_of(dm_net *m) { return &m->pred; }
const dm_hparams *dm_net_hparams(const dm_net *m) { return &m->hp; }
const dm_layer *dm_net_layers(const dm_net *m, int *n) { *n = m->n_layers; return m->layer; }
int64_t dm_net_n_params(const dm_net *m) { return m->n_params; }
int64_t dm_net_n_trainable(const dm_net *m) { return m->n_params - m->frozen_n; }
int32_t dm_net_max_batch(const dm_net *m) { return m->max_batch; }
int64_t dm_net_n_act_floats(const dm_net *m) { return m->n_acts + m->n_gacts; }
dm_backend *dm_net_backend(const dm_net *m) { return m->be; }

const dm_tensor_info *dm_net_tensors(const dm_net *m, int32_t *n_tensors) { *n_tensors = m->n_tensors; return m->tensors; }

const dm_tensor_info *dm_net_tensor(const dm_net *m, const char *name) {
    for (int32_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

/* ---- parameters ------------------------------------------------------------------------------- */

dm_status dm_net_init_params(dm_net *m, uint64_t seed) {
    float *p = malloc(sizeof(float) * (size_t)m->n_params);
    if (!p) return dm_error(DM_STATUS_NOMEM, "model: out of memory");
    for (int li = 0; li < m->n_layers; li++) {
        const dm_layer *l = &m->layer[li];
        int nt = l->op == DM_LAYER_BILSTM ? 8 : 2;
        for (int32_t ti = l->tensor; l->tensor >= 0 && ti < l->tensor + nt; ti++) {
            const dm_tensor_info *t = &m->tensors[ti];
            dm_rng r;
            dm_rng_init(&r, seed, DM_STREAM_INIT, (uint64_t)ti);
            float *v = p + t->offset;
            if (l->op == DM_LAYER_BILSTM) {
                /* W ~ N(0, 1/(D+H)) (Box–Muller); biases 0 except b_ih[forget] = 1 */
                bool bias = strstr(t->name, ".bias_") != NULL;
                double sd = 1.0 / sqrt((double)(l->ch_in + l->n));
                for (int64_t i = 0; i < t->numel; i++) {
                    if (bias) {
                        int gate = (int)(i / l->n);
                        v[i] = (strstr(t->name, "bias_ih") && gate == 1) ? 1.0f : 0.0f;
                    } else {
                        double u1 = 1.0 - dm_rng_uniform(&r), u2 = dm_rng_uniform(&r);
                        v[i] = (float)(sd * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
                    }
                }
            } else {
                /* Torch default for conv and linear: W, b ~ U(−s, s), s = 1/√fan_in */
                const dm_tensor_info *w = &m->tensors[l->tensor];
                int64_t fan_in = w->numel / w->shape[0];
                double s = 1.0 / sqrt((double)fan_in);
                for (int64_t i = 0; i < t->numel; i++) v[i] = (float)(s * (2.0 * dm_rng_uniform(&r) - 1.0));
            }
        }
    }
    dm_status st = dm_net_set_params(m, p);
    free(p);
    return st;
}

dm_status dm_net_get_params(const dm_net *m, float *host) {
    m->be->i->download(m->be, host, m->params, sizeof(float) * (size_t)m->n_params);
    return dm_backend_status(m->be);
}

dm_status dm_net_set_params(dm_net *m, const float *host) {
    m->be->i->upload(m->be, m->params, host, sizeof(float) * (size_t)m->n_params);
    return dm_backend_status(m->be);
}

dm_status dm_net_get_grads(const dm_net *m, float *host) {
    m->be->i->download(m->be, host, m->grads, sizeof(float) * (size_t)m->n_params);
    return dm_backend_status(m->be);
}

dm_status dm_net_set_grads(dm_net *m, const float *host) {
    m->be->i->upload(m->be, m->grads, host, sizeof(float) * (size_t)m->n_params);
    return dm_backend_status(m->be);
}

dm_status dm_net_set_row0(dm_net *m, int32_t row0) {
    DM_CHECK_ARG(row0 >= 0 && row0 < m->max_batch, "model: slice offset %d outside 0..%d", (int)row0, m->max_batch - 1);
    m->row0 = row0;
    return DM_STATUS_OK;
}

dm_status dm_net_group_grads(dm_net *m) {
    DM_CHECK_ARG(m->be->i->allreduce_sum, "model: the backend has no device sums (NCCL)");
    m->be->i->allreduce_sum(m->be, m->grads, m->n_params);
    return dm_backend_status(m->be);
}

void dm_net_zero_grad(dm_net *m) {
    m->be->i->memset0(m->be, m->grads, sizeof(float) * (size_t)m->n_params);
}

/* Parameter / gradient view of tensor ti. */
#define P(ti) (m->params + m->tensors[ti].offset)
#define G(ti) (m->grads + m->tensors[ti].offset)
#define GW(ti) (pgrad ? G(ti) : NULL)   /* model_backward: NULL when it skips the parameter gradients */

/* ---- fusions: runs of layers that one backend entry does (backend.h, "fused ops") ---------------- */

/* head_fwd / head_bwd; conv1d_pool_fwd / relu_pool_bwd (a CNN block: pool then dropout, or dropout then the
 * global max; its backward is relu_pool_bwd then the conv's own); conv1d_relu_fwd (forward only). Tried in
 * this order: the longer runs first. */
enum { DM_FUSE_HEAD, DM_FUSE_CONV_POOL_DROP, DM_FUSE_CONV_DROP_GMAX, DM_FUSE_CONV_RELU };
static const struct { int n; dm_layer_op ops[4]; } fusions[] = {
    [DM_FUSE_HEAD] = {2, {DM_LAYER_DENSE, DM_LAYER_LOGSOFTMAX}},
    [DM_FUSE_CONV_POOL_DROP] = {4, {DM_LAYER_CONV, DM_LAYER_RELU, DM_LAYER_MAXPOOL, DM_LAYER_DROPOUT}},
    [DM_FUSE_CONV_DROP_GMAX] = {4, {DM_LAYER_CONV, DM_LAYER_RELU, DM_LAYER_DROPOUT, DM_LAYER_GMAX}},
    [DM_FUSE_CONV_RELU] = {2, {DM_LAYER_CONV, DM_LAYER_RELU}},
};

/* DM_FUSE=off: every layer by its own op (comparisons, counts) */
static bool fuse_off(void) {
    const char *env = getenv("DM_FUSE");
    return env && strcmp(env, "off") == 0;
}

/* The fusion of layers [i, i + n), i + n ≤ to, that the backend has; −1 if none (or DM_FUSE=off). */
static int fusion_at(const dm_net *m, int i, int to) {
    const struct dm_backend_i *op = m->be->i;
    bool off = fuse_off();
    for (int f = 0; f < (int)(sizeof fusions / sizeof *fusions) && !off; f++) {
        bool has = f == DM_FUSE_HEAD ? op->head_fwd && op->head_bwd
                   : f == DM_FUSE_CONV_RELU ? op->conv1d_relu_fwd != NULL
                   : op->conv1d_pool_fwd && op->relu_pool_bwd;
        int k = 0, n = fusions[f].n;
        if (!has || i < 0 || i + n > to) continue;
        while (k < n && m->layer[i + k].op == fusions[f].ops[k]) k++;
        if (k == n) return f;
    }
    return -1;
}

/* The fusion ending at layer i (its first layer in *first), or −1. */
static int fusion_ending(const dm_net *m, int i, int *first) {
    for (int f = 0; f < (int)(sizeof fusions / sizeof *fusions); f++)
        if (fusion_at(m, i - fusions[f].n + 1, i + 1) == f) return *first = i - fusions[f].n + 1, f;
    return -1;
}

/* The backward of a max (pool or global) at layer i may apply the mask of the ReLU under it in the same
 * pass (the backend's maxpool_relu_bwd / gmax_relu_bwd, `has` when filled): the number of layers that
 * covers down to that ReLU (1, or 2 across a dropout that is the identity in this pass), or 0. The
 * layers skipped run in place (their gradients alias), so nothing else changes. */
static int relu_under_max(const dm_net *m, int i, bool has) {
    if (!has || fuse_off()) return 0;
    int k = 1;
    if (i - k > 0 && m->layer[i - k].op == DM_LAYER_DROPOUT && !(m->last_train && m->layer[i - k].p > 0)) k++;
    return i - k > 0 && m->layer[i - k].op == DM_LAYER_RELU ? k : 0;
}

/* ---- forward ---------------------------------------------------------------------------------- */

/* Layers [from, to) on input `in` (the output of layer from−1, or x); returns what the last one
 * handed on. Dropout masks use counter step·64 + the layer's slot of the `dropout` stream. keep false:
 * inference, no backward follows, so ops whose backend has an inference form skip saving its state
 * (the BiLSTM's gates and cells: lstm_infer, the same outputs bit for bit). */
static const float *layers_fwd(dm_net *m, int from, int to, const float *in, int B, bool train, bool keep,
                               uint64_t key, uint64_t step) {
    const struct dm_backend_i *op = m->be->i;
    dm_backend *be = m->be;
    for (int i = from; i < to; i++) {
        const dm_layer *l = &m->layer[i];
        dm_lbuf *b = &m->buf[i];
        int64_t nin = (int64_t)B * l->len_in * l->ch_in;
        int t = l->tensor;
        const float *y = b->out;
        int f = fusion_at(m, i, to);
        if (f == DM_FUSE_HEAD) {    /* dense → log-softmax */
            op->head_fwd(be, m->buf[i + 1].out, b->out, in, P(t), P(t + 1), B, l->ch_in, l->n);
            b->y = b->out;
            i++;
            in = m->buf[i].y = m->buf[i].out;
            continue;
        }
        if (f == DM_FUSE_CONV_POOL_DROP || f == DM_FUSE_CONV_DROP_GMAX) {
            /* a CNN block: conv → ReLU → pool → dropout, or conv → ReLU → dropout → global max */
            bool drop_first = f == DM_FUSE_CONV_DROP_GMAX;
            int ip = i + (drop_first ? 3 : 2), id = i + (drop_first ? 2 : 3);
            const dm_layer *pl = &m->layer[ip], *dl = &m->layer[id];
            dm_lbuf *pb = &m->buf[ip], *db = &m->buf[id];
            bool drop = train && dl->p > 0;
            if (!(drop && m->row0 != 0)) {   /* a slice's dropout (rows from row0 on) takes the layer walk */
                op->conv1d_pool_fwd(be, b->out, pb->out, pb->idx, db->out, drop ? db->mask : NULL, in, P(t), P(t + 1),
                                    B, l->len_in, l->ch_in, l->n, l->k, l->pad, pl->op == DM_LAYER_GMAX ? 0 : pl->k,
                                    drop_first, dl->p, key, step * 64 + (uint64_t)dl->slot);
                b->y = m->buf[i + 1].y = b->out;
                pb->y = pb->out;
                db->y = drop ? db->out : (drop_first ? b->out : pb->out);
                in = m->buf[i + 3].y;
                i += 3;
                continue;
            }
            f = fusion_at(m, i, i + 2);   /* conv → ReLU, then the layers one by one */
        }
        /* conv → ReLU → (identity dropouts) → a max-pool or the global max without the activation
         * (conv1d_pool_noact): in inference, or in an evaluation-mode saving forward whose backward applies
         * the ReLU's mask in the max's (relu_under_max: at most one dropout between; the pool's output is the
         * mask), so that nothing reads the activation */
        int ip = i + 2;
        while (ip < to && m->layer[ip].op == DM_LAYER_DROPOUT && !(train && m->layer[ip].p > 0)) ip++;
        bool to_max = ip < to && (m->layer[ip].op == DM_LAYER_MAXPOOL || m->layer[ip].op == DM_LAYER_GMAX);
        bool folds = to_max && !train && ip <= i + 3 &&
                     (m->layer[ip].op == DM_LAYER_MAXPOOL ? op->maxpool_relu_bwd != NULL : op->gmax_relu_bwd != NULL);
        if (f == DM_FUSE_CONV_RELU && !m->buf[i + 1].out && op->conv1d_pool_noact && to_max && (!keep || folds)) {
            const dm_layer *pl = &m->layer[ip];
            op->conv1d_pool_noact(be, b->out, m->buf[ip].out, keep ? m->buf[ip].idx : NULL, in, P(t), P(t + 1), B,
                                  l->len_in, l->ch_in, l->n, l->k, l->pad, pl->op == DM_LAYER_GMAX ? 0 : pl->k);
            for (int j = i; j < ip; j++) m->buf[j].y = NULL;   /* (the activation may never be written) */
            in = m->buf[ip].y = m->buf[ip].out;
            i = ip;
            continue;
        }
        if (f == DM_FUSE_CONV_RELU && !m->buf[i + 1].out) {   /* conv → ReLU in place on its output */
            op->conv1d_relu_fwd(be, b->out, in, P(t), P(t + 1), B, l->len_in, l->ch_in, l->n, l->k, l->pad);
            in = b->y = m->buf[i + 1].y = b->out;
            i++;
            continue;
        }
        switch (l->op) {
        case DM_LAYER_CONV:
            op->conv1d_fwd(be, b->out, in, P(t), P(t + 1), B, l->len_in, l->ch_in, l->n, l->k, l->pad);
            break;
        case DM_LAYER_RELU: {
            float *o = b->out ? b->out : (float *)in;     /* in place on the previous layer's buffer */
            op->relu_fwd(be, o, in, nin);
            y = o;
            break;
        }
        case DM_LAYER_MAXPOOL:
            op->maxpool_fwd(be, b->out, b->idx, in, B, l->len_in, l->ch_in, l->k);
            break;
        case DM_LAYER_DROPOUT:
            if (!(train && l->p > 0)) y = in;
            else if (m->row0 == 0) op->dropout_fwd(be, b->out, b->mask, in, nin, l->p, key, step * 64 + (uint64_t)l->slot);
            else {
                /* a slice at row0 of a batch: the masks of rows 0..row0+B−1 of that batch (both arenas
                 * have max_batch ≥ row0 + B rows; the rows past B of `in` are only multiplied), the
                 * slice's rows moved to the front through `out`, then out = in · mask */
                size_t r0 = (size_t)m->row0 * (size_t)(nin / B), bytes = sizeof(float) * (size_t)nin;
                op->dropout_fwd(be, b->out, b->mask, in, (int64_t)r0 + nin, l->p, key, step * 64 + (uint64_t)l->slot);
                op->copy(be, b->out, b->mask + r0, bytes);
                op->copy(be, b->mask, b->out, bytes);
                op->dropout_bwd(be, b->out, in, b->mask, nin);
            }
            break;
        case DM_LAYER_GMAX: op->gmax_fwd(be, b->out, b->idx, in, B, l->len_in, l->ch_in); break;
        case DM_LAYER_BILSTM:
            if (!keep && op->lstm_infer) {
                /* inference: the mean over time after it (past dropout, an identity here) in the same
                 * pass, h never written out, unless DM_FUSE=off */
                int k = i + 1;
                while (k < to && m->layer[k].op == DM_LAYER_DROPOUT && !(train && m->layer[k].p > 0)) k++;
                if (k < to && m->layer[k].op == DM_LAYER_MEAN && !fuse_off()) {
                    op->lstm_infer(be, NULL, m->buf[k].out, in, P(t), P(t + 2), P(t + 4), P(t + 6), B, l->len_in,
                                   l->ch_in, l->n, 2);
                    for (int j = i; j < k; j++) m->buf[j].y = NULL;   /* (h was never written) */
                    in = m->buf[k].y = m->buf[k].out;
                    i = k;
                    continue;
                }
                op->lstm_infer(be, b->out, NULL, in, P(t), P(t + 2), P(t + 4), P(t + 6), B, l->len_in, l->ch_in,
                               l->n, 2);
            } else
                op->lstm_fwd(be, b->out, b->gates, b->cell, in, P(t), P(t + 2), P(t + 4), P(t + 6), B, l->len_in,
                             l->ch_in, l->n, 2);
            break;
        case DM_LAYER_MEAN: op->mean_time_fwd(be, b->out, in, B, l->len_in, l->ch_in); break;
        case DM_LAYER_DENSE: op->dense_fwd(be, b->out, in, P(t), P(t + 1), B, l->ch_in, l->n); break;
        case DM_LAYER_LOGSOFTMAX: op->logsoftmax_fwd(be, b->out, in, B, l->ch_in); break;
        }
        b->y = y;
        in = y;
    }
    return in;
}

/* Forward pass from m->x (B, L, 4); keep: save what a backward needs (false: inference only). */
static dm_status model_forward(dm_net *m, int B, bool train, bool keep, uint64_t seed, uint64_t step) {
    if (m->row0 + B > m->max_batch)
        return dm_error(DM_STATUS_ARG, "model: a slice of %d rows at row %d of a batch of at most %d", B, (int)m->row0,
                        m->max_batch);
    layers_fwd(m, 0, m->n_layers, m->x, B, train, keep, dm_stream_key(seed, DM_STREAM_DROPOUT), step);
    m->last_B = B;
    m->last_train = train;
    m->last_keep = keep;
    return dm_backend_status(m->be);
}

dm_status dm_net_forward(dm_net *m, const float *x, int32_t B, bool train, uint64_t seed,
                           uint64_t step) {
    if (B < 1 || B > m->max_batch)
        return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    m->be->i->upload(m->be, m->x, x, sizeof(float) * (size_t)B * m->hp.len * 4);
    return model_forward(m, B, train, true, seed, step);
}

dm_status dm_net_forward_codes(dm_net *m, const uint8_t *codes, int32_t B, bool train,
                                 uint64_t seed, uint64_t step, bool n_quarter) {
    if (B < 1 || B > m->max_batch)
        return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    m->be->i->upload(m->be, m->codes, codes, (size_t)B * m->hp.len);
    m->be->i->onehot(m->be, m->x, m->codes, B, m->hp.len, n_quarter);
    return model_forward(m, B, train, true, seed, step);
}

dm_status dm_net_infer(dm_net *m, const float *x, int32_t B) {
    if (B < 1 || B > m->max_batch)
        return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    m->be->i->upload(m->be, m->x, x, sizeof(float) * (size_t)B * m->hp.len * 4);
    return model_forward(m, B, false, false, 0, 0);
}

dm_status dm_net_infer_codes(dm_net *m, const uint8_t *codes, int32_t B, bool n_quarter) {
    if (B < 1 || B > m->max_batch)
        return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    m->be->i->upload(m->be, m->codes, codes, (size_t)B * m->hp.len);
    m->be->i->onehot(m->be, m->x, m->codes, B, m->hp.len, n_quarter);
    return model_forward(m, B, false, false, 0, 0);
}

float *dm_net_input(dm_net *m) { return m->x; }
float *dm_net_input_grad(dm_net *m) { return m->g_x; }
const float *dm_net_logprob_buf(const dm_net *m) { return LOGPROB(m); }
void dm_net_input_grads_full(dm_net *m, bool on) { m->input_pgrad = on; }

dm_status dm_net_forward_input(dm_net *m, int32_t B, bool train, uint64_t seed, uint64_t step) {
    if (B < 1 || B > m->max_batch)
        return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    return model_forward(m, B, train, true, seed, step);
}

dm_status dm_net_forward_from(dm_net *m, int from, const float *in, int32_t B) {
    if (B < 1 || B > m->max_batch || from < 1 || from >= m->n_layers)
        return dm_error(DM_STATUS_ARG, "model: forward from layer %d (1..%d), batch %d (1..%d)", from,
                        m->n_layers - 1, B, m->max_batch);
    layers_fwd(m, from, m->n_layers, in, B, false, false, 0, 0);
    m->last_B = B;
    m->last_train = false;
    m->last_keep = false;
    return dm_backend_status(m->be);
}

const float *dm_net_param_buf(const dm_net *m, int32_t tensor) { return P(tensor); }

dm_status dm_net_forward_data(dm_net *m, dm_devdata *d, int64_t i0, int32_t B, bool train,
                                uint64_t seed, uint64_t step, bool n_quarter) {
    if (B < 1 || B > m->max_batch || i0 < 0 || i0 + B > d->n)
        return dm_error(DM_STATUS_ARG, "model: rows %lld..%lld outside the data or batch", (long long)i0,
                        (long long)(i0 + B));
    if (d->len != m->hp.len) return dm_error(DM_STATUS_ARG, "data length %d != model length %d", d->len, m->hp.len);
    dm_backend *be = m->be;
    be->i->gather(be, m->x, m->labels, d->packed, d->labels, d->order + i0, B, d->len, n_quarter);
    DM_TRY(model_forward(m, B, train, train, seed, step));
    be->i->copy(be, d->logprob + 2 * i0, LOGPROB(m), sizeof(float) * 2 * (size_t)B);
    return dm_backend_status(be);
}

dm_status dm_net_scores(const dm_net *m, float *p_pos) {
    int B = m->last_B;
    float lp[2 * 4096];
    for (int b0 = 0; b0 < B; b0 += 4096) {
        int nb = B - b0 < 4096 ? B - b0 : 4096;
        m->be->i->download(m->be, lp, LOGPROB(m) + 2 * b0, sizeof(float) * 2 * (size_t)nb);
        for (int b = 0; b < nb; b++) p_pos[b0 + b] = expf(lp[2 * b]);
    }
    return dm_backend_status(m->be);
}

dm_status dm_net_logprob(const dm_net *m, float *logprob) {
    m->be->i->download(m->be, logprob, LOGPROB(m), sizeof(float) * 2 * (size_t)m->last_B);
    return dm_backend_status(m->be);
}

/* ---- backward --------------------------------------------------------------------------------- */

/* Backward through every layer from the log-softmax gradient: given in G_LOGPROB (labels NULL), or
 * the NLL's of `labels` (backend memory) with scale 1/denom. Input gradient into m->g_x when want_dx
 * (else skipped for the first layer); parameter gradients when pgrad (else NULL to the ops). */
static dm_status model_backward(dm_net *m, bool want_dx, bool pgrad, const int8_t *labels, float scale) {
    const struct dm_backend_i *op = m->be->i;
    dm_backend *be = m->be;
    if (!m->last_keep)
        return dm_error(DM_STATUS_ARG, "model: backward after an inference-only forward (forward_data in "
                        "evaluation mode, forward_from, infer, infer_codes)");
    int B = m->last_B, top = m->n_layers - 1, first;
    bool nll_fused = fusion_ending(m, top, &first) == DM_FUSE_HEAD;
    if (labels && !nll_fused) op->nll(be, m->loss, G_LOGPROB(m), LOGPROB(m), labels, B, scale);
    for (int i = top; i >= 0; i--) {
        const dm_layer *l = &m->layer[i];
        const dm_lbuf *b = &m->buf[i];
        if (fusion_ending(m, i, &first) == DM_FUSE_HEAD) {    /* (NLL →) log-softmax → dense */
            const dm_layer *d = &m->layer[first];
            int td = d->tensor;
            op->head_bwd(be, first > 0 ? m->buf[first - 1].g : (want_dx ? m->g_x : NULL), GW(td), GW(td + 1),
                         m->buf[first].g, m->loss, b->g, b->out, i == top ? labels : NULL, scale,
                         first > 0 ? m->buf[first - 1].y : m->x, P(td), B, d->ch_in, d->n);
            i = first;
            continue;
        }
        int fb = fusion_ending(m, i, &first);
        if (fb == DM_FUSE_CONV_POOL_DROP || fb == DM_FUSE_CONV_DROP_GMAX) {   /* dropout / pool / ReLU, then conv */
            bool drop_first = fb == DM_FUSE_CONV_DROP_GMAX;
            const dm_layer *c = &m->layer[first], *pl = &m->layer[first + (drop_first ? 3 : 2)];
            const dm_layer *dl = &m->layer[first + (drop_first ? 2 : 3)];
            const dm_lbuf *cb = &m->buf[first], *pb = &m->buf[first + (drop_first ? 3 : 2)];
            const dm_lbuf *db = &m->buf[first + (drop_first ? 2 : 3)];
            int tc = c->tensor;
            op->relu_pool_bwd(be, cb->g, b->g, pb->idx, m->last_train && dl->p > 0 ? db->mask : NULL, cb->out, B,
                              c->len_out, c->n, pl->op == DM_LAYER_GMAX ? 0 : pl->k, drop_first);
            op->conv1d_bwd(be, first > 0 ? m->buf[first - 1].g : (want_dx ? m->g_x : NULL), GW(tc), GW(tc + 1), cb->g,
                           first > 0 ? m->buf[first - 1].y : m->x, P(tc), B, c->len_in, c->ch_in, c->n, c->k, c->pad);
            i = first;
            continue;
        }
        const float *in = i > 0 ? m->buf[i - 1].y : m->x;
        float *g_in = i > 0 ? m->buf[i - 1].g : (want_dx ? m->g_x : NULL);
        int64_t nin = (int64_t)B * l->len_in * l->ch_in;
        int t = l->tensor;
        switch (l->op) {
        case DM_LAYER_CONV:
            op->conv1d_bwd(be, g_in, GW(t), GW(t + 1), b->g, in, P(t), B, l->len_in, l->ch_in, l->n, l->k, l->pad);
            break;
        case DM_LAYER_RELU:
            if (g_in) op->relu_bwd(be, g_in, b->g, b->y, nin);
            break;
        case DM_LAYER_MAXPOOL: {
            int k = g_in ? relu_under_max(m, i, op->maxpool_relu_bwd != NULL) : 0;
            const dm_layer *c = k && i - k - 1 >= 0 ? &m->layer[i - k - 1] : NULL;
            if (c && c->op == DM_LAYER_CONV && !pgrad && op->conv1d_pool_dx && l->k >= 2) {
                /* conv → ReLU → pool to the conv's input in one op (its output gradient g_in is scratch) */
                float *gc = i - k - 1 > 0 ? m->buf[i - k - 2].g : (want_dx ? m->g_x : NULL);
                if (gc)
                    op->conv1d_pool_dx(be, gc, g_in, b->g, b->idx, b->out, P(c->tensor), B, c->len_in, c->ch_in, c->n,
                                       c->k, c->pad, l->k);
                i -= k + 1;
                break;
            }
            if (k) op->maxpool_relu_bwd(be, g_in, b->g, b->idx, b->out, B, l->len_in, l->ch_in, l->k);
            else if (g_in) op->maxpool_bwd(be, g_in, b->g, b->idx, B, l->len_in, l->ch_in, l->k);
            i -= k;
            break;
        }
        case DM_LAYER_DROPOUT:
            if (g_in && m->last_train && l->p > 0) op->dropout_bwd(be, g_in, b->g, b->mask, nin);
            else if (g_in && g_in != b->g) op->copy(be, g_in, b->g, sizeof(float) * (size_t)nin);
            break;
        case DM_LAYER_GMAX: {
            int k = g_in ? relu_under_max(m, i, op->gmax_relu_bwd != NULL) : 0;
            if (k) op->gmax_relu_bwd(be, g_in, b->g, b->idx, b->out, B, l->len_in, l->ch_in);
            else if (g_in) op->gmax_bwd(be, g_in, b->g, b->idx, B, l->len_in, l->ch_in);
            i -= k;
            break;
        }
        case DM_LAYER_BILSTM:
            op->lstm_bwd(be, g_in, GW(t), GW(t + 2), GW(t + 4), GW(t + 6), b->g_gates, b->g, in, b->out, b->gates,
                         b->cell, P(t), P(t + 2), B, l->len_in, l->ch_in, l->n, 2);
            break;
        case DM_LAYER_MEAN:
            if (g_in) op->mean_time_bwd(be, g_in, b->g, B, l->len_in, l->ch_in);
            break;
        case DM_LAYER_DENSE:
            op->dense_bwd(be, g_in, GW(t), GW(t + 1), b->g, in, P(t), B, l->ch_in, l->n);
            break;
        case DM_LAYER_LOGSOFTMAX:
            if (g_in) op->logsoftmax_bwd(be, g_in, b->g, b->out, B, l->ch_in);
            break;
        }
    }
    return dm_backend_status(be);
}

dm_status dm_net_backward(dm_net *m, const int8_t *labels, int32_t B, double denom, double *loss,
                            float *grad_x) {
    if (B != m->last_B) return dm_error(DM_STATUS_ARG, "model: backward batch %d != forward %d", B, m->last_B);
    dm_backend *be = m->be;
    be->i->upload(be, m->labels, labels, (size_t)B);
    DM_TRY(model_backward(m, grad_x != NULL, true, m->labels, (float)(1.0 / denom)));
    if (grad_x) be->i->download(be, grad_x, m->g_x, sizeof(float) * (size_t)B * m->hp.len * 4);
    if (loss) {
        float l[4096];
        double s = 0;
        for (int b0 = 0; b0 < B; b0 += 4096) {
            int nb = B - b0 < 4096 ? B - b0 : 4096;
            be->i->download(be, l, m->loss + b0, sizeof(float) * (size_t)nb);
            for (int b = 0; b < nb; b++) s += l[b];
        }
        *loss = s / denom;
    }
    return dm_backend_status(be);
}

dm_status dm_net_backward_data(dm_net *m, dm_devdata *d, int64_t i0, int32_t B, double denom) {
    if (B != m->last_B) return dm_error(DM_STATUS_ARG, "model: backward batch %d != forward %d", B, m->last_B);
    dm_backend *be = m->be;
    DM_TRY(model_backward(m, false, true, m->labels, (float)(1.0 / denom)));
    be->i->copy(be, d->loss + i0, m->loss, sizeof(float) * (size_t)B);
    return dm_backend_status(be);
}

dm_status dm_net_backward_input(dm_net *m, const float *grad_logprob, int32_t B) {
    if (B != m->last_B) return dm_error(DM_STATUS_ARG, "model: backward batch %d != forward %d", B, m->last_B);
    m->be->i->copy(m->be, G_LOGPROB(m), grad_logprob, sizeof(float) * 2 * (size_t)B);
    return model_backward(m, true, m->input_pgrad, NULL, 0.0f);
}

dm_status dm_net_backward_from(dm_net *m, const float *grad_logprob, int32_t B, float *grad_x) {
    if (B != m->last_B) return dm_error(DM_STATUS_ARG, "model: backward batch %d != forward %d", B, m->last_B);
    m->be->i->upload(m->be, G_LOGPROB(m), grad_logprob, sizeof(float) * 2 * (size_t)B);
    DM_TRY(model_backward(m, grad_x != NULL, m->input_pgrad, NULL, 0.0f));
    if (grad_x) m->be->i->download(m->be, grad_x, m->g_x, sizeof(float) * (size_t)B * m->hp.len * 4);
    return dm_backend_status(m->be);
}

/* ---- temporal output scores ------------------------------------------------------------------ */

/* Temporal scores run on the recurrent layer's steps (SPEC.md §6.2's truncations are of its input
 * sequence); with max-pools before it (stride s), step t stands for input positions t·s..t·s+s−1,
 * and positions past the last whole window carry the last step. */

/* P(pos) of the head for the concatenated time-means [mf, mb] (2H), with fc W (2, 2H), b (2). */
static float head_score(const float *mf, const float *mb, const float *w, const float *b, int H) {
    double z[2];
    for (int k = 0; k < 2; k++) {
        z[k] = b[k];
        for (int j = 0; j < H; j++) z[k] += (double)w[k * 2 * H + j] * mf[j] + (double)w[k * 2 * H + H + j] * mb[j];
    }
    return (float)(1.0 / (1.0 + exp(z[1] - z[0])));
}

/* The recurrent layer temporal scores run on: the first BiLSTM, followed only by (dropout,) a mean
 * over time and the dense(2) → log-softmax head; −1 if the model has none. *fc: the dense layer. */
static int temporal_layer(const dm_net *m, int *fc) {
    for (int r = 0; r < m->n_layers; r++) {
        if (m->layer[r].op != DM_LAYER_BILSTM) continue;
        int i = r + 1;
        while (i < m->n_layers && m->layer[i].op == DM_LAYER_DROPOUT) i++;
        if (i + 2 < m->n_layers && m->layer[i].op == DM_LAYER_MEAN && m->layer[i + 1].op == DM_LAYER_DENSE) {
            *fc = i + 1;
            return r;
        }
        return -1;
    }
    return -1;
}

int32_t dm_net_temporal_stride(const dm_net *m) {
    int fc, r = temporal_layer(m, &fc), s = 1;
    for (int i = 0; i < r; i++) if (m->layer[i].op == DM_LAYER_MAXPOOL) s *= m->layer[i].k;
    return r < 0 ? 0 : s;
}

dm_status dm_net_temporal(dm_net *m, const float *x, int32_t B, float *fwd_in, float *bwd_in) {
    const struct dm_backend_i *op = m->be->i;
    dm_backend *be = m->be;
    int fc, r = temporal_layer(m, &fc);
    if (r < 0)
        return dm_error(DM_STATUS_ARG, "temporal scores need a recurrent model (a BiLSTM before the mean over "
                        "time); the %s has none", dm_arch_name(m->hp.arch));
    if (B < 1 || B > m->max_batch) return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    const dm_layer *rl = &m->layer[r];
    dm_lbuf *rb = &m->buf[r];
    int L = rl->len_in, D = rl->ch_in, H = rl->n, G = 4 * H, t0 = rl->tensor, fw = m->layer[fc].tensor;
    int L0 = m->hp.len, stride = dm_net_temporal_stride(m);
    /* scores per recurrent step; input position i carries those of step min(⌊i / stride⌋, L − 1) */
    float *fwd = malloc(sizeof(float) * (size_t)B * L), *bwd = malloc(sizeof(float) * (size_t)B * L);
    if (!fwd || !bwd) { free(fwd); free(bwd); return dm_error(DM_STATUS_NOMEM, "temporal: out of memory"); }

    /* the full pass: conv features (on the whole sequence) and both LSTM directions */
    op->upload(be, m->x, x, sizeof(float) * (size_t)B * L0 * 4);
    layers_fwd(m, 0, r + 1, m->x, B, false, false, 0, 0);
    const float *xin = r > 0 ? m->buf[r - 1].y : m->x;
    if (dm_backend_status(be)) { free(fwd); free(bwd); return dm_backend_status(be); }

    size_t nx = (size_t)B * L * D, nh = (size_t)B * L * 2 * H;
    float *hh = malloc(sizeof(float) * nh), *cum = malloc(sizeof(float) * (size_t)B * (L + 1) * 2 * H);
    float w[2 * 2 * 4096 + 2];
    dm_status st = DM_STATUS_OK;
    if (!hh || !cum) st = dm_error(DM_STATUS_NOMEM, "temporal: out of memory");
    /* the backend's one-call pass over every truncation (backend.h lstm_trunc), when it has one */
    float *dsum = NULL, *hsum = NULL;
    bool one_call = false, own_sum = false;
    if (!st && op->lstm_trunc) {
        /* the sums (B, L, 2H) go to the BiLSTM's output-gradient view (same shape, free in inference) */
        size_t ns = (size_t)B * L * 2 * H;
        dsum = rb->g;
        if (!dsum) dsum = op->alloc(be, sizeof(float) * ns), own_sum = true;
        hsum = malloc(sizeof(float) * ns);
        if (!dsum || !hsum) st = dm_error(DM_STATUS_NOMEM, "temporal: out of memory");
        else if ((one_call = op->lstm_trunc(be, dsum, xin, P(t0), P(t0 + 2), P(t0 + 4), P(t0 + 6), B, L, D, H)))
            op->download(be, hsum, dsum, sizeof(float) * ns);
    }
    /* otherwise host copies and backend scratch for the truncated single-direction passes: x, h, gates, cell */
    float *hx = NULL, *sub = NULL, *sh = NULL, *dx = NULL, *dh = NULL, *dg = NULL, *dc = NULL;
    if (!st && !one_call) {
        hx = malloc(sizeof(float) * nx), sub = malloc(sizeof(float) * nx), sh = malloc(sizeof(float) * (size_t)B * L * H);
        dx = op->alloc(be, sizeof(float) * nx), dh = op->alloc(be, sizeof(float) * (size_t)B * L * H);
        dg = op->alloc(be, sizeof(float) * (size_t)B * L * G), dc = op->alloc(be, sizeof(float) * (size_t)B * L * H);
        if (!hx || !sub || !sh || !dx || !dh || !dg || !dc) st = dm_error(DM_STATUS_NOMEM, "temporal: out of memory");
        else op->download(be, hx, xin, sizeof(float) * nx);
    }
    if (!st) {
        op->download(be, hh, rb->out, sizeof(float) * nh);
        op->download(be, w, P(fw), sizeof(float) * (2 * 2 * (size_t)H + 2));
        st = dm_backend_status(be);
    }
    if (!st) {
        /* cum[b, i] = Σ_{t<i} h_fwd[b, t] (first H) and Σ_{t≥i} h_bwd[b, t] (last H) */
        for (int b = 0; b < B; b++) {
            float *c = cum + (size_t)b * (L + 1) * 2 * H;
            for (int j = 0; j < 2 * H; j++) c[j] = 0, c[(size_t)L * 2 * H + j] = 0;
            for (int i = 1; i <= L; i++)
                for (int j = 0; j < H; j++)
                    c[(size_t)i * 2 * H + j] = c[(size_t)(i - 1) * 2 * H + j] + hh[((size_t)b * L + i - 1) * 2 * H + j];
            for (int i = L - 1; i >= 0; i--)
                for (int j = 0; j < H; j++)
                    c[(size_t)i * 2 * H + H + j] = c[(size_t)(i + 1) * 2 * H + H + j] + hh[((size_t)b * L + i) * 2 * H + H + j];
        }
    }
    float mf[4096], mb[4096];
    for (int n = 1; n <= L && !st && one_call; n++)
        for (int pass = 0; pass < 2; pass++)
            for (int b = 0; b < B; b++) {
                const float *c = cum + (size_t)b * (L + 1) * 2 * H, *sm = hsum + (((size_t)b * L + n - 1) * 2 + pass) * H;
                for (int j = 0; j < H; j++) {
                    if (pass == 0) {
                        mf[j] = c[(size_t)n * 2 * H + j] / (float)n;
                        mb[j] = sm[j] / (float)n;
                    } else {
                        mf[j] = sm[j] / (float)n;
                        mb[j] = c[(size_t)(L - n) * 2 * H + H + j] / (float)n;
                    }
                }
                float score = head_score(mf, mb, w, w + 2 * 2 * H, H);
                if (pass == 0) fwd[(size_t)b * L + n - 1] = score;
                else bwd[(size_t)b * L + L - n] = score;
            }
    for (int n = 1; n <= L && !st && !one_call; n++) {     /* truncations of length n, one call each */
        for (int pass = 0; pass < 2; pass++) {
            /* pass 0, prefix 0..n−1: rerun the backward direction (its input reversed, so a forward walk
             * is the backward one; the time mean does not depend on order). pass 1, suffix L−n..L−1:
             * rerun the forward direction. */
            for (int b = 0; b < B; b++)
                for (int t = 0; t < n; t++) {
                    int src = pass == 0 ? n - 1 - t : L - n + t;
                    memcpy(sub + ((size_t)b * n + t) * D, hx + ((size_t)b * L + src) * D, sizeof(float) * (size_t)D);
                }
            op->upload(be, dx, sub, sizeof(float) * (size_t)B * n * D);
            int d = pass == 0 ? 1 : 0;     /* which direction's weights */
            op->lstm_fwd(be, dh, dg, dc, dx, P(t0) + (size_t)d * G * D, P(t0 + 2) + (size_t)d * G * H,
                         P(t0 + 4) + (size_t)d * G, P(t0 + 6) + (size_t)d * G, B, n, D, H, 1);
            op->download(be, sh, dh, sizeof(float) * (size_t)B * n * H);
            for (int b = 0; b < B; b++) {
                const float *c = cum + (size_t)b * (L + 1) * 2 * H;
                for (int j = 0; j < H; j++) {
                    double s = 0;
                    for (int t = 0; t < n; t++) s += sh[((size_t)b * n + t) * H + j];
                    if (pass == 0) {
                        mf[j] = c[(size_t)n * 2 * H + j] / (float)n;
                        mb[j] = (float)(s / n);
                    } else {
                        mf[j] = (float)(s / n);
                        mb[j] = c[(size_t)(L - n) * 2 * H + H + j] / (float)n;
                    }
                }
                float score = head_score(mf, mb, w, w + 2 * 2 * H, H);
                if (pass == 0) fwd[(size_t)b * L + n - 1] = score;
                else bwd[(size_t)b * L + L - n] = score;
            }
        }
        st = dm_backend_status(be);
    }
    for (int b = 0; b < B && !st; b++)
        for (int i = 0; i < L0; i++) {
            int s = i / stride < L ? i / stride : L - 1;
            fwd_in[(size_t)b * L0 + i] = fwd[(size_t)b * L + s];
            bwd_in[(size_t)b * L0 + i] = bwd[(size_t)b * L + s];
        }
    free(fwd); free(bwd);
    free(hx); free(hh); free(sub); free(sh); free(cum); free(hsum);
    if (own_sum && dsum) op->free(be, dsum);
    float *bufs[] = {dx, dh, dg, dc};
    for (int k = 0; k < 4; k++) if (bufs[k]) op->free(be, bufs[k]);
    return st;
}

/* ---- first-layer activations ------------------------------------------------------------------ */

dm_status dm_net_first_layer(dm_net *m, const float *x, int32_t B, float *act, int *Lo, int *K,
                               int *pad, int *C) {
    if (m->n_layers < 1 || m->layer[0].op != DM_LAYER_CONV)
        return dm_error(DM_STATUS_ARG, "the %s has no convolution layer", dm_arch_name(m->hp.arch));
    if (B < 1 || B > m->max_batch) return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    const dm_layer *l = &m->layer[0];
    int n = m->n_layers > 1 && m->layer[1].op == DM_LAYER_RELU ? 2 : 1;   /* the conv, then its ReLU */
    m->be->i->upload(m->be, m->x, x, sizeof(float) * (size_t)B * m->hp.len * 4);
    const float *y = layers_fwd(m, 0, n, m->x, B, false, false, 0, 0);
    m->be->i->download(m->be, act, y, sizeof(float) * (size_t)B * l->len_out * l->n);
    *Lo = l->len_out;
    *K = l->k;
    *pad = l->pad;
    *C = l->n;
    return dm_backend_status(m->be);
}

/* ---- optimiser -------------------------------------------------------------------------------- */

void dm_adam_default(dm_adam *opt) {
    *opt = (dm_adam){.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .clip = 5.0f, .t = 0};
}

/* Updates every parameter but the frozen LSTM b_hh range. The original model (torch-rnn) has one
 * bias per gate; training both of PyTorch's vectors would move their sum by twice Adam's step, which
 * keeps the RNN on its initial loss plateau markedly longer. */
dm_status dm_net_adam_step(dm_net *m, dm_adam *opt) {
    opt->t++;
    double bc1 = 1.0 - pow(opt->beta1, (double)opt->t), bc2 = 1.0 - pow(opt->beta2, (double)opt->t);
    float step = (float)(opt->lr * sqrt(bc2) / bc1);
    int64_t lo = m->frozen_n ? m->frozen_off : m->n_params, hi = lo + m->frozen_n;
    m->be->i->adam(m->be, m->params, m->grads, m->adam_m, m->adam_v, lo, step, opt->beta1, opt->beta2,
                   opt->eps, opt->clip);
    if (hi < m->n_params)
        m->be->i->adam(m->be, m->params + hi, m->grads + hi, m->adam_m + hi, m->adam_v + hi,
                       m->n_params - hi, step, opt->beta1, opt->beta2, opt->eps, opt->clip);
    return dm_backend_status(m->be);
}

dm_status dm_net_avg_init(dm_net *m, dm_net_avg *a, const float *host) {
    size_t bytes = sizeof(float) * (size_t)(m->n_params > 0 ? m->n_params : 1);
    *a = (dm_net_avg){{m->be->i->alloc(m->be, bytes), m->be->i->alloc(m->be, bytes)}, 0};
    if (!a->buf[0] || !a->buf[1]) {
        dm_net_avg_free(m, a);
        return dm_error(DM_STATUS_NOMEM, "training: cannot allocate the weight average (%.1f MB)", 2e-6 * (double)bytes);
    }
    if (host) m->be->i->upload(m->be, a->buf[0], host, sizeof(float) * (size_t)m->n_params);
    else m->be->i->copy(m->be, a->buf[0], m->params, sizeof(float) * (size_t)m->n_params);
    return dm_backend_status(m->be);
}

void dm_net_avg_free(dm_net *m, dm_net_avg *a) {
    for (int i = 0; i < 2; i++) if (a->buf[i]) m->be->i->free(m->be, a->buf[i]);
    *a = (dm_net_avg){{NULL, NULL}, 0};
}

dm_status dm_net_avg_step(dm_net *m, dm_net_avg *a, float decay) {
    m->be->i->lerp(m->be, a->buf[1 - a->cur], a->buf[a->cur], m->params, 1.0f - decay, m->n_params);
    a->cur = 1 - a->cur;
    return dm_backend_status(m->be);
}

void dm_net_avg_swap(dm_net *m, dm_net_avg *a) {
    float *t = m->params;
    m->params = a->buf[a->cur];
    a->buf[a->cur] = t;
}

dm_status dm_net_avg_get(const dm_net *m, const dm_net_avg *a, float *host) {
    m->be->i->download(m->be, host, a->buf[a->cur], sizeof(float) * (size_t)m->n_params);
    return dm_backend_status(m->be);
}

dm_status dm_net_get_adam(const dm_net *m, float *m_host, float *v_host) {
    m->be->i->download(m->be, m_host, m->adam_m, sizeof(float) * (size_t)m->n_params);
    m->be->i->download(m->be, v_host, m->adam_v, sizeof(float) * (size_t)m->n_params);
    return dm_backend_status(m->be);
}

dm_status dm_net_set_adam(dm_net *m, const float *m_host, const float *v_host) {
    m->be->i->upload(m->be, m->adam_m, m_host, sizeof(float) * (size_t)m->n_params);
    m->be->i->upload(m->be, m->adam_v, v_host, sizeof(float) * (size_t)m->n_params);
    return dm_backend_status(m->be);
}
