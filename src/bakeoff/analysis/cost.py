"""Cost projection: what each arm would cost per month at today's volume, 10x and 100x.

Measured per arm from the trial (:func:`measure_usage`, the database edge):

* **executions as Inngest bills them** (inngest arm: one per function run plus one per step
  execution, counted from the engine's ``inngest.runs`` and ``inngest.attempts``); **jobs and
  retries** for the others (from ``bakeoff.trial_jobs``);
* **worker CPU seconds per job**: the ``cpu_s`` each attempt recorded (the thread's CPU; for the
  legacy arm the whole child process, start-up included);
* **database work per job**: statements (``pg_stat_statements`` when installed) and rows written
  (``pg_stat_user_tables``) in the arm's schema, over the jobs the arm served;
* **storage per retained job**: bytes of the arm's schema (tables, indexes, TOAST) over its retained
  jobs.

:func:`project` (pure) turns that into monthly figures priced from a dated pricing file
(:func:`load_pricing`; the one shipped is ``pricing-2026-12-05.json``). Every figure carries the
assumption it rests on, and a price the file leaves unset gives no money figure, never a guess.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from bakeoff.analysis.errors import AnalysisInputError
from bakeoff.db.sql import load_queries

__all__ = [
    "DAYS_PER_MONTH",
    "DEFAULT_PRICING",
    "ArmProjection",
    "ArmUsage",
    "CostProjection",
    "Pricing",
    "Usage",
    "load_pricing",
    "measure_usage",
    "project",
]

logger = logging.getLogger(__name__)

QUERIES = load_queries("bakeoff.analysis")
DEFAULT_PRICING = "pricing-2026-12-05.json"
DAYS_PER_MONTH = 30.44
MULTIPLIERS = (1, 10, 100)
ARM_SCHEMAS = {"legacy": "legacy", "pgboss": "pgboss", "inngest": "inngest"}


@dataclass(frozen=True, kw_only=True)
class Plan:
    name: str
    included_executions: int
    monthly_price: float | None


@dataclass(frozen=True, kw_only=True)
class Pricing:
    """A dated pricing file: Inngest's plans, and the prices the user sets (None = not set)."""

    date: str
    source: str
    plans: tuple[Plan, ...]
    extra_executions_price_per_million: float | None = None
    vcpu_hour_price: float | None = None
    storage_gb_month_price: float | None = None
    currency: str = "USD"
    path: str = ""

    @classmethod
    def from_dict(cls, body: dict[str, Any], path: str = "") -> Pricing:
        try:
            plans = tuple(
                Plan(
                    name=str(p["name"]),
                    included_executions=int(p["included_executions_per_month"]),
                    monthly_price=_price(p.get("monthly_price"), f"plan {p['name']} monthly_price"),
                )
                for p in body["inngest_plans"]
            )
            return cls(
                date=str(body["date"]),
                source=str(body["source"]),
                plans=tuple(sorted(plans, key=lambda p: p.included_executions)),
                extra_executions_price_per_million=_price(
                    body.get("extra_executions_price_per_million"), "extra_executions_price_per_million"
                ),
                vcpu_hour_price=_price(body.get("vcpu_hour_price"), "vcpu_hour_price"),
                storage_gb_month_price=_price(body.get("storage_gb_month_price"), "storage_gb_month_price"),
                currency=str(body.get("currency", "USD")),
                path=path,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AnalysisInputError(
                f"pricing file {path or '(inline)'}: missing or bad field {exc}"
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "source": self.source,
            "file": self.path,
            "currency": self.currency,
            "inngest_plans": [
                {
                    "name": p.name,
                    "included_executions_per_month": p.included_executions,
                    "monthly_price": p.monthly_price,
                }
                for p in self.plans
            ],
            "extra_executions_price_per_million": self.extra_executions_price_per_million,
            "vcpu_hour_price": self.vcpu_hour_price,
            "storage_gb_month_price": self.storage_gb_month_price,
        }


def _price(value: Any, name: str) -> float | None:
    if value is None:
        return None
    price = float(value)
    if not math.isfinite(price) or price < 0:
        raise ValueError(f"{name} must be a non-negative number or null, not {value!r}")
    return price


def load_pricing(path: str | Path | None = None) -> Pricing:
    """The pricing file at ``path``, or the one shipped with bakeoff."""
    if path is None:
        source = resources.files("bakeoff.analysis").joinpath(DEFAULT_PRICING)
        return Pricing.from_dict(
            json.loads(source.read_text(encoding="utf-8")), f"bakeoff/analysis/{DEFAULT_PRICING}"
        )
    file = Path(path)
    try:
        body = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AnalysisInputError(f"cannot read pricing file {file}: {exc}") from exc
    if not isinstance(body, dict):
        raise AnalysisInputError(f"pricing file {file}: expected a JSON object")
    return Pricing.from_dict(body, str(file))


@dataclass(frozen=True, kw_only=True)
class ArmUsage:
    """What one arm used per job in the trial; None where it could not be measured."""

    arm: str
    jobs: int
    finished: int
    attempts: int
    retries: int
    executions: int | None = None
    """Inngest-billed executions (function runs + step executions); None for the other arms."""
    function_runs: int | None = None
    step_executions: int | None = None
    cpu_seconds: float | None = None
    jobs_with_cpu: int = 0
    cpu_scope: str | None = None
    rows_written_per_job: float | None = None
    statements_per_job: float | None = None
    write_statements_per_job: float | None = None
    storage_bytes: int | None = None
    retained_jobs: int | None = None

    @property
    def cpu_seconds_per_job(self) -> float | None:
        if self.cpu_seconds is None or self.jobs_with_cpu == 0:
            return None
        return self.cpu_seconds / self.jobs_with_cpu

    @property
    def executions_per_job(self) -> float | None:
        return None if self.executions is None or not self.jobs else self.executions / self.jobs

    @property
    def attempts_per_job(self) -> float | None:
        return self.attempts / self.jobs if self.jobs else None

    @property
    def bytes_per_retained_job(self) -> float | None:
        if self.storage_bytes is None or not self.retained_jobs:
            return None
        return self.storage_bytes / self.retained_jobs

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "jobs": self.jobs,
            "finished": self.finished,
            "attempts": self.attempts,
            "retries": self.retries,
            "attempts_per_job": self.attempts_per_job,
            "executions": self.executions,
            "function_runs": self.function_runs,
            "step_executions": self.step_executions,
            "executions_per_job": self.executions_per_job,
            "cpu_seconds_per_job": self.cpu_seconds_per_job,
            "jobs_with_cpu": self.jobs_with_cpu,
            "cpu_scope": self.cpu_scope,
            "rows_written_per_job": self.rows_written_per_job,
            "statements_per_job": self.statements_per_job,
            "write_statements_per_job": self.write_statements_per_job,
            "storage_bytes": self.storage_bytes,
            "retained_jobs": self.retained_jobs,
            "bytes_per_retained_job": self.bytes_per_retained_job,
        }


