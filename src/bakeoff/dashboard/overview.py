"""The trial overview: experiment state, the sample-ratio check, per-arm numbers, charts and the verdict.

The statistics are the report's own functions (``bakeoff.analysis.stats``: Wilson intervals,
distribution-free quantile intervals, the chi-square sample-ratio test; the same threshold and
minimum as ``compare()``); the verdict and days-to-decision are the newest report ``bakeoff report``
stored for the phase, phrased by ``bakeoff.analysis.forecast.days_phrase`` as the report phrases it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import numpy as np

from bakeoff.analysis.compare import SRM_MIN_PER_ARM, SRM_THRESHOLD
from bakeoff.analysis.forecast import days_phrase
from bakeoff.analysis.observations import summarise_observations
from bakeoff.analysis.stats import quantile_interval, sample_ratio_test, wilson_interval
from bakeoff.analysis.store import load_observations
from bakeoff.dashboard.store import DashboardStore
from bakeoff.router import ExperimentState

__all__ = ["ECDF_POINTS", "ArmSummary", "Overview", "build_overview"]

ECDF_POINTS = 200


@dataclass(frozen=True, kw_only=True, slots=True)
class ArmSummary:
    """One served arm's numbers in the current phase."""

    arm: str
    share: float
    assigned: int
    submitted: int = 0
    open: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    failure_rate: float | None = None
    failure_ci: tuple[float, float] | None = None
    p50_ms: float | None = None
    p50_ci: tuple[float, float] | None = None
    p95_ms: float | None = None
    p95_ci: tuple[float, float] | None = None
    killed: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Overview:
    """Everything the overview page shows."""

    state: ExperimentState
    overrides: int
    arms: list[ArmSummary]
    srm: dict[str, Any]
    charts: dict[str, Any]
    report: dict[str, Any] | None
    observations: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def build_overview(
    store: DashboardStore, state: ExperimentState, overrides: int, *, observations: bool = True
) -> Overview:
    """The overview of ``state``'s current phase, read in one pass over the phase's jobs."""
    rows = store.overview_rows(state.name, state.phase)
    shares = _shares(state)
    assigned = {r["arm"]: int(r["jobs"]) for r in rows["assigned_counts"]}
    counts = {r["arm"]: r for r in rows["phase_arm_counts"]}
    latencies = {r["arm"]: np.asarray(r["latencies_ms"], dtype=float) for r in rows["phase_latencies"]}
    arms = [
        _arm_summary(arm, shares[arm], assigned.get(arm, 0), counts.get(arm), latencies.get(arm), state)
        for arm in state.arms
    ]
    return Overview(
        state=state,
        overrides=overrides,
        arms=arms,
        srm=_srm(assigned, shares),
        charts={"ecdf": _ecdf(latencies, state.arms), "daily": _daily(rows["daily_series"], state.arms)},
        report=_report(store.latest_report(state.name, state.phase)),
        observations=(
            summarise_observations(load_observations(store.engine, state.name), state.arms)
            if observations
            else {}
        ),
    )


def _shares(state: ExperimentState) -> dict[str, float]:
    total = float(sum(state.weights))
    return {arm: (w / total if total > 0 else 0.0) for arm, w in zip(state.arms, state.weights, strict=True)}


def _arm_summary(
    arm: str,
    share: float,
    assigned: int,
    counts: dict[str, Any] | None,
    latencies: np.ndarray[Any, np.dtype[np.float64]] | None,
    state: ExperimentState,
) -> ArmSummary:
    c = {k: int(v) for k, v in (counts or {}).items() if k != "arm"}
    finished = c.get("completed", 0) + c.get("failed", 0)
    have = latencies is not None and latencies.size > 0
    return ArmSummary(
        arm=arm,
        share=share,
        assigned=assigned,
        submitted=c.get("submitted", 0),
        open=c.get("open", 0),
        completed=c.get("completed", 0),
        failed=c.get("failed", 0),
        cancelled=c.get("cancelled", 0),
        failure_rate=c.get("failed", 0) / finished if finished else None,
        failure_ci=wilson_interval(c.get("failed", 0), finished) if finished else None,
        p50_ms=float(np.quantile(latencies, 0.5)) if have and latencies is not None else None,
        p50_ci=quantile_interval(latencies, 0.5) if have and latencies is not None else None,
        p95_ms=float(np.quantile(latencies, 0.95)) if have and latencies is not None else None,
        p95_ci=quantile_interval(latencies, 0.95) if have and latencies is not None else None,
        killed=arm in state.killed_arms,
    )


