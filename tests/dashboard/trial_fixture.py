"""A database filled by a short real trial, for the dashboard's tests (imported by name).

:func:`fill_with_trial` runs ``bakeoff demo``'s trial (all three arms, the ``flaky`` article server, so
some imports fail) and stores its report. :func:`add_stuck_work` then leaves what a person must look
at: a legacy row RUNNING for two hours (what a worker killed mid-run leaves; the row is claimed as the
legacy poller claims it, then aged), a pg-boss job in retry (fetched and failed through the port's
public API) and an inngest run still queued with no worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from sqlalchemy import Engine, text

from bakeoff.backends import create_backend
from bakeoff.contract import ImportRequest
from bakeoff.router import Router
from bakeoff.trial.demo import DemoOptions, run_demo
from bakeoff.trial.runner import TrialConfig


@dataclass(frozen=True, kw_only=True)
class StuckWork:
    experiment: str
    legacy_trial_job_id: UUID
    pgboss_trial_job_id: UUID
    inngest_trial_job_id: UUID


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
        ids = {}
        for arm in backends:
            router.set_override(f"stuck-{arm}", arm)
            submission = router.submit(
                ImportRequest(url=f"http://127.0.0.1:9/stuck/{arm}", unit_key=f"stuck-{arm}")
            )
            assert submission.served_arm == arm
            ids[arm] = submission.trial_job_id
        boss = backends["pgboss"].boss  # type: ignore[attr-defined]
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
        legacy_trial_job_id=ids["legacy"],
        pgboss_trial_job_id=ids["pgboss"],
        inngest_trial_job_id=ids["inngest"],
    )