@dataclass(frozen=True, kw_only=True)
class Usage:
    """The trial's measured usage: volume and each arm's per-job figures."""

    experiment: str
    jobs_per_day: float
    span_days: float
    total_jobs: int
    arms: tuple[ArmUsage, ...]
    pg_stat_statements: bool
    measured_at: datetime | None = None


# -- measuring (the database edge) ------------------------------------------------------------


def _scalar(engine: Engine, name: str, params: dict[str, Any]) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(QUERIES[name]), params).scalar()


def _install_statement_statistics(engine: Engine) -> bool:
    """Install the ``pg_stat_statements`` view where the server preloads its module; False otherwise.

    The server counts statements from its start whether or not the view exists in a database, so
    installing it when the report first asks loses nothing.
    """
    try:
        with engine.begin() as conn:
            preloaded = bool(conn.execute(text(QUERIES["cost_statements_preloaded"])).scalar())
            if preloaded:
                conn.execute(text(QUERIES["cost_install_pg_stat_statements"]))
    except DBAPIError:
        logger.info("pg_stat_statements could not be installed; statements per job are left out")
        return False
    return preloaded


def _statements(engine: Engine, schema: str) -> tuple[int, int] | None:
    """(calls, write calls) of statements naming ``schema``; None when the view cannot be read."""
    try:
        with engine.connect() as conn:
            row = conn.execute(text(QUERIES["cost_schema_statements"]), {"pattern": f"%{schema}.%"}).one()
    except DBAPIError:
        # Installed but not in shared_preload_libraries: the view raises; the rows stand in.
        return None
    return int(row.calls), int(row.write_calls)


