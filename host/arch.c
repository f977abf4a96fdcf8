/*
 * arch.c: the architectures, one table entry each (SPEC.md §2). Entry i is architecture id i, the
 * number checkpoints store: append, never reorder. An entry lists its layers for hyper-parameters
 * (the vocabulary and tensor naming are in arch.h); nothing outside this file knows an
 * architecture by name or number.
 */
#include <stdio.h>

#include "arch.h"

/* Append helpers: each returns the next free index. */
static int conv(dm_layer *l, int i, int n, int k, int pad, int idx) {
    l[i] = (dm_layer){.op = DM_LAYER_CONV, .n = n, .k = k, .pad = pad};
    snprintf(l[i].name, sizeof l[i].name, "conv%d", idx);
    return i + 1;
}
static int op(dm_layer *l, int i, dm_layer_op o) { l[i] = (dm_layer){.op = o}; return i + 1; }
static int pool(dm_layer *l, int i, int k) { l[i] = (dm_layer){.op = DM_LAYER_MAXPOOL, .k = k}; return i + 1; }
static int dropout(dm_layer *l, int i, float p, int slot) {
    l[i] = (dm_layer){.op = DM_LAYER_DROPOUT, .p = p, .slot = slot};
    return i + 1;
}
static int bilstm(dm_layer *l, int i, int H) {
    l[i] = (dm_layer){.op = DM_LAYER_BILSTM, .n = H, .name = "lstm"};
    return i + 1;
}
/* dense → 2 named "fc", then log-softmax: every model's head */
static int head(dm_layer *l, int i) {
    l[i] = (dm_layer){.op = DM_LAYER_DENSE, .n = 2, .name = "fc"};
    return op(l, i + 1, DM_LAYER_LOGSOFTMAX);
}

/* ---- CNN: [conv → ReLU → maxpool → dropout] × (n−1) → conv → ReLU → dropout → global max → fc -- */

static int cnn_build(const dm_hparams *hp, dm_layer *l) {
    if (hp->n_conv < 1 || hp->n_conv > DM_MAX_CONV)
        return dm_error(DM_STATUS_ARG, "model: the CNN needs 1 to %d conv layers", DM_MAX_CONV), -1;
    int n = 0;
    for (int i = 0; i < hp->n_conv; i++) {
        n = conv(l, n, hp->conv_channels, hp->conv_width[i], 0, i + 1);
        n = op(l, n, DM_LAYER_RELU);
        if (i < hp->n_conv - 1 && hp->pool > 1) n = pool(l, n, hp->pool);
        n = dropout(l, n, hp->dropout, i);
    }
    n = op(l, n, DM_LAYER_GMAX);
    return head(l, n);
}

static void cnn_describe(const dm_hparams *hp, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "CNN: %d convolutions (widths", hp->n_conv);
    for (int i = 0; i < hp->n_conv && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%d", i ? "-" : " ", hp->conv_width[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, "), %d maps, max-pool %d, global max, linear", hp->conv_channels, hp->pool);
}

/* ---- RNN: BiLSTM → dropout → mean over time → fc ----------------------------------------------- */

static int rnn_build(const dm_hparams *hp, dm_layer *l) {
    int n = bilstm(l, 0, hp->hidden);
    n = dropout(l, n, hp->dropout, 63);
    n = op(l, n, DM_LAYER_MEAN);
    return head(l, n);
}

static void rnn_describe(const dm_hparams *hp, char *buf, size_t cap) {
    snprintf(buf, cap, "RNN: bidirectional LSTM (H %d), mean over time, linear", hp->hidden);
}

/* ---- CNN-RNN: conv (zero-pad (K−1)/2, length kept) → ReLU → BiLSTM → dropout → mean → fc ------- */

