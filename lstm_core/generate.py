"""Using a trained model: outputs without gradients, and free-running generation.

Both work for either backend (`lstm_core.model.SequenceModel` in NumPy, a torch
module returning (Y, state)), take NumPy inputs in the model's dtype or convert
them to it, and refuse non-finite inputs or parameters with a clear error.
"""
import numpy as np

from . import validate as V
from .model import SequenceModel


def model_dtype(model):
    """The dtype of a model's parameters; checks they are finite."""
    if isinstance(model, SequenceModel):
        for k, v in model.params.items():
            V.array(f"model.params[{k!r}]", v, nonempty=False)
        return model.dtype
    import torch
    if not isinstance(model, torch.nn.Module):
        raise TypeError("model must be a lstm_core SequenceModel or a torch.nn.Module, "
                        f"got {V.describe(model)}")
    params = dict(model.named_parameters())
    if not params:
        raise ValueError("model has no parameters")
    with torch.no_grad():
        for k, p in params.items():
            if not torch.isfinite(p).all():
                raise ValueError(f"model parameter {k} holds NaN or infinite values "
                                 "(a diverged training run?)")
    return torch.empty(0, dtype=next(iter(params.values())).dtype).numpy().dtype


def _input_size(model):
    """The number of inputs per step the model takes, or None if it cannot tell."""
    if isinstance(model, SequenceModel):
        return model.params["W_ih"].shape[1]
    return getattr(getattr(model, "rnn", None), "input_size", None)


def as_model_input(name, X, model, ndim=3, dims="(T, N, I)", inputs=True):
    """X checked (finite float array; with inputs, of the model's input size) and
    converted to the model's dtype (finite there too: 1e300 is a float64, not a
    float32)."""
    dtype = model_dtype(model)
    V.array(name, X, ndim, dims=dims)
    if inputs and _input_size(model) not in (None, X.shape[-1]):
        raise ValueError(f"{name} must have {_input_size(model)} values per step, the "
                         f"model's input size, got {V.describe(X)}")
    with np.errstate(over="ignore"):
        out = X.astype(dtype, copy=False)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} must hold values within the range of {dtype}, the "
                         f"model's dtype: some overflow to infinity (max |{name}| = "
                         f"{float(np.abs(X).max()):.3g})")
    return out


def predict(model, X, state=None):
    """Outputs (T, N, O) as a NumPy array, for either backend, without gradients."""
    X = as_model_input("X", X, model)
    if isinstance(model, SequenceModel):
        return model.forward(X, state)[0]
    import torch
    ref = next(model.parameters())
    with torch.no_grad():
        Y = model(torch.as_tensor(X, device=ref.device), state)[0]
    return Y.cpu().numpy()


def free_run(model, X_warm, n_steps):
    """Teacher-force X_warm (T0, N, I), then feed each output back as the next input.

    Returns the n_steps predictions (n_steps, N, O) aligned with the series:
    out[k] predicts series[T0 + k] (0-based, X_warm = series[:T0]), so compare
    it with series[T0:T0 + n_steps], as the measures of `lstm_core.metrics`
    expect. out[0] is the output at the last warm-up input (a teacher-forced
    one-step prediction, the first value fed back); out[k] for k >= 1 is the
    output when out[k - 1] is fed back. Needs O == I.
    """
    n_steps = V.positive_int("n_steps", n_steps)
    X_warm = as_model_input("X_warm", X_warm, model, dims="(T0, N, I)")
    if isinstance(model, SequenceModel):
        step = model.forward
        to_np = np.asarray
    else:
        import torch
        ref = next(model.parameters())
        X_warm = torch.as_tensor(X_warm, device=ref.device)

        @torch.no_grad()
        def step(x, state):
            return model(x, state)

        def to_np(y):
            return y.cpu().numpy()
    Y, state = step(X_warm, None)
    if Y.shape[-1] != X_warm.shape[-1]:
        raise ValueError(f"free running feeds outputs back as inputs: the model's "
                         f"output size {Y.shape[-1]} must equal its input size "
                         f"{X_warm.shape[-1]}")
    y = Y[-1:]                                 # predicts series[T0]
    out = [to_np(y)]
    for _ in range(n_steps - 1):
        y, state = step(y, state)
        out.append(to_np(y))
    return np.concatenate(out)
