"""The pgboss arm behind the trial's :class:`bakeoff.contract.JobBackend` contract.

Built by ``create_backend("pgboss", engine, ...)``. Submitting is ``boss.send(queue, {...}, conn=)``
inside the router's transaction; :meth:`PgBossBackend.run_workers` is ``boss.work(...)`` with
``local_concurrency = concurrency`` until ``stop`` is set. Each run of ``import_article`` is wrapped
in the shared :class:`~bakeoff.metrics.Instrumentation`; the terminal outcome is recorded when the
job reaches it: the worker's settle hook records completed, and failed when no retries were left;
``cancel()`` records cancelled; jobs failed without a worker (expiry, heartbeat loss, shutdown) are
reconciled from the job table every few seconds while workers run.

Like real pg-boss, every thrown error is retried up to ``retry_limit`` - including imports that
``ImportFailed.retryable`` says cannot succeed, because pg-boss has no per-error "do not retry" and
the arm measures pg-boss as a team would run it (see docs/pgboss.md).

State mapping::

    created                      -> QUEUED
    retry, or active after a retry -> RETRYING
    active (first attempt)       -> RUNNING
    completed / failed / cancelled -> COMPLETED / FAILED / CANCELLED
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Connection, Engine

from bakeoff.backends.base import ArmBackend, Settled, error_kind_for, parse_uuid
from bakeoff.backends.pgboss.boss import PgBoss
from bakeoff.backends.pgboss.models import Job
from bakeoff.contract import BackendError, Health, ImportRequest, InvalidRequest, JobState
from bakeoff.db.urls import libpq_url
from bakeoff.metrics.instrument import error_kind_of

if TYPE_CHECKING:
    from bakeoff.workload.models import ImportSettings

__all__ = ["PgBossBackend", "as_settled", "failure_of", "job_state"]

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 30
_TERMINAL = {"completed": JobState.COMPLETED, "failed": JobState.FAILED, "cancelled": JobState.CANCELLED}


def job_state(job: Job) -> JobState:
    """pg-boss's state string onto the trial's :class:`JobState`."""
    if job.state in _TERMINAL:
        return _TERMINAL[job.state]
    if job.state == "retry" or (job.state == "active" and job.retry_count > 0):
        return JobState.RETRYING
    return JobState.RUNNING if job.state == "active" else JobState.QUEUED


class _BossWorkers:
    """The ``boss.work`` loops of one :meth:`PgBossBackend.run_workers`; stopping stops the instance."""

    def __init__(self, boss: PgBoss) -> None:
        self.boss = boss

    def stop(self) -> None:
        self.boss.stop(graceful=True, timeout=STOP_TIMEOUT_SECONDS)


class PgBossBackend(ArmBackend):
    """The candidate arm: a pg-boss 12 queue with LISTEN/NOTIFY wake-ups and SKIP LOCKED claims."""

    name = "pgboss"

    def __init__(
        self,
        engine: Engine,
        *,
        import_settings: ImportSettings | None = None,
        queue: str = "article-import",
        retry_limit: int = 2,
        retry_delay: int = 1,
        retry_backoff: bool = True,
        expire_in_seconds: int = 300,
        polling_interval_seconds: float = 2.0,
        schema: str = "pgboss",
        use_listen_notify: bool = True,
        max_connections: int = 20,
    ) -> None:
        if polling_interval_seconds < 0.5:
            raise InvalidRequest("polling_interval_seconds must be at least 0.5")
        super().__init__(engine, import_settings=import_settings)
        self.queue = queue
        self.queue_options: dict[str, Any] = {
            "retry_limit": retry_limit,
            "retry_delay": retry_delay,
            "retry_backoff": retry_backoff,
            "expire_in_seconds": expire_in_seconds,
        }
        self.polling_interval_seconds = polling_interval_seconds
        self.boss = PgBoss(
            libpq_url(engine.url),
            schema=schema,
            use_listen_notify=use_listen_notify,
            schedule=False,
            max_connections=max_connections,
        )
        self._ready = threading.Lock()

    def _started(self) -> PgBoss:
        with self._ready:
            if not self.boss.is_started:
                self.boss.start()
                self.boss.create_queue(self.queue, **self.queue_options)
        return self.boss

    def submit(self, request: ImportRequest, *, trial_job_id: UUID, conn: Connection) -> str:
        """``send`` inside the router's open transaction; the pg-boss job id."""
        data = {
            "url": request.url,
            "trial_job_id": str(trial_job_id),
            "idempotency_key": request.idempotency_key,
        }
        job_id = self._started().send(self.queue, data, conn=conn)
        if job_id is None:
            raise BackendError("pgboss: the queue refused the job (policy or throttle)")
        return job_id

    def state(self, backend_job_id: str) -> JobState:
        job = self._started().get_job_by_id(self.queue, backend_job_id)
        if job is None:
            raise BackendError(f"pgboss: no job {backend_job_id}")
        return job_state(job)

    def cancel(self, backend_job_id: str) -> bool:
        """Cancel a job that has not finished; records the cancelled outcome."""
        boss = self._started()
        job = boss.get_job_by_id(self.queue, backend_job_id)
        if job is None or boss.cancel(self.queue, backend_job_id).affected == 0:
            return False
        self.record(Settled(trial_job_id=_trial_job_id(job), outcome="cancelled", error_kind="cancelled"))
        return True

    def health(self) -> Health:
        try:
            stats = self._started().get_queue_stats(self.queue)
        except Exception as exc:
            return Health(ok=False, detail=f"pgboss: {type(exc).__name__}: {exc}")
        return Health(
            ok=True,
            detail=f"pg-boss queue {self.queue}, listening={self.boss.listening()}",
            queued=stats.queued_count,
            running=stats.active_count,
            extra={"failed": stats.failed_count, "deferred": stats.deferred_count},
        )

    def start_workers(self, concurrency: int, stop: threading.Event) -> _BossWorkers:
        """``boss.work`` with ``concurrency`` loops; stopping them is a graceful ``boss.stop()``."""
        if concurrency > self.boss.db.max_size - 2:
            logger.warning(
                "pgboss: %d worker loops share a pool of %d connections; raise max_connections",
                concurrency,
                self.boss.db.max_size,
            )
        boss = self._started()
        boss.work(
            self.queue,
            self.handle,
            local_concurrency=concurrency,
            polling_interval_seconds=self.polling_interval_seconds,
            # The notify backstop equals the poll interval, so retries and a backlog are found as
            # promptly as without LISTEN/NOTIFY (pg-boss's 30 s default would idle a loop after
            # each job once notifications stop, e.g. while retries come due).
            notify_polling_interval_seconds=self.polling_interval_seconds,
            include_metadata=True,
            on_settled=self._on_settled,
        )
        return _BossWorkers(boss)

    def close(self) -> None:
        """Stop the pg-boss instance a submit started in this process: its pool and LISTEN session."""
        if self.boss.is_started:
            self.boss.stop(graceful=False, timeout=5)

    def _on_settled(self, how: str, jobs: list[Job], output: Any, affected: int) -> None:
        """Record the terminal outcome when the worker's complete()/fail() made it terminal."""
        if affected == 0:  # fenced out: the job was settled elsewhere (expiry, stop)
            return
        for job in jobs:
            # A failure with retries left is not terminal: pg-boss retries it.
            if how == "completed" or job.retry_count >= (job.retry_limit or 0):
                self.record(as_settled(job, how, output))

    def settled_since(self, since: datetime) -> Iterator[tuple[Settled, datetime]]:
        """Jobs completed or failed after ``since``: by expiry, heartbeat loss or stop, and those whose
        worker died (SIGKILL) between pg-boss's complete() committing and its settle hook recording."""
        for job in self._started().settled_since(self.queue, since):
            yield as_settled(job, job.state, job.output), job.completed_on or since

    def handle(self, jobs: list[Job]) -> dict[str, Any] | None:
        """The pg-boss handler: one import per job, measured like every other arm."""
        output: dict[str, Any] | None = None
        for job in jobs:
            output = self._import(job)
        return output

    def _import(self, job: Job) -> dict[str, Any]:
        from bakeoff.workload.articles import import_article

        trial_job_id = _trial_job_id(job)
        data = job.data or {}
        with self.instrumentation.attempt(trial_job_id, job.retry_count + 1):
            document = import_article(
                data["url"],
                engine=self.engine,
                trial_job_id=trial_job_id,
                idempotency_key=data.get("idempotency_key"),
                settings=self.import_settings,
            )
        return document.to_dict()


