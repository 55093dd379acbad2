"""lstm_core.check: right answers pass, and each typical mistake is named.

Every wrong implementation below is one a reader could write; the test asserts
the message names the problem (the gate, the gradient, the shape) precisely.
"""
import numpy as np
import pytest

from lstm_core import check, numpy_lstm
from lstm_core.check import CheckError
from lstm_core.numpy_lstm import sigmoid


def reader_step(x, h, c, p, order="ifgo", g_act=np.tanh, use_b_hh=True, f_shift=0.0,
                squash_c=True, o_sees_prev=False):
    """A reader's LSTM step written from the equations, with one mistake at a time."""
    a = x @ p["W_ih"].T + h @ p["W_hh"].T + p["b_ih"] + (p["b_hh"] if use_b_hh else 0)
    z = dict(zip(order, np.split(a, 4, axis=1)))
    peep = {k: p.get(k, 0.0) for k in ("w_ci", "w_cf", "w_co")}
    i = sigmoid(z["i"] + peep["w_ci"] * c)
    f = sigmoid(z["f"] + peep["w_cf"] * c + f_shift)
    g = g_act(z["g"])
    c_t = f * c + i * g
    o = sigmoid(z["o"] + peep["w_co"] * (c if o_sees_prev else c_t))
    h_t = o * (np.tanh(c_t) if squash_c else c_t)
    return h_t, c_t


def message(fn, checker=check.check_lstm_step, **kwargs):
    with pytest.raises(CheckError) as err:
        checker(fn, **kwargs)
    return str(err.value)


# ----------------------------------------------------------------------------- step

def test_right_step_passes_and_says_so(capsys):
    check.check_lstm_step(reader_step)
    check.check_lstm_step(reader_step, peepholes=True)
    assert capsys.readouterr().out.count("lstm step OK") == 2


def test_swapped_gate_order_is_named():
    msg = message(lambda *a: reader_step(*a, order="ifog"))
    assert "wrong rows" in msg and "your o from the g rows" in msg \
        and "your g from the o rows" in msg


def test_sigmoid_for_tanh_names_gate_g():
    assert "gate g uses the wrong squashing function" in \
        message(lambda *a: reader_step(*a, g_act=sigmoid))


def test_missing_bias_is_named():
    assert "b_hh is missing" in message(lambda *a: reader_step(*a, use_b_hh=False))


def test_unsquashed_cell_in_h_is_named():
    assert "h_t: c_t must be squashed" in \
        message(lambda *a: reader_step(*a, squash_c=False))


def test_output_gate_peeking_at_c_prev_is_named():
    msg = message(lambda *a: reader_step(*a, o_sees_prev=True), peepholes=True)
    assert "output gate peeks at c_prev" in msg


def test_unlisted_mistake_is_located_in_its_gate():
    msg = message(lambda *a: reader_step(*a, f_shift=0.5))
    assert "c_t is wrong" in msg and "gate(s) f still disagree" in msg


def test_transposed_output_shape_is_named():
    msg = message(lambda *a: tuple(s.T for s in reader_step(*a)))
    assert "h_t has shape (4, 2), expected (2, 4) (transposed?)" in msg


def test_swapped_outputs_are_named():
    assert "swapped" in message(lambda *a: reader_step(*a)[::-1])


def test_an_exception_is_reported_with_the_shapes():
    def broken(x, h, c, p):
        return x @ p["W_ih"], c  # W_ih (4H, I) used untransposed
    msg = message(broken)
    assert msg.startswith("your step raised ValueError") and "W_ih is (4H, I)" in msg


def test_rnn_step_mistakes_are_named(capsys):
    def rnn(x, h, p, act=np.tanh, b_hh=True):
        return act(x @ p["W_ih"].T + h @ p["W_hh"].T + p["b_ih"] + p["b_hh"] * b_hh)
    check.check_rnn_step(rnn)
    assert "RNN step OK" in capsys.readouterr().out
    assert "range over (-1, 1)" in message(lambda *a: rnn(*a, act=sigmoid),
                                           check.check_rnn_step)
    assert "b_hh is missing" in message(lambda *a: rnn(*a, b_hh=False),
                                        check.check_rnn_step)


