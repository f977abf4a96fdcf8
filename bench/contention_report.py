"""contention_report.py: the Markdown table of bench/contention.sh from its CSV (medians over rounds).
usage: contention_report.py CSV MD ROUNDS SECONDS_PER BUSY NPROC [PIN]

A run's rate is its throughput over the whole run (timed iterations × items per iteration / their total
wall time) where the CSV has `total_s` (bench_threads since 2026-12-03); the median iteration's rate is
shown beside it. Under load the two differ: an iteration the scheduler did not interrupt runs at the
unloaded speed, so once most iterations fit between two preemptions the median hides the time slices
lost to the busy processes. Older CSVs (no `total_s`) give the median iteration's rate alone.
"""
import csv, statistics, sys, datetime, os
path, md, rounds, secs, busy, nproc = sys.argv[1:7]
pin = sys.argv[7] if len(sys.argv) > 7 else ""
rows = list(csv.DictReader(open(path)))
has_total = all(r.get("total_s") for r in rows)
unit = {r["workload"]: (float(r["rate"]) * float(r["median_s"])) for r in rows}   # items per iteration


def key(r):
    return (r["build"], r["load"], r["workload"], r["arch"], int(r["threads"]))


med, run, cpu_share = {}, {}, {}
for r in rows:
    med.setdefault(key(r), []).append(float(r["median_s"]))
    # seconds per iteration over the whole run; CPU seconds per wall second over the run (or the median iteration's)
    run.setdefault(key(r), []).append(float(r["total_s"]) / int(r["iterations"]) if has_total else float(r["median_s"]))
    cpu_share.setdefault(key(r), []).append(float(r["total_cpu_s"]) / float(r["total_s"]) if has_total
                                            else float(r["cpu_s"]) / float(r["median_s"]))
builds = list(dict.fromkeys(r["build"] for r in rows))
keys = list(dict.fromkeys((r["workload"], r["arch"]) for r in rows))
cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip(); break
except OSError:
    pass
out = []
out.append("# 1 vs 2 threads under a competing load (bench/contention.sh)\n")
out.append(f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; {cpu}, {nproc} CPUs{', pinned: ' + pin if pin else ''}; "
           f"{rounds} rounds, {secs} s per run, runs alternating (1 thread, 2 threads; builds in turn), "
           f"medians over rounds of each run's {'throughput (whole run)' if has_total else 'median iteration'}. "
           f"Load: none, or {busy} busy processes "
           f"(`while :; do :; done`) on the same cores. OMP_WAIT_POLICY / GOMP_SPINCOUNT unset. "
           f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)') or '(empty)'}. "
           f"Commits: {', '.join(sorted(set(r['commit'] for r in rows)))}.\n")
out.append("Rates: train, saliency and infer in sequences/s (batch 256, L 101), optimize in steps/s (16 restarts). "
           "`2/1` is the 2-thread rate over the 1-thread rate; the target is 2/1 ≥ 1 under load.\n")
def table(heads, cells):
    """a Markdown table: per build the column heads (a function of the build), per workload × arch and build
    the cells (a function of build, workload, arch: a list as long as the heads, or None when runs are missing)"""
    n = len(heads("")); hdr = "| workload | arch |"; sep = "|---|---|"
    for b in builds:
        hdr += "".join(f" {h} |" for h in heads(b)); sep += "---:|" * n
    out.extend([hdr, sep])
    for w, a in keys:
        line = f"| {w} | {a} |"
        for b in builds:
            c = cells(b, w, a)
            line += "".join(f" {x} |" for x in (c or [""] * n))
        out.append(line)


def rates(b, w, a, src):
    cells = []
    for load in ("none", "busy"):
        t1 = src.get((b, load, w, a, 1)); t2 = src.get((b, load, w, a, 2))
        if not t1 or not t2:
            cells += [""] * 3; continue
        m1, m2 = statistics.median(t1), statistics.median(t2)
        cells += [f"{unit[w] / m1:,.0f}", f"{unit[w] / m2:,.0f}", f"{m1 / m2:.2f}"]
    return cells


table(lambda b: [f"{b}, no load: 1 thr", "2 thr", "2/1", f"{b}, busy: 1 thr", "2 thr", "2/1"],
      lambda b, w, a: rates(b, w, a, run))
if has_total:
    out.append("")
    out.append("The same runs rated by their median iteration (the rate shown before 2026-12-03; under load it "
               "counts only the iterations no busy process interrupted):\n")
    table(lambda b: [f"{b}, no load: 1 thr", "2 thr", "2/1", f"{b}, busy: 1 thr", "2 thr", "2/1"],
          lambda b, w, a: rates(b, w, a, med))
# Where 2/1 under load comes from: the CPU time the OS grants the process (CPU seconds per wall second of
# an iteration, process CPU clock) and the work done per CPU second. 2/1 = (granted 2/1) × (per CPU
# second 2/1): the first is the scheduler's, the second the threads' (stalls and overheads lower it).
out.append("")
out.append("Under load, 2/1 = (CPU time granted, 2 threads over 1) × (work per CPU second, 2 threads over 1): "
           f"`granted` is the scheduler's share (medians over rounds of each run's CPU seconds per wall second"
           f"{', over the whole run' if has_total else ', of its median iteration'}), "
           "`per CPU s` the threads' efficiency (about 0.8–1.0 without load too: the split's own overheads).\n")


def shares(b, w, a):
    t1 = run.get((b, "busy", w, a, 1)); t2 = run.get((b, "busy", w, a, 2))
    c1 = cpu_share.get((b, "busy", w, a, 1)); c2 = cpu_share.get((b, "busy", w, a, 2))
    if not (t1 and t2 and c1 and c2):
        return None
    g1, g2 = statistics.median(c1), statistics.median(c2)
    ratio = statistics.median(t1) / statistics.median(t2)
    return [f"{g1:.2f}", f"{g2:.2f}", f"{g2 / g1:.2f}", f"{ratio / (g2 / g1):.2f}"]


table(lambda b: [f"{b}, busy: CPUs 1 thr", "2 thr", "granted 2/1", "per CPU s 2/1"], shares)
open(md, "w").write("\n".join(out) + "\n")
print("\n".join(out))
