"""Training for both backends: optimisers, losses, the two tricks, one loop.

Conventions: X (T, N, I) time-major inputs, targets Y (T, N, O) for every step or
Y (N, O) for the last step only, an optional mask (T, N) of real (1) and padded (0)
steps. Models map X to outputs (T, N, O): `SequenceModel` here (NumPy, hand-written
backward) or `lstm_core.torch_lstm.SequenceModel` (PyTorch autograd). Batches, input
noise and shuffling come from one NumPy generator, so both backends see the same data.

Losses, averaged over the weighted, unmasked steps:
    "mse"  mean over outputs of (y - target)^2            (regression, sine waves)
    "bce"  sum over outputs of sigmoid cross-entropy      (multi-hot, Reber grammar)
    "ce"   softmax cross-entropy with one-hot targets     (one class per step)

The two tricks of the seed post (Z.H. Fu, "LSTM learns sine waves"):
    weighted training: step t of the loss weighs step_decay**t, so early steps,
        whose errors compound during free running, count more;
    denoising: Gaussian noise of std input_noise is added to the inputs, in
        training only (as in denoising autoencoders, Vincent et al. 2008).
Early stopping follows seed 002: every `early_stop_every` epochs, stop unless the
test loss fell by at least `early_stop_tol` (1 %) since the last check.
Optimisers: SGD, Adagrad (Duchi et al. 2011), Adam (Kingma & Ba 2015), with the
update rules of torch.optim so both backends train alike.
"""
from dataclasses import dataclass, field

import numpy as np

from .numpy_lstm import (init_lstm, init_rnn, lstm_backward, lstm_forward,
                         rnn_backward, rnn_forward)


# ----------------------------------------------------------------------------- model

class SequenceModel:
    """A NumPy LSTM or tanh RNN with a linear readout y_t = W_hy h_t + b_y."""

    def __init__(self, input_size, hidden_size, output_size, *, cell="lstm",
                 peepholes=False, forget_gate=True, rng, dtype=np.float64):
        if cell == "lstm":
            self.params = init_lstm(input_size, hidden_size, peepholes=peepholes,
                                    forget_gate=forget_gate, rng=rng, dtype=dtype)
        elif cell == "rnn":
            self.params = init_rnn(input_size, hidden_size, rng=rng, dtype=dtype)
        else:
            raise ValueError(f"cell must be 'lstm' or 'rnn', got {cell!r}")
        if isinstance(output_size, bool) or not isinstance(output_size, int) \
                or output_size <= 0:
            raise ValueError(f"output_size must be a positive int, got {output_size!r}")
        k = 1.0 / np.sqrt(hidden_size)                       # as torch.nn.Linear
        self.params["W_hy"] = rng.uniform(-k, k, (output_size, hidden_size)).astype(dtype)
        self.params["b_y"] = rng.uniform(-k, k, output_size).astype(dtype)
        self.cell, self._cache = cell, None

    def core(self):
        """The recurrent layer's parameters (the dict numpy_lstm works on)."""
        return {k: v for k, v in self.params.items() if k not in ("W_hy", "b_y")}

    def forward(self, X, state=None):
        """X (T, N, I) -> (Y (T, N, O), final state); keeps what backward needs."""
        if self.cell == "lstm":
            h0, c0 = state if state is not None else (None, None)
            H, state, cache = lstm_forward(X, self.core(), h0, c0)
        else:
            H, state, cache = rnn_forward(X, self.core(), state)
        self._cache = (H, cache)
        return H @ self.params["W_hy"].T + self.params["b_y"], state

    def backward(self, dY):
        """dY (T, N, O) = dLoss/dY -> gradients with the keys of params."""
        if self._cache is None:
            raise RuntimeError("call forward before backward")
        H, cache = self._cache
        dH = dY @ self.params["W_hy"]                         # (T, N, H)
        backward = lstm_backward if self.cell == "lstm" else rnn_backward
        grads = backward(dH, cache)[0]
        grads["W_hy"] = np.einsum("tno,tnh->oh", dY, H)
        grads["b_y"] = dY.sum((0, 1))
        return grads


# ----------------------------------------------------------------------------- optimisers

class SGD:
    def __init__(self, lr=0.1, momentum=0.0):
        self.lr, self.momentum, self.v = lr, momentum, {}

    def step(self, params, grads):
        for k, g in grads.items():
            if self.momentum:
                g = self.v[k] = self.momentum * self.v.get(k, 0) + g
            params[k] -= self.lr * g


