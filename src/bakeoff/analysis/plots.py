"""The report's figures, drawn with matplotlib's Agg backend (no display needed, safe in cron).

Latency ECDF per arm (log x), a forest plot of every comparison's fixed and sequential intervals,
daily failure rate and p95 with intervals, cumulative assignments against the configured shares,
and failures by error kind per arm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: the report renders headless (cron, CI)

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bakeoff.analysis.arms import completed_durations
from bakeoff.analysis.stats import quantile_interval, wilson_interval
from bakeoff.metrics import columns as col

if TYPE_CHECKING:
    from bakeoff.analysis.compare import Comparison

__all__ = ["all_plots"]


MAX_POINTS = 2000
"""Lines are thinned to this many points: a million-job trial draws as fast as a small one."""


def _thin(size: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Indices of at most MAX_POINTS evenly spread points, always keeping the last."""
    if size <= MAX_POINTS:
        return np.arange(size)
    return np.unique(np.linspace(0, size - 1, MAX_POINTS).round().astype(np.int64))


HOURLY_BELOW = pd.Timedelta(days=2)
"""Trials shorter than this are plotted per hour, not per day (a one-day trial is one point)."""
SINGLE_POINT_SPAN_DAYS = 1 / 24
"""The x range given to a plot whose data sit on one instant: an hour around it."""


def _dates(ax: Any) -> None:
    """Short date labels that do not overlap, on a range that fits the data.

    Data on a single instant (a trial shorter than its bins, one stored report) would otherwise get
    matplotlib's default of two years either side, and AutoDateLocator warns on such a range.
    """
    low, high = ax.dataLim.intervalx
    if ax.has_data() and np.isfinite([low, high]).all() and high - low < SINGLE_POINT_SPAN_DAYS / 60:
        ax.set_xlim(low - SINGLE_POINT_SPAN_DAYS / 2, high + SINGLE_POINT_SPAN_DAYS / 2)
    locator = mdates.AutoDateLocator(maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _figure(height: float = 3.6) -> tuple[Figure, Any]:
    # Fixed margins, not constrained layout: layout solving was half the report's drawing time.
    fig, ax = plt.subplots(figsize=(7.5, height))
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.14, top=0.9)
    return fig, ax


def latency_ecdf(c: Comparison) -> Figure:
    """Empirical CDF of completed jobs' latency per arm, log x axis."""
    fig, ax = _figure()
    for arm in c.arms:
        values = np.sort(completed_durations(c.data, arm, col.LATENCY_MS))
        values = values[values > 0]
        if values.size:
            keep = _thin(values.size)
            share = (keep + 1) / values.size
            ax.step(values[keep], share, where="post", label=f"{arm} (n={values.size})")
    ax.set_xscale("log")
    ax.set(xlabel="latency, ms (log scale)", ylabel="share of completed jobs", title="Latency ECDF per arm")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def _forest_panel(ax: Any, rows: list[Any], title: str, xlabel: str, scale: float) -> None:
    for y, row in enumerate(rows):
        if row.ci_sequential is not None:
            lo, hi = row.ci_sequential
            ax.plot([lo * scale, hi * scale], [y + 0.15] * 2, color="tab:orange", lw=3, alpha=0.8)
        if row.ci is not None:
            lo, hi = row.ci
            ax.plot([lo * scale, hi * scale], [y - 0.15] * 2, color="tab:blue", lw=2)
        if row.estimate is not None:
            ax.plot([row.estimate * scale], [y], "ko", ms=4)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(range(len(rows)), [f"{r.arm} - {r.control}" for r in rows])
    ax.set(title=title, xlabel=xlabel)
    ax.grid(alpha=0.3, axis="x")


