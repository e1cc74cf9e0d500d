"""Soak: many concurrent imports from the hostile and flaky profiles never crash or hang the client."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text

from bakeoff.workload import ImportFailed, import_article
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.faults import fate_for

HOSTILE_KIND = {
    "ok": None,
    "invalid_utf8": None,
    "drip": "read_timeout",
    "huge": "too_large",
    "gzip_bomb": "too_large",
    "redirect_loop": "too_many_redirects",
    "redirect_internal": "blocked_address",
    "not_html": "not_html",
}


@pytest.mark.slow
def test_160_concurrent_hostile_imports_end_exactly_as_predicted(engine: Engine) -> None:
    """Every import ends in a saved document or the ImportFailed kind its fate predicts."""
    seed = 13
    with ArticleServer(profile="hostile", seed=seed, corpus_size=40, drip_interval=0.05) as server:
        paths = [f"/articles/{i}" for i in range(160)]

        def run(path: str) -> str | None:
            # Only drips need a short deadline; the rest get time to stream 5 MiB on a busy machine.
            drip = fate_for("hostile", seed, path, 1).fault == "drip"
            settings = server.import_settings(total_timeout=2.0 if drip else 30.0)
            try:
                import_article(server.url(path), engine=engine, trial_job_id=uuid.uuid4(), settings=settings)
            except ImportFailed as exc:
                return exc.error_kind
            return None

        with ThreadPoolExecutor(max_workers=8) as pool:
            observed = dict(zip(paths, pool.map(run, paths), strict=True))
    predicted = {p: HOSTILE_KIND[fate_for("hostile", seed, p, 1).fault] for p in paths}
    assert observed == predicted
    with engine.connect() as conn:
        saved = conn.execute(text("SELECT count(*) FROM bakeoff.documents")).scalar_one()
    assert saved == sum(kind is None for kind in predicted.values())


@pytest.mark.slow
def test_flaky_imports_all_succeed_when_retried_up_to_four_times(engine: Engine) -> None:
    """Bursts last at most 3 attempts, so the 4th try of every retryable failure succeeds, once."""
    with ArticleServer(profile="flaky", seed=3, corpus_size=40, latency_scale=0.05) as server:
        settings = server.import_settings()

        def run(path: str) -> int:
            job = uuid.uuid4()
            for attempt in range(1, 5):
                try:
                    import_article(server.url(path), engine=engine, trial_job_id=job, settings=settings)
                    return attempt
                except ImportFailed as exc:
                    assert exc.retryable, exc
            raise AssertionError(f"{path} still failing after 4 attempts")

        with ThreadPoolExecutor(max_workers=8) as pool:
            attempts = list(pool.map(run, [f"/articles/{i}" for i in range(60)]))
    assert max(attempts) <= 4 and any(a > 1 for a in attempts)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bakeoff.documents")).scalar_one() == 60
