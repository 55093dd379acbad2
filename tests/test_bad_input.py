"""Bad input, one category of issue 12 per section: each gets a clear error.

Every test asserts the type of the error (TypeError for the wrong kind of thing,
ValueError for a wrong value, FloatingPointError for a diverged run, RuntimeError
from the C++ kernel's TORCH_CHECK, CheckError from lstm_core.check) AND that the
message names the argument at fault (`refused` below). The categories: memory
safety, file permissions, training that silently trains the wrong thing, the
divergence promise, dtypes, load what you save, non-finite inputs to PyTorch,
checks that cannot fail, the smaller items, threads. The property-based tests of
the whole public API are in test_properties.py.
"""
import contextlib
import importlib.util
import json
import os
import re
import stat
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from lstm_core import bench, check, data, gradcheck, io, numpy_lstm, torch_lstm, train
from lstm_core.check import CheckError
from lstm_core.torch_lstm import LSTM

from kernel_helpers import require_kernel

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def refused(error, *names):
    """pytest.raises(error), and each of names must appear in the message."""
    with pytest.raises(error) as info:
        yield info
    message = str(info.value)
    for name in names:
        assert name in message, f"{name!r} is not named in: {message}"


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def sine_data(T=12, N=8, dtype=np.float64):
    """Next-step pairs of N phase-shifted sines: X, Y (T, N, 1)."""
    t = np.arange(T + 1)[:, None, None] / 3 + np.arange(N)[None, :, None]
    waves = np.sin(t).astype(dtype)
    return waves[:-1].copy(), waves[1:].copy()


def torch_model(I=1, H=4, O=1, **kw):
    torch.manual_seed(0)
    return torch_lstm.SequenceModel(I, H, O, dtype=torch.float64, **kw)


BACKENDS = pytest.mark.parametrize("backend", ["numpy", "torch"])


def model_for(backend, I=1, H=4, O=1, cell="lstm"):
    if backend == "numpy":
        return train.SequenceModel(I, H, O, cell=cell, rng=np.random.default_rng(0))
    return torch_model(I, H, O, cell=cell)


# ----------------------------------------------------------------------------- memory

@pytest.mark.parametrize("cpp", [True, False], ids=["cpp", "pure-torch"])
@pytest.mark.parametrize("name, replace, named", [
    ("w_ci", lambda p: torch.zeros(1), ["w_ci", "(64,)", "(1,)"]),
    ("w_co", lambda p: torch.zeros(65), ["w_co", "(64,)"]),
    ("W_hh", lambda p: p.t().contiguous(), ["W_hh", "(256, 64)"]),
    ("W_ih", lambda p: p[:, :1].contiguous(), ["W_ih", "(256, 3)"]),
    ("b_ih", lambda p: p.double(), ["b_ih", "float64"]),
    ("w_cf", lambda p: p.to_sparse(), ["w_cf", "dense"]),
])
def test_a_replaced_parameter_never_reaches_the_kernel(monkeypatch, cpp, name, replace,
                                                       named):
    if cpp:
        monkeypatch.delenv("LSTM_CORE_PURE_TORCH", raising=False)
        require_kernel()
    else:
        monkeypatch.setenv("LSTM_CORE_PURE_TORCH", "1")
    lstm = LSTM(3, 64, peepholes=True)
    param = getattr(lstm, name)
    new = replace(param.data)
    if new.layout == torch.strided:
        param.data = new                     # what the issue did
    else:                                    # .data cannot change the layout
        setattr(lstm, name, torch.nn.Parameter(new))
    error = TypeError if name in ("b_ih", "w_cf") else ValueError
    with refused(error, "parameter", *named):
        lstm(torch.zeros(5, 2, 3))


def test_a_parameter_set_to_none_is_refused():
    lstm = LSTM(3, 8, peepholes=True)
    lstm.w_ci = None                      # would run the kernel with w_ci = 0
    with refused(ValueError, "w_ci", "set to None"):
        lstm(torch.zeros(5, 2, 3))


