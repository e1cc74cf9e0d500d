"""Fixtures for ``bakeoff inngest serve``: the server on real HTTP, and apps written with the official SDK.

The server runs on uvicorn on a loopback port with engine workers on a shared migrated database;
each test serves its functions with Inngest's official Python SDK (``inngest`` from PyPI) through
its FastAPI adapter on a second uvicorn, and syncs them the way ``inngest dev -u`` does. Each test
uses its own app id and event names, so tests stay isolated on the shared database. Retries wait
1 s (the server's ``--retry-interval 1``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import fastapi
import httpx
import inngest
import inngest.fast_api
import pytest

from bakeoff.backends.inngest import Run
from bakeoff.backends.inngest.server import BackgroundServer, InngestServer, create_app
from bakeoff.testing import TestDatabases


@pytest.fixture(scope="session")
def server_database_url(test_databases: TestDatabases) -> Iterator[str]:
    """One fresh migrated database shared by the server tests."""
    url = test_databases.create()
    yield url
    test_databases.drop(url)


@dataclass
class RunningServer:
    """The server under test and its base URL."""

    server: InngestServer
    url: str

    def send(self, name: str, data: dict[str, Any] | None = None, **extra: Any) -> str:
        """Send one event through ``POST /e/{key}``; its id."""
        response = httpx.post(f"{self.url}/e/test-key", json={"name": name, "data": data or {}, **extra})
        response.raise_for_status()
        [event_id] = response.json()["ids"]
        return str(event_id)

    def run_for(self, event_id: str, *, fn_id: str | None = None, timeout: float = 20.0) -> Run:
        """Wait for the run the event started (of ``fn_id`` when it started several) to end."""
        client = self.server.client
        run_ids = _wait(lambda: client.runs_for_event(event_id), timeout)
        runs = [client.get_run(r) for r in run_ids]
        chosen = [r for r in runs if fn_id is None or r.fn_id == fn_id]
        assert chosen, f"no run of {fn_id} for event {event_id}: {[r.fn_id for r in runs]}"
        return client.wait_for_run(chosen[0].run_id, timeout=timeout)


def _wait(probe: Callable[[], list[str]], timeout: float) -> list[str]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


@pytest.fixture
def running_server(server_database_url: str) -> Iterator[RunningServer]:
    """``bakeoff inngest serve --retry-interval 1`` on a free loopback port, workers started.

    A 3 s lease makes the listener look for due crons every second.
    """
    server = InngestServer(
        server_database_url, retry_interval=1, concurrency=4, poll_interval=0.2, lease=timedelta(seconds=3)
    )
    http = BackgroundServer(create_app(server)).start()
    server.start()
    yield RunningServer(server=server, url=http.url)
    server.stop(timeout=10)
    http.stop()


@pytest.fixture
def app_id() -> str:
    return f"app-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sdk_client(running_server: RunningServer, app_id: str) -> inngest.Inngest:
    """An official-SDK client in dev mode pointed at the server under test."""
    return inngest.Inngest(
        app_id=app_id,
        api_base_url=running_server.url,
        event_api_base_url=running_server.url,
        is_production=False,
        logger=logging.getLogger("sdk-app"),
    )


@pytest.fixture
def serve_app(
    running_server: RunningServer, sdk_client: inngest.Inngest
) -> Iterator[Callable[[list[inngest.Function[Any]]], str]]:
    """Serve functions with the SDK's FastAPI adapter and sync them; returns the app's URL."""
    started: list[BackgroundServer] = []

    def serve(functions: list[inngest.Function[Any]]) -> str:
        app = fastapi.FastAPI()
        inngest.fast_api.serve(app, sdk_client, functions)
        http = BackgroundServer(app).start()
        started.append(http)
        url = f"{http.url}/api/inngest"
        running_server.server.sync_app(url)
        return url

    yield serve
    for http in started:
        http.stop()
