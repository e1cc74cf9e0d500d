"""Fixtures for the step engine: a client on a fresh migrated database, fast retries, workers stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from bakeoff.backends.inngest import Inngest, Worker


@pytest.fixture
def client(database_url: str) -> Iterator[Inngest]:
    """An app with test-speed retries (50 ms) and polling; closed after the test."""
    app = Inngest(
        app_id="test-app",
        database_url=database_url,
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
