"""Memoized steps on real PostgreSQL: replay, per-step retries, errors, parallel groups, failure handlers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from bakeoff.backends.inngest import (
    Context,
    Inngest,
    NonRetriableError,
    RetryAfterError,
    Run,
    RunStatus,
    StepError,
    TriggerEvent,
    Worker,
)

RunEvent = Callable[..., Run]


def test_succeeded_step_is_not_re_executed_when_a_later_step_retries(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """Step a runs once although step b fails twice and the run is replayed from the top each time."""
    calls: Counter[str] = Counter()
    invocations: list[int] = []

    @client.create_function(fn_id="retry-later", trigger=TriggerEvent(event="t/retry"))
    def fn(ctx: Context) -> Any:
        invocations.append(ctx.attempt)
        a = ctx.step.run("a", lambda: calls.update(["a"]) or "A")

        def flaky() -> str:
            calls.update(["b"])
            if calls["b"] < 3:
                raise RuntimeError(f"transient {calls['b']}")
            return a + "B"

        return ctx.step.run("b", flaky)

    start_worker()
    run = run_event("t/retry")
    assert run.status is RunStatus.COMPLETED and run.output == "AB"
    assert calls == {"a": 1, "b": 3}
    assert len(invocations) >= 4, "code outside steps re-runs on every invocation"
    b_attempts = [a for a in run.attempts if a.step_key == "b"]
    assert [(a.attempt, a.ok) for a in b_attempts] == [(0, False), (1, False), (2, True)]


def test_attempt_counter_resets_after_a_step_succeeds(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """ctx.attempt counts retries of the current step only: the next step starts at attempt 0."""
    seen: dict[str, list[int]] = {"a": [], "b": []}

    @client.create_function(fn_id="attempts", trigger=TriggerEvent(event="t/attempts"))
    def fn(ctx: Context) -> Any:
        def a() -> int:
            seen["a"].append(ctx.attempt)
            if len(seen["a"]) < 3:
                raise RuntimeError("again")
            return 1

        ctx.step.run("a", a)
        return ctx.step.run("b", lambda: seen["b"].append(ctx.attempt) or 2)

    start_worker()
    assert run_event("t/attempts").status is RunStatus.COMPLETED
    assert seen == {"a": [0, 1, 2], "b": [0]}


def test_non_retriable_error_with_retries_one_fails_after_one_attempt(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """NonRetriableError skips the remaining retries: one attempt, run failed with its message."""
    calls: list[int] = []

    @client.create_function(fn_id="nonretriable", trigger=TriggerEvent(event="t/nr"), retries=1)
    def fn(ctx: Context) -> Any:
        def step() -> None:
            calls.append(ctx.attempt)
            raise NonRetriableError("bad input")

        return ctx.step.run("s", step)

    start_worker()
    run = run_event("t/nr")
    assert run.status is RunStatus.FAILED
    assert run.error is not None and (run.error["name"], run.error["message"]) == (
        "NonRetriableError",
        "bad input",
    )
    assert calls == [0]
    assert [(a.step_key, a.attempt, a.ok) for a in run.attempts] == [("s", 0, False)]


def test_exhausted_step_raises_step_error_that_can_be_caught(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """After retries run out, StepError is raised at the call site; catching it lets the run go on."""
    calls: list[int] = []

    @client.create_function(fn_id="catch", trigger=TriggerEvent(event="t/catch"), retries=2)
    def fn(ctx: Context) -> Any:
        def always() -> None:
            calls.append(ctx.attempt)
            raise ValueError("still broken")

        try:
            ctx.step.run("broken", always)
        except StepError as exc:
            caught = {"name": exc.name, "message": exc.message}
            return ctx.step.run("fallback", lambda: caught)
        return "unreachable"

    start_worker()
    run = run_event("t/catch")
    assert run.status is RunStatus.COMPLETED
    assert run.output == {"name": "ValueError", "message": "still broken"}
    assert calls == [0, 1, 2]
    assert [(s.step_key, s.status) for s in run.steps] == [("broken", "failed"), ("fallback", "completed")]


def test_retry_after_error_schedules_the_next_attempt_no_sooner(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """RetryAfterError(1.5 s) overrides the (50 ms) backoff: the retry starts at least 1.5 s later."""
    calls: list[int] = []

    @client.create_function(fn_id="retry-after", trigger=TriggerEvent(event="t/ra"))
    def fn(ctx: Context) -> Any:
        def step() -> str:
            calls.append(1)
            if len(calls) == 1:
                raise RetryAfterError("rate limited upstream", 1500)
            return "ok"

        return ctx.step.run("s", step)

    start_worker()
    run = run_event("t/ra")
    assert run.status is RunStatus.COMPLETED
    first, second = run.attempts
    assert (second.started_at - first.ended_at).total_seconds() >= 1.45


def test_parallel_group_returns_ordered_results(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """ctx.group.parallel runs steps on several workers and returns results in declaration order."""
    threads: set[int] = set()
    gate = threading.Barrier(2, timeout=10)

    @client.create_function(fn_id="parallel", trigger=TriggerEvent(event="t/par"))
    def fn(ctx: Context) -> Any:
        def work(i: int) -> int:
            threads.add(threading.get_ident())
            if i < 2:
                gate.wait()  # the first two only pass when they run at the same time
            return i * i

        results = ctx.group.parallel(tuple(lambda i=i: ctx.step.run("sq", work, i) for i in range(5)))
        return ctx.step.run("sum", lambda: {"squares": list(results), "total": sum(results)})

    start_worker(concurrency=4)
    run = run_event("t/par")
    assert run.status is RunStatus.COMPLETED
    assert run.output == {"squares": [0, 1, 4, 9, 16], "total": 30}
    assert len(threads) >= 2
    assert [s.step_key for s in run.steps][-1] == "sum"


def test_nested_step_fails_the_run_and_the_inner_step_never_runs(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """A step called inside another step's callback fails the run, non-retriably, with Inngest's text."""
    inner: list[int] = []

    @client.create_function(fn_id="nested", trigger=TriggerEvent(event="t/nested"), retries=5)
    def fn(ctx: Context) -> Any:
        return ctx.step.run("outer", lambda: ctx.step.run("inner", lambda: inner.append(1)))

    start_worker()
    run = run_event("t/nested")
    assert run.status is RunStatus.FAILED
    assert run.error is not None and run.error["message"] == "Nested steps are not supported."
    assert inner == []


def test_on_failure_runs_as_its_own_run_with_the_failure_details(
    client: Inngest, start_worker: Callable[..., Worker], run_event: RunEvent
) -> None:
    """on_failure runs once, after retries, as a separate run that receives the error and the event."""
    received: list[dict[str, Any]] = []
    done = threading.Event()

    def on_failure(ctx: Context) -> None:
        received.append(
            {"run_id": ctx.event.data["run_id"], **ctx.event.data["error"], "ev": ctx.event.data["event"]}
        )
        done.set()

    @client.create_function(
        fn_id="fails", trigger=TriggerEvent(event="t/fails"), retries=1, on_failure=on_failure
    )
    def fn(ctx: Context) -> Any:
        raise RuntimeError("function-level failure")

    start_worker()
    run = run_event("t/fails", {"k": "v"})
    assert run.status is RunStatus.FAILED
    assert [a.attempt for a in run.attempts] == [0, 1]
    assert done.wait(10)
    [failure] = received
    assert failure["run_id"] == run.run_id
    assert (failure["name"], failure["message"]) == ("RuntimeError", "function-level failure")
    assert failure["ev"]["data"] == {"k": "v"}
    failure_runs = client.list_runs(fn_id="fails-failure")
    assert len(failure_runs) == 1
