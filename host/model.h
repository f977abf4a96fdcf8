/*
 * model.h: a model, the layer list of its architecture (host/arch.h) on top of a backend (SPEC.md §2).
 *
 * A model owns one arena per role (parameters, gradients, Adam m and v, activations, activation
 * gradients), allocated once by dm_net_create() for a maximum batch; forward, backward and the
 * optimiser step allocate nothing (STYLE.md rule 8). Parameters live in the backend's memory in the
 * canonical layout of SPEC.md §3; dm_net_get_params()/set_params() copy them to and from the host.
 *
 * Parameter tensors, by name, in layer order (arch.h), e.g. for the DeMo models (D = 4 for the RNN
 * and 128 for the CNN-RNN):
 *   CNN      conv{1..n}.weight (C_out, K, C_in), conv{i}.bias (C_out), fc.weight (2, C), fc.bias (2)
 *   RNN      lstm.{fwd,bwd}.weight_ih (4H, D), .weight_hh (4H, H), .bias_ih (4H), .bias_hh (4H),
 *            fc.weight (2, 2H), fc.bias (2)
 *   CNN-RNN  conv1.weight (C, K, 4), conv1.bias (C), then the RNN tensors with D = C.
 * The output class order is (pos, neg): logprob[:, 0] = log P(bound).
 */
#ifndef DM_MODEL_H
#define DM_MODEL_H

#include "backend.h"
#include "dm_internal.h"

/* The engine's model: one architecture built on one backend for batches up to a maximum size, with
 * its arenas. (The public dm_model handle of deepmotif.h is a different, backend-free object.) */
typedef struct dm_net dm_net;

/* Builds a model of `hp` on backend `be` for batches of at most `max_batch` sequences of length
 * hp->len. Parameters are zero until dm_net_init_params() or dm_net_set_params().
 * Returns _OK, _ARG (shapes that do not fit, e.g. L too short for the convolutions), _NOMEM. */
dm_status dm_net_create(dm_net **out, const dm_hparams *hp, dm_backend *be, int32_t max_batch);
void dm_net_free(dm_net *m);

/* The tensor table of an architecture without building the model (checkpoint loading uses it).
 * Returns the number of tensors; *n_params receives the arena size in floats. */
int32_t dm_net_table(const dm_hparams *hp, dm_tensor_info *tensors, int64_t *n_params);

const dm_hparams *dm_net_hparams(const dm_net *m);
/* The model's layers with their shapes (struct dm_layer of arch.h), *n of them, in forward order. */
const struct dm_layer *dm_net_layers(const dm_net *m, int *n);
int64_t dm_net_n_params(const dm_net *m);       /* arena size, the fixed LSTM b_hh included */
int64_t dm_net_n_trainable(const dm_net *m);    /* what Adam updates (SPEC.md §2's counts) */
const dm_tensor_info *dm_net_tensors(const dm_net *m, int32_t *n_tensors);
const dm_tensor_info *dm_net_tensor(const dm_net *m, const char *name);  /* NULL if unknown */
int32_t dm_net_max_batch(const dm_net *m);
int64_t dm_net_n_act_floats(const dm_net *m);  /* activation + activation-gradient arenas */
dm_backend *dm_net_backend(const dm_net *m);

/* SPEC.md §4 initialisation from the `init` stream of `seed`: conv/linear W, b ~ U(−s, s),
 * s = 1/√fan_in; LSTM W ~ N(0, 1/(D+H)), biases 0 but b_ih[forget] = 1. Returns _OK or _NOMEM. */
dm_status dm_net_init_params(dm_net *m, uint64_t seed);

/* Copies between the model's parameter / gradient arenas and host arrays of n_params floats. */
dm_status dm_net_get_params(const dm_net *m, float *host);
dm_status dm_net_set_params(dm_net *m, const float *host);
dm_status dm_net_get_grads(const dm_net *m, float *host);
dm_status dm_net_set_grads(dm_net *m, const float *host);
/* The gradient arena summed over the process group on the device (the backend's allreduce_sum:
 * NCCL), after the backend joined the group (group_join). */
