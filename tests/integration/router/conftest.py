"""Router fixtures: one migrated database for the router's tests, emptied before each test.

Creating a database from the template costs seconds on a busy machine, so the router's tests share
one (per session) and start each test from empty router tables instead; every table a router test
touches is truncated first, so tests still never see each other's rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from router_support import MakeRouter
from sqlalchemy import Engine

from bakeoff.contract import ARM_NAMES, JobBackend
from bakeoff.router import Experiment, Router
from bakeoff.testing import RecordingBackend, TestDatabases, emptied, shared_router_database

ROUTER_TABLES = (
    "bakeoff.job_events, bakeoff.trial_jobs, bakeoff.unit_overrides, bakeoff.experiment_phases, "
    "bakeoff.experiments, public.router_fake_jobs"
)


@pytest.fixture(scope="session")
def router_database_url(test_databases: TestDatabases) -> Iterator[str]:
    with shared_router_database(test_databases) as url:
        yield url


@pytest.fixture
def database_url(router_database_url: str) -> str:
    """The shared router database with every router table emptied."""
    return emptied(router_database_url, ROUTER_TABLES)


@pytest.fixture
def arms(engine: Engine) -> dict[str, JobBackend]:
    return {arm: RecordingBackend(arm, engine) for arm in ARM_NAMES}


@pytest.fixture
def make_router(engine: Engine, arms: dict[str, JobBackend]) -> Iterator[MakeRouter]:
    """Build routers over ``engine`` (default: the three recording arms, equal weights); closed after."""
    made: list[Router] = []

    def build(backends: Mapping[str, JobBackend] | None = None, **options: Any) -> Router:
        options.setdefault("experiment", Experiment(name="article-import"))
        router = Router(engine, backends={**arms, **(backends or {})}, **options)
        made.append(router)
        return router

    yield build
    for router in made:
        router.close()
