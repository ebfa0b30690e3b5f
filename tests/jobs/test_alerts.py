"""Alerts: one email to the super admins when an alert opens, one when it resolves, none while it stays open; the
admin dashboard lists the open ones."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from jobs.alerts import check_alerts
from jobs.models import Alert, BackgroundJob, JobStatus, JobType
from organizations.models import ProviderCall


@pytest.fixture
def quiet(db, personas):
    """Nothing else in the database to alert on (rolled back with the test)."""
    BackgroundJob.objects.all().delete()
    ProviderCall.objects.all().delete()
    Alert.objects.all().delete()
    personas.alpha.__class__.objects.update(monthly_budget_usd=None)
    return personas


def run(now, captured):
    with captured(execute=True):
        return check_alerts(now)


def test_an_old_queued_job_opens_one_alert_emails_once_and_resolves_with_one_more_email(
    quiet, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.ALERT_QUEUE_AGE_SECONDS = 600
    now = timezone.now()
    job = BackgroundJob.objects.create(organization=quiet.alpha, job_type=JobType.EXTRACTION)
    BackgroundJob.objects.filter(pk=job.pk).update(created_at=now - timedelta(seconds=599))
    assert run(now, django_capture_on_commit_callbacks) == {"opened": [], "resolved": []}
    BackgroundJob.objects.filter(pk=job.pk).update(created_at=now - timedelta(seconds=601))

    assert run(now, django_capture_on_commit_callbacks) == {"opened": ["queue_age"], "resolved": []}
    assert [m.subject for m in mailoutbox] == ["[QuizMarker alert] Jobs waiting too long for a worker"]
    assert mailoutbox[0].to == [quiet.root.email]
    for minute in range(1, 4):  # still waiting: no second email
        assert run(now + timedelta(minutes=minute), django_capture_on_commit_callbacks) == {
            "opened": [],
            "resolved": [],
        }
    assert len(mailoutbox) == 1
    assert Alert.objects.filter(key="queue_age", resolved_at__isnull=True).count() == 1

    BackgroundJob.objects.filter(pk=job.pk).update(status=JobStatus.PROCESSING, heartbeat_at=now + timedelta(minutes=4))
    assert run(now + timedelta(minutes=4), django_capture_on_commit_callbacks) == {
        "opened": [],
        "resolved": ["queue_age"],
    }
    assert run(now + timedelta(minutes=5), django_capture_on_commit_callbacks) == {"opened": [], "resolved": []}
    assert [m.subject for m in mailoutbox] == [
        "[QuizMarker alert] Jobs waiting too long for a worker",
        "[QuizMarker resolved] Jobs waiting too long for a worker",
    ]
    assert not Alert.objects.filter(resolved_at__isnull=True).exists()


def test_a_failure_rate_over_the_threshold_and_an_organization_near_its_budget_open_alerts(
    quiet, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.ALERT_FAILURE_RATE = 0.2
    settings.ALERT_MIN_SAMPLES = 10
    settings.ALERT_BUDGET_FRACTION = 0.9
    now = timezone.now()
    for failed in [True] * 2 + [False] * 8:  # 20 %: not over the threshold
        BackgroundJob.objects.create(
            organization=quiet.alpha,
            job_type=JobType.GRADING,
            status=JobStatus.FAILED if failed else JobStatus.COMPLETED,
            completed_at=now - timedelta(minutes=5),
        )
    quiet.alpha.__class__.objects.filter(pk=quiet.alpha.pk).update(monthly_budget_usd=Decimal("10.00"))
    ProviderCall.objects.create(
        organization=quiet.alpha, provider="openai", model="m", purpose="grading", cost_usd=Decimal("8.99")
    )
    assert run(now, django_capture_on_commit_callbacks) == {"opened": [], "resolved": []}

    BackgroundJob.objects.create(
        organization=quiet.alpha, job_type=JobType.GRADING, status=JobStatus.FAILED, completed_at=now
    )  # 3 of 11
    ProviderCall.objects.create(
        organization=quiet.alpha, provider="openai", model="m", purpose="grading", cost_usd=Decimal("0.01")
    )  # $9.00 of $10.00
    assert sorted(run(now, django_capture_on_commit_callbacks)["opened"]) == ["budget:alpha", "failure_rate"]
    assert sorted(m.subject for m in mailoutbox) == [
        "[QuizMarker alert] Many jobs failing",
        "[QuizMarker alert] alpha near its AI budget",
    ]
    bodies = {m.subject: m.body for m in mailoutbox}
    assert (
        "3 of the 11 jobs that finished in the last 60 minutes failed" in bodies["[QuizMarker alert] Many jobs failing"]
    )
    assert "has spent $9.00 of its $10.00 monthly AI budget" in bodies["[QuizMarker alert] alpha near its AI budget"]


def test_the_admin_dashboard_lists_open_alerts_only(quiet, web):
    now = timezone.now()
    Alert.objects.create(key="queue_age", title="a job has waited 12 min", detail="d", opened_at=now, checked_at=now)
    Alert.objects.create(
        key="stuck_jobs", title="1 job(s) stuck", detail="d", opened_at=now, checked_at=now, resolved_at=now
    )
    page = web(user=quiet.root).get("/admin/dashboard/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "a job has waited 12 min" in text
    assert "1 job(s) stuck" not in text
