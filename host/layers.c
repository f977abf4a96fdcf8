/*
 * layers.c: queries over the architecture registry of host/arch.c: names, defaults, the layer list
 * of a model with its shapes (arch.h describes the vocabulary).
 */
#include <stdio.h>
#include <string.h>

#include "arch.h"

int dm_arch_count(void) { return dm_arch_table_n; }

const dm_arch_def *dm_arch_at(int i) { return i >= 0 && i < dm_arch_table_n ? &dm_arch_table[i] : NULL; }

const dm_arch_def *dm_arch_get(const dm_hparams *hp) { return dm_arch_at((int)hp->arch); }

void dm_hparams_default(dm_hparams *hp, dm_arch arch) {
    if (!hp) return;
    const dm_arch_def *a = dm_arch_at((int)arch);
    if (a) *hp = a->defaults;
    else memset(hp, 0, sizeof *hp);
    hp->arch = arch;
}

const char *dm_arch_name(dm_arch arch) {
    const dm_arch_def *a = dm_arch_at((int)arch);
    return a ? a->name : "unknown";
}

char dm_arch_choices_text[256];
const char *dm_arch_names[DM_MAX_ARCHS + 1];

/* Fills the two lists above from the constant table, before main (they are addresses that constant
 * option tables can hold); called again by dm_arch_choices() in case constructors did not run. */
__attribute__((constructor)) static void arch_lists_fill(void) {
    char t[sizeof dm_arch_choices_text] = "";
    size_t k = 0;
    for (int i = 0; i < dm_arch_table_n && i < DM_MAX_ARCHS; i++) {
        dm_arch_names[i] = dm_arch_table[i].name;
        if (k < sizeof t) k += (size_t)snprintf(t + k, sizeof t - k, "%s%s", i ? "|" : "", dm_arch_table[i].name);
    }
    memcpy(dm_arch_choices_text, t, sizeof t);
}

const char *dm_arch_choices(void) {
    if (!dm_arch_choices_text[0]) arch_lists_fill();
    return dm_arch_choices_text;
}

dm_status dm_arch_parse(const char *s, dm_arch *arch) {
    DM_CHECK_ARG(s && arch, "dm_arch_parse: NULL %s", s ? "output" : "name");
    for (int i = 0; i < dm_arch_table_n; i++) {
        const dm_arch_def *a = &dm_arch_table[i];
        if (strcmp(s, a->name) == 0 || (a->alias && strcmp(s, a->alias) == 0)) {
            *arch = (dm_arch)i;
            return DM_STATUS_OK;
        }
    }
    return dm_error(DM_STATUS_ARG, "unknown architecture '%s' (expected one of %s)", s, dm_arch_choices());
}

/* ---- layer lists -------------------------------------------------------------------------------- */

dm_status dm_arch_layers(const dm_hparams *hp, dm_layer *l, int *n_out) {
    *n_out = 0;
    const dm_arch_def *a = dm_arch_get(hp);
    if (!a) return dm_error(DM_STATUS_ARG, "model: unknown architecture %d", (int)hp->arch);
    int n = a->build(hp, l);
    if (n < 0) return DM_STATUS_ARG;
    *n_out = n;
    int len = hp->len, ch = 4, tensor = 0, n_conv = 0;
    dm_status st = DM_STATUS_OK;
    for (int i = 0; i < n; i++) {
        dm_layer *y = &l[i];
        y->len_in = len;
        y->ch_in = ch;
        y->tensor = -1;
        switch (y->op) {
        case DM_LAYER_CONV:
            if (y->k < 1 && !st) st = dm_error(DM_STATUS_ARG, "model: conv width %d", y->k);
            len = len + 2 * y->pad - y->k + 1;
            ch = y->n;
            n_conv++;
            y->tensor = tensor;
            tensor += 2;
            break;
        case DM_LAYER_MAXPOOL: len = y->k > 0 ? len / y->k : 0; break;
        case DM_LAYER_GMAX:
        case DM_LAYER_MEAN: len = 1; break;
        case DM_LAYER_BILSTM:
            ch = 2 * y->n;
            y->tensor = tensor;
            tensor += 8;
            break;
        case DM_LAYER_DENSE:
            ch = y->n;
            y->tensor = tensor;
            tensor += 2;
            break;
        case DM_LAYER_RELU:
        case DM_LAYER_DROPOUT:
        case DM_LAYER_LOGSOFTMAX: break;
        }
        if (len < 1 && !st)
            st = dm_error(DM_STATUS_ARG, "model: input length %d is too short for the %d conv layers", hp->len,
                          n_conv);
        y->len_out = len;
        y->ch_out = ch;
    }
    if (!st && (n < 2 || l[n - 1].op != DM_LAYER_LOGSOFTMAX || l[n - 2].op != DM_LAYER_DENSE ||
                l[n - 2].n != 2 || l[n - 2].len_in != 1))
        st = dm_error(DM_STATUS_ARG, "model: %s does not end in a reduction, dense(2) and log-softmax", a->name);
    return st;
}