def _srm(assigned: dict[str, int], shares: dict[str, float]) -> dict[str, Any]:
    """The report's sample-ratio check on the phase's assignments (``compare._srm``'s rules)."""
    observed = {arm: assigned.get(arm, 0) for arm in shares}
    live = [arm for arm, share in shares.items() if share > 0]
    result: dict[str, Any] = {"observed": observed, "expected_share": shares, "p_value": None}
    result["checked"] = bool(live) and min(observed[a] for a in live) >= SRM_MIN_PER_ARM
    result["mismatch"] = any(share == 0 and observed[arm] > 0 for arm, share in shares.items())
    if len(live) >= 2 and sum(observed[a] for a in live) > 0:
        _, p = sample_ratio_test([observed[a] for a in live], [shares[a] for a in live])
        result["p_value"] = p
        result["mismatch"] = result["mismatch"] or bool(result["checked"] and p < SRM_THRESHOLD)
    result["threshold"] = SRM_THRESHOLD
    result["min_per_arm"] = SRM_MIN_PER_ARM
    return result


def _ecdf(
    latencies: dict[str, np.ndarray[Any, np.dtype[np.float64]]], arms: tuple[str, ...]
) -> dict[str, Any]:
    """uPlot data: a shared x (latency in ms, log-spaced) and each arm's cumulative share at x."""
    present = [latencies[a] for a in arms if a in latencies and latencies[a].size]
    if not present:
        return {"arms": list(arms), "x": [], "series": {}}
    low = max(min(float(v[0]) for v in present), 1.0)
    high = max(*(float(v[-1]) for v in present), low * 1.01)
    x = np.geomspace(low, high, ECDF_POINTS)
    series = {
        arm: (np.searchsorted(latencies[arm], x, side="right") / latencies[arm].size).round(4).tolist()
        for arm in arms
        if arm in latencies and latencies[arm].size
    }
    return {"arms": list(arms), "x": x.round(1).tolist(), "series": series}


def _daily(rows: list[dict[str, Any]], arms: tuple[str, ...]) -> dict[str, Any]:
    """uPlot data: days (unix seconds) and per arm the jobs, failures and median latency of each day."""
    days = sorted({row["day"] for row in rows})
    index = {day: i for i, day in enumerate(days)}
    blank: list[float | None] = [None] * len(days)
    jobs = {arm: list(blank) for arm in arms}
    failed = {arm: list(blank) for arm in arms}
    p50 = {arm: list(blank) for arm in arms}
    for row in rows:
        if row["arm"] not in jobs:
            continue
        i = index[row["day"]]
        jobs[row["arm"]][i] = int(row["jobs"])
        failed[row["arm"]][i] = int(row["failed"])
        p50[row["arm"]][i] = None if row["p50_ms"] is None else round(float(row["p50_ms"]), 1)
    x = [int(day.replace(tzinfo=UTC).timestamp()) for day in days]  # naive UTC days from the query
    return {"arms": list(arms), "x": x, "jobs": jobs, "failed": failed, "p50_ms": p50}


def _report(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    body = row["body"]
    days = (body.get("power") or {}).get("days_to_decision")
    return {
        "report_id": row["report_id"],
        "generated_at": row["generated_at"],
        "status": body["verdict"]["status"],
        "winner": body["verdict"].get("winner"),
        "reasons": body["verdict"].get("reasons", []),
        "days_to_decision": days_phrase(days) if days else None,
    }
