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

#include "arch.h"
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

/* ---- the model as a list of layers ------------------------------------------------------------ */

/* The layer list of host/arch.h (dm_arch_layers(): the architecture table), under the writers'
 * names. */
typedef dm_layer ex_layer;
#define EX_MAX_LAYERS DM_MAX_LAYERS
#define EX_CONV DM_LAYER_CONV
#define EX_RELU DM_LAYER_RELU
#define EX_MAXPOOL DM_LAYER_MAXPOOL
#define EX_DROPOUT DM_LAYER_DROPOUT
#define EX_GMAX DM_LAYER_GMAX
#define EX_BILSTM DM_LAYER_BILSTM
#define EX_MEAN DM_LAYER_MEAN
#define EX_DENSE DM_LAYER_DENSE
#define EX_LOGSOFTMAX DM_LAYER_LOGSOFTMAX

/* hp's layers; −1 when the architecture's builder refuses hp (lengths are checked by the caller). */
static int export_layers(const dm_hparams *hp, ex_layer *l) {
    int n;
    (void)dm_arch_layers(hp, l, &n);     /* n counts the built layers even when only lengths fail */
    return n > 0 ? n : -1;
}

/* ---- the model's tensors, found by name and checked against the hyper-parameters ---------------- */

typedef struct dm_export_model {
    const dm_hparams *hp;
    const dm_tensor_info *t;
    int32_t n;
    const float *params;
    ex_layer layers[EX_MAX_LAYERS];
    int n_layers;
} dm_export_model;

/* Fills m: the layer list of hp, checked to fit the input length, and the tensor table checked to
 * hold exactly the tensors dm_net_table() gives for hp, with the same shapes (by name; order and
 * offsets are the caller's). */
static dm_status export_model(dm_export_model *m, const char *path, const dm_hparams *hp,
                              const dm_tensor_info *t, int32_t n, const float *params) {
    *m = (dm_export_model){.hp = hp, .t = t, .n = n, .params = params};
    if (hp->len < 1 || hp->conv_channels < 1 || hp->hidden < 1 || hp->pool < 1)
        return dm_error(DM_STATUS_ARG, "%s: hyper-parameter out of range", path);
    m->n_layers = export_layers(hp, m->layers);
    if (m->n_layers < 0)
        return dm_error(DM_STATUS_ARG, "%s: no export for these hyper-parameters of architecture %d",
                        path, (int)hp->arch);
    int L = hp->len;
    for (int i = 0; i < m->n_layers; i++) {
        const ex_layer *y = &m->layers[i];
        if (y->op == EX_CONV && y->k < 1) return dm_error(DM_STATUS_ARG, "%s: %s width %d", path, y->name, y->k);
        if (y->op == EX_CONV) L = L + 2 * y->pad - y->k + 1;
        if (y->op == EX_MAXPOOL) L /= y->k;
        if (L < 1) return dm_error(DM_STATUS_ARG, "%s: input length %d too short for the convolutions", path, hp->len);
    }

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
    return NULL;   /* never after export_model for the names its layers use */
}

