"""The function side of the protocol: ``Context``, ``ctx.step``, ``ctx.group`` and :func:`execute`.

Each invocation replays the handler from the top. A step whose result is in the memo returns it at
once; the first step that is not memoized either runs (``step.run``, unless the invocation targets
another step or is collecting a parallel group) or is reported (sleep, wait, invoke, planned steps),
and the invocation stops there by raising a :class:`ResponseInterrupt`. Code outside steps therefore
runs again on every invocation, exactly as in Inngest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar

from bakeoff.backends.inngest.errors import (
    NestedStepInterrupt,
    NonRetriableError,
    ResponseInterrupt,
    RetryAfterError,
    SkipInterrupt,
    StepError,
    serialize_error,
)
from bakeoff.backends.inngest.models import Duration, Event, to_timedelta
from bakeoff.backends.inngest.protocol import (
    CallRequest,
    CallResult,
    FunctionDone,
    FunctionFailed,
    MemoEntry,
    Opcode,
    StepOp,
    StepsReported,
    TargetNotFound,
)

__all__ = ["Context", "Group", "Step", "execute", "retry_after_ms"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Sender = Callable[[list[Event]], list[str]]
MIN_RETRY_AFTER_MS = 1_000
MAX_RETRY_AFTER_MS = 24 * 3600 * 1000
NESTED_STEPS_MESSAGE = "Nested steps are not supported."


def retry_after_ms(value: int | timedelta | datetime) -> int:
    """RetryAfterError's delay in ms, clamped to Inngest's [1 s, 24 h]."""
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        ms = int((when - datetime.now(UTC)).total_seconds() * 1000)
    elif isinstance(value, timedelta):
        ms = int(value.total_seconds() * 1000)
    else:
        ms = int(value)
    return min(max(ms, MIN_RETRY_AFTER_MS), MAX_RETRY_AFTER_MS)


@dataclass
class _Invocation:
    """Mutable state of one invocation: memo, step-id counters, and which mode the SDK is in."""

    request: CallRequest
    counters: dict[str, int] = field(default_factory=dict)
    in_parallel: bool = False
    executing_step: bool = False
    failed_step: str | None = None

    def next_key(self, step_id: str) -> str:
        """``id`` the first time, then ``id:1``, ``id:2``: Inngest's implicit loop counter."""
        seen = self.counters.get(step_id, 0)
        self.counters[step_id] = seen + 1
        return step_id if seen == 0 else f"{step_id}:{seen}"

    def memo(self, key: str) -> MemoEntry | None:
        return self.request.steps.get(key)

    def begin(self, step_id: str) -> tuple[str, MemoEntry | None]:
        if self.executing_step:
            raise NestedStepInterrupt(step_id)
        key = self.next_key(step_id)
        return key, self.memo(key)

    def skip_unless_target(self, key: str) -> None:
        if self.request.target_step is not None and key != self.request.target_step:
            raise SkipInterrupt(key)

    def report(self, op: StepOp) -> NoReturn:
        self.skip_unless_target(op.key)
        raise ResponseInterrupt([op])


def _memo_value(entry: MemoEntry) -> Any:
    if entry.error is not None:
        raise StepError.from_dict(entry.error)
    return entry.data


def _ms(value: Duration, field_name: str) -> int:
    return int(to_timedelta(value, field_name=field_name).total_seconds() * 1000)


