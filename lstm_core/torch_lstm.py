"""The accelerated PyTorch twin of `lstm_core.numpy_lstm`.

`LSTM` is a `torch.nn.Module` whose parameters have the names and shapes of the
NumPy dict (W_ih (4H, I), W_hh (4H, H), b_ih, b_hh (4H,), optional w_ci, w_cf, w_co
(H,), gate order (i, f, g, o)), so weights copy 1:1 between NumPy, this module and
`torch.nn.LSTM`. Input is time-major X (T, B, I) unless batch_first=True.

Two paths, both device-agnostic (CPU, CUDA) and dtype-agnostic (float32, float64):
- no peepholes, forget gate on: torch's fused LSTM kernel (`torch._VF.lstm`, what
  `torch.nn.LSTM` itself calls; oneDNN on the CPU, cuDNN on CUDA), fed with our
  parameters. On CUDA they are kept flattened as nn.LSTM keeps its own
  (`flatten_parameters`: the four tensors are views into one buffer in cuDNN's
  layout), so cuDNN reads them in place instead of copying them on every call;
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

The LSTM variants of Greff et al. 2017 and the GRU are in `lstm_core.torch_variants`
(`LSTMVariant`, `GRU`); `SequenceModel` below builds any of them.
"""
import math

import numpy as np
import torch
from torch import nn

from . import validate as V
from .model import check_cell
from .torch_peephole import _FusedPeepholeLSTM, _PeepholeLSTM, cpu_kernel  # noqa: F401
from .validate import PEEPHOLES, check_keys, lstm_layout

NN_NAMES = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0",
            "b_hh": "bias_hh_l0"}


class LSTM(nn.Module):
    """One LSTM layer with optional peepholes and forget gate; see the module doc."""

    def __init__(self, input_size, hidden_size, *, peepholes=False, forget_gate=True,
                 batch_first=False, device=None, dtype=None):
        super().__init__()
        self.input_size = V.positive_int("input_size", input_size)
        self.hidden_size = V.positive_int("hidden_size", hidden_size)
        self.peepholes = V.boolean("peepholes", peepholes)
        self.forget_gate = V.boolean("forget_gate", forget_gate)
        self.batch_first = V.boolean("batch_first", batch_first)
        G = (4 if forget_gate else 3) * hidden_size
        kw = {"device": V.torch_device("device", device),
              "dtype": V.torch_dtype("dtype", dtype)}
        self.W_ih = nn.Parameter(torch.empty(G, input_size, **kw))
        self.W_hh = nn.Parameter(torch.empty(G, hidden_size, **kw))
        self.b_ih = nn.Parameter(torch.empty(G, **kw))
        self.b_hh = nn.Parameter(torch.empty(G, **kw))
        for name in PEEPHOLES:
            use = peepholes and (forget_gate or name != "w_cf")
            setattr(self, name, nn.Parameter(torch.empty(hidden_size, **kw)) if use
                    else None)
        self.reset_parameters()
        self.flatten_parameters()

    def flatten_parameters(self):
        """On CUDA, without peepholes: make W_ih, W_hh, b_ih, b_hh views into one
        buffer in cuDNN's layout, as `torch.nn.LSTM.flatten_parameters` does for its
        own weights (same names, shapes and values; the optimizer and state dict see
        the same Parameters). Otherwise, or if cuDNN cannot take them, a no-op.
        Called on construction and after every .to()/.cuda()/.double()."""
        if self.peepholes or not self.forget_gate:
            return
        weights = [self.W_ih, self.W_hh, self.b_ih, self.b_hh]
        if not all(isinstance(w, torch.Tensor) and w.is_cuda and w.dtype == weights[0]
                   .dtype and torch.backends.cudnn.is_acceptable(w) for w in weights):
            return
        if len({w.data_ptr() for w in weights}) != len(weights):
            return                                      # shared tensors: leave them
        import torch.backends.cudnn.rnn as cudnn_rnn
        with torch.cuda.device_of(weights[0]), torch.no_grad():
            if torch._use_cudnn_rnn_flatten_weight():
                torch._cudnn_rnn_flatten_weight(
                    weights, 4, self.input_size, cudnn_rnn.get_cudnn_mode("LSTM"),
                    self.hidden_size, 0, 1, False, False)

    def is_flat(self):
        """True if the four weights are views into one buffer (CUDA after
        `flatten_parameters`): what cuDNN needs to read them without a copy."""
        weights = [self.W_ih, self.W_hh, self.b_ih, self.b_hh]
        storages = {w.untyped_storage().data_ptr() for w in weights}
        return len(storages) == 1

    def _apply(self, fn, recurse=True):
        out = super()._apply(fn, recurse)           # .to(), .cuda(), .double(), ...
        self.flatten_parameters()
        return out

    def reset_parameters(self):
        k = 1.0 / math.sqrt(self.hidden_size)          # as torch.nn.LSTM
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)

    def extra_repr(self):
        return (f"{self.input_size}, {self.hidden_size}, peepholes={self.peepholes}, "
                f"forget_gate={self.forget_gate}, batch_first={self.batch_first}")

    def forward(self, X, state=None):
        """X (T, B, I) -> (H (T, B, H), (h_n, c_n) each (1, B, H)), as torch.nn.LSTM.

        Every argument and parameter is checked first (shapes, dtype, device,
        layout), so no kernel ever sees a tensor of the wrong shape; on the CPU also
        that X, the state and the parameters are finite (on CUDA that check would
        cost a device synchronisation: there NaN in, NaN out, as in torch.nn.LSTM).
        """
        ref = self._check_parameters()
        _check_input(X, ref, self.input_size,
                     "(B, T, I)" if self.batch_first else "(T, B, I)")
        if self.batch_first:
            X = X.transpose(0, 1)
        B = X.shape[1]
        h0, c0 = self._initial_state(state, B, X)
        _check_finite([("X", X), ("state h0", h0), ("state c0", c0),
                       *((f"parameter {n}", p) for n, p in self.named_parameters())])
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

    def _check_parameters(self):
        """Every parameter still has its shape, one dtype, one device, dense layout
        (a parameter replaced through .data would otherwise reach the kernel)."""
        G, H = (4 if self.forget_gate else 3) * self.hidden_size, self.hidden_size
        shapes = {"W_ih": (G, self.input_size), "W_hh": (G, H), "b_ih": (G,),
                  "b_hh": (G,)}
        if self.peepholes:
            shapes |= {n: (H,) for n in PEEPHOLES if self.forget_gate or n != "w_cf"}
        return _check_parameters(self, shapes)

    def _initial_state(self, state, B, X):
        shape = (1, B, self.hidden_size)
        if state is None:
            zeros = X.new_zeros(shape)
            return zeros, zeros
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(f"state must be a pair (h0, c0), got {V.describe(state)}")
        for name, s in zip(("h0", "c0"), state):
            V.tensor(f"state {name}", s, shape, dtype=X.dtype, device=X.device,
                     dims="(1, B, H)")
        return tuple(state)

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
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict of arrays or tensors, got "
                            f"{V.describe(params)}")
        check_keys(params, own)
        with torch.no_grad():
            for name, p in own.items():
                p.copy_(_checked_value(name, params[name], p))

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


