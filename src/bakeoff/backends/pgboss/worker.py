"""pg-boss's worker loop: fetch, run the handler on the batch, settle, sleep what is left of the interval.

As in pg-boss's ``worker.ts``: the loop sleeps ``interval - elapsed`` even after a fetch that found
jobs (if more than 100 ms remain), and a notification cuts the sleep short or skips it. With the
LISTEN connection up the interval is the notify backstop (30 s by default); while it is down the
loop falls back to ``polling_interval_seconds``. The handler runs in its own thread so it can be
raced against the batch's ``expire_in_seconds`` ("handler execution exceeded Ns"), and jobs with
``heartbeat_seconds`` are touched every half heartbeat while it runs.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bakeoff.backends.pgboss.errors import PgBossInputError
from bakeoff.backends.pgboss.models import CommandResult, Job

__all__ = ["Handler", "JobCommands", "SettleHook", "WorkOptions", "Worker"]

logger = logging.getLogger(__name__)

Handler = Callable[[list[Job]], Any]
SettleHook = Callable[[str, list[Job], Any, int], None]
"""``(outcome, jobs, output, affected)`` after the worker completed or failed a batch."""
MIN_SLEEP_SECONDS = 0.1


class JobCommands(Protocol):
    """The pg-boss calls a poll loop makes, all public on :class:`~bakeoff.backends.pgboss.PgBoss`."""

    def fetch(self, name: str, batch_size: int = 1, *, include_metadata: bool = False) -> list[Job]: ...

    def complete(self, name: str, ids: Sequence[Job], output: Any = None) -> CommandResult: ...

    def fail(self, name: str, ids: Sequence[Job], output: Any = None) -> CommandResult: ...

    def touch(self, name: str, ids: Sequence[str]) -> CommandResult: ...

    def notifies(self, name: str) -> bool: ...

    def settle_and_fetch(
        self,
        name: str,
        jobs: Sequence[Job],
        output: Any,
        *,
        failed: bool,
        batch_size: int,
        include_metadata: bool,
    ) -> tuple[CommandResult, list[Job]]: ...


MIN_POLLING_SECONDS = 0.5


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkOptions:
    """How one poll loop fetches."""

    batch_size: int = 1
    polling_interval_seconds: float = 2.0
    notify_polling_interval_seconds: float = 30.0
    include_metadata: bool = False
    burst_when_batch_full: bool = False

    @classmethod
    def checked(
        cls,
        *,
        batch_size: int,
        polling_interval_seconds: float,
        notify_polling_interval_seconds: float | None,
        default_backstop: float,
        include_metadata: bool,
        burst_when_batch_full: bool,
    ) -> WorkOptions:
        """Options after pg-boss's ``checkWorkArgs`` rules (messages in snake_case)."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise PgBossInputError("batch_size must be an integer > 0")
        if polling_interval_seconds < MIN_POLLING_SECONDS:
            raise PgBossInputError(
                "configuration assert: polling_interval_seconds must be at least every 500ms"
            )
        backstop = notify_polling_interval_seconds
        if backstop is None:
            backstop = max(polling_interval_seconds, default_backstop)
        if backstop < polling_interval_seconds:
            raise PgBossInputError(
                "configuration assert: notify_polling_interval_seconds must be at least "
                "polling_interval_seconds"
            )
        return cls(
            batch_size=batch_size,
            polling_interval_seconds=polling_interval_seconds,
            notify_polling_interval_seconds=backstop,
            include_metadata=include_metadata,
            burst_when_batch_full=burst_when_batch_full and batch_size > 1,
        )


@dataclass(slots=True)
class _Outcome:
    result: Any = None
    error: BaseException | None = None
    done: bool = False


