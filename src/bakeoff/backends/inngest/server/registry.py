"""Apps synced over HTTP: a register payload becomes engine functions that call the app.

``POST /fn/register`` carries an app (``appname`` from the Python SDK, ``appName`` from the
TypeScript one), its URL and its functions' configurations. Each function becomes an engine
:class:`~bakeoff.backends.inngest.function.Function` keyed by its composite id (``app-fn``, the
id the SDKs use for ``invoke`` and ``on_failure``), with the engine's own validation of every
option and a ``remote`` caller in place of a handler. What the engine does not have is refused
here, naming the option, so a function never runs with a setting silently ignored.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from bakeoff.backends.inngest.errors import InngestError
from bakeoff.backends.inngest.function import Function, FunctionOptions, RemoteCall
from bakeoff.backends.inngest.models import (
    Cancel,
    Concurrency,
    Debounce,
    RateLimit,
    Singleton,
    Throttle,
    TriggerCron,
    TriggerEvent,
)
from bakeoff.backends.inngest.sdk import Context
from bakeoff.backends.inngest.server.wire import WireError, parse_time_string

__all__ = ["AppRegistry", "RegisterError", "SyncedApp", "parse_app"]

UNSUPPORTED_OPTIONS = {
    "batchEvents": "batching events (batchEvents)",
    "priority": "priority",
    "timeouts": "function timeouts (timeouts.start / timeouts.finish)",
}
RemoteFactory = Callable[[str, str], RemoteCall]
"""Builds the caller of one function from its composite id and step URL."""


class RegisterError(InngestError, ValueError):
    """A register payload the server refuses; the message names the app, function and option."""


@dataclass(frozen=True, kw_only=True)
class SyncedApp:
    """One app as last synced: where it is served and its functions by composite id."""

    app_id: str
    url: str
    sdk: str
    framework: str
    functions: Mapping[str, Function]
    config: str = field(repr=False)
    """The functions' configurations as canonical JSON: a re-sync that changes it is a modification."""


