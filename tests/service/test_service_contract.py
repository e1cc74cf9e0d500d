"""The OpenAPI document is the contract: the served one is the committed one, and the server keeps it.

schemathesis generates requests for every operation (valid ones, and invalid ones in negative mode)
against the live server: no 5xx, every status, content type, header and body as documented, and a
request the server refuses (4xx) writes nothing. The example budget keeps the whole fuzz to seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from service_support import ADMIN_TOKEN, LiveServer, counts, experiment_row
from sqlalchemy import Engine

from bakeoff.service.app import openapi_document

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"
EXAMPLES_PER_OPERATION = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_the_served_openapi_document_is_the_committed_one(live: LiveServer) -> None:
    served = httpx.get(f"{live.url}/openapi.json").json()
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert served == committed, (
        "docs/openapi.json is out of date: run `bakeoff serve --openapi > docs/openapi.json`"
    )
    assert COMMITTED.read_text(encoding="utf-8") == openapi_document()


def test_every_operation_survives_fuzzing_and_refusals_write_nothing(
    live: LiveServer, engine: Engine
) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 14
    refused = accepted = 0
    unsatisfiable: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def exercise(case: schemathesis.Case) -> None:
                nonlocal refused, accepted
                before = (counts(engine), experiment_row(engine))
                response = case.call(base_url=live.url, headers={**ADMIN, **(case.headers or {})})
                case.validate_response(response, checks=CHECKS)
                if 400 <= response.status_code < 500:
                    refused += 1
                    assert (counts(engine), experiment_row(engine)) == before, (
                        case.method,
                        case.path,
                        response.text,
                    )
                else:
                    accepted += 1

            try:
                exercise()
            except Unsatisfiable:
                # An operation with no parameters and no body has no invalid request to generate.
                assert mode is GenerationMode.NEGATIVE and not operation.body and not operation.query
                unsatisfiable.append(f"{operation.method.upper()} {operation.path}")
    print(f"fuzz: {accepted} accepted, {refused} refused")
    assert refused > 50 and accepted > 30
    assert set(unsatisfiable) <= {
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /ofrep/v1/configuration",
    }
