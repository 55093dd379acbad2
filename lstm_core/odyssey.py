"""Three small tasks on which the LSTM variants and the GRU are compared.

The runs of the chapter "Which parts of the LSTM matter" (chapters/foundations/
lstm_variants), a pocket version of Greff et al. 2017, "LSTM: A Search Space
Odyssey". One run is one (task, arm, seed); `run` trains it with the NumPy
reference (`lstm_core.model.SequenceModel`, hand-written backward passes,
`lstm_core.train.fit`, Adam) and returns its metrics, `run_cached` keeps one
.npz file per run so that a retrain resumes where it stopped.

Arms: the variants of `lstm_core.variants` (vanilla is the reference), "fb1" (the
vanilla LSTM with 1 added to its forget-gate bias at initialisation, after
Jozefowicz, Zaremba & Sutskever 2015) and "gru" (`lstm_core.gru`). All have
hidden_size=16 and a linear readout. The seed decides the initial weights
(`default_rng(seed)`) and the order of the batches; the data are the same for
every run.

Tasks (numbers in `TASKS`):
- "reber": next-symbol prediction on the embedded Reber grammar, 256 training and
  256 test strings; solved when every step of every training and test string
  passes the criterion of Hochreiter & Schmidhuber 1997 (`steps_ok`), checked
  after each epoch, at most `max_epochs` epochs.
- "sine": next-step prediction on sine waves of period 20 (`data.sine_waves`),
  input noise 0.05, the first 50 steps of each window left out of the loss; then
  a free run of 500 steps from 100 steps of warm-up on 8 new waves, scored by
  `metrics.free_error` divided by `metrics.flat_line_error`.
- "timing": two input spikes 9 or 10 steps apart, at every phase (19 sequences
  of 50 steps); the network must then fire by itself every 9 or 10 steps, with
  no more input (`spike_trains`); a sequence passes when after the second input
  spike the output is above 0.5 exactly at the due steps (after Gers,
  Schraudolph & Schmidhuber 2002, who tell apart spike trains 50 and 49 steps
  apart and generate timed spikes).
"""
import io as _io
import time
from pathlib import Path

import numpy as np

from . import data, metrics, train
from . import io as lio
from . import validate as V
from .generate import free_run, predict
from .model import SequenceModel
from .variants import VARIANTS

ARMS = ("vanilla", "np", "nig", "nfg", "nog", "niaf", "noaf", "cifg", "fb1", "gru")
HIDDEN = 16
TASKS = {
    "reber": dict(lr=1e-2, batch_size=8, max_epochs=150),
    "sine": dict(lr=1e-2, batch_size=16, epochs=50, window=200, washout=50,
                 input_noise=0.05, clip=1.0, warm=100, free=500),
    "timing": dict(lr=1e-2, periods=(9, 10), length=50, max_epochs=1500,
                   check_every=25, clip=1.0),
}


def make_model(arm, input_size, output_size, seed):
    """The arm's SequenceModel (float64), initial weights from default_rng(seed)."""
    V.one_of("arm", arm, ARMS)
    rng = np.random.default_rng(seed)
    if arm == "gru":
        return SequenceModel(input_size, HIDDEN, output_size, cell="gru", rng=rng)
    variant = "vanilla" if arm == "fb1" else arm
    model = SequenceModel(input_size, HIDDEN, output_size, variant=variant, rng=rng)
    if arm == "fb1":
        model.params["b_ih"][HIDDEN:2 * HIDDEN] += 1.0     # rows of f: (i, f, g, o)
    return model


def n_weights(arm, input_size, output_size):
    """The number of weights of an arm's model, readout included."""
    return sum(p.size for p in make_model(arm, input_size, output_size, 0)
               .params.values())


# ------------------------------------------------------------------ reber

