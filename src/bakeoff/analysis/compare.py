"""``compare()``: the whole nightly comparison of one experiment's phase, as a :class:`Comparison`.

A Comparison holds every number of the report (``to_dict()`` is the JSON contract, schema version 2)
and the prepared data its plots are drawn from. Qualitative observations are summarised beside the
statistics and never enter them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from bakeoff.analysis.arms import ArmStats, all_arm_stats, completed_durations
from bakeoff.analysis.decision import DecisionRule, PairVerdict, decide_pair, decision_reached
from bakeoff.analysis.errors import AnalysisInputError
from bakeoff.analysis.forecast import ArmNow, Prior
from bakeoff.analysis.frame import PreparedTrial, prepare
from bakeoff.analysis.observations import summarise_observations
from bakeoff.analysis.pairwise import ComparisonRow, adjust, failure_row, latency_row, log_stats, pair_summary
from bakeoff.analysis.power import DEFAULT_PLAN_DAYS, PowerInputs, power_summary
from bakeoff.analysis.sequential import DEFAULT_TUNING
from bakeoff.analysis.stats import sample_ratio_test
from bakeoff.analysis.verdict import Verdict, decide
from bakeoff.contract import ARM_NAMES
from bakeoff.metrics import columns as col

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SCHEMA_VERSION", "SRM_MIN_PER_ARM", "SRM_THRESHOLD", "Comparison", "compare"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
SRM_THRESHOLD = 0.001
SRM_MIN_PER_ARM = 8
Analysis = Literal["itt", "per_protocol"]


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """The result of :func:`compare`; ``to_dict()`` is the report JSON."""

    experiment: str
    phase: int
    generated_at: datetime
    window: tuple[datetime | None, datetime | None]
    control: str
    analysis: Analysis
    alpha: float
    failure_margin: float
    arms: dict[str, ArmStats]
    srm: dict[str, Any]
    comparisons: list[ComparisonRow]
    power: dict[str, Any]
    observations: dict[str, Any]
    verdict: Verdict
    notes: tuple[str, ...] = ()
    rule: DecisionRule = field(default_factory=DecisionRule)
    sections: Mapping[str, Any] = field(default_factory=dict)
    """Extra top-level report sections (guardrail, cost, ...; ``bakeoff.analysis.sections``)."""
    data: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (schema version 2)."""
        start, end = self.window
        return {
            "schema_version": SCHEMA_VERSION,
            "experiment": self.experiment,
            "phase": self.phase,
            "generated_at": self.generated_at.isoformat(),
            "window": {"start": _iso(start), "end": _iso(end)},
            "control": self.control,
            "analysis": self.analysis,
            "alpha": self.alpha,
            "failure_margin": self.failure_margin,
            "latency_margin": self.rule.latency_margin,
            "arms": {name: stats.to_dict() for name, stats in self.arms.items()},
            "srm": self.srm,
            "comparisons": [row.to_dict() for row in self.comparisons],
            "power": self.power,
            "observations": self.observations,
            "notes": list(self.notes),
            "verdict": self.verdict.to_dict(),
            **dict(self.sections),
        }

    def plots(self) -> dict[str, Figure]:
        """The report's figures by name (matplotlib, Agg backend)."""
        from bakeoff.analysis.plots import all_plots

        return all_plots(self)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _shares(arms: Sequence[str], shares: Mapping[str, float] | None) -> dict[str, float]:
    if shares is None:
        return {arm: 1 / len(arms) for arm in arms}
    total = float(sum(shares.values()))
    if total <= 0 or any(v < 0 for v in shares.values()):
        raise AnalysisInputError("shares: every share must be non-negative and their sum positive")
    return {arm: float(shares.get(arm, 0.0)) / total for arm in arms}


