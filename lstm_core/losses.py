"""Losses of sequence outputs, with step weights and masks (NumPy).

Conventions: outputs Y_hat and targets Y (T, N, O); weights (T, N), the product of
the step weights of weighted training and the mask of real (1) and padded (0)
steps. The loss is sum_tn weights * per_step_loss / sum(weights):

    "mse"  mean over outputs of (y - target)^2            (regression, sine waves)
    "bce"  sum over outputs of sigmoid cross-entropy      (multi-hot, Reber grammar)
    "ce"   softmax cross-entropy with one-hot targets     (one class per step)

Weighted training (Z.H. Fu, "LSTM learns sine waves"): step t weighs decay**t, so
early steps, whose errors compound during free running, count more.
"""
import numpy as np

from . import validate as V

LOSSES = ("mse", "bce", "ce")


def step_weights(T, decay=None):
    """Weighted training: w_t = decay**t for t = 0..T-1 (all ones if decay is None)."""
    T = V.positive_int("T", T)
    if decay is None:
        return np.ones(T)
    decay = V.number("decay", decay, low=0, high=1, low_open=True)
    return decay ** np.arange(T)


def loss_and_grad(Y_hat, Y, weights, kind="mse"):
    """Weighted loss of outputs Y_hat (T, N, O) and its gradient dLoss/dY_hat.

    Y has Y_hat's dtype, and so has the gradient (the dtype of the model's
    backward); weights (T, N) may be float32 or float64.
    """
    V.one_of("kind", kind, LOSSES)
    V.array("Y_hat", Y_hat, 3, dims="(T, N, O)")
    V.array("Y", Y, shape=Y_hat.shape, dtype=Y_hat.dtype, dims="(T, N, O)")
    V.array("weights", weights, shape=Y_hat.shape[:2], dims="(T, N)")
    V.nonnegative_weights("weights", weights)
    w = (weights / weights.sum()).astype(Y_hat.dtype)[..., None]
    if kind == "mse":
        diff = Y_hat - Y
        O = Y.shape[-1]
        return float((w * diff ** 2).sum() / O), 2 * w * diff / O
    if kind == "bce":                                   # sigmoid outputs, multi-hot Y
        p = 0.5 * (1 + np.tanh(0.5 * Y_hat))
        per = np.logaddexp(0, Y_hat) - Y * Y_hat        # -[y log p + (1-y) log(1-p)]
        return float((w * per).sum()), w * (p - Y)
    z = Y_hat - Y_hat.max(-1, keepdims=True)            # "ce": softmax, one-hot Y
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return float(-(w * Y * log_p).sum()), w * (np.exp(log_p) * Y.sum(-1, keepdims=True)
                                                - Y)


def sequence_targets(X, Y, mask=None, names=("X", "Y", "mask")):
    """Checked targets (T, N, O) and weights (T, N); Y (N, O) means the last step.

    X (T, N, I), Y (T, N, O) or (N, O) and mask (T, N) must be finite float arrays;
    the mask >= 0 with a positive entry for every sequence (a sequence of padding
    only would give a batch of weight 0, a loss of 0 / 0).
    """
    nx, ny, nm = names
    V.array(nx, X, 3, dims="(T, N, I)")
    T, N, _ = X.shape
    if not isinstance(Y, np.ndarray) or Y.ndim not in (2, 3):
        raise ValueError(f"{ny} must be a NumPy array (T, N, O), or (N, O) for the "
                         f"last step only, got {V.describe(Y)}")
    if Y.ndim == 2:
        V.array(ny, Y, shape=(N, None), dims="(N, O)")
        if mask is not None:
            raise ValueError(f"{nm} must be None when {ny} holds last-step targets "
                             f"(N, O), got {V.describe(mask)}")
        full = np.zeros((T, N, Y.shape[1]), Y.dtype)
        full[-1] = Y
        mask = np.zeros((T, N))
        mask[-1] = 1
        return full, mask
    V.array(ny, Y, shape=(T, N, None), dims="(T, N, O)")
    if mask is None:
        return Y, np.ones((T, N))
    V.array(nm, mask, shape=(T, N), dims="(T, N)")
    mask = V.nonnegative_weights(nm, mask.astype(np.float64))
    empty = np.flatnonzero(~mask.any(0))
    if empty.size:
        raise ValueError(f"{nm} must have a positive entry for every sequence (each "
                         f"has a real step), got only zeros in {nm}[:, n] for n in "
                         f"{empty[:5].tolist()}{' ...' if empty.size > 5 else ''}")
    return Y, mask
