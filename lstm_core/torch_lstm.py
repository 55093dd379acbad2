"""The accelerated PyTorch twin of `lstm_core.numpy_lstm`.

`LSTM` is a `torch.nn.Module` whose parameters have the names and shapes of the
NumPy dict (W_ih (4H, I), W_hh (4H, H), b_ih, b_hh (4H,), optional w_ci, w_cf, w_co
(H,), gate order (i, f, g, o)), so weights copy 1:1 between NumPy, this module and
`torch.nn.LSTM`. Input is time-major X (T, B, I) unless batch_first=True.

Two paths, both device-agnostic (CPU, CUDA) and dtype-agnostic (float32, float64):
- no peepholes, forget gate on: torch's fused LSTM kernel (`torch._VF.lstm`, what
  `torch.nn.LSTM` itself calls; cuDNN on CUDA), fed with our parameters;
- peepholes, or the 1997 LSTM without forget gate (Gers & Schmidhuber 2000;
  Hochreiter & Schmidhuber 1997): `_PeepholeLSTM`, one autograd Function for the
  whole sequence. All input projections are one matrix product, the time loop runs
  without building an autograd graph, and the backward pass is written by hand (the
  equations of `numpy_lstm.lstm_backward`), with both weight gradients gathered in
  one matrix product after the loop.

On the CPU the peephole path runs a small C++ kernel (`peephole_cpu.cpp`, the same
equations with no Python in the time loop: per step one matrix product and one
fused, vectorised loop for the gates), compiled with torch.utils.cpp_extension the
first time it is needed (about half a minute, cached under ~/.cache/torch_extensions).
Without a C++ compiler, or with LSTM_CORE_PURE_TORCH=1 in the environment, the
pure-PyTorch Function below runs instead: same results, slower.
"""
import math

import numpy as np
import torch
from torch import nn

from . import cpu_kernel as _cpu_kernel
from .numpy_lstm import PEEPHOLES, check_keys, lstm_layout

NN_NAMES = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0",
            "b_hh": "bias_hh_l0"}


def cpu_kernel():
    """The compiled CPU kernel for the peephole path, or None (`lstm_core.cpu_kernel`)."""
    return _cpu_kernel.load()


class _FusedPeepholeLSTM(torch.autograd.Function):
    """`_PeepholeLSTM` with its two loops in C++ (`peephole_cpu.cpp`), CPU only."""

    @staticmethod
    def forward(ctx, X, h0, c0, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co):
        zero = X.new_zeros(W_hh.shape[1])
        w = [zero if v is None else v.contiguous() for v in (w_ci, w_cf, w_co)]
        Hs, C, gates, tanh_C = cpu_kernel().forward(
            X, h0, c0, W_ih, W_hh, b_ih + b_hh, *w)
        ctx.save_for_backward(X, h0, c0, W_ih, W_hh, *w, gates, Hs, C, tanh_C)
        ctx.has = (w_ci is not None, w_cf is not None, w_co is not None)
        return Hs, Hs[-1].clone(), C[-1].clone()

    @staticmethod
    def backward(ctx, dH, dh_T, dc_T):
        dX, dh0, dc0, dW_ih, dW_hh, db, *dw = cpu_kernel().backward(
            dH, dh_T, dc_T, *ctx.saved_tensors, ctx.needs_input_grad[0])
        dw = [g if has else None for g, has in zip(dw, ctx.has)]
        return dX, dh0, dc0, dW_ih, dW_hh, db, db.clone(), *dw   # dX None if not needed


