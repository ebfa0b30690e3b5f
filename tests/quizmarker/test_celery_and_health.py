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


def test_health_is_a_public_liveness_answer_without_details(live_db, client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_health_stays_200_with_the_broker_down_because_it_asks_nothing(live_db, client):
    assert client.get("/health").json() == {"status": "ok"}


def test_the_readiness_report_is_refused_to_everyone_but_super_admins_and_monitoring(live_db, client, personas):
    assert client.get("/health/ready").status_code == 403
    client.force_login(personas.alice)  # an organization's owner is not a super admin
    refused = client.get("/health/ready")
    assert refused.status_code == 403 and "HEALTH_TOKEN" in refused.json()["error"]
    with override_settings(HEALTH_TOKEN="monitoring-secret"):
        assert client.get("/health/ready", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    with override_settings(HEALTH_TOKEN=""):  # no token configured: no empty bearer gets in
        assert client.get("/health/ready", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_readiness_is_200_when_database_broker_and_worker_are_up(celery_worker, live_db, client, personas):
    client.force_login(personas.root)
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["processing"] == "running"
    assert body["checks"]["workers"]["workers"]
    assert set(body["checks"]["broker"]["queues"]) == {"high", "default", "low"}
    assert "oldest_queued_age_seconds" in body["checks"]["jobs"]


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0", HEALTH_TOKEN="monitoring-secret")
def test_readiness_is_503_naming_the_broker_when_redis_is_unreachable(live_db, client):
    response = client.get("/health/ready", HTTP_AUTHORIZATION="Bearer monitoring-secret")
    body = response.json()
    assert response.status_code == 503
    assert "broker" in body["down"] and body["processing"] == "paused"
    assert body["checks"]["database"]["ok"] is True


def test_the_readiness_report_is_kept_for_a_few_seconds(celery_worker, live_db, client, personas):
    client.force_login(personas.root)
    with override_settings(HEALTH_CACHE_SECONDS=60):
        first = client.get("/health/ready").json()
        with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
            assert client.get("/health/ready").json() == first, "the cached report, not a new round of checks"
    with override_settings(HEALTH_CACHE_SECONDS=0, CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        assert client.get("/health/ready").status_code == 503


def test_health_is_answered_on_an_organizations_host_too(live_db, client, personas):
    assert client.get("/health", HTTP_HOST=personas.alpha.host).status_code == 200
