"""lstm_core.train: losses, optimisers, the two tricks and the loop, both backends."""
import numpy as np
import pytest
import torch

from lstm_core import data, gradcheck, train, torch_lstm


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _model(rng, cell="lstm", peepholes=False, I=2, H=5, O=3, variant=None):
    return train.SequenceModel(I, H, O, cell=cell, peepholes=peepholes, rng=rng,
                               variant=variant)


@pytest.mark.parametrize("kind", ["mse", "bce", "ce"])
def test_loss_gradient_matches_finite_differences(rng, kind):
    Y_hat = rng.normal(size=(4, 3, 5))
    Y = rng.normal(size=Y_hat.shape) if kind == "mse" else \
        np.eye(5)[rng.integers(0, 5, (4, 3))]
    W = rng.uniform(0.1, 1, (4, 3))
    _, dY = train.loss_and_grad(Y_hat, Y, W, kind)
    num = gradcheck.numerical_grad(lambda: train.loss_and_grad(Y_hat, Y, W, kind)[0],
                                   Y_hat)
    assert gradcheck.rel_error(dY, num) < 1e-7


CELLS = pytest.mark.parametrize("cell,peepholes,variant", [
    ("lstm", False, None), ("lstm", True, None), ("rnn", False, None),
    ("gru", False, None), ("lstm", False, "cifg")],
    ids=["lstm", "peepholes", "rnn", "gru", "cifg"])


@CELLS
def test_model_backward_matches_finite_differences(rng, cell, peepholes, variant):
    m = _model(rng, cell, peepholes, variant=variant)
    X, Y = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 3))
    W = np.ones((4, 3))

    def loss():
        return train.loss_and_grad(m.forward(X)[0], Y, W, "mse")[0]

    _, dY = train.loss_and_grad(m.forward(X)[0], Y, W, "mse")
    grads = m.backward(dY)
    for k, p in m.params.items():                     # norm-wise relative error
        num = gradcheck.numerical_grad(loss, p)
        err = np.linalg.norm(num - grads[k]) / np.linalg.norm(num + grads[k])
        assert err < 1e-7, (k, err)


@pytest.mark.parametrize("name", ["sgd", "adagrad", "adam"])
def test_numpy_optimisers_follow_torch_optim(rng, name):
    p = {"w": rng.normal(size=(3, 2))}
    t = torch.tensor(p["w"].copy(), requires_grad=True)
    ours = train.OPTIMIZERS[name](lr=0.05)
    theirs = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad,
              "adam": torch.optim.Adam}[name]([t], lr=0.05)
    for _ in range(5):
        g = rng.normal(size=(3, 2))
        ours.step(p, {"w": g})
        t.grad = torch.tensor(g)
        theirs.step()
    np.testing.assert_allclose(p["w"], t.detach().numpy(), rtol=1e-12, atol=1e-14)


@CELLS
def test_numpy_and_torch_backends_train_identically(rng, cell, peepholes, variant):
    m = _model(rng, cell, peepholes, I=1, H=3, O=1, variant=variant)
    t = torch_lstm.SequenceModel.from_numpy(m)
    assert (t.cell, t.variant) == (cell, variant)
    sw = data.sine_windows()
    cfg = train.TrainConfig(epochs=20, batch_size=5, lr=0.02, step_decay=0.9,
                            input_noise=0.01, clip=1.0)
    h_np = train.fit(m, sw.X_train, sw.y_train, cfg, test=(sw.X_test, sw.y_test))
    h_t = train.fit(t, sw.X_train, sw.y_train, cfg, test=(sw.X_test, sw.y_test))
    np.testing.assert_allclose(h_np.train_loss, h_t.train_loss, rtol=1e-9)
    np.testing.assert_allclose(h_np.test_loss, h_t.test_loss, rtol=1e-9)
    for k, v in t.to_numpy().items():
        np.testing.assert_allclose(m.params[k], v, atol=1e-10, err_msg=k)


def test_fit_lowers_the_loss(rng):
    m = _model(rng, I=1, H=4, O=1)
    sw = data.sine_windows()
    h = train.fit(m, sw.X_train, sw.y_train,
                  train.TrainConfig(epochs=150, batch_size=5, lr=0.02))
    assert h.train_loss[-1] < 0.1 * h.train_loss[0]


def test_step_weights_decay_geometrically():
    np.testing.assert_allclose(train.step_weights(4, 0.5), [1, 0.5, 0.25, 0.125])
    np.testing.assert_array_equal(train.step_weights(3), np.ones(3))
    with pytest.raises(ValueError, match="^decay must"):
        train.step_weights(3, 1.5)


def test_weighted_loss_ignores_zero_weight_steps(rng):
    Y_hat, Y = rng.normal(size=(3, 2, 1)), rng.normal(size=(3, 2, 1))
    W = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    loss, dY = train.loss_and_grad(Y_hat, Y, W)
    assert loss == pytest.approx(((Y_hat[0] - Y[0]) ** 2).mean())
    assert not dY[1:].any()


