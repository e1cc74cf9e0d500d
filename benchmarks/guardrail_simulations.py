"""Seeded simulations of the guardrail looked at every 10 minutes for 30 days; prints each rate.

    python benchmarks/guardrail_simulations.py [--trials 200] [--seed 20261205]

Three arms (a control and two candidates), 40 finished jobs per arm per day, 5% failures, lognormal
latency (median 2 s, sigma 0.8), checked every 10 minutes (4,320 looks) with the default
GuardrailSpec (failure margin 5 points, p95 ratio 2x, alpha 0.05 per test, min 30 jobs):

1. A/A: share of trials in which any candidate is killed (target <= 0.05).
2. One candidate fails 3x as often (5% -> 15%): share killed (target >= 0.90), median jobs before.
3. One candidate's latency is 3x the control's (so its p95 too): share killed (target >= 0.90).
4. Context: a candidate exactly on the failure margin (5% -> 10%) or on the p95 limit (2x): the
   worst case for a false kill, which alpha bounds; and scenario 2 with Bonferroni.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bakeoff.analysis.guardrail import GuardrailSpec
from bakeoff.analysis.guardrail_sim import GuardrailScenario, ScenarioResult, simulate_guardrail

SCENARIOS = (
    ("A/A", GuardrailScenario(name="aa"), "false kills (any candidate)", "<= 0.05"),
    (
        "failure rate 3x (5% -> 15%)",
        GuardrailScenario(name="failure_3x", failure_rate=(0.05, 0.15, 0.05)),
        "killed",
        ">= 0.90",
    ),
    (
        "p95 latency 3x",
        GuardrailScenario(name="latency_3x", latency_scale=(1.0, 3.0, 1.0)),
        "killed",
        ">= 0.90",
    ),
    (
        "on the failure margin (5% -> 10%)",
        GuardrailScenario(name="at_margin", failure_rate=(0.05, 0.10, 0.05)),
        "killed (a false kill by definition)",
        "<= 0.05",
    ),
    (
        "on the latency limit (p95 2x)",
        GuardrailScenario(name="latency_at_limit", latency_scale=(1.0, 2.0, 1.0)),
        "killed (a false kill by definition)",
        "<= 0.05",
    ),
)


def _line(label: str, result: ScenarioResult, what: str, target: str, seconds: float) -> str:
    rate = result.killed_any if result.scenario.name == "aa" else result.killed_candidate
    median_jobs = result.median_jobs()
    extra = (
        f"; median jobs of that arm before the kill {median_jobs:.0f} "
        f"(median day {result.median_days():.1f}); "
        f"the unchanged candidate killed in {result.killed_other:.3f}"
        if median_jobs is not None and result.scenario.name != "aa"
        else ""
    )
    return f"{label}, {result.trials} trials: {what} {rate:.3f} (target {target}){extra} [{seconds:.1f} s]"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261205)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        "30 days x 40 jobs/arm/day, 3 arms, checked every 10 min (4,320 looks), "
        "GuardrailSpec defaults (margin 5 points, p95 ratio 2x, alpha 0.05 per test)"
    )
    for label, scenario, what, target in SCENARIOS:
        started = time.perf_counter()
        result = simulate_guardrail(scenario, args.trials, rng)
        print(_line(label, result, what, target, time.perf_counter() - started))
    started = time.perf_counter()
    strict = GuardrailSpec(control="control", correction="bonferroni")
    result = simulate_guardrail(SCENARIOS[1][1], args.trials, rng, strict)
    print(
        _line(
            "failure rate 3x, Bonferroni over candidates x metrics",
            result,
            "killed",
            "-",
            time.perf_counter() - started,
        )
    )
    print("load average: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
