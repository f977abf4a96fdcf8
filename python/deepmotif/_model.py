"""_model.py: deepmotif.Model, a trained or new classifier, over the public C API (dm_model_*,
dm_train, dm_predict, dm_saliency, dm_temporal, dm_optimize, dm_motifs).

Arrays go to the library without a copy when they already are C-contiguous float32 (one-hot) or uint8
(codes); results are numpy arrays the library writes into. ctypes releases the GIL for the duration of
every call, so other Python threads run while the engine computes; progress callbacks take it back
briefly. A backend (a device) is used by one thread at a time: calls through the same backend are
serialised by a lock.
"""

import collections
import ctypes
import json
import math
import os
import sys
import threading
import time

import numpy as np

from . import _lib
from . import data as _data

METHODS = {"grad": 0, "grad-x-input": 1, "original": 2, "ig": 3, "ism": 4}
TARGETS = {"pos": 0, "label": 1}
PROTOCOLS = {"default": 0, "original": 1}
RC_MODES = ("none", "augment", "average", "both")   # dm_train_opts.rc 0..3 (the DM_RC_* flags)
HPARAM_KEYS = ("length", "n_conv", "conv_width", "conv_channels", "pool", "hidden", "dropout")


# ---- architectures ----------------------------------------------------------------------------------

def architectures():
    """The names of the library's registered architectures, in id order ("cnn", "rnn", "cnnrnn",
    "danq", ...): every one is a valid Model(arch)."""
    lib = _lib.lib()
    return tuple(lib.dm_arch_name(i).decode() for i in range(lib.dm_arch_count()))


def hparams_struct(arch, **hparams):
    """The C dm_hparams of architecture `arch` (a registered name) with its defaults, overridden by
    hparams (keys HPARAM_KEYS: length, n_conv, conv_width (a list), conv_channels, pool, hidden,
    dropout)."""
    unknown = set(hparams) - set(HPARAM_KEYS)
    if unknown:
        raise TypeError("unknown hyper-parameter(s) %s; known: %s"
                        % (", ".join(sorted(unknown)), ", ".join(HPARAM_KEYS)))
    lib = _lib.lib()
    a = ctypes.c_int()
    _lib.check(lib.dm_arch_parse(str(arch).encode(), ctypes.byref(a)))
    hp = _lib.Hparams()
    lib.dm_hparams_default(ctypes.byref(hp), a.value)
    for k, v in hparams.items():
        if k == "length":
            hp.len = int(v)
        elif k == "conv_width":
            v = list(v)
            if len(v) > _lib.MAX_CONV:
                raise ValueError("conv_width: at most %d widths" % _lib.MAX_CONV)
            for i in range(_lib.MAX_CONV):
                hp.conv_width[i] = int(v[i]) if i < len(v) else 0
            if "n_conv" not in hparams:
                hp.n_conv = len(v)
        elif k == "dropout":
            hp.dropout = float(v)
        else:
            setattr(hp, k, int(v))
    return hp


def _layers_of_struct(hp):
    lib = _lib.lib()
    buf = (_lib.LayerInfo * _lib.MAX_LAYERS)()
    n = ctypes.c_int()
    _lib.check(lib.dm_arch_layers_of(ctypes.byref(hp), buf, _lib.MAX_LAYERS, ctypes.byref(n)))
    out = []
    for y in buf[:n.value]:
        op = _lib.LAYER_OPS[y.op] if 0 <= y.op < len(_lib.LAYER_OPS) else y.op
        out.append({"op": op, "n": y.n, "k": y.k, "pad": y.pad, "p": float(y.p), "name": y.name.decode(),
                    "len_in": y.len_in, "ch_in": y.ch_in, "len_out": y.len_out, "ch_out": y.ch_out})
    return out


