"""PyTorch twins of `lstm_core.variants` (the LSTM variants) and `lstm_core.gru`.

`LSTMVariant(input_size, hidden_size, variant=...)` runs every variant of Greff et
al. 2017 ("LSTM: A Search Space Odyssey") with the parameter names and layout of
`variants` (the table there says which gate rows and peepholes each has). np,
vanilla and nfg are layouts of `torch_lstm.LSTM` and run its kernels (np: torch's
fused LSTM; vanilla, nfg: the peephole path, C++ on the CPU); the others run
`_VariantLSTM`, one autograd Function for the whole sequence, with the equations
of `variants.lstm_forward` and the hand-written backward of `variants.lstm_backward`
(pure PyTorch, any device).

`GRU(input_size, hidden_size)` is one layer of `torch.nn.GRU` (Cho et al. 2014, in
nn.GRU's form: gate order (r, z, n), reset applied after the hidden product; see
`lstm_core.gru`) under the NumPy names W_ih (3H, I), W_hh (3H, H), b_ih, b_hh
(3H,), on nn.GRU's own kernel (`torch._VF.gru`; cuDNN on CUDA).
`from_nn_gru` / `to_nn_gru` copy weights from and to `torch.nn.GRU`.

Both take time-major X (T, B, I) unless batch_first=True, check every argument
and parameter before any kernel (on the CPU also finiteness), and return states
shaped (1, B, H) as torch.nn does: LSTMVariant (H, (h_n, c_n)), GRU (H, h_n).
"""
import math

import torch
from torch import nn

from . import validate as V
from .gru import gru_layout
from .torch_lstm import NN_NAMES, _checked_value
from .torch_peephole import _FusedPeepholeLSTM, _PeepholeLSTM, cpu_kernel
from .variants import ALL_PEEPHOLES, VARIANTS, check_params, gate_rows, layout


class _VariantLSTM(torch.autograd.Function):
    """X (T, B, I) -> H (T, B, H), h_T, c_T for any variant; hand-written backward.

    Arguments: variant (a key of VARIANTS), X, h0, c0 (B, H), W_ih (nG*H, I),
    W_hh (nG*H, H), b_ih, b_hh (nG*H,), w_ci, w_cf, w_co (H,) or None.
    """

    @staticmethod
    def forward(ctx, variant, X, h0, c0, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co):
        lay, (T, B, n_in), hid = VARIANTS[variant], X.shape, W_hh.shape[1]
        rows = gate_rows(variant, hid)
        A = torch.addmm(b_ih + b_hh, X.reshape(T * B, n_in), W_ih.t()).view(T, B, -1)
        W_hhT = W_hh.t()                                       # (H, nG*H)
        Hs, C, S = (X.new_empty(T, B, hid) for _ in range(3))
        Ig, Fg, Gg, Og = (X.new_ones(T, B, hid) for _ in range(4))  # absent: 1
        h, c = h0, c0
        for t in range(T):
            a = torch.addmm(A[t], h, W_hhT)                    # (B, nG*H)
            if "i" in rows:
                a_i = a[:, rows["i"]]
                torch.sigmoid(a_i + w_ci * c if w_ci is not None else a_i, out=Ig[t])
            if "f" in rows:
                a_f = a[:, rows["f"]]
                torch.sigmoid(a_f + w_cf * c if w_cf is not None else a_f, out=Fg[t])
            elif lay.coupled:
                Fg[t] = 1 - Ig[t]
            a_g = a[:, rows["g"]]
            Gg[t] = torch.tanh(a_g) if lay.input_act == "tanh" else a_g
            c = torch.addcmul(Fg[t] * c, Ig[t], Gg[t], out=C[t])
            if "o" in rows:
                a_o = a[:, rows["o"]]
                torch.sigmoid(a_o + w_co * c if w_co is not None else a_o, out=Og[t])
            S[t] = torch.tanh(c) if lay.output_act == "tanh" else c
            h = torch.mul(Og[t], S[t], out=Hs[t])
        ctx.variant = variant
        ctx.save_for_backward(X, h0, c0, W_ih, W_hh, w_ci, w_cf, w_co, Hs, C, S,
                              Ig, Fg, Gg, Og)
        return Hs, Hs[-1].clone(), C[-1].clone()

    @staticmethod
    def backward(ctx, dH, dh_T, dc_T):
        X, h0, c0, W_ih, W_hh, w_ci, w_cf, w_co, Hs, C, S, Ig, Fg, Gg, Og = \
            ctx.saved_tensors
        lay, (T, B, n_in), hid = VARIANTS[ctx.variant], X.shape, W_hh.shape[1]
        rows = gate_rows(ctx.variant, hid)
        C_prev = torch.cat([c0[None], C[:-1]])                 # (T, B, H)
        dA = X.new_empty(T, B, len(rows) * hid)                # d loss / d a
        dA_ = {g: dA[..., r] for g, r in rows.items()}
        dh, dc = dh_T, dc_T
        for t in range(T - 1, -1, -1):
            dh = dh + dH[t]
            s = S[t]
            if "o" in rows:
                dA_["o"][t] = dh * s * Og[t] * (1 - Og[t])
            dc = dc + (dh * Og[t] * (1 - s * s) if lay.output_act == "tanh"
                       else dh * Og[t])                        # the carousel
            if w_co is not None:
                dc = dc + dA_["o"][t] * w_co
            if "i" in rows:
                di = dc * Gg[t] - dc * C_prev[t] if lay.coupled else dc * Gg[t]
                dA_["i"][t] = di * Ig[t] * (1 - Ig[t])
            dA_["g"][t] = (dc * Ig[t] * (1 - Gg[t] * Gg[t])
                           if lay.input_act == "tanh" else dc * Ig[t])
            if "f" in rows:
                dA_["f"][t] = dc * C_prev[t] * Fg[t] * (1 - Fg[t])
            dc = dc * Fg[t]                                    # to c_{t-1}
            if w_ci is not None:
                dc = dc + dA_["i"][t] * w_ci
            if w_cf is not None:
                dc = dc + dA_["f"][t] * w_cf
            dh = dA[t] @ W_hh                                  # to h_{t-1}
        H_prev = torch.cat([h0[None], Hs[:-1]])
        dA2 = dA.view(T * B, -1)
        db = dA2.sum(0)
        dW_ih = dA2.t() @ X.reshape(T * B, n_in)
        dW_hh = dA2.t() @ H_prev.view(T * B, hid)
        dX = (dA2 @ W_ih).view_as(X) if ctx.needs_input_grad[1] else None
        dw = [None if w is None else (dA_[k] * c_seen).sum((0, 1)) for w, k, c_seen
              in ((w_ci, "i", C_prev), (w_cf, "f", C_prev), (w_co, "o", C))]
        return None, dX, dh, dc, dW_ih, dW_hh, db, db.clone(), *dw


