"""``bakeoff inngest serve`` benchmark: step overhead over HTTP next to the in-process arm, and events/s.

Prints:

1. step overhead of a 10-step no-op function (p50/p95), measured the same way for both: the gap
   between the starts of consecutive no-op step bodies (one clock, in this process), for
   - the in-process arm (the engine calls the handler directly), and
   - the HTTP transport: the function written with Inngest's official Python SDK (FastAPI
     adapter, sync handler) on uvicorn on loopback, driven by ``bakeoff inngest serve``'s workers;
2. events accepted per second by ``POST /e/{key}``: single-event requests from client threads, and
   batches of 100 events per request (events that trigger nothing, so this is ingestion only).

Target: step overhead over HTTP <= 10 ms p50 on a 2-core machine. Each part gets a fresh database
on the test server (embedded PostgreSQL by default, or ``BAKEOFF_TEST_DATABASE_URL``). Never part
of the test run.

    python benchmarks/inngest_http.py [--runs 30] [--workers 4] [--events 2000] [--clients 4]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import threading
import time
from typing import Any

import fastapi
import httpx
import inngest
import inngest.fast_api
from timing import gaps_ms, percentile

from bakeoff.backends.inngest import Context, Event, Inngest, TriggerEvent
from bakeoff.backends.inngest.server import BackgroundServer, InngestServer, create_app
from bakeoff.db.urls import mask_url
from bakeoff.testing import TestDatabases

STEPS = 10


def report(what: str, values_ms: list[float]) -> None:
    print(
        f"{what:44s} p50 {statistics.median(values_ms):7.2f} ms   p95 {percentile(values_ms, 0.95):7.2f} ms"
        f"   (n={len(values_ms)})"
    )


def bench_in_process(url: str, args: argparse.Namespace) -> None:
    client = Inngest(app_id="bench-inproc", database_url=url, poll_interval=0.5)
    marks: dict[str, list[float]] = {}

    @client.create_function(fn_id="noop-10", trigger=TriggerEvent(event="bench/noop"))
    def noop(ctx: Context) -> int:
        for _ in range(STEPS):
            ctx.step.run("noop", lambda: marks.setdefault(ctx.run_id, []).append(time.perf_counter()))
        return STEPS

    worker = client.start_worker(concurrency=args.workers)
    try:
        overhead: list[float] = []
        for _ in range(args.runs):
            [event_id] = client.send(Event(name="bench/noop"))
            client.wait_for_run(client.runs_for_event(event_id)[0], timeout=60)
        for run_marks in marks.values():
            overhead += gaps_ms(run_marks)
        report(f"in-process arm, {STEPS}-step no-op", overhead)
    finally:
        worker.stop()
        client.close()


def bench_http(url: str, args: argparse.Namespace) -> None:
    server = InngestServer(url, concurrency=args.workers, poll_interval=0.5)
    http = BackgroundServer(create_app(server)).start()
    server.start()
    sdk = inngest.Inngest(
        app_id="bench", api_base_url=http.url, event_api_base_url=http.url, is_production=False
    )
    marks: dict[str, list[float]] = {}

    @sdk.create_function(fn_id="noop-10", trigger=inngest.TriggerEvent(event="bench/noop"))
    def noop(ctx: inngest.ContextSync) -> int:
        for _ in range(STEPS):
            ctx.step.run("noop", lambda: marks.setdefault(ctx.run_id, []).append(time.perf_counter()))
        return STEPS

    app = fastapi.FastAPI()
    inngest.fast_api.serve(app, sdk, [noop])
    try:
        with BackgroundServer(app) as sdk_http:
            server.sync_app(f"{sdk_http.url}/api/inngest")
            for _ in range(args.runs):
                [event_id] = server.send([Event(name="bench/noop")])
                server.client.wait_for_run(_run_of(server, event_id), timeout=60)
        overhead: list[float] = []
        for run_marks in marks.values():
            overhead += gaps_ms(run_marks)
        report(f"HTTP (official Python SDK), {STEPS}-step no-op", overhead)
        bench_events(http.url, args)
    finally:
        server.stop()
        http.stop()


def _run_of(server: InngestServer, event_id: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = server.client.runs_for_event(event_id)
        if runs:
            return runs[0]
        time.sleep(0.002)
    raise RuntimeError(f"no run for event {event_id}")


def _timed_posts(url: str, bodies: list[Any], clients: int) -> float:
    """Seconds to POST every body from ``clients`` threads, each with its own keep-alive client."""
    chunks = [bodies[i::clients] for i in range(clients)]
    failures: list[str] = []

    def post_all(chunk: list[Any]) -> None:
        with httpx.Client() as client:
            for body in chunk:
                response = client.post(f"{url}/e/bench-key", json=body)
                if response.status_code != 200:
                    failures.append(response.text)

    threads = [threading.Thread(target=post_all, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} POST /e failed, e.g. {failures[0]}")
    return time.perf_counter() - started


def bench_events(url: str, args: argparse.Namespace) -> None:
    single = [{"name": "bench/ingest", "data": {"i": i}} for i in range(args.events)]
    elapsed = _timed_posts(url, single, args.clients)
    print(f"POST /e, 1 event per request, {args.clients} clients:      {args.events / elapsed:8.0f} events/s")
    batches = [
        [{"name": "bench/ingest", "data": {"i": i, "j": j}} for j in range(100)]
        for i in range(args.events // 100)
    ]
    elapsed = _timed_posts(url, batches, args.clients)
    total = 100 * len(batches)
    print(f"POST /e, 100 events per request, {args.clients} clients:    {total / elapsed:8.0f} events/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="10-step no-op runs per transport")
    parser.add_argument("--workers", type=int, default=4, help="worker threads")
    parser.add_argument("--events", type=int, default=2000, help="events per POST /e measurement")
    parser.add_argument("--clients", type=int, default=4, help="client threads posting events")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    databases = TestDatabases()
    print(f"server: {mask_url(databases.server_url)}; {args.workers} worker threads; load {os.getloadavg()}")
    try:
        with databases.scratch() as url:
            bench_in_process(url, args)
        with databases.scratch() as url:
            bench_http(url, args)
    finally:
        databases.close()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
