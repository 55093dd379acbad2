"""NumPy reference RNN and LSTM: forward pass and hand-written backpropagation.

Conventions are exactly those of one layer of `torch.nn.LSTM` / `torch.nn.RNN`, so
weights copy 1:1 between the two:

    X (T, B, I) time-major input, H (T, B, H) hidden states, C (T, B, H) cell states
    gate order (i, f, g, o):  W_ih (4H, I), W_hh (4H, H), b_ih (4H,), b_hh (4H,)
    peepholes (diagonal):     w_ci, w_cf, w_co (H,)

The LSTM step with forget gate and peephole connections (Gers & Schmidhuber 2000;
Greff et al. 2017, eqs. 1-6), where a = W_ih x_t + b_ih + W_hh h_prev + b_hh:

    i   = sigmoid(a_i + w_ci * c_prev)        input gate
    f   = sigmoid(a_f + w_cf * c_prev)        forget gate
    g   = tanh(a_g)                           cell input
    c_t = f * c_prev + i * g                  cell state (the error carousel)
    o   = sigmoid(a_o + w_co * c_t)           output gate, peeks at the new c_t
    h_t = o * tanh(c_t)

`forget_gate=False` is the original LSTM of Hochreiter & Schmidhuber (1997), f = 1:
its weights have no forget-gate rows, W_ih is (3H, I) in gate order (i, g, o), and
there is no w_cf. The layout is read from the shapes, so it can never be mixed up.

The tanh RNN (Elman 1990) is h_t = tanh(W_ih x_t + b_ih + W_hh h_prev + b_hh).

Speed: all input projections are one matrix product over the whole sequence, and
the backward pass collects the weight gradients in one product each after the loop
over time; only the (B, H) x (H, 4H) recurrent product runs per step.

Inputs are checked by `lstm_core.validate` (float32 or float64, one dtype for the
parameters, inputs and states, finite, non-empty; shapes named in the message).
"""
import numpy as np

from . import validate as V
from .validate import PEEPHOLES, check_keys, lstm_layout, rnn_layout  # noqa: F401


def sigmoid(z):
    """Logistic function written with tanh: no overflow for large |z|."""
    out = np.tanh(0.5 * z)          # in place from here: fewer temporary arrays
    out += 1.0
    out *= 0.5
    return out


# ----------------------------------------------------------------------------- LSTM

def init_lstm(input_size, hidden_size, *, peepholes=False, forget_gate=True, rng,
              dtype=np.float64):
    """Parameters drawn from U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.LSTM does."""
    input_size = V.positive_int("input_size", input_size)
    hidden_size = V.positive_int("hidden_size", hidden_size)
    peepholes = V.boolean("peepholes", peepholes)
    forget_gate = V.boolean("forget_gate", forget_gate)
    V.generator("rng", rng)
    dtype = V.float_dtype("dtype", dtype)
    G = (4 if forget_gate else 3) * hidden_size
    k = 1.0 / np.sqrt(hidden_size)
    shapes = {"W_ih": (G, input_size), "W_hh": (G, hidden_size), "b_ih": (G,),
              "b_hh": (G,)}
    if peepholes:
        shapes |= {n: (hidden_size,) for n in PEEPHOLES if forget_gate or n != "w_cf"}
    return {n: rng.uniform(-k, k, s).astype(dtype) for n, s in shapes.items()}


def lstm_forward(X, params, h0=None, c0=None):
    """X (T, B, I) -> (H (T, B, H), (h_T, c_T) each (B, H), cache for the backward)."""
    layout = lstm_layout(params)
    T, B = V.sequence("X", X, params)
    h0 = V.state("h0", h0, B, layout[0], X.dtype)
    c0 = V.state("c0", c0, B, layout[0], X.dtype)
    return _lstm_forward(X, params, h0, c0, layout)


