"""Fault runs at the issue's full sizes, and the per-arm table: jobs run, faults, lost, duplicates, recovery.

    python benchmarks/faults_report.py [--kill-jobs 500] [--kills 20] [--restart-jobs 2000]
                                       [--burst 10000] [--arms legacy,pgboss,inngest] [--skip burst,...]
                                       [--burst-page small|mix] [--burst-legacy in-process|spawn]
                                       [--multihost-jobs 1200] [--cut-seconds 60]
                                       [--service-clients 200] [--service-seconds 60]

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
* multihost_*: three worker hosts as network namespaces (``bakeoff.testing.netns``; needs root),
  each running every arm's workers against one private embedded PostgreSQL, ``--multihost-jobs``
  imports routed over the three arms; the fault once a quarter of them are terminal:
  ``link_cut`` (host 1's veth down for ``--cut-seconds``, then up), ``host_killed`` (host 2's
  worker process group SIGKILLed, never restarted), ``latency_loss`` (200 ms and 1% loss on what
  host 3 sends, whole run; emulated in a userspace relay, netem is not in this kernel),
  ``pg_restart`` (``pg_ctl restart -m fast`` with all hosts connected). recovery = time from the
  fault until every job of the arm in flight at that moment was terminal (legacy after a kill: until
  ``bakeoff legacy reap``, which must list exactly the killed host's RUNNING rows). The legacy
  worker runs its jobs in its own process (no child per job), as in the burst.
* service: ``--service-clients`` asyncio clients posting imports for ``--service-seconds`` through
  ``bakeoff serve --workers 2`` (``bakeoff.testing.service_load``), once as is and once with one
  uvicorn worker process SIGKILLed halfway; prints p50/p99, 5xx, retries and the accounting.

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
from bakeoff.testing.netns import SCENARIOS, private_network_server, run_multihost
from bakeoff.testing.service_load import ServiceLoadFigures, run_service_load

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


def _multihost_rows(jobs: int, cut_seconds: float) -> list[FaultFigures]:
    rows = []
    for scenario in SCENARIOS:
        progress(f"multihost {scenario}: {jobs} jobs on three hosts ({load_average()})")
        with (
            tempfile.TemporaryDirectory(prefix="bk-mh-") as folder,
            private_network_server(Path(folder)) as url,
        ):
            found = run_multihost(
                Path(folder),
                url,
                scenario,
                jobs=jobs,
                cut_seconds=cut_seconds,
                deadline=3600,
                drain_seconds=60,
            )
        for row in found:
            _print_row(row)
        rows += found
    return rows


def _service_rows(databases: TestDatabases, clients: int, seconds: float) -> list[ServiceLoadFigures]:
    rows = []
    for kill in (False, True):
        progress(f"service: {clients} clients for {seconds:.0f} s, kill={kill} ({load_average()})")
        url = databases.create()
        try:
            rows.append(run_service_load(url, clients=clients, seconds=seconds, kill_one_process=kill))
        finally:
            databases.drop(url)
        print(f"service load: {rows[-1].row()} ({load_average()})", flush=True)
    return rows


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
    parser.add_argument("--multihost-jobs", type=int, default=1200)
    parser.add_argument("--cut-seconds", type=float, default=60.0)
    parser.add_argument("--service-clients", type=int, default=200)
    parser.add_argument("--service-seconds", type=float, default=60.0)
    parser.add_argument(
        "--skip", default="", help="comma-separated: sigkill, pg_restart, burst, multihost, service"
    )
    args = parser.parse_args()
    arms = [a for a in args.arms.split(",") if a]
    skip = set(args.skip.split(","))
    started = time.monotonic()
    databases = TestDatabases()
    rows: list[FaultFigures] = []
    service: list[ServiceLoadFigures] = []
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
        if "multihost" not in skip:
            rows += _multihost_rows(args.multihost_jobs, args.cut_seconds)
        if "service" not in skip:
            service = _service_rows(databases, args.service_clients, args.service_seconds)
    finally:
        databases.close()
    print()
    print(format_table(rows))
    for figures in service:
        print(f"\nservice load: {figures.row()}")
    problems = [p for row in rows for p in row.problems()] + [p for f in service for p in f.problems()]
    print(
        f"\n{len(rows)} runs in {time.monotonic() - started:.0f} s ({load_average()}); "
        f"problems: {problems or 'none'}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
