"""The legacy arm behind the trial's :class:`bakeoff.contract.JobBackend` contract.

Built by ``create_backend("legacy", engine, ...)``. Submitting inserts a PENDING ``legacy.job`` row
in the router's transaction; :meth:`LegacyBackend.run_workers` runs the chosen processor
(``loop``: ``concurrency`` loop processors; ``adaptive``: one adaptive processor scaling between
``min_workers`` and ``concurrency``; ``single``: one job per processor, repeated until stopped).

State mapping (the legacy table has four statuses; the trial has six)::

    PENDING (first row)                 -> QUEUED
    PENDING or RUNNING (a retry row)    -> RETRYING
    RUNNING                             -> RUNNING
    COMPLETED                           -> COMPLETED
    FAILED, error_kind='cancelled'      -> CANCELLED
    FAILED                              -> FAILED

The state of a job is the state of the newest row of its retry chain, so a job the backend (or a
person, with ``bakeoff legacy retry``) retried reads as that retry's state.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal
from uuid import UUID

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from bakeoff.backends.base import ArmBackend, Settled, parse_uuid
from bakeoff.backends.legacy.errors import ErrorKind
from bakeoff.backends.legacy.handlers import import_limits_json, parse_handler
from bakeoff.backends.legacy.processors import AdaptiveProcessor, LoopProcessor, process_one
from bakeoff.backends.legacy.runner import JobRunner, RunnerOptions
from bakeoff.backends.legacy.stdout_protocol import StdoutProtocol
from bakeoff.backends.legacy.store import JobRef, JobStatus, JobStore
from bakeoff.contract import BackendError, Health, ImportRequest, InvalidRequest, JobState

if TYPE_CHECKING:
    from bakeoff.workload.models import ImportSettings

__all__ = ["PROCESSORS", "LegacyBackend"]

logger = logging.getLogger(__name__)

ProcessorName = Literal["single", "loop", "adaptive"]
PROCESSORS: tuple[ProcessorName, ...] = ("single", "loop", "adaptive")
JOIN_TIMEOUT_SECONDS = 900.0


class _ProcessorThreads:
    """The processors of one :meth:`LegacyBackend.run_workers`: each runs until the stop event is set."""

    def __init__(self, threads: list[threading.Thread]) -> None:
        self.threads = threads
        for thread in threads:
            thread.start()

    def stop(self) -> None:
        """Wait for the processors to return (running children are finished first)."""
        for thread in self.threads:
            thread.join(timeout=JOIN_TIMEOUT_SECONDS)


class LegacyBackend(ArmBackend):
    """The control arm: the home-made job table, polling processors and one process per job."""

    name = "legacy"

    def __init__(
        self,
        engine: Engine,
        *,
        import_settings: ImportSettings | None = None,
        processor: str = "loop",
        poll_interval: float = 1.0,
        crash_after_complete: bool = True,
        spawn_per_job: bool = True,
        stdout_protocol: str = "strict",
        auto_retry: int = 0,
        min_workers: int = 1,
        max_workers: int = 4,
        handler: str = "import_article",
        job_timeout: float = 600.0,
    ) -> None:
        if processor not in PROCESSORS:
            raise InvalidRequest(f"processor must be one of {', '.join(PROCESSORS)}, not {processor!r}")
        if poll_interval <= 0:
            raise InvalidRequest(f"poll_interval must be > 0 seconds, not {poll_interval}")
        parse_handler(handler)
        super().__init__(engine, import_settings=import_settings)
        self.store = JobStore(engine)
        self.processor: ProcessorName = processor
        self.poll_interval = poll_interval
        self.min_workers = min_workers
        self.max_workers = max_workers
        self.handler = handler
        self.options = RunnerOptions(
            crash_after_complete=crash_after_complete,
            spawn_per_job=spawn_per_job,
            stdout_protocol=_protocol(stdout_protocol),
            auto_retry=auto_retry,
            job_timeout=job_timeout,
            allow_hosts=tuple(import_settings.allow_hosts) if import_settings else (),
            import_limits=import_limits_json(import_settings) if import_settings else None,
        )
        self.runner = JobRunner(engine, self.options, instrumentation=self.instrumentation)

    def submit(self, request: ImportRequest, *, trial_job_id: UUID, conn: Connection) -> str:
        """Insert a PENDING job in the router's open transaction; the job id as text."""
        try:
            job_id = self.store.insert(
                url=request.url,
                handler=self.handler,
                trial_job_id=trial_job_id,
                idempotency_key=request.idempotency_key,
                conn=conn,
            )
        except DBAPIError as exc:
            raise BackendError(f"legacy: cannot insert the job: {type(exc.orig).__name__}") from exc
        return str(job_id)

    def state(self, backend_job_id: str) -> JobState:
        """The state of the newest row of the job's retry chain, mapped onto :class:`JobState`."""
        latest = self.store.latest_in_chain(backend_job_id)
        if latest is None:
            raise BackendError(f"legacy: no job {backend_job_id}")
        status, error_kind, depth = latest
        if status is JobStatus.PENDING:
            return JobState.RETRYING if depth else JobState.QUEUED
        if status is JobStatus.RUNNING:
            return JobState.RETRYING if depth else JobState.RUNNING
        if status is JobStatus.COMPLETED:
            return JobState.COMPLETED
        return JobState.CANCELLED if error_kind == ErrorKind.CANCELLED else JobState.FAILED

    def cancel(self, backend_job_id: str) -> bool:
        """Cancel a PENDING job (the legacy system cannot stop a running child); True when cancelled."""
        cancelled = self.store.cancel_pending(backend_job_id)
        if cancelled is None:
            return False
        self.record(
            Settled(trial_job_id=cancelled.trial_job_id, outcome="cancelled", error_kind=ErrorKind.CANCELLED)
        )
        return True

    def health(self) -> Health:
        """Reachable database and the queue depth (PENDING, RUNNING)."""
        try:
            counts = self.store.counts()
        except DBAPIError as exc:
            return Health(ok=False, detail=f"legacy: database unavailable: {type(exc.orig).__name__}")
        return Health(
            ok=True,
            detail=f"legacy {self.processor} processor, poll every {self.poll_interval}s",
            queued=counts[JobStatus.PENDING],
            running=counts[JobStatus.RUNNING],
            extra={
                "spawn_per_job": self.options.spawn_per_job,
                "stdout_protocol": self.options.stdout_protocol,
            },
        )

    def retry(self, job_id: UUID | str) -> UUID:
        """``bakeoff legacy retry``: a new PENDING row for a FAILED job, linked by ``original_job_id``.

        It counts as the next attempt of the same trial job. If the trial job's outcome was already
        recorded as failed, a later success of the retry is refused by the recorder (the first
        terminal outcome stands) and logged as ``conflicting_outcome_refused``.
        """
        job = self.store.get(job_id)
        if job is None:
            raise InvalidRequest(f"job_id: no legacy job {job_id}")
        if job.status is not JobStatus.FAILED:
            raise InvalidRequest(f"job_id: only FAILED jobs can be retried; {job.id} is {job.status}")
        retry_id = self.store.insert_retry(job)
        if job.trial_job_id is not None:
            self.runner.record_event(job, "manual_retry", {"retry_job_id": str(retry_id)})
        return retry_id

    def reap(self, older_than: timedelta) -> list[JobRef]:
        """``bakeoff legacy reap``: fail RUNNING rows older than ``older_than`` as ``worker_lost``.

        The current system has no automatic recovery for a worker killed mid-job; this is the manual
        tool, and each reaped job's trial outcome is recorded as failed/``worker_lost``.
        """
        reaped = self.store.reap(older_than)
        for job in reaped:
            self.record(
                Settled(
                    trial_job_id=job.trial_job_id,
                    outcome="failed",
                    error_kind=ErrorKind.WORKER_LOST,
                    error_message=f"reaped after running for more than {older_than}",
                )
            )
        return reaped

    def start_workers(self, concurrency: int, stop: threading.Event) -> _ProcessorThreads:
        """The configured processor in threads until ``stop`` is set (running children finish first)."""
        if self.processor == "adaptive":
            adaptive = self.adaptive(concurrency)
            return _ProcessorThreads(
                [threading.Thread(target=adaptive.run, args=(stop,), name="legacy-adaptive")]
            )
        return _ProcessorThreads(
            [
                threading.Thread(
                    target=self._worker, args=(stop, f"{self.processor}-{n}"), name=f"legacy-{n}"
                )
                for n in range(concurrency)
            ]
        )

    def settled_since(self, since: datetime) -> list[tuple[Settled, datetime]]:
        """Rows that ended after ``since``, for the live workers' catch-up pass.

        The worker records each outcome as it writes the row's verdict; a worker killed between the
        two left the row COMPLETED (or FAILED) and its trial job open for good (found by the
        multi-host kill run). Recording is idempotent, so repeating what was recorded is a no-op.
        This recovers only the trial's record: a RUNNING row of a dead worker still waits for
        ``bakeoff legacy reap``, as in the current system.
        """
        found = []
        for row in self.store.settled_since(since):
            if row.status == JobStatus.COMPLETED:
                settled = Settled(
                    trial_job_id=row.trial_job_id,
                    outcome="completed",
                    document_id=parse_uuid(row.document_id),
                )
            elif row.error_kind == ErrorKind.CANCELLED:
                settled = Settled(
                    trial_job_id=row.trial_job_id, outcome="cancelled", error_kind=row.error_kind
                )
            else:
                settled = Settled(
                    trial_job_id=row.trial_job_id,
                    outcome="failed",
                    error_kind=row.error_kind or ErrorKind.WORKER_CRASHED,
                    error_message=row.error,
                )
            found.append((settled, row.finished_at))
        return found

    def close(self) -> None:
        """Kill children still running (only after a drain cut short); their rows wait for ``reap``."""
        killed = self.runner.kill_children()
        if killed:
            logger.warning(
                "legacy: killed %d children still running at close (pids %s); their jobs stay RUNNING "
                "until `bakeoff legacy reap`",
                len(killed),
                ", ".join(map(str, killed)),
            )

    def adaptive(self, max_workers: int | None = None) -> AdaptiveProcessor:
        """An adaptive processor on this backend (``max_workers`` overrides the configured cap)."""
        cap = max_workers if max_workers is not None else self.max_workers
        return AdaptiveProcessor(
            self.runner,
            min_workers=min(self.min_workers, cap),
            max_workers=cap,
            poll_interval=self.poll_interval,
        )

    def loop(self, name: str = "loop") -> LoopProcessor:
        """A loop processor on this backend."""
        return LoopProcessor(self.runner, poll_interval=self.poll_interval, name=name)

    def _worker(self, stop: threading.Event, name: str) -> None:
        if self.processor == "loop":
            self.loop(name).run(stop)
            return
        # "single" run as a worker: the process-one command in a loop (a cron-style wrapper).
        while not stop.is_set():
            try:
                ran = process_one(self.runner, name=name)
            except DBAPIError:
                logger.warning("legacy single processor could not claim; retrying", exc_info=True)
                ran = None
            if ran is None:
                stop.wait(self.poll_interval)


def _protocol(value: str) -> StdoutProtocol:
    if value == "strict":
        return "strict"
    if value == "lenient":
        return "lenient"
    raise InvalidRequest(f"stdout_protocol must be 'strict' or 'lenient', not {value!r}")
