"""Data sets for the book: the embedded Reber grammar, sine waves, random walks.

Conventions: arrays are time-major, `(T, B, ...)` with time first, as
`torch.nn.LSTM` expects with `batch_first=False`; floating arrays are float64
unless a `dtype` is given. Randomness comes only from an explicit
`numpy.random.Generator` passed as `rng`. Symbols are one-hot in the order of
`SYMBOLS`.

References:
- A. S. Reber (1967), "Implicit learning of artificial grammars": the grammar.
- S. E. Fahlman (1991), "The recurrent cascade-correlation architecture": the
  embedded version, whose second symbol must be repeated second-to-last.
- S. Hochreiter & J. Schmidhuber (1997), "Long short-term memory", sec. 5.1 and
  fig. 3: the embedded Reber task with next-symbol targets.
- F. A. Gers, J. Schmidhuber & F. Cummins (2000), "Learning to forget": the
  continual stream of embedded Reber strings with no resets.
- ReNom RNN/LSTM tutorial (seed 002): look-back windows of sin on [-10, 10].
- pytorch/examples `time_sequence_prediction/generate_sine_wave.py`: randomly
  phase-shifted sine waves for next-step prediction.
"""

from dataclasses import dataclass

import numpy as np

from . import validate as V

SYMBOLS = "BTSXPVE"
_INDEX = {symbol: k for k, symbol in enumerate(SYMBOLS)}

# Reber graph (Hochreiter & Schmidhuber 1997 fig. 3): node -> [(symbol, next node)].
# Node 0 is the start, node 7 the end; the graph is deterministic (no node has
# two edges with the same symbol), so a string fixes its path.
REBER = {
    0: [("B", 1)],
    1: [("T", 2), ("P", 3)],
    2: [("S", 2), ("X", 4)],
    3: [("T", 3), ("V", 5)],
    4: [("X", 3), ("S", 6)],
    5: [("P", 4), ("V", 6)],
    6: [("E", 7)],
    7: [],
}


def _embed(inner):
    """Embedded grammar B (T|P) <inner> (same T|P) E; nodes ("T", k) copy inner."""
    table = {"start": [("B", "open")], "open": [(b, (b, 0)) for b in "TP"]}
    for branch in "TP":
        for node, edges in inner.items():
            edges = [(sym, (branch, nxt)) for sym, nxt in edges]
            # the inner end node hands over to the repeated branch symbol
            table[(branch, node)] = edges or [(branch, "close")]
    table["close"] = [("E", "end")]
    table["end"] = []
    return table


EMBEDDED_REBER = _embed(REBER)
# A continual stream: after a string's final E the next string starts with B.
_STREAM = {**EMBEDDED_REBER, "end": [("B", "open")]}


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )


def _check_pos_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")


def _check_str(name, s):
    if not isinstance(s, str):
        raise TypeError(f"{name} must be a str, got {type(s).__name__}")


def _generate(table, start, rng):
    state, out = start, []
    while table[state]:
        edges = table[state]
        symbol, state = edges[rng.integers(len(edges))]  # each edge equally likely
        out.append(symbol)
    return "".join(out)


def _walk(table, start, s):
    """States after each symbol of s, or None if some symbol is not allowed."""
    state, states = start, []
    for symbol in s:
        state = dict(table[state]).get(symbol)
        if state is None:
            return None
        states.append(state)
    return states


def _legal_next(table, start, end, name, s):
    """Sets of legal next symbols after s[:t+1], t = 0..len(s)-2; checks s."""
    _check_str(name, s)
    foreign = sorted(set(s) - set(SYMBOLS))
    if foreign:
        raise ValueError(f"{name} must use only symbols {SYMBOLS!r}, got {foreign}")
    states = _walk(table, start, s)
    if not s or states is None or states[-1] != end:
        raise ValueError(f"{name} must be a string of the grammar, got {s!r}")
    return [{symbol for symbol, _ in table[state]} for state in states[:-1]]


