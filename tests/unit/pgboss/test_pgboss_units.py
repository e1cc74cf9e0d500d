"""Unit tests of the pg-boss port's pure parts: SQL loading, argument rules, outputs, slots, cron."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bakeoff.backends.pgboss import options as opt
from bakeoff.backends.pgboss.adapter import failure_of, job_state
from bakeoff.backends.pgboss.errors import PgBossInputError, UnsupportedSchemaVersion
from bakeoff.backends.pgboss.models import Job
from bakeoff.backends.pgboss.store import PgBossQueries, notify_channel, validate_schema_name
from bakeoff.backends.pgboss.timekeeper import due_occurrence, occurrence_key, slot_text
from bakeoff.backends.pgboss.worker import WorkOptions
from bakeoff.contract import JobState


def test_queries_file_has_every_statement_the_port_runs() -> None:
    """queries.sql loads through the shared loader and names every statement the code asks for."""
    names = set(PgBossQueries.names())
    expected = {
        "install_schema", "create_queue", "update_queue", "delete_queue", "get_queues", "insert_jobs",
        "insert_jobs_notify", "fetch_standard", "fetch_singleton", "fetch_key_strict_fifo",
        "complete_jobs", "fail_jobs", "expire_jobs", "cancel_jobs", "resume_jobs", "retry_jobs",
        "delete_jobs", "touch_jobs", "redrive_jobs", "schedule", "try_set_cron_time", "listen",
    }  # fmt: skip
    assert expected <= names


def test_rendered_sql_names_the_schema_and_table_and_no_placeholders() -> None:
    """Rendering replaces every __TOKEN__ with the schema, table and fragments."""
    queries = PgBossQueries("myboss")
    for name in ("fetch_standard", "fail_jobs", "insert_jobs_notify", "complete_jobs"):
        text = queries.sql(name, table="job_common")
        assert "__" not in text.replace("__pgboss__", ""), name
        assert "myboss.job_common" in text
    assert "myboss.job_common" in queries.expire_sql("timed_out_predicate", table="job_common")


def test_insert_statements_pick_body_and_returning() -> None:
    """insert_sql: recordset or data-array body; rows back only when asked (notify keeps its CTE)."""
    queries = PgBossQueries("myboss")
    for data_only in (True, False):
        for notify in (True, False):
            for returning in (True, False):
                text = queries.insert_sql(
                    table="job_common", data_only=data_only, notify=notify, returning=returning
                )
                assert "__" not in text and "INSERT INTO myboss.job_common" in text
                assert ("json_array_elements" in text) == data_only
                assert ("json_to_recordset" in text) != data_only
                assert ("pg_notify" in text) == notify
                if notify:
                    assert text.endswith(">= 0" if returning else "< 0")
                else:
                    assert text.endswith("RETURNING id, start_after") == returning
                assert "ON CONFLICT DO NOTHING" in text
                plain = queries.insert_sql(
                    table="job_common", data_only=data_only, notify=notify, returning=returning,
                    skip_conflicts=False,
                )  # fmt: skip
                assert ("ON CONFLICT" in plain) != data_only  # only the data-only body drops it


def test_install_script_is_pg_boss_construction_plan_for_the_schema() -> None:
    """The DDL carries pg-boss's tables, enum order, policy indexes and functions, for our schema only."""
    ddl = PgBossQueries("other").install_script()
    assert "pgboss." not in ddl
    assert "'created',\n  'retry',\n  'active',\n  'completed',\n  'cancelled',\n  'failed'" in ddl
    for needle in ("CREATE TABLE other.job (", "PARTITION BY LIST (name)", "job_i1", "job_i8", "job_i4",
                   "CREATE FUNCTION other.create_queue", "CREATE TABLE other.schedule"):  # fmt: skip
        assert needle in ddl


def test_table_names_outside_pg_boss_shapes_are_refused() -> None:
    """Only job, job_common and j<sha224> tables can be rendered into SQL."""
    with pytest.raises(ValueError, match="table"):
        PgBossQueries("pgboss").sql("fetch_standard", table="job; DROP TABLE x")


