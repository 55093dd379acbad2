"""Measures of a free-running generator against the true continuation.

One set of measures for the sine chapters. Every function takes arrays of shape
(n_steps, M): M waves side by side, time-major like `lstm_core.data.sine_waves`,
row k the k-th generated step (row 0 predicts the first step after the warm-up;
`generate.free_run` returns its predictions that way).

- `step_error(pred, truth)`: e_k, the RMS over the M waves at step k.
- `free_error(pred, truth, horizons)`: E(h), the RMS over steps 1..h and over the
  waves. E(h) is a running average: it is NOT the error at step h (that is
  `step_error`), and it grows more slowly than the step error does.
- `flat_line_error(truth, horizons)`: E(h) of predicting 0 at every step, the
  error of the flat line a collapsed generator draws; divide by it for a
  normalised error (below 1: better than giving up).
- `valid_time(pred, truth, threshold)`: how many steps are predicted before the
  step error first exceeds threshold.
- `fit_cycles(pred, period)`: amplitude and phase of each whole cycle, by least
  squares of a sin(t / period) + b cos(t / period) on the cycle's steps.
- `phase_drift(pred, truth, period)`: the fitted phase of pred minus that of truth,
  cycle by cycle; `frequency_error(pred, period)`: the slope of the fitted phase
  against the cycle's first step, in radians per step (0 for a wave at the right
  frequency; a wave sin((1/period + d) t) gives d).

`period` is the one of `lstm_core.data.sine_waves`: the waves are sin(t / period),
so one cycle spans 2 pi period steps. Steps t count from 0 at row 0 of pred.
"""
from collections import namedtuple

import numpy as np

from . import validate as V

Cycles = namedtuple("Cycles", "start amplitude phase")
Cycles.__doc__ = """Per-cycle fit of x_t = amplitude sin(t / period + phase).

start (n_cycles,) int: the first step of each cycle; amplitude, phase
(n_cycles, M): phase in radians, unwrapped along the cycles (so a drift can
pass pi)."""


def _waves(name, x):
    return V.array(name, x, 2, dims="(n_steps, M)")


def _pair(pred, truth):
    _waves("pred", pred)
    _waves("truth", truth)
    if pred.shape != truth.shape:
        raise ValueError(f"pred and truth must have the same shape (n_steps, M), got "
                         f"pred {V.describe(pred)} and truth {V.describe(truth)}")
    return pred.astype(np.float64), truth.astype(np.float64)


def step_error(pred, truth):
    """e (n_steps,): e[k] = sqrt(mean over waves of (pred[k] - truth[k])^2)."""
    pred, truth = _pair(pred, truth)
    return np.sqrt(np.mean((pred - truth) ** 2, axis=1))


def free_error(pred, truth, horizons=None):
    """E(h) = sqrt(mean over steps 1..h and the M waves of (pred - truth)^2).

    The RMS over the FIRST h steps, not the error at step h (`step_error`).
    horizons: None for every h = 1..n_steps (an array (n_steps,), E[h - 1] = E(h)),
    or a sequence of ints in 1..n_steps (an array of the same length).
    """
    e2 = step_error(pred, truth) ** 2
    E = np.sqrt(np.cumsum(e2) / np.arange(1, e2.size + 1))
    if horizons is None:
        return E
    return E[_horizons(horizons, e2.size) - 1]


def _horizons(horizons, n_steps):
    try:                                    # 3 is not a sequence: [3] is
        hs = [V.positive_int("each horizon", h) for h in horizons]
    except TypeError as err:
        if "each horizon" in str(err):
            raise
        raise TypeError(f"horizons must be a sequence of ints or None, got "
                        f"{V.describe(horizons)}") from None
    if not hs:
        raise ValueError("horizons must hold at least one horizon, got an empty "
                         "sequence")
    if max(hs) > n_steps:
        raise ValueError(f"horizons must lie in 1..{n_steps} (the number of steps "
                         f"of pred), got {max(hs)}")
    return np.asarray(hs)


def flat_line_error(truth, horizons=None):
    """E(h) of the flat line: predicting 0 at every step (see `free_error`)."""
    truth = _waves("truth", truth)
    return free_error(np.zeros_like(truth), truth, horizons)


def valid_time(pred, truth, threshold):
    """The number of steps before the step error first exceeds threshold.

    The 0-based index of the first row k with step_error[k] > threshold, or
    n_steps if there is none: pred is within threshold on rows 0..k-1.
    """
    threshold = V.number("threshold", threshold, low=0, low_open=True)
    bad = np.flatnonzero(step_error(pred, truth) > threshold)
    return int(bad[0]) if bad.size else int(pred.shape[0])


def _cycle_starts(n_steps, period, name):
    period = V.number("period", period, low=1 / np.pi, low_open=True)
    length = 2 * np.pi * period                       # steps per cycle
    n_cycles = int(np.floor(n_steps / length + 1e-9))
    if n_cycles < 1:
        raise ValueError(f"{name} must hold at least one whole cycle (2 pi period = "
                         f"{length:.4g} steps), got {n_steps} steps")
    # cycle j covers steps [round(j L), round((j + 1) L)): no step twice or missed
    edges = np.minimum(np.round(np.arange(n_cycles + 1) * length), n_steps)
    return period, edges.astype(int)


def fit_cycles(pred, period):
    """Amplitude and phase of each whole cycle of pred (n_steps, M): a `Cycles`.

    On the steps t of each cycle (t counted from 0 at row 0), least squares of
    pred_t ~ a sin(t / period) + b cos(t / period), one fit per cycle; then
    amplitude = hypot(a, b) and phase = atan2(b, a), so that pred_t ~ amplitude
    sin(t / period + phase). A trailing part-cycle is left out.
    """
    pred = _waves("pred", pred).astype(np.float64)
    period, edges = _cycle_starts(pred.shape[0], period, "pred")
    amp, phase = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        t = np.arange(lo, hi) / period
        basis = np.stack([np.sin(t), np.cos(t)], axis=1)          # (L, 2)
        (a, b), *_ = np.linalg.lstsq(basis, pred[lo:hi], rcond=None)  # (M,) each
        amp.append(np.hypot(a, b))
        phase.append(np.arctan2(b, a))
    return Cycles(edges[:-1], np.array(amp), np.unwrap(np.array(phase), axis=0))


def phase_drift(pred, truth, period):
    """The fitted phase of pred minus that of truth, per cycle (n_cycles, M).

    In radians, wrapped to (-pi, pi] on the first cycle and unwrapped along the
    cycles; positive: pred runs ahead of truth.
    """
    pred, truth = _pair(pred, truth)
    d = fit_cycles(pred, period).phase - fit_cycles(truth, period).phase
    d = np.angle(np.exp(1j * d))
    return np.unwrap(d, axis=0)


def frequency_error(pred, period):
    """Slope of the fitted phase against the cycle's first step (M,), rad per step.

    pred = sin((1 / period + d) t) gives d to about 1% while d is small against
    1 / period (a per-cycle fit at the known frequency sees a slightly wrong one);
    a wave at the known frequency gives 0. Needs two whole cycles.
    """
    fit = fit_cycles(pred, period)
    if fit.start.size < 2:
        raise ValueError(f"pred must hold at least two whole cycles to fit a phase "
                         f"slope (2 x {2 * np.pi * period:.4g} steps), got "
                         f"{pred.shape[0]} steps")
    s = fit.start - fit.start.mean()
    return s @ (fit.phase - fit.phase.mean(axis=0)) / (s @ s)
