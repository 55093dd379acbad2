"""Shared helpers for the lstm_core tests: a local central-difference gradient.

Deliberately independent of `lstm_core.gradcheck` (which has its own tests), so the
model tests do not rely on the code they would otherwise be used to check.
"""
import numpy as np
import pytest


def _numerical_grad(f, x, eps=1e-6):
    """dF/dx by central differences; x (float64) is perturbed in place and restored."""
    assert isinstance(x, np.ndarray) and x.dtype == np.float64
    grad = np.empty_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    assert np.shares_memory(flat, x), "x must be contiguous to be perturbed in place"
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        up = f()
        flat[k] = old - eps
        down = f()
        flat[k] = old
        gflat[k] = (up - down) / (2 * eps)
    return grad


def _rel_error(a, b):
    """||a - b|| / (||a|| + ||b||): 0 for equal arrays, 1 when exactly one is zero."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if den == 0 else float(np.linalg.norm(a - b) / den)


@pytest.fixture
def numerical_grad():
    """Central-difference gradient: numerical_grad(loss_fn, array, eps=1e-6)."""
    return _numerical_grad


@pytest.fixture
def rel_error():
    """Norm-wise relative error between two arrays of the same shape."""
    return _rel_error


# Hypothesis (property-based tests): one deterministic profile, so a test run on
# a loaded 2-core CI machine cannot flake: derandomised (the same examples every
# run), no deadline, a few dozen examples per test, no example database.
# HYPOTHESIS_PROFILE=explore searches more widely, with random examples.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30,
                          database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(__import__("os").environ.get("HYPOTHESIS_PROFILE", "ci"))
