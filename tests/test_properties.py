"""Property-based tests (Hypothesis) over every public function of lstm_core.

The one property, checked by `outcome`: a call either returns a correct result
(right shapes, dtype, finite values; compared with a reference where there is
one) or raises TypeError or ValueError (FloatingPointError for a diverged run,
CheckError for lstm_core.check) whose message names the offending argument.
Never another exception, never a warning, never a silent wrong result, never a
hang (a call running past LIMIT_S fails).

Each test draws a valid call and spoils the one argument it is parametrised
with (`bad`; None: the valid call itself) by one of the strategies below: a
dtype other than float32/float64, a NaN or infinity, a wrong or zero-length
shape, a wrong type, a missing or extra key. So it knows which argument the
error must name, and every argument gets examples of its own (a check that no
example reaches would go untested: tools/check_mutations.py removes each check
in turn and sees a test fail). The CI profile in conftest.py makes the examples
the same on every run: 30 per test, FEW per case of a parametrised one.
"""
import contextlib
import math
import os
import re
import signal
import tempfile
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from lstm_core import (bench, check, data, gradcheck, io, losses, numpy_lstm, optim,
                       torch_lstm, train, validate as V)
from lstm_core.check import CheckError
from lstm_core.torch_peephole import cpu_kernel

LIMIT_S = 20                       # generous for a loaded 2-core machine
FEW = settings(max_examples=8)     # per case of a parametrised test
pytestmark = pytest.mark.filterwarnings("error")     # leaks (ResourceWarning) too
REFUSED = object()

with warnings.catch_warnings():    # a missing compiler warns once, here, not in a test
    warnings.simplefilter("ignore")
    cpu_kernel()


# ----------------------------------------------------------------------------- property

class Hang(BaseException):
    """A call ran past LIMIT_S (a BaseException: `except Exception` cannot hide it)."""


