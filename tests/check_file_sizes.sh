#!/bin/sh
# check_file_sizes.sh SRC: every source file under SRC/host, SRC/kernels and SRC/base holds at most
# 800 lines, or says why it is longer in a line "Longer than 800 lines because: ..." within its
# first 40 lines (STYLE: files a reader can hold in their head). Lists every offender with its
# line count, and fails when there is one. Excludes nothing.
src=${1:-.}
limit=800
bad=0
for f in $(find "$src/host" "$src/kernels" "$src/base" -type f \
             \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name '*.js' \
                -o -name '*.css' -o -name '*.html' -o -name '*.py' \) 2>/dev/null | sort); do
    n=$(wc -l < "$f")
    if [ "$n" -gt "$limit" ] && ! head -n 40 "$f" | grep -q 'Longer than 800 lines because:'; then
        echo "${f#$src/}: $n lines, over $limit without a line 'Longer than 800 lines because: ...' near its top"
        bad=1
    fi
done
[ "$bad" -eq 0 ] && echo "every file in host/, kernels/ and base/ is within $limit lines or says why not"
exit $bad
