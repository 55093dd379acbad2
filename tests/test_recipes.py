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
