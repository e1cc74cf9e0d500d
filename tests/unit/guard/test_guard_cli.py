"""The guard's command-line pieces that need no database: durations and exit codes."""

from __future__ import annotations

import click
import pytest

from bakeoff.analysis.guardrail import Alert, GuardrailResult, GuardrailSpec
from bakeoff.guard.cli import parse_duration
from bakeoff.guard.runner import EXIT_ALERT, EXIT_KILLED, EXIT_OK, GuardRound, exit_code


@pytest.mark.parametrize(
    ("raw", "seconds"), [("10m", 600.0), ("30s", 30.0), ("1h", 3600.0), ("90", 90.0), ("0.5m", 30.0)]
)
def test_durations_read_as_people_write_them(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["", "0m", "-1m", "10 minutes", "m"])
def test_a_bad_duration_is_a_usage_error_naming_it(raw: str) -> None:
    with pytest.raises(click.BadParameter, match="positive duration"):
        parse_duration(raw)


def _round(killed: tuple[str, ...] = (), alerts: int = 0) -> GuardRound:
    result = GuardrailResult(
        experiment="e",
        phase=1,
        spec=GuardrailSpec(),
        alerts=tuple(Alert(kind="no_traffic", message="m", arm="pgboss") for _ in range(alerts)),
    )
    return GuardRound(experiment="e", acted=True, result=result, killed=killed)


def test_a_kill_outranks_an_alert_which_outranks_nothing() -> None:
    assert exit_code([]) == EXIT_OK
    assert exit_code([_round()]) == EXIT_OK
    assert exit_code([_round(alerts=1)]) == EXIT_ALERT
    assert exit_code([_round(alerts=1), _round(killed=("pgboss",))]) == EXIT_KILLED
    body = _round(alerts=1).to_dict()
    assert body["event"] == "guard_round" and body["alerts"][0]["kind"] == "no_traffic"
