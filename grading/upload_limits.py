"""Size limits applied while an upload streams in, before any of it is stored.

Django writes each file part to a temporary file as it arrives and only then lets a view look at its size. This
handler runs first in ``FILE_UPLOAD_HANDLERS`` and stops the upload as soon as one file passes
``UPLOAD_MAX_FILE_BYTES`` or the files together pass ``UPLOAD_MAX_REQUEST_BYTES`` (or the request says it is larger
than that before a file starts): the chunk that crossed the line never reaches the temporary file, the part written
so far is deleted, and the rest of the request is read and thrown away rather than written anywhere. The views then
answer with :func:`refuse_oversized_upload`'s 413.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from grading.errors import TooLarge

MB = 1024 * 1024


class UploadLimitHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.request_bytes = 0
        self.declared_length = content_length or 0

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.file_bytes = 0
        if self.declared_length > settings.UPLOAD_MAX_REQUEST_BYTES:
            self._refuse(_request_too_large())

    def receive_data_chunk(self, raw_data, start):
        self.file_bytes += len(raw_data)
        self.request_bytes += len(raw_data)
        if self.file_bytes > settings.UPLOAD_MAX_FILE_BYTES:
            self._refuse(file_too_large(self.file_name))
        if self.request_bytes > settings.UPLOAD_MAX_REQUEST_BYTES:
            self._refuse(_request_too_large())
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) makes the file

    def _refuse(self, error: TooLarge):
        if self.request is not None:
            self.request.upload_refusal = error
        raise StopUpload(connection_reset=False)


def file_too_large(file_name: str) -> TooLarge:
    from grading.uploads import safe_name

    name = safe_name(file_name)
    limit = settings.UPLOAD_MAX_FILE_BYTES
    return TooLarge(
        f"“{name}” is larger than {limit / MB:g} MB; each file may be at most {limit / MB:g} MB. "
        "Upload a smaller scan or photo.",
        code="FILE_TOO_LARGE",
        details={"file": name, "limit_bytes": limit},
    )


def _request_too_large() -> TooLarge:
    limit = settings.UPLOAD_MAX_REQUEST_BYTES
    return TooLarge(
        f"This upload is larger than {limit / MB:.0f} MB, the most one upload may hold; send the files in smaller "
        "batches.",
        code="FILE_TOO_LARGE",
        details={"limit_bytes": limit},
    )


def refuse_oversized_upload(request) -> None:
    """Raise the 413 if the upload handler stopped this request's upload (reads the request's files first)."""
    request.FILES  # noqa: B018 - parsing the body is what runs the handler
    refusal = getattr(request, "upload_refusal", None)
    if refusal is not None:
        raise refusal
