"""_lib.py: finds libdeepmotif.so and declares the public C API of include/deepmotif.h for ctypes.

Every structure here mirrors one of the header, field for field; tests/test_abi.py compiles the header
and compares sizes and offsets, so a change to the header that is not made here fails a test instead
of corrupting memory. Functions are bound lazily (`lib().dm_predict`): a library older than the header
raises deepmotif.Error naming the missing symbol when that function is first used, not at import.
"""

import ctypes
import ctypes.util
import os
import threading

# ---- errors ---------------------------------------------------------------------------------------

STATUS_OK = 0
STATUS_NAMES = {1: "io", 2: "format", 3: "arg", 4: "nomem", 5: "corrupt", 6: "backend", 7: "cancelled"}
STATUS_CANCELLED = 7


class Error(Exception):
    """A failure reported by the library: str(e) is dm_last_error()'s message; e.status names the
    kind ("io", "format", "arg", "nomem", "corrupt", "backend", "cancelled")."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class Cancelled(Error):
    """A long call stopped because its progress callback asked it to."""


# ---- the library ----------------------------------------------------------------------------------

LIBNAME = "libdeepmotif.so"


def _candidates():
    """Where the library is looked for, in order, with the reason for each."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    env = os.environ.get("DEEPMOTIF_LIB")
    if env:
        out.append((env, "DEEPMOTIF_LIB"))
        return out                     # an explicit choice is never second-guessed
    out.append((os.path.join(here, LIBNAME), "next to the package"))
    try:                               # where `pip install` found the source tree's build
        from ._build_info import LIBRARY
        if LIBRARY:
            out.append((LIBRARY, "recorded by pip install"))
    except ImportError:
        pass
    # A source checkout: python/deepmotif/ -> the repository's build folder(s).
    repo = os.path.dirname(os.path.dirname(here))
    for b in ("build", "build-release"):
        out.append((os.path.join(repo, b, LIBNAME), "the repository's %s/ folder" % b))
    for prefix in ("/usr/local/lib", "/usr/lib"):
        out.append((os.path.join(prefix, LIBNAME), "installed"))
    found = ctypes.util.find_library("deepmotif")
    if found:
        out.append((found, "the dynamic loader's path"))
    out.append((LIBNAME, "the dynamic loader's path"))
    return out


_lock = threading.Lock()
_lib = None
_path = None


def lib():
    """The loaded library (loaded on first use)."""
    global _lib, _path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for path, why in _candidates():
            if os.path.sep in path and not os.path.exists(path):
                tried.append("%s (%s): no such file" % (path, why))
                continue
            try:
                handle = ctypes.CDLL(path)
            except OSError as e:
                tried.append("%s (%s): %s" % (path, why, e))
                continue
            if not hasattr(handle, "dm_version"):
                tried.append("%s (%s): not libdeepmotif (no dm_version)" % (path, why))
                continue
            _declare(handle)
            _lib, _path = handle, path
            return _lib
        raise Error("deepmotif: libdeepmotif.so not found; build it (cmake --build build) or install it "
                    "(cmake --install build), or set DEEPMOTIF_LIB to its path. Tried:\n  "
                    + "\n  ".join(tried))


def path():
    """The file the library was loaded from."""
    lib()
    return _path


def check(status):
    """Raises Error with dm_last_error()'s message unless status is DM_STATUS_OK."""
    if status == STATUS_OK:
        return
    msg = lib().dm_last_error().decode("utf-8", "replace")
    kind = STATUS_NAMES.get(status, str(status))
    if not msg:
        msg = lib().dm_status_str(status).decode("utf-8", "replace")
    cls = Cancelled if status == STATUS_CANCELLED else Error
    raise cls(msg, kind)


# ---- structures (include/deepmotif.h) -------------------------------------------------------------

c_float_p = ctypes.POINTER(ctypes.c_float)
c_uint8_p = ctypes.POINTER(ctypes.c_uint8)
c_int8_p = ctypes.POINTER(ctypes.c_int8)

MAX_CONV = 8


class Dataset(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int64), ("len", ctypes.c_int32), ("seq", c_uint8_p),
                ("seq_len", ctypes.POINTER(ctypes.c_int32)), ("label", c_int8_p),
                ("group", ctypes.POINTER(ctypes.c_int64)), ("id", ctypes.POINTER(ctypes.c_char_p)),
                ("format", ctypes.c_int), ("n_padded", ctypes.c_int64),
                ("n_truncated", ctypes.c_int64), ("n_ambiguous", ctypes.c_int64)]


class Hparams(ctypes.Structure):
    _fields_ = [("arch", ctypes.c_int), ("len", ctypes.c_int32), ("n_conv", ctypes.c_int32),
                ("conv_width", ctypes.c_int32 * MAX_CONV), ("conv_channels", ctypes.c_int32),
                ("pool", ctypes.c_int32), ("hidden", ctypes.c_int32), ("dropout", ctypes.c_float)]


