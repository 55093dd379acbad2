"""Gradient checking by central differences, in float64.

A hand-written backward pass is trusted only after it agrees with numbers:
for each parameter entry ``x``,

    dL/dx ~ (L(x + eps) - L(x - eps)) / (2 eps)        # error O(eps^2)

compared through the relative error ``|a - n| / max(|a| + |n|, tiny)``. In
float64 with ``eps = 1e-6`` a correct gradient gives about 1e-8 or less; in
float32 rounding swamps the difference, so float32 is refused. On bigger sizes,
``max_checks`` samples a few entries per array and ``directional_check`` tests
one random direction over all parameters at once (two loss evaluations).

Parameters are flat dicts ``{name: np.ndarray}`` (``W_ih (4H, I)`` and so on);
``loss_fn`` takes no arguments and reads those arrays, which are perturbed in
place and always restored exactly.

References: CS231n notes, "Gradient checks" (cs231n.github.io/neural-networks-3);
HIPS/autograd's ``check_grads`` (central differences, random-direction checks).
"""
import numpy as np

from . import validate as V


def _require_float64(x, name):
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"{name} must be a float64 array, got {got}: central "
                        "differences in float32 are swamped by rounding error")


def _check_matching(params, grads, loss_fn=None):
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function of no arguments, got "
                        f"{V.describe(loss_fn)}")
    if not isinstance(params, dict) or not isinstance(grads, dict):
        raise TypeError(f"params and grads must be dicts of arrays, got "
                        f"{V.describe(params)} and {V.describe(grads)}")
    missing = sorted(set(params) - set(grads))
    extra = sorted(set(grads) - set(params))
    if missing or extra:
        raise ValueError(f"grads must have the keys of params: missing {missing}, "
                         f"extra {extra}")
    for name, x in params.items():
        _require_float64(x, f"params[{name!r}]")
        kind = np.asarray(grads[name]).dtype.kind       # complex would lose its
        if kind not in "biuf":                           # imaginary part unseen
            raise TypeError(f"grads[{name!r}] must hold real numbers, got "
                            f"{V.describe(grads[name])} of dtype kind {kind!r}")
        if np.shape(grads[name]) != x.shape:
            raise ValueError(f"grads[{name!r}] has shape {np.shape(grads[name])}, "
                             f"but params[{name!r}] has shape {x.shape}")


def _central_diff(f, x, idx, eps):
    """(f(x + eps e_idx) - f(x - eps e_idx)) / 2 eps, restoring x[idx]."""
    old = x[idx]
    try:
        x[idx] = old + eps
        f_plus = float(f())
        x[idx] = old - eps
        f_minus = float(f())
    finally:
        x[idx] = old
    return (f_plus - f_minus) / (2 * eps)


def numerical_grad(f, x, eps=1e-6):
    """Numerical gradient of the zero-arg ``f`` w.r.t. ``x`` (float64, any shape).

    ``x`` is perturbed in place one entry at a time and restored afterwards.
    """
    if not callable(f):
        raise TypeError(f"f must be a function of no arguments, got {V.describe(f)}")
    _require_float64(x, "x")
    eps = V.number("eps", eps, low=0, low_open=True)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        grad[idx] = _central_diff(f, x, idx, eps)
    return grad


def rel_error(a, b):
    """Largest elementwise ``|a - b| / max(|a| + |b|, 1e-12)``.

    Infinite if either holds NaN or infinity, so that a check ``err < tol`` fails
    on a broken gradient or loss instead of passing (NaN compares false).
    """
    for name, x in (("a", a), ("b", b)):
        if np.iscomplexobj(x):
            raise TypeError(f"rel_error compares real numbers; {name} is complex "
                            f"({V.describe(x)})")
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))


def check_grads(loss_fn, params, grads, eps=1e-6, max_checks=None, rng=None):
    """Relative error of ``grads[name]`` against central differences, per name.

    With ``max_checks`` (an int), only that many random entries of each array are
    checked, drawn with ``rng`` (a ``np.random.Generator``, required then).
    """
    _check_matching(params, grads, loss_fn)
    eps = V.number("eps", eps, low=0, low_open=True)
    if max_checks is not None:
        V.positive_int("max_checks", max_checks)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a np.random.Generator when max_checks is "
                            f"set, got {type(rng).__name__}")
    errors = {}
    for name, x in params.items():
        analytic = np.asarray(grads[name], dtype=np.float64)
        if max_checks is None:
            errors[name] = rel_error(analytic, numerical_grad(loss_fn, x, eps))
            continue
        flat = rng.choice(x.size, size=min(max_checks, x.size), replace=False)
        idxs = [np.unravel_index(i, x.shape) for i in flat]
        numeric = [_central_diff(loss_fn, x, idx, eps) for idx in idxs]
        errors[name] = rel_error([analytic[idx] for idx in idxs], numeric)
    return errors


def directional_check(loss_fn, params, grads, rng, eps=1e-6):
    """Relative error along one random unit direction ``d`` over all params.

    Compares ``(L(p + eps d) - L(p - eps d)) / 2 eps`` with ``sum(g * d)``.
    """
    _check_matching(params, grads, loss_fn)
    V.generator("rng", rng)
    eps = V.number("eps", eps, low=0, low_open=True)
    d = {name: rng.standard_normal(x.shape) for name, x in params.items()}
    norm = np.sqrt(sum(np.sum(v ** 2) for v in d.values()))
    d = {name: v / norm for name, v in d.items()}
    saved = {name: x.copy() for name, x in params.items()}
    try:
        for name, x in params.items():
            x[...] = saved[name] + eps * d[name]
        loss_plus = float(loss_fn())
        for name, x in params.items():
            x[...] = saved[name] - eps * d[name]
        loss_minus = float(loss_fn())
    finally:
        for name, x in params.items():
            x[...] = saved[name]
    numeric = (loss_plus - loss_minus) / (2 * eps)
    analytic = sum(np.sum(np.asarray(grads[name]) * d[name]) for name in params)
    return rel_error(analytic, numeric)