def test_notify_channel_matches_pg_boss_derivation() -> None:
    """Channel = 'pgboss_' + first 24 hex chars of sha224(schema), as pg-boss's notifyChannelSql."""
    assert notify_channel("pgboss") == "pgboss_" + hashlib.sha224(b"pgboss").hexdigest()[:24]


@pytest.mark.parametrize(
    ("schema", "message"),
    [("x" * 51, "cannot exceed 50 bytes"), ("1abc", "alphanumeric"), ("a-b", "alphanumeric"), ("", "empty")],
)
def test_bad_schema_names_are_refused_with_pg_boss_messages(schema: str, message: str) -> None:
    """Schema names follow pg-boss's assertPostgresObjectName (bare names only)."""
    with pytest.raises(PgBossInputError, match=message):
        validate_schema_name(schema)


@pytest.mark.parametrize("name", ["", "has space", "semi;colon", "quote'"])
def test_bad_queue_names_are_refused(name: str) -> None:
    """Queue names must match pg-boss's ^[\\w.\\-/]+$ rule."""
    with pytest.raises(ValueError, match="Name"):
        opt.check_queue_name(name)


def test_queue_names_with_dots_slashes_and_hyphens_are_fine() -> None:
    """The characters pg-boss allows pass through unchanged."""
    assert opt.check_queue_name("a.b/c-d_e") == "a.b/c-d_e"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"policy": "nope"}, "nope is not a valid queue policy"),
        ({"retry_limit": -1}, "retry_limit must be an integer >= 0"),
        ({"retry_delay": 1.5}, "retry_delay must be an integer >= 0"),
        ({"retry_backoff": "yes"}, "retry_backoff must be either true or false"),
        ({"retry_delay_max": 5}, "retry_delay_max can only be set if retry_backoff is true"),
        ({"expire_in_seconds": 0}, "expire_in_seconds must be at least every second"),
        ({"expire_in_seconds": 86_400}, "expiration cannot exceed 24 hours"),
        ({"retention_seconds": 0}, "retention_seconds must be at least every second"),
        ({"delete_after_seconds": -1}, "delete_after_seconds must be at least 0"),
        ({"heartbeat_seconds": 5}, "heartbeat_seconds must be an integer >= 10"),
        ({"dead_letter": "q"}, "dead_letter cannot be itself"),
        ({"colour": "red"}, "unknown option"),
    ],
)
def test_queue_options_are_checked_with_pg_boss_messages(options: dict[str, object], message: str) -> None:
    """create_queue refuses what pg-boss's attorney refuses, with its message in snake_case."""
    with pytest.raises(ValueError, match=message):
        opt.queue_payload("q", options)


def test_queue_payload_uses_pg_boss_option_keys() -> None:
    """The create_queue function reads camelCase keys; the payload carries them."""
    payload = opt.queue_payload("q", {"retry_limit": 3, "expire_in_seconds": 5, "dead_letter": "dlq"})
    assert payload == {"policy": "standard", "retryLimit": 3, "expireInSeconds": 5, "deadLetter": "dlq"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"priority": 1.5}, "priority must be an integer"),
        ({"priority": True}, "priority must be an integer"),
        ({"start_after": object()}, "start_after"),
        ({"singleton_key": 5}, "singleton_key must be a string"),
    ],
)
def test_job_options_are_checked(options: dict[str, object], message: str) -> None:
    """send options follow pg-boss's rules (negative priorities are fine; floats are not)."""
    with pytest.raises(ValueError, match=message):
        opt.job_payload(None, options)


def test_start_after_accepts_seconds_iso_text_and_datetimes() -> None:
    """start_after becomes the text pg-boss's insert reads: seconds, or a UTC timestamp ending in Z."""
    assert opt.job_payload(None, {"start_after": 30})["startAfter"] == "30"
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert opt.job_payload(None, {"start_after": moment})["startAfter"] == "2030-01-02T03:04:05Z"
    assert opt.job_payload(None, {"start_after": "2030-01-02"})["startAfter"] == "2030-01-02"


def test_data_that_json_cannot_carry_is_refused() -> None:
    """Non-JSON data is a ValueError naming the field."""
    with pytest.raises(ValueError, match="data must be JSON-serialisable"):
        opt.dumps({"when": datetime.now(UTC)})


