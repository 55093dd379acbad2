"""Variants of the LSTM after Greff et al. 2017, "LSTM: A Search Space Odyssey".

Greff et al. start from the *vanilla* LSTM (forget gate, peepholes, full
backpropagation through time; their Section II, after Gers & Schmidhuber 2000) and
change one thing at a time. Here each variant is one row of the table `VARIANTS`,
and one forward and one hand-written backward pass run them all. With
a = W_ih x_t + b_ih + W_hh h_prev + b_hh (the rows of absent gates left out):

    i   = sigmoid(a_i + w_ci * c_prev)    input gate     NIG:  i = 1
    f   = sigmoid(a_f + w_cf * c_prev)    forget gate    NFG:  f = 1;  CIFG: f = 1 - i
    g   = tanh(a_g)                       cell input     NIAF: g = a_g
    c_t = f * c_prev + i * g
    o   = sigmoid(a_o + w_co * c_t)       output gate    NOG:  o = 1
    h_t = o * tanh(c_t)                                  NOAF: h_t = o * c_t
                                                         NP:   no w_ci, w_cf, w_co

Parameters keep `torch.nn.LSTM`'s layout: W_ih (nG*H, I), W_hh (nG*H, H), b_ih,
b_hh (nG*H,) stack H rows per gate in the order (i, f, g, o), the rows of absent
gates left out; peepholes are (H,) vectors. Per variant:

    variant  Greff et al.  gate rows (nG*H)  peepholes        g         h
    vanilla  vanilla       i f g o  (4H)     w_ci w_cf w_co   tanh      tanh
    nig      NIG           f g o    (3H)     w_cf w_co        tanh      tanh
    nfg      NFG           i g o    (3H)     w_ci w_co        tanh      tanh
    nog      NOG           i f g    (3H)     w_ci w_cf        tanh      tanh
    niaf     NIAF          i f g o  (4H)     w_ci w_cf w_co   identity  tanh
    noaf     NOAF          i f g o  (4H)     w_ci w_cf w_co   tanh      identity
    cifg     CIFG          i g o    (3H)     w_ci w_co        tanh      tanh, f = 1 - i
    np       NP            i f g o  (4H)     none             tanh      tanh

Three rows are layouts of `numpy_lstm`, and give identical numbers: vanilla is
`init_lstm(..., peepholes=True)`; nfg is `peepholes=True, forget_gate=False` (the
1997 LSTM with peepholes); np, no peepholes, is the book's default LSTM and the
cell of `torch.nn.LSTM`: the book's LSTM is Greff et al.'s NP variant, and their
vanilla LSTM is the reference the others are compared with. Their eighth variant,
full gate recurrence (FGR: each gate also sees every gate's previous activation,
nine more H x H matrices), is not implemented.

Shapes alone do not tell the variants apart (nfg and cifg have the same ones, so
do vanilla, niaf and noaf), so every function takes `variant=` by name. Arguments
are checked by `lstm_core.validate`. Conventions: X (T, B, I), h0, c0 (B, H).
"""
from dataclasses import dataclass

import numpy as np

from . import validate as V
from .numpy_lstm import _cache, sigmoid


@dataclass(frozen=True)
class Layout:
    name: str                  # Greff et al.'s name of the variant
    gates: str                 # the gates with rows in W_ih, W_hh, b_ih, b_hh, in order
    peepholes: tuple           # the peephole vectors (H,) in params
    input_act: str = "tanh"    # g = input_act(a_g): "tanh" or "identity"
    output_act: str = "tanh"   # h_t = o * output_act(c_t)
    coupled: bool = False      # f = 1 - i (CIFG)


ALL_PEEPHOLES = ("w_ci", "w_cf", "w_co")
VARIANTS = {
    "vanilla": Layout("vanilla", "ifgo", ALL_PEEPHOLES),
    "nig": Layout("NIG: no input gate", "fgo", ("w_cf", "w_co")),
    "nfg": Layout("NFG: no forget gate", "igo", ("w_ci", "w_co")),
    "nog": Layout("NOG: no output gate", "ifg", ("w_ci", "w_cf")),
    "niaf": Layout("NIAF: no input activation", "ifgo", ALL_PEEPHOLES,
                   input_act="identity"),
    "noaf": Layout("NOAF: no output activation", "ifgo", ALL_PEEPHOLES,
                   output_act="identity"),
    "cifg": Layout("CIFG: coupled input and forget gate", "igo", ("w_ci", "w_co"),
                   coupled=True),
    "np": Layout("NP: no peepholes", "ifgo", ()),
}


