"""Days to decision as a predictive forecast: the trial's future simulated under what is known now.

A single projection of the current estimates through the decision rules cannot say how uncertain
the answer is, and it was off by factors of 2 to 10 in both directions. Instead, each of
``FORECAST_DRAWS`` draws

1. draws what is true from what is known now. Each candidate's failure rate either *is* the
   control's or is its own, with the posterior probability of each (beta-binomial marginal
   likelihoods, Jeffreys priors, even prior odds); a shared rate is drawn from the pooled Beta
   posterior, an own rate from the arm's. Log-latency means likewise (normal test of the difference
   against a unit-information prior). Each arm's log-latency variance comes from its scaled inverse
   chi-square sampling distribution. The arms import the same URLs, so "the same as the control" is
   a real possibility, and it is exactly the case where a decision takes longest: with independent
   flat posteriors ("flat") the spread of the drawn differences made the forecast 2-4x too early on
   equal arms. "pooled" (a DerSimonian-Laird random-effects model) is kept for comparison;
2. simulates the coming days at each arm's observed rate of finished jobs (Poisson jobs per day,
   binomial failures, the day's completed jobs' log-latency mean and sum of squares drawn exactly
   for normal log latencies), adding them to the jobs already seen;
3. applies the report's own rule after every simulated day -- :func:`decide_pair` on each candidate's
   cumulative summary and :func:`decision_reached` over the candidates, the code path the verdict
   uses -- and records the first day the report would leave ``insufficient_data``.

Everything is vectorised over draws and days, in chunks of days; draws that have decided drop out.
The result: the median number of more days, the 80% interval, the chance of a decision within 14,
30, 60 and 90 days, and "no decision in sight" (under 10% within 365 days) with the jobs per arm
per day that would bring a decision within 90 days at even odds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

from bakeoff.analysis.decision import DecisionRule, PairSummary, decide_pair, decision_reached

__all__ = [
    "FORECAST_DRAWS",
    "HORIZON_DAYS",
    "IN_SIGHT_DAYS",
    "WITHIN_DAYS",
    "ArmNow",
    "DaysForecast",
    "Prior",
    "days_phrase",
    "decided_forecast",
    "forecast_days",
]

FloatArray = NDArray[np.float64]
Prior = Literal["averaged", "pooled", "flat"]

FORECAST_DRAWS = 1000
FORECAST_SEED = 23
"""Fixed, so the same data always gives the same report."""
HORIZON_DAYS = 1095
"""Three years of nightly looks: beyond that the forecast says "more than 1095 days"."""
IN_SIGHT_DAYS = 365
IN_SIGHT_PROBABILITY = 0.10
WITHIN_DAYS = (14, 30, 60, 90)
NEEDED_WITHIN_DAYS = 90
NEEDED_DRAWS = 400
NEEDED_MAX_SCALE = 2.0**16
CHUNK_DAYS = 64
JEFFREYS = 0.5


@dataclass(frozen=True, kw_only=True)
class ArmNow:
    """What is known of one arm now: finished jobs, failures, completed jobs' log-latency moments."""

    decided: int
    failed: int
    latency_n: int
    log_mean: float
    log_var: float
    per_day: float
    """Finished (completed or failed) jobs of this arm per day."""


