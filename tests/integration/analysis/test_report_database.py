"""The report against a real PostgreSQL: configured shares, observations, stored reports, and the
``bakeoff report`` CLI in a subprocess (JSON to stdout, exit 3 on an invalid verdict)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from bakeoff.analysis import TrialSpec, compare, load_trial, synthetic_trial
from bakeoff.analysis.render import clean_json
from bakeoff.analysis.store import configured_shares, load_observations, report_history, store_report
from bakeoff.cli import main
from bakeoff.db.schema import experiment_phases, experiments, observations, trial_jobs
from bakeoff.metrics import columns as col

EXPERIMENT = "article-import"


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    stored = df[list(col.STORED_COLUMNS)].astype(object).where(df[list(col.STORED_COLUMNS)].notna(), None)
    rows = stored.to_dict("records")
    for row in rows:
        for name in col.TIMESTAMP_COLUMNS:
            row[name] = None if row[name] is None else row[name].to_pydatetime()
        row[col.ATTEMPTS] = int(row[col.ATTEMPTS])
        row[col.PHASE] = int(row[col.PHASE])
    return rows


def seed_database(engine: Engine, df: pd.DataFrame, weights: list[float]) -> None:
    with engine.begin() as conn:
        conn.execute(
            experiments.insert(),
            {"name": EXPERIMENT, "arms": ["legacy", "pgboss", "inngest"], "weights": weights,
             "control": "legacy", "salt": "s1"},
        )  # fmt: skip
        conn.execute(
            experiment_phases.insert(),
            {"experiment": EXPERIMENT, "phase": 1, "weights": weights, "salt": "s1"},
        )
        conn.execute(trial_jobs.insert(), _records(df))
        conn.execute(
            observations.insert(),
            [{"arm": "pgboss", "kind": "setup_minutes", "value": 45.0, "note": "docker compose"},
             {"arm": "inngest", "kind": "satisfaction", "value": 4.0, "note": ""}],
        )  # fmt: skip


def run_cli(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BAKEOFF_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "bakeoff", "report", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


def test_shares_observations_and_report_history_round_trip(engine: Engine) -> None:
    df = synthetic_trial(TrialSpec(days=10, jobs_per_day=30), rng=np.random.default_rng(1))
    seed_database(engine, df, [2.0, 1.0, 1.0])
    assert configured_shares(engine, EXPERIMENT, 1) == {"legacy": 2.0, "pgboss": 1.0, "inngest": 1.0}
    assert configured_shares(engine, EXPERIMENT, 9) is None
    obs = load_observations(engine, EXPERIMENT)
    assert sorted(obs["arm"]) == ["inngest", "pgboss"]
    loaded = load_trial(engine, experiment=EXPERIMENT)
    comparison = compare(loaded, shares=configured_shares(engine, EXPERIMENT, 1), observations=obs)
    assert comparison.srm["mismatch"], "equal-share data against 2:1:1 weights is a mismatch"
    assert comparison.observations["pgboss"]["setup_minutes"]["total"] == 45.0
    first = store_report(engine, clean_json(comparison.to_dict()))
    second = store_report(engine, clean_json(comparison.to_dict()))
    assert second > first
    history = report_history(engine, EXPERIMENT, 1)
    assert [h["verdict"]["status"] for h in history] == ["invalid", "invalid"]
    assert history[0]["arms"]["legacy"]["assigned"] == comparison.arms["legacy"].assigned


def test_cli_report_json_from_database_stores_it_and_exits_3_when_invalid(
    engine: Engine, database_url: str
) -> None:
    df = synthetic_trial(TrialSpec(days=10, jobs_per_day=30), rng=np.random.default_rng(2))
    seed_database(engine, df, [2.0, 1.0, 1.0])
    result = run_cli(["--format", "json"], database_url)
    assert result.returncode == 3, result.stderr
    body = json.loads(result.stdout)
    assert body["verdict"]["status"] == "invalid" and body["srm"]["expected_share"]["legacy"] == 0.5
    assert len(report_history(engine, EXPERIMENT, 1)) == 1


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``bakeoff report ...`` through the real entry point, in-process (a subprocess costs seconds
    of imports on a loaded machine; the database test above covers the subprocess path)."""
    with pytest.raises(SystemExit) as exited:
        main(["--database-url", "postgresql://nobody@127.0.0.1:1/none", "report", *args])
        raise SystemExit(0)
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def test_cli_report_from_export_file_needs_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = synthetic_trial(TrialSpec(days=10, jobs_per_day=30), rng=np.random.default_rng(3))
    export = tmp_path / "trial.parquet"
    df[list(col.STORED_COLUMNS)].to_parquet(export, index=False)
    code, out, err = run_main(["--input", str(export), "--format", "md"], capsys)
    assert code == 0, err
    assert out.startswith("# bakeoff report: article-import, phase 1")
    html_out = tmp_path / "r.html"
    code, _, err = run_main(["--input", str(export), "--format", "html", "--out", str(html_out)], capsys)
    assert code == 0, err
    assert html_out.read_text().startswith("<!doctype html>")
    code, out, _ = run_main(["--input", str(export), "--shares", "legacy=3,pgboss=1,inngest=1"], capsys)
    assert code == 3 and json.loads(out)["verdict"]["status"] == "invalid"


def test_cli_bad_input_is_one_clear_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = synthetic_trial(TrialSpec(days=3, jobs_per_day=30), rng=np.random.default_rng(4))
    export = tmp_path / "trial.csv"
    df[list(col.STORED_COLUMNS)].to_csv(export, index=False)
    empty = tmp_path / "empty.csv"
    df[list(col.STORED_COLUMNS)].iloc[0:0].to_csv(empty, index=False)
    cases = [
        (["--input", str(export), "--phase", "4"], "phase 4 does not exist"),
        (["--input", str(empty)], "empty"),
        (["--input", str(tmp_path / "missing.csv")], "not found"),
        (["--input", str(export), "--shares", "legacy=x"], "--shares"),
    ]
    for args, fragment in cases:
        code, _, err = run_main(args, capsys)
        assert code in (1, 2), (args, err)
        assert fragment in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
