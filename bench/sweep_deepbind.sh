#!/usr/bin/env bash
# Acceptance of issue 13's sweep: the 13 DeepBind ENCODE train/test pairs (NAME_AC + NAME_B; the
# test-only _B files are left out) × cnn, rnn, cnnrnn, run as two shards of `deepmotif sweep` at the
# same time (each with half the threads) and merged: the table an unsharded run gives.
#
#   bench/sweep_deepbind.sh [DATA_DIR] [OUT_PREFIX]
#     DATA_DIR    default ../shared/data/deepbind
#     OUT_PREFIX  default bench/results/sweep_deepbind: writes OUT_PREFIX.results.tsv, .summary.tsv
#                 (the paper-style aggregate: mean/median/sd per architecture, wins and Wilcoxon p
#                 per pair) and .md (the command, the machine, how long each shard and the merge took)
# Environment: DM_BIN (build/deepmotif), EPOCHS (train's default, 50, with early stopping), ARCHS
#              (cnn,rnn,cnnrnn), THREADS (all cores, split between the shards), SEED (1),
#              TFS (an extended regex on the data set names: only those, e.g. 'REST|GABPA'),
#              WORK (build/sweep_deepbind: the shards' and the merged output folders with the models;
#              rerunning continues them: finished rows are kept).
set -euo pipefail
data=${1:-../shared/data/deepbind}
prefix=${2:-bench/results/sweep_deepbind}
bin=${DM_BIN:-build/deepmotif}
archs=${ARCHS:-cnn,rnn,cnnrnn}
threads=${THREADS:-$(nproc)}
work=${WORK:-build/sweep_deepbind}
[ -x "$bin" ] || { echo "sweep_deepbind: $bin not built (run make)" >&2; exit 1; }
[ -d "$data" ] || { echo "sweep_deepbind: no data directory $data" >&2; exit 1; }
mkdir -p "$work" "$(dirname "$prefix")"
opts=(--archs "$archs" --seed "${SEED:-1}")
[ -n "${EPOCHS:-}" ] && opts+=(--epochs "$EPOCHS")
half=$(( threads / 2 > 0 ? threads / 2 : 1 ))

if [ -n "${TFS:-}" ]; then   # a folder of links to the chosen pairs
    sub="$work/data"
    rm -rf "$sub" && mkdir -p "$sub"
    for f in "$data"/*_AC.seq.gz; do
        name=$(basename "$f" _AC.seq.gz)
        if [[ "$name" =~ $TFS ]] && [ -f "$data/${name}_B.seq.gz" ]; then
            ln -s "$(realpath "$f")" "$sub/" && ln -s "$(realpath "$data/${name}_B.seq.gz")" "$sub/"
        fi
    done
    data=$sub
fi

t0=$(date +%s.%N)
declare -a pids secs
for i in 1 2; do
    ( s=$(date +%s.%N)
      "$bin" sweep --data "$data" --out "$work/shard$i" --shard "$i/2" --threads "$half" "${opts[@]}" \
          > "$work/shard$i.out" 2> "$work/shard$i.err"
      awk -v a="$(date +%s.%N)" -v b="$s" 'BEGIN { print a - b }' > "$work/shard$i.seconds" ) &
    pids[$i]=$!
done
rc=0
for i in 1 2; do wait "${pids[$i]}" || rc=1; done
if [ $rc != 0 ]; then
    echo "sweep_deepbind: a shard failed:" >&2
    tail -n 3 "$work"/shard*.err >&2
    exit 1
fi
m0=$(date +%s.%N)
"$bin" sweep --merge "$work/shard1" "$work/shard2" --out "$work/merged" > "$work/merge.out"
t1=$(date +%s.%N)
cp "$work/merged/results.tsv" "$prefix.results.tsv"
cp "$work/merged/summary.tsv" "$prefix.summary.tsv"

rows=$(( $(wc -l < "$prefix.results.tsv") - 1 ))
{
    echo "# Sweep over the DeepBind ENCODE pairs (issue 13 acceptance${TFS:+; a trial on a subset})"
    echo
    echo "Command: \`bench/sweep_deepbind.sh $*\` (${TFS:+TFS='$TFS' }${EPOCHS:+EPOCHS=$EPOCHS }ARCHS=$archs THREADS=$threads):"
    echo "two \`deepmotif sweep --shard I/2 --threads $half\` at the same time, then \`deepmotif sweep --merge\`."
    echo "Commit $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown), $(nproc) cores"
    echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(date -u +%Y-%m-%dT%H:%MZ)."
    echo
    printf 'Wall time: %.0f s in all; shard 1 %.0f s, shard 2 %.0f s (each counts the rows it trained,\n' \
        "$(awk -v a="$t1" -v b="$t0" 'BEGIN { print a - b }')" "$(cat "$work/shard1.seconds")" "$(cat "$work/shard2.seconds")"
    printf 'not rows kept from an earlier run); merge %.1f s. %d rows.\n' "$(awk -v a="$t1" -v b="$m0" 'BEGIN { print a - b }')" "$rows"
    echo
    grep -h "kept," "$work"/shard*.err | sed 's/^/    /'
    echo
    echo "## Summary (summary.tsv)"
    echo
    echo '```'
    cat "$prefix.summary.tsv"
    echo '```'
    echo
    echo "## Results (results.tsv; model paths relative to the merged output)"
    echo
    echo '| data set | arch | n train | n test | AUROC | AUPRC | epochs | train s |'
    echo '|---|---|---:|---:|---:|---:|---:|---:|'
    tail -n +2 "$prefix.results.tsv" | awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $5, $6, $7, $9, $11}'
} > "$prefix.md"
echo "sweep_deepbind: $rows rows; $prefix.md, $prefix.results.tsv, $prefix.summary.tsv"
