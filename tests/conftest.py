"""Shared fixtures: an isolated, migrated PostgreSQL database per test (embedded by default)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bakeoff.db.engine import make_engine
from bakeoff.testing import TestDatabases

TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if any(TESTS / folder in path.parents for folder in ("integration", "acceptance", "service")):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def test_databases() -> Iterator[TestDatabases]:
    databases = TestDatabases()
    yield databases
    databases.close()


@pytest.fixture
def database_url(test_databases: TestDatabases) -> Iterator[str]:
    """URL of a fresh database with every migration applied, dropped after the test."""
    url = test_databases.create()
    yield url
    test_databases.drop(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=5)
    yield engine
    engine.dispose()
