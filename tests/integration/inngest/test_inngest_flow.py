"""Flow control on real PostgreSQL: concurrency, throttle, rate limit, debounce, idempotency, singleton,
cancel."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bakeoff.backends.inngest import (
    Cancel,
    Concurrency,
    Context,
    Debounce,
    Event,
    Inngest,
    InvalidFunction,
    RateLimit,
    RunStatus,
    Singleton,
    Throttle,
    TriggerEvent,
    Worker,
)


def _runs(client: Inngest, event_ids: list[str]) -> list[str]:
    return [run for e in event_ids for run in client.runs_for_event(e)]


def test_concurrency_keyed_on_user_caps_running_steps_and_sleeping_run_holds_no_slot(
    client: Inngest, start_worker: Callable[..., Worker]
) -> None:
    """Concurrency 2 on event.data.user: at most 2 of u1's steps run at once; a sleeping run takes no slot."""
    lock = threading.Lock()
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    two_running = threading.Event()

    @client.create_function(
        fn_id="conc",
        trigger=TriggerEvent(event="t/conc"),
        concurrency=[Concurrency(limit=2, key="event.data.user")],
    )
    def fn(ctx: Context) -> Any:
        user = ctx.event.data["user"]
        if ctx.event.data.get("sleeper"):
            ctx.step.sleep("nap", timedelta(seconds=1))

        def work() -> None:
            with lock:
                running[user] = running.get(user, 0) + 1
                peak[user] = max(peak.get(user, 0), running[user])
                if user == "u1" and running[user] == 2:
                    two_running.set()
            time.sleep(0.15)
            with lock:
                running[user] -= 1

        ctx.step.run("work", work)
        return user

    start_worker(concurrency=6)
    sleeper = client.send(Event(name="t/conc", data={"user": "u1", "sleeper": True}))
    busy = client.send([Event(name="t/conc", data={"user": "u1"}) for _ in range(4)])
    other = client.send([Event(name="t/conc", data={"user": "u2"}) for _ in range(2)])
    runs = [client.wait_for_run(r, timeout=20) for r in _runs(client, sleeper + busy + other)]
    assert all(r.status is RunStatus.COMPLETED for r in runs)
    assert peak["u1"] == 2, "u1 never exceeds 2 running steps, and reaches 2 while its sleeper sleeps"
    sleeper_run = runs[0]
    first_work_of_sleeper = min(a.started_at for a in sleeper_run.attempts)
    busy_starts = sorted(a.started_at for r in runs[1:5] for a in r.attempts)
    assert busy_starts[1] < first_work_of_sleeper, "two u1 steps ran while the sleeper was asleep"
    assert two_running.is_set()


def test_throttle_queues_runs_and_never_drops(client: Inngest, start_worker: Callable[..., Worker]) -> None:
    """Throttle 1 per second: three events give three runs, scheduled a period apart; none is dropped."""
    client.create_function(
        fn_id="throttled",
        trigger=TriggerEvent(event="t/throttle"),
        throttle=Throttle(limit=1, period=timedelta(seconds=1)),
    )(lambda ctx: ctx.event.data["i"])
    start_worker()
    events = client.send([Event(name="t/throttle", data={"i": i}) for i in range(3)])
    runs = [client.wait_for_run(r, timeout=20) for r in _runs(client, events)]
    assert sorted(r.output for r in runs) == [0, 1, 2]
    scheduled = sorted(r.scheduled_at for r in runs)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(scheduled)]
    assert all(gap >= 0.99 for gap in gaps), gaps
    assert all(r.started_at is not None and r.started_at >= r.scheduled_at for r in runs)


def test_rate_limit_skips_excess_events(client: Inngest) -> None:
    """Rate limit 1 per minute: the first event starts a run, the others start none (but are kept)."""
    client.create_function(
        fn_id="rate-limited",
        trigger=TriggerEvent(event="t/rate"),
        rate_limit=RateLimit(limit=1, period=timedelta(minutes=1), key="event.data.user"),
    )(lambda ctx: None)
    sent = client.send_detailed([Event(name="t/rate", data={"user": u}) for u in ("a", "a", "a", "b")])
    assert [len(s.run_ids) for s in sent] == [1, 0, 0, 1]


def test_debounce_runs_once_with_the_last_event(client: Inngest, start_worker: Callable[..., Worker]) -> None:
    """Debounce: a burst of events for one key gives one run, which receives the last event."""
    client.create_function(
        fn_id="debounced",
        trigger=TriggerEvent(event="t/debounce"),
        debounce=Debounce(period=timedelta(seconds=1), key="event.data.doc"),
    )(lambda ctx: ctx.event.data["rev"])
    start_worker()
    sent = [client.send_detailed(Event(name="t/debounce", data={"doc": "d1", "rev": i}))[0] for i in range(3)]
    run_ids = {r for s in sent for r in s.run_ids}
    assert len(run_ids) == 1
    run = client.wait_for_run(run_ids.pop(), timeout=10)
    assert run.output == 2
    assert len(client.list_runs(fn_id="debounced")) == 1


