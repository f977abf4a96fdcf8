#!/bin/sh
# Regenerates the seed corpora of tests/fuzz/corpus/ (committed; run again only when a format
# changes): data sets from `deepmotif simulate`, motifs from `deepmotif optimize` on a model trained
# for one epoch, checkpoints from gen_checkpoint_seeds (the real writer, small shapes), and a few
# hand-written files for the cases the CLI does not write (unlabelled and multi-line FASTA, CRLF,
# IUPAC codes, JASPAR-style MEME). Byte 0 of a data or MEME seed is the target's control byte (see
# fuzz_data.c, fuzz_meme.c).
#   usage: tests/fuzz/make_seeds.sh BUILD_DIR FUZZ_BUILD_DIR   (e.g. build build-fuzz)
set -eu
cli="$1/deepmotif"
gen="$2/tests/fuzz/gen_checkpoint_seeds"
here=$(cd "$(dirname "$0")" && pwd)
c="$here/corpus"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$c"
mkdir -p "$c/data" "$c/meme" "$c/checkpoint"

# seed FILE CTL: the control byte (octal escape for printf) followed by the file
seed() { printf "\\$2" > "$3"; cat "$1" >> "$3"; }

# ---- data sets --------------------------------------------------------------------------------
"$cli" simulate --out "$tmp/sim.seq" --n 6 --len 30 --seed 5 2>/dev/null
head -5 "$tmp/sim.seq" > "$tmp/deepbind.seq"
# the pair layout of a labelled FASTA and a TSV: each positive followed by its shuffle
awk -F'\t' 'NR > 1 && NR <= 7 { printf ">%s\n%s\n", $4, $3 }' "$tmp/sim.seq" > "$tmp/labelled.fa"
awk -F'\t' 'NR > 1 && NR <= 7 { printf "%s\t%s\n", $3, $4 }' "$tmp/sim.seq" > "$tmp/two.tsv"
printf '>chr1:100-130 first peak\r\nACGTNacgtn\r\nRYKMSWBDHV\r\n>chr2:5-9\r\nacgt\r\n\r\n>x\r\nGGGGCCCCAAAATTTT\r\n' \
    > "$tmp/plain.fa"
printf 'FoldID\tEventID\tseq\tBound\nA\tpeak_000001_peak|x\tACGTNNacgt\t1\nA\tpeak_000001_shuf\tAGCTNNactg\t0\nB\tnorank\tTTTTTTTTTTTTTTTTTTTTTTTTTTT\t0\n' \
    > "$tmp/deepbind-ids.seq"
# ctl: bit 0 gzip, bits 1-3 format (0 auto, 1 DeepBind, 2 labelled FASTA, 3 FASTA, 4 TSV), bits 4-7 L
seed "$tmp/deepbind.seq"     200 "$c/data/deepbind-L30"          # 0x80: auto, L 30
seed "$tmp/deepbind.seq"     201 "$c/data/deepbind-L30-gz"       # 0x81: gzip
seed "$tmp/deepbind-ids.seq" 142 "$c/data/deepbind-ids-L12"      # 0x62: DeepBind forced, L 12
seed "$tmp/labelled.fa"      160 "$c/data/labelled-fasta-L20"    # 0x70
seed "$tmp/labelled.fa"      165 "$c/data/labelled-fasta-L20-gz" # 0x75: gzip, forced
seed "$tmp/plain.fa"         140 "$c/data/fasta-crlf-L12"        # 0x60
seed "$tmp/plain.fa"         147 "$c/data/fasta-crlf-L12-gz"     # 0x67: gzip, forced
seed "$tmp/two.tsv"          120 "$c/data/tsv-L8"                # 0x50
seed "$tmp/two.tsv"          131 "$c/data/tsv-L8-gz"             # 0x59: gzip, forced

# ---- checkpoints ------------------------------------------------------------------------------
"$gen" "$c/checkpoint"

# ---- MEME -------------------------------------------------------------------------------------
"$cli" train --arch cnn --train "$tmp/sim.seq" --len 30 --epochs 1 --batch 4 --device cpu --threads 1 \
    --out "$tmp/m.dm" --quiet > /dev/null 2>&1
"$cli" optimize --model "$tmp/m.dm" --out "$tmp/opt" --device cpu --threads 1 > /dev/null 2>&1
cat > "$tmp/jaspar.meme" <<'MEME'
MEME version 4

ALPHABET= ACGT

strands: + -

Background letter frequencies
A 0.3 C 0.2 G 0.2 T 0.3

MOTIF MA0001.1 AGL3

letter-probability matrix: alength= 4 w= 3 nsites= 97 E= 0
  0.000000	  0.969072	  0.000000	  0.030928
  0.010309	  0.855670	  0.000000	  0.134021
  0.0005	  0.2	  0.7995	  0.0

URL http://jaspar.genereg.net/matrix/MA0001.1

MOTIF MA0002.2 RUNX1
letter-probability matrix: alength= 4 w= 2 nsites= 2000 E= 1.2e-3
 0.25 0.25 0.25 0.25
 1 0 0 0
MEME
seed "$tmp/opt.meme"    0 "$c/meme/optimize"
seed "$tmp/opt.meme"    1 "$c/meme/optimize-gz"
seed "$tmp/jaspar.meme" 0 "$c/meme/jaspar"
seed "$tmp/jaspar.meme" 1 "$c/meme/jaspar-gz"
ls -l "$c"/*
