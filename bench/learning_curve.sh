#!/usr/bin/env bash
# Issue 15's learning curve: test AUROC against training-set size, deepmotif's architectures against a
# gapped k-mer SVM (bench/peers/gkmsvm.py, gkmsvm-lite from PyPI), mean ± sd over seeds.
#
#   bench/learning_curve.sh
#
# For each seed S and size N: WORK/data/nN.sS/ holds, per chosen TF, a seeded subsample of N lines
# (positives) of NAME_AC.seq.gz (Python's random.Random(S), stable across machines; gzip -n, so the
# bytes and the sweep's checksums are stable) and a link to the full NAME_B.seq.gz. `deepmotif sweep
# --seed S` trains every architecture on that folder (each kept positive gets its dinucleotide
# shuffle as its negative: positives and their shuffles stay together; train's defaults otherwise,
# incl. the 10% validation split and the schedule by the training set's size, README "Training
# protocols") and the gkm-SVM is trained on the same subsample (its own seeded
# dinucleotide shuffles: the same kind of negative, not the same draw). Size `all` is the whole _AC
# file; a size at or above a TF's positives is that TF's `all` and is not trained twice (shown as
# "= all"). Each seed draws its own subsample, so the sd includes the sampling of the training set.
#
# Resumable across machines: every finished cell (TF × size × seed × method) is appended at once to
# OUT.cells.tsv, a small file meant to be committed, and a rerun (here or on a fresh clone) trains only
# the cells that file lacks for the same protocol (TRAIN_OPTS, EPOCHS and the revision of train's
# defaults, below; the binary's version is kept in each row). Each deepmotif cell is its own one-job `deepmotif sweep` (one TF, one architecture:
# train's defaults, the sweep's checksum and row), JOBS cells at a time; an interrupted cell continues
# from its MODEL.last under WORK when WORK survives. Results: OUT.tsv (one row per cell) and OUT.md
# (mean ± sd AUROC per TF × size × method, the winner, CNN-RNN - CNN, and the issue's two aims).
#
# Environment:
#   DM_BIN   deepmotif binary (build/deepmotif)       DATA   ../shared/data/deepbind
#   TFS      extended regex on data set names (default: the 5 pairs with the fewest _AC positives)
#   SIZES    500,2000,10000,all                       SEEDS  1,2,3
#   ARCHS    cnn,rnn,cnnrnn (empty: the peer alone)  PEERS  gkmsvm (empty: deepmotif only)
#   EPOCHS   train's default (by the set's size)      THREADS  threads of each cell (1)
#   JOBS     cells at a time (default: the cores / THREADS)
#   TRAIN_OPTS  more train options for every sweep (e.g. "--rc none"; train's default is both); they enter
#            sweep's checksums
#   GKM_PY   python with gkmsvm-lite (/work/venv-gkm/bin/python; pip install -r bench/peers/requirements-gkmsvm.txt)
#   GKM_SIZES    the sizes the gkm-SVM runs at (SIZES; its kernel matrix grows as n², so `all` is its
#                costliest cell: e.g. GKM_SIZES=500,2000,10000 leaves `all` to deepmotif alone)
#   GKM_THREADS  NUMBA_NUM_THREADS of the gkm-SVM (THREADS: a gkm cell takes one of the JOBS slots)
#   WORK     build/learning_curve                     OUT    bench/results/learning_curve
#   RC_CELLS rc_table.sh's cells, for size `all` (OUT's folder/rc_table.cells.tsv; below)
#   PEER_CELLS  another cells file whose gkm-SVM cells this OUT uses instead of training them again
#            (OUT's folder/learning_curve.cells.tsv; the gkm-SVM's cells do not depend on TRAIN_OPTS,
#            so a run with TRAIN_OPTS and its own OUT compares with the same peer cells)
#   TABLE_ONLY  non-empty: train nothing, write the tables from the cells file as it is
set -euo pipefail
bin=${DM_BIN:-build/deepmotif}
data=${DATA:-../shared/data/deepbind}
sizes=${SIZES:-500,2000,10000,all}
seeds=${SEEDS:-1,2,3}
archs=${ARCHS-cnn,rnn,cnnrnn}
peers=${PEERS-gkmsvm}
work=${WORK:-build/learning_curve}
out=${OUT:-bench/results/learning_curve}
gkm_py=${GKM_PY:-/work/venv-gkm/bin/python}
gkm_sizes=${GKM_SIZES:-$sizes}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cells.sh"
[ -x "$bin" ] || { echo "learning_curve: $bin not built (run make)" >&2; exit 1; }
[ -d "$data" ] || { echo "learning_curve: no data directory $data" >&2; exit 1; }
if [ -n "$peers" ] && [ -z "${TABLE_ONLY:-}" ] && ! "$gkm_py" -c 'import gkmsvm, sklearn' 2>/dev/null; then
    echo "learning_curve: $gkm_py lacks gkmsvm-lite (pip install -r bench/peers/requirements-gkmsvm.txt; or PEERS=)" >&2
    exit 1
