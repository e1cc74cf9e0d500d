"""The article server's responses: each way a page can be served, well or badly, on one request.

A :class:`Reply` writes to one request. Bodies that could be large are streamed block by block,
and every wait (latency, holds, drips) ends as soon as the server stops.
"""

from __future__ import annotations

import socket
import struct
import threading
import zlib
from functools import lru_cache
from http.server import BaseHTTPRequestHandler

from bakeoff.workload.corpus import render_page

__all__ = ["HUGE_BODY_BYTES", "MAX_HOLD_SECONDS", "Reply", "gzip_bomb"]

HUGE_BODY_BYTES = 50 * 1024 * 1024
MAX_STREAM_BYTES = 200 * 1024 * 1024
BOMB_DECODED_BYTES = 16 * 1024 * 1024
MAX_HOLD_SECONDS = 120.0
WRITE_BLOCK = 64 * 1024
HTML_UTF8 = "text/html; charset=utf-8"


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """About 16 KB of gzip that inflates to 16 MiB of zeros, three times the default cap.

    Built block by block, so even the server never holds the inflated body.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(BOMB_DECODED_BYTES // len(block))]
    return b"".join(parts) + compressor.flush()


def _message_page(text: str) -> bytes:
    return f"<html><body><p>{text}</p></body></html>".encode()


class Reply:
    """Writes the response to one request for a server with corpus ``seed``."""

    def __init__(
        self, request: BaseHTTPRequestHandler, *, stopping: threading.Event, seed: int, drip_interval: float
    ) -> None:
        self.request = request
        self.stopping = stopping
        self.seed = seed
        self.drip_interval = drip_interval

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` (bounded); False when the server stopped meanwhile."""
        return not self.stopping.wait(min(max(seconds, 0.0), MAX_HOLD_SECONDS))

    def send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str | None = HTML_UTF8,
        headers: dict[str, str] | None = None,
    ) -> None:
        request = self.request
        request.send_response(status)
        if content_type:
            request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(body)

    def status(self, status: int) -> None:
        self.send(status, _message_page(f"status {status}"))

    def article(self, index: int) -> None:
        page = render_page(self.seed, index)
        content_type = f"text/html; charset={page.header_charset}" if page.header_charset else "text/html"
        self.send(200, page.body, content_type=content_type)

    def article_without_content_type(self, index: int) -> None:
        self.send(200, render_page(self.seed, index).body, content_type=None)

    def invalid_utf8(self, index: int) -> None:
        """The article with invalid UTF-8 sequences in its first paragraphs (still declared UTF-8)."""
        self.send(200, render_page(self.seed, index).body.replace(b"<p>", b"<p>\xff\xfe\xc3\x28 ", 5))

    def empty_app_shell(self) -> None:
        """A single-page-app shell: a real page with no article text in its HTML at all."""
        self.send(
            200,
            b"<!DOCTYPE html><html lang='en'><head><title>App</title><script src='/app.js'></script>"
            b"</head><body><div id='root'></div><script>window.__STATE__={}</script></body></html>",
        )

    def pdf(self) -> None:
        self.send(200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", content_type="application/pdf")

    def gzip_bomb(self) -> None:
        self.send(200, gzip_bomb(), headers={"Content-Encoding": "gzip"})

    def redirect(self, location: str) -> None:
        self.send(302, b"", headers={"Location": location})

    def reset(self) -> None:
        """Abort the connection with a TCP reset before any response (SO_LINGER 0, then close)."""
        self.request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.request.connection.close()
        self.request.close_connection = True

    def drip(self) -> None:
        """Headers at once, then one byte per ``drip_interval`` until the client leaves or we stop."""
        self._start_body(None)
        self.request.wfile.write(b"<!DOCTYPE html><html><body><p>")
        for _ in range(int(MAX_HOLD_SECONDS / max(self.drip_interval, 0.01))):
            if not self.wait(self.drip_interval):
                return
            self.request.wfile.write(b"a")
            self.request.wfile.flush()

    def stream(self, size: int, *, declare: bool) -> None:
        """``size`` bytes of HTML (at most 200 MB), never more than one block in memory."""
        size = min(max(size, 0), MAX_STREAM_BYTES)
        self._start_body(size if declare else None)
        block = (b"<p>" + b"lorem ipsum dolor sit amet " * 2400 + b"</p>\n")[:WRITE_BLOCK]
        sent = 0
        while sent < size and not self.stopping.is_set():
            piece = block[: size - sent]
            self.request.wfile.write(piece)
            sent += len(piece)

    def _start_body(self, length: int | None) -> None:
        # HTTP/1.0 without Content-Length: the body ends when the connection closes.
        self.request.send_response(200)
        self.request.send_header("Content-Type", HTML_UTF8)
        if length is not None:
            self.request.send_header("Content-Length", str(length))
        self.request.end_headers()
