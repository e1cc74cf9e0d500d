"""Experiment state in the database: create, load, re-weight (new phase), kill switches, overrides.

``bakeoff.experiments`` is the source of truth every router process reads, so a change made here (by
a :class:`~bakeoff.router.Router` or the ``bakeoff experiment`` command) reaches every process on
its next submit. Every change validates first and writes in one transaction with the row locked, so
bad input leaves the stored experiment exactly as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from bakeoff.contract import ConfigurationError, InvalidRequest
from bakeoff.db.sql import load_queries
from bakeoff.router.bucketing import derive_salt
from bakeoff.router.experiment import (
    Experiment,
    ExperimentState,
    check_arm,
    check_unit_key,
    weights_in_arm_order,
)

__all__ = ["QUERIES", "STATEMENTS", "ExperimentStore", "Phase", "UnknownExperiment"]

logger = logging.getLogger(__name__)

QUERIES = load_queries("bakeoff.router")
STATEMENTS = {name: text(sql) for name, sql in QUERIES.items()}
"""The queries as SQLAlchemy text clauses, built once: parsing a clause's binds costs far more than
running the short queries on the hot path."""


class UnknownExperiment(InvalidRequest):
    """No experiment of that name is stored."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Phase:
    """One period of an experiment with fixed weights and salt."""

    phase: int
    weights: tuple[float, ...]
    salt: str
    started_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Phase:
        return cls(phase=row.phase, weights=tuple(row.weights), salt=row.salt, started_at=row.started_at)


class ExperimentStore:
    """Reads and changes stored experiments; one method, one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ensure(self, experiment: Experiment) -> ExperimentState:
        """The stored state of ``experiment``, created at phase 1 if it is new.

        A stored experiment keeps its own (possibly changed) weights; different arms, control or
        salt would silently re-randomise units, so they are refused.
        """
        with self.engine.begin() as conn:
            self._insert(conn, experiment)
            state = self._load(conn, experiment.name, lock=False)
        _check_compatible(experiment, state)
        return state

    def create(self, experiment: Experiment) -> ExperimentState:
        """Create a new experiment; refuses a name that is taken."""
        with self.engine.begin() as conn:
            if not self._insert(conn, experiment):
                raise InvalidRequest(f"experiment {experiment.name!r} already exists")
            return self._load(conn, experiment.name, lock=False)

    def load(self, name: str) -> ExperimentState:
        """The stored state of the experiment ``name``."""
        with self.engine.connect() as conn:
            return self._load(conn, name, lock=False)

    def set_weights(self, name: str, weights: Mapping[str, float] | Sequence[float]) -> ExperimentState:
        """New weights start a new phase with a derived salt; the same weights change nothing."""
        with self.engine.begin() as conn:
            state = self._load(conn, name, lock=True)
            new_weights = weights_in_arm_order(state.arms, weights)
            if new_weights == state.weights:
                return state
            phase = state.phase + 1
            salt = derive_salt(state.base_salt, phase)
            params = {"name": name, "weights": list(new_weights), "phase": phase, "salt": salt}
            conn.execute(STATEMENTS["update_weights"], params)
            conn.execute(STATEMENTS["insert_phase"], params)
            logger.info("experiment %s: phase %d with weights %s", name, phase, new_weights)
            return self._load(conn, name, lock=False)

    def kill(self, name: str, arm: str) -> ExperimentState:
        """Serve ``arm``'s units by the control arm from now on (assignments do not change)."""
        return self._set_killed(name, arm, killed=True)

    def revive(self, name: str, arm: str) -> ExperimentState:
        """Serve ``arm``'s units by ``arm`` again."""
        return self._set_killed(name, arm, killed=False)

    def set_override(self, name: str, unit_key: str, arm: str) -> None:
        """Pin ``unit_key`` to ``arm`` (recorded as ``reason="override"``)."""
        check_unit_key(unit_key)
        state = self.load(name)
        check_arm(state.arms, arm)
        with self.engine.begin() as conn:
            conn.execute(STATEMENTS["upsert_override"], {"name": name, "unit_key": unit_key, "arm": arm})

    def clear_override(self, name: str, unit_key: str) -> bool:
        """Remove ``unit_key``'s override; True when there was one."""
        with self.engine.begin() as conn:
            row = conn.execute(STATEMENTS["delete_override"], {"name": name, "unit_key": unit_key}).first()
        return row is not None

    def overrides(self, name: str) -> dict[str, str]:
        """Every override of the experiment: unit key -> arm."""
        with self.engine.connect() as conn:
            rows = conn.execute(STATEMENTS["select_overrides"], {"name": name}).all()
        return {row.unit_key: row.arm for row in rows}

    def phases(self, name: str) -> list[Phase]:
        """The experiment's phases, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(STATEMENTS["select_phases"], {"name": name}).all()
        return [Phase.from_row(row) for row in rows]

    def _set_killed(self, name: str, arm: str, *, killed: bool) -> ExperimentState:
        with self.engine.begin() as conn:
            state = self._load(conn, name, lock=True)
            check_arm(state.arms, arm)
            if killed and arm == state.control:
                raise InvalidRequest(
                    f"arm {arm!r} is the control arm, which serves killed arms; it cannot be killed"
                )
            wanted = state.killed_arms | {arm} if killed else state.killed_arms - {arm}
            if wanted == state.killed_arms:
                return state
            ordered = [a for a in state.arms if a in wanted]
            conn.execute(STATEMENTS["update_killed_arms"], {"name": name, "killed_arms": ordered})
            logger.warning("experiment %s: arm %s %s", name, arm, "killed" if killed else "revived")
            return self._load(conn, name, lock=False)

    @staticmethod
    def _insert(conn: Connection, experiment: Experiment) -> bool:
        params = {
            "name": experiment.name,
            "arms": list(experiment.arms),
            "weights": list(experiment.weights or ()),
            "control": experiment.control,
            "salt": experiment.base_salt,
            "phase": 1,
        }
        if conn.execute(STATEMENTS["insert_experiment"], params).first() is None:
            return False
        conn.execute(STATEMENTS["insert_phase"], params)
        logger.info("experiment %s created", experiment.name)
        return True

    @staticmethod
    def _load(conn: Connection, name: str, *, lock: bool) -> ExperimentState:
        query = STATEMENTS["lock_experiment" if lock else "load_experiment"]
        row = conn.execute(query, {"name": name}).first()
        if row is None:
            raise UnknownExperiment(f"experiment {name!r} does not exist (create it first)")
        return ExperimentState.from_row(row)


def _check_compatible(experiment: Experiment, state: ExperimentState) -> None:
    for field_name, declared, stored in (
        ("arms", experiment.arms, state.arms),
        ("control", experiment.control, state.control),
        ("salt", experiment.base_salt, state.base_salt),
    ):
        if declared != stored:
            raise ConfigurationError(
                f"experiment {experiment.name!r} is stored with {field_name} {stored!r}, "
                f"not {declared!r}; changing it would re-randomise units (use a new experiment name)"
            )
    if experiment.weights != state.weights and state.phase == 1:
        logger.info(
            "experiment %s keeps its stored weights %s (declared %s); use set_weights to change them",
            experiment.name,
            state.weights,
            experiment.weights,
        )
