#!/bin/sh
# rc_measure.sh [BIN] [DATA] [OUT.tsv]: the --rc default's measurement (issue 15). Trains the CNN on
# DeepBind _AC sets (+ one dinucleotide shuffle per positive) with --rc none and --rc both (augment
# at training, strand average at prediction), the same seeds, epochs and patience, and scores the
# _B test sets. One row per TF x mode x seed: test AUROC, AUPRC, epochs, seconds.
# Environment: TFS (default "REST MYC ZBTB7A"), SEEDS (default "1"), EPOCHS (10), PATIENCE (3),
# ARCH (cnn), THREADS (2), MODES (default "none both").
set -eu
bin=${1:-build/deepmotif}
data=${2:-../shared/data/deepbind}
out=${3:-bench/results/rc_measure.tsv}
tfs=${TFS:-REST MYC ZBTB7A}
seeds=${SEEDS:-1}
epochs=${EPOCHS:-10}
patience=${PATIENCE:-3}
arch=${ARCH:-cnn}
threads=${THREADS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'tf\tarch\trc\tseed\ttest_auroc\ttest_auprc\tbest_epoch\tepochs_run\tseconds\n' > "$out.part"
for tf in $tfs; do
    ac=$(ls "$data"/${tf}_*_AC.seq.gz | head -n 1)
    b=$(ls "$data"/${tf}_*_B.seq.gz | head -n 1)
    for seed in $seeds; do
        for rc in ${MODES:-none both}; do
            "$bin" train --arch "$arch" --train "$ac" --negatives shuffle --test "$b" --out "$tmp/m.dm" \
                --epochs "$epochs" --patience "$patience" --seed "$seed" --rc "$rc" --threads "$threads" \
                --quiet > "$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
            auroc=$(awk '/^test/ {print $5}' "$tmp/log")
            auprc=$(awk '/^test/ {print $7}' "$tmp/log")
            ep=$(sed -n 's/^model .*epoch \([0-9]*\) of \([0-9]*\) run.*/\1\t\2/p' "$tmp/log")
            secs=$(awk '/^time/ {print $2}' "$tmp/log")
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tf" "$arch" "$rc" "$seed" "$auroc" "$auprc" "$ep" "$secs" \
                | tee -a "$out.part"
        done
    done
done
mv "$out.part" "$out"
