"""The book's recipes as functions a reader can use on their own series.

`fit_generator(waves)` trains the generator of the chapter "Drawing the wave by
itself" (chapters/sine/generating_waves) on training waves (T, N): N series of T
steps of one signal (different phases, or different stretches of one recording).
It returns a `Generator`, whose `free_run(warm, n_steps)` reads a warm-up
(T0, M) in the series' own units and draws the next n_steps values (n_steps, M):
output[k] is its estimate of step T0 + k of the series (output[0] is the
prediction made from the last warm-up value).

The recipe (`GeneratorConfig` holds its numbers):
- standardise: subtract the training waves' mean and divide by their standard
  deviation (both stored with the model and undone on output), because an LSTM's
  gates saturate on inputs far from unit scale;
- next-step targets, cut into windows of `window` steps, each from a zero state;
- washout: the first `washout` steps of each window drive the state but are left
  out of the loss (from a zero state the network does not know the phase yet);
- weighted training (optional, off by default): with `step_decay` = gamma the
  scored steps t = washout, ..., window - 1 weigh gamma^(t - washout) in the loss
  (a weighted mean, normalised by the weights' sum), so the weight starts where
  the loss starts; with washout=0 it falls on the start-up steps from a zero
  state (the weighted training of Fu's post on zero-state windows);
- input noise: Gaussian noise of std `input_noise` (in standardised units) added
  to the inputs, not the targets, so that the network learns to pull a slightly
  wrong state back onto the wave; its own free-running output is such an input
  (the denoising trick of the chapter "The two training tricks");
- one LSTM layer (`torch_lstm.SequenceModel(1, hidden_size, 1)`, float32), one
  Adam optimiser (Kingma & Ba 2015) for the whole run, its learning rate
  cosine-annealed from `lr` to `lr_final` over the updates (same optimiser, same
  moment estimates throughout), the global gradient norm clipped at `clip`
  (Pascanu, Mikolov & Bengio 2013).

Random streams: the initial weights come from torch.manual_seed(seed), the order
of the windows from numpy's default_rng(seed) and the input noise from a stream
of its own (default_rng([seed, 1])), so runs with and without noise see the same
initial weights and the same batches.

References: Z. H. Fu (2016), "LSTM learns sine waves" (the generator task);
pytorch/examples `time_sequence_prediction` (its data); H. Jaeger (2001), the
"washout" of echo state networks.
"""
from dataclasses import asdict, dataclass, fields

import numpy as np

from . import feedback
from . import validate as V


@dataclass(frozen=True)
class GeneratorConfig:
    hidden_size: int = 51        # LSTM units
    window: int = 200            # steps per training window (zero state at its start)
    washout: int = 50            # first steps of a window left out of the loss
    epochs: int = 120            # passes over the windows
    batch_size: int = 32         # windows per update (fewer if there are fewer)
    lr: float = 1e-2             # Adam's learning rate at the start, cosine-annealed
    lr_final: float = 1e-5       # ... to this at the last update
    clip: float = 1.0            # global gradient-norm clipping
    input_noise: float = 0.05    # std of Gaussian noise on the (standardised) inputs
    step_decay: float | None = None  # weighted training: scored step t weighs
    #                              step_decay ** (t - washout); None: plain mean
    seed: int = 0                # initial weights and the order of the windows
    scheduled_sampling: float = 0.0  # final probability of feeding back an output
    rollout: int = 0             # k of the multi-step loss; 0: none

    def __post_init__(self):
        for name in ("hidden_size", "window", "epochs", "batch_size"):
            V.positive_int(f"{name}", getattr(self, name))
        V.nonnegative_int("washout", self.washout)
        V.nonnegative_int("seed", self.seed)
        if self.washout >= self.window:
            raise ValueError(f"washout must be smaller than window ({self.window}) so "
                             f"that some steps are scored, got washout={self.washout}")
        V.number("lr", self.lr, low=0, low_open=True)
        V.number("lr_final", self.lr_final, low=0, high=self.lr)
        V.number("clip", self.clip, low=0, low_open=True)
        V.number("input_noise", self.input_noise, low=0)
        if self.step_decay is not None:
            V.number("step_decay", self.step_decay, low=0, high=1, low_open=True)
        feedback.check_options(self)


