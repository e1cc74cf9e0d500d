"""The analysis part's database edge: configured shares, observations, and the stored reports.

Every query lives in ``bakeoff/analysis/queries.sql`` and runs by name with bound parameters.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import Engine, text

from bakeoff.analysis.errors import AnalysisInputError
from bakeoff.analysis.observations import OBSERVATION_COLUMNS
from bakeoff.db.sql import load_queries

__all__ = [
    "QUERIES",
    "configured_shares",
    "latest_phase",
    "load_observations",
    "report_history",
    "store_report",
]

QUERIES = load_queries("bakeoff.analysis")


def configured_shares(engine: Engine, experiment: str, phase: int) -> dict[str, float] | None:
    """``{arm: weight}`` configured for the phase, in the experiment's arm order; ``None`` if unknown."""
    with engine.connect() as conn:
        row = conn.execute(
            text(QUERIES["select_phase_shares"]), {"experiment": experiment, "phase": phase}
        ).first()
    if row is None:
        return None
    arms, weights = list(row.arms), [float(w) for w in row.weights]
    if len(arms) != len(weights):
        raise AnalysisInputError(
            f"experiment {experiment!r} phase {phase}: {len(arms)} arms but {len(weights)} weights"
        )
    return dict(zip(arms, weights, strict=True))


def latest_phase(engine: Engine, experiment: str) -> int | None:
    """The experiment's newest phase that has jobs."""
    with engine.connect() as conn:
        value = conn.execute(text(QUERIES["select_latest_phase"]), {"experiment": experiment}).scalar()
    return None if value is None else int(value)


def load_observations(engine: Engine, experiment: str) -> pd.DataFrame:
    """The experiment's qualitative observations as a DataFrame."""
    with engine.connect() as conn:
        rows = conn.execute(text(QUERIES["select_observations"]), {"experiment": experiment}).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(OBSERVATION_COLUMNS))


def store_report(engine: Engine, body: dict[str, Any]) -> int:
    """Insert one report's JSON (already free of NaN) into ``bakeoff.reports``; returns its id."""
    params = {
        "experiment": body["experiment"],
        "phase": body["phase"],
        "verdict": body["verdict"]["status"],
        "body": json.dumps(body, allow_nan=False),
    }
    with engine.begin() as conn:
        return int(conn.execute(text(QUERIES["insert_report"]), params).scalar_one())


def report_history(engine: Engine, experiment: str, phase: int, limit: int = 60) -> list[dict[str, Any]]:
    """Up to ``limit`` most recent stored reports of the phase, oldest first."""
    params = {"experiment": experiment, "phase": phase, "limit": limit}
    with engine.connect() as conn:
        rows = conn.execute(text(QUERIES["select_report_history"]), params).all()
    return [dict(r.body) for r in reversed(rows)]