def test_input_noise_is_used_in_training_only(rng):
    sw = data.sine_windows()
    runs = []
    for noise in (0.0, 0.5):
        m = _model(np.random.default_rng(1), I=1, H=3, O=1)
        cfg = train.TrainConfig(epochs=1, batch_size=22, lr=1e-9, input_noise=noise)
        runs.append(train.fit(m, sw.X_train, sw.y_train, cfg,
                              test=(sw.X_test, sw.y_test)))
    assert runs[0].train_loss != runs[1].train_loss          # noisy training inputs
    assert runs[0].test_loss == pytest.approx(runs[1].test_loss, rel=1e-6)


def test_early_stopping_follows_the_seed_rule(rng):
    m = _model(rng, I=1, H=2, O=1)
    sw = data.sine_windows()
    cfg = train.TrainConfig(epochs=400, batch_size=5, lr=1e-12, early_stop_every=50)
    h = train.fit(m, sw.X_train, sw.y_train, cfg, test=(sw.X_test, sw.y_test))
    assert h.stopped_epoch == 100                 # no 1 % gain between epochs 50 and 100
    assert h.epochs == 100


def test_divergence_raises_with_epoch_and_step(rng):
    m = _model(rng, I=1, H=3, O=1)
    sw = data.sine_windows()
    with pytest.raises(FloatingPointError, match=r"epoch \d+, step \d+"):
        train.fit(m, sw.X_train, sw.y_train * 1e200,
                  train.TrainConfig(epochs=5, batch_size=5, optimizer="sgd", lr=1e10))


def test_clipping_bounds_the_update(rng):
    m = _model(rng, I=1, H=3, O=1)
    before = {k: v.copy() for k, v in m.params.items()}
    sw = data.sine_windows()
    train.fit(m, sw.X_train, sw.y_train * 1e6,
              train.TrainConfig(epochs=1, batch_size=22, optimizer="sgd", lr=1.0,
                                clip=1e-3))
    step = np.sqrt(sum(((m.params[k] - before[k]) ** 2).sum() for k in before))
    assert step == pytest.approx(1e-3, rel=1e-6)


def test_callback_runs_at_checkpoints(rng):
    seen = []
    m = _model(rng, I=1, H=2, O=1)
    sw = data.sine_windows()
    train.fit(m, sw.X_train, sw.y_train,
              train.TrainConfig(epochs=6, batch_size=5, checkpoint_every=2),
              callback=lambda epoch, model, history: seen.append(history.epochs))
    assert seen == [2, 4, 6]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_free_run_returns_the_prediction_of_series_t0_first(rng, backend):
    m = _model(rng, I=1, H=3, O=1)
    model = m if backend == "numpy" else torch_lstm.SequenceModel.from_numpy(m)
    X = rng.normal(size=(4, 2, 1))
    gen = train.free_run(model, X, 3)
    assert gen.shape == (3, 2, 1)
    # out[0] is the output at the last warm-up input: the prediction of series[T0]
    np.testing.assert_allclose(gen[0], train.predict(model, X)[-1], atol=1e-12)
    # out[k] for k >= 1 is the output when out[k - 1] is fed back
    full = np.concatenate([X, gen[:-1]])
    np.testing.assert_allclose(train.predict(model, full)[-3:], gen, atol=1e-12)
    # a shorter run is a prefix of a longer one
    np.testing.assert_allclose(train.free_run(model, X, 2), gen[:2], atol=1e-12)
    assert train.free_run(model, X, 1).shape == (1, 2, 1)


def test_free_run_aligns_with_the_series(rng):
    """A model that predicts the next value of a sine exactly (the AR(2) identity
    y[t+1] = 2 cos(1/tau) y[t] - y[t-1], as a linear RNN readout) scores 0 when
    out[k] is compared with series[T0 + k]."""
    from lstm_core import metrics

    class Exact(torch.nn.Module):       # state: the previous input
        def __init__(self, tau):
            super().__init__()
            self.c = torch.nn.Parameter(torch.tensor(2 * np.cos(1 / tau)))

        def forward(self, x, state):
            prev = x[:1] * 0 if state is None else state   # (1, N, 1)
            out = []
            for t in range(x.shape[0]):
                out.append(self.c * x[t:t + 1] - prev)
                prev = x[t:t + 1]
            return torch.cat(out), prev

    tau, T0 = 7.0, 30
    series = np.sin((np.arange(200)[:, None] + np.array([0.0, 2.0])) / tau)
    model = Exact(tau).double()
    X = series[:T0, :, None]
    gen = train.free_run(model, X, 150)[..., 0]                     # (150, 2)
    truth = series[T0:T0 + 150]
    assert metrics.free_error(gen, truth)[-1] < 1e-9
    assert metrics.valid_time(gen, truth, 1e-6) == 150
    # compared one step off (the slip free_run's old output invited), the
    # perfect model would seem to err by sqrt(2) sin(1 / (2 tau)) = 0.101 RMS
    late = series[T0 + 1:T0 + 151]
    assert 0.09 < metrics.free_error(gen, late)[-1] < 0.11


