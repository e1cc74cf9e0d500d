"""Legacy arm benchmark: what polling and one-process-per-job cost, as numbers.

For a no-op job and for ``import_article`` against the local article server (profile ``none``) with
today's switches, and for a no-op job on "legacy, fixed" (no spawn, 0.1 s polling), it prints:

* pickup latency, submit -> child start (the trial's ``queue_wait``: the handler's first instruction,
  stamped on the database clock inside the spawned child), p50/p95, split into submit -> claim
  (polling delay) and claim -> child start (spawning and importing a fresh Python process). Jobs are
  submitted one at a time to idle workers, so no job waits behind another;
* throughput: a burst of jobs drained by ``--concurrency`` loop processors, in jobs/s.

Each run uses a fresh database on the test server (``BAKEOFF_TEST_DATABASE_URL`` or the embedded
PostgreSQL) and drops it afterwards. Usage::

    python benchmarks/legacy_bench.py [--pickup-jobs 10] [--burst-jobs 20] [--concurrency 2]
                                      [--poll-interval 1.0]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from dataclasses import dataclass

from sqlalchemy import Engine

from bakeoff.backends.legacy.adapter import LegacyBackend
from bakeoff.contract import ImportRequest
from bakeoff.db.engine import make_engine
from bakeoff.metrics import columns as col
from bakeoff.metrics import load_trial
from bakeoff.router import Router
from bakeoff.testing import TestDatabases, running_workers, single_arm_router
from bakeoff.workload.article_server import ArticleServer

WAIT_SECONDS = 600.0


@dataclass(frozen=True, kw_only=True)
class Variant:
    """One configuration of the arm to measure."""

    label: str
    handler: str
    spawn_per_job: bool = True
    poll_interval: float | None = None
    """None: the --poll-interval argument (the legacy default, 1 s)."""


VARIANTS = (
    Variant(label="noop", handler="noop"),
    Variant(label="import_article", handler="import_article"),
    # "Legacy, fixed": no spawn, fast polling -- the difference is the cost of those pain points.
    Variant(label="noop fixed*", handler="noop", spawn_per_job=False, poll_interval=0.1),
)


@dataclass(frozen=True, kw_only=True)
class Figures:
    label: str
    pickup_p50_ms: float
    pickup_p95_ms: float
    claim_p50_ms: float
    spawn_p50_ms: float
    throughput_per_s: float
    burst_jobs: int
    failed: int


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return (
        statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]
        if len(ordered) > 1
        else ordered[0]
    )


def _submit(router: Router, url: str) -> str:
    """Route one import to the legacy arm as production does (the router's one transaction)."""
    return router.submit(ImportRequest(url=url, unit_key=url)).backend_job_id


def _wait_until_drained(backend: LegacyBackend) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        health = backend.health()
        if health.queued == 0 and health.running == 0:
            return
        time.sleep(0.02)
    raise TimeoutError(f"jobs still open after {WAIT_SECONDS}s")


def _measure(
    label: str, engine: Engine, backend: LegacyBackend, urls: list[str], args: argparse.Namespace
) -> Figures:
    claim_ms: list[float] = []
    router = single_arm_router(engine, backend, experiment="legacy-bench")
    with router, running_workers(backend, concurrency=args.concurrency, timeout=WAIT_SECONDS):
        for url in urls[: args.pickup_jobs]:
            job_id = _submit(router, url)
            _wait_until_drained(backend)
            job = backend.store.get(job_id)
            if job is not None and job.started_at is not None and job.created_at is not None:
                claim_ms.append((job.started_at - job.created_at).total_seconds() * 1000)
        pickup = load_trial(engine, experiment="legacy-bench")
        for url in urls[args.pickup_jobs :]:
            _submit(router, url)
        _wait_until_drained(backend)
    trial = load_trial(engine, experiment="legacy-bench")
    burst = trial.iloc[len(pickup) :]
    span = (burst[col.FINISHED_AT].max() - burst[col.SUBMITTED_AT].min()).total_seconds()
    queue_wait = [float(v) for v in pickup[col.QUEUE_WAIT_MS].dropna()]
    return Figures(
        label=label,
        pickup_p50_ms=_percentile(queue_wait, 50),
        pickup_p95_ms=_percentile(queue_wait, 95),
        claim_p50_ms=_percentile(claim_ms, 50),
        spawn_p50_ms=_percentile(queue_wait, 50) - _percentile(claim_ms, 50),
        throughput_per_s=len(burst) / span if span > 0 else float("nan"),
        burst_jobs=len(burst),
        failed=int((trial[col.OUTCOME] != "completed").sum()),
    )


def _run_one(
    variant: Variant, server: ArticleServer, databases: TestDatabases, args: argparse.Namespace
) -> Figures:
    url = databases.create()
    engine = make_engine(url, pool_size=args.concurrency + 4)
    try:
        backend = LegacyBackend(
            engine,
            import_settings=server.import_settings(),
            handler=variant.handler,
            poll_interval=variant.poll_interval or args.poll_interval,
            spawn_per_job=variant.spawn_per_job,
            crash_after_complete=variant.spawn_per_job,
        )
        urls = server.article_urls(args.pickup_jobs + args.burst_jobs)
        return _measure(variant.label, engine, backend, urls, args)
    finally:
        engine.dispose()
        databases.drop(url)


def _print(results: list[Figures], args: argparse.Namespace) -> None:
    print(
        f"legacy arm: poll_interval={args.poll_interval}s, concurrency={args.concurrency}, "
        f"spawn_per_job=True, crash_after_complete=True, stdout_protocol=strict"
    )
    print(
        f"{'handler':<16}{'pickup p50':>12}{'pickup p95':>12}{'claim p50':>11}{'spawn p50':>11}"
        f"{'throughput':>13}{'burst':>7}{'failed':>8}"
    )
    for r in results:
        print(
            f"{r.label:<16}{r.pickup_p50_ms:>10.0f}ms{r.pickup_p95_ms:>10.0f}ms{r.claim_p50_ms:>9.0f}ms"
            f"{r.spawn_p50_ms:>9.0f}ms{r.throughput_per_s:>9.2f} j/s{r.burst_jobs:>7}{r.failed:>8}"
        )
    print("pickup = submit -> child start (queue_wait); claim = submit -> claimed; spawn = the rest")
    print("* legacy, fixed: spawn_per_job=False (the handler runs in the processor), poll_interval=0.1s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pickup-jobs", type=int, default=10)
    parser.add_argument("--burst-jobs", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    databases = TestDatabases()
    try:
        with ArticleServer(profile="none") as server:
            results = [_run_one(variant, server, databases, args) for variant in VARIANTS]
    finally:
        databases.close()
    _print(results, args)


if __name__ == "__main__":
    main()
