"""When the database goes away under a running server: clear 503s, probes that say so, no 5xx else."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from service_support import EXPERIMENT, LiveServer, recording_arms

from bakeoff.db.engine import make_engine
from bakeoff.service import ServiceSettings
from bakeoff.testing import TestDatabases, ensure_router_fake_jobs


def test_losing_the_database_answers_503_and_evaluations_keep_the_last_state(
    test_databases: TestDatabases,
) -> None:
    url = test_databases.create()
    engine = make_engine(url, pool_size=2)
    ensure_router_fake_jobs(engine)
    server = LiveServer(engine, ServiceSettings(), backends=recording_arms(engine)).__enter__()
    try:
        before = httpx.post(
            f"{server.url}/ofrep/v1/evaluate/flags/{EXPERIMENT}", json={"context": {"targetingKey": "u"}}
        )
        test_databases.drop(url)  # ends every session and removes the database

        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert ready.json()["database"] != "ok" and ready.json()["arms"] == {}
        assert httpx.get(f"{server.url}/healthz").status_code == 200

        submit = httpx.post(f"{server.url}/v1/imports", json={"url": "https://example.com/x"})
        assert submit.status_code == 503 and submit.headers["content-type"] == "application/problem+json"
        assert "nothing was written" in submit.json()["detail"] and submit.headers["retry-after"] == "1"
        for path in (f"/v1/experiments/{EXPERIMENT}", "/v1/imports/00000000-0000-0000-0000-000000000001"):
            response = httpx.get(f"{server.url}{path}")
            assert response.status_code == 503 and response.json()["title"] == "Service unavailable", path

        after = httpx.post(
            f"{server.url}/ofrep/v1/evaluate/flags/{EXPERIMENT}", json={"context": {"targetingKey": "u"}}
        )
        assert after.status_code == 200 and after.json() == before.json()
        scraped = {
            sample.name: sample.value
            for family in text_string_to_metric_families(httpx.get(f"{server.url}/metrics").text)
            for sample in family.samples
        }
        assert scraped["bakeoff_database_up"] == 0
    finally:
        server.__exit__(None, None, None)
        engine.dispose()
        test_databases.drop(url)
