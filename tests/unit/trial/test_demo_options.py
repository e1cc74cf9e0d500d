"""How ``bakeoff demo`` sets up the arms it runs, and what it tells the report about that."""

from __future__ import annotations

from bakeoff.trial import DEMO_INNGEST_RETRY_INTERVAL
from bakeoff.trial.demo import DemoOptions, report_notes


def test_demo_retries_inngest_on_a_fixed_interval_and_says_so_in_the_report() -> None:
    """The default demo runs inngest as `inngest dev --retry-interval 5`; the report names it."""
    options = DemoOptions()
    assert options.inngest_retry_interval == DEMO_INNGEST_RETRY_INTERVAL == 5
    [note] = report_notes(options)
    assert "--retry-interval 5" in note and "15 s, 30 s" in note


def test_no_note_when_inngest_keeps_its_table_or_does_not_run() -> None:
    """Inngest's own schedule needs no note, and neither does an A/A run on another backend."""
    assert report_notes(DemoOptions(inngest_retry_interval=None)) == ()
    assert report_notes(DemoOptions(aa_backend="pgboss")) == ()
    assert len(report_notes(DemoOptions(aa_backend="inngest"))) == 1
