"""The report's new sections from a real database: guardrail, cost and setup effort."""

from __future__ import annotations

from sqlalchemy import Engine

from bakeoff.analysis import compare, load_trial, to_json, to_markdown
from bakeoff.analysis.compare import SCHEMA_VERSION
from bakeoff.analysis.sections import collect_sections
from bakeoff.analysis.setup_effort import FIRST_JOB_KIND, database_objects
from bakeoff.metrics import Recorder
from bakeoff.router import Experiment, ExperimentStore
from bakeoff.testing import record_routed_job

NAME = "sections"


def _trial(engine: Engine) -> None:
    ExperimentStore(engine).create(Experiment(name=NAME))
    recorder = Recorder(engine)
    with engine.begin() as conn:
        for arm in ("legacy", "pgboss", "inngest"):
            for index in range(25):
                job = record_routed_job(
                    engine,
                    NAME,
                    arm=arm,
                    unit_key=f"{arm}-{index}",
                    url=f"https://articles.test/{arm}/{index}",
                    conn=conn,
                )
                recorder.attempt_started(job, 1, conn=conn)
                recorder.finished(job, "completed", conn=conn)


def test_database_objects_are_counted_from_the_catalog(engine: Engine) -> None:
    legacy = database_objects(engine, "legacy")
    assert legacy["tables"] == 1 and legacy["indexes"] >= 2
    assert database_objects(engine, "pgboss")["functions"] > 0
    assert database_objects(engine, "no_such_schema") == {
        "tables": 0,
        "indexes": 0,
        "functions": 0,
        "triggers": 0,
    }


def test_the_report_carries_every_section_as_a_top_level_key(engine: Engine) -> None:
    _trial(engine)
    Recorder(engine).observe(arm="pgboss", kind=FIRST_JOB_KIND, value=0.5, experiment=NAME, note="bench")
    Recorder(engine).observe(arm="pgboss", kind="setup_minutes", value=45, experiment=NAME, note="docs")
    sections = collect_sections(engine, NAME)
    assert set(sections) == {"guardrail", "cost", "setup_effort", "consistency"}
    assert all("error" not in s for s in sections.values()), sections
    assert sections["guardrail"]["settings"]["enabled"] is False
    assert len(sections["guardrail"]["checks"]) == 4
    setup = {a["arm"]: a for a in sections["setup_effort"]["arms"]}
    assert setup["pgboss"]["seconds_to_first_job"] == 0.5
    assert setup["legacy"]["seconds_to_first_job"] is None
    assert "pgboss: setup_minutes = 45 (docs)" in sections["setup_effort"]["notes"]
    assert {p["multiplier"] for p in sections["cost"]["projections"]} == {1, 10, 100}

    comparison = compare(load_trial(engine, experiment=NAME), experiment=NAME)
    from dataclasses import replace

    comparison = replace(comparison, sections=sections)
    body = comparison.to_dict()
    assert {"guardrail", "cost", "setup_effort"} <= set(body) and body["schema_version"] == SCHEMA_VERSION
    assert '"setup_effort"' in to_json(comparison)
    markdown = to_markdown(comparison)
    assert (
        markdown.index("## Guardrail")
        < markdown.index("## Cost projection")
        < markdown.index("## Method notes")
    )


def test_a_section_that_cannot_be_measured_says_why_instead_of_failing(engine: Engine) -> None:
    sections = collect_sections(engine, "never-created")
    assert "does not exist" in sections["guardrail"]["error"]
    assert "no trial jobs" in sections["cost"]["error"]
    assert sections["consistency"]["arms"] == []  # nothing checked: an empty section, not an error
