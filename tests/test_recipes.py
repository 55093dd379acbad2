"""Tests for lstm_core.recipes.fit_generator and its io round trip (tiny sizes)."""
import numpy as np
import pytest

from lstm_core import data, feedback, io, recipes

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


# ------------------------------- scheduled sampling and the multi-step loss

def _tiny_model_and_batch(waves, cfg):
    """The initial model of a run and all its windows, X, Y (W, n, 1)."""
    import torch

    from lstm_core.torch_lstm import SequenceModel
    Z = (waves - waves.mean()) / waves.std()
    X = torch.from_numpy(recipes._windows(Z[:-1], cfg["window"]).astype(np.float32))
    Y = torch.from_numpy(recipes._windows(Z[1:], cfg["window"]).astype(np.float32))
    torch.manual_seed(0)
    model = SequenceModel(1, cfg["hidden_size"], 1, dtype=torch.float32)
    return model, X[..., None], Y[..., None]


def test_the_new_options_are_off_by_default_and_old_files_still_load(waves):
    cfg = recipes.GeneratorConfig()
    assert cfg.scheduled_sampling == 0 and cfg.rollout == 0
    # a file written before the options existed has no such keys
    old = {k: v for k, v in recipes.config_dict(cfg).items()
           if k not in ("scheduled_sampling", "rollout")}
    assert recipes.GeneratorConfig(**old) == cfg
    # the default's first loss is still the plain mean after the washout
    gen = recipes.fit_generator(waves, **ONE_UPDATE)
    by_hand = _first_loss_by_hand(waves, {**ONE_UPDATE, "step_decay": 1.0})
    assert gen.history["train_loss"][0] == pytest.approx(by_hand, rel=1e-5)


def test_scheduled_sampling_zero_and_rollout_zero_are_the_default(waves):
    run = {**TINY, "epochs": 3, "input_noise": 0.05}
    plain = recipes.fit_generator(waves, **run)
    for extra in ({"scheduled_sampling": 0.0}, {"rollout": 0}):
        same = recipes.fit_generator(waves, **run, **extra)
        assert same.history["train_loss"] == plain.history["train_loss"]
    # the schedule starts at 0, so its first epoch is the default's too ...
    sampled = recipes.fit_generator(waves, **run, scheduled_sampling=0.8)
    assert sampled.history["train_loss"][0] == plain.history["train_loss"][0]
    # ... and later epochs differ
    assert sampled.history["train_loss"][1:] != plain.history["train_loss"][1:]


def test_sampling_probability_rises_linearly_from_0_to_its_final_value():
    cfg = recipes.GeneratorConfig(epochs=5, scheduled_sampling=0.4)
    p = [feedback.sampling_probability(cfg, e) for e in range(1, 6)]
    np.testing.assert_allclose(p, [0.0, 0.1, 0.2, 0.3, 0.4], rtol=1e-12)
    one = recipes.GeneratorConfig(epochs=1, scheduled_sampling=0.4)
    assert feedback.sampling_probability(one, 1) == 0.0


def _free_after(model, X, start, detach):
    """By hand: true inputs up to start, then each input the previous output."""
    import torch
    Y, state = model(X[:start])
    outs, y = [Y], Y[-1:]
    for _ in range(start, X.shape[0]):
        y, state = model(y.detach() if detach else y, state)
        outs.append(y)
    return torch.cat(outs)


def test_sampled_pass_p0_is_teacher_forcing_p1_feeds_back_detached(waves):
    import torch
    model, X, _ = _tiny_model_and_batch(waves, TINY)
    rng = np.random.default_rng(5)
    out = feedback.sampled_pass(model, X, 5, 0.0, rng)
    np.testing.assert_allclose(out.detach(), model(X)[0].detach(), atol=1e-6)
    out = feedback.sampled_pass(model, X, 5, 1.0, rng)            # (W, n, 1)
    want = _free_after(model, X, 5, detach=True)
    np.testing.assert_allclose(out.detach(), want.detach(), atol=1e-5)
    # no gradient through a sampled input: the gradient is the detached one's
    grads = []
    for y in (out, want, _free_after(model, X, 5, detach=False)):
        model.zero_grad()
        (y[5:] ** 2).mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-7)
    assert (grads[0] - grads[2]).abs().max() > 1e-3 * grads[2].abs().max()


