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
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Connection, Engine

from bakeoff.backends.pgboss.boss import PgBoss
from bakeoff.backends.pgboss.types import Job
from bakeoff.contract import BackendError, Health, ImportRequest, InvalidRequest, JobState
from bakeoff.db.urls import libpq_url
from bakeoff.metrics import Instrumentation, Recorder
from bakeoff.metrics.instrument import error_kind_of

if TYPE_CHECKING:
    from bakeoff.workload.models import ImportSettings

__all__ = ["PgBossBackend", "failure_of", "job_state"]

logger = logging.getLogger(__name__)

RECONCILE_SECONDS = 5.0
RECONCILE_LOOKBACK_SECONDS = 3600
_TERMINAL = {"completed": JobState.COMPLETED, "failed": JobState.FAILED, "cancelled": JobState.CANCELLED}


def job_state(job: Job) -> JobState:
    """pg-boss's state string onto the trial's :class:`JobState`."""
    if job.state in _TERMINAL:
        return _TERMINAL[job.state]
    if job.state == "retry" or (job.state == "active" and job.retry_count > 0):
        return JobState.RETRYING
    return JobState.RUNNING if job.state == "active" else JobState.QUEUED


class PgBossBackend:
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
        self.engine = engine
        self.import_settings = import_settings
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
        self.instrumentation = Instrumentation(Recorder(engine))
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
        self.instrumentation.terminal(_trial_job_id(job), "cancelled", error_kind="cancelled")
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

    def run_workers(self, *, concurrency: int, stop: threading.Event) -> None:
        """``boss.work`` with ``concurrency`` loops until ``stop`` is set, then a graceful ``stop()``."""
        if concurrency < 1:
            raise InvalidRequest(f"concurrency must be >= 1, not {concurrency}")
        if concurrency > self.boss.db.max_size - 2:
            logger.warning(
                "pgboss: %d worker loops share a pool of %d connections; raise max_connections",
                concurrency,
                self.boss.db.max_size,
            )
        boss = self._started()
        since = datetime.now(UTC) - timedelta(seconds=RECONCILE_LOOKBACK_SECONDS)
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
        while not stop.wait(RECONCILE_SECONDS):
            since = self._contained_reconcile(since)
        boss.stop(graceful=True, timeout=30)
        self._contained_reconcile(since)

    def close(self) -> None:
        """Stop the pg-boss instance a submit started in this process: its pool and LISTEN session."""
        if self.boss.is_started:
            self.boss.stop(graceful=False, timeout=5)

    def _on_settled(self, how: str, jobs: list[Job], output: Any, affected: int) -> None:
        """Record the terminal outcome when the worker's complete()/fail() made it terminal."""
        if affected == 0:  # fenced out: the job was settled elsewhere (expiry, stop)
            return
        for job in jobs:
            trial_job_id = _trial_job_id(job)
            if how == "completed":
                document = output.get("document_id") if isinstance(output, dict) else None
                self.instrumentation.terminal(trial_job_id, "completed", document_id=_uuid(document))
            elif job.retry_count >= (job.retry_limit or 0):  # no retries left: pg-boss failed it for good
                kind, message = failure_of(output)
                self.instrumentation.terminal(trial_job_id, "failed", error_kind=kind, error_message=message)

    def _contained_reconcile(self, since: datetime) -> datetime:
        try:
            return self.reconcile(since)
        except Exception:
            logger.exception("pgboss: reconciling failed jobs' outcomes failed")
            return since

    def reconcile(self, since: datetime) -> datetime:
        """Record outcomes no worker recorded; repeats are no-ops.

        Failed: by expiry, heartbeat loss or stop. Completed: the worker died (SIGKILL) between
        pg-boss's complete() committing and its settle hook recording the outcome.
        """
        latest = since
        for job in self._started().settled_since(self.queue, since):
            if job.state == "completed":
                document = job.output.get("document_id") if isinstance(job.output, dict) else None
                self.instrumentation.terminal(_trial_job_id(job), "completed", document_id=_uuid(document))
            else:
                kind, message = failure_of(job.output)
                self.instrumentation.terminal(
                    _trial_job_id(job), "failed", error_kind=kind, error_message=message
                )
            latest = max(latest, job.completed_on or latest)
        return latest

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


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def _trial_job_id(job: Job) -> UUID | None:
    raw = (job.data or {}).get("trial_job_id") if isinstance(job.data, dict) else None
    try:
        return UUID(str(raw)) if raw else None
    except ValueError:
        return None
