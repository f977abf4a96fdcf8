#!/bin/sh
# check_install.sh BUILD SRC: `cmake --install` into a temporary prefix, then examples/score_fasta.c
# compiled against the installed library through pkg-config, run on a model trained by the
# installed deepmotif, must print what `deepmotif predict` writes for the same FASTA.
# Run by ctest (api_install).
set -eu
build=$1 src=$2
command -v pkg-config > /dev/null || { echo "check_install: pkg-config is not installed"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
for f in include/deepmotif.h bin/deepmotif; do
    test -f "$prefix/$f" || { echo "check_install: $f was not installed"; exit 1; }
done
pc=$(find "$prefix" -name deepmotif.pc)
test -n "$pc" || { echo "check_install: deepmotif.pc was not installed"; exit 1; }
pcdir=$(dirname "$pc")
libdir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=libdir deepmotif)
test -f "$libdir/libdeepmotif.so" || { echo "check_install: pkg-config's libdir $libdir holds no libdeepmotif.so"; exit 1; }
test -f "$libdir/libdeepmotif.a" || { echo "check_install: no libdeepmotif.a in $libdir"; exit 1; }
# the example, as its comment says to build it (plus a run path, the prefix being private)
# (DM_EXAMPLE_CFLAGS: the sanitizer flags of a sanitizer build, set by tests/CMakeLists.txt)
${CC:-cc} -std=c11 -Wall -Werror ${DM_EXAMPLE_CFLAGS:-} "$src/examples/score_fasta.c" \
    $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs deepmotif) -Wl,-rpath,"$libdir" -o "$tmp/score_fasta"
# a small model and FASTA from the installed program
dm=$prefix/bin/deepmotif
"$dm" simulate --out "$tmp/sim.tsv" --n 150 --len 50 --seed 3 > /dev/null 2>&1
awk -F'\t' 'NR > 1 { print ">" $2; print $3 }' "$tmp/sim.tsv" > "$tmp/seqs.fa"
"$dm" train --arch cnn --len 50 --train "$tmp/sim.tsv" --out "$tmp/m.dm" --epochs 1 --batch 64 --device cpu \
    --threads 2 --quiet > /dev/null 2>&1 || { echo "check_install: deepmotif train failed"; exit 1; }
"$dm" predict --model "$tmp/m.dm" --data "$tmp/seqs.fa" --out "$tmp/cli.tsv" --device cpu --threads 2 2> /dev/null
"$tmp/score_fasta" "$tmp/m.dm" "$tmp/seqs.fa" cpu > "$tmp/example.tsv"
tail -n +2 "$tmp/cli.tsv" > "$tmp/cli.body"
n=$(wc -l < "$tmp/example.tsv")
test "$n" -eq 300 || { echo "check_install: score_fasta printed $n lines, expected 300"; exit 1; }
# both print P(bound) with %.6g from the same engine loop: identical text
if ! cmp -s "$tmp/cli.body" "$tmp/example.tsv"; then
    echo "check_install: score_fasta and deepmotif predict differ:"; diff "$tmp/cli.body" "$tmp/example.tsv" | head
    exit 1
fi
# a bad path is an error with the library's message, not a crash
if "$tmp/score_fasta" "$tmp/missing.dm" "$tmp/seqs.fa" cpu 2> "$tmp/err"; then
    echo "check_install: score_fasta accepted a missing model"; exit 1
fi
grep -q 'missing.dm' "$tmp/err" || { echo "check_install: the error does not name the file:"; cat "$tmp/err"; exit 1; }
echo "check_install: installed into a temporary prefix; score_fasta (pkg-config) = deepmotif predict on $n sequences"
