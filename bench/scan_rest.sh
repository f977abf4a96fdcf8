#!/usr/bin/env bash
# Acceptance demo of `deepmotif scan` (issue 14): a CNN trained on REST GM12878 (_AC positives + one
# dinucleotide shuffle each) scans a synthetic genome in which REST positives of the held-out _B file
# are planted as 101-bp blocks at known coordinates (background: a second-order Markov chain fitted to
# the _B sequences; bench/scan_rest.py). Reports the fraction of planted sites covered by a peak and
# the fraction of peaks on a planted site, for the whole genome at stride 10; then the "BED in, bigWig
# out" example (regions around some sites and away from all, stride 5), read back with pyBigWig when
# /work/venv-torch (or $PYBIGWIG_PYTHON) has it.
#
#   bench/scan_rest.sh [DATA_DIR] [OUT_MD]
#     DATA_DIR  default ../shared/data/deepbind
#     OUT_MD    default bench/results/scan_rest.md
# Environment: DM_BIN (build/deepmotif), MODEL (reuse this checkpoint instead of training), WORK (a
#              folder kept for inspection; default a temporary one), EPOCHS (20), SEED (1),
#              STRIDE (10), REGION_STRIDE (5), DEVICE (auto), REUSE=1 (with WORK: reuse its whole-genome scan).
set -euo pipefail
data=${1:-../shared/data/deepbind}
md=${2:-bench/results/scan_rest.md}
bin=${DM_BIN:-build/deepmotif}
epochs=${EPOCHS:-20}
seed=${SEED:-1}
stride=${STRIDE:-10}
rstride=${REGION_STRIDE:-5}
device=${DEVICE:-auto}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
pybw=${PYBIGWIG_PYTHON:-/work/venv-torch/bin/python}
ac="$data/REST_GM12878_NRSF_HudsonAlpha_AC.seq.gz"
b="$data/REST_GM12878_NRSF_HudsonAlpha_B.seq.gz"
[ -x "$bin" ] || { echo "scan_rest: $bin not built (run make)" >&2; exit 1; }
[ -f "$ac" ] && [ -f "$b" ] || { echo "scan_rest: no REST GM12878 files in $data" >&2; exit 1; }
if [ -n "${WORK:-}" ]; then w=$WORK; mkdir -p "$w"; else w=$(mktemp -d); trap 'rm -rf "$w"' EXIT; fi
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

model=${MODEL:-$w/rest.cnn.dm}
if [ -z "${MODEL:-}" ]; then
    t0=$(date +%s.%N)
    "$bin" train --arch cnn --train "$ac" --negatives shuffle --epochs "$epochs" --seed "$seed" \
        --device "$device" --out "$model" > "$w/train.log" 2>&1
    train_s=$(echo "$(date +%s.%N) - $t0" | bc)
fi
auroc=$("$bin" eval --model "$model" --data "$b" --device "$device" | awk '$1 == "AUROC" {print $2}')

"$py" "$here/scan_rest.py" genome "$b" "$w" --seed "$seed"
bases=$(grep -v '^>' "$w/genome.fa" | tr -d '\n' | wc -c)

# the whole genome at stride S, both strands (max): the bedGraph, and the peaks at 0.5 as scan writes
# them; the peaks at 0.9 are the same merge of the windows (recovered from the bedGraph's intervals)
if [ "${REUSE:-0}" = 1 ] && [ -s "$w/whole.bedGraph" ] && [ -s "$w/scan_s" ]; then
    scan_s=$(cat "$w/scan_s")
else
    t0=$(date +%s.%N)
    "$bin" scan --model "$model" --genome "$w/genome.fa" --stride "$stride" --device "$device" --quiet \
        --format bedgraph --out "$w/whole" 2> "$w/scan.log"
    scan_s=$(echo "$(date +%s.%N) - $t0" | bc)
    echo "$scan_s" > "$w/scan_s"
fi
for t in 0.9 0.99; do
    "$py" "$here/scan_rest.py" peaks "$w/whole.bedGraph" "$stride" 101 $t > "$w/whole$t.peaks.bed"
done
# the helper against scan's own peaks at 0.5 (it reads the bedGraph's 6 printed digits, so a window
# printed as exactly 0.5 may differ)
"$py" "$here/scan_rest.py" peaks "$w/whole.bedGraph" "$stride" 101 0.5 | cut -f1-3 > "$w/whole50.check"
same=$(comm -12 <(cut -f1-3 "$w/whole.peaks.bed" | sort) <(sort "$w/whole50.check") | wc -l)
ev50=$("$py" "$here/scan_rest.py" evaluate "$w/sites.bed" "$w/whole.peaks.bed")
ev90=$("$py" "$here/scan_rest.py" evaluate "$w/sites.bed" "$w/whole0.9.peaks.bed")
ev99=$("$py" "$here/scan_rest.py" evaluate "$w/sites.bed" "$w/whole0.99.peaks.bed")
get() { echo "$1" | awk -v k="$2" '$1 == k {print $2}'; }

