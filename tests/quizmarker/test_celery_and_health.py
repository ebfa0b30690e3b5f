"""Celery carries the organization's schema to the worker; /health tells ops what is up."""

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from quizmarker.celery import whoami

pytestmark = [pytest.mark.worker]


def test_a_task_sent_while_serving_an_organization_runs_in_its_schema(celery_worker, live_db, personas):
    with schema_context("alpha"):
        result = whoami.delay()
    assert result.get(timeout=30)["schema"] == "alpha"
    with schema_context("beta"):
        assert whoami.delay().get(timeout=30)["schema"] == "beta"


def test_a_task_sent_from_the_public_schema_runs_in_public(celery_worker, live_db):
    assert whoami.delay().get(timeout=30)["schema"] == "public"


def test_health_is_200_when_database_broker_and_worker_are_up(celery_worker, live_db, client):
    response = client.get("/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["workers"]["workers"]
    assert set(body["checks"]["broker"]["queues"]) == {"high", "default", "low"}
    assert "oldest_queued_age_seconds" in body["checks"]["jobs"]


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_health_is_503_naming_the_broker_when_redis_is_unreachable(live_db, client):
    response = client.get("/health")
    body = response.json()
    assert response.status_code == 503
    assert "broker" in body["down"]
    assert body["checks"]["database"]["ok"] is True


def test_health_is_answered_on_an_organizations_host_too(celery_worker, live_db, client, personas):
    assert client.get("/health", HTTP_HOST=personas.alpha.host).status_code == 200
