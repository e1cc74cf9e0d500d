"""The executor: runs one claimed queue item of a run and applies what the function reported.

An item is one invocation to make: ``discover`` (replay from the top; the first new ``step.run``
runs at once), ``execute`` (a planned parallel step, targeted) or ``resume`` (a sleep, wait or
invoke reached its time; resolve it, then discover). Finalisation happens in one transaction that
locks the run row, so parallel steps of one run finalise one at a time and the last one queues the
next discovery. After a ``step.run`` of a discover item the same worker keeps the lease and
replays again at once with the memo it already holds (the common sequential path costs one claim).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bakeoff.backends.inngest.errors import InvalidFunction
from bakeoff.backends.inngest.expressions import compile_expression
from bakeoff.backends.inngest.function import Function
from bakeoff.backends.inngest.models import Event, Limits
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
from bakeoff.backends.inngest.sdk import execute
from bakeoff.backends.inngest.store import Conn, Sql, json_size, jsonb
from bakeoff.backends.inngest.triggers import FUNCTION_FAILED, Dispatcher, FinishedRun

__all__ = ["Backoff", "Executor", "Item", "inngest_backoff", "linear_backoff"]

logger = logging.getLogger(__name__)

Backoff = Callable[[int], float]
_BACKOFF_TABLE = (15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200)
STEP_LIMIT_MESSAGE = "The function run exceeded the step limit of {limit} steps."
STATE_LIMIT_MESSAGE = "The function run exceeded the state size limit of {limit} bytes."
LIVE = ("queued", "running")


def inngest_backoff(attempt: int) -> float:
    """Inngest's default: 15 s, 30 s, 1 m, 2 m, 5 m, 10 m, 20 m, 40 m, 1 h, then 2 h; + 0-30 s jitter."""
    return _BACKOFF_TABLE[min(attempt, len(_BACKOFF_TABLE) - 1)] + random.uniform(0, 30)


def linear_backoff(interval_seconds: int) -> Backoff:
    """The server's ``--retry-interval N`` (``inngest dev`` and ``inngest start``): every retry N s later.

    Inngest's ``GetLinearBackoffFunc``: a fixed wait, no jitter, whatever the attempt. The flag takes
    whole seconds and must be 1 or above; Inngest Cloud has no such setting.
    """
    if isinstance(interval_seconds, bool) or not isinstance(interval_seconds, int) or interval_seconds < 1:
        raise InvalidFunction(f"retry_interval must be whole seconds, 1 or above; got {interval_seconds!r}")
    wait = float(interval_seconds)
    return lambda attempt: wait


def step_limit_error(limit: int) -> dict[str, Any]:
    return {
        "error": "function has too many steps",
        "name": "InngestErrFunctionOverflowed",
        "message": STEP_LIMIT_MESSAGE.format(limit=limit),
    }


def state_limit_error(limit: int) -> dict[str, Any]:
    return {"name": "InngestErrStateOverflowed", "message": STATE_LIMIT_MESSAGE.format(limit=limit)}


@dataclass
class Item:
    """A claimed queue item plus the clock that dates what happens while we hold it."""

    id: int
    run_id: Any
    fn_id: str
    kind: str
    target_step: str | None
    attempt: int
    run_at: datetime
    claimed_at: datetime
    claimed_mono: float = field(default_factory=time.monotonic)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Item:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__ if k != "claimed_mono"})

    def now(self) -> datetime:
        """Database time, extrapolated from the claim's clock_timestamp() with the monotonic clock."""
        return self.claimed_at + timedelta(seconds=time.monotonic() - self.claimed_mono)


@dataclass
class _RunState:
    row: dict[str, Any]
    memo: dict[str, MemoEntry]

    @property
    def step_count(self) -> int:
        return int(self.row["step_count"])


