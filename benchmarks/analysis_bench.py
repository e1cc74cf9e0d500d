"""Report time and peak memory on a 1,000,000-job export (targets: <= 20 s, <= 2 GiB).

    python benchmarks/analysis_bench.py [--jobs 1000000] [--format html|md|json]

Writes a synthetic export (Parquet) once, then runs the real ``bakeoff report --input`` in a child
process and prints its wall time and peak resident memory (ru_maxrss of the child). Then prints the
time the days-to-decision forecast adds (target <= 2 s): run on the export's arms even though that
report has decided (the report skips the forecast then), and on the slowest case, a seed-volume A/A
trial whose draws run for up to three simulated years.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bakeoff.analysis import TrialSpec, compare, load_trial, synthetic_trial
from bakeoff.analysis.decision import DecisionRule
from bakeoff.analysis.forecast import ArmNow, forecast_days
from bakeoff.analysis.pairwise import log_stats
from bakeoff.metrics import columns as col


def write_export(path: Path, jobs: int) -> None:
    days = 60
    spec = TrialSpec(
        days=days,
        jobs_per_day=jobs / days,
        failure_rate={"legacy": 0.05, "pgboss": 0.04, "inngest": 0.05},
        median_latency_ms={"legacy": 2500.0, "pgboss": 1800.0, "inngest": 2200.0},
        cancel_rate=0.002,
    )
    df = synthetic_trial(spec, rng=np.random.default_rng(1))
    df[list(col.STORED_COLUMNS)].to_parquet(path, index=False)
    print(f"export: {len(df):,} jobs, {path.stat().st_size / 2**20:.1f} MiB parquet")


def arms_now(df: pd.DataFrame) -> tuple[dict[str, ArmNow], float]:
    """What the report knows of each arm, as the forecast takes it (ITT: by assigned arm)."""
    submitted = df[col.SUBMITTED_AT]
    span = max((submitted.max() - submitted.min()).total_seconds() / 86400, 1.0)
    arms = {}
    for arm in ("legacy", "pgboss", "inngest"):
        rows = df[df[col.ASSIGNED_ARM] == arm]
        completed = rows[col.OUTCOME] == "completed"
        failed = int((rows[col.OUTCOME] == "failed").sum())
        latency = rows.loc[completed, col.LATENCY_MS].to_numpy(dtype=float)
        mean, var, n = log_stats(latency[np.isfinite(latency) & (latency >= 0)])
        decided = int(completed.sum()) + failed
        arms[arm] = ArmNow(
            decided=decided, failed=failed, latency_n=n, log_mean=mean, log_var=var, per_day=decided / span
        )
    rate = min(a.per_day for a in arms.values())
    return arms, rate


def time_forecast(label: str, arms: dict[str, ArmNow], rate: float) -> None:
    started = time.perf_counter()
    cpu = time.process_time()
    forecast = forecast_days(arms, "legacy", DecisionRule(), rate)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    body = forecast.to_dict() if forecast else {}
    print(
        f"forecast on {label}: {elapsed:.2f} s wall, {cpu:.2f} s CPU added (target <= 2 s); "
        f"{body.get('draws')} draws, median {body.get('median')} more days"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["html", "md", "json"], default="html")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "trial.parquet"
        write_export(export, args.jobs)
        out = Path(tmp) / f"report.{args.format}"
        command = [
            sys.executable,
            "-m",
            "bakeoff",
            "report",
            "--input",
            str(export),
            "--format",
            args.format,
            "--out",
            str(out),
        ]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mib = usage.ru_maxrss / 1024
        # CPU seconds next to wall time: on a shared machine the wall clock mostly measures the queue.
        cpu = usage.ru_utime + usage.ru_stime
        print(
            f"bakeoff report --format {args.format} on {args.jobs:,} jobs: exit {result.returncode}, "
            f"{elapsed:.1f} s wall (target <= 20 s), {cpu:.1f} s CPU, "
            f"peak RSS {peak_mib:.0f} MiB (target <= 2048 MiB)"
        )
        if result.returncode not in (0, 3):
            print(result.stderr, file=sys.stderr)
            sys.exit(1)
        time_forecast(f"the {args.jobs:,}-job export's arms", *arms_now(load_trial(export)))
    seed_aa = synthetic_trial(TrialSpec(days=14, jobs_per_day=30), rng=np.random.default_rng(5))
    print(f"(seed-volume A/A at day 14: verdict {compare(seed_aa).verdict.status})")
    time_forecast("a seed-volume A/A trial at day 14", *arms_now(seed_aa))


if __name__ == "__main__":
    main()
