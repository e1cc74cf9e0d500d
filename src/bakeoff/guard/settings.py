"""Per-experiment guardrail settings in ``bakeoff.guardrail_settings``: off unless enabled."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from bakeoff.analysis.errors import AnalysisInputError
from bakeoff.analysis.guardrail import GuardrailSpec
from bakeoff.contract import InvalidRequest
from bakeoff.db.sql import load_queries
from bakeoff.router.experiment import ExperimentState
from bakeoff.router.store import ExperimentStore

__all__ = ["QUERIES", "GuardSettings", "SettingsStore"]

QUERIES = load_queries("bakeoff.guard")
STATEMENTS = {name: text(sql) for name, sql in QUERIES.items()}


@dataclass(frozen=True, kw_only=True)
class GuardSettings:
    """One experiment's guardrail configuration (defaults: :class:`GuardrailSpec`'s)."""

    experiment: str
    enabled: bool = False
    failure_margin: float = 0.05
    latency_ratio: float = 2.0
    alpha: float = 0.05
    min_jobs: int = 30
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        try:
            GuardrailSpec(
                failure_margin=self.failure_margin,
                latency_ratio=self.latency_ratio,
                alpha=self.alpha,
                min_jobs=self.min_jobs,
            )
        except AnalysisInputError as exc:
            raise InvalidRequest(f"guardrail settings of {self.experiment!r}: {exc}") from exc

    @classmethod
    def from_row(cls, row: Any) -> GuardSettings:
        return cls(
            experiment=row.experiment,
            enabled=bool(row.enabled),
            failure_margin=float(row.failure_margin),
            latency_ratio=float(row.latency_ratio),
            alpha=float(row.alpha),
            min_jobs=int(row.min_jobs),
            updated_at=row.updated_at,
        )

    def spec(self, state: ExperimentState) -> GuardrailSpec:
        """The spec for the experiment's current phase: its control, arms, weights and kills."""
        return GuardrailSpec(
            control=state.control,
            failure_margin=self.failure_margin,
            latency_ratio=self.latency_ratio,
            alpha=self.alpha,
            min_jobs=self.min_jobs,
            arms=state.arms,
            shares=dict(zip(state.arms, state.weights, strict=True)),
            killed_arms=state.killed_arms,
            phase=state.phase,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "enabled": self.enabled,
            "failure_margin": self.failure_margin,
            "latency_ratio": self.latency_ratio,
            "alpha": self.alpha,
            "min_jobs": self.min_jobs,
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
        }


class SettingsStore:
    """Reads and writes guardrail settings; the experiment must exist."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, experiment: str) -> GuardSettings:
        """The stored settings, or the defaults (disabled) when the experiment has none."""
        with self.engine.connect() as conn:
            row = conn.execute(STATEMENTS["select_settings"], {"experiment": experiment}).first()
        return GuardSettings(experiment=experiment) if row is None else GuardSettings.from_row(row)

    def all(self) -> list[GuardSettings]:
        with self.engine.connect() as conn:
            rows = conn.execute(STATEMENTS["select_all_settings"]).all()
        return [GuardSettings.from_row(row) for row in rows]

    def enabled(self) -> list[GuardSettings]:
        return [s for s in self.all() if s.enabled]

    def save(self, settings: GuardSettings) -> GuardSettings:
        ExperimentStore(self.engine).load(settings.experiment)  # a clear error for an unknown name
        params = settings.to_dict()
        with self.engine.begin() as conn:
            row = conn.execute(STATEMENTS["upsert_settings"], params).one()
        return GuardSettings.from_row(row)

    def update(self, experiment: str, **changes: Any) -> GuardSettings:
        """Change some settings (``enabled=True``, ``failure_margin=0.03``, ...), keeping the rest."""
        return self.save(replace(self.get(experiment), **changes))
