# Sourced by the long accuracy benchmarks (learning_curve.sh, rc_table.sh): training cell by cell with
# every finished cell kept in a small TSV meant to be committed, so that hours of training survive the
# machine they ran on and a rerun on any clone trains only the cells the file lacks.
#
# A deepmotif cell is a one-job `deepmotif sweep` on a folder holding one _AC/_B pair: train's
# defaults and the options given, the sweep's checksum of data and options, its row (test AUROC,
# AUPRC, training seconds), MODEL.last resume when its output folder survives.

# The revision of train's default protocol, part of every deepmotif cell's protocol key: bump it with
# every change of those defaults that can change a trained model; the cells of an older revision stay
# in the files, for before/after comparisons, but are neither reused nor tabled. Revisions:
#   (none)  selection and early stopping by the validation AUROC at every size
#   2       by the validation loss where the validation AUROC is coarse (train --select auto, README
#           "Training protocols"); sets of 536 or more validation sequences train as before
#   3       there, the best validation AUROC kept, but the patience reset by the loss too (--select
#           auroc+loss); again nothing changes from 536 validation sequences
#   4       the weights' moving average (train --ema 0.999) from 4,096 to 8,191 training sequences
#           (train's count, twice the set under --rc both/augment) for the models without an LSTM on
#           the input; every other cell trains bit for bit as in revision 3 and keeps that key
#           (dm_defaults_rev), so the hours of training behind them stay valid
#   5       fresh negatives (train --fresh-negatives, README "Fresh negatives") by default where the
#           negatives are shuffles of their positives: every cell of these benchmarks. A cell of
#           revision 5 trains bit for bit as revision 3 or 4 with --fresh-negatives; the learning
#           curve's cells of revision 5 trained by e844fa7 were run so (fresh_negatives.cells.tsv,
#           key "opts=--fresh-negatives defaults=3|4") and copied under this key
#   6       twice the learning rate for a model with an LSTM after a convolution (cnnrnn, danq) below
#           2,048 training sequences (batch 32; README "Training protocols"); every other cell trains
#           as in revision 5 and keeps that key. Its learning-curve cells were trained by 9893b3b with
#           "--fresh-negatives --lr 0.0025" (the same float rate, so the same training;
#           bench/results/lstm_lr_small.md) and copied under this key
# Dead starts restarted (train --restarts 2) change no revision: they change only runs that learned
# nothing (bench/results/dead_start.md), whose rows were replaced by their restarted runs. A row's
# bits belong to its binary (the rows' binary column): the dense head's fixed-order products
# (9e4f605) moved every trained model's last bits, and a run on the ln 2 plateau (the RNN at 500
# positives) can end elsewhere from such a change, as from another CPU's BLAS kernels.
DM_DEFAULTS_REV=6

# dm_defaults_rev ARCH N: the revision a cell's key names, for an architecture trained on N
# sequences as train counts them (the row's n_train). The tables' Python repeats this rule.
dm_defaults_rev() {
    case $1 in cnnrnn | danq) [ "$2" -lt 2048 ] && { echo "$DM_DEFAULTS_REV"; return; } ;; esac
    echo 5
}

# rev_dir REV: the suffix of a cell's sweep folder: none for revision 3 (the folders of the runs
# before revision 4, which an interrupted cell continues), ".rREV" after. A sweep keeps the rows
# already in its folder, so a cell of a new revision must not meet an older revision's folder.
rev_dir() {
    if [ "$1" -gt 3 ]; then echo ".r$1"; fi
}

# dm_train_count POSITIVES RC: train's N for an _AC file of POSITIVES with one shuffle each, 10 % of
# the pairs held out (rounded half up, as dm_dataset_split), doubled under --rc both or augment.
dm_train_count() {
    local n=$(( 2 * ($1 - ($1 + 5) / 10) ))
    if [ "$2" = both ] || [ "$2" = augment ]; then n=$(( 2 * n )); fi
    echo "$n"
}

# cells_init FILE HEADER: the header line, unless FILE already has rows.
cells_init() {
    [ -s "$1" ] || printf '%s\n' "$2" > "$1"
}

# cells_has FILE COL=VALUE...: whether a row of FILE has every given column value (columns by name).
cells_has() {
    python3 - "$@" <<'PYEOF'
import csv, sys
want = dict(a.split("=", 1) for a in sys.argv[2:])
with open(sys.argv[1]) as f:
    sys.exit(0 if any(all(r.get(k) == v for k, v in want.items()) for r in csv.DictReader(f, delimiter="\t")) else 1)
PYEOF
}

# cells_append FILE FIELD...: one tab-separated row, under a lock (cells finish in parallel).
cells_append() {
    local f=$1
    shift
    (flock 9; local IFS=$'\t'; printf '%s\n' "$*" >> "$f") 9>> "$f.lock"
}

