"""Inngest's hard limits, enforced with its behaviour and texts: steps, output, state, event size, sleeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from bakeoff.backends.inngest import (
    Context,
    Event,
    Inngest,
    InvalidEvent,
    Limits,
    RunStatus,
    TriggerEvent,
    Worker,
)


@pytest.fixture
def small_client(module_database_url: str) -> Iterator[Inngest]:
    """A client with tiny size limits, so the limits are cheap to reach."""
    app = Inngest(
        app_id="limits",
        database_url=module_database_url,
        limits=Limits(max_step_output_bytes=200, max_state_bytes=2_000, max_event_bytes=1_024),
        backoff=lambda attempt: 0.05,
        poll_interval=0.2,
    )
    yield app
    app.close()


def test_step_limit_refuses_the_step_past_the_limit_not_the_run_that_fits(
    module_database_url: str, start_worker: Callable[..., Worker]
) -> None:
    """With max_steps=20: 20 steps and a return succeed; a 21st step fails the run with Inngest's text."""
    app = Inngest(app_id="small-limit", database_url=module_database_url, limits=Limits(max_steps=20))
    try:

        @app.create_function(fn_id="steps-n", trigger=TriggerEvent(event="t/steps-n"))
        def fn(ctx: Context) -> Any:
            return [ctx.step.run("s", lambda i=i: i) for i in range(ctx.event.data["n"])][-1]

        start_worker(app=app)
        fits, over = app.send(
            [Event(name="t/steps-n", data={"n": 20}), Event(name="t/steps-n", data={"n": 21})]
        )
        ok = app.wait_for_run(app.runs_for_event(fits)[0])
        failed = app.wait_for_run(app.runs_for_event(over)[0])
        assert (ok.status, ok.output, ok.step_count) == (RunStatus.COMPLETED, 19, 20)
        assert failed.status is RunStatus.FAILED and failed.step_count == 20
        assert failed.error is not None
        assert failed.error["message"] == "The function run exceeded the step limit of 20 steps."
    finally:
        app.close()


@pytest.mark.slow
def test_loop_of_1001_steps_fails_with_inngest_text_and_no_retry(
    client: Inngest, start_worker: Callable[..., Worker]
) -> None:
    """1,000 steps run; the 1,001st is refused: the run fails with Inngest's exact text, not retried."""
    executed: list[int] = []

    @client.create_function(fn_id="too-many", trigger=TriggerEvent(event="t/too-many"))
    def fn(ctx: Context) -> Any:
        for i in range(1001):
            ctx.step.run("step", lambda i=i: executed.append(i))
        return "unreachable"

    start_worker(concurrency=1)
    [event_id] = client.send(Event(name="t/too-many"))
    run = client.wait_for_run(client.runs_for_event(event_id)[0], timeout=60)
    assert run.status is RunStatus.FAILED
    assert run.error == {
        "error": "function has too many steps",
        "name": "InngestErrFunctionOverflowed",
        "message": "The function run exceeded the step limit of 1000 steps.",
    }
    assert len(executed) == 1000 and run.step_count == 1000
    assert [s.step_key for s in run.steps][-1] == "step:999"


def test_step_output_over_the_limit_fails_the_step(
    small_client: Inngest, start_worker: Callable[..., Worker]
) -> None:
    """A step returning more than max_step_output_bytes fails (no retry) with Inngest's message."""

    @small_client.create_function(fn_id="big-output", trigger=TriggerEvent(event="t/big-output"))
    def fn(ctx: Context) -> Any:
        return ctx.step.run("big", lambda: "x" * 500)

    start_worker(app=small_client)
    [event_id] = small_client.send(Event(name="t/big-output"))
    run = small_client.wait_for_run(small_client.runs_for_event(event_id)[0])
    assert run.status is RunStatus.FAILED
    assert run.error is not None and run.error["message"] == "step output size is greater than the limit"
    assert [a.ok for a in run.attempts if a.step_key == "big"] == [False], "one attempt, no retry"


def test_run_state_over_the_limit_fails_the_run(
    small_client: Inngest, start_worker: Callable[..., Worker]
) -> None:
    """Step outputs add up against the state budget; crossing it fails with InngestErrStateOverflowed."""
    ran: list[int] = []

    @small_client.create_function(fn_id="big-state", trigger=TriggerEvent(event="t/big-state"))
    def fn(ctx: Context) -> Any:
        for i in range(20):
            ctx.step.run("chunk", lambda i=i: ran.append(i) or "y" * 150)
        return "unreachable"

    start_worker(app=small_client)
    [event_id] = small_client.send(Event(name="t/big-state"))
    run = small_client.wait_for_run(small_client.runs_for_event(event_id)[0])
    assert run.status is RunStatus.FAILED
    assert run.error == {
        "name": "InngestErrStateOverflowed",
        "message": "The function run exceeded the state size limit of 2000 bytes.",
    }
    assert 10 <= len(ran) < 20


def test_event_over_the_size_limit_is_refused(small_client: Inngest) -> None:
    """send refuses an event above max_event_bytes, naming the size and the limit; nothing is stored."""
    small_client.create_function(fn_id="never", trigger=TriggerEvent(event="t/huge"))(lambda ctx: None)
    with pytest.raises(InvalidEvent, match="the event size limit is 1024"):
        small_client.send(Event(name="t/huge", data={"blob": "z" * 2_000}))


def test_sleep_longer_than_a_year_fails_the_run(client: Inngest, start_worker: Callable[..., Worker]) -> None:
    """Sleeps and waits are capped (366 days by default): a longer one fails the run with Inngest's text."""

    @client.create_function(fn_id="long-sleep", trigger=TriggerEvent(event="t/long-sleep"))
    def fn(ctx: Context) -> Any:
        ctx.step.sleep("forever", timedelta(days=400))

    start_worker()
    [event_id] = client.send(Event(name="t/long-sleep"))
    run = client.wait_for_run(client.runs_for_event(event_id)[0])
    assert run.status is RunStatus.FAILED
    assert run.error == {
        "name": "InngestErrTimeoutTooLong",
        "message": "timeout exceeds the maximum duration",
    }
