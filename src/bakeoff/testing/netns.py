"""Multi-host fault runs: worker "hosts" as Linux network namespaces against one PostgreSQL.

Used by ``tests/faults/test_multihost.py`` (reduced sizes) and ``benchmarks/faults_report.py`` (full).

The network is made by the run itself and removed afterwards: a bridge in the root namespace with a
gateway address on a ``10.77.N.0/24`` subnet no interface of the machine uses yet, and per host a
network namespace joined to the bridge by a veth pair. Nothing else is ever addressed: PostgreSQL
(a private embedded server on a unix socket) and the article server (loopback) are reached from the
hosts through TCP relays this module binds on the gateway address, and inside each namespace a relay
on the namespace's own loopback forwards the article URLs (``http://127.0.0.1:PORT/...``) across
the host's link, so a host's database *and* fetch traffic cross its veth.

Faults: a link cut is ``ip link set <veth> down`` on the host's end in the root namespace (then up
again); a host dies by SIGKILL of its worker process group; PostgreSQL restarts with
``pg_ctl restart -m fast``. Latency and loss are emulated in the relay (:class:`Shaping`), because
``tc qdisc ... netem`` needs the ``sch_netem`` kernel module, which the kernel this was built on
does not have (and there is no ``modprobe``): each chunk a host sends is held ``delay`` seconds and,
with probability ``loss``, a further retransmission timeout, in order, which is what netem's egress
delay and loss do to a TCP stream as seen by the application.

Each host runs one worker process for all arms, forked from this process (what ``bakeoff worker
--arms legacy,pgboss,inngest`` does, with the short recovery settings of
:data:`bakeoff.testing.faults.RECOVERY_OPTIONS`), which enters the host's namespace before it
builds anything: forked, because a fresh interpreter needs ~10 s to import the arms on a loaded
2-core machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bakeoff.db.engine import make_engine
from bakeoff.router import Experiment, Router
from bakeoff.testing import bakeoff_command, wait_for
from bakeoff.testing.faults import (
    PGBOSS_QUEUE,
    FaultFigures,
    WorkerProcess,
    article_urls,
    build_backend,
    counts,
    db_now,
    duplicate_documents,
    progress,
    query,
    release_inherited_sockets,
    stop_gracefully,
    submit_all,
)
from bakeoff.trial.runner import close_backends
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.models import ImportSettings

__all__ = [
    "SCENARIOS",
    "HostNetwork",
    "MissingCapability",
    "Relay",
    "Shaping",
    "require_network_capabilities",
    "run_multihost",
]

ARMS = ("legacy", "pgboss", "inngest")
SCENARIOS = ("link_cut", "host_killed", "latency_loss", "pg_restart")
CLONE_NEWNET = 0x40000000


class MissingCapability(RuntimeError):
    """This machine cannot run the multi-host runs; the message names what is missing."""


# ------------------------------------------------------------------------------ capabilities


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


def require_network_capabilities() -> None:
    """Raise :class:`MissingCapability` naming what this machine lacks (root, ``ip``, namespaces, veth)."""
    if os.geteuid() != 0:
        raise MissingCapability(
            "the multi-host fault runs need root (CAP_NET_ADMIN) to create network namespaces"
        )
    if shutil.which("ip") is None:
        raise MissingCapability(
            "the multi-host fault runs need the `ip` command (apt-get install -y iproute2)"
        )
    probe = f"bkprobe{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        raise MissingCapability(f"`ip netns add` fails here, so no network namespaces: {made.stderr.strip()}")
    try:
        veth = _ip(
            "link", "add", f"{probe[:10]}a", "type", "veth", "peer", "name", f"{probe[:10]}b", check=False
        )
        if veth.returncode != 0:
            raise MissingCapability(f"`ip link add ... type veth` fails here: {veth.stderr.strip()}")
        _ip("link", "del", f"{probe[:10]}a", check=False)
    finally:
        _ip("netns", "del", probe, check=False)


# ------------------------------------------------------------------------------------ network


@dataclass(frozen=True)
class Host:
    """One worker host: its namespace, address, and its veth end in the root namespace."""

    index: int
    netns: str
    address: str
    veth: str

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.netns}"


def _free_subnet() -> int:
    """A third octet N such that no interface of the machine has a 10.77.N.x address yet."""
    used = _ip("-4", "-o", "addr", "show").stdout
    start = os.getpid() % 200 + 20
    for offset in range(200):
        candidate = (start + offset) % 250 + 1
        if f" 10.77.{candidate}." not in used:
            return candidate
    raise MissingCapability("no free 10.77.N.0/24 subnet for the test network")


class HostNetwork:
    """A bridge and ``hosts`` namespaces on a fresh 10.77.N.0/24; removed on close."""

    def __init__(self, hosts: int = 3) -> None:
        require_network_capabilities()
        tag = f"bk{os.getpid() % 100000}"
        subnet = _free_subnet()
        self.gateway = f"10.77.{subnet}.1"
        self.bridge = f"{tag}br"
        self.hosts = [
            Host(index=i, netns=f"{tag}h{i}", address=f"10.77.{subnet}.{10 + i}", veth=f"{tag}v{i}")
            for i in range(1, hosts + 1)
        ]
        self._made: list[tuple[str, ...]] = []
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        _ip("link", "add", self.bridge, "type", "bridge")
        self._made.append(("link", "del", self.bridge))
        _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for host in self.hosts:
            _ip("netns", "add", host.netns)
            self._made.append(("netns", "del", host.netns))
            _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
            _ip("link", "set", host.veth, "master", self.bridge)
            _ip("link", "set", host.veth, "up")
            inside = ("netns", "exec", host.netns, "ip")
            _ip(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip(*inside, "link", "set", "eth0", "up")
            _ip(*inside, "link", "set", "lo", "up")

    def cut(self, host: Host) -> None:
        """Take the host's link down (its packets are dropped; its TCP connections stall)."""
        _ip("link", "set", host.veth, "down")

    def restore(self, host: Host) -> None:
        _ip("link", "set", host.veth, "up")

    def close(self) -> None:
        for command in reversed(self._made):  # namespaces first (their veth pairs go with them)
            _ip(*command, check=False)
        self._made.clear()

    def __enter__(self) -> HostNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -------------------------------------------------------------------------------------- relay


