"""Cost usage measured from a real database: CPU stamped per attempt, executions, rows, storage."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from sqlalchemy import Engine, text

from bakeoff.analysis import AnalysisInputError
from bakeoff.analysis.cost import load_pricing, measure_usage, project
from bakeoff.db.urls import libpq_url
from bakeoff.metrics import Instrumentation, Recorder
from bakeoff.metrics.attempts import PsycopgAttempts, record_attempt
from bakeoff.router import Experiment, ExperimentStore
from bakeoff.testing import record_routed_job

EXPERIMENT = "costly"


@pytest.fixture(autouse=True)
def _experiment(engine: Engine) -> None:
    ExperimentStore(engine).create(Experiment(name=EXPERIMENT))


def _burn(seconds: float) -> None:
    """Spend CPU (not wall time) so the stamped cpu_s has something to measure."""
    import time

    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def _submit(engine: Engine, arm: str, index: int) -> uuid.UUID:
    return record_routed_job(
        engine, EXPERIMENT, arm=arm, unit_key=f"{arm}-{index}", url=f"https://articles.test/{arm}/{index}"
    )


def _cpu_events(engine: Engine, trial_job_id: uuid.UUID) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT detail FROM bakeoff.job_events "
                "WHERE trial_job_id = :id AND event = 'attempt_finished'"
            ),
            {"id": trial_job_id},
        ).all()
    return [dict(r.detail) for r in rows]


def test_each_attempt_records_the_cpu_of_its_thread(engine: Engine) -> None:
    instrumentation = Instrumentation(Recorder(engine))
    job = _submit(engine, "pgboss", 0)
    with instrumentation.attempt(job, 1):
        _burn(0.05)
    with pytest.raises(RuntimeError), instrumentation.attempt(job, 2):
        _burn(0.02)
        raise RuntimeError("boom")
    first, second = _cpu_events(engine, job)
    assert first["cpu_scope"] == "thread" and 0.05 <= float(first["cpu_s"]) < 1.0  # type: ignore[arg-type]
    assert second["ok"] is False and 0.02 <= float(second["cpu_s"]) < 1.0  # type: ignore[arg-type]


def test_the_legacy_child_records_its_whole_process_cpu(engine: Engine, database_url: str) -> None:
    job = _submit(engine, "legacy", 0)
    with (
        psycopg.connect(libpq_url(database_url), autocommit=True) as conn,
        record_attempt(PsycopgAttempts(conn), job, 1, whole_process=True),
    ):
        pass
    [event] = _cpu_events(engine, job)
    # This process has run the test session so far: far more CPU than the empty attempt itself.
    assert event["cpu_scope"] == "process" and float(event["cpu_s"]) > 0.1  # type: ignore[arg-type]


def test_usage_counts_inngest_executions_cpu_rows_and_storage(engine: Engine) -> None:
    instrumentation = Instrumentation(Recorder(engine))
    jobs = {arm: [_submit(engine, arm, i) for i in range(4)] for arm in ("pgboss", "inngest")}
    for arm, ids in jobs.items():
        for job in ids:
            for attempt in (1, 2) if arm == "inngest" else (1,):
                with instrumentation.attempt(job, attempt):
                    _burn(0.01)
            Recorder(engine).finished(job, "completed")
    with engine.begin() as conn:
        # The inngest engine's own record of those jobs: one run each, three step attempts each
        # (fetch, extract, save), one of them retried on the first job.
        for n, job in enumerate(jobs["inngest"]):
            run_id = uuid.uuid4()
            event = json.dumps({"name": "import", "data": {"trial_job_id": str(job)}})
            conn.execute(
                text(
                    "INSERT INTO inngest.runs (run_id, app_id, fn_id, event) "
                    "VALUES (:run_id, 'bakeoff', 'import-article', CAST(:event AS jsonb))"
                ),
                {"run_id": run_id, "event": event},
            )
            for step, attempt in [("fetch", 0), ("extract", 0), ("save", 0)] + (
                [("save", 1)] if n == 0 else []
            ):
                conn.execute(
                    text(
                        "INSERT INTO inngest.attempts (run_id, step_key, attempt, queued_at, started_at, "
                        "ended_at, ok, worker) "
                        "VALUES (:run_id, :step, :attempt, now(), now(), now(), true, 'w')"
                    ),
                    {"run_id": run_id, "step": step, "attempt": attempt},
                )
    usage = measure_usage(engine, EXPERIMENT)
    arms = {a.arm: a for a in usage.arms}
    assert usage.total_jobs == 8 and usage.span_days == 1.0 and usage.jobs_per_day == 8.0
    inngest = arms["inngest"]
    assert (inngest.function_runs, inngest.step_executions, inngest.executions) == (4, 13, 17)
    assert inngest.jobs_with_cpu == 4 and inngest.cpu_seconds_per_job is not None
    assert 0.02 <= inngest.cpu_seconds_per_job < 1.0
    assert inngest.retained_jobs == 4 and inngest.storage_bytes and inngest.storage_bytes > 0
    assert arms["pgboss"].executions is None and arms["pgboss"].attempts == 4
    assert arms["pgboss"].rows_written_per_job is not None
    with engine.connect() as conn:
        preloaded = "pg_stat_statements" in conn.execute(text("SHOW shared_preload_libraries")).scalar_one()
    # The embedded server preloads pg_stat_statements; a server that does not gets rows written only.
    assert usage.pg_stat_statements is preloaded
    if preloaded:
        assert arms["pgboss"].statements_per_job is not None and arms["pgboss"].statements_per_job > 0
    else:
        assert arms["pgboss"].statements_per_job is None
    body = project(usage, load_pricing()).to_dict()
    assert {p["multiplier"] for p in body["projections"]} == {1, 10, 100}


def test_an_experiment_without_jobs_is_an_input_error(engine: Engine) -> None:
    with pytest.raises(AnalysisInputError, match="no trial jobs"):
        measure_usage(engine, "nothing-here")


def test_the_cost_and_consistency_commands_run_on_the_database(engine: Engine, database_url: str) -> None:
    import os
    import subprocess
    import sys

    job = _submit(engine, "pgboss", 0)
    with Instrumentation(Recorder(engine)).attempt(job, 1):
        _burn(0.01)
    Recorder(engine).finished(job, "completed")
    env = {**os.environ, "BAKEOFF_DATABASE_URL": database_url}
    bakeoff = [sys.executable, "-m", "bakeoff"]
    cost = subprocess.run(
        [*bakeoff, "cost", "--experiment", EXPERIMENT, "--json"], env=env, capture_output=True, text=True
    )
    assert cost.returncode == 0, cost.stderr
    body = json.loads(cost.stdout)
    assert body["total_jobs"] == 1 and len(body["projections"]) == 3
    text_out = subprocess.run(
        [*bakeoff, "cost", "--experiment", EXPERIMENT], env=env, capture_output=True, text=True
    )
    assert "<- " in text_out.stdout and "ms CPU per job measured" in text_out.stdout
    rate = subprocess.run(
        [*bakeoff, "consistency", "--experiment", "nope", "--set-sample-rate", "0.1"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert rate.returncode == 1 and "experiment 'nope' does not exist" in rate.stderr
    run = subprocess.run(
        [*bakeoff, "consistency", "--experiment", EXPERIMENT], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["checked"] == 0  # the job has no document: nothing to compare
