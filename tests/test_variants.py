"""Tests for lstm_core.variants: the LSTM variants of Greff et al. 2017 in NumPy.

Float64, tiny sizes, fixed seeds. Each variant's meaning is checked without the
module's own equations: the gated ones as the vanilla LSTM with a gate pinned open
(or, for CIFG, f's rows the negated i rows), NIAF and NOAF against a step written
out below, and the three layouts of numpy_lstm against numpy_lstm bit for bit.
"""
import numpy as np
import pytest

from lstm_core import numpy_lstm, variants
from lstm_core.numpy_lstm import sigmoid
from lstm_core.variants import VARIANTS, init_lstm, lstm_backward, lstm_forward, \
    lstm_step

T, B, I, H = 5, 3, 4, 6
ALL = pytest.mark.parametrize("variant", list(VARIANTS))

# The layout table, written out independently: gate rows, peepholes.
EXPECTED = {"vanilla": ("ifgo", {"w_ci", "w_cf", "w_co"}),
            "nig": ("fgo", {"w_cf", "w_co"}), "nfg": ("igo", {"w_ci", "w_co"}),
            "nog": ("ifg", {"w_ci", "w_cf"}),
            "niaf": ("ifgo", {"w_ci", "w_cf", "w_co"}),
            "noaf": ("ifgo", {"w_ci", "w_cf", "w_co"}),
            "cifg": ("igo", {"w_ci", "w_co"}), "np": ("ifgo", set())}
# The numpy_lstm layout each coinciding variant is.
NUMPY_TWINS = {"vanilla": {"peepholes": True},
               "nfg": {"peepholes": True, "forget_gate": False}, "np": {}}


@pytest.fixture
def rng():
    return np.random.default_rng(2017)


def make(rng, variant, dtype=np.float64):
    params = {k: 2.0 * v for k, v in init_lstm(I, H, variant=variant, rng=rng,
                                               dtype=dtype).items()}  # not linear
    X, h0, c0 = (rng.standard_normal(s).astype(dtype)
                 for s in ((T, B, I), (B, H), (B, H)))
    return params, X, h0, c0


# ----------------------------------------------------------------------------- layout

@ALL
def test_layout_table_gives_the_parameter_shapes(rng, variant):
    gates, peepholes = EXPECTED[variant]
    params = init_lstm(I, H, variant=variant, rng=rng)
    G = len(gates) * H
    assert {k: v.shape for k, v in params.items()} == {
        "W_ih": (G, I), "W_hh": (G, H), "b_ih": (G,), "b_hh": (G,),
        **{k: (H,) for k in peepholes}}
    assert VARIANTS[variant].gates == gates
    assert variants.gate_rows(variant, H) == {
        g: slice(k * H, (k + 1) * H) for k, g in enumerate(gates)}


@pytest.mark.parametrize("variant", list(NUMPY_TWINS))
def test_coinciding_variants_equal_numpy_lstm_exactly(rng, variant):
    params = init_lstm(I, H, variant=variant, rng=np.random.default_rng(5))
    twin = numpy_lstm.init_lstm(I, H, rng=np.random.default_rng(5),
                                **NUMPY_TWINS[variant])
    assert set(params) == set(twin)
    for k in twin:
        np.testing.assert_array_equal(params[k], twin[k], err_msg=k)
    _, X, h0, c0 = make(rng, variant)
    R, r_h, r_c = (rng.standard_normal(s) for s in ((T, B, H), (B, H), (B, H)))
    Hs, (h_T, c_T), cache = lstm_forward(X, params, h0, c0, variant=variant)
    Hs2, (h_T2, c_T2), cache2 = numpy_lstm.lstm_forward(X, twin, h0, c0)
    for a, b in ((Hs, Hs2), (h_T, h_T2), (c_T, c_T2)):
        np.testing.assert_array_equal(a, b)
    grads, *rest = lstm_backward(R, cache, r_h, r_c)
    grads2, *rest2 = numpy_lstm.lstm_backward(R, cache2, r_h, r_c)
    for k in grads2:
        np.testing.assert_array_equal(grads[k], grads2[k], err_msg=k)
    for a, b in zip(rest, rest2):
        np.testing.assert_array_equal(a, b)


