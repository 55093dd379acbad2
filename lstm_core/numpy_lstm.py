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
"""
import numpy as np

PEEPHOLES = ("w_ci", "w_cf", "w_co")


def sigmoid(z):
    """Logistic function written with tanh: no overflow for large |z|."""
    out = np.tanh(0.5 * z)          # in place from here: fewer temporary arrays
    out += 1.0
    out *= 0.5
    return out


# ----------------------------------------------------------------------------- checks

def _check_array(name, a, ndim):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} must have a floating dtype (float32 or float64), "
                        f"got {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _check_shape(name, a, shape):
    _check_array(name, a, len(shape))
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")


def _check_size(name, n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"{name} must be a positive int, got {n!r}")


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator "
                        f"(np.random.default_rng(seed)), got {type(rng).__name__}")


def check_keys(params, expected):
    """Raise a ValueError naming the missing and extra keys of a parameter dict."""
    if set(params) != set(expected):
        raise ValueError(f"params must have exactly the keys {sorted(expected)}: missing "
                         f"{sorted(set(expected) - set(params))}, extra "
                         f"{sorted(set(params) - set(expected))}")


def lstm_layout(params):
    """Check an LSTM parameter dict; return (hidden_size, forget_gate, peepholes)."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    for key in ("W_hh", "W_ih"):
        if key not in params:
            raise ValueError(f"params is missing the key {key!r}, got keys {sorted(params)}")
    W_hh = _check_array("params['W_hh']", params["W_hh"], 2)
    hidden = W_hh.shape[1]
    n_gates, rest = divmod(W_hh.shape[0], hidden)
    if rest or n_gates not in (3, 4):
        raise ValueError("params['W_hh'] must have shape (4H, H), or (3H, H) without a "
                         f"forget gate, got {W_hh.shape}")
    forget_gate = n_gates == 4
    peep = [k for k in PEEPHOLES if k != "w_cf" or forget_gate]
    peepholes = any(k in params for k in PEEPHOLES)
    check_keys(params, {"W_ih", "W_hh", "b_ih", "b_hh"} | (set(peep) if peepholes
                                                           else set()))
    G = n_gates * hidden
    _check_array("params['W_ih']", params["W_ih"], 2)
    if params["W_ih"].shape[0] != G:
        raise ValueError(f"params['W_ih'] must have {G} rows like W_hh, got shape "
                         f"{params['W_ih'].shape}")
    for key in ("b_ih", "b_hh"):
        _check_shape(f"params[{key!r}]", params[key], (G,))
    for key in peep if peepholes else ():
        _check_shape(f"params[{key!r}]", params[key], (hidden,))
    return hidden, forget_gate, peepholes


def _check_input(X, W_ih):
    _check_array("X", X, 3)
    if X.shape[2] != W_ih.shape[1]:
        raise ValueError(f"X must have shape (T, B, {W_ih.shape[1]}) to match W_ih, "
                         f"got {X.shape}")


def _initial(name, state, B, hidden, dtype):
    if state is None:
        return np.zeros((B, hidden), dtype)
    _check_shape(name, state, (B, hidden))
    return state


# ----------------------------------------------------------------------------- LSTM

def init_lstm(input_size, hidden_size, *, peepholes=False, forget_gate=True, rng,
              dtype=np.float64):
    """Parameters drawn from U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.LSTM does."""
    _check_size("input_size", input_size)
    _check_size("hidden_size", hidden_size)
    _check_rng(rng)
    G = (4 if forget_gate else 3) * hidden_size
    k = 1.0 / np.sqrt(hidden_size)
    shapes = {"W_ih": (G, input_size), "W_hh": (G, hidden_size), "b_ih": (G,),
              "b_hh": (G,)}
    if peepholes:
        shapes |= {n: (hidden_size,) for n in PEEPHOLES if forget_gate or n != "w_cf"}
    return {n: rng.uniform(-k, k, s).astype(dtype) for n, s in shapes.items()}


def lstm_forward(X, params, h0=None, c0=None):
    """X (T, B, I) -> (H (T, B, H), (h_T, c_T) each (B, H), cache for the backward)."""
    hidden, forget_gate, peepholes = lstm_layout(params)
    _check_input(X, params["W_ih"])
    T, B, _ = X.shape
    dtype = np.result_type(X, *params.values())
    h = _initial("h0", h0, B, hidden, dtype)
    c = _initial("c0", c0, B, hidden, dtype)
    h0, c0 = h, c
    p = {k: v.astype(dtype, copy=False) for k, v in params.items()}
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
             "tanh_C": tanh_C, "i": I, "f": F, "g": G, "o": O,
             "layout": (hidden, forget_gate, peepholes)}
    return Hs, (h, c), cache


