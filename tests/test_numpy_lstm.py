"""Tests for lstm_core.numpy_lstm: the NumPy reference LSTM and RNN.

Float64, tiny sizes, fixed seeds. Each test names the property it checks.
"""
import numpy as np
import pytest

from lstm_core.numpy_lstm import (init_lstm, init_rnn, lstm_backward, lstm_forward,
                                  lstm_step, rnn_backward, rnn_forward)

T, B, I, H = 5, 3, 4, 6

# (peepholes, forget_gate)
VARIANTS = pytest.mark.parametrize(
    "peepholes, forget_gate",
    [(False, True), (True, True), (False, False), (True, False)],
    ids=["plain", "peepholes", "no-forget", "peepholes-no-forget"])


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def make_lstm(rng, peepholes, forget_gate, dtype=np.float64):
    params = init_lstm(I, H, peepholes=peepholes, forget_gate=forget_gate, rng=rng,
                       dtype=dtype)
    X = rng.standard_normal((T, B, I)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    c0 = rng.standard_normal((B, H)).astype(dtype)
    return params, X, h0, c0


def make_rnn(rng, dtype=np.float64):
    params = init_rnn(I, H, rng=rng, dtype=dtype)
    X = rng.standard_normal((T, B, I)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    return params, X, h0


def expected_lstm_shapes(peepholes, forget_gate):
    G = (4 if forget_gate else 3) * H
    shapes = {"W_ih": (G, I), "W_hh": (G, H), "b_ih": (G,), "b_hh": (G,)}
    if peepholes:
        shapes |= {"w_ci": (H,), "w_co": (H,)}
        if forget_gate:
            shapes["w_cf"] = (H,)
    return shapes


# ----------------------------------------------------------------------------- gradients

@VARIANTS
def test_lstm_backward_matches_finite_differences(rng, peepholes, forget_gate,
                                                  numerical_grad, rel_error):
    params, X, h0, c0 = make_lstm(rng, peepholes, forget_gate)
    R = rng.standard_normal((T, B, H))
    r_h, r_c = rng.standard_normal((B, H)), rng.standard_normal((B, H))

    def loss():
        Hs, (h_T, c_T), _ = lstm_forward(X, params, h0, c0)
        return np.sum(Hs * R) + np.sum(h_T * r_h) + np.sum(c_T * r_c)

    _, _, cache = lstm_forward(X, params, h0, c0)
    grads, dX, dh0, dc0 = lstm_backward(R, cache, dh_T=r_h, dc_T=r_c)
    assert set(grads) == set(params)
    analytic = {**grads, "X": dX, "h0": dh0, "c0": dc0}
    arrays = {**params, "X": X, "h0": h0, "c0": c0}
    errors = {name: rel_error(analytic[name], numerical_grad(loss, arrays[name]))
              for name in arrays}
    assert max(errors.values()) < 1e-6, errors


def test_rnn_backward_matches_finite_differences(rng, numerical_grad, rel_error):
    params, X, h0 = make_rnn(rng)
    R, r_h = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))

    def loss():
        Hs, h_T, _ = rnn_forward(X, params, h0)
        return np.sum(Hs * R) + np.sum(h_T * r_h)

    _, _, cache = rnn_forward(X, params, h0)
    grads, dX, dh0 = rnn_backward(R, cache, dh_T=r_h)
    assert set(grads) == set(params)
    analytic = {**grads, "X": dX, "h0": dh0}
    arrays = {**params, "X": X, "h0": h0}
    errors = {name: rel_error(analytic[name], numerical_grad(loss, arrays[name]))
              for name in arrays}
    assert max(errors.values()) < 1e-6, errors


# ----------------------------------------------------------------------------- step by step

@VARIANTS
def test_lstm_steps_equal_whole_sequence(rng, peepholes, forget_gate):
    params, X, h0, c0 = make_lstm(rng, peepholes, forget_gate)
    Hs, (h_T, c_T), _ = lstm_forward(X, params, h0, c0)
    h, c, steps = h0, c0, []
    for t in range(T):
        h, c = lstm_step(X[t], h, c, params)
        steps.append(h)
    np.testing.assert_allclose(np.stack(steps), Hs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h, h_T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c, c_T, rtol=1e-12, atol=1e-14)