fi
mkdir -p "$work/sweep" "$(dirname "$out")"

# The chosen pairs, with their number of positives (bench/cells.sh).
declare -A npos
pick_pairs "$data" "${TFS:-}" 5
[ ${#names[@]} -gt 0 ] || { echo "learning_curve: no _AC/_B pair matches TFS='${TFS:-}' in $data" >&2; exit 1; }
echo "learning_curve: ${#names[@]} TFs: ${names[*]}" >&2

threads=${THREADS:-1}
jobs=${JOBS:-$(( $(nproc) / threads > 0 ? $(nproc) / threads : 1 ))}
cells="$out.cells.tsv"
# The cells' protocol keys. deepmotif's: EPOCHS, TRAIN_OPTS and the revision of train's default
# protocol (DM_DEFAULTS_REV, bench/cells.sh). The gkm-SVM's cells do not depend on deepmotif: their
# key is bench/peers/gkmsvm.py's.
# The revision is the cell's own (dm_defaults_rev: by architecture and train's count of sequences),
# so the key is protocol_base + revision.
protocol_base="epochs=${EPOCHS:-default} opts=${TRAIN_OPTS:-} defaults="
lc_rc=both   # train's --rc for these cells: its default, unless TRAIN_OPTS names one
[[ " ${TRAIN_OPTS:-} " =~ \ --rc\ ([a-z]+)\  ]] && lc_rc=${BASH_REMATCH[1]}
gkm_protocol="gkmsvm.py defaults"
# Size `all` of the CNN and the CNN-RNN is the very training of bench/rc_table.sh's `--rc both` cell
# (the whole _AC file, `sweep --seed S`, train's defaults, whose --rc is both): without TRAIN_OPTS, a
# cell that RC_CELLS (OUT's folder/rc_table.cells.tsv) holds for the same EPOCHS and revision is taken
# from there, not trained twice.
rc_cells=${RC_CELLS:-$(dirname "$out")/rc_table.cells.tsv}
rc_protocol_base="epochs=${EPOCHS:-default} defaults="
from_rc() {   # TF SEED METHOD REV: whether that size-`all` cell is rc_table's
    [ -z "${TRAIN_OPTS:-}" ] && [[ "$3" == cnn || "$3" == cnnrnn ]] && [ -s "$rc_cells" ] \
        && cells_has "$rc_cells" tf="$1" arch="$3" rc=both seed="$2" protocol="$rc_protocol_base$4"
}
peer_cells=${PEER_CELLS:-$(dirname "$out")/learning_curve.cells.tsv}
[ "$(realpath -m "$peer_cells")" = "$(realpath -m "$out.cells.tsv")" ] && peer_cells=
from_peer() {   # TF SIZE SEED: whether PEER_CELLS holds that gkm-SVM cell
    [ -n "$peer_cells" ] && [ -s "$peer_cells" ] \
        && cells_has "$peer_cells" tf="$1" size="$2" seed="$3" method=gkmsvm protocol="$gkm_protocol"
}
binver=$("$bin" --version 2>/dev/null | head -n1 | tr '\t' ' ' || echo unknown)
cells_init "$cells" $'tf\tsize\tseed\tmethod\tn_train\tauroc\tauprc\ttrain_seconds\tprotocol\tbinary\tchecksum'
export NUMBA_NUM_THREADS=${GKM_THREADS:-$threads}

# One cell: train it, append its row to the cells file (bench/cells.sh).
run_cell() {   # SIZE SEED TF METHOD REV
    local size=$1 seed=$2 name=$3 m=$4 dir="$work/data/n$1.s$2" row ver sum t0=$(date +%s)
    local tag="n$size.s$seed $name $m" key=$protocol_base$5
    [ "$m" = gkmsvm ] && key=$gkm_protocol
    # another invocation (other SIZES or SEEDS, same cells file) may have trained it since the list was made
    cells_has "$cells" tf="$name" size="$size" seed="$seed" method="$m" protocol="$key" && return 0
    if [ "$m" = gkmsvm ]; then
        mkdir -p "$work/gkm/n$size.s$seed"
        local g="$work/gkm/n$size.s$seed/$name.tsv"
        "$gkm_py" "$here/peers/gkmsvm.py" --train "$dir/${name}_AC.seq.gz" --test "$dir/${name}_B.seq.gz" --seed "$seed" \
            > "$g.tmp" 2> "$g.err" || { echo "learning_curve: $tag failed: $(tail -n 1 "$g.err")" >&2; return 1; }
        row=$(python3 -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1]),delimiter="\t"))[0]
