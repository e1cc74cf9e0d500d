"""Qualitative criteria (setup time, debugging minutes, satisfaction, maintenance incidents).

They come from ``bakeoff.observations`` (entered with ``bakeoff observe``) and are summarised per
arm beside the statistics, never mixed into them: a handful of self-reported numbers is context
for the decision, not evidence the tests can weigh.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["OBSERVATION_COLUMNS", "summarise_observations"]

OBSERVATION_COLUMNS = ("arm", "kind", "value", "note", "recorded_by", "at")


def _kind_summary(values: pd.Series) -> dict[str, float | int]:
    return {
        "count": len(values),
        "total": float(values.sum()),
        "mean": float(values.mean()),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def summarise_observations(observations: pd.DataFrame | None, arms: Sequence[str]) -> dict[str, Any]:
    """``{arm: {kind: {count, total, mean, min, max}, "notes": [...]}}``; empty arms map to ``{}``."""
    summary: dict[str, Any] = {arm: {} for arm in arms}
    if observations is None or observations.empty:
        return summary
    frame = observations.copy()
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame = frame.dropna(subset=["arm", "kind", "value"])
    for (arm, kind), group in frame.groupby(["arm", "kind"], sort=True):
        summary.setdefault(str(arm), {})[str(kind)] = _kind_summary(group["value"])
    if "note" in frame.columns:
        for arm, group in frame.groupby("arm", sort=True):
            notes = [str(n) for n in group["note"].fillna("") if str(n).strip()]
            if notes:
                summary.setdefault(str(arm), {})["notes"] = notes[-5:]
    return summary
