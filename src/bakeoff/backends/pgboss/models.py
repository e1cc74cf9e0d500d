"""Values of the pg-boss port: jobs, queues, command results, schedules and an instance's config.

Rows become frozen dataclasses at the database edge (``from_row``); states and policies are the
same strings pg-boss stores. What can go wrong is in :mod:`bakeoff.backends.pgboss.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

__all__ = [
    "PGBOSS_VERSION",
    "POLICIES",
    "SCHEMA_VERSION",
    "STATES",
    "CommandResult",
    "Job",
    "JobStateName",
    "PgBossConfig",
    "Policy",
    "Queue",
    "QueueStats",
    "Schedule",
]

PGBOSS_VERSION: Final = "12.38.0"
"""The npm release whose database layout and semantics this port follows."""
SCHEMA_VERSION: Final = 46
"""pg-boss's schema version for that release (``package.json`` ``pgboss.schema``)."""

JobStateName = Literal["created", "retry", "active", "completed", "cancelled", "failed"]
STATES: Final[tuple[JobStateName, ...]] = ("created", "retry", "active", "completed", "cancelled", "failed")
"""In enum order: comparisons such as ``state < 'active'`` rely on it."""

Policy = Literal["standard", "short", "singleton", "stately", "exclusive", "key_strict_fifo"]
POLICIES: Final[tuple[Policy, ...]] = (
    "standard",
    "short",
    "singleton",
    "stately",
    "exclusive",
    "key_strict_fifo",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class PgBossConfig:
    """An instance's background settings (pg-boss's constructor options, in seconds)."""

    supervise: bool = True
    """Run the supervisor (expiry, heartbeats, cached counts, retention, flows)."""
    schedule: bool = True
    """Run the timekeeper (cron schedules and the send-it forwarder)."""
    migrate: bool = True
    """Install or check the schema on ``start()``."""
    supervise_interval_seconds: float = 60
    """How often the supervisor wakes."""
    monitor_interval_seconds: float = 60
    """How often a queue is monitored: expiry, heartbeat loss, cached counts."""
    maintenance_interval_seconds: float = 86_400
    """How often a queue's retention is enforced."""
    cron_monitor_interval_seconds: float = 30
    """How often the cron pass files due occurrences."""
    cron_worker_interval_seconds: float = 5
    """How often the send-it forwarder polls."""
    flow_interval_seconds: float = 5
    """How often children whose parents all completed are unblocked."""
    notify_polling_interval_seconds: float = 30
    """A worker's backstop poll while LISTEN/NOTIFY is up (ours; pg-boss polls by default)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Job:
    """One job row. Fetches without metadata fill only the worker's columns; the rest stay None."""

    id: str
    name: str
    data: Any = None
    state: str | None = None
    priority: int | None = None
    retry_limit: int | None = None
    retry_count: int = 0
    retry_delay: int | None = None
    retry_backoff: bool | None = None
    retry_delay_max: int | None = None
    start_after: datetime | None = None
    started_on: datetime | None = None
    created_on: datetime | None = None
    completed_on: datetime | None = None
    keep_until: datetime | None = None
    singleton_key: str | None = None
    singleton_on: datetime | None = None
    output: Any = None
    expire_in_seconds: int | None = None
    heartbeat_seconds: int | None = None
    heartbeat_on: datetime | None = None
    delete_after_seconds: int | None = None
    dead_letter: str | None = None
    policy: str | None = None
    blocked: bool | None = None
    group_id: str | None = None
    group_tier: str | None = None
    source_name: str | None = None
    source_id: str | None = None
    source_created_on: datetime | None = None
    source_retry_count: int | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        """Build from a row of ``job_columns_min`` or ``job_columns_all`` (whose names are the fields').

        The port's own sessions read uuids as text; a caller's connection (``conn=``) may hand back
        ``UUID`` objects, which become strings here.
        """
        job_id, source_id = row["id"], row.get("source_id")
        if type(job_id) is str and (source_id is None or type(source_id) is str):
            return cls(**row)
        values = {**row, "id": str(job_id)}
        if source_id is not None:
            values["source_id"] = str(source_id)
        return cls(**values)


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandResult:
    """What complete/fail/cancel/resume/retry/delete_job/touch did: how many asked, how many changed."""

    jobs: tuple[str, ...]
    requested: int
    affected: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Queue:
    """A queue's settings and its cached counts (as the monitor last stored them)."""

    name: str
    policy: str
    retry_limit: int
    retry_delay: int
    retry_backoff: bool
    retry_delay_max: int | None
    expire_in_seconds: int
    retention_seconds: int
    delete_after_seconds: int
    partition: bool
    heartbeat_seconds: int | None
    notify: bool
    dead_letter: str | None
    table_name: str
    created_on: datetime
    updated_on: datetime
    deferred_count: int = 0
    queued_count: int = 0
    ready_count: int = 0
    active_count: int = 0
    failed_count: int = 0
    total_count: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Queue:
        values = dict(row)
        values["expire_in_seconds"] = values.pop("expire_seconds")
        values["delete_after_seconds"] = values.pop("deletion_seconds")
        return cls(**values)


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueStats:
    """Counts of one queue's jobs (pg-boss ``getQueueStats``), computed live."""

    name: str
    deferred_count: int
    queued_count: int
    ready_count: int
    active_count: int
    failed_count: int
    total_count: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Schedule:
    """A cron schedule that sends ``data`` to queue ``name``."""

    name: str
    key: str
    kind: str
    cron: str
    timezone: str
    data: Any
    options: dict[str, Any] | None
    created_on: datetime
    updated_on: datetime
    last_job_id: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Schedule:
        values = dict(row)
        if values.get("last_job_id") is not None:
            values["last_job_id"] = str(values["last_job_id"])
        return cls(**values)
