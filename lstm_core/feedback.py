"""Two remedies for a generator that never sees its own outputs while training.

Options of `recipes.fit_generator` (PyTorch backend; off by default, and then the
recipe's training loop is unchanged):
- scheduled_sampling=p (Bengio, Vinyals, Jaitly & Shazeer 2015, "Scheduled
  sampling for sequence prediction with recurrent neural networks"): after the
  washout, each step's input is the model's own previous output with a
  probability rising linearly over the epochs from 0 to p, else the true value;
  no gradient flows through a sampled input. Step by step, so slower.
- rollout=k, a multi-step loss: from points after the washout the model runs
  free for k steps on its own outputs, the gradient flowing through them, and
  the mean squared error of those k steps is added to the teacher-forced loss.

Both are about the chapter "The two training tricks" (chapters/sine/
training_tricks), which measures them against weighted training and denoising.
"""
from . import validate as V


def check_options(cfg):
    """Refuse bad scheduled_sampling / rollout values of a GeneratorConfig."""
    V.number("scheduled_sampling", cfg.scheduled_sampling, low=0, high=1)
    V.nonnegative_int("rollout", cfg.rollout)
    if cfg.rollout and cfg.washout + cfg.rollout > cfg.window - 1:
        raise ValueError(f"rollout must leave room for one free run after the "
                         f"washout: washout + rollout <= window - 1 = "
                         f"{cfg.window - 1}, got rollout={cfg.rollout} with "
                         f"washout={cfg.washout}")
    if cfg.rollout and cfg.scheduled_sampling:
        raise ValueError(f"scheduled_sampling and rollout are two remedies, one at "
                         f"a time: got scheduled_sampling={cfg.scheduled_sampling} "
                         f"and rollout={cfg.rollout}; set one of them to 0")


def sampling_probability(cfg, epoch):
    """Scheduled sampling's probability in epoch (1, ..., epochs): rising
    linearly from 0 in the first epoch to cfg.scheduled_sampling in the last."""
    if cfg.epochs == 1:
        return 0.0
    return cfg.scheduled_sampling * (epoch - 1) / (cfg.epochs - 1)


def _step(model):
    """One step of the model's LSTM layer, x (B, 1), (h, c) each (B, H) ->
    (h, c), by torch's fused cell: the loops below call it once per step, and
    the layer's own forward checks every argument on every call (twice as
    slow). The recipe's layer is a plain LSTM (no peepholes)."""
    import torch
    r = model.rnn
    if getattr(r, "peepholes", True) or not getattr(r, "forget_gate", False):
        raise ValueError("the scheduled_sampling and rollout loops need a plain "
                         f"LSTM layer (no peepholes), got {type(r).__name__}")
    return lambda x, hc: torch.lstm_cell(x, hc, r.W_ih, r.W_hh, r.b_ih, r.b_hh)


def sampled_pass(model, Xb, washout, p, coin_rng):
    """Scheduled sampling (Bengio, Vinyals, Jaitly & Shazeer 2015) on a batch
    Xb (W, B, 1) -> outputs (W, B, 1).

    The washout steps (at least step 0) read the true inputs in one call; then,
    step by step, the input at step t is the model's own previous output
    (detached: no gradient flows through a sampled input) where a coin with
    probability p says so, else the true (possibly noisy) value. The coins,
    (W - start, B), come from coin_rng, a stream of their own.
    """
    import torch
    start = max(washout, 1)
    coins = torch.from_numpy(coin_rng.random((Xb.shape[0] - start, Xb.shape[1]))
                             < p)[..., None]                         # (W-start, B, 1)
    step = _step(model)
    H, (h, c) = model.rnn(Xb[:start])                  # H (start, B, H)
    outs = [model.readout(H)]
    y, h, c = outs[0][-1], h[0], c[0]                  # (B, 1), (B, H), (B, H)
    for j in range(coins.shape[0]):
        x = torch.where(coins[j], y.detach(), Xb[start + j])           # (B, 1)
        h, c = step(x, (h, c))
        y = model.readout(h)
        outs.append(y[None])
    return torch.cat(outs)


def rollout_starts(cfg):
    """The steps t0 after which the multi-step loss runs free: washout,
    washout + k, ... while t0 + k <= window - 1 (the rollouts tile the window)."""
    k = cfg.rollout
    return list(range(cfg.washout, cfg.window - k, k))


def rollout_pass(model, Xb, Yb, cfg):
    """The multi-step loss: Xb, Yb (W, B, 1) -> (teacher-forced outputs
    (W, B, 1), the rollout's mean squared error).

    The window is read teacher-forced in pieces that end at each start t0 of
    `rollout_starts`; from the state after x_{t0} (whose output predicts
    x_{t0+1}) the model runs free for k = cfg.rollout steps, each input its own
    previous output, with the gradient flowing through them; the k outputs are
    scored against x_{t0+2}, ..., x_{t0+k+1}. All rollouts run as one batch.
    """
    import torch
    k, starts = cfg.rollout, rollout_starts(cfg)
    H, states, begin = [], [], 0
    for t0 in starts:
        h, state = model.rnn(Xb[begin:t0 + 1], states[-1] if states else None)
        H.append(h)
        states.append(state)
        begin = t0 + 1
    if begin < Xb.shape[0]:
        H.append(model.rnn(Xb[begin:], states[-1])[0])
    out = model.readout(torch.cat(H))                                # (W, B, 1)
    step = _step(model)
    h, c = (torch.cat([s[i][0] for s in states]) for i in (0, 1))   # (B*n, H)
    y = torch.cat([out[t0] for t0 in starts])                        # (B*n, 1)
    free = []
    for _ in range(k):
        h, c = step(y, (h, c))
        y = model.readout(h)
        free.append(y)
    target = torch.cat([Yb[t0 + 1:t0 + k + 1] for t0 in starts], dim=1)
    return out, ((torch.stack(free) - target) ** 2).mean()
