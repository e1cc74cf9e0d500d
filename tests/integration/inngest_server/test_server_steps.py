"""Functions written with Inngest's official Python SDK run on ``bakeoff inngest serve``: steps.

Memoized steps (sync and async handlers), per-step retries, NonRetriableError, RetryAfterError, a
caught StepError, an unserializable step output, and a function-level retry.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import inngest
import pytest

from bakeoff.backends.inngest import RunStatus

pytestmark = pytest.mark.integration


def test_sync_function_memoizes_steps_and_returns_its_output(sdk_client, serve_app, running_server, app_id):
    """Each step body runs once although the handler replays from the top for every step."""
    calls: Counter[str] = Counter()

    @sdk_client.create_function(fn_id="memo", trigger=inngest.TriggerEvent(event=f"{app_id}/memo"))
    def memo(ctx: inngest.ContextSync) -> dict[str, Any]:
        calls["handler"] += 1

        def first() -> int:
            calls["first"] += 1
            return 20

        def second(base: int) -> int:
            calls["second"] += 1
            return base + int(ctx.event.data["add"])

        a = ctx.step.run("first", first)
        b = ctx.step.run("second", second, a)
        return {"a": a, "b": b, "run_id": ctx.run_id}

    serve_app([memo])
    run = running_server.run_for(running_server.send(f"{app_id}/memo", {"add": 2}))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == {"a": 20, "b": 22, "run_id": run.run_id}
    assert calls == Counter(handler=3, first=1, second=1)
    assert [s.step_id for s in run.steps] == ["first", "second"]
    assert run.fn_id == f"{app_id}-memo"


def test_async_function_memoizes_steps(sdk_client, serve_app, running_server, app_id):
    """An ``async def`` handler with awaited steps runs the same way."""
    calls: Counter[str] = Counter()

    @sdk_client.create_function(fn_id="amemo", trigger=inngest.TriggerEvent(event=f"{app_id}/amemo"))
    async def amemo(ctx: inngest.Context) -> list[str]:
        async def step(name: str) -> str:
            calls[name] += 1
            return name.upper()

        return [await ctx.step.run("x", step, "x"), await ctx.step.run("y", step, "y")]

    serve_app([amemo])
    run = running_server.run_for(running_server.send(f"{app_id}/amemo"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == ["X", "Y"]
    assert calls == Counter(x=1, y=1)


def test_step_is_retried_then_succeeds(sdk_client, serve_app, running_server, app_id):
    """A step that raises is retried (ctx.attempt counts up) and its later success is memoized."""
    attempts: list[int] = []

    @sdk_client.create_function(
        fn_id="flaky", trigger=inngest.TriggerEvent(event=f"{app_id}/flaky"), retries=2
    )
    def flaky(ctx: inngest.ContextSync) -> str:
        def body() -> str:
            attempts.append(ctx.attempt)
            if len(attempts) < 2:
                raise ValueError("not yet")
            return "ok"

        return ctx.step.run("body", body)

    serve_app([flaky])
    run = running_server.run_for(running_server.send(f"{app_id}/flaky"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == "ok"
    assert attempts == [0, 1]
    failed = [a for a in run.attempts if not a.ok]
    assert failed and failed[0].error["message"] == "not yet"


def test_step_out_of_retries_raises_step_error_that_can_be_caught(
    sdk_client, serve_app, running_server, app_id
):
    """After its last attempt a step is stored as failed; the replay raises StepError at the call site."""

    @sdk_client.create_function(
        fn_id="caught", trigger=inngest.TriggerEvent(event=f"{app_id}/caught"), retries=1
    )
    def caught(ctx: inngest.ContextSync) -> dict[str, str]:
        def broken() -> None:
            raise KeyError("missing")

        try:
            ctx.step.run("broken", broken)
        except inngest.StepError as err:
            seen = {"name": err.name, "message": err.message}
            return ctx.step.run("recover", lambda: seen)
        return {"name": "none"}

    serve_app([caught])
    run = running_server.run_for(running_server.send(f"{app_id}/caught"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == {"name": "KeyError", "message": "'missing'"}
    broken = next(s for s in run.steps if s.step_id == "broken")
    assert broken.status == "failed" and broken.attempts == 2


def test_uncaught_step_error_fails_the_run_without_retrying(sdk_client, serve_app, running_server, app_id):
    """Uncaught, the StepError fails the run at once (the SDK marks it non-retriable)."""
    calls: list[int] = []

    @sdk_client.create_function(
        fn_id="uncaught", trigger=inngest.TriggerEvent(event=f"{app_id}/u"), retries=1
    )
    def uncaught(ctx: inngest.ContextSync) -> None:
        def broken() -> None:
            calls.append(ctx.attempt)
            raise RuntimeError("boom")

        ctx.step.run("broken", broken)

    serve_app([uncaught])
    run = running_server.run_for(running_server.send(f"{app_id}/u"))

    assert run.status is RunStatus.FAILED
    # The Python SDK reports a StepError under the user's error name and message.
    assert (run.error["name"], run.error["message"]) == ("RuntimeError", "boom")
    assert calls == [0, 1]  # the step's two attempts; the function-level StepError is not retried


def test_non_retriable_error_fails_the_run_at_once(sdk_client, serve_app, running_server, app_id):
    """NonRetriableError (500 + X-Inngest-No-Retry: true from the Python SDK) is not retried."""
    calls: list[int] = []

    @sdk_client.create_function(
        fn_id="fatal", trigger=inngest.TriggerEvent(event=f"{app_id}/fatal"), retries=3
    )
    def fatal(ctx: inngest.ContextSync) -> None:
        def body() -> None:
            calls.append(ctx.attempt)
            raise inngest.NonRetriableError("give up")

        ctx.step.run("body", body)

    serve_app([fatal])
    run = running_server.run_for(running_server.send(f"{app_id}/fatal"))

    assert run.status is RunStatus.FAILED
    assert run.error["name"] == "NonRetriableError" and run.error["message"] == "give up"
    assert calls == [0]


def test_retry_after_error_delays_the_next_attempt(sdk_client, serve_app, running_server, app_id):
    """RetryAfterError's Retry-After header (an ISO instant from the Python SDK) sets the next attempt."""

    @sdk_client.create_function(
        fn_id="later", trigger=inngest.TriggerEvent(event=f"{app_id}/later"), retries=1
    )
    def later(ctx: inngest.ContextSync) -> int:
        def body() -> int:
            if ctx.attempt == 0:
                raise inngest.RetryAfterError("busy", 2000)
            return ctx.attempt

        return ctx.step.run("body", body)

    serve_app([later])
    run = running_server.run_for(running_server.send(f"{app_id}/later"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == 1
    first, second = run.attempts[0], run.attempts[1]
    assert first.ok is False and first.error["name"] == "RetryAfterError"
    # The retry interval is 1 s; Retry-After asked for 2 s, and the queue honoured it.
    assert (second.queued_at - first.ended_at).total_seconds() >= 1.5


def test_function_level_error_is_retried(sdk_client, serve_app, running_server, app_id):
    """An error outside steps (a 500 without No-Retry) is retried like a step."""
    seen: list[int] = []

    @sdk_client.create_function(
        fn_id="outer", trigger=inngest.TriggerEvent(event=f"{app_id}/outer"), retries=1
    )
    def outer(ctx: inngest.ContextSync) -> str:
        seen.append(ctx.attempt)
        if ctx.attempt == 0:
            raise ValueError("first time")
        return "second time"

    serve_app([outer])
    run = running_server.run_for(running_server.send(f"{app_id}/outer"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == "second time"
    assert seen == [0, 1]


def test_unserializable_step_output_fails_the_run(sdk_client, serve_app, running_server, app_id):
    """A step returning something JSON cannot hold fails with the SDK's OutputUnserializableError."""

    @sdk_client.create_function(
        fn_id="unser", trigger=inngest.TriggerEvent(event=f"{app_id}/unser"), retries=0
    )
    def unser(ctx: inngest.ContextSync) -> Any:
        return ctx.step.run("bad", object)

    serve_app([unser])
    run = running_server.run_for(running_server.send(f"{app_id}/unser"))

    assert run.status is RunStatus.FAILED
    assert "unserializable" in run.error["message"]
