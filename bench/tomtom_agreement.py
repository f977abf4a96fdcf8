#!/usr/bin/env python3
"""Agreement of `deepmotif compare` with memelite's TOMTOM (bench/tomtom_compare.sh runs it).

usage: tomtom_agreement.py DB.meme OUT_PREFIX METHODS SET...
  METHODS  comma-separated method labels; for every SET the file QUERY.<method>.tsv must exist
           (deepmotif compare --thresh 1 --top <all targets>: every query x target pair)
  SET      TF:KIND:QUERY.meme (KIND: filters or optimized)

For every set, memelite.tomtom runs on the same query and target files with the settings that
match deepmotif's TOMTOM null (see MEMELITE below), and each method is scored against it:
  top-1 agreement  the same best target (smallest p) for the queries whose best p < 1e-3 in either
                   tool (the issue's criterion), and for those with best p < 1e-3 in both; also
                   counting near ties (each tool's best target within a factor 2 of the other's
                   best p) as agreement;
  Spearman         rank correlation of log10 p over every query x target pair, and over the pairs
                   in the top 10 of either tool for their query.
Writes OUT_PREFIX.tsv (one row per set x method, then the pooled rows) and OUT_PREFIX.md.
Needs numpy and memelite (/work/venv-torch/bin/python has both).
"""
import sys
import time

import numpy as np
from memelite import tomtom
from memelite.io import read_meme

# memelite settings: its only similarity is ED (minus the Euclidean distance of two columns), so
# deepmotif runs with --dist euclid (d(q, uniform) - d(q, t): the same scores up to a constant per
# query column, which the median shift of the complete scores removes); it has no minimum overlap
# (every offset with >= 1 column), so deepmotif runs with --min-overlap 1 (TOMTOM's default too);
# its background is every target column on both strands, as deepmotif's; 100 score bins (TOMTOM's
# BINS, deepmotif's DM_TOMTOM_BINS); no target-column hashing (n_target_bins=None: exact columns).
# Two references: memelite as configured above with its default median (a binned approximation,
# 1000 bins), and with 100,000 median bins, which makes its median of each query column's scores
# (the shift of the complete scores) practically exact, as deepmotif's and the MEME suite's tomtom's
# (both sort the scores and take the lower middle one).
MEMELITE = dict(n_score_bins=100, n_target_bins=None, reverse_complement=True)
REFERENCES = {"memelite": dict(MEMELITE), "memelite-median1e5": dict(MEMELITE, n_median_bins=100000)}
NEAR_TIE = 2.0
P_SIG = 1e-3
TOP_K = 10
P_FLOOR = 1e-300


def load(path):
    """(ids, matrices (4, w)) of a MEME file, in file order."""
    d = read_meme(path)
    ids, mats = [], []
    for k, v in d.items():
        v = np.asarray(v, dtype=np.float64)
        ids.append(k.split()[0])
        mats.append(v if v.shape[0] == 4 else v.T)
    return ids, mats


def read_tsv(path, qidx, tidx):
    """The p-value matrix (queries x targets) of a deepmotif TSV; NaN where a pair is missing."""
    p = np.full((len(qidx), len(tidx)), np.nan)
    with open(path) as f:
        for line in f:
            if line.startswith("#") or line.startswith("Query_ID") or not line.strip():
                continue
            c = line.rstrip("\n").split("\t")
            p[qidx[c[0]], tidx[c[1]]] = float(c[3])
    return p


