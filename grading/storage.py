"""Where uploaded files live: Django's default storage (shared by web and workers), under a folder per organization
and job — ``uploads/<schema>/<job id>/<n>.<ext>`` — with names we generate."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

UPLOAD_ROOT = "uploads"


def job_folder(schema_name: str, job_id) -> str:
    return f"{UPLOAD_ROOT}/{schema_name}/{job_id}"


def delete_job_files(job) -> None:
    """Remove a job's stored uploads (used when the job expires, or when storing failed half-way)."""
    delete_folder(job_folder(job.organization.schema_name, job.pk))


def delete_folder(folder: str) -> None:
    path = Path(settings.MEDIA_ROOT) / folder
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def remove_orphaned_upload_dirs(min_age: timedelta) -> int:
    """Delete upload folders older than ``min_age`` whose job row no longer exists."""
    from jobs.models import BackgroundJob

    root = Path(settings.MEDIA_ROOT) / UPLOAD_ROOT
    if not root.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - min_age.total_seconds()
    for schema_dir in root.iterdir():
        if not schema_dir.is_dir():
            continue
        for job_dir in schema_dir.iterdir():
            if job_dir.stat().st_mtime > cutoff:
                continue
            if not BackgroundJob.objects.filter(pk=_uuid_or_none(job_dir.name)).exists():
                shutil.rmtree(job_dir, ignore_errors=True)
                removed += 1
                logger.info("Removed orphaned upload folder %s", job_dir)
    return removed


def _uuid_or_none(name: str):
    import uuid

    try:
        return uuid.UUID(name)
    except ValueError:
        return None


__all__ = ["default_storage", "job_folder", "delete_job_files", "remove_orphaned_upload_dirs"]
