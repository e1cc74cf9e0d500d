"""The arm contract: every registered arm passes the same suite, submitting through the real router.

Parametrized over :data:`bakeoff.backends.BACKEND_CLASSES`, so an arm joins by registration. Each
test builds the arm with fast options (:data:`FAST_OPTIONS`; one retry everywhere) on a fresh
database and submits through a real :class:`~bakeoff.router.Router` (``Recorder.routed`` writes the
trial job in the arm's enqueue transaction), then checks what the trial measures: outcome, error
kind, attempts, document, and the arm's own ``state()``/``health()``/``close()``. How an arm
recovers a job whose worker process died differs by design; :data:`RECOVERY` names each arm's way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bakeoff.backends import BACKEND_CLASSES, create_backend
from bakeoff.backends.base import ArmBackend
from bakeoff.contract import BackendError, ImportRequest, JobBackend, JobState, Submission
from bakeoff.db.engine import make_engine
from bakeoff.router import Experiment, Router
from bakeoff.testing import RecordingBackend, running_workers, single_arm_router, trial_job_row, wait_for
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.faults import fate_for

ARMS = sorted(BACKEND_CLASSES)
FAST_OPTIONS: dict[str, dict[str, Any]] = {
    "legacy": {"poll_interval": 0.05, "auto_retry": 1},
    "pgboss": {"retry_limit": 1, "retry_delay": 0, "retry_backoff": False, "polling_interval_seconds": 0.5},
    "inngest": {"retries": 1, "backoff": lambda attempt: 0.05, "poll_interval": 0.1},
}
"""Test-speed options per arm: quick polling, and exactly one retry after a failed attempt."""
WAIT_SECONDS = 60.0
JOB_SECONDS = 1.5
"""How long the recovery test's job runs: shorter than pg-boss's expiry and inngest's lease below."""


def _reap(backend: JobBackend, job_id: str) -> None:
    backend.reap(timedelta(0))  # type: ignore[attr-defined]  # the legacy arm's manual recovery


def _expire(backend: JobBackend, job_id: str) -> None:
    boss, queue = backend.boss, backend.queue  # type: ignore[attr-defined]
    wait_for(lambda: boss.supervise(queue) is None and backend.state(job_id) is not JobState.RUNNING,
             "pg-boss's supervisor to expire the dead worker's job")  # fmt: skip


@dataclass(frozen=True)
class Recovery:
    """How an arm recovers a job whose worker died mid-attempt, and the outcome that follows."""

    options: dict[str, Any]
    """Backend options that make recovery quick."""
    recover: Callable[[JobBackend, str], None] | None
    """A step an operator (or the test) takes; None when the arm recovers by itself."""
    outcome: str
    error_kind: str | None


RECOVERY = {
    # legacy: nothing recovers a RUNNING row; `bakeoff legacy reap` fails it as worker_lost.
    "legacy": Recovery({}, _reap, "failed", "worker_lost"),
    # pg-boss: the job expires (the supervisor fails it with a retry left) and runs again.
    "pgboss": Recovery({"expire_in_seconds": 3}, _expire, "completed", None),
    # inngest: the dead worker stops extending the step's lease; another worker replays the step.
    "inngest": Recovery({"lease": timedelta(seconds=2)}, None, "completed", None),
}


@pytest.fixture(scope="module")
def server() -> Iterator[ArticleServer]:
    with ArticleServer(profile="flaky", latency_scale=0.1) as server:
        yield server


@pytest.fixture(params=ARMS)
def arm_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def build(arm: str, engine: Engine, server: ArticleServer, **overrides: Any) -> JobBackend:
    return create_backend(
        arm, engine, import_settings=server.import_settings(), **{**FAST_OPTIONS.get(arm, {}), **overrides}
    )


@pytest.fixture
def backend(arm_name: str, engine: Engine, server: ArticleServer) -> Iterator[JobBackend]:
    arm = build(arm_name, engine, server)
    yield arm
    arm.close()


@pytest.fixture
def router(engine: Engine, backend: JobBackend) -> Iterator[Router]:
    with single_arm_router(engine, backend) as router:
        yield router


def finished(engine: Engine, submission: Submission) -> dict[str, Any]:
    """The trial job's row once it has an outcome (bounded wait)."""
    wait_for(lambda: trial_job_row(engine, submission.trial_job_id)["outcome"] is not None,
             f"trial job {submission.trial_job_id} to get an outcome", timeout=WAIT_SECONDS)  # fmt: skip
    return trial_job_row(engine, submission.trial_job_id)