def _checked_value(name, value, p):
    """value (array or tensor) as a tensor of p's shape, dtype and device, if it is
    float32/64 and finite in p's dtype (1e300 is finite in float64, not float32)."""
    if isinstance(value, np.ndarray):
        V.array(f"params[{name!r}]", value, nonempty=False, finite=False)
        value = torch.from_numpy(value)
    else:
        V.tensor(f"params[{name!r}]", value)
    if tuple(value.shape) != tuple(p.shape):
        raise ValueError(f"parameter {name} must have shape {tuple(p.shape)}, got "
                         f"{tuple(value.shape)}")
    value = value.to(device=p.device, dtype=p.dtype)
    if not torch.isfinite(value).all():
        raise ValueError(f"params[{name!r}] must hold finite values in {p.dtype} (the "
                         "parameters' dtype), got NaN or infinity")
    return value


def _check_parameters(module, shapes):
    """module's parameters are exactly `shapes` {name: shape}, dense, of one dtype
    and device (a parameter replaced through .data or set to None would otherwise
    reach a kernel); returns the first one."""
    own = dict(module.named_parameters())
    if set(own) != set(shapes):
        raise ValueError(f"the parameters must be {sorted(shapes)}, got {sorted(own)} "
                         "(one was set to None, added or removed)")
    ref = own[next(iter(shapes))]
    for name, shape in shapes.items():
        V.tensor(f"parameter {name}", own[name], shape, dtype=ref.dtype,
                 device=ref.device)
    return ref


def _check_input(X, ref, input_size, dims):
    V.tensor("X", X, (None, None, input_size), dtype=ref.dtype, device=ref.device,
             dims=dims)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError("X must have at least one time step and one sequence, got "
                         f"shape {tuple(X.shape)}")


