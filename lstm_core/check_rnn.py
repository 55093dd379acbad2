"""The RNN part of `lstm_core.check`: check_rnn_backward, check_clip, check_tbptt.

Call them from `lstm_core.check`. Each runs the reader's function on random
float64 inputs and compares it with the reference (`numpy_lstm.rnn_backward`,
`torch.nn.utils.clip_grad_norm_`'s rule, the chunked gradient of `lstm_core.tbptt`);
a wrong answer is compared with the usual mistakes (the tanh derivative missing or
written as another function's, W_hh transposed, h_t paired with the error where
h_{t-1} belongs, the error not carried back in time, a mean for a sum, per-array
or per-element clipping, the state reset at a chunk edge...), and the message
says which gradient is wrong and how, without showing the code of the answer.

Conventions are `numpy_lstm`'s tanh RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1}
+ b_hh), W_ih (H, I), W_hh (H, H), b_ih, b_hh (H,), time-major X (T, B, I).
"""
import numpy as np

from . import numpy_lstm
from .check import B, H, I, CheckError, _as_array, _call, _close, _numbers, _rng

KEYS = ("W_ih", "W_hh", "b_ih", "b_hh")
SHAPES = "W_ih is (H, I), W_hh (H, H); dH and the cache's H are (T, B, H)"


def _rnn_params(rng):
    return {k: 1.5 * v for k, v in numpy_lstm.init_rnn(I, H, rng=rng).items()}


def _backward(dH, cache, mistake=None):
    """The tanh RNN's BPTT with a knob for each usual mistake (None: the reference)."""
    X, p, Hs, h0 = cache["X"], cache["params"], cache["H"], cache["h0"]
    T = len(Hs)
    H_prev = np.concatenate([h0[None], Hs[:-1]])
    deriv = {"no_tanh'": np.ones_like(Hs), "1-h": 1 - Hs, "sigmoid'": Hs * (1 - Hs)
             }.get(mistake, 1 - Hs ** 2)
    W_back = p["W_hh"].T if mistake == "W_hh.T back" else p["W_hh"]
    dA, dh = np.empty_like(Hs), np.zeros_like(h0)
    steps = range(T) if mistake == "forward order" else reversed(range(T))
    for t in steps:
        direct = dH[t] if mistake != "last dH only" or t == T - 1 else 0 * dH[t]
        dA[t] = (dh + direct) * deriv[t]
        dh = 0 * dh if mistake == "not carried" else dA[t] @ W_back
    pair = Hs if mistake == "h_t for h_{t-1}" else H_prev
    grads = {"W_ih": np.einsum("tbh,tbi->hi", dA, X),
             "W_hh": np.einsum("tbh,tbk->hk", dA, pair),
             "b_ih": dA.sum((0, 1)), "b_hh": dA.sum((0, 1))}
    if mistake == "dW_hh.T":
        grads["W_hh"] = grads["W_hh"].T
    if mistake == "last step only":
        grads = {"W_ih": np.einsum("bh,bi->hi", dA[-1], X[-1]),
                 "W_hh": np.einsum("bh,bk->hk", dA[-1], pair[-1]),
                 "b_ih": dA[-1].sum(0), "b_hh": dA[-1].sum(0)}
    return grads, dA @ p["W_ih"], dh


_MISTAKES = {
    "no_tanh'": "the error reaches the pre-activation without the tanh derivative",
    "1-h": "the tanh derivative is written with h_t where it needs h_t squared",
    "sigmoid'": "the derivative used is the sigmoid's, h (1 - h); h_t is a tanh",
    "W_hh.T back": "the error sent back to h_{t-1} goes through W_hh transposed the "
                   "wrong way (with a square W_hh the shapes cannot tell)",
    "h_t for h_{t-1}": "dW_hh pairs the error at step t with h_t; the product W_hh "
                       "h_{t-1} says which hidden state belongs there",
    "dW_hh.T": "dW_hh is transposed: the gradient has W_hh's layout (H_out, H_in)",
    "not carried": "the error is not carried back in time: each step only sees its "
                   "own dH[t], nothing from step t + 1 through W_hh",
    "last dH only": "only the last step's dH enters: dH[t] of every step adds to the "
                    "error arriving from step t + 1",
    "forward order": "the loop runs forward in time; the error flows from the last "
                     "step to the first",
    "last step only": "the weight gradients hold the last step only: they are sums "
                      "over all time steps (and the batch)",
}


