"""The usage ledger, the two steps of retention, cleanup_jobs, session statuses and the statistics, against real
PostgreSQL (issue 17). The worker-driven scenarios are in test_records_that_last.py."""

from __future__ import annotations

import importlib
import shutil
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from grading.models import Submission, SubmissionStatus
from grading.services import start_grading
from jobs.cancel_retry import cancel_job
from jobs.job_log import log_event
from jobs.models import BackgroundJob, GradingSession, JobEvent, JobStatus, JobType
from jobs.retention import cleanup_jobs, remove_expired_files, remove_old_history
from jobs.running import fail
from jobs.stats import job_stats
from organizations.models import Membership, Organization, ProviderCall, Role, UsageMonth, User
from organizations.usage import cost_this_month, month_start, quizzes_graded, quizzes_this_month, record_graded
from quizmarker.errors import DomainError, LimitReached


def ago(**delta) -> datetime:
    return timezone.now() - timedelta(**delta)


def finished_job(organization, **fields) -> BackgroundJob:
    fields = {
        "job_type": JobType.GRADING,
        "status": JobStatus.COMPLETED,
        "started_at": ago(hours=2),
        "completed_at": ago(hours=2) + timedelta(seconds=10),
    } | fields
    return BackgroundJob.objects.create(organization=organization, **fields)


# --- The ledger ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_ledger_counts_per_utc_month_and_never_loses_a_count(personas):
    march = datetime(2031, 3, 31, 23, 59, 59, tzinfo=UTC)
    record_graded(personas.beta.pk, 2, now=march)
    record_graded(personas.beta.pk, 3, now=march)
    record_graded(personas.beta.pk, 1, now=march + timedelta(seconds=1))  # 1 April, 00:00 UTC

    rows = UsageMonth.objects.filter(organization=personas.beta, month__year=2031).order_by("month")
    assert [(r.month, r.quizzes_graded, r.grading_jobs) for r in rows] == [
        (date(2031, 3, 1), 5, 2),
        (date(2031, 4, 1), 1, 1),
    ]
    assert quizzes_graded(personas.beta, now=march) == 5
    assert month_start(datetime(2031, 4, 1, 0, 30, tzinfo=UTC)) == datetime(2031, 4, 1, tzinfo=UTC)


@pytest.mark.django_db
def test_a_failed_or_cancelled_jobs_ai_calls_still_count_and_survive_cleanup(personas, media_root):
    failed = finished_job(
        personas.beta,
        status=JobStatus.FAILED,
        created_at=ago(days=100),
        completed_at=ago(days=100),
        expires_at=ago(days=99),
    )
    ProviderCall.objects.create(
        organization=personas.beta,
        job=failed,
        provider="openai",
        model="m",
        purpose="grading",
        cost_usd=Decimal("0.25"),
    )
    before = cost_this_month(personas.beta)

    cleanup_jobs(now=timezone.now())

    assert not BackgroundJob.objects.filter(pk=failed.pk).exists()
    assert cost_this_month(personas.beta) == before
    assert ProviderCall.objects.get(cost_usd=Decimal("0.25"), organization=personas.beta).job_id is None


@pytest.mark.django_db
def test_the_backfill_fills_the_ledger_from_jobs_and_graded_submissions(personas):
    migration = importlib.import_module("organizations.migrations.0003_usage_ledger")
    UsageMonth.objects.filter(organization=personas.beta).delete()
    june = datetime(2030, 6, 15, 12, tzinfo=UTC)
    finished_job(personas.beta, input={"quiz_count": 3}, completed_at=june)
    finished_job(personas.beta, status=JobStatus.FAILED, input={"quiz_count": 9}, completed_at=june)
    with schema_context("beta"):
        for when in [june, june, datetime(2030, 5, 2, tzinfo=UTC)]:  # the May job's row was cleaned up
            Submission.objects.create(upload_job_id=uuid.uuid4(), grading_job_id=uuid.uuid4(), graded_at=when)

    migration.backfill(apps, type("Editor", (), {"connection": connection})())

    rows = UsageMonth.objects.filter(organization=personas.beta, month__year=2030).order_by("month")
    assert [(r.month, r.quizzes_graded) for r in rows] == [(date(2030, 5, 1), 1), (date(2030, 6, 1), 3)]


# --- Two gradings racing for the plan's last quiz ---------------------------------------------------------------


def _scripts(organization, n=1) -> list[Submission]:
    with schema_context(organization.schema_name):
        return [
            Submission.objects.create(upload_job_id=uuid.uuid4(), status=SubmissionStatus.EXTRACTED, standard=3)
            for _ in range(n)
        ]


