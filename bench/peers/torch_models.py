#!/usr/bin/env python3
"""PyTorch peer for deepmotif's CPU benchmarks (issue 12): the three DeMo models as deepmotif defines
them (README "Models", host/arch.c), timed the way bench/bench_train.c, bench/bench_infer.c and
bench/bench_visualize.c time deepmotif, so bench/compare.sh can put the two side by side.

Models (defaults of SPEC.md §2, L 101, one-hot input, log-softmax with the bound class first):
  cnn     conv 4→128 K9 · ReLU · max-pool 2 · dropout 0.5 · conv 128→128 K5 · ReLU · max-pool 2 ·
          dropout · conv 128→128 K3 · ReLU · dropout · global max · linear 128→2     136,322 parameters
  rnn     BiLSTM (D 4, H 32) over all 101 positions · dropout 0.5 · mean over time ·
          linear 64→2                                                  9,602 trained (+256 b_hh fixed)
  cnnrnn  conv 4→128 K9, zero-pad 4 · ReLU · BiLSTM (D 128, H 32) · dropout · mean · linear 64→2
                                                                       46,082 trained (+256 b_hh fixed)
Initialisation as deepmotif's (conv, linear U(±1/√fan_in); LSTM W ~ N(0, 1/(D+H)), b_ih[forget] 1, other
biases 0); b_hh is frozen (requires_grad False), as deepmotif trains only b_ih. Speed does not depend on
the weights; the init only keeps the activations in the same range.

Each model takes its input in the layout it runs fastest in, prepared once outside the timing (a torch
user's data loader would): (B, 4, L) for the convolutional models (nn.Conv1d's layout), (B, L, 4) for
the RNN (nn.LSTM batch_first). Float32, torch.set_num_threads(--threads), default 2.

Workloads (sequences per second, the median of timed repeats after a warm-up):
  train     one step at batch 256: zero_grad, forward in train mode (dropout on), mean NLL, backward,
            element-wise clamp of every gradient to ±5, torch.optim.Adam(lr 0.01) step; as bench_train:
            2 warm-up steps, then ≥ --repeats steps and ≥ 1 s.
  infer     eval-mode forward under torch.inference_mode() at batch 256, log P(bound) read back;
  infer1    the same at batch 1 (latency: sequences/s = 1 / median); as bench_infer: 2 warm-ups,
            ≥ --repeats and ≥ 1 s.
  saliency  Captum's Saliency without abs (abs=False): torch.autograd.grad of Σ log P(bound) over the
            batch with respect to the input, eval mode, batch 256 (autograd.grad computes no weight
            gradient, as deepmotif's input-only backward); as bench_visualize: 1 warm-up, ≥ 3 repeats
            and ≥ 1 s.
  ig        integrated gradients, 64 midpoint steps from the zero baseline (deepmotif's default),
            (x − x0) ⊙ mean gradient, for 32 sequences; all 64 × 32 path points in one
            forward/backward (Captum's default internal batch); sequences/s over the 32.
  ism       in-silico mutagenesis, all 4·L single-base variants of a sequence (the unchanged base
            included, as deepmotif) scored under inference_mode in forward batches of 256, minus the
            sequence's own score; 2 sequences per repeat as bench_visualize; sequences/s.

Output: '#' header lines (torch, threads, CPU), then CSV rows
  peer,arch,workload,batch,threads,repeats,median_s,seq_per_s
  usage: torch_models.py [--threads 2] [--repeats 10] [--arch cnn,rnn,cnnrnn]
         [--workloads train,infer,infer1,saliency,ig,ism]
"""
import argparse
import math
import platform
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

L = 101
EXPECTED_PARAMS = {"cnn": (136322, 0), "rnn": (9602, 256), "cnnrnn": (46082, 256)}


