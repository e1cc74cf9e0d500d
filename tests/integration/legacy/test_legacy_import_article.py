"""The real handler in a real child: import_article against the local article server, saved or failed."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from legacy_helpers import backend, submit_as_router
from sqlalchemy import Engine, text

from bakeoff.backends.legacy.processors import process_one
from bakeoff.backends.legacy.store import JobStatus
from bakeoff.contract import JobState
from bakeoff.testing import trial_job_row
from bakeoff.workload.article_server import ArticleServer


@pytest.fixture(scope="module")
def server() -> Iterator[ArticleServer]:
    with ArticleServer(profile="none") as server:
        yield server


def test_import_article_completes_with_a_saved_document(engine: Engine, server: ArticleServer) -> None:
    """PENDING -> COMPLETED: the child fetched, extracted and saved; both records name the document."""
    legacy = backend(engine, import_settings=server.import_settings())
    trial_job_id, job_id = submit_as_router(engine, legacy, server.article_urls(1)[0])
    process_one(legacy.runner)

    job = legacy.store.get(job_id)
    assert job is not None and job.status is JobStatus.COMPLETED, job
    document_id = UUID(str((job.result or {})["document_id"]))
    assert trial_job_row(engine, trial_job_id)["document_id"] == document_id
    with engine.connect() as conn:
        saved = conn.execute(
            text("SELECT trial_job_id FROM bakeoff.documents WHERE document_id = :id"), {"id": document_id}
        ).scalar_one()
    assert saved == trial_job_id
    assert legacy.state(job_id) is JobState.COMPLETED


def test_failing_import_ends_failed_with_its_error_kind(engine: Engine, server: ArticleServer) -> None:
    """A 404 from the server fails the job as http_4xx, in legacy.job and in the trial record."""
    legacy = backend(engine, import_settings=server.import_settings())
    trial_job_id, job_id = submit_as_router(engine, legacy, server.url("/test/status/404"))
    process_one(legacy.runner)

    job = legacy.store.get(job_id)
    assert job is not None and (job.status, job.error_kind) == (JobStatus.FAILED, "http_4xx"), job
    assert "404" in (job.error or "")
    row = trial_job_row(engine, trial_job_id)
    assert (row["outcome"], row["error_kind"]) == ("failed", "http_4xx")
