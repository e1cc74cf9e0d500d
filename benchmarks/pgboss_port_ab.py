"""The pg-boss port against an earlier revision of itself: fetch+complete drains in alternating runs.

``pgboss_vs_node.py`` sets the port beside the real pg-boss; this one measures what a change to the
port did. On a shared machine a drain's rate swings by a fifth from one run to the next, more than most
single changes are worth, so the two revisions take turns many times and the printed ratio is the
median of the ratios of each pair of runs.

``--base`` (a git revision) is checked out into a temporary worktree. Each run is a fresh Python
process that imports ``bakeoff`` from that worktree's ``src`` or from this checkout's, drains
``--jobs`` prefilled jobs of a fresh queue (filled, then analysed: the ``fresh`` condition of
``pgboss_vs_node.py``) with ``fetch`` + ``complete`` at ``--batch`` on ``--loops`` threads, and reports
jobs/s and the CPU milliseconds per batch of its own process and of the PostgreSQL backends serving it
(by ``application_name`` from ``/proc``; ``-`` when the server runs elsewhere). Each revision has its
own schema, so a change to the install script cannot meet the other's tables. Usage::

    python benchmarks/pgboss_port_ab.py --base REV [--jobs 20000] [--batch 100] [--loops 1] [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
CHECKOUT = HERE.parent.parent
QUEUE = "ab-drain"


def drain_once(url: str, schema: str, jobs: int, batch: int, loops: int) -> dict[str, Any]:
    """One drain in this process (run by ``--drain-once`` with the revision's ``src`` on the path).

    The drain, the statements around it and the CPU readings are ``pgboss_vs_node.py``'s own.
    """
    import psycopg
    from pgboss_vs_node import Cell, _client_seconds, _drain, _server_seconds, _server_ticks, _statements

    from bakeoff.backends.pgboss import PgBoss

    app = f"ab-{os.getpid()}"
    sql = _statements(schema)
    boss = PgBoss(url, schema=schema, supervise=False, schedule=False, application_name=app)
    boss.start()
    try:
        with psycopg.connect(boss.db.url, autocommit=True) as admin:
            admin.execute(sql["truncate_jobs"])
            if boss.get_queue(QUEUE) is None:
                boss.create_queue(QUEUE)
            boss.insert(QUEUE, [{"data": {"i": i}} for i in range(jobs)])
            admin.execute(sql["analyze_jobs"])
            cell = Cell("ab", "fetch+complete", "drain", loops, batch)
            client_before, ticks_before = _client_seconds(), _server_ticks(admin, app)
            started = time.perf_counter()
            drained = _drain(boss, QUEUE, cell)
            seconds = time.perf_counter() - started
            client = _client_seconds() - client_before
            server = _server_seconds(ticks_before, _server_ticks(admin, app))
    finally:
        boss.stop(graceful=True, timeout=5)
    if drained != jobs:
        raise RuntimeError(f"drained {drained} of {jobs} jobs")
    batches = jobs / batch
    return {
        "rate": jobs / seconds,
        "client_ms": client / batches * 1000,
        "server_ms": None if server is None else server / batches * 1000,
    }


def _run(src: Path, url: str, schema: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, str(HERE), "--drain-once", url, schema]
    command += ["--jobs", str(args.jobs), "--batch", str(args.batch), "--loops", str(args.loops)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def _summary(runs: list[dict[str, Any]]) -> str:
    rates = [run["rate"] for run in runs]
    client = statistics.median(run["client_ms"] for run in runs)
    servers = [run["server_ms"] for run in runs if run["server_ms"] is not None]
    server = f"{statistics.median(servers):.2f}" if servers else "-"
    return (
        f"{statistics.median(rates):>9.0f} jobs/s ({min(rates):.0f}-{max(rates):.0f}), "
        f"cpu per batch: client {client:.2f} ms, server {server} ms"
    )


def compare(args: argparse.Namespace) -> None:
    from bakeoff.testing import TestDatabases

    databases = TestDatabases()
    url = databases.create()
    with tempfile.TemporaryDirectory(prefix="pgboss-ab-") as scratch:
        worktree = Path(scratch) / "base"
        subprocess.run(
            ["git", "-C", str(CHECKOUT), "worktree", "add", "--detach", "-q", str(worktree), args.base],
            check=True,
        )
        sides = {"base": (worktree / "src", "ab_base"), "this": (CHECKOUT / "src", "ab_this")}
        results: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        try:
            for run in range(args.runs):
                order = list(sides) if run % 2 == 0 else list(reversed(sides))
                for side in order:
                    src, schema = sides[side]
                    results[side].append(_run(src, url, schema, args))
        finally:
            subprocess.run(["git", "-C", str(CHECKOUT), "worktree", "remove", "--force", str(worktree)])
            databases.drop(url)
            databases.close()
    pairs = zip(results["this"], results["base"], strict=True)
    ratios = [this["rate"] / base["rate"] for this, base in pairs]
    print(f"drain of {args.jobs} jobs, batch {args.batch}, {args.loops} loop(s), {args.runs} runs a side")
    print(f"base ({args.base}): {_summary(results['base'])}")
    print(f"this checkout:  {_summary(results['this'])}")
    print(
        f"this/base, median of the paired runs: {statistics.median(ratios):.3f} "
        f"({min(ratios):.2f}-{max(ratios):.2f})"
    )
    print(f"load average (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="the git revision to compare with (default HEAD)")
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs a drain (default 20000)")
    parser.add_argument("--batch", type=int, default=100, help="fetch batch size (default 100)")
    parser.add_argument("--loops", type=int, default=1, help="concurrent drain loops (default 1)")
    parser.add_argument("--runs", type=int, default=10, help="drains per revision (default 10)")
    parser.add_argument("--drain-once", nargs=2, metavar=("URL", "SCHEMA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.jobs, args.batch, args.loops, args.runs) < 1:
        parser.error("--jobs, --batch, --loops and --runs must be >= 1")
    if args.drain_once:
        url, schema = args.drain_once
        print(json.dumps(drain_once(url, schema, args.jobs, args.batch, args.loops)))
    else:
        compare(args)


if __name__ == "__main__":
    main()
