"""lstm_core.metrics: a perfect generator scores 0, known errors are recovered
(phase, amplitude, frequency, divergence), E(h) is the running RMS, bad input is
refused by name."""
import numpy as np
import pytest

from lstm_core import metrics

PERIOD = 50 / (2 * np.pi)                 # a cycle of exactly 50 steps
T = np.arange(1000)[:, None]              # (n_steps, 1)
SHIFTS = np.array([0.0, 1.0, 2.5])        # three waves


def waves(amplitude=1.0, phase=0.0, d=0.0, period=PERIOD):
    return amplitude * np.sin((1 / period + d) * T + SHIFTS + phase)   # (1000, 3)


def test_a_perfect_generator_scores_zero():
    truth = waves()
    assert np.all(metrics.step_error(truth, truth) == 0)
    assert np.all(metrics.free_error(truth, truth) == 0)
    assert np.all(metrics.phase_drift(truth, truth, PERIOD) == 0)
    assert metrics.valid_time(truth, truth, 1e-12) == truth.shape[0]
    np.testing.assert_allclose(metrics.frequency_error(truth, PERIOD), 0, atol=1e-12)


def test_free_error_is_the_rms_over_the_first_h_steps_not_the_error_at_h():
    rng = np.random.default_rng(0)
    truth, pred = rng.normal(size=(2, 40, 3))
    e = metrics.step_error(pred, truth)
    np.testing.assert_allclose(e, np.sqrt(((pred - truth) ** 2).mean(axis=1)))
    E = metrics.free_error(pred, truth)
    for h in (1, 7, 40):
        want = np.sqrt(((pred[:h] - truth[:h]) ** 2).mean())
        assert E[h - 1] == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(metrics.free_error(pred, truth, [7, 40, 1]),
                               E[[6, 39, 0]])
    # an error only at the last step: E(h) there is e / sqrt(h), not e
    pred = truth.copy()
    pred[-1] += 2.0
    assert metrics.step_error(pred, truth)[-1] == pytest.approx(2.0)
    assert metrics.free_error(pred, truth)[-1] == pytest.approx(2.0 / np.sqrt(40))


def test_flat_line_error_is_the_rms_of_the_truth():
    truth = waves()
    E0 = metrics.flat_line_error(truth, [1000])
    assert E0[0] == pytest.approx(np.sqrt(0.5), rel=1e-3)     # RMS of a sine
    np.testing.assert_array_equal(
        metrics.flat_line_error(truth), metrics.free_error(0 * truth, truth))


