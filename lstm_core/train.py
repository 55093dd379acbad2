"""Training for both backends: one `fit` loop, its configuration and history.

Conventions: X (T, N, I) time-major inputs, targets Y (T, N, O) for every step or
Y (N, O) for the last step only, an optional mask (T, N) of real (1) and padded (0)
steps. Models map X to outputs (T, N, O): `SequenceModel` (NumPy, hand-written
backward, `lstm_core.model`) or `lstm_core.torch_lstm.SequenceModel` (PyTorch
autograd). Batches, input noise and shuffling come from one NumPy generator, so
both backends see the same data. Losses: `lstm_core.losses`; optimisers:
`lstm_core.optim` (the rules of torch.optim); prediction and free running:
`lstm_core.generate`. All are importable from here too (`train.SequenceModel`,
`train.Adam`, `train.loss_and_grad`, `train.predict`, `train.free_run`, ...).

The two tricks of Z.H. Fu's post "LSTM learns sine waves":
    weighted training: step t of the loss weighs step_decay**t, so early steps,
        whose errors compound during free running, count more;
    denoising: Gaussian noise of std input_noise is added to the inputs, in
        training only (as in denoising autoencoders, Vincent et al. 2008).
Early stopping follows the ReNom tutorial: every `early_stop_every` epochs, stop
unless the test loss fell by at least `early_stop_tol` (1 %) since the last check.

Bad data (NaN, wrong shapes, a model whose output size differs from the
targets') is refused before training with an error naming the argument; a run
that diverges stops with a FloatingPointError naming the epoch and the step.
"""
from dataclasses import dataclass, field, fields

import numpy as np

from . import validate as V
from .generate import as_model_input, free_run, model_dtype, predict  # noqa: F401
from .losses import LOSSES, loss_and_grad, sequence_targets, step_weights  # noqa: F401
from .model import SequenceModel
from .optim import OPTIMIZERS, SGD, Adagrad, Adam  # noqa: F401


@dataclass
class TrainConfig:
    epochs: int = 100                 # passes over the training set
    batch_size: int = 32              # sequences per update; N // batch_size per epoch
    optimizer: str = "adam"           # "sgd", "adagrad" or "adam"
    lr: float = 1e-2                  # learning rate
    loss: str = "mse"                 # "mse", "bce" or "ce" (lstm_core.losses)
    clip: float | None = None         # clip the global gradient norm to this
    step_decay: float | None = None   # weighted training: step t weighs decay**t
    input_noise: float = 0.0          # denoising: std of the noise on training inputs
    early_stop_every: int | None = None  # ReNom: check the test loss this often
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


def _check_config(cfg, N, has_test):
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"config must be a train.TrainConfig, got {V.describe(cfg)}")
    c = {f.name: getattr(cfg, f.name) for f in fields(cfg)}
    V.one_of("config.optimizer", c["optimizer"], OPTIMIZERS)
    V.one_of("config.loss", c["loss"], LOSSES)
    V.positive_int("config.epochs", c["epochs"])
    if V.positive_int("config.batch_size", c["batch_size"]) > N:
        raise ValueError(f"config.batch_size must be at most the number of training "
                         f"sequences ({N}), got {cfg.batch_size}")
    V.number("config.lr", c["lr"], low=0, low_open=True)
    V.number("config.input_noise", c["input_noise"], low=0)
    V.number("config.early_stop_tol", c["early_stop_tol"], low=0, high=1,
             high_open=True)
    V.nonnegative_int("config.seed", c["seed"])
    if c["clip"] is not None:
        V.number("config.clip", c["clip"], low=0, low_open=True)
    if c["step_decay"] is not None:
        V.number("config.step_decay", c["step_decay"], low=0, high=1, low_open=True)
    for name in ("early_stop_every", "checkpoint_every"):
        if c[name] is not None:
            V.positive_int(f"config.{name}", c[name])
    if not isinstance(c["progress"], bool):
        raise TypeError(f"config.progress must be True or False, got "
                        f"{V.describe(c['progress'])}")
    if cfg.early_stop_every and not has_test:
        raise ValueError("config.early_stop_every needs a test set: pass test=(X, Y)")


class _NumpyBackend:
    def __init__(self, model, cfg):
        self.model, self.opt = model, OPTIMIZERS[cfg.optimizer](lr=cfg.lr)

    def outputs(self, X):
        return self.model.forward(X)[0]

    @np.errstate(over="ignore", invalid="ignore")          # each result is checked
    def train_step(self, X, Y, W, cfg):
        Y_hat, _ = self.model.forward(X)
        if not np.isfinite(Y_hat).all():                    # diverged: no backward
            return float("inf"), float("nan")
        loss, dY = loss_and_grad(Y_hat, Y, W, cfg.loss)
        if not np.isfinite(loss):
            return loss, float("nan")
        try:
            grads = self.model.backward(dY)
        except FloatingPointError:                          # dH overflowed
            return loss, float("inf")
        norm = float(np.sqrt(sum((g * g).sum() for g in grads.values())))
        if np.isfinite(norm):
            if cfg.clip is not None and norm > cfg.clip:    # as clip_grad_norm_
                grads = {k: g * (cfg.clip / (norm + 1e-6)) for k, g in grads.items()}
            self.opt.step(self.model.params, grads)
            if not all(np.isfinite(v).all() for v in self.model.params.values()):
                return loss, float("inf")               # the step itself overflowed
        return loss, norm

    def evaluate(self, X, Y, W, kind):
        Y_hat = self.model.forward(X)[0]
        return loss_and_grad(Y_hat, Y, W, kind)[0] if np.isfinite(Y_hat).all() \
            else float("inf")