def _kernel_args(T=3, B=2, I=4, H=5, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    return {"X": torch.randn(T, B, I, generator=g, dtype=dtype),
            "h0": torch.zeros(B, H, dtype=dtype), "c0": torch.zeros(B, H, dtype=dtype),
            "W_ih": torch.randn(4 * H, I, generator=g, dtype=dtype),
            "W_hh": torch.randn(4 * H, H, generator=g, dtype=dtype),
            "b": torch.zeros(4 * H, dtype=dtype),
            **{n: torch.randn(H, generator=g, dtype=dtype)
               for n in ("w_ci", "w_cf", "w_co")}}


@pytest.mark.parametrize("name, bad, named", [
    ("X", lambda t: t[0], "X must be a non-empty (T, B, I) tensor"),
    ("X", lambda t: t[:, :0], "X must be a non-empty"),
    ("X", lambda t: t.half(), "X must be float32 or float64"),
    ("h0", lambda t: t[:1], "h0 must have shape [2, 5]"),
    ("h0", lambda t: t.to("meta"), "h0 must be on the CPU, got meta"),
    ("c0", lambda t: t.float(), "c0 must be Double"),
    ("W_ih", lambda t: t[:, :3], "W_ih must have shape [20, 4]"),
    ("W_hh", lambda t: t[:-1], "W_hh must have 3H or 4H rows"),
    ("b", lambda t: t[:-1], "b must have shape [20]"),
    ("w_ci", lambda t: torch.zeros(1, dtype=t.dtype), "w_ci must have shape [5]"),
    ("w_cf", lambda t: torch.zeros(10, dtype=t.dtype)[::2], "contiguous"),
    ("w_co", lambda t: t.to_sparse(), "w_co must be a dense tensor"),
])
def test_the_kernel_checks_every_tensor_itself(name, bad, named):
    kernel = require_kernel()
    args = _kernel_args()
    kernel.forward(*args.values())                       # the good call runs
    args[name] = bad(args[name])
    with refused(RuntimeError, named):
        kernel.forward(*args.values())


@pytest.mark.parametrize("name, bad, named", [
    ("dH", lambda t: t[:, :1], "dH must have shape [3, 2, 5]"),
    ("dh_T", lambda t: t[:1], "dh_T must have shape [2, 5]"),
    ("gates", lambda t: t[:, :1], "gates must have shape [3, 2, 20]"),
    ("C", lambda t: t.float(), "C must be Double"),
    ("tanh_C", lambda t: t.to("meta"), "tanh_C must be on the CPU"),
    ("gates", lambda t: t.transpose(1, 2).contiguous().transpose(1, 2),
     "the saved buffers must be contiguous"),
    ("w_co", lambda t: torch.zeros(10, dtype=t.dtype)[::2],
     "the saved buffers must be contiguous"),
])
def test_the_kernel_backward_checks_the_saved_tensors(name, bad, named):
    kernel = require_kernel()
    a = _kernel_args()
    Hs, C, gates, tanh_C = kernel.forward(*a.values())
    back = {"dH": torch.ones_like(Hs), "dh_T": torch.zeros_like(a["h0"]),
            "dc_T": torch.zeros_like(a["c0"]), "X": a["X"], "h0": a["h0"],
            "c0": a["c0"], "W_ih": a["W_ih"], "W_hh": a["W_hh"], "w_ci": a["w_ci"],
            "w_cf": a["w_cf"], "w_co": a["w_co"], "gates": gates, "Hs": Hs, "C": C,
            "tanh_C": tanh_C}
    kernel.backward(*back.values(), True)
    back[name] = bad(back[name])
    with refused(RuntimeError, named):
        kernel.backward(*back.values(), True)


# ----------------------------------------------------------------------------- files

@pytest.mark.parametrize("umask, mode", [(0o077, 0o600), (0o022, 0o644),
                                         (0o027, 0o640)])
def test_two_threads_saving_at_once_keep_the_umask(tmp_path, monkeypatch, umask, mode):
    old, calls = os.umask(umask), []
    try:
        # A spy that lets the save go on, so that the modes are checked too.
        monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or 0)
        barrier, errors = threading.Barrier(2), []

        def save(k):
            try:
                barrier.wait()
                for j in range(10):
                    io.save_params(tmp_path / f"t{k}_{j}.npz", {"W": np.ones(3)})
            except BaseException as err:       # reported in the main thread
                errors.append(err)
        threads = [threading.Thread(target=save, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert not errors, errors
    assert calls == []
    modes = {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("*.npz")}
    assert modes == {mode}, f"umask {umask:o} should give {mode:o}, got {modes}"
    assert len(list(tmp_path.iterdir())) == 20        # no temporary file left behind


def test_the_folder_is_synced_after_the_rename(tmp_path, monkeypatch):
    events, real_fsync, real_replace = [], os.fsync, os.replace

    def fsync(fd):
        st = os.fstat(fd)
        events.append(("fsync", stat.S_ISDIR(st.st_mode), st.st_ino))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", Path(dst).name))
        real_replace(src, dst)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    io.save_params(tmp_path / "p.npz", {"W": np.ones(2)})
    folder = tmp_path.stat().st_ino
    assert events[0][:2] == ("fsync", False)                  # the file's data first
    assert events[1] == ("replace", "p.npz")
    assert events[2] == ("fsync", True, folder), events      # then the folder


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "p.npz"
    io.save_params(path, {"W": np.ones(2)})

    def broken(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken)
    with refused(OSError, "No space left"):
        io.save_params(path, {"W": np.zeros(2)})
    monkeypatch.undo()
    np.testing.assert_array_equal(io.load_params(path)[0]["W"], np.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]


def test_permission_denied_on_write_is_reported_as_such(tmp_path, monkeypatch):
    real_open = os.open

    def denied(path, flags, mode=0o777, **kw):
        if str(path).endswith(".tmp"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, mode, **kw)
    monkeypatch.setattr(os, "open", denied)      # root may write anywhere: simulate
    target = tmp_path / "p.npz"
    with refused(PermissionError, "no permission to write", str(target)):
        io.save_params(target, {"W": np.ones(2)})
    with refused(PermissionError, "no permission to write", "r.json"):
        io.atomic_write(tmp_path / "r.json", "{}")


def test_permission_denied_on_read_is_not_called_corrupt(tmp_path, monkeypatch):
    path = tmp_path / "p.npz"
    io.save_params(path, {"W": np.ones(2)})

    def denied(file, *args, **kw):
        raise PermissionError(13, "Permission denied", str(file))
    monkeypatch.setattr(np, "load", denied)
    with refused(PermissionError, "no permission to read", str(path)) as info:
        io.load_params(path)
    assert "corrupt" not in str(info.value)


def test_a_missing_folder_is_named(tmp_path):
    with refused(FileNotFoundError, str(tmp_path / "no_such"), "does not exist"):
        io.save_params(tmp_path / "no_such" / "p.npz", {"W": np.ones(2)})


def test_the_benchmark_saves_atomically(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_lstm",
                                                  ROOT / "benchmarks" / "bench_lstm.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    writes = []
    real_write = io.atomic_write
    monkeypatch.setattr(io, "atomic_write", lambda path, text: writes.append(path)
                        or real_write(path, text))
    monkeypatch.setattr(bench, "matmul_peak", lambda device: 1e9)     # nothing timed
    monkeypatch.setattr(script, "measure", lambda size, names, device, repeats,
                        extra=None: {n: 1e-3 for n in [*names, *(extra or {})]})
    out = tmp_path / "cpu.json"
    monkeypatch.setattr(sys, "argv", ["bench_lstm.py", "--quick", "--save", str(out)])
    script.main()
    assert writes == [str(out)]
    assert json.loads(out.read_text())["headline"]["size"] == script.HEADLINE


# ----------------------------------------------------------------------------- training

@BACKENDS
def test_targets_of_another_output_size_are_refused(backend):
    X, Y = sine_data()
    model = model_for(backend, O=2)
    with refused(ValueError, "Y", "2 values", "has 1"):
        train.fit(model, X, Y, train.TrainConfig(epochs=1, batch_size=4))


@BACKENDS
def test_a_test_set_of_other_sizes_is_refused_before_training(backend):
    X, Y = sine_data()
    model, epochs = model_for(backend), []
    cfg = train.TrainConfig(epochs=2, batch_size=4, checkpoint_every=1)
    with refused(ValueError, "test Y", "1 values"):
        train.fit(model, X, Y, cfg, test=(X, np.concatenate([Y, Y], -1)),
                  callback=lambda e, m, h: epochs.append(e))
    with refused(ValueError, "test X", "1 values"):
        train.fit(model, X, Y, cfg, test=(np.concatenate([X, X], -1), Y),
                  callback=lambda e, m, h: epochs.append(e))
    assert epochs == []                           # refused before the first epoch


@BACKENDS
@pytest.mark.parametrize("fill, named", [
    (lambda m: m.__setitem__((0, 0), -1.0), ["mask", ">= 0", "-1.0"]),
    (lambda m: m.__setitem__((slice(None), 3), 0.0), ["mask", "every sequence", "[3]"]),
    (lambda m: m.__setitem__(slice(None), 0.0), ["mask", "positive entry"]),
])
def test_bad_masks_are_refused(backend, fill, named):
    X, Y = sine_data()
    mask = np.ones(X.shape[:2])
    fill(mask)
    with refused(ValueError, *named):
        train.fit(model_for(backend), X, Y, train.TrainConfig(epochs=1, batch_size=1),
                  mask=mask)


@pytest.mark.parametrize("field, value, error", [
    ("early_stop_tol", float("nan"), ValueError), ("lr", float("inf"), ValueError),
    ("lr", 0.0, ValueError), ("clip", -1.0, ValueError),
    ("step_decay", 1.5, ValueError),
    ("input_noise", float("nan"), ValueError), ("batch_size", 9, ValueError),
    ("epochs", 2.0, TypeError), ("optimizer", "adamw", ValueError),
    ("loss", "l1", ValueError), ("seed", -1, ValueError), ("progress", 1, TypeError),
])
def test_config_values_that_cannot_work_are_named(field, value, error):
    X, Y = sine_data()
    cfg = train.TrainConfig(**({"epochs": 1, "batch_size": 4} | {field: value}))
    with refused(error, f"config.{field}"):
        train.fit(model_for("numpy"), X, Y, cfg)


@pytest.mark.parametrize("change, error, named", [
    (lambda a: a.update(Y=a["Y"][..., :1], Y_hat=np.repeat(a["Y_hat"], 2, -1)),
     ValueError, ["Y must have shape (4, 3, 2)"]),
    (lambda a: a.update(weights=np.zeros((4, 3))), ValueError,
     ["weights", "all zeros"]),
    (lambda a: a["weights"].__setitem__((0, 0), -2.0), ValueError,
     ["weights", ">= 0", "-2.0"]),
    (lambda a: a.update(Y=a["Y"].astype(np.float32)), TypeError, ["Y", "float64"]),
    (lambda a: a.update(kind="l2"), ValueError, ["kind", "'l2'"]),
])
def test_loss_and_grad_neither_broadcasts_nor_divides_by_zero(rng, change, error,
                                                              named):
    args = {"Y_hat": rng.normal(size=(4, 3, 1)), "Y": rng.normal(size=(4, 3, 1)),
            "weights": np.ones((4, 3)), "kind": "mse"}
    change(args)
    with refused(error, *named):
        train.loss_and_grad(**args)


def test_a_float32_numpy_model_trains_in_float32():
    X, Y = sine_data(dtype=np.float32)
    model = train.SequenceModel(1, 4, 1, rng=np.random.default_rng(0), dtype=np.float32)
    history = train.fit(model, X, Y, train.TrainConfig(epochs=3, batch_size=4))
    assert np.isfinite(history.train_loss).all()
    assert {v.dtype for v in model.params.values()} == {np.dtype(np.float32)}


@pytest.mark.parametrize("make, error, named", [
    (lambda: train.SGD(lr=float("nan")), ValueError, ["lr", "nan"]),
    (lambda: train.SGD(momentum=1.0), ValueError, ["momentum"]),
    (lambda: train.Adam(betas=(0.9, float("nan"))), ValueError, ["betas[1]"]),
    (lambda: train.Adam(betas=0.9), TypeError, ["betas"]),
    (lambda: train.Adagrad(eps=0), ValueError, ["eps"]),
])
def test_optimiser_settings_that_cannot_work_are_named(make, error, named):
    with refused(error, *named):
        make()


@pytest.mark.parametrize("opt", [train.SGD, train.Adagrad, train.Adam])
def test_an_optimiser_step_checks_keys_shapes_and_values(opt):
    params = {"W": np.ones((2, 3))}
    with refused(ValueError, "grads['W']", "(2, 3)", "(3, 2)"):
        opt().step(params, {"W": np.ones((3, 2))})
    with refused(ValueError, "grads", "'V'", "params does not"):
        opt().step(params, {"V": np.ones((2, 3))})
    with refused(ValueError, "grads['W']", "finite"):
        opt().step(params, {"W": np.full((2, 3), np.nan)})
    np.testing.assert_array_equal(params["W"], 1.0)     # nothing was applied


# --------------------------------------------------------------------------- divergence

DIVERGED = r"training diverged at epoch \d+, step \d+: .*lower config.lr"


@BACKENDS
def test_a_huge_learning_rate_stops_with_epoch_and_step(backend):
    X, Y = sine_data()
    cfg = train.TrainConfig(epochs=50, batch_size=4, lr=1e30, optimizer="sgd")
    with refused(FloatingPointError, "epoch", "step", "config.lr") as info:
        train.fit(model_for(backend), X, Y, cfg)
    assert re.search(DIVERGED, str(info.value)), str(info.value)


def test_an_overflowing_backward_stops_with_epoch_and_step():
    """Parameters so large that dY @ W_hy overflows although the loss is finite:
    the error names epoch and step, not dH (an argument the user never passed)."""
    model = train.SequenceModel(1, 4, 2, rng=np.random.default_rng(0))
    for v in model.params.values():
        v[...] = 0.0
    model.params["W_hy"][...] = 1e308
    X, Y = np.zeros((3, 4, 1)), np.full((3, 4, 2), 1e3)
    with refused(FloatingPointError, "epoch 1, step 1", "gradient norm inf") as info:
        train.fit(model, X, Y, train.TrainConfig(epochs=1, batch_size=4))
    assert "dH" not in str(info.value)


@pytest.mark.parametrize("W_hy, b_y", [(1e308, 1e308), (1e200, 0.0)],
                         ids=["outputs inf", "loss inf"])
def test_the_numpy_backend_checks_the_loss_before_the_backward(monkeypatch, W_hy,
                                                               b_y):
    """Outputs that overflow (h = 0.76 from saturated gates, times 1e308, plus
    1e308) or a loss that does from finite outputs (1e200 squared): training stops
    naming epoch and step, and no backward runs."""
    model = train.SequenceModel(1, 4, 1, rng=np.random.default_rng(0))
    for v in model.params.values():
        v[...] = 0.0
    for gate in (0, 2, 3):                          # i = g = o = 1, so h = tanh(1)
        model.params["b_ih"][4 * gate:4 * gate + 4] = 30.0
    model.params["W_hy"][...], model.params["b_y"][...] = W_hy, b_y
    calls = []
    monkeypatch.setattr(model, "backward", lambda dY: calls.append(dY))
    X, Y = sine_data()
    with np.errstate(over="ignore"), \
            refused(FloatingPointError, "epoch 1, step 1", "loss inf"):
        train.fit(model, X, Y, train.TrainConfig(epochs=1, batch_size=8, lr=1e-3))
    assert calls == []


def test_the_torch_backend_checks_the_loss_before_the_backward(monkeypatch):
    model = torch_model()
    with torch.no_grad():
        model.readout.weight.fill_(1e200)               # finite, but squared: inf
    calls = []
    monkeypatch.setattr(torch.Tensor, "backward", lambda self, *a, **k: calls.append(1))
    X, Y = sine_data()
    with refused(FloatingPointError, "epoch 1, step 1", "loss inf"):
        train.fit(model, X, Y, train.TrainConfig(epochs=1, batch_size=8, lr=1e-3))
    assert calls == []


@BACKENDS
@pytest.mark.parametrize("where, named", [("Y", "Y must hold finite values"),
                                          ("X", "X must hold finite values"),
                                          ("test Y", "test Y must hold finite")])
def test_nan_data_is_blamed_on_the_data_not_the_learning_rate(backend, where, named):
    X, Y = sine_data()
    Xt, Yt = X.copy(), Y.copy()
    {"X": X, "Y": Y, "test Y": Yt}[where][3, 2, 0] = np.nan
    with refused(ValueError, named) as info:
        train.fit(model_for(backend), X, Y, train.TrainConfig(epochs=1, batch_size=4),
                  test=(Xt, Yt))
    assert "lr" not in str(info.value)


# ----------------------------------------------------------------------------- dtypes

BAD_DTYPES = pytest.mark.parametrize("dtype", [np.int32, np.float16, np.complex64,
                                               np.bool_])
TORCH_BAD = pytest.mark.parametrize("dtype", [torch.int32, torch.float16,
                                              torch.complex64, torch.bool])


@BAD_DTYPES
@pytest.mark.parametrize("make", [
    lambda dt, rng: numpy_lstm.init_lstm(2, 3, rng=rng, dtype=dt),
    lambda dt, rng: numpy_lstm.init_rnn(2, 3, rng=rng, dtype=dt),
    lambda dt, rng: train.SequenceModel(2, 3, 1, rng=rng, dtype=dt),
    lambda dt, rng: data.sine_waves(3, 10, rng=rng, dtype=dt),
    lambda dt, rng: data.two_sequences(3, 4, rng, dtype=dt),
    lambda dt, rng: data.encode_strings(["BTBTSXSETE"], dtype=dt),
    lambda dt, rng: data.encode_stream(data.reber_stream(rng, 2), dtype=dt),
], ids=["init_lstm", "init_rnn", "SequenceModel", "sine_waves", "two_sequences",
        "encode_strings", "encode_stream"])
def test_other_dtypes_are_refused_by_name_in_numpy(rng, make, dtype):
    with refused(TypeError, "dtype", "float32 or float64", np.dtype(dtype).name):
        make(dtype, rng)


@TORCH_BAD
@pytest.mark.parametrize("make", [
    lambda dt: LSTM(2, 3, dtype=dt),
    lambda dt: torch_lstm.SequenceModel(2, 3, 1, dtype=dt),
    lambda dt: torch_lstm.SequenceModel(2, 3, 1, cell="rnn", dtype=dt)],
    ids=["LSTM", "SequenceModel", "SequenceModel-rnn"])
def test_other_dtypes_are_refused_by_name_in_torch(make, dtype):
    with refused(TypeError, "dtype", str(dtype)):
        make(dtype)


@BAD_DTYPES
def test_arrays_of_other_dtypes_are_refused_by_name(rng, dtype):
    p = numpy_lstm.init_lstm(2, 3, peepholes=True, rng=rng)
    X = rng.normal(size=(4, 2, 2)).astype(dtype)
    name = np.dtype(dtype).name
    with refused(TypeError, "X", name):
        numpy_lstm.lstm_forward(X, p)
    with refused(TypeError, "params['w_co']", name):
        numpy_lstm.lstm_forward(X.real.astype(float),
                                p | {"w_co": p["w_co"].astype(dtype)})
    with refused(TypeError, "params['W_ih']", name):
        LSTM(2, 3, peepholes=True).load_arrays(p | {"W_ih": p["W_ih"].astype(dtype)})
    with refused(TypeError, "X", name):
        train.predict(train.SequenceModel(2, 3, 1, rng=rng), X)


@pytest.mark.parametrize("cpp", [True, False], ids=["cpp", "pure-torch"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.complex64])
def test_half_precision_never_reaches_the_peephole_kernel(monkeypatch, cpp, dtype):
    if cpp:
        require_kernel()
    else:
        monkeypatch.setenv("LSTM_CORE_PURE_TORCH", "1")
    with refused(TypeError, "X", str(dtype).removeprefix("torch.")):
        LSTM(2, 3, peepholes=True)(torch.zeros(4, 2, 2, dtype=dtype))


def test_load_arrays_keeps_imaginary_parts_out(rng):
    p = numpy_lstm.init_lstm(2, 3, rng=rng)
    for value in (p["b_hh"] + 1j, torch.from_numpy(p["b_hh"] + 1j)):
        with refused(TypeError, "params['b_hh']", "complex128"):
            LSTM(2, 3, dtype=torch.float64).load_arrays(p | {"b_hh": value})


# ----------------------------------------------------------------------------- files in

def _crafted(path, **arrays):
    """An .npz with a valid __format__ entry and the given arrays."""
    np.savez(path, __format__=np.array(io.FORMAT_VERSION), **arrays)
    return path


@pytest.mark.parametrize("value, named", [
    (np.array([1.0, np.nan]), "finite"), (np.array([np.inf]), "finite"),
    (np.array([1, 2]), "int64"), (np.array([1.0], np.float16), "float16"),
    (np.array([1 + 2j]), "complex128"), (np.array([True]), "bool"),
])
def test_load_refuses_what_save_would_refuse(tmp_path, value, named):
    with pytest.raises((TypeError, ValueError)):
        io.save_params(tmp_path / "s.npz", {"W_ih": value})
    path = _crafted(tmp_path / "p.npz", W_ih=value)
    with refused(ValueError, str(path), "save_params would not", "params['W_ih']",
                 named):
        io.load_params(path)


@pytest.mark.parametrize("entries, named", [
    ({"__meta__": np.array("5")}, "__meta__"),
    ({"__meta__": np.array("[1, 2]")}, "__meta__"),
    ({"__format__": np.array("1")}, "format version '1'"),
    ({"__format__": np.array(1.0)}, "format version 1.0"),
    ({"__format__": np.array([1])}, "format version [1]"),
])
def test_load_refuses_reserved_entries_save_never_writes(tmp_path, entries, named):
    path = tmp_path / "p.npz"
    np.savez(path, **({"__format__": np.array(io.FORMAT_VERSION), "W": np.ones(2)}
                      | entries))
    with refused(ValueError, str(path), named):
        io.load_params(path)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_what_is_saved_loads_back_exactly(tmp_path, dtype):
    rng = np.random.default_rng(0)
    p = {k: v.astype(dtype)
         for k, v in numpy_lstm.init_lstm(2, 3, peepholes=True, rng=rng).items()}
    io.save_params(tmp_path / "p.npz", p, {"epochs": 3})
    back, meta = io.load_params(tmp_path / "p.npz", expected_keys=p)
    assert meta == {"epochs": 3}
    for k in p:
        assert back[k].dtype == dtype
        np.testing.assert_array_equal(back[k], p[k])


# ---------------------------------------------------------------------------- torch NaN

@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("peepholes", [False, True])
def test_non_finite_input_is_refused_on_the_cpu(value, peepholes):
    lstm = LSTM(2, 3, peepholes=peepholes, dtype=torch.float64)
    X = torch.zeros(4, 2, 2, dtype=torch.float64)
    X[1, 0, 1] = value
    with refused(ValueError, "X must hold finite values"):
        lstm(X)
    h0 = torch.zeros(1, 2, 3, dtype=torch.float64)
    with refused(ValueError, "state c0 must hold finite"):
        lstm(X.nan_to_num(), (h0, h0 + value))
    with torch.no_grad():
        lstm.W_hh[0, 0] = value
    with refused(ValueError, "parameter W_hh must hold finite"):
        lstm(X.nan_to_num())


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_the_torch_rnn_cell_and_the_readout_are_checked_too(cell):
    model = torch_model(2, 3, 1, cell=cell)
    X = torch.zeros(4, 2, 2, dtype=torch.float64)
    with refused(ValueError, "X must hold finite values"):
        model(X + np.inf)
    with refused(ValueError, "X must have shape", "2)"):
        model(torch.zeros(4, 2, 5, dtype=torch.float64))
    with refused(TypeError, "X", "float32"):
        model(X.float())
    with refused(ValueError, "X must have at least one time step"):
        model(X[:0])
    model.readout.weight.data = torch.zeros(1, dtype=torch.float64)
    with refused(ValueError, "parameter readout.weight", "(1, 3)"):
        model(X)
    model.readout.weight.data = torch.full((1, 3), np.nan, dtype=torch.float64)
    with refused(ValueError, "parameter readout.weight must hold finite"):
        model(X)


@BACKENDS
@pytest.mark.parametrize("call, named", [
    (lambda m, X: train.predict(m, X), "X must hold finite"),
    (lambda m, X: train.free_run(m, X, 3), "X_warm must hold finite"),
    (lambda m, X: train.fit(m, X, X.copy(), train.TrainConfig(epochs=1, batch_size=2)),
     "X must hold finite"),
])
def test_fit_predict_and_free_run_refuse_non_finite_data(backend, call, named):
    X = np.zeros((4, 2, 1))
    X[2, 1, 0] = np.inf
    with refused(ValueError, named):
        call(model_for(backend), X)


@BACKENDS
@pytest.mark.parametrize("call", [
    lambda m, X: train.predict(m, X), lambda m, X: train.free_run(m, X, 3),
    lambda m, X: train.fit(m, X, X, train.TrainConfig(epochs=1, batch_size=2))],
    ids=["predict", "free_run", "fit"])
def test_fit_predict_and_free_run_refuse_non_finite_parameters(backend, call):
    model = model_for(backend)
    if backend == "numpy":
        model.params["W_hh"][0, 0] = np.nan
        named = "model.params['W_hh']"
    else:
        with torch.no_grad():
            model.rnn.W_hh[0, 0] = np.nan
        named = "rnn.W_hh"
    with refused(ValueError, named, "NaN"):
        call(model, np.zeros((4, 2, 1)))


@BACKENDS
def test_inputs_that_overflow_the_models_dtype_are_refused(backend):
    if backend == "numpy":
        model = train.SequenceModel(1, 3, 1, rng=np.random.default_rng(0),
                                    dtype=np.float32)
    else:
        model = torch_lstm.SequenceModel(1, 3, 1)               # float32
    X = np.full((3, 2, 1), 1e300)                               # finite in float64
    with refused(ValueError, "X_warm", "float32"):
        train.free_run(model, X, 2)
    with refused(ValueError, "X", "range of float32"):
        train.predict(model, X)
    with refused(ValueError, "params['W_ih']", "float32"):
        LSTM(1, 3).load_arrays({k: np.full(tuple(v.shape), 1e300) for k, v in
                                LSTM(1, 3).named_parameters()})


# ----------------------------------------------------------------------------- checks

@pytest.mark.parametrize("a, b", [(np.nan, 1.0), (1.0, np.nan), (np.inf, np.inf),
                                  ([1.0, np.nan], [1.0, 2.0]), (-np.inf, 1.0)])
def test_rel_error_of_non_finite_values_fails_every_tolerance(a, b):
    err = gradcheck.rel_error(a, b)
    assert err == np.inf and not err < 1e300


@pytest.mark.parametrize("a, b, named", [(1 + 5j, 1.0, "a is complex"),
                                         (1.0, np.array([1 + 0j]), "b is complex")])
def test_rel_error_refuses_complex_numbers(a, b, named):
    with refused(TypeError, named):
        gradcheck.rel_error(a, b)


def _quadratic():
    W = np.array([1.0, -2.0, 3.0])
    return W, (lambda: float((W ** 2).sum())), {"W": 2 * W}


@pytest.mark.parametrize("how", ["nan grads", "nan loss", "inf grads"])
def test_check_grads_fails_on_non_finite_values(how):
    W, loss, grads = _quadratic()
    if how == "nan grads":
        grads["W"][1] = np.nan
    elif how == "inf grads":
        grads["W"][0] = np.inf
    else:
        loss = (lambda: float("nan"))
    errors = gradcheck.check_grads(loss, {"W": W}, grads)
    assert errors["W"] == np.inf and not errors["W"] < 1e-6
    rng = np.random.default_rng(0)
    assert gradcheck.check_grads(loss, {"W": W}, grads, max_checks=3, rng=rng)["W"] \
        == np.inf
    assert gradcheck.directional_check(loss, {"W": W}, grads, rng) == np.inf


def test_check_grads_refuses_complex_gradients():
    W, loss, grads = _quadratic()
    with refused(TypeError, "grads['W']", "complex"):      # the real part is right
        gradcheck.check_grads(loss, {"W": W}, {"W": grads["W"] + 1e3j})
    with refused(TypeError, "grads['W']", "complex"):
        gradcheck.directional_check(loss, {"W": W}, {"W": grads["W"] + 1e3j},
                                    np.random.default_rng(0))


def _lstm_step_returning(transform):
    def step(x, h, c, p):
        h_t, c_t = numpy_lstm.lstm_step(x, h, c, p)
        return transform(h_t), c_t
    return step


@pytest.mark.parametrize("transform, named", [
    (lambda h: h + 0j, "h_t has complex values"),
    (lambda h: h * np.nan, "h_t holds NaN or infinite values"),
    (lambda h: np.where(h > 0, np.inf, h), "h_t holds NaN or infinite"),
    (lambda h: h.astype(str), "h_t must hold numbers"),
    (lambda h: None, "h_t must hold numbers"),
])
def test_the_exercise_checks_fail_on_values_that_are_not_real(transform, named):
    with refused(CheckError, named):
        check.check_lstm_step(_lstm_step_returning(transform))


def test_the_backward_and_window_checks_fail_on_nan_and_wrong_returns():
    def nan_backward(dH, cache):
        grads, dX, dh0, dc0 = numpy_lstm.lstm_backward(dH, cache)
        return grads | {"W_hh": grads["W_hh"] * np.nan}, dX, dh0, dc0
    with refused(CheckError, "dW_hh holds NaN"):
        check.check_lstm_backward(nan_backward)
    with refused(CheckError, "pair (X, y)", "ndarray"):
        check.check_windows(lambda ts, k: np.zeros((3, k)))
    with refused(CheckError, "h_t holds NaN"):
        check.check_rnn_step(lambda x, h, p: np.full((2, 4), np.nan))


# ----------------------------------------------------------------------------- smaller

@BACKENDS
def test_free_run_refuses_an_empty_warm_up_and_zero_steps(backend):
    model = model_for(backend)
    with refused(ValueError, "X_warm", "must not be empty", "(0, 2, 1)"):
        train.free_run(model, np.zeros((0, 2, 1)), 3)
    with refused(ValueError, "n_steps", "0"):
        train.free_run(model, np.zeros((2, 2, 1)), 0)


@pytest.mark.parametrize("args, error, named", [
    ((-1, 2, 3, 4), ValueError, "T must be a positive int, got -1"),
    (("2", 2, 3, 4), TypeError, "T must be a positive int, got str '2'"),
    ((2, 2, 3, 0), ValueError, "H must be a positive int"),
    ((2, 2.5, 3, 4), TypeError, "B must be a positive int"),
])
def test_lstm_flops_needs_positive_ints(args, error, named):
    with refused(error, named):
        bench.lstm_flops(*args)


def test_the_timing_helpers_check_their_arguments_before_timing(monkeypatch):
    runs = []
    with refused(ValueError, "repeats", "-1"):
        bench.time_interleaved({"a": lambda: runs.append(1)}, repeats=-1)
    with refused(ValueError, "warmup", "-2"):
        bench.time_interleaved({"a": lambda: runs.append(1)}, warmup=-2)
    with refused(TypeError, "runners['a']", "callable"):
        bench.time_interleaved({"a": 3})
    with refused(TypeError, "runners", "non-empty dict"):
        bench.time_interleaved({})
    assert runs == []
    monkeypatch.setattr(torch, "randn", None)             # any tensor made would fail
    with refused(ValueError, "repeats", "0"):
        bench.matmul_peak(repeats=0)
    with refused(ValueError, "n must be a positive int"):
        bench.matmul_peak(n=0)
    with refused(ValueError, "device", "'gpu'"):
        bench.matmul_peak(device="gpu")
    with refused(TypeError, "dtype", "torch.int32"):
        bench.matmul_peak(dtype=torch.int32)


def test_make_runner_names_its_bad_arguments():
    with refused(ValueError, "name", "'jax'"):
        bench.make_runner("jax", 2, 2, 2, 2)
    with refused(ValueError, "I must be a positive int"):
        bench.make_runner("numpy", 2, 2, 0, 2)
    with refused(TypeError, "seed"):
        bench.make_runner("numpy", 2, 2, 2, 2, seed="a")
    with refused(ValueError, "device", "'tpu'"):
        bench.make_runner("numpy", 2, 2, 2, 2, device="tpu")
    for name in bench.IMPLEMENTATIONS:              # nn.LSTM would run in half
        with refused(TypeError, "dtype", "torch.float16"):
            bench.make_runner(name, 2, 2, 2, 2, dtype=torch.float16)


def test_messages_name_the_argument_actually_passed(rng):
    p = numpy_lstm.init_lstm(2, 3, rng=rng)
    with refused(ValueError, "x_t must have shape (B, 2)") as info:
        numpy_lstm.lstm_step(np.zeros((4, 5)), None, None, p)
    assert not str(info.value).startswith("X")
    with refused(ValueError, "h_prev must have shape (4, 3)"):
        numpy_lstm.lstm_step(np.zeros((4, 2)), np.zeros((4, 2)), None, p)
    model = train.SequenceModel(2, 3, 1, rng=rng)
    model.forward(np.zeros((5, 4, 2)))
    with refused(ValueError, "dY must have shape (5, 4, 1)") as info:
        model.backward(np.zeros((5, 4, 3)))
    assert "dH" not in str(info.value)
    with refused(ValueError, "decay must be") as info:
        train.step_weights(3, 2.0)
    assert "step_decay" not in str(info.value)


@pytest.mark.parametrize("make", [
    lambda: numpy_lstm.init_lstm(2, 0, rng=np.random.default_rng(0)),
    lambda: numpy_lstm.init_rnn(2, 0, rng=np.random.default_rng(0)),
    lambda: train.SequenceModel(2, 0, 1, rng=np.random.default_rng(0)),
    lambda: LSTM(2, 0), lambda: torch_lstm.SequenceModel(2, 0, 1),
    lambda: torch_lstm.SequenceModel(2, 0, 1, cell="rnn"),
], ids=["init_lstm", "init_rnn", "SequenceModel", "LSTM", "torch-SequenceModel",
        "torch-rnn"])
def test_a_hidden_size_of_zero_is_refused(make):
    with refused(ValueError, "hidden_size must be a positive int, got 0"):
        make()


@pytest.mark.parametrize("shape", [(0, 2, 2), (3, 0, 2)], ids=["T=0", "B=0"])
def test_empty_sequences_are_refused_alike_by_numpy_and_torch(rng, shape):
    p = numpy_lstm.init_lstm(2, 3, rng=rng)
    with refused(ValueError, "X must not be empty", str(shape)):
        numpy_lstm.lstm_forward(np.zeros(shape), p)
    with refused(ValueError, "X must not be empty"):
        numpy_lstm.rnn_forward(np.zeros(shape), numpy_lstm.init_rnn(2, 3, rng=rng))
    with refused(ValueError, "X must have at least one time step and one sequence"):
        LSTM(2, 3, dtype=torch.float64)(torch.zeros(shape, dtype=torch.float64))
    with refused(TypeError, "cache must be the third value returned by lstm_forward"):
        numpy_lstm.lstm_backward(np.zeros((0, 2, 3)), {"X": np.zeros(shape)})


def test_odd_arguments_get_a_named_error_not_a_raw_one(rng):
    with refused(TypeError, "rng", "numpy.random.Generator", "NoneType"):
        gradcheck.directional_check(lambda: 0.0, {"W": np.ones(2)}, {"W": np.ones(2)},
                                    None)
    with refused(TypeError, "model", "lstm_core.train.SequenceModel", "dict"):
        torch_lstm.SequenceModel.from_numpy(numpy_lstm.init_lstm(2, 3, rng=rng))
    with refused(RuntimeError, "forward before backward"):
        train.SequenceModel(2, 3, 1, rng=rng).backward(np.zeros((1, 1, 1)))
    with refused(ValueError, "peepholes=True", "cell='lstm'"):
        train.SequenceModel(2, 3, 1, cell="rnn", peepholes=True, rng=rng)
    with refused(ValueError, "forget_gate=False", "cell='lstm'"):
        torch_lstm.SequenceModel(2, 3, 1, cell="rnn", forget_gate=False)
    with refused(TypeError, "peepholes must be True or False", "'no'"):
        numpy_lstm.init_lstm(2, 3, peepholes="no", rng=rng)
    for make in (train.SequenceModel, torch_lstm.SequenceModel):
        kw = {"rng": rng} if make is train.SequenceModel else {}
        with refused(TypeError, "peepholes must be True or False", "'yes'"):
            make(2, 3, 1, cell="rnn", peepholes="yes", **kw)
    with refused(ValueError, "device", "'gpu0'"):
        LSTM(2, 3, device="gpu0")
    with refused(ValueError, "lr must be a finite number", "too large"):
        train.SGD(lr=10 ** 400)


def test_arguments_checked_nowhere_else_are_named(rng, tmp_path):
    """Each call here reaches a check of its own (see tools/check_mutations.py)."""
    model = train.SequenceModel(2, 3, 1, rng=rng)
    W_hy = model.params["W_hy"]
    for bad, named in ((np.ones((1, 4)), "params['W_hy'] must have shape (O, 3)"),
                       (W_hy.astype(np.float32), "params['W_hy'] must be float64"),
                       (W_hy * np.nan, "params['W_hy'] must hold finite")):
        model.params["W_hy"] = bad
        with refused((TypeError, ValueError), named):
            model.forward(np.zeros((4, 2, 2)))
    model.params["W_hy"], model.params["b_y"] = W_hy, np.ones(2)
    with refused(ValueError, "params['b_y'] must have shape (1,)"):
        model.forward(np.zeros((4, 2, 2)))
    with refused(TypeError, "state must be a pair (h0, c0)"):
        train.SequenceModel(2, 3, 1, rng=rng).forward(np.zeros((4, 2, 2)), "h")
    with refused(ValueError, "model has no parameters"):
        train.predict(torch.nn.Identity(), np.zeros((4, 2, 2)))
    with refused(TypeError, "onehot must be a NumPy array"):
        data.decode("BTSXSE")
    with refused(TypeError, "params and grads must be dicts"):
        gradcheck.check_grads(lambda: 0.0, [np.ones(2)], [np.ones(2)])
    with refused(TypeError, "f must be a function"):
        gradcheck.numerical_grad("loss", np.ones(2))
    io.save_params(tmp_path / "p.npz", {"W": np.ones(2)})
    with refused(TypeError, "expected_keys", "str 'W'"):
        io.load_params(tmp_path / "p.npz", expected_keys="W")
    np.save(tmp_path / "a.npy", np.ones(2))
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")
    with refused(ValueError, "single .npy array"):
        io.load_params(tmp_path / "a.npz")
    X, Y = sine_data()
    with refused(ValueError, "config.early_stop_every needs a test set"):
        train.fit(model_for("numpy"), X, Y, train.TrainConfig(
            epochs=1, batch_size=4, early_stop_every=1))
    with refused(TypeError, "params must be a dict"):
        torch_model().load_arrays([np.ones(2)])
    rnn = torch_model(2, 3, 1, cell="rnn")
    with refused(ValueError, "state must have shape (1, 2, 3)"):
        rnn(torch.zeros(4, 2, 2, dtype=torch.float64), torch.zeros(2, 3,
                                                                dtype=torch.float64))
    with refused(ValueError, "state must hold finite"):
        rnn(torch.zeros(4, 2, 2, dtype=torch.float64),
            torch.full((1, 2, 3), np.nan, dtype=torch.float64))
    import matplotlib
    matplotlib.use("Agg")
    from lstm_core import viz
    with refused(TypeError, "fig must be a matplotlib Figure", "str"):
        viz.player("figure", lambda k: None, 2, alt="a wave")


@pytest.mark.parametrize("call, error, named", [
    (lambda p, H: p | {"W_hh": np.ones((5 * H, H))}, ValueError, "params['W_hh']"),
    (lambda p, H: p | {"W_hh": np.ones((2 * H, H))}, ValueError, "params['W_hh']"),
    (lambda p, H: p | {"W_hh": p["W_hh"].astype(np.float32)}, TypeError, "one dtype"),
])
def test_a_parameter_dict_no_layout_can_read_is_named(rng, call, error, named):
    p = numpy_lstm.init_lstm(2, 3, rng=rng)
    with refused(error, named, "(4H, H)" if error is ValueError else "W_hh"):
        numpy_lstm.lstm_forward(np.zeros((4, 2, 2)), call(p, 3))


@pytest.mark.parametrize("x_range, error, named", [
    ((0.0,), TypeError, "x_range must be a pair"), (5.0, TypeError, "x_range"),
    ("ab", TypeError, "x_range must be a pair"),
    ((-np.inf, 0.0), ValueError, "x_range[0]"), (("a", "b"), TypeError, "x_range[0]"),
    ((1.0, 1.0), ValueError, "low < high")])
def test_sine_windows_names_a_bad_range(x_range, error, named):
    with refused(error, named):
        data.sine_windows(x_range=x_range)


def test_float32_parameters_with_a_float64_state_are_refused(rng):
    p = numpy_lstm.init_lstm(2, 3, rng=rng, dtype=np.float32)
    X = np.zeros((4, 2, 2), np.float32)
    with refused(TypeError, "c0 must be float32", "float64"):
        numpy_lstm.lstm_forward(X, p, None, np.zeros((2, 3)))
    with refused(TypeError, "h0 must be float32"):
        numpy_lstm.lstm_forward(X, p, np.zeros((2, 3)))
    with refused(TypeError, "X must be float32"):
        numpy_lstm.lstm_forward(X.astype(np.float64), p)
    state = torch.zeros(1, 2, 3, dtype=torch.float64)
    with refused(TypeError, "state c0", "float64"):
        LSTM(2, 3)(torch.zeros(4, 2, 2), (state.float(), state))


# ----------------------------------------------------------------------------- threads

def test_two_threads_on_one_numpy_model_get_their_own_gradients():
    """Each thread's forward is followed by the other's before either backward; the
    gradients equal those of the two calls run one after the other."""
    model = train.SequenceModel(2, 5, 3, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    Xs = [rng.normal(size=(6, 4, 2)), rng.normal(size=(9, 2, 2))]
    dYs = [rng.normal(size=(6, 4, 3)), rng.normal(size=(9, 2, 3))]
    alone = []
    for X, dY in zip(Xs, dYs):
        model.forward(X)
        alone.append(model.backward(dY))
    barrier, together, errors = threading.Barrier(2), [None, None], []

    def work(k):
        try:
            model.forward(Xs[k])
            barrier.wait()                 # both forwards done, neither backward
            together[k] = model.backward(dYs[k])
        except BaseException as err:
            errors.append(err)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for a, b in zip(alone, together):
        assert set(a) == set(b)
        for k in a:
            np.testing.assert_allclose(b[k], a[k], rtol=1e-12, atol=1e-14)
