"""Argument checks at lstm_core's public boundary, with one message style.

Every check raises TypeError for the wrong kind of thing (not an array, not an
int, a dtype other than float32/float64) and ValueError for the right kind with a
wrong value (shape, sign, NaN), and the message names the argument, what was
expected and what came: "X must have 3 dimensions (T, B, I), got a float64 array
of shape (5, 3)". Checks return their (possibly normalised) argument, so they read
as one line at the top of a function.

Only float32 and float64 are computed on (NumPy and PyTorch alike); every other
dtype, complex and integer ones included, is refused by name. Arrays with a
zero-length dimension are refused where a step or a sequence is needed.

Also here: the layout checks of the parameter dicts (`lstm_layout`, `rnn_layout`,
`gated_layout` for the LSTM variants and the GRU, `check_keys`), so that the model
modules hold the equations only. `import
lstm_core.validate` does not import torch; the tensor checks import it when used.
"""
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
PEEPHOLES = ("w_ci", "w_cf", "w_co")


def describe(x):
    """A short description of x for error messages."""
    if isinstance(x, np.ndarray):
        return f"{_a(str(x.dtype))} {x.dtype} array of shape {x.shape}"
    if type(x).__module__.startswith("torch") and hasattr(x, "shape"):
        dtype = str(x.dtype).removeprefix("torch.")
        return f"{_a(dtype)} {dtype} tensor of shape {tuple(x.shape)} on {x.device}"
    if isinstance(x, (bool, numbers.Number, str)) or x is None:
        return f"{type(x).__name__} {x!r}"
    return type(x).__name__


def _a(word):
    return "an" if word[:1] in ("a", "e", "i", "o") else "a"


# ----------------------------------------------------------------------------- scalars

def positive_int(name, n):
    """n as an int, if it is a positive integer (not a bool)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {describe(n)}")
    if n <= 0:
        raise ValueError(f"{name} must be a positive int, got {n}")
    return int(n)


def nonnegative_int(name, n):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 0, got {describe(n)}")
    if n < 0:
        raise ValueError(f"{name} must be an int >= 0, got {n}")
    return int(n)


def number(name, x, *, low=None, high=None, low_open=False, high_open=False):
    """x as a float, if it is a finite real number in the given interval."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(x)}")
    try:
        x = float(x)
    except OverflowError:                    # an int beyond float's range
        raise ValueError(f"{name} must be a finite number, got an int too large for "
                         f"a float ({int(x).bit_length()} bits)") from None
    lo = "(" if low_open or low is None else "["
    hi = ")" if high_open or high is None else "]"
    interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    bad = not np.isfinite(x)
    if low is not None:
        bad |= x <= low if low_open else x < low
    if high is not None:
        bad |= x >= high if high_open else x > high
    if bad:
        raise ValueError(f"{name} must be a finite number in {interval}, got {x!r}")
    return x


def boolean(name, x):
    """x, if it is True or False (not 0, 1, "no" or None: those are not flags)."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {describe(x)}")
    return bool(x)


def lstm_options(cell, peepholes, forget_gate):
    """peepholes and forget_gate are flags, and options of cell="lstm" only."""
    for name, flag, default in (("peepholes", peepholes, False),
                                ("forget_gate", forget_gate, True)):
        if boolean(name, flag) != default and cell != "lstm":
            raise ValueError(f"{name}={flag} is an option of cell='lstm'; "
                             f"cell={cell!r} has no such option")


def one_of(name, x, options):
    if not isinstance(x, str) or x not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {describe(x)}")
    return x


def generator(name, rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator "
                        f"(np.random.default_rng(seed)), got {describe(rng)}")
    return rng


def float_dtype(name, dtype):
    """np.float32 or np.float64 as a np.dtype; anything else is refused by name."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be float32 or float64, got {describe(dtype)}") \
            from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    return dt


# ----------------------------------------------------------------------------- arrays

def array(name, a, ndim=None, *, shape=None, dtype=None, finite=True, nonempty=True,
          dims=None):
    """a, if it is a float32/float64 NumPy array with the given properties.

    shape may hold None for "any length"; dims names the axes in messages
    ("(T, B, I)"); dtype, if given, is the one dtype allowed.
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {describe(a)}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {describe(a)}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} must be {np.dtype(dtype)} like the parameters, got "
                        f"{describe(a)}; convert it with .astype(np.{np.dtype(dtype)})")
    if shape is not None:
        ndim = len(shape)
    axes = f" {dims}" if dims else ""
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions{axes}, got {describe(a)}")
    if shape is not None and any(s is not None and s != n for s, n in zip(shape, a.shape)):
        raise ValueError(f"{name} must have shape {_want(shape, dims)}, got "
                         f"{describe(a)}")
    if nonempty and a.size == 0:
        raise ValueError(f"{name} must not be empty (every dimension >= 1), "
                         f"got {describe(a)}")
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{name} must hold finite values, got NaN or infinity in "
                         f"{describe(a)}")
    return a


def _want(shape, dims):
    """The expected shape in words: (T, B, 4) from shape (None, None, 4) and dims."""
    names = dims.strip("()").split(", ") if dims else []
    if len(names) != len(shape):
        names = ["*"] * len(shape)
    parts = [n if s is None else str(s) for s, n in zip(shape, names)]
    return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")


def nonnegative_weights(name, w):
    """w, if it is finite, >= 0 everywhere and not all zero (a mask or weights)."""
    if (w < 0).any():
        raise ValueError(f"{name} must be >= 0 everywhere (1 for real steps, 0 for "
                         f"padding), got a minimum of {float(w.min())}")
    if not w.any():
        raise ValueError(f"{name} must have at least one positive entry, got all zeros")
    return w


# ----------------------------------------------------------------------------- tensors

def tensor(name, t, shape=None, *, dtype=None, device=None, dims=None):
    """t, if it is a dense torch tensor of float32/float64 with these properties."""
    import torch

    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {describe(t)}")
    if t.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {t.layout}")
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be float32 or float64, got {describe(t)}")
    if (dtype is not None and t.dtype != dtype) or (device is not None
                                                    and t.device != device):
        raise TypeError(f"{name} must be {dtype} on {device} like the parameters, "
                        f"got {describe(t)}")
    if shape is not None and (t.dim() != len(shape) or any(
            s is not None and s != n for s, n in zip(shape, t.shape))):
        raise ValueError(f"{name} must have shape {_want(shape, dims)}, got "
                         f"{describe(t)}")
    return t


def torch_device(name, device):
    """device as a torch.device (None stays None: torch's default device)."""
    import torch

    if device is None:
        return None
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{name} must be a torch device such as 'cpu', 'cuda' or "
                         f"'cuda:0', got {describe(device)}") from None


