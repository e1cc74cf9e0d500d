"""HTTP plumbing shared by the routes: problem details, bearer-token checks and the body-size limit.

Every error leaves as an RFC 9457 ``application/problem+json`` document (OFREP routes answer their
own error shapes, :mod:`bakeoff.service.ofrep`). Tokens are compared with :func:`hmac.compare_digest`
and never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bakeoff.service.models import Problem, ProblemField

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "BodySizeLimit",
    "HttpProblem",
    "bearer_token",
    "problem_response",
    "token_matches",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:bakeoff:problem:"


class HttpProblem(Exception):
    """Raised by a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: Sequence[ProblemField] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors = list(errors) if errors is not None else None
        self.headers = headers


def problem_response(problem: HttpProblem) -> JSONResponse:
    body = Problem(
        type=PROBLEM_TYPE_PREFIX + problem.slug,
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        errors=problem.errors,
    ).model_dump(exclude_none=True)
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_MEDIA_TYPE
    )


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def token_matches(presented: str | None, expected: str | None) -> bool:
    """Constant-time comparison; nothing matches an unset token."""
    if presented is None or expected is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


class BodySizeLimit:
    """ASGI middleware: a body over ``max_bytes`` gets 413 before the route reads it all."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        refused = False  # the 413 went out; whatever the application answers after it is dropped
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer now and tell the application the client left: FastAPI turns any error
                    # raised while it reads the body into a 400, which must not replace the 413.
                    if not started:
                        refused = True
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if not refused:
                started = started or message["type"] == "http.response.start"
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            HttpProblem(
                413,
                "body-too-large",
                "Request body too large",
                f"the request body is larger than {self.max_bytes} bytes",
                headers={"Connection": "close"},
            )
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def problem_openapi(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem documents (media type fixed by the app's openapi())."""
    titles = {
        400: "The body is not UTF-8 JSON",
        401: "No or malformed bearer token",
        403: "Wrong token, or the admin routes are disabled",
        404: "Not found",
        413: "Request body too large",
        422: "Invalid input; the problem's errors name each field",
        503: "The database or every arm is unavailable; nothing was written",
    }
    return {status: {"model": Problem, "description": titles[status]} for status in statuses}
