"""Shared fixtures: an isolated, migrated PostgreSQL database per test (embedded by default)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bakeoff.db.engine import make_engine
from bakeoff.testing import TestDatabases
from bakeoff.workload.article_server import ArticleServer

TESTS = Path(__file__).parent


NEEDS_POSTGRES = ("integration", "acceptance", "faults", "interop", "service", "dashboard")
"""The folders whose tests need PostgreSQL (marked ``integration``); ``tests/unit`` does not."""


ONE_AT_A_TIME = TESTS / "faults"
"""Fault tests load both cores, restart servers and build network namespaces: under pytest-xdist they
share one worker (``--dist loadgroup``), one after another, while the other tests spread out."""


def pytest_configure(config: pytest.Config) -> None:
    # pytest dumps its own threads' stacks on a crash; the bakeoff processes the tests start (CLI runs,
    # services, workers) do it too with this, so a crash in CI names where it happened.
    os.environ.setdefault("PYTHONFAULTHANDLER", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if any(TESTS / folder in path.parents for folder in NEEDS_POSTGRES):
            item.add_marker(pytest.mark.integration)
        if ONE_AT_A_TIME in path.parents:
            item.add_marker(pytest.mark.xdist_group("faults"))


@pytest.fixture(scope="session")
def test_databases() -> Iterator[TestDatabases]:
    databases = TestDatabases()
    yield databases
    databases.close()


def _migrated_database(test_databases: TestDatabases) -> Iterator[str]:
    url = test_databases.create()
    yield url
    test_databases.drop(url)


@pytest.fixture
def database_url(test_databases: TestDatabases) -> Iterator[str]:
    """URL of a fresh database with every migration applied, dropped after the test."""
    yield from _migrated_database(test_databases)


@pytest.fixture(scope="session")
def shared_database(test_databases: TestDatabases) -> Iterator[str]:
    """One migrated database for the session's tests that keep apart by names of their own (pg-boss
    schemas and queues, inngest function ids): creating a database costs seconds on a busy server."""
    yield from _migrated_database(test_databases)


@pytest.fixture(scope="module")
def shared_engine(shared_database: str) -> Iterator[Engine]:
    """An engine on the shared database, for one module's tests."""
    engine = make_engine(shared_database, pool_size=4)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def server() -> Iterator[ArticleServer]:
    """A local article server (profile ``none``) shared by the module's tests; a module may define its own."""
    with ArticleServer(profile="none") as server:
        yield server


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=5)
    yield engine
    engine.dispose()
