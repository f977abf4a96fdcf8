/*
 * export.c: safetensors and ONNX writers (export.h), with no library beyond libc: the safetensors
 * header is JSON written by hand, the ONNX file a protobuf encoded by hand (varints and
 * length-delimited fields; the field numbers are those of onnx.proto).
 *
 * Both files are assembled in memory (a model is at most a few MB) and written with one dm_outfile,
 * so a failure leaves nothing behind.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "model.h"

/* ---- a growing byte buffer ---------------------------------------------------------------------- */

typedef struct dm_buf {
    uint8_t *p;
    size_t n, cap;
    bool nomem;
} dm_buf;

static void buf_put(dm_buf *b, const void *v, size_t n) {
    if (b->nomem || n == 0) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) { b->nomem = true; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}

static void buf_cstr(dm_buf *b, const char *s) { buf_put(b, s, strlen(s)); }

static void buf_printf(dm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(dm_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof tmp) { b->nomem = true; return; }   /* never: short fields */
    buf_put(b, tmp, (size_t)k);
}

/* IEEE-754 single, little-endian whatever the host's byte order. */
static void buf_f32le(dm_buf *b, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    buf_put(b, le, 4);
}

static void buf_free(dm_buf *b) {
    free(b->p);
    *b = (dm_buf){0};
}

/* Writes the buffer to `path` atomically and frees it. */
static dm_status buf_write(dm_buf *b, const char *path, const char *what) {
    if (b->nomem) {
        buf_free(b);
        return dm_error(DM_STATUS_NOMEM, "%s: out of memory assembling the %s file", path, what);
    }
    dm_outfile o;
    dm_status st = dm_outfile_open(&o, path);
    if (st == DM_STATUS_OK) {
        if (fwrite(b->p, 1, b->n, o.f) != b->n) {
            int err = dm_outfile_errno(&o);
            dm_outfile_abort(&o);
            st = dm_error(DM_STATUS_IO, "%s: write failed: %s", path, strerror(err));
        } else {
            st = dm_outfile_commit(&o);
        }
    }
    buf_free(b);
    return st;
}

/* ---- the model's tensors, found by name and checked against the hyper-parameters ---------------- */

typedef struct dm_export_model {
    const dm_hparams *hp;
    const dm_tensor_info *t;
    int32_t n;
    const float *params;
} dm_export_model;

/* Checks `hp` and that the table holds exactly the tensors dm_net_table() gives for it, with the same
 * shapes (by name; order and offsets are the caller's). Also that the conv stack fits the length. */
static dm_status check_model(const char *path, const dm_hparams *hp, const dm_tensor_info *t,
                             int32_t n) {
    if ((int)hp->arch < 0 || hp->arch > DM_ARCH_CNNRNN)
        return dm_error(DM_STATUS_ARG, "%s: unknown architecture %d", path, (int)hp->arch);
    int n_conv = hp->arch == DM_ARCH_CNN ? hp->n_conv : (hp->arch == DM_ARCH_CNNRNN ? 1 : 0);
    if (hp->len < 1 || hp->conv_channels < 1 || hp->hidden < 1 || hp->pool < 1 || n_conv < 0 ||
        n_conv > DM_MAX_CONV || (hp->arch == DM_ARCH_CNN && n_conv < 1))
        return dm_error(DM_STATUS_ARG, "%s: hyper-parameter out of range", path);
    int L = hp->len;
    for (int i = 0; i < n_conv; i++) {
        int K = hp->conv_width[i];
        int pad = hp->arch == DM_ARCH_CNNRNN ? (K - 1) / 2 : 0;
        if (K < 1) return dm_error(DM_STATUS_ARG, "%s: conv%d width %d", path, i + 1, K);
        L = L + 2 * pad - K + 1;
        if (hp->arch == DM_ARCH_CNN && i < n_conv - 1 && hp->pool > 1) L /= hp->pool;
        if (L < 1) return dm_error(DM_STATUS_ARG, "%s: input length %d too short for the convolutions", path, hp->len);
    }
    if (hp->arch == DM_ARCH_CNNRNN && L != hp->len)
        return dm_error(DM_STATUS_ARG, "%s: the CNN-RNN needs an odd conv width", path);

    dm_tensor_info want[DM_MAX_TENSORS];
    int64_t np;
    int32_t nw = dm_net_table(hp, want, &np);
    if (n != nw) return dm_error(DM_STATUS_ARG, "%s: %d tensors, the %s has %d", path, n, dm_arch_name(hp->arch), nw);
    for (int32_t i = 0; i < nw; i++) {
        const dm_tensor_info *g = NULL;
        for (int32_t j = 0; j < n && !g; j++)
            if (strcmp(t[j].name, want[i].name) == 0) g = &t[j];
        if (!g) return dm_error(DM_STATUS_ARG, "%s: tensor %s missing", path, want[i].name);
        bool same = g->ndim == want[i].ndim && g->offset >= 0;
        for (int d = 0; same && d < g->ndim; d++) same = g->shape[d] == want[i].shape[d];
        if (!same) return dm_error(DM_STATUS_ARG, "%s: tensor %s has the wrong shape", path, g->name);
    }
    return DM_STATUS_OK;
}

