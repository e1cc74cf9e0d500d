"""Garbage on a child's stdout: strict fails that job clearly, lenient ignores it, the parent lives on."""

from __future__ import annotations

import threading

from legacy_helpers import backend, submit_as_router
from sqlalchemy import Engine

from bakeoff.backends.legacy.store import JobStatus
from bakeoff.testing import trial_job_row, wait_for


def test_strict_protocol_fails_the_garbage_job_and_the_loop_keeps_running(engine: Engine) -> None:
    """A loop processor fails the garbage job with protocol_error, then completes the next job."""
    garbage = backend(engine, handler="garbage")
    trial_job_id, garbage_job = submit_as_router(engine, garbage)
    _, noop_job = submit_as_router(engine, backend(engine, handler="noop"))

    stop = threading.Event()
    loop = garbage.loop()
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: loop.jobs_run == 2 and garbage.health().running == 0, "both jobs to finish")
    finally:
        stop.set()
        thread.join(timeout=120)

    failed = garbage.store.get(garbage_job)
    assert failed is not None and (failed.status, failed.error_kind) == (JobStatus.FAILED, "protocol_error")
    assert "Processing job... done!" in (failed.error or "")
    done = garbage.store.get(noop_job)
    assert done is not None and done.status is JobStatus.COMPLETED
    assert trial_job_row(engine, trial_job_id)["error_kind"] == "protocol_error"


def test_lenient_protocol_ignores_garbage_and_completes(engine: Engine) -> None:
    """stdout_protocol=lenient skips malformed lines and trusts the RESULT line."""
    lenient = backend(engine, handler="garbage", stdout_protocol="lenient")
    trial_job_id, job_id = submit_as_router(engine, lenient)
    from bakeoff.backends.legacy.processors import process_one

    process_one(lenient.runner)
    job = lenient.store.get(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED
    assert trial_job_row(engine, trial_job_id)["outcome"] == "completed"