class Executor:
    """Runs claimed items for the functions of one client."""

    def __init__(
        self,
        sql: Sql,
        dispatcher: Dispatcher,
        functions: Callable[[], Mapping[str, Function]],
        limits: Limits,
        backoff: Backoff,
        sender: Callable[[list[Event]], list[str]],
        worker_id: str,
        lease_ms: int,
        on_finished: Callable[[list[FinishedRun]], None],
    ) -> None:
        self.sql = sql
        self.dispatcher = dispatcher
        self.functions = functions
        self.limits = limits
        self.backoff = backoff
        self.sender = sender
        self.worker_id = worker_id
        self.lease_ms = lease_ms
        self.on_finished = on_finished

    # -- entry ------------------------------------------------------------------------------------

    def process(self, conn: Conn, item: Item) -> None:
        """Work on ``item`` until it is deleted, re-queued or handed to other items."""
        run = self.sql.one(conn, "load_run", run_id=item.run_id)
        fn = self.functions().get(item.fn_id)
        if run is None or run["status"] not in LIVE or fn is None:
            self.sql.run(conn, "delete_item", id=item.id)
            return
        if run["status"] == "queued":
            self.sql.run(conn, "mark_run_started", run_id=item.run_id, at=item.now())
        if item.kind == "resume" and not self._resume(conn, item):
            return
        memo = {
            r["step_key"]: MemoEntry(data=r["output"], error=r["error"], op=r["op"])
            for r in self.sql.run(conn, "load_memo", run_id=item.run_id)
        }
        state = _RunState(row=run, memo=memo)
        while self._invoke(conn, item, fn, state):
            pass

    def _invoke(self, conn: Conn, item: Item, fn: Function, state: _RunState) -> bool:
        request = CallRequest(
            event=state.row["event"],
            events=[state.row["event"]],
            steps=state.memo,
            run_id=str(item.run_id),
            attempt=item.attempt,
            max_attempts=fn.max_attempts,
            target_step=item.target_step if item.kind == "execute" else None,
            disable_immediate_execution=state.step_count >= self.limits.max_steps,
        )
        started = item.now()
        if fn.remote is not None:
            result = fn.remote(request)
        else:
            result = execute(fn.handler, request, sender=self.sender)
        ended = item.now()
        if self._fast_continue(conn, item, state, result, (started, ended)):
            return True
        finished: list[FinishedRun] = []
        with conn.transaction():
            carry_on = self._finalize(conn, item, fn, state, result, (started, ended), finished)
        if finished:  # only once committed: listeners record outcomes that really happened
            self.on_finished(finished)
        return carry_on

    def _fast_continue(
        self, conn: Conn, item: Item, state: _RunState, result: CallResult, times: tuple[datetime, datetime]
    ) -> bool:
        """The sequential hot path (a step.run succeeded on a discover item) in one round trip."""
        if not (isinstance(result, StepsReported) and len(result.ops) == 1 and item.kind == "discover"):
            return False
        op = result.ops[0]
        if op.op is not Opcode.STEP_RUN:
            return False
        size = json_size(op.data)
        if size > self.limits.max_step_output_bytes:
            return False
        row = self.sql.one(
            conn, "store_step_and_continue", run_id=item.run_id, id=item.id, step_key=op.key,
            step_id=op.display_name, hashed_id=op.hashed_id, output=jsonb(op.data),
            attempts=item.attempt + 1, attempt=item.attempt, queued_at=item.run_at, started_at=times[0],
            ended_at=times[1], worker=self.worker_id, bytes=size, lease_ms=self.lease_ms,
        )  # fmt: skip
        if row is None or row["status"] not in LIVE or row["state_size"] > self.limits.max_state_bytes:
            return False  # cancelled or over the state limit (nothing written): the general path decides
        state.row.update(step_count=row["step_count"], state_size=row["state_size"])
        state.memo[op.key] = MemoEntry(data=op.data)
        item.attempt, item.run_at = 0, row["run_at"]
        return True

    # -- resume -----------------------------------------------------------------------------------

    def _resume(self, conn: Conn, item: Item) -> bool:
        """Resolve the item's sleep/wait/invoke if nobody did; True when this item now discovers."""
        with conn.transaction():
            locked = self.sql.one(conn, "lock_run", run_id=item.run_id)
            if locked is None or locked["status"] not in LIVE:
                self.sql.run(conn, "delete_item", id=item.id)
                return False
            step_key = item.target_step or ""
            wait = self.sql.one(conn, "take_wait", run_id=item.run_id, step_key=step_key)
            if wait is not None and wait["kind"] == "invoke":
                error = {
                    "name": "InngestInvokeTimeoutError",
                    "message": "Timed out waiting for invoked function to complete",
                }
                self.dispatcher.resolve_step(conn, item.run_id, step_key, error=error)
            else:  # a sleep that is due, or a wait_for_event that timed out: both return None
                self.dispatcher.resolve_step(conn, item.run_id, step_key, output=None)
            return self._discover_if_last(conn, item, keep=True)

    def _discover_if_last(self, conn: Conn, item: Item, *, keep: bool) -> bool:
        """When this is the run's last item, it becomes the next discovery (kept or queued)."""
        if int(self.sql.scalar(conn, "count_items", run_id=item.run_id)) > 1:
            self.sql.run(conn, "delete_item", id=item.id)
            return False
        self._rearm(conn, item, kind="discover", target=None, attempt=0, keep=keep)
        if not keep:
            self.sql.notify(conn)
        return keep

    def _rearm(
        self,
        conn: Conn,
        item: Item,
        *,
        kind: str,
        target: str | None,
        attempt: int,
        keep: bool,
        delay_ms: float = 0,
    ) -> None:
        self.sql.run(
            conn, "rearm_item", id=item.id, kind=kind, target_step=target, attempt=attempt, delay_ms=delay_ms,
            keep=keep, lease_ms=self.lease_ms,
        )  # fmt: skip
        item.kind, item.target_step, item.attempt = kind, target, attempt
        item.run_at = item.now()

    # -- finalise ---------------------------------------------------------------------------------

    def _finalize(
        self,
        conn: Conn,
        item: Item,
        fn: Function,
        state: _RunState,
        result: CallResult,
        times: tuple[datetime, datetime],
        finished: list[FinishedRun],
    ) -> bool:
        locked = self.sql.one(conn, "lock_run", run_id=item.run_id)
        if locked is None or locked["status"] not in LIVE:
            # Cancelled while the step ran: the step finishes and is kept as history; nothing follows.
            if isinstance(result, StepsReported) and result.ops[0].op is Opcode.STEP_RUN:
                self._store_step(conn, item, result.ops[0], times)
            self.sql.run(conn, "delete_item", id=item.id)
            return False
        state.row.update(locked)
        if isinstance(result, FunctionDone):
            return self._complete(conn, item, result.output, finished)
        if isinstance(result, FunctionFailed):
            return self._function_failed(conn, item, fn, state, result, times, finished)
        if isinstance(result, TargetNotFound):
            return self._discover_if_last(conn, item, keep=False)
        ops = result.ops
        if len(ops) == 1 and ops[0].op.executed:
            return self._executed(conn, item, fn, state, ops[0], times, finished)
        return self._plan(conn, item, state, ops, finished)

    def _complete(self, conn: Conn, item: Item, output: Any, finished: list[FinishedRun]) -> bool:
        row = self.sql.one(
            conn, "finish_run", run_id=item.run_id, status="completed", output=jsonb(output), error=None
        )
        self.sql.run(conn, "delete_run_items", run_id=item.run_id)
        if row is not None:
            self.dispatcher.after_finish(conn, row, finished)
        return False

    def fail_run(self, conn: Conn, run_id: Any, error: dict[str, Any], finished: list[FinishedRun]) -> None:
        """End a run as failed (no retry) and announce ``inngest/function.failed``."""
        row = self.sql.one(
            conn, "finish_run", run_id=run_id, status="failed", output=None, error=jsonb(error)
        )
        self.sql.run(conn, "delete_run_items", run_id=run_id)
        self.sql.run(conn, "delete_waits", run_id=run_id)
        if row is None:
            return
        self.dispatcher.after_finish(conn, row, finished)
        data = {"error": error, "event": row["event"], "function_id": row["fn_id"], "run_id": str(run_id)}
        self.dispatcher.send(conn, [Event(name=FUNCTION_FAILED, data=data)], finished)

    def _attempt(
        self, conn: Conn, item: Item, step_key: str | None, times: tuple[datetime, datetime], error: Any
    ) -> None:
        self.sql.run(
            conn, "insert_attempt", run_id=item.run_id, step_key=step_key, attempt=item.attempt,
            queued_at=item.run_at, started_at=times[0], ended_at=times[1], ok=error is None,
            error=jsonb(error), worker=self.worker_id,
        )  # fmt: skip

    def _function_failed(
        self,
        conn: Conn,
        item: Item,
        fn: Function,
        state: _RunState,
        result: FunctionFailed,
        times: tuple[datetime, datetime],
        finished: list[FinishedRun],
    ) -> bool:
        self._attempt(conn, item, result.step_key, times, result.error)
        if result.retriable and item.attempt + 1 < fn.max_attempts:
            delay = (
                result.retry_after_ms if result.retry_after_ms is not None else self._backoff_ms(item.attempt)
            )
            self._rearm(
                conn, item, kind=item.kind, target=item.target_step, attempt=item.attempt + 1, keep=False,
                delay_ms=delay,
            )  # fmt: skip
            return False
        self.fail_run(conn, item.run_id, result.error, finished)
        return False

    def _backoff_ms(self, attempt: int) -> float:
        return max(0.0, self.backoff(attempt)) * 1000

    def _store_step(self, conn: Conn, item: Item, op: StepOp, times: tuple[datetime, datetime]) -> int:
        """Memoize an executed step; the bytes it adds (0 if it was stored already)."""
        failed = op.op is Opcode.STEP_FAILED
        stored = self.sql.one(
            conn, "insert_step", run_id=item.run_id, step_key=op.key, step_id=op.display_name,
            hashed_id=op.hashed_id, op="StepRun", status="failed" if failed else "completed",
            opts=None, output=None if failed else jsonb(op.data), error=jsonb(op.error),
            attempts=item.attempt + 1, started_at=times[0], ended_at=times[1],
        )  # fmt: skip
        self._attempt(conn, item, op.key, times, op.error)
        return 0 if stored is None else json_size(op.error if failed else op.data)

    def _executed(
        self,
        conn: Conn,
        item: Item,
        fn: Function,
        state: _RunState,
        op: StepOp,
        times: tuple[datetime, datetime],
        finished: list[FinishedRun],
    ) -> bool:
        if op.op is Opcode.STEP_ERROR:
            self._attempt(conn, item, op.key, times, op.error)
            delay = op.retry_after_ms if op.retry_after_ms is not None else self._backoff_ms(item.attempt)
            self._rearm(
                conn, item, kind=item.kind, target=item.target_step, attempt=item.attempt + 1, keep=False,
                delay_ms=delay,
            )  # fmt: skip
            return False
        op = self._check_output_size(op)
        if item.kind == "execute":
            return self._store_parallel_step(conn, item, state, op, times, finished)
        size = self._store_step(conn, item, op, times)
        bumped = self.sql.one(conn, "bump_run", run_id=item.run_id, steps=1 if size else 0, bytes=size)
        assert bumped is not None
        state.row.update(bumped)
        if bumped["state_size"] > self.limits.max_state_bytes:
            self.fail_run(conn, item.run_id, state_limit_error(self.limits.max_state_bytes), finished)
            return False
        state.memo[op.key] = MemoEntry(data=op.data, error=op.error)
        if item.kind == "discover":
            self._rearm(conn, item, kind="discover", target=None, attempt=0, keep=True)
            return True
        return self._discover_if_last(conn, item, keep=False)

    def _store_parallel_step(
        self,
        conn: Conn,
        item: Item,
        state: _RunState,
        op: StepOp,
        times: tuple[datetime, datetime],
        finished: list[FinishedRun],
    ) -> bool:
        """A targeted step is done: one statement stores it and, if it was the last, queues discovery."""
        failed = op.op is Opcode.STEP_FAILED
        row = self.sql.one(
            conn, "store_parallel_step", app_id=self.dispatcher.app_id, run_id=item.run_id, id=item.id,
            fn_id=item.fn_id, step_key=op.key,
            step_id=op.display_name, hashed_id=op.hashed_id,
            status="failed" if failed else "completed", output=None if failed else jsonb(op.data),
            error=jsonb(op.error), attempts=item.attempt + 1, attempt=item.attempt, queued_at=item.run_at,
            started_at=times[0], ended_at=times[1], worker=self.worker_id,
            bytes=json_size(op.error if failed else op.data),
            ckeys=state.row["ckeys"], climits=state.row["climits"], channel=self.sql.channel,
        )  # fmt: skip
        assert row is not None
        if row["state_size"] > self.limits.max_state_bytes:
            self.fail_run(conn, item.run_id, state_limit_error(self.limits.max_state_bytes), finished)
        return False

    def _check_output_size(self, op: StepOp) -> StepOp:
        if op.op is not Opcode.STEP_RUN or json_size(op.data) <= self.limits.max_step_output_bytes:
            return op
        error = {"name": "StepOutputTooLarge", "message": "step output size is greater than the limit"}
        return StepOp(op=Opcode.STEP_FAILED, key=op.key, display_name=op.display_name, error=error)

    # -- plans: parallel steps, sleeps, waits, invokes ---------------------------------------------

    def _plan(
        self, conn: Conn, item: Item, state: _RunState, ops: list[StepOp], finished: list[FinishedRun]
    ) -> bool:
        if state.step_count + len(ops) > self.limits.max_steps:
            self.fail_run(conn, item.run_id, step_limit_error(self.limits.max_steps), finished)
            return False
        ckeys, climits = state.row["ckeys"], state.row["climits"]
        for op in ops:
            error = self._plan_one(conn, item, op, ckeys, climits)
            if error is not None:
                self.fail_run(conn, item.run_id, error, finished)
                return False
        self.sql.run(conn, "delete_item", id=item.id)
        self.sql.notify(conn)
        return False

    def _plan_one(
        self, conn: Conn, item: Item, op: StepOp, ckeys: list[str], climits: list[int]
    ) -> dict[str, Any] | None:
        if op.op is Opcode.STEP_PLANNED:
            self._queue(conn, item, "execute", op.key, 0, ckeys, climits)
            return None
        delay_ms = self._wait_ms(op, item)
        if delay_ms > self.limits.max_sleep / timedelta(milliseconds=1):
            return {"name": "InngestErrTimeoutTooLong", "message": "timeout exceeds the maximum duration"}
        if op.op is Opcode.WAIT_FOR_EVENT and op.opts.get("if"):
            try:
                compile_expression(op.opts["if"], field_name="if_exp")
            except ValueError as exc:
                return {"name": "InvalidExpression", "message": str(exc)}
        self._waiting_step(conn, item, op)
        if op.op is Opcode.WAIT_FOR_EVENT:
            self._wait(
                conn, item, op.key, "event", delay_ms, event_name=op.opts["event"], if_exp=op.opts.get("if")
            )
        elif op.op is Opcode.INVOKE and not self._invoke_child(conn, item, op, delay_ms):
            delay_ms = 0  # the step already failed: resume at once
        self._queue(conn, item, "resume", op.key, 0, ckeys, climits, delay_ms=delay_ms)
        return None

    def _wait_ms(self, op: StepOp, item: Item) -> float:
        if op.op is Opcode.SLEEP and "until_ms" in op.opts:
            return max(0.0, float(op.opts["until_ms"]) - item.now().timestamp() * 1000)
        if op.op is Opcode.SLEEP:
            return float(op.opts["duration_ms"])
        timeout = op.opts.get("timeout_ms")
        return float(timeout) if timeout is not None else self.limits.max_sleep / timedelta(milliseconds=1)

    def _waiting_step(self, conn: Conn, item: Item, op: StepOp) -> None:
        stored = self.sql.one(
            conn, "insert_step", run_id=item.run_id, step_key=op.key, step_id=op.display_name,
            hashed_id=op.hashed_id, op=str(op.op), status="waiting", opts=jsonb(op.opts), output=None,
            error=None, attempts=1, started_at=item.now(), ended_at=None,
        )  # fmt: skip
        if stored is not None:
            self.sql.run(conn, "bump_run", run_id=item.run_id, steps=1, bytes=0)

    def _wait(
        self, conn: Conn, item: Item, step_key: str, kind: str, timeout_ms: float, *,
        event_name: str | None = None, if_exp: str | None = None, child_run_id: str | None = None,
    ) -> None:  # fmt: skip
        self.sql.run(
            conn, "insert_wait", run_id=item.run_id, step_key=step_key, kind=kind, event_name=event_name,
            if_exp=if_exp, child_run_id=child_run_id, timeout_ms=timeout_ms,
        )  # fmt: skip

    def _invoke_child(self, conn: Conn, item: Item, op: StepOp, timeout_ms: float) -> bool:
        """Start the child run and wait for it; False (the step failed) when no such function."""
        child_fn = self.functions().get(op.opts["function_id"])
        if child_fn is None:
            error = {
                "name": "FunctionNotFound",
                "message": f"could not find function {op.opts['function_id']!r}",
            }
            self.dispatcher.resolve_step(conn, item.run_id, op.key, error=error)
            return False
        event = self.dispatcher.invoked_event(op.opts.get("data") or {})
        child = self.dispatcher.create_run(conn, child_fn, event, parent=(str(item.run_id), op.key))
        self._wait(conn, item, op.key, "invoke", timeout_ms, child_run_id=child)
        return True

    def _queue(
        self, conn: Conn, item: Item, kind: str, target: str, attempt: int,
        ckeys: list[str], climits: list[int], delay_ms: float = 0,
    ) -> None:  # fmt: skip
        self.sql.run(
            conn, "insert_item", app_id=self.dispatcher.app_id, run_id=item.run_id, fn_id=item.fn_id,
            kind=kind, target_step=target, attempt=attempt, run_at=None, delay_ms=delay_ms,
            ckeys=ckeys, climits=climits,
        )  # fmt: skip
