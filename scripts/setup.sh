#!/bin/sh
# Installs what `make`, `make test`, `make fuzz` and `make demo` need on a Debian machine, and nothing
# that is already there. Run as root (or with sudo available). Idempotent: a second run does nothing
# when everything is installed.
#
# Required: the C toolchain, zlib, OpenBLAS, Criterion (tests), and clang with its sanitizer and
# libFuzzer runtimes (libclang-rt-dev) and its OpenMP (libomp-dev), for the fuzz targets of
# tests/fuzz; python3-numpy, with which tests/test_npy.c checks that numpy reads the .npz files
# (ZIP64 included); python3-pytest, which runs the Python package's tests (python/tests) with that
# numpy; htslib (libhts-dev: indexed FASTA genomes, BED regions) and libBigWig (libbigwig-dev: bigWig
# tracks), and samtools, whose `faidx` the genome tests compare against; OpenMPI (libopenmpi-dev,
# openmpi-bin: the MPI build, DM_MPI, and `mpirun`, which tests/test_mpi.c starts on loopback). A failure to install these
# fails the set-up.
# Optional: Chromium, for the dashboard's browser tests (they skip without it). Its installation is
# tried on every run until it succeeds; a failure prints one line and never fails the set-up.
set -eu

have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=""
apt_update() {
    [ -n "$updated" ] && return 0
    $SUDO apt-get update -qq && updated=1
}

need=""
for pkg in cmake make gcc pkg-config zlib1g-dev libopenblas-dev libcriterion-dev \
           clang libclang-rt-dev libomp-dev python3-numpy python3-pytest libhts-dev libbigwig-dev samtools \
           libopenmpi-dev openmpi-bin; do
    have "$pkg" || need="$need $pkg"
done
if [ -n "$need" ]; then
    echo "setup: installing$need" >&2
    apt_update
    $SUDO apt-get install -y -qq --no-install-recommends $need >&2
fi

# libFuzzer must link: a clang whose runtime package is missing compiles but fails at the link.
if command -v clang > /dev/null 2>&1; then
    probe=$(mktemp -d)
    printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' \
        > "$probe/probe.c"
    if ! clang -fsanitize=fuzzer,address,undefined "$probe/probe.c" -o "$probe/probe" 2> "$probe/err"; then
        ver=$(clang -dumpversion | cut -d. -f1)
        echo "setup: clang cannot link libFuzzer; installing libclang-rt-$ver-dev" >&2
        apt_update
        $SUDO apt-get install -y -qq --no-install-recommends "libclang-rt-$ver-dev" >&2
        clang -fsanitize=fuzzer,address,undefined "$probe/probe.c" -o "$probe/probe" || {
            echo "setup: clang still cannot link -fsanitize=fuzzer (see above)" >&2
            rm -rf "$probe"
            exit 1
        }
    fi
    rm -rf "$probe"
fi

# Optional: Debian's headless-capable Chromium. Retried on every run until it is installed.
if ! have chromium; then
    echo "setup: installing chromium (optional, for the dashboard's browser tests)" >&2
    if apt_update && $SUDO apt-get install -y -qq --no-install-recommends chromium >&2; then
        :
    else
        echo "setup: chromium could not be installed; the browser tests will be skipped (tried again next time)" >&2
    fi
fi
exit 0