dm_status dm_net_group_grads(dm_net *m);
/* The next forward passes are a slice of a larger batch starting at its row `row0` (0: a whole
 * batch): their dropout masks are those rows' masks in that batch, so K slices run apart (by K ranks
 * of data-parallel training) drop out what one pass over the batch does. row0 + B ≤ max_batch. */
dm_status dm_net_set_row0(dm_net *m, int32_t row0);

/* Forward pass on a batch of B ≤ max_batch inputs x (B, L, 4) (host memory, one-hot or dense).
 * train: dropout on, masks from the `dropout` stream of `seed` at `step` (a counter the trainer
 * increments per batch); otherwise evaluation mode. Afterwards dm_net_scores() holds P(pos). */
dm_status dm_net_forward(dm_net *m, const float *x, int32_t B, bool train, uint64_t seed,
                           uint64_t step);

/* Like dm_net_forward for base codes (B, L) (DM_BASE_*), one-hot encoded on the backend:
 * DM_BASE_N is a zero row, or 0.25 per channel when `n_quarter`. */
dm_status dm_net_forward_codes(dm_net *m, const uint8_t *codes, int32_t B, bool train,
                                 uint64_t seed, uint64_t step, bool n_quarter);
/* dm_net_forward_codes in evaluation mode for inference only: the same log-softmax, bit for bit,
 * without saving what a backward needs (the BiLSTM's gates and cells, where the backend can skip
 * them); a backward after it is refused (_ARG). */
dm_status dm_net_infer_codes(dm_net *m, const uint8_t *codes, int32_t B, bool n_quarter);
/* The same for one-hot input x (B, L, 4), host memory (dm_net_forward in evaluation mode). */
dm_status dm_net_infer(dm_net *m, const float *x, int32_t B);

/* Host copies of the last forward pass: P(pos) (B) and log-softmax (B, 2). */
dm_status dm_net_scores(const dm_net *m, float *p_pos);
dm_status dm_net_logprob(const dm_net *m, float *logprob);

/* Backward pass of the mean NLL loss over the last forward's batch, with labels (B) in {0, 1}.
 * `denom`: the loss is Σ NLL / denom (the batch size, or the full batch when one batch is split).
 * Parameter gradients accumulate (+=) into the gradient arena; *loss receives the batch's loss.
 * grad_x (B, L, 4), host memory, receives ∂loss/∂x when non-NULL (saliency); otherwise the first
 * layer's input gradient is skipped. */
dm_status dm_net_backward(dm_net *m, const int8_t *labels, int32_t B, double denom,
                            double *loss, float *grad_x);

/* Backward pass of an arbitrary upstream gradient on the log-softmax output, grad_logprob (B, 2)
 * (host): for saliency targets other than the NLL. Only the input gradient is computed: parameter
 * gradients are left as they are (unless dm_net_input_grads_full). */
dm_status dm_net_backward_from(dm_net *m, const float *grad_logprob, int32_t B, float *grad_x);

/* Saliency, IG and class optimisation need only ∂/∂x, which does not depend on any parameter
 * gradient, so dm_net_backward_from and dm_net_backward_input pass NULL for those (backend.h) and
 * skip every dW / db product. `on` makes them do the full backward (accumulating the parameter
 * gradients like dm_net_backward) instead: the reference the tests compare with, bit for bit. */
void dm_net_input_grads_full(dm_net *m, bool on);

void dm_net_zero_grad(dm_net *m);

/* ---- device-resident loops (training, class optimisation) --------------------------------------
 * The model's input x (max_batch, L, 4), its gradient and the log-softmax output (max_batch, 2) are
 * backend memory; a loop that keeps its state there calls these instead of the host-copy versions.
 * Nothing is copied between host and backend. */
float *dm_net_input(dm_net *m);
float *dm_net_input_grad(dm_net *m);
const float *dm_net_logprob_buf(const dm_net *m);