def steps_ok(Z, Y, mask):
    """(T, N) bool: every legal output above every illegal one, or a padded step.

    The 1997 criterion; Z, Y (T, N, 7) outputs and multi-hot targets, mask (T, N).
    """
    legal = Y > 0.5
    lowest_legal = np.where(legal, Z, np.inf).min(-1)           # (T, N)
    highest_illegal = np.where(legal, -np.inf, Z).max(-1)       # (T, N)
    return (lowest_legal > highest_illegal) | (mask == 0)


def reber_sets(n=256, seed=0):
    """2n distinct embedded Reber strings split at random into train and test."""
    rng = np.random.default_rng(seed)
    found = {}                                   # a dict keeps the draw order
    while len(found) < 2 * n:
        found.setdefault(data.embedded_reber(rng), None)
    strings = list(found)
    order = rng.permutation(2 * n)
    return [strings[k] for k in order[:n]], [strings[k] for k in order[n:]]


class _Solved(Exception):
    pass


def _reber(arm, seed, cfg):
    tr, te = reber_sets()
    (X, Y, M), (Xt, Yt, Mt) = data.encode_strings(tr), data.encode_strings(te)
    t2 = data.second_to_last_step(te)
    target = np.array([data.SYMBOLS.index(s[-2]) for s in te])
    model = make_model(arm, 7, 7, seed)
    log = {"solved_at": 0, "curve": []}

    def check(epoch, model, history):
        ok_tr = steps_ok(predict(model, X), Y, M).all(0)
        ok_te = steps_ok(predict(model, Xt), Yt, Mt).all(0)
        log["curve"].append(ok_te.mean())
        if ok_tr.all() and ok_te.all():
            log["solved_at"] = epoch
            raise _Solved

    tc = train.TrainConfig(epochs=cfg["max_epochs"], batch_size=cfg["batch_size"],
                           lr=cfg["lr"], loss="bce", seed=seed, checkpoint_every=1)
    try:
        train.fit(model, X, Y, tc, mask=M, callback=check)
    except _Solved:
        pass
    Z = predict(model, Xt)
    solved = log["solved_at"] > 0
    return {"solved": solved,
            "epochs": log["solved_at"] if solved else cfg["max_epochs"],
            "test_strings": steps_ok(Z, Yt, Mt).all(0).mean(),
            "s2l": (Z[t2, np.arange(len(te))].argmax(-1) == target).mean(),
            "curve": np.array(log["curve"])}


# ------------------------------------------------------------------ sine

def sine_sets():
    """Training windows X, Y (200, 80, 1) with mask, and the test waves (600, 8)."""
    cfg = TASKS["sine"]
    waves = data.sine_waves(16, 1001, 20.0, rng=np.random.default_rng(100))
    n = (waves.shape[0] - 1) // cfg["window"]
    X = np.concatenate(np.split(waves[:-1][:n * cfg["window"]], n), axis=1)
    Y = np.concatenate(np.split(waves[1:][:n * cfg["window"]], n), axis=1)
    M = np.ones(X.shape)
    M[:cfg["washout"]] = 0                       # the state does not know the phase
    test = data.sine_waves(8, cfg["warm"] + cfg["free"], 20.0,
                           rng=np.random.default_rng(200))
    return X[..., None], Y[..., None], M, test


def _sine(arm, seed, cfg):
    X, Y, M, test = sine_sets()
    model = make_model(arm, 1, 1, seed)
    tc = train.TrainConfig(epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                           lr=cfg["lr"], loss="mse", clip=cfg["clip"],
                           input_noise=cfg["input_noise"], seed=seed)
    history = train.fit(model, X, Y, tc, mask=M)
    warm, truth = test[:cfg["warm"]], test[cfg["warm"]:]
    with np.errstate(all="ignore"):
        gen = free_run(model, warm[..., None], cfg["free"])[..., 0]   # (500, 8)
    gen = np.clip(np.nan_to_num(gen, nan=10.0), -10, 10)  # a blown-up run: bounded
    hs = (100, cfg["free"])
    ratio = metrics.free_error(gen, truth, hs) / metrics.flat_line_error(truth, hs)
    return {"ratio100": ratio[0], "ratio500": ratio[1],
            "final_loss": history.train_loss[-1],
            "curve": np.array(history.train_loss), "free": gen[:, :2]}