def _arm_usage(engine: Engine, experiment: str, row: Any, cpu: Any, statements_ok: bool) -> ArmUsage:
    arm = str(row.arm)
    schema = ARM_SCHEMAS.get(arm)
    values: dict[str, Any] = {
        "arm": arm,
        "jobs": int(row.jobs),
        "finished": int(row.finished),
        "attempts": int(row.attempts),
        "retries": int(row.retries),
    }
    if cpu is not None:
        values.update(
            cpu_seconds=float(cpu.cpu_s), jobs_with_cpu=int(cpu.jobs_with_cpu), cpu_scope=cpu.scopes
        )
    if arm == "inngest":
        with engine.connect() as conn:
            ex = conn.execute(text(QUERIES["cost_inngest_executions"]), {"experiment": experiment}).one()
        values.update(
            function_runs=int(ex.function_runs),
            step_executions=int(ex.step_executions),
            executions=int(ex.function_runs) + int(ex.step_executions),
        )
    if schema is not None:
        served_all = int(_scalar(engine, "cost_served_jobs_all", {"arm": arm}) or 0)
        rows_written = int(_scalar(engine, "cost_schema_rows_written", {"schema": schema}) or 0)
        values["storage_bytes"] = int(_scalar(engine, "cost_schema_storage", {"schema": schema}) or 0)
        values["retained_jobs"] = int(_scalar(engine, f"cost_retained_{arm}", {}) or 0)
        if served_all:
            values["rows_written_per_job"] = rows_written / served_all
            counted = _statements(engine, schema) if statements_ok else None
            if counted is not None:
                values["statements_per_job"] = counted[0] / served_all
                values["write_statements_per_job"] = counted[1] / served_all
    return ArmUsage(**values)


def measure_usage(engine: Engine, experiment: str, *, jobs_per_day: float | None = None) -> Usage:
    """Each arm's per-job usage in ``experiment``, and its volume (jobs per day over all arms)."""
    params = {"experiment": experiment}
    with engine.connect() as conn:
        rows = conn.execute(text(QUERIES["cost_trial_volume"]), params).all()
        cpu_rows = {r.arm: r for r in conn.execute(text(QUERIES["cost_attempt_cpu"]), params).all()}
        statements_ok = bool(conn.execute(text(QUERIES["cost_has_pg_stat_statements"])).scalar())
    statements_ok = statements_ok or _install_statement_statistics(engine)
    if not rows:
        raise AnalysisInputError(f"experiment {experiment!r} has no trial jobs to measure")
    first = min(r.first_submitted for r in rows)
    last = max(r.last_submitted for r in rows)
    span_days = max((last - first).total_seconds() / 86400.0, 1.0)
    total = sum(int(r.jobs) for r in rows)
    arms = tuple(
        _arm_usage(engine, experiment, row, cpu_rows.get(row.arm), statements_ok)
        for row in sorted(rows, key=lambda r: str(r.arm))
    )
    return Usage(
        experiment=experiment,
        jobs_per_day=jobs_per_day if jobs_per_day is not None else total / span_days,
        span_days=span_days,
        total_jobs=total,
        arms=arms,
        pg_stat_statements=statements_ok,
        measured_at=last,
    )


# -- projecting (pure) -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Figure:
    """One projected number with its unit, the money it costs (None: price not set) and why."""

    name: str
    value: float | None
    unit: str
    assumption: str
    cost: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "cost": self.cost,
            "assumption": self.assumption,
        }


@dataclass(frozen=True, kw_only=True)
class ArmProjection:
    arm: str
    multiplier: int
    jobs_per_month: float
    figures: tuple[Figure, ...]

    @property
    def total_cost(self) -> float | None:
        """Sum of the priced figures; None when none is priced."""
        priced = [f.cost for f in self.figures if f.cost is not None]
        return sum(priced) if priced else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "multiplier": self.multiplier,
            "jobs_per_month": self.jobs_per_month,
            "figures": [f.to_dict() for f in self.figures],
            "priced_total": self.total_cost,
        }


@dataclass(frozen=True, kw_only=True)
class CostProjection:
    usage: Usage
    pricing: Pricing
    projections: tuple[ArmProjection, ...]
    assumptions: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        u = self.usage
        return {
            "experiment": u.experiment,
            "jobs_per_day": u.jobs_per_day,
            "span_days": u.span_days,
            "total_jobs": u.total_jobs,
            "pg_stat_statements": u.pg_stat_statements,
            "pricing": self.pricing.to_dict(),
            "usage": [a.to_dict() for a in u.arms],
            "projections": [p.to_dict() for p in self.projections],
            "assumptions": list(self.assumptions),
        }


def _inngest_plan(executions: float, pricing: Pricing) -> tuple[str, float | None, str]:
    """(plan name, monthly cost or None, assumption) for ``executions`` a month."""
    for plan in pricing.plans:
        if executions <= plan.included_executions:
            note = f"fits {plan.name} ({plan.included_executions:,} included)"
            if plan.monthly_price is None:
                note += f"; {plan.name}'s price not set in the pricing file"
            return plan.name, plan.monthly_price, note
    top = pricing.plans[-1]
    extra = executions - top.included_executions
    per_million = pricing.extra_executions_price_per_million
    cost = None
    if per_million is not None and top.monthly_price is not None:
        cost = top.monthly_price + extra / 1e6 * per_million
    note = f"over {top.name} ({top.included_executions:,} included) by {extra:,.0f}"
    if cost is None:
        note += "; set the plan price and extra_executions_price_per_million to price it"
    return top.name, cost, note