class Adagrad:
    def __init__(self, lr=0.01, eps=1e-10):
        self.lr, self.eps, self.s = lr, eps, {}

    def step(self, params, grads):
        for k, g in grads.items():
            self.s[k] = self.s.get(k, 0) + g * g
            params[k] -= self.lr * g / (np.sqrt(self.s[k]) + self.eps)


class Adam:
    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps, self.t, self.m, self.v = lr, betas, eps, 0, {}, {}

    def step(self, params, grads):
        b1, b2 = self.betas
        self.t += 1
        for k, g in grads.items():
            self.m[k] = b1 * self.m.get(k, 0) + (1 - b1) * g
            self.v[k] = b2 * self.v.get(k, 0) + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1 ** self.t)
            v_hat = self.v[k] / (1 - b2 ** self.t)
            params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "adam": Adam}


# ----------------------------------------------------------------------------- losses

def step_weights(T, decay=None):
    """Weighted training: w_t = decay**t for t = 0..T-1 (all ones if decay is None)."""
    if decay is None:
        return np.ones(T)
    if not 0 < decay <= 1:
        raise ValueError(f"step_decay must be in (0, 1], got {decay!r}")
    return decay ** np.arange(T)


def loss_and_grad(Y_hat, Y, weights, kind="mse"):
    """Weighted loss of outputs Y_hat (T, N, O) and its gradient dLoss/dY_hat.

    weights (T, N) combines the step weights and the mask; the loss is
    sum_tn weights * per_step_loss / sum(weights).
    """
    total = weights.sum()
    w = (weights / total)[..., None]
    if kind == "mse":
        diff = Y_hat - Y
        O = Y.shape[-1]
        return float((w * diff ** 2).sum() / O), 2 * w * diff / O
    if kind == "bce":                                   # sigmoid outputs, multi-hot Y
        p = 0.5 * (1 + np.tanh(0.5 * Y_hat))
        per = np.logaddexp(0, Y_hat) - Y * Y_hat        # -[y log p + (1-y) log(1-p)]
        return float((w * per).sum()), w * (p - Y)
    if kind == "ce":                                    # softmax, one-hot Y
        z = Y_hat - Y_hat.max(-1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
        return float(-(w * Y * log_p).sum()), w * (np.exp(log_p) * Y.sum(-1, keepdims=True)
                                                    - Y)
    raise ValueError(f"loss must be 'mse', 'bce' or 'ce', got {kind!r}")


def _as_sequence_targets(X, Y, mask):
    """Targets (T, N, O) and weights (T, N); Y (N, O) means the last step only."""
    if not isinstance(X, np.ndarray) or X.ndim != 3:
        raise ValueError(f"X must be a NumPy array (T, N, I), got {_shape(X)}")
    T, N, _ = X.shape
    if not isinstance(Y, np.ndarray) or Y.ndim not in (2, 3):
        raise ValueError(f"Y must be a NumPy array (T, N, O) or (N, O), got {_shape(Y)}")
    if Y.ndim == 2:
        if Y.shape[0] != N:
            raise ValueError(f"Y (N, O) must have N={N} rows like X, got {Y.shape}")
        if mask is not None:
            raise ValueError("mask must be None when Y holds last-step targets (N, O)")
        full = np.zeros((T, N, Y.shape[1]), Y.dtype)
        full[-1] = Y
        mask = np.zeros((T, N))
        mask[-1] = 1
        return full, mask
    if Y.shape[:2] != (T, N):
        raise ValueError(f"Y must have shape ({T}, {N}, O) like X, got {Y.shape}")
    if mask is None:
        return Y, np.ones((T, N))
    if not isinstance(mask, np.ndarray) or mask.shape != (T, N):
        raise ValueError(f"mask must be an array of shape ({T}, {N}), got {_shape(mask)}")
    return Y, mask.astype(float)


def _shape(a):
    return f"shape {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__


# ----------------------------------------------------------------------------- loop

@dataclass
class TrainConfig:
    epochs: int = 100                 # passes over the training set
    batch_size: int = 32              # sequences per update; N // batch_size per epoch
    optimizer: str = "adam"           # "sgd", "adagrad" or "adam"
    lr: float = 1e-2                  # learning rate
    loss: str = "mse"                 # "mse", "bce" or "ce" (see the module doc)
    clip: float | None = None         # clip the global gradient norm to this
    step_decay: float | None = None   # weighted training: step t weighs decay**t
    input_noise: float = 0.0          # denoising: std of the noise on training inputs
    early_stop_every: int | None = None  # seed 002: check the test loss this often
    early_stop_tol: float = 0.01      # ... and stop unless it fell by this fraction
    checkpoint_every: int | None = None  # call the callback this often
    seed: int = 0                     # shuffling and noise
    progress: bool = False            # a tqdm progress bar over epochs


@dataclass
class History:
    train_loss: list = field(default_factory=list)   # epoch means of the batch losses
    test_loss: list = field(default_factory=list)    # after each epoch, if test given
    grad_norm: list = field(default_factory=list)    # epoch means, before clipping
    stopped_epoch: int | None = None                 # set if early stopping fired

    @property
    def epochs(self):
        return len(self.train_loss)


class _NumpyBackend:
    def __init__(self, model, cfg):
        self.model, self.opt = model, OPTIMIZERS[cfg.optimizer](lr=cfg.lr)

    def train_step(self, X, Y, W, cfg):
        Y_hat, _ = self.model.forward(X)
        loss, dY = loss_and_grad(Y_hat, Y, W, cfg.loss)
        grads = self.model.backward(dY)
        norm = float(np.sqrt(sum((g * g).sum() for g in grads.values())))
        if np.isfinite(loss) and np.isfinite(norm):
            if cfg.clip is not None and norm > cfg.clip:    # as clip_grad_norm_
                grads = {k: g * (cfg.clip / (norm + 1e-6)) for k, g in grads.items()}
            self.opt.step(self.model.params, grads)
        return loss, norm

    def evaluate(self, X, Y, W, kind):
        return loss_and_grad(self.model.forward(X)[0], Y, W, kind)[0]


class _TorchBackend:
    def __init__(self, model, cfg):
        import torch
        self.torch, self.model = torch, model
        ref = next(model.parameters())
        self.kw = {"dtype": ref.dtype, "device": ref.device}
        opt = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad,
               "adam": torch.optim.Adam}[cfg.optimizer]
        self.opt = opt(model.parameters(), lr=cfg.lr)

    def _loss(self, X, Y, W, kind):
        torch = self.torch
        X, Y, W = (torch.as_tensor(a, **self.kw) for a in (X, Y, W))
        Y_hat = self.model(X)[0]
        w = (W / W.sum())[..., None]
        if kind == "mse":
            return (w * (Y_hat - Y) ** 2).sum() / Y.shape[-1]
        if kind == "bce":
            return (w * (torch.nn.functional.softplus(Y_hat) - Y * Y_hat)).sum()
        return -(w * Y * torch.log_softmax(Y_hat, -1)).sum()

    def train_step(self, X, Y, W, cfg):
        loss = self._loss(X, Y, W, cfg.loss)
        self.opt.zero_grad()
        loss.backward()
        norm = self.torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                                   cfg.clip or float("inf"))
        loss, norm = float(loss.detach()), float(norm)
        if np.isfinite(loss) and np.isfinite(norm):
            self.opt.step()
        return loss, norm

    def evaluate(self, X, Y, W, kind):
        with self.torch.no_grad():
            return float(self._loss(X, Y, W, kind))