/* Forward on the B inputs already in dm_net_input(). */
dm_status dm_net_forward_input(dm_net *m, int32_t B, bool train, uint64_t seed, uint64_t step);

/* Inference forward of layers from..n−1 (1 ≤ from) on in (B, that layer's input shape), backend memory:
 * the model's own ops and buffers, as if layers 0..from−1 had produced in (fast ISM, host/ism_fast.c);
 * inference only, as dm_net_infer_codes. */
dm_status dm_net_forward_from(dm_net *m, int from, const float *in, int32_t B);
/* Backend pointer of parameter tensor i (dm_net_tensors' order). */
const float *dm_net_param_buf(const dm_net *m, int32_t tensor);

/* Backward of grad_logprob (B, 2), backend memory (e.g. a constant uploaded once), into
 * dm_net_input_grad() (input gradient only, as dm_net_backward_from). B must equal the last forward's. */
dm_status dm_net_backward_input(dm_net *m, const float *grad_logprob, int32_t B);

/* A labelled data set uploaded once in packed form (dm_pack.h), with a row order (a permutation drawn
 * on the host per epoch, uploaded as N int32) and per-row results that stay in backend memory until
 * the epoch ends: the log-softmax (N, 2) and NLL (N) of each row in visiting order. */
typedef struct dm_devdata {
    dm_backend *be;
    int64_t n;
    int len;
    uint8_t *packed;      /* (n, dm_pack_row_bytes(len)) */
    int8_t *labels;       /* (n) */
    int32_t *order;       /* (n): row visited at position i */
    float *logprob;       /* (n, 2) by visiting position */
    float *loss;          /* (n) by visiting position */
} dm_devdata;

/* Uploads `ds` (labels −1 allowed: prediction only). Returns _OK, _ARG (n ≥ 2^31), _NOMEM. */
dm_status dm_devdata_create(dm_devdata **out, dm_backend *be, const dm_dataset *ds);
void dm_devdata_free(dm_devdata *d);

/* Replaces the rows' bases: codes (n, len) DM_BASE_*, packed and uploaded (labels unchanged). */
dm_status dm_devdata_set_codes(dm_devdata *d, const uint8_t *codes);

/* Sets the visiting order: rows idx[0..n) (a permutation), or 0..n−1 when idx is NULL. */
dm_status dm_devdata_set_order(dm_devdata *d, const int64_t *idx);

/* Forward on visiting positions i0..i0+B−1 of d, gathered and one-hot encoded in backend memory; the
 * log-softmax is kept in d->logprob. In evaluation mode (train false) it is inference only, as
 * dm_net_infer_codes: a backward after it is refused. */
dm_status dm_net_forward_data(dm_net *m, dm_devdata *d, int64_t i0, int32_t B, bool train,
                                uint64_t seed, uint64_t step, bool n_quarter);

/* Backward of Σ NLL / denom for the batch of the last dm_net_forward_data (same i0, B); the NLL of
 * each row is kept in d->loss. */
dm_status dm_net_backward_data(dm_net *m, dm_devdata *d, int64_t i0, int32_t B, double denom);

/* Copies the epoch's results to the host: p_pos (n) = P(pos) by visiting position (NULL: skip) and
 * *loss_sum = Σ NLL over the first n_loss positions (NULL: skip). */
dm_status dm_devdata_results(dm_devdata *d, float *p_pos, int64_t n_loss, double *loss_sum);

/* Temporal output scores (SPEC.md §6.2; models with a BiLSTM followed by the mean over time and the
 * head): fwd[b, i] = P(pos) of the whole model on the recurrent layer's steps 0..t, bwd[b, i] = on
 * steps t..T−1 (both LSTM directions from a zero state on the truncated steps, mean over the
 * truncated length, fc, softmax; the layers before the LSTM run on the full sequence first), where
 * t = min(⌊i / s⌋, T − 1) for the stride s of dm_net_temporal_stride (1 without pooling: t = i).
 * x (B, L, 4) host; fwd, bwd (B, L) host. Exact shortcut: the forward direction's states over every
 * prefix and the backward direction's over every suffix come from one full pass; only the other
 * direction is rerun per truncation. _ARG for a model without such a layer (the CNN). */