print("\t".join([str(int(r["n_pos"])+int(r["n_neg"])), r["auroc"], r["auprc"], r["train_s"]]))' "$g.tmp") && mv "$g.tmp" "$g" \
            || { echo "learning_curve: $tag: no row in $g.tmp" >&2; return 1; }
        ver="gkmsvm-lite $("$gkm_py" -c 'import importlib.metadata as m; print(m.version("gkmsvm-lite"))')" sum=-
    else
        local opts=() extra
        [ -n "${EPOCHS:-}" ] && opts+=(--epochs "$EPOCHS")
        read -r -a extra <<< "${TRAIN_OPTS:-}"
        mkdir -p "$work/sweep/n$size.s$seed"
        # the revision in the folder's name (bench/cells.sh, rev_dir)
        row=$(sweep_cell "$bin" "$dir/${name}_AC.seq.gz" "$dir/${name}_B.seq.gz" "$work/sweep/n$size.s$seed/$name.$m$(rev_dir "$5")" \
              "$seed" "$m" "$threads" "${opts[@]}" "${extra[@]}") || { echo "learning_curve: $tag failed" >&2; return 1; }
        ver=$binver sum=${row##*$'\t'} row=${row%$'\t'*}
    fi
    local f
    IFS=$'\t' read -r -a f <<< "$row"
    cells_append "$cells" "$name" "$size" "$seed" "$m" "${f[@]}" "$key" "$ver" "$sum"
    echo "learning_curve: $tag: AUROC ${f[1]} ($(( $(date +%s) - t0 )) s)" >&2
}
export -f run_cell sweep_cell cells_append cells_has rev_dir
export work here bin gkm_py threads cells protocol_base gkm_protocol binver EPOCHS TRAIN_OPTS

t_start=$(date +%s)
IFS=, read -r -a seed_list <<< "$seeds"
IFS=, read -r -a size_list <<< "$sizes"
IFS=, read -r -a arch_list <<< "$archs"
todo=()
for size in "${size_list[@]}"; do
    for seed in "${seed_list[@]}"; do
        dir="$work/data/n$size.s$seed"
        mkdir -p "$dir"
        for name in "${names[@]}"; do
            p=$(lc_pair "$data" "$dir" "$name" "$size" "$seed" "${npos[$name]}") || continue   # bench/cells.sh
            methods=("${arch_list[@]}")
            [ -n "$peers" ] && [[ ",$gkm_sizes," == *",$size,"* ]] && methods+=(gkmsvm)
            for m in "${methods[@]}"; do
                rev=$(dm_defaults_rev "$m" "$(dm_train_count "$p" "$lc_rc")")
                key=$protocol_base$rev
                [ "$m" = gkmsvm ] && key=$gkm_protocol
                cells_has "$cells" tf="$name" size="$size" seed="$seed" method="$m" protocol="$key" \
                    || { [ "$size" = all ] && from_rc "$name" "$seed" "$m" "$rev"; } \
                    || { [ "$m" = gkmsvm ] && from_peer "$name" "$size" "$seed"; } || todo+=("$size $seed $name $m $rev")
            done
        done
    done
done
if [ -n "${TABLE_ONLY:-}" ]; then   # the tables from the cells file as it is (cells still running elsewhere)
    echo "learning_curve: TABLE_ONLY: ${#todo[@]} cells not trained" >&2
    todo=()
