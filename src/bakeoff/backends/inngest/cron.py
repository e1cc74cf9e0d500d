"""Cron triggers: ``"TZ=Europe/Paris 0 12 * * 5"`` parsed and stepped with croniter in that zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from bakeoff.backends.inngest.errors import InvalidFunction

__all__ = ["next_fire", "parse_cron"]


def parse_cron(spec: str) -> tuple[ZoneInfo, str]:
    """Split an optional ``TZ=<zone>`` prefix from the cron expression; validate both."""
    text = spec.strip()
    zone_name = "UTC"
    if text.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, text = text.partition(" ")
        zone_name = prefix.split("=", 1)[1]
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidFunction(f"cron has an unknown time zone {zone_name!r}") from exc
    if not croniter.is_valid(text.strip()):
        raise InvalidFunction(f"cron {spec!r} is not a valid cron expression")
    return zone, text.strip()


def next_fire(spec: str, after: datetime) -> datetime:
    """The first fire time of ``spec`` strictly after ``after`` (an aware datetime), in UTC terms."""
    zone, expression = parse_cron(spec)
    local = after.astimezone(zone)
    fire: datetime = croniter(expression, local).get_next(datetime)
    return fire.astimezone(ZoneInfo("UTC"))
