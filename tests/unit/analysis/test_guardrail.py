"""The guardrail rule on synthetic trials: harmful candidates are flagged, identical ones are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bakeoff.analysis import AnalysisInputError, TrialSpec, synthetic_trial
from bakeoff.analysis.guardrail import (
    GuardrailSpec,
    check,
    failure_lower_bound,
    per_test_alpha,
    quantile_ranks,
)
from bakeoff.analysis.guardrail_sim import GuardrailScenario, simulate_guardrail
from bakeoff.analysis.sequential import failure_difference_sequence
from bakeoff.metrics import columns as col

SPEC = GuardrailSpec(control="legacy")


def _trial(**overrides: object) -> pd.DataFrame:
    options: dict[str, object] = {"days": 20, "jobs_per_day": 120.0, "latency_sigma": 0.8}
    options.update(overrides)
    return synthetic_trial(TrialSpec(**options), rng=7)  # type: ignore[arg-type]


def test_a_candidate_failing_three_times_as_often_is_flagged_for_a_kill() -> None:
    result = check(_trial(failure_rate={"legacy": 0.05, "pgboss": 0.15, "inngest": 0.05}), SPEC)
    assert result.kill == ("pgboss",)
    (breach,) = result.breaches
    assert breach.metric == "failure_rate"
    assert breach.lower is not None and breach.lower > SPEC.failure_margin
    assert breach.estimate is not None and 0.05 < breach.estimate < 0.15
    assert "pgboss failure rate" in breach.describe()


def test_identical_arms_are_not_flagged() -> None:
    result = check(_trial(), SPEC)
    assert result.kill == ()
    assert result.alerts == ()
    assert len(result.checks) == 4
    assert all(c.skipped is None and c.lower is not None for c in result.checks)


def test_a_candidate_three_times_slower_at_p95_is_flagged() -> None:
    result = check(_trial(median_latency_ms={"legacy": 2000.0, "pgboss": 2000.0, "inngest": 6000.0}), SPEC)
    assert result.kill == ("inngest",)
    (breach,) = result.breaches
    assert breach.metric == "latency_p95"
    assert breach.lower is not None and breach.lower > SPEC.latency_ratio
    assert breach.estimate is not None and 2.4 < breach.estimate < 3.6


def test_a_candidate_only_slightly_worse_than_the_margins_is_not_flagged() -> None:
    worse = _trial(
        failure_rate={"legacy": 0.05, "pgboss": 0.08, "inngest": 0.05},
        median_latency_ms={"legacy": 2000.0, "pgboss": 3000.0, "inngest": 2000.0},
    )
    assert check(worse, SPEC).kill == ()


def test_the_failure_bound_is_the_verdicts_sequence_made_one_sided() -> None:
    """One-sided at alpha is the lower edge of the verdict's two-sided sequence at 2 alpha."""
    two_sided = failure_difference_sequence(30, 200, 10, 200, alpha=0.1)
    assert two_sided is not None
    estimate, lower = failure_lower_bound(30, 200, 10, 200, alpha=0.05)
    assert float(estimate) == pytest.approx(two_sided.estimate)
    assert float(lower) == pytest.approx(two_sided.lower)


def test_quantile_ranks_bracket_the_p95_like_the_binomial_interval() -> None:
    est, lo, hi, valid = quantile_ranks(np.array([50, 73, 200, 1000]), 0.95)
    assert valid.tolist() == [False, True, True, True]
    assert est[2] == 189  # rank ceil(200 * 0.95) = 190, 0-based 189
    # The bracket holds about 95% binomial probability around the quantile's rank.
    n = 1000
    coverage = stats.binom.cdf(hi[3], n, 0.95) - stats.binom.cdf(lo[3], n, 0.95)
    assert 0.94 < coverage < 0.97


def test_srm_is_an_alert_never_a_kill() -> None:
    trial = _trial(shares={"legacy": 2.0, "pgboss": 1.0, "inngest": 1.0})
    result = check(trial, GuardrailSpec(control="legacy", shares={"legacy": 1, "pgboss": 1, "inngest": 1}))
    assert [a.kind for a in result.alerts] == ["sample_ratio_mismatch"]
    assert result.kill == ()


