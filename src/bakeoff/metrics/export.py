"""Export and load the trial: ``bakeoff.trial_jobs`` as CSV, Parquet or a pandas DataFrame.

The analysis reads this format from the database or from a file, so a report can be rebuilt from an
export alone. Derived columns (``queue_wait_ms``, ``run_time_ms``, ``latency_ms``) are computed on
load, never stored.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from sqlalchemy import Engine, text

from bakeoff.contract import ConfigurationError
from bakeoff.metrics import columns as col
from bakeoff.metrics.queries import QUERIES

__all__ = ["add_derived_columns", "export_trial", "load_trial", "read_export"]

ExportFormat = Literal["csv", "parquet"]


def _ms_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.total_seconds() * 1000.0


def add_derived_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``queue_wait_ms``, ``run_time_ms`` and ``latency_ms`` (NaN where a stamp is missing)."""
    out = df.copy()
    for name in col.TIMESTAMP_COLUMNS:
        out[name] = pd.to_datetime(out[name], utc=True, format="ISO8601")
    out[col.QUEUE_WAIT_MS] = _ms_between(out[col.STARTED_AT], out[col.SUBMITTED_AT])
    out[col.RUN_TIME_MS] = _ms_between(out[col.FINISHED_AT], out[col.STARTED_AT])
    out[col.LATENCY_MS] = _ms_between(out[col.FINISHED_AT], out[col.SUBMITTED_AT])
    return out


def _from_database(
    engine: Engine, experiment: str | None, phase: int | None, since: datetime | None, until: datetime | None
) -> pd.DataFrame:
    params = {"experiment": experiment, "phase": phase, "since": since, "until": until}
    with engine.connect() as conn:
        result = conn.execute(text(QUERIES["select_trial_jobs"]), params)
        df = pd.DataFrame(result.all(), columns=list(col.STORED_COLUMNS))
    for name in (col.TRIAL_JOB_ID, col.DOCUMENT_ID):
        df[name] = df[name].map(lambda v: None if v is None else str(v)).astype("object")
    return df


def read_export(path: str | Path) -> pd.DataFrame:
    """Read an export file (CSV or Parquet, by extension) with the stored columns only."""
    path = Path(path)
    if not path.exists():
        raise ConfigurationError(f"export file not found: {path}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype={col.TRIAL_JOB_ID: "string", col.DOCUMENT_ID: "string"})
    except Exception as exc:  # pandas/pyarrow raise many types for a corrupt file
        raise ConfigurationError(f"cannot read export {path}: {type(exc).__name__}: {exc}") from exc
    missing = [c for c in col.STORED_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigurationError(f"export {path} lacks columns: {', '.join(missing)}")
    return df[list(col.STORED_COLUMNS)]


def load_trial(
    source: Engine | str | Path,
    *,
    experiment: str | None = None,
    phase: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pd.DataFrame:
    """The trial as a DataFrame with the contract's columns plus the derived durations in ms.

    ``source`` is an engine (reads ``bakeoff.trial_jobs``) or the path of an export file.
    """
    if isinstance(source, Engine):
        df = _from_database(source, experiment, phase, since, until)
    else:
        df = read_export(source)
        if experiment is not None:
            df = df[df[col.EXPERIMENT] == experiment]
        if phase is not None:
            df = df[df[col.PHASE] == phase]
    df = add_derived_columns(df)
    if not isinstance(source, Engine):
        if since is not None:
            df = df[df[col.SUBMITTED_AT] >= pd.Timestamp(since)]
        if until is not None:
            df = df[df[col.SUBMITTED_AT] < pd.Timestamp(until)]
    return df.reset_index(drop=True)


def export_trial(engine: Engine, out: str | Path, fmt: ExportFormat, **filters: object) -> int:
    """Write the trial's stored columns to ``out``; returns the number of rows written."""
    df = load_trial(engine, **filters)  # type: ignore[arg-type]
    stored = df[list(col.STORED_COLUMNS)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        stored.to_csv(out, index=False, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    elif fmt == "parquet":
        stored.to_parquet(out, index=False)
    else:
        raise ConfigurationError(f"unknown export format {fmt!r}; use csv or parquet")
    return len(stored)
