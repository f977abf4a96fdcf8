"""deepmotif.Model over the public C API, checked against the `deepmotif` program on the same
checkpoint: predict, saliency, temporal; save/load; parameters; errors; progress and cancellation."""

import os
import threading
import time

import numpy as np
import pytest

import deepmotif

from conftest import run_cli, random_onehot

SMALL = {"cnn": dict(conv_width=[9, 5], conv_channels=16),
         "rnn": dict(hidden=8),
         "cnnrnn": dict(conv_channels=12, hidden=8)}


def small(arch, seed=3, **kw):
    return deepmotif.Model(arch, seed=seed, device="cpu", threads=1, **dict(SMALL[arch], **kw))


def load_npy_nlc(prefix):
    return np.load(str(prefix) + ".npy")


def test_create_and_params(api):
    m = deepmotif.Model("cnnrnn", device="cpu")
    hp = m.hparams
    assert hp["arch"] == "cnnrnn" and hp["length"] == 101 and hp["conv_channels"] == 128
    p = m.params
    assert p["conv1.weight"].shape == (128, 9, 4)                 # (C_out, K, C_in)
    assert p["lstm.fwd.weight_ih"].shape == (4 * 32, 128)
    assert p["fc.weight"].shape == (2, 64)
    # SPEC.md §4: b_ih[forget] = 1, everything else of the biases 0
    b = p["lstm.bwd.bias_ih"]
    np.testing.assert_array_equal(b[32:64], 1)
    assert m.filters().shape == (128, 9, 4)
    with pytest.raises(ValueError, match="no convolution"):
        deepmotif.Model("rnn").filters()
    with pytest.raises(TypeError, match="unknown hyper-parameter"):
        deepmotif.Model("cnn", widths=[3])
    with pytest.raises(deepmotif.Error) as e:
        deepmotif.Model("transformer")
    assert e.value.status == "arg" and "transformer" in str(e.value)


