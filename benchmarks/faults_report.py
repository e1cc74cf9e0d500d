"""Fault runs at the issue's full sizes, and the per-arm table: jobs run, faults, lost, duplicates, recovery.

    python benchmarks/faults_report.py [--kill-jobs 500] [--kills 20] [--restart-jobs 2000]
                                       [--burst 10000] [--arms legacy,pgboss,inngest] [--skip burst,...]

* sigkill: per arm, a ``--kill-jobs`` run whose worker process group is SIGKILLed ``--kills`` times
  at random points (a fresh worker after each); recovery = longest time from a kill until every job
  it interrupted was terminal (pgboss: expiry + supervisor; inngest: step lease; legacy: never by
  itself, its orphans are reaped by ``bakeoff legacy reap`` at the end, counted in the notes).
* pg_restart: ``pg_ctl restart -m fast`` of a private embedded PostgreSQL during a ``--restart-jobs``
  run on all arms; recovery = time from the restart until the arm finished a job submitted after it.
* burst: ``--burst`` submits from 8 threads, each arm working its own share; the recovery column
  shows how long the submits took.

Every run uses its own fresh database (an embedded server under a temporary folder, or
``BAKEOFF_TEST_DATABASE_URL``'s server). Jobs lost and duplicate documents must print 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "faults"))

from faults_harness import (
    FaultFigures,
    format_table,
    private_server,
    run_burst,
    run_kill_trial,
    run_restart_trial,
)

from bakeoff.testing import TestDatabases

ARMS = ("legacy", "pgboss", "inngest")


def _kill_rows(databases: TestDatabases, arms: list[str], jobs: int, kills: int) -> list[FaultFigures]:
    rows = []
    for arm in arms:
        url = databases.create()
        try:
            rows.append(run_kill_trial(url, arm, jobs=jobs, kills=kills, seed=7, deadline=1800))
        finally:
            databases.drop(url)
        print(format_table(rows[-1:]).splitlines()[-1], flush=True)
    return rows


def _restart_rows(jobs: int, arms: list[str]) -> list[FaultFigures]:
    with tempfile.TemporaryDirectory(prefix="bk-restart-") as folder, private_server(Path(folder)) as url:
        rows = run_restart_trial(Path(folder), url, arms=arms, jobs=jobs, rate=50.0, deadline=1800)
    for row in rows:
        print(format_table([row]).splitlines()[-1], flush=True)
    return rows


def _burst_rows(databases: TestDatabases, submits: int, arms: list[str]) -> list[FaultFigures]:
    url = databases.create()
    try:
        row = run_burst(url, submits=submits, threads=8, arms=arms, serve_all_with=None, deadline=3600)
    finally:
        databases.drop(url)
    print(format_table([row]).splitlines()[-1], flush=True)
    return [row]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kill-jobs", type=int, default=500)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--restart-jobs", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--skip", default="", help="comma-separated: sigkill, pg_restart, burst")
    args = parser.parse_args()
    arms = [a for a in args.arms.split(",") if a]
    skip = set(args.skip.split(","))
    started = time.monotonic()
    databases = TestDatabases()
    rows: list[FaultFigures] = []
    try:
        if "sigkill" not in skip:
            rows += _kill_rows(databases, arms, args.kill_jobs, args.kills)
        if "pg_restart" not in skip:
            rows += _restart_rows(args.restart_jobs, arms)
        if "burst" not in skip:
            rows += _burst_rows(databases, args.burst, arms)
    finally:
        databases.close()
    print()
    print(format_table(rows))
    problems = [p for row in rows for p in row.problems()]
    print(f"\n{len(rows)} runs in {time.monotonic() - started:.0f} s; problems: {problems or 'none'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
