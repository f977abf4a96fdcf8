#!/usr/bin/env bash
# Issue 15's second aim with ensembles: the learning curve's cells (bench/learning_curve.sh) for one
# architecture trained as an ensemble of MEMBERS seeds (`train --seeds M --ensemble`: the model's score
# is the mean of its members' P), against the single models and the gkm-SVM of the learning curve.
#
#   bench/ensemble_curve.sh
#
# A cell is TF × size × seed S: the learning curve's training set for (size, S) (the same seeded
# subsample of the _AC positives, bench/cells.sh's lc_subsample; size `all` is the whole file), each
# positive with its dinucleotide shuffle, train's defaults (the schedule by the set's size, --rc both),
# members with seeds M(S−1)+1 .. MS (disjoint across S, so at size `all`, where every S has the same
# data, no two cells share a member), test on the full _B set. Mean ± sd over the seeds S, as the
# learning curve's. Cells are appended to OUT.cells.tsv as they finish (keyed by members, arch and
# the revision of train's defaults, bench/cells.sh); a rerun trains only the missing ones.
#
# Environment:
#   DM_BIN   deepmotif binary (build/deepmotif)       DATA   ../shared/data/deepbind
#   TFS      extended regex on data set names (default: the learning curve's 5 pairs, the fewest positives)
#   SIZES    2000,all                                 SEEDS  1,2,3
#   ARCH     cnnrnn                                   MEMBERS  3
#   THREADS  threads of each cell (1)                 JOBS   cells at a time (the cores / THREADS)
#   WORK     build/ensemble_curve                     OUT    bench/results/ensemble_curve
#   LC_CELLS the learning curve's cells (OUT's folder/learning_curve.cells.tsv) and RC_CELLS rc_table's
#            (its size `all` CNN and CNN-RNN), read for the comparison only
#   TABLE_ONLY  non-empty: train nothing, write the tables from the cells file as it is
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cells.sh"
bin=${DM_BIN:-build/deepmotif}
data=${DATA:-../shared/data/deepbind}
sizes=${SIZES:-2000,all}
seeds=${SEEDS:-1,2,3}
arch=${ARCH:-cnnrnn}
members=${MEMBERS:-3}
work=${WORK:-build/ensemble_curve}
out=${OUT:-bench/results/ensemble_curve}
lc_cells=${LC_CELLS:-$(dirname "$out")/learning_curve.cells.tsv}
rc_cells=${RC_CELLS:-$(dirname "$out")/rc_table.cells.tsv}
threads=${THREADS:-1}
jobs=${JOBS:-$(( $(nproc) / threads > 0 ? $(nproc) / threads : 1 ))}
[ -x "$bin" ] || { echo "ensemble_curve: no deepmotif binary at $bin (DM_BIN)" >&2; exit 1; }
[ -d "$data" ] || { echo "ensemble_curve: no data folder $data (DATA); skipped" >&2; exit 0; }
[ "$members" -ge 2 ] || { echo "ensemble_curve: MEMBERS=$members (at least 2)" >&2; exit 1; }
mkdir -p "$work" "$(dirname "$out")"

