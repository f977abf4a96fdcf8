#!/bin/sh
# Runs every libFuzzer target of a DM_FUZZ build for SECONDS each, one after the other, and prints
# per target the executions, their rate and the coverage libFuzzer reached (its final stats:
# stat::number_of_executed_units, and cov:/ft:/corp: of its last status line). Appends one row per
# target to TSV when given. Exits 1 when any target found a crash, a leak, a timeout or an
# out-of-memory input (its reproducer is left in BUILD/fuzz/crashes/, the log in BUILD/fuzz/logs/).
#
# Each target starts from the committed seeds (tests/fuzz/corpus/<target>) plus the corpus that
# earlier runs in this build folder grew (BUILD/fuzz/corpus/<target>, where new inputs are saved),
# so coverage accumulates across runs.
#   usage: tests/fuzz/run.sh BUILD SECONDS [TSV]
set -u
build="$1"
seconds="$2"
tsv="${3:-}"
here=$(cd "$(dirname "$0")" && pwd)
targets="${FUZZ_TARGETS:-data checkpoint meme motifdb}"

mkdir -p "$build/fuzz/logs" "$build/fuzz/crashes"
if [ -n "$tsv" ] && [ ! -s "$tsv" ]; then
    mkdir -p "$(dirname "$tsv")"
    printf 'date_utc\tcommit\ttarget\tseconds\texecutions\texec_per_s\tcov\tft\tcorpus\tresult\tcpu\n' > "$tsv"
fi
commit=$(git -C "$here" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
status=0
for t in $targets; do
    bin="$build/tests/fuzz/fuzz_$t"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing (build the DM_FUZZ build first: make fuzz)" >&2
        exit 2
    fi
    work="$build/fuzz/corpus/$t"
    log="$build/fuzz/logs/$t.log"
    mkdir -p "$work"
    # -max_len 4096: the seeds are small and inputs grow from them; -timeout 10 s and -rss_limit_mb
    # 2048 make a hang or an allocation blow-up a reported failure.
    OMP_NUM_THREADS=1 UBSAN_OPTIONS=print_stacktrace=1 "$bin" -max_total_time="$seconds" -max_len=4096 \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -dict="$here/$t.dict" \
        -artifact_prefix="$build/fuzz/crashes/$t-" "$work" "$here/corpus/$t" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        status=1
        art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        result="FAILED (exit $rc${art:+, reproducer $art})"
    fi
    printf 'fuzz_%-11s %4ss  %10s executions  %7s exec/s  cov %-5s ft %-6s corpus %-5s %s\n' "$t" \
        "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
    if [ "$rc" -ne 0 ]; then
        echo "fuzz: fuzz_$t failed; the end of $log:" >&2
        tail -40 "$log" >&2
    fi
    if [ -n "$tsv" ]; then
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$commit" \
            "$t" "$seconds" "${execs:-}" "${rate:-}" "${cov:-}" "${ft:-}" "${corp:-}" "$result" "$cpu" >> "$tsv"
    fi
done
exit $status
