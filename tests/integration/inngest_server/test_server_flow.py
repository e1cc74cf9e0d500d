"""Flow control declared with the official Python SDK, enforced by the engine behind ``inngest serve``.

Debounce, idempotency, rate limit, throttle, concurrency with a key and singleton (skip and
cancel) come from the register payload; each test checks the behaviour, not the configuration.
"""

from __future__ import annotations

import datetime
import itertools
import threading
import time
from typing import Any

import inngest
import pytest

from bakeoff.backends.inngest import RunStatus

pytestmark = pytest.mark.integration


def _runs_of(running_server, fn_id: str) -> list[dict[str, Any]]:
    return running_server.server.client.list_runs(fn_id=fn_id, limit=50)


def _settle(running_server, fn_id: str, count: int, timeout: float = 15.0) -> list[Any]:
    """Wait until ``fn_id`` has ``count`` runs and all of them ended; the runs, oldest first."""
    client = running_server.server.client
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _runs_of(running_server, fn_id)
        if len(rows) >= count and all(r["status"] not in ("queued", "running") for r in rows):
            return sorted((client.get_run(str(r["run_id"])) for r in rows), key=lambda r: r.created_at)
        time.sleep(0.05)
    raise AssertionError(f"{fn_id}: {_runs_of(running_server, fn_id)}")


def test_debounce_runs_once_with_the_last_event(sdk_client, serve_app, running_server, app_id):
    @sdk_client.create_function(
        fn_id="deb",
        trigger=inngest.TriggerEvent(event=f"{app_id}/deb"),
        debounce=inngest.Debounce(period=datetime.timedelta(seconds=1), key="event.data.user"),
    )
    def deb(ctx: inngest.ContextSync) -> int:
        return int(ctx.event.data["n"])

    serve_app([deb])
    for n in range(3):
        running_server.send(f"{app_id}/deb", {"user": "u1", "n": n})
    running_server.send(f"{app_id}/deb", {"user": "u2", "n": 10})
    runs = _settle(running_server, f"{app_id}-deb", 2)

    assert sorted(r.output for r in runs) == [2, 10]


def test_idempotency_key_starts_one_run_per_key(sdk_client, serve_app, running_server, app_id):
    @sdk_client.create_function(
        fn_id="idem", trigger=inngest.TriggerEvent(event=f"{app_id}/idem"), idempotency="event.data.cart"
    )
    def idem(ctx: inngest.ContextSync) -> str:
        return str(ctx.event.data["cart"])

    serve_app([idem])
    for cart in ("a", "a", "b"):
        running_server.send(f"{app_id}/idem", {"cart": cart})
    runs = _settle(running_server, f"{app_id}-idem", 2)

    assert sorted(r.output for r in runs) == ["a", "b"]


def test_rate_limit_drops_excess_events(sdk_client, serve_app, running_server, app_id):
    @sdk_client.create_function(
        fn_id="rate",
        trigger=inngest.TriggerEvent(event=f"{app_id}/rate"),
        rate_limit=inngest.RateLimit(limit=1, period=datetime.timedelta(minutes=1)),
    )
    def rate(ctx: inngest.ContextSync) -> int:
        return int(ctx.event.data["n"])

    serve_app([rate])
    ids = [running_server.send(f"{app_id}/rate", {"n": n}) for n in range(3)]
    runs = _settle(running_server, f"{app_id}-rate", 1)

    assert [r.output for r in runs] == [0]
    assert [len(running_server.server.client.runs_for_event(i)) for i in ids] == [1, 0, 0]


def test_throttle_delays_runs_without_dropping_them(sdk_client, serve_app, running_server, app_id):
    @sdk_client.create_function(
        fn_id="thr",
        trigger=inngest.TriggerEvent(event=f"{app_id}/thr"),
        throttle=inngest.Throttle(limit=1, period=datetime.timedelta(seconds=1)),
    )
    def thr(ctx: inngest.ContextSync) -> int:
        return int(ctx.event.data["n"])

    serve_app([thr])
    for n in range(2):
        running_server.send(f"{app_id}/thr", {"n": n})
    first, second = _settle(running_server, f"{app_id}-thr", 2)

    assert {first.output, second.output} == {0, 1}
    # The throttle schedules the second start one period after the first; no worker starts it earlier.
    assert (second.scheduled_at - first.scheduled_at).total_seconds() >= 0.99
    assert second.started_at is not None and second.started_at >= second.scheduled_at


def test_concurrency_key_lets_one_step_per_key_run_at_a_time(sdk_client, serve_app, running_server, app_id):
    lock = threading.Lock()
    spans: dict[str, list[tuple[float, float]]] = {"u1": [], "u2": []}

    @sdk_client.create_function(
        fn_id="conc",
        trigger=inngest.TriggerEvent(event=f"{app_id}/conc"),
        concurrency=[inngest.Concurrency(limit=1, key="event.data.user")],
    )
    def conc(ctx: inngest.ContextSync) -> None:
        def work() -> None:
            start = time.monotonic()
            time.sleep(0.3)
            with lock:
                spans[str(ctx.event.data["user"])].append((start, time.monotonic()))

        ctx.step.run("work", work)

    serve_app([conc])
    for user in ("u1", "u1", "u1", "u2"):
        running_server.send(f"{app_id}/conc", {"user": user})
    runs = _settle(running_server, f"{app_id}-conc", 4)

    assert all(r.status is RunStatus.COMPLETED for r in runs)
    u1 = sorted(spans["u1"])
    assert len(u1) == 3
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(u1)), u1


@pytest.mark.parametrize("mode", ["skip", "cancel"])
def test_singleton_skips_or_cancels_while_a_run_is_live(sdk_client, serve_app, running_server, app_id, mode):
    """skip: the second event starts nothing; cancel: it cancels the live run and runs itself."""

    @sdk_client.create_function(
        fn_id="single",
        trigger=inngest.TriggerEvent(event=f"{app_id}/single"),
        singleton=inngest.Singleton(key="event.data.user", mode=mode),
    )
    def single(ctx: inngest.ContextSync) -> int:
        ctx.step.sleep("hold", datetime.timedelta(seconds=1))
        return int(ctx.event.data["n"])

    serve_app([single])
    first = running_server.send(f"{app_id}/single", {"user": "u", "n": 1})
    second = running_server.send(f"{app_id}/single", {"user": "u", "n": 2})
    other = running_server.send(f"{app_id}/single", {"user": "v", "n": 3})

    first_run = running_server.run_for(first)
    other_run = running_server.run_for(other)
    assert other_run.output == 3
    if mode == "skip":
        assert first_run.output == 1
        assert running_server.server.client.runs_for_event(second) == []
    else:
        assert first_run.status is RunStatus.CANCELLED
        assert running_server.run_for(second).output == 2
