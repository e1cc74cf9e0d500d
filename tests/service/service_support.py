"""A real ``bakeoff serve`` application on a real uvicorn, on a free loopback port, in a thread.

Imported by name (tests/ has no packages). :class:`LiveServer` builds the Service over the given
arms (default: the recording arms of ``bakeoff.testing``, which enqueue one row per job in the
router's transaction), serves it, and stops it on exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from sqlalchemy import Engine, text

from bakeoff.contract import ARM_NAMES, JobBackend
from bakeoff.service import Service, ServiceSettings, build_service, create_app
from bakeoff.service.telemetry import Telemetry
from bakeoff.testing import RecordingBackend

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
API_TOKEN = "api-token-for-tests-0123456789ab"
EXPERIMENT = "article-import"

TABLES = (
    "bakeoff.job_events, bakeoff.trial_jobs, bakeoff.unit_overrides, bakeoff.experiment_phases, "
    "bakeoff.experiments, public.router_fake_jobs"
)


def recording_arms(engine: Engine) -> dict[str, JobBackend]:
    return {arm: RecordingBackend(arm, engine) for arm in ARM_NAMES}


@dataclass
class LiveServer:
    """One Service served by uvicorn on 127.0.0.1 (port 0); ``url`` is its base URL."""

    engine: Engine
    settings: ServiceSettings
    backends: Mapping[str, JobBackend] | None = None
    telemetry: Telemetry | None = None
    service: Service = field(init=False)
    url: str = field(init=False, default="")
    _server: uvicorn.Server = field(init=False)
    _thread: threading.Thread = field(init=False)

    def __enter__(self) -> LiveServer:
        self.service = build_service(
            self.engine,
            self.settings,
            backends=self.backends if self.backends is not None else recording_arms(self.engine),
            telemetry=self.telemetry,
        )
        config = uvicorn.Config(
            create_app(self.service), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self.service.close()


def counts(engine: Engine) -> dict[str, int]:
    """Rows in every table a request could write."""
    tables = (
        "bakeoff.trial_jobs",
        "bakeoff.job_events",
        "bakeoff.unit_overrides",
        "bakeoff.experiment_phases",
        "public.router_fake_jobs",
    )
    with engine.connect() as conn:
        return {
            table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()) for table in tables
        }


def experiment_row(engine: Engine) -> dict[str, Any]:
    """The stored experiment (phase, weights, salt, killed arms) and its overrides."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT phase, weights, salt, killed_arms FROM bakeoff.experiments WHERE name = :name"),
            {"name": EXPERIMENT},
        ).one()
        overrides = conn.execute(
            text(
                "SELECT unit_key, arm FROM bakeoff.unit_overrides WHERE experiment = :name ORDER BY unit_key"
            ),
            {"name": EXPERIMENT},
        ).all()
    return {**row._asdict(), "overrides": [tuple(o) for o in overrides]}
