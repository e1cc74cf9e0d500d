"""The one interface every arm of the trial implements, and the errors bakeoff raises.

The router hands each article import to a backend through :class:`JobBackend`; values that cross
that boundary (:class:`ImportRequest`, :class:`Submission`, :class:`Health`) are frozen,
keyword-only dataclasses validated when they are built.

Exception hierarchy (everything bakeoff raises on purpose derives from :class:`BakeoffError`)::

    BakeoffError
    ├── ConfigurationError      bad settings, environment or command-line input
    ├── DatabaseUnavailable     the database cannot be reached or started
    ├── InvalidRequest          also a ValueError: an input value is malformed (names the field)
    ├── SubmitFailed            the router could serve a job with no arm; nothing was written
    ├── BackendError            a backend refused or failed an operation
    └── ImportFailed            the article import failed (bakeoff.workload; carries error_kind)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit
from uuid import UUID

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = [
    "ARM_NAMES",
    "AssignmentReason",
    "BackendError",
    "BakeoffError",
    "ConfigurationError",
    "DatabaseUnavailable",
    "Health",
    "ImportRequest",
    "InvalidRequest",
    "JobBackend",
    "JobState",
    "Outcome",
    "Submission",
    "SubmitFailed",
]

ARM_NAMES = ("legacy", "pgboss", "inngest")
MAX_URL_LENGTH = 8192
MAX_KEY_LENGTH = 512

AssignmentReason = Literal["hash", "override", "killed", "fallback"]
Outcome = Literal["completed", "failed", "cancelled"]


class BakeoffError(Exception):
    """Root of every error bakeoff raises on purpose."""


class ConfigurationError(BakeoffError):
    """Settings, environment variables or command-line input are wrong."""


class DatabaseUnavailable(BakeoffError):
    """The database cannot be reached, started or used."""


class InvalidRequest(BakeoffError, ValueError):
    """An input value is malformed; the message names the field."""


class SubmitFailed(BakeoffError):
    """No arm could take the job; nothing was written."""


class BackendError(BakeoffError):
    """A backend refused or failed an operation."""


class JobState(StrEnum):
    """A job's state as the trial sees it, whatever the backend calls it."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


def _check_text(name: str, value: str | None, *, limit: int, required: bool) -> None:
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required")
        return
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidRequest(f"{name} must not be empty")
    if len(value) > limit:
        raise InvalidRequest(f"{name} is {len(value)} characters long; the limit is {limit}")
    if "\x00" in value:
        raise InvalidRequest(f"{name} must not contain NUL characters")


def validate_http_url(url: str, *, field_name: str = "url") -> None:
    """Raise :class:`InvalidRequest` unless ``url`` is an absolute http(s) URL with a host."""
    _check_text(field_name, url, limit=MAX_URL_LENGTH, required=True)
    if any(ch.isspace() for ch in url) or any(ord(ch) < 32 for ch in url):
        raise InvalidRequest(f"{field_name} must not contain whitespace or control characters: {url[:80]!r}")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError as exc:
        raise InvalidRequest(f"{field_name} is not a valid URL ({exc}): {url[:80]!r}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidRequest(
            f"{field_name} must use http or https, not {parts.scheme or 'no scheme'!r}: {url[:80]!r}"
        )
    if not parts.hostname:
        raise InvalidRequest(f"{field_name} has no host: {url[:80]!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class ImportRequest:
    """One article import: what the application asks the trial to do."""

    url: str
    unit_key: str | None = None
    """What assignment sticks to; defaults to the URL."""
    idempotency_key: str | None = None
    """A second submit with the same key returns the first Submission."""

    def __post_init__(self) -> None:
        validate_http_url(self.url)
        _check_text("unit_key", self.unit_key, limit=MAX_KEY_LENGTH, required=False)
        _check_text("idempotency_key", self.idempotency_key, limit=MAX_KEY_LENGTH, required=False)

    @property
    def effective_unit_key(self) -> str:
        return self.unit_key if self.unit_key is not None else self.url


@dataclass(frozen=True, kw_only=True, slots=True)
class Submission:
    """What the router did with one import."""

    trial_job_id: UUID
    assigned_arm: str
    served_arm: str
    reason: AssignmentReason
    backend_job_id: str
    phase: int
    experiment: str = ""
    duplicate: bool = False
    """True when an idempotency key matched an earlier submit and this is that one's record."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Health:
    """A backend's answer to "can you take work?"."""

    ok: bool
    detail: str = ""
    queued: int | None = None
    running: int | None = None
    extra: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class JobBackend(Protocol):
    """What the router needs from an arm (contract; see ARCHITECTURE.md)."""

    name: str

    def submit(self, request: ImportRequest, *, trial_job_id: UUID, conn: Connection) -> str:
        """Enqueue inside the router's open transaction ``conn``; return the backend's own job id."""
        ...

    def state(self, backend_job_id: str) -> JobState:
        """The job's state mapped onto :class:`JobState`."""
        ...

    def cancel(self, backend_job_id: str) -> bool:
        """Cancel a job that has not finished; True when something was cancelled."""
        ...

    def health(self) -> Health:
        """Whether the backend can take work, with queue depth where known."""
        ...

    def run_workers(self, *, concurrency: int, stop: threading.Event) -> None:
        """Run workers in the calling thread until ``stop`` is set, then drain and return."""
        ...

    def close(self) -> None:
        """Release what the arm opened in this process (pools, LISTEN sessions); idempotent.

        Call it once the arm's workers have returned; after a drain cut short it also stops what
        they left running (the legacy arm kills its children). The engine is the caller's.
        """
        ...
