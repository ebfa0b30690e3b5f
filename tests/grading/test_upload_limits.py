"""Oversized uploads are stopped while they stream in (grading/upload_limits.py): a file past UPLOAD_MAX_FILE_BYTES
or a request past UPLOAD_MAX_REQUEST_BYTES gets the contract's 413 from the API and a sentence on the upload page,
and the bytes past the line never reach the handler that writes temporary files (counted by a handler placed after
ours)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from jobs.models import BackgroundJob
from tests.helpers import SHEETS
from tests.upload_counting import CountingUploadHandler

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def png_of(size: int, name: str = "big.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"\x89PNG\r\n\x1a\n" + b"\x00" * (size - 8))


@pytest.fixture
def limits(tmp_path):
    """The configured handlers, with the counter just before Django's, which store what reaches them."""
    CountingUploadHandler.received.clear()
    configured = list(settings.FILE_UPLOAD_HANDLERS)
    storing = configured.index("django.core.files.uploadhandler.MemoryFileUploadHandler")
    configured.insert(storing, "tests.upload_counting.CountingUploadHandler")
    with override_settings(
        FILE_UPLOAD_HANDLERS=configured,
        FILE_UPLOAD_TEMP_DIR=str(tmp_path),
        UPLOAD_MAX_FILE_BYTES=1 * MB,
        UPLOAD_MAX_REQUEST_BYTES=3 * MB,
    ):
        yield tmp_path


def test_the_api_refuses_a_file_past_the_limit_before_the_rest_is_written(api, personas, limits):
    jobs = BackgroundJob.objects.count()
    response = api(personas.alpha, personas.bob).post(
        "/api/v1/upload", {"files": [png_of(int(2.5 * MB))]}, format="multipart"
    )
    assert response.status_code == 413
    assert response.json() == {
        "success": False,
        "error": "“big.png” is larger than 1 MB; each file may be at most 1 MB. Upload a smaller scan or photo.",
        "code": "FILE_TOO_LARGE",
        "details": {"file": "big.png", "limit_bytes": MB},
    }
    # Up to the line, in whole chunks (64 KB or less): the chunk that crossed it went no further
    [passed] = CountingUploadHandler.received
    assert MB - 64 * 1024 < passed <= MB
    assert list(limits.iterdir()) == []  # the temporary file of the part written so far is gone
    assert BackgroundJob.objects.count() == jobs


def test_the_api_refuses_a_request_past_the_total_before_any_file_is_written(api, personas, limits):
    sheet = (SHEETS / "s05_std05_dkg_p1.png").read_bytes()
    files = [SimpleUploadedFile(f"page-{n}.png", sheet + b"\x00" * (900 * 1024 - len(sheet))) for n in range(4)]
    response = api(personas.alpha, personas.bob).post("/api/v1/upload", {"files": files}, format="multipart")
    assert response.status_code == 413
    body = response.json()
    assert (body["code"], body["error"]) == (
        "FILE_TOO_LARGE",
        "This upload is larger than 3 MB, the most one upload may hold; send the files in smaller batches.",
    )
    assert CountingUploadHandler.received == [0]
    assert list(limits.iterdir()) == []


def test_files_within_the_limits_pass_through_untouched(api, personas, limits):
    sheet = (SHEETS / "s05_std05_dkg_p1.png").read_bytes()
    response = api(personas.alpha, personas.bob).post(
        "/api/v1/upload", {"files": [SimpleUploadedFile("sheet.png", sheet)]}, format="multipart"
    )
    assert response.status_code == 202, response.json()
    assert CountingUploadHandler.received == [len(sheet)]


def test_the_upload_page_says_which_file_was_too_large(web, personas, limits):
    client = web(personas.alpha, personas.bob)
    response = client.post("/upload/", {"files": [png_of(2 * MB, "scan of Zoë.png")], "standard": ""})
    assert response.status_code == 413
    page = response.content.decode()
    assert "“scan of Zoë.png” is larger than 1 MB; each file may be at most 1 MB." in page
    assert 'name="files"' in page  # the form is shown again, ready for a smaller file
    [passed] = CountingUploadHandler.received
    assert MB - 64 * 1024 < passed <= MB
    assert list(limits.iterdir()) == []
