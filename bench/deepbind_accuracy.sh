#!/usr/bin/env bash
# Accuracy benchmark of issue "engine foundation": train the CNN and the CNN-RNN on every DeepBind
# ENCODE set that has _AC and _B files (AC positives + one dinucleotide shuffle each, default
# protocol, at most 20 epochs), the RNN on REST, GABPA, ELK1, MYC and ZBTB7A, and score each on _B.
#
#   bench/deepbind_accuracy.sh [DATA_DIR] [OUT_PREFIX]
#     DATA_DIR    default ../shared/data/deepbind
#     OUT_PREFIX  default bench/results/deepbind; writes OUT_PREFIX.tsv (one row per TF × arch,
#                 appended as runs finish) and OUT_PREFIX.md (the table with means)
# Environment: DM_BIN (default build/deepmotif), EPOCHS (20), SEED (1), THREADS (all cores),
#              ARCHS (default "rnn cnn cnnrnn"), APPEND=1 (add rows to an existing OUT_PREFIX.tsv;
#              every row records the commit that produced it).
set -euo pipefail
data=${1:-../shared/data/deepbind}
prefix=${2:-bench/results/deepbind}
bin=${DM_BIN:-build/deepmotif}
epochs=${EPOCHS:-20}
seed=${SEED:-1}
archs=${ARCHS:-"rnn cnn cnnrnn"}
rnn_tfs="REST GABPA ELK1 MYC ZBTB7A"
[ -x "$bin" ] || { echo "deepbind_accuracy: $bin not built (run make)" >&2; exit 1; }
[ -d "$data" ] || { echo "deepbind_accuracy: no data directory $data" >&2; exit 1; }
mkdir -p "$(dirname "$prefix")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tsv="$prefix.tsv"
[ "${APPEND:-0}" = 1 ] && [ -s "$tsv" ] ||
    printf 'tf\tarch\tauroc\tauprc\tbest_epoch\tepochs_run\ttrain_s\tseq_per_s\tn_train\tseed\tcommit\n' > "$tsv"
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

for arch in $archs; do
    for ac in "$data"/*_AC.seq.gz; do
        stem=$(basename "$ac" _AC.seq.gz)
        b="$data/${stem}_B.seq.gz"
        [ -f "$b" ] || continue
        tf=${stem%%_*}
        if [ "$arch" = rnn ] && [[ " $rnn_tfs " != *" $tf "* ]]; then continue; fi
        [ "$tf" = ARID3A ] && tf="ARID3A_${stem#ARID3A_}" && tf=${tf%%_ARID3A*}
        log="$tmp/$stem.$arch.log"
        "$bin" train --arch "$arch" --train "$ac" --test "$b" --negatives shuffle --epochs "$epochs" \
            --seed "$seed" ${THREADS:+--threads "$THREADS"} --out "$tmp/$stem.$arch.dm" --quiet > "$log" 2>&1 ||
            { echo "deepbind_accuracy: $stem $arch failed:" >&2; cat "$log" >&2; exit 1; }
        # model  PATH (arch, epoch E of R run) / test n N AUROC A AUPRC P ... / time T s, S sequences/s
        best=$(sed -n 's/.*epoch \([0-9]*\) of \([0-9]*\) run.*/\1/p' "$log")
        run=$(sed -n 's/.*epoch \([0-9]*\) of \([0-9]*\) run.*/\2/p' "$log")
        auroc=$(awk '$1 == "test" {print $5}' "$log")
        auprc=$(awk '$1 == "test" {print $7}' "$log")
        secs=$(awk '$1 == "time" {print $2}' "$log")
        rate=$(awk '$1 == "time" {print $4}' "$log")
        ntrain=$(sed -n 's/.*; \([0-9]*\) training.*/\1/p' "$log")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tf" "$arch" "$auroc" "$auprc" "$best" \
            "$run" "$secs" "$rate" "$ntrain" "$seed" "$commit" >> "$tsv"
        echo "$tf $arch AUROC $auroc AUPRC $auprc (epoch $best of $run, ${secs}s, $rate seq/s)" >&2
    done
done

# The summary table: per-TF rows with the PyTorch CNN reference of the issue, then means.
python3 - "$tsv" "$prefix.md" <<'PY'
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
ref = {"ARID3A_HepG2": .869, "ARID3A_K562": .857, "CTCFL": .976, "ELK1": .950, "FOXA1": .983,
       "FOXM1": .889, "GABPA": .979, "GATA3": .937, "MYC": .897, "REST": .997, "SP1": .905,
       "USF1": .995, "ZBTB7A": .870}
res = {}
for r in rows:
    res.setdefault(r[0], {})[r[1]] = r
archs = ["cnn", "cnnrnn", "rnn"]
out = ["# DeepBind ENCODE accuracy (test = _B files)", "",
       "Default protocol, AC positives + one dinucleotide shuffle each, 10% validation pairs, at most",
       "%s epochs, early stopping (patience 5), best-validation weights; seed %s; commits %s." % (
           max(int(r[5]) for r in rows), rows[0][9], ", ".join(sorted({r[10] for r in rows}))) if rows else "",
       "Train seconds and sequences/s are wall time of whole epochs incl. validation, on a 2-core VM that",
       "other jobs shared during some runs: bench/results/bench_train.csv has the clean speed measurement.", "",
       "| TF | PyTorch CNN | " + " | ".join(f"{a} AUROC | {a} AUPRC | {a} epoch/run | {a} train s | {a} seq/s" for a in archs) + " |",
       "|---|---|" + "---|" * (5 * len(archs))]
for tf in sorted(res):
    cells = [tf, f"{ref[tf]:.3f}" if tf in ref else "–"]
    for a in archs:
        r = res[tf].get(a)
        cells += [r[2][:5], r[3][:5], f"{r[4]}/{r[5]}", r[6], r[7]] if r else ["–"] * 5
    out.append("| " + " | ".join(cells) + " |")
out += ["", "| Arch | n TFs | mean AUROC | median | std | PyTorch CNN mean on the same TFs |", "|---|---|---|---|---|---|"]
for a in archs:
    v = [(tf, float(res[tf][a][2])) for tf in res if a in res[tf]]
    if not v: continue
    x = [s for _, s in v]
    refm = st.mean(ref[tf] for tf, _ in v if tf in ref)
    out.append(f"| {a} | {len(x)} | {st.mean(x):.4f} | {st.median(x):.4f} | {st.pstdev(x):.4f} | {refm:.4f} |")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
