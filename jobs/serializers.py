from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from jobs.models import BackgroundJob, JobStatus


def _iso(value) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


class JobSerializer(serializers.BaseSerializer):
    """A job as the contract describes it: result only when completed, error only when failed.

    Built by hand rather than by ModelSerializer: clients poll this every 2 s, and field introspection was the
    largest cost of that request after the database."""

    def to_representation(self, job: BackgroundJob) -> dict:
        data = {
            "id": str(job.pk),
            "job_type": job.job_type,
            "status": job.status,
            "priority": job.priority,
            "progress": job.progress,
            "current_step": job.current_step,
            "retry_count": job.retry_count,
            "max_retries": job.max_retries,
            "created_at": _iso(job.created_at),
            "started_at": _iso(job.started_at),
            "completed_at": _iso(job.completed_at),
            "expires_at": _iso(job.expires_at),
            "files_removed_at": _iso(job.files_removed_at),
            "session_id": str(job.session_id) if job.session_id else None,
        }
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
