"""The guard on a real database: it kills a harmful arm through the router and records why."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
from sqlalchemy import Engine, text

from bakeoff.contract import InvalidRequest
from bakeoff.guard import EXIT_KILLED, GuardSettings, SettingsStore, guard_once, run_guard
from bakeoff.metrics import Recorder
from bakeoff.router import Experiment, ExperimentStore
from bakeoff.router.store import UnknownExperiment
from bakeoff.testing import record_routed_job, wait_for

NAME = "guarded"


def _jobs(engine: Engine, arm: str, completed: int, failed: int) -> None:
    """Record ``completed + failed`` finished jobs served by ``arm``, in one transaction, each
    submitted 10 s before the transaction began (so no arm's latency depends on its place in it)."""
    recorder = Recorder(engine)
    with engine.begin() as conn:
        submitted_at = conn.execute(text("SELECT now() - interval '10 seconds'")).scalar_one()
        for index in range(completed + failed):
            trial_job_id = record_routed_job(
                engine,
                NAME,
                arm=arm,
                unit_key=f"{arm}-{index}",
                url=f"https://articles.test/{arm}/{index}",
                conn=conn,
                submitted_at=submitted_at,
            )
            recorder.attempt_started(trial_job_id, 1, conn=conn)
            outcome = "failed" if index < failed else "completed"
            recorder.finished(
                trial_job_id, outcome, error_kind="http_error" if index < failed else None, conn=conn
            )


@pytest.fixture
def experiment(engine: Engine) -> ExperimentStore:
    store = ExperimentStore(engine)
    store.create(Experiment(name=NAME))
    _jobs(engine, "legacy", completed=95, failed=5)
    _jobs(engine, "pgboss", completed=60, failed=40)
    _jobs(engine, "inngest", completed=95, failed=5)
    return store


def test_the_guard_is_off_until_enabled(engine: Engine, experiment: ExperimentStore) -> None:
    (round_,) = guard_once(engine, NAME)
    assert not round_.acted and round_.note == "guardrail is off"
    assert guard_once(engine) == []
    assert experiment.load(NAME).killed_arms == frozenset()


def test_a_breach_kills_the_arm_and_leaves_an_event_an_observation_and_a_log_line(
    engine: Engine, experiment: ExperimentStore, caplog: pytest.LogCaptureFixture
) -> None:
    SettingsStore(engine).update(NAME, enabled=True)
    (round_,) = guard_once(engine)
    assert round_.acted and round_.killed == ("pgboss",)
    assert experiment.load(NAME).killed_arms == frozenset({"pgboss"})
    with engine.connect() as conn:
        event = conn.execute(
            text(
                "SELECT e.detail, t.served_arm FROM bakeoff.job_events e "
                "JOIN bakeoff.trial_jobs t USING (trial_job_id) WHERE e.event = 'guardrail_kill'"
            )
        ).one()
        observation = conn.execute(
            text("SELECT arm, value, note FROM bakeoff.observations WHERE kind = 'guardrail_kill'")
        ).one()
    assert event.served_arm == "pgboss"
    assert event.detail["breaches"][0]["metric"] == "failure_rate"
    assert event.detail["breaches"][0]["n_candidate"] == 100
    assert observation.arm == "pgboss" and observation.value == pytest.approx(0.35)
    assert "pgboss failure rate 40.0% vs control 5.0%" in observation.note
    kills = [r for r in caplog.records if "killed arm pgboss" in r.getMessage()]
    assert len(kills) == 1
    # The next round does not test the killed arm again, so nothing is killed or recorded twice.
    (again,) = guard_once(engine)
    assert again.killed == ()


def test_dry_run_changes_nothing(engine: Engine, experiment: ExperimentStore) -> None:
    SettingsStore(engine).update(NAME, enabled=True)
    (round_,) = guard_once(engine, NAME, dry_run=True)
    assert round_.killed == ("pgboss",)
    assert experiment.load(NAME).killed_arms == frozenset()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bakeoff.observations")).scalar_one() == 0


def test_only_the_process_holding_the_lock_acts(engine: Engine, experiment: ExperimentStore) -> None:
    SettingsStore(engine).update(NAME, enabled=True)
    with engine.begin() as other:
        other.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('bakeoff.guard'), hashtext(:name))"), {"name": NAME}
        )
        (round_,) = guard_once(engine)
        assert not round_.acted and round_.note == "another guard is acting"
        assert experiment.load(NAME).killed_arms == frozenset()
    (round_,) = guard_once(engine)
    assert round_.killed == ("pgboss",)


