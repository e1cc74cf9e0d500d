"""Running a trial: workers for every arm, imports routed at a steady Poisson rate, and the wait.

:class:`TrialRun` is what ``bakeoff demo`` drives; ``bakeoff worker`` uses :func:`run_arm_workers`
alone. Workers run in threads of this process (each backend's ``run_workers`` spawns whatever it
needs: the legacy arm its child processes), and stop by draining when the stop event is set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Engine, text

from bakeoff.contract import ImportRequest, JobBackend, Submission
from bakeoff.db.sql import load_queries

__all__ = ["ArmProgress", "TrialConfig", "TrialRun", "close_backends", "run_arm_workers"]

logger = logging.getLogger(__name__)

QUERIES = load_queries("bakeoff.trial")
WORKER_JOIN_SECONDS = 60.0


@dataclass(frozen=True, kw_only=True)
class TrialConfig:
    """How a trial run routes its imports."""

    imports: int = 300
    rate: float = 8.0
    """Mean imports per second (Poisson arrivals)."""
    seed: int = 0
    concurrency: int = 4
    """Workers per backend."""
    deadline_seconds: float = 180.0
    """How long to wait for the last job after the last submit."""

    def __post_init__(self) -> None:
        if self.imports < 1:
            raise ValueError(f"imports must be at least 1, not {self.imports}")
        if not self.rate > 0:
            raise ValueError(f"rate must be positive, not {self.rate}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {self.concurrency}")
        if not self.deadline_seconds > 0:
            raise ValueError(f"deadline_seconds must be positive, not {self.deadline_seconds}")


@dataclass(frozen=True, kw_only=True)
class ArmProgress:
    """Submitted and finished trial jobs of one served arm."""

    arm: str
    submitted: int = 0
    finished: int = 0
    completed: int = 0
    failed: int = 0


def arrival_offsets(count: int, rate: float, seed: int) -> list[float]:
    """Seconds from the start at which each of ``count`` Poisson arrivals happens."""
    gaps = np.random.default_rng(seed).exponential(1.0 / rate, size=count)
    return [float(x) for x in np.cumsum(gaps) - gaps[0]]


def distinct_backends(backends: Iterable[JobBackend]) -> list[JobBackend]:
    """Each backend object once, in order: an A/A run maps every arm to the same one."""
    return list({id(backend): backend for backend in backends}.values())


@contextmanager
def run_arm_workers(
    backends: dict[str, JobBackend],
    *,
    concurrency: int,
    stop: threading.Event,
    abandon: threading.Event | None = None,
) -> Iterator[list[threading.Thread]]:
    """Run each distinct backend's workers in a thread until the block ends, then drain them.

    The drain waits up to ``WORKER_JOIN_SECONDS``, or until ``abandon`` is set (a second stop
    signal); the threads still alive then are the caller's to report.
    """
    threads = []
    for backend in distinct_backends(backends.values()):
        thread = threading.Thread(
            target=_worker_main,
            args=(backend, concurrency, stop),
            name=f"workers-{backend.name}",
            daemon=True,
        )
        thread.start()
        threads.append(thread)
    try:
        yield threads
    finally:
        stop.set()
        deadline = time.monotonic() + WORKER_JOIN_SECONDS
        for thread in threads:
            while thread.is_alive() and time.monotonic() < deadline and not (abandon and abandon.is_set()):
                thread.join(timeout=0.2)
            if thread.is_alive():
                logger.warning("workers of %s did not drain", thread.name)


def close_backends(backends: Iterable[JobBackend]) -> None:
    """Close each distinct backend once, logging what fails."""
    for backend in distinct_backends(backends):
        try:
            backend.close()
        except Exception:  # closing is cleanup: one arm's failure must not keep the others open
            logger.warning("closing the %s arm failed", backend.name, exc_info=True)


def _worker_main(backend: JobBackend, concurrency: int, stop: threading.Event) -> None:
    try:
        backend.run_workers(concurrency=concurrency, stop=stop)
    except Exception:
        logger.exception("workers of the %s arm crashed", backend.name)


@dataclass
class TrialRun:
    """One run of the trial against a router whose backends are already built."""

    engine: Engine
    experiment: str
    submit: Callable[[ImportRequest], Submission]
    config: TrialConfig
    submissions: list[Submission] = field(default_factory=list)
    submit_errors: list[str] = field(default_factory=list)

    def route(
        self, urls: Sequence[str], stop: threading.Event, on_submit: Callable[[], None] | None = None
    ) -> None:
        """Submit one import per URL at the configured Poisson rate, until done or ``stop`` is set."""
        start = time.monotonic()
        for url, offset in zip(
            urls, arrival_offsets(len(urls), self.config.rate, self.config.seed), strict=True
        ):
            if stop.wait(max(0.0, start + offset - time.monotonic())):
                return
            try:
                self.submissions.append(self.submit(ImportRequest(url=url)))
            except Exception as exc:  # SubmitFailed or a broken database: counted, never silent
                logger.error("submit of %s failed: %s", url, exc)
                self.submit_errors.append(f"{url}: {exc}")
            if on_submit is not None:
                on_submit()

    def progress(self) -> dict[str, ArmProgress]:
        """Per-arm progress read from ``bakeoff.trial_jobs``."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(QUERIES["progress_by_arm"]), {"experiment": self.experiment}).all()
        return {
            r.served_arm: ArmProgress(arm=r.served_arm, **{k: int(getattr(r, k)) for k in _COUNTS})
            for r in rows
        }

    def open_jobs(self) -> list[dict[str, object]]:
        """Trial jobs not yet terminal."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(QUERIES["open_jobs"]), {"experiment": self.experiment}).mappings().all()
        return [dict(r) for r in rows]

    def wait_until_terminal(
        self, stop: threading.Event, on_tick: Callable[[dict[str, ArmProgress]], None] | None = None
    ) -> bool:
        """Wait until every submitted job is terminal (True) or the deadline or ``stop`` comes (False)."""
        deadline = time.monotonic() + self.config.deadline_seconds
        while True:
            progress = self.progress()
            if on_tick is not None:
                on_tick(progress)
            if all(p.finished == p.submitted for p in progress.values()):
                return True
            if time.monotonic() >= deadline or stop.wait(0.25):
                return False


_COUNTS = ("submitted", "finished", "completed", "failed")


def document_consistency(engine: Engine, experiment: str) -> dict[str, int]:
    """Completed jobs with and without a document, and non-completed jobs that have one (must be 0)."""
    with engine.connect() as conn:
        row = (
            conn.execute(text(QUERIES["documents_for_experiment"]), {"experiment": experiment})
            .mappings()
            .one()
        )
    return {k: int(v or 0) for k, v in row.items()}


def experiment_name(prefix: str = "demo") -> str:
    """A fresh experiment name per run, so runs on a reused database are never pooled."""
    return f"{prefix}-{datetime.now(UTC):%Y%m%d-%H%M%S-%f}"
