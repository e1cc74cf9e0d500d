"""Anytime-valid confidence sequences: the intervals the verdict uses, so nightly looks stay honest.

An ordinary 95% interval looked at every night excludes zero between identical arms about one time
in four within a month. A confidence sequence covers the true difference at *every* look at once
with probability 1 - alpha. This is the asymptotic confidence sequence of Waudby-Smith et al.
(arXiv 2103.06476) in GrowthBook's parameterisation (``gbstats/frequentist/tests.py``)::

    rho       = sqrt((-2 ln a + ln(-2 ln a + 1)) / N*)
    halfwidth = sqrt(s2) * sqrt(2 (n rho^2 + 1) / (n^2 rho^2) * ln(sqrt(n rho^2 + 1) / a))
    s2        = SE^2 * n,  n = units in the comparison (both arms)

``N*`` (``tuning``) is the total n at which the sequence is tightest. A one-sided sequence uses 2a.
Everything here is vectorised over n so the power projection and the simulations can evaluate many
looks at once with the same formula the verdict uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bakeoff.analysis.errors import AnalysisInputError

__all__ = [
    "DEFAULT_TUNING",
    "SequentialInterval",
    "failure_difference_se",
    "failure_difference_sequence",
    "halfwidth",
    "log_ratio_sequence",
    "regularised_rate",
]

DEFAULT_TUNING = 1500
"""N*: total jobs in a pairwise comparison where the sequence is tightest. At 10-50 imports a day a
pair of arms reaches ~1,500 jobs in one to three months, the horizon of this trial."""


@dataclass(frozen=True, kw_only=True)
class SequentialInterval:
    """A difference estimate with its anytime-valid interval."""

    estimate: float
    lower: float
    upper: float
    n: int


def halfwidth(
    se: ArrayLike, n: ArrayLike, alpha: float, tuning: float = DEFAULT_TUNING, *, one_sided: bool = False
) -> NDArray[np.float64]:
    """Half-width of the asymptotic confidence sequence for standard error ``se`` at total ``n``."""
    if not 0 < alpha < 1:
        raise AnalysisInputError(f"alpha must be in (0, 1), got {alpha}")
    if tuning <= 0:
        raise AnalysisInputError(f"tuning must be positive, got {tuning}")
    a = 2 * alpha if one_sided else alpha
    se_arr = np.asarray(se, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    rho2 = (-2 * math.log(a) + math.log(-2 * math.log(a) + 1)) / tuning
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # n = 0 (no jobs yet) and se = inf (no variance estimate yet) give an infinite width.
        s2 = se_arr**2 * n_arr
        n_rho = n_arr * rho2 + 1
        inner = 2 * n_rho / (n_arr**2 * rho2) * np.log(np.sqrt(n_rho) / a)
        out = np.sqrt(s2) * np.sqrt(inner)
    result: NDArray[np.float64] = np.where((n_arr > 0) & ~np.isnan(out), out, np.inf)
    return result


def regularised_rate(failures: ArrayLike, n: ArrayLike) -> NDArray[np.float64]:
    """(x + 1) / (n + 2): keeps the variance of a rate with no failures yet above zero."""
    rate: NDArray[np.float64] = (np.asarray(failures, dtype=float) + 1) / (np.asarray(n, dtype=float) + 2)
    return rate


def failure_difference_se(x1: ArrayLike, n1: ArrayLike, x2: ArrayLike, n2: ArrayLike) -> NDArray[np.float64]:
    """Standard error of p1 - p2 with regularised rates (no zero-width interval at 0 failures)."""
    p1, p2 = regularised_rate(x1, n1), regularised_rate(x2, n2)
    n1a, n2a = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se: NDArray[np.float64] = np.sqrt(p1 * (1 - p1) / n1a + p2 * (1 - p2) / n2a)
    return se


def failure_difference_sequence(
    x1: int, n1: int, x2: int, n2: int, alpha: float, tuning: float = DEFAULT_TUNING
) -> SequentialInterval | None:
    """Confidence sequence for p1 - p2 (candidate minus control failure rate)."""
    if n1 <= 0 or n2 <= 0:
        return None
    estimate = x1 / n1 - x2 / n2
    se = failure_difference_se(x1, n1, x2, n2)
    width = float(halfwidth(se, n1 + n2, alpha, tuning))
    return SequentialInterval(estimate=estimate, lower=estimate - width, upper=estimate + width, n=n1 + n2)


def log_ratio_sequence(
    log_x: ArrayLike, log_y: ArrayLike, alpha: float, tuning: float = DEFAULT_TUNING
) -> SequentialInterval | None:
    """Confidence sequence for mean(log x) - mean(log y): the log of the ratio of geometric means."""
    a, b = np.asarray(log_x, dtype=float), np.asarray(log_y, dtype=float)
    if a.size < 2 or b.size < 2:
        return None
    estimate = float(a.mean() - b.mean())
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    width = float(halfwidth(se, a.size + b.size, alpha, tuning))
    return SequentialInterval(
        estimate=estimate, lower=estimate - width, upper=estimate + width, n=int(a.size + b.size)
    )
