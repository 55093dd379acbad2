"""lstm_core.tbptt: k-step truncated BPTT against full BPTT, a hand-written chunked
gradient and PyTorch autograd with the state detached; fit_tbptt on both backends."""
import numpy as np
import pytest
import torch

from lstm_core import numpy_lstm, tbptt, torch_lstm, train
from lstm_core.tbptt import truncated_gradient

T, N, I, H, O = 11, 3, 2, 4, 3

CELLS = pytest.mark.parametrize("kw", [
    dict(cell="lstm"), dict(cell="lstm", peepholes=True),
    dict(cell="lstm", forget_gate=False), dict(cell="rnn"), dict(cell="gru"),
    dict(cell="lstm", variant="cifg")],
    ids=["lstm", "peepholes", "no-forget", "rnn", "gru", "cifg"])


def _model(seed=0, **kw):
    return train.SequenceModel(I, H, O, rng=np.random.default_rng(seed), **kw)


def _stream(seed=1, T=T, N=N):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(T, N, I)), rng.normal(size=(T, N, O))
    mask = rng.uniform(0.2, 1.0, (T, N))
    return X, Y, mask


def test_chunks_cover_the_stream_in_order():
    assert tbptt.chunks(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert tbptt.chunks(4, 9) == [slice(0, 4)]


@CELLS
@pytest.mark.parametrize("k", [T, T + 5])
def test_with_k_at_least_T_it_is_full_bptt_exactly(kw, k):
    m = _model(**kw)
    X, Y, mask = _stream()
    grads, loss, _ = truncated_gradient(m, X, Y, k=k, mask=mask)
    full_loss, dY = train.loss_and_grad(m.forward(X)[0], Y, mask, "mse")
    full = m.backward(dY)
    assert loss == full_loss
    for name in full:
        np.testing.assert_array_equal(grads[name], full[name])


@CELLS
@pytest.mark.parametrize("k", [1, 3, 5])
def test_the_carried_state_is_the_full_forward_state(kw, k):
    m = _model(**kw)
    X, Y, _ = _stream()
    Y_full, state_full = m.forward(X)
    _, _, state = truncated_gradient(m, X, Y, k=k)
    outs, s = [], None
    for piece in tbptt.chunks(T, k):
        y, s = m.forward(X[piece], s)
        outs.append(y)
    np.testing.assert_allclose(np.concatenate(outs), Y_full, rtol=0, atol=1e-14)
    for a, b in zip(np.atleast_1d(state), np.atleast_1d(state_full)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)


def _hand_chunked(m, X, Y, mask, k):
    """The truncated gradient of an LSTM written out with numpy_lstm, chunk by chunk."""
    core, W_hy, b_y = m.core(), m.params["W_hy"], m.params["b_y"]
    total = {n: np.zeros_like(v) for n, v in m.params.items()}
    h = c = np.zeros((N, H))
    for s in range(0, T, k):
        Hs, (h_end, c_end), cache = numpy_lstm.lstm_forward(X[s:s + k], core, h, c)
        Z = Hs @ W_hy.T + b_y
        w = (mask[s:s + k] / mask.sum())[..., None]        # the whole stream's mean
        dZ = 2 * w * (Z - Y[s:s + k]) / O
        g = numpy_lstm.lstm_backward(dZ @ W_hy, cache)[0]  # nothing from later chunks
        g["W_hy"] = np.einsum("tno,tnh->oh", dZ, Hs)
        g["b_y"] = dZ.sum((0, 1))
        total = {n: total[n] + g[n] for n in total}
        h, c = h_end, c_end                                # carried, not differentiated
    return total


@pytest.mark.parametrize("k", [1, 2, 4, 10])
def test_with_k_below_T_it_is_the_hand_computed_chunked_gradient(k):
    m = _model(peepholes=True)
    X, Y, mask = _stream()
    grads = truncated_gradient(m, X, Y, k=k, mask=mask)[0]
    hand = _hand_chunked(m, X, Y, mask, k)
    full_loss, dY = train.loss_and_grad(m.forward(X)[0], Y, mask, "mse")
    full = m.backward(dY)
    for name in hand:
        np.testing.assert_allclose(grads[name], hand[name], rtol=1e-12, atol=1e-15)
    # the cut matters: the recurrent weights' gradient is not the full one
    assert not np.allclose(grads["W_hh"], full["W_hh"], rtol=1e-3)


def _torch_detached(m, X, Y, mask, k, loss):
    """The same gradient by autograd: the state detached at every chunk edge."""
    tm = torch_lstm.SequenceModel.from_numpy(m)
    Xt, Yt, Wt = (torch.from_numpy(a) for a in (X, Y, mask))
    state, outs = None, []
    for piece in tbptt.chunks(T, k):
        y, state = tm(Xt[piece], state)
        outs.append(y)
        state = tbptt._detach(state)
    Z, w = torch.cat(outs), (Wt / Wt.sum())[..., None]
    if loss == "mse":
        value = (w * (Z - Yt) ** 2).sum() / O
    else:
        value = (w * (torch.nn.functional.softplus(Z) - Yt * Z)).sum()
    value.backward()
    own = dict(tm.named_parameters())
    return {n: own[t].grad.numpy() for n, t in tm._names().items()}, \
        float(value.detach())


@CELLS
@pytest.mark.parametrize("k", [1, 3, 4])
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_the_numpy_chunked_gradient_is_autograd_with_the_state_detached(kw, k, loss):
    m = _model(**kw)
    X, Y, mask = _stream()
    if loss == "bce":
        Y = (Y > 0).astype(float)
    grads, value, _ = truncated_gradient(m, X, Y, k=k, mask=mask, loss=loss)
    ref, ref_value = _torch_detached(m, X, Y, mask, k, loss)
    assert value == pytest.approx(ref_value, rel=1e-12)
    for name in ref:
        np.testing.assert_allclose(grads[name], ref[name], rtol=1e-9, atol=1e-13)


def test_padding_chunks_carry_the_state_and_add_no_gradient():
    m = _model()
    X, Y, mask = _stream()
    mask[6:, 0] = 0                                       # stream 0 ends at step 6
    mask[8:] = 0                                          # the last chunk is padding
    grads, _, state = truncated_gradient(m, X, Y, k=4, mask=mask)
    ref = _hand_chunked(m, X, Y, mask, 4)
    for name in ref:
        np.testing.assert_allclose(grads[name], ref[name], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(state[1], m.forward(X)[1][1], rtol=0, atol=1e-14)


# ----------------------------------------------------------------- training

def _cfg(**kw):
    return train.TrainConfig(**{"epochs": 3, "batch_size": 2, "lr": 1e-2,
                                "seed": 0, **kw})


def test_fit_tbptt_with_one_chunk_is_train_fit():
    X, Y, mask = _stream(T=9, N=4)
    a, b = _model(), _model()
    ha = tbptt.fit_tbptt(a, X, Y, _cfg(clip=0.5), k=9, mask=mask)
    hb = train.fit(b, X, Y, _cfg(clip=0.5), mask=mask)
    assert ha.train_loss == hb.train_loss and ha.grad_norm == hb.grad_norm
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


def test_fit_tbptt_records_the_test_loss_and_stops_early_like_fit():
    X, Y, mask = _stream(T=9, N=4)
    Xt, Yt, _ = _stream(seed=5, T=12, N=3)
    cfg = _cfg(epochs=30, early_stop_every=2, early_stop_tol=0.5)
    a, b = _model(), _model()
    ha = tbptt.fit_tbptt(a, X, Y, cfg, k=9, mask=mask, test=(Xt, Yt))
    hb = train.fit(b, X, Y, cfg, mask=mask, test=(Xt, Yt))
    assert ha.test_loss == hb.test_loss and ha.stopped_epoch == hb.stopped_epoch
    assert ha.stopped_epoch is not None and ha.stopped_epoch < 30
    Z = a.forward(Xt)[0]
    assert ha.test_loss[-1] == train.loss_and_grad(Z, Yt, np.ones((12, 3)), "mse")[0]


def test_fit_tbptt_steps_once_per_chunk_from_the_carried_state():
    """Two epochs by hand: per stream group, chunk by chunk, one Adam step each."""
    X, Y, mask = _stream(T=9, N=4)
    m, ref = _model(peepholes=True), _model(peepholes=True)
    cfg = _cfg(epochs=2)
    tbptt.fit_tbptt(m, X, Y, cfg, k=4, mask=mask)
    opt, rng = train.Adam(lr=cfg.lr), np.random.default_rng(cfg.seed)
    for _ in range(cfg.epochs):
        perm = rng.permutation(4)
        for b in range(2):
            idx, state = perm[2 * b:2 * b + 2], None
            for s in tbptt.chunks(9, 4):
                Z, state = ref.forward(X[s, idx], state)
                dY = train.loss_and_grad(Z, Y[s, idx], mask[s, idx], "mse")[1]
                opt.step(ref.params, ref.backward(dY))
    for name in m.params:
        np.testing.assert_allclose(m.params[name], ref.params[name], rtol=1e-12,
                                   atol=1e-15)


@pytest.mark.parametrize("kw", [dict(cell="lstm"), dict(cell="rnn")], ids=str)
def test_fit_tbptt_trains_numpy_and_torch_alike(kw):
    X, Y, mask = _stream(T=10, N=4)
    m = _model(**kw)
    tm = torch_lstm.SequenceModel.from_numpy(m)
    cfg = _cfg(clip=1.0, input_noise=0.1)
    hn = tbptt.fit_tbptt(m, X, Y, cfg, k=3, mask=mask)
    ht = tbptt.fit_tbptt(tm, X, Y, cfg, k=3, mask=mask)
    np.testing.assert_allclose(hn.train_loss, ht.train_loss, rtol=1e-9)
    for name, v in tm.to_numpy().items():
        np.testing.assert_allclose(m.params[name], v, rtol=1e-8, atol=1e-11)


def test_fit_tbptt_learns_a_stream_that_needs_its_carried_state():
    """Predict the sign of the input 1 step back: the chunk edge is crossed every
    k steps, so only a carried state (not a fresh one) gets those steps right."""
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(60, 8, 1))
    Y = np.concatenate([np.zeros((1, 8, 1)), X[:-1]]) > 0
    m = train.SequenceModel(1, 8, 1, rng=np.random.default_rng(0))
    cfg = train.TrainConfig(epochs=40, batch_size=8, lr=3e-2, loss="bce", seed=0)
    h = tbptt.fit_tbptt(m, X, Y.astype(float), cfg, k=5)
    assert h.train_loss[-1] < 0.1 * h.train_loss[0]
    Z, _ = m.forward(X)                                   # one pass, state carried
    right = (Z[1:] > 0) == Y[1:]
    assert right[4::5].mean() > 0.95                      # steps after a chunk edge


def test_fit_tbptt_calls_back_and_reports_divergence():
    X, Y, _ = _stream(T=6, N=2)
    seen = []
    tbptt.fit_tbptt(_model(), X, Y, _cfg(checkpoint_every=1), k=2,
                    callback=lambda e, m, h: seen.append((e, h.epochs)))
    assert seen == [(1, 1), (2, 2), (3, 3)]
    with pytest.raises(FloatingPointError, match="epoch 1, batch 1, chunk"):
        tbptt.fit_tbptt(_model(), X * 1e4, Y * 1e200, _cfg(lr=1e3), k=2)


@pytest.mark.parametrize("call, error, named", [
    (lambda m, X, Y: truncated_gradient(m, X, Y, k=0), ValueError, "k"),
    (lambda m, X, Y: truncated_gradient(m, X, Y, k=2.5), TypeError, "k"),
    (lambda m, X, Y: truncated_gradient(m, X, Y, k=2, loss="l1"), ValueError, "loss"),
    (lambda m, X, Y: truncated_gradient(torch_lstm.SequenceModel.from_numpy(m), X, Y,
                                        k=2), TypeError, "fit_tbptt"),
    (lambda m, X, Y: truncated_gradient(m, X[:, :, :1], Y, k=2), ValueError, "X"),
    (lambda m, X, Y: tbptt.fit_tbptt(m, X, Y, _cfg(step_decay=0.9), k=2), ValueError,
     "step_decay"),
    (lambda m, X, Y: tbptt.fit_tbptt(m, X, Y, _cfg(early_stop_every=2), k=2),
     ValueError, "early_stop_every"),
    (lambda m, X, Y: tbptt.fit_tbptt(m, X, Y, _cfg(), k=2, test=X), TypeError,
     "test must be"),
    (lambda m, X, Y: tbptt.fit_tbptt(m, X, Y, _cfg(), k=2, test=(X, Y[..., :1])),
     ValueError, "test Y"),
    (lambda m, X, Y: tbptt.fit_tbptt(m, X, Y, _cfg(), k=2, test=(X[..., :1], Y)),
     ValueError, "test X"),
    (lambda m, X, Y: tbptt.fit_tbptt(m, X, Y, _cfg(), k=None), TypeError, "k"),
    (lambda m, X, Y: tbptt.fit_tbptt(m, X, Y, _cfg(), k=2, callback=3), TypeError,
     "callback"),
])
def test_bad_arguments_are_named(call, error, named):
    X, Y, _ = _stream()
    with pytest.raises(error, match=named):
        call(_model(), X, Y)
