#!/bin/sh
# Fast ISM (receptive-field windows) against deepmotif's full recomputation and tangermeme's
# saturation_mutagenesis on the same PyTorch model, alternating in one run; medians of ROUNDS.
# Usage: bench/ism_fast.sh [BUILD_DIR] (default build); PY (default /work/venv-torch/bin/python: torch 2.x
# and tangermeme); ROUNDS (5), NSEQ (32 sequences of 101), THREADS (2). Writes bench/results/ism_fast.md.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
py=${PY:-/work/venv-torch/bin/python}
out=$root/bench/results/ism_fast.md
tmp=$out.tmp
{
    echo "# ISM: receptive-field windows vs full recomputation vs tangermeme"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$root" rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg),"
    echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), threads ${THREADS:-2}, ${NSEQ:-32} sequences of 101,"
    echo "random-init default models (deepmotif.Model(arch, seed=3)), the PyTorch twin by deepmotif.torch.to_torch;"
    echo "torch $($py -c 'import torch; print(torch.__version__)'), tangermeme $($py -c 'import importlib.metadata as m; print(m.version("tangermeme"))');"
    echo "sequences per second, medians of ${ROUNDS:-5} alternating rounds."
    echo
    DEEPMOTIF_LIB=$build/libdeepmotif.so PYTHONPATH=$root/python OMP_WAIT_POLICY=passive "$py" "$root/bench/ism_fast.py" cnn cnnrnn danq
    # the hand-written notes of the last run stay (their figures are that run's: update them)
    if [ -f "$out" ] && grep -q '^## Notes' "$out"; then echo; sed -n '/^## Notes/,$p' "$out"; fi
} > "$tmp"
mv "$tmp" "$out"
cat "$out"
