"""Self-checks for the book's coding exercises: your function against the reference.

Each `check_*` calls the reader's function on a few random float64 inputs, compares
it with `numpy_lstm`, `gru` or `data`, prints one line if it agrees and otherwise raises
`CheckError` saying what is wrong (which output, which gate, which gradient, which
shape), without showing the code of the answer. The diagnosis compares the result
with known mistakes (gates read in another order, a sigmoid for a tanh, a missing
bias...) and with probes that pin all gates but one (a bias of +-30 saturates it).

The RNN exercises' checks (check_rnn_backward, check_clip, check_tbptt) live in
`check_rnn`, the GRU's in `check_gru`; the wrappers here are their entry points.

Conventions are `numpy_lstm`'s: gate order (i, f, g, o), W_ih (4H, I), W_hh (4H, H),
b_ih, b_hh (4H,), batches (B, ...) per step, time-major X (T, B, I).
"""
import itertools

import numpy as np

from . import data, numpy_lstm
from . import validate as V
from .numpy_lstm import sigmoid

GATES = "ifgo"
B, I, H = 2, 3, 4  # distinct sizes, so that a mixed-up axis shows in a shape
ATOL, RTOL = 1e-6, 1e-5  # loose enough for a float32 answer


class CheckError(AssertionError):
    """Your function disagrees with the reference; the message says where."""


def _close(a, b):
    return a.shape == b.shape and np.allclose(a, b, rtol=RTOL, atol=ATOL)


def _call(name, fn, *args, hint="W_ih is (4H, I), W_hh (4H, H)"):
    if not callable(fn):
        raise TypeError(f"fn must be your function (callable), got {type(fn).__name__}")
    try:
        return fn(*args)
    except Exception as err:  # the reader's code: report any error in its terms
        shapes = ", ".join(f"{np.shape(a)}" for a in args if isinstance(a, np.ndarray))
        raise CheckError(f"{name} raised {type(err).__name__}: {err}\n(inputs had "
                         f"shapes {shapes}; {hint})") from err


def _numbers(name, a):
    """a as a float64 array, or a CheckError saying why it is not real numbers."""
    try:
        raw = np.asarray(a)
    except Exception as err:  # ragged lists and the like
        raise CheckError(f"{name} is not an array of numbers: {err}") from err
    if np.iscomplexobj(raw):
        raise CheckError(f"{name} has complex values ({raw.dtype}); an LSTM computes "
                         "real numbers")
    if not (np.issubdtype(raw.dtype, np.number) or raw.dtype == bool):
        raise CheckError(f"{name} must hold numbers, got dtype {raw.dtype}")
    a = raw.astype(np.float64)
    if not np.isfinite(a).all():
        raise CheckError(f"{name} holds NaN or infinite values")
    return a


def _rng(seed):
    return np.random.default_rng(V.nonnegative_int("seed", seed))


def _as_array(name, a, shape):
    a = _numbers(name, a)
    if a.shape != shape:
        hint = " (transposed?)" if a.shape == shape[::-1] else ""
        raise CheckError(f"{name} has shape {a.shape}, expected {shape}{hint}")
    return a


def _lstm_params(rng, peepholes):
    p = numpy_lstm.init_lstm(I, H, peepholes=peepholes, rng=rng)
    return {k: v * 2.0 for k, v in p.items()}  # away from the linear regime


# ----------------------------------------------------------------------------- step

