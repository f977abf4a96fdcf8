#!/bin/bash
# bench/memory.sh: peak RSS and wall time of the streaming commands against the number of sequences
# (issue 9, bounded memory). Writes bench/results/memory.tsv (appending nothing: one fresh table).
#
#   bench/memory.sh [BUILD_DIR]        (default build; needs BUILD/deepmotif and BUILD/bench/bench_small_model)
#   SIZES="100000 1000000 4000000"     sequences per input (simulate: half bound, half shuffles)
#   THREADS=1                          --threads (1: the fastest on a shared machine)
#   WORK=/tmp/dm-memory                scratch folder (inputs of ~140 bytes per sequence, outputs)
#   SHARDS=2                           also run predict and saliency as --shard 1/S .. S/S (0: not), one
#                                      after the other: each shard's peak RSS and time, and whether the
#                                      assembled outputs equal the unsharded run's byte for byte (cmp)
#   OUT=bench/results/memory.tsv       the table written
#
# Rows: command, model, sequences, peak RSS (KiB, from /usr/bin/time's %M = wait4's ru_maxrss), wall
# seconds, exit status. predict and saliency (grad) use a small CNN (bench_small_model: RSS in N does
# not depend on the model; time does), and predict is also timed with the default CNN at the first
# size. saliency writes 4 float32 arrays of N x 4 x 101 plus a TSV (~6.9 KB per sequence): it is run
# only while that fits in half the free disk, and sharded only while two sets fit (past 2.6M sequences
# its .npz members exceed 4 GiB and are
# written as ZIP64).
set -euo pipefail
BUILD=${1:-build}
SIZES=${SIZES:-"100000 1000000 4000000"}
THREADS=${THREADS:-1}
WORK=${WORK:-/tmp/dm-memory}
SHARDS=${SHARDS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DM=$(realpath "$BUILD/deepmotif")
OUT=${OUT:-$ROOT/bench/results/memory.tsv}
mkdir -p "$WORK"
"$BUILD/bench/bench_small_model" "$WORK/small.model"
export OPENBLAS_NUM_THREADS=1

{
  printf '# %s; %s; commit %s; %s\n' "$(date -u +%FT%TZ)" "$("$DM" --version | tr '\n' ' ')" \
    "$(git -C "$ROOT" rev-parse --short HEAD)" "threads $THREADS"
  printf 'command\tmodel\tsequences\tpeak_rss_kib\twall_s\texit\tidentical\n'
} > "$OUT"

# Runs a command under /usr/bin/time: RSS (KiB), WALL (s), RC.
timed() {
  RC=0
  /usr/bin/time -f '%M %e' -o "$WORK/time" "$@" > /dev/null 2> "$WORK/err" || RC=$?
  read -r RSS WALL < <(tail -1 "$WORK/time")
  [ $RC = 0 ] || { echo "  $(tail -1 "$WORK/err")"; }
}
row() {   # name model n identical
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$RSS" "$WALL" "$RC" "$4" | tee -a "$OUT"
}
measure() {   # name model n -- command...
  local name=$1 model=$2 n=$3; shift 4
  timed "$@"
  row "$name" "$model" "$n" -
}

# The S shards of a command one after the other (the last one to finish assembles the outputs); the
# identical column of the last row: the assembled files cmp-equal to the unsharded run's (REF_FILES
# against SHARD_FILES). usage: sharded name model n -- command (without --shard)
sharded() {
  local name=$1 model=$2 n=$3 i k same; shift 4
  for i in $(seq 1 "$SHARDS"); do
    timed "$@" --shard "$i/$SHARDS"
    if [ "$i" = "$SHARDS" ]; then
      same=yes
      for k in "${!REF_FILES[@]}"; do cmp -s "${REF_FILES[$k]}" "${SHARD_FILES[$k]}" || same=no; done
      row "$name --shard $i/$SHARDS (assembles)" "$model" "$n" "$same"
    else
      row "$name --shard $i/$SHARDS" "$model" "$n" -
    fi
  done
}

first=1
for n in $SIZES; do
  data=$WORK/sim$n.tsv
  [ -s "$data" ] || "$DM" simulate --out "$data" --n $((n / 2)) --seed 9 2> /dev/null
  measure predict small "$n" -- "$DM" predict --model "$WORK/small.model" --data "$data" --out "$WORK/pred.tsv" \
    --device cpu --threads "$THREADS"
  if [ "$SHARDS" -gt 0 ]; then
    REF_FILES=("$WORK/pred.tsv") SHARD_FILES=("$WORK/pred.shard.tsv")
    sharded predict small "$n" -- "$DM" predict --model "$WORK/small.model" --data "$data" \
      --out "$WORK/pred.shard.tsv" --device cpu --threads "$THREADS"
    rm -f "$WORK/pred.shard.tsv"
  fi
  if [ $first = 1 ]; then
    "$DM" train --arch cnn --train "$data" --out "$WORK/cnn.model" --epochs 1 --device cpu --threads "$THREADS" --quiet > /dev/null 2>&1
    measure predict cnn "$n" -- "$DM" predict --model "$WORK/cnn.model" --data "$data" --out "$WORK/pred.tsv" \
      --device cpu --threads "$THREADS"
    first=0
  fi
  rm -f "$WORK/pred.tsv"
  free_kb=$(df -Pk "$WORK" | awk 'NR==2{print $4}')
  need_kb=$((n * 7))   # one saliency output set; the sharded run's set is compared with it, so twice that
  if [ $need_kb -lt $((free_kb / 2)) ]; then
    measure saliency small "$n" -- "$DM" saliency --model "$WORK/small.model" --data "$data" --out "$WORK/sal" \
      --device cpu --threads "$THREADS" --quiet
    if [ "$SHARDS" -gt 0 ] && [ $((2 * need_kb)) -ge $((free_kb / 2)) ]; then
      printf 'saliency --shard (all)\tsmall\t%s\tskipped\t-\t-\t-\n' "$n" | tee -a "$OUT"   # two sets do not fit
    elif [ "$SHARDS" -gt 0 ]; then
      REF_FILES=() SHARD_FILES=()
      for x in npy onehot.npy npz onehot.npz tsv; do REF_FILES+=("$WORK/sal.$x") SHARD_FILES+=("$WORK/salsh.$x"); done
      sharded saliency small "$n" -- "$DM" saliency --model "$WORK/small.model" --data "$data" --out "$WORK/salsh" \
        --device cpu --threads "$THREADS" --quiet
      rm -f "$WORK"/salsh.*
    fi
    rm -f "$WORK"/sal.*
  else
    printf 'saliency\tsmall\t%s\tskipped\t-\t-\t-\n' "$n" | tee -a "$OUT"
  fi
done
echo "wrote $OUT"