def _diagnose(name, got, ref, variants):
    """(name, what is wrong) for one gradient, or None: a known mistake, a scale."""
    if got.shape != ref.shape:
        hint = " (transposed?)" if got.shape == ref.shape[::-1] else ""
        return name, f"shape {got.shape}, expected {ref.shape}{hint}"
    if _close(got, ref):
        return None
    for mistake, value in variants.items():
        if value.shape == got.shape and _close(got, value):
            return name, _MISTAKES[mistake]
    scale = float(np.vdot(got, ref) / max(np.vdot(ref, ref), 1e-300))
    if abs(scale - 1) > 1e-3 and _close(got, scale * ref):
        return name, (f"{scale:.3g} times the right value (a mean where a sum over "
                      "steps and batch belongs, or a factor too many?)")
    return name, f"wrong (largest error {np.abs(got - ref).max():.2g})"


def _join(problems):
    """'dW_ih, dW_hh: what is wrong; dX: ...': one clause per diagnosis."""
    by_text = {}
    for name, text in filter(None, problems):
        by_text.setdefault(text, []).append(name)
    return "; ".join(f"{', '.join(names)}: {text}" for text, names in by_text.items())


def _returned(out, what, n):
    if isinstance(out, dict):
        return out, ()
    if not isinstance(out, (tuple, list)) or len(out) != n or not isinstance(
            out[0], dict):
        raise CheckError(f"your {what} must return the grads dict, or {n} values "
                         f"like the reference; got {type(out).__name__}")
    return out[0], tuple(out[1:])


def _grads(out_grads, ref_grads, variants):
    if set(out_grads) != set(ref_grads):
        raise CheckError(f"the gradients must be a dict with the keys of params, "
                         f"{sorted(ref_grads)}; got {sorted(out_grads, key=str)}")
    return [_diagnose(f"d{k}", _numbers(f"d{k}", out_grads[k]), ref_grads[k],
                      {m: v[k] for m, v in variants.items()}) for k in ref_grads]


def _rnn_backward_problems(fn, T, rng):
    p = _rnn_params(rng)
    X, h0 = rng.normal(size=(T, B, I)), rng.normal(size=(B, H))
    cache = numpy_lstm.rnn_forward(X, p, h0)[2]
    dH = rng.normal(size=(T, B, H))
    copy = {**cache, "params": {k: v.copy() for k, v in p.items()}}
    grads, others = _returned(_call("your RNN backward", fn, dH.copy(), copy,
                                    hint=SHAPES), "RNN backward", 3)
    ref = _backward(dH, cache)
    variants = {m: _backward(dH, cache, m) for m in _MISTAKES}
    problems = _grads(grads, ref[0], {m: v[0] for m, v in variants.items()})
    for k, (name, value) in enumerate(zip(("dX", "dh0"), others)):
        problems.append(_diagnose(name, _numbers(name, value), ref[k + 1],
                                  {m: v[k + 1] for m, v in variants.items()}))
    return _join(problems)


def check_rnn_backward(fn, seed=0):
    """fn(dH (T, B, H), cache) -> (grads, dX, dh0), or just grads.

    cache is the third value of `numpy_lstm.rnn_forward` (keys X, params, h0, H);
    compared with `numpy_lstm.rnn_backward`, first on one time step, then on five.
    """
    rng = _rng(seed)
    one = _rnn_backward_problems(fn, 1, rng)
    if one:
        raise CheckError("RNN backward, one time step: " + one)
    many = _rnn_backward_problems(fn, 5, rng)
    if many:
        raise CheckError("RNN backward is right for one step but wrong through time: "
                         + many)
    print("RNN backward OK: every gradient matches the reference on 1 and 5 steps")


