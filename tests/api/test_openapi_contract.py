"""Schemathesis against the served OpenAPI document: no 5xx, answers match the schema.

Every operation of the query API (the endless stream routes and the chat routes
aside) gets generated cases, valid and invalid, sent with a scoped admin token over
real HTTP.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.stack
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def test_openapi_contract(api_env) -> None:
    schema = schemathesis.openapi.from_url(api_env.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {api_env.tokens['alpha_admin']}"}
    operations = [r.ok() for r in schema.get_all_operations()]
    # the endless streams, and the chat routes (503 by design without an LLM; own tests)
    operations = [op for op in operations
                  if "/stream/" not in op.path and not op.path.startswith("/api/v1/chat")]
    assert len(operations) >= 30
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
