#!/bin/bash
# bench/memory.sh: peak RSS and wall time of the streaming commands against the number of sequences
# (issue 9, bounded memory). Writes bench/results/memory.tsv (appending nothing: one fresh table).
#
#   bench/memory.sh [BUILD_DIR]        (default build; needs BUILD/deepmotif and BUILD/bench/bench_small_model)
#   SIZES="100000 1000000 4000000"     sequences per input (simulate: half bound, half shuffles)
#   THREADS=1                          --threads (1: the fastest on a shared machine)
#   WORK=/tmp/dm-memory                scratch folder (inputs of ~140 bytes per sequence, outputs)
#
# Rows: command, model, sequences, peak RSS (KiB, from /usr/bin/time's %M = wait4's ru_maxrss), wall
# seconds, exit status. predict and saliency (grad) use a small CNN (bench_small_model: RSS in N does
# not depend on the model; time does), and predict is also timed with the default CNN at the first
# size. saliency writes 4 float32 arrays of N x 4 x 101 plus a TSV (~6.9 KB per sequence): it is run
# only while that fits in half the free disk (past 2.6M sequences its .npz members exceed 4 GiB and are
# written as ZIP64).
set -euo pipefail
BUILD=${1:-build}
SIZES=${SIZES:-"100000 1000000 4000000"}
THREADS=${THREADS:-1}
WORK=${WORK:-/tmp/dm-memory}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DM=$(realpath "$BUILD/deepmotif")
OUT=$ROOT/bench/results/memory.tsv
mkdir -p "$WORK"
"$BUILD/bench/bench_small_model" "$WORK/small.model"
export OPENBLAS_NUM_THREADS=1

{
  printf '# %s; %s; commit %s; %s\n' "$(date -u +%FT%TZ)" "$("$DM" --version | tr '\n' ' ')" \
    "$(git -C "$ROOT" rev-parse --short HEAD)" "threads $THREADS"
  printf 'command\tmodel\tsequences\tpeak_rss_kib\twall_s\texit\n'
} > "$OUT"

measure() {   # name model n -- command...
  local name=$1 model=$2 n=$3; shift 4
  local t rc=0
  /usr/bin/time -f '%M %e' -o "$WORK/time" "$@" > /dev/null 2> "$WORK/err" || rc=$?
  read -r rss wall < <(tail -1 "$WORK/time")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$model" "$n" "$rss" "$wall" "$rc" | tee -a "$OUT"
  [ $rc = 0 ] || { echo "  $(tail -1 "$WORK/err")"; }
}

first=1
for n in $SIZES; do
  data=$WORK/sim$n.tsv
  [ -s "$data" ] || "$DM" simulate --out "$data" --n $((n / 2)) --seed 9 2> /dev/null
  measure predict small "$n" -- "$DM" predict --model "$WORK/small.model" --data "$data" --out "$WORK/pred.tsv" \
    --device cpu --threads "$THREADS"
  if [ $first = 1 ]; then
    "$DM" train --arch cnn --train "$data" --out "$WORK/cnn.model" --epochs 1 --device cpu --threads "$THREADS" --quiet > /dev/null 2>&1
    measure predict cnn "$n" -- "$DM" predict --model "$WORK/cnn.model" --data "$data" --out "$WORK/pred.tsv" \
      --device cpu --threads "$THREADS"
    first=0
  fi
  rm -f "$WORK/pred.tsv"
  free_kb=$(df -Pk "$WORK" | awk 'NR==2{print $4}')
  need_kb=$((n * 7))
  if [ $need_kb -lt $((free_kb / 2)) ]; then
    measure saliency small "$n" -- "$DM" saliency --model "$WORK/small.model" --data "$data" --out "$WORK/sal" \
      --device cpu --threads "$THREADS" --quiet
    rm -f "$WORK"/sal.*
  else
    printf 'saliency\tsmall\t%s\tskipped\t-\t-\n' "$n" | tee -a "$OUT"
  fi
done
echo "wrote $OUT"
