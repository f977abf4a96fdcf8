/*
 * arch.h: models as lists of layers, and the registry of architectures.
 *
 * An architecture is one entry of the table in host/arch.c: a name, a title, its default
 * hyper-parameters and a function that lists its layers for given hyper-parameters. Everything
 * else (model.c's forward, backward, parameter table and initialisation, checkpoint checks, the
 * dashboard's architecture text, motif extraction, temporal scores, the CLI's choices) reads that
 * list through the functions below; adding an architecture touches host/arch.c only.
 *
 * Layer vocabulary (one op of kernels/backend.h each; shapes are per sequence, (len, ch)):
 *   CONV        conv1d + bias, n output channels, width k, zero padding pad each side:
 *               (L, C) → (L + 2·pad − k + 1, n); tensors <name>.weight (n, k, C), <name>.bias (n)
 *   RELU        element-wise, in place
 *   MAXPOOL     width = stride k: (L, C) → (⌊L / k⌋, C)
 *   DROPOUT     probability p while training (identity otherwise); its masks come from the
 *               `dropout` stream at counter step·64 + slot
 *   GMAX        global max over time: (L, C) → (1, C)
 *   BILSTM      bidirectional LSTM, H = n per direction: (L, D) → (L, 2H); tensors
 *               <name>.{fwd,bwd}.weight_ih (4H, D), then .weight_hh (4H, H), .bias_ih, .bias_hh (4H),
 *               stacked fwd/bwd per kind; the bias_hh pair is kept but never trained
 *   MEAN        mean over time: (L, C) → (1, C)
 *   DENSE       n outputs: (1, F) → (1, n); tensors <name>.weight (n, F), <name>.bias (n)
 *   LOGSOFTMAX  over the n = 2 classes (pos, neg); every model ends DENSE(2) → LOGSOFTMAX
 * The parameter tensors follow the layer order, so the table (names, order, offsets) of an
 * architecture is fixed by its list.
 */
#ifndef DM_ARCH_H
#define DM_ARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "dm_internal.h"

/* DM_MAX_LAYERS and the layer ops (enum dm_layer_op, DM_LAYER_*) are public: include/deepmotif.h. */

typedef struct dm_layer {
    dm_layer_op op;
    int n;              /* CONV: output channels; BILSTM: H; DENSE: outputs */
    int k;              /* CONV: width; MAXPOOL: width = stride */
    int pad;            /* CONV: zero padding each side */
    float p;            /* DROPOUT: probability */
    int slot;           /* DROPOUT: mask counter slot (0..63) */
    char name[16];      /* tensor name prefix (CONV, BILSTM, DENSE) */
    /* filled by dm_arch_layers(): per-sequence input and output shapes, first tensor index */
    int len_in, ch_in, len_out, ch_out;
    int tensor;         /* index of the layer's first tensor, −1 if it has none */
} dm_layer;

/* Hyper-parameter fields an architecture needs ≥ 1 in a checkpoint (the others may be 0). */
enum { DM_USES_CONV = 1, DM_USES_LSTM = 2, DM_USES_POOL = 4 };

typedef struct dm_arch_def {
    const char *name;           /* "cnn": the CLI's --arch value and the tag in outputs */
    const char *alias;          /* another accepted spelling, or NULL */
    unsigned uses;              /* DM_USES_* */
    dm_hparams defaults;        /* dm_hparams_default() (arch is set from the table position) */
    /* Appends the layer ops of hp to l (capacity DM_MAX_LAYERS, only op and the op's fields);
     * returns the count, or −1 with dm_error(DM_STATUS_ARG, ...) when hp does not describe one. */
    int (*build)(const dm_hparams *hp, dm_layer *l);
    /* One line for people (the dashboard's model cards), e.g. "CNN-RNN: convolution (width 9, ...)" */
    void (*describe)(const dm_hparams *hp, char *buf, size_t cap);
} dm_arch_def;

/* The registry (host/arch.c): entry i is architecture id i (the checkpoint's HPAR arch number). */
extern const dm_arch_def dm_arch_table[];
extern const int dm_arch_table_n;

/* dm_arch_count() is public (deepmotif.h). */
const dm_arch_def *dm_arch_at(int i);                 /* NULL outside 0..count−1 */
const dm_arch_def *dm_arch_get(const dm_hparams *hp); /* NULL for an unregistered hp->arch */
/* "cnn|rnn|cnnrnn|..." (static storage), for help texts and usage errors. */
const char *dm_arch_choices(void);
/* The same as data filled before main, for constant option tables: the text, and the names as a
 * NULL-ended list. */
#define DM_MAX_ARCHS 32
extern char dm_arch_choices_text[256];
extern const char *dm_arch_names[DM_MAX_ARCHS + 1];

/* The layers of hp with their shapes (*n of them, at most DM_MAX_LAYERS). Returns _ARG (message
 * recorded) for an unknown architecture, a build failure or shapes that do not fit (input too
 * short, width < 1); the channel counts and tensor indices are filled even when only the lengths
 * fail, so a parameter table can be derived from any hp the builder accepts. */
dm_status dm_arch_layers(const dm_hparams *hp, dm_layer *l, int *n);

/* Whether hp's layer list holds op (false for hp that does not build). */
bool dm_arch_has(const dm_hparams *hp, dm_layer_op op);
/* The model reads its input with an LSTM (its first convolution or LSTM layer is the LSTM: the RNN),
 * which the small-data rule trains at its own rate (host/train.h). */
bool dm_arch_lstm_reads_input(const dm_hparams *hp);

/* "rnn or cnnrnn": the registered architectures whose default layer list holds op, for messages. */
void dm_arch_list_having(dm_layer_op op, char *buf, size_t cap);

/* The dashboard's one-line text for hp (the architecture's describe, or "unknown architecture"). */
void dm_arch_describe(const dm_hparams *hp, char *buf, size_t cap);

#endif /* DM_ARCH_H */
