"""Jinja2 filters that format the dashboard's numbers, times and JSON the same way on every page."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment

__all__ = ["install"]


def ms(value: float | None) -> str:
    """A duration in ms, as ms below 10 s and as seconds above."""
    if value is None:
        return "-"
    return f"{value:,.0f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"


def pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def ci_ms(interval: Sequence[float] | None) -> str:
    return "-" if interval is None else f"{ms(interval[0])} to {ms(interval[1])}"


def ci_pct(interval: Sequence[float] | None) -> str:
    return "-" if interval is None else f"{pct(interval[0])} to {pct(interval[1])}"


def when(value: datetime | None) -> str:
    """A timestamp in UTC to the millisecond."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def embed_json(value: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` (no ``</`` can end the element)."""
    return json.dumps(value, default=str).replace("<", "\\u003c")


def install(env: Environment) -> None:
    env.filters.update(
        ms=ms, pct=pct, ci_ms=ci_ms, ci_pct=ci_pct, when=when, pretty_json=pretty_json, embed_json=embed_json
    )
