/*
 * api.c: the public handles of deepmotif.h: backends (dm_backend_open) and the backend-free
 * dm_model (hyper-parameters, host parameters, provenance), with loading, saving, tensors by name
 * and provenance as JSON. The computations over a model are in api_run.c.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "predavg.h"
#include "backend.h"

/* ---- backends ----------------------------------------------------------------------------- */

static dm_status open_cuda(int device, int spec_given, dm_backend **out) {
    dm_status s = dm_backend_cuda_create(out, device);
    if (s != DM_STATUS_OK && spec_given && strncmp(dm_last_error(), "cuda:", 5) != 0) {
        char why[900];
        snprintf(why, sizeof why, "%s", dm_last_error());
        return dm_error(s, "cuda:%d: %s", device, why);
    }
    return s;
}

dm_status dm_backend_open(const char *spec, int threads, dm_backend **out) {
    if (!out) return dm_error(DM_STATUS_ARG, "dm_backend_open: out is NULL");
    *out = NULL;
    if (!spec) spec = "auto";
    dm_backend *be = NULL;
    if (!strcmp(spec, "cuda") || !strncmp(spec, "cuda:", 5)) {
        int device = 0;
        if (spec[4] == ':') {
            char *end;
            long d = strtol(spec + 5, &end, 10);
            if (end == spec + 5 || *end || d < 0 || d > 1023)
                return dm_error(DM_STATUS_ARG, "backend '%s': the device must be cuda:N with N a device number", spec);
            device = (int)d;
        }
        DM_TRY(open_cuda(device, 1, &be));
    } else if (!strcmp(spec, "cpu-reproducible")) {   /* fixed-order kernels: the same bits on any CPU */
        be = dm_backend_cpu_reproducible_create(threads);
        if (!be) return dm_error(DM_STATUS_NOMEM, "cannot create the CPU backend");
    } else if (!strcmp(spec, "auto")) {
        if (dm_backend_cuda_built() && dm_backend_cuda_create(&be, 0) != DM_STATUS_OK) be = NULL;
    } else if (strcmp(spec, "cpu") != 0) {
        return dm_error(DM_STATUS_ARG, "backend '%s': expected auto, cpu, cpu-reproducible, cuda or cuda:N", spec);
    }
    if (!be) {
        be = dm_backend_cpu_create(threads);
        if (!be) return dm_error(DM_STATUS_NOMEM, "cannot create the CPU backend");
    }
    if (be->device[0]) snprintf(be->label, sizeof be->label, "%s", be->device);
    else if (!be->label[0]) snprintf(be->label, sizeof be->label, "cpu: %.150s, %d threads", dm_cpu_name(), be->n_threads);
    *out = be;
    return DM_STATUS_OK;
}

const char *dm_backend_name(const dm_backend *be) {
    if (!be) return "";
    return be->label[0] ? be->label : be->name;
}

/* ---- models ------------------------------------------------------------------------------- */

static dm_status model_alloc(dm_model **out, const dm_hparams *hp) {
    dm_model *m = calloc(1, sizeof *m);
    if (!m) return dm_error(DM_STATUS_NOMEM, "model: out of memory");
    m->prov = calloc(1, sizeof *m->prov);
    if (!m->prov) {
        free(m);
        return dm_error(DM_STATUS_NOMEM, "model: out of memory");
    }
    m->hp = *hp;
    m->x.n_members = 1;
    m->n_tensors = dm_net_table(hp, m->tensors, &m->n_params);
    *out = m;
    return DM_STATUS_OK;
}

void dm_model_free(dm_model *m) {
    if (!m) return;
    free(m->params);
    free(m->prov);
    free(m->json);
    dm_ckpt_extra_free(&m->x);
    free(m);
}