def _init_lstm(lstm, D, H):
    sd = 1.0 / math.sqrt(D + H)
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("weight"):
                p.normal_(0.0, sd)
            else:
                p.zero_()
                if name.startswith("bias_ih"):
                    p[H:2 * H] = 1.0                   # forget gate (gate order i, f, g, o)
        for name, p in lstm.named_parameters():
            if name.startswith("bias_hh"):
                p.requires_grad_(False)                # deepmotif trains b_ih only


class CNN(nn.Module):
    channels_first = True

    def __init__(self, C=128, widths=(9, 5, 3), pool=2, p=0.5):
        super().__init__()
        self.convs = nn.ModuleList()
        ci = 4
        for k in widths:
            self.convs.append(nn.Conv1d(ci, C, k))     # PyTorch's default init is U(±1/√fan_in)·(√5 gain)
            ci = C
        self.pool, self.p = pool, p
        self.fc = nn.Linear(C, 2)
        with torch.no_grad():                          # deepmotif / Torch7: U(±1/√fan_in) for W and b
            for m in list(self.convs) + [self.fc]:
                s = 1.0 / math.sqrt(m.weight[0].numel())
                m.weight.uniform_(-s, s)
                m.bias.uniform_(-s, s)

    def forward(self, x):                              # x (B, 4, L)
        h = x
        for i, conv in enumerate(self.convs):
            h = F.relu(conv(h))
            if i < len(self.convs) - 1:
                h = F.max_pool1d(h, self.pool)
            h = F.dropout(h, self.p, self.training)
        h = h.amax(dim=2)                              # global max over positions
        return F.log_softmax(self.fc(h), dim=1)


class RNN(nn.Module):
    channels_first = False

    def __init__(self, H=32, p=0.5, conv=None):
        super().__init__()
        self.conv = None
        D = 4
        if conv is not None:                           # the CNN-RNN's front: conv (C, K), zero-pad (K−1)/2
            C, K = conv
            self.conv = nn.Conv1d(4, C, K, padding=(K - 1) // 2)
            with torch.no_grad():
                s = 1.0 / math.sqrt(self.conv.weight[0].numel())
                self.conv.weight.uniform_(-s, s)
                self.conv.bias.uniform_(-s, s)
            D = C
            self.channels_first = True
        self.lstm = nn.LSTM(D, H, batch_first=True, bidirectional=True)
        _init_lstm(self.lstm, D, H)
        self.p = p
        self.fc = nn.Linear(2 * H, 2)
        with torch.no_grad():
            s = 1.0 / math.sqrt(2 * H)
            self.fc.weight.uniform_(-s, s)
            self.fc.bias.uniform_(-s, s)

    def forward(self, x):                              # (B, L, 4); the CNN-RNN: (B, 4, L)
        if self.conv is not None:
            x = F.relu(self.conv(x)).transpose(1, 2)   # (B, L, C) for the LSTM
        h, _ = self.lstm(x)                            # (B, L, 2H), forward half first
        h = F.dropout(h, self.p, self.training)
        return F.log_softmax(self.fc(h.mean(dim=1)), dim=1)


def build(arch):
    m = {"cnn": lambda: CNN(), "rnn": lambda: RNN(), "cnnrnn": lambda: RNN(conv=(128, 9))}[arch]()
    trained = sum(p.numel() for p in m.parameters() if p.requires_grad)
    fixed = sum(p.numel() for p in m.parameters() if not p.requires_grad)
    if (trained, fixed) != EXPECTED_PARAMS[arch]:
        raise SystemExit(f"torch_models: {arch} has {trained} trained + {fixed} fixed parameters, "
                         f"deepmotif has {EXPECTED_PARAMS[arch]}")
    return m


def onehot(B, seed, channels_first):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (B, L), generator=g)
    x = F.one_hot(codes, 4).float()                    # (B, L, 4)
    return x.transpose(1, 2).contiguous() if channels_first else x.contiguous()


