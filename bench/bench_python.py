#!/usr/bin/python3
"""bench_python.py: the overhead of a Python call over the engine, for a saliency batch.

Times deepmotif.Model.saliency(x) (the whole Python call: argument checks, the ctypes call, the
output array) against the same dm_saliency call made from C (a small program compiled here against
include/deepmotif.h and the same libdeepmotif.so), on the same model, the same N one-hot sequences,
the same backend settings. The two run interleaved in one session (C, Python, C, Python, ...) after a
warm-up of each, so machine load drifts hit both alike. Reported:
  - pair_overhead_pct: the median over pairs (one C call, then one Python call) of Python/C − 1;
  - wrapper_overhead_pct: the time the Python call spends outside dm_saliency (total minus the
    foreign call itself, timed around it from Python), median, over the C program's median. On a
    loaded machine this is the steadier figure: it does not depend on two calls seeing equal load.

Before timing, the C program's attributions are compared with Python's (they must be equal: the
same call on the same bytes).

    /usr/bin/python3 bench/bench_python.py [--n 10000] [--arch cnn] [--threads 2] [--repeats 5]
        [--lib build/libdeepmotif.so] [--out bench/results/bench_python.tsv]
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "python"))

import numpy as np  # noqa: E402

C_SRC = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "deepmotif.h"

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
#define CK(x) do { dm_status s_ = (x); if (s_) { fprintf(stderr, "%s\n", dm_last_error()); return 1; } } while (0)

/* usage: prog model x.f32 n len threads out.f32 ; then reads one line per timed call from stdin
 * ("go"), answers with the seconds of that dm_saliency call */
int main(int argc, char **argv) {
    if (argc != 7) return 2;
    long n = atol(argv[3]); int len = atoi(argv[4]); int threads = atoi(argv[5]);
    float *x = malloc(sizeof(float) * n * len * 4), *attr = malloc(sizeof(float) * n * len * 4);
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(x, sizeof(float), (size_t)n * len * 4, f) != (size_t)n * len * 4) return 3;
    fclose(f);
    dm_model *m; dm_backend *be;
    CK(dm_model_load(argv[1], &m));
    CK(dm_backend_open("cpu", threads, &be));
    dm_input in = {.n = n, .len = len, .onehot = x};
    dm_saliency_opts o; dm_saliency_opts_default(&o);
    char line[16];
    int first = 1;
    while (fgets(line, sizeof line, stdin)) {
        double t0 = now();
        CK(dm_saliency(m, be, &in, &o, attr, NULL, NULL, NULL));
        double dt = now() - t0;
        if (first) {
            FILE *g = fopen(argv[6], "wb");
            fwrite(attr, sizeof(float), (size_t)n * len * 4, g);
            fclose(g);
            first = 0;
        }
        printf("%.6f\n", dt);
        fflush(stdout);
    }
    dm_model_free(m); dm_backend_free(be);
    return 0;
}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--arch", default="cnn")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--lib", default=os.path.join(REPO, "build", "libdeepmotif.so"))
    ap.add_argument("--out", default=None, help="append the result row to this TSV")
    a = ap.parse_args()
    os.environ["DEEPMOTIF_LIB"] = os.path.abspath(a.lib)
    import deepmotif

    tmp = tempfile.mkdtemp(prefix="bench_python.")
    try:
        cc = shutil.which("cc") or shutil.which("gcc")
        src = os.path.join(tmp, "sal.c")
        exe = os.path.join(tmp, "sal")
        open(src, "w").write(C_SRC)
        libdir = os.path.dirname(os.path.abspath(a.lib))
        subprocess.run([cc, "-O2", "-std=gnu11", "-I", os.path.join(REPO, "include"), src, "-o", exe,
                        "-L", libdir, "-ldeepmotif", "-Wl,-rpath," + libdir], check=True)

        m = deepmotif.Model(a.arch, seed=1, device="cpu", threads=a.threads)
        model_path = os.path.join(tmp, "m.dmm")
        m.save(model_path)
        rng = np.random.default_rng(1)
        x = deepmotif.onehot(rng.integers(0, 4, size=(a.n, 101)).astype(np.uint8))
        xpath = os.path.join(tmp, "x.f32")
        x.tofile(xpath)
        cpath = os.path.join(tmp, "attr.f32")
        proc = subprocess.Popen([exe, model_path, xpath, str(a.n), "101", str(a.threads), cpath],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))

        def c_call():
            proc.stdin.write("go\n")
            proc.stdin.flush()
            return float(proc.stdout.readline())

        lib = deepmotif._lib.lib()
        inner = []
        c_sal = lib.dm_saliency

        def timed_sal(*args):
            t0 = time.perf_counter()
            st = c_sal(*args)
            inner.append(time.perf_counter() - t0)
            return st

        lib.dm_saliency = timed_sal                         # what Model.saliency looks up

        def py_call():
            t0 = time.perf_counter()
            r = m.saliency(x)
            return time.perf_counter() - t0, r

        c_call()                                            # warm-up (and the C attributions)
        _, attr = py_call()
        want = np.fromfile(cpath, dtype=np.float32).reshape(attr.shape)
        if not np.array_equal(attr, want):
            sys.exit("bench_python: Python's attributions differ from C's (max |diff| %g): not timing"
                     % float(np.abs(attr - want).max()))
        tc, tp, wrap = [], [], []
        for _ in range(a.repeats):
            tc.append(c_call())
            tp.append(py_call()[0])
            wrap.append(tp[-1] - inner[-1])
        proc.stdin.close()
        proc.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    mc, mp = statistics.median(tc), statistics.median(tp)
    pair = statistics.median(p / c - 1 for p, c in zip(tp, tc)) * 100
    wrapper = statistics.median(wrap) / mc * 100
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print("# %s, %s, %s threads, load %s, numpy %s, python %s" % (
        platform.node(), platform.processor() or platform.machine(), a.threads,
        " ".join("%.1f" % v for v in os.getloadavg()), np.__version__, platform.python_version()))
    header = ("what\tarch\tn\tthreads\trepeats\tc_median_s\tc_min_s\tpy_median_s\tpy_min_s\t"
              "wrapper_median_s\tpair_overhead_pct\twrapper_overhead_pct\tcommit")
    row = "saliency_grad\t%s\t%d\t%d\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.5f\t%.2f\t%.3f\t%s" % (
        a.arch, a.n, a.threads, a.repeats, mc, min(tc), mp, min(tp), statistics.median(wrap), pair,
        wrapper, commit)
    print(header)
    print(row)
    if a.out:
        new = not os.path.exists(a.out)
        with open(a.out, "a") as f:
            if new:
                f.write(header + "\n")
            f.write(row + "\n")


if __name__ == "__main__":
    main()
