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
# Page images of a submission are kept apart from the upload, so they outlive the upload job's expiry.
PAGES_ROOT = "pages"


def job_folder(schema_name: str, job_id) -> str:
    return f"{UPLOAD_ROOT}/{schema_name}/{job_id}"


def keep_page_image(schema_name: str, submission_id, number: int, source_path: str) -> str:
    """Copy a page image out of the upload folder into ``pages/<schema>/<submission id>/<n>.<ext>``."""
    extension = source_path.rsplit(".", 1)[-1].lower() if "." in source_path else "jpg"
    with default_storage.open(source_path, "rb") as handle:
        return default_storage.save(f"{PAGES_ROOT}/{schema_name}/{submission_id}/{number}.{extension}", handle)


def delete_job_files(job) -> None:
    """Remove a job's stored uploads (used when the job expires, or when storing failed half-way)."""
    delete_folder(job_folder(job.organization.schema_name, job.pk))


def delete_folder(folder: str) -> None:
    path = Path(settings.MEDIA_ROOT) / folder
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def remove_orphaned_upload_dirs(min_age: timedelta) -> int:
    """Delete upload folders older than ``min_age`` whose job row no longer exists, and page-image folders whose
    submission no longer exists (deleted, or its extraction was cancelled after the copy)."""
    from jobs.models import BackgroundJob

    removed = _remove_orphaned_page_dirs(min_age)
    root = Path(settings.MEDIA_ROOT) / UPLOAD_ROOT
    if not root.is_dir():
        return removed
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


def _remove_orphaned_page_dirs(min_age: timedelta) -> int:
    from django_tenants.utils import schema_context

    from grading.models import Submission
    from organizations.models import Organization

    root = Path(settings.MEDIA_ROOT) / PAGES_ROOT
    if not root.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - min_age.total_seconds()
    schemas = set(Organization.objects.values_list("schema_name", flat=True))
    for schema_dir in root.iterdir():
        if not schema_dir.is_dir() or schema_dir.name not in schemas:
            continue
        with schema_context(schema_dir.name):
            for folder in schema_dir.iterdir():
                if folder.stat().st_mtime > cutoff:
                    continue
                if not Submission.objects.filter(pk=_uuid_or_none(folder.name)).exists():
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
    return removed


def _uuid_or_none(name: str):
    import uuid

    try:
        return uuid.UUID(name)
    except ValueError:
        return None


__all__ = ["default_storage", "job_folder", "delete_job_files", "remove_orphaned_upload_dirs"]
