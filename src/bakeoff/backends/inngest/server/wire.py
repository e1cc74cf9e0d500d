"""Values on the wire of Inngest's SDK protocol: time strings, ``Retry-After``, errors, events.

Inngest's SDKs send durations as Go-style time strings (``"1500ms"``, ``"2h45m"``, ``"1d"``),
a sleep's end as an ISO 8601 instant, ``Retry-After`` as seconds, an ISO 8601 instant (the Python
SDK) or an HTTP-date, and errors as ``{name, message, stack}``. Everything here turns those into
plain values, or raises :class:`WireError` naming what was wrong.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from bakeoff.backends.inngest.errors import InngestError
from bakeoff.backends.inngest.models import Event
from bakeoff.backends.inngest.sdk import retry_after_ms

__all__ = [
    "WireError",
    "error_payload",
    "parse_event",
    "parse_instant",
    "parse_retry_after",
    "parse_time_string",
]

_UNITS_MS = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "ms": 1.0,
    "s": 1000.0,
    "m": 60_000.0,
    "h": 3_600_000.0,
    "d": 86_400_000.0,
    "w": 604_800_000.0,
}
_TIME_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)")


class WireError(InngestError, ValueError):
    """A value from an SDK or a client does not have the shape the protocol gives it."""


def parse_time_string(value: Any, *, field_name: str) -> timedelta:
    """A Time String (SDK spec 1.3.2: ``"300ms"``, ``"2h45m"``, ``"1d"``) or integer ms."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(milliseconds=value)
    if not isinstance(value, str) or not value:
        raise WireError(f"{field_name} must be a time string such as '30s' or '1h', not {value!r}")
    pos, total = 0, 0.0
    for match in _TIME_PART.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS_MS[match.group(2)]
        pos = match.end()
    if pos != len(value):
        raise WireError(f"{field_name} must be a time string such as '30s' or '1h', not {value!r}")
    return timedelta(milliseconds=total)


def parse_instant(value: str) -> datetime | None:
    """An ISO 8601 instant (naive ones are UTC), or None when ``value`` is not one."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_retry_after(value: str | None) -> int | None:
    """``Retry-After`` in ms, clamped to Inngest's [1 s, 24 h]; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return retry_after_ms(int(text) * 1000)
    when = parse_instant(text)
    if when is None:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return retry_after_ms(when)


def error_payload(body: Any, *, default_name: str = "Error") -> dict[str, Any]:
    """An SDK's error body with string ``name`` and ``message`` (what a memoized step error needs)."""
    if isinstance(body, dict):
        name = body.get("name")
        message = body.get("message")
        # Other fields (the Python SDK's ``code``) are kept: the dev server shows the whole body.
        error: dict[str, Any] = {k: v for k, v in body.items() if v is not None}
        error["name"] = name if isinstance(name, str) and name else default_name
        error["message"] = message if isinstance(message, str) else str(message or body.get("error") or "")
        return error
    return {"name": default_name, "message": str(body)}


def parse_event(raw: Any, index: int) -> Event:
    """One event of a ``POST /e/{key}`` body; raises :class:`WireError` naming the bad field."""
    where = f"event {index}"
    if not isinstance(raw, dict):
        raise WireError(f"{where} must be a JSON object, not {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise WireError(f"{where}: 'name' must be a non-empty string")
    data = raw.get("data")
    if data is not None and not isinstance(data, dict):
        raise WireError(f"{where}: 'data' must be an object, not {type(data).__name__}")
    event_id = raw.get("id")
    if event_id is not None and not isinstance(event_id, str):
        raise WireError(f"{where}: 'id' must be a string")
    ts = raw.get("ts")
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int) or ts < 0):
        raise WireError(f"{where}: 'ts' must be a non-negative integer of milliseconds")
    return Event(name=name, data=data or {}, id=event_id or "", ts=ts or 0)
