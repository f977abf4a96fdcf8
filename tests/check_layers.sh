#!/bin/sh
# check_layers.sh SRC: the layering of the library (ARCHITECTURE.md): base/ includes only the public
# header and system headers; kernels/ include base/, include/ and kernels/ but nothing of host/.
# Checks every quoted #include of base/ and kernels/ against the headers of host/ (by name, since
# the build's include path holds them all). Also: the library prints nothing (it reports through
# dm_set_log's callbacks): no printf, puts, perror or write to stdout/stderr in base/, kernels/ or
# host/ outside the CLI (host/main.c, host/cli/) and the CUDA emulator (kernels/cuda/emu/, a test
# stand-in for the CUDA runtime that reports kernel errors as the real one would), except lines
# marked "check_layers: allowed" (base/error.c: the line explaining an internal-error abort).
# Lists each violation, fails when there is one.
src=${1:-.}
bad=0
hosthdrs=$(cd "$src/host" && find . -name '*.h' | sed 's|^\./||')
kernhdrs=$(cd "$src/kernels" && find . -name '*.h' -o -name '*.cuh' | sed 's|^\./||')
check() {   # check DIR FORBIDDEN_HEADERS WHAT
    dir=$1; forbidden=$2; what=$3
    for f in $(find "$src/$dir" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | sort); do
        grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r line; do
            inc=$(printf '%s\n' "$line" | sed 's/^[^"]*"\([^"]*\)".*/\1/')
            base=$(basename "$inc")
            for h in $forbidden; do
                if [ "$base" = "$(basename "$h")" ] || [ "${inc#*host/}" != "$inc" ]; then
                    echo "${f#$src/}:${line%%:*}: includes \"$inc\", $what"
                    break
                fi
            done
        done
    done
}
prints() {   # library sources that print to the standard streams
    find "$src/base" "$src/kernels" "$src/host" -type f \( -name '*.c' -o -name '*.cu' -o -name '*.h' \) \
        ! -path "$src/host/main.c" ! -path "$src/host/cli/*" ! -path "$src/kernels/cuda/emu/*" | sort |
    while IFS= read -r f; do
        grep -nE '(^|[^a-z_])(printf|puts|perror|vprintf)[[:space:]]*\(|f(printf|puts|putc|write)[[:space:]]*\([^;]*std(err|out)' "$f" |
            grep -v 'check_layers: allowed' | while IFS= read -r line; do
            echo "${f#$src/}:${line%%:*}: prints to a standard stream (the library reports through dm_set_log)"
        done
    done
}
out=$( { prints
         check kernels "$hosthdrs" "a header of host/ (kernels/ may include base/, include/, kernels/)"
         check base "$hosthdrs $kernhdrs" "a header of host/ or kernels/ (base/ may include include/ only)"; } )
if [ -n "$out" ]; then
    printf '%s\n' "$out"
    exit 1
fi
echo "layers: base/ and kernels/ include nothing from host/ (base/ nothing from kernels/); the library prints nothing"
