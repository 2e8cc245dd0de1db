"""Property-based tests from the OpenAPI schema (schemathesis): generated requests, valid (positive) and invalid
(negative: wrong types, missing fields, no key), against the live server with the real AgentService never get a
5xx. Bounded: a fixed number of examples per operation, derandomized, so it runs in seconds."""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.api.helpers import AUTH

MAX_EXAMPLES = 25


def test_openapi_schema_is_complete(server):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    paths = set(schema.raw_schema["paths"])
    assert {"/v1/runs", "/v1/runs/stream", "/v1/chat/completions", "/v1/models", "/v1/threads/{thread_id}",
            "/v1/ingest", "/v1/sequence/report", "/healthz", "/readyz", "/metrics",
            "/v1/runs/{run_id}", "/v1/runs/{run_id}/cancel", "/v1/runs/{run_id}/stream", "/v1/threads",
            "/v1/documents", "/v1/documents/{doc_id}", "/v1/documents/search", "/v1/documents/stats",
            "/v1/jobs/{job_id}", "/v1/me", "/v1/me/preferences", "/v1/auth/token",
            "/v1/sequence/analyze", "/v1/sequence/genome"} <= paths
    assert "bearer" in schema.raw_schema["components"]["securitySchemes"]


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_server_errors_on_generated_requests(server, mode):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    generation = schemathesis.GenerationMode(mode)
    started = time.monotonic()
    failures: list[str] = []
    checked: list[str] = []
    no_inputs: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:
        @given(case=operation.as_strategy(generation))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(base_url=server.url, headers=AUTH, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{operation.label}: {response.status_code} {response.text[:300]}\n"
                                f"{case.as_curl_command()}")

        try:
            check()
        except Unsatisfiable:  # negative mode: an operation with no inputs to break (GET /healthz)
            assert mode == "negative"
            no_inputs.append(operation.label)
            continue
        checked.append(operation.label)
    assert len(checked) + len(no_inputs) == len(operations) and len(checked) >= 15, (checked, no_inputs)
    assert not failures, "\n\n".join(failures[:5])
    assert time.monotonic() - started < 180