@pytest.mark.parametrize("period", [PERIOD, 20.0, 3.3])
def test_a_known_phase_shift_and_amplitude_are_recovered(period):
    fit = metrics.fit_cycles(waves(1.7, 0.3, period=period), period)
    n_cycles = int(1000 // (2 * np.pi * period))
    assert fit.amplitude.shape == fit.phase.shape == (n_cycles, 3)
    np.testing.assert_allclose(fit.amplitude, 1.7, atol=1e-9)
    np.testing.assert_allclose(np.angle(np.exp(1j * (fit.phase - SHIFTS - 0.3))), 0,
                               atol=1e-9)
    drift = metrics.phase_drift(waves(1.7, 0.3, period=period),
                                waves(period=period), period)
    np.testing.assert_allclose(drift, 0.3, atol=1e-9)
    drift = metrics.phase_drift(waves(period=period), waves(1.7, 0.3, period=period),
                                period)
    np.testing.assert_allclose(drift, -0.3, atol=1e-9)


def test_cycles_tile_the_steps_without_gaps():
    fit = metrics.fit_cycles(waves(period=20.0), 20.0)        # 125.66 steps a cycle
    assert fit.start[0] == 0
    np.testing.assert_array_equal(np.diff(fit.start) >= 125, True)
    np.testing.assert_array_equal(np.diff(fit.start) <= 126, True)


@pytest.mark.parametrize("d", [-2e-3, 1e-4, 1e-3, 5e-3])
def test_a_known_frequency_error_is_recovered_from_the_phase_slope(d):
    f = metrics.frequency_error(waves(d=d), PERIOD)
    assert f.shape == (3,)
    np.testing.assert_allclose(f, d, rtol=2e-2)
    # the drift grows by d per step: d x 50 per cycle
    drift = metrics.phase_drift(waves(d=d), waves(), PERIOD)
    np.testing.assert_allclose(np.diff(drift, axis=0), d * 50, rtol=5e-2)


def test_a_drift_beyond_pi_is_unwrapped():
    drift = metrics.phase_drift(waves(d=5e-3), waves(), PERIOD)
    assert drift[-1].min() > 4.5                   # 5e-3 x 950 steps = 4.75 rad


def test_valid_time_of_a_known_divergence():
    truth = waves()
    pred = truth.copy()
    pred[300:] += np.linspace(0, 1, 700)[:, None]     # error 0.1 first passed at 370
    k = metrics.valid_time(pred, truth, 0.1)
    e = metrics.step_error(pred, truth)
    assert k == 370
    assert e[k] > 0.1 and np.all(e[:k] <= 0.1)
    assert metrics.valid_time(pred, truth, 2.0) == 1000
    pred[0, 0] += 5
    assert metrics.valid_time(pred, truth, 0.1) == 0


BAD = [
    (lambda: metrics.free_error(np.zeros((5, 2)), np.zeros((5, 3))),
     ValueError, "pred and truth must have the same shape"),
    (lambda: metrics.step_error(np.zeros(5), np.zeros(5)),
     ValueError, r"pred must have 2 dimensions \(n_steps, M\)"),
    (lambda: metrics.free_error(np.full((5, 2), np.nan), np.zeros((5, 2))),
     ValueError, "pred must hold finite values"),
    (lambda: metrics.free_error(np.zeros((5, 2)), np.full((5, 2), np.inf)),
     ValueError, "truth must hold finite values"),
    (lambda: metrics.step_error([[1.0]], np.zeros((1, 1))),
     TypeError, "pred must be a NumPy array"),
    (lambda: metrics.free_error(np.zeros((5, 2)), np.zeros((5, 2)), [6]),
     ValueError, r"horizons must lie in 1..5"),
    (lambda: metrics.free_error(np.zeros((5, 2)), np.zeros((5, 2)), [0]),
     ValueError, "each horizon must be a positive int"),
    (lambda: metrics.free_error(np.zeros((5, 2)), np.zeros((5, 2)), 3),
     TypeError, "horizons must be a sequence of ints"),
    (lambda: metrics.free_error(np.zeros((5, 2)), np.zeros((5, 2)), [1.5]),
     TypeError, "each horizon must be a positive int, got float 1.5"),
    (lambda: metrics.free_error(np.zeros((5, 2)), np.zeros((5, 2)), []),
     ValueError, "horizons must hold at least one"),
    (lambda: metrics.valid_time(np.zeros((5, 2)), np.zeros((5, 2)), 0),
     ValueError, "threshold must be a finite number"),
    (lambda: metrics.fit_cycles(np.zeros((40, 2)), PERIOD),
     ValueError, "pred must hold at least one whole cycle"),
    (lambda: metrics.fit_cycles(np.zeros((40, 2)), -1.0),
     ValueError, "period must be a finite number"),
    (lambda: metrics.frequency_error(np.zeros((60, 2)), PERIOD),
     ValueError, "pred must hold at least two whole cycles"),
    (lambda: metrics.phase_drift(np.zeros((60, 2)), np.zeros((60, 1)), PERIOD),
     ValueError, "pred and truth must have the same shape"),
    (lambda: metrics.flat_line_error(np.zeros((2, 2, 2))),
     ValueError, "truth must have 2 dimensions"),
]


@pytest.mark.parametrize("call, kind, message", BAD)
def test_bad_input_is_refused_by_name(call, kind, message):
    with pytest.raises(kind, match=message):
        call()
