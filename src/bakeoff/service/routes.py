"""The service's own routes: imports, experiment state, the admin switches, and health.

Routes are plain ``def`` functions: FastAPI runs them in its thread pool, where the Router's
blocking, thread-safe ``submit`` belongs.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse

from bakeoff.contract import MAX_KEY_LENGTH, ImportRequest, InvalidRequest
from bakeoff.service.auth import require_admin_token, require_api_token
from bakeoff.service.http import HttpProblem, problem_openapi
from bakeoff.service.models import (
    ArmCounts,
    ArmHealth,
    ExperimentOut,
    ImportIn,
    ImportOut,
    JobEventOut,
    OverrideIn,
    OverrideOut,
    ProblemField,
    ReadyOut,
    TrialJobOut,
    WeightsIn,
)
from bakeoff.service.service import Service

__all__ = ["router"]

router = APIRouter()

IMPORT_FIELDS = ("url", "unit_key", "idempotency_key")
ExperimentName = Annotated[str, Path(min_length=1, max_length=MAX_KEY_LENGTH, examples=["article-import"])]
ArmName = Annotated[str, Path(min_length=1, max_length=MAX_KEY_LENGTH, examples=["inngest"])]
UnitKey = Annotated[str, Path(min_length=1, max_length=MAX_KEY_LENGTH, examples=["qa-user-1"])]


async def get_service(request: Request) -> Service:
    """The process's Service (async: a sync dependency would cost a thread-pool hop per request)."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def invalid(message: str, field: str | None = None) -> HttpProblem:
    errors = [ProblemField(field=field, message=message)] if field else None
    return HttpProblem(422, "invalid-request", "Invalid request", message, errors=errors)


def _import_request(body: ImportIn, header_key: str | None) -> ImportRequest:
    if header_key is not None and body.idempotency_key is not None and header_key != body.idempotency_key:
        raise invalid(
            "the Idempotency-Key header and the body's idempotency_key differ; send one of them",
            "idempotency_key",
        )
    try:
        return ImportRequest(
            url=body.url, unit_key=body.unit_key, idempotency_key=header_key or body.idempotency_key
        )
    except InvalidRequest as exc:
        message = str(exc)
        field = next((f for f in IMPORT_FIELDS if message.startswith(f + " ")), None)
        raise invalid(message, field) from exc


@router.post(
    "/v1/imports",
    status_code=201,
    response_model=ImportOut,
    summary="Route one article import",
    responses={
        200: {"model": ImportOut, "description": "A repeat of an idempotency key: the first submission"},
        **problem_openapi(400, 401, 403, 413, 422, 503),
    },
    dependencies=[Depends(require_api_token)],
    tags=["imports"],
)
def create_import(
    body: ImportIn,
    service: ServiceDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH)
    ] = None,
) -> Response:
    """Exposure and enqueue commit together, or nothing is written (503)."""
    submission = service.submit(_import_request(body, idempotency_key))
    # Built by hand and returned as a Response: response_model validation would repeat, on the hot
    # path, checks the Submission's own types already guarantee (the schema stays ImportOut).
    return JSONResponse(
        {
            "trial_job_id": str(submission.trial_job_id),
            "experiment": submission.experiment,
            "phase": submission.phase,
            "arm": submission.served_arm,
            "assigned_arm": submission.assigned_arm,
            "assignment_reason": submission.reason,
            "backend_job_id": submission.backend_job_id,
            "duplicate": submission.duplicate,
        },
        status_code=200 if submission.duplicate else 201,
    )


@router.get(
    "/v1/imports/{trial_job_id}",
    response_model=TrialJobOut,
    summary="One import's lifecycle and events",
    responses=problem_openapi(401, 403, 404, 422, 503),
    dependencies=[Depends(require_api_token)],
    tags=["imports"],
)
def get_import(trial_job_id: UUID, service: ServiceDep) -> TrialJobOut:
    found = service.trial_job(trial_job_id)
    if found is None:
        raise HttpProblem(404, "not-found", "Not found", f"no trial job {trial_job_id}")
    row, events = found
    return TrialJobOut(**row, events=[JobEventOut(**event) for event in events])