def test_architectures_and_layers(api):
    """deepmotif.architectures() is the library's table; every name builds a model whose layer list
    (from the library) names exactly its parameter tensors."""
    archs = deepmotif.architectures()
    lib = api
    assert archs == tuple(lib.dm_arch_name(i).decode() for i in range(lib.dm_arch_count()))
    assert archs[:4] == ("cnn", "rnn", "cnnrnn", "danq")
    assert deepmotif.ARCHS == archs
    for a in archs:
        m = deepmotif.Model(a, length=60, conv_channels=16, hidden=8, device="cpu")
        assert m.arch == a
        layers = m.layers
        assert layers == deepmotif.layers(m.hparams)
        assert layers[0]["len_in"] == 60 and layers[0]["ch_in"] == 4
        for prev, y in zip(layers, layers[1:]):
            assert (y["len_in"], y["ch_in"]) == (prev["len_out"], prev["ch_out"]), (a, y)
        assert [y["op"] for y in layers[-2:]] == ["dense", "logsoftmax"] and layers[-2]["n"] == 2
        names = []
        for y in layers:
            if y["op"] in ("conv", "dense"):
                names += [y["name"] + ".weight", y["name"] + ".bias"]
            elif y["op"] == "bilstm":
                names += ["%s.%s.%s" % (y["name"], d, k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                          for d in ("fwd", "bwd")]
        assert names == [n for n, _ in m._descs()], a
    with pytest.raises(deepmotif.Error, match="too short"):
        deepmotif.layers({"arch": "cnn", "length": 5})
    with pytest.raises(deepmotif.Error, match="unknown architecture"):
        deepmotif.layers({"arch": "transformer"})


def test_set_params_and_save_load(api, tmp_path, rng):
    m = small("cnn")
    p = m.params
    p["fc.bias"] = np.array([0.25, -0.5], np.float32)
    m.params = p
    np.testing.assert_array_equal(m.params["fc.bias"], [0.25, -0.5])
    with pytest.raises(ValueError, match="shape"):
        m.set_params({"fc.bias": np.zeros(3)}, strict=False)
    with pytest.raises(KeyError, match="no tensor"):
        m.set_params({"conv9.weight": np.zeros(3)}, strict=False)
    path = tmp_path / "m.dmm"
    m.save(path)
    m2 = deepmotif.Model.load(path, device="cpu", threads=1)   # same threads: same sums
    assert m2.hparams == m.hparams
    for k, v in m.params.items():
        np.testing.assert_array_equal(m2.params[k], v)
    x = random_onehot(rng, 10, 101)
    np.testing.assert_array_equal(m2.predict(x), m.predict(x))
    with pytest.raises(deepmotif.Error) as e:
        deepmotif.Model.load(tmp_path / "missing.dmm")
    assert "missing.dmm" in str(e.value)
    bad = tmp_path / "bad.dmm"
    bad.write_bytes(b"not a checkpoint at all" * 10)
    with pytest.raises(deepmotif.Error) as e:
        deepmotif.Model.load(bad)
    assert "bad.dmm" in str(e.value)


@pytest.mark.parametrize("arch", ["cnn", "rnn", "cnnrnn"])
def test_predict_and_saliency_equal_cli(api, cli, simdata, simsmall, tmp_path, arch):
    """The same checkpoint scored by Model and by `deepmotif predict` / `saliency`: the same engine
    on the same inputs, so the numbers agree to the precision the CLI prints (%.6g-ish TSV) and
    exactly for the .npy."""
    m = small(arch)
    ckpt = tmp_path / "m.dmm"
    m.save(ckpt)
    ds = deepmotif.read(simdata)
    p = m.predict(ds.x)
    assert p.shape == (len(ds),) and p.dtype == np.float32
    np.testing.assert_array_equal(m.predict(simdata), p)              # a path: read by the engine
    np.testing.assert_array_equal(m.predict(deepmotif.codes(deepmotif.decode(ds.x), 101)), p)
    out = tmp_path / "pred.tsv"
    run_cli(cli, "predict", "--model", ckpt, "--data", simdata, "--out", out, "--threads", 1, "--device", "cpu")
    rows = [line.split("\t") for line in out.read_text().splitlines() if line and not line.startswith("#")]
    if rows and not _isfloat(rows[0][-1]):
        rows = rows[1:]                                               # header line
    cli_p = np.array([float(r[-1]) for r in rows], np.float32)
    # the TSV prints 6 significant digits: half a unit of the 6th digit, relative
    np.testing.assert_allclose(p, cli_p, rtol=5e-6, atol=1e-7)
    for method, target in (("grad", "pos"), ("ism", "pos"), ("grad-x-input", "label")):
        pre = tmp_path / ("sal_" + method)
        data = simsmall if method == "ism" else simdata            # ISM: 303 forwards a sequence
        run_cli(cli, "saliency", "--model", ckpt, "--data", data, "--out", pre, "--method", method,
                "--target", target, "--layout", "nlc", "--threads", 1, "--device", "cpu", "--quiet")
        want = np.load(str(pre) + ".npy")
        n = 64 if method == "ism" else len(ds)
        got = m.saliency(ds.x[:n], method=method, target=target, labels=ds.labels[:n])
        assert got.shape == (n, 101, 4)
        if method == "ism":
            # differences of two log-probabilities near log 0.5 (float32 ulp 6e-8): the library and
            # the CLI forward the mutants in differently sized batches, whose LSTM GEMMs sum in
            # another order; a few ulps of each term
            np.testing.assert_allclose(got, want, atol=5e-7, rtol=0)
        else:
            # same engine, same batches (256), one thread: bit for bit
            np.testing.assert_array_equal(got, want)


def _isfloat(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def test_saliency_options(api, rng):
    m = small("cnn")
    x = random_onehot(rng, 8, 101)
    g = m.saliency(x)
    gc = m.saliency(x, center=True)
    # centring subtracts the mean over the four bases: float32 rounding of a 4-term mean
    np.testing.assert_allclose(gc, g - g.mean(axis=2, keepdims=True), atol=1e-6 * np.abs(g).max())
    a, p = m.saliency(x, method="grad-x-input", return_p=True)
    np.testing.assert_array_equal(p, m.predict(x))
    # grad × input: the gradient of the present base, zero elsewhere (one-hot input)
    np.testing.assert_array_equal(a, g * x)
    buf = np.full((8, 101, 4), np.nan, np.float32)
    assert m.saliency(x, out=buf) is buf                        # written in place
    np.testing.assert_array_equal(buf, g)
    with pytest.raises(ValueError, match="out must be"):
        m.saliency(x, out=np.zeros((8, 101, 4)))                # float64: refused, not converted
    with pytest.raises(ValueError, match="labels"):
        m.saliency(x, method="original")
    with pytest.raises(ValueError, match="method"):
        m.saliency(x, method="deeplift")


def test_temporal_and_optimize(api, rng):
    m = small("rnn")
    x = random_onehot(rng, 4, 101)
    fwd, bwd = m.temporal(x)
    assert fwd.shape == (4, 101) and bwd.shape == (4, 101)
    p = m.predict(x)
    # the whole sequence: fwd at the last position and bwd at the first are the model's P(bound);
    # a different but equivalent evaluation order, float32 rounding of a few hundred ops
    np.testing.assert_allclose(fwd[:, -1], p, atol=1e-5)
    np.testing.assert_allclose(bwd[:, 0], p, atol=1e-5)
    with pytest.raises(deepmotif.Error):
        small("cnn").temporal(x)
    r = m.optimize(restarts=3, steps=20, seed=2)
    assert r.ppm.shape == (3, 101, 4) and r.objective.shape == (21, 3) and r.p.shape == (3,)
    np.testing.assert_allclose(r.ppm.sum(axis=2), 1, atol=1e-5)   # softmax rows: rounding of 4 terms
    # f = −log P(bound) + λ‖X‖² is minimised: 20 RMSprop steps lower it for every start
    assert np.all(r.objective[-1] < r.objective[0])
    # progress every report_every steps and after the last; the same numbers; a cancel stops it
    seen = []
    r2 = m.optimize(restarts=3, steps=20, seed=2, report_every=6,
                    progress=lambda p: seen.append((p.what, p.done, p.total)) and None)
    assert seen == [("optimize", d, 20) for d in (6, 12, 18, 20)]
    np.testing.assert_array_equal(r2.objective, r.objective)
    with pytest.raises(deepmotif.Cancelled):
        m.optimize(restarts=3, steps=20, report_every=5, progress=lambda p: p.done >= 10)


def test_train_arrays_and_file(api, simdata):
    ds = deepmotif.read(simdata)
    m = small("cnn", seed=1)
    before = deepmotif.auroc(m.predict(ds.x), ds.labels)
    seen = []
    m.train(ds.x, ds.labels, epochs=15, patience=100, batch=64,
            progress=lambda info: seen.append(info) and None)
    after = deepmotif.auroc(m.predict(ds.x), ds.labels)
    assert all(s.what == "train" for s in seen)
    ends = [s for s in seen if s.batch == 0]
    assert [s.epoch for s in ends] == list(range(1, 16))
    assert not np.isnan(seen[-1].valid_auroc)                    # valid_frac 0.1 held out
    # a report after every batch: 400 sequences less the 10 % held out (by the seeded draw), each
    # with its reverse complement (rc "both", the default), in batches of 64, each epoch's batches
    # in order before its end
    nb = ends[0].n_batches
    assert nb == -(-2 * (400 - round(0.1 * 400)) // 64)
    batches = [(s.epoch, s.batch) for s in seen if s.batch > 0]
    assert batches == [(e, b) for e in range(1, 16) for b in range(1, nb + 1)]
    assert all(s.batch_loss > 0 and np.isnan(s.train_loss) for s in seen if s.batch > 0)
    # a planted motif in 400 sequences: 15 epochs lift the training AUROC well above chance (0.88
    # after 10 epochs on this seed; 0.75 leaves room for another CPU's rounding)
    assert after > max(before, 0.75), (before, after)
    assert len(m.history) == 15
    m2 = small("cnn", seed=1)
    m2.train(simdata, epochs=2, batch=64)                       # the CLI's data path: split by pair
    assert m2.provenance.get("epochs_run") == 2


def test_train_rc_is_kept(api, simdata, rng):
    # rc "both" (the default) scores a sequence and its reverse complement alike, bit for bit (the
    # mean of the same two P in either order); "none" scores each strand as it is
    ds = deepmotif.read(simdata)
    x = ds.x[:64]
    rcx = np.ascontiguousarray(x[:, ::-1, ::-1])                 # reversed, A<->T and C<->G swapped
    both = small("cnn", seed=1).train(ds.x, ds.labels, epochs=2, batch=64)
    assert np.array_equal(both.predict(x), both.predict(rcx))
    one = small("cnn", seed=1).train(ds.x, ds.labels, epochs=2, batch=64, rc="none")
    assert not np.array_equal(one.predict(x), one.predict(rcx))
    with pytest.raises(ValueError, match="rc must be"):
        small("cnn").train(ds.x, ds.labels, epochs=1, rc="forward")


def test_train_ema(api, simdata):
    # the weights' moving average: given, it reaches the provenance and changes what is kept; None
    # follows the set's size (400 sequences: none); out of range is the library's one-line error
    ds = deepmotif.read(simdata)
    avg = small("cnn", seed=1).train(ds.x, ds.labels, epochs=3, batch=64, ema=0.9)
    assert avg.provenance.get("ema") == pytest.approx(0.9)
    plain = small("cnn", seed=1).train(ds.x, ds.labels, epochs=3, batch=64)
    assert plain.provenance.get("ema") == 0
    assert not np.array_equal(avg.predict(ds.x[:64]), plain.predict(ds.x[:64]))
    with pytest.raises(deepmotif.Error, match="ema"):
        small("cnn").train(ds.x, ds.labels, epochs=1, ema=1.5)


def test_train_fresh_negatives(api, simdata):
    # simdata's negatives each follow the positive they are a shuffle of: from epoch 2 on they are new
    # shuffles (one epoch: the same weights as without; three: others), recorded in the provenance;
    # the original protocol and a set without such pairs are the library's one-line errors
    ds = deepmotif.read(simdata)
    kw = dict(batch=64, valid=(ds.x[:100], ds.labels[:100]))
    x, y = ds.x[100:], ds.labels[100:]
    one = small("cnn", seed=1).train(x, y, epochs=1, fresh_negatives=True, **kw)
    assert one.provenance.get("fresh_negatives") is True
    plain1 = small("cnn", seed=1).train(x, y, epochs=1, fresh_negatives=False, **kw)
    assert plain1.provenance.get("fresh_negatives") is False
    assert np.array_equal(one.predict(ds.x[:64]), plain1.predict(ds.x[:64]))
    three = small("cnn", seed=1).train(x, y, epochs=3, fresh_negatives=True, **kw)
    plain3 = small("cnn", seed=1).train(x, y, epochs=3, fresh_negatives=False, **kw)
    assert not np.array_equal(three.predict(ds.x[:64]), plain3.predict(ds.x[:64]))
    # the default (None): on where the rows pair them, the same run as True; off where they do not
    default3 = small("cnn", seed=1).train(x, y, epochs=3, **kw)
    assert default3.provenance.get("fresh_negatives") is True
    assert np.array_equal(three.predict(ds.x[:64]), default3.predict(ds.x[:64]))
    unpaired = small("cnn", seed=1).train(x[::-1].copy(), y[::-1].copy(), epochs=1, **kw)
    assert unpaired.provenance.get("fresh_negatives") is False
    with pytest.raises(deepmotif.Error, match="fresh_negatives"):
        small("cnn").train(x, y, epochs=1, protocol="original", fresh_negatives=True)
    with pytest.raises(deepmotif.Error, match="no training negative"):   # each negative before its positive
        small("cnn").train(x[::-1].copy(), y[::-1].copy(), epochs=1, fresh_negatives=True, **kw)


def test_train_restarts(api, simdata):
    # a run that cannot move (lr 1e-7) sits at the constant's loss for its whole patience: a dead
    # start, trained again from new weights as often as allowed (the default 2, or none); the count
    # reaches the provenance; a bad count is the library's one-line error
    ds = deepmotif.read(simdata)
    stuck = dict(epochs=4, batch=64, lr=1e-7, patience=2)
    again = small("cnn", seed=1).train(ds.x, ds.labels, **stuck)
    assert again.provenance.get("restarts") == 2
    once = small("cnn", seed=1).train(ds.x, ds.labels, restarts=1, **stuck)
    assert once.provenance.get("restarts") == 1
    assert not np.array_equal(again.predict(ds.x[:64]), once.predict(ds.x[:64]))
    never = small("cnn", seed=1).train(ds.x, ds.labels, restarts=0, **stuck)
    assert never.provenance.get("restarts") == 0
    again.train(ds.x, ds.labels, restarts=0, **stuck)   # a second training of a restarted model: its own count
    assert again.provenance.get("restarts") == 0
    learned = small("cnn", seed=1).train(ds.x, ds.labels, epochs=4, batch=64, patience=2)
    assert learned.provenance.get("restarts") == 0
    with pytest.raises(deepmotif.Error, match="restarts"):
        small("cnn").train(ds.x, ds.labels, epochs=1, restarts=-2)


def test_progress_and_cancel(api, rng, capsys):
    m = small("cnn")
    x = random_onehot(rng, 600, 101)
    calls = []
    m.predict(x, progress=lambda p: calls.append((p.what, p.done, p.total)))
    assert calls and calls[-1] == ("predict", 600, 600)
    assert all(a[1] <= b[1] for a, b in zip(calls, calls[1:]))
    with pytest.raises(deepmotif.Cancelled):
        m.saliency(x, progress=lambda p: True)
    class Boom(Exception):
        pass
    def boom(p):
        raise Boom()
    with pytest.raises(Boom):                                    # the callback's own exception
        m.predict(x, progress=boom)
    m.predict(x, progress=True)
    assert "predict: 600/600" in capsys.readouterr().err


def test_zero_copy_and_gil(api, rng):
    from deepmotif._model import _In
    m = small("cnnrnn")
    x = random_onehot(rng, 2000, 101)
    assert _In(x, 101).x is x                                    # float32 C-contiguous: passed as is
    assert _In(x.astype(np.float64), 101).x is not x            # anything else: one conversion
    with pytest.raises(ValueError, match="length"):
        m.predict(x[:, :50])
    # another Python thread runs while the engine computes (ctypes releases the GIL)
    ticks = []
    stop = threading.Event()
    def spin():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)
    t = threading.Thread(target=spin)
    t.start()
    t0 = time.perf_counter()
    m.predict(x)
    dt = time.perf_counter() - t0
    stop.set()
    t.join()
    # the spinner wakes about every ms; were the GIL held through the call it could not tick at all
    assert dt < 0.05 or len(ticks) > 5, (dt, len(ticks))


def test_motifs_equal_cli(api, cli, simdata, tmp_path):
    m = small("cnn")
    ckpt = tmp_path / "m.dmm"
    m.save(ckpt)
    got = m.motifs(simdata, min_sites=5)
    assert got, "a random CNN's 16 filters find sites in 400 sequences"
    run_cli(cli, "motifs", "--model", ckpt, "--data", simdata, "--out", tmp_path / "f", "--min-sites", 5,
            "--threads", 1, "--device", "cpu")
    want = deepmotif.read_meme(tmp_path / "f.meme")
    assert [g["id"] for g in got] == [w["id"] for w in want]
    for g, w in zip(got, want):
        assert g["ppm"].shape == (9, 4) and g["nsites"] == w["nsites"]
        # the MEME file prints 6 decimals (half a unit of the last, 5e-7, per entry) and the reader
        # renormalises each row to sum 1 (four such roundings: up to 2e-6 more)
        np.testing.assert_allclose(g["ppm"], w["ppm"], atol=2.5e-6)
    # write_meme -> read_meme keeps them (within the same print precision)
    deepmotif.write_meme(tmp_path / "again.meme", got)
    back = deepmotif.read_meme(tmp_path / "again.meme")
    for g, b in zip(got, back):
        np.testing.assert_allclose(b["ppm"], g["ppm"], atol=2.5e-6)     # as above
    with pytest.raises(ValueError, match="no convolution"):
        small("rnn").filters()


def test_train_cancel_leaves_model_unchanged(api, simdata):
    ds = deepmotif.read(simdata)
    m = small("cnn", seed=4)
    before = m.params
    for stop in (lambda p: p.batch == 0 and p.epoch >= 2,      # at the end of epoch 2
                 lambda p: p.epoch == 2 and p.batch == 3):        # inside epoch 2, after its 3rd batch
        seen = []
        with pytest.raises(deepmotif.Cancelled):
            m.train(ds.x, ds.labels, epochs=5, batch=64, progress=lambda p: seen.append(p) or stop(p))
        assert stop(seen[-1]) and not any(stop(p) for p in seen[:-1])   # no report after the cancel
        for k, v in before.items():                               # dm_train: _CANCELLED, m unchanged
            np.testing.assert_array_equal(m.params[k], v)
    with pytest.raises(ValueError, match="labels"):
        m.train(ds.x)


def test_codes_and_n_policy(api, rng):
    """Codes are one-hot encoded by the engine as numpy's onehot() does, N included, for both
    policies."""
    m = small("cnnrnn")
    c = rng.integers(0, 4, size=(20, 101)).astype(np.uint8)
    c[rng.random(c.shape) < 0.05] = deepmotif.data.BASE_N
    for q in (False, True):
        # the same inputs through two encoders, one engine: identical
        np.testing.assert_array_equal(m.predict(c, n_quarter=q), m.predict(deepmotif.onehot(c, n_quarter=q)))
    assert not np.array_equal(m.predict(c, n_quarter=True), m.predict(c))


def test_integrated_gradients_equal_cli(api, cli, simsmall, tmp_path):
    m = small("cnn")
    ckpt = tmp_path / "m.dmm"
    m.save(ckpt)
    ds = deepmotif.read(simsmall)
    for baseline in ("zero", "shuffle"):
        pre = tmp_path / ("ig_" + baseline)
        run_cli(cli, "saliency", "--model", ckpt, "--data", simsmall, "--out", pre, "--method", "ig",
                "--steps", 16, "--baseline", baseline, "--seed", 9, "--layout", "nlc", "--threads", 1,
                "--device", "cpu", "--quiet")
        got = m.saliency(ds.x, method="ig", steps=16, shuffle_baseline=(baseline == "shuffle"), seed=9)
        np.testing.assert_array_equal(got, np.load(str(pre) + ".npy"))   # same engine, same batches