def steady_url(server: ArticleServer, n: int) -> str:
    """The URL of the ``n``-th article the flaky server serves on every attempt (whichever arm asks)."""
    steady = (
        path
        for path in (f"/articles/{index}" for index in range(10_000, 20_000))
        if all(fate_for("flaky", server.seed, path, attempt).fault == "ok" for attempt in range(1, 9))
    )
    for _ in range(n):
        next(steady)
    return server.url(next(steady))


def flaky_path(server: ArticleServer, arm: str) -> str:
    """An article path (unused by other arms) whose first fetch gets a 503 and whose second succeeds."""
    for index in range(ARMS.index(arm) * 1000, ARMS.index(arm) * 1000 + 1000):
        path = f"/articles/{index}"
        fates = [fate_for("flaky", server.seed, path, n, latency_scale=0.1).fault for n in (1, 2)]
        if fates == ["http_5xx", "ok"]:
            return path
    raise AssertionError("no article path fails exactly once")


def test_a_job_runs_its_whole_lifecycle(
    backend: JobBackend, router: Router, engine: Engine, server: ArticleServer
) -> None:
    """QUEUED and counted by health(); then completed once, with its document, stamps in order."""
    submission = router.submit(ImportRequest(url=steady_url(server, 0)))
    assert submission.served_arm == backend.name and submission.reason == "hash"
    assert backend.state(submission.backend_job_id) is JobState.QUEUED
    health = backend.health()
    assert health.ok and health.queued == 1
    with running_workers(backend):
        row = finished(engine, submission)
    assert (row["outcome"], row["attempts"], row["error_kind"]) == ("completed", 1, None)
    assert row["document_id"] is not None and row["backend_job_id"] == submission.backend_job_id
    assert row["submitted_at"] <= row["enqueued_at"] <= row["started_at"] <= row["finished_at"]
    assert backend.state(submission.backend_job_id) is JobState.COMPLETED
    assert backend.health().queued == 0


def test_a_failing_import_is_recorded_failed_with_its_error_kind(
    backend: JobBackend, router: Router, engine: Engine, server: ArticleServer
) -> None:
    """A 404 ends failed as http_4xx, in the trial record and in the arm's state."""
    submission = router.submit(ImportRequest(url=server.url("/test/status/404")))
    with running_workers(backend):
        row = finished(engine, submission)
    assert (row["outcome"], row["error_kind"], row["document_id"]) == ("failed", "http_4xx", None)
    assert backend.state(submission.backend_job_id) is JobState.FAILED


def test_a_retry_completes_the_job_on_its_second_attempt(
    backend: JobBackend, router: Router, engine: Engine, server: ArticleServer, arm_name: str
) -> None:
    """The first fetch gets a 503; the arm's retry succeeds and the trial counts two attempts."""
    path = flaky_path(server, arm_name)
    submission = router.submit(ImportRequest(url=server.url(path)))
    with running_workers(backend):
        row = finished(engine, submission)
    assert (row["outcome"], row["attempts"]) == ("completed", 2)
    assert server.attempts(path) == 2
    assert backend.state(submission.backend_job_id) is JobState.COMPLETED


def test_a_repeated_submit_with_the_same_key_is_one_job(
    backend: JobBackend, router: Router, server: ArticleServer
) -> None:
    """The second submit answers with the first Submission; the arm holds one job."""
    request = ImportRequest(url=steady_url(server, 2), idempotency_key=f"key-{uuid.uuid4()}")
    first = router.submit(request)
    second = router.submit(request)
    assert second.duplicate and not first.duplicate
    assert (second.trial_job_id, second.backend_job_id) == (first.trial_job_id, first.backend_job_id)
    assert backend.health().queued == 1


def test_a_failed_enqueue_rolls_back_and_the_control_arm_serves(
    backend: JobBackend, engine: Engine, server: ArticleServer
) -> None:
    """The arm enqueues, then fails: its job rolls back with the router's transaction; the control serves."""
    failing = _FailingAfterEnqueue(backend)
    control = RecordingBackend("control", engine)
    experiment = Experiment(
        name=f"fallback-{backend.name}", arms=(backend.name, "control"), weights=(1.0, 0.0), control="control"
    )
    with Router(
        engine, experiment=experiment, backends={backend.name: failing, "control": control}
    ) as router:
        submission = router.submit(ImportRequest(url=steady_url(server, 3)))
    assert (submission.assigned_arm, submission.served_arm, submission.reason) == (
        backend.name,
        "control",
        "fallback",
    )
    assert failing.enqueued == 1 and backend.health().queued == 0


