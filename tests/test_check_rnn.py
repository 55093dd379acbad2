"""lstm_core.check's RNN exercise checks (check_rnn): a right answer passes and
says so; each usual mistake is diagnosed by name, without the answer's code."""
import numpy as np
import pytest
import torch

from lstm_core import check, numpy_lstm
from lstm_core.check import CheckError


def message(fn, checker):
    with pytest.raises(CheckError) as err:
        checker(fn)
    return str(err.value)


# ----------------------------------------------------------------- RNN backward

def reader_backward(dH, cache, deriv="tanh", back="W_hh", pair="prev", carry=True,
                    mean=False, transpose_dW=False, returns="all"):
    """A reader's tanh-RNN BPTT written from the equations, one mistake at a time."""
    X, p, Hs, h0 = cache["X"], cache["params"], cache["H"], cache["h0"]
    T = len(Hs)
    H_prev = np.concatenate([h0[None], Hs[:-1]])
    d = {"tanh": 1 - Hs ** 2, "none": np.ones_like(Hs), "sigmoid": Hs * (1 - Hs)}[deriv]
    dA, dh = np.zeros_like(Hs), np.zeros_like(h0)
    for t in reversed(range(T)):
        dA[t] = (dh + dH[t]) * d[t]
        dh = dA[t] @ (p["W_hh"] if back == "W_hh" else p["W_hh"].T)
        if not carry:
            dh = 0 * dh
    Hp = H_prev if pair == "prev" else Hs
    dW_hh = sum(dA[t].T @ Hp[t] for t in range(T))
    grads = {"W_ih": sum(dA[t].T @ X[t] for t in range(T)),
             "W_hh": dW_hh.T if transpose_dW else dW_hh,
             "b_ih": dA.sum((0, 1)), "b_hh": dA.sum((0, 1))}
    if mean:
        grads = {k: v / T for k, v in grads.items()}
    if returns == "grads":
        return grads
    return grads, dA @ p["W_ih"], dh


def test_a_right_rnn_backward_passes(capsys):
    check.check_rnn_backward(reader_backward)
    check.check_rnn_backward(lambda dH, c: reader_backward(dH, c, returns="grads"))
    check.check_rnn_backward(lambda dH, c: numpy_lstm.rnn_backward(dH, c))
    assert capsys.readouterr().out.count("RNN backward OK") == 3


@pytest.mark.parametrize("mistake, words", [
    (dict(deriv="none"), ["dW_ih", "without the tanh derivative"]),
    (dict(deriv="sigmoid"), ["the sigmoid's"]),
    (dict(back="W_hh.T"), ["one time step: dh0", "transposed the wrong way"]),
    (dict(pair="now"), ["dW_hh pairs the error at step t with h_t"]),
    (dict(transpose_dW=True), ["dW_hh is transposed"]),
    (dict(carry=False), ["one time step: dh0", "not carried back in time"]),
    (dict(back="W_hh.T", returns="grads"), ["through time", "dW_hh",
                                            "transposed the wrong way"]),
    (dict(carry=False, returns="grads"), ["through time", "not carried back"]),
    (dict(pair="now", returns="grads"), ["one time step", "dW_hh pairs"]),
])
def test_rnn_backward_mistakes_are_named(mistake, words):
    msg = message(lambda dH, c: reader_backward(dH, c, **mistake),
                  check.check_rnn_backward)
    for w in words:
        assert w in msg, msg
    assert "@" not in msg and "np." not in msg                # no code of the answer


def test_a_mean_over_time_is_reported_as_a_scale():
    msg = message(lambda dH, c: reader_backward(dH, c, mean=True),
                  check.check_rnn_backward)
    assert "through time" in msg and "0.2 times the right value" in msg


def test_rnn_backward_shapes_keys_and_errors_are_reported():
    def bad_keys(dH, c):
        g, dX, dh = reader_backward(dH, c)
        return {"W": g["W_ih"]}, dX, dh
    assert "keys of params" in message(bad_keys, check.check_rnn_backward)

    def wrong_dX(dH, c):
        g, dX, dh = reader_backward(dH, c)
        return g, dX.transpose(0, 2, 1), dh
    assert "dX: shape" in message(wrong_dX, check.check_rnn_backward)
    msg = message(lambda dH, c: dH @ c["params"]["W_ih"].T, check.check_rnn_backward)
    assert msg.startswith("your RNN backward raised ValueError") and "W_ih is (H, I)" \
        in msg
    assert "must return the grads dict" in message(lambda dH, c: 3.0,
                                                   check.check_rnn_backward)


# ----------------------------------------------------------------- clipping

def reader_clip(grads, max_norm, how="global", in_place=False):
    if how == "value":
        return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}
    if how == "per array":
        return {k: g * min(1, max_norm / np.linalg.norm(g)) for k, g in grads.items()}
    norm = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
    scale = {"global": min(1, max_norm / norm), "always": max_norm / norm,
             "too small": min(1, 0.5 * max_norm / norm)}[how]
    if in_place:
        for g in grads.values():
            g *= scale
        return None
    return {k: g * scale for k, g in grads.items()}


