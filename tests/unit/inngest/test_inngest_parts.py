"""Pure parts of the step engine: queries file, CEL expressions, cron, options, backoff, JobState mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bakeoff.backends.inngest import (
    Cancel,
    Concurrency,
    Debounce,
    Event,
    Inngest,
    InvalidEvent,
    InvalidFunction,
    Limits,
)
from bakeoff.backends.inngest.adapter import run_state
from bakeoff.backends.inngest.cron import next_fire, parse_cron
from bakeoff.backends.inngest.executor import inngest_backoff, linear_backoff
from bakeoff.backends.inngest.expressions import compile_expression
from bakeoff.backends.inngest.function import Function, FunctionOptions
from bakeoff.backends.inngest.models import TriggerCron, TriggerEvent
from bakeoff.backends.inngest.store import Sql
from bakeoff.contract import JobState


def test_queries_load_by_name_for_the_migrated_schema() -> None:
    """queries.sql parses into named queries; {schema} becomes the one schema the migrations install."""
    sql = Sql()
    assert {"claim_item", "store_step_and_continue", "insert_event", "take_flow_slot"} <= set(sql.queries)
    assert {"schema_installed"} <= set(sql.queries)
    assert all("{schema}" not in q for q in sql.queries.values())
    assert "inngest.queue" in sql.queries["claim_item"]


def test_cel_expressions_see_event_and_async() -> None:
    """Matching uses Inngest's variables: event (the trigger) and async (the incoming event)."""
    expression = compile_expression("event.data.id == async.data.id && async.data.ok")
    assert expression.matches(event={"data": {"id": 1}}, **{"async": {"data": {"id": 1, "ok": True}}})
    assert not expression.matches(event={"data": {"id": 1}}, **{"async": {"data": {"id": 2, "ok": True}}})
    assert not expression.matches(event={"data": {}}, **{"async": {"data": {"id": 2}}}), (
        "missing field: no match"
    )
    assert compile_expression("event.data.user").key(event={"data": {"user": "u7"}}) == "u7"


def test_cron_steps_in_its_time_zone() -> None:
    """TZ=Europe/Paris 0 12 * * 5 fires at Friday noon Paris time, whatever the UTC offset."""
    after = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)  # a Wednesday, just before the DST change
    fire = next_fire("TZ=Europe/Paris 0 12 * * 5", after)
    local = fire.astimezone(ZoneInfo("Europe/Paris"))
    assert (local.date().isoformat(), local.hour) == ("2026-03-27", 12)
    assert fire.utcoffset() == timedelta(0)
    assert next_fire("*/5 * * * *", datetime(2026, 1, 1, 0, 1, tzinfo=UTC)).minute == 5
    with pytest.raises(InvalidFunction, match="time zone"):
        parse_cron("TZ=Mars/Olympus 0 12 * * 5")
    with pytest.raises(InvalidFunction, match="not a valid cron"):
        parse_cron("61 * * * *")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (FunctionOptions(retries=-1), "retries"),
        (FunctionOptions(debounce=Debounce(period=10)), "debounce.period"),
        (FunctionOptions(cancel=tuple(Cancel(event="x") for _ in range(6))), "cancel"),
        (FunctionOptions(concurrency=(Concurrency(limit=0),)), "concurrency.limit"),
    ],
)
def test_function_options_are_validated(options: FunctionOptions, field: str) -> None:
    """Out-of-range options are refused when the function is built, naming the option."""
    with pytest.raises(InvalidFunction, match=field):
        Function.build(fn_id="f", handler=lambda ctx: None, trigger=TriggerEvent(event="e"), options=options)


def test_triggers_are_validated() -> None:
    """A bad cron or a trigger expression that is not CEL fails at creation."""
    with pytest.raises(InvalidFunction, match="cron"):
        Function.build(
            fn_id="f", handler=lambda ctx: None, trigger=TriggerCron(cron="nope"), options=FunctionOptions()
        )
    with pytest.raises(InvalidFunction, match=r"trigger\.expression"):
        Function.build(
            fn_id="f",
            handler=lambda ctx: None,
            trigger=TriggerEvent(event="e", expression="event.data.x >"),
            options=FunctionOptions(),
        )


def test_events_are_validated() -> None:
    """Event names are required and at most 255 characters; data must be an object."""
    with pytest.raises(InvalidEvent, match="name"):
        Event(name="")
    with pytest.raises(InvalidEvent, match="255"):
        Event(name="x" * 256)
    with pytest.raises(InvalidEvent, match="data"):
        Event(name="e", data=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidFunction, match="max_steps"):
        Limits(max_steps=0)


def test_default_backoff_follows_inngest_table_with_jitter() -> None:
    """15 s, 30 s, 1 min ... capped at 2 h, each plus up to 30 s of jitter."""
    for attempt, base in [(0, 15), (1, 30), (2, 60), (4, 300), (9, 7200), (15, 7200)]:
        assert base <= inngest_backoff(attempt) <= base + 30


def test_retry_interval_is_a_fixed_wait_of_whole_seconds() -> None:
    """--retry-interval N: every retry N s later, no jitter; N is whole seconds, 1 or above."""
    wait = linear_backoff(5)
    assert {wait(attempt) for attempt in range(12)} == {5.0}
    for bad in (0, -3, 1.5, True, "5"):
        with pytest.raises(InvalidFunction, match="retry_interval"):
            linear_backoff(bad)  # type: ignore[arg-type]


def test_client_takes_a_retry_interval_or_a_backoff_not_both() -> None:
    """The client's retry schedule: Inngest's table by default, linear with retry_interval."""
    url = "postgresql://nobody@127.0.0.1:1/none"  # the constructor does not connect
    assert Inngest("app", database_url=url).backoff is inngest_backoff
    assert Inngest("app", database_url=url, retry_interval=2).backoff(7) == 2.0
    with pytest.raises(InvalidFunction, match="not both"):
        Inngest("app", database_url=url, retry_interval=2, backoff=lambda attempt: 1.0)


def test_run_status_maps_onto_job_state() -> None:
    """A running run whose next invocation is a retry is RETRYING; the rest map by name."""
    assert run_state("running", 1) is JobState.RETRYING
    assert run_state("running", 0) is JobState.RUNNING
    assert run_state("queued", 0) is JobState.QUEUED
    assert run_state("cancelled", 0) is JobState.CANCELLED
