"""Sticky, salted bucketing: which arm a unit key is assigned to, reproducible in any language.

The whole rule (documented with test vectors and a TypeScript port in ``docs/router.md``)::

    bucket = int.from_bytes(sha256(f"{salt}:{unit_key}".encode()).digest()[:8], "big") / 2**64

Arms take consecutive ranges of [0, 1) in their declared order, sized by their normalised weights:
``edge_i = (w_0 + ... + w_i) / total`` summed left to right in IEEE-754 doubles, and the unit goes
to the first arm with a positive weight whose ``edge_i`` is greater than ``bucket``. Rounding can make
a bucket equal 1.0 or leave the last edge just under 1.0; such a bucket goes to the last arm with a
positive weight. Nothing here does I/O, so assignment is the same in every process and machine.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from bakeoff.contract import InvalidRequest

__all__ = ["Layout", "arm_for_bucket", "bucket_of", "check_weights", "derive_salt"]

TWO_TO_64 = float(2**64)


def bucket_of(salt: str, unit_key: str) -> float:
    """The unit's position in [0, 1] under ``salt`` (1.0 only through float rounding)."""
    digest = hashlib.sha256(f"{salt}:{unit_key}".encode()).digest()
    # int / float is correctly rounded once, exactly like Number(BigInt) / 2**64 in JavaScript.
    return int.from_bytes(digest[:8], "big") / TWO_TO_64


def derive_salt(base_salt: str, phase: int) -> str:
    """The salt of ``phase``: phase 1 uses the base salt, later phases ``"{base}:p{phase}"``."""
    if phase < 1:
        raise InvalidRequest(f"phase must be >= 1, not {phase}")
    return base_salt if phase == 1 else f"{base_salt}:p{phase}"


def check_weights(arms: Sequence[str], weights: Sequence[float]) -> tuple[float, ...]:
    """Validated weights as floats; a :class:`InvalidRequest` names what is wrong."""
    if len(weights) != len(arms):
        raise InvalidRequest(
            f"weights has {len(weights)} values but there are {len(arms)} arms {tuple(arms)}"
        )
    checked: list[float] = []
    for arm, weight in zip(arms, weights, strict=True):
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InvalidRequest(f"weight of arm {arm!r} must be a number, not {weight!r}")
        if not math.isfinite(weight) or weight < 0:
            raise InvalidRequest(f"weight of arm {arm!r} must be a finite number >= 0, not {weight!r}")
        checked.append(float(weight))
    if sum(checked) <= 0:
        raise InvalidRequest("weights must not all be zero")
    return tuple(checked)


def arm_for_bucket(bucket: float, arms: Sequence[str], weights: Sequence[float]) -> str:
    """The arm whose range holds ``bucket`` (the reference implementation of the rule)."""
    total = 0.0
    for weight in weights:
        total += weight
    running = 0.0
    for arm, weight in zip(arms, weights, strict=True):
        running += weight
        if weight > 0 and bucket < running / total:
            return arm
    return next(arm for arm, weight in zip(reversed(arms), reversed(weights), strict=True) if weight > 0)


@dataclass(frozen=True, kw_only=True, slots=True)
class Layout:
    """One phase's assignment rule, precomputed so :meth:`assign` is a hash and a bisect."""

    salt: str
    arms: tuple[str, ...]
    weights: tuple[float, ...]
    _edges: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _owners: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        weights = check_weights(self.arms, self.weights)
        total = 0.0
        for weight in weights:
            total += weight
        running = 0.0
        edges: list[float] = []
        owners: list[str] = []
        for arm, weight in zip(self.arms, weights, strict=True):
            running += weight
            if weight > 0:  # a zero-weight arm owns an empty range; leave it out of the search
                edges.append(running / total)
                owners.append(arm)
        object.__setattr__(self, "_edges", tuple(edges))
        object.__setattr__(self, "_owners", tuple(owners))

    def assign(self, unit_key: str) -> str:
        """The arm ``unit_key`` is assigned to (pure; no I/O)."""
        index = bisect_right(self._edges, bucket_of(self.salt, unit_key))
        return self._owners[min(index, len(self._owners) - 1)]
