"""HTTPS through the pinned address: TLS verifies the URL's host name while connecting to the checked IP."""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bakeoff.workload import ImportSettings, fetch_page
from bakeoff.workload.errors import ConnectTimeout
from bakeoff.workload.ssrf import StaticResolver

PAGE = b"<!DOCTYPE html><html><head><title>Secure</title></head><body><p>over tls</p></body></html>"


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A TLS server on loopback with a self-signed certificate for ``articles.test`` (made by openssl)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=articles.test", "-addext", "subjectAltName=DNS:articles.test"]
    command += ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield httpd.server_address[1], cert
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _settings(port: int, cert: Path) -> ImportSettings:
    resolver = StaticResolver(table={"articles.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    return ImportSettings(allow_hosts=(f"127.0.0.1:{port}",), ca_file=str(cert), resolver=resolver)


def test_https_verifies_the_url_host_while_connecting_to_the_checked_ip(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    page = fetch_page(f"https://articles.test:{port}/a", settings=_settings(port, cert))
    assert page.status == 200 and "over tls" in page.html


def test_a_certificate_for_another_name_is_refused(tls_server: tuple[int, Path]) -> None:
    """The IP is allowlisted, but TLS still checks the name: other.test does not match the certificate."""
    port, cert = tls_server
    with pytest.raises(ConnectTimeout, match=r"(?i)certificate"):
        fetch_page(f"https://other.test:{port}/a", settings=_settings(port, cert))


def test_an_untrusted_certificate_is_refused(tls_server: tuple[int, Path]) -> None:
    port, _cert = tls_server
    settings = ImportSettings(
        allow_hosts=(f"127.0.0.1:{port}",), resolver=StaticResolver(table={"articles.test": ["127.0.0.1"]})
    )
    with pytest.raises(ConnectTimeout, match=r"(?i)certificate"):
        fetch_page(f"https://articles.test:{port}/a", settings=settings)