# ------------------------------------------------------------------ timing

def spike_trains(periods=(9, 10), length=50):
    """X, Y (length, N, 1) and the scored-step mask (length, N), one sequence per
    (period, phase); also the period of each sequence (N,).

    X has two spikes (1), at steps phase and phase + period, and is 0 after them;
    the target Y has a spike at every later step phase + k period (k >= 2): the
    network must measure the first interval and then fire on time by itself.
    Steps up to the second spike are left out (mask 0): until then the interval
    is unknown.
    """
    rows = [(p, ph) for p in periods for ph in range(p)]
    T, N = length, len(rows)
    X, Y, mask = np.zeros((T, N)), np.zeros((T, N)), np.zeros((T, N))
    for n, (p, ph) in enumerate(rows):
        X[[ph, ph + p], n] = 1
        Y[ph + 2 * p::p, n] = 1
        mask[ph + p + 1:, n] = 1
    return X[..., None], Y[..., None], mask, np.array([p for p, _ in rows])


def timing_ok(Z, Y, mask):
    """(N,) bool: at every scored step the output is above 0 (p > 0.5) exactly
    where the target is a spike."""
    return (((Z[..., 0] > 0) == (Y[..., 0] > 0.5)) | (mask == 0)).all(0)


def _timing(arm, seed, cfg):
    X, Y, M, _ = spike_trains(cfg["periods"], cfg["length"])
    X2, Y2, M2, _ = spike_trains(cfg["periods"], 2 * cfg["length"])
    model = make_model(arm, 1, 1, seed)
    log = {"solved_at": 0, "curve": []}

    def check(epoch, model, history):
        ok = timing_ok(predict(model, X), Y, M)
        log["curve"].append(ok.mean())
        if ok.all():
            log["solved_at"] = epoch
            raise _Solved

    tc = train.TrainConfig(epochs=cfg["max_epochs"], batch_size=X.shape[1],
                           lr=cfg["lr"], loss="bce", clip=cfg["clip"], seed=seed,
                           checkpoint_every=cfg["check_every"])
    try:
        train.fit(model, X, Y, tc, mask=M, callback=check)
    except _Solved:
        pass
    solved = log["solved_at"] > 0
    return {"solved": solved,
            "epochs": log["solved_at"] if solved else cfg["max_epochs"],
            "passing": timing_ok(predict(model, X), Y, M).mean(),
            "long_passing": timing_ok(predict(model, X2), Y2, M2).mean(),
            "curve": np.array(log["curve"])}


# ------------------------------------------------------------------ runs

RUNNERS = {"reber": _reber, "sine": _sine, "timing": _timing}


def run(task, arm, seed):
    """Train one run; returns its metrics (a dict of NumPy scalars and arrays),
    with cpu_s, the CPU seconds the run took (training and scoring)."""
    V.one_of("task", task, TASKS)
    V.one_of("arm", arm, ARMS)
    seed = V.nonnegative_int("seed", seed)
    start = time.process_time()
    out = RUNNERS[task](arm, seed, TASKS[task])
    out["cpu_s"] = time.process_time() - start
    return {k: np.asarray(v) for k, v in out.items()}


def run_path(folder, task, arm, seed):
    return Path(folder) / f"{task}_{arm}_seed{seed}.npz"


def run_cached(folder, task, arm, seed, retrain=False):
    """The metrics of one run: read from its file, or (retrain, or no file yet
    with retrain) trained now and saved atomically. Without retrain a missing
    file is an error, so a notebook never trains by accident."""
    path = run_path(folder, task, arm, seed)
    if not path.exists():
        if not retrain:
            raise FileNotFoundError(f"no saved run {str(path)!r}: set RETRAIN = True "
                                    "to make it")
        buf = _io.BytesIO()
        np.savez(buf, **run(task, arm, seed))
        lio.atomic_write(path, buf.getvalue())
    with np.load(path, allow_pickle=False) as f:
        return dict(f)