@dataclass(frozen=True)
class Shaping:
    """Latency and loss a host's link adds to what the host sends (netem's egress delay and loss).

    A lost segment reaches the other side after a retransmission timeout: Linux's minimum RTO
    (200 ms) plus the path's delay. Later chunks wait behind it, as TCP's in-order delivery does.
    """

    delay: float
    loss: float
    seed: int = 0

    @property
    def retransmit_after(self) -> float:
        return 0.2 + self.delay


Upstream = tuple[str, int] | str
"""Where a relay forwards to: ``(host, port)`` over TCP, or a unix socket path."""


class Relay:
    """TCP relays on one asyncio loop in a background thread (one per process)."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.AbstractServer] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="relay", daemon=True)
        self._thread.start()
        self.lost_segments = 0

    def listen(self, host: str, upstream: Upstream, *, port: int = 0, shaping: Shaping | None = None) -> int:
        """Relay connections to ``host:port`` (0: any free port) to ``upstream``; returns the port."""
        future = asyncio.run_coroutine_threadsafe(self._listen(host, port, upstream, shaping), self._loop)
        return future.result(timeout=10)

    async def _listen(self, host: str, port: int, upstream: Upstream, shaping: Shaping | None) -> int:
        rng = random.Random(shaping.seed if shaping else 0)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._connection(reader, writer, upstream, shaping, rng)

        server = await asyncio.start_server(handle, host, port)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def _connection(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: Upstream,
        shaping: Shaping | None,
        rng: random.Random,
    ) -> None:
        try:
            if isinstance(upstream, str):
                up_reader, up_writer = await asyncio.open_unix_connection(upstream)
            else:
                up_reader, up_writer = await asyncio.open_connection(*upstream)
        except OSError:
            writer.close()  # the server is down (a restart): the client sees its connection refused
            return
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, shaping, rng),
                self._pump(up_reader, writer, None, rng),
                return_exceptions=True,
            )
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        shaping: Shaping | None,
        rng: random.Random,
    ) -> None:
        try:
            if shaping is None:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            else:
                await self._shaped(source, sink, shaping, rng)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                sink.close()  # one side gone: the PostgreSQL and HTTP protocols need no half-close

    async def _shaped(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, shaping: Shaping, rng: random.Random
    ) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                await asyncio.sleep(max(0.0, due - loop.time()))
                sink.write(data)
                await sink.drain()

        delivery = asyncio.ensure_future(deliver())
        last_due = 0.0
        try:
            while data := await source.read(65536):
                due = loop.time() + shaping.delay
                if rng.random() < shaping.loss:
                    self.lost_segments += 1
                    due += shaping.retransmit_after
                last_due = max(last_due, due)  # in order, as TCP delivers
                await queue.put((last_due, data))
                if delivery.done():
                    break
        finally:
            await queue.put((0.0, b""))
            with contextlib.suppress(Exception):
                await delivery

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------ host workers


def _enter_netns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({path}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def _host_worker_main(
    host: Host,
    database_url: str,
    article_port: int,
    article_upstream: tuple[str, int],
    allow_hosts: str,
    concurrency: int,
    overrides: dict[str, dict[str, Any]],
    ready: Any,
) -> None:
    """Body of a host's worker process: enter the namespace, then run every arm's workers."""
    from bakeoff.trial.runner import run_arm_workers

    # The relay's connections of the hosts started before this one: held here, they would never close.
    release_inherited_sockets()
    os.setsid()  # its own process group: killing the host takes any legacy children with it
    _enter_netns(host.netns_path)  # before any thread or socket of this process exists
    Relay().listen("127.0.0.1", article_upstream, port=article_port)  # article URLs cross the link
    os.environ["BAKEOFF_IMPORT_ALLOW_HOSTS"] = allow_hosts
    engine = make_engine(database_url, pool_size=concurrency * len(ARMS) + 6)
    settings = ImportSettings.from_env()
    backends = {arm: build_backend(arm, engine, settings, **overrides.get(arm, {})) for arm in ARMS}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ready.set()
    with run_arm_workers(backends, concurrency=concurrency, stop=threading.Event()):
        stop.wait()
    close_backends(list(backends.values()))


def start_host_worker(
    host: Host,
    database_url: str,
    *,
    article_port: int,
    article_upstream: tuple[str, int],
    allow_hosts: str,
    concurrency: int,
    overrides: dict[str, dict[str, Any]],
) -> WorkerProcess:
    """The host's worker process (all arms), running inside its namespace; returns once it runs."""
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    process = context.Process(
        target=_host_worker_main,
        args=(host, database_url, article_port, article_upstream, allow_hosts, concurrency, overrides, ready),
        daemon=False,
    )
    process.start()
    if not ready.wait(60):
        _kill(process)
        raise RuntimeError(f"the worker of host {host.netns} did not start (exit {process.exitcode})")
    return process


