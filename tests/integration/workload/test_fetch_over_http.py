"""fetch_page against a real HTTP server on loopback: every fetch-phase error kind, caps and hops."""

from __future__ import annotations

import socket

import pytest

from bakeoff.workload import ImportSettings, fetch_page
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.corpus import plan_page, render_page
from bakeoff.workload.errors import (
    BlockedAddress,
    ConnectTimeout,
    DnsError,
    Http4xx,
    Http5xx,
    ImportFailed,
    InvalidUrl,
    NotHtml,
    ReadTimeout,
    TooLarge,
    TooManyRedirects,
)
from bakeoff.workload.ssrf import StaticResolver


def _kind(url: str, settings: ImportSettings) -> str:
    with pytest.raises(ImportFailed) as caught:
        fetch_page(url, settings=settings)
    return caught.value.error_kind


def test_an_article_is_fetched_and_decoded(article_server: ArticleServer, settings: ImportSettings) -> None:
    page = fetch_page(article_server.url("/articles/1"), settings=settings)
    assert page.status == 200 and page.content_type == "text/html"
    assert page.html.encode(page.charset) == render_page(0, 1).body
    assert page.fetched_bytes == len(render_page(0, 1).body)


def test_the_server_is_blocked_without_the_allowlist(article_server: ArticleServer) -> None:
    """Loopback is refused by default: the allowlist is what opens the local server."""
    with pytest.raises(BlockedAddress):
        fetch_page(article_server.url("/articles/1"), settings=ImportSettings())


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a", "http://", "not a url", "http://user:pw@example.com/"]
)
def test_malformed_urls_are_invalid_url(url: str, settings: ImportSettings) -> None:
    with pytest.raises(InvalidUrl):
        fetch_page(url, settings=settings)


def test_an_unknown_host_is_a_retryable_dns_error(settings: ImportSettings) -> None:
    settings = settings.with_overrides(resolver=StaticResolver(table={}))
    with pytest.raises(DnsError) as caught:
        fetch_page("http://no-such-host.invalid/", settings=settings)
    assert caught.value.retryable


