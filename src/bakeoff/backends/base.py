"""The arm base: what every arm shares, so each one implements only its own primitives.

An arm is a :class:`ArmBackend` subclass registered in :data:`bakeoff.backends.BACKEND_CLASSES`.
The base gives every arm the same measurement: one :class:`~bakeoff.metrics.Instrumentation`
(attempts are wrapped in ``self.instrumentation.attempt``), one :meth:`ArmBackend.record` of a
:class:`Settled` job, and the same catch-up loop while workers run::

    run_workers(concurrency, stop)                    the contract's method, written once here
      start_workers(concurrency, stop)   primitive    the arm's workers, returned as RunningWorkers
      every RECONCILE_SECONDS until stop:
        catch_up(since) -> settled_since(since)  primitive  jobs the arm settled, with when
                        -> record(settled)              the terminal outcome, idempotent
      RunningWorkers.stop()                            in-flight work finishes
      catch_up(since)                                  a last pass for what ended meanwhile

The arm's other primitives are the rest of :class:`bakeoff.contract.JobBackend`: ``submit``
(enqueue in the router's transaction), ``state`` (look up), ``cancel``, ``health`` and ``close``.
Outcomes a worker records as it settles a job also go through :meth:`ArmBackend.record`; the
catch-up records what a worker that died between settling and recording left behind (recording is
idempotent, so a repeat is a no-op).
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Protocol
from uuid import UUID

from bakeoff.contract import Health, ImportRequest, InvalidRequest, JobState, Outcome
from bakeoff.metrics.instrument import Instrumentation
from bakeoff.metrics.recorder import FinishResult, Recorder

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from bakeoff.workload.models import ImportSettings

__all__ = [
    "RECONCILE_LOOKBACK_SECONDS",
    "RECONCILE_SECONDS",
    "ArmBackend",
    "RunningWorkers",
    "Settled",
    "error_kind_for",
    "parse_uuid",
    "record_settled",
]

logger = logging.getLogger(__name__)

RECONCILE_SECONDS = 5.0
"""How often the catch-up looks for settled jobs while workers run."""
RECONCILE_LOOKBACK_SECONDS = 3600
"""How far back the first catch-up looks when workers start."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Settled:
    """A job that reached a terminal state in its arm, as the trial records it."""

    trial_job_id: UUID | None
    """None when the arm's job carries no (valid) trial job id: nothing is recorded."""
    outcome: Outcome
    error_kind: str | None = None
    error_message: str | None = None
    document_id: UUID | None = None


class RunningWorkers(Protocol):
    """What :meth:`ArmBackend.start_workers` returns: workers that stop (in-flight work first)."""

    def stop(self) -> None: ...


def parse_uuid(value: object) -> UUID | None:
    """``value`` (a trial job or document id as an arm stores it) as a UUID; None if absent or malformed."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def error_kind_for(outcome: Outcome, error_kind: str | None = None) -> str | None:
    """The error kind recorded with ``outcome``: none for completed, ``cancelled``, or the failure's own
    kind (``internal_error`` when the arm knows none)."""
    if outcome == "completed":
        return None
    if outcome == "cancelled":
        return "cancelled"
    return error_kind or "internal_error"


def record_settled(instrumentation: Instrumentation, settled: Settled) -> FinishResult | None:
    """Record ``settled``'s terminal outcome; None when it has no trial job or recording failed (logged)."""
    return instrumentation.terminal(
        settled.trial_job_id,
        settled.outcome,
        error_kind=settled.error_kind,
        error_message=settled.error_message,
        document_id=settled.document_id,
    )


class ArmBackend(ABC):
    """Base of the arms: implements :class:`bakeoff.contract.JobBackend` on the arm's primitives."""

    name: ClassVar[str]

    def __init__(self, engine: Engine, *, import_settings: ImportSettings | None = None) -> None:
        self.engine = engine
        self.import_settings = import_settings
        self.instrumentation = Instrumentation(Recorder(engine))

    # -- the arm's primitives ---------------------------------------------------------------------

    @abstractmethod
    def submit(self, request: ImportRequest, *, trial_job_id: UUID, conn: Connection) -> str:
        """Enqueue inside the router's open transaction ``conn``; the arm's own job id."""

    @abstractmethod
    def state(self, backend_job_id: str) -> JobState:
        """The job's state mapped onto :class:`JobState`."""

    @abstractmethod
    def cancel(self, backend_job_id: str) -> bool:
        """Cancel a job that has not finished; True when something was cancelled."""

    @abstractmethod
    def health(self) -> Health:
        """Whether the arm can take work, with queue depth where known."""

    @abstractmethod
    def start_workers(self, concurrency: int, stop: threading.Event) -> RunningWorkers:
        """Start ``concurrency`` workers (they may also watch ``stop``); return them running."""

    @abstractmethod
    def settled_since(self, since: datetime) -> Iterable[tuple[Settled, datetime]]:
        """Jobs that reached a terminal state after ``since``, each with when it did."""

    @abstractmethod
    def close(self) -> None:
        """Release what the arm opened in this process; idempotent."""

    # -- shared -----------------------------------------------------------------------------------

    def record(self, settled: Settled) -> FinishResult | None:
        """Record a settled job's terminal outcome (idempotent; a conflicting second one is refused)."""
        return record_settled(self.instrumentation, settled)

    def run_workers(self, *, concurrency: int, stop: threading.Event) -> None:
        """Run workers in the calling thread until ``stop`` is set, catching up on outcomes meanwhile;
        then stop them (in-flight work finishes) and catch up once more."""
        if concurrency < 1:
            raise InvalidRequest(f"concurrency must be >= 1, not {concurrency}")
        workers = self.start_workers(concurrency, stop)
        since = datetime.now(UTC) - timedelta(seconds=RECONCILE_LOOKBACK_SECONDS)
        try:
            while not stop.wait(RECONCILE_SECONDS):
                since = self.catch_up(since)
        finally:
            workers.stop()
        self.catch_up(since)

    def reconcile(self, since: datetime) -> datetime:
        """Record the outcome of every job settled after ``since``; the latest end seen."""
        latest = since
        for settled, ended_at in self.settled_since(since):
            self.record(settled)
            latest = max(latest, ended_at)
        return latest

    def catch_up(self, since: datetime) -> datetime:
        """:meth:`reconcile`, contained: a failure is logged and the next pass starts from ``since``."""
        try:
            return self.reconcile(since)
        except Exception:
            logger.exception("%s: catching up on settled jobs' outcomes failed", self.name)
            return since