class Step:
    """``ctx.step``: the step tools of Inngest's Python SDK (synchronous flavour)."""

    def __init__(self, inv: _Invocation, sender: Sender) -> None:
        self._inv = inv
        self._send = sender

    def run(self, step_id: str, handler: Callable[..., T], *handler_args: Any) -> T:
        """Run ``handler(*handler_args)`` once, durably; its JSON result is memoized under ``step_id``."""
        inv = self._inv
        key, entry = inv.begin(step_id)
        if entry is not None:
            return _memo_value(entry)  # type: ignore[no-any-return]
        inv.skip_unless_target(key)
        if inv.request.target_step is None and (inv.in_parallel or inv.request.disable_immediate_execution):
            raise ResponseInterrupt([StepOp(op=Opcode.STEP_PLANNED, key=key, display_name=step_id)])
        raise ResponseInterrupt([self._execute(key, step_id, handler, handler_args)])

    def _execute(self, key: str, step_id: str, handler: Callable[..., Any], args: Sequence[Any]) -> StepOp:
        inv = self._inv
        inv.executing_step = True
        try:
            output = handler(*args)
        except NonRetriableError:
            # Inngest's Python SDK re-raises this into the handler: uncaught, the run fails at once.
            inv.failed_step = key
            raise
        except Exception as exc:
            return self._failed_attempt(key, step_id, exc)
        finally:
            inv.executing_step = False
        try:
            json.dumps(output)
        except (TypeError, ValueError):
            error = {
                "name": "OutputUnserializableError",
                "message": f'"{step_id}" returned unserializable data',
            }
            return StepOp(op=Opcode.STEP_FAILED, key=key, display_name=step_id, error=error)
        return StepOp(op=Opcode.STEP_RUN, key=key, display_name=step_id, data=output)

    def _failed_attempt(self, key: str, step_id: str, exc: Exception) -> StepOp:
        request = self._inv.request
        final = request.attempt + 1 >= request.max_attempts
        delay = retry_after_ms(exc.retry_after) if isinstance(exc, RetryAfterError) else None
        return StepOp(
            op=Opcode.STEP_FAILED if final else Opcode.STEP_ERROR,
            key=key,
            display_name=step_id,
            error=serialize_error(exc),
            retry_after_ms=delay,
        )

    def sleep(self, step_id: str, duration: Duration) -> None:
        """Pause the run durably for ``duration`` (timedelta or int ms); holds no concurrency slot."""
        key, entry = self._inv.begin(step_id)
        if entry is None:
            opts = {"duration_ms": _ms(duration, "duration")}
            self._inv.report(StepOp(op=Opcode.SLEEP, key=key, display_name=step_id, opts=opts))

    def sleep_until(self, step_id: str, until: datetime) -> None:
        """Pause the run durably until ``until``."""
        key, entry = self._inv.begin(step_id)
        if entry is None:
            when = until if until.tzinfo else until.replace(tzinfo=UTC)
            opts = {"until_ms": int(when.timestamp() * 1000)}
            self._inv.report(StepOp(op=Opcode.SLEEP, key=key, display_name=step_id, opts=opts))

    def wait_for_event(
        self, step_id: str, *, event: str, timeout: Duration, if_exp: str | None = None
    ) -> Event | None:
        """Wait for an event named ``event`` sent after this point; None when ``timeout`` passes first."""
        key, entry = self._inv.begin(step_id)
        if entry is not None:
            data = _memo_value(entry)
            return Event.from_dict(data) if data else None
        opts = {"event": event, "timeout_ms": _ms(timeout, "timeout"), "if": if_exp}
        self._inv.report(StepOp(op=Opcode.WAIT_FOR_EVENT, key=key, display_name=step_id, opts=opts))

    def send_event(self, step_id: str, events: Event | list[Event]) -> list[str]:
        """Send events durably, as a ``step.run`` (as Inngest's SDK does); returns their ids."""
        batch = events if isinstance(events, list) else [events]
        seen = self._inv.counters.get(step_id, 0)
        key = step_id if seen == 0 else f"{step_id}:{seen}"  # the key step.run is about to use
        run_id = self._inv.request.run_id

        def send() -> list[str]:
            # Deterministic ids make a re-run of this step (after a crash) a 24-hour duplicate.
            stamped = [
                e if e.id else Event(name=e.name, data=e.data, ts=e.ts, id=f"{run_id}:{key}:{i}")
                for i, e in enumerate(batch)
            ]
            return self._send(stamped)

        return self.run(step_id, send)

    def invoke(
        self,
        step_id: str,
        *,
        function: Any,
        data: dict[str, Any] | None = None,
        timeout: Duration | None = None,
    ) -> Any:
        """Run another function as a child run and return its output (StepError if it fails)."""
        key, entry = self._inv.begin(step_id)
        if entry is not None:
            return _memo_value(entry)
        fn_id = function if isinstance(function, str) else function.fn_id
        opts = {
            "function_id": fn_id,
            "data": data or {},
            "timeout_ms": _ms(timeout, "timeout") if timeout is not None else None,
        }
        self._inv.report(StepOp(op=Opcode.INVOKE, key=key, display_name=step_id, opts=opts))