def lstm_step(x_t, h_prev, c_prev, params):
    """One time step: x_t (B, I), h_prev and c_prev (B, H) -> (h_t, c_t)."""
    _check_array("x_t", x_t, 2)
    _, state, _ = lstm_forward(x_t[None], params, h_prev, c_prev)
    return state


def _state_grad(name, d, B, hidden, dtype):
    return np.zeros((B, hidden), dtype) if d is None else _initial(name, d, B, hidden,
                                                                   dtype)


def lstm_backward(dH, cache, dh_T=None, dc_T=None):
    """Backpropagation through time.

    dH (T, B, H) is dLoss/dH; dh_T and dc_T (B, H) are gradients arriving at the
    final state. Returns (grads with the keys of params, dX, dh0, dc0).
    """
    X, p, Hs, C = cache["X"], cache["params"], cache["H"], cache["C"]
    tanh_C = cache["tanh_C"]                                   # tanh(c_t), from forward
    I, F, G, O = cache["i"], cache["f"], cache["g"], cache["o"]
    hidden, forget_gate, peepholes = cache["layout"]
    _check_shape("dH", dH, Hs.shape)
    T, B, _ = Hs.shape
    dtype = Hs.dtype
    dh = _state_grad("dh_T", dh_T, B, hidden, dtype)
    dc = _state_grad("dc_T", dc_T, B, hidden, dtype)
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
    grads = {"W_ih": dA2.T @ X.reshape(T * B, -1).astype(dtype, copy=False),
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

def rnn_layout(params):
    """Check an RNN parameter dict; return its hidden_size."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    check_keys(params, {"W_ih", "W_hh", "b_ih", "b_hh"})
    W_hh = _check_array("params['W_hh']", params["W_hh"], 2)
    hidden = W_hh.shape[0]
    _check_shape("params['W_hh']", W_hh, (hidden, hidden))
    _check_array("params['W_ih']", params["W_ih"], 2)
    if params["W_ih"].shape[0] != hidden:
        raise ValueError(f"params['W_ih'] must have shape ({hidden}, I), got "
                         f"{params['W_ih'].shape}")
    for key in ("b_ih", "b_hh"):
        _check_shape(f"params[{key!r}]", params[key], (hidden,))
    return hidden


def init_rnn(input_size, hidden_size, *, rng, dtype=np.float64):
    """Parameters drawn from U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.RNN does."""
    _check_size("input_size", input_size)
    _check_size("hidden_size", hidden_size)
    _check_rng(rng)
    k = 1.0 / np.sqrt(hidden_size)
    shapes = {"W_ih": (hidden_size, input_size), "W_hh": (hidden_size, hidden_size),
              "b_ih": (hidden_size,), "b_hh": (hidden_size,)}
    return {n: rng.uniform(-k, k, s).astype(dtype) for n, s in shapes.items()}


def rnn_forward(X, params, h0=None):
    """X (T, B, I) -> (H (T, B, H), h_T (B, H), cache for the backward)."""
    hidden = rnn_layout(params)
    _check_input(X, params["W_ih"])
    T, B, _ = X.shape
    dtype = np.result_type(X, *params.values())
    h0 = h = _initial("h0", h0, B, hidden, dtype)
    p = {k: v.astype(dtype, copy=False) for k, v in params.items()}
    A = X @ p["W_ih"].T + (p["b_ih"] + p["b_hh"])              # (T, B, H)
    W_hhT = np.ascontiguousarray(p["W_hh"].T)
    Hs = np.empty((T, B, hidden), dtype)
    for t in range(T):
        h = Hs[t] = np.tanh(A[t] + h @ W_hhT)
    return Hs, h, {"X": X, "params": p, "h0": h0, "H": Hs}


def rnn_backward(dH, cache, dh_T=None):
    """Backpropagation through time: returns (grads, dX, dh0)."""
    X, p, Hs = cache["X"], cache["params"], cache["H"]
    _check_shape("dH", dH, Hs.shape)
    T, B, hidden = Hs.shape
    dh = _state_grad("dh_T", dh_T, B, hidden, Hs.dtype)
    dA = np.empty_like(Hs)                                     # d loss / d pre-activation
    for t in reversed(range(T)):
        dA[t] = (dh + dH[t]) * (1 - Hs[t] ** 2)
        dh = dA[t] @ p["W_hh"]
    H_prev = np.concatenate([cache["h0"][None], Hs[:-1]])
    dA2 = dA.reshape(T * B, hidden)
    db = dA2.sum(0)
    grads = {"W_ih": dA2.T @ X.reshape(T * B, -1).astype(Hs.dtype, copy=False),
             "W_hh": dA2.T @ H_prev.reshape(T * B, hidden),
             "b_ih": db, "b_hh": db.copy()}
    return grads, dA @ p["W_ih"], dh
