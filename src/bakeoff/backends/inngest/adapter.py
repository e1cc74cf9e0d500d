"""The inngest arm of the trial: ``import_article`` as three memoized steps, triggered by an event.

``submit`` sends ``article/import.requested`` inside the router's transaction (event id = trial job
id, so a repeated submit is a 24-hour duplicate and starts nothing); the backend job id is the run
id. The function runs ``fetch``, ``extract`` and ``save`` as steps, so a failed save retries the
save alone and the page is fetched once.

What an "attempt" is, for the shared metrics: every execution of a step is one attempt of the job,
numbered ``ctx.attempt + 1`` (a step's own retry counter). So ``started_at`` is the first step's
start and ``attempts`` ends as the highest attempt any step needed: 1 for a clean run, 3 when the
worst step took three tries. The terminal outcome is recorded once, when the run completes, fails
or is cancelled (a run listener), with ``document_id`` from the save step's output.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import Connection, Engine

from bakeoff.backends.base import ArmBackend, Settled, error_kind_for, parse_uuid
from bakeoff.backends.inngest.client import Inngest
from bakeoff.backends.inngest.errors import NonRetriableError
from bakeoff.backends.inngest.models import Event, RunStatus, TriggerEvent
from bakeoff.backends.inngest.sdk import Context
from bakeoff.backends.inngest.triggers import FinishedRun
from bakeoff.backends.inngest.worker import Worker
from bakeoff.contract import BackendError, Health, ImportRequest, JobState, Outcome
from bakeoff.db.driver import driver_connection
from bakeoff.db.urls import libpq_url
from bakeoff.workload.models import ImportSettings

__all__ = ["IMPORT_EVENT", "IMPORT_FUNCTION", "InngestBackend", "run_state", "settled_run"]

logger = logging.getLogger(__name__)

IMPORT_EVENT = "article/import.requested"
IMPORT_FUNCTION = "import-article"
STOP_TIMEOUT_SECONDS = 30.0
T = TypeVar("T")
_OUTCOMES: dict[RunStatus, Outcome] = {
    RunStatus.COMPLETED: "completed",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELLED: "cancelled",
}


def run_state(status: str, retry_attempt: int) -> JobState:
    """An inngest run's status (and whether its next invocation is a retry) as the trial's JobState."""
    if status == "running" and retry_attempt > 0:
        return JobState.RETRYING
    return JobState(status)


class _StoppingWorker:
    """The step engine's worker threads; stopping waits up to 30 s for in-flight steps."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def stop(self) -> None:
        self.worker.stop(timeout=STOP_TIMEOUT_SECONDS)


