"""Router.submit on real PostgreSQL: exposure and enqueue together, kill, fallback, override."""

from __future__ import annotations

from uuid import UUID

import pytest
from router_support import FAST_BUDGET, MakeRouter, count, key_for, rows
from sqlalchemy import Connection, Engine, text

from bakeoff.contract import ImportRequest, SubmitFailed
from bakeoff.testing import FailingBackend, HangingBackend, RecordingBackend


def request(key: str, **extra: str) -> ImportRequest:
    return ImportRequest(url=f"https://articles.example/{key}", unit_key=key, **extra)


def trial_rows(engine: Engine) -> list[object]:
    return rows(engine, "SELECT * FROM bakeoff.trial_jobs ORDER BY submitted_at")


def test_submit_commits_the_exposure_and_the_enqueue_together(
    engine: Engine, make_router: MakeRouter
) -> None:
    """One submit: one trial_jobs row (hash, enqueued) and the arm's job row carrying its trial_job_id."""
    router = make_router()
    key = key_for(router, "pgboss")
    sub = router.submit(request(key))
    assert (sub.assigned_arm, sub.served_arm, sub.reason, sub.phase, sub.duplicate) == (
        "pgboss",
        "pgboss",
        "hash",
        1,
        False,
    )
    [row] = trial_rows(engine)
    assert (row.trial_job_id, row.unit_key, row.served_arm, row.assignment_reason) == (
        sub.trial_job_id,
        key,
        "pgboss",
        "hash",
    )
    assert row.backend_job_id == sub.backend_job_id and row.enqueued_at >= row.submitted_at
    [job] = rows(engine, "SELECT * FROM public.router_fake_jobs")
    assert (str(job.job_id), job.arm, job.trial_job_id) == (sub.backend_job_id, "pgboss", sub.trial_job_id)
    events = [r.event for r in rows(engine, "SELECT event FROM bakeoff.job_events ORDER BY event_id")]
    assert events == ["submitted", "enqueued"]


def test_unit_key_defaults_to_the_url(make_router: MakeRouter, engine: Engine) -> None:
    """Without a unit key, assignment sticks to the URL."""
    router = make_router()
    url = "https://articles.example/no-unit"
    sub = router.submit(ImportRequest(url=url))
    assert sub.assigned_arm == router.assign(url)
    assert trial_rows(engine)[0].unit_key == url


def test_kill_serves_the_arms_units_by_control_and_revive_restores_them(
    engine: Engine, make_router: MakeRouter
) -> None:
    """Killed: served by control with reason 'killed', assignment and phase unchanged; revived: hash again."""
    router = make_router()
    key = key_for(router, "inngest")
    router.kill("inngest")
    killed = router.submit(request(key))
    assert (killed.assigned_arm, killed.served_arm, killed.reason, killed.phase) == (
        "inngest",
        "legacy",
        "killed",
        1,
    )
    router.revive("inngest")
    revived = router.submit(request(key))
    assert (revived.assigned_arm, revived.served_arm, revived.reason) == ("inngest", "inngest", "hash")
    assert count(engine, "bakeoff.trial_jobs") == 2
    assert [r.arm for r in rows(engine, "SELECT arm FROM public.router_fake_jobs ORDER BY job_id")] == [
        "legacy",
        "inngest",
    ]
    assert count(engine, "bakeoff.experiment_phases") == 1


def test_a_raising_arm_falls_back_to_control_and_its_write_is_undone(
    engine: Engine, make_router: MakeRouter
) -> None:
    """The failing arm's row is rolled back; control serves; the error is an event between the others."""
    router = make_router(backends={"pgboss": FailingBackend("pgboss", engine)})
    sub = router.submit(request(key_for(router, "pgboss")))
    assert (sub.assigned_arm, sub.served_arm, sub.reason) == ("pgboss", "legacy", "fallback")
    [row] = trial_rows(engine)
    assert (row.assigned_arm, row.served_arm, row.assignment_reason) == ("pgboss", "legacy", "fallback")
    assert [r.arm for r in rows(engine, "SELECT arm FROM public.router_fake_jobs")] == ["legacy"]
    [event] = rows(engine, "SELECT detail FROM bakeoff.job_events WHERE event = 'fallback'")
    assert event.detail["failed_arm"] == "pgboss" and "refused job" in event.detail["error"]
    assert event.detail["timed_out"] is False
    events = rows(engine, "SELECT event, at, detail FROM bakeoff.job_events ORDER BY at, event_id")
    assert [e.event for e in events] == ["submitted", "fallback", "enqueued"]
    assert events[0].detail == {"assigned_arm": "pgboss", "reason": "hash"}
    assert events[0].at == row.submitted_at < events[1].at < events[2].at == row.enqueued_at


@pytest.mark.parametrize(
    ("mode", "seconds"),
    [("database", 30.0), ("unbounded", 30.0), ("python", FAST_BUDGET * 2)],
    ids=["statement-timeout", "watchdog-cancel", "late-answer-discarded"],
)
def test_a_hanging_arm_falls_back_to_control_within_the_budget(
    engine: Engine, make_router: MakeRouter, mode: str, seconds: float
) -> None:
    """A hang in a statement, in a statement exempt from the timeout, or in Python: control serves it."""
    hanging = HangingBackend("inngest", engine, seconds=seconds, mode=mode)
    router = make_router(backends={"inngest": hanging}, submit_timeout=FAST_BUDGET)
    sub = router.submit(request(key_for(router, "inngest")))
    assert (sub.assigned_arm, sub.served_arm, sub.reason) == ("inngest", "legacy", "fallback")
    assert count(engine, "bakeoff.trial_jobs") == 1
    assert [r.arm for r in rows(engine, "SELECT arm FROM public.router_fake_jobs")] == ["legacy"]
    [event] = rows(engine, "SELECT detail FROM bakeoff.job_events WHERE event = 'fallback'")
    assert event.detail["timed_out"] is True and event.detail["failed_arm"] == "inngest"


