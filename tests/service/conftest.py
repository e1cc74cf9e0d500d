"""Fixtures for ``bakeoff serve``'s tests: one migrated database per session, emptied before each test.

Creating a database from the template costs seconds on a busy machine, so these tests share one
and start each test from empty trial and experiment tables (as the router's tests do).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from service_support import ADMIN_TOKEN, TABLES, LiveServer
from sqlalchemy import Engine

from bakeoff.service import ServiceSettings
from bakeoff.testing import TestDatabases, emptied, shared_router_database


@pytest.fixture(scope="session")
def service_database_url(test_databases: TestDatabases) -> Iterator[str]:
    with shared_router_database(test_databases) as url:
        yield url


@pytest.fixture
def database_url(service_database_url: str) -> str:
    """The shared service database with every table a service test touches emptied."""
    return emptied(service_database_url, TABLES)


@pytest.fixture
def serve(engine: Engine) -> Iterator[Callable[..., LiveServer]]:
    """Start live servers (default: the admin token set, no API token, the recording arms)."""
    started: list[LiveServer] = []

    def start(**options: Any) -> LiveServer:
        settings = options.pop("settings", None) or ServiceSettings(
            admin_token=options.pop("admin_token", ADMIN_TOKEN), api_token=options.pop("api_token", None)
        )
        server = LiveServer(engine, settings, **options).__enter__()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.__exit__(None, None, None)


@pytest.fixture
def live(serve: Callable[..., LiveServer]) -> LiveServer:
    return serve()
