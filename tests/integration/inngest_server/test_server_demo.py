"""``bakeoff demo --inngest-transport http``: the demo's inngest arm runs through the official-SDK app."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bakeoff.trial.demo import DemoOptions, run_demo
from bakeoff.trial.runner import TrialConfig

pytestmark = pytest.mark.integration


def test_demo_runs_the_inngest_arm_over_http_and_the_report_says_so(engine: Engine, tmp_path: Path) -> None:
    """An A/A demo on the inngest arm over HTTP: every job ends, steps carry the SDK's hashed ids."""
    options = DemoOptions(
        trial=TrialConfig(imports=12, rate=30, seed=3, concurrency=2, deadline_seconds=60),
        profile="none",
        out=tmp_path / "report",
        aa_backend="inngest",
        latency_scale=0.1,
        inngest_transport="http",
    )
    result = run_demo(engine, options)

    assert result.all_terminal and result.submit_errors == []
    assert result.documents["completed_with_document"] == result.documents["completed"] == 12
    assert any("ran over HTTP" in note for note in result.notes)
    assert "ran over HTTP" in (tmp_path / "report" / "report.md").read_text()
    with engine.connect() as conn:
        steps = conn.execute(text("SELECT step_id, step_key, hashed_id FROM inngest.steps")).all()
    assert {s.step_id for s in steps} == {"fetch", "extract", "save"}
    assert all(s.step_key == s.hashed_id and len(s.hashed_id) == 40 for s in steps)