def _srm(frame: pd.DataFrame, shares: dict[str, float]) -> dict[str, Any]:
    observed = {arm: int((frame[col.ASSIGNED_ARM] == arm).sum()) for arm in shares}
    live = [arm for arm, share in shares.items() if share > 0]
    result: dict[str, Any] = {"expected_share": shares, "observed": observed, "chi2": None, "p_value": None}
    result["mismatch"] = False
    if len(live) >= 2 and sum(observed[a] for a in live) > 0:
        chi2, p = sample_ratio_test([observed[a] for a in live], [shares[a] for a in live])
        result.update(chi2=chi2, p_value=p)
        checked = min(observed[a] for a in live) >= SRM_MIN_PER_ARM
        result["mismatch"] = bool(checked and p < SRM_THRESHOLD)
    stray = [arm for arm, share in shares.items() if share == 0 and observed[arm] > 0]
    if stray:
        result["mismatch"] = True
    return result


def _srm_problem(srm: dict[str, Any]) -> list[str]:
    if not srm["mismatch"]:
        return []
    observed = ", ".join(f"{arm} {n}" for arm, n in srm["observed"].items())
    expected = ", ".join(f"{arm} {share:.1%}" for arm, share in srm["expected_share"].items())
    p = srm["p_value"]
    return [
        f"Sample ratio mismatch: assignments ({observed}) do not match the configured shares ({expected})"
        + (f", chi-square p = {p:.2g} < {SRM_THRESHOLD}." if p is not None else ".")
        + " Routing or exposure logging is broken; no comparison can be trusted until it is fixed."
    ]


def _trial_days(frame: pd.DataFrame) -> float:
    """Days from the first to the last submission of the analysed data."""
    submitted = frame[col.SUBMITTED_AT].dropna()
    if submitted.empty:
        return 0.0
    return float((submitted.max() - submitted.min()).total_seconds()) / 86400.0


def _span_days(frame: pd.DataFrame) -> float:
    """The span traffic rates are measured over, counted as at least one day, so a run of minutes
    such as the demo is not extrapolated to thousands of jobs a day."""
    return max(_trial_days(frame), 1.0) if not frame[col.SUBMITTED_AT].dropna().empty else 0.0


def _arm_now(stats: ArmStats, latency: Any, span_days: float) -> ArmNow:
    mean, var, n = log_stats(latency)
    return ArmNow(
        decided=stats.decided,
        failed=stats.failed,
        latency_n=n,
        log_mean=mean,
        log_var=var,
        per_day=stats.decided / span_days if span_days > 0 else 0.0,
    )


def _resolve_arms(frame: pd.DataFrame, control: str, arms: Sequence[str] | None) -> list[str]:
    if arms is not None:
        chosen = list(dict.fromkeys(arms))
    else:
        present = {str(a) for a in frame[col.ASSIGNED_ARM].dropna().unique()}
        chosen = [arm for arm in ARM_NAMES if arm in present or arm == control]
    if control not in chosen:
        raise AnalysisInputError(
            f"control: {control!r} is not one of the experiment's arms ({', '.join(chosen)})"
        )
    return [control, *(arm for arm in chosen if arm != control)]


