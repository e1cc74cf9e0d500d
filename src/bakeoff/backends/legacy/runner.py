"""Running one claimed job: spawn the child, parse what it prints, and record the outcome.

This is the parent's half of the current system's process-per-job model. The child's lines are read
as they arrive (PROGRESS updates the row while the job runs); the :class:`~.stdout_protocol.ChildReport`
turns them and the exit code into a verdict, and the runner writes it to ``legacy.job`` and, once
the trial job's chain ends, to the shared metrics.

``crash_after_complete`` (default on, as in the seed) makes the child exit 1 after a successful
run. The runner trusts the RESULT line over the exit code, so such a job is COMPLETED; the exit
code is kept in ``legacy.job.exit_code`` and a ``worker_exit_nonzero`` event is logged for the trial
job, so the crash stays visible and countable without corrupting the outcome.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import IO, Any
from uuid import UUID

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from bakeoff.backends.base import Settled, parse_uuid, record_settled
from bakeoff.backends.legacy.child import execute_job
from bakeoff.backends.legacy.errors import ErrorKind
from bakeoff.backends.legacy.handlers import IMPORT_LIMITS_ENV
from bakeoff.backends.legacy.stdout_protocol import (
    MAX_LINE_BYTES,
    ChildReport,
    Message,
    MessageKind,
    StdoutProtocol,
    Verdict,
    decode_line,
)
from bakeoff.backends.legacy.store import JobStore, LegacyJob
from bakeoff.contract import InvalidRequest
from bakeoff.db.urls import libpq_url
from bakeoff.metrics.instrument import Instrumentation
from bakeoff.metrics.recorder import Recorder
from bakeoff.workload.store import save_document

__all__ = ["JobRunner", "RunnerOptions", "worker_id"]

logger = logging.getLogger(__name__)
RECORD_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Pauses between attempts to record a finished job while the database is unreachable (~15 s)."""

CHILD_MODULE = "bakeoff.backends.legacy.child"
IGNORING_STOP_SIGNALS = ("/bin/sh", "-c", 'trap "" INT TERM; exec "$0" "$@"')
"""Prefix of the child's command: the shell ignores SIGINT and SIGTERM, then becomes the child.

A terminal's Ctrl-C and a service manager's SIGTERM reach every process of the group (or cgroup),
and a child they kill fails its job as ``worker_crashed``: a shutdown would count against the arm.
The parent decides when a child stops instead: it drains, or SIGKILLs a child past ``job_timeout``.
An ignored signal stays ignored across ``exec`` and Python keeps a SIGINT disposition its parent
set, so the only moment exposed is the shell's start-up before ``trap`` (about a millisecond here),
not the interpreter's start-up that a handler installed by the child would leave open. (Blocking
the signals in the spawning thread would close even that, but ``subprocess`` resets the child's
signal mask.) A drain cut short ends with :meth:`kill_children`.
"""
KILL_WAIT_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class RunnerOptions:
    """The pain-point switches that shape how one job runs (defaults reproduce today's system)."""

    crash_after_complete: bool = True
    spawn_per_job: bool = True
    stdout_protocol: StdoutProtocol = "strict"
    auto_retry: int = 0
    job_timeout: float = 600.0
    allow_hosts: tuple[str, ...] = ()
    import_limits: str | None = None
    """The backend's ImportSettings limits as JSON (timeouts, byte cap, redirects), for the child."""

    def __post_init__(self) -> None:
        if self.stdout_protocol not in ("strict", "lenient"):
            raise InvalidRequest(
                f"stdout_protocol must be 'strict' or 'lenient', not {self.stdout_protocol!r}"
            )
        if self.auto_retry < 0:
            raise InvalidRequest(f"auto_retry must be >= 0, not {self.auto_retry}")
        if self.job_timeout <= 0:
            raise InvalidRequest(f"job_timeout must be > 0 seconds, not {self.job_timeout}")


def worker_id(name: str) -> str:
    """``host:pid:name``: what ``legacy.job.worker_id`` records for a processor's worker."""
    return f"{socket.gethostname()}:{os.getpid()}:{name}"


