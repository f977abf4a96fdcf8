#!/bin/bash
# The one prepared check for the day a GPU machine is lent (issue 10): builds deepmotif's CUDA backend
# for the GPU present, runs the CUDA tests on it, runs compute-sanitizer (memcheck, racecheck,
# synccheck, initcheck) over the op tests and runs bench_gpu (before the sanitizer, whose four tools
# take longest: a run cut short by its time limit still brings back the timings), writing everything
# under OUTDIR:
#
#   summary.txt   one line per step: what ran, its exit status, its seconds (read this first)
#   machine.txt   nvidia-smi, nvcc, the compiler, CMake, the dependencies used
#   build.log     configure and build
#   ctest.log     the CUDA tests (test_backend_ops, test_cuda_*) and the build checks (ptxas, symbols)
#   sanitizer.log the four compute-sanitizer tools over test_backend_ops, one after another
#   bench_gpu.csv bench_gpu's table (both variants: deepmotif's kernels and cuDNN's, when present)
#   bench_gpu_b1024.csv the same at batch 1024
#   ncu.txt       Nsight Compute's per-kernel device times over a few training steps of each architecture
#
# A GPU machine of this workplace has the CUDA toolkit, CMake and a C compiler but no Debian
# development packages and no network: run scripts/gpu-deps.sh here first and carry .gpudeps
# (device tool: run(command="scripts/gpu-check.sh $OUT", carry=[".gpudeps"], timeout_s=300)). Missing
# packages are unpacked from there into a private prefix (never into /); the machine's own shared
# libraries win over carried ones with the same soname. Without Criterion, the CUDA tests build
# against tests/crshim (DM_TEST_SHIM). Every step has its own time limit (about 20 minutes in all);
# on an H200 with 16 cores the whole check took 2 minutes (bench/results/gpu-h200/). A step that
# fails is recorded and the next one runs.
# DM_GPU_BENCH_ONLY=1 builds and runs bench_gpu alone (about a minute: for a lease's last minutes).
#   usage: scripts/gpu-check.sh OUTDIR
set -u
[ $# -eq 1 ] || { echo "usage: scripts/gpu-check.sh OUTDIR" >&2; exit 2; }
OUT=$1
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUILD=${DM_GPU_BUILD:-$ROOT/build-gpu}
JOBS=$(nproc)
T0=$(date +%s)
: > "$OUT/summary.txt"

note() { echo "gpu-check: $*" | tee -a "$OUT/summary.txt" >&2; }
# step NAME LIMIT_S LOG COMMAND...: runs it under a time limit, appends to LOG, records the outcome
step() {
    local name=$1 limit=$2 log=$3 t rc
    shift 3
    t=$(date +%s)
    echo "==== $name: $*" >> "$log"
    timeout --kill-after=10 "$limit" "$@" >> "$log" 2>&1
    rc=$?
    note "$(printf '%-28s rc %-3s %4ss%s' "$name" "$rc" "$(( $(date +%s) - t ))" \
        "$([ "$rc" = 124 ] && echo " (time limit $limit s)")")"
    return $rc
}

# ---- the machine ----------------------------------------------------------------------------------
{
    date -u
    nvidia-smi 2>&1
    nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv 2>&1
    nvcc --version 2>&1
    cc --version 2>&1 | head -1
    cmake --version 2>&1 | head -1
    echo "cores: $JOBS"
    git -C "$ROOT" log --oneline -1 2>&1
} > "$OUT/machine.txt"
CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
if [ -z "$CAP" ]; then
    note "no GPU answers nvidia-smi: the CUDA tests would only skip; building anyway for sm 90"
    CAP=90
fi
note "GPU compute capability $CAP, $JOBS cores"

# ---- dependencies ---------------------------------------------------------------------------------
PC=$(command -v pkg-config || true)
if [ -z "$PC" ] || ! pkg-config --exists openblas htslib zlib 2>/dev/null \
   || ! [ -e /usr/include/bigWig.h ] || [ -n "${DM_GPU_FORCE_DEPS:-}" ]; then
    if ! ls .gpudeps/*.deb > /dev/null 2>&1; then
        note "the machine lacks OpenBLAS/htslib/libBigWig/pkg-config and .gpudeps/ was not carried (scripts/gpu-deps.sh)"
        exit 1
    fi
    P=/tmp/dm-gpudeps
    rm -rf "$P" && mkdir -p "$P"
    for f in .gpudeps/*.deb; do dpkg-deb -x "$f" "$P" || { note "cannot unpack $f"; exit 1; }; done
    LIB=$P/usr/lib/x86_64-linux-gnu
    # Debian selects OpenBLAS's flavour with update-alternatives, which dpkg-deb -x does not run
    for f in "$LIB"/openblas-pthread/*; do ln -sf "$f" "$LIB/$(basename "$f")"; done
    mkdir -p "$LIB/pkgconfig"
    ln -sf "$LIB/openblas-pthread/pkgconfig/openblas.pc" "$LIB/pkgconfig/openblas-pthread.pc" 2>/dev/null
    cp "$LIB/openblas-pthread/pkgconfig/openblas.pc" "$LIB/pkgconfig/openblas.pc" 2>/dev/null
    # the machine's own libraries win: drop each carried library (and its links) whose soname it has,
    # so that the programs of the machine (python3, nvcc) never load a carried one
    kept=""
    for so in "$LIB"/*.so.* "$P"/lib/x86_64-linux-gnu/*.so.*; do
        [ -f "$so" ] && [ ! -L "$so" ] || continue
        soname=$(readelf -d "$so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
        [ -n "$soname" ] || soname=$(basename "$so")
        # (but a library the build links directly, whose carried -dev link names it, stays)
        if ldconfig -p | grep -q "^[[:space:]]*$soname " && [ ! -L "$(dirname "$so")/${soname%%.so*}.so" ]; then
            rm -f "$so" "$(dirname "$so")/$soname"
        else
            kept="$kept $soname"
        fi
    done
    # .pc files name /usr: point them into the prefix
    for pc in "$LIB"/pkgconfig/*.pc "$P"/usr/share/pkgconfig/*.pc; do
        [ -f "$pc" ] && sed -i -e "s#=/usr#=$P/usr#" -e "s#-I/usr#-I$P/usr#g" -e "s#-L/usr#-L$P/usr#g" "$pc"
    done
    export PKG_CONFIG_PATH=$LIB/pkgconfig:$P/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
    export LD_LIBRARY_PATH=$LIB:$P/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LIBRARY_PATH=$LIB:$P/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}
    export CPATH=$P/usr/include${CPATH:+:$CPATH}
    export CMAKE_PREFIX_PATH=$P/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
    [ -n "$PC" ] || PC=$P/usr/bin/pkg-config
    [ -x "$PC" ] || PC=$P/usr/bin/pkgconf
    note "dependencies from .gpudeps in $P (carried shared libraries kept:${kept:- none})"
fi
echo "pkg-config: $PC; openblas $("$PC" --modversion openblas 2>&1); htslib $("$PC" --modversion htslib 2>&1)" \
    >> "$OUT/machine.txt"

# cuDNN: the toolkit's, else the one PyTorch's image carries as a Python wheel
CUDNN_ARGS=()
if ! [ -e /usr/include/cudnn.h ] && ! [ -e /usr/local/cuda/include/cudnn.h ]; then
    d=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null \
        || python3 -c 'import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])' 2>/dev/null)
    so=$(ls "$d"/lib/libcudnn.so* 2>/dev/null | head -1)
    if [ -n "$d" ] && [ -f "$d/include/cudnn.h" ] && [ -n "$so" ]; then
        CUDNN_ARGS=(-DDM_CUDNN_INCLUDE="$d/include" -DDM_CUDNN_LIB="$so")
        export LD_LIBRARY_PATH=$d/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        note "cuDNN from $d"
    else
        note "no cuDNN found: the cudnn variant is left out"
    fi
fi

# ---- build ----------------------------------------------------------------------------------------
SHIM=OFF
pkg-config --exists criterion 2>/dev/null || SHIM=ON
GEN=()
command -v ninja > /dev/null && GEN=(-G Ninja)
step configure 120 "$OUT/build.log" cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DDM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$CAP" -DDM_BUILD_BENCH=ON -DDM_TEST_SHIM=$SHIM \
    -DPKG_CONFIG_EXECUTABLE="$PC" -DDM_TEST_FILTER='test_(backend_ops|cuda_.*)' "${CUDNN_ARGS[@]}" \
    || { note "configure failed: see build.log"; exit 1; }
step build 240 "$OUT/build.log" cmake --build "$BUILD" -j "$JOBS" || { note "build failed: see build.log"; exit 1; }

# ---- the CUDA tests -------------------------------------------------------------------------------
# one GPU: tests in turn would take longest; 4 at once share it well (each uses a few hundred MB)
if [ -n "${DM_GPU_BENCH_ONLY:-}" ]; then
    note "DM_GPU_BENCH_ONLY: the tests and the sanitizer left out"
else
    step ctest 200 "$OUT/ctest.log" ctest --test-dir "$BUILD" -j 4 --output-on-failure --timeout 180
    grep -E "tests passed|Skipped|Failed|\(Failed\)|\(Timeout\)|dm-skipped" "$OUT/ctest.log" | tail -20 >> "$OUT/summary.txt"
fi

# ---- bench_gpu ------------------------------------------------------------------------------------
if [ -x "$BUILD/bench/bench_gpu" ]; then
    step bench_gpu 120 "$OUT/bench.log" sh -c "'$BUILD/bench/bench_gpu' --repeats 10 > '$OUT/bench_gpu.csv'"
    # four times the batch: a step whose time barely grows is paid per launch, not per sequence
    step "bench_gpu batch 1024" 120 "$OUT/bench.log" \
        sh -c "'$BUILD/bench/bench_gpu' --repeats 10 --batch 1024 > '$OUT/bench_gpu_b1024.csv'"
    cat "$OUT/bench.log" >> "$OUT/build.log" && rm -f "$OUT/bench.log"
    # each kernel's device time in a few training steps per architecture (deepmotif's kernels only):
    # which kernels make a step slower than the emulator's model (ncu needs the Firecracker runtime)
    NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
    if [ -n "$NCU" ]; then
        step "ncu per kernel" 150 "$OUT/ncu.txt" sh -c "for a in cnn rnn cnnrnn; do echo \"==== \$a train\"; \
            '$NCU' --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
            '$BUILD/bench/bench_gpu' --repeats 5 --min-seconds 0 --no-cudnn --only \$a:train || exit; done"
    else
        note "ncu not found: per-kernel times left out"
    fi
else
    note "bench_gpu was not built"
fi
# ---- compute-sanitizer over the op tests ----------------------------------------------------------
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
OPS=$BUILD/tests/test_backend_ops
if [ -n "${DM_GPU_BENCH_ONLY:-}" ]; then
    :
elif [ -z "$CS" ]; then
    note "compute-sanitizer not found: sanitizer step left out"
elif [ ! -x "$OPS" ]; then
    note "no $OPS: sanitizer step left out"
else
    # the tests fork one process per test: --target-processes all follows them
    for tool in memcheck racecheck synccheck initcheck; do
        extra=()
        [ "$tool" = memcheck ] && extra=(--leak-check full)
        step "sanitizer $tool" 75 "$OUT/sanitizer.log" env DM_TEST_SMALL=1 OPENBLAS_NUM_THREADS=1 \
            "$CS" --tool "$tool" "${extra[@]}" --target-processes all --error-exitcode 3 "$OPS" --jobs=1
    done
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|========= (Invalid|Race|Barrier|Uninitialized)" "$OUT/sanitizer.log" \
        | sort | uniq -c | head -20 >> "$OUT/summary.txt"
fi

note "done in $(( $(date +%s) - T0 )) s"
