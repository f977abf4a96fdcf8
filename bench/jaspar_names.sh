#!/usr/bin/env bash
# Visualization acceptance on real data: train the CNN and the CNN-RNN (foundation defaults: AC +
# shuffled negatives, default protocol, at most 20 epochs) on REST, GABPA, USF1, FOXA1 and SP1, then
# name what they learned against JASPAR 2020: the first-layer filters (`deepmotif motifs`, aligned on
# the _B test sequences) and 16 class-optimised restarts (`deepmotif optimize`). The table says, for
# each, whether the expected TF family is among the top 5 JASPAR hits, with the q-values.
#
#   bench/jaspar_names.sh [DATA_DIR] [OUT_PREFIX]   (defaults ../shared/data, bench/results/jaspar)
set -euo pipefail
data=${1:-../shared/data}
prefix=${2:-bench/results/jaspar}
bin=${DM_BIN:-build/deepmotif}
jaspar="$data/jaspar/JASPAR2020_CORE_vertebrates_non-redundant_pfms_meme.txt"
[ -f "$jaspar" ] || { echo "jaspar_names: $jaspar not found" >&2; exit 1; }
work=${WORK:-$(mktemp -d)}
mkdir -p "$work" "$(dirname "$prefix")"
declare -A stem=(
    [REST]=REST_GM12878_NRSF_HudsonAlpha [GABPA]=GABPA_GM12878_GABP_HudsonAlpha
    [USF1]=USF1_HepG2_USF-1_HudsonAlpha [FOXA1]="FOXA1_HepG2_FOXA1_(SC-101058)_HudsonAlpha"
    [SP1]=SP1_GM12878_SP1_HudsonAlpha)
for tf in REST GABPA USF1 FOXA1 SP1; do
    ac="$data/deepbind/${stem[$tf]}_AC.seq.gz"
    b="$data/deepbind/${stem[$tf]}_B.seq.gz"
    for arch in cnn cnnrnn; do
        m="$work/$tf.$arch.dm"
        [ -f "$m" ] || "$bin" train --arch "$arch" --train "$ac" --negatives shuffle --test "$b" --epochs 20 \
            --seed 1 --out "$m" --quiet > "$work/$tf.$arch.train.log" 2>&1
        "$bin" motifs --model "$m" --data "$b" --out "$work/$tf.$arch.filters" --db "$jaspar" > /dev/null 2>&1
        "$bin" optimize --model "$m" --out "$work/$tf.$arch.opt" --restarts 16 --db "$jaspar" > /dev/null 2>&1
        echo "$tf $arch done" >&2
    done
done
python3 bench/jaspar_table.py "$work" "$jaspar" "$prefix"
