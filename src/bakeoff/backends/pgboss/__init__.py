"""The pgboss arm (being built)."""
