"""Bad input, table-driven: every case gives one clear error naming the problem, and writes nothing.

Cases cover the Python API (URLs, payloads, weights, arms, queues, cron, time zones, CEL,
timeouts), the CLI in a subprocess (usage errors, a wrong or unreachable ``BAKEOFF_DATABASE_URL``,
a corrupt export for ``bakeoff report --input``) and settings from the environment. After each
Python case the row counts of every table the call could touch are compared with those before it.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from bakeoff.backends import create_backend
from bakeoff.backends.inngest import Event, Inngest, TriggerCron, TriggerEvent
from bakeoff.backends.pgboss.boss import PgBoss
from bakeoff.contract import BakeoffError, ImportRequest
from bakeoff.db.engine import make_engine
from bakeoff.db.sql import parse_queries
from bakeoff.db.urls import libpq_url
from bakeoff.router import Experiment, Router
from bakeoff.testing import RecordingBackend, TestDatabases
from bakeoff.trial.runner import TrialConfig
from bakeoff.workload import ImportFailed, fetch_page
from bakeoff.workload.models import ImportSettings

QUERIES = parse_queries((Path(__file__).parent / "bad_input_queries.sql").read_text(encoding="utf-8"))
QUEUE = "bad-input"
LONG_URL = "http://example.com/" + "a" * 10_240


@dataclass
class World:
    """What the Python cases act on: one migrated database with a router, pg-boss and an inngest app."""

    engine: Engine
    url: str
    router: Router
    boss: PgBoss
    inngest: Inngest

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return dict(conn.execute(text(QUERIES["row_counts"])).mappings().one())


@pytest.fixture(scope="module")
def world(test_databases: TestDatabases) -> Iterator[World]:
    url = test_databases.create()
    engine = make_engine(url, pool_size=4)
    backends = {arm: RecordingBackend(arm, engine) for arm in ("legacy", "pgboss", "inngest")}
    router = Router(engine, experiment=Experiment(name="bad-input"), backends=backends)
    boss = PgBoss(libpq_url(url), schedule=False).start()
    boss.create_queue(QUEUE)
    inngest = Inngest("bad-input", database_url=url)
    inngest.create_function(fn_id="noop", trigger=TriggerEvent(event="bad/input"))(lambda ctx: None)
    try:
        yield World(engine=engine, url=url, router=router, boss=boss, inngest=inngest)
    finally:
        boss.stop(graceful=False, timeout=5)
        inngest.close()
        router.close()
        engine.dispose()
        test_databases.drop(url)


@dataclass(frozen=True)
class Case:
    """A bad input: what to call, which error to expect, and words its message must contain."""

    id: str
    call: Callable[[World], Any]
    error: type[BaseException]
    words: tuple[str, ...]


def _submit(url: str, **kwargs: Any) -> Callable[[World], Any]:
    return lambda w: w.router.submit(ImportRequest(url=url, **kwargs))


def _fetch(url: str) -> Callable[[World], Any]:
    return lambda w: fetch_page(url, settings=ImportSettings(connect_timeout=2, total_timeout=5))


def _experiment(**kwargs: Any) -> Callable[[World], Any]:
    return lambda w: Router(w.engine, experiment=Experiment(**kwargs), backends=w.router._backends)


class _NotJson:
    pass


API_CASES = [
    # URLs: malformed, wrong scheme, hostile
    Case("url-empty", _submit(""), ValueError, ("url", "empty")),
    Case("url-not-a-string", lambda w: ImportRequest(url=42), ValueError, ("url", "string")),  # type: ignore[arg-type]
    Case("url-file-scheme", _submit("file:///etc/passwd"), ValueError, ("url", "http", "file")),
    Case("url-gopher-scheme", _submit("gopher://127.0.0.1:70/_x"), ValueError, ("url", "gopher")),
    Case("url-javascript", _submit("javascript:alert(1)"), ValueError, ("url", "javascript")),
    Case("url-no-host", _submit("http:///path"), ValueError, ("url", "no host")),
    Case("url-10kb", _submit(LONG_URL), ValueError, ("url", "limit")),
    Case("url-nul", _submit("http://example.com/\x00x"), ValueError, ("url", "NUL")),
    Case("url-newline-header-injection", _submit("http://example.com/\r\nHost: evil"), ValueError, ("url",)),
    Case("url-bad-port", _submit("http://example.com:99999/"), ValueError, ("url", "port")),
    Case("url-credentials", _fetch("http://user:secret@example.com/"), ImportFailed, ("credentials",)),
    Case("ssrf-loopback", _fetch("http://127.0.0.1/"), ImportFailed, ("127.0.0.1",)),
    Case("ssrf-decimal-ip", _fetch("http://2130706433/"), ImportFailed, ("127.0.0.1",)),
    Case("ssrf-short-ip", _fetch("http://127.1/"), ImportFailed, ("127.0.0.1",)),
    Case("ssrf-hex-ip", _fetch("http://0x7f000001/"), ImportFailed, ("127.0.0.1",)),
    Case("ssrf-ipv6-loopback", _fetch("http://[::1]/"), ImportFailed, ("::1",)),
    Case("ssrf-ipv4-mapped", _fetch("http://[::ffff:127.0.0.1]/"), ImportFailed, ("127.0.0.1",)),
    Case(
        "ssrf-metadata",
        _fetch("http://169.254.169.254/latest/meta-data/"),
        ImportFailed,
        ("169.254.169.254",),
    ),
    Case("ssrf-private", _fetch("http://10.0.0.1/"), ImportFailed, ("10.0.0.1",)),
    Case("ssrf-localhost-name", _fetch("http://localhost/"), ImportFailed, ("localhost",)),
    Case("ssrf-zero", _fetch("http://0.0.0.0/"), ImportFailed, ("0.0.0.0",)),
    # keys and request fields
    Case("unit-key-empty", _submit("http://example.com/", unit_key=" "), ValueError, ("unit_key", "empty")),
    Case(
        "idempotency-key-long",
        _submit("http://e.com/", idempotency_key="k" * 600),
        ValueError,
        ("idempotency_key",),
    ),
    Case(
        "request-wrong-type",
        lambda w: w.router.submit("http://e.com/"),
        ValueError,
        ("request", "ImportRequest"),
    ),  # type: ignore[arg-type]
    # weights and arms
    Case("weights-negative", _experiment(name="w1", weights=(-1.0, 1.0, 1.0)), ValueError, ("weight",)),
    Case("weights-all-zero", _experiment(name="w2", weights=(0.0, 0.0, 0.0)), ValueError, ("weight",)),
    Case("weights-nan", _experiment(name="w3", weights=(math.nan, 1.0, 1.0)), ValueError, ("weight",)),
    Case("weights-infinite", _experiment(name="w4", weights=(math.inf, 1.0, 1.0)), ValueError, ("weight",)),
    Case("weights-wrong-count", _experiment(name="w5", weights=(1.0, 1.0)), ValueError, ("weight",)),
    Case("weights-unknown-arm", lambda w: w.router.set_weights({"kafka": 1.0}), ValueError, ("kafka",)),
    Case(
        "arm-unknown-backend",
        lambda w: create_backend("kafka", w.engine),
        BakeoffError,
        ("kafka", "unknown arm"),
    ),
    Case(
        "arm-unknown-override",
        lambda w: w.router.submit(ImportRequest(url="http://e.com/"), override_arm="kafka"),
        ValueError,
        ("override_arm", "kafka"),
    ),
    Case("arm-unknown-control", _experiment(name="c1", control="kafka"), ValueError, ("control", "kafka")),
    Case("arm-kill-unknown", lambda w: w.router.kill("kafka"), ValueError, ("kafka",)),
    # queues and payloads
    Case("queue-unknown", lambda w: w.boss.send("no-such-queue", {"a": 1}), BakeoffError, ("no-such-queue",)),
    Case("queue-bad-name", lambda w: w.boss.send("bad name!", {"a": 1}), BakeoffError, ("name",)),
    Case("pgboss-payload-not-json", lambda w: w.boss.send(QUEUE, {"x": _NotJson()}), BakeoffError, ("JSON",)),
    Case("pgboss-payload-nan", lambda w: w.boss.send(QUEUE, {"x": math.nan}), BakeoffError, ("JSON",)),
    Case(
        "inngest-event-too-large",
        lambda w: w.inngest.send(Event(name="bad/input", data={"x": "a" * 300_000})),
        BakeoffError,
        ("event", "size"),
    ),
    Case(
        "inngest-event-not-json",
        lambda w: w.inngest.send(Event(name="bad/input", data={"x": _NotJson()})),
        BakeoffError,
        ("JSON",),
    ),
    Case(
        "inngest-event-nan",
        lambda w: w.inngest.send([Event(name="bad/input"), Event(name="bad/input", data={"x": math.nan})]),
        BakeoffError,
        ("JSON",),
    ),
    Case("inngest-event-no-name", lambda w: w.inngest.send(Event(name=" ")), BakeoffError, ("event name",)),
    # cron, time zones, CEL
    Case("cron-invalid", lambda w: w.boss.schedule(QUEUE, "61 * * * *"), BakeoffError, ("cron",)),
    Case("cron-garbage", lambda w: w.boss.schedule(QUEUE, "every day"), BakeoffError, ("cron",)),
    Case(
        "tz-unknown",
        lambda w: w.boss.schedule(QUEUE, "0 * * * *", tz="Mars/Olympus_Mons"),
        BakeoffError,
        ("tz", "Mars"),
    ),
    Case(
        "inngest-cron-invalid",
        lambda w: w.inngest.create_function(fn_id="c1", trigger=TriggerCron(cron="* * *")),
        BakeoffError,
        ("cron",),
    ),
    Case(
        "inngest-cron-bad-tz",
        lambda w: w.inngest.create_function(
            fn_id="c2", trigger=TriggerCron(cron="TZ=Nowhere/Land 0 12 * * 5")
        ),
        BakeoffError,
        ("Nowhere",),
    ),
    Case(
        "cel-syntax",
        lambda w: w.inngest.create_function(
            fn_id="e1", trigger=TriggerEvent(event="x", expression="event.data.a ==")
        ),
        BakeoffError,
        ("expression",),
    ),
    Case(
        "cel-unbalanced",
        lambda w: w.inngest.create_function(
            fn_id="e2", trigger=TriggerEvent(event="x", expression="(event.data.a == 1")
        ),
        BakeoffError,
        ("expression",),
    ),
    # timeouts
    Case(
        "timeout-negative-connect",
        lambda w: ImportSettings(connect_timeout=-1),
        ValueError,
        ("connect_timeout",),
    ),
    Case("timeout-zero-total", lambda w: ImportSettings(total_timeout=0), ValueError, ("total_timeout",)),
    Case(
        "timeout-router-absurd",
        lambda w: Router(w.engine, experiment="bad-input", backends=w.router._backends, submit_timeout=1e9),
        ValueError,
        ("submit_timeout",),
    ),
    Case(
        "timeout-router-negative",
        lambda w: Router(w.engine, experiment="bad-input", backends=w.router._backends, submit_timeout=-1),
        ValueError,
        ("submit_timeout",),
    ),
    Case(
        "timeout-trial-deadline",
        lambda w: TrialConfig(deadline_seconds=-5),
        ValueError,
        ("deadline_seconds",),
    ),
    Case(
        "timeout-pgboss-expire",
        lambda w: w.boss.create_queue("q-expire", expire_in_seconds=-5),
        BakeoffError,
        ("expire",),
    ),
    Case(
        "timeout-inngest-lease",
        lambda w: create_backend("inngest", w.engine, lease=timedelta(seconds=-1)),
        BakeoffError,
        ("lease",),
    ),
    # settings from the environment
    Case(
        "env-allow-hosts-bad-cidr",
        lambda w: ImportSettings.from_env({"BAKEOFF_IMPORT_ALLOW_HOSTS": "10.0.0.0/99"}),
        ValueError,
        ("allow_hosts", "10.0.0.0/99"),
    ),
    Case(
        "env-allow-hosts-bad-port",
        lambda w: ImportSettings.from_env({"BAKEOFF_IMPORT_ALLOW_HOSTS": "host:99999"}),
        ValueError,
        ("allow_hosts", "port"),
    ),
]


@pytest.mark.parametrize("case", API_CASES, ids=[c.id for c in API_CASES])
def test_python_api_rejects_bad_input_clearly_and_writes_nothing(case: Case, world: World) -> None:
    """The call raises the expected error whose message names the problem; no table gains a row."""
    before = world.counts()
    with pytest.raises(case.error) as raised:
        case.call(world)
    message = str(raised.value)
    for word in case.words:
        assert word.lower() in message.lower(), f"{case.id}: {word!r} not in {message!r}"
    assert world.counts() == before


# ------------------------------------------------------------------------------------------ CLI


@dataclass(frozen=True)
class CliCase:
    id: str
    args: tuple[str, ...]
    env: dict[str, str]
    words: tuple[str, ...]
    exit_code: int = 1


def _corrupt_files(folder: Path) -> dict[str, Path]:
    csv = folder / "corrupt.csv"
    csv.write_text("this,is,not\nthe,export,format\n\x00\x01", encoding="utf-8")
    parquet = folder / "corrupt.parquet"
    parquet.write_bytes(b"PAR1" + os.urandom(64))
    return {"csv": csv, "parquet": parquet}


CLI_CASES = [
    CliCase(
        "cli-url-unreachable",
        ("db", "status"),
        {"BAKEOFF_DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/x"},
        ("cannot connect", "127.0.0.1:1"),
    ),
    CliCase("cli-url-not-a-url", ("db", "status"), {"BAKEOFF_DATABASE_URL": "not a url"}, ("url",)),
    CliCase(
        "cli-url-wrong-scheme",
        ("db", "status"),
        {"BAKEOFF_DATABASE_URL": "mysql://root@127.0.0.1/x"},
        ("mysql",),
    ),
    CliCase("cli-route-file-url", ("route", "file:///etc/passwd"), {}, ("url", "file"), exit_code=1),
    CliCase("cli-worker-unknown-arm", ("worker", "--arms", "kafka"), {}, ("kafka",), exit_code=2),
    CliCase("cli-report-corrupt-csv", ("report", "--input", "{csv}"), {}, ("corrupt.csv",)),
    CliCase("cli-report-corrupt-parquet", ("report", "--input", "{parquet}"), {}, ("corrupt.parquet",)),
    CliCase("cli-demo-negative-imports", ("demo", "--imports", "-5"), {}, ("--imports",), exit_code=2),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli_rejects_bad_input_with_one_line_naming_it(case: CliCase, tmp_path: Path, world: World) -> None:
    """The real `bakeoff` in a subprocess: non-zero exit, one `bakeoff: error:` line, no traceback."""
    files = _corrupt_files(tmp_path)
    args = [a.format(**files) for a in case.args]
    env = {**os.environ, "BAKEOFF_DATABASE_URL": world.url, **case.env}
    result = subprocess.run(
        [sys.executable, "-m", "bakeoff", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("bakeoff: ")]
    assert result.returncode == case.exit_code, result.stderr
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in case.words:
        assert word.lower() in errors[0].lower(), f"{case.id}: {word!r} not in {errors[0]!r}"
    assert "pw@" not in result.stderr + result.stdout
