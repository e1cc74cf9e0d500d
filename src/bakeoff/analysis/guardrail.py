"""The guardrail: cut off a candidate arm that is hurting users while the trial runs.

:func:`check` is a pure function of a trial frame (what ``load_trial`` returns) and a
:class:`GuardrailSpec`. For each live candidate it runs two one-sided anytime-valid tests against the
control, so it can be evaluated every few minutes without the false alarms repeated ordinary tests
give (GrowthBook safe rollouts and LaunchDarkly guarded rollouts do the same; Argo Rollouts and
Flagger compare fixed thresholds without any correction):

* **failure rate**: the lower bound of the one-sided confidence sequence on ``p_candidate -
  p_control`` (the verdict's sequence, :mod:`bakeoff.analysis.sequential`) is above
  ``failure_margin``;
* **p95 latency**: the lower bound of a one-sided confidence sequence on ``log p95_candidate - log
  p95_control`` is above ``log(latency_ratio)``. The standard error of a log quantile comes from the
  order statistics around it (the Price-Bonett / Woodruff form GrowthBook's quantile metrics use):
  ``(log x(r_hi) - log x(r_lo)) / (2 z)`` with ranks ``n q -/+ z sqrt(n q (1 - q))``.

Each candidate's each metric is tested at ``alpha`` (``correction="none"``, the default, as guarded
rollouts test each guardrail metric on its own): a candidate within a margin is killed on that
metric with probability at most ``alpha`` over the whole phase, looked at any number of times. With
two candidates the worst case of *any* false kill is therefore 4 x alpha, reached only when every
candidate sits exactly on both margins; identical arms are far from the margins and are practically
never killed (``benchmarks/guardrail_simulations.py`` measures both). ``correction="bonferroni"``
splits alpha over candidates x metrics for a strict family-wise bound, at a cost in power: a 5% ->
15% failure rate is then caught in ~87% of 30-day trials instead of ~93%.

A sample-ratio mismatch or an arm without traffic is an :class:`Alert`, never a kill: routing or a
worker is broken, and the comparison cannot be trusted either way.

The vectorised helpers (:func:`failure_lower_bound`, :func:`quantile_ranks`,
:func:`log_ratio_lower_bound`) are what ``benchmarks/guardrail_simulations.py`` runs on thousands
of looks at once, so the simulation checks exactly the rule the guard applies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from bakeoff.analysis.errors import AnalysisInputError
from bakeoff.analysis.frame import check_columns
from bakeoff.analysis.sequential import DEFAULT_TUNING, failure_difference_se, halfwidth
from bakeoff.analysis.stats import sample_ratio_test
from bakeoff.metrics import columns as col

__all__ = [
    "QUANTILE_Z",
    "Alert",
    "GuardrailCheck",
    "GuardrailResult",
    "GuardrailSpec",
    "check",
    "failure_lower_bound",
    "log_ratio_lower_bound",
    "per_test_alpha",
    "quantile_ranks",
]

Metric = Literal["failure_rate", "latency_p95"]
Correction = Literal["none", "bonferroni"]
AlertKind = Literal["sample_ratio_mismatch", "no_traffic"]
METRICS: tuple[Metric, ...] = ("failure_rate", "latency_p95")
QUANTILE_Z = 1.959963984540054
"""z of the order-statistic interval whose width gives a quantile's standard error (any z gives a
consistent estimate; 1.96 is GrowthBook's and needs ~73 jobs per arm for a p95)."""
SRM_THRESHOLD = 0.001
SRM_MIN_PER_ARM = 8
"""The report's SRM rule (chi-square p < 0.001 once every arm has 8 jobs), so the two agree."""


