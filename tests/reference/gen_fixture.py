#!/usr/bin/python3
"""gen_fixture.py: writes the PyTorch parity fixtures tests/reference/{cnn,rnn,cnnrnn}.fix.

Each fixture holds, for one small model of each DeMo architecture (SPEC.md §2) built from PyTorch
modules: the parameters in deepmotif's canonical layout (SPEC.md §3) under the tensor names of
host/model.h, an input batch with labels, the log-softmax output, the mean NLL loss, the gradient of
the loss with respect to every parameter and to the input, and three steps of Torch7 Adam with
element-wise clipping (SPEC.md §4), implemented here by hand. tests/test_parity.c replays all of it
through the C model and compares. The file format is described in README.md next to this script.

Run by hand (never by `make test`), with Debian's torch for the system python:
    apt-get install -y python3-torch python3-numpy
    /usr/bin/python3 tests/reference/gen_fixture.py            # writes next to this script
    /usr/bin/python3 tests/reference/gen_fixture.py --out DIR  # elsewhere
The output is deterministic for a given torch version, which is pinned below.
"""

import argparse
import copy
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

TORCH_PIN = "1.13"
if not torch.__version__.startswith(TORCH_PIN):
    sys.exit(
        f"gen_fixture.py: torch {torch.__version__} found, but the fixtures are pinned to torch "
        f"{TORCH_PIN}.x (Debian bookworm's python3-torch, run with /usr/bin/python3). Other versions "
        f"may round differently and silently change the committed fixtures.")

MAGIC = b"DMFX"
VERSION = 1
ARCH_ID = {"cnn": 0, "rnn": 1, "cnnrnn": 2}

# Torch7 Adam as configured by the original (SPEC.md §4), plus the element-wise clip.
LR, BETA1, BETA2, EPS, CLIP = 0.01, 0.9, 0.999, 1e-8, 5.0
ADAM_STEPS = 3

# Smallest distance allowed between a ReLU pre-activation and 0, and between the largest and the
# second largest positive value of a max-pool window or a global max: far above float32 rounding
# (~1e-6 relative), so the C model must take the same branch at every ReLU and max.
MARGIN = 1e-5


# ---- the three architectures (SPEC.md §2), dropout p = 0 -------------------------------------------

class CNN(nn.Module):
    """conv-ReLU-maxpool for every conv but the last, conv-ReLU, global max, Linear(C, 2), log-softmax.
    Convolutions are valid, stride 1; pooling is width = stride = pool, floor."""

    def __init__(self, widths, channels, pool):
        super().__init__()
        self.pool = pool
        cin = [4] + [channels] * (len(widths) - 1)
        self.convs = nn.ModuleList(nn.Conv1d(ci, channels, k) for ci, k in zip(cin, widths))
        self.fc = nn.Linear(channels, 2)
        self.margins = []

    def forward(self, x):                               # x (B, L, 4)
        h = x.transpose(1, 2)                           # (B, 4, L): Conv1d is channels-first
        for i, conv in enumerate(self.convs):
            z = conv(h)                                 # (B, C, L_i)
            self.margins.append(("conv%d relu" % (i + 1), relu_margin(z)))
            h = F.relu(z)
            if i < len(self.convs) - 1:
                self.margins.append(("pool%d" % (i + 1), pool_margin(h, self.pool)))
                h = F.max_pool1d(h, self.pool)          # stride = kernel, ceil_mode False (floor)
        self.margins.append(("gmax", max_margin(h, 2)))
        h = h.max(dim=2).values                         # (B, C): global max over positions
        return F.log_softmax(self.fc(h), dim=1)         # (B, 2), column 0 = log P(bound)

    def canonical(self):
        """(name, tensor) pairs in deepmotif's layout; the tensors are the parameters themselves
        (or views of them), so .grad and .data map the same way (see canonical_view)."""
        out = []
        for i, conv in enumerate(self.convs):
            out.append(("conv%d.weight" % (i + 1), conv.weight, "swap12"))  # (Co,Ci,K) -> (Co,K,Ci)
            out.append(("conv%d.bias" % (i + 1), conv.bias, None))
        out.append(("fc.weight", self.fc.weight, None))
        out.append(("fc.bias", self.fc.bias, None))
        return out


