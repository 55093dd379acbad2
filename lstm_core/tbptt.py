"""k-step truncated backpropagation through time (TBPTT) of long streams.

A long stream X (T, N, I) (N streams side by side) is cut into chunks of k steps,
t = 0..k-1, k..2k-1, ... Each chunk starts from the state the previous chunk ended
in (the state is carried: the forward pass is exactly the full one), but the
gradient is cut at the chunk's edges: no error flows from chunk j back into chunk
j - 1, so the backward pass of a chunk costs k steps however long the stream is.
With k >= T this is full backpropagation through time. Truncated BPTT goes back
to Williams & Peng (1990), "An efficient gradient-based algorithm for on-line
training of recurrent network trajectories"; this chunked form, the state detached
between chunks, is how long streams (language models) are trained in PyTorch.

It is not the truncation of Hochreiter & Schmidhuber (1997), which cuts the error
inside every step (see `lstm_core.truncate97`).

    grads, loss, state = tbptt.truncated_gradient(model, X, Y, k=20, loss="bce")
    history = tbptt.fit_tbptt(model, X, Y, config, k=20, mask=M)

`truncated_gradient` is the gradient at fixed parameters (NumPy models), the sum of
the chunks' backward passes of the whole stream's loss. `fit_tbptt` trains either
backend with one optimiser step after every chunk, as on-line training of a stream
does: config.batch_size streams at a time, the state carried across their chunks,
reset to zero at the start of each stream (each epoch). In PyTorch the cut is
`state.detach()`; in NumPy it is the backward pass of the chunk alone (no dh, dc
from later chunks, the dh0, dc0 it returns dropped).

Conventions: `lstm_core.train` (X (T, N, I), Y (T, N, O), mask (T, N), losses of
`lstm_core.losses`, TrainConfig and History).
"""
import numpy as np

from . import validate as V
from .losses import loss_and_grad
from .model import SequenceModel
from .train import History, TrainConfig, _backend, _check_config, _data


def chunks(T, k):
    """The slices of the chunks of k steps of T steps (the last one may be shorter)."""
    T, k = V.positive_int("T", T), V.positive_int("k", k)
    return [slice(s, min(s + k, T)) for s in range(0, T, k)]


def truncated_gradient(model, X, Y, *, k, mask=None, loss="mse", state=None):
    """The k-step truncated gradient of the loss of the stream, at fixed parameters.

    model: a NumPy `train.SequenceModel`; X (T, N, I), Y (T, N, O), mask (T, N).
    The loss is the whole stream's weighted mean (as `train.loss_and_grad`); its
    gradient is summed over the chunks, each backpropagated alone. Returns
    (grads with the keys of model.params, loss, the final state), the state being
    that of the full forward pass from `state`.
    """
    if not isinstance(model, SequenceModel):
        raise TypeError("model must be a NumPy lstm_core.train.SequenceModel (train "
                        f"a PyTorch model with fit_tbptt), got {V.describe(model)}")
    V.one_of("loss", loss, ("mse", "bce", "ce"))
    X, Y, W = _data(model, X, Y, mask, ("X", "Y", "mask"))
    total_w, grads, total = W.sum(), None, 0.0
    for s in chunks(X.shape[0], k):
        Y_hat, state = model.forward(X[s], state)
        share = W[s].sum() / total_w                    # this chunk's part of the loss
        if share == 0:                                  # padding only: no error
            continue
        value, dY = loss_and_grad(Y_hat, Y[s], W[s], loss)
        g = model.backward(dY * share.astype(dY.dtype))  # the cut: no dh_T, no dh0
        total += share * value
        grads = g if grads is None else {n: grads[n] + g[n] for n in grads}
    return grads, float(total), state


def _detach(state):
    if isinstance(state, (tuple, list)):
        return type(state)(s.detach() for s in state)
    return state.detach()


def _numpy_chunk(backend, X, Y, W, state, cfg):
    model = backend.model
    with np.errstate(over="ignore", invalid="ignore"):          # each result checked
        Y_hat, state = model.forward(X, state)
        if not np.isfinite(Y_hat).all():
            return float("inf"), float("nan"), state
        loss, dY = loss_and_grad(Y_hat, Y, W, cfg.loss)
        try:
            grads = model.backward(dY)
        except FloatingPointError:
            return loss, float("inf"), state
        norm = float(np.sqrt(sum((g * g).sum() for g in grads.values())))
        if np.isfinite(norm):
            if cfg.clip is not None and norm > cfg.clip:        # as clip_grad_norm_
                grads = {n: g * (cfg.clip / (norm + 1e-6)) for n, g in grads.items()}
            backend.opt.step(model.params, grads)
            if not all(np.isfinite(v).all() for v in model.params.values()):
                return loss, float("inf"), state
    return loss, norm, state