def layers(hparams):
    """The layer list the library builds for `hparams` (a dict as Model.hparams: "arch" and any of
    HPARAM_KEYS), from the architecture table (include/deepmotif.h, dm_arch_layers_of): a list of
    dicts {op ("conv", "relu", "maxpool", "dropout", "gmax", "bilstm", "mean", "dense",
    "logsoftmax"; an int for an op newer than this package), n, k, pad, p, name, len_in, ch_in,
    len_out, ch_out}, shapes per sequence (length, channels)."""
    hp = dict(hparams)
    return _layers_of_struct(hparams_struct(hp.pop("arch"), **hp))


# ---- backends ---------------------------------------------------------------------------------------

class Backend:
    """A compute backend: "cpu", "cuda", "cuda:N" or "auto" (CUDA device 0 when usable, else the CPU).
    threads: CPU worker threads (0: all cores)."""

    def __init__(self, spec="auto", threads=0):
        lib = _lib.lib()
        h = ctypes.c_void_p()
        _lib.check(lib.dm_backend_open(spec.encode(), int(threads), ctypes.byref(h)))
        self._h, self.spec, self.threads = h, spec, threads
        self.lock = threading.Lock()
        self._free = lib.dm_backend_free

    @property
    def name(self):
        """What it runs on, e.g. "cpu: AMD EPYC 7B13, 8 threads"."""
        return _lib.lib().dm_backend_name(self._h).decode("utf-8", "replace")

    def __repr__(self):
        return "deepmotif.Backend(%r)" % self.name

    def __del__(self):
        h = getattr(self, "_h", None)
        if h:
            self._free(h)
            self._h = None


_backends = {}
_backends_lock = threading.Lock()


def backend(device=None, threads=0):
    """The shared Backend of a device spec (opened once per (device, threads)). device None: the
    environment variable DEEPMOTIF_DEVICE, else "auto"."""
    if isinstance(device, Backend):
        return device
    if device is None:
        device = os.environ.get("DEEPMOTIF_DEVICE", "auto")
    key = (device, int(threads))
    with _backends_lock:
        if key not in _backends:
            _backends[key] = Backend(device, threads)
        return _backends[key]


# ---- progress ---------------------------------------------------------------------------------------

ProgressInfo = collections.namedtuple(
    "ProgressInfo", "what done total epoch train_loss valid_loss valid_auroc seconds batch n_batches batch_loss")
ProgressInfo.__doc__ = """One progress report of a long call (include/deepmotif.h's dm_progress). what: "train",
"predict", "saliency", "temporal", "optimize", "motifs"; done of total units (train: epochs finished
of the maximum; optimize: steps; otherwise sequences); seconds since the call started. Training
reports after every batch (batch 1..n_batches of the running `epoch`, its batch_loss) and at every
epoch end (batch 0: the finished `epoch`, train_loss, valid_loss, valid_auroc)."""


