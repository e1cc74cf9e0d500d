"""Seeded simulations of the nightly report: false winners under peeking, power, days to decision.

Each simulated trial is a job-level synthetic export (:mod:`bakeoff.analysis.synthetic`). Every
night's look applies the same decision rules as :func:`bakeoff.analysis.compare` to the cumulative
data up to that night, vectorised over nights (running ``compare()`` itself every night of hundreds
of trials would take hours; a test checks that both paths agree night by night).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from bakeoff.analysis.compare import compare
from bakeoff.analysis.decision import DecisionRule, PairSummary, PairVerdict, decide_pair, decision_reached
from bakeoff.analysis.forecast import HORIZON_DAYS, Prior
from bakeoff.analysis.synthetic import TrialSpec, synthetic_trial
from bakeoff.metrics import columns as col

__all__ = [
    "AA_SPEC",
    "CALIBRATION_SCENARIOS",
    "FAST_SPEC",
    "SEED_SPEC",
    "Calibration",
    "CalibrationTrial",
    "NightlyLooks",
    "SeedVolumeResult",
    "days_prediction",
    "false_winner_rate",
    "forecast_calibration",
    "nightly_looks",
    "run_trials",
    "seed_volume",
    "winner_rate",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, kw_only=True)
class NightlyLooks:
    """For each candidate, its state after each night (index 0 = after day 1)."""

    verdicts: dict[str, PairVerdict]

    @property
    def any_win(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        wins: np.ndarray[Any, np.dtype[np.bool_]] = np.logical_or.reduce(
            [v.win for v in self.verdicts.values()]
        )
        return wins

    @property
    def decided(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """The report would leave ``insufficient_data`` that night (a win, or every candidate settled)."""
        return decision_reached(list(self.verdicts.values()))

    def first_decision_day(self) -> int | None:
        """1-based day of the first decision, or ``None`` if none within the trial."""
        decided = self.decided
        return int(np.argmax(decided)) + 1 if decided.any() else None


def _daily_sums(df: pd.DataFrame, arm: str, days: int, start: pd.Timestamp) -> dict[str, FloatArray]:
    rows = df[df[col.ASSIGNED_ARM] == arm]
    day = ((rows[col.SUBMITTED_AT] - start).dt.total_seconds() // 86400).astype(int).to_numpy()
    failed = (rows[col.OUTCOME] == "failed").to_numpy()
    completed = (rows[col.OUTCOME] == "completed").to_numpy()
    logs = np.log(np.maximum(rows[col.LATENCY_MS].to_numpy(dtype=float), 1e-3))
    logs = np.where(completed, logs, 0.0)

    def per_day(weights: FloatArray) -> FloatArray:
        return np.cumsum(np.bincount(day, weights=weights, minlength=days)[:days])

    return {
        "decided": per_day((failed | completed).astype(float)),
        "failed": per_day(failed.astype(float)),
        "lat_n": per_day(completed.astype(float)),
        "lat_sum": per_day(logs),
        "lat_sq": per_day(logs**2),
    }


def _log_moments(s: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s["lat_sum"] / s["lat_n"]
        var = (s["lat_sq"] - s["lat_n"] * mean**2) / (s["lat_n"] - 1)
    return mean, var


def nightly_looks(
    df: pd.DataFrame, spec: TrialSpec, rule: DecisionRule, control: str = "legacy"
) -> NightlyLooks:
    """The decision rules applied to the cumulative data after each of ``spec.days`` nights."""
    start = pd.Timestamp(spec.start)
    sums = {arm: _daily_sums(df, arm, spec.days, start) for arm in spec.arms}
    ctrl = sums[control]
    ctrl_mean, ctrl_var = _log_moments(ctrl)
    verdicts = {}
    for arm in spec.arms:
        if arm == control:
            continue
        cand = sums[arm]
        mean, var = _log_moments(cand)
        summary = PairSummary(
            n_candidate=cand["decided"],
            failures_candidate=cand["failed"],
            n_control=ctrl["decided"],
            failures_control=ctrl["failed"],
            latency_n_candidate=cand["lat_n"],
            latency_n_control=ctrl["lat_n"],
            log_mean_difference=np.nan_to_num(mean - ctrl_mean),
            log_var_candidate=var,
            log_var_control=ctrl_var,
        )
        verdicts[arm] = decide_pair(summary, rule)
    return NightlyLooks(verdicts=verdicts)


def days_prediction(df: pd.DataFrame, spec: TrialSpec, at_day: int) -> tuple[float | None, str]:
    """``compare()`` on the first ``at_day`` days: (the forecast's median decision day, verdict status)."""
    cutoff = pd.Timestamp(spec.start) + pd.Timedelta(days=at_day)
    comparison = compare(df[df[col.SUBMITTED_AT] < cutoff])
    forecast = comparison.power["days_to_decision"]
    median = None if forecast is None else forecast["median"]
    return (None if median is None else at_day + float(median)), comparison.verdict.status


def run_trials(
    spec: TrialSpec, trials: int, rng: np.random.Generator, rule: DecisionRule | None = None
) -> list[NightlyLooks]:
    """``trials`` independent synthetic trials of ``spec``, each looked at every night."""
    chosen = rule or DecisionRule(candidates=len(spec.arms) - 1)
    return [nightly_looks(synthetic_trial(spec, rng=rng), spec, chosen) for _ in range(trials)]


def with_days(spec: TrialSpec, days: int) -> TrialSpec:
    """The same trial, run for ``days`` days."""
    return replace(spec, days=days)


AA_SPEC = TrialSpec(days=30, jobs_per_day=120.0, failure_rate=0.01)
"""The issue's A/A scenario: ~40 jobs per arm per day, 1% failures everywhere, identical latency."""

FAST_SPEC = replace(AA_SPEC, median_latency_ms={"legacy": 2000.0, "pgboss": 2000.0 / 1.5, "inngest": 2000.0})
"""The same with pgboss 1.5x faster (same failures)."""

SEED_SPEC = TrialSpec(days=30, jobs_per_day=30.0, failure_rate=0.05)
"""The seed's real volume: ~10 jobs per arm per day, 5% failures, identical arms."""


@dataclass(frozen=True, kw_only=True)
class SeedVolumeResult:
    """Days-to-decision as predicted on day ``at_day`` against the simulated decision days."""

    statuses_at_day: tuple[str, ...]
    decided_by_day: float
    predicted_days: tuple[float, ...]
    decision_days: tuple[float, ...]

    @property
    def median_predicted(self) -> float:
        return float(np.median(self.predicted_days)) if self.predicted_days else float("nan")

    @property
    def median_decision(self) -> float:
        return float(np.median(self.decision_days)) if self.decision_days else float("nan")

    @property
    def relative_error(self) -> float:
        return abs(self.median_predicted - self.median_decision) / self.median_decision


def false_winner_rate(trials: int, rng: np.random.Generator, spec: TrialSpec = AA_SPEC) -> float:
    """Share of A/A trials in which any nightly look named a winner."""
    looks = run_trials(spec, trials, rng)
    return float(np.mean([bool(look.any_win.any()) for look in looks]))


def winner_rate(
    trials: int, rng: np.random.Generator, arm: str = "pgboss", spec: TrialSpec = FAST_SPEC
) -> float:
    """Share of trials in which ``arm`` is named the winner by the last night."""
    looks = run_trials(spec, trials, rng)
    return float(np.mean([bool(look.verdicts[arm].win.any()) for look in looks]))


def seed_volume(
    trials: int, rng: np.random.Generator, at_day: int = 30, horizon: int = 1200, spec: TrialSpec = SEED_SPEC
) -> SeedVolumeResult:
    """At the seed's volume: the verdict on ``at_day``, its days-to-decision, and when trials decide."""
    long_spec = with_days(spec, horizon)
    rule = DecisionRule(candidates=len(spec.arms) - 1)
    statuses, predicted, decided = [], [], []
    early = 0
    for _ in range(trials):
        df = synthetic_trial(long_spec, rng=rng)
        day, status = days_prediction(df, long_spec, at_day)
        statuses.append(status)
        if day is not None:
            predicted.append(day)
        first = nightly_looks(df, long_spec, rule).first_decision_day()
        early += int(first is not None and first <= at_day)
        if first is not None:
            decided.append(float(first))
    return SeedVolumeResult(
        statuses_at_day=tuple(statuses),
        decided_by_day=early / trials,
        predicted_days=tuple(predicted),
        decision_days=tuple(decided),
    )


SEED_FASTER = TrialSpec(
    days=14,
    jobs_per_day=30.0,
    failure_rate=0.05,
    median_latency_ms={"legacy": 2000.0, "pgboss": 2000.0 / 1.5, "inngest": 2000.0 / 1.5},
)
CALIBRATION_SCENARIOS = {
    "a: seed volume, 10 jobs/arm/day, 5% failures, candidates 1.5x faster": SEED_FASTER,
    "b: the same at 40 jobs/arm/day": replace(SEED_FASTER, jobs_per_day=120.0),
    "c: A/A at 10 jobs/arm/day, 5% failures": replace(SEED_FASTER, median_latency_ms=2000.0),
    "d: as a, pgboss with twice the control's failures (10%)": replace(
        SEED_FASTER, failure_rate={"legacy": 0.05, "pgboss": 0.10, "inngest": 0.05}
    ),
}
"""Issue 23's four scenarios for checking the days-to-decision forecast against what happens."""


@dataclass(frozen=True, kw_only=True)
class CalibrationTrial:
    """One trial's forecast at the look and the number of more days it really took (``inf``: none
    within the horizon). ``None`` bounds of the forecast mean beyond the horizon."""

    median: float | None
    low: float | None
    high: float | None
    actual: float
    no_decision_in_sight: bool


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else float(value)


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """How often the forecasts made at the look came true."""

    trials: tuple[CalibrationTrial, ...]
    decided_at_look: int
    """Trials the report had decided by the look (no forecast to check)."""

    @property
    def share_by_median(self) -> float:
        """Share of trials decided by the forecast's median (target 40-60%)."""
        return float(np.mean([t.actual <= _or_inf(t.median) for t in self.trials]))

    @property
    def share_in_interval(self) -> float:
        """Share of trials whose actual day falls inside the forecast's 80% interval (target 70-90%)."""
        return float(np.mean([_or_inf(t.low) <= t.actual <= _or_inf(t.high) for t in self.trials]))

    @property
    def share_before_interval(self) -> float:
        """Share decided before the 80% interval's low end (the forecast was too late for them)."""
        return float(np.mean([t.actual < _or_inf(t.low) for t in self.trials]))

    @property
    def share_after_interval(self) -> float:
        """Share decided after the 80% interval's high end (the forecast was too early for them)."""
        return float(np.mean([t.actual > _or_inf(t.high) for t in self.trials]))

    @property
    def finite(self) -> list[CalibrationTrial]:
        return [t for t in self.trials if t.median is not None and math.isfinite(t.actual)]

    @property
    def median_abs_error(self) -> float:
        """Mean absolute error of the median, in days, over trials where both are within the horizon."""
        pairs = self.finite
        return float(np.mean([abs(float(t.median or 0) - t.actual) for t in pairs])) if pairs else math.nan


def forecast_calibration(
    spec: TrialSpec,
    trials: int,
    rng: np.random.Generator,
    *,
    at_day: int = 14,
    horizon: int = HORIZON_DAYS,
    prior: Prior = "averaged",
) -> Calibration:
    """For each trial: the report's forecast after ``at_day`` days, then the same trial continued for
    ``horizon`` more days, looked at every night, until its first decision."""
    long_spec = with_days(spec, at_day + horizon)
    rule = DecisionRule(candidates=len(spec.arms) - 1)
    cutoff = pd.Timestamp(spec.start) + pd.Timedelta(days=at_day)
    results: list[CalibrationTrial] = []
    decided_at_look = 0
    for _ in range(trials):
        df = synthetic_trial(long_spec, rng=rng)
        comparison = compare(df[df[col.SUBMITTED_AT] < cutoff], forecast_prior=prior)
        forecast = comparison.power["days_to_decision"]
        if comparison.verdict.status != "insufficient_data" or forecast is None:
            decided_at_look += 1
            continue
        later = nightly_looks(df, long_spec, rule).decided[at_day:]
        actual = float(np.argmax(later) + 1) if later.any() else math.inf
        low, high = forecast["interval_80"]
        results.append(
            CalibrationTrial(
                median=forecast["median"],
                low=low,
                high=high,
                actual=actual,
                no_decision_in_sight=forecast["no_decision_in_sight"],
            )
        )
    return Calibration(trials=tuple(results), decided_at_look=decided_at_look)
