#!/bin/sh
# bench/conv_direct.sh: the direct CPU convolution (issue 12, kernels/cpu/conv1d_direct.c) before/after,
# with PyTorch 2.x alongside, in ONE run: per round, the CNN's (and the CNN-RNN's) inference at batch 256
# and 1 (bench_infer), gradient saliency at batch 256 (bench_visualize --saliency-only) and a training
# step at batch 256 (bench_train) of two builds, and PyTorch's infer / saliency / train of the same
# models (bench/peers/torch_models.py), the order of {before, after, torch} rotated every round.
# Prints and writes the medians over rounds of each program's own medians and the medians of the
# per-round ratios (after/before, after/PyTorch, before/PyTorch): on a shared machine only those ratios
# mean something.
#   usage: bench/conv_direct.sh BEFORE_BUILD_DIR AFTER_BUILD_DIR [ROUNDS (5)]
# Each build dir holds bench/bench_infer, bench_visualize and bench_train (cmake -DDM_BUILD_BENCH=ON).
# The "before" may also be the same build as "after" with DM_CONV_FWD=im2col: set BEFORE_ENV=im2col.
# Environment: THREADS (2), ARCHS ("cnn cnnrnn"), PEER_PYTHON (a Python with torch; without it, no
# PyTorch column), OUT (default bench/results/conv_direct.md; the raw rows go next to it as .csv), NOTE.
# OPENBLAS_CORETYPE is unset for every run (OpenBLAS's own choice, as on a user's machine).
set -eu
[ $# -ge 2 ] || { echo "usage: bench/conv_direct.sh BEFORE_BUILD_DIR AFTER_BUILD_DIR [ROUNDS]" >&2; exit 2; }
cd "$(dirname "$0")/.."
bdir=$1 adir=$2 rounds=${3:-5}
THREADS=${THREADS:-2}
ARCHS=${ARCHS:-"cnn cnnrnn"}
OUT=${OUT:-bench/results/conv_direct.md}
for d in "$bdir" "$adir"; do
    for p in bench_infer bench_visualize bench_train; do
        [ -x "$d/bench/$p" ] || { echo "conv_direct.sh: $d/bench/$p missing" >&2; exit 1; }
    done
done
PY=${PEER_PYTHON:-}
if [ -n "$PY" ] && ! "$PY" -c "import torch" 2>/dev/null; then PY=; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
for v in before after; do   # copies: a rebuild meanwhile does not change what runs
    d=$bdir; [ $v = after ] && d=$adir
    mkdir -p "$tmp/$v"
    for p in bench_infer bench_visualize bench_train; do cp "$d/bench/$p" "$tmp/$v/$p"; done
done
csv=$tmp/rows.csv
echo "variant,round,arch,workload,batch,median_s,seq_per_s,cpu_s" > "$csv"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
run() {   # variant round
    v=$1 r=$2
    case $v in
    before|after)
        e=; [ $v = before ] && [ -n "${BEFORE_ENV:-}" ] && e="DM_CONV_FWD=$BEFORE_ENV"
        for a in $ARCHS; do
            env -u OPENBLAS_CORETYPE $e "$tmp/$v/bench_infer" --threads "$THREADS" --arch "$a" | grep '^infer,' |
                awk -F, -v v=$v -v r=$r '{print v "," r "," $2 ",infer," $3 "," $6 "," $8 "," $10}' >> "$csv"
            env -u OPENBLAS_CORETYPE $e "$tmp/$v/bench_visualize" --threads "$THREADS" --arch "$a" --saliency-only |
                grep '^saliency_grad,' | awk -F, -v v=$v -v r=$r -v a=$a '{print v "," r "," a ",saliency,256," $5 "," $6 ","}' >> "$csv"
            env -u OPENBLAS_CORETYPE $e "$tmp/$v/bench_train" --threads "$THREADS" --arch "$a" | grep '^train' |
                awk -F, -v v=$v -v r=$r -v a=$a '{print v "," r "," a ",train,256," $6 "," $8 "," $13}' >> "$csv"
        done ;;
    torch)
        for a in $ARCHS; do
            env -u OPENBLAS_CORETYPE "$PY" bench/peers/torch_models.py --threads "$THREADS" --arch "$a" \
                --workloads train,infer,infer1,saliency | grep -v '^#' | grep -v '^peer,' |
                awk -F, -v r=$r '{w = $3; if (w == "infer1") w = "infer"; print "torch," r "," $2 "," w "," $4 "," $7 "," $8 ","}' >> "$csv"
        done ;;
    esac
}
variants="before after"
[ -n "$PY" ] && variants="before after torch"
r=1
while [ "$r" -le "$rounds" ]; do
    echo "conv_direct.sh: round $r of $rounds" >&2
    set -- $variants
    k=$(( (r - 1) % $# ))
    while [ "$k" -gt 0 ]; do v=$1; shift; set -- "$@" "$v"; k=$((k - 1)); done
    for v in "$@"; do run "$v" "$r"; done
    r=$((r + 1))
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
cp "$csv" "${OUT%.md}.csv"
python3 - "$csv" "$rounds" "$OUT" "$THREADS" "$load0" "$load1" "${NOTE:-}" "$bdir" "$adir" "${BEFORE_ENV:-}" <<'EOF'
import csv, statistics, sys, datetime, subprocess
path, N, out, threads, load0, load1, note, bdir, adir, benv = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
def per_round(v, a, w, b):
    return {r["round"]: float(r["seq_per_s"]) for r in rows
            if r["variant"] == v and r["arch"] == a and r["workload"] == w and r["batch"] == b}
def cpu_round(v, a, w, b):   # sequences per CPU-second, where the bench reports its CPU time (cpu_s)
    out = {}
    for r in rows:
        if r["variant"] == v and r["arch"] == a and r["workload"] == w and r["batch"] == b and r.get("cpu_s"):
            c = float(r["cpu_s"])
            if c > 0:
                out[r["round"]] = int(b) / c
    return out
def ratio(x, y):
    c = sorted(set(x) & set(y))
    return f"{statistics.median(x[r] / y[r] for r in c):.2f}" if c else ""
def med(x):
    return f"{statistics.median(x.values()):,.0f}" if x else ""
try:
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    commit = "?"
before = f"{bdir}" + (f" with DM_CONV_FWD={benv}" if benv else "")
L = ["# Direct CPU convolution: before/after with PyTorch alongside (issue 12)", "",
     f"`bench/conv_direct.sh {bdir} {adir} {N}`, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, commit {commit}. "
     f"Sequences/s at {threads} threads, float32; each figure the median over {N} rounds of each program's own "
     "median; ratios are the medians of the per-round ratios (before, after and PyTorch alternate, the order "
     "rotated every round). OpenBLAS's own kernel choice (OPENBLAS_CORETYPE unset).", "",
     f"- before: {before}; after: {adir}",
     f"- load average (1, 5, 15 min): {load0} before, {load1} after"]
if note:
    L += ["", f"**{note}**"]
L += ["", "| arch | workload | batch | before | after | PyTorch | after/before | after/PyTorch | before/PyTorch | "
      "after/before (CPU time) |", "|---|---|---|---|---|---|---|---|---|---|"]
keys = []
for r in rows:
    k = (r["arch"], r["workload"], r["batch"])
    if k not in keys and r["variant"] != "torch":
        keys.append(k)
for a, w, b in keys:
    B, A, T = per_round("before", a, w, b), per_round("after", a, w, b), per_round("torch", a, w, b)
    L.append(f"| {a} | {w} | {b} | {med(B)} | {med(A)} | {med(T)} | {ratio(A, B)} | {ratio(A, T)} | {ratio(B, T)} | "
             f"{ratio(cpu_round('after', a, w, b), cpu_round('before', a, w, b))} |")
L += ["", "CPU time: the benches' median process CPU time per batch or step (all threads; bench_infer, and "
      "bench_train from this change on; empty where a build does not report it): where other jobs share the "
      "cores, the steadier measure of the work.", "", f"Raw rows: `{out.rsplit('/', 1)[-1].rsplit('.', 1)[0]}.csv`."]
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
EOF