class JobRunner:
    """Runs claimed jobs (in a child process, or in-process with ``spawn_per_job=False``)."""

    def __init__(
        self,
        engine: Engine,
        options: RunnerOptions | None = None,
        *,
        instrumentation: Instrumentation | None = None,
    ) -> None:
        self.engine = engine
        self.options = options or RunnerOptions()
        self.store = JobStore(engine)
        self.instrumentation = instrumentation or Instrumentation(Recorder(engine))
        self._children: set[subprocess.Popen[bytes]] = set()
        self._children_lock = threading.Lock()

    def run(self, job: LegacyJob) -> Verdict:
        """Run ``job`` (already claimed, RUNNING) to its verdict and record it."""
        if self.options.spawn_per_job:
            verdict, exit_code = self._spawn(job)
        else:
            verdict, exit_code = self._in_process(job), None
        self._record_durably(job, verdict, exit_code)
        return verdict

    def _record_durably(self, job: LegacyJob, verdict: Verdict, exit_code: int | None) -> None:
        """The verdict is known: a database restart while writing it must not orphan the RUNNING row."""
        for delay in RECORD_RETRY_DELAYS:
            try:
                self._record(job, verdict, exit_code)
                return
            except OperationalError:
                logger.warning(
                    "could not record legacy job %s; retrying in %ss", job.id, delay, exc_info=True
                )
                time.sleep(delay)
        self._record(job, verdict, exit_code)

    # -- running ---------------------------------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["BAKEOFF_DATABASE_URL"] = libpq_url(self.engine.url)
        env["PYTHONUNBUFFERED"] = "1"
        if self.options.allow_hosts:
            env["BAKEOFF_IMPORT_ALLOW_HOSTS"] = ",".join(self.options.allow_hosts)
        if self.options.import_limits:
            env[IMPORT_LIMITS_ENV] = self.options.import_limits
        return env

    def _command(self, job: LegacyJob) -> list[str]:
        command = [*IGNORING_STOP_SIGNALS, sys.executable, "-m", CHILD_MODULE, str(job.id)]
        return [*command, "--crash-after-complete"] if self.options.crash_after_complete else command

    def _spawn(self, job: LegacyJob) -> tuple[Verdict, int | None]:
        report = ChildReport(mode=self.options.stdout_protocol)
        try:
            child = subprocess.Popen(
                self._command(job),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._child_env(),
            )
        except OSError as exc:
            error = f"cannot spawn the child: {exc}"
            return Verdict(ok=False, error_kind=ErrorKind.SPAWN_FAILED, error=error), None
        with self._children_lock:
            self._children.add(child)
        try:
            self._contained(self.store.set_pid, job.id, child.pid)
            exit_code, timed_out = self._supervise(child, job, report)
        finally:
            with self._children_lock:
                self._children.discard(child)
        return report.verdict(exit_code, timed_out=timed_out), exit_code

    def kill_children(self) -> list[int]:
        """SIGKILL every child still running (they ignore SIGINT and SIGTERM); their pids.

        For a shutdown whose drain was cut short: a child must not outlive its processor, run
        unsupervised past ``job_timeout`` and save a document for a row that ``reap`` then fails.
        """
        with self._children_lock:
            children = [child for child in self._children if child.poll() is None]
        for child in children:
            child.kill()
        return [child.pid for child in children]

    def _supervise(
        self, child: subprocess.Popen[bytes], job: LegacyJob, report: ChildReport
    ) -> tuple[int, bool]:
        """Read the child's stdout line by line (stderr in a thread) until it exits or times out."""
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            child.kill()

        timer = threading.Timer(self.options.job_timeout, kill)
        stderr_reader = threading.Thread(target=_drain_stderr, args=(child.stderr, report), daemon=True)
        timer.start()
        stderr_reader.start()
        try:
            assert child.stdout is not None  # PIPE above
            for raw in iter(lambda: child.stdout.readline(MAX_LINE_BYTES + 1), b""):  # type: ignore[union-attr]
                self._on_message(job, report.feed_stdout(decode_line(raw)))
            # Bounded: the timer kills a child that outlives job_timeout, even after closing stdout.
            exit_code = child.wait()
        finally:
            timer.cancel()
            if child.poll() is None:
                child.kill()
                child.wait(timeout=KILL_WAIT_SECONDS)
            stderr_reader.join(timeout=KILL_WAIT_SECONDS)
            _close(child)
        return exit_code, timed_out.is_set()

    def _in_process(self, job: LegacyJob) -> Verdict:
        report = ChildReport(mode=self.options.stdout_protocol)
        execute_job(
            job,
            attempts=self.instrumentation.recorder,
            save_document=partial(save_document, self.engine),
            emit_stdout=lambda line: self._on_message(job, report.feed_stdout(line)),
            emit_stderr=report.feed_stderr,
        )
        return report.verdict(None)

    def _on_message(self, job: LegacyJob, message: Message | None) -> None:
        if message is not None and message.kind is MessageKind.PROGRESS:
            self._contained(self.store.set_progress, job.id, str(message.body.get("message", "")))

    @staticmethod
    def _contained(update: Callable[[UUID, Any], None], job_id: UUID, value: Any) -> None:
        """Bookkeeping writes (pid, progress) are informative: a failure is logged, the child runs on."""
        try:
            update(job_id, value)
        except DBAPIError:
            logger.warning("could not update legacy job %s while it runs", job_id, exc_info=True)

    # -- recording -------------------------------------------------------------------------------

    def _record(self, job: LegacyJob, verdict: Verdict, exit_code: int | None) -> None:
        if verdict.ok:
            self._record_completed(job, verdict, exit_code)
        else:
            self._record_failed(job, verdict, exit_code)

    def _record_completed(self, job: LegacyJob, verdict: Verdict, exit_code: int | None) -> None:
        if not self.store.mark_completed(job.id, result=verdict.result, exit_code=exit_code):
            logger.warning("job %s finished but was no longer RUNNING (reaped?); result dropped", job.id)
            return
        if exit_code:
            self.record_event(job, "worker_exit_nonzero", {"exit_code": exit_code, "after": "success"})
        settled = Settled(
            trial_job_id=job.trial_job_id, outcome="completed", document_id=parse_uuid(verdict.document_id)
        )
        record_settled(self.instrumentation, settled)

    def _record_failed(self, job: LegacyJob, verdict: Verdict, exit_code: int | None) -> None:
        # The legacy retry is basic: a fixed count, whatever the error (no classification, no backoff).
        retry = job.attempt <= self.options.auto_retry
        kind = verdict.error_kind or ErrorKind.WORKER_CRASHED
        error = verdict.error or "failed"
        failed, retry_id = self.store.mark_failed(
            job, error_kind=kind, error=error, exit_code=exit_code, retry=retry
        )
        if not failed:
            logger.warning("job %s failed but was no longer RUNNING (reaped?)", job.id)
            return
        logger.info("legacy job %s failed: %s: %s", job.id, kind, error, extra={"job_id": str(job.id)})
        if retry_id is not None:
            self.record_event(job, "retry_scheduled", {"retry_job_id": str(retry_id), "error_kind": kind})
            return
        settled = Settled(
            trial_job_id=job.trial_job_id, outcome="failed", error_kind=kind, error_message=error
        )
        record_settled(self.instrumentation, settled)

    def record_event(self, job: LegacyJob, event: str, detail: dict[str, object]) -> None:
        """Append a lifecycle event to the job's trial record (contained: never fails the job)."""
        if job.trial_job_id is None:
            return
        try:
            self.instrumentation.recorder.event(
                job.trial_job_id, event, attempt=job.attempt, detail={"job_id": str(job.id), **detail}
            )
        except Exception:
            logger.exception("metrics event %s failed; the job goes on", event)


def _drain_stderr(stream: IO[bytes] | None, report: ChildReport) -> None:
    if stream is None:
        return
    for raw in iter(lambda: stream.readline(MAX_LINE_BYTES + 1), b""):
        report.feed_stderr(decode_line(raw))


def _close(child: subprocess.Popen[bytes]) -> None:
    for stream in (child.stdout, child.stderr):
        if stream is not None:
            stream.close()
