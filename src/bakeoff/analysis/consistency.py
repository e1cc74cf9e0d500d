"""Consistency: does every arm import the same document the control arm would have?

An arm that is fast because it silently truncates pages must not win. ``bakeoff consistency``
(:mod:`bakeoff.trial.consistency`) re-fetches a sample of completed imports through the control
arm's code path and records whether the extracted document's digest equals the one the arm saved;
this module summarises those checks per arm for the report: the share identical with its Wilson
interval, and the differing URLs (the dashboard shows both texts from :func:`differences`).

A re-fetch that fails (the page is down now) is neither identical nor different: it is counted
apart. A page that changes between the two fetches counts as a difference; the local article
server's seeded pages do not change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text
from statsmodels.stats.proportion import proportion_confint

from bakeoff.analysis.errors import AnalysisInputError
from bakeoff.db.sql import load_queries

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "consistency_section",
    "differences",
    "sample_rate",
    "set_sample_rate",
    "side_by_side_html",
    "summarise",
]

QUERIES = load_queries("bakeoff.analysis")
DEFAULT_SAMPLE_RATE = 0.05
TEXT_IN_REPORT = 2000
"""Characters of each differing text the report keeps (the full texts stay in the database)."""
SHOWN_DIFFERENCES = 5
"""Differing imports per arm whose texts the report shows side by side."""


def summarise(
    counts: list[dict[str, Any]], diffs: list[dict[str, Any]], alpha: float = 0.05
) -> dict[str, Any]:
    """Per arm: checked, identical, share identical, Wilson interval, differing URLs (pure)."""
    arms = []
    for row in counts:
        mine = [d for d in diffs if d["arm"] == row["arm"]]
        checked, identical = int(row["checked"]), int(row["identical"])
        ci = None
        if checked:
            low, high = proportion_confint(identical, checked, alpha=alpha, method="wilson")
            ci = [float(low), float(high)]
        arms.append(
            {
                "arm": row["arm"],
                "checked": checked,
                "identical": identical,
                "refetch_failed": int(row.get("refetch_failed", 0)),
                "share": identical / checked if checked else None,
                "ci": ci,
                "differences": [_difference(d, n < SHOWN_DIFFERENCES) for n, d in enumerate(mine)],
            }
        )
    return {"arms": arms}


def _difference(row: dict[str, Any], with_texts: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"url": row["url"], "trial_job_id": str(row["trial_job_id"])}
    if with_texts and "arm_text" in row:
        out["arm_text"] = str(row["arm_text"] or "")[:TEXT_IN_REPORT]
        out["control_text"] = str(row["control_text"] or "")[:TEXT_IN_REPORT]
    return out


def side_by_side_html(arm_text: str, control_text: str, arm: str = "arm") -> str:
    """The two texts side by side, line by line, differences marked (``difflib.HtmlDiff``)."""
    import difflib

    table = difflib.HtmlDiff(wrapcolumn=70).make_table(
        arm_text.splitlines(), control_text.splitlines(), fromdesc=f"{arm} saved", todesc="control re-fetched"
    )
    return str(table)


def sample_rate(engine: Engine, experiment: str) -> float:
    """The experiment's configured sample rate (default :data:`DEFAULT_SAMPLE_RATE`)."""
    with engine.connect() as conn:
        value = conn.execute(text(QUERIES["consistency_sample_rate"]), {"experiment": experiment}).scalar()
    return DEFAULT_SAMPLE_RATE if value is None else float(value)


def set_sample_rate(engine: Engine, experiment: str, rate: float) -> None:
    """Configure the share of completed imports the consistency pass re-checks."""
    if not 0 <= rate <= 1:
        raise AnalysisInputError(f"sample rate must be between 0 and 1, got {rate}")
    from bakeoff.router.store import ExperimentStore

    ExperimentStore(engine).load(experiment)  # a clear error for an unknown experiment
    with engine.begin() as conn:
        conn.execute(
            text(QUERIES["consistency_set_sample_rate"]), {"experiment": experiment, "sample_rate": rate}
        )


def differences(engine: Engine, experiment: str, limit: int = 50) -> list[dict[str, Any]]:
    """The differing imports with the arm's saved text and the control's re-extracted text."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(QUERIES["consistency_differences"]), {"experiment": experiment, "limit": limit}
        ).mappings()
        return [dict(r) for r in rows]


def consistency_section(engine: Engine, experiment: str) -> dict[str, Any]:
    """The report's consistency section (from the recorded checks)."""
    with engine.connect() as conn:
        counts = [
            dict(r)
            for r in conn.execute(text(QUERIES["consistency_by_arm"]), {"experiment": experiment}).mappings()
        ]
    section = summarise(counts, differences(engine, experiment))
    rate = sample_rate(engine, experiment)
    section["sample_rate"] = rate
    section["notes"] = [
        f"A sample of {rate:.0%} of completed imports is fetched and extracted again through the control "
        "arm's code path (no exposure, not counted as the control's load): one more fetch per sampled job. "
        "Identical = the same content digest as the document the arm saved.",
        "A page that changes between the two fetches counts as a difference (the local article server's "
        "seeded pages do not change); a failed re-fetch counts as neither.",
    ]
    if not counts:
        section["notes"].insert(0, "No check recorded yet: run `bakeoff consistency`.")
    return section
