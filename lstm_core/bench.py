"""Timing LSTM implementations side by side (imports torch).

Shared by `benchmarks/bench_lstm.py` and the speed chapter. Every implementation
runs forward plus backward of one LSTM layer on X (T, B, I) with the loss sum(H):

    numpy                 lstm_core.numpy_lstm, peepholes, hand-written backward (CPU)
    torch_lstm            lstm_core.torch_lstm.LSTM, no peepholes (torch's fused kernel)
    torch_lstm_peepholes  lstm_core.torch_lstm.LSTM with peepholes (custom Function)
    nn.LSTM               torch.nn.LSTM (oneDNN on CPU, cuDNN on CUDA)
    autograd_loop         the naive baseline: a Python loop of torch operations with
                          peepholes, differentiated by autograd

Extra rows of the benchmark (not in IMPLEMENTATIONS): `compiled_loop_runner`, the
autograd loop compiled by torch.compile (inductor), and `autocast_runner`, nn.LSTM
under bfloat16 autocast, where `bf16_hardware` finds native bfloat16 arithmetic.

Timings are interleaved (one sample of each in turn, the order rotating, repeated)
and summarised by the median, so a slow phase of the machine hits every
implementation alike; each sample is taken by torch.utils.benchmark.Timer.
FLOPs count the matrix products only: forward 2*T*B*4H*(I+H), backward twice that.
"""
import time

import numpy as np
import torch

from . import numpy_lstm
from . import validate as V
from .torch_lstm import LSTM

IMPLEMENTATIONS = ("numpy", "torch_lstm", "torch_lstm_peepholes", "nn.LSTM",
                   "autograd_loop")


def lstm_flops(T, B, I, H):
    """Matrix-product FLOPs of forward plus backward (backward = 2 x forward)."""
    T, B, I, H = (V.positive_int(n, v) for n, v in zip("TBIH", (T, B, I, H)))
    return 3 * 2 * T * B * 4 * H * (I + H)


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def autograd_loop(X, p):
    """Peephole LSTM as a plain per-step loop of torch operations (naive baseline)."""
    T, B, _ = X.shape
    h = c = X.new_zeros(B, p["W_hh"].shape[1])
    out = []
    for t in range(T):
        a = X[t] @ p["W_ih"].t() + p["b_ih"] + h @ p["W_hh"].t() + p["b_hh"]
        i, f, g, o = a.chunk(4, 1)
        i = torch.sigmoid(i + p["w_ci"] * c)
        f = torch.sigmoid(f + p["w_cf"] * c)
        c = f * c + i * torch.tanh(g)
        h = torch.sigmoid(o + p["w_co"] * c) * torch.tanh(c)
        out.append(h)
    return torch.stack(out)


def make_runner(name, T, B, I, H, *, device="cpu", dtype=torch.float32, seed=0):
    """A zero-argument function running forward + backward once (synchronised)."""
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"name must be one of {IMPLEMENTATIONS}, got {name!r}")
    T, B, I, H = (V.positive_int(n, v) for n, v in zip("TBIH", (T, B, I, H)))
    V.torch_dtype("dtype", dtype)
    device = V.torch_device("device", device) or torch.device("cpu")
    seed = V.nonnegative_int("seed", seed)
    if name == "numpy" and device.type != "cpu":
        raise ValueError(f"the numpy implementation runs on the CPU, not {device}")
    torch.manual_seed(seed)
    X = torch.randn(T, B, I, device=device, dtype=dtype)
    if name == "numpy":
        params = LSTM(I, H, peepholes=True, dtype=dtype).to_numpy()
        Xn = X.numpy()

        def run():
            Hs, _, cache = numpy_lstm.lstm_forward(Xn, params)
            numpy_lstm.lstm_backward(np.ones_like(Hs), cache)
        return run
    if name == "nn.LSTM":
        module = torch.nn.LSTM(I, H, device=device, dtype=dtype)
    else:
        module = LSTM(I, H, peepholes=name != "torch_lstm", device=device, dtype=dtype)
    params = dict(module.named_parameters())
    forward = (lambda: autograd_loop(X, params)) if name == "autograd_loop" \
        else (lambda: module(X)[0])

    def run():
        module.zero_grad(set_to_none=True)
        forward().sum().backward()
        _sync(device)
    return run


TIMER_WARMUP = 2    # runs torch.utils.benchmark.Timer.timeit(1) makes before its one