@dataclass(frozen=True, kw_only=True)
class GuardrailSpec:
    """What counts as harm, and how sure the guard must be before it acts.

    ``failure_margin`` is in absolute points (0.05 = 5 points above the control's rate);
    ``latency_ratio`` is the candidate's p95 over the control's; ``min_jobs`` is the number of
    finished jobs each arm needs before its failure rate is tested (a p95 also needs enough jobs for
    its order-statistic interval, ~73). ``arms``/``shares`` are the experiment's configured arms and
    weights (for the SRM and no-traffic alerts; default: equal over the arms present) and
    ``killed_arms`` those already cut off, which are not tested again.
    """

    control: str = "legacy"
    failure_margin: float = 0.05
    latency_ratio: float = 2.0
    alpha: float = 0.05
    min_jobs: int = 30
    quantile: float = 0.95
    tuning: float = DEFAULT_TUNING
    correction: Correction = "none"
    arms: Sequence[str] | None = None
    shares: Mapping[str, float] | None = None
    killed_arms: frozenset[str] = frozenset()
    phase: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.failure_margin < 1:
            raise AnalysisInputError(f"failure_margin must be in (0, 1), got {self.failure_margin}")
        if not self.latency_ratio > 1:
            raise AnalysisInputError(f"latency_ratio must be above 1, got {self.latency_ratio}")
        if not 0 < self.alpha < 0.5:
            raise AnalysisInputError(f"alpha must be in (0, 0.5), got {self.alpha}")
        if self.min_jobs < 2:
            raise AnalysisInputError(f"min_jobs must be at least 2, got {self.min_jobs}")
        if not 0 < self.quantile < 1:
            raise AnalysisInputError(f"quantile must be in (0, 1), got {self.quantile}")
        if self.correction not in ("none", "bonferroni"):
            raise AnalysisInputError(f"correction must be 'none' or 'bonferroni', got {self.correction!r}")
        if self.shares is not None and any(w < 0 for w in self.shares.values()):
            raise AnalysisInputError("shares must be non-negative")
        object.__setattr__(self, "killed_arms", frozenset(self.killed_arms))

    def to_dict(self) -> dict[str, Any]:
        return {
            "control": self.control,
            "failure_margin": self.failure_margin,
            "latency_ratio": self.latency_ratio,
            "alpha": self.alpha,
            "min_jobs": self.min_jobs,
            "quantile": self.quantile,
            "tuning": self.tuning,
            "correction": self.correction,
        }


@dataclass(frozen=True, kw_only=True)
class GuardrailCheck:
    """One one-sided test of one candidate against the control.

    ``estimate`` and ``lower`` are on the metric's own scale: a difference in failure rate, or the
    ratio of p95s; the interval is ``[lower, +inf)``. ``skipped`` says why no test ran (too few
    jobs), in which case the numbers are None.
    """

    arm: str
    metric: Metric
    threshold: float
    n_candidate: int
    n_control: int
    candidate_value: float | None = None
    control_value: float | None = None
    estimate: float | None = None
    lower: float | None = None
    alpha: float = 0.0
    breached: bool = False
    skipped: str | None = None

    def describe(self) -> str:
        """One line with the numbers, for the log, the job event and the observation note."""
        if self.estimate is None or self.lower is None:
            return f"{self.arm} {self.metric}: not tested ({self.skipped})"
        if self.metric == "failure_rate":
            return (
                f"{self.arm} failure rate {_pct(self.candidate_value)} "
                f"vs control {_pct(self.control_value)}: "
                f"difference {self.estimate * 100:+.1f} points, anytime-valid lower bound "
                f"{self.lower * 100:+.1f} (margin {self.threshold * 100:.1f}), "
                f"n {self.n_candidate} vs {self.n_control}"
            )
        return (
            f"{self.arm} p95 latency {self.candidate_value:.0f} ms vs control {self.control_value:.0f} ms: "
            f"ratio {self.estimate:.2f}x, anytime-valid lower bound {self.lower:.2f}x "
            f"(limit {self.threshold:.2f}x), n {self.n_candidate} vs {self.n_control}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "metric": self.metric,
            "threshold": self.threshold,
            "n_candidate": self.n_candidate,
            "n_control": self.n_control,
            "candidate_value": self.candidate_value,
            "control_value": self.control_value,
            "estimate": self.estimate,
            "interval": None if self.lower is None else [self.lower, None],
            "alpha": self.alpha,
            "breached": self.breached,
            "skipped": self.skipped,
        }


@dataclass(frozen=True, kw_only=True)
class Alert:
    """Something a person must look at; never a reason to kill."""

    kind: AlertKind
    message: str
    arm: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "arm": self.arm, "message": self.message}


