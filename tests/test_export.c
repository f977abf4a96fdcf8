/*
 * test_export.c: the safetensors and ONNX writers (host/export.c) and `deepmotif export`.
 *
 * Each file is read back by a reader written here, independently of the writer: a small JSON parser
 * for the safetensors header and a protobuf field walker for ONNX. The parameters are random, every
 * value is compared exactly (the writers only move floats), conv weights after the documented
 * transpose (C_out, K, C_in) → (C_out, C_in, K) and the LSTM's gates in ONNX's order i, o, f, c. That
 * the ONNX graph computes the engine's forward pass is python/tests/test_export_onnx.py's job
 * (onnxruntime); here: its node sequence, attributes, wiring and initializers.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "export.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = dm_test_tmpdir(); cr_assert(dir); }
static void teardown(void) { dm_test_rmdir(dir); free(dir); }

TestSuite(export, .init = setup, .fini = teardown);

/* ---- the models ------------------------------------------------------------------------------- */

typedef struct test_model {
    dm_hparams hp;
    dm_tensor_info t[DM_MAX_TENSORS];
    int32_t n;
    int64_t np;
    float *params;
} test_model;

/* Small models of every architecture (and a second CNN with other widths, depth and pooling). */
static void make_model(test_model *m, int which) {
    dm_hparams *hp = &m->hp;
    switch (which) {
    case 0:
        dm_hparams_default(hp, DM_ARCH_CNN);
        hp->len = 40;
        hp->conv_channels = 6;
        break;
    case 1:
        dm_hparams_default(hp, DM_ARCH_CNN);
        hp->len = 33;
        hp->n_conv = 2;
        hp->conv_width[0] = 7;
        hp->conv_width[1] = 3;
        hp->pool = 3;
        hp->conv_channels = 5;
        break;
    case 2:
        dm_hparams_default(hp, DM_ARCH_RNN);
        hp->len = 20;
        hp->hidden = 5;
        break;
    default:
        dm_hparams_default(hp, DM_ARCH_CNNRNN);
        hp->len = 20;
        hp->conv_width[0] = 5;
        hp->conv_channels = 6;
        hp->hidden = 4;
        break;
    }
    m->n = dm_net_table(hp, m->t, &m->np);
    m->params = malloc(sizeof(float) * (size_t)m->np);
    cr_assert(m->params);
    dm_test_fill_uniform(m->params, (size_t)m->np, -1.0f, 1.0f, 9000 + (uint64_t)which);
}

#define N_MODELS 4

static const dm_tensor_info *tensor(const test_model *m, const char *name) {
    for (int32_t i = 0; i < m->n; i++)
        if (!strcmp(m->t[i].name, name)) return &m->t[i];
    cr_assert_fail("no tensor %s", name);
    return NULL;
}

/* The torch module's state_dict key of an engine tensor (export.h): conv<i> → convs.<i−1>, the two
 * LSTM directions → one bidirectional nn.LSTM (weight_ih_l0, ..._reverse), fc unchanged. */
static void torch_key(const char *name, char *key, size_t cap) {
    int i;
    char kind[32];
    if (sscanf(name, "conv%d.%31s", &i, kind) == 2) snprintf(key, cap, "convs.%d.%s", i - 1, kind);
    else if (sscanf(name, "lstm.fwd.%31s", kind) == 1) snprintf(key, cap, "lstm.%s_l0", kind);
    else if (sscanf(name, "lstm.bwd.%31s", kind) == 1) snprintf(key, cap, "lstm.%s_l0_reverse", kind);
    else snprintf(key, cap, "%s", name);
}