class InngestBackend(ArmBackend):
    """The Inngest-style arm (implements :class:`bakeoff.contract.JobBackend`)."""

    name = "inngest"

    def __init__(
        self,
        engine: Engine,
        *,
        import_settings: ImportSettings | None = None,
        retries: int = 4,
        backoff: Callable[[int], float] | None = None,
        retry_interval: int | None = None,
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__(engine, import_settings=import_settings)
        self.client = Inngest(
            app_id="bakeoff",
            database_url=libpq_url(engine.url),
            backoff=backoff,
            retry_interval=retry_interval,
            lease=lease,
            poll_interval=poll_interval,
        )
        self.function = self.client.create_function(
            fn_id=IMPORT_FUNCTION, trigger=TriggerEvent(event=IMPORT_EVENT), retries=retries
        )(self.import_article)
        self.client.add_run_listener(self._record_terminal)

    # -- JobBackend -------------------------------------------------------------------------------

    def submit(self, request: ImportRequest, *, trial_job_id: UUID, conn: Connection) -> str:
        """Send the import event inside the router's transaction; the run id it started."""
        data = {
            "url": request.url,
            "trial_job_id": str(trial_job_id),
            "idempotency_key": request.idempotency_key,
        }
        [sent] = self.client.send_detailed(
            Event(name=IMPORT_EVENT, data=data, id=str(trial_job_id)), conn=driver_connection(conn)
        )
        if not sent.run_ids:
            raise BackendError(f"inngest: event {sent.event_id} started no run (a duplicate within 24 h)")
        return sent.run_ids[0]

    def state(self, backend_job_id: str) -> JobState:
        progress = self.client.run_progress(backend_job_id)
        if progress is None:
            raise BackendError(f"inngest: no run {backend_job_id}")
        return run_state(*progress)

    def cancel(self, backend_job_id: str) -> bool:
        """Cancel the run between steps; the cancelled outcome is recorded by the run listener."""
        return self.client.cancel_run(backend_job_id)

    def rerun(self, backend_job_id: str) -> str:
        """Run the function again on a failed or cancelled run's triggering event, as Inngest's
        "rerun" does: a new run (its id returned) under a new event id, the old one left as it ended.

        The trial job keeps its first outcome (the recorder refuses a second one), so a rerun helps
        debugging without changing the trial's figures; a completed run is not rerun, since that
        would save its URL's document twice.
        """
        run = self.client.get_run(backend_job_id)
        if run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
            raise BackendError(
                f"inngest: run {backend_job_id} is {run.status}; only failed or cancelled runs rerun"
            )
        [sent] = self.client.send_detailed(
            Event(name=run.event.name, data=run.event.data, id=f"rerun-{uuid.uuid4()}")
        )
        if not sent.run_ids:
            raise BackendError(f"inngest: rerunning {backend_job_id} started no run")
        return sent.run_ids[0]

    def health(self) -> Health:
        try:
            queued, running = self.client.queue_depth()
        except Exception as exc:
            return Health(ok=False, detail=f"inngest: {type(exc).__name__}: {exc}")
        return Health(ok=True, detail="inngest step engine", queued=queued, running=running)

    def start_workers(self, concurrency: int, stop: threading.Event) -> _StoppingWorker:
        """Worker threads for the import function; stopping them lets in-flight steps finish."""
        return _StoppingWorker(self.client.start_worker(concurrency=concurrency))

    def close(self) -> None:
        """Close the step engine's connection pool (its workers close theirs when they stop)."""
        self.client.close()

    def settled_since(self, since: datetime) -> Iterator[tuple[Settled, datetime]]:
        """Runs that ended after ``since``: the listener records them, unless their worker died after the
        run ended but before its listener ran."""
        for run, ended_at in self.client.finished_runs_since(IMPORT_FUNCTION, since):
            if (found := settled_run(run)) is not None:
                yield found, ended_at

    # -- the function -----------------------------------------------------------------------------

    def import_article(self, ctx: Context) -> dict[str, Any]:
        """fetch -> extract -> save, each a memoized step with its own retries."""
        from bakeoff.workload.articles import extract_article, fetch_page, save_document
        from bakeoff.workload.models import ExtractedArticle, FetchedPage

        data = ctx.event.data
        trial_job_id = UUID(data["trial_job_id"])

        def fetch(url: str) -> dict[str, Any]:
            return fetch_page(url, settings=self.import_settings).to_dict()

        def extract(page: dict[str, Any]) -> dict[str, Any]:
            return extract_article(FetchedPage.from_dict(page)).to_dict()

        def save(article: dict[str, Any]) -> dict[str, Any]:
            document = save_document(
                self.engine,
                ExtractedArticle.from_dict(article),
                trial_job_id=trial_job_id,
                idempotency_key=data.get("idempotency_key"),
            )
            return document.to_dict()

        page = ctx.step.run("fetch", self._measured(ctx, trial_job_id, fetch), data["url"])
        article = ctx.step.run("extract", self._measured(ctx, trial_job_id, extract), page)
        document = ctx.step.run("save", self._measured(ctx, trial_job_id, save), article)
        return {"document_id": document["document_id"], "url": data["url"]}

    def _measured(self, ctx: Context, trial_job_id: UUID, fn: Callable[..., T]) -> Callable[..., T]:
        """A step body wrapped as one attempt for the metrics; non-retryable failures stop retries."""
        from bakeoff.workload.errors import ImportFailed

        def step(*args: Any) -> T:
            try:
                with self.instrumentation.attempt(trial_job_id, ctx.attempt + 1):
                    return fn(*args)
            except ImportFailed as exc:
                if not exc.retryable:
                    raise NonRetriableError(f"{exc.error_kind}: {exc}") from exc
                raise

        return step

    def _record_terminal(self, run: FinishedRun) -> None:
        if run.fn_id == IMPORT_FUNCTION and (found := settled_run(run)) is not None:
            self.record(found)


def settled_run(run: FinishedRun) -> Settled | None:
    """A finished import run as the trial records it; None when its event names no trial job."""
    trial_job_id = parse_uuid(run.event.data.get("trial_job_id"))
    if trial_job_id is None:
        return None
    error = run.error or {}
    outcome = _OUTCOMES[run.status]
    document_id = None
    if run.status is RunStatus.COMPLETED and isinstance(run.output, dict):
        document_id = parse_uuid(run.output.get("document_id"))
    return Settled(
        trial_job_id=trial_job_id,
        outcome=outcome,
        error_kind=error_kind_for(outcome, str(error.get("error_kind") or "") or None),
        error_message=f"{error.get('name')}: {error.get('message')}" if error else None,
        document_id=document_id,
    )
