"""Differential runner: one scripted scenario through the real pg-boss (Node) and through our port.

A scenario is a list of operations in snake_case (``create_queue``, ``send``, ``fetch``, ``fail``, ...;
see ``harness.mjs`` in ``bakeoff/testing/node``). :func:`run_node_batch` hands many to the Node harness in
one process; :func:`run_port` replays one on ``bakeoff.backends.pgboss.PgBoss``. Each implementation
works in its own schema of the same database; after every scenario its rows are dumped with the same
SQL (``queries.sql``) and the schema is emptied for the next. :func:`normalise_jobs` reduces each row to
the fields the comparison is about (state, retry_count, retry_limit, priority, the singleton slot,
start_after's offset from the send time, output, dead-letter copies), with ids replaced by the
scenario's refs so rows from both sides line up; :func:`job_differences` lists what differs.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bakeoff.db.engine import connect_raw
from bakeoff.db.sql import parse_queries
from bakeoff.testing.pgboss_node import PgBossRuntime, node_connection, run_script

QUERIES = parse_queries((Path(__file__).parent / "queries.sql").read_text(encoding="utf-8"))
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,49}$")

COMPARED_FIELDS = (
    "name",
    "state",
    "retry_count",
    "retry_limit",
    "retry_delay",
    "retry_backoff",
    "retry_delay_max",
    "priority",
    "data",
    "output",
    "policy",
    "singleton_key",
    "singleton_slot",
    "dead_letter",
    "expire_seconds",
    "deletion_seconds",
    "heartbeat_seconds",
    "keep_until_offset",
    "start_after_offset",
    "start_after_slot_offset",
    "started",
    "completed",
    "source_name",
    "source_ref",
    "source_root_ref",
    "source_retry_count",
    "source_output",
)
"""The job fields compared between the two implementations (``id`` and ``source_id`` as refs)."""


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One differential scenario: its operations and how strictly to compare time offsets."""

    name: str
    ops: list[dict[str, Any]]
    tolerance_seconds: float = 2.0
    ignore: tuple[str, ...] = ()
    output_shape_only: bool = False


DUMPS = ("dump_jobs", "dump_queues", "dump_schedules", "dump_subscriptions")
"""The row dumps taken after each scenario of a batch (before its schema is reset for the next)."""


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What one implementation returned per operation, the ids of the scenario's refs, and its rows."""

    results: list[Any]
    refs: dict[str, str]
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(kw_only=True)
class _PortState:
    refs: dict[str, str] = field(default_factory=dict)
    stopped: bool = False

    def remember(self, ref: str | None, job_id: str | None) -> None:
        if ref and job_id:
            self.refs[ref] = job_id

    def ids(self, step: Mapping[str, Any]) -> list[str]:
        return [self.refs[ref] for ref in step.get("refs", [])]

    def ref_of(self, job_id: str) -> str:
        return next((ref for ref, value in self.refs.items() if value == str(job_id)), "?")


