"""Hostile files through the real upload endpoint and the real worker (scripts/make_bad_inputs.py builds them): a PDF
that inflates to 1 GB is refused before anything inflates it, a page claiming to be 200 inches square is rendered
within the pixel cap, a PDF past the limits in the worker becomes a page a person must read while the other pages are
read, and photos lose their location and camera metadata everywhere they are stored, served or sent."""

from __future__ import annotations

import base64
import hashlib
import io
import resource
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context
from PIL import Image

from grading.file_tasks import MAX_RENDER_PIXELS
from grading.models import Page, Submission, UploadedFile
from grading.services import accept_upload
from grading.uploads import CheckedFile
from tests.helpers import SHEETS, upload, wait_for_job

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "bad_inputs"
TELLTALES = [b"PhoneMaker", b"PhoneModel", b"SERIAL-123456", b"Camera App", b"51.5074", b"GPSLatitude", b"xmpmeta"]


def corpus_file(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (CORPUS / name).read_bytes())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def assert_no_metadata(data: bytes) -> None:
    for telltale in TELLTALES:
        assert telltale not in data, telltale
    image = Image.open(io.BytesIO(data))
    assert "xmp" not in image.info and "XML:com.adobe.xmp" not in image.info and "comment" not in image.info
    assert dict(image.getexif()) in ({}, {0x0112: 6})  # the orientation, alone, or nothing once it is applied
    assert not image.getexif().get_ifd(0x8825)  # no GPS


@pytest.mark.django_db
def test_a_pdf_that_inflates_to_a_gigabyte_is_refused_before_anything_inflates_it(api, personas):
    before = peak_rss_mb()
    response = api(personas.alpha, personas.bob).post(
        "/api/v1/upload", {"files": [corpus_file("deflate-bomb.pdf")]}, format="multipart"
    )
    assert response.status_code == 413
    assert response.json() == {
        "success": False,
        "error": "“deflate-bomb.pdf” expands to more than 120 MB of data when opened, far more than a quiz page needs "
        "(a file built this way can fill a server's memory). Save or scan it again as an ordinary PDF, or upload "
        "photos of the pages.",
        "code": "FILE_TOO_LARGE",
        "details": {"file": "deflate-bomb.pdf", "limit_bytes": 120_000_000},
    }
    assert peak_rss_mb() - before < 200, "this process never held the inflated stream"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["photo-with-location.jpg", "photo-with-location.png"])
def test_a_photo_is_stored_without_location_or_camera_metadata_and_keeps_its_orientation(api, personas, name):
    original = (CORPUS / name).read_bytes()
    data = upload(api(personas.alpha, personas.bob), corpus_file(name))
    with schema_context("alpha"):
        record = UploadedFile.objects.get(upload_job_id=data["job_id"])
    stored = (Path(settings.MEDIA_ROOT) / record.stored_path).read_bytes()
    assert_no_metadata(stored)
    assert dict(Image.open(io.BytesIO(stored)).getexif()) == {0x0112: 6}  # still turned upright by every reader
    assert Image.open(io.BytesIO(stored)).tobytes() == Image.open(io.BytesIO(original)).tobytes()  # same pixels
    assert (record.sha256, record.size) == (hashlib.sha256(original).hexdigest(), len(stored))
    assert len(stored) < len(original)


@pytest.mark.worker
def test_a_page_claiming_to_be_200_inches_square_is_rendered_within_the_pixel_cap(
    celery_worker, live_db, api, personas, openai_server
):
    data = upload(api(personas.alpha, personas.bob), corpus_file("huge-page.pdf"))
    job = wait_for_job(data["job_id"], timeout=60)
    assert job.status == "completed", job.error_message
    with schema_context("alpha"):
        page = Page.objects.get(submission_id=job.result["submission_ids"][0])
    image = Image.open(Path(settings.MEDIA_ROOT) / page.file)
    assert image.size == (2828, 2828)  # 14400 pt at 150 dpi would be 30000 px a side; the cap is 8 megapixels
    assert image.width * image.height <= MAX_RENDER_PIXELS
    assert celery_worker.process.poll() is None


