"""data.py: sequences as arrays. One-hot encoding (pure numpy, the engine's encoding), reading data
sets through the engine's reader, and the engine's exact dinucleotide shuffle."""

import ctypes
import os

import numpy as np

from . import _lib

BASE_A, BASE_C, BASE_G, BASE_T, BASE_N, BASE_PAD = 0, 1, 2, 3, 4, 5   # DM_BASE_* of deepmotif.h

# byte -> code, 255 = invalid; the engine's table (host/data.c): ACGT either case, N and the IUPAC
# ambiguity codes -> N.
_CODE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate("ACGT"):
    _CODE[ord(_c)] = _CODE[ord(_c.lower())] = _i
for _c in "NRYSWKMBDHV":
    _CODE[ord(_c)] = _CODE[ord(_c.lower())] = BASE_N

# code -> one-hot row: A C G T, then N (zero row) and padding (zero row)
_ROWS = np.zeros((6, 4), dtype=np.float32)
_ROWS[np.arange(4), np.arange(4)] = 1.0
_ROWS_QUARTER = _ROWS.copy()
_ROWS_QUARTER[BASE_N] = 0.25

FORMATS = {"auto": 0, "deepbind": 1, "labelled-fasta": 2, "fasta": 3, "tsv": 4}
_FORMAT_NAME = {v: k for k, v in FORMATS.items()}


def _as_list(seqs):
    if isinstance(seqs, (str, bytes)):
        return [seqs]
    return list(seqs)


def codes(seqs, length=None):
    """Base codes (N, L) uint8 of a sequence or a list of sequences (str or bytes): A C G T -> 0..3,
    N and IUPAC ambiguity codes -> 4 (DM_BASE_N), right padding -> 5 (DM_BASE_PAD). L is `length`, or
    the longest sequence; longer sequences keep their first L bases, as the engine's reader does.
    Any other character raises ValueError naming the sequence and position."""
    seqs = _as_list(seqs)
    raw = [s.encode("ascii", "replace") if isinstance(s, str) else bytes(s) for s in seqs]
    if length is None:
        length = max((len(r) for r in raw), default=0)
    out = np.full((len(raw), length), BASE_PAD, dtype=np.uint8)
    for i, r in enumerate(raw):
        c = _CODE[np.frombuffer(r, dtype=np.uint8)]
        bad = np.flatnonzero(c == 255)
        if bad.size:
            j = int(bad[0])
            raise ValueError("sequence %d, position %d: invalid base %r" % (i, j + 1, r[j:j + 1].decode("latin-1")))
        n = min(len(c), length)
        out[i, :n] = c[:n]
    return out


def onehot(seqs, length=None, n_quarter=False):
    """One-hot encoding (N, L, 4) float32, channels A C G T, of a sequence or a list of sequences, as
    the engine encodes them: N and IUPAC codes a zero row (0.25 per base with n_quarter, the CLI's
    --n-policy quarter), right padding of shorter sequences a zero row. Also accepts base codes
    (an (N, L) uint8 array from codes() or read(..., codes=True))."""
    if isinstance(seqs, np.ndarray) and seqs.dtype == np.uint8 and seqs.ndim == 2:
        c = seqs
        if c.size and c.max() > BASE_PAD:
            raise ValueError("base codes must be 0..5 (DM_BASE_*), found %d" % int(c.max()))
    else:
        c = codes(seqs, length)
    return (_ROWS_QUARTER if n_quarter else _ROWS)[c]


def decode(x):
    """Sequences (list of str) of one-hot rows (N, L, 4) or codes (N, L): the argmax base of a
    one-hot row, N for an all-zero or uniform row; padding (code 5) is dropped."""
    x = np.asarray(x)
    if x.ndim == 3:
        c = x.argmax(axis=2).astype(np.uint8)
        c[(x.max(axis=2) - x.min(axis=2)) <= 0] = BASE_N
    else:
        c = x.astype(np.uint8)
    letters = np.frombuffer(b"ACGTN\0", dtype=np.uint8)
    return [letters[row].tobytes().replace(b"\0", b"").decode("ascii") for row in c]


class Dataset:
    """A data set read by the engine: x (N, L, 4) float32 one-hot (or codes (N, L) uint8), labels
    (N) int8 (1 bound, 0 unbound, -1 unknown), ids (list of str), groups (N) int64 (a positive and
    its shuffle share one), format (str), and the reader's counts n_padded, n_truncated,
    n_ambiguous. Iterates as (x, labels, ids)."""

    def __init__(self, x, labels, ids, groups, fmt, counts):
        self.x, self.labels, self.ids, self.groups, self.format = x, labels, ids, groups, fmt
        self.n_padded, self.n_truncated, self.n_ambiguous = counts

    def __iter__(self):
        return iter((self.x, self.labels, self.ids))

    def __len__(self):
        return len(self.labels)


def _from_c(ds, as_codes, n_quarter):
    n, L = ds.n, ds.len
    c = np.ctypeslib.as_array(ds.seq, shape=(n, L)).copy() if n else np.zeros((0, L), np.uint8)
    labels = np.ctypeslib.as_array(ds.label, shape=(n,)).copy() if n else np.zeros(0, np.int8)
    groups = np.ctypeslib.as_array(ds.group, shape=(n,)).copy() if n else np.zeros(0, np.int64)
    ids = [ds.id[i].decode("utf-8", "replace") for i in range(n)]
    x = c if as_codes else onehot(c, n_quarter=n_quarter)
    return Dataset(x, labels, ids, groups, _FORMAT_NAME.get(ds.format, str(ds.format)),
                   (ds.n_padded, ds.n_truncated, ds.n_ambiguous))