def _as_vanilla(params, variant):
    """The vanilla parameters that compute `variant`: a missing gate pinned open
    (bias 1e3: sigmoid gives exactly 1.0, its peephole 0), CIFG's forget rows the
    negated input rows (sigmoid(-a) = 1 - sigmoid(a)), NP's peepholes 0."""
    rows = variants.gate_rows(variant, H)
    out = {}
    for key in ("W_ih", "W_hh", "b_ih", "b_hh"):
        blocks = {g: params[key][r] for g, r in rows.items()}
        for gate in "ifgo":
            if gate not in blocks:
                blocks[gate] = np.zeros_like(blocks["g"])
                if key == "b_ih":
                    blocks[gate] += 1e3
        if variant == "cifg":
            blocks["f"] = -blocks["i"]
        out[key] = np.concatenate([blocks[g] for g in "ifgo"])
    for name in ("w_ci", "w_cf", "w_co"):
        out[name] = params.get(name, np.zeros(H))
    if variant == "cifg":
        out["w_cf"] = -params["w_ci"]
    return out


@pytest.mark.parametrize("variant", ["nig", "nfg", "nog", "cifg", "np"])
def test_gate_variants_are_the_vanilla_lstm_with_that_gate_fixed(rng, variant):
    params, X, h0, c0 = make(rng, variant)
    Hs, (h_T, c_T), _ = lstm_forward(X, params, h0, c0, variant=variant)
    Hs2, (h_T2, c_T2), _ = lstm_forward(X, _as_vanilla(params, variant), h0, c0,
                                        variant="vanilla")
    for a, b in ((Hs, Hs2), (h_T, h_T2), (c_T, c_T2)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def _written_out_step(x, h, c, p, g_act, h_act):
    """The vanilla step, with the two activations as arguments."""
    a = x @ p["W_ih"].T + p["b_ih"] + h @ p["W_hh"].T + p["b_hh"]
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
    i, f = sigmoid(a_i + p["w_ci"] * c), sigmoid(a_f + p["w_cf"] * c)
    c_t = f * c + i * g_act(a_g)
    return sigmoid(a_o + p["w_co"] * c_t) * h_act(c_t), c_t


@pytest.mark.parametrize("variant, g_act, h_act", [
    ("vanilla", np.tanh, np.tanh), ("niaf", lambda z: z, np.tanh),
    ("noaf", np.tanh, lambda z: z)])
def test_activation_variants_follow_the_equations(rng, variant, g_act, h_act):
    params, X, h0, c0 = make(rng, variant)
    h, c = lstm_step(X[0], h0, c0, params, variant=variant)
    h2, c2 = _written_out_step(X[0], h0, c0, params, g_act, h_act)
    np.testing.assert_allclose(h, h2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c, c2, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------- gradients

@ALL
def test_backward_matches_finite_differences(rng, variant, numerical_grad, rel_error):
    params, X, h0, c0 = make(rng, variant)
    R, r_h, r_c = (rng.standard_normal(s) for s in ((T, B, H), (B, H), (B, H)))

    def loss():
        Hs, (h_T, c_T), _ = lstm_forward(X, params, h0, c0, variant=variant)
        return np.sum(Hs * R) + np.sum(h_T * r_h) + np.sum(c_T * r_c)

    _, _, cache = lstm_forward(X, params, h0, c0, variant=variant)
    grads, dX, dh0, dc0 = lstm_backward(R, cache, dh_T=r_h, dc_T=r_c)
    assert set(grads) == set(params)
    analytic = {**grads, "X": dX, "h0": dh0, "c0": dc0}
    arrays = {**params, "X": X, "h0": h0, "c0": c0}
    errors = {name: rel_error(analytic[name], numerical_grad(loss, arrays[name]))
              for name in arrays}
    assert max(errors.values()) < 1e-7, errors


@ALL
def test_steps_equal_whole_sequence(rng, variant):
    params, X, h0, c0 = make(rng, variant)
    Hs, (h_T, c_T), _ = lstm_forward(X, params, h0, c0, variant=variant)
    h, c, steps = h0, c0, []
    for t in range(T):
        h, c = lstm_step(X[t], h, c, params, variant=variant)
        steps.append(h)
    np.testing.assert_allclose(np.stack(steps), Hs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c, c_T, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@ALL
def test_keeps_dtype(rng, variant, dtype):
    params, X, h0, c0 = make(rng, variant, dtype)
    Hs, (h_T, c_T), cache = lstm_forward(X, params, h0, c0, variant=variant)
    grads, dX, dh0, dc0 = lstm_backward(np.ones_like(Hs), cache)
    assert {a.dtype for a in (Hs, h_T, c_T, dX, dh0, dc0, *grads.values())} == {
        np.dtype(dtype)}


# ------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, error, match", [
    (lambda p, X: lstm_forward(X, p, variant="peephole"), ValueError,
     r"^variant must be one of \['cifg', .*got str 'peephole'"),
    (lambda p, X: lstm_forward(X, p, variant="vanilla"), ValueError,
     r"^params must have exactly the keys .* missing \['w_cf'\]"),
    (lambda p, X: lstm_forward(X, {**p, "w_cf": p["w_ci"]}, variant="vanilla"),
     ValueError, r"^params\['W_hh'\] must have shape \(4H, H\) for variant 'vanilla' "
                 r"\(gate rows i, f, g, o\), got \(18, 6\)"),
    (lambda p, X: lstm_forward(X[..., :2], p, variant="cifg"), ValueError,
     r"^X must have shape \(T, B, 4\)"),
    (lambda p, X: lstm_forward(X, p, np.zeros((B, H + 1)), variant="cifg"),
     ValueError, r"^h0 must have shape \(3, 6\)"),
    (lambda p, X: lstm_forward(X.astype(np.float32), p, variant="cifg"), TypeError,
     r"^X must be float64 like the parameters"),
    (lambda p, X: lstm_backward(np.ones((T, B, H + 1)),
                                lstm_forward(X, p, variant="cifg")[2]), ValueError,
     r"^dH must have shape \(5, 3, 6\)"),
    (lambda p, X: lstm_backward(np.ones((T, B, H)), {}), TypeError,
     r"^cache must be the third value returned by variants.lstm_forward"),
    (lambda p, X: init_lstm(I, H, variant="fgr", rng=np.random.default_rng(0)),
     ValueError, r"^variant must be one of"),
], ids=["unknown-variant", "params-of-another-variant", "rows-of-another-variant",
        "X-features", "h0-shape", "X-dtype", "dH-shape", "cache", "fgr"])
def test_bad_input_raises_naming_the_argument(rng, call, error, match):
    params, X, _, _ = make(rng, "cifg")
    with pytest.raises(error, match=match):
        call(params, X)


def test_variant_must_be_named():
    with pytest.raises(TypeError, match="variant"):
        lstm_forward(np.zeros((T, B, I)), {})


@pytest.mark.parametrize("call, error, match", [
    (lambda p, X: init_lstm(0, H, variant="cifg", rng=np.random.default_rng(0)),
     ValueError, r"^input_size must be a positive int"),
    (lambda p, X: init_lstm(I, 0, variant="cifg", rng=np.random.default_rng(0)),
     ValueError, r"^hidden_size must be a positive int"),
    (lambda p, X: init_lstm(I, H, variant="cifg", rng=1), TypeError,
     r"^rng must be a numpy"),
    (lambda p, X: init_lstm(I, H, variant="cifg", rng=np.random.default_rng(0),
                            dtype=np.int32), TypeError, r"^dtype must be"),
    (lambda p, X: variants.gate_rows("cifg", 0), ValueError,
     r"^hidden_size must be a positive int"),
    (lambda p, X: lstm_forward(X, p, None, np.zeros((B, H + 1)), variant="cifg"),
     ValueError, r"^c0 must have shape \(3, 6\)"),
    (lambda p, X: variants.lstm_step(X[0, :, :2], X[0, :, :H] * 0, X[0, :, :H] * 0,
                                     p, variant="cifg"),
     ValueError, r"^x_t must have shape \(B, 4\)"),
    (lambda p, X: variants.lstm_step(X[0], np.zeros((B, H + 1)), np.zeros((B, H)),
                                     p, variant="cifg"),
     ValueError, r"^h_prev must have shape \(3, 6\)"),
    (lambda p, X: variants.lstm_step(X[0], np.zeros((B, H)), np.zeros((B, H + 1)),
                                     p, variant="cifg"),
     ValueError, r"^c_prev must have shape \(3, 6\)"),
    (lambda p, X: lstm_backward(np.ones((T, B, H)),
                                lstm_forward(X, p, variant="cifg")[2],
                                dh_T=np.ones((B, H + 1))),
     ValueError, r"^dh_T must have shape \(3, 6\)"),
    (lambda p, X: lstm_backward(np.ones((T, B, H)),
                                lstm_forward(X, p, variant="cifg")[2],
                                dc_T=np.ones((B, H + 1))),
     ValueError, r"^dc_T must have shape \(3, 6\)"),
    (lambda p, X: lstm_forward(X, {**p, "w_ci": p["w_ci"][:-1]}, variant="cifg"),
     ValueError, r"^params\['w_ci'\] must have shape \(6,\)"),
], ids=["input_size", "hidden_size", "rng", "dtype", "gate_rows", "c0", "x_t",
        "h_prev", "c_prev", "dh_T", "dc_T", "peephole-shape"])
def test_every_argument_is_checked_by_name(rng, call, error, match):
    params, X, _, _ = make(rng, "cifg")
    with pytest.raises(error, match=match):
        call(params, X)
