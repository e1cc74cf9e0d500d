"""``POST /v0/gql``: the run-inspection queries of Inngest's dev server, on strawberry-graphql.

Inngest's own SDK test helpers (inngest-py ``pkg/test_core``) inspect runs through exactly these::

    run(runID) { status output trace { childrenSpans { name outputID } } }
    runTrigger(runID) { payloads }
    runTraceSpanOutputByID(outputID) { data error { message name stack } }
    event(query: {eventId}) { functionRuns { id status } }

Shapes follow the dev server: statuses in capitals (QUEUED, RUNNING, COMPLETED, FAILED,
CANCELLED), outputs and payloads as JSON strings, a span per step named by the step's id.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.asgi import GraphQL

from bakeoff.backends.inngest.client import Inngest
from bakeoff.backends.inngest.models import Run, RunStatus, StepRecord

__all__ = ["create_graphql", "find_run"]

RunID = Annotated[str, strawberry.argument(name="runID")]
OutputID = Annotated[str, strawberry.argument(name="outputID")]
STATUS = {
    RunStatus.QUEUED: "QUEUED",
    RunStatus.RUNNING: "RUNNING",
    RunStatus.COMPLETED: "COMPLETED",
    RunStatus.FAILED: "FAILED",
    RunStatus.CANCELLED: "CANCELLED",
}


def find_run(client: Inngest, run_id: str) -> Run | None:
    """The run, or None for an unknown (or malformed) run id."""
    try:
        uuid.UUID(run_id)
    except ValueError:
        return None
    try:
        return client.get_run(run_id)
    except KeyError:
        return None


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


@strawberry.type
class Span:
    name: str
    output_id: str | None = strawberry.field(name="outputID")
    status: str


@strawberry.type
class Trace:
    name: str
    status: str
    children_spans: list[Span] = strawberry.field(name="childrenSpans")


@strawberry.type
class FunctionRun:
    id: strawberry.ID
    status: str
    output: str | None
    function_id: str = strawberry.field(name="functionID")
    trace: Trace


@strawberry.type
class RunTrigger:
    payloads: list[str]
    event_name: str | None = strawberry.field(name="eventName")


@strawberry.type
class StepError:
    message: str
    name: str | None
    stack: str | None


@strawberry.type
class SpanOutput:
    data: str | None
    error: StepError | None


@strawberry.type
class EventRuns:
    id: strawberry.ID
    name: str | None
    function_runs: list[FunctionRun] = strawberry.field(name="functionRuns")


@strawberry.input
class EventQuery:
    event_id: strawberry.ID = strawberry.field(name="eventId")


def _span(run: Run, step: StepRecord) -> Span:
    return Span(name=step.step_id, output_id=f"{run.run_id}:{step.step_key}", status=step.status.upper())


def _function_run(run: Run) -> FunctionRun:
    output = run.output if run.status is RunStatus.COMPLETED else run.error
    status = STATUS[run.status]
    trace = Trace(name=run.fn_id, status=status, children_spans=[_span(run, s) for s in run.steps])
    return FunctionRun(
        id=strawberry.ID(run.run_id), status=status, output=_json(output), function_id=run.fn_id, trace=trace
    )


def create_graphql(client: Inngest) -> GraphQL[Any, Any]:
    """The ASGI GraphQL app answering the dev server's inspection queries for ``client``'s schema."""

    def span_output(output_id: str) -> SpanOutput | None:
        run_id, _, step_key = output_id.partition(":")
        run = find_run(client, run_id)
        step = next((s for s in run.steps if s.step_key == step_key), None) if run else None
        if step is None:
            return None
        error = None
        if step.error is not None:
            error = StepError(
                message=str(step.error.get("message", "")),
                name=step.error.get("name"),
                stack=step.error.get("stack"),
            )
        return SpanOutput(data=None if step.error is not None else _json(step.output), error=error)

    def event_runs(event_id: str) -> EventRuns | None:
        runs = [find_run(client, run_id) for run_id in client.runs_for_event(event_id)]
        return EventRuns(
            id=strawberry.ID(event_id),
            name=None,
            function_runs=[_function_run(r) for r in runs if r is not None],
        )

    async def resolve_span_output(output_id: OutputID) -> SpanOutput | None:
        return await run_in_threadpool(span_output, output_id)

    @strawberry.type
    class Query:
        @strawberry.field
        async def run(self, run_id: RunID) -> FunctionRun | None:
            found = await run_in_threadpool(find_run, client, run_id)
            return None if found is None else _function_run(found)

        @strawberry.field  # camel-cased: runTrigger
        async def run_trigger(self, run_id: RunID) -> RunTrigger | None:
            found = await run_in_threadpool(find_run, client, run_id)
            if found is None:
                return None
            return RunTrigger(payloads=[json.dumps(found.event.to_dict())], event_name=found.event.name)

        run_trace_span_output_by_id: SpanOutput | None = strawberry.field(
            resolver=resolve_span_output, name="runTraceSpanOutputByID"
        )

        @strawberry.field
        async def event(self, query: EventQuery) -> EventRuns | None:
            return await run_in_threadpool(event_runs, str(query.event_id))

    return GraphQL(strawberry.Schema(query=Query), graphql_ide=None)
