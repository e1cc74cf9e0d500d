"""Each candidate against the control: the failure-rate and latency comparison rows of the report.

Fixed-horizon numbers (Newcombe interval, Boschloo p, Hodges-Lehmann interval, Mann-Whitney p, Holm
adjustment) are shown for description; the ``ci_sequential`` of each row comes from the decision
rules' confidence sequences and is what the verdict uses. A latency row's sequential interval is on
the log scale (ratio of geometric means) and is also shown in ms as ``(ratio - 1) x control median``,
so it sits on the same axis as the Hodges-Lehmann shift in the forest plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bakeoff.analysis.arms import ArmStats
from bakeoff.analysis.decision import PairSummary, PairVerdict
from bakeoff.analysis.stats import (
    Interval,
    failure_difference_test,
    hodges_lehmann,
    holm,
    mann_whitney,
    newcombe_difference,
    non_inferiority,
)

__all__ = ["ComparisonRow", "adjust", "failure_row", "latency_row", "log_stats", "pair_summary"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, kw_only=True)
class ComparisonRow:
    """One candidate-vs-control comparison, as it appears under ``comparisons`` in the JSON."""

    arm: str
    control: str
    metric: str
    estimate: float | None
    ci: Interval | None
    ci_sequential: Interval | None
    p_value: float | None
    p_value_adjusted: float | None
    method: str
    significant: bool
    u_statistic: float | None = None
    non_inferior: bool | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "arm": self.arm,
            "control": self.control,
            "metric": self.metric,
            "estimate": self.estimate,
            "ci": None if self.ci is None else list(self.ci),
            "ci_sequential": None if self.ci_sequential is None else list(self.ci_sequential),
            "p_value": self.p_value,
            "p_value_adjusted": self.p_value_adjusted,
            "method": self.method,
            "significant": self.significant,
        }
        if self.metric == "latency":
            out["u_statistic"] = self.u_statistic
        else:
            out["non_inferior"] = self.non_inferior
        out.update(dict(self.extra))
        return out


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _interval(lo: float, hi: float) -> Interval | None:
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None


def log_stats(values: FloatArray) -> tuple[float, float, int]:
    """Mean, variance and count of log latency (the summary the decision rules work on)."""
    logs = np.log(np.maximum(values, 1e-3))  # a 0 ms latency (clock granularity) would be -inf
    var = float(logs.var(ddof=1)) if logs.size > 1 else math.nan
    return (float(logs.mean()) if logs.size else math.nan), var, int(logs.size)


def pair_summary(
    cand: ArmStats, ctrl: ArmStats, cand_latency: FloatArray, ctrl_latency: FloatArray
) -> PairSummary:
    """Summary statistics of one pair for the decision rules."""
    mean_c, var_c, n_c = log_stats(cand_latency)
    mean_t, var_t, n_t = log_stats(ctrl_latency)
    return PairSummary(
        n_candidate=cand.decided,
        failures_candidate=cand.failed,
        n_control=ctrl.decided,
        failures_control=ctrl.failed,
        latency_n_candidate=n_c,
        latency_n_control=n_t,
        log_mean_difference=mean_c - mean_t if n_c and n_t else 0.0,
        log_var_candidate=var_c,
        log_var_control=var_t,
    )


def failure_row(
    cand: ArmStats, ctrl: ArmStats, verdict: PairVerdict, alpha: float, margin: float
) -> ComparisonRow:
    """Candidate minus control failure rate: Newcombe CI, Boschloo p, score non-inferiority test."""
    n1, n2 = cand.decided, ctrl.decided
    estimate = cand.failed / n1 - ctrl.failed / n2 if n1 and n2 else None
    test = failure_difference_test(cand.failed, n1, ctrl.failed, n2)
    ni = non_inferiority(cand.failed, n1, ctrl.failed, n2, margin, alpha)
    sequential = _interval(float(verdict.failure_lower), float(verdict.failure_upper)) if n1 and n2 else None
    return ComparisonRow(
        arm=cand.arm,
        control=ctrl.arm,
        metric="failure_rate",
        estimate=estimate,
        ci=newcombe_difference(cand.failed, n1, ctrl.failed, n2, alpha),
        ci_sequential=sequential,
        p_value=None if test is None else test.p_value,
        p_value_adjusted=None,
        method=f"newcombe_hybrid_score; {test.method if test else 'no test'}; sequential: asymptotic CS",
        significant=False,
        non_inferior=None if ni is None else ni.p_value < alpha,
        extra=(
            ("non_inferiority_p_value", None if ni is None else ni.p_value),
            ("non_inferior_sequential", bool(verdict.failure_non_inferior) and bool(verdict.enough)),
            ("ci_sequential_upper_one_sided", _finite(float(verdict.failure_upper_one_sided))),
        ),
    )


def latency_row(
    cand: ArmStats,
    ctrl: ArmStats,
    cand_latency: FloatArray,
    ctrl_latency: FloatArray,
    verdict: PairVerdict,
    alpha: float,
) -> ComparisonRow:
    """Candidate minus control latency: Hodges-Lehmann shift, Mann-Whitney U, ratio of p95s."""
    shift = hodges_lehmann(cand_latency, ctrl_latency, alpha)
    test = mann_whitney(cand_latency, ctrl_latency)
    ratio_lo, ratio_hi = math.exp(float(verdict.log_ratio_lower)), math.exp(float(verdict.log_ratio_upper))
    median = ctrl.latency_ms.get("p50")
    in_ms = _interval((ratio_lo - 1) * median, (ratio_hi - 1) * median) if median is not None else None
    p95_c, p95_t = cand.latency_ms.get("p95"), ctrl.latency_ms.get("p95")
    has_both = cand_latency.size >= 2 and ctrl_latency.size >= 2
    return ComparisonRow(
        arm=cand.arm,
        control=ctrl.arm,
        metric="latency",
        estimate=None if shift is None else shift.estimate,
        ci=None if shift is None else shift.ci,
        ci_sequential=in_ms if has_both else None,
        p_value=None if test is None else test.p_value,
        p_value_adjusted=None,
        method=f"hodges_lehmann ({'exact' if shift and shift.exact else 'normal'} rank interval); "
        f"{test.method if test else 'no test'}; sequential: asymptotic CS on log latency",
        significant=False,
        u_statistic=None if test is None else test.statistic,
        extra=(
            ("ratio", math.exp(float(verdict.log_ratio_estimate)) if has_both else None),
            ("ci_sequential_ratio", [ratio_lo, ratio_hi] if has_both and math.isfinite(ratio_hi) else None),
            ("p95_ratio", p95_c / p95_t if p95_c is not None and p95_t else None),
        ),
    )


def adjust(rows: list[ComparisonRow], alpha: float) -> list[ComparisonRow]:
    """Holm over every candidate-vs-control test that has a p-value; sets ``significant``."""
    tested = [i for i, row in enumerate(rows) if row.p_value is not None]
    adjusted = holm([float(rows[i].p_value or 0.0) for i in tested], alpha)
    out = list(rows)
    for i, p_adj in zip(tested, adjusted, strict=True):
        out[i] = replace(rows[i], p_value_adjusted=p_adj, significant=p_adj < alpha)
    return out