def test_idempotency_key_allows_one_run_per_key(client: Inngest) -> None:
    """idempotency='event.data.cart': one run per cart within 24 h."""
    client.create_function(
        fn_id="idempotent", trigger=TriggerEvent(event="t/idem"), idempotency="event.data.cart"
    )(lambda ctx: None)
    sent = client.send_detailed([Event(name="t/idem", data={"cart": c}) for c in ("c1", "c1", "c2")])
    assert [len(s.run_ids) for s in sent] == [1, 0, 1]


def test_singleton_skip_starts_nothing_while_a_run_of_the_key_is_live(client: Inngest) -> None:
    """singleton skip on event.data.user: a second event for u1 starts no run while u1's is queued."""
    client.create_function(
        fn_id="single-skip", trigger=TriggerEvent(event="t/single-skip"),
        singleton=Singleton(mode="skip", key="event.data.user"),
    )(lambda ctx: None)  # fmt: skip
    sent = client.send_detailed([Event(name="t/single-skip", data={"user": u}) for u in ("u1", "u1", "u2")])
    assert [len(s.run_ids) for s in sent] == [1, 0, 1]


def test_singleton_cancel_replaces_the_live_run(client: Inngest) -> None:
    """singleton cancel: the new event's run starts and the live run of its key is cancelled."""
    client.create_function(
        fn_id="single-cancel", trigger=TriggerEvent(event="t/single-cancel"),
        singleton=Singleton(mode="cancel", key="event.data.user"),
    )(lambda ctx: None)  # fmt: skip
    [first] = client.send_detailed(Event(name="t/single-cancel", data={"user": "u1"}))
    [second] = client.send_detailed(Event(name="t/single-cancel", data={"user": "u1"}))
    assert client.get_run(first.run_ids[0]).status is RunStatus.CANCELLED
    assert client.get_run(second.run_ids[0]).status is RunStatus.QUEUED
    with pytest.raises(InvalidFunction, match=r"singleton\.mode"):
        client.create_function(
            fn_id="single-bad", trigger=TriggerEvent(event="t/x"), singleton=Singleton(mode="sometimes")
        )


def test_cancel_event_stops_run_between_steps_after_running_step_finishes(
    client: Inngest, start_worker: Callable[..., Worker]
) -> None:
    """A matching cancel event cancels the run; the step in flight finishes, later steps never run."""
    in_step = threading.Event()
    release = threading.Event()
    later: list[int] = []

    @client.create_function(
        fn_id="cancellable",
        trigger=TriggerEvent(event="t/import"),
        cancel=[Cancel(event="t/import.cancelled", if_exp="event.data.id == async.data.id")],
    )
    def fn(ctx: Context) -> Any:
        ctx.step.run("first", lambda: (in_step.set(), release.wait(10), "first done")[2])
        ctx.step.run("second", lambda: later.append(1))
        return "finished"

    start_worker()
    [event_id] = client.send(Event(name="t/import", data={"id": 1}))
    [run_id] = client.runs_for_event(event_id)
    assert in_step.wait(10)
    client.send(Event(name="t/import.cancelled", data={"id": 2}))  # another import: no effect
    assert client.get_run(run_id).status is RunStatus.RUNNING
    client.send(Event(name="t/import.cancelled", data={"id": 1}))
    release.set()
    run = client.wait_for_run(run_id, timeout=10)
    assert run.status is RunStatus.CANCELLED
    time.sleep(0.3)  # give a wrongly continuing run the chance to run "second"
    assert later == []
    assert [(s.step_key, s.output) for s in client.get_run(run_id).steps] == [("first", "first done")]


def test_cancel_run_stops_a_sleeping_run(client: Inngest, start_worker: Callable[..., Worker]) -> None:
    """client.cancel_run cancels a sleeping run at once; a second cancel reports nothing to do."""
    after_sleep: list[int] = []

    @client.create_function(fn_id="sleeper", trigger=TriggerEvent(event="t/sleep"))
    def fn(ctx: Context) -> Any:
        ctx.step.sleep("nap", timedelta(minutes=5))
        return ctx.step.run("after", lambda: after_sleep.append(1))

    start_worker()
    [event_id] = client.send(Event(name="t/sleep"))
    [run_id] = client.runs_for_event(event_id)
    deadline = time.monotonic() + 10
    while not client.get_run(run_id).steps and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.cancel_run(run_id) is True
    assert client.cancel_run(run_id) is False
    assert client.get_run(run_id).status is RunStatus.CANCELLED
    assert after_sleep == []


@pytest.mark.parametrize(
    ("option", "field"),
    [
        ({"concurrency": [Concurrency(limit=1, key="event.data.user ==")]}, "concurrency.key"),
        ({"cancel": [Cancel(event="x", if_exp="event.data.id == async.")]}, "cancel.if_exp"),
        ({"idempotency": "event.data.("}, "idempotency"),
        ({"retries": 21}, "retries"),
        ({"concurrency": [Concurrency(limit=1)] * 3}, "concurrency"),
    ],
)
def test_invalid_options_are_rejected_when_the_function_is_created(
    client: Inngest, option: dict[str, Any], field: str
) -> None:
    """Bad CEL and out-of-range options fail create_function, naming the field."""
    with pytest.raises(InvalidFunction, match=field):
        client.create_function(fn_id="bad", trigger=TriggerEvent(event="t/bad"), **option)
