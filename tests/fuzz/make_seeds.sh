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
mkdir -p "$c/data" "$c/meme" "$c/checkpoint" "$c/motifdb"

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

# ---- motif databases (fuzz_motifdb: ctl bit 0 gzip, bits 1-2 type, bit 3 pseudocount 0) --------------
printf '>MA0004.1\tArnt\nA  [ 4 19  0  0  0  0 ]\nC  [16  0 20  0  0  0 ]\nG  [ 0  1  0 20  0 20 ]\nT  [ 0  0  0  0 20  0 ]\n>MA0006.1 Ahr::Arnt\nA [3 0 0 0 0 0]\nC [8 0 23 0 0 0]\nG [2 23 0 23 0 24]\nT [11 1 1 1 24 0]\n' > "$tmp/a.jaspar"
printf '>MA0004.1 Arnt\r\n4 19 0 0 0 0\r\n16 0 20 0 0 0\r\n0 1 0 20 0 20\r\n0 0 0 0 20 0\r\n' > "$tmp/a.pfm"
printf '>AHR_HUMAN.H11MO.0.B\n40.5\t18.2\t56.4\t38.7\n10.8\t11.8\t34.6\t96.5\n0.0\t150.3\t1.4\t2.1\n0.0\t0.0\t153.9\t0.0\n' > "$tmp/h.pcm"
printf '>X_HUMAN.H11MO.0.A\n-0.191\t1.069\t-2.038\t-2.038\n1.234\t-2.038\t-1.190\t-2.038\n-2.038\t1.283\t-2.038\t-2.038\n-2.038\t-2.038\t1.283\t-2.038\n-2.038\t-2.038\t-2.038\t1.283\n' > "$tmp/h.pwm"
printf 'VV  header\nXX\n//\nAC  MA0004.1\nXX\nID  Arnt\nXX\nDE  MA0004.1 Arnt ; From JASPAR\nP0      A      C      G      T\n01      4     16      0      0      C\n02     19      0      1      0      A\n03      0     20      0      0      C\nXX\nCC  note\n//\nAC  M2\nP0 T G C A\n01 1 2 3 4\n02 0.1 0.2 0.3 0.4\n//\n' > "$tmp/t.transfac"
printf '1 2 3 4 5\n5 4 3 2 1\n0 1 0 1 0\n4 4 4 4 4\n' > "$tmp/bare.pfm"
printf 'MEME version 5\n\nALPHABET= ACGT\n\nMOTIF pattern_0\nletter-probability matrix: alength= 4 w= 3 nsites= 1 E= 0\n 0.01 -0.02 0.30 0.00\n -0.1 0.0 0.0 0.2\n 0 0 0 0\n' > "$tmp/cwm.meme"
seed "$tmp/a.jaspar"   0  "$c/motifdb/jaspar"
seed "$tmp/a.jaspar"   1  "$c/motifdb/jaspar-gz"
seed "$tmp/a.pfm"      10 "$c/motifdb/pfm-crlf-pc0"
seed "$tmp/h.pcm"      0  "$c/motifdb/hocomoco-pcm"
seed "$tmp/h.pwm"      1  "$c/motifdb/hocomoco-pwm-gz"
seed "$tmp/t.transfac" 0  "$c/motifdb/transfac"
seed "$tmp/bare.pfm"   2  "$c/motifdb/bare-ppm"
seed "$tmp/cwm.meme"   0  "$c/motifdb/cwm-meme"
seed "$tmp/cwm.meme"   4  "$c/motifdb/cwm-meme-forced"
ls -l "$c"/*
