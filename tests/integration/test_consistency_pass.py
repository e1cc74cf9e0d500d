"""The consistency pass on a real database and a real article server: a truncating arm is caught."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from bakeoff.analysis.consistency import consistency_section, differences, set_sample_rate
from bakeoff.analysis.sections import sections_html
from bakeoff.metrics import Recorder
from bakeoff.router import Experiment, ExperimentStore
from bakeoff.testing import record_routed_job
from bakeoff.trial.consistency import run_consistency_pass
from bakeoff.workload.article_server import ArticleServer
from bakeoff.workload.extract import extract_article
from bakeoff.workload.fetch import fetch_page
from bakeoff.workload.store import save_document

NAME = "consistent"


@pytest.fixture
def server() -> Iterator[ArticleServer]:
    with ArticleServer(profile="none", seed=0) as articles:
        yield articles


def _import(engine: Engine, server: ArticleServer, arm: str, url: str) -> uuid.UUID:
    """An import as an arm records it: trial job, fetched and extracted document, completed."""
    recorder = Recorder(engine)
    job = record_routed_job(engine, NAME, arm=arm, unit_key=url, url=url)
    document = save_document(
        engine, extract_article(fetch_page(url, settings=server.import_settings())), trial_job_id=job
    )
    recorder.finished(job, "completed", document_id=document.document_id)
    return job


def test_a_truncated_document_is_a_difference_and_the_rest_are_identical(
    engine: Engine, server: ArticleServer
) -> None:
    ExperimentStore(engine).create(Experiment(name=NAME))
    urls = server.article_urls(6)
    jobs = {url: _import(engine, server, "pgboss" if i % 2 else "inngest", url) for i, url in enumerate(urls)}
    truncated = urls[1]  # served by pgboss
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE bakeoff.documents SET text = left(text, 40), content_sha256 = md5(text) "
                "WHERE trial_job_id = :job"
            ),
            {"job": jobs[truncated]},
        )
    result = run_consistency_pass(engine, NAME, server.import_settings(), rate=1.0)
    assert (result.checked, result.identical, result.refetch_failed) == (6, 5, 0)
    # Checked jobs are not checked again; nothing was routed or exposed by the pass.
    assert run_consistency_pass(engine, NAME, server.import_settings(), rate=1.0).checked == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM bakeoff.trial_jobs")).scalar_one() == 6

    section = consistency_section(engine, NAME)
    arms = {a["arm"]: a for a in section["arms"]}
    assert arms["inngest"]["share"] == 1.0
    assert arms["pgboss"]["identical"] == 2 and arms["pgboss"]["checked"] == 3
    assert [d["url"] for d in arms["pgboss"]["differences"]] == [truncated]
    [diff] = differences(engine, NAME)
    assert len(diff["arm_text"]) == 40 and len(diff["control_text"]) > 40
    assert diff["control_text"].startswith(diff["arm_text"])
    [shown] = arms["pgboss"]["differences"]
    assert shown["arm_text"] == diff["arm_text"] and shown["control_text"] == diff["control_text"][:2000]
    html = sections_html({"consistency": section})
    assert "pgboss saved" in html and "control re-fetched" in html and truncated in html


def test_a_failed_refetch_counts_as_neither(engine: Engine, server: ArticleServer) -> None:
    ExperimentStore(engine).create(Experiment(name=NAME))
    job = _import(engine, server, "inngest", server.article_urls(1)[0])
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE bakeoff.trial_jobs SET url = :url WHERE trial_job_id = :job"),
            {"url": server.url("/no-such-page"), "job": job},
        )
    result = run_consistency_pass(engine, NAME, server.import_settings(), rate=1.0)
    assert (result.checked, result.refetch_failed) == (0, 1)
    (arm,) = consistency_section(engine, NAME)["arms"]
    assert arm["refetch_failed"] == 1 and arm["share"] is None


def test_the_sample_is_a_stable_share_of_the_jobs(engine: Engine, server: ArticleServer) -> None:
    ExperimentStore(engine).create(Experiment(name=NAME))
    for url in server.article_urls(3):
        _import(engine, server, "pgboss", url)
    assert run_consistency_pass(engine, NAME, server.import_settings(), rate=0.0).checked == 0
    set_sample_rate(engine, NAME, 1.0)
    assert run_consistency_pass(engine, NAME, server.import_settings()).checked == 3
    with pytest.raises(ValueError, match="between 0 and 1"):
        set_sample_rate(engine, NAME, 1.5)
