"""Helpers shared by the router's integration tests (imported by name; tests/ has no packages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from bakeoff.router import Router

FAST_BUDGET = 0.3
"""A short submit budget so timeout tests finish quickly."""

MakeRouter = Callable[..., Router]


def key_for(router: Router, arm: str, prefix: str = "unit") -> str:
    """The first key ``{prefix}-{i}`` that the router assigns to ``arm``."""
    for i in range(10_000):
        key = f"{prefix}-{i}"
        if router.assign(key) == arm:
            return key
    raise AssertionError(f"no key of 10,000 lands in {arm}")


def rows(engine: Engine, sql: str, **params: object) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def count(engine: Engine, table: str) -> int:
    return int(rows(engine, f"SELECT count(*) AS n FROM {table}")[0].n)
