"""Paired comparisons of two training set-ups over random seeds fixed in advance.

A chapter that says "A learns faster than B" trains both arms once per seed and
compares them seed by seed: run s of A and run s of B share the data, the initial
weights (as far as the arms allow) and everything else the seed decides, so the
per-seed differences d_s = a_s - b_s remove what the seeds have in common.

    seeds = stats.seeds(10)                    # fixed BEFORE any run is made
    res = stats.paired(steps_a, steps_b, seeds=seeds)
    print(res)          # mean difference -1200 (95% CI -2100 to -300), t(9) = ...
    glue("diff", res.format(2))

The seeds must be chosen before the runs: picking them afterwards, re-running the
unlucky ones or dropping failed runs makes the interval meaningless. Therefore every
function takes `seeds=` and the metrics either as arrays in the order of `seeds` or
as dicts keyed by seed, and refuses a dict that lacks a seed or has an extra one (a
failed run is counted, as a failure or with its step limit, never left out).

- `paired`: mean of the differences, their sd and standard error, the Student-t
  interval mean +- t_{(1+c)/2, n-1} se and the two-sided p-value of "mean 0"
  (the paired t-test; Student 1908; any statistics text, e.g. Wasserman,
  "All of Statistics", 2004, sec. 10.1).
- `paired_successes`: two arms' binary outcomes per seed (solved or not) and the
  exact McNemar test: under "no difference" each discordant seed (one arm solved,
  the other not) goes either way with probability 1/2 (McNemar 1947; the exact
  binomial form is the sign test on the discordant pairs).
- `success_rate`: k successes out of n with the exact Clopper-Pearson interval
  (Clopper & Pearson 1934).
- `holm`: Holm's step-down adjustment of m p-values (Holm 1979), for a chapter
  that reads several exploratory comparisons at once: the k-th smallest p is
  multiplied by m - k + 1, and the adjusted values are made non-decreasing in
  that order, so each is at least its raw value and a family-wise error rate
  of alpha holds when every adjusted p below alpha is called significant.

The Student-t and beta distributions are computed here (SciPy is no dependency):
the regularized incomplete beta function by its continued fraction, evaluated
with the modified Lentz method (Press et al., "Numerical Recipes", 3rd ed., sec.
6.4), and quantiles by bisection on it.
"""
import math
import numbers
from dataclasses import dataclass

import numpy as np

from . import validate as V


def seeds(n, base=0):
    """The book's convention for n seeds fixed in advance: base, base + 1, ...

    Write the call in the notebook before the runs (`SEEDS = stats.seeds(10)`), so
    the reader sees that the set was not chosen after the results.
    """
    n = V.positive_int("n", n)
    base = V.nonnegative_int("base", base)
    return tuple(range(base, base + n))


# ----------------------------------------------------------------- distributions

def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b), for a, b > 0."""
    a = V.number("a", a, low=0, low_open=True)
    b = V.number("b", b, low=0, low_open=True)
    x = V.number("x", x, low=0, high=1)
    if x == 0.0 or x == 1.0:
        return x
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):  # the fraction converges fast on this side
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a, b, x, tiny=1e-300, eps=1e-15, max_terms=10_000):
    """The continued fraction of I_x(a, b), modified Lentz (Numerical Recipes 6.4)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, max_terms):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            return h
    raise ArithmeticError(f"the incomplete beta fraction did not converge for "
                          f"a={a}, b={b}, x={x}")


def _invert(f, q, lo, hi):
    """x in [lo, hi] with f(x) = q for an increasing f, by bisection to ~1e-15."""
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi) or hi - lo <= 1e-15 * abs(mid):
            break
        lo, hi = (mid, hi) if f(mid) < q else (lo, mid)
    return 0.5 * (lo + hi)


def beta_ppf(q, a, b):
    """The q-quantile of the Beta(a, b) distribution."""
    q = V.number("q", q, low=0, high=1)
    if q in (0.0, 1.0):
        return q
    return _invert(lambda x: betainc(a, b, x), q, 0.0, 1.0)


def _df(df):
    return V.number("df", df, low=0, low_open=True)