/* The provenance of a model that has not been trained. */
static void fresh_provenance(dm_provenance *p, uint64_t seed) {
    memset(p, 0, sizeof *p);
    snprintf(p->version, sizeof p->version, "%s", dm_version());
    snprintf(p->protocol, sizeof p->protocol, "none");
    snprintf(p->label, sizeof p->label, "init");
    dm_utc_now(p->created_utc);
    p->seed = seed;
    p->test_auroc = p->test_auprc = p->test_accuracy = NAN;
}

dm_status dm_model_create(dm_model **out, const dm_hparams *hp, uint64_t seed) {
    if (!out || !hp) return dm_error(DM_STATUS_ARG, "dm_model_create: NULL argument");
    *out = NULL;
    /* the engine checks the shapes and draws the initial weights; a one-thread CPU backend holds it */
    dm_backend *be = dm_backend_cpu_create(1);
    if (!be) return dm_error(DM_STATUS_NOMEM, "cannot create the CPU backend");
    dm_net *net = NULL;
    dm_model *m = NULL;
    dm_status s = dm_net_create(&net, hp, be, 1);
    if (!s) s = dm_net_init_params(net, seed);
    if (!s) s = model_alloc(&m, hp);
    if (!s && !(m->params = malloc(sizeof(float) * (size_t)m->n_params)))
        s = dm_error(DM_STATUS_NOMEM, "model: out of memory");
    if (!s) s = dm_net_get_params(net, m->params);
    dm_net_free(net);
    dm_backend_free(be);
    if (s) {
        dm_model_free(m);
        return s;
    }
    fresh_provenance(m->prov, seed);
    *out = m;
    return DM_STATUS_OK;
}

dm_status dm_model_load(const char *path, dm_model **out) {
    if (!out || !path) return dm_error(DM_STATUS_ARG, "dm_model_load: NULL argument");
    *out = NULL;
    dm_hparams hp;
    float *params = NULL;
    int64_t np = 0;
    dm_provenance *prov = malloc(sizeof *prov);
    if (!prov) return dm_error(DM_STATUS_NOMEM, "model: out of memory");
    dm_ckpt_extra x = {.n_members = 1};
    dm_status s = dm_checkpoint_load_ex(path, dm_net_table, &hp, &params, &np, prov, NULL, &x);
    dm_model *m = NULL;
    if (!s) s = model_alloc(&m, &hp);
    if (!s) m->x = x;
    else dm_ckpt_extra_free(&x);
    if (!s && m->n_params != np)   /* dm_checkpoint_load checked the table: a defect, not input */
        s = dm_error(DM_STATUS_CORRUPT, "%s: %lld parameters where the model has %lld", path, (long long)np,
                     (long long)m->n_params);
    if (s) {
        free(prov);
        free(params);
        dm_model_free(m);
        return s;
    }
    free(m->prov);
    m->prov = prov;
    m->params = params;
    *out = m;
    return DM_STATUS_OK;
}

dm_status dm_model_save(const dm_model *m, const char *path) {
    if (!m || !path) return dm_error(DM_STATUS_ARG, "dm_model_save: NULL argument");
    return dm_checkpoint_save_ex(path, &m->hp, m->tensors, m->n_tensors, m->params, m->n_params, m->prov, NULL,
                                 &m->x);
}

dm_status dm_model_hparams(const dm_model *m, dm_hparams *hp) {
    if (!m || !hp) return dm_error(DM_STATUS_ARG, "dm_model_hparams: NULL argument");
    *hp = m->hp;
    return DM_STATUS_OK;
}

dm_status dm_model_n_tensors(const dm_model *m, int32_t *n_tensors, int64_t *n_params) {
    if (!m || !n_tensors) return dm_error(DM_STATUS_ARG, "dm_model_n_tensors: NULL argument");
    *n_tensors = m->n_tensors;
    if (n_params) *n_params = m->n_params;
    return DM_STATUS_OK;
}

static void describe(const dm_tensor_info *t, dm_tensor_desc *d) {
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", t->name);
    d->ndim = t->ndim;
    for (int k = 0; k < t->ndim && k < 4; k++) d->shape[k] = t->shape[k];
    d->numel = t->numel;
    d->offset = t->offset;
}

