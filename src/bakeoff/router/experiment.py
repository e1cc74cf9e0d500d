"""Experiment values: the configuration a team declares, and the live state stored in the database.

:class:`Experiment` is what code passes to the :class:`~bakeoff.router.Router` (its weights are the
initial ones); :class:`ExperimentState` is a snapshot of ``bakeoff.experiments`` (current phase,
weights, salt, killed arms) plus the unit overrides, and answers "which arm serves this unit, and
why" without I/O through :meth:`ExperimentState.decide`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bakeoff.contract import ARM_NAMES, MAX_KEY_LENGTH, AssignmentReason, InvalidRequest
from bakeoff.router.bucketing import Layout, check_weights

__all__ = ["DEFAULT_EXPERIMENT", "Decision", "Experiment", "ExperimentState", "weights_in_arm_order"]

DEFAULT_EXPERIMENT = "article-import"


def _check_name(field_name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{field_name} must be a non-empty string, not {value!r}")
    if len(value) > MAX_KEY_LENGTH or "\x00" in value:
        raise InvalidRequest(f"{field_name} must be at most {MAX_KEY_LENGTH} characters without NUL")
    return value


def _check_arms(arms: Sequence[str]) -> tuple[str, ...]:
    if isinstance(arms, str) or not arms:
        raise InvalidRequest(f"arms must be a non-empty sequence of arm names, not {arms!r}")
    checked = tuple(_check_name("arm name", arm) for arm in arms)
    duplicates = sorted({arm for arm in checked if checked.count(arm) > 1})
    if duplicates:
        raise InvalidRequest(f"arms must be distinct; repeated: {', '.join(duplicates)}")
    return checked


def check_unit_key(unit_key: object) -> str:
    """A non-empty unit key (what assignment sticks to)."""
    return _check_name("unit_key", unit_key)


def check_arm(arms: Sequence[str], arm: object, *, field_name: str = "arm") -> str:
    """``arm`` if it is one of ``arms``, else an :class:`InvalidRequest` naming it."""
    if arm not in arms:
        raise InvalidRequest(
            f"{field_name} {arm!r} is not an arm of this experiment; arms: {', '.join(arms)}"
        )
    return str(arm)


def weights_in_arm_order(
    arms: Sequence[str], weights: Mapping[str, float] | Sequence[float]
) -> tuple[float, ...]:
    """Weights given per arm name (or in arm order) as a validated tuple in arm order."""
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(arms))
        if unknown:
            raise InvalidRequest(f"weights name unknown arm(s) {', '.join(map(repr, unknown))}; arms: {arms}")
        missing = [arm for arm in arms if arm not in weights]
        if missing:
            raise InvalidRequest(f"weights are missing arm(s) {', '.join(map(repr, missing))}")
        return check_weights(arms, [weights[arm] for arm in arms])
    return check_weights(arms, list(weights))


@dataclass(frozen=True, kw_only=True, slots=True)
class Experiment:
    """A declared experiment. ``salt`` defaults to ``name``; ``weights`` default to equal shares."""

    name: str = DEFAULT_EXPERIMENT
    arms: tuple[str, ...] = ARM_NAMES
    weights: tuple[float, ...] | None = None
    control: str = "legacy"
    salt: str | None = None

    def __post_init__(self) -> None:
        _check_name("name", self.name)
        arms = _check_arms(self.arms)
        weights = (1.0,) * len(arms) if self.weights is None else check_weights(arms, list(self.weights))
        check_arm(arms, self.control, field_name="control")
        if self.salt is not None:
            _check_name("salt", self.salt)
        object.__setattr__(self, "arms", arms)
        object.__setattr__(self, "weights", weights)

    @property
    def base_salt(self) -> str:
        """The salt of phase 1."""
        return self.salt if self.salt is not None else self.name

    @property
    def layout(self) -> Layout:
        """Phase 1's assignment rule (pure)."""
        assert self.weights is not None  # normalised in __post_init__
        return Layout(salt=self.base_salt, arms=self.arms, weights=self.weights)


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """Which arm a unit is assigned to, which arm serves it, and why."""

    assigned_arm: str
    served_arm: str
    reason: AssignmentReason


@dataclass(frozen=True, kw_only=True, slots=True)
class ExperimentState:
    """A snapshot of one experiment's stored state (the database is the source of truth)."""

    name: str
    arms: tuple[str, ...]
    weights: tuple[float, ...]
    control: str
    salt: str
    phase: int
    killed_arms: frozenset[str] = frozenset()
    base_salt: str = ""
    layout: Layout = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layout", Layout(salt=self.salt, arms=self.arms, weights=self.weights))

    @classmethod
    def from_row(cls, row: Any) -> ExperimentState:
        """Build from a row of the ``load_experiment`` query."""
        return cls(
            name=row.name,
            arms=tuple(row.arms),
            weights=tuple(float(w) for w in row.weights),
            control=row.control,
            salt=row.salt,
            phase=int(row.phase),
            killed_arms=frozenset(row.killed_arms),
            base_salt=row.base_salt or row.salt,
        )

    def decide(self, unit_key: str, override_arm: str | None = None) -> Decision:
        """Assignment by hash unless overridden; a killed arm is served by the control arm.

        An overridden unit keeps ``reason="override"`` even when its arm is killed (the control arm
        serves it), so analysis, which excludes overrides, never mistakes it for a hashed unit.
        """
        if override_arm is not None:
            served = self.control if override_arm in self.killed_arms else override_arm
            return Decision(assigned_arm=override_arm, served_arm=served, reason="override")
        assigned = self.layout.assign(unit_key)
        if assigned in self.killed_arms:
            return Decision(assigned_arm=assigned, served_arm=self.control, reason="killed")
        return Decision(assigned_arm=assigned, served_arm=assigned, reason="hash")

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view (for the CLI)."""
        total = sum(self.weights)
        return {
            "name": self.name,
            "arms": list(self.arms),
            "weights": dict(zip(self.arms, self.weights, strict=True)),
            "shares": {arm: round(w / total, 6) for arm, w in zip(self.arms, self.weights, strict=True)},
            "control": self.control,
            "phase": self.phase,
            "salt": self.salt,
            "base_salt": self.base_salt,
            "killed_arms": sorted(self.killed_arms),
        }
