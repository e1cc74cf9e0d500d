"""pg-boss's argument rules (its ``attorney``), and the JSON payloads its SQL functions read.

Messages are pg-boss's own with option names in snake_case, so a team that knows pg-boss's errors
recognises ours. Payload keys stay camelCase: they are the column names of pg-boss's
``json_to_recordset`` inserts and the option keys of its ``create_queue`` function.
"""

from __future__ import annotations

import json
import math
import re
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from bakeoff.backends.pgboss.errors import PgBossInputError
from bakeoff.backends.pgboss.models import POLICIES

__all__ = [
    "JOB_OPTION_NAMES",
    "QUEUE_OPTION_NAMES",
    "camel_options",
    "check_queue_name",
    "debounce_start_after",
    "dumps",
    "job_payload",
    "output_json",
    "queue_payload",
    "snake_options",
]

_QUEUE_NAME = re.compile(r"^[\w.\-/]+$")
DAY_SECONDS: Final = 86_400

QUEUE_OPTION_NAMES: Final = frozenset(
    {
        "policy",
        "partition",
        "retry_limit",
        "retry_delay",
        "retry_backoff",
        "retry_delay_max",
        "expire_in_seconds",
        "retention_seconds",
        "delete_after_seconds",
        "heartbeat_seconds",
        "dead_letter",
        "notify",
        "warning_queue_size",
    }
)
JOB_OPTION_NAMES: Final = frozenset(
    {
        "priority",
        "id",
        "start_after",
        "retry_limit",
        "retry_delay",
        "retry_backoff",
        "retry_delay_max",
        "expire_in_seconds",
        "heartbeat_seconds",
        "retention_seconds",
        "delete_after_seconds",
        "singleton_key",
        "singleton_seconds",
        "singleton_next_slot",
        "dead_letter",
        "group_id",
        "group_tier",
    }
)
_CAMEL: Final = {
    "retry_limit": "retryLimit",
    "retry_delay": "retryDelay",
    "retry_backoff": "retryBackoff",
    "retry_delay_max": "retryDelayMax",
    "expire_in_seconds": "expireInSeconds",
    "retention_seconds": "retentionSeconds",
    "delete_after_seconds": "deleteAfterSeconds",
    "heartbeat_seconds": "heartbeatSeconds",
    "dead_letter": "deadLetter",
    "warning_queue_size": "warningQueueSize",
    "singleton_key": "singletonKey",
    "singleton_seconds": "singletonSeconds",
    "group_id": "groupId",
    "group_tier": "groupTier",
    "start_after": "startAfter",
}


def camel_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options with pg-boss's camelCase keys, as pg-boss stores them (schedule rows)."""
    return {_CAMEL.get(key, key): value for key, value in options.items()}


def snake_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The reverse of :func:`camel_options`."""
    snake = {camel: key for key, camel in _CAMEL.items()}
    return {snake.get(key, key): value for key, value in options.items()}


def _fail(message: str) -> PgBossInputError:
    return PgBossInputError(message)


def check_queue_name(name: object) -> str:
    """pg-boss's queue-name rule (``assertQueueName``)."""
    if name is None or name == "":
        raise _fail("Name is required")
    if not isinstance(name, str):
        raise _fail("Name must be a string")
    if not _QUEUE_NAME.match(name):
        raise _fail(
            "Name can only contain alphanumeric characters, underscores, hyphens, periods, or forward slashes"
        )
    return name


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(options: Mapping[str, Any], key: str, minimum: int, message: str) -> None:
    if key in options and options[key] is not None:
        value = options[key]
        if not _is_int(value) or value < minimum:
            raise _fail(message)


def _check_retry(options: Mapping[str, Any]) -> None:
    _check_int(options, "retry_limit", 0, "retry_limit must be an integer >= 0")
    _check_int(options, "retry_delay", 0, "retry_delay must be an integer >= 0")
    backoff = options.get("retry_backoff")
    if backoff is not None and not isinstance(backoff, bool):
        raise _fail("retry_backoff must be either true or false")
    _check_int(options, "retry_delay_max", 0, "retry_delay_max must be an integer >= 0")
    if options.get("retry_delay_max") is not None and backoff is not True:
        raise _fail("retry_delay_max can only be set if retry_backoff is true")


