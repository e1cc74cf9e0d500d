"""The metrics' named SQL (``metrics/queries.sql``), loaded once for the recorder, the attempt hooks
and the export.

Light on purpose: it imports no SQLAlchemy, so a spawned legacy child can record its attempts with
the same statements.
"""

from __future__ import annotations

from bakeoff.db.sql import load_queries

__all__ = ["QUERIES"]

QUERIES = load_queries("bakeoff.metrics")
