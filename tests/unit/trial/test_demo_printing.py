"""The demo's terminal output: the live progress table, then the per-arm table and the verdict."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bakeoff.trial.cli import print_outcome, run_with_progress
from bakeoff.trial.demo import DemoResult
from bakeoff.trial.runner import ArmProgress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
"""Cursor and style escapes a terminal console writes; invisible, so not part of the layout."""


def _result() -> DemoResult:
    summary = {"assigned": 10, "completed": 9, "failed": 1, "open": 0, "failure_rate": 0.1}
    return DemoResult(
        experiment="demo-test",
        all_terminal=True,
        interrupted=False,
        progress={},
        submitted=30,
        submissions_by_arm={},
        documents={},
        submit_errors=[],
        open_jobs=[],
        report_paths={"html": Path("report.html")},
        verdict={"status": "insufficient_data", "winner": None, "reasons": ["Not enough data yet."]},
        arms_summary=[
            {"arm": arm, **summary, "p50_ms": 900.0, "p95_ms": 2100.0} for arm in ("legacy", "pgboss")
        ],
        elapsed_seconds=12.0,
    )


@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "terminal"])
def test_the_per_arm_table_title_starts_its_own_line_after_the_live_table(terminal: bool) -> None:
    """Issue 19: off a terminal, "per arm" was printed on the live table's closing border line."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=100, color_system=None)

    def run(on_progress: Any) -> DemoResult:
        on_progress({"legacy": ArmProgress(arm="legacy", submitted=3, finished=2, completed=2, failed=0)}, 3)
        return _result()

    result = run_with_progress(console, 30, run, transient=False)
    print_outcome(console, result)
    lines = ANSI.sub("", out.getvalue()).splitlines()
    title = next(i for i, line in enumerate(lines) if "per arm" in line)
    assert lines[title].strip() == "per arm"
    border = max(i for i in range(title) if "┘" in lines[i])
    assert lines[border].rstrip().endswith("┘") and "per arm" not in lines[border]
    assert "verdict: insufficient_data" in out.getvalue()
