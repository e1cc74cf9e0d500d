"""The trial's article import written with Inngest's official Python SDK, served with FastAPI.

Three steps, fetch -> extract -> save, each with ``bakeoff.workload``; the output is
``{document_id, url}``, as the in-process arm's. Serve it and point the arm at it::

    BAKEOFF_DATABASE_URL=postgresql://app@db/app python examples/inngest_import_app.py --port 8000
    bakeoff worker --arms inngest --inngest-app-url http://127.0.0.1:8000/api/inngest

or sync it to ``bakeoff inngest serve`` (the app's SDK finds the server through ``INNGEST_DEV``)::

    INNGEST_DEV=http://127.0.0.1:8288 python examples/inngest_import_app.py --port 8000
    bakeoff inngest serve -u http://127.0.0.1:8000/api/inngest

An ``ImportFailed`` that is not retryable becomes the SDK's ``NonRetriableError`` with the
message ``"<error_kind>: <detail>"``, so the arm records the same ``error_kind`` as in-process;
a retryable one is raised as is (the SDK reports its class name) and the step is retried.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import fastapi
import inngest
import inngest.fast_api
import uvicorn
from sqlalchemy import Engine

from bakeoff.db import make_engine
from bakeoff.workload.errors import ImportFailed
from bakeoff.workload.extract import extract_article
from bakeoff.workload.fetch import fetch_page
from bakeoff.workload.models import ExtractedArticle, FetchedPage, ImportSettings
from bakeoff.workload.store import save_document

APP_ID = "bakeoff-import"
IMPORT_EVENT = "article/import.requested"
T = TypeVar("T")


def _non_retriable(fn: Callable[..., T]) -> Callable[..., T]:
    """Failures that another attempt cannot fix stop the retries, as in the in-process arm."""

    def step(*args: Any) -> T:
        try:
            return fn(*args)
        except ImportFailed as exc:
            if not exc.retryable:
                raise inngest.NonRetriableError(f"{exc.error_kind}: {exc}") from exc
            raise

    return step


def create_app(
    engine: Engine,
    *,
    import_settings: ImportSettings | None = None,
    api_base_url: str | None = None,
    retries: int = 4,
) -> fastapi.FastAPI:
    """A FastAPI app serving ``import-article`` at ``/api/inngest`` (dev mode; no keys needed)."""
    client = inngest.Inngest(
        app_id=APP_ID,
        is_production=False,
        api_base_url=api_base_url,
        event_api_base_url=api_base_url,
    )

    @client.create_function(
        fn_id="import-article", trigger=inngest.TriggerEvent(event=IMPORT_EVENT), retries=retries
    )
    def import_article(ctx: inngest.ContextSync) -> dict[str, Any]:
        data = ctx.event.data

        def fetch(url: str) -> dict[str, Any]:
            return fetch_page(url, settings=import_settings).to_dict()

        def extract(page: dict[str, Any]) -> dict[str, Any]:
            return extract_article(FetchedPage.from_dict(page)).to_dict()

        def save(article: dict[str, Any]) -> dict[str, Any]:
            document = save_document(
                engine,
                ExtractedArticle.from_dict(article),
                trial_job_id=UUID(str(data["trial_job_id"])) if data.get("trial_job_id") else None,
                idempotency_key=data.get("idempotency_key"),  # type: ignore[arg-type]
            )
            return document.to_dict()

        page = ctx.step.run("fetch", _non_retriable(fetch), str(data["url"]))
        article = ctx.step.run("extract", _non_retriable(extract), page)
        document = ctx.step.run("save", _non_retriable(save), article)
        return {"document_id": document["document_id"], "url": data["url"]}

    app = fastapi.FastAPI(title="bakeoff article import (Inngest SDK)")
    inngest.fast_api.serve(app, client, [import_article])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    engine = make_engine(os.environ["BAKEOFF_DATABASE_URL"])
    uvicorn.run(create_app(engine, import_settings=ImportSettings.from_env()), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