def _step(x, h, c, p, order="ifgo", acts="ssts", b_ih=True, b_hh=True, rec=True,
          cell="full", out="full", peep="full"):
    """An LSTM step with knobs for the usual mistakes; defaults give the reference.

    order: the gate each block of H rows is taken as. acts: the squashing function
    of gates i, f, g, o: s sigmoid, t tanh, - the flipped sigmoid 1 - sigmoid.
    """
    a = x @ p["W_ih"].T + (h @ p["W_hh"].T if rec else 0)       # (B, 4H)
    a = a + (p["b_ih"] if b_ih else 0) + (p["b_hh"] if b_hh else 0)
    blocks = dict(zip(order, np.split(a, 4, axis=1)))
    f_act = {"s": sigmoid, "t": np.tanh, "-": lambda z: sigmoid(-z)}
    peeps = "w_ci" in p and peep != "none"
    i = f_act[acts[0]](blocks["i"] + (p["w_ci"] * c if peeps else 0))
    f = f_act[acts[1]](blocks["f"] + (p["w_cf"] * c if peeps else 0))
    g = f_act[acts[2]](blocks["g"])
    c_t = {"full": f * c + i * g, "no_i": f * c + g, "no_f": c + i * g,
           "no_prev": i * g}[cell]
    seen = c if peep == "o_prev" else c_t
    o = f_act[acts[3]](blocks["o"] + (p["w_co"] * seen if peeps else 0))
    h_t = {"full": o * np.tanh(c_t), "no_tanh": o * c_t, "c_prev": o * np.tanh(c)}[out]
    return h_t, c_t


def _step_variants(peepholes):
    """(message, knobs) for the mistakes a step is compared with."""
    out = []
    for perm in itertools.permutations(GATES):
        order = "".join(perm)
        if order != GATES:
            wrong = [f"your {g} from the {GATES[k]} rows"
                     for k, g in enumerate(order) if g != GATES[k]]
            out.append((f"the gates are read from the wrong rows ({', '.join(wrong)}):"
                        " W_ih, W_hh, b_ih and b_hh stack H rows per gate in the order"
                        " (i, f, g, o), as torch.nn.LSTM", {"order": order}))
    for k, gate in enumerate(GATES):
        acts = list("ssts")
        acts[k] = "s" if gate == "g" else "t"
        why = ("the cell input g must range over (-1, 1)" if gate == "g" else
               f"gate {gate} must be a fraction in (0, 1)")
        out.append((f"gate {gate} uses the wrong squashing function: {why}",
                    {"acts": "".join(acts)}))
    out += [("your sigmoid is flipped: it gives 1 - sigmoid(z)", {"acts": "--t-"}),
            ("b_hh is missing from the gate pre-activations", {"b_hh": False}),
            ("b_ih is missing from the gate pre-activations", {"b_ih": False}),
            ("both biases are missing", {"b_ih": False, "b_hh": False}),
            ("h_prev does not reach the gates (the W_hh term is missing)",
             {"rec": False}),
            ("c_t: the cell input g is not scaled by the input gate i",
             {"cell": "no_i"}),
            ("c_t: c_prev is not scaled by the forget gate f", {"cell": "no_f"}),
            ("c_t: the previous cell state c_prev is missing", {"cell": "no_prev"}),
            ("h_t: c_t must be squashed before the output gate scales it",
             {"out": "no_tanh"}),
            ("h_t is computed from c_prev instead of the new c_t", {"out": "c_prev"})]
    if peepholes:
        out += [("the output gate peeks at c_prev; it should see the new c_t",
                 {"peep": "o_prev"}),
                ("the peephole terms (w_ci, w_cf, w_co) are missing", {"peep": "none"})]
    return out


def _saturate(p, values):
    """Copy of p with gates pinned: values {gate: +1 or -1} -> bias +-30."""
    q = {k: v.copy() for k, v in p.items()}
    for gate, sign in values.items():
        rows = slice(GATES.index(gate) * H, (GATES.index(gate) + 1) * H)
        q["b_ih"][rows] = 30.0 * sign
    return q


# Probes: pin the other gates so that one output depends on one gate alone:
# gate -> (pins, output compared: 1 c_t, 0 h_t). E.g. i: f = 0, g = 1, so c_t = i.
_PROBES = {"i": ({"f": -1, "g": +1}, 1), "f": ({"i": -1}, 1),
           "g": ({"i": +1, "f": -1}, 1), "o": ({"i": +1, "f": -1, "g": +1}, 0)}


def _step_inputs(rng, peepholes, n=4):
    for _ in range(n):
        yield (rng.normal(size=(B, I)), rng.normal(size=(B, H)),
               rng.normal(size=(B, H)), _lstm_params(rng, peepholes))


