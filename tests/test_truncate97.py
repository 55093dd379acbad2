"""The 1997 truncated gradient (numpy_lstm.lstm_backward(..., truncate="1997")):
against PyTorch autograd of the stop-gradient surrogate, against central
differences of that surrogate, the exact carousel, and SequenceModel / fit."""
import numpy as np
import pytest
import torch

from lstm_core import gradcheck, numpy_lstm, train, truncate97
from lstm_core.numpy_lstm import lstm_backward, lstm_forward, sigmoid

T, B, I, H = 6, 2, 3, 4
LAYOUTS = pytest.mark.parametrize("peepholes, forget_gate", [
    (False, True), (True, True), (False, False), (True, False)],
    ids=["lstm", "peepholes", "1997-no-forget", "no-forget-peepholes"])


def _problem(peepholes, forget_gate, seed=0):
    rng = np.random.default_rng(seed)
    p = numpy_lstm.init_lstm(I, H, peepholes=peepholes, forget_gate=forget_gate,
                             rng=rng)
    p = {k: 1.5 * v for k, v in p.items()}             # large enough to matter
    X = rng.normal(size=(T, B, I))
    h0, c0 = rng.normal(size=(2, B, H))
    R, r_h, r_c = rng.normal(size=(T, B, H)), *rng.normal(size=(2, B, H))
    return p, X, h0, c0, R, r_h, r_c


