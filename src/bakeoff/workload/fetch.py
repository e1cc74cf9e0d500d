"""The fetch phase: download one HTML page safely, whatever the URL or the server does.

Safety comes first: every hop's destination passes the SSRF guard (:mod:`bakeoff.workload.ssrf`)
before any connection, and the connection goes to the very address that was checked (the URL's
host travels in the ``Host`` header and TLS SNI). Redirects are followed by hand so each hop is
checked. The body is streamed under a byte cap that applies after decompression (a gzip bomb stops
at the cap), and a total deadline bounds drip-fed bodies. Every failure is an ``ImportFailed``.
"""

from __future__ import annotations

import codecs
import logging
import re
import ssl
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import SplitResult, urljoin, urlsplit

import httpx

from bakeoff.contract import InvalidRequest, validate_http_url
from bakeoff.workload.errors import (
    ConnectTimeout,
    Http4xx,
    Http5xx,
    InvalidUrl,
    NotHtml,
    ReadTimeout,
    TooLarge,
    TooManyRedirects,
)
from bakeoff.workload.models import FetchedPage, ImportSettings
from bakeoff.workload.ssrf import IPAddress, check_destination

__all__ = ["fetch_page"]

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
SNIFF_BYTES = 4096
USER_AGENT = "bakeoff-article-import/0.1 (+https://github.com/bakeoff)"
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HTML_SNIFF = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)", re.I | re.S)


@dataclass(frozen=True, kw_only=True)
class _Body:
    data: bytes
    wire_bytes: int


def fetch_page(url: str, *, settings: ImportSettings | None = None) -> FetchedPage:
    """Download ``url`` (following up to ``max_redirects`` checked hops) and decode it as HTML."""
    settings = settings or ImportSettings.from_env()
    deadline = time.monotonic() + settings.total_timeout
    current = url
    seen: set[str] = set()
    for _hop in range(settings.max_redirects + 1):
        seen.add(current)
        outcome = _fetch_once(current, settings, deadline)
        if isinstance(outcome, FetchedPage):
            return FetchedPage(**{**outcome.to_dict(), "url": url})
        if outcome in seen:
            raise TooManyRedirects(f"redirect loop: {current} leads back to {outcome}", url=url)
        current = outcome
    raise TooManyRedirects(f"more than {settings.max_redirects} redirects starting at {url}", url=url)


