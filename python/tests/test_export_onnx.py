"""`deepmotif export` checked by other tools: the ONNX graph run by onnxruntime, and the safetensors
weights loaded into a PyTorch module (a plain one built here from the metadata, and the Python
package's DeepMotifNet when importable), must give `deepmotif predict`'s P(bound) on the same sequences,
for every architecture.

Self-contained: needs numpy, the CLI binary (env DEEPMOTIF_CLI), and onnxruntime (ONNX test) or
torch (safetensors test); each test skips with a message when what it needs is absent. The
safetensors file is read by hand here (the format is 8 bytes + JSON + raw data), so the
`safetensors` package is not needed either.
"""

import json
import os
import struct
import subprocess

import numpy as np
import pytest

ARCHS = ["cnn", "rnn", "cnnrnn"]

# predict prints P(bound) with 6 significant digits: rounding error <= half a unit in the 6th digit,
# i.e. <= 5e-6 relative. Both sides compute in float32 with different summation orders (OpenBLAS /
# deepmotif kernels vs onnxruntime's or torch's); measured <= 1.3e-6 relative on P, rounding
# included. RTOL = 5e-6 (print) + 1e-5 (float32 order, ~8x the measured maximum). That this is
# tight enough to see a wrong export is checked by the torch test's controls: the same weights
# with the LSTM's f and g gates swapped, or the conv kernels flipped, must miss by > 10 RTOL
# (measured: 1.5e-3 and more).
RTOL = 1.5e-5


def _cli():
    cli = os.environ.get("DEEPMOTIF_CLI")
    if not cli or not os.access(cli, os.X_OK):
        pytest.skip("DEEPMOTIF_CLI is not set to the deepmotif program")
    return cli


def _run(*args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env)
    assert r.returncode == 0, "%s: %s" % (" ".join(map(str, args)), r.stderr)
    return r


