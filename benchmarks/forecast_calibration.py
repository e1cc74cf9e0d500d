"""Is the days-to-decision forecast right about as often as it says? Issue 23's four scenarios.

    python benchmarks/forecast_calibration.py [--trials 100] [--seed 2312] [--prior averaged|pooled|flat]

For each scenario, ``--trials`` synthetic trials: the report (``compare()``) after day 14 records its
forecast; the same trial continues, looked at every night by the same rule, until its first
decision (or 1,095 more days). Prints per scenario the share of trials decided by the forecast's
median (target 40-60%), the share whose actual day falls inside the 80% interval (target 70-90%),
and the mean absolute error of the median in days.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bakeoff.analysis.simulate import CALIBRATION_SCENARIOS, forecast_calibration


def _flag(value: float, low: float, high: float) -> str:
    return "ok" if low <= value <= high else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2312)
    parser.add_argument(
        "--prior",
        choices=["averaged", "pooled", "flat"],
        default="averaged",
        help="how the forecast draws the arms' true values (the report uses 'averaged')",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for name, spec in CALIBRATION_SCENARIOS.items():
        started = time.perf_counter()
        result = forecast_calibration(spec, args.trials, rng, prior=args.prior)
        checked = len(result.trials)
        actual = np.array([t.actual for t in result.trials])
        medians = np.array([np.inf if t.median is None else t.median for t in result.trials])
        out_of_sight = sum(t.no_decision_in_sight for t in result.trials)
        beyond = int(np.sum(~np.isfinite(actual)))
        iqr = f"{np.percentile(actual, 25):.0f}-{np.percentile(actual, 75):.0f}"
        print(f"{name}")
        print(
            f"  {args.trials} trials: {result.decided_at_look} decided by day 14, {checked} forecasts "
            f"checked ({out_of_sight} 'no decision in sight'); actual more days: median "
            f"{np.median(actual):.0f} (IQR {iqr}, {beyond} beyond 1095); forecast medians: median "
            f"{np.median(medians):.0f}"
        )
        print(
            f"  decided by the forecast median: {result.share_by_median:.1%} "
            f"(target 40-60%: {_flag(result.share_by_median, 0.4, 0.6)}); "
            f"inside the 80% interval: {result.share_in_interval:.1%} "
            f"(target 70-90%: {_flag(result.share_in_interval, 0.7, 0.9)}; before it "
            f"{result.share_before_interval:.0%}, after it {result.share_after_interval:.0%}); "
            f"MAE of the median {result.median_abs_error:.1f} days over {len(result.finite)} trials "
            f"[{time.perf_counter() - started:.0f} s]",
            flush=True,
        )


if __name__ == "__main__":
    main()
