"""Errors the analysis raises on misuse.

Hierarchy (rooted at :class:`bakeoff.contract.BakeoffError`)::

    BakeoffError
    └── AnalysisError              the comparison cannot be made at all
        └── AnalysisInputError     also a ValueError: bad input; the message names the field or column

Broken *data* (NaNs, negative durations, an unexpected arm, a sample ratio mismatch) is not an
error: it yields a Comparison whose verdict is ``invalid`` with the reason, so a nightly report still
renders and says what is wrong.
"""

from __future__ import annotations

from bakeoff.contract import BakeoffError

__all__ = ["AnalysisError", "AnalysisInputError"]


class AnalysisError(BakeoffError):
    """The comparison cannot be made (for example: nothing to compare)."""


class AnalysisInputError(AnalysisError, ValueError):
    """An argument or input column is wrong; the message names it."""
