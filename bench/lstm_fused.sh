#!/bin/sh
# lstm_fused.sh: before/after of the fused CPU LSTM (issue 12). Runs two builds of bench/bench_lstm
# alternately (A B A B ...), ROUNDS rounds, in one process group on one machine, and prints the
# medians over rounds of each variant's per-round medians and their ratio (after / before).
#   usage: bench/lstm_fused.sh BEFORE_BUILD_DIR AFTER_BUILD_DIR [ROUNDS (5)] [MIN_TIME_S (0.5)]
# Each build dir must hold bench/bench_lstm (cmake -DDM_BUILD_BENCH=ON; for a build of a commit
# before bench_lstm.c existed, copy bench/bench_lstm.c into that tree first: it uses only the
# engine's public internals that both have). Raw rows go to bench/results/lstm_fused.csv (or $OUT).
set -eu
before=$1/bench/bench_lstm after=$2/bench/bench_lstm rounds=${3:-5} mt=${4:-0.5}
out=${OUT:-$(dirname "$0")/results/lstm_fused.csv}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=1
while [ "$i" -le "$rounds" ]; do
    for v in before after; do
        eval bin=\$$v
        "$bin" --min-time "$mt" > "$tmp/$v.$i.csv"
        grep -v '^#' "$tmp/$v.$i.csv" | tail -n +2 | sed "s/^/$v,$i,/" >> "$tmp/all.csv"
    done
    i=$((i + 1))
done
{ grep '^#' "$tmp/after.1.csv"; echo "variant,round,name,arch,threads,batch,repeats,median_s,min_s,seq_per_s,cpu_s"; cat "$tmp/all.csv"; } > "$out"
python3 - "$out" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if not l.startswith('#'))][1:]
d = {}
for v, rnd, name, arch, th, b, rep, med, mn, sps, cpu in rows:
    d.setdefault((name, arch, th), {}).setdefault(v, []).append((float(med), float(cpu)))
print("| workload | arch | threads | before seq/s | after seq/s | after/before (wall) | after/before (CPU time) |")
print("|---|---|---|---|---|---|---|")
for (name, arch, th), v in d.items():
    bw = statistics.median(m for m, c in v['before']); aw = statistics.median(m for m, c in v['after'])
    bc = statistics.median(c for m, c in v['before']); ac = statistics.median(c for m, c in v['after'])
    print(f"| {name} | {arch} | {th} | {256/bw:,.0f} | {256/aw:,.0f} | {bw/aw:.2f} | {bc/ac:.2f} |")
PY