def _check_finite(named):
    """Tensors on the CPU hold finite values (on CUDA, checking every forward would
    cost a device synchronisation: there NaN in, NaN out, as in torch.nn.LSTM)."""
    for name, t in named:
        if t.device.type == "cpu" and not torch.isfinite(t).all():
            raise ValueError(f"{name} must hold finite values, got NaN or infinity")


class SequenceModel(nn.Module):
    """An LSTM (this module's), tanh RNN (torch.nn.RNN), LSTM variant or GRU
    (`lstm_core.torch_variants`: cell="lstm", variant="cifg"; cell="gru") with a
    linear readout.

    The twin of `lstm_core.train.SequenceModel`: forward(X, state=None) returns
    (Y (T, N, O), state), and `from_numpy` / `to_numpy` copy its parameter dict
    (the recurrent layer's keys plus W_hy (O, H), b_y (O,)).
    """

    def __init__(self, input_size, hidden_size, output_size, *, cell="lstm",
                 variant=None, peepholes=False, forget_gate=True, device=None,
                 dtype=None):
        super().__init__()
        check_cell(cell, variant, peepholes, forget_gate)
        output_size = V.positive_int("output_size", output_size)
        V.lstm_options(cell, peepholes, forget_gate)
        kw = {"device": V.torch_device("device", device),
              "dtype": V.torch_dtype("dtype", dtype)}
        if variant is not None or cell == "gru":
            from . import torch_variants                        # it imports this module
            self.rnn = torch_variants.GRU(input_size, hidden_size, **kw) \
                if cell == "gru" else torch_variants.LSTMVariant(
                    input_size, hidden_size, variant=variant, **kw)
        elif cell == "lstm":
            self.rnn = LSTM(input_size, hidden_size, peepholes=peepholes,
                            forget_gate=forget_gate, **kw)
        else:
            self.rnn = nn.RNN(V.positive_int("input_size", input_size),
                              V.positive_int("hidden_size", hidden_size), **kw)
        self.cell, self.variant = cell, variant
        self.readout = nn.Linear(hidden_size, output_size, **kw)

    def forward(self, X, state=None):
        """X (T, N, I) -> (Y (T, N, O), state). The LSTM checks its arguments and
        parameters; here the same is done for the tanh RNN and the readout."""
        r, O = self.rnn, self.readout.out_features
        H = r.hidden_size
        if self.cell == "rnn":
            ref = _check_parameters(r, {"weight_ih_l0": (H, r.input_size),
                                        "weight_hh_l0": (H, H), "bias_ih_l0": (H,),
                                        "bias_hh_l0": (H,)})
            _check_input(X, ref, r.input_size, "(T, N, I)")
            named = [("X", X), *((f"parameter rnn.{n}", p)
                                 for n, p in r.named_parameters())]
            if state is not None:
                V.tensor("state", state, (1, X.shape[1], H), dtype=ref.dtype,
                         device=ref.device, dims="(1, N, H)")
                named.append(("state", state))
            _check_finite(named)
        else:
            ref = r.W_ih
        for name, p in self.readout.named_parameters():
            V.tensor(f"parameter readout.{name}", p, (O, H) if name == "weight" else
                     (O,), dtype=ref.dtype, device=ref.device)
        _check_finite((f"parameter readout.{n}", p)
                      for n, p in self.readout.named_parameters())
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
        from .model import SequenceModel as NumpyModel
        if not isinstance(model, NumpyModel):
            raise TypeError("model must be a lstm_core.train.SequenceModel (for a dict "
                            "of arrays, build the model and use load_arrays), got "
                            f"{V.describe(model)}")
        p = model.params
        if model.cell == "lstm" and model.variant is None:
            hidden, forget_gate, peepholes = lstm_layout(model.core())
        else:
            hidden, forget_gate, peepholes = p["W_hh"].shape[1], True, False
        out = cls(p["W_ih"].shape[1], hidden, p["W_hy"].shape[0], cell=model.cell,
                  variant=model.variant, peepholes=peepholes, forget_gate=forget_gate,
                  dtype=torch.from_numpy(p["W_ih"]).dtype)
        out.load_arrays(p)
        return out

    def load_arrays(self, params):
        """Copy a NumPy-named dict of arrays into the parameters, checking each."""
        names, own = self._names(), dict(self.named_parameters())
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict of arrays or tensors, got "
                            f"{V.describe(params)}")
        check_keys(params, names)
        with torch.no_grad():
            for name, target in names.items():
                own[target].copy_(_checked_value(name, params[name], own[target]))

    def to_numpy(self):
        """The parameters as a NumPy dict with the names of train.SequenceModel."""
        own = dict(self.named_parameters())
        return {n: own[t].detach().cpu().numpy().copy() for n, t in self._names().items()}
