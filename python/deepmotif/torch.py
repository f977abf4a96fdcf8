"""deepmotif.torch: PyTorch interchange (the only module of the package that imports torch).

    net = deepmotif.torch.to_torch(model)       # or model.to_torch()
    model = deepmotif.torch.from_torch(net)     # or deepmotif.Model.from_torch(net)

The module computes what the engine computes (eval mode: dropout off), from the engine's own layer
lists (host/arch.c), written out here per architecture:

  cnn     [conv → ReLU → maxpool(pool) → dropout] × (n−1) → conv → ReLU → dropout → global max → fc
  rnn     BiLSTM → dropout → mean over time → fc
  cnnrnn  zero-pad (K−1)/2 → conv → ReLU → BiLSTM → dropout → mean over time → fc
  danq    conv → ReLU → maxpool(pool) → dropout → BiLSTM → mean over time → fc
  every one ends with log-softmax over 2 classes in the order (bound, unbound).

Input (B, L, 4) channels-last, A C G T (channels_first=True: (B, 4, L), the layout of tangermeme,
Captum examples and bpnet-lite). Output (B, 2) log-probabilities: column 0 is log P(bound).

Tensors: deepmotif's names are PyTorch's; the conv weights are stored (C_out, K, C_in) by deepmotif
and (C_out, C_in, K) by Conv1d (a transpose); the two LSTM directions become one bidirectional
nn.LSTM (weight_ih_l0 = lstm.fwd.weight_ih, weight_ih_l0_reverse = lstm.bwd.weight_ih, ...), whose
gate order (i, f, g, o) and two bias vectors deepmotif uses as they are.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import _model


def layers_of(hp):
    """The layer list of hyper-parameters `hp` (Model.hparams): (op, dict) pairs."""
    arch, C, H, p = hp["arch"], hp["conv_channels"], hp["hidden"], hp["dropout"]
    widths = hp["conv_width"][:hp["n_conv"]]
    out = []
    if arch == "cnn":
        cin = 4
        for i, k in enumerate(widths):
            out.append(("conv", dict(name="conv%d" % (i + 1), cin=cin, cout=C, k=k, pad=0)))
            out.append(("relu", {}))
            if i < len(widths) - 1:
                out.append(("maxpool", dict(k=hp["pool"])))
            out.append(("dropout", dict(p=p)))
            cin = C
        out.append(("gmax", {}))
        out.append(("dense", dict(name="fc", fin=C)))
    elif arch in ("rnn", "cnnrnn", "danq"):
        D = 4
        if arch != "rnn":
            k = widths[0]
            out.append(("conv", dict(name="conv1", cin=4, cout=C, k=k,
                                     pad=(k - 1) // 2 if arch == "cnnrnn" else 0)))
            out.append(("relu", {}))
            if arch == "danq":
                out.append(("maxpool", dict(k=hp["pool"])))
                out.append(("dropout", dict(p=p)))
            D = C
        out.append(("bilstm", dict(name="lstm", D=D, H=H)))
        if arch != "danq":
            out.append(("dropout", dict(p=p)))
        out.append(("mean", {}))
        out.append(("dense", dict(name="fc", fin=2 * H)))
    else:
        raise ValueError("deepmotif.torch: no PyTorch layout for architecture %r" % arch)
    return out


class DeepMotifNet(nn.Module):
    """A deepmotif model as a torch module. `hparams` (Model.hparams) is kept, so from_torch can
    rebuild the deepmotif model. Submodules: convs (ModuleList of Conv1d), lstm (bidirectional
    LSTM, batch_first) or None, fc (Linear(F, 2))."""

    def __init__(self, hparams, channels_first=False):
        super().__init__()
        self.hparams = dict(hparams)
        self.channels_first = channels_first
        self.layers = layers_of(self.hparams)
        self.convs = nn.ModuleList()
        self.lstm = None
        self.drop = nn.ModuleList()
        for op, a in self.layers:
            if op == "conv":
                self.convs.append(nn.Conv1d(a["cin"], a["cout"], a["k"], padding=a["pad"]))
            elif op == "bilstm":
                self.lstm = nn.LSTM(a["D"], a["H"], batch_first=True, bidirectional=True)
            elif op == "dropout":
                self.drop.append(nn.Dropout(a["p"]))
            elif op == "dense":
                self.fc = nn.Linear(a["fin"], 2)

    def forward(self, x):
        h = x if self.channels_first else x.transpose(1, 2)     # (B, C, L) while convolving
        ci = di = 0
        for op, a in self.layers:
            if op == "conv":
                h = self.convs[ci](h)
                ci += 1
            elif op == "relu":
                h = F.relu(h)
            elif op == "maxpool":
                h = F.max_pool1d(h, a["k"])                      # width = stride, floor
            elif op == "dropout":
                h = self.drop[di](h)
                di += 1
            elif op == "gmax":
                h = h.max(dim=2).values                          # (B, C)
            elif op == "bilstm":
                h, _ = self.lstm(h.transpose(1, 2))               # (B, L, 2H), [fwd, bwd]
                h = h.transpose(1, 2)                             # back to (B, 2H, L)
            elif op == "mean":
                h = h.mean(dim=2)                                 # (B, 2H)
            elif op == "dense":
                h = self.fc(h)
        return F.log_softmax(h, dim=1)

    def extra_repr(self):
        return "arch=%s, length=%d, input=%s" % (self.hparams["arch"], self.hparams["length"],
                                                "(B, 4, L)" if self.channels_first else "(B, L, 4)")


# deepmotif name <-> torch state_dict name (LSTM; conv and fc are found per index below)
_LSTM = [("fwd", ""), ("bwd", "_reverse")]
_LSTM_KINDS = [("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"),
               ("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0")]


def _name_map(net):
    """deepmotif tensor name -> (torch state_dict key, transpose?)."""
    out = {}
    ci = 0
    for op, a in net.layers:
        if op == "conv":
            out[a["name"] + ".weight"] = ("convs.%d.weight" % ci, True)
            out[a["name"] + ".bias"] = ("convs.%d.bias" % ci, False)
            ci += 1
        elif op == "bilstm":
            for d, suf in _LSTM:
                for dk, tk in _LSTM_KINDS:
                    out["%s.%s.%s" % (a["name"], d, dk)] = ("lstm.%s%s" % (tk, suf), False)
        elif op == "dense":
            out["fc.weight"] = ("fc.weight", False)
            out["fc.bias"] = ("fc.bias", False)
    return out


def to_torch(model, channels_first=False):
    """A DeepMotifNet in eval mode holding a copy of model's parameters (float32, CPU)."""
    return net_from_params(model.hparams, model.params, channels_first)