@contextlib.contextmanager
def _guarded():
    """Warnings are errors, and a call that runs past LIMIT_S fails the test."""
    def alarm(signum, frame):
        raise Hang(f"no answer after {LIMIT_S} s")
    timed = hasattr(signal, "SIGALRM")
    if timed:
        previous = signal.signal(signal.SIGALRM, alarm)
        signal.alarm(LIMIT_S)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield
    finally:
        if timed:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def names(message, name):
    """True if message names `name` as a word ("X" is not named by "X_warm")."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", message) is not None


class Either(tuple):
    """Names of which an error must give one: two arguments are bad, and either
    may be checked first."""


def outcome(fn, bad, errors=(TypeError, ValueError), may_pass=False):
    """fn()'s result if bad is None (a valid call must not be refused); else fn()
    must raise one of `errors` naming every name in bad (a str, a tuple, or one of
    an Either), and REFUSED is returned. With may_pass, fn() may also return."""
    wanted = (bad,) if isinstance(bad, str) else bad
    with _guarded():
        try:
            result = fn()
        except errors as err:
            if bad is None:
                raise AssertionError(f"a valid call was refused: {err!r}") from err
            found = [n for n in wanted if names(str(err), n)]
            assert found if isinstance(bad, Either) else found == list(wanted), \
                f"{type(err).__name__} does not name {wanted}: {err}"
            return REFUSED
    assert bad is None or may_pass, \
        f"bad {bad!r} was accepted; returned {V.describe(result)}"
    return result


# --------------------------------------------------------------------------- strategies

FLOATS = (np.float32, np.float64)
NOT_FLOATS = (np.float16, np.int32, np.int64, np.bool_, np.complex64, np.complex128)
NON_FINITE = st.sampled_from([np.nan, np.inf, -np.inf])
JUNK = st.sampled_from([None, "x", 3, 2.5, True, [1.0, 2.0], {"a": 1}, (1,), object()])
TORCH_NOT_FLOATS = (torch.float16, torch.bfloat16, torch.int32, torch.bool,
                    torch.complex64)
seeds = st.integers(0, 2 ** 16)
sizes = st.integers(1, 3)
bad_ints = st.one_of(st.integers(-3, 0), st.sampled_from([2.0, "2", None, True, 1.5]))
bad_flags = st.sampled_from([1, 0, "no", None, np.float64(1)])


def rng_of(draw):
    return np.random.default_rng(draw(seeds))


def other_float(dtype):
    return np.float32 if np.dtype(dtype) == np.float64 else np.float64


def good_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


@st.composite
def spoiled(draw, a, bad_shapes=(), other_float_bad=True, optional=False,
            tensor_ok=False):
    """a copy of array a made invalid: another dtype, a non-finite entry, one of
    bad_shapes, or not an array at all (None too, unless the argument is optional;
    a tensor too, unless tensors are accepted)."""
    kinds = ["dtype", "non-finite", "type"] + (["shape"] if bad_shapes else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "dtype":
        options = NOT_FLOATS + ((other_float(a.dtype),) if other_float_bad else ())
        return a.astype(draw(st.sampled_from(options)))
    if kind == "non-finite":
        b = a.copy()
        b.flat[draw(st.integers(0, a.size - 1))] = draw(NON_FINITE)
        return b
    if kind == "shape":
        return np.full(draw(st.sampled_from(list(bad_shapes))), 0.5, a.dtype)
    junk = JUNK.filter(lambda v: v is not None) if optional else JUNK
    if not tensor_ok:
        junk = st.one_of(junk, st.just(torch.from_numpy(a)))
    return draw(st.one_of(junk, st.just(a.tolist())))


@st.composite
def spoiled_tensor(draw, t, bad_shapes=()):
    """a copy of tensor t made invalid, as `spoiled` does for arrays."""
    kinds = ["dtype", "type", "sparse", "non-finite"] + ["shape"] * bool(bad_shapes)
    kind = draw(st.sampled_from(kinds))
    if kind == "dtype":
        other = torch.float32 if t.dtype == torch.float64 else torch.float64
        return t.to(draw(st.sampled_from(TORCH_NOT_FLOATS + (other,))))
    if kind == "sparse":
        return t.to_sparse()
    if kind == "non-finite":
        return t.clone().fill_(draw(NON_FINITE))
    if kind == "shape":
        return torch.full(draw(st.sampled_from(list(bad_shapes))), 0.5, dtype=t.dtype)
    return draw(st.one_of(JUNK, st.just(t.numpy())))


PARAMS_BAD = ["W_ih", "W_hh", "b_ih", "b_hh", "w_co", "mixed dtypes", "missing",
              "extra", "not a dict"]


@st.composite
def spoiled_params(draw, params, bad_shapes, how, **kw):
    """(params spoiled as `how` says, the names its error must give): the value
    of one key (see `spoiled`, with bad_shapes[key]), one float dtype for one key
    and another for the rest, a missing or an extra key, or not a dict."""
    p = dict(params)
    if how == "not a dict":
        return draw(st.sampled_from([list(p.values()), None, "params"])), "params"
    if how == "missing":
        key = draw(st.sampled_from(sorted(p)))
        del p[key]
        return p, ("params", key)
    if how == "extra":
        extra = draw(st.sampled_from(["W_hy", "w_xx", 3]))
        p[extra] = np.ones(2)
        return p, ("params", str(extra))
    if how == "mixed dtypes":
        key = draw(st.sampled_from(sorted(p)))
        p[key] = p[key].astype(other_float(p[key].dtype))
        return p, key
    p[how] = draw(spoiled(params[how], bad_shapes[how], **kw))
    return p, how


@st.composite
def lstm_case(draw, dtype=None, peepholes=None):
    """A valid LSTM call: sizes, layout, params, X (T, B, I), h0, c0 (or None)."""
    T, B, I, H = (draw(sizes) for _ in range(4))
    dtype = draw(st.sampled_from(FLOATS)) if dtype is None else dtype
    peep = draw(st.booleans()) if peepholes is None else peepholes
    forget = draw(st.booleans())
    rng = rng_of(draw)
    p = numpy_lstm.init_lstm(I, H, peepholes=peep, forget_gate=forget, rng=rng,
                             dtype=dtype)
    G = (4 if forget else 3) * H
    # Shapes no layout can read (W_hh (3H, H) and (4H, H) are both valid).
    shapes = {"W_ih": [(G + 1, I), (G,), (G, I, 1), (G, 0)],
              "W_hh": [(5 * H, H), (2 * H, H), (G,), (G, H, 1), (0, H)],
              "b_ih": [(G + 1,), (G, 1), ()], "b_hh": [(G + 1,), (G, 1), ()],
              **{k: [(H + 1,), (H, 1)] for k in numpy_lstm.PEEPHOLES}}
    X = (rng.normal(size=(T, B, I)) * draw(st.sampled_from([1.0, 30.0]))).astype(dtype)
    state = [rng.normal(size=(B, H)).astype(dtype) if draw(st.booleans()) else None
             for _ in range(2)]
    return dict(T=T, B=B, I=I, H=H, G=G, dtype=np.dtype(dtype), params=p,
                shapes=shapes, X=X, h0=state[0], c0=state[1], rng=rng)


def x_shapes(c):
    T, B, I = c["T"], c["B"], c["I"]
    return [(0, B, I), (T, 0, I), (T, B, I + 1), (T, B), (T, B, I, 1)]


def state_shapes(c):
    B, H = c["B"], c["H"]
    return [(B, H + 1), (B + 1, H), (H,), (1, B, H), (0, H)]


def finite_array(a, shape, dtype):
    assert isinstance(a, np.ndarray), type(a)
    assert a.shape == tuple(shape), (a.shape, shape)
    assert a.dtype == dtype, (a.dtype, dtype)
    assert np.isfinite(a).all()


def parametrised(*bad):
    """pytest parametrisation over the argument spoiled (None first: valid)."""
    return pytest.mark.parametrize("bad", [None, *bad])


# ----------------------------------------------------------------------------- validate

values = st.one_of(st.integers(-5, 5), st.integers(-10 ** 400, 10 ** 400),
                   st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.sampled_from([np.int64(3), np.float32(0.5), np.bool_(True),
                                    1 + 2j, "3", None, [1], np.array(2.0)]))


@given(values, st.sampled_from([None, -1.0, 0.0]), st.sampled_from([None, 1.0, 1e9]),
       st.booleans(), st.booleans())
def test_validate_scalars(x, low, high, low_open, high_open):
    integral = isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))
    r = outcome(lambda: V.positive_int("n", x), None if integral and x > 0 else "n")
    assert r is REFUSED or (type(r) is int and r == x)
    r = outcome(lambda: V.nonnegative_int("k", x), None if integral and x >= 0 else "k")
    assert r is REFUSED or r == x
    ok = isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(
        x, (bool, np.bool_))
    try:
        ok = ok and math.isfinite(float(x))
    except OverflowError:                           # an int too large for a float
        ok = False
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    r = outcome(lambda: V.number("lr", x, low=low, high=high, low_open=low_open,
                                 high_open=high_open), None if ok else "lr")
    assert r is REFUSED or (type(r) is float and r == float(x))
    r = outcome(lambda: V.boolean("flag", x),
                None if isinstance(x, (bool, np.bool_)) else "flag")
    assert r is REFUSED or r is bool(x)


@given(st.one_of(st.sampled_from([np.float32, np.float64, "float32", "f8",
                                  np.dtype("float64")]),
                 st.sampled_from(NOT_FLOATS + ("int8", "U3", object, torch.float32)),
                 JUNK.filter(lambda v: v is not None)))
def test_validate_dtypes(dtype):
    try:
        ok = np.dtype(dtype) in V.FLOAT_DTYPES
    except TypeError:
        ok = False
    r = outcome(lambda: V.float_dtype("dtype", dtype), None if ok else "dtype")
    assert r is REFUSED or r in V.FLOAT_DTYPES


@given(st.sampled_from(FLOATS + NOT_FLOATS),
       st.lists(st.integers(0, 3), min_size=0, max_size=3), st.booleans(),
       st.sampled_from([None, "nan", "inf"]), st.data())
def test_validate_array(dtype, shape, finite, poison, data_):
    """V.array against an independent statement of what it accepts."""
    a = np.ones(shape, dtype)
    if poison and a.size and a.dtype.kind in "fc":
        a.flat[0] = float(poison)
    want_shape = data_.draw(st.one_of(st.none(), st.just(tuple(shape)),
                                      st.just(tuple([None] * len(shape))),
                                      st.just(tuple(n + 1 for n in shape))))
    want_dtype = data_.draw(st.sampled_from([None, np.float32, np.float64]))
    nonempty = data_.draw(st.booleans())
    ok = (a.dtype in V.FLOAT_DTYPES and (want_dtype is None or a.dtype == want_dtype)
          and (want_shape is None or want_shape in (tuple(shape), (None,) * len(shape)))
          and (not nonempty or a.size > 0) and (not finite or np.isfinite(a).all()))
    r = outcome(lambda: V.array("arg", a, shape=want_shape, dtype=want_dtype,
                                finite=finite, nonempty=nonempty),
                None if ok else "arg")
    assert r is REFUSED or r is a
    outcome(lambda: V.array("arg", a.tolist()), "arg")


@given(st.sampled_from([torch.float32, torch.float64] + list(TORCH_NOT_FLOATS)),
       st.lists(st.integers(0, 3), max_size=3), st.booleans(), st.booleans(),
       st.sampled_from([None, "cpu", "tpu", 3, torch.device("cpu"), "cuda:x"]))
def test_validate_tensor_and_torch_arguments(dtype, shape, sparse, match, device):
    t = torch.ones(shape, dtype=dtype)
    if sparse and t.dim():
        t = t.to_sparse()
    want = tuple(shape) if match else tuple(n + 1 for n in shape)
    ok = (not (sparse and t.dim()) and dtype in (torch.float32, torch.float64)
          and want == tuple(shape))
    assert outcome(lambda: V.tensor("t", t, want), None if ok else "t") in (t, REFUSED)
    outcome(lambda: V.tensor("t", np.ones(shape)), "t")
    ok = dtype in (torch.float32, torch.float64)
    assert outcome(lambda: V.torch_dtype("dtype", dtype), None if ok else "dtype") in (
        dtype, REFUSED)
    ok = device is None or device in ("cpu", torch.device("cpu"))
    r = outcome(lambda: V.torch_device("device", device), None if ok else "device")
    assert r is REFUSED or r is None or r == torch.device("cpu")


# --------------------------------------------------------------------------- numpy_lstm

@parametrised("input_size", "hidden_size", "peepholes", "forget_gate", "rng", "dtype")
@FEW
@given(data_=st.data())
def test_init_lstm_and_init_rnn(bad, data_):
    args = {"input_size": 2, "hidden_size": 3, "peepholes": True, "forget_gate": True,
            "rng": np.random.default_rng(0), "dtype": np.float32}
    if bad:
        args[bad] = data_.draw({
            "input_size": bad_ints, "hidden_size": bad_ints, "peepholes": bad_flags,
            "forget_gate": bad_flags,
            "rng": st.sampled_from([0, None, np.random.RandomState(0)]),
            "dtype": st.sampled_from(NOT_FLOATS + ("x", type(None)))}[bad])
    p = outcome(lambda: numpy_lstm.init_lstm(**args), bad)
    if p is not REFUSED:
        assert set(p) == {"W_ih", "W_hh", "b_ih", "b_hh", "w_ci", "w_cf", "w_co"}
        assert p["W_ih"].shape == (12, 2) and p["w_cf"].shape == (3,)
        for v in p.values():
            assert v.dtype == np.float32 and (abs(v) <= 1 / math.sqrt(3)).all()
    if bad not in ("peepholes", "forget_gate"):
        rnn_args = {k: v for k, v in args.items() if k not in ("peepholes",
                                                                "forget_gate")}
        p = outcome(lambda: numpy_lstm.init_rnn(**rnn_args), bad)
        if p is not REFUSED:
            assert p["W_hh"].shape == (3, 3) and p["W_hh"].dtype == np.float32


@parametrised("X", "h0", "c0", *PARAMS_BAD)
@FEW
@given(data_=st.data())
def test_lstm_forward(bad, data_):
    c = data_.draw(lstm_case(peepholes=True if bad == "w_co" else None))
    args = {"X": c["X"], "params": c["params"], "h0": c["h0"], "c0": c["c0"]}
    if bad == "X":
        args["X"] = data_.draw(spoiled(c["X"], x_shapes(c)))
    elif bad in ("h0", "c0"):
        base = np.zeros((c["B"], c["H"]), c["dtype"])
        args[bad] = data_.draw(spoiled(base, state_shapes(c), optional=True))
    elif bad:
        args["params"], bad = data_.draw(spoiled_params(c["params"], c["shapes"], bad))
    r = outcome(lambda: numpy_lstm.lstm_forward(**args), bad)
    if r is REFUSED:
        return
    H, (h_T, c_T), cache = r
    finite_array(H, (c["T"], c["B"], c["H"]), c["dtype"])
    finite_array(c_T, (c["B"], c["H"]), c["dtype"])
    assert (np.abs(H) < 1).all() and np.array_equal(h_T, H[-1])
    # One step at a time gives the same sequence (lstm_step is the same equations).
    h, cs = c["h0"], c["c0"]
    for t in range(c["T"]):
        h, cs = numpy_lstm.lstm_step(c["X"][t], h, cs, c["params"])
        np.testing.assert_allclose(h, H[t], rtol=1e-5, atol=1e-6)


@parametrised("x_t", "h_prev", "c_prev", "W_hh", "missing")
@FEW
@given(data_=st.data())
def test_lstm_step(bad, data_):
    c = data_.draw(lstm_case())
    x_t, p = c["X"][0], c["params"]
    args = {"x_t": x_t, "h_prev": c["h0"], "c_prev": c["c0"], "params": p}
    if bad == "x_t":
        B, I = x_t.shape
        args[bad] = data_.draw(spoiled(x_t, [(B, I + 1), (0, I), (B,), (1, B, I)]))
    elif bad in ("h_prev", "c_prev"):
        base = np.zeros((c["B"], c["H"]), c["dtype"])
        args[bad] = data_.draw(spoiled(base, state_shapes(c), optional=True))
    elif bad:
        args["params"], bad = data_.draw(spoiled_params(p, c["shapes"], bad))
    r = outcome(lambda: numpy_lstm.lstm_step(**args), bad)
    if r is not REFUSED:
        for a in r:
            finite_array(a, (c["B"], c["H"]), c["dtype"])


@parametrised("dH", "dh_T", "dc_T", "cache")
@FEW
@given(data_=st.data())
def test_lstm_backward(bad, data_):
    c = data_.draw(lstm_case(dtype=np.float64))
    H, _, cache = numpy_lstm.lstm_forward(c["X"], c["params"], c["h0"], c["c0"])
    shape = H.shape
    args = {"dH": c["rng"].normal(size=shape), "cache": cache, "dh_T": None,
            "dc_T": None}
    if bad == "dH":
        T, B, Hn = shape
        args[bad] = data_.draw(spoiled(args["dH"], [(T, B, Hn + 1), (T + 1, B, Hn),
                                                     (T, B), (0, B, Hn)]))
    elif bad in ("dh_T", "dc_T"):
        args[bad] = data_.draw(spoiled(np.ones(shape[1:]), state_shapes(c),
                                       optional=True))
    elif bad == "cache":
        rnn = numpy_lstm.rnn_forward(c["X"], numpy_lstm.init_rnn(
            c["I"], c["H"], rng=c["rng"]))[2]
        args[bad] = data_.draw(st.sampled_from([None, {}, rnn, (1, 2, 3), "cache",
                                                {"X": c["X"]}]))
    r = outcome(lambda: numpy_lstm.lstm_backward(**args), bad)
    if r is REFUSED:
        return
    grads, dX, dh0, dc0 = r
    assert set(grads) == set(c["params"])
    for k, g in grads.items():
        finite_array(g, c["params"][k].shape, np.float64)
    finite_array(dX, c["X"].shape, np.float64)
    finite_array(dh0, shape[1:], np.float64)


@parametrised("X", "h0", "W_ih", "W_hh", "b_hh", "mixed dtypes", "missing", "extra",
              "not a dict", "dH", "dh_T")
@FEW
@given(data_=st.data())
def test_rnn_forward_and_backward(bad, data_):
    T, B, I, H = (data_.draw(sizes) for _ in range(4))
    dtype = data_.draw(st.sampled_from(FLOATS))
    rng = rng_of(data_.draw)
    p = numpy_lstm.init_rnn(I, H, rng=rng, dtype=dtype)
    X, h0 = rng.normal(size=(T, B, I)).astype(dtype), None
    shapes = {"W_ih": [(H + 1, I), (H,)], "W_hh": [(H + 1, H), (H, H + 1), (H,)],
              "b_ih": [(H + 1,)], "b_hh": [(H + 1,), (1, H)]}
    forward_bad = None if bad in ("dH", "dh_T") else bad
    if bad == "X":
        X = data_.draw(spoiled(X, [(0, B, I), (T, 0, I), (T, B, I + 1), (T, B)]))
    elif bad == "h0":
        h0 = data_.draw(spoiled(np.zeros((B, H), dtype), [(B, H + 1), (H,)],
                                optional=True))
    elif forward_bad:
        p, forward_bad = data_.draw(spoiled_params(p, shapes, bad))
    r = outcome(lambda: numpy_lstm.rnn_forward(X, p, h0), forward_bad)
    if r is REFUSED:
        return
    Hs, h_T, cache = r
    finite_array(Hs, (T, B, H), np.dtype(dtype))
    dH, dh_T = np.ones_like(Hs), None
    if bad == "dH":
        dH = data_.draw(spoiled(dH, [(T, B, H + 1), (T, B)]))
    elif bad == "dh_T":
        dh_T = data_.draw(spoiled(np.ones((B, H), dtype), [(B, H + 1), (H,)],
                                  optional=True))
    r = outcome(lambda: numpy_lstm.rnn_backward(dH, cache, dh_T), bad)
    if r is not REFUSED:
        assert set(r[0]) == set(p)
        finite_array(r[1], X.shape, np.dtype(dtype))


@given(st.sampled_from(FLOATS), st.floats(-1, 1), st.integers(0, 3))
def test_sigmoid_is_a_fraction_for_every_finite_input(dtype, scale, n):
    z = np.linspace(-1, 1, n + 1).astype(dtype) * np.finfo(dtype).max * dtype(scale)
    s = outcome(lambda: numpy_lstm.sigmoid(z), None)
    assert s.dtype == dtype and ((s >= 0) & (s <= 1)).all()


# ----------------------------------------------------------------------------- model

@parametrised("input_size", "hidden_size", "output_size", "cell", "peepholes", "rng",
              "dtype", "X", "state", "W_hy", "dY")
@FEW
@given(c=lstm_case(), cell=st.sampled_from(["lstm", "rnn"]), data_=st.data())
def test_numpy_sequence_model(bad, c, cell, data_):
    args = {"input_size": c["I"], "hidden_size": c["H"], "output_size": 2,
            "cell": cell, "rng": c["rng"], "dtype": c["dtype"]}
    if bad in ("input_size", "hidden_size", "output_size"):
        args[bad] = data_.draw(bad_ints)
    elif bad == "cell":
        args[bad] = data_.draw(st.sampled_from(["lsmt", "LSTM", None, 3]))
    elif bad == "peepholes":
        args[bad] = data_.draw(st.sampled_from(["yes", 1] + [True] * (cell == "rnn")))
    elif bad == "rng":
        args[bad] = data_.draw(st.sampled_from([None, 0]))
    elif bad == "dtype":
        args[bad] = data_.draw(st.sampled_from(NOT_FLOATS))
    model = outcome(lambda: train.SequenceModel(**args), bad if bad in args or
                    bad == "peepholes" else None)
    if model is REFUSED:
        return
    X, state = c["X"], None
    if bad == "X":
        X = data_.draw(spoiled(X, x_shapes(c)))
    elif bad == "state":
        state = data_.draw(st.sampled_from(["h", (np.zeros((c["B"], c["H"] + 1)),) * 2,
                                            np.zeros(3)]))
        state = state[0] if cell == "rnn" and isinstance(state, tuple) else state
        bad = "state" if cell == "lstm" and not isinstance(state, tuple) else \
            Either(("state", "h0"))
    elif bad == "W_hy":
        model.params["W_hy"] = data_.draw(spoiled(model.params["W_hy"],
                                                  [(2, c["H"] + 1), (2,)]))
        bad = "params['W_hy']"
    r = outcome(lambda: model.forward(X, state),
                bad if bad in ("X", "state", "params['W_hy']") or
                isinstance(bad, Either) else None)
    if r is REFUSED:
        return
    Y, _ = r
    finite_array(Y, (c["T"], c["B"], 2), c["dtype"])
    dY = np.ones_like(Y)
    if bad == "dY":
        dY = data_.draw(spoiled(dY, [(c["T"], c["B"], 3), (c["T"] + 1, c["B"], 2)]))
    grads = outcome(lambda: model.backward(dY), bad)
    if grads is REFUSED:
        return
    assert set(grads) == set(model.params)
    for k, g in grads.items():
        finite_array(g, model.params[k].shape, c["dtype"])


# --------------------------------------------------------------------------- torch_lstm

def _torch(a):
    return torch.from_numpy(a) if isinstance(a, np.ndarray) else a


@parametrised("X", "h0", "c0", "state", "parameter")
@FEW
@given(c=lstm_case(), batch_first=st.booleans(), pure=st.booleans(), data_=st.data())
def test_torch_lstm_forward_matches_numpy_or_refuses(bad, c, batch_first, pure, data_):
    lstm = torch_lstm.LSTM.from_numpy(c["params"], batch_first=batch_first)
    X = _torch(c["X"].swapaxes(0, 1).copy() if batch_first else c["X"])
    state = None
    if c["h0"] is not None and c["c0"] is not None:
        state = (_torch(c["h0"][None]), _torch(c["c0"][None]))
    B, H = c["B"], c["H"]
    h = torch.zeros(1, B, H, dtype=lstm.W_ih.dtype)
    if bad == "X":
        T, B_, I = X.shape
        X = data_.draw(spoiled_tensor(X, [(0, B_, I), (T, 0, I), (T, B_, I + 1),
                                          (T, B_)]))
    elif bad in ("h0", "c0"):
        s = data_.draw(spoiled_tensor(h, [(B, H), (1, B, H + 1), (1, B + 1, H)]))
        state = (s, h) if bad == "h0" else (h, s)
    elif bad == "state":
        state = data_.draw(st.sampled_from([(h,), [h, h, h], h, "state"]))
    elif bad == "parameter":
        name = data_.draw(st.sampled_from(sorted(c["params"])))
        p, bad = getattr(lstm, name), name
        new = data_.draw(st.sampled_from(["long", "nan", "dtype", "none"]))
        if new == "none":
            setattr(lstm, name, None)
        else:
            p.data = {"long": torch.zeros(p.numel() + 1, dtype=p.dtype),
                      "nan": p.data * np.nan, "dtype": p.data.half()}[new]
    with mock.patch.dict(os.environ, {"LSTM_CORE_PURE_TORCH": "1" if pure else "0"}):
        r = outcome(lambda: lstm(X, state), bad)
    if r is REFUSED:
        return
    Hs, (h_n, c_n) = r
    Hs = Hs.detach().numpy()
    if batch_first:
        Hs = Hs.swapaxes(0, 1)
    ref, (_, c_ref), _ = numpy_lstm.lstm_forward(c["X"], c["params"], c["h0"] if state
                                                 else None, c["c0"] if state else None)
    tol = 1e-10 if c["dtype"] == np.float64 else 2e-5
    finite_array(Hs, ref.shape, c["dtype"])
    np.testing.assert_allclose(Hs, ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(c_n[0].detach().numpy(), c_ref, rtol=tol, atol=tol)


@parametrised(*PARAMS_BAD)
@FEW
@given(as_tensors=st.booleans(), data_=st.data())
def test_torch_lstm_from_numpy_and_load_arrays(bad, as_tensors, data_):
    c = data_.draw(lstm_case(peepholes=True if bad == "w_co" else None))
    p, bad_from = c["params"], bad
    if bad:
        p, bad_from = data_.draw(spoiled_params(p, c["shapes"], bad))
    lstm = outcome(lambda: torch_lstm.LSTM.from_numpy(p), bad_from)
    if lstm is not REFUSED:
        back = lstm.to_numpy()
        assert set(back) == set(p)
        for k in p:
            assert back[k].dtype == p[k].dtype and np.array_equal(back[k], p[k])
    # load_arrays into an LSTM of this layout, arrays or tensors: a float64 value
    # loads into float32 parameters (a copy, as torch's copy_), so mixed dtypes pass.
    target = torch_lstm.LSTM.from_numpy(c["params"])
    q, bad_load = c["params"], None if bad == "mixed dtypes" else bad
    if bad_load:
        q, bad_load = data_.draw(spoiled_params(q, c["shapes"], bad,
                                                other_float_bad=False, tensor_ok=True))
    if isinstance(q, dict) and as_tensors:
        q = {k: _torch(v) for k, v in q.items()}
    r = outcome(lambda: target.load_arrays(q), bad_load)
    if r is not REFUSED:
        for k, v in target.to_numpy().items():
            np.testing.assert_array_equal(v, np.asarray(q[k]).astype(c["dtype"]))


@parametrised("input_size", "hidden_size", "output_size", "cell", "peepholes",
              "forget_gate", "batch_first", "device", "dtype")
@FEW
@given(cell=st.sampled_from(["lstm", "rnn"]), data_=st.data())
def test_torch_constructors(bad, cell, data_):
    args = {"input_size": 2, "hidden_size": 3, "peepholes": False, "forget_gate": True,
            "batch_first": False, "device": None, "dtype": None}
    if bad in ("input_size", "hidden_size", "output_size"):
        args[bad] = data_.draw(bad_ints)
    elif bad in ("peepholes", "forget_gate", "batch_first"):
        args[bad] = data_.draw(st.sampled_from([1, "yes", None]))
    elif bad == "device":
        args[bad] = data_.draw(st.sampled_from(["gpu", "cuda:x", 2.5, [0]]))
    elif bad == "dtype":
        args[bad] = data_.draw(st.sampled_from(TORCH_NOT_FLOATS + (np.float32, "f")))
    elif bad == "cell":
        args[bad] = data_.draw(st.sampled_from(["lsmt", None]))
    lstm_args = {k: v for k, v in args.items() if k not in ("cell", "output_size")}
    lstm = outcome(lambda: torch_lstm.LSTM(**lstm_args),
                   None if bad in ("cell", "output_size") else bad)
    if lstm is not REFUSED:
        assert lstm.W_ih.shape == (12, 2) and lstm.W_ih.dtype == torch.float32
    model_args = {k: v for k, v in args.items() if k != "batch_first"}
    model_args = {"output_size": 1, "cell": cell} | model_args
    model = outcome(lambda: torch_lstm.SequenceModel(**model_args),
                    None if bad == "batch_first" else bad)
    if model is not REFUSED:
        Y = model(torch.zeros(4, 2, 2))[0]
        assert Y.shape == (4, 2, 1) and Y.dtype == torch.float32


@pytest.mark.parametrize("module, bad", [
    (lambda: torch.nn.LSTM(2, 3), None),
    (lambda: torch.nn.LSTM(2, 3, num_layers=2), "num_layers"),
    (lambda: torch.nn.LSTM(2, 3, bidirectional=True), "bidirectional"),
    (lambda: torch.nn.GRU(2, 3), "module"), (lambda: {}, "module")])
def test_torch_lstm_from_nn_lstm(module, bad):
    nn_lstm = module()
    r = outcome(lambda: torch_lstm.LSTM.from_nn_lstm(nn_lstm), bad)
    if r is not REFUSED:
        back = r.to_nn_lstm()
        for n, nn_name in torch_lstm.NN_NAMES.items():
            assert torch.equal(getattr(back, nn_name), getattr(nn_lstm, nn_name))


@parametrised("model", "X", "state", "readout.weight", "load_arrays")
@FEW
@given(c=lstm_case(), cell=st.sampled_from(["lstm", "rnn"]), data_=st.data())
def test_torch_sequence_model_matches_numpy(bad, c, cell, data_):
    flags = {"peepholes": False, "forget_gate": True}
    if cell == "lstm":
        flags = {"peepholes": "w_ci" in c["params"],
                 "forget_gate": c["G"] == 4 * c["H"]}
    numpy_model = train.SequenceModel(c["I"], c["H"], 2, cell=cell, rng=c["rng"],
                                      dtype=c["dtype"], **flags)
    source = numpy_model
    if bad == "model":
        source = data_.draw(st.sampled_from([numpy_model.params, None,
                                             torch_lstm.LSTM(2, 3)]))
    model = outcome(lambda: torch_lstm.SequenceModel.from_numpy(source),
                    "model" if bad == "model" else None)
    if model is REFUSED:
        return
    X, state = torch.from_numpy(c["X"]), None
    if bad == "X":
        T, B, I = X.shape
        X = data_.draw(spoiled_tensor(X, [(0, B, I), (T, B, I + 1)]))
    elif bad == "state":
        h = torch.zeros(1, c["B"], c["H"], dtype=X.dtype)
        state = data_.draw(spoiled_tensor(h, [(c["B"], c["H"])]))
        bad = Either(("state", "h0")) if cell == "rnn" else "state"
        state = state if cell == "rnn" else (state, state)
        if cell == "lstm":
            bad = Either(("state h0", "state"))
    elif bad == "readout.weight":
        w = model.readout.weight.data
        model.readout.weight.data = data_.draw(st.sampled_from(
            [torch.zeros(2, c["H"] + 1, dtype=w.dtype), w * np.nan, w.half()]))
    r = outcome(lambda: model(X, state), None if bad == "load_arrays" else bad)
    if r is REFUSED:
        return
    Y = r[0].detach().numpy()
    ref = numpy_model.forward(c["X"])[0]
    tol = 1e-10 if c["dtype"] == np.float64 else 2e-5
    finite_array(Y, ref.shape, c["dtype"])
    np.testing.assert_allclose(Y, ref, rtol=tol, atol=tol)
    back = model.to_numpy()
    assert set(back) == set(numpy_model.params)
    if bad == "load_arrays":
        key = data_.draw(st.sampled_from(sorted(back)))
        if key == "b_y":                             # stands for: not a dict at all
            back = data_.draw(st.sampled_from([None, list(back.values())]))
            bad = "params"
        else:
            back[key], bad = data_.draw(spoiled(back[key], [back[key].shape + (1,)],
                                                other_float_bad=False,
                                                tensor_ok=True)), key
    outcome(lambda: model.load_arrays(back), bad)


# ----------------------------------------------------------------------------- losses

@parametrised("Y_hat", "Y", "weights", "kind")
@FEW
@given(data_=st.data())
def test_loss_and_grad(bad, data_):
    T, N, O = (data_.draw(sizes) for _ in range(3))
    rng = rng_of(data_.draw)
    kind = data_.draw(st.sampled_from(losses.LOSSES))
    dtype = data_.draw(st.sampled_from(FLOATS))
    Y_hat = rng.normal(size=(T, N, O)).astype(dtype)
    Y = np.eye(O, dtype=dtype)[rng.integers(O, size=(T, N))]      # one-hot: any kind
    W = rng.uniform(0, 1, (T, N)) + 0.01
    args = {"Y_hat": Y_hat, "Y": Y, "weights": W, "kind": kind}
    if bad == "Y_hat":
        args[bad] = data_.draw(spoiled(Y_hat, [(T, N), (0, N, O)],
                                       other_float_bad=False))
    elif bad == "Y":
        args[bad] = data_.draw(spoiled(Y, [(T, N, O + 1), (T + 1, N, O), (N, O)]))
    elif bad == "weights":
        args[bad] = data_.draw(st.one_of(
            spoiled(W, [(T, N, 1), (T + 1, N)], other_float_bad=False),
            st.just(-W), st.just(np.zeros((T, N)))))
    elif bad == "kind":
        args[bad] = data_.draw(st.sampled_from(["MSE", "l1", None, 0]))
    r = outcome(lambda: losses.loss_and_grad(**args), bad)
    if r is REFUSED:
        return
    loss, dY = r
    assert isinstance(loss, float) and math.isfinite(loss) and loss >= 0
    finite_array(dY, Y.shape, np.dtype(dtype))


@parametrised("T", "decay", "X", "Y", "mask", "last")
@FEW
@given(data_=st.data())
def test_step_weights_and_sequence_targets(bad, data_):
    T, N, I, O = (data_.draw(sizes) for _ in range(4))
    decay = data_.draw(st.one_of(st.none(), st.floats(0.01, 1)))
    if bad == "decay":
        decay = data_.draw(st.sampled_from([0.0, -0.5, 1.5, np.nan, "0.9"]))
    n = data_.draw(bad_ints) if bad == "T" else T
    w = outcome(lambda: losses.step_weights(n, decay), bad if bad in ("T", "decay")
                else None)
    if w is not REFUSED:
        finite_array(w, (T,), np.float64)
        assert w[0] == 1 and (np.diff(w) <= 0).all()
    rng = rng_of(data_.draw)
    X, Y, mask = rng.normal(size=(T, N, I)), rng.normal(size=(T, N, O)), np.ones((T, N))
    if bad == "X":
        X = data_.draw(spoiled(X, [(T, N), (0, N, I), (T, N, I, 1)],
                               other_float_bad=False))
    elif bad == "Y":
        Y = data_.draw(spoiled(Y, [(T + 1, N, O), (T, N + 1, O), (N + 1, O), (T,)],
                               other_float_bad=False))
    elif bad == "mask":
        mask[data_.draw(st.integers(0, T - 1)), data_.draw(st.integers(0, N - 1))] = \
            data_.draw(st.sampled_from([-1.0, np.nan]))
        mask = data_.draw(st.one_of(st.just(mask), st.just(np.zeros((T, N))),
                                    spoiled(np.ones((T, N)), [(T, N + 1), (T,)],
                                            other_float_bad=False)))
    elif bad == "last":
        Y, bad = Y[-1], "mask"                      # last-step targets and a mask
    r = outcome(lambda: losses.sequence_targets(X, Y, mask),
                bad if bad in ("X", "Y", "mask") else None)
    if r is not REFUSED:
        finite_array(r[0], (T, N, O), Y.dtype)
        assert (r[1] >= 0).all() and r[1].any(0).all()


# ----------------------------------------------------------------------------- optim

SETTINGS_BAD = {"sgd": ("momentum", [1.0, -0.1, "x", np.nan]),
                "adagrad": ("eps", [0.0, np.nan, -1.0]),
                "adam": ("eps", [0.0, np.inf])}


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
@parametrised("lr", "setting", "betas", "grads", "params", "key", "not dicts")
@FEW
@given(data_=st.data())
def test_optimisers(name, bad, data_):
    kw = {"lr": 0.1}
    if bad == "lr":
        kw["lr"] = data_.draw(st.sampled_from([0.0, -1.0, np.nan, np.inf, "0.1", None,
                                               10 ** 400]))
    elif bad == "setting":
        bad, options = SETTINGS_BAD[name]
        kw[bad] = data_.draw(st.sampled_from(options))
    elif bad == "betas" and name == "adam":
        kw[bad] = data_.draw(st.sampled_from([0.9, (0.9,), None, (0.9, 1.0)]))
        bad = Either(("betas", "betas[1]"))
    opt = outcome(lambda: optim.OPTIMIZERS[name](**kw), bad if bad in kw or
                  isinstance(bad, Either) else None)
    if opt is REFUSED:
        return
    rng = rng_of(data_.draw)
    dtype = data_.draw(st.sampled_from(FLOATS))
    params = {"W": rng.normal(size=(2, 3)).astype(dtype), "b": np.zeros(3, dtype)}
    grads = {"W": rng.normal(size=(2, 3))}
    before = {k: v.copy() for k, v in params.items()}
    if bad == "grads":
        grads["W"], bad = data_.draw(spoiled(grads["W"], [(3, 2), (2, 3, 1)],
                                             other_float_bad=False)), "grads['W']"
    elif bad == "params":
        params["W"] = data_.draw(spoiled(params["W"], (), other_float_bad=False))
        bad = "params['W']"
    elif bad == "key":
        grads["V"], bad = np.ones(3), ("grads", "V")
    elif bad == "not dicts":
        which = data_.draw(st.booleans())
        params, grads = (list(params.values()), grads) if which else \
            (params, list(grads.values()))
        bad = ("params", "grads")
    else:
        bad = None
    r = outcome(lambda: opt.step(params, grads), bad)
    if r is REFUSED:
        if isinstance(params, dict) and isinstance(params.get("b"), np.ndarray):
            assert np.array_equal(params["b"], before["b"])
        return
    assert params["W"].dtype == dtype and np.isfinite(params["W"]).all()
    assert not np.array_equal(params["W"], before["W"])
    assert np.array_equal(params["b"], before["b"])            # no gradient, no step


# ----------------------------------------------------------------------------- train

def _model(backend, I=1, H=2, O=1, dtype=np.float64, seed=0):
    if backend == "numpy":
        return train.SequenceModel(I, H, O, rng=np.random.default_rng(seed),
                                   dtype=dtype)
    torch.manual_seed(seed)
    return torch_lstm.SequenceModel(I, H, O, dtype={np.float32: torch.float32,
                                                   np.float64: torch.float64}[dtype])


BACKENDS = pytest.mark.parametrize("backend", ["numpy", "torch"])
CONFIG_BAD = {
    "epochs": [0, -1, 1.5, "2", None], "batch_size": [0, 5, 2.0],
    "optimizer": ["Adam", "rmsprop", None], "lr": [0.0, -1e-3, np.nan, np.inf, "0.1"],
    "loss": ["l1", None], "clip": [0.0, -1.0, np.nan],
    "step_decay": [0.0, 1.01, np.nan],
    "input_noise": [-0.1, np.nan, np.inf], "early_stop_every": [0, 1.0],
    "early_stop_tol": [np.nan, -0.1, 1.0], "checkpoint_every": [0, -2],
    "seed": [-1, 1.5, None], "progress": [1, "yes", None]}
CONFIG_OK = {"epochs": [1, 2], "batch_size": [1, 2, 4],
             "optimizer": ["sgd", "adagrad", "adam"], "lr": [1e-3, 0.05],
             "loss": ["mse"], "clip": [None, 0.5], "step_decay": [None, 0.8],
             "input_noise": [0.0, 0.1], "early_stop_every": [None, 1],
             "early_stop_tol": [0.0, 0.01], "checkpoint_every": [None, 1],
             "seed": [0, 3], "progress": [False]}


@BACKENDS
@parametrised(*CONFIG_BAD, "config")
@FEW
@given(data_=st.data())
def test_fit_config_fields(backend, bad, data_):
    cfg = {k: data_.draw(st.sampled_from(v)) for k, v in CONFIG_OK.items()}
    if bad in CONFIG_BAD:
        cfg[bad] = data_.draw(st.sampled_from(CONFIG_BAD[bad]))
    config = train.TrainConfig(**cfg)
    if bad == "config":
        config = data_.draw(st.sampled_from([cfg, "adam", 3]))
    X = np.sin(np.arange(4 * 4).reshape(4, 4, 1) / 3.0)
    Y = np.cos(X)
    seen = []
    history = outcome(lambda: train.fit(_model(backend), X, Y, config, test=(X, Y),
                                        callback=lambda e, m, h: seen.append(e)),
                      bad and ("config" if bad == "config" else f"config.{bad}"))
    if history is REFUSED:
        assert seen == []                             # refused before any training
        return
    assert 1 <= history.epochs <= cfg["epochs"]
    assert np.isfinite(history.train_loss + history.test_loss + history.grad_norm).all()
    if cfg["checkpoint_every"]:
        assert seen == list(range(1, history.epochs + 1))


@BACKENDS
@parametrised("X", "Y", "mask", "test", "test X", "test Y", "callback", "model")
@FEW
@given(dtype=st.sampled_from(FLOATS), data_=st.data())
def test_fit_data_arguments(backend, bad, dtype, data_):
    T, N = data_.draw(sizes), data_.draw(st.integers(2, 4))
    rng = rng_of(data_.draw)
    X, Y = rng.normal(size=(T, N, 1)).astype(dtype), rng.normal(size=(T, N, 1))
    kw = {"mask": None, "test": None, "callback": None}
    model = _model(backend, dtype=dtype)
    if bad == "X":
        X = data_.draw(spoiled(X, [(T, N, 2), (T, N), (0, N, 1)],
                               other_float_bad=False))
    elif bad == "Y":
        Y = data_.draw(spoiled(Y, [(T, N, 2), (T, N + 1, 1), (T,)],
                               other_float_bad=False))
    elif bad == "mask":
        kw["mask"] = data_.draw(spoiled(np.ones((T, N)), [(T, N + 1)],
                                        other_float_bad=False))
    elif bad == "test":
        kw["test"] = data_.draw(st.sampled_from([(X,), X, [X, Y, None, None], "test"]))
        bad = ("test", "X_test")
    elif bad in ("test X", "test Y"):
        a = X if bad == "test X" else Y
        a = data_.draw(spoiled(a, [(T, N, 2), (T, N)], other_float_bad=False))
        kw["test"] = (a, Y) if bad == "test X" else (X, a)
    elif bad == "callback":
        kw["callback"] = data_.draw(st.sampled_from(["print", 3]))
    elif bad == "model":
        model = data_.draw(st.sampled_from([None, {},
                                            numpy_lstm.init_lstm(1, 2, rng=rng)]))
    history = outcome(lambda: train.fit(model, X, Y, train.TrainConfig(
        epochs=1, batch_size=2), **kw), bad)
    if history is not REFUSED:
        assert history.epochs == 1 and np.isfinite(history.train_loss).all()


@BACKENDS
@FEW
@given(lr=st.floats(1e2, 1e40), opt=st.sampled_from(["sgd", "adagrad", "adam"]),
       seed=st.integers(0, 3))
def test_fit_either_trains_or_stops_naming_epoch_and_step(backend, lr, opt, seed):
    """The divergence promise on both backends, for any learning rate."""
    X = np.sin(np.arange(5 * 4).reshape(5, 4, 1) / 2.0)
    cfg = train.TrainConfig(epochs=3, batch_size=2, lr=lr, optimizer=opt)
    model = _model(backend, H=3, seed=seed)
    history = outcome(lambda: train.fit(model, X[:-1], X[1:], cfg),
                      ("training diverged at epoch", "step", "config.lr"),
                      errors=(FloatingPointError,), may_pass=True)
    if history is not REFUSED:
        assert np.isfinite(history.train_loss).all()


@BACKENDS
@parametrised("X", "state", "model", "X_warm", "n_steps")
@FEW
@given(dtype=st.sampled_from(FLOATS), data_=st.data())
def test_predict_and_free_run(backend, bad, dtype, data_):
    T, N = data_.draw(sizes), data_.draw(sizes)
    model = _model(backend, I=2, O=2, dtype=dtype)
    X = rng_of(data_.draw).normal(size=(T, N, 2))
    state, m, n_steps = None, model, data_.draw(st.integers(1, 4))
    if bad in ("X", "X_warm"):
        X = data_.draw(spoiled(X, [(T, N, 3), (0, N, 2), (T, N)],
                               other_float_bad=False))
    elif bad == "state":
        state = data_.draw(st.sampled_from(["h", (np.zeros((N, 2)),), 3]))
        bad = Either(("state", "state h0"))
    elif bad == "model":
        m = data_.draw(st.sampled_from([None, "model", numpy_lstm.init_lstm(
            2, 2, rng=np.random.default_rng(0))]))
    elif bad == "n_steps":
        n_steps = data_.draw(bad_ints)
    if bad not in ("X_warm", "n_steps"):
        r = outcome(lambda: train.predict(m, X, state), bad)
        if r is not REFUSED:
            finite_array(r, (T, N, 2), np.dtype(dtype))
    r = outcome(lambda: train.free_run(model, X, n_steps),
                bad if bad in ("X_warm", "n_steps") else
                "X_warm" if bad == "X" else None)
    if r is not REFUSED:
        finite_array(r, (n_steps, N, 2), np.dtype(dtype))


# ----------------------------------------------------------------------------- data

grammar_text = st.text(alphabet="BTSXPVEQ", max_size=14)


@given(grammar_text, st.one_of(st.booleans(), st.sampled_from([1, "yes"])), seeds)
def test_grammar_functions(s, embedded, seed):
    rng = np.random.default_rng(seed)
    for fn in (data.reber, data.embedded_reber):
        word = outcome(lambda: fn(rng), None)
        assert (data.is_reber if fn is data.reber else data.is_embedded_reber)(word)
        outcome(lambda: fn(seed), "rng")
    for fn in (data.is_reber, data.is_embedded_reber):
        assert outcome(lambda: fn(s), None) in (True, False)
        outcome(lambda: fn(list(s)), "s")
    valid = data.is_embedded_reber(s) if embedded is True else data.is_reber(s)
    flag_ok = isinstance(embedded, bool)
    sets = outcome(lambda: data.next_symbols(s, embedded),
                   None if valid and flag_ok else "embedded" if not flag_ok else "s")
    if sets is not REFUSED:
        assert len(sets) == len(s) - 1
        assert all(s[t + 1] in sets[t] for t in range(len(s) - 1))


@parametrised("strings", "embedded", "dtype")
@FEW
@given(strings=st.lists(st.builds(data.embedded_reber,
                                  seeds.map(np.random.default_rng)),
                        min_size=1, max_size=3), data_=st.data())
def test_encode_strings_decode_and_second_to_last(bad, strings, data_):
    kw = {"embedded": True, "dtype": data_.draw(st.sampled_from(FLOATS))}
    if bad == "strings":
        strings = data_.draw(st.sampled_from([[], "BTSXSE", [3], ["BTX"], None]))
        k = next((b for b, s in enumerate(strings or []) if not isinstance(s, str) or
                  not data.is_embedded_reber(s)), None)
        bad = Either(("strings", f"strings[{k}]"))
    elif bad == "embedded":
        kw[bad] = data_.draw(st.sampled_from([1, "yes", None]))
    elif bad == "dtype":
        kw[bad] = data_.draw(st.sampled_from(NOT_FLOATS))
    r = outcome(lambda: data.encode_strings(strings, **kw), bad)
    if r is REFUSED:
        return
    X, Y, mask = r
    T = max(map(len, strings)) - 1
    finite_array(X, (T, len(strings), 7), np.dtype(kw["dtype"]))
    for b, s in enumerate(strings):
        assert data.decode(X[:, b]) == s[:-1] and mask[:, b].sum() == len(s) - 1
    steps = data.second_to_last_step(strings)
    assert all(s[t + 1] == s[-2] for s, t in zip(strings, steps))
    outcome(lambda: data.decode(X[:, 0, :6]), "onehot")
    outcome(lambda: data.decode(X[:, 0] * np.nan), "onehot")
    outcome(lambda: data.decode("".join(strings)), "onehot")


@given(st.one_of(st.integers(1, 3), bad_ints), st.sampled_from(FLOATS + NOT_FLOATS),
       seeds)
def test_reber_stream_and_encode_stream(n, dtype, seed):
    rng = np.random.default_rng(seed)
    s = outcome(lambda: data.reber_stream(rng, n), None if good_int(n) else "n_strings")
    if s is REFUSED:
        return
    r = outcome(lambda: data.encode_stream(s, dtype=dtype),
                None if dtype in FLOATS else "dtype")
    if r is not REFUSED:
        finite_array(r[0], (len(s) - 1, 1, 7), np.dtype(dtype))
        assert data.decode(r[0][:, 0]) == s[:-1]
    outcome(lambda: data.encode_stream(s[:-1] + "Q"), "s")


@parametrised("n_points", "look_back", "x_range", "train_ratio")
@FEW
@given(n_points=st.integers(15, 60), look_back=st.integers(1, 5),
       train_ratio=st.floats(0.2, 0.8), data_=st.data())
def test_sine_windows(bad, n_points, look_back, train_ratio, data_):
    args = {"n_points": n_points, "x_range": (-10.0, 10.0), "look_back": look_back,
            "train_ratio": train_ratio}
    if bad == "n_points":
        args[bad] = data_.draw(st.one_of(bad_ints, st.just(look_back)))
        bad = Either(("n_points", "look_back"))         # look_back < n_points fails
    elif bad == "look_back":
        args[bad] = data_.draw(st.one_of(bad_ints, st.just(n_points)))
    elif bad == "x_range":
        args[bad] = data_.draw(st.sampled_from([(1.0, 1.0), (np.nan, 1.0), (0.0,),
                                                "ab", (-np.inf, 0.0), ("a", "b"),
                                                (0.0, np.inf)]))
        bad = Either(("x_range", "x_range[0]", "x_range[1]"))
    elif bad == "train_ratio":
        args[bad] = data_.draw(st.sampled_from([0.0, 1.0, np.nan, "0.5", 0.001, -0.5]))
    r = outcome(lambda: data.sine_windows(**args), bad)
    if r is not REFUSED:
        N = n_points - look_back
        assert r.X_train.shape == (look_back, r.train_size, 1)
        assert r.X_test.shape == (look_back, N - r.train_size, 1)
        assert r.y_test.shape == (N - r.train_size, 1) and np.isfinite(r.X_test).all()
        np.testing.assert_array_equal(r.X_train[:, 1, 0], r.y[1:1 + look_back])


@parametrised("n_waves", "length", "period", "rng", "dtype", "waves", "p", "n")
@FEW
@given(data_=st.data())
def test_sine_waves_next_step_pairs_two_sequences(bad, data_):
    args = {"n_waves": 3, "length": 5, "period": 4.0, "rng": rng_of(data_.draw),
            "dtype": np.float32}
    if bad in ("n_waves", "length"):
        args[bad] = data_.draw(bad_ints)
    elif bad == "period":
        args[bad] = data_.draw(st.sampled_from([0.0, -1.0, np.nan, np.inf, 1e-310, 1e19,
                                                "4"]))
    elif bad == "rng":
        args[bad] = data_.draw(st.sampled_from([None, 0]))
    elif bad == "dtype":
        args[bad] = data_.draw(st.sampled_from(NOT_FLOATS))
    waves = outcome(lambda: data.sine_waves(**args), bad if bad in args else None)
    if waves is not REFUSED:
        finite_array(waves, (5, 3), np.float32)
        if bad == "waves":
            waves = data_.draw(spoiled(waves, [(1, 3), (5,), (5, 3, 1)]))
        r = outcome(lambda: data.next_step_pairs(waves),
                    bad if bad == "waves" else None)
        if r is not REFUSED:
            X, Y = r
            assert X.shape == Y.shape == (4, 3, 1) and np.array_equal(X[1:], Y[:-1])
    p, n = data_.draw(sizes), data_.draw(sizes)
    if bad in ("p", "n"):
        p, n = (data_.draw(bad_ints), n) if bad == "p" else (p, data_.draw(bad_ints))
    r = outcome(lambda: data.two_sequences(p, n, np.random.default_rng(0)),
                bad if bad in ("p", "n") else None)
    if r is not REFUSED:
        X, labels = r
        finite_array(X, (p, n, p + 1), np.float64)
        assert (X[0].argmax(-1) == labels).all()


# ----------------------------------------------------------------------------- io

@given(st.dictionaries(st.one_of(st.sampled_from(["W_ih", "b", "__meta__", "file"]),
                                 st.integers(0, 2)),
                       st.tuples(st.sampled_from(FLOATS + NOT_FLOATS),
                                 st.lists(st.integers(0, 3), max_size=2),
                                 st.sampled_from([None, "nan", "inf"])),
                       max_size=3),
       st.sampled_from([None, {"epochs": 3}, {"f": 1.5}, "meta", {"x": object()}]))
def test_save_load_round_trip_or_refuse_both_ways(spec, meta):
    params = {}
    for key, (dtype, shape, poison) in spec.items():
        a = np.ones(shape, dtype)
        if poison and a.size and a.dtype.kind in "fc":
            a.flat[0] = float(poison)
        params[key] = a
    good_keys = all(isinstance(k, str) and not k.startswith("__") and k != "file"
                    for k in params)
    good_values = good_keys and all(v.dtype in V.FLOAT_DTYPES and np.isfinite(v).all()
                                    for v in params.values())
    ok_meta = meta is None or (isinstance(meta, dict) and "x" not in meta)
    bad = None if params and good_values and ok_meta else \
        "meta" if params and good_values else "params"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.npz"
        r = outcome(lambda: io.save_params(path, params, meta), bad)
        if r is not REFUSED:
            back, meta_back = outcome(lambda: io.load_params(path, params.keys()), None)
            assert meta_back == meta and set(back) == set(params)
            for k in params:
                assert back[k].dtype == params[k].dtype
                assert np.array_equal(back[k], params[k])
            outcome(lambda: io.load_params(path, ["other"]), "expected")
            outcome(lambda: io.load_params(path, "W_ih"), "expected_keys")
        elif bad == "params" and good_keys:
            # What save refused, crafted by hand, load refuses too.
            np.savez(path, __format__=np.array(io.FORMAT_VERSION), **params)
            outcome(lambda: io.load_params(path), str(path))


@given(st.binary(max_size=200), st.integers(0, 400))
def test_load_params_of_any_bytes_is_a_value_error(blob, cut):
    with tempfile.TemporaryDirectory() as folder:
        good = Path(folder) / "good.npz"
        io.save_params(good, {"W": np.arange(4.0)})
        for content in (blob, good.read_bytes()[:cut]):
            path = Path(folder) / "bad.npz"
            path.write_bytes(content)
            outcome(lambda: io.load_params(path), str(path))
        outcome(lambda: io.load_params(Path(folder) / "p.npy"), "path")
        outcome(lambda: io.save_params(Path(folder) / "p.txt", {"W": np.ones(1)}),
                "path")
        outcome(lambda: io.atomic_write(Path(folder) / "a", blob.decode("latin-1")
                                        if cut % 2 else blob), None)
        outcome(lambda: io.atomic_write(Path(folder) / "a", cut), "data")
        outcome(lambda: io.atomic_write(cut, blob), "path")


# ---------------------------------------------------------------------------- gradcheck

numbers = st.one_of(st.floats(-1e6, 1e6), NON_FINITE, st.sampled_from([1 + 2j, True]))


@given(st.lists(numbers, min_size=0, max_size=4), st.lists(numbers, min_size=0,
                                                           max_size=4))
def test_rel_error(a, b):
    complex_ = any(isinstance(v, complex) for v in a + b)
    bad = ("a" if any(isinstance(v, complex) for v in a) else "b") if complex_ else \
        None if len(a) == len(b) else "shapes"
    err = outcome(lambda: gradcheck.rel_error(a, b), bad)
    if err is REFUSED:
        return
    x, y = np.asarray(a, float), np.asarray(b, float)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        assert err == np.inf                   # fails every tolerance
    else:
        assert 0 <= err <= 1
        assert (err == 0) == bool(np.array_equal(x, y) or x.size == 0)


GRAD_CASES = ["wrong", "nan", "nan loss", "complex", "shape", "missing", "float32",
              "loss_fn", "not dicts", "eps", "max_checks", "rng"]


@parametrised(*GRAD_CASES)
@FEW
@given(sampled=st.booleans(), data_=st.data())
def test_check_grads_directional_check_numerical_grad(bad, sampled, data_):
    rng = rng_of(data_.draw)
    params = {"W": rng.normal(size=(2, 2)), "b": rng.normal(size=3)}

    def loss():
        return float((params["W"] ** 3).sum() + np.sin(params["b"]).sum())
    true = {"W": 3 * params["W"] ** 2, "b": np.cos(params["b"])}
    grads, fn, kw, rng_arg, named = dict(true), loss, {}, rng, None
    if bad == "wrong":
        grads["W"] = grads["W"] * 1.1 + 0.1
    elif bad == "nan":
        grads["b"] = grads["b"] * np.nan
    elif bad == "nan loss":
        fn = (lambda: float("nan"))
    elif bad in ("complex", "shape"):
        grads["W"], named = (grads["W"] + 1j if bad == "complex" else
                             grads["W"].ravel()), "grads['W']"
    elif bad == "missing":
        del grads["b"]
        named = "grads"
    elif bad == "float32":
        params["W"], named = params["W"].astype(np.float32), "params['W']"
    elif bad == "loss_fn":
        fn, named = "loss", "loss_fn"
    elif bad == "not dicts":
        grads, named = list(grads.values()), ("params", "grads")
    elif bad == "eps":
        kw["eps"] = data_.draw(st.sampled_from([0.0, -1e-6, np.nan, "1e-6"]))
        named = "eps"
    elif bad == "rng":
        rng_arg = data_.draw(st.sampled_from([None, 0, np.random.RandomState(0)]))
        named = "rng"
    max_checks = data_.draw(st.sampled_from([0, 1.5, "2"])) if bad == "max_checks" \
        else 2 if sampled else None
    errors = outcome(lambda: gradcheck.check_grads(
        fn, params, grads, max_checks=max_checks, rng=rng_arg, **kw),
        "max_checks" if bad == "max_checks" else
        named if bad != "rng" or max_checks else None)
    if errors is not REFUSED:
        assert set(errors) == set(params)
        worst = max(errors.values())
        if bad in (None, "rng"):
            assert worst < 1e-6
        elif bad in ("nan", "nan loss"):
            assert worst == np.inf
        else:
            assert worst > 1e-3                 # a wrong gradient fails the check
    err = outcome(lambda: gradcheck.directional_check(fn, params, grads, rng_arg, **kw),
                  None if bad == "max_checks" else named)
    if err is not REFUSED:
        if bad in (None, "max_checks"):
            assert err < 1e-6
        elif bad in ("nan", "nan loss"):
            assert err == np.inf
        else:
            assert err > 1e-3
    x = params["b"] if bad != "float32" else params["W"]
    g = outcome(lambda: gradcheck.numerical_grad(fn, x, **kw),
                "f" if bad == "loss_fn" else "x" if bad == "float32" else
                "eps" if bad == "eps" else None)
    if g is not REFUSED and bad in (None, "wrong"):
        np.testing.assert_allclose(g, true["b"], rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------- check

def _step_variant(kind):
    """A step function for check.check_lstm_step: right, or wrong in one way."""
    def step(x, h, c, p):
        h_t, c_t = numpy_lstm.lstm_step(x, h, c, p)
        return {"right": (h_t, c_t), "swapped": (c_t, h_t), "nan": (h_t * np.nan, c_t),
                "complex": (h_t + 0j, c_t), "float32": (h_t.astype(np.float32), c_t),
                "shape": (h_t.T, c_t), "one": h_t, "none": None,
                "strings": (h_t.astype(str), c_t), "scaled": (h_t * 1.01, c_t),
                "list": (h_t.tolist(), c_t.tolist()),
                "ragged": ([[1.0, 2.0], [3.0]], c_t)}[kind]
    if kind == "raises":
        def step(x, h, c, p):
            raise KeyError("W_xx")
    return step


@given(st.sampled_from(["right", "swapped", "nan", "complex", "float32", "shape", "one",
                        "none", "strings", "scaled", "list", "raises", "ragged"]),
       st.booleans(), st.sampled_from([0, 1, -1, "0", None]))
def test_check_lstm_step_passes_only_a_right_step(kind, peepholes, seed):
    bad_seed = not (isinstance(seed, int) and seed >= 0)
    right = kind in ("right", "float32", "list")
    errors = (TypeError, ValueError) if bad_seed else (CheckError,)
    bad = "seed" if bad_seed else None if right else "lstm step" if kind == "scaled" \
        else ("your", "step") if kind in ("one", "none", "raises") else \
        ("h_t", "not an array of numbers") if kind == "ragged" else "h_t"
    with contextlib.redirect_stdout(None):
        outcome(lambda: check.check_lstm_step(_step_variant(kind), peepholes=peepholes,
                                              seed=seed), bad, errors=errors)
    outcome(lambda: check.check_lstm_step("step"), "fn")
    outcome(lambda: check.check_lstm_step(_step_variant("right"), peepholes="no"),
            "peepholes")


@given(st.sampled_from(["right", "nan", "complex", "missing", "scaled", "dict",
                        "raises", "three"]), st.booleans())
def test_check_lstm_backward_passes_only_a_right_backward(kind, peepholes):
    def backward(dH, cache):
        grads, dX, dh0, dc0 = numpy_lstm.lstm_backward(dH, cache)
        if kind == "raises":
            raise IndexError("t")
        return {"right": (grads, dX, dh0, dc0), "dict": grads,
                "nan": (grads | {"b_ih": grads["b_ih"] * np.nan}, dX, dh0, dc0),
                "complex": (grads, dX + 0j, dh0, dc0),
                "missing": ({k: v for k, v in grads.items() if k != "W_hh"}, dX, dh0,
                            dc0),
                "scaled": ({k: 2 * v for k, v in grads.items()}, dX, dh0, dc0),
                "three": (grads, dX, dh0)}[kind]
    bad = {"right": None, "dict": None, "scaled": "lstm backward", "complex": "dX",
           "nan": "db_ih", "missing": "gradients", "raises": "your backward",
           "three": "your backward"}[kind]
    with contextlib.redirect_stdout(None):
        outcome(lambda: check.check_lstm_backward(backward, peepholes=peepholes), bad,
                errors=(CheckError,))


@given(st.sampled_from(["right", "reversed", "nan", "single", "int", "short",
                        "complex"]), st.sampled_from([True, False, "yes", 1]))
def test_check_windows_and_rnn_step(kind, time_major):
    def windows(ts, k):
        X = np.lib.stride_tricks.sliding_window_view(ts, k)[:-1]
        y = ts[k:, None]
        if time_major is True:
            X = X.T[..., None]
        return {"right": (X, y), "reversed": (X[..., ::-1] if time_major is not True
                                              else X[::-1], y),
                "nan": (X, y * np.nan), "single": X, "int": 3, "short": (X, y[:-1]),
                "complex": (X + 0j, y)}[kind]
    bad = {"right": None, "reversed": "windows", "short": "windows",
           "single": "your window maker", "int": "your window maker",
           "complex": "windows: X", "nan": "windows: y"}[kind]
    flag_ok = isinstance(time_major, bool)
    with contextlib.redirect_stdout(None):
        outcome(lambda: check.check_windows(windows, time_major=time_major),
                bad if flag_ok else "time_major",
                errors=(CheckError,) if flag_ok else (TypeError,))

    def rnn_step(x, h, p):
        h_t = np.tanh(x @ p["W_ih"].T + p["b_ih"] + h @ p["W_hh"].T + p["b_hh"])
        return {"right": h_t, "nan": h_t * np.nan, "complex": h_t + 1j,
                "single": (h_t, h_t), "int": 3, "short": h_t[:1],
                "reversed": np.tanh(x @ p["W_ih"].T + p["b_ih"] + p["b_hh"])}.get(kind,
                                                                               h_t)
    bad = None if kind == "right" else "RNN step" if kind == "reversed" else "h_t"
    with contextlib.redirect_stdout(None):
        outcome(lambda: check.check_rnn_step(rnn_step), bad, errors=(CheckError,))


# ----------------------------------------------------------------------------- bench

@parametrised("T", "B", "I", "H", "name", "dtype", "device", "seed")
@FEW
@given(dims=st.lists(sizes, min_size=4, max_size=4),
       name=st.sampled_from(list(bench.IMPLEMENTATIONS)), data_=st.data())
def test_bench_arguments(bad, dims, name, data_):
    """Argument checks only: the runners built are tiny, and nothing is timed
    except trivial functions."""
    kw = {"device": "cpu", "dtype": torch.float64, "seed": 0}
    if bad in ("T", "B", "I", "H"):
        dims["TBIH".index(bad)] = data_.draw(bad_ints)
    elif bad == "name":
        name = data_.draw(st.sampled_from(["jax", None, "NumPy"]))
    elif bad == "dtype":
        kw["dtype"] = data_.draw(st.sampled_from([torch.float16, torch.int32,
                                                  np.float32]))
    elif bad == "device":
        kw["device"] = data_.draw(st.sampled_from(["gpu", "cuda:x", 3.5]))
    elif bad == "seed":
        kw["seed"] = data_.draw(st.sampled_from([-1, "a", 1.5]))
    flops = outcome(lambda: bench.lstm_flops(*dims), bad if bad in ("T", "B", "I", "H")
                    else None)
    if flops is not REFUSED:
        T, B, I, H = dims
        assert flops == 24 * T * B * H * (I + H) and type(flops) is int
    run = outcome(lambda: bench.make_runner(name, *dims, **kw), bad)
    if run is not REFUSED:
        assert outcome(run, None) is None
    repeats = dims[0] if bad != "T" else dims[0]
    runs = []
    times = outcome(lambda: bench.time_interleaved({"a": lambda: runs.append(1),
                                                    "b": lambda: None},
                                                   repeats=repeats, warmup=0),
                    "repeats" if bad == "T" else None)
    if times is not REFUSED:
        # Timer runs each sample's function TIMER_WARMUP times before the timed run
        assert len(times["a"]) == repeats and min(times["b"]) >= 0
        assert len(runs) == repeats * (1 + bench.TIMER_WARMUP)
    with mock.patch.object(torch, "randn", side_effect=AssertionError("timed")):
        wrong = "repeats" if bad == "T" else bad if bad in ("dtype", "device") else "n"
        outcome(lambda: bench.matmul_peak(device=kw["device"], dtype=kw["dtype"],
                                          n=0 if wrong == "n" else 4, repeats=repeats),
                wrong)