def _lstm_forward(X, p, h0, c0, layout):
    hidden, forget_gate, peepholes = layout
    T, B, _ = X.shape
    dtype, h, c = X.dtype, h0, c0
    A = X @ p["W_ih"].T + (p["b_ih"] + p["b_hh"])              # (T, B, nG*H), all at once
    W_hhT = np.ascontiguousarray(p["W_hh"].T)                  # (H, nG*H)
    Hs, C, tanh_C = (np.empty((T, B, hidden), dtype) for _ in range(3))
    I, F, G, O = (np.ones((T, B, hidden), dtype) for _ in range(4))
    for t in range(T):
        a = A[t] + h @ W_hhT                                   # (B, nG*H)
        a_i, a_g, a_o = a[:, :hidden], a[:, -2 * hidden:-hidden], a[:, -hidden:]
        if peepholes:
            a_i = a_i + p["w_ci"] * c
        I[t] = sigmoid(a_i)
        if forget_gate:
            a_f = a[:, hidden:2 * hidden]
            F[t] = sigmoid(a_f + p["w_cf"] * c if peepholes else a_f)
        G[t] = np.tanh(a_g)
        c = F[t] * c + I[t] * G[t]
        O[t] = sigmoid(a_o + p["w_co"] * c if peepholes else a_o)
        tanh_C[t] = np.tanh(c)
        h = O[t] * tanh_C[t]
        C[t], Hs[t] = c, h
    cache = {"X": X, "params": p, "h0": h0, "c0": c0, "H": Hs, "C": C,
             "tanh_C": tanh_C, "i": I, "f": F, "g": G, "o": O, "layout": layout}
    return Hs, (h, c), cache


def lstm_step(x_t, h_prev, c_prev, params):
    """One time step: x_t (B, I), h_prev and c_prev (B, H) -> (h_t, c_t)."""
    layout = lstm_layout(params)
    W_ih = params["W_ih"]
    V.array("x_t", x_t, shape=(None, W_ih.shape[1]), dtype=W_ih.dtype, dims="(B, I)")
    B = x_t.shape[0]
    h_prev = V.state("h_prev", h_prev, B, layout[0], x_t.dtype)
    c_prev = V.state("c_prev", c_prev, B, layout[0], x_t.dtype)
    return _lstm_forward(x_t[None], params, h_prev, c_prev, layout)[1]


def _cache(cache, made_by, keys):
    if not isinstance(cache, dict) or not set(keys) <= set(cache):
        raise TypeError(f"cache must be the third value returned by {made_by}, got "
                        f"{V.describe(cache)}")
    return cache


def lstm_backward(dH, cache, dh_T=None, dc_T=None):
    """Backpropagation through time.

    dH (T, B, H) is dLoss/dH; dh_T and dc_T (B, H) are gradients arriving at the
    final state. Returns (grads with the keys of params, dX, dh0, dc0).
    """
    _cache(cache, "lstm_forward", ("X", "params", "H", "C", "tanh_C", "layout"))
    X, p, Hs, C = cache["X"], cache["params"], cache["H"], cache["C"]
    tanh_C = cache["tanh_C"]                                   # tanh(c_t), from forward
    I, F, G, O = cache["i"], cache["f"], cache["g"], cache["o"]
    hidden, forget_gate, peepholes = cache["layout"]
    T, B, _ = Hs.shape
    dtype = Hs.dtype
    V.array("dH", dH, shape=Hs.shape, dtype=dtype, dims="(T, B, H)")
    dh = V.state("dh_T", dh_T, B, hidden, dtype)
    dc = V.state("dc_T", dc_T, B, hidden, dtype)
    C_prev = np.concatenate([cache["c0"][None], C[:-1]])      # (T, B, H)
    H_prev = np.concatenate([cache["h0"][None], Hs[:-1]])     # (T, B, H)
    gates = [I, F, G, O] if forget_gate else [I, G, O]
    dA = np.empty((T, B, len(gates) * hidden), dtype)       # d loss / d pre-activations
    dA_i, dA_g, dA_o = (dA[..., :hidden], dA[..., -2 * hidden:-hidden],
                        dA[..., -hidden:])
    for t in reversed(range(T)):
        dh = dh + dH[t]
        tanh_c = tanh_C[t]
        dA_o[t] = dh * tanh_c * O[t] * (1 - O[t])
        dc = dc + dh * O[t] * (1 - tanh_c ** 2)               # the carousel: dc flows on
        if peepholes:
            dc += dA_o[t] * p["w_co"]
        dA_i[t] = dc * G[t] * I[t] * (1 - I[t])
        dA_g[t] = dc * I[t] * (1 - G[t] ** 2)
        if forget_gate:
            dA[t, :, hidden:2 * hidden] = dc * C_prev[t] * F[t] * (1 - F[t])
        dc = dc * F[t]                                         # to c_{t-1}
        if peepholes:
            dc += dA_i[t] * p["w_ci"]
            if forget_gate:
                dc += dA[t, :, hidden:2 * hidden] * p["w_cf"]
        dh = dA[t] @ p["W_hh"]                                 # to h_{t-1}
    dA2 = dA.reshape(T * B, -1)
    db = dA2.sum(0)
    grads = {"W_ih": dA2.T @ X.reshape(T * B, -1),
             "W_hh": dA2.T @ H_prev.reshape(T * B, -1),
             "b_ih": db, "b_hh": db.copy()}
    if peepholes:
        grads["w_ci"] = (dA_i * C_prev).sum((0, 1))
        if forget_gate:
            grads["w_cf"] = (dA[..., hidden:2 * hidden] * C_prev).sum((0, 1))
        grads["w_co"] = (dA_o * C).sum((0, 1))
    dX = dA @ p["W_ih"]
    return grads, dX, dh, dc