def _experiment_out(service: Service) -> ExperimentOut:
    summary = service.summary()
    state = summary.state.as_dict()
    return ExperimentOut(
        name=summary.state.name,
        arms=list(summary.state.arms),
        control=summary.state.control,
        phase=summary.state.phase,
        salt=summary.state.salt,
        weights=state["weights"],  # type: ignore[arg-type]
        shares=state["shares"],  # type: ignore[arg-type]
        killed_arms=sorted(summary.state.killed_arms),
        overrides=summary.overrides,
        counts={arm: ArmCounts(**counts) for arm, counts in summary.counts.items()},
    )


@router.get(
    "/v1/experiments/{name}",
    response_model=ExperimentOut,
    summary="The experiment's phase, weights, killed arms, overrides and jobs per arm",
    responses=problem_openapi(401, 403, 404, 422, 503),
    dependencies=[Depends(require_api_token)],
    tags=["experiments"],
)
def get_experiment(name: ExperimentName, service: ServiceDep) -> ExperimentOut:
    service.check_experiment(name)
    return _experiment_out(service)


ADMIN: dict[str, Any] = {
    "dependencies": [Depends(require_admin_token)],
    "tags": ["admin"],
    "response_model": ExperimentOut,
    "responses": problem_openapi(400, 401, 403, 404, 413, 422, 503),
}


@router.post(
    "/v1/experiments/{name}/arms/{arm}/kill", summary="Serve the arm's units by the control arm", **ADMIN
)
def kill_arm(name: ExperimentName, arm: ArmName, service: ServiceDep) -> ExperimentOut:
    service.check_experiment(name)
    service.kill(arm)
    return _experiment_out(service)


@router.post(
    "/v1/experiments/{name}/arms/{arm}/revive", summary="Serve the arm's units by the arm again", **ADMIN
)
def revive_arm(name: ExperimentName, arm: ArmName, service: ServiceDep) -> ExperimentOut:
    service.check_experiment(name)
    service.revive(arm)
    return _experiment_out(service)


@router.put("/v1/experiments/{name}/weights", summary="New weights: a new phase with a new salt", **ADMIN)
def set_weights(name: ExperimentName, body: WeightsIn, service: ServiceDep) -> ExperimentOut:
    service.check_experiment(name)
    service.set_weights(body.weights)
    return _experiment_out(service)


@router.put(
    "/v1/experiments/{name}/overrides/{unit_key:path}",
    summary="Pin a unit to an arm (recorded as reason 'override')",
    dependencies=[Depends(require_admin_token)],
    tags=["admin"],
    response_model=OverrideOut,
    responses=problem_openapi(400, 401, 403, 404, 413, 422, 503),
)
def put_override(
    name: ExperimentName, unit_key: UnitKey, body: OverrideIn, service: ServiceDep
) -> OverrideOut:
    service.check_experiment(name)
    service.set_override(unit_key, body.arm)
    return OverrideOut(experiment=name, unit_key=unit_key, arm=body.arm)


@router.delete(
    "/v1/experiments/{name}/overrides/{unit_key:path}",
    status_code=204,
    summary="Remove a unit's override",
    dependencies=[Depends(require_admin_token)],
    tags=["admin"],
    responses=problem_openapi(401, 403, 404, 422, 503),
)
def delete_override(name: ExperimentName, unit_key: UnitKey, service: ServiceDep) -> Response:
    service.check_experiment(name)
    if not service.clear_override(unit_key):
        raise HttpProblem(404, "not-found", "Not found", f"unit {unit_key!r} has no override")
    return Response(status_code=204)


@router.get("/healthz", summary="The process answers", tags=["health"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyOut,
    summary="The database and every arm's health()",
    responses={503: {"model": ReadyOut, "description": "The database or an arm is not ready"}},
    tags=["health"],
)
def readyz(service: ServiceDep) -> Any:
    database_ok, database_detail = service.database_ok()
    arms = {
        arm: ArmHealth(ok=h.ok, detail=h.detail, queued=h.queued, running=h.running)
        for arm, h in (service.arm_health().items() if database_ok else ())
    }
    ready = database_ok and all(h.ok for h in arms.values())
    body = ReadyOut(ready=ready, database=database_detail, arms=arms)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
