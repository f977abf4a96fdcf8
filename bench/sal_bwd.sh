#!/bin/sh
# bench/sal_bwd.sh: the CPU backward to the input (issue 12: CNN gradient saliency against PyTorch) of
# two or more builds, alternating in one run: per round, each build's `bench_visualize --arch A
# --saliency-only` (grad saliency, batch 256) and `bench_train --arch A` (training step, batch 256), the
# build order flipped every round. Only ratios of alternating runs mean something on a shared machine.
#
#   bench/sal_bwd.sh DIR=LABEL DIR=LABEL ...      DIR holds bench_visualize and bench_train (e.g.
#                                                 build-bench/bench; copy a "before" build's aside)
# Environment: ROUNDS (5), THREADS (2), ARCHS ("cnn cnnrnn"), CSV (bench/results/sal_bwd.csv), MD
# (bench/results/sal_bwd.md). OPENBLAS_CORETYPE is unset for the runs (as on a user's machine).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-2}
ARCHS=${ARCHS:-"cnn cnnrnn"}
CSV=${CSV:-bench/results/sal_bwd.csv}
MD=${MD:-bench/results/sal_bwd.md}
[ $# -ge 1 ] || { echo "usage: bench/sal_bwd.sh DIR=LABEL [DIR=LABEL ...]" >&2; exit 2; }
for b in "$@"; do
    for p in bench_visualize bench_train; do
        [ -x "${b%%=*}/$p" ] || { echo "sal_bwd.sh: ${b%%=*}/$p missing" >&2; exit 1; }
    done
done
tmp=$CSV.tmp
echo "build,round,workload,arch,threads,median_s,seq_per_s" > "$tmp"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
    order=$*
    [ $((round % 2)) -eq 0 ] && order=$(for b in "$@"; do echo "$b"; done | tac | tr '\n' ' ')
    for a in $ARCHS; do
        for b in $order; do
            dir=${b%%=*}
            label=${b#*=}
            row=$(env -u OPENBLAS_CORETYPE "$dir/bench_visualize" --threads "$THREADS" --arch "$a" --saliency-only |
                  grep '^saliency_grad,')
            echo "$label,$round,saliency,$a,$THREADS,$(echo "$row" | cut -d, -f5),$(echo "$row" | cut -d, -f6)" >> "$tmp"
            row=$(env -u OPENBLAS_CORETYPE "$dir/bench_train" --threads "$THREADS" --arch "$a" | grep '^train')
            echo "$label,$round,train,$a,$THREADS,$(echo "$row" | cut -d, -f6),$(echo "$row" | cut -d, -f8)" >> "$tmp"
            echo "round $round $label $a done" >&2
        done
    done
done
mv "$tmp" "$CSV"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$CSV" "$MD" "$ROUNDS" "$load0" "$load1" <<'EOF'
import csv, statistics, sys, datetime
path, md, rounds, load0, load1 = sys.argv[1:6]
rows = list(csv.DictReader(open(path)))
builds = list(dict.fromkeys(r["build"] for r in rows))
keys = list(dict.fromkeys((r["workload"], r["arch"], r["threads"]) for r in rows))
t = {}
for r in rows:
    t[(r["build"], r["workload"], r["arch"], r["threads"], r["round"])] = float(r["median_s"])
out = ["# CPU backward to the input: builds alternating (bench/sal_bwd.sh)\n",
       f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; {rounds} rounds, build order flipped every round; "
       f"sequences/s at batch 256, L 101 (medians over rounds of each run's median); ratio = median over rounds "
       f"of the round's time ratio {builds[0]} / build. Load average before {load0}, after {load1}.\n"]
hdr, sep = "| workload | arch | threads |", "|---|---|---:|"
for b in builds:
    hdr += f" {b} seq/s |" + (f" vs {builds[0]} |" if b != builds[0] else "")
    sep += "---:|" + ("---:|" if b != builds[0] else "")
out += [hdr, sep]
rset = sorted(set(r["round"] for r in rows), key=int)
for w, a, th in keys:
    line = f"| {w} | {a} | {th} |"
    for b in builds:
        v = [t[(b, w, a, th, r)] for r in rset if (b, w, a, th, r) in t]
        line += f" {256 / statistics.median(v):,.0f} |"
        if b != builds[0]:
            q = [t[(builds[0], w, a, th, r)] / t[(b, w, a, th, r)] for r in rset
                 if (b, w, a, th, r) in t and (builds[0], w, a, th, r) in t]
            line += f" {statistics.median(q):.3f} |"
    out.append(line)
open(md, "w").write("\n".join(out) + "\n")
print("\n".join(out))
EOF
