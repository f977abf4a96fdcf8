#!/bin/sh
# bench/fusion.sh: the CPU's fused conv → ReLU (one pass per batch chunk) against the unfused ops, on
# the workloads that have it (CNN, CNN-RNN: train and saliency), alternating in one run.
#
#   bench/fusion.sh [BUILD_DIR[=LABEL] ...]          default: build=now
#
# Variants per build: DM_FUSE=off (every layer by its own op) and on (the fusions[] table of
# host/model.c). Each run is one bench/bench_threads of SECONDS_PER seconds on THREADS threads; the
# variants alternate, ROUNDS rounds; medians over rounds of each run's median step → Markdown.
# Environment: ROUNDS (5), SECONDS_PER (2), THREADS ("1 2"), CSV (bench/results/fusion.csv),
# MD (bench/results/fusion.md).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
SECONDS_PER=${SECONDS_PER:-2}
THREADS=${THREADS:-"1 2"}
CSV=${CSV:-bench/results/fusion.csv}
MD=${MD:-bench/results/fusion.md}
[ $# -gt 0 ] || set -- build=now
bindir=$(mktemp -d)
trap 'rm -rf "$bindir"' EXIT INT TERM
n=0
for b in "$@"; do
    n=$((n + 1))
    [ -x "${b%%=*}/bench/bench_threads" ] || { echo "fusion.sh: ${b%%=*}/bench/bench_threads missing" >&2; exit 1; }
    cp "${b%%=*}/bench/bench_threads" "$bindir/bench_threads.$n"
done
tmp=$CSV.tmp
echo "build,fuse,round,workload,arch,batch,threads,iterations,median_s,min_s,rate,cpu_s,total_s,total_cpu_s,commit" > "$tmp"
for round in $(seq 1 "$ROUNDS"); do
    for w in train saliency; do
        for a in cnn cnnrnn; do
            for t in $THREADS; do
                n=0
                for b in "$@"; do
                    n=$((n + 1))
                    label=${b#*=}
                    [ "$label" = "$b" ] && label=$(basename "${b%%=*}")
                    for fuse in off on; do
                        row=$(DM_FUSE=$fuse "$bindir/bench_threads.$n" --workload "$w" --arch "$a" --threads "$t" --seconds "$SECONDS_PER")
                        echo "$label,$fuse,$round,$row" >> "$tmp"
                        echo "round $round $label fuse=$fuse $row" >&2
                    done
                done
            done
        done
    done
done
mv "$tmp" "$CSV"
python3 - "$CSV" "$MD" "$ROUNDS" "$SECONDS_PER" <<'EOF'
import csv, statistics, sys, datetime
path, md, rounds, secs = sys.argv[1:5]
rows = list(csv.DictReader(open(path)))
med, cpu = {}, {}
for r in rows:
    med.setdefault((r["build"], r["fuse"], r["workload"], r["arch"], r["threads"]), []).append(float(r["median_s"]))
    cpu.setdefault((r["build"], r["fuse"], r["workload"], r["arch"], r["threads"]), []).append(float(r["cpu_s"]))
builds = list(dict.fromkeys(r["build"] for r in rows))
keys = list(dict.fromkeys((r["workload"], r["arch"], r["threads"]) for r in rows))
out = ["# Fused conv → ReLU on the CPU against the unfused ops (bench/fusion.sh)\n",
       f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; {rounds} rounds, {secs} s per run, variants alternating; "
       f"medians over rounds of each run's median step; sequences/s at batch 256, L 101 (wall time), and the ratio of "
       f"process CPU time per step (less moved by other processes on a shared machine). `off` = DM_FUSE=off "
       f"(each layer its own op), `on` = the fusion table. Commits: {', '.join(sorted(set(r['commit'] for r in rows)))}.\n"]
hdr, sep = "| workload | arch | threads |", "|---|---|---:|"
for b in builds:
    hdr += f" {b} off | {b} on | on/off | CPU s off/on |"
    sep += "---:|---:|---:|---:|"
out += [hdr, sep]
for w, a, t in keys:
    line = f"| {w} | {a} | {t} |"
    for b in builds:
        off, on = med.get((b, "off", w, a, t)), med.get((b, "on", w, a, t))
        if not off or not on:
            line += " | | | |"; continue
        m0, m1 = statistics.median(off), statistics.median(on)
        c0, c1 = statistics.median(cpu[(b, "off", w, a, t)]), statistics.median(cpu[(b, "on", w, a, t)])
        line += f" {256 / m0:,.0f} | {256 / m1:,.0f} | {m0 / m1:.3f} | {c0 / c1:.3f} |"
    out.append(line)
if len(builds) > 1:
    out.append(f"\n`{builds[-1]} on` over `{builds[0]} off` (all of the branch's CPU changes against the old unfused path):\n")
    out.append("| workload | arch | threads | wall-time ratio | CPU-time ratio |")
    out.append("|---|---|---:|---:|---:|")
    for w, a, t in keys:
        x, y = med.get((builds[0], "off", w, a, t)), med.get((builds[-1], "on", w, a, t))
        cx, cy = cpu.get((builds[0], "off", w, a, t)), cpu.get((builds[-1], "on", w, a, t))
        if x and y:
            out.append(f"| {w} | {a} | {t} | {statistics.median(x) / statistics.median(y):.3f} | "
                       f"{statistics.median(cx) / statistics.median(cy):.3f} |")
open(md, "w").write("\n".join(out) + "\n")
print("\n".join(out))
EOF
