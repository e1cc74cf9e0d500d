"""Dashboard benchmark: each page's server time with 100,000 trial jobs in the database.

Fills a fresh database (the test server: embedded PostgreSQL by default, or
``BAKEOFF_TEST_DATABASE_URL``) with one experiment of ``--jobs`` finished trial jobs spread over 30
days and the three arms (about 5% failed, lognormal latencies, four events each), ANALYZEs it, then
requests every page of ``/ui`` through the real application in this process (Starlette's test
client: no network, so the time is the server's) once, then ``--runs`` times, and prints the first
visit's time and the p50 and max of the others against the 300 ms target (the checks page keeps
its sections for 30 s and then refreshes them in the background: its first visit measures them,
the later ones show them). Never part of the test run.

    python benchmarks/dashboard_bench.py [--jobs 100000] [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from fastapi.testclient import TestClient
from sqlalchemy import text
from timing import percentile

from bakeoff.contract import ARM_NAMES
from bakeoff.db.engine import make_engine
from bakeoff.db.urls import mask_url
from bakeoff.router import Experiment, ExperimentStore
from bakeoff.service import ServiceSettings
from bakeoff.service.app import create_app
from bakeoff.service.service import build_service
from bakeoff.testing import RecordingBackend, TestDatabases, ensure_router_fake_jobs

EXPERIMENT = "dashboard-bench"
TARGET_MS = 300.0

FILL_JOBS = """
INSERT INTO bakeoff.trial_jobs (trial_job_id, experiment, phase, unit_key, assigned_arm, served_arm,
    assignment_reason, backend_job_id, url, submitted_at, enqueued_at, started_at, finished_at, attempts,
    outcome, error_kind)
SELECT gen_random_uuid(), :experiment, 1, 'user-' || (i % 5000), arm, arm, 'hash', 'job-' || i,
       'http://articles.test/articles/' || i, t, t + interval '20 ms', t + interval '200 ms',
       t + make_interval(secs => 0.2 + exp(ln(0.8) + 0.6 * sqrt(-2 * ln(random()))
                                                       * cos(2 * pi() * random()))),
       1 + (i % 20 = 0)::int, CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'completed' END,
       CASE WHEN i % 20 = 0 THEN 'http_5xx' END
FROM (SELECT i, (ARRAY['legacy', 'pgboss', 'inngest'])[1 + i % 3] AS arm,
             now() - make_interval(secs => random() * 30 * 86400) AS t
      FROM generate_series(1, :jobs) AS i) AS jobs
"""

FILL_EVENTS = """
INSERT INTO bakeoff.job_events (trial_job_id, event, at)
SELECT trial_job_id, e.event, submitted_at + e.offset_
FROM bakeoff.trial_jobs,
     (VALUES ('submitted', interval '0'), ('enqueued', interval '20 ms'),
             ('attempt_started', interval '200 ms'), ('finished', interval '1 s')) AS e(event, offset_)
WHERE experiment = :experiment
"""


def fill(url: str, jobs: int) -> str:
    """The experiment with ``jobs`` finished jobs and their events; returns one job's id."""
    engine = make_engine(url, pool_size=2)
    try:
        ensure_router_fake_jobs(engine)
        ExperimentStore(engine).create(Experiment(name=EXPERIMENT))
        with engine.begin() as conn:
            conn.execute(text(FILL_JOBS), {"experiment": EXPERIMENT, "jobs": jobs})
            conn.execute(text(FILL_EVENTS), {"experiment": EXPERIMENT})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
            return str(
                conn.execute(
                    text("SELECT trial_job_id FROM bakeoff.trial_jobs WHERE experiment = :e LIMIT 1"),
                    {"e": EXPERIMENT},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def time_pages(url: str, job_id: str, runs: int) -> list[tuple[str, float, list[float]]]:
    engine = make_engine(url, pool_size=4)
    service = build_service(
        engine,
        ServiceSettings(experiment=EXPERIMENT),
        backends={arm: RecordingBackend(arm, engine) for arm in ARM_NAMES},
    )
    pages = [
        "/ui",
        "/ui/overview/live",
        "/ui/jobs",
        "/ui/jobs?url=articles/4242",
        "/ui/jobs?arm=pgboss&outcome=failed&error_kind=http_5xx",
        "/ui/jobs?page=500",
        "/ui/jobs.csv?arm=legacy&outcome=failed",
        f"/ui/jobs/{job_id}",
        "/ui/stuck",
        "/ui/checks",
    ]
    results = []
    try:
        with TestClient(create_app(service, owns_service=True)) as client:
            for page in pages:
                started = time.perf_counter()
                assert client.get(page).status_code == 200, page  # the first visit, and the page must work
                first = (time.perf_counter() - started) * 1000
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    response = client.get(page)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, page
                results.append((page, first, times))
    finally:
        engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="finished trial jobs in the experiment")
    parser.add_argument("--runs", type=int, default=10, help="timed requests per page")
    args = parser.parse_args()
    databases = TestDatabases()
    print(f"server: {mask_url(databases.server_url)}; load average {os.getloadavg()}")
    try:
        with databases.scratch() as url:
            started = time.perf_counter()
            job_id = fill(url, args.jobs)
            took = time.perf_counter() - started
            print(f"filled {args.jobs:,} trial jobs and {4 * args.jobs:,} events in {took:.1f} s")
            worst = 0.0
            for page, first, times in time_pages(url, job_id, args.runs):
                worst = max(worst, statistics.median(times))
                p50, worst_run = statistics.median(times), percentile(times, 1.0)
                print(f"{page:54s} first {first:7.1f} ms   p50 {p50:7.1f} ms   max {worst_run:7.1f} ms")
            verdict = "met" if worst <= TARGET_MS else "missed"
            print(f"slowest page p50 {worst:.1f} ms (target <= {TARGET_MS:.0f} ms: {verdict})")
    finally:
        databases.close()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