def t_sf2(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom (two-sided p)."""
    t, df = V.number("t", t), _df(df)
    return betainc(df / 2, 0.5, df / (df + t * t)) if t else 1.0


def t_cdf(t, df):
    """P(T <= t) for Student's t with df degrees of freedom."""
    tail = t_sf2(t, df) / 2
    return 1.0 - tail if t > 0 else tail


def t_ppf(q, df):
    """The q-quantile of Student's t: t_ppf(0.975, 9) = 2.262..."""
    q = V.number("q", q, low=0, high=1, low_open=True, high_open=True)
    df = _df(df)
    if q == 0.5:
        return 0.0
    x = beta_ppf(2 * min(q, 1 - q), df / 2, 0.5)     # x = df / (df + t^2)
    t = math.sqrt(df * (1 - x) / x)
    return t if q > 0.5 else -t


def binom_two_sided(k, n):
    """Exact two-sided p of k successes in n trials of probability 1/2 (sign test)."""
    n, k = V.nonnegative_int("n", n), V.nonnegative_int("k", k)
    if k > n:
        raise ValueError(f"k must be at most n={n}, got {k}")
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1))
    return min(1.0, 2 * tail / 2 ** n)


# ----------------------------------------------------------------- inputs

def _seeds(seeds):
    if isinstance(seeds, (str, bytes, dict)) or not hasattr(seeds, "__len__"):
        raise TypeError(f"seeds must be a sequence of ints fixed before the runs "
                        f"(stats.seeds(n)), got {V.describe(seeds)}")
    out = tuple(V.nonnegative_int(f"seeds[{i}]", s) for i, s in enumerate(seeds))
    if len(out) < 2:
        raise ValueError(f"seeds must hold at least 2 seeds for a paired comparison, "
                         f"got {len(out)}")
    if len(set(out)) != len(out):
        twice = sorted({s for s in out if out.count(s) > 1})
        raise ValueError(f"seeds must be distinct, got {twice} more than once")
    return out


def _per_seed(name, x, seeds, binary=False):
    """x's values in the order of seeds, as float64; x is a dict or a sequence."""
    if isinstance(x, dict):
        keys = set(x)
        if keys != set(seeds):
            raise ValueError(f"{name} must have exactly one value per seed of seeds "
                             f"(a failed run counts too): missing "
                             f"{sorted(set(seeds) - keys)}, extra "
                             f"{sorted(keys - set(seeds), key=str)}")
        x = [x[s] for s in seeds]
    elif isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        raise TypeError(f"{name} must be an array or a dict keyed by seed, "
                        f"got {V.describe(x)}")
    raw = np.asarray(x)
    kinds = "biu" if binary else "biuf"
    if raw.dtype.kind not in kinds or (binary and raw.dtype.kind != "b"
                                       and not np.isin(raw, (0, 1)).all()):
        what = "True/False (or 0/1) outcomes" if binary else "real numbers"
        raise TypeError(f"{name} must hold {what}, got {V.describe(raw)}")
    values = raw.astype(np.float64)
    if values.ndim != 1 or len(values) != len(seeds):
        raise ValueError(f"{name} must hold one value per seed: shape ({len(seeds)},)"
                         f" for {len(seeds)} seeds, got {V.describe(raw)}")
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(f"{name} must hold finite values, got {values[first]} for "
                         f"seed {seeds[first]}")
    return values


def _confidence(confidence):
    return V.number("confidence", confidence, low=0, high=1, low_open=True,
                    high_open=True)


def sig(x, digits=2):
    """x rounded to `digits` significant digits, as plain decimals (no exponent)."""
    digits = V.positive_int("digits", digits)
    if x == 0 or not math.isfinite(x):
        return f"{x:g}" if x else "0"
    places = digits - 1 - math.floor(math.log10(abs(x)))
    return f"{round(x, places):.{max(places, 0)}f}"


def _p(p, digits):
    return "p < 0.001" if p < 0.001 else f"p = {sig(p, digits)}"


# ----------------------------------------------------------------- results

@dataclass(frozen=True)
class Paired:
    """The paired comparison of arm a minus arm b over n seeds (see `paired`)."""
    n: int               # seeds
    mean: float          # mean of the differences a_s - b_s
    sd: float            # their sample standard deviation (ddof = 1)
    se: float            # standard error of the mean, sd / sqrt(n)
    low: float           # the t-based confidence interval of the mean difference
    high: float
    t: float             # mean / se, with n - 1 degrees of freedom
    p: float             # two-sided p-value of "the mean difference is 0"
    confidence: float

    def format(self, digits=2, unit=""):
        """One line of rounded values to print or glue; `unit` (e.g. "strings")
        follows the mean difference and the interval's ends."""
        if not isinstance(unit, str):
            raise TypeError(f"unit must be a string, got {V.describe(unit)}")
        u = f" {unit}" if unit else ""
        return (f"mean difference {sig(self.mean, digits)}{u} "
                f"({self.confidence:.0%} CI {sig(self.low, digits)}{u} to "
                f"{sig(self.high, digits)}{u}), t({self.n - 1}) = "
                f"{sig(self.t, digits)}, {_p(self.p, digits)}, n = {self.n} seeds")

    def __str__(self):
        return self.format()


