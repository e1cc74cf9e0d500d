"""The router under load and under connection loss: exposure and enqueue commit together or not at all."""

from __future__ import annotations

import pytest

from bakeoff.testing.faults import run_burst, run_connection_loss

BURST_SUBMITS = 1000
BURST_THREADS = 8
BURST_WORKER_LOOPS = 32
"""pg-boss takes one job per loop per polling interval (0.5 s here): 32 loops drain the burst in ~16 s."""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_burst_of_1000_submits_from_8_threads_gives_one_trial_job_each_all_terminal(
    database_url: str,
) -> None:
    """exposures = submissions = trial jobs = enqueued backend jobs, and every job reaches a terminal state.

    The three arms are served by one pgboss backend (an A/A layout) and every import is a 404 that
    fails at once without retries, so the run stays within the suite's budget while still proving the
    accounting; benchmarks/faults_report.py runs 10,000 real imports (of a small page) with each arm
    working its share in its own worker process.
    """
    figures = run_burst(
        database_url,
        submits=BURST_SUBMITS,
        threads=BURST_THREADS,
        serve_all_with="pgboss",
        cheap_jobs=True,
        concurrency=BURST_WORKER_LOOPS,
    )

    assert figures.problems() == []
    assert figures.submit_failures == 0
    assert (figures.jobs, figures.lost, figures.duplicates) == (BURST_SUBMITS, 0, 0)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_submits_while_sessions_are_terminated_commit_both_rows_or_raise_submit_failed(
    database_url: str,
) -> None:
    """pg_terminate_backend of the router's sessions every 50 ms during 300 submits to the pgboss arm.

    Each submit either returned (its exposure and its pg-boss job both exist, exactly once) or raised
    SubmitFailed (neither exists); no other exception escapes, and the fault really hit some submits.
    """
    figures = run_connection_loss(database_url, submits=300, threads=4, kill_every=0.05)

    assert figures.other_errors == ()
    assert figures.committed + figures.failed == 300
    assert figures.terminations > 0 and figures.failed > 0, "the fault must hit some submits"
    assert figures.trial_jobs_for_committed == figures.committed
    assert figures.backend_jobs_for_committed == figures.committed
    assert (figures.trial_jobs_for_failed, figures.backend_jobs_for_failed) == (0, 0)
