"""A processor killed mid-job leaves its row RUNNING until someone reaps it: the measured weakness."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from legacy_helpers import backend, submit_as_router, trial_row, wait_for
from sqlalchemy import Engine

from bakeoff.backends.legacy.store import JobStatus
from bakeoff.contract import JobState


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_killed_loop_processor_leaves_a_running_row_until_reaped(engine: Engine, database_url: str) -> None:
    """SIGKILL the `bakeoff legacy loop` process and its child: the row stays RUNNING; reap fails it."""
    legacy = backend(engine, handler="sleep:60000")
    trial_job_id, job_id = submit_as_router(engine, legacy)
    processor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bakeoff",
            "--database-url",
            database_url,
            "legacy",
            "loop",
            "--poll-interval=0.05",
        ],
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
    assert trial_row(engine, trial_job_id)["outcome"] is None
    assert [str(j.id) for j in legacy.reap(timedelta(0))] == [job_id]
    job = legacy.store.get(job_id)
    assert job is not None and (job.status, job.error_kind) == (JobStatus.FAILED, "worker_lost")
    assert trial_row(engine, trial_job_id)["error_kind"] == "worker_lost"