def _kill(process: WorkerProcess) -> None:
    assert process.pid is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.join(timeout=30)


# -------------------------------------------------------------------------------------- runs


@dataclass
class _FaultLog:
    at: datetime | None = None
    in_flight: dict[str, list[Any]] = field(default_factory=dict)
    killed_pids: set[int] = field(default_factory=set)
    description: str = ""


def _socket_path(database_url: str) -> str:
    """The unix socket of the private server behind ``database_url`` (host=DIR, port)."""
    parts = urlsplit(database_url)
    folder = parse_qs(parts.query)["host"][0]
    return str(Path(folder) / f".s.PGSQL.{parts.port or 5432}")


def run_multihost(
    data_dir: Path,
    database_url: str,
    scenario: str,
    *,
    jobs: int = 90,
    cut_seconds: float = 10.0,
    delay: float = 0.2,
    loss: float = 0.01,
    concurrency: int = 2,
    fault_after: float = 0.25,
    legacy_spawn: bool = False,
    deadline: float = 240.0,
    drain_seconds: float = 15.0,
) -> list[FaultFigures]:
    """One multi-host scenario on all three arms: ``jobs`` imports routed, three hosts work them.

    ``database_url`` is a private embedded server under ``data_dir`` (its unix socket is relayed to
    the hosts; ``pg_restart`` restarts it). The fault hits host 1 (``link_cut``: its link down for
    ``cut_seconds``), host 2 (``host_killed``: SIGKILL, never restarted) or host 3 (``latency_loss``:
    ``delay`` and ``loss`` on its link for the whole run) once ``fault_after`` of the jobs are
    terminal. The hosts get ``drain_seconds`` to stop on SIGTERM once every job is terminal, then
    SIGKILL. Returns one row per arm.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, not {scenario!r}")
    legacy = {} if legacy_spawn else {"spawn_per_job": False}
    engine = make_engine(database_url, pool_size=8)
    experiment = f"faults-multihost-{scenario}-{time.time_ns()}"
    workers: dict[int, WorkerProcess] = {}
    try:
        with ArticleServer(profile="none") as server, Relay() as relay, HostNetwork(3) as net:
            socket_path = _socket_path(database_url)
            shaping = Shaping(delay=delay, loss=loss, seed=7) if scenario == "latency_loss" else None
            plain_pg = relay.listen(net.gateway, socket_path)
            plain_articles = relay.listen(net.gateway, ("127.0.0.1", server.port))
            shaped_pg = relay.listen(net.gateway, socket_path, shaping=shaping)
            shaped_articles = relay.listen(net.gateway, ("127.0.0.1", server.port), shaping=shaping)
            backends = {arm: build_backend(arm, engine, server.import_settings()) for arm in ARMS}
            router = Router(
                engine, experiment=Experiment(name=experiment, arms=ARMS, control="legacy"), backends=backends
            )
            urls = article_urls(server, jobs, experiment)
            submissions, failures = submit_all(router, urls)
            started = time.monotonic()
            for host in net.hosts:
                slow = host.index == 3
                workers[host.index] = start_host_worker(
                    host,
                    f"postgresql://postgres@{net.gateway}:{shaped_pg if slow else plain_pg}/postgres",
                    article_port=server.port,
                    article_upstream=(net.gateway, shaped_articles if slow else plain_articles),
                    allow_hosts=server.allow_hosts_value,
                    concurrency=concurrency,
                    overrides={"legacy": legacy},
                )
            log = _inject(
                scenario, engine, experiment, net, workers, data_dir, jobs, fault_after, cut_seconds
            )
            _wait_settled(engine, backends, experiment, log.killed_pids, deadline)
            all_terminal_s = time.monotonic() - started
            live = [p for p in workers.values() if p.pid not in log.killed_pids]
            for process in live:
                process.terminate()  # all hosts drain at once
            for process in live:
                # Every job is terminal by now, so a host still draining after this is cut short.
                stop_gracefully(process, timeout=drain_seconds)
            drained_s = time.monotonic() - started - all_terminal_s
            reap = _reap_exactly(database_url, engine, experiment, log.killed_pids)
            rows = _figures(engine, scenario, experiment, urls, submissions, failures, log, reap)
            router.close()
            close_backends(list(backends.values()))
            remark = (
                f"all terminal {all_terminal_s:.0f} s after the hosts started; "
                f"hosts stopped {drained_s:.0f} s after SIGTERM"
            )
            if shaping is not None:
                remark += f"; {relay.lost_segments} segments lost and retransmitted"
            return [FaultFigures(**{**r.__dict__, "remarks": (*r.remarks, remark)}) for r in rows]
    finally:
        for process in workers.values():
            if process.is_alive():
                _kill(process)
        engine.dispose()


def _in_flight_by_arm(engine: Engine, experiment: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {arm: [] for arm in ARMS}
    for row in query(engine, "in_flight_by_arm", experiment=experiment):
        found[row["served_arm"]].append(row["trial_job_id"])
    return found


def _inject(
    scenario: str,
    engine: Engine,
    experiment: str,
    net: HostNetwork,
    workers: dict[int, WorkerProcess],
    data_dir: Path,
    jobs: int,
    fault_after: float,
    cut_seconds: float,
) -> _FaultLog:
    """Wait until ``fault_after`` of the jobs ended and every arm has work in flight, then the fault."""
    log = _FaultLog()
    if scenario == "latency_loss":
        log.description = "host 3's link slowed for the whole run"
        return log
    wait_for(
        lambda: (
            int(query(engine, "terminal_count", experiment=experiment)[0]["terminal"]) >= jobs * fault_after
        ),
        "a share of the jobs done",
        timeout=120,
        interval=0.1,
        fail=False,
    )
    victim = workers[2]
    if scenario == "host_killed":
        # A moment at which host 2 holds a legacy row, so the kill really orphans one, and every arm
        # has work in flight, so each has a recovery to measure.
        wait_for(
            lambda: (
                any(
                    r["status"] == "RUNNING" and f":{victim.pid}:" in (r["worker_id"] or "")
                    for r in query(engine, "legacy_rows_of_experiment", experiment=experiment)
                )
                and all(_in_flight_by_arm(engine, experiment).values())
            ),
            "host 2 running a legacy job while every arm has a job in flight",
            timeout=30,
            interval=0.02,
            fail=False,
        )
    else:
        wait_for(
            lambda: all(_in_flight_by_arm(engine, experiment).values()),
            "every arm with a job in flight",
            timeout=15,
            interval=0.02,
            fail=False,
        )
    log.in_flight = _in_flight_by_arm(engine, experiment)
    log.at = db_now(engine)
    if scenario == "link_cut":
        host = net.hosts[0]
        net.cut(host)
        progress(f"multihost: {host.netns}'s link cut for {cut_seconds:.0f} s")
        time.sleep(cut_seconds)
        net.restore(host)
        log.description = f"host 1's link cut for {cut_seconds:.0f} s"
    elif scenario == "host_killed":
        assert victim.pid is not None
        log.killed_pids.add(victim.pid)
        _kill(victim)
        log.description = "host 2's worker process group SIGKILLed, never restarted"
    else:
        from bakeoff.db.embedded import restart_embedded_server

        restart_embedded_server(data_dir)
        log.description = "PostgreSQL restarted (pg_ctl restart -m fast) with all hosts connected"
    return log


def _orphans(engine: Engine, experiment: str, killed_pids: set[int]) -> set[str]:
    """Open legacy rows RUNNING under a killed host's worker: nothing but a reap ends them."""
    return {
        r["id"]
        for r in query(engine, "legacy_rows_of_experiment", experiment=experiment)
        if r["status"] == "RUNNING" and _worker_pid(r["worker_id"]) in killed_pids
    }


