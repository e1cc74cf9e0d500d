"""The workload: article import, local article server, auditor fan-out (being built)."""
