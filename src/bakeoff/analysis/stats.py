"""Fixed-horizon statistics for one arm and for one candidate against the control.

SciPy and statsmodels do the work wherever they have the method (Wilson, Newcombe, Boschloo, the
score test, Mann-Whitney, quantile intervals, chi-square, Holm); what they lack is written here: the
Hodges-Lehmann shift with its distribution-free interval (the algorithm of R's
``wilcox.test(conf.int=TRUE)``), including an exact null distribution of U for small samples and a
selection by bisection for samples too large to enumerate every pairwise difference.

A degenerate but legitimate case (too few values for an interval) returns ``None`` rather than
raising; misuse (a negative count, a count above n) raises :class:`AnalysisInputError`.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    test_proportions_2indep,
)

from bakeoff.analysis.errors import AnalysisInputError

__all__ = [
    "BOSCHLOO_MAX_CELLS",
    "Interval",
    "ShiftEstimate",
    "TestResult",
    "failure_difference_test",
    "hodges_lehmann",
    "holm",
    "mann_whitney",
    "newcombe_difference",
    "non_inferiority",
    "quantile_interval",
    "sample_ratio_test",
    "wilson_interval",
]

logger = logging.getLogger(__name__)

Interval = tuple[float, float]
FloatArray = NDArray[np.float64]

BOSCHLOO_MAX_CELLS = 150 * 150
"""Boschloo's exact test costs O(n1 * n2) per nuisance point: 200 x 200 takes ~1.4 s here and
1,000 x 1,000 takes ~25 s, so above 150 x 150 jobs the two-sided score test (Miettinen-Nurminen)
stands in; at that size the two agree closely."""

ENUMERATE_MAX_PAIRS = 4_000_000
"""Up to this many pairwise differences the Hodges-Lehmann interval sorts them all; above, it selects
order statistics by bisection on counts (memory stays O(n + m))."""

BRACKET_MAX_PAIRS = 200_000
"""Bisection stops once its bracket holds this few differences, which are then enumerated: a few
more cheap counting steps beat materialising millions of pairs."""

EXACT_U_MAX = 50
"""Both samples below this size and no ties: exact null distribution of U (as R's wilcox.test)."""


@dataclass(frozen=True, kw_only=True)
class TestResult:
    """A test's p-value and the name of the method that produced it."""

    p_value: float
    method: str
    statistic: float | None = None


@dataclass(frozen=True, kw_only=True)
class ShiftEstimate:
    """Hodges-Lehmann shift (first sample minus second) with its distribution-free interval."""

    estimate: float
    ci: Interval
    exact: bool


@contextmanager
def _quiet() -> Iterator[None]:
    """statsmodels computes ratio and odds-ratio side results that divide by zero at 0 failures; the
    difference we use is unaffected, so those RuntimeWarnings are noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _check_counts(successes: int, n: int, field: str) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise AnalysisInputError(f"{field}: need 0 <= count <= n, got count={successes}, n={n}")


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> Interval | None:
    """Wilson score interval for a proportion; ``None`` when n is 0."""
    _check_counts(successes, n, "successes")
    if n == 0:
        return None
    lo, hi = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return float(lo), float(hi)


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, alpha: float = 0.05) -> Interval | None:
    """Newcombe's hybrid score interval for p1 - p2 (Newcombe 1998, method 10)."""
    _check_counts(x1, n1, "x1")
    _check_counts(x2, n2, "x2")
    if n1 == 0 or n2 == 0:
        return None
    with _quiet():
        lo, hi = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff", alpha=alpha)
    return float(lo), float(hi)


def failure_difference_test(x1: int, n1: int, x2: int, n2: int) -> TestResult | None:
    """Two-sided test of p1 == p2: Boschloo's exact test, or the score test for large samples."""
    _check_counts(x1, n1, "x1")
    _check_counts(x2, n2, "x2")
    if n1 == 0 or n2 == 0:
        return None
    if x1 + x2 == 0 or x1 + x2 == n1 + n2:
        # Every job in both arms had the same outcome: the data cannot tell the arms apart.
        return TestResult(p_value=1.0, method="boschloo_exact (no discordant outcomes)")
    if n1 * n2 <= BOSCHLOO_MAX_CELLS:
        table = [[x1, x2], [n1 - x1, n2 - x2]]
        res = stats.boschloo_exact(table, alternative="two-sided", n=32)
        return TestResult(
            p_value=_clip_p(res.pvalue), method="boschloo_exact", statistic=float(res.statistic)
        )
    with _quiet():
        res = test_proportions_2indep(x1, n1, x2, n2, value=0, method="score", compare="diff")
    return TestResult(p_value=_clip_p(res.pvalue), method="score", statistic=float(res.statistic))


def non_inferiority(
    x1: int, n1: int, x2: int, n2: int, margin: float, alpha: float = 0.05
) -> TestResult | None:
    """One-sided score test of H0: p1 - p2 >= margin (arm 1 is the candidate, lower is better)."""
    _check_counts(x1, n1, "x1")
    _check_counts(x2, n2, "x2")
    if n1 == 0 or n2 == 0:
        return None
    with _quiet():
        res = test_proportions_2indep(
            x1, n1, x2, n2, value=margin, method="score", compare="diff", alternative="smaller"
        )
    return TestResult(p_value=_clip_p(res.pvalue), method="score (one-sided)", statistic=float(res.statistic))


def _clip_p(p: float) -> float:
    value = float(p)
    return 1.0 if math.isnan(value) else min(1.0, max(0.0, value))


def mann_whitney(x: ArrayLike, y: ArrayLike) -> TestResult | None:
    """Two-sided Mann-Whitney U; ``statistic`` is x's U.

    Exact p when both samples are under 50 and untied (R's rule, the same one the Hodges-Lehmann
    interval uses), else the normal approximation with tie correction and continuity correction.
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.size == 0 or b.size == 0:
        return None
    exact = a.size < EXACT_U_MAX and b.size < EXACT_U_MAX and not _has_ties(a, b)
    res = stats.mannwhitneyu(a, b, alternative="two-sided", method="exact" if exact else "asymptotic")
    method = "mann_whitney_u (exact)" if exact else "mann_whitney_u (normal approximation)"
    return TestResult(p_value=_clip_p(res.pvalue), method=method, statistic=float(res.statistic))


def _has_ties(a: FloatArray, b: FloatArray) -> bool:
    both = np.concatenate([a, b])
    return bool(np.unique(both).size < both.size)


def u_null_counts(m: int, n: int) -> FloatArray:
    """Counts of arrangements giving U = 0..m*n under H0 (coefficients of a Gaussian binomial).

    Built as prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i); dividing by (1 - q^i) is a running sum with
    stride i. Floats hold C(98, 49) ~ 2.5e28 with ample relative precision for tail quantiles.
    """
    size = m * n + 1
    coef = np.zeros(size)
    coef[0] = 1.0
    for i in range(1, m + 1):
        shift = n + i
        if shift < size:
            coef[shift:] -= coef[:-shift].copy()
        for k in range(i, size):
            coef[k] += coef[k - i]
    return coef


def _exact_lower_rank(m: int, n: int, alpha: float) -> int:
    """R's qwilcox(alpha/2, m, n), at least 1: the 1-based rank of the lower interval end."""
    counts = u_null_counts(m, n)
    cdf = np.cumsum(counts) / counts.sum()
    q = int(np.searchsorted(cdf, alpha / 2 - 1e-12, side="left"))
    return max(q, 1)