def _worker_pid(worker_id: str | None) -> int | None:
    parts = (worker_id or "").split(":")
    return int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else None


def _wait_settled(
    engine: Engine, backends: dict[str, Any], experiment: str, killed_pids: set[int], deadline: float
) -> None:
    """Until every job is terminal but the killed host's legacy orphans; drives pg-boss's supervisor."""

    def settled() -> bool:
        try:
            return _settled_now()
        except (OperationalError, psycopg.Error) as exc:  # PostgreSQL restarting: ask again
            progress(f"multihost: settle check failed ({type(exc).__name__}); retrying")
            return False

    def _settled_now() -> bool:
        backends["pgboss"].boss.supervise(PGBOSS_QUEUE)
        open_by_arm = {
            r["served_arm"]: int(r["open"]) for r in query(engine, "open_count_by_arm", experiment=experiment)
        }
        if open_by_arm.get("pgboss", 0) or open_by_arm.get("inngest", 0):
            return False
        return open_by_arm.get("legacy", 0) == len(_orphans(engine, experiment, killed_pids))

    if not wait_for(settled, "every job settled", timeout=deadline, interval=1.0, fail=False):
        progress(f"multihost: {experiment} still has open jobs after {deadline:.0f} s")
        for row in query(engine, "open_trial_jobs", experiment=experiment):
            arm, job = row["served_arm"], row["backend_job_id"]
            try:
                state: object = backends[arm].state(job)
            except Exception as exc:  # a diagnosis, never a second failure
                state = f"unknown ({exc})"
            progress(f"multihost: open {arm} job {job} (trial job {row['trial_job_id']}): {state}")


