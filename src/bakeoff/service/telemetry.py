"""The service's own measurements: the router's submit latency (Prometheus) and submit spans (OpenTelemetry).

Job counts and durations are not counted here: they are read from ``bakeoff.trial_jobs`` at scrape
time (:mod:`bakeoff.service.metrics`), so every process and every scrape agrees with the database.
What only this process can see (how long ``Router.submit`` took, and which submits failed before
writing anything) is kept in this process's registry.

Tracing is off unless the standard ``OTEL_TRACES_EXPORTER`` variable names an exporter
(``console``, or ``otlp`` with ``opentelemetry-exporter-otlp`` installed); ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES`` and the exporter's own ``OTEL_EXPORTER_*`` variables apply as usual.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry, Counter, Histogram

from bakeoff.contract import ConfigurationError, Submission

__all__ = [
    "SUBMIT_LATENCY_BUCKETS",
    "Telemetry",
    "configure_tracing",
    "messaging_attributes",
]

logger = logging.getLogger(__name__)

SUBMIT_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
TRACER_NAME = "bakeoff"


def messaging_attributes(arm: str, operation: str, experiment: str) -> dict[str, str]:
    """The OpenTelemetry messaging attributes of a send or process span on ``arm``."""
    return {
        "messaging.system": f"bakeoff.{arm}",
        "messaging.operation.name": operation,
        "messaging.operation.type": operation,
        "messaging.destination.name": experiment,
    }


class Telemetry:
    """This process's submit histogram and tracer; ``tracer_provider`` defaults to the global one."""

    def __init__(
        self, *, registry: CollectorRegistry | None = None, tracer_provider: TracerProvider | None = None
    ) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.submit_seconds = Histogram(
            "bakeoff_router_submit_seconds",
            "Time Router.submit took in this process, per served arm and assignment reason.",
            ["experiment", "arm", "reason"],
            buckets=SUBMIT_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.submit_failures = Counter(
            "bakeoff_router_submit_failures",
            "Submits in this process that no arm could take (nothing was written).",
            ["experiment"],
            registry=self.registry,
        )
        self.tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)

    def traced_submit(
        self, experiment: str, submit: Callable[[], Submission]
    ) -> tuple[Submission, dict[str, str] | None]:
        """Run ``submit`` in a ``send`` span and time it; also the span's W3C context when it records."""
        with self.tracer.start_as_current_span(
            f"send {experiment}",
            kind=SpanKind.PRODUCER,
            attributes={"messaging.operation.name": "send", "messaging.operation.type": "send"},
            record_exception=True,
            set_status_on_exception=True,
        ) as span:
            started = time.perf_counter()
            try:
                submission = submit()
            except Exception as exc:
                self.submit_failures.labels(experiment).inc()
                span.set_attribute("error.type", type(exc).__name__)
                raise
            elapsed = time.perf_counter() - started
            self.submit_seconds.labels(experiment, submission.served_arm, submission.reason).observe(elapsed)
            if span.is_recording():
                span.set_attributes(
                    {
                        **messaging_attributes(submission.served_arm, "send", experiment),
                        "messaging.message.id": str(submission.trial_job_id),
                        "bakeoff.trial_job_id": str(submission.trial_job_id),
                        "bakeoff.assigned_arm": submission.assigned_arm,
                        "bakeoff.assignment_reason": submission.reason,
                        "bakeoff.phase": submission.phase,
                        "bakeoff.duplicate": submission.duplicate,
                    }
                )
                span.set_status(Status(StatusCode.OK))
                carrier: dict[str, str] = {}
                TraceContextTextMapPropagator().inject(carrier)
                return submission, carrier
            return submission, None


def configure_tracing(environ: Mapping[str, str] | None = None, *, install: bool = True) -> bool:
    """Install a global tracer provider when ``OTEL_TRACES_EXPORTER`` names an exporter; True if it did.

    Unset, ``none`` or ``OTEL_SDK_DISABLED=true`` leave tracing off (the API's no-op tracer). With
    ``install=False`` it only checks that every named exporter is installed (raising if not).
    """
    env = os.environ if environ is None else environ
    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true" or not names or names == ["none"]:
        return False
    available = {ep.name: ep for ep in entry_points(group="opentelemetry_traces_exporter")}
    missing = [name for name in names if name not in available]
    if missing:
        raise ConfigurationError(
            f"OTEL_TRACES_EXPORTER names {', '.join(map(repr, missing))}, not installed (installed: "
            f"{', '.join(sorted(available)) or 'none'}); otlp needs opentelemetry-exporter-otlp"
        )
    if not install:
        return True
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = SdkTracerProvider(resource=Resource.create({"service.name": "bakeoff-serve"}))
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(available[name].load()()))
    trace.set_tracer_provider(provider)
    logger.info("tracing on: exporter(s) %s", ", ".join(names))
    return True
