"""Power at the current sample size and the estimated days until the report can decide.

The minimum detectable effects use statsmodels' power tools (fixed horizon, power 0.8, alpha split
over the candidates): a failure-rate difference from Cohen's h, and a latency ratio from Cohen's d on
log latency. Days to decision projects the decision rules forward at the observed traffic: effects
that the fixed-horizon intervals cannot tell from zero are projected as zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from statsmodels.stats.power import NormalIndPower, TTestIndPower

from bakeoff.analysis.arms import ArmStats
from bakeoff.analysis.decision import DecisionRule, PairSummary, Projection, project_days

__all__ = ["PowerInputs", "latency_mde_ratio", "power_summary", "proportion_mde"]

TARGET_POWER = 0.8
Z_975 = 1.959963984540054


@dataclass(frozen=True, kw_only=True)
class PowerInputs:
    """What the projection needs for one candidate."""

    candidate: ArmStats
    control: ArmStats
    summary: PairSummary
    failure_ci_excludes_zero: bool


def _scalar(value: object) -> float:
    """statsmodels' solve_power returns a float or a one-element array depending on the path."""
    return float(np.ravel(np.asarray(value, dtype=float))[0])


def proportion_mde(control_rate: float, n_per_arm: float, alpha: float) -> float | None:
    """Smallest increase over ``control_rate`` detectable with power 0.8 (two-sided, Cohen's h)."""
    if n_per_arm < 2:
        return None
    h = NormalIndPower().solve_power(
        effect_size=None, nobs1=n_per_arm, alpha=alpha, power=TARGET_POWER, ratio=1.0
    )
    angle = math.asin(math.sqrt(min(max(control_rate, 0.0), 1.0))) + _scalar(h) / 2
    return math.sin(min(angle, math.pi / 2)) ** 2 - control_rate


def latency_mde_ratio(log_sd: float, n_per_arm: float, alpha: float) -> float | None:
    """Smallest ratio of geometric-mean latencies detectable with power 0.8 (Welch on log latency)."""
    if n_per_arm < 3 or not math.isfinite(log_sd):
        return None
    d = TTestIndPower().solve_power(
        effect_size=None, nobs1=n_per_arm, alpha=alpha, power=TARGET_POWER, ratio=1.0
    )
    return math.exp(_scalar(d) * log_sd)


def _log_sd(s: PairSummary) -> float:
    return math.sqrt((float(s.log_var_candidate) + float(s.log_var_control)) / 2)  # type: ignore[arg-type]


def _projection(inputs: PowerInputs) -> Projection:
    s = inputs.summary
    cand, ctrl = inputs.candidate, inputs.control
    decided = cand.decided + ctrl.decided
    log_sd = _log_sd(s)
    n_c, n_t = float(s.latency_n_candidate), float(s.latency_n_control)  # type: ignore[arg-type]
    log_diff = float(s.log_mean_difference)  # type: ignore[arg-type]
    se = log_sd * math.sqrt(1 / max(n_c, 1) + 1 / max(n_t, 1))
    failure_difference = (
        (cand.failed / cand.decided - ctrl.failed / ctrl.decided) if cand.decided and ctrl.decided else 0.0
    )
    return Projection(
        failure_difference=failure_difference if inputs.failure_ci_excludes_zero else 0.0,
        failure_rate=(cand.failed + ctrl.failed) / decided if decided else 0.0,
        log_ratio=log_diff if abs(log_diff) > Z_975 * se else 0.0,
        log_sd=log_sd if math.isfinite(log_sd) else 1.0,
        latency_share=(n_c + n_t) / decided if decided else 1.0,
    )


def power_summary(
    inputs: list[PowerInputs], rule: DecisionRule, span_days: float, decided_now: bool
) -> dict[str, Any]:
    """The ``power`` section of the report."""
    if not inputs:
        return {"failure_rate": {"mde": None}, "latency": {"mde_ratio": None}, "days_to_decision": None}
    control = inputs[0].control
    n_per_arm = float(min([control.decided, *(i.candidate.decided for i in inputs)]))
    alpha = rule.sequential_alpha
    control_rate = control.failure_rate or 0.0
    log_sd = max((_log_sd(i.summary) for i in inputs), default=math.nan)
    latency_n = min(float(np.asarray(i.summary.latency_n_candidate)) for i in inputs)
    rate = n_per_arm / span_days if span_days > 0 else 0.0
    days = 0.0 if decided_now else project_days([_projection(i) for i in inputs], rule, n_per_arm, rate)
    return {
        "failure_rate": {
            "mde": proportion_mde(control_rate, n_per_arm, alpha),
            "control_rate": control_rate,
            "n_per_arm": n_per_arm,
            "alpha": alpha,
            "power": TARGET_POWER,
        },
        "latency": {
            "mde_ratio": latency_mde_ratio(log_sd, latency_n, alpha),
            "log_sd": log_sd if math.isfinite(log_sd) else None,
            "n_per_arm": latency_n,
            "alpha": alpha,
            "power": TARGET_POWER,
        },
        "jobs_per_arm_per_day": rate,
        "days_to_decision": days,
    }
