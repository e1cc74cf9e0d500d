"""The guardrail's section of the report: settings, the current checks, kills and alerts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from bakeoff.analysis.guardrail import check
from bakeoff.guard.settings import STATEMENTS, SettingsStore
from bakeoff.metrics.export import load_trial
from bakeoff.router.store import ExperimentStore

__all__ = ["guardrail_section"]


def guardrail_section(engine: Engine, experiment: str) -> dict[str, Any]:
    """The guardrail as the report shows it (whether or not the guard is enabled)."""
    settings = SettingsStore(engine).get(experiment)
    state = ExperimentStore(engine).load(experiment)
    result = check(load_trial(engine, experiment=experiment, phase=state.phase), settings.spec(state))
    with engine.connect() as conn:
        kills = conn.execute(STATEMENTS["select_kills"], {"experiment": experiment}).all()
    return {
        "settings": settings.to_dict(),
        "killed_arms": sorted(state.killed_arms),
        "kills": [{"arm": k.arm, "value": k.value, "note": k.note, "at": k.at.isoformat()} for k in kills],
        **{
            key: value
            for key, value in result.to_dict().items()
            if key in ("checks", "alerts", "kill", "spec")
        },
    }
