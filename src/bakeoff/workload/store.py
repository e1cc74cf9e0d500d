"""The save phase: store an extracted article in ``bakeoff.documents`` exactly once per job.

A retry or a duplicate delivery of the same ``trial_job_id`` (or idempotency key) must yield the
same row. The unique constraints on those columns enforce it, not this code: the insert says
``ON CONFLICT DO NOTHING RETURNING``; when it returns nothing, another delivery got there first
(PostgreSQL made this one wait for it to commit) and its row is read back. A stored row whose
content differs from this delivery's is a ``save_conflict``: one key must not name two documents.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, text

from bakeoff.db.sql import load_queries
from bakeoff.workload.errors import SaveConflict
from bakeoff.workload.models import ExtractedArticle, ImportedDocument

__all__ = ["content_sha256", "get_document", "queries", "save_document"]

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
    digest = content_sha256(article)
    params = {
        **article.to_dict(),
        "trial_job_id": trial_job_id,
        "idempotency_key": idempotency_key,
        "content_sha256": digest,
    }
    with engine.begin() as conn:
        row = conn.execute(text(queries()["insert_document"]), params).mappings().first()
        if row is not None:
            return _document(row, created=True)
        if trial_job_id is None and idempotency_key is None:
            raise SaveConflict(f"insert of {article.url} returned no row and has no key", url=article.url)
        return _existing(conn, article, digest, trial_job_id, idempotency_key)


def _existing(
    conn: Connection,
    article: ExtractedArticle,
    digest: str,
    trial_job_id: UUID | None,
    idempotency_key: str | None,
) -> ImportedDocument:
    """The row an earlier delivery saved, checked to be the same document."""
    rows = (
        conn.execute(
            text(queries()["find_saved_document"]),
            {"trial_job_id": trial_job_id, "idempotency_key": idempotency_key},
        )
        .mappings()
        .all()
    )
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
    with engine.connect() as conn:
        row = conn.execute(text(queries()["get_document"]), {"document_id": document_id}).mappings().first()
    return dict(row) if row is not None else None
