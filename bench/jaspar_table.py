"""Summarises bench/jaspar_names.sh: for each TF x architecture, is the expected TF family among the top
5 JASPAR hits of (a) the best-matching first-layer filter and (b) the class-optimised PPMs? Writes
PREFIX.tsv and PREFIX.md.  usage: jaspar_table.py WORK_DIR JASPAR.meme PREFIX"""
import csv, re, sys

work, jaspar, prefix = sys.argv[1:4]
# expected families, by JASPAR motif name (case-insensitive regular expressions)
family = {
    "REST": r"^REST$",
    "GABPA": r"^(GABPA|ELK\d|ETV\d|ELF\d|ETS\d|ERG|FLI1|FEV|ERF|SPI[BC]?|EHF|ELK|ETS)",
    "USF1": r"^(USF\d|MITF|TFE[3BC]|MAX|MYC|MYCN|MNT|MLX|BHLHE4\d|TFAP4|SREBF\d|HEY\d|NPAS\d|ARNT|CLOCK|HES\d)",
    "FOXA1": r"^FOX",
    "SP1": r"^(SP\d|KLF\d+|EGR\d|ZNF148|ZNF281|PATZ1|WT1)",
}
names = {}
for line in open(jaspar):
    if line.startswith("MOTIF"):
        f = line.split()
        names[f[1]] = f[2] if len(f) > 2 else f[1]

def hits(path):
    by_q = {}
    for r in csv.reader((l for l in open(path) if not l.startswith("#")), delimiter="\t"):
        if r[0] == "Query_ID":
            continue
        by_q.setdefault(r[0], []).append((float(r[3]), float(r[5]), r[1]))
    for q in by_q.values():
        q.sort()
    return by_q

rows = []
for tf in ["REST", "GABPA", "USF1", "FOXA1", "SP1"]:
    for arch in ["cnn", "cnnrnn"]:
        base = f"{work}/{tf}.{arch}"
        try:
            auroc = re.search(r"test\s+n \d+\s+AUROC ([0-9.]+)", open(base + ".train.log").read()).group(1)
        except (OSError, AttributeError):
            continue
        out = {"tf": tf, "arch": arch, "test_auroc": auroc}
        for kind, path in (("filter", base + ".filters.hits.tsv"), ("optimized", base + ".opt.hits.tsv")):
            h = hits(path)
            # the query whose best hit is strongest; then the first family member in its top 5
            best = None
            for q, lst in h.items():
                top = lst[:5]
                for rank, (p, qv, t) in enumerate(top, 1):
                    if re.search(family[tf], names.get(t, t), re.I):
                        cand = (p, rank, q, t, qv)
                        if best is None or cand < best:
                            best = cand
                        break
            n_q = sum(1 for q, lst in h.items() if any(re.search(family[tf], names.get(t, t), re.I) for _, _, t in lst[:5]))
            if best:
                p, rank, q, t, qv = best
                out[kind] = f"yes: {q} -> {t} {names.get(t, t)} (rank {rank}, p {p:.2g}, q {qv:.2g}); {n_q} of {len(h)} queries"
            else:
                out[kind] = f"no ({len(h)} queries with hits)"
            out[kind + "_ok"] = best is not None
        rows.append(out)

with open(prefix + ".tsv", "w") as f:
    w = csv.writer(f, delimiter="\t")
    w.writerow(["tf", "arch", "test_auroc", "family_in_top5_filter", "family_in_top5_optimized", "filter", "optimized"])
    for r in rows:
        w.writerow([r["tf"], r["arch"], r["test_auroc"], r["filter_ok"], r["optimized_ok"], r["filter"], r["optimized"]])
md = ["# Learned motifs named against JASPAR 2020", "",
      "Models: foundation defaults (AC + one dinucleotide shuffle per positive, default protocol, <= 20 epochs, seed 1).",
      "Filters: `deepmotif motifs` on the _B sequences (activation > 0.5 x max, >= 10 sites). Optimized: 16 restarts of",
      "`deepmotif optimize` (SPEC 6.3 recipe). Each query's top 5 JASPAR hits (`deepmotif compare`, Pearson, q <= 0.5);",
      "the cell names the strongest query whose top 5 contain the expected family, and how many queries do.", "",
      "| TF | arch | test AUROC | family in a filter's top 5 | family in an optimized PPM's top 5 |", "|---|---|---|---|---|"]
for r in rows:
    md.append(f"| {r['tf']} | {r['arch']} | {r['test_auroc']} | {r['filter']} | {r['optimized']} |")
ok = sum(1 for r in rows if r["filter_ok"] or r["optimized_ok"])
md += ["", f"{ok} of {len(rows)} models name the expected family among the top 5 hits of a filter or an optimized PPM."]
open(prefix + ".md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
