"""Attempt spans, linked to the submit span that routed the job, across processes.

``bakeoff serve`` (when tracing is on) stores each new job's submit span context as a
``trace_context`` event in ``bakeoff.job_events`` (W3C ``traceparent``, plus the served arm and the
experiment), through the Recorder's public ``event()``: no migration, and no write at all while
tracing is off. A worker whose tracing is on (``trace_attempts``) wraps every attempt in a
``process`` span that reads that event back and links to the submit span. The metrics hook
``record_attempt`` calls :func:`attempt_span` for every arm.

This module imports nothing heavy: the legacy arm's per-job child imports it, never turns tracing
on, and so never loads OpenTelemetry (its start-up time is one of the things the trial measures).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer, TracerProvider

__all__ = ["TRACE_CONTEXT_EVENT", "attempt_span", "trace_attempts"]

logger = logging.getLogger(__name__)

TRACE_CONTEXT_EVENT = "trace_context"
_attempt_tracer: Tracer | None = None


def trace_attempts(provider: TracerProvider | None) -> None:
    """Wrap this process's attempts in spans of ``provider`` (None: stop)."""
    global _attempt_tracer  # noqa: PLW0603 (process-wide, like OpenTelemetry's own provider; set by the entry point)
    if provider is None:
        _attempt_tracer = None
        return
    from opentelemetry import trace

    _attempt_tracer = trace.get_tracer("bakeoff", tracer_provider=provider)


def _stored_context(recorder: object, trial_job_id: UUID) -> Mapping[str, Any]:
    """The ``trace_context`` event's detail, when the recorder can read events and there is one."""
    events = getattr(recorder, "events", None)
    if events is None:
        return {}
    try:
        for _at, event, _attempt, detail in events(trial_job_id):
            if event == TRACE_CONTEXT_EVENT:
                return dict(detail)
    except Exception:  # tracing must never fail the job it observes
        logger.warning("could not read the trace context of %s", trial_job_id, exc_info=True)
    return {}


@contextmanager
def attempt_span(recorder: object, trial_job_id: UUID, attempt: int) -> Iterator[None]:
    """A ``process`` span around one attempt, linked to its submit span (no-op unless tracing is on)."""
    tracer = _attempt_tracer
    if tracer is None:
        yield
        return
    from opentelemetry.trace import Link, SpanKind, get_current_span
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from bakeoff.service.telemetry import messaging_attributes

    stored = _stored_context(recorder, trial_job_id)
    submit = get_current_span(TraceContextTextMapPropagator().extract(stored)).get_span_context()
    experiment = str(stored.get("experiment", "bakeoff"))
    attributes: dict[str, Any] = {
        **messaging_attributes(str(stored.get("arm", "unknown")), "process", experiment),
        "messaging.message.id": str(trial_job_id),
        "bakeoff.trial_job_id": str(trial_job_id),
        "bakeoff.attempt": attempt,
    }
    with tracer.start_as_current_span(
        f"process {experiment}",
        kind=SpanKind.CONSUMER,
        links=[Link(submit)] if submit.is_valid else [],
        attributes=attributes,
        record_exception=True,
        set_status_on_exception=True,
    ):
        yield
