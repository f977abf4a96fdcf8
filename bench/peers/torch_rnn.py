#!/usr/bin/python3
"""Independent PyTorch peer for deepmotif's RNN recipe (SPEC.md sections 1-5).

Model: bidirectional LSTM (D 4, H 32) over the one-hot 101 x 4 input, inverted dropout 0.5 on the
hidden sequence, mean of hidden states over all L positions per direction, concat (fwd first) ->
Linear(64 -> 2) -> log_softmax (positive class = index 0).

Init: LSTM W_ih, W_hh ~ N(0, 1/(D+H)); b_ih = 0 except forget block = 1; b_hh = 0 and *frozen*
(excluded from the optimiser, so there is exactly one trainable bias vector per direction, as in
torch-rnn); fc W, b ~ U(+-1/sqrt(64)).

Optimiser: Torch7 optim.adam implemented by hand (eps added to the *uncorrected* sqrt(v), step size
lr * sqrt(1-b2^t)/(1-b1^t)), lr 0.01 halved after every 10th epoch, element-wise gradient clamp +-5
after backward, batch 256 (last partial batch used, averaged over its own size), batch order reshuffled
every epoch.

Negatives: one Altschul-Erickson dinucleotide shuffle per positive (random last-edge arborescence
rooted at the last base, accepted when every vertex reaches the root, remaining edges permuted, then
the Eulerian walk). Exactly preserves the dinucleotide counts and the first and last base.
Validation: 10% of (positive, shuffle) pairs, held out together.

Selection: the epoch with the best validation AUROC; its weights are copied and the test set is scored
with them once.  AUROC = Mann-Whitney with ties counted 1/2.
"""
import argparse
import copy
import gzip
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ALPHA = "ACGT"


# ----------------------------------------------------------------------------- data
def read_seq_gz(path):
    seqs, labels = [], []
    with gzip.open(path, "rt") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        i_seq, i_lab = header.index("seq"), header.index("Bound")
        for line in fh:
            f = line.rstrip("\n").split("\t")
            if len(f) <= max(i_seq, i_lab):
                continue
            seqs.append(f[i_seq].upper())
            labels.append(int(f[i_lab]))
    return seqs, labels


def ae_dinuc_shuffle(s, rng):
    """Altschul & Erickson (1985) dinucleotide shuffle. rng: random.Random."""
    if len(s) <= 2:
        return s
    verts = sorted(set(s))
    edges = {v: [] for v in verts}          # edges[v] = successors of v, in sequence order
    for a, b in zip(s[:-1], s[1:]):
        edges[a].append(b)
    last = s[-1]
    while True:
        # choose a random last edge for every vertex (other than the final one) that has out-edges
        last_edge = {}
        for v in verts:
            if v != last and edges[v]:
                last_edge[v] = rng.choice(edges[v])
        # check every such vertex reaches `last` following last edges (i.e. they form an arborescence)
        ok = True
        for v in last_edge:
            seen = set()
            u = v
            while u != last:
                if u in seen:
                    ok = False
                    break
                seen.add(u)
                u = last_edge[u]
            if not ok:
                break
        if ok:
            break
    # build shuffled successor lists: remaining edges permuted, chosen last edge put at the end
    lists = {}
    for v in verts:
        lst = list(edges[v])
        if v in last_edge:
            lst.remove(last_edge[v])
            rng.shuffle(lst)
            lst.append(last_edge[v])
        else:
            rng.shuffle(lst)
        lists[v] = lst
    pos = {v: 0 for v in verts}
    out = [s[0]]
    u = s[0]
    for _ in range(len(s) - 1):
        nxt = lists[u][pos[u]]
        pos[u] += 1
        out.append(nxt)
        u = nxt
    r = "".join(out)
    return r


def dinuc_counts(s):
    c = {}
    for a, b in zip(s[:-1], s[1:]):
        c[a + b] = c.get(a + b, 0) + 1
    return c