def _arm_figures(arm: ArmUsage, jobs: float, pricing: Pricing) -> list[Figure]:
    figures: list[Figure] = []
    if arm.executions_per_job is not None:
        executions = arm.executions_per_job * jobs
        plan, cost, note = _inngest_plan(executions, pricing)
        figures.append(
            Figure(
                name="inngest_executions",
                value=executions,
                unit=f"executions/month ({plan})",
                cost=cost,
                assumption=f"{arm.executions_per_job:.2f} per job measured ({arm.function_runs} runs + "
                f"{arm.step_executions} step executions over {arm.jobs} jobs); on Inngest Cloud, {note}",
            )
        )
    elif arm.attempts_per_job is not None:
        figures.append(
            Figure(
                name="job_attempts",
                value=arm.attempts_per_job * jobs,
                unit="attempts/month",
                assumption=f"{arm.attempts_per_job:.2f} attempts per job measured ({arm.retries} "
                "retries over "
                f"{arm.jobs} jobs); self-hosted on your PostgreSQL, no per-job fee",
            )
        )
    cpu = arm.cpu_seconds_per_job
    if cpu is not None:
        hours = cpu * jobs / 3600.0
        price = pricing.vcpu_hour_price
        figures.append(
            Figure(
                name="worker_cpu",
                value=hours,
                unit="vCPU-hours/month",
                cost=None if price is None else hours * price,
                assumption=f"{cpu * 1000:.1f} ms CPU per job measured ({arm.cpu_scope} CPU around "
                "each attempt, "
                f"{arm.jobs_with_cpu} jobs); idle polling not included"
                + (
                    "; vcpu_hour_price not set"
                    if price is None
                    else f"; at {price} {pricing.currency}/vCPU-hour"
                ),
            )
        )
    else:
        figures.append(
            Figure(
                name="worker_cpu",
                value=None,
                unit="vCPU-hours/month",
                assumption="no attempt recorded its CPU time (a trial from before CPU was measured)",
            )
        )
    if arm.rows_written_per_job is not None:
        figures.append(
            Figure(
                name="db_rows_written",
                value=arm.rows_written_per_job * jobs,
                unit="rows written/month",
                assumption=f"{arm.rows_written_per_job:.1f} rows inserted/updated/deleted per job in schema "
                f"{ARM_SCHEMAS.get(arm.arm, arm.arm)} (pg_stat_user_tables since the last statistics reset, "
                "over every trial job the arm served; other work in the schema counts too)",
            )
        )
    if arm.statements_per_job is not None:
        figures.append(
            Figure(
                name="db_statements",
                value=arm.statements_per_job * jobs,
                unit="statements/month",
                assumption=f"{arm.statements_per_job:.1f} statements per job, "
                f"{arm.write_statements_per_job:.1f} "
                "of them writes (pg_stat_statements: statements naming the arm's schema)",
            )
        )
    per_job = arm.bytes_per_retained_job
    if per_job is not None:
        gb = per_job * jobs / 1e9
        price = pricing.storage_gb_month_price
        figures.append(
            Figure(
                name="storage",
                value=gb,
                unit="GB per month of retained jobs",
                cost=None if price is None else gb * price,
                assumption=f"{per_job / 1024:.1f} KiB per retained job ({arm.storage_bytes:,} bytes "
                "of tables, "
                f"indexes and TOAST over {arm.retained_jobs} retained jobs); a month retained",
            )
        )
    return figures


def project(usage: Usage, pricing: Pricing, multipliers: Sequence[int] = MULTIPLIERS) -> CostProjection:
    """Monthly figures per arm at ``usage.jobs_per_day`` times each multiplier, as if it took all traffic."""
    base = usage.jobs_per_day * DAYS_PER_MONTH
    projections = tuple(
        ArmProjection(
            arm=arm.arm,
            multiplier=m,
            jobs_per_month=base * m,
            figures=tuple(_arm_figures(arm, base * m, pricing)),
        )
        for m in multipliers
        for arm in usage.arms
    )
    assumptions = (
        f"Volume: {usage.total_jobs} jobs over {usage.span_days:.1f} days = {usage.jobs_per_day:.1f} "
        "jobs/day "
        f"(a span under a day counts as one day), {DAYS_PER_MONTH} days a month; each arm is "
        "projected as if it "
        "took all of the traffic after the migration.",
        f"Prices: {pricing.path} dated {pricing.date}, from {pricing.source}; a price left null is "
        "not guessed.",
        "Inngest bills an execution per function run and per step execution; the arm's run and step counts "
        "come from its engine's tables. Your code still runs (and uses CPU) on your own workers.",
        "Database work is shared-server work: rows and statements, not money; size the server from them.",
    )
    return CostProjection(usage=usage, pricing=pricing, projections=projections, assumptions=assumptions)
