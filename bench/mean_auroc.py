#!/usr/bin/env python3
"""AUROC of each `deepmotif predict` TSV (columns id, label, score) and of their mean score.

    bench/mean_auroc.py [--out MEAN.tsv] A.tsv B.tsv [...]

The files must list the same sequences with the same labels in the same order (predict keeps its
input's order); the mean is the unweighted mean of the files' P(bound), e.g. two ensembles of
different architectures as one larger ensemble (deepmotif's own --ensemble holds one architecture).
--out writes the mean as a predict TSV (id, label, score), e.g. for bench/paired_auroc.py.
AUROC: the Mann-Whitney statistic with ties counted one half. Stdlib only.
"""
import csv
import sys

from paired_auroc import midranks   # (bench/, beside this file: ranks with ties averaged)


def load(path):
    try:
        with open(path) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError as e:
        sys.exit(f"mean_auroc: {path}: {e.strerror}")
    if not rows or not {"id", "label", "score"} <= set(rows[0]):
        sys.exit(f"mean_auroc: {path}: not a labelled predict TSV (id, label, score)")
    return [r["id"] for r in rows], [int(r["label"]) for r in rows], [float(r["score"]) for r in rows]


def auroc(labels, scores):
    ranks = midranks(scores)
    n1 = sum(labels)
    n0 = len(labels) - n1
    if n1 == 0 or n0 == 0:
        sys.exit("mean_auroc: the labels hold one class only")
    return (sum(r for r, y in zip(ranks, labels) if y == 1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def main(paths):
    out = None
    if paths[:1] == ["--out"] and len(paths) > 1:
        out, paths = paths[1], paths[2:]
    if len(paths) < 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    ids, labels, scores = load(paths[0])
    all_scores = [scores]
    print(f"{paths[0]}\t{auroc(labels, scores):.6f}")
    for p in paths[1:]:
        i2, l2, s2 = load(p)
        if i2 != ids or l2 != labels:
            sys.exit(f"mean_auroc: {p}: not the sequences and labels of {paths[0]}")
        print(f"{p}\t{auroc(labels, s2):.6f}")
        all_scores.append(s2)
    mean = [sum(s) / len(s) for s in zip(*all_scores)]
    print(f"mean of {len(paths)}\t{auroc(labels, mean):.6f}")
    if out:
        with open(out, "w") as f:
            f.write("id\tlabel\tscore\n")
            f.writelines(f"{i}\t{y}\t{s:.6g}\n" for i, y, s in zip(ids, labels, mean))


if __name__ == "__main__":
    main(sys.argv[1:])
