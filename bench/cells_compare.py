#!/usr/bin/env python3
"""Paired comparison of two protocols' cells in a learning-curve cells file (bench/cells.sh).

    python3 bench/cells_compare.py CELLS PROTOCOL_A PROTOCOL_B [--sizes 500,2000] [--methods cnn,rnn,cnnrnn]

Cells are paired by (tf, size, seed, method): the same subsample and seed trained under protocol A
(e.g. an older revision of train's defaults) and protocol B. Prints a Markdown table: per size and
method, the pairs, mean test AUROC under A and B, the mean and range of B - A, how many pairs B
wins / loses / ties (|B - A| < 0.001, below the seed-to-seed noise of interest), and the largest
changes by cell. Standard library only.
"""
import argparse
import csv
import statistics
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cells")
    ap.add_argument("a", help="protocol key of A (the cells file's protocol column)")
    ap.add_argument("b", help="protocol key of B")
    ap.add_argument("--sizes", default="")
    ap.add_argument("--methods", default="cnn,rnn,cnnrnn")
    args = ap.parse_args()
    methods = args.methods.split(",")
    sizes = [s for s in args.sizes.split(",") if s]
    cell = {}
    with open(args.cells) as f:
        for n, r in enumerate(csv.DictReader(f, delimiter="\t"), start=2):
            if r["protocol"] not in (args.a, args.b) or r["method"] not in methods:
                continue
            if sizes and r["size"] not in sizes:
                continue
            try:
                v = float(r["auroc"])
            except ValueError:
                sys.exit(f"cells_compare: {args.cells}:{n}: AUROC '{r['auroc']}' is not a number")
            cell[(r["tf"], r["size"], r["seed"], r["method"], r["protocol"])] = v
    pairs = {}
    for (tf, size, seed, m, p), v in cell.items():
        if p == args.a and (tf, size, seed, m, args.b) in cell:
            pairs.setdefault((size, m), []).append((tf, seed, v, cell[(tf, size, seed, m, args.b)]))
    if not pairs:
        sys.exit(f"cells_compare: no cell of {args.cells} is under both protocols")
    order = sorted(pairs, key=lambda k: (int(k[0]) if k[0].isdigit() else 1 << 40, methods.index(k[1])))
    print(f"A: `{args.a}`; B: `{args.b}`. Test AUROC, cells paired by TF, size, seed and method.\n")
    print("| size | method | pairs | mean A | mean B | mean B − A | min, max B − A | B wins / loses / ties | largest changes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in order:
        ps = pairs[k]
        d = [b - a for _, _, a, b in ps]
        win = sum(x >= 0.001 for x in d)
        lose = sum(x <= -0.001 for x in d)
        big = sorted(ps, key=lambda p: -abs(p[3] - p[2]))[:2]
        bigs = "; ".join(f"{tf.split('_')[0]} s{seed} {a:.3f} → {b:.3f}" for tf, seed, a, b in big)
        print(f"| {k[0]} | {k[1]} | {len(ps)} | {statistics.mean(p[2] for p in ps):.3f} | "
              f"{statistics.mean(p[3] for p in ps):.3f} | {statistics.mean(d):+.3f} | {min(d):+.3f}, {max(d):+.3f} | "
              f"{win} / {lose} / {len(d) - win - lose} | {bigs} |")


if __name__ == "__main__":
    main()
