"""The JSON bodies of ``bakeoff serve``: requests, responses and RFC 9457 problem details.

These pydantic models are the OpenAPI document's schemas (committed as ``docs/openapi.json``).
Field limits repeat the contract's (:data:`bakeoff.contract.MAX_URL_LENGTH`, ``MAX_KEY_LENGTH``)
so a client sees them in the schema; the contract's own checks still run on every value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from bakeoff.contract import MAX_KEY_LENGTH, MAX_URL_LENGTH

__all__ = [
    "ArmCounts",
    "ArmHealth",
    "ExperimentOut",
    "ImportIn",
    "ImportOut",
    "JobEventOut",
    "OfrepBulkOut",
    "OfrepContext",
    "OfrepErrorOut",
    "OfrepEvaluationOut",
    "OfrepRequest",
    "OverrideIn",
    "OverrideOut",
    "Problem",
    "ProblemField",
    "ReadyOut",
    "TrialJobOut",
    "WeightsIn",
]

AssignmentReason = Literal["hash", "override", "killed", "fallback"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportIn(_Strict):
    """One article import. ``unit_key`` is what the assignment sticks to (default: the URL)."""

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+",
        description="An absolute http(s) URL.",
        examples=["https://example.com/articles/1"],
    )
    unit_key: str | None = Field(default=None, min_length=1, max_length=MAX_KEY_LENGTH, examples=["user-42"])
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="A repeat with this key returns the first submission (or use an Idempotency-Key header).",
    )


class ImportOut(BaseModel):
    """What the router did with the import."""

    trial_job_id: UUID
    experiment: str
    phase: int
    arm: str = Field(description="The arm that serves the job.")
    assigned_arm: str = Field(
        description="The arm the unit is assigned to (differs when killed or fallen back)."
    )
    assignment_reason: AssignmentReason
    backend_job_id: str
    duplicate: bool = Field(
        description="True when an earlier submit under the same idempotency key answered."
    )


class JobEventOut(BaseModel):
    at: datetime
    event: str
    attempt: int | None
    detail: dict[str, Any]


class TrialJobOut(BaseModel):
    """A trial job's lifecycle row (database clock) and its events."""

    trial_job_id: UUID
    experiment: str
    phase: int
    unit_key: str
    assigned_arm: str
    served_arm: str
    assignment_reason: AssignmentReason
    backend_job_id: str | None
    url: str
    idempotency_key: str | None
    submitted_at: datetime
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    outcome: Literal["completed", "failed", "cancelled"] | None
    error_kind: str | None
    error_message: str | None
    document_id: UUID | None
    queue_wait_ms: float | None
    run_time_ms: float | None
    latency_ms: float | None
    events: list[JobEventOut]


class ArmCounts(BaseModel):
    submitted: int
    hash: int
    override: int
    killed: int
    fallback: int
    open: int
    completed: int
    failed: int
    cancelled: int


class ExperimentOut(BaseModel):
    """An experiment's live state and its jobs per served arm."""

    name: str
    arms: list[str]
    control: str
    phase: int
    salt: str
    weights: dict[str, float]
    shares: dict[str, float]
    killed_arms: list[str]
    overrides: dict[str, str]
    counts: dict[str, ArmCounts]


class WeightsIn(_Strict):
    """Every arm's weight; a change starts a new phase (new salt), the same weights change nothing."""

    weights: dict[str, float] = Field(examples=[{"legacy": 2, "pgboss": 1, "inngest": 1}])


class OverrideIn(_Strict):
    arm: str = Field(min_length=1, max_length=MAX_KEY_LENGTH)


class OverrideOut(BaseModel):
    experiment: str
    unit_key: str
    arm: str


class ArmHealth(BaseModel):
    ok: bool
    detail: str
    queued: int | None
    running: int | None


class ReadyOut(BaseModel):
    ready: bool
    database: str
    arms: dict[str, ArmHealth]


class ProblemField(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem detail (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemField] | None = None


# -- OFREP (open-feature/protocol service/openapi.yaml) ------------------------------------------


class OfrepContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    targetingKey: str | None = None


class OfrepRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    context: dict[str, Any] | None = None


class OfrepEvaluationOut(BaseModel):
    """A successful evaluation: the arm as value and variant."""

    key: str
    value: str
    variant: str
    reason: Literal["SPLIT", "TARGETING_MATCH", "DISABLED"]
    metadata: dict[str, str | int | float | bool]


class OfrepErrorOut(BaseModel):
    key: str
    errorCode: Literal["PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL", "FLAG_NOT_FOUND"]
    errorDetails: str


class OfrepBulkOut(BaseModel):
    flags: list[OfrepEvaluationOut | OfrepErrorOut]


class OfrepBulkErrorOut(BaseModel):
    errorCode: str
    errorDetails: str