def time_interleaved(runners, repeats=5, warmup=1):
    """{name: run} -> {name: list of seconds}, one sample of each in turn.

    Each sample is `torch.utils.benchmark.Timer(...).timeit(1)` at torch's current
    thread count (Timer's default would be one thread): it runs the function
    TIMER_WARMUP times, then once timed (on CUDA its clock synchronises). Timer
    has no interleave of its own; here the order rotates from one round to the
    next, so each implementation follows each other one equally often: whatever
    a run leaves behind (cold caches, NumPy's BLAS threads still spinning on the
    second core, torch's threads asleep) does not always hit the same neighbour,
    and a slow phase of the machine hits all of them alike.
    """
    from torch.utils.benchmark import Timer

    if not isinstance(runners, dict) or not runners:
        raise TypeError(f"runners must be a non-empty dict {{name: function}}, got "
                        f"{V.describe(runners)}")
    for name, run in runners.items():
        if not callable(run):
            raise TypeError(f"runners[{name!r}] must be callable, got {V.describe(run)}")
    repeats = V.positive_int("repeats", repeats)
    warmup = V.nonnegative_int("warmup", warmup)
    names = list(runners)
    for _ in range(warmup):
        for run in runners.values():
            run()
    threads = torch.get_num_threads()
    timers = {name: Timer("run()", globals={"run": run}, num_threads=threads)
              for name, run in runners.items()}
    times = {name: [] for name in runners}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(timers[name].timeit(1).times[0])
    return times


# --------------------------------------------------------------- extra rows

def compiled_loop_runner(T, B, I, H, *, seed=0, tol=1e-4):
    """(run, info) for `autograd_loop` compiled by torch.compile (inductor, CPU).

    The first call compiles forward and backward; info["compile_seconds"] is its
    time. Before that returns, outputs and gradients are compared with the eager
    loop on the same weights (info["max_error"]: largest difference relative to
    the largest entry); over `tol` raises, so a wrong compile is never timed."""
    T, B, I, H = (V.positive_int(n, v) for n, v in zip("TBIH", (T, B, I, H)))
    torch.manual_seed(seed)
    X = torch.randn(T, B, I)
    params = dict(LSTM(I, H, peepholes=True).named_parameters())
    compiled = torch.compile(autograd_loop)

    def grads(fn):
        for p in params.values():
            p.grad = None
        out = fn(X, params)
        out.sum().backward()
        return [out.detach()] + [p.grad.clone() for p in params.values()]

    start = time.perf_counter()
    got = grads(compiled)
    compile_seconds = time.perf_counter() - start
    want = grads(autograd_loop)
    err = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(got, want))
    if not err < tol:
        raise AssertionError(f"torch.compile'd autograd loop differs from the eager "
                             f"one by {err:.1e} (> {tol:.0e}); not timing it")

    def run():
        for p in params.values():
            p.grad = None
        compiled(X, params).sum().backward()
    return run, {"compile_seconds": compile_seconds, "max_error": err}


def bf16_hardware():
    """The CPU's native bfloat16 arithmetic, or None: "AMX" (Intel's tile matrix
    units) or "AVX512-BF16" (bfloat16 dot-product instructions, as on Intel
    Cooper Lake or AMD Zen 4), which oneDNN uses for bfloat16 products. Without
    either, bfloat16 is emulated and slower than float32, so not benchmarked."""
    if torch.cpu._is_amx_tile_supported():
        return "AMX"
    if torch.cpu._is_avx512_bf16_supported():
        return "AVX512-BF16"
    return None


def autocast_runner(T, B, I, H, *, seed=0):
    """(run, info) for torch.nn.LSTM forward + backward under
    torch.autocast("cpu", dtype=torch.bfloat16); info["max_error"] is the
    largest difference of the outputs and gradients from float32 (relative to
    the largest entry): what bfloat16's 8-bit mantissa costs."""
    T, B, I, H = (V.positive_int(n, v) for n, v in zip("TBIH", (T, B, I, H)))
    torch.manual_seed(seed)
    X = torch.randn(T, B, I)
    module = torch.nn.LSTM(I, H)

    def grads(autocast):
        module.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = module(X)[0]
        out.float().sum().backward()
        return out.dtype, [out.detach().float()] + [p.grad.clone()
                                                    for p in module.parameters()]

    (dtype, got), (_, want) = grads(True), grads(False)
    err = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(got, want))

    def run():
        module.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = module(X)[0]
        out.float().sum().backward()
    return run, {"max_error": err, "output_dtype": str(dtype)}


def matmul_peak(device="cpu", dtype=torch.float32, n=1024, repeats=30):
    """Best measured FLOP/s of an n x n matrix product: the machine's practical peak.

    The best of many runs after a warm-up, so a busy moment of the machine lowers
    it less (a reading that is too low makes fractions of it exceed 100 %).
    """
    n, repeats = V.positive_int("n", n), V.positive_int("repeats", repeats)
    V.torch_dtype("dtype", dtype)
    device = V.torch_device("device", device) or torch.device("cpu")
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best