def _run_step(fn, x, h, c, p):
    out = _call("your step", fn, x.copy(), h.copy(), c.copy(),
                {k: v.copy() for k, v in p.items()})
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise CheckError(f"your step must return the pair (h_t, c_t), got "
                         f"{type(out).__name__}")
    return _as_array("h_t", out[0], (B, H)), _as_array("c_t", out[1], (B, H))


def check_lstm_step(fn, peepholes=False, seed=0):
    """fn(x_t (B, I), h_prev (B, H), c_prev (B, H), params) -> (h_t, c_t) (B, H).

    Compared with `numpy_lstm.lstm_step` on random inputs (with peephole weights
    in params if `peepholes`). Prints one line if right, else raises CheckError.
    """
    rng = _rng(seed)
    cases = list(_step_inputs(rng, peepholes))
    for x, h, c, p in cases:
        h_t, c_t = _run_step(fn, x, h, c, p)
        ref_h, ref_c = numpy_lstm.lstm_step(x, h, c, p)
        if _close(h_t, ref_h) and _close(c_t, ref_c):
            continue
        if _close(h_t, ref_c) and _close(c_t, ref_h):
            raise CheckError("h_t and c_t are swapped: return (h_t, c_t)")
        for message, knobs in _step_variants(peepholes):
            mistake = _step(x, h, c, p, **knobs)
            if _close(h_t, mistake[0]) and _close(c_t, mistake[1]):
                raise CheckError(f"lstm step: {message}")
        wrong = [gate for gate, (pins, k) in _PROBES.items()
                 if not _close(_run_step(fn, x, h, c, _saturate(p, pins))[k],
                               numpy_lstm.lstm_step(x, h, c, _saturate(p, pins))[k])]
        which = "c_t is right but h_t is wrong" if _close(c_t, ref_c) else \
            f"c_t is wrong (largest error {np.abs(c_t - ref_c).max():.2g})"
        hint = (f"; with the other gates pinned, gate(s) {', '.join(wrong)} still "
                "disagree: look there first") if 0 < len(wrong) < 4 else \
            ("; every gate disagrees even when the others are pinned: look at what "
             "they share, the pre-activations W_ih x_t + b_ih + W_hh h_prev + b_hh"
             if wrong else "")
        raise CheckError(f"lstm step: {which}{hint}")
    print(f"lstm step OK: h_t and c_t match the reference on {len(cases)} random "
          "inputs")


# ----------------------------------------------------------------------------- RNN

def check_rnn_step(fn, seed=0):
    """fn(x_t (B, I), h_prev (B, H), params) -> h_t (B, H), the tanh RNN step."""
    rng = _rng(seed)
    for _ in range(4):
        x, h = rng.normal(size=(B, I)), rng.normal(size=(B, H))
        p = {k: 2.0 * v for k, v in numpy_lstm.init_rnn(I, H, rng=rng).items()}
        got = _as_array("h_t", _call("your RNN step", fn, x.copy(), h.copy(),
                                     {k: v.copy() for k, v in p.items()},
                                     hint="W_ih is (H, I), W_hh (H, H)"), (B, H))
        a_x, a_h = x @ p["W_ih"].T + p["b_ih"], h @ p["W_hh"].T + p["b_hh"]
        if _close(got, np.tanh(a_x + a_h)):
            continue
        variants = {"b_hh is missing": np.tanh(a_x + h @ p["W_hh"].T),
                    "b_ih is missing": np.tanh(a_x - p["b_ih"] + a_h),
                    "h_prev does not enter (the W_hh term is missing)":
                        np.tanh(a_x + p["b_hh"]),
                    "W_hh is used untransposed":
                        np.tanh(a_x + h @ p["W_hh"] + p["b_hh"]),
                    "the squashing function should range over (-1, 1)":
                        sigmoid(a_x + a_h),
                    "the pre-activation is not squashed": a_x + a_h}
        for message, value in variants.items():
            if _close(got, value):
                raise CheckError(f"RNN step: {message}")
        raise CheckError(f"RNN step: h_t is wrong (largest error "
                         f"{np.abs(got - np.tanh(a_x + a_h)).max():.2g})")
    print("RNN step OK: h_t matches the reference on 4 random inputs")