def test_run_guard_stops_on_its_event_and_reports_the_kill(
    engine: Engine, experiment: ExperimentStore
) -> None:
    SettingsStore(engine).update(NAME, enabled=True)
    stop = threading.Event()
    rounds = []

    def on_round(r: object) -> None:
        rounds.append(r)
        stop.set()

    assert run_guard(engine, NAME, 0.05, False, stop, on_round=on_round) == EXIT_KILLED
    assert len(rounds) == 1


def test_settings_are_validated_and_need_an_existing_experiment(
    engine: Engine, experiment: ExperimentStore
) -> None:
    store = SettingsStore(engine)
    with pytest.raises(InvalidRequest, match="latency_ratio"):
        store.update(NAME, latency_ratio=0.5)
    with pytest.raises(UnknownExperiment):
        store.save(GuardSettings(experiment="nope", enabled=True))
    saved = store.update(NAME, enabled=True, failure_margin=0.1)
    assert (saved.enabled, saved.failure_margin, saved.alpha) == (True, 0.1, 0.05)
    assert store.update(NAME, enabled=False).failure_margin == 0.1


def test_the_cli_kills_once_and_exits_4(database_url: str, experiment: ExperimentStore) -> None:
    env = {**os.environ, "BAKEOFF_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "bakeoff"]
    enabled = subprocess.run([*command, "guard", "enable", NAME], env=env, capture_output=True, text=True)
    assert enabled.returncode == 0, enabled.stderr
    run = subprocess.run([*command, "guard", "--once"], env=env, capture_output=True, text=True)
    assert run.returncode == EXIT_KILLED, run.stderr
    assert '"killed": ["pgboss"]' in run.stdout
    assert "killed arm pgboss" in run.stderr


class _StderrLines:
    """A child's stderr, read line by line as it comes (the test waits on what the child says)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self.lines.extend, args=(process.stderr,), daemon=True)
        self._reader.start()

    def text(self) -> str:
        return "".join(self.lines)

    def finished(self) -> str:
        self._reader.join(timeout=60)
        return self.text()


def _guarded_process(args: list[str], database_url: str) -> tuple[subprocess.Popen[str], _StderrLines]:
    env = {**os.environ, "BAKEOFF_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "bakeoff", *args, "--guard"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, _StderrLines(process)


def _wait_for_the_kill(process: subprocess.Popen[str], stderr: _StderrLines) -> None:
    """Until the guard says it killed pgboss: it says so after its commit, so the test never stops the
    process between the two (a CI run did, during the server's start, and the line was never written)."""
    wait_for(
        lambda: "killed arm pgboss" in stderr.text() or process.poll() is not None,
        "the guard to kill pgboss",
    )
    assert process.poll() is None, f"exited with {process.returncode}: {stderr.finished()[-2000:]}"


def test_a_worker_started_with_guard_runs_the_guard_beside_its_arms(
    database_url: str, engine: Engine, experiment: ExperimentStore
) -> None:
    SettingsStore(engine).update(NAME, enabled=True)
    worker, stderr = _guarded_process(["worker", "--arms", "pgboss", "--concurrency", "1"], database_url)
    try:
        _wait_for_the_kill(worker, stderr)
        assert experiment.load(NAME).killed_arms == frozenset({"pgboss"})
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    assert worker.returncode == 0, stderr.finished()[-2000:]
    assert "killed arm pgboss" in stderr.finished()


def test_a_server_started_with_guard_runs_the_guard_in_its_process(
    database_url: str, engine: Engine, experiment: ExperimentStore
) -> None:
    SettingsStore(engine).update(NAME, enabled=True)
    server, stderr = _guarded_process(["serve", "--port", "0", "--experiment", NAME], database_url)
    try:
        _wait_for_the_kill(server, stderr)
        assert experiment.load(NAME).killed_arms == frozenset({"pgboss"})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    # uvicorn re-raises the signal it ended on; one that comes before uvicorn starts ends it the same way.
    assert server.returncode == -signal.SIGTERM, stderr.finished()[-2000:]
    assert "killed arm pgboss" in stderr.finished()