def _backend(model, cfg):
    if isinstance(model, SequenceModel):
        return _NumpyBackend(model, cfg)
    import torch
    if isinstance(model, torch.nn.Module):
        return _TorchBackend(model, cfg)
    raise TypeError("model must be a train.SequenceModel or a torch.nn.Module, got "
                    f"{type(model).__name__}")


def _check_config(cfg, N, has_test):
    if cfg.optimizer not in OPTIMIZERS:
        raise ValueError(f"config.optimizer must be one of {sorted(OPTIMIZERS)}, "
                         f"got {cfg.optimizer!r}")
    if cfg.loss not in ("mse", "bce", "ce"):
        raise ValueError(f"config.loss must be 'mse', 'bce' or 'ce', got {cfg.loss!r}")
    for name in ("epochs", "batch_size"):
        n = getattr(cfg, name)
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ValueError(f"config.{name} must be a positive int, got {n!r}")
    if cfg.batch_size > N:
        raise ValueError(f"config.batch_size must be at most the number of training "
                         f"sequences ({N}), got {cfg.batch_size}")
    if not (cfg.lr > 0 and np.isfinite(cfg.lr)):
        raise ValueError(f"config.lr must be a positive number, got {cfg.lr!r}")
    if cfg.input_noise < 0:
        raise ValueError(f"config.input_noise must be >= 0, got {cfg.input_noise!r}")
    if cfg.clip is not None and not cfg.clip > 0:
        raise ValueError(f"config.clip must be None or > 0, got {cfg.clip!r}")
    if cfg.early_stop_every and not has_test:
        raise ValueError("config.early_stop_every needs a test set: pass test=(X, Y)")