# BED in, bigWig out
"$bin" scan --model "$model" --genome "$w/genome.fa" --bed "$w/regions.bed" --stride "$rstride" --device "$device" \
    --quiet --out "$w/regions" 2>> "$w/scan.log"
"$bin" scan --model "$model" --genome "$w/genome.fa" --bed "$w/regions.bed" --stride "$rstride" --device "$device" \
    --quiet --format bedgraph --out "$w/regions" 2>> "$w/scan.log"
evr=$("$py" "$here/scan_rest.py" evaluate <(awk '$4 ~ /^site_/' "$w/regions.bed" | cut -f1-3) "$w/regions.peaks.bed")

# the bigWig as a genome browser's library reads it
if "$pybw" -c 'import pyBigWig' 2> /dev/null; then
    pycheck=$("$pybw" - "$w/regions.bw" "$w/regions.bedGraph" <<'EOF'
import math, sys
import pyBigWig
bw = pyBigWig.open(sys.argv[1])
assert bw.isBigWig(), "not a bigWig"
n = worst = 0
for line in open(sys.argv[2]):
    c, s, e, v = line.split()
    got = bw.values(c, int(s), int(e))
    for g in got:
        worst = max(worst, abs(g - float(v)) / max(abs(float(v)), 1e-30))
        n += 1
print(f"pyBigWig {pyBigWig.__version__}: {len(bw.chroms())} chromosomes, {n} bases compared with the bedGraph, "
      f"largest relative difference {worst:.2e} (the bedGraph prints 6 significant digits)")
EOF
)
else
    pycheck="pyBigWig not installed in $pybw: check skipped"
fi

mkdir -p "$(dirname "$md")"
cat > "$md" <<EOF
# \`deepmotif scan\` on a synthetic genome with planted REST sites

Written by \`bench/scan_rest.sh\` (commit $commit, $(date -u +%Y-%m-%dT%H:%MZ), $("$bin" --version | sed -n 's/^cpu: //p')).

- Model: CNN (default shapes) trained on REST GM12878 \`_AC\` with \`--negatives shuffle\`,
  ${epochs} epochs max, seed $seed ($(sed -n 's/^model .*(cnn, \(.*\))$/best \1/p' "$w/train.log" 2>/dev/null),
  $(sed -n 's/^time *\([0-9.]*\) s.*/\1 s/p' "$w/train.log" 2>/dev/null)); AUROC on the held-out \`_B\` file: $auroc.
- Genome: $(grep -c '^>' "$w/genome.fa") chromosomes, $bases bases from a second-order Markov chain fitted
  to the \`_B\` sequences; $(wc -l < "$w/sites.bed") REST positives of \`_B\` planted as 101-bp blocks at
  random positions at least 2 kb apart (\`sites.bed\`).
- Scan: every chromosome, stride $stride, both strands (max), in ${scan_s%.*} s.

| threshold | peaks | planted sites covered by a peak (recall) | peaks on a planted site (precision) |
|---|---|---|---|
| 0.5 | $(get "$ev50" peaks) | $(get "$ev50" sites_covered) / $(get "$ev50" sites) = $(get "$ev50" recall) | $(get "$ev50" peaks_on_sites) / $(get "$ev50" peaks) = $(get "$ev50" precision) |
| 0.9 | $(get "$ev90" peaks) | $(get "$ev90" sites_covered) / $(get "$ev90" sites) = $(get "$ev90" recall) | $(get "$ev90" peaks_on_sites) / $(get "$ev90" peaks) = $(get "$ev90" precision) |
| 0.99 | $(get "$ev99" peaks) | $(get "$ev99" sites_covered) / $(get "$ev99" sites) = $(get "$ev99" recall) | $(get "$ev99" peaks_on_sites) / $(get "$ev99" peaks) = $(get "$ev99" precision) |

Peaks at 0.5 are \`scan\`'s own \`PREFIX.peaks.bed\`; those at 0.9 and 0.99 are the same merge of the windows
done by \`bench/scan_rest.py peaks\` from the bedGraph (\`--threshold\` gives them directly; the helper saves
two more scans), which reproduces $same of scan's $(get "$ev50" peaks) peaks at 0.5 exactly (a window
printed as exactly 0.5 in the bedGraph's 6 digits can fall on either side).

Reading: every planted site is found at 0.5, but the background, 2 Mb scored in 200,000 windows on both
strands, yields many more windows over 0.5 than there are sites (the model was trained against
dinucleotide shuffles of peaks, not against genomic background, so its false-positive rate per window
is what a genome-wide threshold must absorb); a stricter threshold trades recall for precision (the
table). The scan itself is exact: \`tests/test_scan.c\` checks every window of a
planted-motif genome against an independent search.

BED in, bigWig out: $(wc -l < "$w/regions.bed") regions of 2 kb (half around planted sites, half away
from every site), stride $rstride: $(get "$evr" peaks) peaks; $(get "$evr" sites_covered) of the
$(get "$evr" sites) site regions hold a peak, $(get "$evr" peaks_on_sites) peaks lie in a site region.
$pycheck.
EOF
cat "$md"
