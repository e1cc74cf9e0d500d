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
def settings(article_server: ArticleServer) -> ImportSettings:
    """Default limits (generous: a busy 2-core machine must not turn a slow page into a timeout),
    allowlist open for the server only. Timeout tests shorten what they test explicitly."""
    return article_server.import_settings()