class Progress(ctypes.Structure):
    _fields_ = [("what", ctypes.c_char_p), ("done", ctypes.c_int64), ("total", ctypes.c_int64),
                ("epoch", ctypes.c_int32), ("train_loss", ctypes.c_double),
                ("valid_loss", ctypes.c_double), ("valid_auroc", ctypes.c_double),
                ("seconds", ctypes.c_double), ("batch", ctypes.c_int32), ("n_batches", ctypes.c_int32),
                ("batch_loss", ctypes.c_double)]


PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Progress))


class Input(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int64), ("len", ctypes.c_int32), ("n_quarter", ctypes.c_int32),
                ("onehot", c_float_p), ("codes", c_uint8_p), ("labels", c_int8_p)]


class TensorDesc(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 40), ("ndim", ctypes.c_int32), ("shape", ctypes.c_int64 * 4),
                ("numel", ctypes.c_int64), ("offset", ctypes.c_int64)]


class TrainOpts(ctypes.Structure):
    _fields_ = [("protocol", ctypes.c_int32), ("epochs", ctypes.c_int32), ("batch", ctypes.c_int32),
                ("lr", ctypes.c_float), ("lr_halve_every", ctypes.c_int32), ("clip", ctypes.c_float),
                ("patience", ctypes.c_int32), ("rc", ctypes.c_int32), ("seed", ctypes.c_uint64),
                ("ema", ctypes.c_float),
                ("restarts", ctypes.c_int32), ("fresh_negatives", ctypes.c_int32)]


class SaliencyOpts(ctypes.Structure):
    _fields_ = [("method", ctypes.c_int32), ("target", ctypes.c_int32), ("center", ctypes.c_int32),
                ("steps", ctypes.c_int32), ("shuffle_baseline", ctypes.c_int32),
                ("batch", ctypes.c_int32), ("seed", ctypes.c_uint64)]


class OptimizeOpts(ctypes.Structure):
    _fields_ = [("restarts", ctypes.c_int32), ("steps", ctypes.c_int32), ("lr", ctypes.c_float),
                ("lambda_", ctypes.c_float), ("alpha", ctypes.c_float), ("eps", ctypes.c_float),
                ("softmax", ctypes.c_int32), ("report_every", ctypes.c_int32), ("seed", ctypes.c_uint64)]


class Motif(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char * 128), ("name", ctypes.c_char * 128), ("w", ctypes.c_int),
                ("p", c_float_p), ("nsites", ctypes.c_int)]


class MotifSet(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int), ("m", ctypes.POINTER(Motif))]


class MotifsOpts(ctypes.Structure):
    _fields_ = [("frac", ctypes.c_float), ("min_sites", ctypes.c_int32), ("batch", ctypes.c_int32),
                ("reserved", ctypes.c_int32)]


class LayerInfo(ctypes.Structure):
    _fields_ = [("op", ctypes.c_int32), ("n", ctypes.c_int32), ("k", ctypes.c_int32),
                ("pad", ctypes.c_int32), ("p", ctypes.c_float), ("name", ctypes.c_char * 16),
                ("len_in", ctypes.c_int32), ("ch_in", ctypes.c_int32), ("len_out", ctypes.c_int32),
                ("ch_out", ctypes.c_int32)]


class AurocPair(ctypes.Structure):
    _fields_ = [("n_pos", ctypes.c_int64), ("n_neg", ctypes.c_int64), ("auroc_a", ctypes.c_double),
                ("auroc_b", ctypes.c_double), ("diff", ctypes.c_double), ("se", ctypes.c_double),
                ("z", ctypes.c_double), ("p", ctypes.c_double), ("lo", ctypes.c_double), ("hi", ctypes.c_double)]


MAX_LAYERS = 48
# enum dm_layer_op by value (DM_LAYER_<NAME upper-cased>); tests/test_abi.py checks it against the header
LAYER_OPS = ("conv", "relu", "maxpool", "dropout", "gmax", "bilstm", "mean", "dense", "logsoftmax")

# The C name of each structure, for tests/test_abi.py.
STRUCTS = {"dm_layer_info": LayerInfo, "dm_dataset": Dataset, "dm_hparams": Hparams, "dm_progress": Progress, "dm_input": Input,
           "dm_tensor_desc": TensorDesc, "dm_train_opts": TrainOpts, "dm_saliency_opts": SaliencyOpts,
           "dm_optimize_opts": OptimizeOpts, "dm_motif": Motif, "dm_motif_set": MotifSet,
           "dm_motifs_opts": MotifsOpts, "dm_auroc_pair": AurocPair}
# Python field names that differ from C's (a keyword).
FIELD_C_NAME = {"lambda_": "lambda"}

# ---- functions ------------------------------------------------------------------------------------

P = ctypes.POINTER
vp = ctypes.c_void_p
st = ctypes.c_int          # dm_status
i32, i64, u64 = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint64

