"""The dashboard's pages: overview (with its live fragment), job search and CSV, job detail, document.

Every page is server-rendered from ``templates/``; htmx swaps the overview's live fragment every few
seconds, and ``static/dashboard.js`` draws the uPlot charts from JSON embedded in the page.
"""

from __future__ import annotations

import csv
import io
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from bakeoff.analysis.sections import collect_sections, sections_html
from bakeoff.contract import ARM_NAMES
from bakeoff.dashboard import access
from bakeoff.dashboard.actions import JOB_ACTIONS
from bakeoff.dashboard.overview import build_overview
from bakeoff.dashboard.store import CSV_MAX_ROWS, JOB_PAGE_SIZE, DashboardStore, JobFilter
from bakeoff.metrics.cli import OBSERVATION_KINDS
from bakeoff.service.service import Service

__all__ = ["LIVE_REFRESH_SECONDS", "router", "templates"]

LIVE_REFRESH_SECONDS = 5
CHECK_SECTIONS = ("guardrail", "consistency")
CHECKS_FRESH_SECONDS = 30.0
OUTCOMES = ("open", "completed", "failed", "cancelled")
CSV_COLUMNS = (
    "trial_job_id", "phase", "unit_key", "assigned_arm", "served_arm", "assignment_reason", "backend_job_id",
    "url", "submitted_at", "started_at", "finished_at", "attempts", "outcome", "error_kind", "error_message",
    "document_id", "latency_ms",
)  # fmt: skip

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(prefix="/ui", include_in_schema=False)


class NotAllowed(Exception):
    """The request may not read the dashboard (the API token is set and was not presented)."""