def _normal_lower_rank(a: FloatArray, b: FloatArray, alpha: float) -> int:
    """Large-sample rank of the lower interval end, with the tie correction to the variance of U."""
    m, n = a.size, b.size
    _, tie_counts = np.unique(np.concatenate([a, b]), return_counts=True)
    ties = float(np.sum(tie_counts**3 - tie_counts))
    total = m + n
    var_u = m * n / 12.0 * ((total + 1) - ties / (total * (total - 1)))
    z = float(stats.norm.ppf(1 - alpha / 2))
    return max(1, math.floor(m * n / 2.0 - z * math.sqrt(max(var_u, 0.0))))


def _kth_difference_enumerated(diffs: FloatArray, ranks: list[int]) -> list[float]:
    part = np.partition(diffs, [r - 1 for r in ranks])
    return [float(part[r - 1]) for r in ranks]


def _count_at_most(a_sorted: FloatArray, b_sorted: FloatArray, d: float) -> int:
    """Number of pairs with a_i - b_j <= d, i.e. b_j >= a_i - d."""
    idx = np.searchsorted(b_sorted, a_sorted - d, side="left")
    return int(b_sorted.size * a_sorted.size - idx.sum())


def _differences_between(a_sorted: FloatArray, b_sorted: FloatArray, lo: float, hi: float) -> FloatArray:
    """Every a_i - b_j in (lo, hi]: for each i the matching b_j are one contiguous run."""
    start = np.searchsorted(b_sorted, a_sorted - hi, side="left")
    end = np.searchsorted(b_sorted, a_sorted - lo, side="left")
    lengths = end - start
    total = int(lengths.sum())
    rows = np.repeat(np.arange(a_sorted.size), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    values: FloatArray = a_sorted[rows] - b_sorted[np.repeat(start, lengths) + offsets]
    return values


class _DifferenceCounts:
    """Counts of pairwise differences at or below chosen values, remembered across ranks."""

    def __init__(self, a_sorted: FloatArray, b_sorted: FloatArray) -> None:
        self.a, self.b = a_sorted, b_sorted
        low = float(a_sorted[0] - b_sorted[-1]) - 1.0
        self.points = [(low, 0), (float(a_sorted[-1] - b_sorted[0]), a_sorted.size * b_sorted.size)]

    def bracket(self, rank: int) -> tuple[float, int, float, int]:
        """The tightest known (lo, count_lo, hi, count_hi) with count_lo < rank <= count_hi."""
        lo, c_lo = max((p for p in self.points if p[1] < rank), key=lambda p: p[0])
        hi, c_hi = min((p for p in self.points if p[1] >= rank), key=lambda p: p[0])
        return lo, c_lo, hi, c_hi

    def count(self, d: float) -> int:
        c = _count_at_most(self.a, self.b, d)
        self.points.append((d, c))
        return c


def _kth_difference_bisect(counts: _DifferenceCounts, rank: int) -> float:
    """The exact rank-th smallest a_i - b_j without materialising all of them.

    Narrow the bracket (lo, hi] by interpolating on the counts (falling back to bisection when a step
    fails to halve the pairs inside) until it holds at most BRACKET_MAX_PAIRS differences, then
    enumerate those and select. Counts already taken for other ranks are reused.
    """
    lo, c_lo, hi, c_hi = counts.bracket(rank)
    tolerance = max(hi - lo, 1.0) * 1e-12
    limit = min(BRACKET_MAX_PAIRS, ENUMERATE_MAX_PAIRS)
    interpolate = True
    for _ in range(200):
        if c_hi - c_lo <= limit or hi - lo <= tolerance:
            break
        share = min(max((rank - c_lo) / (c_hi - c_lo), 0.01), 0.99) if interpolate else 0.5
        mid = lo + (hi - lo) * share
        before = c_hi - c_lo
        c = counts.count(mid)
        if c >= rank:
            hi, c_hi = mid, c
        else:
            lo, c_lo = mid, c
        interpolate = (c_hi - c_lo) <= before / 2
    if c_hi - c_lo > limit:
        return hi  # a tie group larger than the limit: every value in the bracket is hi
    inside = _differences_between(counts.a, counts.b, lo, hi)
    return float(np.partition(inside, rank - c_lo - 1)[rank - c_lo - 1])


def hodges_lehmann(x: ArrayLike, y: ArrayLike, alpha: float = 0.05) -> ShiftEstimate | None:
    """Hodges-Lehmann shift x - y (median of all pairwise differences) and its distribution-free CI.

    The interval is [D_(k), D_(mn+1-k)] of the sorted differences, k from the exact null
    distribution of U when both samples are under 50 and untied, else from its normal approximation.
    """
    a, b = np.sort(np.asarray(x, dtype=float)), np.sort(np.asarray(y, dtype=float))
    m, n = a.size, b.size
    if m == 0 or n == 0:
        return None
    exact = m < EXACT_U_MAX and n < EXACT_U_MAX and not _has_ties(a, b)
    k = _exact_lower_rank(m, n, alpha) if exact else _normal_lower_rank(a, b, alpha)
    total = m * n
    k = min(k, total)
    median_ranks = [(total + 1) // 2, total // 2 + 1]
    ranks = [*median_ranks, k, total + 1 - k]
    if total <= ENUMERATE_MAX_PAIRS:
        values = _kth_difference_enumerated(np.subtract.outer(a, b).ravel(), ranks)
    else:
        counts = _DifferenceCounts(a, b)
        values = [_kth_difference_bisect(counts, r) for r in ranks]
    estimate = (values[0] + values[1]) / 2.0
    return ShiftEstimate(estimate=estimate, ci=(values[2], values[3]), exact=exact)


def quantile_interval(x: ArrayLike, p: float, alpha: float = 0.05) -> Interval | None:
    """Distribution-free interval for the p-quantile (order statistics); ``None`` when n is too small."""
    values = np.asarray(x, dtype=float)
    if values.size == 0:
        return None
    point = float(np.quantile(values, p))
    res = stats.quantile_test(values, q=point, p=p)
    ci = res.confidence_interval(confidence_level=1 - alpha)
    lo, hi = float(ci.low), float(ci.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return lo, hi


def sample_ratio_test(observed: ArrayLike, shares: ArrayLike) -> tuple[float, float]:
    """Pearson chi-square of observed assignment counts against configured shares: (chi2, p)."""
    counts = np.asarray(observed, dtype=float)
    weights = np.asarray(shares, dtype=float)
    if counts.shape != weights.shape or counts.size < 2:
        raise AnalysisInputError("shares: need one share per arm and at least two arms")
    if np.any(weights <= 0) or counts.sum() <= 0:
        raise AnalysisInputError("shares: every share must be positive and some job assigned")
    expected = counts.sum() * weights / weights.sum()
    res = stats.chisquare(counts, f_exp=expected)
    return float(res.statistic), float(res.pvalue)


def holm(p_values: list[float], alpha: float = 0.05) -> list[float]:
    """Holm-adjusted p-values (``method="holm"`` explicitly: statsmodels' default is Holm-Sidak)."""
    if not p_values:
        return []
    _, adjusted, _, _ = multipletests(p_values, alpha=alpha, method="holm")
    return [float(v) for v in adjusted]
