"""The OpenAPI schema covers every API v1 route, validates, matches the committed copy, and the docs page shows it."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver
from drf_spectacular.validation import validate_schema

from integrations.docs_page import schema
from tests.helpers import ROOT

COMMITTED = ROOT / "docs" / "openapi.yaml"
REGENERATE = "python manage.py spectacular --file docs/openapi.yaml"
NOT_ENDPOINTS = {"api-schema", "api-docs"}  # the schema and its docs page describe the API; they are not in it


def _routes(patterns, prefix="") -> list[tuple[str, str]]:
    routes = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            routes.append((pattern.name, route))
    return routes


def _openapi_path(route: str) -> str:
    return "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def test_every_api_v1_route_is_in_the_schema_and_the_schema_validates():
    from quizmarker import api_urls

    document = schema()
    validate_schema(document)
    missing = [
        _openapi_path(route)
        for name, route in _routes(api_urls.urlpatterns)
        if name not in NOT_ENDPOINTS and _openapi_path(route) not in document["paths"]
    ]
    assert not missing, f"API v1 routes missing from the OpenAPI schema: {missing}"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            ok = [code for code in operation["responses"] if code.startswith("2")]
            assert ok, f"{method.upper()} {path} documents no success response"
            if "401" in operation["responses"]:
                assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }


def test_success_answers_are_documented_inside_the_envelope_and_the_upload_as_multipart():
    document = schema()
    job = document["paths"]["/api/v1/jobs/{job_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert job["schema"]["properties"]["success"] == {"type": "boolean", "enum": [True]}
    assert job["schema"]["properties"]["data"] == {"$ref": "#/components/schemas/Job"}
    assert job["examples"]["ACompletedExtractionJob"]["value"]["success"] is True
    upload = document["paths"]["/api/v1/upload"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"413", "415", "429"} <= set(upload["responses"])
    result = document["paths"]["/api/v1/jobs/{job_id}/result"]["get"]["responses"]["409"]
    examples = result["content"]["application/json"]["examples"].values()
    assert [example["value"]["code"] for example in examples] == ["JOB_NOT_COMPLETED"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["tokenAuth"]["name"] == "Authorization" and "cookieAuth" in schemes


def test_the_committed_schema_is_up_to_date(tmp_path):
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(generated))
    assert COMMITTED.exists(), f"docs/openapi.yaml is missing; run: {REGENERATE}"
    assert yaml.safe_load(generated.read_text()) == yaml.safe_load(COMMITTED.read_text()), (
        f"docs/openapi.yaml is stale; regenerate it with: {REGENERATE}"
    )


@pytest.mark.django_db
def test_the_schema_and_the_docs_page_are_served_on_an_organization_host_without_signing_in(personas, web):
    client = web(personas.alpha)
    response = client.get("/api/v1/schema?format=json")
    assert response.status_code == 200
    assert "/api/v1/upload" in response.json()["paths"]
    assert client.get("/api/v1/schema").content.startswith(b"openapi: 3.0")
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    for path in schema()["paths"]:
        assert path in html
    assert "cdn" not in html.lower() and '<script src="http' not in html, "the docs page needs no CDN"
