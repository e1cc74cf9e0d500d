"""The inngest arm over HTTP: the import served by ``examples/inngest_import_app.py`` (official SDK).

``create_backend("inngest", engine, transport="http", app_url=...)`` drives the app's
``import-article`` with the engine's workers; the trial records the same lifecycle as in-process:
one attempt per step execution, the saved document, the error kind of a failure.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import Engine, text

from bakeoff.backends import create_backend
from bakeoff.backends.inngest.adapter_http import HttpInngestBackend, error_kind_of_payload
from bakeoff.backends.inngest.server import BackgroundServer
from bakeoff.contract import ConfigurationError, ImportRequest, JobState
from bakeoff.db.engine import make_engine
from bakeoff.testing import single_arm_router
from bakeoff.workload.article_server import ArticleServer

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "inngest_import_app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("inngest_import_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def articles() -> Iterator[ArticleServer]:
    with ArticleServer(profile="none") as server:
        yield server


@pytest.fixture(scope="module")
def arm_engine(server_database_url: str) -> Iterator[Engine]:
    engine = make_engine(server_database_url, pool_size=4)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def app_url(arm_engine: Engine, articles: ArticleServer) -> Iterator[str]:
    """The example app on uvicorn, importing from the local article server."""
    app = load_example().create_app(arm_engine, import_settings=articles.import_settings(), retries=1)
    with BackgroundServer(app) as http:
        yield f"{http.url}/api/inngest"


@pytest.fixture
def http_arm(arm_engine: Engine, articles: ArticleServer, app_url: str) -> Iterator[HttpInngestBackend]:
    arm = create_backend(
        "inngest", arm_engine, transport="http", app_url=app_url, import_settings=articles.import_settings(),
        retries=1, backoff=lambda attempt: 0.05,
    )  # fmt: skip
    assert isinstance(arm, HttpInngestBackend)
    stop = threading.Event()
    thread = threading.Thread(target=arm.run_workers, kwargs={"concurrency": 2, "stop": stop}, daemon=True)
    thread.start()
    yield arm
    stop.set()
    thread.join(timeout=30)
    arm.close()


def _submit(engine: Engine, arm: HttpInngestBackend, url: str) -> tuple[uuid.UUID, str]:
    """One import routed to the HTTP arm through the router's real write path."""
    with single_arm_router(engine, arm) as router:
        submission = router.submit(ImportRequest(url=url))
    return submission.trial_job_id, submission.backend_job_id


def _finished(engine: Engine, trial_job_id: uuid.UUID, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            row = dict(
                conn.execute(
                    text("SELECT * FROM bakeoff.trial_jobs WHERE trial_job_id = :id"), {"id": trial_job_id}
                )
                .mappings()
                .one()
            )
        if row["outcome"] is not None:
            return row
        time.sleep(0.05)
    raise AssertionError(f"trial job {trial_job_id} never finished")


def test_import_runs_through_the_sdk_app_and_records_the_same_metrics(http_arm, arm_engine, articles):
    """fetch -> extract -> save in the app; the trial row is completed with the document, 1 attempt."""
    trial_job_id, run_id = _submit(arm_engine, http_arm, articles.article_urls(1)[0])
    row = _finished(arm_engine, trial_job_id)
    run = http_arm.client.get_run(run_id)

    assert [s.step_id for s in run.steps] == ["fetch", "extract", "save"]
    assert (row["outcome"], row["attempts"], row["backend_job_id"]) == ("completed", 1, run_id)
    assert str(row["document_id"]) == run.output["document_id"]
    assert http_arm.state(run_id) is JobState.COMPLETED


def test_non_retryable_failure_in_the_app_keeps_its_error_kind(http_arm, arm_engine, articles):
    """A 404 becomes the SDK's NonRetriableError "http_4xx: ..."; the row says http_4xx, 1 attempt."""
    trial_job_id, _ = _submit(arm_engine, http_arm, articles.url("/test/status/404"))
    row = _finished(arm_engine, trial_job_id)
    assert (row["outcome"], row["error_kind"], row["attempts"]) == ("failed", "http_4xx", 1)


def test_retryable_failure_is_retried_per_step_then_fails(http_arm, arm_engine, articles):
    """A 503 (Http5xx raised in the app's step) is retried (retries=1: 2 attempts), then fails as http_5xx."""
    trial_job_id, _ = _submit(arm_engine, http_arm, articles.url("/test/status/503"))
    row = _finished(arm_engine, trial_job_id)
    assert (row["outcome"], row["error_kind"], row["attempts"]) == ("failed", "http_5xx", 2)


def test_http_transport_needs_an_app_url(arm_engine):
    with pytest.raises(ConfigurationError, match="app_url"):
        create_backend("inngest", arm_engine, transport="http")
    with pytest.raises(ConfigurationError, match="transport"):
        create_backend("inngest", arm_engine, transport="carrier-pigeon")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"name": "Http5xx", "message": "503"}, "http_5xx"),
        ({"name": "NonRetriableError", "message": "http_4xx: 404 Not Found"}, "http_4xx"),
        ({"name": "ValueError", "message": "boom: bang"}, "internal_error"),
        (None, "internal_error"),
    ],
)
def test_error_kind_of_an_sdk_error_payload(error, kind):
    assert error_kind_of_payload(error) == kind


def test_worker_cli_passes_the_app_url_to_the_arm(server_database_url):
    """``bakeoff worker --inngest-app-url`` builds the HTTP arm: a bad URL is refused, naming it."""
    env = {**os.environ, "BAKEOFF_DATABASE_URL": server_database_url}
    result = subprocess.run(
        [sys.executable, "-m", "bakeoff", "worker", "--arms", "inngest", "--inngest-app-url", "ftp://nope"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "app_url" in result.stderr and "ftp://nope" in result.stderr
    assert "Traceback" not in result.stderr