dm_status dm_model_tensor_at(const dm_model *m, int32_t index, dm_tensor_desc *desc) {
    if (!m || !desc) return dm_error(DM_STATUS_ARG, "dm_model_tensor_at: NULL argument");
    if (index < 0 || index >= m->n_tensors)
        return dm_error(DM_STATUS_ARG, "tensor index %d: the model has %d tensors", index, m->n_tensors);
    describe(&m->tensors[index], desc);
    return DM_STATUS_OK;
}

/* The tensor called `name`, or _ARG listing the names. */
static dm_status find(const dm_model *m, const char *name, const dm_tensor_info **t) {
    if (!m || !name) return dm_error(DM_STATUS_ARG, "tensor lookup: NULL argument");
    for (int32_t i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) {
            *t = &m->tensors[i];
            return DM_STATUS_OK;
        }
    char list[700] = "";
    size_t used = 0;
    for (int32_t i = 0; i < m->n_tensors && used + 45 < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", m->tensors[i].name);
    return dm_error(DM_STATUS_ARG, "no tensor '%.100s' in this %s model (it has %s)", name, dm_arch_name(m->hp.arch),
                    list);
}

dm_status dm_model_tensor_find(const dm_model *m, const char *name, dm_tensor_desc *desc) {
    const dm_tensor_info *t = NULL;
    if (!desc) return dm_error(DM_STATUS_ARG, "dm_model_tensor_find: NULL argument");
    DM_TRY(find(m, name, &t));
    describe(t, desc);
    return DM_STATUS_OK;
}

dm_status dm_model_tensor(const dm_model *m, const char *name, float *data, int64_t n) {
    const dm_tensor_info *t = NULL;
    DM_TRY(find(m, name, &t));
    if (!data || n != t->numel)
        return dm_error(DM_STATUS_ARG, "tensor %s holds %lld floats, not %lld", t->name, (long long)t->numel,
                        (long long)n);
    memcpy(data, m->params + t->offset, sizeof(float) * (size_t)n);
    return DM_STATUS_OK;
}

static void changed(dm_model *m) {
    free(m->json);
    m->json = NULL;
    dm_ckpt_extra_free(&m->x);   /* new weights: one model (the rc flags stay) */
}

dm_status dm_model_set_tensor(dm_model *m, const char *name, const float *data, int64_t n) {
    const dm_tensor_info *t = NULL;
    DM_TRY(find(m, name, &t));
    if (!data || n != t->numel)
        return dm_error(DM_STATUS_ARG, "tensor %s holds %lld floats, not %lld", t->name, (long long)t->numel,
                        (long long)n);
    memcpy(m->params + t->offset, data, sizeof(float) * (size_t)n);
    changed(m);
    return DM_STATUS_OK;
}

dm_status dm_model_params(const dm_model *m, const float **data, int64_t *n_params) {
    if (!m || !data || !n_params) return dm_error(DM_STATUS_ARG, "dm_model_params: NULL argument");
    *data = m->params;
    *n_params = m->n_params;
    return DM_STATUS_OK;
}

dm_status dm_model_set_params(dm_model *m, const float *data, int64_t n_params) {
    if (!m || !data) return dm_error(DM_STATUS_ARG, "dm_model_set_params: NULL argument");
    if (n_params != m->n_params)
        return dm_error(DM_STATUS_ARG, "the model has %lld parameters, not %lld", (long long)m->n_params,
                        (long long)n_params);
    memcpy(m->params, data, sizeof(float) * (size_t)n_params);
    changed(m);
    return DM_STATUS_OK;
}

/* ---- provenance as JSON ------------------------------------------------------------------- */

typedef struct jbuf {
    char *p;
    size_t n, cap;
    bool failed;
} jbuf;

static void jput(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jput(jbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = 2 * b->cap + (size_t)k;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static void jstr(jbuf *b, const char *key, const char *s) {
    jput(b, "\"%s\": \"", key);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') jput(b, "\\%c", *c);
        else if (*c < 0x20) jput(b, "\\u%04x", *c);
        else jput(b, "%c", *c);
    }
    jput(b, "\"");
}

static void jnum(jbuf *b, const char *key, double v) {
    if (isfinite(v)) jput(b, "\"%s\": %.17g", key, v);
    else jput(b, "\"%s\": null", key);
}

static char *provenance_json(const dm_provenance *p) {
    jbuf b = {malloc(4096), 0, 4096, false};
    if (!b.p) return NULL;
    b.p[0] = '\0';
    jput(&b, "{");
    jstr(&b, "version", p->version), jput(&b, ", ");
    jstr(&b, "protocol", p->protocol), jput(&b, ", ");
    jstr(&b, "device", p->device), jput(&b, ", ");
    jstr(&b, "created_utc", p->created_utc), jput(&b, ", ");
    jstr(&b, "label", p->label);
    jput(&b, ", \"seed\": %llu, \"threads\": %d, \"batch\": %d", (unsigned long long)p->seed, p->threads, p->batch);
    jput(&b, ", "), jnum(&b, "lr0", p->lr0);
    jput(&b, ", "), jnum(&b, "valid_frac", p->valid_frac);
    jput(&b, ", "), jnum(&b, "ema", p->ema);
    jput(&b, ", \"restarts\": %d", p->restarts);
    jput(&b, ", \"fresh_negatives\": %s", p->fresh_negatives ? "true" : "false");
    jput(&b, ", \"epochs_max\": %d, \"epochs_run\": %d, \"best_epoch\": %d", p->epochs_max, p->epochs_run,
         p->best_epoch);
    jput(&b, ", \"n_train\": %lld, \"n_valid\": %lld, \"n_test\": %lld", (long long)p->n_train,
         (long long)p->n_valid, (long long)p->n_test);
    jput(&b, ", "), jnum(&b, "train_seconds", p->train_seconds);
    jput(&b, ", "), jnum(&b, "test_auroc", p->test_auroc);
    jput(&b, ", "), jnum(&b, "test_auprc", p->test_auprc);
    jput(&b, ", "), jnum(&b, "test_accuracy", p->test_accuracy);
    jput(&b, ", \"inputs\": [");
    for (int32_t i = 0; i < p->n_inputs && i < DM_MAX_INPUTS; i++) {
        const dm_input_file *f = &p->inputs[i];
        jput(&b, "%s{", i ? ", " : "");
        jstr(&b, "role", f->role), jput(&b, ", ");
        jstr(&b, "path", f->path);
        jput(&b, ", \"bytes\": %llu, ", (unsigned long long)f->bytes);
        jstr(&b, "sha256", f->sha256);
        jput(&b, "}");
    }
    jput(&b, "], \"log\": [");
    for (int32_t i = 0; i < p->n_epochs && i < DM_MAX_EPOCHS; i++) {
        const dm_epoch_log *r = &p->log[i];
        jput(&b, "%s{\"epoch\": %d, ", i ? ", " : "", r->epoch);
        jnum(&b, "lr", r->lr), jput(&b, ", ");
        jnum(&b, "train_loss", r->train_loss), jput(&b, ", ");
        jnum(&b, "valid_loss", r->valid_loss), jput(&b, ", ");
        jnum(&b, "valid_auroc", r->valid_auroc), jput(&b, ", ");
        jnum(&b, "seconds", r->seconds);
        jput(&b, "}");
    }
    jput(&b, "]}");
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

dm_status dm_model_provenance(const dm_model *m, const char **json) {
    if (!m || !json) return dm_error(DM_STATUS_ARG, "dm_model_provenance: NULL argument");
    *json = NULL;
    /* built on first use; a model is read-only for concurrent callers, so it is built under a lock */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    dm_model *mm = (dm_model *)m;
    if (!mm->json) mm->json = provenance_json(m->prov);
    *json = mm->json;
    pthread_mutex_unlock(&lock);
    return *json ? DM_STATUS_OK : dm_error(DM_STATUS_NOMEM, "provenance: out of memory");
}

void dm_free(void *p) { free(p); }

/* ---- inputs ------------------------------------------------------------------------------- */

dm_status dm_input_from_dataset(const dm_dataset *ds, dm_input *in) {
    if (!ds || !in) return dm_error(DM_STATUS_ARG, "dm_input_from_dataset: NULL argument");
    *in = (dm_input){.n = ds->n, .len = ds->len, .codes = ds->seq, .labels = ds->label};
    return DM_STATUS_OK;
}

dm_status dm_api_check_input(const dm_model *m, const dm_input *in, const char *what, bool need_labels) {
    if (!m || !in) return dm_error(DM_STATUS_ARG, "%s: NULL model or input", what);
    if (in->n < 0) return dm_error(DM_STATUS_ARG, "%s: %lld sequences", what, (long long)in->n);
    if (in->n > INT32_MAX) return dm_error(DM_STATUS_ARG, "%s: %lld sequences (at most 2^31 - 1 per call)", what,
                                           (long long)in->n);
    if (in->len != m->hp.len)
        return dm_error(DM_STATUS_ARG, "%s: sequences of length %d, but the model's length is %d", what, in->len,
                        m->hp.len);
    if (!in->onehot == !in->codes)
        return dm_error(DM_STATUS_ARG, "%s: give exactly one of onehot (N, L, 4) and codes (N, L)", what);
    if (in->codes) {
        size_t nc = (size_t)in->n * (size_t)in->len;
        for (size_t i = 0; i < nc; i++)
            if (in->codes[i] > DM_BASE_PAD)
                return dm_error(DM_STATUS_ARG, "%s: sequence %lld, position %lld: base code %d (0..5 allowed)", what,
                                (long long)(i / (size_t)in->len), (long long)(i % (size_t)in->len), in->codes[i]);
    }
    if (need_labels && !in->labels) return dm_error(DM_STATUS_ARG, "%s: labels are needed", what);
    if (in->labels)
        for (int64_t i = 0; i < in->n; i++)
            if (in->labels[i] != 0 && in->labels[i] != 1 && in->labels[i] != DM_LABEL_UNKNOWN)
                return dm_error(DM_STATUS_ARG, "%s: sequence %lld: label %d (1, 0 or -1 allowed)", what,
                                (long long)i, in->labels[i]);
    return DM_STATUS_OK;
}

dm_status dm_api_net(const dm_model *m, dm_backend *be, int32_t batch, dm_net **out) {
    *out = NULL;
    if (!be) return dm_error(DM_STATUS_ARG, "no backend (open one with dm_backend_open)");
    dm_net *net;
    DM_TRY(dm_net_create(&net, &m->hp, be, batch < 1 ? 1 : batch));
    dm_status s = DM_STATUS_OK;
    float *all = NULL;
    if (m->x.n_members > 1) {   /* an ensemble: every member's weights, member 0 first */
        size_t np = (size_t)m->n_params;
        if (!(all = malloc(sizeof(float) * np * (size_t)m->x.n_members))) s = dm_error(DM_STATUS_NOMEM, "out of memory");
        else {
            memcpy(all, m->params, sizeof(float) * np);
            memcpy(all + np, m->x.members, sizeof(float) * np * (size_t)(m->x.n_members - 1));
        }
    }
    if (!s) s = dm_net_set_members(net, all ? all : m->params, all ? m->x.n_members : 1);
    free(all);
    dm_net_pred_of(net)->rc = m->x.rc;
    if (s) {
        dm_net_free(net);
        return s;
    }
    *out = net;
    return DM_STATUS_OK;
}
