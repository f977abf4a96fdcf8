"""deepmotif: Python bindings of the deepmotif engine (CNN / BiLSTM / CNN-RNN classifiers of
transcription-factor binding sites, saliency, class optimisation, motifs).

    import deepmotif as dm
    x, y, ids = dm.read("train.seq.gz")          # one-hot (N, 101, 4), labels, ids
    m = dm.Model("cnn").train(x, y, progress=True)
    p = m.predict(x)                             # P(bound)
    attr = m.saliency(x, method="grad")          # (N, L, 4)
    net = m.to_torch()                           # torch.nn.Module, same forward

The package binds libdeepmotif.so with ctypes (numpy is its only dependency); the library is found
through DEEPMOTIF_LIB, next to the package, the source tree's build/ folder, or the loader's path.
"""

from ._lib import Error, Cancelled
from ._lib import path as library_path
from .data import onehot, codes, decode, read, dinucleotide_shuffle, Dataset, read_meme, write_meme
from ._model import Model, Backend, backend, ProgressInfo, OptimizeResult, METHODS, TARGETS
from ._model import architectures, layers

__all__ = ["Error", "Cancelled", "onehot", "codes", "decode", "read", "dinucleotide_shuffle",
           "Dataset", "Model", "Backend", "architectures", "layers", "backend", "ProgressInfo", "OptimizeResult", "version",
           "library_path", "auroc", "auprc", "auroc_paired", "read_meme", "write_meme"]

__version__ = "0.1.0"


def __getattr__(name):
    if name == "ARCHS":          # deepmotif.architectures() as a tuple, asked of the library when read
        return architectures()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def version():
    """The library's version string, "0.1.0 (commit)"."""
    from . import _lib
    return _lib.lib().dm_version().decode()


def _metric(fn, scores, labels):
    import ctypes
    import numpy as np
    from . import _lib
    s = np.ascontiguousarray(scores, dtype=np.float32)
    y = np.ascontiguousarray(labels, dtype=np.int8)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError("scores and labels must both be (N,)")
    return getattr(_lib.lib(), fn)(s.ctypes.data_as(_lib.c_float_p), y.ctypes.data_as(_lib.c_int8_p), len(s))


def auroc(scores, labels):
    """AUROC as the engine computes it (ties count 1/2; rows with labels other than 0/1 ignored)."""
    return _metric("dm_auroc", scores, labels)


def auprc(scores, labels):
    """AUPRC as average precision (scikit-learn's average_precision_score), as the engine computes it."""
    return _metric("dm_auprc", scores, labels)


def auroc_paired(scores_a, scores_b, labels):
    """Two models' AUROC on the same rows and DeLong's paired test of their difference, as `deepmotif
    eval --versus` reports it: a dict with n_pos, n_neg, auroc_a, auroc_b, diff (a - b), se, z, p
    (two-sided) and ci95 (diff +- 1.96 se). Raises Error without 2 rows of each class or with a NaN."""
    import ctypes
    import numpy as np
    from . import _lib
    a = np.ascontiguousarray(scores_a, dtype=np.float32)
    b = np.ascontiguousarray(scores_b, dtype=np.float32)
    y = np.ascontiguousarray(labels, dtype=np.int8)
    if a.shape != y.shape or b.shape != y.shape or y.ndim != 1:
        raise ValueError("scores_a, scores_b and labels must all be (N,)")
    r = _lib.AurocPair()
    _lib.check(_lib.lib().dm_auroc_paired(a.ctypes.data_as(_lib.c_float_p), b.ctypes.data_as(_lib.c_float_p),
                                          y.ctypes.data_as(_lib.c_int8_p), len(y), ctypes.byref(r)))
    return {"n_pos": r.n_pos, "n_neg": r.n_neg, "auroc_a": r.auroc_a, "auroc_b": r.auroc_b, "diff": r.diff,
            "se": r.se, "z": r.z, "p": r.p, "ci95": (r.lo, r.hi)}
