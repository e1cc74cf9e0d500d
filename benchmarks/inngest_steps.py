"""Step-engine benchmark: the inngest arm next to DBOS Transact, same workloads, run and database server.

Prints, for each engine:

1. step overhead of a 10-step no-op function (p50/p95): the time from the end of one step's body
   to the start of the next one's (storing the result, scheduling, replaying), measured inside
   the step bodies with one clock, so both engines are measured the same way;
2. end-to-end time of the 3-step article import (fetch -> extract -> save) against the local
   article server (profile ``none``), start to result;
3. the Epistemic Auditor fan-out: one child run/workflow per chunk, each running its plugin calls
   as steps, collected by the parent and synthesized (inngest: ``step.invoke`` in a parallel group;
   DBOS: child workflows on a queue).

Each engine gets its own fresh database on the test server (embedded PostgreSQL by default, or
``BAKEOFF_TEST_DATABASE_URL``). Needs ``dbos`` (the ``bench`` extra). Never part of the test run.

    python benchmarks/inngest_steps.py [--runs 30] [--imports 20] [--chunks 200] [--workers 4]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import uuid
from typing import Any

from timing import gaps_ms, percentile

from bakeoff.backends.inngest import Context, Event, Inngest, TriggerEvent
from bakeoff.backends.inngest.auditor import AUDIT_EVENTS, register_auditor
from bakeoff.db.engine import make_engine
from bakeoff.db.urls import mask_url
from bakeoff.testing import TestDatabases
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.articles import extract_article, fetch_page, save_document
from bakeoff.workload.auditor import AuditorConfig, Chunk, route_chunk, run_plugin, split_document, synthesize
from bakeoff.workload.models import ExtractedArticle, FetchedPage, ImportSettings

STEPS = 10


def report(engine: str, what: str, values_ms: list[float]) -> None:
    print(
        f"{engine:8s} {what}: p50 {statistics.median(values_ms):8.2f} ms"
        f"   p95 {percentile(values_ms, 0.95):8.2f} ms"
        f"   (n={len(values_ms)})"
    )


# -- inngest --------------------------------------------------------------------------------------


def bench_inngest(
    url: str, server: ArticleServer, settings: ImportSettings, args: argparse.Namespace
) -> None:
    client = Inngest(
        app_id="bench", database_url=url, poll_interval=0.5, synchronous_commit=not args.async_commit
    )
    engine = make_engine(url, pool_size=4)
    marks: dict[str, list[float]] = {}

    @client.create_function(fn_id="noop-10", trigger=TriggerEvent(event="bench/noop"))
    def noop(ctx: Context) -> int:
        for _ in range(STEPS):
            ctx.step.run("noop", lambda: marks.setdefault(ctx.run_id, []).append(time.perf_counter()))
        return STEPS

    @client.create_function(fn_id="import-3", trigger=TriggerEvent(event="bench/import"))
    def import_3(ctx: Context) -> str:
        page = ctx.step.run("fetch", lambda: fetch_page(ctx.event.data["url"], settings=settings).to_dict())
        article = ctx.step.run("extract", lambda: extract_article(FetchedPage.from_dict(page)).to_dict())
        saved = ctx.step.run(
            "save",
            lambda: save_document(
                engine, ExtractedArticle.from_dict(article), trial_job_id=uuid.uuid4()
            ).to_dict(),
        )
        return str(saved["document_id"])

    register_auditor(client)
    worker = client.start_worker(concurrency=args.workers)
    try:
        overhead: list[float] = []
        for _ in range(args.runs):
            [event_id] = client.send(Event(name="bench/noop"))
            [run_id] = client.runs_for_event(event_id)
            client.wait_for_run(run_id, timeout=60)
            overhead += gaps_ms(marks[run_id])
        report("inngest", f"step overhead, {STEPS}-step no-op function", overhead)

        latencies = []
        for article_url in server.article_urls(args.imports):
            started = time.perf_counter()
            [event_id] = client.send(Event(name="bench/import", data={"url": article_url}))
            client.wait_for_run(client.runs_for_event(event_id)[0], timeout=60)
            latencies.append((time.perf_counter() - started) * 1000)
        report("inngest", "3-step import end to end", latencies)

        config = AuditorConfig(chunks=args.chunks, plugins=4)
        started = time.perf_counter()
        [event_id] = client.send(Event(name=AUDIT_EVENTS["fanout"], data={"config": config.to_dict()}))
        run = client.wait_for_run(client.runs_for_event(event_id)[0], timeout=900)
        elapsed = time.perf_counter() - started
        print(
            f"inngest  auditor fan-out {args.chunks} chunks x 4 plugins (invoke per chunk): {elapsed:.2f} s, "
            f"{run.status}, {run.output['calls']} calls, digest {run.output['digest'][:12]}"
        )
    finally:
        worker.stop()
        client.close()
        engine.dispose()


# -- DBOS -----------------------------------------------------------------------------------------


def bench_dbos(url: str, server: ArticleServer, settings: ImportSettings, args: argparse.Namespace) -> None:
    from dbos import DBOS

    engine = make_engine(url, pool_size=4)
    DBOS(config={"name": "bakeoff-bench", "system_database_url": url, "log_level": "WARNING"})
    marks: dict[str, list[float]] = {}

    @DBOS.step()
    def noop_step(key: str) -> None:
        marks.setdefault(key, []).append(time.perf_counter())

    @DBOS.workflow()
    def noop_workflow(key: str) -> int:
        for _ in range(STEPS):
            noop_step(key)
        return STEPS

    @DBOS.step()
    def fetch(article_url: str) -> dict[str, Any]:
        return fetch_page(article_url, settings=settings).to_dict()

    @DBOS.step()
    def extract(page: dict[str, Any]) -> dict[str, Any]:
        return extract_article(FetchedPage.from_dict(page)).to_dict()

    @DBOS.step()
    def save(article: dict[str, Any]) -> dict[str, Any]:
        return save_document(engine, ExtractedArticle.from_dict(article), trial_job_id=uuid.uuid4()).to_dict()

    @DBOS.workflow()
    def import_workflow(article_url: str) -> str:
        return str(save(extract(fetch(article_url)))["document_id"])

    @DBOS.step()
    def plugin_step(plugin: str, chunk: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        return run_plugin(plugin, Chunk.from_dict(chunk), AuditorConfig.from_dict(config))

    @DBOS.workflow()
    def chunk_workflow(chunk: dict[str, Any], config: dict[str, Any]) -> list[dict[str, Any]]:
        cfg = AuditorConfig.from_dict(config)
        return [plugin_step(p, chunk, config) for p in route_chunk(Chunk.from_dict(chunk), cfg)]

    @DBOS.step()
    def split_step(config: dict[str, Any]) -> list[dict[str, Any]]:
        return [c.to_dict() for c in split_document(AuditorConfig.from_dict(config))]

    @DBOS.workflow()
    def audit_workflow(config: dict[str, Any]) -> dict[str, Any]:
        handles = [
            DBOS.enqueue_workflow("auditor-chunks", chunk_workflow, c, config) for c in split_step(config)
        ]
        return synthesize(r for h in handles for r in h.get_result())

    DBOS.launch()
    DBOS.register_queue("auditor-chunks", worker_concurrency=args.workers, polling_interval_sec=0.1)
    try:
        overhead: list[float] = []
        for i in range(args.runs):
            key = f"run-{i}"
            DBOS.start_workflow(noop_workflow, key).get_result()
            overhead += gaps_ms(marks[key])
        report("dbos", f"step overhead, {STEPS}-step no-op function", overhead)

        latencies = []
        for article_url in server.article_urls(args.imports):
            started = time.perf_counter()
            DBOS.start_workflow(import_workflow, article_url).get_result()
            latencies.append((time.perf_counter() - started) * 1000)
        report("dbos", "3-step import end to end", latencies)

        config = AuditorConfig(chunks=args.chunks, plugins=4).to_dict()
        started = time.perf_counter()
        result = DBOS.start_workflow(audit_workflow, config).get_result()
        elapsed = time.perf_counter() - started
        print(
            f"dbos     auditor fan-out {args.chunks} chunks x 4 plugins (child workflow per chunk, queued): "
            f"{elapsed:.2f} s, {result['calls']} calls, digest {result['digest'][:12]}"
        )
    finally:
        DBOS.destroy(destroy_registry=True)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="10-step no-op runs per engine")
    parser.add_argument("--imports", type=int, default=20, help="3-step imports per engine")
    parser.add_argument("--chunks", type=int, default=200, help="auditor chunks (x 4 plugins)")
    parser.add_argument("--workers", type=int, default=4, help="worker threads per engine")
    parser.add_argument("--skip-dbos", action="store_true", help="only the inngest arm")
    parser.add_argument(
        "--async-commit", action="store_true", help="inngest workers with synchronous_commit=off"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    databases = TestDatabases()
    print(f"server: {mask_url(databases.server_url)}; {args.workers} worker threads per engine")
    try:
        with ArticleServer(profile="none") as server:
            settings = server.import_settings()
            with databases.scratch() as url:
                bench_inngest(url, server, settings, args)
            if not args.skip_dbos:
                with databases.scratch() as url:
                    bench_dbos(url, server, settings, args)
    finally:
        databases.close()


if __name__ == "__main__":
    main()