/* The engine tensor behind a torch key (the inverse of torch_key), or NULL. */
static const dm_tensor_info *tensor_of_key(const test_model *m, const char *key) {
    char k[64];
    for (int32_t i = 0; i < m->n; i++) {
        torch_key(m->t[i].name, k, sizeof k);
        if (!strcmp(k, key)) return &m->t[i];
    }
    return NULL;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    cr_assert(p);
    cr_assert_eq(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    p[len] = 0;
    *n = (size_t)len;
    return p;
}

static float f32le(const uint8_t *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

/* ---- a small JSON parser (what a safetensors header holds: objects, arrays, strings, integers) - */

typedef enum { J_OBJ, J_ARR, J_STR, J_NUM } jtype;
typedef struct jnode {
    jtype type;
    char *key;              /* member name inside an object */
    char *str;              /* J_STR */
    long long num;          /* J_NUM, truncated */
    double dnum;            /* J_NUM */
    struct jnode *kids;     /* J_OBJ, J_ARR */
    int n_kids;
} jnode;

static void jws(const char **p) { while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r') (*p)++; }

static char *jstring(const char **p) {
    cr_assert_eq(**p, '"', "JSON: string expected at '%.20s'", *p);
    (*p)++;
    char *s = malloc(strlen(*p) + 1);
    size_t k = 0;
    while (**p && **p != '"') {
        if (**p == '\\') (*p)++;
        s[k++] = *(*p)++;
    }
    cr_assert_eq(**p, '"', "JSON: unterminated string");
    (*p)++;
    s[k] = 0;
    return s;
}

static void jvalue(const char **p, jnode *out) {
    jws(p);
    memset(out, 0, sizeof *out);
    if (**p == '{' || **p == '[') {
        bool obj = **p == '{';
        char close = obj ? '}' : ']';
        out->type = obj ? J_OBJ : J_ARR;
        (*p)++;
        jws(p);
        while (**p != close) {
            out->kids = realloc(out->kids, sizeof(jnode) * (size_t)(out->n_kids + 1));
            jnode *k = &out->kids[out->n_kids++];
            char *key = NULL;
            if (obj) {
                key = jstring(p);
                jws(p);
                cr_assert_eq(**p, ':', "JSON: ':' expected");
                (*p)++;
            }
            jvalue(p, k);
            k->key = key;
            jws(p);
            if (**p == ',') { (*p)++; jws(p); }
            else cr_assert_eq(**p, close, "JSON: ',' or '%c' expected at '%.20s'", close, *p);
        }
        (*p)++;
    } else if (**p == '"') {
        out->type = J_STR;
        out->str = jstring(p);
    } else {
        char *end;
        out->type = J_NUM;
        out->dnum = strtod(*p, &end);
        out->num = (long long)out->dnum;
        cr_assert(end != *p, "JSON: value expected at '%.20s'", *p);
        *p = end;
    }
}

static void jfree(jnode *j) {
    for (int i = 0; i < j->n_kids; i++) jfree(&j->kids[i]);
    free(j->kids);
    free(j->key);
    free(j->str);
}

static const jnode *jget(const jnode *o, const char *key) {
    for (int i = 0; o->type == J_OBJ && i < o->n_kids; i++)
        if (!strcmp(o->kids[i].key, key)) return &o->kids[i];
    return NULL;
}

/* ---- safetensors ------------------------------------------------------------------------------ */

/* Checks the file against the model: header, keys, shapes, contiguous offsets, every value. */
static void check_safetensors(const char *path, const test_model *m) {
    size_t len;
    uint8_t *f = slurp(path, &len);
    cr_assert_geq(len, 8);
    uint64_t hn = 0;
    for (int i = 0; i < 8; i++) hn |= (uint64_t)f[i] << (8 * i);
    cr_assert_leq(8 + hn, len, "header length %llu beyond the file", (unsigned long long)hn);
    cr_assert_eq(hn % 8, 0, "data not 8-byte aligned");
    cr_assert_eq(f[8], '{');
    char *hdr = malloc(hn + 1);
    memcpy(hdr, f + 8, hn);
    hdr[hn] = 0;
    const char *p = hdr;
    jnode root;
    jvalue(&p, &root);
    jws(&p);
    cr_assert_eq(*p, 0, "trailing bytes after the header JSON: '%.20s'", p);
    cr_assert_eq(root.type, J_OBJ);
    cr_assert_eq(root.n_kids, m->n + 1, "%d keys for %d tensors + __metadata__", root.n_kids, m->n);

    const jnode *meta = jget(&root, "__metadata__");
    cr_assert(meta && meta->type == J_OBJ);
    for (int i = 0; i < meta->n_kids; i++) cr_assert_eq(meta->kids[i].type, J_STR, "metadata values are strings");
    /* the hyper-parameters as JSON with the Python package's keys */
    const char *hj = jget(meta, "deepmotif.hparams")->str;
    jnode hpj;
    jvalue(&hj, &hpj);
    cr_assert_str_eq(jget(&hpj, "arch")->str, dm_arch_name(m->hp.arch));
    cr_assert_eq(jget(&hpj, "length")->num, m->hp.len);
    cr_assert_eq(jget(&hpj, "hidden")->num, m->hp.hidden);
    cr_assert_eq(jget(&hpj, "pool")->num, m->hp.pool);
    cr_assert_eq(jget(&hpj, "conv_channels")->num, m->hp.conv_channels);
    const jnode *cw = jget(&hpj, "conv_width");
    cr_assert_eq(cw->n_kids, m->hp.arch == DM_ARCH_RNN ? 0 : (m->hp.arch == DM_ARCH_CNN ? m->hp.n_conv : 1));
    for (int i = 0; i < cw->n_kids; i++) cr_assert_eq(cw->kids[i].num, m->hp.conv_width[i]);
    cr_assert_eq((float)jget(&hpj, "dropout")->dnum, m->hp.dropout, "dropout written with 9 digits");
    jfree(&hpj);
    cr_assert(jget(meta, "deepmotif.layers") && jget(meta, "deepmotif.module"));

    /* offsets: every tensor's [begin, end) of 4·numel bytes; sorted, they tile the data exactly */
    int64_t data_len = (int64_t)(len - 8 - hn);
    int64_t covered = 0, *begin = calloc((size_t)m->n, sizeof *begin);
    for (int32_t i = 0; i < m->n; i++) {
        const dm_tensor_info *t = &m->t[i];
        char key[64];
        torch_key(t->name, key, sizeof key);
        const jnode *e = jget(&root, key);
        cr_assert(e && e->type == J_OBJ, "no entry %s for %s", key, t->name);
        cr_assert_str_eq(jget(e, "dtype")->str, "F32");
        const jnode *shape = jget(e, "shape"), *off = jget(e, "data_offsets");
        cr_assert_eq(shape->n_kids, t->ndim, "%s: rank", t->name);
        int64_t ts[3] = {t->shape[0], t->shape[1], t->shape[2]};
        if (t->ndim == 3) { ts[1] = t->shape[2]; ts[2] = t->shape[1]; }   /* torch (C_out, C_in, K) */
        for (int d = 0; d < t->ndim; d++) cr_assert_eq(shape->kids[d].num, ts[d], "%s: dim %d", t->name, d);
        cr_assert_eq(off->n_kids, 2);
        begin[i] = off->kids[0].num;
        cr_assert_eq(off->kids[1].num - off->kids[0].num, 4 * t->numel, "%s: byte count", t->name);
        covered += 4 * t->numel;
        /* the values */
        const uint8_t *d = f + 8 + hn + begin[i];
        cr_assert_leq(begin[i] + 4 * t->numel, data_len);
        const float *v = m->params + t->offset;
        for (int64_t o = 0; o < t->shape[0]; o++)
            for (int64_t a = 0; a < (t->ndim > 1 ? ts[1] : 1); a++)
                for (int64_t b = 0; b < (t->ndim > 2 ? ts[2] : 1); b++) {
                    int64_t flat = (o * (t->ndim > 1 ? ts[1] : 1) + a) * (t->ndim > 2 ? ts[2] : 1) + b;
                    /* canonical index: conv w[o, k = b, c = a]; others the same flat index */
                    int64_t src = t->ndim == 3 ? (o * t->shape[1] + b) * t->shape[2] + a : flat;
                    cr_assert_eq(f32le(d + 4 * flat), v[src], "%s[%lld]", t->name, (long long)flat);
                }
    }
    cr_assert_eq(covered, data_len, "data section %lld bytes, tensors %lld", (long long)data_len,
                 (long long)covered);
    /* no overlap: with sizes summing to the data length, distinct sorted begins tile it */
    for (int32_t i = 0; i < m->n; i++)
        for (int32_t j = 0; j < m->n; j++)
            if (i != j && begin[i] <= begin[j])
                cr_assert_leq(begin[i] + 4 * m->t[i].numel, begin[j], "%s overlaps %s", m->t[i].name, m->t[j].name);
    free(begin);
    jfree(&root);
    free(hdr);
    free(f);
}

Test(export, safetensors_reads_back_every_architecture) {
    for (int w = 0; w < N_MODELS; w++) {
        test_model m;
        make_model(&m, w);
        char path[512];
        snprintf(path, sizeof path, "%s/m%d.safetensors", dir, w);
        cr_assert_eq(dm_export_safetensors(path, &m.hp, m.t, m.n, m.params), DM_STATUS_OK, "%s", dm_last_error());
        check_safetensors(path, &m);
        free(m.params);
    }
}

/* ---- a protobuf field walker ------------------------------------------------------------------ */

typedef struct pbf {
    int field, wire;
    uint64_t v;             /* varint / fixed32 */
    const uint8_t *p;       /* length-delimited */
    size_t n;
} pbf;

static uint64_t varint(const uint8_t **c, const uint8_t *end) {
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        cr_assert(*c < end, "protobuf: truncated varint");
        uint8_t b = *(*c)++;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) return v;
    }
    cr_assert_fail("protobuf: varint too long");
    return 0;
}

/* Next field of the message [*c, end); false at its end. */
static bool pb_next(const uint8_t **c, const uint8_t *end, pbf *f) {
    if (*c >= end) return false;
    uint64_t key = varint(c, end);
    f->field = (int)(key >> 3);
    f->wire = (int)(key & 7);
    cr_assert(f->field > 0, "protobuf: field 0");
    switch (f->wire) {
    case 0: f->v = varint(c, end); break;
    case 2:
        f->n = varint(c, end);
        cr_assert_leq(f->n, (size_t)(end - *c), "protobuf: length beyond the message");
        f->p = *c;
        *c += f->n;
        break;
    case 5:
        cr_assert_leq(4, end - *c);
        f->v = (uint64_t)(*c)[0] | (uint64_t)(*c)[1] << 8 | (uint64_t)(*c)[2] << 16 | (uint64_t)(*c)[3] << 24;
        *c += 4;
        break;
    default: cr_assert_fail("protobuf: wire type %d", f->wire);
    }
    return true;
}

/* The k-th (0-based) occurrence of field `field` in the message (p, n); false if absent. */
static bool pb_find(const uint8_t *p, size_t n, int field, int k, pbf *out) {
    const uint8_t *c = p, *end = p + n;
    pbf f;
    while (pb_next(&c, end, &f))
        if (f.field == field && k-- == 0) { *out = f; return true; }
    return false;
}

static int pb_count(const uint8_t *p, size_t n, int field) {
    const uint8_t *c = p, *end = p + n;
    pbf f;
    int k = 0;
    while (pb_next(&c, end, &f)) k += f.field == field;
    return k;
}

/* String field as a NUL-terminated copy in buf. */
static const char *pb_string(const pbf *f, char *buf, size_t cap) {
    cr_assert_eq(f->wire, 2);
    cr_assert_lt(f->n, cap);
    memcpy(buf, f->p, f->n);
    buf[f->n] = 0;
    return buf;
}

/* ---- ONNX ------------------------------------------------------------------------------------- */

/* onnx.proto field numbers, written out again here so a wrong number in the writer shows up */
enum { M_IR = 1, M_GRAPH = 7, M_OPSET = 8, G_NODE = 1, G_INIT = 5, G_INPUT = 11, G_OUTPUT = 12,
       N_IN = 1, N_OUT = 2, N_OP = 4, N_ATTR = 5, A_NAME = 1, A_I = 3, A_S = 4, A_INTS = 8, A_TYPE = 20,
       T_DIMS = 1, T_TYPE = 2, T_NAME = 8, T_RAW = 9 };

typedef struct onnx_tensor {
    char name[64];
    int64_t dims[4];
    int nd;
    int type;               /* 1 FLOAT, 7 INT64 */
    const uint8_t *raw;
    size_t raw_n;
} onnx_tensor;

static void read_initializer(const pbf *f, onnx_tensor *t) {
    memset(t, 0, sizeof *t);
    const uint8_t *c = f->p, *end = f->p + f->n;
    pbf x;
    while (pb_next(&c, end, &x)) {
        if (x.field == T_DIMS) { cr_assert_lt(t->nd, 4); t->dims[t->nd++] = (int64_t)x.v; }
        if (x.field == T_TYPE) t->type = (int)x.v;
        if (x.field == T_NAME) pb_string(&x, t->name, sizeof t->name);
        if (x.field == T_RAW) { t->raw = x.p; t->raw_n = x.n; }
    }
    int64_t numel = 1;
    for (int d = 0; d < t->nd; d++) numel *= t->dims[d];
    cr_assert(t->type == 1 || t->type == 7, "%s: type %d", t->name, t->type);
    int64_t size = t->type == 1 ? 4 : 8;
    cr_assert_eq((int64_t)t->raw_n, size * numel, "%s: raw_data %zu bytes for %lld values", t->name, t->raw_n,
                 (long long)numel);
}

/* The attribute `name` of node (p, n): its ints (A_INTS, or the single A_I) into v; returns the count,
 * −1 when absent. For a string attribute, s receives it. */
static int node_attr(const pbf *node, const char *name, int64_t *v, char *s) {
    pbf a;
    for (int k = 0; pb_find(node->p, node->n, N_ATTR, k, &a); k++) {
        pbf nm;
        char buf[64];
        cr_assert(pb_find(a.p, a.n, A_NAME, 0, &nm));
        if (strcmp(pb_string(&nm, buf, sizeof buf), name)) continue;
        pbf x;
        cr_assert(pb_find(a.p, a.n, A_TYPE, 0, &x), "attribute %s without type", name);
        if (x.v == 2) { cr_assert(pb_find(a.p, a.n, A_I, 0, &x)); v[0] = (int64_t)x.v; return 1; }
        if (x.v == 3) { cr_assert(pb_find(a.p, a.n, A_S, 0, &x)); pb_string(&x, s, 64); return 1; }
        cr_assert_eq(x.v, 7, "attribute %s: type %d", name, (int)x.v);
        int c = 0;
        while (pb_find(a.p, a.n, A_INTS, c, &x)) v[c++] = (int64_t)x.v;
        return c;
    }
    return -1;
}

/* The op sequence each architecture's graph must have. */
static void expected_ops(const dm_hparams *hp, const char **ops, int *n) {
    int k = 0;
    if (hp->arch != DM_ARCH_RNN) {
        ops[k++] = "Transpose";
        int nc = hp->arch == DM_ARCH_CNN ? hp->n_conv : 1;
        for (int i = 0; i < nc; i++) {
            ops[k++] = "Conv";
            ops[k++] = "Relu";
            if (hp->arch == DM_ARCH_CNN && i < nc - 1 && hp->pool > 1) ops[k++] = "MaxPool";
        }
    }
    if (hp->arch == DM_ARCH_CNN) {
        ops[k++] = "ReduceMax";
    } else {
        ops[k++] = "Transpose";   /* to (L, N, D) */
        ops[k++] = "LSTM";
        ops[k++] = "Transpose";   /* (L, 2, N, H) to (L, N, 2, H) */
        ops[k++] = "Reshape";     /* (L, N, 2H) */
        ops[k++] = "ReduceMean";
    }
    ops[k++] = "Gemm";
    ops[k++] = "LogSoftmax";
    *n = k;
}

static void check_onnx(const char *path, const test_model *m) {
    size_t len;
    uint8_t *f = slurp(path, &len);
    pbf x, graph;
    cr_assert(pb_find(f, len, M_IR, 0, &x));
    cr_assert_eq(x.v, 7, "IR version %d (opset 13 goes with IR 7)", (int)x.v);
    cr_assert(pb_find(f, len, M_OPSET, 0, &x));
    pbf ver;
    cr_assert(pb_find(x.p, x.n, 2, 0, &ver));
    cr_assert_eq(ver.v, DM_EXPORT_ONNX_OPSET);
    cr_assert(pb_find(f, len, M_GRAPH, 0, &graph));
    char buf[64], s[64];
    int64_t v[8];

    /* input "x" and output "logprob" */
    cr_assert(pb_find(graph.p, graph.n, G_INPUT, 0, &x));
    cr_assert(pb_find(x.p, x.n, 1, 0, &x));
    cr_assert_str_eq(pb_string(&x, buf, sizeof buf), "x");
    cr_assert(pb_find(graph.p, graph.n, G_OUTPUT, 0, &x));
    cr_assert(pb_find(x.p, x.n, 1, 0, &x));
    cr_assert_str_eq(pb_string(&x, buf, sizeof buf), "logprob");

    /* initializers */
    int n_init = pb_count(graph.p, graph.n, G_INIT);
    onnx_tensor *init = calloc((size_t)n_init, sizeof *init);
    for (int i = 0; i < n_init; i++) {
        cr_assert(pb_find(graph.p, graph.n, G_INIT, i, &x));
        read_initializer(&x, &init[i]);
    }

    /* nodes: the op sequence; every input is x, an initializer or an earlier node's output */
    const char *want_ops[64];
    int n_want;
    expected_ops(&m->hp, want_ops, &n_want);
    int n_nodes = pb_count(graph.p, graph.n, G_NODE);
    cr_assert_eq(n_nodes, n_want, "%s: %d nodes, expected %d", dm_arch_name(m->hp.arch), n_nodes, n_want);
    char (*avail)[64] = calloc((size_t)(n_init + n_nodes + 1), 64);
    int n_avail = 0;
    snprintf(avail[n_avail++], 64, "x");
    for (int i = 0; i < n_init; i++) snprintf(avail[n_avail++], 64, "%s", init[i].name);
    int conv_i = 0;
    for (int k = 0; k < n_nodes; k++) {
        pbf node;
        cr_assert(pb_find(graph.p, graph.n, G_NODE, k, &node));
        cr_assert(pb_find(node.p, node.n, N_OP, 0, &x));
        const char *op = pb_string(&x, s, sizeof s);
        cr_assert_str_eq(op, want_ops[k], "node %d", k);
        for (int j = 0; pb_find(node.p, node.n, N_IN, j, &x); j++) {
            pb_string(&x, buf, sizeof buf);
            bool found = false;
            for (int a = 0; a < n_avail && !found; a++) found = !strcmp(avail[a], buf);
            cr_assert(found, "node %d (%s): input %s is not defined before it", k, op, buf);
        }
        cr_assert_eq(pb_count(node.p, node.n, N_OUT), 1);
        cr_assert(pb_find(node.p, node.n, N_OUT, 0, &x));
        pb_string(&x, avail[n_avail++], 64);
        if (k == n_nodes - 1) cr_assert_str_eq(avail[n_avail - 1], "logprob");

        if (!strcmp(op, "Conv")) {
            int K = m->hp.conv_width[conv_i++];
            int pad = m->hp.arch == DM_ARCH_CNNRNN ? (K - 1) / 2 : 0;
            cr_assert_eq(node_attr(&node, "kernel_shape", v, s), 1);
            cr_assert_eq(v[0], K);
            cr_assert_eq(node_attr(&node, "pads", v, s), 2);
            cr_assert(v[0] == pad && v[1] == pad, "conv%d pads %lld %lld, expected %d", conv_i,
                      (long long)v[0], (long long)v[1], pad);
        }
        if (!strcmp(op, "MaxPool")) {
            cr_assert_eq(node_attr(&node, "kernel_shape", v, s), 1);
            cr_assert_eq(v[0], m->hp.pool);
            cr_assert_eq(node_attr(&node, "strides", v, s), 1);
            cr_assert_eq(v[0], m->hp.pool);
            cr_assert(node_attr(&node, "ceil_mode", v, s) < 0 || v[0] == 0, "floor pooling");
        }
        if (!strcmp(op, "LSTM")) {
            cr_assert_eq(node_attr(&node, "hidden_size", v, s), 1);
            cr_assert_eq(v[0], m->hp.hidden);
            cr_assert_eq(node_attr(&node, "direction", v, s), 1);
            cr_assert_str_eq(s, "bidirectional");
        }
        if (!strcmp(op, "Gemm")) {
            cr_assert_eq(node_attr(&node, "transB", v, s), 1);
            cr_assert_eq(v[0], 1);
        }
        if (!strcmp(op, "ReduceMax") || !strcmp(op, "ReduceMean")) {
            cr_assert_eq(node_attr(&node, "axes", v, s), 1);
            /* positions: axis 2 of (N, C, L) after the convolutions, axis 0 of the LSTM's (L, N, 2H) */
            cr_assert_eq(v[0], !strcmp(op, "ReduceMax") ? 2 : 0, "%s over the positions' axis", op);
            cr_assert_eq(node_attr(&node, "keepdims", v, s), 1);
            cr_assert_eq(v[0], 0);
        }
    }

    /* initializer values: conv and fc in torch's layout, the LSTM re-ordered to gates i, o, f, c */
    int H = m->hp.hidden;
    for (int i = 0; i < n_init; i++) {
        const onnx_tensor *t = &init[i];
        if (!strcmp(t->name, "lstm.shape")) {   /* Reshape's target (0, 0, −1): keep L and N */
            cr_assert(t->type == 7 && t->nd == 1 && t->dims[0] == 3);
            int64_t want[3] = {0, 0, -1};
            for (int k = 0; k < 3; k++) {
                int64_t got = 0;
                for (int b = 0; b < 8; b++) got |= (int64_t)((uint64_t)t->raw[8 * k + b] << (8 * b));
                cr_assert_eq(got, want[k]);
            }
        } else if (!strncmp(t->name, "lstm.", 5)) {
            cr_assert_eq(t->type, 1);
            bool bias = !strcmp(t->name, "lstm.B");
            cr_assert(bias || !strcmp(t->name, "lstm.W") || !strcmp(t->name, "lstm.R"), "%s", t->name);
            const char *w = !strcmp(t->name, "lstm.W") ? "weight_ih" : "weight_hh";
            const dm_tensor_info *src[2][2];
            for (int d = 0; d < 2; d++)
                for (int r = 0; r < 2; r++) {
                    char nm[64];
                    snprintf(nm, sizeof nm, "lstm.%s.%s", d ? "bwd" : "fwd",
                             bias ? (r ? "bias_hh" : "bias_ih") : w);
                    src[d][r] = tensor(m, nm);
                }
            int64_t cols = bias ? 1 : src[0][0]->shape[1];
            cr_assert_eq(t->nd, bias ? 2 : 3, "%s rank", t->name);
            cr_assert_eq(t->dims[0], 2);
            cr_assert_eq(t->dims[1], (bias ? 8 : 4) * H);
            if (!bias) cr_assert_eq(t->dims[2], cols);
            static const char onnx_gates[] = "iofc", torch_gates[] = "ifgo";   /* c is torch's g */
            for (int d = 0; d < 2; d++)
                for (int r = 0; r < (bias ? 2 : 1); r++)
                    for (int g = 0; g < 4; g++) {
                        char tg = onnx_gates[g] == 'c' ? 'g' : onnx_gates[g];
                        int sg = (int)(strchr(torch_gates, tg) - torch_gates);
                        for (int j = 0; j < H; j++)
                            for (int64_t c = 0; c < cols; c++) {
                                int64_t o = (((int64_t)d * (bias ? 8 : 4) * H + r * 4 * H + g * H + j)) * cols + c;
                                float want = m->params[src[d][r]->offset + ((int64_t)sg * H + j) * cols + c];
                                cr_assert_eq(f32le(t->raw + 4 * o), want, "%s[%lld]", t->name, (long long)o);
                            }
                    }
        } else {
            cr_assert_eq(t->type, 1);
            const dm_tensor_info *src = tensor_of_key(m, t->name);
            cr_assert(src, "initializer %s is no model tensor", t->name);
            cr_assert_eq(t->nd, src->ndim, "%s rank", t->name);
            for (int64_t e = 0; e < src->numel; e++) {
                int64_t want = e;
                if (src->ndim == 3) {   /* onnx (C_out, C_in, K) from canonical (C_out, K, C_in) */
                    int64_t K = src->shape[1], Ci = src->shape[2];
                    cr_assert(t->dims[1] == Ci && t->dims[2] == K, "%s dims", t->name);
                    want = (e / (Ci * K) * K + e % K) * Ci + e / K % Ci;
                }
                cr_assert_eq(f32le(t->raw + 4 * e), m->params[src->offset + want], "%s[%lld]", t->name,
                             (long long)e);
            }
        }
    }
    int want_init = m->hp.arch == DM_ARCH_CNN ? 2 * m->hp.n_conv + 2 : (m->hp.arch == DM_ARCH_RNN ? 6 : 8);
    cr_assert_eq(n_init, want_init, "%d initializers", n_init);
    free(avail);
    free(init);
    free(f);
}

Test(export, onnx_graph_and_initializers_every_architecture) {
    for (int w = 0; w < N_MODELS; w++) {
        test_model m;
        make_model(&m, w);
        char path[512];
        snprintf(path, sizeof path, "%s/m%d.onnx", dir, w);
        cr_assert_eq(dm_export_onnx(path, &m.hp, m.t, m.n, m.params), DM_STATUS_OK, "%s", dm_last_error());
        check_onnx(path, &m);
        free(m.params);
    }
}

/* ---- bad input -------------------------------------------------------------------------------- */

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

Test(export, inconsistent_table_or_bad_path_leaves_nothing) {
    test_model m;
    make_model(&m, 3);
    char path[512];
    snprintf(path, sizeof path, "%s/bad.onnx", dir);
    /* a table whose LSTM does not match the hyper-parameters */
    m.hp.hidden = 7;
    cr_assert_eq(dm_export_onnx(path, &m.hp, m.t, m.n, m.params), DM_STATUS_ARG);
    cr_assert(strstr(dm_last_error(), "wrong shape"), "%s", dm_last_error());
    cr_assert(strstr(dm_last_error(), path), "the message names the file: %s", dm_last_error());
    cr_assert_eq(dm_export_safetensors(path, &m.hp, m.t, m.n, m.params), DM_STATUS_ARG);
    m.hp.hidden = 4;
    /* a missing tensor */
    cr_assert_eq(dm_export_safetensors(path, &m.hp, m.t, m.n - 1, m.params), DM_STATUS_ARG);
    cr_assert(!exists(path));
    /* an even conv width the CNN-RNN cannot pad to the same length */
    m.hp.conv_width[0] = 4;
    int32_t n = dm_net_table(&m.hp, m.t, &m.np);
    cr_assert_eq(dm_export_onnx(path, &m.hp, m.t, n, m.params), DM_STATUS_ARG);
    cr_assert(!exists(path));
    m.hp.conv_width[0] = 5;
    m.n = dm_net_table(&m.hp, m.t, &m.np);
    /* a folder that does not exist */
    snprintf(path, sizeof path, "%s/no/such/dir/m.safetensors", dir);
    cr_assert_eq(dm_export_safetensors(path, &m.hp, m.t, m.n, m.params), DM_STATUS_IO);
    free(m.params);
}

/* ---- the command ------------------------------------------------------------------------------ */

static int cli(const char *args) {
    return dm_test_system("OPENBLAS_NUM_THREADS=1 %s export %s > %s/out 2> %s/err", DM_TEST_CLI, args, dir,
                          dir);
}

static char *err_text(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/err", dir);
    size_t n;
    return (char *)slurp(p, &n);
}

Test(export, cli_writes_both_formats_and_rejects_bad_input) {
    test_model m;
    make_model(&m, 2);
    char model[512], out[512], args[2048];
    snprintf(model, sizeof model, "%s/rnn.dm", dir);
    static dm_provenance prov;
    cr_assert_eq(dm_checkpoint_save(model, &m.hp, m.t, m.n, m.params, m.np, &prov, NULL), DM_STATUS_OK);

    snprintf(out, sizeof out, "%s/rnn.safetensors", dir);
    snprintf(args, sizeof args, "--model %s --format safetensors --out %s", model, out);
    cr_assert_eq(cli(args), 0);
    check_safetensors(out, &m);
    snprintf(out, sizeof out, "%s/rnn.onnx", dir);
    snprintf(args, sizeof args, "--model=%s --format=onnx --out=%s", model, out);
    cr_assert_eq(cli(args), 0);
    check_onnx(out, &m);

    /* usage errors: exit 2, naming the choices */
    snprintf(out, sizeof out, "%s/x.pt", dir);
    snprintf(args, sizeof args, "--model %s --format pt --out %s", model, out);
    cr_assert_eq(cli(args), 2);
    char *e = err_text();
    cr_assert(strstr(e, "safetensors, onnx"), "%s", e);
    free(e);
    cr_assert(!exists(out));
    snprintf(args, sizeof args, "--model %s --out %s", model, out);
    cr_assert_eq(cli(args), 2);
    cr_assert_eq(cli("--bogus 1"), 2);
    cr_assert_eq(cli("--help"), 0);

    /* a corrupt model: one line naming it, exit 1, nothing written */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.dm", dir);
    FILE *f = fopen(bad, "wb");
    fputs("not a model\n", f);
    fclose(f);
    snprintf(out, sizeof out, "%s/bad.onnx", dir);
    snprintf(args, sizeof args, "--model %s --format onnx --out %s", bad, out);
    cr_assert_eq(cli(args), 1);
    e = err_text();
    cr_assert(strstr(e, bad), "%s", e);
    cr_assert_eq(strchr(e, '\n'), strrchr(e, '\n'), "one line: %s", e);
    free(e);
    cr_assert(!exists(out));
    free(m.params);
}
