"""The lifecycle recorder: one place that writes ``trial_jobs`` and ``job_events`` for every arm.

Each operation stamps the database clock and is idempotent, so a retried or duplicated delivery
cannot bend a measurement: ``attempt_started`` keeps the first start and the highest attempt number,
``finished`` keeps the first terminal outcome. A conflicting second terminal outcome is refused and
logged (returned as :attr:`FinishResult.CONFLICT`), never written over the first.

Every terminal outcome this process records in a transaction of its own is also logged, once and
after the commit, on the ``bakeoff.jobs`` logger (INFO, the job's fields as ``record.job``).
``bakeoff worker`` prints them as its per-job lines: each process logs the outcomes it recorded
(normally the jobs it ran), with no poll of the table that could miss or repeat one. Not logged: an
outcome written in a caller's transaction (``conn=``; that commit is the caller's), and one whose
commit answer was lost, since the retry finds it recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, text

from bakeoff.contract import AssignmentReason, InvalidRequest, Outcome
from bakeoff.db.driver import driver_connection
from bakeoff.db.sql import pyformat
from bakeoff.metrics.attempts import (
    MAX_ERROR_MESSAGE,
    attempt_finished_detail,
    check_attempt,
    known_trial_job,
)
from bakeoff.metrics.columns import ASSIGNMENT_REASONS, OUTCOMES
from bakeoff.metrics.queries import QUERIES

__all__ = ["JOB_LOGGER", "FinishResult", "Recorder", "RoutedJob"]

logger = logging.getLogger(__name__)
JOB_LOGGER = "bakeoff.jobs"
job_log = logging.getLogger(JOB_LOGGER)

STATEMENTS = {name: text(sql) for name, sql in QUERIES.items()}
"""Parsed once: ``text()`` costs measurable time on the submit hot path."""
ROUTED_JOB_SQL = pyformat(QUERIES["insert_routed_job"])
"""The router's one write per submit, run on the driver's connection as a prepared statement."""


def _log_fields(job: Mapping[Any, Any]) -> dict[str, Any]:
    """A finished job as JSON-safe fields: ids as text, durations in ms to 0.1, the time in ISO 8601."""

    def safe(key: str, value: Any) -> Any:
        if key.endswith("_ms"):
            return None if value is None else round(float(value), 1)
        if isinstance(value, UUID):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        return value

    return {str(key): safe(str(key), value) for key, value in job.items()}


class FinishResult(StrEnum):
    RECORDED = "recorded"
    REPEATED = "repeated"
    """The same outcome was already recorded; nothing changed."""
    CONFLICT = "conflict"
    """Another outcome was already recorded; the first one stands."""
    UNKNOWN_JOB = "unknown_job"


@dataclass(frozen=True, kw_only=True, slots=True)
class RoutedJob:
    """One routed import as the router writes it (:meth:`Recorder.routed`): the rule it was routed
    by, the exposure and the arm's enqueue.

    ``submitted_at`` defaults to the start of the transaction, when routing began, so the exposure
    time does not include the arm's enqueue. On a fallback, ``assignment_reason`` is
    ``"fallback"``, ``decided_reason`` the reason first decided on (kept in the 'submitted' event),
    and ``fallback_at`` and ``fallback_detail`` say when and why the control arm took over.
    """

    trial_job_id: UUID
    experiment: str
    phase: int
    salt: str
    killed_arms: tuple[str, ...] = ()
    stored_override: str | None = None
    """The unit's override as stored when the router read it (the rule routed by)."""
    override_given: bool = False
    """An explicit override was passed to submit; it wins over the stored one."""
    unit_key: str
    assigned_arm: str
    served_arm: str
    assignment_reason: AssignmentReason
    url: str
    idempotency_key: str | None = None
    backend_job_id: str
    submitted_at: datetime | None = None
    fallback_at: datetime | None = None
    fallback_detail: Mapping[str, Any] | None = None
    decided_reason: AssignmentReason | None = None

    def __post_init__(self) -> None:
        for name in ("assignment_reason", "decided_reason"):
            reason = getattr(self, name)
            if reason is not None and reason not in ASSIGNMENT_REASONS:
                raise InvalidRequest(f"{name} must be one of {ASSIGNMENT_REASONS}, not {reason!r}")

    def params(self) -> dict[str, Any]:
        """The parameters of ``insert_routed_job``: the fields, plus each event's detail as JSON."""
        params = {field.name: getattr(self, field.name) for field in fields(self)}
        reason = self.decided_reason or self.assignment_reason
        params.update(
            killed_arms=list(self.killed_arms),
            submitted_detail=json.dumps({"assigned_arm": self.assigned_arm, "reason": reason}),
            fallback_detail=None
            if self.fallback_detail is None
            else json.dumps(self.fallback_detail, default=str),
            enqueued_detail=json.dumps({"backend_job_id": self.backend_job_id}),
        )
        return params