static const dm_tensor_info *find(const dm_export_model *m, const char *name) {
    for (int32_t i = 0; i < m->n; i++)
        if (strcmp(m->t[i].name, name) == 0) return &m->t[i];
    return NULL;   /* never after check_model for a name of dm_net_table */
}

/* Element i of tensor t in PyTorch's layout: a 3-D tensor is a conv weight, canonical (C_out, K, C_in),
 * read as torch's (C_out, C_in, K); every other tensor is already torch's. */
static float torch_elem(const dm_export_model *m, const dm_tensor_info *t, int64_t i) {
    const float *v = m->params + t->offset;
    if (t->ndim != 3) return v[i];
    int64_t K = t->shape[1], Ci = t->shape[2];
    int64_t co = i / (Ci * K), ci = i / K % Ci, k = i % K;
    return v[(co * K + k) * Ci + ci];
}

/* The hyper-parameters as (key, value) strings, for safetensors' __metadata__ and ONNX's
 * metadata_props. Returns the count. */
#define N_META 12
static int meta_entries(const dm_hparams *hp, char key[N_META][32], char val[N_META][320]) {
    int k = 0;
#define META(K, ...) (snprintf(key[k], 32, "%s", K), snprintf(val[k], 320, __VA_ARGS__), k++)
    META("deepmotif.arch", "%s", dm_arch_name(hp->arch));
    META("deepmotif.len", "%d", hp->len);
    int n_conv = hp->arch == DM_ARCH_CNN ? hp->n_conv : (hp->arch == DM_ARCH_CNNRNN ? 1 : 0);
    META("deepmotif.n_conv", "%d", n_conv);
    char w[128] = "";
    for (int i = 0; i < n_conv; i++)
        snprintf(w + strlen(w), sizeof w - strlen(w), "%s%d", i ? "," : "", hp->conv_width[i]);
    META("deepmotif.conv_width", "%s", w);
    META("deepmotif.conv_channels", "%d", hp->conv_channels);
    META("deepmotif.pool", "%d", hp->pool);
    META("deepmotif.hidden", "%d", hp->hidden);
    META("deepmotif.dropout", "%.9g", (double)hp->dropout);
    META("deepmotif.version", "%s", DM_VERSION_STRING);
    META("deepmotif.input", "x (N, L, 4) float32 one-hot A,C,G,T, channels-last; torch Conv1d wants x.transpose(1, 2)");
    META("deepmotif.output", "log-softmax (N, 2) over (bound, unbound)");
    static const char *const fwd[] = {
        [DM_ARCH_CNN] = "[Conv1d(valid) -> ReLU -> MaxPool1d(pool, pool, floor) -> Dropout] x (n_conv-1) -> "
                        "Conv1d -> ReLU -> Dropout -> max over positions -> fc (Linear) -> log_softmax",
        [DM_ARCH_RNN] = "lstm.fwd: nn.LSTM(4, hidden) over positions 0..L-1; lstm.bwd: nn.LSTM(4, hidden) on "
                        "the reversed sequence, its outputs reversed back; [fwd, bwd] -> Dropout -> mean "
                        "over positions -> fc (Linear) -> log_softmax",
        [DM_ARCH_CNNRNN] = "conv1: Conv1d(4, C, K, padding=(K-1)/2) -> ReLU -> the RNN's block with "
                           "nn.LSTM(C, hidden) -> Dropout -> mean over positions -> fc -> log_softmax",
    };
    META("deepmotif.forward", "%s", fwd[hp->arch]);
#undef META
    return k;
}