def test_a_right_clip_passes_also_in_place_and_as_torch_does(capsys):
    check.check_clip(reader_clip)
    check.check_clip(lambda g, m: reader_clip(g, m, in_place=True))

    def with_torch(grads, max_norm):
        ts = {k: torch.zeros(v.shape, dtype=torch.float64, requires_grad=True)
              for k, v in grads.items()}
        for k, t in ts.items():
            t.grad = torch.from_numpy(grads[k].copy())
        torch.nn.utils.clip_grad_norm_(list(ts.values()), max_norm)
        return {k: t.grad.numpy() for k, t in ts.items()}
    check.check_clip(with_torch)
    assert capsys.readouterr().out.count("clipping OK") == 3


@pytest.mark.parametrize("how, words", [
    ("value", ["clipping by value", "keeping the direction"]),
    ("per array", ["its own norm", "global norm"]),
    ("always", ["below max_norm", "unchanged"]),
    ("too small", ["direction is kept", "must be max_norm"]),
])
def test_clip_mistakes_are_named(how, words):
    msg = message(lambda g, m: reader_clip(g, m, how), check.check_clip)
    for w in words:
        assert w in msg, msg


def test_clip_that_changes_the_direction_or_the_keys_is_named():
    def rotate(grads, max_norm):
        return {k: np.flip(g) * 0.01 for k, g in grads.items()}
    assert "changed the direction" in message(rotate, check.check_clip)
    assert "same keys" in message(lambda g, m: {"W_ih": g["W_ih"]}, check.check_clip)
    assert "(transposed?)" in message(
        lambda g, m: {k: v.T for k, v in g.items()}, check.check_clip)


# ----------------------------------------------------------------- truncated BPTT

def reader_tbptt(X, dH, p, k, carry=True, cut=True, size=0, every_chunk=True,
                 return_h=False):
    """A reader's k-step TBPTT of the tanh RNN on lstm_core's forward and backward."""
    T, step = len(X), k + size
    h = np.zeros((X.shape[1], p["W_hh"].shape[0]))
    if not cut:                                        # full BPTT, not truncated
        Hs, h, cache = numpy_lstm.rnn_forward(X, p, h)
        g = numpy_lstm.rnn_backward(dH, cache)[0]
        return (g, h) if return_h else g
    total = {n: np.zeros_like(v) for n, v in p.items()}
    for s in range(0, T, step):
        start = h if carry else np.zeros_like(h)
        Hs, h, cache = numpy_lstm.rnn_forward(X[s:s + step], p, start)
        g = numpy_lstm.rnn_backward(dH[s:s + step], cache)[0]
        total = {n: total[n] + g[n] if every_chunk else g[n] for n in total}
    return (total, h) if return_h else total


def test_a_right_tbptt_passes(capsys):
    check.check_tbptt(reader_tbptt)
    check.check_tbptt(lambda *a: reader_tbptt(*a, return_h=True))
    assert capsys.readouterr().out.count("truncated BPTT OK") == 2


@pytest.mark.parametrize("mistake, words", [
    (dict(cut=False), ["k = 3", "full BPTT gradient", "chunk edges"]),
    (dict(carry=False), ["starts from zeros in every chunk", "carries on"]),
    (dict(every_chunk=False), ["only the last chunk's gradient"]),
    (dict(size=1), ["one step too long"]),
    (dict(size=-1), ["one step too short"]),
])
def test_tbptt_mistakes_are_named(mistake, words):
    msg = message(lambda *a: reader_tbptt(*a, **mistake), check.check_tbptt)
    for w in words:
        assert w in msg, msg


def test_tbptt_with_a_wrong_final_state_is_named():
    def wrong_h(X, dH, p, k):
        g, h = reader_tbptt(X, dH, p, k, return_h=True)
        return g, 0 * h
    assert "h_T is not the final state" in message(wrong_h, check.check_tbptt)


def test_the_checks_refuse_what_is_not_a_function():
    for checker in (check.check_rnn_backward, check.check_clip, check.check_tbptt):
        with pytest.raises(TypeError, match="fn must be your function"):
            checker(3)
        with pytest.raises(ValueError, match="seed"):
            checker(reader_clip, seed=-1)


def test_the_checks_fail_on_values_that_are_not_real_numbers():
    def nan_backward(dH, c):
        g, dX, dh = reader_backward(dH, c)
        return g | {"W_hh": g["W_hh"] * np.nan}, dX, dh
    assert "dW_hh holds NaN" in message(nan_backward, check.check_rnn_backward)
    assert "complex values" in message(
        lambda g, m: {k: v + 0j for k, v in reader_clip(g, m).items()}, check.check_clip)
    assert "must hold numbers" in message(
        lambda g, m: {k: None for k in g}, check.check_clip)
    assert "dW_ih holds NaN" in message(
        lambda *a: reader_tbptt(*a) | {"W_ih": np.full((4, 3), np.inf)},
        check.check_tbptt)
