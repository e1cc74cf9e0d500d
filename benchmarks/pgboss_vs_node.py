"""Our pg-boss port against the real pg-boss 12 in Node: a fair matrix, both sides measured in one run.

Every cell runs on a fresh queue in an emptied job table, on both sides (each side has its own schema
of one database on the test server, ``BAKEOFF_TEST_DATABASE_URL`` or the embedded PostgreSQL), in one
of two stated conditions:

- ``fresh``: the queue is filled, then the job table is analysed (statistics match the table);
- ``stale``: the table is analysed while empty, then filled (as autovacuum leaves it before a burst).

Autovacuum is off on the job table during the run, so the statistics a cell took are the ones it runs
with. Cells (``--only`` names):

- ``send``: N jobs sent one by one, each awaited; ``insert``: one bulk insert of N jobs;
- ``drain1``, ``drain1x4``, ``drain1x8``: draining N prefilled jobs with fetch + complete, batch 1, on
  1, 4 or 8 concurrent loops; ``drain100``, ``drain100x4``: the same at batch 100 on 1 or 4 loops;
- ``work``: ``work()`` on N prefilled jobs with a no-op handler, local concurrency 4, batches of 10,
  burst when the batch is full (pg-boss ``burstWhenBatchFull``);
- ``pickup``: latency from just before ``send`` to the first line of an idle ``work()`` handler with
  LISTEN/NOTIFY on, p50 and p95 over ``--samples`` sends at random phases (100: the p95 of 30, the
  second-highest sample, swung its ratio between 0.56 and 1.13 from run to run).

Each cell runs ``--runs`` times (3) per condition; the side that goes first alternates from run to run
(and from cell to cell). The real pg-boss runs in a fresh Node process per run (pinned in
``src/bakeoff/testing/node``, its start-up and prefill not timed); ours in a fresh ``PgBoss`` in this
process. Printed per cell: the median of each side's figure, the median ratio ours/theirs with its
min-max over the runs, and the CPU seconds per 1,000 jobs each side spent in the timed part: the
client process (``getrusage`` here, ``process.cpuUsage`` in Node) and the PostgreSQL backends serving
that side's connections (found by ``application_name``, read from ``/proc/<pid>/stat``; needs the
server on this machine, else ``-``). The load average is printed before and after. Usage::

    python benchmarks/pgboss_vs_node.py [--jobs 5000] [--samples 100] [--runs 3]
        [--only drain1 [--only work ...]] [--condition fresh|stale]

The statements run around each cell are in ``benchmarks/pgboss_vs_node.sql``.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import resource
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bakeoff.backends.pgboss import Job, PgBoss
from bakeoff.backends.pgboss.store import validate_schema_name
from bakeoff.db.sql import parse_queries, pyformat
from bakeoff.testing import TestDatabases
from bakeoff.testing.pgboss_node import ensure_runtime, node_connection, run_script

PICKUP_TIMEOUT_SECONDS = 30.0
DONE_TIMEOUT_SECONDS = 600.0
OURS_SCHEMA, THEIRS_SCHEMA = "bench_ours", "bench_theirs"
OURS_APP, THEIRS_APP = "bench-ours", "bench-theirs"
CONDITIONS = ("fresh", "stale")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SQL = parse_queries((Path(__file__).with_suffix(".sql")).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Cell:
    """One workload shape: what runs, how many loops, what batch size."""

    key: str
    label: str
    workload: str
    concurrency: int = 1
    batch_size: int = 1

    @property
    def is_latency(self) -> bool:
        return self.workload == "pickup"


CELLS = (
    Cell("send", "send one-by-one", "send"),
    Cell("insert", "insert bulk", "insert"),
    Cell("drain1", "fetch+complete c1 b1", "drain", 1, 1),
    Cell("drain1x4", "fetch+complete c4 b1", "drain", 4, 1),
    Cell("drain1x8", "fetch+complete c8 b1", "drain", 8, 1),
    Cell("drain100", "fetch+complete c1 b100", "drain", 1, 100),
    Cell("drain100x4", "fetch+complete c4 b100", "drain", 4, 100),
    Cell("work", "work() c4 b10 burst", "work", 4, 10),
    Cell("pickup", "pickup latency", "pickup"),
)
PREFILLED = frozenset({"drain", "work"})


@dataclass(frozen=True)
class Figures:
    """One side's result of one run of one cell."""

    value: Any  # jobs/s, or the pickup latencies in ms
    jobs: int
    client_cpu_s: float
    server_cpu_s: float | None


