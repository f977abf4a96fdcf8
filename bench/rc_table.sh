#!/usr/bin/env bash
# Issue 15's reverse-complement table: the DeepBind pairs (13 _AC/_B pairs in ../shared/data/deepbind)
# × CNN and CNN-RNN × seeds, trained without and with `--rc` (train's option: none | augment | average
# | both; stored in the model, so the sweep's test scoring uses it), mean ± sd test AUROC and the gain
# per TF over `--rc none`.
#
#   bench/rc_table.sh
#
# One cell (TF × arch × mode × seed) is a one-job `deepmotif sweep --seed S --rc MODE` on that pair
# (bench/cells.sh; train's defaults otherwise), JOBS cells at a time, seed by seed with both modes of
# a TF and arch side by side. Every finished cell is appended at once to OUT.cells.tsv, a small file
# meant to be committed: a rerun on any clone trains only the cells it lacks for the same EPOCHS
# and revision of train's defaults. The `both` cells are also size `all` of learning_curve.sh's CNN
# and CNN-RNN (the same training; that script takes them from here).
# Results: OUT.tsv (one row per TF × arch × mode × seed) and OUT.md.
#
# Environment:
#   DM_BIN   deepmotif binary (build/deepmotif)   DATA  ../shared/data/deepbind
#   TFS      extended regex on data set names (default: every pair)
#   ARCHS    cnn,cnnrnn    SEEDS 1,2,3    RC_MODES none,both (e.g. none,augment,average,both)
#   EPOCHS   train's default (by the set's size)     THREADS  threads of each cell (1)
#   JOBS     cells at a time (the cores / THREADS)
#   WORK     build/rc_table                          OUT   bench/results/rc_table
#   TABLE_ONLY  non-empty: train nothing, write the tables from the cells file as it is
set -euo pipefail
bin=${DM_BIN:-build/deepmotif}
data=${DATA:-../shared/data/deepbind}
archs=${ARCHS:-cnn,cnnrnn}
seeds=${SEEDS:-1,2,3}
modes=${RC_MODES:-none,both}
work=${WORK:-build/rc_table}
out=${OUT:-bench/results/rc_table}
threads=${THREADS:-1}
jobs=${JOBS:-$(( $(nproc) / threads > 0 ? $(nproc) / threads : 1 ))}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cells.sh"
[ -x "$bin" ] || { echo "rc_table: $bin not built (run make)" >&2; exit 1; }
[ -d "$data" ] || { echo "rc_table: no data directory $data" >&2; exit 1; }
# (the help read whole first: grep -q would close the pipe early and pipefail count train's SIGPIPE)
if [[ "$modes" != none ]] && [[ "$("$bin" train --help 2>&1)" != *"--rc "* ]]; then
    echo "rc_table: $bin has no train --rc (issue 15's reverse-complement option); RC_MODES=none only" >&2
    exit 1
fi
mkdir -p "$work" "$(dirname "$out")"

