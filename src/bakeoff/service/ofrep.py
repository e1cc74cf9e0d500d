"""OFREP: the OpenFeature Remote Evaluation Protocol over the experiment's assignment rule.

The flag key is the experiment's name; the value and variant are the arm that would serve an import
of the ``targetingKey`` now. Shapes, status codes and the bulk endpoint's ``ETag``/``If-None-Match``
follow open-feature/protocol's ``service/openapi.yaml``. An evaluation answers from the service's
snapshot of the rule (no I/O) and writes nothing: the exposure is recorded when the import is
submitted, never when a flag is read.

=================  ==============================================================
reason             when
=================  ==============================================================
``SPLIT``          the unit's hash bucket chose the arm
``TARGETING_MATCH`` a unit override chose the arm
``DISABLED``       the chosen arm is killed, so the control arm is served
=================  ==============================================================
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse

from bakeoff.contract import MAX_KEY_LENGTH
from bakeoff.router import Decision
from bakeoff.service.auth import require_api_token
from bakeoff.service.http import problem_openapi
from bakeoff.service.models import (
    OfrepBulkErrorOut,
    OfrepBulkOut,
    OfrepErrorOut,
    OfrepEvaluationOut,
    OfrepRequest,
)
from bakeoff.service.service import Service, Snapshot

__all__ = ["evaluate", "router"]

router = APIRouter(prefix="/ofrep/v1", tags=["ofrep"], dependencies=[Depends(require_api_token)])

_REQUEST_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": OfrepRequest.model_json_schema()}},
    }
}


class OfrepError(Exception):
    def __init__(self, code: str, details: str, status: int = 400) -> None:
        super().__init__(details)
        self.code, self.details, self.status = code, details, status


def _reason(decision: Decision) -> str:
    if decision.served_arm != decision.assigned_arm:
        return "DISABLED"
    return "TARGETING_MATCH" if decision.reason == "override" else "SPLIT"


def evaluate(snapshot: Snapshot, key: str, context: Any) -> dict[str, Any]:
    """One flag's OFREP evaluation for ``context`` (raises :class:`OfrepError`)."""
    if key != snapshot.state.name:
        raise OfrepError(
            "FLAG_NOT_FOUND",
            f"flag {key!r} does not exist; this service's flag is {snapshot.state.name!r}",
            404,
        )
    if context is None:
        raise OfrepError("TARGETING_KEY_MISSING", "the request has no context.targetingKey")
    if not isinstance(context, dict):
        raise OfrepError("INVALID_CONTEXT", "context must be a JSON object")
    unit_key = context.get("targetingKey")
    if unit_key is None or unit_key == "":
        raise OfrepError("TARGETING_KEY_MISSING", "context.targetingKey is missing; it is the unit key")
    if not isinstance(unit_key, str) or len(unit_key) > MAX_KEY_LENGTH or "\x00" in unit_key:
        raise OfrepError(
            "INVALID_CONTEXT",
            f"context.targetingKey must be a string of at most {MAX_KEY_LENGTH} characters without NUL",
        )
    decision = snapshot.decide(unit_key)
    return {
        "key": key,
        "value": decision.served_arm,
        "variant": decision.served_arm,
        "reason": _reason(decision),
        "metadata": {
            "experiment": snapshot.state.name,
            "phase": snapshot.state.phase,
            "assignedArm": decision.assigned_arm,
            "assignmentReason": decision.reason,
        },
    }


async def _context(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OfrepError("PARSE_ERROR", f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise OfrepError("PARSE_ERROR", "the body must be a JSON object with a context")
    return body.get("context")


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


@router.post(
    "/evaluate/flags/{key}",
    summary="Evaluate the experiment's flag for one targetingKey",
    response_model=OfrepEvaluationOut,
    responses={
        400: {"model": OfrepErrorOut, "description": "Bad evaluation request"},
        404: {"model": OfrepErrorOut, "description": "Flag not found"},
        **problem_openapi(401, 403, 413),
    },
    openapi_extra=_REQUEST_BODY,
)
async def evaluate_flag(key: str, request: Request) -> Response:
    try:
        result = evaluate(_service(request).snapshot, key, await _context(request))
    except OfrepError as error:
        return JSONResponse(
            {"key": key, "errorCode": error.code, "errorDetails": error.details}, error.status
        )
    return JSONResponse(result)


@router.post(
    "/evaluate/flags",
    summary="Evaluate every flag (the experiment's) for one targetingKey; ETag / If-None-Match",
    response_model=OfrepBulkOut,
    responses={
        200: {
            "headers": {"ETag": {"schema": {"type": "string"}, "description": "Entity tag of the evaluation"}}
        },
        304: {"description": "Bulk evaluation is not modified"},
        400: {"model": OfrepBulkErrorOut, "description": "Bad evaluation request"},
        **problem_openapi(401, 403, 413),
    },
    openapi_extra=_REQUEST_BODY,
)
async def evaluate_flags(
    request: Request, if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None
) -> Response:
    snapshot = _service(request).snapshot
    try:
        flag = evaluate(snapshot, snapshot.state.name, await _context(request))
    except OfrepError as error:
        return JSONResponse({"errorCode": error.code, "errorDetails": error.details}, 400)
    body = json.dumps({"flags": [flag]}, separators=(",", ":"), sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison of ``If-None-Match`` (a list of tags, or ``*``) with ``etag``."""
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


CONFIGURATION = {
    "name": "bakeoff",
    "capabilities": {
        "cacheInvalidation": {"polling": {"enabled": True, "minPollingIntervalMs": 1000}},
        "flagEvaluation": {"supportedTypes": ["string"]},
    },
}
_CONFIGURATION_BODY = json.dumps(CONFIGURATION, separators=(",", ":"), sort_keys=True).encode()
_CONFIGURATION_ETAG = '"' + hashlib.sha256(_CONFIGURATION_BODY).hexdigest()[:32] + '"'


@router.get(
    "/configuration",
    summary="OFREP provider configuration: string flags, polling no faster than once a second",
    responses={
        200: {
            "content": {"application/json": {"schema": {"type": "object"}}},
            "headers": {"ETag": {"schema": {"type": "string"}, "description": "Entity tag of the document"}},
        },
        304: {"description": "The configuration is not modified"},
        **problem_openapi(401, 403),
    },
    response_class=Response,
)
async def configuration(
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    if if_none_match is not None and _matches(if_none_match, _CONFIGURATION_ETAG):
        return Response(status_code=304, headers={"ETag": _CONFIGURATION_ETAG})
    return Response(_CONFIGURATION_BODY, media_type="application/json", headers={"ETag": _CONFIGURATION_ETAG})
