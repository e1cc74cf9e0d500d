"""How long the default ``bakeoff demo`` takes on this machine, from an empty data dir (target <= 90 s).

Runs the real CLI in a subprocess on a fresh embedded PostgreSQL and prints the wall time, the
demo's own elapsed time, and per-arm counts. Also runs ``bakeoff stress auditor`` with the full
200 x 4 shape unless ``--no-stress`` is given.

    python benchmarks/demo_bench.py [--imports 300] [--no-stress]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def bakeoff(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=3600,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports", type=int, default=300)
    parser.add_argument("--no-stress", action="store_true")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bakeoff-demo-bench-"))
    env = {"BAKEOFF_DATA_DIR": str(data_dir), "BAKEOFF_DATABASE_URL": ""}
    try:
        started = time.monotonic()
        out = data_dir / "report"
        result = bakeoff(["demo", "--imports", str(args.imports), "--out", str(out), "--json"], env)
        wall = time.monotonic() - started
        if result.returncode != 0:
            sys.exit(f"demo failed ({result.returncode}): {result.stderr[-2000:]}")
        summary = json.loads(result.stdout)
        print(
            f"bakeoff demo --imports {args.imports}: {wall:.1f} s wall from an empty data dir "
            f"(demo's own elapsed {summary['elapsed_seconds']} s; target <= 90 s)"
        )
        print(
            f"  all terminal: {summary['all_terminal']}, open: {summary['open_jobs']}, "
            f"submit errors: {len(summary['submit_errors'])}"
        )
        print(f"  routed per arm: {summary['submissions_by_arm']}")
        print(f"  verdict: {summary['verdict']['status']}")
        if not args.no_stress:
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
