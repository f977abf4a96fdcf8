#!/usr/bin/env bash
# Issue 15's reverse-complement table: the DeepBind pairs (13 _AC/_B pairs in ../shared/data/deepbind)
# × CNN and CNN-RNN × seeds, trained without and with `--rc` (train's option: none | augment | average
# | both; stored in the model, so the sweep's test scoring uses it), mean ± sd test AUROC and the gain
# per TF over `--rc none`.
#
#   bench/rc_table.sh
#
# One `deepmotif sweep --seed S --rc MODE` per mode and seed into WORK/MODE.sS (train's defaults
# otherwise); resumable: rerun the same command and sweep keeps its finished rows. Results: OUT.tsv
# (one row per TF × arch × mode × seed) and OUT.md.
#
# Environment:
#   DM_BIN   deepmotif binary (build/deepmotif)   DATA  ../shared/data/deepbind
#   TFS      extended regex on data set names (default: every pair)
#   ARCHS    cnn,cnnrnn    SEEDS 1,2,3    RC_MODES none,both (e.g. none,augment,average,both)
#   EPOCHS   train's default (50, early stopping)   THREADS, JOBS  passed to sweep
#   WORK     build/rc_table                          OUT   bench/results/rc_table
set -euo pipefail
bin=${DM_BIN:-build/deepmotif}
data=${DATA:-../shared/data/deepbind}
archs=${ARCHS:-cnn,cnnrnn}
seeds=${SEEDS:-1,2,3}
modes=${RC_MODES:-none,both}
work=${WORK:-build/rc_table}
out=${OUT:-bench/results/rc_table}
[ -x "$bin" ] || { echo "rc_table: $bin not built (run make)" >&2; exit 1; }
[ -d "$data" ] || { echo "rc_table: no data directory $data" >&2; exit 1; }
if [[ "$modes" != none ]] && ! "$bin" train --help 2>&1 | grep -q -- '--rc '; then
    echo "rc_table: $bin has no train --rc (issue 15's reverse-complement option); RC_MODES=none only" >&2
    exit 1
fi
mkdir -p "$work" "$(dirname "$out")"

if [ -n "${TFS:-}" ]; then   # a folder of links to the chosen pairs
    sub="$work/data"
    rm -rf "$sub" && mkdir -p "$sub"
    for f in "$data"/*_AC.seq.gz; do
        name=$(basename "$f" _AC.seq.gz)
        if [[ "$name" =~ $TFS ]] && [ -f "$data/${name}_B.seq.gz" ]; then
            ln -s "$(realpath "$f")" "$sub/" && ln -s "$(realpath "$data/${name}_B.seq.gz")" "$sub/"
        fi
    done
    [ -n "$(ls "$sub")" ] || { echo "rc_table: no _AC/_B pair matches TFS='$TFS' in $data" >&2; exit 1; }
    data=$sub
fi

opts=(--archs "$archs" --quiet)
[ -n "${EPOCHS:-}" ] && opts+=(--epochs "$EPOCHS")
[ -n "${THREADS:-}" ] && opts+=(--threads "$THREADS")
[ -n "${JOBS:-}" ] && opts+=(--jobs "$JOBS")
t_start=$(date +%s)
IFS=, read -r -a seed_list <<< "$seeds"
IFS=, read -r -a mode_list <<< "$modes"
for seed in "${seed_list[@]}"; do
    for mode in "${mode_list[@]}"; do
        rc=(--rc "$mode")   # always named: train's default changed from none to both (README)
        s0=$(date +%s)
        if ! "$bin" sweep --data "$data" --out "$work/$mode.s$seed" --seed "$seed" "${opts[@]}" "${rc[@]}" \
                > "$work/$mode.s$seed.out" 2> "$work/$mode.s$seed.err"; then
            echo "rc_table: sweep --rc $mode seed $seed failed (rerun to continue):" >&2
            tail -n 3 "$work/$mode.s$seed.err" >&2
            exit 1
        fi
        echo "rc_table: --rc $mode seed $seed: $(( $(date +%s) - s0 )) s" >&2
    done
done
t_end=$(date +%s)

python3 - "$work" "$out" "$modes" "$seeds" "$archs" "$((t_end - t_start))" "${EPOCHS:-}" "${TFS:-}" \
    "$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); binary $bin ($("$bin" --version 2>/dev/null | head -n1 || echo "no --version"))" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" <<'EOF'
import csv, os, statistics, sys
work, out, modes, seeds, archs, secs, epochs, tfs, commit, cpu = sys.argv[1:11]
modes, seeds, archs = modes.split(","), seeds.split(","), archs.split(",")
rows, names = [], []
for mode in modes:
    for seed in seeds:
        with open(f"{work}/{mode}.s{seed}/results.tsv") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                rows.append((r["dataset"], r["arch"], mode, seed, r["auroc"], r["auprc"], r["train_seconds"]))
                if r["dataset"] not in names: names.append(r["dataset"])
with open(out + ".tsv", "w") as f:
    f.write("tf\tarch\trc\tseed\tauroc\tauprc\ttrain_seconds\n")
    for r in rows: f.write("\t".join(r) + "\n")
cell = {}
for tf, arch, mode, seed, auroc, auprc, s in rows:
    if auroc not in ("NA", ""): cell.setdefault((tf, arch, mode), []).append(float(auroc))
def ms(v):
    if not v: return "—"
    return f"{statistics.mean(v):.3f}" + (f" ± {statistics.stdev(v):.3f}" if len(v) > 1 else "")   # one seed: no sd
others = [m for m in modes if m != "none"]
L = ["# Reverse complements: test AUROC without and with `--rc` (issue 15)", "",
     f"Command: `bench/rc_table.sh` (RC_MODES={','.join(modes)} SEEDS={','.join(seeds)} ARCHS={','.join(archs)}"
     f"{' EPOCHS=' + epochs if epochs else ''}{' TFS=' + repr(tfs) if tfs else ''}).",
     f"Commit {commit}, {os.cpu_count()} cores ({cpu}); {secs} s of wall time in this invocation (rows kept from earlier runs not counted).", "",
     "Mean ± sd of test AUROC over the seeds; gain = mean(--rc MODE) − mean(--rc none) per TF.", ""]
for arch in archs:
    L += [f"## {arch}", "", "| TF | " + " | ".join(f"--rc {m}" for m in modes) + "".join(f" | gain {m}" for m in others) + " |",
          "|" + "---|" * (1 + len(modes) + len(others))]
    gains = {m: [] for m in others}
    for tf in names:
        base = cell.get((tf, arch, "none"), [])
        g = []
        for m in others:
            v = cell.get((tf, arch, m), [])
            if base and v:
                d = statistics.mean(v) - statistics.mean(base); gains[m].append(d); g.append(f"{d:+.3f}")
            else: g.append("—")
        L.append(f"| {tf.split('_')[0]} | " + " | ".join(ms(cell.get((tf, arch, m), [])) for m in modes) + "".join(f" | {x}" for x in g) + " |")
    for m in others:
        if gains[m]:
            L.append(f"\n{arch}, --rc {m}: mean gain {statistics.mean(gains[m]):+.4f} over {len(gains[m])} TFs; "
                     f"better on {sum(d > 0 for d in gains[m])}, worse on {sum(d < 0 for d in gains[m])}.")
    L.append("")
L.append("Rows: `" + out + ".tsv`.")
open(out + ".md", "w").write("\n".join(L) + "\n")
print(f"rc_table: {len(rows)} rows -> {out}.tsv, {out}.md", file=sys.stderr)
EOF
