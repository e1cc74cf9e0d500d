"""Seeded simulations of the guardrail looked at every few minutes for a whole trial.

Each trial has a control and two candidates; jobs finish at a Poisson rate per arm, fail with the
arm's failure rate, and otherwise take a lognormal latency. The guard looks every ``every_minutes``
and applies exactly the rule of :func:`bakeoff.analysis.guardrail.check` (the same vectorised
functions, the same alpha split, ``min_jobs`` and p95 interval). Everything is numpy over
(trials x looks): a trial's p95 and its standard error are computed once per prefix length of the
arm's completed jobs (sorting the prefixes as rows of one matrix), then gathered at each look.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bakeoff.analysis.guardrail import (
    QUANTILE_Z,
    GuardrailSpec,
    failure_lower_bound,
    log_ratio_lower_bound,
    per_test_alpha,
    quantile_ranks,
)

__all__ = ["GuardrailScenario", "ScenarioResult", "simulate_guardrail"]

ARMS = ("control", "candidate", "other")
"""Index 1 is the candidate a scenario makes worse; index 2 stays like the control."""


@dataclass(frozen=True, kw_only=True)
class GuardrailScenario:
    """One simulated set-up (per-arm values in the order of :data:`ARMS`)."""

    name: str
    failure_rate: tuple[float, float, float] = (0.05, 0.05, 0.05)
    latency_scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    median_latency_ms: float = 2000.0
    latency_sigma: float = 0.8
    days: int = 30
    jobs_per_arm_per_day: float = 40.0
    every_minutes: float = 10.0


@dataclass(frozen=True, kw_only=True)
class ScenarioResult:
    scenario: GuardrailScenario
    trials: int
    killed_any: float
    """Share of trials in which any candidate was killed."""
    killed_candidate: float
    """Share of trials in which the worse candidate (index 1) was killed."""
    killed_other: float
    jobs_before_kill: tuple[int, ...] = field(default=())
    """The candidate's finished jobs at the look that killed it, per trial that killed it."""
    days_to_kill: tuple[float, ...] = field(default=())

    def median_jobs(self) -> float | None:
        return float(np.median(self.jobs_before_kill)) if self.jobs_before_kill else None

    def median_days(self) -> float | None:
        return float(np.median(self.days_to_kill)) if self.days_to_kill else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "trials": self.trials,
            "killed_any": self.killed_any,
            "killed_candidate": self.killed_candidate,
            "killed_other": self.killed_other,
            "median_jobs_before_kill": self.median_jobs(),
            "median_days_to_kill": self.median_days(),
        }


def _prefix_log_quantiles(
    log_latency: NDArray[np.float64], quantile: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """For every prefix length m = 0..n: (log quantile, its standard error, valid)."""
    n = log_latency.size
    lengths = np.arange(n + 1)
    # Row m holds the first m values and +inf after them; sorted, its first m entries are the prefix.
    grid = np.where(np.arange(n)[None, :] < lengths[:, None], log_latency[None, :], np.inf)
    grid.sort(axis=1)
    est, lo, hi, valid = quantile_ranks(lengths, quantile)
    rows = np.arange(n + 1)
    if n == 0:
        return np.full(1, np.nan), np.full(1, np.nan), np.zeros(1, dtype=bool)
    with np.errstate(invalid="ignore"):  # inf - inf in rows too short to be valid
        log_q = np.where(valid, grid[rows, est], np.nan)
        se = np.where(valid, (grid[rows, hi] - grid[rows, lo]) / (2 * QUANTILE_Z), np.nan)
    return log_q, se, valid


@dataclass(frozen=True)
class _ArmPath:
    finished: NDArray[np.int64]
    failed: NDArray[np.int64]
    completed: NDArray[np.int64]
    log_q: NDArray[np.float64]
    se: NDArray[np.float64]
    valid: NDArray[np.bool_]


def _arm_path(
    scenario: GuardrailScenario, arm: int, looks: int, rng: np.random.Generator, quantile: float
) -> _ArmPath:
    rate = scenario.jobs_per_arm_per_day * scenario.every_minutes / 1440.0
    per_look = rng.poisson(rate, size=looks)
    total = int(per_look.sum())
    failed_flag = rng.random(total) < scenario.failure_rate[arm]
    finished = np.cumsum(per_look)
    failed_cum = np.concatenate(([0], np.cumsum(failed_flag)))
    completed_cum = np.concatenate(([0], np.cumsum(~failed_flag)))
    median = scenario.median_latency_ms * scenario.latency_scale[arm]
    log_latency = np.log(median) + rng.normal(0.0, scenario.latency_sigma, size=int((~failed_flag).sum()))
    log_q, se, valid = _prefix_log_quantiles(log_latency, quantile)
    return _ArmPath(
        finished=finished,
        failed=failed_cum[finished],
        completed=completed_cum[finished],
        log_q=log_q,
        se=se,
        valid=valid,
    )


def _first_breach(ctrl: _ArmPath, cand: _ArmPath, spec: GuardrailSpec, alpha: float) -> int | None:
    """Index of the first look at which either test breaches, or None."""
    enough = np.minimum(cand.finished, ctrl.finished) >= spec.min_jobs
    _, f_lower = failure_lower_bound(
        cand.failed, cand.finished, ctrl.failed, ctrl.finished, alpha, spec.tuning
    )
    failure = enough & (f_lower > spec.failure_margin)
    cc, kc = cand.completed, ctrl.completed
    lat_ok = (np.minimum(cc, kc) >= spec.min_jobs) & cand.valid[cc] & ctrl.valid[kc]
    with np.errstate(invalid="ignore"):
        _, l_lower = log_ratio_lower_bound(
            cand.log_q[cc], cand.se[cc], ctrl.log_q[kc], ctrl.se[kc], cc + kc, alpha, spec.tuning
        )
        latency = lat_ok & (l_lower > np.log(spec.latency_ratio))
    hits = np.flatnonzero(failure | latency)
    return int(hits[0]) if hits.size else None


def simulate_guardrail(
    scenario: GuardrailScenario,
    trials: int,
    rng: np.random.Generator,
    spec: GuardrailSpec | None = None,
) -> ScenarioResult:
    """Run ``trials`` seeded trials of ``scenario`` under the guard and count the kills."""
    spec = spec or GuardrailSpec(control="control")
    looks = round(scenario.days * 1440 / scenario.every_minutes)
    alpha = per_test_alpha(spec, len(ARMS) - 1)
    killed_cand = killed_other = killed_any = 0
    jobs: list[int] = []
    days: list[float] = []
    for _ in range(trials):
        paths = [_arm_path(scenario, arm, looks, rng, spec.quantile) for arm in range(len(ARMS))]
        hit_cand = _first_breach(paths[0], paths[1], spec, alpha)
        hit_other = _first_breach(paths[0], paths[2], spec, alpha)
        killed_cand += hit_cand is not None
        killed_other += hit_other is not None
        killed_any += hit_cand is not None or hit_other is not None
        if hit_cand is not None:
            jobs.append(int(paths[1].finished[hit_cand]))
            days.append((hit_cand + 1) * scenario.every_minutes / 1440.0)
    return ScenarioResult(
        scenario=scenario,
        trials=trials,
        killed_any=killed_any / trials,
        killed_candidate=killed_cand / trials,
        killed_other=killed_other / trials,
        jobs_before_kill=tuple(jobs),
        days_to_kill=tuple(days),
    )
