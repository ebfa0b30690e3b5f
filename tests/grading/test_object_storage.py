"""Uploads, page images and their clean-up go through Django's Storage API only (issue 20, item 6), so an S3-compatible
bucket shared by workers on several hosts works: the whole pipeline runs here on an object store without local paths
or directories (tests/object_store.py), and nothing is written to MEDIA_ROOT's folders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from grading.models import Submission
from grading.storage import PAGES_ROOT, UPLOAD_ROOT, remove_orphaned_upload_dirs
from jobs.housekeeping import cleanup_expired_jobs
from jobs.models import BackgroundJob
from tests.helpers import SHEETS

SHEET_PAGES = ("s01_std01_breip_p1.png", "s01_std01_breip_p2.png")


@pytest.fixture
def object_store(settings, tmp_path):
    # The inline job's heartbeat thread lets go of its database connection at its first beat with no job running:
    # make that soon, so the test database can be dropped after the last test.
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.object_store.ObjectStore", "OPTIONS": {"location": str(tmp_path / "bucket")}},
    }
    return default_storage


def test_a_script_is_read_graded_served_and_cleaned_up_on_an_object_store(
    object_store, settings, live_db, personas, web
):
    call_command("grade_quiz", "--org", "beta", "--standard", "1", "--sync", *(str(SHEETS / n) for n in SHEET_PAGES))

    upload = BackgroundJob.objects.filter(organization=personas.beta, job_type="extraction").latest("created_at")
    with schema_context("beta"):
        submission = Submission.objects.get(upload_job_id=upload.pk)
        # Graded (this photographed sheet reads poorly offline, so some answers wait for a person: the status is
        # the reader's business, not the storage's).
        assert submission.graded_at is not None and submission.grading_job_id is not None
        page_files = list(submission.pages.order_by("number").values_list("file", flat=True))
    uploads = [f"{UPLOAD_ROOT}/beta/{upload.pk}/1.png", f"{UPLOAD_ROOT}/beta/{upload.pk}/2.png"]
    pages = [f"{PAGES_ROOT}/beta/{submission.pk}/1.png", f"{PAGES_ROOT}/beta/{submission.pk}/2.png"]
    assert page_files == pages
    assert object_store.keys() == sorted(uploads + pages)
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(media.iterdir()), "nothing reached around the storage to the disk"

    # The review page serves a page image from the store.
    response = web(personas.beta, personas.charlie).get(f"/submissions/{submission.pk}/pages/1/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (SHEETS / SHEET_PAGES[0]).read_bytes()

    # Expiry removes the upload's files; the script's page images stay while it exists, and go once it is deleted.
    BackgroundJob.objects.filter(pk=upload.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    cleanup_expired_jobs()
    assert object_store.keys() == pages
    with schema_context("beta"):
        Submission.objects.filter(pk=submission.pk).delete()
    assert remove_orphaned_upload_dirs(min_age=timedelta(0)) == 1
    assert object_store.keys() == []