def test_sampled_pass_feeds_back_where_its_coins_say(waves):
    model, X, _ = _tiny_model_and_batch(waves, TINY)
    out = feedback.sampled_pass(model, X, 5, 0.5, np.random.default_rng(3))
    coins = np.random.default_rng(3).random((X.shape[0] - 5, X.shape[1])) < 0.5
    # after the first coin, the outputs of teacher-forced columns and of
    # fed-back columns part: a window whose coins were all "true" is unchanged
    tf = model(X)[0].detach()[..., 0].numpy()
    all_true = ~coins.any(axis=0)
    some_fed = coins.any(axis=0)
    assert some_fed.any()
    np.testing.assert_allclose(out.detach()[..., 0].numpy()[:, all_true],
                               tf[:, all_true], atol=1e-6)
    gap = np.abs(out.detach()[..., 0].numpy() - tf).max(axis=0)
    assert np.all(gap[some_fed] > 1e-6)


def test_rollout_starts_tile_the_scored_part_of_the_window():
    cfg = recipes.GeneratorConfig(window=20, washout=5, rollout=4)
    assert feedback.rollout_starts(cfg) == [5, 9, 13]      # 13 + 4 <= 19
    cfg = recipes.GeneratorConfig(window=200, washout=50, rollout=25)
    assert feedback.rollout_starts(cfg) == [50, 75, 100, 125, 150]


def test_rollout_loss_is_the_teacher_forced_mean_plus_the_free_runs_mean(waves):
    import torch
    cfg = {**ONE_UPDATE, "rollout": 4}
    gen = recipes.fit_generator(waves, **cfg)
    model, X, Y = _tiny_model_and_batch(waves, cfg)
    with torch.no_grad():
        tf = ((model(X)[0] - Y)[5:] ** 2).double().mean().item()
        free = []
        for t0 in (5, 9, 13):                    # each start on its own
            y, state = model(X[:t0 + 1])
            y = y[-1:]                           # predicts x_{t0+1}
            for j in range(1, 5):                # k = 4 fed-back steps
                y, state = model(y, state)
                free.append(((y - Y[t0 + j:t0 + j + 1]) ** 2).double())
        roll = torch.cat(free).mean().item()
    assert gen.history["train_loss"][0] == pytest.approx(tf + roll, rel=1e-5)
    assert roll > 1e-3 * tf                      # the rollout term counts


def test_new_options_survive_save_and_load(waves, tmp_path):
    gen = recipes.fit_generator(waves, **{**TINY, "rollout": 3})
    io.save_generator(tmp_path / "r.npz", gen)
    assert io.load_generator(tmp_path / "r.npz").config.rollout == 3


@pytest.mark.parametrize("bad, err, match", [
    ({"scheduled_sampling": -0.1}, ValueError, "scheduled_sampling"),
    ({"scheduled_sampling": 1.5}, ValueError, "scheduled_sampling"),
    ({"scheduled_sampling": "half"}, TypeError, "scheduled_sampling"),
    ({"rollout": -1}, ValueError, "rollout"),
    ({"rollout": 2.5}, TypeError, "rollout"),
    ({"rollout": 15}, ValueError, "rollout must leave room"),   # 5 + 15 > 19
    ({"rollout": 3, "scheduled_sampling": 0.5}, ValueError, "one at a time"),
])
def test_bad_feedback_options_are_named(waves, bad, err, match):
    with pytest.raises(err, match=match):
        recipes.fit_generator(waves, **{**TINY, **bad})