def compare(
    df: pd.DataFrame,
    control: str = "legacy",
    alpha: float = 0.05,
    failure_margin: float = 0.02,
    analysis: Analysis = "itt",
    *,
    latency_margin: float = 0.2,
    arms: Sequence[str] | None = None,
    shares: Mapping[str, float] | None = None,
    phase: int | None = None,
    experiment: str | None = None,
    observations: pd.DataFrame | None = None,
    window: tuple[datetime | None, datetime | None] = (None, None),
    sequential_tuning: float = DEFAULT_TUNING,
    min_jobs: int = 20,
    plan_days: float = DEFAULT_PLAN_DAYS,
    forecast_prior: Prior = "averaged",
) -> Comparison:
    """Compare each candidate arm with ``control`` on one experiment's phase of a trial export.

    ``arms`` defaults to the contract's arms present in the data (plus the control); ``shares`` (the
    configured assignment weights, for the SRM check) default to equal. ``plan_days``: the day of the
    trial by which the team plans to decide (the report gives the chance of that). ``forecast_prior``:
    how the days-to-decision forecast draws the arms' true values (:mod:`bakeoff.analysis.forecast`).
    Bad arguments raise :class:`AnalysisInputError`; broken data gives an ``invalid`` verdict with
    the reasons.
    """
    if analysis not in ("itt", "per_protocol"):
        raise AnalysisInputError(f"analysis must be 'itt' or 'per_protocol', got {analysis!r}")
    if not 0 < alpha < 1:
        raise AnalysisInputError(f"alpha must be in (0, 1), got {alpha}")
    if not plan_days > 0:
        raise AnalysisInputError(f"plan_days must be a positive number of days, got {plan_days}")
    prepared = prepare(
        df,
        arms=list(shares) if shares else (arms or ARM_NAMES),
        analysis=analysis,
        phase=phase,
        experiment=experiment,
    )
    arm_names = _resolve_arms(prepared.frame, control, list(shares) if shares else arms)
    rule = DecisionRule(
        alpha=alpha,
        failure_margin=failure_margin,
        latency_margin=latency_margin,
        tuning=sequential_tuning,
        candidates=max(len(arm_names) - 1, 1),
        min_jobs=min_jobs,
    )
    return _build(
        prepared,
        arm_names,
        control,
        rule,
        analysis,
        _shares(arm_names, shares),
        observations,
        window,
        plan_days,
        forecast_prior,
    )


def _build(
    prepared: PreparedTrial,
    arm_names: list[str],
    control: str,
    rule: DecisionRule,
    analysis: Analysis,
    shares: dict[str, float],
    observations: pd.DataFrame | None,
    window: tuple[datetime | None, datetime | None],
    plan_days: float,
    forecast_prior: Prior,
) -> Comparison:
    frame = prepared.frame
    span = _span_days(frame)
    arms = all_arm_stats(frame, arm_names, rule.alpha)
    srm = _srm(frame, shares)
    rows: list[ComparisonRow] = []
    pairs: dict[str, PairVerdict] = {}
    inputs: list[PowerInputs] = []
    ctrl_latency = completed_durations(frame, control, col.LATENCY_MS)
    now = {control: _arm_now(arms[control], ctrl_latency, span)}
    for arm in arm_names[1:]:
        cand_latency = completed_durations(frame, arm, col.LATENCY_MS)
        now[arm] = _arm_now(arms[arm], cand_latency, span)
        summary = pair_summary(arms[arm], arms[control], cand_latency, ctrl_latency)
        pairs[arm] = decide_pair(summary, rule)
        f_row = failure_row(arms[arm], arms[control], pairs[arm], rule.alpha, rule.failure_margin)
        rows += [
            f_row,
            latency_row(arms[arm], arms[control], cand_latency, ctrl_latency, pairs[arm], rule.alpha),
        ]
        inputs.append(PowerInputs(candidate=arms[arm], control=arms[control], summary=summary))
    problems = [*prepared.problems, *_srm_problem(srm)]
    decided_now = bool(pairs) and bool(decision_reached(list(pairs.values())))
    power = power_summary(
        inputs,
        rule,
        arms=now,
        control=control,
        span_days=span,
        decided_now=decided_now,
        trial_days=_trial_days(frame),
        plan_days=plan_days,
        prior=forecast_prior,
    )
    verdict = decide(
        problems=problems,
        pairs=pairs,
        control=control,
        rule=rule,
        days_to_decision=power["days_to_decision"],
        jobs_per_arm_per_day=power.get("jobs_per_arm_per_day", 0.0),
    )
    logger.info("compared %s phase %d: %s", prepared.experiment, prepared.phase, verdict.status)
    return Comparison(
        experiment=prepared.experiment,
        phase=prepared.phase,
        generated_at=datetime.now(UTC),
        window=window,
        control=control,
        analysis=analysis,
        alpha=rule.alpha,
        failure_margin=rule.failure_margin,
        arms=arms,
        srm=srm,
        comparisons=adjust(rows, rule.alpha),
        power=power,
        observations=summarise_observations(observations, arm_names),
        verdict=verdict,
        notes=prepared.notes,
        rule=rule,
        data=frame,
    )
