#!/bin/sh
# Fetches, on this (Debian) machine, the packages a deepmotif build needs that a GPU machine's CUDA
# image may lack, as .deb files in .gpudeps/ (ignored by git), for scripts/gpu-check.sh to unpack
# there: the GPU machine reaches no package registry, so they travel with the working tree (the
# device tool's `carry: [".gpudeps"]`). Criterion is not among them: gpu-check.sh builds the CUDA
# tests against tests/crshim when Criterion is absent.
#
# What is fetched: OpenBLAS, zlib's headers, htslib, libBigWig and pkg-config, with the libraries
# they depend on, less the C library and the compiler's own runtime (every machine has those).
# gpu-check.sh keeps, of the carried shared libraries, only those whose soname the GPU machine lacks.
#   usage: scripts/gpu-deps.sh            (about 30 MB; a second run fetches nothing new)
set -eu
cd "$(dirname "$0")/.."
want="libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread zlib1g-dev libhts-dev libbigwig-dev pkgconf"
# the closure of their dependencies (not Recommends), by package name
all=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances $want | grep -v '^ ' | grep -v '^<' | sort -u)
skip='^(libc6|libc6-dev|libc-dev-bin|libgcc-s1|gcc-12-base|linux-libc-dev|libcrypt1|libcrypt-dev|libnsl-dev|libnsl2|libtirpc-common|libtirpc-dev|libtirpc3|rpcsvc-proto|libopenblas-openmp-dev|libopenblas-serial-dev|libopenblas0-openmp|libopenblas0-serial|libstdc\+\+6|debconf|perl-base|dpkg|tar|install-info)$'
list=$(printf '%s\n' $all | grep -Ev "$skip")
mkdir -p .gpudeps
cd .gpudeps
# apt-get download runs as _apt when it can: give it a folder it may write
chmod 0777 . 2> /dev/null || true
missing=""
for p in $list; do
    ls "${p}_"*.deb > /dev/null 2>&1 || missing="$missing $p"
done
[ -n "$missing" ] && apt-get download $missing > /dev/null
echo "gpu-deps: $(ls *.deb | wc -l) packages, $(du -sh . | cut -f1) in .gpudeps/" >&2
