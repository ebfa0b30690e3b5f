"""Signed webhooks: registered by admins, delivered to a receiver on loopback with a verifiable signature, retried with
backoff when the receiver fails, logged, and emitted by real jobs through the worker."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations import addresses, endpoints, signing, webhook_events
from integrations import delivery as deliveries
from integrations.models import CallbackSecret, WebhookDelivery, WebhookEndpoint
from tests.helpers import sheet, wait_for_job
from tests.integrations.receiver import Receiver


@pytest.mark.django_db
def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(personas, api):
    client = api(personas.alpha, personas.dana)
    created = client.post(
        "/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["job.completed"]}, format="json"
    )
    assert created.status_code == 201, created.json()
    data = created.json()["data"]
    assert data["secret"].startswith("whsec_")
    shown = client.get(f"/api/v1/webhooks/{data['id']}").json()["data"]
    assert "secret" not in shown
    rotated = client.post(f"/api/v1/webhooks/{data['id']}/rotate-secret").json()["data"]["secret"]
    assert rotated != data["secret"] and WebhookEndpoint.objects.get(pk=data["id"]).secret == rotated

    bad = client.post("/api/v1/webhooks", {"url": "http://example.com/hook", "events": ["nope"]}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["details"]) == {"url", "events"}, "https only outside development; known events only"
    assert api(personas.alpha, personas.bob).get("/api/v1/webhooks").status_code == 403


@pytest.mark.django_db
def test_the_webhook_pages_show_the_secret_once_and_are_for_admins(personas, web):
    page = web(personas.alpha, personas.alice)
    response = page.post(
        "/settings/webhooks/", {"url": "http://127.0.0.1:9/hook", "events": ["job.failed"], "is_active": "on"}
    )
    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get(organization=personas.alpha, url="http://127.0.0.1:9/hook")
    assert endpoint.secret in response.content.decode()
    assert endpoint.secret not in page.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert page.post(f"/settings/webhooks/{endpoint.pk}/test/").status_code == 302
    assert WebhookDelivery.objects.filter(endpoint=endpoint, event="webhook.test").count() == 1
    assert web(personas.alpha, personas.bob).get("/settings/webhooks/").status_code == 403


@pytest.mark.django_db
def test_a_delivery_reaches_the_receiver_signed_and_a_failing_one_is_retried_then_delivered(personas):
    with Receiver(statuses=[503]) as receiver:
        endpoint = endpoints.create_endpoint(
            organization=personas.alpha, url=receiver.url + "/hook", events=["job.completed"]
        )
        [delivery] = webhook_events.emit("job.completed", personas.alpha, {"job_id": "x", "status": "completed"})

        assert deliveries.deliver(delivery.pk) == "retrying"
        delivery.refresh_from_db()
        assert delivery.status == "pending" and delivery.attempts == 1 and delivery.response_code == 503
        assert (
            timezone.now() + timedelta(seconds=20) < delivery.next_attempt_at < timezone.now() + timedelta(seconds=31)
        )
        assert "503" in delivery.last_error
        assert deliveries.deliver(delivery.pk) == "skipped", "not before its retry is due"

        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert deliveries.deliver(delivery.pk) == "delivered"
        delivery.refresh_from_db()
        assert delivery.status == "delivered" and delivery.attempts == 2 and delivery.response_code == 200
        assert delivery.latency_ms is not None and delivery.delivered_at is not None

    first, second = receiver.received
    assert first.body == second.body, "a retry sends the same event"
    body = json.loads(second.body)
    assert body["event"] == "job.completed" and body["organization"] == "alpha" and body["data"]["job_id"] == "x"
    assert set(body) == {"id", "event", "created_at", "organization", "data"}
    assert second.headers["X-QuizMarker-Event"] == "job.completed"
    assert second.headers["X-QuizMarker-Delivery"] == str(delivery.pk)
    assert signing.verify(endpoint.secret, second.headers["X-QuizMarker-Signature"], second.body)
    assert not signing.verify("whsec_wrong", second.headers["X-QuizMarker-Signature"], second.body)


@pytest.mark.django_db
def test_a_receiver_that_stays_down_is_retried_for_a_day_then_given_up(personas):
    endpoint = endpoints.create_endpoint(
        organization=personas.alpha, url="http://127.0.0.1:9/down", events=["job.failed"]
    )
    [delivery] = webhook_events.emit("job.failed", personas.alpha, {"job_id": "y"}, endpoints=[endpoint])
    assert deliveries.deliver(delivery.pk) == "retrying"
    growing = [deliveries.retry_delay(n) for n in range(1, 9)]  # about 30 s, 1 min, 2 min ... doubling
    assert growing == sorted(growing) and growing[0] <= 30
    assert max(deliveries.retry_delay(n) for n in range(9, 20)) <= deliveries.RETRY_MAX_SECONDS
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(hours=23, minutes=59, seconds=40), next_attempt_at=timezone.now()
    )
    assert deliveries.deliver(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 2 and "Gave up" in delivery.last_error


@pytest.mark.worker
def test_real_jobs_send_signed_webhooks_to_endpoints_and_to_a_jobs_callback_url(
    celery_worker, live_db, personas, api, openai_server
):
    with Receiver() as receiver:
        endpoint = endpoints.create_endpoint(
            organization=personas.alpha,
            url=receiver.url + "/endpoint",
            events=["job.completed", "job.failed", "submission.graded", "submission.reviewed"],
        )
        callback = endpoints.rotate_callback_secret(personas.alpha)
        try:
            client = api(personas.alpha, personas.bob)
            accepted = client.post(
                "/api/v1/upload",
                {"files": [sheet("s11_std11_typed.pdf")], "standard_id": 11, "callback_url": receiver.url + "/cb"},
                format="multipart",
            )
            assert accepted.status_code == 202, accepted.json()
            upload_id = accepted.json()["data"]["job_id"]
            assert wait_for_job(upload_id).status == "completed"

            [own] = receiver.wait_for(lambda r: r.path == "/cb")
            assert signing.verify(callback, own.headers["X-QuizMarker-Signature"], own.body)
            assert json.loads(own.body)["data"]["job_id"] == upload_id
            [done] = receiver.wait_for(lambda r: r.path == "/endpoint" and upload_id.encode() in r.body)
            assert signing.verify(endpoint.secret, done.headers["X-QuizMarker-Signature"], done.body)
            event = json.loads(done.body)
            assert event["event"] == "job.completed" and event["data"]["status"] == "completed"
            submission_id = event["data"]["result"]["submission_ids"][0]

            grading = client.post("/api/v1/grade", {"upload_job_id": upload_id}, format="json")
            assert grading.status_code == 202, grading.json()
            assert wait_for_job(grading.json()["data"]["job_id"]).status == "completed"
            [graded] = receiver.wait_for(lambda r: r.headers["X-QuizMarker-Event"] == "submission.graded")
            data = json.loads(graded.body)["data"]
            assert data["submission_id"] == submission_id and data["max_score"] is not None
            assert "Student" not in graded.body.decode() and "answer" not in json.dumps(data).lower()

            changed = client.patch(
                f"/api/v1/submissions/{submission_id}/questions/1", {"score": "0", "reason": "Checked"}, format="json"
            )
            assert changed.status_code == 200, changed.json()
            [reviewed] = receiver.wait_for(lambda r: r.headers["X-QuizMarker-Event"] == "submission.reviewed")
            assert json.loads(reviewed.body)["data"]["question_number"] == 1
            log = api(personas.alpha, personas.alice).get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()["data"]
            assert log["total"] >= 4 and all(d["status"] == "delivered" for d in log["deliveries"])
        finally:
            endpoint.delete()
            CallbackSecret.objects.filter(organization=personas.alpha).delete()
            WebhookDelivery.objects.filter(organization=personas.alpha).delete()


@pytest.mark.django_db
def test_urls_for_webhooks_must_be_https_outside_development(settings):
    settings.DEBUG = False
    settings.TESTING = False
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    with pytest.raises(ValidationError):
        addresses.validate_url("http://example.com/hook")
    with pytest.raises(ValidationError):
        addresses.validate_url("https://127.0.0.1/hook")
    with pytest.raises(ValidationError):
        addresses.validate_url("https://10.0.0.5/hook")
    assert addresses.validate_url("https://example.com/hook") == "https://example.com/hook"
    settings.TESTING = True
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    assert addresses.validate_url("http://localhost:8080/hook")