def forest(c: Comparison) -> Figure:
    """Each comparison's estimate with its fixed (blue) and sequential (orange) interval."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.6 * max(len(c.comparisons), 4) + 1.2))
    fig.subplots_adjust(left=0.15, right=0.98, bottom=0.15, top=0.82, wspace=0.45)
    failures = [r for r in c.comparisons if r.metric == "failure_rate"]
    latency = [r for r in c.comparisons if r.metric == "latency"]
    _forest_panel(axes[0], failures, "Failure rate, candidate - control", "percentage points", 100.0)
    axes[0].axvline(c.failure_margin * 100, color="tab:red", ls="--", lw=1, label="margin")
    axes[0].legend(loc="lower right", fontsize=8)
    _forest_panel(
        axes[1], latency, "Latency shift, candidate - control", "ms (HL shift; sequential from ratio)", 1.0
    )
    fig.suptitle("Comparisons: blue = fixed 95% interval, orange = anytime-valid interval")
    return fig


def _daily_arm(
    day: np.ndarray[Any, Any],
    failed: np.ndarray[Any, Any],
    completed: np.ndarray[Any, Any],
    latency: np.ndarray[Any, Any],
    alpha: float,
) -> pd.DataFrame:
    """Per day: failure rate with its Wilson interval, p95 latency with its order-statistic interval."""
    rows = {}
    for value in np.unique(day):
        on_day = day == value
        n_failed = int(failed[on_day].sum())
        decided = n_failed + int(completed[on_day].sum())
        values = latency[on_day & completed]
        values = values[np.isfinite(values)]
        rate_ci = wilson_interval(n_failed, decided, alpha) or (np.nan, np.nan)
        p95_ci = quantile_interval(values, 0.95, alpha) or (np.nan, np.nan)
        rows[pd.Timestamp(value)] = {
            "rate": n_failed / decided if decided else np.nan,
            "rate_lo": rate_ci[0],
            "rate_hi": rate_ci[1],
            "p95": float(np.quantile(values, 0.95)) if values.size else np.nan,
            "p95_lo": p95_ci[0],
            "p95_hi": p95_ci[1],
        }
    return pd.DataFrame(rows).T


def daily(c: Comparison) -> Figure:
    """Daily failure rate (Wilson interval) and daily p95 latency (order-statistic interval); per hour
    when the trial spans less than two days."""
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 6), sharex=True)
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.1, top=0.94, hspace=0.25)
    frame = c.data.dropna(subset=[col.SUBMITTED_AT])
    # Column-wide comparisons once, as numpy arrays: per-group string comparisons on a million rows
    # dominated the drawing time.
    # Naive UTC datetime64, not an object array of tz-aware Timestamps (100x slower to compare).
    submitted = frame[col.SUBMITTED_AT].dt.tz_convert(None)
    hourly = not submitted.empty and submitted.max() - submitted.min() < HOURLY_BELOW
    period = "Hourly" if hourly else "Daily"
    day = submitted.dt.floor("h" if hourly else "D").to_numpy()
    failed = (frame[col.OUTCOME] == "failed").to_numpy()
    completed = (frame[col.OUTCOME] == "completed").to_numpy()
    latency = frame[col.LATENCY_MS].to_numpy(dtype=float)
    arm_of = frame["arm"].astype(object).to_numpy()
    for arm in c.arms:
        mine = arm_of == arm
        if not mine.any():
            continue
        stats = _daily_arm(day[mine], failed[mine], completed[mine], latency[mine], c.alpha)
        line = axes[0].plot(stats.index, stats["rate"] * 100, marker=".", label=arm)[0]
        color = line.get_color()
        axes[0].fill_between(
            stats.index, stats["rate_lo"] * 100, stats["rate_hi"] * 100, color=color, alpha=0.12
        )
        axes[1].plot(stats.index, stats["p95"], marker=".", color=color, label=arm)
        axes[1].fill_between(stats.index, stats["p95_lo"], stats["p95_hi"], color=color, alpha=0.12)
    axes[0].set(ylabel="failure rate, %", title=f"{period} failure rate (shaded: 95% Wilson interval)")
    axes[1].set(
        ylabel="p95 latency, ms", title=f"{period} p95 latency (shaded: distribution-free 95% interval)"
    )
    axes[1].set_yscale("log")
    _dates(axes[1])
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def assignments(c: Comparison) -> Figure:
    """Cumulative assignments per arm against what the configured shares lead one to expect."""
    fig, ax = _figure()
    frame = c.data.dropna(subset=[col.SUBMITTED_AT])
    submitted = frame[col.SUBMITTED_AT].dt.tz_convert(None).to_numpy()
    order = np.argsort(submitted, kind="stable")
    assigned = frame[col.ASSIGNED_ARM].astype(object).to_numpy()[order]
    keep = _thin(len(frame))
    total = np.arange(1, len(frame) + 1)[keep]
    when = submitted[order][keep]
    for arm, share in c.srm["expected_share"].items():
        observed = (assigned == arm).cumsum()[keep]
        line = ax.plot(when, observed, label=f"{arm} observed")[0]
        ax.plot(when, total * share, ls="--", color=line.get_color(), label=f"{arm} expected {share:.0%}")
    ax.set(ylabel="jobs assigned (cumulative)", title="Cumulative assignments vs configured shares")
    _dates(ax)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return fig


def error_kinds(c: Comparison) -> Figure:
    """Failed jobs per arm, stacked by error kind."""
    fig, ax = _figure()
    kinds = sorted({kind for stats in c.arms.values() for kind in stats.errors})
    bottom = np.zeros(len(c.arms))
    for kind in kinds:
        counts = np.array([c.arms[arm].errors.get(kind, 0) for arm in c.arms], dtype=float)
        ax.bar(list(c.arms), counts, bottom=bottom, label=kind)
        bottom += counts
    ax.set(ylabel="failed jobs", title="Failures by error kind per arm")
    if kinds:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return fig


def history(bodies: Sequence[Mapping[str, Any]]) -> Figure:
    """How each comparison's sequential interval moved over the stored nightly reports."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.18, top=0.86, wspace=0.3)
    series: dict[tuple[str, str], list[tuple[pd.Timestamp, float, float]]] = {}
    for body in bodies:
        when = pd.Timestamp(str(body.get("generated_at")))
        for row in body.get("comparisons", []):
            ci = row.get("ci_sequential_ratio") if row["metric"] == "latency" else row.get("ci_sequential")
            if ci is not None and None not in ci:
                scale = 1.0 if row["metric"] == "latency" else 100.0
                series.setdefault((row["arm"], row["metric"]), []).append(
                    (when, ci[0] * scale, ci[1] * scale)
                )
    for (arm, metric), points in series.items():
        ax = axes[0] if metric == "failure_rate" else axes[1]
        nights, lo, hi = zip(*points, strict=True)
        ax.fill_between(nights, lo, hi, alpha=0.25, label=arm, step="mid")
    axes[0].set(title="Failure difference, sequential interval", ylabel="points")
    axes[1].set(title="Latency ratio, sequential interval", ylabel="candidate / control")
    axes[0].axhline(0, color="grey", lw=1)
    axes[1].axhline(1, color="grey", lw=1)
    margin = bodies[-1].get("failure_margin") if bodies else None
    if isinstance(margin, int | float):
        axes[0].axhline(margin * 100, color="tab:red", ls="--", lw=1)
    for ax in axes:
        _dates(ax)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle("Night by night")
    return fig


def all_plots(c: Comparison) -> dict[str, Figure]:
    """Every report figure by name, in report order."""
    return {
        "latency_ecdf": latency_ecdf(c),
        "forest": forest(c),
        "daily": daily(c),
        "assignments": assignments(c),
        "error_kinds": error_kinds(c),
    }
