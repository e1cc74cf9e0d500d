"""Seeded simulations of the nightly report at the issue's full counts; prints each rate.

    python benchmarks/analysis_simulations.py [--trials-aa 200] [--trials-fast 200] [--trials-seed 100]

1. A/A: 200 trials, 30 nightly looks, ~40 jobs per arm per day, 1% failures: false-winner rate.
2. The same with pgboss 1.5x faster: share of trials naming pgboss the winner by day 30.
3. The seed's volume (~10 jobs per arm per day, 5% failures): the verdict on day 30, its
   days_to_decision, and the day the simulated trials actually decide.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bakeoff.analysis.simulate import false_winner_rate, seed_volume, winner_rate


def _iqr(values: tuple[float, ...]) -> str:
    return f"{np.percentile(values, 25):.0f}-{np.percentile(values, 75):.0f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials-aa", type=int, default=200)
    parser.add_argument("--trials-fast", type=int, default=200)
    parser.add_argument("--trials-seed", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    started = time.perf_counter()
    rate = false_winner_rate(args.trials_aa, rng)
    print(
        f"A/A, {args.trials_aa} trials x 30 nightly looks, 40 jobs/arm/day, 1% failures: "
        f"false-winner rate {rate:.3f} (target <= 0.05) [{time.perf_counter() - started:.0f} s]"
    )

    started = time.perf_counter()
    rate = winner_rate(args.trials_fast, rng)
    print(
        f"pgboss 1.5x faster, {args.trials_fast} trials: winner by day 30 in {rate:.3f} "
        f"(target >= 0.80) [{time.perf_counter() - started:.0f} s]"
    )

    started = time.perf_counter()
    result = seed_volume(args.trials_seed, rng)
    statuses = {s: result.statuses_at_day.count(s) for s in set(result.statuses_at_day)}
    print(
        f"seed volume, {args.trials_seed} trials, 10 jobs/arm/day, 5% failures: "
        f"verdicts on day 30 {statuses}; "
        f"trials decided by day 30 {result.decided_by_day:.3f}"
    )
    print(
        f"  days_to_decision on day 30 -> median predicted decision day {result.median_predicted:.0f} "
        f"(IQR {_iqr(result.predicted_days)}); "
        f"simulated decision day median {result.median_decision:.0f} "
        f"(IQR {_iqr(result.decision_days)}); "
        f"relative error {result.relative_error:.1%} (target <= 25%) [{time.perf_counter() - started:.0f} s]"
    )


if __name__ == "__main__":
    main()
