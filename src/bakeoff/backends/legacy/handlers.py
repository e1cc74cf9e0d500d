"""What a legacy job runs: ``import_article`` in the trial, or a test handler named by a short spec.

=================== ==================================================================
``import_article``  the shared article import (bakeoff.workload.articles)
``noop``            returns at once (measures the machinery alone: polling, spawn, parsing)
``sleep:<ms>``      sleeps that long, then succeeds (0..600000 ms)
``fail:<kind>``     raises a failure with ``error_kind=<kind>``
``garbage``         prints malformed protocol lines on stdout, then succeeds
=================== ==================================================================

Specs are validated by :func:`parse_handler` when a backend is built, so a typo fails fast.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from bakeoff.backends.legacy.models import LegacyJob
from bakeoff.contract import BakeoffError, InvalidRequest

if TYPE_CHECKING:
    from bakeoff.workload.models import ExtractedArticle, ImportedDocument, ImportSettings

__all__ = [
    "HANDLER_SPECS",
    "IMPORT_LIMITS_ENV",
    "Handler",
    "HandlerContext",
    "SaveDocument",
    "SimulatedFailure",
    "child_import_settings",
    "import_limits_json",
    "parse_handler",
]

IMPORT_LIMITS_ENV = "BAKEOFF_LEGACY_IMPORT_LIMITS"
IMPORT_LIMIT_FIELDS = ("connect_timeout", "read_timeout", "total_timeout", "max_bytes", "max_redirects")
HANDLER_SPECS = ("import_article", "noop", "sleep:<ms>", "fail:<error_kind>", "garbage")
MAX_SLEEP_MS = 600_000
_SPEC = re.compile(
    r"^(?P<name>import_article|noop|garbage)$|^(?P<param_name>sleep|fail):(?P<param>[a-z0-9_]+)$"
)
GARBAGE_LINES = (
    "Processing job... done!",
    "LEGACY:RESULT {this is not json",
    "LEGACY:NOPE {}",
    "\x00\x1b[31mbinary-ish noise\x1b[0m",
)


class SimulatedFailure(BakeoffError):
    """The ``fail:<kind>`` handler's failure; carries ``error_kind`` like ``ImportFailed``."""

    def __init__(self, error_kind: str) -> None:
        super().__init__(f"simulated failure: {error_kind}")
        self.error_kind = error_kind
        self.retryable = True


class SaveDocument(Protocol):
    """The import's save phase on the runner's database: ``save_document`` bound to an engine, or
    ``save_document_psycopg`` bound to the spawned child's connection (same SQL, same logic)."""

    def __call__(
        self, article: ExtractedArticle, *, trial_job_id: UUID | None, idempotency_key: str | None
    ) -> ImportedDocument: ...


@dataclass(frozen=True, kw_only=True)
class HandlerContext:
    """What a handler gets: the job, the save phase, and a way to print a raw stdout line."""

    job: LegacyJob
    save_document: SaveDocument
    emit_stdout: Callable[[str], None]


Handler = Callable[[HandlerContext], dict[str, Any]]


def parse_handler(spec: str) -> Handler:
    """The handler a spec names; raise :class:`InvalidRequest` (naming ``handler``) for a bad one."""
    match = _SPEC.match(spec or "")
    if match is None:
        raise InvalidRequest(f"handler must be one of {', '.join(HANDLER_SPECS)}; got {spec!r}")
    if match["name"] == "import_article":
        return _import_article
    if match["name"] == "noop":
        return _noop
    if match["name"] == "garbage":
        return _garbage
    if match["param_name"] == "fail":
        return _failing(match["param"])
    return _sleeping(_sleep_ms(match["param"]))


def _sleep_ms(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_SLEEP_MS:
        raise InvalidRequest(f"handler sleep:<ms> needs 0..{MAX_SLEEP_MS} ms; got {text!r}")
    return int(text)


def _noop(context: HandlerContext) -> dict[str, Any]:
    return {}


def _sleeping(milliseconds: int) -> Handler:
    def sleep(context: HandlerContext) -> dict[str, Any]:
        time.sleep(milliseconds / 1000)
        return {"slept_ms": milliseconds}

    return sleep


def _failing(error_kind: str) -> Handler:
    def fail(context: HandlerContext) -> dict[str, Any]:
        raise SimulatedFailure(error_kind)

    return fail


def _garbage(context: HandlerContext) -> dict[str, Any]:
    for line in GARBAGE_LINES:
        context.emit_stdout(line)
    return {}


def import_limits_json(settings: ImportSettings) -> str:
    """The limits of ``settings`` as JSON for a child's environment (the allowlist travels apart)."""
    return json.dumps({name: getattr(settings, name) for name in IMPORT_LIMIT_FIELDS})


def child_import_settings() -> ImportSettings:
    """The parent's ImportSettings, rebuilt from the environment it gave this child."""
    from bakeoff.workload.models import ImportSettings

    settings = ImportSettings.from_env()  # the allowlist: BAKEOFF_IMPORT_ALLOW_HOSTS
    raw = os.environ.get(IMPORT_LIMITS_ENV)
    if not raw:
        return settings
    limits = {name: value for name, value in json.loads(raw).items() if name in IMPORT_LIMIT_FIELDS}
    return replace(settings, **limits)


def _import_article(context: HandlerContext) -> dict[str, Any]:
    """``import_article``'s three phases, saving through the context (psycopg in a spawned child)."""
    # Imported here, each phase's module when it is reached: a noop child never pays for HTML
    # extraction, and neither does a job whose fetch failed (trafilatura is most of the imports).
    from bakeoff.workload.fetch import fetch_page

    job = context.job
    page = fetch_page(job.url, settings=child_import_settings())
    from bakeoff.workload.extract import extract_article

    document = context.save_document(
        extract_article(page),
        trial_job_id=job.trial_job_id,
        idempotency_key=job.payload.get("idempotency_key"),
    )
    return {"document_id": str(document.document_id), "url": job.url}
