"""``pyformat`` (no SQLAlchemy, for the spawned legacy child) matches SQLAlchemy's compile on every query."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

import bakeoff
from bakeoff.db.sql import load_queries, pyformat

PACKAGE_ROOT = Path(bakeoff.__file__).parent
QUERY_PACKAGES = sorted(
    ".".join(("bakeoff", *path.parent.relative_to(PACKAGE_ROOT).parts))
    for path in PACKAGE_ROOT.rglob("queries.sql")
)


def sqlalchemy_pyformat(sql: str) -> str:
    """How SQLAlchemy itself compiles ``text(sql)`` for psycopg: the reference pyformat must match."""
    return str(text(sql).compile(dialect=psycopg_dialect.dialect()))


def test_every_part_has_queries() -> None:
    assert len(QUERY_PACKAGES) >= 5


@pytest.mark.parametrize("package", QUERY_PACKAGES)
def test_pyformat_matches_sqlalchemy_on_every_named_query(package: str) -> None:
    for name, sql in load_queries(package).items():
        assert pyformat(sql) == sqlalchemy_pyformat(sql), name


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT :a::int, '50%' LIKE :b",
        r"SELECT '\:literal', :x, CAST(:y AS jsonb), array[:z]",
        "UPDATE t SET v = :value WHERE id = :id AND v <> :value",
    ],
)
def test_pyformat_edge_cases_match_sqlalchemy(sql: str) -> None:
    assert pyformat(sql) == sqlalchemy_pyformat(sql)
