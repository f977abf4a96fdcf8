#!/usr/bin/env python3
"""Summary of bench/ema_probe/run.sh's rows: each TF x arch x seed with its followers' test AUROC
(and selected epoch), the change against the weights themselves (decay 0), and the mean, sign counts
and extremes per decay, overall and per architecture. `sum.py ROWS DECAY`: only the one-line summary
of that decay over all pairs."""
import collections, math, sys

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
d = collections.defaultdict(dict)
for r in rows:
    d[(r[0].split("_")[0], r[1], r[2])][r[4]] = (float(r[7]), int(r[5]))
decs = sorted({r[4] for r in rows}, key=float)
table, gain = [], collections.defaultdict(list)
for k, v in sorted(d.items()):
    if len(v) < len(decs): continue   # a run still going
    b = v[decs[0]][0]
    table.append("| " + " | ".join(k) + " | " + " | ".join("%.4f (%d)" % v[x] for x in decs) + " | "
                 + " | ".join("%+.4f" % (v[x][0] - b) for x in decs[1:]) + " |")
    for x in decs[1:]:
        gain[("all", x)].append(v[x][0] - b)
        gain[(k[1], x)].append(v[x][0] - b)


def counts(g):
    return sum(1 for y in g if y > 0), sum(1 for y in g if y < 0)


def sign_p(b, w):
    """Two-sided sign test (ties left out): P(a split at least this uneven | no effect)."""
    n, k = b + w, min(b, w)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n) if n else 1.0


if len(sys.argv) > 2:
    g = gain[("all", sys.argv[2])]
    b, w = counts(g)
    print("mean %+.4f over %d pairs (%d better, %d worse; sign test p = %.2g)" % (sum(g) / len(g), len(g), b, w,
                                                                                 sign_p(b, w)))
    sys.exit(0)
print("| TF | arch | seed | " + " | ".join("decay " + x for x in decs) + " | "
      + " | ".join("Δ " + x for x in decs[1:]) + " |")
print("|---" * (3 + 2 * len(decs) - 1) + "|")
print("\n".join(table))
print()
print("| archs | decay | pairs | mean Δ | better / worse | min | max |")
print("|---|---|---|---|---|---|---|")
for (a, x), g in sorted(gain.items()):
    print("| %s | %s | %d | %+.4f | %d / %d | %+.4f | %+.4f |" % ((a, x, len(g), sum(g) / len(g)) + counts(g)
                                                                  + (min(g), max(g))))