def _grammar_next(s, embedded, name):
    if embedded:
        return _legal_next(EMBEDDED_REBER, "start", "end", name, s)
    return _legal_next(REBER, 0, 7, name, s)


def reber(rng):
    """One Reber string, e.g. 'BTSSXXTVVE'; each branch has probability 1/2."""
    _check_rng(rng)
    return _generate(REBER, 0, rng)


def embedded_reber(rng):
    """One embedded Reber string, 'B' + b + reber + b + 'E' with b in {T, P}."""
    _check_rng(rng)
    return _generate(EMBEDDED_REBER, "start", rng)


def is_reber(s):
    """True if s is a string of the Reber grammar."""
    _check_str("s", s)
    states = _walk(REBER, 0, s)
    return bool(s) and states is not None and states[-1] == 7


def is_embedded_reber(s):
    """True if s is a string of the embedded Reber grammar."""
    _check_str("s", s)
    states = _walk(EMBEDDED_REBER, "start", s)
    return bool(s) and states is not None and states[-1] == "end"


def next_symbols(s, embedded=True):
    """Legal next symbols after each prefix s[:t+1], t = 0..len(s)-2.

    For an embedded string the set at t = len(s) - 3 (after the inner E) is
    {s[1]}: the long-range dependency. Raises ValueError if s is not valid.
    """
    return _grammar_next(s, V.boolean("embedded", embedded), "s")


def _one_hot_rows(out, column, s):
    """Write one-hot rows of s into out[:len(s), column]."""
    out[np.arange(len(s)), column, [_INDEX[c] for c in s]] = 1.0


def _multi_hot_rows(out, column, sets):
    for t, legal in enumerate(sets):
        out[t, column, [_INDEX[c] for c in legal]] = 1.0


def encode_strings(strings, embedded=True, dtype=np.float64):
    """Next-symbol prediction batch from grammar strings, zero-padded.

    Returns X (T, B, 7) one-hot of s[:-1], Y (T, B, 7) multi-hot of the legal
    next symbols, mask (T, B) 1.0 on real steps, with T = longest len(s) - 1.
    For a string b of length L, X[L-3, b] is the inner E and Y[L-3, b] is the
    one-hot of s[1]: the second-to-last symbol (see `second_to_last_step`).
    """
    if not isinstance(strings, (list, tuple)):
        raise TypeError(f"strings must be a list of str, got {type(strings).__name__}")
    if len(strings) == 0:
        raise ValueError("strings must be a non-empty list of str, got an empty one")
    dtype = V.float_dtype("dtype", dtype)
    embedded = V.boolean("embedded", embedded)
    sets = [_grammar_next(s, embedded, f"strings[{b}]") for b, s in enumerate(strings)]
    T, B = max(len(s) for s in strings) - 1, len(strings)
    X = np.zeros((T, B, len(SYMBOLS)), dtype=dtype)  # (T, B, 7)
    Y = np.zeros((T, B, len(SYMBOLS)), dtype=dtype)  # (T, B, 7)
    mask = np.zeros((T, B), dtype=dtype)  # (T, B)
    for b, s in enumerate(strings):
        _one_hot_rows(X, b, s[:-1])
        _multi_hot_rows(Y, b, sets[b])
        mask[: len(s) - 1, b] = 1.0
    return X, Y, mask


def second_to_last_step(strings):
    """Step t = len(s) - 3 of each string, whose target is s[-2], shape (B,)."""
    if not isinstance(strings, (list, tuple)) or len(strings) == 0:
        raise ValueError(f"strings must be a non-empty list of str, got {strings!r}")
    for b, s in enumerate(strings):
        _check_str(f"strings[{b}]", s)
        if len(s) < 3:
            raise ValueError(f"strings[{b}] must have length >= 3, got {s!r}")
    return np.array([len(s) - 3 for s in strings], dtype=np.int64)


