"""Starting a job: the budget check, the job's row, and its message to the broker once that row is committed."""

from __future__ import annotations

import logging
import uuid

import kombu.exceptions
import redis.exceptions
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs.errors import LimitReached
from jobs.fairness import message_priority
from jobs.job_log import log_event
from jobs.models import BackgroundJob, GradingSession, JobStatus, Priority
from jobs.registry import QUEUES, TASKS

logger = logging.getLogger(__name__)


def start_job(
    *,
    organization,
    job_type: str,
    user=None,
    input: dict | None = None,
    session: GradingSession | None = None,
    step: str = "Waiting for a worker",
    check_limits: bool = True,
    job_id=None,
    enqueue: bool = True,
    priority: str = Priority.NORMAL,
) -> BackgroundJob:
    """Create the job row and publish its message once the surrounding transaction commits.

    The caller validates input and checks limits first. If the broker is down at that moment the job is still
    accepted: it stays queued without a message and the sweeper publishes it later.
    """
    if check_limits:
        check_budget(organization)
    with transaction.atomic():
        job = BackgroundJob.objects.create(
            **({"id": job_id} if job_id else {}),
            organization=organization,
            user=user,
            session=session,
            job_type=job_type,
            priority=priority,
            input=input or {},
            max_retries=settings.JOB_MAX_RETRIES,
            current_step=step,
        )
        log_event(job, f"{job.get_job_type_display()} job accepted.")
        if enqueue:  # (False: the caller runs it in-process with run_inline)
            transaction.on_commit(lambda: publish(job.pk))
    return job


def check_budget(organization) -> None:
    """Refuse new jobs once an organization's monthly AI budget is spent."""
    if organization.monthly_budget_usd is None:
        return
    from organizations.usage import cost_this_month

    spent = cost_this_month(organization)
    if spent >= organization.monthly_budget_usd:
        raise LimitReached(
            f"This organization has used its AI budget for the month (${spent:.2f} of "
            f"${organization.monthly_budget_usd:.2f}); ask an administrator to raise it.",
            code="BUDGET_EXCEEDED",
            details={"budget_usd": str(organization.monthly_budget_usd), "spent_usd": f"{spent:.2f}"},
        )


def publish(job_id, countdown: float | None = None) -> bool:
    """Hand the job to the broker under a fresh message id. Returns False (and leaves it to the sweeper) if the broker
    cannot be reached."""
    from quizmarker.celery import app

    task_id = str(uuid.uuid4())
    claimed = BackgroundJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        celery_task_id=task_id, enqueued_at=None
    )
    if not claimed:
        return False
    job = (
        BackgroundJob.objects.select_related("organization")
        .only("job_type", "priority", "organization_id", "organization__schema_name")
        .get(pk=job_id)
    )
    try:
        app.send_task(
            TASKS[job.job_type],
            args=[str(job_id)],
            task_id=task_id,
            queue=QUEUES[job.job_type],
            countdown=countdown,
            priority=message_priority(job, QUEUES),  # an organization with little in flight goes first
            headers={"_schema_name": job.organization.schema_name},
        )
    except (kombu.exceptions.OperationalError, redis.exceptions.RedisError, OSError) as exc:
        logger.warning("Broker unavailable; job %s stays queued for the sweeper: %s", job_id, exc)
        from quizmarker.broker import note_broker_down

        note_broker_down()
        return False
    BackgroundJob.objects.filter(pk=job_id, celery_task_id=task_id).update(enqueued_at=timezone.now())
    return True
