"""PyTorch interchange: the exported module against the engine and against the PyTorch fixtures of
tests/reference (made by gen_fixture.py from torch's own modules); Captum and tangermeme against
`deepmotif saliency`. Skips, with the reason, without torch / captum / tangermeme."""

import os
import struct

import numpy as np
import pytest

import deepmotif

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch)")
from deepmotif import torch as dmt  # noqa: E402

from conftest import REPO, run_cli, random_onehot  # noqa: E402

ARCH_OF_ID = {0: "cnn", 1: "rnn", 2: "cnnrnn"}


def read_fixture(path):
    """tests/reference/*.fix (format: tests/reference/README.md): header and named float32 records."""
    b = open(path, "rb").read()
    assert b[:4] == b"DMFX"
    _, arch = struct.unpack_from("<II", b, 4)
    B, L, nw = struct.unpack_from("<iii", b, 12)
    off = 24
    widths = list(struct.unpack_from("<%di" % nw, b, off))
    off += 4 * nw
    C, pool, H, drop = struct.unpack_from("<iiif", b, off)
    off += 16
    recs = {}
    while True:
        (n,) = struct.unpack_from("<I", b, off)
        off += 4
        if n == 0:
            break
        name = b[off:off + n].decode()
        off += n
        (nd,) = struct.unpack_from("<I", b, off)
        off += 4
        shape = struct.unpack_from("<%dq" % nd, b, off)
        off += 8 * nd
        cnt = int(np.prod(shape)) if nd else 1
        recs[name] = np.frombuffer(b, dtype="<f4", count=cnt, offset=off).reshape(shape)
        off += 4 * cnt
    hp = {"arch": ARCH_OF_ID[arch], "length": L, "n_conv": nw, "conv_width": widths,
          "conv_channels": C, "pool": pool, "hidden": H, "dropout": drop}
    return hp, recs


@pytest.mark.parametrize("arch", ["cnn", "rnn", "cnnrnn"])
def test_forward_equals_pytorch_fixture(api, arch):
    """DeepMotifNet, loaded with the fixture's parameters in deepmotif's layout, reproduces the
    log-softmax that torch's own Conv1d/LSTM modules computed when the fixture was made. This checks
    the layout conversion (conv transpose, LSTM directions and gate order) without the engine's
    forward (the layer list comes from the library's table)."""
    hp, recs = read_fixture(os.path.join(REPO, "tests", "reference", arch + ".fix"))
    params = {k: v for k, v in recs.items() if "." in k and not k.startswith(("grad.", "adam"))}
    net = dmt.net_from_params(hp, params)
    with torch.no_grad():
        out = net(torch.from_numpy(recs["x"].copy())).numpy()
    # 1e-5 absolute + 1e-4 relative: test_parity.c's bound for the same records (float32 rounding
    # of a different summation order; the fixture's generator shows it uses < 10% of it)
    np.testing.assert_allclose(out, recs["logprob"], atol=1e-5, rtol=1e-4)
    # channels-first input gives the same numbers
    net_cf = dmt.net_from_params(hp, params, channels_first=True)
    with torch.no_grad():
        out_cf = net_cf(torch.from_numpy(recs["x"].transpose(0, 2, 1).copy())).numpy()
    # 1e-6: the same ops on the same values; only the input's memory layout differs (a transposed
    # view vs a contiguous array), which may change the summation order of the convolution
    np.testing.assert_allclose(out_cf, out, atol=1e-6, rtol=0)


SMALL = {"cnn": dict(conv_width=[9, 5, 3], conv_channels=16),
         "rnn": dict(hidden=8),
         "cnnrnn": dict(conv_channels=12, hidden=8),
         "danq": dict(conv_channels=16, hidden=8)}


def small(arch, seed=3):
    if arch not in deepmotif.ARCHS:
        pytest.skip("no %s architecture in this package" % arch)
    try:
        return deepmotif.Model(arch, seed=seed, device="cpu", threads=1, **SMALL[arch])
    except deepmotif.Error as e:
        if e.status == "arg" and arch in str(e):
            pytest.skip("this libdeepmotif has no %s architecture: %s" % (arch, e))
        raise


def sharpen(m):
    """Scales the output layer so that P(bound) spreads over (0, 1) and the input gradients are
    well above float32 noise, for a random-initialised model."""
    p = m.params
    p["fc.weight"] = p["fc.weight"] * 20
    m.params = p
    return m


@pytest.mark.parametrize("arch", ["cnn", "rnn", "cnnrnn", "danq"])
def test_to_torch_forward_equals_predict(api, rng, arch):
    m = sharpen(small(arch))
    x = random_onehot(rng, 64, 101, n_frac=0.02)
    net = m.to_torch()
    with torch.no_grad():
        lp = net(torch.from_numpy(x)).numpy()
    # float32, different summation orders (OpenBLAS vs torch's kernels): the parity test's bound
    # for log-probabilities, 1e-5 absolute + 1e-4 relative; exp() keeps P within the same bound
    np.testing.assert_allclose(np.exp(lp[:, 0]), m.predict(x), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1, atol=1e-6)    # (pos, neg) log-softmax
    back = deepmotif.Model.from_torch(net)
    assert back.hparams == m.hparams
    for k, v in m.params.items():
        np.testing.assert_array_equal(back.params[k], v)                 # copies, bit for bit


