"""Writing a trial's report files (HTML, Markdown, JSON and plots) through the analysis API."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

__all__ = ["ReportFiles", "write_report"]


@dataclass(frozen=True, kw_only=True)
class ReportFiles:
    paths: dict[str, Path]
    verdict: dict[str, Any]
    arms_summary: list[dict[str, Any]]


def _arms_summary(body: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for arm, stats in body.get("arms", {}).items():
        latency = stats.get("latency_ms") or {}
        rows.append(
            {
                "arm": arm,
                "assigned": stats.get("assigned"),
                "completed": stats.get("completed"),
                "failed": stats.get("failed"),
                "open": stats.get("open"),
                "failure_rate": stats.get("failure_rate"),
                "p50_ms": latency.get("p50"),
                "p95_ms": latency.get("p95"),
            }
        )
    return rows


def write_report(
    engine: Engine, experiment: str, out: Path, *, control: str = "legacy", notes: Sequence[str] = ()
) -> ReportFiles:
    """Compare the arms of ``experiment`` and write the report files and plots to ``out``.

    The report is built exactly as ``bakeoff report`` builds it (newest phase, configured shares,
    observations beside the numbers) and its JSON is stored in ``bakeoff.reports``. ``notes`` (how
    the run was set up, where that bears on the numbers) are listed under the verdict.
    """
    import matplotlib.pyplot as plt

    from bakeoff.analysis import compare, load_trial, to_html, to_json, to_markdown
    from bakeoff.analysis.store import configured_shares, latest_phase, load_observations, store_report

    out.mkdir(parents=True, exist_ok=True)
    phase = latest_phase(engine, experiment)
    comparison = compare(
        load_trial(engine, experiment=experiment),
        control=control,
        experiment=experiment,
        phase=phase,
        shares=configured_shares(engine, experiment, phase) if phase is not None else None,
        observations=load_observations(engine, experiment),
    )
    from bakeoff.analysis.sections import collect_sections

    comparison = replace(
        comparison, notes=(*comparison.notes, *notes), sections=collect_sections(engine, experiment)
    )
    body = json.loads(to_json(comparison))
    store_report(engine, body)
    paths = {"html": out / "report.html", "markdown": out / "report.md", "json": out / "report.json"}
    to_html(comparison, paths["html"])
    paths["markdown"].write_text(to_markdown(comparison), encoding="utf-8")
    paths["json"].write_text(json.dumps(body, indent=2), encoding="utf-8")
    for name, figure in comparison.plots().items():
        paths[f"plot_{name}"] = out / f"{name}.png"
        figure.savefig(paths[f"plot_{name}"], dpi=110, bbox_inches="tight")
        plt.close(figure)
    return ReportFiles(paths=paths, verdict=body["verdict"], arms_summary=_arms_summary(body))