class _Recurrent(nn.Module):
    """What LSTMVariant and GRU share: parameters, checks, conversions."""

    def _make(self, input_size, hidden_size, n_gates, vectors, batch_first, device,
              dtype):
        self.input_size = V.positive_int("input_size", input_size)
        self.hidden_size = V.positive_int("hidden_size", hidden_size)
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first must be True or False, got "
                            f"{V.describe(batch_first)}")
        self.batch_first = batch_first
        G, H = n_gates * self.hidden_size, self.hidden_size
        kw = {"device": device, "dtype": V.torch_dtype("dtype", dtype)}
        self._shapes = {"W_ih": (G, self.input_size), "W_hh": (G, H), "b_ih": (G,),
                        "b_hh": (G,)} | {n: (H,) for n in vectors}
        for name, shape in self._shapes.items():
            setattr(self, name, nn.Parameter(torch.empty(shape, **kw)))
        self.reset_parameters()

    def reset_parameters(self):
        k = 1.0 / math.sqrt(self.hidden_size)                  # as torch.nn.LSTM, GRU
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)

    def _inputs(self, X, states, names):
        """Checked time-major X (T, B, I) and states, each (1, B, H) (zeros if None)."""
        ref = self.W_ih
        for name, p in self.named_parameters():
            V.tensor(f"parameter {name}", p, self._shapes[name], dtype=ref.dtype,
                     device=ref.device)
        V.tensor("X", X, (None, None, self.input_size), dtype=ref.dtype,
                 device=ref.device, dims="(B, T, I)" if self.batch_first else
                 "(T, B, I)")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError("X must have at least one time step and one sequence, got "
                             f"shape {tuple(X.shape)}")
        X = X.transpose(0, 1) if self.batch_first else X
        shape = (1, X.shape[1], self.hidden_size)
        states = [X.new_zeros(shape) if s is None else
                  V.tensor(f"state {n}", s, shape, dtype=X.dtype, device=X.device,
                           dims="(1, B, H)") for n, s in zip(names, states)]
        if X.device.type == "cpu":
            for name, t in (("X", X), *zip(names, states), *self.named_parameters()):
                if not torch.isfinite(t).all():
                    raise ValueError(f"{name} must hold finite values, got NaN or "
                                     "infinity")
        return X, states

    def _output(self, Hs):
        return Hs.transpose(0, 1) if self.batch_first else Hs

    def load_arrays(self, params):
        """Copy a dict of arrays or tensors into the parameters, checking every one."""
        own = dict(self.named_parameters())
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict of arrays or tensors, got "
                            f"{V.describe(params)}")
        V.check_keys(params, own)
        with torch.no_grad():
            for name, p in own.items():
                p.copy_(_checked_value(name, params[name], p))

    def to_numpy(self):
        """The parameters as a NumPy dict (copies, on the CPU)."""
        return {n: p.detach().cpu().numpy().copy() for n, p in self.named_parameters()}