class BiLSTMHead(nn.Module):
    """The recurrent block of the RNN and CNN-RNN: forward LSTM over positions; backward LSTM on the
    time-reversed input with its outputs reversed back; each direction's hidden states averaged over
    all L positions; [fwd, bwd] -> Linear(2H, 2) -> log-softmax. h0 = c0 = 0."""

    def __init__(self, D, H):
        super().__init__()
        self.fwd = nn.LSTM(D, H, batch_first=True)      # gates i, f, g, o; bias_ih and bias_hh
        self.bwd = nn.LSTM(D, H, batch_first=True)
        self.fc = nn.Linear(2 * H, 2)
        with torch.no_grad():                           # exercise both bias vectors, every gate
            for lstm in (self.fwd, self.bwd):
                lstm.bias_ih_l0.uniform_(-0.5, 0.5)
                lstm.bias_hh_l0.uniform_(-0.5, 0.5)

    def forward(self, x):                               # x (B, L, D)
        hf, _ = self.fwd(x)                             # (B, L, H)
        hb, _ = self.bwd(torch.flip(x, dims=[1]))
        hb = torch.flip(hb, dims=[1])                   # back to input order (the mean ignores it)
        feat = torch.cat([hf.mean(dim=1), hb.mean(dim=1)], dim=1)   # (B, 2H), fwd half first
        return F.log_softmax(self.fc(feat), dim=1)

    def canonical(self):
        out = []
        for d, lstm in (("fwd", self.fwd), ("bwd", self.bwd)):
            out.append(("lstm.%s.weight_ih" % d, lstm.weight_ih_l0, None))   # (4H, D)
            out.append(("lstm.%s.weight_hh" % d, lstm.weight_hh_l0, None))   # (4H, H)
            out.append(("lstm.%s.bias_ih" % d, lstm.bias_ih_l0, None))       # (4H)
            out.append(("lstm.%s.bias_hh" % d, lstm.bias_hh_l0, None))       # (4H)
        out.append(("fc.weight", self.fc.weight, None))
        out.append(("fc.bias", self.fc.bias, None))
        return out


class RNN(nn.Module):
    def __init__(self, H):
        super().__init__()
        self.head = BiLSTMHead(4, H)
        self.margins = []

    def forward(self, x):
        return self.head(x)

    def canonical(self):
        return self.head.canonical()


class CNNRNN(nn.Module):
    """Zero-pad 4 rows each side, conv 4 -> C of width 9 (output length L), ReLU, then the
    recurrent block with D = C."""

    def __init__(self, width, channels, H):
        super().__init__()
        self.pad = (width - 1) // 2
        self.conv = nn.Conv1d(4, channels, width, padding=self.pad)
        self.head = BiLSTMHead(channels, H)
        self.margins = []

    def forward(self, x):                               # x (B, L, 4)
        z = self.conv(x.transpose(1, 2))                # (B, C, L)
        self.margins.append(("conv1 relu", relu_margin(z)))
        return self.head(F.relu(z).transpose(1, 2))     # (B, L, C)

    def canonical(self):
        return [("conv1.weight", self.conv.weight, "swap12"),
                ("conv1.bias", self.conv.bias, None)] + self.head.canonical()


# ---- branch margins ------------------------------------------------------------------------------

def relu_margin(z):
    return float(z.detach().abs().min())


def max_margin(h, dim):
    """Smallest gap between the top two values of h along `dim`, over the slices whose maximum is
    positive (an all-zero slice is a tie of ReLU zeros: its gradient dies at the ReLU anyway)."""
    top2 = h.detach().topk(2, dim=dim).values
    gap = top2.select(dim, 0) - top2.select(dim, 1)
    pos = top2.select(dim, 0) > 0
    return float(gap[pos].min()) if bool(pos.any()) else math.inf