static int cnnrnn_build(const dm_hparams *hp, dm_layer *l) {
    if (hp->conv_width[0] % 2 == 0)
        return dm_error(DM_STATUS_ARG, "model: the CNN-RNN needs an odd conv width"), -1;
    int n = conv(l, 0, hp->conv_channels, hp->conv_width[0], (hp->conv_width[0] - 1) / 2, 1);
    n = op(l, n, DM_LAYER_RELU);
    n = bilstm(l, n, hp->hidden);
    n = dropout(l, n, hp->dropout, 63);
    n = op(l, n, DM_LAYER_MEAN);
    return head(l, n);
}

static void cnnrnn_describe(const dm_hparams *hp, char *buf, size_t cap) {
    snprintf(buf, cap, "CNN-RNN: convolution (width %d, %d maps), bidirectional LSTM (H %d), linear",
             hp->conv_width[0], hp->conv_channels, hp->hidden);
}

/* ---- DanQ (Quang & Xie 2016) at DeMo's sizes: conv (valid) → ReLU → max-pool → dropout → BiLSTM
 * over the pooled sequence → mean over time → fc. DanQ's own layout is conv 4→320 K26 (valid), pool
 * 13, dropout 0.2, BiLSTM 320, dropout 0.5, flatten → dense 925 → 919 sigmoids; here the conv is
 * 4→128 K9 as DeMo's, the pool width is hp->pool (default 4: 101 − 8 = 93 conv outputs → 23 LSTM
 * steps, a 4× shorter sequence that still leaves the BiLSTM and the temporal scores 23 steps, where
 * DanQ's 13 would leave 7), one dropout (hp->dropout, default DanQ's 0.2) after the pool, and the
 * mean over time → dense 2, the closest existing op to DanQ's flatten → dense (no flatten op). --- */

static int danq_build(const dm_hparams *hp, dm_layer *l) {
    int n = conv(l, 0, hp->conv_channels, hp->conv_width[0], 0, 1);
    n = op(l, n, DM_LAYER_RELU);
    if (hp->pool > 1) n = pool(l, n, hp->pool);
    n = dropout(l, n, hp->dropout, 0);
    n = bilstm(l, n, hp->hidden);
    n = op(l, n, DM_LAYER_MEAN);
    return head(l, n);
}

static void danq_describe(const dm_hparams *hp, char *buf, size_t cap) {
    snprintf(buf, cap, "DanQ: convolution (width %d, %d maps, no padding), max-pool %d, bidirectional LSTM (H %d) "
             "over the pooled sequence, mean over time, linear", hp->conv_width[0], hp->conv_channels, hp->pool,
             hp->hidden);
}

/* ---- the registry -------------------------------------------------------------------------------- */

/* SPEC.md §2's "medium" models: L 101, widths 9-5-3, 128 maps, pool 2, H 32, dropout 0.5 */
#define DM_DEFAULTS(nconv) \
    {.len = 101, .n_conv = (nconv), .conv_width = {9, 5, 3}, .conv_channels = 128, .pool = 2, \
     .hidden = 32, .dropout = 0.5f}

const dm_arch_def dm_arch_table[] = {
    {.name = "cnn", .uses = DM_USES_CONV | DM_USES_POOL, .defaults = DM_DEFAULTS(3),
     .build = cnn_build, .describe = cnn_describe},
    {.name = "rnn", .uses = DM_USES_LSTM, .defaults = DM_DEFAULTS(0), .build = rnn_build,
     .describe = rnn_describe},
    {.name = "cnnrnn", .alias = "cnn-rnn", .uses = DM_USES_CONV | DM_USES_LSTM,
     .defaults = DM_DEFAULTS(1), .build = cnnrnn_build, .describe = cnnrnn_describe},
    {.name = "danq", .uses = DM_USES_CONV | DM_USES_LSTM | DM_USES_POOL,
     .defaults = {.len = 101, .n_conv = 1, .conv_width = {9}, .conv_channels = 128, .pool = 4, .hidden = 32,
                  .dropout = 0.2f},
     .build = danq_build, .describe = danq_describe},
};
const int dm_arch_table_n = (int)(sizeof dm_arch_table / sizeof dm_arch_table[0]);