def one_hot(seqs, L=101):
    lut = np.full(256, -1, dtype=np.int64)
    for i, ch in enumerate(ALPHA):
        lut[ord(ch)] = i
    X = np.zeros((len(seqs), L, 4), dtype=np.float32)
    for n, s in enumerate(seqs):
        b = np.frombuffer(s[:L].encode("ascii"), dtype=np.uint8)
        idx = lut[b]
        pos = np.nonzero(idx >= 0)[0]
        X[n, pos, idx[pos]] = 1.0
    return torch.from_numpy(X)


# ----------------------------------------------------------------------------- model
class BiLSTMMean(nn.Module):
    def __init__(self, D=4, H=32, p=0.5):
        super().__init__()
        self.lstm = nn.LSTM(D, H, num_layers=1, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(p)
        self.fc = nn.Linear(2 * H, 2)
        std = 1.0 / math.sqrt(D + H)
        with torch.no_grad():
            for name, p_ in self.lstm.named_parameters():
                if name.startswith("weight"):
                    p_.normal_(0.0, std)
                elif name.startswith("bias_ih"):
                    p_.zero_()
                    p_[H:2 * H] = 1.0          # forget gate (PyTorch order i, f, g, o)
                else:                          # bias_hh: zero and frozen
                    p_.zero_()
            s = 1.0 / math.sqrt(2 * H)
            self.fc.weight.uniform_(-s, s)
            self.fc.bias.uniform_(-s, s)

    def forward(self, x):                      # x (B, L, 4)
        h, _ = self.lstm(x)                    # (B, L, 2H): [fwd | bwd], bwd already in forward time
        h = self.drop(h)
        z = h.mean(dim=1)                      # mean over all L positions
        return F.log_softmax(self.fc(z), dim=1)


class Torch7Adam:
    """optim.adam from torch/optim (eps added to the uncorrected sqrt(v))."""

    def __init__(self, params, b1=0.9, b2=0.999, eps=1e-8):
        self.params = list(params)
        self.b1, self.b2, self.eps = b1, b2, eps
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, lr):
        self.t += 1
        b1, b2, t = self.b1, self.b2, self.t
        step = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.addcdiv_(m, v.sqrt().add_(self.eps), value=-step)


