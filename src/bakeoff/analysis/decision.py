"""The decision rules: what the sequential intervals must show before the report names a winner.

The rules work on summary statistics (jobs and failures per arm; count, mean and variance of log
latency) and are vectorised, so one formula serves the nightly verdict, the days-to-decision
forecast and the seeded simulations (which evaluate every night of a simulated trial at once).

For one candidate against the control, with alpha split evenly over the candidates (Bonferroni; each
candidate's claim is an intersection of its own tests, so it needs no further split):

* **win**: non-inferior on failures (one-sided upper bound of the difference below the margin) and
  faster (two-sided latency interval below a ratio of 1), or fewer failures (upper bound below 0)
  without being slower;
* **worse**: more failures (lower bound above 0), or slower without fewer failures;
* **equivalent**: failure difference within +/- margin and latency ratio within 1 +/- latency margin;
* otherwise **undecided** (also while either arm has fewer than ``min_jobs`` finished jobs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bakeoff.analysis.errors import AnalysisInputError
from bakeoff.analysis.sequential import DEFAULT_TUNING, failure_difference_se, halfwidth

__all__ = ["DecisionRule", "PairSummary", "PairVerdict", "decide_pair", "decision_reached"]

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class DecisionRule:
    """The pre-declared decision criteria."""

    alpha: float = 0.05
    failure_margin: float = 0.02
    latency_margin: float = 0.2
    tuning: float = DEFAULT_TUNING
    candidates: int = 2
    min_jobs: int = 20

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise AnalysisInputError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0 < self.failure_margin < 1:
            raise AnalysisInputError(f"failure_margin must be in (0, 1), got {self.failure_margin}")
        if self.latency_margin <= 0:
            raise AnalysisInputError(f"latency_margin must be positive, got {self.latency_margin}")
        if self.candidates < 1:
            raise AnalysisInputError(f"candidates must be at least 1, got {self.candidates}")

    @property
    def sequential_alpha(self) -> float:
        """Alpha for each candidate's sequential intervals (Bonferroni over candidates)."""
        return self.alpha / self.candidates


@dataclass(frozen=True, kw_only=True)
class PairSummary:
    """Summary statistics of one candidate and the control; fields may be arrays (one per look)."""

    n_candidate: ArrayLike
    failures_candidate: ArrayLike
    n_control: ArrayLike
    failures_control: ArrayLike
    latency_n_candidate: ArrayLike
    latency_n_control: ArrayLike
    log_mean_difference: ArrayLike
    log_var_candidate: ArrayLike
    log_var_control: ArrayLike


@dataclass(frozen=True, kw_only=True)
class PairVerdict:
    """Sequential bounds and the resulting state of one candidate (arrays when the input was)."""

    failure_estimate: FloatArray
    failure_lower: FloatArray
    failure_upper: FloatArray
    failure_upper_one_sided: FloatArray
    failure_lower_one_sided: FloatArray
    log_ratio_estimate: FloatArray
    log_ratio_lower: FloatArray
    log_ratio_upper: FloatArray
    log_ratio_lower_one_sided: FloatArray
    log_ratio_upper_one_sided: FloatArray
    enough: BoolArray
    win: BoolArray
    worse: BoolArray
    equivalent: BoolArray
    failure_non_inferior: BoolArray
    failure_superior: BoolArray
    latency_superior: BoolArray
    latency_slower: BoolArray

    @property
    def decided(self) -> BoolArray:
        return self.win | self.worse | self.equivalent


def _f(value: ArrayLike) -> FloatArray:
    return np.asarray(value, dtype=float)


def _failure_bounds(s: PairSummary, rule: DecisionRule) -> tuple[FloatArray, FloatArray, FloatArray]:
    n1, n2 = _f(s.n_candidate), _f(s.n_control)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = np.where(
            (n1 > 0) & (n2 > 0), _f(s.failures_candidate) / n1 - _f(s.failures_control) / n2, 0
        )
    se = failure_difference_se(s.failures_candidate, n1, s.failures_control, n2)
    two = halfwidth(se, n1 + n2, rule.sequential_alpha, rule.tuning)
    one = halfwidth(se, n1 + n2, rule.sequential_alpha, rule.tuning, one_sided=True)
    return estimate, two, one


def _latency_bounds(s: PairSummary, rule: DecisionRule) -> tuple[FloatArray, FloatArray, FloatArray]:
    n1, n2 = _f(s.latency_n_candidate), _f(s.latency_n_control)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(_f(s.log_var_candidate) / n1 + _f(s.log_var_control) / n2)
    se = np.where(np.isfinite(se), se, np.inf)
    two = halfwidth(se, n1 + n2, rule.sequential_alpha, rule.tuning)
    one = halfwidth(se, n1 + n2, rule.sequential_alpha, rule.tuning, one_sided=True)
    return _f(s.log_mean_difference), two, one


def decide_pair(summary: PairSummary, rule: DecisionRule) -> PairVerdict:
    """Apply the decision rules to one candidate-vs-control summary (scalars or arrays of looks)."""
    f_est, f_two, f_one = _failure_bounds(summary, rule)
    l_est, l_two, l_one = _latency_bounds(summary, rule)
    counts = [summary.n_candidate, summary.n_control, summary.latency_n_candidate, summary.latency_n_control]
    enough = np.logical_and.reduce([_f(c) >= rule.min_jobs for c in counts])
    band = math.log1p(rule.latency_margin)
    f_ni = f_est + f_one < rule.failure_margin
    f_sup = f_est + f_two < 0
    f_worse = f_est - f_two > 0
    f_equiv = f_ni & (f_est - f_one > -rule.failure_margin)
    l_sup = l_est + l_two < 0
    l_slow = l_est - l_two > 0
    l_equiv = (l_est + l_one < band) & (l_est - l_one > -band)
    win = enough & ((f_ni & l_sup) | (f_sup & ~l_slow))
    worse = enough & ~win & (f_worse | (l_slow & ~f_sup))
    return PairVerdict(
        failure_estimate=f_est,
        failure_lower=f_est - f_two,
        failure_upper=f_est + f_two,
        failure_upper_one_sided=f_est + f_one,
        failure_lower_one_sided=f_est - f_one,
        log_ratio_estimate=l_est,
        log_ratio_lower=l_est - l_two,
        log_ratio_upper=l_est + l_two,
        log_ratio_lower_one_sided=l_est - l_one,
        log_ratio_upper_one_sided=l_est + l_one,
        enough=enough,
        win=win,
        worse=worse,
        equivalent=enough & ~win & ~worse & f_equiv & l_equiv,
        failure_non_inferior=f_ni,
        failure_superior=f_sup,
        latency_superior=l_sup,
        latency_slower=l_slow,
    )


def decision_reached(verdicts: Sequence[PairVerdict]) -> BoolArray:
    """Whether the report leaves ``insufficient_data``: some candidate wins, or every candidate is
    settled (equivalent or worse). Element-wise over looks (and draws) when the verdicts are arrays;
    the verdict, the nightly simulations and the days-to-decision forecast all decide with it."""
    if not verdicts:
        return np.asarray(False)
    any_win = np.logical_or.reduce([np.asarray(v.win) for v in verdicts])
    settled = np.logical_and.reduce([np.asarray(v.decided) for v in verdicts])
    return np.asarray(any_win | settled)
