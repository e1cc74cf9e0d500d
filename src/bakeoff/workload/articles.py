"""The job under test: import one article in three separable phases, fetch -> extract -> save.

Every arm of the trial runs this. The legacy and pg-boss arms call :func:`import_article` once;
the Inngest-style arm runs :func:`fetch_page`, :func:`extract_article` and :func:`save_document` as
three memoized steps, passing the JSON-safe results (``to_dict``/``from_dict``) between them.
Failures raise an :class:`ImportFailed` subclass whose ``error_kind`` (one of :data:`ERROR_KINDS`)
the metrics record; ``retryable`` tells a backend whether another attempt is worth it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from uuid import UUID

from bakeoff.workload.errors import (
    ERROR_KINDS,
    RETRYABLE_KINDS,
    BlockedAddress,
    ConnectTimeout,
    DnsError,
    ExtractionEmpty,
    Http4xx,
    Http5xx,
    ImportFailed,
    InvalidUrl,
    NotHtml,
    ReadTimeout,
    SaveConflict,
    TooLarge,
    TooManyRedirects,
    import_failed,
)
from bakeoff.workload.extract import extract_article
from bakeoff.workload.fetch import fetch_page
from bakeoff.workload.models import ExtractedArticle, FetchedPage, ImportedDocument, ImportSettings
from bakeoff.workload.store import save_document

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = [
    "ERROR_KINDS",
    "RETRYABLE_KINDS",
    "BlockedAddress",
    "ConnectTimeout",
    "DnsError",
    "ExtractedArticle",
    "ExtractionEmpty",
    "FetchedPage",
    "Http4xx",
    "Http5xx",
    "ImportFailed",
    "ImportSettings",
    "ImportedDocument",
    "InvalidUrl",
    "NotHtml",
    "ReadTimeout",
    "SaveConflict",
    "TooLarge",
    "TooManyRedirects",
    "extract_article",
    "fetch_page",
    "import_article",
    "import_failed",
    "save_document",
]

logger = logging.getLogger(__name__)


def import_article(
    url: str,
    *,
    engine: Engine,
    trial_job_id: UUID | None = None,
    idempotency_key: str | None = None,
    settings: ImportSettings | None = None,
) -> ImportedDocument:
    """Fetch, extract and save ``url``; idempotent per ``trial_job_id``/``idempotency_key``."""
    page = fetch_page(url, settings=settings)
    article = extract_article(page)
    document = save_document(engine, article, trial_job_id=trial_job_id, idempotency_key=idempotency_key)
    logger.debug(
        "imported %s as %s (%d words, created=%s)",
        url,
        document.document_id,
        document.word_count,
        document.created,
    )
    return document
