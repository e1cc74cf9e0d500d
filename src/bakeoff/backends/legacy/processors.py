"""The current system's three processors: single, loop and adaptive.

* :func:`process_one` (single): claim one PENDING job, run it, return.
* :class:`LoopProcessor` (loop): poll every ``poll_interval`` seconds, run one job at a time.
* :class:`AdaptiveProcessor` (adaptive): scale worker threads -- each running one child at a
  time -- between ``min_workers`` and ``max_workers`` with the PENDING backlog.

Every claim is the race-safe ``UPDATE ... WHERE id = (SELECT oldest PENDING) AND status='PENDING'``
of ``queries.sql``. Unlike ``FOR UPDATE SKIP LOCKED``, racing pollers all pick the *same* oldest row;
the losers block on its row lock, then re-check ``status`` and get nothing, and -- like the current
system -- sleep a full poll interval although other jobs are waiting. That contention and the
polling delay are what the trial measures.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.exc import DBAPIError

from bakeoff.backends.legacy.runner import JobRunner, worker_id
from bakeoff.backends.legacy.store import LegacyJob
from bakeoff.contract import InvalidRequest

__all__ = ["AdaptiveProcessor", "LoopProcessor", "ScalingStep", "process_one"]

logger = logging.getLogger(__name__)

JOIN_TIMEOUT_SECONDS = 900.0
MAX_HISTORY = 1000
MAX_REMEMBERED_JOBS = 1000


def process_one(runner: JobRunner, *, name: str = "single") -> LegacyJob | None:
    """Claim the oldest PENDING job, run it to its end; the claimed job, or None when there was none."""
    job = runner.store.claim_next(worker_id(name))
    if job is not None:
        runner.run(job)
    return job


def _check_poll_interval(poll_interval: float) -> None:
    if poll_interval <= 0:
        raise InvalidRequest(f"poll_interval must be > 0 seconds, not {poll_interval}")


class LoopProcessor:
    """Polls the table and runs one job at a time until ``stop`` is set (or ``max_jobs`` ran)."""

    def __init__(self, runner: JobRunner, *, poll_interval: float = 1.0, name: str = "loop") -> None:
        _check_poll_interval(poll_interval)
        self.runner = runner
        self.poll_interval = poll_interval
        self.worker_id = worker_id(name)
        self.jobs_run = 0
        self.processed: deque[UUID] = deque(maxlen=MAX_REMEMBERED_JOBS)
        """The ids of the most recent jobs this processor ran (bounded: loops run for days)."""

    def run(self, stop: threading.Event, *, max_jobs: int | None = None) -> int:
        """Process jobs until stopped; the number of jobs run. A running child is always finished."""
        while not stop.is_set() and (max_jobs is None or self.jobs_run < max_jobs):
            job = self.claim()
            if job is None:
                stop.wait(self.poll_interval)
                continue
            self.run_contained(job)
        return self.jobs_run

    def claim(self) -> LegacyJob | None:
        """The next job, or None (also when the database is unreachable: the poller just tries again)."""
        try:
            return self.runner.store.claim_next(self.worker_id)
        except DBAPIError as exc:
            reason = type(exc.orig).__name__
            logger.warning("legacy poll failed (%s); retrying in %.2fs", reason, self.poll_interval)
            return None

    def run_contained(self, job: LegacyJob) -> None:
        """Run one claimed job; an error running or recording it is logged, never raised."""
        self.jobs_run += 1
        self.processed.append(job.id)
        try:
            self.runner.run(job)
        except Exception:
            # One bad job (or a database hiccup while recording it) must not kill the processor.
            logger.exception("legacy job %s could not be run or recorded; the loop goes on", job.id)


@dataclass(frozen=True, kw_only=True)
class ScalingStep:
    """One decision of the adaptive processor: the backlog it saw and the workers it then had."""

    pending: int
    workers: int


@dataclass
class _Pool:
    lock: threading.Lock = field(default_factory=threading.Lock)
    live: int = 0
    threads: list[threading.Thread] = field(default_factory=list)


class AdaptiveProcessor:
    """Grows worker threads up to the backlog (within bounds) and lets idle ones retire."""

    def __init__(
        self,
        runner: JobRunner,
        *,
        min_workers: int = 1,
        max_workers: int = 4,
        poll_interval: float = 1.0,
        name: str = "adaptive",
    ) -> None:
        _check_poll_interval(poll_interval)
        if min_workers < 0 or max_workers < 1 or min_workers > max_workers:
            raise InvalidRequest(
                f"min_workers/max_workers must satisfy 0 <= min_workers <= max_workers >= 1, "
                f"got {min_workers}/{max_workers}"
            )
        self.runner = runner
        self.min_workers = min_workers
        self.max_workers = max_workers
        self.poll_interval = poll_interval
        self.name = name
        self.history: list[ScalingStep] = []
        self._pool = _Pool()
        self._serial = 0

    @property
    def live_workers(self) -> int:
        with self._pool.lock:
            return self._pool.live

    def run(self, stop: threading.Event) -> None:
        """Supervise until ``stop`` is set, then let every worker finish its child and return."""
        while not stop.is_set():
            try:
                self._scale(self.runner.store.pending_count(), stop)
            except DBAPIError as exc:
                logger.warning("adaptive: cannot read the backlog (%s)", type(exc.orig).__name__)
            stop.wait(self.poll_interval)
        for thread in self._pool.threads:
            thread.join(timeout=JOIN_TIMEOUT_SECONDS)

    def _scale(self, pending: int, stop: threading.Event) -> None:
        target = max(self.min_workers, min(self.max_workers, pending))
        with self._pool.lock:
            self._pool.threads = [t for t in self._pool.threads if t.is_alive()]
            while self._pool.live < target:
                self._start_worker(stop)
            step = ScalingStep(pending=pending, workers=self._pool.live)
        if not self.history or self.history[-1] != step:
            self.history.append(step)
            del self.history[:-MAX_HISTORY]
            logger.debug("adaptive: %d pending -> %d workers", step.pending, step.workers)

    def _start_worker(self, stop: threading.Event) -> None:
        # Called with the pool lock held.
        self._serial += 1
        thread = threading.Thread(
            target=self._work, args=(stop, f"{self.name}-{self._serial}"), name=f"legacy-{self.name}"
        )
        self._pool.live += 1
        self._pool.threads.append(thread)
        thread.start()

    def _work(self, stop: threading.Event, name: str) -> None:
        loop = LoopProcessor(self.runner, poll_interval=self.poll_interval, name=name)
        retired = False
        try:
            while not stop.is_set():
                job = loop.claim()
                if job is not None:
                    loop.run_contained(job)
                elif self._retire():
                    retired = True
                    return
                else:
                    stop.wait(self.poll_interval)
        finally:
            if not retired:
                with self._pool.lock:
                    self._pool.live -= 1

    def _retire(self) -> bool:
        """An idle worker leaves when the pool is above its floor."""
        with self._pool.lock:
            if self._pool.live > self.min_workers:
                self._pool.live -= 1
                return True
            return False