class BadFilter(ValueError):
    """A search parameter that cannot be parsed; the message names it."""


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _store(request: Request) -> DashboardStore:
    store: DashboardStore = request.app.state.dashboard_store
    return store


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A template with what every page needs (experiment, admin flag, CSRF token), cookies set."""
    if not access.may_read(request):
        raise NotAllowed
    base = {
        "experiment": _service(request).experiment,
        "admin": access.is_admin(request),
        "csrf": access.csrf_token(request),
        "refresh_seconds": LIVE_REFRESH_SECONDS,
    }
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)
    access.set_cookies(request, response)
    return response


@router.get("", response_class=HTMLResponse)
def overview_page(request: Request) -> HTMLResponse:
    context = {"overview": _overview(request), "page": "overview", "observation_kinds": OBSERVATION_KINDS}
    return render(request, "overview.html", context)


@router.get("/overview/live", response_class=HTMLResponse)
def overview_live(request: Request) -> HTMLResponse:
    """The overview's body alone, for htmx's polling swap."""
    return render(request, "_overview_body.html", {"overview": _overview(request)})


def _overview(request: Request) -> Any:
    service = _service(request)
    summary = service.summary()
    return build_overview(_store(request), summary.state, len(summary.overrides))


@router.get("/checks", response_class=HTMLResponse)
def checks_page(request: Request) -> HTMLResponse:
    """The guardrail (its settings, each check with its interval, kills) and the consistency check
    (share identical per arm, and each differing document beside the control's), from the same
    code as the report's sections."""
    measured = CHECKS.get(_store(request).engine, _service(request).experiment)
    context = {
        "page": "checks",
        "sections_html": sections_html(measured.sections),
        "measured_at": measured.at,
    }
    return render(request, "checks.html", context)


@dataclass(frozen=True)
class MeasuredChecks:
    at: datetime
    sections: dict[str, dict[str, Any]]


class ChecksCache:
    """The checks' sections, kept for :data:`CHECKS_FRESH_SECONDS` and then recomputed in the
    background while the page shows the last ones (with their time): the guardrail reads the whole
    phase, seconds on a large trial, and the page must not wait for that on every visit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._measured: dict[tuple[int, str], tuple[float, MeasuredChecks]] = {}
        self._refreshing: set[tuple[int, str]] = set()

    def get(self, engine: Engine, experiment: str) -> MeasuredChecks:
        key = (id(engine), experiment)
        with self._lock:
            kept = self._measured.get(key)
            stale = kept is not None and time.monotonic() - kept[0] > CHECKS_FRESH_SECONDS
            if stale and key not in self._refreshing:
                self._refreshing.add(key)
                threading.Thread(
                    target=self._refresh, args=(key, engine, experiment), name="dashboard-checks", daemon=True
                ).start()
        if kept is not None:
            return kept[1]
        return self._measure(key, engine, experiment)  # the first visit waits for it

    def _refresh(self, key: tuple[int, str], engine: Engine, experiment: str) -> None:
        try:
            self._measure(key, engine, experiment)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _measure(self, key: tuple[int, str], engine: Engine, experiment: str) -> MeasuredChecks:
        measured = MeasuredChecks(
            at=datetime.now(UTC), sections=collect_sections(engine, experiment, CHECK_SECTIONS)
        )
        with self._lock:
            self._measured[key] = (time.monotonic(), measured)
        return measured


CHECKS = ChecksCache()


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request) -> HTMLResponse:
    try:
        filters = parse_filter(dict(request.query_params))
        page = _page(request.query_params.get("page"))
    except BadFilter as exc:
        return _search_page(request, JobFilter(), 1, error=str(exc), status_code=422)
    return _search_page(request, filters, page)


def _search_page(
    request: Request, filters: JobFilter, page: int, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    experiment = _service(request).experiment
    rows, total = (
        ([], 0) if error else _store(request).search(experiment, filters, offset=(page - 1) * JOB_PAGE_SIZE)
    )
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    context = {
        "page": "jobs",
        "rows": rows,
        "total": total,
        "page_number": page,
        "pages": max(1, math.ceil(total / JOB_PAGE_SIZE)),
        "query": query,
        "query_string": urlencode(query),
        "error": error,
        "arms": ARM_NAMES,
        "outcomes": OUTCOMES,
        "error_kinds": _store(request).error_kinds(experiment),
    }
    return render(request, "jobs.html", context, status_code=status_code)


@router.get("/jobs.csv")
def jobs_csv(request: Request) -> Response:
    if not access.may_read(request):
        raise NotAllowed
    try:
        filters = parse_filter(dict(request.query_params))
    except BadFilter as exc:
        return Response(str(exc) + "\n", status_code=422, media_type="text/plain")
    rows, _ = _store(request).search(_service(request).experiment, filters, limit=CSV_MAX_ROWS)
    return StreamingResponse(
        _csv_lines(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="bakeoff-jobs.csv"'},
    )


CSV_CHUNK_ROWS = 2_000
"""Rows per chunk of a CSV download: each chunk of a sync iterator costs the server a thread hop."""


def _csv_lines(rows: list[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for start in range(0, len(rows), CSV_CHUNK_ROWS):
        writer.writerows(
            {k: "" if v is None else v for k, v in row.items()}
            for row in rows[start : start + CSV_CHUNK_ROWS]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


@router.get("/jobs/{trial_job_id}", response_class=HTMLResponse)
def job_page(request: Request, trial_job_id: str) -> HTMLResponse:
    job_id = _uuid_or_none(trial_job_id)
    found = _service(request).trial_job(job_id) if job_id else None
    if job_id is None or found is None:
        return render(request, "missing.html", {"what": f"trial job {trial_job_id}"}, status_code=404)
    job, _ = found
    store = _store(request)
    context = {
        "page": "jobs",
        "job": job,
        "events": store.events(job_id),
        "arm_view": store.arm_view(job["served_arm"], job_id, job["backend_job_id"]),
        "job_actions": JOB_ACTIONS.get(job["served_arm"], ()),
    }
    return render(request, "job.html", context)


@router.get("/documents/{document_id}", response_class=HTMLResponse)
def document_page(request: Request, document_id: str) -> HTMLResponse:
    doc_id = _uuid_or_none(document_id)
    document = _store(request).document(doc_id) if doc_id else None
    if document is None:
        return render(request, "missing.html", {"what": f"document {document_id}"}, status_code=404)
    return render(request, "document.html", {"page": "jobs", "document": document})


def parse_filter(params: dict[str, str]) -> JobFilter:
    """The search form's fields as a :class:`JobFilter`; a bad value raises :class:`BadFilter` naming it."""

    def text(name: str) -> str | None:
        value = params.get(name, "").strip()
        return value or None

    arm, outcome = text("arm"), text("outcome")
    if arm is not None and arm not in ARM_NAMES:
        raise BadFilter(f"arm must be one of {', '.join(ARM_NAMES)}, not {arm!r}")
    if outcome is not None and outcome not in OUTCOMES:
        raise BadFilter(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    raw_id = text("trial_job_id")
    trial_job_id = _uuid_or_none(raw_id) if raw_id else None
    if raw_id and trial_job_id is None:
        raise BadFilter(f"trial_job_id must be a UUID, not {raw_id!r}")
    return JobFilter(
        url=text("url"),
        unit_key=text("unit_key"),
        trial_job_id=trial_job_id,
        arm=arm,
        outcome=outcome,
        error_kind=text("error_kind"),
        since=_time(text("since"), "since"),
        until=_time(text("until"), "until"),
    )


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadFilter(f"{name} must be a date and time like 2026-12-05T09:00, not {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _page(value: str | None) -> int:
    if not value:
        return 1
    if not value.isdigit() or int(value) < 1:
        raise BadFilter(f"page must be a positive whole number, not {value!r}")
    return int(value)


def _uuid_or_none(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


def login_redirect(request: Request) -> RedirectResponse:
    """Where a reader without the token is sent (back here after signing in)."""
    return RedirectResponse(f"/ui/login?{urlencode({'next': request.url.path})}", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/ui") -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"csrf": access.csrf_token(request), "next": _local(next), "experiment": "", "admin": False},
    )
    return access.set_cookies(request, response)  # type: ignore[return-value]


@router.post("/login")
async def login(request: Request) -> Response:
    """Keep a valid API or admin token in the session cookie; a wrong one gets the form again (403)."""
    form = await read_form(request)
    token, next_path = str(form.get("token", "")), _local(str(form.get("next", "/ui")))
    if not access.csrf_valid(request, str(form.get("csrf_token", ""))):
        return Response("refused: the form's CSRF token is missing or wrong\n", status_code=403)
    if not token or not access.token_is_known(request, token):
        context = {"csrf": access.csrf_token(request), "next": next_path, "experiment": "", "admin": False}
        context["error"] = "That token is neither the API token nor the admin token of this service."
        return templates.TemplateResponse(request, "login.html", context, status_code=403)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        access.SESSION_COOKIE, token, httponly=True, samesite="strict", path=access.COOKIE_PATH
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await read_form(request)
    if not access.csrf_valid(request, str(form.get("csrf_token", ""))):
        return Response("refused: the form's CSRF token is missing or wrong\n", status_code=403)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(access.SESSION_COOKIE, path=access.COOKIE_PATH)
    return response


async def read_form(request: Request) -> dict[str, str]:
    """An url-encoded form's fields (the dashboard's forms post nothing else; no multipart needed)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {key: values[-1] for key, values in parse_qs(body, keep_blank_values=True).items()}


def _local(path: str) -> str:
    """Only redirect within the dashboard (no open redirect to another site)."""
    return path if path.startswith("/ui") and "//" not in path else "/ui"
