"""Seeded simulations of the nightly report (small versions; full counts in
``benchmarks/analysis_simulations.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bakeoff.analysis import compare, synthetic_trial
from bakeoff.analysis.decision import DecisionRule
from bakeoff.analysis.simulate import FAST_SPEC, false_winner_rate, nightly_looks, seed_volume, winner_rate
from bakeoff.metrics import columns as col


def test_nightly_simulation_path_agrees_with_compare_every_night() -> None:
    """The vectorised nightly looks and compare() reach the same verdict on the same data."""
    spec = FAST_SPEC
    df = synthetic_trial(spec, rng=np.random.default_rng(17))
    looks = nightly_looks(df, spec, DecisionRule())
    for day in (2, 6, 12, 30):
        cutoff = pd.Timestamp(spec.start) + pd.Timedelta(days=day)
        c = compare(df[df[col.SUBMITTED_AT] < cutoff])
        assert (c.verdict.status == "winner") == bool(looks.any_win[day - 1]), day
        pgboss = next(r for r in c.comparisons if r.arm == "pgboss" and r.metric == "failure_rate")
        assert pgboss.ci_sequential == pytest.approx(
            (looks.verdicts["pgboss"].failure_lower[day - 1], looks.verdicts["pgboss"].failure_upper[day - 1])
        )


@pytest.mark.slow
def test_aa_trials_peeked_nightly_name_a_false_winner_at_most_alpha_of_the_time() -> None:
    rate = false_winner_rate(60, np.random.default_rng(101))
    print(f"A/A false-winner rate over 60 trials x 30 nightly looks: {rate:.3f}")
    assert rate <= 0.05


@pytest.mark.slow
def test_a_candidate_1_5x_faster_wins_in_at_least_80_percent_of_trials_by_day_30() -> None:
    rate = winner_rate(30, np.random.default_rng(202))
    print(f"1.5x-faster candidate named winner by day 30 in {rate:.3f} of 30 trials")
    assert rate >= 0.8


@pytest.mark.slow
def test_seed_volume_stays_insufficient_and_days_to_decision_is_within_25_percent() -> None:
    result = seed_volume(24, np.random.default_rng(303))
    print(
        f"seed volume: statuses on day 30 {set(result.statuses_at_day)}; decided by day 30 "
        f"{result.decided_by_day:.2f}; median predicted decision day {result.median_predicted:.0f}; "
        f"median simulated decision day {result.median_decision:.0f}; error {result.relative_error:.1%}"
    )
    assert set(result.statuses_at_day) == {"insufficient_data"}
    # Identical arms: any decision by day 30 is a false one, so it may happen at most alpha of the time.
    assert result.decided_by_day <= 0.05
    assert len(result.decision_days) == 24 and len(result.predicted_days) == 24
    assert result.relative_error <= 0.25
