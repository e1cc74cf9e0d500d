"""The function side of the protocol, driven in-process with hand-made memos (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from bakeoff.backends.inngest import Context, NonRetriableError, RetryAfterError, StepError
from bakeoff.backends.inngest.protocol import (
    CallRequest,
    FunctionDone,
    FunctionFailed,
    MemoEntry,
    Opcode,
    StepsReported,
    TargetNotFound,
    hash_step_id,
)
from bakeoff.backends.inngest.sdk import execute


def request(steps: dict[str, Any] | None = None, **overrides: Any) -> CallRequest:
    memo = {k: v if isinstance(v, MemoEntry) else MemoEntry(data=v) for k, v in (steps or {}).items()}
    base: dict[str, Any] = {
        "event": {"name": "e", "data": {"n": 3}, "id": "ev1", "ts": 1},
        "events": [],
        "steps": memo,
        "run_id": "run-1",
        "attempt": 0,
        "max_attempts": 5,
    }
    base.update(overrides)
    return CallRequest(**base)


def no_send(events: list[Any]) -> list[str]:
    raise AssertionError("no events expected")


def test_first_invocation_runs_first_step_and_stops() -> None:
    """Replay model: with an empty memo only the first step runs; the invocation reports it."""
    calls: list[str] = []

    def fn(ctx: Context) -> Any:
        a = ctx.step.run("a", lambda: calls.append("a") or 1)
        return ctx.step.run("b", lambda: calls.append("b") or a + 1)

    result = execute(fn, request(), sender=no_send)
    assert isinstance(result, StepsReported)
    assert [(op.op, op.key, op.data) for op in result.ops] == [(Opcode.STEP_RUN, "a", 1)]
    assert calls == ["a"]


def test_memoized_steps_return_stored_output_without_running() -> None:
    """A memoized step returns its stored value; its callback is not called again."""
    calls: list[str] = []

    def fn(ctx: Context) -> Any:
        a = ctx.step.run("a", lambda: calls.append("a") or 1)
        b = ctx.step.run("b", lambda: calls.append("b") or a + 1)
        return {"a": a, "b": b}

    result = execute(fn, request({"a": 41, "b": 42}), sender=no_send)
    assert result == FunctionDone(output={"a": 41, "b": 42})
    assert calls == []


def test_code_outside_steps_runs_on_every_invocation() -> None:
    """Non-step code re-runs per invocation (3 invocations of a 2-step function print 3 times)."""
    seen: list[int] = []

    def fn(ctx: Context) -> Any:
        seen.append(1)
        ctx.step.run("a", lambda: 1)
        ctx.step.run("b", lambda: 2)
        return None

    for memo in ({}, {"a": 1}, {"a": 1, "b": 2}):
        execute(fn, request(memo), sender=no_send)
    assert len(seen) == 3


def test_repeated_step_ids_get_counter_suffixes() -> None:
    """A step id used in a loop is stored as id, id:1, id:2 (Inngest's implicit index)."""

    def fn(ctx: Context) -> Any:
        return [ctx.step.run("item", lambda i=i: i * 10) for i in range(3)]

    result = execute(fn, request({"item": 0, "item:1": 10}), sender=no_send)
    assert isinstance(result, StepsReported)
    assert result.ops[0].key == "item:2"
    assert result.ops[0].to_dict()["id"] == hash_step_id("item:2")


def test_nested_step_fails_run_without_running_inner_step() -> None:
    """A step inside a step's callback fails the run, non-retriably; the inner callback never runs."""
    inner: list[int] = []

    def fn(ctx: Context) -> Any:
        return ctx.step.run("outer", lambda: ctx.step.run("inner", lambda: inner.append(1)))

    result = execute(fn, request(), sender=no_send)
    assert isinstance(result, FunctionFailed)
    assert result.retriable is False
    assert result.error["message"] == "Nested steps are not supported."
    assert inner == []


def test_step_error_attempts_then_failed_on_last_attempt() -> None:
    """A raising step reports StepError while attempts remain, StepFailed on the last attempt."""

    def fn(ctx: Context) -> Any:
        return ctx.step.run("boom", lambda: 1 / 0)

    early = execute(fn, request(attempt=0, max_attempts=2), sender=no_send)
    last = execute(fn, request(attempt=1, max_attempts=2), sender=no_send)
    assert isinstance(early, StepsReported) and early.ops[0].op is Opcode.STEP_ERROR
    assert isinstance(last, StepsReported) and last.ops[0].op is Opcode.STEP_FAILED
    assert last.ops[0].error is not None and last.ops[0].error["name"] == "ZeroDivisionError"


def test_failed_step_raises_catchable_step_error_at_call_site() -> None:
    """A step stored as failed raises StepError where it is called; user code may catch it."""

    def fn(ctx: Context) -> Any:
        try:
            ctx.step.run("flaky", lambda: 1)
        except StepError as exc:
            return {"caught": exc.name, "message": exc.message}
        return "not caught"

    failed = MemoEntry(error={"name": "ValueError", "message": "bad"})
    result = execute(fn, request({"flaky": failed}), sender=no_send)
    assert result == FunctionDone(output={"caught": "ValueError", "message": "bad"})


def test_uncaught_step_error_fails_function_without_retry() -> None:
    """An uncaught StepError ends the run: retrying would replay the same stored error."""

    def fn(ctx: Context) -> Any:
        return ctx.step.run("flaky", lambda: 1)

    result = execute(fn, request({"flaky": MemoEntry(error={"name": "E", "message": "m"})}), sender=no_send)
    assert isinstance(result, FunctionFailed) and result.retriable is False


def test_non_retriable_error_in_step_fails_function_at_once() -> None:
    """As in Inngest's Python SDK, NonRetriableError leaves step.run and fails the function."""

    def fn(ctx: Context) -> Any:
        def step() -> None:
            raise NonRetriableError("no")

        return ctx.step.run("s", step)

    result = execute(fn, request(), sender=no_send)
    assert isinstance(result, FunctionFailed)
    assert (result.retriable, result.step_key, result.error["name"]) == (False, "s", "NonRetriableError")


def test_retry_after_error_sets_delay_clamped_to_one_second() -> None:
    """RetryAfterError's delay is reported, clamped to Inngest's minimum of 1 s."""

    def fn(ctx: Context) -> Any:
        def step() -> None:
            raise RetryAfterError("later", 200)

        return ctx.step.run("s", step)

    result = execute(fn, request(), sender=no_send)
    assert isinstance(result, StepsReported)
    assert result.ops[0].op is Opcode.STEP_ERROR and result.ops[0].retry_after_ms == 1000


def test_parallel_group_plans_every_branch_then_returns_in_order() -> None:
    """group.parallel reports one plan with every unmemoized step, then returns results in order."""

    def fn(ctx: Context) -> Any:
        return list(ctx.group.parallel(tuple(lambda i=i: ctx.step.run(f"p{i}", lambda: i) for i in range(3))))

    plan = execute(fn, request(), sender=no_send)
    assert isinstance(plan, StepsReported)
    assert [(op.op, op.key) for op in plan.ops] == [(Opcode.STEP_PLANNED, f"p{i}") for i in range(3)]
    done = execute(fn, request({"p0": "x", "p1": "y", "p2": "z"}), sender=no_send)
    assert done == FunctionDone(output=["x", "y", "z"])


def test_targeted_invocation_runs_only_its_target() -> None:
    """An invocation targeting a planned step runs that step and skips its siblings."""
    ran: list[int] = []

    def fn(ctx: Context) -> Any:
        return ctx.group.parallel(
            tuple(lambda i=i: ctx.step.run(f"p{i}", lambda: ran.append(i) or i) for i in range(3))
        )

    result = execute(fn, request(target_step="p1"), sender=no_send)
    assert isinstance(result, StepsReported)
    assert [(op.op, op.key, op.data) for op in result.ops] == [(Opcode.STEP_RUN, "p1", 1)]
    assert ran == [1]
    assert isinstance(execute(fn, request({"p1": 1}, target_step="p1"), sender=no_send), TargetNotFound)


def test_step_limit_reached_reports_instead_of_running() -> None:
    """With disable_immediate_execution the next step is only planned, so the executor can refuse it."""
    ran: list[int] = []

    def fn(ctx: Context) -> Any:
        return ctx.step.run("s", lambda: ran.append(1))

    result = execute(fn, request(disable_immediate_execution=True), sender=no_send)
    assert isinstance(result, StepsReported) and result.ops[0].op is Opcode.STEP_PLANNED
    assert ran == []


def test_sleep_wait_and_invoke_are_reported_with_options() -> None:
    """Sleeps, waits and invokes are executor work: reported with their options (ms durations)."""
    from datetime import timedelta

    def fn(ctx: Context) -> Any:
        ctx.step.sleep("nap", timedelta(seconds=2))
        got = ctx.step.wait_for_event("wait", event="x/y", timeout=500, if_exp="async.data.k == 1")
        return ctx.step.invoke("call", function="child", data={"k": got.data["k"] if got else None})

    sleep = execute(fn, request(), sender=no_send)
    assert isinstance(sleep, StepsReported) and sleep.ops[0].opts == {"duration_ms": 2000}
    wait = execute(fn, request({"nap": None}), sender=no_send)
    assert isinstance(wait, StepsReported)
    assert wait.ops[0].opts == {"event": "x/y", "timeout_ms": 500, "if": "async.data.k == 1"}
    invoke = execute(fn, request({"nap": None, "wait": None}), sender=no_send)
    assert isinstance(invoke, StepsReported)
    assert invoke.ops[0].op is Opcode.INVOKE and invoke.ops[0].opts["data"] == {"k": None}


def test_interrupts_are_not_swallowed_by_except_exception() -> None:
    """Step signals are BaseExceptions: a user's except Exception around a step cannot eat them."""

    def fn(ctx: Context) -> Any:
        try:
            ctx.step.run("a", lambda: 1)
        except Exception:  # pragma: no cover - the point is that this does not run
            return "swallowed"
        return "after"

    assert isinstance(execute(fn, request(), sender=no_send), StepsReported)


@pytest.mark.parametrize("bad", [object(), {1, 2}])
def test_unserializable_step_output_fails_the_step(bad: object) -> None:
    """A step returning non-JSON data fails with Inngest's OutputUnserializableError."""

    def fn(ctx: Context) -> Any:
        return ctx.step.run("s", lambda: bad)

    result = execute(fn, request(), sender=no_send)
    assert isinstance(result, StepsReported)
    assert result.ops[0].op is Opcode.STEP_FAILED
    assert result.ops[0].error == {
        "name": "OutputUnserializableError",
        "message": '"s" returned unserializable data',
    }


def test_send_event_in_a_loop_gives_each_send_its_own_ids() -> None:
    """send_event ids derive from the counted step key, so a loop's sends are not 24 h duplicates."""
    from bakeoff.backends.inngest import Event

    sent: list[list[str]] = []

    def sender(events: list[Event]) -> list[str]:
        sent.append([e.id for e in events])
        return [e.id for e in events]

    def fn(ctx: Context) -> Any:
        return [ctx.step.send_event("notify", Event(name="x")) for _ in range(2)]

    first = execute(fn, request(), sender=sender)
    assert isinstance(first, StepsReported)
    second = execute(fn, request({"notify": first.ops[0].data}), sender=sender)
    assert isinstance(second, StepsReported)
    assert sent == [["run-1:notify:0"], ["run-1:notify:1:0"]]
