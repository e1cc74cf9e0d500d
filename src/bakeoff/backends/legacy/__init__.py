"""The legacy arm: the current home-made job queue, reproduced as the trial's control.

A ``legacy.job`` table with four statuses, polling processors (``loop``, ``adaptive``, ``single``)
that claim PENDING rows, and one spawned Python process per job that reports to its parent over a
stdout line protocol (:mod:`.stdout_protocol`), pain points included (see ``docs/legacy.md``).
:class:`~bakeoff.backends.legacy.adapter.LegacyBackend` puts it behind the arm contract; the
modules play the same roles as in the other arms: :mod:`.models` (values), :mod:`.store` (its SQL),
:mod:`.errors`.
"""
