"""Legacy arm configuration: handler specs, switches, durations and the queries file are checked up front."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bakeoff.backends.legacy import store as legacy_store
from bakeoff.backends.legacy.adapter import LegacyBackend
from bakeoff.backends.legacy.cli import parse_duration
from bakeoff.backends.legacy.handlers import parse_handler
from bakeoff.backends.legacy.runner import RunnerOptions
from bakeoff.backends.legacy.store import QUERIES
from bakeoff.contract import InvalidRequest
from bakeoff.db.engine import make_engine


@pytest.mark.parametrize(
    "spec", ["import_article", "noop", "garbage", "sleep:0", "sleep:1500", "fail:http_4xx"]
)
def test_known_handler_specs_parse(spec: str) -> None:
    assert callable(parse_handler(spec))


@pytest.mark.parametrize("spec", ["", "nope", "sleep:", "sleep:-1", "sleep:600001", "fail:", "fail:Bad Kind"])
def test_bad_handler_specs_are_rejected_naming_the_field(spec: str) -> None:
    with pytest.raises(InvalidRequest, match="handler"):
        parse_handler(spec)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", timedelta(seconds=90)),
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("1.5d", timedelta(hours=36)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10x", "-5m", "m"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(InvalidRequest, match="older_than"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"stdout_protocol": "loose"}, "stdout_protocol"),
        ({"auto_retry": -1}, "auto_retry"),
        ({"job_timeout": 0}, "job_timeout"),
    ],
)
def test_bad_runner_options_name_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest, match=field):
        RunnerOptions(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"processor": "forking"}, "processor"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"handler": "sleep:x"}, "handler"),
        ({"stdout_protocol": "yolo"}, "stdout_protocol"),
    ],
)
def test_backend_rejects_bad_switches_before_touching_the_database(
    options: dict[str, object], field: str
) -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(InvalidRequest, match=field):
            LegacyBackend(engine, **options)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_defaults_reproduce_todays_system() -> None:
    """Spawn per job, strict stdout parsing, exit 1 after success, no automatic retry, 1 s polling."""
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    try:
        backend = LegacyBackend(engine)
    finally:
        engine.dispose()
    assert backend.options == RunnerOptions()
    assert (backend.options.spawn_per_job, backend.options.stdout_protocol) == (True, "strict")
    assert (backend.options.crash_after_complete, backend.options.auto_retry) == (True, 0)
    assert (backend.processor, backend.poll_interval, backend.handler) == ("loop", 1.0, "import_article")


def test_every_query_the_code_runs_is_in_queries_sql() -> None:
    """The store's source names each query it runs; queries.sql holds exactly those, no more, no fewer."""
    source = Path(legacy_store.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'QUERIES\["(\w+)"\]', source)) | set(re.findall(r'_execute\("(\w+)"', source))
    assert {"insert_job", "claim_next_job", "settled_since"} <= used
    assert used == set(QUERIES)


def test_the_claim_is_a_guarded_update_without_skip_locked() -> None:
    claim = QUERIES["claim_next_job"]
    assert "AND status = 'PENDING'" in claim and "SKIP LOCKED" not in claim.upper()


def test_the_backends_import_limits_reach_the_child_through_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the parent puts in the child's environment rebuilds the same ImportSettings in the child."""
    from bakeoff.backends.legacy.handlers import IMPORT_LIMITS_ENV, child_import_settings, import_limits_json
    from bakeoff.workload.models import ImportSettings

    parent = ImportSettings(
        allow_hosts=("127.0.0.1:8080",), read_timeout=3.0, total_timeout=10.0, max_redirects=2
    )
    monkeypatch.setenv("BAKEOFF_IMPORT_ALLOW_HOSTS", "127.0.0.1:8080")
    monkeypatch.setenv(IMPORT_LIMITS_ENV, import_limits_json(parent))
    assert child_import_settings() == parent


def test_the_registry_builds_the_legacy_arm_as_a_job_backend() -> None:
    """create_backend("legacy", ...) is how the router and the demo build this arm."""
    from bakeoff.backends import create_backend
    from bakeoff.contract import JobBackend

    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    try:
        backend = create_backend("legacy", engine, import_settings=None, poll_interval=0.5)
    finally:
        engine.dispose()
    assert isinstance(backend, LegacyBackend) and isinstance(backend, JobBackend)
    assert backend.name == "legacy" and backend.poll_interval == 0.5
