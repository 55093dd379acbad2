"""Tests for lstm_core.gru: the NumPy GRU, against central differences and nn.GRU.

Float64, tiny sizes, fixed seeds; projection loss sum(H * R) + sum(h_T * r_h).
"""
import numpy as np
import pytest
import torch

from lstm_core.gru import gru_backward, gru_forward, gru_step, init_gru
from lstm_core.numpy_lstm import sigmoid
from lstm_core.torch_lstm import NN_NAMES

T, B, I, H = 5, 3, 4, 6


@pytest.fixture
def rng():
    return np.random.default_rng(2014)


@pytest.fixture
def case(rng):
    params = {k: 2.0 * v for k, v in init_gru(I, H, rng=rng).items()}  # not linear
    X, h0, R, r_h = (rng.standard_normal(s) for s in ((T, B, I), (B, H), (T, B, H),
                                                      (B, H)))
    return params, X, h0, R, r_h


def test_backward_matches_finite_differences(case, numerical_grad, rel_error):
    params, X, h0, R, r_h = case

    def loss():
        Hs, h_T, _ = gru_forward(X, params, h0)
        return np.sum(Hs * R) + np.sum(h_T * r_h)

    grads, dX, dh0 = gru_backward(R, gru_forward(X, params, h0)[2], dh_T=r_h)
    assert set(grads) == set(params)
    analytic = {**grads, "X": dX, "h0": dh0}
    arrays = {**params, "X": X, "h0": h0}
    errors = {name: rel_error(analytic[name], numerical_grad(loss, arrays[name]))
              for name in arrays}
    assert max(errors.values()) < 1e-7, errors


def test_matches_nn_gru_outputs_and_every_gradient(case):
    params, X, h0, R, r_h = case
    Hs, h_T, cache = gru_forward(X, params, h0)
    grads, dX, dh0 = gru_backward(R, cache, dh_T=r_h)
    gru = torch.nn.GRU(I, H, dtype=torch.float64)
    with torch.no_grad():
        for name, nn_name in NN_NAMES.items():
            getattr(gru, nn_name).copy_(torch.from_numpy(params[name]))
    Xt = torch.tensor(X, requires_grad=True)
    ht = torch.tensor(h0[None], requires_grad=True)
    out, h_n = gru(Xt, ht)
    ((out * torch.from_numpy(R)).sum() + (h_n[0] * torch.from_numpy(r_h)).sum()
     ).backward()
    theirs = {"H": out, "h_T": h_n[0], "X": Xt.grad, "h0": ht.grad[0],
              **{n: getattr(gru, m).grad for n, m in NN_NAMES.items()}}
    ours = {"H": Hs, "h_T": h_T, "X": dX, "h0": dh0, **grads}
    for key, value in theirs.items():
        np.testing.assert_allclose(ours[key], value.detach().numpy(), rtol=1e-10,
                                   atol=1e-10, err_msg=key)


def test_step_follows_the_equations_of_nn_gru(case):
    params, X, h0, _, _ = case
    W_r, W_z, W_n = np.split(params["W_ih"], 3)
    U_r, U_z, U_n = np.split(params["W_hh"], 3)
    b_r, b_z, b_n = np.split(params["b_ih"], 3)
    c_r, c_z, c_n = np.split(params["b_hh"], 3)
    x, h = X[0], h0
    r = sigmoid(x @ W_r.T + b_r + h @ U_r.T + c_r)
    z = sigmoid(x @ W_z.T + b_z + h @ U_z.T + c_z)
    n = np.tanh(x @ W_n.T + b_n + r * (h @ U_n.T + c_n))
    np.testing.assert_allclose(gru_step(x, h, params), (1 - z) * n + z * h,
                               rtol=1e-12, atol=1e-14)


