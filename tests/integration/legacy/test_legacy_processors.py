"""Loop and adaptive processors with real children: no job runs twice, the pool follows the backlog."""

from __future__ import annotations

import threading
from collections import Counter

from legacy_helpers import backend, event_names, submit_as_router
from sqlalchemy import Engine, text

from bakeoff.backends.legacy.store import JobStatus
from bakeoff.db.engine import make_engine
from bakeoff.testing import trial_job_row, wait_for


def _all_finished(engine: Engine) -> bool:
    with engine.connect() as conn:
        return not conn.execute(
            text("SELECT 1 FROM legacy.job WHERE status IN ('PENDING', 'RUNNING')")
        ).first()


def test_two_loop_processors_never_run_the_same_job(engine: Engine, database_url: str) -> None:
    """Two loop processors on separate engines race for 30 jobs; each job runs exactly once.

    The claim is what races, so the handler runs in-process here: spawning a child per job would only
    slow the race down (the adaptive test below runs concurrent real children).
    """
    jobs = [submit_as_router(engine, backend(engine, handler="noop")) for _ in range(30)]
    other_engine = make_engine(database_url, pool_size=2)
    first = backend(engine, spawn_per_job=False, poll_interval=0.01).loop("first")
    second = backend(other_engine, spawn_per_job=False, poll_interval=0.01).loop("second")
    stop = threading.Event()
    threads = [threading.Thread(target=loop.run, args=(stop,)) for loop in (first, second)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: _all_finished(engine), "all jobs to finish")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        other_engine.dispose()

    ran = Counter(str(job_id) for job_id in [*first.processed, *second.processed])
    assert sorted(ran) == sorted(job_id for _, job_id in jobs)
    assert set(ran.values()) == {1}
    assert first.processed and second.processed, "both processors took part in the race"
    for trial_job_id, _ in jobs:
        row = trial_job_row(engine, trial_job_id)
        assert (row["outcome"], row["attempts"]) == ("completed", 1)


def test_adaptive_processor_grows_with_the_backlog_and_shrinks_when_idle(engine: Engine) -> None:
    """With 3 slow jobs the pool grows to max_workers=3 concurrent children, each job runs once, and the
    pool falls back to min_workers=1 once drained."""
    legacy = backend(engine, handler="sleep:800")
    trial_job_ids = [submit_as_router(engine, legacy)[0] for _ in range(3)]
    adaptive = legacy.adaptive(max_workers=3)
    stop = threading.Event()
    thread = threading.Thread(target=adaptive.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: _all_finished(engine), "the backlog to drain", timeout=120)
        wait_for(lambda: adaptive.history[-1].workers == 1, "the pool to shrink to min_workers")
    finally:
        stop.set()
        thread.join(timeout=120)

    assert max(step.workers for step in adaptive.history) == 3
    assert adaptive.history[0].pending == 3
    assert adaptive.history[-1].workers == 1
    assert len(legacy.store.recent(status=JobStatus.COMPLETED, limit=10)) == 3
    for trial_job_id in trial_job_ids:
        assert event_names(engine, trial_job_id).count("attempt_started") == 1