def test_rnn_steps_equal_whole_sequence(rng):
    params, X, h0 = make_rnn(rng)
    Hs, h_T, _ = rnn_forward(X, params, h0)
    h, steps = h0, []
    for t in range(T):
        out, h, _ = rnn_forward(X[t:t + 1], params, h)
        np.testing.assert_array_equal(out[0], h)
        steps.append(h)
    np.testing.assert_allclose(np.stack(steps), Hs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h, h_T, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- init

@VARIANTS
def test_init_lstm_shapes_and_keys(rng, peepholes, forget_gate):
    params = init_lstm(I, H, peepholes=peepholes, forget_gate=forget_gate, rng=rng)
    assert {k: v.shape for k, v in params.items()} == expected_lstm_shapes(
        peepholes, forget_gate)
    assert all(v.dtype == np.float64 for v in params.values())


@VARIANTS
def test_init_lstm_values_uniform_in_one_over_sqrt_hidden(rng, peepholes, forget_gate):
    params = init_lstm(I, H, peepholes=peepholes, forget_gate=forget_gate, rng=rng)
    k = 1 / np.sqrt(H)
    values = np.concatenate([v.ravel() for v in params.values()])
    assert np.all(np.abs(values) <= k)
    # the whole interval is used (a wrong scale such as 1/H would fail this)
    assert values.min() < -0.9 * k and values.max() > 0.9 * k


def test_init_rnn_shapes_and_range(rng):
    params = init_rnn(I, H, rng=rng)
    assert {k: v.shape for k, v in params.items()} == {
        "W_ih": (H, I), "W_hh": (H, H), "b_ih": (H,), "b_hh": (H,)}
    values = np.concatenate([v.ravel() for v in params.values()])
    k = 1 / np.sqrt(H)
    assert np.all(np.abs(values) <= k) and values.min() < -0.8 * k < 0.8 * k < values.max()


@VARIANTS
def test_init_lstm_is_determined_by_the_rng_seed(peepholes, forget_gate):
    def draw(seed):
        return init_lstm(I, H, peepholes=peepholes, forget_gate=forget_gate,
                         rng=np.random.default_rng(seed))

    a, b, other = draw(7), draw(7), draw(8)
    assert set(a) == set(b) == set(other)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        assert not np.array_equal(a[name], other[name])


# ----------------------------------------------------------------------------- dtype

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@VARIANTS
def test_lstm_keeps_dtype(rng, peepholes, forget_gate, dtype):
    params, X, h0, c0 = make_lstm(rng, peepholes, forget_gate, dtype)
    Hs, (h_T, c_T), cache = lstm_forward(X, params, h0, c0)
    dH = rng.standard_normal((T, B, H)).astype(dtype)
    d_state = rng.standard_normal((B, H)).astype(dtype)
    grads, dX, dh0, dc0 = lstm_backward(dH, cache, d_state, d_state)
    outputs = {"H": Hs, "h_T": h_T, "c_T": c_T, "dX": dX, "dh0": dh0, "dc0": dc0,
               **{"d" + k: v for k, v in grads.items()}}
    assert {k: v.dtype for k, v in outputs.items()} == {k: dtype for k in outputs}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rnn_keeps_dtype(rng, dtype):
    params, X, h0 = make_rnn(rng, dtype)
    Hs, h_T, cache = rnn_forward(X, params, h0)
    grads, dX, dh0 = rnn_backward(rng.standard_normal((T, B, H)).astype(dtype), cache,
                                  rng.standard_normal((B, H)).astype(dtype))
    outputs = {"H": Hs, "h_T": h_T, "dX": dX, "dh0": dh0,
               **{"d" + k: v for k, v in grads.items()}}
    assert {k: v.dtype for k, v in outputs.items()} == {k: dtype for k in outputs}


# ----------------------------------------------------------------------------- carousel

@pytest.mark.parametrize("peepholes", [False, True], ids=["plain", "peepholes"])
def test_cell_gradient_passes_unchanged_without_forget_gate(rng, peepholes):
    """1997 LSTM with the input gate shut (i = 0): dc0 == dc_T exactly, over 50 steps."""
    steps = 50
    params = init_lstm(I, H, peepholes=peepholes, forget_gate=False, rng=rng)
    for name in ("W_ih", "W_hh", "b_hh"):
        params[name][:H] = 0.0                # gate order (i, g, o): rows :H are i
    params["b_ih"][:H] = -50.0                 # i = sigmoid(-50 + ...) = 0
    X = rng.standard_normal((steps, B, I))
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    _, (_, c_T), cache = lstm_forward(X, params, h0, c0)
    np.testing.assert_array_equal(c_T, c0)     # nothing written into the cell
    dc_T = rng.standard_normal((B, H))
    _, _, _, dc0 = lstm_backward(np.zeros((steps, B, H)), cache, np.zeros((B, H)), dc_T)
    np.testing.assert_array_equal(dc0, dc_T)


def test_cell_gradient_shrinks_by_forget_gate_per_step(rng):
    """Forget gate at f = sigmoid(0) = 0.5 (all weights zero): dc0 = 0.5**T dc_T."""
    params = {k: np.zeros_like(v) for k, v in init_lstm(I, H, rng=rng).items()}
    X = rng.standard_normal((T, B, I))
    _, _, cache = lstm_forward(X, params, rng.standard_normal((B, H)),
                               rng.standard_normal((B, H)))
    dc_T = rng.standard_normal((B, H))
    _, _, _, dc0 = lstm_backward(np.zeros((T, B, H)), cache, np.zeros((B, H)), dc_T)
    np.testing.assert_array_equal(dc0, dc_T * 0.5 ** T)


# ----------------------------------------------------------------------------- bad input

@pytest.fixture
def good(rng):
    params, X, h0, c0 = make_lstm(rng, peepholes=True, forget_gate=True)
    rnn_params, _, _ = make_rnn(rng)
    return {"params": params, "X": X, "h0": h0, "c0": c0, "rnn": rnn_params}


def _with(params, **changes):
    """A copy of params with keys replaced (value) or removed (None)."""
    out = {k: v for k, v in params.items() if changes.get(k, v) is not None}
    out.update({k: v for k, v in changes.items() if v is not None})
    return out


def _with_nan(X):
    X = X.copy()
    X[2, 1, 0] = np.nan
    return X


def _forward_backward(g, dH=None, dh_T=None, dc_T=None):
    Hs, _, cache = lstm_forward(g["X"], g["params"], g["h0"], g["c0"])
    return lstm_backward(Hs if dH is None else dH, cache, dh_T, dc_T)


BAD_INPUTS = {
    "X-2d": (ValueError, r"^X must have 3 dimensions",
             lambda g: lstm_forward(g["X"][0], g["params"])),
    "X-features": (ValueError, r"^X must have shape \(T, B, 4\)",
                   lambda g: lstm_forward(g["X"][..., :3], g["params"])),
    "X-int": (TypeError, r"^X must be float32 or float64, got an int64 array",
              lambda g: lstm_forward(g["X"].astype(int), g["params"])),
    "X-nan": (ValueError, r"^X must hold finite values, got NaN",
              lambda g: lstm_forward(_with_nan(g["X"]), g["params"])),
    "X-list": (TypeError, r"^X must be a NumPy array, got list",
               lambda g: lstm_forward(g["X"].tolist(), g["params"])),
    "h0-shape": (ValueError, r"^h0 must have shape \(3, 6\)",
                 lambda g: lstm_forward(g["X"], g["params"], g["h0"][:, :-1], g["c0"])),
    "c0-shape": (ValueError, r"^c0 must have shape \(3, 6\)",
                 lambda g: lstm_forward(g["X"], g["params"], g["h0"], g["c0"][:-1])),
    "params-missing": (ValueError, r"^params must have .* missing \['b_hh'\]",
                       lambda g: lstm_forward(g["X"], _with(g["params"], b_hh=None))),
    "params-missing-W_hh": (ValueError, r"^params is missing the key 'W_hh'",
                            lambda g: lstm_forward(g["X"], _with(g["params"], W_hh=None))),
    "params-extra": (ValueError, r"^params must have .* extra \['bias'\]",
                     lambda g: lstm_forward(g["X"], _with(g["params"],
                                                          bias=g["params"]["b_ih"]))),
    "params-shape": (ValueError, r"^params\['b_ih'\] must have shape \(24,\)",
                     lambda g: lstm_forward(g["X"], _with(g["params"],
                                                          b_ih=g["params"]["b_ih"][:18]))),
    "params-W_ih-rows": (ValueError, r"^params\['W_ih'\] must have shape \(24, I\)",
                         lambda g: lstm_forward(g["X"], _with(
                             g["params"], W_ih=g["params"]["W_ih"][:18]))),
    "params-some-peepholes": (ValueError, r"^params must have .* missing \['w_cf', 'w_co'\]",
                              lambda g: lstm_forward(g["X"], _with(g["params"], w_cf=None,
                                                                   w_co=None))),
    "w_cf-without-forget-gate": (ValueError, r"^params must have .* extra \['w_cf'\]",
                                 lambda g: lstm_forward(g["X"], {
                                     **init_lstm(I, H, peepholes=True, forget_gate=False,
                                                 rng=np.random.default_rng(0)),
                                     "w_cf": g["params"]["w_cf"]})),
    "hidden_size-zero": (ValueError, r"^hidden_size must be a positive int",
                         lambda g: init_lstm(I, 0, rng=np.random.default_rng(0))),
    "input_size-negative": (ValueError, r"^input_size must be a positive int",
                            lambda g: init_lstm(-1, H, rng=np.random.default_rng(0))),
    "rnn-hidden_size-zero": (ValueError, r"^hidden_size must be a positive int",
                             lambda g: init_rnn(I, 0, rng=np.random.default_rng(0))),
    "rng-seed": (TypeError, r"^rng must be a numpy.random.Generator",
                 lambda g: init_lstm(I, H, rng=0)),
    "rnn-rng-seed": (TypeError, r"^rng must be a numpy.random.Generator",
                     lambda g: init_rnn(I, H, rng=0)),
    "dH-shape": (ValueError, r"^dH must have shape \(5, 3, 6\)",
                 lambda g: _forward_backward(g, dH=np.zeros((T, B, H + 1)))),
    "dh_T-shape": (ValueError, r"^dh_T must have shape \(3, 6\)",
                   lambda g: _forward_backward(g, dh_T=np.zeros((B, H + 1)))),
    "dc_T-shape": (ValueError, r"^dc_T must have shape \(3, 6\)",
                   lambda g: _forward_backward(g, dc_T=np.zeros((B + 1, H)))),
    "rnn-dH-shape": (ValueError, r"^dH must have shape \(5, 3, 6\)",
                     lambda g: rnn_backward(np.zeros((T - 1, B, H)),
                                            rnn_forward(g["X"], g["rnn"])[2])),
    "rnn-params-of-lstm": (ValueError, r"^params must have exactly the keys",
                           lambda g: rnn_forward(g["X"], g["params"])),
    "rnn-lstm-shapes": (ValueError, r"^params\['W_hh'\] must have shape \(24, 24\)",
                        lambda g: rnn_forward(g["X"], {k: g["params"][k] for k in
                                                       ("W_ih", "W_hh", "b_ih", "b_hh")})),
    "rnn-X-features": (ValueError, r"^X must have shape \(T, B, 4\)",
                       lambda g: rnn_forward(g["X"][..., :2], g["rnn"])),
    "rnn-h0-shape": (ValueError, r"^h0 must have shape \(3, 6\)",
                     lambda g: rnn_forward(g["X"], g["rnn"], g["h0"].T)),
}


@pytest.mark.parametrize("error, match, call", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_raises_naming_the_argument(good, error, match, call):
    with pytest.raises(error, match=match):
        call(good)