def paired(a, b, *, seeds, confidence=0.95):
    """Paired t comparison of per-seed metrics a and b (arrays in seeds' order, or
    dicts keyed by seed); the differences are a - b. Returns a `Paired`."""
    seeds = _seeds(seeds)
    conf = _confidence(confidence)
    d = _per_seed("a", a, seeds) - _per_seed("b", b, seeds)            # (n,)
    n = len(d)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    half = t_ppf((1 + conf) / 2, n - 1) * se
    if se > 0:
        t = mean / se
        p = t_sf2(t, n - 1)
    else:  # every seed gave the same difference: exact, no spread to test against
        t = 0.0 if mean == 0 else math.copysign(math.inf, mean)
        p = 1.0 if mean == 0 else 0.0
    return Paired(n, mean, sd, se, mean - half, mean + half, t, p, conf)


@dataclass(frozen=True)
class PairedCount:
    """Binary outcomes of two arms over the same n seeds (see `paired_successes`)."""
    n: int
    a: int               # seeds where arm a succeeded
    b: int
    a_only: int          # discordant seeds: a succeeded and b did not
    b_only: int
    p: float             # exact two-sided McNemar p (sign test on a_only vs b_only)

    def format(self, digits=2):
        return (f"{self.a}/{self.n} against {self.b}/{self.n} seeds; "
                f"{self.a_only} solved by a only, {self.b_only} by b only, exact "
                f"McNemar {_p(self.p, digits)}")

    def __str__(self):
        return self.format()


def paired_successes(a, b, *, seeds):
    """Exact McNemar test of binary per-seed outcomes a, b (True = success)."""
    seeds = _seeds(seeds)
    sa = _per_seed("a", a, seeds, binary=True).astype(bool)
    sb = _per_seed("b", b, seeds, binary=True).astype(bool)
    a_only, b_only = int((sa & ~sb).sum()), int((sb & ~sa).sum())
    return PairedCount(len(seeds), int(sa.sum()), int(sb.sum()), a_only, b_only,
                       binom_two_sided(a_only, a_only + b_only))


@dataclass(frozen=True)
class Rate:
    """k successes in n seeds with its exact (Clopper-Pearson) interval."""
    k: int
    n: int
    rate: float
    low: float
    high: float
    confidence: float

    def format(self, digits=2):
        return (f"{self.k}/{self.n} = {self.rate:.0%} ({self.confidence:.0%} CI "
                f"{sig(100 * self.low, digits)}% to {sig(100 * self.high, digits)}%)")

    def __str__(self):
        return self.format()


def success_rate(outcomes, *, seeds, confidence=0.95):
    """The success rate of binary per-seed outcomes with a Clopper-Pearson interval."""
    seeds = _seeds(seeds)
    conf = _confidence(confidence)
    s = _per_seed("outcomes", outcomes, seeds, binary=True)
    n, k = len(s), int(s.sum())
    alpha = 1 - conf
    low = beta_ppf(alpha / 2, k, n - k + 1) if k > 0 else 0.0
    high = beta_ppf(1 - alpha / 2, k + 1, n - k) if k < n else 1.0
    return Rate(k, n, k / n, low, high, conf)


def holm(p_values):
    """Holm-adjusted p-values (Holm 1979), in the order given; each in [p, 1]."""
    if isinstance(p_values, (str, bytes)) or not hasattr(p_values, "__len__"):
        raise TypeError(f"p_values must be a sequence of p-values, got "
                        f"{V.describe(p_values)}")
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError(f"p_values must be a non-empty 1-D sequence, got shape "
                         f"{p.shape}")
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"p_values must lie in [0, 1], got {p.tolist()}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])    # (m,)
    out = np.empty(m)
    out[order] = np.maximum.accumulate(stepped)
    return out
