#!/usr/bin/env python3
"""Two models' AUROC on the same test sequences, and DeLong's paired test of their difference.

    bench/paired_auroc.py A.tsv B.tsv

Each file scores the same sequences in the same order: a `deepmotif predict` TSV (header; columns
id, label, score) or a peer's `label<TAB>score` lines without a header (bench/peers/gkmsvm.py
--out). The labels must agree line by line.

Prints each AUROC (the Mann-Whitney statistic, ties counted one half), the difference A - B, its
standard error and 95 % interval, z and the two-sided p-value under DeLong, DeLong and
Clarke-Pearson (1988): each AUROC is the mean of per-positive (and per-negative) placement values,
whose covariances between the two models over the positives and over the negatives give the
variance of the difference. The two models' errors are correlated on shared sequences, so this
is far tighter than comparing two unpaired standard errors. Stdlib only.
"""
import math
import sys


def load(path):
    try:
        with open(path) as f:
            lines = [ln.rstrip("\n").split("\t") for ln in f if ln.strip()]
    except OSError as e:
        sys.exit(f"paired_auroc: {path}: {e.strerror}")
    if not lines:
        sys.exit(f"paired_auroc: {path}: empty")
    if lines[0][:1] == ["id"] or "label" in lines[0]:
        head = lines[0]
        if "label" not in head or "score" not in head:
            sys.exit(f"paired_auroc: {path}:1: a header without label and score columns")
        il, isc = head.index("label"), head.index("score")
        body, first = lines[1:], 2
    else:
        il, isc, body, first = 0, 1, lines, 1
    labels, scores = [], []
    for n, row in enumerate(body, first):
        try:
            y, s = int(row[il]), float(row[isc])
        except (IndexError, ValueError):
            sys.exit(f"paired_auroc: {path}:{n}: expected a 0/1 label and a score")
        if y not in (0, 1) or not math.isfinite(s):
            sys.exit(f"paired_auroc: {path}:{n}: expected a 0/1 label and a finite score")
        labels.append(y)
        scores.append(s)
    return labels, scores


def midranks(v):
    """1-based ranks of v, ties sharing the mean of their ranks."""
    order = sorted(range(len(v)), key=v.__getitem__)
    r = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def placements(labels, scores):
    """AUROC and the placement values: V10 per positive (the fraction of negatives it outscores),
    V01 per negative (the fraction of positives that outscore it), ties one half."""
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    m, n = len(pos), len(neg)
    tz = midranks(pos + neg)
    tx, ty = midranks(pos), midranks(neg)
    v10 = [(tz[i] - tx[i]) / n for i in range(m)]
    v01 = [1 - (tz[m + j] - ty[j]) / m for j in range(n)]
    return sum(v10) / m, v10, v01


def cov(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / (len(a) - 1)


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    la, sa = load(argv[0])
    lb, sb = load(argv[1])
    if la != lb:
        sys.exit(f"paired_auroc: {argv[1]}: not the labels of {argv[0]} (other sequences, or another order)")
    m = sum(la)
    n = len(la) - m
    if m < 2 or n < 2:
        sys.exit("paired_auroc: need at least 2 positives and 2 negatives")
    a, a10, a01 = placements(la, sa)
    b, b10, b01 = placements(lb, sb)
    var = (cov(a10, a10) + cov(b10, b10) - 2 * cov(a10, b10)) / m \
        + (cov(a01, a01) + cov(b01, b01) - 2 * cov(a01, b01)) / n
    se = math.sqrt(max(var, 0.0))
    d = a - b
    print(f"sequences\t{len(la)} ({m} positive, {n} negative)")
    print(f"AUROC A\t{a:.6f}\t{argv[0]}")
    print(f"AUROC B\t{b:.6f}\t{argv[1]}")
    print(f"A - B\t{d:+.6f}")
    if se == 0:
        print("DeLong\tthe placements do not differ: no variance, no test")
        return
    z = d / se
    p = math.erfc(abs(z) / math.sqrt(2))
    print(f"DeLong SE\t{se:.6f}\t95% interval {d - 1.959964 * se:+.6f} .. {d + 1.959964 * se:+.6f}")
    print(f"DeLong z\t{z:+.3f}\tp (two-sided) {p:.4g}")


if __name__ == "__main__":
    main(sys.argv[1:])