class Recorder:
    """Writes the lifecycle of trial jobs. Pass ``conn`` to write inside a caller's transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _connection(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as own:
                yield own

    def routed(self, job: RoutedJob, *, conn: Connection) -> bool:
        """Record a routed import once its arm has enqueued it: exposure, enqueue and their events.

        The router's single write per submit, inside its transaction ``conn``, and its check that it
        routed by the stored rule: the row is written only while the experiment still has the job's
        ``phase``, ``salt`` and ``killed_arms``, and the unit's stored override is
        ``stored_override`` (unless ``override_given``). Returns False, writing nothing, when the
        rule changed; the router then decides again from the stored state. It runs on ``conn``'s
        psycopg connection as a prepared statement (every submit's hot path), so a failure raises
        psycopg's own error, e.g. ``psycopg.errors.UniqueViolation``.
        """
        cursor = driver_connection(conn).cursor()
        cursor.execute(ROUTED_JOB_SQL, job.params(), prepare=True)
        return cursor.fetchone() is not None

    def attempt_started(self, trial_job_id: UUID, attempt: int, *, conn: Connection | None = None) -> bool:
        """An attempt (1-based) began running the handler. False when the trial job is unknown."""
        check_attempt(attempt)
        with self._connection(conn) as c:
            row = c.execute(
                STATEMENTS["mark_attempt_started"], {"trial_job_id": trial_job_id, "attempt": attempt}
            ).first()
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
        conn: Connection | None = None,
    ) -> None:
        """An attempt ended (the job itself may still retry)."""
        payload = attempt_finished_detail(
            ok=ok, error_kind=error_kind, error_message=error_message, detail=detail
        )
        with self._connection(conn) as c:
            self._event(c, trial_job_id, "attempt_finished", attempt, payload)

    def finished(
        self,
        trial_job_id: UUID,
        outcome: Outcome,
        *,
        error_kind: str | None = None,
        error_message: str | None = None,
        document_id: UUID | None = None,
        conn: Connection | None = None,
    ) -> FinishResult:
        """The job reached a terminal state. The first outcome recorded is final."""
        if outcome not in OUTCOMES:
            raise InvalidRequest(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        params = {
            "trial_job_id": trial_job_id,
            "outcome": outcome,
            "error_kind": error_kind,
            "error_message": error_message[:MAX_ERROR_MESSAGE] if error_message else None,
            "document_id": document_id,
            "detail": json.dumps({"outcome": outcome, "error_kind": error_kind}),
        }
        with self._connection(conn) as c:
            job = c.execute(STATEMENTS["mark_finished"], params).mappings().first()
            if job is None:
                return self._not_finished(c, trial_job_id, outcome)
        # Only after our own commit, so a line never names an outcome that was rolled back.
        if conn is None and job_log.isEnabledFor(logging.INFO):
            job_log.info("trial job %s %s", trial_job_id, outcome, extra={"job": _log_fields(job)})
        return FinishResult.RECORDED

    def _not_finished(self, c: Connection, trial_job_id: UUID, outcome: str) -> FinishResult:
        """Why ``mark_finished`` changed nothing: an unknown job, a repeat, or a refused conflict."""
        stored = c.execute(STATEMENTS["get_outcome"], {"trial_job_id": trial_job_id}).first()
        if stored is None:
            logger.warning("finished() for unknown trial job %s", trial_job_id)
            return FinishResult.UNKNOWN_JOB
        if stored.outcome == outcome:
            return FinishResult.REPEATED
        logger.warning(
            "refused conflicting outcome %r for trial job %s: %r was recorded first",
            outcome,
            trial_job_id,
            stored.outcome,
            extra={
                "trial_job_id": str(trial_job_id),
                "outcome": outcome,
                "stored_outcome": stored.outcome,
            },
        )
        self._event(
            c,
            trial_job_id,
            "conflicting_outcome_refused",
            None,
            {"refused": outcome, "kept": stored.outcome},
        )
        return FinishResult.CONFLICT

    def event(
        self,
        trial_job_id: UUID,
        event: str,
        *,
        attempt: int | None = None,
        detail: Mapping[str, Any] | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Append a free-form lifecycle event (fallback, reap, cancel request, ...)."""
        with self._connection(conn) as c:
            self._event(c, trial_job_id, event, attempt, detail or {})

    def events(self, trial_job_id: UUID) -> list[tuple[datetime, str, int | None, dict[str, Any]]]:
        """The event log of one trial job, oldest first."""
        with self.engine.connect() as c:
            rows = c.execute(STATEMENTS["select_events"], {"trial_job_id": trial_job_id}).all()
        return [(r.at, r.event, r.attempt, r.detail) for r in rows]

    def observe(
        self,
        *,
        arm: str,
        kind: str,
        value: float,
        note: str = "",
        recorded_by: str = "",
        experiment: str = "article-import",
    ) -> int:
        """Record one qualitative observation; returns its id."""
        with self.engine.begin() as c:
            return int(
                c.execute(
                    STATEMENTS["insert_observation"],
                    {
                        "experiment": experiment,
                        "arm": arm,
                        "kind": kind,
                        "value": value,
                        "note": note,
                        "recorded_by": recorded_by,
                    },
                ).scalar_one()
            )

    @staticmethod
    def _event(
        c: Connection, trial_job_id: UUID, event: str, attempt: int | None, detail: Mapping[str, Any]
    ) -> None:
        c.execute(
            STATEMENTS["insert_event"],
            {
                "trial_job_id": trial_job_id,
                "event": event,
                "attempt": attempt,
                "detail": json.dumps(detail, default=str),
            },
        )
