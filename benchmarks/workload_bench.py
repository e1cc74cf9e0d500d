"""Workload benchmark: imports per second through import_article, and extraction time per KB.

Runs against the local article server (profile ``none``, so no injected latency or faults) and a
fresh database on the test server (embedded PostgreSQL, or ``BAKEOFF_TEST_DATABASE_URL``). It
prints its figures; it is never part of the pass/fail test run.

    python benchmarks/workload_bench.py [--imports 200] [--workers 1 4] [--extract-pages 40]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from bakeoff.db.engine import make_engine
from bakeoff.db.urls import mask_url
from bakeoff.testing import TestDatabases
from bakeoff.workload import (
    FetchedPage,
    ImportSettings,
    extract_article,
    fetch_page,
    import_article,
    save_document,
)
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.corpus import plan_page, render_page


def bench_imports(
    engine: Engine, server: ArticleServer, settings: ImportSettings, n: int, workers: int
) -> None:
    urls = server.article_urls(n)

    def one(url: str) -> int:
        return import_article(url, engine=engine, trial_job_id=uuid.uuid4(), settings=settings).word_count

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        words = sum(pool.map(one, urls))
    elapsed = time.perf_counter() - started
    print(
        f"import_article, profile none, {workers} worker(s): {n} imports in {elapsed:.2f} s "
        f"= {n / elapsed:.1f} imports/s ({words / n:.0f} words per article on average)"
    )


def bench_phases(engine: Engine, server: ArticleServer, settings: ImportSettings, n: int) -> None:
    """Where one import's time goes: mean milliseconds per phase, one worker."""
    totals = {"fetch": 0.0, "extract": 0.0, "save": 0.0}
    for url in server.article_urls(n):
        started = time.perf_counter()
        page = fetch_page(url, settings=settings)
        fetched = time.perf_counter()
        article = extract_article(page)
        extracted = time.perf_counter()
        save_document(engine, article, trial_job_id=uuid.uuid4())
        saved = time.perf_counter()
        totals["fetch"] += fetched - started
        totals["extract"] += extracted - fetched
        totals["save"] += saved - extracted
    print(
        "per-phase mean over",
        n,
        "imports: " + ", ".join(f"{k} {v * 1000 / n:.1f} ms" for k, v in totals.items()),
    )


def bench_extraction(seed: int, pages: int) -> None:
    per_kb_ms: list[float] = []
    total_bytes = 0
    total_seconds = 0.0
    for index in range(pages):
        page = render_page(seed, index)
        encoding = plan_page(seed, index).encoding
        fetched = FetchedPage(
            url=f"http://bench/{index}",
            final_url=f"http://bench/{index}",
            status=200,
            content_type="text/html",
            charset=encoding,
            html=page.body.decode(encoding),
            fetched_bytes=len(page.body),
        )
        started = time.perf_counter()
        extract_article(fetched)
        seconds = time.perf_counter() - started
        total_bytes += len(page.body)
        total_seconds += seconds
        per_kb_ms.append(seconds * 1000 / (len(page.body) / 1024))
    print(
        f"extract_article over {pages} corpus pages ({total_bytes / 1024:.0f} KB): "
        f"{total_seconds * 1000 / (total_bytes / 1024):.3f} ms per KB overall, "
        f"median {statistics.median(per_kb_ms):.3f} ms per KB per page"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--extract-pages", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    databases = TestDatabases()
    url = databases.create()
    engine = make_engine(url, pool_size=max(args.workers) + 2)
    print(f"database: {mask_url(url)}")
    try:
        with ArticleServer(profile="none", seed=args.seed) as server:
            settings = server.import_settings()
            import_article(server.url("/articles/0"), engine=engine, settings=settings)  # warm up
            for workers in args.workers:
                bench_imports(engine, server, settings, args.imports, workers)
            bench_phases(engine, server, settings, min(args.imports, 100))
        bench_extraction(args.seed, args.extract_pages)
    finally:
        engine.dispose()
        databases.drop(url)
        databases.close()


if __name__ == "__main__":
    main()
