"""Official-SDK functions on ``bakeoff inngest serve``: sleeps, waits, invokes, parallel steps.

Also ``on_failure``, ``cancel``, several triggers and cron: everything that makes the server plan
work for later rather than run it at once.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

import inngest
import pytest

from bakeoff.backends.inngest import RunStatus

pytestmark = pytest.mark.integration


def test_sleep_and_sleep_until_resume_the_run_later(sdk_client, serve_app, running_server, app_id):
    """``sleep`` (its end travels as an ISO instant in the op's name) and ``sleep_until`` return None."""

    @sdk_client.create_function(fn_id="nap", trigger=inngest.TriggerEvent(event=f"{app_id}/nap"))
    def nap(ctx: inngest.ContextSync) -> list[Any]:
        first = ctx.step.sleep("short", datetime.timedelta(milliseconds=300))
        until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(milliseconds=300)
        second = ctx.step.sleep_until("until", until)
        return [first, second, ctx.step.run("after", lambda: "awake")]

    serve_app([nap])
    started = time.monotonic()
    run = running_server.run_for(running_server.send(f"{app_id}/nap"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == [None, None, "awake"]
    assert time.monotonic() - started >= 0.5
    assert [s.op for s in run.steps] == ["Sleep", "Sleep", "StepRun"]


def test_wait_for_event_is_fulfilled_by_a_matching_event(sdk_client, serve_app, running_server, app_id):
    """A matching event (its ``if`` compares the trigger and the incoming event) fulfils the wait."""

    @sdk_client.create_function(fn_id="waiter", trigger=inngest.TriggerEvent(event=f"{app_id}/start"))
    def waiter(ctx: inngest.ContextSync) -> Any:
        got = ctx.step.wait_for_event(
            "approval",
            event=f"{app_id}/approved",
            if_exp="async.data.order == event.data.order",
            timeout=datetime.timedelta(seconds=20),
        )
        return None if got is None else {"name": got.name, "by": got.data["by"]}

    serve_app([waiter])
    event_id = running_server.send(f"{app_id}/start", {"order": 7})
    first = running_server.server.client.runs_for_event(event_id)
    _until_waiting(running_server, event_id)
    running_server.send(f"{app_id}/approved", {"order": 8, "by": "wrong order"})
    running_server.send(f"{app_id}/approved", {"order": 7, "by": "alice"})
    run = running_server.run_for(event_id)

    assert first is not None
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == {"name": f"{app_id}/approved", "by": "alice"}


def test_wait_for_event_times_out_with_none(sdk_client, serve_app, running_server, app_id):
    """No matching event before the timeout: the wait returns None."""

    @sdk_client.create_function(fn_id="lonely", trigger=inngest.TriggerEvent(event=f"{app_id}/start"))
    def lonely(ctx: inngest.ContextSync) -> str:
        got = ctx.step.wait_for_event("never", event=f"{app_id}/never", timeout=datetime.timedelta(seconds=1))
        return "timed out" if got is None else "got one"

    serve_app([lonely])
    run = running_server.run_for(running_server.send(f"{app_id}/start"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == "timed out"


def _until_waiting(running_server, event_id: str) -> None:
    client = running_server.server.client
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = client.runs_for_event(event_id)
        if runs and any(s.status == "waiting" for s in client.get_run(runs[0]).steps):
            return
        time.sleep(0.02)
    raise AssertionError("the run never started waiting")


def test_invoke_by_object_and_by_id_returns_the_child_output(sdk_client, serve_app, running_server, app_id):
    """``step.invoke`` (a function object) and ``step.invoke_by_id`` return the child run's output."""

    @sdk_client.create_function(fn_id="child", trigger=inngest.TriggerEvent(event=f"{app_id}/child"))
    def child(ctx: inngest.ContextSync) -> int:
        return ctx.step.run("double", lambda: int(ctx.event.data["n"]) * 2)

    @sdk_client.create_function(fn_id="parent", trigger=inngest.TriggerEvent(event=f"{app_id}/parent"))
    def parent(ctx: inngest.ContextSync) -> list[int]:
        by_object = ctx.step.invoke("by-object", function=child, data={"n": 2})
        by_id = ctx.step.invoke_by_id("by-id", function_id="child", data={"n": 5})
        return [by_object, by_id]

    serve_app([child, parent])
    run = running_server.run_for(running_server.send(f"{app_id}/parent"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == [4, 10]


def test_invoke_of_a_failing_child_raises_step_error(sdk_client, serve_app, running_server, app_id):
    """A child that fails makes the invoke step raise StepError with the child's error."""

    @sdk_client.create_function(
        fn_id="bad-child", trigger=inngest.TriggerEvent(event=f"{app_id}/bc"), retries=0
    )
    def bad_child(ctx: inngest.ContextSync) -> None:
        raise inngest.NonRetriableError("child broke")

    @sdk_client.create_function(fn_id="caller", trigger=inngest.TriggerEvent(event=f"{app_id}/caller"))
    def caller(ctx: inngest.ContextSync) -> str:
        try:
            ctx.step.invoke("call", function=bad_child)
        except inngest.StepError as err:
            return f"{err.name}: {err.message}"
        return "no error"

    serve_app([bad_child, caller])
    run = running_server.run_for(running_server.send(f"{app_id}/caller"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == "NonRetriableError: child broke"


def test_invoke_times_out(sdk_client, serve_app, running_server, app_id):
    """A child slower than the invoke's timeout: the step raises Inngest's invoke timeout error."""

    @sdk_client.create_function(fn_id="slow-child", trigger=inngest.TriggerEvent(event=f"{app_id}/sc"))
    def slow_child(ctx: inngest.ContextSync) -> str:
        ctx.step.sleep("nap", datetime.timedelta(seconds=5))
        return "late"

    @sdk_client.create_function(fn_id="impatient", trigger=inngest.TriggerEvent(event=f"{app_id}/imp"))
    def impatient(ctx: inngest.ContextSync) -> str:
        try:
            return str(ctx.step.invoke("call", function=slow_child, timeout=datetime.timedelta(seconds=1)))
        except inngest.StepError as err:
            return err.message

    serve_app([slow_child, impatient])
    run = running_server.run_for(running_server.send(f"{app_id}/imp"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == "Timed out waiting for invoked function to complete"


def test_parallel_steps_are_planned_then_each_executed(sdk_client, serve_app, running_server, app_id):
    """``group.parallel`` reports StepPlanned ops; each runs in its own targeted call; results in order."""
    ran: list[str] = []
    calls: list[int] = []

    @sdk_client.create_function(fn_id="fan", trigger=inngest.TriggerEvent(event=f"{app_id}/fan"))
    def fan(ctx: inngest.ContextSync) -> dict[str, Any]:
        calls.append(1)

        def work(name: str) -> str:
            ran.append(name)
            return name * 2

        results = ctx.group.parallel(tuple((lambda n=n: ctx.step.run(n, work, n)) for n in ("a", "b", "c")))
        after = ctx.step.run("after", lambda: "done")
        return {"results": list(results), "after": after}

    serve_app([fan])
    run = running_server.run_for(running_server.send(f"{app_id}/fan"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == {"results": ["aa", "bb", "cc"], "after": "done"}
    assert sorted(ran) == ["a", "b", "c"]
    assert {s.step_id for s in run.steps} == {"a", "b", "c", "after"}
    # plan + 3 targeted steps + a discovery that only plans "after" (disable_immediate_execution,
    # set once a run planned a parallel group, as Inngest does) + its targeted call + the return.
    assert len(calls) == 7


def test_on_failure_runs_with_the_failed_runs_error(sdk_client, serve_app, running_server, app_id):
    """The SDK's ``on_failure`` function runs on ``inngest/function.failed`` for this function only."""
    seen: list[dict[str, Any]] = []

    def handle_failure(ctx: inngest.ContextSync) -> None:
        seen.append(dict(ctx.event.data))

    @sdk_client.create_function(
        fn_id="doomed",
        trigger=inngest.TriggerEvent(event=f"{app_id}/doomed"),
        retries=0,
        on_failure=handle_failure,
    )
    def doomed(ctx: inngest.ContextSync) -> None:
        raise ValueError("doomed to fail")

    serve_app([doomed])
    event_id = running_server.send(f"{app_id}/doomed", {"k": 1})
    run = running_server.run_for(event_id)
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.02)

    assert run.status is RunStatus.FAILED
    assert len(seen) == 1
    assert seen[0]["function_id"] == f"{app_id}-doomed"
    assert seen[0]["run_id"] == run.run_id
    assert seen[0]["error"]["message"] == "doomed to fail"
    assert seen[0]["event"]["data"] == {"k": 1}


def test_cancel_on_event_stops_a_sleeping_run(sdk_client, serve_app, running_server, app_id):
    """A ``cancel`` event matching ``if`` cancels the run between steps; nothing after runs."""
    after: list[str] = []

    @sdk_client.create_function(
        fn_id="cancellable",
        trigger=inngest.TriggerEvent(event=f"{app_id}/start"),
        cancel=[inngest.Cancel(event=f"{app_id}/stop", if_exp="async.data.id == event.data.id")],
    )
    def cancellable(ctx: inngest.ContextSync) -> None:
        ctx.step.sleep("wait", datetime.timedelta(seconds=10))
        ctx.step.run("after", lambda: after.append("ran"))

    serve_app([cancellable])
    event_id = running_server.send(f"{app_id}/start", {"id": "x"})
    _until_waiting(running_server, event_id)
    running_server.send(f"{app_id}/stop", {"id": "other"})
    running_server.send(f"{app_id}/stop", {"id": "x"})
    run = running_server.run_for(event_id, timeout=5)

    assert run.status is RunStatus.CANCELLED
    assert after == []


def test_multiple_triggers_and_event_payloads(sdk_client, serve_app, running_server, app_id):
    """A function with two triggers runs for either; it sees the event's name, data, id and ts."""

    @sdk_client.create_function(
        fn_id="multi",
        trigger=[
            inngest.TriggerEvent(event=f"{app_id}/one"),
            inngest.TriggerEvent(event=f"{app_id}/two", expression="event.data.ok == true"),
        ],
    )
    def multi(ctx: inngest.ContextSync) -> dict[str, Any]:
        e = ctx.event
        return {"name": e.name, "data": dict(e.data), "id": e.id, "ts": e.ts, "count": len(ctx.events)}

    serve_app([multi])
    one = running_server.send(f"{app_id}/one", {"nested": {"list": [1, 2]}}, id="my-id", ts=1700000000000)
    skipped = running_server.send(f"{app_id}/two", {"ok": False})
    two = running_server.send(f"{app_id}/two", {"ok": True})

    run_one = running_server.run_for(one)
    run_two = running_server.run_for(two)
    assert run_one.output == {
        "name": f"{app_id}/one",
        "data": {"nested": {"list": [1, 2]}},
        "id": "my-id",
        "ts": 1700000000000,
        "count": 1,
    }
    assert run_two.output["name"] == f"{app_id}/two"
    assert running_server.server.client.runs_for_event(skipped) == []


def test_cron_trigger_starts_runs(sdk_client, serve_app, running_server, app_id):
    """A cron trigger registered by sync fires on its schedule (every second here: croniter takes seconds)."""

    @sdk_client.create_function(fn_id="tick", trigger=inngest.TriggerCron(cron="* * * * * *"))
    def tick(ctx: inngest.ContextSync) -> str:
        return ctx.event.name

    serve_app([tick])
    client = running_server.server.client
    deadline = time.monotonic() + 10
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not runs:
        runs = [r for r in client.list_runs(fn_id=f"{app_id}-tick", status="completed")]
        time.sleep(0.1)
    assert runs, "the cron never fired"
    assert client.get_run(str(runs[0]["run_id"])).output == "inngest/scheduled.timer"


def test_step_send_event_triggers_another_function(sdk_client, serve_app, running_server, app_id):
    """``step.send_event`` (the SDK's send through ``POST /e``) starts the function it triggers."""

    @sdk_client.create_function(fn_id="emit", trigger=inngest.TriggerEvent(event=f"{app_id}/emit"))
    def emit(ctx: inngest.ContextSync) -> int:
        ids = ctx.step.send_event("send", [inngest.Event(name=f"{app_id}/got", data={"n": 7})])
        return len(ids)

    @sdk_client.create_function(fn_id="got", trigger=inngest.TriggerEvent(event=f"{app_id}/got"))
    def got(ctx: inngest.ContextSync) -> int:
        return int(ctx.event.data["n"]) + 1

    serve_app([emit, got])
    run = running_server.run_for(running_server.send(f"{app_id}/emit"))
    assert run.output == 1
    client = running_server.server.client
    deadline = time.monotonic() + 10
    done: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not done:
        done = client.list_runs(fn_id=f"{app_id}-got", status="completed")
        time.sleep(0.05)
    assert done and client.get_run(str(done[0]["run_id"])).output == 8


def test_inconsistent_step_order_still_runs_each_step_once(sdk_client, serve_app, running_server, app_id):
    """Steps called in a different order on every request: memoization is by id, not position."""
    requests: list[int] = []
    ran: list[str] = []

    @sdk_client.create_function(fn_id="order", trigger=inngest.TriggerEvent(event=f"{app_id}/o"), retries=0)
    def order(ctx: inngest.ContextSync) -> list[int]:
        requests.append(1)
        names = ["one", "two"] if len(requests) % 2 else ["two", "one"]
        return [ctx.step.run(name, lambda n=name: ran.append(n) or len(n)) for name in names]

    serve_app([order])
    run = running_server.run_for(running_server.send(f"{app_id}/o"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert sorted(ran) == ["one", "two"]
    assert {s.step_id: s.output for s in run.steps} == {"one": 3, "two": 3}


def test_parallel_step_that_disappears_fails_the_run(sdk_client, serve_app, running_server, app_id):
    """A planned parallel step gone when it is targeted: the SDK's StepUnexpectedError fails the run."""
    requests: list[int] = []

    @sdk_client.create_function(fn_id="vanish", trigger=inngest.TriggerEvent(event=f"{app_id}/v"), retries=0)
    def vanish(ctx: inngest.ContextSync) -> None:
        requests.append(1)
        steps: tuple[Any, ...] = (
            lambda: ctx.step.run("1a", lambda: None),
            lambda: ctx.step.run("1b", lambda: None),
        )
        if len(requests) == 1:
            steps += (lambda: ctx.step.run("1c", lambda: None),)
        ctx.group.parallel(steps)
        ctx.step.run("after", lambda: None)

    serve_app([vanish])
    run = running_server.run_for(running_server.send(f"{app_id}/v"))

    assert run.status is RunStatus.FAILED
    assert run.error["name"] == "StepUnexpectedError"
    assert run.error["message"] == 'found step "after" when targeting a different step'
    assert run.error.get("code") == "step_unexpected"


def test_async_function_sleeps_waits_invokes_and_runs_parallel_steps(
    sdk_client, serve_app, running_server, app_id
):
    """The same protocol paths with ``async def`` handlers (run on the FastAPI app's event loop)."""

    @sdk_client.create_function(fn_id="achild", trigger=inngest.TriggerEvent(event=f"{app_id}/achild"))
    async def achild(ctx: inngest.Context) -> int:
        return int(ctx.event.data["n"]) + 100

    @sdk_client.create_function(fn_id="aparent", trigger=inngest.TriggerEvent(event=f"{app_id}/aparent"))
    async def aparent(ctx: inngest.Context) -> dict[str, Any]:
        async def upper(name: str) -> str:
            return name.upper()

        await ctx.step.sleep("nap", datetime.timedelta(milliseconds=200))
        waited = await ctx.step.wait_for_event(
            "nobody", event=f"{app_id}/nobody", timeout=datetime.timedelta(seconds=1)
        )
        child = await ctx.step.invoke("child", function=achild, data={"n": 1})
        both = await ctx.group.parallel(
            (lambda: ctx.step.run("p", upper, "p"), lambda: ctx.step.run("q", upper, "q"))
        )
        return {"waited": waited, "child": child, "both": list(both)}

    serve_app([achild, aparent])
    run = running_server.run_for(running_server.send(f"{app_id}/aparent"))

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == {"waited": None, "child": 101, "both": ["P", "Q"]}