@dataclass(frozen=True, kw_only=True)
class DaysForecast:
    """The predictive distribution of the number of more nightly looks until a decision.

    The median and the interval's ends are ``None`` beyond the horizon; when no decision is in sight
    the simulation stops at 365 days, so they are ``None`` unless within it."""

    days: FloatArray = field(repr=False, compare=False)
    """Per draw, the first look (1 = tomorrow) that decides; ``inf`` when none within the horizon."""
    jobs_per_arm_per_day: float
    needed_jobs_per_arm_per_day: float | None = None

    @property
    def draws(self) -> int:
        return int(self.days.size)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile of the days (an actual draw's value); ``None`` beyond the horizon."""
        ordered = np.sort(self.days)
        value = float(ordered[max(math.ceil(q * ordered.size) - 1, 0)])
        return value if math.isfinite(value) else None

    def probability_within(self, days: float) -> float:
        return float(np.mean(self.days <= days))

    @property
    def no_decision_in_sight(self) -> bool:
        return self.probability_within(IN_SIGHT_DAYS) < IN_SIGHT_PROBABILITY

    def to_dict(self) -> dict[str, Any]:
        """The ``power.days_to_decision`` object of the JSON contract."""
        in_sight = not self.no_decision_in_sight
        return {
            "median": self.quantile(0.5),
            "interval_80": [self.quantile(0.1), self.quantile(0.9)],
            "probability_within": {str(d): self.probability_within(d) for d in WITHIN_DAYS},
            "probability_within_365": self.probability_within(IN_SIGHT_DAYS),
            "no_decision_in_sight": not in_sight,
            "needed_jobs_per_arm_per_day": None if in_sight else self.needed_jobs_per_arm_per_day,
            "jobs_per_arm_per_day": self.jobs_per_arm_per_day,
            "draws": self.draws,
            "horizon_days": HORIZON_DAYS,
        }


def decided_forecast(jobs_per_arm_per_day: float) -> DaysForecast:
    """The forecast when the report has decided already: zero more days, with certainty."""
    return DaysForecast(days=np.zeros(1), jobs_per_arm_per_day=jobs_per_arm_per_day)


@dataclass
class _Cumulative:
    """Running totals of the simulated arms for the draws still undecided."""

    decided: FloatArray
    failed: FloatArray
    latency_n: FloatArray
    log_sum: FloatArray
    log_sq: FloatArray

    def take(self, keep: NDArray[np.bool_]) -> _Cumulative:
        return _Cumulative(
            *(getattr(self, f)[keep] for f in ("decided", "failed", "latency_n", "log_sum", "log_sq"))
        )


@dataclass
class _Truth:
    """One draw per row of each arm's true failure rate, log-latency mean and sd, and daily rate."""

    rate: FloatArray
    mu: FloatArray
    sigma: FloatArray
    per_day: float

    def take(self, keep: NDArray[np.bool_]) -> _Truth:
        return _Truth(self.rate[keep], self.mu[keep], self.sigma[keep], self.per_day)


def _pooled(arms: Mapping[str, ArmNow]) -> tuple[float, float]:
    """Log-latency mean and variance over every arm with at least two completed jobs."""
    usable = [a for a in arms.values() if a.latency_n >= 2 and math.isfinite(a.log_var)]
    if not usable:
        return 0.0, 1.0
    n = sum(a.latency_n for a in usable)
    mean = sum(a.log_mean * a.latency_n for a in usable) / n
    var = sum((a.latency_n - 1) * a.log_var for a in usable) / max(n - len(usable), 1)
    return mean, max(var, 1e-12)


def _partially_pooled(y: FloatArray, v: FloatArray, draws: int, rng: np.random.Generator) -> FloatArray:
    """Draws (draws x arms) of each arm's true value under a normal random-effects model: the arms'
    true values spread around a common mean by tau, estimated by DerSimonian-Laird from how much
    more the observed values differ than their standard errors allow. tau = 0 pools them fully."""
    w = 1 / v
    mean_w = float(np.sum(w * y) / np.sum(w))
    q = float(np.sum(w * (y - mean_w) ** 2))
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (q - (y.size - 1)) / c) if c > 0 else 0.0
    w_star = 1 / (v + tau2)
    common = rng.normal(float(np.sum(w_star * y) / np.sum(w_star)), math.sqrt(1 / np.sum(w_star)), size=draws)
    if tau2 == 0:
        return np.repeat(common[:, None], y.size, axis=1)
    precision = 1 / v + 1 / tau2
    centre = (y / v + common[:, None] / tau2) / precision
    spread: FloatArray = centre + rng.standard_normal((draws, y.size)) / np.sqrt(precision)
    return spread


