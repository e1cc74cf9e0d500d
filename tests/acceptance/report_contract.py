"""A checker for the report JSON contract of ``bakeoff report --format json`` (issue 10's schema;
schema version 2: issue 23's ``power.days_to_decision`` forecast object and ``power.plan``)."""

from __future__ import annotations

from typing import Any

NUMBER = (int, float)
ARM_KEYS = {
    "assigned": int,
    "finished": int,
    "open": int,
    "completed": int,
    "failed": int,
    "cancelled": int,
    "failure_rate": (*NUMBER, type(None)),
    "failure_rate_ci": (list, type(None)),
    "latency_ms": dict,
    "latency_p50_ci": (list, type(None)),
    "latency_p95_ci": (list, type(None)),
    "queue_wait_ms": dict,
    "run_time_ms": dict,
    "attempts_mean": (*NUMBER, type(None)),
    "errors": dict,
}
COMPARISON_KEYS = {
    "arm": str,
    "control": str,
    "metric": str,
    "estimate": (*NUMBER, type(None)),
    "ci": (list, type(None)),
    "ci_sequential": (list, type(None)),
    "p_value": (*NUMBER, type(None)),
    "p_value_adjusted": (*NUMBER, type(None)),
    "method": str,
    "significant": bool,
}
SCHEMA_VERSION = 2
DAYS_TO_DECISION_KEYS = {
    "median": (*NUMBER, type(None)),
    "interval_80": list,
    "probability_within": dict,
    "probability_within_365": NUMBER,
    "no_decision_in_sight": bool,
    "needed_jobs_per_arm_per_day": (*NUMBER, type(None)),
    "jobs_per_arm_per_day": NUMBER,
    "draws": int,
    "horizon_days": int,
}
PLAN_KEYS = {"day": NUMBER, "trial_day": NUMBER, "days_left": int, "probability": (*NUMBER, type(None))}
VERDICTS = {"invalid", "insufficient_data", "no_difference", "winner"}


def _check(obj: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    problems = []
    for key, kind in spec.items():
        if key not in obj:
            problems.append(f"{where}: missing {key!r}")
        elif not isinstance(obj[key], kind):
            problems.append(f"{where}.{key}: {type(obj[key]).__name__} is not {kind}")
    return problems


def _days_to_decision_problems(power: dict[str, Any]) -> list[str]:
    if "days_to_decision" not in power:
        return ["power: missing 'days_to_decision'"]
    problems = _check(power, {"plan": dict}, "power")
    if not problems:
        problems += _check(power["plan"], PLAN_KEYS, "power.plan")
    days = power["days_to_decision"]
    if days is None:  # no forecast: some arm has no finished job yet
        return problems
    if not isinstance(days, dict):
        return [*problems, f"power.days_to_decision: {type(days).__name__} is not an object"]
    problems += _check(days, DAYS_TO_DECISION_KEYS, "power.days_to_decision")
    within = days.get("probability_within")
    if isinstance(within, dict) and set(within) != {"14", "30", "60", "90"}:
        problems.append(f"power.days_to_decision.probability_within has keys {sorted(within)}")
    interval = days.get("interval_80")
    if isinstance(interval, list) and len(interval) != 2:
        problems.append(f"power.days_to_decision.interval_80 has {len(interval)} ends, not 2")
    if days.get("no_decision_in_sight") and days.get("probability_within_365", 0) >= 0.1:
        problems.append("power.days_to_decision: no decision in sight, yet >= 10% chance within 365 days")
    return problems


def contract_problems(body: dict[str, Any]) -> list[str]:
    """Every way ``body`` departs from the report JSON contract (empty when it conforms)."""
    problems = _check(
        body,
        {
            "schema_version": int,
            "experiment": str,
            "phase": int,
            "generated_at": str,
            "window": dict,
            "control": str,
            "analysis": str,
            "alpha": NUMBER,
            "failure_margin": NUMBER,
            "arms": dict,
            "srm": dict,
            "comparisons": list,
            "power": dict,
            "observations": dict,
            "verdict": dict,
        },
        "report",
    )
    if problems:
        return problems
    if body["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema_version is {body['schema_version']}, not {SCHEMA_VERSION}")
    if body["analysis"] not in ("itt", "per_protocol"):
        problems.append(f"analysis is {body['analysis']!r}")
    for arm, stats in body["arms"].items():
        problems += _check(stats, ARM_KEYS, f"arms.{arm}")
        for key in ("p50", "p90", "p95", "p99", "mean"):
            if key not in stats.get("latency_ms", {}):
                problems.append(f"arms.{arm}.latency_ms: missing {key!r}")
    problems += _check(
        body["srm"],
        {
            "expected_share": dict,
            "observed": dict,
            "chi2": (*NUMBER, type(None)),
            "p_value": (*NUMBER, type(None)),
            "mismatch": bool,
        },
        "srm",
    )
    for n, comparison in enumerate(body["comparisons"]):
        problems += _check(comparison, COMPARISON_KEYS, f"comparisons[{n}]")
        metric = comparison.get("metric")
        if metric not in ("failure_rate", "latency"):
            problems.append(f"comparisons[{n}].metric is {metric!r}")
        extra = "u_statistic" if metric == "latency" else "non_inferior"
        if extra not in comparison:
            problems.append(f"comparisons[{n}]: missing {extra!r}")
    problems += _days_to_decision_problems(body["power"])
    verdict = body["verdict"]
    problems += _check(verdict, {"status": str, "reasons": list}, "verdict")
    if verdict.get("status") not in VERDICTS:
        problems.append(f"verdict.status is {verdict.get('status')!r}")
    if "winner" not in verdict:
        problems.append("verdict: missing 'winner'")
    return problems
