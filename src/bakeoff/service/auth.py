"""Bearer-token guards: the API token (optional) for the ordinary routes, the admin token for steering.

Without ``BAKEOFF_ADMIN_TOKEN`` the admin routes answer 403 "admin routes are disabled"; with it, no
token is 401 and a wrong one 403. With ``BAKEOFF_API_TOKEN`` set, the other routes want it (the admin
token is accepted too, so an operator needs one token). Both guards are async and do no I/O, so an
OFREP evaluation stays on the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bakeoff.service.http import HttpProblem, bearer_token, token_matches
from bakeoff.service.settings import ServiceSettings

__all__ = ["require_admin_token", "require_api_token"]

_api_scheme = HTTPBearer(
    auto_error=False, scheme_name="apiToken", description="BAKEOFF_API_TOKEN, when the service sets one."
)
_admin_scheme = HTTPBearer(auto_error=False, scheme_name="adminToken", description="BAKEOFF_ADMIN_TOKEN.")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="bakeoff"'}


def _settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.service.settings
    return settings


async def require_api_token(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_api_scheme)]
) -> None:
    """Pass when no API token is configured, or when the request carries it (or the admin token)."""
    settings = _settings(request)
    if settings.api_token is None:
        return
    presented = _presented_token(request, "this route needs Authorization: Bearer <API token>")
    if not (token_matches(presented, settings.api_token) or token_matches(presented, settings.admin_token)):
        raise HttpProblem(403, "forbidden", "Forbidden", "the bearer token is not the API token")


async def require_admin_token(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_admin_scheme)]
) -> None:
    """Pass only with the admin token; 403 when the service has none (the admin routes are off)."""
    settings = _settings(request)
    if settings.admin_token is None:
        raise HttpProblem(
            403,
            "admin-disabled",
            "Forbidden",
            "admin routes are disabled (set BAKEOFF_ADMIN_TOKEN to enable them)",
        )
    presented = _presented_token(request, "admin routes need Authorization: Bearer <admin token>")
    if not token_matches(presented, settings.admin_token):
        raise HttpProblem(403, "forbidden", "Forbidden", "the bearer token is not the admin token")


def _presented_token(request: Request, missing: str) -> str:
    """The request's bearer token; 401 with ``missing`` as the problem's detail when there is none."""
    presented = bearer_token(request)
    if presented is None:
        raise HttpProblem(401, "unauthorized", "Unauthorized", missing, headers=_CHALLENGE)
    return presented
