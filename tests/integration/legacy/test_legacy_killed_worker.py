"""A processor killed mid-job leaves its row RUNNING until someone reaps it: the measured weakness.

A stop signal sent to the whole group (Ctrl-C, a service manager's SIGTERM) is another matter: the
children ignore it and the processor decides when they stop, so an in-flight job still finishes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from datetime import timedelta

import pytest
from legacy_helpers import backend, submit_as_router
from sqlalchemy import Engine

from bakeoff.backends.legacy.store import JobStatus
from bakeoff.contract import JobState
from bakeoff.testing import bakeoff_command, running_workers, trial_job_row, wait_for


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_killed_loop_processor_leaves_a_running_row_until_reaped(engine: Engine, database_url: str) -> None:
    """SIGKILL the `bakeoff legacy loop` process and its child: the row stays RUNNING; reap fails it."""
    legacy = backend(engine, handler="sleep:60000")
    trial_job_id, job_id = submit_as_router(engine, legacy)
    processor = subprocess.Popen(
        bakeoff_command(database_url, "legacy", "loop", "--poll-interval=0.05"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    child_pid: int | None = None
    try:
        wait_for(lambda: getattr(legacy.store.get(job_id), "pid", None) is not None, "the child to spawn")
        job = legacy.store.get(job_id)
        assert job is not None and job.pid is not None
        child_pid = job.pid
    finally:
        _kill(processor.pid)
        processor.wait(timeout=30)
        if child_pid is not None:
            _kill(child_pid)

    assert legacy.state(job_id) is JobState.RUNNING, "nothing notices the dead worker"
    assert trial_job_row(engine, trial_job_id)["outcome"] is None
    assert [str(j.id) for j in legacy.reap(timedelta(0))] == [job_id]
    job = legacy.store.get(job_id)
    assert job is not None and (job.status, job.error_kind) == (JobStatus.FAILED, "worker_lost")
    assert trial_job_row(engine, trial_job_id)["error_kind"] == "worker_lost"


def test_a_child_ignores_sigint_and_sigterm_so_its_job_finishes(engine: Engine) -> None:
    """What a terminal's Ctrl-C or systemd's SIGTERM does to a running child: nothing; the job completes."""
    legacy = backend(engine, handler="sleep:1500")
    trial_job_id, job_id = submit_as_router(engine, legacy)
    with running_workers(legacy, concurrency=1):
        wait_for(lambda: getattr(legacy.store.get(job_id), "pid", None) is not None, "the child to spawn")
        job = legacy.store.get(job_id)
        assert job is not None and job.pid is not None
        os.kill(job.pid, signal.SIGINT)
        os.kill(job.pid, signal.SIGTERM)
        wait_for(lambda: trial_job_row(engine, trial_job_id)["outcome"] is not None, "the job to finish")
    row = trial_job_row(engine, trial_job_id)
    assert (row["outcome"], row["error_kind"]) == ("completed", None)
    assert legacy.state(job_id) is JobState.COMPLETED


def test_a_row_written_before_its_worker_died_gets_its_outcome_from_the_catch_up_pass(engine: Engine) -> None:
    """A worker killed between writing a row's verdict and recording the trial outcome (found by the
    multi-host kill run): the live workers' catch-up records it, once; a row still RUNNING is left to
    `bakeoff legacy reap`."""
    legacy = backend(engine)
    done_trial, done_id = submit_as_router(engine, legacy)
    running_trial, running_id = submit_as_router(engine, legacy)
    with engine.connect() as conn:
        since = conn.exec_driver_sql("SELECT clock_timestamp() - interval '1 second'").scalar_one()
    done = legacy.store.claim_next("dead-host:1:loop-0")
    running = legacy.store.claim_next("dead-host:1:loop-1")
    assert done is not None and running is not None and str(done.id) == done_id
    document_id = "8c1f0a44-6a7e-4f55-9d0e-3d3a5b2b7e01"
    assert legacy.store.mark_completed(done.id, result={"document_id": document_id}, exit_code=0)

    legacy.catch_up(since)
    legacy.catch_up(since)  # a repeat records nothing new

    row = trial_job_row(engine, done_trial)
    assert (row["outcome"], str(row["document_id"])) == ("completed", document_id)
    assert trial_job_row(engine, running_trial)["outcome"] is None
    assert legacy.state(running_id) is JobState.RUNNING