def test_two_gradings_racing_for_the_last_quiz_get_one_job_and_one_refusal(personas, live_db):
    alpha = Organization.objects.get(pk=personas.alpha.pk)
    first_scripts, second_scripts = _scripts(alpha), _scripts(alpha)
    alpha.quiz_limit_override = quizzes_this_month(alpha) + 1
    alpha.save(update_fields=["quiz_limit_override"])
    first_holds_its_job, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first():
        try:
            with schema_context("alpha"), transaction.atomic():
                outcome["first"] = start_grading(
                    organization=alpha, user=None, submissions=first_scripts, standard_id=3, enqueue=False
                )
                first_holds_its_job.set()
                release.wait(30)  # the job row exists but is not committed yet
        finally:
            first_holds_its_job.set()
            connections.close_all()

    def second():
        try:
            with schema_context("alpha"):
                outcome["second"] = start_grading(
                    organization=alpha, user=None, submissions=second_scripts, standard_id=3, enqueue=False
                )
        except DomainError as exc:
            outcome["second"] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    try:
        threads[0].start()
        assert first_holds_its_job.wait(30)
        threads[1].start()
        waiting = _wait_for_a_lock_wait()
        release.set()
        for thread in threads:
            thread.join(30)
        assert waiting, "the second grading waited for the first one's transaction"
        assert isinstance(outcome["first"], BackgroundJob)
        refused = outcome["second"]
        assert isinstance(refused, LimitReached) and refused.code == "PLAN_LIMIT_EXCEEDED", refused
        assert not BackgroundJob.objects.filter(input__submission_ids__contains=[str(second_scripts[0].pk)]).exists()
    finally:
        release.set()
        for thread in threads:
            thread.join(30)
        for script in first_scripts + second_scripts:
            for job in BackgroundJob.objects.filter(input__submission_ids__contains=[str(script.pk)]):
                cancel_job(job)  # never graded: it holds no place in the plan
        Organization.objects.filter(pk=alpha.pk).update(quiz_limit_override=None)


