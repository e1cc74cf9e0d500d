"""The ``legacy.job`` table: one class that knows the legacy arm's SQL, and the job value it returns.

Statuses are the current system's four: ``PENDING -> RUNNING -> COMPLETED | FAILED``. A retry is a
new PENDING row whose ``original_job_id`` points at the job it retries; ``attempt`` is the row's
position in that chain, so the chain of one trial job counts as its attempts. There is no CANCELLED
status (the current system has none): a cancelled PENDING job is FAILED with ``error_kind='cancelled'``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, text

from bakeoff.backends.legacy.models import JobStatus, LegacyJob
from bakeoff.contract import InvalidRequest
from bakeoff.db.sql import load_queries

__all__ = ["QUERIES", "JobRef", "JobStatus", "JobStore", "LegacyJob"]

logger = logging.getLogger(__name__)

QUERIES = load_queries("bakeoff.backends.legacy")
MAX_ERROR_TEXT = 4000
MAX_PROGRESS_TEXT = 500


@dataclass(frozen=True, kw_only=True, slots=True)
class JobRef:
    """A job that a bulk operation (reap, cancel) finished: its id, trial job and attempt."""

    id: UUID
    trial_job_id: UUID | None
    attempt: int


def _payload(url: str, idempotency_key: str | None) -> str:
    return json.dumps({"url": url, "idempotency_key": idempotency_key})


class JobStore:
    """Reads and writes ``legacy.job``; every statement is a named query from ``queries.sql``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(
        self,
        *,
        url: str,
        handler: str,
        trial_job_id: UUID | None = None,
        idempotency_key: str | None = None,
        conn: Connection | None = None,
    ) -> UUID:
        """Enqueue a first attempt as PENDING, inside ``conn`` when given; returns the job id."""
        params = {
            "handler": handler,
            "payload": _payload(url, idempotency_key),
            "trial_job_id": trial_job_id,
            "attempt": 1,
            "original_job_id": None,
        }
        return self._insert(params, conn)

    def insert_retry(self, original: LegacyJob, *, conn: Connection | None = None) -> UUID:
        """A new PENDING row retrying ``original`` (same payload and trial job, next attempt)."""
        params = {
            "handler": original.handler,
            "payload": json.dumps(original.payload),
            "trial_job_id": original.trial_job_id,
            "attempt": original.attempt + 1,
            "original_job_id": original.id,
        }
        return self._insert(params, conn)

    def _insert(self, params: Mapping[str, Any], conn: Connection | None) -> UUID:
        if conn is not None:
            return UUID(str(conn.execute(text(QUERIES["insert_job"]), dict(params)).scalar_one()))
        with self.engine.begin() as own:
            return UUID(str(own.execute(text(QUERIES["insert_job"]), dict(params)).scalar_one()))

    def get(self, job_id: UUID | str) -> LegacyJob | None:
        """The job with this id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(text(QUERIES["get_job"]), {"id": _job_uuid(job_id)}).first()
        return LegacyJob.from_row(row) if row is not None else None

    def recent(self, *, limit: int = 20, status: JobStatus | None = None) -> list[LegacyJob]:
        """The newest jobs first, optionally of one status."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(QUERIES["list_jobs"]), {"limit": limit, "status": status.value if status else None}
            ).all()
        return [LegacyJob.from_row(row) for row in rows]

    def claim_next(self, worker_id: str) -> LegacyJob | None:
        """Claim the oldest PENDING job for ``worker_id``; None when there is none or a racer won it."""
        with self.engine.begin() as conn:
            row = conn.execute(text(QUERIES["claim_next_job"]), {"worker_id": worker_id}).first()
        return LegacyJob.from_row(row) if row is not None else None

    def set_pid(self, job_id: UUID, pid: int) -> None:
        self._execute("set_pid", {"id": job_id, "pid": pid})

    def set_progress(self, job_id: UUID, progress: str) -> None:
        self._execute("set_progress", {"id": job_id, "progress": progress[:MAX_PROGRESS_TEXT]})

    def mark_completed(self, job_id: UUID, *, result: Mapping[str, Any], exit_code: int | None) -> bool:
        """RUNNING -> COMPLETED; False when the row was no longer RUNNING (reaped meanwhile)."""
        params = {"id": job_id, "result": json.dumps(dict(result), default=str), "exit_code": exit_code}
        with self.engine.begin() as conn:
            return conn.execute(text(QUERIES["mark_completed"]), params).first() is not None

    def mark_failed(
        self,
        job: LegacyJob,
        *,
        error_kind: str,
        error: str,
        exit_code: int | None,
        retry: bool = False,
    ) -> tuple[bool, UUID | None]:
        """RUNNING -> FAILED, plus the retry row in the same transaction when ``retry``.

        Returns (whether the row was still RUNNING and is now FAILED, the retry row's id or None).
        """
        params = {
            "id": job.id,
            "error_kind": error_kind,
            "error": error[:MAX_ERROR_TEXT],
            "exit_code": exit_code,
        }
        with self.engine.begin() as conn:
            if conn.execute(text(QUERIES["mark_failed"]), params).first() is None:
                return False, None
            return True, (self.insert_retry(job, conn=conn) if retry else None)

    def cancel_pending(self, job_id: UUID | str) -> JobRef | None:
        """Fail a PENDING job as cancelled; None when it was not PENDING (running or finished)."""
        with self.engine.begin() as conn:
            row = conn.execute(text(QUERIES["cancel_pending"]), {"id": _job_uuid(job_id)}).first()
        return JobRef(id=row.id, trial_job_id=row.trial_job_id, attempt=row.attempt) if row else None

    def reap(self, older_than: timedelta) -> list[JobRef]:
        """Mark RUNNING rows started longer ago than ``older_than`` as FAILED (``worker_lost``)."""
        seconds = older_than.total_seconds()
        if seconds < 0:
            raise InvalidRequest(f"older_than must not be negative, got {older_than}")
        with self.engine.begin() as conn:
            rows = conn.execute(text(QUERIES["reap_stale_running"]), {"older_than_seconds": seconds}).all()
        return [JobRef(id=r.id, trial_job_id=r.trial_job_id, attempt=r.attempt) for r in rows]

    def settled_since(self, since: datetime) -> list[Any]:
        """Rows that ended after ``since`` and end their retry chain (see the query)."""
        with self.engine.connect() as conn:
            return list(conn.execute(text(QUERIES["settled_since"]), {"since": since}).all())

    def latest_in_chain(self, job_id: UUID | str) -> tuple[JobStatus, str | None, int] | None:
        """(status, error_kind, depth) of the newest retry of ``job_id`` (depth 0: the job itself)."""
        with self.engine.connect() as conn:
            row = conn.execute(text(QUERIES["latest_in_chain"]), {"id": _job_uuid(job_id)}).first()
        return (JobStatus(row.status), row.error_kind, int(row.depth)) if row is not None else None

    def counts(self) -> dict[JobStatus, int]:
        """How many jobs are PENDING and RUNNING."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(QUERIES["count_by_status"])).all()
        found = {JobStatus(r.status): int(r.n) for r in rows}
        return {status: found.get(status, 0) for status in (JobStatus.PENDING, JobStatus.RUNNING)}

    def pending_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(QUERIES["count_pending"])).scalar_one())

    def _execute(self, query: str, params: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(QUERIES[query]), dict(params))


def _job_uuid(job_id: UUID | str) -> UUID:
    if isinstance(job_id, UUID):
        return job_id
    try:
        return UUID(str(job_id))
    except ValueError as exc:
        raise InvalidRequest(f"job_id is not a legacy job id (a UUID): {str(job_id)[:80]!r}") from exc