def _torch_chunk(backend, X, Y, W, state, cfg):
    torch = backend.torch
    X, Y, W = (torch.as_tensor(a, **backend.kw) for a in (X, Y, W))
    Y_hat, state = backend.model(X, state)
    w = (W / W.sum())[..., None]
    if cfg.loss == "mse":
        loss = (w * (Y_hat - Y) ** 2).sum() / Y.shape[-1]
    elif cfg.loss == "bce":
        loss = (w * (torch.nn.functional.softplus(Y_hat) - Y * Y_hat)).sum()
    else:
        loss = -(w * Y * torch.log_softmax(Y_hat, -1)).sum()
    state = _detach(state)                                   # the cut at the edge
    if not torch.isfinite(loss):
        return float(loss.detach()), float("nan"), state
    backend.opt.zero_grad()
    loss.backward()
    norm = float(torch.nn.utils.clip_grad_norm_(backend.model.parameters(),
                                                cfg.clip or float("inf")))
    if np.isfinite(norm):
        backend.opt.step()
        with torch.no_grad():
            if not all(torch.isfinite(p).all() for p in backend.model.parameters()):
                norm = float("inf")                      # the step itself overflowed
    return float(loss.detach()), norm, state


def fit_tbptt(model, X, Y, config=None, *, k, mask=None, test=None, callback=None):
    """Train `model` in place on streams X (T, N, I), Y (T, N, O) by k-step TBPTT.

    One optimiser step per chunk of k steps of config.batch_size streams; the state
    is carried from chunk to chunk and reset at the start of the streams. History:
    train_loss and grad_norm are epoch means over the chunks; test=(X_test, Y_test)
    or (X_test, Y_test, mask_test) adds test_loss after every epoch, one forward
    pass over the whole test streams (and early stopping as in `train.fit`).
    callback(epoch, model, history) runs every config.checkpoint_every epochs.
    step_decay is an option of `train.fit` only.
    """
    cfg = TrainConfig() if config is None else config
    X, Y, W = _data(model, X, Y, mask, ("X", "Y", "mask"))
    T, N, _ = X.shape
    _check_config(cfg, N, test is not None)
    if test is not None:
        if not isinstance(test, (tuple, list)) or len(test) not in (2, 3):
            raise TypeError("test must be (X_test, Y_test) or (X_test, Y_test, "
                            f"mask_test), got {V.describe(test)}")
        Xt, Yt, Wt = _data(model, *(*test, None)[:3], ("test X", "test Y",
                                                       "test mask"))
        if Yt.shape[-1] != Y.shape[-1]:
            raise ValueError(f"test Y must have {Y.shape[-1]} values per step like Y, "
                             f"got shape {Yt.shape}")
    pieces = chunks(T, k)
    if cfg.step_decay is not None:
        raise ValueError("config.step_decay weighs the steps of whole sequences: it "
                         f"is no option of fit_tbptt, got {cfg.step_decay!r}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {V.describe(callback)}")
    backend, rng, history = _backend(model, cfg), np.random.default_rng(cfg.seed), \
        History()
    step_chunk = _numpy_chunk if isinstance(model, SequenceModel) else _torch_chunk
    best = np.inf
    for epoch in range(1, cfg.epochs + 1):
        perm, losses, norms = rng.permutation(N), [], []
        for b in range(N // cfg.batch_size):
            idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            state = None                                     # a new stream: zeros
            for j, s in enumerate(pieces):
                Xc = X[s, idx]
                if cfg.input_noise:
                    Xc = Xc + rng.normal(0.0, cfg.input_noise, Xc.shape).astype(X.dtype)
                if not W[s, idx].any():                      # padding only
                    state = _carry(backend, model, Xc, state)
                    continue
                loss, norm, state = step_chunk(backend, Xc, Y[s, idx], W[s, idx],
                                               state, cfg)
                if not (np.isfinite(loss) and np.isfinite(norm)):
                    raise FloatingPointError(
                        f"training diverged at epoch {epoch}, batch {b + 1}, chunk "
                        f"{j + 1}: loss {loss:.3g}, gradient norm {norm:.3g}; lower "
                        f"config.lr (now {cfg.lr:g}) or set config.clip")
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


def _carry(backend, model, X, state):
    """Run a chunk without training on it (it is padding): only its state."""
    if isinstance(model, SequenceModel):
        return model.forward(X, state)[1]
    with backend.torch.no_grad():
        return model(backend.torch.as_tensor(X, **backend.kw), state)[1]