fi
echo "learning_curve: ${#todo[@]} cells to train, $jobs at a time (rows kept in $cells)" >&2
status=0
if [ ${#todo[@]} -gt 0 ]; then
    printf '%s\n' "${todo[@]}" | xargs -P "$jobs" -L 1 bash -c 'run_cell "$@"' _ || status=1
fi
t_end=$(date +%s)

# Tables: OUT.tsv and OUT.md (stdlib Python).
python3 - "$cells" "$out" "$sizes" "$seeds" "$archs" "${peers:+gkmsvm}" "$((t_end - t_start))" "${TRAIN_OPTS:-}" "${EPOCHS:-}" \
    "$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    "$protocol_base" "$gkm_protocol" "$rc_cells" "$rc_protocol_base" "$peer_cells" $(for n in "${names[@]}"; do echo "$n=${npos[$n]}"; done) <<'EOF'
import csv, os, statistics, sys
cells, out, sizes, seeds, archs, peer, secs, topts, epochs, commit, cpu, protocol_base, gkm_protocol, rc_cells, rc_base, peer_cells = sys.argv[1:17]
def rev(arch, n):   # bench/cells.sh's dm_defaults_rev
    return "6" if arch in ("cnnrnn", "danq") and int(n) < 2048 else "5"
npos = {a.rsplit("=", 1)[0]: int(a.rsplit("=", 1)[1]) for a in sys.argv[17:]}
names = list(npos)
sizes, seeds, archs = sizes.split(","), seeds.split(","), [a for a in archs.split(",") if a]
methods = archs + ([peer] if peer else [])
rows, binaries = [], {}
with open(cells) as f:
    for r in csv.DictReader(f, delimiter="\t"):
        if (r["protocol"] == (gkm_protocol if r["method"] == peer else protocol_base + rev(r["method"], r["n_train"])) and r["tf"] in names and r["size"] in sizes and r["seed"] in seeds
                and r["method"] in methods):
            rows.append((r["tf"], r["size"], r["seed"], r["method"], r["n_train"], r["auroc"], r["auprc"], r["train_seconds"]))
            binaries[r["binary"]] = binaries.get(r["binary"], 0) + 1
n_rc = 0   # size `all` of the CNN and CNN-RNN from rc_table's `--rc both` cells (the same training)
if not topts and "all" in sizes and os.path.exists(rc_cells):
    have = {(r[0], r[2], r[3]) for r in rows if r[1] == "all"}
    with open(rc_cells) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            if (r["protocol"] == rc_base + rev(r["arch"], r["n_train"]) and r["rc"] == "both" and r["arch"] in archs and r["tf"] in names
                    and r["seed"] in seeds and (r["tf"], r["seed"], r["arch"]) not in have):
                rows.append((r["tf"], "all", r["seed"], r["arch"], r["n_train"], r["auroc"], r["auprc"], r["train_seconds"]))
                binaries[r["binary"]] = binaries.get(r["binary"], 0) + 1
                have.add((r["tf"], r["seed"], r["arch"]))
                n_rc += 1
n_peer = 0   # the gkm-SVM's cells from PEER_CELLS (they do not depend on TRAIN_OPTS)
if peer and peer_cells and os.path.exists(peer_cells):
    have = {(r[0], r[1], r[2]) for r in rows if r[3] == peer}
    with open(peer_cells) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            if (r["method"] == peer and r["protocol"] == gkm_protocol and r["tf"] in names and r["size"] in sizes
                    and r["seed"] in seeds and (r["tf"], r["size"], r["seed"]) not in have):
                rows.append((r["tf"], r["size"], r["seed"], r["method"], r["n_train"], r["auroc"], r["auprc"], r["train_seconds"]))
                binaries[r["binary"]] = binaries.get(r["binary"], 0) + 1
                have.add((r["tf"], r["size"], r["seed"]))
                n_peer += 1
with open(out + ".tsv", "w") as f:
    f.write("tf\tsize\tseed\tmethod\tn_train\tauroc\tauprc\ttrain_seconds\n")
    for r in rows:
        f.write("\t".join(r) + "\n")
cell = {}
for tf, size, seed, m, n, auroc, auprc, s in rows:
    if auroc not in ("NA", ""):
        cell.setdefault((tf, size, m), []).append(float(auroc))
def fmt(v):
    if not v: return "—"
    sd = f" ± {statistics.stdev(v):.3f}" if len(v) > 1 else ""   # one seed: no sd
    return f"{statistics.mean(v):.3f}{sd}" + ("" if len(v) == len(seeds) else f" (n={len(v)})")
L = ["# Learning curve: test AUROC against training-set size (issue 15)", "",
     f"Command: `bench/learning_curve.sh` (SIZES={','.join(sizes)} SEEDS={','.join(seeds)} ARCHS={','.join(archs)}"
     f"{' PEERS=' + peer if peer else ''}{' EPOCHS=' + epochs if epochs else ''}{' TRAIN_OPTS=' + repr(topts) if topts else ''}).",
     f"Table written at commit {commit} on {os.cpu_count()} cores ({cpu}); {secs} s of wall time in this invocation (rows kept",
     f"from earlier runs, in `{cells}`, not counted). The rows' programs: " + "; ".join(f"{b} ({n} rows)" for b, n in sorted(binaries.items())) + ".", "",
     "Size N: N positives drawn (seeded, one draw per seed) from the TF's `_AC` file, each with one dinucleotide",
     "shuffle as its negative (2N sequences before deepmotif's 10% validation split); test: the full `_B` set.",
     "Mean ± sd of test AUROC over the seeds. `= all`: the TF has no more than N positives (see the `all` row).", "",
     "| TF | size | " + " | ".join(methods) + " | best | CNN-RNN − CNN |",
     "|" + "---|" * (len(methods) + 4)]
aims_rnn, aims_gkm = [], []
for tf in names:
    for size in sizes:
        vals = {m: cell.get((tf, size, m), []) for m in methods}
        if not any(vals.values()):
            mark = "= all" if size != "all" and int(size) >= npos[tf] else "not run"
            L.append(f"| {tf.split('_')[0]} | {size} | " + " | ".join(mark for _ in methods) + " | | |")
            continue
        means = {m: statistics.mean(v) for m, v in vals.items() if v}
        best = max(means, key=means.get)
        d = ""
        if "cnn" in means and "cnnrnn" in means:
            dv = means["cnnrnn"] - means["cnn"]
            d = f"{dv:+.3f}"
            aims_rnn.append((tf, size, dv))
        dm = [means[m] for m in archs if m in means]
        if peer in means and dm and size != "500":
            aims_gkm.append((tf, size, max(dm) - means[peer]))
        L.append(f"| {tf.split('_')[0]} | {size} | " + " | ".join(fmt(vals[m]) for m in methods) + f" | {best} | {d} |")
L += ["", "## The issue's aims", ""]
bad = [a for a in aims_rnn if a[2] < -0.01]
L.append(f"- CNN-RNN never more than 0.01 below the CNN: {'met' if aims_rnn and not bad else 'NOT met' if bad else 'no data'}"
         f" ({len(aims_rnn)} cells{'; below by more: ' + ', '.join(f'{t.split(chr(95))[0]} {s} ({v:+.3f})' for t, s, v in bad) if bad else ''}).")
bad = [a for a in aims_gkm if a[2] < 0]
L.append(f"- deepmotif's best ≥ gkm-SVM at 2,000 and above: {'met' if aims_gkm and not bad else 'NOT met' if bad else 'no data'}"
         f" ({len(aims_gkm)} cells{'; behind: ' + ', '.join(f'{t.split(chr(95))[0]} {s} ({v:+.3f})' for t, s, v in bad) if bad else ''}).")
L += ["", "Rows: `" + out + ".tsv` (one per TF × size × seed × method, with AUPRC and training seconds); every cell as it",
      "finished, with the program that trained it and the sweep's checksum: `" + cells + "`"
      + (f"; {n_rc} cells of size `all` (CNN, CNN-RNN) are `{rc_cells}`'s `--rc both` cells, the same training" if n_rc else "")
      + (f"; {n_peer} gkm-SVM cells are `{peer_cells}`'s (the peer's cells do not depend on TRAIN_OPTS)" if n_peer else "") + ".",
      "A row's protocol names the revision of train's defaults it was trained under (`bench/cells.sh`, which also says",
      "which rows of a revision were trained, bit for bit the same, by a binary before it with the options it names)."]
open(out + ".md", "w").write("\n".join(L) + "\n")
print(f"learning_curve: {len(rows)} rows -> {out}.tsv, {out}.md", file=sys.stderr)
EOF
exit $status