def _log_beta(a: FloatArray | float, b: FloatArray | float) -> FloatArray:
    return np.asarray(gammaln(a) + gammaln(b) - gammaln(np.add(a, b)), dtype=float)


def same_failure_probability(candidate: ArmNow, control: ArmNow) -> float:
    """Posterior probability that the candidate's true failure rate is the control's: the
    beta-binomial marginal likelihoods of one shared rate and of two rates (Jeffreys priors), even
    prior odds."""
    a = b = JEFFREYS
    x1, n1, x2, n2 = candidate.failed, candidate.decided, control.failed, control.decided
    same = _log_beta(x1 + x2 + a, n1 + n2 - x1 - x2 + b) - _log_beta(a, b)
    apart = _log_beta(x1 + a, n1 - x1 + b) + _log_beta(x2 + a, n2 - x2 + b) - 2 * _log_beta(a, b)
    return float(1 / (1 + np.exp(np.clip(apart - same, -700, 700))))


def same_latency_probability(y: FloatArray, v: FloatArray, n: FloatArray, i: int) -> float:
    """Posterior probability that arm ``i``'s true log-latency mean is the control's (arm 0): a
    normal test of the difference against a unit-information prior on it (the prior that BIC
    implies: the variance of one job's difference, 2 sigma^2), even prior odds."""
    se2 = v[i] / n[i] + v[0] / n[0]
    unit = v[i] + v[0]
    d2 = (y[i] - y[0]) ** 2
    log_bf01 = 0.5 * math.log((se2 + unit) / se2) - 0.5 * d2 * (1 / se2 - 1 / (se2 + unit))
    return float(1 / (1 + math.exp(min(max(-log_bf01, -700.0), 700.0))))


def _averaged(
    same: NDArray[np.bool_],
    pooled: Callable[[list[int], int], FloatArray],
    own: Callable[[int, int], FloatArray],
) -> FloatArray:
    """Draws (draws x arms; arm 0 the control) of the arms' true values where each candidate either
    shares the control's value (``same``, drawn per draw) or has its own."""
    draws, candidates = same.shape
    values = np.empty((draws, candidates + 1))
    for mask in {tuple(bool(x) for x in row) for row in same}:
        rows = np.all(same == np.array(mask), axis=1)
        group = [0, *(i + 1 for i, shared in enumerate(mask) if shared)]
        shared_value = pooled(group, int(rows.sum()))
        for arm in range(candidates + 1):
            values[rows, arm] = shared_value if arm in group else own(arm, int(rows.sum()))
    return values


