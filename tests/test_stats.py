"""lstm_core.stats: the t and beta distributions against tables and identities, the
paired comparisons against hand computation, and bad input refused by name."""
import contextlib
import math

import numpy as np
import pytest

from lstm_core import stats


# ----------------------------------------------------------------- distributions

@pytest.mark.parametrize("q, df, table", [
    (0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 4, 2.776), (0.975, 9, 2.262),
    (0.975, 29, 2.045), (0.95, 10, 1.812), (0.995, 5, 4.032), (0.995, 1, 63.657),
    (0.9995, 3, 12.924), (0.9, 20, 1.325)])
def test_t_quantiles_match_the_printed_table(q, df, table):
    assert stats.t_ppf(q, df) == pytest.approx(table, abs=5e-4)


def test_t_quantiles_approach_the_normal_one():
    assert stats.t_ppf(0.975, 1e7) == pytest.approx(1.959964, abs=1e-5)


@pytest.mark.parametrize("t", [0.1, 0.7, 1.3, 4.0, 40.0])
def test_t_cdf_has_the_closed_forms_of_one_and_two_degrees_of_freedom(t):
    assert stats.t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, rel=1e-13)
    assert stats.t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)),
                                              rel=1e-13)


@pytest.mark.parametrize("df", [3, 7.5, 30])
def test_t_cdf_equals_the_integral_of_the_density(df):
    x = np.linspace(-60, 2.5, 400_001)
    log_c = (math.lgamma((df + 1) / 2) - math.lgamma(df / 2)
             - 0.5 * math.log(df * math.pi))
    pdf = np.exp(log_c - (df + 1) / 2 * np.log1p(x * x / df))
    tail = stats.t_cdf(-60.0, df)                      # the part left of the grid
    integral = float(np.sum((pdf[1:] + pdf[:-1]) / 2 * np.diff(x)))
    assert stats.t_cdf(2.5, df) == pytest.approx(tail + integral, abs=1e-8)


@pytest.mark.parametrize("df", [1, 2.5, 9, 100])
@pytest.mark.parametrize("t", [-7.0, -1.5, -0.2, 0.0, 0.3, 2.0, 12.0])
def test_t_is_symmetric_and_its_quantile_inverts_its_cdf(t, df):
    assert stats.t_cdf(-t, df) == pytest.approx(1 - stats.t_cdf(t, df), abs=1e-14)
    assert stats.t_sf2(t, df) == pytest.approx(2 * stats.t_cdf(-abs(t), df), abs=1e-15)
    # the quantile is inverted on the small tail, where the probability is exact
    low = stats.t_cdf(-abs(t), df)
    assert stats.t_ppf(low, df) == pytest.approx(-abs(t), rel=1e-9)
    q = stats.t_cdf(t, df)
    if 1e-12 < q < 1 - 1e-9:          # closer to 1 the float q no longer pins t
        assert stats.t_ppf(q, df) == pytest.approx(t, abs=1e-6)
        assert stats.t_ppf(1 - q, df) == pytest.approx(-stats.t_ppf(q, df), abs=1e-6)


@pytest.mark.parametrize("a, b", [(1, 1), (2, 5), (0.5, 0.5), (30, 2), (0.5, 40)])
def test_betainc_against_identities(a, b):
    for x in (0.01, 0.2, 0.5, 0.77, 0.99):
        assert stats.betainc(a, b, x) == pytest.approx(1 - stats.betainc(b, a, 1 - x),
                                                       abs=1e-14)
        q = stats.betainc(a, b, x)
        if q < 1 - 1e-9:              # closer to 1 the float q no longer pins x
            assert stats.beta_ppf(q, a, b) == pytest.approx(x, rel=1e-6)
    assert stats.betainc(1, 1, 0.3) == pytest.approx(0.3, rel=1e-14)      # uniform
    assert stats.betainc(a, 1, 0.4) == pytest.approx(0.4 ** a, rel=1e-13)  # x^a


