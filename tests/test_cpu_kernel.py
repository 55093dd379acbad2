"""Tests for lstm_core.cpu_kernel: a build cache that is safe to share, no hang, no
silent fallback, and the kernel (built without -ffast-math, its activations from
ATen's vector types) equal to the pure-PyTorch path where vectorised exp and tanh
could make it differ (huge pre-activations, saturated gates, NaN and infinities)."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from lstm_core import cpu_kernel, torch_lstm
from lstm_core.numpy_lstm import init_lstm
from lstm_core.torch_lstm import LSTM

from kernel_helpers import require_kernel


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty kernel cache and no module loaded in this process."""
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.delenv("LSTM_CORE_PURE_TORCH", raising=False)
    monkeypatch.setattr(cpu_kernel, "_LOADED", {})
    return tmp_path


def peephole_module(dtype=torch.float64, scale=1.0):
    params = init_lstm(4, 6, peepholes=True, rng=np.random.default_rng(0),
                       dtype=np.float64)
    module = LSTM.from_numpy({k: v * scale for k, v in params.items()})
    return module.to(dtype)


# ------------------------------------------------------------------ the build key

def test_build_folder_is_keyed_by_what_changes_the_binary(fresh, monkeypatch):
    base = cpu_kernel.build_dir()
    assert base.parent == fresh and base.name.startswith("lstm_core_peephole_")
    assert base.name.isidentifier()                 # it is also the module name
    assert cpu_kernel.build_dir() == base            # stable
    changes = {
        "FLAGS": (cpu_kernel, "FLAGS", cpu_kernel.FLAGS + ("-g",)),
        "cpu": (cpu_kernel, "_cpu_features", lambda: "avx2 fma sse4_2"),
        "torch": (torch, "__version__", "9.9.9"),
        "compiler": (cpu_kernel, "_compiler", lambda: ("/opt/other/c++", "g++ 99")),
    }
    for what, (obj, name, value) in changes.items():
        with monkeypatch.context() as m:
            m.setattr(obj, name, value)
            assert cpu_kernel.build_dir() != base, what


def test_source_change_changes_the_key(fresh, monkeypatch, tmp_path):
    other = tmp_path / "peephole_cpu.cpp"
    other.write_bytes(cpu_kernel.SOURCE.read_bytes() + b"\n// edited\n")
    base = cpu_kernel.build_dir()
    monkeypatch.setattr(cpu_kernel, "SOURCE", other)
    assert cpu_kernel.build_dir() != base


# ------------------------------------------------------ failing fast, never hanging

