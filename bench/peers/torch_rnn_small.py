#!/usr/bin/python3
"""The PyTorch peer's BiLSTM (bench/peers/torch_rnn.py) on a small set, with the knobs deepmotif's
`train` lacks, to see whether the RNN's collapse at 500 positives is the protocol's or the model's
(issue 15, bench/results/rnn_small.md). Not a test and not needed by `make test`.

    /path/to/venv/bin/python bench/peers/torch_rnn_small.py --dir WORK/data/n500.s1 \
        --tf REST_GM12878_NRSF_HudsonAlpha [--lr X] [--halve STEPS] [--batch B] [--wd W] [--H H] [--p P]

Data: DIR/TF_AC.seq.gz (positives; one dinucleotide shuffle each, 10 % of the pairs held out for
validation, both strands for training) and DIR/TF_B.seq.gz (test, scored as the mean of both strands).
Training: Torch7 Adam, element-wise clip +-5, lr halved every --halve steps, decoupled weight decay
--wd on the weight matrices, early stopping after --patience steps without a better validation AUROC
(checked every epoch), at most --steps. Prints one line: best validation AUROC, its step, the step it
stopped at, the test AUROC of the best weights.
"""
# bench/learning_curve.sh writes DIR (seeded subsamples of ../shared/data/deepbind).
import sys, os, random, copy, time, argparse
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
import torch_rnn as T
ap = argparse.ArgumentParser()
ap.add_argument("--wd", type=float, default=0.0)
ap.add_argument("--H", type=int, default=32)
ap.add_argument("--lr", type=float, default=0.00125)
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--steps", type=int, default=30000)
ap.add_argument("--patience", type=int, default=3000)
ap.add_argument("--halve", type=int, default=1200)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--tf", default="REST_GM12878_NRSF_HudsonAlpha")
ap.add_argument("--dir", required=True, help="a folder of TF_AC.seq.gz / TF_B.seq.gz")
ap.add_argument("--p", type=float, default=0.5)
a = ap.parse_args()
torch.set_num_threads(1); torch.manual_seed(a.seed)
pos, _ = T.read_seq_gz(os.path.join(a.dir, a.tf + "_AC.seq.gz"))
rng = random.Random(a.seed)
negs = [T.ae_dinuc_shuffle(s, rng) for s in pos]
pairs = list(range(len(pos))); rng.shuffle(pairs)
nval = int(round(0.1 * len(pairs)))
def build(idx):
    s, y = [], []
    for i in idx: s += [pos[i], negs[i]]; y += [0, 1]
    return T.one_hot(s), torch.tensor(y)
Xtr, ytr = build(pairs[nval:]); Xva, yva = build(pairs[:nval])
rc = lambda X: X.flip(1).flip(2)
Xtr = torch.cat([Xtr, rc(Xtr)]); ytr = torch.cat([ytr, ytr])
tes, tel = T.read_seq_gz(os.path.join(a.dir, a.tf + "_B.seq.gz"))
Xte = T.one_hot(tes); yte = torch.tensor([0 if l == 1 else 1 for l in tel])
m = T.BiLSTMMean(H=a.H, p=a.p)
params = [p for n, p in m.named_parameters() if not n.startswith("lstm.bias_hh")]
for n, p in m.named_parameters():
    if n.startswith("lstm.bias_hh"): p.requires_grad_(False)
opt = T.Torch7Adam(params)
def ev(X, y):
    m.eval()
    with torch.no_grad():
        lp = m(X); lp2 = m(rc(X))
        s = (lp[:, 0].exp() + lp2[:, 0].exp()) / 2
    return T.auroc(s.numpy(), (y == 0).numpy())
best = (-1, 0, None); step = 0; g = np.random.default_rng(a.seed)
while step < a.steps and step - best[1] < a.patience:
    perm = torch.from_numpy(g.permutation(len(Xtr)))
    m.train()
    for i in range(0, len(Xtr) - a.batch + 1, a.batch):
        idx = perm[i:i + a.batch]
        for p in params: p.grad = None
        loss = F.nll_loss(m(Xtr[idx]), ytr[idx]); loss.backward()
        for p in params: p.grad.clamp_(-5, 5)
        lr = a.lr * 0.5 ** (step // a.halve)
        if a.wd:
            with torch.no_grad():
                for n, p in m.named_parameters():
                    if p.requires_grad and "weight" in n: p.mul_(1 - lr * a.wd)
        opt.step(lr); step += 1
    va = ev(Xva, yva)
    if va > best[0]: best = (va, step, copy.deepcopy(m.state_dict()))
m.load_state_dict(best[2])
print(f"wd {a.wd} H {a.H} lr {a.lr} seed {a.seed} {a.tf[:6]}: best valid {best[0]:.3f} at step {best[1]}, stopped {step}, test {ev(Xte, yte):.3f}", flush=True)
