"""The seed's Epistemic Auditor as step functions, both ways the seed describes.

- ``auditor-parallel``: split, (optionally) one routing step per chunk, then every (plugin, chunk)
  call as a parallel step, then synthesis. 200 chunks x 4 plugins is 800 parallel steps: with
  split and synthesis that is 802 steps, under Inngest's 1,000; with a routing step per chunk it is
  1,002, and the run fails with Inngest's step-limit text when the 800-step plan would cross it.
- ``auditor-batched``: the seed's workaround: one step per batch of chunks runs all their plugin
  calls in-process, so 200 chunks in batches of 50 is 4 steps.
- ``auditor-fanout``: one child run per chunk (``step.invoke`` in a parallel group: fan-out with a
  direct fan-in of the results), each child running its plugin calls as steps.
- ``auditor-events``: event fan-out with a ``wait_for_event`` fan-in: one ``send_event`` step
  dispatches a chunk event per chunk, each child run sends ``auditor/chunk.done`` with its results,
  and the parent waits for each. The waits are planned in the same parallel group as the dispatch
  step, so they exist before any result can be sent (a wait never sees earlier events).

Event data: ``{"config": AuditorConfig.to_dict(), "route_steps": bool, "batch_size": int}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from bakeoff.backends.inngest.client import Inngest
from bakeoff.backends.inngest.errors import NonRetriableError
from bakeoff.backends.inngest.function import Function
from bakeoff.backends.inngest.models import Event, TriggerEvent
from bakeoff.backends.inngest.sdk import Context
from bakeoff.workload.auditor import AuditorConfig, Chunk, route_chunk, run_plugin, split_document, synthesize

__all__ = ["AUDIT_EVENTS", "AuditorFunctions", "register_auditor"]

AUDIT_EVENTS = {
    "parallel": "auditor/parallel.requested",
    "batched": "auditor/batched.requested",
    "fanout": "auditor/fanout.requested",
    "chunk": "auditor/chunk.requested",
    "events": "auditor/events.requested",
    "chunk_event": "auditor/chunk-event.requested",
    "chunk_done": "auditor/chunk.done",
}
RESULT_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True, kw_only=True)
class AuditorFunctions:
    parallel: Function
    batched: Function
    fanout: Function
    chunk: Function
    events: Function
    chunk_event: Function


def _config(ctx: Context) -> AuditorConfig:
    return AuditorConfig.from_dict(ctx.event.data["config"])


def _split(ctx: Context, config: AuditorConfig) -> list[dict[str, Any]]:
    return ctx.step.run("split", lambda: [c.to_dict() for c in split_document(config)])


def _plugin_call(ctx: Context, config: AuditorConfig, plugin: str, chunk: dict[str, Any]) -> dict[str, Any]:
    return run_plugin(plugin, Chunk.from_dict(chunk), config, attempt=ctx.attempt + 1)


def _route(chunk: dict[str, Any], config: AuditorConfig) -> list[str]:
    return route_chunk(Chunk.from_dict(chunk), config)


def _routes(ctx: Context, config: AuditorConfig, chunks: list[dict[str, Any]]) -> list[list[str]]:
    if not ctx.event.data.get("route_steps"):
        # Routing is pure here, so it may run outside steps (it re-runs on each replay).
        return [_route(c, config) for c in chunks]
    return list(ctx.group.parallel(tuple(partial(ctx.step.run, "route", _route, c, config) for c in chunks)))


def audit_parallel(ctx: Context) -> dict[str, Any]:
    """Every plugin call is its own parallel step (the shape the seed says breaks the step limit)."""
    config = _config(ctx)
    chunks = _split(ctx, config)
    routes = _routes(ctx, config, chunks)
    calls = [(plugin, c) for c, plugins in zip(chunks, routes, strict=True) for plugin in plugins]
    steps = tuple(
        partial(ctx.step.run, f"{p}-{c['chunk_id']}", _plugin_call, ctx, config, p, c) for p, c in calls
    )
    results = ctx.group.parallel(steps)
    return ctx.step.run("synthesize", partial(synthesize, results))


def audit_batched(ctx: Context) -> dict[str, Any]:
    """The seed's workaround: one step per batch of chunks, plugin calls inside the step."""
    config = _config(ctx)
    chunks = _split(ctx, config)
    size = int(ctx.event.data.get("batch_size") or 50)
    results: list[dict[str, Any]] = []
    for start in range(0, len(chunks), size):
        batch = chunks[start : start + size]

        def run_batch(batch: list[dict[str, Any]] = batch) -> list[dict[str, Any]]:
            return [
                _plugin_call(ctx, config, plugin, c)
                for c in batch
                for plugin in route_chunk(Chunk.from_dict(c), config)
            ]

        results.extend(ctx.step.run("batch", run_batch))
    return ctx.step.run("synthesize", lambda: synthesize(results))


