#!/bin/bash
# The weights' moving average on small sets (issue 15; bench/results/ema_small.md): one training per
# TF × architecture × seed with probe.patch's build, which follows the average of several decays
# beside the weights themselves in the same run. Each follower validates, selects and counts its own
# patience exactly as `train --ema D` does (D = 0: the weights, i.e. `train` without the average);
# the run goes on until every follower's patience has run out, none of them feeding back into
# training, so each pair (D = 0, D) shares the trajectory and differs only by the average. At the end
# the probe scores the test set with each follower's kept weights and logs a PROBE line.
#
# Build the probe (probe.patch applies to commit 29db57e, before `train --ema` existed; its average
# is that of host/train.c's later --ema, same ramp, computed in double on the host):
#   git worktree add /tmp/probe 29db57e && git -C /tmp/probe apply "$PWD/bench/ema_probe/probe.patch"
#   cmake -S /tmp/probe -B /tmp/probe/build -DCMAKE_BUILD_TYPE=Release && make -C /tmp/probe/build deepmotif_cli
# Draws: bench/learning_curve.sh's WORK/data/nN.sS (the same seeded subsamples as the table's cells).
#
#   PROBE_BIN  the probe's deepmotif (required)   DRAWS  learning_curve.sh's WORK/data (required)
#   DATA       the full _B files (../shared/data/deepbind)   N  size (2000)   SEEDS (1 2 3)
#   TFS        name prefixes (ELK1 GABPA ARID3A_K562 MYC REST)   ARCHS (cnn cnnrnn)
#   DECAYS     (0.99,0.995,0.999)   OUT  the PROBE rows (bench/results/ema_probe_N.tsv)
# Rows: tf arch seed seconds decay best_epoch best_valid test_auroc (decay 0: the weights). A row set
# already in OUT is not run again. Summary: python3 bench/ema_probe/sum.py OUT.
set -u
: "${PROBE_BIN:?the probe build's deepmotif}" "${DRAWS:?learning_curve.sh's WORK/data}"
N=${N:-2000}
DATA=${DATA:-$(dirname "$0")/../../../shared/data/deepbind}
out=${OUT:-$(dirname "$0")/../results/ema_probe_$N.tsv}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for s in ${SEEDS:-1 2 3}; do for tf in ${TFS:-ELK1 GABPA ARID3A_K562 MYC REST}; do for a in ${ARCHS:-cnn cnnrnn}; do
    ac=$(ls "$DRAWS/n$N.s$s/${tf}"*_AC.seq.gz 2>/dev/null | head -n 1)
    [ -n "$ac" ] || { echo "ema_probe: no draw $DRAWS/n$N.s$s/${tf}*_AC.seq.gz" >&2; exit 1; }
    name=$(basename "$ac" _AC.seq.gz)
    key="$name	$a	$s	"
    grep -qF "$key" "$out" 2>/dev/null && continue
    t0=$(date +%s)
    DM_EMA_PROBE=${DECAYS:-0.99,0.995,0.999} DM_EMA_PROBE_TEST="$DATA/${name}_B.seq.gz" \
        "$PROBE_BIN" train --arch "$a" --train "$ac" --negatives shuffle --seed "$s" --threads 1 \
        --out "$tmp/m.dm" > "$tmp/log" 2>&1 || { echo "ema_probe: $name $a seed $s failed: $(tail -n 1 "$tmp/log")" >&2; exit 1; }
    t1=$(date +%s)
    grep PROBE "$tmp/log" | sed "s/^.*PROBE/$key$((t1 - t0))/" >> "$out"
    echo "ema_probe: n$N $name $a seed $s ($((t1 - t0)) s)" >&2
done; done; done