@dataclass(frozen=True)
class _Reap:
    listed: frozenset[str]
    orphans: frozenset[str]
    at: datetime


def _reap_exactly(database_url: str, engine: Engine, experiment: str, killed_pids: set[int]) -> _Reap:
    """``bakeoff legacy reap``; it must list exactly the RUNNING rows of this run, and those must be
    the killed host's (a live host's RUNNING row reaped would be a job failed although it ran)."""
    rows = query(engine, "legacy_rows_of_experiment", experiment=experiment)
    running = {r["id"] for r in rows if r["status"] == "RUNNING"}
    orphans = _orphans(engine, experiment, killed_pids)
    at = db_now(engine)
    if not running and not orphans:
        return _Reap(listed=frozenset(), orphans=frozenset(), at=at)  # nothing RUNNING: nothing to reap
    result = subprocess.run(
        bakeoff_command(database_url, "legacy", "reap", "--older-than", "0s"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.endswith("worker_lost")}
    if listed != running or running != orphans:
        raise AssertionError(
            f"legacy reap listed {sorted(listed)}; RUNNING rows were {sorted(running)}; "
            f"the killed host's were {sorted(orphans)}"
        )
    return _Reap(listed=frozenset(listed), orphans=frozenset(orphans), at=at)


def _figures(
    engine: Engine,
    scenario: str,
    experiment: str,
    urls: Sequence[str],
    submissions: Sequence[Any],
    failures: int,
    log: _FaultLog,
    reap: _Reap,
) -> list[FaultFigures]:
    numbers = counts(engine, experiment)
    notes = []
    if numbers["trial_jobs"] != len(submissions):
        notes.append(f"{numbers['trial_jobs']} trial jobs for {len(submissions)} submissions")
    if numbers["enqueued"] != numbers["trial_jobs"]:
        notes.append(f"{numbers['trial_jobs'] - numbers['enqueued']} exposures without a backend job")
    exposures = int(query(engine, "exposure_event_count", experiment=experiment)[0]["submitted"])
    if exposures != len(submissions):
        notes.append(f"{exposures} exposure events for {len(submissions)} submissions")
    open_by_arm = {
        r["served_arm"]: int(r["open"]) for r in query(engine, "open_count_by_arm", experiment=experiment)
    }
    duplicates = duplicate_documents(engine, experiment, urls)
    rows = []
    for arm in ARMS:
        recovery = None
        if log.at is not None and log.in_flight.get(arm):
            finished = query(engine, "last_finished_of", ids=log.in_flight[arm])[0]["finished_at"]
            if finished is not None:
                recovery = max(0.0, (finished - log.at).total_seconds())
        remarks = [log.description] if arm == "legacy" else []
        if log.at is not None:
            remarks.append(f"{len(log.in_flight.get(arm, []))} in flight at the fault")
        rows.append(
            FaultFigures(
                arm=arm,
                fault=f"multihost_{scenario}",
                jobs=sum(1 for s in submissions if s.served_arm == arm),
                faults=0 if scenario == "latency_loss" else 1,
                lost=open_by_arm.get(arm, 0),
                duplicates=duplicates if arm == "legacy" else 0,
                recovery_seconds=recovery,
                submit_failures=failures if arm == "legacy" else 0,
                reaped=len(reap.listed) if arm == "legacy" else 0,
                notes=tuple(notes) if arm == "legacy" else (),
                remarks=tuple(remarks),
            )
        )
    return rows


@contextlib.contextmanager
def private_network_server(folder: Path) -> Iterator[str]:
    """A private embedded PostgreSQL (migrated) for the multi-host runs; checks capabilities first,
    so a machine without namespaces fails at once, naming what it lacks."""
    from bakeoff.testing.faults import private_server

    require_network_capabilities()
    with private_server(folder) as url:
        yield url
