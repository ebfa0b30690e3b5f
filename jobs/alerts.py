"""Alerts for ops: a beat task (``jobs.tasks.check_alerts``, every minute) looks for trouble, opens an alert for each
problem it finds and resolves the alerts whose problem is gone. Super admins get one email when an alert opens and
one when it resolves — never another while it stays open — and the admin dashboard lists the open ones.

What is watched (thresholds in settings, README "Alerts"):

- ``stuck_jobs``: jobs processing past their hard time limit, or whose heartbeat stopped (ALERT_* none: the job
  limits themselves, JOB_TIME_LIMITS and JOB_SILENT_AFTER_SECONDS);
- ``failure_rate``: of the jobs that finished in the last ALERT_WINDOW_MINUTES, more than ALERT_FAILURE_RATE failed
  (once at least ALERT_MIN_SAMPLES finished);
- ``queue_age``: the oldest queued job has waited more than ALERT_QUEUE_AGE_SECONDS;
- ``provider_errors``: of the AI calls in the window, more than ALERT_PROVIDER_ERROR_RATE failed (at least
  ALERT_MIN_SAMPLES calls);
- ``budget:<slug>``: an organization has spent ALERT_BUDGET_FRACTION of its monthly AI budget.

Each alert is a row (``jobs.Alert``) keyed by what it is about; at most one open row per key (a database constraint),
so two checks running at once cannot open it twice, and the resolve is a conditional update.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    key: str
    title: str  # the same while the problem lasts: the subject of both emails
    detail: str  # the figures now


def _rate(failed: int, total: int) -> float:
    return failed / total if total else 0.0


def find_problems(now: datetime) -> list[Finding]:
    from jobs.models import BackgroundJob, JobStatus
    from organizations.models import Organization, ProviderCall
    from organizations.usage import cost_this_month

    found: list[Finding] = []
    silent = now - timedelta(seconds=settings.JOB_SILENT_AFTER_SECONDS)
    stuck = Q(heartbeat_at__lt=silent)
    for job_type, (_, hard) in settings.JOB_TIME_LIMITS.items():
        stuck |= Q(job_type=job_type, attempt_started_at__lt=now - timedelta(seconds=hard))
    stuck_count = BackgroundJob.objects.filter(stuck, status=JobStatus.PROCESSING).count()
    if stuck_count:
        found.append(
            Finding(
                "stuck_jobs",
                "Jobs stuck",
                f"{stuck_count} job(s) are processing past their time limit or have not reported for "
                f"{settings.JOB_SILENT_AFTER_SECONDS} s; the reaper re-queues or fails them every 5 minutes.",
            )
        )

    window = now - timedelta(minutes=settings.ALERT_WINDOW_MINUTES)
    finished = BackgroundJob.objects.filter(
        completed_at__gte=window, status__in=[JobStatus.COMPLETED, JobStatus.FAILED]
    )
    total, failed = finished.count(), finished.filter(status=JobStatus.FAILED).count()
    if total >= settings.ALERT_MIN_SAMPLES and _rate(failed, total) > settings.ALERT_FAILURE_RATE:
        found.append(
            Finding(
                "failure_rate",
                "Many jobs failing",
                f"{failed} of the {total} jobs that finished in the last {settings.ALERT_WINDOW_MINUTES} minutes "
                f"failed (threshold {settings.ALERT_FAILURE_RATE:.0%}).",
            )
        )

    oldest = (
        BackgroundJob.objects.filter(status=JobStatus.QUEUED)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if oldest is not None and (now - oldest).total_seconds() > settings.ALERT_QUEUE_AGE_SECONDS:
        waited = (now - oldest).total_seconds()
        found.append(
            Finding(
                "queue_age",
                "Jobs waiting too long for a worker",
                f"The oldest queued job has waited {waited:.0f} s for a worker (threshold "
                f"{settings.ALERT_QUEUE_AGE_SECONDS} s): are the workers running and keeping up?",
            )
        )

    calls = ProviderCall.objects.filter(created_at__gte=window)
    total, failed = calls.count(), calls.filter(succeeded=False).count()
    if total >= settings.ALERT_MIN_SAMPLES and _rate(failed, total) > settings.ALERT_PROVIDER_ERROR_RATE:
        found.append(
            Finding(
                "provider_errors",
                "AI provider errors",
                f"{failed} of {total} AI provider calls in the last {settings.ALERT_WINDOW_MINUTES} minutes failed "
                f"(threshold {settings.ALERT_PROVIDER_ERROR_RATE:.0%}).",
            )
        )

    for organization in Organization.objects.filter(monthly_budget_usd__isnull=False, monthly_budget_usd__gt=0):
        spent = cost_this_month(organization, now)
        if spent >= organization.monthly_budget_usd * Decimal(str(settings.ALERT_BUDGET_FRACTION)):
            found.append(
                Finding(
                    f"budget:{organization.slug}",
                    f"{organization.slug} near its AI budget",
                    f"{organization.name} has spent ${spent:.2f} of its ${organization.monthly_budget_usd:.2f} "
                    f"monthly AI budget (alert at {settings.ALERT_BUDGET_FRACTION:.0%}); new jobs are refused once "
                    "it is all spent.",
                )
            )
    return found


def check_alerts(now: datetime | None = None) -> dict[str, list[str]]:
    """Open an alert for each new problem and resolve those that are gone; email super admins on each change."""
    from jobs.models import Alert

    now = now or timezone.now()
    found = {finding.key: finding for finding in find_problems(now)}
    opened, resolved = [], []
    for alert in Alert.objects.filter(resolved_at__isnull=True):
        if alert.key in found:
            finding = found.pop(alert.key)
            Alert.objects.filter(pk=alert.pk).update(title=finding.title, detail=finding.detail, checked_at=now)
            continue
        with transaction.atomic():
            if Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(resolved_at=now, checked_at=now):
                resolved.append(alert.key)
                transaction.on_commit(lambda alert=alert: _email(alert, opened=False))
    for finding in found.values():
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    key=finding.key, title=finding.title, detail=finding.detail, opened_at=now, checked_at=now
                )
                transaction.on_commit(lambda alert=alert: _email(alert, opened=True))
        except IntegrityError:  # another check opened it a moment ago
            continue
        opened.append(finding.key)
    return {"opened": opened, "resolved": resolved}


def _email(alert, *, opened: bool) -> None:
    from organizations.models import User

    recipients = list(User.objects.filter(is_superuser=True, is_active=True).values_list("email", flat=True))
    if not recipients:
        return
    if opened:
        subject = f"[QuizMarker alert] {alert.title}"
        body = f"{alert.detail}\n\nOpened at {alert.opened_at:%Y-%m-%d %H:%M} UTC. Open alerts: /admin/dashboard/"
    else:
        subject = f"[QuizMarker resolved] {alert.title}"
        body = f"Resolved: {alert.detail}\n\nOpen from {alert.opened_at:%Y-%m-%d %H:%M} UTC until it cleared."
    try:
        send_mail(subject, body, None, recipients, fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - the alert stays recorded and on the dashboard
        logger.warning("Alert email %r not sent: %s", subject, exc)
