"""The inngest arm through the JobBackend contract: three memoized steps, shared metrics, cancel, state."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from bakeoff.backends import create_backend
from bakeoff.backends.inngest.adapter import InngestBackend
from bakeoff.contract import BackendError, ImportRequest, JobState
from bakeoff.testing import running_workers, single_arm_router, trial_job_row, wait_for
from bakeoff.workload.article_server import ArticleServer


@pytest.fixture(scope="module")
def module_engine(shared_engine: Engine) -> Engine:
    return shared_engine


@pytest.fixture
def backend(module_engine: Engine, server: ArticleServer) -> Iterator[InngestBackend]:
    arm = create_backend(
        "inngest", module_engine, import_settings=server.import_settings(), retries=1, backoff=lambda a: 0.05
    )
    assert isinstance(arm, InngestBackend)
    yield arm
    arm.client.close()


@pytest.fixture
def workers(backend: InngestBackend) -> Iterator[None]:
    with running_workers(backend):
        yield


def submit_as_router(engine: Engine, arm: InngestBackend, url: str) -> tuple[uuid.UUID, str]:
    """Submit through a real router whose only arm is ``arm``; (trial id, run id)."""
    with single_arm_router(engine, arm) as router:
        submission = router.submit(ImportRequest(url=url))
    return submission.trial_job_id, submission.backend_job_id


def finished_row(engine: Engine, trial_job_id: uuid.UUID, timeout: float = 20) -> dict[str, Any]:
    wait_for(lambda: trial_job_row(engine, trial_job_id)["outcome"] is not None,
             f"trial job {trial_job_id} to finish", timeout=timeout)  # fmt: skip
    return trial_job_row(engine, trial_job_id)


def test_import_runs_as_three_memoized_steps_and_records_metrics(
    backend: InngestBackend, workers: None, module_engine: Engine, server: ArticleServer
) -> None:
    """fetch -> extract -> save as steps; trial row completed with the saved document, 1 attempt."""
    trial_job_id, run_id = submit_as_router(module_engine, backend, server.article_urls(1)[0])
    row = finished_row(module_engine, trial_job_id)
    run = backend.client.get_run(run_id)
    assert [s.step_key for s in run.steps] == ["fetch", "extract", "save"]
    assert (row["outcome"], row["attempts"], row["backend_job_id"]) == ("completed", 1, run_id)
    assert str(row["document_id"]) == run.output["document_id"]
    assert row["started_at"] is not None and row["finished_at"] >= row["started_at"]
    assert backend.state(run_id) is JobState.COMPLETED


@pytest.mark.parametrize(
    ("status", "error_kind", "attempts"),
    [(404, "http_4xx", 1), (503, "http_5xx", 2)],
    ids=["not-retryable", "retryable"],
)
def test_a_failure_retries_its_step_only_when_retryable(
    backend: InngestBackend,
    workers: None,
    module_engine: Engine,
    server: ArticleServer,
    status: int,
    error_kind: str,
    attempts: int,
) -> None:
    """A 404 (not retryable) fails the run at once; a 503 is retried per step (retries=1: 2 attempts)
    and then fails. Either way the trial row keeps the error kind."""
    trial_job_id, run_id = submit_as_router(module_engine, backend, server.url(f"/test/status/{status}"))
    row = finished_row(module_engine, trial_job_id)
    assert (row["outcome"], row["error_kind"], row["attempts"]) == ("failed", error_kind, attempts)
    assert backend.state(run_id) is JobState.FAILED
    fetch_attempts = [a for a in backend.client.get_run(run_id).attempts if a.step_key == "fetch"]
    assert len(fetch_attempts) == attempts


def test_retry_interval_waits_the_fixed_interval_instead_of_the_table(
    module_engine: Engine, server: ArticleServer
) -> None:
    """retry_interval=1 (the server's --retry-interval): the retry comes ~1 s later, not after 15-45 s."""
    arm = create_backend(
        "inngest", module_engine, import_settings=server.import_settings(), retries=1, retry_interval=1
    )
    assert isinstance(arm, InngestBackend)
    try:
        with running_workers(arm, concurrency=1):
            trial_job_id, run_id = submit_as_router(module_engine, arm, server.url("/test/status/503"))
            row = finished_row(module_engine, trial_job_id, timeout=30)
            first, second = [a for a in arm.client.get_run(run_id).attempts if a.step_key == "fetch"]
    finally:
        arm.client.close()
    assert (row["outcome"], row["attempts"]) == ("failed", 2)
    wait = (second.started_at - first.ended_at).total_seconds()
    assert 0.9 <= wait < 15.0, wait  # ~1 s (two clocks: the margin), where the table waits 15-45 s


def test_second_submit_of_the_same_trial_job_is_refused(
    backend: InngestBackend, module_engine: Engine, server: ArticleServer
) -> None:
    """The event id is the trial job id: a repeat within 24 h starts no second run."""
    trial_job_id, _ = submit_as_router(module_engine, backend, server.article_urls(3)[2])
    with pytest.raises(BackendError, match="started no run"), module_engine.begin() as conn:
        backend.submit(ImportRequest(url=server.article_urls(3)[2]), trial_job_id=trial_job_id, conn=conn)