def test_without_a_compiler_it_warns_at_once_and_falls_back(fresh, monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    start = time.monotonic()
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler.*pure-PyTorch path"):
        assert torch_lstm.cpu_kernel() is None
    assert time.monotonic() - start < 5
    Hs, _ = peephole_module()(torch.zeros(3, 2, 4, dtype=torch.float64))
    assert type(Hs.grad_fn).__name__ == "_PeepholeLSTMBackward"


def test_a_failed_build_is_not_retried_and_says_where_its_log_is(fresh):
    folder = cpu_kernel.build_dir()
    folder.mkdir(parents=True)
    (folder / "failed").write_text("RuntimeError: error building extension\n")
    start = time.monotonic()
    with pytest.warns(RuntimeWarning, match="build failed before.*build.log"):
        assert cpu_kernel.load() is None
    assert time.monotonic() - start < 5


def test_pure_torch_switch_skips_the_kernel(fresh, monkeypatch):
    monkeypatch.setenv("LSTM_CORE_PURE_TORCH", "1")
    assert cpu_kernel.load() is None
    assert not any(fresh.iterdir())                  # nothing was built


def test_a_build_held_by_a_live_process_times_out(fresh, monkeypatch):
    # Another process holds the lock (as a build in progress does); the build
    # process gives up after WAIT_S instead of waiting for ever.
    folder = cpu_kernel.build_dir()
    folder.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from lstm_core.cpu_kernel import _Lock; "
         f"l = _Lock({str(cpu_kernel._lock_path(folder))!r}); "
         "assert l.acquire(5); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert cpu_kernel._busy(folder)
        monkeypatch.setattr(cpu_kernel, "WAIT_S", 1)
        start = time.monotonic()
        assert cpu_kernel._build(folder) == 3
        assert time.monotonic() - start < 10
    finally:
        holder.kill()
        holder.wait()
    assert not cpu_kernel._busy(folder)              # released when its holder died


def test_a_killed_build_leaves_nothing_that_blocks_the_next(fresh, monkeypatch):
    # A build killed half-way leaves torch's own `lock` file (which makes
    # torch.utils.cpp_extension wait for ever) and partial objects, but no
    # `complete` marker: the next build empties the folder first.
    folder = cpu_kernel.build_dir()
    folder.mkdir(parents=True)
    for leftover in ("lock", "peephole_cpu.o", "build.ninja"):
        (folder / leftover).write_text("")
    seen = {}

    def fake_load(name, sources, extra_cflags, build_directory, verbose, **kw):
        seen["files"] = sorted(os.listdir(build_directory))
        seen["name"], seen["flags"] = name, extra_cflags

    from torch.utils import cpp_extension
    monkeypatch.setattr(cpp_extension, "load", fake_load)
    saved = os.dup(1), os.dup(2)                     # _build redirects both
    try:
        assert cpu_kernel._build(folder) == 0
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
    assert seen["files"] == ["build.log"]            # the leftovers are gone
    assert seen["name"] == folder.name and "-march=native" in seen["flags"]
    assert (folder / "complete").exists()


# ------------------------------------- vector activations: as torch's own functions

SPECIAL = [float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e-30, -1e-30,
           1e-45, 0.5, -0.5, 9.0, -9.0, 20.0, -20.0, 88.7, -88.7, 89.0, -104.0,
           710.0, -745.0, 1e4, -1e4, 3e38, -3e38]


def test_build_flags_have_no_fast_math():
    assert not any("fast-math" in f or f == "-Ofast" for f in cpu_kernel.flags())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_activations_keep_nan_and_infinities_as_torch(dtype):
    # NaN in, NaN out; sigmoid(+-inf) = 1, 0; tanh(+-inf) = +-1; no NaN from a
    # large finite input (exp overflow), signed zeros kept. 3 copies + 5 values:
    # whole vectors and a partial one at the end, every lane position.
    kernel = require_kernel()
    x = torch.tensor(SPECIAL * 3 + SPECIAL[:5], dtype=dtype)
    s, t = kernel.activations(x)
    for got, want in ((s, torch.sigmoid(x)), (t, torch.tanh(x))):
        assert torch.equal(got.isnan(), want.isnan())
        assert torch.equal(got.isnan(), x.isnan())
        ok = ~x.isnan()
        assert torch.equal(torch.signbit(got[ok]), torch.signbit(want[ok]))
        assert torch.equal(got[x.isinf()], want[x.isinf()])
    assert torch.equal(s[x == float("inf")], torch.ones_like(s[x == float("inf")]))
    assert torch.equal(t[x == -float("inf")], -torch.ones_like(t[x == -float("inf")]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_activations_are_within_two_ulp_of_torch(dtype):
    kernel = require_kernel()
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(10_000, generator=g, dtype=dtype) * k
                   for k in (1e-3, 1.0, 5.0, 30.0)] + [torch.tensor(SPECIAL[3:],
                                                                    dtype=dtype)])
    s, t = kernel.activations(x)
    eps = torch.finfo(dtype).eps
    for got, want in ((s, torch.sigmoid(x)), (t, torch.tanh(x))):
        ulp = eps * want.abs().clamp_min(torch.finfo(dtype).tiny)  # about one ulp
        assert ((got - want).abs() <= 2 * ulp).all()


def test_kernel_info_names_its_vectors():
    kernel = require_kernel()
    cap, lanes, threads = kernel.info()
    assert cap in ("avx512", "avx2", "default")
    assert int(lanes) * 4 in (16, 32, 64)          # float32 lanes of 128-512 bits
    assert threads in ("openmp", "none")


def test_nan_never_reaches_the_kernel_from_the_module():
    # The module refuses non-finite input on the CPU before any kernel runs.
    module = peephole_module(torch.float32)
    X = torch.zeros(3, 2, 4)
    X[1, 0, 2] = float("nan")
    with pytest.raises(ValueError, match="X must hold finite values"):
        module(X)


@pytest.mark.parametrize("chunks", [1, 2, 3, 6])
def test_any_block_count_gives_the_same_numbers(chunks):
    # Blocks of units change the layout of the gate buffers, not the results.
    kernel = require_kernel()
    torch.manual_seed(0)
    module = peephole_module(torch.float64)
    X = torch.randn(5, 3, 4, dtype=torch.float64)
    h0 = c0 = X.new_zeros(3, 6)
    w = [module.w_ci, module.w_cf, module.w_co]
    b = module.b_ih + module.b_hh
    with torch.no_grad():
        ref = kernel.forward(X, h0, c0, module.W_ih, module.W_hh, b, *w, chunks=1)
        out = kernel.forward(X, h0, c0, module.W_ih, module.W_hh, b, *w,
                             chunks=chunks)
        for u, v in zip(ref[:2], out[:2]):
            torch.testing.assert_close(u, v, rtol=1e-13, atol=1e-13)
        dH = torch.randn_like(ref[0])
        z = X.new_zeros(3, 6)

        def backward(saved, k):        # saved: forward's (Hs, C, gates, tanh_C)
            Hs, C, gates, tanh_C = saved
            return kernel.backward(dH, z, z, X, h0, c0, module.W_ih, module.W_hh,
                                   *w, gates, Hs, C, tanh_C, True, chunks=k)
        for u, v in zip(backward(ref, 1), backward(out, chunks)):
            torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)


