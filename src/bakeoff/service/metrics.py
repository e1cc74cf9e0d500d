"""Prometheus metrics computed from ``bakeoff.trial_jobs`` at scrape time.

A counter kept in process memory would disagree with the database as soon as a second process
routes or a worker on another machine finishes a job; the trial's truth is the table. So
:class:`TrialJobsCollector` runs three aggregate queries per scrape and reports, per experiment and
arm, what the table says. Names follow the dramatiq and celery-exporter conventions with a
``bakeoff_`` prefix:

=====================================  ==========================================================
``bakeoff_jobs_submitted_total``       routed jobs, by served arm
``bakeoff_jobs_fallback_total``        jobs the assigned arm failed to take (label: that arm)
``bakeoff_jobs_killed_total``          jobs of a killed arm served by the control (label: killed arm)
``bakeoff_jobs_completed_total``       by served arm
``bakeoff_jobs_failed_total``          by served arm and ``error_kind``
``bakeoff_jobs_cancelled_total``       by served arm
``bakeoff_job_queue_wait_seconds``     histogram: first attempt's start - submit
``bakeoff_job_run_time_seconds``       histogram: finish - first attempt's start
``bakeoff_job_latency_seconds``        histogram: finish - submit (end to end)
``bakeoff_experiment_phase``           gauge: the experiment's current phase
``bakeoff_experiment_arm_killed``      gauge: 1 while the arm is killed
``bakeoff_database_up``                gauge: 0 when the scrape could not read the database
=====================================  ==========================================================

The router's submit latency is measured where it happens (:mod:`bakeoff.service.telemetry`).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from bakeoff.service.service import STATEMENTS

__all__ = ["DURATION_BUCKETS", "TrialJobsCollector", "metrics_registry"]

logger = logging.getLogger(__name__)

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
HISTOGRAMS = {
    "queue_wait": (
        "bakeoff_job_queue_wait_seconds",
        "Queue wait: the first attempt's start minus the submit.",
    ),
    "run_time": ("bakeoff_job_run_time_seconds", "Run time: the finish minus the first attempt's start."),
    "latency": ("bakeoff_job_latency_seconds", "End-to-end latency: the finish minus the submit."),
}
LABELS = ["experiment", "arm"]


class TrialJobsCollector(Collector):
    """Job counters, duration histograms and experiment gauges read from the database per scrape."""

    def __init__(self, engine: Engine, *, experiment: str | None = None) -> None:
        self.engine = engine
        self.experiment = experiment

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        params = {"experiment": self.experiment}
        try:
            with self.engine.connect() as conn:
                counts = conn.execute(STATEMENTS["job_counts"], params).all()
                buckets = conn.execute(
                    STATEMENTS["duration_buckets"], {**params, "bounds": list(DURATION_BUCKETS)}
                ).all()
                experiments = conn.execute(STATEMENTS["experiment_phases"], params).all()
        except Exception as exc:
            logger.warning("metrics scrape could not read the database: %s", type(exc).__name__)
            yield GaugeMetricFamily("bakeoff_database_up", "1 when the scrape read the database.", value=0)
            return
        yield GaugeMetricFamily("bakeoff_database_up", "1 when the scrape read the database.", value=1)
        yield from _counters(counts)
        yield from _histograms(buckets)
        yield from _experiment_gauges(experiments)


def _counters(rows: Sequence[Any]) -> Iterator[Metric]:
    families = {
        "submitted": CounterMetricFamily(
            "bakeoff_jobs_submitted", "Routed jobs, by served arm.", labels=LABELS
        ),
        "fallback": CounterMetricFamily(
            "bakeoff_jobs_fallback",
            "Jobs the assigned arm failed to take (served by the control).",
            labels=LABELS,
        ),
        "killed": CounterMetricFamily(
            "bakeoff_jobs_killed", "Jobs of a killed arm served by the control arm.", labels=LABELS
        ),
        "completed": CounterMetricFamily(
            "bakeoff_jobs_completed", "Completed jobs, by served arm.", labels=LABELS
        ),
        "failed": CounterMetricFamily(
            "bakeoff_jobs_failed",
            "Failed jobs, by served arm and error kind.",
            labels=[*LABELS, "error_kind"],
        ),
        "cancelled": CounterMetricFamily(
            "bakeoff_jobs_cancelled", "Cancelled jobs, by served arm.", labels=LABELS
        ),
    }
    totals: dict[tuple[str, ...], float] = defaultdict(float)
    for row in rows:
        served, assigned, jobs = (
            (row.experiment, row.served_arm),
            (row.experiment, row.assigned_arm),
            row.jobs,
        )
        totals[("submitted", *served)] += jobs
        if row.assignment_reason in ("fallback", "killed"):
            totals[(row.assignment_reason, *assigned)] += jobs
        if row.outcome == "failed":
            totals[("failed", *served, row.error_kind or "unknown")] += jobs
        elif row.outcome is not None:
            totals[(row.outcome, *served)] += jobs
    for (kind, *labels), value in sorted(totals.items()):
        families[kind].add_metric(labels, value)
    yield from families.values()


def _histograms(rows: Sequence[Any]) -> Iterator[Metric]:
    per_series: dict[tuple[str, str, str], tuple[list[int], float]] = {}
    for row in rows:
        counts, total = per_series.setdefault(
            (row.kind, row.experiment, row.served_arm), ([0] * (len(DURATION_BUCKETS) + 1), 0.0)
        )
        counts[int(row.bucket)] += int(row.jobs)
        per_series[(row.kind, row.experiment, row.served_arm)] = (counts, total + float(row.seconds))
    families = {
        kind: HistogramMetricFamily(name, doc, labels=LABELS) for kind, (name, doc) in HISTOGRAMS.items()
    }
    for (kind, experiment, arm), (counts, total) in sorted(per_series.items()):
        cumulative, running = [], 0
        for bound, count in zip((*DURATION_BUCKETS, math.inf), counts, strict=True):
            running += count
            cumulative.append(("+Inf" if math.isinf(bound) else repr(bound), float(running)))
        families[kind].add_metric([experiment, arm], cumulative, total)
    yield from families.values()


def _experiment_gauges(rows: Sequence[Any]) -> Iterator[Metric]:
    phase = GaugeMetricFamily(
        "bakeoff_experiment_phase", "The experiment's current phase.", labels=["experiment"]
    )
    killed = GaugeMetricFamily("bakeoff_experiment_arm_killed", "1 while the arm is killed.", labels=LABELS)
    for row in rows:
        phase.add_metric([row.name], row.phase)
        for arm in row.arms:
            killed.add_metric([row.name, arm], 1.0 if arm in row.killed_arms else 0.0)
    yield phase
    yield killed


def metrics_registry(engine: Engine, *, experiment: str | None = None) -> CollectorRegistry:
    """A registry holding only the database collector (``bakeoff worker --metrics-port``)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(TrialJobsCollector(engine, experiment=experiment))
    return registry