def rankdata(x):
    """Average ranks (ties share their mean rank)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1
        i = j + 1
    return ranks


def spearman(a, b):
    if len(a) < 3:
        return float("nan")
    ra, rb = rankdata(a), rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    d = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / d) if d > 0 else float("nan")


def scores(p_ours, p_mm):
    """Agreement figures of one method on one set (or the pooled sets)."""
    lo, lm = np.log10(np.maximum(p_ours, P_FLOOR)), np.log10(np.maximum(p_mm, P_FLOOR))
    best_o, best_m = np.argmin(p_ours, axis=1), np.argmin(p_mm, axis=1)
    min_o, min_m = p_ours.min(axis=1), p_mm.min(axis=1)
    either = (min_o < P_SIG) | (min_m < P_SIG)
    both = (min_o < P_SIG) & (min_m < P_SIG)
    same = best_o == best_m
    # A near tie: each tool's best target is within a factor NEAR_TIE of the other tool's best p.
    rows = np.arange(p_ours.shape[0])
    near = same | ((p_mm[rows, best_o] <= NEAR_TIE * min_m) & (p_ours[rows, best_m] <= NEAR_TIE * min_o))
    top = np.zeros_like(p_ours, dtype=bool)
    k = min(TOP_K, p_ours.shape[1])
    for i in range(p_ours.shape[0]):
        top[i, np.argsort(p_ours[i], kind="stable")[:k]] = True
        top[i, np.argsort(p_mm[i], kind="stable")[:k]] = True
    return dict(n_queries=p_ours.shape[0], n_either=int(either.sum()), agree_either=int((same & either).sum()),
                near_either=int((near & either).sum()),
                n_both=int(both.sum()), agree_both=int((same & both).sum()),
                spearman_all=spearman(lo.ravel(), lm.ravel()), spearman_top10=spearman(lo[top], lm[top]),
                median_abs_log10_ratio=float(np.median(np.abs(lo - lm))))


def main():
    db, prefix, methods = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    sets = [s.split(":", 2) for s in sys.argv[4:]]
    tids, tmats = load(db)
    tidx = {t: i for i, t in enumerate(tids)}
    # Warm-up: numba compiles (or loads its cache) on the first call; not part of the timing.
    q0 = load(sets[0][2])[1][:1]
    for ref in REFERENCES.values():
        tomtom(q0, tmats, **ref)
    rows, pooled = [], {}
    for tf, kind, qpath in sets:
        qids, qmats = load(qpath)
        qidx = {q: i for i, q in enumerate(qids)}
        ours = {}
        for m in methods:
            ours[m] = read_tsv(qpath[:-len(".meme")] + "." + m + ".tsv", qidx, tidx)
            if np.isnan(ours[m]).any():
                sys.exit(f"{qpath}: {m}: {int(np.isnan(ours[m]).sum())} pairs missing (run compare with --thresh 1)")
        for rname, ref in REFERENCES.items():
            t0 = time.time()
            p_mm = tomtom(qmats, tmats, **ref)[0]
            t_mm = time.time() - t0
            for m in methods:
                r = scores(ours[m], p_mm)
                r.update(tf=tf, kind=kind, method=m, reference=rname, memelite_s=t_mm)
                rows.append(r)
                for key in ((kind, m, rname), ("all", m, rname)):
                    pooled.setdefault(key, ([], []))
                    pooled[key][0].append(ours[m])
                    pooled[key][1].append(p_mm)

    # Pooled sets: top-1 counts add up; Spearman over every pair of every set.
    summary = []
    order = {k: i for i, k in enumerate(["filters", "optimized", "all"])}
    for (kind, m, rname), (a, b) in sorted(pooled.items(), key=lambda kv: (order[kv[0][0]], kv[0][2],
                                                                           methods.index(kv[0][1]))):
        r = scores(np.vstack(a), np.vstack(b))
        r.update(tf="all", kind=kind, method=m, reference=rname, memelite_s=float("nan"))
        summary.append(r)

    cols = ["tf", "kind", "method", "reference", "n_queries", "n_either", "agree_either", "near_either", "n_both",
            "agree_both", "spearman_all",
            "spearman_top10", "median_abs_log10_ratio", "memelite_s"]
    with open(prefix + ".tsv", "w") as f:
        f.write("\t".join(cols) + "\n")
        for r in rows + summary:
            f.write("\t".join(f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + "\n")

    def pct(a, n):
        return f"{a}/{n} ({100 * a / n:.1f}%)" if n else "–"

    head = ["| TF | motifs | method | reference | queries | top-1 agree, p < 1e-3 in either | with near ties | "
            "in both | Spearman log p, all pairs | Spearman, top-10 pairs | median abs log10 ratio |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]

    def line(r):
        return (f"| {r['tf']} | {r['kind']} | {r['method']} | {r['reference']} | {r['n_queries']} | "
                f"{pct(r['agree_either'], r['n_either'])} | {pct(r['near_either'], r['n_either'])} | "
                f"{pct(r['agree_both'], r['n_both'])} | {r['spearman_all']:.3f} | {r['spearman_top10']:.3f} | "
                f"{r['median_abs_log10_ratio']:.3f} |")
    md = ["### All TFs pooled", ""] + head + [line(r) for r in summary]
    md += ["", "### Per TF (reference: memelite with its defaults)", ""] + head
    md += [line(r) for r in rows if r["reference"] == "memelite"]
    with open(prefix + ".table.md", "w") as f:
        f.write("\n".join(md) + "\n")
    for r in summary:
        print(f"{r['kind']:9s} {r['method']:16s} {r['reference']:18s} top-1 {pct(r['agree_either'], r['n_either'])}  "
              f"Spearman all {r['spearman_all']:.3f} top10 {r['spearman_top10']:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
