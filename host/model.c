/*
 * model.c: the three Deep Motif Dashboard architectures (SPEC.md §2), forward and backward, written
 * against the backend table only.
 *
 *   CNN      [conv → ReLU → maxpool → dropout] × (n−1) → conv → ReLU → dropout → global max → fc
 *   RNN      BiLSTM → dropout → mean over time → fc
 *   CNN-RNN  zero-pad (K−1)/2 → conv → ReLU → BiLSTM → dropout → mean over time → fc
 * every model ending in log-softmax over (pos, neg) and the mean NLL.
 *
 * Memory (STYLE.md rule 8): parameters, gradients, Adam m and v, activations and activation
 * gradients are one backend allocation each, carved into named views by model_layout(), which runs
 * once to size the arenas and once to place the views.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dm_rng.h"
#include "model.h"

/* One conv stage of the CNN (or the single conv of the CNN-RNN). */
typedef struct dm_conv_stage {
    int Li, Ci, K, pad, Lo;     /* input length and channels, width, padding, output length */
    int Lp;                     /* length after pooling (= Lo without pooling) */
    bool pool, drop;            /* followed by max-pool / dropout */
    int tw, tb;                 /* tensor indices of weight and bias */
    float *conv, *g_conv;       /* (B, Lo, C) after ReLU, and its gradient */
    float *pool_out, *g_pool;   /* (B, Lp, C) */
    int32_t *pool_idx;          /* (B, Lp, C) */
    float *mask, *drop_out;     /* (B, Lp, C) dropout mask and output */
    float *g_drop;              /* (B, Lp, C) gradient of the stage output */
} dm_conv_stage;

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

    /* input */
    float *x, *g_x;             /* (B, L, 4) */
    uint8_t *codes;             /* (B, L) */
    int8_t *labels;             /* (B) */

    /* CNN / CNN-RNN conv stages */
    int n_stages;
    dm_conv_stage st[DM_MAX_CONV];

    /* recurrent block: D inputs, H per direction */
    int D, H;
    float *lstm_h, *g_lstm_h;   /* (B, L, 2H) */
    float *lstm_gates, *lstm_cell, *g_gates;   /* (B, L, 8H), (B, L, 2H), (B, L, 8H) */
    float *rnn_mask, *rnn_drop, *g_rnn_drop;   /* (B, L, 2H) */

    /* head */
    int feat_dim;
    float *feat, *g_feat;       /* (B, F) */
    int32_t *gmax_idx;          /* (B, F) (CNN) */
    float *logits, *g_logits;   /* (B, 2) */
    float *logprob, *g_logprob; /* (B, 2) */
    float *loss;                /* (B) */

    /* LSTM b_hh (both directions, contiguous): kept for one-to-one PyTorch imports, never trained */
    int64_t frozen_off, frozen_n;

    /* state of the last forward pass */
    int32_t last_B;
    bool last_train;
};

/* ---- hyper-parameters ------------------------------------------------------------------------- */

void dm_hparams_default(dm_hparams *hp, dm_arch arch) {
    if (!hp) return;
    memset(hp, 0, sizeof *hp);
    hp->arch = arch;
    hp->len = 101;
    hp->n_conv = arch == DM_ARCH_CNN ? 3 : (arch == DM_ARCH_CNNRNN ? 1 : 0);
    hp->conv_width[0] = 9;
    hp->conv_width[1] = 5;
    hp->conv_width[2] = 3;
    hp->conv_channels = 128;
    hp->pool = 2;
    hp->hidden = 32;
    hp->dropout = 0.5f;
}

const char *dm_arch_name(dm_arch arch) {
    switch (arch) {
    case DM_ARCH_CNN: return "cnn";
    case DM_ARCH_RNN: return "rnn";
    case DM_ARCH_CNNRNN: return "cnnrnn";
    }
    return "unknown";
}