def decode(onehot):
    """String of the symbols in one-hot rows (T, 7); all-zero (padding) rows skip."""
    if not isinstance(onehot, np.ndarray) or not (
            np.issubdtype(onehot.dtype, np.number) or onehot.dtype == bool):
        raise TypeError(f"onehot must be a NumPy array of numbers, got "
                        f"{V.describe(onehot)}")
    if onehot.ndim != 2 or onehot.shape[1] != len(SYMBOLS):
        raise ValueError(f"onehot must have shape (T, 7), got {onehot.shape}")
    if not np.isfinite(onehot).all():
        raise ValueError("onehot must hold finite values, got NaN or infinity")
    return "".join(SYMBOLS[k] for k, row in zip(onehot.argmax(1), onehot) if row.any())


def reber_stream(rng, n_strings):
    """n_strings embedded Reber strings joined with no separator (no resets)."""
    _check_rng(rng)
    _check_pos_int("n_strings", n_strings)
    return "".join(embedded_reber(rng) for _ in range(n_strings))


def encode_stream(s, dtype=np.float64):
    """One continual stream as a batch of one: X, Y (T, 1, 7), T = len(s) - 1.

    X is the one-hot of s[:-1]; Y the multi-hot of the legal next symbols,
    which after each string's final E is {B}.
    """
    dtype = V.float_dtype("dtype", dtype)
    sets = _legal_next(_STREAM, "start", "end", "s", s)
    X = np.zeros((len(s) - 1, 1, len(SYMBOLS)), dtype=dtype)  # (T, 1, 7)
    Y = np.zeros_like(X)  # (T, 1, 7)
    _one_hot_rows(X, 0, s[:-1])
    _multi_hot_rows(Y, 0, sets)
    return X, Y


@dataclass(frozen=True, eq=False)
class SineWindows:
    """Look-back windows of a sine curve, split in order into train and test."""

    x: np.ndarray  # (n_points,) sample positions
    y: np.ndarray  # (n_points,) sin(x)
    X_train: np.ndarray  # (look_back, train_size, 1) time-major windows
    y_train: np.ndarray  # (train_size, 1) the value after each window
    X_test: np.ndarray  # (look_back, test_size, 1)
    y_test: np.ndarray  # (test_size, 1)
    look_back: int
    train_size: int


def sine_windows(n_points=50, x_range=(-10.0, 10.0), look_back=5, train_ratio=0.5):
    """The seed tutorial's data: windows y[i:i+look_back] -> y[i+look_back].

    With the defaults there are 45 windows, the first int(45 * 0.5) = 22 train
    and the other 23 test, as the tutorial prints ("train size : 22, test size
    : 23"). Windows are returned time-major, one value per step.
    """
    _check_pos_int("n_points", n_points)
    if isinstance(look_back, bool) or not isinstance(look_back, (int, np.integer)):
        raise TypeError(f"look_back must be an int, got {type(look_back).__name__}")
    if not 0 < look_back < n_points:
        raise ValueError(
            f"look_back must be a positive int smaller than n_points ({n_points}), "
            f"got {look_back}"
        )
    if not isinstance(x_range, (tuple, list)) or len(x_range) != 2:
        raise TypeError(f"x_range must be a pair (low, high), got {V.describe(x_range)}")
    low, high = (V.number(f"x_range[{k}]", v) for k, v in enumerate(x_range))
    if not low < high:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range}")
    V.number("train_ratio", train_ratio, low=0, high=1, low_open=True, high_open=True)
    x = np.linspace(x_range[0], x_range[1], n_points)  # (n_points,)
    y = np.sin(x)  # (n_points,)
    n_windows = n_points - look_back
    train_size = int(n_windows * train_ratio)
    if not 0 < train_size < n_windows:
        raise ValueError(
            f"train_ratio must leave both sets non-empty for {n_windows} windows, "
            f"got {train_ratio}"
        )
    idx = np.arange(n_windows)[:, None] + np.arange(look_back)  # (N, look_back)
    windows = y[idx].T[..., None]  # (look_back, N, 1)
    targets = y[look_back:, None]  # (N, 1)
    return SineWindows(
        x=x,
        y=y,
        X_train=windows[:, :train_size],
        y_train=targets[:train_size],
        X_test=windows[:, train_size:],
        y_test=targets[train_size:],
        look_back=int(look_back),
        train_size=train_size,
    )


