"""The NumPy sequence model: an LSTM, tanh RNN or GRU with a linear readout.

    Y = H W_hy^T + b_y,   X (T, N, I) -> H (T, N, H) -> Y (T, N, O)

The recurrent layer is `numpy_lstm`'s LSTM (optional peepholes and forget gate)
or tanh RNN, a variant of Greff et al. 2017 from `lstm_core.variants`
(cell="lstm", variant="cifg", ...), or the GRU of `lstm_core.gru` (cell="gru").

`forward` keeps what `backward` needs per thread (two threads may train two
models, or evaluate one, at once), and `backward(dY)` returns the gradients with
the keys of `params`. Its PyTorch twin is `lstm_core.torch_lstm.SequenceModel`.
"""
import threading

import numpy as np

from . import gru, variants
from . import validate as V
from .numpy_lstm import init_lstm, init_rnn, lstm_backward, lstm_forward, \
    rnn_backward, rnn_forward

READOUT = ("W_hy", "b_y")
CELLS = ("lstm", "rnn", "gru")


def check_cell(cell, variant, peepholes, forget_gate):
    """Check the choice of recurrent layer (both backends' SequenceModel use it)."""
    V.one_of("cell", cell, CELLS)
    if variant is None:
        return
    if cell != "lstm":
        raise ValueError(f"variant is a variant of the LSTM: it needs cell='lstm', got "
                         f"cell={cell!r}")
    V.one_of("variant", variant, variants.VARIANTS)
    if peepholes or not forget_gate:
        raise ValueError(f"variant={variant!r} fixes the peepholes and the forget "
                         "gate (lstm_core.variants.VARIANTS): leave peepholes and "
                         f"forget_gate out, got peepholes={peepholes!r}, "
                         f"forget_gate={forget_gate!r}")


class SequenceModel:
    """A NumPy LSTM, tanh RNN or GRU with a linear readout y_t = W_hy h_t + b_y.

    cell: "lstm", "rnn" or "gru"; variant (cell="lstm" only): a key of
    `lstm_core.variants.VARIANTS`, or None for numpy_lstm's LSTM with the given
    peepholes and forget_gate.
    """

    def __init__(self, input_size, hidden_size, output_size, *, cell="lstm",
                 variant=None, peepholes=False, forget_gate=True, rng,
                 dtype=np.float64):
        check_cell(cell, variant, peepholes, forget_gate)
        output_size = V.positive_int("output_size", output_size)
        V.lstm_options(cell, peepholes, forget_gate)
        if variant is not None:
            self.params = variants.init_lstm(input_size, hidden_size, variant=variant,
                                             rng=rng, dtype=dtype)
        elif cell == "lstm":
            self.params = init_lstm(input_size, hidden_size, peepholes=peepholes,
                                    forget_gate=forget_gate, rng=rng, dtype=dtype)
        elif cell == "gru":
            self.params = gru.init_gru(input_size, hidden_size, rng=rng, dtype=dtype)
        else:
            self.params = init_rnn(input_size, hidden_size, rng=rng, dtype=dtype)
        k = 1.0 / np.sqrt(hidden_size)                       # as torch.nn.Linear
        self.params["W_hy"] = rng.uniform(-k, k, (output_size, hidden_size)).astype(dtype)
        self.params["b_y"] = rng.uniform(-k, k, output_size).astype(dtype)
        self.cell, self.variant, self._caches = cell, variant, {}

    @property
    def dtype(self):
        return self.params["W_hy"].dtype

    def core(self):
        """The recurrent layer's parameters (the dict numpy_lstm works on)."""
        return {k: v for k, v in self.params.items() if k not in READOUT}

    def forward(self, X, state=None):
        """X (T, N, I) -> (Y (T, N, O), final state); keeps what backward needs.

        state: (h0, c0) for an LSTM, h0 for an RNN or GRU, each (N, H), or None.
        """
        if self.cell == "lstm":
            if state is None:
                state = (None, None)
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise TypeError("state must be a pair (h0, c0) for an LSTM, got "
                                f"{V.describe(state)}")
            if self.variant is None:
                H, state, cache = lstm_forward(X, self.core(), *state)
            else:
                H, state, cache = variants.lstm_forward(X, self.core(), *state,
                                                        variant=self.variant)
        elif self.cell == "gru":
            H, state, cache = gru.gru_forward(X, self.core(), state)
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
        backward = {"lstm": lstm_backward if self.variant is None else
                    variants.lstm_backward, "gru": gru.gru_backward,
                    "rnn": rnn_backward}[self.cell]
        grads = backward(dH, cache)[0]
        grads["W_hy"] = np.einsum("tno,tnh->oh", dY, H)
        grads["b_y"] = dY.sum((0, 1))
        return grads