def time_median(fn, warmup, min_repeats, min_total=1.0):
    for _ in range(warmup):
        fn()
    t = []
    while len(t) < min_repeats or sum(t) < min_total:
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    t.sort()
    n = len(t)
    return (t[n // 2] if n % 2 else 0.5 * (t[n // 2 - 1] + t[n // 2])), n


def bench_arch(arch, workloads, threads, repeats, out):
    torch.manual_seed(1)
    m = build(arch)
    cf = m.channels_first
    rows = []

    def row(workload, B, n, med, seqs):
        rows.append(f"torch,{arch},{workload},{B},{threads},{n},{med:.6f},{seqs / med:.1f}")
        print(rows[-1], file=out, flush=True)

    if "train" in workloads:
        B = 256
        x = onehot(B, 7, cf)
        y = torch.arange(B) % 2                        # class 0 = bound, as deepmotif's labels 1/0
        params = [p for p in m.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=0.01)
        m.train()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.nll_loss(m(x), y)
            loss.backward()
            for p in params:
                p.grad.clamp_(-5.0, 5.0)
            opt.step()
        med, n = time_median(step, 2, repeats)
        row("train", B, n, med, B)
    m.eval()
    for wl, B in (("infer", 256), ("infer1", 1)):
        if wl in workloads:
            x = onehot(B, 3, cf)

            def infer():
                with torch.inference_mode():
                    return m(x)[:, 0].exp().tolist()   # P(bound) back on the host, as dm_net_scores
            med, n = time_median(infer, 2, repeats)
            row(wl, B, n, med, B)
    if "saliency" in workloads:
        B = 256
        x = onehot(B, 3, cf)

        def saliency():
            xi = x.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(m(xi)[:, 0].sum(), xi)
            return g
        med, n = time_median(saliency, 1, 3)
        row("saliency", B, n, med, B)
    if "ig" in workloads:
        B, steps = 32, 64
        x = onehot(B, 3, cf)
        x0 = torch.zeros_like(x)
        alphas = ((torch.arange(steps, dtype=torch.float32) + 0.5) / steps).view(steps, 1, 1, 1)

        def ig():
            path = (x0 + alphas * (x - x0)).reshape(steps * B, *x.shape[1:]).requires_grad_(True)
            (g,) = torch.autograd.grad(m(path)[:, 0].sum(), path)
            return (x - x0) * g.view(steps, *x.shape).mean(dim=0)
        med, n = time_median(ig, 1, 3)
        row("ig64", B, n, med, B)
    if "ism" in workloads:
        B = 2
        x = onehot(B, 3, cf)

        def ism():
            out = []
            with torch.inference_mode():
                for b in range(B):
                    xb = x[b] if not cf else x[b].t()  # (L, 4)
                    v = xb.unsqueeze(0).repeat(4 * L, 1, 1)
                    idx = torch.arange(4 * L)
                    v[idx, idx // 4, :] = 0.0
                    v[idx, idx // 4, idx % 4] = 1.0
                    if cf:
                        v = v.transpose(1, 2).contiguous()
                    s = torch.cat([m(v[i:i + 256])[:, 0] for i in range(0, 4 * L, 256)])
                    ref = s[int(xb[0].argmax())]       # variant 0..3 at position 0: the present base
                    out.append((s - ref).view(L, 4))
            return out
        med, n = time_median(ism, 1, 3)
        row("ism", B, n, med, B)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--arch", default="cnn,rnn,cnnrnn")
    ap.add_argument("--workloads", default="train,infer,infer1,saliency,ig,ism")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    archs = [s for s in a.arch.split(",") if s]
    workloads = set(a.workloads.split(","))
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"# torch_models: PyTorch {torch.__version__}, {a.threads} threads, float32, L {L}")
    print(f"# cpu: {cpu}; oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}; "
          f"capability {torch.backends.cpu.get_cpu_capability()}")
    print("peer,arch,workload,batch,threads,repeats,median_s,seq_per_s", flush=True)
    for arch in archs:
        bench_arch(arch, workloads, a.threads, a.repeats, sys.stdout)


if __name__ == "__main__":
    main()