# ----------------------------------------------------------------------------- GRU

def check_gru_step(fn, seed=0):
    """fn(x_t (B, I), h_prev (B, H), params) -> h_t (B, H), torch.nn.GRU's step.

    Compared with `gru.gru_step` on random inputs; the diagnosis (gate order,
    reset before or after the hidden product, z or 1 - z...) is in `check_gru`.
    """
    from .check_gru import check_gru_step as check    # it imports this module
    check(fn, seed)


# ------------------------------------------------------------ RNN exercises: check_rnn

def check_rnn_backward(fn, seed=0):
    """fn(dH, cache) -> (grads, dX, dh0) or grads: the tanh RNN's BPTT (check_rnn)."""
    from .check_rnn import check_rnn_backward as check  # it imports this module
    check(fn, seed)


def check_clip(fn, seed=0):
    """fn(grads, max_norm) -> grads clipped by their global norm (check_rnn)."""
    from .check_rnn import check_clip as check  # it imports this module
    check(fn, seed)


def check_tbptt(fn, seed=0):
    """fn(X, dH, params, k) -> grads (or grads, h_T): k-step TBPTT (check_rnn)."""
    from .check_rnn import check_tbptt as check  # it imports this module
    check(fn, seed)


# ----------------------------------------------------------------------------- backward

def _compare_grad(name, got, ref):
    """None if right, else what is wrong with this one gradient."""
    if got.shape != ref.shape:
        hint = " (transposed?)" if got.shape == ref.shape[::-1] else ""
        return f"{name} has shape {got.shape}, expected {ref.shape}{hint}"
    if _close(got, ref):
        return None
    scale = float(np.vdot(got, ref) / max(np.vdot(ref, ref), 1e-300))
    if abs(scale - 1) > 1e-3 and _close(got, scale * ref):
        return f"{name} is {scale:.3g} times the right value"
    if name in ("dW_ih", "dW_hh", "db_ih", "db_hh"):
        blocks = [g for g, a, b in zip(GATES, np.split(got, 4), np.split(ref, 4))
                  if not _close(a, b)]
        if len(blocks) < 4:
            return f"{name}: the rows of gate(s) {', '.join(blocks)} are wrong"
    return f"{name} is wrong (largest error {np.abs(got - ref).max():.2g})"


def _run_backward(fn, dH, cache):
    out = _call("your backward", fn, dH.copy(), cache)
    if isinstance(out, dict):
        return out, {}
    if not isinstance(out, (tuple, list)) or len(out) != 4:
        raise CheckError("your backward must return (grads, dX, dh0, dc0) like "
                         f"numpy_lstm.lstm_backward, or the grads dict; got "
                         f"{type(out).__name__}")
    grads, dX, dh0, dc0 = out
    return grads, {"dX": dX, "dh0": dh0, "dc0": dc0}


def _backward_problems(fn, T, rng, peepholes):
    p = _lstm_params(rng, peepholes)
    X = rng.normal(size=(T, B, I))
    _, _, cache = numpy_lstm.lstm_forward(X, p, rng.normal(size=(B, H)),
                                          rng.normal(size=(B, H)))
    dH = rng.normal(size=(T, B, H))
    grads, others = _run_backward(fn, dH, cache)
    ref_grads, *ref_others = numpy_lstm.lstm_backward(dH, cache)
    if not isinstance(grads, dict) or set(grads) != set(ref_grads):
        got = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        raise CheckError(f"the gradients must be a dict with the keys of params, "
                         f"{sorted(ref_grads)}; got {got}")
    problems = [_compare_grad(f"d{k}", _numbers(f"d{k}", grads[k]), ref_grads[k])
                for k in ref_grads]
    problems += [_compare_grad(k, _numbers(k, v), ref)
                 for (k, v), ref in zip(others.items(), ref_others)]
    return [m for m in problems if m]


