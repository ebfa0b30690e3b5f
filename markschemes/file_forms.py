"""The steps shared by the pages whose form sends a file (importing a document, adding a subject)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpResponse
from rest_framework.exceptions import Throttled

from grading.upload_limits import refuse_oversized_upload
from quizmarker.errors import TooLarge
from quizmarker.throttles import UploadThrottle, throttle, throttled_sentence


def post_file_form(request, form_class, page: Callable[..., HttpResponse], accept: Callable[..., HttpResponse]):
    """Handle the POST of a form that carries a file; ``page(request, form, status=...)`` shows the page again.

    A request over the upload limit is refused before its files are read (413, an empty form, the reason as a
    message); an invalid form is shown again with its errors (400); the upload rate applies, with the API's counter
    (429, with a sentence saying when to try again). Then ``accept(form)`` does the page's own work and returns the
    response.
    """
    try:
        refuse_oversized_upload(request)
    except TooLarge as exc:
        messages.error(request, exc.message)
        return page(request, form_class(), status=413)
    form = form_class(request.POST, request.FILES)
    if not form.is_valid():
        return page(request, form, status=400)
    try:
        throttle(request, UploadThrottle)  # a file upload like any other: the same rate and counter
    except Throttled as exc:
        messages.error(request, throttled_sentence(exc, "uploaded"))
        return page(request, form, status=429)
    return accept(form)
