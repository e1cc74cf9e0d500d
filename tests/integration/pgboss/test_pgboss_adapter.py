"""The pgboss arm behind the JobBackend contract: submit in the router's transaction, the real
import_article handler in pg-boss workers, and the lifecycle in the shared metrics tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from bakeoff.backends import create_backend
from bakeoff.backends.pgboss.adapter import PgBossBackend
from bakeoff.contract import ImportRequest, JobBackend, JobState
from bakeoff.testing import running_workers, single_arm_router, wait_for
from bakeoff.workload.article_server import ArticleServer

from .conftest import Probe

WAIT_SECONDS = 30.0


@pytest.fixture(scope="module")
def engine(shared_engine: Engine) -> Engine:
    return shared_engine


@pytest.fixture
def arm(engine: Engine, server: ArticleServer, schema: str, queue: str) -> Iterator[PgBossBackend]:
    backend = create_backend(
        "pgboss", engine, import_settings=server.import_settings(), schema=schema, queue=queue,
        retry_limit=1, retry_delay=0, retry_backoff=False, polling_interval_seconds=0.5,
    )  # fmt: skip
    assert isinstance(backend, PgBossBackend)
    yield backend
    backend.boss.stop(timeout=1)


def submit_as_router(engine: Engine, backend: JobBackend, url: str) -> tuple[uuid.UUID, str]:
    """Submit through a real router whose only arm is ``backend``; (trial id, job id)."""
    with single_arm_router(engine, backend) as router:
        submission = router.submit(ImportRequest(url=url))
    return submission.trial_job_id, submission.backend_job_id


def run_until(arm: PgBossBackend, probe: Probe, trial_job_id: uuid.UUID) -> dict[str, Any]:
    """Run the arm's workers until the trial job has an outcome (bounded); its metrics row."""
    with running_workers(arm):
        wait_for(lambda: probe.rows("trial_job", id=trial_job_id)[0]["outcome"] is not None,
                 "the trial job's outcome", timeout=WAIT_SECONDS)  # fmt: skip
    return dict(probe.rows("trial_job", id=trial_job_id)[0])


def test_a_failing_import_is_retried_like_pg_boss_then_recorded_failed(
    arm: PgBossBackend, engine: Engine, server: ArticleServer, probe: Probe
) -> None:
    """A 404 is retried up to retry_limit (pg-boss retries every error), then failed as http_4xx."""
    trial_job_id, job_id = submit_as_router(engine, arm, server.url("/test/status/404"))
    row = run_until(arm, probe, trial_job_id)
    assert (row["outcome"], row["error_kind"], row["attempts"]) == ("failed", "http_4xx", 2)
    job = probe.job(job_id)
    assert (job["state"], job["retry_count"], job["output"]["name"]) == ("failed", 1, "Http4xx")


def test_jobs_failed_by_expiry_get_their_outcome_reconciled(
    engine: Engine, server: ArticleServer, schema: str, queue: str, probe: Probe
) -> None:
    """A job whose worker died is failed by the supervisor; reconcile() records failed/timeout once."""
    arm = PgBossBackend(
        engine, import_settings=server.import_settings(), schema=schema, queue=queue, retry_limit=0
    )
    try:
        trial_job_id, job_id = submit_as_router(engine, arm, server.article_urls(3)[2])
        (since,) = probe.rows("db_now")
        assert [j.id for j in arm.boss.fetch(queue)] == [job_id]  # claimed by a worker that then dies
        probe.age(job_id, 400)
        arm.boss.supervise(queue)
        assert arm.state(job_id) is JobState.FAILED
        arm.reconcile(since["now"])
        arm.reconcile(since["now"])
        row = probe.rows("trial_job", id=trial_job_id)[0]
        assert (row["outcome"], row["error_kind"]) == ("failed", "timeout")
    finally:
        arm.boss.stop(timeout=1)
