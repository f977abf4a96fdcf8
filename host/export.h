/*
 * export.h: a trained model's weights in formats other tools read without deepmotif (issue 11).
 *
 *   safetensors  the parameters under their deepmotif names (conv1.weight, lstm.fwd.weight_ih,
 *                fc.bias, ...) in PyTorch's layout: conv weights (C_out, C_in, K) as torch's Conv1d
 *                holds them (the canonical (C_out, K, C_in) transposed), the rest unchanged (the LSTM
 *                gates already are PyTorch's i, f, g, o). F32 little-endian. __metadata__ holds the
 *                architecture and every hyper-parameter, so a loader can rebuild the module first.
 *   ONNX         the whole eval-mode forward pass (dropout is the identity) as an opset-13 graph:
 *                input "x" float (N, L, 4) one-hot A, C, G, T channels-last, output "logprob" (N, 2)
 *                = log-softmax over (bound, unbound), the engine's dm_net_logprob.
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