def test_every_registered_architecture(api, rng):
    """Every architecture of the library's table (deepmotif.architectures(), a new one included) has
    its PyTorch twin, built from the library's layer list: same forward, parameter names convs.<i>.*,
    <bilstm name>.*_l0[_reverse], fc.* (what test_export_onnx.py and the safetensors export use)."""
    for arch in deepmotif.architectures():
        m = sharpen(deepmotif.Model(arch, seed=3, device="cpu", threads=1, conv_channels=16, hidden=8))
        x = random_onehot(rng, 32, 101, n_frac=0.02)
        net = m.to_torch()
        ops = [y["op"] for y in m.layers]
        keys = set(net.state_dict())
        want = {"fc.weight", "fc.bias"}
        want |= {"convs.%d.%s" % (i, k) for i in range(ops.count("conv")) for k in ("weight", "bias")}
        if "bilstm" in ops:
            want |= {"lstm.%s_l0%s" % (k, r) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                     for r in ("", "_reverse")}
        assert keys == want, arch
        with torch.no_grad():
            lp = net(torch.from_numpy(x)).numpy()
        # the bound of test_to_torch_forward_equals_predict (float32, different summation orders)
        np.testing.assert_allclose(np.exp(lp[:, 0]), m.predict(x), atol=1e-5, rtol=1e-4, err_msg=arch)
        back = deepmotif.Model.from_torch(net)
        assert back.hparams == m.hparams
        for k, v in m.params.items():
            np.testing.assert_array_equal(back.params[k], v)


def test_from_torch_after_finetuning(api, rng):
    """Weights changed in PyTorch come back into deepmotif: the engine then predicts what the module
    predicts."""
    m = small("cnnrnn")
    net = m.to_torch().train()
    x = torch.from_numpy(random_onehot(rng, 32, 101))
    y = torch.from_numpy(rng.integers(0, 2, 32))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.nll_loss(net(x), y).backward()
        opt.step()
    net.eval()
    m2 = deepmotif.Model.from_torch(net)
    with torch.no_grad():
        p_torch = net(x).exp()[:, 0].numpy()
    assert not np.allclose(m2.params["fc.weight"], m.params["fc.weight"])
    np.testing.assert_allclose(m2.predict(x.numpy()), p_torch, atol=1e-5, rtol=1e-4)  # as above


@pytest.mark.parametrize("arch", ["cnn", "cnnrnn"])
def test_captum_saliency_equals_cli_grad(api, cli, simsmall, tmp_path, arch):
    captum_attr = pytest.importorskip("captum.attr", reason="captum is not installed (pip install captum)")
    m = sharpen(small(arch))
    ckpt = tmp_path / "m.dmm"
    m.save(ckpt)
    pre = tmp_path / "sal"
    run_cli(cli, "saliency", "--model", ckpt, "--data", simsmall, "--out", pre, "--method", "grad",
            "--layout", "nlc", "--threads", 1, "--device", "cpu", "--quiet")
    want = np.load(str(pre) + ".npy")                          # ∂ log P(bound) / ∂x, signed
    x = deepmotif.read(simsmall).x
    net = m.to_torch()
    # Captum: target=0 is column 0 of the log-softmax = log P(bound); abs=False keeps the sign
    # (Captum's Saliency returns |gradient| by default)
    xt = torch.from_numpy(x).requires_grad_()
    got = captum_attr.Saliency(net).attribute(xt, target=0, abs=False).detach().numpy()
    scale = np.abs(want).max()
    # float32 backward passes in two engines: 1e-4 of the largest gradient (the parity test's
    # relative bound on gradients is 1e-3 per element, with an absolute floor of 1e-6)
    np.testing.assert_allclose(got, want, atol=1e-4 * scale, rtol=1e-3)


@pytest.mark.parametrize("arch", ["cnn", "rnn"])
def test_tangermeme_ism_equals_cli_ism(api, cli, simsmall, tmp_path, arch):
    sm = pytest.importorskip("tangermeme.saturation_mutagenesis",
                             reason="tangermeme is not installed (pip install tangermeme)")
    m = sharpen(small(arch))
    ckpt = tmp_path / "m.dmm"
    m.save(ckpt)
    pre = tmp_path / "ism"
    run_cli(cli, "saliency", "--model", ckpt, "--data", simsmall, "--out", pre, "--method", "ism",
            "--layout", "nlc", "--threads", 1, "--device", "cpu", "--quiet")
    n = 12
    want = np.load(str(pre) + ".npy")[:n]                      # log P(bound | mutant) − log P(bound | x)
    want = want - want.mean(axis=2, keepdims=True)             # centred over the four bases
    x = deepmotif.read(simsmall).x[:n]
    assert np.all(x.sum(axis=2) == 1), "simulated data hold no N"   # tangermeme edits one-hot bases
    net = dmt.to_torch(m, channels_first=True)
    # tangermeme: (N, 4, L) input; target=0 = log P(bound); hypothetical=True keeps all four bases;
    # its values are (y(mutant) − y(x)) minus their mean over the alphabet
    got = sm.saturation_mutagenesis(net, torch.from_numpy(x.transpose(0, 2, 1).copy()), target=0,
                                    hypothetical=True, device="cpu", fast=False, batch_size=64)
    got = got.numpy().transpose(0, 2, 1)
    scale = np.abs(want).max()
    # differences of two float32 log-probabilities computed by two engines: 1e-5 absolute per
    # log-probability (the forward bound above), doubled for a difference, plus 1e-4 of the largest
    np.testing.assert_allclose(got, want, atol=2e-5 + 1e-4 * scale)