class _TorchBackend:
    def __init__(self, model, cfg):
        import torch
        self.torch, self.model = torch, model
        ref = next(model.parameters())
        self.kw = {"dtype": ref.dtype, "device": ref.device}
        opt = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad,
               "adam": torch.optim.Adam}[cfg.optimizer]
        self.opt = opt(model.parameters(), lr=cfg.lr)

    def outputs(self, X):
        with self.torch.no_grad():
            return self.model(self.torch.as_tensor(X, **self.kw))[0].cpu().numpy()

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
        if not self.torch.isfinite(loss):
            return float(loss.detach()), float("nan")
        self.opt.zero_grad()
        loss.backward()
        norm = self.torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                                   cfg.clip or float("inf"))
        loss, norm = float(loss.detach()), float(norm)
        if np.isfinite(norm):
            self.opt.step()
            with self.torch.no_grad():
                if not all(self.torch.isfinite(p).all() for p in self.model.parameters()):
                    return loss, float("inf")           # the step itself overflowed
        return loss, norm

    def evaluate(self, X, Y, W, kind):
        with self.torch.no_grad():
            return float(self._loss(X, Y, W, kind))


def _backend(model, cfg):
    if isinstance(model, SequenceModel):
        return _NumpyBackend(model, cfg)
    return _TorchBackend(model, cfg)                # model_dtype checked its type


def _data(model, X, Y, mask, names):
    """Checked data in the model's dtype: X, targets (T, N, O), weights (T, N)."""
    Y, W = sequence_targets(X, Y, mask, names)
    return (as_model_input(names[0], X, model),
            as_model_input(names[1], Y, model, dims="(T, N, O)", inputs=False), W)


def _check_output_size(backend, X, Y, name):
    out = backend.outputs(X[:, :1])
    if out.shape[-1] != Y.shape[-1]:
        raise ValueError(f"the model outputs {out.shape[-1]} values per step but {name} "
                         f"has {Y.shape[-1]} (shape {Y.shape}): they must match")


def fit(model, X, Y, config=None, *, mask=None, test=None, callback=None):
    """Train `model` in place on X (T, N, I) and Y (T, N, O) or (N, O); return History.

    test is (X_test, Y_test) or (X_test, Y_test, mask_test): its loss is recorded
    after every epoch. callback(epoch, model, history) runs every
    config.checkpoint_every epochs. A NaN or infinite loss or gradient stops
    training with a FloatingPointError naming the epoch and the step.
    """
    cfg = TrainConfig() if config is None else config
    X, Y, W = _data(model, X, Y, mask, ("X", "Y", "mask"))
    T, N, _ = X.shape
    _check_config(cfg, N, test is not None)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {V.describe(callback)}")
    W = step_weights(T, cfg.step_decay)[:, None] * W          # (T, N)
    if test is not None:
        if not isinstance(test, (tuple, list)) or len(test) not in (2, 3):
            raise TypeError("test must be (X_test, Y_test) or (X_test, Y_test, "
                            f"mask_test), got {V.describe(test)}")
        Xt, Yt, mt = (*test, None)[:3]
        Xt, Yt, Wt = _data(model, Xt, Yt, mt, ("test X", "test Y", "test mask"))
        for name, a, b in (("X", Xt, X), ("Y", Yt, Y)):      # checked now, not after
            if a.shape[-1] != b.shape[-1]:                   # an epoch of training
                raise ValueError(f"test {name} must have {b.shape[-1]} values per step "
                                 f"like {name}, got shape {a.shape}")
        Wt = step_weights(Xt.shape[0], cfg.step_decay)[:, None] * Wt
    backend, rng, history = _backend(model, cfg), np.random.default_rng(cfg.seed), History()
    _check_output_size(backend, X, Y, "Y")
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
                Xb = Xb + rng.normal(0.0, cfg.input_noise, Xb.shape).astype(X.dtype)
            loss, norm = backend.train_step(Xb, Y[:, idx], W[:, idx], cfg)
            if not (np.isfinite(loss) and np.isfinite(norm)):
                raise FloatingPointError(
                    f"training diverged at epoch {epoch}, step {step + 1}: loss {loss:.3g}"
                    f", gradient norm {norm:.3g}; lower config.lr (now {cfg.lr:g}) or "
                    "set config.clip")
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
