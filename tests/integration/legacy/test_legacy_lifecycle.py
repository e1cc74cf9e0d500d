"""A legacy job's life with real child processes: PENDING -> RUNNING -> COMPLETED or FAILED, as recorded."""

from __future__ import annotations

import threading
from uuid import UUID

from legacy_helpers import backend, event_names, submit_as_router
from sqlalchemy import Engine

from bakeoff.backends.legacy.processors import process_one
from bakeoff.backends.legacy.store import JobStatus
from bakeoff.contract import JobState
from bakeoff.testing import trial_job_row, wait_for


def test_job_goes_pending_running_completed_and_metrics_follow(engine: Engine) -> None:
    """A submitted job runs in a child: QUEUED -> RUNNING -> COMPLETED, metrics follow; the child's
    exit 1 after success (crash_after_complete, the default) is kept as exit_code and an event."""
    legacy = backend(engine, handler="sleep:300")
    trial_job_id, job_id = submit_as_router(engine, legacy)
    assert legacy.state(job_id) is JobState.QUEUED
    assert legacy.health().queued == 1

    worker = threading.Thread(target=process_one, args=(legacy.runner,))
    worker.start()
    wait_for(lambda: legacy.state(job_id) is JobState.RUNNING, "the job to be RUNNING")
    worker.join(timeout=120)

    job = legacy.store.get(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED
    assert job.pid is not None and job.worker_id is not None
    assert job.result == {"slept_ms": 300}
    assert job.progress == "running sleep:300", "PROGRESS lines from the child update the row"
    assert legacy.state(job_id) is JobState.COMPLETED
    row = trial_job_row(engine, trial_job_id)
    assert row["outcome"] == "completed" and row["attempts"] == 1
    assert row["submitted_at"] <= row["started_at"] <= row["finished_at"]
    # crash_after_complete (the default, as in the seed): exit 1 after success, still COMPLETED.
    assert job.exit_code == 1
    assert "worker_exit_nonzero" in event_names(engine, trial_job_id)
    assert event_names(engine, trial_job_id)[:4] == [
        "submitted",
        "enqueued",
        "attempt_started",
        "attempt_finished",
    ]


def test_without_crash_after_complete_the_child_exits_zero_and_logs_no_crash(engine: Engine) -> None:
    """crash_after_complete=False (legacy, fixed): exit code 0, no worker_exit_nonzero event."""
    clean = backend(engine, handler="noop", crash_after_complete=False)
    trial_job_id, job_id = submit_as_router(engine, clean)
    process_one(clean.runner)
    job = clean.store.get(job_id)
    assert job is not None and (job.status, job.exit_code) == (JobStatus.COMPLETED, 0)
    assert trial_job_row(engine, trial_job_id)["outcome"] == "completed"
    assert "worker_exit_nonzero" not in event_names(engine, trial_job_id)


def test_in_process_mode_runs_without_a_child(engine: Engine) -> None:
    """spawn_per_job=False (legacy, fixed) runs the handler in the processor: no pid, no exit code."""
    legacy = backend(engine, handler="noop", spawn_per_job=False)
    trial_job_id, job_id = submit_as_router(engine, legacy)
    process_one(legacy.runner)
    job = legacy.store.get(UUID(job_id))
    assert job is not None and job.status is JobStatus.COMPLETED
    assert job.pid is None and job.exit_code is None
    assert trial_job_row(engine, trial_job_id)["outcome"] == "completed"


def test_a_child_past_its_time_limit_is_killed_and_failed(engine: Engine) -> None:
    """job_timeout kills a hung child; the job fails as timeout and the processor returns."""
    legacy = backend(engine, handler="sleep:60000", job_timeout=3.0)
    trial_job_id, job_id = submit_as_router(engine, legacy)
    process_one(legacy.runner)
    job = legacy.store.get(job_id)
    assert job is not None and (job.status, job.error_kind) == (JobStatus.FAILED, "timeout")
    assert trial_job_row(engine, trial_job_id)["error_kind"] == "timeout"


def test_cancel_fails_a_pending_job_as_cancelled_but_not_a_running_one(engine: Engine) -> None:
    """The legacy table has no CANCELLED status: cancel marks a PENDING row FAILED/cancelled only."""
    legacy = backend(engine, handler="noop")
    trial_job_id, job_id = submit_as_router(engine, legacy)
    assert legacy.cancel(job_id) is True
    assert legacy.state(job_id) is JobState.CANCELLED
    assert trial_job_row(engine, trial_job_id)["outcome"] == "cancelled"
    assert legacy.cancel(job_id) is False

    _, running_id = submit_as_router(engine, legacy)
    assert legacy.store.claim_next("test-worker") is not None
    assert legacy.cancel(running_id) is False
    assert legacy.state(running_id) is JobState.RUNNING