def net_from_params(hparams, params, channels_first=False):
    """A DeepMotifNet in eval mode from hyper-parameters (Model.hparams' dict) and parameters in
    deepmotif's names and layout (Model.params' dict)."""
    net = DeepMotifNet(hparams, channels_first=channels_first)
    names = _name_map(net)
    if set(names) != set(params):
        raise ValueError("deepmotif.torch: the %s model's tensors %s do not match the PyTorch layout's %s"
                         % (hparams["arch"], sorted(params), sorted(names)))
    sd = {}
    for dn, (tn, tr) in names.items():
        a = np.asarray(params[dn], dtype=np.float32)
        sd[tn] = torch.from_numpy(np.array(a.transpose(0, 2, 1) if tr else a, copy=True))
    net.load_state_dict(sd, strict=True)
    return net.eval()


def from_torch(module, device=None, threads=0):
    """A deepmotif.Model with the parameters of `module`: a DeepMotifNet (to_torch's output, possibly
    fine-tuned in PyTorch). Parameters are copied (as float32)."""
    if not isinstance(module, DeepMotifNet):
        raise TypeError("deepmotif.torch.from_torch takes a DeepMotifNet (Model.to_torch()'s module); "
                        "for another module, build a DeepMotifNet of the same shape and load its "
                        "state_dict into it first")
    hp = dict(module.hparams)
    arch = hp.pop("arch")
    model = _model.Model(arch, device=device, threads=threads, **hp)
    sd = module.state_dict()
    params = {}
    for dn, (tn, tr) in _name_map(module).items():
        a = sd[tn].detach().to("cpu", torch.float32).numpy()
        params[dn] = a.transpose(0, 2, 1) if tr else a
    model.set_params(params)
    return model
