"""Events in, runs out: de-duplication, trigger matching, flow control, waits and cancellation.

``send`` runs inside the sender's transaction, so an event, the runs it starts and the waits it
resolves commit together (the router's exposure row included, when the adapter sends). Flow control
is decided here, at trigger time, with GCRA state rows (``flow_state``) and advisory locks:

- rate limit and idempotency: no run (the event is kept);
- throttle: the run is queued to start later, never dropped;
- debounce: one pending run per key whose start moves back with each event and takes the last one;
- concurrency: keys are evaluated now and stored on the run; the claim query enforces them.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bakeoff.backends.inngest.errors import InvalidEvent
from bakeoff.backends.inngest.expressions import compile_expression
from bakeoff.backends.inngest.function import Function
from bakeoff.backends.inngest.models import Event, Limits, RunStatus, TriggerEvent, to_timedelta
from bakeoff.backends.inngest.store import Conn, Sql, json_size, jsonb

__all__ = ["Dispatcher", "FinishedRun", "SentEvent"]

logger = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
FUNCTION_FAILED = "inngest/function.failed"
FUNCTION_CANCELLED = "inngest/function.cancelled"
FUNCTION_INVOKED = "inngest/function.invoked"


def _ms(value: Any, field_name: str) -> int:
    return int(to_timedelta(value, field_name=field_name) / timedelta(milliseconds=1))


@dataclass(frozen=True, kw_only=True)
class SentEvent:
    event_id: str
    duplicate: bool
    run_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FinishedRun:
    """A run that reached a terminal status (handed to run listeners after commit)."""

    run_id: str
    fn_id: str
    status: RunStatus
    output: Any
    error: dict[str, Any] | None
    event: Event

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FinishedRun:
        return cls(
            run_id=str(row["run_id"]),
            fn_id=row["fn_id"],
            status=RunStatus(row["status"]),
            output=row["output"],
            error=row["error"],
            event=Event.from_dict(row["event"]),
        )


class Dispatcher:
    """Turns events into runs for the functions of one app, inside the caller's transaction."""

    def __init__(
        self, sql: Sql, app_id: str, functions: Callable[[], Mapping[str, Function]], limits: Limits
    ) -> None:
        self.sql = sql
        self.app_id = app_id
        self.functions = functions
        self.limits = limits

    # -- events -----------------------------------------------------------------------------------

    def send(self, conn: Conn, events: list[Event], finished: list[FinishedRun]) -> list[SentEvent]:
        """Store events and start what they trigger; ``finished`` collects runs they cancelled."""
        if len(events) > self.limits.max_events_per_send:
            raise InvalidEvent(
                f"events: {len(events)} in one send; the limit is {self.limits.max_events_per_send}"
            )
        now_ms = int(time.time() * 1000)
        stamped = [self._checked(e.with_defaults(now_ms), user_id=bool(e.id)) for e in events]
        sent = [self._send_one(conn, event, user_id, finished) for event, user_id in stamped]
        if any(s.run_ids for s in sent):
            self.sql.notify(conn)
        return sent

    def _checked(self, event: Event, *, user_id: bool) -> tuple[Event, bool]:
        # Strict JSON first: data PostgreSQL's jsonb cannot store (objects, NaN) is the caller's error,
        # found before any event of the send is written.
        try:
            json.dumps(event.data, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidEvent(f"event {event.name!r} data is not JSON-serialisable: {exc}") from exc
        size = json_size(event.to_dict())
        if size > self.limits.max_event_bytes:
            raise InvalidEvent(
                f"event {event.name!r} is {size} bytes; the event size limit is {self.limits.max_event_bytes}"
            )
        return event, user_id

    def _send_one(self, conn: Conn, event: Event, user_id: bool, finished: list[FinishedRun]) -> SentEvent:
        duplicate = user_id and not self._take(conn, f"event:{event.id}", DAY_MS, 0)
        self.sql.run(
            conn, "insert_event", id=event.id, name=event.name, data=jsonb(event.data), ts=event.ts,
            duplicate=duplicate,
        )  # fmt: skip
        if duplicate:
            logger.info("event %s seen within 24 h: stored, triggers nothing", event.id)
            return SentEvent(event_id=event.id, duplicate=True, run_ids=())
        payload = event.to_dict()
        self._resolve_waits(conn, payload)
        self._cancel_matching(conn, payload, finished)
        run_ids = [
            run_id
            for fn in self.functions().values()
            if self._triggers(fn, payload)
            for run_id in [self._trigger(conn, fn, payload, finished)]
            if run_id
        ]
        return SentEvent(event_id=event.id, duplicate=False, run_ids=tuple(run_ids))

    @staticmethod
    def _triggers(fn: Function, event: dict[str, Any]) -> bool:
        for i, trigger in enumerate(fn.triggers):
            if isinstance(trigger, TriggerEvent) and trigger.event == event["name"]:
                expression = fn.expressions.get(f"trigger.{i}")
                if expression is None or expression.matches(event=event):
                    return True
        return False

    # -- flow control -----------------------------------------------------------------------------

    def _take(self, conn: Conn, key: str, interval_ms: float, tolerance_ms: float) -> bool:
        row = self.sql.one(
            conn, "take_flow_slot", key=key, interval_ms=interval_ms, tolerance_ms=tolerance_ms
        )
        return row is not None

    def _key(self, fn: Function, name: str, event: dict[str, Any]) -> str:
        expression = fn.expressions.get(name)
        return expression.key(event=event) if expression is not None else ""

    def _trigger(
        self, conn: Conn, fn: Function, event: dict[str, Any], finished: list[FinishedRun]
    ) -> str | None:
        o = fn.options
        if o.rate_limit is not None:
            period = _ms(o.rate_limit.period, "rate_limit.period")
            interval = period / o.rate_limit.limit
            key = f"rate:{fn.fn_id}:{self._key(fn, 'rate_limit', event)}"
            if not self._take(conn, key, interval, period - interval):
                logger.info("rate limit: event %s starts no run of %s", event["id"], fn.fn_id)
                return None
        if o.idempotency is not None:
            key = f"idem:{fn.fn_id}:{self._key(fn, 'idempotency', event)}"
            if not self._take(conn, key, DAY_MS, 0):
                logger.info("idempotency: event %s starts no run of %s", event["id"], fn.fn_id)
                return None
        if o.singleton is not None and not self._singleton(conn, fn, event, finished):
            return None
        if o.debounce is not None:
            return self._debounce(conn, fn, event)
        start_at = self._throttle_start(conn, fn, event) if o.throttle is not None else None
        return self.create_run(conn, fn, event, start_at=start_at)

    def _singleton(
        self, conn: Conn, fn: Function, event: dict[str, Any], finished: list[FinishedRun]
    ) -> bool:
        """Inngest's singleton: False (skip) while a run of the key is live, or cancel that run."""
        singleton = fn.options.singleton
        assert singleton is not None
        key = self._key(fn, "singleton", event)
        self.sql.run(conn, "lock_key", key=f"singleton:{fn.fn_id}:{key}")
        live = [
            run["run_id"]
            for run in self.sql.run(
                conn, "active_runs_of_function", app_id=self.app_id, fn_id=fn.fn_id, since_ms=None
            )
            if self._key(fn, "singleton", run["event"]) == key
        ]
        if live and singleton.mode == "skip":
            logger.info("singleton: event %s starts no run of %s (one is live)", event["id"], fn.fn_id)
            return False
        for run_id in live:
            self.cancel_run(conn, run_id, finished, reason=f"cancelled by singleton event {event['id']}")
        return True

    def _throttle_start(self, conn: Conn, fn: Function, event: dict[str, Any]) -> datetime | None:
        throttle = fn.options.throttle
        assert throttle is not None
        interval = _ms(throttle.period, "throttle.period") / throttle.limit
        key = f"throttle:{fn.fn_id}:{self._key(fn, 'throttle', event)}"
        start: datetime | None = self.sql.scalar(
            conn,
            "throttle_start",
            key=key,
            interval_ms=interval,
            tolerance_ms=(throttle.burst - 1) * interval,
        )
        return start

    def _debounce(self, conn: Conn, fn: Function, event: dict[str, Any]) -> str:
        debounce = fn.options.debounce
        assert debounce is not None
        period = _ms(debounce.period, "debounce.period")
        timeout = _ms(debounce.timeout, "debounce.timeout") if debounce.timeout is not None else 7 * DAY_MS
        key = f"debounce:{fn.fn_id}:{self._key(fn, 'debounce', event)}"
        self.sql.run(conn, "lock_key", key=key)
        pushed = self.sql.one(conn, "debounce_push", key=key, period_ms=period, timeout_ms=timeout)
        if pushed is not None:
            self.sql.run(
                conn, "debounce_replace_event", run_id=pushed["run_id"], event=jsonb(event),
                event_id=event["id"], run_at=pushed["run_at"],
            )  # fmt: skip
            return str(pushed["run_id"])
        run_id = self.create_run(conn, fn, event, delay_ms=period)
        self.sql.run(conn, "debounce_set", key=key, run_id=run_id)
        return run_id

    # -- runs -------------------------------------------------------------------------------------

    def create_run(
        self,
        conn: Conn,
        fn: Function,
        event: dict[str, Any],
        *,
        start_at: datetime | None = None,
        delay_ms: float = 0,
        parent: tuple[str, str] | None = None,
    ) -> str:
        """A queued run of ``fn`` for ``event`` with its first invocation item; returns the run id."""
        run_id = str(uuid.uuid4())
        ckeys, climits = self._concurrency(fn, event)
        self.sql.run(
            conn, "insert_run", run_id=run_id, app_id=self.app_id, fn_id=fn.fn_id, event_id=event.get("id"),
            event=jsonb(event), ckeys=ckeys, climits=climits, parent_run_id=parent[0] if parent else None,
            parent_step=parent[1] if parent else None, state_size=json_size(event), start_at=start_at,
            delay_ms=delay_ms,
        )  # fmt: skip
        self.sql.run(
            conn, "insert_item", app_id=self.app_id, run_id=run_id, fn_id=fn.fn_id, kind="discover",
            target_step=None, attempt=0, run_at=start_at, delay_ms=delay_ms, ckeys=ckeys, climits=climits,
        )  # fmt: skip
        return run_id

    def _concurrency(self, fn: Function, event: dict[str, Any]) -> tuple[list[str], list[int]]:
        keys, limits = [], []
        for i, c in enumerate(fn.options.concurrency):
            keys.append(f"concurrency:{fn.fn_id}:{i}:{self._key(fn, f'concurrency.{i}', event)}")
            limits.append(c.limit)
        return keys, limits

    # -- waits and cancellation -------------------------------------------------------------------

    def _resolve_waits(self, conn: Conn, event: dict[str, Any]) -> None:
        for wait in self.sql.run(conn, "waits_for_event", name=event["name"]):
            condition = compile_expression(wait["if_exp"]) if wait["if_exp"] else None
            if condition is not None and not condition.matches(event=wait["event"], **{"async": event}):
                continue
            if self.sql.one(conn, "take_wait", run_id=wait["run_id"], step_key=wait["step_key"]):
                self.resolve_step(conn, wait["run_id"], wait["step_key"], output=event)

    def resolve_step(
        self,
        conn: Conn,
        run_id: Any,
        step_key: str,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        """Complete a waiting step (or fail it with ``error``) and make its run's resume item due."""
        resolved = self.sql.one(
            conn, "resolve_waiting_step", run_id=run_id, step_key=step_key,
            status="failed" if error else "completed", output=jsonb(output), error=jsonb(error),
        )  # fmt: skip
        if resolved is None:
            return
        self.sql.run(
            conn, "add_state_size", run_id=run_id, bytes=json_size(output if error is None else error)
        )
        self.sql.run(conn, "wake_resume_item", run_id=run_id, step_key=step_key)
        self.sql.notify(conn)

    def _cancel_matching(self, conn: Conn, event: dict[str, Any], finished: list[FinishedRun]) -> None:
        for fn in self.functions().values():
            for i, cancel in enumerate(fn.options.cancel):
                if cancel.event != event["name"]:
                    continue
                since = _ms(cancel.timeout, "cancel.timeout") if cancel.timeout is not None else None
                expression = fn.expressions.get(f"cancel.{i}")
                for run in self.sql.run(
                    conn, "active_runs_of_function", app_id=self.app_id, fn_id=fn.fn_id, since_ms=since
                ):
                    if expression is None or expression.matches(event=run["event"], **{"async": event}):
                        self.cancel_run(
                            conn, run["run_id"], finished, reason=f"cancelled by event {event['id']}"
                        )

    def cancel_run(self, conn: Conn, run_id: Any, finished: list[FinishedRun], *, reason: str) -> bool:
        """Cancel a run that has not ended; an executing step finishes, nothing after it runs."""
        error = {"name": "FunctionCancelled", "message": reason}
        row = self.sql.one(conn, "cancel_run", run_id=run_id, error=jsonb(error))
        if row is None:
            return False
        self.sql.run(conn, "delete_idle_items", run_id=run_id)
        self.sql.run(conn, "delete_waits", run_id=run_id)
        self.after_finish(conn, row, finished)
        data = {"function_id": row["fn_id"], "run_id": str(run_id), "event": row["event"]}
        self.send(conn, [Event(name=FUNCTION_CANCELLED, data=data)], finished)
        return True

    def after_finish(self, conn: Conn, row: dict[str, Any], finished: list[FinishedRun]) -> None:
        """A run ended: resolve a parent's invoke step with its output or error; note it for listeners."""
        done = FinishedRun.from_row(row)
        finished.append(done)
        parent = self.sql.one(conn, "take_invoke_wait", child_run_id=row["run_id"])
        if parent is None:
            return
        if done.status is RunStatus.COMPLETED:
            self.resolve_step(conn, parent["run_id"], parent["step_key"], output=done.output)
        else:
            error = dict(done.error or {"name": "Error", "message": f"invoked run {done.status}"})
            self.resolve_step(conn, parent["run_id"], parent["step_key"], error=error)

    def invoked_event(self, data: dict[str, Any]) -> dict[str, Any]:
        return Event(name=FUNCTION_INVOKED, data=data).with_defaults(int(time.time() * 1000)).to_dict()
