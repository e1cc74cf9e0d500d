"""Who may see the dashboard and who may act on it: the service's tokens, carried by a cookie.

A browser cannot send ``Authorization: Bearer`` from a link, so ``/ui/login`` takes the API or admin
token once and keeps it in an HttpOnly, SameSite=Strict cookie scoped to ``/ui``; every page checks it
with the service's own comparison (or a bearer header, for scripts). Without ``BAKEOFF_API_TOKEN``
anyone may read, as with the API. Actions want the admin token and a CSRF token: a random value kept in
a cookie that a page also writes into its forms (double submit), so a form posted from another site,
which cannot read the cookie, is refused.
"""

from __future__ import annotations

import secrets

from fastapi import Request
from fastapi.responses import Response

from bakeoff.service.http import bearer_token, token_matches
from bakeoff.service.settings import ServiceSettings

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "csrf_token",
    "csrf_valid",
    "is_admin",
    "may_read",
    "presented_token",
    "set_cookies",
    "token_is_known",
]

SESSION_COOKIE = "bakeoff_ui_token"
CSRF_COOKIE = "bakeoff_ui_csrf"
COOKIE_PATH = "/ui"


def _settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.service.settings
    return settings


def presented_token(request: Request) -> str | None:
    """The bearer token of the request, or the one its session cookie carries."""
    return bearer_token(request) or request.cookies.get(SESSION_COOKIE) or None


def may_read(request: Request) -> bool:
    """True without an API token configured, or with the API or admin token presented."""
    settings = _settings(request)
    if settings.api_token is None:
        return True
    token = presented_token(request)
    return token is not None and (
        token_matches(token, settings.api_token) or token_matches(token, settings.admin_token)
    )


def is_admin(request: Request) -> bool:
    """True when the service has an admin token and the request presents it."""
    settings = _settings(request)
    token = presented_token(request)
    if settings.admin_token is None or token is None:
        return False
    return token_matches(token, settings.admin_token)


def token_is_known(request: Request, token: str) -> bool:
    settings = _settings(request)
    return token_matches(token, settings.admin_token) or token_matches(token, settings.api_token)


def csrf_token(request: Request) -> str:
    """The request's CSRF value (the cookie's, or a new one that :func:`set_cookies` will store)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing
    cached: str | None = getattr(request.state, "csrf", None)
    if cached is None:
        cached = secrets.token_urlsafe(32)
        request.state.csrf = cached
    return cached


def csrf_valid(request: Request, submitted: str | None) -> bool:
    """The form's token equals the cookie's (both present)."""
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted) and secrets.compare_digest(str(cookie), str(submitted))


def set_cookies(request: Request, response: Response) -> Response:
    """Store a CSRF value created while rendering this response."""
    created: str | None = getattr(request.state, "csrf", None)
    if created and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(
            CSRF_COOKIE, created, httponly=True, samesite="strict", path=COOKIE_PATH, secure=False
        )
    return response
