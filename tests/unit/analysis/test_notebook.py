"""notebooks/comparison.ipynb runs end to end (nbclient, kernel python3) on a synthetic trial export."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from bakeoff.analysis import TrialSpec, synthetic_trial
from bakeoff.metrics import columns as col

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "comparison.ipynb"


@pytest.mark.slow
def test_notebook_reproduces_the_report_on_a_synthetic_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "trial.csv"
    df = synthetic_trial(TrialSpec(days=14, jobs_per_day=30), rng=np.random.default_rng(8))
    df[list(col.STORED_COLUMNS)].to_csv(export, index=False)
    monkeypatch.setenv("BAKEOFF_NOTEBOOK_INPUT", str(export))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"{len(df)} jobs" in text
    assert "insufficient_data" in text and "# bakeoff report: article-import, phase 1" in text
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) >= 5
    assert os.environ["BAKEOFF_NOTEBOOK_INPUT"] == str(export)
