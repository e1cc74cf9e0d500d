"""One attempt of the handler, recorded the same way by every arm, and without SQLAlchemy.

:func:`record_attempt` is the before/after hook that :meth:`Instrumentation.attempt` runs; it takes
any :class:`AttemptRecorder`. The :class:`~bakeoff.metrics.recorder.Recorder` is one (SQLAlchemy);
:class:`PsycopgAttempts` is another, for the spawned legacy child: the same named SQL from
``metrics/queries.sql`` and the same event detail, on the child's plain psycopg connection, so the
child does not spend its start-up importing SQLAlchemy.
"""

from __future__ import annotations

import json
import logging
import resource
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from bakeoff.contract import InvalidRequest
from bakeoff.db.sql import pyformat
from bakeoff.metrics.queries import QUERIES

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "MAX_ERROR_MESSAGE",
    "AttemptRecorder",
    "PsycopgAttempts",
    "attempt_finished_detail",
    "contained",
    "error_kind_of",
    "known_trial_job",
    "record_attempt",
]

logger = logging.getLogger("bakeoff.metrics.instrument")
MAX_ERROR_MESSAGE = 4000


class AttemptRecorder(Protocol):
    def attempt_started(self, trial_job_id: UUID, attempt: int) -> bool: ...

    def attempt_finished(
        self,
        trial_job_id: UUID,
        attempt: int,
        *,
        ok: bool,
        error_kind: str | None = None,
        error_message: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None: ...


def error_kind_of(exc: BaseException) -> str:
    """The stable ``error_kind`` of an exception (``ImportFailed`` carries one), else ``internal_error``."""
    kind = getattr(exc, "error_kind", None)
    return kind if isinstance(kind, str) and kind else "internal_error"


def known_trial_job(row: object, trial_job_id: UUID, hook: str) -> bool:
    """Whether a hook's statement found its trial job (``row``); an unknown one is logged."""
    if row is None:
        logger.warning("%s() for unknown trial job %s", hook, trial_job_id)
        return False
    return True


def attempt_finished_detail(
    *,
    ok: bool,
    error_kind: str | None = None,
    error_message: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``detail`` of an ``attempt_finished`` event."""
    payload: dict[str, Any] = {"ok": ok, **(detail or {})}
    if error_kind:
        payload["error_kind"] = error_kind
    if error_message:
        payload["error_message"] = error_message[:MAX_ERROR_MESSAGE]
    return payload


def check_attempt(attempt: int) -> None:
    if attempt < 1:
        raise InvalidRequest(f"attempt must be >= 1, not {attempt}")


def contained(hook: str, fn: Callable[..., Any], *args: object, **kwargs: object) -> object:
    """Run a metrics hook; its failure is logged and swallowed, never failing the job it measures."""
    try:
        return fn(*args, **kwargs)
    except Exception:
        logger.exception("metrics hook %s failed; the job goes on", hook, extra={"hook": hook})
        return None


def _process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def record_attempt(
    recorder: AttemptRecorder, trial_job_id: UUID | None, attempt: int, *, whole_process: bool = False
) -> Iterator[None]:
    """Record the start and the end of one attempt; the handler's own exception propagates.

    The attempt's CPU time goes into the ``attempt_finished`` event as ``cpu_s`` (for the cost
    projection): the CPU of the thread that ran it (arms run several attempts at once in threads of
    one process, so the process's CPU would count the others too), or with ``whole_process`` the
    process's CPU since it started, start-up included (the legacy child: one process per job).
    """
    if trial_job_id is None:
        yield
        return
    from bakeoff.metrics.tracing import attempt_span  # light: OpenTelemetry loads only when tracing is on

    with attempt_span(recorder, trial_job_id, attempt):
        contained("attempt_started", recorder.attempt_started, trial_job_id, attempt)
        cpu_started = 0.0 if whole_process else time.thread_time()

        def cpu_detail() -> dict[str, Any]:
            if whole_process:
                return {"cpu_s": round(_process_cpu_seconds(), 6), "cpu_scope": "process"}
            return {"cpu_s": round(time.thread_time() - cpu_started, 6), "cpu_scope": "thread"}

        try:
            yield
        except BaseException as exc:
            contained(
                "attempt_finished",
                recorder.attempt_finished,
                trial_job_id,
                attempt,
                ok=False,
                error_kind=error_kind_of(exc),
                error_message=f"{type(exc).__name__}: {exc}",
                detail=cpu_detail(),
            )
            raise
        contained(
            "attempt_finished", recorder.attempt_finished, trial_job_id, attempt, ok=True, detail=cpu_detail()
        )


PSYCOPG_STATEMENTS = {name: pyformat(QUERIES[name]) for name in ("mark_attempt_started", "insert_event")}
"""The two statements the child's attempt hooks run, in psycopg's parameter style."""


class PsycopgAttempts:
    """The Recorder's ``attempt_started``/``attempt_finished`` on a psycopg connection (autocommit)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def attempt_started(self, trial_job_id: UUID, attempt: int) -> bool:
        check_attempt(attempt)
        with self.conn.transaction():
            row = self.conn.execute(
                PSYCOPG_STATEMENTS["mark_attempt_started"], {"trial_job_id": trial_job_id, "attempt": attempt}
            ).fetchone()
        return known_trial_job(row, trial_job_id, "attempt_started")

    def attempt_finished(
        self,
        trial_job_id: UUID,
        attempt: int,
        *,
        ok: bool,
        error_kind: str | None = None,
        error_message: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        payload = attempt_finished_detail(
            ok=ok, error_kind=error_kind, error_message=error_message, detail=detail
        )
        params = {
            "trial_job_id": trial_job_id,
            "event": "attempt_finished",
            "attempt": attempt,
            "detail": json.dumps(payload, default=str),
        }
        with self.conn.transaction():
            self.conn.execute(PSYCOPG_STATEMENTS["insert_event"], params)
