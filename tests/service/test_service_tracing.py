"""OpenTelemetry: a `send` span per submit, a `process` span per attempt linked to it (in-memory exporter)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from uuid import UUID, uuid4

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from service_support import LiveServer, recording_arms
from sqlalchemy import Engine

from bakeoff.backends import create_backend
from bakeoff.contract import ARM_NAMES
from bakeoff.metrics import Recorder
from bakeoff.metrics.attempts import record_attempt
from bakeoff.metrics.tracing import trace_attempts
from bakeoff.service.telemetry import Telemetry
from bakeoff.testing import FailingBackend
from bakeoff.workload.article_server import ArticleServer


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    trace_attempts(None)
    provider.shutdown()


def only(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def test_each_submit_is_a_send_span_with_the_messaging_attributes(
    serve: Callable[..., LiveServer], spans: tuple[TracerProvider, InMemorySpanExporter], engine: Engine
) -> None:
    provider, exporter = spans
    live = serve(telemetry=Telemetry(tracer_provider=provider))
    request = {"url": "https://example.com/a", "unit_key": "user-42", "idempotency_key": "k1"}
    created = httpx.post(f"{live.url}/v1/imports", json=request).json()
    repeat = httpx.post(f"{live.url}/v1/imports", json=request).json()

    first, second = only(exporter.get_finished_spans(), "send article-import")
    assert first.kind is SpanKind.PRODUCER and first.status.status_code is StatusCode.OK
    assert first.attributes is not None and second.attributes is not None
    assert dict(first.attributes) == {
        "messaging.system": "bakeoff.pgboss",
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.destination.name": "article-import",
        "messaging.message.id": created["trial_job_id"],
        "bakeoff.trial_job_id": created["trial_job_id"],
        "bakeoff.assigned_arm": "pgboss",
        "bakeoff.assignment_reason": "hash",
        "bakeoff.phase": 1,
        "bakeoff.duplicate": False,
    }
    assert (
        second.attributes["bakeoff.duplicate"] is True and repeat["trial_job_id"] == created["trial_job_id"]
    )
    events = [event for _, event, _, _ in Recorder(engine).events(UUID(created["trial_job_id"]))]
    assert events == ["submitted", "enqueued", "trace_context"]  # stored once, for the new job only


def test_a_failed_submit_is_an_error_span(
    serve: Callable[..., LiveServer], spans: tuple[TracerProvider, InMemorySpanExporter], engine: Engine
) -> None:
    provider, exporter = spans
    live = serve(
        telemetry=Telemetry(tracer_provider=provider),
        backends={arm: FailingBackend(arm, engine) for arm in ARM_NAMES},
    )
    assert httpx.post(f"{live.url}/v1/imports", json={"url": "https://example.com/f"}).status_code == 503
    (span,) = only(exporter.get_finished_spans(), "send article-import")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "SubmitFailed"


def test_each_attempt_is_a_process_span_linked_to_its_submit_span(
    serve: Callable[..., LiveServer], spans: tuple[TracerProvider, InMemorySpanExporter], engine: Engine
) -> None:
    provider, exporter = spans
    live = serve(telemetry=Telemetry(tracer_provider=provider))
    created = httpx.post(
        f"{live.url}/v1/imports", json={"url": "https://example.com/b", "unit_key": "user-1"}
    )
    trial_job_id = UUID(created.json()["trial_job_id"])
    trace_attempts(provider)  # as `bakeoff worker` does when OTEL_TRACES_EXPORTER is set

    # The hook every arm wraps its handler in, reading the submit's context from the database as a
    # worker in another process would.
    with pytest.raises(RuntimeError), record_attempt(Recorder(engine), trial_job_id, 1):
        raise RuntimeError("the article server answered 503")
    with record_attempt(Recorder(engine), trial_job_id, 2):
        pass

    (send,) = only(exporter.get_finished_spans(), "send article-import")
    failed, succeeded = only(exporter.get_finished_spans(), "process article-import")
    for attempt, span in ((1, failed), (2, succeeded)):
        assert span.kind is SpanKind.CONSUMER and span.attributes is not None
        assert span.attributes["messaging.system"] == "bakeoff.inngest"
        assert span.attributes["messaging.operation.name"] == "process"
        assert span.attributes["bakeoff.trial_job_id"] == str(trial_job_id)
        assert span.attributes["bakeoff.attempt"] == attempt
        assert [(link.context.trace_id, link.context.span_id) for link in span.links] == [
            (send.context.trace_id, send.context.span_id)
        ]
    assert (
        failed.status.status_code is StatusCode.ERROR and succeeded.status.status_code is not StatusCode.ERROR
    )


def test_without_tracing_an_attempt_makes_no_span_and_no_query(engine: Engine) -> None:
    class CountingRecorder(Recorder):
        reads = 0

        def events(self, trial_job_id: UUID) -> list[tuple[object, str, int | None, dict[str, object]]]:
            CountingRecorder.reads += 1
            return []

    trace_attempts(None)
    with record_attempt(CountingRecorder(engine), UUID(int=1), 1):
        pass
    assert CountingRecorder.reads == 0


def test_a_real_pgboss_worker_links_its_attempt_to_the_servers_submit(
    serve: Callable[..., LiveServer], spans: tuple[TracerProvider, InMemorySpanExporter], engine: Engine
) -> None:
    """Server and worker share only the database: the link travels as the stored trace context."""
    provider, exporter = spans
    with ArticleServer(profile="none") as articles:
        pgboss = create_backend(
            "pgboss", engine, import_settings=articles.import_settings(), queue=f"trace-{uuid4().hex[:8]}",
            polling_interval_seconds=0.5,
        )  # fmt: skip
        live = serve(
            telemetry=Telemetry(tracer_provider=provider),
            backends={**recording_arms(engine), "pgboss": pgboss},
        )
        created = httpx.post(
            f"{live.url}/v1/imports", json={"url": articles.article_urls(1)[0], "unit_key": "user-42"}
        )
        assert created.json()["arm"] == "pgboss"
        trace_attempts(provider)
        stop = threading.Event()
        worker = threading.Thread(target=pgboss.run_workers, kwargs={"concurrency": 1, "stop": stop})
        worker.start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not only(
                exporter.get_finished_spans(), "process article-import"
            ):
                time.sleep(0.05)
        finally:
            stop.set()
            worker.join(30)
            pgboss.close()

    (send,) = only(exporter.get_finished_spans(), "send article-import")
    (process,) = only(exporter.get_finished_spans(), "process article-import")
    assert process.attributes is not None and process.attributes["messaging.system"] == "bakeoff.pgboss"
    assert process.attributes["bakeoff.trial_job_id"] == created.json()["trial_job_id"]
    assert [(link.context.trace_id, link.context.span_id) for link in process.links] == [
        (send.context.trace_id, send.context.span_id)
    ]
    assert process.status.status_code is not StatusCode.ERROR