/* ---- safetensors ------------------------------------------------------------------------------ */

/* A JSON string of printable ASCII (tensor names, metadata): quotes and backslashes escaped. */
static void json_str(dm_buf *b, const char *s) {
    buf_put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') buf_put(b, "\\", 1);
        if ((unsigned char)*s >= 0x20) buf_put(b, s, 1);
    }
    buf_put(b, "\"", 1);
}

dm_status dm_export_safetensors(const char *path, const dm_hparams *hp, const dm_tensor_info *tensors,
                                int32_t n, const float *params) {
    DM_TRY(check_model(path, hp, tensors, n));
    dm_export_model m = {hp, tensors, n, params};
    /* tensors in name order, their data contiguous in the same order (the format forbids holes) */
    int32_t order[DM_MAX_TENSORS];
    for (int32_t i = 0; i < n; i++) order[i] = i;
    for (int32_t i = 1; i < n; i++)   /* insertion sort: a few dozen names, no global comparator */
        for (int32_t j = i; j > 0 && strcmp(tensors[order[j - 1]].name, tensors[order[j]].name) > 0; j--) {
            int32_t x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }

    dm_buf h = {0};
    char key[N_META][32], val[N_META][320];
    int nm = meta_entries(hp, key, val);
    buf_cstr(&h, "{\"__metadata__\":{\"format\":\"pt\"");
    for (int i = 0; i < nm; i++) {
        buf_put(&h, ",", 1);
        json_str(&h, key[i]);
        buf_put(&h, ":", 1);
        json_str(&h, val[i]);
    }
    buf_put(&h, "}", 1);
    int64_t off = 0;
    for (int32_t r = 0; r < n; r++) {
        const dm_tensor_info *t = &tensors[order[r]];
        buf_put(&h, ",", 1);
        json_str(&h, t->name);
        buf_cstr(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        int64_t s[4] = {t->shape[0], t->shape[1], t->shape[2], t->shape[3]};
        if (t->ndim == 3) { s[1] = t->shape[2]; s[2] = t->shape[1]; }   /* (C_out, C_in, K) */
        for (int d = 0; d < t->ndim; d++) buf_printf(&h, "%s%lld", d ? "," : "", (long long)s[d]);
        buf_printf(&h, "],\"data_offsets\":[%lld,%lld]}", (long long)(4 * off),
                   (long long)(4 * (off + t->numel)));
        off += t->numel;
    }
    buf_put(&h, "}", 1);
    while (h.n % 8) buf_put(&h, " ", 1);   /* data 8-byte aligned, as the reference writer pads */

    dm_buf b = {0};
    uint64_t hn = h.n;
    for (int i = 0; i < 8; i++) {
        uint8_t c = (uint8_t)(hn >> (8 * i));
        buf_put(&b, &c, 1);
    }
    if (!h.nomem) buf_put(&b, h.p, h.n);
    b.nomem |= h.nomem;
    buf_free(&h);
    for (int32_t r = 0; r < n; r++) {
        const dm_tensor_info *t = &tensors[order[r]];
        for (int64_t i = 0; i < t->numel; i++) buf_f32le(&b, torch_elem(&m, t, i));
    }
    return buf_write(&b, path, "safetensors");
}

/* ---- protobuf encoding ------------------------------------------------------------------------ */

enum { PB_VARINT = 0, PB_I32 = 5, PB_LEN = 2 };

static void pb_varint(dm_buf *b, uint64_t v) {
    uint8_t t[10];
    int k = 0;
    do {
        t[k] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) t[k] |= 0x80;
        k++;
    } while (v);
    buf_put(b, t, (size_t)k);
}