def fit(model, X, Y, config=None, *, mask=None, test=None, callback=None):
    """Train `model` in place on X (T, N, I) and Y (T, N, O) or (N, O); return History.

    test is (X_test, Y_test) or (X_test, Y_test, mask_test): its loss is recorded
    after every epoch. callback(epoch, model, history) runs every
    config.checkpoint_every epochs. A NaN or infinite loss or gradient stops
    training with a FloatingPointError naming the epoch and the step.
    """
    cfg = config or TrainConfig()
    Y, mask = _as_sequence_targets(X, Y, mask)
    T, N, _ = X.shape
    _check_config(cfg, N, test is not None)
    W = step_weights(T, cfg.step_decay)[:, None] * mask      # (T, N)
    if test is not None:
        Xt, Yt, mt = (*test, None)[:3]
        Yt, mt = _as_sequence_targets(Xt, Yt, mt)
        Wt = step_weights(Xt.shape[0], cfg.step_decay)[:, None] * mt
    backend, rng, history = _backend(model, cfg), np.random.default_rng(cfg.seed), History()
    epochs = range(1, cfg.epochs + 1)
    if cfg.progress:
        from tqdm.auto import tqdm
        epochs = tqdm(epochs, desc="epochs")
    best = np.inf
    for epoch in epochs:
        perm, losses, norms = rng.permutation(N), [], []
        for step in range(N // cfg.batch_size):
            idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            Xb = X[:, idx]
            if cfg.input_noise:
                Xb = Xb + rng.normal(0.0, cfg.input_noise, Xb.shape)
            loss, norm = backend.train_step(Xb, Y[:, idx], W[:, idx], cfg)
            if not (np.isfinite(loss) and np.isfinite(norm)):
                raise FloatingPointError(
                    f"training diverged at epoch {epoch}, step {step + 1}: loss {loss}, "
                    f"gradient norm {norm}; lower config.lr or set config.clip")
            losses.append(loss)
            norms.append(norm)
        history.train_loss.append(float(np.mean(losses)))
        history.grad_norm.append(float(np.mean(norms)))
        if test is not None:
            history.test_loss.append(backend.evaluate(Xt, Yt, Wt, cfg.loss))
        if cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0 and callback:
            callback(epoch, model, history)
        if cfg.early_stop_every and epoch % cfg.early_stop_every == 0:
            if history.test_loss[-1] > best * (1 - cfg.early_stop_tol):
                history.stopped_epoch = epoch
                break
            best = history.test_loss[-1]
    return history


# ----------------------------------------------------------------------------- use

def predict(model, X, state=None):
    """Outputs (T, N, O) as a NumPy array, for either backend, without gradients."""
    if isinstance(model, SequenceModel):
        return model.forward(X, state)[0]
    import torch
    ref = next(model.parameters())
    with torch.no_grad():
        Y = model(torch.as_tensor(X, dtype=ref.dtype, device=ref.device), state)[0]
    return Y.cpu().numpy()


def free_run(model, X_warm, n_steps):
    """Teacher-force X_warm (T0, N, I), then feed each output back as the next input.

    The prediction made from the last warm-up input (for step T0 + 1) is the first
    value fed back; the n_steps outputs that follow are returned (n_steps, N, O), so
    the first returned value predicts step T0 + 2. Needs O == I.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps <= 0:
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    if not isinstance(X_warm, np.ndarray) or X_warm.ndim != 3:
        raise ValueError(f"X_warm must be a NumPy array (T0, N, I), got {_shape(X_warm)}")
    if isinstance(model, SequenceModel):
        step = model.forward
        to_np = np.asarray
    else:
        import torch
        ref = next(model.parameters())
        X_warm = torch.as_tensor(X_warm, dtype=ref.dtype, device=ref.device)

        @torch.no_grad()
        def step(x, state):
            return model(x, state)

        def to_np(y):
            return y.cpu().numpy()
    Y, state = step(X_warm, None)
    if Y.shape[-1] != X_warm.shape[-1]:
        raise ValueError(f"free running feeds outputs back as inputs: output size "
                         f"{Y.shape[-1]} must equal input size {X_warm.shape[-1]}")
    y, out = Y[-1:], []
    for _ in range(n_steps):
        y, state = step(y, state)
        out.append(to_np(y))
    return np.concatenate(out)