def test_steps_equal_whole_sequence(case):
    params, X, h0, _, _ = case
    Hs, h_T, _ = gru_forward(X, params, h0)
    h, steps = h0, []
    for t in range(T):
        h = gru_step(X[t], h, params)
        steps.append(h)
    np.testing.assert_allclose(np.stack(steps), Hs, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(Hs[-1], h_T)


def test_init_shapes_and_range(rng):
    params = init_gru(I, H, rng=rng)
    assert {k: v.shape for k, v in params.items()} == {
        "W_ih": (3 * H, I), "W_hh": (3 * H, H), "b_ih": (3 * H,), "b_hh": (3 * H,)}
    assert max(np.abs(v).max() for v in params.values()) <= 1 / np.sqrt(H)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keeps_dtype(rng, dtype):
    params = init_gru(I, H, rng=rng, dtype=dtype)
    X = rng.standard_normal((T, B, I)).astype(dtype)
    Hs, h_T, cache = gru_forward(X, params)
    grads, dX, dh0 = gru_backward(np.ones_like(Hs), cache)
    assert {a.dtype for a in (Hs, h_T, dX, dh0, *grads.values())} == {np.dtype(dtype)}


@pytest.mark.parametrize("call, error, match", [
    (lambda p, X: gru_forward(X, {**p, "w_ci": p["b_ih"][:H]}), ValueError,
     r"^params must have exactly the keys .* extra \['w_ci'\]"),
    (lambda p, X: gru_forward(X, {k: np.zeros((4 * H,) + v.shape[1:])
                                  for k, v in p.items()}), ValueError,
     r"^params\['W_hh'\] must have shape \(3H, H\) for a GRU \(gate rows r, z, n\)"),
    (lambda p, X: gru_forward(X[..., :2], p), ValueError,
     r"^X must have shape \(T, B, 4\)"),
    (lambda p, X: gru_forward(X, p, np.zeros((B, H + 1))), ValueError,
     r"^h0 must have shape \(3, 6\)"),
    (lambda p, X: gru_backward(np.ones((T, B, H + 1)), gru_forward(X, p)[2]),
     ValueError, r"^dH must have shape \(5, 3, 6\)"),
    (lambda p, X: gru_backward(np.ones((T, B, H)), gru_forward(X, p)),
     TypeError, r"^cache must be the third value returned by gru_forward"),
    (lambda p, X: init_gru(I, 0, rng=np.random.default_rng(0)), ValueError,
     r"^hidden_size must be a positive int"),
    (lambda p, X: init_gru(0, H, rng=np.random.default_rng(0)), ValueError,
     r"^input_size must be a positive int"),
    (lambda p, X: init_gru(I, H, rng=0), TypeError, r"^rng must be a numpy"),
    (lambda p, X: init_gru(I, H, rng=np.random.default_rng(0), dtype=np.int64),
     TypeError, r"^dtype must be"),
    (lambda p, X: gru_step(X[0, :, :2], X[0, :, :H], p), ValueError,
     r"^x_t must have shape \(B, 4\)"),
    (lambda p, X: gru_step(X[0], np.zeros((B, H + 1)), p), ValueError,
     r"^h_prev must have shape \(3, 6\)"),
    (lambda p, X: gru_backward(np.ones((T, B, H)), gru_forward(X, p)[2],
                               np.ones((B, H + 1))), ValueError,
     r"^dh_T must have shape \(3, 6\)"),
    (lambda p, X: gru_forward(X, {**p, "W_ih": p["W_ih"][:H]}), ValueError,
     r"^params\['W_ih'\] must have shape \(18, None\)|^params\['W_ih'\] must"),
    (lambda p, X: gru_forward(X, {**p, "b_hh": p["b_hh"][:H]}), ValueError,
     r"^params\['b_hh'\] must have shape \(18,\)"),
], ids=["extra-key", "lstm-shapes", "X-features", "h0-shape", "dH-shape", "cache",
        "hidden_size", "input_size", "rng", "dtype", "x_t-shape", "h_prev-shape",
        "dh_T-shape", "W_ih-rows", "b_hh-rows"])
def test_bad_input_raises_naming_the_argument(case, call, error, match):
    params, X, _, _, _ = case
    with pytest.raises(error, match=match):
        call(params, X)