@LAYOUTS
def test_truncated_gradient_is_autograd_of_the_detached_surrogate(peepholes,
                                                                  forget_gate):
    p, X, h0, c0, R, r_h, r_c = _problem(peepholes, forget_gate)
    Hs, _, cache = lstm_forward(X, p, h0, c0)
    grads, dX, dh0, dc0 = lstm_backward(R, cache, r_h, r_c, truncate="1997")
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    tX, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (X, h0, c0))
    tH, (h_T, c_T) = truncate97.surrogate_forward(tX, tp, th0, tc0)
    np.testing.assert_allclose(tH.detach().numpy(), Hs, rtol=0, atol=1e-13)
    loss = ((tH * torch.from_numpy(R)).sum() + (h_T * torch.from_numpy(r_h)).sum()
            + (c_T * torch.from_numpy(r_c)).sum())
    loss.backward()
    for k in p:
        np.testing.assert_allclose(grads[k], tp[k].grad.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=k)
    np.testing.assert_allclose(dX, tX.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dc0, tc0.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert not dh0.any()                                  # h0 only feeds the gates
    assert th0.grad is None or not th0.grad.any()


def _surrogate_loss(p, X, h0, c0, R, Hbar, Cbar):
    """The LSTM's loss with h_{t-1} in W_hh h_{t-1} (and c in the peepholes) fixed
    to the values Hbar, Cbar of the real forward pass: a plain NumPy function."""
    peepholes, forget_gate = "w_ci" in p, p["W_hh"].shape[0] == 4 * H
    c, total = c0, 0.0
    for t in range(T):
        a = X[t] @ p["W_ih"].T + p["b_ih"] + p["b_hh"] + Hbar[t] @ p["W_hh"].T
        blocks = np.split(a, 4 if forget_gate else 3, axis=1)
        if peepholes:
            blocks[0] = blocks[0] + p["w_ci"] * Cbar[t]
            if forget_gate:
                blocks[1] = blocks[1] + p["w_cf"] * Cbar[t]
        f = sigmoid(blocks[1]) if forget_gate else 1.0
        c = f * c + sigmoid(blocks[0]) * np.tanh(blocks[-2])
        a_o = blocks[-1] + (p["w_co"] * Cbar[t + 1] if peepholes else 0)
        total += (R[t] * sigmoid(a_o) * np.tanh(c)).sum()
    return total


@LAYOUTS
def test_truncated_gradient_is_central_differences_of_the_surrogate(peepholes,
                                                                    forget_gate):
    p, X, h0, c0, R, _, _ = _problem(peepholes, forget_gate, seed=1)
    Hs, _, cache = lstm_forward(X, p, h0, c0)
    Hbar = np.concatenate([h0[None], Hs])                # h_{t-1} at step t: Hbar[t]
    Cbar = np.concatenate([c0[None], cache["C"]])
    grads = lstm_backward(R, cache, truncate="1997")[0]
    for k, v in p.items():
        num = gradcheck.numerical_grad(
            lambda: _surrogate_loss(p, X, h0, c0, R, Hbar, Cbar), v)
        err = np.linalg.norm(grads[k] - num) / np.linalg.norm(grads[k] + num)
        assert err < 1e-8, (k, err)                      # norm-wise relative error


@LAYOUTS
def test_the_truncation_changes_the_gradient(peepholes, forget_gate):
    p, X, h0, c0, R, r_h, r_c = _problem(peepholes, forget_gate)
    cache = lstm_forward(X, p, h0, c0)[2]
    cut = lstm_backward(R, cache, r_h, r_c, truncate="1997")[0]
    full = lstm_backward(R, cache, r_h, r_c)[0]
    assert gradcheck.rel_error(cut["W_hh"], full["W_hh"]) > 1e-2
    if peepholes:                                       # cut within the step too
        return
    # one step back in time is nothing to cut: both agree on the weights
    cache1 = lstm_forward(X[:1], p, h0, c0)[2]
    one = lstm_backward(R[:1], cache1, truncate="1997")[0]
    ref = lstm_backward(R[:1], cache1)[0]
    for k in p:
        np.testing.assert_allclose(one[k], ref[k], rtol=1e-12, atol=1e-14)


def test_without_a_forget_gate_the_carousel_carries_error_back_unchanged():
    """No loss on h, an error on c_T only: truncated, dc_0 = dc_T exactly (the
    constant error carousel); full BPTT adds the paths through h."""
    p, X, h0, c0, _, _, r_c = _problem(False, False)
    cache = lstm_forward(X, p, h0, c0)[2]
    zero = np.zeros((T, B, H))
    dc0 = lstm_backward(zero, cache, np.zeros((B, H)), r_c, truncate="1997")[3]
    np.testing.assert_array_equal(dc0, r_c)
    full_dc0 = lstm_backward(zero, cache, np.zeros((B, H)), r_c)[3]
    assert not np.allclose(full_dc0, r_c)


def test_with_a_forget_gate_the_carousel_is_the_product_of_the_forget_gates():
    p, X, h0, c0, _, _, r_c = _problem(False, True)
    cache = lstm_forward(X, p, h0, c0)[2]
    dc0 = lstm_backward(np.zeros((T, B, H)), cache, np.zeros((B, H)), r_c,
                        truncate="1997")[3]
    np.testing.assert_allclose(dc0, r_c * cache["f"].prod(0), rtol=1e-13)


# ----------------------------------------------------------------- the model, fit

def test_sequence_model_backward_uses_the_truncation():
    rng = np.random.default_rng(0)
    X, dY = rng.normal(size=(T, B, I)), rng.normal(size=(T, B, 2))
    cut = train.SequenceModel(I, H, 2, rng=np.random.default_rng(3), truncate="1997")
    full = train.SequenceModel(I, H, 2, rng=np.random.default_rng(3))
    cut.forward(X)
    full.forward(X)
    g_cut, g_full = cut.backward(dY), full.backward(dY)
    cache = lstm_forward(X, cut.core())[2]
    ref = lstm_backward(dY @ cut.params["W_hy"], cache, truncate="1997")[0]
    for k in ref:
        np.testing.assert_allclose(g_cut[k], ref[k], rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(g_cut["W_hy"], g_full["W_hy"])   # readout: same
    assert not np.allclose(g_cut["W_hh"], g_full["W_hh"])


def test_fit_trains_with_the_truncated_gradient():
    """The 1997 rule still learns to remember a bit over 8 steps: the carousel."""
    rng = np.random.default_rng(0)
    bit = rng.integers(0, 2, 64).astype(float)
    X = np.zeros((9, 64, 2))
    X[0, :, 0] = bit                                    # the bit at step 0
    X[1:, :, 1] = 1                                     # then 8 distractor steps
    Y = bit[:, None]                                    # recall it at the end
    m = train.SequenceModel(2, 4, 1, rng=np.random.default_rng(0), truncate="1997")
    h = train.fit(m, X, Y, train.TrainConfig(epochs=60, batch_size=16, lr=3e-2,
                                             loss="bce"))
    assert h.train_loss[-1] < 0.1 * h.train_loss[0]
    assert ((m.forward(X)[0][-1, :, 0] > 0) == (bit > 0.5)).all()


@pytest.mark.parametrize("kw, error, named", [
    (dict(truncate="1998"), ValueError, "truncate"),
    (dict(truncate=True), ValueError, "truncate"),
    (dict(cell="rnn", truncate="1997"), ValueError, "cell='rnn'"),
    (dict(cell="gru", truncate="1997"), ValueError, "cell='gru'"),
    (dict(variant="cifg", truncate="1997"), ValueError, "variant='cifg'"),
])
def test_truncation_options_that_do_not_exist_are_named(kw, error, named):
    with pytest.raises(error, match=named):
        train.SequenceModel(I, H, 2, rng=np.random.default_rng(0), **kw)


def test_lstm_backward_names_a_bad_truncation():
    p, X, *_ = _problem(False, True)
    cache = lstm_forward(X, p)[2]
    with pytest.raises(ValueError, match="truncate"):
        lstm_backward(np.zeros((T, B, H)), cache, truncate="full")
