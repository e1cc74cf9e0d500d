"""Fixtures for the dashboard: one database filled by a short real trial, and ``bakeoff serve`` on it.

The trial costs seconds, so the session runs it once; every test reads it, and tests that act on it
(admin actions) act on the stuck jobs made for that purpose.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from trial_fixture import StuckWork, add_stuck_work, fill_with_trial

from bakeoff.db.engine import make_engine
from bakeoff.testing import TestDatabases

ADMIN_TOKEN = "dashboard-admin-token-0123456789"
API_TOKEN = "dashboard-api-token-0123456789ab"


@dataclass(frozen=True, kw_only=True)
class Trial:
    url: str
    engine: Engine
    stuck: StuckWork

    @property
    def experiment(self) -> str:
        return self.stuck.experiment


@pytest.fixture(scope="session")
def trial(test_databases: TestDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trial]:
    url = test_databases.create()
    engine = make_engine(url, pool_size=4)
    try:
        experiment = fill_with_trial(engine, tmp_path_factory.mktemp("demo"))
        yield Trial(url=url, engine=engine, stuck=add_stuck_work(engine, experiment))
    finally:
        engine.dispose()
        test_databases.drop(url)


@dataclass(frozen=True, kw_only=True)
class Served:
    base_url: str
    trial: Trial


def start_serve(trial: Trial, *, api_token: str | None = API_TOKEN) -> tuple[subprocess.Popen[str], str]:
    """``bakeoff serve`` on a free loopback port over the trial's database; returns it and its URL."""
    env = {**os.environ, "BAKEOFF_DATABASE_URL": trial.url, "BAKEOFF_ADMIN_TOKEN": ADMIN_TOKEN}
    env.pop("BAKEOFF_API_TOKEN", None)
    if api_token:
        env["BAKEOFF_API_TOKEN"] = api_token
    process = subprocess.Popen(
        [sys.executable, "-m", "bakeoff", "serve", "--port", "0", "--experiment", trial.experiment],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("{") and json.loads(line).get("event") == "serve_listening":
            return process, str(json.loads(line)["url"])
    process.kill()
    raise AssertionError(f"bakeoff serve did not start: {''.join(seen)}")


def stop_serve(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def served(trial: Trial) -> Iterator[Served]:
    process, url = start_serve(trial)
    try:
        yield Served(base_url=url, trial=trial)
    finally:
        stop_serve(process)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the browser tests wrote their screenshots."""
    from test_dashboard_browser import SCREENSHOTS

    for folder in SCREENSHOTS:
        terminalreporter.write_line(f"dashboard screenshots: {folder}")