dm_status dm_net_temporal(dm_net *m, const float *x, int32_t B, float *fwd, float *bwd);

/* Input positions per recurrent step for dm_net_temporal (the product of the max-pool widths before
 * the BiLSTM), 0 when the model has no temporal scores. */
int32_t dm_net_temporal_stride(const dm_net *m);

/* First-layer convolution after ReLU for x (B, L, 4) (host): act (B, Lo, C) host. *Lo, *K, *pad and
 * *C describe the layer (input position of output l, tap k: l + k − pad). _ARG when the first layer
 * is not a convolution (the RNN). */
dm_status dm_net_first_layer(dm_net *m, const float *x, int32_t B, float *act, int *Lo, int *K,
                               int *pad, int *C);

/* Torch7 Adam (SPEC.md §4) with element-wise gradient clipping to [−clip, clip] first (clip ≤ 0:
 * none). Its m, v arenas live in the model; t counts steps. The LSTM's b_hh is not updated (its
 * gradient is still computed): the original has one bias per gate, so the trainable parameters are
 * SPEC.md's 9,602 (RNN) and 46,082 (CNN-RNN). */
typedef struct dm_adam {
    float lr, beta1, beta2, eps, clip;
    int64_t t;
} dm_adam;

void dm_adam_default(dm_adam *opt);                 /* lr 0.01, 0.9, 0.999, 1e-8, clip 5 */
dm_status dm_net_adam_step(dm_net *m, dm_adam *opt);
dm_status dm_net_get_adam(const dm_net *m, float *m_host, float *v_host);
dm_status dm_net_set_adam(dm_net *m, const float *m_host, const float *v_host);

/* The weights' exponential moving average on the backend (train --ema; host/train.c): two buffers,
 * the average and the next one, so no update reads what it writes. */
typedef struct dm_net_avg {
    float *buf[2];
    int cur;        /* buf[cur] is the average */
} dm_net_avg;

/* Allocates the average holding `host` (n_params), or the current weights when host is NULL. */
dm_status dm_net_avg_init(dm_net *m, dm_net_avg *a, const float *host);
void dm_net_avg_free(dm_net *m, dm_net_avg *a);
/* avg <- avg + (1 - decay) (weights - avg), element-wise (the backend's lerp). */
dm_status dm_net_avg_step(dm_net *m, dm_net_avg *a, float decay);
/* Exchanges the model's weights and the average (pointers only; a second call undoes it), so the
 * model runs on the average for validation. */
void dm_net_avg_swap(dm_net *m, dm_net_avg *a);
dm_status dm_net_avg_get(const dm_net *m, const dm_net_avg *a, float *host);

/* ---- prediction setup (host/predavg.c) ---------------------------------------------------------
 * A loaded model carries its checkpoint's reverse-complement flags and, for an ensemble, every
 * member's weights on the host; dm_net_use_member(m, k) loads member k's weights into the model
 * (a no-op for a single model, member 0). */
typedef struct dm_net_pred {
    uint32_t rc;            /* DM_RC_* */
    int32_t n_members;      /* ≥ 2 when members is set */
    float *members;         /* (n_members, n_params), member 0 first; NULL for a single model */
} dm_net_pred;
dm_net_pred *dm_net_pred_of(dm_net *m);             /* zero after dm_net_create; freed with the model */
uint32_t dm_net_rc(dm_net *m);
int32_t dm_net_n_members(dm_net *m);                /* 1 for a single model */
/* Copies n members' weights (n × n_params, member 0 first) and loads member 0. _ARG, _NOMEM. */
dm_status dm_net_set_members(dm_net *m, const float *params, int32_t n);
dm_status dm_net_use_member(dm_net *m, int32_t k);

#endif /* DM_MODEL_H */