def check_lstm_backward(fn, peepholes=False, seed=0):
    """fn(dH (T, B, H), cache) -> (grads, dX, dh0, dc0), or just grads.

    `cache` comes from `numpy_lstm.lstm_forward`; the result is compared with
    `numpy_lstm.lstm_backward`, first on one time step, then on five.
    """
    rng = _rng(seed)
    one = _backward_problems(fn, 1, rng, peepholes)
    if one:
        raise CheckError("lstm backward, one time step: " + "; ".join(one))
    many = _backward_problems(fn, 5, rng, peepholes)
    if many:
        raise CheckError("lstm backward is right for one step but wrong through time "
                         "(the gradients carried back to h_{t-1} or c_{t-1}): "
                         + "; ".join(many))
    print("lstm backward OK: every gradient matches the reference on 1 and 5 steps")


# ----------------------------------------------------------------------------- data

def check_windows(fn, time_major=False, seed=0):
    """fn(series (n,), look_back) -> (X, y): each window and the value after it.

    X is (N, look_back) as in the seed tutorial, or (look_back, N, 1) if
    `time_major` (as `data.sine_windows`); y is (N, 1), N = n - look_back.
    Checked on the book's sine curve (`data.sine_windows`) and random series.
    """
    V.boolean("time_major", time_major)
    rng = _rng(seed)
    sine = data.sine_windows(n_points=30, look_back=4)
    cases = [(sine.y, 4, np.concatenate([sine.X_train, sine.X_test], axis=1)[..., 0].T,
              np.concatenate([sine.y_train, sine.y_test]))]
    for n, k in ((12, 3), (9, 1)):
        ts = rng.normal(size=n)
        cases.append((ts, k, np.lib.stride_tricks.sliding_window_view(ts, k)[:-1],
                      ts[k:, None]))
    for ts, k, ref_X, ref_y in cases:
        out = _call("your window maker", fn, ts.copy(), k)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise CheckError("your window maker must return the pair (X, y), got "
                             f"{type(out).__name__}")
        X, y = out
        X, y = _numbers("windows: X", X), _numbers("windows: y", y)
        want = (k, len(ref_y), 1) if time_major else (len(ref_y), k)
        n_got = len(y) if y.ndim else 0
        if n_got != len(ref_y):
            more = "too many: the last window has no next value" if n_got > len(ref_y) \
                else "missing: the last window is left out"
            raise CheckError(f"windows: {n_got} targets for a series of {len(ts)} and "
                             f"look_back {k}, expected {len(ref_y)} "
                             f"({abs(n_got - len(ref_y))} {more})")
        if y.shape != ref_y.shape:
            raise CheckError(f"windows: y has shape {y.shape}, expected {ref_y.shape}: "
                             "one column, the next value")
        if X.shape != want:
            raise CheckError(f"windows: X has shape {X.shape}, expected {want}")
        if time_major:
            X = X[..., 0].T  # compare in one layout, (N, look_back)
        if not _close(X, ref_X):
            raise CheckError("windows: each window is reversed in time"
                             if _close(X, ref_X[:, ::-1]) else "windows: window j must "
                             "be the look_back values starting at position j")
        if not _close(y, ref_y):
            raise CheckError("windows: y is the last value of each window; it must be "
                             "the value just after it" if _close(y, ts[k - 1:-1, None])
                             else "windows: the windows are right but the targets "
                             "y are not")
    print(f"windows OK: X and y match the reference on {len(cases)} series")


def check_steps_ok(fn, seed=0):
    """fn(Z (T, N, 7), Y (T, N, 7), mask (T, N)) -> (T, N) bool: the success
    criterion of the 1997 paper's Experiment 1 (every legal next symbol's output
    above every illegal one's; padding passes). The diagnosis is in check_reber."""
    from .check_reber import check_steps_ok as check   # it imports this module
    return check(fn, seed=seed)
