"""``bakeoff serve`` benchmark: what the HTTP service adds to the Router, as numbers.

Prints, measured in one run against one fresh database:

* ``POST /v1/imports`` p50/p99, and ``Router.submit`` called directly in this process, alternating
  call by call so load drifts hit both alike; the service's overhead is the difference of the
  medians (target <= 1.5 ms p50 added). Both use the same recording arm (a real INSERT in the
  router's transaction), as ``benchmarks/router_bench.py`` does.
* OFREP single-flag evaluation p50/p99 (target <= 1 ms p50), and ``GET /healthz`` as the floor of
  one HTTP round trip through the stack.
* 16 concurrent async clients posting imports: requests per second and errors (target: 0 errors).

The server is a real uvicorn in a child process (this script with ``--serve``), so the client
and the server do not share a GIL. Sequential calls use the standard library's keep-alive
``http.client`` (the lightest client; its own cost is inside every HTTP figure). Usage::

    python benchmarks/service_bench.py [--calls 1000] [--concurrent-posts 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import text
from timing import percentile

from bakeoff.contract import ARM_NAMES, ImportRequest
from bakeoff.db.engine import make_engine
from bakeoff.router import Experiment, Router
from bakeoff.testing import RecordingBackend, TestDatabases

POST_OVERHEAD_TARGET_MS = 1.5
OFREP_TARGET_MS = 1.0
CONCURRENT_CLIENTS = 16
WARMUP = 50
EXPERIMENT = "bench"


def serve(database_url: str) -> None:
    """Child process: the service over recording arms on a free loopback port; prints the port."""
    import uvicorn

    from bakeoff.service import ServiceSettings, build_service, create_app

    engine = make_engine(database_url)
    backends = {arm: RecordingBackend(arm, engine) for arm in ARM_NAMES}
    service = build_service(engine, ServiceSettings(experiment=EXPERIMENT), backends=backends)
    config = uvicorn.Config(
        create_app(service, owns_service=True), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    print(server.servers[0].sockets[0].getsockname()[1], flush=True)
    thread.join()  # until the benchmark terminates this process


def start_server(database_url: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", database_url], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip():
        process.kill()
        raise SystemExit("the service did not start")
    return process, int(line)


def timed(
    connection: http.client.HTTPConnection, method: str, path: str, body: Any = None
) -> tuple[float, int]:
    payload = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if payload is not None else {}
    started = time.perf_counter()
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    response.read()
    return (time.perf_counter() - started) * 1000, response.status


def bench_posts(port: int, router: Router, calls: int) -> tuple[list[float], list[float]]:
    """POST /v1/imports and Router.submit, alternating; milliseconds per call."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    posts, submits = [], []
    run = uuid.uuid4().hex[:8]
    for i in range(WARMUP + calls):
        elapsed, status = timed(connection, "POST", "/v1/imports", {"url": f"https://a.example/{run}/h{i}"})
        assert status == 201, status
        started = time.perf_counter()
        router.submit(ImportRequest(url=f"https://a.example/{run}/d{i}"))
        direct = (time.perf_counter() - started) * 1000
        if i >= WARMUP:
            posts.append(elapsed)
            submits.append(direct)
    connection.close()
    return posts, submits


def bench_get(port: int, method: str, path: str, calls: int, body: Any = None) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    timings = []
    for i in range(WARMUP + calls):
        payload = body(i) if callable(body) else body
        elapsed, status = timed(connection, method, path, payload)
        assert status == 200, (path, status)
        if i >= WARMUP:
            timings.append(elapsed)
    connection.close()
    return timings


async def bench_concurrent(port: int, posts: int) -> tuple[float, int, int]:
    """16 async clients sharing ``posts`` imports; (seconds, successes, errors)."""
    run = uuid.uuid4().hex[:8]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(posts):
        queue.put_nowait(i)
    outcome = {"ok": 0, "errors": 0}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http_client:
            while not queue.empty():
                i = queue.get_nowait()
                try:
                    response = await http_client.post(
                        "/v1/imports", json={"url": f"https://c.example/{run}/{i}"}
                    )
                    outcome["ok" if response.status_code == 201 else "errors"] += 1
                except httpx.HTTPError:
                    outcome["errors"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENT_CLIENTS)))
    return time.perf_counter() - started, outcome["ok"], outcome["errors"]


def line(label: str, values: list[float]) -> str:
    p50, p99 = statistics.median(values), percentile(values, 0.99)
    return f"{label}: {len(values)} calls, p50 {p50:.3f} ms, p99 {p99:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrent-posts", type=int, default=2000)
    parser.add_argument("--serve", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.serve:
        serve(args.serve)
        return
    databases = TestDatabases()
    url = databases.create()
    engine = make_engine(url, pool_size=2)
    process = None
    try:
        backends = {arm: RecordingBackend(arm, engine) for arm in ARM_NAMES}
        with Router(engine, experiment=Experiment(name=EXPERIMENT), backends=backends) as router:
            process, port = start_server(url)
            posts, submits = bench_posts(port, router, args.calls)
        flag = f"/ofrep/v1/evaluate/flags/{EXPERIMENT}"
        ofrep = bench_get(
            port, "POST", flag, args.calls, lambda i: {"context": {"targetingKey": f"user-{i}"}}
        )
        health = bench_get(port, "GET", "/healthz", args.calls)
        seconds, ok, errors = asyncio.run(bench_concurrent(port, args.concurrent_posts))
        with engine.connect() as conn:
            server = str(conn.execute(text("SHOW server_version")).scalar_one())
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        engine.dispose()
        databases.drop(url)
        databases.close()
    load = os.getloadavg()
    overhead = statistics.median(posts) - statistics.median(submits)
    ofrep_p50 = statistics.median(ofrep)
    print(
        f"service benchmark (PostgreSQL {server}, {os.cpu_count()} cpus,"
        f" load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})"
    )
    print(line("POST /v1/imports", posts))
    print(line("Router.submit (same arm, in-process)", submits))
    verdict = "met" if overhead <= POST_OVERHEAD_TARGET_MS else "MISSED"
    print(
        f"POST /v1/imports overhead over Router.submit: p50 {overhead:.3f} ms"
        f" (target <= {POST_OVERHEAD_TARGET_MS:g} ms: {verdict})"
    )
    verdict = "met" if ofrep_p50 <= OFREP_TARGET_MS else "MISSED"
    print(line("OFREP evaluation", ofrep) + f" (target <= {OFREP_TARGET_MS:g} ms p50: {verdict})")
    print(line("GET /healthz (one HTTP round trip, no database)", health))
    verdict = "met" if errors == 0 else "MISSED"
    print(
        f"{CONCURRENT_CLIENTS} concurrent async clients: {ok + errors} POST /v1/imports in {seconds:.2f} s,"
        f" {(ok + errors) / seconds:.0f} req/s, {errors} errors (target 0 errors: {verdict})"
    )


if __name__ == "__main__":
    main()