# sweep_cell BIN AC_FILE B_FILE OUTDIR SEED ARCH THREADS [TRAIN_OPTION...]: train one cell; prints
# "n_train auroc auprc train_seconds checksum" (tab-separated). Its log: OUTDIR.out, OUTDIR.err.
sweep_cell() {
    local bin=$1 ac=$2 b=$3 sout=$4 seed=$5 arch=$6 threads=$7
    shift 7
    local name cdir="$sout.data"
    name=$(basename "$ac" _AC.seq.gz)
    mkdir -p "$cdir"
    ln -sfn "$(realpath "$ac")" "$cdir/${name}_AC.seq.gz"
    ln -sfn "$(realpath "$b")" "$cdir/${name}_B.seq.gz"
    "$bin" sweep --data "$cdir" --out "$sout" --seed "$seed" --archs "$arch" --jobs 1 --threads "$threads" --quiet \
        "$@" > "$sout.out" 2> "$sout.err" || { tail -n 1 "$sout.err" >&2; return 1; }
    python3 -c 'import csv,sys
rows = [r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t") if r["dataset"] == sys.argv[2] and r["arch"] == sys.argv[3]]
if len(rows) != 1: sys.exit(f"{sys.argv[1]}: {len(rows)} rows for {sys.argv[2]} {sys.argv[3]}, not 1")
r = rows[0]
print("\t".join([r["n_train"], r["auroc"], r["auprc"], r["train_seconds"], r["checksum"]]))' "$sout/results.tsv" "$name" "$arch"
}

# lc_subsample AC_FILE SEED N DEST: the learning curve's training set of N positives for seed SEED
# (Python's random.Random(SEED) draws N of AC_FILE's lines, header kept, in file order; gzip -n, so
# the bytes are the same on every machine); nothing is done if DEST exists.
lc_subsample() {
    [ -f "$4" ] && return 0
    zcat "$1" | python3 -c '
import random, sys
lines = sys.stdin.read().splitlines()
keep = sorted(random.Random(int(sys.argv[1])).sample(range(1, len(lines)), int(sys.argv[2])))
sys.stdout.write("\n".join([lines[0]] + [lines[i] for i in keep]) + "\n")' "$2" "$3" | gzip -n > "$4.tmp" && mv "$4.tmp" "$4"
}

# pick_pairs DATA TFS FEWEST: fills the global array `names` with the _AC/_B pairs of DATA whose name
# matches the extended regex TFS (all, if TFS is empty), and `npos` (declared -A by the caller) with
# their positives; FEWEST > 0 without TFS keeps the FEWEST pairs with the fewest positives (the
# learning curve's default TFs).
pick_pairs() {
    local data=$1 tfs=$2 fewest=$3 f name
    names=()
    for f in "$data"/*_AC.seq.gz; do
        name=$(basename "$f" _AC.seq.gz)
        [ -f "$data/${name}_B.seq.gz" ] || continue
        if [ -n "$tfs" ] && ! [[ "$name" =~ $tfs ]]; then continue; fi
        npos[$name]=$(( $(zcat "$f" | wc -l) - 1 ))
        names+=("$name")
    done
    if [ -z "$tfs" ] && [ "$fewest" -gt 0 ]; then
        mapfile -t names < <(for name in "${names[@]}"; do echo "${npos[$name]} $name"; done | sort -n | head -n "$fewest" | cut -d' ' -f2-)
    fi
}

# lc_pair DATA DIR NAME SIZE SEED NPOS: the learning curve's pair of NAME for (SIZE, SEED) in DIR:
# DIR/NAME_AC.seq.gz (lc_subsample of SIZE positives, or for SIZE `all` a link to DATA's whole file)
# and a link to DATA's NAME_B.seq.gz; prints the positives trained on. Fails, making nothing, where a
# numeric SIZE is at or above the TF's NPOS positives: that is the TF's `all`, not trained twice.
lc_pair() {
    local data=$1 dir=$2 name=$3 size=$4 seed=$5 npos=$6 ac="$2/$3_AC.seq.gz"
    if [ "$size" = all ]; then
        [ -e "$ac" ] || ln -s "$(realpath "$data/${name}_AC.seq.gz")" "$ac"
        npos=$npos
    elif [ "$size" -lt "$npos" ]; then
        lc_subsample "$data/${name}_AC.seq.gz" "$seed" "$size" "$ac"
        npos=$size
    else
        return 1
    fi
    [ -e "$dir/${name}_B.seq.gz" ] || ln -s "$(realpath "$data/${name}_B.seq.gz")" "$dir/${name}_B.seq.gz"
    echo "$npos"
}