declare -A npos
pick_pairs "$data" "${TFS:-}" 0   # (bench/cells.sh)
[ ${#names[@]} -gt 0 ] || { echo "rc_table: no _AC/_B pair matches TFS='${TFS:-}' in $data" >&2; exit 1; }

cells="$out.cells.tsv"
# a cell's key: protocol_base + its revision (bench/cells.sh's dm_defaults_rev, by architecture and
# train's count of sequences)
protocol_base="epochs=${EPOCHS:-default} defaults="
binver=$("$bin" --version 2>/dev/null | head -n1 | tr '\t' ' ' || echo unknown)
cells_init "$cells" $'tf\tarch\trc\tseed\tn_train\tauroc\tauprc\ttrain_seconds\tprotocol\tbinary\tchecksum'
run_cell() {   # SEED TF ARCH MODE REV
    local seed=$1 name=$2 arch=$3 mode=$4 row f t0=$(date +%s) opts=() protocol=$protocol_base$5
    [ -n "${EPOCHS:-}" ] && opts+=(--epochs "$EPOCHS")
    mkdir -p "$work/s$seed"
    # --rc always named: train's default changed from none to both (README)
    # the revision in the folder's name: a sweep keeps the rows already in its folder (an interrupted
    # cell continues), and a cell of another revision must not find the older one's
    row=$(sweep_cell "$bin" "$data/${name}_AC.seq.gz" "$data/${name}_B.seq.gz" "$work/s$seed/$name.$arch.$mode$(rev_dir "$5")" \
          "$seed" "$arch" "$threads" --rc "$mode" "${opts[@]}") || { echo "rc_table: $name $arch --rc $mode s$seed failed" >&2; return 1; }
    IFS=$'\t' read -r -a f <<< "$row"
    cells_append "$cells" "$name" "$arch" "$mode" "$seed" "${f[@]:0:4}" "$protocol" "$binver" "${f[4]}"
    echo "rc_table: $name $arch --rc $mode seed $seed: AUROC ${f[1]} ($(( $(date +%s) - t0 )) s)" >&2
}
export -f run_cell sweep_cell cells_append rev_dir
export work data bin threads cells protocol_base binver EPOCHS

t_start=$(date +%s)
IFS=, read -r -a seed_list <<< "$seeds"
IFS=, read -r -a mode_list <<< "$modes"
IFS=, read -r -a arch_list <<< "$archs"
todo=()
for seed in "${seed_list[@]}"; do
    for name in "${names[@]}"; do
        for arch in "${arch_list[@]}"; do
            for mode in "${mode_list[@]}"; do
                rev=$(dm_defaults_rev "$arch" "$(dm_train_count "${npos[$name]}" "$mode")")
                cells_has "$cells" tf="$name" arch="$arch" rc="$mode" seed="$seed" protocol="$protocol_base$rev" \
                    || todo+=("$seed $name $arch $mode $rev")
            done
        done
    done
done
if [ -n "${TABLE_ONLY:-}" ]; then   # the tables from the cells file as it is (cells still running elsewhere)
    echo "rc_table: TABLE_ONLY: ${#todo[@]} cells not trained" >&2
    todo=()
fi
echo "rc_table: ${#names[@]} TFs; ${#todo[@]} cells to train, $jobs at a time (rows kept in $cells)" >&2
status=0
if [ ${#todo[@]} -gt 0 ]; then
    printf '%s\n' "${todo[@]}" | xargs -P "$jobs" -L 1 bash -c 'run_cell "$@"' _ || status=1
fi
t_end=$(date +%s)

python3 - "$cells" "$out" "$modes" "$seeds" "$archs" "$((t_end - t_start))" "${EPOCHS:-}" "${TFS:-}" \
    "$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    "$protocol_base" "${names[@]}" <<'EOF'
import csv, os, statistics, sys
cells, out, modes, seeds, archs, secs, epochs, tfs, commit, cpu, protocol_base = sys.argv[1:12]
def rev(arch, n):   # bench/cells.sh's dm_defaults_rev
    return "6" if arch in ("cnnrnn", "danq") and int(n) < 2048 else "5"
names = sys.argv[12:]
def label(tf):   # the factor, and its cell line where two sets share the factor (ARID3A in HepG2 and K562)
    f = tf.split("_")
    return f[0] if sum(n.split("_")[0] == f[0] for n in names) == 1 else f"{f[0]} ({f[1]})"
modes, seeds, archs = modes.split(","), seeds.split(","), archs.split(",")
rows, binaries = [], {}
with open(cells) as f:
    for r in csv.DictReader(f, delimiter="\t"):
        if r["protocol"] == protocol_base + rev(r["arch"], r["n_train"]) and r["tf"] in names and r["arch"] in archs and r["rc"] in modes and r["seed"] in seeds:
            rows.append((r["tf"], r["arch"], r["rc"], r["seed"], r["auroc"], r["auprc"], r["train_seconds"]))
            binaries[r["binary"]] = binaries.get(r["binary"], 0) + 1
with open(out + ".tsv", "w") as f:
    f.write("tf\tarch\trc\tseed\tauroc\tauprc\ttrain_seconds\n")
    for r in rows: f.write("\t".join(r) + "\n")
cell = {}
for tf, arch, mode, seed, auroc, auprc, s in rows:
    if auroc not in ("NA", ""): cell.setdefault((tf, arch, mode), []).append(float(auroc))
def ms(v):
    if not v: return "—"
    return (f"{statistics.mean(v):.3f}" + (f" ± {statistics.stdev(v):.3f}" if len(v) > 1 else "")   # one seed: no sd
            + ("" if len(v) == len(seeds) else f" (n={len(v)})"))
others = [m for m in modes if m != "none"]
L = ["# Reverse complements: test AUROC without and with `--rc` (issue 15)", "",
     f"Command: `bench/rc_table.sh` (RC_MODES={','.join(modes)} SEEDS={','.join(seeds)} ARCHS={','.join(archs)}"
     f"{' EPOCHS=' + epochs if epochs else ''}{' TFS=' + repr(tfs) if tfs else ''}).",
     f"Table written at commit {commit} on {os.cpu_count()} cores ({cpu}); {secs} s of wall time in this invocation (rows",
     f"kept from earlier runs, in `{cells}`, not counted). The rows' programs: " + "; ".join(f"{b} ({n} rows)" for b, n in sorted(binaries.items())) + ".", "",
     "Mean ± sd of test AUROC over the seeds (`(n=K)`: K of them so far); gain = mean(--rc MODE) − mean(--rc none) per TF.", ""]
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
        L.append(f"| {label(tf)} | " + " | ".join(ms(cell.get((tf, arch, m), [])) for m in modes) + "".join(f" | {x}" for x in g) + " |")
    for m in others:
        if gains[m]:
            L.append(f"\n{arch}, --rc {m}: mean gain {statistics.mean(gains[m]):+.4f} over {len(gains[m])} TFs; "
                     f"better on {sum(d > 0 for d in gains[m])}, worse on {sum(d < 0 for d in gains[m])}.")
    L.append("")
L.append("Rows: `" + out + ".tsv`; every cell as it finished, with its program and the sweep's checksum: `" + cells + "`.")
open(out + ".md", "w").write("\n".join(L) + "\n")
print(f"rc_table: {len(rows)} rows -> {out}.tsv, {out}.md", file=sys.stderr)
EOF
exit $status