declare -A npos
pick_pairs "$data" "${TFS:-}" 5
[ ${#names[@]} -gt 0 ] || { echo "ensemble_curve: no _AC/_B pair matches TFS='${TFS:-}' in $data" >&2; exit 1; }
echo "ensemble_curve: ${#names[@]} TFs: ${names[*]}" >&2

cells="$out.cells.tsv"
cells_init "$cells" $'tf\tsize\tseed\tarch\tmembers\tn_train\tauroc\tauprc\ttrain_seconds\tprotocol\tbinary'
binver=$("$bin" --version 2>/dev/null | head -n1 | tr '\t' ' ' || echo unknown)

# One cell: the ensemble's training (a model file per member and the ensemble) and its row.
run_cell() {   # SIZE SEED TF KEY N_TRAIN
    local size=$1 seed=$2 name=$3 key=$4 n=$5 dir="$work/data/n$1.s$2" t0=$(date +%s)
    local cdir="$work/runs/n$size.s$seed/$name" first=$(( members * (seed - 1) + 1 ))
    cells_has "$cells" tf="$name" size="$size" seed="$seed" arch="$arch" members="$members" protocol="$key" && return 0
    mkdir -p "$cdir"
    "$bin" train --arch "$arch" --train "$dir/${name}_AC.seq.gz" --negatives shuffle --test "$dir/${name}_B.seq.gz" \
        --seed "$first" --seeds "$members" --ensemble --threads "$threads" --device cpu --quiet --out "$cdir/ens.dm" \
        > "$cdir/train.out" 2> "$cdir/train.err" || { echo "ensemble_curve: $name n$size s$seed failed: $(tail -n 1 "$cdir/train.err")" >&2; return 1; }
    # "ensemble PATH (M members, mean P): valid AUROC v, test AUROC a AUPRC p accuracy c"
    local auroc auprc
    auroc=$(sed -n 's/^ensemble .*test AUROC \([0-9.]*\) AUPRC.*/\1/p' "$cdir/train.out")
    auprc=$(sed -n 's/^ensemble .*test AUROC [0-9.]* AUPRC \([0-9.]*\).*/\1/p' "$cdir/train.out")
    [ -n "$auroc" ] && [ -n "$auprc" ] || { echo "ensemble_curve: $name n$size s$seed: no ensemble line in $cdir/train.out" >&2; return 1; }
    cells_append "$cells" "$name" "$size" "$seed" "$arch" "$members" "$n" "$auroc" "$auprc" "$(( $(date +%s) - t0 ))" "$key" "$binver"
    echo "ensemble_curve: $name n$size s$seed: ensemble test AUROC $auroc ($(( $(date +%s) - t0 )) s)" >&2
}
export -f run_cell cells_append cells_has
export work bin arch members threads cells binver

IFS=, read -r -a seed_list <<< "$seeds"
IFS=, read -r -a size_list <<< "$sizes"
todo=()
for size in "${size_list[@]}"; do
    for seed in "${seed_list[@]}"; do
        dir="$work/data/n$size.s$seed"
        mkdir -p "$dir"
        for name in "${names[@]}"; do
            p=$(lc_pair "$data" "$dir" "$name" "$size" "$seed" "${npos[$name]}") || continue   # bench/cells.sh
            n=$(dm_train_count "$p" both)   # train's count of sequences (--rc both: both strands)
            key="defaults=$(dm_defaults_rev "$arch" "$n")"
            cells_has "$cells" tf="$name" size="$size" seed="$seed" arch="$arch" members="$members" protocol="$key" \
                || todo+=("$size $seed $name $key $n")
        done
    done
done
[ -n "${TABLE_ONLY:-}" ] && { echo "ensemble_curve: TABLE_ONLY: ${#todo[@]} cells not trained" >&2; todo=(); }
echo "ensemble_curve: ${#todo[@]} cells to train, $jobs at a time (rows kept in $cells)" >&2
status=0
if [ ${#todo[@]} -gt 0 ]; then
    printf '%s\n' "${todo[@]}" | xargs -P "$jobs" -L 1 bash -c 'run_cell "$@"' _ || status=1
fi

# The table: the ensembles beside the learning curve's single models and gkm-SVM (stdlib Python).
python3 - "$cells" "$out" "$sizes" "$seeds" "$arch" "$members" "$lc_cells" "$rc_cells" \
    "$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" "${names[@]}" <<'EOF'
import csv, os, statistics, sys
cells, out, sizes, seeds, arch, members, lc_cells, rc_cells, commit = sys.argv[1:10]
names, sizes, seeds = sys.argv[10:], sizes.split(","), seeds.split(",")
def rev(a, n):   # bench/cells.sh's dm_defaults_rev
    return "6" if a in ("cnnrnn", "danq") and int(n) < 2048 else "5"
def read(path):
    if not os.path.exists(path): return []
    with open(path) as f: return list(csv.DictReader(f, delimiter="\t"))
ens, binaries, secs = {}, {}, {}
for r in read(cells):
    if r["arch"] == arch and r["members"] == members and r["tf"] in names and r["size"] in sizes and r["seed"] in seeds \
            and r["protocol"] == "defaults=" + rev(arch, r["n_train"]):
        ens.setdefault((r["tf"], r["size"]), []).append(float(r["auroc"]))
        secs.setdefault(("ensemble", r["size"]), []).append(float(r["train_seconds"]))
        binaries[r["binary"]] = binaries.get(r["binary"], 0) + 1
single = {}   # the learning curve's cells, its key (no TRAIN_OPTS, default epochs); size `all` of the CNN and CNN-RNN from rc_table
for r in read(lc_cells):
    key = "gkmsvm.py defaults" if r["method"] == "gkmsvm" else "epochs=default opts= defaults=" + rev(r["method"], r["n_train"])
    if r["protocol"] == key and r["tf"] in names and r["size"] in sizes and r["seed"] in seeds:
        single.setdefault((r["tf"], r["size"], r["method"]), []).append(float(r["auroc"]))
        if r["method"] == "gkmsvm" and (r["tf"], r["size"]) in ens:
            secs.setdefault(("gkmsvm", r["size"]), []).append(float(r["train_seconds"]))
for r in read(rc_cells):
    if r["rc"] == "both" and r["protocol"] == "epochs=default defaults=" + rev(r["arch"], r["n_train"]) \
            and r["tf"] in names and r["seed"] in seeds and (r["tf"], "all", r["arch"]) not in single:
        single.setdefault((r["tf"], "all", r["arch"] + "@rc"), []).append(float(r["auroc"]))
for k in [k for k in single if k[2].endswith("@rc")]:
    single[(k[0], k[1], k[2][:-3])] = single.pop(k)
def ms(v):
    if not v: return "—"
    return f"{statistics.mean(v):.3f}" + (f" ± {statistics.stdev(v):.3f}" if len(v) > 1 else "") + ("" if len(v) == len(seeds) else f" (n={len(v)})")
short = lambda n: n.split("_")[0]
L = [f"# Ensembles of {members} against the learning curve's single models and the gkm-SVM (issue 15)", "",
     f"Command: `bench/ensemble_curve.sh` (ARCH={arch} MEMBERS={members} SIZES={','.join(sizes)} SEEDS={','.join(seeds)}). "
     f"Table written at commit {commit}. The ensembles' programs: " + ("; ".join(f"{b} ({n} cells)" for b, n in sorted(binaries.items())) or "none yet") + ".", "",
     f"An ensemble cell: the learning curve's training set of that size and seed, `train --arch {arch} --seeds {members} --ensemble` "
     f"(members seeded {members}(S−1)+1 .. {members}S), test AUROC of the mean P on the full _B set. Single models and gkm-SVM: "
     "`bench/results/learning_curve.md`'s cells. Mean ± sd over the seeds; Δ = ensemble − gkm-SVM.", "",
     f"| TF | size | cnn | {arch} | {arch} ×{members} | gkmsvm | Δ ×{members} − gkm | Δ best single − gkm |", "|---|---|---|---|---|---|---|---|"]
aim = []
for tf in names:
    for size in sizes:
        e = ens.get((tf, size), [])
        g = single.get((tf, size, "gkmsvm"), [])
        singles = [statistics.mean(single[(tf, size, a)]) for a in ("cnn", "rnn", "cnnrnn", "danq") if single.get((tf, size, a))]
        d = f"{statistics.mean(e) - statistics.mean(g):+.3f}" if e and g else "—"
        ds = f"{max(singles) - statistics.mean(g):+.3f}" if singles and g else "—"
        if e and g: aim.append((short(tf), size, statistics.mean(e) - statistics.mean(g), len(e)))
        L.append(f"| {short(tf)} | {size} | {ms(single.get((tf, size, 'cnn'), []))} | {ms(single.get((tf, size, arch), []))} | {ms(e)} | {ms(g)} | {d} | {ds} |")
behind = [f"{t} {s} ({d:+.3f})" for t, s, d, _ in aim if d < 0]
L += ["", f"The ensemble ≥ gkm-SVM: {len(aim) - len(behind)} of {len(aim)} cells" + (f"; behind: {', '.join(behind)}" if behind else "") + "."]
cost = [f"size {z}: ensemble {statistics.median(secs[('ensemble', z)]):.0f} s, gkm-SVM {statistics.median(secs[('gkmsvm', z)]):.0f} s"
        for z in sizes if secs.get(("ensemble", z)) and secs.get(("gkmsvm", z))]
if cost:
    L += ["", "Cost, median seconds of one cell's training (one core each, on a shared machine, so rough): " + "; ".join(cost) + "."]
open(out + ".md", "w").write("\n".join(L) + "\n")
print(f"ensemble_curve: {out}.md", file=sys.stderr)
EOF
exit $status
