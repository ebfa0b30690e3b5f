"""Business actions of the grading app, shared by the API, the pages and the grade_quiz command."""

from __future__ import annotations

import uuid

from django.db import transaction

from grading.errors import Conflict, DomainError, Invalid, LimitReached, NotFound, missing
from grading.models import Submission, SubmissionStatus, UploadedFile
from grading.standards import discover, get_standard
from grading.storage import delete_folder, job_folder
from grading.uploads import CheckedFile, store_files
from integrations import endpoints
from jobs.errors import not_completed
from jobs.models import ACTIVE_STATUSES, BackgroundJob, GradingSession, JobStatus, JobType, Priority
from jobs.starting import start_job
from markschemes.models import MarkScheme, SchemeState
from markschemes.services import published_for_standard
from organizations.usage import lock_usage, quizzes_this_month
from quizmarker.broker import require_broker
from quizmarker.schemas import in_schema

SECONDS_PER_PAGE = 8
SECONDS_PER_SCRIPT = 15


def _unknown_standard(standard_id) -> Invalid:
    known = ", ".join(str(s.id) for s in discover())
    return Invalid(
        f"There is no standard {standard_id}; choose one of {known}.",
        code="VALIDATION_ERROR",
        details={"standard_id": [f"Unknown standard {standard_id}."]},
    )


def choose_mark_scheme(*, standard_id: int | None, mark_scheme_id: int | None) -> MarkScheme | None:
    """The scheme version to mark with: the published scheme named by id, else the standard's published scheme.
    None when neither is given (the standard the sheet shows decides later). Chosen when grading is asked for, so a
    version published while the scripts are graded changes nothing for them."""
    if mark_scheme_id is not None:
        scheme = MarkScheme.objects.filter(pk=mark_scheme_id).first()
        if scheme is None or scheme.state != SchemeState.PUBLISHED:
            raise Invalid(
                f"There is no published mark scheme {mark_scheme_id}; choose a published one.",
                code="VALIDATION_ERROR",
                details={"mark_scheme_id": ["Not a published mark scheme of this organization."]},
            )
        if standard_id is not None and standard_id != scheme.standard:
            marks = f"standard {scheme.standard}" if scheme.standard else f"the subject “{scheme.subject.name}”"
            raise Invalid(
                f"Mark scheme {mark_scheme_id} is for {marks}, not standard {standard_id}.",
                code="VALIDATION_ERROR",
                details={"mark_scheme_id": [f"This scheme marks {marks}."]},
            )
        return scheme
    if standard_id is None:
        return None
    scheme = published_for_standard(standard_id)
    if scheme is None:
        raise Invalid(
            f"Standard {standard_id} has no published mark scheme; publish one before grading.",
            code="VALIDATION_ERROR",
            details={"standard_id": [f"No published mark scheme for standard {standard_id}."]},
        )
    return scheme


def accept_upload(
    *,
    enqueue: bool = True,
    organization,
    user,
    files: list[CheckedFile],
    standard_id: int | None = None,
    session: GradingSession | None = None,
    session_label: str = "",
    grade: bool = False,
    mark_scheme_id: int | None = None,
    priority: str = Priority.NORMAL,
) -> BackgroundJob:
    """Store the checked files and start the extraction job. Nothing else happens on the request path. ``priority``
    (high: an owner's or admin's request, checked by the caller) is the grading job's too.

    With ``grade``, the extraction job starts the grading job itself as soon as the pages are read (see
    :func:`grade_when_read`), so the client needs no second request and the answers wait for no one."""
    if standard_id is not None and get_standard(standard_id) is None:
        raise _unknown_standard(standard_id)
    scheme = None
    if grade or mark_scheme_id is not None:  # checked now, not after the pages have been read
        scheme = choose_mark_scheme(standard_id=standard_id, mark_scheme_id=mark_scheme_id)
    if scheme is not None and standard_id is None:
        standard_id = scheme.standard
    if grade:
        check_plan_limit(organization, 1)  # say so now, not after the pages have been read
    if enqueue:
        require_broker()  # a 503 while the queue is down, before anything is stored
    job_id = uuid.uuid4()
    folder = job_folder(organization.schema_name, job_id)
    stored = store_files(organization.schema_name, job_id, files)
    try:
        with transaction.atomic():
            if session is None:
                session = GradingSession.objects.create(organization=organization, user=user, label=session_label)
            job = start_job(
                organization=organization,
                user=user,
                job_type=JobType.EXTRACTION,
                session=session,
                input={"files": stored, "standard_id": standard_id}
                | ({"grade": True} if grade else {})
                | ({"mark_scheme_id": scheme.pk} if scheme else {}),
                job_id=job_id,
                step="Waiting for a worker to read the pages",
                enqueue=enqueue,
                priority=priority,
            )
            UploadedFile.objects.bulk_create(
                [
                    UploadedFile(
                        upload_job_id=job.pk,
                        original_name=f.original_name,
                        stored_path=s["path"],
                        content_type=f.content_type,
                        size=f.size,
                        sha256=f.sha256,
                        page_count=f.pages,
                    )
                    for f, s in zip(files, stored, strict=True)
                ]
            )
    except Exception:
        delete_folder(folder)  # nothing half-stored remains
        raise
    return job