# ------------------------------------------------ accuracy: same as the pure path

def run_both(module, X):
    """Outputs and gradients on the C++ kernel and on the pure-PyTorch Function."""
    out = {}
    for path, fn in (("cpp", torch_lstm._FusedPeepholeLSTM),
                     ("pure", torch_lstm._PeepholeLSTM)):
        module.zero_grad()
        Xg = X.clone().requires_grad_()
        h0 = c0 = X.new_zeros(X.shape[1], module.hidden_size)
        Hs, h_T, c_T = fn.apply(Xg, h0, c0, module.W_ih, module.W_hh, module.b_ih,
                                module.b_hh, module.w_ci, module.w_cf, module.w_co)
        (Hs.sum() + c_T.sum()).backward()
        out[path] = [Hs.detach(), c_T.detach(), Xg.grad] + \
            [p.grad.clone() for p in module.parameters()]
    return out["cpp"], out["pure"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1.0, 100.0, 1e4], ids=["normal", "saturated", "1e4"])
def test_kernel_equals_pure_path_up_to_huge_preactivations(dtype, scale):
    require_kernel()
    torch.manual_seed(0)
    module = peephole_module(dtype)
    X = torch.randn(6, 3, 4, dtype=dtype) * scale    # pre-activations ~ +-scale
    with torch.no_grad():
        a = X.reshape(-1, 4) @ module.W_ih.t()
    assert a.abs().max() > scale / 3
    cpp, pure = run_both(module, X)
    tol = {torch.float32: 1e-5, torch.float64: 1e-12}[dtype]
    for k, (u, v) in enumerate(zip(cpp, pure)):
        assert torch.isfinite(u).all(), k
        assert torch.allclose(u, v, rtol=tol, atol=tol * max(1.0, v.abs().max())), k
    if scale >= 100:                                 # saturated: gates at 0 or 1
        gates = torch.sigmoid(a)
        assert ((gates < 1e-6) | (gates > 1 - 1e-6)).float().mean() > 0.5


def test_float32_stays_at_float32_rounding():
    # Vectorised exp and tanh: float32 stays within float32 rounding of float64.
    require_kernel()
    m64, m32 = peephole_module(torch.float64), peephole_module(torch.float32)
    X = torch.randn(5, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out64, out32 = m64(X)[0], m32(X.float())[0]
    assert type(out32.grad_fn).__name__ == "_FusedPeepholeLSTMBackward"
    out64.sum().backward()
    out32.sum().backward()
    assert (out32.double() - out64).abs().max() < 1e-5
    for (name, p64), p32 in zip(m64.named_parameters(), m32.parameters()):
        err = (p32.grad.double() - p64.grad).abs().max() / p64.grad.abs().max()
        assert err < 1e-5, name


# --------------------------------------- a real build: killed, then two at once

FORWARD = """
import torch
from lstm_core import torch_lstm
m = torch_lstm.LSTM(3, 4, peepholes=True)
print(type(m(torch.zeros(2, 1, 3))[0].grad_fn).__name__)
"""


def test_killed_build_then_two_checkouts_at_once(tmp_path):
    # One shared, empty cache. A first build is killed with its whole process
    # group (as a restarted Jupyter kernel is); then two processes (two
    # checkouts of the same source) ask for the kernel at the same moment: one
    # builds, the other waits for it, both run the C++ path, one folder results.
    require_kernel()
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path)}
    env.pop("LSTM_CORE_PURE_TORCH", None)
    first = subprocess.Popen([sys.executable, "-c", FORWARD], env=env,
                             start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.suffix == ".lock" for p in tmp_path.iterdir()) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)                                    # the compiler is running now
    os.killpg(first.pid, 9)
    first.wait()
    assert not any((d / "complete").exists() for d in tmp_path.iterdir() if d.is_dir())
    start = time.monotonic()
    runs = [subprocess.Popen([sys.executable, "-c", FORWARD], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outs = [r.communicate(timeout=cpu_kernel.WAIT_S + cpu_kernel.BUILD_S) for r in runs]
    for (out, err), r in zip(outs, runs):
        assert r.returncode == 0, err
        assert out.strip() == "_FusedPeepholeLSTMBackward", err
        assert "RuntimeWarning" not in err, err
    messages = "".join(err for _, err in outs)
    assert messages.count("lstm_core: compiling the C++ kernel") == 1, messages
    assert messages.count("waiting for another process") == 1, messages
    builds = [d for d in tmp_path.iterdir() if d.is_dir()]
    assert len(builds) == 1 and (builds[0] / "complete").exists()
    print(f"killed build, then a build shared by two processes: "
          f"{time.monotonic() - start:.0f} s")
