"""The trial end to end: the demo, long-running workers and the auditor stress run."""

DEMO_INNGEST_RETRY_INTERVAL = 5
"""Seconds between the inngest arm's retries in ``bakeoff demo`` (``inngest dev --retry-interval``).

Inngest's default table waits 15 s, then 30 s, each plus up to 30 s of jitter, so one job that meets
two of the realistic profile's 5xx in a row can hold a demo open for 105 s after its first failure.
Here (not in ``demo.py``) so that ``bakeoff --help`` can show it without loading the trial.
"""