@dataclass(frozen=True, kw_only=True)
class GuardrailResult:
    """Every test run, the breaches among them, the alerts, and the arms to kill."""

    experiment: str | None
    phase: int | None
    spec: GuardrailSpec
    checks: tuple[GuardrailCheck, ...] = ()
    alerts: tuple[Alert, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def breaches(self) -> tuple[GuardrailCheck, ...]:
        return tuple(c for c in self.checks if c.breached)

    @property
    def kill(self) -> tuple[str, ...]:
        """Arms with at least one breach, in the order they were checked."""
        return tuple(dict.fromkeys(c.arm for c in self.breaches))

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "phase": self.phase,
            "spec": self.spec.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "breaches": [c.to_dict() for c in self.breaches],
            "kill": list(self.kill),
            "alerts": [a.to_dict() for a in self.alerts],
            "notes": list(self.notes),
        }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


# -- the vectorised statistics (shared with the simulation benchmark) -----------------------------


def per_test_alpha(spec: GuardrailSpec, candidates: int) -> float:
    """The alpha of one one-sided test: ``alpha``, or split over candidates x metrics (Bonferroni)."""
    if spec.correction == "none":
        return spec.alpha
    return spec.alpha / (max(candidates, 1) * len(METRICS))


def failure_lower_bound(
    x_candidate: ArrayLike,
    n_candidate: ArrayLike,
    x_control: ArrayLike,
    n_control: ArrayLike,
    alpha: float,
    tuning: float = DEFAULT_TUNING,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(estimate, lower bound) of the one-sided confidence sequence on the failure-rate difference."""
    xc, nc = np.asarray(x_candidate, dtype=float), np.asarray(n_candidate, dtype=float)
    xk, nk = np.asarray(x_control, dtype=float), np.asarray(n_control, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = xc / nc - xk / nk
    se = failure_difference_se(xc, nc, xk, nk)
    width = halfwidth(se, nc + nk, alpha, tuning, one_sided=True)
    lower: NDArray[np.float64] = estimate - width
    return estimate, lower


def quantile_ranks(
    n: ArrayLike, quantile: float, z: float = QUANTILE_Z
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """0-based indices into n sorted values: (estimate, lower, upper, valid).

    The estimate is the order statistic at rank ``ceil(n q)``; lower and upper bracket it by ``z``
    binomial standard deviations. ``valid`` is False where the bracket leaves the sample.
    """
    n_arr = np.asarray(n, dtype=float)
    centre = n_arr * quantile
    spread = z * np.sqrt(n_arr * quantile * (1 - quantile))
    est = np.maximum(np.ceil(centre), 1) - 1
    lo = np.floor(centre - spread) - 1
    hi = np.ceil(centre + spread) - 1
    valid = (lo >= 0) & (hi <= n_arr - 1) & (n_arr >= 2)
    clip = np.maximum(n_arr - 1, 0)
    as_index = [np.clip(v, 0, clip).astype(np.int64) for v in (est, lo, hi)]
    return as_index[0], as_index[1], as_index[2], valid


def log_ratio_lower_bound(
    log_q_candidate: ArrayLike,
    se_candidate: ArrayLike,
    log_q_control: ArrayLike,
    se_control: ArrayLike,
    n_total: ArrayLike,
    alpha: float,
    tuning: float = DEFAULT_TUNING,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(estimate, lower bound) of the one-sided confidence sequence on a difference of log quantiles."""
    estimate = np.asarray(log_q_candidate, dtype=float) - np.asarray(log_q_control, dtype=float)
    se = np.sqrt(np.asarray(se_candidate, dtype=float) ** 2 + np.asarray(se_control, dtype=float) ** 2)
    lower: NDArray[np.float64] = estimate - halfwidth(se, n_total, alpha, tuning, one_sided=True)
    return estimate, lower


def _log_quantile(values: NDArray[np.float64], quantile: float) -> tuple[float, float] | None:
    """(log quantile, its standard error) of positive ``values``; None when n is too small."""
    logs = np.sort(np.log(values))
    est, lo, hi, valid = quantile_ranks(logs.size, quantile)
    if not bool(valid):
        return None
    return float(logs[est]), float((logs[hi] - logs[lo]) / (2 * QUANTILE_Z))


# -- check() -----------------------------------------------------------------------------------


def _phase_frame(trial: pd.DataFrame, phase: int | None) -> tuple[pd.DataFrame, str | None, int | None]:
    check_columns(trial)
    names = sorted(str(v) for v in trial[col.EXPERIMENT].dropna().unique())
    if len(names) > 1:
        raise AnalysisInputError(f"experiment: the frame holds {len(names)} experiments; pass one")
    phases = pd.to_numeric(trial[col.PHASE], errors="coerce")
    chosen = phase if phase is not None else (int(phases.max()) if phases.notna().any() else None)
    frame = trial[phases == chosen] if chosen is not None else trial.iloc[0:0]
    if col.ASSIGNMENT_REASON in frame.columns:
        # Overridden units are pinned by hand (QA, support), not randomised: they prove nothing.
        frame = frame[frame[col.ASSIGNMENT_REASON] != "override"]
    return frame, (names[0] if names else None), chosen


def _arms(frame: pd.DataFrame, spec: GuardrailSpec) -> list[str]:
    if spec.arms is not None:
        arms = list(dict.fromkeys(spec.arms))
    elif spec.shares is not None:
        arms = list(spec.shares)
    else:
        present = {str(a) for a in frame[col.ASSIGNED_ARM].dropna().unique()}
        present |= {str(a) for a in frame[col.SERVED_ARM].dropna().unique()}
        arms = sorted(present)
    if spec.control not in arms:
        raise AnalysisInputError(f"control {spec.control!r} is not one of the arms ({', '.join(arms)})")
    return [spec.control, *(a for a in arms if a != spec.control)]


def _shares(arms: list[str], spec: GuardrailSpec) -> dict[str, float]:
    if spec.shares is None:
        return {arm: 1.0 for arm in arms}
    return {arm: float(spec.shares.get(arm, 0.0)) for arm in arms}


def _alerts(frame: pd.DataFrame, arms: list[str], spec: GuardrailSpec) -> list[Alert]:
    shares = _shares(arms, spec)
    total_share = sum(shares.values())
    assigned = {arm: int((frame[col.ASSIGNED_ARM] == arm).sum()) for arm in arms}
    alerts = []
    live = [arm for arm in arms if shares[arm] > 0]
    if len(live) >= 2 and sum(assigned[a] for a in live) > 0:
        _, p = sample_ratio_test([assigned[a] for a in live], [shares[a] for a in live])
        if min(assigned[a] for a in live) >= SRM_MIN_PER_ARM and p < SRM_THRESHOLD:
            counts = ", ".join(f"{a} {assigned[a]}" for a in live)
            alerts.append(
                Alert(
                    kind="sample_ratio_mismatch",
                    message=f"sample ratio mismatch: assignments {counts} do not match the configured "
                    f"shares (chi-square p = {p:.2g} < {SRM_THRESHOLD}); "
                    "routing or exposure logging is broken",
                )
            )
    total = len(frame)
    finished = frame[col.OUTCOME].isin(("completed", "failed"))
    for arm in live:
        if arm in spec.killed_arms:
            continue
        expected = total * shares[arm] / total_share
        served = int((frame[col.SERVED_ARM] == arm).sum())
        done = int((finished & (frame[col.SERVED_ARM] == arm)).sum())
        if expected >= SRM_MIN_PER_ARM and served == 0:
            message = f"arm {arm} served no job of {total} (about {expected:.0f} expected)"
        elif served >= SRM_MIN_PER_ARM and done == 0:
            message = f"arm {arm} has {served} jobs and none finished: are its workers running?"
        else:
            continue
        alerts.append(Alert(kind="no_traffic", arm=arm, message=message))
    return alerts


@dataclass(frozen=True)
class _ArmData:
    failed: int
    finished: int
    latency_ms: NDArray[np.float64]


def _arm_data(frame: pd.DataFrame, arm: str) -> _ArmData:
    mine = frame[frame[col.SERVED_ARM] == arm]
    completed = mine[col.OUTCOME] == "completed"
    failed = int((mine[col.OUTCOME] == "failed").sum())
    latency = pd.to_numeric(mine.loc[completed, col.LATENCY_MS], errors="coerce").to_numpy(dtype=float)
    # A latency of 0 ms is a clock tie, not an instant import; 1 ms keeps its log finite.
    latency = np.maximum(latency[np.isfinite(latency) & (latency >= 0)], 1.0)
    return _ArmData(failed=failed, finished=int(completed.sum()) + failed, latency_ms=latency)


def _failure_check(
    arm: str, cand: _ArmData, ctrl: _ArmData, spec: GuardrailSpec, alpha: float
) -> GuardrailCheck:
    base: dict[str, Any] = {
        "arm": arm,
        "metric": "failure_rate",
        "threshold": spec.failure_margin,
        "n_candidate": cand.finished,
        "n_control": ctrl.finished,
        "alpha": alpha,
    }
    if min(cand.finished, ctrl.finished) < spec.min_jobs:
        return GuardrailCheck(**base, skipped=f"fewer than {spec.min_jobs} finished jobs in an arm")
    estimate, lower = failure_lower_bound(
        cand.failed, cand.finished, ctrl.failed, ctrl.finished, alpha, spec.tuning
    )
    return GuardrailCheck(
        **base,
        candidate_value=cand.failed / cand.finished,
        control_value=ctrl.failed / ctrl.finished,
        estimate=float(estimate),
        lower=float(lower),
        breached=bool(lower > spec.failure_margin),
    )


def _latency_check(
    arm: str, cand: _ArmData, ctrl: _ArmData, spec: GuardrailSpec, alpha: float
) -> GuardrailCheck:
    base: dict[str, Any] = {
        "arm": arm,
        "metric": "latency_p95",
        "threshold": spec.latency_ratio,
        "n_candidate": int(cand.latency_ms.size),
        "n_control": int(ctrl.latency_ms.size),
        "alpha": alpha,
    }
    if min(cand.latency_ms.size, ctrl.latency_ms.size) < spec.min_jobs:
        return GuardrailCheck(**base, skipped=f"fewer than {spec.min_jobs} completed jobs in an arm")
    q_cand, q_ctrl = (
        _log_quantile(cand.latency_ms, spec.quantile),
        _log_quantile(ctrl.latency_ms, spec.quantile),
    )
    if q_cand is None or q_ctrl is None:
        return GuardrailCheck(
            **base, skipped=f"too few completed jobs for a p{spec.quantile * 100:g} interval"
        )
    estimate, lower = log_ratio_lower_bound(
        q_cand[0],
        q_cand[1],
        q_ctrl[0],
        q_ctrl[1],
        cand.latency_ms.size + ctrl.latency_ms.size,
        alpha,
        spec.tuning,
    )
    ratio_lower = math.exp(float(lower))
    return GuardrailCheck(
        **base,
        candidate_value=math.exp(q_cand[0]),
        control_value=math.exp(q_ctrl[0]),
        estimate=math.exp(float(estimate)),
        lower=ratio_lower,
        breached=bool(ratio_lower > spec.latency_ratio),
    )


def check(trial: pd.DataFrame, spec: GuardrailSpec) -> GuardrailResult:
    """Test every live candidate of ``trial``'s phase against the control; see the module docstring.

    Arms are grouped by ``served_arm`` (what users got: a killed or fallen-back job is the control's
    work), overrides left out. Bad arguments raise :class:`AnalysisInputError`.
    """
    frame, experiment, phase = _phase_frame(trial, spec.phase)
    arms = _arms(frame, spec)
    candidates = [arm for arm in arms[1:] if arm not in spec.killed_arms]
    alpha = per_test_alpha(spec, len(arms) - 1)
    ctrl = _arm_data(frame, spec.control)
    checks: list[GuardrailCheck] = []
    for arm in candidates:
        cand = _arm_data(frame, arm)
        checks += [_failure_check(arm, cand, ctrl, spec, alpha), _latency_check(arm, cand, ctrl, spec, alpha)]
    notes = tuple(f"arm {arm} is already killed; not tested" for arm in arms[1:] if arm in spec.killed_arms)
    return GuardrailResult(
        experiment=experiment,
        phase=phase,
        spec=spec,
        checks=tuple(checks),
        alerts=tuple(_alerts(frame, arms, spec)),
        notes=notes,
    )
