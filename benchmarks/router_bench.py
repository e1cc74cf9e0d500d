"""Router benchmark: what the shim costs in the import path, as numbers.

Prints, measured in one run:

* ``assign()``: time per call over many distinct unit keys, median and p99 (target <= 5 us median).
  Each call is timed on its own with ``perf_counter_ns``, so the timer's own cost is included.
* ``submit()`` overhead: the same fake arm (a real INSERT into ``public.router_fake_jobs``) called
  directly in its own transaction, and through ``Router.submit`` (state read, the same INSERT, the
  exposure and enqueue row with its events, commit). Calls alternate direct/router so load
  drifts hit both alike; the extra latency is median(router) - median(direct) (target <= 1 ms).
  The extra CPU time of the calling thread is printed too: unlike wall-clock time it does not
  grow when the machine's cores are saturated.

Each run uses a fresh database on the test server (``BAKEOFF_TEST_DATABASE_URL`` or the embedded
PostgreSQL) and drops it afterwards. Usage::

    python benchmarks/router_bench.py [--assign-calls 200000] [--submits 1000]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from timing import percentile

from bakeoff.contract import ARM_NAMES, ImportRequest
from bakeoff.db.engine import make_engine
from bakeoff.router import Experiment, Router
from bakeoff.testing import RecordingBackend, TestDatabases

ASSIGN_TARGET_US = 5.0
SUBMIT_OVERHEAD_TARGET_MS = 1.0
WARMUP = 50


def bench_assign(router: Router, calls: int) -> list[float]:
    """Microseconds per assign() call, one timing per call."""
    keys = [f"user-{uuid.uuid4()}" for _ in range(calls)]
    for key in keys[:WARMUP]:
        router.assign(key)
    timings: list[float] = []
    clock = time.perf_counter_ns
    for key in keys:
        started = clock()
        router.assign(key)
        timings.append((clock() - started) / 1000)
    return timings


@dataclass
class SubmitTimings:
    """Per-call wall-clock and this thread's CPU milliseconds, direct and through the router."""

    direct_ms: list[float] = field(default_factory=list)
    routed_ms: list[float] = field(default_factory=list)
    direct_cpu_ms: list[float] = field(default_factory=list)
    routed_cpu_ms: list[float] = field(default_factory=list)


def bench_submit(engine: Engine, router: Router, backend: RecordingBackend, submits: int) -> SubmitTimings:
    """The arm's own submit in its own transaction, then Router.submit, alternating."""
    timings = SubmitTimings()
    for i in range(WARMUP + submits):
        request = ImportRequest(url=f"https://articles.example/{i}", unit_key=f"unit-{i}")
        wall, cpu = time.perf_counter(), time.thread_time()
        with engine.begin() as conn:
            backend.submit(request, trial_job_id=uuid.uuid4(), conn=conn)
        wall_mid, cpu_mid = time.perf_counter(), time.thread_time()
        router.submit(request)  # every arm is the same RecordingBackend class and table
        wall_end, cpu_end = time.perf_counter(), time.thread_time()
        if i >= WARMUP:
            timings.direct_ms.append((wall_mid - wall) * 1000)
            timings.routed_ms.append((wall_end - wall_mid) * 1000)
            timings.direct_cpu_ms.append((cpu_mid - cpu) * 1000)
            timings.routed_cpu_ms.append((cpu_end - cpu_mid) * 1000)
    return timings


def bench_round_trip(engine: Engine, calls: int) -> list[float]:
    """Milliseconds per ``SELECT 1`` on an open connection: the unit the submit overhead is made of."""
    timings: list[float] = []
    with engine.connect() as conn:
        for _ in range(calls):
            started = time.perf_counter()
            conn.execute(text("SELECT 1"))
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def report(assign_us: list[float], submits: SubmitTimings, trip_ms: list[float], server: str) -> None:
    assign_median = statistics.median(assign_us)
    direct_ms, routed_ms = submits.direct_ms, submits.routed_ms
    extra = statistics.median(routed_ms) - statistics.median(direct_ms)
    load = os.getloadavg()[0]
    print(f"router benchmark (PostgreSQL {server}, load average {load:.2f}, {os.cpu_count()} cpus)")
    assign_verdict = "met" if assign_median <= ASSIGN_TARGET_US else "MISSED"
    print(
        f"assign(): {len(assign_us)} calls, median {assign_median:.2f} us,"
        f" p99 {percentile(assign_us, 0.99):.2f} us per call"
        f" (target <= {ASSIGN_TARGET_US:g} us median: {assign_verdict})"
    )
    for label, values in (("backend submit directly", direct_ms), ("Router.submit", routed_ms)):
        print(
            f"{label}: {len(values)} calls, median {statistics.median(values):.3f} ms,"
            f" p99 {percentile(values, 0.99):.3f} ms"
        )
    extra_cpu = statistics.median(submits.routed_cpu_ms) - statistics.median(submits.direct_cpu_ms)
    print(
        f"submit() extra CPU in the calling thread: median {extra_cpu:.3f} ms (Python: SQLAlchemy, psycopg)"
    )
    trip = statistics.median(trip_ms)
    print(f"one database round trip (SELECT 1): median {trip:.3f} ms")
    verdict = "met" if extra <= SUBMIT_OVERHEAD_TARGET_MS else "MISSED"
    print(
        f"submit() extra latency over the backend's own submit: median {extra:.3f} ms"
        f" (target <= {SUBMIT_OVERHEAD_TARGET_MS:g} ms: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assign-calls", type=int, default=200_000)
    parser.add_argument("--submits", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    databases = TestDatabases()
    url = databases.create()
    engine = make_engine(url, pool_size=2)
    try:
        backends = {arm: RecordingBackend(arm, engine) for arm in ARM_NAMES}
        with Router(engine, experiment=Experiment(name="bench"), backends=backends) as router:
            assign_us = bench_assign(router, args.assign_calls)
            submits = bench_submit(engine, router, backends["pgboss"], args.submits)
            trip_ms = bench_round_trip(engine, args.submits)
        with engine.connect() as conn:
            server = str(conn.execute(text("SHOW server_version")).scalar_one())
        report(assign_us, submits, trip_ms, server)
    finally:
        engine.dispose()
        databases.drop(url)
        databases.close()


if __name__ == "__main__":
    main()
