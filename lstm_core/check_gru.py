"""The GRU part of `lstm_core.check`: `check_gru_step` (call it from there).

The reader's GRU step is compared with `lstm_core.gru.gru_step` (torch.nn.GRU's
convention: gate order (r, z, n), the reset applied after the hidden product,
h_t = (1 - z) * n + z * h_prev; Cho et al. 2014, eqs. 5-8, with the reset moved),
on random float64 inputs. A wrong answer is compared with the usual mistakes
(rows read in another order, the reset applied before the product as in Cho et
al.'s paper, z and 1 - z swapped, a missing bias...) and then probed with gates
pinned by a bias of +-30, so that the message says where to look without showing
the code of the answer.

Conventions: W_ih (3H, I), W_hh (3H, H), b_ih, b_hh (3H,), x_t (B, I), h_prev (B, H).
"""
import itertools

import numpy as np

from . import gru
from .check import B, H, I, CheckError, _as_array, _call, _close
from .numpy_lstm import sigmoid

GATES = gru.GATES                                              # "rzn"
SHAPES = "W_ih is (3H, I), W_hh (3H, H)"


def _params(rng):
    return {k: 2.0 * v for k, v in gru.init_gru(I, H, rng=rng).items()}


def _step(x, h, p, order=GATES, acts="sst", reset="after", b_ih=True, b_hh=True,
          rec=True, mix="keep"):
    """A GRU step with knobs for the usual mistakes; the defaults give the reference.

    order: the gate each block of H rows is taken as; acts: the squashing of r, z, n
    (s sigmoid, t tanh); reset: "after" the hidden product (nn.GRU), "before" it
    (Cho et al.), "bias_out" (b_hn left outside the reset) or "none"; mix: "keep"
    (z keeps h_prev), "swap" (1 - z keeps it), "no_h" (no h_prev term), "n" (h_t = n).
    """
    W_ih = dict(zip(order, np.split(p["W_ih"], 3)))
    W_hh = dict(zip(order, np.split(p["W_hh"], 3)))
    b_i = dict(zip(order, np.split(p["b_ih"] if b_ih else 0 * p["b_ih"], 3)))
    b_h = dict(zip(order, np.split(p["b_hh"] if b_hh else 0 * p["b_hh"], 3)))
    h_in = h if rec else 0 * h
    act = {"s": sigmoid, "t": np.tanh}
    r, z = (act[acts[k]](x @ W_ih[g].T + b_i[g] + h_in @ W_hh[g].T + b_h[g])
            for k, g in enumerate("rz"))
    hidden = h_in @ W_hh["n"].T                                # (B, H)
    rec_n = {"after": r * (hidden + b_h["n"]), "bias_out": r * hidden + b_h["n"],
             "before": (r * h_in) @ W_hh["n"].T + b_h["n"],
             "none": hidden + b_h["n"]}[reset]
    n = act[acts[2]](x @ W_ih["n"].T + b_i["n"] + rec_n)
    return {"keep": (1 - z) * n + z * h, "swap": z * n + (1 - z) * h,
            "no_h": (1 - z) * n, "n": n}[mix]


def _mistakes():
    """(message, knobs) for the mistakes a step is compared with."""
    out = []
    for perm in itertools.permutations(GATES):
        order = "".join(perm)
        if order != GATES:
            wrong = [f"your {g} from the {GATES[k]} rows"
                     for k, g in enumerate(order) if g != GATES[k]]
            out.append((f"the gates are read from the wrong rows ({', '.join(wrong)}):"
                        " W_ih, W_hh, b_ih and b_hh stack H rows per gate in the order"
                        " (r, z, n), as torch.nn.GRU", {"order": order}))
    out += [("the reset gate is applied before the hidden product, to h_prev (as in "
             "Cho et al.'s paper); torch.nn.GRU, the convention here, applies it to "
             "the result of the product", {"reset": "before"}),
            ("the hidden bias b_hn of the candidate is outside the reset: in "
             "torch.nn.GRU the reset gate scales the whole hidden term of n",
             {"reset": "bias_out"}),
            ("the reset gate r does not enter the candidate n", {"reset": "none"}),
            ("z and 1 - z are swapped: the update gate z is the share of h_prev "
             "that is kept", {"mix": "swap"}),
            ("h_t: the term carrying h_prev over (through the update gate) is missing",
             {"mix": "no_h"}),
            ("h_t is the candidate n alone: the update gate z must mix it with h_prev",
             {"mix": "n"}),
            ("the candidate n must range over (-1, 1): it uses the wrong squashing "
             "function", {"acts": "sss"}),
            ("gate r must be a fraction in (0, 1): it uses the wrong squashing "
             "function", {"acts": "tst"}),
            ("gate z must be a fraction in (0, 1): it uses the wrong squashing "
             "function", {"acts": "stt"}),
            ("b_hh is missing from the pre-activations", {"b_hh": False}),
            ("b_ih is missing from the pre-activations", {"b_ih": False}),
            ("both biases are missing", {"b_ih": False, "b_hh": False}),
            ("h_prev does not reach the gates (the W_hh term is missing)",
             {"rec": False})]
    return out


def _pin(p, values):
    """Copy of p with gates pinned: {gate: +1 or -1} -> their b_ih rows +-30."""
    q = {k: v.copy() for k, v in p.items()}
    for gate, sign in values.items():
        k = GATES.index(gate)
        q["b_ih"][k * H:(k + 1) * H] = 30.0 * sign
    return q


# What each probe pins and what it then tests: z = 1 must keep h_prev; z = 0 and
# r = 1 leave the candidate n with the whole hidden term; z = 0 alone adds r.
_PROBES = (("the update gate z (pinned to 1, h_t must be h_prev)", {"z": +1}),
           ("the candidate n (z pinned to 0, r to 1)", {"z": -1, "r": +1}),
           ("the reset gate r (z pinned to 0)", {"z": -1}))


def _run(fn, x, h, p):
    out = _call("your GRU step", fn, x.copy(), h.copy(),
                {k: v.copy() for k, v in p.items()}, hint=SHAPES)
    if isinstance(out, (tuple, list)):
        raise CheckError("your GRU step must return h_t alone, an array (B, H): a GRU "
                         f"has no cell state; got a {type(out).__name__} of {len(out)}")
    return _as_array("h_t", out, (B, H))


def check_gru_step(fn, seed=0):
    """fn(x_t (B, I), h_prev (B, H), params) -> h_t (B, H); see the module doc."""
    rng = np.random.default_rng(seed)
    n_cases = 4
    for _ in range(n_cases):
        x, h, p = rng.normal(size=(B, I)), rng.normal(size=(B, H)), _params(rng)
        got = _run(fn, x, h, p)
        ref = gru.gru_step(x, h, p)
        if _close(got, ref):
            continue
        for message, knobs in _mistakes():
            if _close(got, _step(x, h, p, **knobs)):
                raise CheckError(f"GRU step: {message}")
        wrong = [what for what, pins in _PROBES
                 if not _close(_run(fn, x, h, _pin(p, pins)),
                               gru.gru_step(x, h, _pin(p, pins)))]
        hint = (f"; with gates pinned, {wrong[0]} still disagrees: look there first"
                if wrong else "")
        raise CheckError(f"GRU step: h_t is wrong (largest error "
                         f"{np.abs(got - ref).max():.2g}){hint}")
    print(f"GRU step OK: h_t matches the reference on {n_cases} random inputs")
