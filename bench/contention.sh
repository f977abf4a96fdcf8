#!/bin/sh
# bench/contention.sh: 1 vs 2 deepmotif threads with and without a competing CPU load on the same cores
# (issue 12: "under a competing load, 2 threads ≥ 1 thread on every workload"; and no loss without it).
#
#   bench/contention.sh [BUILD_DIR[=LABEL] ...]          default: build=now
#
# Each BUILD_DIR must hold bench/bench_threads (cmake -DDM_BUILD_BENCH=ON). For each round, each load
# (none, then 2 busy processes `while :; do :; done` started for the block and killed after it), each
# workload × architecture, each build, 1 then 2 threads: one bench_threads run of SECONDS_PER seconds.
# Medians over ROUNDS rounds of each run's throughput (its timed iterations over their total wall time;
# the median iteration's rate beside it, which under load hides the slices lost to preemption) → Markdown.
# On a machine with more than 2 CPUs everything (bench and busy processes) is pinned to CPUS (default
# 0,1) with taskset, so the load competes for the same two cores.
#
# Environment: ROUNDS (3), SECONDS_PER (3), WORKLOADS ("train saliency optimize infer"), ARCHS ("cnn rnn
# cnnrnn"), BUSY (2), CSV (bench/results/contention.csv), MD (bench/results/contention.md).
# OMP_WAIT_POLICY, GOMP_SPINCOUNT and OPENBLAS_NUM_THREADS are unset: users' defaults.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SECONDS_PER=${SECONDS_PER:-3}
WORKLOADS=${WORKLOADS:-"train saliency optimize infer"}
ARCHS=${ARCHS:-"cnn rnn cnnrnn"}
BUSY=${BUSY:-2}
CSV=${CSV:-bench/results/contention.csv}
MD=${MD:-bench/results/contention.md}
unset OMP_WAIT_POLICY GOMP_SPINCOUNT OPENBLAS_NUM_THREADS || true
[ $# -gt 0 ] || set -- build=now
for b in "$@"; do
    dir=${b%%=*}
    [ -x "$dir/bench/bench_threads" ] || { echo "contention.sh: $dir/bench/bench_threads missing (build with -DDM_BUILD_BENCH=ON)" >&2; exit 1; }
done

# run copies of the binaries, so a rebuild during the run cannot break or change it
bindir=$(mktemp -d)
n=0
for b in "$@"; do
    n=$((n + 1))
    cp "${b%%=*}/bench/bench_threads" "$bindir/bench_threads.$n"
done

PIN=""
if [ "$(nproc)" -gt 2 ] && command -v taskset >/dev/null; then PIN="taskset -c ${CPUS:-0,1}"; fi

busy_pids=""
stop_busy() {
    for p in $busy_pids; do kill "$p" 2>/dev/null || true; done
    for p in $busy_pids; do wait "$p" 2>/dev/null || true; done
    busy_pids=""
}
trap 'stop_busy; rm -rf "$bindir"' EXIT INT TERM

tmp=$CSV.tmp
echo "build,load,round,workload,arch,batch,threads,iterations,median_s,min_s,rate,cpu_s,total_s,total_cpu_s,commit" > "$tmp"
for round in $(seq 1 "$ROUNDS"); do
    for load in none busy; do
        if [ "$load" = busy ]; then
            for i in $(seq 1 "$BUSY"); do
                $PIN sh -c 'while :; do :; done' &
                busy_pids="$busy_pids $!"
            done
            sleep 1
        fi
        for w in $WORKLOADS; do
            for a in $ARCHS; do
                n=0
                for b in "$@"; do
                    n=$((n + 1))
                    dir=${b%%=*}
                    label=${b#*=}
                    [ "$label" = "$b" ] && label=$(basename "$dir")
                    for t in 1 2; do
                        row=$($PIN "$bindir/bench_threads.$n" --workload "$w" --arch "$a" --threads "$t" --seconds "$SECONDS_PER")
                        echo "$label,$load,$round,$row" >> "$tmp"
                        echo "round $round $load $label $row" >&2
                    done
                done
            done
        done
        stop_busy
    done
done
mv "$tmp" "$CSV"

# medians over rounds → Markdown
python3 bench/contention_report.py "$CSV" "$MD" "$ROUNDS" "$SECONDS_PER" "$BUSY" "$(nproc)" "$PIN"
