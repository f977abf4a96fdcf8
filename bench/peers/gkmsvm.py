#!/usr/bin/env python3
"""Gapped k-mer SVM peer (issue 15): gkmsvm-lite (PyPI), a Python implementation of LS-GKM's
gkm-SVM, trained on one training set and scored on a test set.

    python bench/peers/gkmsvm.py --train NAME_AC.seq.gz --test NAME_B.seq.gz [--seed 1]
        [--max-pos N] [--l 11 --k 7 --d 3 --C 1.0] [--kernel estimated] [--out scores.tsv]

Inputs: DeepBind TSV (FoldID EventID seq Bound, gzip or plain) or FASTA.
  --train: a DeepBind _AC file holds positives only (Bound all 1): each positive gets one seeded
  dinucleotide shuffle (Altschul-Erickson) as its negative, the negatives `deepmotif train
  --negatives shuffle` uses (the same kind of shuffle, not the same random draw). A labelled file
  (both classes) is used as it is. FASTA: --train-pos POS.fa --train-neg NEG.fa instead.
  --max-pos N: a seeded subsample of N positives (and then their N shuffles).
  --test: labelled DeepBind TSV, or --test-pos/--test-neg FASTA.
Output (stdout): one TSV line with a header: auroc auprc n_pos n_neg n_test train_s predict_s, and with
--out the test scores (label, score) in input order. Seeded: the subsample and the shuffles use
numpy's PCG64 from --seed; the SVM solver itself is deterministic.
Environment: NUMBA_NUM_THREADS (kernel threads; default all cores).
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np


def _open(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gz else open(path, "rt")


def read_seqs(path):
    """(seqs, labels or None) from a DeepBind TSV or a FASTA file."""
    with _open(path) as f:
        text = f.read()
    if text.startswith(">"):
        seqs, cur = [], []
        for line in text.splitlines():
            if line.startswith(">"):
                if cur:
                    seqs.append("".join(cur).upper())
                cur = []
            elif line.strip():
                cur.append(line.strip())
        if cur:
            seqs.append("".join(cur).upper())
        return seqs, None
    lines = text.splitlines()
    head = lines[0].split("\t")
    if "seq" not in head:
        sys.exit(f"gkmsvm.py: {path}:1: no 'seq' column in the header (DeepBind TSV or FASTA expected)")
    si = head.index("seq")
    bi = head.index("Bound") if "Bound" in head else None
    seqs, labels = [], []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) <= max(si, bi or 0):
            sys.exit(f"gkmsvm.py: {path}:{n}: too few columns")
        seqs.append(cols[si].upper())
        labels.append(int(cols[bi]) if bi is not None else 1)
    return seqs, np.array(labels, dtype=np.int64)


def dinuc_shuffle(s, rng):
    """Altschul-Erickson dinucleotide shuffle: a random Eulerian walk over the sequence's
    dinucleotide graph, starting and ending where s does (dinucleotide counts kept exactly)."""
    if len(s) < 3:
        return s
    succ = {}
    for a, b in zip(s, s[1:]):
        succ.setdefault(a, []).append(b)
    last = s[-1]
    # A random last edge per vertex (other than `last`) forming a tree towards `last`.
    while True:
        last_edge = {v: es[rng.integers(len(es))] for v, es in succ.items() if v != last}
        ok = True
        for v in last_edge:
            seen, u = set(), v
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
    order = {}
    for v, es in succ.items():
        es = list(es)
        if v in last_edge:
            es.remove(last_edge[v])
            rng.shuffle(es)
            es.append(last_edge[v])
        else:
            rng.shuffle(es)
        order[v] = es
    pos = {v: 0 for v in order}
    out = [s[0]]
    u = s[0]
    for _ in range(len(s) - 1):
        v = order[u][pos[u]]
        pos[u] += 1
        out.append(v)
        u = v
    return "".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train")
    p.add_argument("--train-pos")
    p.add_argument("--train-neg")
    p.add_argument("--test")
    p.add_argument("--test-pos")
    p.add_argument("--test-neg")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-pos", type=int, default=0, help="seeded subsample of N positives (0: all)")
    p.add_argument("--kernel", default="estimated", help="gkmsvm-lite kernel_type (LS-GKM -t); default its own")
    p.add_argument("--l", type=int, default=11)
    p.add_argument("--k", type=int, default=7)
    p.add_argument("--d", type=int, default=3)
    p.add_argument("--C", type=float, default=1.0)
    p.add_argument("--out", help="write label<TAB>score per test sequence")
    a = p.parse_args()
    # This file is named gkmsvm.py too: import the package, not this script.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [d for d in sys.path if os.path.abspath(d or ".") != here]
    sys.modules.pop("gkmsvm", None)
    from gkmsvm import one_hot_encode, train_gkmsvm  # after argparse: --help works without the package
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.Generator(np.random.PCG64(a.seed))
    if a.train:
        seqs, labels = read_seqs(a.train)
        if labels is None or labels.min() == labels.max():
            pos, neg = seqs, None
        else:
            pos = [s for s, y in zip(seqs, labels) if y == 1]
            neg = [s for s, y in zip(seqs, labels) if y != 1]
    elif a.train_pos and a.train_neg:
        pos, neg = read_seqs(a.train_pos)[0], read_seqs(a.train_neg)[0]
    else:
        p.error("give --train, or --train-pos and --train-neg")
    if a.max_pos and a.max_pos < len(pos):
        keep = np.sort(rng.choice(len(pos), a.max_pos, replace=False))
        pos = [pos[i] for i in keep]
        if neg is not None:  # a labelled file: as many negatives, seeded
            neg = [neg[i] for i in np.sort(rng.choice(len(neg), min(a.max_pos, len(neg)), replace=False))]
    if neg is None:
        neg = [dinuc_shuffle(s, rng) for s in pos]

    if a.test:
        tseqs, tlab = read_seqs(a.test)
        if tlab is None:
            p.error("--test must be labelled (DeepBind TSV with Bound); or --test-pos/--test-neg FASTA")
    elif a.test_pos and a.test_neg:
        tp, tn = read_seqs(a.test_pos)[0], read_seqs(a.test_neg)[0]
        tseqs, tlab = tp + tn, np.array([1] * len(tp) + [0] * len(tn))
    else:
        p.error("give --test, or --test-pos and --test-neg")

    t0 = time.perf_counter()
    model = train_gkmsvm(pos, neg, kernel_type=a.kernel, l=a.l, k=a.k, d=a.d, C=a.C, device="cpu")
    t1 = time.perf_counter()
    # One length per batch: score sequences of each length together.
    scores = np.empty(len(tseqs))
    by_len = {}
    for i, s in enumerate(tseqs):
        by_len.setdefault(len(s), []).append(i)
    for idx in by_len.values():
        x = np.stack([one_hot_encode(tseqs[i]) for i in idx])
        scores[idx] = np.asarray(model(x)).reshape(-1)
    t2 = time.perf_counter()
    auroc = roc_auc_score(tlab, scores)
    auprc = average_precision_score(tlab, scores)
    if a.out:
        with open(a.out, "w") as f:
            for y, s in zip(tlab, scores):
                f.write(f"{int(y)}\t{s:.6g}\n")
    print("auroc\tauprc\tn_pos\tn_neg\tn_test\ttrain_s\tpredict_s")
    print(f"{auroc:.6f}\t{auprc:.6f}\t{len(pos)}\t{len(neg)}\t{len(tseqs)}\t{t1 - t0:.2f}\t{t2 - t1:.2f}")


if __name__ == "__main__":
    main()
