"""The recorder stamps the database clock, is idempotent, and never overwrites a terminal outcome."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from bakeoff.contract import ARM_NAMES, ImportRequest, InvalidRequest
from bakeoff.metrics import FinishResult, Instrumentation, Recorder, export_trial, load_trial
from bakeoff.metrics import columns as col
from bakeoff.router import Experiment, Router
from bakeoff.testing import RecordingBackend, trial_job_row


def _submit(engine: Engine, arm: str = "pgboss") -> uuid.UUID:
    """A trial job routed to ``arm`` the way production writes one (the router's Recorder.routed)."""
    backends = {name: RecordingBackend(name, engine) for name in ARM_NAMES}
    with Router(engine, experiment=Experiment(name="article-import"), backends=backends) as router:
        return router.submit(ImportRequest(url="https://example.com/a"), override_arm=arm).trial_job_id


def test_lifecycle_is_recorded_in_order_on_the_database_clock(engine: Engine) -> None:
    recorder = Recorder(engine)
    job = _submit(engine)
    assert recorder.attempt_started(job, 1)
    recorder.attempt_finished(job, 1, ok=False, error_kind="http_5xx")
    assert recorder.attempt_started(job, 2)
    document_id = uuid.uuid4()
    assert recorder.finished(job, "completed", document_id=document_id) is FinishResult.RECORDED
    row = trial_job_row(engine, job)
    assert row["submitted_at"] <= row["enqueued_at"] <= row["started_at"] <= row["finished_at"]
    assert row["attempts"] == 2
    assert row["outcome"] == "completed"
    assert row["document_id"] == document_id
    events = [e[1] for e in recorder.events(job)]
    assert events == [
        "submitted",
        "enqueued",
        "attempt_started",
        "attempt_finished",
        "attempt_started",
        "finished",
    ]


def test_repeated_and_out_of_order_events_leave_one_consistent_job(engine: Engine) -> None:
    recorder = Recorder(engine)
    job = _submit(engine)
    recorder.attempt_started(job, 2)
    first_start = trial_job_row(engine, job)["started_at"]
    recorder.attempt_started(job, 1)  # a late duplicate of an earlier attempt
    assert trial_job_row(engine, job)["started_at"] == first_start
    assert trial_job_row(engine, job)["attempts"] == 2
    assert recorder.finished(job, "failed", error_kind="http_4xx") is FinishResult.RECORDED
    finished_at = trial_job_row(engine, job)["finished_at"]
    assert recorder.finished(job, "failed", error_kind="http_4xx") is FinishResult.REPEATED
    assert recorder.finished(job, "completed") is FinishResult.CONFLICT
    row = trial_job_row(engine, job)
    assert (row["outcome"], row["error_kind"], row["finished_at"]) == ("failed", "http_4xx", finished_at)
    assert "conflicting_outcome_refused" in [e[1] for e in recorder.events(job)]


def test_unknown_job_and_bad_values(engine: Engine) -> None:
    recorder = Recorder(engine)
    assert recorder.finished(uuid.uuid4(), "completed") is FinishResult.UNKNOWN_JOB
    assert recorder.attempt_started(uuid.uuid4(), 1) is False
    with pytest.raises(InvalidRequest, match="outcome"):
        recorder.finished(uuid.uuid4(), "exploded")
    with pytest.raises(InvalidRequest, match="attempt"):
        recorder.attempt_started(uuid.uuid4(), 0)


def test_instrumentation_contains_its_own_failures(engine: Engine) -> None:
    recorder = Recorder(engine)
    job = _submit(engine)
    instrumentation = Instrumentation(recorder)
    with instrumentation.attempt(job, 1):
        engine.dispose()  # the hook's later writes still work: a new pool is made
    assert trial_job_row(engine, job)["attempts"] == 1

    class BrokenRecorder(Recorder):
        def attempt_started(self, *args: object, **kwargs: object) -> bool:
            raise RuntimeError("metrics database hiccup")

    ran = []
    with Instrumentation(BrokenRecorder(engine)).attempt(job, 2):
        ran.append(True)
    assert ran == [True]
    with pytest.raises(KeyError), instrumentation.attempt(job, 3):
        raise KeyError("the handler's own error propagates")


def test_export_round_trip_keeps_columns_and_derives_durations(engine: Engine, tmp_path: Path) -> None:
    recorder = Recorder(engine)
    done = _submit(engine, arm="legacy")
    recorder.attempt_started(done, 1)
    recorder.finished(done, "completed")
    _submit(engine, arm="inngest")  # still open
    frame = load_trial(engine, experiment="article-import")
    assert list(frame.columns) == [*col.STORED_COLUMNS, *col.DERIVED_COLUMNS]
    assert len(frame) == 2
    finished = frame[frame[col.TRIAL_JOB_ID] == str(done)].iloc[0]
    assert finished[col.LATENCY_MS] == pytest.approx(finished[col.QUEUE_WAIT_MS] + finished[col.RUN_TIME_MS])
    assert frame[col.LATENCY_MS].isna().sum() == 1
    for suffix, fmt in ((".csv", "csv"), (".parquet", "parquet")):
        out = tmp_path / f"trial{suffix}"
        assert export_trial(engine, out, fmt) == 2  # type: ignore[arg-type]
        again = load_trial(out)
        pd.testing.assert_series_equal(
            again[col.LATENCY_MS].reset_index(drop=True), frame[col.LATENCY_MS].reset_index(drop=True)
        )
        assert list(again[col.TRIAL_JOB_ID]) == list(frame[col.TRIAL_JOB_ID])
