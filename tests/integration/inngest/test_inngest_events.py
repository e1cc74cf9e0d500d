"""Events on real PostgreSQL: fan-out, 24-hour event-id de-duplication, send_event, waits, invoke, cron."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bakeoff.backends.inngest import (
    Context,
    Event,
    Inngest,
    Run,
    RunStatus,
    StepError,
    TriggerCron,
    TriggerEvent,
    Worker,
)
from bakeoff.testing import wait_for

RunEvent = Callable[..., Run]


def test_one_event_triggers_every_matching_function(
    client: Inngest, start_worker: Callable[..., Worker]
) -> None:
    """Fan-out: each function whose trigger matches gets its own run; a non-matching one gets none."""
    for fn_id in ("fan-a", "fan-b"):
        client.create_function(fn_id=fn_id, trigger=TriggerEvent(event="t/fan"))(lambda ctx, f=fn_id: f)
    client.create_function(
        fn_id="fan-filtered", trigger=TriggerEvent(event="t/fan", expression="event.data.n > 10")
    )(lambda ctx: "filtered")
    start_worker()
    [event_id] = client.send(Event(name="t/fan", data={"n": 1}))
    runs = [client.wait_for_run(r) for r in client.runs_for_event(event_id)]
    assert sorted(r.output for r in runs) == ["fan-a", "fan-b"]
    assert all(r.status is RunStatus.COMPLETED for r in runs)


def test_event_id_seen_again_within_24h_triggers_nothing(client: Inngest) -> None:
    """A user-supplied event id is an idempotency key: the duplicate is stored but starts no run."""
    client.create_function(fn_id="dedup", trigger=TriggerEvent(event="t/dedup"))(lambda ctx: None)
    first, again = client.send_detailed(
        [Event(name="t/dedup", id="order-42"), Event(name="t/dedup", id="order-42")]
    )
    assert (first.duplicate, len(first.run_ids)) == (False, 1)
    assert (again.duplicate, again.run_ids) == (True, ())
    assert len(client.runs_for_event("order-42")) == 1
    with psycopg.connect(client.database_url) as conn:
        stored = conn.execute("SELECT count(*) FROM inngest.events WHERE id = 'order-42'").fetchone()
    assert stored == (2,)


def test_send_event_fans_out_and_returns_ids(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """step.send_event sends durably (as a step) and returns the event ids; each starts its run."""

    @client.create_function(fn_id="fanout-parent", trigger=TriggerEvent(event="t/parent"))
    def parent(ctx: Context) -> Any:
        return ctx.step.send_event("dispatch", [Event(name="t/child", data={"i": i}) for i in range(3)])

    @client.create_function(fn_id="fanout-child", trigger=TriggerEvent(event="t/child"))
    def child(ctx: Context) -> Any:
        return ctx.step.run("double", lambda: ctx.event.data["i"] * 2)

    start_worker()
    run = run_event("t/parent")
    assert run.status is RunStatus.COMPLETED and len(run.output) == 3
    outputs = [client.wait_for_run(client.runs_for_event(e)[0]).output for e in run.output]
    assert outputs == [0, 2, 4]


def test_wait_for_event_timeout_gives_none(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """wait_for_event returns None when no matching event arrives before the timeout."""

    @client.create_function(fn_id="wait-timeout", trigger=TriggerEvent(event="t/wait-timeout"))
    def fn(ctx: Context) -> Any:
        got = ctx.step.wait_for_event("approval", event="t/approved", timeout=300)
        return {"got": got is None}

    start_worker()
    run = run_event("t/wait-timeout")
    assert run.status is RunStatus.COMPLETED and run.output == {"got": True}


def test_wait_for_event_matches_only_later_events_with_if_exp(
    client: Inngest, start_worker: Callable[..., Worker]
) -> None:
    """A wait sees no event sent before it started, and only events whose if_exp holds."""
    waiting = threading.Event()

    @client.create_function(fn_id="wait-match", trigger=TriggerEvent(event="t/wait-start"))
    def fn(ctx: Context) -> Any:
        ctx.step.run("ready", waiting.set)
        got = ctx.step.wait_for_event(
            "approval",
            event="t/approve",
            timeout=timedelta(seconds=20),
            if_exp="async.data.id == event.data.id",
        )
        return got.data if got else None

    # An approval sent before the run exists must not be seen (no lookback).
    client.send(Event(name="t/approve", data={"id": 7, "early": True}))
    start_worker()
    [event_id] = client.send(Event(name="t/wait-start", data={"id": 7}))
    [run_id] = client.runs_for_event(event_id)
    assert waiting.wait(10)
    _wait_until_waiting(client, run_id)
    client.send(Event(name="t/approve", data={"id": 8}))  # another run's approval: no match
    client.send(Event(name="t/approve", data={"id": 7, "late": True}))
    run = client.wait_for_run(run_id, timeout=10)
    assert run.output == {"id": 7, "late": True}


def _wait_until_waiting(client: Inngest, run_id: str) -> None:
    wait_for(
        lambda: any(s.status == "waiting" for s in client.get_run(run_id).steps),
        "the run to reach its wait",
        timeout=10,
        interval=0.02,
    )


def test_invoke_returns_child_output_and_child_failure_raises_step_error(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """step.invoke runs another function as a child run: its output comes back; its failure is a StepError."""

    @client.create_function(fn_id="invoke-child", trigger=TriggerEvent(event="t/never"), retries=0)
    def child(ctx: Context) -> Any:
        if ctx.event.data.get("fail"):
            raise ValueError("child says no")
        return ctx.step.run("work", lambda: ctx.event.data["x"] + 1)

    @client.create_function(fn_id="invoke-parent", trigger=TriggerEvent(event="t/invoke"))
    def parent(ctx: Context) -> Any:
        ok = ctx.step.invoke("ok", function=child, data={"x": 41})
        try:
            ctx.step.invoke("bad", function=child, data={"fail": True})
        except StepError as exc:
            return {"ok": ok, "error": [exc.name, exc.message]}
        return {"ok": ok}

    start_worker()
    run = run_event("t/invoke")
    assert run.status is RunStatus.COMPLETED
    assert run.output == {"ok": 42, "error": ["ValueError", "child says no"]}


def test_due_cron_trigger_starts_one_run_and_moves_to_next_fire(
    client: Inngest, start_worker: Callable[..., Worker]
) -> None:
    """A cron trigger that is due fires once (inngest/scheduled.timer) and is rescheduled in its zone."""
    spec = "TZ=Europe/Paris 0 12 * * 5"
    client.create_function(fn_id="cron-fn", trigger=TriggerCron(cron=spec))(lambda ctx: ctx.event.name)
    with psycopg.connect(client.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO inngest.crons (app_id, fn_id, cron, next_at)"
            " VALUES (%s, %s, %s, now() - interval '1 minute')",
            (client.app_id, "cron-fn", spec),
        )
    start_worker()
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while not client.list_runs(fn_id="cron-fn") and datetime.now(UTC) < deadline:
        threading.Event().wait(0.05)
    [row] = client.list_runs(fn_id="cron-fn")
    assert client.wait_for_run(str(row["run_id"])).output == "inngest/scheduled.timer"
    with psycopg.connect(client.database_url) as conn:
        [(next_at,)] = conn.execute("SELECT next_at FROM inngest.crons WHERE fn_id = 'cron-fn'").fetchall()
    local = next_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (local.weekday(), local.hour, local.minute) == (4, 12, 0)
    assert next_at > datetime.now(UTC)


def test_function_ids_are_scoped_by_app(client: Inngest, start_worker: Callable[..., Worker]) -> None:
    """Two apps on one database with the same fn_id: a worker runs only its own app's runs."""
    other = Inngest(app_id="other-app", database_url=client.database_url, poll_interval=0.2)
    try:
        client.create_function(fn_id="same-id", trigger=TriggerEvent(event="t/scoped"))(lambda ctx: "mine")
        other.create_function(fn_id="same-id", trigger=TriggerEvent(event="t/scoped"))(lambda ctx: "other")
        [mine_event] = client.send(Event(name="t/scoped"))
        [other_event] = other.send(Event(name="t/scoped"))
        start_worker(app=other)
        other_run = other.wait_for_run(other.runs_for_event(other_event)[0])
        assert other_run.output == "other"
        [mine_id] = client.runs_for_event(mine_event)
        assert client.get_run(mine_id).status is RunStatus.QUEUED, (
            "the older item of the other app was not taken"
        )
        start_worker()
        assert client.wait_for_run(mine_id).output == "mine"
    finally:
        other.close()