def layout(variant):
    """The row of `VARIANTS` for a variant's name (checked)."""
    return VARIANTS[V.one_of("variant", variant, VARIANTS)]


def gate_rows(variant, hidden_size):
    """{gate: slice of its rows in W_ih, W_hh, b_ih, b_hh} for the gates present."""
    H = V.positive_int("hidden_size", hidden_size)
    return {g: slice(k * H, (k + 1) * H) for k, g in enumerate(layout(variant).gates)}


def check_params(params, variant):
    """Check a parameter dict against the variant's layout; return hidden_size."""
    lay = layout(variant)
    return V.gated_layout(params, lay.gates, lay.peepholes, f"variant {variant!r}")


def init_lstm(input_size, hidden_size, *, variant, rng, dtype=np.float64):
    """Parameters drawn from U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.LSTM does.

    Drawn in numpy_lstm.init_lstm's order, so that vanilla, nfg and np get the
    very numbers of their numpy_lstm twins from the same generator state.
    """
    lay = layout(variant)
    input_size = V.positive_int("input_size", input_size)
    hidden_size = V.positive_int("hidden_size", hidden_size)
    V.generator("rng", rng)
    dtype = V.float_dtype("dtype", dtype)
    G = len(lay.gates) * hidden_size
    k = 1.0 / np.sqrt(hidden_size)
    shapes = {"W_ih": (G, input_size), "W_hh": (G, hidden_size), "b_ih": (G,),
              "b_hh": (G,)} | {n: (hidden_size,) for n in lay.peepholes}
    return {n: rng.uniform(-k, k, s).astype(dtype) for n, s in shapes.items()}


def lstm_forward(X, params, h0=None, c0=None, *, variant):
    """X (T, B, I) -> (H (T, B, H), (h_T, c_T) each (B, H), cache for the backward)."""
    hidden = check_params(params, variant)
    T, B = V.sequence("X", X, params)
    h0 = V.state("h0", h0, B, hidden, X.dtype)
    c0 = V.state("c0", c0, B, hidden, X.dtype)
    return _forward(X, params, h0, c0, variant)


def lstm_step(x_t, h_prev, c_prev, params, *, variant):
    """One time step: x_t (B, I), h_prev and c_prev (B, H) -> (h_t, c_t)."""
    hidden = check_params(params, variant)
    W_ih = params["W_ih"]
    V.array("x_t", x_t, shape=(None, W_ih.shape[1]), dtype=W_ih.dtype, dims="(B, I)")
    h_prev = V.state("h_prev", h_prev, x_t.shape[0], hidden, x_t.dtype)
    c_prev = V.state("c_prev", c_prev, x_t.shape[0], hidden, x_t.dtype)
    return _forward(x_t[None], params, h_prev, c_prev, variant)[1]


def _forward(X, p, h0, c0, variant):
    lay = VARIANTS[variant]
    T, B, _ = X.shape
    hidden = p["W_hh"].shape[1]
    rows = gate_rows(variant, hidden)
    w_ci, w_cf, w_co = (p.get(n) for n in ALL_PEEPHOLES)     # None where absent
    dtype, h, c = X.dtype, h0, c0
    A = X @ p["W_ih"].T + (p["b_ih"] + p["b_hh"])              # (T, B, nG*H)
    W_hhT = np.ascontiguousarray(p["W_hh"].T)                  # (H, nG*H)
    Hs, C, S = (np.empty((T, B, hidden), dtype) for _ in range(3))
    I, F, G, O = (np.ones((T, B, hidden), dtype) for _ in range(4))  # absent: 1
    for t in range(T):
        a = A[t] + h @ W_hhT                                   # (B, nG*H)
        if "i" in rows:
            a_i = a[:, rows["i"]]
            I[t] = sigmoid(a_i + w_ci * c if w_ci is not None else a_i)
        if "f" in rows:
            a_f = a[:, rows["f"]]
            F[t] = sigmoid(a_f + w_cf * c if w_cf is not None else a_f)
        elif lay.coupled:
            F[t] = 1 - I[t]
        a_g = a[:, rows["g"]]
        G[t] = np.tanh(a_g) if lay.input_act == "tanh" else a_g
        c = F[t] * c + I[t] * G[t]                             # (B, H)
        if "o" in rows:
            a_o = a[:, rows["o"]]
            O[t] = sigmoid(a_o + w_co * c if w_co is not None else a_o)
        S[t] = np.tanh(c) if lay.output_act == "tanh" else c   # squashed cell
        h = O[t] * S[t]
        C[t], Hs[t] = c, h
    cache = {"X": X, "params": p, "h0": h0, "c0": c0, "H": Hs, "C": C, "S": S,
             "i": I, "f": F, "g": G, "o": O, "variant": variant}
    return Hs, (h, c), cache