class _HandlerRunner:
    """One daemon thread that runs a loop's handler batch after batch.

    The handler runs off the loop's thread so it can be raced against the batch's expiry; a thread
    kept for the loop's life costs one hand-over each way per batch, where a thread started per
    batch also paid its creation and start-up hand-over (~10% of a ``work()`` loop's samples).
    """

    def __init__(self, handler: Handler, name: str) -> None:
        self._handler = handler
        self._tasks: queue.SimpleQueue[tuple[list[Job], _Outcome, threading.Event] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def run(self, jobs: list[Job], timeout: float) -> _Outcome:
        """Run the handler on ``jobs``; the outcome is not ``done`` if it overran ``timeout``."""
        outcome, finished = _Outcome(), threading.Event()
        self._tasks.put((jobs, outcome, finished))
        finished.wait(timeout)
        return outcome

    def retire(self) -> None:
        """Let the thread end once its current handler (if any) returns."""
        self._tasks.put(None)

    def _serve(self) -> None:
        while (task := self._tasks.get()) is not None:
            jobs, outcome, finished = task
            try:
                outcome.result = self._handler(jobs)
            except BaseException as exc:  # the handler's failure is the job's failure
                outcome.error = exc
                if not isinstance(exc, Exception):
                    logger.debug("handler raised %s", type(exc).__name__)
            finally:
                outcome.done = True
                finished.set()


def _timeout_output(seconds: float) -> dict[str, Any]:
    message = f"handler execution exceeded {seconds:g}s"
    return {"name": "Error", "message": message, "stack": f"Error: {message}"}


class Worker:
    """One poll loop on one queue, in its own daemon thread."""

    def __init__(
        self,
        boss: JobCommands,
        name: str,
        handler: Handler,
        options: WorkOptions,
        *,
        work_id: str,
        on_settled: SettleHook | None = None,
    ) -> None:
        self.boss = boss
        self.on_settled = on_settled
        self.name = name
        self.handler = handler
        self.options = options
        self.id = work_id
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._notified = False
        self._held: list[Job] = []
        self._abandoned = False
        self._runner: _HandlerRunner | None = None
        self._thread = threading.Thread(target=self._run, name=f"pgboss-worker:{name}", daemon=True)
        self.last_error: BaseException | None = None
        self.fetches = 0
        """Fetches this loop has made (found jobs or not): what a test watches to see a wake-up."""
        self.idle = False
        """True while the loop sleeps between fetches (a notification cuts the sleep short)."""

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def notify(self) -> None:
        """A job may be ready: skip or cut short the next sleep."""
        self._notified = True
        self._wake.set()

    def held_jobs(self) -> list[Job]:
        return list(self._held)

    def abandon(self) -> None:
        """Stop has failed this worker's jobs; a handler still running must not settle them."""
        self._abandoned = True

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        prefetched: list[Job] | None = None
        # A batch claimed together with the last settle is processed even when a stop came since:
        # it is in flight, as a fetch that returned during the stop is in pg-boss.
        while prefetched is not None or not self._stopping.is_set():
            started = time.monotonic()
            fetched = 0
            try:
                if prefetched is None:
                    self._notified = False
                    self._wake.clear()
                    jobs = self.boss.fetch(
                        self.name, self.options.batch_size, include_metadata=self.options.include_metadata
                    )
                    self.fetches += 1
                else:
                    jobs, prefetched = prefetched, None
                fetched = len(jobs)
                if jobs:
                    self._held = jobs
                    prefetched = self._process(jobs)
            except Exception as exc:
                self.last_error = exc
                # One line per failed poll (the database may be down for a while); traceback at debug.
                logger.warning("worker %s on queue %s: %s", self.id, self.name, exc)
                logger.debug("worker %s failure", self.id, exc_info=exc)
            finally:
                self._held = prefetched or []
            self._sleep(time.monotonic() - started, fetched)
        if self._runner is not None:
            self._runner.retire()
            self._runner = None

    def _interval(self) -> float:
        if self.boss.notifies(self.name):
            return self.options.notify_polling_interval_seconds
        return self.options.polling_interval_seconds

    def _sleep(self, elapsed: float, fetched: int) -> None:
        # pg-boss sleeps after a fetch that found jobs too, unless a burst rule applies.
        if self.options.burst_when_batch_full and fetched >= self.options.batch_size:
            return
        remaining = self._interval() - elapsed
        if not self._stopping.is_set() and not self._notified and remaining > MIN_SLEEP_SECONDS:
            self.idle = True
            try:
                self._wake.wait(remaining)
            finally:
                self.idle = False

    def _process(self, jobs: list[Job]) -> list[Job] | None:
        """Run the handler on ``jobs`` and settle them; the next batch when it was claimed with the settle."""
        expire = max((job.expire_in_seconds or 0) for job in jobs) or 900
        heartbeat = self._start_heartbeat(jobs)
        try:
            outcome = self._run_handler(jobs, float(expire))
        finally:
            if heartbeat is not None:
                heartbeat.set()
        if self._abandoned:
            return None
        output: Any
        if not outcome.done:
            how, output = "failed", _timeout_output(expire)
        elif outcome.error is not None:
            how, output = "failed", outcome.error
        else:
            how, output = "completed", outcome.result if len(jobs) == 1 else None
        if not self._bursts(len(jobs)):
            self._settled(how, jobs, output, self._settle_only(how, jobs, output))
            return None
        # The loop fetches again at once after a full batch (burst): settle and claim the next batch
        # in one round trip. Wake-ups from here on count for the batch this fetch claims.
        self._notified = False
        self._wake.clear()
        result, following = self.boss.settle_and_fetch(
            self.name,
            jobs,
            output,
            failed=how == "failed",
            batch_size=self.options.batch_size,
            include_metadata=self.options.include_metadata,
        )
        self.fetches += 1
        self._held = following
        self._settled(how, jobs, output, result)
        return following

    def _bursts(self, fetched: int) -> bool:
        """Whether the loop fetches again right after this batch, without sleeping."""
        return (
            self.options.burst_when_batch_full
            and fetched >= self.options.batch_size
            and not self._stopping.is_set()
        )

    def _settle_only(self, how: str, jobs: list[Job], output: Any) -> CommandResult:
        settle = self.boss.complete if how == "completed" else self.boss.fail
        return settle(self.name, jobs, output)

    def _settled(self, how: str, jobs: list[Job], output: Any, result: CommandResult) -> None:
        if self.on_settled is not None:
            try:
                self.on_settled(how, jobs, output, result.affected)
            except Exception:
                logger.exception("on_settled hook failed on queue %s", self.name)

    def _run_handler(self, jobs: list[Job], expire: float) -> _Outcome:
        runner = self._runner
        if runner is None:
            runner = self._runner = _HandlerRunner(self.handler, f"pgboss-handler:{self.name}")
        outcome = runner.run(jobs, expire)
        if not outcome.done:
            # The handler overran its expiry and still runs: that thread is left to it, the next batch
            # gets a new one (Python threads cannot be cancelled).
            runner.retire()
            self._runner = None
        return outcome

    def _start_heartbeat(self, jobs: list[Job]) -> threading.Event | None:
        seconds = min((job.heartbeat_seconds for job in jobs if job.heartbeat_seconds), default=None)
        if not seconds:
            return None
        done = threading.Event()

        def beat() -> None:
            while not done.wait(seconds / 2):
                try:
                    self.boss.touch(self.name, [job.id for job in jobs])
                except Exception:
                    logger.warning(
                        "heartbeat touch failed on queue %s:\n%s", self.name, traceback.format_exc()
                    )

        threading.Thread(target=beat, name=f"pgboss-heartbeat:{self.name}", daemon=True).start()
        return done
