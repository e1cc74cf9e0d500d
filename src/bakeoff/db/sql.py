"""Named SQL queries loaded from a ``queries.sql`` file that sits beside the code that runs them.

A file holds queries under headers of the form ``-- name: claim_next_jobs`` followed by a one-line
description comment; :func:`load_queries` returns them as a ``dict[str, str]`` keyed by name.
Queries use SQLAlchemy's ``:name`` parameters; :func:`pyformat` turns one into psycopg's
``%(name)s`` form for the few hot paths that run on the driver's connection directly.
"""

from __future__ import annotations

import re
from importlib import resources

__all__ = ["load_queries", "parse_queries", "pyformat"]

# SQLAlchemy's own rules for text(): ``:name`` is a parameter unless preceded by ``:``, a word
# character or a backslash (``::type`` casts, ``\:literal``), and ``\:`` escapes a colon.
_BIND = re.compile(r"(?<![:\w\x5c]):(\w+)(?![:\w])", re.UNICODE)
_BIND_ESCAPE = re.compile(r"\x5c(:\w*)(?![:\w])", re.UNICODE)
_HEADER = re.compile(r"^--\s*name:\s*(?P<name>[a-z_][a-z0-9_]*)\s*$", re.M)


def parse_queries(text: str) -> dict[str, str]:
    """Split the text of a queries file into ``{name: sql}``; duplicate or empty names are errors."""
    queries: dict[str, str] = {}
    headers = list(_HEADER.finditer(text))
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        body_lines = [
            line
            for line in text[header.end() : end].strip().splitlines()
            if not line.lstrip().startswith("--")
        ]
        body = "\n".join(body_lines).strip().rstrip(";").strip()
        name = header["name"]
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        if not body:
            raise ValueError(f"query {name!r} has no SQL")
        queries[name] = body
    return queries


def load_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    """Load the named queries of ``package``'s ``filename``."""
    return parse_queries(resources.files(package).joinpath(filename).read_text(encoding="utf-8"))


def pyformat(sql: str) -> str:
    """``sql`` with its ``:name`` parameters as psycopg's ``%(name)s`` (and literal ``%`` doubled).

    For statements run on the raw psycopg connection (the router's and recorder's hot path, as
    prepared statements, and a spawned legacy child that does not import SQLAlchemy), while the SQL
    itself stays in the part's ``queries.sql``. Every ``:name`` becomes ``%(name)s`` and ``\\:``
    becomes ``:``, exactly as SQLAlchemy compiles ``text(sql)`` for psycopg (a unit test compares
    the two on every query).
    """
    doubled = sql.replace("%", "%%")
    return _BIND_ESCAPE.sub(lambda m: m.group(1), _BIND.sub(lambda m: f"%({m.group(1)})s", doubled))