def lstm_backward(dH, cache, dh_T=None, dc_T=None):
    """Backpropagation through time for any variant (read from the cache).

    dH (T, B, H) is dLoss/dH; dh_T and dc_T (B, H) are gradients arriving at the
    final state. Returns (grads with the keys of params, dX, dh0, dc0).
    """
    _cache(cache, "variants.lstm_forward", ("X", "params", "H", "C", "S", "variant"))
    X, p, Hs, C, S = (cache[k] for k in ("X", "params", "H", "C", "S"))
    I, F, G, O = (cache[k] for k in "ifgo")
    lay = VARIANTS[cache["variant"]]
    T, B, hidden = Hs.shape
    rows = gate_rows(cache["variant"], hidden)
    w_ci, w_cf, w_co = (p.get(n) for n in ALL_PEEPHOLES)
    V.array("dH", dH, shape=Hs.shape, dtype=Hs.dtype, dims="(T, B, H)")
    dh = V.state("dh_T", dh_T, B, hidden, Hs.dtype)
    dc = V.state("dc_T", dc_T, B, hidden, Hs.dtype)
    C_prev = np.concatenate([cache["c0"][None], C[:-1]])      # (T, B, H)
    H_prev = np.concatenate([cache["h0"][None], Hs[:-1]])     # (T, B, H)
    dA = np.empty((T, B, len(rows) * hidden), Hs.dtype)       # d loss / d a
    dA_ = {g: dA[..., r] for g, r in rows.items()}             # (T, B, H) views
    for t in reversed(range(T)):
        dh = dh + dH[t]
        s = S[t]
        if "o" in rows:
            dA_["o"][t] = dh * s * O[t] * (1 - O[t])
        dc = dc + (dh * O[t] * (1 - s ** 2) if lay.output_act == "tanh"
                   else dh * O[t])                             # the carousel
        if w_co is not None:
            dc += dA_["o"][t] * w_co
        if "i" in rows:
            di = dc * G[t]
            if lay.coupled:                                    # f = 1 - i
                di = di - dc * C_prev[t]
            dA_["i"][t] = di * I[t] * (1 - I[t])
        dA_["g"][t] = (dc * I[t] * (1 - G[t] ** 2) if lay.input_act == "tanh"
                       else dc * I[t])
        if "f" in rows:
            dA_["f"][t] = dc * C_prev[t] * F[t] * (1 - F[t])
        dc = dc * F[t]                                         # to c_{t-1}
        if w_ci is not None:
            dc += dA_["i"][t] * w_ci
        if w_cf is not None:
            dc += dA_["f"][t] * w_cf
        dh = dA[t] @ p["W_hh"]                                 # to h_{t-1}
    dA2 = dA.reshape(T * B, -1)
    db = dA2.sum(0)
    grads = {"W_ih": dA2.T @ X.reshape(T * B, -1),
             "W_hh": dA2.T @ H_prev.reshape(T * B, -1),
             "b_ih": db, "b_hh": db.copy()}
    if w_ci is not None:
        grads["w_ci"] = (dA_["i"] * C_prev).sum((0, 1))
    if w_cf is not None:
        grads["w_cf"] = (dA_["f"] * C_prev).sum((0, 1))
    if w_co is not None:
        grads["w_co"] = (dA_["o"] * C).sum((0, 1))
    dX = dA @ p["W_ih"]
    return grads, dX, dh, dc