def sine_waves(n_waves=100, length=1000, period=20.0, rng=None, dtype=np.float64):
    """Phase-shifted waves sin((t + k) / period), shape (length, n_waves).

    t = 0..length-1, one integer shift k per wave drawn uniformly from
    [-4 period, 4 period) as in pytorch/examples. As there, `period` divides t,
    so one cycle spans 2 pi period steps. Time-major: column j is wave j. period
    lies in [1e-6, 1e12], where t / period and the shifts stay finite.
    """
    _check_pos_int("n_waves", n_waves)
    _check_pos_int("length", length)
    period = V.number("period", period, low=1e-6, high=1e12)
    _check_rng(rng)
    dtype = V.float_dtype("dtype", dtype)
    k = max(int(4 * period), 1)
    shifts = rng.integers(-k, k, n_waves)  # (n_waves,)
    t = np.arange(length)[:, None] + shifts  # (length, n_waves)
    return np.sin(t / period).astype(dtype)


def next_step_pairs(waves):
    """Next-step pairs X = waves[:-1], Y = waves[1:], each (L-1, N, 1)."""
    V.array("waves", waves, 2, dims="(L, N)")
    if waves.shape[0] < 2:
        raise ValueError(f"waves must have shape (L, N) with L >= 2, got {waves.shape}")
    return waves[:-1, :, None], waves[1:, :, None]


def random_walks(n_walks=20, length=500, momentum=0.0, rng=None, dtype=np.float64):
    """Random walks x_t = x_{t-1} + d_t, shape (length, n_walks), time-major.

    The steps are AR(1): d_t = momentum d_{t-1} + e_t with e_t ~ N(0, 1)
    independent and x_0 = d_0 = e_0. With momentum 0 a pure random walk: the
    MSE-optimal forecast of x_{t+1} is x_t (persistence, "copy the last value").
    Otherwise it is x_t + momentum (x_t - x_{t-1}), whose MSE is 1 - momentum^2
    times persistence's (in the stationary limit). momentum lies in (-1, 1).
    """
    _check_pos_int("n_walks", n_walks)
    _check_pos_int("length", length)
    momentum = V.number("momentum", momentum, low=-1, high=1, low_open=True,
                        high_open=True)
    _check_rng(rng)
    dtype = V.float_dtype("dtype", dtype)
    e = rng.standard_normal((length, n_walks))      # (length, n_walks)
    d = np.empty_like(e)
    d[0] = e[0]
    for t in range(1, length):
        d[t] = momentum * d[t - 1] + e[t]
    return np.cumsum(d, axis=0).astype(dtype)


def two_sequences(p, n, rng, dtype=np.float64):
    """Hochreiter & Schmidhuber (1997) experiment 2a: remember the first symbol.

    The two sequences (y, a_1, ..., a_{p-1}, y) and (x, a_1, ..., a_{p-1}, x), each
    drawn with probability 1/2, over p + 1 one-hot symbols: a_k is index k - 1,
    x is index p - 1 and y index p (the paper's a_p and a_{p+1}). Returns
    X (p, n, p + 1), the one-hot of all but the last symbol, and labels (n,) int64,
    the index of the last symbol, which equals the first: a lag of p steps.
    """
    _check_pos_int("p", p)
    _check_pos_int("n", n)
    _check_rng(rng)
    dtype = V.float_dtype("dtype", dtype)
    labels = p - 1 + rng.integers(2, size=n)  # x (p - 1) or y (p)
    X = np.zeros((p, n, p + 1), dtype=dtype)  # (p, n, p + 1)
    X[0, np.arange(n), labels] = 1.0
    X[np.arange(1, p), :, np.arange(p - 1)] = 1.0  # a_1 .. a_{p-1}, the same for all
    return X, labels.astype(np.int64)
