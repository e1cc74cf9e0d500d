"""The save phase: store an extracted article in ``bakeoff.documents`` exactly once per job.

A retry or a duplicate delivery of the same ``trial_job_id`` (or idempotency key) must yield the
same row. The unique constraints on those columns enforce it, not this code: the insert says
``ON CONFLICT DO NOTHING RETURNING``; when it returns nothing, another delivery got there first
(PostgreSQL made this one wait for it to commit) and its row is read back. A stored row whose
content differs from this delivery's is a ``save_conflict``: one key must not name two documents.

:func:`save_document` runs on a SQLAlchemy engine; :func:`save_document_psycopg` runs the same logic
and the same named SQL on a plain psycopg connection, for the spawned legacy child (which would
otherwise spend a large part of its start-up importing SQLAlchemy).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from bakeoff.db.sql import load_queries, pyformat
from bakeoff.workload.errors import SaveConflict
from bakeoff.workload.models import ExtractedArticle, ImportedDocument

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy import Engine

__all__ = ["content_sha256", "get_document", "queries", "save_document", "save_document_psycopg"]

Run = Callable[[str, Mapping[str, Any]], list[Mapping[Any, Any]]]
"""Runs one named workload query inside the caller's transaction; its rows as mappings."""

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def queries() -> dict[str, str]:
    """The workload's named SQL, loaded once."""
    return load_queries("bakeoff.workload")


def content_sha256(article: ExtractedArticle) -> str:
    """Fingerprint of what makes two deliveries the same document: the URL and the text."""
    return hashlib.sha256(f"{article.url}\x00{article.text}".encode()).hexdigest()


def save_document(
    engine: Engine,
    article: ExtractedArticle,
    *,
    trial_job_id: UUID | None = None,
    idempotency_key: str | None = None,
) -> ImportedDocument:
    """Insert ``article`` once; a repeat delivery returns the first row with ``created=False``."""
    from sqlalchemy import text

    with engine.begin() as conn:

        def run(name: str, params: Mapping[str, Any]) -> list[Mapping[Any, Any]]:
            return list(conn.execute(text(queries()[name]), dict(params)).mappings().all())

        return _save(run, article, trial_job_id=trial_job_id, idempotency_key=idempotency_key)


def save_document_psycopg(
    conn: psycopg.Connection[Any],
    article: ExtractedArticle,
    *,
    trial_job_id: UUID | None = None,
    idempotency_key: str | None = None,
) -> ImportedDocument:
    """:func:`save_document` on a plain psycopg connection, in one transaction of its own."""
    from psycopg.rows import dict_row

    with conn.transaction(), conn.cursor(row_factory=dict_row) as cursor:

        def run(name: str, params: Mapping[str, Any]) -> list[Mapping[Any, Any]]:
            cursor.execute(pyformat(queries()[name]), params)
            return list(cursor.fetchall())

        return _save(run, article, trial_job_id=trial_job_id, idempotency_key=idempotency_key)


def _save(
    run: Run, article: ExtractedArticle, *, trial_job_id: UUID | None, idempotency_key: str | None
) -> ImportedDocument:
    digest = content_sha256(article)
    params = {
        **article.to_dict(),
        "trial_job_id": trial_job_id,
        "idempotency_key": idempotency_key,
        "content_sha256": digest,
    }
    rows = run("insert_document", params)
    if rows:
        return _document(rows[0], created=True)
    if trial_job_id is None and idempotency_key is None:
        raise SaveConflict(f"insert of {article.url} returned no row and has no key", url=article.url)
    return _existing(run, article, digest, trial_job_id, idempotency_key)


def _existing(
    run: Run,
    article: ExtractedArticle,
    digest: str,
    trial_job_id: UUID | None,
    idempotency_key: str | None,
) -> ImportedDocument:
    """The row an earlier delivery saved, checked to be the same document."""
    rows = run("find_saved_document", {"trial_job_id": trial_job_id, "idempotency_key": idempotency_key})
    if len(rows) != 1 or rows[0]["content_sha256"] != digest:
        raise SaveConflict(
            f"trial_job_id={trial_job_id} idempotency_key={idempotency_key!r} already names "
            f"{len(rows)} document(s) with different content than {article.url}",
            url=article.url,
        )
    logger.info("document for trial job %s was already saved; returning it", trial_job_id)
    return _document(rows[0], created=False)


def _document(row: Any, *, created: bool) -> ImportedDocument:
    return ImportedDocument(
        document_id=row["document_id"],
        url=row["url"],
        title=row["title"],
        word_count=row["word_count"],
        created=created,
    )


def get_document(engine: Engine, document_id: UUID) -> dict[str, Any] | None:
    """A saved document as a dict, or None."""
    from sqlalchemy import text

    with engine.connect() as conn:
        row = conn.execute(text(queries()["get_document"]), {"document_id": document_id}).mappings().first()
    return dict(row) if row is not None else None
