#!/bin/sh
# check_symbols.sh BUILD SRC: libdeepmotif.so exports exactly the DM_API functions of
# include/deepmotif.h; in a CUDA build, neither libdeepmotif.so nor the deepmotif program needs a
# CUDA library (the backend is libdeepmotif_cuda.so, which exports its entry point only).
# Run by ctest (api_symbols); exits 1 naming every difference.
set -eu
build=$1 src=$2
lib=$build/libdeepmotif.so
test -f "$lib" || { echo "check_symbols: $lib is missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# every exported (defined, dynamic) symbol
nm -D --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sed 's/@.*//' | sort -u > "$tmp/exported"
# every DM_API declaration: the identifier before the first '(' of a line starting with DM_API
sed -nE 's/^DM_API[^(]*[^a-zA-Z0-9_]([a-zA-Z_][a-zA-Z0-9_]*)\(.*/\1/p' "$src/include/deepmotif.h" | sort -u > "$tmp/declared"
status=0
extra=$(comm -23 "$tmp/exported" "$tmp/declared")
missing=$(comm -13 "$tmp/exported" "$tmp/declared")
if [ -n "$extra" ]; then
    echo "check_symbols: exported by $lib but not declared DM_API in include/deepmotif.h:"; echo "$extra" | sed 's/^/  /'
    status=1
fi
if [ -n "$missing" ]; then
    echo "check_symbols: declared DM_API in include/deepmotif.h but not exported by $lib:"; echo "$missing" | sed 's/^/  /'
    status=1
fi
echo "check_symbols: $(wc -l < "$tmp/exported") symbols exported, $(wc -l < "$tmp/declared") declared"
if [ -f "$build/libdeepmotif_cuda.so" ]; then
    for f in "$lib" "$build/deepmotif"; do
        needed=$(readelf -d "$f" | grep NEEDED | grep -E 'libcuda|libcudart|libcublas|libcudnn' || true)
        if [ -n "$needed" ]; then
            echo "check_symbols: $f links CUDA directly (it must load libdeepmotif_cuda.so at run time):"
            echo "$needed"
            status=1
        fi
    done
    plugin=$(nm -D --defined-only "$build/libdeepmotif_cuda.so" | awk 'NF == 3 { print $3 }' | sed 's/@.*//' | sort -u)
    if [ "$plugin" != "dm_cuda_plugin_entry" ]; then
        echo "check_symbols: libdeepmotif_cuda.so exports more than dm_cuda_plugin_entry:"; echo "$plugin" | head -20
        status=1
    fi
    echo "check_symbols: CUDA build: libdeepmotif.so and deepmotif need no CUDA library"
    # without the plugin: --device cuda is one clear error, --device auto runs on the CPU
    dm=$build/deepmotif
    "$dm" simulate --out "$tmp/sim.tsv" --n 20 --len 30 > /dev/null 2>&1
    "$dm" train --arch cnn --len 30 --train "$tmp/sim.tsv" --out "$tmp/m.dm" --epochs 1 --device cpu --quiet > /dev/null 2>&1
    if DM_CUDA_LIBRARY=$tmp/none/libdeepmotif_cuda.so "$dm" predict --model "$tmp/m.dm" --data "$tmp/sim.tsv" \
            --out "$tmp/p.tsv" --device cuda 2> "$tmp/err"; then
        echo "check_symbols: --device cuda ran without libdeepmotif_cuda.so"; status=1
    elif ! grep -q "cuda:0: libdeepmotif_cuda.so: .*none/libdeepmotif_cuda.so" "$tmp/err"; then
        echo "check_symbols: unexpected message for a missing plugin:"; cat "$tmp/err"; status=1
    fi
    if ! DM_CUDA_LIBRARY=$tmp/none/libdeepmotif_cuda.so "$dm" predict --model "$tmp/m.dm" --data "$tmp/sim.tsv" \
            --out "$tmp/p.tsv" --device auto 2> "$tmp/err"; then
        echo "check_symbols: --device auto failed without libdeepmotif_cuda.so:"; cat "$tmp/err"; status=1
    fi
fi
exit $status
