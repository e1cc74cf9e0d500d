"""The extract phase: the main text and metadata of a fetched page, via trafilatura.

Boilerplate (navigation, ads, footers, related links, comments) is dropped; a page with no
article text left is an ``extraction_empty`` error rather than an empty document, so the trial
counts it as a failure instead of storing nothing and calling it a success.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import trafilatura

from bakeoff.workload.errors import ExtractionEmpty
from bakeoff.workload.models import ExtractedArticle, FetchedPage

__all__ = ["extract_article"]

logger = logging.getLogger(__name__)

# Dates come from the page's markup (meta tags, JSON-LD, <time>, the URL), not from htmldate's
# "extensive" scan of the whole text: on pages with no date that scan reads the footer's
# "Copyright 2024" as a publication date (2024-01-01), and it is about a fifth of the extraction's CPU.
DATE_EXTRACTION = {"original_date": True, "extensive_search": False}
_HTML_LANG = re.compile(r"<html[^>]*\slang\s*=\s*[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)", re.I)
LANG_SNIFF_CHARS = 4096


def extract_article(page: FetchedPage) -> ExtractedArticle:
    """Extract the article of ``page``; raises :class:`ExtractionEmpty` when there is no text."""
    document = _bare_extraction(page)
    text = str(document.get("text") or "").strip()
    if not text:
        raise ExtractionEmpty(f"no article text found in {page.final_url}", url=page.url)
    return ExtractedArticle(
        url=page.url,
        final_url=page.final_url,
        title=_clean(document.get("title")),
        author=_clean(document.get("author")),
        published=_clean(document.get("date")),
        language=_clean(document.get("language")) or _html_lang(page.html),
        text=text,
        word_count=len(text.split()),
        fetched_bytes=page.fetched_bytes,
    )


def _bare_extraction(page: FetchedPage) -> dict[str, Any]:
    try:
        document = trafilatura.bare_extraction(
            page.html,
            url=page.final_url,
            with_metadata=True,
            include_comments=False,
            date_extraction_params={**DATE_EXTRACTION, "max_date": f"{datetime.now().astimezone():%Y-%m-%d}"},
        )
    except Exception as exc:  # trafilatura/lxml raise many types on hostile markup
        raise ExtractionEmpty(
            f"cannot parse {page.final_url}: {type(exc).__name__}: {exc}", url=page.url
        ) from exc
    if document is None:
        return {}
    if isinstance(document, dict):
        return document
    return dict(document.as_dict())


def _clean(value: object) -> str | None:
    """A stripped string, or None for missing or blank metadata."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _html_lang(html: str) -> str | None:
    """The page's declared ``<html lang>``, lower-cased primary tag (``de-AT`` -> ``de``)."""
    match = _HTML_LANG.search(html[:LANG_SNIFF_CHARS])
    return match.group(1).split("-", 1)[0].lower() if match else None
