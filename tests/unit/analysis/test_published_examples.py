"""Statistics checked against published worked examples, to fixed decimals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bakeoff.analysis.stats import (
    failure_difference_test,
    hodges_lehmann,
    mann_whitney,
    newcombe_difference,
    sample_ratio_test,
    wilson_interval,
)

# Newcombe (1998a), "Two-sided confidence intervals for the single proportion", Stat Med 17:857,
# Table I, method 3 (Wilson score without continuity correction).
WILSON_TABLE = [
    (81, 263, (0.2553, 0.3662)),
    (15, 148, (0.0624, 0.1605)),
    (0, 20, (0.0000, 0.1611)),
    (1, 29, (0.0061, 0.1718)),
]

# Newcombe (1998b), "Interval estimation for the difference between independent proportions",
# Stat Med 17:873, Table II, method 10 (hybrid score), examples (a)-(h).
NEWCOMBE_TABLE = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]

# R's wilcox.test documentation, two-sample example (Hollander & Wolfe 1973, p. 69f): permeability
# constants at term (x) and at 12-26 weeks (y); W = 35, exact one-sided p = 0.1272.
HW_X = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
HW_Y = [1.15, 0.88, 0.90, 0.74, 1.21]


@pytest.mark.parametrize(("failures", "n", "expected"), WILSON_TABLE)
def test_wilson_interval_matches_newcombe_1998a_table(
    failures: int, n: int, expected: tuple[float, float]
) -> None:
    interval = wilson_interval(failures, n)
    assert interval is not None
    assert np.round(interval, 4).tolist() == list(expected)


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_TABLE)
def test_newcombe_difference_matches_newcombe_1998b_table(
    counts: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    interval = newcombe_difference(*counts)
    assert interval is not None
    assert np.round(interval, 4).tolist() == list(expected)


def test_fisher_tea_tasting_p_value_and_boschloo_never_less_powerful() -> None:
    """Fisher's (1935) lady tasting tea, [[3, 1], [1, 3]]: two-sided p = 0.4857; Boschloo's p is at
    most Fisher's (Boschloo 1970: uniformly more powerful)."""
    fisher = stats.fisher_exact([[3, 1], [1, 3]])
    assert round(float(fisher.pvalue), 4) == 0.4857
    boschloo = failure_difference_test(3, 4, 1, 4)
    assert boschloo is not None and boschloo.method == "boschloo_exact"
    assert boschloo.p_value <= fisher.pvalue + 1e-12


def test_boschloo_matches_scipy_documented_example() -> None:
    """SciPy's boschloo_exact documentation: table [[74, 31], [43, 32]], one-sided 'greater':
    statistic 0.0483, p = 0.0355 (printed truncated); ours runs the same test two-sided."""
    res = stats.boschloo_exact([[74, 31], [43, 32]], alternative="greater")
    assert round(float(res.statistic), 4) == 0.0483
    assert abs(float(res.pvalue) - 0.0355) < 1e-4
    ours = failure_difference_test(74, 117, 31, 63)
    assert ours is not None and ours.method == "boschloo_exact"
    expected = stats.boschloo_exact([[74, 31], [43, 32]], alternative="two-sided").pvalue
    assert ours.p_value == pytest.approx(expected, abs=1e-12)


def test_mann_whitney_exact_p_matches_r_documentation() -> None:
    one_sided = stats.mannwhitneyu(HW_X, HW_Y, alternative="greater", method="exact")
    assert (float(one_sided.statistic), round(float(one_sided.pvalue), 4)) == (35.0, 0.1272)
    ours = mann_whitney(HW_X, HW_Y)
    assert ours is not None
    assert ours.statistic == 35.0
    assert round(ours.p_value, 4) == 0.2544


def test_hodges_lehmann_estimate_and_exact_interval_for_r_example() -> None:
    """Estimate 0.305 (R: 'difference in location 0.305'); the exact 95% interval (-0.15, 0.76) is
    the set of shifts an exact two-sided Mann-Whitney test does not reject, checked by inversion."""
    shift = hodges_lehmann(HW_X, HW_Y)
    assert shift is not None and shift.exact
    assert round(shift.estimate, 3) == 0.305
    assert np.round(shift.ci, 2).tolist() == [-0.15, 0.76]
    diffs = np.sort(np.subtract.outer(HW_X, HW_Y).ravel())
    accepted = [
        d
        for d in (diffs[:-1] + diffs[1:]) / 2
        if stats.mannwhitneyu(np.array(HW_X) - d, HW_Y, method="exact").pvalue > 0.05
    ]
    assert min(accepted) > shift.ci[0] and max(accepted) < shift.ci[1]
    assert stats.mannwhitneyu(np.array(HW_X) - (shift.ci[0] - 1e-9), HW_Y, method="exact").pvalue <= 0.05


def test_srm_chi_square_matches_kohavi_example() -> None:
    """Kohavi, Tang & Xu (2020), ch. 3: 821,588 vs 815,482 users at a designed 50/50 split gives
    p ~ 1.8e-6, a sample ratio mismatch."""
    chi2, p = sample_ratio_test([821_588, 815_482], [0.5, 0.5])
    assert round(chi2, 2) == 22.77
    assert f"{p:.1e}" == "1.8e-06"
