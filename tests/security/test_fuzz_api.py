"""API fuzzing: schemathesis generates requests for every operation of the OpenAPI schema (docs/openapi.yaml, kept
equal to the live schema by tests/integrations/test_schema_and_docs.py) and sends them, authenticated with a DRF
token on an organization's host, through the WSGI app. No answer may be a server error, and every documented answer
must match its schema. Everything a request changes is rolled back after each operation's test.

Fast: 5 derandomized examples per operation. Long (RELIABILITY_FULL=1): 60 per operation.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.helpers import api_key

ROOT = Path(__file__).resolve().parents[2]
RAW = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
FULL = bool(os.environ.get("RELIABILITY_FULL"))
EXAMPLES = 60 if FULL else 5

# Operations that would destroy the test session's shared data (the organization itself, the caller's own token,
# the personas' memberships): fuzzed elsewhere with throwaway data, or not at all.
DESTRUCTIVE = {
    ("DELETE", "/api/v1/organizations/{organization_id}"),
    ("DELETE", "/api/v1/tokens/{token_id}"),
    ("DELETE", "/api/v1/organizations/{organization_id}/members/{user_id}"),
    ("PATCH", "/api/v1/organizations/{organization_id}/members/{user_id}"),
}
OPERATIONS = [
    pytest.param(method, path, id=f"{method} {path}")
    for method, path in sorted(
        (method.upper(), path)
        for path, item in RAW["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete") and (method.upper(), path) not in DESTRUCTIVE
    )
]


@pytest.fixture(scope="module")
def schema():
    from django.core.wsgi import get_wsgi_application

    loaded = schemathesis.openapi.from_dict(RAW)
    loaded.app = get_wsgi_application()
    return loaded


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """As Django's test client does: a request must not close the connection holding the test's transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_fuzzed_requests_never_get_a_server_error_and_match_the_schema(
    schema, api, personas, method, path, monkeypatch
):
    from grading.api import GradeThrottle, UploadThrottle

    # Throttles would turn most generated requests into 429s; they have their own tests (test_abuse).
    monkeypatch.setattr(UploadThrottle, "THROTTLE_RATES", {"upload": "100000/hour"})
    monkeypatch.setattr(GradeThrottle, "THROTTLE_RATES", {"grade": "100000/hour"})
    headers = {"Authorization": f"Token {api_key(personas.alice, personas.alpha)}", "Host": personas.alpha.host}
    operation = schema[path][method]
    seen: list[int] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):
        response = case.call(headers=headers)
        seen.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    fuzz()
    assert seen and all(status < 500 for status in seen), seen