dm_status dm_arch_parse(const char *s, dm_arch *arch) {
    DM_CHECK_ARG(s && arch, "dm_arch_parse: NULL %s", s ? "output" : "name");
    for (int a = 0; a <= DM_ARCH_CNNRNN; a++)
        if (strcmp(s, dm_arch_name((dm_arch)a)) == 0) { *arch = (dm_arch)a; return DM_STATUS_OK; }
    if (strcmp(s, "cnn-rnn") == 0) { *arch = DM_ARCH_CNNRNN; return DM_STATUS_OK; }
    return dm_error(DM_STATUS_ARG, "unknown architecture '%s' (expected cnn, rnn or cnnrnn)", s);
}

/* ---- tensor table ----------------------------------------------------------------------------- */

static int32_t table_add(dm_tensor_info *t, int32_t n, int64_t *off, const char *name, int ndim,
                         int64_t s0, int64_t s1, int64_t s2) {
    dm_tensor_info *ti = &t[n];
    memset(ti, 0, sizeof *ti);
    snprintf(ti->name, sizeof ti->name, "%s", name);
    ti->ndim = ndim;
    int64_t s[3] = {s0, s1, s2};
    ti->numel = 1;
    for (int d = 0; d < ndim; d++) { ti->shape[d] = s[d]; ti->numel *= s[d]; }
    ti->offset = *off;
    *off += ti->numel;
    return n + 1;
}

int32_t dm_net_table(const dm_hparams *hp, dm_tensor_info *t, int64_t *n_params) {
    int32_t n = 0;
    int64_t off = 0;
    int C = hp->conv_channels, H = hp->hidden;
    char name[40];
    int n_conv = hp->arch == DM_ARCH_RNN ? 0 : (hp->arch == DM_ARCH_CNNRNN ? 1 : hp->n_conv);
    int ci = 4;
    for (int i = 0; i < n_conv; i++) {
        snprintf(name, sizeof name, "conv%d.weight", i + 1);
        n = table_add(t, n, &off, name, 3, C, hp->conv_width[i], ci);
        snprintf(name, sizeof name, "conv%d.bias", i + 1);
        n = table_add(t, n, &off, name, 1, C, 0, 0);
        ci = C;
    }
    if (hp->arch != DM_ARCH_CNN) {
        /* stacked by direction so one GEMM projects both: W_ih (2·4H, D), W_hh (2, 4H, H) */
        int D = ci;
        n = table_add(t, n, &off, "lstm.fwd.weight_ih", 2, 4 * H, D, 0);
        n = table_add(t, n, &off, "lstm.bwd.weight_ih", 2, 4 * H, D, 0);
        n = table_add(t, n, &off, "lstm.fwd.weight_hh", 2, 4 * H, H, 0);
        n = table_add(t, n, &off, "lstm.bwd.weight_hh", 2, 4 * H, H, 0);
        n = table_add(t, n, &off, "lstm.fwd.bias_ih", 1, 4 * H, 0, 0);
        n = table_add(t, n, &off, "lstm.bwd.bias_ih", 1, 4 * H, 0, 0);
        n = table_add(t, n, &off, "lstm.fwd.bias_hh", 1, 4 * H, 0, 0);
        n = table_add(t, n, &off, "lstm.bwd.bias_hh", 1, 4 * H, 0, 0);
    }
    int F = hp->arch == DM_ARCH_CNN ? C : 2 * H;
    n = table_add(t, n, &off, "fc.weight", 2, 2, F, 0);
    n = table_add(t, n, &off, "fc.bias", 1, 2, 0, 0);
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
    const dm_hparams *hp = &m->hp;
    int64_t B = m->max_batch, L = hp->len, C = hp->conv_channels;
    m->x = take(a, B * L * 4);
    m->codes = (uint8_t *)take(a, (B * L + 3) / 4);
    m->labels = (int8_t *)take(a, (B + 3) / 4);
    m->g_x = take(g, B * L * 4);
    for (int i = 0; i < m->n_stages; i++) {
        dm_conv_stage *s = &m->st[i];
        s->conv = take(a, B * s->Lo * C);
        s->g_conv = take(g, B * s->Lo * C);
        if (s->pool) {
            s->pool_out = take(a, B * s->Lp * C);
            s->pool_idx = (int32_t *)take(a, B * s->Lp * C);
        }
        if (s->drop) {
            s->mask = take(a, B * s->Lp * C);
            s->drop_out = take(a, B * s->Lp * C);
            s->g_drop = take(g, B * s->Lp * C);
        }
    }
    if (hp->arch != DM_ARCH_CNN) {
        int64_t H = m->H;
        m->lstm_h = take(a, B * L * 2 * H);
        m->lstm_gates = take(a, B * L * 8 * H);
        m->lstm_cell = take(a, B * L * 2 * H);
        m->rnn_mask = take(a, B * L * 2 * H);
        m->rnn_drop = take(a, B * L * 2 * H);
        m->g_lstm_h = take(g, B * L * 2 * H);
        m->g_gates = take(g, B * L * 8 * H);
    } else {
        m->gmax_idx = (int32_t *)take(a, B * m->feat_dim);
    }
    m->feat = take(a, B * m->feat_dim);
    m->g_feat = take(g, B * m->feat_dim);
    m->logits = take(a, B * 2);
    m->logprob = take(a, B * 2);
    m->loss = take(a, B);
    m->g_logits = take(g, B * 2);
    m->g_logprob = take(g, B * 2);
}

