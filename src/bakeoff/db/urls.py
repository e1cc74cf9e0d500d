"""Database URL handling: normalising drivers, switching databases and masking passwords.

Every URL bakeoff prints or logs goes through :func:`mask_url` first.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bakeoff.contract import ConfigurationError

__all__ = ["libpq_url", "mask_url", "sqlalchemy_url", "with_database"]

_PASSWORD_IN_URL = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)(?P<tail>@)", re.I
)


def sqlalchemy_url(url: str | URL) -> URL:
    """Parse ``url`` and pin the psycopg 3 driver; reject anything that is not PostgreSQL."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError as exc:
        raise ConfigurationError(f"not a database URL: {mask_url(str(url))}") from exc
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"bakeoff needs PostgreSQL; the URL names {parsed.get_backend_name()!r}: {mask_url(str(url))}"
        )
    return parsed.set(drivername="postgresql+psycopg")


def libpq_url(url: str | URL) -> str:
    """The URL in the form psycopg/libpq accept (``postgresql://...``), password included."""
    parsed = sqlalchemy_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def with_database(url: str | URL, database: str) -> str:
    """The same server, another database."""
    return sqlalchemy_url(url).set(database=database).render_as_string(hide_password=False)


def mask_url(url: str | URL) -> str:
    """The URL with any password replaced by ``***``, safe to print or log."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True).replace(":***@", ":***@")
    return _PASSWORD_IN_URL.sub(lambda m: f"{m['head']}***{m['tail']}" if m["password"] else m[0], url)
