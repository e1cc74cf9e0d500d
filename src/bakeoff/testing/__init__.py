"""Test support shipped with the package: isolated PostgreSQL databases, waits, and real fake arms.

:class:`TestDatabases` finds a server (``BAKEOFF_TEST_DATABASE_URL``, else an embedded server kept
under ``BAKEOFF_TEST_DATA_DIR`` or the temp folder), migrates one template database per session, and
hands each test a fresh copy of it, so tests can run in any order and never see each other's rows.
:func:`wait_for` waits on an observable condition; :func:`single_arm_router` is a real router over
one arm. Fakes for the router (:class:`RecordingBackend` and kin) are real classes on a real table.

Tests and benchmarks share the rest of the package: :mod:`.faults` (the fault-injection harness)
and :mod:`.pgboss_node` (the pinned real pg-boss in Node). All of its SQL is in ``queries.sql``.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, text

from bakeoff.contract import BackendError, Health, ImportRequest, JobBackend, JobState
from bakeoff.db.embedded import ensure_embedded_server
from bakeoff.db.engine import connect_raw, make_engine
from bakeoff.db.migrate import upgrade
from bakeoff.db.sql import load_queries
from bakeoff.db.urls import libpq_url, with_database
from bakeoff.metrics import Recorder, RoutedJob
from bakeoff.router import Experiment, ExperimentStore, Router

__all__ = [
    "QUERIES",
    "FailingBackend",
    "HangingBackend",
    "RecordingBackend",
    "TestDatabases",
    "bakeoff_command",
    "emptied",
    "free_port",
    "record_routed_job",
    "router_fake_backend",
    "running_workers",
    "shared_router_database",
    "single_arm_router",
    "test_server_url",
    "trial_job_row",
    "wait_for",
]

QUERIES = load_queries("bakeoff.testing")
"""The SQL of the router's fakes and of the fault harness, by name."""


def test_server_url() -> str:
    """The server tests use: ``BAKEOFF_TEST_DATABASE_URL`` or the embedded one."""
    configured = os.environ.get("BAKEOFF_TEST_DATABASE_URL")
    if configured:
        return libpq_url(configured)
    data_dir = Path(
        os.environ.get("BAKEOFF_TEST_DATA_DIR")
        or Path(tempfile.gettempdir()) / f"bakeoff-test-pg-{os.getuid()}"
    )
    return libpq_url(ensure_embedded_server(data_dir).url)


EPHEMERAL_PORTS_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_CHOSEN_PORT = 10000


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now, for a server that another process (or a later call) binds.

    Chosen below the kernel's ephemeral range when the machine says where that starts: every outgoing
    connection takes its local port from that range, so a port ``bind(("", 0))`` hands back can be
    taken by some other test's HTTP client before the server binds it (a CI run lost an ``inngest
    serve`` that way). Falls back to the kernel's choice when no port below the range is free.
    """
    try:
        ephemeral_low = int(EPHEMERAL_PORTS_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = LOWEST_CHOSEN_PORT
    below_ephemeral = range(LOWEST_CHOSEN_PORT, ephemeral_low)  # empty when the range starts lower
    for port in [*random.sample(below_ephemeral, min(50, len(below_ephemeral))), 0]:
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError(f"no free TCP port on {host}")


def wait_for(
    condition: Callable[[], object],
    what: str,
    *,
    timeout: float = 60.0,
    interval: float = 0.05,
    fail: bool = True,
) -> bool:
    """Poll ``condition`` until it is true (True); after ``timeout`` seconds raise AssertionError naming
    ``what``, or return False when ``fail`` is off.

    For tests and benchmarks that wait on something observable (a row, a counter, a log line) instead
    of sleeping. The timeout is a bound, not a timed assertion.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            if fail:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            return bool(condition())
        time.sleep(interval)
    return True


