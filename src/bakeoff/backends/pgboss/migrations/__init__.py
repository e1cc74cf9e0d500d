"""Alembic branch ``pgboss``: installs pg-boss 12's schema (or attaches to an existing one)."""