def _served_remotely(ctx: Context) -> Any:
    raise RuntimeError("this function is served by an app over HTTP; the executor calls it remotely")


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RegisterError(f"{where} must be an object, not {type(value).__name__}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RegisterError(f"{where} must be a non-empty string, not {value!r}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RegisterError(f"{where} must be an integer, not {value!r}")
    return value


def _period(value: Any, where: str) -> timedelta:
    try:
        return parse_time_string(value, field_name=where)
    except WireError as exc:
        raise RegisterError(str(exc)) from exc


def _triggers(raw: Any) -> list[TriggerEvent | TriggerCron]:
    if not isinstance(raw, list) or not raw:
        raise RegisterError("triggers must be a non-empty list")
    triggers: list[TriggerEvent | TriggerCron] = []
    for i, item in enumerate(raw):
        trigger = _dict(item, f"triggers[{i}]")
        if "cron" in trigger:
            if trigger.get("jitter"):
                raise RegisterError(f"triggers[{i}].jitter: cron jitter is not supported")
            triggers.append(TriggerCron(cron=_str(trigger["cron"], f"triggers[{i}].cron")))
            continue
        event = _str(trigger.get("event"), f"triggers[{i}].event")
        if "*" in event:
            raise RegisterError(f"triggers[{i}].event: wildcard event triggers ({event!r}) are not supported")
        expression = trigger.get("expression")
        if expression is not None:
            expression = _str(expression, f"triggers[{i}].expression")
        triggers.append(TriggerEvent(event=event, expression=expression))
    return triggers


def _concurrency(raw: Any) -> tuple[Concurrency, ...]:
    if raw is None:
        return ()
    if isinstance(raw, int) and not isinstance(raw, bool):
        return (Concurrency(limit=raw),) if raw > 0 else ()
    if not isinstance(raw, list):
        raise RegisterError("concurrency must be a number or a list of {limit, key, scope}")
    limits = []
    for i, item in enumerate(raw):
        option = _dict(item, f"concurrency[{i}]")
        scope = option.get("scope")
        if scope not in (None, "fn"):
            raise RegisterError(f"concurrency[{i}].scope {scope!r} is not supported (only 'fn')")
        limit = _int(option.get("limit"), f"concurrency[{i}].limit")
        if limit > 0:  # 0 means "no limit" in Inngest
            limits.append(Concurrency(limit=limit, key=option.get("key")))
    return tuple(limits)


def _cancel(raw: Any) -> tuple[Cancel, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RegisterError("cancel must be a list of {event, if, timeout}")
    found = []
    for i, item in enumerate(raw):
        option = _dict(item, f"cancel[{i}]")
        timeout = option.get("timeout")
        found.append(
            Cancel(
                event=_str(option.get("event"), f"cancel[{i}].event"),
                if_exp=option.get("if"),
                timeout=None if timeout is None else _period(timeout, f"cancel[{i}].timeout"),
            )
        )
    return tuple(found)


def _options(config: dict[str, Any], retries: int | None) -> FunctionOptions:
    throttle = config.get("throttle")
    rate = config.get("rateLimit")
    debounce = config.get("debounce")
    idempotency = config.get("idempotency")
    singleton = config.get("singleton")
    return FunctionOptions(
        retries=4 if retries is None else retries,
        concurrency=_concurrency(config.get("concurrency")),
        throttle=None
        if throttle is None
        else Throttle(
            limit=_int(_dict(throttle, "throttle").get("limit"), "throttle.limit"),
            period=_period(throttle.get("period"), "throttle.period"),
            key=throttle.get("key"),
            burst=_int(throttle.get("burst") or 1, "throttle.burst"),
        ),
        rate_limit=None
        if rate is None
        else RateLimit(
            limit=_int(_dict(rate, "rateLimit").get("limit"), "rateLimit.limit"),
            period=_period(rate.get("period"), "rateLimit.period"),
            key=rate.get("key"),
        ),
        debounce=None
        if debounce is None
        else Debounce(
            period=_period(_dict(debounce, "debounce").get("period"), "debounce.period"),
            key=debounce.get("key"),
            timeout=None
            if debounce.get("timeout") is None
            else _period(debounce["timeout"], "debounce.timeout"),
        ),
        cancel=_cancel(config.get("cancel")),
        idempotency=None if idempotency is None else _str(idempotency, "idempotency"),
        name=config.get("name") if isinstance(config.get("name"), str) else None,
        singleton=None
        if singleton is None
        else Singleton(mode=str(_dict(singleton, "singleton").get("mode")), key=singleton.get("key")),
    )


def _step(config: dict[str, Any]) -> tuple[str, int | None]:
    """The function's call URL and retry count, from its single ``step`` entry."""
    steps = _dict(config.get("steps"), "steps")
    if not steps:
        raise RegisterError("steps must name the function's step and its runtime URL")
    step = _dict(next(iter(steps.values())), "steps.step")
    runtime = _dict(step.get("runtime"), "steps.step.runtime")
    if runtime.get("type", "http") != "http":
        raise RegisterError(
            f"steps.step.runtime.type {runtime.get('type')!r}: Connect (WebSocket workers) is not "
            "supported by bakeoff inngest serve; serve the app over HTTP"
        )
    url = _str(runtime.get("url"), "steps.step.runtime.url")
    if not url.startswith(("http://", "https://")):
        raise RegisterError(f"steps.step.runtime.url must be an http(s) URL, not {url!r}")
    retries = step.get("retries")
    attempts = (
        None if retries is None else _int(_dict(retries, "retries").get("attempts"), "retries.attempts")
    )
    return url, attempts


def _function(config: dict[str, Any], remote: RemoteFactory) -> Function:
    fn_id = _str(config.get("id"), "id")
    try:
        for option, what in UNSUPPORTED_OPTIONS.items():
            if config.get(option) is not None:
                raise RegisterError(f"{option}: {what} is not supported by bakeoff inngest serve")
        url, retries = _step(config)
        built = Function.build(
            fn_id=fn_id,
            handler=_served_remotely,
            trigger=_triggers(config.get("triggers")),
            options=_options(config, retries),
        )
    except (InngestError, ValueError, TypeError) as exc:
        raise RegisterError(f"function {fn_id!r}: {exc}") from exc
    return replace(built, remote=remote(fn_id, url))


def parse_app(payload: Any, remote: RemoteFactory) -> SyncedApp:
    """Validate a register payload and build its functions; raises :class:`RegisterError`."""
    body = _dict(payload, "the register payload")
    app_id = _str(body.get("appname", body.get("appName")), "appname")
    functions = body.get("functions")
    if not isinstance(functions, list) or not functions:
        raise RegisterError(f"app {app_id!r}: functions must be a non-empty list")
    built: dict[str, Function] = {}
    for i, raw in enumerate(functions):
        try:
            fn = _function(_dict(raw, f"functions[{i}]"), remote)
        except RegisterError as exc:
            raise RegisterError(f"app {app_id!r}: {exc}") from exc
        if fn.fn_id in built:
            raise RegisterError(f"app {app_id!r}: function id {fn.fn_id!r} appears twice")
        built[fn.fn_id] = fn
    return SyncedApp(
        app_id=app_id,
        url=_str(body.get("url"), "url"),
        sdk=str(body.get("sdk") or ""),
        framework=str(body.get("framework") or ""),
        functions=built,
        config=json.dumps(functions, sort_keys=True, default=str),
    )


class AppRegistry:
    """The synced apps; every change publishes a new functions dict (readers never see a half-update)."""

    def __init__(self, publish: Callable[[dict[str, Function]], None]) -> None:
        self._publish = publish
        self._apps: dict[str, SyncedApp] = {}
        self._lock = threading.Lock()

    def sync(self, app: SyncedApp) -> bool:
        """Add or replace an app's functions; True when this changed what is registered."""
        with self._lock:
            taken = {
                fn_id: other.app_id
                for other in self._apps.values()
                if other.app_id != app.app_id
                for fn_id in other.functions
            }
            clash = sorted(set(app.functions) & set(taken))
            if clash:
                raise RegisterError(
                    f"app {app.app_id!r}: function id {clash[0]!r} is already registered by app "
                    f"{taken[clash[0]]!r}"
                )
            previous = self._apps.get(app.app_id)
            self._apps[app.app_id] = app
            self._publish({fn_id: fn for a in self._apps.values() for fn_id, fn in a.functions.items()})
        return previous is None or previous.config != app.config or previous.url != app.url

    def apps(self) -> list[SyncedApp]:
        with self._lock:
            return list(self._apps.values())

    def app_of(self, fn_id: str) -> SyncedApp | None:
        with self._lock:
            return next((a for a in self._apps.values() if fn_id in a.functions), None)