def read(path, length=101, format="auto", codes=False, n_quarter=False):
    """Reads a data set (DeepBind TSV, labelled FASTA, FASTA or two-column TSV; gzip or plain) with
    the engine's reader: every sequence padded or truncated to `length`. Returns a Dataset, which
    unpacks as (x, labels, ids): x the one-hot (N, L, 4) float32 (codes (N, L) uint8 with
    codes=True), labels (N) int8, ids a list of str. Bad input raises deepmotif.Error naming the
    file and line."""
    if format not in FORMATS:
        raise ValueError("format must be one of %s" % ", ".join(FORMATS))
    lib = _lib.lib()
    ds = _lib.Dataset()
    _lib.check(lib.dm_dataset_read(ctypes.byref(ds), os.fsencode(path), FORMATS[format], int(length)))
    try:
        return _from_c(ds, codes, n_quarter)
    finally:
        lib.dm_dataset_free(ctypes.byref(ds))


def dinucleotide_shuffle(seqs, seed=1, row0=0):
    """Exact Altschul-Erickson dinucleotide shuffles (the engine's dm_dinuc_shuffle): the same
    dinucleotide counts, first and last letter, every such sequence equally likely. Deterministic in
    (seed, row): sequence i is shuffled as row row0 + i. Accepts a str, a list of str (returns the
    same), codes (N, L) uint8, or one-hot (N, L, 4) (shuffles the codes of each row's unpadded
    prefix and returns one-hot)."""
    lib = _lib.lib()

    def one(buf, row):
        n = len(buf)
        src = (ctypes.c_uint8 * n).from_buffer_copy(buf)
        dst = (ctypes.c_uint8 * n)()
        lib.dm_dinuc_shuffle(dst, src, n, int(seed) & (2**64 - 1), int(row))
        return bytes(dst)

    if isinstance(seqs, str):
        return one(seqs.encode("ascii"), row0).decode("ascii")
    if isinstance(seqs, np.ndarray) and seqs.ndim in (2, 3):
        is_onehot = seqs.ndim == 3
        c = np.ascontiguousarray(onehot_to_codes(seqs) if is_onehot else seqs, dtype=np.uint8)
        out = c.copy()
        for i in range(c.shape[0]):
            keep = int(np.sum(c[i] != BASE_PAD)) if not is_onehot else _unpadded(c[i])
            out[i, :keep] = np.frombuffer(one(c[i, :keep].tobytes(), row0 + i), dtype=np.uint8)
        return onehot(out) if is_onehot else out
    return [one(s.encode("ascii"), row0 + i).decode("ascii") for i, s in enumerate(_as_list(seqs))]


def _unpadded(c):
    """Length of a row of codes without its trailing zero rows (N or padding)."""
    nz = np.flatnonzero(c < BASE_N)
    return int(nz[-1]) + 1 if nz.size else 0


def onehot_to_codes(x):
    """Codes (N, L) uint8 of one-hot rows (N, L, 4): argmax base, BASE_N for a zero or uniform row."""
    x = np.asarray(x)
    c = x.argmax(axis=2).astype(np.uint8)
    c[(x.max(axis=2) - x.min(axis=2)) <= 0] = BASE_N
    return c


def read_meme(path):
    """Every motif of a MEME file (gzip or plain), through the engine's reader: a list of dicts
    {id, name, ppm (w, 4) float32 rows A C G T, nsites}."""
    lib = _lib.lib()
    s = _lib.MotifSet()
    _lib.check(lib.dm_meme_read(os.fsencode(path), ctypes.byref(s)))
    try:
        return motifs_from_c(s)
    finally:
        lib.dm_motif_set_free(ctypes.byref(s))


def motifs_from_c(s):
    out = []
    for i in range(s.n):
        m = s.m[i]
        ppm = np.ctypeslib.as_array(m.p, shape=(m.w, 4)).copy() if m.w else np.zeros((0, 4), np.float32)
        out.append({"id": m.id.decode(), "name": m.name.decode(), "ppm": ppm, "nsites": m.nsites})
    return out


def write_meme(path, motifs):
    """Writes motifs (dicts with id, ppm (w, 4), optional name and nsites, e.g. Model.motifs' list)
    as a MEME version 4 file, atomically, with the engine's writer (what Tomtom or `deepmotif compare`
    read)."""
    n = len(motifs)
    arr = (_lib.Motif * max(n, 1))()
    keep = []
    for i, mo in enumerate(motifs):
        ppm = np.ascontiguousarray(mo["ppm"], dtype=np.float32)
        if ppm.ndim != 2 or ppm.shape[1] != 4 or ppm.shape[0] < 1:
            raise ValueError("motif %d: ppm must be (w, 4) with w >= 1, got %s" % (i, ppm.shape))
        keep.append(ppm)
        arr[i].id = str(mo["id"]).encode()[:127]
        arr[i].name = str(mo.get("name", "")).encode()[:127]
        arr[i].w = ppm.shape[0]
        arr[i].p = ppm.ctypes.data_as(_lib.c_float_p)
        arr[i].nsites = int(mo.get("nsites", 0))
    s = _lib.MotifSet(n, arr)
    _lib.check(_lib.lib().dm_meme_write(os.fsencode(path), ctypes.byref(s)))