def estimated_seconds(job: BackgroundJob) -> int:
    pages = sum(f.get("pages", 1) for f in job.input.get("files", []))
    return max(5, pages * SECONDS_PER_PAGE)


def check_plan_limit(organization, quizzes: int) -> None:
    limit = organization.quiz_limit
    if limit is None:
        return
    used = quizzes_this_month(organization)
    if used + quizzes > limit:
        raise LimitReached(
            f"Your {organization.get_plan_display()} plan allows {limit} quizzes a month and {used} have been graded "
            f"this month, so {quizzes} more would go over the limit. Upgrade the plan or wait until next month.",
            code="PLAN_LIMIT_EXCEEDED",
            details={"plan": organization.plan, "quiz_limit": limit, "quizzes_this_month": used},
        )


def submissions_for_grading(organization, *, upload_job_id=None, submission_id=None) -> list[Submission]:
    if submission_id is not None:
        submission = Submission.objects.filter(pk=submission_id).first()
        if submission is None:
            raise missing("submission")
        return [submission]
    upload = BackgroundJob.objects.filter(
        pk=upload_job_id, organization=organization, job_type=JobType.EXTRACTION
    ).first()
    if upload is None:
        raise missing("upload job")
    if upload.status != JobStatus.COMPLETED:
        raise not_completed(upload, "upload job", "grade it")
    submissions = list(Submission.objects.filter(upload_job_id=upload.pk).order_by("created_at"))
    if not submissions:
        raise Invalid("The upload produced no scripts to grade.", code="VALIDATION_ERROR")
    return submissions


def start_grading(
    *,
    organization,
    user,
    submissions: list[Submission],
    standard_id: int | None,
    mark_scheme_id: int | None = None,
    enqueue: bool = True,
    refuse_while_paused: bool = True,
    priority: str = Priority.NORMAL,
) -> BackgroundJob:
    """Check the standard, the mark scheme and the plan limit, then start one grading job for the scripts. The
    scheme version is fixed here and recorded on each submission.

    A person's request is refused while the job queue is down (``refuse_while_paused``); a worker's follow-up
    grading is accepted all the same and published by the sweeper once the queue is back."""
    scheme = None
    if mark_scheme_id is not None:
        scheme = choose_mark_scheme(standard_id=standard_id, mark_scheme_id=mark_scheme_id)
        standard_id = scheme.standard
    if scheme is None or scheme.subject_id is None:  # an own subject's scheme needs no standard
        standard_id = standard_id or next((s.standard for s in submissions if s.standard), None)
        if standard_id is None:
            raise Invalid(
                "Which standard are these answers for? Give standard_id (1–15), or a mark_scheme_id.",
                code="VALIDATION_ERROR",
                details={"standard_id": ["This field is required for these scripts."]},
            )
        if get_standard(standard_id) is None:
            raise _unknown_standard(standard_id)
        scheme = scheme or choose_mark_scheme(standard_id=standard_id, mark_scheme_id=None)
    if enqueue and refuse_while_paused:
        require_broker()  # a 503 while the queue is down, before anything is created
    session = None
    if submissions[0].session_id:
        session = GradingSession.objects.filter(pk=submissions[0].session_id, organization=organization).first()
    with transaction.atomic():
        # The checks and the job row in one transaction under the organization's usage lock: of two gradings racing
        # for the plan's last quiz (or for the same scripts) the second sees the first one's job.
        lock_usage(organization)
        busy = list(
            Submission.objects.filter(
                pk__in=[s.pk for s in submissions],
                grading_job_id__in=BackgroundJob.objects.filter(
                    organization=organization, status__in=ACTIVE_STATUSES
                ).values("pk"),
            ).values_list("pk", flat=True)
        )
        if busy:
            raise Conflict(
                "These scripts are already being graded.",
                code="JOB_ALREADY_RUNNING",
                details={"submission_ids": [str(pk) for pk in busy]},
            )
        check_plan_limit(organization, len(submissions))
        job = start_job(
            organization=organization,
            user=user,
            job_type=JobType.GRADING,
            session=session,
            input={
                "submission_ids": [str(s.pk) for s in submissions],
                "standard_id": standard_id,
                "mark_scheme_id": scheme.pk,
                "quiz_count": len(submissions),
            },
            step="Waiting for a worker to grade the answers",
            enqueue=enqueue,
            priority=priority,
        )
        Submission.objects.filter(pk__in=[s.pk for s in submissions]).update(
            grading_job_id=job.pk,
            standard=standard_id,
            mark_scheme=scheme,
            status=SubmissionStatus.GRADING,
            grading_error="",
        )
    return job