_SUPERVISOR_KINDS = {
    "job timed out": "timeout",
    "job heartbeat timeout": "worker_lost",
    "pg-boss shut down while active": "worker_lost",
}


def failure_of(output: Any) -> tuple[str, str]:
    """(error_kind, error_message) of what a job was failed with."""
    if isinstance(output, BaseException):
        return error_kind_of(output), f"{type(output).__name__}: {output}"
    value = output.get("value", output) if isinstance(output, dict) else output
    message = value.get("message") if isinstance(value, dict) else value
    text = str(message) if message is not None else "failed"
    if text.startswith("handler execution exceeded"):
        return "timeout", text
    return _SUPERVISOR_KINDS.get(text, "internal_error"), text


def as_settled(job: Job, how: str | None, output: Any) -> Settled:
    """A job pg-boss settled as ``how`` (completed, else failed) with ``output``, as the trial records it."""
    if how == "completed":
        document = output.get("document_id") if isinstance(output, dict) else None
        return Settled(trial_job_id=_trial_job_id(job), outcome="completed", document_id=parse_uuid(document))
    kind, message = failure_of(output)
    return Settled(
        trial_job_id=_trial_job_id(job),
        outcome="failed",
        error_kind=error_kind_for("failed", kind),
        error_message=message,
    )


def _trial_job_id(job: Job) -> UUID | None:
    return parse_uuid(job.data.get("trial_job_id")) if isinstance(job.data, dict) else None