class Group:
    """``ctx.group``: run steps in parallel (Inngest's ``group.parallel``, WAIT mode)."""

    def __init__(self, inv: _Invocation) -> None:
        self._inv = inv

    def parallel(self, callables: Sequence[Callable[[], T]]) -> tuple[T, ...]:
        """Run each callable's steps in parallel; returns their results in declaration order."""
        inv = self._inv
        was_parallel, inv.in_parallel = inv.in_parallel, True
        results: list[T] = []
        planned: list[StepOp] = []
        skipped = False
        try:
            for call in callables:
                try:
                    results.append(call())
                except ResponseInterrupt as interrupt:
                    if any(op.op.executed for op in interrupt.ops):
                        raise
                    planned.extend(interrupt.ops)
                except SkipInterrupt:
                    skipped = True
        finally:
            inv.in_parallel = was_parallel
        if planned:
            raise ResponseInterrupt(planned)
        if skipped:
            raise SkipInterrupt("parallel group")
        return tuple(results)


@dataclass(frozen=True)
class Context:
    """What a function receives: ``event``, ``events``, ``run_id``, ``attempt``, ``step``, ``group``."""

    event: Event
    events: list[Event]
    run_id: str
    attempt: int
    step: Step
    group: Group
    logger: logging.Logger


def _failure(exc: BaseException, inv: _Invocation) -> FunctionFailed:
    if isinstance(exc, NestedStepInterrupt):
        error = {"name": "StepError", "code": "step_errored", "message": NESTED_STEPS_MESSAGE}
        return FunctionFailed(error=error, retriable=False)
    error = serialize_error(exc)
    if isinstance(exc, NonRetriableError):
        return FunctionFailed(error=error, retriable=False, step_key=inv.failed_step)
    if isinstance(exc, StepError):
        return FunctionFailed(error=error, retriable=False)
    if isinstance(exc, RetryAfterError):
        return FunctionFailed(error=error, retriable=True, retry_after_ms=retry_after_ms(exc.retry_after))
    return FunctionFailed(error=error, retriable=True)


def execute(handler: Callable[[Context], Any], request: CallRequest, *, sender: Sender) -> CallResult:
    """Invoke ``handler`` once for ``request`` and say what happened, in protocol terms."""
    inv = _Invocation(request)
    ctx = Context(
        event=Event.from_dict(request.event),
        events=[Event.from_dict(e) for e in request.events],
        run_id=request.run_id,
        attempt=request.attempt,
        step=Step(inv, sender),
        group=Group(inv),
        logger=logger,
    )
    try:
        output = handler(ctx)
    except ResponseInterrupt as interrupt:
        return StepsReported(ops=interrupt.ops)
    except SkipInterrupt:
        return TargetNotFound()
    except (NestedStepInterrupt, Exception) as exc:
        return _failure(exc, inv)
    if request.target_step is not None:
        return TargetNotFound()
    try:
        json.dumps(output)
    except (TypeError, ValueError):
        error = {"name": "OutputUnserializableError", "message": "the function returned unserializable data"}
        return FunctionFailed(error=error, retriable=False)
    return FunctionDone(output=output)
