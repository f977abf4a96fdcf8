"""Shared fixtures of the Python tests: the library, the CLI, a small simulated data set.

Environment: DEEPMOTIF_LIB (the library under test; default: the package's own search, which finds
the source tree's build/), DEEPMOTIF_CLI (the `deepmotif` program; default build/deepmotif next to
the library), DM_DATA_DIR (real data; default ../shared/data beside the repository)."""

import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))      # the package under test, not an installed one

import deepmotif  # noqa: E402
from deepmotif import _lib  # noqa: E402


def cli_path():
    p = os.environ.get("DEEPMOTIF_CLI")
    if p:
        return p
    try:
        cand = os.path.join(os.path.dirname(os.path.abspath(_lib.path())), "deepmotif")
    except deepmotif.Error:
        return None
    return cand if os.access(cand, os.X_OK) else None


@pytest.fixture(scope="session")
def lib():
    try:
        return _lib.lib()
    except deepmotif.Error as e:
        pytest.skip("libdeepmotif.so not found: %s" % str(e).splitlines()[0])


@pytest.fixture(scope="session")
def api(lib):
    """The model API of deepmotif.h (dm_model_create ...): skips on a library built before it."""
    if not _lib.has("dm_model_create") or not _lib.has("dm_saliency"):
        pytest.skip("%s predates the model API (no dm_model_create/dm_saliency)" % _lib.path())
    return lib


@pytest.fixture(scope="session")
def cli(lib):
    p = cli_path()
    if not p:
        pytest.skip("the deepmotif program was not found (set DEEPMOTIF_CLI)")
    return p


def run_cli(cli, *args):
    r = subprocess.run([cli] + [str(a) for a in args], capture_output=True, text=True,
                       env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if r.returncode != 0:
        raise AssertionError("deepmotif %s failed (%d): %s" % (" ".join(map(str, args)), r.returncode, r.stderr))
    return r


@pytest.fixture(scope="session")
def simdata(cli, tmp_path_factory):
    """A simulated DeepBind TSV: 200 positives with a planted motif, each with its shuffle, L = 101."""
    path = tmp_path_factory.mktemp("sim") / "sim.tsv"
    run_cli(cli, "simulate", "--out", path, "--n", 200, "--seed", 7)
    return str(path)


@pytest.fixture(scope="session")
def rng():
    return np.random.default_rng(20261201)


def random_onehot(rng, n, L, n_frac=0.0):
    c = rng.integers(0, 4, size=(n, L)).astype(np.uint8)
    if n_frac:
        c[rng.random((n, L)) < n_frac] = deepmotif.data.BASE_N
    return deepmotif.onehot(c)


@pytest.fixture(scope="session")
def simsmall(simdata, tmp_path_factory):
    """The header and first 64 rows of simdata (for the slow methods: ISM, the CLI runs)."""
    path = tmp_path_factory.mktemp("simsmall") / "small.tsv"
    with open(simdata) as f, open(path, "w") as g:
        g.writelines(f.readlines()[:65])
    return str(path)
