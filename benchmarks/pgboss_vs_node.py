"""Our pg-boss port against the real pg-boss 12 in Node: the same five workloads, same PostgreSQL, one run.

Workloads (issue 6), each on its own queue, each run first by the real pg-boss (pinned in
``src/bakeoff/testing/node``, installed from the npm registry into the user cache if needed; one Node process
per workload, its start-up not timed) and right after by ``bakeoff.backends.pgboss.PgBoss``, so load that
drifts during the run hits both alike. Each implementation has its own schema of one fresh database on the
test server (``BAKEOFF_TEST_DATABASE_URL`` or the embedded PostgreSQL):

1. one-by-one ``send`` of N jobs (each awaited before the next), jobs/s;
2. one bulk ``insert`` of N jobs, jobs/s;
3. draining N jobs with ``fetch`` + ``complete`` at batch size 1, one loop, jobs/s;
4. the same at batch size 100, jobs/s;
5. pickup latency of a job sent to an idle ``work()`` worker with LISTEN/NOTIFY on (both sides:
   ``useListenNotify`` / ``use_listen_notify`` and queue ``notify``), from just before ``send`` to the
   handler's first line, p50 and p95 over ``--samples`` jobs sent at random phases.

Prints a table with each figure and the ratio ours/theirs (target: throughput ratio >= 1.0, latency
ratio <= 1.0). Usage::

    python benchmarks/pgboss_vs_node.py [--jobs 10000] [--samples 30] [--only insert [--only send ...]]

``--only`` runs just the named workloads (send, insert, drain1, drain100, pickup), each still on both sides.
The load average (1, 5, 15 min) is printed before and after the run, since the figures move with it.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from bakeoff.backends.pgboss import Job, PgBoss
from bakeoff.testing import TestDatabases
from bakeoff.testing.pgboss_node import ensure_runtime, node_connection, run_script

QUEUES = ("send", "insert", "drain1", "drain100", "pickup")
PICKUP_TIMEOUT_SECONDS = 30.0


def _rate(jobs: int, work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return jobs / (time.perf_counter() - started)


def _drain(boss: PgBoss, queue: str, batch_size: int, jobs: int) -> None:
    drained = 0
    while fetched := boss.fetch(queue, batch_size):
        boss.complete(queue, [job.id for job in fetched])
        drained += len(fetched)
    if drained != jobs:
        raise RuntimeError(f"drained {drained} of {jobs}")


def _pickup_latencies(boss: PgBoss, samples: int) -> list[float]:
    latencies: list[float] = []
    picked = threading.Event()
    sent_at = [0.0]

    def handler(jobs: list[Job]) -> None:
        latencies.append((time.perf_counter() - sent_at[0]) * 1000)
        picked.set()

    work_id = boss.work("pickup", handler)
    time.sleep(0.5)
    try:
        for index in range(samples):
            # An idle worker: wait a varying while so the send lands at a random phase of its poll cycle.
            time.sleep(0.05 + random.random() * 0.15)
            picked.clear()
            sent_at[0] = time.perf_counter()
            boss.send("pickup", {"i": index})
            if not picked.wait(PICKUP_TIMEOUT_SECONDS):
                raise RuntimeError(f"job {index} was not picked up within {PICKUP_TIMEOUT_SECONDS} s")
    finally:
        boss.off_work("pickup", id=work_id)
    return latencies


WORKLOADS = ("send_per_s", "insert_per_s", "drain_batch_1_per_s", "drain_batch_100_per_s", "pickup_ms")
"""The five figures, in the order they are measured."""

SHORT_NAMES = dict(zip(QUEUES, WORKLOADS, strict=True))
"""``--only`` names: the workload's queue name."""


def _ours(boss: PgBoss, workload: str, jobs: int, samples: int) -> Any:
    payloads = [{"data": {"i": i}} for i in range(jobs)]
    if workload == "send_per_s":
        return _rate(jobs, lambda: [boss.send("send", {"i": i}) for i in range(jobs)])
    if workload == "insert_per_s":
        return _rate(jobs, lambda: boss.insert("insert", payloads))
    if workload == "pickup_ms":
        return _pickup_latencies(boss, samples)
    queue, batch_size = ("drain1", 1) if workload == "drain_batch_1_per_s" else ("drain100", 100)
    boss.insert(queue, payloads)
    return _rate(jobs, lambda: _drain(boss, queue, batch_size, jobs))


def _theirs(url: str, workload: str, jobs: int, samples: int) -> Any:
    payload = {
        "connection": node_connection(url),
        "schema": "bench_theirs",
        "jobs": jobs,
        "latency_samples": samples,
        "workloads": [workload],
    }
    return run_script(ensure_runtime(), "bench.mjs", payload, timeout=1800)[workload]


def run_both(
    url: str, jobs: int, samples: int, workloads: tuple[str, ...] = WORKLOADS
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each workload on the real pg-boss, then at once on our port, so drifting load hits both alike."""
    boss = PgBoss(url, schema="bench_ours", supervise=False, schedule=False, use_listen_notify=True)
    boss.start()
    ours: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    try:
        for queue in QUEUES:
            boss.create_queue(queue, notify=True)
        for workload in workloads:
            theirs[workload] = _theirs(url, workload, jobs, samples)
            ours[workload] = _ours(boss, workload, jobs, samples)
    finally:
        boss.stop(graceful=True, timeout=5)
    return ours, theirs


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


RATE_LABELS = {
    "send_per_s": "send one-by-one (jobs/s)",
    "insert_per_s": "insert bulk (jobs/s)",
    "drain_batch_1_per_s": "fetch+complete batch 1 (jobs/s)",
    "drain_batch_100_per_s": "fetch+complete batch 100 (jobs/s)",
}


def _rows(ours: dict[str, Any], theirs: dict[str, Any]) -> list[tuple[str, float, float, str]]:
    rows = [(label, ours[key], theirs[key], ">= 1.0") for key, label in RATE_LABELS.items() if key in ours]
    if "pickup_ms" in ours:
        for q in (50, 95):
            rows.append(
                (
                    f"pickup latency p{q} (ms)",
                    _percentile(ours["pickup_ms"], q),
                    _percentile(theirs["pickup_ms"], q),
                    "<= 1.0",
                )
            )
    return rows


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def print_table(
    ours: dict[str, Any], theirs: dict[str, Any], *, jobs: int, samples: int, pgboss_version: str
) -> None:
    """The figures and ratios, one row per workload."""
    print(f"pg-boss {pgboss_version} (Node) vs bakeoff's port; {jobs} jobs a workload, {samples} pickups")
    print(f"{'workload':<36} {'ours':>12} {'pg-boss':>12} {'ours/theirs':>12}  target")
    for label, mine, other, target in _rows(ours, theirs):
        print(f"{label:<36} {mine:>12.1f} {other:>12.1f} {mine / other:>12.2f}  {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--only", action="append", choices=QUEUES, help="run only this workload (repeatable)")
    args = parser.parse_args()
    workloads = tuple(SHORT_NAMES[name] for name in QUEUES if name in (args.only or QUEUES))
    logging.basicConfig(level=logging.WARNING)
    databases = TestDatabases()
    url = databases.create()
    load_before = _load()
    try:
        ours, theirs = run_both(url, args.jobs, args.samples, workloads)
    finally:
        databases.drop(url)
        databases.close()
    version = ensure_runtime().pgboss_version
    print_table(ours, theirs, jobs=args.jobs, samples=args.samples, pgboss_version=version)
    print(f"load average (1/5/15 min): {load_before} before, {_load()} after")


if __name__ == "__main__":
    main()
