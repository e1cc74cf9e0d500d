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
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bakeoff.contract import ConfigurationError
from bakeoff.workload.faults import PROFILES, Fate, fate_for
from bakeoff.workload.models import ImportSettings
from bakeoff.workload.responses import HUGE_BODY_BYTES, MAX_HOLD_SECONDS, Reply, gzip_bomb

__all__ = ["PROFILES", "TEST_ENDPOINTS", "ArticleServer"]

logger = logging.getLogger(__name__)

INTERNAL_TARGETS = {
    "metadata": "http://169.254.169.254/latest/meta-data/",
    "private": "http://10.0.0.1/admin",
    "localhost": "http://localhost/",
    "ipv6": "http://[::1]/",
}
_CONNECTION_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)

Query = dict[str, list[str]]


def _arg(query: Query, key: str, default: str) -> str:
    return query.get(key, [default])[0]


def _redirect_chain(reply: Reply, rest: str, query: Query) -> None:
    hops = int(rest)
    if hops > 0:
        reply.redirect(f"/test/redirect/{hops - 1}")
    else:
        reply.article(0)


def _slow(reply: Reply, rest: str, query: Query) -> None:
    if reply.wait(float(_arg(query, "seconds", "5"))):
        reply.article(0)


# Hostile faults: (reply, corpus index, request path) -> response.
HOSTILE_RESPONSES: dict[str, Callable[[Reply, int, str], None]] = {
    "drip": lambda reply, index, path: reply.drip(),
    "huge": lambda reply, index, path: reply.stream(HUGE_BODY_BYTES, declare=False),
    "redirect_loop": lambda reply, index, path: reply.redirect(path),
    "redirect_internal": lambda reply, index, path: reply.redirect(
        list(INTERNAL_TARGETS.values())[index % len(INTERNAL_TARGETS)]
    ),
    "not_html": lambda reply, index, path: reply.pdf(),
    "invalid_utf8": lambda reply, index, path: reply.invalid_utf8(index),
    "gzip_bomb": lambda reply, index, path: reply.gzip_bomb(),
}

# Test endpoints: /test/{name}/{rest}?{query} -> response, whatever the profile.
TEST_RESPONSES: dict[str, Callable[[Reply, str, Query], None]] = {
    "status": lambda reply, rest, query: reply.status(int(rest)),
    "redirect": _redirect_chain,
    "redirect-to": lambda reply, rest, query: reply.redirect(_arg(query, "url", "/")),
    "loop": lambda reply, rest, query: reply.redirect("/test/loop"),
    "internal-redirect": lambda reply, rest, query: reply.redirect(
        INTERNAL_TARGETS.get(_arg(query, "to", "metadata"), INTERNAL_TARGETS["metadata"])
    ),
    "slow": _slow,
    "drip": lambda reply, rest, query: reply.drip(),
    "big": lambda reply, rest, query: reply.stream(
        int(_arg(query, "bytes", str(HUGE_BODY_BYTES))), declare=_arg(query, "declare", "0") == "1"
    ),
    "gzip-bomb": lambda reply, rest, query: reply.gzip_bomb(),
    "not-html": lambda reply, rest, query: reply.pdf(),
    "empty": lambda reply, rest, query: reply.empty_app_shell(),
    "bad-utf8": lambda reply, rest, query: reply.invalid_utf8(0),
    "reset": lambda reply, rest, query: reply.reset(),
    "no-content-type": lambda reply, rest, query: reply.article_without_content_type(1),
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

    def handle_request(self, request: BaseHTTPRequestHandler) -> None:
        """Route one GET: an article under the profile's fate, a test endpoint, or a 404."""
        reply = Reply(request, stopping=self._stopping, seed=self.seed, drip_interval=self.drip_interval)
        parts = urlsplit(request.path)
        section, _, rest = parts.path.lstrip("/").partition("/")
        if section == "articles" and rest.isdigit():
            self._serve_article(reply, int(rest), request.path)
            return
        name, _, rest = rest.partition("/")
        if section == "test" and name in TEST_RESPONSES:
            try:
                TEST_RESPONSES[name](reply, rest, parse_qs(parts.query))
            except ValueError:
                reply.send(400, b"<html><body><p>bad test endpoint argument</p></body></html>")
            return
        reply.send(404, b"<html><body><p>not found</p></body></html>")

    def _serve_article(self, reply: Reply, index: int, path: str) -> None:
        fate = fate_for(
            self.profile, self.seed, path, self._next_attempt(path), latency_scale=self.latency_scale
        )
        with self._lock:
            self._faults_served[fate.fault] += 1
        if reply.wait(fate.latency_ms / 1000):
            self._apply_fate(reply, fate, index % self.corpus_size, path)

    def _apply_fate(self, reply: Reply, fate: Fate, index: int, path: str) -> None:
        if fate.fault == "ok":
            reply.article(index)
        elif fate.fault in ("http_5xx", "not_found"):
            reply.status(fate.status)
        elif fate.fault == "timeout":
            # Hold past the client's read timeout; whoever is still listening gets the page.
            if reply.wait(self.hold_seconds):
                reply.article(index)
        elif fate.fault == "reset":
            reply.reset()
        else:
            HOSTILE_RESPONSES[fate.fault](reply, index, path)