bool dm_arch_has(const dm_hparams *hp, dm_layer_op op) {
    dm_layer l[DM_MAX_LAYERS];
    int n;
    (void)dm_arch_layers(hp, l, &n);     /* n counts the built layers even when lengths fail */
    for (int i = 0; i < n; i++)
        if (l[i].op == op) return true;
    return false;
}

bool dm_arch_lstm_reads_input(const dm_hparams *hp) {
    dm_layer l[DM_MAX_LAYERS];
    int n;
    (void)dm_arch_layers(hp, l, &n);
    for (int i = 0; i < n; i++)
        if (l[i].op == DM_LAYER_CONV || l[i].op == DM_LAYER_BILSTM) return l[i].op == DM_LAYER_BILSTM;
    return false;
}

void dm_arch_list_having(dm_layer_op op, char *buf, size_t cap) {
    int total = 0, k = 0;
    for (int i = 0; i < dm_arch_table_n; i++) {
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)i);
        total += dm_arch_has(&hp, op);
    }
    size_t w = 0;
    buf[0] = 0;
    for (int i = 0; i < dm_arch_table_n && w < cap; i++) {
        dm_hparams hp;
        dm_hparams_default(&hp, (dm_arch)i);
        if (!dm_arch_has(&hp, op)) continue;
        const char *sep = k == 0 ? "" : (k == total - 1 ? " or " : ", ");
        w += (size_t)snprintf(buf + w, cap - w, "%s%s", sep, dm_arch_table[i].name);
        k++;
    }
}

void dm_arch_describe(const dm_hparams *hp, char *buf, size_t cap) {
    const dm_arch_def *a = dm_arch_get(hp);
    if (a) a->describe(hp, buf, cap);
    else snprintf(buf, cap, "unknown architecture %d", (int)hp->arch);
}

/* ---- the public view (deepmotif.h) -------------------------------------------------------------- */

_Static_assert(sizeof(((dm_layer *)0)->name) == sizeof(((dm_layer_info *)0)->name), "layer name sizes differ");

dm_status dm_arch_layers_of(const dm_hparams *hp, dm_layer_info *out, int cap, int *n) {
    DM_CHECK_ARG(hp && n, "dm_arch_layers_of: NULL %s", hp ? "count" : "hyper-parameters");
    *n = 0;
    DM_CHECK_ARG(cap >= 0 && (out || cap == 0), "dm_arch_layers_of: capacity %d with %s output", cap,
                 out ? "an" : "no");
    dm_layer l[DM_MAX_LAYERS];
    int k;
    dm_status st = dm_arch_layers(hp, l, &k);
    if (st) return st;
    *n = k;
    if (cap < k)
        return dm_error(DM_STATUS_ARG, "dm_arch_layers_of: the %s has %d layers, the output holds %d",
                        dm_arch_name(hp->arch), k, cap);
    for (int i = 0; i < k; i++) {
        dm_layer_info *o = &out[i];
        memset(o, 0, sizeof *o);
        o->op = (int32_t)l[i].op;
        o->n = l[i].n;
        o->k = l[i].k;
        o->pad = l[i].pad;
        o->p = l[i].p;
        memcpy(o->name, l[i].name, sizeof o->name);
        o->name[sizeof o->name - 1] = 0;
        o->len_in = l[i].len_in;
        o->ch_in = l[i].ch_in;
        o->len_out = l[i].len_out;
        o->ch_out = l[i].ch_out;
    }
    return DM_STATUS_OK;
}
