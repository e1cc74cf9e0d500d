"""A deterministic synthetic corpus of article pages: same seed and index, same bytes.

Five templates (news story, blog post with comments, forum thread, newsletter, documentation page)
wrap generated prose in realistic boilerplate (navigation, ads, related links, cookie banner,
footer), so extraction has real work to do. Sizes run from about 1 KB to 2 MB, a fifth of the
pages are not English, some carry author/date metadata and some do not, and a few declare their
charset only in a ``<meta>`` tag (one of them in ISO-8859-1).
"""

from __future__ import annotations

import hashlib
import html
import random
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["LANGUAGES", "TEMPLATES", "CorpusPage", "PagePlan", "page_size_target", "plan_page", "render_page"]

TEMPLATES = ("news", "blog", "forum", "newsletter", "docs")


def _vocabulary(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_WORDS = {
    "en": _vocabulary(
        "the council approved a new budget for public transport after months of debate while residents "
        "asked about schools housing water prices energy bills climate research market growth hospital "
        "staff rail network bridge repairs library hours small business owners local farmers weather "
        "station report analysis evidence policy reform careful review committee members announced"
    ),
    "de": _vocabulary(
        "der stadtrat hat einen neuen haushalt für den öffentlichen verkehr beschlossen nachdem die "
        "bürger über schulen wohnungen wasserpreise energiekosten klimaforschung wachstum krankenhaus "
        "personal bahnnetz brücken bibliothek kleine betriebe landwirte wetter bericht analyse gesetz"
    ),
    "fr": _vocabulary(
        "le conseil municipal a approuvé un nouveau budget pour les transports publics après des mois "
        "de débat pendant que les habitants parlaient des écoles logements prix de l'eau énergie climat "
        "recherche croissance hôpital réseau ferroviaire pont bibliothèque commerces agriculteurs"
    ),
    "es": _vocabulary(
        "el ayuntamiento aprobó un nuevo presupuesto para el transporte público después de meses de "
        "debate mientras los vecinos preguntaban por escuelas vivienda precios del agua energía clima "
        "investigación crecimiento hospital red ferroviaria puente biblioteca comercios agricultores"
    ),
}
LANGUAGES = tuple(_WORDS)
_AUTHORS = ("Jane Roe", "Amal Haddad", "Kenji Watanabe", "Lucía Fernández", "Ole Brandt", "Chloé Martin")
_MIN_BYTES = 1024
_MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class CorpusPage:
    """One generated page and the facts a test can check extraction against."""

    index: int
    template: str
    language: str
    title: str
    author: str | None
    published: str | None
    header_charset: str | None
    """Charset sent in the Content-Type header; None means only the ``<meta>`` tag declares it."""
    body: bytes


def _rng(seed: int, index: int, purpose: str) -> random.Random:
    digest = hashlib.sha256(f"corpus:{seed}:{index}:{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def page_size_target(seed: int, index: int) -> int:
    """Target HTML size in bytes: mostly 2-40 KB, some 40-300 KB, about 2% up to 2 MB."""
    rng = _rng(seed, index, "size")
    roll = rng.random()
    if roll < 0.80:
        size = rng.randint(2 * 1024, 40 * 1024)
    elif roll < 0.98:
        size = rng.randint(40 * 1024, 300 * 1024)
    else:
        size = rng.randint(300 * 1024, _MAX_BYTES - 64 * 1024)
    return max(_MIN_BYTES, size)


def _sentence(rng: random.Random, words: tuple[str, ...] | list[str]) -> str:
    chosen = [rng.choice(words) for _ in range(rng.randint(8, 18))]
    return " ".join(chosen).capitalize() + "."


def _paragraphs(rng: random.Random, language: str, target_chars: int) -> list[str]:
    words = _WORDS[language]
    paragraphs: list[str] = []
    total = 0
    while total < target_chars:
        paragraph = " ".join(_sentence(rng, words) for _ in range(rng.randint(3, 7)))
        paragraphs.append(paragraph)
        total += len(paragraph) + 8
    return paragraphs


def _boilerplate_nav() -> str:
    links = "".join(f'<li><a href="/section/{name}">{name.title()}</a></li>' for name in _SECTIONS)
    return f'<header class="site"><nav class="menu"><ul>{links}</ul></nav></header>'


_SECTIONS = ("home", "world", "business", "science", "sport", "culture", "opinion", "contact")


def _boilerplate_aside(rng: random.Random) -> str:
    related = "".join(
        f'<li><a href="/articles/{rng.randint(0, 9999)}">Related story {n}</a></li>' for n in range(6)
    )
    return (
        '<aside class="ad-slot"><div class="advert">Advertisement - Subscribe now for 1 EUR</div></aside>'
        f'<aside class="related"><h3>Related</h3><ul>{related}</ul></aside>'
    )


def _boilerplate_footer() -> str:
    return (
        '<div id="cookie-banner">We use cookies to improve your experience. <button>Accept</button></div>'
        '<footer class="site-footer"><p>Copyright 2024 Example Media Group. All rights reserved.</p>'
        '<a href="/privacy">Privacy</a> <a href="/terms">Terms</a> <a href="/imprint">Imprint</a></footer>'
    )


def _head(
    page_title: str, language: str, author: str | None, published: str | None, meta_charset: str
) -> str:
    meta = [f'<meta charset="{meta_charset}">', f"<title>{html.escape(page_title)}</title>"]
    if author:
        meta.append(f'<meta name="author" content="{html.escape(author)}">')
    if published:
        meta.append(f'<meta property="article:published_time" content="{published}">')
    meta.append('<meta name="viewport" content="width=device-width, initial-scale=1">')
    return f'<!DOCTYPE html><html lang="{language}"><head>{"".join(meta)}</head>'


def _byline(author: str | None, published: str | None) -> str:
    parts = []
    if author:
        parts.append(
            f'<span class="byline">By <a rel="author" href="/authors/x">{html.escape(author)}</a></span>'
        )
    if published:
        parts.append(f'<time datetime="{published}">{published}</time>')
    return f'<p class="meta">{" ".join(parts)}</p>' if parts else ""


def _main(template: str, rng: random.Random, title: str, byline: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if template == "news":
        return f'<main><article class="story"><h1>{html.escape(title)}</h1>{byline}{body}</article></main>'
    if template == "blog":
        comments = "".join(
            f'<li class="comment"><b>reader{n}</b>: Great post, thanks!</li>'
            for n in range(rng.randint(2, 6))
        )
        return (
            f'<div class="post"><h1 class="entry-title">{html.escape(title)}</h1>{byline}'
            f'<div class="entry-content">{body}</div></div>'
            f'<section id="comments"><h3>Comments</h3><ol>{comments}</ol></section>'
        )
    if template == "forum":
        posts = "".join(
            f'<div class="post"><div class="poster">user{n}</div><div class="message"><p>{html.escape(p)}</p>'
            f"</div></div>"
            for n, p in enumerate(paragraphs)
        )
        return f'<div class="thread"><h1>{html.escape(title)}</h1>{byline}{posts}</div>'
    if template == "newsletter":
        return (
            f'<table class="newsletter" width="100%"><tr><td><h1>{html.escape(title)}</h1>{byline}'
            f'{body}<p class="unsubscribe"><a href="/unsubscribe">Unsubscribe</a></p></td></tr></table>'
        )
    toc = (
        '<nav class="toc"><ul><li><a href="#intro">Introduction</a></li>'
        '<li><a href="#use">Usage</a></li></ul></nav>'
    )
    return (
        f'<div class="docs">{toc}<article class="document"><h1>{html.escape(title)}</h1>{byline}'
        f"{body}<pre><code>bakeoff articles serve --port 8080</code></pre></article></div>"
    )


@dataclass(frozen=True, kw_only=True)
class PagePlan:
    """A page's facts, decided before (and much faster than) rendering its body."""

    index: int
    template: str
    language: str
    title: str
    author: str | None
    published: str | None
    encoding: str
    header_charset: str | None
    size_target: int


def plan_page(seed: int, index: int) -> PagePlan:
    """The facts of page ``index`` for ``seed`` (pure and cheap: no body is generated)."""
    rng = _rng(seed, index, "plan")
    language = "en" if rng.random() < 0.8 else rng.choice(LANGUAGES[1:])
    words = _WORDS[language]
    title = " ".join(rng.choice(words) for _ in range(rng.randint(4, 8))).capitalize()
    author = rng.choice(_AUTHORS) if rng.random() < 0.6 else None
    published = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" if rng.random() < 0.6 else None
    charset_roll = rng.random()
    # ~5% declare ISO-8859-1 in <meta> only (non-English, so accents prove the decoding); another
    # ~5% declare UTF-8 in <meta> only; the rest also send it in the Content-Type header.
    use_latin1 = charset_roll < 0.05 and language != "en"
    return PagePlan(
        index=index,
        template=TEMPLATES[index % len(TEMPLATES)],
        language=language,
        title=title,
        author=author,
        published=published,
        encoding="iso-8859-1" if use_latin1 else "utf-8",
        header_charset=None if use_latin1 or charset_roll < 0.10 else "utf-8",
        size_target=page_size_target(seed, index),
    )


# 256 pages average ~25 MB; a benchmark over the default 500-page corpus mostly hits the cache.
@lru_cache(maxsize=256)
def render_page(seed: int, index: int) -> CorpusPage:
    """The page at ``index`` of the corpus for ``seed`` (pure; cached)."""
    plan = plan_page(seed, index)
    rng = _rng(seed, index, "body")
    paragraphs = _paragraphs(rng, plan.language, max(400, plan.size_target - 3000))
    byline = _byline(plan.author, plan.published)
    document = (
        f"{_head(plan.title, plan.language, plan.author, plan.published, plan.encoding)}<body>"
        f"{_boilerplate_nav()}{_boilerplate_aside(rng)}"
        f"{_main(plan.template, rng, plan.title, byline, paragraphs)}{_boilerplate_footer()}</body></html>"
    )
    return CorpusPage(
        index=index,
        template=plan.template,
        language=plan.language,
        title=plan.title,
        author=plan.author,
        published=plan.published,
        header_charset=plan.header_charset,
        body=document.encode(plan.encoding, errors="xmlcharrefreplace"),
    )
