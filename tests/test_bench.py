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
    assert all(s >= 0 for t in times.values() for s in t)
    rounds = ["".join(calls[k:k + 3]) for k in range(0, len(calls), 3)]
    assert rounds == ["abc", "abc", "bca", "cab"]     # warm-up, then rotated


def test_matmul_peak_is_a_rate():
    peak = bench.matmul_peak(n=64, repeats=2)
    assert 1e6 < peak < 1e15
