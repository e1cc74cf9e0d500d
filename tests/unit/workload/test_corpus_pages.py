"""The synthetic corpus is deterministic and varied: templates, sizes, languages, metadata, charsets."""

from __future__ import annotations

from collections import Counter

from bakeoff.workload.corpus import TEMPLATES, page_size_target, render_page


def test_same_seed_and_index_give_the_same_bytes() -> None:
    render_page.cache_clear()
    first = render_page(3, 17)
    render_page.cache_clear()
    assert render_page(3, 17) == first
    assert render_page(4, 17).body != first.body


def test_sizes_span_1_kb_to_2_mb() -> None:
    sizes = [page_size_target(0, i) for i in range(2000)]
    assert min(sizes) >= 1024 and max(sizes) <= 2 * 1024 * 1024
    assert min(sizes) < 4 * 1024 and max(sizes) > 1024 * 1024


def test_rendered_size_follows_the_target() -> None:
    for index in range(10):
        size = len(render_page(1, index).body)
        assert 1024 <= size <= 2 * 1024 * 1024
        assert abs(size - page_size_target(1, index)) < 0.3 * page_size_target(1, index) + 4096


def test_corpus_mixes_templates_languages_metadata_and_charsets() -> None:
    pages = [render_page(0, i) for i in range(60)]
    assert {p.template for p in pages} == set(TEMPLATES)
    languages = Counter(p.language for p in pages)
    assert languages["en"] > 30 and len(languages) >= 3
    assert any(p.author for p in pages) and any(p.author is None for p in pages)
    assert any(p.published for p in pages) and any(p.published is None for p in pages)
    assert any(p.header_charset is None for p in pages)


def test_boilerplate_surrounds_the_article() -> None:
    body = render_page(0, 0).body
    for marker in (b"<nav", b"Advertisement", b"Related", b"cookie-banner", b"<footer"):
        assert marker in body