def test_the_exact_binomial_p_is_a_sum_of_binomial_coefficients():
    assert stats.binom_two_sided(0, 5) == 2 / 32
    assert stats.binom_two_sided(1, 10) == 2 * 11 / 1024
    assert stats.binom_two_sided(9, 10) == stats.binom_two_sided(1, 10)
    assert stats.binom_two_sided(5, 10) == 1.0
    assert stats.binom_two_sided(0, 0) == 1.0


# ----------------------------------------------------------------- comparisons

def test_paired_matches_the_hand_computation():
    seeds = stats.seeds(5)
    b = np.array([10.0, 3.0, -2.0, 7.0, 0.5])
    a = b + np.array([1.0, 2.0, 3.0, 4.0, 5.0])         # differences 1..5
    res = stats.paired(a, b, seeds=seeds)
    sd = math.sqrt(2.5)
    assert (res.n, res.mean) == (5, pytest.approx(3.0))
    assert res.sd == pytest.approx(sd) and res.se == pytest.approx(sd / math.sqrt(5))
    assert res.t == pytest.approx(3 / (sd / math.sqrt(5)))
    half = 2.776445105 * sd / math.sqrt(5)
    assert (res.low, res.high) == (pytest.approx(3 - half), pytest.approx(3 + half))
    assert res.p == pytest.approx(0.0132356, rel=1e-5)
    assert str(res) == ("mean difference 3.0 (95% CI 1.0 to 5.0), t(4) = 4.2, "
                        "p = 0.013, n = 5 seeds")
    with pytest.raises(AttributeError):
        res.mean = 0.0                                   # frozen


def test_paired_takes_dicts_in_any_order_and_is_antisymmetric():
    rng = np.random.default_rng(0)
    seeds = stats.seeds(8, base=100)
    a, b = rng.normal(size=8), rng.normal(size=8)
    da = dict(zip(seeds[::-1], a[::-1]))
    res = stats.paired(da, b, seeds=seeds)
    assert res == stats.paired(a, b, seeds=seeds)
    back = stats.paired(b, a, seeds=seeds)
    assert (back.mean, back.t, back.p) == (-res.mean, -res.t, res.p)
    assert back.low == pytest.approx(-res.high) and back.high == pytest.approx(-res.low)


def test_the_interval_covers_the_true_difference_at_its_rate():
    """Over many simulated experiments the 90% interval covers the truth ~90%."""
    rng = np.random.default_rng(1)
    seeds = stats.seeds(6)
    covered = 0
    for _ in range(2000):
        b = rng.normal(size=6)
        a = b + 0.5 + rng.normal(size=6)
        res = stats.paired(a, b, seeds=seeds, confidence=0.9)
        covered += res.low <= 0.5 <= res.high
    assert 0.88 < covered / 2000 < 0.92               # binomial sd about 0.0067


def test_identical_differences_have_no_spread():
    seeds = stats.seeds(3)
    same = stats.paired([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], seeds=seeds)
    assert (same.mean, same.t, same.p, same.low, same.high) == (0, 0, 1, 0, 0)
    shift = stats.paired([2.0, 3.0, 4.0], [1.0, 2.0, 3.0], seeds=seeds)
    assert (shift.t, shift.p) == (math.inf, 0.0)
    assert "p < 0.001" in str(shift)


def test_format_rounds_to_significant_digits():
    res = stats.paired([12345.0, 20001.0, 3.0], [0.0, 1.0, 2.0], seeds=stats.seeds(3))
    assert "mean difference 11000 " in res.format(2)
    assert "mean difference 10782 " in res.format(5)
    assert stats.sig(0.0012345, 3) == "0.00123" and stats.sig(-3.456) == "-3.5"


def test_format_names_the_unit():
    res = stats.paired([12345.0, 20001.0, 3.0], [0.0, 1.0, 2.0], seeds=stats.seeds(3))
    line = res.format(2, unit="strings")
    assert line.startswith("mean difference 11000 strings (95% CI ")
    assert line.count(" strings") == 3                  # the mean and both ends
    assert res.format(2) == res.format(2, unit="")      # no unit: as before
    with pytest.raises(TypeError, match="unit must be a string, got"):
        res.format(2, unit=3)