class Generator:
    """A trained generator: the model, the standardisation and the recipe.

    free_run(warm (T0, M), n_steps) -> (n_steps, M) in the series' units;
    predict(series (T0, M)) -> (T0, M) teacher-forced next-step predictions.
    """

    def __init__(self, model, mean, scale, config, history=None, meta=None):
        if not isinstance(config, GeneratorConfig):
            raise TypeError(f"config must be a GeneratorConfig, got "
                            f"{V.describe(config)}")
        self.model, self.config = model, config
        self.mean = V.number("mean", mean)
        self.scale = V.number("scale", scale, low=0, low_open=True)
        self.history = history or {}
        self.meta = meta

    def standardise(self, x):
        return (x - self.mean) / self.scale

    def unstandardise(self, z):
        return z * self.scale + self.mean

    def _input(self, name, x):
        import torch
        V.array(name, x, 2, dims="(T0, M)")
        z = self.standardise(x.astype(np.float64))
        if not np.isfinite(z).all() or np.abs(z).max() > 1e6:
            raise ValueError(f"{name} lies far outside the training waves' range "
                             f"(max |{name} - mean| / scale = "
                             f"{np.abs(z[np.isfinite(z)]).max():.3g}): the generator "
                             "only knows signals like the ones it was trained on")
        ref = next(self.model.parameters())
        return torch.as_tensor(z[..., None], dtype=ref.dtype, device=ref.device)

    def predict(self, series):
        """Teacher-forced: output[t] (T0, M) is the estimate of series[t + 1]."""
        import torch
        with torch.no_grad():
            Y = self.model(self._input("series", series))[0]      # (T0, M, 1)
        return self.unstandardise(Y[..., 0].cpu().numpy().astype(np.float64))

    def free_run(self, warm, n_steps, *, return_states=False):
        """Read warm (T0, M), then feed each output back: (n_steps, M).

        output[k] estimates step T0 + k of the series that warm begins; with
        return_states=True also the LSTM's h_t (n_steps, M, H), the state that
        produced each output.
        """
        import torch
        n_steps = V.positive_int("n_steps", n_steps)
        V.boolean("return_states", return_states)
        X = self._input("warm", warm)                                # (T0, M, 1)
        rnn, readout = self.model.rnn, self.model.readout
        out, states = [], []
        with torch.no_grad():
            H, state = rnn(X)                                        # (T0, M, H)
            h = H[-1:]
            for k in range(n_steps):
                y = readout(h)                                       # (1, M, 1)
                out.append(y)
                states.append(h)
                if k + 1 < n_steps:
                    h, state = rnn(y, state)
        Z = torch.cat(out)[..., 0].cpu().numpy().astype(np.float64)  # (n_steps, M)
        gen = self.unstandardise(Z)
        if return_states:
            return gen, torch.cat(states).cpu().numpy()
        return gen


def _windows(A, length):
    """(T, N) -> (length, N * (T // length)): consecutive windows of each column."""
    n = A.shape[0] // length
    return np.concatenate(np.split(A[:n * length], n), axis=1)


def _check_waves(waves, cfg):
    V.array("waves", waves, 2, dims="(T, N)")
    T = waves.shape[0]
    if T < cfg.window + 1:
        raise ValueError(f"waves must have at least window + 1 = {cfg.window + 1} "
                         f"steps (rows) to make one training window of next-step "
                         f"pairs, got {V.describe(waves)}; pass a shorter window")
    scale = float(waves.astype(np.float64).std())
    if not scale > 1e-12 * max(1.0, float(np.abs(waves).max())):
        raise ValueError(f"waves must vary: their standard deviation is {scale:.3g}, "
                         "so there is nothing to standardise or to learn")
    return float(waves.astype(np.float64).mean()), scale