def test_an_arm_without_traffic_is_an_alert() -> None:
    trial = _trial(arms=("legacy", "pgboss"))
    result = check(trial, GuardrailSpec(control="legacy", arms=("legacy", "pgboss", "inngest")))
    assert [(a.kind, a.arm) for a in result.alerts] == [("no_traffic", "inngest")]
    assert result.kill == ()


def test_an_arm_whose_jobs_never_finish_is_an_alert() -> None:
    trial = _trial()
    open_ = trial[col.SERVED_ARM] == "pgboss"
    trial.loc[open_, [col.OUTCOME, col.FINISHED_AT, col.LATENCY_MS]] = None
    (alert,) = check(trial, SPEC).alerts
    assert alert.kind == "no_traffic" and alert.arm == "pgboss" and "none finished" in alert.message


def test_a_killed_arm_is_not_tested_again() -> None:
    trial = _trial(failure_rate={"legacy": 0.05, "pgboss": 0.15, "inngest": 0.05})
    result = check(trial, GuardrailSpec(control="legacy", killed_arms=frozenset({"pgboss"})))
    assert result.kill == ()
    assert {c.arm for c in result.checks} == {"inngest"}
    assert result.notes == ("arm pgboss is already killed; not tested",)


def test_too_few_jobs_skip_the_tests_with_a_reason() -> None:
    result = check(_trial(days=1, jobs_per_day=30.0), SPEC)
    assert result.kill == ()
    assert all(c.skipped and "fewer than 30" in c.skipped for c in result.checks)


def test_overrides_are_left_out() -> None:
    trial = _trial(failure_rate={"legacy": 0.05, "pgboss": 0.15, "inngest": 0.05})
    trial.loc[trial[col.SERVED_ARM] == "pgboss", col.ASSIGNMENT_REASON] = "override"
    result = check(trial, GuardrailSpec(control="legacy", arms=("legacy", "pgboss", "inngest")))
    assert result.kill == ()
    assert {c.n_candidate for c in result.checks if c.arm == "pgboss"} == {0}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failure_margin", 0.0),
        ("latency_ratio", 1.0),
        ("alpha", 0.7),
        ("min_jobs", 1),
        ("correction", "holm"),
    ],
)
def test_bad_specs_name_the_field(field: str, value: object) -> None:
    with pytest.raises(AnalysisInputError, match=field):
        GuardrailSpec(**{field: value})  # type: ignore[arg-type]


def test_an_unknown_control_is_an_input_error() -> None:
    with pytest.raises(AnalysisInputError, match="control 'nope'"):
        check(_trial(), GuardrailSpec(control="nope"))


def test_bonferroni_splits_alpha_over_candidates_and_metrics() -> None:
    assert per_test_alpha(GuardrailSpec(), 2) == 0.05
    assert per_test_alpha(GuardrailSpec(correction="bonferroni"), 2) == pytest.approx(0.0125)


def test_the_result_is_json_ready() -> None:
    body = check(_trial(failure_rate={"legacy": 0.05, "pgboss": 0.3, "inngest": 0.05}), SPEC).to_dict()
    assert body["kill"] == ["pgboss"]
    assert body["breaches"][0]["interval"][1] is None
    assert body["spec"]["failure_margin"] == 0.05


def test_simulated_guard_kills_a_bad_arm_and_spares_identical_ones() -> None:
    """A small run of the benchmark's simulation (the full counts are in benchmarks/)."""
    rng = np.random.default_rng(3)
    aa = simulate_guardrail(GuardrailScenario(name="aa", days=20), 20, rng)
    bad = simulate_guardrail(GuardrailScenario(name="bad", days=20, failure_rate=(0.05, 0.3, 0.05)), 20, rng)
    assert aa.killed_any == 0.0
    assert bad.killed_candidate == 1.0 and bad.killed_other == 0.0
    assert bad.median_jobs() is not None and bad.median_jobs() < 800