class TestDatabases:
    """Creates a migrated template once, then one throwaway database per test."""

    __test__ = False  # not a pytest test class

    def __init__(self, server_url: str | None = None) -> None:
        self.server_url = server_url or test_server_url()
        self.template = f"bakeoff_tpl_{uuid.uuid4().hex[:12]}"
        self._template_ready = False

    def _admin(self) -> object:
        return connect_raw(self.server_url, autocommit=True)

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        with connect_raw(self.server_url) as admin:
            admin.execute(f'CREATE DATABASE "{self.template}"')
        engine = make_engine(with_database(self.server_url, self.template), pool_size=1)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        self._template_ready = True

    def create(self) -> str:
        """A fresh, migrated database; returns its URL."""
        self._ensure_template()
        name = f"bakeoff_t_{uuid.uuid4().hex[:16]}"
        with connect_raw(self.server_url) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}" STRATEGY FILE_COPY')
        return with_database(self.server_url, name)

    def create_empty(self) -> str:
        """A fresh database with no schema at all (for migration tests)."""
        name = f"bakeoff_e_{uuid.uuid4().hex[:16]}"
        with connect_raw(self.server_url) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return with_database(self.server_url, name)

    @contextmanager
    def scratch(self) -> Iterator[str]:
        """A fresh, migrated database for the block (:meth:`create`), dropped after it."""
        url = self.create()
        try:
            yield url
        finally:
            self.drop(url)

    def drop(self, url: str) -> None:
        """Drop a database made by :meth:`create`, ending any sessions still connected."""
        name = make_engine(url).url.database
        with connect_raw(self.server_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self._template_ready:
            with connect_raw(self.server_url) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
            self._template_ready = False


# -- fakes for the router ---------------------------------------------------------------------
# Real backend classes (no mocks) for router tests and benchmarks: each enqueues into a real
# table, ``public.router_fake_jobs``, on the connection the router hands it, so the exposure row and
# the fake job commit or roll back together exactly as a built-in arm's would.

ROUTER_FAKE_JOBS = "public.router_fake_jobs"


def ensure_router_fake_jobs(engine: Engine) -> None:
    """Create ``public.router_fake_jobs`` once (safe when several processes race to create it)."""
    with engine.begin() as conn:
        conn.execute(text(QUERIES["router_fake_lock"]))
        conn.execute(text(QUERIES["router_fake_create"]))


@contextmanager
def shared_router_database(test_databases: TestDatabases) -> Iterator[str]:
    """A migrated database with ``router_fake_jobs``, for a session of tests that each start from
    emptied tables (:func:`emptied`) instead of paying for a new database; dropped on exit."""
    url = test_databases.create()
    engine = make_engine(url, pool_size=1)
    try:
        ensure_router_fake_jobs(engine)
    finally:
        engine.dispose()
    try:
        yield url
    finally:
        test_databases.drop(url)


def emptied(url: str, tables: str) -> str:
    """``url`` after ``TRUNCATE tables RESTART IDENTITY`` (a comma-separated list of tables)."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
    finally:
        engine.dispose()
    return url


class RecordingBackend:
    """An arm that enqueues one row per submit into ``router_fake_jobs`` in the router's transaction."""

    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self.engine = engine
        ensure_router_fake_jobs(engine)

    def submit(self, request: ImportRequest, *, trial_job_id: UUID, conn: Connection) -> str:
        params = {"arm": self.name, "trial_job_id": trial_job_id, "url": request.url}
        return str(conn.execute(text(QUERIES["router_fake_insert"]), params).scalar_one())

    def state(self, backend_job_id: str) -> JobState:
        with self.engine.connect() as conn:
            if conn.execute(text(QUERIES["router_fake_exists"]), {"job_id": backend_job_id}).first() is None:
                raise BackendError(f"no fake job {backend_job_id!r} in arm {self.name!r}")
        return JobState.QUEUED

    def cancel(self, backend_job_id: str) -> bool:
        with self.engine.begin() as conn:
            return (
                conn.execute(text(QUERIES["router_fake_delete"]), {"job_id": backend_job_id}).first()
                is not None
            )

    def health(self) -> Health:
        with self.engine.connect() as conn:
            queued = int(conn.execute(text(QUERIES["router_fake_count"]), {"arm": self.name}).scalar_one())
        return Health(ok=True, detail="fake arm for router tests", queued=queued)

    def run_workers(self, *, concurrency: int, stop: threading.Event) -> None:
        stop.wait()  # fake jobs are never worked; they only prove the enqueue happened

    def close(self) -> None:
        """Nothing to release: every call uses the caller's engine."""


class FailingBackend(RecordingBackend):
    """An arm that writes its row and then raises, so the router must undo the write and fall back."""

    def submit(self, request: ImportRequest, *, trial_job_id: UUID, conn: Connection) -> str:
        job_id = super().submit(request, trial_job_id=trial_job_id, conn=conn)
        raise BackendError(f"fake arm {self.name!r} refused job {job_id} (it was written, then failed)")


class HangingBackend(RecordingBackend):
    """An arm whose submit hangs for ``seconds``.

    ``mode="database"`` sleeps in a statement (the router's ``statement_timeout`` ends it);
    ``mode="unbounded"`` first lifts the statement timeout, so only the router's client-side watchdog
    can end it; ``mode="python"`` sleeps outside the database and then enqueues, so the router must
    discard the late answer.
    """

    def __init__(self, name: str, engine: Engine, *, seconds: float = 30.0, mode: str = "database") -> None:
        if mode not in ("database", "unbounded", "python"):
            raise ValueError(f"mode must be 'database', 'unbounded' or 'python', not {mode!r}")
        super().__init__(name, engine)
        self.seconds = seconds
        self.mode = mode

    def submit(self, request: ImportRequest, *, trial_job_id: UUID, conn: Connection) -> str:
        if self.mode == "python":
            time.sleep(self.seconds)
        else:
            if self.mode == "unbounded":
                conn.execute(text(QUERIES["router_fake_no_timeout"]))
            conn.execute(text(QUERIES["router_fake_sleep"]), {"seconds": self.seconds})
        return super().submit(request, trial_job_id=trial_job_id, conn=conn)


def bakeoff_command(database_url: str, *args: str) -> list[str]:
    """The ``bakeoff`` CLI on ``database_url`` with ``args``, as a subprocess command line."""
    return [sys.executable, "-m", "bakeoff", "--database-url", database_url, *args]


def record_routed_job(
    engine: Engine,
    experiment: str,
    *,
    arm: str,
    unit_key: str,
    url: str,
    conn: Connection | None = None,
    submitted_at: datetime | None = None,
) -> UUID:
    """A trial job served by ``arm`` by hash, written as the router writes one (``Recorder.routed``
    under the experiment's stored rule), for tests that need jobs of a chosen arm without its queue.

    Inside ``conn``'s transaction when given (many jobs in one commit), else in its own.
    ``submitted_at`` defaults, as in the router, to the start of that transaction: give one when
    many jobs share a transaction and their latencies must not grow with their order in it.
    """
    state = ExperimentStore(engine).load(experiment)
    job = RoutedJob(
        trial_job_id=uuid.uuid4(),
        experiment=experiment,
        phase=state.phase,
        salt=state.salt,
        killed_arms=tuple(sorted(state.killed_arms)),
        unit_key=unit_key,
        assigned_arm=arm,
        served_arm=arm,
        assignment_reason="hash",
        url=url,
        backend_job_id=f"test-{unit_key}",
        submitted_at=submitted_at,
    )
    recorder = Recorder(engine)
    if conn is not None:
        written = recorder.routed(job, conn=conn)
    else:
        with engine.begin() as own:
            written = recorder.routed(job, conn=own)
    if not written:
        raise AssertionError(f"experiment {experiment!r} changed while a test job was written")
    return job.trial_job_id


def trial_job_row(engine: Engine, trial_job_id: UUID) -> dict[str, Any]:
    """One trial job's row of ``bakeoff.trial_jobs``, as a dict."""
    with engine.connect() as conn:
        row = conn.execute(text(QUERIES["trial_job"]), {"trial_job_id": trial_job_id}).mappings().one()
    return dict(row)


@contextmanager
def running_workers(backend: JobBackend, *, concurrency: int = 2, timeout: float = 60.0) -> Iterator[None]:
    """The arm's ``run_workers`` in a thread for the block; then stopped, and its drain waited for."""
    stop = threading.Event()
    thread = threading.Thread(
        target=backend.run_workers, kwargs={"concurrency": concurrency, "stop": stop}, name="workers"
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"the {backend.name} workers did not return {timeout}s after stop")


def single_arm_router(engine: Engine, backend: JobBackend, *, experiment: str | None = None) -> Router:
    """A real :class:`~bakeoff.router.Router` whose only arm, and control, is ``backend``.

    Its submits take the router's own write path (the arm's enqueue and ``Recorder.routed`` in one
    transaction), so a test or benchmark that needs trial jobs of one arm gets them as production
    does. The experiment defaults to ``"{arm}-only"``; close the router when done.
    """
    name = experiment or f"{backend.name}-only"
    arm = backend.name
    return Router(engine, experiment=Experiment(name=name, arms=(arm,), control=arm), backends={arm: backend})


def router_fake_backend(name: str, engine: Engine, **options: object) -> JobBackend:
    """A :class:`RecordingBackend` built like ``create_backend(name, engine)`` (for ``bakeoff route``)."""
    return RecordingBackend(name, engine)