def schema_sql(name: str, schema: str) -> str:
    """A named query with the schema filled in (schema names are ours, checked against a strict rule)."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"schema must match {_SCHEMA_NAME.pattern}: {schema!r}")
    return QUERIES[name].replace("{schema}", schema)


def _node_payload(database_url: str, *, dump_and_reset: bool = False) -> dict[str, Any]:
    sql: dict[str, Any] = {
        "advance_time": QUERIES["advance_time"].replace(":queue", "$1").replace(":seconds", "$2")
    }
    if dump_and_reset:
        sql["dumps"] = {name: QUERIES[name] for name in DUMPS}
        sql["reset"] = QUERIES["reset_schema"]
    return {"connection": node_connection(database_url), "sql": sql}


def run_node_batch(
    runtime: PgBossRuntime, database_url: str, schema: str, scenarios: list[Scenario]
) -> list[RunResult | str]:
    """Run scenarios one after another with the real pg-boss in ONE Node process, reusing one schema.

    Each scenario's rows are dumped before the schema is emptied for the next. Returns one
    :class:`RunResult` per scenario, or the Node error text for a scenario that failed.
    """
    payload = {
        **_node_payload(database_url, dump_and_reset=True),
        "scenarios": [{"schema": schema, "ops": scenario.ops} for scenario in scenarios],
    }
    output = run_script(runtime, "harness.mjs", payload, timeout=60 + 10 * len(scenarios))
    return [
        str(outcome["error"])
        if "error" in outcome
        else RunResult(results=outcome["results"], refs=outcome["refs"], rows=outcome["rows"])
        for outcome in output["outcomes"]
    ]


def run_node_ops(
    runtime: PgBossRuntime,
    database_url: str,
    schema: str,
    ops: list[dict[str, Any]],
    boss_options: dict[str, Any] | None = None,
) -> RunResult:
    """Run a list of operations with the real pg-boss (``boss_options`` in snake_case) in one process."""
    payload = {
        **_node_payload(database_url),
        "schema": schema,
        "ops": ops,
        "boss_options": boss_options or {},
    }
    output = run_script(runtime, "harness.mjs", payload)
    return RunResult(results=output["results"], refs=output["refs"])


def run_node(runtime: PgBossRuntime, database_url: str, schema: str, scenario: Scenario) -> RunResult:
    """Run one scenario with the real pg-boss in its own Node process (rows dumped, schema emptied)."""
    (outcome,) = run_node_batch(runtime, database_url, schema, [scenario])
    if isinstance(outcome, str):
        raise RuntimeError(f"real pg-boss failed scenario {scenario.name}: {outcome}")
    return outcome


# --- the port -------------------------------------------------------------------------------------


def _none(_: object) -> None:
    """Operations whose result the harness reports as null (queue and subscription changes)."""
    return None


def _outcome(response: Any) -> dict[str, int]:
    return {"requested": int(response.requested), "affected": int(response.affected)}


def _sent(state: _PortState, step: Mapping[str, Any], job_id: str | None) -> str | None:
    state.remember(step.get("ref"), job_id)
    return None if job_id is None else "id"


def _port_insert(boss: Any, state: _PortState, step: Mapping[str, Any]) -> Any:
    jobs = [{k: v for k, v in job.items() if k != "ref"} for job in step["jobs"]]
    returned = boss.insert(step["name"], jobs, return_id=bool(step.get("return_id")))
    if returned is None:
        return None
    for job, job_id in zip(step["jobs"], returned, strict=False):
        state.remember(job.get("ref"), str(job_id))
    return len(returned)


def _port_fetch(boss: Any, state: _PortState, step: Mapping[str, Any]) -> list[Any]:
    jobs = boss.fetch(step["name"], **step.get("options", {}))
    for index, job in enumerate(jobs):
        aliases = step.get("as") or []
        if index < len(aliases):
            state.remember(aliases[index], str(job.id))
    if step.get("fields"):
        return [{field: getattr(job, field, "<missing>") for field in step["fields"]} for job in jobs]
    return [state.ref_of(str(job.id)) for job in jobs]


def _port_stop_while_active(boss: Any, state: _PortState, step: Mapping[str, Any]) -> None:
    entered = threading.Event()

    def handler(jobs: list[Any]) -> None:
        entered.set()
        time.sleep(step["sleep_ms"] / 1000)

    boss.work(step["name"], handler, polling_interval_seconds=0.5)
    if not entered.wait(10):
        raise RuntimeError("the worker never started a job")
    boss.stop(graceful=True, timeout=step["timeout_ms"] / 1000)
    state.stopped = True


def _port_work(boss: Any, state: _PortState, step: Mapping[str, Any]) -> list[str]:
    handled: list[str] = []
    done = threading.Event()

    def handler(jobs: list[Any]) -> Any:
        handled.extend(state.ref_of(str(job.id)) for job in jobs)
        if len(handled) >= step.get("count", 1):
            done.set()
        if step.get("behavior") == "throw":
            raise RuntimeError(step.get("message", "handler failed"))
        if step.get("behavior") == "sleep":
            time.sleep(step["sleep_ms"] / 1000)
        return step.get("output")

    options = {"batch_size": 1, "polling_interval_seconds": 0.5, **step.get("options", {})}
    worker_id = boss.work(step["name"], handler, **options)
    done.wait(step.get("timeout_ms", 10_000) / 1000)
    boss.off_work(step["name"], id=worker_id, wait=True)
    return handled


def _port_advance(step: Mapping[str, Any], url: str, schema: str) -> None:
    sql = schema_sql("advance_time", schema).replace(":queue", "%(queue)s").replace(":seconds", "%(seconds)s")
    with connect_raw(url) as conn:
        conn.execute(sql, {"queue": step["name"], "seconds": step["seconds"]})


PortOp = Callable[[Any, _PortState, Mapping[str, Any]], Any]

PORT_OPS: dict[str, PortOp] = {
    "create_queue": lambda b, s, p: _none(b.create_queue(p["name"], **p.get("options", {}))),
    "update_queue": lambda b, s, p: _none(b.update_queue(p["name"], **p.get("options", {}))),
    "delete_queue": lambda b, s, p: _none(b.delete_queue(p["name"])),
    "send": lambda b, s, p: _sent(s, p, b.send(p["name"], p.get("data"), **p.get("options", {}))),
    "send_after": lambda b, s, p: _sent(
        s, p, b.send_after(p["name"], p.get("data"), p["start_after"], **p.get("options", {}))
    ),
    "send_throttled": lambda b, s, p: _sent(
        s, p, b.send_throttled(p["name"], p.get("data"), p["seconds"], p.get("key"), **p.get("options", {}))
    ),
    "send_debounced": lambda b, s, p: _sent(
        s, p, b.send_debounced(p["name"], p.get("data"), p["seconds"], p.get("key"), **p.get("options", {}))
    ),
    "insert": _port_insert,
    "fetch": _port_fetch,
    "complete": lambda b, s, p: _outcome(
        b.complete(p["name"], s.ids(p), p.get("output"), **p.get("options", {}))
    ),
    "fail": lambda b, s, p: _outcome(b.fail(p["name"], s.ids(p), p.get("output"))),
    "cancel": lambda b, s, p: _outcome(b.cancel(p["name"], s.ids(p))),
    "resume": lambda b, s, p: _outcome(b.resume(p["name"], s.ids(p))),
    "retry": lambda b, s, p: _outcome(b.retry(p["name"], s.ids(p))),
    "delete_job": lambda b, s, p: _outcome(b.delete_job(p["name"], s.ids(p))),
    "touch": lambda b, s, p: _outcome(b.touch(p["name"], s.ids(p))),
    "redrive": lambda b, s, p: b.redrive(p["name"], **p.get("options", {})),
    "subscribe": lambda b, s, p: _none(b.subscribe(p["event"], p["name"])),
    "unsubscribe": lambda b, s, p: _none(b.unsubscribe(p["event"], p["name"])),
    "publish": lambda b, s, p: _none(b.publish(p["event"], p.get("data"), **p.get("options", {}))),
    "schedule": lambda b, s, p: _none(
        b.schedule(p["name"], p["cron"], p.get("data"), **p.get("options", {}))
    ),
    "unschedule": lambda b, s, p: _none(b.unschedule(p["name"], p.get("key", ""))),
    "supervise": lambda b, s, p: _none(b.supervise(p.get("name"))),
    "work": _port_work,
    "stop_while_active": _port_stop_while_active,
    "sleep": lambda b, s, p: time.sleep(p["ms"] / 1000),
}


def run_port(database_url: str, schema: str, scenario: Scenario) -> RunResult:
    """Run the scenario on our port (``bakeoff.backends.pgboss.PgBoss``) in this process.

    Like the Node batch, the rows are dumped afterwards and the schema emptied for the next scenario.
    """
    from bakeoff.backends.pgboss import PgBoss

    boss = PgBoss(database_url, schema=schema, supervise=False, schedule=False)
    boss.start()
    state = _PortState()
    results: list[Any] = []
    try:
        for step in scenario.ops:
            results.append(_port_step(boss, state, step, database_url, schema))
    finally:
        if not state.stopped:
            boss.stop(graceful=True, timeout=5)
        rows = {name: fetch_rows(database_url, name, schema) for name in DUMPS}
        reset_schema(database_url, schema)
    return RunResult(results=results, refs=dict(state.refs), rows=rows)


def reset_schema(database_url: str, schema: str) -> None:
    """Empty a pg-boss schema's jobs, schedules, subscriptions and user queues."""
    with connect_raw(database_url) as conn:
        # Several statements and no parameters: psycopg sends it as one simple query.
        conn.execute(schema_sql("reset_schema", schema))


