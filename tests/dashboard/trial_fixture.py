"""A database filled by a short real trial, for the dashboard's tests (imported by name).

:func:`fill_with_trial` runs ``bakeoff demo``'s trial (all three arms, the ``flaky`` article server, so
some imports fail) and stores its report. :func:`add_stuck_work` then leaves what a person must look
at: a pg-boss job failed for good and one in retry (fetched and failed through the port's public
API), a legacy row RUNNING for two hours (what a worker killed mid-run leaves, written by an UPDATE
since no worker is killed here), and an inngest run still queued with no worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text

from bakeoff.backends import create_backend
from bakeoff.backends.base import Settled
from bakeoff.contract import ImportRequest
from bakeoff.router import Router
from bakeoff.trial.demo import DemoOptions, run_demo
from bakeoff.trial.runner import TrialConfig


@dataclass(frozen=True, kw_only=True)
class StuckWork:
    experiment: str
    legacy_trial_job_id: UUID
    pgboss_trial_job_id: UUID
    pgboss_failed_trial_job_id: UUID
    legacy_failed_trial_job_id: UUID
    inngest_trial_job_id: UUID
    differing_trial_job_id: UUID


CONTROL_MARKER = "control-re-fetched-marker-7d1e"
"""A word only the recorded control text of the differing job holds (difflib keeps it whole)."""


def fill_with_trial(engine: Engine, out: Path, imports: int = 24) -> str:
    """Run a short demo trial; returns the experiment's name."""
    options = DemoOptions(
        trial=TrialConfig(imports=imports, rate=40, seed=5, concurrency=2, deadline_seconds=60),
        profile="flaky",
        out=out,
        latency_scale=0.05,
    )
    result = run_demo(engine, options)
    assert result.all_terminal, "the trial's jobs did not all end"
    return str(result.experiment)


def add_stuck_work(engine: Engine, experiment: str) -> StuckWork:
    """One stuck legacy row, one pg-boss job in retry, one inngest run left queued (no workers run)."""
    backends = {arm: create_backend(arm, engine) for arm in ("legacy", "pgboss", "inngest")}
    router = Router(engine, experiment=experiment, backends=backends)
    try:

        def submit(arm: str, name: str) -> UUID:
            router.set_override(name, arm)
            submission = router.submit(ImportRequest(url=f"http://127.0.0.1:9/{name}", unit_key=name))
            assert submission.served_arm == arm
            return submission.trial_job_id

        boss = backends["pgboss"].boss  # type: ignore[attr-defined]
        failed = submit("pgboss", "failed-pgboss")
        _fail_until_failed(boss)  # every retry used up: pg-boss leaves it 'failed'
        # The flaky trial fails a legacy job only when its salt routes a flaky path there (a CI run had none).
        legacy_failed = submit("legacy", "failed-legacy")
        _fail_the_pending_legacy_job(backends["legacy"], legacy_failed)
        ids = {arm: submit(arm, f"stuck-{arm}") for arm in backends}
        [job] = boss.fetch("article-import")
        boss.fail("article-import", job.id, {"message": "fetch failed: connection refused"})
    finally:
        router.close()
        for backend in backends.values():
            backend.close()
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE legacy.job SET status = 'RUNNING', worker_id = 'gone-worker', pid = 999999, "
                "started_at = clock_timestamp() - interval '2 hours' WHERE trial_job_id = :id"
            ),
            {"id": ids["legacy"]},
        )
    return StuckWork(
        experiment=experiment,
        differing_trial_job_id=_record_a_difference(engine, experiment),
        legacy_trial_job_id=ids["legacy"],
        pgboss_trial_job_id=ids["pgboss"],
        pgboss_failed_trial_job_id=failed,
        legacy_failed_trial_job_id=legacy_failed,
        inngest_trial_job_id=ids["inngest"],
    )


def _fail_until_failed(boss: Any, deadline_seconds: float = 30) -> None:
    """Fetch and fail the queue's only job until its retries run out (retry_delay apart)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        jobs = boss.fetch("article-import")
        if not jobs:
            time.sleep(0.2)
            continue
        boss.fail("article-import", jobs[0].id, {"message": "HTTP 503 every time"})
        if boss.get_job_by_id("article-import", jobs[0].id).state == "failed":
            return
    raise AssertionError("the pg-boss job did not reach 'failed' in time")


def _fail_the_pending_legacy_job(legacy: Any, trial_job_id: UUID) -> None:
    """Claim the only PENDING legacy row and fail it as a worker would (no automatic retry)."""
    job = legacy.store.claim_next("dashboard-fixture")
    assert job is not None and job.trial_job_id == trial_job_id
    legacy.store.mark_failed(job, error_kind="http_5xx", error="HTTP 503 every time", exit_code=1)
    legacy.record(Settled(trial_job_id=trial_job_id, outcome="failed", error_kind="http_5xx"))


def _record_a_difference(engine: Engine, experiment: str) -> UUID:
    """A consistency check that found a completed pgboss import's document different from what the
    control re-fetched (as ``bakeoff consistency`` records one)."""
    with engine.begin() as conn:
        job = conn.execute(
            text(
                "SELECT t.trial_job_id, t.url, d.content_sha256 FROM bakeoff.trial_jobs t "
                "JOIN bakeoff.documents d ON d.document_id = t.document_id "
                "WHERE t.experiment = :experiment AND t.served_arm = 'pgboss' AND t.outcome = 'completed' "
                "ORDER BY t.submitted_at LIMIT 1"
            ),
            {"experiment": experiment},
        ).one()
        conn.execute(
            text(
                "INSERT INTO bakeoff.consistency_checks (experiment, trial_job_id, arm, url, identical, "
                "arm_sha256, control_sha256, control_text) "
                "VALUES (:experiment, :job, 'pgboss', :url, false, :sha, 'other', :control)"
            ),
            {
                "experiment": experiment,
                "job": job.trial_job_id,
                "url": job.url,
                "sha": job.content_sha256,
                "control": f"A paragraph the control saw.\n{CONTROL_MARKER}",
            },
        )
    return UUID(str(job.trial_job_id))
