"""The workload every arm runs: the article import, the local article server, the auditor fan-out.

``import_article`` (fetch -> extract -> save) is the job under test; its phases and errors live in
:mod:`bakeoff.workload.articles`. :class:`~bakeoff.workload.article_server.ArticleServer` serves a
seeded synthetic corpus on loopback under a fault profile.

The names below load on first use, so a phase module (``bakeoff.workload.fetch``, ``.extract``)
can be imported without the save phase's SQLAlchemy (a spawned legacy child saves with psycopg).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bakeoff._lazy import lazy_attributes

if TYPE_CHECKING:
    from bakeoff.workload.articles import (
        ERROR_KINDS,
        RETRYABLE_KINDS,
        ExtractedArticle,
        FetchedPage,
        ImportedDocument,
        ImportFailed,
        ImportSettings,
        extract_article,
        fetch_page,
        import_article,
        import_failed,
        save_document,
    )

__all__ = [
    "ERROR_KINDS",
    "RETRYABLE_KINDS",
    "ExtractedArticle",
    "FetchedPage",
    "ImportFailed",
    "ImportSettings",
    "ImportedDocument",
    "extract_article",
    "fetch_page",
    "import_article",
    "import_failed",
    "save_document",
]


__getattr__ = lazy_attributes(__name__, dict.fromkeys(__all__, "bakeoff.workload.articles"))
