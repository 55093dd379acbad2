"""NumPy reference GRU: forward pass and hand-written backpropagation through time.

The gated recurrent unit of Cho et al. 2014 ("Learning Phrase Representations
using RNN Encoder-Decoder for Statistical Machine Translation", Section 2.3,
eqs. 5-8), in the form and layout of one layer of `torch.nn.GRU`, so weights copy
1:1:

    gate order (r, z, n):  W_ih (3H, I), W_hh (3H, H), b_ih (3H,), b_hh (3H,)
    X (T, B, I) time-major input, H (T, B, H) hidden states, h0 (B, H)

    r   = sigmoid(W_ir x_t + b_ir + W_hr h_prev + b_hr)     reset gate
    z   = sigmoid(W_iz x_t + b_iz + W_hz h_prev + b_hz)     update gate
    n   = tanh(W_in x_t + b_in + r * (W_hn h_prev + b_hn))  candidate state
    h_t = (1 - z) * n + z * h_prev

The reset gate scales the hidden product W_hn h_prev + b_hn, after it is computed,
as `torch.nn.GRU` and cuDNN do. Cho et al.'s eq. 8 resets before the product,
n = tanh(W x + U (r * h_prev)); the two differ unless r is 0 or 1 everywhere, and
the "after" form lets the hidden products of all three gates be one matrix product
per step. The update gate z is the share of h_prev that is kept (Cho et al. write
the same interpolation as eq. 7).

Speed as in `numpy_lstm`: the input projections are one product over the whole
sequence, the weight gradients one product each after the loop over time. Inputs
are checked by `lstm_core.validate`.
"""
import numpy as np

from . import validate as V
from .numpy_lstm import _cache, sigmoid

GATES = "rzn"


def gru_layout(params):
    """Check a GRU parameter dict (torch.nn.GRU's layout); return hidden_size."""
    return V.gated_layout(params, GATES, (), "a GRU")


def init_gru(input_size, hidden_size, *, rng, dtype=np.float64):
    """Parameters drawn from U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.GRU does."""
    input_size = V.positive_int("input_size", input_size)
    hidden_size = V.positive_int("hidden_size", hidden_size)
    V.generator("rng", rng)
    dtype = V.float_dtype("dtype", dtype)
    G, k = 3 * hidden_size, 1.0 / np.sqrt(hidden_size)
    shapes = {"W_ih": (G, input_size), "W_hh": (G, hidden_size), "b_ih": (G,),
              "b_hh": (G,)}
    return {n: rng.uniform(-k, k, s).astype(dtype) for n, s in shapes.items()}


def gru_forward(X, params, h0=None):
    """X (T, B, I) -> (H (T, B, H), h_T (B, H), cache for the backward)."""
    hidden = gru_layout(params)
    T, B = V.sequence("X", X, params)
    h0 = V.state("h0", h0, B, hidden, X.dtype)
    return _forward(X, params, h0)


def gru_step(x_t, h_prev, params):
    """One time step: x_t (B, I), h_prev (B, H) -> h_t (B, H)."""
    hidden = gru_layout(params)
    W_ih = params["W_ih"]
    V.array("x_t", x_t, shape=(None, W_ih.shape[1]), dtype=W_ih.dtype, dims="(B, I)")
    h_prev = V.state("h_prev", h_prev, x_t.shape[0], hidden, x_t.dtype)
    return _forward(x_t[None], params, h_prev)[1]


def _forward(X, p, h0):
    T, B, _ = X.shape
    H = p["W_hh"].shape[1]
    dtype, h = X.dtype, h0
    A = X @ p["W_ih"].T + p["b_ih"]                            # (T, B, 3H), all at once
    W_hhT = np.ascontiguousarray(p["W_hh"].T)                  # (H, 3H)
    Hs, R, Z, N, Hn = (np.empty((T, B, H), dtype) for _ in range(5))
    for t in range(T):
        a_h = h @ W_hhT + p["b_hh"]                            # (B, 3H) hidden part
        R[t] = sigmoid(A[t, :, :H] + a_h[:, :H])
        Z[t] = sigmoid(A[t, :, H:2 * H] + a_h[:, H:2 * H])
        Hn[t] = a_h[:, 2 * H:]                                 # W_hn h_prev + b_hn
        N[t] = np.tanh(A[t, :, 2 * H:] + R[t] * Hn[t])
        h = Hs[t] = (1 - Z[t]) * N[t] + Z[t] * h
    cache = {"X": X, "params": p, "h0": h0, "H": Hs, "r": R, "z": Z, "n": N, "hn": Hn}
    return Hs, h, cache


def gru_backward(dH, cache, dh_T=None):
    """Backpropagation through time: returns (grads, dX, dh0).

    dH (T, B, H) is dLoss/dH; dh_T (B, H) is the gradient arriving at h_T.
    """
    _cache(cache, "gru_forward", ("X", "params", "h0", "H", "r", "z", "n", "hn"))
    X, p, Hs = cache["X"], cache["params"], cache["H"]
    R, Z, N, Hn = (cache[k] for k in ("r", "z", "n", "hn"))
    T, B, H = Hs.shape
    V.array("dH", dH, shape=Hs.shape, dtype=Hs.dtype, dims="(T, B, H)")
    dh = V.state("dh_T", dh_T, B, H, Hs.dtype)
    H_prev = np.concatenate([cache["h0"][None], Hs[:-1]])     # (T, B, H)
    dA = np.empty((T, B, 3 * H), Hs.dtype)                     # d loss / d input part
    dAh = np.empty_like(dA)                                    # ... / d hidden part
    for t in reversed(range(T)):
        dh = dh + dH[t]
        dn = dh * (1 - Z[t]) * (1 - N[t] ** 2)                 # at tanh's input
        dA[t, :, :H] = dh_r = dn * Hn[t] * R[t] * (1 - R[t])
        dA[t, :, H:2 * H] = dh_z = dh * (H_prev[t] - N[t]) * Z[t] * (1 - Z[t])
        dA[t, :, 2 * H:] = dn
        dAh[t, :, :H], dAh[t, :, H:2 * H] = dh_r, dh_z
        dAh[t, :, 2 * H:] = dn * R[t]                          # through the reset
        dh = dh * Z[t] + dAh[t] @ p["W_hh"]                    # to h_{t-1}
    dA2, dAh2 = dA.reshape(T * B, -1), dAh.reshape(T * B, -1)
    grads = {"W_ih": dA2.T @ X.reshape(T * B, -1),
             "W_hh": dAh2.T @ H_prev.reshape(T * B, H),
             "b_ih": dA2.sum(0), "b_hh": dAh2.sum(0)}
    return grads, dA @ p["W_ih"], dh
