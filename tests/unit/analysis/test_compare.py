"""compare(): the JSON contract, the verdict statuses, bad input, and the renderers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bakeoff.analysis import (
    AnalysisInputError,
    Comparison,
    TrialSpec,
    compare,
    synthetic_trial,
    to_html,
    to_json,
    to_markdown,
)
from bakeoff.metrics import columns as col

ARM_KEYS = {
    "assigned", "finished", "open", "completed", "failed", "cancelled", "failure_rate", "failure_rate_ci",
    "latency_ms", "latency_p50_ci", "latency_p95_ci", "queue_wait_ms", "run_time_ms", "attempts_mean",
    "errors",
}  # fmt: skip
COMPARISON_KEYS = {
    "arm", "control", "metric", "estimate", "ci", "ci_sequential", "p_value", "p_value_adjusted", "method",
    "significant",
}  # fmt: skip


@pytest.fixture(scope="module")
def small_trial() -> pd.DataFrame:
    return synthetic_trial(TrialSpec(days=20, jobs_per_day=30), rng=np.random.default_rng(1))


@pytest.fixture(scope="module")
def small_comparison(small_trial: pd.DataFrame) -> Comparison:
    return compare(small_trial)


@pytest.fixture(scope="module")
def fast_candidate_trial() -> pd.DataFrame:
    spec = TrialSpec(
        days=30,
        jobs_per_day=120,
        failure_rate=0.01,
        median_latency_ms={"legacy": 2000.0, "pgboss": 1000.0, "inngest": 2000.0},
    )
    return synthetic_trial(spec, rng=np.random.default_rng(2))


def test_to_dict_follows_the_json_contract(small_comparison: Comparison) -> None:
    body = json.loads(to_json(small_comparison))
    assert body["schema_version"] == 2 and body["control"] == "legacy" and body["analysis"] == "itt"
    assert set(body["arms"]) == {"legacy", "pgboss", "inngest"}
    assert all(set(arm) >= ARM_KEYS for arm in body["arms"].values())
    assert set(body["srm"]) >= {"expected_share", "observed", "chi2", "p_value", "mismatch"}
    assert len(body["comparisons"]) == 4
    for row in body["comparisons"]:
        assert set(row) >= COMPARISON_KEYS
        assert ("u_statistic" in row) == (row["metric"] == "latency")
        assert ("non_inferior" in row) == (row["metric"] == "failure_rate")
    assert {"mde"} <= set(body["power"]["failure_rate"]) and {"mde_ratio"} <= set(body["power"]["latency"])
    days = body["power"]["days_to_decision"]
    assert set(days) >= {"median", "interval_80", "probability_within", "no_decision_in_sight"}
    assert set(days["probability_within"]) == {"14", "30", "60", "90"}
    assert set(body["power"]["plan"]) >= {"day", "trial_day", "days_left", "probability"}
    assert body["verdict"]["status"] in {"invalid", "insufficient_data", "no_difference", "winner"}


def test_estimates_are_candidate_minus_control(small_comparison: Comparison) -> None:
    c = small_comparison
    rows = {(r.arm, r.metric): r for r in c.comparisons}
    ctrl, cand = c.arms["legacy"], c.arms["pgboss"]
    assert cand.failure_rate is not None and ctrl.failure_rate is not None
    assert rows["pgboss", "failure_rate"].estimate == pytest.approx(cand.failure_rate - ctrl.failure_rate)
    lat = rows["pgboss", "latency"]
    assert lat.ci is not None and lat.ci[0] <= (lat.estimate or 0) <= lat.ci[1]


def test_a_much_faster_candidate_wins(fast_candidate_trial: pd.DataFrame) -> None:
    c = compare(fast_candidate_trial)
    assert c.verdict.status == "winner" and c.verdict.winner == "pgboss"
    assert any("pgboss beats legacy" in reason for reason in c.verdict.reasons)
    days = c.power["days_to_decision"]
    assert days["median"] == 0 and days["interval_80"] == [0, 0] and days["probability_within"]["14"] == 1.0
    assert c.power["plan"]["probability"] == 1.0


def test_seed_volume_is_insufficient_data_with_days_to_decision(small_comparison: Comparison) -> None:
    c = small_comparison
    assert c.verdict.status == "insufficient_data"
    days = c.power["days_to_decision"]
    assert days is not None and days["median"] > 30
    low, high = days["interval_80"]
    assert low <= days["median"] <= high
    within = days["probability_within"]
    assert within["14"] <= within["30"] <= within["60"] <= within["90"] <= days["probability_within_365"]
    assert (
        f"about {days['median']:.0f} more days (80%: {low:.0f}-{high:.0f}); "
        f"{within['30']:.0%} chance of a decision within 30 days" in c.verdict.reasons[0]
    )


def test_the_verdict_and_the_power_line_give_the_same_number_of_days(small_comparison: Comparison) -> None:
    """Issue 19: the verdict said "about 2 more days" while the power line said "Days to decision: 1"."""
    from bakeoff.analysis.forecast import days_phrase

    phrase = days_phrase(small_comparison.power["days_to_decision"])
    assert phrase in small_comparison.verdict.reasons[0]
    markdown = to_markdown(small_comparison)
    power = markdown[markdown.index("## Power") :]
    assert f"Days to decision: {phrase};" in power


def test_holm_adjusts_every_comparison(small_comparison: Comparison) -> None:
    rows = small_comparison.comparisons
    for row in rows:
        assert row.p_value is not None and row.p_value_adjusted is not None
        assert row.p_value_adjusted >= row.p_value
        assert row.significant == (row.p_value_adjusted < 0.05)


def test_sample_ratio_mismatch_makes_the_verdict_invalid() -> None:
    spec = TrialSpec(days=20, jobs_per_day=60, shares={"legacy": 0.5, "pgboss": 0.25, "inngest": 0.25})
    df = synthetic_trial(spec, rng=np.random.default_rng(3))
    c = compare(df)
    assert c.srm["mismatch"] and c.verdict.status == "invalid"
    assert any("Sample ratio mismatch" in r for r in c.verdict.reasons)
    assert not compare(df, shares={"legacy": 2, "pgboss": 1, "inngest": 1}).srm["mismatch"]


def test_missing_columns_are_named() -> None:
    df = synthetic_trial(TrialSpec(days=2), rng=0).drop(columns=[col.OUTCOME, col.LATENCY_MS])
    with pytest.raises(AnalysisInputError, match=r"outcome.*latency_ms"):
        compare(df)


def test_empty_export_is_a_clear_error(small_trial: pd.DataFrame) -> None:
    with pytest.raises(AnalysisInputError, match="empty"):
        compare(small_trial.iloc[0:0])


def test_nonexistent_phase_names_the_phases_present(small_trial: pd.DataFrame) -> None:
    with pytest.raises(AnalysisInputError, match="phase 7 does not exist; phases present: 1"):
        compare(small_trial, phase=7)


def test_unknown_control_is_a_clear_error(small_trial: pd.DataFrame) -> None:
    with pytest.raises(AnalysisInputError, match="control"):
        compare(small_trial, control="sidekiq")


def test_unknown_arm_makes_the_verdict_invalid(small_trial: pd.DataFrame) -> None:
    df = small_trial.copy()
    df.loc[df.index[:5], col.ASSIGNED_ARM] = "sidekiq"
    c = compare(df)
    assert c.verdict.status == "invalid"
    assert any("sidekiq" in r for r in c.verdict.reasons)


def test_negative_durations_are_invalid_and_kept_out_of_the_numbers(small_trial: pd.DataFrame) -> None:
    df = small_trial.copy()
    bad = df.index[df[col.OUTCOME] == "completed"][:3]
    df.loc[bad, col.LATENCY_MS] = -5.0
    c = compare(df)
    assert c.verdict.status == "invalid"
    assert any("negative latency_ms" in r for r in c.verdict.reasons)
    assert all((a.latency_ms["p50"] or 0) > 0 for a in c.arms.values())


def test_nans_in_required_values_make_the_verdict_invalid(small_trial: pd.DataFrame) -> None:
    df = small_trial.copy()
    df.loc[df.index[:4], col.ASSIGNED_ARM] = np.nan
    completed = df.index[df[col.OUTCOME] == "completed"][5:8]
    df.loc[completed, col.LATENCY_MS] = np.nan
    c = compare(df)
    assert c.verdict.status == "invalid"
    assert any("no assigned_arm" in r for r in c.verdict.reasons)
    assert any("completed jobs have no latency" in r for r in c.verdict.reasons)
    assert "NaN" not in to_json(c)


def test_phases_are_never_pooled() -> None:
    df = synthetic_trial(TrialSpec(days=20, jobs_per_day=30, phases=2), rng=4)
    latest = compare(df)
    first = compare(df, phase=1)
    assert latest.phase == 2 and first.phase == 1
    assert sum(a.assigned for a in latest.arms.values()) == int((df[col.PHASE] == 2).sum())
    assert any("never pooled" in n for n in latest.notes)


def test_per_protocol_groups_by_served_arm(small_trial: pd.DataFrame) -> None:
    df = small_trial.copy()
    killed = df.index[df[col.ASSIGNED_ARM] == "inngest"][:10]
    df.loc[killed, col.SERVED_ARM] = "legacy"
    itt, pp = compare(df), compare(df, analysis="per_protocol")
    assert pp.arms["legacy"].assigned == itt.arms["legacy"].assigned + 10
    assert pp.srm["observed"] == itt.srm["observed"]


def test_observations_are_summarised_beside_the_statistics(
    small_trial: pd.DataFrame, small_comparison: Comparison
) -> None:
    obs = pd.DataFrame(
        {"arm": ["pgboss", "pgboss", "inngest"], "kind": ["setup_minutes", "setup_minutes", "satisfaction"],
         "value": [30.0, 90.0, 4.0], "note": ["queues", "", "nice UI"], "recorded_by": "", "at": None}
    )  # fmt: skip
    with_obs, without = compare(small_trial, observations=obs), small_comparison
    assert with_obs.observations["pgboss"]["setup_minutes"] == {
        "count": 2, "total": 120.0, "mean": 60.0, "min": 30.0, "max": 90.0,
    }  # fmt: skip
    assert [r.to_dict() for r in with_obs.comparisons] == [r.to_dict() for r in without.comparisons]


def test_html_is_self_contained_verdict_first_with_inline_plots(
    small_comparison: Comparison, tmp_path: Path
) -> None:
    path = to_html(small_comparison, tmp_path / "report.html")
    text = path.read_text()
    assert text.count("data:image/png;base64,") == 5
    assert "http://" not in text and "https://" not in text.replace("https://articles.test", "")
    order = [
        text.index(h) for h in ("Verdict:", "<h2>Arms", "<h2>Comparisons", "<h2>Plots", "<h2>Method notes")
    ]
    assert order == sorted(order)


def test_html_shows_the_stored_nights_as_a_plot_and_a_table(
    small_comparison: Comparison, tmp_path: Path
) -> None:
    night = json.loads(to_json(small_comparison))
    later = {**night, "generated_at": "2026-01-22T01:30:00+00:00"}
    text = to_html(small_comparison, tmp_path / "r.html", history=[night, later]).read_text()
    assert text.count("data:image/png;base64,") == 6
    assert "<h2>Night by night" in text and "2026-01-22T01:30" in text


def test_markdown_reads_verdict_arms_comparisons_in_order(small_comparison: Comparison) -> None:
    text = to_markdown(small_comparison, history=[json.loads(to_json(small_comparison))])
    order = [
        text.index(h)
        for h in ("## Verdict", "## Arms", "## Comparisons", "## Night by night", "## Method notes")
    ]
    assert order == sorted(order)


def test_plots_are_the_five_report_figures(small_comparison: Comparison) -> None:
    import matplotlib.pyplot as plt

    figures = small_comparison.plots()
    assert list(figures) == ["latency_ecdf", "forest", "daily", "assignments", "error_kinds"]
    assert figures["latency_ecdf"].axes[0].get_xscale() == "log"
    for fig in figures.values():
        plt.close(fig)


@pytest.mark.parametrize(
    "spec",
    [
        TrialSpec(days=3, open_rate=1.0),
        TrialSpec(days=3, arms=("legacy",)),
        TrialSpec(
            days=3, arms=("pgboss", "inngest", "legacy"), shares={"legacy": 0.0, "pgboss": 1, "inngest": 1}
        ),
        TrialSpec(days=5, failure_rate=1.0),
        TrialSpec(days=1, jobs_per_day=5),
    ],
    ids=["all-open", "control-only", "control-empty", "all-failed", "five-jobs"],
)
def test_degenerate_trials_are_insufficient_data_not_errors(spec: TrialSpec) -> None:
    c = compare(synthetic_trial(spec, rng=np.random.default_rng(6)))
    assert c.verdict.status == "insufficient_data"
    assert c.verdict.reasons[0].startswith("Not enough data yet")
    assert json.loads(to_json(c))["verdict"]["status"] == "insufficient_data"


def _forecast_body(median: float | None, low: float | None, high: float | None) -> dict[str, object]:
    return {
        "median": median,
        "interval_80": [low, high],
        "probability_within": {"14": 0.1, "30": 0.35, "60": 0.6, "90": 0.8},
        "probability_within_365": 0.95,
        "no_decision_in_sight": False,
        "needed_jobs_per_arm_per_day": None,
    }


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        (
            _forecast_body(70, 30, 150),
            "about 70 more days (80%: 30-150); 35% chance of a decision within 30 days",
        ),
        (_forecast_body(1, 1, 3), "about 1 more day (80%: 1-3); 35% chance"),
        (_forecast_body(None, 400, None), "more than 1095 more days (80%: 400-over 1095)"),
    ],
    ids=["issue-example", "one-day", "beyond-horizon"],
)
def test_the_wait_is_said_as_the_issue_shows_in_good_english(body: dict[str, object], phrase: str) -> None:
    from bakeoff.analysis.verdict import wait_sentence

    assert phrase in wait_sentence(body, 94.0)


def test_no_decision_in_sight_names_the_traffic_that_would_bring_one() -> None:
    from bakeoff.analysis.verdict import wait_sentence

    body = {**_forecast_body(None, None, None), "no_decision_in_sight": True, "probability_within_365": 0.04}
    body["needed_jobs_per_arm_per_day"] = 123.4
    sentence = wait_sentence(body, 2.0)
    assert "no decision in sight (4% chance within 365 days)" in sentence
    assert "about 123 jobs per arm per day would bring one within 90 days" in sentence
