"""The verdict and its plain-language reasons.

Four statuses: ``invalid`` (a sample ratio mismatch or broken data: fix the trial before reading any
number), ``insufficient_data`` (with the forecast of days to a decision), ``no_difference`` (every
candidate is shown equivalent to the control within the margins, or worse), and ``winner`` (a
candidate passes the decision rules; or the control, when every candidate is shown worse).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bakeoff.analysis.decision import DecisionRule, PairVerdict, decision_reached
from bakeoff.analysis.forecast import days_phrase

__all__ = ["Verdict", "VerdictStatus", "decide"]

VerdictStatus = Literal["invalid", "insufficient_data", "no_difference", "winner"]


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What the report concludes, and why."""

    status: VerdictStatus
    winner: str | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "winner": self.winner, "reasons": list(self.reasons)}


def _pct(value: float) -> str:
    return f"{value * 100:+.1f} points"


def _ratio_words(log_lo: float, log_hi: float) -> str:
    lo, hi = math.exp(log_lo), math.exp(log_hi)
    return f"latency ratio {lo:.2f}-{hi:.2f}x of the control's"


def describe(arm: str, control: str, v: PairVerdict, rule: DecisionRule) -> str:
    """One sentence on where a candidate stands, quoting its sequential intervals."""
    failures = (
        f"failure-rate difference {_pct(float(v.failure_estimate))} "
        f"(sequential interval {_pct(float(v.failure_lower))} to {_pct(float(v.failure_upper))}, "
        f"margin {rule.failure_margin * 100:.1f} points)"
    )
    latency = _ratio_words(float(v.log_ratio_lower), float(v.log_ratio_upper))
    if bool(v.win):
        how = (
            "faster and not worse on failures"
            if bool(v.latency_superior)
            else "fewer failures and not slower"
        )
        return f"{arm} beats {control}: {how}; {failures}; {latency}."
    if bool(v.worse):
        return f"{arm} is worse than {control}: {failures}; {latency}."
    if bool(v.equivalent):
        return (
            f"{arm} is equivalent to {control} within the margins "
            f"(failures +/-{rule.failure_margin * 100:.1f} points, "
            f"latency +/-{rule.latency_margin * 100:.0f}%): "
            f"{failures}; {latency}."
        )
    if not bool(v.enough):
        return f"{arm}: fewer than {rule.min_jobs} finished jobs in an arm; nothing can be concluded yet."
    return f"{arm} vs {control}: not yet decided; {failures}; {latency}."


def _best(wins: dict[str, PairVerdict]) -> str:
    """Among several winners, the one whose latency interval's upper end is lowest."""
    return min(wins, key=lambda arm: float(wins[arm].log_ratio_upper))


def decide(
    *,
    problems: list[str],
    pairs: dict[str, PairVerdict],
    control: str,
    rule: DecisionRule,
    days_to_decision: Mapping[str, Any] | None,
    jobs_per_arm_per_day: float,
) -> Verdict:
    """Combine data problems and each candidate's state into the verdict."""
    if problems:
        return Verdict(status="invalid", reasons=("The trial data cannot be trusted as it is:", *problems))
    lines = tuple(describe(arm, control, v, rule) for arm, v in pairs.items())
    if not pairs or not bool(decision_reached(list(pairs.values()))):
        return Verdict(
            status="insufficient_data",
            reasons=(wait_sentence(days_to_decision, jobs_per_arm_per_day), *lines),
        )
    wins = {arm: v for arm, v in pairs.items() if bool(v.win)}
    if wins:
        return Verdict(status="winner", winner=_best(wins), reasons=lines)
    if all(bool(v.worse) for v in pairs.values()):
        return Verdict(
            status="winner", winner=control, reasons=(f"Every candidate is worse than {control}.", *lines)
        )
    return Verdict(status="no_difference", reasons=lines)


def wait_sentence(days: Mapping[str, Any] | None, rate: float) -> str:
    """The insufficient-data verdict's first reason: how many more days, from the forecast."""
    if rate <= 0 or days is None:
        return "Not enough data yet: some arm has no finished jobs to compare."
    if days["no_decision_in_sight"]:
        return (
            f"Not enough data yet, and at the current {rate:.1f} jobs per arm per day {days_phrase(days)} "
            "(the arms may differ by less than the margins can resolve)."
        )
    return f"Not enough data yet: {days_phrase(days)}, at the current {rate:.1f} jobs per arm per day."
