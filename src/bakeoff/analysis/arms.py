"""Per-arm statistics: counts, failure rate with its Wilson interval, and duration percentiles.

The failure rate is failed / (completed + failed): cancelled jobs are neither, and open jobs have no
outcome yet (both are counted and shown). Durations are taken from completed jobs only, so a failure
never lends its (often short) latency to the arm; failures are judged by the failure rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bakeoff.analysis.stats import Interval, quantile_interval, wilson_interval
from bakeoff.metrics import columns as col

__all__ = ["PERCENTILES", "ArmStats", "arm_stats", "completed_durations"]

PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True, kw_only=True)
class ArmStats:
    """One arm's numbers, as they appear under ``arms`` in the report JSON."""

    arm: str
    assigned: int
    finished: int
    open: int
    completed: int
    failed: int
    cancelled: int
    failure_rate: float | None
    failure_rate_ci: Interval | None
    latency_ms: dict[str, float | None]
    latency_p50_ci: Interval | None
    latency_p95_ci: Interval | None
    queue_wait_ms: dict[str, float | None]
    run_time_ms: dict[str, float | None]
    attempts_mean: float | None
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def decided(self) -> int:
        """Jobs with a success-or-failure outcome: the failure rate's denominator."""
        return self.completed + self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "assigned": self.assigned,
            "finished": self.finished,
            "open": self.open,
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "failure_rate": self.failure_rate,
            "failure_rate_ci": _listed(self.failure_rate_ci),
            "latency_ms": self.latency_ms,
            "latency_p50_ci": _listed(self.latency_p50_ci),
            "latency_p95_ci": _listed(self.latency_p95_ci),
            "queue_wait_ms": self.queue_wait_ms,
            "run_time_ms": self.run_time_ms,
            "attempts_mean": self.attempts_mean,
            "errors": self.errors,
        }


def _listed(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [interval[0], interval[1]]


def summarise_durations(values: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, float | None]:
    """Mean and percentiles in ms (``None`` for an empty sample)."""
    if values.size == 0:
        return {"mean": None, **dict.fromkeys(PERCENTILES)}
    points = np.quantile(values, list(PERCENTILES.values()))
    return {"mean": float(values.mean()), **{k: float(v) for k, v in zip(PERCENTILES, points, strict=True)}}


def completed_durations(frame: pd.DataFrame, arm: str, column: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The finite, non-negative ``column`` values of ``arm``'s completed jobs."""
    rows = frame[(frame["arm"] == arm) & (frame[col.OUTCOME] == "completed")]
    values: np.ndarray[Any, np.dtype[np.float64]] = rows[column].to_numpy(dtype=float)
    finite: np.ndarray[Any, np.dtype[np.float64]] = values[np.isfinite(values)]
    return finite


def _error_counts(rows: pd.DataFrame) -> dict[str, int]:
    failed = rows[rows[col.OUTCOME] == "failed"]
    kinds = failed[col.ERROR_KIND].fillna("unknown").astype(str)
    return {str(k): int(v) for k, v in kinds.value_counts().sort_index().items()}


def arm_stats(frame: pd.DataFrame, arm: str, alpha: float) -> ArmStats:
    """Statistics of ``arm`` within a prepared frame (column ``arm`` holds the analysis arm)."""
    rows = frame[frame["arm"] == arm]
    outcomes = rows[col.OUTCOME]
    completed = int((outcomes == "completed").sum())
    failed = int((outcomes == "failed").sum())
    cancelled = int((outcomes == "cancelled").sum())
    decided = completed + failed
    latency = completed_durations(frame, arm, col.LATENCY_MS)
    attempts = rows[col.ATTEMPTS].dropna()
    return ArmStats(
        arm=arm,
        assigned=len(rows),
        finished=completed + failed + cancelled,
        open=int(outcomes.isna().sum()),
        completed=completed,
        failed=failed,
        cancelled=cancelled,
        failure_rate=failed / decided if decided else None,
        failure_rate_ci=wilson_interval(failed, decided, alpha),
        latency_ms=summarise_durations(latency),
        latency_p50_ci=quantile_interval(latency, 0.50, alpha),
        latency_p95_ci=quantile_interval(latency, 0.95, alpha),
        queue_wait_ms=summarise_durations(completed_durations(frame, arm, col.QUEUE_WAIT_MS)),
        run_time_ms=summarise_durations(completed_durations(frame, arm, col.RUN_TIME_MS)),
        attempts_mean=float(attempts.mean()) if len(attempts) else None,
        errors=_error_counts(rows),
    )


def all_arm_stats(frame: pd.DataFrame, arms: Sequence[str], alpha: float) -> dict[str, ArmStats]:
    """Statistics for every configured arm, in configuration order."""
    return {arm: arm_stats(frame, arm, alpha) for arm in arms}
