"""onehot / codes / read / dinucleotide_shuffle against the engine's reader and shuffle."""

import collections
import gzip

import numpy as np
import pytest

import deepmotif
from deepmotif import data


def test_onehot_encoding():
    x = deepmotif.onehot(["ACGTN", "acgtr", "AC"])
    assert x.shape == (3, 5, 4) and x.dtype == np.float32
    eye = np.eye(4, dtype=np.float32)
    for i in (0, 1):
        np.testing.assert_array_equal(x[i, :4], eye)       # A C G T, upper and lower case
        np.testing.assert_array_equal(x[i, 4], 0)           # N and IUPAC: zero row
    np.testing.assert_array_equal(x[2, 2:], 0)              # right padding: zero rows
    q = deepmotif.onehot("ACGTN", n_quarter=True)
    np.testing.assert_array_equal(q[0, 4], 0.25)
    assert deepmotif.onehot(["ACGTACGT"], length=3).shape == (1, 3, 4)   # truncated, as the reader


def test_onehot_rejects_bad_bases():
    with pytest.raises(ValueError, match="sequence 1, position 3: invalid base 'X'"):
        deepmotif.onehot(["ACGT", "ACXT"])


def test_codes_and_decode_roundtrip():
    seqs = ["ACGTNACGT", "TTTT"]
    c = deepmotif.codes(seqs)
    assert c.dtype == np.uint8 and c.shape == (2, 9)
    assert list(c[1, 4:]) == [data.BASE_PAD] * 5
    assert deepmotif.decode(c) == seqs
    assert deepmotif.decode(deepmotif.onehot(seqs))[0] == seqs[0]


def _write_fasta(path, recs):
    with gzip.open(path, "wt") if str(path).endswith(".gz") else open(path, "w") as f:
        for h, s in recs:
            f.write(">%s\n%s\n" % (h, s))


def test_read_matches_onehot(lib, tmp_path, rng):
    """The engine's reader and the pure-numpy encoder agree, N, IUPAC, lower case, padding and
    truncation included."""
    seqs = []
    for i in range(50):
        n = int(rng.integers(20, 40))
        s = "".join(rng.choice(list("ACGTacgtNRYn"), size=n))
        seqs.append(s)
    p = tmp_path / "x.fa.gz"
    _write_fasta(p, [("%d" % (i % 2), s) for i, s in enumerate(seqs)])     # labelled FASTA: >1 / >0
    ds = deepmotif.read(p, length=30)
    x, labels, ids = ds
    np.testing.assert_array_equal(x, deepmotif.onehot(seqs, length=30))
    np.testing.assert_array_equal(labels, [i % 2 for i in range(50)])
    assert len(ids) == 50 and ds.format == "labelled-fasta"
    assert ds.n_truncated == sum(len(s) > 30 for s in seqs)
    assert ds.n_padded == sum(len(s) < 30 for s in seqs)
    c = deepmotif.read(p, length=30, codes=True).x
    np.testing.assert_array_equal(c, deepmotif.codes(seqs, length=30))
    q = deepmotif.read(p, length=30, n_quarter=True).x
    np.testing.assert_array_equal(q, deepmotif.onehot(seqs, length=30, n_quarter=True))


def test_read_error_names_file_and_line(lib, tmp_path):
    p = tmp_path / "bad.fa"
    p.write_text(">1\nACGT\n>0\nACJT\n")
    with pytest.raises(deepmotif.Error) as e:
        deepmotif.read(p, length=4)
    assert "bad.fa:4" in str(e.value) and e.value.status == "format"
    with pytest.raises(deepmotif.Error) as e:
        deepmotif.read(tmp_path / "missing.fa")
    assert "missing.fa" in str(e.value) and e.value.status == "io"


def _dinucs(s):
    return collections.Counter(s[i:i + 2] for i in range(len(s) - 1))


def test_dinucleotide_shuffle(lib, rng):
    seqs = ["".join(rng.choice(list("ACGT"), size=60)) for _ in range(20)]
    out = deepmotif.dinucleotide_shuffle(seqs, seed=5)
    assert out == deepmotif.dinucleotide_shuffle(seqs, seed=5)          # deterministic
    assert out != deepmotif.dinucleotide_shuffle(seqs, seed=6)
    assert sum(a != b for a, b in zip(seqs, out)) >= 18                 # 60-mers: almost never fixed
    for s, t in zip(seqs, out):
        assert _dinucs(s) == _dinucs(t) and s[0] == t[0] and s[-1] == t[-1]
    # row i of a list is shuffled as row row0 + i: one sequence alone at row 3 = item 3 of the list
    assert deepmotif.dinucleotide_shuffle(seqs[3], seed=5, row0=3) == out[3]
    # codes and one-hot give the same shuffles as strings
    c = deepmotif.codes(seqs)
    assert deepmotif.decode(deepmotif.dinucleotide_shuffle(c, seed=5)) == out
    assert deepmotif.decode(deepmotif.dinucleotide_shuffle(deepmotif.onehot(seqs), seed=5)) == out


def test_library_not_found_is_clear(monkeypatch, tmp_path):
    from deepmotif import _lib
    monkeypatch.setattr(_lib, "_lib", None)
    monkeypatch.setenv("DEEPMOTIF_LIB", str(tmp_path / "nope.so"))
    with pytest.raises(deepmotif.Error, match="DEEPMOTIF_LIB"):
        _lib.lib()


def test_metrics(lib):
    assert deepmotif.auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert deepmotif.auprc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx((1 + 2 / 3) / 2)


def test_auroc_paired(lib):
    # placements by hand: y = 1 1 1 0 0 0; with a, the positives 0.9, 0.8, 0.3 outscore 3, 3, 2 of the
    # negatives 0.4, 0.2, 0.1 (V10 = 1, 1, 2/3), which are outscored by 2, 3, 3 positives (V01 = 2/3,
    # 1, 1); b lifts the third positive above every negative (V10 = V01 = 1, 1, 1): AUROC 8/9 and 1
    y = [1, 1, 1, 0, 0, 0]
    a = [0.9, 0.8, 0.3, 0.4, 0.2, 0.1]
    b = [0.9, 0.8, 0.5, 0.4, 0.2, 0.1]
    r = deepmotif.auroc_paired(a, b, y)
    assert (r["n_pos"], r["n_neg"]) == (3, 3)
    assert r["auroc_a"] == pytest.approx(8 / 9) and r["auroc_b"] == pytest.approx(1.0)
    # var = var(V10_a - V10_b)/3 + var(V01_a - V01_b)/3 = var(0, 0, -1/3)/3 + var(-1/3, 0, 0)/3,
    # each sample variance (n - 1) 1/27: var = 2/81
    assert r["diff"] == pytest.approx(-1 / 9) and r["se"] == pytest.approx((2 / 81) ** 0.5)
    assert r["ci95"][0] < r["diff"] < r["ci95"][1] and 0 < r["p"] < 1
    with pytest.raises(deepmotif.Error, match="at least 2 bound and 2 unbound"):
        deepmotif.auroc_paired([0.1, 0.2, 0.3], [0.1, 0.2, 0.3], [1, 0, 0])