# ----------------------------------------------------------------------------- metrics
def auroc(scores, labels):
    """Mann-Whitney AUROC, ties count 1/2. labels 1 = positive."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    ranks = np.empty(len(s), dtype=np.float64)
    i = 0
    n = len(s)
    while i < n:
        j = i
        while j + 1 < n and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return (ranks[y].sum() - npos * (npos + 1) / 2.0) / (npos * nneg)


@torch.no_grad()
def evaluate(model, X, y, bs=1024):
    model.eval()
    losses, scores = [], []
    for i in range(0, len(X), bs):
        lp = model(X[i:i + bs])
        losses.append(F.nll_loss(lp, y[i:i + bs], reduction="sum").item())
        scores.append(lp[:, 0].exp())
    sc = torch.cat(scores).numpy()
    return sum(losses) / len(X), auroc(sc, (y.numpy() == 0).astype(int))


# ----------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--lr-halve-every", type=int, default=10, help="0 = constant lr")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tf-stem", default="REST_GM12878_NRSF_HudsonAlpha")
    ap.add_argument("--data-dir", default="../shared/data/deepbind")
    ap.add_argument("--arch", default="rnn", choices=["rnn"])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--valid-frac", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--train-bias-hh", action="store_true",
                    help="also train bias_hh (PyTorch double bias, 9858 params; default: frozen at 0, 9602)")
    ap.add_argument("--max-seconds", type=float, default=0, help="stop after the epoch that passes this")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng_neg = random.Random(a.seed * 1000 + 1)
    rng_split = random.Random(a.seed * 1000 + 2)
    rng_shuf = np.random.default_rng(a.seed * 1000 + 3)

    tr_path = os.path.join(a.data_dir, a.tf_stem + "_AC.seq.gz")
    te_path = os.path.join(a.data_dir, a.tf_stem + "_B.seq.gz")
    pos, lab = read_seq_gz(tr_path)
    assert all(l == 1 for l in lab), "training file should be positives only"
    t0 = time.time()
    negs = [ae_dinuc_shuffle(s, rng_neg) for s in pos]
    for s, r in zip(pos[:200], negs[:200]):
        assert dinuc_counts(s) == dinuc_counts(r) and s[0] == r[0] and s[-1] == r[-1]
    same = sum(s == r for s, r in zip(pos, negs))
    print(f"# {a.tf_stem}: {len(pos)} positives, {len(negs)} AE dinucleotide shuffles "
          f"({same} identical to their positive), {time.time() - t0:.1f}s", flush=True)

    pairs = list(range(len(pos)))
    rng_split.shuffle(pairs)
    nval = int(round(a.valid_frac * len(pairs)))
    val_pairs, tr_pairs = sorted(pairs[:nval]), sorted(pairs[nval:])

    def build(idx):
        seqs, ys = [], []
        for i in idx:
            seqs += [pos[i], negs[i]]
            ys += [0, 1]                       # class index: 0 = positive (first), 1 = negative
        return one_hot(seqs), torch.tensor(ys, dtype=torch.long)

    Xtr, ytr = build(tr_pairs)
    Xva, yva = build(val_pairs)
    tes, tel = read_seq_gz(te_path)
    Xte = one_hot(tes)
    yte = torch.tensor([0 if l == 1 else 1 for l in tel], dtype=torch.long)
    print(f"# train {len(Xtr)} seqs, valid {len(Xva)}, test {len(Xte)} "
          f"({sum(tel)} pos); seed {a.seed}; lr {a.lr} halved every {a.lr_halve_every}; "
          f"threads {torch.get_num_threads()}; torch {torch.__version__}", flush=True)

    model = BiLSTMMean()
    frozen = () if a.train_bias_hh else ("lstm.bias_hh",)
    params = [p for n, p in model.named_parameters() if not n.startswith(frozen or ("\0",))]
    for n, p in model.named_parameters():
        if frozen and n.startswith(frozen):
            p.requires_grad_(False)
    ntrain = sum(p.numel() for p in params)
    print(f"# trainable params {ntrain}", flush=True)
    opt = Torch7Adam(params)

    best = (-1.0, 0, None)
    print("epoch\tlr\ttrain_loss\tvalid_loss\tvalid_auroc\tsec", flush=True)
    t_start = time.time()
    for ep in range(1, a.epochs + 1):
        te0 = time.time()
        lr = a.lr * (0.5 ** ((ep - 1) // a.lr_halve_every) if a.lr_halve_every > 0 else 1.0)
        model.train()
        perm = torch.from_numpy(rng_shuf.permutation(len(Xtr)))
        tot, n = 0.0, 0
        for i in range(0, len(Xtr), a.batch):
            idx = perm[i:i + a.batch]
            xb, yb = Xtr[idx], ytr[idx]
            for p in params:
                p.grad = None
            loss = F.nll_loss(model(xb), yb)
            loss.backward()
            for p in params:
                p.grad.clamp_(-5.0, 5.0)
            opt.step(lr)
            tot += loss.item() * len(idx)
            n += len(idx)
        vl, va = evaluate(model, Xva, yva)
        sec = time.time() - te0
        print(f"{ep}\t{lr:g}\t{tot / n:.4f}\t{vl:.4f}\t{va:.4f}\t{sec:.1f}", flush=True)
        if va > best[0]:
            best = (va, ep, copy.deepcopy(model.state_dict()))
        if a.max_seconds and time.time() - t_start > a.max_seconds:
            print(f"# stopping: {time.time() - t_start:.0f}s > --max-seconds", flush=True)
            break
    last_tl, last_ta = evaluate(model, Xte, yte)
    model.load_state_dict(best[2])
    tl, ta = evaluate(model, Xte, yte)
    print(f"# best valid AUROC {best[0]:.4f} at epoch {best[1]}; test loss {tl:.4f} test AUROC {ta:.4f}"
          f" (last epoch: test AUROC {last_ta:.4f}); total {time.time() - t_start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