def _fetch_once(url: str, settings: ImportSettings, deadline: float) -> FetchedPage | str:
    """One request: the page, or the next URL when the response is a redirect."""
    parts = _parse_url(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = check_destination(
        parts.hostname or "", port, allow=settings.allow_rules, resolver=settings.resolver
    )
    with _open_stream(parts, address, port, settings, deadline) as response:
        if response.status_code in REDIRECT_STATUSES:
            return _redirect_target(url, response)
        _check_status(url, response)
        content_type = _check_content_type(url, response)
        body = _read_body(url, response, settings, deadline)
    html_bytes = body.data
    if not content_type and not _HTML_SNIFF.match(html_bytes[:SNIFF_BYTES]):
        raise NotHtml(f"{url} has no content type and does not look like HTML", url=url)
    charset = page_charset(response.headers.get("content-type", ""), html_bytes)
    return FetchedPage(
        url=url,
        final_url=url,
        status=response.status_code,
        content_type=content_type or "text/html",
        charset=charset,
        html=html_bytes.decode(charset, errors="replace"),
        fetched_bytes=body.wire_bytes,
    )


def _parse_url(url: str) -> SplitResult:
    try:
        validate_http_url(url)
    except InvalidRequest as exc:
        raise InvalidUrl(str(exc), url=url) from exc
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl(f"URLs with credentials are refused: {url[:80]!r}", url=url)
    if parts.port == 0:
        raise InvalidUrl(f"port 0 is not a valid port: {url[:80]!r}", url=url)
    return parts._replace(scheme=parts.scheme.lower())


@lru_cache(maxsize=8)
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """One verifying TLS context per CA bundle: building one costs milliseconds per fetch otherwise."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context


@lru_cache(maxsize=1)
def _plain_http_context() -> ssl.SSLContext:
    """What the transport gets for an ``http`` hop, which never negotiates TLS: a context that trusts
    no CA at all (fail-closed, were it ever used), without loading the system store. Loading the store
    costs ~60 ms of CPU, which every spawned legacy child would otherwise pay for plain HTTP."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


@contextmanager
def _open_stream(
    parts: SplitResult, address: IPAddress, port: int, settings: ImportSettings, deadline: float
) -> Iterator[httpx.Response]:
    """Stream a GET to the checked ``address``, presenting the URL's host name to the server."""
    remaining = _remaining(deadline, parts.geturl())
    host_literal = f"[{address}]" if address.version == 6 else str(address)
    target = f"{parts.scheme}://{host_literal}:{port}{parts.path or '/'}"
    if parts.query:
        target += f"?{parts.query}"
    headers = {
        "Host": parts.netloc.rpartition("@")[2],
        "User-Agent": USER_AGENT,
        "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
        "Accept-Encoding": "gzip, deflate",
    }
    timeout = httpx.Timeout(
        connect=min(settings.connect_timeout, remaining),
        read=min(settings.read_timeout, remaining),
        write=min(settings.read_timeout, remaining),
        pool=min(settings.connect_timeout, remaining),
    )
    extensions: dict[str, object] = {"timeout": timeout.as_dict()}
    if parts.scheme == "https":
        extensions["sni_hostname"] = parts.hostname or ""
    request = httpx.Request("GET", target, headers=headers, extensions=extensions)
    # The transport, not a Client: a Client parses Location headers itself (and fails on spellings
    # like 0177.0.0.1 before our guard sees them); redirects are ours to follow and check.
    with (
        _translate_errors(parts.geturl()),
        httpx.HTTPTransport(verify=tls_verification(parts, settings), trust_env=False) as transport,
    ):
        response = transport.handle_request(request)
        try:
            yield response
        finally:
            response.close()


def tls_verification(parts: SplitResult, settings: ImportSettings) -> ssl.SSLContext:
    """The TLS context for a fetch: the CA store (loaded only for https hops) or a plain-HTTP one."""
    return _tls_context(settings.ca_file) if parts.scheme == "https" else _plain_http_context()


@contextmanager
def _translate_errors(url: str) -> Iterator[None]:
    """Turn httpx's transport errors into the import's stable error kinds."""
    try:
        yield
    except (httpx.ConnectTimeout, httpx.ConnectError) as exc:
        raise ConnectTimeout(f"cannot connect to {url}: {exc or type(exc).__name__}", url=url) from exc
    except httpx.TimeoutException as exc:
        raise ReadTimeout(f"{url} did not answer in time: {exc or type(exc).__name__}", url=url) from exc
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
        raise ReadTimeout(f"connection to {url} broke: {exc or type(exc).__name__}", url=url) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise InvalidUrl(f"{url} cannot be requested: {exc}", url=url) from exc


def _remaining(deadline: float, url: str) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ReadTimeout(f"{url}: the total fetch deadline passed", url=url)
    return remaining


def _redirect_target(url: str, response: httpx.Response) -> str:
    location = str(response.headers.get("location", "")).strip()
    if not location:
        raise Http4xx(f"{url} answered {response.status_code} without a Location", url=url, status=400)
    return urljoin(url, location)


def _check_status(url: str, response: httpx.Response) -> None:
    status = response.status_code
    if status >= 500:
        raise Http5xx(f"{url} answered {status}", url=url, status=status)
    if status >= 400 or not 200 <= status < 300:
        raise Http4xx(f"{url} answered {status}", url=url, status=status)


def _check_content_type(url: str, response: httpx.Response) -> str:
    """The media type ('' when absent); anything but HTML is refused before reading the body."""
    media_type = str(response.headers.get("content-type", "")).split(";", 1)[0].strip().lower()
    if media_type and media_type not in HTML_TYPES:
        raise NotHtml(f"{url} is {media_type}, not HTML", url=url)
    return media_type


def _read_body(url: str, response: httpx.Response, settings: ImportSettings, deadline: float) -> _Body:
    """Stream the body, decompressing as it comes, stopping at the byte cap or the deadline."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise TooLarge(f"{url} declares {declared} bytes; the cap is {settings.max_bytes}", url=url)
    decoder = _decoder(url, response.headers.get("content-encoding", ""))
    out = bytearray()
    wire = 0
    with _translate_errors(url):
        # No chunk_size: httpx would otherwise buffer up to it, and a drip-fed body would never
        # reach the deadline check below.
        for chunk in response.iter_raw():
            wire += len(chunk)
            _remaining(deadline, url)
            if wire > settings.max_bytes:
                raise TooLarge(f"{url} sent more than {settings.max_bytes} bytes", url=url)
            out += decoder.feed(chunk, settings.max_bytes + 1 - len(out))
            if len(out) > settings.max_bytes:
                raise TooLarge(f"{url} decodes to more than {settings.max_bytes} bytes", url=url)
    out += decoder.flush(settings.max_bytes + 1 - len(out))
    if len(out) > settings.max_bytes:
        raise TooLarge(f"{url} decodes to more than {settings.max_bytes} bytes", url=url)
    return _Body(data=bytes(out), wire_bytes=wire)


class _Decoder:
    """Bounded content decoding: never produces more than asked for, so bombs stay small."""

    def __init__(self, url: str, wbits: int | None) -> None:
        self._url = url
        self._zlib = zlib.decompressobj(wbits) if wbits is not None else None

    def feed(self, data: bytes, limit: int) -> bytes:
        if self._zlib is None:
            return data
        try:
            # max_length bounds the output; leftover input waits in unconsumed_tail and is only
            # decoded when asked again, so a bomb never inflates past the cap in memory.
            output = self._zlib.decompress(self._zlib.unconsumed_tail + data, max(limit, 1))
        except zlib.error as exc:
            raise NotHtml(f"{self._url}: the compressed body is corrupt ({exc})", url=self._url) from exc
        return output

    def flush(self, limit: int) -> bytes:
        if self._zlib is None:
            return b""
        return self.feed(b"", limit)


def _decoder(url: str, content_encoding: str) -> _Decoder:
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return _Decoder(url, None)
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Decoder(url, zlib.MAX_WBITS | 32)  # 32: accept a gzip or zlib header
    raise NotHtml(f"{url} uses content encoding {encoding!r}, which the import cannot decode", url=url)


def page_charset(content_type_header: str, body: bytes) -> str:
    """The charset from the header, else a BOM, else a ``<meta>`` tag, else UTF-8; always a known codec."""
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type_header, re.I)
    candidates = [match.group(1) if match else None]
    if body.startswith(codecs.BOM_UTF8):
        candidates.append("utf-8-sig")
    elif body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates.append("utf-16")
    meta = _META_CHARSET.search(body[:SNIFF_BYTES])
    candidates.append(meta.group(1).decode("ascii", "replace") if meta else None)
    for candidate in candidates:
        if candidate:
            try:
                return str(codecs.lookup(candidate).name)
            except LookupError:
                logger.debug("unknown charset %r; trying the next source", candidate)
    return "utf-8"