def audit_events(ctx: Context) -> dict[str, Any]:
    """Event fan-out (a send_event step), fan-in by one wait_for_event per chunk."""
    config = _config(ctx)
    chunks = _split(ctx, config)
    audit = ctx.event.id
    dispatch = [
        Event(name=AUDIT_EVENTS["chunk_event"], data={"audit": audit, "config": config.to_dict(), "chunk": c})
        for c in chunks
    ]
    waits = [
        partial(
            ctx.step.wait_for_event,
            f"done-{c['chunk_id']}",
            event=AUDIT_EVENTS["chunk_done"],
            timeout=RESULT_TIMEOUT,
            if_exp=f"async.data.audit == '{audit}' && async.data.chunk_id == {int(c['chunk_id'])}",
        )
        for c in chunks
    ]
    group: tuple[Callable[[], Any], ...] = (partial(ctx.step.send_event, "dispatch", dispatch), *waits)
    _, *done = ctx.group.parallel(group)
    missing = [c["chunk_id"] for c, event in zip(chunks, done, strict=True) if event is None]
    if missing:
        raise NonRetriableError(f"no result for chunks {missing} within {RESULT_TIMEOUT}")
    return ctx.step.run("synthesize", lambda: synthesize(r for event in done for r in event.data["results"]))


def register_auditor(client: Inngest, *, retries: int = 4) -> AuditorFunctions:
    """Register the auditor's functions on ``client``."""

    def create(fn_id: str, kind: str, handler: Any) -> Function:
        return client.create_function(
            fn_id=fn_id, trigger=TriggerEvent(event=AUDIT_EVENTS[kind]), retries=retries
        )(handler)

    def audit_chunk(ctx: Context) -> list[dict[str, Any]]:
        config, chunk = _config(ctx), ctx.event.data["chunk"]
        plugins = route_chunk(Chunk.from_dict(chunk), config)
        return list(
            ctx.group.parallel(
                tuple(partial(ctx.step.run, p, _plugin_call, ctx, config, p, chunk) for p in plugins)
            )
        )

    chunk_fn = create("auditor-chunk", "chunk", audit_chunk)

    def audit_fanout(ctx: Context) -> dict[str, Any]:
        config = _config(ctx)
        chunks = _split(ctx, config)
        invokes = tuple(
            partial(
                ctx.step.invoke,
                f"chunk-{c['chunk_id']}",
                function=chunk_fn,
                data={"config": config.to_dict(), "chunk": c},
            )
            for c in chunks
        )
        per_chunk = ctx.group.parallel(invokes)
        return ctx.step.run("synthesize", lambda: synthesize(r for results in per_chunk for r in results))

    def audit_chunk_event(ctx: Context) -> list[str]:
        results = audit_chunk(ctx)
        done = {
            "audit": ctx.event.data["audit"],
            "chunk_id": ctx.event.data["chunk"]["chunk_id"],
            "results": results,
        }
        return ctx.step.send_event("done", Event(name=AUDIT_EVENTS["chunk_done"], data=done))

    return AuditorFunctions(
        parallel=create("auditor-parallel", "parallel", audit_parallel),
        events=create("auditor-events", "events", audit_events),
        chunk_event=create("auditor-chunk-event", "chunk_event", audit_chunk_event),
        batched=create("auditor-batched", "batched", audit_batched),
        fanout=create("auditor-fanout", "fanout", audit_fanout),
        chunk=chunk_fn,
    )
