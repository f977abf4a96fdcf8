#!/bin/sh
# check_repro_objects.sh "OBJ;OBJ;...": the fixed-order kernels of --reproducible (kernels/cpu/repro_*.c,
# repro.h) hold their promise by construction: their objects call nothing outside the engine (dm_*) and
# memcpy/memset (no BLAS, whose kernels differ per CPU; no libm, whose FMA and non-FMA variants glibc
# picks per CPU; compiler runtime symbols __* of sanitizer builds and the linker-defined
# _GLOBAL_OFFSET_TABLE_ that UBSan's position-independent code names aside), and contain no FMA instruction
# at any ISA level (they are compiled with -ffp-contract=off: a product is rounded, then added).
# Lists each violation, fails when there is one or when no such object is found.
objs=$(printf '%s\n' "$1" | tr ';' '\n' | grep '/repro_[a-z_]*\.c\.o$')
[ -n "$objs" ] || { echo "no kernels/cpu/repro_*.c objects in the list"; exit 1; }
bad=0
for o in $objs; do
    calls=$(nm -u "$o" | awk '{ print $NF }' | grep -v -E '^(dm_|memcpy$|memset$|__|_GLOBAL_OFFSET_TABLE_$)')
    if [ -n "$calls" ]; then
        echo "${o##*/}: calls outside the engine: $(echo $calls)"
        bad=1
    fi
    fma=$(objdump -d "$o" | grep -c -E 'vf(n)?m(add|sub)')
    if [ "$fma" -ne 0 ]; then
        echo "${o##*/}: $fma FMA instructions (compiled without -ffp-contract=off?)"
        bad=1
    fi
done
exit $bad
