"""A local article server: real HTTP on loopback serving the synthetic corpus under a fault profile.

Tests, benchmarks and the demo import from it instead of the internet. ``/articles/{n}`` serves
corpus page ``n mod corpus_size`` with the fate :func:`bakeoff.workload.faults.fate_for` gives
that path at its attempt number (how many times this server has seen the path). ``/test/...``
endpoints produce one behaviour each, whatever the profile, so every error kind can be provoked
on purpose (see :data:`TEST_ENDPOINTS`). Every wait is bounded and ends when the server stops.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import threading
import zlib
from collections import Counter
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bakeoff.contract import ConfigurationError
from bakeoff.workload.corpus import render_page
from bakeoff.workload.faults import PROFILES, Fate, fate_for
from bakeoff.workload.models import ImportSettings

__all__ = ["PROFILES", "TEST_ENDPOINTS", "ArticleServer"]

logger = logging.getLogger(__name__)

HUGE_BODY_BYTES = 50 * 1024 * 1024
BOMB_DECODED_BYTES = 16 * 1024 * 1024
MAX_HOLD_SECONDS = 120.0
WRITE_BLOCK = 64 * 1024
INTERNAL_TARGETS = {
    "metadata": "http://169.254.169.254/latest/meta-data/",
    "private": "http://10.0.0.1/admin",
    "localhost": "http://localhost/",
    "ipv6": "http://[::1]/",
}
TEST_ENDPOINTS = (
    "/test/status/{code}",
    "/test/redirect/{n}",
    "/test/redirect-to?url=",
    "/test/loop",
    "/test/internal-redirect?to=metadata|private|localhost|ipv6",
    "/test/slow?seconds=",
    "/test/drip",
    "/test/big?bytes=&declare=0|1",
    "/test/gzip-bomb",
    "/test/not-html",
    "/test/empty",
    "/test/bad-utf8",
    "/test/reset",
    "/test/no-content-type",
)
_CONNECTION_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """About 16 KB of gzip that inflates to 16 MiB of zeros, three times the default cap.

    Built block by block, so even the server never holds the inflated body.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(BOMB_DECODED_BYTES // len(block))]
    return b"".join(parts) + compressor.flush()


def _empty_page() -> bytes:
    """A single-page-app shell: a real page with no article text in its HTML at all."""
    return (
        b"<!DOCTYPE html><html lang='en'><head><title>App</title><script src='/app.js'></script>"
        b"</head><body><div id='root'></div><script>window.__STATE__={}</script></body></html>"
    )


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to the owning :class:`ArticleServer`."""

    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection; bodies end when the socket closes

    def do_GET(self) -> None:
        try:
            self.server.owner.handle_request(self)
        except _CONNECTION_GONE:
            logger.debug("client went away during %s", self.path)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("article server: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default listen backlog of 5 refuses bursts from many workers
    owner: ArticleServer


class _Server6(_Server):
    address_family = socket.AF_INET6


class ArticleServer:
    """The local article server; a context manager (or ``start()``/``stop()``)."""

    def __init__(
        self,
        *,
        profile: str = "none",
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        corpus_size: int = 500,
        latency_scale: float = 1.0,
        hold_seconds: float = 12.0,
        drip_interval: float = 0.25,
    ) -> None:
        if profile not in PROFILES:
            raise ConfigurationError(f"profile must be one of {', '.join(PROFILES)}; got {profile!r}")
        if not ipaddress.ip_address(host).is_loopback:
            raise ConfigurationError(f"host must be a loopback address, got {host!r}")
        if corpus_size < 1:
            raise ConfigurationError(f"corpus_size must be at least 1, got {corpus_size}")
        if not 0 <= hold_seconds <= MAX_HOLD_SECONDS:
            raise ConfigurationError(f"hold_seconds must be within 0..{MAX_HOLD_SECONDS}, got {hold_seconds}")
        self.profile, self.seed, self.host, self.corpus_size = profile, seed, host, corpus_size
        self.latency_scale, self.hold_seconds, self.drip_interval = latency_scale, hold_seconds, drip_interval
        self._requested_port = port
        self._attempts: Counter[str] = Counter()
        self._faults_served: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> ArticleServer:
        """Bind and serve in a background thread; returns self."""
        if self._httpd is not None:
            return self
        server_class = _Server6 if ":" in self.host else _Server
        httpd = server_class((self.host, self._requested_port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="article-server", daemon=True
        )
        self._thread.start()
        # Build the bomb in the background now, so its first request is not slowed by building it.
        threading.Thread(target=gzip_bomb, name="article-server-bomb", daemon=True).start()
        logger.info("article server on %s (profile=%s, seed=%d)", self.base_url, self.profile, self.seed)
        return self

    def stop(self) -> None:
        """Stop serving; waiting handlers are released at once."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> ArticleServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- addresses -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise ConfigurationError("the article server is not running")
        return int(self._httpd.server_address[1])

    @property
    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self._netloc}"

    @property
    def allow_hosts_value(self) -> str:
        """What to put in ``BAKEOFF_IMPORT_ALLOW_HOSTS`` so a child process may fetch from here."""
        return self._netloc

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def article_urls(self, n: int) -> list[str]:
        """``n`` distinct article URLs (pages repeat past ``corpus_size``; fates do not)."""
        return [self.url(f"/articles/{index}") for index in range(n)]

    def import_settings(self, **overrides: Any) -> ImportSettings:
        """Import settings whose allowlist opens exactly this server."""
        return ImportSettings(**{"allow_hosts": (self.allow_hosts_value,), **overrides})

    # --- bookkeeping ----------------------------------------------------------------------------

    def attempts(self, path: str) -> int:
        """How many requests this server has seen for ``path`` (path and query)."""
        with self._lock:
            return self._attempts[path]

    def faults_served(self) -> dict[str, int]:
        """How many article requests got each fault so far."""
        with self._lock:
            return dict(self._faults_served)

    def _next_attempt(self, path: str) -> int:
        with self._lock:
            self._attempts[path] += 1
            return self._attempts[path]

    # --- request handling ------------------------------------------------------------------------

    def handle_request(self, request: _Handler) -> None:
        """Route one GET: an article under the profile's fate, a test endpoint, or a 404."""
        parts = urlsplit(request.path)
        if parts.path.startswith("/articles/"):
            self._serve_article(request, parts.path.removeprefix("/articles/"), request.path)
        elif parts.path.startswith("/test/"):
            self._serve_test(request, parts.path.removeprefix("/test/"), parse_qs(parts.query))
        else:
            self._send(request, 404, b"<html><body><p>not found</p></body></html>")

    def _serve_article(self, request: _Handler, index_text: str, path: str) -> None:
        if not index_text.isdigit():
            self._send(request, 404, b"<html><body><p>no such article</p></body></html>")
            return
        fate = fate_for(
            self.profile, self.seed, path, self._next_attempt(path), latency_scale=self.latency_scale
        )
        with self._lock:
            self._faults_served[fate.fault] += 1
        if fate.latency_ms > 0 and self._stopping.wait(min(fate.latency_ms / 1000, MAX_HOLD_SECONDS)):
            return
        self._apply_fate(request, fate, int(index_text) % self.corpus_size)

    def _apply_fate(self, request: _Handler, fate: Fate, index: int) -> None:
        if fate.fault == "ok":
            self._send_article(request, index)
        elif fate.fault in ("http_5xx", "not_found"):
            self._send(request, fate.status, f"<html><body><p>error {fate.status}</p></body></html>".encode())
        elif fate.fault == "timeout":
            if not self._stopping.wait(self.hold_seconds):
                self._send_article(request, index)
        elif fate.fault == "reset":
            self._reset(request)
        else:
            self._serve_hostile(request, fate.fault, index)

    def _serve_hostile(self, request: _Handler, fault: str, index: int) -> None:
        if fault == "drip":
            self._drip(request)
        elif fault == "huge":
            self._huge(request, HUGE_BODY_BYTES, declare=False)
        elif fault == "redirect_loop":
            self._redirect(request, request.path)
        elif fault == "redirect_internal":
            targets = list(INTERNAL_TARGETS.values())
            self._redirect(request, targets[index % len(targets)])
        elif fault == "not_html":
            self._send(
                request, 200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", content_type="application/pdf"
            )
        elif fault == "invalid_utf8":
            self._send_invalid_utf8(request, index)
        else:
            self._send(request, 200, gzip_bomb(), headers={"Content-Encoding": "gzip"})

    def _serve_test(self, request: _Handler, name: str, query: dict[str, list[str]]) -> None:
        def arg(key: str, default: str) -> str:
            return query.get(key, [default])[0]

        head, _, rest = name.partition("/")
        if head == "status" and rest.isdigit():
            status = int(rest)
            self._send(request, status, f"<html><body><p>status {status}</p></body></html>".encode())
        elif head == "redirect" and rest.isdigit():
            hops = int(rest)
            self._redirect(request, f"/test/redirect/{hops - 1}") if hops > 0 else self._send_article(
                request, 0
            )
        elif head == "redirect-to":
            self._redirect(request, arg("url", "/"))
        elif head == "loop":
            self._redirect(request, "/test/loop")
        elif head == "internal-redirect":
            self._redirect(request, INTERNAL_TARGETS.get(arg("to", "metadata"), INTERNAL_TARGETS["metadata"]))
        else:
            self._serve_test_body(request, head, arg)

    def _serve_test_body(self, request: _Handler, head: str, arg: Any) -> None:
        if head == "slow":
            if not self._stopping.wait(min(float(arg("seconds", "5")), MAX_HOLD_SECONDS)):
                self._send_article(request, 0)
        elif head == "drip":
            self._drip(request)
        elif head == "big":
            self._huge(request, int(arg("bytes", str(HUGE_BODY_BYTES))), declare=arg("declare", "0") == "1")
        elif head in ("gzip-bomb", "not-html", "bad-utf8"):
            fault = {"gzip-bomb": "gzip_bomb", "not-html": "not_html", "bad-utf8": "invalid_utf8"}[head]
            self._serve_hostile(request, fault, 0)
        elif head == "empty":
            self._send(request, 200, _empty_page())
        elif head == "reset":
            self._reset(request)
        elif head == "no-content-type":
            self._send(request, 200, render_page(self.seed, 1).body, content_type=None)
        else:
            self._send(request, 404, b"<html><body><p>no such test endpoint</p></body></html>")

    # --- responders ------------------------------------------------------------------------------

    def _send(
        self,
        request: _Handler,
        status: int,
        body: bytes,
        *,
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        request.send_response(status)
        if content_type:
            request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(body)

    def _send_article(self, request: _Handler, index: int) -> None:
        page = render_page(self.seed, index)
        content_type = f"text/html; charset={page.header_charset}" if page.header_charset else "text/html"
        self._send(request, 200, page.body, content_type=content_type)

    def _send_invalid_utf8(self, request: _Handler, index: int) -> None:
        body = render_page(self.seed, index).body.replace(b"<p>", b"<p>\xff\xfe\xc3\x28 ", 5)
        self._send(request, 200, body)

    def _redirect(self, request: _Handler, location: str) -> None:
        self._send(request, 302, b"", headers={"Location": location})

    def _reset(self, request: _Handler) -> None:
        """Abort the connection with a TCP reset before any response (SO_LINGER 0, then close)."""
        request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        request.connection.close()
        request.close_connection = True

    def _drip(self, request: _Handler) -> None:
        """Headers at once, then one byte per ``drip_interval`` until the client gives up or we stop."""
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.end_headers()
        request.wfile.write(b"<!DOCTYPE html><html><body><p>")
        deadline_ticks = int(MAX_HOLD_SECONDS / max(self.drip_interval, 0.01))
        for _ in range(deadline_ticks):
            if self._stopping.wait(self.drip_interval):
                return
            request.wfile.write(b"a")
            request.wfile.flush()

    def _huge(self, request: _Handler, size: int, *, declare: bool) -> None:
        """Stream ``size`` bytes of HTML without ever holding more than one block in memory."""
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        if declare:
            request.send_header("Content-Length", str(size))
        request.end_headers()
        block = (b"<p>" + b"lorem ipsum dolor sit amet " * 2400 + b"</p>\n")[:WRITE_BLOCK]
        sent = 0
        while sent < size and not self._stopping.is_set():
            piece = block[: size - sent]
            request.wfile.write(piece)
            sent += len(piece)
