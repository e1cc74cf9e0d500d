"""Small timing helpers the benchmark scripts share (each script runs as ``python benchmarks/NAME.py``,
which puts this folder on ``sys.path``)."""

from __future__ import annotations

import itertools


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank quantile ``q`` (0 to 1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def gaps_ms(marks: list[float]) -> list[float]:
    """Milliseconds between consecutive marks (e.g. the starts of a run's no-op step bodies: the overhead)."""
    return [(b - a) * 1000 for a, b in itertools.pairwise(marks)]
