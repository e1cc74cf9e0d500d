"""The stuck-work page and the action forms' endpoints (admin token and CSRF token required).

Every action form posts ``csrf_token``, ``who`` and ``why``; a request without the admin token gets
403 and changes nothing, as does one whose CSRF token does not match its cookie (a forged form).
After an action the browser is sent back (303) to the page the form was on.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bakeoff.contract import BackendError, InvalidRequest
from bakeoff.dashboard import access, actions
from bakeoff.dashboard.store import stuck_work
from bakeoff.dashboard.views import read_form, render, router

__all__ = ["DEFAULT_STUCK_MINUTES"]

logger = logging.getLogger(__name__)

DEFAULT_STUCK_MINUTES = 15.0


@router.get("/stuck", response_class=HTMLResponse)
def stuck_page(request: Request, older_than_minutes: float = DEFAULT_STUCK_MINUTES) -> HTMLResponse:
    service = request.app.state.service
    context = {
        "page": "stuck",
        "older_than_minutes": older_than_minutes,
        "stuck": stuck_work(service.engine, older_than_minutes * 60),
        "job_actions": actions.JOB_ACTIONS,
        "state": service.router.refresh(),
    }
    return render(request, "stuck.html", context)


async def _checked(request: Request) -> tuple[dict[str, str], actions.ActionRequest] | Response:
    """The form and who/why, or the refusal (403 without admin or CSRF, 422 without who/why)."""
    form = await read_form(request)
    if not access.csrf_valid(request, form.get("csrf_token")):
        return _refused(request, 403, "the form's CSRF token is missing or does not match (a forged form?)")
    if not access.is_admin(request):
        return _refused(request, 403, "actions need the admin token: sign in with BAKEOFF_ADMIN_TOKEN")
    try:
        return form, actions.ActionRequest(who=form.get("who", ""), why=form.get("why", ""))
    except InvalidRequest as exc:
        return _refused(request, 422, str(exc))


def _refused(request: Request, status: int, reason: str) -> Response:
    logger.warning("dashboard action refused (%d): %s", status, reason)
    return render(request, "refused.html", {"reason": reason}, status_code=status)


def _back(form: dict[str, str], default: str) -> RedirectResponse:
    target = form.get("back", default)
    return RedirectResponse(target if target.startswith("/ui") and "//" not in target else default, 303)


@router.post("/actions/job")
async def job_action(request: Request) -> Response:
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    form, who = checked
    try:
        trial_job_id = UUID(form.get("trial_job_id", ""))
        actions.job_action(request.app.state.service, trial_job_id, form.get("action", ""), who)
    except (ValueError, InvalidRequest) as exc:
        return _refused(request, 422, str(exc))
    except BackendError as exc:  # the arm said no (a completed run is not rerun): nothing was done
        return _refused(request, 409, str(exc))
    return _back(form, f"/ui/jobs/{trial_job_id}")


@router.post("/actions/legacy-reap")
async def legacy_reap(request: Request) -> Response:
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    form, who = checked
    try:
        minutes = float(form.get("older_than_minutes", ""))
        if minutes <= 0:
            raise ValueError
    except ValueError:
        return _refused(request, 422, "older_than_minutes must be a positive number of minutes")
    actions.reap_legacy(request.app.state.service, timedelta(minutes=minutes), who)
    return _back(form, "/ui/stuck")


@router.post("/actions/arm")
async def arm_action(request: Request) -> Response:
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    form, who = checked
    try:
        actions.arm_action(request.app.state.service, form.get("arm", ""), form.get("action", ""), who)
    except InvalidRequest as exc:
        return _refused(request, 422, str(exc))
    return _back(form, "/ui/stuck")


@router.post("/actions/observation")
async def observation(request: Request) -> Response:
    checked = await _checked(request)
    if isinstance(checked, Response):
        return checked
    form, who = checked
    try:
        value = _number(form.get("value", ""))
        kind = form.get("kind", "").strip()
        if not kind:
            raise InvalidRequest("kind: say what was observed (e.g. debugging_minutes)")
        actions.observe(request.app.state.service, form.get("arm", ""), kind, value, who)
    except InvalidRequest as exc:
        return _refused(request, 422, str(exc))
    return _back(form, "/ui")


def _number(raw: Any) -> float:
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidRequest(f"value must be a number, not {raw!r}") from exc