def pool_margin(h, w):
    B, C, L = h.shape
    win = h[:, :, :(L // w) * w].reshape(B, C, L // w, w)
    return max_margin(win, 3)


# ---- fixture contents ----------------------------------------------------------------------------

def canonical_view(t, how):
    return t.transpose(1, 2) if how == "swap12" else t


def params_of(model):
    return [(n, canonical_view(p.detach(), how).clone()) for n, p, how in model.canonical()]


def grads_of(model):
    return [(n, canonical_view(p.grad.detach(), how).clone()) for n, p, how in model.canonical()]


def nll_targets(labels):
    """label 1 (bound) is class 0, the first log-softmax column; label 0 is class 1."""
    return (1 - labels).long()


def run(model, x, labels, adam="torch7"):
    """Forward, loss, backward and three clipped Torch7-Adam steps on `model` (modified in place).
    Returns the records in file order, plus diagnostics. adam = "pytorch" (epsilon on the corrected
    sqrt(v), as torch.optim.Adam) or "noclip" are deliberately wrong variants, used only to show
    that the fixture tells them apart from the right one."""
    dtype = next(model.parameters()).dtype
    x = x.to(dtype).clone().requires_grad_(True)
    target = nll_targets(labels)
    recs = params_of(model)
    recs.append(("x", x.detach().clone()))
    recs.append(("labels", labels.to(dtype)))

    model.zero_grad()
    logprob = model(x)
    loss = F.nll_loss(logprob, target)                  # mean over the batch
    loss.backward()
    recs.append(("logprob", logprob.detach().clone()))
    recs.append(("loss", loss.detach().clone()))
    recs += [("grad." + n, g) for n, g in grads_of(model)]
    recs.append(("grad.x", x.grad.detach().clone()))

    # Torch7 optim.adam by hand: t, m, v per parameter; epsilon on the uncorrected sqrt(v).
    # The LSTM's bias_hh is not trained: the original (torch-rnn) has one bias per gate, and
    # deepmotif keeps the second vector only so PyTorch weights import one to one (SPEC.md §3).
    params = [p for n, p in model.named_parameters() if not n.endswith("bias_hh_l0")]
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    losses, small, clipped, total = [], [], 0, 0
    for t in range(1, ADAM_STEPS + 1):
        model.zero_grad()
        loss = F.nll_loss(model(x.detach()), target)
        loss.backward()
        losses.append(float(loss))
        step = LR * math.sqrt(1 - BETA2 ** t) / (1 - BETA1 ** t)   # a Lua double in Torch7
        with torch.no_grad():
            for p, mi, vi in zip(params, m, v):
                g = p.grad
                clipped += int((g.abs() > CLIP).sum())
                total += g.numel()
                small.append(int(((g.abs() < 1e-6) & (g != 0)).sum()))
                if adam != "noclip":
                    g = g.clamp(-CLIP, CLIP)
                mi.mul_(BETA1).add_(g, alpha=1 - BETA1)
                vi.mul_(BETA2).addcmul_(g, g, value=1 - BETA2)
                eps = EPS * math.sqrt(1 - BETA2 ** t) if adam == "pytorch" else EPS
                p.addcdiv_(mi, vi.sqrt().add_(eps), value=-step)
    with torch.no_grad():
        losses.append(float(F.nll_loss(model(x.detach()), target)))
    recs.append(("adam.losses", torch.tensor(losses, dtype=dtype)))
    recs += [("adam3." + n, p) for n, p in params_of(model)]
    diag = {"clipped": clipped, "grad_elems": total, "tiny_grads": sum(small)}
    return recs, diag


def make_input(gen, B, L, n_zero_rows, tail_row, tail_len):
    """Random one-hot rows (B, L, 4); `n_zero_rows` isolated all-zero rows (N) per sequence, never
    adjacent; sequence `tail_row` has its last `tail_len` rows zero (right padding)."""
    base = torch.randint(0, 4, (B, L), generator=gen)
    x = F.one_hot(base, 4).float()
    for b in range(B):
        pos = torch.randperm((L - tail_len) // 2, generator=gen)[:n_zero_rows] * 2
        x[b, pos] = 0
    x[tail_row, L - tail_len:] = 0
    return x


def build(arch, seed):
    """The model, input and labels of one fixture, plus its header fields."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    if arch == "cnn":
        hdr = dict(B=6, L=50, widths=[9, 5, 3], channels=16, pool=2, hidden=0)
        model = CNN(hdr["widths"], hdr["channels"], hdr["pool"])
        # Scale the output layer so that a few gradient elements exceed the clip (|g| > 5) while
        # most do not: the fixture then checks the element-wise clip inside the Adam steps too.
        with torch.no_grad():
            model.fc.weight.mul_(40.0)
        x = make_input(gen, 6, 50, 2, 4, 6)             # tail < conv1 width: no all-zero window
        labels = torch.tensor([1, 0, 1, 1, 0, 0])
    elif arch == "rnn":
        hdr = dict(B=5, L=30, widths=[], channels=0, pool=0, hidden=8)
        model = RNN(8)
        with torch.no_grad():                           # gradients well above the test's atol
            model.head.fc.weight.mul_(8.0)
        x = make_input(gen, 5, 30, 2, 3, 8)
        labels = torch.tensor([1, 0, 0, 1, 1])
    else:
        hdr = dict(B=5, L=30, widths=[9], channels=12, pool=0, hidden=8)
        model = CNNRNN(9, 12, 8)
        with torch.no_grad():
            model.head.fc.weight.mul_(8.0)
        x = make_input(gen, 5, 30, 2, 2, 8)
        labels = torch.tensor([0, 1, 1, 0, 1])
    return model, x, labels, hdr


# ---- file writer ---------------------------------------------------------------------------------

def write_fixture(path, arch, hdr, recs):
    out = bytearray()
    out += MAGIC
    out += struct.pack("<II", VERSION, ARCH_ID[arch])
    out += struct.pack("<iii", hdr["B"], hdr["L"], len(hdr["widths"]))
    out += struct.pack("<%di" % len(hdr["widths"]), *hdr["widths"])
    out += struct.pack("<iiif", hdr["channels"], hdr["pool"], hdr["hidden"], 0.0)  # dropout 0
    for name, t in recs:
        t = t.detach().to(torch.float32).contiguous()
        nb = name.encode("ascii")
        out += struct.pack("<I", len(nb)) + nb
        out += struct.pack("<I", t.dim())
        out += struct.pack("<%dq" % t.dim(), *t.shape)
        out += t.numpy().astype("<f4").tobytes()
    out += struct.pack("<I", 0)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(out)
    os.replace(tmp, path)
    return len(out)


# ---- cross-check in float64 ----------------------------------------------------------------------

# The tolerances of tests/test_parity.c, by record kind: (atol, rtol).
TOL = {"logprob": (1e-5, 1e-4), "loss": (0.0, 1e-5), "grad.": (1e-6, 1e-3),
       "adam.losses": (0.0, 1e-4), "adam3.": (2e-5, 1e-3)}


def tol_of(name):
    for k, v in TOL.items():
        if name == k or (k.endswith(".") and name.startswith(k)):
            return v
    return None


def crosscheck(recs32, recs64):
    """Worst |a - b| / (atol + rtol |b|) of the records recs32 against recs64, with the C test's
    tolerances, best first. Against the same computation in float64 it says how much of each
    tolerance float32 rounding alone uses; against a wrong Adam, whether the test would notice."""
    start32, start64 = dict(recs32), dict(recs64)
    worst = []
    for (n, a), (_, b) in zip(recs32, recs64):
        tol = tol_of(n)
        if tol is None:
            continue
        a, b = a.double(), b.double()
        err = float(((a - b).abs() / (tol[0] + tol[1] * b.abs())).max())
        if n.startswith("adam3."):                      # the test also checks the displacement
            da, db = a - start32[n[6:]].double(), b - start64[n[6:]].double()
            err = max(err, float(((da - db).abs() / (tol[0] + tol[1] * db.abs())).max()))
        worst.append((err, n))
    return sorted(worst, reverse=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="output directory (default: next to this script)")
    ap.add_argument("--seed", type=int, default=20170151)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    print("torch %s, %d thread" % (torch.__version__, torch.get_num_threads()))

    for k, arch in enumerate(("cnn", "rnn", "cnnrnn")):
        model0, x, labels, hdr = build(arch, args.seed + 100 * k)
        model = copy.deepcopy(model0)
        recs, diag = run(model, x, labels)
        recs64, _ = run(copy.deepcopy(model0).double(), x, labels)
        wrong = {v: run(copy.deepcopy(model0), x, labels, adam=v)[0] for v in ("pytorch", "noclip")}

        # Every ReLU and max must be decided with room to spare, in every forward pass.
        name, margin = min(model.margins, key=lambda nm: nm[1], default=("none", math.inf))
        if margin < MARGIN:
            sys.exit("gen_fixture.py: %s: %s margin %.3g < %g: change --seed"
                     % (arch, name, margin, MARGIN))

        path = os.path.join(args.out, arch + ".fix")
        size = write_fixture(path, arch, hdr, recs)
        n_par = sum(t.numel() for n, t in recs[:len(model.canonical())])
        rd = dict(recs)
        print("%s: %s, %d bytes, %d parameters, loss %.6f, adam losses %s"
              % (arch, path, size, n_par, float(rd["loss"]),
                 " ".join("%.6f" % v for v in rd["adam.losses"].tolist())))
        print("  grad elements over the clip in the Adam steps: %d of %d; 0 < |grad| < 1e-6: %d; "
              "smallest branch margin %.3g (%s)"
              % (diag["clipped"], diag["grad_elems"], diag["tiny_grads"], margin, name))
        worst = crosscheck(recs, recs64)
        print("  float32 vs float64, fraction of the C test's tolerance used (worst 4): "
              + ", ".join("%s %.3f" % (n, e) for e, n in worst[:4]))
        for v, what in (("pytorch", "epsilon on the corrected sqrt(v)"), ("noclip", "no clip")):
            e, n = crosscheck(recs, wrong[v])[0]
            print("  a wrong Adam, %s: %s" % (what, "%.3g x the tolerance (%s)" % (e, n) if e > 0
                                              else "identical (nothing to tell apart)"))


if __name__ == "__main__":
    main()
