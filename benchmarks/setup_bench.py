"""Time from an empty database to the first completed job, per arm; prints each figure.

    python benchmarks/setup_bench.py [--runs 3] [--arms legacy,pgboss,inngest]
                                     [--record-to DATABASE_URL --experiment article-import]

For each arm and run: a new empty database on the test server (BAKEOFF_TEST_DATABASE_URL, else the
embedded one); then, timed, the migrations the arm needs (the bakeoff schema and the arm's own
branch), the arm's backend and its workers, and one import routed through the router until its
trial job is completed. The article server (the workload, not the arm) starts before the clock.
With --record-to, each arm's median is stored as an observation (kind seconds_to_first_job), which
the report's setup-effort section shows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import uuid

from sqlalchemy import text

from bakeoff.analysis.setup_effort import FIRST_JOB_KIND
from bakeoff.backends import create_backend
from bakeoff.contract import ImportRequest
from bakeoff.db.engine import connect_raw, make_engine
from bakeoff.db.migrate import _MIGRATION_LOCK_KEY, alembic_config
from bakeoff.db.urls import mask_url, with_database
from bakeoff.metrics import Recorder
from bakeoff.router import Experiment, Router
from bakeoff.testing import test_server_url
from bakeoff.trial.runner import close_backends, run_arm_workers
from bakeoff.workload.article_server import ArticleServer

DEADLINE_SECONDS = 120.0


def _migrate(engine: object, arm: str) -> None:
    from alembic import command

    with engine.begin() as connection:  # type: ignore[attr-defined]
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        for target in ("bakeoff@head", f"{arm}@head"):
            command.upgrade(alembic_config(connection), target)


def _wait_completed(engine: object, trial_job_id: uuid.UUID) -> str:
    deadline = time.monotonic() + DEADLINE_SECONDS
    query = text("SELECT outcome FROM bakeoff.trial_jobs WHERE trial_job_id = :id")
    while time.monotonic() < deadline:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            outcome = conn.execute(query, {"id": trial_job_id}).scalar()
        if outcome is not None:
            return str(outcome)
        time.sleep(0.02)
    raise TimeoutError(f"the first job was not finished within {DEADLINE_SECONDS:.0f} s")


def one_run(server_url: str, arm: str, server: ArticleServer) -> tuple[float, float]:
    """(seconds to migrate, seconds from there to the first completed job) on a new database."""
    name = f"bakeoff_setup_{uuid.uuid4().hex[:12]}"
    with connect_raw(server_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(with_database(server_url, name), pool_size=4)
    try:
        started = time.perf_counter()
        _migrate(engine, arm)
        migrated = time.perf_counter()
        backend = create_backend(arm, engine, import_settings=server.import_settings())
        stop = threading.Event()
        with run_arm_workers({arm: backend}, concurrency=1, stop=stop):
            router = Router(
                engine, experiment=Experiment(name="setup", arms=(arm,), control=arm), backends={arm: backend}
            )
            submission = router.submit(ImportRequest(url=server.article_urls(1)[0]))
            outcome = _wait_completed(engine, submission.trial_job_id)
            finished = time.perf_counter()
            router.close()
        close_backends([backend])
        if outcome != "completed":
            raise RuntimeError(f"{arm}: the first job ended {outcome}, not completed")
        return migrated - started, finished - migrated
    finally:
        engine.dispose()
        with connect_raw(server_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--arms", default="legacy,pgboss,inngest")
    parser.add_argument("--record-to", default=None, help="database to store the medians in, as observations")
    parser.add_argument("--experiment", default="article-import")
    args = parser.parse_args()
    server_url = test_server_url()
    print(f"server {mask_url(server_url)}, {args.runs} runs per arm, each on a new empty database")
    medians = {}
    with ArticleServer(profile="none", seed=0) as articles:
        for arm in args.arms.split(","):
            runs = [one_run(server_url, arm, articles) for _ in range(args.runs)]
            migrate = statistics.median(r[0] for r in runs)
            first = statistics.median(r[1] for r in runs)
            total = statistics.median(r[0] + r[1] for r in runs)
            medians[arm] = (total, migrate, first)
            every = ", ".join(f"{a + b:.2f}" for a, b in runs)
            print(
                f"{arm}: empty database -> first completed job {total:.2f} s median "
                f"(migrations {migrate:.2f} s + backend, workers and one routed import {first:.2f} s); "
                f"runs: {every}"
            )
    if args.record_to:
        recorder = Recorder(make_engine(args.record_to))
        for arm, (total, migrate, first) in medians.items():
            recorder.observe(
                arm=arm,
                kind=FIRST_JOB_KIND,
                value=round(total, 3),
                note=f"median of {args.runs}: migrations {migrate:.2f} s + first job {first:.2f} s",
                recorded_by="benchmarks/setup_bench.py",
                experiment=args.experiment,
            )
        print(
            f"recorded as observations ({FIRST_JOB_KIND}) of {args.experiment} in {mask_url(args.record_to)}"
        )
    print("load average: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