def _statements(schema: str) -> dict[str, str]:
    validate_schema_name(schema)
    return {name: text.replace("__SCHEMA__", schema) for name, text in SQL.items()}


def _server_ticks(conn: psycopg.Connection[Any], app: str) -> dict[int, int]:
    ticks: dict[int, int] = {}
    for (pid,) in conn.execute(pyformat(SQL["backend_pids"]), {"app": app}).fetchall():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def _server_seconds(before: dict[int, int], after: dict[int, int]) -> float | None:
    if not after:
        return None
    # A backend that connected during the timed part (a pool growing) counts from zero.
    return sum(value - before.get(pid, 0) for pid, value in after.items()) / CLOCK_TICKS


def _client_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- our side


def _drain_loop(boss: PgBoss, queue: str, batch_size: int, counts: list[int]) -> None:
    drained = 0
    while fetched := boss.fetch(queue, batch_size):
        boss.complete(queue, [job.id for job in fetched])
        drained += len(fetched)
    counts.append(drained)


def _drain(boss: PgBoss, queue: str, cell: Cell) -> int:
    counts: list[int] = []
    loops = [
        threading.Thread(target=_drain_loop, args=(boss, queue, cell.batch_size, counts))
        for _ in range(cell.concurrency)
    ]
    for loop in loops:
        loop.start()
    for loop in loops:
        loop.join()
    return sum(counts)


def _work(boss: PgBoss, queue: str, cell: Cell, jobs: int) -> int:
    handled = [0]
    lock = threading.Lock()
    finished = threading.Event()

    def handler(batch: list[Job]) -> None:
        with lock:
            handled[0] += len(batch)
            if handled[0] >= jobs:
                finished.set()

    boss.work(
        queue,
        handler,
        batch_size=cell.batch_size,
        local_concurrency=cell.concurrency,
        burst_when_batch_full=True,
    )
    if not finished.wait(DONE_TIMEOUT_SECONDS):
        raise RuntimeError(f"work(): {handled[0]} of {jobs} jobs handled in {DONE_TIMEOUT_SECONDS} s")
    boss.off_work(queue, wait=True)
    return handled[0]


def _pickup_latencies(boss: PgBoss, queue: str, samples: int) -> list[float]:
    latencies: list[float] = []
    picked = threading.Event()
    sent_at = [0.0]

    def handler(jobs: list[Job]) -> None:
        latencies.append((time.perf_counter() - sent_at[0]) * 1000)
        picked.set()

    boss.work(queue, handler)
    time.sleep(0.5)
    try:
        for index in range(samples):
            # An idle worker: wait a varying while so the send lands at a random phase of its poll cycle.
            time.sleep(0.05 + random.random() * 0.15)
            picked.clear()
            sent_at[0] = time.perf_counter()
            boss.send(queue, {"i": index})
            if not picked.wait(PICKUP_TIMEOUT_SECONDS):
                raise RuntimeError(f"job {index} was not picked up within {PICKUP_TIMEOUT_SECONDS} s")
    finally:
        boss.off_work(queue, wait=True)
    return latencies


def _timed_part(boss: PgBoss, queue: str, cell: Cell, jobs: int, samples: int) -> Callable[[], Any]:
    if cell.workload == "send":
        return lambda: [boss.send(queue, {"i": i}) for i in range(jobs)] and jobs
    if cell.workload == "insert":
        payloads = [{"data": {"i": i}} for i in range(jobs)]
        return lambda: boss.insert(queue, payloads) or jobs
    if cell.workload == "drain":
        return lambda: _drain(boss, queue, cell)
    if cell.workload == "work":
        return lambda: _work(boss, queue, cell, jobs)
    return lambda: _pickup_latencies(boss, queue, samples)