@pytest.mark.worker
def test_a_pdf_past_the_limits_in_the_worker_becomes_a_page_for_a_person_and_the_others_are_read(
    celery_worker, live_db, personas, openai_server
):
    """A stored PDF the worker must not open (here the deflate bomb, stored past the upload check) fails alone."""
    bomb = (CORPUS / "deflate-bomb.pdf").read_bytes()
    sheet = (SHEETS / "s05_std05_dkg_p1.png").read_bytes()
    files = [
        CheckedFile(
            "sheet.png", "image/png", "png", 1, hashlib.sha256(sheet).hexdigest(), len(sheet), io.BytesIO(sheet)
        ),
        CheckedFile(
            "bomb.pdf", "application/pdf", "pdf", 1, hashlib.sha256(bomb).hexdigest(), len(bomb), io.BytesIO(bomb)
        ),
    ]
    with schema_context("alpha"):
        job = accept_upload(organization=personas.alpha, user=personas.bob, files=files)
    job = wait_for_job(job.pk, timeout=60)
    assert job.status == "completed", job.error_message
    assert (job.result["pages"], job.result["unreadable_pages"]) == (2, 1)
    with schema_context("alpha"):
        read, refused = (Submission.objects.get(pk=pk) for pk in job.result["submission_ids"])
        assert read.questions.count() > 0
        page = refused.pages.get()
        assert (page.file, page.legibility) == ("", 0.0)
        assert page.text.startswith("This PDF expands to more than 120 MB of data when opened")
        assert page.text.endswith("Nobody could read it automatically; transcribe it by hand.")
    assert celery_worker.process.poll() is None


@pytest.mark.worker
def test_the_page_served_back_and_the_image_sent_to_the_provider_carry_no_metadata(
    celery_worker, live_db, api, web, personas, openai_server
):
    data = upload(api(personas.alpha, personas.bob), corpus_file("photo-with-location.jpg"))
    job = wait_for_job(data["job_id"], timeout=60)
    assert job.status == "completed", job.error_message
    submission_id = job.result["submission_ids"][0]
    served = web(personas.alpha, personas.bob).get(f"/submissions/{submission_id}/pages/1/")
    assert served.status_code == 200
    assert_no_metadata(b"".join(served.streaming_content))
    [request] = [r for r in openai_server.requests() if r["kind"] == "PageExtraction"]
    [url] = [
        part["image_url"]["url"]
        for message in request["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
        if part.get("type") == "image_url"
    ]
    sent = base64.b64decode(url.partition(",")[2])
    assert_no_metadata(sent)
    assert Image.open(io.BytesIO(sent)).size == (900, 1200)  # upright: the orientation was applied, then dropped


@pytest.mark.django_db
def test_a_webp_photo_is_stored_as_an_upright_png_with_nothing_but_pixels(api, personas):
    jpeg = Image.open(CORPUS / "photo-with-location.jpg")
    buffer = io.BytesIO()
    jpeg.save(buffer, format="WEBP", exif=jpeg.getexif().tobytes(), xmp=b"<x:xmpmeta>51.5074 N</x:xmpmeta>")
    data = upload(api(personas.alpha, personas.bob), SimpleUploadedFile("photo.webp", buffer.getvalue()))
    with schema_context("alpha"):
        record = UploadedFile.objects.get(upload_job_id=data["job_id"])
    assert (record.content_type, record.stored_path.rsplit(".", 1)[1]) == ("image/png", "png")
    stored = (Path(settings.MEDIA_ROOT) / record.stored_path).read_bytes()
    assert_no_metadata(stored)
    image = Image.open(io.BytesIO(stored))
    assert (image.format, image.size, dict(image.getexif())) == ("PNG", (900, 1200), {})  # turned, then dropped
