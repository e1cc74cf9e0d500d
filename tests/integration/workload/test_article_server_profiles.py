"""The server really serves the fates fate_for predicts, over HTTP, and retries see new attempts."""

from __future__ import annotations

from collections import Counter

import pytest

from bakeoff.workload import ImportFailed, fetch_page
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.faults import fate_for

# What each fault looks like to the import client.
EXPECTED_KIND = {
    "ok": None,
    "invalid_utf8": None,
    "http_5xx": "http_5xx",
    "not_found": "http_4xx",
    "timeout": "read_timeout",
    "reset": "read_timeout",
    "drip": "read_timeout",
    "huge": "too_large",
    "gzip_bomb": "too_large",
    "redirect_loop": "too_many_redirects",
    "redirect_internal": "blocked_address",
    "not_html": "not_html",
}


def _observed_kind(server: ArticleServer, path: str, **settings: float) -> str | None:
    try:
        fetch_page(server.url(path), settings=server.import_settings(**settings))
    except ImportFailed as exc:
        return exc.error_kind
    return None


def test_realistic_profile_over_http_matches_the_fate_function() -> None:
    """A real-HTTP sample of 150 requests: every observed outcome is the predicted one."""
    seed = 21
    # A small corpus keeps page rendering cached; the hold outlasts the read timeout by a margin
    # wide enough that a slow render of an ok page is never mistaken for a timeout.
    server = ArticleServer(
        profile="realistic", seed=seed, latency_scale=0.01, hold_seconds=2.5, corpus_size=20
    )
    with server:
        paths = [f"/articles/{i}" for i in range(150)]
        observed = {p: _observed_kind(server, p, read_timeout=1.2, total_timeout=5.0) for p in paths}
    predicted = {p: EXPECTED_KIND[fate_for("realistic", seed, p, 1).fault] for p in paths}
    assert observed == predicted
    assert Counter(predicted.values())[None] > 130


def test_the_server_counts_attempts_so_a_flaky_retry_succeeds() -> None:
    seed = 2
    paths = [f"/articles/{i}" for i in range(60)]
    bursty = [p for p in paths if fate_for("flaky", seed, p, 1).fault != "ok"][:4]
    assert bursty
    with ArticleServer(profile="flaky", seed=seed, latency_scale=0.01) as server:
        for path in bursty:
            kinds = [_observed_kind(server, path) for _ in range(4)]
            assert kinds[0] in ("http_5xx", "read_timeout")
            assert kinds[-1] is None
            assert server.attempts(path) == 4


@pytest.mark.parametrize("seed", [0])
def test_hostile_profile_faults_surface_as_their_error_kinds(seed: int) -> None:
    """One path of each hostile fault, fetched for real: each fails the way the client promises."""
    by_fault: dict[str, str] = {}
    for i in range(400):
        fault = fate_for("hostile", seed, f"/articles/{i}", 1).fault
        by_fault.setdefault(fault, f"/articles/{i}")
    with ArticleServer(profile="hostile", seed=seed, drip_interval=0.05) as server:
        # Only the drip needs a short deadline; the rest get time to stream 5 MiB on a busy machine.
        observed = {
            fault: _observed_kind(server, path, total_timeout=1.5 if fault == "drip" else 30.0)
            for fault, path in by_fault.items()
        }
    assert observed == {fault: EXPECTED_KIND[fault] for fault in by_fault}
    assert len(by_fault) == 8
