#!/bin/sh
# nvcc_log.sh: CMAKE_CUDA_COMPILER_LAUNCHER. Runs the nvcc command line given as arguments and keeps
# its diagnostics (the -Xptxas=-v resource report) in <object>.ptxas.log for scripts/check_ptxas.sh.
out=""
prev=""
for a in "$@"; do
  [ "$prev" = "-o" ] && out="$a"
  prev="$a"
done
[ -n "$out" ] || exec "$@"
"$@" 2>"$out.ptxas.log"
rc=$?
# show real diagnostics, not the resource report
grep -v -E "^ptxas info|bytes stack frame|^$" "$out.ptxas.log" >&2
exit $rc