def test_cancel_records_the_outcome_once(
    backend: JobBackend, router: Router, engine: Engine, server: ArticleServer
) -> None:
    """Cancelling a queued job cancels it in the arm and in the trial record; a second cancel is False."""
    submission = router.submit(ImportRequest(url=steady_url(server, 5)))
    assert backend.cancel(submission.backend_job_id) is True
    assert backend.cancel(submission.backend_job_id) is False
    assert backend.state(submission.backend_job_id) is JobState.CANCELLED
    row = finished(engine, submission)
    assert (row["outcome"], row["error_kind"]) == ("cancelled", "cancelled")


def test_the_arm_is_built_on_the_base_knows_its_jobs_and_closes_twice(
    backend: JobBackend, router: Router, server: ArticleServer, arm_name: str
) -> None:
    """Registered name, the shared base, BackendError for an unknown job, and close() idempotent after
    releasing what a submit opened."""
    assert isinstance(backend, JobBackend) and isinstance(backend, ArmBackend)
    assert backend.name == arm_name
    with pytest.raises(BackendError):
        backend.state(str(uuid.uuid4()))
    router.submit(ImportRequest(url=steady_url(server, 4)))
    assert backend.health().ok  # opens the arm's own connections where it has any
    backend.close()
    backend.close()
    if backend.name == "pgboss":
        assert not backend.boss.is_started  # type: ignore[attr-defined]  # its LISTEN session is gone
    if backend.name == "inngest":
        assert backend.client._pool is None  # type: ignore[attr-defined]


def test_a_job_whose_worker_process_died_mid_attempt_gets_an_outcome(
    arm_name: str, database_url: str, engine: Engine, server: ArticleServer
) -> None:
    """SIGKILL the worker process while the job runs; after the arm's recovery the job has an outcome."""
    recovery = RECOVERY.get(arm_name)
    if recovery is None:
        pytest.fail(f"arm {arm_name!r} is registered but RECOVERY does not say how it recovers a dead worker")
    backend = build(arm_name, engine, server, **recovery.options)
    try:
        url = server.url(f"/test/slow?seconds={JOB_SECONDS}&arm={arm_name}")
        with single_arm_router(engine, backend) as router:
            submission = router.submit(ImportRequest(url=url))
        process = _start_worker_process(database_url, arm_name, server, recovery.options)
        try:
            wait_for(lambda: trial_job_row(engine, submission.trial_job_id)["started_at"] is not None,
                     "the worker process to start the job", timeout=WAIT_SECONDS)  # fmt: skip
        finally:
            _kill_group(process)
        if recovery.recover is not None:
            recovery.recover(backend, submission.backend_job_id)
        with running_workers(backend, concurrency=1):
            row = finished(engine, submission)
        assert (row["outcome"], row["error_kind"]) == (recovery.outcome, recovery.error_kind)
    finally:
        backend.close()


class _FailingAfterEnqueue:
    """The arm under test, whose submit enqueues for real and then raises (a failure after writing)."""

    def __init__(self, backend: JobBackend) -> None:
        self.backend = backend
        self.name = backend.name
        self.enqueued = 0

    def submit(self, request: ImportRequest, *, trial_job_id: uuid.UUID, conn: Any) -> str:
        job_id = self.backend.submit(request, trial_job_id=trial_job_id, conn=conn)
        self.enqueued += 1
        raise BackendError(f"{self.name} enqueued {job_id}, then failed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


def _worker_main(database_url: str, arm: str, server: ArticleServer, options: dict[str, Any]) -> None:
    """A forked worker process: its own process group (so a kill takes legacy's children) and engine."""
    os.setsid()
    backend = build(arm, make_engine(database_url, pool_size=4), server, **options)
    backend.run_workers(concurrency=1, stop=threading.Event())


def _start_worker_process(
    database_url: str, arm: str, server: ArticleServer, options: dict[str, Any]
) -> multiprocessing.process.BaseProcess:
    process = multiprocessing.get_context("fork").Process(
        target=_worker_main, args=(database_url, arm, server, options), daemon=False
    )
    process.start()
    return process


def _kill_group(process: multiprocessing.process.BaseProcess) -> None:
    assert process.pid is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)  # before its setsid() it is not a group leader yet
    process.join(timeout=30)
