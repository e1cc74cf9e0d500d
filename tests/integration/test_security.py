"""Security: no database password anywhere we print or write, SQL always parameterised, SSRF on every hop.

* Masking: real ``bakeoff`` subprocesses (and a small demo) get a database URL carrying a known
  password (trust auth lets it connect); their stdout, stderr, logs and written files must not
  contain it, on the success and on the error paths.
* Injection: every text field the public API stores goes through a corpus of SQL-looking strings;
  each is stored verbatim and the tables are intact afterwards.
* SSRF: a redirect to an internal address is refused at that hop (also when the hop is a name that
  resolves to one), and a public-looking name resolving to a private address is refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, make_url, text

from bakeoff.backends.inngest import Event, Inngest, TriggerEvent
from bakeoff.backends.pgboss.boss import PgBoss
from bakeoff.contract import ImportRequest
from bakeoff.db.sql import parse_queries
from bakeoff.db.urls import libpq_url
from bakeoff.metrics import Recorder
from bakeoff.router import Experiment, Router
from bakeoff.testing import RecordingBackend
from bakeoff.workload import ImportFailed, fetch_page
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.ssrf import StaticResolver

QUERIES = parse_queries((Path(__file__).parent / "security_queries.sql").read_text(encoding="utf-8"))
PASSWORD = "Kn0wn-S3cret-pw-7731"
ARMS = ("legacy", "pgboss", "inngest")

INJECTION_CORPUS = (
    "'; DROP TABLE bakeoff.trial_jobs; --",
    '" OR "1"="1',
    "' OR 1=1 --",
    "1; SELECT pg_sleep(10)",
    "$$; DROP SCHEMA bakeoff CASCADE; $$",
    "') ; DELETE FROM bakeoff.documents; --",
    ":trial_job_id",
    "%(url)s %s {0} ?",
    "\\'; TRUNCATE pgboss.job; --",
    "Robert'); DROP TABLE students;--",
    "ünïcødé ' 🚀 \u202e",
    "E'\\x00'",
)


def _with_password(url: str) -> str:
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def _bakeoff(args: list[str], url: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BAKEOFF_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "bakeoff", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )


def _files_containing(folder: Path, secret: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_cli_and_demo_never_print_or_write_the_database_password(database_url: str, tmp_path: Path) -> None:
    """Commands on the success and error paths, verbose and --debug, and a 6-import demo with its report."""
    secret_url = _with_password(database_url)
    unreachable = f"postgresql://someone:{PASSWORD}@127.0.0.1:1/nowhere"
    runs = {
        "db url": _bakeoff(["-v", "db", "url"], secret_url, tmp_path),
        "db status": _bakeoff(["-v", "db", "status"], secret_url, tmp_path),
        "route": _bakeoff(
            [
                "-v",
                "route",
                "http://127.0.0.1:9/a",
                "--backend-factory",
                "bakeoff.testing:router_fake_backend",
            ],
            secret_url,
            tmp_path,
        ),
        "report": _bakeoff(["-v", "report", "--format", "md", "--out", "report.md"], secret_url, tmp_path),
        "unreachable": _bakeoff(["-v", "db", "status"], unreachable, tmp_path),
        "unreachable --debug": _bakeoff(["--debug", "db", "status"], unreachable, tmp_path),
        "demo": _bakeoff(
            ["-v", "demo", "--imports", "6", "--rate", "20", "--profile", "none", "--out", "demo", "--json"],
            secret_url,
            tmp_path,
        ),
    }

    assert runs["db status"].returncode == 0, runs["db status"].stderr
    assert runs["route"].returncode == 0, runs["route"].stderr
    assert runs["demo"].returncode == 0, runs["demo"].stderr[-2000:]
    assert runs["unreachable"].returncode != 0 and "***" in runs["unreachable"].stderr
    assert (tmp_path / "demo").is_dir()
    leaks = {name: r.stdout + r.stderr for name, r in runs.items() if PASSWORD in r.stdout + r.stderr}
    assert leaks == {}
    assert _files_containing(tmp_path, PASSWORD) == []


def test_repr_and_errors_of_arms_mask_the_password(database_url: str) -> None:
    """The objects that hold a URL (pg-boss, the inngest client) never show its password."""
    secret_url = _with_password(database_url)
    boss = PgBoss(libpq_url(secret_url), schedule=False)
    client = Inngest("security", database_url=secret_url)
    try:
        shown = repr(boss) + str(boss.__dict__.get("config", "")) + repr(client)
    finally:
        client.close()
    assert PASSWORD not in shown


# ---------------------------------------------------------------------------------- injection


def _stored(engine: Engine, name: str, **params: object) -> list[str]:
    with engine.connect() as conn:
        return [str(v) for v in conn.execute(text(QUERIES[name]), params).scalars()]


@pytest.mark.parametrize("payload", INJECTION_CORPUS, ids=range(len(INJECTION_CORPUS)))
def test_every_text_field_stores_sql_looking_input_verbatim(
    engine: Engine, database_url: str, payload: str
) -> None:
    """Experiment name, URL query, unit and idempotency keys, observation note, pg-boss and event data."""
    backends = {arm: RecordingBackend(arm, engine) for arm in ARMS}
    router = Router(engine, experiment=Experiment(name=payload), backends=backends)
    url = f"http://127.0.0.1:9/?q={quote(payload)}&raw={payload.replace(' ', '+')}"
    url = url if all(ord(c) > 32 and c != "\x7f" for c in url) else "http://127.0.0.1:9/?q=x"
    submission = router.submit(ImportRequest(url=url, unit_key=payload, idempotency_key=payload))
    router.close()
    Recorder(engine).observe(
        arm="pgboss", kind="debugging_minutes", value=1, note=payload, recorded_by=payload
    )
    boss = PgBoss(libpq_url(database_url), schedule=False).start()
    try:
        boss.create_queue("security")
        job_id = boss.send("security", {"text": payload})
    finally:
        boss.stop(graceful=False, timeout=5)
    client = Inngest("security", database_url=database_url)
    try:
        [event_id] = client.send(Event(name="security/" + str(uuid.uuid4()), data={"text": payload}))
    finally:
        client.close()

    trial = _stored(engine, "trial_job_texts", trial_job_id=submission.trial_job_id)
    assert trial == [payload, url, payload, payload]
    assert _stored(engine, "observation_texts", note=payload) == [payload, payload]
    assert _stored(engine, "pgboss_job_text", job_id=job_id) == [payload]
    assert _stored(engine, "inngest_event_text", event_id=event_id) == [payload]
    assert _stored(engine, "tables_intact") == ["ok"]


_ = TriggerEvent  # the inngest app above triggers nothing: storing the event is what is under test


# --------------------------------------------------------------------------------------- SSRF


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.0.0.1/admin", "10.0.0.1"),
        ("http://[::1]/", "::1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://internal.example/", "192.168.1.10"),  # a name that resolves to a private address
    ],
)
def test_a_redirect_to_an_internal_address_is_refused_at_that_hop(target: str, address: str) -> None:
    """Two allowed hops on the local article server, then a redirect inside: refused, naming the address."""
    resolver = StaticResolver(table={"internal.example": ["192.168.1.10"]})
    with ArticleServer() as server:
        settings = server.import_settings(resolver=resolver, total_timeout=10)
        second_hop = server.url(f"/test/redirect-to?url={quote(target, safe='')}")
        first_hop = server.url(f"/test/redirect-to?url={quote(second_hop, safe='')}")
        with pytest.raises(ImportFailed) as refused:
            fetch_page(first_hop, settings=settings)
    assert refused.value.error_kind == "blocked_address"
    assert address in str(refused.value)


def test_a_name_that_resolves_to_a_private_address_is_refused_after_resolution() -> None:
    """A harmless-looking host name is checked by the address it resolves to, not by its spelling."""
    resolver = StaticResolver(table={"news.example": ["203.0.113.5", "127.0.0.1"]})
    with pytest.raises(ImportFailed) as refused:
        fetch_page("http://news.example/article", settings=_settings(resolver))
    assert refused.value.error_kind == "blocked_address"
    assert resolver.lookups == ["news.example"]


def _settings(resolver: StaticResolver) -> object:
    from bakeoff.workload.models import ImportSettings

    return ImportSettings(resolver=resolver, connect_timeout=1, total_timeout=3)