def test_paired_successes_is_the_exact_mcnemar_test():
    seeds = stats.seeds(10)
    a = [1, 1, 1, 1, 1, 1, 0, 1, 1, 0]
    b = [0, 0, 1, 0, 0, 1, 0, 0, 1, 1]
    res = stats.paired_successes(a, b, seeds=seeds)
    assert (res.n, res.a, res.b, res.a_only, res.b_only) == (10, 8, 4, 5, 1)
    assert res.p == pytest.approx(2 * 7 / 64)           # 1 or fewer of 6 either way
    assert str(res) == ("8/10 against 4/10 seeds; 5 solved by a only, 1 by b only, "
                        "exact McNemar p = 0.22")
    flags = stats.paired_successes(np.array(a, bool), dict(zip(seeds, b)), seeds=seeds)
    assert flags == res


def test_success_rate_has_the_clopper_pearson_interval():
    res = stats.success_rate([True] * 28 + [False] * 2, seeds=stats.seeds(30))
    assert (res.k, res.n, res.rate) == (28, 30, pytest.approx(28 / 30))
    assert res.low == pytest.approx(0.77926, abs=1e-5)
    assert res.high == pytest.approx(0.99182, abs=1e-5)
    none = stats.success_rate([0, 0, 0, 0], seeds=stats.seeds(4))
    assert (none.low, none.high) == (0.0, pytest.approx(1 - 0.025 ** 0.25))
    assert str(none) == "0/4 = 0% (95% CI 0% to 60%)"


def test_seeds_is_a_fixed_range():
    assert stats.seeds(3) == (0, 1, 2) and stats.seeds(2, base=10) == (10, 11)


# ----------------------------------------------------------------- bad input

@contextlib.contextmanager
def refused(error, *names):
    """pytest.raises(error), and each of names must appear in the message."""
    with pytest.raises(error) as info:
        yield info
    for name in names:
        assert name in str(info.value), f"{name!r} is not named in: {info.value}"


@pytest.mark.parametrize("a, b, seeds, error, named", [
    ([1.0, 2.0], [1.0, 2.0, 3.0], (0, 1), ValueError, ["b", "(2,)", "2 seeds"]),
    ([1.0], [2.0], (0,), ValueError, ["seeds", "at least 2"]),
    ([1.0, 2.0], [1.0, 2.0], (3, 3), ValueError, ["seeds", "distinct", "[3]"]),
    ([1.0, 2.0], [1.0, 2.0], 5, TypeError, ["seeds", "stats.seeds"]),
    ([1.0, 2.0], [1.0, 2.0], (0, -1), ValueError, ["seeds[1]"]),
    ([1.0, 2.0], [1.0, 2.0], (0, 1.5), TypeError, ["seeds[1]"]),
    ([1.0, np.nan], [1.0, 2.0], (0, 1), ValueError, ["a", "finite", "seed 1"]),
    ([1.0, 2.0], [np.inf, 2.0], (7, 8), ValueError, ["b", "finite", "seed 7"]),
    ({0: 1.0, 2: 2.0}, [1.0, 2.0], (0, 1), ValueError, ["a", "missing [1]",
                                                       "extra [2]"]),
    ("12", [1.0, 2.0], (0, 1), TypeError, ["a", "dict keyed by seed"]),
    (["x", "y"], [1.0, 2.0], (0, 1), TypeError, ["a", "real numbers"]),
    ([1 + 1j, 2], [1.0, 2.0], (0, 1), TypeError, ["a", "real numbers"]),
    ([[1.0, 2.0]], [1.0, 2.0], (0, 1), ValueError, ["a", "one value per seed"]),
])
def test_paired_refuses_bad_input_by_name(a, b, seeds, error, named):
    with refused(error, *named):
        stats.paired(a, b, seeds=seeds)