def test_a_refused_connection_is_connect_timeout() -> None:
    """Nothing listens on the port: the connect fails (kind connect_timeout, retryable)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ImportSettings(allow_hosts=(f"127.0.0.1:{port}",), connect_timeout=1.0)
    with pytest.raises(ConnectTimeout) as caught:
        fetch_page(f"http://127.0.0.1:{port}/", settings=settings)
    assert caught.value.retryable


def test_a_stalled_response_is_read_timeout(article_server: ArticleServer, settings: ImportSettings) -> None:
    with pytest.raises(ReadTimeout) as caught:
        fetch_page(
            article_server.url("/test/slow?seconds=5"), settings=settings.with_overrides(read_timeout=0.5)
        )
    assert caught.value.retryable


def test_a_drip_fed_body_stops_at_the_total_deadline(
    article_server: ArticleServer, settings: ImportSettings
) -> None:
    """Each byte arrives well within the read timeout; only the total deadline can end it."""
    settings = settings.with_overrides(read_timeout=5.0, total_timeout=1.0)
    with pytest.raises(ReadTimeout, match="deadline"):
        fetch_page(article_server.url("/test/drip"), settings=settings)


def test_a_reset_connection_is_read_timeout(article_server: ArticleServer, settings: ImportSettings) -> None:
    assert _kind(article_server.url("/test/reset"), settings) == "read_timeout"


@pytest.mark.parametrize(
    ("status", "error"), [(404, Http4xx), (410, Http4xx), (500, Http5xx), (503, Http5xx)]
)
def test_error_statuses_map_to_http_kinds(
    article_server: ArticleServer, settings: ImportSettings, status: int, error: type[ImportFailed]
) -> None:
    with pytest.raises(error) as caught:
        fetch_page(article_server.url(f"/test/status/{status}"), settings=settings)
    assert caught.value.retryable is (status >= 500)


@pytest.mark.parametrize("declare", ["0", "1"])
def test_a_50_mb_body_is_too_large_declared_or_streamed(
    article_server: ArticleServer, settings: ImportSettings, declare: str
) -> None:
    url = article_server.url(f"/test/big?bytes={50 * 1024 * 1024}&declare={declare}")
    assert _kind(url, settings) == "too_large"


def test_the_byte_cap_is_exact(article_server: ArticleServer, settings: ImportSettings) -> None:
    settings = settings.with_overrides(max_bytes=20_000)
    assert fetch_page(article_server.url("/test/big?bytes=20000"), settings=settings).fetched_bytes == 20_000
    assert _kind(article_server.url("/test/big?bytes=20001"), settings) == "too_large"


def test_a_gzip_bomb_stops_at_the_cap(article_server: ArticleServer, settings: ImportSettings) -> None:
    with pytest.raises(TooLarge, match="decodes"):
        fetch_page(article_server.url("/test/gzip-bomb"), settings=settings)


def test_a_pdf_is_not_html(article_server: ArticleServer, settings: ImportSettings) -> None:
    with pytest.raises(NotHtml):
        fetch_page(article_server.url("/test/not-html"), settings=settings)


def test_html_without_a_content_type_is_sniffed(
    article_server: ArticleServer, settings: ImportSettings
) -> None:
    page = fetch_page(article_server.url("/test/no-content-type"), settings=settings)
    assert page.content_type == "text/html" and "<html" in page.html


def test_invalid_utf8_is_replaced_not_fatal(article_server: ArticleServer, settings: ImportSettings) -> None:
    page = fetch_page(article_server.url("/test/bad-utf8"), settings=settings)
    assert "\ufffd" in page.html


def test_a_meta_only_latin1_page_is_decoded_with_its_charset(
    article_server: ArticleServer, settings: ImportSettings
) -> None:
    plan = next(p for p in (plan_page(0, i) for i in range(500)) if p.encoding == "iso-8859-1")
    page = fetch_page(article_server.url(f"/articles/{plan.index}"), settings=settings)
    assert page.charset == "iso8859-1"
    assert page.html.encode("iso-8859-1") == render_page(0, plan.index).body
    assert any(ch in page.html for ch in "àâçéèêëîïôûùüÿñæœäöüß")


def test_redirects_are_followed_up_to_the_limit(
    article_server: ArticleServer, settings: ImportSettings
) -> None:
    page = fetch_page(article_server.url("/test/redirect/5"), settings=settings)
    assert page.final_url.endswith("/test/redirect/0") and page.url.endswith("/test/redirect/5")
    with pytest.raises(TooManyRedirects):
        fetch_page(article_server.url("/test/redirect/6"), settings=settings)


def test_a_redirect_loop_is_too_many_redirects(
    article_server: ArticleServer, settings: ImportSettings
) -> None:
    with pytest.raises(TooManyRedirects, match="loop"):
        fetch_page(article_server.url("/test/loop"), settings=settings)


HOP_TARGETS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/admin",
    "http://localhost/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://localhost./",
    "http://192.168.0.1/",
    "http://[fd00::1]/",
]


@pytest.mark.parametrize("target", HOP_TARGETS)
def test_a_redirect_hop_to_an_internal_address_is_blocked_before_connecting(
    article_server: ArticleServer, settings: ImportSettings, target: str
) -> None:
    """The first hop is allowlisted; the hop it redirects to is checked again and refused."""
    url = article_server.url(f"/test/redirect-to?url={target}")
    with pytest.raises(BlockedAddress):
        fetch_page(url, settings=settings)


def test_an_invalid_redirect_target_is_invalid_url(
    article_server: ArticleServer, settings: ImportSettings
) -> None:
    assert _kind(article_server.url("/test/redirect-to?url=gopher://x/"), settings) == "invalid_url"


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(
    article_server: ArticleServer,
) -> None:
    """A name is resolved once per hop and that answer is used, so DNS rebinding cannot swap it."""
    resolver = StaticResolver(table={"articles.test": ["127.0.0.1"]})
    settings = ImportSettings(allow_hosts=("127.0.0.0/8",), resolver=resolver)
    page = fetch_page(f"http://articles.test:{article_server.port}/articles/2", settings=settings)
    assert page.status == 200
    assert resolver.lookups == ["articles.test"]


def test_without_settings_the_allowlist_comes_from_the_environment(
    article_server: ArticleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spawned workers pass no settings: BAKEOFF_IMPORT_ALLOW_HOSTS is what opens the local server."""
    url = article_server.url("/articles/2")
    monkeypatch.delenv("BAKEOFF_IMPORT_ALLOW_HOSTS", raising=False)
    with pytest.raises(BlockedAddress):
        fetch_page(url)
    monkeypatch.setenv("BAKEOFF_IMPORT_ALLOW_HOSTS", article_server.allow_hosts_value)
    assert fetch_page(url).status == 200
