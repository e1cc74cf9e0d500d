"""Seeded synthetic trials in the exact export format, for tests, simulations, benchmarks and demos.

A trial runs for ``days`` days with Poisson daily volumes; each job is assigned an arm by the
configured shares, fails with its arm's failure rate (with an error kind), and otherwise completes
with lognormal queue wait and run time scaled by the arm's speed. The frame has the stored columns
of ``bakeoff.metrics.columns`` plus the derived durations, exactly as ``load_trial`` returns them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from bakeoff.analysis.errors import AnalysisInputError
from bakeoff.contract import ARM_NAMES
from bakeoff.metrics import columns as col
from bakeoff.metrics.export import add_derived_columns

__all__ = ["TrialSpec", "synthetic_trial"]

DEFAULT_ERROR_KINDS = {"fetch_timeout": 0.5, "http_error": 0.3, "extract_failed": 0.2}
DAY_MS = 86_400_000


@dataclass(frozen=True, kw_only=True)
class TrialSpec:
    """What to simulate. Per-arm mappings default to the same value for every arm."""

    days: int = 30
    jobs_per_day: float = 30.0
    arms: Sequence[str] = ARM_NAMES
    shares: Mapping[str, float] | None = None
    failure_rate: Mapping[str, float] | float = 0.05
    median_latency_ms: Mapping[str, float] | float = 2000.0
    latency_sigma: float = 1.0
    cancel_rate: float = 0.0
    open_rate: float = 0.0
    error_kinds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ERROR_KINDS))
    phases: int = 1
    experiment: str = "article-import"
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def per_arm(self, value: Mapping[str, float] | float) -> np.ndarray[Any, np.dtype[np.float64]]:
        if isinstance(value, Mapping):
            return np.array([float(value.get(arm, 0.0)) for arm in self.arms])
        return np.full(len(self.arms), float(value))


def _ids(rng: np.random.Generator, n: int) -> list[str]:
    words = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    return [f"{a:016x}{b:016x}" for a, b in words.tolist()]


def _assign(spec: TrialSpec, rng: np.random.Generator, n: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    weights = spec.per_arm(spec.shares) if spec.shares is not None else np.ones(len(spec.arms))
    if weights.sum() <= 0:
        raise AnalysisInputError("shares: at least one arm needs a positive share")
    return rng.choice(len(spec.arms), size=n, p=weights / weights.sum())


def _outcomes(spec: TrialSpec, rng: np.random.Generator, arm: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    u = rng.random(arm.size)
    fail = spec.per_arm(spec.failure_rate)[arm]
    outcome = np.where(u < fail, "failed", "completed").astype(object)
    outcome[(u >= fail) & (u < fail + spec.cancel_rate)] = "cancelled"
    outcome[rng.random(arm.size) < spec.open_rate] = None
    return outcome


def _micros(ms: np.ndarray[Any, Any]) -> pd.TimedeltaIndex:
    """Durations at PostgreSQL's timestamp precision (microseconds), so a round trip is exact."""
    return pd.to_timedelta(np.round(np.asarray(ms, dtype=float) * 1000).astype(np.int64), unit="us")


def synthetic_trial(spec: TrialSpec | None = None, *, rng: np.random.Generator | int = 0) -> pd.DataFrame:
    """A synthetic trial export (stored and derived columns) drawn from ``spec``."""
    spec = spec or TrialSpec()
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    daily = gen.poisson(spec.jobs_per_day, size=spec.days)
    day = np.repeat(np.arange(spec.days), daily)
    n = int(day.size)
    arm = _assign(spec, gen, n)
    submitted_ms = day * DAY_MS + gen.integers(0, DAY_MS, size=n)
    median = spec.per_arm(spec.median_latency_ms)[arm]
    queue_ms = 0.3 * median * np.exp(gen.normal(0, spec.latency_sigma, n))
    run_ms = 0.7 * median * np.exp(gen.normal(0, spec.latency_sigma, n))
    outcome = _outcomes(spec, gen, arm)
    open_ = pd.isna(outcome)
    kinds = list(spec.error_kinds)
    probs = np.array([spec.error_kinds[k] for k in kinds], dtype=float)
    error_kind = np.array(kinds, dtype=object)[gen.choice(len(kinds), size=n, p=probs / probs.sum())]
    failed = outcome == "failed"
    start = pd.Timestamp(spec.start)
    submitted = start + _micros(submitted_ms)
    started = submitted + _micros(queue_ms)
    finished = started + _micros(run_ms)
    arm_names = np.array(list(spec.arms), dtype=object)[arm]
    phase = 1 + (day * spec.phases) // max(spec.days, 1)
    frame = pd.DataFrame(
        {
            col.TRIAL_JOB_ID: _ids(gen, n),
            col.EXPERIMENT: spec.experiment,
            col.PHASE: phase.astype(int),
            col.UNIT_KEY: [f"https://articles.test/{i}" for i in range(n)],
            col.ASSIGNED_ARM: arm_names,
            col.SERVED_ARM: arm_names,
            col.ASSIGNMENT_REASON: "hash",
            col.BACKEND_JOB_ID: [str(i) for i in range(n)],
            col.URL: [f"https://articles.test/{i}" for i in range(n)],
            col.SUBMITTED_AT: submitted,
            col.ENQUEUED_AT: submitted,
            col.STARTED_AT: pd.Series(started).where(~open_, None),
            col.FINISHED_AT: pd.Series(finished).where(~open_, None),
            col.ATTEMPTS: np.where(failed, 3, 1),
            col.OUTCOME: outcome,
            col.ERROR_KIND: pd.Series(error_kind).where(failed, None),
            col.ERROR_MESSAGE: pd.Series("synthetic failure", index=range(n)).where(failed, None),
            col.DOCUMENT_ID: None,
        }
    )
    return add_derived_columns(frame.sort_values(col.SUBMITTED_AT, kind="stable").reset_index(drop=True))