/* Derives the stage shapes of `hp`; _ARG when the input is too short or a size is out of range. */
static dm_status model_shapes(dm_net *m) {
    const dm_hparams *hp = &m->hp;
    if (hp->len < 1 || hp->conv_channels < 1 || hp->hidden < 1 || hp->hidden > 4096 ||
        hp->conv_channels > 4096 || hp->pool < 1 || !(hp->dropout >= 0 && hp->dropout < 1))
        return dm_error(DM_STATUS_ARG, "model: hyper-parameter out of range");
    int n = hp->arch == DM_ARCH_CNN ? hp->n_conv : (hp->arch == DM_ARCH_CNNRNN ? 1 : 0);
    if (hp->arch == DM_ARCH_CNN && (n < 1 || n > DM_MAX_CONV))
        return dm_error(DM_STATUS_ARG, "model: the CNN needs 1 to %d conv layers", DM_MAX_CONV);
    m->n_stages = n;
    int L = hp->len, Ci = 4;
    for (int i = 0; i < n; i++) {
        dm_conv_stage *s = &m->st[i];
        s->K = hp->conv_width[i];
        if (s->K < 1) return dm_error(DM_STATUS_ARG, "model: conv width %d", s->K);
        s->Li = L;
        s->Ci = Ci;
        /* the CNN-RNN pads (K−1)/2 each side so the conv keeps the length (4 for K = 9) */
        s->pad = hp->arch == DM_ARCH_CNNRNN ? (s->K - 1) / 2 : 0;
        s->Lo = L + 2 * s->pad - s->K + 1;
        s->pool = hp->arch == DM_ARCH_CNN && i < n - 1 && hp->pool > 1;
        s->drop = hp->arch == DM_ARCH_CNN;
        s->Lp = s->pool ? s->Lo / hp->pool : s->Lo;
        if (s->Lo < 1 || s->Lp < 1)
            return dm_error(DM_STATUS_ARG, "model: input length %d is too short for the %d conv layers",
                            hp->len, n);
        s->tw = 2 * i;
        s->tb = 2 * i + 1;
        L = s->Lp;
        Ci = hp->conv_channels;
    }
    if (hp->arch == DM_ARCH_CNNRNN && m->st[0].Lo != hp->len)
        return dm_error(DM_STATUS_ARG, "model: the CNN-RNN needs an odd conv width");
    m->D = hp->arch == DM_ARCH_RNN ? 4 : hp->conv_channels;
    m->H = hp->hidden;
    m->feat_dim = hp->arch == DM_ARCH_CNN ? hp->conv_channels : 2 * hp->hidden;
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
    const dm_tensor_info *bhh = dm_net_tensor(m, "lstm.fwd.bias_hh");
    if (bhh) {
        m->frozen_off = bhh->offset;
        m->frozen_n = 2 * bhh->numel;     /* lstm.fwd.bias_hh, then lstm.bwd.bias_hh */
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
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i]) be->i->free(be, bufs[i]);
    free(m);
}

