"""Analysis: the nightly comparison report that makes the decision, honestly.

Pure functions over the trial export format: :func:`load_trial` (database or export file) returns the
DataFrame, :func:`compare` computes every statistic and the verdict as a :class:`Comparison`, and the
renderers turn it into self-contained HTML, Markdown or the JSON contract (``Comparison.to_dict()``).
"""

from __future__ import annotations

from bakeoff.analysis.compare import SCHEMA_VERSION, Comparison, compare
from bakeoff.analysis.errors import AnalysisError, AnalysisInputError
from bakeoff.analysis.render import to_html, to_json, to_markdown
from bakeoff.analysis.synthetic import TrialSpec, synthetic_trial
from bakeoff.analysis.verdict import Verdict
from bakeoff.metrics import load_trial

__all__ = [
    "SCHEMA_VERSION",
    "AnalysisError",
    "AnalysisInputError",
    "Comparison",
    "TrialSpec",
    "Verdict",
    "compare",
    "load_trial",
    "synthetic_trial",
    "to_html",
    "to_json",
    "to_markdown",
]