# ----------------------------------------------------------------------------- RNN

def init_rnn(input_size, hidden_size, *, rng, dtype=np.float64):
    """Parameters drawn from U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.RNN does."""
    input_size = V.positive_int("input_size", input_size)
    hidden_size = V.positive_int("hidden_size", hidden_size)
    V.generator("rng", rng)
    dtype = V.float_dtype("dtype", dtype)
    k = 1.0 / np.sqrt(hidden_size)
    shapes = {"W_ih": (hidden_size, input_size), "W_hh": (hidden_size, hidden_size),
              "b_ih": (hidden_size,), "b_hh": (hidden_size,)}
    return {n: rng.uniform(-k, k, s).astype(dtype) for n, s in shapes.items()}


def rnn_forward(X, params, h0=None):
    """X (T, B, I) -> (H (T, B, H), h_T (B, H), cache for the backward)."""
    hidden = rnn_layout(params)
    T, B = V.sequence("X", X, params)
    dtype, p = X.dtype, params
    h0 = h = V.state("h0", h0, B, hidden, dtype)
    A = X @ p["W_ih"].T + (p["b_ih"] + p["b_hh"])              # (T, B, H)
    W_hhT = np.ascontiguousarray(p["W_hh"].T)
    Hs = np.empty((T, B, hidden), dtype)
    for t in range(T):
        h = Hs[t] = np.tanh(A[t] + h @ W_hhT)
    return Hs, h, {"X": X, "params": p, "h0": h0, "H": Hs}


def rnn_backward(dH, cache, dh_T=None):
    """Backpropagation through time: returns (grads, dX, dh0)."""
    _cache(cache, "rnn_forward", ("X", "params", "h0", "H"))
    X, p, Hs = cache["X"], cache["params"], cache["H"]
    T, B, hidden = Hs.shape
    V.array("dH", dH, shape=Hs.shape, dtype=Hs.dtype, dims="(T, B, H)")
    dh = V.state("dh_T", dh_T, B, hidden, Hs.dtype)
    dA = np.empty_like(Hs)                                     # d loss / d pre-activation
    for t in reversed(range(T)):
        dA[t] = (dh + dH[t]) * (1 - Hs[t] ** 2)
        dh = dA[t] @ p["W_hh"]
    H_prev = np.concatenate([cache["h0"][None], Hs[:-1]])
    dA2 = dA.reshape(T * B, hidden)
    db = dA2.sum(0)
    grads = {"W_ih": dA2.T @ X.reshape(T * B, -1),
             "W_hh": dA2.T @ H_prev.reshape(T * B, hidden),
             "b_ih": db, "b_hh": db.copy()}
    return grads, dA @ p["W_ih"], dh
