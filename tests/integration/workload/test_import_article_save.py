"""import_article end to end into PostgreSQL: one row per job, whatever the retries or duplicates."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import Engine, text

from bakeoff.workload import (
    ImportedDocument,
    ImportSettings,
    extract_article,
    fetch_page,
    import_article,
    save_document,
)
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.corpus import render_page
from bakeoff.workload.errors import ExtractionEmpty, SaveConflict
from bakeoff.workload.store import get_document


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM bakeoff.documents")).scalar_one())


def test_an_import_saves_the_article_with_its_metadata(
    engine: Engine, article_server: ArticleServer, settings: ImportSettings
) -> None:
    job = uuid.uuid4()
    document = import_article(
        article_server.url("/articles/3"), engine=engine, trial_job_id=job, settings=settings
    )
    row = get_document(engine, document.document_id)
    assert document.created and row is not None
    assert row["trial_job_id"] == job and row["title"] == render_page(0, 3).title
    assert row["word_count"] == document.word_count > 50
    assert row["fetched_bytes"] == len(render_page(0, 3).body) and len(row["content_sha256"]) == 64


def test_a_repeated_delivery_returns_the_first_row(
    engine: Engine, article_server: ArticleServer, settings: ImportSettings
) -> None:
    job = uuid.uuid4()
    url = article_server.url("/articles/4")
    first = import_article(url, engine=engine, trial_job_id=job, settings=settings)
    second = import_article(url, engine=engine, trial_job_id=job, settings=settings)
    assert first.created and not second.created
    assert second.document_id == first.document_id and _count(engine) == 1


def test_concurrent_duplicate_delivery_makes_exactly_one_row(
    engine: Engine, article_server: ArticleServer, settings: ImportSettings
) -> None:
    """Two workers save the same job at the same moment: the unique constraint lets one row in."""
    article = extract_article(fetch_page(article_server.url("/articles/5"), settings=settings))
    job = uuid.uuid4()
    barrier = threading.Barrier(2, timeout=10)
    results: list[ImportedDocument] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait()
            results.append(save_document(engine, article, trial_job_id=job))
        except BaseException as exc:  # surfaced by the assertions below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == [] and len(results) == 2
    assert {r.document_id for r in results} == {results[0].document_id}
    assert sorted(r.created for r in results) == [False, True]
    assert _count(engine) == 1


def test_an_idempotency_key_deduplicates_without_a_job_id(
    engine: Engine, article_server: ArticleServer, settings: ImportSettings
) -> None:
    url = article_server.url("/articles/6")
    first = import_article(url, engine=engine, idempotency_key="import-6", settings=settings)
    second = import_article(url, engine=engine, idempotency_key="import-6", settings=settings)
    assert second.document_id == first.document_id and not second.created and _count(engine) == 1


def test_same_key_with_different_content_is_a_save_conflict(
    engine: Engine, article_server: ArticleServer, settings: ImportSettings
) -> None:
    job = uuid.uuid4()
    article = extract_article(fetch_page(article_server.url("/articles/7"), settings=settings))
    save_document(engine, article, trial_job_id=job)
    with pytest.raises(SaveConflict) as caught:
        save_document(engine, replace(article, text=article.text + " changed"), trial_job_id=job)
    assert caught.value.error_kind == "save_conflict" and not caught.value.retryable
    assert _count(engine) == 1


def test_imports_without_keys_each_save_a_row(
    engine: Engine, article_server: ArticleServer, settings: ImportSettings
) -> None:
    url = article_server.url("/articles/8")
    a = import_article(url, engine=engine, settings=settings)
    b = import_article(url, engine=engine, settings=settings)
    assert a.document_id != b.document_id and _count(engine) == 2


def test_a_page_without_text_saves_nothing(
    engine: Engine, article_server: ArticleServer, settings: ImportSettings
) -> None:
    with pytest.raises(ExtractionEmpty):
        import_article(
            article_server.url("/test/empty"),
            engine=engine,
            trial_job_id=uuid.uuid4(),
            settings=settings,
        )
    assert _count(engine) == 0
