"""bakeoff: a testbed and routing shim that decides a job-system migration with evidence.

The public API: the :class:`Router` shim and its :class:`Experiment`, and the contract values
(:class:`ImportRequest`, :class:`Submission`, :class:`JobState`, ...). Heavy parts load on first use.
"""

from __future__ import annotations

from typing import Any

from bakeoff._lazy import lazy_attributes
from bakeoff.contract import (
    BakeoffError,
    ConfigurationError,
    DatabaseUnavailable,
    Health,
    ImportRequest,
    InvalidRequest,
    JobBackend,
    JobState,
    Submission,
    SubmitFailed,
)

_lazy_getattr = lazy_attributes(__name__, {"Router": "bakeoff.router", "Experiment": "bakeoff.router"})

__all__ = [
    "BakeoffError",
    "ConfigurationError",
    "DatabaseUnavailable",
    "Experiment",
    "Health",
    "ImportRequest",
    "InvalidRequest",
    "JobBackend",
    "JobState",
    "Router",
    "Submission",
    "SubmitFailed",
    "__version__",
]


def _version() -> str:
    # Read on first use: importlib.metadata is a noticeable part of a spawned child's start-up.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bakeoff")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return _version()
    return _lazy_getattr(name)