static void pb_key(dm_buf *b, int field, int wire) { pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

static void pb_int(dm_buf *b, int field, int64_t v) {   /* int32/int64/enum: two's complement */
    pb_key(b, field, PB_VARINT);
    pb_varint(b, (uint64_t)v);
}

static void pb_bytes(dm_buf *b, int field, const void *p, size_t n) {
    pb_key(b, field, PB_LEN);
    pb_varint(b, n);
    buf_put(b, p, n);
}

static void pb_str(dm_buf *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* Appends the message `sub` as field `field` of b and frees it. */
static void pb_msg(dm_buf *b, int field, dm_buf *sub) {
    b->nomem |= sub->nomem;
    pb_bytes(b, field, sub->p, sub->n);
    buf_free(sub);
}

/* onnx.proto field numbers */
enum {
    MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3, MODEL_DOC = 6,
    MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8, MODEL_METADATA = 14,
    OPSET_DOMAIN = 1, OPSET_VERSION = 2,
    ENTRY_KEY = 1, ENTRY_VALUE = 2,
    GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12,
    NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
    ATTR_NAME = 1, ATTR_I = 3, ATTR_S = 4, ATTR_INTS = 8, ATTR_TYPE = 20,
    ATTR_TYPE_INT = 2, ATTR_TYPE_STRING = 3, ATTR_TYPE_INTS = 7,
    TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9,
    DTYPE_FLOAT = 1,
    VALUE_NAME = 1, VALUE_TYPE = 2,
    TYPE_TENSOR = 1, TYPE_TENSOR_ELEM = 1, TYPE_TENSOR_SHAPE = 2,
    SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2,
};

/* IR version 7 goes with opset 13 (onnx's versioning table). */
#define ONNX_IR_VERSION 7

/* ---- ONNX graph building ---------------------------------------------------------------------- */

/* One node under construction: its attributes accumulate in `attrs`. */
typedef struct onnx_node {
    dm_buf b;
} onnx_node;

static void node_begin(onnx_node *nd, const char *op, const char *name, const char *const *in, int nin,
                       const char *out) {
    nd->b = (dm_buf){0};
    for (int i = 0; i < nin; i++) pb_str(&nd->b, NODE_INPUT, in[i]);
    pb_str(&nd->b, NODE_OUTPUT, out);
    pb_str(&nd->b, NODE_NAME, name);
    pb_str(&nd->b, NODE_OP_TYPE, op);
}

static void attr_int(onnx_node *nd, const char *name, int64_t v) {
    dm_buf a = {0};
    pb_str(&a, ATTR_NAME, name);
    pb_int(&a, ATTR_I, v);
    pb_int(&a, ATTR_TYPE, ATTR_TYPE_INT);
    pb_msg(&nd->b, NODE_ATTRIBUTE, &a);
}

static void attr_ints(onnx_node *nd, const char *name, const int64_t *v, int n) {
    dm_buf a = {0};
    pb_str(&a, ATTR_NAME, name);
    for (int i = 0; i < n; i++) pb_int(&a, ATTR_INTS, v[i]);   /* proto2: unpacked */
    pb_int(&a, ATTR_TYPE, ATTR_TYPE_INTS);
    pb_msg(&nd->b, NODE_ATTRIBUTE, &a);
}

static void attr_str(onnx_node *nd, const char *name, const char *s) {
    dm_buf a = {0};
    pb_str(&a, ATTR_NAME, name);
    pb_str(&a, ATTR_S, s);
    pb_int(&a, ATTR_TYPE, ATTR_TYPE_STRING);
    pb_msg(&nd->b, NODE_ATTRIBUTE, &a);
}

static void node_end(dm_buf *graph, onnx_node *nd) { pb_msg(graph, GRAPH_NODE, &nd->b); }

/* A node with one input, one output and no attributes. */
static void node1(dm_buf *g, const char *op, const char *in, const char *out) {
    onnx_node nd;
    node_begin(&nd, op, out, &in, 1, out);
    node_end(g, &nd);
}

static void transpose(dm_buf *g, const char *in, const char *out, int64_t p0, int64_t p1, int64_t p2) {
    onnx_node nd;
    node_begin(&nd, "Transpose", out, &in, 1, out);
    attr_ints(&nd, "perm", (int64_t[]){p0, p1, p2}, 3);
    node_end(g, &nd);
}

/* An initializer of `nd` dims whose element i is get(ctx, i). */
typedef float (*elem_fn)(const void *ctx, int64_t i);
static void initializer(dm_buf *g, const char *name, const int64_t *dims, int nd, elem_fn get,
                        const void *ctx) {
    dm_buf t = {0};
    int64_t numel = 1;
    for (int d = 0; d < nd; d++) {
        pb_int(&t, TENSOR_DIMS, dims[d]);
        numel *= dims[d];
    }
    pb_int(&t, TENSOR_DATA_TYPE, DTYPE_FLOAT);
    pb_str(&t, TENSOR_NAME, name);
    dm_buf raw = {0};
    for (int64_t i = 0; i < numel; i++) buf_f32le(&raw, get(ctx, i));   /* raw_data: little-endian */
    pb_msg(&t, TENSOR_RAW_DATA, &raw);
    pb_msg(g, GRAPH_INITIALIZER, &t);
}

/* A tensor of the model in torch's layout (conv weights (C_out, C_in, K)). */
typedef struct torch_src {
    const dm_export_model *m;
    const dm_tensor_info *t;
} torch_src;

static float torch_get(const void *ctx, int64_t i) {
    const torch_src *s = ctx;
    return torch_elem(s->m, s->t, i);
}

static void torch_initializer(dm_buf *g, const dm_export_model *m, const char *name) {
    const dm_tensor_info *t = find(m, name);
    int64_t dims[4] = {t->shape[0], t->shape[1], t->shape[2], 0};
    if (t->ndim == 3) { dims[1] = t->shape[2]; dims[2] = t->shape[1]; }
    torch_src s = {m, t};
    initializer(g, name, dims, t->ndim, torch_get, &s);
}

/* The BiLSTM's W (2, 4H, D), R (2, 4H, H) and B (2, 8H) in ONNX's gate order i, o, f, c, from the
 * engine's (= PyTorch's) per-direction tensors in order i, f, g, o. */
typedef struct lstm_src {
    const float *v[2][2];      /* [direction][ih, hh] for B; [direction][0] for W and R */
    int64_t H, cols;           /* rows per gate; columns (D, H, or 1 for biases) */
    bool bias;
} lstm_src;

static float lstm_get(const void *ctx, int64_t i) {
    static const int from[4] = {0, 3, 1, 2};   /* ONNX gate j is the engine's gate from[j] */
    const lstm_src *s = ctx;
    int64_t per_dir = (s->bias ? 8 : 4) * s->H * s->cols;
    int d = (int)(i / per_dir);
    int64_t r = i % per_dir;
    int which = 0;
    if (s->bias && r >= 4 * s->H) { which = 1; r -= 4 * s->H; }   /* B = [Wb, Rb] */
    int64_t row = r / s->cols, col = r % s->cols;
    int64_t gate = row / s->H, j = row % s->H;
    return s->v[d][which][(from[gate] * s->H + j) * s->cols + col];
}

static void lstm_initializers(dm_buf *g, const dm_export_model *m) {
    int64_t H = m->hp->hidden;
    const dm_tensor_info *wih[2] = {find(m, "lstm.fwd.weight_ih"), find(m, "lstm.bwd.weight_ih")};
    const dm_tensor_info *whh[2] = {find(m, "lstm.fwd.weight_hh"), find(m, "lstm.bwd.weight_hh")};
    const dm_tensor_info *bih[2] = {find(m, "lstm.fwd.bias_ih"), find(m, "lstm.bwd.bias_ih")};
    const dm_tensor_info *bhh[2] = {find(m, "lstm.fwd.bias_hh"), find(m, "lstm.bwd.bias_hh")};
    int64_t D = wih[0]->shape[1];
    const float *p = m->params;
    lstm_src w = {{{p + wih[0]->offset}, {p + wih[1]->offset}}, H, D, false};
    initializer(g, "lstm.W", (int64_t[]){2, 4 * H, D}, 3, lstm_get, &w);
    lstm_src r = {{{p + whh[0]->offset}, {p + whh[1]->offset}}, H, H, false};
    initializer(g, "lstm.R", (int64_t[]){2, 4 * H, H}, 3, lstm_get, &r);
    lstm_src b = {{{p + bih[0]->offset, p + bhh[0]->offset}, {p + bih[1]->offset, p + bhh[1]->offset}},
                  H, 1, true};
    initializer(g, "lstm.B", (int64_t[]){2, 8 * H}, 2, lstm_get, &b);
}

/* Conv (+ ReLU, + MaxPool when `pool` > 1) on `in` (N, C, L); returns the output's name in out. */
static void conv_stage(dm_buf *g, const dm_export_model *m, int i, int pad, int pool, const char *in,
                       char out[32]) {
    char w[32], b[32], conv[32], relu[32];
    snprintf(w, sizeof w, "conv%d.weight", i + 1);
    snprintf(b, sizeof b, "conv%d.bias", i + 1);
    snprintf(conv, sizeof conv, "conv%d", i + 1);
    snprintf(relu, sizeof relu, "relu%d", i + 1);
    torch_initializer(g, m, w);
    torch_initializer(g, m, b);
    onnx_node nd;
    node_begin(&nd, "Conv", conv, (const char *const[]){in, w, b}, 3, conv);
    attr_ints(&nd, "kernel_shape", (int64_t[]){m->hp->conv_width[i]}, 1);
    attr_ints(&nd, "pads", (int64_t[]){pad, pad}, 2);
    attr_ints(&nd, "strides", (int64_t[]){1}, 1);
    attr_ints(&nd, "dilations", (int64_t[]){1}, 1);
    node_end(g, &nd);
    node1(g, "Relu", conv, relu);
    snprintf(out, 32, "%s", relu);
    if (pool > 1) {
        snprintf(out, 32, "pool%d", i + 1);
        node_begin(&nd, "MaxPool", out, (const char *const[]){relu}, 1, out);
        attr_ints(&nd, "kernel_shape", (int64_t[]){pool}, 1);
        attr_ints(&nd, "strides", (int64_t[]){pool}, 1);   /* ceil_mode 0: floor, as the engine */
        node_end(g, &nd);
    }
}

/* BiLSTM over `in` (L, N, D), mean over positions, [fwd, bwd] → "feat" (N, 2H). */
static void bilstm_mean(dm_buf *g, const dm_export_model *m, const char *in) {
    lstm_initializers(g, m);
    onnx_node nd;
    node_begin(&nd, "LSTM", "lstm", (const char *const[]){in, "lstm.W", "lstm.R", "lstm.B"}, 4, "lstm_y");
    attr_int(&nd, "hidden_size", m->hp->hidden);
    attr_str(&nd, "direction", "bidirectional");
    node_end(g, &nd);                                  /* Y (L, 2, N, H) */
    node_begin(&nd, "ReduceMean", "lstm_mean", (const char *const[]){"lstm_y"}, 1, "lstm_mean");
    attr_ints(&nd, "axes", (int64_t[]){0}, 1);
    attr_int(&nd, "keepdims", 0);
    node_end(g, &nd);                                  /* (2, N, H) */
    transpose(g, "lstm_mean", "lstm_mean_t", 1, 0, 2); /* (N, 2, H) */
    node_begin(&nd, "Flatten", "feat", (const char *const[]){"lstm_mean_t"}, 1, "feat");
    attr_int(&nd, "axis", 1);
    node_end(g, &nd);                                  /* (N, 2H) = [fwd, bwd] */
}

/* ValueInfoProto of a float tensor (N, d1) or (N, d1, d2), N symbolic. */
static void value_info(dm_buf *g, int field, const char *name, const int64_t *dims, int nd) {
    dm_buf shape = {0};
    for (int d = 0; d < nd; d++) {
        dm_buf dim = {0};
        if (d == 0) pb_str(&dim, DIM_PARAM, "N");
        else pb_int(&dim, DIM_VALUE, dims[d]);
        pb_msg(&shape, SHAPE_DIM, &dim);
    }
    dm_buf tt = {0};
    pb_int(&tt, TYPE_TENSOR_ELEM, DTYPE_FLOAT);
    pb_msg(&tt, TYPE_TENSOR_SHAPE, &shape);
    dm_buf type = {0};
    pb_msg(&type, TYPE_TENSOR, &tt);
    dm_buf vi = {0};
    pb_str(&vi, VALUE_NAME, name);
    pb_msg(&vi, VALUE_TYPE, &type);
    pb_msg(g, field, &vi);
}

dm_status dm_export_onnx(const char *path, const dm_hparams *hp, const dm_tensor_info *tensors,
                         int32_t n, const float *params) {
    DM_TRY(check_model(path, hp, tensors, n));
    dm_export_model m = {hp, tensors, n, params};
    dm_buf g = {0};
    char name[64];
    snprintf(name, sizeof name, "deepmotif_%s", dm_arch_name(hp->arch));
    pb_str(&g, GRAPH_NAME, name);
    value_info(&g, GRAPH_INPUT, "x", (int64_t[]){0, hp->len, 4}, 3);
    value_info(&g, GRAPH_OUTPUT, "logprob", (int64_t[]){0, 2}, 2);

    char y[32];
    switch (hp->arch) {
    case DM_ARCH_CNN:
        transpose(&g, "x", "x_ncl", 0, 2, 1);          /* (N, 4, L) */
        snprintf(y, sizeof y, "x_ncl");
        for (int i = 0; i < hp->n_conv; i++) {
            char in[32];
            snprintf(in, sizeof in, "%s", y);
            conv_stage(&g, &m, i, 0, i < hp->n_conv - 1 ? hp->pool : 1, in, y);
        }
        {
            onnx_node nd;
            node_begin(&nd, "ReduceMax", "feat", (const char *const[]){y}, 1, "feat");
            attr_ints(&nd, "axes", (int64_t[]){2}, 1);
            attr_int(&nd, "keepdims", 0);
            node_end(&g, &nd);                         /* (N, C) */
        }
        break;
    case DM_ARCH_RNN:
        transpose(&g, "x", "x_lnd", 1, 0, 2);          /* (L, N, 4): the LSTM's layout 0 */
        bilstm_mean(&g, &m, "x_lnd");
        break;
    case DM_ARCH_CNNRNN:
        transpose(&g, "x", "x_ncl", 0, 2, 1);
        conv_stage(&g, &m, 0, (hp->conv_width[0] - 1) / 2, 1, "x_ncl", y);   /* (N, C, L) */
        transpose(&g, y, "lstm_in", 2, 0, 1);          /* (L, N, C) */
        bilstm_mean(&g, &m, "lstm_in");
        break;
    }
    torch_initializer(&g, &m, "fc.weight");
    torch_initializer(&g, &m, "fc.bias");
    onnx_node nd;
    node_begin(&nd, "Gemm", "fc", (const char *const[]){"feat", "fc.weight", "fc.bias"}, 3, "logits");
    attr_int(&nd, "transB", 1);
    node_end(&g, &nd);
    node_begin(&nd, "LogSoftmax", "logprob", (const char *const[]){"logits"}, 1, "logprob");
    attr_int(&nd, "axis", 1);
    node_end(&g, &nd);

    dm_buf b = {0};
    pb_int(&b, MODEL_IR_VERSION, ONNX_IR_VERSION);
    pb_str(&b, MODEL_PRODUCER_NAME, "deepmotif");
    pb_str(&b, MODEL_PRODUCER_VERSION, DM_VERSION_STRING);
    pb_str(&b, MODEL_DOC, "deepmotif model, eval mode: x (N, L, 4) one-hot ACGT -> logprob (N, 2) "
                          "= log-softmax over (bound, unbound)");
    pb_msg(&b, MODEL_GRAPH, &g);
    dm_buf op = {0};
    pb_str(&op, OPSET_DOMAIN, "");
    pb_int(&op, OPSET_VERSION, DM_EXPORT_ONNX_OPSET);
    pb_msg(&b, MODEL_OPSET_IMPORT, &op);
    char key[N_META][32], val[N_META][320];
    int nm = meta_entries(hp, key, val);
    for (int i = 0; i < nm; i++) {
        dm_buf e = {0};
        pb_str(&e, ENTRY_KEY, key[i]);
        pb_str(&e, ENTRY_VALUE, val[i]);
        pb_msg(&b, MODEL_METADATA, &e);
    }
    return buf_write(&b, path, "ONNX");
}