# ----------------------------------------------------------------- clipping

def _clip(grads, max_norm, how="global"):
    """Clipping by the global norm (torch.nn.utils.clip_grad_norm_) and mistakes."""
    if how == "value":
        return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}
    if how == "per array":
        return {k: g * min(1.0, max_norm / np.linalg.norm(g)) for k, g in grads.items()}
    sq = sum(float((g * g).sum()) for g in grads.values())
    norm = {"global": np.sqrt(sq), "squared": sq,
            "l1": sum(float(np.abs(g).sum()) for g in grads.values())}[how]
    scale = max_norm / norm if how != "inverted" else norm / max_norm
    return {k: g * min(1.0, scale) for k, g in grads.items()}


_CLIP_MISTAKES = {
    "value": "each element is clipped to [-max_norm, max_norm] (clipping by value); "
             "clipping by norm rescales all gradients together, keeping the direction",
    "per array": "each gradient array is rescaled by its own norm; the norm is one "
                 "number over all the arrays together (the global norm)",
    "squared": "the norm is the sum of squares without its square root",
    "l1": "the norm is the sum of absolute values; it is the Euclidean (L2) norm",
}


def check_clip(fn, seed=0):
    """fn(grads (dict of arrays), max_norm) -> the grads clipped to that global norm.

    The rule of torch.nn.utils.clip_grad_norm_: if the norm sqrt(sum of all squared
    entries) exceeds max_norm, every gradient is scaled by max_norm / norm; otherwise
    they are left as they are. A new dict, or the same one changed in place.
    """
    rng = _rng(seed)
    cases = [(5.0, 1.0), (0.4, 1.0), (120.0, 5.0), (2.0, 2.5)]   # (norm, max_norm)
    for size, max_norm in cases:
        grads = {k: rng.normal(size=s) for k, s in
                 (("W_ih", (H, I)), ("W_hh", (H, H)), ("b_ih", (H,)), ("b_hh", (H,)))}
        norm = np.sqrt(sum((g * g).sum() for g in grads.values()))
        grads = {k: g * (size / norm) for k, g in grads.items()}  # that global norm
        given = {k: v.copy() for k, v in grads.items()}
        out = _call("your clipping", fn, given, max_norm, hint="grads is a dict of "
                    "arrays, max_norm a float")
        out = given if out is None else out
        if not isinstance(out, dict) or set(out) != set(grads):
            raise CheckError("your clipping must return the dict of gradients with the "
                             f"same keys {sorted(grads)}, got {type(out).__name__}")
        got = {k: _as_array(f"clipped {k}", out[k], grads[k].shape) for k in grads}
        ref = _clip(grads, max_norm)
        if all(_close(got[k], ref[k]) for k in grads):
            continue
        norm = size
        if norm <= max_norm:
            raise CheckError(f"clipping: the gradients' norm {norm:.3g} is below "
                             f"max_norm {max_norm}, so they must come back unchanged")
        for how, message in _CLIP_MISTAKES.items():
            if all(_close(got[k], v) for k, v in _clip(grads, max_norm, how).items()):
                raise CheckError(f"clipping: {message}")
        flat_got = np.concatenate([got[k].ravel() for k in grads])
        flat = np.concatenate([grads[k].ravel() for k in grads])
        cos = flat_got @ flat / max(np.linalg.norm(flat_got) * norm, 1e-300)
        if cos < 1 - 1e-9:
            raise CheckError("clipping changed the direction of the gradient: it may "
                             "only rescale all the arrays by one common factor")
        raise CheckError(f"clipping: the direction is kept but the clipped norm is "
                         f"{np.linalg.norm(flat_got):.3g}; it must be max_norm = "
                         f"{max_norm} when the norm ({norm:.3g}) is larger")
    print(f"clipping OK: matches clip_grad_norm_'s rule on {len(cases)} gradient "
          "sets, above and below max_norm")