def test_outputs_wrap_non_objects_and_serialise_errors() -> None:
    """Objects are stored as-is, other values as {value}, errors as {name, message, stack}."""
    assert opt.output_json(None) is None
    assert opt.output_json({"a": 1}) == '{"a":1}'
    assert opt.output_json(7) == '{"value":7}'
    assert opt.output_json([1, 2]) == '{"value":[1,2]}'
    try:
        raise KeyError("missing")
    except KeyError as exc:
        error = exc
    text = opt.output_json(error)
    assert text is not None
    assert '"name":"KeyError"' in text
    assert "missing" in text
    assert "Traceback" in text


@pytest.mark.parametrize(
    ("seconds", "now_ms", "expected"),
    [(60, 60_000 * 10 + 15_000, 46), (60, 60_000 * 10, 61), (1, 5_000, 1), (10, 10_000 * 3 + 9_500, 2)],
)
def test_debounce_start_after_matches_pg_boss(seconds: int, now_ms: int, expected: int) -> None:
    """Seconds to the next slot (+1 when seconds > 1, never 0), as getDebounceStartAfter."""
    assert opt.debounce_start_after(seconds, now_ms) == expected


def test_occurrence_key_escapes_underscores_in_the_queue_name() -> None:
    """('report_', 'daily') and ('report', '_daily') file under different keys, as pg-boss does."""
    assert occurrence_key("report_", "daily") != occurrence_key("report", "_daily")
    assert occurrence_key("a_b", "k") == "a\\_b__k"


def test_slot_text_is_the_utc_minute() -> None:
    """singleton_on of a forwarded occurrence is its UTC minute, without a zone."""
    assert slot_text(datetime(2030, 5, 6, 7, 8, 59, 900_000, tzinfo=UTC)) == "2030-05-06 07:08:00"


def test_cron_occurrences_are_read_in_the_schedule_time_zone() -> None:
    """'0 9 * * *' in Europe/Paris is due at 08:00 UTC in winter, not at 09:00 UTC."""
    paris_nine = datetime(2030, 1, 15, 8, 0, 20, tzinfo=UTC)
    assert due_occurrence("0 9 * * *", "Europe/Paris", paris_nine) is not None
    assert due_occurrence("0 9 * * *", "UTC", paris_nine) is None
    assert due_occurrence("0 9 * * *", "UTC", datetime(2030, 1, 15, 9, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("state", "retry_count", "expected"),
    [
        ("created", 0, JobState.QUEUED),
        ("retry", 1, JobState.RETRYING),
        ("active", 0, JobState.RUNNING),
        ("active", 1, JobState.RETRYING),
        ("completed", 0, JobState.COMPLETED),
        ("failed", 2, JobState.FAILED),
        ("cancelled", 0, JobState.CANCELLED),
    ],
)
def test_adapter_maps_pg_boss_states_onto_trial_states(
    state: str, retry_count: int, expected: JobState
) -> None:
    """The JobBackend state mapping documented in the adapter."""
    assert job_state(Job(id="x", name="q", state=state, retry_count=retry_count)) is expected


def test_unsupported_version_error_names_the_version_found() -> None:
    """The refusal says which version it found and which it supports."""
    message = str(UnsupportedSchemaVersion("pgboss", 37))
    assert "37" in message
    assert "46" in message


@pytest.mark.parametrize(
    ("output", "kind"),
    [
        ({"value": {"message": "job timed out"}}, "timeout"),
        ({"value": {"message": "job heartbeat timeout"}}, "worker_lost"),
        ({"value": "pg-boss shut down while active"}, "worker_lost"),
        ({"name": "Error", "message": "handler execution exceeded 300s"}, "timeout"),
        ({"name": "Http4xx", "message": "404"}, "internal_error"),
    ],
)
def test_the_arm_names_why_pg_boss_failed_a_job(output: dict[str, object], kind: str) -> None:
    """Outputs pg-boss writes on expiry, heartbeat loss, stop and handler timeout map to error kinds."""
    assert failure_of(output)[0] == kind


def test_the_arm_keeps_an_import_errors_own_kind() -> None:
    """A handler exception carries its ImportFailed error_kind into the trial record."""
    from bakeoff.workload.errors import Http4xx

    assert failure_of(Http4xx("http://x/ answered 404"))[0] == "http_4xx"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 0}, "batch_size must be an integer > 0"),
        ({"polling_interval_seconds": 0.4}, "polling_interval_seconds must be at least every 500ms"),
        ({"notify_polling_interval_seconds": 1.0}, "notify_polling_interval_seconds must be at least"),
    ],
)
def test_work_options_follow_pg_boss_rules(overrides: dict[str, float], message: str) -> None:
    """work() refuses what pg-boss's checkWorkArgs refuses."""
    arguments: dict[str, Any] = {
        "batch_size": 1, "polling_interval_seconds": 2.0, "notify_polling_interval_seconds": None,
        "default_backstop": 30.0, "include_metadata": False, "burst_when_batch_full": False,
    }  # fmt: skip
    with pytest.raises(ValueError, match=message):
        WorkOptions.checked(**{**arguments, **overrides})


