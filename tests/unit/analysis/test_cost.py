"""The cost projection: plans chosen by executions, money only where a price is set, assumptions shown."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from bakeoff.analysis import AnalysisInputError
from bakeoff.analysis.cost import DEFAULT_PRICING, ArmUsage, Usage, load_pricing, project
from bakeoff.analysis.sections import cost_text, sections_markdown

USAGE = Usage(
    experiment="article-import",
    jobs_per_day=30.0,
    span_days=10.0,
    total_jobs=300,
    pg_stat_statements=False,
    arms=(
        ArmUsage(
            arm="inngest",
            jobs=100,
            finished=100,
            attempts=330,
            retries=30,
            executions=430,
            function_runs=100,
            step_executions=330,
            cpu_seconds=5.0,
            jobs_with_cpu=100,
            cpu_scope="thread",
            rows_written_per_job=20.0,
            storage_bytes=10_000_000,
            retained_jobs=100,
        ),
        ArmUsage(
            arm="legacy",
            jobs=100,
            finished=100,
            attempts=110,
            retries=10,
            cpu_seconds=40.0,
            jobs_with_cpu=100,
        ),
    ),
)


def _figure(projection: object, arm: str, multiplier: int, name: str) -> dict[str, object]:
    body = projection.to_dict()  # type: ignore[attr-defined]
    [p] = [p for p in body["projections"] if p["arm"] == arm and p["multiplier"] == multiplier]
    [f] = [f for f in p["figures"] if f["name"] == name]
    return f  # type: ignore[no-any-return]


def test_the_shipped_pricing_file_is_dated_and_names_its_source() -> None:
    pricing = load_pricing()
    assert pricing.date == "2026-12-05"
    assert "inngest.com" in pricing.source
    assert [(p.name, p.included_executions) for p in pricing.plans] == [
        ("Free", 50_000),
        ("Pro", 1_000_000),
        ("Business", 10_000_000),
    ]
    assert pricing.vcpu_hour_price is None and pricing.extra_executions_price_per_million is None


def test_executions_pick_the_smallest_plan_that_includes_them() -> None:
    projection = project(USAGE, load_pricing())
    # 4.3 executions per job x 30 jobs/day x 30.44 days = 3,927 a month, then 10x and 100x.
    x1 = _figure(projection, "inngest", 1, "inngest_executions")
    assert x1["value"] == pytest.approx(4.3 * 30 * 30.44)
    assert "(Free)" in str(x1["unit"]) and x1["cost"] == 0
    x100 = _figure(projection, "inngest", 100, "inngest_executions")
    assert "(Pro)" in str(x100["unit"]) and x100["cost"] is None
    assert "Pro's price not set" in str(x100["assumption"])


def test_money_appears_only_for_prices_the_user_set(tmp_path: Path) -> None:
    body = json.loads(resources.files("bakeoff.analysis").joinpath(DEFAULT_PRICING).read_text())
    body["vcpu_hour_price"] = 0.05
    body["inngest_plans"][1]["monthly_price"] = 75
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(body))
    projection = project(USAGE, load_pricing(path))
    cpu = _figure(projection, "legacy", 10, "worker_cpu")
    hours = 0.4 * 30 * 30.44 * 10 / 3600
    assert cpu["value"] == pytest.approx(hours)
    assert cpu["cost"] == pytest.approx(hours * 0.05)
    assert _figure(projection, "inngest", 100, "inngest_executions")["cost"] == 75
    assert _figure(projection, "inngest", 1, "storage")["cost"] is None


def test_every_figure_carries_its_assumption_and_the_text_prints_it_beside_it() -> None:
    body = project(USAGE, load_pricing()).to_dict()
    assert all(f["assumption"] for p in body["projections"] for f in p["figures"])
    text = cost_text(body)
    assert "<- 50.0 ms CPU per job measured (thread CPU" in text
    assert "Volume: 300 jobs over 10.0 days = 30.0 jobs/day" in text
    assert "## Cost projection" in sections_markdown({"cost": body})


def test_an_arm_without_cpu_measurements_says_so() -> None:
    usage = Usage(
        experiment="x",
        jobs_per_day=1.0,
        span_days=1.0,
        total_jobs=1,
        pg_stat_statements=False,
        arms=(ArmUsage(arm="pgboss", jobs=1, finished=1, attempts=1, retries=0),),
    )
    figure = _figure(project(usage, load_pricing()), "pgboss", 1, "worker_cpu")
    assert figure["value"] is None and "no attempt recorded its CPU" in str(figure["assumption"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read pricing file"),
        ('{"date": "2026-01-01", "source": "x"}', "inngest_plans"),
        (
            '{"date": "d", "source": "s", "inngest_plans": [], "vcpu_hour_price": -1}',
            "vcpu_hour_price must be a non-negative number",
        ),
    ],
)
def test_a_bad_pricing_file_is_an_error_naming_the_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(AnalysisInputError, match=message):
        load_pricing(path)