class _PeepholeLSTM(torch.autograd.Function):
    """X (T, B, I) -> H (T, B, H), h_T, c_T, with a hand-written backward.

    Per step the forward runs 9 small in-place operations and the backward 5; every
    factor of the backward that does not depend on the incoming gradient (gate
    derivatives, peephole terms) is computed for all steps at once before its loop.
    Python's cost per operation is what limits this on a CPU, so the views each step
    needs are made in one call per buffer (`unbind`) before the loops, and g uses
    tanh(a) = 2 sigmoid(2a) - 1: with the g rows of the weights doubled, one sigmoid
    call covers i, f and g (torch's tanh is several times slower than its sigmoid).
    """

    @staticmethod
    def forward(ctx, X, h0, c0, W_ih, W_hh, b_ih, b_hh, w_ci, w_cf, w_co):
        T, B, I = X.shape
        hid = W_hh.shape[1]
        nG, peepholes = W_hh.shape[0] // hid, w_ci is not None
        scale = X.new_ones(nG, hid)
        scale[-2] = 2                                          # the g rows
        scale = scale.view(-1, 1)
        A = torch.addmm((b_ih + b_hh) * scale[:, 0], X.reshape(T * B, I),
                        (W_ih * scale).t()).view(T, B, nG, hid)
        W_hhT = (W_hh * scale).t()
        Hs, C, tanh_C = (X.new_empty(T, B, hid) for _ in range(3))
        # Views per step, all made up front; A is overwritten by the gates:
        # i, f and sigmoid(2 a_g) =: s_g before c_t, o after it.
        a_ = A.view(T, B, -1).unbind(0)
        sig_ = A[:, :, :-1].unbind(0)
        peep_ = A[:, :, :-2].unbind(0)                         # i (and f) see c_{t-1}
        i_, s_g_, o_ = (A[:, :, k].unbind(0) for k in (0, -2, -1))
        f_ = A[:, :, 1].unbind(0) if nG == 4 else None
        C_, H_, tanh_C_ = C.unbind(0), Hs.unbind(0), tanh_C.unbind(0)
        if peepholes:
            w_cif = torch.stack([w_ci, w_cf]) if nG == 4 else w_ci[None]
            c_prev_ = [c0[:, None], *C[:-1, :, None].unbind(0)]
        h, c = h0, c0
        for t in range(T):
            a_[t].addmm_(h, W_hhT)
            if peepholes:
                peep_[t].addcmul_(w_cif, c_prev_[t])
            sig_[t].sigmoid_()
            i = i_[t]
            c = torch.mul(f_[t], c, out=C_[t]) if nG == 4 else C_[t].copy_(c)
            c.addcmul_(i, s_g_[t], value=2).sub_(i)            # + i * g
            o = o_[t]
            if peepholes:
                o.addcmul_(w_co, c)
            h = torch.mul(o.sigmoid_(), torch.tanh(c, out=tanh_C_[t]), out=H_[t])
        ctx.save_for_backward(X, h0, c0, W_ih, W_hh, w_ci, w_cf, w_co, A, Hs, C,
                              tanh_C)
        return Hs, Hs[-1].clone(), C[-1].clone()

    @staticmethod
    def backward(ctx, dH, dh_T, dc_T):
        X, h0, c0, W_ih, W_hh, w_ci, w_cf, w_co, A, Hs, C, tanh_C = ctx.saved_tensors
        T, B, nG, hid = A.shape
        I = X.shape[2]
        peepholes = w_ci is not None
        C_prev = torch.cat([c0[None], C[:-1]])                 # (T, B, H)
        i, o = A[:, :, 0], A[:, :, -1]
        g = A[:, :, -2] * 2 - 1
        # Factors for all steps at once. With da the gradients of the pre-activations:
        #   da_o = dh * R,   dc += dh * K,   da_[i, f, g] = dc * P,   dc_prev = dc * Q
        R = tanh_C * o * (1 - o)
        K = torch.addcmul(o, o, tanh_C * tanh_C, value=-1)    # o (1 - tanh(c)^2)
        P = torch.empty_like(A[:, :, :-1])                     # (T, B, nG-1, H)
        torch.mul(g, i - i * i, out=P[:, :, 0])
        torch.addcmul(i, i, g * g, value=-1, out=P[:, :, -1])
        if nG == 4:
            f = A[:, :, 1]
            torch.mul(C_prev, f - f * f, out=P[:, :, 1])
            Q = f.clone()
        else:
            Q = torch.ones_like(C)
        if peepholes:
            K.addcmul_(R, w_co)
            Q.addcmul_(P[:, :, 0], w_ci)
            if nG == 4:
                Q.addcmul_(P[:, :, 1], w_cf)
        dA = torch.empty_like(A)
        da_o_, da_ifg_ = dA[:, :, -1].unbind(0), dA[:, :, :-1].unbind(0)
        da_ = dA.view(T, B, -1).unbind(0)
        R_, K_, P_, Q_, dH_ = R.unbind(0), K.unbind(0), P.unbind(0), Q.unbind(0), \
            dH.unbind(0)
        dh, dc = dh_T + dH[-1], dc_T.clone()
        dc3 = dc[:, None]
        for t in range(T - 1, -1, -1):
            torch.mul(dh, R_[t], out=da_o_[t])
            dc.addcmul_(dh, K_[t])                             # the error carousel
            torch.mul(P_[t], dc3, out=da_ifg_[t])
            dc.mul_(Q_[t])
            dh = torch.addmm(dH_[t - 1], da_[t], W_hh) if t else da_[0] @ W_hh
        # Weight gradients: one product with [x_t, h_{t-1}] for all steps.
        XH = X.new_empty(T, B, I + hid)
        XH[:, :, :I] = X
        XH[0, :, I:] = h0
        XH[1:, :, I:] = Hs[:-1]
        dA2 = dA.view(T * B, -1)
        dW = dA2.t() @ XH.view(T * B, -1)
        db = dA2.sum(0)
        dX = (dA2 @ W_ih).view_as(X) if ctx.needs_input_grad[0] else None
        dw = [None, None, None]
        if peepholes:
            dw[0] = (dA[:, :, 0] * C_prev).sum((0, 1))
            dw[1] = (dA[:, :, 1] * C_prev).sum((0, 1)) if nG == 4 else None
            dw[2] = (dA[:, :, -1] * C).sum((0, 1))
        return dX, dh, dc, dW[:, :I], dW[:, I:], db, db.clone(), *dw


