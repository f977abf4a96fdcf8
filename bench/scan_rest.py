#!/usr/bin/env python3
"""Helpers of bench/scan_rest.sh (standard library only).

  scan_rest.py genome B.seq.gz DIR [--chroms N] [--chrom-len L] [--sites-per-chrom K] [--seed S]
      Writes DIR/genome.fa: N chromosomes of L bases drawn from a second-order Markov chain fitted to
      every sequence of the _B file (its trinucleotide composition, so no GC or CpG contrast gives
      the planted blocks away), with K REST positives of the _B file (held out from training on _AC)
      planted as 101-bp blocks at random positions at least 2 kb apart; DIR/sites.bed (the planted
      blocks, name = the EventID) and DIR/regions.bed (the "BED in" example: 2 kb around every
      fifth site and as many 2 kb regions away from any site).

  scan_rest.py peaks SCAN.bedGraph STRIDE L THRESHOLD
      The peaks `deepmotif scan --threshold THRESHOLD` would write, from a scan's bedGraph.

  scan_rest.py evaluate sites.bed peaks.bed
      Prints the fraction of planted sites overlapped by a peak (recall) and the fraction of peaks
      overlapping a planted site (precision), as key value lines.
"""
import argparse
import gzip
import random
import sys


def read_b(path):
    pos, every = [], []
    with gzip.open(path, "rt") as f:
        next(f)
        for line in f:
            fold, eid, seq, bound = line.rstrip("\n").split("\t")
            seq = seq.upper()
            every.append(seq)
            if bound == "1":
                pos.append((eid, seq))
    return pos, every


def markov2(seqs):
    counts = {}
    for s in seqs:
        for i in range(2, len(s)):
            ctx, b = s[i - 2:i], s[i]
            if b not in "ACGT" or any(c not in "ACGT" for c in ctx):
                continue
            counts.setdefault(ctx, {"A": 1, "C": 1, "G": 1, "T": 1})[b] += 1
    table = {}
    for ctx, c in counts.items():
        tot = sum(c.values())
        table[ctx] = ("ACGT", [c[b] / tot for b in "ACGT"])
    return table


def background(n, table, rng):
    out = [rng.choice("ACGT"), rng.choice("ACGT")]
    for _ in range(n - 2):
        bases, w = table.get(out[-2] + out[-1], ("ACGT", [0.25] * 4))
        out.append(rng.choices(bases, w)[0])
    return out


def genome(a):
    rng = random.Random(a.seed)
    pos, every = read_b(a.b_file)
    table = markov2(every)
    rng.shuffle(pos)
    need = a.chroms * a.sites_per_chrom
    if need > len(pos):
        sys.exit(f"scan_rest.py: {need} sites asked, the _B file has {len(pos)} positives")
    sites, k = [], 0
    with open(f"{a.dir}/genome.fa", "w") as fa:
        for c in range(a.chroms):
            name = f"chrS{c + 1}"
            seq = background(a.chrom_len, table, rng)
            starts = []
            while len(starts) < a.sites_per_chrom:
                s = rng.randrange(1000, a.chrom_len - 1101)
                if all(abs(s - t) >= 2000 for t in starts):
                    starts.append(s)
            for s in sorted(starts):
                eid, block = pos[k]
                k += 1
                seq[s:s + len(block)] = list(block)
                sites.append((name, s, s + len(block), eid))
            fa.write(f">{name}\n")
            text = "".join(seq)
            for i in range(0, len(text), 80):
                fa.write(text[i:i + 80] + "\n")
    with open(f"{a.dir}/sites.bed", "w") as f:
        for name, s, e, eid in sites:
            f.write(f"{name}\t{s}\t{e}\t{eid}\n")
    with open(f"{a.dir}/regions.bed", "w") as f:
        chosen = sites[::5]
        for name, s, e, eid in chosen:
            mid = (s + e) // 2
            f.write(f"{name}\t{mid - 1000}\t{mid + 1000}\tsite_{eid}\t0\t+\n")
        made = 0
        while made < len(chosen):
            c = rng.randrange(a.chroms)
            name = f"chrS{c + 1}"
            s = rng.randrange(0, a.chrom_len - 2000)
            if all(n != name or e + 1000 < s or s + 2000 + 1000 < b for n, b, e, _ in sites):
                f.write(f"{name}\t{s}\t{s + 2000}\tbackground_{made + 1}\t0\t+\n")
                made += 1


def read_bed(path):
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                c = line.split("\t")
                out.append((c[0], int(c[1]), int(c[2])))
    return out


def overlaps(a, bs):
    return any(a[0] == b[0] and a[1] < b[2] and b[1] < a[2] for b in bs)


def evaluate(a):
    sites, peaks = read_bed(a.sites), read_bed(a.peaks)
    found = sum(overlaps(s, peaks) for s in sites)
    true = sum(overlaps(p, sites) for p in peaks)
    print(f"sites {len(sites)}")
    print(f"peaks {len(peaks)}")
    print(f"sites_covered {found}")
    print(f"recall {found / len(sites):.4f}")
    print(f"peaks_on_sites {true}")
    print(f"precision {true / len(peaks) if peaks else float('nan'):.4f}")


def peaks(a):
    """The windows of a scan's bedGraph with P >= threshold, merged as `deepmotif scan` merges them:
    the interval [s, s + S) belongs to the window starting at s - floor((L - S) / 2) (S <= L: no
    interval is clipped)."""
    off = (a.L - a.stride) // 2
    cur, n = None, 0
    def close():
        nonlocal n
        if cur:
            n += 1
            print(f"{cur[0]}\t{cur[1]}\t{cur[2]}\tpeak_{n}\t{cur[3]:.4f}")
    with open(a.bedgraph) as f:
        for line in f:
            c, s, e, v = line.split()
            s, e, v = int(s), int(e), float(v)
            if v < a.threshold:
                continue
            p = s - off
            if cur and cur[0] == c and p <= cur[2]:
                cur = (c, cur[1], max(cur[2], p + a.L), max(cur[3], v))
            else:
                close()
                cur = (c, p, p + a.L, v)
    close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("genome")
    g.add_argument("b_file")
    g.add_argument("dir")
    g.add_argument("--chroms", type=int, default=2)
    g.add_argument("--chrom-len", type=int, default=1_000_000)
    g.add_argument("--sites-per-chrom", type=int, default=100)
    g.add_argument("--seed", type=int, default=1)
    e = sub.add_parser("evaluate")
    e.add_argument("sites")
    e.add_argument("peaks")
    k = sub.add_parser("peaks")
    k.add_argument("bedgraph")
    k.add_argument("stride", type=int)
    k.add_argument("L", type=int)
    k.add_argument("threshold", type=float)
    a = p.parse_args()
    {"genome": genome, "evaluate": evaluate, "peaks": peaks}[a.cmd](a)


if __name__ == "__main__":
    main()