def retry_grading(job: BackgroundJob, user) -> BackgroundJob:
    """Start a failed or cancelled grading job's scripts again: the same function as a first grading, so the same
    checks (scripts already being graded, plan limit, budget), and the scripts then point at the new job."""
    ids = job.input.get("submission_ids") or []
    with in_schema(job.organization.schema_name):
        submissions = list(Submission.objects.filter(pk__in=ids).order_by("created_at"))
        if not submissions or len(submissions) != len(ids):
            raise NotFound(
                "The scripts of this grading job no longer exist, so it cannot be retried.",
                code="NOT_FOUND",
            )
        return start_grading(
            organization=job.organization,
            user=user,
            submissions=submissions,
            standard_id=job.input.get("standard_id"),
            priority=job.priority,
        )


def grading_stopped(job: BackgroundJob, reason: str) -> None:
    """A grading job failed or was cancelled: its scripts that are still its own say so, with the reason (a newer
    grading job's scripts are left alone)."""
    with in_schema(job.organization.schema_name):
        Submission.objects.filter(grading_job_id=job.pk, status=SubmissionStatus.GRADING).update(
            status=SubmissionStatus.GRADING_FAILED, grading_error=reason[:500]
        )


def grade_when_read(upload: BackgroundJob, submissions: list[Submission]) -> dict:
    """Start grading the scripts an upload job has just read, for an upload that asked for it. Call it inside the
    transaction that completes the upload job: the grading job is published only if that commits.

    Returns what to add to the upload job's result: the grading job's id, or why grading did not start (the standard
    could not be detected, or the plan or budget ran out while the pages were read). The transcription is kept either
    way and can be graded later with POST /grade.

    A script flagged for a person (learner not identified, no question found: :attr:`Submission.flags`) is held
    back: it is graded once the assessor has checked it, so pages can still be moved between scripts and nothing is
    scored that was never read."""
    held = [str(s.pk) for s in submissions if s.flags]
    submissions = [s for s in submissions if not s.flags]
    if not submissions:
        return {
            "grading_job_id": None,
            "grading_error": "Every script needs a person's check before grading (see each script's flags).",
            "grading_error_code": "NEEDS_REVIEW",
            "held_for_review": held,
        }
    try:
        with transaction.atomic():
            job = start_grading(
                organization=upload.organization,
                user=upload.user,
                submissions=submissions,
                standard_id=upload.input.get("standard_id"),
                mark_scheme_id=upload.input.get("mark_scheme_id"),
                refuse_while_paused=False,
                priority=upload.priority,
            )
            if upload.input.get("callback_url"):
                endpoints.attach_callback(job, upload.input["callback_url"])
    except DomainError as exc:
        return {
            "grading_job_id": None,
            "grading_error": exc.message,
            "grading_error_code": exc.code,
            "held_for_review": held,
        }
    return {"grading_job_id": str(job.pk), "held_for_review": held}