def fit_generator(waves, *, hidden_size=51, seed=0, progress=False, callback=None,
                  **options):
    """Train the book's generator on waves (T, N); return a `Generator`.

    options: any other field of `GeneratorConfig` (window, washout, epochs,
    batch_size, lr, lr_final, clip, input_noise, step_decay, and the two
    remedies of `lstm_core.feedback`: scheduled_sampling, rollout).
    callback(epoch, generator), if given, runs after every epoch (e.g. to
    measure the free-running error while training).
    A loss that is not finite stops training with a FloatingPointError.

    Range checked with the defaults (chapters/sine/generating_waves, 97 training
    waves of 1000 steps, scored on 20 held-out waves, E(1000) of a 1000-step free
    run after a 1000-step warm-up, against the flat line's E(1000)):
    - sines A sin(t / tau + phi), A from 0.1 to 10 and tau from 10 to 20 (cycles
      of 63 to 126 steps): E(1000) / flat 0.060 at tau 10 and 0.050 at tau 20
      for every A (one seed; 0.026 to 0.049 over five seeds at A 1, tau 20, on
      the chapter's 3 test waves);
    - a sum of two sines, sin(t/20) + 0.5 sin(t/7): 0.064.
    Outside it: at tau = 80 (503-step cycles) 0.19 for every A, 0.036 with
    window=400, washout=100, epochs=240 (a longer window alone made it worse:
    fewer windows, so fewer updates per epoch; scale epochs with the window);
    a sum of three sines (periods 20, 7, 50) 0.68; 0.54 with hidden_size=100,
    0.38 with epochs=360, 0.55 with hidden_size=100, window=400, epochs=360.
    """
    import torch

    from .torch_lstm import SequenceModel
    names = {f.name for f in fields(GeneratorConfig)} - {"hidden_size", "seed"}
    unknown = sorted(set(options) - names)
    if unknown:
        raise TypeError(f"fit_generator got unknown options {unknown}; the recipe's "
                        f"options are hidden_size, seed and {sorted(names)}")
    cfg = GeneratorConfig(hidden_size=hidden_size, seed=seed, **options)
    V.boolean("progress", progress)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {V.describe(callback)}")
    mean, scale = _check_waves(waves, cfg)
    Z = (waves.astype(np.float64) - mean) / scale                    # (T, N)
    X = torch.from_numpy(_windows(Z[:-1], cfg.window).astype(np.float32))[..., None]
    Y = torch.from_numpy(_windows(Z[1:], cfg.window).astype(np.float32))[..., None]
    n_windows = X.shape[1]                                           # X (W, n, 1)
    batch = min(cfg.batch_size, n_windows)

    torch.manual_seed(cfg.seed)
    model = SequenceModel(1, cfg.hidden_size, 1, dtype=torch.float32)
    gen = Generator(model, mean, scale, cfg, {"train_loss": [], "lr": []})
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps = cfg.epochs * (n_windows // batch)                        # updates
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps - 1, 1),
                                                       cfg.lr_final)
    rng = np.random.default_rng(cfg.seed)                            # window order
    noise_rng = np.random.default_rng([cfg.seed, 1])                 # input noise
    coin_rng = np.random.default_rng([cfg.seed, 2])     # scheduled sampling's coins
    scored = cfg.window - cfg.washout
    decay = 1.0 if cfg.step_decay is None else cfg.step_decay
    w = torch.from_numpy(decay ** np.arange(scored, dtype=np.float64))
    w = (w / w.sum()).to(torch.float32)[:, None, None]               # (scored, 1, 1)
    epochs = range(1, cfg.epochs + 1)
    if progress:
        from tqdm.auto import tqdm
        epochs = tqdm(epochs, desc="epochs")
    for epoch in epochs:
        perm, losses = torch.from_numpy(rng.permutation(n_windows)), []
        p_fed = feedback.sampling_probability(cfg, epoch)
        gen.history["lr"].append(opt.param_groups[0]["lr"])
        for start in range(0, n_windows - batch + 1, batch):
            idx = perm[start:start + batch]
            Xb = X[:, idx]                                           # (W, B, 1)
            if cfg.input_noise:
                Xb = Xb + torch.from_numpy(noise_rng.normal(
                    0.0, cfg.input_noise, Xb.shape).astype(np.float32))
            if cfg.rollout:
                out, extra = feedback.rollout_pass(model, Xb, Y[:, idx], cfg)
            elif p_fed:
                out = feedback.sampled_pass(model, Xb, cfg.washout, p_fed,
                                             coin_rng)
            else:
                out = model(Xb)[0]
            err = out - Y[:, idx]                                    # (W, B, 1)
            if cfg.step_decay is None:
                loss = (err[cfg.washout:] ** 2).mean()
            else:                                   # weighted mean over steps
                loss = (w * err[cfg.washout:] ** 2).sum() / err.shape[1]
            if cfg.rollout:                         # the multi-step loss
                loss = loss + extra
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training diverged at epoch {epoch}: loss "
                                         f"{loss.item():.3g}; lower lr (now "
                                         f"{cfg.lr:g}) or clip (now {cfg.clip:g})")
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
            sched.step()
            losses.append(loss.item())
        gen.history["train_loss"].append(float(np.mean(losses)))
        if callback is not None:
            callback(epoch, gen)
    return gen


def config_dict(config):
    """The recipe's numbers as a plain dict (for a file's metadata)."""
    return asdict(config)
