#!/bin/sh
# compare.sh [N]: deepmotif against its strongest CPU peer, PyTorch 2.x (oneDNN), side by side (issue 12).
#
# Runs deepmotif's benches (bench_train, bench_infer, bench_visualize --saliency-only, 2 threads, batch
# 256) and the PyTorch peer (bench/peers/torch_models.py, the same three models, 2 threads, float32)
# alternately, N rounds (default 3) in one run, the order flipped every round (A B, B A, ...), and writes
#   bench/results/compare.md    the table: arch × workload, deepmotif and PyTorch sequences/s (medians
#                               over the rounds), ratio = the median of the rounds' deepmotif / PyTorch
#                               ratios; machine (CPU model, cores), versions (torch, OpenBLAS,
#                               deepmotif commit), date, load average before and after
#   bench/results/compare.csv   every round's rows (tool, arch, workload, batch, threads, median_s, seq_per_s)
#
# Needs: the project's build tools (scripts/setup.sh) and a Python with torch, never needed by
# `make test`. Make it once (outside the repository or in the ignored .venv-peer):
#   python3 -m venv .venv-peer && .venv-peer/bin/pip install -r bench/peers/requirements.txt
# then run from the repository root:
#   PEER_PYTHON=.venv-peer/bin/python bench/compare.sh 3
# Environment: PEER_PYTHON (default .venv-peer/bin/python, else python3), BUILD (default build-bench: a
# Release CPU build with the benches, configured and built here when absent), THREADS (default 2),
# NOTE (one line added under the table, e.g. "shared machine: other jobs were running").
# OPENBLAS_CORETYPE, when set, forces OpenBLAS's kernels (the table says so): a user's machine runs
# OpenBLAS's own choice, e.g. `env -u OPENBLAS_CORETYPE bench/compare.sh 3` where a test setup sets it.
# Timings are medians of repeats inside each program (warm-up first); run it on a quiet machine: on a
# busy one only the ratios of the alternating runs mean something, and the header says how busy it was.
set -eu
N=${1:-3}
case $N in ''|*[!0-9]*|0) echo "usage: bench/compare.sh [ROUNDS ≥ 1]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
BUILD=${BUILD:-build-bench}
PY=${PEER_PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x .venv-peer/bin/python ]; then PY=.venv-peer/bin/python; else PY=python3; fi
fi
if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "compare.sh: $PY has no torch; make the peer's venv first:" >&2
    echo "  python3 -m venv .venv-peer && .venv-peer/bin/pip install -r bench/peers/requirements.txt" >&2
    exit 1
