"""The job value of ``legacy.job`` and its four statuses, without SQLAlchemy.

:class:`~bakeoff.backends.legacy.store.JobStore` returns these; the spawned child builds one from
its psycopg row, so importing this module must stay light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from sqlalchemy import Row

__all__ = ["JobStatus", "LegacyJob"]


class JobStatus(StrEnum):
    """The four statuses of the current system's ``Job`` table."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass(frozen=True, kw_only=True, slots=True)
class LegacyJob:
    """One row of ``legacy.job``."""

    id: UUID
    status: JobStatus
    handler: str
    payload: dict[str, Any]
    trial_job_id: UUID | None
    attempt: int
    original_job_id: UUID | None
    worker_id: str | None = None
    pid: int | None = None
    exit_code: int | None = None
    progress: str | None = None
    result: dict[str, Any] | None = None
    error_kind: str | None = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Row[Any]) -> LegacyJob:
        """Build a job from a row selected with the columns of ``get_job``."""
        return cls.from_mapping(row._mapping)

    @classmethod
    def from_mapping(cls, row: Mapping[Any, Any]) -> LegacyJob:
        """Build a job from the columns of ``get_job`` (a SQLAlchemy mapping or a psycopg dict row)."""
        values = dict(row)
        values["status"] = JobStatus(values["status"])
        return cls(**values)

    @property
    def url(self) -> str:
        return str(self.payload.get("url", ""))