def _port_step(boss: Any, state: _PortState, step: Mapping[str, Any], url: str, schema: str) -> Any:
    try:
        if step["op"] == "advance":
            return _port_advance(step, url, schema)
        return PORT_OPS[step["op"]](boss, state, step)
    except Exception as exc:
        if not step.get("expect_error"):
            raise
        return {"error": str(exc)}


# --- snapshots and comparison -----------------------------------------------------------------------


def run_sql(database_url: str, query: str, schema: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run a named query of queries.sql for ``schema`` with ``:name`` parameters."""
    sql = re.sub(r"(?<!:):([a-z_]+)", r"%(\1)s", schema_sql(query, schema).replace("%", "%%"))
    with connect_raw(database_url) as conn:
        cursor = conn.execute(sql, {"schema": schema, **params})
        return cursor.fetchall() if cursor.description else []


def fetch_rows(database_url: str, query: str, schema: str) -> list[dict[str, Any]]:
    """Rows of one of the ``dump_*`` queries for ``schema``, as dicts."""
    with connect_raw(database_url) as conn:
        return [row[0] for row in conn.execute(schema_sql(query, schema)).fetchall()]


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    # singleton_on is a timestamp without time zone, in UTC by pg-boss's slot arithmetic.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _seconds_between(later: str | None, earlier: str | None) -> float | None:
    end, start = _when(later), _when(earlier)
    return None if end is None or start is None else (end - start).total_seconds()


def _deferred_slot_offset(row: dict[str, Any]) -> float | None:
    """start_after relative to its slot, for deferred slotted jobs (debounce); due jobs give None.

    A due job's offset within its slot depends on the wall-clock phase of the run, so it is not
    comparable between two runs; a debounced job's start is pinned to its slot's boundary.
    """
    deferred_by = _seconds_between(row.get("start_after"), row.get("created_on"))
    if deferred_by is None or deferred_by < 1.0:
        return None
    return _seconds_between(row.get("start_after"), row.get("singleton_on"))


def _output_shape(value: Any) -> Any:
    """Keys and value types, not values: error texts and stacks differ between Node and Python."""
    if isinstance(value, dict):
        return {key: _output_shape(item) for key, item in sorted(value.items())}
    return type(value).__name__


def _strip_stacks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<stack>" if k == "stack" else _strip_stacks(v)) for k, v in value.items()}
    return value


def normalise_jobs(
    rows: list[dict[str, Any]], refs: dict[str, str], scenario: Scenario
) -> list[dict[str, Any]]:
    """Rows reduced to :data:`COMPARED_FIELDS`, ids as refs, slots ranked, times as offsets."""
    by_id = {job_id: ref for ref, job_id in refs.items()}
    slots = sorted({row["singleton_on"] for row in rows if row.get("singleton_on")})
    normalised = []
    for row in rows:
        output = row.get("output")
        item = {
            **{key: row.get(key, "<missing column>") for key in COMPARED_FIELDS if key in row},
            "ref": by_id.get(row["id"], "?"),
            "source_ref": _source_ref(row, by_id, "source_id"),
            "source_root_ref": _source_ref(row, by_id, "source_root_id"),
            "singleton_slot": slots.index(row["singleton_on"]) if row.get("singleton_on") else None,
            "start_after_offset": _seconds_between(row.get("start_after"), row.get("created_on")),
            "start_after_slot_offset": _deferred_slot_offset(row),
            "keep_until_offset": _seconds_between(row.get("keep_until"), row.get("start_after")),
            "started": row.get("started_on") is not None,
            "completed": row.get("completed_on") is not None,
            "output": _output_shape(output) if scenario.output_shape_only else _strip_stacks(output),
        }
        for key in COMPARED_FIELDS:
            item.setdefault(key, "<missing column>")
        for key in scenario.ignore:
            item.pop(key, None)
        normalised.append(item)
    return sorted(normalised, key=_row_key)


def _source_ref(row: dict[str, Any], by_id: dict[str, str], column: str) -> str | None:
    source_id = row.get(column)
    return None if source_id is None else by_id.get(source_id, "?")


def _row_key(item: dict[str, Any]) -> tuple[str, ...]:
    return (
        str(item["name"]),
        str(item["ref"]),
        str(item.get("source_ref")),
        json.dumps(item.get("data"), sort_keys=True),
        str(item.get("state")),
    )


def job_differences(
    theirs: list[dict[str, Any]], ours: list[dict[str, Any]], scenario: Scenario
) -> list[str]:
    """Every difference between two normalised job lists, as ``row: field ours=.. theirs=..`` lines."""
    if len(theirs) != len(ours):
        return [f"job count: ours={len(ours)} theirs={len(theirs)}; ours={ours} theirs={theirs}"]
    differences = []
    for their_row, our_row in zip(theirs, ours, strict=True):
        label = f"{their_row['name']}/{their_row['ref']}"
        for key in sorted(set(their_row) | set(our_row)):
            mine, other = our_row.get(key), their_row.get(key)
            if not _same(key, mine, other, scenario.tolerance_seconds):
                differences.append(f"{label}: {key} ours={mine!r} theirs={other!r}")
    return differences


def _same(key: str, mine: Any, other: Any, tolerance: float) -> bool:
    if key.endswith("_offset") and isinstance(mine, float) and isinstance(other, float):
        return abs(mine - other) <= tolerance
    return bool(mine == other)


_CAMEL_WORD = re.compile(r"\b[a-z]+(?:[A-Z][a-z0-9]*)+\b")


def snake_message(message: str) -> str:
    """pg-boss's error text in the port's terms: camelCase option names become snake_case."""
    return _CAMEL_WORD.sub(lambda m: re.sub(r"(?<!^)([A-Z])", r"_\1", m[0]).lower(), message)


def normalise_results(results: list[Any], *, theirs: bool = False) -> list[Any]:
    """Per-op results comparable across implementations: batch fetches as sets, error texts in snake_case."""
    normalised: list[Any] = []
    for result in results:
        if isinstance(result, list):
            normalised.append(sorted(result, key=lambda item: json.dumps(item, sort_keys=True)))
        elif isinstance(result, dict) and set(result) == {"error"}:
            normalised.append({"error": snake_message(result["error"]) if theirs else result["error"]})
        else:
            normalised.append(result)
    return normalised


QUEUE_FIELDS = (
    "name",
    "policy",
    "retry_limit",
    "retry_delay",
    "retry_backoff",
    "retry_delay_max",
    "expire_seconds",
    "retention_seconds",
    "deletion_seconds",
    "dead_letter",
    "partition",
    "table_name",
    "heartbeat_seconds",
    "warning_queued",
)
"""Queue settings compared; ``notify`` is left out on purpose: ours defaults it to true (documented)."""


def normalise_queues(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Queue rows reduced to :data:`QUEUE_FIELDS`."""
    return [{key: row.get(key, "<missing column>") for key in QUEUE_FIELDS} for row in rows]


SCHEDULE_FIELDS = ("name", "key", "kind", "cron", "timezone", "data", "options")
"""Schedule columns compared (timestamps and last_job_id left out)."""


def normalise_schedules(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Schedule rows reduced to :data:`SCHEDULE_FIELDS`."""
    return [{key: row.get(key, "<missing column>") for key in SCHEDULE_FIELDS} for row in rows]


def normalise_subscriptions(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Subscriptions as (event, queue) pairs."""
    return sorted((str(row["event"]), str(row["name"])) for row in rows)