class _TextProgress:
    """A one-line progress report on stderr (no dependency): rewritten in place on a terminal, one
    line per epoch of training, and a final newline."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0
        self.open = False

    def __call__(self, p):
        if p.what == "train" and p.batch > 0:
            # inside an epoch: a status line on a terminal (at most twice a second), nothing otherwise
            now = time.monotonic()
            if self.tty and (now - self.last >= 0.5 or p.batch == p.n_batches):
                self.last = now
                self.stream.write("\repoch %d/%d  batch %d/%d  loss %.4f  (%.1f s)" % (
                    p.epoch, p.total, p.batch, p.n_batches, p.batch_loss, p.seconds))
                self.stream.flush()
                self.open = True
            return
        if p.what == "train":
            if self.open:
                self.stream.write("\r\x1b[K")
                self.open = False
            line = "epoch %d/%d  train loss %.4f" % (p.epoch, p.total, p.train_loss)
            if not math.isnan(p.valid_loss):
                line += "  valid loss %.4f  AUROC %.4f" % (p.valid_loss, p.valid_auroc)
            self.stream.write(line + "  (%.1f s)\n" % p.seconds)
            self.stream.flush()
            return
        now = time.monotonic()
        if p.done < p.total and now - self.last < 0.5:
            return
        self.last = now
        pct = 100.0 * p.done / p.total if p.total else 100.0
        line = "%s: %d/%d (%.0f%%) %.1f s" % (p.what, p.done, p.total, pct, p.seconds)
        if self.tty:
            self.stream.write("\r" + line)
            self.open = True
            if p.done >= p.total:
                self.stream.write("\n")
                self.open = False
        elif p.done >= p.total:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        if self.open:
            self.stream.write("\n")
            self.stream.flush()


class _Callback:
    """The C progress callback of one call. `progress`: False/None (none), True (text on stderr) or a
    callable taking a ProgressInfo and returning a true value to cancel (the call then raises
    deepmotif.Cancelled). An exception inside the callable (KeyboardInterrupt included) cancels the
    call and is raised again after it returns."""

    def __init__(self, progress):
        self.user = _TextProgress() if progress is True else (progress or None)
        self.exc = None
        self.fn = _lib.PROGRESS_FN(self._call) if self.user else _lib.PROGRESS_FN()

    def _call(self, ctx, p):
        try:
            q = p.contents
            info = ProgressInfo(q.what.decode() if q.what else "", q.done, q.total, q.epoch,
                                q.train_loss, q.valid_loss, q.valid_auroc, q.seconds, q.batch,
                                q.n_batches, q.batch_loss)
            return 1 if self.user(info) else 0
        except BaseException as e:          # noqa: B902 -- re-raised after the C call returns
            self.exc = e
            return 1

    def finish(self, status):
        if isinstance(self.user, _TextProgress):
            self.user.close()
        if self.exc is not None:
            raise self.exc
        _lib.check(status)


# ---- inputs -----------------------------------------------------------------------------------------

class _In:
    """A dm_input over numpy arrays (kept alive here), from one-hot (N, L, 4), codes (N, L) uint8,
    a list of sequences, or a data set file."""

    def __init__(self, x, length, labels=None, n_quarter=False, need_labels=False):
        self.keep = []
        inp = _lib.Input()
        if isinstance(x, (str, os.PathLike)):
            ds = _data.read(x, length=length, codes=True)
            x = ds.x
            if labels is None:
                labels = ds.labels
        elif not isinstance(x, np.ndarray):
            x = _data.codes(x, length)
        if x.ndim == 2:
            if x.dtype != np.uint8:
                raise TypeError("a 2-D input must be base codes (uint8, DM_BASE_*), got %s" % x.dtype)
            x = np.ascontiguousarray(x)
            inp.codes = x.ctypes.data_as(_lib.c_uint8_p)
            inp.n_quarter = int(bool(n_quarter))
        elif x.ndim == 3 and x.shape[2] == 4:
            x = np.ascontiguousarray(x, dtype=np.float32)      # no copy when it already is
            inp.onehot = x.ctypes.data_as(_lib.c_float_p)
        else:
            raise ValueError("input must be one-hot (N, L, 4), codes (N, L), sequences or a path; "
                             "got shape %s" % (x.shape,))
        if x.shape[1] != length:
            raise ValueError("input length %d, but the model takes length %d" % (x.shape[1], length))
        self.x = x
        inp.n, inp.len = x.shape[0], length
        if labels is not None:
            labels = np.ascontiguousarray(labels, dtype=np.int8)
            if labels.shape != (x.shape[0],):
                raise ValueError("labels must be (N,) = (%d,), got %s" % (x.shape[0], labels.shape))
            inp.labels = labels.ctypes.data_as(_lib.c_int8_p)
            self.keep.append(labels)
        elif need_labels:
            raise ValueError("labels are needed here (pass y= or labels=)")
        self.labels = labels
        self.n = x.shape[0]
        self.c = inp

    def ref(self):
        return ctypes.byref(self.c)


def _out(*shape, out=None):
    """A float32 result array of `shape`: `out` itself when given (it must be C-contiguous float32
    of that shape: the library writes into it), else a new one."""
    if out is None:
        a = np.empty(shape, dtype=np.float32)
    else:
        a = out
        if not (isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == tuple(shape)
                and a.flags.c_contiguous and a.flags.writeable):
            raise ValueError("out must be a writeable C-contiguous float32 array of shape %s" % (shape,))
    return a, a.ctypes.data_as(_lib.c_float_p)


OptimizeResult = collections.namedtuple("OptimizeResult", "ppm x objective p")


# ---- the model --------------------------------------------------------------------------------------

class Model:
    """A deepmotif classifier: Model(arch, length=101, **hparams, seed=1), arch any of
    deepmotif.architectures() ("cnn", "rnn", "cnnrnn", "danq", ...), builds a new one (SPEC.md §2 defaults, parameters initialised from seed); Model.load(path) reads a
    checkpoint written by `deepmotif train` or Model.save. Hyper-parameters: length, n_conv,
    conv_width (a list), conv_channels, pool, hidden, dropout.

    device: "auto" (default, or $DEEPMOTIF_DEVICE), "cpu", "cuda", "cuda:N", or a Backend; every
    method also takes device= for one call. threads: CPU threads (0: all cores).
    """

    def __init__(self, arch="cnn", seed=1, device=None, threads=0, **hparams):
        hp = hparams_struct(arch, **hparams)
        lib = _lib.lib()
        h = ctypes.c_void_p()
        _lib.check(lib.dm_model_create(ctypes.byref(h), ctypes.byref(hp), int(seed)))
        self._init(h, device, threads)

    def _init(self, h, device, threads):
        self._h = h
        self._free = _lib.lib().dm_model_free
        self.device, self.threads = device, threads

    @classmethod
    def load(cls, path, device=None, threads=0):
        """Reads a checkpoint (`deepmotif train`'s model.dmm, or Model.save's)."""
        h = ctypes.c_void_p()
        _lib.check(_lib.lib().dm_model_load(os.fsencode(path), ctypes.byref(h)))
        m = cls.__new__(cls)
        m._init(h, device, threads)
        return m

    def save(self, path):
        """Writes the model atomically, in the format `deepmotif` reads."""
        _lib.check(_lib.lib().dm_model_save(self._h, os.fsencode(path)))

    def __del__(self):
        h = getattr(self, "_h", None)
        if h:
            self._free(h)
            self._h = None

    def _backend(self, device):
        return backend(device if device is not None else self.device, self.threads)

    # ---- description ----

    def _hp(self):
        hp = _lib.Hparams()
        _lib.check(_lib.lib().dm_model_hparams(self._h, ctypes.byref(hp)))
        return hp

    @property
    def arch(self):
        """The architecture's name, one of deepmotif.architectures()."""
        return _lib.lib().dm_arch_name(self._hp().arch).decode()

    @property
    def length(self):
        return self._hp().len

    @property
    def hparams(self):
        """The hyper-parameters as a dict (arch, length, n_conv, conv_width, conv_channels, pool,
        hidden, dropout)."""
        hp = self._hp()
        return {"arch": self.arch, "length": hp.len, "n_conv": hp.n_conv,
                "conv_width": [hp.conv_width[i] for i in range(hp.n_conv)],
                "conv_channels": hp.conv_channels, "pool": hp.pool, "hidden": hp.hidden,
                "dropout": float(hp.dropout)}

    @property
    def layers(self):
        """The model's layer list, from the library's architecture table (deepmotif.layers)."""
        return _layers_of_struct(self._hp())

    def _descs(self):
        lib = _lib.lib()
        n = ctypes.c_int32()
        _lib.check(lib.dm_model_n_tensors(self._h, ctypes.byref(n), None))
        out = []
        for i in range(n.value):
            d = _lib.TensorDesc()
            _lib.check(lib.dm_model_tensor_at(self._h, i, ctypes.byref(d)))
            out.append((d.name.decode(), tuple(d.shape[j] for j in range(d.ndim))))
        return out

    @property
    def params(self):
        """Parameter tensors by name (PyTorch's names, deepmotif's layout: conv weights
        (C_out, K, C_in)), as new float32 arrays (a copy: changing them changes nothing; assign a
        dict back, or call set_params, to change the model)."""
        lib = _lib.lib()
        out = {}
        for name, shape in self._descs():
            a = np.empty(shape, dtype=np.float32)
            _lib.check(lib.dm_model_tensor(self._h, name.encode(), a.ctypes.data_as(_lib.c_float_p), a.size))
            out[name] = a
        return out

    @params.setter
    def params(self, values):
        self.set_params(values)

    def set_params(self, values, strict=True):
        """Sets parameter tensors from a dict name -> array (shapes as in .params). strict: every
        tensor must be given."""
        lib = _lib.lib()
        shapes = dict(self._descs())
        unknown = set(values) - set(shapes)
        if unknown:
            raise KeyError("no tensor(s) %s in this %s model; it has %s"
                           % (", ".join(sorted(unknown)), self.arch, ", ".join(shapes)))
        if strict and set(shapes) - set(values):
            raise KeyError("missing tensor(s): %s" % ", ".join(sorted(set(shapes) - set(values))))
        for name, v in values.items():
            a = np.ascontiguousarray(v, dtype=np.float32)
            if a.shape != shapes[name]:
                raise ValueError("%s: shape %s, the model's is %s" % (name, a.shape, shapes[name]))
            _lib.check(lib.dm_model_set_tensor(self._h, name.encode(), a.ctypes.data_as(_lib.c_float_p), a.size))

    @property
    def provenance(self):
        """The provenance record (dict): version, training protocol, device, inputs with SHA-256,
        epoch log, metrics."""
        s = ctypes.c_char_p()
        _lib.check(_lib.lib().dm_model_provenance(self._h, ctypes.byref(s)))
        return json.loads(s.value.decode("utf-8", "replace")) if s.value else {}

    @property
    def history(self):
        """The training log (list of dicts: epoch, lr, train_loss, valid_loss, valid_auroc, seconds)."""
        return self.provenance.get("log", [])

    def __repr__(self):
        hp = self.hparams
        return "deepmotif.Model(%r, %s)" % (hp.pop("arch"), ", ".join("%s=%r" % kv for kv in hp.items()))

    # ---- training ----

    def train(self, x, y=None, valid=None, valid_frac=0.1, epochs=None, batch=None, lr=None,
              lr_halve_every=None, clip=5.0, patience=None, protocol="default", seed=1, negatives=None,
              rc=None, ema=None, restarts=None, fresh_negatives=None, device=None, progress=False):
        """Trains the model in place and returns it.

        x: one-hot (N, L, 4), codes (N, L) uint8, a list of sequences (labels y, 1 bound / 0 unbound),
        or a data set file (its labels; `negatives="shuffle"` adds a dinucleotide shuffle of every
        positive, as `deepmotif train --negatives shuffle`). valid: (x, y) for validation, or None to
        hold out valid_frac: of a file, by pair (a positive and its shuffle stay together, as the CLI
        does); of arrays, rows drawn with `seed`. protocol "default" (early stopping on validation
        AUROC with patience, counting the loss too below about 536 validation sequences, best weights
        kept) or "original" (DeMo's loop). epochs, batch, lr,
        lr_halve_every, patience: None leaves them to the training set's size, as the CLI does
        (README "Training protocols": 50, 256, 0.01, 10, 5 on large sets; smaller batches, lr
        0.01 x batch / 256 and a schedule counted in optimiser steps on small ones). progress: True for a line
        per epoch on stderr (and a status line per batch on a terminal), or a callable(ProgressInfo)
        -> cancel?, called after every batch (info.batch >= 1) and at every epoch end (info.batch
        0); a cancel, even inside an epoch, leaves the model as it was. rc: reverse complements,
        "both" (train on both strands and score a sequence as the mean P of both: None's choice under
        the default protocol), "augment", "average" or "none" (None's choice under "original"); the
        model keeps it (README "Reverse complements"). ema: the weights' moving average that
        validation, selection and the kept weights use (decay per step; 0 the weights themselves;
        None: by the set's size, 0.999 from 4,096 to 8,191 sequences except the RNN). restarts: how
        often a dead start (a run that learned nothing: README "Training protocols") is trained again
        from new weights (None: 2 under the default protocol, 0 under "original"). fresh_negatives:
        True gives, from the second epoch on, every training negative that follows a positive it is a
        dinucleotide shuffle of (as `negatives="shuffle"` makes them) a new shuffle of that positive
        each epoch, as `deepmotif train --fresh-negatives` (README "Fresh negatives"; an error where
        no negative is such a shuffle); False trains on the negatives as given; None (the default)
        is True where some negative is such a shuffle under the default protocol, else False."""
        if protocol not in PROTOCOLS:
            raise ValueError("protocol must be one of %s" % ", ".join(PROTOCOLS))
        lib = _lib.lib()
        L = self.length
        o = _lib.TrainOpts()
        lib.dm_train_opts_default(ctypes.byref(o))
        o.protocol, o.clip, o.seed = PROTOCOLS[protocol], clip, int(seed)
        o.fresh_negatives = -1 if fresh_negatives is None else 1 if fresh_negatives else 0
        for name, v in (("epochs", epochs), ("batch", batch), ("lr", lr), ("lr_halve_every", lr_halve_every),
                        ("patience", patience), ("ema", ema), ("restarts", restarts)):
            if v is not None:   # None: the library's -1, by the training set's size
                setattr(o, name, v)
        if rc is not None:
            if rc not in RC_MODES:
                raise ValueError("rc must be one of %s (or None: the default)" % ", ".join(RC_MODES))
            o.rc = RC_MODES.index(rc)
        if protocol == "original":
            valid_frac = 0.0
        cleanup = []
        try:
            if isinstance(x, (str, os.PathLike)):
                if y is not None:
                    raise ValueError("y comes from the file: pass either a path or arrays")
                tr, va = self._split_file(x, L, negatives, valid_frac if valid is None else 0.0, seed, cleanup)
                if valid is not None:
                    va = _In(valid[0], L, valid[1], need_labels=True) if isinstance(valid, tuple) \
                        else _In(valid, L, need_labels=True)
            else:
                if y is None:
                    raise ValueError("labels y are needed to train on arrays")
                if valid is None and valid_frac > 0:
                    x, y, vx, vy = _split_arrays(x, y, valid_frac, seed)
                    va = _In(vx, L, vy, need_labels=True)
                elif valid is not None:
                    va = _In(valid[0], L, valid[1], need_labels=True)
                else:
                    va = None
                tr = _In(x, L, y, need_labels=True)
            be = self._backend(device)
            cb = _Callback(progress)
            with be.lock:
                status = lib.dm_train(self._h, be._h, tr.ref(), va.ref() if va else None,
                                      ctypes.byref(o), cb.fn, None)
            cb.finish(status)
        finally:
            for ds in cleanup:
                lib.dm_dataset_free(ctypes.byref(ds))
        return self

    @staticmethod
    def _split_file(path, L, negatives, valid_frac, seed, cleanup):
        """The CLI's data path: read, optional shuffled negatives, split by pair."""
        lib = _lib.lib()
        raw = _lib.Dataset()
        cleanup.append(raw)
        _lib.check(lib.dm_dataset_read(ctypes.byref(raw), os.fsencode(path), 0, L))
        full = raw
        if negatives == "shuffle":
            full = _lib.Dataset()
            cleanup.append(full)
            _lib.check(lib.dm_dataset_with_shuffled_negatives(ctypes.byref(full), ctypes.byref(raw), int(seed)))
        elif negatives is not None:
            raise ValueError("negatives must be None (the file's) or \"shuffle\"")
        tr_ds, va_ds = _lib.Dataset(), _lib.Dataset()
        cleanup += [tr_ds, va_ds]
        _lib.check(lib.dm_dataset_split(ctypes.byref(full), float(valid_frac), int(seed),
                                        ctypes.byref(tr_ds), ctypes.byref(va_ds)))
        ins = []
        for ds in (tr_ds, va_ds):
            if ds.n == 0:
                ins.append(None)
                continue
            i = _In.__new__(_In)
            i.keep, i.c = [], _lib.Input()
            _lib.check(lib.dm_input_from_dataset(ctypes.byref(ds), ctypes.byref(i.c)))
            ins.append(i)
        return ins[0], ins[1]

    # ---- analyses ----

    def predict(self, x, device=None, progress=False, n_quarter=False, out=None):
        """P(bound) (N,) float32 of one-hot (N, L, 4), codes (N, L), sequences or a file; evaluation
        mode. The numbers of `deepmotif predict`. out: an (N,) float32 array to write into."""
        inp = _In(x, self.length, n_quarter=n_quarter)
        scores, sp = _out(inp.n, out=out)
        be = self._backend(device)
        cb = _Callback(progress)
        with be.lock:
            status = _lib.lib().dm_predict(self._h, be._h, inp.ref(), sp, cb.fn, None)
        cb.finish(status)
        return scores

    def saliency(self, x, method="grad", target="pos", labels=None, center=False, steps=64,
                 shuffle_baseline=False, batch=256, seed=1, return_p=False, device=None,
                 progress=False, n_quarter=False, out=None):
        """Attribution maps (N, L, 4) float32: the numbers of `deepmotif saliency --layout nlc`.

        method: "grad" (∂S/∂X, signed), "grad-x-input", "original" (DeMo's |∂NLL/∂X| ⊙ X, needs
        labels), "ig" (integrated gradients, `steps`, zero or shuffled baselines), "ism" (in-silico
        mutagenesis: S(mutant) − S(X)). target: "pos" (S = log P(bound)) or "label" (log P(true
        label), needs labels). center: mean-centre over the four bases (TF-MoDISco's hypothetical
        contributions). return_p: also return P(bound) (N,). out: an (N, L, 4) float32 array to
        write into (reused across calls, it saves allocating and first touching the result)."""
        if method not in METHODS:
            raise ValueError("method must be one of %s" % ", ".join(METHODS))
        if target not in TARGETS:
            raise ValueError("target must be one of %s" % ", ".join(TARGETS))
        lib = _lib.lib()
        inp = _In(x, self.length, labels, n_quarter=n_quarter,
                  need_labels=(method == "original" or target == "label"))
        o = _lib.SaliencyOpts()
        lib.dm_saliency_opts_default(ctypes.byref(o))
        o.method, o.target, o.center, o.steps = METHODS[method], TARGETS[target], int(bool(center)), steps
        o.shuffle_baseline, o.batch, o.seed = int(bool(shuffle_baseline)), batch, int(seed)
        attr, ap = _out(inp.n, self.length, 4, out=out)
        p, pp = _out(inp.n) if return_p else (None, None)
        be = self._backend(device)
        cb = _Callback(progress)
        with be.lock:
            status = lib.dm_saliency(self._h, be._h, inp.ref(), ctypes.byref(o), ap, pp, cb.fn, None)
        cb.finish(status)
        return (attr, p) if return_p else attr

    def temporal(self, x, device=None, progress=False, n_quarter=False):
        """Temporal output scores (RNN, CNN-RNN): (fwd, bwd), each (N, L): fwd[:, i] = P(bound) on
        positions 0..i, bwd[:, i] = on positions i..L-1."""
        inp = _In(x, self.length, n_quarter=n_quarter)
        fwd, fp = _out(inp.n, self.length)
        bwd, bp = _out(inp.n, self.length)
        be = self._backend(device)
        cb = _Callback(progress)
        with be.lock:
            status = _lib.lib().dm_temporal(self._h, be._h, inp.ref(), fp, bp, cb.fn, None)
        cb.finish(status)
        return fwd, bwd

    def optimize(self, restarts=1, steps=1000, lr=0.05, lambda_=0.009, softmax=True, seed=1,
                 device=None, progress=False, report_every=10):
        """Class optimisation (SPEC.md §6.3): the input the model finds most "bound". Returns
        OptimizeResult(ppm (R, L, 4), x (R, L, 4) raw inputs, objective (steps + 1, R), p (R)).
        progress: True for a status line on stderr, or a callable(ProgressInfo) -> cancel?, called
        every report_every steps and after the last (done = steps made)."""
        lib = _lib.lib()
        o = _lib.OptimizeOpts()
        lib.dm_optimize_opts_default(ctypes.byref(o))
        o.restarts, o.steps, o.lr, o.lambda_ = restarts, steps, lr, lambda_
        o.softmax, o.seed, o.report_every = int(bool(softmax)), int(seed), int(report_every)
        L = self.length
        ppm, a = _out(restarts, L, 4)
        xr, b = _out(restarts, L, 4)
        obj, c = _out(steps + 1, restarts)
        p, d = _out(restarts)
        be = self._backend(device)
        cb = _Callback(progress)
        with be.lock:
            status = lib.dm_optimize(self._h, be._h, ctypes.byref(o), a, b, c, d, cb.fn, None)
        cb.finish(status)
        return OptimizeResult(ppm, xr, obj, p)

    def filters(self):
        """First-layer convolution filters (C, K, 4) float32 (channels A C G T), i.e. conv1.weight;
        the model's motif detectors. ValueError for the RNN, which has none."""
        params = self.params
        if "conv1.weight" not in params:
            raise ValueError("a %s model has no convolution filters" % self.arch)
        return params["conv1.weight"]

    def motifs(self, x, frac=0.5, min_sites=10, batch=256, device=None, progress=False):
        """First-layer filters as motifs from their activations over x (`deepmotif motifs`): a list of
        dicts {id, name, ppm (w, 4), nsites}, one per filter with at least min_sites sites
        (deepmotif.write_meme writes them for Tomtom)."""
        lib = _lib.lib()
        inp = _In(x, self.length)
        o = _lib.MotifsOpts()
        lib.dm_motifs_opts_default(ctypes.byref(o))
        o.frac, o.min_sites, o.batch = frac, min_sites, batch
        s = _lib.MotifSet()
        be = self._backend(device)
        cb = _Callback(progress)
        with be.lock:
            status = lib.dm_motifs(self._h, be._h, inp.ref(), ctypes.byref(o), ctypes.byref(s), cb.fn, None)
        try:
            cb.finish(status)
            return _data.motifs_from_c(s)
        finally:
            lib.dm_motif_set_free(ctypes.byref(s))

    # ---- PyTorch ----

    def to_torch(self):
        """An equivalent torch.nn.Module (deepmotif.torch.to_torch): input (B, L, 4), output the
        log-softmax (B, 2), class order (bound, unbound). Imports torch."""
        from . import torch as _t
        return _t.to_torch(self)

    @classmethod
    def from_torch(cls, module, **kw):
        """The reverse of to_torch (deepmotif.torch.from_torch)."""
        from . import torch as _t
        return _t.from_torch(module, **kw)


def _split_arrays(x, y, frac, seed):
    """Rows drawn for validation (about frac of them, at least one of each class where there are two),
    seeded."""
    x = x if isinstance(x, np.ndarray) else _data.codes(x)
    y = np.asarray(y)
    n = len(y)
    rng = np.random.default_rng(seed)
    k = max(1, int(round(frac * n)))
    idx = rng.permutation(n)
    va, tr = np.sort(idx[:k]), np.sort(idx[k:])
    return x[tr], y[tr], x[va], y[va]
