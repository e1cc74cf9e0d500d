"""`/metrics` and `bakeoff worker --metrics-port` agree with the trial_jobs table, parsed by Prometheus."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

import httpx
from prometheus_client.parser import text_string_to_metric_families
from service_support import ADMIN_TOKEN, EXPERIMENT, LiveServer, recording_arms
from sqlalchemy import Engine, text

from bakeoff.metrics import Recorder
from bakeoff.service.metrics import DURATION_BUCKETS
from bakeoff.testing import FailingBackend

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
KIND_SECONDS = {
    "bakeoff_job_queue_wait_seconds": ("started_at", "submitted_at"),
    "bakeoff_job_run_time_seconds": ("finished_at", "started_at"),
    "bakeoff_job_latency_seconds": ("finished_at", "submitted_at"),
}


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    parsed = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            parsed[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return parsed


def route_and_finish_a_mixed_trial(live: LiveServer, engine: Engine) -> None:
    """30 imports (inngest fails to enqueue, pgboss killed half way), then outcomes of every kind."""
    for i in range(30):
        if i == 15:
            assert (
                httpx.post(
                    f"{live.url}/v1/experiments/{EXPERIMENT}/arms/pgboss/kill", headers=ADMIN
                ).status_code
                == 200
            )
        assert (
            httpx.post(f"{live.url}/v1/imports", json={"url": f"https://example.com/{i}"}).status_code == 201
        )
    recorder = Recorder(engine)
    with engine.connect() as conn:
        ids = [
            row.trial_job_id
            for row in conn.execute(text("SELECT trial_job_id FROM bakeoff.trial_jobs ORDER BY url"))
        ]
    outcomes: list[tuple[str, str | None]] = [
        ("completed", None),
        ("failed", "http_5xx"),
        ("failed", "timeout"),
        ("cancelled", None),
        ("failed", "http_5xx"),
    ]
    for index, trial_job_id in enumerate(ids[:24]):
        assert recorder.attempt_started(trial_job_id, 1)
        if index % 4 != 3:  # a few stay running
            outcome, kind = outcomes[index % len(outcomes)]
            recorder.finished(trial_job_id, outcome, error_kind=kind)


def expected_from_the_database(engine: Engine) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with engine.connect() as conn:
        jobs = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM bakeoff.trial_jobs"))]
    expected: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()

    def labels(arm: str, **extra: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({"experiment": EXPERIMENT, "arm": arm, **extra}.items()))

    for job in jobs:
        expected[("bakeoff_jobs_submitted_total", labels(job["served_arm"]))] += 1
        if job["assignment_reason"] in ("fallback", "killed"):
            expected[(f"bakeoff_jobs_{job['assignment_reason']}_total", labels(job["assigned_arm"]))] += 1
        if job["outcome"] == "failed":
            expected[
                ("bakeoff_jobs_failed_total", labels(job["served_arm"], error_kind=job["error_kind"]))
            ] += 1
        elif job["outcome"]:
            expected[(f"bakeoff_jobs_{job['outcome']}_total", labels(job["served_arm"]))] += 1
        for name, (end, start) in KIND_SECONDS.items():
            if job[end] is None or job[start] is None:
                continue
            seconds = (job[end] - job[start]).total_seconds()
            expected[(f"{name}_count", labels(job["served_arm"]))] += 1
            for bound in (*DURATION_BUCKETS, math.inf):
                le = "+Inf" if math.isinf(bound) else repr(bound)
                if seconds <= bound:
                    expected[(f"{name}_bucket", labels(job["served_arm"], le=le))] += 1
    return dict(expected)


def test_metrics_agree_with_the_database(serve: Callable[..., LiveServer], engine: Engine) -> None:
    arms = {**recording_arms(engine), "inngest": FailingBackend("inngest", engine)}
    live = serve(backends=arms)
    route_and_finish_a_mixed_trial(live, engine)

    scraped = samples(httpx.get(f"{live.url}/metrics").text)

    expected = expected_from_the_database(engine)
    assert {name for name, _ in expected} >= {
        "bakeoff_jobs_submitted_total",
        "bakeoff_jobs_fallback_total",
        "bakeoff_jobs_killed_total",
        "bakeoff_jobs_completed_total",
        "bakeoff_jobs_failed_total",
        "bakeoff_jobs_cancelled_total",
        "bakeoff_job_latency_seconds_bucket",
    }
    for key, value in expected.items():
        assert scraped.get(key) == value, key
    job_series = {
        k: v
        for k, v in scraped.items()
        if k[0].startswith(("bakeoff_jobs_", "bakeoff_job_")) and not k[0].endswith(("_sum", "_created"))
    }
    assert {k for k, v in job_series.items() if v} == {k for k, v in expected.items() if v}
    phase = ("bakeoff_experiment_phase", (("experiment", EXPERIMENT),))
    assert scraped[phase] == 1
    assert scraped[("bakeoff_experiment_arm_killed", (("arm", "pgboss"), ("experiment", EXPERIMENT)))] == 1
    submits = sum(v for (name, _), v in scraped.items() if name == "bakeoff_router_submit_seconds_count")
    assert submits == 30
    assert scraped[("bakeoff_database_up", ())] == 1


def _worker_metrics_url(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        if line.startswith("{") and json.loads(line).get("event") == "worker_started":
            url: str = json.loads(line)["metrics_url"]
            return url
    raise AssertionError("bakeoff worker did not start")


def test_bakeoff_worker_serves_the_same_metrics(live: LiveServer, engine: Engine, database_url: str) -> None:
    for i in range(5):
        created = httpx.post(f"{live.url}/v1/imports", json={"url": f"https://example.com/w{i}"}).json()
        Recorder(engine).attempt_started(UUID(created["trial_job_id"]), 1)
        Recorder(engine).finished(UUID(created["trial_job_id"]), "completed")
    env: dict[str, Any] = {**os.environ, "BAKEOFF_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bakeoff",
            "worker",
            "--arms",
            "pgboss",
            "--concurrency",
            "1",
            "--metrics-port",
            "0",
        ],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        scraped = samples(httpx.get(_worker_metrics_url(process, time.monotonic() + 60), timeout=30).text)
        expected = expected_from_the_database(engine)
        for key, value in expected.items():
            assert scraped.get(key) == value, key
        assert not any(name.startswith("bakeoff_router_submit") for name, _ in scraped)  # it routes nothing
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
