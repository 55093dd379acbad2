"""The embedded-Reber part of `lstm_core.check`: `check_steps_ok` (call it there).

The reader writes the success criterion of Hochreiter & Schmidhuber (1997),
Section 5.1, Experiment 1: at a step, the outputs of the legal next symbols must
all be larger than every output of an illegal symbol ("the output unit(s)
corresponding to the possible next symbol(s) is(are) always the most active
ones"); padded steps (mask 0) count as passed. It is compared with a reference on
random outputs Z (T, N, 7), multi-hot targets Y (T, N, 7) of the embedded Reber
grammar (`data.encode_strings`) and their mask (T, N). A wrong answer is compared
with the usual mistakes (an argmax test, >= for >, the mask inverted), so that the message says what is wrong
without showing the code of the answer.
"""
import numpy as np

from . import data
from .check import CheckError, _call


def _reference(Z, Y, mask, strict=True, use_mask=True, argmax=False):
    """The criterion with knobs for the usual mistakes; defaults: the reference."""
    legal = Y > 0.5
    if argmax:                                   # "the largest output is legal"
        ok = np.take_along_axis(legal, Z.argmax(-1)[..., None], -1)[..., 0]
    else:
        low_legal = np.where(legal, Z, np.inf).min(-1)
        high_illegal = np.where(legal, -np.inf, Z).max(-1)
        ok = low_legal > high_illegal if strict else low_legal >= high_illegal
    if use_mask == "inverted":
        return ok | (mask != 0)
    return ok | (mask == 0) if use_mask else ok


MISTAKES = (
    ("you test whether the largest output is a legal symbol (the same as comparing "
     "the LARGEST legal output with the illegal ones); the criterion asks that "
     "EVERY legal output beat every illegal one", dict(argmax=True)),
    ("a tie between a legal and an illegal output passes in your version; the "
     "legal ones must be strictly larger", dict(strict=False)),
    ("you pass the real steps and test the padded ones: the mask is inverted",
     dict(use_mask="inverted")),
)


def _cases(rng):
    strings = [data.embedded_reber(rng) for _ in range(6)]
    _, Y, mask = data.encode_strings(strings)                  # (T, N, 7), (T, N)
    base = rng.normal(size=Y.shape)
    yield "random outputs", base, Y, mask
    yield "outputs close to the targets", 3 * Y + 0.5 * base, Y, mask
    tied = np.where(Y > 0.5, 1.0, 0.0) + np.where(rng.random(Y.shape) < 0.2, 1.0, 0)
    yield "outputs with ties", np.minimum(tied, 1.0), Y, mask


def check_steps_ok(fn, seed=0):
    """fn(Z (T, N, 7), Y (T, N, 7), mask (T, N)) -> (T, N) bool, the 1997 criterion.

    Prints one line if right, else raises CheckError naming the mistake.
    """
    rng = np.random.default_rng(seed)
    n = 0
    for name, Z, Y, mask in _cases(rng):
        got = _call("your steps_ok", fn, Z.copy(), Y.copy(), mask.copy(),
                    hint="Z and Y are (T, N, 7), mask (T, N)")
        got = np.asarray(got)
        if got.shape != mask.shape:
            raise CheckError(f"steps_ok must return one bool per step and string, "
                             f"shape {mask.shape} (T, N), got shape {got.shape}")
        ref = _reference(Z, Y, mask)
        if np.array_equal(got.astype(bool), ref):
            n += 1
            continue
        for message, knobs in MISTAKES:
            if np.array_equal(got.astype(bool), _reference(Z, Y, mask, **knobs)):
                raise CheckError(f"steps_ok ({name}): {message}")
        bad = np.argwhere(got.astype(bool) != ref)
        t, k = bad[0]
        raise CheckError(f"steps_ok ({name}): wrong at {len(bad)} of {ref.size} "
                         f"steps, the first at step t={t} of string n={k} "
                         f"(expected {bool(ref[t, k])})")
    print(f"steps_ok OK: matches the 1997 criterion on {n} sets of outputs")