@pytest.mark.parametrize("confidence", [0, 1, 95, -0.5, float("nan")])
def test_a_confidence_outside_zero_one_is_refused(confidence):
    with refused(ValueError, "confidence"):
        stats.paired([1.0, 2.0], [0.0, 0.0], seeds=(0, 1), confidence=confidence)
    with refused(ValueError, "confidence"):
        stats.success_rate([1, 0], seeds=(0, 1), confidence=confidence)


@pytest.mark.parametrize("outcomes", [[1, 2, 0], [0.5, 1.0, 0.0], [True, None, False]])
def test_binary_outcomes_must_be_true_false_or_zero_one(outcomes):
    with refused(TypeError, "outcomes", "True/False"):
        stats.success_rate(outcomes, seeds=stats.seeds(3))
    with refused(TypeError, "a", "True/False"):
        stats.paired_successes(outcomes, [1, 1, 1], seeds=stats.seeds(3))


def test_the_distribution_functions_name_their_bad_arguments():
    with refused(ValueError, "df"):
        stats.t_ppf(0.975, 0)
    with refused(ValueError, "q"):
        stats.t_ppf(1.0, 5)
    with refused(ValueError, "x"):
        stats.betainc(1, 1, 1.5)
    with refused(ValueError, "k", "at most"):
        stats.binom_two_sided(6, 5)
    with refused(ValueError, "n"):
        stats.seeds(0)


@pytest.mark.parametrize("call, error, named", [
    (lambda: stats.seeds(3, base=-1), ValueError, "base"),
    (lambda: stats.seeds(3, base=1.5), TypeError, "base"),
    (lambda: stats.betainc(0, 1, 0.5), ValueError, "a must be"),
    (lambda: stats.betainc(1, -2, 0.5), ValueError, "b must be"),
    (lambda: stats.beta_ppf(1.5, 2, 2), ValueError, "q must be"),
    (lambda: stats.t_sf2(float("nan"), 3), ValueError, "t must be"),
    (lambda: stats.t_cdf("1", 3), TypeError, "t must be"),
    (lambda: stats.binom_two_sided(-1, 5), ValueError, "k must be"),
    (lambda: stats.binom_two_sided(1, -5), ValueError, "n must be"),
    (lambda: stats.paired([1.0, 3.0], [0.0, 0.0], seeds=(0, 1)).format(0), ValueError,
     "digits"),
])
def test_every_argument_is_checked_by_name(call, error, named):
    with refused(error, named):
        call()


def test_a_fraction_that_does_not_converge_says_so():
    with refused(ArithmeticError, "did not converge", "a=50"):
        stats._beta_fraction(50.0, 50.0, 0.5, max_terms=2)


def test_holm_by_hand():
    # m = 4: sorted p 0.01, 0.02, 0.03, 0.04 times 4, 3, 2, 1 -> 0.04, 0.06, 0.06, 0.06
    np.testing.assert_allclose(stats.holm([0.03, 0.01, 0.04, 0.02]),
                               [0.06, 0.04, 0.06, 0.06])
    np.testing.assert_allclose(stats.holm([0.5, 0.001]), [0.5, 0.002])
    np.testing.assert_allclose(stats.holm([0.9, 0.8]), [1.0, 1.0])   # capped at 1
    np.testing.assert_allclose(stats.holm([0.2]), [0.2])             # m = 1: as is
    p = np.random.default_rng(0).uniform(size=12)
    adj = stats.holm(p)
    assert np.all(adj >= p) and np.all(adj <= 1)
    assert np.all(np.diff(adj[np.argsort(p)]) >= 0)      # order kept


@pytest.mark.parametrize("bad, error, match", [
    (0.05, TypeError, "p_values must be a sequence"),
    ([], ValueError, "non-empty 1-D"),
    ([[0.1, 0.2]], ValueError, "non-empty 1-D"),
    ([0.1, 1.5], ValueError, r"must lie in \[0, 1\]"),
    ([0.1, float("nan")], ValueError, r"must lie in \[0, 1\]"),
])
def test_holm_names_bad_input(bad, error, match):
    with pytest.raises(error, match=match):
        stats.holm(bad)
