"""Extraction on every corpus template finds the text, and the title and author where the page has them."""

from __future__ import annotations

import pytest

from bakeoff.workload import FetchedPage, extract_article
from bakeoff.workload.corpus import TEMPLATES, CorpusPage, render_page
from bakeoff.workload.errors import ExtractionEmpty

SEED = 0


def _as_fetched(page: CorpusPage) -> FetchedPage:
    charset = page.header_charset or ("iso-8859-1" if b'charset="iso-8859-1"' in page.body[:300] else "utf-8")
    return FetchedPage(
        url=f"http://articles.test/articles/{page.index}",
        final_url=f"http://articles.test/articles/{page.index}",
        status=200,
        content_type="text/html",
        charset=charset,
        html=page.body.decode(charset),
        fetched_bytes=len(page.body),
    )


def _first_small(template: str, *, with_author: bool) -> CorpusPage:
    for index in range(400):
        page = render_page(SEED, index)
        if page.template == template and (page.author is not None) == with_author and len(page.body) < 60_000:
            return page
    raise AssertionError(f"no small {template} page with_author={with_author} in the corpus")


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_yields_title_author_and_main_text(template: str) -> None:
    page = _first_small(template, with_author=True)
    article = extract_article(_as_fetched(page))
    assert article.title == page.title
    assert article.author == page.author
    assert article.word_count > 50
    assert "Advertisement" not in article.text and "cookies" not in article.text
    assert article.language == page.language


@pytest.mark.parametrize("template", TEMPLATES)
def test_pages_without_an_author_extract_none_for_it(template: str) -> None:
    page = _first_small(template, with_author=False)
    article = extract_article(_as_fetched(page))
    assert article.author is None
    assert article.title == page.title


def test_published_date_is_found_where_the_page_declares_it() -> None:
    page = next(p for p in (render_page(SEED, i) for i in range(50)) if p.published and len(p.body) < 60_000)
    assert extract_article(_as_fetched(page)).published == page.published


def test_pages_without_a_date_extract_none_not_the_copyright_year() -> None:
    """Dates come from the markup only: the footer's "Copyright 2024" is not a publication date."""
    pages = [render_page(SEED, i) for i in range(60)]
    pages = [p for p in pages if p.published is None and len(p.body) < 60_000]
    assert len(pages) >= 5
    assert [extract_article(_as_fetched(p)).published for p in pages] == [None] * len(pages)


def test_non_english_page_keeps_its_language_and_accents() -> None:
    page = next(
        p for p in (render_page(SEED, i) for i in range(200)) if p.language != "en" and len(p.body) < 60_000
    )
    article = extract_article(_as_fetched(page))
    assert article.language == page.language
    assert article.title == page.title


def test_a_page_with_no_article_text_is_extraction_empty() -> None:
    shell = (
        "<!DOCTYPE html><html><head><title>App</title></head><body><div id='root'></div>"
        "<script>boot()</script></body></html>"
    )
    page = FetchedPage(
        url="http://a.test/",
        final_url="http://a.test/",
        status=200,
        content_type="text/html",
        charset="utf-8",
        html=shell,
        fetched_bytes=len(shell),
    )
    with pytest.raises(ExtractionEmpty) as caught:
        extract_article(page)
    assert not caught.value.retryable
