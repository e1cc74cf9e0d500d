"""Alembic branch ``legacy``: the legacy arm's ``legacy`` schema (its ``job`` table)."""