def run_ours(url: str, cell: Cell, condition: str, queue: str, jobs: int, samples: int) -> Figures:
    """One run of ``cell`` on our port, in a fresh instance on an emptied job table."""
    sql = _statements(OURS_SCHEMA)
    boss = PgBoss(
        url,
        schema=OURS_SCHEMA,
        supervise=False,
        schedule=False,
        use_listen_notify=True,
        application_name=OURS_APP,
    )
    boss.start()
    try:
        with psycopg.connect(boss.db.url, autocommit=True, application_name="bench-admin") as admin:
            admin.execute(sql["keep_statistics"])
            admin.execute(sql["truncate_jobs"])
            boss.create_queue(queue, notify=True)
            if condition == "stale":
                admin.execute(sql["analyze_jobs"])
            if cell.workload in PREFILLED:
                boss.insert(queue, [{"data": {"i": i}} for i in range(jobs)])
            if condition == "fresh":
                admin.execute(sql["analyze_jobs"])
            timed = _timed_part(boss, queue, cell, jobs, samples)
            client_before, ticks_before = _client_seconds(), _server_ticks(admin, OURS_APP)
            started = time.perf_counter()
            result = timed()
            seconds = time.perf_counter() - started
            client = _client_seconds() - client_before
            server = _server_seconds(ticks_before, _server_ticks(admin, OURS_APP))
    finally:
        boss.stop(graceful=True, timeout=5)
    if cell.is_latency:
        return Figures(result, samples, client, server)
    if result != jobs:
        raise RuntimeError(f"{cell.key}: {result} of {jobs} jobs")
    return Figures(jobs / seconds, jobs, client, server)


# ---------------------------------------------------------------- their side


def run_theirs(url: str, cell: Cell, condition: str, queue: str, jobs: int, samples: int) -> Figures:
    """One run of ``cell`` on the real pg-boss, in a fresh Node process."""
    sql = _statements(THEIRS_SCHEMA)
    payload = {
        "connection": node_connection(url),
        "schema": THEIRS_SCHEMA,
        "application_name": THEIRS_APP,
        "queue": queue,
        "workload": cell.workload,
        "jobs": jobs,
        "concurrency": cell.concurrency,
        "batch_size": cell.batch_size,
        "condition": condition,
        "latency_samples": samples,
        "clock_ticks": CLOCK_TICKS,
        "sql": {
            "truncate": sql["keep_statistics"] + ";\n" + sql["truncate_jobs"],
            "analyze": sql["analyze_jobs"],
            "backend_pids": SQL["backend_pids"].replace(":app", "$1"),
        },
    }
    out = run_script(ensure_runtime(), "bench.mjs", payload, timeout=1800)
    return Figures(out["value"], out["jobs"], out["client_cpu_s"], out["server_cpu_s"])


# ---------------------------------------------------------------- the matrix


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass
class Row:
    label: str
    condition: str
    target: str
    ours: list[float]
    theirs: list[float]
    ratios: list[float]
    cpu: dict[str, list[float]]


def _per_1000(figures: Figures, seconds: float | None) -> float:
    return float("nan") if seconds is None else seconds * 1000 / figures.jobs


