"""Tests for lstm_core.recipes.fit_generator and its io round trip (tiny sizes)."""
import numpy as np
import pytest

from lstm_core import data, io, recipes

TINY = {"hidden_size": 4, "window": 20, "washout": 5, "epochs": 2, "batch_size": 4}


@pytest.fixture(scope="module")
def waves():
    return 3.0 + 5.0 * data.sine_waves(6, 61, 10.0, np.random.default_rng(0))


@pytest.fixture(scope="module")
def gen(waves):
    return recipes.fit_generator(waves, **TINY)


def test_standardisation_is_fitted_on_the_training_waves_and_undone(gen, waves):
    assert gen.mean == pytest.approx(waves.mean(), rel=1e-12)
    assert gen.scale == pytest.approx(waves.std(), rel=1e-12)
    x = waves[:7, :2]
    np.testing.assert_allclose(gen.unstandardise(gen.standardise(x)), x, rtol=1e-12)
    z = gen.standardise(waves)
    assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 1e-12


def test_free_run_returns_series_units_and_first_prediction_first(gen, waves):
    warm = waves[:30, :2]
    out = gen.free_run(warm, 5)
    assert out.shape == (5, 2)
    np.testing.assert_allclose(out[0], gen.predict(warm)[-1], rtol=1e-6)
    # the second value is what the model predicts after reading its first one
    again = gen.predict(np.concatenate([warm, out[:1]]))[-1]
    np.testing.assert_allclose(out[1], again, rtol=1e-5, atol=1e-6)


def test_save_load_round_trip_gives_identical_free_runs(gen, waves, tmp_path):
    path = tmp_path / "gen.npz"
    io.save_generator(path, gen, {"note": "tiny"})
    back = io.load_generator(path)
    assert back.mean == gen.mean and back.scale == gen.scale
    assert back.config == gen.config and back.meta == {"note": "tiny"}
    warm = waves[:30, :3]
    np.testing.assert_array_equal(back.free_run(warm, 8), gen.free_run(warm, 8))


def test_load_generator_refuses_a_plain_parameter_file(tmp_path):
    path = tmp_path / "p.npz"
    io.save_params(path, {"W_ih": np.zeros((4, 1))}, {"x": 1})
    with pytest.raises(ValueError, match="save_generator"):
        io.load_generator(path)


@pytest.mark.parametrize("bad, err, match", [
    (np.zeros((61, 3)), ValueError, "vary"),
    (np.ones((10, 3)), ValueError, "window"),
    (np.ones(61), ValueError, "2 dimensions"),
    ([[1.0, 2.0]], TypeError, "NumPy array"),
])
def test_bad_waves_are_named(bad, err, match):
    with pytest.raises(err, match=match):
        recipes.fit_generator(bad, **TINY)


def test_bad_options_are_named(waves):
    with pytest.raises(TypeError, match="unknown options"):
        recipes.fit_generator(waves, windw=20)
    with pytest.raises(ValueError, match="washout"):
        recipes.fit_generator(waves, **{**TINY, "washout": 20})
    with pytest.raises(TypeError, match="hidden_size"):
        recipes.fit_generator(waves, **{**TINY, "hidden_size": 2.5})


def test_bad_warm_up_is_named(gen):
    with pytest.raises(ValueError, match="warm must have 2 dimensions"):
        gen.free_run(np.zeros(10), 3)
    with pytest.raises(ValueError, match="n_steps"):
        gen.free_run(np.zeros((10, 1)), 0)
    with pytest.raises(ValueError, match="far outside"):
        gen.free_run(np.full((10, 1), 1e12), 3)


# ---------------------------------------------------------- weighted training

ONE_UPDATE = {**TINY, "epochs": 1, "batch_size": 100, "input_noise": 0.0}


def _first_loss_by_hand(waves, cfg):
    """The loss of the first update, at the initial weights, computed here."""
    import torch

    from lstm_core.torch_lstm import SequenceModel
    Z = (waves - waves.mean()) / waves.std()
    X = torch.from_numpy(recipes._windows(Z[:-1], cfg["window"]).astype(np.float32))
    Y = torch.from_numpy(recipes._windows(Z[1:], cfg["window"]).astype(np.float32))
    torch.manual_seed(0)
    model = SequenceModel(1, cfg["hidden_size"], 1, dtype=torch.float32)
    with torch.no_grad():
        e2 = ((model(X[..., None])[0][..., 0] - Y) ** 2).double().numpy()  # (W, n)
    e2 = e2[cfg["washout"]:]
    w = cfg["step_decay"] ** np.arange(e2.shape[0])           # (scored,)
    return float((w[:, None] * e2).sum() / (w.sum() * e2.shape[1]))


def test_step_decay_weighs_scored_step_t_by_decay_to_t_minus_washout(waves):
    cfg = {**ONE_UPDATE, "step_decay": 0.3}
    gen = recipes.fit_generator(waves, **cfg)
    assert gen.config.step_decay == 0.3
    expected = _first_loss_by_hand(waves, cfg)
    assert gen.history["train_loss"][0] == pytest.approx(expected, rel=1e-5)
    # the plain mean differs from it by far more than the tolerance above
    plain = _first_loss_by_hand(waves, {**cfg, "step_decay": 1.0})
    assert abs(plain - expected) > 1e-3 * expected


def test_step_decay_one_is_the_plain_mean_and_none_is_the_default(waves):
    plain = recipes.fit_generator(waves, **{**TINY, "epochs": 2})
    ones = recipes.fit_generator(waves, **{**TINY, "epochs": 2, "step_decay": 1.0})
    assert recipes.GeneratorConfig().step_decay is None
    np.testing.assert_allclose(ones.history["train_loss"],
                               plain.history["train_loss"], rtol=1e-5)


def test_step_decay_survives_save_and_load(waves, tmp_path):
    gen = recipes.fit_generator(waves, **{**TINY, "step_decay": 0.9})
    io.save_generator(tmp_path / "w.npz", gen)
    assert io.load_generator(tmp_path / "w.npz").config.step_decay == 0.9


@pytest.mark.parametrize("bad", [0.0, 1.5, -0.2])
def test_bad_step_decay_is_named(waves, bad):
    with pytest.raises(ValueError, match="step_decay"):
        recipes.fit_generator(waves, **{**TINY, "step_decay": bad})
