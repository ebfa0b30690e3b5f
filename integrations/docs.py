"""Documentation-only serializers and examples for API v1's answers (used by ``@extend_schema`` on the views; the
views build their answers themselves). Keep them in step with ``jobs.serializers`` and ``grading.serializers``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from grading.serializers import StudentSerializer, SubmissionSerializer
from jobs.models import JobStatus, JobType, Priority
from quizmarker.api import page_serializer

JOB_ID = "8f1c2a7e-5b7d-4c39-9a55-0d3f4e6b1c2a"
SUBMISSION_ID = "3b9d6f0a-1c2e-4f5a-8b7c-9d0e1f2a3b4c"
SESSION_ID = "c0ffee00-1234-4abc-8def-0123456789ab"


class JobAcceptedSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=[JobStatus.QUEUED.value])
    job_status_url = serializers.URLField(help_text="Poll this URL (GET) until the job has finished.")
    estimated_time = serializers.IntegerField(allow_null=True, help_text="A rough estimate, in seconds.")
    session_id = serializers.UUIDField(allow_null=True, help_text="The grading session the job belongs to.")

    class Meta:
        ref_name = "JobAccepted"


ACCEPTED_EXAMPLE = OpenApiExample(
    "Accepted",
    value={
        "job_id": JOB_ID,
        "status": "queued",
        "job_status_url": f"https://demo.quizmarker.example/api/v1/jobs/{JOB_ID}",
        "estimated_time": 16,
        "session_id": SESSION_ID,
    },
    response_only=True,
    status_codes=["202"],
)


class JobDocSerializer(serializers.Serializer):
    """A job as the contract describes it."""

    id = serializers.UUIDField()
    job_type = serializers.ChoiceField(choices=JobType.values)
    status = serializers.ChoiceField(choices=JobStatus.values)
    priority = serializers.ChoiceField(
        choices=Priority.values,
        help_text="high: asked for by an owner or admin; served first within the organization's share of the "
        "workers and the AI provider.",
    )
    progress = serializers.IntegerField(min_value=0, max_value=100, help_text="0–100; never decreases.")
    current_step = serializers.CharField(help_text="What the job is doing, as a sentence.")
    retry_count = serializers.IntegerField()
    max_retries = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField()
    files_removed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the job expired and its files, input and result were removed (null until then). The job and "
        "its log stay for JOB_HISTORY_DAYS (90 days by default).",
    )
    session_id = serializers.UUIDField(allow_null=True)
    result = serializers.JSONField(
        required=False,
        help_text="Only when completed, and null once the job's files were removed. Extraction: submission_ids, "
        "submissions, pages, unreadable_pages; with "
        "grade=true also grading_job_id (null if grading could not start), grading_error and grading_error_code. "
        "Grading: submission_ids, submissions (id, total_score, max_score, percentage, needs_review), standard_id.",
    )
    error = serializers.CharField(required=False, help_text="Only when failed: what went wrong, as a sentence.")
    error_code = serializers.CharField(required=False, help_text="Only when failed.")
    duration_seconds = serializers.FloatField(allow_null=True)
    wait_seconds = serializers.FloatField(allow_null=True)

    class Meta:
        ref_name = "Job"


JOB_EXAMPLE = OpenApiExample(
    "A completed extraction job",
    value={
        "id": JOB_ID,
        "job_type": "extraction",
        "status": "completed",
        "priority": "normal",
        "progress": 100,
        "current_step": "Done",
        "retry_count": 0,
        "max_retries": 3,
        "created_at": "2025-05-01T09:30:00Z",
        "started_at": "2025-05-01T09:30:01Z",
        "completed_at": "2025-05-01T09:30:09Z",
        "expires_at": "2025-05-02T09:30:00Z",
        "files_removed_at": None,
        "session_id": SESSION_ID,
        "result": {"submission_ids": [SUBMISSION_ID], "pages": 2, "unreadable_pages": 0},
        "duration_seconds": 8.0,
        "wait_seconds": 1.0,
    },
    response_only=True,
)


JobListSerializer = page_serializer("jobs", JobDocSerializer, "JobList")


class JobStatsSerializer(serializers.Serializer):
    window_hours = serializers.IntegerField()
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField(), help_text="Count per status.")
    by_type = serializers.DictField(child=serializers.IntegerField(), help_text="Count per job type.")
    processing_time_seconds = serializers.DictField(
        help_text="avg, min, max and p95 of completed jobs of every type (seconds, or null) and completed_jobs."
    )
    grading_duration_seconds = serializers.DictField(
        help_text="avg, min, max and p95 of completed grading jobs only (seconds, or null) and completed_jobs."
    )
    pending = serializers.IntegerField(help_text="Jobs queued now (whatever the window).")
    processing = serializers.IntegerField(help_text="Jobs running now.")
    oldest_pending_age_seconds = serializers.FloatField(allow_null=True, help_text="Age of the oldest queued job.")
    oldest_queued_age_seconds = serializers.FloatField(allow_null=True, help_text="The same, under its first name.")
    active_sessions = serializers.IntegerField(help_text="Grading sessions with a job queued or running now.")

    class Meta:
        ref_name = "JobStats"


class StandardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    pages = serializers.IntegerField()

    class Meta:
        ref_name = "Standard"


class SessionDocSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    label = serializers.CharField()
    status = serializers.ChoiceField(choices=["empty", "in_progress", "needs_attention", "cancelled", "completed"])
    created_at = serializers.DateTimeField()
    jobs = JobDocSerializer(many=True)

    class Meta:
        ref_name = "GradingSession"


SessionListSerializer = page_serializer("sessions", SessionDocSerializer, "GradingSessionList")


class SessionEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    level = serializers.ChoiceField(choices=["info", "warning", "error"])
    message = serializers.CharField()
    job_id = serializers.UUIDField()

    class Meta:
        ref_name = "GradingSessionEvent"


class SessionDetailSerializer(SessionDocSerializer):
    log = SessionEventSerializer(many=True)

    class Meta:
        ref_name = "GradingSessionDetail"


class UploadRequestSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(), help_text="One or more images (JPEG, PNG, HEIC...) or PDFs; repeat the field."
    )
    standard_id = serializers.IntegerField(required=False, min_value=1, max_value=99, allow_null=True)
    mark_scheme_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Mark with this published mark scheme version (else the published scheme of standard_id, or of "
        "the standard the sheet shows).",
    )
    grade = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Grade the scripts as soon as they are read (against standard_id, else the standard detected on "
        "the sheet), with no POST /grade. The extraction job's result then names grading_job_id, or says in "
        "grading_error why grading could not start; the transcription is kept either way. A callback_url also "
        "receives the grading job's webhook.",
    )
    priority = serializers.ChoiceField(
        choices=Priority.values,
        required=False,
        default=Priority.NORMAL,
        help_text="high (owners and admins only; 403 otherwise): read and grade these scripts before the "
        "organization's other work, within its fair share of the workers and the AI provider. The grading job "
        "started by grade=true, and a retry, keep it.",
    )
    session_id = serializers.UUIDField(required=False, allow_null=True, help_text="Add to an existing session.")
    session_label = serializers.CharField(required=False, max_length=200, allow_blank=True)
    callback_url = serializers.URLField(
        required=False,
        help_text="Receives this job's job.completed or job.failed webhook, signed with the organization's "
        "callback secret (https; http and loopback only in development).",
    )

    class Meta:
        ref_name = "UploadRequest"


class StudentDetailSerializer(StudentSerializer):
    submissions = SubmissionSerializer(many=True)

    class Meta(StudentSerializer.Meta):
        fields = [*StudentSerializer.Meta.fields, "submissions"]
        ref_name = "StudentDetail"
