#!/usr/bin/env bash
# bench/reproducible.sh: `train --reproducible` across emulated machines, and its cost in speed.
#
#   bench/reproducible.sh [demo|rest|all]      (default all; results: bench/results/reproducible.md)
#
# demo: `make demo`'s simulated data (5,000 + 500 sequences, seed 1) and its three models (cnn, rnn,
#       cnnrnn with the demo's learning rates); rest: the CNN-RNN on DeepBind's REST set
#       (/work/shared/data/deepbind, or DM_DEEPBIND). Each model is trained with --reproducible under
#       OPENBLAS_CORETYPE Haswell, SkylakeX and Zen (with --threads 1, 2, 3 respectively) and its
#       weights hashed (sha256 of the safetensors export). EPOCHS=N overrides every epoch count (the
#       demo's 10-15 epochs on the reference kernels take long: EPOCHS=1 N=300 for a quick check).
# speed: one epoch of the cnnrnn on 1,000 simulated sequences (the size rule's batch 32) and one on 4,000
#       with --batch 256 (the batch of sets of 30,720 or more, as REST's), default vs --reproducible, both
#       with THREADS threads (default: all cores) and OPENBLAS_CORETYPE unset (the default path as a user's
#       machine runs it), alternating A B A B ... (RUNS pairs, default 5), medians of sequences/s.
#       Take it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
BIN=${BIN:-build/deepmotif}
OUT=${OUT:-bench/results/reproducible.md}
DATA=${DM_DEEPBIND:-/work/shared/data/deepbind}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

N=${N:-5000}   # bound sequences of the demo's training set (N=300 for a quick check)
$BIN simulate --out "$tmp/train.seq.gz" --n "$N" --seed 1 > /dev/null
$BIN simulate --out "$tmp/test.seq.gz" --n 500 --seed 11 > /dev/null
$BIN simulate --out "$tmp/speed.seq.gz" --n 500 --seed 2 > /dev/null
$BIN simulate --out "$tmp/speed256.seq.gz" --n 2000 --seed 3 > /dev/null
THREADS=${THREADS:-$(nproc)}
RUNS=${RUNS:-5}

# hash_row NAME ARCH LR EPOCHS TRAIN TEST [train options...]: one table row, the three core types' hashes
hash_row() {
    local name=$1 arch=$2 lr=$3 epochs=${EPOCHS:-$4} train=$5 test=$6
    shift 6
    local hashes=() t=1
    for core in Haswell SkylakeX Zen; do
        OPENBLAS_CORETYPE=$core $BIN train --arch "$arch" --train "$train" --test "$test" --epochs "$epochs" \
            --lr "$lr" --seed 1 --out "$tmp/m.dm" --reproducible --threads $t --quiet "$@" > /dev/null
        $BIN export --model "$tmp/m.dm" --format safetensors --out "$tmp/m.safetensors"
        hashes+=("$(sha256sum "$tmp/m.safetensors" | cut -c1-16)")
        t=$((t + 1))
        rm -f "$tmp/m.dm" "$tmp/m.dm.last"
    done
    local same=no
    [ "${hashes[0]}" = "${hashes[1]}" ] && [ "${hashes[1]}" = "${hashes[2]}" ] && same=yes
    echo "| $name | $arch | $epochs | ${hashes[0]} | ${hashes[1]} | ${hashes[2]} | $same |"
}

# seq/s of one epoch of the cnnrnn on FILE, from train's summary line "time  X s, N sequences/s"
speed() {
    local file=$1
    shift
    env -u OPENBLAS_CORETYPE $BIN train --arch cnnrnn --train "$file" --epochs 1 --seed 1 --out "$tmp/s.dm" \
        --threads "$THREADS" --quiet "$@" |
        awk '/sequences\/s/ { for (i = 1; i <= NF; i++) if ($i ~ /sequences\/s/) print $(i - 1) }'
    rm -f "$tmp/s.dm" "$tmp/s.dm.last"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

{
    echo "# train --reproducible across emulated machines"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
    echo "$(nproc) cores; \`bench/reproducible.sh $what\` with N=$N${EPOCHS:+ EPOCHS=$EPOCHS}. Hashes: the first 16 hex digits"
    echo "of the sha256 of the model's safetensors export; the three core types ran with --threads 1, 2, 3."
    echo
    echo "| model | arch | epochs | Haswell | SkylakeX | Zen | identical |"
    echo "|---|---|---|---|---|---|---|"
    if [ "$what" != rest ]; then
        hash_row demo cnn 0.01 10 "$tmp/train.seq.gz" "$tmp/test.seq.gz"
        hash_row demo rnn 0.001 15 "$tmp/train.seq.gz" "$tmp/test.seq.gz"
        hash_row demo cnnrnn 0.002 15 "$tmp/train.seq.gz" "$tmp/test.seq.gz"
    fi
    rest="$DATA/REST_GM12878_NRSF_HudsonAlpha"
    if [ "$what" != demo ]; then
        if [ -f "${rest}_AC.seq.gz" ]; then
            hash_row REST cnnrnn 0.01 20 "${rest}_AC.seq.gz" "${rest}_B.seq.gz" --negatives shuffle
        else
            echo "| REST | cnnrnn | - | (data absent: $rest) | | | |"
        fi
    fi
    echo
    echo "Speed (OPENBLAS_CORETYPE unset, --threads $THREADS for both), one epoch of the demo's cnnrnn, alternating"
    echo "runs, median of $RUNS (all runs in brackets):"
    echo
    echo "| set | batch | default seq/s | --reproducible seq/s | slower by |"
    echo "|---|---|---|---|---|"
    for cfg in "speed.seq.gz:by size (32)" "speed256.seq.gz:256"; do   # 1,000 and 4,000 sequences
        file=${cfg%%:*} label=${cfg#*:}
        opts=()
        [ "$label" = 256 ] && opts=(--batch 256)
        a=() b=()
        for i in $(seq "$RUNS"); do
            a+=("$(speed "$tmp/$file" "${opts[@]}")")
            b+=("$(speed "$tmp/$file" "${opts[@]}" --reproducible)")
        done
        ma=$(printf '%s\n' "${a[@]}" | median) mb=$(printf '%s\n' "${b[@]}" | median)
        echo "| $file | $label | $ma (${a[*]}) | $mb (${b[*]}) | $(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f×", a / b }') |"
    done
} | tee "$OUT"
