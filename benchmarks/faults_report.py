"""Fault runs at the issue's full sizes, and the per-arm table: jobs run, faults, lost, duplicates, recovery.

    python benchmarks/faults_report.py [--kill-jobs 500] [--kills 20] [--restart-jobs 2000]
                                       [--burst 10000] [--arms legacy,pgboss,inngest] [--skip burst,...]
                                       [--burst-page small|mix] [--burst-legacy in-process|spawn]

* sigkill: per arm, a ``--kill-jobs`` run whose worker process group is SIGKILLed ``--kills`` times
  at random points (a fresh worker after each); recovery = longest time from a kill until every job
  it interrupted was terminal (pgboss: expiry + supervisor; inngest: step lease; legacy: never by
  itself, its orphans are reaped by ``bakeoff legacy reap`` at the end, counted in the notes).
  Each job imports a 2.3 KB article page served after 0.25 s (``/test/slow``); legacy spawns a
  Python child per job, as the current system does.
* pg_restart: ``pg_ctl restart -m fast`` of a private embedded PostgreSQL during a ``--restart-jobs``
  run on all arms; recovery = time from the restart until the arm finished a job submitted after it.
  Same jobs as sigkill (legacy spawns a child per job).
* burst: ``--burst`` submits from 8 threads, then each arm works its own share in its own forked
  worker process; the recovery column shows how long the submits took, the notes how long until
  every job was terminal. The burst proves accounting (exposures = submissions = trial jobs, all
  terminal), so by default its jobs are lighter than the other runs': every import is a real fetch,
  extraction and save of corpus page 0 (2.3 KB; ``--burst-page mix`` for the 500-page corpus mix,
  85 KB mean, ~0.1 s CPU of extraction each), and the legacy worker runs its jobs in its own process
  (the arm's ``spawn_per_job=False`` switch; ``--burst-legacy spawn`` for a child per job). With a
  child per job (~0.8 s CPU each) the legacy share of 10,000 jobs alone takes hours on a shared
  2-core machine: 0.44 legacy jobs/s was measured at load average 13. The burst row's notes name
  the choices the run made.

The load average is printed with every row; the machine is shared, so the figures move with it.
Every run uses its own fresh database (an embedded server under a temporary folder, or
``BAKEOFF_TEST_DATABASE_URL``'s server). Jobs lost and duplicate documents must print 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bakeoff.testing import TestDatabases
from bakeoff.testing.faults import (
    FaultFigures,
    format_table,
    private_server,
    progress,
    run_burst,
    run_kill_trial,
    run_restart_trial,
)

ARMS = ("legacy", "pgboss", "inngest")


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _print_row(row: FaultFigures) -> None:
    print(format_table([row]).splitlines()[-1], f"({load_average()})", flush=True)


def _kill_rows(databases: TestDatabases, arms: list[str], jobs: int, kills: int) -> list[FaultFigures]:
    rows = []
    for arm in arms:
        progress(f"sigkill {arm}: {jobs} jobs, {kills} kills ({load_average()})")
        url = databases.create()
        try:
            rows.append(run_kill_trial(url, arm, jobs=jobs, kills=kills, seed=7, deadline=3600))
        finally:
            databases.drop(url)
        _print_row(rows[-1])
    return rows


def _restart_rows(jobs: int, arms: list[str]) -> list[FaultFigures]:
    progress(f"pg_restart {','.join(arms)}: {jobs} jobs ({load_average()})")
    with tempfile.TemporaryDirectory(prefix="bk-restart-") as folder, private_server(Path(folder)) as url:
        rows = run_restart_trial(Path(folder), url, arms=arms, jobs=jobs, rate=50.0, deadline=3600)
    for row in rows:
        _print_row(row)
    return rows


def _burst_rows(
    databases: TestDatabases, submits: int, arms: list[str], *, small_page: bool, legacy_in_process: bool
) -> list[FaultFigures]:
    progress(f"burst {','.join(arms)}: {submits} submits from 8 threads ({load_average()})")
    url = databases.create()
    try:
        row = run_burst(
            url,
            submits=submits,
            threads=8,
            arms=arms,
            serve_all_with=None,
            deadline=3600,
            small_page=small_page,
            worker_processes=True,
            legacy_in_process=legacy_in_process,
        )
    finally:
        databases.drop(url)
    _print_row(row)
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
    parser.add_argument(
        "--burst-page",
        choices=("small", "mix"),
        default="small",
        help="small: every burst import fetches corpus page 0 (2.3 KB); mix: the 500-page corpus mix",
    )
    parser.add_argument(
        "--burst-legacy",
        choices=("in-process", "spawn"),
        default="in-process",
        help="how the burst's legacy worker runs each job: in its own process, or a fresh child per job",
    )
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
            rows += _burst_rows(
                databases,
                args.burst,
                arms,
                small_page=args.burst_page == "small",
                legacy_in_process=args.burst_legacy == "in-process",
            )
    finally:
        databases.close()
    print()
    print(format_table(rows))
    problems = [p for row in rows for p in row.problems()]
    print(
        f"\n{len(rows)} runs in {time.monotonic() - started:.0f} s ({load_average()}); "
        f"problems: {problems or 'none'}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
