"""Retries (manual and the auto_retry switch) and the manual reaper, as they show up in the metrics."""

from __future__ import annotations

from datetime import timedelta

from legacy_helpers import backend, event_names, submit_as_router
from sqlalchemy import Engine, text

from bakeoff.backends.legacy.processors import process_one
from bakeoff.backends.legacy.store import JobStatus
from bakeoff.contract import JobState
from bakeoff.testing import trial_job_row


def test_manual_retry_links_original_job_and_counts_as_the_next_attempt(engine: Engine) -> None:
    """retry() makes a PENDING row with original_job_id; the trial job keeps its first outcome (failed)."""
    legacy = backend(engine, handler="fail:http_5xx")
    trial_job_id, job_id = submit_as_router(engine, legacy)
    process_one(legacy.runner)
    assert trial_job_row(engine, trial_job_id)["outcome"] == "failed"

    retry_id = legacy.retry(job_id)
    retried = legacy.store.get(retry_id)
    assert retried is not None
    assert (retried.status, retried.attempt) == (JobStatus.PENDING, 2)
    assert str(retried.original_job_id) == job_id and retried.trial_job_id == trial_job_id
    assert legacy.state(job_id) is JobState.RETRYING

    # The operator "fixed the bug" before retrying: this time the retry succeeds.
    with engine.begin() as conn:
        conn.execute(text("UPDATE legacy.job SET handler = 'noop' WHERE id = :id"), {"id": retry_id})
    process_one(legacy.runner)
    assert legacy.state(job_id) is JobState.COMPLETED
    row = trial_job_row(engine, trial_job_id)
    assert row["attempts"] == 2
    assert row["outcome"] == "failed", "the recorder keeps the first terminal outcome"
    events = event_names(engine, trial_job_id)
    assert "manual_retry" in events and "conflicting_outcome_refused" in events


def test_auto_retry_retries_a_fixed_number_of_times_then_records_one_failure(engine: Engine) -> None:
    """auto_retry=1: the failure schedules one retry row (RETRYING), and only its failure is terminal.

    Retrying is the processor's decision, so the handler runs in-process (no child needed to prove it).
    """
    legacy = backend(engine, handler="fail:read_timeout", auto_retry=1, spawn_per_job=False)
    trial_job_id, job_id = submit_as_router(engine, legacy)
    process_one(legacy.runner)
    assert legacy.state(job_id) is JobState.RETRYING
    assert trial_job_row(engine, trial_job_id)["outcome"] is None

    process_one(legacy.runner)
    assert legacy.state(job_id) is JobState.FAILED
    row = trial_job_row(engine, trial_job_id)
    assert (row["outcome"], row["error_kind"], row["attempts"]) == ("failed", "read_timeout", 2)
    assert event_names(engine, trial_job_id).count("retry_scheduled") == 1
    assert process_one(legacy.runner) is None, "no third attempt"


def test_reap_fails_stale_running_rows_as_worker_lost(engine: Engine) -> None:
    """A RUNNING row whose worker died stays RUNNING until reap(); then FAILED/worker_lost in both records."""
    legacy = backend(engine, handler="noop")
    trial_job_id, job_id = submit_as_router(engine, legacy)
    claimed = legacy.store.claim_next("a-worker-that-dies")
    assert claimed is not None
    assert legacy.reap(timedelta(minutes=10)) == [], "a fresh RUNNING row is not reaped"

    reaped = legacy.reap(timedelta(0))
    assert [str(job.id) for job in reaped] == [job_id]
    job = legacy.store.get(job_id)
    assert job is not None and (job.status, job.error_kind) == (JobStatus.FAILED, "worker_lost")
    row = trial_job_row(engine, trial_job_id)
    assert (row["outcome"], row["error_kind"]) == ("failed", "worker_lost")
