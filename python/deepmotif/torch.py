"""deepmotif.torch: PyTorch interchange (the only module of the package that imports torch).

    net = deepmotif.torch.to_torch(model)       # or model.to_torch()
    model = deepmotif.torch.from_torch(net)     # or deepmotif.Model.from_torch(net)

The module computes what the engine computes (eval mode: dropout off), from the engine's own layer
list: deepmotif.layers(hparams) asks the library's architecture table (dm_arch_layers_of), and the
module has one case per layer op (conv, relu, maxpool, dropout, gmax, bilstm, mean, dense,
logsoftmax), none per architecture, so every registered architecture, a new one included, has its
PyTorch twin without a change here.

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
    """The layer list of hyper-parameters `hp` (Model.hparams' dict), from the library
    (deepmotif.layers): dicts {op, n, k, pad, p, name, len_in, ch_in, len_out, ch_out}."""
    return _model.layers(hp)


class DeepMotifNet(nn.Module):
    """A deepmotif model as a torch module. `hparams` (Model.hparams) is kept, so from_torch can
    rebuild the deepmotif model. Submodules: convs (ModuleList of Conv1d, one per CONV layer, in
    order), drop (ModuleList of Dropout), and one module per BILSTM and DENSE layer under the layer's
    tensor name: lstm (bidirectional LSTM, batch_first; None when the model has no BiLSTM) and
    fc (Linear(F, 2))."""

    def __init__(self, hparams, channels_first=False):
        super().__init__()
        self.hparams = dict(hparams)
        self.channels_first = channels_first
        self.layers = layers_of(self.hparams)
        self.convs = nn.ModuleList()
        self.drop = nn.ModuleList()
        self.lstm = None
        for a in self.layers:
            op = a["op"]
            if op == "conv":
                self.convs.append(nn.Conv1d(a["ch_in"], a["n"], a["k"], padding=a["pad"]))
            elif op == "bilstm":
                self._named(a, nn.LSTM(a["ch_in"], a["n"], batch_first=True, bidirectional=True))
            elif op == "dropout":
                self.drop.append(nn.Dropout(a["p"]))
            elif op == "dense":
                if a["len_in"] != 1:
                    raise ValueError("deepmotif.torch: a dense layer over %d steps (no flatten op)" % a["len_in"])
                self._named(a, nn.Linear(a["ch_in"], a["n"]))
            elif op not in ("relu", "maxpool", "gmax", "mean", "logsoftmax"):
                raise ValueError("deepmotif.torch: no PyTorch case for layer op %r of the %s architecture "
                                 "(a newer library than this package)" % (op, self.hparams["arch"]))

    def _named(self, a, module):
        name = a["name"]
        if not name.isidentifier() or getattr(self, name, None) is not None:   # a clash: "convs", "forward"
            raise ValueError("deepmotif.torch: layer name %r cannot be a submodule name" % name)
        setattr(self, name, module)

    def forward(self, x):
        h = x if self.channels_first else x.transpose(1, 2)     # (B, C, L) while over time
        ci = di = 0
        for a in self.layers:
            op = a["op"]
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
                h, _ = getattr(self, a["name"])(h.transpose(1, 2))  # (B, L, 2H), [fwd, bwd]
                h = h.transpose(1, 2)                             # back to (B, 2H, L)
            elif op == "mean":
                h = h.mean(dim=2)                                 # (B, C)
            elif op == "dense":
                h = getattr(self, a["name"])(h)                   # (B, F) → (B, n)
            elif op == "logsoftmax":
                h = F.log_softmax(h, dim=1)
        return h

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
    for a in net.layers:
        name = a["name"]
        if a["op"] == "conv":
            out[name + ".weight"] = ("convs.%d.weight" % ci, True)
            out[name + ".bias"] = ("convs.%d.bias" % ci, False)
            ci += 1
        elif a["op"] == "bilstm":
            for d, suf in _LSTM:
                for dk, tk in _LSTM_KINDS:
                    out["%s.%s.%s" % (name, d, dk)] = ("%s.%s%s" % (name, tk, suf), False)
        elif a["op"] == "dense":
            out[name + ".weight"] = (name + ".weight", False)
            out[name + ".bias"] = (name + ".bias", False)
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
