"""How long the default ``bakeoff demo`` takes on this machine, from an empty data dir (target <= 90 s).

Runs the real CLI in a subprocess on a fresh embedded PostgreSQL (a new data dir per run) and
prints, per run, the wall time, the demo's own elapsed time and per-arm counts, then the median and
the worst run. Each demo is a fresh experiment with its own salt, so which arm meets the corpus's
slow or failing pages changes from run to run: one run says little. Also runs
``bakeoff stress auditor`` with the full 200 x 4 shape unless ``--no-stress`` is given.

    python benchmarks/demo_bench.py [--runs 3] [--imports 300] [--inngest-retry-interval 5] [--no-stress]

``--inngest-retry-interval 0`` times the demo with Inngest's default backoff table instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bakeoff.trial import DEMO_INNGEST_RETRY_INTERVAL


def bakeoff(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=3600,
    )


def time_demo(imports: int, retry_interval: int) -> tuple[float, dict[str, Any]]:
    """One default demo on a new embedded PostgreSQL: wall seconds and the demo's JSON summary."""
    data_dir = Path(tempfile.mkdtemp(prefix="bakeoff-demo-bench-"))
    env = {"BAKEOFF_DATA_DIR": str(data_dir), "BAKEOFF_DATABASE_URL": ""}
    try:
        started = time.monotonic()
        result = bakeoff(
            [
                "demo",
                "--imports",
                str(imports),
                "--inngest-retry-interval",
                str(retry_interval),
                "--out",
                str(data_dir / "report"),
                "--json",
            ],
            env,
        )
        wall = time.monotonic() - started
        if result.returncode != 0:
            sys.exit(f"demo failed ({result.returncode}): {result.stderr[-2000:]}")
        summary: dict[str, Any] = json.loads(result.stdout)
        return wall, summary
    finally:
        bakeoff(["db", "stop"], env)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--imports", type=int, default=300)
    parser.add_argument("--inngest-retry-interval", type=int, default=DEMO_INNGEST_RETRY_INTERVAL)
    parser.add_argument("--no-stress", action="store_true")
    args = parser.parse_args()
    walls = []
    for run in range(1, args.runs + 1):
        load = os.getloadavg()[0]
        wall, summary = time_demo(args.imports, args.inngest_retry_interval)
        walls.append(wall)
        print(
            f"run {run}: bakeoff demo --imports {args.imports} --inngest-retry-interval "
            f"{args.inngest_retry_interval}: {wall:.1f} s wall from an empty data dir "
            f"(demo's own elapsed {summary['elapsed_seconds']} s; load average {load:.1f} at the start)"
        )
        print(
            f"  all terminal: {summary['all_terminal']}, open: {summary['open_jobs']}, "
            f"submit errors: {len(summary['submit_errors'])}, verdict: {summary['verdict']['status']}"
        )
        print(f"  routed per arm: {summary['submissions_by_arm']}")
    print(
        f"{args.runs} runs: median {statistics.median(walls):.1f} s, worst {max(walls):.1f} s "
        f"(target <= 90 s: {'met' if max(walls) <= 90 else 'MISSED'} by the worst run)"
    )
    if not args.no_stress:
        stress_figures()


def stress_figures() -> None:
    """``bakeoff stress auditor`` at the full 200 x 4 on its own fresh embedded PostgreSQL."""
    data_dir = Path(tempfile.mkdtemp(prefix="bakeoff-stress-bench-"))
    env = {"BAKEOFF_DATA_DIR": str(data_dir), "BAKEOFF_DATABASE_URL": ""}
    try:
        started = time.monotonic()
        stress = bakeoff(["stress", "auditor", "--chunks", "200", "--plugins", "4", "--json"], env)
        if stress.returncode != 0:
            sys.exit(f"stress failed: {stress.stderr[-2000:]}")
        print(f"bakeoff stress auditor 200 x 4: {time.monotonic() - started:.1f} s wall")
        for row in json.loads(stress.stdout):
            print(
                f"  {row['arm']:8} {row['wall_seconds']:7.2f} s  "
                f"{row['operations_per_second']:7.1f} ops/s  "
                f"units {row['units_created']:4}  peak in flight {row['peak_in_flight']:4}  "
                f"limit hit: {row['limit_hit'] or 'no'}  style: {row['style']}"
            )
    finally:
        bakeoff(["db", "stop"], env)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
