"""A registered function: its handler, trigger and flow-control options, validated at creation.

``Inngest.create_function`` builds a :class:`Function`; every CEL expression is compiled here, so a
bad expression fails when the function is created, not when the first event arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bakeoff.backends.inngest.cron import parse_cron
from bakeoff.backends.inngest.errors import InvalidFunction
from bakeoff.backends.inngest.expressions import Expression, compile_expression
from bakeoff.backends.inngest.models import (
    Cancel,
    Concurrency,
    Debounce,
    RateLimit,
    Singleton,
    Throttle,
    TriggerCron,
    TriggerEvent,
    to_timedelta,
)
from bakeoff.backends.inngest.protocol import CallRequest, CallResult
from bakeoff.backends.inngest.sdk import Context

__all__ = ["Function", "FunctionOptions", "Handler", "RemoteCall"]

Handler = Callable[[Context], Any]
RemoteCall = Callable[[CallRequest], CallResult]
"""One invocation of a function served elsewhere (an app speaking Inngest's SDK protocol over HTTP)."""
MAX_RETRIES = 20
MAX_CONCURRENCY_LIMITS = 2
MAX_CANCELLATIONS = 5
MAX_TRIGGERS = 10
DEBOUNCE_RANGE = (timedelta(seconds=1), timedelta(days=7))
THROTTLE_RANGE = (timedelta(seconds=1), timedelta(days=7))
MAX_RATE_LIMIT_PERIOD = timedelta(hours=24)
DEFAULT_RETRIES = 4


def _compile(source: str | None, field_name: str) -> Expression | None:
    return None if source is None else compile_expression(source, field_name=field_name)


def _period(value: Any, field_name: str, low: timedelta, high: timedelta) -> timedelta:
    period = to_timedelta(value, field_name=field_name)
    if not low <= period <= high:
        raise InvalidFunction(f"{field_name} must be between {low} and {high}, got {period}")
    return period


@dataclass(frozen=True, kw_only=True)
class FunctionOptions:
    """The options given to ``create_function``, validated (periods as timedeltas)."""

    retries: int = DEFAULT_RETRIES
    concurrency: tuple[Concurrency, ...] = ()
    throttle: Throttle | None = None
    rate_limit: RateLimit | None = None
    debounce: Debounce | None = None
    cancel: tuple[Cancel, ...] = ()
    idempotency: str | None = None
    name: str | None = None
    singleton: Singleton | None = None


@dataclass(frozen=True, kw_only=True)
class Function:
    """A function the client can run: ``fn_id``, handler, triggers, options, compiled expressions."""

    fn_id: str
    handler: Handler
    triggers: tuple[TriggerEvent | TriggerCron, ...]
    options: FunctionOptions
    on_failure_id: str | None = None
    expressions: dict[str, Expression | None] = field(default_factory=dict)
    remote: RemoteCall | None = None
    """Set for a function served by an app over HTTP: the executor calls this instead of ``handler``."""

    @property
    def max_attempts(self) -> int:
        return self.options.retries + 1

    def __call__(self, ctx: Context) -> Any:
        return self.handler(ctx)

    @classmethod
    def build(
        cls,
        *,
        fn_id: str,
        handler: Handler,
        trigger: TriggerEvent | TriggerCron | Sequence[TriggerEvent | TriggerCron],
        options: FunctionOptions,
        on_failure_id: str | None = None,
    ) -> Function:
        if not isinstance(fn_id, str) or not fn_id.strip():
            raise InvalidFunction("fn_id must be a non-empty string")
        triggers = tuple(trigger) if isinstance(trigger, list | tuple) else (trigger,)
        _check_triggers(triggers)
        _check_options(options)
        return cls(
            fn_id=fn_id,
            handler=handler,
            triggers=triggers,
            options=options,
            on_failure_id=on_failure_id,
            expressions=_expressions(triggers, options),
        )

    def event_names(self) -> set[str]:
        return {t.event for t in self.triggers if isinstance(t, TriggerEvent)}

    def crons(self) -> list[str]:
        return [t.cron for t in self.triggers if isinstance(t, TriggerCron)]


def _check_triggers(triggers: tuple[Any, ...]) -> None:
    if not triggers or len(triggers) > MAX_TRIGGERS:
        raise InvalidFunction(f"trigger: a function needs 1 to {MAX_TRIGGERS} triggers, got {len(triggers)}")
    for t in triggers:
        if isinstance(t, TriggerCron):
            parse_cron(t.cron)
        elif not isinstance(t, TriggerEvent) or not t.event:
            raise InvalidFunction(f"trigger must be TriggerEvent or TriggerCron, not {t!r}")


def _check_options(o: FunctionOptions) -> None:
    if not isinstance(o.retries, int) or not 0 <= o.retries <= MAX_RETRIES:
        raise InvalidFunction(f"retries must be an integer from 0 to {MAX_RETRIES}, got {o.retries!r}")
    if len(o.concurrency) > MAX_CONCURRENCY_LIMITS:
        raise InvalidFunction(
            f"concurrency: at most {MAX_CONCURRENCY_LIMITS} limits, got {len(o.concurrency)}"
        )
    for c in o.concurrency:
        if c.limit < 1:
            raise InvalidFunction(f"concurrency.limit must be at least 1, got {c.limit}")
    if len(o.cancel) > MAX_CANCELLATIONS:
        raise InvalidFunction(f"cancel: at most {MAX_CANCELLATIONS} cancellation events, got {len(o.cancel)}")
    if o.throttle is not None:
        _period(o.throttle.period, "throttle.period", *THROTTLE_RANGE)
        if o.throttle.limit < 1 or o.throttle.burst < 1:
            raise InvalidFunction("throttle.limit and throttle.burst must be at least 1")
    if o.rate_limit is not None:
        _period(o.rate_limit.period, "rate_limit.period", timedelta(seconds=1), MAX_RATE_LIMIT_PERIOD)
        if o.rate_limit.limit < 1:
            raise InvalidFunction("rate_limit.limit must be at least 1")
    if o.singleton is not None and o.singleton.mode not in ("skip", "cancel"):
        raise InvalidFunction(f"singleton.mode must be 'skip' or 'cancel', got {o.singleton.mode!r}")
    if o.debounce is not None:
        _period(o.debounce.period, "debounce.period", *DEBOUNCE_RANGE)
        if o.debounce.timeout is not None:
            to_timedelta(o.debounce.timeout, field_name="debounce.timeout")


def _expressions(triggers: tuple[Any, ...], o: FunctionOptions) -> dict[str, Expression | None]:
    found: dict[str, Expression | None] = {}
    for i, t in enumerate(triggers):
        if isinstance(t, TriggerEvent):
            found[f"trigger.{i}"] = _compile(t.expression, "trigger.expression")
    for i, c in enumerate(o.concurrency):
        found[f"concurrency.{i}"] = _compile(c.key, "concurrency.key")
    for i, cancel in enumerate(o.cancel):
        found[f"cancel.{i}"] = _compile(cancel.if_exp, "cancel.if_exp")
    found["throttle"] = _compile(o.throttle.key if o.throttle else None, "throttle.key")
    found["rate_limit"] = _compile(o.rate_limit.key if o.rate_limit else None, "rate_limit.key")
    found["debounce"] = _compile(o.debounce.key if o.debounce else None, "debounce.key")
    found["idempotency"] = _compile(o.idempotency, "idempotency")
    found["singleton"] = _compile(o.singleton.key if o.singleton else None, "singleton.key")
    return found
