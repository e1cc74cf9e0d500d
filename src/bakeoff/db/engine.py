"""Engines: resolving which database to use and connecting to it with clear errors.

Nothing here runs on import; callers create an engine and pass it along (no global engine).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from bakeoff.contract import DatabaseUnavailable
from bakeoff.db.embedded import ensure_embedded_server
from bakeoff.db.urls import libpq_url, mask_url, sqlalchemy_url
from bakeoff.settings import Settings

__all__ = ["check_connection", "connect_raw", "make_engine", "resolve_database_url"]

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10


def resolve_database_url(settings: Settings, override: str | None = None) -> str:
    """The URL to use: an explicit one, ``BAKEOFF_DATABASE_URL``, or the embedded server (started)."""
    if override:
        return libpq_url(override)
    if settings.database_url:
        return libpq_url(settings.database_url)
    return libpq_url(ensure_embedded_server(settings.data_dir).url)


def make_engine(url: str | URL, *, pool_size: int = 10, **kwargs: Any) -> Engine:
    """A SQLAlchemy engine on psycopg 3 with a connect timeout and pre-ping."""
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "bakeoff"}
    connect_args.update(kwargs.pop("connect_args", {}))
    return create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=kwargs.pop("max_overflow", 20),
        pool_pre_ping=True,
        connect_args=connect_args,
        **kwargs,
    )


def check_connection(engine: Engine) -> str:
    """Connect once and return the server version, or raise :class:`DatabaseUnavailable`."""
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one())
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(f"cannot connect to {mask_url(engine.url)}: {reason}") from exc


def connect_raw(url: str | URL, *, autocommit: bool = True, **kwargs: Any) -> psycopg.Connection[Any]:
    """A plain psycopg connection (for LISTEN, COPY and hot loops), with the same clear errors."""
    try:
        return psycopg.connect(
            libpq_url(url), autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_SECONDS, **kwargs
        )
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot connect to {mask_url(str(url))}: {reason}") from exc