static const dm_tensor_info *find2(const dm_export_model *m, const char *prefix, const char *suffix) {
    char name[64];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    return find(m, name);
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

/* The torch module's state_dict names: conv layers in order become convs.<i> (an nn.ModuleList of
 * Conv1d), the BiLSTM one bidirectional nn.LSTM `lstm` (batch_first), dense layers keep their name. */
typedef struct torch_name {
    char key[64];
    const dm_tensor_info *t;
} torch_name;

static int torch_names(const dm_export_model *m, torch_name *out) {
    int k = 0, conv = 0;
    static const char *const kinds[4][2] = {{"weight_ih", "weight_ih_l0"}, {"weight_hh", "weight_hh_l0"},
                                            {"bias_ih", "bias_ih_l0"}, {"bias_hh", "bias_hh_l0"}};
    for (int i = 0; i < m->n_layers; i++) {
        const ex_layer *y = &m->layers[i];
        if (y->op == EX_CONV) {
            snprintf(out[k].key, 64, "convs.%d.weight", conv);
            out[k++].t = find2(m, y->name, "weight");
            snprintf(out[k].key, 64, "convs.%d.bias", conv++);
            out[k++].t = find2(m, y->name, "bias");
        } else if (y->op == EX_BILSTM) {
            for (int d = 0; d < 2; d++)
                for (int q = 0; q < 4; q++) {
                    char s[32];
                    snprintf(s, sizeof s, "%s.%s", d ? "bwd" : "fwd", kinds[q][0]);
                    snprintf(out[k].key, 64, "%s.%s%s", y->name, kinds[q][1], d ? "_reverse" : "");
                    out[k++].t = find2(m, y->name, s);
                }
        } else if (y->op == EX_DENSE) {
            snprintf(out[k].key, 64, "%s.weight", y->name);
            out[k++].t = find2(m, y->name, "weight");
            snprintf(out[k].key, 64, "%s.bias", y->name);
            out[k++].t = find2(m, y->name, "bias");
        }
    }
    return k;
}

/* The metadata (safetensors' __metadata__, ONNX's metadata_props): the hyper-parameters as JSON with
 * the Python package's keys, the layer list, the module the names belong to. Returns the count. */
#define N_META 6
static int meta_entries(const dm_export_model *m, char key[N_META][32], char val[N_META][640]) {
    const dm_hparams *hp = m->hp;
    int k = 0;
    char w[128] = "";
    int nw = 0;     /* the widths the layer list uses: one per convolution */
    for (int i = 0; i < m->n_layers; i++) nw += m->layers[i].op == EX_CONV;
    for (int i = 0; i < nw && i < DM_MAX_CONV; i++)
        snprintf(w + strlen(w), sizeof w - strlen(w), "%s%d", i ? "," : "", hp->conv_width[i]);
    snprintf(key[k], 32, "deepmotif.hparams");
    snprintf(val[k++], 640,
             "{\"arch\":\"%s\",\"length\":%d,\"n_conv\":%d,\"conv_width\":[%s],\"conv_channels\":%d,"
             "\"pool\":%d,\"hidden\":%d,\"dropout\":%.9g}",
             dm_arch_name(hp->arch), hp->len, hp->n_conv, w, hp->conv_channels, hp->pool, hp->hidden,
             (double)hp->dropout);
    static const char *const op_name[] = {"conv", "relu", "maxpool", "dropout", "gmax", "bilstm", "mean",
                                          "dense", "logsoftmax"};
    char *f = val[k];
    f[0] = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const ex_layer *y = &m->layers[i];
        size_t u = strlen(f);
        if (y->op == EX_CONV)
            snprintf(f + u, 640 - u, "%s%s(%s: %d, k %d, pad %d)", i ? " > " : "", op_name[y->op], y->name, y->n, y->k, y->pad);
        else if (y->op == EX_MAXPOOL)
            snprintf(f + u, 640 - u, " > maxpool(%d, floor)", y->k);
        else if (y->op == EX_BILSTM || y->op == EX_DENSE)
            snprintf(f + u, 640 - u, "%s%s(%s: %d)", i ? " > " : "", op_name[y->op], y->name, y->n);
        else
            snprintf(f + u, 640 - u, "%s%s", i ? " > " : "", op_name[y->op]);
    }
    snprintf(key[k++], 32, "deepmotif.layers");
    snprintf(key[k], 32, "deepmotif.module");
    snprintf(val[k++], 640, "convs: nn.ModuleList of nn.Conv1d(C_in, C_out, K, padding=pad); lstm: "
                            "nn.LSTM(D, H, batch_first=True, bidirectional=True); fc: nn.Linear(F, 2); "
                            "dropout is the identity in eval mode (the Python package's "
                            "deepmotif.torch.DeepMotifNet)");
    snprintf(key[k], 32, "deepmotif.input");
    snprintf(val[k++], 640, "(N, L, 4) float32 one-hot A,C,G,T channels-last (Conv1d takes x.transpose(1, 2))");
    snprintf(key[k], 32, "deepmotif.output");
    snprintf(val[k++], 640, "(N, 2) log-softmax over (bound, unbound)");
    snprintf(key[k], 32, "deepmotif.version");
    snprintf(val[k++], 640, "%s", DM_VERSION_STRING);
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
    dm_export_model m;
    DM_TRY(export_model(&m, path, hp, tensors, n, params));
    torch_name names[DM_MAX_TENSORS];
    int nn = torch_names(&m, names);
    /* keys in name order, their data contiguous in the same order (the format forbids holes) */
    for (int i = 1; i < nn; i++)   /* insertion sort: a few dozen names */
        for (int j = i; j > 0 && strcmp(names[j - 1].key, names[j].key) > 0; j--) {
            torch_name x = names[j];
            names[j] = names[j - 1];
            names[j - 1] = x;
        }

    dm_buf h = {0};
    char key[N_META][32], val[N_META][640];
    int nm = meta_entries(&m, key, val);
    buf_cstr(&h, "{\"__metadata__\":{\"format\":\"pt\"");
    for (int i = 0; i < nm; i++) {
        buf_put(&h, ",", 1);
        json_str(&h, key[i]);
        buf_put(&h, ":", 1);
        json_str(&h, val[i]);
    }
    buf_put(&h, "}", 1);
    int64_t off = 0;
    for (int r = 0; r < nn; r++) {
        const dm_tensor_info *t = names[r].t;
        buf_put(&h, ",", 1);
        json_str(&h, names[r].key);
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
    for (int r = 0; r < nn; r++) {
        const dm_tensor_info *t = names[r].t;
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
    DTYPE_FLOAT = 1, DTYPE_INT64 = 7,
    VALUE_NAME = 1, VALUE_TYPE = 2,
    TYPE_TENSOR = 1, TYPE_TENSOR_ELEM = 1, TYPE_TENSOR_SHAPE = 2,
    SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2,
};

/* IR version 7 goes with opset 13 (onnx's versioning table). */
#define ONNX_IR_VERSION 7

/* ---- ONNX graph building ---------------------------------------------------------------------- */

/* One node under construction; its attributes are appended before node_end(). */
typedef struct onnx_node {
    dm_buf b;
} onnx_node;

static void node_begin(onnx_node *nd, const char *op, const char *const *in, int nin, const char *out) {
    nd->b = (dm_buf){0};
    for (int i = 0; i < nin; i++) pb_str(&nd->b, NODE_INPUT, in[i]);
    pb_str(&nd->b, NODE_OUTPUT, out);
    pb_str(&nd->b, NODE_NAME, out);     /* one output per node: its name names the node */
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

/* An initializer of nd dims: float element i is get(ctx, i), or int64 values i64 when get is NULL. */
typedef float (*elem_fn)(const void *ctx, int64_t i);
static void initializer(dm_buf *g, const char *name, const int64_t *dims, int nd, elem_fn get,
                        const void *ctx, const int64_t *i64) {
    dm_buf t = {0};
    int64_t numel = 1;
    for (int d = 0; d < nd; d++) {
        pb_int(&t, TENSOR_DIMS, dims[d]);
        numel *= dims[d];
    }
    pb_int(&t, TENSOR_DATA_TYPE, get ? DTYPE_FLOAT : DTYPE_INT64);
    pb_str(&t, TENSOR_NAME, name);
    dm_buf raw = {0};   /* raw_data: little-endian */
    for (int64_t i = 0; i < numel; i++) {
        if (get) {
            buf_f32le(&raw, get(ctx, i));
        } else {
            uint64_t u = (uint64_t)i64[i];
            for (int k = 0; k < 8; k++) {
                uint8_t c = (uint8_t)(u >> (8 * k));
                buf_put(&raw, &c, 1);
            }
        }
    }
    pb_msg(&t, TENSOR_RAW_DATA, &raw);
    pb_msg(g, GRAPH_INITIALIZER, &t);
}

/* A model tensor in torch's layout (conv weights (C_out, C_in, K)) under its torch name. */
typedef struct torch_src {
    const dm_export_model *m;
    const dm_tensor_info *t;
} torch_src;

static float torch_get(const void *ctx, int64_t i) {
    const torch_src *s = ctx;
    return torch_elem(s->m, s->t, i);
}

static void torch_initializer(dm_buf *g, const dm_export_model *m, const char *key, const dm_tensor_info *t) {
    int64_t dims[4] = {t->shape[0], t->shape[1], t->shape[2], 0};
    if (t->ndim == 3) { dims[1] = t->shape[2]; dims[2] = t->shape[1]; }
    torch_src s = {m, t};
    initializer(g, key, dims, t->ndim, torch_get, &s, NULL);
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

/* The graph's running value: its name and layout. */
typedef enum { LAY_NLC, LAY_NCL, LAY_LNC, LAY_NF } onnx_layout;

typedef struct onnx_graph {
    dm_buf g;
    const dm_export_model *m;
    char cur[48];
    onnx_layout lay;
    int seq;           /* counter for value names */
} onnx_graph;

/* A fresh value name "<base><seq>". */
static void fresh(onnx_graph *G, const char *base, char out[48]) { snprintf(out, 48, "%s%d", base, ++G->seq); }

static void emit1(onnx_graph *G, onnx_node *nd, const char *op, const char *const *in, int nin,
                  const char *base) {
    char out[48];
    fresh(G, base, out);
    node_begin(nd, op, in, nin, out);
    snprintf(G->cur, sizeof G->cur, "%s", out);
}

static void transpose(onnx_graph *G, const int64_t *perm, int n) {
    onnx_node nd;
    const char *in = G->cur;
    char src[48];
    snprintf(src, sizeof src, "%s", in);
    emit1(G, &nd, "Transpose", (const char *const[]){src}, 1, "transpose");
    attr_ints(&nd, "perm", perm, n);
    node_end(&G->g, &nd);
}

/* Brings the running value to layout `to` (NCL for Conv and MaxPool, LNC for the LSTM). */
static void relayout(onnx_graph *G, onnx_layout to) {
    if (G->lay == to) return;
    static const int64_t perm[3][3][3] = {
        /* from NLC */ {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}},
        /* from NCL */ {{0, 2, 1}, {0, 1, 2}, {2, 0, 1}},
        /* from LNC */ {{1, 0, 2}, {1, 2, 0}, {0, 1, 2}},
    };
    transpose(G, perm[G->lay][to], 3);
    G->lay = to;
}

/* Axis of the positions in the running value's layout. */
static int64_t time_axis(onnx_layout lay) { return lay == LAY_NLC ? 1 : (lay == LAY_NCL ? 2 : 0); }

static void emit_layer(onnx_graph *G, const ex_layer *y, int *conv_i) {
    const dm_export_model *m = G->m;
    dm_buf *g = &G->g;
    onnx_node nd;
    char in[48];
    switch (y->op) {
    case EX_CONV: {
        relayout(G, LAY_NCL);
        char w[64], b[64];
        snprintf(w, sizeof w, "convs.%d.weight", *conv_i);
        snprintf(b, sizeof b, "convs.%d.bias", (*conv_i)++);
        torch_initializer(g, m, w, find2(m, y->name, "weight"));
        torch_initializer(g, m, b, find2(m, y->name, "bias"));
        snprintf(in, sizeof in, "%s", G->cur);
        emit1(G, &nd, "Conv", (const char *const[]){in, w, b}, 3, "conv");
        attr_ints(&nd, "kernel_shape", (int64_t[]){y->k}, 1);
        attr_ints(&nd, "pads", (int64_t[]){y->pad, y->pad}, 2);
        attr_ints(&nd, "strides", (int64_t[]){1}, 1);
        attr_ints(&nd, "dilations", (int64_t[]){1}, 1);
        node_end(g, &nd);
        break;
    }
    case EX_RELU:
        snprintf(in, sizeof in, "%s", G->cur);
        emit1(G, &nd, "Relu", (const char *const[]){in}, 1, "relu");
        node_end(g, &nd);
        break;
    case EX_MAXPOOL:
        relayout(G, LAY_NCL);
        snprintf(in, sizeof in, "%s", G->cur);
        emit1(G, &nd, "MaxPool", (const char *const[]){in}, 1, "maxpool");
        attr_ints(&nd, "kernel_shape", (int64_t[]){y->k}, 1);
        attr_ints(&nd, "strides", (int64_t[]){y->k}, 1);   /* ceil_mode 0: floor, as the engine */
        node_end(g, &nd);
        break;
    case EX_DROPOUT:
        break;                                       /* eval mode: the identity */
    case EX_GMAX:
    case EX_MEAN: {
        snprintf(in, sizeof in, "%s", G->cur);
        bool mx = y->op == EX_GMAX;
        emit1(G, &nd, mx ? "ReduceMax" : "ReduceMean", (const char *const[]){in}, 1, mx ? "max" : "mean");
        attr_ints(&nd, "axes", (int64_t[]){time_axis(G->lay)}, 1);
        attr_int(&nd, "keepdims", 0);
        node_end(g, &nd);
        G->lay = LAY_NF;
        break;
    }
    case EX_BILSTM: {
        relayout(G, LAY_LNC);                        /* the LSTM's layout 0: (L, N, D) */
        const dm_tensor_info *wih[2] = {find2(m, y->name, "fwd.weight_ih"), find2(m, y->name, "bwd.weight_ih")};
        const dm_tensor_info *whh[2] = {find2(m, y->name, "fwd.weight_hh"), find2(m, y->name, "bwd.weight_hh")};
        const dm_tensor_info *bih[2] = {find2(m, y->name, "fwd.bias_ih"), find2(m, y->name, "bwd.bias_ih")};
        const dm_tensor_info *bhh[2] = {find2(m, y->name, "fwd.bias_hh"), find2(m, y->name, "bwd.bias_hh")};
        int64_t H = y->n, D = wih[0]->shape[1];
        const float *p = m->params;
        char W[64], R[64], B[64], S[64];
        snprintf(W, sizeof W, "%s.W", y->name);
        snprintf(R, sizeof R, "%s.R", y->name);
        snprintf(B, sizeof B, "%s.B", y->name);
        snprintf(S, sizeof S, "%s.shape", y->name);
        lstm_src w = {{{p + wih[0]->offset}, {p + wih[1]->offset}}, H, D, false};
        initializer(g, W, (int64_t[]){2, 4 * H, D}, 3, lstm_get, &w, NULL);
        lstm_src r = {{{p + whh[0]->offset}, {p + whh[1]->offset}}, H, H, false};
        initializer(g, R, (int64_t[]){2, 4 * H, H}, 3, lstm_get, &r, NULL);
        lstm_src b = {{{p + bih[0]->offset, p + bhh[0]->offset}, {p + bih[1]->offset, p + bhh[1]->offset}},
                      H, 1, true};
        initializer(g, B, (int64_t[]){2, 8 * H}, 2, lstm_get, &b, NULL);
        initializer(g, S, (int64_t[]){3}, 1, NULL, NULL, (int64_t[]){0, 0, -1});
        snprintf(in, sizeof in, "%s", G->cur);
        emit1(G, &nd, "LSTM", (const char *const[]){in, W, R, B}, 4, "lstm");
        attr_int(&nd, "hidden_size", H);
        attr_str(&nd, "direction", "bidirectional");
        node_end(g, &nd);                                          /* Y (L, 2, N, H) */
        transpose(G, (int64_t[]){0, 2, 1, 3}, 4);                  /* (L, N, 2, H) */
        snprintf(in, sizeof in, "%s", G->cur);
        emit1(G, &nd, "Reshape", (const char *const[]){in, S}, 2, "reshape");
        node_end(g, &nd);                                          /* (L, N, 2H) = [fwd, bwd] */
        G->lay = LAY_LNC;
        break;
    }
    case EX_DENSE: {
        char w[64], b[64];
        snprintf(w, sizeof w, "%s.weight", y->name);
        snprintf(b, sizeof b, "%s.bias", y->name);
        torch_initializer(g, m, w, find(m, w));
        torch_initializer(g, m, b, find(m, b));
        snprintf(in, sizeof in, "%s", G->cur);
        emit1(G, &nd, "Gemm", (const char *const[]){in, w, b}, 3, "dense");
        attr_int(&nd, "transB", 1);
        node_end(g, &nd);
        break;
    }
    case EX_LOGSOFTMAX:
        snprintf(in, sizeof in, "%s", G->cur);
        node_begin(&nd, "LogSoftmax", (const char *const[]){in}, 1, "logprob");
        snprintf(G->cur, sizeof G->cur, "logprob");
        attr_int(&nd, "axis", 1);
        node_end(g, &nd);
        break;
    }
}

/* ValueInfoProto of a float tensor (N, d1[, d2]), N symbolic. */
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
    dm_export_model m;
    DM_TRY(export_model(&m, path, hp, tensors, n, params));
    if (m.layers[m.n_layers - 1].op != EX_LOGSOFTMAX)
        return dm_error(DM_STATUS_ARG, "%s: the model does not end in log-softmax", path);
    onnx_graph G = {.m = &m, .cur = "x", .lay = LAY_NLC};
    char name[64];
    snprintf(name, sizeof name, "deepmotif_%s", dm_arch_name(hp->arch));
    pb_str(&G.g, GRAPH_NAME, name);
    value_info(&G.g, GRAPH_INPUT, "x", (int64_t[]){0, hp->len, 4}, 3);
    value_info(&G.g, GRAPH_OUTPUT, "logprob", (int64_t[]){0, 2}, 2);
    int conv_i = 0;
    for (int i = 0; i < m.n_layers; i++) emit_layer(&G, &m.layers[i], &conv_i);

    dm_buf b = {0};
    pb_int(&b, MODEL_IR_VERSION, ONNX_IR_VERSION);
    pb_str(&b, MODEL_PRODUCER_NAME, "deepmotif");
    pb_str(&b, MODEL_PRODUCER_VERSION, DM_VERSION_STRING);
    pb_str(&b, MODEL_DOC, "deepmotif model, eval mode: x (N, L, 4) one-hot ACGT -> logprob (N, 2) "
                          "= log-softmax over (bound, unbound)");
    pb_msg(&b, MODEL_GRAPH, &G.g);
    dm_buf op = {0};
    pb_str(&op, OPSET_DOMAIN, "");
    pb_int(&op, OPSET_VERSION, DM_EXPORT_ONNX_OPSET);
    pb_msg(&b, MODEL_OPSET_IMPORT, &op);
    char key[N_META][32], val[N_META][640];
    int nm = meta_entries(&m, key, val);
    for (int i = 0; i < nm; i++) {
        dm_buf e = {0};
        pb_str(&e, ENTRY_KEY, key[i]);
        pb_str(&e, ENTRY_VALUE, val[i]);
        pb_msg(&b, MODEL_METADATA, &e);
    }
    return buf_write(&b, path, "ONNX");
}
