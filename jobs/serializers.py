from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from jobs.models import BackgroundJob, JobStatus


class JobSerializer(serializers.ModelSerializer):
    """A job as the contract describes it: result only when completed, error only when failed."""

    class Meta:
        model = BackgroundJob
        fields = [
            "id",
            "job_type",
            "status",
            "progress",
            "current_step",
            "retry_count",
            "max_retries",
            "created_at",
            "started_at",
            "completed_at",
            "expires_at",
            "session",
        ]

    def to_representation(self, job: BackgroundJob) -> dict:
        data = super().to_representation(job)
        data["session_id"] = data.pop("session")
        if job.status == JobStatus.COMPLETED:
            data["result"] = job.result
        if job.status == JobStatus.FAILED:
            data["error"] = job.error_message
            data["error_code"] = job.error_code
        data["duration_seconds"] = job.duration_seconds
        data["wait_seconds"] = job.wait_seconds
        return data


def job_status_url(request, job: BackgroundJob) -> str:
    return request.build_absolute_uri(reverse("api-job-detail", args=[job.pk]))


def accepted_body(request, job: BackgroundJob, estimated_seconds: int | None = None) -> dict:
    return {
        "job_id": str(job.pk),
        "status": job.status,
        "job_status_url": job_status_url(request, job),
        "estimated_time": estimated_seconds,
        "session_id": str(job.session_id) if job.session_id else None,
    }
