"""The consistency summary: share identical with its Wilson interval, differing URLs per arm."""

from __future__ import annotations

import pytest

from bakeoff.analysis.consistency import summarise


def test_share_identical_with_the_wilson_interval_and_the_differing_urls() -> None:
    section = summarise(
        [
            {"arm": "legacy", "checked": 10, "identical": 10, "refetch_failed": 0},
            {"arm": "pgboss", "checked": 10, "identical": 9, "refetch_failed": 1},
        ],
        [{"arm": "pgboss", "url": "http://a/1", "trial_job_id": "j1"}],
    )
    legacy, pgboss = section["arms"]
    assert legacy["share"] == 1.0 and legacy["differences"] == []
    # Wilson 95% for 9/10 (Newcombe 1998a, Table I: 0.5958 to 0.9821).
    assert pgboss["share"] == 0.9
    assert pgboss["ci"] == pytest.approx([0.5958, 0.9821], abs=1e-4)
    assert pgboss["differences"] == [{"url": "http://a/1", "trial_job_id": "j1"}]
    assert pgboss["refetch_failed"] == 1


def test_an_arm_with_no_successful_check_has_no_share() -> None:
    (arm,) = summarise([{"arm": "inngest", "checked": 0, "identical": 0, "refetch_failed": 2}], [])["arms"]
    assert arm["share"] is None and arm["ci"] is None