def _onehot(seqs):
    """(N, L, 4) float32 A, C, G, T; lower case as upper; N (anything else) a zero row, as
    predict's default --n-policy zero."""
    x = np.zeros((len(seqs), len(seqs[0]), 4), np.float32)
    for i, s in enumerate(seqs):
        for j, c in enumerate(s.upper()):
            k = "ACGT".find(c)
            if k >= 0:
                x[i, j, k] = 1.0
    return x


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Per architecture: a model trained briefly on simulated data, predict's scores on 48 query
    sequences (some lower case, some with N runs), its ONNX and safetensors exports."""
    cli = _cli()
    d = tmp_path_factory.mktemp("export")
    _run(cli, "simulate", "--out", d / "sim.tsv", "--n", "200", "--seed", "5")
    rows = [line.rstrip("\n").split("\t") for line in open(d / "sim.tsv")][1:]
    seqs = [r[2] for r in rows[:40]]
    rng = np.random.default_rng(7)
    for i in range(8):
        s = list(rows[60 + i][2])
        a = int(rng.integers(0, len(s) - 12))
        s[a:a + 1 + i] = "N" * (1 + i)
        seqs.append("".join(s).lower() if i % 2 else "".join(s))
    with open(d / "q.fa", "w") as f:
        for i, s in enumerate(seqs):
            f.write(">q%d\n%s\n" % (i, s))
    out = {}
    for arch in ARCHS:
        m = d / (arch + ".dm")
        _run(cli, "train", "--arch", arch, "--train", d / "sim.tsv", "--out", m, "--epochs", "3",
             "--batch", "32", "--patience", "10", "--threads", "2", "--device", "cpu", "--quiet")
        _run(cli, "predict", "--model", m, "--data", d / "q.fa", "--out", d / (arch + ".tsv"),
             "--device", "cpu", "--threads", "1")
        lines = [line.rstrip("\n").split("\t") for line in open(d / (arch + ".tsv"))]
        assert lines[0] == ["id", "score"]
        assert [r[0] for r in lines[1:]] == ["q%d" % i for i in range(len(seqs))]
        score = np.array([float(r[1]) for r in lines[1:]])
        _run(cli, "export", "--model", m, "--format", "onnx", "--out", d / (arch + ".onnx"))
        _run(cli, "export", "--model", m, "--format", "safetensors", "--out", d / (arch + ".safetensors"))
        out[arch] = dict(score=score, onnx=d / (arch + ".onnx"), st=d / (arch + ".safetensors"))
    return _onehot(seqs), out


def _compare(arch, logprob, score, who):
    p = np.exp(logprob[:, 0].astype(np.float64))
    # the two columns are a log-softmax: exp sums to 1 within float32 rounding of two terms
    np.testing.assert_allclose(np.exp(logprob.astype(np.float64)).sum(1), 1.0, atol=1e-6)
    err = np.abs(p - score) / score
    print("%s %s: max relative difference to predict %.3g (tolerance %.3g), P in %.4f..%.4f"
          % (who, arch, err.max(), RTOL, score.min(), score.max()))
    assert err.max() <= RTOL, "%s %s: P differs from predict by %.3g relative at sequence %d" % (
        who, arch, err.max(), int(err.argmax()))


@pytest.mark.parametrize("arch", ARCHS)
def test_onnx_runtime_equals_predict(models, arch):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
    x, out = models
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:   # the reference checker with shape inference, when installed
        onnx.checker.check_model(onnx.load(str(out[arch]["onnx"])), full_check=True)
    sess = ort.InferenceSession(str(out[arch]["onnx"]), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["x"]
    assert [o.name for o in sess.get_outputs()] == ["logprob"]
    logprob = sess.run(["logprob"], {"x": x})[0]
    assert logprob.shape == (len(x), 2)
    _compare(arch, logprob, out[arch]["score"], "onnxruntime")
    # batch independence: one sequence alone gives its row of the batch (same kernels, one row)
    one = sess.run(["logprob"], {"x": x[3:4]})[0]
    np.testing.assert_allclose(one, logprob[3:4], rtol=1e-5, atol=1e-6)


def read_safetensors(path):
    """(tensors as numpy arrays, metadata) read by hand: u64 LE header length, JSON, raw data."""
    b = open(path, "rb").read()
    (n,) = struct.unpack("<Q", b[:8])
    hdr = json.loads(b[8:8 + n])
    meta = hdr.pop("__metadata__", {})
    data = b[8 + n:]
    out, end = {}, 0
    for k, v in sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        a, z = v["data_offsets"]
        assert v["dtype"] == "F32" and a == end, "%s: offsets not contiguous" % k
        out[k] = np.frombuffer(data[a:z], "<f4").reshape(v["shape"]).copy()
        end = z
    assert end == len(data)
    return out, meta


def _torch_module(torch, hp):
    """The forward pass the safetensors metadata describes, as a plain torch module (the keys of its
    state_dict are the file's)."""
    nn, F = torch.nn, torch.nn.functional
    arch, C, H = hp["arch"], hp["conv_channels"], hp["hidden"]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            widths = hp["conv_width"]
            cin, self.pads = 4, []
            self.convs = nn.ModuleList()
            for k in widths:
                pad = (k - 1) // 2 if arch == "cnnrnn" else 0
                self.convs.append(nn.Conv1d(cin, C, k, padding=pad))
                cin = C
            if arch != "cnn":
                self.lstm = nn.LSTM(cin, H, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(C if arch == "cnn" else 2 * H, 2)

        def forward(self, x):
            h = x.transpose(1, 2)
            for i, conv in enumerate(self.convs):
                h = F.relu(conv(h))
                if arch == "cnn" and i < len(self.convs) - 1 and hp["pool"] > 1:
                    h = F.max_pool1d(h, hp["pool"])
            if arch == "cnn":
                h = h.max(dim=2).values
            else:
                h = self.lstm(h.transpose(1, 2))[0].mean(dim=1)
            return F.log_softmax(self.fc(h), dim=1)

    return Net()


@pytest.mark.parametrize("arch", ARCHS)
def test_safetensors_in_torch_equals_predict(models, arch):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    x, out = models
    tensors, meta = read_safetensors(out[arch]["st"])
    hp = json.loads(meta["deepmotif.hparams"])
    assert hp["arch"] == arch and hp["length"] == x.shape[1]
    net = _torch_module(torch, hp)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    net.eval()
    with torch.no_grad():
        logprob = net(torch.from_numpy(x)).numpy()
    _compare(arch, logprob, out[arch]["score"], "torch")

    # controls: plausible export mistakes must fail the comparison by far
    def miss(change):
        bad = {k: torch.from_numpy(change(k, v.copy())) for k, v in tensors.items()}
        net.load_state_dict(bad, strict=True)
        with torch.no_grad():
            p = np.exp(net(torch.from_numpy(x)).numpy()[:, 0].astype(np.float64))
        return float((np.abs(p - out[arch]["score"]) / out[arch]["score"]).max())

    H = hp["hidden"]

    def swap_fg(k, v):   # gates i, f, g, o: f and g exchanged
        if k.startswith("lstm."):
            v[H:2 * H], v[2 * H:3 * H] = v[2 * H:3 * H].copy(), v[H:2 * H].copy()
        return v

    controls = {}
    if arch != "cnn":
        controls["LSTM f/g swapped"] = miss(swap_fg)
    if arch != "rnn":
        controls["conv kernels flipped"] = miss(lambda k, v: v[:, :, ::-1].copy() if k.endswith("weight") and v.ndim == 3 else v)
    for what, e in controls.items():
        print("torch %s control, %s: max relative difference %.3g" % (arch, what, e))
        assert e > 10 * RTOL, "%s: %s changes P by only %.3g: the comparison is too weak" % (arch, what, e)


@pytest.mark.parametrize("arch", ARCHS)
def test_safetensors_load_into_package_module(models, arch):
    """The file's keys are those of the Python package's torch module (Model.to_torch())."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    try:
        from deepmotif.torch import DeepMotifNet
    except Exception as e:   # not installed, or its library not built: nothing to compare with
        pytest.skip("the deepmotif Python package's torch module is not importable (%s)" % e)
    x, out = models
    tensors, meta = read_safetensors(out[arch]["st"])
    net = DeepMotifNet(json.loads(meta["deepmotif.hparams"]))
    net.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    net.eval()
    with torch.no_grad():
        logprob = net(torch.from_numpy(x)).numpy()
    _compare(arch, logprob, out[arch]["score"], "deepmotif.torch")