def torch_dtype(name, dtype):
    import torch

    if dtype is None:
        return None
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be torch.float32 or torch.float64, got {dtype}")
    return dtype


# ----------------------------------------------------------------------------- dicts

def check_keys(params, expected, name="params"):
    """Raise a ValueError naming the missing and extra keys of a parameter dict."""
    if set(params) != set(expected):
        raise ValueError(f"{name} must have exactly the keys {sorted(expected)}: missing "
                         f"{sorted(set(expected) - set(params))}, extra "
                         f"{sorted(set(params) - set(expected), key=str)}")


def _param_dict(params):
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {describe(params)}")
    for key in ("W_hh", "W_ih"):
        if key not in params:
            raise ValueError(f"params is missing the key {key!r}, got keys "
                             f"{sorted(params, key=str)}")
    return array("params['W_hh']", params["W_hh"], 2)


def _same_dtype(params):
    dtypes = {k: v.dtype for k, v in params.items()}
    if len(set(dtypes.values())) > 1:
        raise TypeError(f"params must all have one dtype, got {dtypes}")
    return next(iter(dtypes.values()))


def lstm_layout(params):
    """Check an LSTM parameter dict; return (hidden_size, forget_gate, peepholes)."""
    W_hh = _param_dict(params)
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
    array("params['W_ih']", params["W_ih"], shape=(G, None), dims="(nG*H, I)")
    for key in ("b_ih", "b_hh"):
        array(f"params[{key!r}]", params[key], shape=(G,))
    for key in peep if peepholes else ():
        array(f"params[{key!r}]", params[key], shape=(hidden,))
    _same_dtype(params)
    return hidden, forget_gate, peepholes


def gated_layout(params, gates, vectors=(), what="this cell"):
    """Check the parameter dict of a gated cell; return its hidden_size.

    gates names the blocks of H rows of W_ih (nG*H, I), W_hh (nG*H, H), b_ih and
    b_hh (nG*H,), in order ("ifgo", "rzn"); vectors names the (H,) peepholes.
    """
    W_hh = _param_dict(params)
    check_keys(params, {"W_ih", "W_hh", "b_ih", "b_hh", *vectors})
    nG, rows = len(gates), ", ".join(gates)
    hidden, rest = divmod(W_hh.shape[0], nG)
    if rest or hidden != W_hh.shape[1]:
        raise ValueError(f"params['W_hh'] must have shape ({nG}H, H) for {what} "
                         f"(gate rows {rows}), got {W_hh.shape}")
    G = nG * hidden
    array("params['W_ih']", params["W_ih"], shape=(G, None), dims=f"({nG}H, I)")
    for key in ("b_ih", "b_hh"):
        array(f"params[{key!r}]", params[key], shape=(G,))
    for key in vectors:
        array(f"params[{key!r}]", params[key], shape=(hidden,))
    _same_dtype(params)
    return hidden


def rnn_layout(params):
    """Check an RNN parameter dict; return its hidden_size."""
    W_hh = _param_dict(params)
    check_keys(params, {"W_ih", "W_hh", "b_ih", "b_hh"})
    hidden = W_hh.shape[0]
    array("params['W_hh']", W_hh, shape=(hidden, hidden), dims="(H, H)")
    array("params['W_ih']", params["W_ih"], shape=(hidden, None), dims="(H, I)")
    for key in ("b_ih", "b_hh"):
        array(f"params[{key!r}]", params[key], shape=(hidden,))
    _same_dtype(params)
    return hidden


def sequence(name, X, params, dims="(T, B, I)"):
    """X (T, B, I) with I = params' input size and params' dtype; returns (T, B)."""
    W_ih = params["W_ih"]
    array(name, X, shape=(None, None, W_ih.shape[1]), dtype=W_ih.dtype, dims=dims)
    return X.shape[:2]


def state(name, s, B, hidden, dtype):
    """An initial state or state gradient (B, H), zeros if None."""
    if s is None:
        return np.zeros((B, hidden), dtype)
    return array(name, s, shape=(B, hidden), dtype=dtype, dims="(B, H)")
