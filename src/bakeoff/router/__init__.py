"""The routing shim: sticky salted assignment of article imports to the arms of an experiment.

``Router.submit`` records the exposure and enqueues on the served arm in one transaction, falls back
to the control arm when an arm errors or times out, honours kill switches and overrides, and answers
a repeated idempotency key with the first Submission. See ``docs/router.md``.
"""

from __future__ import annotations

from bakeoff.router.bucketing import Layout, arm_for_bucket, bucket_of, derive_salt
from bakeoff.router.experiment import DEFAULT_EXPERIMENT, Decision, Experiment, ExperimentState
from bakeoff.router.router import DEFAULT_SUBMIT_TIMEOUT, BackendTimeout, Router
from bakeoff.router.store import ExperimentStore, Phase, UnknownExperiment

__all__ = [
    "DEFAULT_EXPERIMENT",
    "DEFAULT_SUBMIT_TIMEOUT",
    "BackendTimeout",
    "Decision",
    "Experiment",
    "ExperimentState",
    "ExperimentStore",
    "Layout",
    "Phase",
    "Router",
    "UnknownExperiment",
    "arm_for_bucket",
    "bucket_of",
    "derive_salt",
]