def test_when_control_fails_too_nothing_is_written_and_submit_failed_is_raised(
    engine: Engine, make_router: MakeRouter
) -> None:
    """Both the assigned arm and the control arm fail: SubmitFailed, and no row anywhere."""
    router = make_router(
        backends={"pgboss": FailingBackend("pgboss", engine), "legacy": FailingBackend("legacy", engine)}
    )
    with pytest.raises(SubmitFailed, match="control arm 'legacy' failed too"):
        router.submit(request(key_for(router, "pgboss")))
    with pytest.raises(SubmitFailed, match="control arm 'legacy' failed"):
        router.submit(request(key_for(router, "legacy")))
    for table in ("bakeoff.trial_jobs", "bakeoff.job_events", "public.router_fake_jobs"):
        assert count(engine, table) == 0, table


def test_override_argument_and_override_table_pin_the_arm(engine: Engine, make_router: MakeRouter) -> None:
    """override_arm= and a unit_overrides row both route to the pinned arm with reason 'override'."""
    router = make_router()
    key = key_for(router, "legacy")
    by_argument = router.submit(request(key), override_arm="inngest")
    router.set_override(key, "pgboss")
    by_table = router.submit(request(key))
    argument_wins = router.submit(request(key), override_arm="inngest")
    assert [(s.assigned_arm, s.served_arm, s.reason) for s in (by_argument, by_table, argument_wins)] == [
        ("inngest", "inngest", "override"),
        ("pgboss", "pgboss", "override"),
        ("inngest", "inngest", "override"),
    ]
    assert router.clear_override(key) is True
    assert router.submit(request(key)).reason == "hash"
    assert count(engine, "bakeoff.trial_jobs") == 4


def test_an_unknown_override_arm_is_refused_before_anything_is_written(
    engine: Engine, make_router: MakeRouter
) -> None:
    """override_arm must be one of the arms; the message names it."""
    router = make_router()
    with pytest.raises(ValueError, match="override_arm 'nosuch' is not an arm"):
        router.submit(request("k"), override_arm="nosuch")
    assert count(engine, "bakeoff.trial_jobs") == 0


def test_a_repeated_idempotency_key_returns_the_first_submission(
    engine: Engine, make_router: MakeRouter
) -> None:
    """The second submit with a key returns the first Submission (duplicate=True) and writes nothing."""
    router = make_router()
    first = router.submit(request("k1", idempotency_key="import-1"))
    again = router.submit(request("k1", idempotency_key="import-1"))
    assert again.duplicate and not first.duplicate
    assert (again.trial_job_id, again.backend_job_id, again.served_arm) == (
        first.trial_job_id,
        first.backend_job_id,
        first.served_arm,
    )
    assert count(engine, "bakeoff.trial_jobs") == 1
    assert count(engine, "public.router_fake_jobs") == 1


def test_a_recording_arm_is_a_job_backend(engine: Engine) -> None:
    """The fake arm satisfies the JobBackend protocol and reports its queue."""
    from bakeoff.contract import JobBackend

    backend = RecordingBackend("legacy", engine)
    assert isinstance(backend, JobBackend)
    assert backend.health().ok


class CommitTrapBackend(RecordingBackend):
    """An arm whose enqueue breaks a deferred constraint, so the router's COMMIT itself fails."""

    def submit(self, request: ImportRequest, *, trial_job_id: UUID, conn: Connection) -> str:
        conn.execute(
            text(
                "CREATE TEMP TABLE commit_trap (id int UNIQUE DEFERRABLE INITIALLY DEFERRED) ON COMMIT DROP;"
            )
        )
        conn.execute(text("INSERT INTO commit_trap VALUES (1), (1)"))
        return super().submit(request, trial_job_id=trial_job_id, conn=conn)


def test_a_commit_that_fails_is_read_back_and_reported_as_not_taken(
    engine: Engine, make_router: MakeRouter
) -> None:
    """COMMIT raises: the router reads the trial job back, finds nothing, and raises SubmitFailed."""
    router = make_router(backends={"pgboss": CommitTrapBackend("pgboss", engine)})
    with pytest.raises(SubmitFailed, match="commit_trap"):
        router.submit(request(key_for(router, "pgboss")))
    for table in ("bakeoff.trial_jobs", "bakeoff.job_events", "public.router_fake_jobs"):
        assert count(engine, table) == 0, table
    # The connection went back to the pool in a usable state: the next submit goes through.
    assert router.submit(request(key_for(router, "legacy"))).served_arm == "legacy"


class BudgetReportingBackend(RecordingBackend):
    """An arm that notes the statement_timeout its submit runs under."""

    seen: list[str]

    def submit(self, request: ImportRequest, *, trial_job_id: UUID, conn: Connection) -> str:
        self.seen.append(str(conn.execute(text("SHOW statement_timeout")).scalar_one()))
        return super().submit(request, trial_job_id=trial_job_id, conn=conn)


def test_the_submit_budget_bounds_the_arms_statements_and_not_the_callers_engine(
    engine: Engine, make_router: MakeRouter
) -> None:
    """The arm's statements run under the budget; the engine passed in keeps its own settings."""
    arm = BudgetReportingBackend("pgboss", engine)
    arm.seen = []
    router = make_router(backends={"pgboss": arm}, submit_timeout=1.5)
    router.submit(request(key_for(router, "pgboss")))
    assert arm.seen == ["1500ms"]
    with engine.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"
