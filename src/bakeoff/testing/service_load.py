"""The service under load: concurrent clients posting imports through ``bakeoff serve --workers 2``.

Used by ``tests/faults/test_service_load.py`` (reduced: fewer clients, 20 s) and
``benchmarks/faults_report.py`` (200 clients for 60 s). :func:`run_service_load` starts the real
``bakeoff serve`` as a subprocess on a fresh experiment, runs ``clients`` asyncio clients (httpx)
that each post imports one after another, every one with its own idempotency key, for ``seconds``;
optionally SIGKILLs one of the two uvicorn worker processes mid-load (uvicorn's supervisor starts a
new one). A client whose request fails in transit (the connection to the killed process breaks) or
gets a 5xx retries with the **same** key until it is answered, as a careful client would: a submit
that committed before its process died must come back as the first job (200, ``duplicate``), not as
a second one. Afterwards the database is counted: accepted keys = exposures = trial jobs = enqueued
backend jobs, and no key has two trial jobs.

The import URLs are never fetched (no workers run): the load is on the service and the router's
write path, which is what this measures.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bakeoff.db.engine import make_engine
from bakeoff.testing import wait_for
from bakeoff.testing.faults import query

__all__ = ["ServiceLoadFigures", "run_service_load", "uvicorn_worker_pids"]

_TCP_ESTABLISHED = "01"
"""The state column of an established connection in ``/proc/net/tcp``."""


@dataclass(frozen=True, kw_only=True)
class ServiceLoadFigures:
    """What one load run sent, what the service answered, and what the database holds."""

    clients: int
    seconds: float
    requests: int
    """HTTP requests sent, retries included."""
    accepted: int
    """Idempotency keys answered 201 or 200 (each key is one submission)."""
    duplicate_answers: int
    """Retries answered 200 ``duplicate``: their first attempt had committed before it was cut off."""
    server_errors: int
    """Responses with a 5xx status."""
    transport_errors: int
    """Requests that got no response (connection reset by the killed process, timeouts)."""
    other_statuses: dict[int, int]
    p50_ms: float
    p99_ms: float
    trial_jobs: int
    exposures: int
    enqueued: int
    keys_with_two_jobs: int
    unaccepted_keys_recorded: int
    """Keys a client gave up on that the database nevertheless holds (none give up: 0)."""
    server_error_details: dict[str, int] = field(default_factory=dict)
    """Each 5xx answer's status and problem detail, and how often it came."""
    killed_pid: int | None = None
    replaced: bool = False
    """Whether uvicorn started a new worker process after the kill."""
    replayed: int = 0
    """Accepted keys posted again after the load."""
    replay_duplicates: int = 0
    """Replays answered 200 with ``duplicate: true`` (must be all of them)."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def problems(self) -> list[str]:
        found = list(self.notes)
        if self.server_errors:
            found.append(f"{self.server_errors} responses with a 5xx status: {self.server_error_details}")
        if self.other_statuses:
            found.append(f"unexpected statuses {self.other_statuses}")
        if not self.accepted == self.exposures == self.trial_jobs == self.enqueued:
            found.append(
                f"accepted {self.accepted}, exposures {self.exposures}, trial jobs {self.trial_jobs}, "
                f"enqueued {self.enqueued} differ"
            )
        if self.keys_with_two_jobs:
            found.append(f"{self.keys_with_two_jobs} idempotency keys with two trial jobs")
        if self.replay_duplicates != self.replayed:
            found.append(
                f"{self.replayed - self.replay_duplicates} of {self.replayed} replays not duplicates"
            )
        if self.unaccepted_keys_recorded:
            found.append(f"{self.unaccepted_keys_recorded} keys recorded but never accepted")
        return found

    def row(self) -> str:
        kill = f"; process {self.killed_pid} SIGKILLed mid-load" if self.killed_pid else ""
        return (
            f"{self.clients} clients for {self.seconds:.0f} s{kill}: {self.requests} requests, "
            f"{self.accepted} accepted ({self.accepted / self.seconds:.0f}/s), p50 {self.p50_ms:.0f} ms, "
            f"p99 {self.p99_ms:.0f} ms, {self.server_errors} 5xx, {self.transport_errors} transport errors "
            f"retried, {self.duplicate_answers} retries answered as duplicates; trial jobs {self.trial_jobs} "
            f"= exposures {self.exposures} = enqueued {self.enqueued}; keys with two jobs "
            f"{self.keys_with_two_jobs}; {self.replay_duplicates}/{self.replayed} replayed keys answered "
            f"as duplicates"
        )


def uvicorn_worker_pids(supervisor_pid: int) -> set[int]:
    """The worker processes of a ``uvicorn --workers N`` supervisor (spawned children, not helpers)."""
    pids = set()
    for task in Path(f"/proc/{supervisor_pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                pids.add(int(child))
    return pids


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class _Tally:
    requests: int = 0
    duplicate_answers: int = 0
    server_errors: int = 0
    server_error_details: Counter[str] = field(default_factory=Counter)
    transport_errors: int = 0
    other: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    abandoned: set[str] = field(default_factory=set)


async def _client(
    http: httpx.AsyncClient, index: int, run: str, until: float, tally: _Tally, retry_for: float
) -> None:
    n = 0
    while time.monotonic() < until:
        key = f"{run}-c{index}-n{n}"
        n += 1
        body = {"url": f"https://example.com/{run}/{index}/{n}", "unit_key": f"user-{index}-{n}"}
        give_up = time.monotonic() + retry_for
        retried = False
        while True:
            tally.requests += 1
            started = time.monotonic()
            try:
                response = await http.post("/v1/imports", json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                tally.transport_errors += 1
            else:
                tally.latencies_ms.append((time.monotonic() - started) * 1000)
                if response.status_code in (200, 201):
                    tally.accepted.add(key)
                    if response.status_code == 200 and retried:
                        tally.duplicate_answers += 1
                    break
                if response.status_code >= 500:
                    tally.server_errors += 1
                    tally.server_error_details[f"{response.status_code} {_problem_detail(response)}"] += 1
                else:
                    tally.other[response.status_code] += 1
                    break
            if time.monotonic() > give_up:
                tally.abandoned.add(key)
                break
            retried = True
            await asyncio.sleep(0.1)


async def _load(url: str, clients: int, seconds: float, run: str, kill: Any) -> _Tally:
    tally = _Tally()
    # A new connection per request, as many independent clients make: the kernel then spreads them
    # over both server processes, so whichever is killed has requests in flight.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) as http:
        until = time.monotonic() + seconds
        tasks = [asyncio.create_task(_client(http, i, run, until, tally, 60.0)) for i in range(clients)]
        if kill is not None:
            await asyncio.sleep(seconds / 2)
            await asyncio.to_thread(kill)
        await asyncio.gather(*tasks)
    return tally


async def _replay(url: str, run: str, keys: list[str]) -> list[tuple[int, bool]]:
    """Post each key again with its original body; (status, duplicate) per key."""

    async def one(http: httpx.AsyncClient, key: str) -> tuple[int, bool]:
        index, n = (int(part[1:]) for part in key.rsplit("-", 2)[1:])
        body = {"url": f"https://example.com/{run}/{index}/{n + 1}", "unit_key": f"user-{index}-{n + 1}"}
        response = await http.post("/v1/imports", json=body, headers={"Idempotency-Key": key})
        return response.status_code, bool(response.status_code == 200 and response.json().get("duplicate"))

    async with httpx.AsyncClient(base_url=url, timeout=30.0) as http:
        return list(await asyncio.gather(*(one(http, key) for key in keys)))


def _start_serve(database_url: str, experiment: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "BAKEOFF_DATABASE_URL": database_url}
    for name in ("BAKEOFF_API_TOKEN", "BAKEOFF_ADMIN_TOKEN", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bakeoff",
            "serve",
            "--port",
            "0",
            "--workers",
            "2",
            "--experiment",
            experiment,
        ],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("{") and json.loads(line).get("event") == "serve_listening":
            return process, str(json.loads(line)["url"])
    process.kill()
    raise RuntimeError(f"bakeoff serve did not start: {''.join(seen)[-2000:]}")


def run_service_load(
    database_url: str,
    *,
    clients: int = 200,
    seconds: float = 60.0,
    kill_one_process: bool = False,
    replays: int = 100,
) -> ServiceLoadFigures:
    """``clients`` clients posting imports for ``seconds`` through ``bakeoff serve --workers 2``.

    Afterwards ``replays`` accepted keys are posted again (a client retrying after a lost answer):
    each must come back 200 with ``duplicate: true`` and add nothing.
    """
    experiment = f"faults-service-{time.time_ns()}"
    process, url = _start_serve(database_url, experiment)
    killed: list[int] = []
    try:
        wait_for(lambda: _ready(url), "the service ready", timeout=120, interval=0.2)
        wait_for(lambda: len(uvicorn_worker_pids(process.pid)) == 2, "two uvicorn workers", timeout=60)
        before = uvicorn_worker_pids(process.pid)

        port = urlsplit(url).port or 80

        def kill() -> None:
            # Killed at a moment it holds client connections (each one a request in flight, as no
            # connection is kept alive), so the kill really cuts requests off. Only connections to the
            # service's port count: the process's database pool grows under load too.
            deadline = time.monotonic() + 10
            while True:
                connections = _client_connections(before, port)
                victim = max(connections, key=connections.__getitem__)
                if connections[victim] >= 3 or time.monotonic() > deadline:
                    break
                time.sleep(0.005)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

        tally = asyncio.run(_load(url, clients, seconds, experiment, kill if kill_one_process else None))
        after = uvicorn_worker_pids(process.pid)
        replay = sorted(tally.accepted)[:: max(1, len(tally.accepted) // replays)][:replays]
        replay_answers = asyncio.run(_replay(url, experiment, replay))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    engine = make_engine(database_url, pool_size=1)
    try:
        numbers = {
            k: int(v) for k, v in query(engine, "service_load_counts", experiment=experiment)[0].items()
        }
        recorded = {
            r["idempotency_key"]
            for r in query(engine, "idempotency_keys_of_experiment", experiment=experiment)
        }
    finally:
        engine.dispose()
    notes = []
    if numbers["keys"] != numbers["trial_jobs"]:
        notes.append(f"{numbers['trial_jobs']} trial jobs for {numbers['keys']} distinct keys")
    missing = tally.accepted - recorded
    if missing:
        notes.append(f"{len(missing)} accepted keys have no trial job")
    return ServiceLoadFigures(
        clients=clients,
        seconds=seconds,
        requests=tally.requests,
        accepted=len(tally.accepted),
        duplicate_answers=tally.duplicate_answers,
        server_errors=tally.server_errors,
        server_error_details=dict(tally.server_error_details),
        transport_errors=tally.transport_errors,
        other_statuses=dict(tally.other),
        p50_ms=_percentile(tally.latencies_ms, 0.50),
        p99_ms=_percentile(tally.latencies_ms, 0.99),
        trial_jobs=numbers["trial_jobs"],
        exposures=numbers["exposures"],
        enqueued=numbers["enqueued"],
        keys_with_two_jobs=numbers["keys_twice"],
        unaccepted_keys_recorded=len(recorded & tally.abandoned),
        killed_pid=killed[0] if killed else None,
        replaced=bool(killed) and len(after - before) > 0,
        replayed=len(replay),
        replay_duplicates=sum(1 for status, duplicate in replay_answers if status == 200 and duplicate),
        notes=tuple(notes),
    )


def _client_connections(pids: set[int], port: int) -> dict[int, int]:
    """For each of ``pids``, its established TCP connections on local ``port`` (from ``/proc``)."""
    owner: dict[str, int] = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                owner[target[len("socket:[") : -1]] = pid
    counts = dict.fromkeys(pids, 0)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == _TCP_ESTABLISHED and fields[9] in owner:
                counts[owner[fields[9]]] += 1
    return counts


def _problem_detail(response: httpx.Response) -> str:
    """The ``detail`` of a problem+json answer, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail", body))[:200] if isinstance(body, dict) else str(body)[:200]


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    except httpx.TransportError:
        return False
