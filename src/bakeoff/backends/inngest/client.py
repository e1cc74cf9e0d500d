"""``Inngest``: the client of the step engine, with an API close to Inngest's Python SDK.

One client is one app: it registers functions (``create_function``), sends events (``send``),
starts workers (``start_worker``) and reads run history (``get_run``, ``runs_for_event``,
``wait_for_run``, ``list_runs``). Nothing connects on construction; a small connection pool opens
on first use, and each worker thread has its own connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from bakeoff.backends.inngest.errors import InvalidFunction, RunTimeout
from bakeoff.backends.inngest.executor import Backoff, Executor, inngest_backoff, linear_backoff
from bakeoff.backends.inngest.function import Function, FunctionOptions, Handler
from bakeoff.backends.inngest.models import (
    Attempt,
    Cancel,
    Concurrency,
    Debounce,
    Event,
    Limits,
    RateLimit,
    Run,
    Singleton,
    StepRecord,
    Throttle,
    TriggerCron,
    TriggerEvent,
)
from bakeoff.backends.inngest.store import Conn, Sql
from bakeoff.backends.inngest.triggers import FUNCTION_FAILED, Dispatcher, FinishedRun, SentEvent
from bakeoff.backends.inngest.worker import Worker
from bakeoff.contract import DatabaseUnavailable
from bakeoff.db.urls import libpq_url, mask_url

__all__ = ["Inngest", "RunListener"]

logger = logging.getLogger(__name__)

RunListener = Callable[[FinishedRun], None]
DEFAULT_LEASE = timedelta(seconds=30)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list | tuple) else (value,)


class Inngest:
    """A step-engine app on PostgreSQL: functions, events, workers and run history."""

    def __init__(
        self,
        app_id: str,
        *,
        database_url: str,
        limits: Limits | None = None,
        backoff: Backoff | None = None,
        retry_interval: int | None = None,
        lease: timedelta = DEFAULT_LEASE,
        poll_interval: float = 1.0,
        synchronous_commit: bool = True,
    ) -> None:
        if not app_id or not isinstance(app_id, str):
            raise InvalidFunction("app_id must be a non-empty string")
        if lease <= timedelta(0) or poll_interval <= 0:
            # A non-positive lease would hand every claimed step straight to another worker.
            raise InvalidFunction(f"lease and poll_interval must be positive, not {lease}, {poll_interval}")
        self.app_id = app_id
        self.database_url = libpq_url(database_url)
        self.sql = Sql()
        self.limits = limits or Limits()
        if backoff is not None and retry_interval is not None:
            raise InvalidFunction("give backoff or retry_interval, not both")
        # retry_interval is the server's --retry-interval (linear); the default is Inngest's table.
        self.backoff = (
            linear_backoff(retry_interval) if retry_interval is not None else backoff or inngest_backoff
        )
        self.lease_ms = int(lease / timedelta(milliseconds=1))
        self.poll_interval = poll_interval
        # False trades the durability of the last few commits on a database crash (not a worker
        # crash) for less fsync wait per step; steps are at-least-once either way (see docs/inngest.md).
        self.synchronous_commit = synchronous_commit
        self.functions: dict[str, Function] = {}
        self.dispatcher = Dispatcher(self.sql, app_id, lambda: self.functions, self.limits)
        self._listeners: list[RunListener] = []
        self._pool: ConnectionPool[Any] | None = None

    def __repr__(self) -> str:
        return f"Inngest(app_id={self.app_id!r}, database_url={mask_url(self.database_url)!r})"

    # -- functions --------------------------------------------------------------------------------

    def create_function(
        self,
        *,
        fn_id: str,
        trigger: TriggerEvent | TriggerCron | Sequence[TriggerEvent | TriggerCron],
        retries: int = 4,
        concurrency: Concurrency | Sequence[Concurrency] | None = None,
        throttle: Throttle | None = None,
        rate_limit: RateLimit | None = None,
        debounce: Debounce | None = None,
        cancel: Cancel | Sequence[Cancel] | None = None,
        idempotency: str | None = None,
        on_failure: Handler | None = None,
        name: str | None = None,
        singleton: Singleton | None = None,
    ) -> Callable[[Handler], Function]:
        """Register the decorated handler as a function; every option is validated now."""
        options = FunctionOptions(
            retries=retries,
            concurrency=_as_tuple(concurrency),
            throttle=throttle,
            rate_limit=rate_limit,
            debounce=debounce,
            cancel=_as_tuple(cancel),
            idempotency=idempotency,
            name=name,
            singleton=singleton,
        )
        failure_id = f"{fn_id}-failure" if on_failure is not None else None
        probe = Function.build(fn_id=fn_id, handler=lambda ctx: None, trigger=trigger, options=options)

        def register(handler: Handler) -> Function:
            if fn_id in self.functions:
                raise InvalidFunction(f"fn_id {fn_id!r} is already registered on app {self.app_id!r}")
            fn = Function(
                fn_id=fn_id, handler=handler, triggers=probe.triggers, options=options,
                on_failure_id=failure_id, expressions=probe.expressions,
            )  # fmt: skip
            self.functions[fn_id] = fn
            if on_failure is not None and failure_id is not None:
                self._register_failure_handler(fn_id, failure_id, on_failure)
            return fn

        return register

    def _register_failure_handler(self, fn_id: str, failure_id: str, handler: Handler) -> None:
        # As Inngest's SDK does: a function on inngest/function.failed, filtered to fn_id, no retries.
        trigger = TriggerEvent(event=FUNCTION_FAILED, expression=f"event.data.function_id == {fn_id!r}")
        self.functions[failure_id] = Function.build(
            fn_id=failure_id, handler=handler, trigger=trigger, options=FunctionOptions(retries=0)
        )

    # -- connections ------------------------------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        """A pooled autocommit connection (the pool opens on first use)."""
        if self._pool is None:
            self._pool = ConnectionPool(
                self.database_url, min_size=1, max_size=8, kwargs={"autocommit": True}, open=True
            )
        with self._pool.connection() as conn:
            yield conn

    def close(self) -> None:
        """Close the client's connection pool (workers close their own connections on stop)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # -- events -----------------------------------------------------------------------------------

    def send(self, events: Event | list[Event], *, conn: psycopg.Connection[Any] | None = None) -> list[str]:
        """Send events; returns their ids. With ``conn``, inside that open transaction."""
        return [s.event_id for s in self.send_detailed(events, conn=conn)]

    def send_detailed(
        self, events: Event | list[Event], *, conn: psycopg.Connection[Any] | None = None
    ) -> list[SentEvent]:
        """Like :meth:`send`, also saying which runs each event started (and whether it was a duplicate).

        With ``conn`` the caller commits; run listeners (for runs the events cancelled) are called
        before that commit.
        """
        batch = events if isinstance(events, list) else [events]
        finished: list[FinishedRun] = []
        if conn is not None:
            sent = self.dispatcher.send(conn, batch, finished)
        else:
            with self.connection() as own, own.transaction():
                sent = self.dispatcher.send(own, batch, finished)
        self.notify_finished(finished)
        return sent

    # -- runs -------------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        """The run with its steps and attempts; raises KeyError for an unknown id."""
        with self.connection() as conn:
            row = self.sql.one(conn, "get_run", run_id=run_id)
            if row is None:
                raise KeyError(f"no run {run_id}")
            steps = tuple(StepRecord.from_row(r) for r in self.sql.run(conn, "get_steps", run_id=run_id))
            attempts = tuple(Attempt.from_row(r) for r in self.sql.run(conn, "get_attempts", run_id=run_id))
        return Run.from_row(row, steps, attempts)

    def runs_for_event(self, event_id: str) -> list[str]:
        with self.connection() as conn:
            return [str(r["run_id"]) for r in self.sql.run(conn, "runs_for_event", event_id=event_id)]

    def finished_runs_since(self, fn_id: str, since: datetime) -> list[tuple[FinishedRun, datetime]]:
        """Runs of ``fn_id`` that ended after ``since``, oldest first, each with when it ended."""
        with self.connection() as conn:
            rows = self.sql.run(conn, "finished_runs_since", app_id=self.app_id, fn_id=fn_id, since=since)
        return [(FinishedRun.from_row(row), row["ended_at"]) for row in rows]

    def list_runs(
        self, *, status: str | None = None, fn_id: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        with self.connection() as conn:
            return self.sql.run(conn, "list_runs", status=status, fn_id=fn_id, limit=limit)

    def wait_for_run(self, run_id: str, *, timeout: float = 30.0) -> Run:
        """Poll until the run ends; raises :class:`RunTimeout` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        pause = 0.005
        while True:
            run = self.get_run(run_id)
            if run.status.is_terminal:
                return run
            if time.monotonic() >= deadline:
                raise RunTimeout(f"run {run_id} is still {run.status} after {timeout} s")
            time.sleep(pause)
            pause = min(pause * 1.5, 0.1)

    def run_progress(self, run_id: str) -> tuple[str, int] | None:
        """A run's status and the attempt its next invocation would be (None for an unknown run)."""
        with self.connection() as conn:
            row = self.sql.one(conn, "run_progress", run_id=run_id)
        return None if row is None else (str(row["status"]), int(row["retry_attempt"]))

    def queue_depth(self) -> tuple[int, int]:
        """(runs queued, runs in progress) across the schema."""
        with self.connection() as conn:
            row = self.sql.one(conn, "queue_depth")
        return (0, 0) if row is None else (int(row["queued"]), int(row["running"]))

    def cancel_run(self, run_id: str) -> bool:
        """Cancel a run that has not ended; True when it was cancelled now."""
        finished: list[FinishedRun] = []
        with self.connection() as conn, conn.transaction():
            cancelled = self.dispatcher.cancel_run(conn, run_id, finished, reason="cancelled by cancel_run")
        self.notify_finished(finished)
        return cancelled

    # -- workers and listeners --------------------------------------------------------------------

    def start_worker(self, concurrency: int = 4) -> Worker:
        """Start background worker threads for this app's functions; ``worker.stop()`` ends them.

        Raises :class:`~bakeoff.contract.DatabaseUnavailable`, before any thread starts, when the
        database lacks the step engine's schema (``bakeoff db upgrade`` has not run on it).
        """
        self.check_schema()
        worker = Worker(
            self, concurrency=concurrency, poll_interval=self.poll_interval, lease_ms=self.lease_ms
        )
        return worker.start()

    def check_schema(self) -> None:
        """Raise :class:`~bakeoff.contract.DatabaseUnavailable` unless the engine's schema is installed.

        The schema is the ``inngest`` branch of ``bakeoff db upgrade``; without it every worker
        thread would fail each claim with ``relation "inngest.queue" does not exist``, in a loop.
        """
        with self.connection() as conn:
            installed = self.sql.scalar(conn, "schema_installed", schema=self.sql.schema)
        if not installed:
            raise DatabaseUnavailable(
                f"the step engine's schema {self.sql.schema!r} is not installed in "
                f"{mask_url(self.database_url)}: run `bakeoff db upgrade` first"
            )

    def make_executor(
        self, worker_id: str, lease_ms: int, on_finished: Callable[[list[FinishedRun]], None]
    ) -> Executor:
        return Executor(
            self.sql, self.dispatcher, lambda: self.functions, self.limits, self.backoff, self.send,
            worker_id, lease_ms, on_finished,
        )  # fmt: skip

    def add_run_listener(self, listener: RunListener) -> None:
        """Call ``listener`` (after commit) for every run that completes, fails or is cancelled."""
        self._listeners.append(listener)

    def notify_finished(self, runs: list[FinishedRun]) -> None:
        for run in runs:
            for listener in self._listeners:
                try:
                    listener(run)
                except Exception:
                    logger.exception("run listener failed for run %s", run.run_id)
