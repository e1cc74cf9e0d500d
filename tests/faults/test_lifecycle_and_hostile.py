"""Metrics consistency under repeated or late lifecycle events; an arm against a hostile article server."""

from __future__ import annotations

import resource
import threading
import uuid

import pytest
from sqlalchemy import Engine

from bakeoff.backends import create_backend
from bakeoff.contract import ImportRequest
from bakeoff.metrics import Recorder
from bakeoff.metrics.recorder import FinishResult
from bakeoff.testing import RecordingBackend, single_arm_router, trial_job_row, wait_for
from bakeoff.testing.faults import counts, query
from bakeoff.trial.runner import run_arm_workers
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.faults import fate_for

HOSTILE_KIND = {
    "ok": None,
    "invalid_utf8": None,
    "drip": "read_timeout",
    "huge": "too_large",
    "gzip_bomb": "too_large",
    "redirect_loop": "too_many_redirects",
    "redirect_internal": "blocked_address",
    "not_html": "not_html",
}
HOSTILE_JOBS = 32
MEMORY_BOUND_MIB = 256


def _events(recorder: Recorder, trial_job_id: uuid.UUID, name: str) -> int:
    return sum(1 for _, event, _, _ in recorder.events(trial_job_id) if event == name)


def _exposed(engine: Engine) -> uuid.UUID:
    """A trial job routed to the (fake) legacy arm through the router's real write path."""
    backend = RecordingBackend("legacy", engine)
    with single_arm_router(engine, backend, experiment="faults-metrics") as router:
        return router.submit(ImportRequest(url="http://127.0.0.1:9/article")).trial_job_id


@pytest.mark.slow
def test_a_retry_finishing_after_a_reap_leaves_the_first_outcome_and_one_finished_event(
    engine: Engine,
) -> None:
    """Reaped as worker_lost, then the 'dead' attempt completes: the reap stands, recorded once."""
    recorder = Recorder(engine)
    trial_job_id = _exposed(engine)
    recorder.attempt_started(trial_job_id, 1)
    reaped = recorder.finished(trial_job_id, "failed", error_kind="worker_lost")
    first = trial_job_row(engine, trial_job_id)

    late = recorder.finished(trial_job_id, "completed", document_id=uuid.uuid4())
    repeat = recorder.finished(trial_job_id, "failed", error_kind="worker_lost")
    row = trial_job_row(engine, trial_job_id)

    assert (reaped, late, repeat) == (FinishResult.RECORDED, FinishResult.CONFLICT, FinishResult.REPEATED)
    assert (row["outcome"], row["error_kind"], row["document_id"]) == ("failed", "worker_lost", None)
    assert row["finished_at"] == first["finished_at"]
    assert _events(recorder, trial_job_id, "finished") == 1
    assert _events(recorder, trial_job_id, "conflicting_outcome_refused") == 1


@pytest.mark.slow
def test_events_out_of_order_leave_one_consistent_trial_job(engine: Engine) -> None:
    """Attempt 2 is recorded before attempt 1, a start arrives after the finish: times never go back."""
    recorder = Recorder(engine)
    trial_job_id = _exposed(engine)
    recorder.attempt_started(trial_job_id, 2)
    recorder.attempt_started(trial_job_id, 1)
    started = trial_job_row(engine, trial_job_id)["started_at"]
    recorder.finished(trial_job_id, "completed")
    recorder.attempt_started(trial_job_id, 1)  # a duplicate delivery's late start
    recorder.finished(trial_job_id, "completed")
    row = trial_job_row(engine, trial_job_id)

    assert (row["outcome"], row["attempts"], row["started_at"]) == ("completed", 2, started)
    assert row["submitted_at"] <= row["started_at"] <= row["finished_at"]  # type: ignore[operator]
    assert _events(recorder, trial_job_id, "finished") == 1


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_pgboss_arm_against_hostile_server_ends_every_job_with_its_error_kind_in_bounded_memory(
    engine: Engine,
) -> None:
    """32 hostile imports through the router and pgboss workers: each trial job ends with the kind its fate
    predicts (drips end at the total timeout, 50 MB bodies and gzip bombs at the byte cap), and the
    process's peak memory grows by less than 256 MiB although the server offers far more."""
    seed = 5
    experiment = f"faults-hostile-{uuid.uuid4().hex[:8]}"
    with ArticleServer(profile="hostile", seed=seed, corpus_size=40, drip_interval=0.05) as server:
        settings = server.import_settings(total_timeout=5.0)
        backend = create_backend("pgboss", engine, import_settings=settings, retry_limit=0)
        router = single_arm_router(engine, backend, experiment=experiment)
        paths = [f"/articles/{i}" for i in range(HOSTILE_JOBS)]
        by_trial_job = {router.submit(ImportRequest(url=server.url(p))).trial_job_id: p for p in paths}
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with run_arm_workers({"pgboss": backend}, concurrency=8, stop=threading.Event()):
            done = wait_for(
                lambda: counts(engine, experiment)["open"] == 0,
                "no open job",
                timeout=150,
                interval=0.5,
                fail=False,
            )
        peak_growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
        router.close()
        backend.boss.stop(graceful=False, timeout=5)  # type: ignore[attr-defined]

    rows = query(engine, "hostile_outcomes", experiment=experiment)
    observed = {by_trial_job[r["trial_job_id"]]: r["error_kind"] for r in rows}
    predicted = {p: HOSTILE_KIND[fate_for("hostile", seed, p, 1).fault] for p in paths}
    assert done, "workers must end every hostile job within their timeouts"
    assert observed == predicted
    assert {r["outcome"] for r in rows if r["error_kind"]} <= {"failed"}
    assert len(set(predicted.values())) >= 4, "the sample must cover several hostile faults"
    assert peak_growth_mib < MEMORY_BOUND_MIB
