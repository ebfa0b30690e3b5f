"""The jobs engine: start, run, report, retry, cancel and account for background jobs.

Tasks in ``jobs.tasks`` are thin wrappers around :func:`execute`. Every status change is a conditional UPDATE, so a
late, repeated or stale message can never move a job that has finished or been handed to another attempt.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tenants.utils import schema_context

from jobs.errors import JobCancelled, JobError, PermanentJobError
from jobs.events import job_finished
from jobs.fairness import message_priority
from jobs.models import ACTIVE_STATUSES, BackgroundJob, GradingSession, JobEvent, JobStatus, JobType
from organizations import permissions
from quizmarker.events import send_on_commit

logger = logging.getLogger(__name__)

# What runs each job type: a function taking a JobContext and returning the job's result (a JSON-able dict).
HANDLERS: dict[str, str] = {
    JobType.EXTRACTION: "grading.reading.run_extraction_job",
    JobType.GRADING: "grading.marking.run_grading_job",
    JobType.EMAIL: "jobs.emails.run_email_job",
    JobType.SCHEME_IMPORT: "markschemes.importing.run_import_job",
}
TASKS: dict[str, str] = {
    JobType.EXTRACTION: "jobs.tasks.run_extraction",
    JobType.GRADING: "jobs.tasks.run_grading",
    JobType.EMAIL: "jobs.tasks.run_email",
    JobType.SCHEME_IMPORT: "jobs.tasks.run_scheme_import",
}
QUEUES: dict[str, str] = {
    JobType.EXTRACTION: "default",
    JobType.GRADING: "default",
    JobType.EMAIL: "low",
    JobType.SCHEME_IMPORT: "default",
}
# What else changes when a job fails or is cancelled, in the same transaction: a function taking (job, reason).
ON_STOPPED: dict[str, str] = {JobType.GRADING: "grading.services.grading_stopped"}
# How a failed or cancelled job is started again, through the same checks as its first start: (job, user) -> job.
RETRY_STARTERS: dict[str, str] = {JobType.GRADING: "grading.services.retry_grading"}

# Exceptions from the outside world that are worth another try.
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)


def log_event(job: BackgroundJob | str, message: str, level: str = JobEvent.Level.INFO) -> None:
    job_id = job.pk if isinstance(job, BackgroundJob) else job
    session_id = (
        job.session_id
        if isinstance(job, BackgroundJob)
        else (BackgroundJob.objects.filter(pk=job_id).values_list("session_id", flat=True).first())
    )
    JobEvent.objects.create(job_id=job_id, session_id=session_id, level=level, message=message[:500])


# --- Starting ---------------------------------------------------------------------------------


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
            priority=QUEUES[job_type],
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
        from quizmarker.api import ApiError

        raise ApiError(
            f"This organization has used its AI budget for the month (${spent:.2f} of "
            f"${organization.monthly_budget_usd:.2f}); ask an administrator to raise it.",
            code="BUDGET_EXCEEDED",
            status_code=403,
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
        .only("job_type", "organization_id", "organization__schema_name")
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


# --- Running ----------------------------------------------------------------------------------


@dataclass
class JobContext:
    """What a job's work sees: the job, progress reporting, checkpoints and the conditional finish."""

    job: BackgroundJob
    task_id: str
    # time.monotonic() past which the job must stop: its soft time limit, enforced at every checkpoint. (The
    # prefork pool also enforces it with a signal; the threads pool that runs AI jobs cannot, so this does.)
    deadline: float | None = None

    def _live(self):
        return BackgroundJob.objects.filter(pk=self.job.pk, celery_task_id=self.task_id, status=JobStatus.PROCESSING)

    def _check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SoftTimeLimitExceeded()

    def progress(self, percent: float, step: str | None = None) -> None:
        """Record progress (it never goes backwards) and act as a checkpoint for cancellation and the time limit."""
        self._check_deadline()
        percent = max(0, min(100, int(percent)))
        updates: dict[str, Any] = {"progress": Greatest(F("progress"), percent), "heartbeat_at": timezone.now()}
        if step:
            updates["current_step"] = step[:300]
        if not self._live().update(**updates):
            raise JobCancelled()

    def checkpoint(self) -> None:
        self._check_deadline()
        if not self._live().exists():
            raise JobCancelled()

    def callback(self, start: float, end: float, total: int, step: str) -> Callable[[int], None]:
        """A progress callback for loops: ``cb(i)`` after item i of ``total`` maps onto start..end percent;
        ``step`` may use {done} and {total}."""

        def report(done: int) -> None:
            fraction = done / total if total else 1.0
            self.progress(start + (end - start) * fraction, step.format(done=done, total=total))

        return report

    def log(self, message: str, level: str = JobEvent.Level.INFO) -> None:
        log_event(self.job, message, level)

    def complete(self, result: dict) -> None:
        """Mark the job completed. Call it inside the transaction that writes the job's records, so a job cancelled in
        the meantime raises JobCancelled and rolls them back: nothing half-written."""
        done = self._live().update(
            status=JobStatus.COMPLETED,
            progress=100,
            current_step="Done",
            result=result,
            completed_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        if not done:
            raise JobCancelled()
        # In the same transaction as the status, so whoever sees "completed" also sees its log line.
        log_event(self.job, "Completed.")
        finished(self.job, JobStatus.COMPLETED)
        self.job.status = JobStatus.COMPLETED
        self.job.result = result


def execute(job_id: str, task_id: str, worker: str = "") -> str:
    """Run one attempt of a job. Returns what happened (for the task's result record)."""
    job = BackgroundJob.objects.select_related("organization").filter(pk=job_id).first()
    if job is None:
        logger.warning("Job %s no longer exists; message dropped.", job_id)
        return "missing"
    if job.celery_task_id != task_id:
        logger.info("Stale message %s for job %s ignored (current %s).", task_id, job_id, job.celery_task_id)
        return "stale"
    resumed = job.status == JobStatus.PROCESSING
    if resumed and job.retry_count >= job.max_retries:
        # The message came back because the worker running it died (reject_on_worker_lost): a job that kills its
        # worker on every attempt must not be redelivered forever.
        lost = f"The worker running this job stopped unexpectedly on each of its {job.retry_count + 1} attempts"
        failed = fail(
            job, task_id, f"{lost} (it may need more memory than a worker has), so it was not run again.", "WORKER_LOST"
        )
        return "failed" if failed else "finished"
    now = timezone.now()
    claimed = BackgroundJob.objects.filter(pk=job.pk, celery_task_id=task_id, status__in=ACTIVE_STATUSES).update(
        status=JobStatus.PROCESSING,
        started_at=Coalesce(F("started_at"), now),
        attempt_started_at=now,
        heartbeat_at=now,
        worker=worker[:200],
        not_before=None,
        current_step="Starting",
        retry_count=F("retry_count") + (1 if resumed else 0),  # a lost worker's attempt counts as a retry
    )
    if not claimed:
        return "finished"
    job.refresh_from_db()
    if resumed:
        log_event(
            job,
            "The worker running this job stopped unexpectedly; running it again from the start.",
            JobEvent.Level.WARNING,
        )
    else:
        attempt = f" (attempt {job.retry_count + 1})" if job.retry_count else ""
        log_event(job, f"Started{attempt}.")
    soft, _ = settings.JOB_TIME_LIMITS[job.job_type]
    context = JobContext(job=job, task_id=task_id, deadline=time.monotonic() + soft)
    handler = import_string(HANDLERS[job.job_type])
    try:
        with heartbeat(job.pk, task_id), schema_context(job.organization.schema_name):
            result = handler(context)
            if job.status != JobStatus.COMPLETED:
                with transaction.atomic():
                    context.complete(result or {})
        return "completed"
    except JobCancelled:
        if BackgroundJob.objects.filter(pk=job.pk, status=JobStatus.CANCELLED).exists():
            log_event(job, "Stopped: the job was cancelled.", JobEvent.Level.WARNING)
        else:  # the reaper handed it to a new attempt while this one could not report (e.g. a database outage)
            log_event(job, "Stopped: this attempt was replaced by a new one.", JobEvent.Level.WARNING)
        return "cancelled"
    except SoftTimeLimitExceeded:
        fail(job, task_id, f"The job took longer than its {limit_text(soft)} limit and was stopped.", "JOB_TIMEOUT")
        return "failed"
    except JobError as exc:
        if exc.transient:
            return retry_or_fail(job, task_id, exc.message, exc.code, getattr(exc, "retry_after", None))
        fail(job, task_id, exc.message, exc.code)
        return "failed"
    except TRANSIENT_EXCEPTIONS as exc:
        return retry_or_fail(job, task_id, f"A connection failed ({type(exc).__name__}).", "TEMPORARY_FAILURE", None)
    except Exception:
        logger.exception("Job %s failed unexpectedly", job.pk)
        fail(
            job,
            task_id,
            "An unexpected error stopped this job; the team has been notified. Try again, or ask "
            "support if it keeps happening.",
            "INTERNAL_ERROR",
        )
        return "failed"


def limit_text(seconds: int) -> str:
    """A time limit as words: "14 minute", or "45 second" under two minutes."""
    return f"{seconds // 60} minute" if seconds >= 120 else f"{seconds} second"


class _Heartbeats:
    """The jobs running in this process, and one thread that stamps all their heartbeats every
    JOB_HEARTBEAT_SECONDS in one UPDATE, whether or not their work reports progress (one AI call may take a minute).

    A job whose heartbeat stops is one whose worker process is gone, even if a new worker now answers under the same
    name: the reaper re-queues it (jobs.housekeeping). One thread and one database connection per process, however
    many jobs its threads pool runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict = {}  # job id -> the task id of the attempt running it here
        self._thread: threading.Thread | None = None

    def _reset_after_fork(self) -> None:  # a prefork pool process starts with none of its parent's jobs or thread
        self.__init__()

    @contextmanager
    def beating(self, job_id, task_id: str):
        with self._lock:
            self._running[job_id] = task_id
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._beat, name="qm-heartbeats", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(job_id, None)

    def _beat(self) -> None:
        while True:
            time.sleep(settings.JOB_HEARTBEAT_SECONDS)
            with self._lock:
                running = dict(self._running)
            if not running:
                connections.close_all()  # no idle connection held while no job runs here
                continue
            attempts = Q()
            for job_id, task_id in running.items():
                attempts |= Q(pk=job_id, celery_task_id=task_id)
            try:
                BackgroundJob.objects.filter(attempts, status=JobStatus.PROCESSING).update(heartbeat_at=timezone.now())
            except Exception as exc:  # noqa: BLE001 - a database outage, say: the jobs meet it too; keep beating
                logger.warning("Could not record the heartbeat of %d job(s): %s", len(running), exc)
                connections.close_all()  # this thread's connection, replaced at the next beat


_heartbeats = _Heartbeats()
os.register_at_fork(after_in_child=_heartbeats._reset_after_fork)
heartbeat = _heartbeats.beating


def run_inline(job: BackgroundJob) -> str:
    """Run a queued job in this process instead of on a worker (``grade_quiz --sync``): same engine, no broker."""
    task_id = f"inline-{uuid.uuid4()}"
    BackgroundJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        celery_task_id=task_id, enqueued_at=timezone.now()
    )
    outcome = execute(str(job.pk), task_id, worker="inline")
    job.refresh_from_db()
    if outcome == "retrying" and job.status == JobStatus.QUEUED:
        time.sleep(max(0.0, (job.not_before - timezone.now()).total_seconds()) if job.not_before else 0.0)
        return run_inline(job)
    return outcome


def backoff_seconds(retry_count: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, at least the provider's Retry-After."""
    ceiling = min(settings.JOB_RETRY_BACKOFF_MAX, settings.JOB_RETRY_BACKOFF_BASE * (2**retry_count))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after:
        delay = max(delay, float(retry_after))
    return round(delay, 2)


def retry_or_fail(job: BackgroundJob, task_id: str, message: str, code: str, retry_after: float | None) -> str:
    if job.retry_count >= job.max_retries:
        failed = fail(job, task_id, f"{message} Gave up after {job.retry_count + 1} attempts.", code)
        return "failed" if failed else "finished"
    delay = backoff_seconds(job.retry_count, retry_after)
    moved = BackgroundJob.objects.filter(pk=job.pk, celery_task_id=task_id, status=JobStatus.PROCESSING).update(
        status=JobStatus.QUEUED,
        retry_count=F("retry_count") + 1,
        not_before=timezone.now() + timedelta(seconds=delay),
        current_step=f"Waiting {delay:.0f} s to retry after a temporary problem",
    )
    if not moved:
        return "cancelled"
    log_event(
        job,
        f"Temporary problem: {message} Retrying in {delay:.0f} s (retry {job.retry_count + 1} of {job.max_retries}).",
        JobEvent.Level.WARNING,
    )
    publish(job.pk, countdown=delay)
    return "retrying"


def fail(job: BackgroundJob, task_id: str | None, message: str, code: str) -> bool:
    filters = Q(pk=job.pk, status__in=ACTIVE_STATUSES)
    if task_id:
        filters &= Q(celery_task_id=task_id)
    with transaction.atomic():  # the status and its log line are seen together
        done = BackgroundJob.objects.filter(filters).update(
            status=JobStatus.FAILED,
            error_message=message,
            error_code=code,
            current_step="Failed",
            completed_at=timezone.now(),
        )
        if done:
            log_event(job, f"Failed: {message}", JobEvent.Level.ERROR)
            _stopped(job, message)
            finished(job, JobStatus.FAILED)
    return bool(done)


def finished(job: BackgroundJob, status: str) -> None:
    """Announce that ``job`` reached ``status`` (jobs.events.job_finished), once the transaction commits: listeners
    (webhooks, say) never block or fail the job."""
    send_on_commit(
        job_finished,
        BackgroundJob,
        job_id=job.pk,
        organization_id=job.organization_id,
        job_type=job.job_type,
        status=status,
    )


# --- Cancelling and retrying by hand ------------------------------------------------------------


def cancel_job(job: BackgroundJob, by=None) -> bool:
    """Cancel a queued job at once, or a processing one at its next checkpoint. False if it had already finished."""
    with transaction.atomic():
        done = BackgroundJob.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(
            status=JobStatus.CANCELLED, current_step="Cancelled", completed_at=timezone.now()
        )
        if done:
            who = f" by {by.email}" if by is not None and getattr(by, "email", None) else ""
            log_event(job, f"Cancelled{who}.", JobEvent.Level.WARNING)
            _stopped(job, f"The job was cancelled{who}.")
    job.refresh_from_db()
    return bool(done)


def _stopped(job: BackgroundJob, reason: str) -> None:
    if job.job_type in ON_STOPPED:
        import_string(ON_STOPPED[job.job_type])(job, reason)


def retry_job(job: BackgroundJob, by=None) -> BackgroundJob:
    """Start a failed or cancelled job again as a new job with the same input, through the same checks as a first
    start (a grading job: plan limit, budget, scripts already being graded). The old job records its replacement."""
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise PermanentJobError("Only a failed or cancelled job can be retried.", code="JOB_NOT_RETRYABLE")
    if job.files_removed_at is not None:
        raise PermanentJobError(
            f"This job's files and input were removed on {job.files_removed_at:%d %b %Y}, so it cannot be retried; "
            "upload the scripts again.",
            code="JOB_EXPIRED",
        )
    from quizmarker.broker import require_broker

    require_broker()  # a 503 while the job queue is down, before the new job is created
    with transaction.atomic():
        if job.job_type in RETRY_STARTERS:
            new_job = import_string(RETRY_STARTERS[job.job_type])(job, by or job.user)
        else:
            if job.job_type == JobType.EXTRACTION and (job.input or {}).get("grade"):
                from grading.services import check_plan_limit  # it grades once read: the upload's early check

                check_plan_limit(job.organization, 1)
            new_job = start_job(
                organization=job.organization,
                job_type=job.job_type,
                user=by or job.user,
                input=job.input,
                session=job.session,
            )
        BackgroundJob.objects.filter(pk=job.pk).update(retried_as=new_job.pk)
    return new_job


# --- Reading ------------------------------------------------------------------------------------


def visible_jobs(user, organization, membership):
    """Jobs a user may see in an organization: their own; all of it for its owners, admins and super admins."""
    jobs = BackgroundJob.objects.filter(organization=organization)
    if permissions.sees_all_work(user, membership):
        return jobs
    return jobs.filter(user=user)


def visible_job(user, organization, job_id) -> BackgroundJob | None:
    """One job if the user may see it, in one query: membership and role are checked inside it."""
    from django.db.models import Exists, OuterRef

    from organizations.models import Membership

    jobs = BackgroundJob.objects.filter(pk=job_id, organization=organization)
    if not user.is_superuser:
        membership = Membership.objects.filter(user=user, organization=OuterRef("organization_id"))
        manager = membership.filter(role__in=permissions.MANAGING_ROLES)
        jobs = jobs.filter(Exists(membership)).filter(Q(user=user) | Exists(manager))
    return jobs.first()


def visible_sessions(user, organization, membership):
    """Grading sessions a user may see, by the same rule as jobs."""
    sessions = GradingSession.objects.filter(organization=organization)
    if permissions.sees_all_work(user, membership):
        return sessions
    return sessions.filter(user=user)


def queue_health() -> dict:
    oldest = (
        BackgroundJob.objects.filter(status=JobStatus.QUEUED)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return {
        "queued": BackgroundJob.objects.filter(status=JobStatus.QUEUED).count(),
        "processing": BackgroundJob.objects.filter(status=JobStatus.PROCESSING).count(),
        "oldest_queued_age_seconds": round((timezone.now() - oldest).total_seconds(), 1) if oldest else None,
    }
