/*
 * export.h: a trained model's weights in formats other tools read without deepmotif (issue 11).
 *
 *   safetensors  the parameters under the state_dict keys of the PyTorch module that computes the
 *                same forward (the Python package's deepmotif.torch.DeepMotifNet): conv layers in order
 *                as convs.<i> (nn.Conv1d, weight (C_out, C_in, K): the canonical (C_out, K, C_in)
 *                transposed), the BiLSTM as one nn.LSTM(D, H, batch_first=True, bidirectional=True)
 *                `lstm` (lstm.fwd.weight_ih → lstm.weight_ih_l0, lstm.bwd.* → *_l0_reverse; the gates
 *                already are PyTorch's i, f, g, o), fc (nn.Linear) unchanged. F32 little-endian, keys
 *                sorted, data contiguous in key order. __metadata__: "format": "pt",
 *                "deepmotif.hparams" (JSON with the Python package's keys: arch, length, n_conv,
 *                conv_width, conv_channels, pool, hidden, dropout), "deepmotif.layers" (the layer
 *                list), "deepmotif.module", "deepmotif.input", "deepmotif.output", "deepmotif.version".
 *   ONNX         the whole eval-mode forward pass (dropout is the identity) as an opset-13 graph:
 *                input "x" float (N, L, 4) one-hot A, C, G, T channels-last, output "logprob" (N, 2)
 *                = log-softmax over (bound, unbound), the engine's dm_net_logprob. Conv and fc
 *                initializers carry the safetensors keys; the LSTM's are <name>.W, .R, .B in ONNX's
 *                gate order i, o, f, c. The same metadata as metadata_props.
 *
 * Both walk the model's layer list (export.c: export_layers, the only per-architecture code), so a
 * new architecture built from the same layer ops exports without changes here.
 *
 * Both take the model as its hyper-parameters, tensor table and parameter arena (dm_net_table()'s
 * layout, e.g. straight from dm_checkpoint_load), find the tensors by name and check their shapes
 * against `hp` (_ARG naming the tensor otherwise). The file is written atomically (dm_outfile): on any
 * failure nothing is left at `path`. Returns _OK, _ARG, _NOMEM, _IO. Thread-safe (no shared state).
 * Neither prints.
 */
#ifndef DM_EXPORT_H
#define DM_EXPORT_H

#include "dm_internal.h"

dm_status dm_export_safetensors(const char *path, const dm_hparams *hp, const dm_tensor_info *tensors,
                                int32_t n, const float *params);

dm_status dm_export_onnx(const char *path, const dm_hparams *hp, const dm_tensor_info *tensors,
                         int32_t n, const float *params);

/* The ONNX opset the graph is written for (ReduceMean/ReduceMax still take `axes` as an attribute). */
#define DM_EXPORT_ONNX_OPSET 13

#endif /* DM_EXPORT_H */
