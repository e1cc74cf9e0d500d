"""``bakeoff stress auditor``: the Epistemic Auditor fan-out on each arm, in each arm's natural style.

- ``legacy``: process-based parallelism, as the current system does it: one spawned worker process
  per plugin runs that plugin over every chunk and reports over stdout; the parent synthesizes.
- ``pgboss``: one job per (plugin, chunk) call and a synthesis job that depends on all of them,
  inserted together with ``flow()``; the synthesis job reads its parents' outputs.
- ``inngest``: one durable function with a routing step per chunk and a parallel step per call,
  then a synthesis step. When that plan passes the step limit, the run fails with Inngest's own
  error and the workaround the seed describes (batched steps) runs instead; both are reported.

Every arm must produce the same synthesized ``digest`` as the others.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from sqlalchemy import Engine

from bakeoff.contract import BakeoffError
from bakeoff.db.urls import libpq_url
from bakeoff.workload.auditor import (
    AuditorConfig,
    Chunk,
    route_chunk,
    run_plugin,
    split_document,
    synthesize,
)

__all__ = ["StressResult", "run_auditor_stress"]

STRESS_TIMEOUT_SECONDS = 900.0
INNGEST_BATCH_CHUNKS = 50
PGBOSS_LOCAL_CONCURRENCY = 4
PGBOSS_BATCH_SIZE = 25


class StressFailed(BakeoffError):
    """An arm did not finish the stress workload."""


@dataclass(frozen=True, kw_only=True)
class StressResult:
    """What one arm did with the auditor workload."""

    arm: str
    style: str
    wall_seconds: float
    operations: int
    units_created: int
    """Processes (legacy), jobs (pgboss) or steps (inngest) created for the successful run."""
    peak_in_flight: int
    limit_hit: str | None
    digest: str

    @property
    def operations_per_second(self) -> float:
        return self.operations / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "operations_per_second": round(self.operations_per_second, 1)}


def _calls(config: AuditorConfig) -> list[tuple[str, Chunk]]:
    return [(plugin, chunk) for chunk in split_document(config) for plugin in route_chunk(chunk, config)]


# -- legacy: spawned processes ------------------------------------------------------------------


def _run_legacy(config: AuditorConfig) -> StressResult:
    started = time.monotonic()
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "bakeoff.trial.auditor_child", json.dumps(config.to_dict()), plugin],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for plugin in config.plugin_names
    ]
    results: list[dict[str, Any]] = []
    for child in children:
        stdout, stderr = child.communicate(timeout=STRESS_TIMEOUT_SECONDS)
        lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
        if child.returncode != 0 or len(lines) != 1:
            raise StressFailed(f"legacy auditor child exited {child.returncode}: {stderr.strip()[-300:]}")
        results.extend(json.loads(lines[0].removeprefix("RESULT ")))
    synthesis = synthesize(results)
    return StressResult(
        arm="legacy",
        style=f"{len(children)} spawned processes",
        wall_seconds=time.monotonic() - started,
        operations=len(results),
        units_created=len(children),
        peak_in_flight=len(children),
        limit_hit=None,
        digest=synthesis["digest"],
    )


# -- pgboss: child jobs and a flow fan-in -------------------------------------------------------


def _run_pgboss(url: str, config: AuditorConfig) -> StressResult:
    from bakeoff.backends.pgboss import PgBoss

    run = uuid.uuid4().hex[:8]
    plugin_queue, synth_queue = f"auditor-plugin-{run}", f"auditor-synth-{run}"
    done = threading.Event()
    outcome: dict[str, Any] = {}
    boss = PgBoss(url, flow_interval_seconds=1, monitor_interval_seconds=5).start()
    try:
        boss.create_queue(plugin_queue, retry_limit=5, retry_delay=0)
        boss.create_queue(synth_queue, retry_limit=0)
        calls = _calls(config)
        refs = [f"{plugin}-{chunk.chunk_id}" for plugin, chunk in calls]
        jobs: list[dict[str, Any]] = [
            {"ref": ref, "name": plugin_queue, "data": {"plugin": p, "chunk": c.to_dict()}}
            for ref, (p, c) in zip(refs, calls, strict=True)
        ]
        jobs.append({"ref": "synthesis", "name": synth_queue, "data": {}, "depends_on": refs})

        def plugin_handler(batch: Sequence[Any]) -> Any:
            # pg-boss stores a handler's return value only for single-job batches, so a batch
            # handler completes each job with its own output, as pg-boss users do.
            for job in batch:
                chunk = Chunk.from_dict(job.data["chunk"])
                output = run_plugin(job.data["plugin"], chunk, config, attempt=job.retry_count + 1)
                boss.complete(plugin_queue, job.id, output)
            return None

        def synth_handler(batch: Sequence[Any]) -> Any:
            outputs = [j.output for j in boss.find_jobs(plugin_queue) if j.state == "completed"]
            outcome["synthesis"] = synthesize(outputs)
            done.set()
            return {"digest": outcome["synthesis"]["digest"]}

        started = time.monotonic()
        boss.flow(jobs)
        peak = _PeakSampler(lambda: boss.get_queue_stats(plugin_queue).active_count)
        with peak:
            boss.work(
                plugin_queue,
                plugin_handler,
                batch_size=PGBOSS_BATCH_SIZE,
                burst_when_batch_full=True,
                local_concurrency=PGBOSS_LOCAL_CONCURRENCY,
                polling_interval_seconds=0.5,
            )
            # pg-boss's flow resolver unblocks the synthesis job without a NOTIFY, so its worker
            # would sleep through the 30 s notify backstop; poll its queue like any other.
            boss.work(
                synth_queue,
                synth_handler,
                polling_interval_seconds=0.5,
                notify_polling_interval_seconds=0.5,
            )
            if not done.wait(STRESS_TIMEOUT_SECONDS):
                raise StressFailed("pgboss auditor flow did not finish in time")
        wall = time.monotonic() - started
    finally:
        boss.stop(graceful=True, timeout=10)
    return StressResult(
        arm="pgboss",
        style=f"flow: one job per call + synthesis job, batches of {PGBOSS_BATCH_SIZE}",
        wall_seconds=wall,
        operations=len(calls),
        units_created=len(jobs),
        peak_in_flight=peak.peak,
        limit_hit=None,
        digest=outcome["synthesis"]["digest"],
    )


class _PeakSampler:
    """Samples a gauge in a thread and keeps its maximum."""

    def __init__(self, read: Callable[[], int], interval: float = 0.05) -> None:
        self.read, self.interval, self.peak = read, interval, 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.peak = max(self.peak, int(self.read()))
            except Exception:  # a transient read failure only loses one sample
                continue

    def __enter__(self) -> _PeakSampler:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="peak-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


# -- inngest: parallel steps, or batched steps past the limit -----------------------------------


def _route_step(chunk: dict[str, Any], config: dict[str, Any]) -> list[str]:
    return route_chunk(Chunk.from_dict(chunk), AuditorConfig.from_dict(config))


def _plugin_step(plugin: str, chunk: dict[str, Any], config: dict[str, Any], attempt: int) -> dict[str, Any]:
    return run_plugin(plugin, Chunk.from_dict(chunk), AuditorConfig.from_dict(config), attempt=attempt)


def _batch_step(chunks: list[dict[str, Any]], config: dict[str, Any]) -> list[dict[str, Any]]:
    cfg = AuditorConfig.from_dict(config)
    batch = [Chunk.from_dict(c) for c in chunks]
    return [run_plugin(p, c, cfg) for c in batch for p in route_chunk(c, cfg)]


def _synth_step(results: list[dict[str, Any]]) -> dict[str, Any]:
    synthesis = synthesize(results)
    return {k: synthesis[k] for k in ("digest", "calls", "chunks", "finding_count")}


def _parallel_plan(ctx: Any) -> dict[str, Any]:
    cfg = ctx.event.data["config"]
    chunks = [c.to_dict() for c in split_document(AuditorConfig.from_dict(cfg))]
    routes = ctx.group.parallel(
        tuple(partial(ctx.step.run, f"route-{c['chunk_id']}", _route_step, c, cfg) for c in chunks)
    )
    calls = [(p, c) for c, plugins in zip(chunks, routes, strict=True) for p in plugins]
    results = ctx.group.parallel(
        tuple(
            partial(ctx.step.run, f"{p}-{c['chunk_id']}", _plugin_step, p, c, cfg, ctx.attempt + 1)
            for p, c in calls
        )
    )
    return dict(ctx.step.run("synthesize", _synth_step, list(results)))


def _batched_plan(ctx: Any) -> dict[str, Any]:
    cfg = ctx.event.data["config"]
    chunks = [c.to_dict() for c in split_document(AuditorConfig.from_dict(cfg))]
    results: list[dict[str, Any]] = []
    for start in range(0, len(chunks), INNGEST_BATCH_CHUNKS):
        batch = chunks[start : start + INNGEST_BATCH_CHUNKS]
        results.extend(ctx.step.run(f"batch-{start // INNGEST_BATCH_CHUNKS}", _batch_step, batch, cfg))
    return dict(ctx.step.run("synthesize", _synth_step, results))


def _run_inngest(engine: Engine, config: AuditorConfig) -> StressResult:
    from bakeoff.backends.inngest import Event, Inngest, TriggerEvent

    url = libpq_url(engine.url)

    run = uuid.uuid4().hex[:8]
    client = Inngest(app_id=f"stress-{run}", database_url=url)
    for plan_name, plan in (("parallel", _parallel_plan), ("batched", _batched_plan)):
        client.create_function(
            fn_id=f"auditor-{plan_name}", trigger=TriggerEvent(event=f"auditor/{plan_name}.{run}"), retries=4
        )(plan)
    worker = client.start_worker(concurrency=8)
    peak = _PeakSampler(partial(_scalar, engine, "inngest_steps_in_flight"))
    try:
        with peak:
            first = _inngest_attempt(client, Event, f"auditor/parallel.{run}", config)
        if first["status"] == "completed":
            return _inngest_result(config, first, "parallel steps (one per route and call)", None, peak.peak)
        limit = (first["error"] or {}).get("message", "run failed")
        with peak:
            second = _inngest_attempt(client, Event, f"auditor/batched.{run}", config)
        if second["status"] != "completed":
            raise StressFailed(f"inngest batched auditor run failed: {second['error']}")
        style = f"batched steps ({INNGEST_BATCH_CHUNKS} chunks a step)"
        return _inngest_result(config, second, style, limit, peak.peak)
    finally:
        worker.stop()
        client.close()


def _scalar(engine: Engine, query: str) -> int:
    from sqlalchemy import text

    from bakeoff.trial.runner import QUERIES

    with engine.connect() as conn:
        return int(conn.execute(text(QUERIES[query])).scalar_one())


def _inngest_attempt(client: Any, event_class: Any, event_name: str, config: AuditorConfig) -> dict[str, Any]:
    started = time.monotonic()
    (event_id,) = client.send(event_class(name=event_name, data={"config": config.to_dict()}))
    deadline = time.monotonic() + 10
    run_ids: list[str] = []
    while not run_ids and time.monotonic() < deadline:
        run_ids = client.runs_for_event(event_id)
        time.sleep(0.02)
    if not run_ids:
        raise StressFailed(f"no inngest run started for {event_name}")
    run = client.wait_for_run(run_ids[0], timeout=STRESS_TIMEOUT_SECONDS)
    return {
        "status": str(run.status),
        "output": run.output,
        "error": run.error,
        "steps": run.step_count,
        "seconds": time.monotonic() - started,
    }


def _inngest_result(
    config: AuditorConfig, attempt: dict[str, Any], style: str, limit: str | None, peak: int
) -> StressResult:
    return StressResult(
        arm="inngest",
        style=style,
        wall_seconds=attempt["seconds"],
        operations=len(_calls(config)),
        units_created=int(attempt["steps"]),
        peak_in_flight=peak,
        limit_hit=limit,
        digest=attempt["output"]["digest"],
    )


# -- all arms ------------------------------------------------------------------------------------


def run_auditor_stress(
    engine: Engine,
    *,
    arms: Sequence[str],
    chunks: int = 200,
    plugins: int = 4,
    seed: int = 0,
    config: AuditorConfig | None = None,
) -> list[StressResult]:
    """Run the auditor on each arm; raises :class:`StressFailed` if an arm cannot finish."""
    from bakeoff.db.migrate import upgrade

    config = config or AuditorConfig(chunks=chunks, plugins=plugins, seed=seed)
    upgrade(engine)
    url = libpq_url(engine.url)
    runners: dict[str, Callable[[], StressResult]] = {
        "legacy": lambda: _run_legacy(config),
        "pgboss": lambda: _run_pgboss(url, config),
        "inngest": lambda: _run_inngest(engine, config),
    }
    return [runners[arm]() for arm in arms]
