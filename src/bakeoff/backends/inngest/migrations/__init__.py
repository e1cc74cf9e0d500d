"""Alembic branch ``inngest``: the step engine's schema (events, runs, steps, attempts, queue)."""