def _draw_averaged(
    arms: list[ArmNow], lat_y: FloatArray, lat_v: FloatArray, draws: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Failure rates and log-latency means (draws x arms, control first) under Bayesian model
    averaging over "this candidate is the same as the control" and "it differs". ``lat_v``: each
    arm's per-job log-latency variance."""
    x = np.array([a.failed for a in arms], dtype=float)
    n = np.array([a.decided for a in arms], dtype=float)
    lat_n = np.array([max(a.latency_n, 1) for a in arms], dtype=float)
    p_fail = [same_failure_probability(arms[i], arms[0]) for i in range(1, len(arms))]
    p_lat = [same_latency_probability(lat_y, lat_v, lat_n, i) for i in range(1, len(arms))]
    same_fail = rng.random((draws, len(arms) - 1)) < np.array(p_fail)
    same_lat = rng.random((draws, len(arms) - 1)) < np.array(p_lat)
    rates = _averaged(
        same_fail,
        lambda group, m: rng.beta(x[group].sum() + JEFFREYS, (n[group] - x[group]).sum() + JEFFREYS, size=m),
        lambda arm, m: rng.beta(x[arm] + JEFFREYS, n[arm] - x[arm] + JEFFREYS, size=m),
    )
    precision = lat_n / lat_v

    def pooled_mean(group: list[int], m: int) -> FloatArray:
        weight = precision[group]
        return rng.normal(float(np.sum(weight * lat_y[group]) / weight.sum()), math.sqrt(1 / weight.sum()), m)

    mus = _averaged(
        same_lat, pooled_mean, lambda arm, m: rng.normal(lat_y[arm], math.sqrt(1 / precision[arm]), m)
    )
    return rates, mus


def _draw_truths(
    arms: Mapping[str, ArmNow],
    pooled: tuple[float, float],
    draws: int,
    rng: np.random.Generator,
    prior: Prior,
    control: str,
) -> dict[str, _Truth]:
    names = [control, *(name for name in arms if name != control)]
    arms = {name: arms[name] for name in names}
    sigma2 = {}
    for name, arm in arms.items():
        if arm.latency_n >= 2 and math.isfinite(arm.log_var) and arm.log_var > 0:
            dof = arm.latency_n - 1
            sigma2[name] = arm.log_var * dof / rng.chisquare(dof, size=draws)
        else:  # fewer than two latencies: the pooled spread
            sigma2[name] = np.full(draws, pooled[1])
    # The arm's latency mean as observed, with its standard error; an arm without one counts as
    # one job at the pooled mean and spread.
    lat_y = np.array([a.log_mean if a.latency_n else pooled[0] for a in arms.values()])
    lat_v = np.array(
        [a.log_var / a.latency_n if a.latency_n >= 2 and a.log_var > 0 else pooled[1] for a in arms.values()]
    )
    if prior == "averaged":
        job_var = np.array(
            [a.log_var if a.latency_n >= 2 and a.log_var > 0 else pooled[1] for a in arms.values()]
        )
        rates, mus = _draw_averaged(list(arms.values()), lat_y, job_var, draws, rng)
    elif prior == "flat":
        rates = np.column_stack(
            [
                rng.beta(a.failed + JEFFREYS, a.decided - a.failed + JEFFREYS, size=draws)
                for a in arms.values()
            ]
        )
        mus = lat_y + rng.standard_normal((draws, len(names))) * np.sqrt(
            np.column_stack([sigma2[n] for n in names]) / np.maximum([a.latency_n for a in arms.values()], 1)
        )
    else:
        shrunk = np.array([(a.failed + JEFFREYS) / (a.decided + 2 * JEFFREYS) for a in arms.values()])
        fail_v = shrunk * (1 - shrunk) / np.array([a.decided + 2 * JEFFREYS for a in arms.values()])
        rates = np.clip(_partially_pooled(shrunk, fail_v, draws, rng), 1e-6, 1 - 1e-6)
        mus = _partially_pooled(lat_y, lat_v, draws, rng)
    return {
        name: _Truth(rate=rates[:, i], mu=mus[:, i], sigma=np.sqrt(sigma2[name]), per_day=arms[name].per_day)
        for i, name in enumerate(names)
    }


def _start(arm: ArmNow, draws: int) -> _Cumulative:
    n = float(arm.latency_n)
    mean = arm.log_mean if n else 0.0
    var = arm.log_var if n >= 2 and math.isfinite(arm.log_var) else 0.0
    return _Cumulative(
        decided=np.full(draws, float(arm.decided)),
        failed=np.full(draws, float(arm.failed)),
        latency_n=np.full(draws, n),
        log_sum=np.full(draws, n * mean),
        log_sq=np.full(draws, (n - 1) * var + n * mean**2 if n else 0.0),
    )


def _simulate_days(
    truth: _Truth, now: _Cumulative, days: int, scale: float, rng: np.random.Generator
) -> tuple[_Cumulative, dict[str, FloatArray]]:
    """``days`` more days of one arm: cumulative totals after each day, shape (draws, days)."""
    shape = (truth.rate.size, days)
    new = rng.poisson(truth.per_day * scale, size=shape).astype(float)
    failed = rng.binomial(new.astype(np.int64), truth.rate[:, None]).astype(float)
    completed = new - failed
    sigma = truth.sigma[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        # The day's completed jobs: their mean log latency ~ N(mu, sigma^2 / k) and their sum of
        # squared deviations ~ sigma^2 chi2(k - 1), exactly, for normal log latency.
        day_mean = truth.mu[:, None] + sigma * rng.standard_normal(shape) / np.sqrt(completed)
        day_ss = sigma**2 * rng.chisquare(np.maximum(completed - 1, 1), size=shape)
    day_mean = np.where(completed > 0, day_mean, 0.0)
    day_ss = np.where(completed > 1, day_ss, 0.0)
    totals = {
        "decided": now.decided[:, None] + np.cumsum(new, axis=1),
        "failed": now.failed[:, None] + np.cumsum(failed, axis=1),
        "latency_n": now.latency_n[:, None] + np.cumsum(completed, axis=1),
        "log_sum": now.log_sum[:, None] + np.cumsum(completed * day_mean, axis=1),
        "log_sq": now.log_sq[:, None] + np.cumsum(day_ss + completed * day_mean**2, axis=1),
    }
    last = _Cumulative(**{name: values[:, -1] for name, values in totals.items()})
    return last, totals


def _moments(t: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    n = t["latency_n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = t["log_sum"] / n
        var = (t["log_sq"] - n * mean**2) / (n - 1)
    return mean, np.where(n >= 2, np.maximum(var, 0.0), np.nan)


def _first_decisions(
    arms: Mapping[str, ArmNow],
    control: str,
    rule: DecisionRule,
    *,
    draws: int,
    horizon: int,
    scale: float,
    seed: int,
    give_up_at: int | None,
    prior: Prior,
) -> FloatArray:
    """Per draw, the first simulated look at which the report decides (``inf``: none by ``horizon``)."""
    rng = np.random.default_rng(seed)
    # Control first, then the candidates in name order: the same arms give the same random streams.
    arms = {name: arms[name] for name in [control, *sorted(name for name in arms if name != control)]}
    pooled = _pooled(arms)
    # Centre log latencies on the control's mean: differences and variances are unchanged, and the
    # running sums of squares stay small enough for float64 at a million jobs.
    centre = arms[control].log_mean if arms[control].latency_n else pooled[0]
    centred = {
        name: ArmNow(**{**a.__dict__, "log_mean": a.log_mean - centre if a.latency_n else 0.0})
        for name, a in arms.items()
    }
    pooled = (pooled[0] - centre, pooled[1])
    truths = _draw_truths(centred, pooled, draws, rng, prior, control)
    states = {name: _start(a, draws) for name, a in centred.items()}
    result = np.full(draws, np.inf)
    active = np.arange(draws)
    done = 0
    while done < horizon and active.size:
        days = min(CHUNK_DAYS, horizon - done)
        if give_up_at is not None and done < give_up_at < done + days:
            days = give_up_at - done
        totals: dict[str, dict[str, FloatArray]] = {}
        for name in arms:
            states[name], totals[name] = _simulate_days(truths[name], states[name], days, scale, rng)
        ctrl_mean, ctrl_var = _moments(totals[control])
        verdicts = []
        for name in arms:
            if name == control:
                continue
            cand, ctrl = totals[name], totals[control]
            mean, var = _moments(cand)
            summary = PairSummary(
                n_candidate=cand["decided"],
                failures_candidate=cand["failed"],
                n_control=ctrl["decided"],
                failures_control=ctrl["failed"],
                latency_n_candidate=cand["latency_n"],
                latency_n_control=ctrl["latency_n"],
                log_mean_difference=np.where(
                    (cand["latency_n"] > 0) & (ctrl["latency_n"] > 0), mean - ctrl_mean, 0.0
                ),
                log_var_candidate=var,
                log_var_control=ctrl_var,
            )
            verdicts.append(decide_pair(summary, rule))
        reached = decision_reached(verdicts)
        hit = reached.any(axis=1)
        result[active[hit]] = done + 1 + np.argmax(reached[hit], axis=1)
        done += days
        keep: NDArray[np.bool_] = np.logical_not(hit)
        active = active[keep]
        truths = {name: t.take(keep) for name, t in truths.items()}
        states = {name: s.take(keep) for name, s in states.items()}
        if done == give_up_at and 1 - active.size / draws < IN_SIGHT_PROBABILITY:
            break
    return result


def _needed_scale(
    arms: Mapping[str, ArmNow], control: str, rule: DecisionRule, seed: int, prior: Prior
) -> float | None:
    """The smallest traffic multiplier at which a decision within 90 days is at least even odds."""

    def even_odds(scale: float) -> bool:
        days = _first_decisions(
            arms, control, rule, draws=NEEDED_DRAWS, horizon=NEEDED_WITHIN_DAYS, scale=scale, seed=seed,
            give_up_at=None, prior=prior,
        )  # fmt: skip
        return bool(np.mean(np.isfinite(days)) >= 0.5)

    low, high = 1.0, 2.0
    while not even_odds(high):
        low, high = high, high * 2
        if high > NEEDED_MAX_SCALE:
            return None
    for _ in range(6):  # bisection in log space: within ~6% of the threshold
        middle = math.sqrt(low * high)
        low, high = (low, middle) if even_odds(middle) else (middle, high)
    return high


def forecast_days(
    arms: Mapping[str, ArmNow],
    control: str,
    rule: DecisionRule,
    jobs_per_arm_per_day: float,
    *,
    draws: int = FORECAST_DRAWS,
    seed: int = FORECAST_SEED,
    prior: Prior = "averaged",
) -> DaysForecast | None:
    """Simulate the trial's future ``draws`` times; ``None`` when some arm has no finished job yet."""
    if control not in arms or len(arms) < 2:
        return None
    if any(a.decided <= 0 or a.per_day <= 0 for a in arms.values()):
        return None
    days = _first_decisions(
        arms,
        control,
        rule,
        draws=draws,
        horizon=HORIZON_DAYS,
        scale=1.0,
        seed=seed,
        give_up_at=IN_SIGHT_DAYS,
        prior=prior,
    )
    forecast = DaysForecast(days=days, jobs_per_arm_per_day=jobs_per_arm_per_day)
    if forecast.no_decision_in_sight:
        scale = _needed_scale(arms, control, rule, seed, prior)
        needed = None if scale is None else scale * jobs_per_arm_per_day
        forecast = DaysForecast(
            days=days, jobs_per_arm_per_day=jobs_per_arm_per_day, needed_jobs_per_arm_per_day=needed
        )
    return forecast


def _days_word(days: float) -> str:
    return f"{days:.0f} {'day' if round(days) == 1 else 'days'}"


def days_phrase(body: Mapping[str, Any]) -> str:
    """How many more days, in words, from the ``days_to_decision`` object: the verdict and the power
    line both say it with this function, so they always give the same number."""
    if body["no_decision_in_sight"]:
        needed = body.get("needed_jobs_per_arm_per_day")
        more = (
            f"about {needed:.0f} jobs per arm per day would bring one within {NEEDED_WITHIN_DAYS} days"
            if needed is not None
            else f"not even {NEEDED_MAX_SCALE:.0f} times the traffic would bring one within "
            f"{NEEDED_WITHIN_DAYS} days"
        )
        chance = body["probability_within_365"]
        return f"no decision in sight ({chance:.0%} chance within {IN_SIGHT_DAYS} days); {more}"
    median = body["median"]
    if median == 0:
        return "decided now"
    low, high = body["interval_80"]

    def bound(value: float | None) -> str:
        return f"over {HORIZON_DAYS}" if value is None else f"{value:.0f}"

    centre = (
        f"more than {HORIZON_DAYS} more days"
        if median is None
        else f"about {_days_word(median).replace(' ', ' more ', 1)}"
    )
    within = body["probability_within"]["30"]
    return f"{centre} (80%: {bound(low)}-{bound(high)}); {within:.0%} chance of a decision within 30 days"