def _check_expiry_and_retention(options: Mapping[str, Any]) -> None:
    expire = options.get("expire_in_seconds")
    if expire is not None:
        if not isinstance(expire, int | float) or isinstance(expire, bool) or expire < 1:
            raise _fail("configuration assert: expire_in_seconds must be at least every second")
        if expire >= DAY_SECONDS:
            raise _fail("configuration assert: expiration cannot exceed 24 hours")
    _check_int(
        options,
        "retention_seconds",
        1,
        "configuration assert: retention_seconds must be at least every second",
    )
    _check_int(
        options,
        "delete_after_seconds",
        0,
        "configuration assert: delete_after_seconds must be at least 0 (0 disables deletion)",
    )
    _check_int(options, "heartbeat_seconds", 10, "heartbeat_seconds must be an integer >= 10")


def _check_known(options: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise _fail(f"unknown option(s): {', '.join(unknown)}")


def queue_payload(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate queue options; return the JSON object pg-boss's ``create_queue`` function reads."""
    _check_known(options, QUEUE_OPTION_NAMES)
    policy = options.get("policy", "standard")
    if policy not in POLICIES:
        raise _fail(f"{policy} is not a valid queue policy")
    _check_retry(options)
    _check_expiry_and_retention(options)
    dead_letter = options.get("dead_letter")
    if dead_letter is not None:
        if not isinstance(dead_letter, str):
            raise _fail("dead_letter must be a string")
        check_queue_name(dead_letter)
        if dead_letter == name:
            raise _fail("dead_letter cannot be itself")
    payload: dict[str, Any] = {"policy": policy}
    for key, value in options.items():
        if key != "policy":
            payload[_CAMEL.get(key, key)] = value
    return payload


def _start_after_text(value: object) -> str:
    """seconds | ISO string | datetime -> the text pg-boss's insert turns into start_after."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if _is_int(value) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    raise _fail("start_after must be a number of seconds, an ISO 8601 string or a datetime")


def _check_job_options(options: Mapping[str, Any]) -> None:
    _check_known(options, JOB_OPTION_NAMES)
    priority = options.get("priority")
    if priority is not None and not _is_int(priority):
        raise _fail("priority must be an integer")
    _check_retry(options)
    _check_expiry_and_retention(options)
    _check_int(options, "singleton_seconds", 1, "singleton_seconds must be an integer >= 1")
    for key in ("singleton_key", "dead_letter", "group_id", "group_tier", "id"):
        value = options.get(key)
        if value is not None and not isinstance(value, str):
            raise _fail(f"{key} must be a string")


def job_payload(data: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate job options; return one element of pg-boss's ``json_to_recordset`` insert."""
    _check_job_options(options)
    payload: dict[str, Any] = {"data": data}
    for key, value in options.items():
        if value is None or key == "singleton_next_slot":
            continue
        payload[_CAMEL.get(key, key)] = _start_after_text(value) if key == "start_after" else value
    return payload


def dumps(value: Any, *, field: str = "data") -> str:
    """JSON text of ``value``; a value JSON cannot carry is a :class:`PgBossInputError` naming ``field``."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise _fail(f"{field} must be JSON-serialisable: {exc}") from exc


def output_json(value: Any) -> str | None:
    """pg-boss's output rule: None stays NULL, objects are stored as-is, anything else as ``{"value": x}``."""
    if value is None or (callable(value) and not isinstance(value, BaseException)):
        return None
    if isinstance(value, BaseException):
        return dumps(_serialise_error(value), field="output")
    if isinstance(value, Mapping):
        return dumps(dict(value), field="output")
    return dumps({"value": value}, field="output")


def _serialise_error(exc: BaseException) -> dict[str, Any]:
    """What ``serialize-error`` keeps of an Error: name, message, stack, plus plain attributes."""
    error: dict[str, Any] = {
        "name": type(exc).__name__,
        "message": str(exc),
        "stack": "".join(traceback.format_exception(exc)),
    }
    for key, value in vars(exc).items() if hasattr(exc, "__dict__") else ():
        if not key.startswith("_") and isinstance(value, str | int | float | bool | type(None)):
            error.setdefault(key, value)
    return error


def debounce_start_after(singleton_seconds: int, now_ms: float) -> int:
    """Seconds until the next throttle slot, as pg-boss's ``getDebounceStartAfter`` computes them."""
    interval_ms = singleton_seconds * 1000
    slot = math.floor(now_ms / interval_ms) * interval_ms
    start_after = (singleton_seconds - math.floor((now_ms - slot) / 1000)) or 1
    if singleton_seconds > 1:
        start_after += 1
    return int(start_after)