class LSTMVariant(_Recurrent):
    """One LSTM layer of any variant of `lstm_core.variants`; see the module doc."""

    def __init__(self, input_size, hidden_size, *, variant, batch_first=False,
                 device=None, dtype=None):
        super().__init__()
        lay = layout(variant)
        self.variant = variant
        self._make(input_size, hidden_size, len(lay.gates), lay.peepholes,
                   batch_first, device, dtype)

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, variant={self.variant!r}, "
                f"batch_first={self.batch_first}")

    def forward(self, X, state=None):
        """X (T, B, I) -> (H (T, B, H), (h_n, c_n) each (1, B, H)), as torch.nn.LSTM."""
        if state is not None and (not isinstance(state, (tuple, list))
                                  or len(state) != 2):
            raise ValueError(f"state must be a pair (h0, c0), got {V.describe(state)}")
        X, (h0, c0) = self._inputs(X, state or (None, None), ("h0", "c0"))
        weights = [self.W_ih, self.W_hh, self.b_ih, self.b_hh]
        peep = [getattr(self, n, None) for n in ALL_PEEPHOLES]
        if self.variant == "np":                               # torch.nn.LSTM's kernel
            Hs, h_n, c_n = torch._VF.lstm(X, (h0, c0), weights, True, 1, 0.0,
                                          self.training, False, False)
            return self._output(Hs), (h_n, c_n)
        if self.variant in ("vanilla", "nfg"):                 # torch_lstm's peepholes
            fn = _FusedPeepholeLSTM if X.device.type == "cpu" and cpu_kernel() \
                else _PeepholeLSTM
            Hs, h_T, c_T = fn.apply(X.contiguous(), h0[0], c0[0], *weights, *peep)
        else:
            Hs, h_T, c_T = _VariantLSTM.apply(self.variant, X.contiguous(), h0[0],
                                              c0[0], *weights, *peep)
        return self._output(Hs), (h_T[None], c_T[None])

    @classmethod
    def from_numpy(cls, params, *, variant, batch_first=False, device=None):
        """Build from a `variants` parameter dict (names and shapes checked)."""
        hidden = check_params(params, variant)
        module = cls(params["W_ih"].shape[1], hidden, variant=variant,
                     batch_first=batch_first, device=device,
                     dtype=torch.from_numpy(params["W_ih"]).dtype)
        module.load_arrays(params)
        return module


class GRU(_Recurrent):
    """One GRU layer on torch.nn.GRU's kernel, NumPy names; see the module doc."""

    def __init__(self, input_size, hidden_size, *, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        self._make(input_size, hidden_size, 3, (), batch_first, device, dtype)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, batch_first={self.batch_first}"

    def forward(self, X, h0=None):
        """X (T, B, I) -> (H (T, B, H), h_n (1, B, H)), as torch.nn.GRU."""
        X, (h0,) = self._inputs(X, (h0,), ("h0",))
        weights = [self.W_ih, self.W_hh, self.b_ih, self.b_hh]
        Hs, h_n = torch._VF.gru(X, h0, weights, True, 1, 0.0, self.training, False,
                                False)
        return self._output(Hs), h_n

    @classmethod
    def from_numpy(cls, params, *, batch_first=False, device=None):
        """Build from a `lstm_core.gru` parameter dict (names and shapes checked)."""
        hidden = gru_layout(params)
        module = cls(params["W_ih"].shape[1], hidden, batch_first=batch_first,
                     device=device, dtype=torch.from_numpy(params["W_ih"]).dtype)
        module.load_arrays(params)
        return module

    @classmethod
    def from_nn_gru(cls, module):
        """Build from a one-layer, unidirectional `torch.nn.GRU` with biases."""
        if not isinstance(module, nn.GRU):
            raise TypeError(f"module must be a torch.nn.GRU, got "
                            f"{type(module).__name__}")
        for attr, want in (("num_layers", 1), ("bidirectional", False), ("bias", True)):
            if getattr(module, attr) != want:
                raise ValueError(f"module must have {attr}={want}, got "
                                 f"{getattr(module, attr)}")
        ref = module.weight_ih_l0
        gru = cls(module.input_size, module.hidden_size, batch_first=module.batch_first,
                  device=ref.device, dtype=ref.dtype)
        gru.load_arrays({n: getattr(module, m) for n, m in NN_NAMES.items()})
        return gru

    def to_nn_gru(self):
        """A `torch.nn.GRU` with the same weights, device, dtype and batch_first."""
        module = nn.GRU(self.input_size, self.hidden_size, batch_first=self.batch_first,
                        device=self.W_ih.device, dtype=self.W_ih.dtype)
        own = dict(self.named_parameters())
        with torch.no_grad():
            for name, nn_name in NN_NAMES.items():
                target = getattr(module, nn_name)
                target.copy_(_checked_value(name, own[name], target))
        return module