def run_matrix(
    url: str, cells: list[Cell], conditions: list[str], runs: int, jobs: int, samples: int
) -> list[Row]:
    """Every cell in every condition ``runs`` times, alternating the side that goes first."""
    rows: list[Row] = []
    for condition in conditions:
        for index, cell in enumerate(cells):
            results: list[tuple[Figures, Figures]] = []
            for run in range(runs):
                queue = f"{cell.key}-{condition}-{run}"
                sides: dict[str, Figures] = {}
                order = ("ours", "theirs") if (run + index) % 2 == 0 else ("theirs", "ours")
                for side in order:
                    runner = run_ours if side == "ours" else run_theirs
                    sides[side] = runner(url, cell, condition, queue, jobs, samples)
                results.append((sides["ours"], sides["theirs"]))
                print(f"  {cell.key:<11} {condition:<6} run {run + 1}: first {order[0]:<6}", flush=True)
            cpu = {
                name: [_per_1000(f, getattr(f, attr)) for f in (pair[side] for pair in results)]
                for name, side, attr in (
                    ("ours_client", 0, "client_cpu_s"),
                    ("ours_server", 0, "server_cpu_s"),
                    ("theirs_client", 1, "client_cpu_s"),
                    ("theirs_server", 1, "server_cpu_s"),
                )
            }
            if cell.is_latency:
                for q in (50, 95):
                    mine = [_percentile(o.value, q) for o, _ in results]
                    other = [_percentile(t.value, q) for _, t in results]
                    ratios = [m / o for m, o in zip(mine, other, strict=True)]
                    rows.append(Row(f"{cell.label} p{q} (ms)", condition, "<= 0.8", mine, other, ratios, cpu))
            else:
                mine = [o.value for o, _ in results]
                other = [t.value for _, t in results]
                ratios = [m / o for m, o in zip(mine, other, strict=True)]
                rows.append(Row(f"{cell.label} (jobs/s)", condition, ">= 1.25", mine, other, ratios, cpu))
    return rows


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _median(values: list[float]) -> float:
    return statistics.median(values)


def print_matrix(rows: list[Row], *, jobs: int, samples: int, runs: int, version: str) -> None:
    """One line per cell and condition: medians, the ratio's median and min-max, CPU s per 1,000 jobs."""
    print(f"pg-boss {version} (Node) vs bakeoff's port; {jobs} jobs a cell, {samples} pickups, {runs} runs")
    print("cpu: CPU seconds per 1,000 jobs (client process / server backends), medians over the runs")
    header = (
        f"{'cell':<34} {'cond':<5} {'ours':>9} {'pg-boss':>9} {'ratio':>6} {'min-max':>11} "
        f"{'target':>8}  {'ours cpu':>13}  {'pg-boss cpu':>13}"
    )
    print(header)
    for row in rows:
        ratio = _median(row.ratios)
        spread = f"{min(row.ratios):.2f}-{max(row.ratios):.2f}"
        ours_cpu = f"{_median(row.cpu['ours_client']):.3f}/{_median(row.cpu['ours_server']):.3f}"
        theirs_cpu = f"{_median(row.cpu['theirs_client']):.3f}/{_median(row.cpu['theirs_server']):.3f}"
        print(
            f"{row.label:<34} {row.condition:<5} {_median(row.ours):>9.1f} {_median(row.theirs):>9.1f} "
            f"{ratio:>6.2f} {spread:>11} {row.target:>8}  {ours_cpu:>13}  {theirs_cpu:>13}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5_000, help="jobs a cell (default 5000)")
    parser.add_argument("--samples", type=int, default=100, help="pickups a pickup run (default 100)")
    parser.add_argument("--runs", type=int, default=3, help="runs a cell and condition (default 3)")
    parser.add_argument(
        "--only", action="append", choices=[c.key for c in CELLS], help="run only this cell (repeatable)"
    )
    parser.add_argument("--condition", action="append", choices=CONDITIONS, help="fresh, stale or both")
    args = parser.parse_args()
    if args.jobs < 1 or args.runs < 1 or args.samples < 2:
        parser.error("--jobs and --runs must be >= 1, --samples >= 2")
    cells = [cell for cell in CELLS if cell.key in (args.only or [c.key for c in CELLS])]
    conditions = [c for c in CONDITIONS if c in (args.condition or CONDITIONS)]
    logging.basicConfig(level=logging.WARNING)
    version = ensure_runtime().pgboss_version
    databases = TestDatabases()
    url = databases.create()
    load_before = _load()
    try:
        rows = run_matrix(url, cells, conditions, args.runs, args.jobs, args.samples)
    finally:
        databases.drop(url)
        databases.close()
    print_matrix(rows, jobs=args.jobs, samples=args.samples, runs=args.runs, version=version)
    print(f"load average (1/5/15 min): {load_before} before, {_load()} after")


if __name__ == "__main__":
    main()