SIGNATURES = {
    "dm_status_str": (ctypes.c_char_p, [st]),
    "dm_last_error": (ctypes.c_char_p, []),
    "dm_version": (ctypes.c_char_p, []),
    "dm_dataset_read": (st, [P(Dataset), ctypes.c_char_p, ctypes.c_int, i32]),
    "dm_dataset_free": (None, [P(Dataset)]),
    "dm_dataset_with_shuffled_negatives": (st, [P(Dataset), P(Dataset), u64]),
    "dm_dataset_split": (st, [P(Dataset), ctypes.c_double, u64, P(Dataset), P(Dataset)]),
    "dm_dinuc_shuffle": (None, [c_uint8_p, c_uint8_p, ctypes.c_size_t, u64, u64]),
    "dm_hparams_default": (None, [P(Hparams), ctypes.c_int]),
    "dm_arch_name": (ctypes.c_char_p, [ctypes.c_int]),
    "dm_arch_parse": (st, [ctypes.c_char_p, P(ctypes.c_int)]),
    "dm_arch_count": (ctypes.c_int, []),
    "dm_arch_layers_of": (st, [P(Hparams), P(LayerInfo), ctypes.c_int, P(ctypes.c_int)]),
    "dm_auroc": (ctypes.c_double, [c_float_p, c_int8_p, i64]),
    "dm_auprc": (ctypes.c_double, [c_float_p, c_int8_p, i64]),
    "dm_accuracy": (ctypes.c_double, [c_float_p, c_int8_p, i64]),
    "dm_auroc_paired": (st, [c_float_p, c_float_p, c_int8_p, i64, P(AurocPair)]),
    "dm_backend_open": (st, [ctypes.c_char_p, ctypes.c_int, P(vp)]),
    "dm_backend_free": (None, [vp]),
    "dm_backend_name": (ctypes.c_char_p, [vp]),
    "dm_input_from_dataset": (st, [P(Dataset), P(Input)]),
    "dm_model_create": (st, [P(vp), P(Hparams), u64]),
    "dm_model_load": (st, [ctypes.c_char_p, P(vp)]),
    "dm_model_save": (st, [vp, ctypes.c_char_p]),
    "dm_model_free": (None, [vp]),
    "dm_model_hparams": (st, [vp, P(Hparams)]),
    "dm_model_n_tensors": (st, [vp, P(i32), P(i64)]),
    "dm_model_tensor_at": (st, [vp, i32, P(TensorDesc)]),
    "dm_model_tensor_find": (st, [vp, ctypes.c_char_p, P(TensorDesc)]),
    "dm_model_tensor": (st, [vp, ctypes.c_char_p, c_float_p, i64]),
    "dm_model_set_tensor": (st, [vp, ctypes.c_char_p, c_float_p, i64]),
    "dm_model_params": (st, [vp, P(c_float_p), P(i64)]),
    "dm_model_set_params": (st, [vp, c_float_p, i64]),
    "dm_model_provenance": (st, [vp, P(ctypes.c_char_p)]),
    "dm_train_opts_default": (None, [P(TrainOpts)]),
    "dm_train": (st, [vp, vp, P(Input), P(Input), P(TrainOpts), PROGRESS_FN, vp]),
    "dm_predict": (st, [vp, vp, P(Input), c_float_p, PROGRESS_FN, vp]),
    "dm_saliency_opts_default": (None, [P(SaliencyOpts)]),
    "dm_saliency": (st, [vp, vp, P(Input), P(SaliencyOpts), c_float_p, c_float_p, PROGRESS_FN, vp]),
    "dm_temporal": (st, [vp, vp, P(Input), c_float_p, c_float_p, PROGRESS_FN, vp]),
    "dm_optimize_opts_default": (None, [P(OptimizeOpts)]),
    "dm_optimize": (st, [vp, vp, P(OptimizeOpts), c_float_p, c_float_p, c_float_p, c_float_p, PROGRESS_FN, vp]),
    "dm_motifs_opts_default": (None, [P(MotifsOpts)]),
    "dm_motifs": (st, [vp, vp, P(Input), P(MotifsOpts), P(MotifSet), PROGRESS_FN, vp]),
    "dm_meme_read": (st, [ctypes.c_char_p, P(MotifSet)]),
    "dm_meme_write": (st, [ctypes.c_char_p, P(MotifSet)]),
    "dm_motif_set_free": (None, [P(MotifSet)]),
}


class _Missing:
    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        raise Error("deepmotif: %s has no %s: it was built from an older deepmotif; rebuild it"
                    % (_path, self.name))


def _declare(handle):
    for name, (res, args) in SIGNATURES.items():
        try:
            f = getattr(handle, name)
        except AttributeError:
            setattr(handle, name, _Missing(name))
            continue
        f.restype = res
        f.argtypes = args


def has(name):
    """Whether the loaded library exports `name`."""
    return not isinstance(getattr(lib(), name), _Missing)