class LSTM(nn.Module):
    """One LSTM layer with optional peepholes and forget gate; see the module doc."""

    def __init__(self, input_size, hidden_size, *, peepholes=False, forget_gate=True,
                 batch_first=False, device=None, dtype=None):
        super().__init__()
        for name, n in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
                raise ValueError(f"{name} must be a positive int, got {n!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.peepholes, self.forget_gate = peepholes, forget_gate
        self.batch_first = batch_first
        G = (4 if forget_gate else 3) * hidden_size
        kw = {"device": device, "dtype": dtype}
        self.W_ih = nn.Parameter(torch.empty(G, input_size, **kw))
        self.W_hh = nn.Parameter(torch.empty(G, hidden_size, **kw))
        self.b_ih = nn.Parameter(torch.empty(G, **kw))
        self.b_hh = nn.Parameter(torch.empty(G, **kw))
        for name in PEEPHOLES:
            use = peepholes and (forget_gate or name != "w_cf")
            setattr(self, name, nn.Parameter(torch.empty(hidden_size, **kw)) if use
                    else None)
        self.reset_parameters()

    def reset_parameters(self):
        k = 1.0 / math.sqrt(self.hidden_size)          # as torch.nn.LSTM
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, peepholes={self.peepholes}, "
                f"forget_gate={self.forget_gate}, batch_first={self.batch_first}")

    def forward(self, X, state=None):
        """X (T, B, I) -> (H (T, B, H), (h_n, c_n) each (1, B, H)), as torch.nn.LSTM."""
        if not isinstance(X, torch.Tensor) or X.dim() != 3:
            raise ValueError("X must be a 3-D tensor (T, B, I), or (B, T, I) with "
                             f"batch_first, got {_describe(X)}")
        if X.shape[2] != self.input_size:
            raise ValueError(f"X must have input_size={self.input_size} features in its "
                             f"last dimension, got shape {tuple(X.shape)}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError("X must have at least one time step and one sequence, got "
                             f"shape {tuple(X.shape)}")
        if X.dtype != self.W_ih.dtype or X.device != self.W_ih.device:
            raise TypeError(f"X must be {self.W_ih.dtype} on {self.W_ih.device} like the "
                            f"parameters, got {X.dtype} on {X.device}")
        if self.batch_first:
            X = X.transpose(0, 1)
        B = X.shape[1]
        h0, c0 = self._initial_state(state, B, X)
        if self.forget_gate and not self.peepholes:
            weights = [self.W_ih, self.W_hh, self.b_ih, self.b_hh]
            Hs, h_n, c_n = torch._VF.lstm(X, (h0, c0), weights, True, 1, 0.0,
                                          self.training, False, False)
        else:
            fn = _FusedPeepholeLSTM if X.device.type == "cpu" and cpu_kernel() \
                else _PeepholeLSTM
            Hs, h_T, c_T = fn.apply(
                X.contiguous(), h0[0], c0[0], self.W_ih, self.W_hh, self.b_ih,
                self.b_hh, self.w_ci, self.w_cf, self.w_co)
            h_n, c_n = h_T[None], c_T[None]
        if self.batch_first:
            Hs = Hs.transpose(0, 1)
        return Hs, (h_n, c_n)

    def _initial_state(self, state, B, X):
        shape = (1, B, self.hidden_size)
        if state is None:
            zeros = X.new_zeros(shape)
            return zeros, zeros
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(f"state must be a pair (h0, c0), got {_describe(state)}")
        for name, s in zip(("h0", "c0"), state):
            if not isinstance(s, torch.Tensor) or tuple(s.shape) != shape:
                raise ValueError(f"state {name} must have shape {shape}, "
                                 f"got {_describe(s)}")
            if s.dtype != X.dtype or s.device != X.device:
                raise TypeError(f"state {name} must be {X.dtype} on {X.device} like X, "
                                f"got {s.dtype} on {s.device}")
        return state

    # ------------------------------------------------------------- conversions

    @classmethod
    def from_numpy(cls, params, *, batch_first=False, device=None):
        """Build from a `numpy_lstm` parameter dict (names and shapes checked)."""
        hidden, forget_gate, peepholes = lstm_layout(params)
        dtype = torch.from_numpy(np.asarray(params["W_ih"])).dtype
        lstm = cls(params["W_ih"].shape[1], hidden, peepholes=peepholes,
                   forget_gate=forget_gate, batch_first=batch_first, device=device,
                   dtype=dtype)
        lstm.load_arrays(params)
        return lstm

    def load_arrays(self, params):
        """Copy a dict of arrays or tensors into the parameters, checking every one."""
        own = dict(self.named_parameters())
        check_keys(params, own)
        with torch.no_grad():
            for name, p in own.items():
                value = torch.as_tensor(params[name])
                if tuple(value.shape) != tuple(p.shape):
                    raise ValueError(f"parameter {name} must have shape "
                                     f"{tuple(p.shape)}, got {tuple(value.shape)}")
                p.copy_(value)

    def to_numpy(self):
        """The parameters as a `numpy_lstm` dict (copies, on the CPU)."""
        return {n: p.detach().cpu().numpy().copy() for n, p in self.named_parameters()}

    @classmethod
    def from_nn_lstm(cls, module):
        """Build from a one-layer, unidirectional `torch.nn.LSTM` with biases."""
        if not isinstance(module, nn.LSTM):
            raise TypeError(f"module must be a torch.nn.LSTM, got {type(module).__name__}")
        for attr, want in (("num_layers", 1), ("bidirectional", False), ("bias", True),
                           ("proj_size", 0)):
            if getattr(module, attr) != want:
                raise ValueError(f"module must have {attr}={want}, got "
                                 f"{getattr(module, attr)}")
        ref = module.weight_ih_l0
        lstm = cls(module.input_size, module.hidden_size, batch_first=module.batch_first,
                   device=ref.device, dtype=ref.dtype)
        lstm.load_arrays({n: getattr(module, nn_name) for n, nn_name in NN_NAMES.items()})
        return lstm

    def to_nn_lstm(self):
        """A `torch.nn.LSTM` with the same weights (only without peepholes)."""
        if self.peepholes or not self.forget_gate:
            raise ValueError("torch.nn.LSTM has a forget gate and no peepholes: cannot "
                             f"convert an LSTM with peepholes={self.peepholes}, "
                             f"forget_gate={self.forget_gate}")
        module = nn.LSTM(self.input_size, self.hidden_size, batch_first=self.batch_first,
                         device=self.W_ih.device, dtype=self.W_ih.dtype)
        with torch.no_grad():
            for name, nn_name in NN_NAMES.items():
                getattr(module, nn_name).copy_(getattr(self, name))
        return module


