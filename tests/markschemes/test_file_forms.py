"""The pages whose form sends a file (importing a mark-scheme document, adding a subject) share their refusals
(markschemes/file_forms.py): a request past the upload limit is 413 with a sentence, a form without its file is 400
with the field's error, and the upload rate is the API's (429 with a sentence); nothing is created."""

from __future__ import annotations

import pytest
from django.test import override_settings

from grading.api import UploadThrottle
from jobs.models import BackgroundJob
from markschemes.models import Subject
from tests.helpers import typed_pdf
from tests.markschemes.test_subjects import REFERENCE

pytestmark = pytest.mark.django_db

PAGES = {
    "import": ("/mark-schemes/import/", {"standard": "3"}, "Read it into a draft"),
    "subject": ("/mark-schemes/subjects/", {"name": "Fire safety (form test)"}, "Add the subject"),
}


def _created(personas) -> tuple[int, int]:
    from django_tenants.utils import schema_context

    with schema_context(personas.alpha.schema_name):
        return BackgroundJob.objects.count(), Subject.objects.count()


@pytest.mark.parametrize("page", PAGES)
def test_a_request_past_the_upload_limit_is_refused_with_a_sentence(web, personas, page):
    url, fields, button = PAGES[page]
    before = _created(personas)
    with override_settings(UPLOAD_MAX_REQUEST_BYTES=1024):
        response = web(personas.alpha, personas.alice).post(url, {**fields, "file": typed_pdf(REFERENCE)})
    assert response.status_code == 413
    body = response.content.decode()
    assert "This upload is larger than 0 MB, the most one upload may hold; send the files in smaller batches." in body
    assert button in body  # the form is shown again, empty
    assert _created(personas) == before


@pytest.mark.parametrize("page", PAGES)
def test_a_form_without_its_file_is_shown_again_with_the_fields_error(web, personas, page):
    url, fields, button = PAGES[page]
    before = _created(personas)
    response = web(personas.alpha, personas.alice).post(url, fields)
    assert response.status_code == 400
    body = response.content.decode()
    assert '<p class="field-error">This field is required.</p>' in body and button in body
    assert _created(personas) == before


@pytest.mark.parametrize("page", PAGES)
def test_the_upload_rate_applies_to_the_page_as_to_the_api(web, personas, page, monkeypatch):
    url, fields, _ = PAGES[page]
    monkeypatch.setattr(UploadThrottle, "THROTTLE_RATES", {"upload": "1/hour"})
    client = web(personas.alpha, personas.dana)
    # The first upload of the hour passes unless another test already counted one for this user; the next never does.
    responses = [client.post(url, {**fields, "file": typed_pdf(REFERENCE, "notes.pdf")}) for _ in range(2)]
    throttled = responses[-1]
    assert throttled.status_code == 429
    assert "You have uploaded too often in the last hour; try again in " in throttled.content.decode()
