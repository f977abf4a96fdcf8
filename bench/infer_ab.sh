#!/bin/sh
# infer_ab.sh: before/after of CPU inference (issue 12), with PyTorch alongside. Runs two builds'
# bench/bench_infer (the predict path's forward, batch 256 and 1, every architecture) and, when
# PEER_PYTHON has torch, bench/peers/torch_models.py --workloads infer,infer1, alternately in one run,
# ROUNDS rounds, the order rotated every round (B A P, A P B, P B A, ...). Prints and writes the medians
# over rounds of each program's own medians and the medians of the per-round ratios (after / before,
# after / PyTorch, before / PyTorch, and after / before in CPU time per batch where bench_infer reports
# it): on a shared machine only those ratios mean something.
#   usage: bench/infer_ab.sh BEFORE_BUILD_DIR AFTER_BUILD_DIR [ROUNDS (5)]
# Each build dir holds bench/bench_infer (cmake -DDM_BUILD_BENCH=ON). Environment: THREADS (2),
# PEER_PYTHON (a Python with torch; unset or without torch: no PyTorch column), OUT (the Markdown,
# default bench/results/infer_ab.md; the raw rows go next to it as .csv), NOTE (a line under the table).
# OpenBLAS picks its kernels per CPU: run it as a user's machine would, without OPENBLAS_CORETYPE.
set -eu
[ $# -ge 2 ] || { echo "usage: bench/infer_ab.sh BEFORE_BUILD_DIR AFTER_BUILD_DIR [ROUNDS]" >&2; exit 2; }
cd "$(dirname "$0")/.."
bdir=$1 adir=$2 rounds=${3:-5}
before=$bdir/bench/bench_infer after=$adir/bench/bench_infer
THREADS=${THREADS:-2}
OUT=${OUT:-bench/results/infer_ab.md}
for b in "$before" "$after"; do [ -x "$b" ] || { echo "infer_ab.sh: $b missing" >&2; exit 1; }; done
PY=${PEER_PYTHON:-}
if [ -n "$PY" ] && ! "$PY" -c "import torch" 2>/dev/null; then PY=; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
bindir=$tmp/bin
mkdir -p "$bindir"
cp "$before" "$bindir/before"    # copies: a rebuild meanwhile does not change what runs
cp "$after" "$bindir/after"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
run() {   # variant round
    case $1 in
    before|after) "$bindir/$1" --threads "$THREADS" > "$tmp/$1.$2" ;;
    torch) "$PY" bench/peers/torch_models.py --threads "$THREADS" --workloads infer,infer1 > "$tmp/$1.$2" ;;
    esac
}
variants="before after"
[ -n "$PY" ] && variants="before after torch"
r=1
while [ "$r" -le "$rounds" ]; do
    echo "infer_ab.sh: round $r of $rounds" >&2
    set -- $variants
    k=$(( (r - 1) % $# ))
    while [ "$k" -gt 0 ]; do v=$1; shift; set -- "$@" "$v"; k=$((k - 1)); done
    for v in "$@"; do run "$v" "$r"; done
    r=$((r + 1))
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$tmp" "$rounds" "$OUT" "$THREADS" "$load0" "$load1" "${NOTE:-}" "$bdir" "$adir" <<'EOF'
import csv, os, statistics, sys
tmp, N, out, threads, load0, load1, note, bdir, adir = sys.argv[1:]
N = int(N)
rows, hdr = [], {}
for r in range(1, N + 1):
    for v in ("before", "after", "torch"):
        p = os.path.join(tmp, f"{v}.{r}")
        if not os.path.exists(p):
            continue
        lines = open(p).read().splitlines()
        hdr.setdefault(v, [l for l in lines if l.startswith("#")])
        for d in csv.DictReader(l for l in lines if not l.startswith("#")):
            if v == "torch" and d["workload"] not in ("infer", "infer1"):
                continue
            cpu = float(d["cpu_s"]) if d.get("cpu_s") else float("nan")   # bench_infer's CPU time per batch
            rows.append((v, r, d["arch"], int(d["batch"]), float(d["median_s"]), float(d["seq_per_s"]), cpu))
with open(os.path.splitext(out)[0] + ".csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["variant", "round", "arch", "batch", "median_s", "seq_per_s", "cpu_s"])
    w.writerows(rows)
def per_round(v, a, b):
    return {r: s for (vv, r, aa, bb, m, s, c) in rows if vv == v and aa == a and bb == b}
def cpu_round(v, a, b):   # sequences per CPU-second (1 / CPU time per sequence), where measured
    return {r: b / c for (vv, r, aa, bb, m, s, c) in rows if vv == v and aa == a and bb == b and c == c and c > 0}
def ratio(x, y):
    c = sorted(set(x) & set(y))
    return f"{statistics.median(x[r] / y[r] for r in c):.2f}" if c else ""
def med(x):
    return f"{statistics.median(x.values()):,.0f}" if x else ""
has_t = any(v == "torch" for v, *_ in rows)
L = ["# CPU inference before/after (issue 12)", "",
     f"`bench/infer_ab.sh {bdir} {adir} {N}`: the predict path's forward (bench_infer), sequences/s at "
     f"{threads} threads, medians over {N} rounds of each program's median; ratios are the medians of the "
     "per-round ratios (the programs alternate, the order rotated every round).", "",
     f"- load average (1, 5, 15 min): {load0} before, {load1} after",
     "- OpenBLAS kernels: " + (f"forced by OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}"
                               if os.environ.get("OPENBLAS_CORETYPE") else "OpenBLAS's own choice for this CPU")]
for v in ("before", "after", "torch"):
    for l in hdr.get(v, []):
        if "deepmotif" in l or "torch_models" in l or "blas" in l:
            L.append(f"- {v}: {l[2:]}")
if note:
    L += ["", f"**{note}**"]
L += ["", "| arch | batch | before | after | PyTorch | after/before | after/PyTorch | before/PyTorch | "
      "after/before (CPU time) |", "|---|---|---|---|---|---|---|---|---|"]
for a in ("cnn", "rnn", "cnnrnn"):
    for b in (256, 1):
        B, A, T = per_round("before", a, b), per_round("after", a, b), per_round("torch", a, b)
        L.append(f"| {a} | {b} | {med(B)} | {med(A)} | {med(T)} | {ratio(A, B)} | {ratio(A, T)} | {ratio(B, T)} | "
                 f"{ratio(cpu_round('after', a, b), cpu_round('before', a, b))} |")
L += ["", "CPU time: bench_infer's median process CPU time per batch (all threads; builds without that "
      "column leave it empty): where other jobs share the cores, the steadier measure of the work.",
      "", f"Raw rows: `{os.path.basename(os.path.splitext(out)[0])}.csv`."]
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
EOF