def test_rnn_step_exception_names_the_rnn_shapes():
    msg = message(lambda x, h, p: x @ p["W_hh"], check.check_rnn_step)
    assert msg.startswith("your RNN step raised ValueError") and \
        "W_ih is (H, I), W_hh (H, H)" in msg


# ----------------------------------------------------------------------------- GRU

def reader_gru(x, h, p, order="rzn", reset="after", swap_z=False, n_act=np.tanh,
               use_b_hh=True, r_shift=0.0, n_shift=0.0):
    """A reader's GRU step written from nn.GRU's equations, one mistake at a time."""
    W_i, W_h, b_i, b_h = (dict(zip(order, np.split(p[k], 3)))
                          for k in ("W_ih", "W_hh", "b_ih", "b_hh"))
    if not use_b_hh:
        b_h = {g: 0.0 * v for g, v in b_h.items()}
    r = sigmoid(x @ W_i["r"].T + b_i["r"] + h @ W_h["r"].T + b_h["r"] + r_shift)
    z = sigmoid(x @ W_i["z"].T + b_i["z"] + h @ W_h["z"].T + b_h["z"])
    hidden = {"after": r * (h @ W_h["n"].T + b_h["n"]),
              "before": (r * h) @ W_h["n"].T + b_h["n"],
              "bias_out": r * (h @ W_h["n"].T) + b_h["n"]}[reset]
    n = n_act(x @ W_i["n"].T + b_i["n"] + hidden + n_shift)
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


def gru_message(**mistake):
    return message(lambda x, h, p: reader_gru(x, h, p, **mistake), check.check_gru_step)


def test_right_gru_step_passes_and_says_so(capsys):
    check.check_gru_step(reader_gru)
    assert "GRU step OK" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, named", [
    ({"order": "zrn"}, "wrong rows (your z from the r rows, your r from the z rows)"),
    ({"order": "nzr"}, "wrong rows (your n from the r rows, your r from the n rows)"),
    ({"reset": "before"}, "reset gate is applied before the hidden product"),
    ({"reset": "bias_out"}, "b_hn of the candidate is outside the reset"),
    ({"swap_z": True}, "z and 1 - z are swapped"),
    ({"n_act": sigmoid}, "candidate n must range over (-1, 1)"),
    ({"use_b_hh": False}, "b_hh is missing"),
], ids=["order-zrn", "order-nzr", "reset-before", "bias-outside-reset", "z-swapped",
        "sigmoid-for-tanh", "no-b_hh"])
def test_gru_step_mistakes_are_named(mistake, named):
    assert named in gru_message(**mistake)


@pytest.mark.parametrize("mistake, located", [
    ({"r_shift": 0.3}, "the reset gate r (z pinned to 0) still disagrees"),
    ({"n_shift": 0.3}, "the candidate n (z pinned to 0, r to 1) still disagrees")],
    ids=["in-r", "in-n"])
def test_unlisted_gru_mistake_is_located(mistake, located):
    msg = gru_message(**mistake)
    assert msg.startswith("GRU step: h_t is wrong") and located in msg


def test_gru_step_returning_a_pair_is_named():
    msg = message(lambda x, h, p: (reader_gru(x, h, p),) * 2, check.check_gru_step)
    assert "must return h_t alone" in msg and "no cell state" in msg


def test_gru_step_exception_names_the_gru_shapes():
    msg = message(lambda x, h, p: x @ p["W_hh"], check.check_gru_step)
    assert msg.startswith("your GRU step raised ValueError") and \
        "W_ih is (3H, I), W_hh (3H, H)" in msg


# ----------------------------------------------------------------------------- backward

