"""Checking and slicing the export DataFrame before any statistic is computed.

Misuse (missing columns, an empty export, a phase that does not exist, several experiments mixed)
raises :class:`AnalysisInputError` naming the problem. Broken rows (NaNs where a value is required,
negative durations, arms the experiment does not have, unknown outcomes) are *findings*: they are
returned as plain-language reasons that make the verdict ``invalid``, and the bad values are kept out
of the statistics so no number is silently wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bakeoff.analysis.errors import AnalysisInputError
from bakeoff.metrics import columns as col

__all__ = ["DURATION_COLUMNS", "PreparedTrial", "check_columns", "prepare"]

logger = logging.getLogger(__name__)

DURATION_COLUMNS = (col.LATENCY_MS, col.QUEUE_WAIT_MS, col.RUN_TIME_MS)
REQUIRED_COLUMNS = (
    col.EXPERIMENT,
    col.PHASE,
    col.ASSIGNED_ARM,
    col.SERVED_ARM,
    col.SUBMITTED_AT,
    col.FINISHED_AT,
    col.ATTEMPTS,
    col.OUTCOME,
    col.ERROR_KIND,
    *DURATION_COLUMNS,
)


@dataclass(frozen=True, kw_only=True)
class PreparedTrial:
    """One experiment's phase, with the analysis arm chosen and durations cleaned."""

    experiment: str
    phase: int
    frame: pd.DataFrame
    problems: tuple[str, ...]
    notes: tuple[str, ...]


def check_columns(df: pd.DataFrame) -> None:
    """Raise naming every required column the frame lacks."""
    missing = [name for name in REQUIRED_COLUMNS if name not in df.columns]
    if missing:
        raise AnalysisInputError(
            f"the trial data lacks columns: {', '.join(missing)} (load it with bakeoff.analysis.load_trial)"
        )


def _only_experiment(df: pd.DataFrame) -> str:
    names = sorted(str(v) for v in df[col.EXPERIMENT].dropna().unique())
    if len(names) != 1:
        raise AnalysisInputError(
            f"experiment: the data holds {len(names)} experiments ({', '.join(names) or 'none named'}); "
            "choose one with experiment="
        )
    return names[0]


def _choose_phase(df: pd.DataFrame, phase: int | None) -> tuple[int, list[str]]:
    phases = sorted(int(p) for p in pd.to_numeric(df[col.PHASE], errors="coerce").dropna().unique())
    if not phases:
        raise AnalysisInputError("phase: no row has a phase number")
    if phase is not None:
        if phase not in phases:
            raise AnalysisInputError(
                f"phase {phase} does not exist; phases present: {', '.join(map(str, phases))}"
            )
        return phase, []
    chosen = phases[-1]
    notes = []
    if len(phases) > 1:
        others = ", ".join(str(p) for p in phases[:-1])
        notes.append(
            f"Phases are analysed apart, never pooled: this is phase {chosen} (also present: {others})."
        )
    return chosen, notes


def _arm_problems(frame: pd.DataFrame, arm_column: str, arms: Sequence[str]) -> list[str]:
    problems = []
    for column in (col.ASSIGNED_ARM, arm_column):
        missing = int(frame[column].isna().sum())
        if missing:
            problems.append(f"{missing} jobs have no {column}.")
    present = {str(a) for a in frame[col.ASSIGNED_ARM].dropna().unique()}
    present |= {str(a) for a in frame[arm_column].dropna().unique()}
    unknown = sorted(str(a) for a in present - set(arms))
    if unknown:
        problems.append(
            f"Jobs were assigned to arm(s) {', '.join(unknown)} that the experiment does not have "
            f"(arms: {', '.join(arms)})."
        )
    return problems


def _outcome_problems(frame: pd.DataFrame) -> list[str]:
    problems = []
    known = frame[col.OUTCOME].isna() | frame[col.OUTCOME].isin(col.OUTCOMES)
    if (~known).any():
        bad = sorted(str(v) for v in frame.loc[~known, col.OUTCOME].unique())
        problems.append(f"{int((~known).sum())} jobs have an unknown outcome ({', '.join(bad)}).")
    finished = frame[col.OUTCOME].isin(col.OUTCOMES)
    no_finish = finished & frame[col.FINISHED_AT].isna()
    if no_finish.any():
        problems.append(f"{int(no_finish.sum())} finished jobs have no finished_at.")
    completed = frame[col.OUTCOME] == "completed"
    no_latency = completed & frame[col.LATENCY_MS].isna()
    if no_latency.any():
        problems.append(f"{int(no_latency.sum())} completed jobs have no latency (a timestamp is missing).")
    if frame[col.SUBMITTED_AT].isna().any():
        problems.append(f"{int(frame[col.SUBMITTED_AT].isna().sum())} jobs have no submitted_at.")
    return problems


def _clean_durations(frame: pd.DataFrame) -> list[str]:
    """Blank out negative and non-finite durations (in place) and say how many there were."""
    problems = []
    for name in DURATION_COLUMNS:
        values = pd.to_numeric(frame[name], errors="coerce").astype(float)
        negative = values < 0
        infinite = np.isinf(values)
        if negative.any():
            problems.append(f"{int(negative.sum())} jobs have a negative {name} (clock or stamping error).")
        frame[name] = values.mask(negative | infinite)
    return problems


def prepare(
    df: pd.DataFrame,
    *,
    arms: Sequence[str],
    analysis: str,
    phase: int | None = None,
    experiment: str | None = None,
) -> PreparedTrial:
    """Validate ``df`` and return one experiment's phase with the analysis arm in column ``arm``."""
    check_columns(df)
    if experiment is not None:
        df = df[df[col.EXPERIMENT] == experiment]
    if df.empty:
        raise AnalysisInputError("the trial data is empty: no jobs to analyse (check the filters)")
    name = _only_experiment(df)
    chosen, notes = _choose_phase(df, phase)
    # Only the columns the analysis reads: a million-row frame with its URLs and messages would make
    # every per-arm row selection copy hundreds of megabytes of strings.
    in_phase = pd.to_numeric(df[col.PHASE], errors="coerce") == chosen
    frame = df.loc[in_phase, list(REQUIRED_COLUMNS)].copy()
    arm_column = col.SERVED_ARM if analysis == "per_protocol" else col.ASSIGNED_ARM
    frame["arm"] = frame[arm_column]
    problems = _arm_problems(frame, arm_column, arms) + _outcome_problems(frame) + _clean_durations(frame)
    frame[col.ATTEMPTS] = pd.to_numeric(frame[col.ATTEMPTS], errors="coerce")
    for problem in problems:
        logger.warning("trial data problem: %s", problem, extra={"experiment": name, "phase": chosen})
    return PreparedTrial(
        experiment=name,
        phase=chosen,
        frame=frame.reset_index(drop=True),
        problems=tuple(problems),
        notes=tuple(notes),
    )
