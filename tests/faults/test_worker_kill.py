"""SIGKILL of a worker process mid-job, per arm: every job accounted for, no document saved twice."""

from __future__ import annotations

import pytest

from bakeoff.testing.faults import run_kill_trial

KILLS = 3
JOBS = {"pgboss": 60, "inngest": 60, "legacy": 16}
"""Legacy spawns a Python process per job (seconds each on a loaded 2-core box), so its run is smaller."""


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("arm", ["pgboss", "inngest", "legacy"])
def test_sigkilled_worker_loses_no_job_and_saves_no_document_twice(arm: str, database_url: str) -> None:
    """Kill the arm's worker process group 3 times while jobs run; a fresh worker recovers the rest.

    pgboss recovers through expiry (the supervisor retries the dead worker's active jobs), inngest
    through the step lease; legacy leaves RUNNING rows that `bakeoff legacy reap` must list exactly
    (checked inside the run) and fail as worker_lost. Afterwards no trial job is open.
    """
    figures = run_kill_trial(database_url, arm, jobs=JOBS[arm], kills=KILLS, seed=11)

    assert figures.problems() == []
    assert (figures.jobs, figures.faults, figures.lost, figures.duplicates) == (JOBS[arm], KILLS, 0, 0)
    if arm == "legacy":
        assert figures.reaped >= 1, "a kill mid-job must leave at least one RUNNING row to reap"
    else:
        assert figures.reaped == 0
        assert figures.recovery_seconds is not None, "the interrupted jobs must finish after the kills"
