"""The trial end to end: the demo, long-running workers and the auditor stress run."""
