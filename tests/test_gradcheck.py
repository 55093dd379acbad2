"""Tests for lstm_core.gradcheck: it passes right gradients and catches wrong ones."""
import numpy as np
import pytest

from lstm_core.gradcheck import (check_grads, directional_check, numerical_grad,
                                 rel_error)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def problem(rng):
    """L = sum(sin(W @ x + b)) with its analytic gradient."""
    x = np.array([0.5, -1.0, 1.5])
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(4)}

    def loss_fn():
        return np.sum(np.sin(params["W"] @ x + params["b"]))

    def analytic():
        c = np.cos(params["W"] @ x + params["b"])  # (4,)
        return {"W": np.outer(c, x), "b": c}

    return loss_fn, params, analytic()


def test_numerical_grad_matches_analytic_gradient(rng):
    W, x = rng.standard_normal((3, 5)), rng.standard_normal(5)
    num = numerical_grad(lambda: np.sum(np.sin(W @ x)), W)
    assert rel_error(np.outer(np.cos(W @ x), x), num) < 1e-8


def test_rel_error_known_values():
    assert rel_error([1.0, 2.0], [3.0, 2.0]) == pytest.approx(0.5)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0


def test_rel_error_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


def test_check_grads_passes_correct_gradient(problem):
    loss_fn, params, grads = problem
    errors = check_grads(loss_fn, params, grads)
    assert set(errors) == {"W", "b"}
    assert max(errors.values()) < 1e-8


def test_check_grads_detects_scaled_gradient(problem):
    loss_fn, params, grads = problem
    wrong = {name: 1.01 * g for name, g in grads.items()}
    errors = check_grads(loss_fn, params, wrong)
    assert min(errors.values()) > 1e-4


def test_check_grads_detects_one_perturbed_entry(problem):
    loss_fn, params, grads = problem
    grads["W"][2, 1] += 1e-2
    errors = check_grads(loss_fn, params, grads)
    assert errors["W"] > 1e-4
    assert errors["b"] < 1e-8


def test_params_restored_exactly_after_check(problem, rng):
    loss_fn, params, grads = problem
    before = {name: x.copy() for name, x in params.items()}
    check_grads(loss_fn, params, grads)
    directional_check(loss_fn, params, grads, rng)
    for name in params:
        assert np.array_equal(params[name], before[name])


def test_x_restored_when_f_raises(rng):
    x = rng.standard_normal(3)
    before = x.copy()
    calls = []

    def f():
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return np.sum(x)

    with pytest.raises(RuntimeError, match="boom"):
        numerical_grad(f, x)
    assert np.array_equal(x, before)


def test_float32_is_refused(problem):
    loss_fn, params, grads = problem
    with pytest.raises(TypeError, match="float64"):
        numerical_grad(loss_fn, params["W"].astype(np.float32))
    params["b"] = params["b"].astype(np.float32)
    with pytest.raises(TypeError, match=r"params\['b'\].*float32"):
        check_grads(loss_fn, params, grads)


def test_key_mismatch_names_the_keys(problem):
    loss_fn, params, grads = problem
    grads["W_extra"] = grads.pop("b")
    with pytest.raises(ValueError, match=r"missing \['b'\], extra \['W_extra'\]"):
        check_grads(loss_fn, params, grads)


def test_shape_mismatch_names_the_parameter(problem):
    loss_fn, params, grads = problem
    grads["b"] = grads["b"][:3]
    with pytest.raises(ValueError, match=r"grads\['b'\]"):
        check_grads(loss_fn, params, grads)


def test_max_checks_samples_that_many_entries(problem, rng):
    loss_fn, params, grads = problem
    calls = []

    def counting_loss():
        calls.append(1)
        return loss_fn()

    errors = check_grads(counting_loss, params, grads, max_checks=2, rng=rng)
    assert len(calls) == 2 * (2 + 2)  # two evaluations per entry, two entries each
    assert max(errors.values()) < 1e-8
    wrong = {name: 1.01 * g for name, g in grads.items()}
    errors = check_grads(loss_fn, params, wrong, max_checks=2, rng=rng)
    assert min(errors.values()) > 1e-4


def test_max_checks_requires_rng(problem):
    loss_fn, params, grads = problem
    with pytest.raises(TypeError, match="rng"):
        check_grads(loss_fn, params, grads, max_checks=2)


def test_directional_check_passes_correct_and_catches_wrong(problem, rng):
    loss_fn, params, grads = problem
    assert directional_check(loss_fn, params, grads, rng) < 1e-8
    wrong = {name: 1.01 * g for name, g in grads.items()}
    assert directional_check(loss_fn, params, wrong, rng) > 1e-4