def test_work_options_default_the_notify_backstop_and_burst_only_for_batches() -> None:
    """The backstop defaults to the instance's (never below the poll interval); burst needs batch > 1."""
    options = WorkOptions.checked(
        batch_size=1, polling_interval_seconds=2.0, notify_polling_interval_seconds=None,
        default_backstop=30.0, include_metadata=False, burst_when_batch_full=True,
    )  # fmt: skip
    assert (options.notify_polling_interval_seconds, options.burst_when_batch_full) == (30.0, False)


def _statements(sql: str) -> list[str]:
    """SQL split into whitespace-normalised statements, transaction framing dropped."""
    framing = ("BEGIN", "COMMIT", "SET LOCAL", "SELECT pg_advisory_xact_lock", "INSERT INTO pgboss.version")
    parts = (" ".join(part.split()) for part in sql.split(";"))
    return [part for part in parts if part and not part.startswith(framing)]


def test_install_script_is_statement_for_statement_the_real_pg_boss_plan() -> None:
    """Our DDL equals pg-boss 12.38's getConstructionPlans('pgboss') as recorded by the interop fixture."""
    fixture = Path(__file__).parents[2] / "interop" / "fixtures" / "pgboss-construction.sql"
    theirs = _statements(fixture.read_text(encoding="utf-8"))
    ours = _statements(PgBossQueries("pgboss").install_script())
    assert ours == theirs


def test_the_background_parts_get_a_frozen_config_and_public_lock_statements() -> None:
    """Supervisor and timekeeper read one frozen PgBossConfig; the lock statement is the queries'."""
    import dataclasses

    from bakeoff.backends.pgboss import PgBoss, PgBossConfig
    from bakeoff.backends.pgboss.store import PgBossQueries

    boss = PgBoss("postgresql://u@127.0.0.1:9/db", schema="other_boss", monitor_interval_seconds=7)
    assert isinstance(boss.config, PgBossConfig) and boss.config.monitor_interval_seconds == 7
    assert boss.supervisor.config is boss.config and boss.timekeeper.config is boss.config
    with pytest.raises(dataclasses.FrozenInstanceError):
        boss.config.supervise = False  # type: ignore[misc]
    sql, params = PgBossQueries("other_boss").advisory_lock("create-queue")
    assert "other_boss" in sql or params["schema"] == "other_boss"
    assert params == {"schema": "other_boss", "key": "create-queue"}


@pytest.mark.parametrize(
    "text",
    ['{"i": 1}', "[1, 2.5, null]", '"x"', "12345678901234567890123", '{"a": {"b": [true, false]}}',
     '"caf\\u00e9 \u00e9"', " [1] ", "NaN", "1e400"],
)  # fmt: skip
def test_the_sessions_json_loader_reads_what_json_loads_reads(text: str) -> None:
    from bakeoff.backends.pgboss.db import _load_json

    assert repr(_load_json(text.encode())) == repr(json.loads(text))


@pytest.mark.parametrize("text", ["", "[1] x", "{", "1 2", "  "])
def test_the_sessions_json_loader_refuses_what_json_loads_refuses(text: str) -> None:
    from bakeoff.backends.pgboss.db import _load_json

    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as ours:
        _load_json(text.encode())
    assert str(ours.value) == str(theirs.value)
