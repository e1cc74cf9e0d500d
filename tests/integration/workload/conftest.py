"""Fixtures for the workload's integration tests: a real article server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bakeoff.workload import ImportSettings
from bakeoff.workload.article_server import ArticleServer


@pytest.fixture(scope="module")
def article_server() -> Iterator[ArticleServer]:
    """Profile ``none``, so only the ``/test/...`` endpoints misbehave."""
    with ArticleServer(profile="none", seed=0, corpus_size=500, drip_interval=0.05) as server:
        yield server


@pytest.fixture
def fast_settings(article_server: ArticleServer) -> ImportSettings:
    """Short timeouts so the timeout paths are quick; allowlist open for the server only."""
    return article_server.import_settings(connect_timeout=1.0, read_timeout=0.5, total_timeout=2.0)