const dm_hparams *dm_net_hparams(const dm_net *m) { return &m->hp; }
int64_t dm_net_n_params(const dm_net *m) { return m->n_params; }
int64_t dm_net_n_trainable(const dm_net *m) { return m->n_params - m->frozen_n; }
int32_t dm_net_max_batch(const dm_net *m) { return m->max_batch; }
int64_t dm_net_n_act_floats(const dm_net *m) { return m->n_acts + m->n_gacts; }
dm_backend *dm_net_backend(const dm_net *m) { return m->be; }

const dm_tensor_info *dm_net_tensors(const dm_net *m, int32_t *n_tensors) {
    *n_tensors = m->n_tensors;
    return m->tensors;
}

const dm_tensor_info *dm_net_tensor(const dm_net *m, const char *name) {
    for (int32_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

/* ---- parameters ------------------------------------------------------------------------------- */

dm_status dm_net_init_params(dm_net *m, uint64_t seed) {
    float *p = malloc(sizeof(float) * (size_t)m->n_params);
    if (!p) return dm_error(DM_STATUS_NOMEM, "model: out of memory");
    for (int32_t ti = 0; ti < m->n_tensors; ti++) {
        const dm_tensor_info *t = &m->tensors[ti];
        dm_rng r;
        dm_rng_init(&r, seed, DM_STREAM_INIT, (uint64_t)ti);
        float *v = p + t->offset;
        if (strncmp(t->name, "lstm.", 5) == 0) {
            /* W ~ N(0, 1/(D+H)) (Box–Muller); biases 0 except b_ih[forget] = 1 */
            bool bias = strstr(t->name, ".bias_") != NULL;
            double sd = 1.0 / sqrt((double)(m->D + m->H));
            for (int64_t i = 0; i < t->numel; i++) {
                if (bias) {
                    int gate = (int)(i / m->H);
                    v[i] = (strstr(t->name, "bias_ih") && gate == 1) ? 1.0f : 0.0f;
                } else {
                    double u1 = 1.0 - dm_rng_uniform(&r), u2 = dm_rng_uniform(&r);
                    v[i] = (float)(sd * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
                }
            }
        } else {
            /* Torch default for conv and linear: W, b ~ U(−s, s), s = 1/√fan_in */
            const dm_tensor_info *w = strstr(t->name, ".bias") ? t - 1 : t;
            int64_t fan_in = w->numel / w->shape[0];
            double s = 1.0 / sqrt((double)fan_in);
            for (int64_t i = 0; i < t->numel; i++) v[i] = (float)(s * (2.0 * dm_rng_uniform(&r) - 1.0));
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

void dm_net_zero_grad(dm_net *m) {
    m->be->i->memset0(m->be, m->grads, sizeof(float) * (size_t)m->n_params);
}

/* Parameter / gradient view of tensor ti. */
#define P(ti) (m->params + m->tensors[ti].offset)
#define G(ti) (m->grads + m->tensors[ti].offset)

/* ---- forward ---------------------------------------------------------------------------------- */

/* What a conv stage handed to the next layer in a forward pass with or without dropout. */
static const float *stage_out(const dm_conv_stage *s, bool dropped) {
    if (s->drop && dropped) return s->drop_out;
    return s->pool ? s->pool_out : s->conv;
}

/* The conv stages of the CNN / CNN-RNN on input `in`; returns the last stage's output. */
static const float *conv_stages_fwd(dm_net *m, const float *in, int B, bool train, uint64_t key,
                                    uint64_t step) {
    const struct dm_backend_i *op = m->be->i;
    int C = m->hp.conv_channels;
    for (int i = 0; i < m->n_stages; i++) {
        dm_conv_stage *s = &m->st[i];
        op->conv1d_fwd(m->be, s->conv, in, P(s->tw), P(s->tb), B, s->Li, s->Ci, C, s->K, s->pad);
        op->relu_fwd(m->be, s->conv, s->conv, (int64_t)B * s->Lo * C);
        const float *y = s->conv;
        if (s->pool) {
            op->maxpool_fwd(m->be, s->pool_out, s->pool_idx, s->conv, B, s->Lo, C, m->hp.pool);
            y = s->pool_out;
        }
        if (s->drop && train && m->hp.dropout > 0) {
            op->dropout_fwd(m->be, s->drop_out, s->mask, y, (int64_t)B * s->Lp * C, m->hp.dropout,
                            key, step * 64 + (uint64_t)i);
            y = s->drop_out;
        }
        in = y;
    }
    return in;
}

/* Forward pass from m->x (B, L, 4). */
static dm_status model_forward(dm_net *m, int B, bool train, uint64_t seed, uint64_t step) {
    const struct dm_backend_i *op = m->be->i;
    const dm_hparams *hp = &m->hp;
    uint64_t key = dm_stream_key(seed, DM_STREAM_DROPOUT);
    int L = hp->len, F = m->feat_dim, fw = m->n_tensors - 2;
    const float *y = conv_stages_fwd(m, m->x, B, train, key, step);
    if (hp->arch == DM_ARCH_CNN) {
        const dm_conv_stage *s = &m->st[m->n_stages - 1];
        op->gmax_fwd(m->be, m->feat, m->gmax_idx, y, B, s->Lp, F);
    } else {
        int t0 = 2 * m->n_stages;     /* lstm tensors follow the conv tensors */
        op->lstm_fwd(m->be, m->lstm_h, m->lstm_gates, m->lstm_cell, y, P(t0), P(t0 + 2), P(t0 + 4),
                     P(t0 + 6), B, L, m->D, m->H, 2);
        const float *h = m->lstm_h;
        if (train && hp->dropout > 0) {
            op->dropout_fwd(m->be, m->rnn_drop, m->rnn_mask, h, (int64_t)B * L * F, hp->dropout, key,
                            step * 64 + 63);
            h = m->rnn_drop;
        }
        op->mean_time_fwd(m->be, m->feat, h, B, L, F);
    }
    op->dense_fwd(m->be, m->logits, m->feat, P(fw), P(fw + 1), B, F, 2);
    op->logsoftmax_fwd(m->be, m->logprob, m->logits, B, 2);
    m->last_B = B;
    m->last_train = train;
    return dm_backend_status(m->be);
}

dm_status dm_net_forward(dm_net *m, const float *x, int32_t B, bool train, uint64_t seed,
                           uint64_t step) {
    if (B < 1 || B > m->max_batch)
        return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    m->be->i->upload(m->be, m->x, x, sizeof(float) * (size_t)B * m->hp.len * 4);
    return model_forward(m, B, train, seed, step);
}

dm_status dm_net_forward_codes(dm_net *m, const uint8_t *codes, int32_t B, bool train,
                                 uint64_t seed, uint64_t step, bool n_quarter) {
    if (B < 1 || B > m->max_batch)
        return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    m->be->i->upload(m->be, m->codes, codes, (size_t)B * m->hp.len);
    m->be->i->onehot(m->be, m->x, m->codes, B, m->hp.len, n_quarter);
    return model_forward(m, B, train, seed, step);
}

float *dm_net_input(dm_net *m) { return m->x; }
float *dm_net_input_grad(dm_net *m) { return m->g_x; }
const float *dm_net_logprob_buf(const dm_net *m) { return m->logprob; }

dm_status dm_net_forward_input(dm_net *m, int32_t B, bool train, uint64_t seed, uint64_t step) {
    if (B < 1 || B > m->max_batch)
        return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    return model_forward(m, B, train, seed, step);
}

dm_status dm_net_forward_data(dm_net *m, dm_devdata *d, int64_t i0, int32_t B, bool train,
                                uint64_t seed, uint64_t step, bool n_quarter) {
    if (B < 1 || B > m->max_batch || i0 < 0 || i0 + B > d->n)
        return dm_error(DM_STATUS_ARG, "model: rows %lld..%lld outside the data or batch", (long long)i0,
                        (long long)(i0 + B));
    if (d->len != m->hp.len) return dm_error(DM_STATUS_ARG, "data length %d != model length %d", d->len, m->hp.len);
    dm_backend *be = m->be;
    be->i->gather(be, m->x, m->labels, d->packed, d->labels, d->order + i0, B, d->len, n_quarter);
    DM_TRY(model_forward(m, B, train, seed, step));
    be->i->copy(be, d->logprob + 2 * i0, m->logprob, sizeof(float) * 2 * (size_t)B);
    return dm_backend_status(be);
}

dm_status dm_net_scores(const dm_net *m, float *p_pos) {
    int B = m->last_B;
    float lp[2 * 4096];
    for (int b0 = 0; b0 < B; b0 += 4096) {
        int nb = B - b0 < 4096 ? B - b0 : 4096;
        m->be->i->download(m->be, lp, m->logprob + 2 * b0, sizeof(float) * 2 * (size_t)nb);
        for (int b = 0; b < nb; b++) p_pos[b0 + b] = expf(lp[2 * b]);
    }
    return dm_backend_status(m->be);
}

dm_status dm_net_logprob(const dm_net *m, float *logprob) {
    m->be->i->download(m->be, logprob, m->logprob, sizeof(float) * 2 * (size_t)m->last_B);
    return dm_backend_status(m->be);
}

/* ---- backward --------------------------------------------------------------------------------- */

/* Backward from m->g_logprob through the whole model; input gradient into m->g_x when want_dx. */
static dm_status model_backward(dm_net *m, bool want_dx) {
    const struct dm_backend_i *op = m->be->i;
    const dm_hparams *hp = &m->hp;
    int B = m->last_B, L = hp->len, F = m->feat_dim, C = hp->conv_channels, fw = m->n_tensors - 2;
    bool dropped = m->last_train && hp->dropout > 0;

    op->logsoftmax_bwd(m->be, m->g_logits, m->g_logprob, m->logprob, B, 2);
    op->dense_bwd(m->be, m->g_feat, G(fw), G(fw + 1), m->g_logits, m->feat, P(fw), B, F, 2);

    /* gradient of the last conv stage's output (CNN) or of the conv output (CNN-RNN) */
    float *g_y = NULL;
    if (hp->arch == DM_ARCH_CNN) {
        dm_conv_stage *s = &m->st[m->n_stages - 1];
        g_y = s->g_drop;
        op->gmax_bwd(m->be, g_y, m->g_feat, m->gmax_idx, B, s->Lp, F);
    } else {
        int t0 = 2 * m->n_stages;
        op->mean_time_bwd(m->be, m->g_lstm_h, m->g_feat, B, L, F);
        if (dropped) op->dropout_bwd(m->be, m->g_lstm_h, m->g_lstm_h, m->rnn_mask, (int64_t)B * L * F);
        const float *lstm_in = m->n_stages ? m->st[0].conv : m->x;
        float *g_in = m->n_stages ? m->st[0].g_conv : (want_dx ? m->g_x : NULL);
        op->lstm_bwd(m->be, g_in, G(t0), G(t0 + 2), G(t0 + 4), G(t0 + 6), m->g_gates, m->g_lstm_h,
                     lstm_in, m->lstm_h, m->lstm_gates, m->lstm_cell, P(t0), P(t0 + 2), B, L, m->D,
                     m->H, 2);
    }

    for (int i = m->n_stages - 1; i >= 0; i--) {
        dm_conv_stage *s = &m->st[i];
        /* g_y: gradient of the stage output; route it back to the ReLU output, then through it */
        const float *g_relu = s->g_conv;     /* the CNN-RNN's LSTM wrote its input gradient here */
        if (s->drop) {
            if (dropped) op->dropout_bwd(m->be, g_y, g_y, s->mask, (int64_t)B * s->Lp * C);
            if (s->pool)
                op->maxpool_bwd(m->be, s->g_conv, g_y, s->pool_idx, B, s->Lo, C, hp->pool);
            else
                g_relu = g_y;
        }
        op->relu_bwd(m->be, s->g_conv, g_relu, s->conv, (int64_t)B * s->Lo * C);
        const float *in = i > 0 ? stage_out(&m->st[i - 1], dropped) : m->x;
        float *g_in = i > 0 ? m->st[i - 1].g_drop : (want_dx ? m->g_x : NULL);
        op->conv1d_bwd(m->be, g_in, G(s->tw), G(s->tb), s->g_conv, in, P(s->tw), B, s->Li, s->Ci, C,
                       s->K, s->pad);
        g_y = g_in;
    }
    return dm_backend_status(m->be);
}

dm_status dm_net_backward(dm_net *m, const int8_t *labels, int32_t B, double denom, double *loss,
                            float *grad_x) {
    if (B != m->last_B) return dm_error(DM_STATUS_ARG, "model: backward batch %d != forward %d", B, m->last_B);
    dm_backend *be = m->be;
    be->i->upload(be, m->labels, labels, (size_t)B);
    be->i->nll(be, m->loss, m->g_logprob, m->logprob, m->labels, B, (float)(1.0 / denom));
    DM_TRY(model_backward(m, grad_x != NULL));
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
    be->i->nll(be, m->loss, m->g_logprob, m->logprob, m->labels, B, (float)(1.0 / denom));
    DM_TRY(model_backward(m, false));
    be->i->copy(be, d->loss + i0, m->loss, sizeof(float) * (size_t)B);
    return dm_backend_status(be);
}

dm_status dm_net_backward_input(dm_net *m, const float *grad_logprob, int32_t B) {
    if (B != m->last_B) return dm_error(DM_STATUS_ARG, "model: backward batch %d != forward %d", B, m->last_B);
    m->be->i->copy(m->be, m->g_logprob, grad_logprob, sizeof(float) * 2 * (size_t)B);
    return model_backward(m, true);
}

dm_status dm_net_backward_from(dm_net *m, const float *grad_logprob, int32_t B, float *grad_x) {
    if (B != m->last_B) return dm_error(DM_STATUS_ARG, "model: backward batch %d != forward %d", B, m->last_B);
    m->be->i->upload(m->be, m->g_logprob, grad_logprob, sizeof(float) * 2 * (size_t)B);
    DM_TRY(model_backward(m, grad_x != NULL));
    if (grad_x) m->be->i->download(m->be, grad_x, m->g_x, sizeof(float) * (size_t)B * m->hp.len * 4);
    return dm_backend_status(m->be);
}

/* ---- temporal output scores ------------------------------------------------------------------ */

/* P(pos) of the head for the concatenated time-means [mf, mb] (2H), with fc W (2, 2H), b (2). */
static float head_score(const float *mf, const float *mb, const float *w, const float *b, int H) {
    double z[2];
    for (int k = 0; k < 2; k++) {
        z[k] = b[k];
        for (int j = 0; j < H; j++) z[k] += (double)w[k * 2 * H + j] * mf[j] + (double)w[k * 2 * H + H + j] * mb[j];
    }
    return (float)(1.0 / (1.0 + exp(z[1] - z[0])));
}

dm_status dm_net_temporal(dm_net *m, const float *x, int32_t B, float *fwd, float *bwd) {
    const struct dm_backend_i *op = m->be->i;
    dm_backend *be = m->be;
    if (m->hp.arch == DM_ARCH_CNN) return dm_error(DM_STATUS_ARG, "temporal scores need a recurrent model (rnn or cnnrnn)");
    if (B < 1 || B > m->max_batch) return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    int L = m->hp.len, D = m->D, H = m->H, G = 4 * H, t0 = 2 * m->n_stages, fw = m->n_tensors - 2;

    /* the full pass: conv features (on the whole sequence) and both LSTM directions */
    op->upload(be, m->x, x, sizeof(float) * (size_t)B * L * 4);
    const float *xin = conv_stages_fwd(m, m->x, B, false, 0, 0);
    op->lstm_fwd(be, m->lstm_h, m->lstm_gates, m->lstm_cell, xin, P(t0), P(t0 + 2), P(t0 + 4), P(t0 + 6),
                 B, L, D, H, 2);
    DM_TRY(dm_backend_status(be));

    size_t nx = (size_t)B * L * D, nh = (size_t)B * L * 2 * H;
    float *hx = malloc(sizeof(float) * nx), *hh = malloc(sizeof(float) * nh), *sub = malloc(sizeof(float) * nx);
    float *sh = malloc(sizeof(float) * (size_t)B * L * H), *cum = malloc(sizeof(float) * (size_t)B * (L + 1) * 2 * H);
    float w[2 * 2 * 4096 + 2];
    /* backend scratch for the truncated single-direction passes: x, h, gates, cell */
    float *dx = op->alloc(be, sizeof(float) * nx), *dh = op->alloc(be, sizeof(float) * (size_t)B * L * H);
    float *dg = op->alloc(be, sizeof(float) * (size_t)B * L * G), *dc = op->alloc(be, sizeof(float) * (size_t)B * L * H);
    dm_status st = DM_STATUS_OK;
    if (!hx || !hh || !sub || !sh || !cum || !dx || !dh || !dg || !dc) st = dm_error(DM_STATUS_NOMEM, "temporal: out of memory");
    if (!st) {
        op->download(be, hx, xin, sizeof(float) * nx);
        op->download(be, hh, m->lstm_h, sizeof(float) * nh);
        op->download(be, w, P(fw), sizeof(float) * (2 * 2 * (size_t)H + 2));
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
    for (int n = 1; n <= L && !st; n++) {     /* truncations of length n */
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
    free(hx); free(hh); free(sub); free(sh); free(cum);
    float *bufs[] = {dx, dh, dg, dc};
    for (int k = 0; k < 4; k++) if (bufs[k]) op->free(be, bufs[k]);
    return st;
}

/* ---- first-layer activations ------------------------------------------------------------------ */

dm_status dm_net_first_layer(dm_net *m, const float *x, int32_t B, float *act, int *Lo, int *K,
                               int *pad, int *C) {
    if (m->n_stages == 0) return dm_error(DM_STATUS_ARG, "the rnn has no convolution layer");
    if (B < 1 || B > m->max_batch) return dm_error(DM_STATUS_ARG, "model: batch %d outside 1..%d", B, m->max_batch);
    const struct dm_backend_i *op = m->be->i;
    dm_conv_stage *s = &m->st[0];
    int Co = m->hp.conv_channels;
    op->upload(m->be, m->x, x, sizeof(float) * (size_t)B * m->hp.len * 4);
    op->conv1d_fwd(m->be, s->conv, m->x, P(s->tw), P(s->tb), B, s->Li, s->Ci, Co, s->K, s->pad);
    op->relu_fwd(m->be, s->conv, s->conv, (int64_t)B * s->Lo * Co);
    op->download(m->be, act, s->conv, sizeof(float) * (size_t)B * s->Lo * Co);
    *Lo = s->Lo;
    *K = s->K;
    *pad = s->pad;
    *C = Co;
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
