"""Report time and peak memory on a 1,000,000-job export (targets: <= 20 s, <= 2 GiB).

    python benchmarks/analysis_bench.py [--jobs 1000000] [--format html|md|json]

Writes a synthetic export (Parquet) once, then runs the real ``bakeoff report --input`` in a child
process and prints its wall time and peak resident memory (ru_maxrss of the child).
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

from bakeoff.analysis import TrialSpec, synthetic_trial
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


if __name__ == "__main__":
    main()