def test_free_run_has_no_option_to_drop_its_first_prediction(rng):
    m = _model(rng, I=1, H=3, O=1)
    with pytest.raises(TypeError, match="include_first"):
        train.free_run(m, rng.normal(size=(4, 2, 1)), 3, include_first=False)


def test_free_run_needs_output_size_equal_to_input_size(rng):
    with pytest.raises(ValueError, match="output size 3"):
        train.free_run(_model(rng), rng.normal(size=(4, 2, 2)), 3)


@pytest.mark.parametrize("change,match", [
    ({"optimizer": "rmsprop"}, "config.optimizer"),
    ({"loss": "l1"}, "config.loss"),
    ({"epochs": 0}, "config.epochs"),
    ({"batch_size": 100}, "config.batch_size"),
    ({"lr": -1.0}, "config.lr"),
    ({"input_noise": -0.1}, "config.input_noise"),
    ({"clip": 0.0}, "config.clip"),
    ({"early_stop_every": 10}, "test set"),
])
def test_bad_config_is_named(rng, change, match):
    sw = data.sine_windows()
    cfg = train.TrainConfig(**({"batch_size": 5} | change))
    with pytest.raises(ValueError, match=match):
        train.fit(_model(rng, I=1, H=2, O=1), sw.X_train, sw.y_train, cfg)


@pytest.mark.parametrize("X,Y,mask,match", [
    (np.zeros((5, 4)), np.zeros((4, 1)), None, "X must"),
    (np.zeros((5, 4, 1)), np.zeros((3, 1)), None, r"\(4, O\)"),
    (np.zeros((5, 4, 1)), np.zeros((5, 3, 1)), None, r"\(5, 4, O\)"),
    (np.zeros((5, 4, 1)), np.zeros((5, 4, 1)), np.ones((5, 3)), "mask"),
    (np.zeros((5, 4, 1)), [[0.0]] * 4, None, "Y must"),
])
def test_bad_data_is_named(rng, X, Y, mask, match):
    with pytest.raises(ValueError, match=match):
        train.fit(_model(rng, I=1, H=2, O=1), X, Y, train.TrainConfig(batch_size=2),
                  mask=mask)


def test_bad_model_is_named():
    with pytest.raises(TypeError, match="model must be"):
        train.fit(object(), np.zeros((3, 4, 1)), np.zeros((4, 1)),
                  train.TrainConfig(batch_size=2))


def test_bad_cell_and_output_size_are_named(rng):
    with pytest.raises(ValueError, match="cell"):
        train.SequenceModel(1, 2, 1, cell="lsmt", rng=rng)
    with pytest.raises(ValueError, match="output_size"):
        train.SequenceModel(1, 2, 0, rng=rng)


def test_backward_before_forward_is_an_error(rng):
    with pytest.raises(RuntimeError, match="forward before backward"):
        _model(rng).backward(np.zeros((1, 1, 3)))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"cell": "transformer"}, ValueError,
     r"^cell must be one of \['gru', 'lstm', 'rnn'\]"),
    ({"cell": "gru", "variant": "cifg"}, ValueError,
     r"needs cell='lstm', got cell='gru'"),
    ({"variant": "cifg", "peepholes": True}, ValueError,
     r"^variant='cifg' fixes the peepholes and the forget gate"),
    ({"variant": "fgr"}, ValueError, r"^variant must be one of"),
], ids=["unknown-cell", "variant-of-gru", "variant-and-peepholes", "unknown-variant"])
def test_sequence_models_refuse_bad_cell_choices(kwargs, error, match):
    with pytest.raises(error, match=match):
        train.SequenceModel(2, 3, 1, rng=np.random.default_rng(0), **kwargs)
    with pytest.raises(error, match=match):
        torch_lstm.SequenceModel(2, 3, 1, **kwargs)


@pytest.mark.parametrize("cell, variant", [("gru", None), ("lstm", "nog")])
def test_free_run_works_for_the_new_cells_on_both_backends(cell, variant):
    m = _model(np.random.default_rng(3), cell, I=1, H=3, O=1, variant=variant)
    t = torch_lstm.SequenceModel.from_numpy(m)
    X = np.random.default_rng(4).normal(size=(4, 2, 1))
    np.testing.assert_allclose(train.free_run(m, X, 6), train.free_run(t, X, 6),
                               rtol=1e-10, atol=1e-12)
