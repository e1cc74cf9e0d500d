"""URL handling, masking and the named-query loader."""

from __future__ import annotations

import pytest

from bakeoff.contract import ConfigurationError
from bakeoff.db.sql import load_queries, parse_queries
from bakeoff.db.urls import libpq_url, mask_url, sqlalchemy_url, with_database
from bakeoff.settings import Settings


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://alice:s3cret@db.example:5432/app", "postgresql://alice:***@db.example:5432/app"),
        ("postgresql+psycopg://bob:p%40ss@h/db", "postgresql+psycopg://bob:***@h/db"),
        ("postgresql://carol@h/db", "postgresql://carol@h/db"),
        ("postgresql://h/db", "postgresql://h/db"),
    ],
)
def test_mask_url_hides_passwords(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert "s3cret" not in mask_url(sqlalchemy_url(url))


def test_urls_normalise_driver_and_switch_database() -> None:
    assert str(sqlalchemy_url("postgresql://u@h/db").drivername) == "postgresql+psycopg"
    assert libpq_url("postgresql+psycopg://u:p@h/db") == "postgresql://u:p@h/db"
    assert with_database("postgresql://u:p@h:1/db", "other") == "postgresql+psycopg://u:p@h:1/other"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "sqlite:///x.db"])
def test_non_postgres_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        sqlalchemy_url(url)


def test_parse_queries_reads_names_and_drops_comments() -> None:
    queries = parse_queries("-- name: one\n-- first\nSELECT 1;\n\n-- name: two_things\nSELECT 2\n")
    assert queries == {"one": "SELECT 1", "two_things": "SELECT 2"}


@pytest.mark.parametrize(
    ("text", "message"),
    [("-- name: a\nSELECT 1\n-- name: a\nSELECT 2", "defined twice"), ("-- name: a\n-- nothing\n", "no SQL")],
)
def test_parse_queries_rejects_duplicates_and_empty(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_queries(text)


def test_metrics_queries_load_by_name() -> None:
    queries = load_queries("bakeoff.metrics")
    assert {"insert_routed_job", "mark_finished", "select_trial_jobs", "insert_event"} <= set(queries)
    assert all("%" not in sql for sql in queries.values())


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {
            "BAKEOFF_DATABASE_URL": "postgresql://h/db",
            "BAKEOFF_DATA_DIR": "/x/y",
            "BAKEOFF_IMPORT_ALLOW_HOSTS": "a, b",
        }
    )
    assert settings.database_url == "postgresql://h/db"
    assert str(settings.data_dir) == "/x/y"
    assert settings.import_allow_hosts == ("a", "b")
    with pytest.raises(ConfigurationError, match="BAKEOFF_DATA_DIR"):
        Settings.from_env({"BAKEOFF_DATA_DIR": " "})


def test_driver_connection_refuses_what_has_no_psycopg_connection_behind_it() -> None:
    """Anything but a psycopg or SQLAlchemy connection is a TypeError naming the type it got."""
    from bakeoff.db.driver import driver_connection

    with pytest.raises(TypeError, match="not str"):
        driver_connection("postgresql://h/db")
    with pytest.raises(TypeError, match="not object"):
        driver_connection(object())