def _wait_for_a_lock_wait(timeout: float = 20) -> bool:
    """Whether another session of this test database waits for a row lock (PostgreSQL's view of it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False


# --- Retention in two steps ---------------------------------------------------------------------------------


def upload_folder(root, job):
    folder = root / "uploads" / job.organization.schema_name / str(job.pk)
    folder.mkdir(parents=True)
    (folder / "1.png").write_bytes(b"\x89PNG fake")
    return folder


@pytest.mark.django_db
def test_history_goes_after_its_days_and_the_ledger_never(personas, media_root, settings):
    session = GradingSession.objects.create(organization=personas.beta, created_at=ago(days=95))
    old, kept = (
        finished_job(
            personas.beta,
            session=session,
            created_at=ago(days=95),
            completed_at=ago(days=days),
            expires_at=ago(days=94),
        )
        for days in (91, 89)
    )
    for job in (old, kept):
        log_event(job, "Completed.")
    record_graded(personas.beta.pk, 4, now=ago(days=91))
    ledger = list(UsageMonth.objects.filter(organization=personas.beta).values_list("month", "quizzes_graded"))

    assert remove_old_history() == (0, 0, 0), "a job whose files are still kept is not deleted before they go"
    assert remove_expired_files() >= 2
    assert remove_old_history() == (1, 2, 0)  # the old job with its two log lines; the session keeps a job

    assert not BackgroundJob.objects.filter(pk=old.pk).exists()
    assert JobEvent.objects.filter(job=kept).count() == 2
    assert GradingSession.objects.filter(pk=session.pk).exists()
    BackgroundJob.objects.filter(pk=kept.pk).update(completed_at=ago(days=91))
    assert remove_old_history() == (1, 2, 1)
    assert not GradingSession.objects.filter(pk=session.pk).exists()
    assert list(UsageMonth.objects.filter(organization=personas.beta).values_list("month", "quizzes_graded")) == ledger


@pytest.mark.django_db
def test_a_cleanup_killed_between_deleting_files_and_recording_it_is_finished_by_the_next_run(personas, media_root):
    job = finished_job(personas.beta, expires_at=ago(minutes=1), input={"files": [{"path": "x"}]})
    folder = upload_folder(media_root, job)
    shutil.rmtree(folder)  # the state a kill leaves: files gone, the job not yet marked

    assert remove_expired_files() >= 1

    job.refresh_from_db()
    assert job.files_removed_at is not None and job.input == {}
    assert remove_expired_files() == 0, "nothing is done twice"


@pytest.mark.django_db
def test_cleanup_jobs_says_what_it_would_remove_and_then_removes_it(personas, media_root, settings):
    BackgroundJob.objects.filter(files_removed_at__isnull=True, status__in=["completed", "failed", "cancelled"]).update(
        files_removed_at=timezone.now()
    )  # only this test's jobs are due
    BackgroundJob.objects.filter(completed_at__lt=ago(days=settings.JOB_HISTORY_DAYS)).delete()
    expired = finished_job(personas.beta, expires_at=ago(minutes=5))
    recent = finished_job(personas.beta, completed_at=ago(hours=3))  # expires tomorrow
    ancient = finished_job(personas.beta, created_at=ago(days=100), completed_at=ago(days=100), expires_at=ago(days=99))
    log_event(ancient, "Completed.")
    folders = [upload_folder(media_root, job) for job in (expired, recent)]

    dry = StringIO()
    call_command("cleanup_jobs", "--dry-run", stdout=dry)
    assert dry.getvalue().splitlines() == [
        "Would remove the files and input/result of 2 expired job(s).",
        f"Would remove 1 job(s) older than {settings.JOB_HISTORY_DAYS} days, with 1 log line(s), and 0 session(s) "
        "left without jobs.",
    ]
    assert all(folder.exists() for folder in folders) and BackgroundJob.objects.filter(pk=ancient.pk).exists()

    out = StringIO()
    call_command("cleanup_jobs", stdout=out)
    assert out.getvalue().splitlines()[0] == "Removed the files and input/result of 2 expired job(s)."
    assert not folders[0].exists() and folders[1].exists()
    assert not BackgroundJob.objects.filter(pk=ancient.pk).exists()

    out = StringIO()
    call_command("cleanup_jobs", "--older-than", "2", stdout=out)
    assert out.getvalue().splitlines()[0] == "Removed the files and input/result of 1 expired job(s)."
    assert not folders[1].exists()


# --- Statuses -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_grading_job_that_fails_or_is_cancelled_marks_its_own_scripts_with_the_reason(personas):
    with schema_context("beta"):
        scripts = _scripts(personas.beta, 2)
        job = start_grading(
            organization=personas.beta, user=None, submissions=scripts[:1], standard_id=3, enqueue=False
        )
        other = start_grading(
            organization=personas.beta, user=None, submissions=scripts[1:], standard_id=3, enqueue=False
        )
        assert Submission.objects.get(pk=scripts[0].pk).status == SubmissionStatus.GRADING

        assert fail(job, None, "The AI provider refused our credentials.", "PROVIDER_AUTH")
        assert cancel_job(other)

        first, second = (Submission.objects.get(pk=s.pk) for s in scripts)
    assert (first.status, first.grading_error) == ("grading_failed", "The AI provider refused our credentials.")
    assert (second.status, second.grading_error) == ("grading_failed", "The job was cancelled.")


@pytest.mark.django_db
def test_a_session_follows_the_latest_attempt_of_each_piece_of_work(personas):
    session = GradingSession.objects.create(organization=personas.beta)
    with schema_context("beta"):
        script = _scripts(personas.beta)[0]
        Submission.objects.filter(pk=script.pk).update(session_id=session.pk)
        failed_read = finished_job(personas.beta, session=session, job_type=JobType.EXTRACTION, status="failed")
        failed_grading = finished_job(personas.beta, session=session, status="failed")
        Submission.objects.filter(pk=script.pk).update(grading_job_id=failed_grading.pk)
        assert session.status == "needs_attention"

        reread = finished_job(personas.beta, session=session, job_type=JobType.EXTRACTION)
        BackgroundJob.objects.filter(pk=failed_read.pk).update(retried_as=reread.pk)
        assert session.status == "needs_attention", "the grading of the script still failed"
        regrading = finished_job(personas.beta, session=session, status="processing")
        Submission.objects.filter(pk=script.pk).update(grading_job_id=regrading.pk)
        assert session.status == "in_progress"
        BackgroundJob.objects.filter(pk=regrading.pk).update(status="completed")
        assert session.status == "completed"


# --- Statistics ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stats_time_grading_jobs_alone_and_count_what_is_pending_now(personas):
    user = User.objects.create_user("stats@beta.test", "pw")
    Membership.objects.create(user=user, organization=personas.beta, role=Role.MEMBER)
    session = GradingSession.objects.create(organization=personas.beta, user=user)
    now = timezone.now()
    for job_type, seconds, days in [("grading", 10, 1), ("grading", 30, 6), ("extraction", 100, 1), ("grading", 5, 9)]:
        start = now - timedelta(days=days)
        finished_job(
            personas.beta,
            user=user,
            job_type=job_type,
            created_at=start,
            started_at=start,
            completed_at=start + timedelta(seconds=seconds),
        )
    finished_job(personas.beta, user=user, session=session, status="queued", created_at=now - timedelta(minutes=2))
    finished_job(personas.beta, user=user, session=session, status="processing", created_at=now)

    stats = job_stats(BackgroundJob.objects.filter(user=user), window_hours=168)

    assert stats["by_type"] == {"extraction": 1, "grading": 4, "email": 0, "scheme_import": 0}
    assert stats["grading_duration_seconds"] == {
        "avg": 20.0,
        "min": 10.0,
        "max": 30.0,
        "p95": 29.0,
        "completed_jobs": 2,
    }
    assert stats["processing_time_seconds"]["max"] == 100.0
    assert (stats["pending"], stats["processing"], stats["active_sessions"]) == (1, 1, 1)
    assert stats["oldest_pending_age_seconds"] == pytest.approx(120, abs=5)
    assert stats["oldest_queued_age_seconds"] == stats["oldest_pending_age_seconds"]
