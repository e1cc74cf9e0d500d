"""Plain-HTTP hops skip loading the CA store, and the context they get could never trust a server."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

from bakeoff.workload.fetch import tls_verification
from bakeoff.workload.models import ImportSettings


def test_http_hop_gets_a_context_that_trusts_no_ca() -> None:
    context = tls_verification(urlsplit("http://example.org/a"), ImportSettings())
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0


def test_https_hop_gets_the_verifying_context_with_the_system_store() -> None:
    context = tls_verification(urlsplit("https://example.org/a"), ImportSettings())
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context is tls_verification(urlsplit("https://example.com/b"), ImportSettings())
