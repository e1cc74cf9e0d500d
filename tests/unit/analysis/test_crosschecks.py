"""Our statistics against SciPy/statsmodels (and brute force) on random data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats import proportion as sm_proportion
from statsmodels.stats.multitest import multipletests

from bakeoff.analysis import stats as ours
from bakeoff.analysis.errors import AnalysisInputError
from bakeoff.analysis.sequential import halfwidth


def test_wilson_agrees_with_scipy_binomtest_on_random_counts() -> None:
    rng = np.random.default_rng(20261129)
    for _ in range(50):
        n = int(rng.integers(1, 500))
        k = int(rng.integers(0, n + 1))
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert ours.wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_exact_u_distribution_reproduces_scipy_exact_p_values() -> None:
    """The Gaussian-binomial null counts give the same exact two-sided p as SciPy for random samples."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        m, n = int(rng.integers(2, 12)), int(rng.integers(2, 12))
        x, y = rng.lognormal(size=m), rng.lognormal(size=n)
        u = stats.mannwhitneyu(x, y, method="exact")
        counts = ours.u_null_counts(m, n)
        assert counts.sum() == pytest.approx(math.comb(m + n, m))
        pmf = counts / counts.sum()
        u_stat = float(u.statistic)
        tail = min(pmf[: int(u_stat) + 1].sum(), pmf[int(u_stat) :].sum())
        assert min(1.0, 2 * tail) == pytest.approx(float(u.pvalue), abs=1e-10)


def test_hodges_lehmann_bisection_equals_full_enumeration() -> None:
    """Above the enumeration limit, order statistics are selected by bisection (then enumeration of
    the last bracket): exactly the same answer; with no enumeration at all, equal to 1e-8."""
    rng = np.random.default_rng(11)
    x, y = rng.lognormal(7, 1, size=900), rng.lognormal(7.2, 1, size=700)
    enumerated = ours.hodges_lehmann(x, y)
    limit = ours.ENUMERATE_MAX_PAIRS
    try:
        ours.ENUMERATE_MAX_PAIRS = 5000
        bracketed = ours.hodges_lehmann(x, y)
        ours.ENUMERATE_MAX_PAIRS = 0
        bisected = ours.hodges_lehmann(x, y)
    finally:
        ours.ENUMERATE_MAX_PAIRS = limit
    assert enumerated is not None and bracketed is not None and bisected is not None
    assert (bracketed.estimate, bracketed.ci) == (enumerated.estimate, enumerated.ci)
    scale = float(np.ptp(np.subtract.outer(x, y)))
    assert bisected.estimate == pytest.approx(enumerated.estimate, abs=scale * 1e-8)
    assert bisected.ci == pytest.approx(enumerated.ci, abs=scale * 1e-8)


def test_hodges_lehmann_large_sample_interval_inverts_the_asymptotic_rank_test() -> None:
    """Shifts just inside the interval are not rejected by SciPy's asymptotic Mann-Whitney; outside are."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(1.0, 1, size=120), rng.normal(0.0, 1, size=150)
    shift = ours.hodges_lehmann(x, y)
    assert shift is not None and not shift.exact
    lo, hi = shift.ci
    width = hi - lo

    def p_at(d: float) -> float:
        return float(stats.mannwhitneyu(x - d, y, method="asymptotic", use_continuity=False).pvalue)

    assert p_at(lo + 0.02 * width) > 0.05 and p_at(hi - 0.02 * width) > 0.05
    assert p_at(lo - 0.05 * width) < 0.05 and p_at(hi + 0.05 * width) < 0.05


def test_mann_whitney_is_exact_below_50_untied_and_asymptotic_otherwise() -> None:
    rng = np.random.default_rng(13)
    x, y = rng.lognormal(size=30), rng.lognormal(size=40)
    small = ours.mann_whitney(x, y)
    assert small is not None and "exact" in small.method
    assert small.p_value == pytest.approx(float(stats.mannwhitneyu(x, y, method="exact").pvalue))
    x, y = rng.lognormal(size=60), rng.lognormal(size=70)
    large = ours.mann_whitney(x, y)
    assert large is not None and "normal" in large.method
    assert large.p_value == pytest.approx(float(stats.mannwhitneyu(x, y, method="asymptotic").pvalue))
    assert large.statistic == float(stats.mannwhitneyu(x, y).statistic)


def test_non_inferiority_is_statsmodels_score_test() -> None:
    rng = np.random.default_rng(5)
    for _ in range(10):
        n1, n2 = int(rng.integers(50, 400)), int(rng.integers(50, 400))
        x1, x2 = int(rng.binomial(n1, 0.05)), int(rng.binomial(n2, 0.05))
        expected = sm_proportion.test_proportions_2indep(
            x1, n1, x2, n2, value=0.02, method="score", compare="diff", alternative="smaller"
        ).pvalue
        result = ours.non_inferiority(x1, n1, x2, n2, 0.02)
        assert result is not None and result.p_value == pytest.approx(float(expected))


def test_holm_is_holm_not_holm_sidak_and_changes_raw_p_values() -> None:
    """Spotify Confidence once applied corrections one p-value at a time, so they did nothing."""
    raw = [0.01, 0.04, 0.03, 0.005]
    adjusted = ours.holm(raw)
    assert adjusted == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert adjusted != pytest.approx(list(multipletests(raw, method="hs")[1]))
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_quantile_interval_is_scipy_order_statistic_interval_or_none_when_too_small() -> None:
    rng = np.random.default_rng(9)
    values = rng.lognormal(size=200)
    ci = ours.quantile_interval(values, 0.95)
    point = np.quantile(values, 0.95)
    expected = stats.quantile_test(values, q=point, p=0.95).confidence_interval(0.95)
    assert ci == (expected.low, expected.high)
    assert ours.quantile_interval(values[:50], 0.95) is None


def test_sequential_halfwidth_matches_growthbook_formula_by_hand() -> None:
    alpha, tuning, n, se = 0.05, 1500.0, 400.0, 0.1
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    s2 = se**2 * n
    expected = math.sqrt(s2) * math.sqrt(
        2 * (n * rho2 + 1) / (n**2 * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha)
    )
    assert float(halfwidth(se, n, alpha, tuning)) == pytest.approx(expected)
    assert float(halfwidth(se, n, alpha, tuning)) > stats.norm.ppf(0.975) * se


def test_misuse_raises_value_errors_naming_the_field() -> None:
    with pytest.raises(AnalysisInputError, match="x1"):
        ours.newcombe_difference(5, 3, 1, 10)
    with pytest.raises(ValueError, match="shares"):
        ours.sample_ratio_test([10, 10], [1, 0])
