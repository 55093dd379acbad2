"""The NumPy sequence model: an LSTM or tanh RNN with a linear readout.

    Y = H W_hy^T + b_y,   X (T, N, I) -> H (T, N, H) -> Y (T, N, O)

`forward` keeps what `backward` needs per thread (two threads may train two
models, or evaluate one, at once), and `backward(dY)` returns the gradients with
the keys of `params`. Its PyTorch twin is `lstm_core.torch_lstm.SequenceModel`.
"""
import threading

import numpy as np

from . import validate as V
from .numpy_lstm import init_lstm, init_rnn, lstm_backward, lstm_forward, \
    rnn_backward, rnn_forward

READOUT = ("W_hy", "b_y")


class SequenceModel:
    """A NumPy LSTM or tanh RNN with a linear readout y_t = W_hy h_t + b_y."""

    def __init__(self, input_size, hidden_size, output_size, *, cell="lstm",
                 peepholes=False, forget_gate=True, rng, dtype=np.float64):
        V.one_of("cell", cell, ("lstm", "rnn"))
        output_size = V.positive_int("output_size", output_size)
        V.lstm_options(cell, peepholes, forget_gate)
        if cell == "lstm":
            self.params = init_lstm(input_size, hidden_size, peepholes=peepholes,
                                    forget_gate=forget_gate, rng=rng, dtype=dtype)
        else:
            self.params = init_rnn(input_size, hidden_size, rng=rng, dtype=dtype)
        k = 1.0 / np.sqrt(hidden_size)                       # as torch.nn.Linear
        self.params["W_hy"] = rng.uniform(-k, k, (output_size, hidden_size)).astype(dtype)
        self.params["b_y"] = rng.uniform(-k, k, output_size).astype(dtype)
        self.cell, self._caches = cell, {}

    @property
    def dtype(self):
        return self.params["W_hy"].dtype

    def core(self):
        """The recurrent layer's parameters (the dict numpy_lstm works on)."""
        return {k: v for k, v in self.params.items() if k not in READOUT}

    def forward(self, X, state=None):
        """X (T, N, I) -> (Y (T, N, O), final state); keeps what backward needs.

        state: (h0, c0) for an LSTM, h0 for an RNN, each (N, H), or None (zeros).
        """
        if self.cell == "lstm":
            if state is None:
                state = (None, None)
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise TypeError("state must be a pair (h0, c0) for an LSTM, got "
                                f"{V.describe(state)}")
            H, state, cache = lstm_forward(X, self.core(), *state)
        else:
            H, state, cache = rnn_forward(X, self.core(), state)
        W_hy = V.array("params['W_hy']", self.params["W_hy"], shape=(None, H.shape[-1]),
                       dtype=H.dtype, dims="(O, H)")
        b_y = V.array("params['b_y']", self.params["b_y"], shape=(W_hy.shape[0],),
                      dtype=H.dtype, dims="(O,)")
        self._caches[threading.get_ident()] = (H, cache)
        return H @ W_hy.T + b_y, state

    def backward(self, dY):
        """dY (T, N, O) = dLoss/dY of this thread's last forward -> gradients."""
        if threading.get_ident() not in self._caches:
            raise RuntimeError("call forward before backward (in the same thread)")
        H, cache = self._caches[threading.get_ident()]
        W_hy = self.params["W_hy"]
        V.array("dY", dY, shape=H.shape[:2] + W_hy.shape[:1], dtype=H.dtype,
                dims="(T, N, O)")
        with np.errstate(over="ignore", invalid="ignore"):
            dH = dY @ W_hy                                   # (T, N, H)
        if not np.isfinite(dH).all():
            raise FloatingPointError(
                "dLoss/dH = dY @ W_hy overflows: params['W_hy'] is too large (max "
                f"|W_hy| = {np.abs(W_hy).max():.3g}; a diverged run?)")
        backward = lstm_backward if self.cell == "lstm" else rnn_backward
        grads = backward(dH, cache)[0]
        grads["W_hy"] = np.einsum("tno,tnh->oh", dY, H)
        grads["b_y"] = dY.sum((0, 1))
        return grads
