"""ISM speed: deepmotif's receptive-field windows (host/ism_fast.c) against its full recomputation
(DM_ISM=full, the reference) and tangermeme's saturation_mutagenesis on the same PyTorch model
(deepmotif.torch.to_torch of the same weights), alternating in one process, medians of R rounds.
Run through bench/ism_fast.sh; prints a Markdown table (sequences per second)."""
import os
import statistics
import sys
import time

import numpy as np
import torch

import deepmotif
from deepmotif import torch as dmt
from tangermeme.saturation_mutagenesis import saturation_mutagenesis

R = int(os.environ.get("ROUNDS", "5"))
N = int(os.environ.get("NSEQ", "32"))
T = int(os.environ.get("THREADS", "2"))
torch.set_num_threads(T)
rng = np.random.default_rng(1)
codes = rng.integers(0, 4, size=(N, 101), dtype=np.uint8)
onehot = np.eye(4, dtype=np.float32)[codes]                        # (N, L, 4)


def dm_ism(m, mode):
    if mode == "full":
        os.environ["DM_ISM"] = "full"
    else:
        os.environ.pop("DM_ISM", None)
    t = time.perf_counter()
    a = m.saliency(codes, method="ism", batch=256)
    return time.perf_counter() - t, a


def tg_ism(net, fast):
    x = torch.from_numpy(onehot.transpose(0, 2, 1).copy())
    t = time.perf_counter()
    with torch.inference_mode():
        a = saturation_mutagenesis(net, x, target=0, hypothetical=True, device="cpu", fast=fast, batch_size=256)
    return time.perf_counter() - t, a.numpy().transpose(0, 2, 1)


rows = []
for arch in sys.argv[1:] or ["cnn", "cnnrnn"]:
    m = deepmotif.Model(arch, seed=3, threads=T)
    net = dmt.to_torch(m, channels_first=True).eval()
    times = {"full": [], "windows": [], "tg": [], "tg_nofast": []}
    check = {}
    for r in range(R):
        for mode in ("full", "windows"):
            t, a = dm_ism(m, mode)
            times[mode].append(t)
            check[mode] = a
        t, a = tg_ism(net, True)
        times["tg"].append(t)
        check["tg"] = a
        if arch == "cnn" or r == 0:   # tangermeme without its own fast path: slow, fewer rounds for the RNNs
            t, a = tg_ism(net, False)
            times["tg_nofast"].append(t)
    d = np.abs(check["windows"] - check["full"]).max()
    cen = check["windows"] - check["windows"].mean(axis=2, keepdims=True)
    dt = np.abs(cen - check["tg"]).max()
    med = {k: statistics.median(v) for k, v in times.items()}
    sps = {k: N / v for k, v in med.items()}
    # ratios per round (each pair ran back to back, so a load change hits both), then their median
    r_full = statistics.median(f / w for f, w in zip(times["full"], times["windows"]))
    r_tg = statistics.median(t / w for t, w in zip(times["tg"], times["windows"]))
    rows.append((arch, sps, r_full, r_tg, d, dt, len(times["tg_nofast"])))

print("| arch | deepmotif full ISM | deepmotif windows | windows / full | tangermeme fast=True | "
      "tangermeme fast=False | windows / tangermeme fast=True | max abs(windows − full) | "
      "max abs(dm − tangermeme), centred |")
print("|---|---|---|---|---|---|---|---|---|")
for arch, s, r_full, r_tg, d, dt, ntg in rows:
    print("| %s | %.1f | %.1f | %.2f | %.1f | %.1f%s | %.2f | %.1e | %.1e |" % (
        arch, s["full"], s["windows"], r_full, s["tg"], s["tg_nofast"],
        "" if ntg == R else " (%d round)" % ntg, r_tg, d, dt))
print()
print("Sequences per second are N / the median time; the ratios are medians of the per-round ratios (the "
      "two runs of a round back to back). Differences: ISM effects (log P(bound) of the mutant − of the "
      "sequence); tangermeme's are centred over the bases, so deepmotif's are centred for that column.")