fi
if [ ! -x "$BUILD/bench/bench_infer" ] || [ ! -x "$BUILD/bench/bench_train" ] || [ ! -x "$BUILD/bench/bench_visualize" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDM_CUDA=OFF -DDM_BUILD_BENCH=ON >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target bench_train bench_infer bench_visualize >/dev/null

out=bench/results
tmp="$BUILD/compare-tmp.$$"   # under the build folder (ignored): a shared /tmp may be cleaned meanwhile
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT INT TERM
load0=$(cut -d' ' -f1-3 /proc/loadavg)
date=$(date -u +%Y-%m-%dT%H:%MZ)

run_deepmotif() {   # round
    "$BUILD/bench/bench_train" --threads "$THREADS" >"$tmp/dm_train.$1"
    "$BUILD/bench/bench_infer" --threads "$THREADS" >"$tmp/dm_infer.$1"
    "$BUILD/bench/bench_visualize" --threads "$THREADS" --saliency-only >"$tmp/dm_vis.$1"
}
run_peer() {
    "$PY" bench/peers/torch_models.py --threads "$THREADS" >"$tmp/torch.$1"
}
r=1
while [ "$r" -le "$N" ]; do
    echo "compare.sh: round $r of $N" >&2
    if [ $((r % 2)) -eq 1 ]; then run_deepmotif "$r"; run_peer "$r"; else run_peer "$r"; run_deepmotif "$r"; fi
    r=$((r + 1))
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cores="$(nproc) logical CPUs ($(lscpu | sed -n 's/^Core(s) per socket: *//p' | head -1) cores per socket, $(lscpu | sed -n 's/^Socket(s): *//p' | head -1) socket(s), $(lscpu | sed -n 's/^Thread(s) per core: *//p' | head -1) thread(s) per core)"
commit=$(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD -- . ':!bench/results' 2>/dev/null || echo "-dirty")

"$PY" - "$tmp" "$N" "$out" "$date" "$cpu" "$cores" "$commit" "$load0" "$load1" "$THREADS" "${NOTE:-}" <<'EOF'
import csv, glob, os, statistics, sys
tmp, N, out, date, cpu, cores, commit, load0, load1, threads, note = sys.argv[1:]
N = int(N)
rows = []   # round, tool, arch, workload, batch, threads, median_s, seq_per_s
blas = torch_v = torch_hdr = "?"
DM_NAMES = {"train_step": "train", "saliency_grad": "saliency", "saliency_ig64": "ig64", "saliency_ism": "ism"}
for r in range(1, N + 1):
    for kind in ("dm_train", "dm_infer", "dm_vis", "torch"):
        path = os.path.join(tmp, f"{kind}.{r}")
        lines = open(path).read().splitlines()
        for l in lines:
            if l.startswith("# blas:"):
                blas = l[len("# blas: "):].split(" (deepmotif")[0]
            if l.startswith("# torch_models:"):
                torch_hdr = l[2:]
                torch_v = l.split("PyTorch ")[1].split(",")[0]
        body = [l for l in lines if not l.startswith("#")]
        for d in csv.DictReader(body):
            if kind == "torch":
                rows.append((r, "PyTorch", d["arch"], d["workload"], int(d["batch"]), int(d["threads"]),
                             float(d["median_s"]), float(d["seq_per_s"])))
                continue
            name = d["name"]
            if name == "infer":
                wl = "infer" if int(d["batch"]) > 1 else "infer1"
            elif name in DM_NAMES:
                wl = DM_NAMES[name]
            else:
                continue
            rows.append((r, "deepmotif", d["arch"], wl, int(d["batch"]), int(d["threads"]), float(d["median_s"]),
                         float(d["seq_per_s"].split()[0])))
with open(os.path.join(out, "compare.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["round", "tool", "arch", "workload", "batch", "threads", "median_s", "seq_per_s"])
    w.writerows(rows)

ARCH = [("cnn", "CNN"), ("rnn", "RNN"), ("cnnrnn", "CNN-RNN")]
WL = [("train", "train (batch 256)"), ("infer", "infer (batch 256)"), ("infer1", "infer (batch 1)"),
      ("saliency", "saliency (batch 256)"), ("ig64", "IG, 64 steps"), ("ism", "ISM")]
def per_round(tool, a, wl):
    return {r: s for (r, t, aa, ww, b, th, m, s) in rows if t == tool and aa == a and ww == wl}
def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"
lines = ["# deepmotif against PyTorch 2.x on the CPU (issue 12)", "",
         f"`bench/compare.sh {N}`, {date}. Sequences per second, {threads} threads, float32; each figure is the "
         f"median over {N} round(s) of each program's own median; ratio = the median of the rounds' "
         "deepmotif / PyTorch ratios (the two run alternately, the order flipped every round).", "",
         f"- machine: {cpu}, {cores}",
         f"- load average (1, 5, 15 min): {load0} before, {load1} after",
         f"- deepmotif {commit}, BLAS: {blas}"
         + (f" (forced by OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} in the environment: unset it to "
            "measure the kernels OpenBLAS picks for this CPU, as a user's machine runs)"
            if os.environ.get("OPENBLAS_CORETYPE") else " (OpenBLAS's own choice for this CPU)"),
         f"- PyTorch {torch_v} ({torch_hdr.split('; ', 1)[-1] if ';' in torch_hdr else torch_hdr})",
         "- workloads: train = one step (forward, backward, clip ±5, Adam); infer = the predict path's forward "
         "(evaluation mode, P(bound) to the host); saliency = ∂ log P(bound)/∂x (Captum's Saliency, abs off); "
         "IG = 64 midpoint steps, zero baseline, 32 sequences; ISM = all 4·L single-base variants, 2 sequences "
         "(bench/peers/torch_models.py and the bench_*.c headers say exactly what is timed)", ""]
if note:
    lines += [f"**{note}**", ""]
lines += ["| arch | workload | deepmotif | PyTorch | ratio |", "|---|---|---|---|---|"]
for a, an in ARCH:
    for wl, wn in WL:
        d, t = per_round("deepmotif", a, wl), per_round("PyTorch", a, wl)
        common = sorted(set(d) & set(t))
        if not common:
            continue
        ratio = statistics.median(d[r] / t[r] for r in common)
        lines.append(f"| {an} | {wn} | {fmt(statistics.median(d.values()))} | {fmt(statistics.median(t.values()))} "
                     f"| {ratio:.2f} |")
lines += ["", "Raw rows of every round: `compare.csv`."]
open(os.path.join(out, "compare.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
