"""Power at the current sample size, the forecast of days until the report can decide, and the plan.

The minimum detectable effects use statsmodels' power tools (fixed horizon, power 0.8, alpha split
over the candidates): a failure-rate difference from Cohen's h, and a latency ratio from Cohen's d on
log latency. Days to decision is the predictive forecast of :mod:`bakeoff.analysis.forecast`; the
plan is its probability of a decision by a given day of the trial (default: the end of week 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from statsmodels.stats.power import NormalIndPower, TTestIndPower

from bakeoff.analysis.arms import ArmStats
from bakeoff.analysis.decision import DecisionRule, PairSummary
from bakeoff.analysis.forecast import ArmNow, DaysForecast, Prior, decided_forecast, forecast_days

__all__ = [
    "DEFAULT_PLAN_DAYS",
    "PowerInputs",
    "latency_mde_ratio",
    "plan_summary",
    "power_summary",
    "proportion_mde",
]

TARGET_POWER = 0.8
DEFAULT_PLAN_DAYS = 21
"""The seed's plan: decide at the end of week 3 of the trial."""


@dataclass(frozen=True, kw_only=True)
class PowerInputs:
    """What the projection needs for one candidate."""

    candidate: ArmStats
    control: ArmStats
    summary: PairSummary


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


def plan_summary(forecast: DaysForecast | None, plan_days: float, trial_days: float) -> dict[str, Any]:
    """The chance of a decision by day ``plan_days`` of the trial, now that it is at ``trial_days``."""
    days_left = math.floor(plan_days - trial_days + 1e-9)
    probability = (
        None if forecast is None else (forecast.probability_within(days_left) if days_left >= 0 else 0.0)
    )
    if forecast is not None and forecast.probability_within(0) == 1.0:
        probability = 1.0  # decided already, whether the plan's day has passed or not
    return {"day": plan_days, "trial_day": trial_days, "days_left": days_left, "probability": probability}


def power_summary(
    inputs: list[PowerInputs],
    rule: DecisionRule,
    *,
    arms: dict[str, ArmNow],
    control: str,
    span_days: float,
    decided_now: bool,
    trial_days: float,
    plan_days: float = DEFAULT_PLAN_DAYS,
    prior: Prior = "averaged",
) -> dict[str, Any]:
    """The ``power`` section of the report."""
    if not inputs:
        return {
            "failure_rate": {"mde": None},
            "latency": {"mde_ratio": None},
            "jobs_per_arm_per_day": 0.0,
            "days_to_decision": None,
            "plan": plan_summary(None, plan_days, trial_days),
        }
    control_stats = inputs[0].control
    n_per_arm = float(min([control_stats.decided, *(i.candidate.decided for i in inputs)]))
    alpha = rule.sequential_alpha
    control_rate = control_stats.failure_rate or 0.0
    log_sd = max((_log_sd(i.summary) for i in inputs), default=math.nan)
    latency_n = min(float(np.asarray(i.summary.latency_n_candidate)) for i in inputs)
    rate = n_per_arm / span_days if span_days > 0 else 0.0
    forecast = (
        decided_forecast(rate) if decided_now else forecast_days(arms, control, rule, rate, prior=prior)
    )
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
        "days_to_decision": None if forecast is None else forecast.to_dict(),
        "plan": plan_summary(forecast, plan_days, trial_days),
    }