def truncated_backward(dH, cache):
    """A reader's mistake: each step's gradient, none carried back through time."""
    p, T = cache["params"], dH.shape[0]
    H0 = np.concatenate([cache["h0"][None], cache["H"][:-1]])
    C0 = np.concatenate([cache["c0"][None], cache["C"][:-1]])
    grads, dX = {k: np.zeros_like(v) for k, v in p.items()}, np.zeros_like(cache["X"])
    for t in range(T):
        _, _, step = numpy_lstm.lstm_forward(cache["X"][t:t + 1], p, H0[t], C0[t])
        g, dx, dh, dc = numpy_lstm.lstm_backward(dH[t:t + 1], step)
        grads = {k: grads[k] + g[k] for k in grads}
        dX[t] = dx[0]
        if t == 0:
            dh0, dc0 = dh, dc
    return grads, dX, dh0, dc0


def corrupted(change):
    """The reference backward with `change(grads)` applied to its gradients."""
    def backward(dH, cache):
        grads, *rest = numpy_lstm.lstm_backward(dH, cache)
        change(grads)
        return (grads, *rest)
    return backward


def test_right_backward_passes_and_says_so(capsys):
    check.check_lstm_backward(numpy_lstm.lstm_backward)
    check.check_lstm_backward(numpy_lstm.lstm_backward, peepholes=True)
    assert capsys.readouterr().out.count("lstm backward OK") == 2


def test_missing_carry_through_time_is_named():
    msg = message(truncated_backward, check.check_lstm_backward)
    assert "right for one step but wrong through time" in msg and "dW_hh" in msg


def test_wrong_gate_rows_of_a_gradient_are_named():
    def wrong_o(grads):
        grads["W_hh"][12:] *= -1  # rows 3H:4H belong to gate o (H = 4)
    msg = message(corrupted(wrong_o), check.check_lstm_backward)
    assert "dW_hh: the rows of gate(s) o are wrong" in msg


def test_scaled_gradient_is_named():
    def doubled(grads):
        grads["b_ih"] = 2 * grads["b_ih"]
    assert "db_ih is 2 times the right value" in \
        message(corrupted(doubled), check.check_lstm_backward)


def test_transposed_gradient_shape_is_named():
    def transposed(grads):
        grads["W_ih"] = grads["W_ih"].T
    assert "dW_ih has shape (3, 16), expected (16, 3) (transposed?)" in \
        message(corrupted(transposed), check.check_lstm_backward)


def test_missing_gradient_key_is_named():
    assert "keys of params" in message(corrupted(lambda g: g.pop("b_hh")),
                                       check.check_lstm_backward)


# ----------------------------------------------------------------------------- windows

def reader_windows(ts, look_back, n_less=0, target_shift=0, flat_y=False,
                   reverse=False):
    X, y = [], []
    for i in range(len(ts) - look_back - n_less):
        window = ts[i:i + look_back]
        X.append(window[::-1] if reverse else window)
        y.append(ts[i + look_back + target_shift] if flat_y
                 else [ts[i + look_back + target_shift]])
    return X, y


def test_right_windows_pass_in_both_layouts(capsys):
    check.check_windows(reader_windows)
    def time_major(ts, k):
        X, y = reader_windows(ts, k)
        return np.asarray(X).T[..., None], y            # (look_back, N, 1)
    check.check_windows(time_major, time_major=True)
    assert capsys.readouterr().out.count("windows OK") == 2


def test_one_window_short_is_named():
    msg = message(lambda ts, k: reader_windows(ts, k, n_less=1), check.check_windows)
    assert "1 missing" in msg


def test_target_inside_the_window_is_named():
    msg = message(lambda ts, k: reader_windows(ts, k, target_shift=-1),
                  check.check_windows)
    assert "y is the last value of each window" in msg


def test_flat_targets_shape_is_named():
    msg = message(lambda ts, k: reader_windows(ts, k, flat_y=True), check.check_windows)
    assert "y has shape (26,), expected (26, 1)" in msg


def test_reversed_windows_are_named():
    msg = message(lambda ts, k: reader_windows(ts, k, reverse=True),
                  check.check_windows)
    assert "reversed in time" in msg


def test_sample_major_windows_fail_the_time_major_check():
    msg = message(reader_windows, check.check_windows, time_major=True)
    assert "X has shape (26, 4), expected (4, 26, 1)" in msg
