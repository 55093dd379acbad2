"""lstm_core.bench: the runners compute what they claim, timings are interleaved."""
import pytest
import torch

from lstm_core import bench
from lstm_core.torch_lstm import LSTM


def test_flops_count_the_matrix_products():
    T, B, I, H = 3, 2, 5, 7
    forward = 2 * T * B * 4 * H * I + 2 * T * B * 4 * H * H   # input + recurrent
    assert bench.lstm_flops(T, B, I, H) == 3 * forward


def test_autograd_loop_is_the_peephole_lstm():
    torch.manual_seed(0)
    lstm = LSTM(3, 4, peepholes=True, dtype=torch.float64)
    X = torch.randn(5, 2, 3, dtype=torch.float64)
    expected = lstm(X)[0]
    got = bench.autograd_loop(X, dict(lstm.named_parameters()))
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", bench.IMPLEMENTATIONS)
def test_every_runner_runs_forward_and_backward(name):
    run = bench.make_runner(name, T=3, B=2, I=3, H=4)
    run()
    run()                         # again: gradients are reset, nothing piles up


def test_runner_names_and_devices_are_checked():
    with pytest.raises(ValueError, match="name must be one of"):
        bench.make_runner("cudnn", T=2, B=1, I=1, H=1)
    with pytest.raises(ValueError, match="numpy implementation runs on the CPU"):
        bench.make_runner("numpy", T=2, B=1, I=1, H=1, device="cuda")


def test_time_interleaved_rotates_the_order():
    calls = []
    runners = {n: (lambda n=n: calls.append(n)) for n in "abc"}
    times = bench.time_interleaved(runners, repeats=3, warmup=1)
    assert {n: len(t) for n, t in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(s > 0 for t in times.values() for s in t)
    assert calls[:3] == list("abc")                   # the warm-up round
    # then one Timer sample each (its warm-up runs + the timed one), rotated
    k = bench.TIMER_WARMUP + 1
    samples = "".join(calls[3::k])
    assert all(calls[3 + j:3 + j + k] == [c] * k for j, c in
               zip(range(0, 9 * k, k), samples))
    assert samples == "abc" + "bca" + "cab"


def test_time_interleaved_times_at_torchs_thread_count():
    seen = []
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        bench.time_interleaved({"a": lambda: seen.append(torch.get_num_threads())},
                               repeats=1, warmup=0)
    finally:
        torch.set_num_threads(before)
    assert set(seen) == {1}
    if before > 1:
        seen.clear()
        bench.time_interleaved({"a": lambda: seen.append(torch.get_num_threads())},
                               repeats=1, warmup=0)
        assert set(seen) == {before}       # not Timer's default of one thread


def test_bf16_hardware_is_named_or_none():
    assert bench.bf16_hardware() in (None, "AMX", "AVX512-BF16")


def test_autocast_row_runs_in_bfloat16_with_a_bfloat16_sized_error():
    run, info = bench.autocast_runner(T=4, B=2, I=3, H=8)
    run()
    assert info["output_dtype"] == "torch.bfloat16"
    assert 1e-4 < info["max_error"] < 0.05      # 8-bit mantissa: about 4e-3 per op


def test_matmul_peak_is_a_rate():
    peak = bench.matmul_peak(n=64, repeats=2)
    assert 1e6 < peak < 1e15


def test_compiled_row_is_checked_before_it_is_timed(monkeypatch):
    # torch.compile itself takes minutes here (benchmarks/bench_lstm.py --compile);
    # the check around it is tested with stand-ins for the compiled function.
    monkeypatch.setattr(torch, "compile", lambda fn: fn)           # exact
    run, info = bench.compiled_loop_runner(T=3, B=2, I=3, H=4)
    run()
    assert info["max_error"] == 0 and info["compile_seconds"] > 0

    def wrong(X, p):
        return bench.autograd_loop(X, p) * 1.01
    monkeypatch.setattr(torch, "compile", lambda fn: wrong)
    with pytest.raises(AssertionError, match="differs from the eager one"):
        bench.compiled_loop_runner(T=3, B=2, I=3, H=4)
