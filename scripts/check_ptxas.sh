#!/bin/sh
# check_ptxas.sh BUILD_DIR: fails when any CUDA kernel of the build spills registers or uses more than
# 48 KiB of static shared memory, from the ptxas reports that cmake/nvcc_log.sh kept (nvcc -Xptxas -v).
set -eu
dir=${1:?usage: check_ptxas.sh BUILD_DIR}
logs=$(find "$dir" -name '*.ptxas.log' | sort)
[ -n "$logs" ] || { echo "check_ptxas: no ptxas reports under $dir (was the CUDA backend built?)" >&2; exit 1; }
n_files=0; n_kernels=0; bad=0
for f in $logs; do
  n_files=$((n_files + 1))
  n_kernels=$((n_kernels + $(grep -c "Compiling entry function" "$f" || true)))
  if grep -E "[1-9][0-9]* bytes spill (stores|loads)" "$f" >/dev/null; then
    echo "check_ptxas: register spills in $f:" >&2
    grep -B2 -E "[1-9][0-9]* bytes spill" "$f" >&2
    bad=1
  fi
  for smem in $(grep -o "[0-9]* bytes smem" "$f" | cut -d' ' -f1); do
    if [ "$smem" -gt 49152 ]; then echo "check_ptxas: $smem bytes of shared memory in $f" >&2; bad=1; fi
  done
done
echo "check_ptxas: $n_kernels kernel compilations in $n_files files, spills and shared memory checked"
[ "$n_kernels" -gt 0 ] || { echo "check_ptxas: no kernel reports found" >&2; exit 1; }
exit $bad
