"""Fixtures for the step engine: a client with fast retries on a migrated database, workers stopped.

Creating a database costs seconds on a loaded machine, so the inngest tests share one database
per session; they stay isolated because each test registers its own function ids and event names,
and workers only claim work of their own client's functions (and are stopped when the test ends).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from bakeoff.backends.inngest import Event, Inngest, Run, Worker


@pytest.fixture(scope="session")
def module_database_url(shared_database: str) -> str:
    """The session's shared migrated database (the inngest tests keep apart by function ids)."""
    return shared_database


@pytest.fixture
def client(module_database_url: str) -> Iterator[Inngest]:
    """An app with test-speed retries (50 ms) and polling; closed after the test."""
    app = Inngest(
        app_id="test-app",
        database_url=module_database_url,
        backoff=lambda attempt: 0.05,
        poll_interval=0.2,
        lease=timedelta(seconds=5),
    )
    yield app
    app.close()


@pytest.fixture
def start_worker(client: Inngest) -> Iterator[Callable[..., Worker]]:
    """Start workers on the client; every worker started is stopped at the end of the test."""
    workers: list[Worker] = []

    def start(concurrency: int = 4, app: Inngest | None = None) -> Worker:
        worker = (app or client).start_worker(concurrency=concurrency)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop(timeout=10)


@pytest.fixture
def run_event(client: Inngest) -> Callable[..., Run]:
    """Send one event, wait for the single run it starts, return that run."""

    def run(name: str, data: dict[str, Any] | None = None, *, timeout: float = 20.0) -> Run:
        [event_id] = client.send(Event(name=name, data=data or {}))
        [run_id] = client.runs_for_event(event_id)
        return client.wait_for_run(run_id, timeout=timeout)

    return run
