"""The dashboard's admin actions, each done through the arm's own public API and recorded.

A job action runs on the served arm's backend of this process (``Service.backends``): legacy
``retry``/``reap``, pg-boss's ``retry``/``cancel``/``resume``/``delete_job``, inngest's
``cancel_run`` and ``rerun``; it is recorded as a ``dashboard_action`` row in ``bakeoff.job_events``
with who did it, why, and what the arm answered. Kill and revive go through the Router (as the
admin API does) and are filed under the arm's latest job; an observation goes to
``bakeoff.observations`` with its author and note.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from bakeoff.contract import InvalidRequest
from bakeoff.dashboard.store import DashboardStore
from bakeoff.metrics.cli import OBSERVATION_KINDS
from bakeoff.service.service import Service

__all__ = ["ARM_ACTIONS", "JOB_ACTIONS", "ActionRequest", "arm_action", "job_action", "observe"]

logger = logging.getLogger(__name__)

ACTION_EVENT = "dashboard_action"
JOB_ACTIONS = {
    "legacy": ("retry",),
    "pgboss": ("retry", "cancel", "resume", "delete"),
    "inngest": ("cancel", "rerun"),
}
ARM_ACTIONS = ("kill", "revive")


@dataclass(frozen=True, kw_only=True, slots=True)
class ActionRequest:
    """Who asks for an action and why (both required: the event log must say)."""

    who: str
    why: str

    def __post_init__(self) -> None:
        if not self.who.strip():
            raise InvalidRequest("who: say who you are (your name goes into the job's event log)")
        if not self.why.strip():
            raise InvalidRequest("why: say why (the reason goes into the job's event log)")


def job_action(service: Service, trial_job_id: UUID, action: str, request: ActionRequest) -> dict[str, Any]:
    """Run ``action`` on the job's served arm and record it; returns what the arm answered."""
    found = service.trial_job(trial_job_id)
    if found is None:
        raise InvalidRequest(f"trial_job_id: no trial job {trial_job_id}")
    job, _ = found
    arm, backend_job_id = job["served_arm"], job["backend_job_id"]
    if action not in JOB_ACTIONS.get(arm, ()):
        raise InvalidRequest(
            f"action: {arm} jobs take {', '.join(JOB_ACTIONS.get(arm, ())) or 'no action'}, not {action!r}"
        )
    if not backend_job_id:
        raise InvalidRequest(f"trial_job_id: {trial_job_id} has no backend job")
    result = _ARM_RUNNERS[arm](service.backends[arm], action, backend_job_id)
    _record(service, trial_job_id, {"action": f"{arm}.{action}", **_who(request), "result": result})
    return result


def reap_legacy(service: Service, older_than: timedelta, request: ActionRequest) -> list[str]:
    """``bakeoff legacy reap`` from the page; each reaped job gets its own recorded event."""
    backend: Any = service.backends["legacy"]
    reaped = backend.reap(older_than)
    for job in reaped:
        if job.trial_job_id is not None:
            detail = {"action": "legacy.reap", **_who(request), "result": {"reaped": str(job.id)}}
            _record(service, job.trial_job_id, {**detail, "older_than_seconds": older_than.total_seconds()})
    return [str(job.id) for job in reaped]


def arm_action(service: Service, arm: str, action: str, request: ActionRequest) -> None:
    """Kill or revive an arm through the Router (the control arm cannot be killed)."""
    if action not in ARM_ACTIONS:
        raise InvalidRequest(f"action: arms take {', '.join(ARM_ACTIONS)}, not {action!r}")
    (service.kill if action == "kill" else service.revive)(arm)
    logger.info("dashboard: %s %s by %s: %s", action, arm, request.who, request.why)
    # Events belong to a trial job: the switch is filed under the arm's latest job, as the guard
    # files its kills (an arm that never served a job has no timeline to show it in).
    latest = DashboardStore(service.engine).latest_served_job(service.experiment, arm)
    if latest is not None:
        _record(service, latest, {"action": f"arm.{action}", "arm": arm, **_who(request)})


def observe(service: Service, arm: str, kind: str, value: float, request: ActionRequest) -> int:
    """Record a qualitative observation (the seed's criteria) for ``arm``."""
    if arm not in service.router.state.arms:
        raise InvalidRequest(f"arm: {arm!r} is not an arm of {service.experiment}")
    if kind not in OBSERVATION_KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(OBSERVATION_KINDS)}, not {kind!r}")
    return service.recorder.observe(
        arm=arm,
        kind=kind,
        value=value,
        note=request.why,
        recorded_by=request.who,
        experiment=service.experiment,
    )


def _who(request: ActionRequest) -> dict[str, str]:
    return {"by": request.who.strip(), "why": request.why.strip()}


def _record(service: Service, trial_job_id: UUID, detail: dict[str, Any]) -> None:
    service.recorder.event(trial_job_id, ACTION_EVENT, detail=detail)
    logger.info("dashboard action %s on %s", detail["action"], trial_job_id)


def _legacy(backend: Any, action: str, backend_job_id: str) -> dict[str, Any]:
    # A retry is of the chain's newest row: the first row may have been retried already.
    chain = DashboardStore(backend.engine).legacy_chain(backend_job_id)
    target = chain[-1]["id"] if chain else backend_job_id
    return {"retry_job_id": str(backend.retry(target))}


def _pgboss(backend: Any, action: str, backend_job_id: str) -> dict[str, Any]:
    if action == "cancel":  # the arm's cancel also records the trial job's cancelled outcome
        return {"cancelled": bool(backend.cancel(backend_job_id))}
    backend.health()  # starts the arm's PgBoss (its public entry points do so lazily)
    method = {"retry": "retry", "resume": "resume", "delete": "delete_job"}[action]
    outcome = getattr(backend.boss, method)(backend.queue, backend_job_id)
    return {"affected": int(outcome.affected)}


def _inngest(backend: Any, action: str, backend_job_id: str) -> dict[str, Any]:
    if action == "rerun":  # a failed or cancelled run only; the trial job keeps its first outcome
        return {"rerun_run_id": backend.rerun(backend_job_id)}
    return {"cancelled": bool(backend.cancel(backend_job_id))}


_ARM_RUNNERS: dict[str, Callable[[Any, str, str], dict[str, Any]]] = {
    "legacy": _legacy,
    "pgboss": _pgboss,
    "inngest": _inngest,
}