def _describe(x):
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)}"
    return f"{type(x).__name__}"


class SequenceModel(nn.Module):
    """An LSTM (this module's) or tanh RNN (torch.nn.RNN) with a linear readout.

    The twin of `lstm_core.train.SequenceModel`: forward(X, state=None) returns
    (Y (T, N, O), state), and `from_numpy` / `to_numpy` copy its parameter dict
    (the recurrent layer's keys plus W_hy (O, H), b_y (O,)).
    """

    def __init__(self, input_size, hidden_size, output_size, *, cell="lstm",
                 peepholes=False, forget_gate=True, device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        if cell == "lstm":
            self.rnn = LSTM(input_size, hidden_size, peepholes=peepholes,
                            forget_gate=forget_gate, **kw)
        elif cell == "rnn":
            self.rnn = nn.RNN(input_size, hidden_size, **kw)
        else:
            raise ValueError(f"cell must be 'lstm' or 'rnn', got {cell!r}")
        self.cell = cell
        self.readout = nn.Linear(hidden_size, output_size, **kw)

    def forward(self, X, state=None):
        H, state = self.rnn(X, state)
        return self.readout(H), state

    def _names(self):
        rnn = NN_NAMES if self.cell == "rnn" else {n: n for n, _ in
                                                   self.rnn.named_parameters()}
        return ({n: f"rnn.{t}" for n, t in rnn.items()}
                | {"W_hy": "readout.weight", "b_y": "readout.bias"})

    @classmethod
    def from_numpy(cls, model):
        """Copy a `lstm_core.train.SequenceModel` (same cell, layout and dtype)."""
        p = model.params
        if model.cell == "lstm":
            hidden, forget_gate, peepholes = lstm_layout(model.core())
        else:
            hidden, forget_gate, peepholes = p["W_hh"].shape[1], True, False
        out = cls(p["W_ih"].shape[1], hidden, p["W_hy"].shape[0], cell=model.cell,
                  peepholes=peepholes, forget_gate=forget_gate,
                  dtype=torch.from_numpy(p["W_ih"]).dtype)
        out.load_arrays(p)
        return out

    def load_arrays(self, params):
        """Copy a NumPy-named dict of arrays into the parameters, checking each."""
        names, own = self._names(), dict(self.named_parameters())
        check_keys(params, names)
        with torch.no_grad():
            for name, target in names.items():
                value = torch.as_tensor(params[name])
                if value.shape != own[target].shape:
                    raise ValueError(f"parameter {name} must have shape "
                                     f"{tuple(own[target].shape)}, got {tuple(value.shape)}")
                own[target].copy_(value)

    def to_numpy(self):
        """The parameters as a NumPy dict with the names of train.SequenceModel."""
        own = dict(self.named_parameters())
        return {n: own[t].detach().cpu().numpy().copy() for n, t in self._names().items()}
