"""Where uploaded files live: Django's default storage (shared by web and workers), under a folder per organization
and job — ``uploads/<schema>/<job id>/<n>.<ext>`` — with names we generate."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path

from django.core.files.storage import default_storage
from django.utils import timezone

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
    """Delete every file under ``folder`` through the storage API, so it works on an object store (S3) as on a disk;
    on a disk the emptied directories go too."""
    for name in _files_under(folder):
        default_storage.delete(name)
    _prune_empty_directories(folder)


def remove_orphaned_upload_dirs(min_age: timedelta) -> int:
    """Delete upload folders whose newest file is older than ``min_age`` and whose job row no longer exists, and
    page-image folders whose submission no longer exists (deleted, or its extraction was cancelled after the copy)."""
    from jobs.models import BackgroundJob

    removed = _remove_orphaned_page_dirs(min_age)
    cutoff = timezone.now() - min_age
    for schema in _subfolders(UPLOAD_ROOT):
        for job_id in _subfolders(f"{UPLOAD_ROOT}/{schema}"):
            folder = f"{UPLOAD_ROOT}/{schema}/{job_id}"
            if not _older_than(folder, cutoff):
                continue
            if not BackgroundJob.objects.filter(pk=_uuid_or_none(job_id)).exists():
                delete_folder(folder)
                removed += 1
                logger.info("Removed orphaned upload folder %s", folder)
    return removed


def _remove_orphaned_page_dirs(min_age: timedelta) -> int:
    from grading.models import Submission
    from organizations.models import Organization
    from quizmarker.schemas import in_schema

    removed = 0
    cutoff = timezone.now() - min_age
    schemas = set(Organization.objects.values_list("schema_name", flat=True))
    for schema in _subfolders(PAGES_ROOT):
        if schema not in schemas:
            continue
        with in_schema(schema):
            for submission_id in _subfolders(f"{PAGES_ROOT}/{schema}"):
                folder = f"{PAGES_ROOT}/{schema}/{submission_id}"
                if (
                    _older_than(folder, cutoff)
                    and not Submission.objects.filter(pk=_uuid_or_none(submission_id)).exists()
                ):
                    delete_folder(folder)
                    removed += 1
    return removed


def _subfolders(folder: str) -> list[str]:
    try:
        return default_storage.listdir(folder)[0]
    except FileNotFoundError:  # a disk without the folder yet (an object store lists nothing instead)
        return []


def _files_under(folder: str) -> Iterator[str]:
    try:
        directories, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for directory in directories:
        yield from _files_under(f"{folder}/{directory}")


def _older_than(folder: str, cutoff: datetime) -> bool:
    """Whether the folder's newest file was written before ``cutoff`` (an upload still being stored is not)."""
    times = [default_storage.get_modified_time(name) for name in _files_under(folder)]
    return bool(times) and max(times) < cutoff


def _prune_empty_directories(folder: str) -> None:
    """A disk keeps a directory when its last file goes; an object store has none to keep."""
    try:
        root = Path(default_storage.path(folder))
    except NotImplementedError:
        return
    if not root.is_dir():
        return
    for directory, _subdirectories, _files in os.walk(root, topdown=False):
        with suppress(OSError):  # not empty: a file arrived meanwhile
            os.rmdir(directory)


def _uuid_or_none(name: str):
    import uuid

    try:
        return uuid.UUID(name)
    except ValueError:
        return None
