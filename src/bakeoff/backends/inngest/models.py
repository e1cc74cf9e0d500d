"""Values of the step engine: events, triggers, flow-control options, limits and run history.

All are frozen, keyword-only dataclasses; the ones read from the database are built by ``from_row``.
Durations accept a ``timedelta`` or an ``int`` of milliseconds, as Inngest's SDK does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bakeoff.backends.inngest.errors import InvalidEvent, InvalidFunction

__all__ = [
    "Attempt",
    "Cancel",
    "Concurrency",
    "Debounce",
    "Duration",
    "Event",
    "Limits",
    "RateLimit",
    "Run",
    "RunStatus",
    "Singleton",
    "StepRecord",
    "Throttle",
    "TriggerCron",
    "TriggerEvent",
    "to_timedelta",
]

Duration = int | timedelta
MiB = 1024 * 1024


def to_timedelta(value: Duration, *, field_name: str) -> timedelta:
    """A duration from a timedelta or integer milliseconds; negative values are refused."""
    if isinstance(value, bool) or not isinstance(value, int | timedelta):
        raise InvalidFunction(f"{field_name} must be a timedelta or int milliseconds, not {value!r}")
    delta = value if isinstance(value, timedelta) else timedelta(milliseconds=value)
    if delta < timedelta(0):
        raise InvalidFunction(f"{field_name} must not be negative, got {delta}")
    return delta


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


@dataclass(frozen=True, kw_only=True)
class Event:
    """An event: ``name`` and ``data``; ``id`` (an idempotency key for 24 h) and ``ts`` (ms) optional."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    ts: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidEvent("event name must be a non-empty string")
        if len(self.name) > 255:
            raise InvalidEvent(f"event name is {len(self.name)} characters long; the limit is 255")
        if not isinstance(self.data, dict):
            raise InvalidEvent(f"event data must be an object (dict), not {type(self.data).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "data": self.data, "id": self.id, "ts": self.ts}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Event:
        return cls(
            name=payload["name"],
            data=payload.get("data") or {},
            id=payload.get("id") or "",
            ts=int(payload.get("ts") or 0),
        )

    def with_defaults(self, now_ms: int) -> Event:
        """This event with a generated id and receive-time ``ts`` where they were left empty."""
        return Event(name=self.name, data=self.data, id=self.id or str(uuid.uuid4()), ts=self.ts or now_ms)


@dataclass(frozen=True, kw_only=True)
class TriggerEvent:
    """Run the function for every event named ``event`` (optionally filtered by a CEL ``expression``)."""

    event: str
    expression: str | None = None


@dataclass(frozen=True, kw_only=True)
class TriggerCron:
    """Run the function on a cron schedule, e.g. ``"TZ=Europe/Paris 0 12 * * 5"``."""

    cron: str


@dataclass(frozen=True, kw_only=True)
class Concurrency:
    """At most ``limit`` steps of this function (per evaluated CEL ``key``) execute at once."""

    limit: int
    key: str | None = None


@dataclass(frozen=True, kw_only=True)
class Throttle:
    """At most ``limit`` run starts per ``period`` (plus ``burst``); excess runs wait, none are dropped."""

    limit: int
    period: Duration
    key: str | None = None
    burst: int = 1


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """At most ``limit`` runs per ``period`` (GCRA); excess events start no run."""

    limit: int
    period: Duration
    key: str | None = None


@dataclass(frozen=True, kw_only=True)
class Debounce:
    """Run once, with the last event, after ``period`` of quiet (at most ``timeout`` after the first)."""

    period: Duration
    key: str | None = None
    timeout: Duration | None = None


@dataclass(frozen=True, kw_only=True)
class Singleton:
    """At most one live run per evaluated CEL ``key``: a new one is skipped, or cancels the old one."""

    mode: str
    """``"skip"`` (the new run is not started) or ``"cancel"`` (the live one is cancelled)."""
    key: str | None = None


@dataclass(frozen=True, kw_only=True)
class Cancel:
    """Cancel a run when ``event`` arrives (and CEL ``if_exp`` over ``event``/``async`` holds)."""

    event: str
    if_exp: str | None = None
    timeout: Duration | None = None


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Inngest's hard limits, enforced with its texts; change them to measure what they cost."""

    max_steps: int = 1000
    max_step_output_bytes: int = 4 * MiB
    max_state_bytes: int = 32 * MiB
    max_event_bytes: int = 256 * 1024
    max_events_per_send: int = 5000
    max_sleep: timedelta = timedelta(days=366)

    def __post_init__(self) -> None:
        for name in ("max_steps", "max_step_output_bytes", "max_state_bytes", "max_event_bytes"):
            if getattr(self, name) < 1:
                raise InvalidFunction(f"Limits.{name} must be at least 1")


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One attempt of a step (``step_key`` None: a function-level error) as the timeline shows it."""

    step_key: str | None
    attempt: int
    queued_at: datetime
    started_at: datetime
    ended_at: datetime
    ok: bool
    error: dict[str, Any] | None
    worker: str

    @property
    def queue_delay(self) -> timedelta:
        return max(self.started_at - self.queued_at, timedelta(0))

    @property
    def duration(self) -> timedelta:
        return self.ended_at - self.started_at

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Attempt:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True, kw_only=True)
class StepRecord:
    """A memoized step: its op, status, output or error, attempts and timing."""

    step_key: str
    step_id: str
    op: str
    status: str
    output: Any
    error: dict[str, Any] | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    opts: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StepRecord:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True, kw_only=True)
class Run:
    """A function run as stored: status, trigger event, output or error, steps and attempts."""

    run_id: str
    fn_id: str
    status: RunStatus
    event: Event
    output: Any
    error: dict[str, Any] | None
    step_count: int
    created_at: datetime
    scheduled_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    parent_run_id: str | None = None
    steps: tuple[StepRecord, ...] = ()
    attempts: tuple[Attempt, ...] = ()

    @classmethod
    def from_row(
        cls, row: dict[str, Any], steps: tuple[StepRecord, ...] = (), attempts: tuple[Attempt, ...] = ()
    ) -> Run:
        return cls(
            run_id=str(row["run_id"]),
            fn_id=row["fn_id"],
            status=RunStatus(row["status"]),
            event=Event.from_dict(row["event"]),
            output=row["output"],
            error=row["error"],
            step_count=row["step_count"],
            created_at=row["created_at"],
            scheduled_at=row["scheduled_at"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            parent_run_id=str(row["parent_run_id"]) if row["parent_run_id"] else None,
            steps=steps,
            attempts=attempts,
        )