# ----------------------------------------------------------------- truncated BPTT

def _chunked(X, dH, p, k, mistake=None):
    """k-step truncated BPTT of the tanh RNN (tbptt's rule) with mistake knobs."""
    T = len(X)
    size = {"k+1": k + 1, "k-1": max(k - 1, 1), "full": T}.get(mistake, k)
    h = np.zeros((X.shape[1], p["W_hh"].shape[0]))
    total = {n: np.zeros_like(p[n]) for n in KEYS}
    starts = list(range(0, T, size))
    for s in starts:
        h_in = np.zeros_like(h) if mistake == "reset" else h
        Hs, h, cache = numpy_lstm.rnn_forward(X[s:s + size], p, h_in)
        g = numpy_lstm.rnn_backward(dH[s:s + size], cache)[0]
        if mistake == "last chunk" and s != starts[-1]:
            continue
        total = {n: total[n] + g[n] for n in KEYS}
    return total, h


_TBPTT_MISTAKES = {
    "full": "this is the full BPTT gradient: the error must stop at the chunk edges "
            "(t = k, 2k, ...), each chunk backpropagated on its own",
    "reset": "the state starts from zeros in every chunk: only the gradient is cut "
             "at a chunk edge, the hidden state carries on from the chunk before",
    "last chunk": "only the last chunk's gradient is there: the chunks' gradients "
                  "add up",
    "k+1": "the chunks are one step too long: chunk j covers steps jk .. jk + k - 1",
    "k-1": "the chunks are one step too short: chunk j covers steps jk .. jk + k - 1",
}


def check_tbptt(fn, seed=0):
    """fn(X (T, B, I), dH (T, B, H), params, k) -> grads, or (grads, h_T).

    The tanh RNN run from h_0 = 0 over X in chunks of k steps (the last may be
    shorter), the state carried from chunk to chunk, each chunk backpropagated
    alone with its part of dH = dLoss/dH; grads are summed over the chunks, with
    the keys of params. Checked on T = 10 with k = 3, 4 and 10.
    """
    rng = _rng(seed)
    T = 10
    for k in (3, 4, T):
        p = _rnn_params(rng)
        X, dH = rng.normal(size=(T, B, I)), rng.normal(size=(T, B, H))
        out = _call("your truncated BPTT", fn, X.copy(), dH.copy(),
                    {n: v.copy() for n, v in p.items()}, k, hint=SHAPES)
        grads, rest = _returned(out, "truncated BPTT", 2)
        ref, h_T = _chunked(X, dH, p, k)
        variants = {m: _chunked(X, dH, p, k, m)[0] for m in _TBPTT_MISTAKES}
        problems = [_join(_grads(grads, ref, {}))]
        if rest:
            got_h = _as_array("h_T", rest[0], h_T.shape)
            if not _close(got_h, h_T):
                problems.append("h_T is not the final state of the whole stream: the "
                                "state carried across the chunks must end where a "
                                "full forward pass ends")
        problems = [m for m in problems if m]
        if not problems:
            continue
        for mistake, message in _TBPTT_MISTAKES.items():
            if mistake != "full" or k < T:
                if all(_close(_numbers(f"d{n}", grads[n]), variants[mistake][n])
                       for n in KEYS):
                    raise CheckError(f"truncated BPTT with k = {k}: {message}")
        raise CheckError(f"truncated BPTT with k = {k}, T = {T}: "
                         + "; ".join(problems))
    print("truncated BPTT OK: the chunked gradient matches the reference for k = 3, 4 "
          "and 10 on T = 10 steps")
